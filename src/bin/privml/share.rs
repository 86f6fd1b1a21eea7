//! `privml share` and `privml reconstruct`: the hand-over of a table to the
//! three parties, and of their outputs back, as files (no network).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use privml::data::{FeatureRanges, Scaling};
use privml::dataset_file::{self, DatasetShares};
use privml::domain::TensorData;
use privml::learn::{DataSource, TableData, Task};
use privml::model_file::SavedModel;
use privml::runner::{Domain, DomainKind, DomainSpec, RingSize};

/// A table to share: where it is and how the data owner prepares it
/// (`privml share` and `privml client upload`).
#[derive(Args, Debug)]
pub struct TableArgs {
    /// CSV file with a header row (.csv or .csv.gz), or a bundled data set
    /// (`mnist`, `breast_cancer`, `diabetes`).
    #[arg(long)]
    data: String,
    /// Target column (default: the bundled set's, else `target`).
    #[arg(long)]
    target: Option<String>,
    /// `classification` or `regression` (detected from the target column
    /// if not given).
    #[arg(long)]
    task: Option<Task>,
    /// Feature scaling applied before sharing: `ranges` (over the declared
    /// public ranges: a bundled set's own, or --feature-ranges FILE) or
    /// `none`. Training on the shares must ask for the same.
    #[arg(long, default_value = "ranges")]
    scaling: String,
    /// The declared public range of each feature (and of a regression's
    /// target): a CSV file `feature,min,max`.
    #[arg(long, value_name = "FILE")]
    feature_ranges: Option<PathBuf>,
    /// Ring size of the shares, in bits (the training job's --ring).
    #[arg(long, value_enum, default_value_t = RingSize::Z64)]
    ring: RingSize,
    /// Fraction bits (the training job's --frac-bits; default: 16 for
    /// Z_2^64, 32 for Z_2^128).
    #[arg(long)]
    frac_bits: Option<u32>,
}

impl TableArgs {
    /// Loads and prepares the table and splits it into the three parties'
    /// files (shares from the OS's cryptographic RNG).
    pub fn share(&self) -> Result<[DatasetShares; 3]> {
        let scaling = match self.scaling.as_str() {
            "none" => None,
            s => Some(s.parse::<Scaling>()?),
        };
        let domain = DomainSpec {
            domain: Domain::Shared,
            ring: self.ring,
            frac_bits: self.frac_bits,
            ..DomainSpec::default()
        };
        let source = DataSource::from_arg(&self.data, self.target.as_deref());
        let ranges = self
            .feature_ranges
            .as_ref()
            .map(FeatureRanges::load)
            .transpose()?;
        let table = TableData::prepare(&source, ranges.as_ref(), self.task, scaling, &domain)?;
        if let Some(why) = &table.task_note {
            outln!("task: {} ({why}; choose with --task)", table.table.task);
        }
        let files = dataset_file::share_prepared(&table, &domain)?;
        outln!("shared {}: {}", source.name(), files[0].schema.summary());
        Ok(files)
    }
}

/// Arguments of `privml share`.
#[derive(Args, Debug)]
pub struct ShareArgs {
    #[command(flatten)]
    table: TableArgs,
    /// Write the three parties' files PREFIX.party{0,1,2}.shares; hand each
    /// party its own file only.
    #[arg(long, value_name = "PREFIX")]
    out: PathBuf,
}

/// Runs `privml share`.
pub fn run(args: ShareArgs) -> Result<()> {
    let files = args.table.share()?;
    outln!(
        "dataset id {}",
        dataset_file::hex(&files[0].schema.dataset_id)
    );
    for f in &files {
        let path = DatasetShares::party_path(&args.out, usize::from(f.party));
        f.save(&path)?;
        outln!("party {}'s file: {}", f.party, path.display());
    }
    Ok(())
}

/// Arguments of `privml reconstruct`.
#[derive(Args, Debug)]
pub struct ReconstructArgs {
    /// The three parties' output files PREFIX.party{0,1,2}.shares (model
    /// share files written by training, or dataset share files).
    #[arg(long, value_name = "PREFIX")]
    from: PathBuf,
    /// Where to write what they combine to: a model in the clear (usable
    /// with `privml predict --domain plain --model` on its prefix when named
    /// PREFIX.clear), or the dataset's prepared values as CSV.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
}

/// Runs `privml reconstruct`.
pub fn reconstruct(args: ReconstructArgs) -> Result<()> {
    let paths: Vec<PathBuf> = (0..3)
        .map(|p| SavedModel::party_path(&args.from, p))
        .collect();
    let first =
        std::fs::read(&paths[0]).with_context(|| format!("cannot read {}", paths[0].display()))?;
    if first.starts_with(b"PRIVMLD\x00") {
        let files = load_three(&paths, |p| DatasetShares::load(p))?;
        let (x, y) = dataset_file::open_table(&files)?;
        let table = &files[0].schema.table;
        let mut csv = table.features.join(",");
        let targets: Vec<String> = match table.task {
            Task::Classification => (0..y.ncols())
                .map(|k| format!("{}={k}", table.target))
                .collect(),
            Task::Regression => vec![table.target.clone()],
        };
        csv.push(',');
        csv.push_str(&targets.join(","));
        csv.push('\n');
        for (xr, yr) in x.rows().into_iter().zip(y.rows()) {
            let line: Vec<String> = xr.iter().chain(yr.iter()).map(f64::to_string).collect();
            csv.push_str(&line.join(","));
            csv.push('\n');
        }
        privml::model_file::write_atomic(&args.out, csv.as_bytes())?;
        outln!(
            "combined the dataset ({}) into {} (values as prepared for training: scaled, targets one column per class)",
            files[0].schema.summary(),
            args.out.display()
        );
        return Ok(());
    }
    let models = load_three(&paths, |p| SavedModel::load(p))?;
    let clear = open_model(&models)?;
    clear.save(&args.out)?;
    outln!(
        "combined the model {} into {} (in the clear: anyone who reads it has the weights)",
        clear.meta.architecture,
        args.out.display()
    );
    Ok(())
}

fn load_three<T>(paths: &[PathBuf], load: impl Fn(&Path) -> privml::Result<T>) -> Result<[T; 3]> {
    let mut out = Vec::with_capacity(3);
    for p in paths {
        out.push(load(p)?);
    }
    match <[T; 3]>::try_from(out) {
        Ok(a) => Ok(a),
        Err(_) => bail!("three files are needed"),
    }
}

/// The model in the clear from the three parties' share files: they must be
/// one model's (same id and description), and their shares must agree.
fn open_model(models: &[SavedModel; 3]) -> Result<SavedModel> {
    for (p, m) in models.iter().enumerate() {
        if m.model_id != models[0].model_id || m.meta != models[0].meta {
            bail!("party {p}'s model file is of another model than party 0's");
        }
        if m.tensors.len() != models[0].tensors.len() {
            bail!("party {p}'s model file has another number of tensors");
        }
    }
    let mut tensors = Vec::with_capacity(models[0].tensors.len());
    for k in 0..models[0].tensors.len() {
        let v = dataset_file::open_shares([
            &models[0].tensors[k],
            &models[1].tensors[k],
            &models[2].tensors[k],
        ])
        .with_context(|| format!("tensor {k}"))?;
        tensors.push(TensorData::Clear {
            shape: v.shape().to_vec(),
            values: v.iter().copied().collect(),
        });
    }
    let mut meta = models[0].meta.clone();
    meta.domain = DomainKind::Plain;
    meta.frac_bits = None;
    Ok(SavedModel {
        meta,
        model_id: models[0].model_id,
        tensors,
        optimizer: None,
    })
}
