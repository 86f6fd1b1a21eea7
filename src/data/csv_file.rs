//! Reading CSV tables (plain or gzip-compressed) into a [`Dataset`], with
//! errors that name the file, the line and the column.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use ndarray::{Array1, Array2};

use super::dataset::Dataset;
use crate::error::{Error, FileOp, Result};

/// An error about the content of the CSV `source`.
fn bad(source: &str, reason: impl Into<String>) -> Error {
    Error::BadFile {
        path: source.to_string(),
        reason: reason.into(),
    }
}

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
/// file, the line (see the [module docs](super#line-and-row-numbers)) and the
/// column. Empty lines are skipped. A file that cannot be opened is an
/// [`Error::FileIo`] naming it.
///
/// The number of classes is inferred from the target values (see
/// [`MAX_INFERRED_CLASSES`](super::MAX_INFERRED_CLASSES)).
pub fn load_csv(path: impl AsRef<Path>, target_column: &str) -> Result<Dataset> {
    let path = path.as_ref();
    let file = File::open(path).map_err(|e| Error::file(FileOp::Read, path, e))?;
    read_csv(file, &path.display().to_string(), target_column)
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
        .map_err(|e| Error::internal("parse_csv", format!("feature matrix shape: {e}")))?;
    let mut feature_names = header;
    let target_name = feature_names.remove(t);
    Dataset::new(features, Array1::from(targets), feature_names, target_name)?
        .with_source_lines(lines)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::test_csv as ds;
    use ndarray::array;

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
        for (csv, expected) in [
            ("", "header row"),
            ("a,,y\n1,2,3\n", "column 2 of 3 has no name"),
            ("a,a,y\n1,2,3\n", "'a' appears twice (columns 1 and 2)"),
            ("a,y\n", "no data rows"),
            ("y\n1\n", "no features"),
            ("1,2,3\n4,5,6\n", "looks like data"),
        ] {
            let e = ds(csv).unwrap_err().to_string();
            assert!(e.contains(expected), "{csv:?}: {e}");
        }
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
}
