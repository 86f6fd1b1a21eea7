//! `privml federated`: federated averaging on the breast-cancer data with
//! secure (MPC) or homomorphic (HE) aggregation.

use std::time::Duration;

use anyhow::Result;
use clap::Args;
use privml::fl::{
    Aggregation, ClientId, Fault, FederatedConfig, RoundReport, ShareEncoding, Split, Weighting,
    run_federated,
};

/// Arguments of `privml federated`.
#[derive(Args, Debug)]
pub struct FederatedArgs {
    /// Number of clients (sites), each with its own shard of the data.
    #[arg(long, default_value_t = 10)]
    clients: usize,
    /// Rounds of federated averaging (at most).
    #[arg(long, default_value_t = 20)]
    rounds: usize,
    /// How updates are aggregated: mpc (secret sharing among three
    /// servers), he (BFV under the model owner's key) or plain (insecure
    /// reference).
    #[arg(long, default_value = "mpc")]
    aggregation: Aggregation,
    /// How the training data is dealt out: iid or skewed (by label).
    #[arg(long, default_value = "iid")]
    split: Split,
    /// Local gradient steps per round.
    #[arg(long, default_value_t = 5)]
    local_steps: usize,
    /// Local learning rate.
    #[arg(long, default_value_t = 4.0)]
    lr: f64,
    /// Weight decay of local training.
    #[arg(long, default_value_t = 0.002)]
    weight_decay: f64,
    /// Probability that a client drops out of a round.
    #[arg(long, default_value_t = 0.0)]
    dropout: f64,
    /// Clients that never submit (comma-separated ids).
    #[arg(long, value_delimiter = ',')]
    drop: Vec<u32>,
    /// Clients that submit a wrong-shape update every round (comma-separated ids).
    #[arg(long, value_delimiter = ',')]
    faulty: Vec<u32>,
    /// Weighting of the mean: samples (FedAvg) or uniform.
    #[arg(long, default_value = "samples")]
    weighting: Weighting,
    /// Fewest accepted updates for a round to open its aggregate.
    #[arg(long, default_value_t = 2)]
    min_clients: usize,
    /// Stop once the test accuracy reaches this.
    #[arg(long)]
    target_accuracy: Option<f64>,
    /// Hidden units (a one-hidden-layer MLP instead of logistic regression).
    #[arg(long)]
    hidden: Option<usize>,
    /// Fraction bits of the fixed-point encoding of updates.
    #[arg(long, default_value_t = 16)]
    frac_bits: u32,
    /// MPC share encoding: explicit (48 bytes per value per client) or
    /// seeded (16).
    #[arg(long, default_value = "explicit")]
    share_encoding: ShareEncoding,
    /// Seed of the data split, dropouts and initial weights.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Write each client's shard (scaled features and the target) as
    /// DIR/site-K.csv, and the test set as DIR/test.csv, for the deployed
    /// form (`privml client federated --data`), then stop.
    #[arg(long, value_name = "DIR")]
    write_shards: Option<std::path::PathBuf>,
}

impl FederatedArgs {
    fn config(&self) -> FederatedConfig {
        FederatedConfig {
            clients: self.clients,
            rounds: self.rounds,
            local_steps: self.local_steps,
            lr: self.lr,
            weight_decay: self.weight_decay,
            split: self.split,
            aggregation: self.aggregation,
            weighting: self.weighting,
            dropout: self.dropout,
            dropped: self.drop.iter().map(|c| ClientId(*c)).collect(),
            faulty: self
                .faulty
                .iter()
                .map(|c| (ClientId(*c), Fault::WrongShape))
                .collect(),
            min_clients: self.min_clients,
            target_accuracy: self.target_accuracy,
            hidden: self.hidden,
            frac_bits: self.frac_bits,
            share_encoding: self.share_encoding,
            seed: self.seed,
            ..FederatedConfig::default()
        }
    }
}

fn bytes(b: u64) -> String {
    match b {
        b if b >= 10 << 20 => format!("{:.1} MiB", b as f64 / (1 << 20) as f64),
        b if b >= 10 << 10 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{b} B"),
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e3)
}

fn line(r: &RoundReport, clients: usize) {
    let out = &r.outcome;
    let servers = out.bytes_from_clients.len();
    let per_server = out.bytes_from_clients.iter().copied().max().unwrap_or(0);
    let sent = out.bytes_server_out.iter().copied().max().unwrap_or(0);
    let opened = if r.aggregated() {
        format!("dev {:.1e} <= {:.1e}", out.deviation, out.tolerance)
    } else {
        "too few clients: nothing opened".to_string()
    };
    outln!(
        "round {:3} | acc {:.3} | {}/{clients} in, {} dropped, {} rejected | {}/client, {}/server{} (+{} out) | \
         {} ms (train {}, protect {}, aggregate {}, open {}) | {opened}",
        r.round,
        r.test_accuracy,
        out.accepted.len(),
        r.dropped.len(),
        out.refused.len(),
        bytes(out.bytes_per_client),
        bytes(per_server),
        if servers > 1 {
            format!(" x{servers}")
        } else {
            String::new()
        },
        bytes(sent),
        ms(r.time_round),
        ms(r.time_local),
        ms(out.time_clients),
        ms(out.time_servers),
        ms(out.time_open),
    );
    for refusal in &out.refused {
        outln!("          rejected {}: {}", refusal.client, refusal.error);
    }
}

/// Writes the simulator's shards as CSV files (see `--write-shards`).
fn write_shards(cfg: &FederatedConfig, dir: &std::path::Path) -> Result<()> {
    use privml::data::Dataset;
    use privml::fl::{prepare_data, split_clients};
    let (train, test) = prepare_data(cfg.test_fraction, cfg.seed)?;
    let shards = split_clients(&train, cfg.clients, cfg.split, cfg.seed ^ 0x5EED)?;
    std::fs::create_dir_all(dir)?;
    let csv = |d: &Dataset| {
        let mut s = d.feature_names().join(",");
        s.push_str(",target\n");
        for (row, y) in d.features().rows().into_iter().zip(d.targets()) {
            for v in row {
                s.push_str(&format!("{v},"));
            }
            s.push_str(&format!("{y}\n"));
        }
        s
    };
    for (k, shard) in shards.iter().enumerate() {
        let path = dir.join(format!("site-{k}.csv"));
        privml::model_file::write_atomic(&path, csv(shard).as_bytes())?;
        outln!("{}: {} rows", path.display(), shard.n_samples());
    }
    let path = dir.join("test.csv");
    privml::model_file::write_atomic(&path, csv(&test).as_bytes())?;
    outln!("{}: {} rows", path.display(), test.n_samples());
    Ok(())
}

/// Runs `privml federated`.
pub fn run(args: FederatedArgs) -> Result<()> {
    let cfg = args.config();
    if let Some(dir) = &args.write_shards {
        return write_shards(&cfg, dir);
    }
    outln!(
        "federated averaging: breast cancer (569 samples, 30 features, binary), {} clients, {} split, {} aggregation{}",
        cfg.clients,
        cfg.split,
        cfg.aggregation,
        match cfg.aggregation {
            Aggregation::Mpc => format!(
                " (3 servers, Z_2^64, {} fraction bits, {} shares)",
                cfg.frac_bits, cfg.share_encoding
            ),
            Aggregation::He => format!(" (BFV n = 4096, {} fraction bits)", cfg.frac_bits),
            Aggregation::Plain => " (insecure reference)".to_string(),
        }
    );
    outln!(
        "local training: {} steps, lr {}, weight decay {}; {} weighting; dropout {}",
        cfg.local_steps,
        cfg.lr,
        cfg.weight_decay,
        cfg.weighting,
        cfg.dropout
    );
    let clients = cfg.clients;
    let report = run_federated(&cfg, |r| line(r, clients))?;
    let sizes = &report.shard_sizes;
    outln!(
        "model: {}; shard sizes {}..{}; clients with a single class: {}",
        report.model.describe(),
        sizes.iter().min().unwrap_or(&0),
        sizes.iter().max().unwrap_or(&0),
        report
            .shard_positive
            .iter()
            .filter(|p| **p == 0.0 || **p == 1.0)
            .count()
    );
    if cfg.aggregation == Aggregation::He {
        outln!("set-up (HE key generation): {} ms", ms(report.setup_time));
    }
    outln!(
        "test accuracy: {:.3} initially, {:.3} after {} rounds{}",
        report.initial_accuracy,
        report.final_accuracy,
        report.rounds.len(),
        match report.reached_target {
            Some(r) => format!(" (target reached in round {r})"),
            None => String::new(),
        }
    );
    Ok(())
}
