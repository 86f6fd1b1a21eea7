//! `privml bench`: the benchmark workloads on each domain, as ratios to the
//! plaintext f64 run in the same process.

use anyhow::Result;
use clap::Args;
use privml::runner::DomainKind;
use privml::workloads::{
    self, Measurement, W1Mul, W2Matmul, W3Piecewise, W3Sigmoid, W4Tutorial, W5Logistic, W6Mlp,
    WRelu, Workload,
};

/// Arguments of `privml bench`.
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Workloads to run (W1, W2-256, W2, W3, W3-PW, W4, W5, W6, RELU); all if none given.
    workloads: Vec<String>,
    /// Domains, comma-separated: plain, fixed, shared (three parties), 2pc
    /// (two parties and a dealer); add :128 for Z_2^128.
    #[arg(long, default_value = "shared")]
    domains: String,
    /// Timed runs per workload (the median is reported).
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// W4 iterations (10,000 in the reference workload).
    #[arg(long, default_value_t = 10_000)]
    w4_iterations: usize,
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

fn go<W: Workload>(w: &W, domains: &[DomainKind], runs: usize) -> Result<()> {
    for d in domains {
        let m = workloads::measure(w, *d, runs, runs.max(11))?;
        row(&m);
    }
    Ok(())
}

/// Runs `privml bench`.
pub fn run(args: BenchArgs) -> Result<()> {
    let domains: Vec<DomainKind> = args
        .domains
        .split(',')
        .map(|d| d.trim().parse())
        .collect::<privml::Result<_>>()?;
    let all = [
        "W1", "W2-256", "W2", "W3", "W3-PW", "W4", "W5", "W6", "RELU",
    ];
    let wanted: Vec<String> = if args.workloads.is_empty() {
        all.iter().map(|s| s.to_string()).collect()
    } else {
        args.workloads.iter().map(|s| s.to_uppercase()).collect()
    };
    outln!(
        "| workload | domain | median s (online) | plaintext s | ratio | rounds (online) | bytes sent P0 / P1 / P2 (online) | offline s (dealer) | offline bytes (dealer) | peak RSS |"
    );
    outln!("|---|---|---|---|---|---|---|---|---|---|");
    for w in &wanted {
        match w.as_str() {
            "W1" => go(&W1Mul::new(1_000_000), &domains, args.runs)?,
            "W2-256" => go(&W2Matmul::new(256), &domains, args.runs)?,
            "W2" | "W2-1024" => go(&W2Matmul::new(1024), &domains, args.runs)?,
            "W3" => go(&W3Sigmoid::new(1_000_000), &domains, args.runs)?,
            "W3-PW" => go(&W3Piecewise::new(1_000_000), &domains, args.runs)?,
            "W6" => go(&W6Mlp::new(128), &domains, args.runs)?,
            "RELU" => go(&WRelu::new(1_000_000), &domains, args.runs)?,
            "W4" => go(
                &W4Tutorial {
                    iterations: args.w4_iterations,
                },
                &domains,
                args.runs,
            )?,
            "W5" => go(&W5Logistic::new(), &domains, args.runs)?,
            other => anyhow::bail!("unknown workload {other}: use one of {}", all.join(", ")),
        }
    }
    Ok(())
}
