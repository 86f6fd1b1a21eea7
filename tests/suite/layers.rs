//! The layers of `nn`: forward and backward on `Plain` equal independent
//! f64 loop nests (direct convolution and pooling, not the im2col path)
//! and finite differences; `Fixed`, `Shared` and `Additive` (two parties)
//! agree with `Plain` within the fixed-point tolerance, with exactly the
//! communication `Plain` predicts; networks refuse descriptions and parameters that do not fit,
//! naming the layer; batch normalisation folds into the layer before it.

use crate::protocols;

use ndarray::{Array, ArrayD, IxDyn};
use privml::nn::{
    AvgPool2d, Conv2d, Flatten, GlobalAvgPool, MaxPool2d, Module, Network, NetworkSpec,
};
use privml::prelude::*;
use privml::{LayerProblem, SharedConfig, Window2d};
use protocols::on_both_protocols;

/// Deterministic pseudo-random values in [-1, 1) (distinct enough that
/// pooling windows have no ties).
fn values(shape: &[usize], seed: u64) -> ArrayD<f64> {
    let n: usize = shape.iter().product();
    let v: Vec<f64> = (0..n as u64)
        .map(|i| {
            let z = (i + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
                ^ seed.wrapping_mul(0xD1B5_4A32_D192_ED03);
            let z = (z ^ (z >> 29)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            ((z >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
        })
        .collect();
    Array::from_shape_vec(IxDyn(shape), v).unwrap()
}

// ----- independent references ------------------------------------------------

struct ConvCase {
    x: ArrayD<f64>,
    w: ArrayD<f64>,
    b: ArrayD<f64>,
    stride: usize,
    pad: usize,
}

impl ConvCase {
    fn new(
        n: usize,
        c: usize,
        hw: [usize; 2],
        o: usize,
        k: [usize; 2],
        stride: usize,
        pad: usize,
    ) -> Self {
        ConvCase {
            x: values(&[n, c, hw[0], hw[1]], 1),
            w: values(&[o, c, k[0], k[1]], 2),
            b: values(&[1, o], 3),
            stride,
            pad,
        }
    }

    fn window(&self) -> Window2d {
        let k = self.w.shape();
        Window2d::new([k[2], k[3]], [self.stride; 2], [self.pad; 2]).unwrap()
    }

    fn out_hw(&self) -> [usize; 2] {
        let (h, w) = (self.x.shape()[2], self.x.shape()[3]);
        let (kh, kw) = (self.w.shape()[2], self.w.shape()[3]);
        [
            (h + 2 * self.pad - kh) / self.stride + 1,
            (w + 2 * self.pad - kw) / self.stride + 1,
        ]
    }

    /// x at (img, ch, y, x) of the padded input, or 0.
    fn input_at(&self, img: usize, ch: usize, iy: isize, ix: isize) -> f64 {
        let (h, w) = (self.x.shape()[2] as isize, self.x.shape()[3] as isize);
        if iy < 0 || ix < 0 || iy >= h || ix >= w {
            0.0
        } else {
            self.x[[img, ch, iy as usize, ix as usize]]
        }
    }

    /// The direct convolution: y[n, o, oy, ox] = b[o] + Σ w · x.
    fn forward(&self) -> ArrayD<f64> {
        let [n, c] = [self.x.shape()[0], self.x.shape()[1]];
        let [o, _, kh, kw] = [self.w.shape()[0], 0, self.w.shape()[2], self.w.shape()[3]];
        let [oh, ow] = self.out_hw();
        let mut y = ArrayD::zeros(IxDyn(&[n, o, oh, ow]));
        for img in 0..n {
            for oc in 0..o {
                for oy in 0..oh {
                    for ox in 0..ow {
                        let mut s = self.b[[0, oc]];
                        for ch in 0..c {
                            for ky in 0..kh {
                                for kx in 0..kw {
                                    let iy = (oy * self.stride + ky) as isize - self.pad as isize;
                                    let ix = (ox * self.stride + kx) as isize - self.pad as isize;
                                    s += self.w[[oc, ch, ky, kx]] * self.input_at(img, ch, iy, ix);
                                }
                            }
                        }
                        y[[img, oc, oy, ox]] = s;
                    }
                }
            }
        }
        y
    }

    /// (dW, db, dX) of Σ δ ⊙ y, by the same loops.
    fn backward(&self, delta: &ArrayD<f64>) -> (ArrayD<f64>, ArrayD<f64>, ArrayD<f64>) {
        let [n, c, h, w] = [
            self.x.shape()[0],
            self.x.shape()[1],
            self.x.shape()[2],
            self.x.shape()[3],
        ];
        let [o, kh, kw] = [self.w.shape()[0], self.w.shape()[2], self.w.shape()[3]];
        let [oh, ow] = self.out_hw();
        let mut dw = ArrayD::zeros(self.w.raw_dim());
        let mut db = ArrayD::zeros(IxDyn(&[1, o]));
        let mut dx = ArrayD::zeros(IxDyn(&[n, c, h, w]));
        for img in 0..n {
            for oc in 0..o {
                for oy in 0..oh {
                    for ox in 0..ow {
                        let d = delta[[img, oc, oy, ox]];
                        db[[0, oc]] += d;
                        for ch in 0..c {
                            for ky in 0..kh {
                                for kx in 0..kw {
                                    let iy = (oy * self.stride + ky) as isize - self.pad as isize;
                                    let ix = (ox * self.stride + kx) as isize - self.pad as isize;
                                    dw[[oc, ch, ky, kx]] += d * self.input_at(img, ch, iy, ix);
                                    if iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < w
                                    {
                                        dx[[img, ch, iy as usize, ix as usize]] +=
                                            d * self.w[[oc, ch, ky, kx]];
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        (dw, db, dx)
    }
}

/// Max or mean pooling by loops: (output, the gradient of Σ δ ⊙ output).
fn pool_reference(
    x: &ArrayD<f64>,
    k: [usize; 2],
    s: [usize; 2],
    max: bool,
    delta: &ArrayD<f64>,
) -> (ArrayD<f64>, ArrayD<f64>) {
    let [n, c, h, w] = [x.shape()[0], x.shape()[1], x.shape()[2], x.shape()[3]];
    let (oh, ow) = ((h - k[0]) / s[0] + 1, (w - k[1]) / s[1] + 1);
    let mut y = ArrayD::zeros(IxDyn(&[n, c, oh, ow]));
    let mut dx = ArrayD::zeros(x.raw_dim());
    for img in 0..n {
        for ch in 0..c {
            for oy in 0..oh {
                for ox in 0..ow {
                    let taps: Vec<(usize, usize)> = (0..k[0])
                        .flat_map(|ky| (0..k[1]).map(move |kx| (oy * s[0] + ky, ox * s[1] + kx)))
                        .collect();
                    let d = delta[[img, ch, oy, ox]];
                    if max {
                        let best = taps
                            .iter()
                            .copied()
                            .fold(None, |b: Option<(usize, usize)>, t| match b {
                                Some(b) if x[[img, ch, b.0, b.1]] >= x[[img, ch, t.0, t.1]] => {
                                    Some(b)
                                }
                                _ => Some(t),
                            })
                            .unwrap();
                        y[[img, ch, oy, ox]] = x[[img, ch, best.0, best.1]];
                        dx[[img, ch, best.0, best.1]] += d;
                    } else {
                        let m = taps.len() as f64;
                        y[[img, ch, oy, ox]] =
                            taps.iter().map(|t| x[[img, ch, t.0, t.1]]).sum::<f64>() / m;
                        for t in &taps {
                            dx[[img, ch, t.0, t.1]] += d / m;
                        }
                    }
                }
            }
        }
    }
    (y, dx)
}

fn assert_close(got: &ArrayD<f64>, want: &ArrayD<f64>, tol: f64, what: &str) {
    assert_eq!(got.shape(), want.shape(), "{what}: shapes");
    for (i, (g, w)) in got.iter().zip(want.iter()).enumerate() {
        assert!((g - w).abs() <= tol, "{what}: element {i}: {g} vs {w}");
    }
}

// ----- Plain against the references -------------------------------------------

fn conv_cases() -> Vec<ConvCase> {
    vec![
        ConvCase::new(2, 3, [6, 5], 4, [3, 3], 1, 0),
        ConvCase::new(1, 2, [7, 7], 3, [3, 2], 2, 1),
        ConvCase::new(2, 1, [5, 6], 2, [5, 5], 2, 2),
        ConvCase::new(1, 2, [4, 4], 2, [1, 1], 1, 0),
        ConvCase::new(1, 1, [5, 5], 2, [2, 2], 3, 1),
    ]
}

#[test]
fn conv_forward_and_backward_equal_the_loop_nest() {
    for (k, case) in conv_cases().iter().enumerate() {
        let mut r = Plain::new();
        let w = r.constant(&case.w).unwrap();
        let b = r.constant(&case.b).unwrap();
        let mut conv = Conv2d::new(&r, w, Some(b), case.window()).unwrap();
        let x = r.constant(&case.x).unwrap();
        let y = conv.forward(&mut r, &x, true).unwrap();
        assert_close(&y, &case.forward(), 1e-12, &format!("case {k} forward"));
        let delta = values(y.shape(), 9);
        let dx = conv.backward(&mut r, &delta, true).unwrap().unwrap();
        let grads = conv.take_gradients().unwrap();
        let (dw, db, dx_ref) = case.backward(&delta);
        assert_close(&grads[0], &dw, 1e-12, &format!("case {k} weight gradient"));
        assert_close(&grads[1], &db, 1e-12, &format!("case {k} bias gradient"));
        assert_close(&dx, &dx_ref, 1e-12, &format!("case {k} input gradient"));
        // the forward product has one output per output element, the
        // backward ones one per weight and one per input element
        let (n_out, n_w, n_in) = (y.len(), case.w.len(), case.x.len());
        assert_eq!(r.cost().matmul_outputs, (n_out + n_w + n_in) as u64);
    }
}

#[test]
fn pooling_equals_the_loop_nest() {
    for (k, s, hw) in [
        ([2, 2], [2, 2], [4, 6]),
        ([3, 3], [1, 1], [5, 5]),
        ([3, 2], [2, 2], [7, 6]),
        ([2, 2], [1, 1], [3, 4]),
    ] {
        let x = values(&[2, 3, hw[0], hw[1]], 5);
        for max in [true, false] {
            let mut r = Plain::new();
            let window = Window2d::new(k, s, [0, 0]).unwrap();
            let mut layer: Box<dyn Module<Plain>> = if max {
                Box::new(MaxPool2d::new(window))
            } else {
                Box::new(AvgPool2d::new(window))
            };
            let y = layer.forward(&mut r, &x, true).unwrap();
            let delta = values(y.shape(), 6);
            let (y_ref, dx_ref) = pool_reference(&x, k, s, max, &delta);
            assert_close(&y, &y_ref, 1e-12, &format!("{k:?}/{s:?} max={max} forward"));
            let dx = layer.backward(&mut r, &delta, true).unwrap().unwrap();
            assert_close(
                &dx,
                &dx_ref,
                1e-12,
                &format!("{k:?}/{s:?} max={max} backward"),
            );
        }
    }
    // global average pooling and flatten
    let x = values(&[2, 3, 4, 5], 7);
    let mut r = Plain::new();
    let mut gap = GlobalAvgPool::new();
    let y = Module::<Plain>::forward(&mut gap, &mut r, &x, true).unwrap();
    assert_eq!(y.shape(), &[2, 3, 1, 1]);
    let delta = values(&[2, 3, 1, 1], 8);
    let dx = Module::<Plain>::backward(&mut gap, &mut r, &delta, true)
        .unwrap()
        .unwrap();
    for (idx, _) in x.indexed_iter() {
        let (img, ch, i, j) = (idx[0], idx[1], idx[2], idx[3]);
        let mean: f64 = x.slice(ndarray::s![img, ch, .., ..]).sum() / 20.0;
        assert!((y[[img, ch, 0, 0]] - mean).abs() < 1e-12);
        assert!((dx[[img, ch, i, j]] - delta[[img, ch, 0, 0]] / 20.0).abs() < 1e-12);
    }
    let mut flat = Flatten::new();
    let f = Module::<Plain>::forward(&mut flat, &mut r, &x, true).unwrap();
    assert_eq!(f.shape(), &[2, 60]);
    assert_eq!(
        f.iter().copied().collect::<Vec<_>>(),
        x.iter().copied().collect::<Vec<_>>()
    );
    let back = Module::<Plain>::backward(&mut flat, &mut r, &f, true)
        .unwrap()
        .unwrap();
    assert_eq!(back, x);
}

/// Σ δ ⊙ net(x) for the network with parameters `params`.
fn objective(
    spec: &NetworkSpec,
    params: &[ArrayD<f64>],
    x: &ArrayD<f64>,
    delta: &ArrayD<f64>,
) -> f64 {
    let mut r = Plain::new();
    let mut net = Network::with_parameters(&mut r, spec, Some(params)).unwrap();
    let xs = r.constant(x).unwrap();
    let y = net.predict(&mut r, &xs).unwrap();
    (&y * delta).sum()
}

#[test]
fn network_gradients_match_finite_differences() {
    // every layer with an exact derivative: convolutions with stride and
    // padding, both poolings, global pooling, flatten, dense, ReLU and the
    // piecewise-linear sigmoid
    let spec = NetworkSpec::parse(
        "conv:3k3p1,relu,maxpool:2,conv:4k2s2p1,hardsigmoid:0.5,avgpool:2s1,gap,flatten,dense:5,relu,dense:3",
        "2x6x6",
    )
    .unwrap();
    let shapes = spec.parameter_shapes().unwrap();
    let params: Vec<ArrayD<f64>> = shapes
        .iter()
        .enumerate()
        .map(|(k, (_, _, s))| values(s, 20 + k as u64).mapv(|v| v * 0.8))
        .collect();
    let x = values(&[3, 2, 6, 6], 11);
    let delta = values(&[3, 3], 12);
    let mut r = Plain::new();
    let mut net = Network::with_parameters(&mut r, &spec, Some(&params)).unwrap();
    let xs = r.constant(&x).unwrap();
    net.forward(&mut r, &xs).unwrap();
    net.backward(&mut r, &delta).unwrap();
    let grads = net.take_gradients().unwrap();
    assert_eq!(grads.len(), params.len());
    let h = 1e-6;
    for (k, g) in grads.iter().enumerate() {
        for idx in [0, g.len() / 2, g.len() - 1] {
            let mut plus = params.clone();
            let mut minus = params.clone();
            plus[k].as_slice_mut().unwrap()[idx] += h;
            minus[k].as_slice_mut().unwrap()[idx] -= h;
            let numeric = (objective(&spec, &plus, &x, &delta)
                - objective(&spec, &minus, &x, &delta))
                / (2.0 * h);
            let analytic = g.as_slice().unwrap()[idx];
            assert!(
                (numeric - analytic).abs() < 1e-6 * (1.0 + numeric.abs()),
                "parameter {k} ({}), element {idx}: numeric {numeric}, backward {analytic}",
                shapes[k].1
            );
        }
    }
}

#[test]
fn input_gradients_match_finite_differences() {
    let case = ConvCase::new(1, 2, [5, 5], 3, [3, 3], 2, 1);
    let mut r = Plain::new();
    let w = r.constant(&case.w).unwrap();
    let mut conv = Conv2d::new(&r, w, None, case.window()).unwrap();
    let y = conv.forward(&mut r, &case.x, true).unwrap();
    let delta = values(y.shape(), 4);
    let dx = conv.backward(&mut r, &delta, true).unwrap().unwrap();
    let h = 1e-6;
    for idx in [0, 7, 24, 49] {
        let mut f = |s: f64| {
            let mut x = case.x.clone();
            x.as_slice_mut().unwrap()[idx] += s;
            let mut r = Plain::new();
            let y = conv.forward(&mut r, &x, false).unwrap();
            (&y * &delta).sum()
        };
        let numeric = (f(h) - f(-h)) / (2.0 * h);
        assert!(
            (numeric - dx.as_slice().unwrap()[idx]).abs() < 1e-6,
            "{idx}"
        );
    }
}

// ----- the three domains ----------------------------------------------------

/// One layer case for the domain comparison: a description, an input shape,
/// and whether to run backward.
struct LayerCase {
    spec: &'static str,
    input: &'static str,
    batch: usize,
}

/// Forward and backward of a small network on any domain: revealed output,
/// gradients, and the cost of forward + backward.
fn run_network<R: Ring + 'static>(
    r: &mut R,
    case: &LayerCase,
) -> Result<(Vec<ArrayD<f64>>, privml::Cost)> {
    let spec = NetworkSpec::parse(case.spec, case.input)?;
    let shapes = spec.parameter_shapes()?;
    let params: Vec<ArrayD<f64>> = shapes
        .iter()
        .enumerate()
        .map(|(k, (_, _, s))| values(s, 40 + k as u64))
        .collect();
    let mut net = Network::with_parameters(r, &spec, r.owns(0).then_some(params.as_slice()))?;
    let mut in_shape = vec![case.batch];
    in_shape.extend(&spec.input);
    let xv = values(&in_shape, 41).mapv(|v| 2.0 * v);
    let x = r.input(1, r.owns(1).then_some(&xv), &in_shape)?;
    let mut out_shape = vec![case.batch];
    out_shape.extend(spec.output_shape()?);
    let dv = values(&out_shape, 42);
    let delta = r.input(0, r.owns(0).then_some(&dv), &out_shape)?;
    let before = r.cost();
    let y = net.forward(r, &x)?;
    net.backward(r, &delta)?;
    let grads = net.take_gradients()?;
    let cost = r.cost().since(&before);
    let mut out = vec![r.reveal(&y)?];
    for g in &grads {
        out.push(r.reveal(g)?);
    }
    Ok((out, cost))
}

#[test]
fn every_layer_agrees_across_domains_with_the_predicted_cost() {
    let cases = [
        LayerCase {
            spec: "conv:3k3p1,dense:2",
            input: "2x5x5",
            batch: 2,
        },
        LayerCase {
            spec: "conv:2k3s2,relu,dense:2",
            input: "1x7x6",
            batch: 2,
        },
        LayerCase {
            spec: "maxpool:2,flatten,dense:2",
            input: "2x4x4",
            batch: 2,
        },
        LayerCase {
            spec: "maxpool:3s1,dense:2",
            input: "1x4x5",
            batch: 1,
        },
        LayerCase {
            spec: "avgpool:2,gap,flatten,dense:2",
            input: "2x4x4",
            batch: 2,
        },
        LayerCase {
            spec: "dense:4,hardsigmoid,dense:3,softmax",
            input: "5",
            batch: 3,
        },
        LayerCase {
            spec: "dense:4,sigmoid:4d5,dense:2",
            input: "3",
            batch: 2,
        },
    ];
    for case in &cases {
        let (plain, plain_cost) = run_network(&mut Plain::new(), case).unwrap();
        let (fixed, fixed_cost) = run_network(&mut Fixed::<u64>::new(), case).unwrap();
        assert_eq!(
            fixed_cost, plain_cost,
            "{}: fixed predicts what plain predicts",
            case.spec
        );
        let close = |got: &Vec<ArrayD<f64>>, name: &str| {
            for (k, (g, p)) in got.iter().zip(&plain).enumerate() {
                let tol = 3e-3 * (1.0 + p.iter().fold(0.0f64, |m, v| m.max(v.abs())));
                assert_close(g, p, tol, &format!("{} {name} tensor {k}", case.spec));
            }
        };
        close(&fixed, "fixed");
        let cfg = SharedConfig::default().insecure_test_seed(5);
        for run in on_both_protocols!(&cfg, |r| run_network(r, case).map(|(out, _)| out)) {
            // the whole program's cost, inputs and reveals included
            let mut model = run.plain();
            run_network(&mut model, case).unwrap();
            assert_eq!(
                run.cost,
                model.cost(),
                "{} on {}: the transport carried the prediction",
                case.spec,
                run.name()
            );
            close(run.first(), run.name());
            assert_eq!(run.outputs[0], run.outputs[1]);
        }
    }
}

// ----- building networks ---------------------------------------------------------

#[test]
fn parameters_that_do_not_fit_name_the_layer() {
    let spec = NetworkSpec::parse("conv:2k3,relu,dense:2", "1x5x5").unwrap();
    let mut params: Vec<ArrayD<f64>> = spec
        .parameter_shapes()
        .unwrap()
        .iter()
        .map(|(_, _, s)| ArrayD::zeros(IxDyn(s)))
        .collect();
    let mut r = Plain::new();
    assert!(Network::with_parameters(&mut r, &spec, Some(&params)).is_ok());
    params[2] = ArrayD::zeros(IxDyn(&[18, 3]));
    match Network::with_parameters(&mut r, &spec, Some(&params)) {
        Err(Error::Layer {
            index: 3,
            problem:
                LayerProblem::ParameterShape {
                    name: "weights", ..
                },
            ..
        }) => {}
        other => panic!("{:?}", other.err()),
    }
    params[2] = ArrayD::zeros(IxDyn(&[18, 2]));
    params.truncate(3);
    assert!(matches!(
        Network::with_parameters(&mut r, &spec, Some(&params)),
        Err(Error::Layer {
            index: 3,
            problem: LayerProblem::MissingParameter { name: "bias", .. },
            ..
        })
    ));
    // loaded tensors are checked the same way
    let t: Vec<ArrayD<f64>> = vec![ArrayD::zeros(IxDyn(&[2, 1, 3, 3]))];
    assert!(matches!(
        Network::from_tensors(&mut r, &spec, t),
        Err(Error::Layer {
            index: 1,
            problem: LayerProblem::MissingParameter { name: "bias", .. },
            ..
        })
    ));
    // a batch normalisation cannot be trained, nor follow an activation
    let bn = NetworkSpec::parse("conv:2k3,batchnorm,relu", "1x5x5").unwrap();
    assert!(matches!(
        Network::init(&mut r, &bn, 1),
        Err(Error::Layer {
            index: 2,
            problem: LayerProblem::Unsupported(_),
            ..
        })
    ));
    let late = NetworkSpec::parse("conv:2k3,relu,batchnorm", "1x5x5").unwrap();
    let zeros: Vec<ArrayD<f64>> = late
        .parameter_shapes()
        .unwrap()
        .iter()
        .map(|(_, _, s)| ArrayD::ones(IxDyn(s)))
        .collect();
    assert!(matches!(
        Network::with_parameters(&mut r, &late, Some(&zeros)),
        Err(Error::Layer {
            index: 3,
            problem: LayerProblem::Unsupported(_),
            ..
        })
    ));
    // an input of the wrong shape
    let mut net = Network::init(&mut r, &spec, 1).unwrap();
    let x = r.constant(&ArrayD::zeros(IxDyn(&[2, 1, 5, 4]))).unwrap();
    assert!(matches!(
        net.forward(&mut r, &x),
        Err(Error::ShapeMismatch {
            op: "network input",
            ..
        })
    ));
}

#[test]
fn batch_norm_folds_into_the_layer_before_it() {
    for (layers, input) in [
        ("conv:3k2,batchnorm:0.01,relu,dense:2", "2x4x4"),
        ("dense:4/nobias,batchnorm,relu", "3"),
    ] {
        let spec = NetworkSpec::parse(layers, input).unwrap();
        let shapes = spec.parameter_shapes().unwrap();
        let params: Vec<ArrayD<f64>> = shapes
            .iter()
            .enumerate()
            .map(|(k, (_, name, s))| match *name {
                "variance" => values(s, k as u64).mapv(|v| v.abs() + 0.2),
                _ => values(s, k as u64),
            })
            .collect();
        let mut in_shape = vec![3];
        in_shape.extend(&spec.input);
        let x = values(&in_shape, 77);
        let mut r = Plain::new();
        let mut net = Network::with_parameters(&mut r, &spec, Some(&params)).unwrap();
        assert!(!net.spec().to_string().contains("batchnorm"));
        let y = net.predict(&mut r, &x).unwrap();
        // the same by hand: the affine layer, then the normalisation
        let bn_at = spec
            .layers
            .iter()
            .position(|l| l.to_string().starts_with("batchnorm"))
            .unwrap();
        let before = NetworkSpec {
            input: spec.input.clone(),
            layers: spec.layers[..bn_at].to_vec(),
        };
        let n_before = before.parameter_shapes().unwrap().len();
        let mut r2 = Plain::new();
        let mut first =
            Network::with_parameters(&mut r2, &before, Some(&params[..n_before])).unwrap();
        let z = first.predict(&mut r2, &x).unwrap();
        let eps = if layers.contains("0.01") { 0.01 } else { 1e-5 };
        let [scale, shift, mean, var] = &params[n_before..n_before + 4] else {
            panic!()
        };
        let mut normed = z.clone();
        for ((idx, v), out) in z.indexed_iter().zip(normed.iter_mut()) {
            let c = idx[1];
            *out = (v - mean[c]) * scale[c] / (var[c] + eps).sqrt() + shift[c];
        }
        let after = NetworkSpec {
            input: normed.shape()[1..].to_vec(),
            layers: spec.layers[bn_at + 1..].to_vec(),
        };
        let mut r3 = Plain::new();
        let mut rest =
            Network::with_parameters(&mut r3, &after, Some(&params[n_before + 4..])).unwrap();
        let want = rest.predict(&mut r3, &normed).unwrap();
        assert_close(&y, &want, 1e-12, layers);
    }
}

#[test]
fn gather_plans_refuse_shapes_they_were_not_built_for() {
    let w = Window2d::square(3, 1, 0).unwrap();
    assert!(privml::Gather::im2col(&[1, 1, 2, 2], &w).is_err());
    assert!(privml::Gather::im2col(&[1, 2, 2], &w).is_err());
    assert!(
        privml::Gather::pool_windows(&[1, 1, 5, 4], &Window2d::square(2, 2, 0).unwrap()).is_err()
    );
    assert!(
        privml::Gather::pool_windows(&[1, 1, 4, 4], &Window2d::square(2, 2, 1).unwrap()).is_err()
    );
    assert!(privml::Gather::permute(&[2, 3], &[0, 0]).is_err());
    assert!(Window2d::new([0, 1], [1, 1], [0, 0]).is_err());
}
