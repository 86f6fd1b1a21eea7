//! The parameters of secure aggregation by secret sharing: the fixed-point
//! encoding of updates in Z_2^64, its headroom, and how shares are written.

use super::super::ClientId;
use super::super::wire::{self, SEED_LEN};
use crate::error::{Error, Result};
use crate::fixed::{FixedEncoding, FixedPoint};
use crate::keyword::keyword_enum;

/// How a client writes the two shares it sends to each server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ShareEncoding {
    /// Every share written out: 2 × 8 bytes per value to each of the three
    /// servers, 48 bytes per value in all. The textbook form.
    #[default]
    Explicit,
    /// x0 and x1 are AES-CTR streams of fresh 16-byte seeds, and a seed is
    /// sent in place of the share: server 0 gets two seeds, servers 1 and 2
    /// one seed and x2 = x - x0 - x1. 16 bytes per value in all, a third of
    /// [`Explicit`](Self::Explicit), under the same assumption (AES is a
    /// PRG) that the rest of the crate's randomness rests on.
    Seeded,
}

keyword_enum!(ShareEncoding, "share encoding", {
    Explicit => "explicit",
    Seeded => "seeded" | "seed",
});

/// Parameters of secure aggregation by secret sharing: the fixed-point
/// format in Z_2^64 and the number of clients it leaves headroom for.
///
/// A (weighted) value v is encoded as round(v · 2^f) in two's complement.
/// Every client's encodings are bounded by ⌊(2^63 − 1) / N⌋ with
/// N = `max_clients`, so a sum of at most N updates never wraps around;
/// servers refuse an (N+1)-th update. The revealed sum of k updates is
/// within k · 2^−(f+1) of the exact sum ([`sum_tolerance`](Self::sum_tolerance)):
/// the only error is each client's rounding to the 2^−f grid.
///
/// | f | N | largest \|v\| per client | resolution |
/// |---|---|---|---|
/// | 16 (default) | 1024 (default) | 1.4e11 | 1.5e-5 |
/// | 24 | 1024 | 5.4e8 | 6.0e-8 |
/// | 30 | 65536 | 1.3e5 | 9.3e-10 |
///
/// # Examples
///
/// ```
/// use privml::fl::ShareParams;
///
/// let p = ShareParams::default();
/// assert_eq!((p.frac_bits(), p.max_clients()), (16, 1024));
/// assert!(p.max_abs_value() > 1e11);
/// assert!(ShareParams::new(31, 10).is_err()); // beyond what Z_2^64 fixed point allows
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShareParams {
    frac_bits: u32,
    max_clients: u32,
    encoding: ShareEncoding,
}

impl Default for ShareParams {
    fn default() -> Self {
        ShareParams {
            frac_bits: Self::DEFAULT_FRAC_BITS,
            max_clients: Self::DEFAULT_MAX_CLIENTS,
            encoding: ShareEncoding::Explicit,
        }
    }
}

impl std::fmt::Display for ShareParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Z_2^64, {} fraction bits, up to {} clients, {} shares",
            self.frac_bits, self.max_clients, self.encoding
        )
    }
}

impl ShareParams {
    /// Default fraction bits (as for `Shared<u64>`).
    pub const DEFAULT_FRAC_BITS: u32 = 16;
    /// Default headroom (as [`HeParams`](crate::he::HeParams)).
    pub const DEFAULT_MAX_CLIENTS: u32 = 1024;

    /// `frac_bits` in 1..=30 (the `Shared<u64>` fixed-point formats),
    /// `max_clients` ≥ 1, explicit shares.
    pub fn new(frac_bits: u32, max_clients: u32) -> Result<Self> {
        FixedPoint::<u64>::new(frac_bits)?;
        if max_clients == 0 {
            return Err(Error::invalid("max_clients", "must be at least 1"));
        }
        Ok(ShareParams {
            frac_bits,
            max_clients,
            encoding: ShareEncoding::Explicit,
        })
    }

    /// The same parameters with another share encoding.
    pub fn with_encoding(mut self, encoding: ShareEncoding) -> Self {
        self.encoding = encoding;
        self
    }

    /// Fraction bits f.
    pub fn frac_bits(&self) -> u32 {
        self.frac_bits
    }

    /// Number of clients whose sum cannot wrap around.
    pub fn max_clients(&self) -> u32 {
        self.max_clients
    }

    /// How clients write their shares.
    pub fn encoding(&self) -> ShareEncoding {
        self.encoding
    }

    /// Largest |encoding| per client, ⌊(2^63 − 1) / max_clients⌋.
    pub fn max_abs_encoded(&self) -> u64 {
        (i64::MAX as u64) / self.max_clients as u64
    }

    /// Largest |value| per client, in value units (after weighting): the
    /// largest f64 whose encoding stays within
    /// [`max_abs_encoded`](Self::max_abs_encoded).
    pub fn max_abs_value(&self) -> f64 {
        self.fixed_encoding().max_value()
    }

    /// The fixed-point encoding of one client's values: round(v · 2^f)
    /// within ±[`max_abs_encoded`](Self::max_abs_encoded)
    /// ([`crate::fixed::FixedEncoding`]).
    pub fn fixed_encoding(&self) -> FixedEncoding {
        FixedEncoding::symmetric(self.frac_bits, self.max_abs_encoded())
    }

    /// 2^f.
    pub fn scale(&self) -> f64 {
        (2.0f64).powi(self.frac_bits as i32)
    }

    /// Bound on |revealed sum − exact sum| for `clients` updates:
    /// clients · 2^−(f+1).
    pub fn sum_tolerance(&self, clients: usize) -> f64 {
        clients as f64 / (2.0 * self.scale())
    }

    /// Encodes `client`'s (weighted) values, refusing a NaN, an infinity or
    /// a value whose `max_clients`-fold sum could wrap, with
    /// [`Error::UpdateOutOfRange`] naming the client and the index.
    pub fn encode(&self, client: ClientId, values: &[f64]) -> Result<Vec<u64>> {
        let encoding = self.fixed_encoding();
        values
            .iter()
            .enumerate()
            .map(|(index, &v)| {
                // Two's complement in Z_2^64.
                encoding.try_encode_i64(v).map(|e| e as u64).ok_or_else(|| {
                    Error::UpdateOutOfRange {
                        client: client.to_string(),
                        index,
                        value: v,
                        limit: encoding.max_value(),
                        max_clients: self.max_clients,
                    }
                })
            })
            .collect()
    }

    /// Bytes of the message to each server for an update of `len` values.
    pub fn message_lens(&self, len: usize) -> [usize; 3] {
        let full = 2 * 8 * len;
        match self.encoding {
            ShareEncoding::Explicit => [wire::HEADER_LEN + full; 3],
            ShareEncoding::Seeded => [
                wire::HEADER_LEN + 2 * SEED_LEN,
                wire::HEADER_LEN + SEED_LEN + 8 * len,
                wire::HEADER_LEN + 8 * len + SEED_LEN,
            ],
        }
    }
}
