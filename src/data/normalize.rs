//! Feature scaling, fitted on training rows or taken from the data owner's
//! declared ranges ([`FeatureRanges`](super::FeatureRanges)), and re-applied
//! unchanged to any other rows: [`Normalizer`] and its [`Scaling`].

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use super::dataset::Dataset;
use crate::error::{Error, Result};
use crate::keyword::keyword_enum;

/// How [`Normalizer`] rescales each feature column.
///
/// `MinMax` and `ZScore` are *fitted*: their parameters are statistics of
/// the training rows (a minimum or a maximum is one row's value), so
/// announcing them discloses data. `Declared` takes its parameters from the
/// ranges the data owner declares public ([`FeatureRanges`](super::FeatureRanges)),
/// which are values of no record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scaling {
    /// `(x - min) / (max - min)` over the training rows' minimum and
    /// maximum: the training data lands in \[0, 1\].
    MinMax,
    /// `(x - mean) / std` (population standard deviation): the training data
    /// gets mean 0 and variance 1.
    ZScore,
    /// `(x - min) / (max - min)` over the declared public range of each
    /// feature: every valid value lands in \[0, 1\], and a value outside
    /// its range is an error. Not fitted: see
    /// [`FeatureRanges::normalizer`](super::FeatureRanges::normalizer).
    Declared,
}

impl Scaling {
    /// Whether the parameters are statistics of the training rows (and
    /// announcing them discloses data).
    pub fn is_fitted(self) -> bool {
        matches!(self, Scaling::MinMax | Scaling::ZScore)
    }
}

keyword_enum!(Scaling, "scaling", {
    MinMax => "min-max",
    ZScore => "z-score" | "standard",
    Declared => "declared-ranges" | "declared" | "ranges",
});

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
    /// matrix, a non-finite value, and for [`Scaling::Declared`], which is
    /// not fitted.
    pub fn fit(scaling: Scaling, x: &Array2<f64>) -> Result<Self> {
        if !scaling.is_fitted() {
            return Err(Error::invalid(
                "scaling",
                "declared ranges are not fitted on data: use FeatureRanges::normalizer",
            ));
        }
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
                Scaling::MinMax | Scaling::Declared => {
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

    /// [`apply`](Self::apply), and for [`Scaling::Declared`] a check that
    /// every value lies in its declared range (its scaled value in
    /// \[0, 1\]): a value outside is an [`Error::BadFile`] naming `source`,
    /// the file line (when known), the column, the value and the range.
    pub fn apply_checked(&self, data: &Dataset, source: &str) -> Result<Dataset> {
        let scaled = self.apply(data)?;
        if self.scaling == Scaling::Declared {
            for ((i, j), v) in scaled.features().indexed_iter() {
                if !(0.0..=1.0).contains(v) {
                    let place = match data.source_lines() {
                        Some(lines) => format!("line {} (data row {})", lines[i], i + 1),
                        None => format!("row {}", i + 1),
                    };
                    let (lo, width) = (self.shift[j], self.divisor[j]);
                    return Err(Error::BadFile {
                        path: source.to_string(),
                        reason: format!(
                            "{place}, column '{}': value {} is outside its declared range [{lo}, {}]",
                            data.feature_names()[j],
                            data.features()[[i, j]],
                            lo + width
                        ),
                    });
                }
            }
        }
        Ok(scaled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

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
    fn declared_scaling_is_not_fitted_and_checks_its_ranges() {
        assert!(Normalizer::fit(Scaling::Declared, &array![[1.0]]).is_err());
        assert!(!Scaling::Declared.is_fitted() && Scaling::ZScore.is_fitted());
        let n =
            Normalizer::from_parts(Scaling::Declared, vec![0.0, -1.0], vec![10.0, 2.0]).unwrap();
        let ok = crate::data::test_csv("a,b,y\n0,-1,0\n10,1,1\n").unwrap();
        let scaled = n.apply_checked(&ok, "t.csv").unwrap();
        assert_eq!(scaled.features(), &array![[0.0, 0.0], [1.0, 1.0]]);
        let out = crate::data::test_csv("a,b,y\n0,-1,0\n5,1.5,1\n").unwrap();
        let e = n.apply_checked(&out, "t.csv").unwrap_err().to_string();
        assert_eq!(
            e,
            "t.csv: line 3 (data row 2), column 'b': value 1.5 is outside its declared range [-1, 1]"
        );
        // fitted scalings are not range-checked: new rows may fall outside
        let m = Normalizer::from_parts(Scaling::MinMax, vec![0.0, -1.0], vec![10.0, 2.0]).unwrap();
        assert!(m.apply_checked(&out, "t.csv").is_ok());
    }

    #[test]
    fn names_parse() {
        assert_eq!("z-score".parse::<Scaling>().unwrap(), Scaling::ZScore);
        assert_eq!("MinMax".parse::<Scaling>().unwrap(), Scaling::MinMax);
        assert!("log".parse::<Scaling>().is_err());
        assert_eq!("ranges".parse::<Scaling>().unwrap(), Scaling::Declared);
        for s in [Scaling::MinMax, Scaling::ZScore, Scaling::Declared] {
            assert_eq!(s.to_string().parse::<Scaling>().unwrap(), s);
        }
    }
}
