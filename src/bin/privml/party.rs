//! `privml party`: one party of a job, the other two elsewhere, over TCP
//! with mutual TLS.
//!
//! The three parties run the same command line except `--id` (and, for
//! jobs with private inputs, each data owner's own file). The job is a
//! nested subcommand, so every in-process command that computes on shared
//! data plugs in as one more [`PartyJob`] variant.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Result, anyhow, bail};
use clap::{Args, Subcommand};
use privml::Error;
use privml::net::Channel;
use privml::net::config::PartiesConfig;
use privml::net::tcp::{self, ConnectOptions, LinkHandle};
use privml::runner::{Domain, Exec};
use privml::session::SessionDescription;

use crate::args::DomainArgs;
use crate::demo::{self, DemoArgs};
use crate::predict::{self, PredictArgs};
use crate::train::{self, TrainArgs};

/// Arguments of `privml party`.
#[derive(Args, Debug)]
pub struct PartyArgs {
    /// This party's id: 0, 1 or 2. Party 0 prints the job's output.
    #[arg(long)]
    id: usize,
    /// The parties file (`privml keygen` writes one).
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// Seconds to wait at start for the other parties [default: the file's
    /// connect_deadline_secs, else 60].
    #[arg(long, value_name = "SECS")]
    connect_deadline: Option<f64>,
    /// Seconds to wait for a peer's message during the run [default: the
    /// file's timeout_secs, else 60].
    #[arg(long, value_name = "SECS")]
    timeout: Option<f64>,
    /// The job: the same on all three parties.
    #[command(subcommand)]
    job: PartyJob,
}

/// What a party can run.
///
/// A job's arguments that all parties share go into its
/// [`SessionDescription`] ([`PartyJob::session`]), which the parties compare
/// when they connect; arguments private to one party (a data owner's input
/// file, each party's output path) stay out of it.
#[derive(Subcommand, Debug)]
pub enum PartyJob {
    /// One of the demos, as in `privml demo` (shared domain only).
    Demo(DemoArgs),
    /// Train an MLP, as in `privml train`; only the data owner passes --data,
    /// and each party writes only its own share file (--out PREFIX).
    Train(TrainArgs),
    /// Predict with a saved model, as in `privml predict`; --model is this
    /// party's own share file, and only the data owner passes --data.
    Predict(PredictArgs),
}

impl PartyJob {
    fn domain(&self) -> &DomainArgs {
        match self {
            PartyJob::Demo(a) => a.domain(),
            PartyJob::Train(a) => a.domain(),
            PartyJob::Predict(a) => a.domain(),
        }
    }

    fn check(&self) -> Result<()> {
        let domain = self.domain().spec().domain;
        if domain != Domain::Shared {
            bail!("privml party runs the shared domain; --domain {domain} runs in one process");
        }
        Ok(())
    }

    /// What the three parties must agree on (private file names excluded).
    fn session(&self) -> Result<SessionDescription> {
        match self {
            PartyJob::Demo(a) => Ok(a.session()),
            PartyJob::Train(a) => a.session(),
            PartyJob::Predict(a) => a.session(),
        }
    }

    fn run_on(&self, exec: &Exec<'_>, me: usize) -> Result<()> {
        match self {
            PartyJob::Demo(a) => demo::run_on(a, exec),
            PartyJob::Train(a) => {
                let data = if me == a.data_owner() {
                    Some(a.prepare()?)
                } else {
                    None
                };
                train::run_on(a, exec, data.as_ref())
            }
            PartyJob::Predict(a) => predict::predict_on(a, exec, me == a.data_owner()),
        }
    }
}

fn seconds(flag: &str, v: f64) -> Result<Duration> {
    Duration::try_from_secs_f64(v)
        .map_err(|_| anyhow!("--{flag} {v}: not a non-negative number of seconds"))
}

/// The error message, completed with what the peer said when it stopped
/// first (so "party 0 disconnected" names the party that really failed).
fn explain(e: &anyhow::Error, handles: &[LinkHandle]) -> String {
    let msg = format!("{e:#}");
    let Some(Error::PeerDisconnected { party, .. }) =
        e.chain().find_map(|c| c.downcast_ref::<Error>())
    else {
        return msg;
    };
    match handles
        .iter()
        .find(|h| h.peer() == *party)
        .and_then(LinkHandle::peer_abort)
    {
        Some(reason) => {
            let reason: String = reason.chars().filter(|c| !c.is_control()).collect();
            format!("{msg}; party {party} reported: {reason}")
        }
        None => msg,
    }
}

/// What every party started with `--insecure-seed` prints on stderr.
fn insecure_seed_warning(me: usize, seed: u64) -> String {
    format!(
        "privml: party {me}: WARNING: --insecure-seed {seed} fixes every party's key seed: \
         whoever knows the number recomputes all pairwise keys and can rebuild every \
         secret of this run; use it for tests only, never with real data"
    )
}

/// Runs `privml party`.
pub fn run(args: PartyArgs) -> Result<()> {
    let me = args.id;
    if me > 2 {
        bail!(Error::InvalidParty(me));
    }
    args.job.check()?;
    let parties = PartiesConfig::load(&args.config)?;
    let mut opts = ConnectOptions::from_config(&parties);
    if let Some(s) = args.connect_deadline {
        opts.deadline = seconds("connect-deadline", s)?;
    }
    if let Some(s) = args.timeout {
        opts.io_timeout = seconds("timeout", s)?;
    }
    let domain = args.job.domain();
    let mut cfg = domain.config();
    cfg.timeout = opts.io_timeout;
    // A fixed key seed is part of what the parties compare: no party can
    // fix its keys alone (its neighbours would learn keys they must not
    // know); all three must ask for it, and each says what it means.
    let seed = domain.insecure_seed();
    if let Some(n) = seed {
        eprintln!("{}", insecure_seed_warning(me, n));
    }
    let session = args.job.session()?.to_text().with(
        "insecure_seed",
        seed.map_or("none".to_string(), |n| n.to_string()),
    );

    // `Exec::Party` wants a `'static` link factory: it owns what it uses.
    let handles: Arc<Mutex<Vec<LinkHandle>>> = Arc::default();
    let last_links = Arc::clone(&handles);
    let runs = AtomicU64::new(0);
    // A job may run several secure computations in a row (`demo boolean`):
    // each gets fresh connections, numbered so that the parties agree.
    let connect = move || -> privml::Result<(Box<dyn Channel>, Box<dyn Channel>)> {
        let k = runs.fetch_add(1, Ordering::Relaxed) + 1;
        let o = opts
            .clone()
            .session(session.clone().with("run", k).to_string());
        let links = tcp::connect(&parties, me, &o)?;
        if k == 1 {
            eprintln!(
                "privml: party {me}: connected to parties {} and {}",
                links.next.peer(),
                links.prev.peer()
            );
        }
        *last_links.lock().unwrap_or_else(PoisonError::into_inner) = links.handles().to_vec();
        Ok(links.into_boxed())
    };
    let exec = Exec::Party {
        id: me,
        ring: domain.spec().ring,
        cfg,
        connect: &connect,
    };
    let result = args.job.run_on(&exec, me);
    let handles = std::mem::take(&mut *handles.lock().unwrap_or_else(PoisonError::into_inner));
    match result {
        Ok(()) => {
            if me != 0 {
                eprintln!("privml: party {me}: done");
            }
            Ok(())
        }
        Err(e) => {
            let msg = explain(&e, &handles);
            for h in &handles {
                h.abort(&format!("{msg} (at party {me})"));
            }
            Err(anyhow!(msg))
        }
    }
}
