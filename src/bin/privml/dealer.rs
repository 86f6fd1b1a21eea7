//! `privml dealer`: the dealer of the two-party protocol, which supplies the
//! correlated randomness and sees no data.
//!
//! Live (`--config FILE`), it is id 2 of the parties file and streams its
//! material to party 1 over mutual TLS as the job runs; ahead of time
//! (`--out DIR`), it writes both parties' preprocessing files for the job,
//! which the parties then read with `privml party --prep`. Either way it
//! runs the same job command line as the parties (it is made two-party if
//! it is not), without any data.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use privml::mpc2::DEALER;
use privml::mpc2::prep::{file_name, program_digest};
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
    /// (party0.prep, party1.prep) instead of dealing live. The job must not
    /// announce values at run time (`train` and `predict` do: deal those live).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
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
            let exec = Exec::TwoParty {
                id: DEALER,
                ring,
                cfg,
                links: TwoPartyLinks::ToFiles {
                    dir: dir.clone(),
                    program: program_digest(&session.to_string()),
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
