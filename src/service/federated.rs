//! Federated sites on the network (issue 17): the three serving parties
//! as the aggregation servers of federated averaging, each site
//! (`privml client federated`) a client process of its own.
//!
//! ```text
//! site k                                  server i (privml serve --id i)
//!   FedJoin(settings) ───────────────────▶ creates the job (or checks the settings), answers
//!   ◀──────────────────── round r, global model w (public to the sites by design)
//!   trains w on its own rows: Δ_k = w_k − w
//!   FedSubmit(r, message i) ─────────────▶ checks it (ShareServer::check), keeps it
//!        message i = (x_i, x_{i+1}) of n_k·Δ_k, replicated shares: server i gets only its pair
//!   FedWait(r) ──────────────────────────▶ when all sites were heard from or the deadline passed:
//!                                            the three servers, over their party links,
//!                                            announce their accept lists, add the sites all
//!                                            three accepted, reveal only the sum (≥ min_clients),
//!                                            w ← w + Σ n_k Δ_k / Σ n_k, saved in the store
//!   ◀──────────────────── round summary and the new global model
//! ```
//!
//! Coordination: there is no coordinator process. Every server runs the
//! same rounds on its own clock: round 1 opens when the first site joins
//! the job at that server, round r+1 when round r closed there; a round
//! closes at a server when every expected site was heard from (accepted
//! or refused) or at the deadline, and the close is one secure
//! computation of the three over their links, so it completes when the
//! last of the three closes. The sites drive it: each waits for the
//! round's result at all three servers (a server closes a round inside
//! the handler of a site's wait).
//!
//! The job is defined by its public [`FedSettings`], which every site
//! sends when it joins: the first join creates the job at a server, a
//! later join with other settings is refused naming the field. A site's
//! id in the update headers is its position in the parties file's
//! `[[client]]` list, and it may join only a job its access list entry
//! allows as a model (`models = [...]`).
//!
//! A server restarted between rounds resumes from its store
//! (`federated/JOB.state`: the settings, the open round and the global
//! model, written atomically after every round). A round whose close
//! fails (a server down) is an error to every site waiting on it, naming
//! the round and the server, and is opened again, under the same number,
//! with a fresh deadline (what the servers had kept of it is dropped).
//! A site does not stop there: it retries the round
//! ([`SiteOptions::retries`], 3 by default), reconnecting until the lost
//! server is back (up to its `--timeout`), joining again and resending the
//! same messages, so that the federation continues when the server
//! returns without anyone restarting the sites. A server that kept a
//! message takes the same message again without change; no server ever
//! holds two sharings of one site's update.
//!
//! Progress on the coordinating side: each server logs every round's
//! close (round, sites in, dropped and refused, by name). Servers hold no
//! data, so they know no accuracy unless sites report it: a site run with
//! `--report-accuracy` sends each server, after every round, the accuracy
//! of the new global model on its own rows and its row count
//! ([`super::Request::FedReport`]), and the servers log
//! the mean weighted by rows over the sites that reported.
//!
//! Disclosures: to every server, the headers (site ids, round, weights,
//! length) and the accept lists of the other two; to the servers and the
//! sites, the aggregate (the new global model) and the round's public
//! summary (which sites were accepted, refused and why, dropped); with
//! `--report-accuracy`, to the servers, each reporting site's accuracy of
//! each round's global model on its rows (one number per round).
//! Nothing else: each server receives its pair of replicated shares of a
//! site's update, uniformly random words.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::server::ClientBytes;
use super::store::JobFiles;
use super::{Connection, Reply, Request, receive, send, unexpected};
use crate::domain::SharedConfig;
use crate::error::{Error, Origin, Result};
use crate::fl::{
    ClientId, CloseRound, FedSettings, LocalTraining, RoundIntake, UpdateMeta, apply_mean,
    share_update,
};
use crate::net::Channel;
use crate::net::config::PartiesConfig;
use crate::net::tcp::{self, ConnectOptions};
use crate::runner::{Exec, RingSize, execute};

/// The public summary of a closed round, as every server gives it to the
/// sites.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FedRoundSummary {
    /// The round.
    pub round: u32,
    /// Sites whose updates all three servers accepted (the mean's count),
    /// with their weights.
    pub accepted: Vec<(String, u32)>,
    /// Sites this server refused, and why.
    pub refused: Vec<(String, String)>,
    /// Sites that did not submit in time, or reached only some servers.
    pub dropped: Vec<String>,
    /// Whether the aggregate was opened and applied (at least
    /// `min_clients` accepted).
    pub aggregated: bool,
}

impl FedRoundSummary {
    /// The round's sites as the progress logs print them: `k sites in
    /// (names), d dropped (names), f refused (name: why)`.
    pub fn sites(&self) -> String {
        let accepted: Vec<&str> = self.accepted.iter().map(|(n, _)| n.as_str()).collect();
        let refused: String = self
            .refused
            .iter()
            .map(|(n, r)| format!(" ({n}: {r})"))
            .collect();
        format!(
            "{} sites in ({}), {} dropped ({}), {} refused{refused}",
            self.accepted.len(),
            accepted.join(", "),
            self.dropped.len(),
            self.dropped.join(", "),
            self.refused.len(),
        )
    }
}

/// A job's state at one server, as sites see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FedStatus {
    /// The round now open (after the last, `rounds + 1`).
    pub round: u32,
    /// The global model.
    pub global: Vec<f64>,
    /// Whether every round has been run.
    pub done: bool,
    /// The last closed round.
    pub last: Option<FedRoundSummary>,
}

/// What a server saves of a job after every round.
#[derive(Debug, Serialize, Deserialize)]
struct Saved {
    settings: FedSettings,
    round: u32,
    global: Vec<f64>,
    last: Option<FedRoundSummary>,
}

/// A server's federated jobs, kept in `STORE/federated/`.
#[derive(Debug)]
pub struct FedJobs {
    files: JobFiles,
    jobs: Mutex<HashMap<String, Arc<FedJob>>>,
}

#[derive(Debug)]
struct FedJob {
    settings: FedSettings,
    state: Mutex<JobState>,
    changed: Condvar,
}

#[derive(Debug)]
struct JobState {
    round: u32,
    global: Vec<f64>,
    last: Option<FedRoundSummary>,
    /// `None` while the round is being closed.
    intake: Option<RoundIntake>,
    /// Failed closes of the open round, and the last one's error: a
    /// site waiting on an attempt that failed is told, and retries.
    failures: u32,
    failure: String,
    /// Accuracy of the last closed round's model that sites reported
    /// (`--report-accuracy`): site, accuracy, rows.
    reports: Vec<(String, f64, u32)>,
    /// When the open round opened here, and the party's client byte
    /// counters then (received, sent): the round's progress line reports
    /// the time and the bytes since.
    opened: (Instant, u64, u64),
}

/// The moment a round opens: now and the byte counters.
fn mark(bytes: &ClientBytes) -> (Instant, u64, u64) {
    (Instant::now(), bytes.received(), bytes.sent())
}

/// What the server's request handler needs to close a round.
pub(crate) struct CloseContext<'a> {
    /// This party.
    pub me: usize,
    /// The parties file.
    pub parties: &'a Arc<PartiesConfig>,
    /// Per-operation timeout of the links.
    pub io_timeout: Duration,
    /// One secure computation at a time.
    pub jobs: &'a Mutex<()>,
    /// The log.
    pub log: &'a (dyn Fn(&str) + Send + Sync),
    /// The party's byte counters of client traffic.
    pub bytes: &'a ClientBytes,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A site's id: its position in the access list.
pub fn site_id(parties: &PartiesConfig, name: &str) -> Option<ClientId> {
    parties
        .clients
        .iter()
        .position(|c| c.name == name)
        .and_then(|i| u32::try_from(i).ok())
        .map(ClientId)
}

fn site_name(parties: &PartiesConfig, id: ClientId) -> String {
    parties
        .clients
        .get(id.0 as usize)
        .map_or_else(|| id.to_string(), |c| c.name.clone())
}

impl FedJobs {
    /// The jobs of the store in `store_dir` (loaded when a site joins).
    pub fn new(store_dir: &Path) -> Result<FedJobs> {
        Ok(FedJobs {
            files: JobFiles::open(store_dir, "federated")?,
            jobs: Mutex::default(),
        })
    }

    fn save(&self, settings: &FedSettings, st: &JobState) -> Result<()> {
        let saved = Saved {
            settings: settings.clone(),
            round: st.round,
            global: st.global.clone(),
            last: st.last.clone(),
        };
        self.files.save(&settings.job, &saved)
    }

    fn intake(me: usize, s: &FedSettings, round: u32) -> Result<RoundIntake> {
        RoundIntake::new(
            me,
            round,
            s.model().num_params(),
            s.share_params()?,
            s.sites as usize,
            Instant::now() + s.deadline(),
        )
    }

    /// Joins (creating or resuming) the job `settings` describes.
    pub(crate) fn join(
        &self,
        me: usize,
        settings: &FedSettings,
        bytes: &ClientBytes,
        log: &dyn Fn(&str),
    ) -> Result<FedStatus> {
        settings.check()?;
        let mut jobs = lock(&self.jobs);
        let job = match jobs.get(&settings.job) {
            Some(j) => Arc::clone(j),
            None => {
                let (round, global, last) = if let Some(saved) =
                    self.files.load::<Saved>(&settings.job)?
                {
                    if let Some((f, ours, theirs)) = saved.settings.first_difference(settings) {
                        return Err(Error::invalid(
                            "settings",
                            format!(
                                "job '{}' was stored with {f}={ours}, the site sent {f}={theirs}",
                                settings.job
                            ),
                        ));
                    }
                    log(&format!(
                        "federated '{}': resumed from the store at round {}",
                        settings.job, saved.round
                    ));
                    (saved.round, saved.global, saved.last)
                } else {
                    let m = settings.model();
                    log(&format!(
                        "federated '{}': new job, {}, {} sites, {} rounds, min {} per round, deadline {:.1} s",
                        settings.job,
                        m.describe(),
                        settings.sites,
                        settings.rounds,
                        settings.min_clients,
                        settings.deadline().as_secs_f64()
                    ));
                    (1, m.init(settings.seed), None)
                };
                let intake = Self::intake(me, settings, round)?;
                let st = JobState {
                    round,
                    global,
                    last,
                    intake: Some(intake),
                    failures: 0,
                    failure: String::new(),
                    reports: Vec::new(),
                    opened: mark(bytes),
                };
                self.save(settings, &st)?;
                let j = Arc::new(FedJob {
                    settings: settings.clone(),
                    state: Mutex::new(st),
                    changed: Condvar::new(),
                });
                jobs.insert(settings.job.clone(), Arc::clone(&j));
                j
            }
        };
        drop(jobs);
        if let Some((f, ours, theirs)) = job.settings.first_difference(settings) {
            return Err(Error::invalid(
                "settings",
                format!(
                    "job '{}' runs with {f}={ours}, the site sent {f}={theirs}",
                    settings.job
                ),
            ));
        }
        let st = lock(&job.state);
        Ok(job.status(&st))
    }

    fn get(&self, job: &str) -> Result<Arc<FedJob>> {
        lock(&self.jobs).get(job).cloned().ok_or_else(|| {
            Error::invalid(
                "job",
                format!("no federated job '{job}' at this party (join it first)"),
            )
        })
    }

    /// A site's message for `round`.
    pub(crate) fn submit(
        &self,
        parties: &PartiesConfig,
        site: &str,
        job: &str,
        round: u32,
        message: &[u8],
        log: &dyn Fn(&str),
    ) -> Result<()> {
        let id = site_id(parties, site)
            .ok_or_else(|| Error::invalid("site", format!("{site} is not listed")))?;
        let job = self.get(job)?;
        let mut st = lock(&job.state);
        // A site that retries a failed round may reach this server while
        // its close is still failing (it waits on the other servers' links
        // up to their deadlines): wait for the round to reopen or close.
        while st.intake.is_none() && round == st.round {
            st = job
                .changed
                .wait_timeout(st, Duration::from_millis(200))
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        if round != st.round {
            return Err(Error::invalid(
                "round",
                format!("site {site}: round {} is open, not round {round}", st.round),
            ));
        }
        let intake = st
            .intake
            .as_mut()
            .ok_or_else(|| Error::internal("submit", format!("round {round} has no intake")))?;
        let res = intake.submit(id, message, Instant::now());
        let heard = intake.heard();
        drop(st);
        job.changed.notify_all();
        match res {
            Ok(()) => {
                log(&format!(
                    "federated '{}' round {round}: update from site {site} ({} bytes), {heard} of {} sites heard from",
                    job.settings.job,
                    message.len(),
                    job.settings.sites
                ));
                Ok(())
            }
            Err(e) => {
                log(&format!(
                    "federated '{}' round {round}: refused site {site}: {e}",
                    job.settings.job
                ));
                Err(Error::invalid(
                    "update",
                    format!("site {site}'s update refused: {e}"),
                ))
            }
        }
    }

    /// Waits until `round` closed at this server (closing it here when
    /// its intake is complete) and returns the job's status.
    pub(crate) fn wait(&self, ctx: &CloseContext<'_>, job: &str, round: u32) -> Result<FedStatus> {
        let job = self.get(job)?;
        let mut st = lock(&job.state);
        // Every site waiting on this attempt of the round hears of its
        // failure, not only the one whose handler closed it.
        let failures = st.failures;
        loop {
            if round < st.round {
                return Ok(job.status(&st));
            }
            if round == st.round && st.failures != failures {
                return Err(Error::invalid("round", st.failure.clone()));
            }
            if round > st.round {
                return Err(Error::invalid(
                    "round",
                    format!("round {} is open, not round {round}", st.round),
                ));
            }
            let now = Instant::now();
            let Some(intake) = &st.intake else {
                st = job
                    .changed
                    .wait_timeout(st, Duration::from_millis(200))
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
                continue;
            };
            if !intake.is_closed(now) {
                let left = intake.deadline().saturating_duration_since(now);
                st = job
                    .changed
                    .wait_timeout(st, left.max(Duration::from_millis(10)))
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
                continue;
            }
            // This handler closes the round; the others wait for it.
            let Some(intake) = st.intake.take() else {
                continue;
            };
            let opened = st.opened;
            drop(st);
            let closed = self.close(ctx, &job, &intake, opened);
            let mut st2 = lock(&job.state);
            let res = match closed {
                Ok((summary, mean)) => {
                    if let Some(m) = &mean {
                        apply_mean(&mut st2.global, m)?;
                    }
                    st2.round += 1;
                    st2.last = Some(summary);
                    st2.reports.clear();
                    st2.intake = Some(Self::intake(ctx.me, &job.settings, st2.round)?);
                    st2.opened = mark(ctx.bytes);
                    self.save(&job.settings, &st2)?;
                    Ok(job.status(&st2))
                }
                Err(e) => {
                    (ctx.log)(&format!(
                        "federated '{}' round {round} failed: {e}; the round opens again",
                        job.settings.job
                    ));
                    st2.intake = Some(Self::intake(ctx.me, &job.settings, st2.round)?);
                    st2.opened = mark(ctx.bytes);
                    st2.failures += 1;
                    st2.failure = format!(
                        "round {round} failed at party {}: {e}; the round opens again (attempt {})",
                        ctx.me,
                        st2.failures + 1
                    );
                    Err(Error::invalid("round", st2.failure.clone()))
                }
            };
            drop(st2);
            job.changed.notify_all();
            return res;
        }
    }

    /// A site's accuracy of the global model of closed round `round` on
    /// its own rows (`privml client federated --report-accuracy`): a
    /// public scalar the site chose to disclose. The server keeps the last
    /// closed round's reports (a site's later report replaces its earlier
    /// one) and logs their mean weighted by the sites' rows: servers hold
    /// no data, so this is the only accuracy the coordinating side has.
    pub(crate) fn report(
        &self,
        site: &str,
        job: &str,
        round: u32,
        accuracy: f64,
        rows: u32,
        log: &dyn Fn(&str),
    ) -> Result<()> {
        if !(0.0..=1.0).contains(&accuracy) {
            return Err(Error::invalid(
                "accuracy",
                format!("site {site}: {accuracy} is not in [0, 1]"),
            ));
        }
        if rows == 0 {
            return Err(Error::invalid("rows", format!("site {site}: no rows")));
        }
        let job = self.get(job)?;
        let mut st = lock(&job.state);
        if round.checked_add(1) != Some(st.round) {
            return Err(Error::invalid(
                "round",
                format!(
                    "site {site}: an accuracy report for round {round}, the last closed round is {}",
                    st.round.saturating_sub(1)
                ),
            ));
        }
        st.reports.retain(|(s, _, _)| s != site);
        st.reports.push((site.to_string(), accuracy, rows));
        let (mean, n) = weighted_mean(&st.reports);
        log(&format!(
            "federated '{}' round {round}: site {site} reports accuracy {accuracy:.3} on {rows} rows; weighted mean {mean:.3} over {} sites ({n} rows)",
            job.settings.job,
            st.reports.len()
        ));
        Ok(())
    }

    /// Closes `intake`'s round with the other two servers; `opened` is
    /// when the round opened here and the client byte counters then.
    fn close(
        &self,
        ctx: &CloseContext<'_>,
        job: &FedJob,
        intake: &RoundIntake,
        opened: (Instant, u64, u64),
    ) -> Result<(FedRoundSummary, Option<Vec<f64>>)> {
        let (opened_at, received_at_open, sent_at_open) = opened;
        let open_for = opened_at.elapsed();
        let from_sites = ctx.bytes.received().saturating_sub(received_at_open);
        let to_sites = ctx.bytes.sent().saturating_sub(sent_at_open);
        let s = &job.settings;
        let round = intake.round();
        let session = format!("privml serve: federated round={round}\n{}", s.describe());
        let mut opts = ConnectOptions::from_config(ctx.parties).session(session);
        // The others close at their own deadline (or when all sites are in).
        opts.deadline += s.deadline();
        let cfg = SharedConfig::default()
            .frac_bits(s.frac_bits)
            .timeout(ctx.io_timeout);
        let parties = Arc::clone(ctx.parties);
        let me = ctx.me;
        let connect = move || -> Result<(Box<dyn Channel>, Box<dyn Channel>)> {
            Ok(tcp::connect(&parties, me, &opts)?.into_boxed())
        };
        let exec = Exec::Party {
            id: me,
            ring: RingSize::Z64,
            cfg,
            connect: &connect,
        };
        let intakes = [intake];
        let close = CloseRound {
            intakes: &intakes,
            min_clients: s.min_clients as usize,
        };
        let t0 = Instant::now();
        let (closed, cost) = {
            let _one_at_a_time = lock(ctx.jobs);
            execute(&exec, &close)?
        };
        let to_servers = cost.bytes_sent.get(me).copied().unwrap_or(0);
        let mean = closed.mean()?;
        let refused: Vec<(String, String)> = intake
            .refused()
            .into_iter()
            .map(|(c, r)| (site_name(ctx.parties, c), r.to_string()))
            .collect();
        let accepted: Vec<(String, u32)> = closed
            .agreed
            .iter()
            .map(|(c, w)| (site_name(ctx.parties, *c), *w))
            .collect();
        let known: Vec<&String> = accepted
            .iter()
            .map(|(n, _)| n)
            .chain(refused.iter().map(|(n, _)| n))
            .collect();
        // The listed sites that may join the job and were neither accepted
        // nor refused here.
        let dropped: Vec<String> = ctx
            .parties
            .clients
            .iter()
            .filter(|c| c.may_use_model(&s.job) && !known.contains(&&c.name))
            .map(|c| c.name.clone())
            .collect();
        let summary = FedRoundSummary {
            round,
            accepted,
            refused,
            dropped,
            aggregated: mean.is_some(),
        };
        (ctx.log)(&format!(
            "federated '{}' round {round}/{}: {}; {} \
             (open {:.3} s, {:.3} s to close; bytes since the round opened: {from_sites} from sites, \
             {to_sites} to sites, {to_servers} to the other servers)",
            s.job,
            s.rounds,
            summary.sites(),
            if summary.aggregated {
                "aggregate opened, global model updated".to_string()
            } else {
                format!(
                    "fewer than {} sites: nothing opened, model unchanged",
                    s.min_clients
                )
            },
            open_for.as_secs_f64(),
            t0.elapsed().as_secs_f64()
        ));
        Ok((summary, mean))
    }
}

/// The mean of the reported accuracies weighted by rows, and the rows.
fn weighted_mean(reports: &[(String, f64, u32)]) -> (f64, u64) {
    let rows: u64 = reports.iter().map(|r| u64::from(r.2)).sum();
    let sum: f64 = reports.iter().map(|r| r.1 * f64::from(r.2)).sum();
    (if rows == 0 { 0.0 } else { sum / rows as f64 }, rows)
}

impl FedJob {
    fn status(&self, st: &JobState) -> FedStatus {
        FedStatus {
            round: st.round,
            global: st.global.clone(),
            done: st.round > self.settings.rounds,
            last: st.last.clone(),
        }
    }
}

/// A misbehaving site (tests and demonstrations of the servers' checks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SiteFault {
    /// Submits an update one value short every round.
    WrongShape,
    /// Sends its message to server 0 only in round 1, then ends (as a site
    /// that dies mid-upload).
    Disconnect,
}

crate::keyword::keyword_enum!(SiteFault, "site fault", {
    WrongShape => "wrong-shape",
    Disconnect => "disconnect",
});

/// One round as a site saw it.
#[derive(Debug, Clone)]
pub struct SiteRound {
    /// The round.
    pub round: u32,
    /// Whether this site's update was accepted by all three servers.
    pub accepted: bool,
    /// The round's public summary (from server 0).
    pub summary: FedRoundSummary,
    /// Accuracy of the new global model on this site's rows.
    pub local_accuracy: f64,
    /// Bytes this site sent each server this round (its messages).
    pub bytes: [u64; 3],
    /// Local training and sharing of the update (this process alone).
    pub time_train: Duration,
    /// Sending the three messages (until each server took its own).
    pub time_upload: Duration,
    /// Waiting for the round to close at all three servers (the other
    /// sites, the deadline and the servers' aggregation).
    pub time_wait: Duration,
    /// The servers' refusals of this site's update, if any.
    pub refusals: Vec<String>,
}

/// What a site's run ends with.
#[derive(Debug, Clone)]
pub struct SiteReport {
    /// The final global model.
    pub global: Vec<f64>,
    /// The rounds this site took part in.
    pub rounds: Vec<SiteRound>,
}

/// Sends one request to each party, then reads the three replies (the
/// servers may need each other before answering).
fn call_all(conns: &mut [Connection; 3], reqs: [Request; 3]) -> Result<[Reply; 3]> {
    for (conn, req) in conns.iter_mut().zip(&reqs) {
        conn.round += 1;
        let party = conn.party;
        send(&mut conn.stream, conn.round, req).map_err(|e| lost(party, e))?;
    }
    let mut out = Vec::with_capacity(3);
    for conn in conns.iter_mut() {
        let who = Origin::Peer {
            party: conn.party,
            op: "federated reply".into(),
        };
        let party = conn.party;
        match receive(&mut conn.stream, conn.max_reply, &who).map_err(|e| lost(party, e))? {
            Some(Reply::Failed(why)) => {
                return Err(Error::invalid(
                    "request",
                    format!("party {party} refused: {why}"),
                ));
            }
            Some(r) => out.push(r),
            None => {
                return Err(Error::invalid(
                    "connection",
                    format!("party {party} closed the connection (is it running?)"),
                ));
            }
        }
    }
    out.try_into()
        .map_err(|_| Error::internal("call_all", "three replies expected"))
}

fn lost(party: usize, e: Error) -> Error {
    match e {
        Error::Io(io) => Error::invalid(
            "connection",
            format!(
                "lost party {party} ({io}): it stopped, or it refused this site (a certificate \
                 not from the deployment CA, or a name not on the access list); \
                 no round completes without all three parties"
            ),
        ),
        other => other,
    }
}

fn statuses(replies: [Reply; 3]) -> Result<FedStatus> {
    let mut out = Vec::with_capacity(3);
    for (party, r) in replies.into_iter().enumerate() {
        match r {
            Reply::Federated(s) => out.push(*s),
            other => return Err(unexpected(party, &other)),
        }
    }
    for (party, s) in out.iter().enumerate().skip(1) {
        if s.round != out[0].round || s.global != out[0].global {
            return Err(Error::invalid(
                "servers",
                format!(
                    "party {party} is at round {} and party 0 at round {}, or their global models differ: the servers disagree",
                    s.round, out[0].round
                ),
            ));
        }
    }
    out.into_iter()
        .next()
        .ok_or_else(|| Error::internal("statuses", "no reply"))
}

/// What a site does besides its rounds: how often it retries a round that
/// failed, and whether it reports its accuracy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SiteOptions {
    /// Attempts of a round after the first when the round fails (a server
    /// lost, a close that failed): the site reconnects (waiting for a
    /// restarted server), joins again and sends a fresh update for the
    /// round the servers have open. 0: the first failure ends the run.
    pub retries: u32,
    /// Whether to send each server the accuracy of every round's global
    /// model on this site's rows (a public scalar, and the row count).
    pub report_accuracy: bool,
    /// A misbehaving site (tests).
    pub fault: Option<SiteFault>,
}

impl Default for SiteOptions {
    fn default() -> Self {
        SiteOptions {
            retries: DEFAULT_SITE_RETRIES,
            report_accuracy: false,
            fault: None,
        }
    }
}

/// Retries of a failed round by default.
pub const DEFAULT_SITE_RETRIES: u32 = 3;

/// What a site's run reports as it goes.
#[derive(Debug)]
pub enum SiteEvent<'a> {
    /// A round completed.
    Round(&'a SiteRound),
    /// A round failed and will be attempted again.
    Retry {
        /// The round.
        round: u32,
        /// The attempt that comes next (2 for the first retry).
        attempt: u32,
        /// Attempts in all.
        of: u32,
        /// Why the round failed (it names the lost server).
        error: &'a Error,
    },
}

/// Runs one site: joins the job at the three servers, and every round
/// trains the global model on `x`, `y`, shares its update (weighted by its
/// row count) and sends each server only its pair of shares, then waits
/// for the round's result. `log` gets a line per round.
///
/// A refusal of this site's update is reported in its round (the round
/// goes on without it). A round that fails (a server lost, or a close that
/// failed) is retried `opts.retries` times: `reconnect` opens three fresh
/// connections (it should wait for a restarted server), the site joins
/// again and sends a fresh update for the round the servers have open
/// (the servers reopen a failed round under the same number with a fresh
/// deadline and drop what they had kept of it). After that, the error
/// ends the run, naming the round and the server.
#[allow(
    clippy::too_many_arguments,
    reason = "a site's run: its connections, identity, job, rows, training, options and log"
)]
pub fn run_site(
    conns: &mut [Connection; 3],
    mut reconnect: impl FnMut() -> Result<[Connection; 3]>,
    parties: &PartiesConfig,
    site: &str,
    settings: &FedSettings,
    x: &ndarray::Array2<f64>,
    y: &ndarray::Array1<f64>,
    local: LocalTraining,
    opts: SiteOptions,
    mut log: impl FnMut(SiteEvent<'_>),
) -> Result<SiteReport> {
    settings.check()?;
    let id = site_id(parties, site).ok_or_else(|| {
        Error::invalid(
            "site",
            format!("{site} is not in the parties file's [[client]] list"),
        )
    })?;
    if x.ncols() != settings.features as usize {
        return Err(Error::invalid(
            "data",
            format!(
                "{} feature columns, the job has {}",
                x.ncols(),
                settings.features
            ),
        ));
    }
    let weight = u32::try_from(x.nrows())
        .map_err(|_| Error::invalid("data", "too many rows for a weight"))?;
    let model = settings.model();
    let params = settings.share_params()?;
    let join = |conns: &mut [Connection; 3]| -> Result<FedStatus> {
        let req = || Request::FedJoin {
            settings: settings.clone(),
        };
        statuses(call_all(conns, [req(), req(), req()])?)
    };
    let mut status = join(conns)?;
    let mut rounds = Vec::new();
    // Failed attempts of the round now open.
    let mut failed = (status.round, 0u32);
    // The messages of the round now open: a retry resends them unchanged,
    // so that no server ever holds two sharings of one update.
    let mut shared: Option<(u32, [Vec<u8>; 3])> = None;
    while !status.done {
        let round = status.round;
        if failed.0 != round {
            failed = (round, 0);
        }
        let t_train = Instant::now();
        let msgs = match &shared {
            Some((r, m)) if *r == round => m.clone(),
            _ => {
                let new = model.train_local(&status.global, x, y, local)?;
                let mut delta: Vec<f64> =
                    new.iter().zip(&status.global).map(|(n, g)| n - g).collect();
                if opts.fault == Some(SiteFault::WrongShape) {
                    delta.pop();
                }
                let m = share_update(&params, UpdateMeta::new(id, round, weight), &delta)?;
                shared = Some((round, m.clone()));
                m
            }
        };
        let time_train = t_train.elapsed();
        let bytes = msgs.clone().map(|m| m.len() as u64);
        if opts.fault == Some(SiteFault::Disconnect) {
            let [m0, _, _] = msgs;
            conns[0].round += 1;
            let req = Request::FedSubmit {
                job: settings.job.clone(),
                round,
                message: m0,
            };
            send(&mut conns[0].stream, conns[0].round, &req)?;
            return Err(Error::invalid(
                "site",
                "disconnected after its first message (the disconnect fault)",
            ));
        }
        let (next, refusals, time_upload, time_wait) =
            match exchange(conns, &settings.job, round, msgs) {
                Ok(r) => r,
                Err(e) => {
                    let mut e = Error::invalid("round", format!("round {round}: {e}"));
                    // Reconnecting and joining again are part of the attempt.
                    status = loop {
                        failed.1 += 1;
                        if failed.1 > opts.retries {
                            return Err(e);
                        }
                        log(SiteEvent::Retry {
                            round,
                            attempt: failed.1 + 1,
                            of: opts.retries + 1,
                            error: &e,
                        });
                        match reconnect().and_then(|mut c| {
                            let s = join(&mut c)?;
                            *conns = c;
                            Ok(s)
                        }) {
                            Ok(s) => break s,
                            Err(again) => {
                                e = Error::invalid("round", format!("round {round}: {again}"))
                            }
                        }
                    };
                    continue;
                }
            };
        status = next;
        let summary = status
            .last
            .clone()
            .ok_or_else(|| Error::internal("run_site", "a closed round without a summary"))?;
        let accuracy = model.accuracy(&status.global, x, y)?;
        let r = SiteRound {
            round,
            accepted: refusals.is_empty() && summary.accepted.iter().any(|(n, _)| n == site),
            refusals,
            local_accuracy: accuracy,
            summary,
            bytes,
            time_train,
            time_upload,
            time_wait,
        };
        if opts.report_accuracy {
            let req = || Request::FedReport {
                job: settings.job.clone(),
                round,
                accuracy,
                rows: weight,
            };
            // A report that does not arrive costs only the servers' log
            // line; a lost server shows in the next round.
            for conn in conns.iter_mut() {
                let _ = conn.call(&req());
            }
        }
        log(SiteEvent::Round(&r));
        rounds.push(r);
    }
    Ok(SiteReport {
        global: status.global,
        rounds,
    })
}

/// Sends this round's messages and waits for its result: the new status,
/// the servers' refusals of this site's update, and how long the upload
/// and the wait took.
fn exchange(
    conns: &mut [Connection; 3],
    job: &str,
    round: u32,
    msgs: [Vec<u8>; 3],
) -> Result<(FedStatus, Vec<String>, Duration, Duration)> {
    let t_upload = Instant::now();
    let mut refusals = Vec::new();
    for (conn, m) in conns.iter_mut().zip(msgs) {
        let req = Request::FedSubmit {
            job: job.to_string(),
            round,
            message: m,
        };
        if let Err(e) = conn.call(&req) {
            refusals.push(refusal(e)?);
        }
    }
    let wait = || Request::FedWait {
        job: job.to_string(),
        round,
    };
    let time_upload = t_upload.elapsed();
    let t_wait = Instant::now();
    let status = statuses(call_all(conns, [wait(), wait(), wait()])?)?;
    Ok((status, refusals, time_upload, t_wait.elapsed()))
}

/// A server's answer to a site's submission that failed: its refusal of
/// the update (the reason, for the site's round line), or any other
/// error, which fails the round.
pub(crate) fn refusal(e: Error) -> Result<String> {
    match e {
        Error::InvalidParameter {
            name: "request",
            reason,
        } => Ok(reason),
        other => Err(other),
    }
}

#[cfg(test)]
mod tests {
    use super::weighted_mean;

    #[test]
    fn reported_accuracies_are_weighted_by_rows() {
        let r = vec![("a".to_string(), 1.0, 30), ("b".to_string(), 0.5, 10)];
        let (mean, rows) = weighted_mean(&r);
        assert_eq!(rows, 40);
        assert!((mean - 0.875).abs() < 1e-12, "{mean}");
        assert_eq!(weighted_mean(&[]), (0.0, 0));
    }
}
