//! `privml cost`: what one prediction with a saved model costs under MPC,
//! before running it, from the cost model.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use privml::cost::Cost;
use privml::learn::{self, predict_cost};
use privml::model_file::{Architecture, SavedModel};
use privml::runner::{DomainKind, DomainSpec};

/// Arguments of `privml cost`.
#[derive(Args, Debug, Clone)]
pub struct CostArgs {
    /// The saved model: the PREFIX of its files (PREFIX.party0.shares or
    /// PREFIX.clear), or one party's file. Only its public part (the
    /// layers, the domain) is read.
    #[arg(long, value_name = "PREFIX")]
    model: PathBuf,
    /// Rows per prediction.
    #[arg(long, default_value_t = 1)]
    batch: usize,
    /// The party that provides the rows and receives the predictions.
    #[arg(long, default_value_t = learn::DEFAULT_DATA_OWNER)]
    data_owner: usize,
}

/// The model file to read the public part of: PREFIX itself if it is a
/// file, else PREFIX.party0.shares, else PREFIX.clear.
fn model_file(prefix: &Path) -> PathBuf {
    if prefix.is_file() {
        return prefix.to_path_buf();
    }
    let shares = SavedModel::party_path(prefix, 0);
    if shares.is_file() {
        shares
    } else {
        SavedModel::clear_path(prefix)
    }
}

/// The domain a model saved in `kind` predicts in (a model saved in the
/// clear: the replicated protocol over Z_2^64).
pub fn secure_domain(kind: DomainKind, frac_bits: Option<u32>) -> DomainSpec {
    DomainSpec {
        domain: privml::runner::Domain::Shared,
        ring: kind.ring().unwrap_or_default(),
        frac_bits,
        protocol: kind.protocol(),
    }
}

/// Prints the cost of one prediction of `batch` rows with a model of
/// `architecture` in `domain`: one summary line with the exact figures,
/// then the full report.
pub fn print_cost(
    architecture: &Architecture,
    batch: usize,
    data_owner: usize,
    domain: &DomainSpec,
) -> Result<Cost> {
    anyhow::ensure!(batch > 0, "--batch must be at least 1");
    let cost = predict_cost(architecture, batch, data_owner, domain)?;
    outln!(
        "predicted cost of one prediction of {batch} row(s) on {} with {} fraction bits \
         (the cost model, counted in the plaintext domain; no data, no weights):",
        domain.kind(),
        domain.frac_bits()
    );
    let parties = cost.protocol.computing_parties();
    let bytes: Vec<String> = cost.bytes_sent[..parties]
        .iter()
        .map(u64::to_string)
        .collect();
    outln!(
        "rounds {}, bytes sent per party [{}], comparisons {}",
        cost.rounds,
        bytes.join(", "),
        cost.comparisons
    );
    out!("{}", cost.report());
    Ok(cost)
}

/// Runs `privml cost`.
pub fn run(args: CostArgs) -> Result<()> {
    let path = model_file(&args.model);
    let model =
        SavedModel::load(&path).with_context(|| format!("--model {}", args.model.display()))?;
    let meta = &model.meta;
    outln!("{}: {}", path.display(), meta.architecture);
    let domain = secure_domain(meta.domain, meta.frac_bits);
    print_cost(&meta.architecture, args.batch, args.data_owner, &domain)?;
    Ok(())
}
