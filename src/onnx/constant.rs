//! Constant tensors at import time: the initializers, `Constant` nodes and
//! what the shape sub-graphs exporters emit compute from them, folded
//! before anything is secret-shared.

use ndarray::{ArrayD, Axis, IxDyn};

use super::error::OnnxError;
use super::proto::{TensorProto, data_type};

/// The batch size in a folded shape: unknown at import time, so it stands
/// for itself; only moving it around (`Gather`, `Concat`, `Unsqueeze`) and
/// handing it to `Reshape` are allowed, never arithmetic.
pub(crate) const BATCH: i64 = i64::MIN;

/// A constant value: floating point (weights) or integer (shapes, axes).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Const {
    /// Weights and other real values.
    Float(ArrayD<f64>),
    /// Shapes, indices and booleans.
    Int(ArrayD<i64>),
}

impl Const {
    /// The dimensions.
    pub(crate) fn shape(&self) -> &[usize] {
        match self {
            Const::Float(a) => a.shape(),
            Const::Int(a) => a.shape(),
        }
    }

    /// The values as reals (an integer constant converted; the batch
    /// placeholder refused with `why`).
    pub(crate) fn to_float(&self, why: &str) -> Result<ArrayD<f64>, String> {
        match self {
            Const::Float(a) => Ok(a.clone()),
            Const::Int(a) => {
                if a.iter().any(|v| *v == BATCH) {
                    return Err(format!("{why} depends on the batch size"));
                }
                Ok(a.mapv(|v| v as f64))
            }
        }
    }

    /// The values as integers (a real constant must hold integers).
    pub(crate) fn to_int(&self) -> Result<ArrayD<i64>, String> {
        match self {
            Const::Int(a) => Ok(a.clone()),
            Const::Float(a) => {
                if a.iter()
                    .any(|v| v.fract() != 0.0 || v.abs() > 9.007_199_254_740_992e15)
                {
                    return Err("expected integers".to_string());
                }
                Ok(a.mapv(|v| v as i64))
            }
        }
    }

    /// The values as a list of integers (a scalar or a vector).
    pub(crate) fn to_ints(&self) -> Result<Vec<i64>, String> {
        let a = self.to_int()?;
        if a.ndim() > 1 {
            return Err(format!(
                "expected a list of integers, got shape {:?}",
                a.shape()
            ));
        }
        Ok(a.iter().copied().collect())
    }

    /// Reshapes in C order.
    pub(crate) fn reshape(self, shape: &[usize]) -> Result<Const, String> {
        let bad = |e: ndarray::ShapeError| e.to_string();
        Ok(match self {
            Const::Float(a) => Const::Float(a.into_shape_clone(IxDyn(shape)).map_err(bad)?),
            Const::Int(a) => Const::Int(a.into_shape_clone(IxDyn(shape)).map_err(bad)?),
        })
    }

    /// Inserts a unit axis at `axis`.
    pub(crate) fn insert_axis(self, axis: usize) -> Const {
        match self {
            Const::Float(a) => Const::Float(a.insert_axis(Axis(axis))),
            Const::Int(a) => Const::Int(a.insert_axis(Axis(axis))),
        }
    }

    /// Removes the unit axis `axis`.
    pub(crate) fn remove_axis(self, axis: usize) -> Const {
        match self {
            Const::Float(a) => Const::Float(a.index_axis_move(Axis(axis), 0)),
            Const::Int(a) => Const::Int(a.index_axis_move(Axis(axis), 0)),
        }
    }

    /// The entries `indices` along `axis`; a scalar index drops the axis.
    pub(crate) fn gather(&self, axis: usize, indices: &[usize], scalar: bool) -> Const {
        let pick = |g: Const| if scalar { g.remove_axis(axis) } else { g };
        pick(match self {
            Const::Float(a) => Const::Float(a.select(Axis(axis), indices)),
            Const::Int(a) => Const::Int(a.select(Axis(axis), indices)),
        })
    }

    /// Axes permuted (`perm[i]` is the source axis of axis i).
    pub(crate) fn transpose(self, perm: &[usize]) -> Const {
        match self {
            Const::Float(a) => Const::Float(
                a.permuted_axes(IxDyn(perm))
                    .as_standard_layout()
                    .into_owned(),
            ),
            Const::Int(a) => Const::Int(
                a.permuted_axes(IxDyn(perm))
                    .as_standard_layout()
                    .into_owned(),
            ),
        }
    }
}

/// Checks a dimension list and returns it with its element count, bounded
/// by `available` (the values actually present), so a tensor that claims
/// more elements than its file holds is refused before any allocation.
fn dims(t: &TensorProto, available: usize) -> Result<Vec<usize>, OnnxError> {
    let bad = |reason: String| OnnxError::BadTensor {
        name: t.name.clone(),
        reason,
    };
    let mut count: usize = 1;
    let mut out = Vec::with_capacity(t.dims.len());
    for &d in &t.dims {
        let d = usize::try_from(d).map_err(|_| bad(format!("negative dimension {d}")))?;
        count = count
            .checked_mul(d)
            .ok_or_else(|| bad(format!("dimensions {:?} overflow", t.dims)))?;
        out.push(d);
    }
    if count != available {
        return Err(bad(format!(
            "dimensions {:?} need {count} values, the tensor holds {available}",
            t.dims
        )));
    }
    Ok(out)
}

/// Little-endian fixed-width values from `raw` (its length already checked
/// to be a multiple of `N`).
fn le_chunks<const N: usize, T>(raw: &[u8], from: fn([u8; N]) -> T) -> Vec<T> {
    raw.chunks_exact(N)
        .map(|c| {
            let mut b = [0u8; N];
            b.copy_from_slice(c);
            from(b)
        })
        .collect()
}

/// A `TensorProto` as a constant: float, double, int32, int64 and bool
/// tensors, stored inline (`raw_data` or the typed field). External data
/// and other element types are [`OnnxError::BadTensor`].
pub(crate) fn from_proto(t: &TensorProto) -> Result<Const, OnnxError> {
    let bad = |reason: String| OnnxError::BadTensor {
        name: t.name.clone(),
        reason,
    };
    if t.data_location == 1 || !t.external_data.is_empty() {
        return Err(bad(
            "its data is in an external file; save the model with every tensor inside it (onnx.save_model(..., save_as_external_data=False))".to_string(),
        ));
    }
    let raw = &t.raw_data;
    let width = match t.data_type {
        data_type::FLOAT | data_type::INT32 => 4,
        data_type::DOUBLE | data_type::INT64 => 8,
        data_type::BOOL => 1,
        other => {
            return Err(bad(format!(
                "element type {other} is not supported (float, double, int32, int64, bool)"
            )));
        }
    };
    if !raw.len().is_multiple_of(width) {
        return Err(bad(format!(
            "raw data of {} bytes is not a whole number of {width}-byte values",
            raw.len()
        )));
    }
    let use_raw = !raw.is_empty();
    let shaped_f = |v: Vec<f64>| -> Result<Const, OnnxError> {
        let d = dims(t, v.len())?;
        ArrayD::from_shape_vec(IxDyn(&d), v)
            .map(Const::Float)
            .map_err(|e| bad(e.to_string()))
    };
    let shaped_i = |v: Vec<i64>| -> Result<Const, OnnxError> {
        let d = dims(t, v.len())?;
        ArrayD::from_shape_vec(IxDyn(&d), v)
            .map(Const::Int)
            .map_err(|e| bad(e.to_string()))
    };
    match t.data_type {
        data_type::FLOAT if use_raw => {
            dims(t, raw.len() / 4)?;
            shaped_f(le_chunks(raw, |b| f64::from(f32::from_le_bytes(b))))
        }
        data_type::FLOAT => shaped_f(t.float_data.iter().map(|v| f64::from(*v)).collect()),
        data_type::DOUBLE if use_raw => {
            dims(t, raw.len() / 8)?;
            shaped_f(le_chunks(raw, f64::from_le_bytes))
        }
        data_type::DOUBLE => shaped_f(t.double_data.clone()),
        data_type::INT64 if use_raw => {
            dims(t, raw.len() / 8)?;
            shaped_i(le_chunks(raw, i64::from_le_bytes))
        }
        data_type::INT64 => shaped_i(t.int64_data.clone()),
        data_type::INT32 if use_raw => {
            dims(t, raw.len() / 4)?;
            shaped_i(le_chunks(raw, |b| i64::from(i32::from_le_bytes(b))))
        }
        data_type::INT32 | data_type::BOOL if !use_raw => {
            shaped_i(t.int32_data.iter().map(|v| i64::from(*v)).collect())
        }
        _ => {
            dims(t, raw.len())?;
            shaped_i(raw.iter().map(|b| i64::from(*b != 0)).collect())
        }
    }
}

/// A real tensor as a float `TensorProto` named `name` (for export).
pub(crate) fn to_proto(name: &str, a: &ArrayD<f64>) -> TensorProto {
    let mut raw = Vec::with_capacity(a.len() * 4);
    for v in a.iter() {
        raw.extend_from_slice(&(*v as f32).to_le_bytes());
    }
    TensorProto {
        dims: a.shape().iter().map(|d| *d as i64).collect(),
        data_type: data_type::FLOAT,
        name: name.to_string(),
        raw_data: raw,
        ..TensorProto::default()
    }
}
