//! `privml demo`: the experiments of the source documents.

use std::time::Instant;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use privml::approx::functions::FunctionTable;
use privml::approx::{ApproxRow, ApproxTable, sigmoid};
use privml::experiments::{self, additive, boolean, reservoir};
use privml::runner::{Exec, Job, Protocol, execute, speaks};
use privml::session::{JobDescription, SessionDescription};
use privml::{Error, Open, Ring};

use crate::args::DomainArgs;

/// Which demo.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum Which {
    /// The tutorial's headline: parity learned by the three-layer network
    /// with the interpolated sigmoid, 10,000 iterations.
    Tutorial,
    /// All of the tutorial's boolean-function experiments, collapses included.
    Boolean,
    /// The article's additive-sharing demo (mod 501337), then the same on privml shares.
    Additive,
    /// The article's XOR-through-a-random-reservoir demo.
    Reservoir,
    /// The table of sigmoid approximations (error, collapse and overflow
    /// radius), then the softmax's and Adam's functions (error bound, range,
    /// rounds and bytes).
    Approx,
}

impl Which {
    /// The name a user types.
    #[cfg_attr(
        not(feature = "tls"),
        allow(dead_code, reason = "used by privml party")
    )]
    fn name(self) -> &'static str {
        match self {
            Which::Tutorial => "tutorial",
            Which::Boolean => "boolean",
            Which::Additive => "additive",
            Which::Reservoir => "reservoir",
            Which::Approx => "approx",
        }
    }
}

/// Arguments of `privml demo`.
#[derive(Args, Debug)]
pub struct DemoArgs {
    /// The demo to run.
    #[arg(value_enum, default_value_t = Which::Tutorial)]
    which: Which,
    #[command(flatten)]
    domain: DomainArgs,
    /// Override the number of training iterations.
    #[arg(long)]
    iterations: Option<usize>,
    /// Computing parties: 3, or 2 (alice and bob, with a dealer of
    /// correlated randomness; the same as --protocol 2pc).
    #[arg(long, value_name = "N")]
    parties: Option<usize>,
}

crate::with_domain!(DemoArgs);

impl DemoArgs {
    /// Applies `--parties` to the protocol (call once, before running).
    pub fn resolve(&mut self) -> Result<()> {
        if let Some(n) = self.parties {
            self.domain.set_parties(n)?;
        }
        Ok(())
    }

    /// What the parties compare before running the demo.
    #[cfg_attr(
        not(feature = "tls"),
        allow(dead_code, reason = "used by privml party")
    )]
    pub fn session(&self) -> SessionDescription {
        SessionDescription {
            job: JobDescription::Demo {
                demo: self.which.name().to_string(),
                iterations: self.iterations,
            },
            domain: self.domain.spec(),
        }
    }
}

fn print_cost(cost: &privml::Cost) {
    out!("{}", cost.report());
}

/// Runs one boolean experiment, explaining a failure instead of aborting.
fn boolean_one(args: &DemoArgs, exec: &Exec<'_>, mut e: boolean::Experiment) -> Result<()> {
    if let Some(n) = args.iterations {
        e.iterations = n;
    }
    let speak = exec.is_speaker();
    if speak {
        outln!(
            "\n=== {} — {} iterations on {} ===",
            e.title,
            e.iterations,
            exec.describe()
        );
    }
    let t0 = Instant::now();
    let job = boolean::BooleanJob {
        experiment: e,
        log: &experiments::stdout_log,
    };
    match execute(exec, &job) {
        Ok((_, cost)) => {
            if speak {
                outln!("time: {:.2} s", t0.elapsed().as_secs_f64());
                print_cost(&cost);
            }
            Ok(())
        }
        Err(Error::Overflow(ev)) => {
            outln!("COLLAPSE EXPLAINED: {ev}");
            outln!(
                "  The polynomial's input grew until a product left the range the secure truncation is exact in; \
                 a secure run would continue on wrapped values and print garbage like the tutorial's 4.5e+22."
            );
            Ok(())
        }
        Err(Error::NonFiniteResult { at }) => {
            outln!("COLLAPSE: the f64 run produced NaN/infinity at {at}");
            Ok(())
        }
        Err(e) => Err(e).context("experiment failed"),
    }
}

struct PrivmlAdditive;

impl Job for PrivmlAdditive {
    type Output = ();
    fn run<R: Ring>(&self, r: &mut R) -> privml::Result<()> {
        let two = ndarray::arr0(2.0).into_dyn();
        let five = ndarray::arr0(5.0).into_dyn();
        let a = r.input(0, r.owns(0).then_some(&two), &[])?;
        let b = r.input(1, r.owns(1).then_some(&five), &[])?;
        let s = r.add(&a, &b)?;
        let p = r.scale_int(&s, 3)?;
        let (sv, pv) = (r.open(&s)?, r.open(&p)?);
        if speaks(r) {
            outln!(
                "privml on {}: 2 + 5 = {}, 3 · (2 + 5) = {}",
                r.describe(),
                sv[[]],
                pv[[]]
            );
        }
        Ok(())
    }
}

/// Runs `privml demo` in this process.
pub fn run(mut args: DemoArgs) -> Result<()> {
    args.resolve()?;
    run_on(&args, &args.domain.local_exec())
}

/// Whether the demo runs the two-party protocol.
fn two_party(args: &DemoArgs) -> bool {
    args.domain.protocol() == Protocol::Additive2
}

/// Runs `privml demo` where `exec` says (in this process, or as one party).
pub fn run_on(args: &DemoArgs, exec: &Exec<'_>) -> Result<()> {
    let speak = exec.is_speaker();
    match args.which {
        Which::Tutorial => {
            let mut e = boolean::headline();
            if let Some(n) = args.iterations {
                e.iterations = n;
            }
            if speak {
                outln!(
                    "privml demo: the tutorial's three-layer network learning parity on {}",
                    exec.describe()
                );
                outln!(
                    "data owner: party {}, model owner: party 0; weights and data stay secret-shared\n",
                    boolean::DATA_OWNER
                );
            }
            let t0 = Instant::now();
            let job = boolean::BooleanJob {
                experiment: e,
                log: &experiments::stdout_log,
            };
            let (_, cost) = execute(exec, &job)?;
            if speak {
                outln!(
                    "\ntraining + prediction time: {:.2} s",
                    t0.elapsed().as_secs_f64()
                );
                print_cost(&cost);
            }
        }
        Which::Boolean => {
            for e in boolean::tutorial_experiments()? {
                boolean_one(args, exec, e)?;
            }
        }
        Which::Additive => {
            if speak {
                additive::run(
                    &experiments::stdout_log,
                    if two_party(args) { 2 } else { 3 },
                )?;
            }
            execute(exec, &PrivmlAdditive)?;
        }
        Which::Reservoir => {
            let mut cfg = reservoir::Reservoir::default();
            if let Some(n) = args.iterations {
                cfg.steps = n;
            }
            if speak {
                if two_party(args) {
                    outln!(
                        "privml demo: the article's encrypted reservoir on {}\n\
                         alice (party 0) and bob (party 1) hold shares of the reservoir features, \
                         the targets (both input by bob, the data owner) and the model;\n\
                         a dealer (party 2) supplies Beaver triples and truncation masks and sees no data\n",
                        exec.describe()
                    );
                } else {
                    outln!(
                        "privml demo: the article's encrypted reservoir on {}\n\
                         the data owner is party {}, the model starts as zeros from party 0\n",
                        exec.describe(),
                        reservoir::DATA_OWNER
                    );
                }
            }
            let job = reservoir::ReservoirJob {
                config: cfg,
                log: &experiments::stdout_log,
            };
            let (_, cost) = execute(exec, &job)?;
            if speak {
                print_cost(&cost);
            }
        }
        Which::Approx if speak => {
            let rows = sigmoid::catalogue()
                .iter()
                .map(ApproxRow::for_sigmoid)
                .collect();
            out!("{}", ApproxTable(rows));
            out!("\n{}", FunctionTable::defaults()?);
        }
        Which::Approx => {}
    }
    Ok(())
}
