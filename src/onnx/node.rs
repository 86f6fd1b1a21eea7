//! One ONNX node with typed access to its attributes and inputs, and the
//! errors that name it.

use super::error::OnnxError;
use super::proto::{AttributeProto, NodeProto};

/// A node and the label its errors carry (its name, or `#index`).
pub(crate) struct Node<'a> {
    pub(crate) proto: &'a NodeProto,
    pub(crate) label: String,
}

impl<'a> Node<'a> {
    /// Wraps the `index`-th node of the graph.
    pub(crate) fn new(proto: &'a NodeProto, index: usize) -> Self {
        let label = if proto.name.is_empty() {
            format!("#{index}")
        } else {
            proto.name.clone()
        };
        Node { proto, label }
    }

    /// The operator.
    pub(crate) fn op(&self) -> &str {
        &self.proto.op_type
    }

    /// [`OnnxError::Unsupported`] for this node.
    pub(crate) fn unsupported(&self, reason: impl Into<String>) -> OnnxError {
        OnnxError::Unsupported {
            op: self.proto.op_type.clone(),
            node: self.label.clone(),
            reason: reason.into(),
        }
    }

    /// [`OnnxError::UndefinedValue`] for input `name`.
    pub(crate) fn undefined(&self, name: &str) -> OnnxError {
        OnnxError::UndefinedValue {
            op: self.proto.op_type.clone(),
            node: self.label.clone(),
            name: name.to_string(),
        }
    }

    /// Input `k`, if present and not the empty name ONNX uses for an
    /// omitted optional input.
    pub(crate) fn input(&self, k: usize) -> Option<&'a str> {
        self.proto
            .input
            .get(k)
            .map(String::as_str)
            .filter(|s| !s.is_empty())
    }

    /// The named inputs, in order.
    pub(crate) fn inputs(&self) -> impl Iterator<Item = &'a str> {
        self.proto
            .input
            .iter()
            .map(String::as_str)
            .filter(|s| !s.is_empty())
    }

    /// The first output's name.
    pub(crate) fn output(&self) -> Result<&'a str, OnnxError> {
        self.proto
            .output
            .first()
            .map(String::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| self.unsupported("the node has no output"))
    }

    fn attr(&self, name: &str) -> Option<&'a AttributeProto> {
        self.proto.attribute.iter().find(|a| a.name == name)
    }

    /// An integer attribute, or `default`.
    pub(crate) fn int(&self, name: &str, default: i64) -> i64 {
        self.attr(name).map_or(default, |a| a.i)
    }

    /// A float attribute, or `default`, as the decimal number the
    /// exporter wrote (ONNX stores float32: 1e-5 arrives as
    /// 9.99999974738e-6, and is read back as 1e-5 by its shortest decimal).
    pub(crate) fn float(&self, name: &str, default: f32) -> f64 {
        let f = self.attr(name).map_or(default, |a| a.f);
        f.to_string().parse().unwrap_or(f64::from(f))
    }

    /// An integer-list attribute, if present.
    pub(crate) fn ints(&self, name: &str) -> Option<&'a [i64]> {
        self.attr(name).map(|a| a.ints.as_slice())
    }

    /// A string attribute, or `default`.
    pub(crate) fn string(&self, name: &str, default: &str) -> String {
        self.attr(name).map_or(default.to_string(), |a| {
            String::from_utf8_lossy(&a.s).into_owned()
        })
    }

    /// Fails unless every attribute of the node is one of `known`: an
    /// attribute this importer does not read would change the result.
    pub(crate) fn only_attributes(&self, known: &[&str]) -> Result<(), OnnxError> {
        match self
            .proto
            .attribute
            .iter()
            .find(|a| !known.contains(&a.name.as_str()))
        {
            Some(a) => Err(self.unsupported(format!(
                "attribute '{}' is not supported (this operator reads {})",
                a.name,
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            ))),
            None => Ok(()),
        }
    }

    /// An axis attribute (or value) normalised against `rank`.
    pub(crate) fn axis(&self, axis: i64, rank: usize) -> Result<usize, OnnxError> {
        let r = rank as i64;
        let a = if axis < 0 { axis + r } else { axis };
        if (0..r).contains(&a) {
            Ok(a as usize)
        } else {
            Err(self.unsupported(format!("axis {axis} is out of range for rank {rank}")))
        }
    }
}
