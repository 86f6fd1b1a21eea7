//! `privml party`: one party of a job, the others elsewhere, over TCP with
//! mutual TLS.
//!
//! The parties run the same command line except `--id` (and, for jobs with
//! private inputs, each data owner's own file). The job is a nested
//! subcommand, so every in-process command that computes on shared data
//! plugs in as one more [`PartyJob`] variant. With the two-party protocol
//! (`--protocol 2pc` on the job) parties 0 and 1 compute and `privml
//! dealer` plays id 2: live, or ahead of time into preprocessing files that
//! the parties read with `--prep` (then they connect only to each other).

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Subcommand};
use privml::Error;
use privml::mpc2::DEALER;
use privml::mpc2::prep::program_digest;
use privml::net::Channel;
use privml::net::config::PartiesConfig;
use privml::net::tcp::{self, ConnectOptions, LinkHandle};
use privml::runner::{Domain, Exec, Protocol, TwoPartyLinks};
use privml::session::{SessionDescription, SessionText};

use crate::args::DomainArgs;
use crate::args::WithDomain;
use crate::bench::PartyBenchArgs;
use crate::demo::{self, DemoArgs};
use crate::import::{self, ExportArgs, ImportArgs};
use crate::predict::{self, PredictArgs};
use crate::train::{self, TrainArgs};

/// Arguments of `privml party`.
#[derive(Args, Debug)]
pub struct PartyArgs {
    /// This party's id: 0, 1 or 2 (0 or 1 with the two-party protocol,
    /// whose id 2 is `privml dealer`). Party 0 prints the job's output.
    #[arg(long)]
    id: usize,
    /// The parties file (`privml keygen` writes one).
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// Two-party protocol: this party's preprocessing file (`privml dealer
    /// --out` wrote it for the same job) instead of a live dealer.
    #[arg(long, value_name = "FILE")]
    prep: Option<PathBuf>,
    #[command(flatten)]
    waits: Waits,
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
    /// Time one of `privml bench`'s workloads (synthetic inputs) as
    /// deployed; party 0 prints the median, rounds and its bytes.
    Bench(PartyBenchArgs),
    /// Import an ONNX model, as in `privml import`: only the model owner
    /// (--owner, party 0 by default) passes --onnx and shares the weights;
    /// each party writes its own PREFIX.partyN.shares (--out PREFIX).
    /// Three parties only.
    Import(ImportArgs),
    /// Export a saved model to ONNX, as in `privml export`: --model is this
    /// party's own share file; the weights are opened to the model owner
    /// (--owner) alone, which alone passes --onnx. Three parties only.
    Export(ExportArgs),
}

impl PartyJob {
    /// The job's domain arguments.
    pub fn domain(&self) -> &DomainArgs {
        match self {
            PartyJob::Demo(a) => a.domain(),
            PartyJob::Train(a) => a.domain(),
            PartyJob::Predict(a) => a.domain(),
            PartyJob::Bench(a) => a.domain(),
            PartyJob::Import(a) => a.domain(),
            PartyJob::Export(a) => a.domain(),
        }
    }

    fn domain_mut(&mut self) -> &mut DomainArgs {
        match self {
            PartyJob::Demo(a) => a.domain_mut(),
            PartyJob::Train(a) => a.domain_mut(),
            PartyJob::Predict(a) => a.domain_mut(),
            PartyJob::Bench(a) => a.domain_mut(),
            PartyJob::Import(a) => a.domain_mut(),
            PartyJob::Export(a) => a.domain_mut(),
        }
    }

    /// Applies `demo --parties` and checks that the job runs on shares.
    pub fn check(&mut self) -> Result<()> {
        if let PartyJob::Demo(a) = self {
            a.resolve()?;
        }
        let domain = self.domain().spec().domain;
        if domain != Domain::Shared {
            bail!("privml party runs the shared domain; --domain {domain} runs in one process");
        }
        if matches!(self, PartyJob::Import(_) | PartyJob::Export(_))
            && self.protocol() != Protocol::Replicated3
        {
            bail!(
                "import and export run on three parties (--protocol 3pc); with two parties, \
                 import in process and copy each party its file"
            );
        }
        Ok(())
    }

    /// The protocol the job runs.
    pub fn protocol(&self) -> Protocol {
        self.domain().protocol()
    }

    /// Makes the job a two-party one (for the dealer), refusing a job that
    /// asks for three parties.
    pub fn make_two_party(&mut self) -> Result<()> {
        self.domain_mut()
            .set_parties(2)
            .context("privml dealer serves the two-party protocol")
    }

    /// What the parties must agree on (private file names excluded).
    pub fn session(&self) -> Result<SessionDescription> {
        match self {
            PartyJob::Demo(a) => Ok(a.session()),
            PartyJob::Train(a) => a.session(),
            PartyJob::Predict(a) => a.session(),
            PartyJob::Bench(a) => a.session(),
            PartyJob::Import(a) => Ok(a.session()),
            PartyJob::Export(a) => a.session(),
        }
    }

    /// Runs the job as participant `me` where `exec` says.
    pub fn run_on(&self, exec: &Exec<'_>, me: usize) -> Result<()> {
        match self {
            PartyJob::Demo(a) => demo::run_on(a, exec),
            PartyJob::Train(a) => {
                let shared = a.load_input()?;
                let data = if shared.is_empty() && me == a.data_owner() {
                    Some(a.prepare()?)
                } else {
                    None
                };
                train::run_on(a, exec, data.as_ref(), &shared)
            }
            PartyJob::Predict(a) => predict::predict_on(a, exec, me == a.data_owner()),
            PartyJob::Bench(a) => a.run_on(exec),
            PartyJob::Import(a) => import::import_on(a, exec, me == a.owner()),
            PartyJob::Export(a) => import::export_on(a, exec, me == a.owner()),
        }
    }
}

/// How long a participant over TCP waits for the others.
#[derive(Args, Debug)]
pub struct Waits {
    /// Seconds to wait at start for the others [default: the parties
    /// file's connect_deadline_secs, else 60].
    #[arg(long, value_name = "SECS")]
    connect_deadline: Option<f64>,
    /// Seconds to wait for a peer's message during the run [default: the
    /// file's timeout_secs, else 60].
    #[arg(long, value_name = "SECS")]
    timeout: Option<f64>,
}

impl Waits {
    /// `--connect-deadline` and `--timeout` over the parties file's settings.
    pub fn connect_options(&self, parties: &PartiesConfig) -> Result<ConnectOptions> {
        let mut opts = ConnectOptions::from_config(parties);
        if let Some(s) = self.connect_deadline {
            opts.deadline = seconds("connect-deadline", s)?;
        }
        if let Some(s) = self.timeout {
            opts.io_timeout = seconds("timeout", s)?;
        }
        Ok(opts)
    }
}

fn seconds(flag: &str, v: f64) -> Result<Duration> {
    privml::net::config::wait_from_secs(&format!("--{flag}"), v).map_err(|e| anyhow!(e))
}

/// The error message, completed with what the peer said when it stopped
/// first (so "party 0 disconnected" names the party that really failed).
pub fn explain(e: &anyhow::Error, handles: &[LinkHandle]) -> String {
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

/// What participant `me` compares with the others: the job's description
/// and the insecure key seed. A fixed key seed is part of it: no party can
/// fix its keys alone (the others would learn keys they must not know); all
/// must ask for it, and each says what it means.
pub fn session_text(job: &PartyJob, me: usize) -> Result<SessionText> {
    let seed = job.domain().insecure_seed();
    if let Some(n) = seed {
        eprintln!("{}", insecure_seed_warning(me, n));
    }
    Ok(job.session()?.to_text().with(
        "insecure_seed",
        seed.map_or("none".to_string(), |n| n.to_string()),
    ))
}

/// Runs `privml party`.
pub fn run(mut args: PartyArgs) -> Result<()> {
    let me = args.id;
    args.job.check()?;
    let protocol = args.job.protocol();
    match protocol {
        Protocol::Replicated3 if me > 2 => bail!(Error::InvalidParty(me)),
        Protocol::Replicated3 if args.prep.is_some() => {
            bail!("--prep is for the two-party protocol (--protocol 2pc on the job)")
        }
        Protocol::Additive2 if me > 1 => bail!(
            "--id {me}: the two-party protocol's parties are 0 and 1; its dealer (id 2) runs `privml dealer`"
        ),
        _ => {}
    }
    let parties = PartiesConfig::load(&args.config)?;
    let opts = args.waits.connect_options(&parties)?;
    let domain = args.job.domain();
    let mut cfg = domain.config();
    cfg.timeout = opts.io_timeout;
    let session = session_text(&args.job, me)?;
    let digest = program_digest(&session.to_string());
    let ring = domain.spec().ring;

    // `Exec` wants `'static` link factories: they own what they use.
    let (links, handles) = Links::new(parties, opts, session, me, protocol);
    let both = Arc::clone(&links);
    let connect_both = move || both.connect_both();
    let connect_peer = move || -> privml::Result<Box<dyn Channel>> {
        let (k, o) = links.next_run();
        let link = tcp::connect_pair(&links.parties, me, 1 - me, &o)?;
        links.remember(k, vec![link.handle()], format!("party {}", 1 - me));
        Ok(Box::new(link))
    };
    let exec = match (protocol, &args.prep) {
        (Protocol::Replicated3, _) => Exec::Party {
            id: me,
            ring,
            cfg,
            connect: &connect_both,
        },
        (Protocol::Additive2, None) => Exec::TwoParty {
            id: me,
            ring,
            cfg,
            links: TwoPartyLinks::Live(&connect_both),
        },
        (Protocol::Additive2, Some(file)) => Exec::TwoParty {
            id: me,
            ring,
            cfg,
            links: TwoPartyLinks::FromFile {
                peer: &connect_peer,
                file: file.clone(),
                program: digest,
            },
        },
    };
    let result = args.job.run_on(&exec, me);
    finish(me, result, &handles)
}

/// What the link factories of one participant share.
pub struct Links {
    /// The parties file.
    pub parties: PartiesConfig,
    /// Connection settings (the session is set per run).
    pub opts: ConnectOptions,
    /// The job's description.
    pub session: SessionText,
    /// Runs so far: a job may run several secure computations in a row
    /// (`demo boolean`), each on fresh connections numbered so that the
    /// participants agree.
    pub runs: AtomicU64,
    /// The last run's links, to report an abort on.
    pub last: Arc<Mutex<Vec<LinkHandle>>>,
    /// This participant.
    pub me: usize,
    /// The protocol.
    pub protocol: Protocol,
}

impl Links {
    /// The link factories' shared state, and where the last run's links
    /// are kept (to report an abort on).
    pub fn new(
        parties: PartiesConfig,
        opts: ConnectOptions,
        session: SessionText,
        me: usize,
        protocol: Protocol,
    ) -> (Arc<Links>, Arc<Mutex<Vec<LinkHandle>>>) {
        let last: Arc<Mutex<Vec<LinkHandle>>> = Arc::default();
        let links = Links {
            parties,
            opts,
            session,
            runs: AtomicU64::new(0),
            last: Arc::clone(&last),
            me,
            protocol,
        };
        (Arc::new(links), last)
    }

    /// The next run's links to both other participants (next, prev).
    pub fn connect_both(&self) -> privml::Result<(Box<dyn Channel>, Box<dyn Channel>)> {
        let (k, o) = self.next_run();
        let l = tcp::connect(&self.parties, self.me, &o)?;
        let names = format!(
            "{} and {}",
            self.name(l.next.peer()),
            self.name(l.prev.peer())
        );
        self.remember(k, l.handles().to_vec(), names);
        Ok(l.into_boxed())
    }

    /// The number and connection settings of the next run.
    pub fn next_run(&self) -> (u64, ConnectOptions) {
        let k = self.runs.fetch_add(1, Ordering::Relaxed) + 1;
        let o = self
            .opts
            .clone()
            .session(self.session.clone().with("run", k).to_string());
        (k, o)
    }

    /// Keeps run `k`'s link handles; reports the first connection.
    pub fn remember(&self, k: u64, handles: Vec<LinkHandle>, peers: String) {
        if k == 1 {
            let me = self.name(self.me);
            eprintln!("privml: {me}: connected to {peers}");
        }
        *self.last.lock().unwrap_or_else(PoisonError::into_inner) = handles;
    }

    /// What messages call participant `p`.
    pub fn name(&self, p: usize) -> String {
        if self.protocol == Protocol::Additive2 && p == 2 {
            "the dealer".to_string()
        } else {
            format!("party {p}")
        }
    }
}

/// Reports the end of a run: on an error, tells the peers why before
/// returning it.
pub fn finish(me: usize, result: Result<()>, handles: &Mutex<Vec<LinkHandle>>) -> Result<()> {
    let handles = std::mem::take(&mut *handles.lock().unwrap_or_else(PoisonError::into_inner));
    match result {
        Ok(()) => {
            match me {
                0 => {}
                DEALER => eprintln!("privml: the dealer: done"),
                _ => eprintln!("privml: party {me}: done"),
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
