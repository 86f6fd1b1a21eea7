//! Arguments shared by several commands.

use clap::Args;
use privml::SharedConfig;
use privml::learn::{OptimizerKind, Task};
use privml::net::emulate::LinkProfile;
use privml::runner::{Domain, DomainKind, DomainSpec, Exec, Protocol, RingSize};

/// Where a job computes: `--domain`, `--protocol`, `--ring`, `--frac-bits`,
/// `--insecure-seed` and `--net`, the same for every command that runs a job.
#[derive(Args, Debug, Clone)]
pub struct DomainArgs {
    /// Domain.
    #[arg(long, value_enum, default_value_t = Domain::Shared)]
    domain: Domain,
    /// Secure protocol: three parties (3pc), or two parties and a dealer of
    /// correlated randomness (2pc). With --domain plain or fixed, whose
    /// costs to predict.
    #[arg(long, value_enum)]
    protocol: Option<Protocol>,
    /// Ring size for fixed and shared, in bits.
    #[arg(long, value_enum, default_value_t = RingSize::Z64)]
    ring: RingSize,
    /// Fraction bits (default: 16 for Z_2^64, 32 for Z_2^128).
    #[arg(long)]
    frac_bits: Option<u32>,
    /// Fix the parties' key seeds, for reproducible test runs. INSECURE:
    /// whoever knows the number recomputes every pairwise key and can
    /// rebuild every secret. With `privml party` all three parties must pass
    /// the same value (it is part of the job description they compare when
    /// they connect), and each prints a warning.
    #[arg(long, value_name = "N")]
    insecure_seed: Option<u64>,
    /// Emulate a network on this party's links (shared domain, either
    /// protocol; with 2pc the dealer's links too): lan, wan, lan-pub,
    /// wan-pub or rtt=MS[,bw=MBIT] (see `privml bench --help`).
    #[arg(long, value_name = "PROFILE")]
    net: Option<LinkProfile>,
}

/// Job arguments that carry [`DomainArgs`] (flattened into a field named
/// `domain`): what `privml party` and `privml dealer` read and adjust on
/// any job. Implemented with [`with_domain!`](crate::with_domain).
pub trait WithDomain {
    /// Domain, ring, fraction bits and key seeds.
    fn domain(&self) -> &DomainArgs;
    /// The same, to change (the dealer makes a job two-party).
    #[cfg_attr(
        not(feature = "tls"),
        allow(dead_code, reason = "used by privml party and privml dealer")
    )]
    fn domain_mut(&mut self) -> &mut DomainArgs;
}

/// Implements [`WithDomain`] for argument structs with a `domain` field.
#[macro_export]
macro_rules! with_domain {
    ($($t:ty),+ $(,)?) => {
        $(impl $crate::args::WithDomain for $t {
            fn domain(&self) -> &$crate::args::DomainArgs {
                &self.domain
            }
            fn domain_mut(&mut self) -> &mut $crate::args::DomainArgs {
                &mut self.domain
            }
        })+
    };
}

impl DomainArgs {
    /// Domain, ring and fraction bits.
    pub fn spec(&self) -> DomainSpec {
        DomainSpec {
            domain: self.domain,
            ring: self.ring,
            frac_bits: self.frac_bits,
            protocol: self.protocol(),
        }
    }

    /// The secure protocol (3pc unless asked otherwise).
    pub fn protocol(&self) -> Protocol {
        self.protocol.unwrap_or_default()
    }

    /// Sets the protocol from a number of computing parties (`--parties`),
    /// refusing a `--protocol` that says otherwise.
    pub fn set_parties(&mut self, parties: usize) -> anyhow::Result<()> {
        let wanted = match parties {
            2 => Protocol::Additive2,
            3 => Protocol::Replicated3,
            n => anyhow::bail!("--parties {n}: privml runs 2 parties (with a dealer) or 3"),
        };
        match self.protocol {
            Some(p) if p != wanted => {
                anyhow::bail!("--parties {parties} contradicts --protocol {p}")
            }
            _ => self.protocol = Some(wanted),
        }
        Ok(())
    }

    /// The domain to dispatch to.
    pub fn kind(&self) -> DomainKind {
        self.spec().kind()
    }

    /// The secure-run settings these arguments ask for.
    pub fn config(&self) -> SharedConfig {
        SharedConfig {
            frac_bits: self.frac_bits,
            insecure_test_seed: self.insecure_seed,
            protocol: self.protocol(),
            network: self.net.clone(),
            ..Default::default()
        }
    }

    /// The fixed key seed, if `--insecure-seed` was given.
    #[cfg_attr(
        not(feature = "tls"),
        allow(dead_code, reason = "used by privml party")
    )]
    pub fn insecure_seed(&self) -> Option<u64> {
        self.insecure_seed
    }

    /// Running in this process. A shared run here is three parties as
    /// threads of one process: the first one warns, once, on stderr.
    pub fn local_exec(&self) -> Exec<'static> {
        if self.domain == Domain::Shared {
            warn_in_process();
        }
        Exec::Local {
            kind: self.kind(),
            cfg: self.config(),
        }
    }
}

/// What an in-process shared run does not protect, said once per process.
fn warn_in_process() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        eprintln!(
            "privml: note: the three parties of this shared run are threads of this one \
             process, which holds all three parties' shares (and writes all three share \
             files): a simulation, not a secure deployment. Run `privml party` on three \
             hosts to keep them apart (see docs/three-machines.md)."
        );
    });
}

/// The training options `privml train` and `privml client train` share:
/// loss, optimiser, task, epochs, batch, learning rate, the test split,
/// the row cap and the seed. Both commands flatten it, so the two agree on
/// names, defaults and help.
#[derive(Args, Debug, Clone)]
pub struct TrainingOptions {
    /// Loss: `mse` (squared error) or `cross-entropy` (softmax
    /// cross-entropy, classification).
    #[arg(long, default_value = "mse")]
    pub loss: privml::nn::Loss,
    /// Optimiser: `sgd`, `momentum` (0.9) or `adam`.
    #[arg(long, default_value = "sgd")]
    pub optimizer: OptimizerKind,
    /// `classification` or `regression`; detected from the target column if
    /// not given (class labels 0..k-1 with k ≤ 100 are classes), with a
    /// message saying which was chosen.
    #[arg(long)]
    pub task: Option<Task>,
    /// Epochs.
    #[arg(long, default_value_t = 5)]
    pub epochs: usize,
    /// Mini-batch size.
    #[arg(long, default_value_t = 128)]
    pub batch: usize,
    /// Learning rate (per mean gradient of a batch); default 0.2 for sgd,
    /// 0.05 for momentum, 0.002 for adam.
    #[arg(long)]
    lr: Option<f64>,
    /// Fraction of rows held out for testing.
    #[arg(long, default_value_t = 0.2)]
    pub test_fraction: f64,
    /// Use only the first N rows after shuffling (quick runs).
    #[arg(long)]
    pub max_rows: Option<usize>,
    /// Seed of the shuffle, split and initial weights (public).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

impl TrainingOptions {
    /// The learning rate: `--lr`, else the optimiser's default.
    pub fn lr(&self) -> f64 {
        self.lr.unwrap_or(match self.optimizer {
            OptimizerKind::Sgd => 0.2,
            OptimizerKind::Momentum => 0.05,
            OptimizerKind::Adam => 0.002,
        })
    }
}
