//! `privml import` (an ONNX model, secret-shared by its owner into one
//! share file per party) and `privml export` (a saved model back to ONNX,
//! opened to its owner only).

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use ndarray::ArrayD;
use privml::model_file::SavedModel;
use privml::nn::{LayerSpec, Network};
use privml::onnx::{ExportJob, ImportJob, ImportOptions, ImportedModel, import_file};
use privml::runner::{Exec, Job, execute};
use privml::{Ring, Session};

use crate::args::DomainArgs;

/// Arguments of `privml import`.
#[derive(Args, Debug, Clone)]
pub struct ImportArgs {
    /// The ONNX model (opset 11 and up; see the allow-list in the README).
    #[arg(long, value_name = "MODEL.onnx")]
    onnx: PathBuf,
    /// Write PREFIX.party{0,1,2}.shares (PREFIX.clear in the plaintext domains).
    #[arg(long, value_name = "PREFIX", required_unless_present = "dry_run")]
    out: Option<PathBuf>,
    /// The layer a Sigmoid node becomes: `sigmoid:INTERVALdDEGREE` (a
    /// Chebyshev polynomial on [-INTERVAL, INTERVAL], default
    /// sigmoid:10d9) or `hardsigmoid:SLOPE` (clip(SLOPE·x + 0.5, 0, 1), two
    /// comparisons).
    #[arg(long, default_value = "sigmoid:10d9")]
    sigmoid: String,
    /// Print the mapped architecture and what one prediction costs under
    /// MPC (rounds, bytes per party, comparisons), counted by running it
    /// once in process on zero weights and a zero row; nothing is written.
    #[arg(long)]
    dry_run: bool,
    /// Rows per prediction for --dry-run.
    #[arg(long, default_value_t = 1)]
    batch: usize,
    /// The domain, ring and fraction bits to share the weights in.
    #[command(flatten)]
    domain: DomainArgs,
}

/// Arguments of `privml export`.
#[derive(Args, Debug, Clone)]
pub struct ExportArgs {
    /// The saved model's PREFIX (its PREFIX.party{0,1,2}.shares, or PREFIX.clear).
    #[arg(long, value_name = "PREFIX")]
    model: PathBuf,
    /// The ONNX file the model owner (party 0) writes.
    #[arg(long, value_name = "OUT.onnx")]
    onnx: PathBuf,
    /// The domain, ring and fraction bits the model was saved with.
    #[command(flatten)]
    domain: DomainArgs,
}

/// One prediction of `spec` on zeros, for its cost.
struct DryRun<'a> {
    model: &'a ImportedModel,
    batch: usize,
    /// Predict after sharing the weights (else only share them, so that
    /// the difference of the two runs is the prediction's cost).
    predict: bool,
}

impl Job for DryRun<'_> {
    type Output = ();

    fn run<R: Ring + Session>(&self, r: &mut R) -> privml::Result<()> {
        let spec = &self.model.spec;
        let zeros: Vec<ArrayD<f64>> = self
            .model
            .parameters
            .iter()
            .map(|p| ArrayD::zeros(p.raw_dim()))
            .collect();
        let mut net = Network::with_parameters(r, spec, Some(&zeros))?;
        if !self.predict {
            return Ok(());
        }
        let mut shape = vec![self.batch];
        shape.extend(&spec.input);
        let zero = ArrayD::zeros(ndarray::IxDyn(&shape));
        let x = r.input(1, r.owns(1).then_some(&zero), &shape)?;
        let y = net.predict(r, &x)?;
        r.reveal_to(1, &y)?;
        Ok(())
    }
}

/// Runs `privml import`.
pub fn run(args: ImportArgs) -> Result<()> {
    let sigmoid = LayerSpec::parse(&args.sigmoid).context("--sigmoid")?;
    anyhow::ensure!(
        matches!(
            sigmoid,
            LayerSpec::Sigmoid { .. } | LayerSpec::HardSigmoid { .. }
        ),
        "--sigmoid takes sigmoid:INTERVALdDEGREE or hardsigmoid:SLOPE"
    );
    let model = import_file(&args.onnx, &ImportOptions { sigmoid })?;
    outln!(
        "{}: opset {}, input '{}' {}, output '{}'",
        args.onnx.display(),
        model.opset,
        model.input_name,
        model.spec.input_string(),
        model.output_name
    );
    outln!("layers: {}", model.spec);
    for note in &model.notes {
        outln!("note: {note}");
    }
    let exec = args.domain.local_exec();
    if args.dry_run {
        anyhow::ensure!(args.batch > 0, "--batch must be at least 1");
        let run = |predict| {
            let job = DryRun {
                model: &model,
                batch: args.batch,
                predict,
            };
            execute(&exec, &job).map(|(_, cost)| cost)
        };
        let cost = run(true)?.since(&run(false)?);
        outln!(
            "one prediction of {} row(s), counted in process on zeros ({}):",
            args.batch,
            exec.describe()
        );
        out!("{}", cost.report());
        return Ok(());
    }
    let prefix = args.out.context("--out PREFIX is required")?;
    let job = ImportJob {
        model: Some(&model),
        out_prefix: prefix.clone(),
    };
    let (outcome, _) = execute(&exec, &job)?;
    outln!("saved (batch normalisations folded): {}", outcome.spec);
    match &exec {
        Exec::Local { kind, .. } if kind.is_shared() => {
            for p in 0..3 {
                outln!(
                    "party {p}'s shares: {}",
                    SavedModel::party_path(&prefix, p).display()
                );
            }
        }
        _ => outln!("model saved to {}", outcome.saved_to.display()),
    }
    Ok(())
}

/// Runs `privml export`.
pub fn export(args: ExportArgs) -> Result<()> {
    let job = ExportJob {
        model_prefix: args.model.clone(),
        out: args.onnx.clone(),
    };
    let (written, _) = execute(&args.domain.local_exec(), &job)?;
    if let Some(p) = written {
        outln!(
            "the model owner (party 0) opened the weights and wrote {}",
            p.display()
        );
    }
    Ok(())
}
