//! Scores computed under MPC with only the scores opened: classification
//! accuracy, and a regression's RMSE and R².

use crate::domain::{Gadgets, Layout, Open, Ring};
use crate::error::{Error, Result};

/// A regression's test scores.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RegressionScores {
    /// √(Σ (y - ŷ)² / n).
    pub rmse: f64,
    /// 1 - Σ (y - ŷ)² / Σ (y - ȳ)².
    pub r2: f64,
}

/// Σ of every element of `x`, as a one-element tensor `[1]`.
fn total<R: Ring>(r: &mut R, x: &R::Tensor) -> Result<R::Tensor> {
    let n: usize = r.shape(x).iter().product();
    let flat = r.reshape(x, &[n])?;
    r.sum_axis(&flat, 0)
}

/// RMSE and R² of `predictions` against `targets` (same shape, `[n, 1]`
/// or `[n, k]` — all elements count). Computed on the shares: the residual
/// sum of squares Σ(y - ŷ)² and the total sum of squares Σ(y - ȳ)² are the
/// only values opened, in one reveal of two numbers. They are equivalent to
/// the two scores (n is public: RMSE = √(SS_res/n), R² = 1 - SS_res/SS_tot,
/// and back, SS_tot = SS_res/(1 - R²)), so nothing beyond RMSE and R² is
/// disclosed. An R² for constant targets (SS_tot = 0) is NaN.
///
/// # Examples
///
/// ```
/// use ndarray::arr2;
/// use privml::nn::regression_scores;
/// use privml::{Plain, Ring};
///
/// let mut r = Plain::new();
/// let y = r.constant(&arr2(&[[1.0], [2.0], [3.0], [4.0]]).into_dyn())?;
/// let p = r.constant(&arr2(&[[1.5], [2.0], [2.5], [4.0]]).into_dyn())?;
/// let s = regression_scores(&mut r, &p, &y)?;
/// assert!((s.rmse - 0.125f64.sqrt()).abs() < 1e-12);
/// assert!((s.r2 - 0.9).abs() < 1e-12);
/// assert_eq!(r.cost().revealed_elements, 2);
/// # Ok::<(), privml::Error>(())
/// ```
pub fn regression_scores<R: Ring>(
    r: &mut R,
    predictions: &R::Tensor,
    targets: &R::Tensor,
) -> Result<RegressionScores> {
    r.set_label("regression scores");
    let shape = r.shape(targets).to_vec();
    if r.shape(predictions) != shape.as_slice() {
        return Err(Error::ShapeMismatch {
            op: "regression_scores",
            left: r.shape(predictions).to_vec(),
            right: shape,
        });
    }
    let n: usize = shape.iter().product();
    if n == 0 {
        return Err(Error::invalid("targets", "no rows to score"));
    }
    let residual = r.sub(targets, predictions)?;
    let sum_y = total(r, targets)?;
    let mean = r.mul_public(&sum_y, 1.0 / n as f64)?;
    let deviation = r.sub(targets, &mean)?;
    let mut squares = r.mul_many(&[(&residual, &residual), (&deviation, &deviation)])?;
    let (Some(dev2), Some(res2)) = (squares.pop(), squares.pop()) else {
        return Err(Error::internal(
            "regression_scores",
            "mul_many returned too few",
        ));
    };
    let ss_res = total(r, &res2)?;
    let ss_tot = total(r, &dev2)?;
    let both = r.concat_rows(&[&ss_res, &ss_tot])?;
    let opened = r.open(&both)?;
    let (ss_res, ss_tot) = (opened[0], opened[1]);
    Ok(RegressionScores {
        rmse: (ss_res.max(0.0) / n as f64).sqrt(),
        r2: 1.0 - ss_res / ss_tot,
    })
}

/// The fraction of rows whose largest output is the target's class, for
/// one-hot `targets` `[n, k]` (k ≥ 2): a secure argmax per row, and only
/// the number of hits opened.
///
/// # Examples
///
/// ```
/// use ndarray::arr2;
/// use privml::nn::classification_accuracy;
/// use privml::{Plain, Ring};
///
/// let mut r = Plain::new();
/// let out = r.constant(&arr2(&[[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]]).into_dyn())?;
/// let y = r.constant(&arr2(&[[0.0, 1.0], [0.0, 1.0], [0.0, 1.0]]).into_dyn())?;
/// assert!((classification_accuracy(&mut r, &out, &y)? - 2.0 / 3.0).abs() < 1e-12);
/// # Ok::<(), privml::Error>(())
/// ```
pub fn classification_accuracy<R: Ring>(
    r: &mut R,
    outputs: &R::Tensor,
    targets: &R::Tensor,
) -> Result<f64> {
    r.set_label("accuracy");
    let rows = r.shape(targets).first().copied().unwrap_or(0);
    if rows == 0 || r.shape(targets).get(1).copied().unwrap_or(0) < 2 {
        return Err(Error::ShapeMismatch {
            op: "classification_accuracy",
            left: r.shape(targets).to_vec(),
            right: vec![rows, 2],
        });
    }
    let (_, predicted) = r.argmax_rows(outputs)?;
    let hits = r.mul(&predicted, targets)?;
    let count = total(r, &hits)?;
    Ok(r.open(&count)?.sum() / rows as f64)
}
