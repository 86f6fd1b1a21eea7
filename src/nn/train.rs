//! The tutorial's training loop.

use ndarray::ArrayD;

use super::sequential::Sequential;
use crate::domain::{Gadgets, Layout, Ring};
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

/// Mini-batch SGD settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MiniBatch {
    /// Passes over the training set.
    pub epochs: usize,
    /// Rows per batch (the last partial batch is dropped).
    pub batch: usize,
    /// Learning rate for the mean squared error over a batch.
    pub lr: f64,
}

/// Progress after one batch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchReport {
    /// 0-based epoch.
    pub epoch: usize,
    /// 0-based batch within the epoch.
    pub batch: usize,
    /// Batches per epoch.
    pub batches: usize,
    /// Mean squared error of this batch (revealed; `None` unless asked for).
    pub loss: Option<f64>,
}

/// Trains `net` on (x, y) — secret tensors with rows as examples and y one
/// column per output (one-hot for classes) — by mini-batch SGD on the mean
/// squared error: for each batch δ = y - output, backward, W += (lr / B)·∂W.
///
/// Rows are used in order: shuffle before sharing (the data owner does it in
/// the clear). With `loss_every = k > 0`, the batch loss is revealed (one
/// product and one scalar reveal) every k batches and passed to `on_batch`;
/// `on_batch` is called after every batch.
pub fn train_minibatch<R: Ring>(
    r: &mut R,
    net: &mut Sequential<R>,
    (x, y): (&R::Tensor, &R::Tensor),
    cfg: MiniBatch,
    loss_every: usize,
    mut on_batch: impl FnMut(&mut R, &mut Sequential<R>, BatchReport) -> Result<()>,
) -> Result<()> {
    let rows = r.shape(x).first().copied().unwrap_or(0);
    let batches = rows / cfg.batch.max(1);
    if batches == 0 {
        return Err(crate::error::Error::invalid(
            "batch",
            format!(
                "batch size {} is larger than the {rows} training rows",
                cfg.batch
            ),
        ));
    }
    for epoch in 0..cfg.epochs {
        for b in 0..batches {
            r.set_step((epoch * batches + b) as u64 + 1);
            let (lo, hi) = (b * cfg.batch, (b + 1) * cfg.batch);
            let xb = r.slice_rows(x, lo, hi)?;
            let yb = r.slice_rows(y, lo, hi)?;
            let out = net.forward(r, &xb)?;
            r.set_label("loss");
            let delta = r.sub(&yb, &out)?;
            let loss = if loss_every > 0 && (b + 1) % loss_every == 0 {
                Some(mean_square(r, &delta)?)
            } else {
                None
            };
            net.backward(r, &delta)?;
            net.update(r, cfg.lr / cfg.batch as f64)?;
            on_batch(
                r,
                net,
                BatchReport {
                    epoch,
                    batch: b,
                    batches,
                    loss,
                },
            )?;
        }
    }
    Ok(())
}

/// Σ δ² / rows, revealed (an explicit one-number disclosure).
pub fn mean_square<R: Ring>(r: &mut R, delta: &R::Tensor) -> Result<f64> {
    let rows = r.shape(delta).first().copied().unwrap_or(1).max(1);
    let sq = r.square(delta)?;
    let mut s = sq;
    while r.shape(&s).len() > 1 {
        let last = r.shape(&s).len() - 1;
        s = r.sum_axis(&s, last)?;
        let shp: Vec<usize> = r.shape(&s)[..last].to_vec();
        s = r.reshape(&s, &shp)?;
    }
    let total = r.sum_axis(&s, 0)?;
    let v = r.reveal(&total)?;
    Ok(v.iter().sum::<f64>() / rows as f64)
}

/// Classification accuracy of `net` on (x, y) computed under MPC: only the
/// number of correct predictions is revealed. y is one-hot with k ≥ 2
/// columns (argmax of the outputs), or one 0/1 column (output ≥ 0.5).
pub fn accuracy<R: Ring>(
    r: &mut R,
    net: &mut Sequential<R>,
    x: &R::Tensor,
    y: &R::Tensor,
) -> Result<f64> {
    r.set_label("accuracy");
    let out = net.predict(r, x)?;
    let shape = r.shape(y).to_vec();
    let rows = shape.first().copied().unwrap_or(0).max(1);
    let hits = if shape.get(1).copied().unwrap_or(1) >= 2 {
        let (_, hot) = r.argmax_rows(&out)?;
        r.mul(&hot, y)?
    } else {
        // correct = [out ≥ 0.5] xnor y = 1 - d - y + 2 d y
        let centred = r.add_public(&out, &ndarray::arr0(-0.5).into_dyn())?;
        let (d, mut dy) = r.nonneg_select(&centred, &[y])?;
        let dy = dy.remove(0);
        let two_dy = r.scale_int(&dy, 2)?;
        let s = r.sub(&two_dy, &d)?;
        let s = r.sub(&s, y)?;
        r.add_public(&s, &ndarray::arr0(1.0).into_dyn())?
    };
    let flat = r.reshape(&hits, &[hits_len(r.shape(&hits))])?;
    let total = r.sum_axis(&flat, 0)?;
    let v = r.reveal(&total)?;
    Ok(v.iter().sum::<f64>() / rows as f64)
}

fn hits_len(shape: &[usize]) -> usize {
    shape.iter().product()
}
