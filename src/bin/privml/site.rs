//! `privml client federated`: one federated site as its own process
//! (issue 17). The protocol is in `privml::service::federated`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use privml::fl::{FedSettings, LocalTraining};
use privml::net::config::PartiesConfig;
use privml::net::tls::Credentials;
use privml::service::federated::{
    DEFAULT_SITE_RETRIES, SiteEvent, SiteFault, SiteOptions, run_site,
};
use privml::service::{self};

/// A federated job's public settings, as the sites (`client federated`)
/// and the HE model owner (`client fed-owner`) give them: every site of an
/// MPC job gives the same (the first join creates the job, another is
/// refused naming the field); under HE the owner alone does.
#[derive(Args, Debug)]
pub struct FedJobArgs {
    /// The job's name: a model name the client's access-list entry allows.
    #[arg(long, default_value = "fed")]
    pub(crate) job: String,
    /// Sites expected per round (a round closes early once all are in).
    #[arg(long, default_value_t = 3)]
    sites: u32,
    /// Rounds of federated averaging.
    #[arg(long, default_value_t = 5)]
    rounds: u32,
    /// Fewest accepted updates for a round's aggregate to be opened (or,
    /// under HE, handed to the owner and decrypted).
    #[arg(long, default_value_t = 2)]
    min_clients: u32,
    /// Seconds a round stays open for submissions (from the moment it
    /// opens at the server).
    #[arg(long, default_value_t = 30.0)]
    deadline: f64,
    /// Hidden units (a one-hidden-layer MLP instead of logistic regression).
    #[arg(long)]
    hidden: Option<u32>,
    /// Fraction bits of the updates' fixed-point encoding.
    #[arg(long, default_value_t = 16)]
    frac_bits: u32,
    /// Seed of the initial model (public; every site must give the same).
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

impl FedJobArgs {
    /// The checked settings for a model of `features` inputs, aggregated
    /// for at most `max_clients` sites; `who` waits up to `timeout` for
    /// each round, which must exceed the deadline.
    pub(crate) fn settings(
        &self,
        features: u32,
        max_clients: u32,
        who: &str,
        timeout: Duration,
    ) -> Result<FedSettings> {
        if !(self.deadline.is_finite() && self.deadline > 0.0) {
            bail!("--deadline must be a positive number of seconds");
        }
        let settings = FedSettings {
            job: self.job.clone(),
            features,
            hidden: self.hidden,
            sites: self.sites,
            min_clients: self.min_clients,
            rounds: self.rounds,
            deadline_ms: (self.deadline * 1000.0).round() as u64,
            frac_bits: self.frac_bits,
            max_clients,
            seed: self.seed,
        };
        settings.check()?;
        if timeout <= settings.deadline() {
            bail!(
                "--timeout ({:.0} s) must exceed the round deadline ({:.0} s): {who} waits for each round",
                timeout.as_secs_f64(),
                settings.deadline().as_secs_f64()
            );
        }
        Ok(settings)
    }
}

/// Arguments of `privml client federated`.
#[derive(Args, Debug)]
pub struct SiteArgs {
    #[command(flatten)]
    pub(crate) fed: FedJobArgs,
    /// This site's rows: a CSV of features (scaled to the ranges the sites
    /// agreed on) and a target column of 0/1 labels.
    #[arg(long)]
    pub(crate) data: PathBuf,
    /// The target column.
    #[arg(long, default_value = "target")]
    pub(crate) target: String,
    /// This site's name in the access list [default: the identity's file
    /// name without its `client-` prefix].
    #[arg(long)]
    pub(crate) site: Option<String>,
    /// Local gradient steps per round.
    #[arg(long, default_value_t = 5)]
    pub(crate) local_steps: usize,
    /// Local learning rate.
    #[arg(long, default_value_t = 4.0)]
    pub(crate) lr: f64,
    /// Weight decay of local training.
    #[arg(long, default_value_t = 0.002)]
    pub(crate) weight_decay: f64,
    /// Write the final global model (one parameter per line) to this file.
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
    /// Attempts of a failed round after the first (a server lost or
    /// restarted): the site reconnects, waiting up to --timeout for the
    /// server to return, and resends its update; 0: exit at the first
    /// failure.
    #[arg(long, default_value_t = DEFAULT_SITE_RETRIES)]
    retries: u32,
    /// Send the servers, after every round, the accuracy of the new global
    /// model on this site's rows and the row count (public numbers, for
    /// the servers' progress log).
    #[arg(long)]
    report_accuracy: bool,
    /// Misbehave, to see the servers' checks: wrong-shape or disconnect.
    #[arg(long, hide = true)]
    pub(crate) fault: Option<SiteFault>,
    /// Aggregation: mpc (the three parties add shares) or he (one party
    /// adds ciphertexts under the model owner's key; the job's settings
    /// come from the owner, `privml client fed-owner`, and --sites,
    /// --rounds, --min-clients, --deadline, --hidden, --frac-bits and
    /// --seed are not used).
    #[arg(long, value_enum, default_value = "mpc")]
    pub(crate) scheme: crate::site_he::Scheme,
    /// With --scheme he: the party that aggregates (the owner's choice).
    #[arg(long, default_value_t = 0)]
    pub(crate) party: usize,
}

pub(crate) fn site_name(identity: &Path, given: Option<&String>) -> Result<String> {
    if let Some(n) = given {
        return Ok(n.clone());
    }
    let stem = identity
        .file_name()
        .and_then(|s| s.to_str())
        .context("--identity has no file name")?;
    Ok(stem.strip_prefix("client-").unwrap_or(stem).to_string())
}

/// Runs one site.
pub fn run(
    parties: &PartiesConfig,
    creds: &Credentials,
    identity: &Path,
    timeout: Duration,
    args: &SiteArgs,
) -> Result<()> {
    let site = site_name(identity, args.site.as_ref())?;
    if args.scheme == crate::site_he::Scheme::He {
        return crate::site_he::run(parties, creds, &site, timeout, args);
    }
    let data = privml::data::load_csv(&args.data, &args.target)
        .with_context(|| format!("site {site}: --data"))?;
    let settings = args.fed.settings(
        u32::try_from(data.n_features()).context("too many features")?,
        privml::fl::ShareParams::DEFAULT_MAX_CLIENTS,
        "the site",
        timeout,
    )?;
    let local = LocalTraining {
        steps: args.local_steps,
        lr: args.lr,
        weight_decay: args.weight_decay,
    };
    // Sites are often started with (or before) the servers, and a round
    // that failed is retried once the lost server is back: retry
    // unreachable servers until the timeout.
    let connect = || -> privml::Result<[service::Connection; 3]> {
        let t0 = std::time::Instant::now();
        loop {
            match service::connect_all(parties, creds, timeout) {
                Ok(c) => return Ok(c),
                Err(privml::Error::Unreachable { .. }) if t0.elapsed() < timeout => {
                    std::thread::sleep(Duration::from_millis(250));
                }
                Err(e) => return Err(e),
            }
        }
    };
    let mut conns = connect().with_context(|| format!("site {site}"))?;
    outln!(
        "site {site}: job '{}', {}, {} rows; {} rounds, {} sites, min {} per round",
        settings.job,
        settings.model().describe(),
        data.n_samples(),
        settings.rounds,
        settings.sites,
        settings.min_clients
    );
    let opts = SiteOptions {
        retries: args.retries,
        report_accuracy: args.report_accuracy,
        fault: args.fault,
    };
    let report = run_site(
        &mut conns,
        connect,
        parties,
        &site,
        &settings,
        data.features(),
        data.targets(),
        local,
        opts,
        |event| {
            let r = match event {
                SiteEvent::Round(r) => r,
                SiteEvent::Retry {
                    round,
                    attempt,
                    of,
                    error,
                } => {
                    outln!(
                        "site {site} round {round} failed: {error}; retrying (attempt {attempt} of {of}) once the three servers answer"
                    );
                    return;
                }
            };
            let s = &r.summary;
            outln!(
                "site {site} round {}: {} | {} sites in, {} dropped, {} refused | {} | accuracy on this site's rows {:.3} | sent {} B to each party | train {:.3} s, upload {:.3} s, wait {:.3} s",
                r.round,
                if r.accepted { "update accepted" } else { "update NOT accepted" },
                s.accepted.len(),
                s.dropped.len(),
                s.refused.len(),
                if s.aggregated { "global model updated" } else { "too few sites: model unchanged" },
                r.local_accuracy,
                r.bytes[0],
                r.time_train.as_secs_f64(),
                r.time_upload.as_secs_f64(),
                r.time_wait.as_secs_f64()
            );
            for why in &r.refusals {
                outln!("site {site} round {}: {why}", r.round);
            }
        },
    )
    .with_context(|| format!("site {site}"))?;
    if report.rounds.is_empty() {
        // Without this line a site that came too late (a server full,
        // `privml serve --max-clients`, or simply started after the last
        // round) ended successfully and silently.
        outln!(
            "site {site}: job '{}' had run all its {} rounds when this site joined: it took part in none",
            settings.job,
            settings.rounds
        );
    }
    if let Some(out) = &args.out {
        let text: String = report.global.iter().map(|v| format!("{v:e}\n")).collect();
        privml::model_file::write_atomic(out, text.as_bytes())?;
        outln!("site {site}: global model written to {}", out.display());
    }
    Ok(())
}
