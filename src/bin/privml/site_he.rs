//! The deployed HE form of federated learning (issue 17, item 3): `privml
//! client fed-owner` (the model owner, the only holder of the BFV secret
//! key) and `privml client federated --scheme he` (a site). The protocol
//! is in `privml::service::federated_he`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use privml::fl::LocalTraining;
use privml::he::{HeParams, KeyPair, PublicKey, SecretKey};
use privml::net::config::PartiesConfig;
use privml::net::tls::Credentials;
use privml::service::Connection;
use privml::service::federated_he::{run_he_site, run_owner};

use crate::site::{FedJobArgs, SiteArgs};

/// How a site's updates are aggregated.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum Scheme {
    /// Replicated secret sharing among the three serving parties.
    Mpc,
    /// BFV encryption under the model owner's key, added by one party.
    He,
}

/// Arguments of `privml client fed-owner`.
#[derive(Args, Debug)]
pub struct OwnerArgs {
    /// The job's settings (the sites' access-list entries must allow the
    /// job's name too).
    #[command(flatten)]
    fed: FedJobArgs,
    /// The owner's key file (public and secret BFV keys): created, 0600,
    /// if it does not exist; loaded otherwise. Keep it on the owner's host
    /// only.
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// The party that aggregates the ciphertexts (it never sees the
    /// secret key).
    #[arg(long, default_value_t = 0)]
    party: usize,
    /// Input features of the model (the sites' CSV columns but the target).
    #[arg(long)]
    features: u32,
    /// Write the final global model (one parameter per line) to this file.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// The owner's key pair: loaded from `path` (which must be private), or
/// generated for `params` and written there 0600, atomically.
fn owner_keys(path: &Path, params: &HeParams) -> Result<(PublicKey, SecretKey, bool)> {
    if path.exists() {
        let bytes = privml::private_file::read_private(path, "owner key file")?;
        let (pk, sk) = KeyPair::from_owner_bytes(&bytes)
            .with_context(|| format!("--key {}", path.display()))?;
        if pk.params() != params {
            bail!(
                "--key {}: made for {}, the job needs {params}",
                path.display(),
                pk.params()
            );
        }
        return Ok((pk, sk, false));
    }
    let (pk, sk) = KeyPair::generate(params)?;
    privml::private_file::write_atomic(path, &KeyPair::to_owner_bytes(&pk, &sk))?;
    Ok((pk, sk, true))
}

/// Runs the model owner.
pub fn owner(
    parties: &PartiesConfig,
    creds: &Credentials,
    timeout: Duration,
    args: &OwnerArgs,
) -> Result<()> {
    let settings = args.fed.settings(
        args.features,
        HeParams::default().max_clients(),
        "the owner",
        timeout,
    )?;
    let params = HeParams::new(settings.frac_bits, settings.max_clients)?;
    let (pk, sk, fresh) = owner_keys(&args.key, &params)?;
    outln!(
        "owner: {} key pair {:016x} ({params}) in {} (0600; the aggregator gets the public key only)",
        if fresh { "generated" } else { "loaded" },
        pk.key_id(),
        args.key.display()
    );
    let mut conn = connect(parties, creds, args.party, timeout)?;
    outln!(
        "owner: job '{}' at party {}, {}, {} sites, {} rounds, min {} per round",
        settings.job,
        args.party,
        settings.model().describe(),
        settings.sites,
        settings.rounds,
        settings.min_clients
    );
    let global = run_owner(&mut conn, &settings, &pk, &sk, |r| {
        let s = &r.summary;
        outln!(
            "owner round {}: {} sites in, {} dropped, {} refused | {}",
            s.round,
            s.accepted.len(),
            s.dropped.len(),
            s.refused.len(),
            if s.aggregated {
                format!(
                    "decrypted the sum ({} B), new global model posted",
                    r.sum_bytes
                )
            } else {
                "too few sites: nothing decrypted, model unchanged".to_string()
            }
        );
    })?;
    if let Some(out) = &args.out {
        let text: String = global.iter().map(|v| format!("{v:e}\n")).collect();
        privml::model_file::write_atomic(out, text.as_bytes())?;
        outln!("owner: global model written to {}", out.display());
    }
    Ok(())
}

/// One connection to `party`, retried while it is still starting.
fn connect(
    parties: &PartiesConfig,
    creds: &Credentials,
    party: usize,
    timeout: Duration,
) -> Result<Connection> {
    let t0 = std::time::Instant::now();
    loop {
        match Connection::open(parties, creds, party, timeout) {
            Ok(c) => return Ok(c),
            Err(privml::Error::Unreachable { .. }) if t0.elapsed() < timeout => {
                std::thread::sleep(Duration::from_millis(250));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Runs one HE site (`privml client federated --scheme he`).
pub fn run(
    parties: &PartiesConfig,
    creds: &Credentials,
    site: &str,
    timeout: Duration,
    args: &SiteArgs,
) -> Result<()> {
    let data = privml::data::load_csv(&args.data, &args.target)
        .with_context(|| format!("site {site}: --data"))?;
    let local = LocalTraining {
        steps: args.local_steps,
        lr: args.lr,
        weight_decay: args.weight_decay,
    };
    let mut conn =
        connect(parties, creds, args.party, timeout).with_context(|| format!("site {site}"))?;
    // The job may not exist yet (the owner creates it): retry the join.
    let t0 = std::time::Instant::now();
    let report = loop {
        let res = run_he_site(
            &mut conn,
            parties,
            site,
            &args.fed.job,
            data.features(),
            data.targets(),
            local,
            args.fault,
            |settings, r| {
                let s = &r.summary;
                outln!(
                    "site {site} round {}/{}: {} | {} sites in, {} dropped, {} refused | {} | accuracy on this site's rows {:.3} | sent {} B to party {}",
                    r.round,
                    settings.rounds,
                    if r.accepted {
                        "update accepted"
                    } else {
                        "update NOT accepted"
                    },
                    s.accepted.len(),
                    s.dropped.len(),
                    s.refused.len(),
                    if s.aggregated {
                        "global model updated"
                    } else {
                        "too few sites: model unchanged"
                    },
                    r.local_accuracy,
                    r.bytes[0],
                    args.party
                );
                for why in &r.refusals {
                    outln!("site {site} round {}: {why}", r.round);
                }
            },
        );
        match res {
            Err(privml::Error::InvalidParameter { reason, .. })
                if reason.contains("its owner creates it") && t0.elapsed() < timeout =>
            {
                std::thread::sleep(Duration::from_millis(250));
            }
            other => break other.with_context(|| format!("site {site}"))?,
        }
    };
    if let Some(out) = &args.out {
        let text: String = report.global.iter().map(|v| format!("{v:e}\n")).collect();
        privml::model_file::write_atomic(out, text.as_bytes())?;
        outln!("site {site}: global model written to {}", out.display());
    }
    Ok(())
}
