//! Each allow-listed ONNX operator alone, in a model built here with the
//! onnx.proto messages, against an independent f64 reference (plain loops
//! in this file), and the forms privml refuses, by name.

use ndarray::{Array2, ArrayD, IxDyn};
use privml::nn::Network;
use privml::onnx::proto::{
    AttributeProto, Dimension, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto,
    TensorShapeProto, TensorTypeProto, TypeProto, ValueInfoProto,
};
use privml::onnx::{ImportOptions, ImportedModel, OnnxError, import_bytes};
use privml::{Error, Origin, Plain, Ring};
use prost::Message;

fn tensor(name: &str, dims: &[usize], values: &[f32]) -> TensorProto {
    TensorProto {
        dims: dims.iter().map(|d| *d as i64).collect(),
        data_type: 1,
        name: name.into(),
        float_data: values.to_vec(),
        ..TensorProto::default()
    }
}

fn ints_tensor(name: &str, values: &[i64]) -> TensorProto {
    TensorProto {
        dims: vec![values.len() as i64],
        data_type: 7,
        name: name.into(),
        int64_data: values.to_vec(),
        ..TensorProto::default()
    }
}

fn int(name: &str, i: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        i,
        r#type: 2,
        ..AttributeProto::default()
    }
}

fn float(name: &str, f: f32) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        f,
        r#type: 1,
        ..AttributeProto::default()
    }
}

fn ints(name: &str, v: &[i64]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        ints: v.to_vec(),
        r#type: 7,
        ..AttributeProto::default()
    }
}

fn string(name: &str, s: &str) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        s: s.as_bytes().to_vec(),
        r#type: 3,
        ..AttributeProto::default()
    }
}

fn node(op: &str, inputs: &[&str], output: &str, attribute: Vec<AttributeProto>) -> NodeProto {
    NodeProto {
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![output.into()],
        name: format!("{op}_node"),
        op_type: op.into(),
        attribute,
        ..NodeProto::default()
    }
}

fn info(name: &str, dims: &[usize]) -> ValueInfoProto {
    let dim = std::iter::once(Dimension {
        dim_value: None,
        dim_param: Some("N".into()),
    })
    .chain(dims.iter().map(|d| Dimension {
        dim_value: Some(*d as i64),
        dim_param: None,
    }))
    .collect();
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            tensor_type: Some(TensorTypeProto {
                elem_type: 1,
                shape: Some(TensorShapeProto { dim }),
            }),
        }),
        ..ValueInfoProto::default()
    }
}

/// A model of `nodes` from "x" (shape `input` after the batch) to `out`.
fn model(
    opset: i64,
    input: &[usize],
    nodes: Vec<NodeProto>,
    inits: Vec<TensorProto>,
    out: &str,
) -> Vec<u8> {
    ModelProto {
        ir_version: 8,
        graph: Some(GraphProto {
            node: nodes,
            name: "g".into(),
            initializer: inits,
            input: vec![info("x", input)],
            output: vec![info(out, &[])],
            ..GraphProto::default()
        }),
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: opset,
        }],
        ..ModelProto::default()
    }
    .encode_to_vec()
}

fn import(bytes: &[u8]) -> privml::Result<ImportedModel> {
    import_bytes(bytes, Origin::Bytes, &ImportOptions::default())
}

fn run(m: &ImportedModel, x: &ArrayD<f64>) -> ArrayD<f64> {
    let mut r = Plain::new();
    let mut net = Network::with_parameters(&mut r, &m.spec, Some(&m.parameters)).unwrap();
    let x = r.constant(x).unwrap();
    let y = net.predict(&mut r, &x).unwrap();
    r.reveal(&y).unwrap()
}

fn close(a: &ArrayD<f64>, b: &ArrayD<f64>, tol: f64) {
    assert_eq!(a.shape(), b.shape());
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() < tol, "{x} vs {y}\n{a}\n{b}");
    }
}

fn values(n: usize, seed: u64) -> Vec<f32> {
    // A fixed, irregular sequence in [-1, 1).
    (0..n)
        .map(|i| (((i as u64 * 2654435761 + seed * 97) % 1000) as f32 / 500.0) - 1.0)
        .collect()
}

fn refusal(bytes: &[u8]) -> OnnxError {
    match import(bytes).unwrap_err() {
        Error::Onnx(e) => e,
        other => panic!("{other:?}"),
    }
}

#[test]
fn gemm_in_every_form_equals_the_formula() {
    let (k, n) = (3, 2);
    let x = ArrayD::from_shape_vec(
        IxDyn(&[4, k]),
        values(4 * k, 1).iter().map(|v| f64::from(*v)).collect(),
    )
    .unwrap();
    for (trans_b, alpha, beta, c_dims) in [
        (0, 1.0, 1.0, vec![n]),
        (1, 1.0, 1.0, vec![1, n]),
        (1, 0.5, 2.0, vec![]),
        (0, -1.5, 0.25, vec![1]),
    ] {
        let b = values(k * n, 2);
        let c = values(c_dims.iter().product::<usize>().max(1), 3);
        let b_dims = if trans_b == 1 { [n, k] } else { [k, n] };
        let bytes = model(
            13,
            &[k],
            vec![node(
                "Gemm",
                &["x", "b", "c"],
                "y",
                vec![
                    int("transB", trans_b),
                    float("alpha", alpha),
                    float("beta", beta),
                ],
            )],
            vec![tensor("b", &b_dims, &b), tensor("c", &c_dims, &c)],
            "y",
        );
        let m = import(&bytes).unwrap();
        assert_eq!(m.spec.to_string(), "dense:2");
        let mut want = Array2::<f64>::zeros((4, n));
        for i in 0..4 {
            for j in 0..n {
                let mut s = 0.0;
                for l in 0..k {
                    let bl = if trans_b == 1 {
                        b[j * k + l]
                    } else {
                        b[l * n + j]
                    };
                    s += x[[i, l]] * f64::from(bl);
                }
                let cj = if c.len() == 1 { c[0] } else { c[j] };
                want[[i, j]] = f64::from(alpha) * s + f64::from(beta) * f64::from(cj);
            }
        }
        close(&run(&m, &x), &want.into_dyn(), 1e-5);
    }
    // transA would move the batch axis.
    let bytes = model(
        13,
        &[2],
        vec![node("Gemm", &["x", "b"], "y", vec![int("transA", 1)])],
        vec![tensor("b", &[2, 2], &[1.0; 4])],
        "y",
    );
    assert!(
        matches!(refusal(&bytes), OnnxError::Unsupported { reason, .. } if reason.contains("transA"))
    );
}

#[test]
fn matmul_with_bias_scale_and_division_folds_into_one_dense_layer() {
    let w = values(6, 4);
    let (b, s, d) = ([0.5f32, -0.25], [2.0f32, -1.0], [4.0f32]);
    let bytes = model(
        13,
        &[3],
        vec![
            node("MatMul", &["x", "w"], "h", vec![]),
            node("Add", &["b", "h"], "h1", vec![]),
            node("Mul", &["h1", "s"], "h2", vec![]),
            node("Div", &["h2", "d"], "h3", vec![]),
            node("Sub", &["h3", "b"], "y", vec![]),
        ],
        vec![
            tensor("w", &[3, 2], &w),
            tensor("b", &[2], &b),
            tensor("s", &[1, 2], &s),
            tensor("d", &[], &d),
        ],
        "y",
    );
    let m = import(&bytes).unwrap();
    assert_eq!(m.spec.to_string(), "dense:2");
    let x = ArrayD::from_shape_vec(IxDyn(&[2, 3]), vec![0.1, -0.2, 0.3, 1.0, 0.5, -0.5]).unwrap();
    let mut want = ArrayD::zeros(IxDyn(&[2, 2]));
    for i in 0..2 {
        for j in 0..2 {
            let h: f64 = (0..3).map(|l| x[[i, l]] * f64::from(w[l * 2 + j])).sum();
            want[[i, j]] =
                (h + f64::from(b[j])) * f64::from(s[j]) / f64::from(d[0]) - f64::from(b[j]);
        }
    }
    close(&run(&m, &x), &want, 1e-5);
    // A constant Add with nothing affine before it is refused.
    let bytes = model(
        13,
        &[2],
        vec![
            node("Relu", &["x"], "r", vec![]),
            node("Add", &["r", "b"], "y", vec![]),
        ],
        vec![tensor("b", &[2], &b)],
        "y",
    );
    assert!(matches!(refusal(&bytes), OnnxError::Unsupported { op, .. } if op == "Add"));
}

/// Direct loop-nest convolution of one image [c, h, w] with zero padding.
fn conv_ref(
    x: &ArrayD<f64>,
    w: &[f32],
    out_c: usize,
    k: usize,
    stride: usize,
    pad: usize,
) -> ArrayD<f64> {
    let (n, c, h, wd) = (x.shape()[0], x.shape()[1], x.shape()[2], x.shape()[3]);
    let (oh, ow) = (
        (h + 2 * pad - k) / stride + 1,
        (wd + 2 * pad - k) / stride + 1,
    );
    let mut y = ArrayD::zeros(IxDyn(&[n, out_c, oh, ow]));
    for b in 0..n {
        for o in 0..out_c {
            for i in 0..oh {
                for j in 0..ow {
                    let mut s = 0.0;
                    for ch in 0..c {
                        for u in 0..k {
                            for v in 0..k {
                                let (r, q) = (
                                    (i * stride + u) as isize - pad as isize,
                                    (j * stride + v) as isize - pad as isize,
                                );
                                if r >= 0 && q >= 0 && (r as usize) < h && (q as usize) < wd {
                                    s += x[[b, ch, r as usize, q as usize]]
                                        * f64::from(w[((o * c + ch) * k + u) * k + v]);
                                }
                            }
                        }
                    }
                    y[[b, o, i, j]] = s;
                }
            }
        }
    }
    y
}

#[test]
fn conv_pads_strides_and_auto_pad() {
    let x = ArrayD::from_shape_vec(
        IxDyn(&[2, 2, 5, 5]),
        values(100, 5).iter().map(|v| f64::from(*v)).collect(),
    )
    .unwrap();
    let w = values(3 * 2 * 9, 6);
    for (attrs, stride, pad, layer) in [
        (vec![ints("pads", &[1, 1, 1, 1])], 1, 1, "conv:3k3p1/nobias"),
        (vec![ints("strides", &[2, 2])], 2, 0, "conv:3k3s2/nobias"),
        (
            vec![string("auto_pad", "SAME_UPPER")],
            1,
            1,
            "conv:3k3p1/nobias",
        ),
        (
            vec![string("auto_pad", "VALID"), ints("kernel_shape", &[3, 3])],
            1,
            0,
            "conv:3k3/nobias",
        ),
    ] {
        let bytes = model(
            11,
            &[2, 5, 5],
            vec![node("Conv", &["x", "w"], "y", attrs)],
            vec![tensor("w", &[3, 2, 3, 3], &w)],
            "y",
        );
        let m = import(&bytes).unwrap();
        assert_eq!(m.spec.to_string(), layer);
        close(&run(&m, &x), &conv_ref(&x, &w, 3, 3, stride, pad), 1e-5);
    }
    for (attrs, why) in [
        (vec![int("group", 2)], "grouped"),
        (vec![ints("dilations", &[2, 2])], "dilated"),
        (vec![ints("pads", &[1, 0, 0, 1])], "symmetrically"),
    ] {
        let bytes = model(
            11,
            &[2, 5, 5],
            vec![node("Conv", &["x", "w"], "y", attrs)],
            vec![tensor("w", &[3, 2, 3, 3], &w)],
            "y",
        );
        assert!(
            matches!(refusal(&bytes), OnnxError::Unsupported { reason, .. } if reason.contains(why))
        );
    }
}

#[test]
fn pooling_flatten_and_activations() {
    let x = ArrayD::from_shape_vec(
        IxDyn(&[1, 1, 4, 4]),
        values(16, 7).iter().map(|v| f64::from(*v)).collect(),
    )
    .unwrap();
    let pick = |f: fn(&[f64]) -> f64| {
        let mut y = ArrayD::zeros(IxDyn(&[1, 1, 2, 2]));
        for i in 0..2 {
            for j in 0..2 {
                let w = [
                    x[[0, 0, 2 * i, 2 * j]],
                    x[[0, 0, 2 * i, 2 * j + 1]],
                    x[[0, 0, 2 * i + 1, 2 * j]],
                    x[[0, 0, 2 * i + 1, 2 * j + 1]],
                ];
                y[[0, 0, i, j]] = f(&w);
            }
        }
        y
    };
    let pool = |op: &str| {
        model(
            13,
            &[1, 4, 4],
            vec![node(
                op,
                &["x"],
                "y",
                vec![ints("kernel_shape", &[2, 2]), ints("strides", &[2, 2])],
            )],
            vec![],
            "y",
        )
    };
    close(
        &run(&import(&pool("MaxPool")).unwrap(), &x),
        &pick(|w| w.iter().copied().fold(f64::MIN, f64::max)),
        1e-9,
    );
    close(
        &run(&import(&pool("AveragePool")).unwrap(), &x),
        &pick(|w| w.iter().sum::<f64>() / 4.0),
        1e-9,
    );
    let gap = import(&model(
        13,
        &[1, 4, 4],
        vec![node("GlobalAveragePool", &["x"], "y", vec![])],
        vec![],
        "y",
    ))
    .unwrap();
    close(
        &run(&gap, &x),
        &ArrayD::from_elem(IxDyn(&[1, 1, 1, 1]), x.sum() / 16.0),
        1e-9,
    );
    // Flatten, then Relu, Identity, Dropout, HardSigmoid, Softmax.
    let bytes = model(
        13,
        &[1, 4, 4],
        vec![
            node("Flatten", &["x"], "f", vec![int("axis", 1)]),
            node("Relu", &["f"], "r", vec![]),
            node("Identity", &["r"], "i", vec![]),
            node("Dropout", &["i"], "d", vec![]),
            node("HardSigmoid", &["d"], "h", vec![float("alpha", 0.5)]),
            node("Softmax", &["h"], "y", vec![]),
        ],
        vec![],
        "y",
    );
    let m = import(&bytes).unwrap();
    assert_eq!(m.spec.to_string(), "flatten,relu,hardsigmoid:0.5,softmax");
    let h: Vec<f64> = x
        .iter()
        .map(|v| (0.5 * v.max(0.0) + 0.5).clamp(0.0, 1.0))
        .collect();
    let z: f64 = h.iter().map(|v| v.exp()).sum();
    let want =
        ArrayD::from_shape_vec(IxDyn(&[1, 16]), h.iter().map(|v| v.exp() / z).collect()).unwrap();
    close(&run(&m, &x), &want, 1e-3);
    // Padded pooling and a softmax over an image axis are refused.
    let bytes = model(
        13,
        &[1, 4, 4],
        vec![node(
            "MaxPool",
            &["x"],
            "y",
            vec![ints("kernel_shape", &[2, 2]), ints("pads", &[1, 1, 1, 1])],
        )],
        vec![],
        "y",
    );
    assert!(
        matches!(refusal(&bytes), OnnxError::Unsupported { reason, .. } if reason.contains("padded"))
    );
    let bytes = model(
        13,
        &[1, 4, 4],
        vec![node("Softmax", &["x"], "y", vec![int("axis", 1)])],
        vec![],
        "y",
    );
    assert!(matches!(refusal(&bytes), OnnxError::Unsupported { op, .. } if op == "Softmax"));
}

#[test]
fn batch_norm_folds_into_the_layer_before_it_and_nowhere_else() {
    let w = values(4, 8);
    let (scale, shift, mean, var) = ([1.5f32, 0.5], [0.1f32, -0.2], [0.3f32, -0.1], [0.5f32, 2.0]);
    let inits = || {
        vec![
            tensor("w", &[2, 2], &w),
            tensor("s", &[2], &scale),
            tensor("b", &[2], &shift),
            tensor("m", &[2], &mean),
            tensor("v", &[2], &var),
        ]
    };
    let bn = |input: &str| {
        node(
            "BatchNormalization",
            &[input, "s", "b", "m", "v"],
            "y",
            vec![float("epsilon", 1e-3)],
        )
    };
    let bytes = model(
        13,
        &[2],
        vec![node("MatMul", &["x", "w"], "h", vec![]), bn("h")],
        inits(),
        "y",
    );
    let m = import(&bytes).unwrap();
    assert_eq!(m.spec.to_string(), "dense:2/nobias,batchnorm:1e-3");
    let x = ArrayD::from_shape_vec(IxDyn(&[1, 2]), vec![0.7, -0.4]).unwrap();
    let mut want = ArrayD::zeros(IxDyn(&[1, 2]));
    for j in 0..2 {
        let h = x[[0, 0]] * f64::from(w[j]) + x[[0, 1]] * f64::from(w[2 + j]);
        want[[0, j]] = (h - f64::from(mean[j])) / (f64::from(var[j]) + 1e-3).sqrt()
            * f64::from(scale[j])
            + f64::from(shift[j]);
    }
    close(&run(&m, &x), &want, 1e-6);
    let bytes = model(
        13,
        &[2],
        vec![node("Relu", &["x"], "h", vec![]), bn("h")],
        inits(),
        "y",
    );
    assert!(
        matches!(refusal(&bytes), OnnxError::Unsupported { reason, .. } if reason.contains("folds"))
    );
}

#[test]
fn shape_sub_graphs_fold_and_reshape_forms() {
    // Reshape of the input before any layer sets the input shape; a
    // Reshape through Shape/Gather/Unsqueeze/Concat flattens.
    let bytes = model(
        13,
        &[16],
        vec![
            node("Reshape", &["x", "img"], "i", vec![]),
            node(
                "MaxPool",
                &["i"],
                "p",
                vec![ints("kernel_shape", &[2, 2]), ints("strides", &[2, 2])],
            ),
            node("Shape", &["p"], "s", vec![]),
            node("Gather", &["s", "zero"], "n", vec![int("axis", 0)]),
            node("Unsqueeze", &["n", "axes"], "n1", vec![]),
            node("Concat", &["n1", "rest"], "t", vec![int("axis", 0)]),
            node("Cast", &["t"], "t2", vec![int("to", 7)]),
            node("Reshape", &["p", "t2"], "y", vec![]),
        ],
        vec![
            ints_tensor("img", &[-1, 1, 4, 4]),
            TensorProto {
                dims: vec![],
                data_type: 7,
                name: "zero".into(),
                int64_data: vec![0],
                ..TensorProto::default()
            },
            ints_tensor("axes", &[0]),
            ints_tensor("rest", &[-1]),
        ],
        "y",
    );
    let m = import(&bytes).unwrap();
    assert_eq!(
        (m.spec.input_string().as_str(), m.spec.to_string().as_str()),
        ("1x4x4", "maxpool:2,flatten")
    );
    // A reshape between layers that is not a flatten is refused.
    let bytes = model(
        13,
        &[4],
        vec![
            node("Relu", &["x"], "r", vec![]),
            node("Reshape", &["r", "t"], "y", vec![]),
        ],
        vec![ints_tensor("t", &[0, 2, 2])],
        "y",
    );
    assert!(matches!(refusal(&bytes), OnnxError::Unsupported { op, .. } if op == "Reshape"));
}

#[test]
fn refusals_name_what_is_wrong() {
    // An operator of another domain, an old opset, a final LogSoftmax that
    // is not last, external data, an attribute privml does not read.
    let mut n = node("Relu", &["x"], "y", vec![]);
    n.domain = "com.microsoft".into();
    assert!(
        matches!(refusal(&model(13, &[2], vec![n], vec![], "y")), OnnxError::UnsupportedOperator { op, .. } if op == "com.microsoft.Relu")
    );
    assert_eq!(
        refusal(&model(
            10,
            &[2],
            vec![node("Relu", &["x"], "y", vec![])],
            vec![],
            "y"
        )),
        OnnxError::Opset { version: 10 }
    );
    let bytes = model(
        13,
        &[2],
        vec![
            node("LogSoftmax", &["x"], "l", vec![]),
            node("Relu", &["l"], "y", vec![]),
        ],
        vec![],
        "y",
    );
    assert!(
        matches!(refusal(&bytes), OnnxError::Unsupported { reason, .. } if reason.contains("last node"))
    );
    let mut ext = tensor("w", &[2, 2], &[]);
    ext.data_location = 1;
    let bytes = model(
        13,
        &[2],
        vec![node("MatMul", &["x", "w"], "y", vec![])],
        vec![ext],
        "y",
    );
    assert!(
        matches!(refusal(&bytes), OnnxError::BadTensor { reason, .. } if reason.contains("external"))
    );
    let bytes = model(
        13,
        &[2],
        vec![node("Relu", &["x"], "y", vec![int("bogus", 1)])],
        vec![],
        "y",
    );
    assert!(
        matches!(refusal(&bytes), OnnxError::Unsupported { reason, .. } if reason.contains("bogus"))
    );
    // A tensor that claims more values than it holds is refused before
    // allocating.
    let bytes = model(
        13,
        &[2],
        vec![node("MatMul", &["x", "w"], "y", vec![])],
        vec![tensor("w", &[1 << 40, 1 << 30], &[1.0])],
        "y",
    );
    assert!(matches!(refusal(&bytes), OnnxError::BadTensor { .. }));
    // An undefined input names itself.
    let bytes = model(
        13,
        &[2],
        vec![node("MatMul", &["x", "nowhere"], "y", vec![])],
        vec![],
        "y",
    );
    assert!(matches!(refusal(&bytes), OnnxError::UndefinedValue { name, .. } if name == "nowhere"));
}
