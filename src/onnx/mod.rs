//! ONNX models: import for private inference, export of trained models.
//!
//! People train in PyTorch, TensorFlow or JAX and export ONNX; privml maps
//! such a model one to one onto its typed architecture ([`NetworkSpec`]),
//! secret-shares the weights from the model owner (party 0 unless the
//! parties agree on another, [`ImportJob::owner`]) and writes one
//! share file per party, exactly as a model trained under MPC is saved
//! ([`ImportJob`], `privml import`). The protobuf messages are decoded with
//! `prost` from the schema subset in [`proto`].
//!
//! # What is imported
//!
//! An explicit allow-list, each operator mapped to one privml layer:
//!
//! | ONNX | privml |
//! |---|---|
//! | `Gemm` (transB, alpha, beta; bias C of shape `[]`, `[n]` or `[1, n]`) | [`LayerSpec::Dense`] (W = alpha·B or alpha·Bᵀ, b = beta·C) |
//! | `MatMul` by a constant matrix | [`LayerSpec::Dense`] without bias |
//! | `Add`, `Sub`, `Mul`, `Div` by a constant, right after a dense or conv layer | folded into that layer's bias (Add, Sub) or weights and bias (Mul, Div), per output channel |
//! | `Conv` (2-D, group 1, no dilation, symmetric pads or `auto_pad`) | [`LayerSpec::Conv2d`] |
//! | `MaxPool`, `AveragePool` (no padding, windows that tile the input) | [`LayerSpec::MaxPool2d`], [`LayerSpec::AvgPool2d`] |
//! | `GlobalAveragePool` | [`LayerSpec::GlobalAvgPool`] |
//! | `Relu` | [`LayerSpec::Relu`] |
//! | `Sigmoid` | the approximation chosen by [`ImportOptions::sigmoid`] (default: Chebyshev degree 9 on [-10, 10], [`LayerSpec::Sigmoid`]; or [`LayerSpec::HardSigmoid`]) |
//! | `HardSigmoid` (beta 0.5) | [`LayerSpec::HardSigmoid`] with slope alpha |
//! | `Softmax` over the features | [`LayerSpec::Softmax`] |
//! | `LogSoftmax` as the last node | not computed: the model outputs the logits (same argmax), and the import says so in [`ImportedModel::notes`] |
//! | `Flatten` (axis 1), `Reshape` to [batch, -1] | [`LayerSpec::Flatten`] |
//! | `Reshape` of the input before the first layer | the model's input shape |
//! | `BatchNormalization` (inference) after a conv or dense layer | [`LayerSpec::BatchNorm`], folded into that layer when the owner shares the weights |
//! | `Dropout`, `Identity` | nothing (inference) |
//! | `Constant`, `Shape`, `Gather`, `Unsqueeze`, `Squeeze`, `Concat`, `Cast`, `Reshape`, `Transpose`, arithmetic on constants | folded at import time (the shape sub-graphs exporters emit; initializers listed as graph inputs are constants) |
//!
//! Anything else is refused with [`OnnxError::UnsupportedOperator`] naming
//! the operator, the node and this list ([`ALLOWED_OPERATORS`]); an
//! allow-listed operator in a form privml does not compute is
//! [`OnnxError::Unsupported`] with the reason. Nothing is approximated
//! silently. Operator sets [`MIN_OPSET`] to [`MAX_OPSET`] of the standard
//! domain are read; the graph must be a chain (one data input, one output,
//! no branches).
//!
//! # What is disclosed
//!
//! | who | learns |
//! |---|---|
//! | every party | the architecture: every layer, its shapes and hyper-parameters (kernel, stride, padding, the sigmoid's approximation), the input and output names; these are in each party's file in the clear |
//! | the model owner (party 0 by default) | the weights, which it had before |
//! | the other two parties | nothing of the weights: they receive random shares; batch normalisations are folded by the owner before sharing, so their statistics are not disclosed either |
//! | the model owner, on export ([`ExportJob`]) | the weights (folded), opened to it alone |
//!
//! A file that does not decode is [`Error::Decode`] with
//! [`DecodeError::Protobuf`]; prost checks every length against the bytes
//! that remain and bounds nesting, and tensors are checked against their
//! declared dimensions before any allocation, so a hostile file costs
//! memory proportional to its size and never a panic.
//!
//! # Examples
//!
//! ```
//! use privml::onnx::{ImportOptions, import_bytes};
//! use privml::Origin;
//!
//! // A file that is not ONNX is a decoding error, not a panic.
//! let e = import_bytes(b"\xff\xff\xff", Origin::Bytes, &ImportOptions::default()).unwrap_err();
//! assert!(e.to_string().contains("malformed ONNX model"), "{e}");
//! ```

mod constant;
mod error;
mod export;
mod job;
mod map;
mod node;
pub mod proto;

use std::path::Path;

use ndarray::ArrayD;
use prost::Message;

pub use error::OnnxError;
pub use export::{ExportJob, export_bytes};
pub use job::{ImportJob, ImportOutcome};

use crate::error::{DecodeError, Error, FileOp, Origin, Result};
use crate::nn::{LayerSpec, NetworkSpec};

/// The oldest standard operator set imported.
pub const MIN_OPSET: i64 = 11;

/// The newest standard operator set imported (ONNX 1.23's).
pub const MAX_OPSET: i64 = 28;

/// The operators privml imports, as errors list them.
pub const ALLOWED_OPERATORS: &str = "Gemm, MatMul, Add/Sub/Mul/Div by a constant (bias, scale), Conv, MaxPool, AveragePool, GlobalAveragePool, Relu, Sigmoid, HardSigmoid, Softmax, LogSoftmax (last node), Flatten, Reshape, BatchNormalization, Dropout, Identity, and constant sub-graphs of Constant, Shape, Gather, Unsqueeze, Squeeze, Concat, Cast, Transpose";

/// The largest file read: protobuf's own limit of 2 GiB.
const MAX_FILE_BYTES: u64 = 2 << 30;

/// What "malformed ..." errors call the format.
const WHAT: &str = "ONNX model";

/// Choices the ONNX graph leaves open.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportOptions {
    /// The layer a `Sigmoid` node becomes: [`LayerSpec::Sigmoid`] (a
    /// Chebyshev polynomial; default degree 9 on [-10, 10], error below
    /// 1e-2 inside and saturating badly outside) or
    /// [`LayerSpec::HardSigmoid`] (two comparisons; exact at 0 and for
    /// |x| ≥ 2, up to 0.12 off in between). `privml import --sigmoid`.
    pub sigmoid: LayerSpec,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            sigmoid: LayerSpec::Sigmoid {
                interval: 10.0,
                degree: 9,
            },
        }
    }
}

/// An ONNX model mapped onto privml layers, in the clear: what the model
/// owner holds before sharing.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedModel {
    /// The layers (batch normalisations not yet folded).
    pub spec: NetworkSpec,
    /// The parameter values in the order of
    /// [`NetworkSpec::parameter_shapes`].
    pub parameters: Vec<ArrayD<f64>>,
    /// The graph's data input.
    pub input_name: String,
    /// The graph's output.
    pub output_name: String,
    /// The standard operator set the model declares.
    pub opset: i64,
    /// What the import did that the user should know (a dropped final
    /// LogSoftmax).
    pub notes: Vec<String>,
}

/// Decodes an ONNX model's protobuf.
pub fn decode(bytes: &[u8], origin: Origin) -> Result<proto::ModelProto> {
    proto::ModelProto::decode(bytes)
        .map_err(|e| Error::decode(WHAT, origin, DecodeError::Protobuf(e)))
}

/// Maps an ONNX model (its bytes) onto privml layers.
pub fn import_bytes(
    bytes: &[u8],
    origin: Origin,
    options: &ImportOptions,
) -> Result<ImportedModel> {
    let model = decode(bytes, origin.clone())?;
    let Some(graph) = model.graph.as_ref() else {
        return Err(Error::decode(
            WHAT,
            origin,
            DecodeError::BadField {
                field: "graph",
                reason: "missing (not an ONNX model, or a truncated one)".to_string(),
            },
        ));
    };
    let opset = model
        .opset_import
        .iter()
        .filter(|o| o.domain.is_empty() || o.domain == "ai.onnx")
        .map(|o| o.version)
        .max()
        .unwrap_or(1);
    if !(MIN_OPSET..=MAX_OPSET).contains(&opset) {
        return Err(OnnxError::Opset { version: opset }.into());
    }
    Ok(map::Mapper::run(graph, opset, options)?)
}

/// Reads and maps an ONNX file (see [`import_bytes`]); a missing file is
/// [`Error::FileIo`], one over 2 GiB is refused before it is read.
pub fn import_file(path: &Path, options: &ImportOptions) -> Result<ImportedModel> {
    let len = std::fs::metadata(path)
        .map_err(|e| Error::file(FileOp::Metadata, path, e))?
        .len();
    if len > MAX_FILE_BYTES {
        return Err(Error::decode(
            WHAT,
            Origin::File(path.to_path_buf()),
            DecodeError::TooLarge {
                declared: len,
                max: MAX_FILE_BYTES,
            },
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| Error::file(FileOp::Read, path, e))?;
    import_bytes(&bytes, Origin::File(path.to_path_buf()), options)
}
