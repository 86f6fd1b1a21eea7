//! The cost report of `privml cost` / `privml import --dry-run` (issue 15):
//! the cost model's prediction ([`predict_cost`], counted in the plaintext
//! domain on zeros) equals what an actual in-process secure prediction
//! measures on its transport: rounds, bytes and messages per party,
//! comparisons.

use crate::onnx_common;

use onnx_common::{fixture, privml};
use std::path::Path;
use std::process::Command;

use privml::SharedConfig;
use privml::cost::Cost;
use privml::data::npy;
use privml::learn::{ModelLocation, PredictJob, predict_cost};
use privml::model_file::SavedModel;
use privml::onnx::{ImportJob, ImportOptions, import_file};
use privml::runner::{Domain, DomainKind, DomainSpec, Protocol, RingSize, run_local};

/// Imports `model` into `kind` and measures one secure prediction of the
/// first `rows` fixture rows; returns the measured cost and the saved
/// prefix's model.
fn measured(model: &str, kind: DomainKind, rows: usize, dir: &Path) -> (Cost, SavedModel) {
    let m = import_file(
        &fixture(&format!("{model}.ts.onnx")),
        &ImportOptions::default(),
    )
    .unwrap();
    let prefix = dir.join(format!("{model}-{rows}"));
    let cfg = SharedConfig {
        protocol: kind.protocol(),
        ..SharedConfig::default()
    };
    let job = ImportJob {
        model: Some(&m),
        out_prefix: prefix.clone(),
        owner: 0,
    };
    run_local(kind, &cfg, &job).unwrap();
    let x = npy::read(&fixture(&format!("{model}.input.npy"))).unwrap();
    let n = x.shape()[0];
    let width = x.len() / n;
    let rows_x = x
        .into_shape_clone((n, width))
        .unwrap()
        .slice(ndarray::s![..rows, ..])
        .to_owned();
    let job = PredictJob {
        model: ModelLocation::Prefix(prefix.clone()),
        data: Some(&rows_x),
        data_owner: 1,
    };
    let (out, cost) = run_local(kind, &cfg, &job).unwrap();
    assert_eq!(out.unwrap().classes.len(), rows);
    let saved = SavedModel::load(SavedModel::party_path(&prefix, 0)).unwrap();
    (cost, saved)
}

fn assert_same_communication(predicted: &Cost, measured: &Cost, what: &str) {
    assert_eq!(predicted.rounds, measured.rounds, "{what}: rounds");
    assert_eq!(predicted.bytes_sent, measured.bytes_sent, "{what}: bytes");
    assert_eq!(
        predicted.messages_sent, measured.messages_sent,
        "{what}: messages"
    );
    assert_eq!(
        predicted.comparisons, measured.comparisons,
        "{what}: comparisons"
    );
    assert_eq!(
        predicted.offline_bytes, measured.offline_bytes,
        "{what}: offline bytes"
    );
    assert!(measured.rounds > 0 && measured.comparisons > 0, "{what}");
}

#[test]
fn the_predicted_cost_is_what_a_secure_prediction_measures() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("torch_lenet", DomainKind::Shared64, 1),
        ("torch_lenet", DomainKind::Shared64, 3),
        ("torch_mlp", DomainKind::Shared128, 2),
        ("torch_mlp", DomainKind::TwoParty64, 2),
    ];
    for (model, kind, rows) in cases {
        let (cost, saved) = measured(model, kind, rows, dir.path());
        let domain = DomainSpec {
            domain: Domain::Shared,
            ring: kind.ring().unwrap_or(RingSize::Z64),
            frac_bits: None,
            protocol: kind.protocol(),
        };
        let predicted = predict_cost(&saved.meta.architecture, rows, 1, &domain).unwrap();
        assert_same_communication(&predicted, &cost, &format!("{model} {kind} {rows} rows"));
        if kind.protocol() == Protocol::Additive2 {
            assert!(predicted.offline_bytes[1] > 0);
        }
    }
}

/// The summary line the commands print.
fn summary(c: &Cost) -> String {
    format!(
        "rounds {}, bytes sent per party [{}, {}, {}], comparisons {}",
        c.rounds, c.bytes_sent[0], c.bytes_sent[1], c.bytes_sent[2], c.comparisons
    )
}

#[test]
fn privml_cost_and_import_dry_run_print_the_measured_figures() {
    let dir = tempfile::tempdir().unwrap();
    let (cost, _) = measured("torch_lenet", DomainKind::Shared64, 2, dir.path());
    let onnx = fixture("torch_lenet.ts.onnx");
    let onnx = onnx.to_str().unwrap();
    let dry = privml(&["import", "--onnx", onnx, "--dry-run", "--batch", "2"]);
    assert!(
        dry.contains(&summary(&cost)),
        "{dry}\nwant {}",
        summary(&cost)
    );
    let prefix = dir.path().join("torch_lenet-2");
    let said = privml(&["cost", "--model", prefix.to_str().unwrap(), "--batch", "2"]);
    assert!(
        said.contains(&summary(&cost)),
        "{said}\nwant {}",
        summary(&cost)
    );
    // One party's own file works as well (its public part is the same).
    let file = SavedModel::party_path(&prefix, 2);
    let said = privml(&["cost", "--model", file.to_str().unwrap(), "--batch", "2"]);
    assert!(said.contains(&summary(&cost)), "{said}");
    // A missing model is a clear error.
    let out = Command::new(env!("CARGO_BIN_EXE_privml"))
        .args([
            "cost",
            "--model",
            dir.path().join("nothing").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("nothing"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
