//! Homomorphic aggregation of federated updates with [`crate::he`]: clients
//! encrypt under the model owner's public key, a keyless aggregator adds
//! ciphertexts, the owner decrypts the sum only.

use super::wire::{self, Header, Kind};
use super::{ClientId, UpdateMeta};
use crate::error::{Error, Rejection, Result};
use crate::he::{Aggregator, EncryptedSum, EncryptedUpdate, PublicKey, SecretKey};

/// Client side: encrypts `update` (times `meta.weight`) under the owner's
/// public key and wraps it in the federated envelope (client, round,
/// weight). A value that is not finite or whose `max_clients`-fold sum
/// could wrap is [`Error::UpdateOutOfRange`] naming the client.
///
/// # Security
///
/// BFV ciphertexts (IND-CPA under Ring-LWE): the aggregator learns the
/// header and the size, nothing about the values. See [`crate::he`].
pub fn encrypt_update(pk: &PublicKey, meta: UpdateMeta, update: &[f64]) -> Result<Vec<u8>> {
    let values = meta.weighted(update)?;
    let values = &values[..];
    let params = pk.params();
    let enc = pk.encrypt_update(values).map_err(|e| match e {
        Error::NonFinite { value, index } | Error::OutOfRange { value, index, .. } => {
            Error::UpdateOutOfRange {
                client: meta.client.to_string(),
                index,
                value,
                limit: params.max_abs_value(),
                max_clients: params.max_clients(),
            }
        }
        other => other,
    })?;
    let header = Header::of_update(Kind::Encrypted, meta, params.frac_bits(), values.len());
    Ok(wire::encode(&header, &[&enc.to_bytes()]))
}

/// One round of homomorphic aggregation: the aggregator's side. It holds
/// the owner's public key and nothing that decrypts.
///
/// ```compile_fail
/// use privml::fl::{ClientId, HeRound, UpdateMeta, encrypt_update};
/// use privml::he::{HeParams, KeyPair};
///
/// fn main() -> privml::Result<()> {
///     let (pk, _sk) = KeyPair::generate(&HeParams::default())?;
///     let mut round = HeRound::new(pk.clone(), 1, 2);
///     round.submit(ClientId(0), &encrypt_update(&pk, UpdateMeta::new(ClientId(0), 1, 1), &[1.0, 2.0])?)?;
///     let sum = round.finish();
///     let _plain: Vec<f64> = sum.sum.decrypt_sum()?; // no such method: only SecretKey decrypts
///     Ok(())
/// }
/// ```
///
/// Nor does anything in it turn into a secret key:
///
/// ```compile_fail
/// use privml::fl::HeRound;
/// use privml::he::{HeParams, KeyPair, SecretKey};
///
/// fn main() -> privml::Result<()> {
///     let (pk, _sk) = KeyPair::generate(&HeParams::default())?;
///     let round = HeRound::new(pk, 1, 2);
///     let _sk: SecretKey = round.public_key().clone().into();
///     Ok(())
/// }
/// ```
///
/// # Examples
///
/// ```
/// use privml::fl::{ClientId, HeRound, UpdateMeta, encrypt_update};
/// use privml::he::{HeParams, KeyPair};
///
/// let (pk, sk) = KeyPair::generate(&HeParams::default())?; // model owner
/// let mut round = HeRound::new(pk.clone(), 1, 2); // aggregator
/// for (k, u) in [[1.0, 2.0], [3.0, -2.0]].iter().enumerate() {
///     let meta = UpdateMeta::new(ClientId(k as u32), 1, 1);
///     round.submit(meta.client, &encrypt_update(&pk, meta, u)?)?;
/// }
/// let mean = round.finish().decrypt_mean(&sk)?; // owner
/// assert!((mean[0] - 2.0).abs() < 1e-4 && mean[1].abs() < 1e-4);
/// # Ok::<(), privml::Error>(())
/// ```
#[derive(Debug)]
pub struct HeRound {
    agg: Aggregator,
    round: u32,
    accepted: Vec<(ClientId, u32)>,
    bytes_in: u64,
}

/// The encrypted sum of a round, with the public list of whose updates it
/// holds: only [`decrypt_mean`](Self::decrypt_mean) with the owner's
/// [`SecretKey`] opens it.
#[derive(Debug, Clone)]
pub struct HeRoundSum {
    /// The encrypted Σ_k weight_k · update_k.
    pub sum: EncryptedSum,
    /// The accepted clients and their weights.
    pub accepted: Vec<(ClientId, u32)>,
    /// Σ_k weight_k.
    pub total_weight: u64,
    /// Bytes the aggregator received from clients (accepted or not).
    pub bytes_from_clients: u64,
}

impl HeRoundSum {
    /// Owner side: decrypts the sum and divides by the total weight. An
    /// error if nothing was accepted or the key does not match.
    ///
    /// # Security
    ///
    /// The owner learns the weighted sum of the accepted updates, and
    /// nothing else provided the aggregator does not collude with it.
    pub fn decrypt_mean(&self, sk: &SecretKey) -> Result<Vec<f64>> {
        if self.total_weight == 0 {
            return Err(Error::invalid(
                "aggregate",
                "no updates were accepted: no mean",
            ));
        }
        let w = self.total_weight as f64;
        Ok(sk.decrypt_sum(&self.sum)?.iter().map(|s| s / w).collect())
    }
}

impl HeRound {
    /// An empty round `round` for updates of `len` values under `pk`.
    pub fn new(pk: PublicKey, round: u32, len: usize) -> Self {
        HeRound {
            agg: Aggregator::new(pk, len),
            round,
            accepted: Vec::new(),
            bytes_in: 0,
        }
    }

    /// The public key submissions must be encrypted under.
    pub fn public_key(&self) -> &PublicKey {
        self.agg.public_key()
    }

    /// Number of accepted updates.
    pub fn count(&self) -> usize {
        self.accepted.len()
    }

    /// The accepted clients and their weights.
    pub fn accepted(&self) -> &[(ClientId, u32)] {
        &self.accepted
    }

    /// Bytes received so far.
    pub fn bytes_from_clients(&self) -> u64 {
        self.bytes_in
    }

    /// Checks and adds `client`'s submission. Refused with
    /// [`Error::UpdateRejected`] naming the client, the sum untouched, if the
    /// envelope or the ciphertext is malformed, names another round or
    /// client, has the wrong length, parameters or key, or repeats a client.
    pub fn submit(&mut self, client: ClientId, bytes: &[u8]) -> Result<()> {
        self.bytes_in += bytes.len() as u64;
        let reject = |reason| Error::UpdateRejected {
            client: client.to_string(),
            reason,
        };
        let (h, body) = wire::decode_submission(bytes, Kind::Encrypted, self.round, client.0)
            .map_err(reject)?;
        let update = EncryptedUpdate::from_bytes(body).map_err(|e| {
            reject(Rejection::Malformed {
                reason: e.to_string(),
            })
        })?;
        if update.len() as u64 != h.len {
            return Err(reject(Rejection::Malformed {
                reason: format!(
                    "the header says {} values, the ciphertexts hold {}",
                    h.len,
                    update.len()
                ),
            }));
        }
        // The he aggregator checks length, parameters, key, duplicates and
        // headroom before it touches the sum.
        self.agg.add(&client.to_string(), &update)?;
        self.accepted.push((client, h.weight));
        Ok(())
    }

    /// Ends the round: the encrypted sum for the model owner.
    pub fn finish(self) -> HeRoundSum {
        let total_weight = self.accepted.iter().map(|(_, w)| *w as u64).sum();
        HeRoundSum {
            sum: self.agg.finish(),
            accepted: self.accepted,
            total_weight,
            bytes_from_clients: self.bytes_in,
        }
    }
}
