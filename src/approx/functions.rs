//! The approximations behind the smooth gadgets of
//! [`Gadgets`](crate::Gadgets) — exponential, reciprocal, inverse square
//! root, softmax — and the logarithm of the cross-entropy's reports: their
//! error over their range, next to their cost, as a table
//! ([`FunctionTable`], printed by `privml demo approx` after the sigmoids).
//!
//! The bounds are the documented ones of the gadgets' parameter types
//! ([`ExpParams::error_bound`] and so on: approximation plus fixed-point
//! rounding); `tests/suite/functions.rs` checks them on `Fixed` and `Shared`
//! over each range, edges included.

use std::fmt;

use super::Polynomial;
use crate::cost::CostModel;
use crate::domain::gadgets::{ExpParams, InvSqrtParams, ReciprocalParams, SoftmaxParams};
use crate::error::Result;

/// A polynomial for ln s on [1, max], written around the interval's
/// centre: ln(centre + x) ≈ `polynomial`(x) for x in [-(max-1)/2, (max-1)/2].
#[derive(Debug, Clone, PartialEq)]
pub struct LogPolynomial {
    /// The centre (max + 1)/2, to subtract before evaluating.
    pub centre: f64,
    /// The Chebyshev interpolant in t = x / half-width.
    pub polynomial: Polynomial,
}

/// ln on [1, `max`] by its Chebyshev interpolant of degree `degree`
/// (see [`LogPolynomial`]).
///
/// # Examples
///
/// ```
/// let log = privml::approx::functions::log_polynomial(11.0, 10);
/// for s in [1.0, 2.5, 7.0, 11.0] {
///     assert!((log.polynomial.eval(s - log.centre) - f64::ln(s)).abs() < 1e-3);
/// }
/// ```
pub fn log_polynomial(max: f64, degree: usize) -> LogPolynomial {
    let centre = (max + 1.0) / 2.0;
    let half = ((max - 1.0) / 2.0).max(1e-9);
    let mut polynomial = Polynomial::new(
        format!("ln on [1, {max}], Chebyshev-{degree}"),
        super::fit::chebyshev(|x| (centre + x).ln(), half, degree),
    );
    polynomial.arg_scale = half;
    LogPolynomial { centre, polynomial }
}

/// One row of the [`FunctionTable`].
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionRow {
    /// The gadget and its parameters.
    pub name: String,
    /// The input range it is documented for.
    pub range: String,
    /// The method.
    pub method: &'static str,
    /// The documented error bound in Z_2^64 with 16 fraction bits.
    pub bound_64: f64,
    /// The same in Z_2^128 with 32 fraction bits.
    pub bound_128: f64,
    /// Whether the bound is relative (otherwise absolute).
    pub relative: bool,
    /// Communication rounds (Z_2^64).
    pub rounds: u64,
    /// Bytes each party sends per element (Z_2^64; the busiest party).
    pub bytes_per_element: f64,
}

/// The table of the gadgets' approximations.
pub struct FunctionTable(pub Vec<FunctionRow>);

impl FunctionTable {
    /// The default parameters of every gadget (the softmax for rows of 10),
    /// with their bounds and costs.
    ///
    /// # Examples
    ///
    /// ```
    /// let t = privml::approx::functions::FunctionTable::defaults()?;
    /// assert_eq!(t.0.len(), 5);
    /// assert!(t.0.iter().all(|row| row.bound_128 <= row.bound_64));
    /// # Ok::<(), privml::Error>(())
    /// ```
    pub fn defaults() -> Result<Self> {
        let model = CostModel::new(8);
        let n = 1024;
        let per = |c: crate::cost::Comm, n: usize| {
            c.bytes.iter().copied().max().unwrap_or(0) as f64 / n as f64
        };
        let exp = ExpParams::default();
        let recip = ReciprocalParams::for_range(11.0)?;
        let inv = InvSqrtParams::new(-14, 8, 4)?;
        let soft = SoftmaxParams::default();
        let soft_recip = soft.reciprocal(10)?;
        let log = log_polynomial(11.0, crate::nn::LOG_DEGREE);
        let log_err = log
            .polynomial
            .max_error(
                |x| (x + log.centre).ln(),
                1.0 - log.centre,
                11.0 - log.centre,
                10_001,
            )
            .0;
        let rows = vec![
            FunctionRow {
                name: format!("exp, {} squarings", exp.squarings),
                range: "x ≤ 0".into(),
                method: "(1/3 + v/2 + v³/6)^(2^n), v = relu(1 + x/2^n)",
                bound_64: exp.error_bound(16),
                bound_128: exp.error_bound(32),
                relative: false,
                rounds: model.exp_nonpositive(n, exp.squarings).rounds,
                bytes_per_element: per(model.exp_nonpositive(n, exp.squarings), n),
            },
            FunctionRow {
                name: format!("reciprocal, {} iterations", recip.iterations),
                range: format!("[1, {}]", recip.max),
                method: "Goldschmidt from the minimax line",
                bound_64: recip.error_bound(16),
                bound_128: recip.error_bound(32),
                relative: false,
                rounds: model.reciprocal(n, recip.iterations).rounds,
                bytes_per_element: per(model.reciprocal(n, recip.iterations), n),
            },
            FunctionRow {
                name: format!("inverse square root, {} iterations", inv.iterations),
                range: format!("[2^{}, 2^{}]", inv.lo, inv.hi),
                method: "bucket by comparisons, then Goldschmidt-Newton",
                bound_64: inv.relative_error_bound(16),
                bound_128: inv.relative_error_bound(32),
                relative: true,
                rounds: model
                    .inv_sqrt(n, inv.thresholds().len(), inv.iterations)
                    .rounds,
                bytes_per_element: per(
                    model.inv_sqrt(n, inv.thresholds().len(), inv.iterations),
                    n,
                ),
            },
            FunctionRow {
                name: "softmax, rows of 10".into(),
                range: "any".into(),
                method: "max tournament, exp, reciprocal of the sum",
                bound_64: soft.error_bound(10, 16)?,
                bound_128: soft.error_bound(10, 32)?,
                relative: false,
                rounds: model
                    .softmax(n / 10, 10, soft.exp.squarings, soft_recip.iterations)
                    .rounds,
                bytes_per_element: per(
                    model.softmax(n / 10, 10, soft.exp.squarings, soft_recip.iterations),
                    n / 10 * 10,
                ),
            },
            FunctionRow {
                name: format!("ln (loss reports), degree {}", crate::nn::LOG_DEGREE),
                range: "[1, 11]".into(),
                method: "Chebyshev interpolant (f64 error; fixed point adds rounding)",
                bound_64: log_err,
                bound_128: log_err,
                relative: false,
                rounds: 0,
                bytes_per_element: 0.0,
            },
        ];
        Ok(FunctionTable(rows))
    }
}

impl fmt::Display for FunctionTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<34} {:<13} {:>11} {:>11} {:>7} {:>10}  method",
            "function", "range", "err Z2^64", "err Z2^128", "rounds", "B/element"
        )?;
        for r in &self.0 {
            let kind = if r.relative { " rel" } else { "" };
            writeln!(
                f,
                "{:<34} {:<13} {:>11} {:>11} {:>7} {:>10.1}  {}",
                r.name,
                r.range,
                format!("{:.2e}{kind}", r.bound_64),
                format!("{:.2e}{kind}", r.bound_128),
                r.rounds,
                r.bytes_per_element,
                r.method
            )?;
        }
        writeln!(
            f,
            "err: documented bound (approximation + rounding), checked by tests/suite/functions.rs; rel: relative; rounds and bytes for Z_2^64 (ln: part of the cross-entropy's report only)"
        )
    }
}
