//! Secure aggregation by replicated secret sharing over Z_2^64: the client
//! side ([`share_update`]), one aggregation server ([`ShareServer`]) and a
//! round on three in-process servers ([`MpcRound`]).

use std::collections::HashSet;

use ndarray::{ArrayD, IxDyn};

use super::wire::{self, FLAG_FIRST_SEED, FLAG_SECOND_SEED, Header, Kind, SEED_LEN};
use super::{ClientId, UpdateMeta};
use crate::domain::{PartyId, Ring, Shared, SharedConfig};
use crate::error::{Error, Rejection, Result};
use crate::fixed::FixedPoint;
use crate::mpc::Replicated;
use crate::ring::prg::{AesPrg, Seed};

/// 2^63 as an f64 (exact).
const TWO_63: f64 = (1u64 << 63) as f64;

/// How a client writes the two shares it sends to each server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ShareEncoding {
    /// Every share written out: 2 × 8 bytes per value to each of the three
    /// servers, 48 bytes per value in all. The textbook form.
    #[default]
    Explicit,
    /// x0 and x1 are AES-CTR streams of fresh 16-byte seeds, and a seed is
    /// sent in place of the share: server 0 gets two seeds, servers 1 and 2
    /// one seed and x2 = x - x0 - x1. 16 bytes per value in all, a third of
    /// [`Explicit`](Self::Explicit), under the same assumption (AES is a
    /// PRG) that the rest of the crate's randomness rests on.
    Seeded,
}

impl std::fmt::Display for ShareEncoding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ShareEncoding::Explicit => "explicit",
            ShareEncoding::Seeded => "seeded",
        })
    }
}

impl std::str::FromStr for ShareEncoding {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "explicit" => Ok(ShareEncoding::Explicit),
            "seeded" | "seed" => Ok(ShareEncoding::Seeded),
            _ => Err(Error::invalid(
                "share encoding",
                format!("'{s}': use explicit or seeded"),
            )),
        }
    }
}

/// Parameters of secure aggregation by secret sharing: the fixed-point
/// format in Z_2^64 and the number of clients it leaves headroom for.
///
/// A (weighted) value v is encoded as round(v · 2^f) in two's complement.
/// Every client's encodings are bounded by ⌊(2^63 − 1) / N⌋ with
/// N = `max_clients`, so a sum of at most N updates never wraps around;
/// servers refuse an (N+1)-th update. The revealed sum of k updates is
/// within k · 2^−(f+1) of the exact sum ([`sum_tolerance`](Self::sum_tolerance)):
/// the only error is each client's rounding to the 2^−f grid.
///
/// | f | N | largest \|v\| per client | resolution |
/// |---|---|---|---|
/// | 16 (default) | 1024 (default) | 1.4e11 | 1.5e-5 |
/// | 24 | 1024 | 5.4e8 | 6.0e-8 |
/// | 30 | 65536 | 1.3e5 | 9.3e-10 |
///
/// # Examples
///
/// ```
/// use privml::fl::ShareParams;
///
/// let p = ShareParams::default();
/// assert_eq!((p.frac_bits(), p.max_clients()), (16, 1024));
/// assert!(p.max_abs_value() > 1e11);
/// assert!(ShareParams::new(31, 10).is_err()); // beyond what Z_2^64 fixed point allows
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShareParams {
    frac_bits: u32,
    max_clients: u32,
    encoding: ShareEncoding,
}

impl Default for ShareParams {
    fn default() -> Self {
        ShareParams {
            frac_bits: Self::DEFAULT_FRAC_BITS,
            max_clients: Self::DEFAULT_MAX_CLIENTS,
            encoding: ShareEncoding::Explicit,
        }
    }
}

impl std::fmt::Display for ShareParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Z_2^64, {} fraction bits, up to {} clients, {} shares",
            self.frac_bits, self.max_clients, self.encoding
        )
    }
}

impl ShareParams {
    /// Default fraction bits (as for `Shared<u64>`).
    pub const DEFAULT_FRAC_BITS: u32 = 16;
    /// Default headroom (as [`HeParams`](crate::he::HeParams)).
    pub const DEFAULT_MAX_CLIENTS: u32 = 1024;

    /// `frac_bits` in 1..=30 (the `Shared<u64>` fixed-point formats),
    /// `max_clients` ≥ 1, explicit shares.
    pub fn new(frac_bits: u32, max_clients: u32) -> Result<Self> {
        FixedPoint::<u64>::new(frac_bits)?;
        if max_clients == 0 {
            return Err(Error::invalid("max_clients", "must be at least 1"));
        }
        Ok(ShareParams {
            frac_bits,
            max_clients,
            encoding: ShareEncoding::Explicit,
        })
    }

    /// The same parameters with another share encoding.
    pub fn with_encoding(mut self, encoding: ShareEncoding) -> Self {
        self.encoding = encoding;
        self
    }

    /// Fraction bits f.
    pub fn frac_bits(&self) -> u32 {
        self.frac_bits
    }

    /// Number of clients whose sum cannot wrap around.
    pub fn max_clients(&self) -> u32 {
        self.max_clients
    }

    /// How clients write their shares.
    pub fn encoding(&self) -> ShareEncoding {
        self.encoding
    }

    /// Largest |encoding| per client, ⌊(2^63 − 1) / max_clients⌋.
    pub fn max_abs_encoded(&self) -> u64 {
        (i64::MAX as u64) / self.max_clients as u64
    }

    /// Largest |value| per client, in value units (after weighting): the
    /// largest f64 whose encoding stays within
    /// [`max_abs_encoded`](Self::max_abs_encoded).
    pub fn max_abs_value(&self) -> f64 {
        let b = self.max_abs_encoded();
        let mut f = b as f64;
        // u64 → f64 rounds to nearest: step down if it rounded up.
        while f >= TWO_63 || f as u64 > b {
            f = f.next_down();
        }
        f / self.scale()
    }

    /// 2^f.
    pub fn scale(&self) -> f64 {
        (2.0f64).powi(self.frac_bits as i32)
    }

    /// Bound on |revealed sum − exact sum| for `clients` updates:
    /// clients · 2^−(f+1).
    pub fn sum_tolerance(&self, clients: usize) -> f64 {
        clients as f64 / (2.0 * self.scale())
    }

    /// Encodes `client`'s (weighted) values, refusing a NaN, an infinity or
    /// a value whose `max_clients`-fold sum could wrap, with
    /// [`Error::UpdateOutOfRange`] naming the client and the index.
    pub fn encode(&self, client: ClientId, values: &[f64]) -> Result<Vec<u64>> {
        let limit = self.max_abs_value();
        let scale = self.scale();
        values
            .iter()
            .enumerate()
            .map(|(index, &v)| {
                // Compare in integers: f64 cannot tell 2^61 - 1 from 2^61.
                let e = (v * scale).round();
                let fits = e.is_finite()
                    && e.abs() < TWO_63
                    && (e as i64).unsigned_abs() <= self.max_abs_encoded();
                if fits {
                    Ok(e as i64 as u64)
                } else {
                    Err(Error::UpdateOutOfRange {
                        client: client.to_string(),
                        index,
                        value: v,
                        limit,
                        max_clients: self.max_clients,
                    })
                }
            })
            .collect()
    }

    /// Bytes of the message to each server for an update of `len` values.
    pub fn message_lens(&self, len: usize) -> [usize; 3] {
        let full = 2 * 8 * len;
        match self.encoding {
            ShareEncoding::Explicit => [wire::HEADER_LEN + full; 3],
            ShareEncoding::Seeded => [
                wire::HEADER_LEN + 2 * SEED_LEN,
                wire::HEADER_LEN + SEED_LEN + 8 * len,
                wire::HEADER_LEN + 8 * len + SEED_LEN,
            ],
        }
    }
}

/// Client side: encodes `update` (times `meta.weight`) in fixed point and
/// splits it into replicated shares with fresh operating-system randomness.
/// Returns the message for each server: `messages[i]` holds
/// (x_i, x_{i+1}) and goes to server i only.
///
/// # Security
///
/// x0 and x1 are uniform (AES-CTR keyed from the OS generator) and
/// x2 = x − x0 − x1, so each message, and each pair of shares a server
/// holds, is uniformly distributed whatever the update: a server that sees
/// one message learns the header (client, round, weight, length) and
/// nothing else. Two colluding servers learn the update.
///
/// # Examples
///
/// ```
/// use privml::fl::{ClientId, MpcRound, ShareParams, UpdateMeta, share_update};
///
/// let params = ShareParams::default();
/// let mut round = MpcRound::new(1, 3, params)?;
/// for (k, update) in [[0.5, -1.0, 2.0], [1.5, 0.0, -2.0]].iter().enumerate() {
///     let client = ClientId(k as u32);
///     let messages = share_update(&params, UpdateMeta::new(client, 1, 1), update)?;
///     round.submit(client, [&messages[0], &messages[1], &messages[2]])?;
/// }
/// let sum = round.reveal()?; // the one disclosure: the aggregate
/// let mean = sum.mean()?;
/// assert!((mean[0] - 1.0).abs() < 1e-4 && (mean[1] + 0.5).abs() < 1e-4 && mean[2].abs() < 1e-4);
/// # Ok::<(), privml::Error>(())
/// ```
pub fn share_update(
    params: &ShareParams,
    meta: UpdateMeta,
    update: &[f64],
) -> Result<[Vec<u8>; 3]> {
    share_update_with_rng(params, meta, update, &mut AesPrg::from_entropy()?)
}

/// [`share_update`] drawing the shares (or their seeds) from `rng`: for
/// reproducible tests; a deployment must use fresh entropy.
pub fn share_update_with_rng(
    params: &ShareParams,
    meta: UpdateMeta,
    update: &[f64],
    rng: &mut AesPrg,
) -> Result<[Vec<u8>; 3]> {
    if update.is_empty() {
        return Err(Error::invalid(
            "update",
            "an update needs at least one value",
        ));
    }
    let values = meta.weighted(update)?;
    let values = &values[..];
    let x = params.encode(meta.client, values)?;
    let n = x.len();
    let (seeds, x0, x1) = match params.encoding {
        ShareEncoding::Explicit => (None, rng.vec::<u64>(n), rng.vec::<u64>(n)),
        ShareEncoding::Seeded => {
            let (mut s0, mut s1) = ([0u8; SEED_LEN], [0u8; SEED_LEN]);
            rng.fill_bytes_fast(&mut s0);
            rng.fill_bytes_fast(&mut s1);
            let x0 = AesPrg::new(&Seed::from_bytes(s0)).vec::<u64>(n);
            let x1 = AesPrg::new(&Seed::from_bytes(s1)).vec::<u64>(n);
            (Some((s0, s1)), x0, x1)
        }
    };
    let x2: Vec<u64> = x
        .iter()
        .zip(&x0)
        .zip(&x1)
        .map(|((v, a), b)| v.wrapping_sub(*a).wrapping_sub(*b))
        .collect();
    let base = Header::of_update(Kind::Shares, meta, params.frac_bits, n);
    let header = |server: u8, flags: u8| Header {
        server,
        flags,
        ..base
    };
    // Each message is written once, straight from the share vectors.
    let msg = |server: u8, flags: u8, parts: [Part<'_>; 2]| {
        let len = parts.iter().map(Part::byte_len).sum();
        wire::encode_with(&header(server, flags), len, |out| {
            for p in parts {
                match p {
                    Part::Seed(s) => out.extend_from_slice(s),
                    Part::Share(v) => wire::put_u64s(out, v),
                }
            }
        })
    };
    Ok(match seeds {
        None => [
            msg(0, 0, [Part::Share(&x0), Part::Share(&x1)]),
            msg(1, 0, [Part::Share(&x1), Part::Share(&x2)]),
            msg(2, 0, [Part::Share(&x2), Part::Share(&x0)]),
        ],
        Some((s0, s1)) => [
            msg(
                0,
                FLAG_FIRST_SEED | FLAG_SECOND_SEED,
                [Part::Seed(&s0), Part::Seed(&s1)],
            ),
            msg(1, FLAG_FIRST_SEED, [Part::Seed(&s1), Part::Share(&x2)]),
            msg(2, FLAG_SECOND_SEED, [Part::Share(&x2), Part::Seed(&s0)]),
        ],
    })
}

/// One share as it goes on the wire.
#[derive(Clone, Copy)]
enum Part<'a> {
    Seed(&'a [u8; SEED_LEN]),
    Share(&'a [u64]),
}

impl Part<'_> {
    fn byte_len(&self) -> usize {
        match self {
            Part::Seed(_) => SEED_LEN,
            Part::Share(v) => 8 * v.len(),
        }
    }
}

/// A message that one [`ShareServer`] has checked and may add. Its
/// `Debug` shows the header only.
pub struct CheckedShares<'m> {
    server: usize,
    header: Header,
    body: &'m [u8],
}

impl std::fmt::Debug for CheckedShares<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckedShares")
            .field("server", &self.server)
            .field("header", &self.header)
            .field(
                "body",
                &format_args!("<{} bytes of shares>", self.body.len()),
            )
            .finish()
    }
}

impl CheckedShares<'_> {
    /// The client's weight, as its message states it.
    pub fn weight(&self) -> u32 {
        self.header.weight
    }
}

/// One aggregation server of secure aggregation by secret sharing, for one
/// round: it receives one message per client, holding two of the three
/// shares of the client's update, and keeps the running sums of both.
///
/// Adding is local (no communication). At the end of the round
/// [`into_shares`](Self::into_shares) gives the server's share pair of the
/// sum to its [`Shared`] party, and the three parties reveal it together
/// (see [`MpcRound::reveal`]).
///
/// # Security
///
/// Everything a server receives or holds is uniformly random except the
/// headers (client ids, round, weights, length), which are public. It
/// cannot check the range of the values (they are hidden), so a client that
/// ignores the range check can garble the sum: the threat model is
/// semi-honest.
///
/// Its `Debug` shows no shares.
pub struct ShareServer {
    server: usize,
    round: u32,
    len: usize,
    params: ShareParams,
    sum_a: Vec<u64>,
    sum_b: Vec<u64>,
    accepted: Vec<(ClientId, u32)>,
    seen: HashSet<u32>,
}

impl std::fmt::Debug for ShareServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShareServer")
            .field("server", &self.server)
            .field("round", &self.round)
            .field("len", &self.len)
            .field("params", &self.params)
            .field("accepted", &self.accepted)
            .field("sums", &format_args!("<shares redacted>"))
            .finish()
    }
}

impl ShareServer {
    /// Server `server` (0, 1 or 2) of round `round`, for updates of `len`
    /// values.
    pub fn new(server: PartyId, round: u32, len: usize, params: ShareParams) -> Result<Self> {
        if server > 2 {
            return Err(Error::InvalidParty(server));
        }
        if len == 0 {
            return Err(Error::invalid("len", "updates need at least one value"));
        }
        Ok(ShareServer {
            server,
            round,
            len,
            params,
            sum_a: vec![0; len],
            sum_b: vec![0; len],
            accepted: Vec::new(),
            seen: HashSet::new(),
        })
    }

    /// This server's index.
    pub fn server(&self) -> usize {
        self.server
    }

    /// Number of values per update.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false: a server is created for at least one value.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of updates added.
    pub fn count(&self) -> usize {
        self.accepted.len()
    }

    /// Sum of the weights of the updates added.
    pub fn total_weight(&self) -> u64 {
        self.accepted.iter().map(|(_, w)| *w as u64).sum()
    }

    /// The clients whose updates were added, with their weights, in order.
    pub fn accepted(&self) -> &[(ClientId, u32)] {
        &self.accepted
    }

    /// Checks `client`'s message without adding it: format, checksum,
    /// addressee, round, sender, fixed-point parameters, length, weight,
    /// duplicates and headroom. `client` is who the transport says sent it;
    /// the message must name the same client.
    ///
    /// Refusals are [`Error::UpdateRejected`] naming `client`.
    pub fn check<'m>(&self, client: ClientId, bytes: &'m [u8]) -> Result<CheckedShares<'m>> {
        self.check_inner(client, bytes)
            .map_err(|reason| Error::UpdateRejected {
                client: client.to_string(),
                reason,
            })
    }

    fn check_inner<'m>(
        &self,
        client: ClientId,
        bytes: &'m [u8],
    ) -> std::result::Result<CheckedShares<'m>, Rejection> {
        let (h, body) = wire::decode_submission(bytes, Kind::Shares, self.round, client.0)?;
        let malformed = |reason: String| Rejection::Malformed { reason };
        if h.server as usize != self.server {
            return Err(Rejection::WrongServer {
                expected: self.server,
                got: h.server as usize,
            });
        }
        if h.frac_bits != self.params.frac_bits {
            return Err(Rejection::WrongParameters {
                expected: format!("{} fraction bits", self.params.frac_bits),
                got: format!("{} fraction bits", h.frac_bits),
            });
        }
        if h.len != self.len as u64 {
            return Err(Rejection::WrongLength {
                expected: self.len,
                got: usize::try_from(h.len).unwrap_or(usize::MAX),
            });
        }
        if h.flags & !(FLAG_FIRST_SEED | FLAG_SECOND_SEED) != 0 {
            return Err(malformed(format!("unknown flags {:#04x}", h.flags)));
        }
        let want = wire::shares_body_len(h.flags, h.len)
            .ok_or_else(|| malformed("length overflows".to_string()))?;
        if body.len() != want {
            return Err(malformed(format!(
                "body of {} bytes, expected {want} for {} values",
                body.len(),
                h.len
            )));
        }
        if self.seen.contains(&client.0) {
            return Err(Rejection::Duplicate);
        }
        if self.accepted.len() >= self.params.max_clients as usize {
            return Err(Rejection::TooManyUpdates {
                max: self.params.max_clients,
            });
        }
        Ok(CheckedShares {
            server: self.server,
            header: h,
            body,
        })
    }

    /// Adds a message that [`check`](Self::check) accepted. Refused (and
    /// nothing added) if it was checked by another server or round, or the
    /// client was added since.
    pub fn add(&mut self, checked: CheckedShares<'_>) -> Result<()> {
        let h = checked.header;
        let client = ClientId(h.client);
        let reject = |reason| Error::UpdateRejected {
            client: client.to_string(),
            reason,
        };
        if checked.server != self.server {
            return Err(reject(Rejection::WrongServer {
                expected: self.server,
                got: checked.server,
            }));
        }
        if h.round != self.round {
            return Err(reject(Rejection::WrongRound {
                expected: self.round,
                got: h.round,
            }));
        }
        if h.len != self.len as u64 {
            return Err(reject(Rejection::WrongLength {
                expected: self.len,
                got: usize::try_from(h.len).unwrap_or(usize::MAX),
            }));
        }
        if self.seen.contains(&client.0) {
            return Err(reject(Rejection::Duplicate));
        }
        if self.accepted.len() >= self.params.max_clients as usize {
            return Err(reject(Rejection::TooManyUpdates {
                max: self.params.max_clients,
            }));
        }
        let first_seed = h.flags & FLAG_FIRST_SEED != 0;
        let second_seed = h.flags & FLAG_SECOND_SEED != 0;
        let (first, second) =
            checked
                .body
                .split_at(if first_seed { SEED_LEN } else { 8 * self.len });
        add_share(&mut self.sum_a, first, first_seed);
        add_share(&mut self.sum_b, second, second_seed);
        self.seen.insert(client.0);
        self.accepted.push((client, h.weight));
        Ok(())
    }

    /// [`check`](Self::check), then [`add`](Self::add).
    pub fn receive(&mut self, client: ClientId, bytes: &[u8]) -> Result<()> {
        let checked = self.check(client, bytes)?;
        self.add(checked)
    }

    /// Ends the round: this server's share pair (s_i, s_{i+1}) of the sum,
    /// for its [`Shared`] party to reveal.
    pub fn into_shares(self) -> Result<Replicated<u64>> {
        let shape = IxDyn(&[self.len]);
        let a = ArrayD::from_shape_vec(shape.clone(), self.sum_a)
            .map_err(|e| Error::invalid("shares", e.to_string()))?;
        let b = ArrayD::from_shape_vec(shape, self.sum_b)
            .map_err(|e| Error::invalid("shares", e.to_string()))?;
        Replicated::from_pair(a, b).ok_or_else(|| Error::invalid("shares", "shape mismatch"))
    }
}

/// Adds one share, given explicitly (8 bytes per value) or as a seed.
/// (Decided by the flag, never by the length: two values take 16 bytes too.)
fn add_share(sum: &mut [u64], part: &[u8], seed: bool) {
    if seed {
        let mut s = [0u8; SEED_LEN];
        s.copy_from_slice(part);
        let mut prg = AesPrg::new(&Seed::from_bytes(s));
        let mut buf = vec![0u64; 4096.min(sum.len())];
        for chunk in sum.chunks_mut(4096) {
            let b = &mut buf[..chunk.len()];
            prg.fill(b);
            for (acc, x) in chunk.iter_mut().zip(b.iter()) {
                *acc = acc.wrapping_add(*x);
            }
        }
    } else {
        for (acc, w) in sum.iter_mut().zip(part.chunks_exact(8)) {
            let mut a = [0u8; 8];
            a.copy_from_slice(w);
            *acc = acc.wrapping_add(u64::from_le_bytes(a));
        }
    }
}

/// One round of secure aggregation on three in-process aggregation
/// servers: each client's three messages are checked by all three servers
/// before any of them adds its shares, so a submission that one server
/// refuses is dropped by all and the sum stays consistent.
///
/// In a deployment the three servers run on separate machines and agree on
/// the accepted set by exchanging, per client, one public accept bit (the
/// client ids and weights are public); [`ShareServer`] is the per-machine
/// part.
#[derive(Debug)]
pub struct MpcRound {
    servers: [ShareServer; 3],
    params: ShareParams,
    bytes_in: [u64; 3],
}

/// The revealed aggregate of a round of secure aggregation.
#[derive(Debug, Clone)]
pub struct MpcSum {
    /// Σ_k weight_k · update_k over the accepted clients (decoded).
    pub sum: Vec<f64>,
    /// The accepted clients and their weights.
    pub accepted: Vec<(ClientId, u32)>,
    /// Σ_k weight_k.
    pub total_weight: u64,
    /// Bytes each server received from clients this round (accepted or not).
    pub bytes_from_clients: [u64; 3],
    /// Bytes each server sent to the other servers to reveal the sum.
    pub bytes_between_servers: [u64; 3],
}

impl MpcSum {
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

impl MpcRound {
    /// An empty round `round` for updates of `len` values.
    pub fn new(round: u32, len: usize, params: ShareParams) -> Result<Self> {
        Ok(MpcRound {
            servers: [
                ShareServer::new(0, round, len, params)?,
                ShareServer::new(1, round, len, params)?,
                ShareServer::new(2, round, len, params)?,
            ],
            params,
            bytes_in: [0; 3],
        })
    }

    /// Delivers `client`'s three messages (`messages[i]` to server i). If
    /// any server refuses its message, none adds anything and the error is
    /// [`Error::UpdateRejected`] naming the client (and, for a refusal by
    /// one server only, [`Rejection::RefusedByServer`]).
    pub fn submit(&mut self, client: ClientId, messages: [&[u8]; 3]) -> Result<()> {
        for (b, m) in self.bytes_in.iter_mut().zip(messages) {
            *b += m.len() as u64;
        }
        let mut checked = Vec::with_capacity(3);
        let mut refusals = Vec::new();
        for (server, m) in self.servers.iter().zip(messages) {
            match server.check(client, m) {
                Ok(c) => checked.push(c),
                Err(Error::UpdateRejected { reason, .. }) => {
                    refusals.push((server.server(), reason));
                }
                Err(e) => return Err(e),
            }
        }
        if let Some((server, reason)) = refusals.first() {
            let all_same = refusals.len() == 3 && refusals.iter().all(|(_, r)| r == reason);
            let reason = if all_same {
                reason.clone()
            } else {
                Rejection::RefusedByServer {
                    server: *server,
                    reason: Box::new(reason.clone()),
                }
            };
            return Err(Error::UpdateRejected {
                client: client.to_string(),
                reason,
            });
        }
        let weights: Vec<u32> = checked.iter().map(|c| c.weight()).collect();
        if weights.iter().any(|w| *w != weights[0]) {
            return Err(Error::UpdateRejected {
                client: client.to_string(),
                reason: Rejection::Malformed {
                    reason: format!("the three messages state different weights {weights:?}"),
                },
            });
        }
        for (server, c) in self.servers.iter_mut().zip(checked) {
            server.add(c)?;
        }
        Ok(())
    }

    /// Number of accepted updates.
    pub fn count(&self) -> usize {
        self.servers[0].count()
    }

    /// The accepted clients and their weights.
    pub fn accepted(&self) -> &[(ClientId, u32)] {
        self.servers[0].accepted()
    }

    /// Bytes each server received so far.
    pub fn bytes_from_clients(&self) -> [u64; 3] {
        self.bytes_in
    }

    /// Ends the round: the three servers, as three [`Shared`] parties, reveal
    /// the sum of the accepted updates (one `reveal`, 8 bytes per value sent
    /// by each server). This is the round's only disclosure.
    ///
    /// # Security
    ///
    /// All three servers learn the sum (and the public list of clients and
    /// weights), nothing else. With a single accepted client the "sum" is
    /// that client's update: require a minimum [`count`](Self::count) first
    /// (as [`run_federated`](super::run_federated) does).
    pub fn reveal(self) -> Result<MpcSum> {
        self.reveal_with(&SharedConfig::default())
    }

    /// [`reveal`](Self::reveal) with explicit settings for the three parties
    /// (the fraction bits are taken from the round's parameters).
    pub fn reveal_with(self, cfg: &SharedConfig) -> Result<MpcSum> {
        let accepted = self.servers[0].accepted().to_vec();
        for s in &self.servers[1..] {
            if s.accepted() != accepted.as_slice() {
                return Err(Error::invalid(
                    "aggregate",
                    "the servers accepted different clients",
                ));
            }
        }
        let total_weight = self.servers[0].total_weight();
        let [s0, s1, s2] = self.servers;
        let shares = [s0.into_shares()?, s1.into_shares()?, s2.into_shares()?];
        let cfg = cfg.clone().frac_bits(self.params.frac_bits);
        let (out, cost) = Shared::<u64>::simulate_with_cost(&cfg, |r| {
            let me = r.party().ok_or(Error::InvalidParty(usize::MAX))?;
            r.set_label("federated aggregate");
            r.reveal(&shares[me])
        })?;
        let [v0, v1, v2] = out;
        if v0 != v1 || v0 != v2 {
            return Err(Error::invalid(
                "aggregate",
                "the servers revealed different sums",
            ));
        }
        Ok(MpcSum {
            sum: v0.iter().copied().collect(),
            accepted,
            total_weight,
            bytes_from_clients: self.bytes_in,
            bytes_between_servers: cost.bytes_sent,
        })
    }
}
