//! `privml bench`: the benchmark workloads on each domain, as ratios to the
//! plaintext f64 run in the same process; with `--net`, also over emulated
//! networks, next to the cost model's estimate.

use std::time::Duration;

use anyhow::Result;
use clap::Args;
use privml::net::emulate::{self, LinkProfile};
use privml::nn::{AdamConfig, Loss, OptimizerConfig};
use privml::runner::DomainKind;
use privml::workloads::{
    self, Measurement, NetworkInference, NetworkStep, W1Mul, W2Matmul, W3Piecewise, W3Sigmoid,
    W4Tutorial, W5Logistic, W6Mlp, WRelu, Workload,
};
use privml::{Network, SharedConfig};

/// Arguments of `privml bench`.
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Workloads to run (W1, W2-256, W2, W3, W3-PW, W4, W5, W6, RELU, and the
    /// networks NB-SGD, NC-SGD, NA-ADAM, NC-INFER-1, NC-INFER-128); all if
    /// none given.
    workloads: Vec<String>,
    /// Domains, comma-separated: plain, fixed, shared (three parties), 2pc
    /// (two parties and a dealer); add :128 for Z_2^128.
    #[arg(long, default_value = "shared")]
    domains: String,
    /// Timed runs per workload (the median is reported).
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// W4 iterations [default: 10,000, the reference workload; 100 with
    /// --net, where each iteration costs 30 round trips of the network].
    #[arg(long)]
    w4_iterations: Option<usize>,
    /// Also run the secure domains (shared, 2pc) over emulated networks
    /// (every link, the dealer's included), comma-separated:
    /// lan (0.2 ms RTT, 10 Gbit/s), wan (40 ms RTT, 100 Mbit/s), lan-pub
    /// (0.02 ms, 40 Gbit/s), wan-pub (40 ms, 352 Mbit/s) or rtt=MS[,bw=MBIT].
    #[arg(long, value_name = "PROFILES", value_delimiter = ',')]
    net: Vec<LinkProfile>,
    /// Timed runs per workload on each emulated network (the median is
    /// reported).
    #[arg(long, default_value_t = 3)]
    net_runs: usize,
}

fn mb(b: u64) -> String {
    format!("{:.2} MB", b as f64 / 1e6)
}

fn row(m: &Measurement) {
    let med = m.median().map_or(f64::NAN, |d| d.as_secs_f64());
    let plain = m
        .plain_median()
        .map_or("-".to_string(), |d| format!("{:.4}", d.as_secs_f64()));
    let ratio = m.ratio().map_or("-".to_string(), |r| format!("{r:.1}x"));
    let bytes = m.cost.bytes_sent.map(mb).join(" / ");
    // The two-party protocol's dealer: its time to deal one run and the
    // material it sends (to party 1; party 0 derives its part from a seed).
    let offline = m
        .offline_median()
        .map_or("-".to_string(), |d| format!("{:.4}", d.as_secs_f64()));
    let material = if m.offline_runs.is_empty() {
        "-".to_string()
    } else {
        mb(m.cost.offline_bytes.iter().sum())
    };
    let rss = m
        .peak_rss_bytes
        .map_or("-".to_string(), |b| format!("{:.0} MB", b as f64 / 1e6));
    outln!(
        "| {} | {} | {:.4} | {} | {} | {} | {} | {} | {} | {} |",
        m.workload,
        m.domain,
        med,
        plain,
        ratio,
        m.cost.rounds,
        bytes,
        offline,
        material,
        rss
    );
}

fn go<W: Workload>(w: &W, domains: &[DomainKind], args: &BenchArgs) -> Result<()> {
    for d in domains {
        let m = workloads::measure(w, *d, args.runs, args.runs.max(11))?;
        if args.net.is_empty() {
            row(&m);
            continue;
        }
        if !matches!(
            d,
            DomainKind::Shared64
                | DomainKind::Shared128
                | DomainKind::TwoParty64
                | DomainKind::TwoParty128
        ) {
            continue;
        }
        for p in &args.net {
            // A party that receives nothing for a while (party 2 in a run
            // of fused products only deals) waits at the end for the whole
            // emulated run: the per-message timeout must cover it.
            let cfg = SharedConfig::default()
                .network(p.clone())
                .timeout(EMULATED_TIMEOUT);
            let e = workloads::measure_on(w, *d, args.net_runs, 0, &cfg)?;
            net_row(&m, &e, p);
        }
    }
    Ok(())
}

/// The per-message timeout of emulated runs.
const EMULATED_TIMEOUT: Duration = Duration::from_secs(3600);

fn secs(d: Option<Duration>) -> f64 {
    d.map_or(f64::NAN, |d| d.as_secs_f64())
}

/// One workload on one emulated network: in-process time, emulated time,
/// and the cost model's estimate (in-process time plus rounds times the
/// one-way delay plus the busiest party's bytes at the bandwidth).
fn net_row(local: &Measurement, emulated: &Measurement, p: &LinkProfile) {
    let net = Network {
        name: "emulated",
        latency: p.one_way_delay,
        bandwidth_bits_per_s: p.bandwidth_bits_per_s,
    };
    let inproc = secs(local.median());
    let measured = secs(emulated.median());
    let model = inproc + emulated.cost.estimate(&net).as_secs_f64();
    let error = (model - measured) / measured * 100.0;
    outln!(
        "| {} | {} | {} | {:.4} | {:.4} | {:.4} | {:+.1}% | {} | {} |",
        local.workload,
        local.domain,
        p.name,
        inproc,
        measured,
        model,
        error,
        emulated.cost.rounds,
        emulated.cost.bytes_sent.map(mb).join(" / "),
    );
}

/// The emulator's own overhead: round trips of a small frame over each
/// emulated link against the profile's RTT.
fn emulator_check(profiles: &[LinkProfile]) -> Result<()> {
    let bare = emulate::ping_pong(None, 2000, 64)?;
    outln!(
        "emulator check (two threads, 64-byte frames): bare in-memory round trip {:.1} µs",
        bare.as_secs_f64() / 2000.0 * 1e6
    );
    for p in profiles {
        let rounds = ((1.0 / p.rtt().as_secs_f64().max(1e-4)) as usize).clamp(10, 2000);
        let t = emulate::ping_pong(Some(p), rounds, 64)?;
        let per = t.as_secs_f64() / rounds as f64;
        let ideal = p.rtt().as_secs_f64() + 2.0 * p.serialisation(64 + 24).as_secs_f64();
        outln!(
            "  {p}: {rounds} round trips, {:.1} µs each, {:.1} µs over the emulated {:.1} µs",
            per * 1e6,
            (per - ideal) * 1e6,
            ideal * 1e6
        );
    }
    outln!();
    Ok(())
}

/// The workloads, by the names `privml bench` and `privml party bench` take.
pub const WORKLOADS: [&str; 14] = [
    "W1",
    "W2-256",
    "W2",
    "W3",
    "W3-PW",
    "W4",
    "W5",
    "W6",
    "RELU",
    "NB-SGD",
    "NC-SGD",
    "NA-ADAM",
    "NC-INFER-1",
    "NC-INFER-128",
];

/// Something done with one workload, whatever its concrete type.
trait WithWorkload {
    fn with<W: Workload>(&mut self, w: &W) -> Result<()>;
}

/// Builds the workload called `name` (case-insensitive) and hands it to `f`.
fn dispatch(name: &str, w4_iterations: usize, f: &mut impl WithWorkload) -> Result<()> {
    let sgd = OptimizerConfig::Sgd { lr: 0.01 };
    let adam = OptimizerConfig::Adam(AdamConfig::default());
    match name.to_uppercase().as_str() {
        "W1" => f.with(&W1Mul::new(1_000_000)),
        "W2-256" => f.with(&W2Matmul::new(256)),
        "W2" | "W2-1024" => f.with(&W2Matmul::new(1024)),
        "W3" => f.with(&W3Sigmoid::new(1_000_000)),
        "W3-PW" => f.with(&W3Piecewise::new(1_000_000)),
        "W6" => f.with(&W6Mlp::new(128)),
        "RELU" => f.with(&WRelu::new(1_000_000)),
        "W4" => f.with(&W4Tutorial {
            iterations: w4_iterations,
        }),
        "W5" => f.with(&W5Logistic::new()),
        "NB-SGD" => f.with(&NetworkStep::new(
            "network-b",
            128,
            Loss::CrossEntropy,
            sgd,
        )?),
        "NC-SGD" => f.with(&NetworkStep::new(
            "network-c",
            128,
            Loss::CrossEntropy,
            sgd,
        )?),
        "NA-ADAM" => f.with(&NetworkStep::new(
            "network-a",
            128,
            Loss::CrossEntropy,
            adam,
        )?),
        "NC-INFER-1" => f.with(&NetworkInference::new("network-c", 1)?),
        "NC-INFER-128" => f.with(&NetworkInference::new("network-c", 128)?),
        other => anyhow::bail!(
            "unknown workload {other}: use one of {}",
            WORKLOADS.join(", ")
        ),
    }
}

/// `privml bench` in this process: every domain, then the emulated networks.
struct InProcess<'a> {
    domains: &'a [DomainKind],
    args: &'a BenchArgs,
}

impl WithWorkload for InProcess<'_> {
    fn with<W: Workload>(&mut self, w: &W) -> Result<()> {
        go(w, self.domains, self.args)
    }
}

/// Runs `privml bench`.
pub fn run(args: BenchArgs) -> Result<()> {
    let domains: Vec<DomainKind> = args
        .domains
        .split(',')
        .map(|d| d.trim().parse())
        .collect::<privml::Result<_>>()?;
    let wanted: Vec<String> = if args.workloads.is_empty() {
        WORKLOADS.iter().map(|s| s.to_string()).collect()
    } else {
        args.workloads.iter().map(|s| s.to_uppercase()).collect()
    };
    let w4_iterations =
        args.w4_iterations
            .unwrap_or(if args.net.is_empty() { 10_000 } else { 100 });
    if args.net.is_empty() {
        outln!(
            "| workload | domain | median s (online) | plaintext s | ratio | rounds (online) | bytes sent P0 / P1 / P2 (online) | offline s (dealer) | offline bytes (dealer) | peak RSS |"
        );
        outln!("|---|---|---|---|---|---|---|---|---|---|");
    } else {
        emulator_check(&args.net)?;
        outln!(
            "| workload | domain | network | in process s | emulated s | model s | model error | rounds | bytes sent P0 / P1 / P2 |"
        );
        outln!("|---|---|---|---|---|---|---|---|---|");
    }
    let mut each = InProcess {
        domains: &domains,
        args: &args,
    };
    for w in &wanted {
        dispatch(w, w4_iterations, &mut each)?;
    }
    Ok(())
}

/// Arguments of `privml party bench`.
#[cfg(feature = "tls")]
#[derive(Args, Debug)]
pub struct PartyBenchArgs {
    /// The workload: one of `privml bench`'s (W1, W2-256, W2, W3, W3-PW, W4,
    /// W5, W6, RELU, NB-SGD, NC-SGD, NA-ADAM, NC-INFER-1, NC-INFER-128).
    workload: String,
    /// Timed runs (the median is reported).
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// W4 iterations.
    #[arg(long, default_value_t = 10_000)]
    w4_iterations: usize,
    #[command(flatten)]
    domain: crate::args::DomainArgs,
}

#[cfg(feature = "tls")]
crate::with_domain!(PartyBenchArgs);

#[cfg(feature = "tls")]
impl PartyBenchArgs {
    /// What the parties compare when they connect.
    pub fn session(&self) -> Result<privml::session::SessionDescription> {
        let workload = self.workload.to_uppercase();
        if !WORKLOADS.contains(&workload.as_str()) && workload != "W2-1024" {
            anyhow::bail!(
                "unknown workload {workload}: use one of {}",
                WORKLOADS.join(", ")
            );
        }
        if self.runs == 0 {
            anyhow::bail!("--runs must be at least 1");
        }
        Ok(privml::session::SessionDescription {
            job: privml::session::JobDescription::Bench {
                workload,
                runs: self.runs,
                w4_iterations: self.w4_iterations,
            },
            domain: self.domain.spec(),
        })
    }

    /// Runs the workload as this party; party 0 prints the row.
    pub fn run_on(&self, exec: &privml::runner::Exec<'_>) -> Result<()> {
        dispatch(
            &self.workload,
            self.w4_iterations,
            &mut OnParty {
                exec,
                runs: self.runs,
            },
        )
    }
}

/// Timed runs of one workload as one party of a deployment.
#[cfg(feature = "tls")]
struct OnParty<'a, 'e> {
    exec: &'a privml::runner::Exec<'e>,
    runs: usize,
}

/// The job each party runs: set-up, then the timed runs.
#[cfg(feature = "tls")]
struct BenchJob<'a, W> {
    w: &'a W,
    runs: usize,
}

#[cfg(feature = "tls")]
impl<W: Workload> privml::runner::Job for BenchJob<'_, W> {
    type Output = (Vec<Duration>, privml::Cost);
    fn run<R: privml::Ring + privml::domain::Session>(
        &self,
        r: &mut R,
    ) -> privml::Result<Self::Output> {
        workloads::time_runs(self.w, r, self.runs)
    }
}

#[cfg(feature = "tls")]
impl WithWorkload for OnParty<'_, '_> {
    fn with<W: Workload>(&mut self, w: &W) -> Result<()> {
        let job = BenchJob { w, runs: self.runs };
        let ((mut times, cost), _) = privml::runner::execute(self.exec, &job)?;
        times.sort();
        let median = times[times.len() / 2].as_secs_f64();
        if self.exec.is_speaker() {
            outln!("| workload | median s | runs | rounds | bytes sent by party 0 |");
            outln!("|---|---|---|---|---|");
            outln!(
                "| {} | {median:.4} | {} | {} | {} |",
                w.name(),
                times.len(),
                cost.rounds,
                mb(cost.bytes_sent.iter().sum())
            );
        }
        Ok(())
    }
}
