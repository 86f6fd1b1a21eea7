//! `privml demo`: the experiments of the source documents.

use std::time::Instant;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use privml::approx::{ApproxRow, ApproxTable, sigmoid};
use privml::experiments::{self, additive, boolean, reservoir};
use privml::runner::{DomainKind, Exec, Job, execute, speaks};
use privml::{Error, Ring, SharedConfig};

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
    /// The table of sigmoid approximations: error, collapse and overflow radius.
    Approx,
}

/// Arguments of `privml demo`.
#[derive(Args, Debug)]
pub struct DemoArgs {
    /// The demo to run.
    #[arg(value_enum, default_value_t = Which::Tutorial)]
    which: Which,
    /// Domain: plain (f64), fixed (plaintext fixed point) or shared (three parties).
    #[arg(long, default_value = "shared")]
    domain: String,
    /// Ring size for fixed and shared: 64 or 128 bits.
    #[arg(long, default_value_t = 64)]
    ring: u32,
    /// Fraction bits (default: 16 for Z_2^64, 32 for Z_2^128).
    #[arg(long)]
    frac_bits: Option<u32>,
    /// Override the number of training iterations.
    #[arg(long)]
    iterations: Option<usize>,
    /// Fix the parties' key seeds (reproducible runs; insecure).
    #[arg(long)]
    insecure_seed: Option<u64>,
}

impl DemoArgs {
    /// Where to run when not launched as one party: in this process.
    pub fn local_exec(&self) -> Result<Exec<'static>> {
        Ok(Exec::Local {
            kind: DomainKind::from_parts(&self.domain, self.ring)?,
            cfg: self.config(),
        })
    }

    /// The domain asked for (`plain`, `fixed` or `shared`).
    #[cfg_attr(
        not(feature = "tls"),
        allow(dead_code, reason = "used by privml party")
    )]
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The ring size asked for (64 or 128).
    #[cfg_attr(
        not(feature = "tls"),
        allow(dead_code, reason = "used by privml party")
    )]
    pub fn ring(&self) -> u32 {
        self.ring
    }

    /// The secure-run settings these arguments ask for.
    pub fn config(&self) -> SharedConfig {
        SharedConfig {
            frac_bits: self.frac_bits,
            insecure_test_seed: self.insecure_seed,
            ..Default::default()
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
        let (sv, pv) = (r.reveal(&s)?, r.reveal(&p)?);
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
pub fn run(args: DemoArgs) -> Result<()> {
    let exec = args.local_exec()?;
    run_on(&args, &exec)
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
                additive::run(&experiments::stdout_log)?;
            }
            execute(exec, &PrivmlAdditive)?;
        }
        Which::Reservoir => {
            let mut cfg = reservoir::Reservoir::default();
            if let Some(n) = args.iterations {
                cfg.steps = n;
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
        }
        Which::Approx => {}
    }
    Ok(())
}
