//! `privml predict`: a saved model on new rows; only the data owner learns
//! the predictions.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use privml::data::read_rows;
use privml::learn::Predictions;
use privml::learn::{self, DataSource, ModelLocation, PredictJob, PredictRows};
use privml::model_file::{Architecture, ModelMeta, SavedModel};
use privml::mpc2::prep::PublicDescription;
use privml::runner::{Exec, execute};
use privml::session::{JobDescription, SessionDescription};

use crate::args::DomainArgs;

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
    /// Target column to score against, if the file has one (default: the
    /// model's).
    #[arg(long)]
    target: Option<String>,
    /// The domain, ring and fraction bits the model was trained with.
    #[command(flatten)]
    domain: DomainArgs,
    /// The party that provides the rows and receives the predictions.
    #[arg(long, default_value_t = learn::DEFAULT_DATA_OWNER)]
    data_owner: usize,
    /// Write predictions (class and scores per row) to this CSV file.
    #[arg(long)]
    out: Option<PathBuf>,
    /// For a network (imported or trained): the --data CSV has no header
    /// line (a .npy file never has one).
    #[arg(long)]
    no_header: bool,
    /// Print (and write with --out) the model's output values instead of
    /// the class.
    #[arg(long)]
    raw: bool,
}

crate::with_domain!(PredictArgs);

impl PredictArgs {
    /// The data owner.
    pub fn data_owner(&self) -> usize {
        self.data_owner
    }

    /// What the parties compare before predicting: the job's settings and
    /// the public part of this party's model file (its id and layers).
    pub fn session(&self) -> Result<SessionDescription> {
        let model = SavedModel::load(&self.model)?;
        Ok(SessionDescription {
            job: JobDescription::Predict {
                data_owner: self.data_owner,
                model_id: model.model_id,
                architecture: model.meta.architecture,
            },
            domain: self.domain.spec(),
        })
    }
}

/// Runs `privml predict` in this process.
pub fn run(args: PredictArgs) -> Result<()> {
    predict_on(&args, &args.domain.local_exec(), true)
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
        Exec::Party { .. } | Exec::TwoParty { .. } => {
            (ModelLocation::File(args.model.clone()), args.model.clone())
        }
    };
    let meta = SavedModel::load(&meta_path)?.meta;
    meta.check_domain(&args.domain.spec()).context(
        "pass the --domain, --protocol, --ring and --frac-bits the model was trained with",
    )?;
    let rows = if has_data {
        Some(owner_rows(args, &meta)?)
    } else {
        None
    };
    let job = PredictJob {
        model: location,
        data: rows.as_ref().map(|r| &r.x),
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
        meta.architecture
    );
    if let Some(labels) = rows.as_ref().and_then(|r| r.labels.as_ref()) {
        let hits = pred.hits(labels);
        outln!(
            "accuracy against '{}': {:.2}% ({hits}/{n})",
            meta.table.target,
            100.0 * hits as f64 / n.max(1) as f64
        );
    }
    show(args, &pred)?;
    if exec.is_speaker() {
        out!("{}", cost.report());
    }
    Ok(())
}

/// The data owner's rows, prepared for the model described by `meta`.
pub fn owner_rows(args: &PredictArgs, meta: &ModelMeta) -> Result<PredictRows> {
    Ok(match &meta.architecture {
        // A network (imported or trained) takes rows of numbers in its
        // input's C order, from .npy or CSV, as they are.
        Architecture::Network(spec) => {
            let path = args
                .data
                .as_deref()
                .context("--data ROWS.npy or ROWS.csv is required on the data owner")?;
            PredictRows {
                x: read_rows(std::path::Path::new(path), &spec.input, args.no_header)?,
                labels: None,
            }
        }
        _ => {
            let spec = args
                .data
                .as_deref()
                .context("--data is required on the data owner")?;
            let target = args.target.as_deref().unwrap_or(&meta.table.target);
            let source = DataSource::from_arg(spec, Some(target));
            PredictRows::prepare(&source, meta)?
        }
    })
}

/// The public description of this prediction (`privml announce`): what
/// the data owner announces, from its rows and its own model file.
#[cfg_attr(
    not(feature = "tls"),
    allow(dead_code, reason = "used by privml announce")
)]
pub fn public_description(args: &PredictArgs) -> Result<PublicDescription> {
    let meta = SavedModel::load(&args.model)?.meta;
    meta.check_domain(&args.domain.spec()).context(
        "pass the --domain, --protocol, --ring and --frac-bits the model was trained with",
    )?;
    let rows = owner_rows(args, &meta)?;
    let job = PredictJob {
        model: ModelLocation::File(args.model.clone()),
        data: Some(&rows.x),
        data_owner: args.data_owner,
    };
    Ok(job.public_description()?)
}

/// Prints the first rows' classes (or outputs with `--raw`), or writes
/// them all to `--out`.
fn show(args: &PredictArgs, pred: &Predictions) -> Result<()> {
    let n = pred.classes.len();
    if let Some(path) = &args.out {
        let text = if args.raw {
            raw_csv(pred)
        } else {
            pred.to_csv()
        };
        privml::model_file::write_atomic(path, text.as_bytes())?;
        outln!("predictions written to {}", path.display());
        return Ok(());
    }
    for (i, (c, row)) in pred
        .classes
        .iter()
        .zip(pred.scores.rows())
        .enumerate()
        .take(20)
    {
        if args.raw {
            let v: Vec<String> = row.iter().map(|v| format!("{v}")).collect();
            outln!("row {i}: {}", v.join(" "));
        } else {
            outln!("row {i}: class {c}");
        }
    }
    if n > 20 {
        outln!("... ({} more; use --out FILE for all)", n - 20);
    }
    Ok(())
}

/// The model's outputs as CSV: `row,output0,output1,...`.
fn raw_csv(pred: &Predictions) -> String {
    let mut w = String::from("row");
    for k in 0..pred.scores.ncols() {
        w.push_str(&format!(",output{k}"));
    }
    w.push('\n');
    for (i, row) in pred.scores.rows().into_iter().enumerate() {
        w.push_str(&i.to_string());
        for v in row {
            w.push_str(&format!(",{v}"));
        }
        w.push('\n');
    }
    w
}
