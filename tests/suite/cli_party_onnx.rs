//! `privml party ... import` and `privml party ... export` as three
//! processes on loopback (issue 15): the model owner alone reads the ONNX
//! file and shares its weights, every party writes its own share file, the
//! parties predict from those files with PyTorch's argmax, and an export
//! opens the weights to the owner alone.
#![cfg(all(feature = "tls", feature = "cli"))]

use crate::onnx_common;

use crate::net_common;
use onnx_common::{argmax, fixture};

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use ndarray::Ix2;
use privml::data::npy;
use privml::model_file::SavedModel;
use privml::nn::Network;
use privml::onnx::{ImportOptions, import_file};
use privml::{Plain, Ring};

const BIN: &str = env!("CARGO_BIN_EXE_privml");
const LIMIT: Duration = Duration::from_secs(90);

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs the three parties with `job(id)` and returns their outputs; each
/// waits at most `deadline` seconds for the others to connect.
fn three(config: &Path, deadline: u32, job: impl Fn(usize) -> Vec<String>) -> Vec<Output> {
    let config = config.to_str().unwrap().to_string();
    let children: Vec<_> = (0..3)
        .map(|id| {
            let mut args: Vec<String> = vec![
                "party".into(),
                "--id".into(),
                id.to_string(),
                "--config".into(),
                config.clone(),
                "--connect-deadline".into(),
                deadline.to_string(),
                "--timeout".into(),
                "30".into(),
            ];
            args.extend(job(id));
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            net_common::spawn(BIN, &refs)
        })
        .collect();
    children
        .into_iter()
        .map(|c| net_common::finish_within(c, LIMIT))
        .collect()
}

#[test]
fn three_processes_import_predict_and_export_with_the_owner_alone_holding_the_weights() {
    let (dir, config) = net_common::deployment("onnx-party");
    let onnx = fixture("torch_mlp.ts.onnx");
    let prefix = dir.join("mlp");
    let owner = 2;
    // Import: party 2 owns the model; the others pass no file.
    let outs = three(&config, 30, |id| {
        let mut a: Vec<String> = vec![
            "import".into(),
            "--out".into(),
            prefix.to_str().unwrap().into(),
            "--owner".into(),
            owner.to_string(),
        ];
        if id == owner {
            a.extend(["--onnx".into(), onnx.to_str().unwrap().into()]);
        }
        a
    });
    for (id, o) in outs.iter().enumerate() {
        assert!(o.status.success(), "party {id}: {}", text(&o.stderr));
        let file = SavedModel::party_path(&prefix, id);
        assert!(text(&o.stdout).contains(&format!("model saved to {}", file.display())));
        let saved = SavedModel::load(&file).unwrap();
        assert_eq!(
            saved.meta.architecture.to_string(),
            "784: dense:32,relu,dense:10"
        );
    }
    // Only the owner read the ONNX file (and printed what it holds).
    assert!(text(&outs[owner].stdout).contains("layers: dense:32,relu,dense:10"));
    assert!(!text(&outs[0].stdout).contains("layers:"));

    // Predict from the three files: PyTorch's classes, to the data owner.
    let preds = dir.join("preds.csv");
    let outs = three(&config, 30, |id| {
        let mut a: Vec<String> = vec![
            "predict".into(),
            "--model".into(),
            SavedModel::party_path(&prefix, id).to_str().unwrap().into(),
            "--raw".into(),
        ];
        if id == 1 {
            a.extend([
                "--data".into(),
                fixture("torch_mlp.input.npy").to_str().unwrap().into(),
                "--out".into(),
                preds.to_str().unwrap().into(),
            ]);
        }
        a
    });
    for (id, o) in outs.iter().enumerate() {
        assert!(o.status.success(), "party {id}: {}", text(&o.stderr));
    }
    let torch = npy::read(&fixture("torch_mlp.torch.npy"))
        .unwrap()
        .into_dimensionality::<Ix2>()
        .unwrap();
    let got: Vec<Vec<f64>> = std::fs::read_to_string(&preds)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').skip(1).map(|v| v.parse().unwrap()).collect())
        .collect();
    let got = ndarray::Array2::from_shape_vec((got.len(), 10), got.into_iter().flatten().collect())
        .unwrap();
    assert_eq!(argmax(&got), argmax(&torch));

    // Export: the weights are opened to party 2 alone, which writes the file.
    let out = dir.join("back.onnx");
    let outs = three(&config, 30, |id| {
        let mut a: Vec<String> = vec![
            "export".into(),
            "--model".into(),
            SavedModel::party_path(&prefix, id).to_str().unwrap().into(),
            "--owner".into(),
            owner.to_string(),
        ];
        if id == owner {
            a.extend(["--onnx".into(), out.to_str().unwrap().into()]);
        }
        a
    });
    for (id, o) in outs.iter().enumerate() {
        assert!(o.status.success(), "party {id}: {}", text(&o.stderr));
        let wrote = text(&o.stdout).contains("opened the weights and wrote");
        assert_eq!(wrote, id == owner, "party {id}: {}", text(&o.stdout));
    }
    // The exported model computes PyTorch's outputs (weights rounded to
    // 16-bit fixed point on the way).
    let back = import_file(&out, &ImportOptions::default()).unwrap();
    let x = npy::read(&fixture("torch_mlp.input.npy")).unwrap();
    let mut r = Plain::new();
    let mut net = Network::with_parameters(&mut r, &back.spec, Some(&back.parameters)).unwrap();
    let xc = r.constant(&x).unwrap();
    let y = net.predict(&mut r, &xc).unwrap();
    let y = r.reveal(&y).unwrap();
    let y = y.into_dimensionality::<Ix2>().unwrap();
    let d = y
        .iter()
        .zip(&torch)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(d < 5e-3, "{d}");
    assert_eq!(argmax(&y), argmax(&torch));
}

#[test]
fn parties_that_disagree_on_the_owner_stop_and_a_non_owner_may_not_pass_the_model() {
    let (dir, config) = net_common::deployment("onnx-owner");
    let onnx = fixture("torch_mlp.ts.onnx");
    let prefix = dir.join("m");
    let outs = three(&config, 5, |id| {
        // Party 1 believes party 2 owns the model; the others, party 0.
        let owner = if id == 1 { "2" } else { "0" };
        let mut a: Vec<String> = vec![
            "import".into(),
            "--out".into(),
            prefix.to_str().unwrap().into(),
            "--owner".into(),
            owner.into(),
        ];
        if id == 0 {
            a.extend(["--onnx".into(), onnx.to_str().unwrap().into()]);
        }
        a
    });
    for (id, o) in outs.iter().enumerate() {
        assert!(!o.status.success(), "party {id} must refuse");
        assert!(!SavedModel::party_path(&prefix, id).exists(), "party {id}");
    }
    assert!(
        outs.iter().any(|o| text(&o.stderr).contains("model_owner")),
        "{}",
        text(&outs[0].stderr)
    );
    // A party that is not the owner and passes the model is refused before
    // it connects.
    let o = std::process::Command::new(BIN)
        .args(["party", "--id", "1", "--config", config.to_str().unwrap()])
        .args(["import", "--out", prefix.to_str().unwrap()])
        .args(["--onnx", onnx.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(
        text(&o.stderr).contains("only the model owner (party 0) passes --onnx"),
        "{}",
        text(&o.stderr)
    );
}
