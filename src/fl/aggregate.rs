//! The one interface every aggregation method implements: what clients do
//! with an update ([`AggregationScheme`]) and what the servers do with the
//! protected updates of a round ([`AggregationRound`]).
//!
//! | | scheme (public: clients and servers hold it) | round (the servers) | opener |
//! |---|---|---|---|
//! | secret sharing | [`ShareParams`](super::ShareParams) | [`MpcRound`](super::MpcRound): three servers | `()`: the servers reveal together |
//! | homomorphic | [`PublicKey`](crate::he::PublicKey) | [`HeRound`](super::HeRound): one keyless aggregator | the owner's [`SecretKey`](crate::he::SecretKey) |
//! | cleartext reference | [`Cleartext`](super::Cleartext) | [`PlainRound`](super::PlainRound): one trusted server | `()` |
//!
//! A round driver written against these traits (as
//! [`RoundAggregator`](super::RoundAggregator) is) runs any method. The
//! split follows the roles, so it carries over to parties in separate
//! processes: a client holds only the scheme and sends `messages[i]` to
//! server i; the servers hold the round; only the holder of the opener
//! opens it (for HE the aggregator sends [`HeRound::finish`](super::HeRound::finish)'s
//! encrypted sum to the owner, who calls
//! [`HeRoundSum::open`](super::HeRoundSum::open)).

use super::wire::{self, Header, Kind};
use super::{ClientId, UpdateMeta};
use crate::error::{Error, Rejection, Result};

/// The public side of an aggregation method: the parameters (and, for HE,
/// the public key) that clients and servers share. Clients
/// [`protect`](Self::protect) their updates with it; servers
/// [`start_round`](Self::start_round)s with it.
///
/// # Examples
///
/// The same code runs a round of any method:
///
/// ```
/// use privml::fl::{AggregationRound, AggregationScheme, Cleartext, ClientId, ShareParams, UpdateMeta};
///
/// fn mean<S: AggregationScheme>(scheme: &S, opener: &<S::Round as AggregationRound>::Opener) -> privml::Result<Vec<f64>> {
///     let mut round = scheme.start_round(1, 2)?;
///     for (k, update) in [[1.0, 2.0], [3.0, -2.0]].iter().enumerate() {
///         let meta = UpdateMeta::new(ClientId(k as u32), 1, 1);
///         let messages = scheme.protect(meta, update)?; // one per server
///         let messages: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
///         round.submit(meta.client, &messages)?;
///     }
///     round.open(opener)?.mean()
/// }
///
/// let mpc = mean(&ShareParams::default(), &())?;
/// let plain = mean(&Cleartext, &())?;
/// assert_eq!(plain, vec![2.0, 0.0]);
/// assert!(mpc.iter().zip(&plain).all(|(a, b)| (a - b).abs() < 1e-4));
/// # Ok::<(), privml::Error>(())
/// ```
pub trait AggregationScheme {
    /// The servers' side of a round of this method.
    type Round: AggregationRound;

    /// Client side: `update` times `meta.weight`, protected and serialised
    /// as the messages the client sends, `messages[i]` to server i (three
    /// for secret sharing, one otherwise). A value that cannot be protected
    /// (not finite, or beyond the headroom of the encoding) is an error
    /// naming the client, raised before anything is sent.
    fn protect(&self, meta: UpdateMeta, update: &[f64]) -> Result<Vec<Vec<u8>>>;

    /// Servers' side: an empty round `round` for updates of `len` values.
    fn start_round(&self, round: u32, len: usize) -> Result<Self::Round>;

    /// Guaranteed bound on |opened sum − exact sum of the weighted f64
    /// updates| per element, for a sum of `clients` updates: the rounding
    /// of each update to the fixed-point grid (0 for the cleartext
    /// reference).
    fn sum_tolerance(&self, clients: usize) -> f64;
}

/// The servers' side of one round of aggregation: submissions are checked
/// and added one by one, refused ones leave the sum untouched, and at the
/// end the aggregate is opened to whoever holds the
/// [`Opener`](Self::Opener).
pub trait AggregationRound {
    /// What opening the aggregate takes besides the round itself: `()`
    /// where the servers open it themselves (secret sharing, the cleartext
    /// reference), the model owner's [`SecretKey`](crate::he::SecretKey)
    /// for HE (the aggregator holds none).
    type Opener: ?Sized;

    /// Checks and adds `client`'s submission, `messages[i]` for server i.
    /// `client` is who the transport says sent it; the messages must name
    /// the same client. A refusal is [`Error::UpdateRejected`] naming the
    /// client, and the sum is as it was; any other error is the caller's
    /// (a wrong number of messages) or a failure of the servers.
    fn submit(&mut self, client: ClientId, messages: &[&[u8]]) -> Result<()>;

    /// The accepted clients and their weights, in order.
    fn accepted(&self) -> &[(ClientId, u32)];

    /// Bytes each server received from clients so far (accepted or not).
    fn bytes_from_clients(&self) -> &[u64];

    /// Ends the round and opens the sum of the accepted updates.
    ///
    /// # Security
    ///
    /// This is the round's one disclosure: whoever opens learns the
    /// weighted sum (and the public list of clients and weights). With a
    /// single accepted update the "sum" is that update: require a minimum
    /// [`count`](Self::count) first, as
    /// [`RoundAggregator`](super::RoundAggregator) does.
    fn open(self, opener: &Self::Opener) -> Result<OpenedSum>
    where
        Self: Sized;

    /// Number of accepted updates.
    fn count(&self) -> usize {
        self.accepted().len()
    }

    /// Σ weights of the accepted updates.
    fn total_weight(&self) -> u64 {
        self.accepted().iter().map(|(_, w)| u64::from(*w)).sum()
    }
}

/// The opened aggregate of a round.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenedSum {
    /// Σ_k weight_k · update_k over the accepted clients (decoded).
    pub sum: Vec<f64>,
    /// The accepted clients and their weights.
    pub accepted: Vec<(ClientId, u32)>,
    /// Σ_k weight_k.
    pub total_weight: u64,
    /// Bytes each server received from clients this round (accepted or not).
    pub bytes_from_clients: Vec<u64>,
    /// Bytes each server sent to open the sum: its share of the reveal
    /// (MPC), the encrypted sum to the owner (HE), nothing (cleartext).
    pub bytes_server_out: Vec<u64>,
}

impl OpenedSum {
    /// The weighted mean Σ w_k u_k / Σ w_k; an error if nothing was accepted.
    pub fn mean(&self) -> Result<Vec<f64>> {
        if self.total_weight == 0 {
            return Err(Error::invalid(
                "aggregate",
                "no updates were accepted: no mean",
            ));
        }
        let w = self.total_weight as f64;
        Ok(self.sum.iter().map(|s| s / w).collect())
    }
}

/// `client`'s submission refused for a reason: the error every aggregator
/// returns, the sum untouched.
pub(super) fn refusal(client: ClientId) -> impl Fn(Rejection) -> Error {
    move |reason| Error::UpdateRejected {
        client: client.to_string(),
        reason,
    }
}

/// The bookkeeping of a round with one server (the cleartext reference and
/// HE aggregation): the accepted clients with their weights, and the bytes
/// received, accepted or not.
#[derive(Debug, Default)]
pub(super) struct Intake {
    pub(super) accepted: Vec<(ClientId, u32)>,
    pub(super) bytes_in: u64,
}

impl Intake {
    /// Counts a submission's bytes and decodes its envelope for `(kind,
    /// round)` from `client`. Anything but exactly one message is the
    /// caller's mistake (`method` names the aggregation in that error); an
    /// envelope that does not fit is [`Error::UpdateRejected`] naming the
    /// client.
    pub(super) fn receive<'m>(
        &mut self,
        method: &str,
        messages: &[&'m [u8]],
        (kind, round): (Kind, u32),
        client: ClientId,
    ) -> Result<(Header, &'m [u8])> {
        let [bytes] = messages else {
            return Err(Error::invalid(
                "messages",
                format!(
                    "{method} takes one message (one server), got {}",
                    messages.len()
                ),
            ));
        };
        self.bytes_in += bytes.len() as u64;
        wire::decode_submission(bytes, kind, round, client.0).map_err(refusal(client))
    }

    /// Refuses a second submission of `client` in this round.
    pub(super) fn check_new(&self, client: ClientId) -> Result<()> {
        if self.accepted.iter().any(|(c, _)| *c == client) {
            return Err(refusal(client)(Rejection::Duplicate));
        }
        Ok(())
    }

    /// Records `client`'s accepted update of `weight`.
    pub(super) fn accept(&mut self, client: ClientId, weight: u32) {
        self.accepted.push((client, weight));
    }
}
