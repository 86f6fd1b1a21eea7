//! Private inference of an imported ONNX model, timed against plaintext in
//! the same process (issue 15's benchmark): the model is imported and
//! shared by its owner (party 0), then `batch` rows are predicted by
//! `PredictJob` in `Plain` (f64) and in `Shared` (three parties as threads,
//! Z_2^64, 16 fraction bits), and the rounds and bytes per party of the
//! secure run are printed with the cost model's prediction of them.
//!
//! ```sh
//! cargo run --release --example onnx_inference -- MODEL.onnx ROWS.npy BATCH [REPEATS]
//! ```
//!
//! ROWS.npy holds at least BATCH rows (shaped or flat); the best of REPEATS
//! (default 3) runs is reported.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use ndarray::{Array2, s};
use privml::SharedConfig;
use privml::data::npy;
use privml::learn::{ModelLocation, PredictJob, predict_cost};
use privml::model_file::SavedModel;
use privml::onnx::{ImportJob, ImportOptions, import_file};
use privml::runner::{DomainKind, DomainSpec, run_local};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [onnx, rows, batch, rest @ ..] = args.as_slice() else {
        eprintln!("usage: onnx_inference MODEL.onnx ROWS.npy BATCH [REPEATS]");
        std::process::exit(2);
    };
    let batch: usize = batch.parse()?;
    let repeats: usize = rest.first().map_or(Ok(3), |r| r.parse())?;
    let model = import_file(&PathBuf::from(onnx), &ImportOptions::default())?;
    println!("{onnx}: {} {}", model.spec.input_string(), model.spec);
    let x = npy::read(&PathBuf::from(rows))?;
    let n = x.shape()[0];
    anyhow_like(n >= batch, "ROWS.npy has fewer rows than BATCH")?;
    let width = x.len() / n;
    let x: Array2<f64> = x
        .into_shape_clone((n, width))?
        .slice(s![..batch, ..])
        .to_owned();
    let dir = tempfile::tempdir()?;
    let cfg = SharedConfig::default();
    let mut runs = Vec::new();
    for kind in [DomainKind::Plain, DomainKind::Shared64] {
        let prefix = dir.path().join(format!("{kind:?}"));
        let import = ImportJob {
            model: Some(&model),
            out_prefix: prefix.clone(),
            owner: 0,
        };
        run_local(kind, &cfg, &import)?;
        let job = PredictJob {
            model: ModelLocation::Prefix(prefix),
            data: Some(&x),
            data_owner: 1,
        };
        let mut best = Duration::MAX;
        let mut last = None;
        for _ in 0..repeats.max(1) {
            let t0 = Instant::now();
            let (out, cost) = run_local(kind, &cfg, &job)?;
            best = best.min(t0.elapsed());
            last = Some((out, cost));
        }
        let Some((Some(pred), cost)) = last else {
            return Err("no predictions".into());
        };
        runs.push((kind, best, pred, cost));
    }
    let (_, plain_t, plain_pred, _) = &runs[0];
    let (_, shared_t, shared_pred, cost) = &runs[1];
    let same = plain_pred.classes == shared_pred.classes;
    let saved = SavedModel::load(SavedModel::party_path(dir.path().join("Shared64"), 0))?;
    let predicted = predict_cost(&saved.meta.architecture, batch, 1, &DomainSpec::default())?;
    println!(
        "batch {batch}: plain {:.3} ms, shared {:.3} ms ({:.0}x), same classes: {same}",
        plain_t.as_secs_f64() * 1e3,
        shared_t.as_secs_f64() * 1e3,
        shared_t.as_secs_f64() / plain_t.as_secs_f64()
    );
    println!(
        "rounds {}, bytes sent per party {:?}, comparisons {} (cost model: rounds {}, bytes {:?})",
        cost.rounds, cost.bytes_sent, cost.comparisons, predicted.rounds, predicted.bytes_sent
    );
    Ok(())
}

fn anyhow_like(ok: bool, what: &str) -> Result<(), Box<dyn std::error::Error>> {
    if ok { Ok(()) } else { Err(what.into()) }
}
