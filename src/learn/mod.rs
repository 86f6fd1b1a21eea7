//! Training and prediction on tables of data, as [`Job`](crate::runner::Job)s
//! that run in process or as one party over the network, and the data
//! pipeline that feeds them.
//!
//! Roles: the *data owner* (party 1 by default) holds the CSV rows and is
//! the only party that ever sees them; party 0 initialises the model;
//! every party ends with a file holding only its own shares of the trained
//! parameters ([`crate::model_file`]).
//!
//! # What is disclosed
//!
//! Announced by the data owner to the other two parties before training
//! (public by design: every party needs it to run the job):
//!
//! - the table's shape (training rows, test rows, features, outputs),
//!   feature names, target name and number of classes;
//! - the normalisation parameters (see [`DataSpec`]): by default the
//!   per-feature ranges the data owner *declared* as its public schema,
//!   which are values of no record; the training rows' own per-feature
//!   minimum and range (or mean and standard deviation) only with the
//!   explicit `disclose_feature_stats` consent;
//! - the task (classification or regression) and, for a regression, the
//!   target's scaling: its declared public range by default, or (with the
//!   same consent) its training minimum and range or mean and deviation.
//!
//! Opened during training, each one number to every party, computed under
//! MPC and exactly rounded ([`Open::open`](crate::domain::Open::open)):
//!
//! | what | when |
//! |---|---|
//! | the training loss: the mean loss per row over the epoch's batches (the squared error, or the cross-entropy) | once per epoch |
//! | classification: the test accuracy, the count of correct predictions | once per epoch (if there are test rows) |
//! | regression: the test residual and total sums of squares (two numbers, equivalent to the reported RMSE and R²) | once per epoch (if there are test rows) |
//! | every parameter of the trained model, in one opening | once, only with `reveal_model` |
//!
//! Prediction ([`PredictJob`]) announces the number of rows and opens the
//! model's outputs (rows × outputs values) to the data owner alone.
//! Nothing else is opened: not the rows, not the targets, not a per-batch
//! loss, not the model (without `reveal_model`).
//!
//! The pieces:
//!
//! - [`pipeline`]: the data owner's side before a job starts — where the
//!   table comes from ([`DataSource`]), how it is shuffled, split, scaled and
//!   range-checked ([`DataSpec`], [`TrainData::prepare`]), and the rows of a
//!   prediction ([`PredictRows::prepare`]);
//! - [`TrainJob`] with its public [`TrainSettings`], [`Progress`] events and
//!   [`TrainOutcome`];
//! - [`PredictJob`] and its [`Predictions`].
//!
//! # Examples
//!
//! Train a small model in the clear on the bundled breast-cancer table, the
//! way `privml train --domain plain` does:
//!
//! ```
//! use privml::data::Bundled;
//! use privml::learn::{DataSource, TrainData, TrainJob, TrainSettings};
//! use privml::nn::MiniBatch;
//! use privml::runner::{Domain, DomainSpec, run_local};
//! use privml::SharedConfig;
//!
//! # fn main() -> privml::Result<()> {
//! let settings = TrainSettings {
//!     model: "mlp:4".parse()?,
//!     sgd: MiniBatch { epochs: 2, batch: 32, lr: 0.2 },
//!     ..TrainSettings::default()
//! };
//! let domain = DomainSpec { domain: Domain::Plain, ..DomainSpec::default() };
//! let data = TrainData::prepare(&DataSource::Bundled(Bundled::BreastCancer), &settings, &domain)?;
//! assert_eq!(data.x_train.dim(), (455, 30));
//! let job = TrainJob::new(&settings, Some(&data));
//! let (out, _cost) = run_local(domain.kind(), &SharedConfig::default(), &job)?;
//! assert!(out.epochs[1].test_accuracy > 0.8);
//! # Ok(())
//! # }
//! ```

mod model;
pub mod pipeline;
mod predict;
mod train;

use std::path::{Path, PathBuf};

use ndarray::{Array2, ArrayD};
use serde::{Deserialize, Serialize};

use crate::domain::{PartyId, Ring};
use crate::error::{DecodeError, Error, Origin, Result};
use crate::model_file::SavedModel;

pub use model::{MAX_DETECTED_CLASSES, ModelChoice, OptimizerKind, Task};
pub use pipeline::{DataSource, DataSpec, PredictRows, TableData, TrainData};
pub use predict::{
    ModelLocation, PredictCostJob, PredictJob, Predictions, SharedPredictJob, predict_cost,
};
pub(crate) use train::joint_model_id;
pub use train::{EpochStats, Progress, TrainJob, TrainOutcome, TrainSettings};

/// The party that holds the training data unless told otherwise.
pub const DEFAULT_DATA_OWNER: PartyId = 1;

/// Encodes a value the data owner announces (our own types: cannot fail).
pub(crate) fn encode<T: Serialize>(what: &'static str, v: &T) -> Result<Vec<u8>> {
    postcard::to_allocvec(v).map_err(|e| Error::internal(what, e.to_string()))
}

/// Decodes what party `from` announced.
pub(crate) fn decode<'de, T: Deserialize<'de>>(
    what: &'static str,
    from: PartyId,
    b: &'de [u8],
) -> Result<T> {
    let origin = Origin::Peer {
        party: from,
        op: what.to_string(),
    };
    let (v, extra) = postcard::take_from_bytes(b)
        .map_err(|e| Error::decode(what, origin.clone(), DecodeError::Postcard(e)))?;
    if extra.is_empty() {
        Ok(v)
    } else {
        Err(Error::decode(
            what,
            origin,
            DecodeError::TrailingBytes {
                extra: extra.len() as u64,
            },
        ))
    }
}

/// `owner`'s private matrix `m` (only the owner passes it) of the announced
/// `shape`.
fn input<R: Ring>(
    r: &mut R,
    owner: PartyId,
    m: Option<&Array2<f64>>,
    shape: [usize; 2],
) -> Result<R::Tensor> {
    let v: Option<ArrayD<f64>> = m.filter(|_| r.owns(owner)).map(|m| m.clone().into_dyn());
    r.input(owner, v.as_ref(), &shape)
}

/// This evaluator's model file under `prefix`: its own share file, or the
/// clear file in the plaintext domains.
pub(crate) fn file_for<R: Ring>(r: &R, prefix: &Path) -> PathBuf {
    match r.party() {
        Some(p) => SavedModel::party_path(prefix, p),
        None => SavedModel::clear_path(prefix),
    }
}
