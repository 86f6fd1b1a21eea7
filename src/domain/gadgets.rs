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
//! The gadgets are the comparisons over [`Ring::nonneg_select`] (ReLU and
//! its derivative, sign, less-than, clipping to [0, 1], max, argmax, the
//! maximum over candidates by a tournament with its backward routing) and
//! the smooth functions a softmax and an Adam step need: the exponential of
//! non-positive values, the reciprocal on [1, B], the inverse square root on
//! a range of powers of two, and the row-wise softmax built from them.
//!
//! # The approximations
//!
//! | gadget | input range | method | rounds (ℓ = 64) | error (Z_2^64, f = 16) |
//! |---|---|---|---|---|
//! | [`exp_nonpositive`](Gadgets::exp_nonpositive) | x ≤ 0 | (1/3 + v/2 + v³/6)^(2^n), v = max(1 + x/2^n, 0): the third-order Taylor polynomial of e^(x/2^n), squared n times; the clamp is one ReLU | 12 + 2n (18 for n = 3) | ≤ [`ExpParams::error_bound`] (9.3e-4 for n = 3) |
//! | [`reciprocal`](Gadgets::reciprocal) | [1, B] | Goldschmidt's iteration (y, e) ← (y(1 + e), e²) from the minimax line y₀ = c₁ - c₂x, whose relative error is at most (B-1)²/(B²+6B+1) < 1 | 4 + 2k | ≤ [`ReciprocalParams::error_bound`] |
//! | [`inv_sqrt`](Gadgets::inv_sqrt) | [2^lo, 2^hi], clamped above | one batched comparison against the powers of 4 picks a starting value within a factor √2 of the root; then Newton's y ← y(3 - xy²)/2 | 12 + 4k | relative ≤ [`InvSqrtParams::relative_error_bound`] |
//! | [`softmax_rows`](Gadgets::softmax_rows) | any rows | subtract the row maximum (tournament), exponentiate (≤ 0), multiply by the reciprocal of the row sum (in [1, k]) | see [`CostModel::softmax`](crate::cost::CostModel::softmax) | ≤ [`SoftmaxParams::error_bound`] |
//!
//! Every parameter is public and chosen by the caller (the defaults do not
//! depend on the domain), so `Plain` and `Fixed` predict `Shared`'s cost
//! exactly; [`CostModel`](crate::cost::CostModel) also has each gadget's
//! cost in closed form. `approx::functions` tabulates the errors and
//! `tests/suite/functions.rs` checks every bound over its range and at its edges.
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

use ndarray::arr0;

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
    /// The maximum over axis 0 of `candidates` (`[c, ...]`, c ≥ 1) by a
    /// tournament of ⌈log₂ c⌉ levels, each one comparison of all its pairs
    /// at once (an odd one out waits for the next level). Returns the
    /// maximum (`[1, ...]`) and, if `keep_bits`, the comparison bits of
    /// every level, which [`max_tree_backward`](Self::max_tree_backward)
    /// needs to route a gradient to the winning candidate.
    fn max_tree(
        &mut self,
        candidates: &Self::Tensor,
        keep_bits: bool,
    ) -> Result<(Self::Tensor, MaxTrace<Self::Tensor>)> {
        let count = self.shape(candidates).first().copied().unwrap_or(0);
        if count == 0 {
            return Err(Error::ShapeMismatch {
                op: "max_tree",
                left: self.shape(candidates).to_vec(),
                right: vec![],
            });
        }
        let mut vals = candidates.clone();
        let mut count = count;
        let mut levels = Vec::new();
        while count > 1 {
            let pairs = count / 2;
            let left: Vec<usize> = (0..pairs).map(|p| 2 * p).collect();
            let right: Vec<usize> = (0..pairs).map(|p| 2 * p + 1).collect();
            let (vl, vr) = (
                self.gather_rows(&vals, &left)?,
                self.gather_rows(&vals, &right)?,
            );
            let diff = self.sub(&vl, &vr)?;
            // d = [left ≥ right]; max = right + d · (left - right)
            let (d, mut sel) = self.nonneg_select(&diff, &[&diff])?;
            let v = self.add(&vr, &sel.remove(0))?;
            vals = if count % 2 == 1 {
                let last = self.gather_rows(&vals, &[count - 1])?;
                self.concat_rows(&[&v, &last])?
            } else {
                v
            };
            levels.push(MaxLevel {
                count,
                bits: keep_bits.then_some(d),
            });
            count = pairs + count % 2;
        }
        Ok((vals, MaxTrace { levels }))
    }

    /// Routes `grad` (`[1, ...]`, the gradient of a [`max_tree`](Self::max_tree)'s
    /// result) back to its candidates: `[c, ...]`, the gradient on each
    /// winner's place and zero elsewhere (ties go to the lower index, as in
    /// the forward pass). One fixed-point product round per level, from the
    /// root down.
    fn max_tree_backward(
        &mut self,
        trace: &MaxTrace<Self::Tensor>,
        grad: &Self::Tensor,
    ) -> Result<Self::Tensor> {
        let mut g = grad.clone();
        for level in trace.levels.iter().rev() {
            let bits = level.bits.as_ref().ok_or_else(|| {
                Error::invalid("max_tree_backward", "the forward pass kept no bits")
            })?;
            let pairs = level.count / 2;
            let g_pairs = self.slice_rows(&g, 0, pairs)?;
            let to_left = self.mul(bits, &g_pairs)?;
            let to_right = self.sub(&g_pairs, &to_left)?;
            // rows: left winners, right winners, then (if odd) the one that waited
            let mut parts = vec![&to_left, &to_right];
            let waited;
            if level.count % 2 == 1 {
                waited = self.slice_rows(&g, pairs, pairs + 1)?;
                parts.push(&waited);
            }
            let stacked = self.concat_rows(&parts)?;
            let order: Vec<usize> = (0..level.count)
                .map(|i| {
                    if i == 2 * pairs {
                        2 * pairs
                    } else {
                        (i % 2) * pairs + i / 2
                    }
                })
                .collect();
            g = self.gather_rows(&stacked, &order)?;
        }
        Ok(g)
    }

    /// The maximum of each row of a matrix `[rows, k]`, as `[rows, 1]` (a
    /// [`max_tree`](Self::max_tree) over the columns).
    fn row_max(&mut self, x: &Self::Tensor) -> Result<Self::Tensor> {
        let shape = self.shape(x).to_vec();
        let &[rows, k] = shape.as_slice() else {
            return Err(Error::ShapeMismatch {
                op: "row_max",
                left: shape,
                right: vec![],
            });
        };
        let columns = self.transpose(x)?;
        if k == 0 {
            return Err(Error::ShapeMismatch {
                op: "row_max",
                left: shape,
                right: vec![],
            });
        }
        let (m, _) = self.max_tree(&columns, false)?;
        self.reshape(&m, &[rows, 1])
    }

    /// e^x for x ≤ 0, elementwise: (1/3 + v/2 + v³/6)^(2^n) with
    /// v = max(1 + x/2^n, 0) and n = `p.squarings` (see the
    /// [module documentation](self)). The polynomial is e^(x/2^n)'s
    /// third-order Taylor expansion; below x = -2^n it stays at
    /// (1/3)^(2^n), within the error bound of e^x. e^0 is 1 up to the
    /// encoding of 1/3. For x > 0 the result is not e^x (and may overflow):
    /// subtract a maximum first, as [`softmax_rows`](Self::softmax_rows) does.
    fn exp_nonpositive(&mut self, x: &Self::Tensor, p: &ExpParams) -> Result<Self::Tensor> {
        p.check()?;
        let m = (1u64 << p.squarings) as f64;
        // m·v = relu(x + m): exact (the comparison selects without rounding)
        let shifted = self.add_public(x, &arr0(m).into_dyn())?;
        let mv = self.relu(&shifted)?;
        let mv2 = self.square(&mv)?;
        let mv3 = self.mul(&mv2, &mv)?;
        let bits = coeff_bits(self.frac_bits());
        let b = self.lincomb_public(&[&mv, &mv3], &[0.5 / m, 1.0 / (6.0 * m * m * m)], bits)?;
        let mut b = self.add_public(&b, &arr0(1.0 / 3.0).into_dyn())?;
        for _ in 0..p.squarings {
            b = self.square(&b)?;
        }
        Ok(b)
    }

    /// 1/x for x in [1, `p.max`], elementwise, by Goldschmidt's iteration
    /// from the minimax line (see [`ReciprocalParams`]): each iteration is
    /// one round of two products, (y, e) ← (y + y·e, e²), and the relative
    /// error e shrinks to e² per iteration.
    fn reciprocal(&mut self, x: &Self::Tensor, p: &ReciprocalParams) -> Result<Self::Tensor> {
        p.check()?;
        let (c1, c2) = p.start_line();
        let bits = coeff_bits(self.frac_bits());
        let y = self.lincomb_public(&[x], &[-c2], bits)?;
        let mut y = self.add_public(&y, &arr0(c1).into_dyn())?;
        let sy = self.mul(x, &y)?;
        let mut e = self.public_sub(&arr0(1.0).into_dyn(), &sy)?;
        for i in 0..p.iterations {
            if i + 1 == p.iterations {
                let ye = self.mul(&y, &e)?;
                y = self.add(&y, &ye)?;
            } else {
                let mut v = self.mul_many(&[(&y, &e), (&e, &e)])?;
                let e2 = v.pop();
                let ye = v.pop();
                let (Some(ye), Some(e2)) = (ye, e2) else {
                    return Err(Error::internal("reciprocal", "mul_many returned too few"));
                };
                y = self.add(&y, &ye)?;
                e = e2;
            }
        }
        Ok(y)
    }

    /// 1/√x for x in [2^lo, 2^hi] (see [`InvSqrtParams`]), elementwise;
    /// larger x are clamped to 2^hi. One batched comparison of x against
    /// the powers 4^i·2^lo gives the bucket, whose geometric middle gives a
    /// start y₀ with x·y₀² in [0.425, 1.7]; then Goldschmidt's form of
    /// Newton's iteration y ← y(3 - x·y²)/2 on the pair g = x·y, h = y/2:
    /// r = 1/2 - g·h, g ← g(1 + r), h ← h(1 + r), two product rounds each.
    /// It never multiplies two small numbers (y² would underflow the
    /// fixed-point format when x is large).
    fn inv_sqrt(&mut self, x: &Self::Tensor, p: &InvSqrtParams) -> Result<Self::Tensor> {
        p.check()?;
        if let Some(f) = self.frac_bits()
            && p.lo < 2 - f as i32
        {
            return Err(Error::invalid(
                "range",
                format!(
                    "2^{} is below four units of the {f}-fraction-bit format; raise lo",
                    p.lo
                ),
            ));
        }
        let shape = self.shape(x).to_vec();
        let n: usize = shape.iter().product();
        let flat = self.reshape(x, &[1, n])?;
        let thresholds = p.thresholds();
        let rows: Vec<Self::Tensor> = thresholds
            .iter()
            .map(|t| self.add_public(&flat, &arr0(-t).into_dyn()))
            .collect::<Result<_>>()?;
        let refs: Vec<&Self::Tensor> = rows.iter().collect();
        let stacked = self.concat_rows(&refs)?;
        let (bits, _) = self.nonneg_select(&stacked, &[])?;
        let k = thresholds.len();
        let bit_rows: Vec<Self::Tensor> = (0..k)
            .map(|i| self.slice_rows(&bits, i, i + 1))
            .collect::<Result<_>>()?;
        // clamp: x - [x ≥ 2^hi]·(x - 2^hi)
        let over = self.mul(&bit_rows[k - 1], &rows[k - 1])?;
        let clamped = self.sub(&flat, &over)?;
        // start: y₁ - Σ_i [x ≥ 4^i·2^lo]·(y_i - y_{i+1})
        let (first, steps) = p.start_steps();
        let y = if steps.is_empty() {
            self.scale_int(&flat, 0)?
        } else {
            let terms: Vec<&Self::Tensor> = bit_rows[..k - 1].iter().collect();
            let bits_c = coeff_bits(self.frac_bits());
            self.lincomb_public(&terms, &steps, bits_c)?
        };
        let y = self.add_public(&y, &arr0(first).into_dyn())?;
        // Goldschmidt: g → √x, h → 1/(2√x), with g·h ≈ 1/2 throughout (no
        // product of two small values, which would lose all precision)
        let half = self.scalar(0.5)?;
        let mut gh = self.mul_many(&[(&clamped, &y), (&y, &half)])?;
        let (Some(mut h), Some(mut g)) = (gh.pop(), gh.pop()) else {
            return Err(Error::internal("inv_sqrt", "mul_many returned too few"));
        };
        for _ in 0..p.iterations {
            // r = 1/2 - g·h; g += g·r; h += h·r
            let prod = self.mul(&g, &h)?;
            let r = self.public_sub(&arr0(0.5).into_dyn(), &prod)?;
            let mut v = self.mul_many(&[(&g, &r), (&h, &r)])?;
            let (Some(hr), Some(gr)) = (v.pop(), v.pop()) else {
                return Err(Error::internal("inv_sqrt", "mul_many returned too few"));
            };
            g = self.add(&g, &gr)?;
            h = self.add(&h, &hr)?;
        }
        let y = self.scale_int(&h, 2)?;
        self.reshape(&y, &shape)
    }

    /// The softmax of each row of `x` (`[rows, k]`): e^(x - max) / Σ e^(x - max),
    /// with the row maximum from a tournament, the exponential of the
    /// (non-positive) differences and the reciprocal of the row sum, which
    /// lies in [1, k] because the maximum contributes e^0 = 1. Nothing is
    /// revealed.
    fn softmax_rows(&mut self, x: &Self::Tensor, p: &SoftmaxParams) -> Result<Self::Tensor> {
        let shape = self.shape(x).to_vec();
        let &[_, k] = shape.as_slice() else {
            return Err(Error::ShapeMismatch {
                op: "softmax_rows",
                left: shape,
                right: vec![],
            });
        };
        let m = self.row_max(x)?;
        let z = self.sub(x, &m)?;
        let e = self.exp_nonpositive(&z, &p.exp)?;
        let s = self.sum_axis(&e, 1)?;
        let inv = self.reciprocal(&s, &p.reciprocal(k)?)?;
        self.mul(&e, &inv)
    }
}

/// Coefficient precision for the public coefficients of the gadgets: twice
/// the data's fraction bits (32 for `Plain`), like the polynomial
/// approximations of `approx`.
fn coeff_bits(frac_bits: Option<u32>) -> u32 {
    2 * frac_bits.unwrap_or(16)
}

/// One level of a [`Gadgets::max_tree`] tournament.
#[derive(Debug, Clone)]
struct MaxLevel<T> {
    /// Candidates entering the level.
    count: usize,
    /// [left ≥ right] for each pair, if kept.
    bits: Option<T>,
}

/// What [`Gadgets::max_tree`] keeps for routing a gradient back: the
/// comparison bits of each level (secret, like every tensor).
#[derive(Debug, Clone)]
pub struct MaxTrace<T> {
    levels: Vec<MaxLevel<T>>,
}

impl<T> MaxTrace<T> {
    /// Comparison levels (⌈log₂ c⌉ for c candidates).
    pub fn depth(&self) -> usize {
        self.levels.len()
    }
}

/// Parameters of [`Gadgets::exp_nonpositive`]: the number of squarings n.
/// Larger n shrinks the approximation error (about 8^-n) but multiplies
/// the fixed-point rounding error by 2^n; n = 3 balances them at 16
/// fraction bits, n = 5 suits 32.
///
/// # Examples
///
/// ```
/// use privml::domain::gadgets::ExpParams;
///
/// let p = ExpParams::default();
/// assert_eq!(p.squarings, 3);
/// assert!((p.reference(-1.0) - (-1.0f64).exp()).abs() < 6e-4);
/// assert!(p.error_bound(16) < 1e-3);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpParams {
    /// n: the polynomial is squared n times (1 ≤ n ≤ 8).
    pub squarings: u32,
}

impl Default for ExpParams {
    fn default() -> Self {
        ExpParams { squarings: 3 }
    }
}

impl ExpParams {
    fn check(&self) -> Result<()> {
        if (1..=8).contains(&self.squarings) {
            Ok(())
        } else {
            Err(Error::invalid(
                "squarings",
                format!("{} is not in 1..=8", self.squarings),
            ))
        }
    }

    /// The approximation in f64 (what the gadget computes without rounding).
    pub fn reference(&self, x: f64) -> f64 {
        let m = (1u64 << self.squarings) as f64;
        let v = (1.0 + x / m).max(0.0);
        (1.0 / 3.0 + v / 2.0 + v * v * v / 6.0).powf(m)
    }

    /// Largest |reference(x) - e^x| over x ≤ 0 (the maximum is near
    /// x = -4; below -2^n the error is at most (1/3)^(2^n)), evaluated on a
    /// grid of step 10⁻⁴ over [-2^n - 1, 0] and rounded up by 1 %.
    pub fn approximation_error(&self) -> f64 {
        let m = (1u64 << self.squarings) as f64;
        let steps = ((m + 1.0) * 1e4) as usize;
        let worst = (0..=steps)
            .map(|i| -(i as f64) * 1e-4)
            .map(|x| (self.reference(x) - x.exp()).abs())
            .fold(0.0, f64::max);
        worst.max((1.0f64 / 3.0).powf(m)) * 1.01
    }

    /// A bound on |gadget(x) - e^x| for x ≤ 0 in a fixed-point format with
    /// `frac_bits` fraction bits: the approximation error plus the rounding
    /// error. Each truncation is off by at most one unit u = 2^-f; the
    /// polynomial's value b ≤ 1 carries at most 2u (the encoded 1/3, the
    /// truncation of the linear combination and the products under it), and
    /// each squaring doubles the error and adds u: (2^(n+1) + 2^n - 1)·u.
    pub fn error_bound(&self, frac_bits: u32) -> f64 {
        let u = (0.5f64).powi(frac_bits as i32);
        let n = (1u64 << self.squarings) as f64;
        self.approximation_error() + (3.0 * n - 1.0) * u
    }
}

/// Parameters of [`Gadgets::reciprocal`]: the range [1, max] and the
/// number of Goldschmidt iterations k. The start y₀ = c₁ - c₂x is the
/// line whose relative error E = 1 - x·y₀ is smallest over the range,
/// |E| ≤ (B-1)²/(B²+6B+1) < 1 for B = max; after k iterations the
/// relative error is E^(2^k). [`for_range`](Self::for_range) picks the
/// smallest k with E^(2^k) ≤ 2^-20.
///
/// # Examples
///
/// ```
/// use privml::domain::gadgets::ReciprocalParams;
///
/// let p = ReciprocalParams::for_range(10.0)?;
/// assert_eq!(p.iterations, 5);
/// assert!((p.reference(3.0) - 1.0 / 3.0).abs() < 1e-9);
/// assert!(ReciprocalParams::for_range(0.5).is_err());
/// # Ok::<(), privml::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReciprocalParams {
    /// B ≥ 1: inputs lie in [1, B].
    pub max: f64,
    /// Goldschmidt iterations (≥ 1).
    pub iterations: u32,
}

impl ReciprocalParams {
    /// The range [1, `max`] with enough iterations for a relative
    /// approximation error of at most 2^-20.
    pub fn for_range(max: f64) -> Result<Self> {
        let mut p = ReciprocalParams { max, iterations: 1 };
        p.check()?;
        let e = p.start_error();
        while e.powi(1 << p.iterations) > (0.5f64).powi(20) && p.iterations < 16 {
            p.iterations += 1;
        }
        Ok(p)
    }

    fn check(&self) -> Result<()> {
        if !(self.max >= 1.0 && self.max.is_finite() && self.max <= 1e6) {
            return Err(Error::invalid(
                "max",
                format!(
                    "the reciprocal's range [1, {}] needs 1 ≤ max ≤ 10^6",
                    self.max
                ),
            ));
        }
        if !(1..=16).contains(&self.iterations) {
            return Err(Error::invalid(
                "iterations",
                format!("{} is not in 1..=16", self.iterations),
            ));
        }
        Ok(())
    }

    /// (c₁, c₂) of the starting line y₀ = c₁ - c₂x: c₂ = 8/(B²+6B+1),
    /// c₁ = c₂(B+1), so that 1 - x·y₀ equioscillates at 1, (B+1)/2 and B.
    pub fn start_line(&self) -> (f64, f64) {
        let b = self.max;
        let c2 = 8.0 / (b * b + 6.0 * b + 1.0);
        (c2 * (b + 1.0), c2)
    }

    /// max |1 - x·y₀| over [1, B]: (B-1)²/(B²+6B+1).
    pub fn start_error(&self) -> f64 {
        let b = self.max;
        (b - 1.0) * (b - 1.0) / (b * b + 6.0 * b + 1.0)
    }

    /// The approximation in f64.
    pub fn reference(&self, x: f64) -> f64 {
        let (c1, c2) = self.start_line();
        let mut y = c1 - c2 * x;
        let mut e = 1.0 - x * y;
        for _ in 0..self.iterations {
            y += y * e;
            e *= e;
        }
        y
    }

    /// A bound on |gadget(x) - 1/x| for x in [1, B] with `frac_bits`
    /// fraction bits: the approximation E^(2^k)/x ≤ E^(2^k), plus rounding.
    /// The start carries 2u (coefficient and truncation), e₀ then 1 + 2u·B;
    /// each iteration adds u to y and to e, and an error δ in e moves y by
    /// y·δ ≤ δ; the errors in e square away except the last iteration's.
    /// Altogether (4 + 2B + 3k)·u, with u = 2^-f.
    pub fn error_bound(&self, frac_bits: u32) -> f64 {
        let u = (0.5f64).powi(frac_bits as i32);
        let approx = self.start_error().powi(1 << self.iterations);
        approx + (4.0 + 2.0 * self.max + 3.0 * self.iterations as f64) * u
    }
}

/// Parameters of [`Gadgets::inv_sqrt`]: the range [2^lo, 2^hi] (hi - lo
/// even and positive, at most 64) and the Newton iterations k. The range is
/// cut into (hi - lo)/2 buckets [4^i·2^lo, 4^(i+1)·2^lo]; the start is
/// 0.922/√(2·4^i·2^lo), the bucket's geometric middle scaled so that
/// z = x·y₀² lies in [0.425, 1.7], where one Newton step gives
/// z ∈ [0.70, 0.72] and each further one squares 1 - z roughly
/// (1 - z' ≈ 3(1-z)²/4): 4 iterations reach a relative error below 5·10⁻⁶.
///
/// # Examples
///
/// ```
/// use privml::domain::gadgets::InvSqrtParams;
///
/// let p = InvSqrtParams::new(-6, 18, 4)?;
/// assert_eq!(p.thresholds().len(), 12);
/// assert!((p.reference(2.0) * 2f64.sqrt() - 1.0).abs() < 5e-6);
/// assert!((p.reference(1e9) - p.reference(2f64.powi(18))).abs() < 1e-12); // clamped
/// assert!(InvSqrtParams::new(0, 3, 4).is_err()); // odd width
/// # Ok::<(), privml::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvSqrtParams {
    /// log₂ of the smallest input.
    pub lo: i32,
    /// log₂ of the largest input (larger inputs are clamped to it).
    pub hi: i32,
    /// Newton iterations (≥ 1).
    pub iterations: u32,
}

/// The scale κ of the starting values: κ² = 0.85 puts x·y₀² in
/// [κ²/2, 2κ²] = [0.425, 1.7], where the first Newton step lands both
/// ends at about 0.71.
const INV_SQRT_START_SCALE: f64 = 0.921_954_445_729_288_7;

impl InvSqrtParams {
    /// The range [2^lo, 2^hi] with `iterations` Newton steps.
    pub fn new(lo: i32, hi: i32, iterations: u32) -> Result<Self> {
        let p = InvSqrtParams { lo, hi, iterations };
        p.check()?;
        Ok(p)
    }

    fn check(&self) -> Result<()> {
        let width = self.hi - self.lo;
        if width <= 0 || width % 2 != 0 || width > 64 || self.lo < -40 || self.hi > 40 {
            return Err(Error::invalid(
                "range",
                format!(
                    "[2^{}, 2^{}]: needs lo < hi, an even width of at most 64 and |lo|, |hi| ≤ 40",
                    self.lo, self.hi
                ),
            ));
        }
        if !(1..=16).contains(&self.iterations) {
            return Err(Error::invalid(
                "iterations",
                format!("{} is not in 1..=16", self.iterations),
            ));
        }
        Ok(())
    }

    /// The comparison thresholds: 4^i·2^lo for i = 1 … (hi-lo)/2, the last
    /// being 2^hi (the clamp).
    pub fn thresholds(&self) -> Vec<f64> {
        (1..=(self.hi - self.lo) / 2)
            .map(|i| 2f64.powi(self.lo + 2 * i))
            .collect()
    }

    /// The starting value of the lowest bucket and, for each threshold
    /// but the last, how much the start drops when x passes it.
    pub fn start_steps(&self) -> (f64, Vec<f64>) {
        let buckets = (self.hi - self.lo) / 2;
        // the bucket's geometric middle is 2^(lo + 2i + 1)
        let start = |i: i32| INV_SQRT_START_SCALE / 2f64.powi(self.lo + 2 * i + 1).sqrt();
        let steps = (1..buckets).map(|i| start(i) - start(i - 1)).collect();
        (start(0), steps)
    }

    /// The approximation in f64 (with the clamp).
    pub fn reference(&self, x: f64) -> f64 {
        let x = x.min(2f64.powi(self.hi));
        let (first, steps) = self.start_steps();
        let thresholds = self.thresholds();
        let mut y = first;
        for (t, s) in thresholds.iter().zip(&steps) {
            if x >= *t {
                y += s;
            }
        }
        for _ in 0..self.iterations {
            y = y * 1.5 - 0.5 * x * y * y * y;
        }
        y
    }

    /// A bound on the relative error |gadget(x)·√x - 1| over the range in
    /// a fixed-point format with `frac_bits` fraction bits (for x on the
    /// format's grid): the iteration's error from the worst start, plus
    /// rounding. A rounding error of one unit u in h = y/2 or in g = x·y
    /// moves r = 1/2 - g·h by up to u·(g + h) ≤ u·(2^(hi/2) + 2^(-lo/2)),
    /// and each iteration adds such an error; the factor 8 covers the
    /// iterations and the stochastic rounding (measured errors stay below
    /// half of it). The format's resolution limits both ends: at the top y
    /// is only 2^(-hi/2), at the bottom g only 2^(lo/2), so keep the range
    /// within what the format resolves.
    pub fn relative_error_bound(&self, frac_bits: u32) -> f64 {
        let u = (0.5f64).powi(frac_bits as i32);
        let mut worst = 0.0f64;
        for z0 in [0.425, 1.7] {
            let mut z: f64 = z0;
            for _ in 0..self.iterations {
                z *= (3.0 - z) * (3.0 - z) / 4.0;
            }
            worst = worst.max((1.0 - z.sqrt()).abs());
        }
        let spread = 2f64.powf(self.hi as f64 / 2.0) + 2f64.powf(-self.lo as f64 / 2.0);
        worst * 1.01 + 8.0 * u * spread
    }
}

/// Parameters of [`Gadgets::softmax_rows`]: the exponential's, and the
/// reciprocal's iterations, which follow from the number of columns k
/// (the row sum lies in [1, k]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SoftmaxParams {
    /// The exponential.
    pub exp: ExpParams,
}

impl SoftmaxParams {
    /// The reciprocal's parameters for rows of k columns: the range
    /// [1, k + 1], which holds the row sum (at most k·(1 + ε) for an
    /// exponential error ε < 1/k).
    pub fn reciprocal(&self, k: usize) -> Result<ReciprocalParams> {
        ReciprocalParams::for_range(k as f64 + 1.0)
    }

    /// The softmax in f64 with this exponential (the gadget without
    /// rounding).
    pub fn reference(&self, row: &[f64]) -> Vec<f64> {
        let m = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = row.iter().map(|v| self.exp.reference(v - m)).collect();
        let s: f64 = e.iter().sum();
        e.iter().map(|v| v / s).collect()
    }

    /// A bound on |gadget - softmax| per element for rows of k columns
    /// with `frac_bits` fraction bits: each exponential is off by at most
    /// ε = [`ExpParams::error_bound`], the sum (≥ 1) by kε, so
    /// p = e/s is off by at most ε + kε·p ≤ (k + 1)ε; the reciprocal and the
    /// final product add their own bounds.
    pub fn error_bound(&self, k: usize, frac_bits: u32) -> Result<f64> {
        let eps = self.exp.error_bound(frac_bits);
        let u = (0.5f64).powi(frac_bits as i32);
        let recip = self.reciprocal(k)?.error_bound(frac_bits);
        Ok((k as f64 + 1.0) * eps + recip + u)
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
