//! `privml train` and `privml predict`: MLPs on tables of data, privately.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use privml::data::{self, Dataset, Normalizer, Scaling};
use privml::learn::{self, ModelLocation, PredictJob, Progress, TrainData, TrainJob};
use privml::model_file::{ModelMeta, SavedModel};
use privml::nn::MiniBatch;
use privml::plot::{LinePlot, Series};
use privml::runner::{DomainKind, Exec, execute};
use privml::{FixedPoint, SharedConfig};

/// Arguments of `privml train`.
#[derive(Args, Debug, Clone)]
pub struct TrainArgs {
    /// CSV file with a header row (.csv or .csv.gz), or a bundled data set:
    /// `mnist` (MNIST-5k) or `breast_cancer`.
    #[arg(long)]
    data: Option<String>,
    /// Target column (default: the bundled set's, else `target`).
    #[arg(long)]
    target: Option<String>,
    /// Model: `mlp:W1,W2,...` hidden widths with ReLU (`linear` for none).
    #[arg(long, default_value = "mlp:64")]
    model: String,
    /// Domain: plain, fixed or shared.
    #[arg(long, default_value = "shared")]
    domain: String,
    /// Ring size: 64 or 128 bits.
    #[arg(long, default_value_t = 64)]
    ring: u32,
    /// Epochs.
    #[arg(long, default_value_t = 5)]
    epochs: usize,
    /// Mini-batch size.
    #[arg(long, default_value_t = 128)]
    batch: usize,
    /// Learning rate (for the mean squared error over a batch).
    #[arg(long, default_value_t = 0.2)]
    lr: f64,
    /// Fraction of rows held out for testing.
    #[arg(long, default_value_t = 0.2)]
    test_fraction: f64,
    /// Use only the first N rows after shuffling (quick runs).
    #[arg(long)]
    max_rows: Option<usize>,
    /// Feature scaling fitted on the training rows: minmax, zscore or none.
    #[arg(long, default_value = "minmax")]
    scaling: String,
    /// Seed of the shuffle, split and initial weights (public).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The party that holds the data.
    #[arg(long, default_value_t = learn::DEFAULT_DATA_OWNER)]
    data_owner: usize,
    /// Write the model to PREFIX.party{0,1,2}.shares (PREFIX.clear in the clear).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Plot the loss and accuracy curves to this PNG or SVG file.
    #[arg(long)]
    plot: Option<PathBuf>,
    /// Also reveal the trained weights to every party (and print their shapes).
    #[arg(long)]
    reveal_model: bool,
    /// Fix the parties' key seeds (reproducible runs; insecure).
    #[arg(long)]
    insecure_seed: Option<u64>,
    /// Fraction bits (default: 16 for Z_2^64, 32 for Z_2^128).
    #[arg(long)]
    frac_bits: Option<u32>,
}

impl TrainArgs {
    /// The ring size.
    pub fn ring(&self) -> u32 {
        self.ring
    }

    /// The domain name.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The settings all three parties must share (file names excluded: the
    /// data file and the output prefix are each party's own).
    pub fn session(&self) -> String {
        format!(
            "model={} ring={} epochs={} batch={} lr={} test_fraction={} max_rows={:?} scaling={} seed={} owner={} reveal={} frac_bits={:?}",
            self.model,
            self.ring,
            self.epochs,
            self.batch,
            self.lr,
            self.test_fraction,
            self.max_rows,
            self.scaling,
            self.seed,
            self.data_owner,
            self.reveal_model,
            self.frac_bits
        )
    }

    /// The secure-run settings these arguments ask for.
    pub fn config(&self) -> SharedConfig {
        SharedConfig {
            frac_bits: self.frac_bits,
            insecure_test_seed: self.insecure_seed,
            ..Default::default()
        }
    }

    /// The data owner.
    pub fn data_owner(&self) -> usize {
        self.data_owner
    }
}

fn load(spec: &str, target: Option<&str>) -> Result<Dataset> {
    if let Ok(b) = spec.parse::<data::Bundled>()
        && !std::path::Path::new(spec).exists()
    {
        return Ok(b.load()?);
    }
    let target = target.unwrap_or("target");
    Ok(data::load_csv(spec, target)?)
}

fn check_range(d: &Dataset, ring: u32, frac_bits: Option<u32>, what: &str) -> Result<()> {
    let (min, max) = match ring {
        128 => {
            let fp =
                frac_bits.map_or_else(|| Ok(FixedPoint::<u128>::default()), FixedPoint::new)?;
            (fp.min_value(), fp.max_value())
        }
        _ => {
            let fp = frac_bits.map_or_else(|| Ok(FixedPoint::<u64>::default()), FixedPoint::new)?;
            (fp.min_value(), fp.max_value())
        }
    };
    d.check_range(min, max)
        .with_context(|| format!("{what} after normalisation"))
}

/// Loads, splits and normalises the data owner's table.
pub fn prepare(args: &TrainArgs) -> Result<TrainData> {
    let spec = args
        .data
        .as_deref()
        .context("--data is required on the data owner")?;
    let ds = load(spec, args.target.as_deref())?;
    let mut ds = ds.shuffled(args.seed);
    if let Some(n) = args.max_rows {
        ds = ds.head(n);
    }
    let classes = ds
        .n_classes()
        .context("the target column must hold class labels 0, 1, ...")?;
    let (train, test) = data::train_test_split(&ds, args.test_fraction, args.seed)?;
    let normalizer = match args.scaling.as_str() {
        "none" => None,
        s => Some(Normalizer::fit(s.parse::<Scaling>()?, train.features())?),
    };
    let (train, test) = match &normalizer {
        Some(n) => (n.apply(&train)?, n.apply(&test)?),
        None => (train, test),
    };
    check_range(&train, args.ring, args.frac_bits, "training data")?;
    check_range(&test, args.ring, args.frac_bits, "test data")?;
    let targets = |d: &Dataset| -> Result<ndarray::Array2<f64>> {
        Ok(if classes <= 2 {
            d.targets().clone().insert_axis(ndarray::Axis(1))
        } else {
            d.one_hot_targets()?
        })
    };
    Ok(TrainData {
        y_train: targets(&train)?,
        y_test: targets(&test)?,
        x_train: train.features().clone(),
        x_test: test.features().clone(),
        meta: ModelMeta {
            spec: String::new(),
            target: ds.target_name().to_string(),
            features: ds.feature_names().to_vec(),
            n_classes: classes,
            normalizer,
            domain: String::new(),
        },
    })
}

/// Runs `privml train` in this process.
pub fn run(args: TrainArgs) -> Result<()> {
    let exec = Exec::Local {
        kind: DomainKind::from_parts(&args.domain, args.ring)?,
        cfg: args.config(),
    };
    let data = prepare(&args)?;
    run_on(&args, &exec, Some(&data))
}

/// Runs `privml train` where `exec` says; `data` only on the data owner.
pub fn run_on(args: &TrainArgs, exec: &Exec<'_>, data: Option<&TrainData>) -> Result<()> {
    let speak = exec.is_speaker();
    let bar: Mutex<Option<ProgressBar>> = Mutex::new(None);
    let progress = |p: &Progress| {
        if !speak {
            return;
        }
        let Ok(mut slot) = bar.lock() else { return };
        match p {
            Progress::Start {
                batches,
                epochs,
                spec,
            } => {
                outln!(
                    "training a {spec} MLP on {} for {epochs} epochs of {batches} batches",
                    exec.describe()
                );
                let pb = ProgressBar::new((batches * epochs) as u64);
                if let Ok(style) = ProgressStyle::with_template(
                    "{spinner} [{bar:30}] {pos}/{len} batches  {msg}  ETA {eta}",
                ) {
                    pb.set_style(style.progress_chars("=> "));
                }
                *slot = Some(pb);
            }
            Progress::Batch { epoch, batch, loss } => {
                if let Some(pb) = slot.as_ref() {
                    pb.set_message(format!(
                        "epoch {} batch {} loss {loss:.4}",
                        epoch + 1,
                        batch + 1
                    ));
                    pb.inc(1);
                }
            }
            Progress::Epoch(s) => {
                let line = format!(
                    "epoch {}: train loss {:.4}, test accuracy {:.2}% ({:.1} s)",
                    s.epoch,
                    s.train_loss,
                    100.0 * s.test_accuracy,
                    s.seconds
                );
                match slot.as_ref() {
                    Some(pb) if !pb.is_hidden() => pb.println(line),
                    _ => outln!("{line}"),
                }
            }
        }
    };
    let job = TrainJob {
        data,
        data_owner: args.data_owner,
        model: args.model.clone(),
        sgd: MiniBatch {
            epochs: args.epochs,
            batch: args.batch,
            lr: args.lr,
        },
        seed: args.seed,
        out_prefix: args.out.clone(),
        reveal_model: args.reveal_model,
        progress: &progress,
    };
    let t0 = Instant::now();
    let (out, cost) = execute(exec, &job)?;
    if let Ok(mut slot) = bar.lock()
        && let Some(pb) = slot.take()
    {
        pb.finish_and_clear();
    }
    if let (Exec::Party { id, .. }, Some(p)) = (exec, &out.saved_to) {
        outln!("party {id} saved its shares to {}", p.display());
    }
    if !speak {
        return Ok(());
    }
    outln!("trained in {:.1} s", t0.elapsed().as_secs_f64());
    if let Some(last) = out.epochs.last() {
        outln!("final test accuracy: {:.2}%", 100.0 * last.test_accuracy);
    }
    if let Some(prefix) = &args.out {
        match &exec {
            Exec::Local { kind, .. } if kind.is_shared() => {
                for p in 0..3 {
                    outln!(
                        "party {p}'s shares: {}",
                        SavedModel::party_path(prefix, p).display()
                    );
                }
            }
            _ => {
                if let Some(p) = &out.saved_to {
                    outln!("model saved to {}", p.display());
                }
            }
        }
    }
    if let Some(params) = &out.revealed {
        let shapes: Vec<String> = params.iter().map(|p| format!("{:?}", p.shape())).collect();
        outln!(
            "revealed parameters (--reveal-model): {}",
            shapes.join(", ")
        );
    }
    if let Some(path) = &args.plot {
        let loss: Vec<(f64, f64)> = out
            .epochs
            .iter()
            .map(|e| (e.epoch as f64, e.train_loss))
            .collect();
        let acc: Vec<(f64, f64)> = out
            .epochs
            .iter()
            .map(|e| (e.epoch as f64, e.test_accuracy))
            .collect();
        LinePlot::new(format!("privml train ({})", exec.describe()))
            .x_label("epoch")
            .y_label("loss / accuracy")
            .with_series(Series::new("train loss (MSE)", loss))
            .with_series(Series::new("test accuracy", acc))
            .save(path)?;
        outln!("curves plotted to {}", path.display());
    }
    out!("{}", cost.report());
    Ok(())
}

/// Arguments of `privml predict`.
#[derive(Args, Debug, Clone)]
pub struct PredictArgs {
    /// The model: the PREFIX given to `train --out` (in process), or this
    /// party's own file (as one party over the network).
    #[arg(long)]
    model: PathBuf,
    /// CSV of new rows (header with the model's feature names; a target
    /// column, if present, is used to report accuracy to the data owner).
    #[arg(long)]
    data: Option<String>,
    /// Target column to score against, if the file has one.
    #[arg(long)]
    target: Option<String>,
    /// Domain the model was trained on: plain, fixed or shared.
    #[arg(long, default_value = "shared")]
    domain: String,
    /// Ring size: 64 or 128 bits.
    #[arg(long, default_value_t = 64)]
    ring: u32,
    /// The party that provides the rows and receives the predictions.
    #[arg(long, default_value_t = learn::DEFAULT_DATA_OWNER)]
    data_owner: usize,
    /// Write predictions (class and scores per row) to this CSV file.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Fix the parties' key seeds (reproducible runs; insecure).
    #[arg(long)]
    insecure_seed: Option<u64>,
    /// Fraction bits the model was trained with (default: the ring's).
    #[arg(long)]
    frac_bits: Option<u32>,
}

impl PredictArgs {
    /// The ring size.
    pub fn ring(&self) -> u32 {
        self.ring
    }

    /// The domain name.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The settings all three parties must share.
    pub fn session(&self) -> String {
        format!(
            "ring={} owner={} frac_bits={:?}",
            self.ring, self.data_owner, self.frac_bits
        )
    }
    /// The secure-run settings.
    pub fn config(&self) -> SharedConfig {
        SharedConfig {
            frac_bits: self.frac_bits,
            insecure_test_seed: self.insecure_seed,
            ..Default::default()
        }
    }
    /// The data owner.
    pub fn data_owner(&self) -> usize {
        self.data_owner
    }
}

/// The data owner's rows, normalised with the model's normaliser, and the
/// true labels if the file has the target column.
pub fn prepare_rows(
    args: &PredictArgs,
    meta: &ModelMeta,
) -> Result<(ndarray::Array2<f64>, Option<Vec<usize>>)> {
    let spec = args
        .data
        .as_deref()
        .context("--data is required on the data owner")?;
    let target = args.target.clone().unwrap_or_else(|| meta.target.clone());
    let ds = load(spec, Some(&target))?;
    if ds.feature_names() != meta.features.as_slice() {
        bail!(
            "{spec}: the columns do not match the model's features ({} columns here, {} in the model)",
            ds.n_features(),
            meta.features.len()
        );
    }
    let ds = match &meta.normalizer {
        Some(n) => n.apply(&ds)?,
        None => ds,
    };
    let labels = ds.labels().ok();
    Ok((ds.features().clone(), labels))
}

/// Runs `privml predict` in this process.
pub fn predict(args: PredictArgs) -> Result<()> {
    let exec = Exec::Local {
        kind: DomainKind::from_parts(&args.domain, args.ring)?,
        cfg: args.config(),
    };
    predict_on(&args, &exec, true)
}

/// Runs `privml predict` where `exec` says. `has_data`: this process is the
/// data owner (or runs all parties).
pub fn predict_on(args: &PredictArgs, exec: &Exec<'_>, has_data: bool) -> Result<()> {
    let (location, meta_path) = match exec {
        Exec::Local { kind, .. } => {
            let p = if kind.is_shared() {
                SavedModel::party_path(&args.model, 0)
            } else {
                SavedModel::clear_path(&args.model)
            };
            (ModelLocation::Prefix(args.model.clone()), p)
        }
        Exec::Party { .. } => (ModelLocation::File(args.model.clone()), args.model.clone()),
    };
    let meta = SavedModel::load(&meta_path)?.meta;
    let rows = if has_data {
        Some(prepare_rows(args, &meta)?)
    } else {
        None
    };
    let job = PredictJob {
        model: location,
        data: rows.as_ref().map(|(x, _)| x),
        data_owner: args.data_owner,
    };
    let (out, cost) = execute(exec, &job)?;
    let Some(pred) = out else {
        return Ok(());
    };
    let n = pred.classes.len();
    outln!(
        "{n} predictions for party {} (model {})",
        args.data_owner,
        meta.spec
    );
    if let Some((_, Some(labels))) = &rows {
        let hits = pred
            .classes
            .iter()
            .zip(labels)
            .filter(|(p, y)| p == y)
            .count();
        outln!(
            "accuracy against '{}': {:.2}% ({hits}/{n})",
            meta.target,
            100.0 * hits as f64 / n.max(1) as f64
        );
    }
    match &args.out {
        Some(path) => {
            let mut w = String::from("row,class");
            for k in 0..pred.scores.ncols() {
                w.push_str(&format!(",score{k}"));
            }
            w.push('\n');
            for (i, (c, row)) in pred.classes.iter().zip(pred.scores.rows()).enumerate() {
                w.push_str(&format!("{i},{c}"));
                for v in row {
                    w.push_str(&format!(",{v}"));
                }
                w.push('\n');
            }
            std::fs::write(path, w).with_context(|| format!("writing {}", path.display()))?;
            outln!("predictions written to {}", path.display());
        }
        None => {
            for (i, c) in pred.classes.iter().enumerate().take(20) {
                outln!("row {i}: class {c}");
            }
            if n > 20 {
                outln!("... ({} more; use --out FILE for all)", n - 20);
            }
        }
    }
    if exec.is_speaker() {
        out!("{}", cost.report());
    }
    Ok(())
}
