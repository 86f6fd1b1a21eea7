//! The graph walk: constants folded, every other node mapped one to one
//! onto a [`LayerSpec`] with its parameter values.

use std::collections::HashMap;

use ndarray::{ArrayD, Axis, IxDyn};

use super::constant::{BATCH, Const, from_proto};
use super::error::OnnxError;
use super::node::Node;
use super::proto::{GraphProto, data_type};
use super::{ImportOptions, ImportedModel};
use crate::nn::{LayerSpec, NetworkSpec};

/// The data tensor's dimensions from its `ValueInfoProto`: the batch axis
/// first (a name or a number), then fixed positive sizes.
fn input_shape(graph: &GraphProto, name: &str) -> Result<(Vec<usize>, Option<i64>), OnnxError> {
    let bad = |why: String| OnnxError::Graph(format!("input '{name}' {why}"));
    let info = graph
        .input
        .iter()
        .find(|i| i.name == name)
        .and_then(|i| i.r#type.as_ref())
        .and_then(|t| t.tensor_type.as_ref())
        .ok_or_else(|| bad("is not a tensor".to_string()))?;
    if !matches!(info.elem_type, data_type::FLOAT | data_type::DOUBLE) {
        return Err(bad(format!(
            "has element type {}; privml imports float inputs",
            info.elem_type
        )));
    }
    let dims = info
        .shape
        .as_ref()
        .map(|s| s.dim.as_slice())
        .ok_or_else(|| bad("has no declared shape".to_string()))?;
    let Some((batch, rest)) = dims.split_first() else {
        return Err(bad(
            "is a scalar; the first axis must be the batch".to_string()
        ));
    };
    if rest.is_empty() {
        return Err(bad(
            "has one axis; the first axis is the batch, features follow".to_string(),
        ));
    }
    let mut shape = Vec::with_capacity(rest.len());
    for d in rest {
        match d.dim_value {
            Some(v) if v > 0 => shape.push(v as usize),
            _ => {
                return Err(bad(format!(
                    "has a dynamic or empty dimension ({:?}); every axis but the batch must have a fixed size",
                    d.dim_param.as_deref().unwrap_or("?")
                )));
            }
        }
    }
    Ok((shape, batch.dim_value))
}

/// One value of the graph while it is walked.
enum Value {
    /// Known at import time.
    Const(Const),
    /// Computed from the data at prediction time (shape without batch).
    Data(Vec<usize>),
}

/// The walk's state.
pub(crate) struct Mapper<'a> {
    options: &'a ImportOptions,
    opset: i64,
    values: HashMap<String, Value>,
    /// The one data value the next layer may read.
    current: String,
    shape: Vec<usize>,
    static_batch: Option<i64>,
    input: Vec<usize>,
    layers: Vec<LayerSpec>,
    parameters: Vec<Vec<ArrayD<f64>>>,
    /// The last layer is a conv or dense layer with nothing after it yet,
    /// so a following constant Add/Mul folds into it.
    affine_tail: bool,
    /// The LogSoftmax that ended the chain, if one did.
    closed_by: Option<String>,
    notes: Vec<String>,
}

impl<'a> Mapper<'a> {
    /// Imports `graph` (standard operator set `opset`).
    pub(crate) fn run(
        graph: &GraphProto,
        opset: i64,
        options: &'a ImportOptions,
    ) -> Result<ImportedModel, OnnxError> {
        let mut values = HashMap::new();
        for t in &graph.initializer {
            values.insert(t.name.clone(), Value::Const(from_proto(t)?));
        }
        let data: Vec<&str> = graph
            .input
            .iter()
            .map(|i| i.name.as_str())
            .filter(|n| !values.contains_key(*n))
            .collect();
        let [input_name] = data.as_slice() else {
            return Err(OnnxError::Graph(format!(
                "has {} data inputs ({}); privml imports models with one",
                data.len(),
                data.join(", ")
            )));
        };
        let (shape, static_batch) = input_shape(graph, input_name)?;
        values.insert(input_name.to_string(), Value::Data(shape.clone()));
        let mut m = Mapper {
            options,
            opset,
            values,
            current: input_name.to_string(),
            shape: shape.clone(),
            static_batch,
            input: shape,
            layers: Vec::new(),
            parameters: Vec::new(),
            affine_tail: false,
            closed_by: None,
            notes: Vec::new(),
        };
        for (i, proto) in graph.node.iter().enumerate() {
            m.node(&Node::new(proto, i))?;
        }
        let [output] = graph.output.as_slice() else {
            return Err(OnnxError::Graph(format!(
                "has {} outputs; privml imports models with one",
                graph.output.len()
            )));
        };
        if output.name != m.current {
            return Err(OnnxError::Graph(format!(
                "output '{}' is not the last layer's result '{}'",
                output.name, m.current
            )));
        }
        if m.layers.is_empty() {
            return Err(OnnxError::Graph(
                "computes nothing from its input".to_string(),
            ));
        }
        let spec = NetworkSpec {
            input: m.input,
            layers: m.layers,
        };
        Ok(ImportedModel {
            spec,
            parameters: m.parameters.into_iter().flatten().collect(),
            input_name: input_name.to_string(),
            output_name: output.name.clone(),
            opset,
            notes: m.notes,
        })
    }

    fn get(&self, n: &Node, name: &str) -> Result<&Value, OnnxError> {
        self.values.get(name).ok_or_else(|| n.undefined(name))
    }

    fn constant(&self, n: &Node, k: usize) -> Result<Option<&Const>, OnnxError> {
        match n.input(k) {
            None => Ok(None),
            Some(name) => match self.get(n, name)? {
                Value::Const(c) => Ok(Some(c)),
                Value::Data(_) => Err(n.unsupported(format!(
                    "input {k} ('{name}') must be a constant (an initializer), not computed from the data"
                ))),
            },
        }
    }

    fn required(&self, n: &Node, k: usize, what: &str) -> Result<&Const, OnnxError> {
        self.constant(n, k)?
            .ok_or_else(|| n.unsupported(format!("the {what} (input {k}) is missing")))
    }

    fn float(&self, n: &Node, k: usize, what: &str) -> Result<ArrayD<f64>, OnnxError> {
        self.required(n, k, what)?
            .to_float(what)
            .map_err(|e| n.unsupported(e))
    }

    fn node(&mut self, n: &Node) -> Result<(), OnnxError> {
        let domain = n.proto.domain.as_str();
        if !(domain.is_empty() || domain == "ai.onnx") {
            return Err(OnnxError::UnsupportedOperator {
                op: format!("{domain}.{}", n.op()),
                node: n.label.clone(),
            });
        }
        let mut data = Vec::new();
        for name in n.inputs() {
            if let Value::Data(_) = self.get(n, name)? {
                data.push(name);
            }
        }
        let out = n.output()?.to_string();
        match n.op() {
            "Constant" => {
                let c = self.constant_node(n)?;
                self.values.insert(out, Value::Const(c));
                Ok(())
            }
            "Shape" => {
                let c = self.shape_of(n)?;
                self.values.insert(out, Value::Const(c));
                Ok(())
            }
            _ if data.is_empty() => {
                let c = self.fold(n)?;
                self.values.insert(out, Value::Const(c));
                Ok(())
            }
            _ => {
                if let Some(by) = &self.closed_by {
                    return Err(n.unsupported(format!(
                        "LogSoftmax (node '{by}') is imported only as the last node"
                    )));
                }
                if data.len() > 1 || data[0] != self.current {
                    return Err(n.unsupported(format!(
                        "reads {} computed from the data; privml imports chains of layers (no branches or residual connections)",
                        data.join(", ")
                    )));
                }
                if n.input(0) != Some(data[0]) && !matches!(n.op(), "Add" | "Mul") {
                    return Err(n.unsupported("the data must be its first input"));
                }
                self.layer(n)?;
                self.current = out.clone();
                self.values.insert(out, Value::Data(self.shape.clone()));
                Ok(())
            }
        }
    }

    /// A `Constant` node's value.
    fn constant_node(&self, n: &Node) -> Result<Const, OnnxError> {
        let a = n
            .proto
            .attribute
            .first()
            .ok_or_else(|| n.unsupported("a Constant needs a value"))?;
        let scalar_f = |v: f64| Const::Float(ArrayD::from_elem(IxDyn(&[]), v));
        Ok(match a.name.as_str() {
            "value" => from_proto(a.t.as_ref().ok_or_else(|| n.unsupported("empty value"))?)?,
            "value_float" => scalar_f(f64::from(a.f)),
            "value_floats" => Const::Float(
                ArrayD::from_shape_vec(
                    IxDyn(&[a.floats.len()]),
                    a.floats.iter().map(|v| f64::from(*v)).collect(),
                )
                .map_err(|e| n.unsupported(e.to_string()))?,
            ),
            "value_int" => Const::Int(ArrayD::from_elem(IxDyn(&[]), a.i)),
            "value_ints" => Const::Int(
                ArrayD::from_shape_vec(IxDyn(&[a.ints.len()]), a.ints.clone())
                    .map_err(|e| n.unsupported(e.to_string()))?,
            ),
            other => {
                return Err(n.unsupported(format!("a Constant with '{other}' is not supported")));
            }
        })
    }

    /// `Shape` of a constant or of a data value (its batch axis the
    /// placeholder [`BATCH`]).
    fn shape_of(&self, n: &Node) -> Result<Const, OnnxError> {
        n.only_attributes(&["start", "end"])?;
        let name = n.input(0).ok_or_else(|| n.unsupported("no input"))?;
        let dims: Vec<i64> = match self.get(n, name)? {
            Value::Const(c) => c.shape().iter().map(|d| *d as i64).collect(),
            Value::Data(s) => std::iter::once(BATCH)
                .chain(s.iter().map(|d| *d as i64))
                .collect(),
        };
        let r = dims.len() as i64;
        let clamp = |v: i64| (if v < 0 { v + r } else { v }).clamp(0, r) as usize;
        let start = clamp(n.int("start", 0));
        let end = clamp(n.int("end", r));
        let picked: Vec<i64> = dims.get(start..end.max(start)).unwrap_or(&[]).to_vec();
        Ok(Const::Int(
            ArrayD::from_shape_vec(IxDyn(&[picked.len()]), picked)
                .map_err(|e| n.unsupported(e.to_string()))?,
        ))
    }

    /// Integer lists given as an attribute (older opsets) or as input `k`.
    fn ints_from(&self, n: &Node, attr: &str, k: usize) -> Result<Option<Vec<i64>>, OnnxError> {
        if let Some(v) = n.ints(attr) {
            return Ok(Some(v.to_vec()));
        }
        match self.constant(n, k)? {
            Some(c) => c.to_ints().map(Some).map_err(|e| n.unsupported(e)),
            None => Ok(None),
        }
    }

    /// A node whose inputs are all constants: one of the shape sub-graph
    /// operators, computed now.
    fn fold(&self, n: &Node) -> Result<Const, OnnxError> {
        let first = || self.required(n, 0, "input");
        let err = |e: String| n.unsupported(e);
        let known: &[&str] = match n.op() {
            "Cast" => &["to", "saturate"],
            "Unsqueeze" | "Squeeze" => &["axes"],
            "Concat" | "Gather" => &["axis"],
            "Reshape" => &["allowzero"],
            "Transpose" => &["perm"],
            "Dropout" => &["seed", "ratio", "is_test"],
            _ => &[],
        };
        n.only_attributes(known)?;
        match n.op() {
            "Identity" | "Dropout" => Ok(first()?.clone()),
            "Cast" => {
                let c = first()?;
                match n.int("to", 0) as i32 {
                    data_type::FLOAT | data_type::DOUBLE => {
                        Ok(Const::Float(c.to_float("a Cast").map_err(err)?))
                    }
                    data_type::INT32 | data_type::INT64 => match c {
                        Const::Float(a) => Ok(Const::Int(a.mapv(|v| v.trunc() as i64))),
                        Const::Int(_) => Ok(c.clone()),
                    },
                    other => Err(n.unsupported(format!("a Cast to type {other} is not supported"))),
                }
            }
            "Unsqueeze" | "Squeeze" => {
                let mut c = first()?.clone();
                let axes = self.ints_from(n, "axes", 1)?;
                if n.op() == "Unsqueeze" {
                    let axes = axes.ok_or_else(|| n.unsupported("Unsqueeze needs axes"))?;
                    let rank = c.shape().len() + axes.len();
                    let mut norm = axes
                        .iter()
                        .map(|a| n.axis(*a, rank))
                        .collect::<Result<Vec<_>, _>>()?;
                    norm.sort_unstable();
                    for a in norm {
                        c = c.insert_axis(a);
                    }
                } else {
                    let rank = c.shape().len();
                    let mut norm = match axes {
                        Some(axes) => axes
                            .iter()
                            .map(|a| n.axis(*a, rank))
                            .collect::<Result<Vec<_>, _>>()?,
                        None => (0..rank).filter(|a| c.shape()[*a] == 1).collect(),
                    };
                    norm.sort_unstable();
                    for a in norm.into_iter().rev() {
                        if c.shape()[a] != 1 {
                            return Err(n.unsupported(format!("axis {a} does not have size 1")));
                        }
                        c = c.remove_axis(a);
                    }
                }
                Ok(c)
            }
            "Concat" => {
                let parts: Vec<&Const> = (0..n.proto.input.len())
                    .map(|k| self.required(n, k, "input"))
                    .collect::<Result<_, _>>()?;
                let rank = parts.first().map_or(0, |p| p.shape().len());
                let axis = n.axis(n.int("axis", 0), rank)?;
                let ints = parts.iter().all(|p| matches!(p, Const::Int(_)));
                if ints {
                    let arrays: Vec<ArrayD<i64>> = parts
                        .iter()
                        .map(|p| p.to_int())
                        .collect::<Result<_, _>>()
                        .map_err(err)?;
                    let views: Vec<_> = arrays.iter().map(|a| a.view()).collect();
                    ndarray::concatenate(Axis(axis), &views)
                        .map(Const::Int)
                        .map_err(|e| n.unsupported(e.to_string()))
                } else {
                    let arrays: Vec<ArrayD<f64>> = parts
                        .iter()
                        .map(|p| p.to_float("a Concat"))
                        .collect::<Result<_, _>>()
                        .map_err(err)?;
                    let views: Vec<_> = arrays.iter().map(|a| a.view()).collect();
                    ndarray::concatenate(Axis(axis), &views)
                        .map(Const::Float)
                        .map_err(|e| n.unsupported(e.to_string()))
                }
            }
            "Gather" => {
                let c = first()?;
                let idx = self.required(n, 1, "indices")?;
                let rank = c.shape().len();
                let axis = n.axis(n.int("axis", 0), rank)?;
                let size = c.shape()[axis] as i64;
                let scalar = idx.shape().is_empty();
                let picked = idx
                    .to_ints()
                    .map_err(err)?
                    .into_iter()
                    .map(|i| {
                        let j = if i < 0 { i + size } else { i };
                        if (0..size).contains(&j) {
                            Ok(j as usize)
                        } else {
                            Err(n.unsupported(format!("index {i} is out of range for size {size}")))
                        }
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(c.gather(axis, &picked, scalar))
            }
            "Reshape" => {
                let c = first()?.clone();
                let target = self
                    .ints_from(n, "shape", 1)?
                    .ok_or_else(|| n.unsupported("no shape"))?;
                let dims = resolve_reshape(c.shape(), &target).map_err(err)?;
                c.reshape(&dims).map_err(err)
            }
            "Transpose" => {
                let c = first()?.clone();
                let rank = c.shape().len();
                let perm: Vec<usize> = match n.ints("perm") {
                    Some(p) => p
                        .iter()
                        .map(|a| n.axis(*a, rank))
                        .collect::<Result<_, _>>()?,
                    None => (0..rank).rev().collect(),
                };
                let mut seen = perm.clone();
                seen.sort_unstable();
                if seen != (0..rank).collect::<Vec<_>>() {
                    return Err(n.unsupported(format!("{perm:?} is not a permutation")));
                }
                Ok(c.transpose(&perm))
            }
            "Add" | "Sub" | "Mul" | "Div" => {
                let a = first()?;
                let b = self.required(n, 1, "second input")?;
                if matches!((a, b), (Const::Int(_), Const::Int(_))) {
                    let (xf, yf) = (
                        a.to_float("integer arithmetic").map_err(err)?,
                        b.to_float("integer arithmetic").map_err(err)?,
                    );
                    let r = arith(n, &xf, &yf)?;
                    let r = if n.op() == "Div" {
                        r.mapv(f64::trunc)
                    } else {
                        r
                    };
                    return Const::Float(r).to_int().map(Const::Int).map_err(err);
                }
                let x = a.to_float("arithmetic").map_err(err)?;
                let y = b.to_float("arithmetic").map_err(err)?;
                arith(n, &x, &y).map(Const::Float)
            }
            _ => Err(OnnxError::UnsupportedOperator {
                op: n.op().to_string(),
                node: n.label.clone(),
            }),
        }
    }

    /// Appends a layer after checking it takes the current shape; problems
    /// name the node.
    fn push(
        &mut self,
        n: &Node,
        layer: LayerSpec,
        values: Vec<ArrayD<f64>>,
    ) -> Result<(), OnnxError> {
        let shape = layer
            .output_shape(&self.shape)
            .map_err(|p| n.unsupported(format!("as '{layer}' on input {:?}: {p}", self.shape)))?;
        self.affine_tail = matches!(layer, LayerSpec::Dense { .. } | LayerSpec::Conv2d { .. });
        self.layers.push(layer);
        self.parameters.push(values);
        self.shape = shape;
        Ok(())
    }

    /// A node that reads the data: one layer (or none for the no-ops).
    fn layer(&mut self, n: &Node) -> Result<(), OnnxError> {
        match n.op() {
            "Identity" => n.only_attributes(&[]),
            "Dropout" => {
                n.only_attributes(&["seed", "ratio", "is_test"])?;
                let training = match self.constant(n, 2)? {
                    Some(c) => c
                        .to_ints()
                        .map_err(|e| n.unsupported(e))?
                        .iter()
                        .any(|v| *v != 0),
                    None => false,
                };
                if training {
                    return Err(n.unsupported(
                        "training_mode is true; privml imports models for inference",
                    ));
                }
                Ok(())
            }
            "Relu" => {
                n.only_attributes(&[])?;
                self.push(n, LayerSpec::Relu, Vec::new())
            }
            "Sigmoid" => {
                n.only_attributes(&[])?;
                self.push(n, self.options.sigmoid.clone(), Vec::new())
            }
            "HardSigmoid" => {
                n.only_attributes(&["alpha", "beta"])?;
                let (alpha, beta) = (n.float("alpha", 0.2), n.float("beta", 0.5));
                if beta != 0.5 {
                    return Err(n.unsupported(format!(
                        "beta {beta}: privml's hard sigmoid is clip(alpha·x + 0.5, 0, 1)"
                    )));
                }
                self.push(n, LayerSpec::HardSigmoid { slope: alpha }, Vec::new())
            }
            "Softmax" | "LogSoftmax" => {
                n.only_attributes(&["axis"])?;
                let default = if self.opset >= 13 { -1 } else { 1 };
                let axis = n.int("axis", default);
                if self.shape.len() != 1 || !(axis == 1 || axis == -1) {
                    return Err(n.unsupported(format!(
                        "privml computes the softmax over the features of a row: the input must be [batch, features] and the axis the last (input {:?}, axis {axis})",
                        self.shape
                    )));
                }
                if n.op() == "Softmax" {
                    return self.push(n, LayerSpec::Softmax, Vec::new());
                }
                self.closed_by = Some(n.label.clone());
                self.notes.push(format!(
                    "the final LogSoftmax (node '{}') is not computed under MPC: the model outputs its input, the logits, whose argmax is the same; the log-probabilities are the logits minus each row's log-sum-exp",
                    n.label
                ));
                Ok(())
            }
            "Flatten" => {
                n.only_attributes(&["axis"])?;
                let axis = n.int("axis", 1);
                if axis != 1 && axis != -(self.shape.len() as i64) {
                    return Err(n.unsupported(format!(
                        "axis {axis}: privml flattens everything but the batch axis (axis 1)"
                    )));
                }
                self.flatten(n)
            }
            "Reshape" => {
                n.only_attributes(&["allowzero"])?;
                let target = self
                    .ints_from(n, "shape", 1)?
                    .ok_or_else(|| n.unsupported("no shape"))?;
                self.reshape(n, &target)
            }
            "Gemm" => self.gemm(n),
            "MatMul" => {
                n.only_attributes(&[])?;
                let w = self.float(n, 1, "weights")?;
                if self.shape.len() != 1 || w.ndim() != 2 || w.shape()[0] != self.shape[0] {
                    return Err(n.unsupported(format!(
                        "privml imports MatMul of [batch, features] data by a constant matrix of [features, outputs] (data {:?}, matrix {:?})",
                        self.shape,
                        w.shape()
                    )));
                }
                let outputs = w.shape()[1];
                self.push(
                    n,
                    LayerSpec::Dense {
                        outputs,
                        bias: false,
                    },
                    vec![w],
                )
            }
            "Add" | "Sub" | "Mul" | "Div" => self.affine_constant(n),
            "Conv" => self.conv(n),
            "MaxPool" | "AveragePool" => self.pool(n),
            "GlobalAveragePool" => {
                n.only_attributes(&[])?;
                self.push(n, LayerSpec::GlobalAvgPool, Vec::new())
            }
            "BatchNormalization" => self.batch_norm(n),
            _ => Err(OnnxError::UnsupportedOperator {
                op: n.op().to_string(),
                node: n.label.clone(),
            }),
        }
    }

    fn flatten(&mut self, n: &Node) -> Result<(), OnnxError> {
        if self.shape.len() > 1 {
            self.push(n, LayerSpec::Flatten, Vec::new())
        } else {
            Ok(())
        }
    }

    /// A Reshape of the data: to the same shape (nothing), to [batch, all]
    /// (a flatten), or, before the first layer, to any shape of the same
    /// size (the model's input shape becomes that).
    fn reshape(&mut self, n: &Node, target: &[i64]) -> Result<(), OnnxError> {
        let Some((&batch, rest)) = target.split_first() else {
            return Err(n.unsupported("a Reshape to a scalar"));
        };
        let batch_ok =
            batch == BATCH || batch == 0 || batch == -1 || Some(batch) == self.static_batch;
        if !batch_ok || rest.contains(&BATCH) {
            return Err(n.unsupported(format!(
                "the first axis must stay the batch (target {:?})",
                target
                    .iter()
                    .map(|v| if *v == BATCH {
                        "batch".to_string()
                    } else {
                        v.to_string()
                    })
                    .collect::<Vec<_>>()
            )));
        }
        if batch == -1 && rest.contains(&-1) {
            return Err(n.unsupported("two inferred (-1) dimensions"));
        }
        let dims = resolve_reshape(&self.shape, rest).map_err(|e| n.unsupported(e))?;
        if dims == self.shape {
            return Ok(());
        }
        let total: usize = self.shape.iter().product();
        if dims == [total] {
            return self.flatten(n);
        }
        if self.layers.is_empty() {
            self.input = dims.clone();
            self.shape = dims;
            return Ok(());
        }
        Err(n.unsupported(format!(
            "a Reshape from {:?} to {dims:?} between layers is not a layer privml has (only flattening)",
            self.shape
        )))
    }

    fn gemm(&mut self, n: &Node) -> Result<(), OnnxError> {
        n.only_attributes(&["alpha", "beta", "transA", "transB"])?;
        if n.int("transA", 0) != 0 {
            return Err(n.unsupported("transA = 1 would transpose the data's batch axis"));
        }
        let mut w = self.float(n, 1, "weights")?;
        if w.ndim() != 2 {
            return Err(n.unsupported(format!("weights of shape {:?} are not a matrix", w.shape())));
        }
        if n.int("transB", 0) != 0 {
            w = w.reversed_axes().as_standard_layout().into_owned();
        }
        let alpha = n.float("alpha", 1.0);
        let beta = n.float("beta", 1.0);
        w.mapv_inplace(|v| v * alpha);
        let (inputs, outputs) = (w.shape()[0], w.shape()[1]);
        if self.shape != [inputs] {
            return Err(n.unsupported(format!(
                "the data has shape {:?}, the weights take {inputs} features",
                self.shape
            )));
        }
        let mut values = vec![w];
        if let Some(c) = self.constant(n, 2)? {
            let c = c.to_float("the bias").map_err(|e| n.unsupported(e))?;
            values.push(row_vector(n, &c.mapv(|v| v * beta), outputs, "the bias C")?);
        }
        let bias = values.len() == 2;
        self.push(n, LayerSpec::Dense { outputs, bias }, values)
    }

    /// Add/Sub/Mul/Div of a constant right after a conv or dense layer:
    /// folded into its bias (Add, Sub) or its weights and bias (Mul, Div),
    /// per output channel or for all.
    fn affine_constant(&mut self, n: &Node) -> Result<(), OnnxError> {
        n.only_attributes(&[])?;
        let data_first = n.input(0) == Some(self.current.as_str());
        let k = if data_first { 1 } else { 0 };
        let c = self.float(n, k, "constant")?;
        if !self.affine_tail {
            return Err(n.unsupported(
                "privml imports an Add, Sub, Mul or Div of a constant as the bias or scale of the Gemm, MatMul or Conv right before it",
            ));
        }
        if !data_first && matches!(n.op(), "Sub" | "Div") {
            return Err(n.unsupported("the constant must be the second input"));
        }
        let channels = self.shape[0];
        let spatial = self.shape.len() > 1;
        let per_channel = channel_vector(&c, channels, spatial).ok_or_else(|| {
            n.unsupported(format!(
                "a constant of shape {:?} does not broadcast per output channel over {:?}",
                c.shape(),
                self.shape
            ))
        })?;
        let (layer, values) = match (self.layers.last_mut(), self.parameters.last_mut()) {
            (Some(l), Some(v)) => (l, v),
            _ => return Err(n.unsupported("no layer before it")),
        };
        let (LayerSpec::Dense { bias, .. } | LayerSpec::Conv2d { bias, .. }) = layer else {
            return Err(n.unsupported("no conv or dense layer before it"));
        };
        if !*bias {
            *bias = true;
            values.push(ArrayD::zeros(IxDyn(&[1, channels])));
        }
        let conv = matches!(layer, LayerSpec::Conv2d { .. });
        match n.op() {
            "Add" | "Sub" => {
                let sign = if n.op() == "Sub" { -1.0 } else { 1.0 };
                for (b, v) in values[1].iter_mut().zip(&per_channel) {
                    *b += sign * v;
                }
            }
            _ => {
                let s: Vec<f64> = if n.op() == "Div" {
                    per_channel.iter().map(|v| 1.0 / v).collect()
                } else {
                    per_channel
                };
                let out_axis = if conv { 0 } else { 1 };
                for (j, mut lane) in values[0].axis_iter_mut(Axis(out_axis)).enumerate() {
                    lane.mapv_inplace(|x| x * s[j]);
                }
                for (b, v) in values[1].iter_mut().zip(&s) {
                    *b *= v;
                }
            }
        }
        Ok(())
    }

    fn conv(&mut self, n: &Node) -> Result<(), OnnxError> {
        n.only_attributes(&[
            "auto_pad",
            "dilations",
            "group",
            "kernel_shape",
            "pads",
            "strides",
        ])?;
        let w = self.float(n, 1, "weights")?;
        let [c, h, wd] = <[usize; 3]>::try_from(self.shape.as_slice()).map_err(|_| {
            n.unsupported(format!(
                "privml imports 2-D convolutions of [batch, c, h, w] data (data {:?})",
                self.shape
            ))
        })?;
        let [ch, wc, kh, kw] = <[usize; 4]>::try_from(w.shape())
            .map_err(|_| n.unsupported("the weights must be [out, in, kh, kw]"))?;
        if n.int("group", 1) != 1 {
            return Err(n.unsupported("grouped (and depthwise) convolutions are not supported"));
        }
        if wc != c {
            return Err(n.unsupported(format!("weights for {wc} input channels, the data has {c}")));
        }
        if n.ints("dilations")
            .is_some_and(|d| d.iter().any(|v| *v != 1))
        {
            return Err(n.unsupported("dilated convolutions are not supported"));
        }
        if n.ints("kernel_shape")
            .is_some_and(|k| k != [kh as i64, kw as i64])
        {
            return Err(n.unsupported("kernel_shape does not match the weights"));
        }
        let stride = pair(n, "strides", 1)?;
        let padding = self.padding(n, [kh, kw], stride, [h, wd])?;
        let mut values = vec![w];
        if let Some(b) = self.constant(n, 2)? {
            let b = b.to_float("the bias").map_err(|e| n.unsupported(e))?;
            values.push(row_vector(n, &b, ch, "the bias")?);
        }
        let bias = values.len() == 2;
        self.push(
            n,
            LayerSpec::Conv2d {
                channels: ch,
                kernel: [kh, kw],
                stride,
                padding,
                bias,
            },
            values,
        )
    }

    /// Symmetric zero padding from `pads` or `auto_pad`.
    fn padding(
        &self,
        n: &Node,
        kernel: [usize; 2],
        stride: [usize; 2],
        input: [usize; 2],
    ) -> Result<[usize; 2], OnnxError> {
        let auto = n.string("auto_pad", "NOTSET");
        match auto.as_str() {
            "NOTSET" => {
                let pads = n.ints("pads").unwrap_or(&[0, 0, 0, 0]);
                match *pads {
                    [t, l, b, r] if t == b && l == r && t >= 0 && l >= 0 => {
                        Ok([t as usize, l as usize])
                    }
                    _ => Err(n.unsupported(format!(
                        "pads {pads:?}: privml pads symmetrically (top = bottom, left = right)"
                    ))),
                }
            }
            "VALID" => Ok([0, 0]),
            "SAME_UPPER" | "SAME_LOWER" => {
                let mut p = [0; 2];
                for i in 0..2 {
                    let out = input[i].div_ceil(stride[i]);
                    let total = ((out - 1) * stride[i] + kernel[i]).saturating_sub(input[i]);
                    if !total.is_multiple_of(2) {
                        return Err(n.unsupported(format!(
                            "{auto} pads {total} on axis {i}, which is not symmetric"
                        )));
                    }
                    p[i] = total / 2;
                }
                Ok(p)
            }
            other => Err(n.unsupported(format!("auto_pad {other}"))),
        }
    }

    fn pool(&mut self, n: &Node) -> Result<(), OnnxError> {
        n.only_attributes(&[
            "auto_pad",
            "ceil_mode",
            "count_include_pad",
            "dilations",
            "kernel_shape",
            "pads",
            "storage_order",
            "strides",
        ])?;
        let kernel = n
            .ints("kernel_shape")
            .ok_or_else(|| n.unsupported("kernel_shape is required"))?;
        let kernel = match *kernel {
            [a, b] if a > 0 && b > 0 => [a as usize, b as usize],
            _ => {
                return Err(n.unsupported(format!(
                    "kernel_shape {kernel:?}: privml pools over 2-D windows"
                )));
            }
        };
        if n.ints("pads").is_some_and(|p| p.iter().any(|v| *v != 0))
            || !matches!(n.string("auto_pad", "NOTSET").as_str(), "NOTSET" | "VALID")
        {
            return Err(n.unsupported("padded pooling is not supported"));
        }
        if n.ints("dilations")
            .is_some_and(|d| d.iter().any(|v| *v != 1))
        {
            return Err(n.unsupported("dilated pooling is not supported"));
        }
        let stride = pair(n, "strides", 1)?;
        // ceil_mode changes nothing when the windows tile the input, which
        // the layer checks.
        let layer = if n.op() == "MaxPool" {
            if n.proto.output.len() > 1 {
                return Err(n.unsupported("the Indices output is not supported"));
            }
            LayerSpec::MaxPool2d { kernel, stride }
        } else {
            LayerSpec::AvgPool2d { kernel, stride }
        };
        self.push(n, layer, Vec::new())
    }

    fn batch_norm(&mut self, n: &Node) -> Result<(), OnnxError> {
        n.only_attributes(&["epsilon", "momentum", "spatial", "training_mode"])?;
        if n.int("training_mode", 0) != 0 || n.int("spatial", 1) != 1 {
            return Err(n.unsupported(
                "training mode (or non-spatial) batch normalisation is not supported",
            ));
        }
        if !self.affine_tail {
            return Err(n.unsupported(
                "privml folds a BatchNormalization into the Conv, Gemm or MatMul right before it; here none is",
            ));
        }
        let channels = self.shape[0];
        let mut values = Vec::with_capacity(4);
        for (k, what) in [(1, "scale"), (2, "bias"), (3, "mean"), (4, "variance")] {
            let v = self.float(n, k, what)?;
            if v.len() != channels {
                return Err(n.unsupported(format!(
                    "the {what} has {} values for {channels} channels",
                    v.len()
                )));
            }
            values.push(
                v.into_shape_clone(IxDyn(&[channels]))
                    .map_err(|e| n.unsupported(e.to_string()))?,
            );
        }
        let epsilon = n.float("epsilon", 1e-5);
        self.push(n, LayerSpec::BatchNorm { epsilon }, values)?;
        Ok(())
    }
}

/// Elementwise arithmetic of two constants with NumPy broadcasting.
fn arith(n: &Node, x: &ArrayD<f64>, y: &ArrayD<f64>) -> Result<ArrayD<f64>, OnnxError> {
    let r = match n.op() {
        "Add" => x + y,
        "Sub" => x - y,
        "Mul" => x * y,
        _ => x / y,
    };
    Ok(r)
}

/// `v` (a scalar, `[k]` or `[1, k]`) as a `[1, k]` row.
fn row_vector(n: &Node, v: &ArrayD<f64>, k: usize, what: &str) -> Result<ArrayD<f64>, OnnxError> {
    let values: Vec<f64> = if v.len() == 1 {
        vec![v.iter().next().copied().unwrap_or(0.0); k]
    } else if v.len() == k && v.shape().iter().filter(|d| **d != 1).count() <= 1 {
        v.iter().copied().collect()
    } else {
        return Err(n.unsupported(format!(
            "{what} of shape {:?} does not broadcast to {k} outputs",
            v.shape()
        )));
    };
    ArrayD::from_shape_vec(IxDyn(&[1, k]), values).map_err(|e| n.unsupported(e.to_string()))
}

/// A constant that broadcasts per channel over `[channels, ...]` data
/// (with the batch axis in front): a scalar, `[channels]` for vector data,
/// `[channels, 1, 1]` (with leading ones) for images; its values per channel.
fn channel_vector(c: &ArrayD<f64>, channels: usize, spatial: bool) -> Option<Vec<f64>> {
    if c.len() == 1 {
        return Some(vec![c.iter().next().copied()?; channels]);
    }
    let dims: Vec<usize> = c.shape().to_vec();
    let trailing = if spatial { 2 } else { 0 };
    if dims.len() < 1 + trailing || dims[dims.len() - 1 - trailing] != channels {
        return None;
    }
    let ones_elsewhere = dims
        .iter()
        .enumerate()
        .all(|(i, d)| i == dims.len() - 1 - trailing || *d == 1);
    ones_elsewhere.then(|| c.iter().copied().collect())
}

/// A two-element attribute (strides), `default` for each if absent.
fn pair(n: &Node, name: &str, default: usize) -> Result<[usize; 2], OnnxError> {
    match n.ints(name) {
        None => Ok([default; 2]),
        Some([a, b]) if *a > 0 && *b > 0 => Ok([*a as usize, *b as usize]),
        Some(v) => Err(n.unsupported(format!("{name} {v:?}: two positive values expected"))),
    }
}

/// The dimensions of a C-order reshape of `shape` to `target` (0 copies
/// the input's dimension, one -1 is inferred).
fn resolve_reshape(shape: &[usize], target: &[i64]) -> Result<Vec<usize>, String> {
    let total: usize = shape.iter().product();
    let mut dims = Vec::with_capacity(target.len());
    let mut infer = None;
    for (i, &t) in target.iter().enumerate() {
        match t {
            0 => dims.push(*shape.get(i).ok_or("a 0 dimension past the input's rank")?),
            -1 if infer.is_none() => {
                infer = Some(i);
                dims.push(1);
            }
            t if t > 0 => dims.push(t as usize),
            _ => return Err(format!("target shape {target:?} is not valid")),
        }
    }
    let known: usize = dims.iter().product();
    if let Some(i) = infer {
        if known == 0 || !total.is_multiple_of(known) {
            return Err(format!("cannot reshape {shape:?} to {target:?}"));
        }
        dims[i] = total / known;
    }
    if dims.iter().product::<usize>() != total {
        return Err(format!(
            "cannot reshape {shape:?} ({total} values) to {target:?}"
        ));
    }
    Ok(dims)
}
