//! `privml dealer`: the dealer of the two-party protocol, which supplies the
//! correlated randomness and sees no data.
//!
//! Live (`--config FILE`), it is id 2 of the parties file and streams its
//! material to party 1 over mutual TLS as the job runs; ahead of time
//! (`--out DIR`), it writes both parties' preprocessing files for the job,
//! which the parties then read with `privml party --prep`. Either way it
//! runs the same job command line as the parties (it is made two-party if
//! it is not), without any data.
//!
//! `train` and `predict` announce public values at run time (the data's
//! shapes and class count, the model id), and the material depends on
//! them. Ahead of time, the data owner writes them first with `privml
//! announce --id N --out PUBLIC.bin JOB` (the job's own code computes them
//! from its rows; nothing runs on the network), and the dealer deals for
//! them with `--announced PUBLIC.bin`; the parties check at run time that
//! their announcements are those (see `privml::mpc2::prep`).

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use privml::learn::TrainJob;
use privml::mpc2::DEALER;
use privml::mpc2::prep::{PublicDescription, file_name, program_digest};
use privml::net::config::PartiesConfig;
use privml::runner::{Exec, Protocol, TwoPartyLinks};

use crate::party::{Links, PartyJob, Waits, finish, session_text};

/// Arguments of `privml dealer`.
#[derive(Args, Debug)]
pub struct DealerArgs {
    /// The parties file: deal live, as id 2 over TLS.
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "out",
        required_unless_present = "out"
    )]
    config: Option<PathBuf>,
    /// Write the two parties' preprocessing files for the job into DIR
    /// (party0.prep, party1.prep) instead of dealing live. For `train` and
    /// `predict`, pass --announced too.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// With --out, for jobs that announce public values at run time
    /// (`train`, `predict`): the public description the data owner wrote
    /// with `privml announce`; the files are dealt for those values, and a
    /// run whose data has other shapes is refused.
    #[arg(long, value_name = "FILE", requires = "out")]
    announced: Option<PathBuf>,
    // Live: how long to wait for the parties.
    #[command(flatten)]
    waits: Waits,
    /// The job: the same as the parties'.
    #[command(subcommand)]
    job: PartyJob,
}

/// Runs `privml dealer`.
pub fn run(mut args: DealerArgs) -> Result<()> {
    args.job.make_two_party()?;
    args.job.check()?;
    let domain = args.job.domain();
    let ring = domain.spec().ring;
    let mut cfg = domain.config();
    let session = session_text(&args.job, DEALER)?;
    match (&args.config, &args.out) {
        (Some(config), None) => {
            let parties = PartiesConfig::load(config)?;
            let opts = args.waits.connect_options(&parties)?;
            cfg.timeout = opts.io_timeout;
            let (links, handles) = Links::new(parties, opts, session, DEALER, Protocol::Additive2);
            let connect = move || links.connect_both();
            let exec = Exec::TwoParty {
                id: DEALER,
                ring,
                cfg,
                links: TwoPartyLinks::Live(&connect),
            };
            let result = args.job.run_on(&exec, DEALER);
            finish(DEALER, result, &handles)
        }
        (None, Some(dir)) => {
            let announced = match (&args.announced, announces(&args.job)) {
                (Some(path), true) => PublicDescription::load(path)?,
                (None, false) => PublicDescription::default(),
                (None, true) => bail!(
                    "this job announces public values at run time (the data's shapes, the model id): \
                     pass --announced FILE, written by the data owner with `privml announce --id N \
                     --out FILE` and the same job"
                ),
                (Some(_), false) => {
                    bail!("--announced is for train and predict: this job announces nothing")
                }
            };
            let exec = Exec::TwoParty {
                id: DEALER,
                ring,
                cfg,
                links: TwoPartyLinks::ToFiles {
                    dir: dir.clone(),
                    program: program_digest(&session.to_string()),
                    announced,
                },
            };
            args.job
                .run_on(&exec, DEALER)
                .context("dealing the preprocessing files")?;
            let p1 = dir.join(file_name(1));
            let size = std::fs::metadata(&p1)
                .with_context(|| format!("reading {}", p1.display()))?
                .len();
            println!(
                "wrote {} and {} ({size} bytes of material for party 1; party 0's follows from its seed)",
                dir.join(file_name(0)).display(),
                p1.display()
            );
            println!(
                "each file serves one run of this job: `privml party --id N --prep {}/partyN.prep ...`",
                dir.display()
            );
            Ok(())
        }
        _ => {
            bail!("pass either --config FILE (deal live) or --out DIR (write preprocessing files)")
        }
    }
}

/// Whether `job` announces public values at run time.
fn announces(job: &PartyJob) -> bool {
    matches!(job, PartyJob::Train(_) | PartyJob::Predict(_))
}

/// Arguments of `privml announce`.
#[derive(Args, Debug)]
pub struct AnnounceArgs {
    /// The announcing party's id (the job's data owner: 0 or 1).
    #[arg(long)]
    id: usize,
    /// Where to write the public description (atomically).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// The job, as the party will run it (`train` or `predict` with
    /// `--protocol 2pc`).
    #[command(subcommand)]
    job: PartyJob,
}

/// Runs `privml announce`: the data owner computes, from its own rows and
/// with the job's own code, exactly the public values the job will
/// announce (the data's shapes and class count, for `train` the model id),
/// and writes them for the dealer. Nothing else goes into the file, and
/// nothing runs on the network.
pub fn announce(mut args: AnnounceArgs) -> Result<()> {
    args.job.make_two_party()?;
    args.job.check()?;
    let me = args.id;
    let description = match &args.job {
        PartyJob::Train(a) => {
            check_owner(me, a.data_owner())?;
            if a.has_input() {
                bail!(
                    "dataset share files (--input) hold replicated shares of the \
                     three-party protocol; a two-party run takes the data owner's --data"
                );
            }
            let data = a.prepare()?;
            let settings = a.settings()?;
            TrainJob::new(&settings, Some(&data)).public_description()?
        }
        PartyJob::Predict(a) => {
            check_owner(me, a.data_owner())?;
            crate::predict::public_description(a)?
        }
        _ => bail!(
            "only train and predict announce public values at run time; \
             deal other jobs with `privml dealer --out DIR` alone"
        ),
    };
    description
        .save(&args.out)
        .with_context(|| format!("writing {}", args.out.display()))?;
    let bytes: usize = description
        .announcements
        .iter()
        .map(|a| a.bytes.len())
        .sum();
    println!(
        "wrote {}: {} public values ({bytes} bytes: the data's shapes{}) for \
         `privml dealer --out DIR --announced {}`",
        args.out.display(),
        description.announcements.len(),
        if matches!(args.job, PartyJob::Train(_)) {
            ", class count and the model id"
        } else {
            ""
        },
        args.out.display()
    );
    Ok(())
}

fn check_owner(me: usize, owner: usize) -> Result<()> {
    if me != owner {
        bail!(
            "--id {me}: the data owner (party {owner}, --data-owner) announces the data's shapes \
             and writes the public description"
        );
    }
    Ok(())
}
