//! The envelope of every client → server message (see the
//! [module docs](super#wire-format)).

use crate::error::Rejection;

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

/// FNV-1a over 8-byte little-endian words (a short tail is zero-padded and
/// the length mixed in): one multiply per 8 bytes, so checking a 1.6 MB
/// message costs a fraction of a millisecond. It catches transmission
/// errors, not tampering.
pub(crate) struct Checksum(u64);

impl Checksum {
    pub(crate) fn new() -> Self {
        Checksum(FNV_OFFSET)
    }

    pub(crate) fn update(&mut self, bytes: &[u8]) {
        let mut h = self.0;
        let mut words = bytes.chunks_exact(8);
        for w in &mut words {
            let mut a = [0u8; 8];
            a.copy_from_slice(w);
            h = (h ^ u64::from_le_bytes(a)).wrapping_mul(FNV_PRIME);
        }
        let tail = words.remainder();
        if !tail.is_empty() {
            let mut a = [0u8; 8];
            a[..tail.len()].copy_from_slice(tail);
            h = (h ^ u64::from_le_bytes(a)).wrapping_mul(FNV_PRIME);
        }
        h = (h ^ bytes.len() as u64).wrapping_mul(FNV_PRIME);
        self.0 = h;
    }

    pub(crate) fn value(&self) -> u64 {
        self.0
    }
}

/// Writes header, checksum and body parts into one buffer.
pub(crate) fn encode(h: &Header, parts: &[&[u8]]) -> Vec<u8> {
    let head = h.bytes();
    let total: usize = HEADER_LEN + parts.iter().map(|p| p.len()).sum::<usize>();
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&head);
    out.extend_from_slice(&[0u8; 8]);
    for p in parts {
        out.extend_from_slice(p);
    }
    let sum = checksum(&head, &out[HEADER_LEN..]);
    out[32..40].copy_from_slice(&sum.to_le_bytes());
    out
}

fn checksum(head: &[u8], body: &[u8]) -> u64 {
    let mut c = Checksum::new();
    c.update(head);
    c.update(body);
    c.value()
}

/// Little-endian bytes of `n` ring elements, appended to `out`.
pub(crate) fn put_u64s(out: &mut Vec<u8>, v: &[u64]) {
    out.reserve(v.len() * 8);
    for x in v {
        out.extend_from_slice(&x.to_le_bytes());
    }
}

fn malformed(reason: impl Into<String>) -> Rejection {
    Rejection::Malformed {
        reason: reason.into(),
    }
}

/// Parses the header and checks magic, version, kind and checksum. Returns
/// the header and the body. Never panics on any input.
pub(crate) fn decode(bytes: &[u8]) -> Result<(Header, &[u8]), Rejection> {
    if bytes.len() < HEADER_LEN {
        return Err(malformed(format!(
            "{} bytes, shorter than the {HEADER_LEN}-byte header",
            bytes.len()
        )));
    }
    if bytes[0..4] != MAGIC {
        return Err(malformed("bad magic (not a privml federated submission)"));
    }
    if bytes[4] != VERSION {
        return Err(malformed(format!(
            "format version {}, expected {VERSION}",
            bytes[4]
        )));
    }
    let kind = Kind::from_u8(bytes[5])
        .ok_or_else(|| malformed(format!("unknown body kind {}", bytes[5])))?;
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
    let sum = checksum(&bytes[..32], body);
    if sum != u64_at(32) {
        return Err(malformed("checksum mismatch (corrupted in transit)"));
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
