//! Homomorphic aggregation of federated updates with [`crate::he`]: clients
//! encrypt under the model owner's public key, a keyless aggregator adds
//! ciphertexts, the owner decrypts the sum only.

use super::aggregate::{AggregationRound, AggregationScheme, Intake, OpenedSum, refusal};
use super::wire::{self, Header, Kind};
use super::{ClientId, UpdateMeta};
use crate::error::{DecodeError, Error, Rejection, Result};
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
/// use privml::fl::{AggregationRound, ClientId, HeRound, UpdateMeta, encrypt_update};
/// use privml::he::{HeParams, KeyPair};
///
/// fn main() -> privml::Result<()> {
///     let (pk, _sk) = KeyPair::generate(&HeParams::default())?;
///     let mut round = HeRound::new(pk.clone(), 1, 2);
///     round.submit(ClientId(0), &[&encrypt_update(&pk, UpdateMeta::new(ClientId(0), 1, 1), &[1.0, 2.0])?])?;
///     let sum = round.finish();
///     let _plain: Vec<f64> = sum.sum.decrypt_sum()?; // no such method: only SecretKey decrypts
///     Ok(())
/// }
/// ```
///
/// Opening the round takes the owner's secret key, nothing the aggregator
/// holds:
///
/// ```compile_fail
/// use privml::fl::{AggregationRound, ClientId, HeRound, UpdateMeta, encrypt_update};
/// use privml::he::{HeParams, KeyPair};
///
/// fn main() -> privml::Result<()> {
///     let (pk, _sk) = KeyPair::generate(&HeParams::default())?;
///     let mut round = HeRound::new(pk.clone(), 1, 2);
///     round.submit(ClientId(0), &[&encrypt_update(&pk, UpdateMeta::new(ClientId(0), 1, 1), &[1.0, 2.0])?])?;
///     let _opened = round.open(&pk)?; // the public key does not open it
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
/// use privml::fl::{AggregationRound, ClientId, HeRound, UpdateMeta, encrypt_update};
/// use privml::he::{HeParams, KeyPair};
///
/// let (pk, sk) = KeyPair::generate(&HeParams::default())?; // model owner
/// let mut round = HeRound::new(pk.clone(), 1, 2); // aggregator
/// for (k, u) in [[1.0, 2.0], [3.0, -2.0]].iter().enumerate() {
///     let meta = UpdateMeta::new(ClientId(k as u32), 1, 1);
///     round.submit(meta.client, &[&encrypt_update(&pk, meta, u)?])?;
/// }
/// let sum = round.finish(); // aggregator → owner: the encrypted sum
/// let mean = sum.decrypt_mean(&sk)?; // owner
/// assert!((mean[0] - 2.0).abs() < 1e-4 && mean[1].abs() < 1e-4);
/// # Ok::<(), privml::Error>(())
/// ```
#[derive(Debug)]
pub struct HeRound {
    agg: Aggregator,
    round: u32,
    intake: Intake,
}

/// The encrypted sum of a round, with the public list of whose updates it
/// holds: what the aggregator sends to the model owner. Only
/// [`open`](Self::open) (or [`decrypt_mean`](Self::decrypt_mean)) with the
/// owner's [`SecretKey`] opens it.
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
    /// Owner side: decrypts the sum. An error if the key does not match.
    ///
    /// # Security
    ///
    /// The owner learns the weighted sum of the accepted updates, and
    /// nothing else provided the aggregator does not collude with it.
    pub fn open(&self, sk: &SecretKey) -> Result<OpenedSum> {
        Ok(OpenedSum {
            sum: sk.decrypt_sum(&self.sum)?,
            accepted: self.accepted.clone(),
            total_weight: self.total_weight,
            bytes_from_clients: vec![self.bytes_from_clients],
            bytes_server_out: vec![self.sum.byte_len() as u64],
        })
    }

    /// Owner side: decrypts the sum and divides by the total weight. An
    /// error if nothing was accepted or the key does not match.
    pub fn decrypt_mean(&self, sk: &SecretKey) -> Result<Vec<f64>> {
        self.open(sk)?.mean()
    }
}

impl HeRound {
    /// An empty round `round` for updates of `len` values under `pk`.
    pub fn new(pk: PublicKey, round: u32, len: usize) -> Self {
        HeRound {
            agg: Aggregator::new(pk, len),
            round,
            intake: Intake::default(),
        }
    }

    /// The public key submissions must be encrypted under.
    pub fn public_key(&self) -> &PublicKey {
        self.agg.public_key()
    }

    /// Ends the round: the encrypted sum for the model owner.
    pub fn finish(self) -> HeRoundSum {
        let total_weight = self.total_weight();
        HeRoundSum {
            sum: self.agg.finish(),
            accepted: self.intake.accepted,
            total_weight,
            bytes_from_clients: self.intake.bytes_in,
        }
    }
}

impl AggregationScheme for PublicKey {
    type Round = HeRound;

    /// One message: [`encrypt_update`].
    fn protect(&self, meta: UpdateMeta, update: &[f64]) -> Result<Vec<Vec<u8>>> {
        Ok(vec![encrypt_update(self, meta, update)?])
    }

    fn start_round(&self, round: u32, len: usize) -> Result<HeRound> {
        Ok(HeRound::new(self.clone(), round, len))
    }

    fn sum_tolerance(&self, clients: usize) -> f64 {
        self.params().sum_tolerance(clients)
    }
}

impl AggregationRound for HeRound {
    /// The model owner's key: the aggregator cannot open what it sums.
    type Opener = SecretKey;

    /// Checks and adds `client`'s submission, exactly one message. Refused
    /// with [`Error::UpdateRejected`] naming the client, the sum untouched,
    /// if the envelope or the ciphertext is malformed, names another round
    /// or client, has the wrong length, parameters or key, or repeats a
    /// client.
    fn submit(&mut self, client: ClientId, messages: &[&[u8]]) -> Result<()> {
        let (h, body) = self.intake.receive(
            "homomorphic aggregation",
            messages,
            (Kind::Encrypted, self.round),
            client,
        )?;
        let reject = refusal(client);
        let update = match EncryptedUpdate::from_bytes(body) {
            Ok(u) => u,
            Err(Error::Decode { error, .. }) => return Err(reject(Rejection::Malformed(error))),
            Err(e) => return Err(e),
        };
        if update.len() as u64 != h.len {
            return Err(reject(Rejection::Malformed(DecodeError::BadField {
                field: "number of values",
                reason: format!(
                    "the header says {} values, the ciphertexts hold {}",
                    h.len,
                    update.len()
                ),
            })));
        }
        // The he aggregator checks length, parameters, key, duplicates and
        // headroom before it touches the sum.
        self.agg.add(&client.to_string(), &update)?;
        self.intake.accept(client, h.weight);
        Ok(())
    }

    fn accepted(&self) -> &[(ClientId, u32)] {
        &self.intake.accepted
    }

    fn bytes_from_clients(&self) -> &[u64] {
        std::slice::from_ref(&self.intake.bytes_in)
    }

    /// [`finish`](HeRound::finish) (the aggregator) then
    /// [`HeRoundSum::open`] (the owner, with its secret key), in one call
    /// for a simulation that holds both roles.
    fn open(self, sk: &SecretKey) -> Result<OpenedSum> {
        self.finish().open(sk)
    }
}
