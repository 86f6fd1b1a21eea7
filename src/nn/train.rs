//! The training loops, and the training figures they report (what they
//! disclose is listed in the [`nn` module](super) docs).

use super::sequential::Sequential;
use crate::domain::{Gadgets, Layout, Open, Ring};
use crate::error::Result;

/// The mean absolute error opened at a reporting iteration.
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
/// Every `report_every` iterations the mean absolute error is computed
/// under MPC ([`mean_abs_error`]) and only that one number is opened to
/// every party (an explicit, small disclosure) and passed to `on_report`.
/// The residual itself is never opened: with 0/1 targets its signs are the
/// labels.
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
            let rep = ErrorReport {
                iteration: i + 1,
                error: mean_abs_error(r, &delta)?,
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

/// Which training losses [`train_minibatch`] opens to every party (each
/// one number, exactly rounded; see the [`nn` module](super) for every
/// disclosure of training).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LossReport {
    /// None: no extra product, nothing opened.
    #[default]
    Off,
    /// The mean squared error of every k-th batch (k ≥ 1), in its
    /// [`BatchReport`]: one product and one opening per reported batch.
    EveryBatches(usize),
    /// The mean squared error over all the call's batches (the mean of the
    /// batch losses): one product per batch, accumulated on shares, and one
    /// opening at the end, returned by [`train_minibatch`].
    Total,
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
    /// Mean squared error of this batch (opened; `None` unless asked for
    /// with [`LossReport::EveryBatches`]).
    pub loss: Option<f64>,
}

/// Trains `net` on (x, y) — secret tensors with rows as examples and y one
/// column per output (one-hot for classes) — by mini-batch SGD on the mean
/// squared error: for each batch δ = y - output, backward, W += (lr / B)·∂W.
///
/// Rows are used in order: shuffle before sharing (the data owner does it in
/// the clear). `loss` says which losses are computed and opened (see
/// [`LossReport`]); `on_batch` is called after every batch. Returns the mean
/// loss over all batches with [`LossReport::Total`], else `None`.
pub fn train_minibatch<R: Ring>(
    r: &mut R,
    net: &mut Sequential<R>,
    (x, y): (&R::Tensor, &R::Tensor),
    cfg: MiniBatch,
    loss: LossReport,
    mut on_batch: impl FnMut(&mut R, &mut Sequential<R>, BatchReport) -> Result<()>,
) -> Result<Option<f64>> {
    let rows = r.shape(x).first().copied().unwrap_or(0);
    let batches = batches_per_epoch(rows, cfg.batch, loss)?;
    let mut total = LossTotal::default();
    for epoch in 0..cfg.epochs {
        for b in 0..batches {
            r.set_step((epoch * batches + b) as u64 + 1);
            let (lo, hi) = (b * cfg.batch, (b + 1) * cfg.batch);
            let xb = r.slice_rows(x, lo, hi)?;
            let yb = r.slice_rows(y, lo, hi)?;
            let out = net.forward(r, &xb)?;
            r.set_label("loss");
            let delta = r.sub(&yb, &out)?;
            let batch_loss = match loss {
                LossReport::EveryBatches(k) if (b + 1) % k == 0 => Some(mean_square(r, &delta)?),
                LossReport::Total => {
                    let t = squared_error_total(r, &delta)?;
                    total.add(r, t)?;
                    None
                }
                _ => None,
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
                    loss: batch_loss,
                },
            )?;
        }
    }
    r.set_label("loss");
    total.open_mean(r, cfg.epochs * batches * cfg.batch)
}

/// Full batches of `batch` rows in `rows` (a last partial batch is
/// dropped); fails for a batch larger than the rows or a report every 0
/// batches.
pub(crate) fn batches_per_epoch(rows: usize, batch: usize, report: LossReport) -> Result<usize> {
    let batches = rows / batch.max(1);
    if batches == 0 {
        return Err(crate::error::Error::invalid(
            "batch",
            format!("batch size {batch} is larger than the {rows} training rows"),
        ));
    }
    if report == LossReport::EveryBatches(0) {
        return Err(crate::error::Error::invalid(
            "loss",
            "report the loss every k ≥ 1 batches (or use LossReport::Off)",
        ));
    }
    Ok(batches)
}

/// The batch losses of a [`LossReport::Total`], summed on shares.
pub(crate) struct LossTotal<R: Ring>(Option<R::Tensor>);

impl<R: Ring> Default for LossTotal<R> {
    fn default() -> Self {
        LossTotal(None)
    }
}

impl<R: Ring> LossTotal<R> {
    /// Adds one batch's shared loss sum (local).
    pub(crate) fn add(&mut self, r: &mut R, t: R::Tensor) -> Result<()> {
        self.0 = Some(match self.0.take() {
            Some(acc) => r.add(&acc, &t)?,
            None => t,
        });
        Ok(())
    }

    /// The sum over `rows` rows, opened to every party as one number
    /// ([`Open::open`]); `None` if nothing was added.
    pub(crate) fn open_mean(self, r: &mut R, rows: usize) -> Result<Option<f64>> {
        match self.0 {
            Some(t) => Ok(Some(r.open(&t)?.sum() / rows.max(1) as f64)),
            None => Ok(None),
        }
    }
}

/// Σ δ² over every element, still shared (a tensor of shape \[1\]): one
/// product.
pub fn squared_error_total<R: Ring>(r: &mut R, delta: &R::Tensor) -> Result<R::Tensor> {
    let sq = r.square(delta)?;
    sum_all(r, &sq)
}

/// The sum of every element, shape \[1\] (local).
fn sum_all<R: Ring>(r: &mut R, x: &R::Tensor) -> Result<R::Tensor> {
    let n: usize = r.shape(x).iter().product();
    let flat = r.reshape(x, &[n])?;
    r.sum_axis(&flat, 0)
}

/// Σ δ² / rows, opened to every party (an explicit one-number disclosure,
/// exactly rounded: [`Open::open`]).
pub fn mean_square<R: Ring>(r: &mut R, delta: &R::Tensor) -> Result<f64> {
    let rows = r.shape(delta).first().copied().unwrap_or(1).max(1);
    let total = squared_error_total(r, delta)?;
    let v = r.open(&total)?;
    Ok(v.sum() / rows as f64)
}

/// Σ |δ| / n over all n elements, opened to every party (an explicit
/// one-number disclosure, exactly rounded: [`Open::open`]) of
/// [`abs_error_total`]: nothing but the mean is opened.
///
/// # Examples
///
/// ```
/// use ndarray::arr2;
/// use privml::nn::mean_abs_error;
/// use privml::{Fixed, Ring};
///
/// let mut r = Fixed::<u64>::new();
/// let d = r.constant(&arr2(&[[0.5], [-0.25], [0.0], [-1.25]]).into_dyn())?;
/// assert_eq!(mean_abs_error(&mut r, &d)?, 0.5);
/// let c = r.cost();
/// assert_eq!((c.opened_to_all.ops, c.opened_to_all.elements), (1, 1));
/// # Ok::<(), privml::Error>(())
/// ```
pub fn mean_abs_error<R: Ring>(r: &mut R, delta: &R::Tensor) -> Result<f64> {
    let n: usize = r.shape(delta).iter().product();
    let total = abs_error_total(r, delta)?;
    let v = r.open(&total)?;
    Ok(v.sum() / n.max(1) as f64)
}

/// Σ |δ| over every element, still shared (a tensor of shape \[1\]):
/// |δ| = 2·[δ ≥ 0]·δ − δ from one sign extraction selecting δ (the product
/// with the bit is exact, no truncation), then a local sum.
pub fn abs_error_total<R: Ring>(r: &mut R, delta: &R::Tensor) -> Result<R::Tensor> {
    let (_, mut selected) = r.nonneg_select(delta, &[delta])?;
    let positive = selected.pop().ok_or_else(|| {
        crate::error::Error::internal("abs_error_total", "nonneg_select lost its operand")
    })?;
    let twice = r.scale_int(&positive, 2)?;
    let abs = r.sub(&twice, delta)?;
    sum_all(r, &abs)
}

/// Classification accuracy of `net` on (x, y) computed under MPC: only the
/// number of correct predictions is opened, to every party (exactly
/// rounded: [`Open::open`]; a count is an integer, so it is exact). y is one-hot with k ≥ 2
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
    let total = sum_all(r, &hits)?;
    let v = r.open(&total)?;
    Ok(v.sum() / rows as f64)
}
