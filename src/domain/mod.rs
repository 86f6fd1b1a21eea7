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
//! # The shape of the interface
//!
//! Following swanky's `Fancy` traits: a small core that every domain
//! implements, and everything else written once on top of it.
//!
//! | trait | holds | implemented |
//! |---|---|---|
//! | [`Ring`] | the core: data in and out, local arithmetic, the one layout operation [`Ring::gather`], the batched products and the comparison [`Ring::nonneg_select`]; conveniences (`sub`, `mul`, `matmul`, labels, ...) as provided methods | by each domain |
//! | [`Layout`] | transpose, reshape, row slices, row gathers, concatenation: [`Gather`] plans run by [`Ring::gather`] | once, for every `R: Ring` |
//! | [`Gadgets`] | non-linear functions built from the core: ReLU, sign, comparisons, clipping, max, argmax | once, for every `R: Ring` |
//! | [`Open`] | opening outputs exactly rounded to their precision, so that repeated openings disclose nothing about the dropped bits | once, for every `R: Ring` |
//! | [`Session`] | what a job needs besides arithmetic: public announcements, saving, loading and cross-checking this evaluator's data of tensors | by each domain |
//!
//! A new domain implements the twenty required methods of [`Ring`] (and
//! [`Session`] if it is to run whole jobs) and gets every layout helper and
//! gadget for free; `use privml::prelude::*` brings all five traits into
//! scope.
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

mod additive;
mod clear;
mod fixed;
pub mod gadgets;
pub mod layout;
pub mod open;
mod plain;
mod session;
mod shared;

pub use additive::{Additive, AdditiveShare, DealerSchedule};
pub use fixed::{Fixed, OverflowPolicy, TruncationMode};
pub use gadgets::{Clipped, Gadgets};
pub use layout::{Gather, Layout, Window2d};
pub use open::Open;
pub use plain::Plain;
pub(crate) use session::decode_elements;
pub use session::{Session, TensorData};
pub use shared::{DEFAULT_MAX_INPUT_ELEMENTS, Shared, SharedConfig};

use std::fmt;

use ndarray::ArrayD;

use crate::cost::Cost;
use crate::error::Result;

pub use crate::party_id::PartyId;

/// What an evaluator is: its domain, ring and fixed-point format, and the
/// party it plays. `Display` gives the description [`Ring::describe`]
/// returns.
///
/// # Examples
///
/// ```
/// use privml::{DomainInfo, Fixed, Plain, Ring};
///
/// assert_eq!(Plain::new().info(), DomainInfo::Plain);
/// let f = Fixed::<u64>::new().info();
/// assert_eq!((f.ring_bits(), f.frac_bits(), f.party()), (Some(64), Some(16), None));
/// assert_eq!(f.to_string(), "fixed Z_2^64, 16 fraction bits");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DomainInfo {
    /// `f64` in the clear (plays all three parties at once).
    Plain,
    /// Fixed point in the clear (plays all three parties at once).
    Fixed {
        /// ℓ, the ring's bits.
        ring_bits: u32,
        /// f, the fraction bits.
        frac_bits: u32,
    },
    /// One party of the secret-shared computation.
    Shared {
        /// ℓ, the ring's bits.
        ring_bits: u32,
        /// f, the fraction bits.
        frac_bits: u32,
        /// The party this evaluator plays.
        party: PartyId,
    },
    /// One participant of the two-party computation: party 0 or 1, or the
    /// dealer (2), which holds no data.
    Additive {
        /// ℓ, the ring's bits.
        ring_bits: u32,
        /// f, the fraction bits.
        frac_bits: u32,
        /// 0 or 1, or 2 for the dealer.
        party: PartyId,
    },
}

impl DomainInfo {
    /// ℓ, or `None` for `f64`.
    pub fn ring_bits(&self) -> Option<u32> {
        match *self {
            DomainInfo::Plain => None,
            DomainInfo::Fixed { ring_bits, .. }
            | DomainInfo::Shared { ring_bits, .. }
            | DomainInfo::Additive { ring_bits, .. } => Some(ring_bits),
        }
    }

    /// Fraction bits of the fixed-point format, `None` for `f64`.
    pub fn frac_bits(&self) -> Option<u32> {
        match *self {
            DomainInfo::Plain => None,
            DomainInfo::Fixed { frac_bits, .. }
            | DomainInfo::Shared { frac_bits, .. }
            | DomainInfo::Additive { frac_bits, .. } => Some(frac_bits),
        }
    }

    /// The party played, `None` for the plaintext domains (which play all
    /// three at once). The two-party protocol's dealer is party 2: it owns
    /// no input (only 0 and 1 may) and does not speak.
    pub fn party(&self) -> Option<PartyId> {
        match *self {
            DomainInfo::Shared { party, .. } | DomainInfo::Additive { party, .. } => Some(party),
            _ => None,
        }
    }
}

impl fmt::Display for DomainInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DomainInfo::Plain => f.write_str("plain f64"),
            DomainInfo::Fixed {
                ring_bits,
                frac_bits,
            } => write!(f, "fixed Z_2^{ring_bits}, {frac_bits} fraction bits"),
            DomainInfo::Shared {
                ring_bits,
                frac_bits,
                party,
            } => write!(
                f,
                "shared (party {party} of 3) Z_2^{ring_bits}, {frac_bits} fraction bits"
            ),
            DomainInfo::Additive {
                ring_bits,
                frac_bits,
                party,
            } => {
                if *party < 2 {
                    write!(f, "two-party (party {party} of 2, with a dealer)")?;
                } else {
                    write!(f, "two-party (the dealer)")?;
                }
                write!(f, " Z_2^{ring_bits}, {frac_bits} fraction bits")
            }
        }
    }
}

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

/// A numeric domain that generic models are written against: the core
/// every domain implements (see the [module documentation](self) for the
/// traits built on top of it).
///
/// All methods take `&mut self` because every operation is counted, and in
/// `Shared` most of them talk to the other parties. Each required method is
/// one counted operation; a provided method costs what the core operations
/// it calls cost.
pub trait Ring {
    /// A tensor in this domain.
    type Tensor: Clone + Send + 'static;

    // ----- what this evaluator is --------------------------------------------

    /// The domain, ring, fixed-point format and party of this evaluator.
    fn info(&self) -> DomainInfo;

    /// The shape of a tensor.
    fn shape<'a>(&self, x: &'a Self::Tensor) -> &'a [usize];

    /// The program location tracker (label, layer, step, cost counters).
    fn tracker(&self) -> &Tracker;

    /// Mutable access to the tracker.
    fn tracker_mut(&mut self) -> &mut Tracker;

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
    /// `-a`.
    fn neg(&mut self, a: &Self::Tensor) -> Result<Self::Tensor>;
    /// `a + c` for a public `c` broadcast to `a`'s shape.
    fn add_public(&mut self, a: &Self::Tensor, c: &ArrayD<f64>) -> Result<Self::Tensor>;
    /// `a · k` for a public integer `k` (exact, no truncation).
    fn scale_int(&mut self, a: &Self::Tensor, k: i64) -> Result<Self::Tensor>;
    /// Sum along `axis`, keeping it with length 1.
    fn sum_axis(&mut self, a: &Self::Tensor, axis: usize) -> Result<Self::Tensor>;
    /// The one layout operation: a new tensor whose elements are taken from
    /// `parts` (or are zero) as `plan` says; see [`Gather`]. Transposes,
    /// reshapes, slices, concatenations and zero-padded index maps are all
    /// plans, built for the sources' shapes; the helpers of [`Layout`]
    /// build and run them. Local in every domain: each share is rearranged
    /// the same way, and a zero is a valid sharing of zero.
    fn gather(&mut self, parts: &[&Self::Tensor], plan: &Gather) -> Result<Self::Tensor>;

    // ----- products (communication) -----------------------------------------

    /// Several independent elementwise products in one communication step
    /// (the second operand of each pair is broadcast to the first's shape).
    fn mul_many(&mut self, pairs: &[(&Self::Tensor, &Self::Tensor)]) -> Result<Vec<Self::Tensor>>;
    /// Several independent matrix products in one communication step.
    fn matmul_many(
        &mut self,
        pairs: &[(&Self::Tensor, &Self::Tensor)],
    ) -> Result<Vec<Self::Tensor>>;
    /// `a / 2^bits` (one truncation; exact to within one unit in the last place).
    fn div_pow2(&mut self, a: &Self::Tensor, bits: u32) -> Result<Self::Tensor>;
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
    /// turning the bit into arithmetic shares and multiplexing. The
    /// comparison gadgets of [`Gadgets`] are built on it.
    fn nonneg_select(
        &mut self,
        x: &Self::Tensor,
        ys: &[&Self::Tensor],
    ) -> Result<(Self::Tensor, Vec<Self::Tensor>)>;

    // ----- provided: what this evaluator is ----------------------------------

    /// A description such as `"fixed Z_2^64, 16 fraction bits"`.
    fn describe(&self) -> String {
        self.info().to_string()
    }

    /// Fraction bits of the fixed-point format, `None` for `Plain`.
    fn frac_bits(&self) -> Option<u32> {
        self.info().frac_bits()
    }

    /// This evaluator's party id, or `None` for plaintext domains (which play
    /// all three parties at once).
    fn party(&self) -> Option<PartyId> {
        self.info().party()
    }

    /// Whether this evaluator holds the private inputs of `owner`: always in
    /// plaintext domains, only on party `owner` in `Shared`.
    fn owns(&self, owner: PartyId) -> bool {
        self.party().is_none_or(|p| p == owner)
    }

    // ----- provided: arithmetic ----------------------------------------------

    /// `a - b`, with `b` broadcast to `a`'s shape: `a + (-b)`, two
    /// operations. The three domains override it with one operation (`Shared`
    /// for speed, one pass over the shares instead of two; `Fixed` so that
    /// the overflow check sees the true difference and names `sub`; `Plain`
    /// so that operation numbers stay the same in every domain).
    fn sub(&mut self, a: &Self::Tensor, b: &Self::Tensor) -> Result<Self::Tensor> {
        let minus_b = self.neg(b)?;
        self.add(a, &minus_b)
    }

    /// Elementwise product `a ⊙ b` (`b` broadcast to `a`'s shape).
    fn mul(&mut self, a: &Self::Tensor, b: &Self::Tensor) -> Result<Self::Tensor> {
        let mut v = self.mul_many(&[(a, b)])?;
        v.pop()
            .ok_or_else(|| crate::Error::internal("mul", "mul_many returned no product"))
    }

    /// Matrix product of two secret matrices.
    fn matmul(&mut self, a: &Self::Tensor, b: &Self::Tensor) -> Result<Self::Tensor> {
        let mut v = self.matmul_many(&[(a, b)])?;
        v.pop()
            .ok_or_else(|| crate::Error::internal("matmul", "matmul_many returned no product"))
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

    /// `a · c` for a public real `c` (one truncation): a one-term
    /// [`lincomb_public`](Self::lincomb_public) with the coefficient at the
    /// format's fraction bits, so the product must stay below 2^(ℓ-2-2f) in
    /// value units, like a secret product. (For a public *tensor* factor,
    /// make it a [`constant`](Self::constant) and [`mul`](Self::mul).)
    fn mul_public(&mut self, a: &Self::Tensor, c: f64) -> Result<Self::Tensor> {
        // `Plain` computes in f64 and only asks for at least one bit.
        let bits = self.frac_bits().unwrap_or(1);
        self.lincomb_public(&[a], &[c], bits)
    }

    /// A public scalar as a tensor of shape `[]` (broadcasts anywhere).
    fn scalar(&mut self, v: f64) -> Result<Self::Tensor> {
        self.constant(&ndarray::arr0(v).into_dyn())
    }

    // ----- provided: bookkeeping ---------------------------------------------

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
