//! Encrypted updates and sums, and the keyless aggregator that adds them.

use std::collections::HashSet;

use fhe::bfv::Ciphertext;
use rayon::prelude::*;

use super::PublicKey;
use super::params::HeParams;
use super::wire::{self, Header, Kind};
use crate::error::{Error, Rejection, Result};

/// One client's encrypted update: ⌈len / 4096⌉ BFV ciphertexts, each packing
/// 4096 fixed-point values.
///
/// Made by [`PublicKey::encrypt_update`] or parsed with
/// [`from_bytes`](Self::from_bytes); sent to the aggregator as
/// [`to_bytes`](Self::to_bytes).
#[derive(Clone)]
pub struct EncryptedUpdate {
    pub(crate) header: Header,
    pub(crate) cts: Vec<Ciphertext>,
}

/// The encrypted sum of a number of updates, made by
/// [`Aggregator::finish`]. Only [`SecretKey::decrypt_sum`](super::SecretKey::decrypt_sum)
/// opens it.
#[derive(Clone)]
pub struct EncryptedSum {
    pub(crate) header: Header,
    pub(crate) cts: Vec<Ciphertext>,
}

macro_rules! common_methods {
    ($t:ty) => {
        impl $t {
            /// Number of values (model parameters).
            pub fn len(&self) -> usize {
                self.header.len
            }

            /// True only for the sum of an aggregator created for zero values
            /// (empty updates cannot be made or parsed).
            pub fn is_empty(&self) -> bool {
                self.header.len == 0
            }

            /// The fixed-point parameters the values were encoded with.
            pub fn params(&self) -> &HeParams {
                &self.header.params
            }

            /// Id of the public key it was encrypted under.
            pub fn key_id(&self) -> u64 {
                self.header.key_id
            }

            /// Number of BFV ciphertexts.
            pub fn num_ciphertexts(&self) -> usize {
                self.cts.len()
            }

            /// Size of [`to_bytes`](Self::to_bytes), computed without
            /// serialising.
            pub fn byte_len(&self) -> usize {
                wire::HEADER_LEN + self.cts.len() * super::params::CT_BYTES
            }

            /// Serialises to the documented wire format (48-byte header,
            /// 63 488 bytes per ciphertext).
            pub fn to_bytes(&self) -> Vec<u8> {
                wire::encode(&self.header, &self.cts)
            }
        }

        impl std::fmt::Debug for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($t))
                    .field("len", &self.header.len)
                    .field("count", &self.header.count)
                    .field("key_id", &format_args!("{:016x}", self.header.key_id))
                    .field("params", &self.header.params)
                    .field("ciphertexts", &self.cts.len())
                    .finish()
            }
        }
    };
}

common_methods!(EncryptedUpdate);
common_methods!(EncryptedSum);

impl EncryptedUpdate {
    /// Parses [`to_bytes`](Self::to_bytes). Truncated, padded, corrupted
    /// (checksum) or inconsistent input is [`Error::Decode`], never a panic;
    /// what it holds is bounded by the bytes given (one 63 488-byte
    /// ciphertext per 4096 values). Whether it belongs to a given key and
    /// aggregate is checked when it is added ([`Aggregator::add`]).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let (header, cts) = wire::decode(bytes, Kind::Update, "encrypted update", None)?;
        Ok(Self { header, cts })
    }
}

impl EncryptedSum {
    /// Parses [`to_bytes`](Self::to_bytes) of a sum of `expected_len`
    /// values: the model owner knows how many parameters its model has.
    /// A sum that declares another number of values, and truncated, padded,
    /// corrupted (checksum) or inconsistent input, are [`Error::Decode`],
    /// never a panic.
    ///
    /// The expected length is what makes decoding safe: a sum of zero
    /// updates carries no ciphertext, so its bytes do not bound the number
    /// of values it declares, and [`SecretKey::decrypt_sum`](super::SecretKey::decrypt_sum)
    /// returns that many zeros. It is checked from the header, before
    /// anything is allocated.
    ///
    /// # Examples
    ///
    /// ```
    /// use privml::he::{Aggregator, EncryptedSum, HeParams, KeyPair};
    ///
    /// let (pk, sk) = KeyPair::generate(&HeParams::default())?;
    /// let mut agg = Aggregator::new(pk.clone(), 2);
    /// agg.add("site-a", &pk.encrypt_update(&[1.0, 2.0])?)?;
    /// let bytes = agg.finish().to_bytes();
    /// let sum = EncryptedSum::from_bytes(&bytes, 2)?;
    /// assert!((sk.decrypt_sum(&sum)?[1] - 2.0).abs() < 1e-4);
    /// assert!(EncryptedSum::from_bytes(&bytes, 3).is_err()); // not the owner's model
    /// # Ok::<(), privml::Error>(())
    /// ```
    pub fn from_bytes(bytes: &[u8], expected_len: usize) -> Result<Self> {
        let (header, cts) = wire::decode(bytes, Kind::Sum, "encrypted sum", Some(expected_len))?;
        Ok(Self { header, cts })
    }

    /// Number of updates in the sum (as counted by the aggregator).
    pub fn count(&self) -> usize {
        self.header.count as usize
    }
}

/// Adds encrypted updates without any key that could decrypt them.
///
/// It holds the [`PublicKey`] only to check that submissions belong to it.
/// There is no decryption method here or on [`EncryptedSum`]: the type
/// system keeps the aggregator from learning anything but sizes and counts.
///
/// ```compile_fail
/// use privml::he::{Aggregator, HeParams, KeyPair};
///
/// fn main() -> privml::Result<()> {
///     let (pk, _sk) = KeyPair::generate(&HeParams::default())?;
///     let mut agg = Aggregator::new(pk.clone(), 2);
///     agg.add("clinic-a", &pk.encrypt_update(&[1.0, 2.0])?)?;
///     let sum = agg.finish();
///     let _plain: Vec<f64> = sum.decrypt_sum()?; // no such method: only SecretKey decrypts
///     Ok(())
/// }
/// ```
///
/// Nor can it turn its public key into a secret key:
///
/// ```compile_fail
/// use privml::he::{Aggregator, HeParams, KeyPair, SecretKey};
///
/// fn main() -> privml::Result<()> {
///     let (pk, _sk) = KeyPair::generate(&HeParams::default())?;
///     let agg = Aggregator::new(pk, 2);
///     let _sk: SecretKey = agg.public_key().clone().into(); // no conversion exists
///     Ok(())
/// }
/// ```
///
/// # Security
///
/// The aggregator sees ciphertexts, their sizes, client ids and the count.
/// It must not collude with the key owner: the owner could decrypt any
/// single update it passes on. See the [module docs](super).
///
/// # Examples
///
/// ```
/// use privml::he::{Aggregator, HeParams, KeyPair};
///
/// let (pk, sk) = KeyPair::generate(&HeParams::default())?;
/// let mut agg = Aggregator::new(pk.clone(), 2);
/// agg.add("clinic-a", &pk.encrypt_update(&[1.0, 2.0])?)?;
/// agg.add("clinic-b", &pk.encrypt_update(&[0.5, -4.0])?)?;
/// assert!(agg.add("clinic-c", &pk.encrypt_update(&[1.0])?).is_err()); // wrong length
/// assert_eq!(agg.count(), 2);
/// let sum = sk.decrypt_sum(&agg.finish())?;
/// assert!((sum[0] - 1.5).abs() < 1e-4 && (sum[1] + 2.0).abs() < 1e-4);
/// # Ok::<(), privml::Error>(())
/// ```
#[derive(Debug)]
pub struct Aggregator {
    key: PublicKey,
    expected_len: usize,
    sum: Vec<Ciphertext>,
    count: u32,
    clients: HashSet<String>,
}

impl Aggregator {
    /// An empty aggregate of updates of `expected_len` values under `key`.
    pub fn new(key: PublicKey, expected_len: usize) -> Self {
        Aggregator {
            key,
            expected_len,
            sum: Vec::new(),
            count: 0,
            clients: HashSet::new(),
        }
    }

    /// The public key submissions must be encrypted under.
    pub fn public_key(&self) -> &PublicKey {
        &self.key
    }

    /// Number of values per update.
    pub fn expected_len(&self) -> usize {
        self.expected_len
    }

    /// Number of updates added so far.
    pub fn count(&self) -> usize {
        self.count as usize
    }

    /// Adds `client`'s update to the running sum.
    ///
    /// All checks happen before anything is added, so a refused update
    /// leaves the sum exactly as it was. Refused with
    /// [`Error::UpdateRejected`] naming the client if the update has the
    /// wrong length, other parameters, another key, if the client already
    /// submitted, or if the sum already holds `max_clients` updates (one
    /// more could wrap around).
    pub fn add(&mut self, client: &str, update: &EncryptedUpdate) -> Result<()> {
        let reject = |reason: Rejection| Error::UpdateRejected {
            client: client.to_string(),
            reason,
        };
        let h = &update.header;
        let params = *self.key.params();
        if h.params != params {
            return Err(reject(Rejection::WrongParameters {
                expected: params.to_string(),
                got: h.params.to_string(),
            }));
        }
        if h.key_id != self.key.key_id() {
            return Err(reject(Rejection::WrongKey {
                expected: self.key.key_id(),
                got: h.key_id,
            }));
        }
        if h.len != self.expected_len {
            return Err(reject(Rejection::WrongLength {
                expected: self.expected_len,
                got: h.len,
            }));
        }
        if self.clients.contains(client) {
            return Err(reject(Rejection::Duplicate));
        }
        if self.count >= params.max_clients() {
            return Err(reject(Rejection::TooManyUpdates {
                max: params.max_clients(),
            }));
        }
        if self.sum.is_empty() {
            self.sum = update.cts.clone();
        } else {
            // Same parameters `Arc`, level and length: guaranteed by the
            // constructors of `EncryptedUpdate`, so this cannot fail halfway.
            self.sum
                .par_iter_mut()
                .zip(update.cts.par_iter())
                .for_each(|(acc, ct)| *acc += ct);
        }
        self.count += 1;
        self.clients.insert(client.to_string());
        Ok(())
    }

    /// Ends the round: the encrypted sum, for the key owner.
    ///
    /// Nothing stops `finish` after a single update, in which case the
    /// "sum" *is* that client's update; a deployment should require a
    /// minimum [`count`](Self::count) before it forwards the sum.
    pub fn finish(self) -> EncryptedSum {
        EncryptedSum {
            header: Header {
                kind: Kind::Sum,
                params: *self.key.params(),
                key_id: self.key.key_id(),
                len: self.expected_len,
                count: self.count,
            },
            cts: self.sum,
        }
    }
}
