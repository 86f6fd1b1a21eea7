//! [`PredictJob`]: a saved model applied to the data owner's new rows; only
//! the data owner learns the predictions.
//!
//! # What is disclosed
//!
//! | what | to whom |
//! |---|---|
//! | the number of rows (and columns, which must be the model's) | every party (announced by the data owner) |
//! | the model's output for every row (rows × outputs values, exactly rounded: [`Open::open_to`]) | the data owner only, in one opening |
//!
//! The other parties open nothing; the rows stay the data owner's.

use std::path::{Path, PathBuf};

use ndarray::Array2;

use super::model::Task;
use super::{decode, encode, file_for, input};
use crate::domain::{Open, PartyId, Ring, Session, TensorData};
use crate::error::{Error, Result};
use crate::model_file::{Architecture, SavedModel, write_atomic};
use crate::nn;
use crate::runner::Job;

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
    /// New rows, already normalised with the model's normaliser (see
    /// [`PredictRows`](super::PredictRows)): `Some` on the data owner (and
    /// in-process).
    pub data: Option<&'a Array2<f64>>,
    /// Who provides the rows and receives the predictions.
    pub data_owner: PartyId,
}

/// Predictions, on the data owner only.
#[derive(Debug, Clone, PartialEq)]
pub struct Predictions {
    /// Model outputs, one row per input row: class scores, or a
    /// regression's predicted values in the target's units.
    pub scores: Array2<f64>,
    /// Predicted class per row (empty for a regression).
    pub classes: Vec<usize>,
    /// Classification or regression.
    pub task: Task,
}

impl Predictions {
    /// From the model's outputs: one score column is a binary class with a
    /// 0.5 threshold, more columns pick the highest score.
    ///
    /// # Examples
    ///
    /// ```
    /// use ndarray::array;
    /// use privml::learn::Predictions;
    ///
    /// assert_eq!(Predictions::from_scores(array![[0.7], [0.2]]).classes, vec![1, 0]);
    /// assert_eq!(Predictions::from_scores(array![[0.1, 0.8, 0.3]]).classes, vec![1]);
    /// ```
    pub fn from_scores(scores: Array2<f64>) -> Self {
        let classes = scores
            .rows()
            .into_iter()
            .map(|row| {
                if row.len() == 1 {
                    usize::from(row[0] >= 0.5)
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
        Predictions {
            scores,
            classes,
            task: Task::Classification,
        }
    }

    /// A regression's predicted values (one column, in the target's units).
    ///
    /// # Examples
    ///
    /// ```
    /// use ndarray::array;
    /// use privml::learn::Predictions;
    ///
    /// let p = Predictions::values(array![[151.5], [75.0]]);
    /// assert!(p.classes.is_empty());
    /// assert_eq!(p.to_csv(), "row,value\n0,151.5\n1,75\n");
    /// ```
    pub fn values(scores: Array2<f64>) -> Self {
        Predictions {
            scores,
            classes: Vec::new(),
            task: Task::Regression,
        }
    }

    /// How many predicted classes equal `labels` (compared row by row).
    pub fn hits(&self, labels: &[usize]) -> usize {
        self.classes
            .iter()
            .zip(labels)
            .filter(|(p, y)| p == y)
            .count()
    }

    /// The predictions as CSV: `row,class,score0,score1,...` (a
    /// regression: `row,value`), one line per row.
    pub fn to_csv(&self) -> String {
        if self.task == Task::Regression {
            let mut w = String::from("row,value\n");
            for (i, row) in self.scores.rows().into_iter().enumerate() {
                let v: Vec<String> = row.iter().map(f64::to_string).collect();
                w.push_str(&format!("{i},{}\n", v.join(",")));
            }
            return w;
        }
        let mut w = String::from("row,class");
        for k in 0..self.scores.ncols() {
            w.push_str(&format!(",score{k}"));
        }
        w.push('\n');
        for (i, (c, row)) in self.classes.iter().zip(self.scores.rows()).enumerate() {
            w.push_str(&format!("{i},{c}"));
            for v in row {
                w.push_str(&format!(",{v}"));
            }
            w.push('\n');
        }
        w
    }

    /// Writes [`Predictions::to_csv`] to `path`, atomically.
    pub fn write_csv(&self, path: impl AsRef<Path>) -> Result<()> {
        write_atomic(path.as_ref(), self.to_csv().as_bytes())
    }
}

impl PredictJob<'_> {
    /// What this job announces, computed by the data owner from its rows
    /// without running the protocol: the rows' count and width (see
    /// [`TrainJob::public_description`](super::TrainJob::public_description)
    /// for why and what it discloses). The rows' width is checked against
    /// the model at run time, as live.
    pub fn public_description(&self) -> Result<crate::mpc2::prep::PublicDescription> {
        use crate::mpc2::prep::{Announcement, PublicDescription};
        let owner = self.data_owner;
        let d = self.data.ok_or(Error::MissingValue {
            party: owner,
            what: "rows to predict",
        })?;
        let from = u8::try_from(owner)
            .ok()
            .filter(|&p| p < 2)
            .ok_or(Error::InvalidParty(owner))?;
        Ok(PublicDescription::new(vec![Announcement {
            from,
            bytes: row_count(d)?,
        }]))
    }
}

/// The data owner's announcement of its rows: count and width.
fn row_count(d: &Array2<f64>) -> Result<Vec<u8>> {
    encode("row count", &(d.nrows(), d.ncols()))
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
        let params = model
            .tensors
            .iter()
            .map(|t| r.import(t))
            .collect::<Result<Vec<_>>>()?;
        let refs: Vec<&R::Tensor> = params.iter().collect();
        r.check_agreement(&refs, &model.model_id)?;
        let got = predict_loaded(
            r,
            &model.meta.architecture,
            params,
            self.data,
            self.data_owner,
        )?;
        Ok(match got {
            Some(s) if r.owns(self.data_owner) => {
                let scores = s
                    .into_dimensionality::<ndarray::Ix2>()
                    .map_err(|e| Error::internal("PredictJob: model output", e.to_string()))?;
                let table = &model.meta.table;
                Some(match (table.task, &table.target_normalizer) {
                    (Task::Classification, _) => Predictions::from_scores(scores),
                    (Task::Regression, Some(n)) => {
                        Predictions::values(n.inverse_transform(&scores)?)
                    }
                    (Task::Regression, None) => Predictions::values(scores),
                })
            }
            _ => None,
        })
    }
}

/// The part of a prediction after the parameters are loaded and checked:
/// the data owner announces the row count and inputs the rows, the parties
/// evaluate the model and open its outputs to the data owner. Shared by
/// [`PredictJob`] and [`PredictCostJob`], so that the cost predicted is the
/// cost of this very code.
fn predict_loaded<R: Ring + Session>(
    r: &mut R,
    architecture: &Architecture,
    params: Vec<R::Tensor>,
    data: Option<&Array2<f64>>,
    owner: PartyId,
) -> Result<Option<ndarray::ArrayD<f64>>> {
    let mut net = match architecture {
        Architecture::Mlp(spec) => {
            Model::Mlp(nn::mlp_with_parameters(r, spec, params)?, spec.inputs)
        }
        Architecture::Network(spec) => Model::Network(nn::Network::from_tensors(r, spec, params)?),
    };
    let inputs = net.inputs();
    let shape = if r.owns(owner) {
        let d = data.ok_or(Error::MissingValue {
            party: owner,
            what: "rows to predict",
        })?;
        if d.ncols() != inputs {
            return Err(Error::ShapeMismatch {
                op: "predict",
                left: vec![d.nrows(), d.ncols()],
                right: vec![d.nrows(), inputs],
            });
        }
        Some(row_count(d)?)
    } else {
        None
    };
    let (rows, cols): (usize, usize) =
        decode("row count", owner, &r.announce(owner, shape.as_deref())?)?;
    let x = input(r, owner, data, [rows, cols])?;
    r.set_label("predict");
    let out = net.predict(r, &x)?;
    r.open_to(owner, &out)
}

/// The parameter shapes of a saved model of `architecture`, in the order
/// the file stores them.
fn saved_parameter_shapes(architecture: &Architecture) -> Result<Vec<Vec<usize>>> {
    Ok(match architecture {
        Architecture::Mlp(spec) => spec
            .widths()
            .windows(2)
            .flat_map(|w| [vec![w[0], w[1]], vec![1, w[1]]])
            .collect(),
        Architecture::Network(spec) => spec
            .parameter_shapes()?
            .into_iter()
            .map(|(_, _, shape)| shape)
            .collect(),
    })
}

/// What [`PredictJob`] costs on `rows` rows of a model of `architecture`,
/// without the model or the rows: run in a plaintext domain (zero weights,
/// zero rows; the architecture is public), whose counters predict the
/// secure protocol's rounds and bytes from the formulas of
/// [`CostModel`](crate::cost::CostModel). Nothing of the cost depends on
/// the values, so the prediction is that of any model of this architecture
/// and any rows. [`predict_cost`] runs it in the right domain.
pub struct PredictCostJob<'a> {
    /// The model's layers (public: every party's file holds them).
    pub architecture: &'a Architecture,
    /// Rows per prediction.
    pub rows: usize,
    /// Who would provide the rows and receive the predictions.
    pub data_owner: PartyId,
}

impl Job for PredictCostJob<'_> {
    type Output = ();

    fn output_party(&self) -> PartyId {
        self.data_owner
    }

    fn run<R: Ring + Session>(&self, r: &mut R) -> Result<()> {
        let mut params = Vec::new();
        for shape in saved_parameter_shapes(self.architecture)? {
            params.push(r.constant(&ndarray::ArrayD::zeros(ndarray::IxDyn(&shape)))?);
        }
        let refs: Vec<&R::Tensor> = params.iter().collect();
        r.check_agreement(&refs, &[0; 16])?;
        let inputs = match self.architecture {
            Architecture::Mlp(spec) => spec.inputs,
            Architecture::Network(spec) => spec.input.iter().product(),
        };
        let rows = Array2::zeros((self.rows, inputs));
        let data = r.owns(self.data_owner).then_some(&rows);
        predict_loaded(r, self.architecture, params, data, self.data_owner)?;
        Ok(())
    }
}

/// The predicted cost of one [`PredictJob`] of `rows` rows with a model of
/// `architecture` saved in `domain`: [`PredictCostJob`] run in the
/// plaintext domain of the same ring, fraction bits and protocol. Its
/// rounds, bytes per party and comparisons are those the secure run
/// measures (`tests/suite/onnx_cost.rs` checks them against an in-process run).
///
/// # Examples
///
/// ```
/// use privml::learn::predict_cost;
/// use privml::model_file::Architecture;
/// use privml::nn::NetworkSpec;
/// use privml::runner::DomainSpec;
///
/// let arch = Architecture::Network(NetworkSpec::parse("dense:4,relu,dense:2", "3")?);
/// let one = predict_cost(&arch, 1, 1, &DomainSpec::default())?;
/// let ten = predict_cost(&arch, 10, 1, &DomainSpec::default())?;
/// assert_eq!(one.rounds, ten.rounds); // rows are batched, not sequential
/// assert!(ten.max_bytes_per_party() > one.max_bytes_per_party());
/// assert_eq!(ten.comparisons, 10 * one.comparisons);
/// # Ok::<(), privml::Error>(())
/// ```
pub fn predict_cost(
    architecture: &Architecture,
    rows: usize,
    data_owner: PartyId,
    domain: &crate::runner::DomainSpec,
) -> Result<crate::cost::Cost> {
    if rows == 0 {
        return Err(Error::invalid(
            "rows",
            "a prediction needs at least one row",
        ));
    }
    let kind = crate::runner::DomainKind::new(crate::runner::Domain::Fixed, domain.ring);
    let cfg = crate::SharedConfig {
        frac_bits: domain.frac_bits,
        protocol: domain.protocol,
        ..Default::default()
    };
    let job = PredictCostJob {
        architecture,
        rows,
        data_owner,
    };
    Ok(crate::runner::run_local(kind, &cfg, &job)?.1)
}

/// A loaded model of either kind.
enum Model<R: Ring> {
    /// The MLP and its features per row.
    Mlp(nn::Sequential<R>, usize),
    Network(nn::Network<R>),
}

impl<R: Ring> Model<R> {
    /// Features per row.
    fn inputs(&self) -> usize {
        match self {
            Model::Mlp(_, inputs) => *inputs,
            Model::Network(net) => net.spec().input.iter().product(),
        }
    }

    /// The outputs for rows `[n, features]`.
    fn predict(&mut self, r: &mut R, x: &R::Tensor) -> Result<R::Tensor> {
        match self {
            Model::Mlp(net, _) => net.predict(r, x),
            Model::Network(net) => {
                let x = net.rows_as_input(r, x)?;
                net.predict(r, &x)
            }
        }
    }
}

/// A saved model applied to rows that arrive as shares (a client's query to
/// the serving parties, [`crate::service`]): every party holds its own
/// model file and its own shares of the rows, and ends with its shares of
/// the model's output, exactly rounded to the output precision as an
/// opening would be ([`Open::round_exact`]), for the client to combine.
/// Nothing is opened to any party; the parties learn the row count only.
pub struct SharedPredictJob<'a> {
    /// This party's model file (in one process: any party's; the job loads
    /// each party's from `models`).
    pub models: &'a [SavedModel],
    /// Each party's shares of the rows (rows × the model's inputs).
    pub rows: &'a [TensorData],
}

impl Job for SharedPredictJob<'_> {
    type Output = TensorData;

    fn run<R: Ring + Session>(&self, r: &mut R) -> Result<TensorData> {
        let me = r.party().ok_or_else(|| {
            Error::invalid("domain", "a query on shares runs on the shared domain")
        })?;
        let model = self
            .models
            .iter()
            .find(|m| {
                matches!(m.tensors.first(), Some(TensorData::Shares { party, .. }) if usize::from(*party) == me)
            })
            .ok_or(Error::MissingValue {
                party: me,
                what: "model file",
            })?;
        let rows = self
            .rows
            .iter()
            .find(|t| matches!(t, TensorData::Shares { party, .. } if usize::from(*party) == me))
            .ok_or(Error::MissingValue {
                party: me,
                what: "rows to predict",
            })?;
        let params = model
            .tensors
            .iter()
            .map(|t| r.import(t))
            .collect::<Result<Vec<_>>>()?;
        let x = r.import(rows)?;
        let mut refs: Vec<&R::Tensor> = params.iter().collect();
        refs.push(&x);
        r.check_agreement(&refs, &model.model_id)?;
        let mut net = match &model.meta.architecture {
            Architecture::Mlp(spec) => {
                Model::Mlp(nn::mlp_with_parameters(r, spec, params)?, spec.inputs)
            }
            Architecture::Network(spec) => {
                Model::Network(nn::Network::from_tensors(r, spec, params)?)
            }
        };
        let shape = r.shape(&x).to_vec();
        if shape.len() != 2 || shape[1] != net.inputs() {
            return Err(Error::ShapeMismatch {
                op: "predict",
                left: shape,
                right: vec![0, net.inputs()],
            });
        }
        r.set_label("predict");
        let out = net.predict(r, &x)?;
        let bits = r.output_drop_bits();
        let rounded = r.round_exact(&out, bits)?;
        Ok(r.export(&rounded))
    }
}
