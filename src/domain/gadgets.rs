//! Gadgets: functions built from the core operations of [`Ring`], written
//! once for every domain.
//!
//! [`Gadgets`] is an extension trait with only provided methods and a
//! blanket implementation for every `R: Ring`, in the manner of swanky's
//! `Fancy` gadgets: a domain implements the core, and every gadget follows.
//! What a gadget costs is what the core operations it calls cost, so
//! `Plain` and `Fixed` predict `Shared`'s communication for gadgets exactly
//! as they do for the core.
//!
//! Today's gadgets are the comparisons over [`Ring::nonneg_select`] (ReLU and
//! its derivative, sign, less-than, clipping to [0, 1], max, argmax). The
//! non-linear functions still to come — exponential, reciprocal, softmax,
//! inverse square root, max-pooling over windows from a [`Gather`](super::Gather) plan —
//! belong here too, as further provided methods: written once against the
//! core, tested on `Plain` and `Fixed`, private on `Shared`.
//!
//! # Examples
//!
//! ```
//! use ndarray::arr1;
//! use privml::prelude::*;
//!
//! let mut r = Fixed::<u64>::new();
//! let x = r.constant(&arr1(&[-1.5, 0.25, 3.0]).into_dyn())?;
//! let y = r.relu(&x)?;
//! assert_eq!(r.reveal(&y)?, arr1(&[0.0, 0.25, 3.0]).into_dyn());
//! assert_eq!(r.cost().comparisons, 3);
//! # Ok::<(), privml::Error>(())
//! ```

use super::{Layout, Ring};
use crate::error::{Error, Result};

/// What [`Gadgets::clip01_with`] returns: the clipped value, the inside
/// indicator, and the indicator times each extra operand.
pub type Clipped<T> = (T, T, Vec<T>);

/// Non-linear functions over the core of [`Ring`], implemented once for every
/// domain (see the [module documentation](self)). Bring it into scope with
/// `use privml::Gadgets` or `use privml::prelude::*`.
pub trait Gadgets: Ring {
    /// max(x, 0), elementwise.
    fn relu(&mut self, x: &Self::Tensor) -> Result<Self::Tensor> {
        let (_, mut v) = self.nonneg_select(x, &[x])?;
        Ok(v.remove(0))
    }

    /// (max(x, 0), [x ≥ 0]): ReLU and its derivative from one comparison.
    fn relu_with_derivative(&mut self, x: &Self::Tensor) -> Result<(Self::Tensor, Self::Tensor)> {
        let (d, mut v) = self.nonneg_select(x, &[x])?;
        Ok((v.remove(0), d))
    }

    /// [x ≥ 0] as 1.0 / 0.0 (the derivative of ReLU).
    fn relu_derivative(&mut self, x: &Self::Tensor) -> Result<Self::Tensor> {
        Ok(self.nonneg_select(x, &[])?.0)
    }

    /// +1 where x ≥ 0, -1 where x < 0.
    fn sign(&mut self, x: &Self::Tensor) -> Result<Self::Tensor> {
        let d = self.relu_derivative(x)?;
        let d2 = self.scale_int(&d, 2)?;
        self.add_public(&d2, &ndarray::arr0(-1.0).into_dyn())
    }

    /// \[a < b\] as 1.0 / 0.0 (b broadcast to a's shape).
    fn less_than(&mut self, a: &Self::Tensor, b: &Self::Tensor) -> Result<Self::Tensor> {
        let diff = self.sub(a, b)?;
        let d = self.relu_derivative(&diff)?;
        self.public_sub(&ndarray::arr0(1.0).into_dyn(), &d)
    }

    /// (clip(t, 0, 1), [0 ≤ t < 1]) elementwise, from one batched
    /// comparison of t and t - 1 (bits only) and one product:
    /// clip = ([t ≥ 0] - [t ≥ 1]) ⊙ t + [t ≥ 1]. `extra` are multiplied by
    /// the inside indicator in the same product round (for example a slope).
    fn clip01_with(
        &mut self,
        t: &Self::Tensor,
        extra: &[&Self::Tensor],
    ) -> Result<Clipped<Self::Tensor>> {
        let shape = self.shape(t).to_vec();
        let n: usize = shape.iter().product();
        let row = self.reshape(t, &[1, n])?;
        let shifted = self.add_public(&row, &ndarray::arr0(-1.0).into_dyn())?;
        let both = self.concat_rows(&[&row, &shifted])?;
        let (d, _) = self.nonneg_select(&both, &[])?;
        let (d0, d1) = (self.slice_rows(&d, 0, 1)?, self.slice_rows(&d, 1, 2)?);
        let inside = self.sub(&d0, &d1)?;
        let inside = self.reshape(&inside, &shape)?;
        let d1 = self.reshape(&d1, &shape)?;
        let mut pairs: Vec<(&Self::Tensor, &Self::Tensor)> = vec![(&inside, t)];
        pairs.extend(extra.iter().map(|e| (&inside, *e)));
        let mut prods = self.mul_many(&pairs)?;
        let rest = prods.split_off(1);
        let value = self.add(&prods[0], &d1)?;
        Ok((value, inside, rest))
    }

    /// (clip(t, 0, 1), [0 ≤ t < 1]) elementwise (see [`clip01_with`](Self::clip01_with)).
    fn clip01(&mut self, t: &Self::Tensor) -> Result<(Self::Tensor, Self::Tensor)> {
        let (v, inside, _) = self.clip01_with(t, &[])?;
        Ok((v, inside))
    }

    /// max(a, b) elementwise: b + relu(a - b).
    fn max(&mut self, a: &Self::Tensor, b: &Self::Tensor) -> Result<Self::Tensor> {
        let diff = self.sub(a, b)?;
        let r = self.relu(&diff)?;
        self.add(b, &r)
    }

    /// For a matrix x of shape [rows, k]: the row maxima ([rows, 1]) and a
    /// one-hot matrix ([rows, k]) marking the first maximal column of each
    /// row. A tournament of ⌈log₂ k⌉ levels, each one comparison round
    /// over all pairs at once.
    fn argmax_rows(&mut self, x: &Self::Tensor) -> Result<(Self::Tensor, Self::Tensor)> {
        let shape = self.shape(x).to_vec();
        if shape.len() != 2 || shape[1] == 0 {
            return Err(Error::ShapeMismatch {
                op: "argmax_rows",
                left: shape,
                right: vec![],
            });
        }
        let (rows, k) = (shape[0], shape[1]);
        // candidates along axis 0: values [c, rows, 1], one-hots [c, rows, k]
        let xt = self.transpose(x)?;
        let mut vals = self.reshape(&xt, &[k, rows, 1])?;
        let eye = ndarray::Array3::from_shape_fn((k, rows, k), |(c, _, j)| (c == j) as u8 as f64)
            .into_dyn();
        let mut hots = self.constant(&eye)?;
        let mut count = k;
        while count > 1 {
            let pairs = count / 2;
            let left: Vec<usize> = (0..pairs).map(|p| 2 * p).collect();
            let right: Vec<usize> = (0..pairs).map(|p| 2 * p + 1).collect();
            let (vl, vr) = (
                self.gather_rows(&vals, &left)?,
                self.gather_rows(&vals, &right)?,
            );
            let (hl, hr) = (
                self.gather_rows(&hots, &left)?,
                self.gather_rows(&hots, &right)?,
            );
            let diff = self.sub(&vl, &vr)?;
            // d = [left ≥ right]: ties keep the lower column
            let (_, sel) = self.nonneg_select(&diff, &[&diff, &hl, &hr])?;
            let v = self.add(&vr, &sel[0])?;
            let h = self.add(&sel[1], &hr)?;
            let h = self.sub(&h, &sel[2])?;
            if count % 2 == 1 {
                let last = [count - 1];
                let (lv, lh) = (
                    self.gather_rows(&vals, &last)?,
                    self.gather_rows(&hots, &last)?,
                );
                vals = self.concat_rows(&[&v, &lv])?;
                hots = self.concat_rows(&[&h, &lh])?;
            } else {
                vals = v;
                hots = h;
            }
            count = pairs + count % 2;
        }
        let m = self.reshape(&vals, &[rows, 1])?;
        let h = self.reshape(&hots, &[rows, k])?;
        Ok((m, h))
    }
}

impl<R: Ring + ?Sized> Gadgets for R {}

#[cfg(test)]
mod tests {
    use ndarray::arr2;

    use super::*;
    use crate::Plain;

    #[test]
    fn argmax_rows_wants_a_matrix() {
        let mut r = Plain::new();
        let x = r.constant(&arr2(&[[1.0, 2.0]]).into_dyn()).unwrap();
        let v = r.reshape(&x, &[2]).unwrap();
        assert!(matches!(
            r.argmax_rows(&v),
            Err(Error::ShapeMismatch {
                op: "argmax_rows",
                ..
            })
        ));
        let empty = r
            .constant(&ndarray::Array2::<f64>::zeros((2, 0)).into_dyn())
            .unwrap();
        assert!(matches!(
            r.argmax_rows(&empty),
            Err(Error::ShapeMismatch {
                op: "argmax_rows",
                ..
            })
        ));
    }
}
