//! [`Network`]: the layers of a [`NetworkSpec`] as [`Module`]s, chained,
//! with forward, backward and the parameters, generic over the domain.

use ndarray::{ArrayD, Axis, IxDyn};

use super::conv::Conv2d;
use super::init::Sampler;
use super::layers::{Activation, ActivationLayer, Dense};
use super::module::{Flatten, Module, Softmax};
use super::pool::{AvgPool2d, GlobalAvgPool, MaxPool2d};
use super::presets::MODEL_OWNER;
use super::spec::{LayerSpec, NetworkSpec};
use crate::approx::sigmoid;
use crate::domain::gadgets::SoftmaxParams;
use crate::domain::{Layout, PartyId, Ring, Session, TensorData};
use crate::error::{Error, LayerProblem, Result};

/// One layer at run time: the [`Module`]s of this crate, one variant each.
pub enum Stage<R: Ring> {
    /// An affine map.
    Dense(Dense<R>),
    /// A convolution.
    Conv2d(Conv2d<R>),
    /// Max pooling.
    MaxPool2d(MaxPool2d<R::Tensor>),
    /// Average pooling.
    AvgPool2d(AvgPool2d),
    /// Global average pooling.
    GlobalAvgPool(GlobalAvgPool),
    /// Flattening.
    Flatten(Flatten),
    /// An elementwise activation.
    Activation(ActivationLayer<R>),
    /// A row softmax.
    Softmax(Softmax<R::Tensor>),
}

impl<R: Ring> Stage<R> {
    /// The stage as a [`Module`].
    pub fn module(&self) -> &dyn Module<R> {
        match self {
            Stage::Dense(m) => m,
            Stage::Conv2d(m) => m,
            Stage::MaxPool2d(m) => m,
            Stage::AvgPool2d(m) => m,
            Stage::GlobalAvgPool(m) => m,
            Stage::Flatten(m) => m,
            Stage::Activation(m) => m,
            Stage::Softmax(m) => m,
        }
    }

    /// The stage as a mutable [`Module`].
    pub fn module_mut(&mut self) -> &mut dyn Module<R> {
        match self {
            Stage::Dense(m) => m,
            Stage::Conv2d(m) => m,
            Stage::MaxPool2d(m) => m,
            Stage::AvgPool2d(m) => m,
            Stage::GlobalAvgPool(m) => m,
            Stage::Flatten(m) => m,
            Stage::Activation(m) => m,
            Stage::Softmax(m) => m,
        }
    }
}

/// One stage and the layer of the description it computes (1-based; an
/// implicit flatten before a dense layer has the dense layer's number).
struct Node<R: Ring> {
    layer: usize,
    stage: Stage<R>,
}

/// A model built from a [`NetworkSpec`]: its layers as [`Module`]s, their
/// (secret) parameters, forward and backward passes. Generic over the
/// domain like every model in privml: the same network trains in the clear,
/// in visible fixed point or on secret shares.
///
/// The batch is the first axis of every tensor: inputs are
/// `[n, ...spec.input]`. A dense layer after an image flattens it (C order).
/// Backward follows the crate's sign convention (see [`Module`]).
///
/// # Examples
///
/// ```
/// use ndarray::Array4;
/// use privml::nn::{Network, NetworkSpec};
/// use privml::{Plain, Ring};
///
/// let spec = NetworkSpec::parse("conv:4k3,relu,maxpool:2,dense:3", "1x6x6")?;
/// let mut r = Plain::new();
/// let mut net = Network::init(&mut r, &spec, 1)?;
/// let x = r.constant(&Array4::from_elem((2, 1, 6, 6), 0.5).into_dyn())?;
/// let logits = net.forward(&mut r, &x)?;
/// assert_eq!(logits.shape(), &[2, 3]);
/// net.backward(&mut r, &logits)?;
/// assert_eq!(net.take_gradients()?.len(), net.parameters().len());
/// # Ok::<(), privml::Error>(())
/// ```
pub struct Network<R: Ring> {
    spec: NetworkSpec,
    nodes: Vec<Node<R>>,
}

/// The error for a layer that cannot be built where it is.
fn unsupported(index: usize, layer: &LayerSpec, why: &str) -> Error {
    Error::Layer {
        index: index + 1,
        layer: layer.to_string(),
        problem: LayerProblem::Unsupported(why.to_string()),
    }
}

const BATCH_NORM_TRAINING: &str = "batch normalisation is for inference only: it is folded into the layer before it when its parameters are given (Network::with_parameters); training with batch statistics is not implemented";

/// The description a network of `spec` is saved with: every batch
/// normalisation folded into the conv or dense layer before it (which gets
/// a bias), as [`Network::with_parameters`] folds it. Needs no values: the
/// architecture is public, the folding of the values is the model owner's.
///
/// # Examples
///
/// ```
/// use privml::nn::{NetworkSpec, folded_spec};
///
/// let spec = NetworkSpec::parse("conv:4k3/nobias,batchnorm:1e-5,relu,flatten,dense:2", "1x5x5")?;
/// assert_eq!(folded_spec(&spec)?.to_string(), "conv:4k3,relu,flatten,dense:2");
/// # Ok::<(), privml::Error>(())
/// ```
pub fn folded_spec(spec: &NetworkSpec) -> Result<NetworkSpec> {
    Ok(fold_batch_norms(spec, None)?.0)
}

/// The description with every batch normalisation folded into the conv or
/// dense layer before it (which gets a bias), and, if given, the values
/// folded the same way: per channel s = scale/√(variance + ε),
/// W' = W·s, b' = (b - mean)·s + shift.
fn fold_batch_norms(
    spec: &NetworkSpec,
    values: Option<Vec<ArrayD<f64>>>,
) -> Result<(NetworkSpec, Option<Vec<ArrayD<f64>>>)> {
    let mut layers: Vec<LayerSpec> = Vec::with_capacity(spec.layers.len());
    // each kept layer's parameter values
    let mut kept: Vec<Vec<ArrayD<f64>>> = Vec::new();
    let ins = spec.input_shapes()?;
    let mut given = values.map(|v| v.into_iter());
    for (i, layer) in spec.layers.iter().enumerate() {
        let count = layer.parameter_shapes(&ins[i]).len();
        let mine: Vec<ArrayD<f64>> = match given.as_mut() {
            Some(it) => it.by_ref().take(count).collect(),
            None => Vec::new(),
        };
        let LayerSpec::BatchNorm { epsilon } = *layer else {
            layers.push(layer.clone());
            kept.push(mine);
            continue;
        };
        let Some(prev) = layers.last_mut() else {
            return Err(unsupported(
                i,
                layer,
                "a batch normalisation must follow a conv or dense layer, into which it is folded",
            ));
        };
        let is_conv = match prev {
            LayerSpec::Conv2d { bias, .. } | LayerSpec::Dense { bias, .. } => {
                let was = *bias;
                *bias = true;
                let conv = matches!(prev, LayerSpec::Conv2d { .. });
                (conv, was)
            }
            _ => {
                return Err(unsupported(
                    i,
                    layer,
                    "a batch normalisation must follow a conv or dense layer (directly), into which it is folded",
                ));
            }
        };
        if given.is_none() {
            continue;
        }
        let prev_values = kept
            .last_mut()
            .ok_or_else(|| Error::internal("fold_batch_norms", "no values for the layer before"))?;
        let [scale, shift, mean, var] = mine.as_slice() else {
            return Err(Error::internal(
                "fold_batch_norms",
                "batch norm values missing",
            ));
        };
        let s: Vec<f64> = scale
            .iter()
            .zip(var)
            .map(|(g, v)| g / (v + epsilon).sqrt())
            .collect();
        let (conv, had_bias) = is_conv;
        let out_axis = if conv { 0 } else { 1 };
        let w = &mut prev_values[0];
        for (j, mut lane) in w.axis_iter_mut(Axis(out_axis)).enumerate() {
            lane.mapv_inplace(|x| x * s[j]);
        }
        let channels = s.len();
        let old_bias: Vec<f64> = if had_bias {
            prev_values[1].iter().copied().collect()
        } else {
            vec![0.0; channels]
        };
        let b: Vec<f64> = (0..channels)
            .map(|j| (old_bias[j] - mean[j]) * s[j] + shift[j])
            .collect();
        let b = ArrayD::from_shape_vec(IxDyn(&[1, channels]), b)
            .map_err(|e| Error::internal("fold_batch_norms", e.to_string()))?;
        if had_bias {
            prev_values[1] = b;
        } else {
            prev_values.push(b);
        }
    }
    let folded = NetworkSpec {
        input: spec.input.clone(),
        layers,
    };
    let values = given.map(|_| kept.into_iter().flatten().collect());
    Ok((folded, values))
}

/// Checks the number and shapes of parameter values against `spec`.
fn check_values(spec: &NetworkSpec, values: &[ArrayD<f64>]) -> Result<()> {
    let shapes = spec.parameter_shapes()?;
    for (k, (layer, name, shape)) in shapes.iter().enumerate() {
        let value = values.get(k).ok_or_else(|| Error::Layer {
            index: layer + 1,
            layer: spec.layers[*layer].to_string(),
            problem: LayerProblem::MissingParameter {
                name,
                given: values.len(),
            },
        })?;
        if value.shape() != shape.as_slice() {
            return Err(Error::Layer {
                index: layer + 1,
                layer: spec.layers[*layer].to_string(),
                problem: LayerProblem::ParameterShape {
                    name,
                    found: value.shape().to_vec(),
                    expected: shape.clone(),
                },
            });
        }
    }
    if values.len() > shapes.len() {
        return Err(Error::invalid(
            "parameters",
            format!(
                "the model has {} parameter tensors, {} were given",
                shapes.len(),
                values.len()
            ),
        ));
    }
    Ok(())
}

impl<R: Ring> Network<R> {
    /// A network with He-uniform initial weights (U(±√(6/fan-in)), fan-in
    /// = inputs of a dense layer, c·kh·kw of a convolution) drawn from
    /// `seed` and zero biases, input by the model owner (party 0). A batch
    /// normalisation is refused: it is for inference only.
    pub fn init(r: &mut R, spec: &NetworkSpec, seed: u64) -> Result<Self> {
        if let Some((i, l)) = spec
            .layers
            .iter()
            .enumerate()
            .find(|(_, l)| matches!(l, LayerSpec::BatchNorm { .. }))
        {
            return Err(unsupported(i, l, BATCH_NORM_TRAINING));
        }
        let shapes = spec.parameter_shapes()?;
        let values = r.owns(MODEL_OWNER).then(|| {
            let mut s = Sampler::new(seed);
            shapes
                .iter()
                .map(|(_, name, shape)| {
                    if *name == "bias" {
                        return ArrayD::zeros(IxDyn(shape));
                    }
                    let out = shape[if shape.len() == 4 { 0 } else { 1 }];
                    let fan_in: usize = shape.iter().product::<usize>() / out.max(1);
                    let a = (6.0 / fan_in.max(1) as f64).sqrt();
                    let n: usize = shape.iter().product();
                    let flat = s.uniform_matrix(1, n, -a, a);
                    ArrayD::from_shape_vec(IxDyn(shape), flat.into_iter().collect())
                        .unwrap_or_else(|_| ArrayD::zeros(IxDyn(shape)))
                })
                .collect::<Vec<_>>()
        });
        Self::with_parameters(r, spec, values.as_deref())
    }

    /// A network with the model owner's (party 0's) parameter values, in
    /// the order of [`NetworkSpec::parameter_shapes`]: per layer the
    /// weights, then the bias; for a batch normalisation its scale, shift,
    /// mean and variance, which the owner folds into the layer before it
    /// (so the others learn nothing of them). The owner passes
    /// `Some(values)`, the other parties `None`. A wrong count or shape is
    /// [`Error::Layer`] naming the layer and the parameter.
    pub fn with_parameters(
        r: &mut R,
        spec: &NetworkSpec,
        values: Option<&[ArrayD<f64>]>,
    ) -> Result<Self> {
        Self::with_parameters_from(r, spec, values, MODEL_OWNER)
    }

    /// [`Network::with_parameters`] with the values of model owner `owner`
    /// (any party that may hold data): it alone passes `Some(values)` and
    /// folds the batch normalisations; the others receive only their
    /// shares.
    pub fn with_parameters_from(
        r: &mut R,
        spec: &NetworkSpec,
        values: Option<&[ArrayD<f64>]>,
        owner: PartyId,
    ) -> Result<Self> {
        spec.output_shapes()?;
        let values = if r.owns(owner) {
            let v = values.ok_or(Error::MissingValue {
                party: owner,
                what: "model parameters",
            })?;
            check_values(spec, v)?;
            Some(v.to_vec())
        } else {
            None
        };
        let (folded, values) = fold_batch_norms(spec, values)?;
        let shapes = folded.parameter_shapes()?;
        let mut tensors = Vec::with_capacity(shapes.len());
        for (k, (_, _, shape)) in shapes.iter().enumerate() {
            let value = values.as_ref().and_then(|v| v.get(k));
            tensors.push(r.input(owner, value, shape)?);
        }
        Self::from_tensors(r, &folded, tensors)
    }

    /// A network from parameter tensors already in the domain (loaded
    /// shares, say), in the order of [`NetworkSpec::parameter_shapes`]. The
    /// description must have no batch normalisation left (saved models
    /// store the folded description).
    pub fn from_tensors(r: &mut R, spec: &NetworkSpec, tensors: Vec<R::Tensor>) -> Result<Self> {
        let ins = spec.input_shapes()?;
        let given = tensors.len();
        let mut params = tensors.into_iter();
        let mut nodes = Vec::with_capacity(spec.layers.len());
        for (i, layer) in spec.layers.iter().enumerate() {
            let mut take = |name: &'static str, expected: Vec<usize>| -> Result<R::Tensor> {
                let t = params.next().ok_or_else(|| Error::Layer {
                    index: i + 1,
                    layer: layer.to_string(),
                    problem: LayerProblem::MissingParameter { name, given },
                })?;
                if r.shape(&t) != expected.as_slice() {
                    return Err(Error::Layer {
                        index: i + 1,
                        layer: layer.to_string(),
                        problem: LayerProblem::ParameterShape {
                            name,
                            found: r.shape(&t).to_vec(),
                            expected,
                        },
                    });
                }
                Ok(t)
            };
            let mut shapes = layer.parameter_shapes(&ins[i]).into_iter();
            let mut next = |take: &mut dyn FnMut(&'static str, Vec<usize>) -> Result<R::Tensor>| {
                shapes
                    .next()
                    .map(|(name, shape)| take(name, shape))
                    .transpose()
            };
            let node = |stage: Stage<R>| Node {
                layer: i + 1,
                stage,
            };
            match layer {
                LayerSpec::Dense { .. } => {
                    if ins[i].len() != 1 {
                        nodes.push(node(Stage::Flatten(Flatten::new())));
                    }
                    let w = next(&mut take)?
                        .ok_or_else(|| Error::internal("Network", "dense weights"))?;
                    let b = next(&mut take)?;
                    nodes.push(node(Stage::Dense(Dense::new(w, b))));
                }
                LayerSpec::Conv2d { .. } => {
                    let w = next(&mut take)?
                        .ok_or_else(|| Error::internal("Network", "conv weights"))?;
                    let b = next(&mut take)?;
                    let window = layer
                        .window()
                        .ok_or_else(|| Error::internal("Network", "conv window"))?;
                    nodes.push(node(Stage::Conv2d(Conv2d::new(r, w, b, window)?)));
                }
                LayerSpec::MaxPool2d { .. } | LayerSpec::AvgPool2d { .. } => {
                    let window = layer
                        .window()
                        .ok_or_else(|| Error::internal("Network", "pool window"))?;
                    let stage = if matches!(layer, LayerSpec::MaxPool2d { .. }) {
                        Stage::MaxPool2d(MaxPool2d::new(window))
                    } else {
                        Stage::AvgPool2d(AvgPool2d::new(window))
                    };
                    nodes.push(node(stage));
                }
                LayerSpec::GlobalAvgPool => {
                    nodes.push(node(Stage::GlobalAvgPool(GlobalAvgPool::new())))
                }
                LayerSpec::Flatten => nodes.push(node(Stage::Flatten(Flatten::new()))),
                LayerSpec::Relu => {
                    let relu = ActivationLayer::new(Activation::Relu);
                    nodes.push(node(Stage::Activation(relu)))
                }
                LayerSpec::HardSigmoid { slope } => {
                    let a = ActivationLayer::new(Activation::PiecewiseSigmoid { slope: *slope });
                    nodes.push(node(Stage::Activation(a)))
                }
                LayerSpec::Sigmoid { interval, degree } => {
                    let p = sigmoid::chebyshev(*interval, *degree);
                    let a = ActivationLayer::new(Activation::sigmoid(p));
                    nodes.push(node(Stage::Activation(a)))
                }
                LayerSpec::Softmax => {
                    let s = Softmax::new(SoftmaxParams::default());
                    nodes.push(node(Stage::Softmax(s)))
                }
                LayerSpec::BatchNorm { .. } => {
                    return Err(unsupported(i, layer, BATCH_NORM_TRAINING));
                }
            }
        }
        if params.next().is_some() {
            return Err(Error::invalid(
                "parameters",
                format!("{given} tensors given, more than the model's layers take"),
            ));
        }
        Ok(Network {
            spec: spec.clone(),
            nodes,
        })
    }

    /// The stages, in order (with the 1-based layer of the description
    /// each computes).
    pub fn stages(&self) -> impl Iterator<Item = (usize, &Stage<R>)> {
        self.nodes.iter().map(|n| (n.layer, &n.stage))
    }

    /// The description the network was built from (batch normalisations
    /// folded away).
    pub fn spec(&self) -> &NetworkSpec {
        &self.spec
    }

    fn check_input(&self, r: &R, x: &R::Tensor) -> Result<()> {
        let shape = r.shape(x);
        if shape.len() != self.spec.input.len() + 1 || shape[1..] != self.spec.input {
            let mut want = vec![shape.first().copied().unwrap_or(0)];
            want.extend(&self.spec.input);
            return Err(Error::ShapeMismatch {
                op: "network input",
                left: shape.to_vec(),
                right: want,
            });
        }
        Ok(())
    }

    fn run(&mut self, r: &mut R, x: &R::Tensor, train: bool) -> Result<R::Tensor> {
        self.check_input(r, x)?;
        let mut h = x.clone();
        for node in self.nodes.iter_mut() {
            r.set_layer(Some(node.layer));
            h = node.stage.module_mut().forward(r, &h, train)?;
        }
        r.set_layer(None);
        Ok(h)
    }

    /// Table rows `[n, features]` as this network's input `[n, ...input]`
    /// (C order: an MNIST row becomes its 1 x 28 x 28 image); a network
    /// whose input is `[features]` takes them as they are.
    pub fn rows_as_input(&self, r: &mut R, x: &R::Tensor) -> Result<R::Tensor> {
        if self.spec.input.len() == 1 {
            return Ok(x.clone());
        }
        let mut shape = vec![r.shape(x).first().copied().unwrap_or(0)];
        shape.extend(&self.spec.input);
        r.reshape(x, &shape)
    }

    /// Forward pass, keeping what backward needs.
    pub fn forward(&mut self, r: &mut R, x: &R::Tensor) -> Result<R::Tensor> {
        self.run(r, x, true)
    }

    /// Forward pass for prediction (nothing kept, no comparison bits
    /// saved).
    pub fn predict(&mut self, r: &mut R, x: &R::Tensor) -> Result<R::Tensor> {
        self.run(r, x, false)
    }

    /// Backward pass from δ = -∂L/∂output; stores every parameter's
    /// gradient for [`take_gradients`](Self::take_gradients). Layers before
    /// the first one with parameters are skipped, and that one computes no
    /// input gradient.
    pub fn backward(&mut self, r: &mut R, delta: &R::Tensor) -> Result<()> {
        let Some(first) = self
            .nodes
            .iter()
            .position(|n| !n.stage.module().parameters().is_empty())
        else {
            return Ok(());
        };
        let mut delta = delta.clone();
        for i in (first..self.nodes.len()).rev() {
            let node = &mut self.nodes[i];
            r.set_layer(Some(node.layer));
            let needs_input = i > first;
            match node.stage.module_mut().backward(r, &delta, needs_input)? {
                Some(d) => delta = d,
                None if needs_input => {
                    return Err(Error::internal(
                        "Network::backward",
                        format!("layer {} returned no input gradient", node.layer),
                    ));
                }
                None => {}
            }
        }
        r.set_layer(None);
        Ok(())
    }

    /// All trainable tensors in storage order.
    pub fn parameters(&self) -> Vec<&R::Tensor> {
        self.nodes
            .iter()
            .flat_map(|n| n.stage.module().parameters())
            .collect()
    }

    /// All trainable tensors, mutable, in storage order.
    pub fn parameters_mut(&mut self) -> Vec<&mut R::Tensor> {
        self.nodes
            .iter_mut()
            .flat_map(|n| n.stage.module_mut().parameters_mut())
            .collect()
    }

    /// The gradients of the last backward pass, in storage order (taken).
    pub fn take_gradients(&mut self) -> Result<Vec<R::Tensor>> {
        let mut out = Vec::new();
        for n in self.nodes.iter_mut() {
            out.extend(n.stage.module_mut().take_gradients()?);
        }
        Ok(out)
    }

    /// Opens every parameter to all parties, in storage order: an explicit
    /// disclosure of the model, in one [`Open::open`](crate::domain::Open::open)
    /// (exactly rounded to the output precision) of all the values.
    pub fn reveal_parameters(&self, r: &mut R) -> Result<Vec<ArrayD<f64>>> {
        super::sequential::open_parameters(r, &self.parameters())
    }
}

impl<R: Ring + Session> Network<R> {
    /// This evaluator's data of every parameter (its shares in `Shared`),
    /// for saving.
    pub fn export(&self, r: &R) -> Vec<TensorData> {
        self.parameters().into_iter().map(|t| r.export(t)).collect()
    }

    /// A network from exported parameter data (see [`export`](Self::export)).
    pub fn import(r: &mut R, spec: &NetworkSpec, data: &[TensorData]) -> Result<Self> {
        let tensors = data
            .iter()
            .map(|d| r.import(d))
            .collect::<Result<Vec<_>>>()?;
        Self::from_tensors(r, spec, tensors)
    }
}
