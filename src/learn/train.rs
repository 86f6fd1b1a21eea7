//! [`TrainJob`]: a model trained on the data owner's secret rows.

use std::path::PathBuf;

use ndarray::ArrayD;
use serde::{Deserialize, Serialize};

use super::model::{ModelChoice, OptimizerKind, Task};
use super::pipeline::{DataSpec, TrainData};
use super::{DEFAULT_DATA_OWNER, decode, encode, file_for, input};
use crate::dataset_file::{DatasetSchema, DatasetShares};
use crate::domain::Layout;
use crate::domain::{PartyId, Ring, Session, TensorData};
use crate::error::{DecodeError, Error, Origin, Result};
use crate::model_file::{Architecture, ModelMeta, SavedModel, TableMeta, domain_of};
use crate::nn::{
    self, Loss, LossReport, MiniBatch, Network, NetworkSpec, Optimizer, OptimizerState,
    RegressionScores, Schedule,
};
use crate::runner::Job;

/// The public settings of a training run: the same on every party (they
/// are part of the [`SessionDescription`](crate::session::SessionDescription)
/// the parties compare).
#[derive(Debug, Clone, PartialEq)]
pub struct TrainSettings {
    /// The model.
    pub model: ModelChoice,
    /// Epochs, batch size and learning rate.
    pub sgd: MiniBatch,
    /// The loss.
    pub loss: Loss,
    /// The optimiser (with `sgd.lr`).
    pub optimizer: OptimizerKind,
    /// Classification or regression; `None`: detected from the target
    /// column on the data owner ([`Task::detect`]) and announced.
    pub task: Option<Task>,
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
            loss: Loss::MeanSquare,
            optimizer: OptimizerKind::Sgd,
            task: None,
            data: DataSpec::default(),
            seed: 1,
            data_owner: DEFAULT_DATA_OWNER,
            reveal_model: false,
        }
    }
}

impl TrainSettings {
    /// Whether this is the classic path of `privml train`: an MLP, the
    /// squared error and SGD ([`nn::train_minibatch`]), with one score
    /// column for two classes. Anything else trains a [`Network`] with
    /// [`nn::train_network`].
    pub fn classic_mlp(&self) -> bool {
        self.model.is_mlp() && self.loss == Loss::MeanSquare && self.optimizer == OptimizerKind::Sgd
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
        /// Classification or regression.
        task: Task,
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
    /// Mean of the epoch's batch losses: accumulated on shares and opened
    /// once per epoch, one number. On the classic MLP path the mean of
    /// Σ (y − o)² per row; on the network path the loss's own mean per row
    /// ([`Loss::total`]: ½ Σ (y − o)², or the cross-entropy).
    pub train_loss: f64,
    /// Accuracy on the test rows (computed securely; only the count of
    /// correct predictions is opened); NaN for a regression or without test
    /// rows.
    pub test_accuracy: f64,
    /// A regression's test RMSE (in the target's units) and R², computed
    /// securely; only the two sums of squares are opened.
    pub test_regression: Option<RegressionScores>,
    /// Wall time of the epoch.
    pub seconds: f64,
}

impl EpochStats {
    /// The line `privml train` prints after the epoch (and `privml serve`
    /// sends the client that asked for the training): the opened loss and
    /// test score, nothing else.
    pub fn line(&self) -> String {
        let test = match &self.test_regression {
            Some(t) => format!("test RMSE {:.4}, R² {:.4}", t.rmse, t.r2),
            None => format!("test accuracy {:.2}%", 100.0 * self.test_accuracy),
        };
        format!(
            "epoch {}: train loss {:.4}, {test} ({:.1} s)",
            self.epoch, self.train_loss, self.seconds
        )
    }

    /// The final metrics line, for the last epoch.
    pub fn final_line(&self) -> String {
        match &self.test_regression {
            Some(t) => format!("final test RMSE: {:.4}, R²: {:.4}", t.rmse, t.r2),
            None => format!("final test accuracy: {:.2}%", 100.0 * self.test_accuracy),
        }
    }
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
            .with_series(Series::new("train loss", per_epoch(|e| e.train_loss)))
            .with_series(if self.epochs.iter().any(|e| e.test_regression.is_some()) {
                Series::new(
                    "test R²",
                    per_epoch(|e| e.test_regression.map_or(f64::NAN, |t| t.r2)),
                )
            } else {
                Series::new("test accuracy", per_epoch(|e| e.test_accuracy))
            })
    }
}

fn no_progress(_: &Progress) {}

/// Train a model on the data owner's table.
pub struct TrainJob<'a> {
    /// The public settings.
    pub settings: &'a TrainSettings,
    /// The rows: `Some` on the data owner (and in-process), `None` elsewhere.
    pub data: Option<&'a TrainData>,
    /// Instead of a data owner's rows: the parties' dataset share files
    /// ([`crate::dataset_file`]), each party's own (in one process all
    /// three; over the network the party's one). Empty when the data owner
    /// inputs `data`. The rows trained on are chosen on the shares with
    /// the settings' seed ([`row_plan`](super::pipeline::row_plan)), the
    /// scaling is the one the files were shared with.
    pub shared: &'a [DatasetShares],
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
            shared: &[],
            out_prefix: None,
            progress: &no_progress,
        }
    }
}

/// A model id known to all parties: party 0 draws it, everyone learns it.
/// With preprocessing dealt ahead of time for a public description, the id
/// was drawn when the description was written ([`Session::announced_ahead`]).
pub(crate) fn joint_model_id<R: Ring + Session>(r: &mut R) -> Result<[u8; 16]> {
    let mine = if r.owns(0) {
        Some(match r.announced_ahead(0) {
            Some(fixed) => fixed,
            None => fresh_model_id()?.to_vec(),
        })
    } else {
        None
    };
    let bytes = r.announce(0, mine.as_deref())?;
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

/// A fresh model id from the operating system's generator.
fn fresh_model_id() -> Result<[u8; 16]> {
    Ok(crate::ring::prg::Seed::random()?.expose_bytes())
}

impl TrainJob<'_> {
    /// What this job announces, in order, computed by the data owner from
    /// its prepared rows without running the protocol: the table's public
    /// description (rows, features, outputs, the table's metadata), then
    /// party 0's model id, drawn here. It is what a dealer needs to deal
    /// the run's material ahead of time ([`crate::mpc2::prep`]); every
    /// value in it is announced to the other party and a live dealer
    /// anyway. Only for a data owner's rows: dataset share files are the
    /// three-party protocol's, which has no dealer.
    pub fn public_description(&self) -> Result<crate::mpc2::prep::PublicDescription> {
        use crate::mpc2::prep::{Announcement, PublicDescription};
        if !self.shared.is_empty() {
            return Err(Error::invalid(
                "input",
                "a public description is written from the data owner's rows; \
                 dataset share files are the three-party protocol's",
            ));
        }
        let owner = self.settings.data_owner;
        let d = self.data.ok_or(Error::MissingValue {
            party: owner,
            what: "training data",
        })?;
        let from = u8::try_from(owner)
            .ok()
            .filter(|&p| p < 2)
            .ok_or(Error::InvalidParty(owner))?;
        Ok(PublicDescription::new(vec![
            Announcement {
                from,
                bytes: self.owner_announcement(d)?,
            },
            Announcement {
                from: 0,
                bytes: fresh_model_id()?.to_vec(),
            },
        ]))
    }

    /// The data owner's announcement of its rows.
    fn owner_announcement(&self, d: &TrainData) -> Result<Vec<u8>> {
        encode(
            "announcement",
            &Announcement {
                train_rows: d.x_train.nrows(),
                test_rows: d.x_test.nrows(),
                features: d.x_train.ncols(),
                outputs: d.y_train.ncols(),
                table: d.table.clone(),
            },
        )
    }
}

impl Job for TrainJob<'_> {
    type Output = TrainOutcome;

    fn run<R: Ring + Session>(&self, r: &mut R) -> Result<TrainOutcome> {
        let (a, rows) = if self.shared.is_empty() {
            self.owner_rows(r)?
        } else {
            shared_rows(r, self.settings, self.shared)?
        };
        self.train(r, a, rows)
    }
}

impl TrainJob<'_> {
    /// The data owner announces its table's description and inputs its rows.
    fn owner_rows<R: Ring + Session>(&self, r: &mut R) -> Result<(Announcement, Rows<R::Tensor>)> {
        let settings = self.settings;
        let owner = settings.data_owner;
        let mine = if r.owns(owner) {
            let d = self.data.ok_or(Error::MissingValue {
                party: owner,
                what: "training data",
            })?;
            Some(self.owner_announcement(d)?)
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
        Ok((a, Rows { x, y, xt, yt }))
    }

    /// Trains on the rows, saves this party's file.
    fn train<R: Ring + Session>(
        &self,
        r: &mut R,
        a: Announcement,
        rows: Rows<R::Tensor>,
    ) -> Result<TrainOutcome> {
        let settings = self.settings;
        let architecture = settings.model.architecture(a.features, a.outputs)?;
        let speak = crate::runner::speaks(r);
        let report = |p: Progress| {
            if speak {
                (self.progress)(&p)
            }
        };
        let trained = match &architecture {
            Architecture::Mlp(spec)
                if settings.classic_mlp() && a.table.task == Task::Classification =>
            {
                let net = nn::mlp(r, spec, settings.seed)?;
                train_classic(r, settings, net, &rows, &a, &architecture, &report)?
            }
            Architecture::Mlp(spec) => {
                let spec = NetworkSpec::from(spec);
                train_network(r, settings, spec, &rows, &a, &report)?
            }
            Architecture::Network(spec) => {
                train_network(r, settings, spec.clone(), &rows, &a, &report)?
            }
        };
        let Trained {
            epochs,
            architecture,
            tensors,
            optimizer,
            revealed,
        } = trained;
        let model_id = joint_model_id(r)?;
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
            optimizer,
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

/// The rows of the parties' dataset share files: each party loads its
/// own file, party 0 announces its schema (public) and every party checks
/// that its file is of the same sharing, the shares are checked to belong
/// together, then the rows are chosen and split on the shares
/// ([`row_plan`](super::pipeline::row_plan)): all of it local but the
/// announcement and the 32-byte agreement digests.
fn shared_rows<R: Ring + Session>(
    r: &mut R,
    settings: &TrainSettings,
    files: &[DatasetShares],
) -> Result<(Announcement, Rows<R::Tensor>)> {
    let me = r.party().ok_or_else(|| {
        Error::invalid(
            "domain",
            format!(
                "dataset share files are the shared domain's; {} has no shares",
                r.describe()
            ),
        )
    })?;
    let file = files
        .iter()
        .find(|f| usize::from(f.party) == me)
        .ok_or(Error::MissingValue {
            party: me,
            what: "dataset share file",
        })?;
    let mine = if me == 0 {
        Some(encode("dataset schema", &file.schema)?)
    } else {
        None
    };
    let theirs: DatasetSchema = decode("dataset schema", 0, &r.announce(0, mine.as_deref())?)?;
    file.check_same(&theirs, "party 0's")?;
    let schema = &file.schema;
    let table = &schema.table;
    if let Some(task) = settings.task
        && task != table.task
    {
        return Err(Error::invalid(
            "task",
            format!(
                "the job asks for {task}, the dataset was shared for {}",
                table.task
            ),
        ));
    }
    let scaled = table.normalizer.is_some();
    match settings.data.scaling {
        Some(crate::data::Scaling::Declared) if scaled => {}
        None if !scaled => {}
        other => {
            let asked = other.map_or("none".to_string(), |s| s.to_string());
            let shared = if scaled { "ranges" } else { "none" };
            return Err(Error::invalid(
                "scaling",
                format!(
                    "the job asks for scaling {asked}, the dataset was shared with scaling \
                     {shared} (scaling is applied by the data owner when sharing)"
                ),
            ));
        }
    }
    if table.task == Task::Regression && settings.loss != nn::Loss::MeanSquare {
        return Err(Error::invalid(
            "loss",
            format!(
                "a regression trains on the squared error, not {}",
                settings.loss
            ),
        ));
    }
    let x = r.import(&file.x)?;
    let y = r.import(&file.y)?;
    let mut tag = b"dataset ".to_vec();
    tag.extend_from_slice(&schema.dataset_id);
    r.check_agreement(&[&x, &y], &tag)?;
    // The classic MLP path trains two classes on one score column, the
    // label itself: the one-hot's second column.
    let y = if table.task == Task::Classification && table.n_classes == 2 && settings.classic_mlp()
    {
        let t = r.transpose(&y)?;
        let col = r.slice_rows(&t, 1, 2)?;
        r.transpose(&col)?
    } else {
        y
    };
    let outputs = r.shape(&y)[1];
    let (train, test) = super::pipeline::row_plan(schema.rows, &settings.data, settings.seed)?;
    let rows = Rows {
        x: r.gather_rows(&x, &train)?,
        y: r.gather_rows(&y, &train)?,
        xt: r.gather_rows(&x, &test)?,
        yt: r.gather_rows(&y, &test)?,
    };
    let a = Announcement {
        train_rows: train.len(),
        test_rows: test.len(),
        features: table.features.len(),
        outputs,
        table: table.clone(),
    };
    Ok((a, rows))
}

/// Reports each batch of epoch `epoch` as [`Progress::Batch`].
fn batch_progress<'a, R, N>(
    report: &'a dyn Fn(Progress),
    epoch: usize,
) -> impl FnMut(&mut R, &mut N, nn::BatchReport) -> Result<()> + 'a {
    move |_, _, rep| {
        report(Progress::Batch {
            epoch,
            batch: rep.batch,
        });
        Ok(())
    }
}

/// The epoch's opened mean loss (always asked for with
/// [`LossReport::Total`]).
fn epoch_loss(loss: Option<f64>) -> Result<f64> {
    loss.ok_or_else(|| Error::internal("TrainJob", "no epoch loss was computed"))
}

/// The shared training and test rows.
struct Rows<T> {
    x: T,
    y: T,
    xt: T,
    yt: T,
}

/// What either training path leaves.
struct Trained {
    epochs: Vec<EpochStats>,
    architecture: Architecture,
    tensors: Vec<TensorData>,
    optimizer: Option<OptimizerState>,
    revealed: Option<Vec<ArrayD<f64>>>,
}

/// The classic path: an MLP, the squared error, SGD
/// ([`nn::train_minibatch`]); per epoch the loss and the test accuracy.
fn train_classic<R: Ring + Session>(
    r: &mut R,
    settings: &TrainSettings,
    mut net: nn::Sequential<R>,
    rows: &Rows<R::Tensor>,
    a: &Announcement,
    architecture: &Architecture,
    report: &dyn Fn(Progress),
) -> Result<Trained> {
    let sgd = settings.sgd;
    report(Progress::Start {
        batches: a.train_rows / sgd.batch.max(1),
        epochs: sgd.epochs,
        architecture: architecture.clone(),
        task: a.table.task,
    });
    let mut epochs = Vec::new();
    for e in 0..sgd.epochs {
        let t0 = std::time::Instant::now();
        let one = MiniBatch { epochs: 1, ..sgd };
        let train_loss = nn::train_minibatch(
            r,
            &mut net,
            (&rows.x, &rows.y),
            one,
            LossReport::Total,
            batch_progress(report, e),
        )
        .and_then(epoch_loss)?;
        let test_accuracy = if a.test_rows > 0 {
            nn::accuracy(r, &mut net, &rows.xt, &rows.yt)?
        } else {
            f64::NAN
        };
        let stats = EpochStats {
            epoch: e + 1,
            train_loss,
            test_accuracy,
            test_regression: None,
            seconds: t0.elapsed().as_secs_f64(),
        };
        report(Progress::Epoch(stats.clone()));
        epochs.push(stats);
    }
    let tensors = net.parameters().iter().map(|t| r.export(t)).collect();
    let revealed = if settings.reveal_model {
        Some(net.reveal_parameters(r)?)
    } else {
        None
    };
    Ok(Trained {
        epochs,
        architecture: architecture.clone(),
        tensors,
        optimizer: None,
        revealed,
    })
}

/// The network path: any [`NetworkSpec`], loss and optimiser
/// ([`nn::train_network`]); per epoch the loss and the test accuracy, or a
/// regression's test RMSE and R².
fn train_network<R: Ring + Session>(
    r: &mut R,
    settings: &TrainSettings,
    spec: NetworkSpec,
    rows: &Rows<R::Tensor>,
    a: &Announcement,
    report: &dyn Fn(Progress),
) -> Result<Trained> {
    let task = a.table.task;
    if task == Task::Regression && settings.loss != Loss::MeanSquare {
        return Err(Error::invalid(
            "loss",
            format!(
                "a regression trains on the squared error, not {}",
                settings.loss
            ),
        ));
    }
    let mut net = Network::init(r, &spec, settings.seed)?;
    let mut optimizer = Optimizer::new(settings.optimizer.config(settings.sgd.lr)?)?;
    let x = net.rows_as_input(r, &rows.x)?;
    let xt = net.rows_as_input(r, &rows.xt)?;
    let sgd = settings.sgd;
    let architecture = Architecture::Network(spec);
    report(Progress::Start {
        batches: a.train_rows / sgd.batch.max(1),
        epochs: sgd.epochs,
        architecture: architecture.clone(),
        task,
    });
    // RMSE in the target's units: the scaled RMSE times the public divisor.
    let target_unit = a
        .table
        .target_normalizer
        .as_ref()
        .and_then(|n| n.divisor().first().copied())
        .unwrap_or(1.0);
    let mut epochs = Vec::new();
    for e in 0..sgd.epochs {
        let t0 = std::time::Instant::now();
        let schedule = Schedule {
            epochs: 1,
            batch: sgd.batch,
            loss: settings.loss,
            report: LossReport::Total,
        };
        let train_loss = nn::train_network(
            r,
            &mut net,
            &mut optimizer,
            (&x, &rows.y),
            schedule,
            batch_progress(report, e),
        )
        .and_then(epoch_loss)?;
        let (mut test_accuracy, mut test_regression) = (f64::NAN, None);
        if a.test_rows > 0 {
            r.set_label("test");
            let out = net.predict(r, &xt)?;
            match task {
                Task::Classification => {
                    test_accuracy = nn::classification_accuracy(r, &out, &rows.yt)?;
                }
                Task::Regression => {
                    let s = nn::regression_scores(r, &out, &rows.yt)?;
                    test_regression = Some(RegressionScores {
                        rmse: s.rmse * target_unit,
                        r2: s.r2,
                    });
                }
            }
        }
        let stats = EpochStats {
            epoch: e + 1,
            train_loss,
            test_accuracy,
            test_regression,
            seconds: t0.elapsed().as_secs_f64(),
        };
        report(Progress::Epoch(stats.clone()));
        epochs.push(stats);
    }
    let revealed = if settings.reveal_model {
        Some(net.reveal_parameters(r)?)
    } else {
        None
    };
    Ok(Trained {
        epochs,
        architecture,
        tensors: net.export(r),
        optimizer: Some(optimizer.export(r)),
        revealed,
    })
}
