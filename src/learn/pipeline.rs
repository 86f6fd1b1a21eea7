//! The data owner's side of a job, before anything is shared: where the
//! table comes from, how it becomes training data, and how new rows are
//! made ready for a saved model.
//!
//! Training data ([`TrainData::prepare`]): load the table, shuffle it
//! (seeded), keep the first `max_rows`, split off the test rows, scale both
//! parts, check every value fits the fixed-point format (an error names the
//! row, the file line and the column), and turn the labels into one target
//! column per model output (one-hot for more than two classes). Prediction
//! rows ([`PredictRows::prepare`]): load, check the columns are the model's,
//! and apply the model's own normaliser.
//!
//! # Scaling, and what it discloses
//!
//! The scaling's parameters are announced to every party and saved in every
//! party's model file (prediction needs them), so where they come from
//! matters ([`DataSpec::scaling`]):
//!
//! | scaling | parameters | discloses |
//! |---|---|---|
//! | [`Scaling::Declared`] (the default) | the data owner's declared public ranges ([`FeatureRanges`]): a bundled set's own (MNIST pixels 0–255, `data/breast_cancer.ranges.csv`), or a CSV's `--feature-ranges FILE` | nothing about any row; a value outside its range is an error |
//! | none | — | nothing |
//! | [`Scaling::MinMax`], [`Scaling::ZScore`] | fitted on the training rows | every feature's training minimum and range (or mean and standard deviation): values of single rows. Only with [`DataSpec::disclose_feature_stats`] |

use std::path::{Path, PathBuf};

use ndarray::{Array2, Axis};

use super::model::Task;
use super::train::TrainSettings;
use crate::data::{self, Bundled, Dataset, FeatureRanges, Normalizer, Scaling};
use crate::error::{Error, Result};
use crate::model_file::{ModelMeta, TableMeta};
use crate::nn::Loss;
use crate::runner::DomainSpec;

/// The target column of a CSV file when none is named.
pub const DEFAULT_TARGET: &str = "target";

/// Where the data owner's table comes from (private to the data owner:
/// never part of what the parties compare).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataSource {
    /// A data set shipped with the crate (its own target column).
    Bundled(Bundled),
    /// A CSV file with a header row (.csv or .csv.gz).
    Csv {
        /// The file.
        path: PathBuf,
        /// The target column.
        target: String,
    },
}

impl DataSource {
    /// What a user typed: a bundled set's name (`mnist`, `breast_cancer`)
    /// unless a file of that name exists, else a CSV file whose target column
    /// is `target` (default [`DEFAULT_TARGET`]; a bundled set keeps its own).
    ///
    /// # Examples
    ///
    /// ```
    /// use privml::data::Bundled;
    /// use privml::learn::DataSource;
    ///
    /// assert_eq!(DataSource::from_arg("mnist", None), DataSource::Bundled(Bundled::Mnist5k));
    /// assert_eq!(
    ///     DataSource::from_arg("rows.csv", Some("label")),
    ///     DataSource::Csv { path: "rows.csv".into(), target: "label".into() }
    /// );
    /// ```
    pub fn from_arg(spec: &str, target: Option<&str>) -> Self {
        match spec.parse::<Bundled>() {
            Ok(b) if !Path::new(spec).exists() => DataSource::Bundled(b),
            _ => DataSource::Csv {
                path: PathBuf::from(spec),
                target: target.unwrap_or(DEFAULT_TARGET).to_string(),
            },
        }
    }

    /// Loads the table.
    pub fn load(&self) -> Result<Dataset> {
        match self {
            DataSource::Bundled(b) => b.load(),
            DataSource::Csv { path, target } => data::load_csv(path, target),
        }
    }

    /// A name for messages.
    pub fn name(&self) -> String {
        match self {
            DataSource::Bundled(b) => b.name().to_string(),
            DataSource::Csv { path, .. } => path.display().to_string(),
        }
    }

    /// The public ranges declared with the table for `features`: a bundled
    /// set's own ([`Bundled::declared_ranges`]); `None` for a CSV file, whose
    /// owner declares them in a file ([`FeatureRanges::load`]).
    pub fn declared_ranges(&self, features: &[String]) -> Result<Option<FeatureRanges>> {
        match self {
            DataSource::Bundled(b) => b.declared_ranges(features).map(Some),
            DataSource::Csv { .. } => Ok(None),
        }
    }
}

/// How the data owner turns its table into training data. Public: every
/// party must agree on it, since it fixes the number of rows trained on and
/// what the announcement discloses.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DataSpec {
    /// Fraction of rows held out for testing (strictly between 0 and 1).
    pub test_fraction: f64,
    /// Keep only the first N rows after shuffling.
    pub max_rows: Option<usize>,
    /// Feature scaling (see the [module documentation](self)): over the
    /// declared public ranges ([`Scaling::Declared`], the default), fitted
    /// on the training rows (only with `disclose_feature_stats`), or `None`
    /// to use the values as they are.
    pub scaling: Option<Scaling>,
    /// Consent to a fitted scaling, whose parameters — every feature's
    /// training minimum and range, or mean and standard deviation — are
    /// announced to every party and saved in every model file: values of
    /// single rows.
    pub disclose_feature_stats: bool,
}

impl Default for DataSpec {
    /// 20% test rows, all rows, min-max scaling over the declared ranges.
    fn default() -> Self {
        DataSpec {
            test_fraction: 0.2,
            max_rows: None,
            scaling: Some(Scaling::Declared),
            disclose_feature_stats: false,
        }
    }
}

impl DataSpec {
    /// Fails for a fitted scaling without `disclose_feature_stats`: by
    /// default nothing derived from single rows is disclosed.
    ///
    /// # Examples
    ///
    /// ```
    /// use privml::data::Scaling;
    /// use privml::learn::DataSpec;
    ///
    /// assert!(DataSpec::default().check().is_ok());
    /// let fitted = DataSpec { scaling: Some(Scaling::MinMax), ..DataSpec::default() };
    /// assert!(fitted.check().unwrap_err().to_string().contains("disclose"));
    /// assert!(DataSpec { disclose_feature_stats: true, ..fitted }.check().is_ok());
    /// ```
    pub fn check(&self) -> Result<()> {
        match self.scaling {
            Some(s) if s.is_fitted() && !self.disclose_feature_stats => Err(Error::invalid(
                "scaling",
                format!(
                    "{s} scaling fitted on the training rows announces every feature's \
                     training statistics (a minimum or maximum is one row's value) to every \
                     party; declare public ranges instead (scaling 'ranges', \
                     --feature-ranges FILE), or consent with --disclose-feature-stats"
                ),
            )),
            _ => Ok(()),
        }
    }
}

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
    /// The public description of the table (announced to the other parties
    /// and saved with the model).
    pub table: TableMeta,
    /// Why the task was chosen, when the settings named none (for a message
    /// to the data owner).
    pub task_note: Option<String>,
}

impl TrainData {
    /// Loads `source` and prepares it as `settings.data` says, with
    /// `settings.seed` for the shuffle and the split; every value must fit
    /// the fixed-point format of `domain` (also for `Plain`, whose results
    /// are meant to compare with the secure run's). [`Scaling::Declared`]
    /// uses the source's own declared ranges (a bundled set's); for a CSV
    /// file use [`prepare_with_ranges`](Self::prepare_with_ranges).
    pub fn prepare(
        source: &DataSource,
        settings: &TrainSettings,
        domain: &DomainSpec,
    ) -> Result<TrainData> {
        Self::prepare_with_ranges(source, None, settings, domain)
    }

    /// [`prepare`](Self::prepare) with the data owner's declared `ranges`
    /// (which take the place of a bundled set's own).
    pub fn prepare_with_ranges(
        source: &DataSource,
        ranges: Option<&FeatureRanges>,
        settings: &TrainSettings,
        domain: &DomainSpec,
    ) -> Result<TrainData> {
        settings.data.check()?;
        let ds = source.load()?;
        let own;
        let ranges = match ranges {
            Some(r) => Some(r),
            None if settings.data.scaling == Some(Scaling::Declared) => {
                own = source.declared_ranges(ds.feature_names())?;
                own.as_ref()
            }
            None => None,
        };
        Self::from_dataset(ds, &source.name(), ranges, settings, domain)
    }

    /// [`TrainData::prepare`] on a table already loaded from `source` (a
    /// name for errors), with the declared `ranges` that
    /// [`Scaling::Declared`] needs.
    pub fn from_dataset(
        ds: Dataset,
        source: &str,
        ranges: Option<&FeatureRanges>,
        settings: &TrainSettings,
        domain: &DomainSpec,
    ) -> Result<TrainData> {
        let spec = &settings.data;
        spec.check()?;
        let mut ds = ds.shuffled(settings.seed);
        if let Some(n) = spec.max_rows {
            ds = ds.head(n);
        }
        let (task, task_note) = match settings.task {
            Some(t) => (t, None),
            None => {
                let (t, why) = Task::detect(&ds);
                (t, Some(why))
            }
        };
        let classes = match task {
            Task::Classification => ds.n_classes().ok_or_else(|| {
                Error::invalid(
                    "target",
                    format!(
                        "the target column '{}' must hold class labels 0, 1, ... for \
                         classification (or use --task regression)",
                        ds.target_name()
                    ),
                )
            })?,
            Task::Regression => {
                if settings.loss != Loss::MeanSquare {
                    return Err(Error::invalid(
                        "loss",
                        format!(
                            "a regression trains on the squared error, not {}",
                            settings.loss
                        ),
                    ));
                }
                ds = ds.with_n_classes(None)?;
                0
            }
        };
        let (train, test) = data::train_test_split(&ds, spec.test_fraction, settings.seed)?;
        let target_name = ds.target_name().to_string();
        // A regression's target is scaled like the features: over its
        // declared range, or fitted on the training rows (with consent).
        let mut columns = ds.feature_names().to_vec();
        if task == Task::Regression {
            columns.push(target_name.clone());
        }
        let (normalizer, target_normalizer) = match spec.scaling {
            Some(Scaling::Declared) => declared_normalizers(ranges, &columns, task, source)?,
            Some(fitted) => {
                let target = match task {
                    Task::Regression => Some(Normalizer::fit(
                        fitted,
                        &train.targets().clone().insert_axis(Axis(1)),
                    )?),
                    Task::Classification => None,
                };
                (Some(Normalizer::fit(fitted, train.features())?), target)
            }
            None => (None, None),
        };
        let (train, test) = match &normalizer {
            Some(n) => (
                n.apply_checked(&train, source)?,
                n.apply_checked(&test, source)?,
            ),
            None => (train, test),
        };
        let (min, max) = domain.value_range()?;
        train.check_range(min, max)?;
        test.check_range(min, max)?;
        let one_score = classes <= 2 && settings.classic_mlp();
        let targets = |d: &Dataset| -> Result<Array2<f64>> {
            let column = || d.targets().clone().insert_axis(Axis(1));
            match (task, &target_normalizer) {
                (Task::Regression, Some(n)) => scaled_targets(n, column(), &target_name, source),
                (Task::Regression, None) => Ok(column()),
                (Task::Classification, _) if one_score => Ok(column()),
                (Task::Classification, _) => d.one_hot_targets(),
            }
        };
        let (y_train, y_test) = (targets(&train)?, targets(&test)?);
        for y in [&y_train, &y_test] {
            data::check_range(y, min, max)?;
        }
        Ok(TrainData {
            y_train,
            y_test,
            x_train: train.features().clone(),
            x_test: test.features().clone(),
            table: TableMeta {
                target: target_name,
                features: ds.feature_names().to_vec(),
                n_classes: classes,
                normalizer,
                task,
                target_normalizer,
            },
            task_note,
        })
    }
}

/// The normalisers of the features and (for a regression) of the target
/// over the declared `ranges` of `columns` (the features, then the target
/// for a regression).
fn declared_normalizers(
    ranges: Option<&FeatureRanges>,
    columns: &[String],
    task: Task,
    source: &str,
) -> Result<(Option<Normalizer>, Option<Normalizer>)> {
    let ranges = ranges.ok_or_else(|| {
        Error::invalid(
            "feature ranges",
            format!(
                "{source} has no declared feature ranges: declare each feature's \
                 public range in a CSV file 'feature,min,max' (--feature-ranges \
                 FILE), or use --scaling none"
            ),
        )
    })?;
    let all = ranges.normalizer(columns)?;
    let n = match task {
        Task::Regression => columns.len().saturating_sub(1),
        Task::Classification => columns.len(),
    };
    let part = |cols: std::ops::Range<usize>| {
        Normalizer::from_parts(
            Scaling::Declared,
            all.shift()[cols.clone()].to_vec(),
            all.divisor()[cols].to_vec(),
        )
    };
    let target = match task {
        Task::Regression => Some(part(n..n + 1)?),
        Task::Classification => None,
    };
    Ok((Some(part(0..n)?), target))
}

/// Which rows of a table of `n` rows a training run uses, in order: the
/// rows [`TrainData::prepare`] trains and tests on (shuffled with `seed`,
/// the first `spec.max_rows` kept, then split with `seed` as
/// [`data::train_test_split`] does), as indices into the table. Jobs on
/// shared tables apply it to the shares ([`crate::dataset_file`]), so a
/// table shared whole trains on the same rows as the table in the clear.
///
/// # Examples
///
/// ```
/// use privml::learn::{DataSpec, pipeline::row_plan};
///
/// let (train, test) = row_plan(10, &DataSpec::default(), 1)?;
/// assert_eq!((train.len(), test.len()), (8, 2));
/// let mut all: Vec<usize> = train.iter().chain(&test).copied().collect();
/// all.sort();
/// assert_eq!(all, (0..10).collect::<Vec<_>>());
/// # Ok::<(), privml::Error>(())
/// ```
pub fn row_plan(n: usize, spec: &DataSpec, seed: u64) -> Result<(Vec<usize>, Vec<usize>)> {
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use rand::seq::SliceRandom;
    let test_fraction = spec.test_fraction;
    let mut kept: Vec<usize> = (0..n).collect();
    kept.shuffle(&mut StdRng::seed_from_u64(seed));
    if let Some(m) = spec.max_rows {
        kept.truncate(m);
    }
    if !(test_fraction > 0.0 && test_fraction < 1.0) {
        return Err(Error::invalid(
            "test_fraction",
            format!("{test_fraction} is not strictly between 0 and 1"),
        ));
    }
    let m = kept.len();
    let n_test = (m as f64 * test_fraction).round() as usize;
    if n_test == 0 || n_test >= m {
        return Err(Error::invalid(
            "test_fraction",
            format!(
                "{test_fraction} of {m} samples gives {n_test} test and {} training samples; both need at least one",
                m.saturating_sub(n_test)
            ),
        ));
    }
    let mut idx: Vec<usize> = (0..m).collect();
    idx.shuffle(&mut StdRng::seed_from_u64(seed));
    let (test, train) = idx.split_at(n_test);
    Ok((
        train.iter().map(|&i| kept[i]).collect(),
        test.iter().map(|&i| kept[i]).collect(),
    ))
}

/// A whole table prepared row by row for sharing ([`crate::dataset_file`]):
/// scaled over its declared ranges (or not at all), targets one column per
/// class (one-hot) or a regression's scaled target, every value checked to
/// fit the fixed-point format. Nothing that mixes rows happens here: the
/// shuffle, the row limit and the split happen on the shares, with the
/// training run's public seed ([`row_plan`]), so a fitted scaling (which
/// needs the training rows' statistics) is refused.
#[derive(Debug, Clone)]
pub struct TableData {
    /// The features, in file order.
    pub x: Array2<f64>,
    /// The targets, in file order.
    pub y: Array2<f64>,
    /// The public description of the table.
    pub table: TableMeta,
    /// Why the task was chosen, when none was named.
    pub task_note: Option<String>,
}

impl TableData {
    /// Loads `source` and prepares it: `scaling` is `Some(Scaling::Declared)`
    /// (over `ranges`, or a bundled set's own) or `None`; `task` as in
    /// [`TrainSettings::task`].
    pub fn prepare(
        source: &DataSource,
        ranges: Option<&FeatureRanges>,
        task: Option<Task>,
        scaling: Option<Scaling>,
        domain: &DomainSpec,
    ) -> Result<TableData> {
        let ds = source.load()?;
        let name = source.name();
        if let Some(s) = scaling.filter(|s| s.is_fitted()) {
            return Err(Error::invalid(
                "scaling",
                format!(
                    "{s} scaling is fitted on the training rows, which are chosen on the \
                     shares later; a shared table is scaled over its declared ranges \
                     (--feature-ranges FILE) or not at all (--scaling none)"
                ),
            ));
        }
        let (task, task_note) = match task {
            Some(t) => (t, None),
            None => {
                let (t, why) = Task::detect(&ds);
                (t, Some(why))
            }
        };
        let (ds, classes) = match task {
            Task::Classification => match ds.n_classes() {
                Some(k) if k >= 2 => (ds, k),
                _ => {
                    return Err(Error::invalid(
                        "target",
                        format!(
                            "the target column '{}' must hold class labels 0, 1, ... (at \
                             least two classes) for classification (or use --task regression)",
                            ds.target_name()
                        ),
                    ));
                }
            },
            Task::Regression => (ds.with_n_classes(None)?, 0),
        };
        let target_name = ds.target_name().to_string();
        let mut columns = ds.feature_names().to_vec();
        if task == Task::Regression {
            columns.push(target_name.clone());
        }
        let (normalizer, target_normalizer) = match scaling {
            Some(_) => {
                let own;
                let ranges = match ranges {
                    Some(r) => Some(r),
                    None => {
                        own = source.declared_ranges(ds.feature_names())?;
                        own.as_ref()
                    }
                };
                declared_normalizers(ranges, &columns, task, &name)?
            }
            None => (None, None),
        };
        let ds = match &normalizer {
            Some(n) => n.apply_checked(&ds, &name)?,
            None => ds,
        };
        let (min, max) = domain.value_range()?;
        ds.check_range(min, max)?;
        let y = match (task, &target_normalizer) {
            (Task::Regression, Some(n)) => scaled_targets(
                n,
                ds.targets().clone().insert_axis(Axis(1)),
                &target_name,
                &name,
            )?,
            (Task::Regression, None) => ds.targets().clone().insert_axis(Axis(1)),
            (Task::Classification, _) => ds.one_hot_targets()?,
        };
        data::check_range(&y, min, max)?;
        Ok(TableData {
            x: ds.features().clone(),
            y,
            table: TableMeta {
                target: target_name,
                features: ds.feature_names().to_vec(),
                n_classes: classes,
                normalizer,
                task,
                target_normalizer,
            },
            task_note,
        })
    }
}

/// A regression's target column scaled with `n`; with declared ranges a
/// target outside its range is an error naming the row, as for features.
fn scaled_targets(
    n: &Normalizer,
    column: Array2<f64>,
    target: &str,
    source: &str,
) -> Result<Array2<f64>> {
    let scaled = n.transform(&column)?;
    if n.scaling() == Scaling::Declared
        && let Some(row) = scaled
            .iter()
            .position(|v| !(-1e-12..=1.0 + 1e-12).contains(v))
    {
        return Err(Error::invalid(
            "target",
            format!(
                "{source}: target '{target}' = {} (row {row}) is outside its declared range",
                column[[row, 0]]
            ),
        ));
    }
    Ok(scaled)
}

/// New rows for a saved model, on the data owner.
#[derive(Debug, Clone, PartialEq)]
pub struct PredictRows {
    /// The features, normalised with the model's normaliser.
    pub x: Array2<f64>,
    /// The true labels, if the table has the model's target column with
    /// class labels (to report accuracy to the data owner).
    pub labels: Option<Vec<usize>>,
}

impl PredictRows {
    /// Loads `source` (whose columns must be the model's features, in the
    /// same order) and normalises it as the model's training data was (with
    /// declared ranges, a value outside its range is an error, as in
    /// training).
    pub fn prepare(source: &DataSource, meta: &ModelMeta) -> Result<PredictRows> {
        let ds = source.load()?;
        let features = &meta.table.features;
        if ds.feature_names() != features.as_slice() {
            let first = ds
                .feature_names()
                .iter()
                .zip(features)
                .position(|(a, b)| a != b)
                .map(|j| {
                    format!(
                        "; column {} is '{}' here, '{}' in the model",
                        j + 1,
                        ds.feature_names()[j],
                        features[j]
                    )
                })
                .unwrap_or_default();
            return Err(Error::BadFile {
                path: source.name(),
                reason: format!(
                    "the columns do not match the model's features ({} columns here, {} in the model{first})",
                    ds.n_features(),
                    features.len()
                ),
            });
        }
        let ds = match &meta.table.normalizer {
            Some(n) => n.apply_checked(&ds, &source.name())?,
            None => ds,
        };
        Ok(PredictRows {
            labels: ds.labels().ok(),
            x: ds.features().clone(),
        })
    }
}
