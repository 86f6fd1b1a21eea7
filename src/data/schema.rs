//! The data owner's public schema: [`FeatureRanges`].

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use super::normalize::{Normalizer, Scaling};
use crate::error::{Error, FileOp, Result};

/// The declared range of one feature.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureRange {
    /// The feature (column) name.
    pub feature: String,
    /// Smallest value the feature can take.
    pub min: f64,
    /// Largest value the feature can take (greater than `min`).
    pub max: f64,
}

/// The data owner's public schema: a declared value range for every
/// feature, the default source of the normalisation.
///
/// Scaling fitted on the training rows announces statistics of the rows to
/// every party — and a minimum or a maximum is one person's value. A
/// declared range is not a statistic: it is what the column *can* hold, by
/// the definition of the measurement (a pixel is 0–255, a percentage
/// 0–100, an age 0–130), written down before any data is shared, so
/// announcing it discloses nothing about any record. Min-max scaling over
/// declared ranges ([`Scaling::Declared`](super::Scaling::Declared)) maps
/// every valid value into \[0, 1\], and a value outside its declared range
/// is an error naming the file, the line and the column.
///
/// # File format
///
/// A CSV file with the header `feature,min,max` and one line per feature
/// (any order; every feature of the table exactly once), `#` starting a
/// comment line:
///
/// ```text
/// # ranges of the measurements, from the instrument's specification
/// feature,min,max
/// age,0,130
/// systolic,50,250
/// ```
///
/// # Examples
///
/// ```
/// use privml::data::{FeatureRanges, Scaling};
///
/// # fn main() -> privml::Result<()> {
/// let csv = "feature,min,max\nheight,0.5,2.5\nweight,0,300\n";
/// let ranges = FeatureRanges::read(csv.as_bytes(), "ranges.csv")?;
/// let names = vec!["weight".to_string(), "height".to_string()];
/// let norm = ranges.normalizer(&names)?;
/// assert_eq!(norm.scaling(), Scaling::Declared);
/// assert_eq!(norm.shift(), &[0.0, 0.5]);
/// assert_eq!(norm.divisor(), &[300.0, 2.0]);
/// // every feature must be declared
/// let more = vec!["height".to_string(), "age".to_string()];
/// assert!(ranges.normalizer(&more).unwrap_err().to_string().contains("'age'"));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureRanges {
    source: String,
    ranges: Vec<FeatureRange>,
}

fn bad(source: &str, reason: impl Into<String>) -> Error {
    Error::BadFile {
        path: source.to_string(),
        reason: reason.into(),
    }
}

impl FeatureRanges {
    /// Ranges from a list; `source` names them in errors. Fails on an empty
    /// or repeated name and on a range that is not finite with min < max.
    pub fn new(source: &str, ranges: Vec<FeatureRange>) -> Result<Self> {
        let mut seen = HashMap::new();
        for (i, r) in ranges.iter().enumerate() {
            if r.feature.trim().is_empty() {
                return Err(bad(source, format!("range {} has no feature name", i + 1)));
            }
            if let Some(first) = seen.insert(r.feature.as_str(), i) {
                return Err(bad(
                    source,
                    format!(
                        "feature '{}' is declared twice (ranges {} and {})",
                        r.feature,
                        first + 1,
                        i + 1
                    ),
                ));
            }
            if !(r.min.is_finite() && r.max.is_finite() && r.min < r.max) {
                return Err(bad(
                    source,
                    format!(
                        "feature '{}': the range [{}, {}] is not finite with min < max",
                        r.feature, r.min, r.max
                    ),
                ));
            }
        }
        Ok(FeatureRanges {
            source: source.to_string(),
            ranges,
        })
    }

    /// The same range [min, max] for every feature in `features` (a bundled
    /// image set: every pixel is 0–255).
    pub fn uniform(source: &str, features: &[String], min: f64, max: f64) -> Result<Self> {
        let ranges = features
            .iter()
            .map(|f| FeatureRange {
                feature: f.clone(),
                min,
                max,
            })
            .collect();
        Self::new(source, ranges)
    }

    /// Loads a ranges file (see [`FeatureRanges`] for the format). A file that cannot be opened is [`Error::FileIo`]; bad
    /// content is [`Error::BadFile`] naming the file and the line.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let file = File::open(path).map_err(|e| Error::file(FileOp::Read, path, e))?;
        Self::read(file, &path.display().to_string())
    }

    /// [`load`](Self::load) from any reader; `source` names it in errors.
    pub fn read<R: Read>(reader: R, source: &str) -> Result<Self> {
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(true)
            .comment(Some(b'#'))
            .trim(csv::Trim::All)
            .from_reader(reader);
        let header = rdr
            .headers()
            .map_err(|e| bad(source, format!("cannot read the header: {e}")))?
            .clone();
        let names: Vec<String> = header.iter().map(str::to_ascii_lowercase).collect();
        if names != ["feature", "min", "max"] {
            return Err(bad(
                source,
                format!(
                    "the header must be 'feature,min,max', not '{}'",
                    header.iter().collect::<Vec<_>>().join(",")
                ),
            ));
        }
        let mut ranges = Vec::new();
        for record in rdr.records() {
            let record = record.map_err(|e| bad(source, e.to_string()))?;
            let line = record.position().map_or(0, |p| p.line());
            let cell = |i: usize, what: &str| -> Result<f64> {
                let text = record.get(i).unwrap_or_default();
                text.parse::<f64>().map_err(|_| {
                    bad(
                        source,
                        format!("line {line}: {what} '{text}' is not a number"),
                    )
                })
            };
            ranges.push(FeatureRange {
                feature: record.get(0).unwrap_or_default().to_string(),
                min: cell(1, "min")?,
                max: cell(2, "max")?,
            });
        }
        if ranges.is_empty() {
            return Err(bad(source, "no feature is declared"));
        }
        Self::new(source, ranges)
    }

    /// Where the ranges come from (a file name, or a bundled set's).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The declared ranges, in declaration order.
    pub fn ranges(&self) -> &[FeatureRange] {
        &self.ranges
    }

    /// The range of each feature of `features`, in that order. Fails, naming
    /// them, if a feature has no declared range or a declared feature is not
    /// in the table (a misspelt name).
    pub fn for_features(&self, features: &[String]) -> Result<Vec<(f64, f64)>> {
        let by_name: HashMap<&str, &FeatureRange> = self
            .ranges
            .iter()
            .map(|r| (r.feature.as_str(), r))
            .collect();
        let missing: Vec<&str> = features
            .iter()
            .map(String::as_str)
            .filter(|f| !by_name.contains_key(f))
            .collect();
        if !missing.is_empty() {
            return Err(bad(
                &self.source,
                format!(
                    "no range declared for {} of the table's features: {}",
                    missing.len(),
                    quoted(&missing)
                ),
            ));
        }
        let extra: Vec<&str> = self
            .ranges
            .iter()
            .map(|r| r.feature.as_str())
            .filter(|f| !features.iter().any(|g| g == f))
            .collect();
        if !extra.is_empty() {
            return Err(bad(
                &self.source,
                format!("declared features not in the table: {}", quoted(&extra)),
            ));
        }
        Ok(features
            .iter()
            .filter_map(|f| by_name.get(f.as_str()).map(|r| (r.min, r.max)))
            .collect())
    }

    /// Min-max scaling over the declared ranges of `features` (in that
    /// order): `(x - min) / (max - min)`, a [`Normalizer`] with
    /// [`Scaling::Declared`].
    pub fn normalizer(&self, features: &[String]) -> Result<Normalizer> {
        let (shift, divisor) = self
            .for_features(features)?
            .into_iter()
            .map(|(min, max)| (min, max - min))
            .unzip();
        Normalizer::from_parts(Scaling::Declared, shift, divisor)
    }
}

/// `'a', 'b', 'c'` (at most ten, then how many more).
fn quoted(names: &[&str]) -> String {
    let mut s: Vec<String> = names.iter().take(10).map(|n| format!("'{n}'")).collect();
    if names.len() > 10 {
        s.push(format!("and {} more", names.len() - 10));
    }
    s.join(", ")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failing test is meant to panic")]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn files_parse_with_comments_spaces_and_any_order() {
        let csv = "# schema\nFeature, Min, Max\n b , -1, 1\na,0,10\n\n";
        let r = FeatureRanges::read(csv.as_bytes(), "r.csv").unwrap();
        assert_eq!(
            r.for_features(&names(&["a", "b"])).unwrap(),
            vec![(0.0, 10.0), (-1.0, 1.0)]
        );
        assert_eq!(r.source(), "r.csv");
    }

    #[test]
    fn bad_files_are_errors_naming_the_problem() {
        for (csv, want) in [
            ("name,lo,hi\na,0,1\n", "header must be 'feature,min,max'"),
            (
                "feature,min,max\na,0,x\n",
                "line 2: max 'x' is not a number",
            ),
            ("feature,min,max\na,1,1\n", "min < max"),
            ("feature,min,max\na,0,inf\n", "not finite"),
            ("feature,min,max\na,0,1\na,0,2\n", "declared twice"),
            ("feature,min,max\n,0,1\n", "no feature name"),
            ("feature,min,max\n", "no feature is declared"),
            ("feature,min,max\na,0\n", "r.csv"),
        ] {
            let e = FeatureRanges::read(csv.as_bytes(), "r.csv").unwrap_err();
            assert!(e.to_string().contains(want), "{csv:?}: {e}");
        }
        let r = FeatureRanges::read("feature,min,max\na,0,1\nz,0,1\n".as_bytes(), "r.csv").unwrap();
        let e = r.for_features(&names(&["a", "b"])).unwrap_err().to_string();
        assert!(e.contains("'b'") && e.contains("no range declared"), "{e}");
        let e = r.for_features(&names(&["a"])).unwrap_err().to_string();
        assert!(e.contains("'z'") && e.contains("not in the table"), "{e}");
        assert!(matches!(
            FeatureRanges::load("/nonexistent/ranges.csv"),
            Err(Error::FileIo { .. })
        ));
    }
}
