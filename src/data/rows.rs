//! Rows for a network's input: a `.npy` array or a numeric CSV file, each
//! row flattened in the input's C order.

use std::path::Path;

use ndarray::Array2;

use super::npy;
use crate::error::{Error, FileOp, Result};

/// Reads the rows of `path` for a model whose input (one example) has the
/// shape `example`: a `.npy` file shaped `[rows, ...example]` or flat
/// `[rows, product]` (a single example `example` is one row), or a CSV of
/// numbers with `product` columns (its first line a header unless
/// `no_header`). A count that does not fit is [`Error::ShapeMismatch`].
///
/// # Examples
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let p = dir.path().join("rows.csv");
/// std::fs::write(&p, "a,b,c,d\n1,2,3,4\n5,6,7,8\n").unwrap();
/// let rows = privml::data::read_rows(&p, &[1, 2, 2], false)?;
/// assert_eq!(rows.dim(), (2, 4));
/// assert!(privml::data::read_rows(&p, &[3], false).is_err());
/// # Ok::<(), privml::Error>(())
/// ```
pub fn read_rows(path: &Path, example: &[usize], no_header: bool) -> Result<Array2<f64>> {
    let width: usize = example.iter().product();
    let is_npy = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("npy"));
    let (rows, values) = if is_npy {
        let a = npy::read(path)?;
        let shape = a.shape().to_vec();
        let rows = if shape == example {
            1
        } else if shape.len() == example.len() + 1 && shape[1..] == *example
            || shape.len() == 2 && shape[1] == width
        {
            shape[0]
        } else {
            let mut want = vec![shape.first().copied().unwrap_or(0)];
            want.extend(example);
            return Err(Error::ShapeMismatch {
                op: "input rows (.npy)",
                left: shape,
                right: want,
            });
        };
        (rows, a.iter().copied().collect::<Vec<f64>>())
    } else {
        let file = std::fs::File::open(path).map_err(|e| Error::file(FileOp::Read, path, e))?;
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(!no_header)
            .from_reader(file);
        let bad = |line: u64, reason: String| Error::BadFile {
            path: path.display().to_string(),
            reason: format!("line {line}: {reason}"),
        };
        let mut values = Vec::new();
        let mut rows = 0;
        for record in reader.records() {
            let record = record.map_err(|e| bad(0, e.to_string()))?;
            let line = record.position().map_or(0, |p| p.line());
            if record.len() != width {
                return Err(Error::ShapeMismatch {
                    op: "input rows (CSV columns)",
                    left: vec![rows + 1, record.len()],
                    right: vec![rows + 1, width],
                });
            }
            for field in record.iter() {
                let v: f64 = field
                    .trim()
                    .parse()
                    .map_err(|_| bad(line, format!("'{field}' is not a number")))?;
                values.push(v);
            }
            rows += 1;
        }
        (rows, values)
    };
    Array2::from_shape_vec((rows, width), values)
        .map_err(|e| Error::internal("read_rows", e.to_string()))
}
