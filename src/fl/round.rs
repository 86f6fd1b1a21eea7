//! One aggregation round, whichever the method: the driver the training
//! loop and the benchmark use, written once against
//! [`AggregationScheme`] and [`AggregationRound`].

use std::marker::PhantomData;
use std::time::{Duration, Instant};

use super::aggregate::{AggregationRound, AggregationScheme};
use super::plain::Cleartext;
use super::secure::ShareParams;
use super::{Aggregation, ClientId, UpdateMeta};
use crate::error::{Error, Result};
#[cfg(feature = "he")]
use crate::he::{HeParams, KeyPair};

/// Options of the aggregation shared by all methods.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AggregationOptions {
    /// Fraction bits of the fixed-point encoding (MPC and HE).
    pub frac_bits: u32,
    /// Clients the encoding leaves headroom for (MPC and HE).
    pub max_clients: u32,
    /// How MPC clients write their shares.
    pub share_encoding: super::ShareEncoding,
    /// A round with fewer accepted updates than this reveals nothing (the
    /// model stays as it is): a "sum" of one update is that update.
    pub min_clients: usize,
}

impl Default for AggregationOptions {
    fn default() -> Self {
        AggregationOptions {
            frac_bits: 16,
            max_clients: 1024,
            share_encoding: super::ShareEncoding::Explicit,
            min_clients: 2,
        }
    }
}

/// What a faulty client does to its submission (to exercise the
/// aggregators' checks end to end).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Submits one value too few (a wrong-shape update, well formed).
    WrongShape,
    /// One byte of its (first server's) message is flipped in transit.
    Corrupted,
    /// Submits an update tagged with the previous round.
    StaleRound,
}

/// One client's update for a round, as the client holds it.
#[derive(Debug, Clone, Copy)]
pub struct ClientUpdate<'a> {
    /// Who, which round, which weight.
    pub meta: UpdateMeta,
    /// The update (new − global parameters).
    pub values: &'a [f64],
    /// Misbehaviour to simulate, if any.
    pub fault: Option<Fault>,
}

/// A refused or failed client in a round.
#[derive(Debug)]
pub struct Refusal {
    /// The client.
    pub client: ClientId,
    /// Why: [`Error::UpdateRejected`] from the aggregator, or the client's
    /// own failure to protect its update (for example
    /// [`Error::UpdateOutOfRange`]).
    pub error: Error,
}

/// The outcome of one aggregation round.
#[derive(Debug)]
pub struct RoundOutcome {
    /// The weighted mean of the accepted updates; `None` if fewer than
    /// `min_clients` were accepted (nothing was revealed or decrypted).
    pub mean: Option<Vec<f64>>,
    /// Accepted clients and their weights.
    pub accepted: Vec<(ClientId, u32)>,
    /// Refused clients.
    pub refused: Vec<Refusal>,
    /// Σ weights of the accepted clients.
    pub total_weight: u64,
    /// Upload of one client (all its messages; the largest if they differ).
    pub bytes_per_client: u64,
    /// Bytes each server received from clients (3 servers for MPC, one
    /// aggregator otherwise).
    pub bytes_from_clients: Vec<u64>,
    /// Bytes each server sent after the clients: the reveal among the three
    /// MPC servers, the encrypted sum to the model owner for HE.
    pub bytes_server_out: Vec<u64>,
    /// Client time to protect and serialise the updates, summed over clients.
    pub time_clients: Duration,
    /// Server time to check and add every submission (all servers).
    pub time_servers: Duration,
    /// Time to open the aggregate: the MPC reveal, or the HE decryption
    /// (and the division by the total weight).
    pub time_open: Duration,
    /// Largest |mean − plaintext weighted mean of the same accepted
    /// updates| (0 when nothing was revealed).
    pub deviation: f64,
    /// The bound the deviation must respect: k · 2^−(f+1) / Σw for k
    /// accepted updates (rounding to the fixed-point grid), 1e-9 relative
    /// for the plaintext reference.
    pub tolerance: f64,
}

/// Runs aggregation rounds with one method: holds its parameters (and, for
/// HE, the model owner's keys, generated once).
///
/// This simulates every role in one process; the role types it drives
/// (the [`AggregationScheme`] clients protect with, the
/// [`AggregationRound`] the servers run, the opener only the owner holds)
/// keep the roles' knowledge apart. Every method goes through the same
/// code: only [`new`](Self::new) knows which one it is.
///
/// # Examples
///
/// ```
/// use privml::fl::{Aggregation, AggregationOptions, ClientId, ClientUpdate, RoundAggregator, UpdateMeta};
///
/// let agg = RoundAggregator::new(Aggregation::Mpc, 2, &AggregationOptions::default())?;
/// let a = [1.0, 2.0];
/// let b = [3.0, 0.0];
/// let updates = [
///     ClientUpdate { meta: UpdateMeta::new(ClientId(0), 1, 1), values: &a, fault: None },
///     ClientUpdate { meta: UpdateMeta::new(ClientId(1), 1, 3), values: &b, fault: None },
/// ];
/// let out = agg.run(1, &updates)?;
/// let mean = out.mean.expect("two clients");
/// assert!((mean[0] - 2.5).abs() < 1e-4 && (mean[1] - 0.5).abs() < 1e-4); // weights 1 and 3
/// assert!(out.deviation <= out.tolerance);
/// # Ok::<(), privml::Error>(())
/// ```
#[derive(Debug)]
pub struct RoundAggregator {
    aggregation: Aggregation,
    len: usize,
    opts: AggregationOptions,
    method: Box<dyn RunRound>,
}

impl RoundAggregator {
    /// Sets up `aggregation` for updates of `len` values; for HE the model
    /// owner generates its key pair here.
    pub fn new(aggregation: Aggregation, len: usize, opts: &AggregationOptions) -> Result<Self> {
        if len == 0 {
            return Err(Error::invalid("len", "updates need at least one value"));
        }
        let method: Box<dyn RunRound> = match aggregation {
            Aggregation::Mpc => Box::new(Simulated::new(
                ShareParams::new(opts.frac_bits, opts.max_clients)?
                    .with_encoding(opts.share_encoding),
                (),
            )),
            #[cfg(feature = "he")]
            Aggregation::He => {
                let (pk, sk) =
                    KeyPair::generate(&HeParams::new(opts.frac_bits, opts.max_clients)?)?;
                Box::new(Simulated::new(pk, sk))
            }
            #[cfg(not(feature = "he"))]
            Aggregation::He => {
                return Err(Error::invalid(
                    "aggregation",
                    "homomorphic aggregation needs privml built with the 'he' feature",
                ));
            }
            Aggregation::Plain => Box::new(Simulated::new(Cleartext, ())),
        };
        Ok(RoundAggregator {
            aggregation,
            len,
            opts: *opts,
            method,
        })
    }

    /// The method.
    pub fn aggregation(&self) -> Aggregation {
        self.aggregation
    }

    /// Updates' length.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false (a length of zero is refused).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Runs round `round`: every client protects its update, the
    /// aggregator(s) check and add each submission, and — if at least
    /// `min_clients` were accepted — the weighted mean is opened.
    pub fn run(&self, round: u32, updates: &[ClientUpdate<'_>]) -> Result<RoundOutcome> {
        self.method.run(RoundInput {
            round,
            len: self.len,
            min_clients: self.opts.min_clients,
            updates,
        })
    }
}

/// What one round is run on.
struct RoundInput<'a, 'u> {
    round: u32,
    len: usize,
    min_clients: usize,
    updates: &'a [ClientUpdate<'u>],
}

/// A method set up in this process, able to run whole rounds: the
/// object-safe face of [`Simulated`], so that [`RoundAggregator`] holds any
/// method behind one pointer.
trait RunRound: std::fmt::Debug + Send + Sync {
    fn run(&self, input: RoundInput<'_, '_>) -> Result<RoundOutcome>;
}

/// Every role of one method in one process: the public scheme (clients and
/// servers) and the opener (the servers' nothing, or the owner's key).
struct Simulated<S: AggregationScheme>
where
    <S::Round as AggregationRound>::Opener: Sized,
{
    scheme: S,
    opener: <S::Round as AggregationRound>::Opener,
    _round: PhantomData<fn() -> S::Round>,
}

impl<S: AggregationScheme> Simulated<S>
where
    <S::Round as AggregationRound>::Opener: Sized,
{
    fn new(scheme: S, opener: <S::Round as AggregationRound>::Opener) -> Self {
        Simulated {
            scheme,
            opener,
            _round: PhantomData,
        }
    }

    /// Client side for one update: the messages it sends, with its fault
    /// applied.
    fn protect(&self, round: u32, u: &ClientUpdate<'_>) -> Result<Vec<Vec<u8>>> {
        let mut meta = u.meta;
        let mut values = u.values;
        match u.fault {
            Some(Fault::WrongShape) => values = &values[..values.len().saturating_sub(1)],
            Some(Fault::StaleRound) => meta.round = round.wrapping_sub(1),
            _ => {}
        }
        let mut msgs = self.scheme.protect(meta, values)?;
        if u.fault == Some(Fault::Corrupted)
            && let Some(b) = msgs.first_mut().and_then(|m| m.last_mut())
        {
            *b ^= 0x01;
        }
        Ok(msgs)
    }
}

// Only the opener is printed by name: it may be a secret key, whose `Debug`
// is redacted.
impl<S> std::fmt::Debug for Simulated<S>
where
    S: AggregationScheme + std::fmt::Debug,
    <S::Round as AggregationRound>::Opener: Sized + std::fmt::Debug,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulated")
            .field("scheme", &self.scheme)
            .field("opener", &self.opener)
            .finish()
    }
}

impl<S> RunRound for Simulated<S>
where
    S: AggregationScheme + std::fmt::Debug + Send + Sync,
    <S::Round as AggregationRound>::Opener: Sized + std::fmt::Debug + Send + Sync,
{
    fn run(&self, input: RoundInput<'_, '_>) -> Result<RoundOutcome> {
        let RoundInput {
            round,
            len,
            min_clients,
            updates,
        } = input;
        let mut aggregate = self.scheme.start_round(round, len)?;
        let mut refused = Vec::new();
        let mut time_clients = Duration::ZERO;
        let mut time_servers = Duration::ZERO;
        let mut bytes_per_client = 0u64;

        for u in updates {
            let client = u.meta.client;
            let t = Instant::now();
            let msgs = match self.protect(round, u) {
                Ok(m) => m,
                // A client that cannot protect its update (out of range,
                // empty) fails alone; the round goes on without it.
                Err(e) => {
                    time_clients += t.elapsed();
                    refused.push(Refusal { client, error: e });
                    continue;
                }
            };
            time_clients += t.elapsed();
            bytes_per_client = bytes_per_client.max(msgs.iter().map(|m| m.len() as u64).sum());
            let msgs: Vec<&[u8]> = msgs.iter().map(Vec::as_slice).collect();
            let t = Instant::now();
            let res = aggregate.submit(client, &msgs);
            time_servers += t.elapsed();
            match res {
                Ok(()) => {}
                Err(e @ Error::UpdateRejected { .. }) => refused.push(Refusal { client, error: e }),
                Err(e) => return Err(e),
            }
        }

        let accepted = aggregate.accepted().to_vec();
        let total_weight = aggregate.total_weight();
        let bytes_from_clients = aggregate.bytes_from_clients().to_vec();
        let t = Instant::now();
        let opened = if !super::deployed::quorum(accepted.len(), min_clients) {
            None
        } else {
            let sum = aggregate.open(&self.opener)?;
            Some((sum.mean()?, sum.bytes_server_out))
        };
        let time_open = t.elapsed();

        let (mean, bytes_server_out) = match opened {
            Some((m, out)) => (Some(m), out),
            None => (None, vec![0; bytes_from_clients.len()]),
        };
        let (deviation, tolerance) = match &mean {
            Some(m) => deviation(
                m,
                &accepted,
                total_weight,
                updates,
                self.scheme.sum_tolerance(accepted.len()),
            ),
            None => (0.0, 0.0),
        };
        Ok(RoundOutcome {
            mean,
            accepted,
            refused,
            total_weight,
            bytes_per_client,
            bytes_from_clients,
            bytes_server_out,
            time_clients,
            time_servers,
            time_open,
            deviation,
            tolerance,
        })
    }
}

/// The plaintext weighted mean of the accepted updates, compared with
/// `mean`: (largest deviation, tolerance). The tolerance is the method's
/// bound `sum_tolerance` on the sum, divided by the total weight, plus
/// 1e-9 relative for f64.
fn deviation(
    mean: &[f64],
    accepted: &[(ClientId, u32)],
    total_weight: u64,
    updates: &[ClientUpdate<'_>],
    sum_tolerance: f64,
) -> (f64, f64) {
    let mut reference = vec![0.0f64; mean.len()];
    for (client, w) in accepted {
        if let Some(u) = updates.iter().find(|u| u.meta.client == *client) {
            for (r, v) in reference.iter_mut().zip(u.values) {
                *r += *w as f64 * v;
            }
        }
    }
    let tw = total_weight.max(1) as f64;
    let mut dev = 0.0f64;
    let mut largest = 0.0f64;
    for (m, r) in mean.iter().zip(&reference) {
        dev = dev.max((m - r / tw).abs());
        largest = largest.max((r / tw).abs());
    }
    (dev, sum_tolerance / tw + 1e-9 * largest.max(1e-3))
}
