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
//! - [`FeatureRanges`] is the data owner's public schema: a declared range
//!   per feature (a CSV `feature,min,max`), the default source of the
//!   scaling, because it discloses no record.
//! - [`Normalizer`] rescales features (min-max to \[0, 1\] over the
//!   declared ranges; or min-max or z-score *fit on the training set only*,
//!   which discloses statistics of the rows) and is recorded (serde), so the
//!   exact same transform can be saved with a model and re-applied to test
//!   data and at inference time.
//! - [`Dataset::check_fixed_range`] checks, after normalisation, that every
//!   value fits the chosen [`FixedPoint`](crate::FixedPoint) format.
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

mod bundled;
mod csv_file;
mod dataset;
mod normalize;
pub mod npy;
mod rows;
mod schema;

pub use bundled::{Bundled, DATA_DIR_ENV, bundled, data_dir, load_bundled};
pub use csv_file::{load_csv, read_csv};
pub use dataset::{Dataset, MAX_INFERRED_CLASSES, check_range, one_hot, train_test_split};
pub use normalize::{Normalizer, Scaling};
pub use rows::read_rows;
pub use schema::{FeatureRange, FeatureRanges};

/// A CSV written inline in a unit test, with target column `y`.
#[cfg(test)]
fn test_csv(csv: &str) -> crate::Result<Dataset> {
    read_csv(csv.as_bytes(), "t.csv", "y")
}
