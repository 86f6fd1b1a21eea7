//! Byte layout of encrypted updates and sums, and the checksum used for
//! transmission errors and key ids.
//!
//! The layout is documented in the [module docs](super#wire-format).
//!
//! The checksum is a 64-bit FNV-1a over 8-byte words: it catches truncation
//! and transmission errors, not tampering (anyone can recompute it; see the
//! threat model in the [module docs](super)).

use std::sync::Arc;

use fhe::bfv::Ciphertext;
use fhe_math::rq::{Poly, Representation, traits::TryConvertFrom};
use ndarray::Array2;

use super::params::{CT_BYTES, DEGREE, HeParams, POLY_BYTES, Q0, WIRE_LEVEL, bfv};
use crate::error::{DecodeError, Error, Origin, Result};

/// Bytes before the first ciphertext.
pub(crate) const HEADER_LEN: usize = 48;
const MAGIC: [u8; 4] = *b"PMHE";
const VERSION: u8 = 1;
const MASK: u64 = (1u64 << 62) - 1;

/// What a byte string claims to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Update = 1,
    Sum = 2,
}

/// The decoded header.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Header {
    pub kind: Kind,
    pub params: HeParams,
    pub key_id: u64,
    pub len: usize,
    pub count: u32,
}

/// 64-bit FNV-1a over little-endian 8-byte words (the last word zero-padded),
/// finished with the byte length so that padding cannot collide.
pub(crate) fn checksum(parts: &[&[u8]]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h = OFFSET;
    let mut total = 0u64;
    for part in parts {
        total += part.len() as u64;
        let mut chunks = part.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            h = (h ^ u64::from_le_bytes(w)).wrapping_mul(PRIME);
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            h = (h ^ u64::from_le_bytes(w)).wrapping_mul(PRIME);
        }
    }
    (h ^ total).wrapping_mul(PRIME)
}

/// Serialises a header and its ciphertexts (all at the wire level).
pub(crate) fn encode(h: &Header, cts: &[Ciphertext]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + cts.len() * CT_BYTES);
    out.extend_from_slice(&MAGIC);
    out.push(VERSION);
    out.push(h.kind as u8);
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&h.params.frac_bits().to_le_bytes());
    out.extend_from_slice(&h.params.max_clients().to_le_bytes());
    out.extend_from_slice(&h.key_id.to_le_bytes());
    out.extend_from_slice(&(h.len as u64).to_le_bytes());
    out.extend_from_slice(&h.count.to_le_bytes());
    out.extend_from_slice(&(cts.len() as u32).to_le_bytes());
    out.extend_from_slice(&[0u8; 8]); // checksum, filled below
    for ct in cts {
        for poly in ct.iter() {
            pack(poly.coefficients().iter().copied(), &mut out);
        }
    }
    let sum = checksum(&[&out[..40], &out[HEADER_LEN..]]);
    out[40..48].copy_from_slice(&sum.to_le_bytes());
    out
}

fn le_u32(b: &[u8], at: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(w)
}

fn le_u64(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(w)
}

/// Parses and fully validates bytes of the expected `kind` (and, when
/// given, of `expected_len` values). Never panics: every length is checked
/// before it is used. Bad bytes are [`Error::Decode`] naming `what`.
pub(crate) fn decode(
    bytes: &[u8],
    kind: Kind,
    what: &'static str,
    expected_len: Option<usize>,
) -> Result<(Header, Vec<Ciphertext>)> {
    let (header, body) = decode_header(bytes, kind, expected_len)
        .map_err(|e| Error::decode(what, Origin::Bytes, e))?;
    let par = bfv()?;
    let ctx = par
        .context_at_level(WIRE_LEVEL)
        .map_err(|e| Error::HeBackend {
            op: "decode",
            reason: e.to_string(),
        })?;
    let mut cts = Vec::with_capacity(body.len() / CT_BYTES);
    for (i, ct_bytes) in body.chunks_exact(CT_BYTES).enumerate() {
        let mut polys = Vec::with_capacity(2);
        for (j, poly_bytes) in ct_bytes.chunks_exact(POLY_BYTES).enumerate() {
            let coeffs = unpack(poly_bytes).ok_or_else(|| {
                Error::decode(
                    what,
                    Origin::Bytes,
                    DecodeError::BadField {
                        field: "coefficient",
                        reason: format!(
                            "ciphertext {i}, polynomial {j}: a coefficient is not reduced mod q0"
                        ),
                    },
                )
            })?;
            polys.push(poly_from(coeffs, ctx)?);
        }
        cts.push(Ciphertext::new(polys, par).map_err(|e| Error::HeBackend {
            op: "decode",
            reason: e.to_string(),
        })?);
    }
    Ok((header, cts))
}

/// The name of a kind byte, for errors.
fn kind_name(byte: u8) -> String {
    match byte {
        1 => "an encrypted update".into(),
        2 => "an encrypted sum".into(),
        b => format!("unknown kind {b}"),
    }
}

/// Checks the header (the number of values against `expected_len` when
/// given), the body's length and the checksum; returns the header and the
/// body (whole ciphertexts).
fn decode_header(
    bytes: &[u8],
    kind: Kind,
    expected_len: Option<usize>,
) -> std::result::Result<(Header, &[u8]), DecodeError> {
    let bad = |field: &'static str, reason: String| DecodeError::BadField { field, reason };
    if bytes.len() < HEADER_LEN {
        return Err(DecodeError::Truncated {
            needed: HEADER_LEN as u64,
            available: bytes.len() as u64,
        });
    }
    if bytes[..4] != MAGIC {
        return Err(DecodeError::BadMagic {
            expected: "privml HE object",
        });
    }
    if bytes[4] != VERSION {
        return Err(DecodeError::UnsupportedVersion {
            found: bytes[4].into(),
            supported: VERSION.into(),
        });
    }
    if bytes[5] != kind as u8 {
        return Err(DecodeError::WrongKind {
            expected: kind_name(kind as u8),
            found: kind_name(bytes[5]),
        });
    }
    if bytes[6..8] != [0, 0] {
        return Err(bad("reserved", "bytes 6 and 7 are not zero".into()));
    }
    let params = HeParams::new(le_u32(bytes, 8), le_u32(bytes, 12))
        .map_err(|e| bad("parameters", e.to_string()))?;
    let key_id = le_u64(bytes, 16);
    let len = le_u64(bytes, 24);
    let count = le_u32(bytes, 32);
    let n_ct = le_u32(bytes, 36) as usize;
    let stored_sum = le_u64(bytes, 40);

    let len = usize::try_from(len).map_err(|_| DecodeError::TooLarge {
        declared: len,
        max: usize::MAX as u64,
    })?;
    if let Some(expected) = expected_len.filter(|&e| e != len) {
        return Err(bad(
            "number of values",
            format!("{len} values, where {expected} are expected"),
        ));
    }
    if len == 0 && kind == Kind::Update {
        return Err(bad("number of values", "an update of zero values".into()));
    }
    match kind {
        Kind::Update if count != 1 => {
            return Err(bad(
                "count",
                format!("an update must count 1 client, not {count}"),
            ));
        }
        Kind::Sum if count > params.max_clients() => {
            return Err(bad(
                "count",
                format!(
                    "it counts {count} updates, above max_clients = {}",
                    params.max_clients()
                ),
            ));
        }
        _ => {}
    }
    let want_ct = if count == 0 { 0 } else { len.div_ceil(DEGREE) };
    if n_ct != want_ct {
        return Err(bad(
            "number of ciphertexts",
            format!("{n_ct} ciphertexts for {len} values and {count} updates (expected {want_ct})"),
        ));
    }
    // n_ct <= u32::MAX and CT_BYTES < 2^16: the product fits a u64.
    let body = &bytes[HEADER_LEN..];
    let want_body = n_ct as u64 * CT_BYTES as u64;
    match (body.len() as u64).cmp(&want_body) {
        std::cmp::Ordering::Less => {
            return Err(DecodeError::Truncated {
                needed: HEADER_LEN as u64 + want_body,
                available: bytes.len() as u64,
            });
        }
        std::cmp::Ordering::Greater => {
            return Err(DecodeError::TrailingBytes {
                extra: body.len() as u64 - want_body,
            });
        }
        std::cmp::Ordering::Equal => {}
    }
    if checksum(&[&bytes[..40], body]) != stored_sum {
        return Err(DecodeError::Checksum);
    }
    Ok((
        Header {
            kind,
            params,
            key_id,
            len,
            count,
        },
        body,
    ))
}

fn poly_from(coeffs: Vec<u64>, ctx: &Arc<fhe_math::rq::Context>) -> Result<Poly> {
    let backend = |e: String| Error::HeBackend {
        op: "decode",
        reason: e,
    };
    let arr = Array2::from_shape_vec((1, DEGREE), coeffs)
        .map_err(|e| Error::internal("he::wire::poly_from", e.to_string()))?;
    Poly::try_convert_from(arr, ctx, false, Representation::Ntt).map_err(|e| backend(e.to_string()))
}

/// Appends 62-bit little-endian packed coefficients (coefficient i occupies
/// bits 62·i .. 62·i + 62 of the polynomial's bytes).
fn pack(coeffs: impl Iterator<Item = u64>, out: &mut Vec<u8>) {
    let start = out.len();
    // 16 spare bytes so that every coefficient is written with one
    // unaligned 128-bit read-modify-write; cut off afterwards.
    out.resize(start + POLY_BYTES + 16, 0);
    let buf = &mut out[start..];
    for (i, c) in coeffs.take(DEGREE).enumerate() {
        debug_assert!(c < Q0);
        let bit = i * 62;
        let at = bit / 8;
        let mut w = [0u8; 16];
        w.copy_from_slice(&buf[at..at + 16]);
        let v = u128::from_le_bytes(w) | (u128::from(c & MASK) << (bit % 8));
        buf[at..at + 16].copy_from_slice(&v.to_le_bytes());
    }
    out.truncate(start + POLY_BYTES);
}

/// Reads one polynomial's coefficients; `None` if one is not below q0.
/// `bytes` is exactly [`POLY_BYTES`] long (4096 · 62 bits, no padding).
fn unpack(bytes: &[u8]) -> Option<Vec<u64>> {
    if bytes.len() != POLY_BYTES {
        return None;
    }
    let mut padded = [0u8; POLY_BYTES + 16];
    padded[..POLY_BYTES].copy_from_slice(bytes);
    let mut out = Vec::with_capacity(DEGREE);
    for i in 0..DEGREE {
        let bit = i * 62;
        let at = bit / 8;
        let mut w = [0u8; 16];
        w.copy_from_slice(&padded[at..at + 16]);
        let c = ((u128::from_le_bytes(w) >> (bit % 8)) as u64) & MASK;
        if c >= Q0 {
            return None;
        }
        out.push(c);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_round_trip() {
        let coeffs: Vec<u64> = (0..DEGREE as u64)
            .map(|i| (i.wrapping_mul(0x9E37_79B9_7F4A_7C15)) % Q0)
            .collect();
        let mut out = Vec::new();
        pack(coeffs.iter().copied(), &mut out);
        assert_eq!(out.len(), POLY_BYTES);
        assert_eq!(unpack(&out), Some(coeffs));
    }

    #[test]
    fn unpack_rejects_unreduced() {
        let mut out = Vec::new();
        pack(std::iter::repeat_n(0, DEGREE), &mut out);
        // Set the first coefficient to 2^62 - 1 >= q0.
        for b in out.iter_mut().take(7) {
            *b = 0xff;
        }
        out[7] |= 0x3f;
        assert_eq!(unpack(&out), None);
    }

    #[test]
    fn checksum_sees_every_word() {
        let a = vec![0u8; 64];
        let base = checksum(&[&a]);
        for i in 0..64 {
            let mut b = a.clone();
            b[i] ^= 1;
            assert_ne!(checksum(&[&b]), base, "byte {i}");
        }
        assert_ne!(checksum(&[&a[..63]]), base);
    }
}
