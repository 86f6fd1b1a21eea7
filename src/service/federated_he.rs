//! Federated sites with homomorphic aggregation, deployed (issue 17, item
//! 3): the model owner is a client holding the BFV secret key, ONE
//! serving party aggregates ciphertexts without any key, the sites are
//! clients of that one party.
//!
//! ```text
//! owner (privml client fed-owner)     party p (privml serve --id p)          site k (client federated --scheme he)
//!   Create(settings, public key) ───▶ creates the job (owner = this client)
//!                                     ◀─── Join: settings, public key, round r, global w
//!                                          trains w on its rows, Δ_k = w_k − w
//!                                     ◀─── Submit(r, Enc_pk(n_k·Δ_k)): checked (HeRound::submit), added
//!   Collect(r) ─────────────────────▶ when every site was heard from or at the deadline:
//!   ◀── the encrypted sum + accepted list (only if ≥ min_clients accepted; else the round
//!       closes with the model unchanged)
//!   decrypts (the one decryption), w ← w + Σ n_kΔ_k / Σ n_k
//!   Post(r, w) ─────────────────────▶ stores w (atomically), opens round r+1
//!                                     ◀─── Wait(r): the round's summary and w
//! ```
//!
//! The aggregator never holds the secret key: its state is the public key,
//! the settings, the global model and the open round's [`HeIntake`] (which
//! has no decrypting method). Its store, `STORE/federated-he/JOB.state`, is
//! written atomically after every change of round. A restarted aggregator
//! reopens the stored round with a fresh deadline (the ciphertexts of an
//! interrupted round are lost: its sites must submit again).
//!
//! Only the client that created the job (its owner) may collect sums and
//! post models; the owner is not a site. Sites are the access list's
//! clients that may use the job's name as a model.
//!
//! Disclosures: see [`crate::fl::HeIntake`]'s module: the aggregator sees
//! headers, sizes, the lists and the global model; the owner the weighted
//! sum of at least `min_clients` updates per round; the sites the public
//! key, the settings, the global model and the round summary.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::federated::{FedRoundSummary, FedStatus, SiteFault, SiteReport, SiteRound, site_id};
use super::store::JobFiles;
use super::{Connection, Reply, Request, unexpected};
use crate::error::{Error, Result};
use crate::fl::{
    ClientId, FedSettings, HeIntake, LocalTraining, UpdateMeta, apply_mean, encrypt_update,
    owner_mean, received_sum,
};
use crate::he::{PublicKey, SecretKey};
use crate::net::config::PartiesConfig;

/// A request of the deployed HE form (inside [`Request::FedHe`]).
#[derive(Debug, Serialize, Deserialize)]
pub enum HeRequest {
    /// The owner creates (or resumes) a job with its public key.
    Create {
        /// The job's public settings.
        settings: FedSettings,
        /// The owner's BFV public key ([`PublicKey::to_bytes`]).
        public_key: Vec<u8>,
    },
    /// A site asks for the job's settings, public key and status.
    Join {
        /// The job.
        job: String,
    },
    /// A site's encrypted update for a round (one federated envelope).
    Submit {
        /// The job.
        job: String,
        /// The round.
        round: u32,
        /// The envelope around the ciphertexts.
        message: Vec<u8>,
    },
    /// The owner waits for the round to close and takes its encrypted sum.
    Collect {
        /// The job.
        job: String,
        /// The round.
        round: u32,
    },
    /// The owner posts the new global model of a collected round.
    Post {
        /// The job.
        job: String,
        /// The round.
        round: u32,
        /// The new global model.
        global: Vec<f64>,
    },
    /// A site waits for the round's result.
    Wait {
        /// The job.
        job: String,
        /// The round.
        round: u32,
    },
}

impl HeRequest {
    /// The job the request is about (the access list's model name).
    pub fn job(&self) -> &str {
        match self {
            HeRequest::Create { settings, .. } => &settings.job,
            HeRequest::Join { job }
            | HeRequest::Submit { job, .. }
            | HeRequest::Collect { job, .. }
            | HeRequest::Post { job, .. }
            | HeRequest::Wait { job, .. } => job,
        }
    }
}

/// A collected round: what the aggregator hands the owner.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HeCollected {
    /// The round's public summary (`aggregated` is whether a sum comes).
    pub summary: FedRoundSummary,
    /// The accepted sites' ids (positions in the access list) and weights.
    pub ids: Vec<(u32, u32)>,
    /// The encrypted sum's bytes, if at least `min_clients` were accepted.
    pub sum: Option<Vec<u8>>,
    /// The job's status (the global model before the owner's post).
    pub status: FedStatus,
}

/// What a site gets when it joins.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HeJoined {
    /// The settings.
    pub settings: FedSettings,
    /// The owner's public key ([`PublicKey::to_bytes`]).
    pub public_key: Vec<u8>,
    /// The status.
    pub status: FedStatus,
}

/// A reply of the deployed HE form (inside [`Reply::FedHe`]).
#[derive(Debug, Serialize, Deserialize)]
pub enum HeReply {
    /// The job's settings and public key, and its status.
    Joined(Box<HeJoined>),
    /// A job's status.
    Status(FedStatus),
    /// A closed round, for the owner.
    Collected(Box<HeCollected>),
    /// Done; a line for the client.
    Done(String),
}

/// What the aggregator saves of a job (no secret key: it never has one).
#[derive(Debug, Serialize, Deserialize)]
struct Saved {
    settings: FedSettings,
    public_key: Vec<u8>,
    owner: String,
    round: u32,
    global: Vec<f64>,
    last: Option<FedRoundSummary>,
}

/// A serving party's HE federated jobs, kept in `STORE/federated-he/`.
#[derive(Debug)]
pub struct HeJobs {
    files: JobFiles,
    jobs: Mutex<HashMap<String, Arc<HeJob>>>,
}

#[derive(Debug)]
struct HeJob {
    settings: FedSettings,
    pk: PublicKey,
    pk_bytes: Vec<u8>,
    owner: String,
    state: Mutex<HeState>,
    changed: Condvar,
}

#[derive(Debug)]
enum Phase {
    /// Taking submissions.
    Open(Box<HeIntake>),
    /// Being closed by the owner's collect.
    Closing,
    /// Closed with a sum; waiting for the owner's new model.
    Collected(Box<HeCollected>),
}

#[derive(Debug)]
struct HeState {
    round: u32,
    global: Vec<f64>,
    last: Option<FedRoundSummary>,
    phase: Phase,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn site_name(parties: &PartiesConfig, id: ClientId) -> String {
    parties
        .clients
        .get(id.0 as usize)
        .map_or_else(|| id.to_string(), |c| c.name.clone())
}

fn wait_on<'a>(
    job: &HeJob,
    st: std::sync::MutexGuard<'a, HeState>,
    d: Duration,
) -> std::sync::MutexGuard<'a, HeState> {
    job.changed
        .wait_timeout(st, d.max(Duration::from_millis(10)))
        .unwrap_or_else(PoisonError::into_inner)
        .0
}

impl HeJobs {
    /// The jobs of the store in `store_dir` (loaded when the owner creates
    /// or a site joins).
    pub fn new(store_dir: &Path) -> Result<HeJobs> {
        Ok(HeJobs {
            files: JobFiles::open(store_dir, "federated-he")?,
            jobs: Mutex::default(),
        })
    }

    fn save(&self, job: &HeJob, st: &HeState) -> Result<()> {
        let saved = Saved {
            settings: job.settings.clone(),
            public_key: job.pk_bytes.clone(),
            owner: job.owner.clone(),
            round: st.round,
            global: st.global.clone(),
            last: st.last.clone(),
        };
        self.files.save(&job.settings.job, &saved)
    }

    fn intake(job: &HeJob, round: u32) -> HeIntake {
        HeIntake::new(
            job.pk.clone(),
            round,
            job.settings.model().num_params(),
            job.settings.sites as usize,
            Instant::now() + job.settings.deadline(),
        )
    }

    /// The job, from memory or the store; `None` if there is none.
    fn load(&self, name: &str, log: &dyn Fn(&str)) -> Result<Option<Arc<HeJob>>> {
        let mut jobs = lock(&self.jobs);
        if let Some(j) = jobs.get(name) {
            return Ok(Some(Arc::clone(j)));
        }
        let Some(saved) = self.files.load::<Saved>(name)? else {
            return Ok(None);
        };
        let job = self.insert(&mut jobs, saved)?;
        log(&format!(
            "federated-he '{name}': resumed from the store at round {}",
            lock(&job.state).round
        ));
        Ok(Some(job))
    }

    fn insert(&self, jobs: &mut HashMap<String, Arc<HeJob>>, s: Saved) -> Result<Arc<HeJob>> {
        let pk = PublicKey::from_bytes(&s.public_key)?;
        let mut job = HeJob {
            settings: s.settings,
            pk,
            pk_bytes: s.public_key,
            owner: s.owner,
            state: Mutex::new(HeState {
                round: s.round,
                global: s.global,
                last: s.last,
                phase: Phase::Closing,
            }),
            changed: Condvar::new(),
        };
        let intake = Self::intake(&job, s.round);
        job.state
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .phase = Phase::Open(Box::new(intake));
        let job = Arc::new(job);
        self.save(&job, &lock(&job.state))?;
        jobs.insert(job.settings.job.clone(), Arc::clone(&job));
        Ok(job)
    }

    fn get(&self, name: &str, log: &dyn Fn(&str)) -> Result<Arc<HeJob>> {
        self.load(name, log)?.ok_or_else(|| {
            Error::invalid(
                "job",
                format!("no HE federated job '{name}' at this party (its owner creates it)"),
            )
        })
    }

    /// Handles one request of `client` (whose access to the job's name the
    /// server checked).
    pub(crate) fn handle(
        &self,
        parties: &PartiesConfig,
        client: &str,
        req: HeRequest,
        log: &dyn Fn(&str),
    ) -> Result<HeReply> {
        match req {
            HeRequest::Create {
                settings,
                public_key,
            } => self.create(client, settings, public_key, log),
            HeRequest::Join { job } => {
                let job = self.get(&job, log)?;
                let st = lock(&job.state);
                log(&format!(
                    "client {client}: joined federated-he '{}' at round {}",
                    job.settings.job, st.round
                ));
                Ok(HeReply::Joined(Box::new(HeJoined {
                    settings: job.settings.clone(),
                    public_key: job.pk_bytes.clone(),
                    status: job.status(&st),
                })))
            }
            HeRequest::Submit {
                job,
                round,
                message,
            } => {
                let job = self.get(&job, log)?;
                self.submit(parties, &job, client, round, &message, log)?;
                Ok(HeReply::Done("the aggregator took the update".into()))
            }
            HeRequest::Collect { job, round } => {
                let job = self.get(&job, log)?;
                job.owner_only(client, "collect a sum")?;
                self.collect(parties, &job, round, log)
                    .map(|c| HeReply::Collected(Box::new(c)))
            }
            HeRequest::Post { job, round, global } => {
                let job = self.get(&job, log)?;
                job.owner_only(client, "post a model")?;
                self.post(&job, round, global, log).map(HeReply::Status)
            }
            HeRequest::Wait { job, round } => {
                let job = self.get(&job, log)?;
                job.wait(round).map(HeReply::Status)
            }
        }
    }

    fn create(
        &self,
        client: &str,
        settings: FedSettings,
        public_key: Vec<u8>,
        log: &dyn Fn(&str),
    ) -> Result<HeReply> {
        settings.check()?;
        let pk = PublicKey::from_bytes(&public_key)?;
        if pk.params().frac_bits() != settings.frac_bits
            || pk.params().max_clients() != settings.max_clients
        {
            return Err(Error::invalid(
                "public key",
                format!(
                    "made for {}, the settings have frac_bits={} max_clients={}",
                    pk.params(),
                    settings.frac_bits,
                    settings.max_clients
                ),
            ));
        }
        let job = match self.load(&settings.job, log)? {
            Some(j) => {
                if j.owner != client || j.pk_bytes != public_key {
                    return Err(Error::invalid(
                        "job",
                        format!(
                            "job '{}' exists with another owner or public key",
                            settings.job
                        ),
                    ));
                }
                if let Some((f, ours, theirs)) = j.settings.first_difference(&settings) {
                    return Err(Error::invalid(
                        "settings",
                        format!(
                            "job '{}' runs with {f}={ours}, the owner sent {f}={theirs}",
                            settings.job
                        ),
                    ));
                }
                j
            }
            None => {
                let m = settings.model();
                log(&format!(
                    "federated-he '{}': new job of owner {client}, {}, {} sites, {} rounds, min {} per round, deadline {:.1} s; public key {:016x} (this party holds no secret key)",
                    settings.job,
                    m.describe(),
                    settings.sites,
                    settings.rounds,
                    settings.min_clients,
                    settings.deadline().as_secs_f64(),
                    pk.key_id()
                ));
                let saved = Saved {
                    global: m.init(settings.seed),
                    settings,
                    public_key,
                    owner: client.to_string(),
                    round: 1,
                    last: None,
                };
                self.insert(&mut lock(&self.jobs), saved)?
            }
        };
        let st = lock(&job.state);
        Ok(HeReply::Status(job.status(&st)))
    }

    fn submit(
        &self,
        parties: &PartiesConfig,
        job: &HeJob,
        site: &str,
        round: u32,
        message: &[u8],
        log: &dyn Fn(&str),
    ) -> Result<()> {
        if site == job.owner {
            return Err(Error::invalid(
                "site",
                format!("{site} owns the job: the owner is not a site"),
            ));
        }
        let id = site_id(parties, site)
            .ok_or_else(|| Error::invalid("site", format!("{site} is not listed")))?;
        let mut st = lock(&job.state);
        if round != st.round {
            return Err(Error::invalid(
                "round",
                format!("site {site}: round {} is open, not round {round}", st.round),
            ));
        }
        let Phase::Open(intake) = &mut st.phase else {
            return Err(Error::invalid(
                "round",
                format!("site {site}: round {round} is closing"),
            ));
        };
        let res = intake.submit(id, message, Instant::now());
        let heard = intake.heard();
        let name = &job.settings.job;
        // Logged before the round can close, so that the log reads in order.
        let res = match res {
            Ok(()) => {
                log(&format!(
                    "federated-he '{name}' round {round}: ciphertext from site {site} ({} bytes), {heard} of {} sites heard from",
                    message.len(),
                    job.settings.sites
                ));
                Ok(())
            }
            Err(e) => {
                log(&format!(
                    "federated-he '{name}' round {round}: refused site {site}: {e}"
                ));
                Err(Error::invalid(
                    "update",
                    format!("site {site}'s update refused: {e}"),
                ))
            }
        };
        drop(st);
        job.changed.notify_all();
        res
    }

    /// The owner's collect: waits until the round's intake closed, closes
    /// it (the quorum rule) and returns the encrypted sum; below the quorum
    /// the round ends here with the model unchanged.
    fn collect(
        &self,
        parties: &PartiesConfig,
        job: &HeJob,
        round: u32,
        log: &dyn Fn(&str),
    ) -> Result<HeCollected> {
        let mut st = lock(&job.state);
        loop {
            if round != st.round {
                return Err(Error::invalid(
                    "round",
                    format!("round {} is open, not round {round}", st.round),
                ));
            }
            match &st.phase {
                Phase::Collected(c) => return Ok((**c).clone()),
                Phase::Closing => {
                    st = wait_on(job, st, Duration::from_millis(200));
                    continue;
                }
                Phase::Open(intake) => {
                    let now = Instant::now();
                    if !intake.is_closed(now) {
                        let left = intake.deadline().saturating_duration_since(now);
                        st = wait_on(job, st, left);
                        continue;
                    }
                }
            }
            let Phase::Open(intake) = std::mem::replace(&mut st.phase, Phase::Closing) else {
                continue;
            };
            let s = &job.settings;
            let closed = (*intake).close(s.min_clients as usize);
            let accepted: Vec<(String, u32)> = closed
                .accepted
                .iter()
                .map(|(c, w)| (site_name(parties, *c), *w))
                .collect();
            let refused: Vec<(String, String)> = closed
                .refused
                .iter()
                .map(|(c, r)| (site_name(parties, *c), r.to_string()))
                .collect();
            let known: Vec<&String> = accepted
                .iter()
                .map(|(n, _)| n)
                .chain(refused.iter().map(|(n, _)| n))
                .collect();
            let dropped: Vec<String> = parties
                .clients
                .iter()
                .filter(|c| {
                    c.may_use_model(&s.job) && c.name != job.owner && !known.contains(&&c.name)
                })
                .map(|c| c.name.clone())
                .collect();
            let summary = FedRoundSummary {
                round,
                accepted,
                refused,
                dropped,
                aggregated: closed.sum.is_some(),
            };
            log(&format!(
                "federated-he '{}' round {round}/{}: {}; {}",
                s.job,
                s.rounds,
                summary.sites(),
                if summary.aggregated {
                    "encrypted sum handed to the owner".to_string()
                } else {
                    format!(
                        "fewer than {} sites: nothing handed over, model unchanged",
                        s.min_clients
                    )
                }
            ));
            let collected = HeCollected {
                summary: summary.clone(),
                ids: closed.accepted.iter().map(|(c, w)| (c.0, *w)).collect(),
                sum: closed.sum.map(|x| x.sum.to_bytes()),
                status: job.status(&st),
            };
            if collected.sum.is_some() {
                st.phase = Phase::Collected(Box::new(collected.clone()));
            } else {
                // No sum: the round ends here, the model as it was.
                st.round += 1;
                st.last = Some(summary);
                st.phase = Phase::Open(Box::new(Self::intake(job, st.round)));
                self.save(job, &st)?;
            }
            drop(st);
            job.changed.notify_all();
            return Ok(collected);
        }
    }

    fn post(
        &self,
        job: &HeJob,
        round: u32,
        global: Vec<f64>,
        log: &dyn Fn(&str),
    ) -> Result<FedStatus> {
        let mut st = lock(&job.state);
        if round != st.round {
            return Err(Error::invalid(
                "round",
                format!("round {} is open, not round {round}", st.round),
            ));
        }
        let Phase::Collected(c) = &st.phase else {
            return Err(Error::invalid(
                "round",
                format!("round {round} has no collected sum to post a model for"),
            ));
        };
        if global.len() != st.global.len() || global.iter().any(|v| !v.is_finite()) {
            return Err(Error::invalid(
                "model",
                format!(
                    "{} values (finite ones expected), the job's model has {}",
                    global.len(),
                    st.global.len()
                ),
            ));
        }
        let summary = c.summary.clone();
        st.global = global;
        st.last = Some(summary);
        st.round += 1;
        st.phase = Phase::Open(Box::new(Self::intake(job, st.round)));
        self.save(job, &st)?;
        log(&format!(
            "federated-he '{}' round {round}: the owner posted the new global model, stored",
            job.settings.job
        ));
        let status = job.status(&st);
        drop(st);
        job.changed.notify_all();
        Ok(status)
    }
}

impl HeJob {
    fn status(&self, st: &HeState) -> FedStatus {
        FedStatus {
            round: st.round,
            global: st.global.clone(),
            done: st.round > self.settings.rounds,
            last: st.last.clone(),
        }
    }

    fn owner_only(&self, client: &str, what: &str) -> Result<()> {
        if client == self.owner {
            Ok(())
        } else {
            Err(Error::invalid(
                "owner",
                format!(
                    "client {client} may not {what}: only job '{}''s owner may",
                    self.settings.job
                ),
            ))
        }
    }

    /// Waits until `round` closed here.
    fn wait(&self, round: u32) -> Result<FedStatus> {
        let mut st = lock(&self.state);
        loop {
            if round < st.round {
                return Ok(self.status(&st));
            }
            if round > st.round {
                return Err(Error::invalid(
                    "round",
                    format!("round {} is open, not round {round}", st.round),
                ));
            }
            st = wait_on(self, st, Duration::from_millis(200));
        }
    }
}

fn call(conn: &mut Connection, req: HeRequest) -> Result<HeReply> {
    match conn.call(&Request::FedHe(req))? {
        Reply::FedHe(r) => Ok(*r),
        other => Err(unexpected(conn.party, &other)),
    }
}

fn expect_status(r: HeReply) -> Result<FedStatus> {
    match r {
        HeReply::Status(s) => Ok(s),
        _ => Err(Error::invalid("reply", "a job status was expected")),
    }
}

/// One round as the owner saw it.
#[derive(Debug, Clone)]
pub struct OwnerRound {
    /// The round's public summary.
    pub summary: FedRoundSummary,
    /// Bytes of the encrypted sum received (0 below the quorum).
    pub sum_bytes: usize,
    /// The global model after the round.
    pub global: Vec<f64>,
}

/// Runs the model owner: creates the job at the aggregator `conn` with the
/// public key, then every round collects the encrypted sum, decrypts it
/// with `sk` (the only decryption), applies the mean and posts the new
/// global model. Returns the final global model.
pub fn run_owner(
    conn: &mut Connection,
    settings: &FedSettings,
    pk: &PublicKey,
    sk: &SecretKey,
    mut log: impl FnMut(&OwnerRound),
) -> Result<Vec<f64>> {
    settings.check()?;
    let mut status = expect_status(call(
        conn,
        HeRequest::Create {
            settings: settings.clone(),
            public_key: pk.to_bytes(),
        },
    )?)?;
    let len = settings.model().num_params();
    while !status.done {
        let round = status.round;
        let c = match call(
            conn,
            HeRequest::Collect {
                job: settings.job.clone(),
                round,
            },
        )? {
            HeReply::Collected(c) => *c,
            _ => return Err(Error::invalid("reply", "a collected round was expected")),
        };
        let Some(bytes) = &c.sum else {
            log(&OwnerRound {
                summary: c.summary,
                sum_bytes: 0,
                global: c.status.global.clone(),
            });
            status = c.status;
            status.round = round + 1;
            status.done = status.round > settings.rounds;
            continue;
        };
        let accepted = c.ids.iter().map(|(i, w)| (ClientId(*i), *w)).collect();
        let sum = received_sum(bytes, len, accepted)?;
        let mean = owner_mean(sk, &sum, settings.min_clients as usize)?;
        let mut global = c.status.global.clone();
        apply_mean(&mut global, &mean)?;
        status = expect_status(call(
            conn,
            HeRequest::Post {
                job: settings.job.clone(),
                round,
                global,
            },
        )?)?;
        log(&OwnerRound {
            summary: c.summary,
            sum_bytes: bytes.len(),
            global: status.global.clone(),
        });
    }
    Ok(status.global)
}

/// Runs one HE site against the aggregator `conn`: fetches the job's
/// settings and public key, and every round trains the global model on
/// `x`, `y`, encrypts its update (weighted by its row count) and sends it
/// to the aggregator only, then waits for the round's result. The job's
/// settings are the owner's; `features` must match them.
#[allow(
    clippy::too_many_arguments,
    reason = "a site's run: its connection, identity, job, rows, training, fault and log"
)]
pub fn run_he_site(
    conn: &mut Connection,
    parties: &PartiesConfig,
    site: &str,
    job: &str,
    x: &ndarray::Array2<f64>,
    y: &ndarray::Array1<f64>,
    local: LocalTraining,
    fault: Option<SiteFault>,
    mut log: impl FnMut(&FedSettings, &SiteRound),
) -> Result<SiteReport> {
    let id = site_id(parties, site).ok_or_else(|| {
        Error::invalid(
            "site",
            format!("{site} is not in the parties file's [[client]] list"),
        )
    })?;
    let (settings, pk, mut status) = match call(
        conn,
        HeRequest::Join {
            job: job.to_string(),
        },
    )? {
        HeReply::Joined(j) => {
            let HeJoined {
                settings,
                public_key,
                status,
            } = *j;
            (settings, PublicKey::from_bytes(&public_key)?, status)
        }
        _ => return Err(Error::invalid("reply", "the job's settings were expected")),
    };
    settings.check()?;
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
    let mut rounds = Vec::new();
    while !status.done {
        let round = status.round;
        let t_train = Instant::now();
        let new = model.train_local(&status.global, x, y, local)?;
        let mut delta: Vec<f64> = new.iter().zip(&status.global).map(|(n, g)| n - g).collect();
        if fault == Some(SiteFault::WrongShape) {
            delta.pop();
        }
        let message = encrypt_update(&pk, UpdateMeta::new(id, round, weight), &delta)?;
        let sent = message.len() as u64;
        let time_train = t_train.elapsed();
        if fault == Some(SiteFault::Disconnect) {
            return Err(Error::invalid(
                "site",
                "stopped before sending (the disconnect fault)",
            ));
        }
        let t_upload = Instant::now();
        let mut refusals = Vec::new();
        let submit = HeRequest::Submit {
            job: job.to_string(),
            round,
            message,
        };
        if let Err(e) = call(conn, submit) {
            refusals.push(super::federated::refusal(e)?);
        }
        let time_upload = t_upload.elapsed();
        let t_wait = Instant::now();
        status = expect_status(call(
            conn,
            HeRequest::Wait {
                job: job.to_string(),
                round,
            },
        )?)?;
        let time_wait = t_wait.elapsed();
        let summary = status
            .last
            .clone()
            .ok_or_else(|| Error::internal("run_he_site", "a closed round without a summary"))?;
        let r = SiteRound {
            round,
            accepted: refusals.is_empty() && summary.accepted.iter().any(|(n, _)| n == site),
            refusals,
            local_accuracy: model.accuracy(&status.global, x, y)?,
            summary,
            bytes: [sent, 0, 0],
            time_train,
            time_upload,
            time_wait,
        };
        log(&settings, &r);
        rounds.push(r);
    }
    Ok(SiteReport {
        global: status.global,
        rounds,
    })
}
