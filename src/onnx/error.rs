//! [`OnnxError`]: why a well-formed ONNX model cannot be imported.

use super::{ALLOWED_OPERATORS, MAX_OPSET, MIN_OPSET};

/// An ONNX model that decodes but that privml does not import. Every
/// variant names what it is about (the node, the tensor, the operator set)
/// so the user can find it in the exporter's graph; nothing is ever
/// approximated silently instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OnnxError {
    /// An operator off the allow-list.
    #[error("operator {op} (node '{node}') is not supported; privml imports {ALLOWED_OPERATORS}")]
    UnsupportedOperator {
        /// The operator (with its domain if not the standard one).
        op: String,
        /// The node's name (or `#index` if it has none).
        node: String,
    },
    /// An allow-listed operator used in a form privml does not compute
    /// (an attribute value, an input that is not where it must be).
    #[error("node '{node}' ({op}): {reason}")]
    Unsupported {
        /// The operator.
        op: String,
        /// The node's name (or `#index`).
        node: String,
        /// What is not supported and, where there is one, the alternative.
        reason: String,
    },
    /// A node reads a value that nothing defines.
    #[error(
        "node '{node}' ({op}) reads '{name}', which no initializer, graph input or earlier node defines"
    )]
    UndefinedValue {
        /// The operator.
        op: String,
        /// The node's name (or `#index`).
        node: String,
        /// The value's name.
        name: String,
    },
    /// The standard operator set's version is outside what privml reads.
    #[error(
        "the model uses ai.onnx operator set {version}; privml imports versions {MIN_OPSET} to {MAX_OPSET}"
    )]
    Opset {
        /// The version the model declares.
        version: i64,
    },
    /// A constant tensor that cannot be read.
    #[error("tensor '{name}': {reason}")]
    BadTensor {
        /// The tensor's name.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The graph as a whole is not a model privml imports (no graph, no
    /// or several data inputs, an output that is not the last layer's).
    #[error("the graph {0}")]
    Graph(String),
}
