//! NumPy `.npy` files (format versions 1 to 3): little-endian `f4`, `f8`,
//! `i4`, `i8` and `u1` arrays in C order, read as `f64`.
//!
//! The header is bounded ([`MAX_HEADER`]) and the data's length is checked
//! against the declared shape before anything is allocated, so a damaged or
//! hostile file is [`Error::Decode`], never a panic or an allocation larger
//! than the file.

use std::path::Path;

use ndarray::{ArrayD, IxDyn};

use crate::error::{DecodeError, Error, FileOp, Origin, Result};

/// The longest header accepted (NumPy writes under 200 bytes).
pub const MAX_HEADER: usize = 1 << 16;

const MAGIC: &[u8; 6] = b"\x93NUMPY";
const WHAT: &str = "npy file";

/// The value of `key` in the header's dictionary text (up to the next
/// top-level comma or brace).
fn field<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let at = header.find(&format!("'{key}'"))? + key.len() + 2;
    let rest = header[at..].trim_start().strip_prefix(':')?.trim_start();
    let end = if rest.starts_with('(') {
        rest.find(')')? + 1
    } else {
        rest.find([',', '}'])?
    };
    Some(rest[..end].trim())
}

/// Decodes a `.npy` file's bytes.
///
/// # Examples
///
/// ```
/// use privml::data::npy;
/// use privml::Origin;
///
/// let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
/// let header = "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }";
/// bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
/// bytes.extend_from_slice(header.as_bytes());
/// for v in [1.5f64, -2.0] { bytes.extend_from_slice(&v.to_le_bytes()); }
/// let a = npy::decode(&bytes, Origin::Bytes)?;
/// assert_eq!(a.shape(), &[2]);
/// assert_eq!(a[[1]], -2.0);
/// assert!(npy::decode(&bytes[..bytes.len() - 1], Origin::Bytes).is_err());
/// # Ok::<(), privml::Error>(())
/// ```
pub fn decode(bytes: &[u8], origin: Origin) -> Result<ArrayD<f64>> {
    let bad = |error: DecodeError| Error::decode(WHAT, origin.clone(), error);
    let field_err =
        |field: &'static str, reason: String| bad(DecodeError::BadField { field, reason });
    let rest = bytes.strip_prefix(MAGIC).ok_or_else(|| {
        bad(DecodeError::BadMagic {
            expected: "NumPy .npy file",
        })
    })?;
    let truncated = |needed: usize| {
        bad(DecodeError::Truncated {
            needed: needed as u64,
            available: bytes.len() as u64,
        })
    };
    let (major, rest) = match rest {
        [major, _minor, rest @ ..] => (*major, rest),
        _ => return Err(truncated(MAGIC.len() + 2)),
    };
    let (header_len, rest) = match (major, rest) {
        (1, [a, b, rest @ ..]) => (usize::from(u16::from_le_bytes([*a, *b])), rest),
        (2 | 3, [a, b, c, d, rest @ ..]) => {
            let n = u32::from_le_bytes([*a, *b, *c, *d]);
            (usize::try_from(n).unwrap_or(usize::MAX), rest)
        }
        (1..=3, _) => return Err(truncated(MAGIC.len() + 6)),
        (v, _) => {
            return Err(bad(DecodeError::UnsupportedVersion {
                found: v.into(),
                supported: 3,
            }));
        }
    };
    if header_len > MAX_HEADER {
        return Err(bad(DecodeError::TooLarge {
            declared: header_len as u64,
            max: MAX_HEADER as u64,
        }));
    }
    if rest.len() < header_len {
        return Err(truncated(bytes.len() - rest.len() + header_len));
    }
    let (header, data) = rest.split_at(header_len);
    let header = std::str::from_utf8(header).map_err(|e| field_err("header", e.to_string()))?;
    let descr = field(header, "descr")
        .ok_or_else(|| field_err("descr", "missing".to_string()))?
        .trim_matches(['\'', '"']);
    if field(header, "fortran_order") != Some("False") {
        return Err(field_err(
            "fortran_order",
            "only C-order arrays are read (save with np.ascontiguousarray)".to_string(),
        ));
    }
    let shape_text =
        field(header, "shape").ok_or_else(|| field_err("shape", "missing".to_string()))?;
    let shape: Vec<usize> = shape_text
        .trim_matches(['(', ')'])
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<usize>()
                .map_err(|_| field_err("shape", format!("'{shape_text}' is not a shape")))
        })
        .collect::<Result<_>>()?;
    let width = match descr {
        "<f4" | "<i4" => 4,
        "<f8" | "<i8" => 8,
        "|u1" | "<u1" | "|b1" => 1,
        other => {
            return Err(field_err(
                "descr",
                format!("element type '{other}' is not read (little-endian f4, f8, i4, i8, u1)"),
            ));
        }
    };
    let count = shape
        .iter()
        .try_fold(1usize, |a, d| a.checked_mul(*d))
        .ok_or_else(|| field_err("shape", format!("{shape:?} overflows")))?;
    let needed = count
        .checked_mul(width)
        .ok_or_else(|| field_err("shape", format!("{shape:?} overflows")))?;
    if data.len() != needed {
        return Err(bad(DecodeError::WrongLength {
            expected: needed as u64,
            found: data.len() as u64,
        }));
    }
    let values: Vec<f64> = match descr {
        "<f4" => data
            .chunks_exact(4)
            .map(|c| f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]])))
            .collect(),
        "<i4" => data
            .chunks_exact(4)
            .map(|c| f64::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]])))
            .collect(),
        "<f8" | "<i8" => data
            .chunks_exact(8)
            .map(|c| {
                let mut b = [0u8; 8];
                b.copy_from_slice(c);
                if descr == "<f8" {
                    f64::from_le_bytes(b)
                } else {
                    i64::from_le_bytes(b) as f64
                }
            })
            .collect(),
        _ => data.iter().map(|b| f64::from(*b)).collect(),
    };
    ArrayD::from_shape_vec(IxDyn(&shape), values)
        .map_err(|e| Error::internal("npy::decode", e.to_string()))
}

/// Reads a `.npy` file (see [`decode`]).
pub fn read(path: &Path) -> Result<ArrayD<f64>> {
    let bytes = std::fs::read(path).map_err(|e| Error::file(FileOp::Read, path, e))?;
    decode(&bytes, Origin::File(path.to_path_buf()))
}
