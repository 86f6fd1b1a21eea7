//! [`TrainJob`]: an MLP trained on the data owner's secret rows.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use ndarray::ArrayD;
use serde::{Deserialize, Serialize};

use super::pipeline::{DataSpec, TrainData};
use super::{DEFAULT_DATA_OWNER, decode, encode, file_for, input};
use crate::domain::{PartyId, Ring, Session};
use crate::error::{DecodeError, Error, Origin, Result};
use crate::model_file::{Architecture, ModelMeta, SavedModel, TableMeta, domain_of};
use crate::nn::{self, LossReport, MiniBatch, MlpSpec};
use crate::runner::Job;

/// The model a user asks for before the table's shape is known: the hidden
/// layers of an MLP (`mlp:64,32`; `linear` or `mlp:` for none).
///
/// # Examples
///
/// ```
/// use privml::learn::ModelChoice;
///
/// let m: ModelChoice = "mlp:64,32".parse().unwrap();
/// assert_eq!(m.to_string(), "mlp:64,32");
/// assert_eq!(m.architecture(784, 10).to_string(), "784-64-32-10");
/// assert_eq!("linear".parse::<ModelChoice>().unwrap().to_string(), "linear");
/// assert!("cnn:3".parse::<ModelChoice>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ModelChoice {
    /// Dense layers of these widths with ReLU, then a linear output layer.
    Mlp {
        /// Hidden layer widths.
        hidden: Vec<usize>,
    },
}

impl ModelChoice {
    /// The architecture for `inputs` features and `outputs` targets.
    pub fn architecture(&self, inputs: usize, outputs: usize) -> Architecture {
        match self {
            ModelChoice::Mlp { hidden } => Architecture::Mlp(MlpSpec {
                inputs,
                hidden: hidden.clone(),
                outputs,
            }),
        }
    }
}

impl Default for ModelChoice {
    /// One hidden layer of 64 units.
    fn default() -> Self {
        ModelChoice::Mlp { hidden: vec![64] }
    }
}

impl FromStr for ModelChoice {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let spec = MlpSpec::parse(s, 0, 0)?;
        Ok(ModelChoice::Mlp {
            hidden: spec.hidden,
        })
    }
}

impl fmt::Display for ModelChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelChoice::Mlp { hidden } if hidden.is_empty() => f.write_str("linear"),
            ModelChoice::Mlp { hidden } => {
                let w: Vec<String> = hidden.iter().map(usize::to_string).collect();
                write!(f, "mlp:{}", w.join(","))
            }
        }
    }
}

/// The public settings of a training run: the same on every party (they
/// are part of the [`SessionDescription`](crate::session::SessionDescription)
/// the parties compare).
#[derive(Debug, Clone, PartialEq)]
pub struct TrainSettings {
    /// The model.
    pub model: ModelChoice,
    /// SGD settings.
    pub sgd: MiniBatch,
    /// How the data owner prepares its table.
    pub data: DataSpec,
    /// Seed of the shuffle, the split and the initial weights (public).
    pub seed: u64,
    /// Who holds the rows.
    pub data_owner: PartyId,
    /// Reveal the trained parameters to every party (an explicit choice).
    pub reveal_model: bool,
}

impl Default for TrainSettings {
    /// `privml train`'s defaults.
    fn default() -> Self {
        TrainSettings {
            model: ModelChoice::default(),
            sgd: MiniBatch {
                epochs: 5,
                batch: 128,
                lr: 0.2,
            },
            data: DataSpec::default(),
            seed: 1,
            data_owner: DEFAULT_DATA_OWNER,
            reveal_model: false,
        }
    }
}

/// What the data owner announces before training.
#[derive(Serialize, Deserialize)]
struct Announcement {
    train_rows: usize,
    test_rows: usize,
    features: usize,
    outputs: usize,
    table: TableMeta,
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
        architecture: Architecture,
    },
    /// One batch done (nothing is opened per batch: the loss is opened
    /// once per epoch, in [`EpochStats::train_loss`]).
    Batch {
        /// 0-based epoch.
        epoch: usize,
        /// 0-based batch.
        batch: usize,
    },
    /// One epoch done.
    Epoch(EpochStats),
}

/// Per-epoch figures.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochStats {
    /// 1-based epoch.
    pub epoch: usize,
    /// Mean of the epoch's batch losses (mean squared errors): accumulated
    /// on shares and opened once per epoch, one number.
    pub train_loss: f64,
    /// Accuracy on the test rows (computed securely; only the count of
    /// correct predictions is opened).
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

impl TrainOutcome {
    /// The training loss and test accuracy per epoch as a line plot.
    #[cfg(feature = "plot")]
    pub fn curves(&self, title: impl Into<String>) -> crate::plot::LinePlot {
        use crate::plot::{LinePlot, Series};
        let per_epoch = |f: fn(&EpochStats) -> f64| -> Vec<(f64, f64)> {
            self.epochs.iter().map(|e| (e.epoch as f64, f(e))).collect()
        };
        LinePlot::new(title)
            .x_label("epoch")
            .y_label("loss / accuracy")
            .with_series(Series::new("train loss (MSE)", per_epoch(|e| e.train_loss)))
            .with_series(Series::new("test accuracy", per_epoch(|e| e.test_accuracy)))
    }
}

fn no_progress(_: &Progress) {}

/// Train an MLP on the data owner's table.
pub struct TrainJob<'a> {
    /// The public settings.
    pub settings: &'a TrainSettings,
    /// The rows: `Some` on the data owner (and in-process), `None` elsewhere.
    pub data: Option<&'a TrainData>,
    /// Write each party's file to `{prefix}.party{N}.shares` (or
    /// `{prefix}.clear` in the plaintext domains).
    pub out_prefix: Option<PathBuf>,
    /// Progress callback.
    pub progress: &'a (dyn Fn(&Progress) + Sync),
}

impl<'a> TrainJob<'a> {
    /// A job that saves nothing and reports no progress.
    pub fn new(settings: &'a TrainSettings, data: Option<&'a TrainData>) -> Self {
        TrainJob {
            settings,
            data,
            out_prefix: None,
            progress: &no_progress,
        }
    }
}

/// A model id known to all parties: party 0 draws it, everyone learns it.
fn joint_model_id<R: Ring + Session>(r: &mut R) -> Result<[u8; 16]> {
    let mine = if r.owns(0) {
        Some(crate::ring::prg::Seed::random()?.expose_bytes())
    } else {
        None
    };
    let bytes = r.announce(0, mine.as_ref().map(|b| b.as_slice()))?;
    let found = bytes.len() as u64;
    bytes.as_slice().try_into().map_err(|_| {
        Error::decode(
            "model id",
            Origin::Peer {
                party: 0,
                op: "model id".to_string(),
            },
            DecodeError::WrongLength {
                expected: 16,
                found,
            },
        )
    })
}

impl Job for TrainJob<'_> {
    type Output = TrainOutcome;

    fn run<R: Ring + Session>(&self, r: &mut R) -> Result<TrainOutcome> {
        let settings = self.settings;
        let owner = settings.data_owner;
        let mine = if r.owns(owner) {
            let d = self.data.ok_or(Error::MissingValue {
                party: owner,
                what: "training data",
            })?;
            Some(encode(
                "announcement",
                &Announcement {
                    train_rows: d.x_train.nrows(),
                    test_rows: d.x_test.nrows(),
                    features: d.x_train.ncols(),
                    outputs: d.y_train.ncols(),
                    table: d.table.clone(),
                },
            )?)
        } else {
            None
        };
        let a: Announcement = decode("announcement", owner, &r.announce(owner, mine.as_deref())?)?;
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
        let architecture = settings.model.architecture(a.features, a.outputs);
        let Architecture::Mlp(spec) = &architecture;
        let mut net = nn::mlp(r, spec, settings.seed)?;
        let sgd = settings.sgd;
        let batches = a.train_rows / sgd.batch.max(1);
        let speak = crate::runner::speaks(r);
        let report = |p: Progress| {
            if speak {
                (self.progress)(&p)
            }
        };
        report(Progress::Start {
            batches,
            epochs: sgd.epochs,
            architecture: architecture.clone(),
        });
        let mut epochs = Vec::new();
        for e in 0..sgd.epochs {
            let t0 = std::time::Instant::now();
            let one = MiniBatch { epochs: 1, ..sgd };
            let train_loss = nn::train_minibatch(
                r,
                &mut net,
                (&x, &y),
                one,
                LossReport::Total,
                |_, _, rep| {
                    report(Progress::Batch {
                        epoch: e,
                        batch: rep.batch,
                    });
                    Ok(())
                },
            )?
            .ok_or_else(|| Error::internal("TrainJob", "no epoch loss was computed"))?;
            let test_accuracy = if a.test_rows > 0 {
                nn::accuracy(r, &mut net, &xt, &yt)?
            } else {
                f64::NAN
            };
            let stats = EpochStats {
                epoch: e + 1,
                train_loss,
                test_accuracy,
                seconds: t0.elapsed().as_secs_f64(),
            };
            report(Progress::Epoch(stats.clone()));
            epochs.push(stats);
        }
        let model_id = joint_model_id(r)?;
        let tensors: Vec<_> = net.parameters().iter().map(|t| r.export(t)).collect();
        let (domain, frac_bits) = domain_of(&tensors)
            .map_err(|e| Error::internal("TrainJob: exported tensors", e.to_string()))?;
        let model = SavedModel {
            meta: ModelMeta {
                architecture,
                table: a.table,
                domain,
                frac_bits,
            },
            model_id,
            tensors,
        };
        let revealed = if settings.reveal_model {
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
