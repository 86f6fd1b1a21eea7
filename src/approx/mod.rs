//! Polynomial approximations of activation functions, how to evaluate them
//! securely, and where they break.
//!
//! Secret-shared arithmetic has additions and multiplications; a sigmoid
//! needs an exponential and a division. The source tutorial replaces it by a
//! polynomial — a Maclaurin series, or a least-squares fit over an interval —
//! and shows the two ways this fails: the polynomial *collapses* (leaves
//! [0, 1] wildly) outside a radius, and its powers *overflow* the
//! fixed-point ring. This module builds the approximations
//! ([`sigmoid`]), evaluates them on any [`Ring`](crate::Ring) by Horner's rule
//! or with logarithmic depth ([`evaluate`]), and tabulates each one's error,
//! collapse radius and overflow radius ([`ApproxRow`]).
//!
//! # The precision trap of the tutorial's polynomial
//!
//! The tutorial's degree-9 fit has W9 = 7.2e-9 and W7 = -1.88e-6. Its
//! notebook encoded them at scale 10^8 by truncation, which turns W9 into 0
//! and keeps W7: the polynomial that really ran had degree 7, and that is
//! why the three-layer network converged ([`sigmoid::notebook_effective`]).
//! With the exact coefficients, even f64 training reaches NaN before 10,000
//! iterations; at 16 fraction bits W7 also becomes 0 and training diverges.
//! privml handles small coefficients deliberately: [`evaluate`] encodes
//! coefficients at their own precision (`coeff_frac_bits`), or the argument
//! can be scaled ([`Polynomial::with_arg_scale`]) so that all coefficients
//! are of moderate size.
//!
//! # Examples
//!
//! ```
//! use privml::approx::{self, sigmoid, EvalOptions};
//! use privml::{Plain, Ring};
//!
//! let p = sigmoid::maclaurin(5)?;
//! assert!((p.eval(0.5) - sigmoid::exact(0.5)).abs() < 1e-4);
//! let mut r = Plain::new();
//! let x = r.constant(&ndarray::arr1(&[0.0, 1.0]).into_dyn())?;
//! let y = approx::evaluate(&mut r, &x, &p, &EvalOptions::default())?;
//! assert!((r.reveal(&y)?[1] - p.eval(1.0)).abs() < 1e-12);
//! # Ok::<(), privml::Error>(())
//! ```

mod eval;
pub mod fit;
pub mod functions;

pub use eval::{EvalOptions, Method, default_coeff_bits, evaluate};

use std::fmt;

use crate::error::{Error, Result};
use crate::fixed::FixedPoint;
use crate::ring::RingElement;

/// A polynomial p(x) = Σ c_k t^k in the scaled argument t = x / `arg_scale`.
#[derive(Debug, Clone, PartialEq)]
pub struct Polynomial {
    /// A name for tables and reports.
    pub name: String,
    /// Coefficients of t^0, t^1, ... .
    pub coeffs: Vec<f64>,
    /// The argument scale s (t = x / s); 1 means no scaling.
    pub arg_scale: f64,
}

impl Polynomial {
    /// p(x) = Σ coeffs\[k\] x^k.
    pub fn new(name: impl Into<String>, coeffs: Vec<f64>) -> Self {
        Polynomial {
            name: name.into(),
            coeffs,
            arg_scale: 1.0,
        }
    }

    /// The same function written in t = x / s: coefficients become c_k s^k,
    /// so tiny high-order coefficients grow to moderate size. Evaluating it
    /// costs one extra truncation (the division by s).
    pub fn with_arg_scale(mut self, s: f64) -> Self {
        let ratio = s / self.arg_scale;
        for (k, c) in self.coeffs.iter_mut().enumerate() {
            *c *= ratio.powi(k as i32);
        }
        self.arg_scale = s;
        self.name = format!("{} (t = x/{s})", self.name);
        self
    }

    /// Value at `x` in f64 (Horner's rule).
    pub fn eval(&self, x: f64) -> f64 {
        let t = x / self.arg_scale;
        self.coeffs.iter().rev().fold(0.0, |acc, c| acc * t + c)
    }

    /// The degree (index of the last non-zero coefficient).
    pub fn degree(&self) -> usize {
        self.coeffs.iter().rposition(|c| *c != 0.0).unwrap_or(0)
    }

    /// Whether only t^0 and odd powers have non-zero coefficients (the
    /// sigmoid's approximations are 1/2 plus an odd function).
    pub fn is_odd_plus_constant(&self) -> bool {
        self.coeffs
            .iter()
            .enumerate()
            .all(|(k, c)| k == 0 || k % 2 == 1 || *c == 0.0)
    }

    /// Each coefficient rounded (`round = true`) or truncated toward zero to
    /// `decimals` decimal places: the tutorial rounds its fit to 10 decimals,
    /// and its notebook's encoder truncates to 8.
    pub fn decimal(mut self, decimals: i32, round: bool) -> Self {
        let s = 10f64.powi(decimals);
        for c in self.coeffs.iter_mut() {
            *c = if round {
                (*c * s).round() / s
            } else {
                (*c * s).trunc() / s
            };
        }
        self
    }

    /// Largest |p(x) - f(x)| on [lo, hi] over `samples` evenly spaced points,
    /// and where it occurs.
    pub fn max_error(
        &self,
        f: impl Fn(f64) -> f64,
        lo: f64,
        hi: f64,
        samples: usize,
    ) -> (f64, f64) {
        let mut worst = (0.0, lo);
        for i in 0..samples {
            let x = lo + (hi - lo) * i as f64 / (samples - 1).max(1) as f64;
            let e = (self.eval(x) - f(x)).abs();
            if e > worst.0 {
                worst = (e, x);
            }
        }
        worst
    }

    /// The smallest radius r (searched outward from 0 in steps of `step`,
    /// up to `max`) at which p(±r) leaves [-margin, 1 + margin]: where a
    /// sigmoid approximation "collapses". `None` if it stays inside.
    pub fn collapse_radius(&self, margin: f64, step: f64, max: f64) -> Option<f64> {
        let mut r = 0.0;
        while r <= max {
            for x in [r, -r] {
                let v = self.eval(x);
                if !(-margin..=1.0 + margin).contains(&v) {
                    return Some(r);
                }
            }
            r += step;
        }
        None
    }

    /// The largest |x| for which evaluating the polynomial with `evaluate`
    /// keeps every product below the format's safe bound: the highest power
    /// t^d must satisfy |t|^d < 2^(ℓ-2-2f), and the final coefficient sum
    /// must stay below 2^(ℓ-2-f-fc) with fc coefficient bits.
    pub fn overflow_radius<T: RingElement>(&self, fp: FixedPoint<T>, coeff_frac_bits: u32) -> f64 {
        let d = self.degree().max(1) as f64;
        let power_limit = fp.product_bound().powf(1.0 / d) * self.arg_scale;
        let sum_limit =
            (2.0f64).powi(T::BITS as i32 - 2 - fp.frac_bits() as i32 - coeff_frac_bits as i32);
        // bisection for the sum bound (|p| grows with |x| beyond the fit range)
        let mut lo = 0.0f64;
        let mut hi = power_limit;
        if self.eval(hi).abs().max(self.eval(-hi).abs()) < sum_limit {
            return power_limit;
        }
        for _ in 0..100 {
            let mid = 0.5 * (lo + hi);
            if self.eval(mid).abs().max(self.eval(-mid).abs()) < sum_limit {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        lo
    }
}

/// Approximations of the logistic sigmoid σ(x) = 1 / (1 + e^-x).
pub mod sigmoid {
    use super::*;

    /// σ(x) in f64.
    pub fn exact(x: f64) -> f64 {
        1.0 / (1.0 + (-x).exp())
    }

    /// The Maclaurin (Taylor at 0) polynomial of degree 1, 3, 5, 7 or 9:
    /// 1/2 + x/4 - x³/48 + x⁵/480 - 17x⁷/80640 + 31x⁹/1451520.
    pub fn maclaurin(degree: usize) -> Result<Polynomial> {
        let all = [
            0.5,
            0.25,
            0.0,
            -1.0 / 48.0,
            0.0,
            1.0 / 480.0,
            0.0,
            -17.0 / 80640.0,
            0.0,
            31.0 / 1451520.0,
        ];
        if degree.is_multiple_of(2) || degree > 9 {
            return Err(Error::invalid(
                "degree",
                format!("Maclaurin sigmoid of degree {degree}: use 1, 3, 5, 7 or 9"),
            ));
        }
        Ok(Polynomial::new(
            format!("Maclaurin-{degree}"),
            all[..=degree].to_vec(),
        ))
    }

    /// The tutorial's `SigmoidInterpolated10` exactly as printed: a
    /// least-squares fit over [-10, 10], degree 10, rounded to 10 decimals.
    pub fn tutorial_interpolated() -> Polynomial {
        Polynomial::new(
            "Interpolated-10 (tutorial)",
            vec![
                0.5,
                0.2159198015,
                0.0,
                -0.0082176259,
                0.0,
                0.0001825597,
                0.0,
                -0.0000018848,
                0.0,
                0.0000000072,
            ],
        )
    }

    /// The polynomial the tutorial's notebook really evaluated: its encoder
    /// stored each coefficient as int(c · 10^8), which drops W9 = 7.2e-9 to
    /// 0 and keeps W7 = -1.88e-6, an effective degree-7 polynomial.
    pub fn notebook_effective() -> Polynomial {
        let mut p = tutorial_interpolated().decimal(8, false);
        p.name = "Interpolated-10 as the notebook encoded it (degree 7)".to_string();
        p
    }

    /// A least-squares fit of σ over `points` evenly spaced points of
    /// [-a, a] (the tutorial: a = 10, degree 10, 100 points).
    pub fn least_squares(a: f64, degree: usize, points: usize) -> Polynomial {
        let xs: Vec<f64> = (0..points)
            .map(|i| -a + 2.0 * a * i as f64 / (points - 1).max(1) as f64)
            .collect();
        let ys: Vec<f64> = xs.iter().map(|x| exact(*x)).collect();
        Polynomial::new(
            format!("Least-squares-{degree} on [-{a}, {a}]"),
            super::fit::least_squares(&xs, &ys, degree),
        )
    }

    /// The Chebyshev interpolant of σ on [-a, a], written in t = x / a.
    pub fn chebyshev(a: f64, degree: usize) -> Polynomial {
        let mut p = Polynomial::new(
            format!("Chebyshev-{degree} on [-{a}, {a}]"),
            super::fit::chebyshev(exact, a, degree),
        );
        p.arg_scale = a;
        // σ - 1/2 is odd: clear the even coefficients' rounding noise
        for (k, c) in p.coeffs.iter_mut().enumerate() {
            if k > 0 && k % 2 == 0 {
                *c = 0.0;
            }
        }
        p
    }

    /// The approximations the tutorial compares, plus the better-behaved
    /// alternatives, for tables and plots.
    pub fn catalogue() -> Vec<Polynomial> {
        let mut v: Vec<Polynomial> = [3, 5, 9]
            .iter()
            .filter_map(|d| maclaurin(*d).ok())
            .collect();
        v.push(tutorial_interpolated());
        v.push(notebook_effective());
        v.push(least_squares(10.0, 10, 100).decimal(10, true));
        v.push(chebyshev(10.0, 9));
        v
    }
}

/// One line of the approximation table.
#[derive(Debug, Clone, PartialEq)]
pub struct ApproxRow {
    /// The approximation's name.
    pub name: String,
    /// Its degree.
    pub degree: usize,
    /// Max |p - σ| on [-5, 5].
    pub max_err_5: f64,
    /// Max |p - σ| on [-10, 10].
    pub max_err_10: f64,
    /// Radius where p leaves [-0.5, 1.5] (None: not within 100).
    pub collapse: Option<f64>,
    /// Largest |x| evaluable without overflow in Z_2^64, 16 fraction bits
    /// (coefficients at 32 bits).
    pub overflow_64: f64,
    /// The same in Z_2^128, 32 fraction bits (coefficients at 48 bits).
    pub overflow_128: f64,
}

impl ApproxRow {
    /// Computes the row for `p` against the exact sigmoid.
    pub fn for_sigmoid(p: &Polynomial) -> Self {
        ApproxRow {
            name: p.name.clone(),
            degree: p.degree(),
            max_err_5: p.max_error(sigmoid::exact, -5.0, 5.0, 10_001).0,
            max_err_10: p.max_error(sigmoid::exact, -10.0, 10.0, 20_001).0,
            collapse: p.collapse_radius(0.5, 0.001, 100.0),
            overflow_64: p.overflow_radius(FixedPoint::<u64>::default(), 32),
            overflow_128: p.overflow_radius(FixedPoint::<u128>::default(), 48),
        }
    }
}

/// A table of [`ApproxRow`]s.
pub struct ApproxTable(pub Vec<ApproxRow>);

impl fmt::Display for ApproxTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<56} {:>3} {:>11} {:>11} {:>9} {:>10} {:>10}",
            "approximation",
            "deg",
            "err [-5,5]",
            "err[-10,10]",
            "collapse",
            "ovf Z2^64",
            "ovf Z2^128"
        )?;
        for r in &self.0 {
            writeln!(
                f,
                "{:<56} {:>3} {:>11.3e} {:>11.3e} {:>9} {:>10.2} {:>10.2}",
                r.name,
                r.degree,
                r.max_err_5,
                r.max_err_10,
                r.collapse.map_or("-".to_string(), |c| format!("{c:.2}")),
                r.overflow_64,
                r.overflow_128
            )?;
        }
        writeln!(
            f,
            "collapse: |x| where p leaves [-0.5, 1.5]; ovf: largest |x| whose powers fit the ring (default fraction bits)"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tutorial_fit_is_reproduced() {
        let p = sigmoid::least_squares(10.0, 10, 100).decimal(10, true);
        let t = sigmoid::tutorial_interpolated();
        for (k, (a, b)) in p.coeffs.iter().zip(&t.coeffs).enumerate() {
            assert!((a - b).abs() < 1.5e-10, "coefficient {k}: {a} vs {b}");
        }
        let e = sigmoid::notebook_effective();
        assert_eq!(e.coeffs[9], 0.0);
        assert_eq!(e.coeffs[7], -0.00000188);
        assert_eq!(e.degree(), 7);
    }

    #[test]
    fn arg_scale_keeps_the_function() {
        let p = sigmoid::tutorial_interpolated();
        let q = p.clone().with_arg_scale(10.0);
        for x in [-7.0, -1.0, 0.0, 2.5, 9.0] {
            assert!((p.eval(x) - q.eval(x)).abs() < 1e-12);
        }
        assert!((q.coeffs[9] - 7.2).abs() < 1e-9);
    }

    #[test]
    fn maclaurin_degrees() {
        assert!(sigmoid::maclaurin(4).is_err());
        assert_eq!(sigmoid::maclaurin(9).unwrap().degree(), 9);
        assert!(sigmoid::maclaurin(3).unwrap().is_odd_plus_constant());
    }
}
