//! `privml serve`: one party as a long-running service for outside
//! clients; `privml client`: a client of the three.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Subcommand};
use privml::net::config::{PartiesConfig, wait_from_secs};
use privml::net::tls::Credentials;
use privml::service::server::{ServeOptions, Server};
use privml::service::{self, Reply, Request};

use crate::args::TrainingOptions;
use crate::share::TableArgs;

/// Arguments of `privml serve`.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// This party's id: 0, 1 or 2.
    #[arg(long)]
    id: usize,
    /// The parties file, with this party's `client_address` and the
    /// clients' access list (`[[client]]`).
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// The directory where this party keeps its shares of what clients
    /// upload (created if missing; kept across restarts).
    #[arg(long, value_name = "DIR")]
    store: PathBuf,
    /// Seconds a client may take per read or write [default: the parties
    /// file's timeout_secs, else 60].
    #[arg(long, value_name = "SECS")]
    timeout: Option<f64>,
    /// Largest request accepted from a client, in bytes.
    #[arg(long, default_value_t = service::DEFAULT_MAX_REQUEST)]
    max_request: u64,
    /// Uploads one client connection may hold staged and not committed.
    #[arg(long, default_value_t = privml::service::server::DEFAULT_MAX_STAGED)]
    max_staged: usize,
    /// Bytes one client connection may hold staged and not committed.
    #[arg(long, default_value_t = privml::service::server::DEFAULT_MAX_STAGED_BYTES)]
    max_staged_bytes: u64,
    /// Clients served at once (1 to 1000): each connected client holds a
    /// thread and a file descriptor, so keep it under `ulimit -n`. A
    /// federated job needs one per site (`privml client federated` keeps
    /// its connection for the whole job); one more is refused.
    #[arg(long, default_value_t = privml::service::server::DEFAULT_MAX_CLIENTS,
          value_parser = max_clients)]
    max_clients: usize,
}

/// `--max-clients`: a count in 1..=MAX_SERVE_CLIENTS.
fn max_clients(s: &str) -> Result<usize, String> {
    use privml::service::server::MAX_SERVE_CLIENTS;
    match s.parse::<usize>() {
        Ok(n) if (1..=MAX_SERVE_CLIENTS).contains(&n) => Ok(n),
        _ => Err(format!("expected a count from 1 to {MAX_SERVE_CLIENTS}")),
    }
}

/// Runs `privml serve` until SIGTERM or Ctrl-C.
pub fn run(args: ServeArgs) -> Result<()> {
    let me = args.id;
    if me > 2 {
        bail!(privml::Error::InvalidParty(me));
    }
    let parties = PartiesConfig::load(&args.config)?;
    let io_timeout = match args.timeout {
        Some(s) => wait_from_secs("--timeout", s).map_err(|e| anyhow!(e))?,
        None => parties.timeout.unwrap_or(Duration::from_secs(60)),
    };
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(sig, Arc::clone(&stop))
            .context("cannot install the signal handler")?;
    }
    let log: Arc<dyn Fn(&str) + Send + Sync> =
        Arc::new(move |line: &str| eprintln!("privml serve: party {me}: {line}"));
    let opts = ServeOptions {
        io_timeout,
        max_request: args.max_request,
        max_staged: args.max_staged,
        max_staged_bytes: args.max_staged_bytes,
        max_clients: args.max_clients,
    };
    let server = Server::bind(me, parties, &args.store, opts, log)?;
    server.run(&stop)?;
    Ok(())
}

/// Arguments of `privml client`.
#[derive(Args, Debug)]
pub struct ClientArgs {
    /// The parties file (the parties' client addresses and the CA).
    #[arg(long, value_name = "FILE", global = true)]
    config: Option<PathBuf>,
    /// This client's certificate and key: PREFIX.pem and PREFIX.key
    /// (`privml keygen --clients NAME` writes client-NAME.pem and .key).
    #[arg(long, value_name = "PREFIX", global = true)]
    identity: Option<PathBuf>,
    /// Seconds to wait for a party per operation.
    #[arg(long, value_name = "SECS", default_value_t = 60.0, global = true)]
    timeout: f64,
    /// What to do.
    #[command(subcommand)]
    action: ClientAction,
}

/// What a client asks of the parties.
#[derive(Subcommand, Debug)]
pub enum ClientAction {
    /// Share a table locally and send each party only its shares.
    Upload(UploadArgs),
    /// The datasets this client may use, with their public schemas.
    List,
    /// Private predictions: the rows are shared here, the parties evaluate
    /// the model on the shares, and only this client combines the outputs.
    Predict(PredictArgs),
    /// Train a model on the union of uploaded datasets: the parties train
    /// on their shares and each store their share of the model; the
    /// progress and metrics come back here.
    Train(ClientTrainArgs),
    /// One federated site: joins a job of the three serving parties (the
    /// aggregation servers), trains on its own rows every round, and sends
    /// each party only its pair of replicated shares of the update.
    Federated(crate::site::SiteArgs),
    /// The model owner of a federated job aggregated under homomorphic
    /// encryption: holds the BFV secret key, creates the job at one
    /// serving party with the public key, and every round decrypts the
    /// encrypted sum of the sites' updates and posts the new model.
    FedOwner(crate::site_he::OwnerArgs),
}

/// Arguments of `privml client train` (the settings of `privml train`
/// that apply to data already shared: the scaling is the one the
/// providers shared with).
#[derive(Args, Debug)]
pub struct ClientTrainArgs {
    /// The datasets to train on, comma-separated: their rows are joined
    /// (they must have the same schema).
    #[arg(long, value_delimiter = ',', required = true)]
    datasets: Vec<String>,
    /// The model, as `privml train --model` takes it: `mlp:W1,W2,...`,
    /// `linear`, a preset `network-a` ... `network-d`, or layers such as
    /// `conv:8k5,maxpool:2,relu,dense:10@1x28x28`.
    #[arg(long, default_value = "mlp:64")]
    model: String,
    /// The name the parties store the model under (for `client predict
    /// --model`).
    #[arg(long)]
    out: String,
    #[command(flatten)]
    training: TrainingOptions,
}

impl ClientTrainArgs {
    /// The request, with a fresh random job id.
    fn request(&self) -> Result<service::TrainRequest> {
        for name in self.datasets.iter().chain(std::iter::once(&self.out)) {
            if !privml::net::config::valid_name(name) {
                bail!("'{name}': dataset and model names use 1 to 64 of a-z, 0-9, '-', '_'");
            }
        }
        let mut job = [0u8; 16];
        privml::ring::prg::fill_from_os(&mut job)?;
        let t = &self.training;
        Ok(service::TrainRequest {
            job,
            datasets: self.datasets.clone(),
            out: self.out.clone(),
            model: self.model.clone(),
            loss: t.loss,
            optimizer: t.optimizer.to_string(),
            task: t.task,
            epochs: t.epochs,
            batch: t.batch,
            lr: t.lr(),
            test_fraction: t.test_fraction,
            max_rows: t.max_rows,
            seed: t.seed,
        })
    }
}

/// Arguments of `privml client predict`.
#[derive(Args, Debug)]
pub struct PredictArgs {
    /// The model's name at the parties.
    #[arg(long)]
    model: String,
    /// CSV of rows with the model's feature columns and the target column
    /// (the loader needs one: its values are used here only, to report
    /// accuracy, never sent; put any class in it when unknown).
    #[arg(long)]
    data: String,
    /// Target column to score against (default: the model's).
    #[arg(long)]
    target: Option<String>,
    /// Rows per query (each query is one secure evaluation; the
    /// connections to the parties are reused across queries).
    #[arg(long, default_value_t = 64)]
    batch: usize,
    /// Write the predictions (class and scores per row) to this CSV file.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Arguments of `privml client upload`.
#[derive(Args, Debug)]
pub struct UploadArgs {
    #[command(flatten)]
    table: TableArgs,
    /// The dataset's name at the parties.
    #[arg(long)]
    name: String,
}

/// Runs `privml client`.
pub fn client(args: ClientArgs) -> Result<()> {
    let config = args.config.as_ref().context("--config is required")?;
    let identity = args.identity.as_ref().context("--identity is required")?;
    let parties = PartiesConfig::load(config)?;
    let with = |ext: &str| {
        let mut s = identity.as_os_str().to_owned();
        s.push(ext);
        PathBuf::from(s)
    };
    let creds = Credentials::load(&parties.ca, &with(".pem"), &with(".key"))?;
    let timeout = wait_from_secs("--timeout", args.timeout).map_err(|e| anyhow!(e))?;
    match args.action {
        ClientAction::Upload(u) => {
            if !privml::net::config::valid_name(&u.name) {
                bail!("--name '{}': use 1 to 64 of a-z, 0-9, '-', '_'", u.name);
            }
            let files = u.table.share()?;
            let mut conns = service::connect_all(&parties, &creds, timeout)?;
            let t0 = std::time::Instant::now();
            let report = service::upload(&mut conns, &u.name, &files)?;
            let secs = t0.elapsed().as_secs_f64();
            outln!(
                "uploaded '{}' ({}) in {secs:.2} s: {:.0} rows/s; bytes sent to parties 0, 1, 2: {}, {}, {}",
                u.name,
                report.schema.summary(),
                report.schema.rows as f64 / secs.max(1e-9),
                report.bytes_per_party[0],
                report.bytes_per_party[1],
                report.bytes_per_party[2]
            );
        }
        ClientAction::Predict(p) => predict(&parties, &creds, timeout, &p)?,
        ClientAction::Train(t) => {
            let req = t.request()?;
            let mut conns = service::connect_all(&parties, &creds, timeout)?;
            // Progress lines as they come; of the final lines, those not
            // already printed (the epochs' lines come both ways).
            let mut seen = std::collections::HashSet::new();
            let lines = service::train(&mut conns, &req, &mut |line| {
                outln!("{line}");
                seen.insert(line.to_string());
            })?;
            for line in lines.iter().filter(|l| !seen.contains(*l)) {
                outln!("{line}");
            }
            outln!(
                "model '{}' stored at the three parties (each holds only its shares); \
                 query it with `privml client predict --model {}`",
                req.out,
                req.out
            );
        }
        ClientAction::Federated(f) => crate::site::run(&parties, &creds, identity, timeout, &f)?,
        ClientAction::FedOwner(o) => crate::site_he::owner(&parties, &creds, timeout, &o)?,
        ClientAction::List => {
            let mut conn = service::Connection::open(&parties, &creds, 0, timeout)?;
            match conn.call(&Request::List)? {
                Reply::Datasets(list) => {
                    for (name, schema) in list {
                        outln!("{name}: {}", schema.summary());
                    }
                }
                other => bail!("party 0 answered {other:?}"),
            }
        }
    }
    Ok(())
}

fn predict(
    parties: &PartiesConfig,
    creds: &Credentials,
    timeout: Duration,
    args: &PredictArgs,
) -> Result<()> {
    use privml::learn::{DataSource, PredictRows, Predictions, Task};
    if args.batch == 0 {
        bail!("--batch must be at least 1");
    }
    let mut conns = service::connect_all(parties, creds, timeout)?;
    let meta = service::model_info(&mut conns[0], &args.model)?;
    let domain = service::model_domain(&meta)?;
    let target = args.target.as_deref().unwrap_or(&meta.table.target);
    let source = DataSource::from_arg(&args.data, Some(target));
    let rows = PredictRows::prepare(&source, &meta)?;
    let n = rows.x.nrows();
    let mut parts = Vec::new();
    let mut latencies = Vec::new();
    let mut start = 0;
    while start < n {
        let end = (start + args.batch).min(n);
        let x = rows.x.slice(ndarray::s![start..end, ..]).to_owned();
        let t0 = std::time::Instant::now();
        parts.push(service::predict(&mut conns, &args.model, &domain, &x)?);
        latencies.push(t0.elapsed().as_secs_f64());
        start = end;
    }
    let views: Vec<_> = parts.iter().map(|p| p.view()).collect();
    let scores = ndarray::concatenate(ndarray::Axis(0), &views)?;
    let pred = match (meta.table.task, &meta.table.target_normalizer) {
        (Task::Classification, _) => Predictions::from_scores(scores),
        (Task::Regression, Some(norm)) => Predictions::values(norm.inverse_transform(&scores)?),
        (Task::Regression, None) => Predictions::values(scores),
    };
    let mean = latencies.iter().sum::<f64>() / latencies.len().max(1) as f64;
    let max = latencies.iter().copied().fold(0.0, f64::max);
    outln!(
        "predicted {n} rows with '{}' in {} queries of up to {} rows: {:.3} s per query on average, {:.3} s at most",
        args.model,
        latencies.len(),
        args.batch,
        mean,
        max
    );
    if let Some(labels) = &rows.labels
        && meta.table.task == Task::Classification
    {
        let hits = pred.hits(labels);
        outln!(
            "accuracy: {:.2}% ({hits}/{n})",
            100.0 * hits as f64 / n.max(1) as f64
        );
    }
    if let Some(out) = &args.out {
        pred.write_csv(out)?;
        outln!("predictions written to {}", out.display());
    }
    Ok(())
}
