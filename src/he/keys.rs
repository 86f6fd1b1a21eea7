//! Key generation, client-side encryption and owner-side decryption.

use fhe::bfv::{self, Ciphertext, Encoding, Plaintext};
use fhe_traits::{
    DeserializeParametrized, FheDecoder, FheDecrypter, FheEncoder, FheEncrypter, Serialize,
};
use rand::CryptoRng;
use rand09::SeedableRng;
use rand09::rngs::StdRng as BackendRng;
use rayon::prelude::*;

use super::params::{DEGREE, HeParams, WIRE_LEVEL, bfv};
use super::wire::{Header, Kind, checksum};
use super::{EncryptedSum, EncryptedUpdate};
use crate::error::{DecodeError, Error, Origin, Result};

/// Seed of the backend's RNG. The backend (`fhe`) is written against rand
/// 0.9, this crate against rand 0.10: we bridge by drawing 32 bytes from a
/// rand 0.10 CSPRNG (or the OS) and seeding rand 0.9's `StdRng` (ChaCha12)
/// with them, one independent generator per ciphertext.
type BackendSeed = [u8; 32];

fn backend_err(op: &'static str) -> impl Fn(fhe::Error) -> Error {
    move |e| Error::HeBackend {
        op,
        reason: e.to_string(),
    }
}

fn os_seeds(n: usize) -> Result<Vec<BackendSeed>> {
    let mut seeds = vec![[0u8; 32]; n];
    for s in &mut seeds {
        crate::ring::prg::fill_from_os(s)?;
    }
    Ok(seeds)
}

fn rng_seeds<R: CryptoRng + ?Sized>(rng: &mut R, n: usize) -> Vec<BackendSeed> {
    let mut seeds = vec![[0u8; 32]; n];
    for s in &mut seeds {
        rng.fill_bytes(s);
    }
    seeds
}

/// Key generation. The model owner runs it, keeps the [`SecretKey`] and
/// hands the [`PublicKey`] to the clients and to the aggregator.
///
/// This type has no values: it only names the operation.
///
/// # Security
///
/// Whoever holds the `SecretKey` can decrypt every ciphertext made under the
/// matching `PublicKey`, including a single client's update; see the threat
/// model in the [module docs](super).
///
/// # Examples
///
/// ```
/// use privml::he::{HeParams, KeyPair};
///
/// let (pk, sk) = KeyPair::generate(&HeParams::default())?;
/// assert_eq!(pk.key_id(), sk.key_id());
/// # Ok::<(), privml::Error>(())
/// ```
#[derive(Debug)]
pub enum KeyPair {}

impl KeyPair {
    /// A fresh key pair from operating-system randomness.
    pub fn generate(params: &HeParams) -> Result<(PublicKey, SecretKey)> {
        let seed = os_seeds(1)?[0];
        Self::from_seed(params, seed)
    }

    /// A key pair from a caller-supplied CSPRNG (reproducible tests and
    /// simulations; production code should use [`generate`](Self::generate)).
    pub fn generate_with_rng<R: CryptoRng + ?Sized>(
        params: &HeParams,
        rng: &mut R,
    ) -> Result<(PublicKey, SecretKey)> {
        Self::from_seed(params, rng_seeds(rng, 1)[0])
    }

    fn from_seed(params: &HeParams, seed: BackendSeed) -> Result<(PublicKey, SecretKey)> {
        let par = bfv()?;
        let mut rng = BackendRng::from_seed(seed);
        let sk = bfv::SecretKey::random(par, &mut rng);
        let pk = bfv::PublicKey::new(&sk, &mut rng);
        let key_id = key_id(params, &pk.to_bytes());
        Ok((
            PublicKey {
                params: *params,
                inner: pk,
                key_id,
            },
            SecretKey {
                params: *params,
                inner: sk,
                key_id,
            },
        ))
    }
}

/// A short identifier of a public key and its parameters, carried by every
/// ciphertext so that a mix-up of keys is an error and not garbage. It is a
/// non-cryptographic checksum: it guards against accidents, not forgery.
fn key_id(params: &HeParams, pk_bytes: &[u8]) -> u64 {
    checksum(&[
        b"privml he key id",
        &params.frac_bits().to_le_bytes(),
        &params.max_clients().to_le_bytes(),
        pk_bytes,
    ])
}

/// The public key: encrypts updates. Held by every client and by the
/// aggregator; it cannot decrypt anything.
#[derive(Clone)]
pub struct PublicKey {
    params: HeParams,
    inner: bfv::PublicKey,
    key_id: u64,
}

/// The `Debug` fields both keys show: the key id in hex and the parameters.
fn key_debug<'a, 'b>(
    f: &'a mut std::fmt::Formatter<'b>,
    name: &str,
    key_id: u64,
    params: &HeParams,
) -> std::fmt::DebugStruct<'a, 'b> {
    let mut d = f.debug_struct(name);
    d.field("key_id", &format_args!("{key_id:016x}"))
        .field("params", params);
    d
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        key_debug(f, "PublicKey", self.key_id, &self.params).finish_non_exhaustive()
    }
}

const PK_MAGIC: [u8; 4] = *b"PMHK";
const PK_VERSION: u8 = 1;
const PK_HEADER: usize = 16;

impl PublicKey {
    /// The parameters the key was made for.
    pub fn params(&self) -> &HeParams {
        &self.params
    }

    /// The key id carried by every ciphertext made with this key.
    pub fn key_id(&self) -> u64 {
        self.key_id
    }

    /// Encrypts one client's update, 4096 values per ciphertext, with fresh
    /// operating-system randomness.
    ///
    /// Every value is checked first: a NaN or infinity is
    /// [`Error::NonFinite`], a value beyond
    /// [`max_abs_value`](HeParams::max_abs_value) (whose `max_clients`-fold sum
    /// could wrap around) is [`Error::OutOfRange`]; both name the index. An
    /// empty update is an [`Error::InvalidParameter`].
    ///
    /// Ciphertexts are built in parallel (rayon) and modulus-switched to the
    /// 62-bit wire modulus before they are returned.
    ///
    /// # Examples
    ///
    /// ```
    /// use privml::he::{HeParams, KeyPair};
    ///
    /// let (pk, _sk) = KeyPair::generate(&HeParams::default())?;
    /// let update = pk.encrypt_update(&[0.25, -1.5, 3.0])?;
    /// assert_eq!(update.len(), 3);
    /// assert_eq!(update.byte_len(), update.to_bytes().len());
    /// assert!(pk.encrypt_update(&[f64::NAN]).is_err());
    /// # Ok::<(), privml::Error>(())
    /// ```
    pub fn encrypt_update(&self, update: &[f64]) -> Result<EncryptedUpdate> {
        let encoded = self.encode_checked(update)?;
        let seeds = os_seeds(encoded.len().div_ceil(DEGREE))?;
        self.encrypt_encoded(&encoded, &seeds)
    }

    /// [`encrypt_update`](Self::encrypt_update) with a caller-supplied CSPRNG
    /// (reproducible tests and simulations).
    pub fn encrypt_update_with_rng<R: CryptoRng + ?Sized>(
        &self,
        update: &[f64],
        rng: &mut R,
    ) -> Result<EncryptedUpdate> {
        let encoded = self.encode_checked(update)?;
        let seeds = rng_seeds(rng, encoded.len().div_ceil(DEGREE));
        self.encrypt_encoded(&encoded, &seeds)
    }

    fn encode_checked(&self, update: &[f64]) -> Result<Vec<i64>> {
        if update.is_empty() {
            return Err(Error::invalid(
                "update",
                "an update needs at least one value",
            ));
        }
        self.params.encode(update)
    }

    fn encrypt_encoded(&self, encoded: &[i64], seeds: &[BackendSeed]) -> Result<EncryptedUpdate> {
        let par = bfv()?;
        let cts = encoded
            .par_chunks(DEGREE)
            .zip(seeds.par_iter())
            .map(|(chunk, seed)| {
                let mut rng = BackendRng::from_seed(*seed);
                let pt = Plaintext::try_encode(chunk, Encoding::simd(), par)
                    .map_err(backend_err("encode"))?;
                let mut ct: Ciphertext = self
                    .inner
                    .try_encrypt(&pt, &mut rng)
                    .map_err(backend_err("encrypt"))?;
                ct.switch_to_level(WIRE_LEVEL)
                    .map_err(backend_err("modulus switch"))?;
                Ok(ct)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(EncryptedUpdate {
            header: Header {
                kind: Kind::Update,
                params: self.params,
                key_id: self.key_id,
                len: encoded.len(),
                count: 1,
            },
            cts,
        })
    }

    /// Serialises the key for distribution to clients and the aggregator
    /// (about 56 kB).
    pub fn to_bytes(&self) -> Vec<u8> {
        let body = self.inner.to_bytes();
        let mut out = Vec::with_capacity(PK_HEADER + body.len());
        out.extend_from_slice(&PK_MAGIC);
        out.push(PK_VERSION);
        out.extend_from_slice(&[0, 0, 0]);
        out.extend_from_slice(&self.params.frac_bits().to_le_bytes());
        out.extend_from_slice(&self.params.max_clients().to_le_bytes());
        out.extend_from_slice(&body);
        out
    }

    /// Parses [`to_bytes`](Self::to_bytes). Malformed input is
    /// [`Error::Decode`], never a panic. The key id is recomputed from
    /// the bytes.
    ///
    /// The bytes must come from the owner over an authenticated channel: a
    /// substituted public key lets its maker decrypt every update.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let bad = |error: DecodeError| Error::decode("public key", Origin::Bytes, error);
        let field =
            |field: &'static str, reason: String| bad(DecodeError::BadField { field, reason });
        if bytes.len() < PK_HEADER {
            return Err(bad(DecodeError::Truncated {
                needed: PK_HEADER as u64,
                available: bytes.len() as u64,
            }));
        }
        if bytes[..4] != PK_MAGIC {
            return Err(bad(DecodeError::BadMagic {
                expected: "privml HE public key",
            }));
        }
        if bytes[4] != PK_VERSION {
            return Err(bad(DecodeError::UnsupportedVersion {
                found: bytes[4].into(),
                supported: PK_VERSION.into(),
            }));
        }
        if bytes[5..8] != [0, 0, 0] {
            return Err(field("reserved", "bytes 5 to 7 are not zero".into()));
        }
        let word = |at: usize| {
            u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
        };
        let params =
            HeParams::new(word(8), word(12)).map_err(|e| field("parameters", e.to_string()))?;
        let body = &bytes[PK_HEADER..];
        let inner =
            bfv::PublicKey::from_bytes(body, bfv()?).map_err(|e| field("key", e.to_string()))?;
        // Canonical form only: the body must be exactly what we would write.
        if inner.to_bytes() != body {
            return Err(field("key", "non-canonical encoding".into()));
        }
        Ok(PublicKey {
            params,
            key_id: key_id(&params, body),
            inner,
        })
    }
}

/// The secret key: decrypts sums. Only the model owner holds it.
///
/// No `Clone`, no `Display`; `Debug` shows the key id only. The backend
/// zeroes the key's coefficients on drop.
pub struct SecretKey {
    params: HeParams,
    inner: bfv::SecretKey,
    key_id: u64,
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        key_debug(f, "SecretKey", self.key_id, &self.params)
            .field("key", &"<redacted>")
            .finish()
    }
}

impl SecretKey {
    /// The parameters the key was made for.
    pub fn params(&self) -> &HeParams {
        &self.params
    }

    /// Id of the matching public key.
    pub fn key_id(&self) -> u64 {
        self.key_id
    }

    /// Decrypts an aggregate: element i is the sum over the
    /// [`count`](EncryptedSum::count) updates of element i, within
    /// [`sum_tolerance`](HeParams::sum_tolerance)`(count)` of the exact sum
    /// of the f64 inputs. An aggregate of zero updates decrypts to zeros.
    ///
    /// # Security
    ///
    /// This is the one place where anything is decrypted. The owner learns
    /// the sum, and nothing else *if* the sum really holds several clients'
    /// updates: the count is the aggregator's word (semi-honest model).
    ///
    /// # Errors
    ///
    /// [`Error::KeyMismatch`] if the sum was made under another key or with
    /// other parameters.
    pub fn decrypt_sum(&self, sum: &EncryptedSum) -> Result<Vec<f64>> {
        let h = &sum.header;
        if h.key_id != self.key_id || h.params != self.params {
            return Err(Error::KeyMismatch {
                what: "encrypted sum",
                expected: self.key_id,
                got: h.key_id,
                expected_params: self.params.to_string(),
                got_params: h.params.to_string(),
            });
        }
        if sum.cts.is_empty() {
            return Ok(vec![0.0; h.len]);
        }
        let params = self.params;
        let chunks = sum
            .cts
            .par_iter()
            .enumerate()
            .map(|(i, ct)| {
                let pt = self.inner.try_decrypt(ct).map_err(backend_err("decrypt"))?;
                let slots =
                    Vec::<u64>::try_decode(&pt, Encoding::simd()).map_err(backend_err("decode"))?;
                let take = (h.len - i * DEGREE).min(DEGREE);
                Ok(slots[..take]
                    .iter()
                    .map(|&r| params.decode(r))
                    .collect::<Vec<f64>>())
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(chunks.concat())
    }

    /// [`decrypt_sum`](Self::decrypt_sum) divided by the number of updates:
    /// the federated average. An aggregate of zero updates is an
    /// [`Error::InvalidParameter`].
    pub fn decrypt_mean(&self, sum: &EncryptedSum) -> Result<Vec<f64>> {
        let n = sum.count();
        if n == 0 {
            return Err(Error::invalid("sum", "no updates were aggregated: no mean"));
        }
        let mut v = self.decrypt_sum(sum)?;
        v.iter_mut().for_each(|x| *x /= n as f64);
        Ok(v)
    }
}

const OWNER_MAGIC: [u8; 4] = *b"PMHO";
const OWNER_VERSION: u8 = 1;
const OWNER_HEADER: usize = 12;

impl KeyPair {
    /// The model owner's key file: the public key (as
    /// [`PublicKey::to_bytes`]) and the secret key, for
    /// [`from_owner_bytes`](Self::from_owner_bytes). The bytes hold the
    /// secret key: write them only to a file that only the owner can read
    /// (`privml client fed-owner` writes it 0600, atomically).
    ///
    /// # Examples
    ///
    /// ```
    /// use privml::he::{HeParams, KeyPair};
    ///
    /// let (pk, sk) = KeyPair::generate(&HeParams::default())?;
    /// let bytes = KeyPair::to_owner_bytes(&pk, &sk);
    /// let (pk2, sk2) = KeyPair::from_owner_bytes(&bytes)?;
    /// assert_eq!((pk2.key_id(), sk2.key_id()), (pk.key_id(), sk.key_id()));
    /// # Ok::<(), privml::Error>(())
    /// ```
    pub fn to_owner_bytes(pk: &PublicKey, sk: &SecretKey) -> Vec<u8> {
        let public = pk.to_bytes();
        let secret = sk.inner.to_bytes();
        let mut out = Vec::with_capacity(OWNER_HEADER + public.len() + secret.len());
        out.extend_from_slice(&OWNER_MAGIC);
        out.push(OWNER_VERSION);
        out.extend_from_slice(&[0, 0, 0]);
        out.extend_from_slice(&(public.len() as u32).to_le_bytes());
        out.extend_from_slice(&public);
        out.extend_from_slice(&secret);
        out
    }

    /// Parses [`to_owner_bytes`](Self::to_owner_bytes). Malformed bytes are
    /// [`Error::Decode`]; a secret key that does not decrypt what its
    /// public key encrypts (a file pieced together from two pairs) is
    /// [`Error::KeyMismatch`]: the pair is checked by encrypting and
    /// decrypting a test value.
    pub fn from_owner_bytes(bytes: &[u8]) -> Result<(PublicKey, SecretKey)> {
        let bad = |error: DecodeError| Error::decode("owner key file", Origin::Bytes, error);
        let field =
            |field: &'static str, reason: String| bad(DecodeError::BadField { field, reason });
        if bytes.len() < OWNER_HEADER {
            return Err(bad(DecodeError::Truncated {
                needed: OWNER_HEADER as u64,
                available: bytes.len() as u64,
            }));
        }
        if bytes[..4] != OWNER_MAGIC {
            return Err(bad(DecodeError::BadMagic {
                expected: "privml HE owner key file",
            }));
        }
        if bytes[4] != OWNER_VERSION {
            return Err(bad(DecodeError::UnsupportedVersion {
                found: bytes[4].into(),
                supported: OWNER_VERSION.into(),
            }));
        }
        if bytes[5..8] != [0, 0, 0] {
            return Err(field("reserved", "bytes 5 to 7 are not zero".into()));
        }
        let public_len = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize;
        let rest = &bytes[OWNER_HEADER..];
        if rest.len() < public_len {
            return Err(bad(DecodeError::Truncated {
                needed: (OWNER_HEADER + public_len) as u64,
                available: bytes.len() as u64,
            }));
        }
        let (public, secret) = rest.split_at(public_len);
        let pk = PublicKey::from_bytes(public)?;
        let inner = bfv::SecretKey::from_bytes(secret, bfv()?)
            .map_err(|e| field("secret key", e.to_string()))?;
        let sk = SecretKey {
            params: pk.params,
            inner,
            key_id: pk.key_id,
        };
        // The pair must match: encrypt a value under pk, decrypt with sk.
        let probe = [1.5, -2.25];
        let mut agg = super::Aggregator::new(pk.clone(), probe.len());
        agg.add("key check", &pk.encrypt_update(&probe)?)?;
        let got = sk.decrypt_sum(&agg.finish())?;
        let tol = pk.params.sum_tolerance(1);
        if got.iter().zip(&probe).any(|(g, p)| (g - p).abs() > tol) {
            return Err(Error::KeyMismatch {
                what: "owner key file's secret key",
                expected: pk.key_id,
                got: pk.key_id,
                expected_params: pk.params.to_string(),
                got_params: "a secret key of another pair".into(),
            });
        }
        Ok((pk, sk))
    }
}
