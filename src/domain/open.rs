//! Opening outputs without disclosing the bits below their precision.
//!
//! # The problem
//!
//! The secure truncation ([`crate::mpc::trunc`]) rounds stochastically: it
//! returns ⌊X / 2^m⌋ + e with P(e = 1) = (X mod 2^m) / 2^m. A value opened
//! right after a truncation therefore carries one random bit whose
//! *distribution* depends on the bits the truncation dropped: whoever
//! receives the same output many times (a client asking for the same
//! prediction again and again) averages the openings and estimates the
//! pre-truncation value far below the output's precision — to 2f bits
//! after a fixed-point product.
//!
//! # The fix: exact rounding before the reveal
//!
//! [`Open::open`] and [`Open::open_to`] round the shared value *exactly* to
//! f − k fraction bits ([`Open::round_exact`], k =
//! [`Open::output_drop_bits`]) and reveal the rounded value. With X the
//! secret's ring integer and h = 2^(k−1):
//!
//! 1. X' = X + h (round half up; local);
//! 2. y = Trunc_k(X') = ⌊X' / 2^k⌋ + e, e ∈ {0, 1} (the stochastic
//!    truncation, exact to one unit for |X'| < 2^(ℓ−2));
//! 3. t = X' − 2^k·y = ρ − 2^k·e, where ρ = X' mod 2^k ∈ [0, 2^k) (local);
//!    so t ≥ 0 exactly when e = 0;
//! 4. d = [t ≥ 0] = 1 − e by one sign extraction ([`Ring::nonneg_select`],
//!    exact for |t| < 2^(ℓ−1)), selecting the public constant 2^k:
//!    s = d·2^k, an integer product of a bit, exact;
//! 5. O = 2^k·y + s − 2^k = 2^k·(y − e) = 2^k·⌊X' / 2^k⌋ (local), revealed.
//!
//! **Claim.** The opened value O is a deterministic function of X, and for
//! any one semi-honest party the distribution of its whole view of an
//! opening depends on X only through O. In particular two secrets that
//! differ only in the k dropped bits — ⌊(X₁ + h) / 2^k⌋ = ⌊(X₂ + h) / 2^k⌋ —
//! give identically distributed views, however often they are opened.
//!
//! **Proof.** Steps 1–5 show O = 2^k⌊X'/2^k⌋ with probability one: the only
//! randomness of the computation, e, cancels exactly because step 4 learns
//! it without error (t lies in [−2^k, 2^k), far inside the comparison's
//! range). A party's view of steps 2 and 4 is its view of the truncation
//! and of the sign extraction, each of which one party's view can be
//! simulated for without any secret (see their security arguments in
//! [`crate::mpc::trunc`] and [`crate::mpc::compare`]; both end in fresh
//! replicated sharings, so the protocols compose); steps 1, 3 and 5 are
//! local. In the reveal the party receives the one share of O it lacks,
//! which is O minus its own two shares. A simulator given O alone
//! therefore produces the party's view, so the view's distribution is a
//! function of O. ∎
//!
//! # What remains
//!
//! The claim is about the opening. The secret X may itself be the result of
//! earlier stochastic roundings, and then X is a random variable: when its
//! rounding error (at most B units for an error bound of B units in the
//! last place) can straddle a rounding boundary of the output grid
//! (spacing 2^k units), the opened value varies between runs, and repeated
//! openings locate the exact result inside that band. For a value whose
//! last operation was one truncation this happens only when ⌊z / 2^m⌋ + h
//! ≡ −1 (mod 2^k) — one residue class in 2^k (1 in 16 with the defaults);
//! for a deeper computation, only when the exact result lies within B units
//! of a boundary. Everything else about the dropped bits stays hidden.
//!
//! # Cost (n elements, ℓ-bit ring)
//!
//! A truncation (2 rounds, 2n elements per party), a sign extraction of n
//! elements selecting n ([`CostModel::compare`](crate::cost::CostModel::compare)),
//! then the reveal (1 round): 9 rounds for ℓ = 64, 10 for ℓ = 128; see
//! [`CostModel::open`](crate::cost::CostModel::open). It is written over the
//! core of [`Ring`], so `Plain` and `Fixed` predict it exactly, and in
//! `Plain` (exact real arithmetic) it returns the value unchanged.
//!
//! # Examples
//!
//! ```
//! use ndarray::arr1;
//! use privml::domain::Open;
//! use privml::{Fixed, Ring};
//!
//! let mut r = Fixed::<u64>::new(); // 16 fraction bits: outputs keep 12
//! assert_eq!(r.output_drop_bits(), 4);
//! let x = r.constant(&arr1(&[0.1, -2.7]).into_dyn())?;
//! let v = r.open(&x)?;
//! // exactly the nearest multiple of 2^-12 to the encoded value
//! let grid = |v: f64| (v * 4096.0).round() / 4096.0;
//! assert_eq!(v, arr1(&[grid(0.1), grid(-2.7)]).into_dyn());
//! assert_eq!(r.cost().comparisons, 2);
//! # Ok::<(), privml::Error>(())
//! ```

use ndarray::ArrayD;

use super::{PartyId, Ring};
use crate::error::{Error, Result};

/// Largest number of bits [`Open::round_exact`] drops (2^k must be a
/// public integer factor, an `i64`).
pub const MAX_DROP_BITS: u32 = 62;

/// Exact rounding and the opening of outputs through it, for every domain
/// (see the [module documentation](self) for the protocol, the claim and
/// its proof). Every output path of the library — predictions, reported
/// losses and accuracies, revealed parameters — opens through
/// [`open`](Self::open) or [`open_to`](Self::open_to).
pub trait Open: Ring {
    /// Bits below the output precision that an opening drops: f / 4 (at
    /// least 1) for a fixed-point format of f fraction bits — 4 for the
    /// default Z_2^64 format (outputs keep 12 fraction bits), 8 for Z_2^128
    /// (24) — and 1 in `Plain`, where rounding changes nothing.
    fn output_drop_bits(&self) -> u32 {
        self.frac_bits().map_or(1, |f| (f / 4).max(1))
    }

    /// `x` rounded exactly (half up) to `bits` fewer fraction bits, still
    /// shared: 2^bits·⌊(X + 2^(bits−1)) / 2^bits⌋ for the ring integer X of
    /// each element. One truncation and one sign extraction of every
    /// element; the value is unchanged in `Plain`.
    fn round_exact(&mut self, x: &Self::Tensor, bits: u32) -> Result<Self::Tensor> {
        if bits == 0 || bits > MAX_DROP_BITS {
            return Err(Error::invalid(
                "bits",
                format!("cannot round away {bits} bits (1 to {MAX_DROP_BITS})"),
            ));
        }
        let shape = self.shape(x).to_vec();
        if shape.iter().product::<usize>() == 0 {
            return Ok(x.clone());
        }
        // In value units: one unit is 2^-f; `Plain` computes exactly, where
        // the steps below change nothing and any positive step will do.
        let (half, step) = match self.frac_bits() {
            Some(f) => {
                let unit = 0.5f64.powi(f as i32);
                (
                    unit * 2f64.powi(bits as i32 - 1),
                    unit * 2f64.powi(bits as i32),
                )
            }
            None => (0.0, 1.0),
        };
        let xr = self.add_public(x, &ndarray::arr0(half).into_dyn())?;
        let y = self.div_pow2(&xr, bits)?;
        let back = self.scale_int(&y, 1i64 << bits)?;
        let t = self.sub(&xr, &back)?;
        let steps = self.constant(&ArrayD::from_elem(shape, step))?;
        let (_, mut selected) = self.nonneg_select(&t, &[&steps])?;
        let selected = selected
            .pop()
            .ok_or_else(|| Error::internal("round_exact", "nonneg_select lost its operand"))?;
        let correction = self.sub(&selected, &steps)?;
        self.add(&back, &correction)
    }

    /// Reveals `x` to every party, exactly rounded to the output precision
    /// (f − [`output_drop_bits`](Self::output_drop_bits) fraction bits).
    fn open(&mut self, x: &Self::Tensor) -> Result<ArrayD<f64>> {
        let bits = self.output_drop_bits();
        let rounded = self.round_exact(x, bits)?;
        self.reveal(&rounded)
    }

    /// Reveals `x` to party `to` only, exactly rounded to the output
    /// precision; the others get `None`.
    fn open_to(&mut self, to: PartyId, x: &Self::Tensor) -> Result<Option<ArrayD<f64>>> {
        let bits = self.output_drop_bits();
        let rounded = self.round_exact(x, bits)?;
        self.reveal_to(to, &rounded)
    }
}

impl<R: Ring + ?Sized> Open for R {}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failing test is meant to panic")]
mod tests {
    use ndarray::arr1;

    use super::*;
    use crate::cost::CostModel;
    use crate::domain::{Fixed, Plain, Shared, SharedConfig, TruncationMode};

    /// Values whose low bits straddle every case: below and above half a
    /// step, exactly half, negative, a multiple of the step.
    fn values() -> ArrayD<f64> {
        let u = 0.5f64.powi(16);
        arr1(&[
            0.0,
            3.0 * u,
            8.0 * u,
            9.0 * u,
            -7.0 * u,
            -8.0 * u,
            1.0 + 15.0 * u,
            -3.25,
            1234.5678,
        ])
        .into_dyn()
    }

    fn nearest(v: f64, frac: i32) -> f64 {
        // half up, as the protocol rounds
        let s = 2f64.powi(frac);
        (v * s + 0.5).floor() / s
    }

    #[test]
    fn fixed_and_shared_round_exactly_and_plain_is_unchanged() {
        let x = values();
        let want: Vec<f64> = x
            .iter()
            .map(|v| nearest((v * 65536.0).round() / 65536.0, 12))
            .collect();
        for mode in [TruncationMode::Stochastic, TruncationMode::Floor] {
            let mut f = Fixed::<u64>::new().truncation(mode, None);
            let c = f.constant(&x).unwrap();
            let got = f.open(&c).unwrap();
            assert_eq!(got.iter().copied().collect::<Vec<_>>(), want, "{mode:?}");
        }
        for seed in 0..4 {
            let cfg = SharedConfig::default().insecure_test_seed(seed);
            let out = Shared::<u64>::simulate_with(&cfg, |r| {
                let v = r.input(1, r.owns(1).then_some(&x), x.shape())?;
                r.open(&v)
            })
            .unwrap();
            for o in out {
                assert_eq!(o.iter().copied().collect::<Vec<_>>(), want);
            }
        }
        let mut p = Plain::new();
        let c = p.constant(&x).unwrap();
        assert_eq!(p.open(&c).unwrap(), x);
    }

    #[test]
    fn the_predicted_cost_is_the_measured_cost() {
        let x = values();
        let n = x.len();
        let cfg = SharedConfig::default().insecure_test_seed(1);
        let (_, shared) = Shared::<u128>::simulate_with_cost(&cfg, |r| {
            let v = r.input(0, r.owns(0).then_some(&x), x.shape())?;
            r.open_to(2, &v)
        })
        .unwrap();
        let mut plain = Plain::new().with_elem_bytes(16);
        let v = plain.input(0, Some(&x), x.shape()).unwrap();
        plain.open_to(2, &v).unwrap();
        let mut fixed = Fixed::<u128>::new();
        let v = fixed.input(0, Some(&x), x.shape()).unwrap();
        fixed.open_to(2, &v).unwrap();
        assert_eq!(plain.cost(), shared);
        assert_eq!(fixed.cost(), shared);
        // the formula of the cost tables
        let model = CostModel::new(16);
        let mut want = crate::cost::Cost::default();
        want.add_comm(&model.input(0, n));
        want.add_comm(&model.open_to(128, 2, n));
        assert_eq!(
            (want.rounds, want.bytes_sent, want.messages_sent),
            (shared.rounds, shared.bytes_sent, shared.messages_sent)
        );
        assert_eq!(shared.rounds, 1 + 10);
        assert_eq!(shared.opened_to[2].elements, n as u64);
        assert_eq!(shared.opened_to_all.ops, 0);
    }

    #[test]
    fn bad_bit_counts_are_refused() {
        let mut f = Fixed::<u64>::new();
        let c = f.constant(&values()).unwrap();
        assert!(f.round_exact(&c, 0).is_err());
        assert!(f.round_exact(&c, 63).is_err());
    }
}
