//! Training and prediction on tables of data, as [`Job`]s that run in
//! process or as one party over the network.
//!
//! Roles: the *data owner* (party 1 by default) holds the CSV rows and is
//! the only party that ever sees them; party 0 initialises the model;
//! every party ends with a file holding only its own shares of the trained
//! parameters ([`crate::model_file`]). What becomes public, and why:
//!
//! - the table's shape, feature names, target name and number of classes;
//! - the normalisation parameters fitted on the training rows (per-feature
//!   minimum and range, or mean and standard deviation), which every party
//!   needs to apply the model to new rows later — normalise your data
//!   yourself beforehand if these statistics are sensitive;
//! - the training loss of each batch and the test accuracy of each epoch
//!   (single numbers, revealed explicitly to report progress);
//! - the model, only with `reveal_model`.

use std::path::PathBuf;

use ndarray::{Array2, ArrayD};
use serde::{Deserialize, Serialize};

use crate::domain::{PartyId, Ring, Session};
use crate::error::{Error, Result};
use crate::model_file::{ModelMeta, SavedModel};
use crate::nn::{self, MiniBatch, MlpSpec};
use crate::runner::Job;

/// The party that holds the training data unless told otherwise.
pub const DEFAULT_DATA_OWNER: PartyId = 1;

/// The data owner's prepared rows: normalised features, targets as one
/// column per model output (one-hot for more than two classes).
#[derive(Debug, Clone)]
pub struct TrainData {
    /// Training features.
    pub x_train: Array2<f64>,
    /// Training targets.
    pub y_train: Array2<f64>,
    /// Test features.
    pub x_test: Array2<f64>,
    /// Test targets.
    pub y_test: Array2<f64>,
    /// Public description (its `domain` is filled in by the job).
    pub meta: ModelMeta,
}

/// What the data owner announces before training.
#[derive(Serialize, Deserialize)]
struct Announcement {
    train_rows: usize,
    test_rows: usize,
    features: usize,
    outputs: usize,
    meta: ModelMeta,
}

/// Progress events of a training run, reported by the speaking party (see
/// [`speaks`](crate::runner::speaks)); printing is up to the caller.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    /// Training starts: batches per epoch and epochs.
    Start {
        /// Batches per epoch.
        batches: usize,
        /// Epochs.
        epochs: usize,
        /// The model.
        spec: String,
    },
    /// One batch done, with its revealed loss.
    Batch {
        /// 0-based epoch.
        epoch: usize,
        /// 0-based batch.
        batch: usize,
        /// Mean squared error of the batch.
        loss: f64,
    },
    /// One epoch done.
    Epoch(EpochStats),
}

/// Per-epoch figures.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochStats {
    /// 1-based epoch.
    pub epoch: usize,
    /// Mean of the epoch's batch losses.
    pub train_loss: f64,
    /// Accuracy on the test rows (computed securely; only the count is revealed).
    pub test_accuracy: f64,
    /// Wall time of the epoch.
    pub seconds: f64,
}

/// What a training run returns.
#[derive(Debug, Clone)]
pub struct TrainOutcome {
    /// Per-epoch figures.
    pub epochs: Vec<EpochStats>,
    /// This party's model file content.
    pub model: SavedModel,
    /// The parameters in the clear, only if `reveal_model` was set.
    pub revealed: Option<Vec<ArrayD<f64>>>,
    /// Where this party's file was written.
    pub saved_to: Option<PathBuf>,
}

/// Train an MLP on the data owner's table.
pub struct TrainJob<'a> {
    /// The rows: `Some` on the data owner (and in-process), `None` elsewhere.
    pub data: Option<&'a TrainData>,
    /// Who holds the rows.
    pub data_owner: PartyId,
    /// `mlp:64,32` style description of the hidden layers.
    pub model: String,
    /// SGD settings.
    pub sgd: MiniBatch,
    /// Seed of the initial weights (public).
    pub seed: u64,
    /// Write each party's file to `{prefix}.party{N}.shares` (or
    /// `{prefix}.clear` in the plaintext domains).
    pub out_prefix: Option<PathBuf>,
    /// Reveal the trained parameters to every party (an explicit choice).
    pub reveal_model: bool,
    /// Progress callback.
    pub progress: &'a (dyn Fn(&Progress) + Sync),
}

fn encode<T: Serialize>(v: &T) -> Result<Vec<u8>> {
    postcard::to_allocvec(v).map_err(|e| Error::invalid("announcement", e.to_string()))
}

fn decode<'de, T: Deserialize<'de>>(b: &'de [u8]) -> Result<T> {
    postcard::from_bytes(b).map_err(|e| {
        Error::invalid(
            "announcement",
            format!("cannot decode the data owner's announcement: {e}"),
        )
    })
}

fn input<R: Ring>(
    r: &mut R,
    owner: PartyId,
    m: Option<&Array2<f64>>,
    shape: [usize; 2],
) -> Result<R::Tensor> {
    let v: Option<ArrayD<f64>> = m.filter(|_| r.owns(owner)).map(|m| m.clone().into_dyn());
    r.input(owner, v.as_ref(), &shape)
}

/// A model id known to all parties: party 0 draws it, everyone learns it.
fn joint_model_id<R: Ring + Session>(r: &mut R) -> Result<[u8; 16]> {
    let mine = if r.owns(0) {
        Some(crate::ring::prg::Seed::random()?.expose_bytes())
    } else {
        None
    };
    let bytes = r.announce(0, mine.as_ref().map(|b| b.as_slice()))?;
    bytes.as_slice().try_into().map_err(|_| {
        Error::invalid(
            "model id",
            format!("expected 16 bytes, got {}", bytes.len()),
        )
    })
}

fn file_for<R: Ring>(r: &R, prefix: &std::path::Path) -> PathBuf {
    match r.party() {
        Some(p) => SavedModel::party_path(prefix, p),
        None => SavedModel::clear_path(prefix),
    }
}

impl Job for TrainJob<'_> {
    type Output = TrainOutcome;

    fn run<R: Ring + Session>(&self, r: &mut R) -> Result<TrainOutcome> {
        let owner = self.data_owner;
        let mine = if r.owns(owner) {
            let d = self.data.ok_or_else(|| {
                Error::invalid(
                    "data",
                    format!("party {owner} owns the training data but was given none"),
                )
            })?;
            Some(encode(&Announcement {
                train_rows: d.x_train.nrows(),
                test_rows: d.x_test.nrows(),
                features: d.x_train.ncols(),
                outputs: d.y_train.ncols(),
                meta: d.meta.clone(),
            })?)
        } else {
            None
        };
        let bytes = r.announce(owner, mine.as_deref())?;
        let a: Announcement = decode(&bytes)?;
        let data = self.data;
        let x = input(
            r,
            owner,
            data.map(|d| &d.x_train),
            [a.train_rows, a.features],
        )?;
        let y = input(
            r,
            owner,
            data.map(|d| &d.y_train),
            [a.train_rows, a.outputs],
        )?;
        let xt = input(r, owner, data.map(|d| &d.x_test), [a.test_rows, a.features])?;
        let yt = input(r, owner, data.map(|d| &d.y_test), [a.test_rows, a.outputs])?;
        let spec = MlpSpec::parse(&self.model, a.features, a.outputs)?;
        let mut net = nn::mlp(r, &spec, self.seed)?;
        let batches = a.train_rows / self.sgd.batch.max(1);
        let speak = crate::runner::speaks(r);
        let report = |p: Progress| {
            if speak {
                (self.progress)(&p)
            }
        };
        report(Progress::Start {
            batches,
            epochs: self.sgd.epochs,
            spec: spec.to_string(),
        });
        let mut epochs = Vec::new();
        for e in 0..self.sgd.epochs {
            let t0 = std::time::Instant::now();
            let mut losses = Vec::new();
            let one = MiniBatch {
                epochs: 1,
                ..self.sgd
            };
            nn::train_minibatch(r, &mut net, (&x, &y), one, 1, |_, _, rep| {
                if let Some(loss) = rep.loss {
                    losses.push(loss);
                    report(Progress::Batch {
                        epoch: e,
                        batch: rep.batch,
                        loss,
                    });
                }
                Ok(())
            })?;
            let test_accuracy = if a.test_rows > 0 {
                nn::accuracy(r, &mut net, &xt, &yt)?
            } else {
                f64::NAN
            };
            let stats = EpochStats {
                epoch: e + 1,
                train_loss: losses.iter().sum::<f64>() / losses.len().max(1) as f64,
                test_accuracy,
                seconds: t0.elapsed().as_secs_f64(),
            };
            report(Progress::Epoch(stats.clone()));
            epochs.push(stats);
        }
        let model_id = joint_model_id(r)?;
        let params = net.parameters();
        let tensors = params.iter().map(|t| r.export(t)).collect();
        let mut meta = a.meta;
        meta.spec = spec.to_string();
        meta.domain = r.describe();
        let model = SavedModel {
            meta,
            model_id,
            tensors,
        };
        let revealed = if self.reveal_model {
            Some(net.reveal_parameters(r)?)
        } else {
            None
        };
        let saved_to = match &self.out_prefix {
            Some(prefix) => {
                let path = file_for(r, prefix);
                model.save(&path)?;
                Some(path)
            }
            None => None,
        };
        Ok(TrainOutcome {
            epochs,
            model,
            revealed,
            saved_to,
        })
    }
}

/// Where each party finds its model file.
#[derive(Debug, Clone)]
pub enum ModelLocation {
    /// `{prefix}.party{N}.shares` for party N (`{prefix}.clear` in the clear).
    Prefix(PathBuf),
    /// This exact file (one party over the network).
    File(PathBuf),
}

/// Predict with a saved model on the data owner's new rows.
pub struct PredictJob<'a> {
    /// Where the model file is.
    pub model: ModelLocation,
    /// New rows, already normalised with the model's normaliser: `Some` on
    /// the data owner (and in-process).
    pub data: Option<&'a Array2<f64>>,
    /// Who provides the rows and receives the predictions.
    pub data_owner: PartyId,
}

/// Predictions, on the data owner only.
#[derive(Debug, Clone, PartialEq)]
pub struct Predictions {
    /// Model outputs, one row per input row.
    pub scores: Array2<f64>,
    /// Predicted class per row.
    pub classes: Vec<usize>,
}

impl Job for PredictJob<'_> {
    type Output = Option<Predictions>;

    fn output_party(&self) -> PartyId {
        self.data_owner
    }

    fn run<R: Ring + Session>(&self, r: &mut R) -> Result<Option<Predictions>> {
        let path = match &self.model {
            ModelLocation::Prefix(p) => file_for(r, p),
            ModelLocation::File(p) => p.clone(),
        };
        let model = SavedModel::load(&path)?;
        let spec: MlpSpec = model.meta.spec.parse()?;
        let params = model
            .tensors
            .iter()
            .map(|t| r.import(t))
            .collect::<Result<Vec<_>>>()?;
        let refs: Vec<&R::Tensor> = params.iter().collect();
        r.check_agreement(&refs, &model.model_id)?;
        let mut net = nn::mlp_with_parameters(r, &spec, params)?;
        let owner = self.data_owner;
        let shape = if r.owns(owner) {
            let d = self.data.ok_or_else(|| {
                Error::invalid(
                    "data",
                    format!("party {owner} provides the rows but was given none"),
                )
            })?;
            if d.ncols() != spec.inputs {
                return Err(Error::ShapeMismatch {
                    op: "predict",
                    left: vec![d.nrows(), d.ncols()],
                    right: vec![d.nrows(), spec.inputs],
                });
            }
            Some(encode(&(d.nrows(), d.ncols()))?)
        } else {
            None
        };
        let (rows, cols): (usize, usize) = decode(&r.announce(owner, shape.as_deref())?)?;
        let x = input(r, owner, self.data, [rows, cols])?;
        r.set_label("predict");
        let out = net.predict(r, &x)?;
        let got = r.reveal_to(owner, &out)?;
        Ok(match got {
            Some(s) if r.owns(owner) => {
                let scores = s
                    .into_dimensionality::<ndarray::Ix2>()
                    .map_err(|e| Error::invalid("predictions", e.to_string()))?;
                let classes = scores
                    .rows()
                    .into_iter()
                    .map(|row| {
                        if row.len() == 1 {
                            (row[0] >= 0.5) as usize
                        } else {
                            row.iter()
                                .enumerate()
                                .fold(
                                    (0, f64::MIN),
                                    |b, (i, v)| if *v > b.1 { (i, *v) } else { b },
                                )
                                .0
                        }
                    })
                    .collect();
                Some(Predictions { scores, classes })
            }
            _ => None,
        })
    }
}
