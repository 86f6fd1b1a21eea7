//! `privml import` (an ONNX model, secret-shared by its owner into one
//! share file per party) and `privml export` (a saved model back to ONNX,
//! opened to its owner only).

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use privml::learn::{DEFAULT_DATA_OWNER, ModelLocation};
use privml::model_file::{Architecture, SavedModel};
use privml::nn::{LayerSpec, MODEL_OWNER, folded_spec};
use privml::onnx::{ExportJob, ImportJob, ImportOptions, ImportedModel, import_file};
use privml::runner::{Exec, execute};
use privml::session::{JobDescription, SessionDescription};

use crate::args::DomainArgs;
use crate::cost::{print_cost, secure_domain};

/// Arguments of `privml import`.
#[derive(Args, Debug, Clone)]
pub struct ImportArgs {
    /// The ONNX model (opset 11 and up; see the allow-list in the README).
    /// Over the network only the model owner passes it.
    #[arg(long, value_name = "MODEL.onnx")]
    onnx: Option<PathBuf>,
    /// Write PREFIX.party{0,1,2}.shares (PREFIX.clear in the plaintext
    /// domains); over the network each party writes its own
    /// PREFIX.partyN.shares.
    #[arg(long, value_name = "PREFIX", required_unless_present = "dry_run")]
    out: Option<PathBuf>,
    /// The party that owns the model and secret-shares its weights (the
    /// others receive only their shares).
    #[arg(long, default_value_t = MODEL_OWNER)]
    owner: usize,
    /// The layer a Sigmoid node becomes: `sigmoid:INTERVALdDEGREE` (a
    /// Chebyshev polynomial on [-INTERVAL, INTERVAL], default
    /// sigmoid:10d9) or `hardsigmoid:SLOPE` (clip(SLOPE·x + 0.5, 0, 1), two
    /// comparisons). The owner's choice: the others learn it with the
    /// layers.
    #[arg(long, default_value = "sigmoid:10d9")]
    sigmoid: String,
    /// Print the mapped architecture and what one prediction costs under
    /// MPC (rounds, bytes per party, comparisons), predicted by the cost
    /// model (as `privml cost`); nothing is shared or written.
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
    /// The saved model's PREFIX (its PREFIX.party{0,1,2}.shares, or
    /// PREFIX.clear); over the network, this party's own file.
    #[arg(long, value_name = "PREFIX")]
    model: PathBuf,
    /// The ONNX file the model owner writes (only the owner passes it over
    /// the network).
    #[arg(long, value_name = "OUT.onnx")]
    onnx: Option<PathBuf>,
    /// The party that receives the weights and writes the ONNX file; the
    /// others open nothing.
    #[arg(long, default_value_t = MODEL_OWNER)]
    owner: usize,
    /// The domain, ring and fraction bits the model was saved with.
    #[command(flatten)]
    domain: DomainArgs,
}

crate::with_domain!(ImportArgs, ExportArgs);

impl ImportArgs {
    /// The model owner.
    #[cfg_attr(
        not(feature = "tls"),
        allow(dead_code, reason = "used by privml party")
    )]
    pub fn owner(&self) -> usize {
        self.owner
    }

    /// What the parties compare before importing: the owner and the
    /// domain. The architecture is not known to the others yet: the owner
    /// announces it in the run.
    #[cfg_attr(
        not(feature = "tls"),
        allow(dead_code, reason = "used by privml party")
    )]
    pub fn session(&self) -> SessionDescription {
        SessionDescription {
            job: JobDescription::Import {
                model_owner: self.owner,
            },
            domain: self.domain.spec(),
        }
    }

    /// The model, read and mapped (the owner's side).
    fn model(&self) -> Result<ImportedModel> {
        let sigmoid = LayerSpec::parse(&self.sigmoid).context("--sigmoid")?;
        anyhow::ensure!(
            matches!(
                sigmoid,
                LayerSpec::Sigmoid { .. } | LayerSpec::HardSigmoid { .. }
            ),
            "--sigmoid takes sigmoid:INTERVALdDEGREE or hardsigmoid:SLOPE"
        );
        let path = self
            .onnx
            .as_ref()
            .context("--onnx MODEL.onnx is required (on the model owner)")?;
        let model = import_file(path, &ImportOptions { sigmoid })?;
        outln!(
            "{}: opset {}, input '{}' {}, output '{}'",
            path.display(),
            model.opset,
            model.input_name,
            model.spec.input_string(),
            model.output_name
        );
        outln!("layers: {}", model.spec);
        for note in &model.notes {
            outln!("note: {note}");
        }
        Ok(model)
    }
}

impl ExportArgs {
    /// The model owner.
    #[cfg_attr(
        not(feature = "tls"),
        allow(dead_code, reason = "used by privml party")
    )]
    pub fn owner(&self) -> usize {
        self.owner
    }

    /// What the parties compare before exporting: the owner and the public
    /// part of this party's model file (its id and layers).
    #[cfg_attr(
        not(feature = "tls"),
        allow(dead_code, reason = "used by privml party")
    )]
    pub fn session(&self) -> Result<SessionDescription> {
        let model = SavedModel::load(&self.model)?;
        Ok(SessionDescription {
            job: JobDescription::Export {
                model_owner: self.owner,
                model_id: model.model_id,
                architecture: model.meta.architecture,
            },
            domain: self.domain.spec(),
        })
    }
}

/// Runs `privml import` in this process.
pub fn run(args: ImportArgs) -> Result<()> {
    if args.dry_run {
        let model = args.model()?;
        let folded = folded_spec(&model.spec)?;
        let spec = args.domain.spec();
        let domain = secure_domain(spec.kind(), spec.frac_bits);
        print_cost(
            &Architecture::Network(folded),
            args.batch,
            DEFAULT_DATA_OWNER,
            &domain,
        )?;
        return Ok(());
    }
    import_on(&args, &args.domain.local_exec(), true)
}

/// Runs the import where `exec` says; `is_owner`: this process is the
/// model owner (or runs all parties).
pub fn import_on(args: &ImportArgs, exec: &Exec<'_>, is_owner: bool) -> Result<()> {
    let prefix = args.out.clone().context("--out PREFIX is required")?;
    let model = if is_owner {
        Some(args.model()?)
    } else {
        anyhow::ensure!(
            args.onnx.is_none(),
            "only the model owner (party {}) passes --onnx",
            args.owner
        );
        None
    };
    let job = ImportJob {
        model: model.as_ref(),
        out_prefix: prefix.clone(),
        owner: args.owner,
    };
    let (outcome, _) = execute(exec, &job)?;
    outln!("saved (batch normalisations folded): {}", outcome.spec);
    match exec {
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

/// Runs `privml export` in this process.
pub fn export(args: ExportArgs) -> Result<()> {
    export_on(&args, &args.domain.local_exec(), true)
}

/// Runs the export where `exec` says; `is_owner`: this process is the
/// model owner (or runs all parties).
pub fn export_on(args: &ExportArgs, exec: &Exec<'_>, is_owner: bool) -> Result<()> {
    let model = match exec {
        Exec::Local { .. } => ModelLocation::Prefix(args.model.clone()),
        _ => ModelLocation::File(args.model.clone()),
    };
    let out = if is_owner {
        args.onnx
            .clone()
            .context("--onnx OUT.onnx is required (on the model owner)")?
    } else {
        anyhow::ensure!(
            args.onnx.is_none(),
            "only the model owner (party {}) passes --onnx: the others open nothing",
            args.owner
        );
        PathBuf::new()
    };
    let job = ExportJob {
        model,
        out,
        owner: args.owner,
    };
    let (written, _) = execute(exec, &job)?;
    if let Some(p) = written {
        outln!(
            "the model owner (party {}) opened the weights and wrote {}",
            args.owner,
            p.display()
        );
    }
    Ok(())
}
