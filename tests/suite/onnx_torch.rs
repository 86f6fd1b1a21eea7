//! Models trained in PyTorch and exported by PyTorch's own exporters (issue
//! 15): tests/fixtures/onnx/torch_* were written by make_torch_fixtures.py
//! (versions in torch_fixtures.json) with PyTorch's outputs and
//! onnxruntime's for fixed MNIST rows. Each model is exported by the
//! TorchScript-based exporter (`dynamo=False`) and by the dynamo-based one
//! (`dynamo=True`); both fold the eval-mode BatchNorm into the convolution
//! themselves, so the LeNet is also exported with `do_constant_folding=False`
//! (`ts_nofold`), which leaves the BatchNormalization node and the shape
//! sub-graph for privml to fold. Every file must import to the layers
//! below and compute PyTorch's outputs.

use crate::onnx_common;

use onnx_common::{argmax, fixture, max_diff};

use ndarray::{Array2, ArrayD, Ix2};
use privml::data::npy;
use privml::learn::{ModelLocation, PredictJob};
use privml::nn::Network;
use privml::onnx::{ImportJob, ImportOptions, ImportedModel, import_file};
use privml::runner::{DomainKind, run_local};
use privml::{Plain, Ring, SharedConfig};

const LENET: &str =
    "conv:4k5,relu,maxpool:2,conv:8k5,relu,maxpool:2,flatten,dense:32,relu,dense:10";

/// (model, exporter, input shape, layers as imported).
const EXPORTS: [(&str, &str, &str, &str); 5] = [
    ("torch_mlp", "ts", "784", "dense:32,relu,dense:10"),
    ("torch_mlp", "dynamo", "784", "dense:32,relu,dense:10"),
    ("torch_lenet", "ts", "1x28x28", LENET),
    ("torch_lenet", "dynamo", "1x28x28", LENET),
    (
        "torch_lenet",
        "ts_nofold",
        "1x28x28",
        "conv:4k5,batchnorm:1e-5,relu,maxpool:2,conv:8k5,relu,maxpool:2,flatten,dense:32,relu,dense:10",
    ),
];

fn npy2(name: &str) -> Array2<f64> {
    npy::read(&fixture(name))
        .unwrap()
        .into_dimensionality::<Ix2>()
        .unwrap()
}

fn import(model: &str, exporter: &str) -> ImportedModel {
    import_file(
        &fixture(&format!("{model}.{exporter}.onnx")),
        &ImportOptions::default(),
    )
    .unwrap()
}

fn plain(model: &ImportedModel, x: &ArrayD<f64>) -> Array2<f64> {
    let mut r = Plain::new();
    let mut net = Network::with_parameters(&mut r, &model.spec, Some(&model.parameters)).unwrap();
    let x = r.constant(x).unwrap();
    let y = net.predict(&mut r, &x).unwrap();
    let y = r.reveal(&y).unwrap();
    y.into_dimensionality::<Ix2>().unwrap()
}

/// Shared by the owner with ImportJob, predicted by three in-process
/// parties with PredictJob (the `privml import` / `privml predict` path).
fn shared(model: &ImportedModel, x: &ArrayD<f64>) -> Array2<f64> {
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("m");
    let job = ImportJob {
        model: Some(model),
        out_prefix: prefix.clone(),
        owner: 0,
    };
    run_local(DomainKind::Shared64, &SharedConfig::default(), &job).unwrap();
    let n = x.shape()[0];
    let rows = x.clone().into_shape_clone((n, x.len() / n)).unwrap();
    let job = PredictJob {
        model: ModelLocation::Prefix(prefix),
        data: Some(&rows),
        data_owner: 1,
    };
    let (out, _) = run_local(DomainKind::Shared64, &SharedConfig::default(), &job).unwrap();
    out.unwrap().scores
}

#[test]
fn every_export_maps_to_the_expected_layers() {
    for (model, exporter, input, layers) in EXPORTS {
        let m = import(model, exporter);
        assert_eq!(m.spec.input_string(), input, "{model}.{exporter}");
        assert_eq!(m.spec.to_string(), layers, "{model}.{exporter}");
    }
    // The same trained weights, whichever exporter wrote them (each folded
    // the batch norm in float32 its own way: equal to float32 rounding).
    for model in ["torch_mlp", "torch_lenet"] {
        let (ts, dynamo) = (import(model, "ts"), import(model, "dynamo"));
        assert_eq!(ts.parameters.len(), dynamo.parameters.len());
        for (a, b) in ts.parameters.iter().zip(&dynamo.parameters) {
            assert_eq!(a.shape(), b.shape(), "{model}");
            let d = a
                .iter()
                .zip(b)
                .map(|(x, y)| (x - y).abs())
                .fold(0.0, f64::max);
            assert!(d < 1e-6, "{model}: {d}");
        }
    }
}

#[test]
fn plain_inference_equals_pytorch_and_onnxruntime_within_1e_5() {
    for (model, exporter, _, _) in EXPORTS {
        let x = npy::read(&fixture(&format!("{model}.input.npy"))).unwrap();
        let torch = npy2(&format!("{model}.torch.npy"));
        let ort = npy2(&format!("{model}.{exporter}.output.npy"));
        let got = plain(&import(model, exporter), &x);
        let (dt, dr) = (max_diff(&got, &torch), max_diff(&got, &ort));
        assert!(dt < 1e-5, "{model}.{exporter}: {dt} from PyTorch");
        assert!(dr < 1e-5, "{model}.{exporter}: {dr} from onnxruntime");
        assert_eq!(argmax(&got), argmax(&torch), "{model}.{exporter}");
    }
}

#[test]
fn shared_inference_has_pytorchs_argmax_within_the_fixed_point_tolerance() {
    // Z_2^64 with 16 fraction bits: weights, inputs and every product are
    // rounded to 2^-16 (about 1.5e-5); the error grows with the fan-in
    // (784 for the MLP's first layer, 100 for the second convolution) and
    // the depth. The measured largest differences are in the assertions'
    // messages.
    for (model, exporter, _, _) in EXPORTS {
        let x = npy::read(&fixture(&format!("{model}.input.npy"))).unwrap();
        let torch = npy2(&format!("{model}.torch.npy"));
        let got = shared(&import(model, exporter), &x);
        let d = max_diff(&got, &torch);
        assert!(d < 5e-3, "{model}.{exporter}: {d}");
        assert_eq!(argmax(&got), argmax(&torch), "{model}.{exporter}");
    }
}
