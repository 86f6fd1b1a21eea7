//! [`Session`]: what jobs need from a domain besides the arithmetic core
//! of [`Ring`], and [`TensorData`], what it saves and loads.

use serde::{Deserialize, Serialize};

use super::{PartyId, Ring};
use crate::error::{DecodeError, Error, Origin, Result};
use crate::ring::RingElement;

/// What a job needs from a domain besides arithmetic: public announcements
/// between the parties, and saving, loading and cross-checking this
/// evaluator's data of tensors. A model never needs it; the jobs of
/// [`crate::learn`] do.
///
/// # Examples
///
/// ```
/// use privml::{Fixed, Ring, Session};
///
/// let mut r = Fixed::<u64>::new();
/// let x = r.scalar(1.5)?;
/// let saved = r.export(&x);
/// let back = r.import(&saved)?;
/// assert_eq!(r.reveal(&back)?[[]], 1.5);
/// assert_eq!(r.announce(0, Some(b"shape 4x2"))?, b"shape 4x2");
/// # Ok::<(), privml::Error>(())
/// ```
pub trait Session: Ring {
    /// Public data from party `from` to everyone (shapes, feature names,
    /// normalisation parameters): `from` passes `Some(bytes)`, the others
    /// `None`, and all get the bytes back. One round; nothing secret may go
    /// through here.
    fn announce(&mut self, from: PartyId, data: Option<&[u8]>) -> Result<Vec<u8>>;

    /// The bytes party `from`'s next announcement was fixed to before the
    /// run, if any: in the two-party domain reading preprocessing files
    /// dealt for a public description ([`crate::mpc2::prep`]), a value a
    /// job would draw at run time (a model id) is the one the material was
    /// dealt for. `None` everywhere else (the default).
    fn announced_ahead(&self, from: PartyId) -> Option<Vec<u8>> {
        let _ = from;
        None
    }

    /// This evaluator's local data of `x` (this party's shares in `Shared`).
    fn export(&self, x: &Self::Tensor) -> TensorData;

    /// Rebuilds a tensor from [`TensorData`] exported by the same kind of
    /// evaluator (same domain, ring, fraction bits and party); anything else
    /// is an error naming both.
    fn import(&mut self, data: &TensorData) -> Result<Self::Tensor>;

    /// Checks that the parties hold consistent shares of `tensors` (for
    /// example loaded from three files): each party sends a digest of
    /// `tag` and its second shares to its successor, which compares it with
    /// the digest of its own first shares. One round, 32 bytes per party;
    /// a no-op (with the same predicted cost) in the clear.
    fn check_agreement(&mut self, tensors: &[&Self::Tensor], tag: &[u8]) -> Result<()>;
}

/// One evaluator's local data of a tensor, for saving and loading: the
/// values for plaintext domains, this party's two shares for `Shared`.
/// Saving shares discloses nothing; `Debug` does not print them.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub enum TensorData {
    /// f64 values (`Plain`).
    Clear {
        /// Shape.
        shape: Vec<usize>,
        /// Row-major values.
        values: Vec<f64>,
    },
    /// Fixed-point ring elements in the clear (`Fixed`).
    ClearRing {
        /// Shape.
        shape: Vec<usize>,
        /// ℓ.
        ring_bits: u32,
        /// f.
        frac_bits: u32,
        /// Little-endian elements.
        data: Vec<u8>,
    },
    /// One party's replicated shares (`Shared`).
    Shares {
        /// Shape.
        shape: Vec<usize>,
        /// ℓ.
        ring_bits: u32,
        /// f.
        frac_bits: u32,
        /// The party these shares belong to.
        party: u8,
        /// x_i, little-endian.
        a: Vec<u8>,
        /// x_{i+1}, little-endian.
        b: Vec<u8>,
    },
    /// One computing party's additive share (`Additive`, two-party
    /// protocol).
    AdditiveShare {
        /// Shape.
        shape: Vec<usize>,
        /// ℓ.
        ring_bits: u32,
        /// f.
        frac_bits: u32,
        /// The party, 0 or 1.
        party: u8,
        /// x_i, little-endian.
        data: Vec<u8>,
    },
}

impl TensorData {
    /// The tensor's shape.
    pub fn shape(&self) -> &[usize] {
        match self {
            TensorData::Clear { shape, .. }
            | TensorData::ClearRing { shape, .. }
            | TensorData::Shares { shape, .. }
            | TensorData::AdditiveShare { shape, .. } => shape,
        }
    }

    /// What kind of data this is, for error messages.
    pub fn kind(&self) -> String {
        match self {
            TensorData::Clear { .. } => "plain f64 values".to_string(),
            TensorData::ClearRing {
                ring_bits,
                frac_bits,
                ..
            } => format!("fixed-point Z_2^{ring_bits} values ({frac_bits} fraction bits)"),
            TensorData::Shares {
                ring_bits,
                frac_bits,
                party,
                ..
            } => {
                format!("party {party}'s shares in Z_2^{ring_bits} ({frac_bits} fraction bits)")
            }
            TensorData::AdditiveShare {
                ring_bits,
                frac_bits,
                party,
                ..
            } => format!(
                "two-party party {party}'s share in Z_2^{ring_bits} ({frac_bits} fraction bits)"
            ),
        }
    }
}

impl std::fmt::Debug for TensorData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "TensorData({}, shape {:?}, <data redacted>)",
            self.kind(),
            self.shape()
        )
    }
}

/// Ring elements from the little-endian bytes of [`TensorData`].
pub(crate) fn decode_elements<T: RingElement>(bytes: &[u8]) -> Result<Vec<T>> {
    T::from_bytes_payload(bytes).map_err(|e| {
        let error = DecodeError::WrongLength {
            expected: e.expected as u64,
            found: e.got as u64,
        };
        Error::decode("tensor data", Origin::Bytes, error)
    })
}
