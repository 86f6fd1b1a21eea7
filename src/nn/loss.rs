//! Losses: the squared error and the softmax cross-entropy, each with its
//! error signal (what backward starts from), its value (revealed, one
//! number) and the prediction it implies.

use std::fmt;
use std::str::FromStr;

use ndarray::arr0;
use serde::{Deserialize, Serialize};

use crate::approx::{self, EvalOptions};
use crate::domain::gadgets::SoftmaxParams;
use crate::domain::{Gadgets, Layout, Open, Ring};
use crate::error::{Error, Result};

/// What a network is trained to minimise, per row of a batch (y are the
/// targets, o the network's outputs):
///
/// | loss | L | error signal δ = -∂L/∂o | prediction |
/// |---|---|---|---|
/// | `MeanSquare` | ½ Σ_j (y_j - o_j)² | y - o | o (regression; one-hot targets for classes, as the tutorial does) |
/// | `CrossEntropy` | -Σ_j y_j ln p_j, p = softmax(o) | y - p | p |
///
/// The cross-entropy's signal needs the softmax under MPC (a max
/// tournament, the exponential and a reciprocal: see
/// [`Gadgets::softmax_rows`]) but no logarithm; only its *value*, for
/// reports, takes a logarithm (a polynomial, see [`Loss::value`]).
///
/// # Examples
///
/// ```
/// use ndarray::arr2;
/// use privml::nn::Loss;
/// use privml::{Plain, Ring};
///
/// let mut r = Plain::new();
/// let out = r.constant(&arr2(&[[2.0, 0.0]]).into_dyn())?;
/// let y = r.constant(&arr2(&[[1.0, 0.0]]).into_dyn())?;
/// let loss: Loss = "cross-entropy".parse()?;
/// let exact = (1.0 + (-2.0f64).exp()).ln();
/// assert!((loss.value(&mut r, &out, &y)? - exact).abs() < 1e-3);
/// let delta = loss.error_signal(&mut r, &out, &y)?; // y - softmax(out)
/// assert!((delta[[0, 0]] - (1.0 - 1.0 / (1.0 + (-2.0f64).exp()))).abs() < 2e-3);
/// # Ok::<(), privml::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Loss {
    /// The squared error.
    #[default]
    MeanSquare,
    /// The softmax cross-entropy on the logits.
    CrossEntropy,
}

impl FromStr for Loss {
    type Err = Error;
    /// `mse` or `cross-entropy` (also `squared-error`, `ce`).
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "mse" | "squared-error" | "mean-square" => Ok(Loss::MeanSquare),
            "cross-entropy" | "ce" | "softmax-cross-entropy" => Ok(Loss::CrossEntropy),
            other => Err(Error::invalid(
                "loss",
                format!("'{other}': expected mse or cross-entropy"),
            )),
        }
    }
}

impl fmt::Display for Loss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Loss::MeanSquare => "mse",
            Loss::CrossEntropy => "cross-entropy",
        })
    }
}

/// The degree of the logarithm's polynomial in [`Loss::value`].
pub const LOG_DEGREE: usize = 10;

impl Loss {
    /// The softmax parameters the cross-entropy uses.
    pub fn softmax_params(&self) -> SoftmaxParams {
        SoftmaxParams::default()
    }

    /// δ = -∂L/∂o for outputs `out` and targets `y` (both `[rows, k]`):
    /// y - out, or y - softmax(out). Nothing is revealed.
    pub fn error_signal<R: Ring>(
        &self,
        r: &mut R,
        out: &R::Tensor,
        y: &R::Tensor,
    ) -> Result<R::Tensor> {
        r.set_label("loss");
        match self {
            Loss::MeanSquare => r.sub(y, out),
            Loss::CrossEntropy => {
                let p = r.softmax_rows(out, &self.softmax_params())?;
                r.sub(y, &p)
            }
        }
    }

    /// What the outputs predict: `out` itself, or its softmax.
    pub fn prediction<R: Ring>(&self, r: &mut R, out: &R::Tensor) -> Result<R::Tensor> {
        match self {
            Loss::MeanSquare => Ok(out.clone()),
            Loss::CrossEntropy => r.softmax_rows(out, &self.softmax_params()),
        }
    }

    /// The mean loss per row, opened to every party: one number, an
    /// explicit disclosure (as the reports of training are), exactly
    /// rounded ([`Open::open`]): [`total`](Self::total) over the rows.
    pub fn value<R: Ring>(&self, r: &mut R, out: &R::Tensor, y: &R::Tensor) -> Result<f64> {
        let rows = r.shape(out).first().copied().unwrap_or(0).max(1);
        let total = self.total(r, out, y)?;
        let v = r.open(&total)?;
        Ok(v.iter().sum::<f64>() / rows as f64)
    }

    /// The loss summed over the rows, still shared (shape `[1]`; nothing is
    /// opened). For the squared error ½ Σ (y − o)²; for the cross-entropy,
    /// -Σ_j y_j ln p_j = ln s - Σ_j y_j z_j per row, with z = o - max and
    /// s = Σ_j e^(z_j) ∈ [1, k]; ln s is a Chebyshev polynomial of degree
    /// [`LOG_DEGREE`] on [1, k + 1] (error below 10⁻³ for k ≤ 10 in f64;
    /// fixed point adds its rounding). Targets are one-hot (or any rows
    /// that sum to 1).
    pub fn total<R: Ring>(&self, r: &mut R, out: &R::Tensor, y: &R::Tensor) -> Result<R::Tensor> {
        r.set_label("loss value");
        let shape = r.shape(out).to_vec();
        let per_element = match self {
            Loss::MeanSquare => {
                let d = r.sub(y, out)?;
                let sq = r.square(&d)?;
                r.mul_public(&sq, 0.5)?
            }
            Loss::CrossEntropy => {
                let &[_, k] = shape.as_slice() else {
                    return Err(Error::ShapeMismatch {
                        op: "cross-entropy",
                        left: shape,
                        right: vec![],
                    });
                };
                let m = r.row_max(out)?;
                let z = r.sub(out, &m)?;
                let e = r.exp_nonpositive(&z, &self.softmax_params().exp)?;
                let s = r.sum_axis(&e, 1)?;
                let log = approx::functions::log_polynomial(k as f64 + 1.0, LOG_DEGREE);
                let centred = r.add_public(&s, &arr0(-log.centre).into_dyn())?;
                let ln_s = approx::evaluate(r, &centred, &log.polynomial, &EvalOptions::default())?;
                let yz = r.mul(y, &z)?;
                let picked = r.sum_axis(&yz, 1)?;
                r.sub(&ln_s, &picked)?
            }
        };
        let n: usize = r.shape(&per_element).iter().product();
        let flat = r.reshape(&per_element, &[n])?;
        r.sum_axis(&flat, 0)
    }
}
