//! The [`Ring`] trait — the one interface every model is written against —
//! and its three implementations.
//!
//! | domain | tensors hold | for |
//! |---|---|---|
//! | [`Plain`] | `f64` | reference results, debugging |
//! | [`Fixed`] | fixed-point ring elements, in the clear | the exact arithmetic of the secure run, with overflow reported at the op that caused it |
//! | [`Shared`] | replicated secret shares (this party's two of three) | the private computation itself |
//!
//! The trait is *context-passing* and *SPMD*: a value implementing `Ring` is
//! the evaluator (in `Shared`, one of the three parties), tensors are plain
//! data, and a generic function takes `&mut R` and runs unchanged on any
//! domain. Operations work on whole tensors so that one tensor operation is
//! one communication round (or two, for a fixed-point product), never one per
//! element.
//!
//! Public values enter and leave as `ndarray::ArrayD<f64>`.
//!
//! # Examples
//!
//! ```
//! use ndarray::{arr2, ArrayD};
//! use privml::{Fixed, Plain, Ring, Result};
//!
//! // y = x · w + 1, written once
//! fn affine<R: Ring>(r: &mut R, x: &ArrayD<f64>, w: &ArrayD<f64>) -> Result<ArrayD<f64>> {
//!     let x = r.input(0, Some(x), x.shape())?;
//!     let w = r.input(1, Some(w), w.shape())?;
//!     let y = r.matmul(&x, &w)?;
//!     let y = r.add_public(&y, &ndarray::arr0(1.0).into_dyn())?;
//!     r.reveal(&y)
//! }
//!
//! let x = arr2(&[[0.5, -1.0]]).into_dyn();
//! let w = arr2(&[[2.0], [0.25]]).into_dyn();
//! let plain = affine(&mut Plain::new(), &x, &w)?;
//! let fixed = affine(&mut Fixed::<u64>::new(), &x, &w)?;
//! assert_eq!(plain[[0, 0]], 1.75);
//! assert!((fixed[[0, 0]] - 1.75).abs() < 1e-4);
//! # Ok::<(), privml::Error>(())
//! ```

mod fixed;
mod plain;
mod shared;

pub use fixed::{Fixed, OverflowPolicy, TruncationMode};
pub use plain::Plain;
pub use shared::{Shared, SharedConfig};

use ndarray::ArrayD;
use serde::{Deserialize, Serialize};

use crate::cost::Cost;
use crate::error::Result;

/// One evaluator's local data of a tensor, for saving and loading: the
/// values for plaintext domains, this party's two shares for `Shared`.
/// Saving shares discloses nothing; `Debug` does not print them.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub enum TensorData {
    /// f64 values (`Plain`).
    Clear {
        /// Shape.
        shape: Vec<usize>,
        /// Row-major values.
        values: Vec<f64>,
    },
    /// Fixed-point ring elements in the clear (`Fixed`).
    ClearRing {
        /// Shape.
        shape: Vec<usize>,
        /// ℓ.
        ring_bits: u32,
        /// f.
        frac_bits: u32,
        /// Little-endian elements.
        data: Vec<u8>,
    },
    /// One party's replicated shares (`Shared`).
    Shares {
        /// Shape.
        shape: Vec<usize>,
        /// ℓ.
        ring_bits: u32,
        /// f.
        frac_bits: u32,
        /// The party these shares belong to.
        party: u8,
        /// x_i, little-endian.
        a: Vec<u8>,
        /// x_{i+1}, little-endian.
        b: Vec<u8>,
    },
}

impl TensorData {
    /// The tensor's shape.
    pub fn shape(&self) -> &[usize] {
        match self {
            TensorData::Clear { shape, .. }
            | TensorData::ClearRing { shape, .. }
            | TensorData::Shares { shape, .. } => shape,
        }
    }

    /// What kind of data this is, for error messages.
    pub fn kind(&self) -> String {
        match self {
            TensorData::Clear { .. } => "plain f64 values".to_string(),
            TensorData::ClearRing {
                ring_bits,
                frac_bits,
                ..
            } => format!("fixed-point Z_2^{ring_bits} values ({frac_bits} fraction bits)"),
            TensorData::Shares {
                ring_bits,
                frac_bits,
                party,
                ..
            } => {
                format!("party {party}'s shares in Z_2^{ring_bits} ({frac_bits} fraction bits)")
            }
        }
    }
}

impl std::fmt::Debug for TensorData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "TensorData({}, shape {:?}, <data redacted>)",
            self.kind(),
            self.shape()
        )
    }
}

/// What [`Ring::clip01_with`] returns: the clipped value, the inside
/// indicator, and the indicator times each extra operand.
pub type Clipped<T> = (T, T, Vec<T>);

pub use crate::party_id::PartyId;

/// Where a program is, for error messages and overflow reports, plus its
/// cost counters. Every domain owns one.
#[derive(Debug, Clone, Default)]
pub struct Tracker {
    /// Counters so far.
    pub cost: Cost,
    /// Current label (set by the program).
    pub label: &'static str,
    /// Current layer (or other index), if the program set one.
    pub layer: Option<usize>,
    /// Current step (for example the training iteration).
    pub step: u64,
    /// Operations performed so far.
    pub op_index: u64,
}

impl Tracker {
    /// Starts an operation: returns its index and counts it.
    pub fn begin_op(&mut self) -> u64 {
        let i = self.op_index;
        self.op_index += 1;
        i
    }

    /// "op in 'label', layer l (op #i, step s)", for error messages.
    pub fn describe(&self, op: &str) -> String {
        let layer = self
            .layer
            .map(|l| format!(", layer {l}"))
            .unwrap_or_default();
        if self.label.is_empty() {
            format!("{op}{layer} (op #{}, step {})", self.op_index, self.step)
        } else {
            format!(
                "{op} in '{}'{layer} (op #{}, step {})",
                self.label, self.op_index, self.step
            )
        }
    }
}

/// A numeric domain that generic models are written against.
///
/// All methods take `&mut self` because every operation is counted, and in
/// `Shared` most of them talk to the other parties.
pub trait Ring {
    /// A tensor in this domain.
    type Tensor: Clone + Send + 'static;

    /// A description such as `"fixed Z_2^64, 16 fraction bits"`.
    fn describe(&self) -> String;

    /// Fraction bits of the fixed-point format, `None` for `Plain`.
    fn frac_bits(&self) -> Option<u32>;

    /// This evaluator's party id, or `None` for plaintext domains (which play
    /// all three parties at once).
    fn party(&self) -> Option<PartyId>;

    /// Whether this evaluator holds the private inputs of `owner`: always in
    /// plaintext domains, only on party `owner` in `Shared`.
    fn owns(&self, owner: PartyId) -> bool {
        self.party().is_none_or(|p| p == owner)
    }

    /// The shape of a tensor.
    fn shape<'a>(&self, x: &'a Self::Tensor) -> &'a [usize];

    // ----- data in and out -------------------------------------------------

    /// A private input of party `owner`. Only the owner's `value` is used;
    /// the other parties pass `None` and the `shape`.
    fn input(
        &mut self,
        owner: PartyId,
        value: Option<&ArrayD<f64>>,
        shape: &[usize],
    ) -> Result<Self::Tensor>;

    /// A public constant known to every party (no communication).
    fn constant(&mut self, value: &ArrayD<f64>) -> Result<Self::Tensor>;

    /// Reveals a tensor to every party.
    fn reveal(&mut self, x: &Self::Tensor) -> Result<ArrayD<f64>>;

    /// Reveals a tensor to party `to` only; the others get `None`.
    fn reveal_to(&mut self, to: PartyId, x: &Self::Tensor) -> Result<Option<ArrayD<f64>>>;

    /// Fresh-looking shares of the same value (a no-op in the clear).
    fn reshare(&mut self, x: &Self::Tensor) -> Result<Self::Tensor>;

    // ----- local (no communication) -----------------------------------------

    /// `a + b`, with `b` broadcast to `a`'s shape.
    fn add(&mut self, a: &Self::Tensor, b: &Self::Tensor) -> Result<Self::Tensor>;
    /// `a - b`, with `b` broadcast to `a`'s shape.
    fn sub(&mut self, a: &Self::Tensor, b: &Self::Tensor) -> Result<Self::Tensor>;
    /// `-a`.
    fn neg(&mut self, a: &Self::Tensor) -> Result<Self::Tensor>;
    /// `a + c` for a public `c` broadcast to `a`'s shape.
    fn add_public(&mut self, a: &Self::Tensor, c: &ArrayD<f64>) -> Result<Self::Tensor>;
    /// `a · k` for a public integer `k` (exact, no truncation).
    fn scale_int(&mut self, a: &Self::Tensor, k: i64) -> Result<Self::Tensor>;
    /// Sum along `axis`, keeping it with length 1.
    fn sum_axis(&mut self, a: &Self::Tensor, axis: usize) -> Result<Self::Tensor>;
    /// Transpose of a matrix.
    fn transpose(&mut self, a: &Self::Tensor) -> Result<Self::Tensor>;
    /// Same elements, new shape.
    fn reshape(&mut self, a: &Self::Tensor, shape: &[usize]) -> Result<Self::Tensor>;
    /// Rows `start..end` along axis 0 (mini-batches).
    fn slice_rows(&mut self, a: &Self::Tensor, start: usize, end: usize) -> Result<Self::Tensor>;
    /// The rows of axis 0 at `indices`, in that order (repeats allowed).
    fn gather_rows(&mut self, a: &Self::Tensor, indices: &[usize]) -> Result<Self::Tensor>;
    /// Tensors stacked along axis 0 (all other axes must agree).
    fn concat_rows(&mut self, parts: &[&Self::Tensor]) -> Result<Self::Tensor>;

    // ----- products (communication) -----------------------------------------

    /// `a · c` for a public real `c` broadcast to `a`'s shape (one truncation).
    fn mul_public(&mut self, a: &Self::Tensor, c: &ArrayD<f64>) -> Result<Self::Tensor>;
    /// `a / 2^bits` (one truncation; exact to within one unit in the last place).
    fn div_pow2(&mut self, a: &Self::Tensor, bits: u32) -> Result<Self::Tensor>;
    /// Several independent elementwise products in one communication step
    /// (the second operand of each pair is broadcast to the first's shape).
    fn mul_many(&mut self, pairs: &[(&Self::Tensor, &Self::Tensor)]) -> Result<Vec<Self::Tensor>>;
    /// Several independent matrix products in one communication step.
    fn matmul_many(
        &mut self,
        pairs: &[(&Self::Tensor, &Self::Tensor)],
    ) -> Result<Vec<Self::Tensor>>;
    /// Σ_k c_k · t_k for public real coefficients `coeffs` and same-shape
    /// secret `terms`, with the coefficients encoded at `coeff_frac_bits`
    /// fraction bits (≥ 1) and one truncation by that many bits for the whole
    /// sum. Extra coefficient bits keep tiny coefficients (a polynomial's
    /// 7.2e-9) from encoding to zero; the price is range: the sum must stay
    /// below 2^(ℓ-2-f-coeff_frac_bits) in value units.
    fn lincomb_public(
        &mut self,
        terms: &[&Self::Tensor],
        coeffs: &[f64],
        coeff_frac_bits: u32,
    ) -> Result<Self::Tensor>;

    // ----- comparison (communication) ---------------------------------------

    /// The bit d = [x ≥ 0] for every element of `x` (as 1.0 / 0.0), and the
    /// products d ⊙ y for each `y` in `ys`, with `x`'s shape broadcast to
    /// each y's. In `Shared` this is the sign extraction of
    /// [`crate::mpc::compare`]: 8 rounds of AND gates (ℓ = 64) plus 2 for
    /// turning the bit into arithmetic shares and multiplexing.
    fn nonneg_select(
        &mut self,
        x: &Self::Tensor,
        ys: &[&Self::Tensor],
    ) -> Result<(Self::Tensor, Vec<Self::Tensor>)>;

    /// Public data from party `from` to everyone (shapes, feature names,
    /// normalisation parameters): `from` passes `Some(bytes)`, the others
    /// `None`, and all get the bytes back. One round; nothing secret may go
    /// through here.
    fn announce(&mut self, from: PartyId, data: Option<&[u8]>) -> Result<Vec<u8>>;

    // ----- saving and loading ------------------------------------------------

    /// This evaluator's local data of `x` (this party's shares in `Shared`).
    fn export(&self, x: &Self::Tensor) -> TensorData;

    /// Rebuilds a tensor from [`TensorData`] exported by the same kind of
    /// evaluator (same domain, ring, fraction bits and party); anything else
    /// is an error naming both.
    fn import(&mut self, data: &TensorData) -> Result<Self::Tensor>;

    /// Checks that the parties hold consistent shares of `tensors` (for
    /// example loaded from three files): each party sends a digest of
    /// `tag` and its second shares to its successor, which compares it with
    /// the digest of its own first shares. One round, 32 bytes per party;
    /// a no-op (with the same predicted cost) in the clear.
    fn check_agreement(&mut self, tensors: &[&Self::Tensor], tag: &[u8]) -> Result<()>;

    // ----- bookkeeping -------------------------------------------------------

    /// The program location tracker.
    fn tracker(&self) -> &Tracker;
    /// Mutable access to the tracker.
    fn tracker_mut(&mut self) -> &mut Tracker;

    // ----- provided ----------------------------------------------------------

    /// Elementwise product `a ⊙ b` (`b` broadcast to `a`'s shape).
    fn mul(&mut self, a: &Self::Tensor, b: &Self::Tensor) -> Result<Self::Tensor> {
        let mut v = self.mul_many(&[(a, b)])?;
        Ok(v.remove(0))
    }

    /// Matrix product of two secret matrices.
    fn matmul(&mut self, a: &Self::Tensor, b: &Self::Tensor) -> Result<Self::Tensor> {
        let mut v = self.matmul_many(&[(a, b)])?;
        Ok(v.remove(0))
    }

    /// `a ⊙ a`.
    fn square(&mut self, a: &Self::Tensor) -> Result<Self::Tensor> {
        self.mul(a, a)
    }

    /// `c - a` for a public `c` (for example `1 - s`).
    fn public_sub(&mut self, c: &ArrayD<f64>, a: &Self::Tensor) -> Result<Self::Tensor> {
        let n = self.neg(a)?;
        self.add_public(&n, c)
    }

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
            return Err(crate::Error::ShapeMismatch {
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

    /// A public scalar as a tensor of shape `[]` (broadcasts anywhere).
    fn scalar(&mut self, v: f64) -> Result<Self::Tensor> {
        self.constant(&ndarray::arr0(v).into_dyn())
    }

    /// Labels the following operations (shown in errors and overflow reports).
    fn set_label(&mut self, label: &'static str) {
        self.tracker_mut().label = label;
    }

    /// Sets the current layer (shown with the label), or clears it.
    fn set_layer(&mut self, layer: Option<usize>) {
        self.tracker_mut().layer = layer;
    }

    /// Sets the current step, for example the training iteration.
    fn set_step(&mut self, step: u64) {
        self.tracker_mut().step = step;
    }

    /// The counters so far.
    fn cost(&self) -> Cost {
        self.tracker().cost.clone()
    }
}
