//! Small helpers over `ndarray` tensors shared by all domains: broadcasting
//! elementwise maps with shape errors instead of panics, matrix-shape checks,
//! and contiguous views for the kernels.
//!
//! Broadcasting follows NumPy's rule in one direction: the right operand is
//! broadcast to the left operand's shape (a bias row `[1, n]` or `[n]` added
//! to a batch `[b, n]`); the result always has the left operand's shape.

use std::borrow::Cow;

use ndarray::{ArrayD, Axis, IxDyn, Zip};

use crate::error::{Error, Result};

/// Maps `f` over `a` and `b` broadcast to `a`'s shape.
pub fn zip_broadcast<A, B, C, F>(
    op: &'static str,
    a: &ArrayD<A>,
    b: &ArrayD<B>,
    f: F,
) -> Result<ArrayD<C>>
where
    A: Clone,
    B: Clone,
    F: Fn(&A, &B) -> C,
{
    let bv = b
        .broadcast(a.raw_dim())
        .ok_or_else(|| Error::ShapeMismatch {
            op,
            left: a.shape().to_vec(),
            right: b.shape().to_vec(),
        })?;
    Ok(Zip::from(a).and(&bv).map_collect(f))
}

/// Checks that `b` broadcasts to the shape of `a`.
pub fn check_broadcast(op: &'static str, a: &[usize], b: &[usize]) -> Result<()> {
    let ok = b.len() <= a.len()
        && b.iter()
            .rev()
            .zip(a.iter().rev())
            .all(|(&bd, &ad)| bd == ad || bd == 1);
    if ok {
        Ok(())
    } else {
        Err(Error::ShapeMismatch {
            op,
            left: a.to_vec(),
            right: b.to_vec(),
        })
    }
}

/// Checks that two shapes are equal.
pub fn check_same(op: &'static str, a: &[usize], b: &[usize]) -> Result<()> {
    if a == b {
        Ok(())
    } else {
        Err(Error::ShapeMismatch {
            op,
            left: a.to_vec(),
            right: b.to_vec(),
        })
    }
}

/// For a matrix product of `a` (m x k) and `b` (k x n), returns (m, k, n).
pub fn matmul_dims(op: &'static str, a: &[usize], b: &[usize]) -> Result<(usize, usize, usize)> {
    if a.len() != 2 || b.len() != 2 || a[1] != b[0] {
        return Err(Error::ShapeMismatch {
            op,
            left: a.to_vec(),
            right: b.to_vec(),
        });
    }
    Ok((a[0], a[1], b[1]))
}

/// The elements of `a` in row-major order, borrowed when already contiguous.
pub fn row_major<T: Clone>(a: &ArrayD<T>) -> Cow<'_, [T]> {
    match a.as_slice() {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(a.iter().cloned().collect()),
    }
}

/// A tensor of the given shape from row-major data (lengths are checked).
pub fn from_vec<T>(op: &'static str, shape: &[usize], data: Vec<T>) -> Result<ArrayD<T>> {
    let len = data.len();
    ArrayD::from_shape_vec(IxDyn(shape), data).map_err(|_| Error::ShapeMismatch {
        op,
        left: shape.to_vec(),
        right: vec![len],
    })
}

/// Transpose of a matrix, materialised in row-major order.
pub fn transpose2<T: Clone>(op: &'static str, a: &ArrayD<T>) -> Result<ArrayD<T>> {
    if a.ndim() != 2 {
        return Err(Error::ShapeMismatch {
            op,
            left: a.shape().to_vec(),
            right: vec![],
        });
    }
    Ok(a.t().as_standard_layout().into_owned())
}

/// Reshape (the element count must match).
pub fn reshape<T: Clone>(op: &'static str, a: &ArrayD<T>, shape: &[usize]) -> Result<ArrayD<T>> {
    let n: usize = shape.iter().product();
    if n != a.len() {
        return Err(Error::ShapeMismatch {
            op,
            left: a.shape().to_vec(),
            right: shape.to_vec(),
        });
    }
    from_vec(op, shape, row_major(a).into_owned())
}

/// Rows `start..end` of axis 0.
pub fn slice_rows<T: Clone>(
    op: &'static str,
    a: &ArrayD<T>,
    start: usize,
    end: usize,
) -> Result<ArrayD<T>> {
    if a.ndim() == 0 || start > end || end > a.shape()[0] {
        return Err(Error::ShapeMismatch {
            op,
            left: a.shape().to_vec(),
            right: vec![start, end],
        });
    }
    Ok(a.slice_axis(Axis(0), (start..end).into())
        .as_standard_layout()
        .into_owned())
}

/// Rows of axis 0 at `indices`.
pub fn gather_rows<T: Clone>(
    op: &'static str,
    a: &ArrayD<T>,
    indices: &[usize],
) -> Result<ArrayD<T>> {
    let rows = a.shape().first().copied().unwrap_or(0);
    if a.ndim() == 0 || indices.iter().any(|i| *i >= rows) {
        return Err(Error::ShapeMismatch {
            op,
            left: a.shape().to_vec(),
            right: indices.to_vec(),
        });
    }
    Ok(a.select(Axis(0), indices).as_standard_layout().into_owned())
}

/// Tensors stacked along axis 0.
pub fn concat_rows<T: Clone>(op: &'static str, parts: &[&ArrayD<T>]) -> Result<ArrayD<T>> {
    let views: Vec<_> = parts.iter().map(|p| p.view()).collect();
    let first = parts
        .first()
        .map(|p| p.shape().to_vec())
        .unwrap_or_default();
    ndarray::concatenate(Axis(0), &views)
        .map(|a| a.as_standard_layout().into_owned())
        .map_err(|_| Error::ShapeMismatch {
            op,
            left: first,
            right: parts
                .iter()
                .skip(1)
                .flat_map(|p| p.shape().to_vec())
                .collect(),
        })
}

/// For each element of a tensor of shape `big`, the flat index of the
/// element of a tensor of shape `small` broadcast onto it.
pub fn broadcast_index(op: &'static str, big: &[usize], small: &[usize]) -> Result<Vec<usize>> {
    check_broadcast(op, big, small)?;
    let n: usize = small.iter().product();
    let idx =
        ArrayD::from_shape_vec(IxDyn(small), (0..n).collect::<Vec<usize>>()).map_err(|_| {
            Error::ShapeMismatch {
                op,
                left: big.to_vec(),
                right: small.to_vec(),
            }
        })?;
    let b = idx
        .broadcast(IxDyn(big))
        .ok_or_else(|| Error::ShapeMismatch {
            op,
            left: big.to_vec(),
            right: small.to_vec(),
        })?;
    Ok(b.iter().copied().collect())
}

/// Checks an axis index.
pub fn check_axis(op: &'static str, shape: &[usize], axis: usize) -> Result<()> {
    if axis < shape.len() {
        Ok(())
    } else {
        Err(Error::ShapeMismatch {
            op,
            left: shape.to_vec(),
            right: vec![axis],
        })
    }
}

/// The shape of `shape` with `axis` reduced to length 1 (keep-dims reduction).
pub fn reduced_shape(shape: &[usize], axis: usize) -> Vec<usize> {
    let mut s = shape.to_vec();
    s[axis] = 1;
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::arr2;

    #[test]
    fn broadcast_bias_row_and_reject_bad_shapes() {
        let a = arr2(&[[1.0, 2.0], [3.0, 4.0]]).into_dyn();
        let b = ndarray::arr1(&[10.0, 20.0]).into_dyn();
        let c = zip_broadcast("add", &a, &b, |x, y| x + y).unwrap();
        assert_eq!(c, arr2(&[[11.0, 22.0], [13.0, 24.0]]).into_dyn());
        let bad = ndarray::arr1(&[1.0, 2.0, 3.0]).into_dyn();
        assert!(matches!(
            zip_broadcast("add", &a, &bad, |x, y| x + y),
            Err(Error::ShapeMismatch { op: "add", .. })
        ));
        assert!(check_broadcast("add", &[4, 3], &[1, 3]).is_ok());
        assert!(check_broadcast("add", &[4, 3], &[4, 1]).is_ok());
        assert!(check_broadcast("add", &[3], &[4, 3]).is_err());
    }

    #[test]
    fn matmul_dims_and_reshape_errors() {
        assert_eq!(matmul_dims("matmul", &[2, 3], &[3, 4]).unwrap(), (2, 3, 4));
        assert!(matmul_dims("matmul", &[2, 3], &[2, 4]).is_err());
        assert!(matmul_dims("matmul", &[2, 3, 1], &[3, 4]).is_err());
        let a = arr2(&[[1, 2, 3], [4, 5, 6]]).into_dyn();
        assert!(reshape("reshape", &a, &[4]).is_err());
        assert_eq!(reshape("reshape", &a, &[3, 2]).unwrap().shape(), &[3, 2]);
        let t = transpose2("transpose", &a).unwrap();
        assert_eq!(row_major(&t).into_owned(), vec![1, 4, 2, 5, 3, 6]);
        assert!(slice_rows("rows", &a, 1, 3).is_err());
        assert_eq!(slice_rows("rows", &a, 1, 2).unwrap().shape(), &[1, 3]);
    }
}
