//! The envelope of every client → server message (see the
//! [module docs](super#wire-format)).

use crate::error::{DecodeError, Rejection};

/// Magic bytes of a submission.
pub(crate) const MAGIC: [u8; 4] = *b"PMFL";
/// Format version.
pub(crate) const VERSION: u8 = 1;
/// Bytes of the header, checksum included.
pub const HEADER_LEN: usize = 40;
/// Bytes of a PRG seed that stands for a whole share.
pub(crate) const SEED_LEN: usize = 16;

/// What the body holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Two replicated shares for one aggregation server.
    Shares = 1,
    /// A BFV-encrypted update (the `he` wire format).
    Encrypted = 2,
    /// The update in the clear (the insecure reference).
    Plain = 3,
}

impl Kind {
    fn from_u8(b: u8) -> Option<Self> {
        match b {
            1 => Some(Kind::Shares),
            2 => Some(Kind::Encrypted),
            3 => Some(Kind::Plain),
            _ => None,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Shares => "replicated shares",
            Kind::Encrypted => "encrypted update",
            Kind::Plain => "plaintext update",
        }
    }
}

/// Flag: the first share of a `Shares` body is a 16-byte seed.
pub(crate) const FLAG_FIRST_SEED: u8 = 1;
/// Flag: the second share of a `Shares` body is a 16-byte seed.
pub(crate) const FLAG_SECOND_SEED: u8 = 2;

/// The decoded header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    pub kind: Kind,
    /// Receiving server (0..3) for shares, 0 otherwise.
    pub server: u8,
    /// `FLAG_*` bits for shares, 0 otherwise.
    pub flags: u8,
    pub round: u32,
    pub client: u32,
    /// The client's weight (its sample count, or 1).
    pub weight: u32,
    /// Fraction bits of the fixed-point encoding (shares), 0 otherwise.
    pub frac_bits: u32,
    /// Number of values of the update.
    pub len: u64,
}

impl Header {
    /// The header of `meta`'s update of `len` values in `kind`, for server 0
    /// and without flags (shares set both).
    pub(crate) fn of_update(
        kind: Kind,
        meta: super::UpdateMeta,
        frac_bits: u32,
        len: usize,
    ) -> Self {
        Header {
            kind,
            server: 0,
            flags: 0,
            round: meta.round,
            client: meta.client.0,
            weight: meta.weight,
            frac_bits,
            len: len as u64,
        }
    }

    fn bytes(&self) -> [u8; 32] {
        let mut h = [0u8; 32];
        h[0..4].copy_from_slice(&MAGIC);
        h[4] = VERSION;
        h[5] = self.kind as u8;
        h[6] = self.server;
        h[7] = self.flags;
        h[8..12].copy_from_slice(&self.round.to_le_bytes());
        h[12..16].copy_from_slice(&self.client.to_le_bytes());
        h[16..20].copy_from_slice(&self.weight.to_le_bytes());
        h[20..24].copy_from_slice(&self.frac_bits.to_le_bytes());
        h[24..32].copy_from_slice(&self.len.to_le_bytes());
        h
    }
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

fn fnv_word(h: u64, w: u64) -> u64 {
    (h ^ w).wrapping_mul(FNV_PRIME)
}

fn le_word(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a[..b.len()].copy_from_slice(b);
    u64::from_le_bytes(a)
}

/// The checksum of a message: FNV-1a over 8-byte little-endian words. The
/// body runs in four interleaved lanes (word i into lane i mod 4, so the
/// lanes' multiplications overlap); then one chain takes the 32 header
/// bytes, the four lanes and the body length. A short tail is zero-padded.
///
/// Each step is a bijection of the state for a fixed word and gives
/// different states for different words, so changing any one word of the
/// header or the body always changes the result. It catches transmission
/// errors, not tampering.
pub(crate) fn checksum(head: &[u8; 32], body: &[u8]) -> u64 {
    let mut lanes = [FNV_OFFSET, FNV_OFFSET ^ 1, FNV_OFFSET ^ 2, FNV_OFFSET ^ 3];
    let mut blocks = body.chunks_exact(32);
    for b in &mut blocks {
        for (lane, w) in lanes.iter_mut().zip(b.chunks_exact(8)) {
            *lane = fnv_word(*lane, le_word(w));
        }
    }
    for (lane, w) in lanes.iter_mut().zip(blocks.remainder().chunks(8)) {
        *lane = fnv_word(*lane, le_word(w));
    }
    let mut h = FNV_OFFSET;
    for w in head.chunks_exact(8) {
        h = fnv_word(h, le_word(w));
    }
    for lane in lanes {
        h = fnv_word(h, lane);
    }
    fnv_word(h, body.len() as u64)
}

/// A message: header, checksum, then the body written by `fill` (which
/// should write `body_len` bytes, the capacity reserved).
pub(crate) fn encode_with(h: &Header, body_len: usize, fill: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let head = h.bytes();
    let mut out = Vec::with_capacity(HEADER_LEN + body_len);
    out.extend_from_slice(&head);
    out.extend_from_slice(&[0u8; 8]);
    fill(&mut out);
    let sum = checksum(&head, &out[HEADER_LEN..]);
    out[32..40].copy_from_slice(&sum.to_le_bytes());
    out
}

/// A message whose body is `parts` one after the other.
pub(crate) fn encode(h: &Header, parts: &[&[u8]]) -> Vec<u8> {
    let len = parts.iter().map(|p| p.len()).sum();
    encode_with(h, len, |out| {
        for p in parts {
            out.extend_from_slice(p);
        }
    })
}

/// Little-endian bytes of `n` ring elements, appended to `out`.
pub(crate) fn put_u64s(out: &mut Vec<u8>, v: &[u64]) {
    if cfg!(target_endian = "little") {
        // The in-memory layout is the wire layout: one copy.
        out.extend_from_slice(bytemuck::cast_slice(v));
    } else {
        out.reserve(v.len() * 8);
        for x in v {
            out.extend_from_slice(&x.to_le_bytes());
        }
    }
}

/// Decodes `bytes` and checks what every aggregator checks first: the body
/// is of `kind`, for `round`, from `client`, with a weight of at least 1.
pub(crate) fn decode_submission(
    bytes: &[u8],
    kind: Kind,
    round: u32,
    client: u32,
) -> Result<(Header, &[u8]), Rejection> {
    let (h, body) = decode(bytes)?;
    if h.kind != kind {
        return Err(Rejection::Malformed(DecodeError::WrongKind {
            expected: kind.name().to_string(),
            found: h.kind.name().to_string(),
        }));
    }
    if h.round != round {
        return Err(Rejection::WrongRound {
            expected: round,
            got: h.round,
        });
    }
    if h.client != client {
        return Err(Rejection::SenderMismatch {
            named: super::ClientId(h.client).to_string(),
        });
    }
    if h.weight == 0 {
        return Err(Rejection::Malformed(DecodeError::BadField {
            field: "weight",
            reason: "0: a client's weight is at least 1".to_string(),
        }));
    }
    Ok((h, body))
}

/// Parses the header and checks magic, version, kind and checksum. Returns
/// the header and the body. Never panics on any input.
pub(crate) fn decode(bytes: &[u8]) -> Result<(Header, &[u8]), DecodeError> {
    if bytes.len() < HEADER_LEN {
        return Err(DecodeError::Truncated {
            needed: HEADER_LEN as u64,
            available: bytes.len() as u64,
        });
    }
    if bytes[0..4] != MAGIC {
        return Err(DecodeError::BadMagic {
            expected: "privml federated submission",
        });
    }
    if bytes[4] != VERSION {
        return Err(DecodeError::UnsupportedVersion {
            found: bytes[4].into(),
            supported: VERSION.into(),
        });
    }
    let kind = Kind::from_u8(bytes[5]).ok_or_else(|| DecodeError::BadField {
        field: "body kind",
        reason: format!("unknown kind {}", bytes[5]),
    })?;
    let u32_at = |o: usize| {
        let mut a = [0u8; 4];
        a.copy_from_slice(&bytes[o..o + 4]);
        u32::from_le_bytes(a)
    };
    let u64_at = |o: usize| {
        let mut a = [0u8; 8];
        a.copy_from_slice(&bytes[o..o + 8]);
        u64::from_le_bytes(a)
    };
    let h = Header {
        kind,
        server: bytes[6],
        flags: bytes[7],
        round: u32_at(8),
        client: u32_at(12),
        weight: u32_at(16),
        frac_bits: u32_at(20),
        len: u64_at(24),
    };
    let body = &bytes[HEADER_LEN..];
    let mut head = [0u8; 32];
    head.copy_from_slice(&bytes[..32]);
    let sum = checksum(&head, body);
    if sum != u64_at(32) {
        return Err(DecodeError::Checksum);
    }
    Ok((h, body))
}

/// Expected body length of a `Shares` message with these flags and length,
/// or `None` if it overflows `usize`.
pub(crate) fn shares_body_len(flags: u8, len: u64) -> Option<usize> {
    let explicit = usize::try_from(len).ok()?.checked_mul(8)?;
    let part = |seed: bool| if seed { SEED_LEN } else { explicit };
    part(flags & FLAG_FIRST_SEED != 0).checked_add(part(flags & FLAG_SECOND_SEED != 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Header {
        Header {
            kind: Kind::Shares,
            server: 1,
            flags: 0,
            round: 3,
            client: 17,
            weight: 42,
            frac_bits: 16,
            len: 2,
        }
    }

    #[test]
    fn round_trip_and_every_single_byte_change_is_caught() {
        let body = [7u8; 32];
        let bytes = encode(&header(), &[&body[..16], &body[16..]]);
        assert_eq!(bytes.len(), HEADER_LEN + 32);
        let (h, b) = decode(&bytes).expect("decodes");
        assert_eq!(h, header());
        assert_eq!(b, &body[..]);
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x10;
            assert!(decode(&bad).is_err(), "flip in byte {i} not caught");
        }
        for n in 0..bytes.len() {
            let _ = decode(&bytes[..n]);
        }
        assert!(decode(&bytes[..HEADER_LEN - 1]).is_err());
    }

    #[test]
    fn every_single_bit_flip_is_caught_for_bodies_of_any_size() {
        for n in [0usize, 1, 7, 8, 9, 31, 32, 33, 64, 100] {
            let body: Vec<u8> = (0..n).map(|i| (i * 37 + 5) as u8).collect();
            let bytes = encode(&header(), &[&body]);
            for i in 0..bytes.len() {
                for bit in 0..8 {
                    let mut bad = bytes.clone();
                    bad[i] ^= 1 << bit;
                    assert!(decode(&bad).is_err(), "body {n}: byte {i} bit {bit}");
                }
            }
            // Lengthening or shortening by zeros is caught too.
            let mut longer = bytes.clone();
            longer.push(0);
            assert!(decode(&longer).is_err(), "body {n} + 1 zero byte");
        }
    }

    #[test]
    fn body_lengths() {
        assert_eq!(shares_body_len(0, 10), Some(160));
        assert_eq!(shares_body_len(FLAG_FIRST_SEED, 10), Some(96));
        assert_eq!(
            shares_body_len(FLAG_FIRST_SEED | FLAG_SECOND_SEED, 10),
            Some(32)
        );
        assert_eq!(shares_body_len(0, u64::MAX), None);
    }
}
