//! A round of homomorphic (BFV) aggregation with its roles in separate
//! processes: the transport-independent part of the deployed HE form
//! (`privml client fed-owner`, one `privml serve` party as the keyless
//! aggregator, `privml client federated --scheme he` sites; issue 17).
//!
//! The pieces of a round are the simulator's:
//!
//! * the aggregator checks and adds a site's ciphertext with the same
//!   [`HeRound::submit`] (envelope, round, sender, length, parameters, key,
//!   duplicates, headroom) the simulator's
//!   [`RoundAggregator`](super::RoundAggregator) calls;
//! * the sum is handed over only if at least `min_clients` were accepted
//!   ([`quorum`]);
//! * the owner opens it with [`HeRoundSum::open`] and the mean divides by
//!   the weight of the accepted sites only
//!   ([`OpenedSum::mean`](super::OpenedSum::mean)); FedAvg's step is
//!   [`apply_mean`](super::apply_mean).
//!
//! What the deployed form adds is the round's clock and bookkeeping, as
//! [`RoundIntake`](super::RoundIntake) adds it for MPC: [`HeIntake`] takes
//! submissions until every expected site was heard from or the deadline
//! passed, remembers refusals by site, and [`HeIntake::close`] applies the
//! quorum rule.
//!
//! # Disclosures
//!
//! | who | learns |
//! |---|---|
//! | aggregator (one `serve` party) | the public key, each site's header (site, round, weight, length) and ciphertext size; the accepted/refused/dropped lists; the new global model the owner posts (public to the sites by design). No update and no sum: it holds no secret key, and the type system keeps decryption away from it ([`HeRound`] has no decrypting method). |
//! | owner (the secret key's holder) | the weighted sum of the accepted sites' updates each round (never one site's update, if the aggregator is honest: the sum holds at least `min_clients` updates), the accepted list and weights |
//! | sites | the public key, the job's settings, the global model after each round, the round's public summary |
//!
//! Collusion: the owner with the aggregator can decrypt each site's
//! ciphertext; the aggregator is trusted not to hand single ciphertexts to
//! the owner (semi-honest model, see [`crate::he`]).

use std::collections::BTreeMap;
use std::time::Instant;

use super::aggregate::{AggregationRound, OpenedSum};
use super::deployed::quorum;
use super::{ClientId, HeRound, HeRoundSum};
use crate::error::{DecodeError, Error, Rejection, Result};
use crate::he::{EncryptedSum, PublicKey, SecretKey};

/// The aggregator's intake for one round of a deployed HE job: the
/// encrypted running sum of the accepted sites (a [`HeRound`]), the
/// refusals, and the round's deadline. It holds the public key only.
///
/// Nothing it returns decrypts:
///
/// ```compile_fail
/// use privml::fl::HeIntake;
/// use privml::he::{HeParams, KeyPair};
///
/// fn main() -> privml::Result<()> {
///     let (pk, _sk) = KeyPair::generate(&HeParams::default())?;
///     let intake = HeIntake::new(pk, 1, 2, 1, std::time::Instant::now());
///     let closed = intake.close(1);
///     let _sum: Vec<f64> = closed.sum.unwrap().sum.decrypt_sum()?; // only SecretKey decrypts
///     Ok(())
/// }
/// ```
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
/// use privml::fl::{ClientId, HeIntake, UpdateMeta, encrypt_update, owner_mean};
/// use privml::he::{HeParams, KeyPair};
///
/// let (pk, sk) = KeyPair::generate(&HeParams::default())?; // the owner
/// let deadline = Instant::now() + Duration::from_secs(60);
/// let mut intake = HeIntake::new(pk.clone(), 1, 2, 3, deadline); // the aggregator
/// for (k, u) in [[1.0, 2.0], [3.0, -2.0]].iter().enumerate() {
///     let meta = UpdateMeta::new(ClientId(k as u32), 1, 1);
///     intake.submit(meta.client, &encrypt_update(&pk, meta, u)?, Instant::now())?;
/// }
/// // A wrong-shape ciphertext is refused naming the site.
/// let bad = encrypt_update(&pk, UpdateMeta::new(ClientId(2), 1, 1), &[1.0])?;
/// let e = intake.submit(ClientId(2), &bad, Instant::now()).unwrap_err();
/// assert!(e.to_string().contains("client-2"));
/// let closed = intake.close(2);
/// let sum = closed.sum.expect("two sites: the quorum is met");
/// let mean = owner_mean(&sk, &sum, 2)?; // only the owner
/// assert!((mean[0] - 2.0).abs() < 1e-4 && mean[1].abs() < 1e-4);
/// # Ok::<(), privml::Error>(())
/// ```
#[derive(Debug)]
pub struct HeIntake {
    round: HeRound,
    number: u32,
    expected: usize,
    deadline: Instant,
    refused: BTreeMap<u32, Rejection>,
}

/// What the aggregator has at the end of a round.
#[derive(Debug)]
pub struct HeClosed {
    /// The round.
    pub round: u32,
    /// The sites whose ciphertexts were added, with their weights.
    pub accepted: Vec<(ClientId, u32)>,
    /// The refused sites and why.
    pub refused: Vec<(ClientId, Rejection)>,
    /// The encrypted sum for the owner, if at least `min_clients` sites
    /// were accepted; `None` otherwise (nothing is handed over, the model
    /// stays as it is).
    pub sum: Option<HeRoundSum>,
}

impl HeIntake {
    /// An empty intake of round `round` for updates of `len` values under
    /// `pk`, expecting `expected` sites, open until `deadline`.
    pub fn new(pk: PublicKey, round: u32, len: usize, expected: usize, deadline: Instant) -> Self {
        HeIntake {
            round: HeRound::new(pk, round, len),
            number: round,
            expected,
            deadline,
            refused: BTreeMap::new(),
        }
    }

    /// The round.
    pub fn round(&self) -> u32 {
        self.number
    }

    /// When the round stops taking submissions.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// `client`'s message (one federated envelope around its ciphertexts):
    /// checked and added by [`HeRound::submit`], or refused with
    /// [`Error::UpdateRejected`] naming the client and remembered. A second
    /// message of a client, after a refusal or an acceptance, is refused
    /// as a duplicate; so is anything after the deadline.
    pub fn submit(&mut self, client: ClientId, bytes: &[u8], now: Instant) -> Result<()> {
        let reject = |reason: Rejection| Error::UpdateRejected {
            client: client.to_string(),
            reason,
        };
        let known = self.round.accepted().iter().any(|(c, _)| *c == client)
            || self.refused.contains_key(&client.0);
        if known {
            return Err(reject(Rejection::Duplicate));
        }
        if now >= self.deadline {
            let reason = Rejection::Malformed(DecodeError::BadField {
                field: "round",
                reason: format!("round {} closed at its deadline", self.number),
            });
            self.refused.insert(client.0, reason.clone());
            return Err(reject(reason));
        }
        match self.round.submit(client, &[bytes]) {
            Ok(()) => Ok(()),
            Err(Error::UpdateRejected { client: c, reason }) => {
                self.refused.insert(client.0, reason.clone());
                Err(Error::UpdateRejected { client: c, reason })
            }
            Err(e) => Err(e),
        }
    }

    /// Sites heard from (accepted or refused).
    pub fn heard(&self) -> usize {
        self.round.count() + self.refused.len()
    }

    /// Whether the round takes no more submissions: every expected site
    /// was heard from, or the deadline passed.
    pub fn is_closed(&self, now: Instant) -> bool {
        self.heard() >= self.expected || now >= self.deadline
    }

    /// Ends the round: the encrypted sum of the accepted sites if there
    /// are at least `min_clients` of them ([`quorum`], the simulator's
    /// rule).
    pub fn close(self, min_clients: usize) -> HeClosed {
        // In site order (arrival order says when each site submitted).
        let mut accepted = self.round.accepted().to_vec();
        accepted.sort_unstable();
        let refused = self
            .refused
            .into_iter()
            .map(|(c, r)| (ClientId(c), r))
            .collect();
        let sum = quorum(accepted.len(), min_clients).then(|| {
            let mut sum = self.round.finish();
            sum.accepted.sort_unstable();
            sum
        });
        HeClosed {
            round: self.number,
            accepted,
            refused,
            sum,
        }
    }
}

/// Rebuilds, on the owner's side, the round's encrypted sum the aggregator
/// sent: the bytes of the [`EncryptedSum`] of `len` values and the
/// accepted sites with their weights. The sum must hold exactly one
/// update per accepted site.
pub fn received_sum(
    bytes: &[u8],
    len: usize,
    accepted: Vec<(ClientId, u32)>,
) -> Result<HeRoundSum> {
    let sum = EncryptedSum::from_bytes(bytes, len)?;
    if sum.count() != accepted.len() {
        return Err(Error::invalid(
            "encrypted sum",
            format!(
                "it holds {} updates, the aggregator lists {} accepted sites",
                sum.count(),
                accepted.len()
            ),
        ));
    }
    let total_weight = accepted.iter().map(|(_, w)| u64::from(*w)).sum();
    Ok(HeRoundSum {
        sum,
        accepted,
        total_weight,
        bytes_from_clients: 0,
    })
}

/// Owner side: decrypts the round's sum with the secret key and returns the
/// weighted mean update (Σ w_k Δ_k / Σ w_k over the accepted sites). A sum
/// of fewer than `min_clients` updates is refused before anything is
/// decrypted (it could be one site's update).
pub fn owner_mean(sk: &SecretKey, sum: &HeRoundSum, min_clients: usize) -> Result<Vec<f64>> {
    if !quorum(sum.sum.count(), min_clients) || !quorum(sum.accepted.len(), min_clients) {
        return Err(Error::invalid(
            "encrypted sum",
            format!(
                "it holds {} updates, fewer than min_clients = {min_clients}: not decrypted",
                sum.sum.count()
            ),
        ));
    }
    let opened: OpenedSum = sum.open(sk)?;
    opened.mean()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fl::{UpdateMeta, encrypt_update};
    use crate::he::{HeParams, KeyPair};
    use std::time::Duration;

    #[test]
    fn quorum_deadline_duplicates_and_the_owner_round_trip() {
        let (pk, sk) = KeyPair::generate(&HeParams::default()).unwrap();
        let far = Instant::now() + Duration::from_secs(3600);
        let mut i = HeIntake::new(pk.clone(), 1, 3, 3, far);
        let m = |k: u32, u: &[f64]| encrypt_update(&pk, UpdateMeta::new(ClientId(k), 1, 2), u);
        i.submit(
            ClientId(0),
            &m(0, &[1.0, 2.0, 3.0]).unwrap(),
            Instant::now(),
        )
        .unwrap();
        let e = i
            .submit(
                ClientId(0),
                &m(0, &[1.0, 2.0, 3.0]).unwrap(),
                Instant::now(),
            )
            .unwrap_err();
        assert!(e.to_string().contains("client-0"), "{e}");
        assert!(!i.is_closed(Instant::now()));
        i.submit(
            ClientId(1),
            &m(1, &[3.0, 0.0, -1.0]).unwrap(),
            Instant::now(),
        )
        .unwrap();
        assert_eq!(i.heard(), 2);
        // Another round's message is refused.
        let other = encrypt_update(&pk, UpdateMeta::new(ClientId(2), 2, 1), &[0.0; 3]).unwrap();
        assert!(i.submit(ClientId(2), &other, Instant::now()).is_err());
        assert!(i.is_closed(Instant::now()));
        let closed = i.close(2);
        assert_eq!(closed.accepted, vec![(ClientId(0), 2), (ClientId(1), 2)]);
        assert_eq!(closed.refused.len(), 1);
        let sum = closed.sum.unwrap();
        let back = received_sum(&sum.sum.to_bytes(), 3, sum.accepted.clone()).unwrap();
        let mean = owner_mean(&sk, &back, 2).unwrap();
        for (g, w) in mean.iter().zip([2.0, 1.0, 1.0]) {
            assert!(
                (g - w).abs() <= HeParams::default().sum_tolerance(2),
                "{g} vs {w}"
            );
        }
        // Another key does not open it.
        let (_, other_sk) = KeyPair::generate(&HeParams::default()).unwrap();
        assert!(matches!(
            owner_mean(&other_sk, &back, 2),
            Err(Error::KeyMismatch { .. })
        ));
        // The owner refuses a sum below the quorum.
        assert!(owner_mean(&sk, &back, 3).is_err());
        // A list that does not match the count is refused.
        assert!(received_sum(&sum.sum.to_bytes(), 3, vec![(ClientId(0), 2)]).is_err());
    }

    #[test]
    fn below_the_quorum_nothing_is_handed_over_and_late_is_refused() {
        let (pk, _sk) = KeyPair::generate(&HeParams::default()).unwrap();
        let t0 = Instant::now();
        let mut i = HeIntake::new(pk.clone(), 1, 1, 2, t0);
        assert!(i.is_closed(t0));
        let m = encrypt_update(&pk, UpdateMeta::new(ClientId(0), 1, 1), &[1.0]).unwrap();
        let e = i.submit(ClientId(0), &m, t0).unwrap_err();
        assert!(e.to_string().contains("deadline"), "{e}");
        let closed = i.close(1);
        assert!(closed.sum.is_none());
        assert!(closed.accepted.is_empty());
    }

    #[test]
    fn the_owner_key_file_round_trips_and_a_mixed_pair_is_refused() {
        let p = HeParams::default();
        let (pk, sk) = KeyPair::generate(&p).unwrap();
        let (pk2, sk2) = KeyPair::generate(&p).unwrap();
        let bytes = KeyPair::to_owner_bytes(&pk, &sk);
        let (a, b) = KeyPair::from_owner_bytes(&bytes).unwrap();
        assert_eq!(a.to_bytes(), pk.to_bytes());
        assert_eq!(b.key_id(), pk.key_id());
        let mixed = KeyPair::to_owner_bytes(&pk, &sk2);
        assert!(KeyPair::from_owner_bytes(&mixed).is_err());
        let _ = pk2;
        assert!(KeyPair::from_owner_bytes(&bytes[..bytes.len() / 2]).is_err());
    }
}
