//! The envelope of privml's checksummed files (model share files, dataset
//! share files): `magic ‖ format-version byte ‖ postcard body ‖ SHA-256 of
//! the body`.
//!
//! One place decides how such a file is framed and checked, so that every
//! format refuses a foreign file, an unknown version, a truncated or
//! corrupted file, and trailing bytes the same way, before its own field
//! checks run. The caller wraps the [`DecodeError`] with what the file is
//! and where it came from.

use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::error::DecodeError;

/// The checksum's length in bytes (SHA-256).
pub(crate) const CHECKSUM_LEN: usize = 32;

/// One file format's frame.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Envelope {
    /// The bytes a file of this format starts with.
    pub magic: &'static [u8],
    /// The format version written and accepted.
    pub version: u8,
    /// What the magic announces, for the bad-magic error.
    pub expected: &'static str,
}

impl Envelope {
    /// The file's bytes for `value`.
    pub(crate) fn seal<T: Serialize>(&self, value: &T) -> Result<Vec<u8>, postcard::Error> {
        let body = postcard::to_allocvec(value)?;
        let mut bytes = Vec::with_capacity(self.magic.len() + 1 + body.len() + CHECKSUM_LEN);
        bytes.extend_from_slice(self.magic);
        bytes.push(self.version);
        bytes.extend_from_slice(&body);
        bytes.extend_from_slice(&Sha256::digest(&body));
        Ok(bytes)
    }

    /// The value in `bytes`: magic, version, length, checksum, encoding and
    /// the absence of trailing bytes checked, in that order.
    pub(crate) fn open<T: DeserializeOwned>(&self, bytes: &[u8]) -> Result<T, DecodeError> {
        let Some(after_magic) = bytes.strip_prefix(self.magic) else {
            return Err(DecodeError::BadMagic {
                expected: self.expected,
            });
        };
        let Some((&version, rest)) = after_magic.split_first() else {
            return Err(DecodeError::Truncated {
                needed: (self.magic.len() + 1) as u64,
                available: bytes.len() as u64,
            });
        };
        if version != self.version {
            return Err(DecodeError::UnsupportedVersion {
                found: version.into(),
                supported: self.version.into(),
            });
        }
        let Some(body_len) = rest.len().checked_sub(CHECKSUM_LEN) else {
            return Err(DecodeError::Truncated {
                needed: (self.magic.len() + 1 + CHECKSUM_LEN) as u64,
                available: bytes.len() as u64,
            });
        };
        let (body, sum) = rest.split_at(body_len);
        if Sha256::digest(body).as_slice() != sum {
            return Err(DecodeError::Checksum);
        }
        let (value, extra): (T, _) = postcard::take_from_bytes(body)?;
        if !extra.is_empty() {
            return Err(DecodeError::TrailingBytes {
                extra: extra.len() as u64,
            });
        }
        Ok(value)
    }
}
