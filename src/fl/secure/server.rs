//! One aggregation server: checks the messages addressed to it and keeps
//! its running share pair of the sum.

use std::collections::HashSet;

use ndarray::{ArrayD, IxDyn};

use super::super::ClientId;
use super::super::wire::{self, FLAG_FIRST_SEED, FLAG_SECOND_SEED, Header, Kind, SEED_LEN};
use super::ShareParams;
use crate::domain::PartyId;
use crate::error::{DecodeError, Error, Rejection, Result};
use crate::mpc::Replicated;
use crate::ring::prg::{AesPrg, Seed};

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
/// sum to its [`Shared`](crate::Shared) party, and the three parties reveal it together
/// (see [`MpcRound`](crate::fl::MpcRound)'s [`open`](crate::fl::AggregationRound::open)).
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
        if h.server as usize != self.server {
            return Err(Rejection::WrongServer {
                expected: self.server,
                got: h.server as usize,
            });
        }
        if h.frac_bits != self.params.frac_bits() {
            return Err(Rejection::WrongParameters {
                expected: format!("{} fraction bits", self.params.frac_bits()),
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
            return Err(Rejection::Malformed(DecodeError::BadField {
                field: "flags",
                reason: format!("unknown flags {:#04x}", h.flags),
            }));
        }
        let want = wire::shares_body_len(h.flags, h.len).ok_or(DecodeError::TooLarge {
            declared: h.len,
            max: (usize::MAX / 16) as u64,
        })?;
        if body.len() != want {
            return Err(Rejection::Malformed(DecodeError::WrongLength {
                expected: want as u64,
                found: body.len() as u64,
            }));
        }
        if self.seen.contains(&client.0) {
            return Err(Rejection::Duplicate);
        }
        if self.accepted.len() >= self.params.max_clients() as usize {
            return Err(Rejection::TooManyUpdates {
                max: self.params.max_clients(),
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
        if self.accepted.len() >= self.params.max_clients() as usize {
            return Err(reject(Rejection::TooManyUpdates {
                max: self.params.max_clients(),
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
    /// for its [`Shared`](crate::Shared) party to reveal.
    pub fn into_shares(self) -> Result<Replicated<u64>> {
        let shape = IxDyn(&[self.len]);
        let internal = |detail: String| Error::internal("ShareServer::into_shares", detail);
        let a = ArrayD::from_shape_vec(shape.clone(), self.sum_a)
            .map_err(|e| internal(e.to_string()))?;
        let b = ArrayD::from_shape_vec(shape, self.sum_b).map_err(|e| internal(e.to_string()))?;
        Replicated::from_pair(a, b)
            .ok_or_else(|| internal("the two running sums differ in shape".to_string()))
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
