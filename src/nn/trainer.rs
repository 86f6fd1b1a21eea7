//! Mini-batch training of a [`Network`] with any [`Loss`] and optimiser.

use super::loss::Loss;
use super::network::Network;
use super::optim::Optimizer;
use super::train::{BatchReport, LossReport, LossTotal, batches_per_epoch};
use crate::domain::{Layout, Ring};
use crate::error::Result;

/// How long to train and on what.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    /// Passes over the training rows.
    pub epochs: usize,
    /// Rows per batch (a last partial batch is dropped).
    pub batch: usize,
    /// The loss.
    pub loss: Loss,
    /// Which losses are computed and opened (see [`LossReport`]): none, the
    /// batch's mean loss every k batches, or the mean over all batches once.
    pub report: LossReport,
}

/// Trains `net` on (x, y) — secret tensors with examples along axis 0 —
/// by mini-batches in order (shuffle before sharing): forward, the loss's
/// error signal, backward, one optimiser step. `schedule.report` says which
/// losses are opened, each one number to every party, exactly rounded
/// ([`Open::open`](crate::domain::Open::open)): with [`LossReport::EveryBatches`]`(k)` the batch's mean
/// loss every k batches, passed to `on_batch` in its report; with
/// [`LossReport::Total`] the mean loss per row over all the call's batches,
/// accumulated on shares and opened once, returned. `on_batch` is called
/// after every batch.
///
/// # Examples
///
/// ```
/// use ndarray::{Array2, Array4};
/// use privml::nn::{Loss, LossReport, Network, NetworkSpec, Optimizer, OptimizerConfig, Schedule, train_network};
/// use privml::{Plain, Ring};
///
/// let mut r = Plain::new();
/// let spec = NetworkSpec::parse("conv:2k3,relu,dense:2", "1x4x4")?;
/// let mut net = Network::init(&mut r, &spec, 3)?;
/// let mut opt = Optimizer::new(OptimizerConfig::named("sgd", 0.5)?)?;
/// // bright top half → class 0, bright bottom half → class 1
/// let x = Array4::from_shape_fn((8, 1, 4, 4), |(i, _, h, _)| ((h < 2) == (i % 2 == 0)) as u8 as f64).into_dyn();
/// let y = Array2::from_shape_fn((8, 2), |(i, j)| (i % 2 == j) as u8 as f64).into_dyn();
/// let (xs, ys) = (r.constant(&x)?, r.constant(&y)?);
/// let schedule = Schedule { epochs: 20, batch: 4, loss: Loss::CrossEntropy, report: LossReport::EveryBatches(2) };
/// let mut losses = Vec::new();
/// train_network(&mut r, &mut net, &mut opt, (&xs, &ys), schedule, |_, _, rep| {
///     losses.extend(rep.loss);
///     Ok(())
/// })?;
/// assert!(losses.last().unwrap() < &losses[0]);
/// # Ok::<(), privml::Error>(())
/// ```
pub fn train_network<R: Ring>(
    r: &mut R,
    net: &mut Network<R>,
    optimizer: &mut Optimizer<R>,
    (x, y): (&R::Tensor, &R::Tensor),
    schedule: Schedule,
    mut on_batch: impl FnMut(&mut R, &mut Network<R>, BatchReport) -> Result<()>,
) -> Result<Option<f64>> {
    let rows = r.shape(x).first().copied().unwrap_or(0);
    let batches = batches_per_epoch(rows, schedule.batch, schedule.report)?;
    let mut total = LossTotal::default();
    for epoch in 0..schedule.epochs {
        for b in 0..batches {
            r.set_step((epoch * batches + b) as u64 + 1);
            let (lo, hi) = (b * schedule.batch, (b + 1) * schedule.batch);
            let xb = r.slice_rows(x, lo, hi)?;
            let yb = r.slice_rows(y, lo, hi)?;
            let out = net.forward(r, &xb)?;
            let loss = match schedule.report {
                LossReport::EveryBatches(k) if (b + 1) % k == 0 => {
                    Some(schedule.loss.value(r, &out, &yb)?)
                }
                LossReport::Total => {
                    let t = schedule.loss.total(r, &out, &yb)?;
                    total.add(r, t)?;
                    None
                }
                _ => None,
            };
            let delta = schedule.loss.error_signal(r, &out, &yb)?;
            net.backward(r, &delta)?;
            optimizer.step(r, net, schedule.batch)?;
            let report = BatchReport {
                epoch,
                batch: b,
                batches,
                loss,
            };
            on_batch(r, net, report)?;
        }
    }
    r.set_label("loss value");
    total.open_mean(r, schedule.epochs * batches * schedule.batch)
}
