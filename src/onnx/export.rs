//! Export: a privml network and its weights as an ONNX model, and
//! [`ExportJob`], which opens a saved model's weights to its owner only.

use std::path::PathBuf;

use ndarray::ArrayD;
use prost::Message;

use super::constant::to_proto;
use super::proto::{
    AttributeProto, Dimension, GraphProto, ModelProto, NodeProto, OperatorSetIdProto,
    TensorShapeProto, TensorTypeProto, TypeProto, ValueInfoProto, data_type,
};
use crate::domain::PartyId;
use crate::domain::{Ring, Session};
use crate::error::{Error, Result};
use crate::learn::{ModelLocation, file_for};
use crate::model_file::{Architecture, SavedModel};
use crate::nn::{LayerSpec, Network, NetworkSpec};
use crate::runner::Job;

/// The operator set exports declare.
const EXPORT_OPSET: i64 = 13;

fn int_attr(name: &str, i: i64) -> AttributeProto {
    AttributeProto {
        name: name.to_string(),
        i,
        r#type: 2,
        ..AttributeProto::default()
    }
}

fn float_attr(name: &str, f: f64) -> AttributeProto {
    AttributeProto {
        name: name.to_string(),
        f: f as f32,
        r#type: 1,
        ..AttributeProto::default()
    }
}

fn ints_attr(name: &str, v: [usize; 2]) -> AttributeProto {
    AttributeProto {
        name: name.to_string(),
        ints: v.iter().map(|x| *x as i64).collect(),
        r#type: 7,
        ..AttributeProto::default()
    }
}

fn value_info(name: &str, dims: &[usize]) -> ValueInfoProto {
    let dim = std::iter::once(Dimension {
        dim_value: None,
        dim_param: Some("batch".to_string()),
    })
    .chain(dims.iter().map(|d| Dimension {
        dim_value: Some(*d as i64),
        dim_param: None,
    }))
    .collect();
    ValueInfoProto {
        name: name.to_string(),
        r#type: Some(TypeProto {
            tensor_type: Some(TensorTypeProto {
                elem_type: data_type::FLOAT,
                shape: Some(TensorShapeProto { dim }),
            }),
        }),
        ..ValueInfoProto::default()
    }
}

/// The network as an ONNX model (opset 13, float32 weights): dense layers
/// as `Gemm`, the others as the operator of the same name; a sigmoid is
/// exported as the exact `Sigmoid` (privml evaluates it by the polynomial
/// its layer names). A description with an unfolded batch normalisation
/// is refused.
///
/// # Examples
///
/// ```
/// use ndarray::array;
/// use privml::nn::NetworkSpec;
/// use privml::onnx::{ImportOptions, export_bytes, import_bytes};
/// use privml::Origin;
///
/// let spec = NetworkSpec::parse("dense:2,relu,dense:1", "2")?;
/// let params = vec![
///     array![[1.0, -1.0], [0.5, 2.0]].into_dyn(), array![[0.0, 0.25]].into_dyn(),
///     array![[1.0], [-0.5]].into_dyn(), array![[0.125]].into_dyn(),
/// ];
/// let bytes = export_bytes(&spec, &params)?;
/// let back = import_bytes(&bytes, Origin::Bytes, &ImportOptions::default())?;
/// assert_eq!(back.spec, spec);
/// assert_eq!(back.parameters, params);
/// # Ok::<(), privml::Error>(())
/// ```
pub fn export_bytes(spec: &NetworkSpec, params: &[ArrayD<f64>]) -> Result<Vec<u8>> {
    let ins = spec.input_shapes()?;
    let mut nodes = Vec::new();
    let mut initializer = Vec::new();
    let mut params = params.iter();
    let mut current = "input".to_string();
    for (i, (layer, shape)) in spec.layers.iter().zip(&ins).enumerate() {
        let mut take = |name: &str| -> Result<String> {
            let p = params
                .next()
                .ok_or_else(|| Error::invalid("parameters", "fewer than the layers take"))?;
            let full = format!("layer{}.{name}", i + 1);
            let flat = if name == "bias" {
                p.clone()
                    .into_shape_clone(ndarray::IxDyn(&[p.len()]))
                    .map_err(|e| Error::internal("export_bytes", e.to_string()))?
            } else {
                p.clone()
            };
            initializer.push(to_proto(&full, &flat));
            Ok(full)
        };
        let mut inputs = vec![current.clone()];
        let mut attribute = Vec::new();
        let op = match layer {
            LayerSpec::Dense { bias, .. } => {
                if shape.len() != 1 {
                    let flat = format!("layer{}.flat", i + 1);
                    nodes.push(NodeProto {
                        input: vec![current.clone()],
                        output: vec![flat.clone()],
                        name: format!("layer{}_flatten", i + 1),
                        op_type: "Flatten".to_string(),
                        ..NodeProto::default()
                    });
                    inputs = vec![flat];
                }
                inputs.push(take("weights")?);
                if *bias {
                    inputs.push(take("bias")?);
                }
                "Gemm"
            }
            LayerSpec::Conv2d {
                kernel,
                stride,
                padding,
                bias,
                ..
            } => {
                inputs.push(take("weights")?);
                if *bias {
                    inputs.push(take("bias")?);
                }
                attribute.push(ints_attr("kernel_shape", *kernel));
                attribute.push(ints_attr("strides", *stride));
                let [ph, pw] = *padding;
                attribute.push(AttributeProto {
                    name: "pads".to_string(),
                    ints: vec![ph as i64, pw as i64, ph as i64, pw as i64],
                    r#type: 7,
                    ..AttributeProto::default()
                });
                "Conv"
            }
            LayerSpec::MaxPool2d { kernel, stride } | LayerSpec::AvgPool2d { kernel, stride } => {
                attribute.push(ints_attr("kernel_shape", *kernel));
                attribute.push(ints_attr("strides", *stride));
                if matches!(layer, LayerSpec::MaxPool2d { .. }) {
                    "MaxPool"
                } else {
                    "AveragePool"
                }
            }
            LayerSpec::GlobalAvgPool => "GlobalAveragePool",
            LayerSpec::Flatten => "Flatten",
            LayerSpec::Relu => "Relu",
            LayerSpec::HardSigmoid { slope } => {
                attribute.push(float_attr("alpha", *slope));
                attribute.push(float_attr("beta", 0.5));
                "HardSigmoid"
            }
            LayerSpec::Sigmoid { .. } => "Sigmoid",
            LayerSpec::Softmax => {
                attribute.push(int_attr("axis", -1));
                "Softmax"
            }
            LayerSpec::BatchNorm { .. } => {
                return Err(Error::invalid(
                    "model",
                    "export takes a description with its batch normalisations folded (as saved models are)",
                ));
            }
        };
        let output = format!("layer{}", i + 1);
        nodes.push(NodeProto {
            input: inputs,
            output: vec![output.clone()],
            name: format!("layer{}_{}", i + 1, op.to_lowercase()),
            op_type: op.to_string(),
            attribute,
            ..NodeProto::default()
        });
        current = output;
    }
    if params.next().is_some() {
        return Err(Error::invalid("parameters", "more than the layers take"));
    }
    let output = value_info(&current, &spec.output_shape()?);
    let model = ModelProto {
        ir_version: 7,
        producer_name: "privml".to_string(),
        producer_version: env!("CARGO_PKG_VERSION").to_string(),
        graph: Some(GraphProto {
            node: nodes,
            name: "privml".to_string(),
            initializer,
            input: vec![value_info("input", &spec.input)],
            output: vec![output],
            ..GraphProto::default()
        }),
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: EXPORT_OPSET,
        }],
        ..ModelProto::default()
    };
    Ok(model.encode_to_vec())
}

/// The description of an MLP as a network (dense layers with ReLU between).
fn as_network(architecture: &Architecture) -> Result<NetworkSpec> {
    match architecture {
        Architecture::Network(spec) => Ok(spec.clone()),
        Architecture::Mlp(m) => {
            let mut layers = Vec::new();
            for h in &m.hidden {
                layers.push(LayerSpec::Dense {
                    outputs: *h,
                    bias: true,
                });
                layers.push(LayerSpec::Relu);
            }
            layers.push(LayerSpec::Dense {
                outputs: m.outputs,
                bias: true,
            });
            Ok(NetworkSpec {
                input: vec![m.inputs],
                layers,
            })
        }
    }
}

/// Opens a saved model's weights to the model owner ([`ExportJob::owner`])
/// only and, there, writes them as an ONNX file: for a model whose owner
/// is entitled to its weights. The other parties open nothing.
pub struct ExportJob {
    /// `{prefix}.party{N}.shares` (or `{prefix}.clear`) of each party, in
    /// process; this party's own file over the network.
    pub model: ModelLocation,
    /// Where the owner writes the ONNX file (ignored on the other parties).
    pub out: PathBuf,
    /// The party that receives the weights ([`MODEL_OWNER`](crate::nn::MODEL_OWNER), party 0, unless
    /// the parties agree on another).
    pub owner: PartyId,
}

impl Job for ExportJob {
    /// The owner's path of the written file.
    type Output = Option<PathBuf>;

    fn output_party(&self) -> usize {
        self.owner
    }

    fn run<R: Ring + Session>(&self, r: &mut R) -> Result<Option<PathBuf>> {
        let path = match &self.model {
            ModelLocation::Prefix(p) => file_for(r, p),
            ModelLocation::File(p) => p.clone(),
        };
        let model = SavedModel::load(path)?;
        let spec = as_network(&model.meta.architecture)?;
        let net = Network::import(r, &spec, &model.tensors)?;
        let params = net.parameters();
        r.check_agreement(&params, &model.model_id)?;
        let mut values = Vec::with_capacity(params.len());
        for p in params {
            values.push(r.reveal_to(self.owner, p)?);
        }
        if !r.owns(self.owner) {
            return Ok(None);
        }
        let values = values
            .into_iter()
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| Error::internal("ExportJob", "the owner received no weights"))?;
        let bytes = export_bytes(&spec, &values)?;
        crate::model_file::write_atomic(&self.out, &bytes)?;
        Ok(Some(self.out.clone()))
    }
}
