//! The tutorial's training loop.

use ndarray::ArrayD;

use super::sequential::Sequential;
use crate::domain::Ring;
use crate::error::Result;

/// The mean absolute error revealed at a reporting iteration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ErrorReport {
    /// 1-based iteration.
    pub iteration: usize,
    /// mean |y - output|.
    pub error: f64,
}

/// How long and how fast to train, and how often to report.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FullBatch {
    /// Iterations over the whole training set.
    pub iterations: usize,
    /// Learning rate (the tutorial uses 1).
    pub lr: f64,
    /// Reveal and report the error every this many iterations (0: never).
    pub report_every: usize,
}

/// Full-batch gradient descent as in the tutorial: `iterations` times,
/// forward on `x`, error signal y - output, backward, `W += lr · ∂W`.
/// Every `report_every` iterations the mean absolute error is revealed (an
/// explicit, small disclosure) and passed to `on_report`.
pub fn train_full_batch<R: Ring>(
    r: &mut R,
    net: &mut Sequential<R>,
    (x, y): (&R::Tensor, &R::Tensor),
    cfg: FullBatch,
    mut on_report: impl FnMut(ErrorReport),
) -> Result<Vec<ErrorReport>> {
    let FullBatch {
        iterations,
        lr,
        report_every,
    } = cfg;
    let mut reports = Vec::new();
    for i in 0..iterations {
        r.set_step(i as u64 + 1);
        let out = net.forward(r, x)?;
        r.set_label("loss");
        let delta = r.sub(y, &out)?;
        if report_every > 0 && (i + 1) % report_every == 0 {
            r.set_label("report");
            let e: ArrayD<f64> = r.reveal(&delta)?;
            let rep = ErrorReport {
                iteration: i + 1,
                error: e.iter().map(|v| v.abs()).sum::<f64>() / e.len().max(1) as f64,
            };
            on_report(rep);
            reports.push(rep);
        }
        net.backward(r, &delta)?;
        net.update(r, lr)?;
    }
    Ok(reports)
}
