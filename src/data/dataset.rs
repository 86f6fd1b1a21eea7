//! The [`Dataset`] (features, targets, names, source lines), its row
//! operations, the range check, one-hot targets and the train/test split.

use ndarray::{Array1, Array2, Axis};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use crate::error::{Error, Result};
use crate::fixed::FixedPoint;
use crate::ring::RingElement;

/// Targets that are all non-negative integers below this bound are taken as
/// class labels 0..=max, and the [`Dataset`] gets `n_classes = max + 1`.
/// Anything else (fractions, negatives, larger values) is a regression target.
pub const MAX_INFERRED_CLASSES: usize = 1024;

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

    /// Records the file line of each sample (see [`Dataset::source_lines`]).
    pub(super) fn with_source_lines(mut self, lines: Vec<usize>) -> Result<Self> {
        if lines.len() != self.n_samples() {
            return Err(Error::internal(
                "Dataset::with_source_lines",
                format!("{} lines for {} samples", lines.len(), self.n_samples()),
            ));
        }
        self.lines = Some(lines);
        Ok(self)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::test_csv as ds;
    use ndarray::array;

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
    fn split_rejects_degenerate_fractions() {
        let d = ds("a,y\n1,0\n2,1\n3,0\n").unwrap();
        for f in [0.0, 1.0, -0.5, f64::NAN, 0.1, 0.9] {
            assert!(train_test_split(&d, f, 0).is_err(), "{f}");
        }
        assert!(train_test_split(&d, 0.5, 0).is_ok());
    }
}
