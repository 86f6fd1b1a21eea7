//! One aggregation round, whichever the method: the common interface the
//! training loop and the benchmark use.

use std::time::{Duration, Instant};

#[cfg(feature = "he")]
use super::homomorphic::{HeRound, encrypt_update};
use super::plain::{PlainRound, plain_update};
use super::secure::{MpcRound, ShareParams, share_update};
use super::{Aggregation, ClientId, UpdateMeta};
use crate::error::{Error, Result};
#[cfg(feature = "he")]
use crate::he::{HeParams, KeyPair, PublicKey, SecretKey};

/// The model owner's side of homomorphic aggregation.
#[cfg(feature = "he")]
#[derive(Debug)]
struct HeSide {
    params: HeParams,
    pk: PublicKey,
    sk: SecretKey,
}

/// Without the `he` feature there is no homomorphic side.
#[cfg(not(feature = "he"))]
#[derive(Debug)]
enum HeSide {}

#[cfg(not(feature = "he"))]
fn no_he() -> Error {
    Error::invalid(
        "aggregation",
        "homomorphic aggregation needs privml built with the 'he' feature",
    )
}

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
/// ([`ShareServer`](super::ShareServer) via [`MpcRound`],
/// [`HeRound`], [`SecretKey`]) keep the roles' knowledge apart.
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
    share: ShareParams,
    // Always `None` without the `he` feature (`HeSide` is then uninhabited).
    #[cfg_attr(
        not(feature = "he"),
        expect(
            dead_code,
            reason = "without `he`, `HeSide` is uninhabited and the field never read"
        )
    )]
    he: Option<HeSide>,
}

impl RoundAggregator {
    /// Sets up `aggregation` for updates of `len` values; for HE the model
    /// owner generates its key pair here.
    pub fn new(aggregation: Aggregation, len: usize, opts: &AggregationOptions) -> Result<Self> {
        if len == 0 {
            return Err(Error::invalid("len", "updates need at least one value"));
        }
        let share =
            ShareParams::new(opts.frac_bits, opts.max_clients)?.with_encoding(opts.share_encoding);
        let he = match aggregation {
            #[cfg(feature = "he")]
            Aggregation::He => {
                let params = HeParams::new(opts.frac_bits, opts.max_clients)?;
                let (pk, sk) = KeyPair::generate(&params)?;
                Some(HeSide { params, pk, sk })
            }
            #[cfg(not(feature = "he"))]
            Aggregation::He => return Err(no_he()),
            _ => None,
        };
        Ok(RoundAggregator {
            aggregation,
            len,
            opts: *opts,
            share,
            he,
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

    /// The secret-sharing parameters (used by [`Aggregation::Mpc`]).
    pub fn share_params(&self) -> &ShareParams {
        &self.share
    }

    #[cfg(feature = "he")]
    fn he_side(&self) -> Result<&HeSide> {
        self.he
            .as_ref()
            .ok_or_else(|| Error::invalid("aggregation", "no HE keys"))
    }

    /// Client side for one update: the messages it sends (three for MPC,
    /// one otherwise), with its fault applied.
    fn protect(&self, round: u32, u: &ClientUpdate<'_>) -> Result<Vec<Vec<u8>>> {
        let mut meta = u.meta;
        let mut values = u.values;
        match u.fault {
            Some(Fault::WrongShape) => values = &values[..values.len().saturating_sub(1)],
            Some(Fault::StaleRound) => meta.round = round.wrapping_sub(1),
            _ => {}
        }
        let mut msgs = match self.aggregation {
            Aggregation::Mpc => share_update(&self.share, meta, values)?.to_vec(),
            #[cfg(feature = "he")]
            Aggregation::He => vec![encrypt_update(&self.he_side()?.pk, meta, values)?],
            #[cfg(not(feature = "he"))]
            Aggregation::He => return Err(no_he()),
            Aggregation::Plain => vec![plain_update(meta, values)?],
        };
        if u.fault == Some(Fault::Corrupted)
            && let Some(b) = msgs[0].last_mut()
        {
            *b ^= 0x01;
        }
        Ok(msgs)
    }

    /// Runs round `round`: every client protects its update, the
    /// aggregator(s) check and add each submission, and — if at least
    /// `min_clients` were accepted — the weighted mean is opened.
    pub fn run(&self, round: u32, updates: &[ClientUpdate<'_>]) -> Result<RoundOutcome> {
        let mut refused = Vec::new();
        let mut time_clients = Duration::ZERO;
        let mut time_servers = Duration::ZERO;
        let mut bytes_per_client = 0u64;

        enum State {
            Mpc(Box<MpcRound>),
            #[cfg(feature = "he")]
            He(HeRound),
            Plain(PlainRound),
        }
        let mut state = match self.aggregation {
            Aggregation::Mpc => State::Mpc(Box::new(MpcRound::new(round, self.len, self.share)?)),
            #[cfg(feature = "he")]
            Aggregation::He => State::He(HeRound::new(self.he_side()?.pk.clone(), round, self.len)),
            #[cfg(not(feature = "he"))]
            Aggregation::He => return Err(no_he()),
            Aggregation::Plain => State::Plain(PlainRound::new(round, self.len)),
        };

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
            let t = Instant::now();
            let res = match &mut state {
                State::Mpc(r) => r.submit(client, [&msgs[0], &msgs[1], &msgs[2]]),
                #[cfg(feature = "he")]
                State::He(r) => r.submit(client, &msgs[0]),
                State::Plain(r) => r.submit(client, &msgs[0]),
            };
            time_servers += t.elapsed();
            match res {
                Ok(()) => {}
                Err(e @ Error::UpdateRejected { .. }) => refused.push(Refusal { client, error: e }),
                Err(e) => return Err(e),
            }
        }

        let t = Instant::now();
        let (accepted, bytes_from_clients, opened) = match state {
            State::Mpc(r) => {
                let accepted = r.accepted().to_vec();
                let bytes = r.bytes_from_clients().to_vec();
                if accepted.len() < self.opts.min_clients.max(1) {
                    (accepted, bytes, None)
                } else {
                    let s = r.reveal()?;
                    let out = s.bytes_between_servers.to_vec();
                    (accepted, bytes, Some((s.mean()?, out)))
                }
            }
            #[cfg(feature = "he")]
            State::He(r) => {
                let accepted = r.accepted().to_vec();
                let bytes = vec![r.bytes_from_clients()];
                if accepted.len() < self.opts.min_clients.max(1) {
                    (accepted, bytes, None)
                } else {
                    let s = r.finish();
                    let out = vec![s.sum.byte_len() as u64];
                    (
                        accepted,
                        bytes,
                        Some((s.decrypt_mean(&self.he_side()?.sk)?, out)),
                    )
                }
            }
            State::Plain(r) => {
                let accepted = r.accepted().to_vec();
                let bytes = vec![r.bytes_from_clients()];
                if accepted.len() < self.opts.min_clients.max(1) {
                    (accepted, bytes, None)
                } else {
                    let w = r.total_weight() as f64;
                    let mean = r.sum().iter().map(|s| s / w).collect();
                    (accepted, bytes, Some((mean, vec![0])))
                }
            }
        };
        let time_open = t.elapsed();

        let total_weight: u64 = accepted.iter().map(|(_, w)| *w as u64).sum();
        let servers = bytes_from_clients.len();
        let (mean, bytes_server_out) = match opened {
            Some((m, out)) => (Some(m), out),
            None => (None, vec![0; servers]),
        };
        let (deviation, tolerance) = match &mean {
            Some(m) => self.compare(m, &accepted, total_weight, updates),
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

    /// The plaintext weighted mean of the accepted updates, compared with
    /// `mean`: (largest deviation, tolerance).
    fn compare(
        &self,
        mean: &[f64],
        accepted: &[(ClientId, u32)],
        total_weight: u64,
        updates: &[ClientUpdate<'_>],
    ) -> (f64, f64) {
        let mut reference = vec![0.0f64; self.len];
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
        let k = accepted.len();
        let tol = match self.aggregation {
            Aggregation::Mpc => self.share.sum_tolerance(k) / tw,
            #[cfg(feature = "he")]
            Aggregation::He => self.he.as_ref().map_or(0.0, |h| h.params.sum_tolerance(k)) / tw,
            #[cfg(not(feature = "he"))]
            Aggregation::He => 0.0,
            Aggregation::Plain => 0.0,
        } + 1e-9 * largest.max(1e-3);
        (dev, tol)
    }
}
