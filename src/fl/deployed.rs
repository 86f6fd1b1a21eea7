//! A round of MPC aggregation with its parties in separate processes: the
//! transport-independent part of `privml serve`'s federated jobs and of
//! `privml client federated` (issue 17).
//!
//! The simulator ([`RoundAggregator`](super::RoundAggregator) over
//! [`MpcRound`](super::MpcRound)) and the deployed form run the same
//! pieces of a round:
//!
//! * each server checks a site's message with the same
//!   [`ShareServer::check`] (format, checksum, addressee, round, sender,
//!   length, weight, duplicates, headroom) and adds the accepted ones with
//!   [`ShareServer::add`];
//! * a round opens only if at least `min_clients` updates were accepted
//!   ([`quorum`]), and the mean divides the opened sum by the weight of
//!   the accepted sites only ([`OpenedSum::mean`](super::OpenedSum::mean));
//! * the sum is opened by one reveal of the servers' replicated share
//!   pairs ([`reveal_sum`]).
//!
//! What the deployed form adds, because its servers no longer see each
//! other's messages: a [`RoundIntake`] keeps every message it accepted
//! until the round closes (when every expected site was heard from, or at
//! the deadline), and the servers then agree on the accepted set
//! ([`CloseRound`]): each announces its list of (site, weight), and only
//! the sites all three accepted with the same weight are added ([`agree`]).
//! A site that died after reaching one or two servers, or whose message
//! one server refused, is in no sum: the aggregate is as if it had never
//! submitted. The accept lists are public (participation and weights are
//! public in every form of the protocol).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ndarray::ArrayD;
use serde::{Deserialize, Serialize};

use super::model::ModelSpec;
use super::secure::{ShareParams, ShareServer};
use super::{ClientId, OpenedSum};
use crate::domain::{Ring, Session, TensorData};
use crate::error::{Error, Rejection, Result};
use crate::mpc::Replicated;
use crate::runner::Job;

/// The public description of a federated job that every site and server
/// must agree on (a site's join with other settings is refused, naming the
/// first field that differs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FedSettings {
    /// The job's name (a model name of the access list).
    pub job: String,
    /// Input features of the model.
    pub features: u32,
    /// Hidden units (an MLP), or logistic regression.
    pub hidden: Option<u32>,
    /// Sites expected per round: a round closes early once all have been
    /// heard from.
    pub sites: u32,
    /// Fewest accepted updates for a round to open its aggregate.
    pub min_clients: u32,
    /// Rounds of federated averaging.
    pub rounds: u32,
    /// Milliseconds a round stays open for submissions after it starts.
    pub deadline_ms: u64,
    /// Fraction bits of the updates' fixed-point encoding.
    pub frac_bits: u32,
    /// Sites the encoding leaves headroom for.
    pub max_clients: u32,
    /// Seed of the initial model (public: an MLP's initial weights).
    pub seed: u64,
}

/// The longest round deadline accepted (one day).
pub const MAX_DEADLINE_MS: u64 = 24 * 3600 * 1000;
/// The largest model a federated job takes, in parameters.
pub const MAX_FED_PARAMS: usize = 1 << 24;

impl FedSettings {
    /// Refuses settings that cannot run: names, counts, the deadline and
    /// the fixed-point parameters.
    pub fn check(&self) -> Result<()> {
        // The access list's rule for names (`net::config::valid_name`,
        // which builds without the `tls` feature do not have).
        let name_ok = (1..=64).contains(&self.job.len())
            && self
                .job
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !name_ok {
            return Err(Error::invalid(
                "job",
                format!("'{}': use 1 to 64 of a-z, 0-9, '-', '_'", self.job),
            ));
        }
        if self.features == 0 || self.hidden == Some(0) {
            return Err(Error::invalid("model", "needs at least one input and unit"));
        }
        let n = self.model().num_params();
        if n > MAX_FED_PARAMS {
            return Err(Error::invalid(
                "model",
                format!("{n} parameters exceed the limit of {MAX_FED_PARAMS}"),
            ));
        }
        if self.sites == 0 || self.sites > self.max_clients {
            return Err(Error::invalid(
                "sites",
                format!("{} is not in 1..={}", self.sites, self.max_clients),
            ));
        }
        if self.min_clients == 0 || self.min_clients > self.sites {
            return Err(Error::invalid(
                "min_clients",
                format!("{} is not in 1..={}", self.min_clients, self.sites),
            ));
        }
        if self.rounds == 0 {
            return Err(Error::invalid("rounds", "must be at least 1"));
        }
        if self.deadline_ms == 0 || self.deadline_ms > MAX_DEADLINE_MS {
            return Err(Error::invalid(
                "deadline",
                format!("{} ms is not in 1..={MAX_DEADLINE_MS}", self.deadline_ms),
            ));
        }
        self.share_params()?;
        Ok(())
    }

    /// The model.
    pub fn model(&self) -> ModelSpec {
        match self.hidden {
            None => ModelSpec::logistic(self.features as usize),
            Some(h) => ModelSpec::mlp(self.features as usize, h as usize),
        }
    }

    /// The fixed-point parameters of the shares (explicit shares).
    pub fn share_params(&self) -> Result<ShareParams> {
        ShareParams::new(self.frac_bits, self.max_clients)
    }

    /// The round deadline.
    pub fn deadline(&self) -> Duration {
        Duration::from_millis(self.deadline_ms)
    }

    /// The canonical text of the settings, one `field=value` per line (what
    /// the servers' links compare as the job description).
    pub fn describe(&self) -> String {
        self.fields()
            .iter()
            .map(|(k, v)| format!("{k}={v}\n"))
            .collect()
    }

    fn fields(&self) -> [(&'static str, String); 10] {
        [
            ("job", self.job.clone()),
            ("features", self.features.to_string()),
            ("hidden", format!("{:?}", self.hidden)),
            ("sites", self.sites.to_string()),
            ("min_clients", self.min_clients.to_string()),
            ("rounds", self.rounds.to_string()),
            ("deadline_ms", self.deadline_ms.to_string()),
            ("frac_bits", self.frac_bits.to_string()),
            ("max_clients", self.max_clients.to_string()),
            ("seed", self.seed.to_string()),
        ]
    }

    /// The first field in which `other` differs: `(field, ours, theirs)`.
    pub fn first_difference(&self, other: &FedSettings) -> Option<(&'static str, String, String)> {
        self.fields()
            .into_iter()
            .zip(other.fields())
            .find(|((_, a), (_, b))| a != b)
            .map(|((k, a), (_, b))| (k, a, b))
    }
}

/// Whether a round with `accepted` updates opens its aggregate: at least
/// `min_clients` (and at least one). The rule of the simulator and of the
/// deployed servers.
pub fn quorum(accepted: usize, min_clients: usize) -> bool {
    accepted >= min_clients.max(1)
}

/// The sites every server accepted, with the same weight, in the first
/// list's order: the set the servers add.
pub fn agree(lists: &[Vec<(ClientId, u32)>]) -> Vec<(ClientId, u32)> {
    let Some((first, rest)) = lists.split_first() else {
        return Vec::new();
    };
    first
        .iter()
        .filter(|e| rest.iter().all(|l| l.contains(e)))
        .copied()
        .collect()
}

/// One aggregation server's intake for one round of a deployed job: the
/// messages it accepted, kept until the servers agree on the accepted set,
/// and the refusals (with their reasons, for the progress line).
///
/// Its `Debug` shows no shares.
pub struct RoundIntake {
    server: usize,
    round: u32,
    len: usize,
    params: ShareParams,
    expected: usize,
    deadline: Instant,
    checker: ShareServer,
    kept: BTreeMap<u32, (u32, Vec<u8>)>,
    refused: BTreeMap<u32, Rejection>,
}

impl std::fmt::Debug for RoundIntake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoundIntake")
            .field("server", &self.server)
            .field("round", &self.round)
            .field("kept", &self.kept.len())
            .field("refused", &self.refused)
            .finish()
    }
}

impl RoundIntake {
    /// Server `server`'s empty intake of round `round` for updates of `len`
    /// values, expecting `expected` sites, open until `deadline`.
    pub fn new(
        server: usize,
        round: u32,
        len: usize,
        params: ShareParams,
        expected: usize,
        deadline: Instant,
    ) -> Result<Self> {
        Ok(RoundIntake {
            server,
            round,
            len,
            params,
            expected,
            deadline,
            checker: ShareServer::new(server, round, len, params)?,
            kept: BTreeMap::new(),
            refused: BTreeMap::new(),
        })
    }

    /// The server.
    pub fn server(&self) -> usize {
        self.server
    }

    /// The round.
    pub fn round(&self) -> u32 {
        self.round
    }

    /// When the round stops taking submissions.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// `client`'s message: checked as the simulator's servers check it
    /// ([`ShareServer::check`]) and kept, or refused with
    /// [`Error::UpdateRejected`] naming the client (and remembered as a
    /// refusal). A second message of a client, after a refusal or an
    /// acceptance, is refused as a duplicate; so is anything after the
    /// round closed ([`is_closed`](Self::is_closed)). The exception: the
    /// very message this intake kept, sent again, is taken without change
    /// (a site retrying a failed round resends the same shares, so that
    /// a server that kept them and one restarted without them hold one
    /// sharing of its update, never two).
    pub fn submit(&mut self, client: ClientId, bytes: &[u8], now: Instant) -> Result<()> {
        let reject = |reason: Rejection| Error::UpdateRejected {
            client: client.to_string(),
            reason,
        };
        if self
            .kept
            .get(&client.0)
            .is_some_and(|(_, kept)| kept == bytes)
        {
            return Ok(());
        }
        if self.kept.contains_key(&client.0) || self.refused.contains_key(&client.0) {
            return Err(reject(Rejection::Duplicate));
        }
        if now >= self.deadline {
            let reason = Rejection::Malformed(crate::error::DecodeError::BadField {
                field: "round",
                reason: format!("round {} closed at its deadline", self.round),
            });
            self.refused.insert(client.0, reason.clone());
            return Err(reject(reason));
        }
        if self.kept.len() >= self.params.max_clients() as usize {
            return Err(reject(Rejection::TooManyUpdates {
                max: self.params.max_clients(),
            }));
        }
        match self.checker.check(client, bytes) {
            Ok(c) => {
                self.kept.insert(client.0, (c.weight(), bytes.to_vec()));
                Ok(())
            }
            Err(Error::UpdateRejected { reason, .. }) => {
                self.refused.insert(client.0, reason.clone());
                Err(reject(reason))
            }
            Err(e) => Err(e),
        }
    }

    /// Sites heard from (accepted or refused).
    pub fn heard(&self) -> usize {
        self.kept.len() + self.refused.len()
    }

    /// Whether the round takes no more submissions: every expected site
    /// was heard from, or the deadline passed.
    pub fn is_closed(&self, now: Instant) -> bool {
        self.heard() >= self.expected || now >= self.deadline
    }

    /// The sites whose messages this server accepted, with their weights.
    pub fn kept(&self) -> Vec<(ClientId, u32)> {
        self.kept
            .iter()
            .map(|(c, (w, _))| (ClientId(*c), *w))
            .collect()
    }

    /// The refused sites and why.
    pub fn refused(&self) -> Vec<(ClientId, Rejection)> {
        self.refused
            .iter()
            .map(|(c, r)| (ClientId(*c), r.clone()))
            .collect()
    }

    /// This server's share pair of the sum of the `agreed` sites' updates
    /// (each added by [`ShareServer::add`], as in the simulator).
    pub fn shares_of(&self, agreed: &[(ClientId, u32)]) -> Result<Replicated<u64>> {
        let mut server = ShareServer::new(self.server, self.round, self.len, self.params)?;
        for (client, _) in agreed {
            let (_, bytes) = self.kept.get(&client.0).ok_or_else(|| {
                Error::internal("RoundIntake::shares_of", format!("{client} was not kept"))
            })?;
            server.receive(*client, bytes)?;
        }
        server.into_shares()
    }
}

/// Opens the sum whose share pair this party holds: one reveal (8 bytes
/// per value sent by each server), the round's one disclosure. The
/// simulator's [`MpcRound`](super::MpcRound) and the deployed
/// [`CloseRound`] both open with it.
pub fn reveal_sum<R: Ring + Session>(
    r: &mut R,
    shares: &Replicated<u64>,
    frac_bits: u32,
) -> Result<Vec<f64>> {
    let me = r
        .party()
        .ok_or_else(|| Error::invalid("domain", "the aggregate is opened on shares"))?;
    let (a, b) = shares.expose_shares();
    let bytes = |x: &ArrayD<u64>| x.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>();
    let data = TensorData::Shares {
        shape: shares.shape().to_vec(),
        ring_bits: 64,
        frac_bits,
        party: me as u8,
        a: bytes(a),
        b: bytes(b),
    };
    let x = r.import(&data)?;
    r.set_label("federated aggregate");
    Ok(r.reveal(&x)?.iter().copied().collect())
}

/// The end of a deployed round at one server, as a [`Job`] over the three
/// servers' links: each announces the sites it accepted, all add the sites
/// every server accepted ([`agree`]), and if that is at least
/// `min_clients` they reveal the sum ([`reveal_sum`]).
///
/// `intakes` holds this party's intake (the one whose
/// [`server`](RoundIntake::server) is the party's id); in process, all
/// three.
#[derive(Debug)]
pub struct CloseRound<'a> {
    /// The intakes (this party's, or all three in process).
    pub intakes: &'a [&'a RoundIntake],
    /// Fewest agreed sites for the sum to be opened.
    pub min_clients: usize,
}

/// What [`CloseRound`] gives each server.
#[derive(Debug, Clone, PartialEq)]
pub struct ClosedRound {
    /// The sites all three servers accepted, with their weights.
    pub agreed: Vec<(ClientId, u32)>,
    /// The opened sum, if the quorum was met.
    pub sum: Option<OpenedSum>,
}

impl ClosedRound {
    /// The weighted mean of the agreed updates, if opened.
    pub fn mean(&self) -> Result<Option<Vec<f64>>> {
        self.sum.as_ref().map(OpenedSum::mean).transpose()
    }
}

/// Most sites in one announced list (the limit of the wire format).
const MAX_LIST: usize = 1 << 20;

fn encode_list(list: &[(ClientId, u32)]) -> Vec<u8> {
    list.iter()
        .flat_map(|(c, w)| c.0.to_le_bytes().into_iter().chain(w.to_le_bytes()))
        .collect()
}

fn decode_list(from: usize, bytes: &[u8]) -> Result<Vec<(ClientId, u32)>> {
    if !bytes.len().is_multiple_of(8) || bytes.len() / 8 > MAX_LIST {
        return Err(Error::invalid(
            "accept list",
            format!("server {from} announced {} bytes", bytes.len()),
        ));
    }
    Ok(bytes
        .chunks_exact(8)
        .map(|c| {
            let word = |i: usize| u32::from_le_bytes([c[i], c[i + 1], c[i + 2], c[i + 3]]);
            (ClientId(word(0)), word(4))
        })
        .collect())
}

impl Job for CloseRound<'_> {
    type Output = ClosedRound;

    fn run<R: Ring + Session>(&self, r: &mut R) -> Result<ClosedRound> {
        let me = r
            .party()
            .ok_or_else(|| Error::invalid("domain", "a round closes on the shared domain"))?;
        let intake = self
            .intakes
            .iter()
            .find(|i| i.server == me)
            .ok_or(Error::MissingValue {
                party: me,
                what: "round intake",
            })?;
        let mine = encode_list(&intake.kept());
        let mut lists = Vec::with_capacity(3);
        for p in 0..3 {
            let data = r.announce(p, (p == me).then_some(mine.as_slice()))?;
            lists.push(decode_list(p, &data)?);
        }
        let agreed = agree(&lists);
        if !quorum(agreed.len(), self.min_clients) {
            return Ok(ClosedRound { agreed, sum: None });
        }
        let shares = intake.shares_of(&agreed)?;
        let sum = reveal_sum(r, &shares, intake.params.frac_bits())?;
        Ok(ClosedRound {
            sum: Some(OpenedSum {
                sum,
                accepted: agreed.clone(),
                total_weight: agreed.iter().map(|(_, w)| u64::from(*w)).sum(),
                bytes_from_clients: Vec::new(),
                bytes_server_out: Vec::new(),
            }),
            agreed,
        })
    }
}

/// FedAvg's step: the global model plus the mean update.
pub fn apply_mean(global: &mut [f64], mean: &[f64]) -> Result<()> {
    if global.len() != mean.len() {
        return Err(Error::ShapeMismatch {
            op: "federated average",
            left: vec![global.len()],
            right: vec![mean.len()],
        });
    }
    for (g, m) in global.iter_mut().zip(mean) {
        *g += m;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::SharedConfig;
    use crate::fl::{UpdateMeta, share_update};
    use crate::runner::{DomainKind, Exec, execute};

    fn settings() -> FedSettings {
        FedSettings {
            job: "fed".into(),
            features: 2,
            hidden: None,
            sites: 4,
            min_clients: 2,
            rounds: 1,
            deadline_ms: 1000,
            frac_bits: 16,
            max_clients: 1024,
            seed: 1,
        }
    }

    #[test]
    fn agreed_sites_only_are_added_and_the_mean_counts_them() {
        let p = settings().share_params().unwrap();
        let far = Instant::now() + Duration::from_secs(3600);
        let mut intakes: Vec<RoundIntake> = (0..3)
            .map(|s| RoundIntake::new(s, 1, 3, p, 4, far).unwrap())
            .collect();
        let updates = [[1.0, 2.0, 3.0], [3.0, 0.0, -1.0], [100.0, 100.0, 100.0]];
        for (k, u) in updates.iter().enumerate() {
            let c = ClientId(k as u32);
            let m = share_update(&p, UpdateMeta::new(c, 1, 1), u).unwrap();
            // Client 2 reaches server 0 only (it died mid-upload).
            let reach = if k == 2 { 1 } else { 3 };
            for s in 0..reach {
                intakes[s].submit(c, &m[s], Instant::now()).unwrap();
            }
        }
        // A wrong-shape update is refused naming the client.
        let bad = share_update(&p, UpdateMeta::new(ClientId(3), 1, 1), &[1.0]).unwrap();
        let e = intakes[1]
            .submit(ClientId(3), &bad[1], Instant::now())
            .unwrap_err();
        assert!(e.to_string().contains("client-3"), "{e}");
        // Late: refused as a duplicate after the refusal.
        assert!(
            intakes[1]
                .submit(ClientId(3), &bad[1], Instant::now())
                .is_err()
        );
        assert_eq!(intakes[1].heard(), 3);
        let refs: Vec<&RoundIntake> = intakes.iter().collect();
        let job = CloseRound {
            intakes: &refs,
            min_clients: 2,
        };
        let exec = Exec::Local {
            kind: DomainKind::Shared64,
            cfg: SharedConfig::default(),
        };
        let (closed, _) = execute(&exec, &job).unwrap();
        assert_eq!(closed.agreed, vec![(ClientId(0), 1), (ClientId(1), 1)]);
        let mean = closed.mean().unwrap().unwrap();
        for (m, want) in mean.iter().zip([2.0, 1.0, 1.0]) {
            assert!(
                (m - want).abs() <= 2.0 * p.sum_tolerance(2),
                "{m} vs {want}"
            );
        }
        // Fewer than min_clients: nothing opened.
        let job = CloseRound {
            intakes: &refs,
            min_clients: 3,
        };
        let (closed, _) = execute(&exec, &job).unwrap();
        assert!(closed.sum.is_none());
    }

    #[test]
    fn the_deadline_closes_a_round_and_refuses_late_submissions() {
        let p = settings().share_params().unwrap();
        let t0 = Instant::now();
        let mut i = RoundIntake::new(0, 1, 1, p, 2, t0).unwrap();
        assert!(i.is_closed(t0));
        let m = share_update(&p, UpdateMeta::new(ClientId(0), 1, 1), &[1.0]).unwrap();
        let e = i.submit(ClientId(0), &m[0], t0).unwrap_err();
        assert!(e.to_string().contains("deadline"), "{e}");
    }

    #[test]
    fn malformed_wrong_round_and_duplicate_messages_are_refused_naming_the_site() {
        let p = settings().share_params().unwrap();
        let far = Instant::now() + Duration::from_secs(3600);
        let mut i = RoundIntake::new(0, 2, 2, p, 4, far).unwrap();
        let now = Instant::now();
        let named = |e: Error, site: &str, what: &str| {
            let t = e.to_string();
            assert!(t.contains(site), "{t}");
            assert!(t.to_lowercase().contains(what), "{t}");
        };
        // Malformed: not a message at all.
        named(
            i.submit(ClientId(0), b"not a message", now).unwrap_err(),
            "client-0",
            "",
        );
        // Wrong round: a message for round 1 in round 2.
        let old = share_update(&p, UpdateMeta::new(ClientId(1), 1, 5), &[1.0, 2.0]).unwrap();
        named(
            i.submit(ClientId(1), &old[0], now).unwrap_err(),
            "client-1",
            "round",
        );
        // Accepted, then resent unchanged (a retry): taken, nothing added.
        let m = share_update(&p, UpdateMeta::new(ClientId(2), 2, 5), &[1.0, 2.0]).unwrap();
        i.submit(ClientId(2), &m[0], now).unwrap();
        i.submit(ClientId(2), &m[0], now).unwrap();
        assert_eq!(i.kept(), vec![(ClientId(2), 5)]);
        // A second, different message of the same site: a duplicate.
        let again = share_update(&p, UpdateMeta::new(ClientId(2), 2, 5), &[1.0, 2.0]).unwrap();
        assert_ne!(again[0], m[0], "fresh shares");
        let e = i.submit(ClientId(2), &again[0], now).unwrap_err();
        assert!(
            matches!(
                &e,
                Error::UpdateRejected {
                    reason: Rejection::Duplicate,
                    ..
                }
            ),
            "{e}"
        );
        named(e, "client-2", "");
        assert_eq!(i.kept(), vec![(ClientId(2), 5)]);
        let refused: Vec<u32> = i.refused().into_iter().map(|(c, _)| c.0).collect();
        assert_eq!(refused, vec![0, 1]);
        assert_eq!(i.heard(), 3);
        // The quorum rule of both forms.
        assert!(quorum(2, 2) && !quorum(1, 2) && !quorum(0, 0) && quorum(1, 0));
    }

    #[test]
    fn settings_are_checked_and_differences_named() {
        let s = settings();
        s.check().unwrap();
        let mut t = s.clone();
        t.min_clients = 9;
        assert!(t.check().is_err());
        t = s.clone();
        t.deadline_ms = 0;
        assert!(t.check().is_err());
        t = s.clone();
        t.rounds = 7;
        assert_eq!(s.first_difference(&t).unwrap().0, "rounds");
        assert!(s.describe().contains("sites=4\n"));
    }
}
