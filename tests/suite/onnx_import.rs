//! ONNX import (issue 15): the committed fixtures of tests/fixtures/onnx/
//! (written by make_fixtures.py, reference outputs from onnxruntime) are
//! imported, shared and evaluated; refusals and damaged files are typed
//! errors; export round-trips.

use crate::onnx_common;

use onnx_common::{argmax, fixture, max_diff};

use ndarray::{Array2, ArrayD, Axis, Ix2};
use privml::data::npy;
use privml::learn::{ModelLocation, PredictJob};
use privml::nn::Network;
use privml::onnx::{
    ExportJob, ImportJob, ImportOptions, ImportedModel, OnnxError, export_bytes, import_bytes,
    import_file,
};
use privml::runner::{DomainKind, run_local};
use privml::{DecodeError, Error, Origin, Plain, Ring, SharedConfig};

fn import(name: &str) -> ImportedModel {
    import_file(&fixture(&format!("{name}.onnx")), &ImportOptions::default()).unwrap()
}

/// The fixture's input and onnxruntime's output.
fn reference(name: &str) -> (ArrayD<f64>, Array2<f64>) {
    let x = npy::read(&fixture(&format!("{name}.input.npy"))).unwrap();
    let y = npy::read(&fixture(&format!("{name}.output.npy"))).unwrap();
    (x, y.into_dimensionality::<Ix2>().unwrap())
}

/// The model evaluated in the clear.
fn plain(model: &ImportedModel, x: &ArrayD<f64>) -> Array2<f64> {
    let mut r = Plain::new();
    let mut net = Network::with_parameters(&mut r, &model.spec, Some(&model.parameters)).unwrap();
    let x = r.constant(x).unwrap();
    let y = net.predict(&mut r, &x).unwrap();
    let y = r.reveal(&y).unwrap();
    let n = y.shape()[0];
    let w = y.len() / n;
    y.into_shape_clone((n, w)).unwrap()
}

/// The secure domains of Z_2^64: three parties, and two parties with a
/// dealer.
const SECURE: [DomainKind; 2] = [DomainKind::Shared64, DomainKind::TwoParty64];

/// Imported, secret-shared and saved by ImportJob, then predicted by the
/// in-process parties of `kind` with PredictJob (the `privml import` /
/// `privml predict` path).
fn shared(kind: DomainKind, model: &ImportedModel, x: &ArrayD<f64>) -> Array2<f64> {
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("m");
    let job = ImportJob {
        model: Some(model),
        out_prefix: prefix.clone(),
        owner: 0,
    };
    run_local(kind, &SharedConfig::default(), &job).unwrap();
    for p in 0..3 {
        assert!(privml::model_file::SavedModel::party_path(&prefix, p).exists());
    }
    let n = x.shape()[0];
    let rows = x.clone().into_shape_clone((n, x.len() / n)).unwrap();
    let job = PredictJob {
        model: ModelLocation::Prefix(prefix),
        data: Some(&rows),
        data_owner: 1,
    };
    let (out, _) = run_local(kind, &SharedConfig::default(), &job).unwrap();
    out.unwrap().scores
}

fn log_softmax(a: &Array2<f64>) -> Array2<f64> {
    let mut out = a.clone();
    for mut row in out.axis_iter_mut(Axis(0)) {
        let m = row.fold(f64::MIN, |m, v| m.max(*v));
        let lse = m + row.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
        row.mapv_inplace(|v| v - lse);
    }
    out
}

#[test]
fn each_operator_maps_to_one_layer() {
    let cases = [
        (
            "cnn_bn",
            "1x8x8",
            "conv:4k3p1,batchnorm:1e-5,relu,maxpool:2,conv:6k3/nobias,relu,avgpool:2,flatten,dense:5,relu,dense:3,softmax",
        ),
        ("mlp_opset11", "6", "dense:8,sigmoid:10d9,dense:4"),
        (
            "gap_hardsigmoid",
            "2x6x6",
            "conv:3k3p1,hardsigmoid:0.2,gap,flatten,dense:2",
        ),
    ];
    for (name, input, layers) in cases {
        let m = import(name);
        assert_eq!(m.spec.input_string(), input, "{name}");
        assert_eq!(m.spec.to_string(), layers, "{name}");
    }
    let m = import("mlp_opset11");
    assert_eq!(m.opset, 11);
    assert_eq!(
        (m.input_name.as_str(), m.output_name.as_str()),
        ("features", "logp")
    );
    assert!(m.notes[0].contains("LogSoftmax"), "{:?}", m.notes);
    // The sigmoid's approximation is the caller's choice.
    let hard = ImportOptions {
        sigmoid: privml::nn::LayerSpec::HardSigmoid { slope: 0.25 },
    };
    let m = import_file(&fixture("mlp_opset11.onnx"), &hard).unwrap();
    assert_eq!(m.spec.to_string(), "dense:8,hardsigmoid:0.25,dense:4");
}

#[test]
fn plain_inference_equals_onnxruntime() {
    // Exact layers (conv, batch norm folded into it, pooling, the shape
    // flatten, Gemm in every form): within 1e-5 of onnxruntime's float32.
    for name in ["cnn_bn_logits", "gap_hardsigmoid"] {
        let (x, want) = reference(name);
        let got = plain(&import(name), &x);
        let d = max_diff(&got, &want);
        assert!(d < 1e-5, "{name}: {d}");
    }
    // The softmax by privml's exponential and reciprocal (their documented
    // error): within 1e-3, same argmax.
    let (x, want) = reference("cnn_bn");
    let got = plain(&import("cnn_bn"), &x);
    assert!(max_diff(&got, &want) < 1e-3, "{}", max_diff(&got, &want));
    assert_eq!(argmax(&got), argmax(&want));
    // The sigmoid by its degree-9 Chebyshev polynomial on [-10, 10] (an
    // error up to about 1e-2 per hidden unit, carried through the last
    // Gemm), and the final LogSoftmax left to the reader of the logits.
    let (x, want) = reference("mlp_opset11");
    let got = log_softmax(&plain(&import("mlp_opset11"), &x));
    assert!(max_diff(&got, &want) < 3e-2, "{}", max_diff(&got, &want));
    assert_eq!(argmax(&got), argmax(&want));
}

#[test]
fn shared_inference_equals_onnxruntime_within_fixed_point_tolerance() {
    // Z_2^64 with 16 fraction bits: each product is truncated (error 2^-16
    // per truncation), a few layers deep.
    for (name, tol) in [
        ("cnn_bn_logits", 2e-3),
        ("cnn_bn", 3e-3),
        ("gap_hardsigmoid", 2e-3),
    ] {
        let (x, want) = reference(name);
        for kind in SECURE {
            let got = shared(kind, &import(name), &x);
            let d = max_diff(&got, &want);
            assert!(d < tol, "{name} on {kind}: {d}");
            assert_eq!(argmax(&got), argmax(&want), "{name} on {kind}");
        }
    }
    let (x, want) = reference("mlp_opset11");
    for kind in SECURE {
        let got = log_softmax(&shared(kind, &import("mlp_opset11"), &x));
        let d = max_diff(&got, &want);
        assert!(d < 4e-2, "{kind}: {d}");
        assert_eq!(argmax(&got), argmax(&want), "{kind}");
    }
}

#[test]
fn operators_off_the_allow_list_and_branches_are_refused_by_name() {
    let e = import_file(&fixture("refused_tanh.onnx"), &ImportOptions::default()).unwrap_err();
    match &e {
        Error::Onnx(OnnxError::UnsupportedOperator { op, node }) => {
            assert_eq!((op.as_str(), node.as_str()), ("Tanh", "the_tanh"));
        }
        other => panic!("{other:?}"),
    }
    let msg = e.to_string();
    assert!(
        msg.contains("Gemm, MatMul") && msg.contains("BatchNormalization"),
        "{msg}"
    );
    let e = import_file(&fixture("refused_residual.onnx"), &ImportOptions::default()).unwrap_err();
    match e {
        Error::Onnx(OnnxError::Unsupported { op, node, reason }) => {
            assert_eq!((op.as_str(), node.as_str()), ("Add", "skip_add"));
            assert!(reason.contains("no branches"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn corrupt_and_truncated_files_are_typed_errors() {
    let bytes = std::fs::read(fixture("cnn_bn.onnx")).unwrap();
    let opts = ImportOptions::default();
    // Every truncation is an error, never a panic or a partial model.
    for len in 0..bytes.len() {
        let e = import_bytes(&bytes[..len], Origin::Bytes, &opts).unwrap_err();
        assert!(
            matches!(e, Error::Decode { .. } | Error::Onnx(_)),
            "{len}: {e:?}"
        );
    }
    // Garbage and a flipped length byte.
    let e = import_bytes(b"PK\x03\x04 not protobuf", Origin::Bytes, &opts).unwrap_err();
    assert!(
        matches!(
            e,
            Error::Decode {
                error: DecodeError::Protobuf(_),
                ..
            }
        ),
        "{e:?}"
    );
    let mut bad = bytes.clone();
    bad[1] = 0xff;
    assert!(import_bytes(&bad, Origin::Bytes, &opts).is_err());
    // A missing file names the path.
    let missing = fixture("absent.onnx");
    match import_file(&missing, &opts).unwrap_err() {
        Error::FileIo { path, .. } => assert_eq!(path, missing),
        other => panic!("{other:?}"),
    }
}

#[test]
fn data_of_the_wrong_shape_is_refused() {
    let model = import("gap_hardsigmoid");
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("m");
    let job = ImportJob {
        model: Some(&model),
        out_prefix: prefix.clone(),
        owner: 0,
    };
    run_local(DomainKind::Plain, &SharedConfig::default(), &job).unwrap();
    let rows = Array2::<f64>::zeros((2, 71));
    let job = PredictJob {
        model: ModelLocation::Prefix(prefix),
        data: Some(&rows),
        data_owner: 1,
    };
    match run_local(DomainKind::Plain, &SharedConfig::default(), &job).unwrap_err() {
        Error::ShapeMismatch { left, right, .. } => {
            assert_eq!((left, right), (vec![2, 71], vec![2, 72]));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn export_then_import_gives_the_same_predictions() {
    // The folded model (as saved) exported from the clear...
    let model = import("cnn_bn_logits");
    let (x, want) = reference("cnn_bn_logits");
    let mut r = Plain::new();
    let net = Network::with_parameters(&mut r, &model.spec, Some(&model.parameters)).unwrap();
    let folded = net.reveal_parameters(&mut r).unwrap();
    let bytes = export_bytes(net.spec(), &folded).unwrap();
    let back = import_bytes(&bytes, Origin::Bytes, &ImportOptions::default()).unwrap();
    assert_eq!(&back.spec, net.spec());
    let d = max_diff(&plain(&back, &x), &want);
    assert!(d < 1e-5, "{d}");

    // ...and from shares, opened to the model owner only by ExportJob.
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("m");
    let job = ImportJob {
        model: Some(&model),
        out_prefix: prefix.clone(),
        owner: 0,
    };
    run_local(DomainKind::Shared64, &SharedConfig::default(), &job).unwrap();
    let out = dir.path().join("exported.onnx");
    let job = ExportJob {
        model: ModelLocation::Prefix(prefix),
        out: out.clone(),
        owner: 0,
    };
    let (written, _) = run_local(DomainKind::Shared64, &SharedConfig::default(), &job).unwrap();
    assert_eq!(written, Some(out.clone()));
    let again = import_file(&out, &ImportOptions::default()).unwrap();
    assert_eq!(&again.spec, net.spec());
    let got = plain(&again, &x);
    // The weights went through 16-bit fixed point.
    assert!(max_diff(&got, &want) < 1e-3, "{}", max_diff(&got, &want));
    assert_eq!(argmax(&got), argmax(&want));
}
