//! Small helpers over `ndarray` tensors shared by all domains: broadcasting
//! elementwise maps with shape errors instead of panics, shape and argument
//! checks, and contiguous views for the kernels. (Layout changes are
//! [`Gather`](crate::Gather) plans.)
//!
//! Broadcasting follows NumPy's rule in one direction: the right operand is
//! broadcast to the left operand's shape (a bias row `[1, n]` or `[n]` added
//! to a batch `[b, n]`); the result always has the left operand's shape.

use std::borrow::Cow;

use ndarray::{ArrayD, IxDyn, Zip};

use crate::error::{Error, Result};

/// The error for two shapes that do not fit `op`.
pub fn mismatch(op: &'static str, left: &[usize], right: &[usize]) -> Error {
    Error::ShapeMismatch {
        op,
        left: left.to_vec(),
        right: right.to_vec(),
    }
}

/// `Ok` if `ok`, else the error for shapes that do not fit `op`.
fn fits(ok: bool, op: &'static str, left: &[usize], right: &[usize]) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(mismatch(op, left, right))
    }
}

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
        .ok_or_else(|| mismatch(op, a.shape(), b.shape()))?;
    Ok(Zip::from(a).and(&bv).map_collect(f))
}

/// Checks that `b` broadcasts to the shape of `a`.
pub fn check_broadcast(op: &'static str, a: &[usize], b: &[usize]) -> Result<()> {
    let ok = b.len() <= a.len()
        && b.iter()
            .rev()
            .zip(a.iter().rev())
            .all(|(&bd, &ad)| bd == ad || bd == 1);
    fits(ok, op, a, b)
}

/// Checks that two shapes are equal.
pub fn check_same(op: &'static str, a: &[usize], b: &[usize]) -> Result<()> {
    fits(a == b, op, a, b)
}

/// For a matrix product of `a` (m x k) and `b` (k x n), returns (m, k, n).
pub fn matmul_dims(op: &'static str, a: &[usize], b: &[usize]) -> Result<(usize, usize, usize)> {
    fits(a.len() == 2 && b.len() == 2 && a[1] == b[0], op, a, b)?;
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
    ArrayD::from_shape_vec(IxDyn(shape), data).map_err(|_| mismatch(op, shape, &[len]))
}

/// For each element of a tensor of shape `big`, the flat index of the
/// element of a tensor of shape `small` broadcast onto it.
pub fn broadcast_index(op: &'static str, big: &[usize], small: &[usize]) -> Result<Vec<usize>> {
    check_broadcast(op, big, small)?;
    let n: usize = small.iter().product();
    let idx = ArrayD::from_shape_vec(IxDyn(small), (0..n).collect::<Vec<usize>>())
        .map_err(|_| mismatch(op, big, small))?;
    let b = idx
        .broadcast(IxDyn(big))
        .ok_or_else(|| mismatch(op, big, small))?;
    Ok(b.iter().copied().collect())
}

/// Checks an axis index.
pub fn check_axis(op: &'static str, shape: &[usize], axis: usize) -> Result<()> {
    fits(axis < shape.len(), op, shape, &[axis])
}

/// The shape of `shape` with `axis` reduced to length 1 (keep-dims reduction).
pub fn reduced_shape(shape: &[usize], axis: usize) -> Vec<usize> {
    let mut s = shape.to_vec();
    s[axis] = 1;
    s
}

/// Checks that every element is finite (public values and plaintext inputs).
pub fn check_finite(value: &ArrayD<f64>) -> Result<()> {
    match value.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        Some((index, &value)) => Err(Error::NonFinite { value, index }),
        None => Ok(()),
    }
}

/// A two-dimensional view of a tensor whose shape was already checked to be
/// a matrix (by [`matmul_dims`]).
pub fn as_matrix<T>(a: &ArrayD<T>) -> Result<ndarray::ArrayView2<'_, T>> {
    a.view()
        .into_dimensionality::<ndarray::Ix2>()
        .map_err(|e| Error::internal("as_matrix", format!("{:?}: {e}", a.shape())))
}

/// Checks the arguments of `lincomb_public` (at least one term, one finite
/// coefficient per term, at least one coefficient bit, equal shapes) and
/// returns the first term.
pub fn check_lincomb<'t, X>(
    terms: &[&'t ArrayD<X>],
    coeffs: &[f64],
    bits: u32,
) -> Result<&'t ArrayD<X>> {
    let shapes: Vec<&[usize]> = terms.iter().map(|t| t.shape()).collect();
    check_lincomb_shapes(&shapes, coeffs, bits)?;
    terms
        .first()
        .copied()
        .ok_or_else(|| Error::internal("check_lincomb", "no first term after the check"))
}

/// [`check_lincomb`] on the terms' shapes alone (for an evaluator that
/// holds shapes without data, such as the two-party protocol's dealer).
pub fn check_lincomb_shapes(shapes: &[&[usize]], coeffs: &[f64], bits: u32) -> Result<()> {
    let first = *shapes
        .first()
        .ok_or_else(|| Error::invalid("terms", "lincomb_public needs at least one term"))?;
    if shapes.len() != coeffs.len() {
        return Err(Error::invalid(
            "coeffs",
            format!("{} coefficients for {} terms", coeffs.len(), shapes.len()),
        ));
    }
    if bits == 0 {
        return Err(Error::invalid("coeff_frac_bits", "must be at least 1"));
    }
    for t in shapes {
        check_same("lincomb_public", first, t)?;
    }
    if let Some((index, &value)) = coeffs.iter().enumerate().find(|(_, c)| !c.is_finite()) {
        return Err(Error::NonFinite { value, index });
    }
    Ok(())
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
    fn matmul_dims_errors() {
        assert_eq!(matmul_dims("matmul", &[2, 3], &[3, 4]).unwrap(), (2, 3, 4));
        assert!(matmul_dims("matmul", &[2, 3], &[2, 4]).is_err());
        assert!(matmul_dims("matmul", &[2, 3, 1], &[3, 4]).is_err());
        let a = arr2(&[[1, 2, 3], [4, 5, 6]]).into_dyn();
        assert_eq!(as_matrix(&a).unwrap().dim(), (2, 3));
    }

    #[test]
    fn lincomb_arguments_are_checked() {
        let a = arr2(&[[1.0, 2.0]]).into_dyn();
        let b = arr2(&[[1.0], [2.0]]).into_dyn();
        assert!(check_lincomb(&[&a, &a], &[1.0, 2.0], 8).is_ok());
        assert!(check_lincomb::<f64>(&[], &[], 8).is_err());
        assert!(check_lincomb(&[&a], &[1.0, 2.0], 8).is_err());
        assert!(check_lincomb(&[&a], &[1.0], 0).is_err());
        assert!(matches!(
            check_lincomb(&[&a, &b], &[1.0, 2.0], 8),
            Err(Error::ShapeMismatch { .. })
        ));
        assert!(matches!(
            check_lincomb(&[&a], &[f64::NAN], 8),
            Err(Error::NonFinite { index: 0, .. })
        ));
    }
}
