//! `privml import` then `privml predict` on an ONNX fixture: the two
//! commands of the README, in process on shares.

use crate::onnx_common;

use onnx_common::{fixture, privml};
use std::path::Path;
use std::process::Command;

use privml::data::npy;

/// The `outputK` columns of a `--raw` predictions file.
fn raw_outputs(path: &Path) -> Vec<Vec<f64>> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').skip(1).map(|v| v.parse().unwrap()).collect())
        .collect()
}

#[test]
fn import_then_predict_on_shares_matches_onnxruntime() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("cnn");
    let p = prefix.to_str().unwrap();
    let said = privml(&[
        "import",
        "--onnx",
        fixture("cnn_bn.onnx").to_str().unwrap(),
        "--out",
        p,
    ]);
    assert!(said.contains("conv:4k3p1,batchnorm:1e-5,relu"), "{said}");
    assert!(
        said.contains("saved (batch normalisations folded): conv:4k3p1,relu"),
        "{said}"
    );
    let want = npy::read(&fixture("cnn_bn.output.npy")).unwrap();
    let preds = dir.path().join("p.csv");
    privml(&[
        "predict",
        "--model",
        p,
        "--data",
        fixture("cnn_bn.input.npy").to_str().unwrap(),
        "--raw",
        "--out",
        preds.to_str().unwrap(),
    ]);
    let got = raw_outputs(&preds);
    assert_eq!(got.len(), want.shape()[0]);
    for (i, row) in got.iter().enumerate() {
        for (k, v) in row.iter().enumerate() {
            assert!(
                (v - want[[i, k]]).abs() < 3e-3,
                "row {i}: {v} vs {}",
                want[[i, k]]
            );
        }
    }
    // The same rows as a headerless CSV, flattened in C order: same classes.
    let x = npy::read(&fixture("cnn_bn.input.npy")).unwrap();
    let csv: String = x
        .outer_iter()
        .map(|r| {
            r.iter()
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
                .join(",")
                + "\n"
        })
        .collect();
    let rows = dir.path().join("rows.csv");
    std::fs::write(&rows, csv).unwrap();
    let by_class = privml(&[
        "predict",
        "--model",
        p,
        "--data",
        rows.to_str().unwrap(),
        "--no-header",
    ]);
    for (i, row) in got.iter().enumerate() {
        let best = (0..row.len()).fold(0, |b, k| if row[k] > row[b] { k } else { b });
        assert!(
            by_class.contains(&format!("row {i}: class {best}\n")),
            "{by_class}"
        );
    }
    // A dry run reports the cost and writes nothing.
    let dry = privml(&[
        "import",
        "--onnx",
        fixture("cnn_bn.onnx").to_str().unwrap(),
        "--dry-run",
    ]);
    assert!(dry.contains("rounds"), "{dry}");
    assert!(!dir.path().join("nothing.party0.shares").exists());
}

#[test]
fn refusals_name_the_operator_and_node() {
    let out = Command::new(env!("CARGO_BIN_EXE_privml"))
        .args([
            "import",
            "--onnx",
            fixture("refused_tanh.onnx").to_str().unwrap(),
            "--out",
            "/nonexistent/x",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("operator Tanh (node 'the_tanh') is not supported"),
        "{err}"
    );
}

/// The README's "Bring your own model": a LeNet trained in PyTorch and
/// exported by `torch.onnx.export` (both exporters) is served privately
/// with the two commands, with PyTorch's classes.
#[test]
fn a_pytorch_export_is_served_with_two_commands_and_pytorchs_argmax() {
    let torch = npy::read(&fixture("torch_lenet.torch.npy")).unwrap();
    let want: Vec<usize> = torch
        .outer_iter()
        .map(|r| (0..r.len()).fold(0, |b, k| if r[k] > r[b] { k } else { b }))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    for exporter in ["ts", "dynamo"] {
        let prefix = dir.path().join(exporter);
        let p = prefix.to_str().unwrap();
        privml(&[
            "import",
            "--onnx",
            fixture(&format!("torch_lenet.{exporter}.onnx"))
                .to_str()
                .unwrap(),
            "--out",
            p,
        ]);
        let said = privml(&[
            "predict",
            "--model",
            p,
            "--data",
            fixture("torch_lenet.input.npy").to_str().unwrap(),
        ]);
        assert!(
            said.contains(&format!("{} predictions", want.len())),
            "{said}"
        );
        for (i, c) in want.iter().enumerate() {
            assert!(
                said.contains(&format!("row {i}: class {c}\n")),
                "{exporter}: row {i} should be class {c}:\n{said}"
            );
        }
    }
}
