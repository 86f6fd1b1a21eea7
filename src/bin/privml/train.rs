//! `privml train`: an MLP or a network on a table of data, privately.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use privml::data::{FeatureRanges, Scaling};
use privml::dataset_file::DatasetShares;
use privml::learn::{
    self, DataSource, DataSpec, ModelChoice, Progress, TrainData, TrainJob, TrainSettings,
};
use privml::model_file::SavedModel;
use privml::nn::MiniBatch;
use privml::runner::{Exec, execute};
use privml::session::{JobDescription, SessionDescription};

use crate::args::{DomainArgs, TrainingOptions};

/// The largest model description file read (a network description is a
/// few kilobytes; this only stops a wrong path from being read whole).
const MAX_MODEL_FILE: u64 = 1 << 20;

/// `--model`: a compact description, a preset, or a `.toml` file holding a
/// [`privml::nn::NetworkSpec`].
fn parse_model(s: &str) -> std::result::Result<ModelChoice, String> {
    let path = std::path::Path::new(s);
    if path.extension().is_none_or(|e| e != "toml") {
        return s.parse().map_err(|e: privml::Error| e.to_string());
    }
    let len = std::fs::metadata(path)
        .map_err(|e| format!("model file {}: {e}", path.display()))?
        .len();
    if len > MAX_MODEL_FILE {
        return Err(format!(
            "model file {}: {len} bytes, more than the {MAX_MODEL_FILE} a network description may have",
            path.display()
        ));
    }
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("model file {}: {e}", path.display()))?;
    let spec: privml::nn::NetworkSpec =
        toml::from_str(&text).map_err(|e| format!("model file {}: {e}", path.display()))?;
    // Layers that do not chain are refused here, naming the layer.
    spec.output_shape()
        .map_err(|e| format!("model file {}: {e}", path.display()))?;
    Ok(ModelChoice::Network {
        layers: spec.layers,
        input: Some(spec.input),
    })
}

/// Arguments of `privml train`.
#[derive(Args, Debug, Clone)]
pub struct TrainArgs {
    /// CSV file with a header row (.csv or .csv.gz), or a bundled data set:
    /// `mnist` (MNIST-5k), `breast_cancer` or `diabetes` (regression).
    #[arg(long)]
    data: Option<String>,
    /// Target column (default: the bundled set's, else `target`).
    #[arg(long)]
    target: Option<String>,
    /// As one party (`privml party ... train`): this party's dataset share
    /// file, PREFIX.partyN.shares written by `privml share`, instead of a
    /// data owner's --data (every party passes its own).
    #[arg(long, value_name = "FILE", conflicts_with = "data")]
    input: Option<PathBuf>,
    /// Model: `mlp:W1,W2,...` hidden widths with ReLU (`linear` for none);
    /// a preset `network-a` ... `network-d` (MNIST, 1x28x28); or layers such
    /// as `conv:8k5,maxpool:2,relu,dense:10`, optionally with the input
    /// shape after `@` (`...@1x28x28`; default: one square channel for a
    /// first convolution or pooling, else the features); or a TOML file
    /// (`.toml`) holding a network description (`input = [1, 28, 28]` and
    /// `layers = [...]`, see the README).
    #[arg(long, default_value = "mlp:64", value_parser = parse_model)]
    model: ModelChoice,
    #[command(flatten)]
    training: TrainingOptions,
    #[command(flatten)]
    domain: DomainArgs,
    /// Feature scaling: `ranges` (min-max over each feature's declared public
    /// range: a bundled set's own, or --feature-ranges FILE), `none`, or,
    /// with --disclose-feature-stats only, `minmax` / `zscore` fitted on the
    /// training rows.
    #[arg(long, default_value = "ranges")]
    scaling: String,
    /// The data owner's public schema for a CSV table: a CSV file with the
    /// header `feature,min,max` and one line per feature giving the range the
    /// feature can take (by its definition, not the rows' minimum and
    /// maximum). Only the data owner passes it; the ranges are announced to
    /// the other parties and saved in every model file.
    #[arg(long, value_name = "FILE")]
    feature_ranges: Option<PathBuf>,
    /// Allow `--scaling minmax` or `zscore`: DISCLOSES every feature's minimum
    /// and range (or mean and standard deviation) over the training rows to
    /// every party, and saves them in every party's model file. A minimum or
    /// a maximum is one person's value.
    #[arg(long)]
    disclose_feature_stats: bool,
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
}

crate::with_domain!(TrainArgs);

impl TrainArgs {
    /// The settings all three parties must share (file names excluded: the
    /// data file and the output prefix are each party's own).
    pub fn settings(&self) -> Result<TrainSettings> {
        let t = &self.training;
        let scaling = match self.scaling.as_str() {
            "none" => None,
            s => Some(s.parse::<Scaling>()?),
        };
        let data = DataSpec {
            test_fraction: t.test_fraction,
            max_rows: t.max_rows,
            scaling,
            disclose_feature_stats: self.disclose_feature_stats,
        };
        data.check()?;
        let lr = t.lr();
        t.optimizer.config(lr)?;
        Ok(TrainSettings {
            model: self.model.clone(),
            sgd: MiniBatch {
                epochs: t.epochs,
                batch: t.batch,
                lr,
            },
            loss: t.loss,
            optimizer: t.optimizer,
            task: t.task,
            data,
            seed: t.seed,
            data_owner: self.data_owner,
            reveal_model: self.reveal_model,
        })
    }

    /// What the parties compare before training.
    pub fn session(&self) -> Result<SessionDescription> {
        Ok(SessionDescription {
            job: JobDescription::Train(self.settings()?),
            domain: self.domain.spec(),
        })
    }

    /// The data owner.
    pub fn data_owner(&self) -> usize {
        self.data_owner
    }

    /// Whether the parties train on dataset share files (`--input`).
    #[cfg_attr(
        not(feature = "tls"),
        allow(dead_code, reason = "used by privml announce")
    )]
    pub fn has_input(&self) -> bool {
        self.input.is_some()
    }

    /// This party's dataset share file (`--input`), if any.
    #[cfg_attr(
        not(feature = "tls"),
        allow(dead_code, reason = "used by privml party")
    )]
    pub fn load_input(&self) -> Result<Vec<DatasetShares>> {
        match &self.input {
            Some(path) => {
                let file = DatasetShares::load(path)?;
                outln!(
                    "party {}: dataset {} ({})",
                    file.party,
                    privml::dataset_file::hex(&file.schema.dataset_id),
                    file.schema.summary()
                );
                Ok(vec![file])
            }
            None => Ok(Vec::new()),
        }
    }

    /// The data owner's table, loaded, split and normalised.
    pub fn prepare(&self) -> Result<TrainData> {
        let spec = self
            .data
            .as_deref()
            .context("--data is required on the data owner")?;
        let source = DataSource::from_arg(spec, self.target.as_deref());
        let ranges = self
            .feature_ranges
            .as_ref()
            .map(FeatureRanges::load)
            .transpose()?;
        let data = TrainData::prepare_with_ranges(
            &source,
            ranges.as_ref(),
            &self.settings()?,
            &self.domain.spec(),
        )?;
        if let Some(why) = &data.task_note {
            outln!("task: {} ({why}; choose with --task)", data.table.task);
        }
        Ok(data)
    }
}

/// Runs `privml train` in this process.
pub fn run(args: TrainArgs) -> Result<()> {
    if args.input.is_some() {
        anyhow::bail!(
            "--input is one party's share file, for `privml party ... train`; in one process train on --data"
        );
    }
    let data = args.prepare()?;
    run_on(&args, &args.domain.local_exec(), Some(&data), &[])
}

/// Prints progress on the speaking party: a header, a progress bar over all
/// batches, and one line per epoch.
struct Reporter<'a> {
    speak: bool,
    exec: &'a Exec<'a>,
    bar: Mutex<Option<ProgressBar>>,
}

impl Reporter<'_> {
    fn report(&self, p: &Progress) {
        if !self.speak {
            return;
        }
        let Ok(mut slot) = self.bar.lock() else {
            return;
        };
        match p {
            Progress::Start {
                batches,
                epochs,
                architecture,
                task,
            } => {
                outln!(
                    "training {architecture} ({task}) on {} for {epochs} epochs of {batches} batches",
                    self.exec.describe()
                );
                let pb = ProgressBar::new((batches * epochs) as u64);
                if let Ok(style) = ProgressStyle::with_template(
                    "{spinner} [{bar:30}] {pos}/{len} batches  {msg}  ETA {eta}",
                ) {
                    pb.set_style(style.progress_chars("=> "));
                }
                *slot = Some(pb);
            }
            Progress::Batch { epoch, batch } => {
                if let Some(pb) = slot.as_ref() {
                    pb.set_message(format!("epoch {} batch {}", epoch + 1, batch + 1));
                    pb.inc(1);
                }
            }
            Progress::Epoch(s) => {
                let line = s.line();
                match slot.as_ref() {
                    Some(pb) if !pb.is_hidden() => pb.println(line),
                    _ => outln!("{line}"),
                }
            }
        }
    }

    fn finish(&self) {
        if let Ok(mut slot) = self.bar.lock()
            && let Some(pb) = slot.take()
        {
            pb.finish_and_clear();
        }
    }
}

/// Runs `privml train` where `exec` says; `data` only on the data owner,
/// or every party's own dataset share file in `shared`.
pub fn run_on(
    args: &TrainArgs,
    exec: &Exec<'_>,
    data: Option<&TrainData>,
    shared: &[DatasetShares],
) -> Result<()> {
    let speak = exec.is_speaker();
    let reporter = Reporter {
        speak,
        exec,
        bar: Mutex::new(None),
    };
    let progress = |p: &Progress| reporter.report(p);
    let settings = args.settings()?;
    let job = TrainJob {
        shared,
        settings: &settings,
        data,
        out_prefix: args.out.clone(),
        progress: &progress,
    };
    let t0 = Instant::now();
    let (out, cost) = execute(exec, &job)?;
    reporter.finish();
    if let (Exec::Party { id, .. }, Some(p)) = (exec, &out.saved_to) {
        outln!("party {id} saved its shares to {}", p.display());
    }
    if !speak {
        return Ok(());
    }
    outln!("trained in {:.1} s", t0.elapsed().as_secs_f64());
    if let Some(last) = out.epochs.last() {
        outln!("{}", last.final_line());
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
        out.curves(format!("privml train ({})", exec.describe()))
            .save(path)?;
        outln!("curves plotted to {}", path.display());
    }
    out!("{}", cost.report());
    Ok(())
}
