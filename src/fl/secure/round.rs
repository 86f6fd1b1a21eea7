//! A round on three in-process aggregation servers, and its reveal.

use super::super::aggregate::{AggregationRound, AggregationScheme, OpenedSum};
use super::super::{ClientId, UpdateMeta};
use super::{ShareParams, ShareServer, share_update};
use crate::domain::{Ring, Shared, SharedConfig};
use crate::error::{DecodeError, Error, Rejection, Result};

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

    /// The parameters clients must have shared their updates with.
    pub fn params(&self) -> &ShareParams {
        &self.params
    }
}

impl AggregationScheme for ShareParams {
    type Round = MpcRound;

    /// [`share_update`]: three messages, one per server.
    fn protect(&self, meta: UpdateMeta, update: &[f64]) -> Result<Vec<Vec<u8>>> {
        Ok(share_update(self, meta, update)?.into())
    }

    fn start_round(&self, round: u32, len: usize) -> Result<MpcRound> {
        MpcRound::new(round, len, *self)
    }

    fn sum_tolerance(&self, clients: usize) -> f64 {
        ShareParams::sum_tolerance(self, clients)
    }
}

impl AggregationRound for MpcRound {
    /// The three in-process servers reveal the sum together: nothing else
    /// is needed.
    type Opener = ();

    /// Delivers `client`'s three messages (`messages[i]` to server i). If
    /// any server refuses its message, none adds anything and the error is
    /// [`Error::UpdateRejected`] naming the client (and, for a refusal by
    /// one server only, [`Rejection::RefusedByServer`]). Any other number
    /// of messages than three is an [`Error::InvalidParameter`].
    fn submit(&mut self, client: ClientId, messages: &[&[u8]]) -> Result<()> {
        let messages: [&[u8]; 3] = messages.try_into().map_err(|_| {
            Error::invalid(
                "messages",
                format!(
                    "secret sharing takes one message per server (3), got {}",
                    messages.len()
                ),
            )
        })?;
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
                reason: Rejection::Malformed(DecodeError::BadField {
                    field: "weight",
                    reason: format!("the three messages state different weights {weights:?}"),
                }),
            });
        }
        for (server, c) in self.servers.iter_mut().zip(checked) {
            server.add(c)?;
        }
        Ok(())
    }

    fn accepted(&self) -> &[(ClientId, u32)] {
        self.servers[0].accepted()
    }

    fn bytes_from_clients(&self) -> &[u64] {
        &self.bytes_in
    }

    /// Ends the round: the three servers, as three [`Shared`] parties, reveal
    /// the sum of the accepted updates (one `reveal`, 8 bytes per value sent
    /// by each server). This is the round's only disclosure.
    ///
    /// # Security
    ///
    /// All three servers learn the sum (and the public list of clients and
    /// weights), nothing else. With a single accepted client the "sum" is
    /// that client's update: require a minimum
    /// [`count`](AggregationRound::count) first (as
    /// [`run_federated`](crate::fl::run_federated) does).
    fn open(self, _: &()) -> Result<OpenedSum> {
        let accepted = self.servers[0].accepted().to_vec();
        for s in &self.servers[1..] {
            if s.accepted() != accepted.as_slice() {
                return Err(Error::internal(
                    "MpcRound::open",
                    "the servers accepted different clients",
                ));
            }
        }
        let total_weight = self.servers[0].total_weight();
        let [s0, s1, s2] = self.servers;
        let shares = [s0.into_shares()?, s1.into_shares()?, s2.into_shares()?];
        let cfg = SharedConfig::default().frac_bits(self.params.frac_bits());
        let (out, cost) = Shared::<u64>::simulate_with_cost(&cfg, |r| {
            let me = r
                .party()
                .ok_or_else(|| Error::internal("MpcRound::open", "a simulated party has no id"))?;
            crate::fl::reveal_sum(r, &shares[me], self.params.frac_bits())
        })?;
        let [v0, v1, v2] = out;
        if v0 != v1 || v0 != v2 {
            return Err(Error::internal(
                "MpcRound::open",
                "the servers revealed different sums",
            ));
        }
        Ok(OpenedSum {
            sum: v0,
            accepted,
            total_weight,
            bytes_from_clients: self.bytes_in.to_vec(),
            bytes_server_out: cost.bytes_sent.to_vec(),
        })
    }
}
