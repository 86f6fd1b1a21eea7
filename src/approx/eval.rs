//! Evaluating a public polynomial on a secret tensor.

use std::collections::BTreeMap;

use ndarray::arr0;

use super::Polynomial;
use crate::domain::Ring;
use crate::error::Result;

/// How to evaluate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Method {
    /// Horner's rule: degree-many products in sequence (for 1/2 + odd
    /// polynomials, in u = t²: (d+1)/2 + 1 products). Fewest products,
    /// most rounds; small coefficients are added at the data precision.
    Horner,
    /// All needed powers t^k in ⌈log₂ d⌉ rounds of batched products (a power
    /// tree), then one linear combination with the coefficients at
    /// `coeff_frac_bits` precision and a single truncation.
    #[default]
    LowDepth,
}

/// Evaluation settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EvalOptions {
    /// The method.
    pub method: Method,
    /// Fraction bits for the coefficients in the final linear combination
    /// (default: [`default_coeff_bits`], twice the ring's fraction bits).
    pub coeff_frac_bits: Option<u32>,
}

impl EvalOptions {
    /// Low depth with coefficients at `bits` fraction bits.
    pub fn low_depth(bits: u32) -> Self {
        EvalOptions {
            method: Method::LowDepth,
            coeff_frac_bits: Some(bits),
        }
    }

    /// Horner's rule.
    pub fn horner() -> Self {
        EvalOptions {
            method: Method::Horner,
            coeff_frac_bits: None,
        }
    }
}

/// Coefficient precision when the options leave it open: twice the data's
/// fraction bits (32 in Z_2^64 at 16 bits), enough to keep the tutorial's
/// W7 = -1.88e-6 (which is 0 at 16 bits) to four significant digits.
pub fn default_coeff_bits(frac_bits: Option<u32>) -> u32 {
    frac_bits.map_or(32, |f| 2 * f)
}

/// The largest power of two strictly below `k` (k ≥ 2).
fn half(k: usize) -> usize {
    1 << (usize::BITS - 1 - (k - 1).leading_zeros())
}

/// t^k for every k in `wanted`, computed level by level: t^k for
/// 2^(L-1) < k ≤ 2^L is t^h · t^(k-h) with h = 2^(L-1), all of a level in
/// one batched product.
pub(crate) fn powers<R: Ring>(
    r: &mut R,
    t: &R::Tensor,
    wanted: &[usize],
) -> Result<BTreeMap<usize, R::Tensor>> {
    // close the set under k -> (h, k - h)
    let mut need: Vec<usize> = wanted.iter().copied().filter(|k| *k >= 1).collect();
    let mut i = 0;
    while i < need.len() {
        let k = need[i];
        if k >= 2 {
            let h = half(k);
            for j in [h, k - h] {
                if !need.contains(&j) {
                    need.push(j);
                }
            }
        }
        i += 1;
    }
    need.sort_unstable();
    let mut have: BTreeMap<usize, R::Tensor> = BTreeMap::new();
    have.insert(1, t.clone());
    let max = need.last().copied().unwrap_or(1);
    let mut level_top = 2;
    while level_top / 2 < max {
        let level: Vec<usize> = need
            .iter()
            .copied()
            .filter(|k| *k > level_top / 2 && *k <= level_top)
            .collect();
        if !level.is_empty() {
            let pairs: Vec<(&R::Tensor, &R::Tensor)> = level
                .iter()
                .map(|k| {
                    let h = half(*k);
                    (&have[&h], &have[&(k - h)])
                })
                .collect();
            let out = r.mul_many(&pairs)?;
            for (k, v) in level.into_iter().zip(out) {
                have.insert(k, v);
            }
        }
        level_top *= 2;
    }
    Ok(have)
}

/// p(x) on a secret tensor, elementwise.
pub fn evaluate<R: Ring>(
    r: &mut R,
    x: &R::Tensor,
    p: &Polynomial,
    opts: &EvalOptions,
) -> Result<R::Tensor> {
    let t = if p.arg_scale != 1.0 {
        r.mul_public(x, 1.0 / p.arg_scale)?
    } else {
        x.clone()
    };
    let c = &p.coeffs;
    let d = p.degree();
    let c0 = arr0(c.first().copied().unwrap_or(0.0)).into_dyn();
    let fc = opts
        .coeff_frac_bits
        .unwrap_or_else(|| default_coeff_bits(r.frac_bits()));
    if d == 0 {
        let z = r.scale_int(&t, 0)?;
        return r.add_public(&z, &c0);
    }
    match opts.method {
        Method::LowDepth => {
            let ks: Vec<usize> = (1..=d).filter(|k| c[*k] != 0.0).collect();
            let pw = powers(r, &t, &ks)?;
            let terms: Vec<&R::Tensor> = ks.iter().map(|k| &pw[k]).collect();
            let coeffs: Vec<f64> = ks.iter().map(|k| c[*k]).collect();
            let s = r.lincomb_public(&terms, &coeffs, fc)?;
            r.add_public(&s, &c0)
        }
        Method::Horner => {
            if p.is_odd_plus_constant() && d >= 3 {
                // p = c0 + t · q(t²), q(u) = c1 + c3 u + ... + c_d u^((d-1)/2)
                let u = r.square(&t)?;
                let odd: Vec<f64> = (1..=d).step_by(2).map(|k| c[k]).collect();
                let mut acc = r.lincomb_public(&[&u], &[odd[odd.len() - 1]], fc)?;
                acc = r.add_public(&acc, &arr0(odd[odd.len() - 2]).into_dyn())?;
                for ck in odd[..odd.len() - 2].iter().rev() {
                    acc = r.mul(&acc, &u)?;
                    acc = r.add_public(&acc, &arr0(*ck).into_dyn())?;
                }
                let y = r.mul(&acc, &t)?;
                r.add_public(&y, &c0)
            } else {
                let mut acc = r.lincomb_public(&[&t], &[c[d]], fc)?;
                acc = r.add_public(&acc, &arr0(c[d - 1]).into_dyn())?;
                for ck in c[..d - 1].iter().rev() {
                    acc = r.mul(&acc, &t)?;
                    acc = r.add_public(&acc, &arr0(*ck).into_dyn())?;
                }
                Ok(acc)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::approx::sigmoid;
    use crate::{Fixed, Plain};

    #[test]
    fn power_tree_has_log_depth() {
        let mut r = Plain::new();
        let t = r.scalar(1.1).unwrap();
        let before = r.cost();
        let pw = powers(&mut r, &t, &[1, 3, 5, 7, 9]).unwrap();
        let c = r.cost().since(&before);
        assert_eq!(c.rounds, 4 * 2, "x^9 needs 4 levels of 2-round products");
        for (k, v) in &pw {
            assert!((v[[]] - 1.1f64.powi(*k as i32)).abs() < 1e-12);
        }
        assert_eq!(half(9), 8);
        assert_eq!(half(8), 4);
        assert_eq!(half(2), 1);
    }

    #[test]
    fn both_methods_agree_and_horner_costs_more_rounds() {
        let x = ndarray::arr1(&[-3.0, -0.5, 0.0, 1.25, 4.0]).into_dyn();
        for p in [
            sigmoid::maclaurin(5).unwrap(),
            sigmoid::notebook_effective(),
            sigmoid::chebyshev(10.0, 9),
        ] {
            let mut a = Plain::new();
            let xa = a.constant(&x).unwrap();
            let ya = evaluate(&mut a, &xa, &p, &EvalOptions::default()).unwrap();
            let mut b = Plain::new();
            let xb = b.constant(&x).unwrap();
            let yb = evaluate(&mut b, &xb, &p, &EvalOptions::horner()).unwrap();
            for ((u, v), xv) in ya.iter().zip(yb.iter()).zip(x.iter()) {
                assert!((u - p.eval(*xv)).abs() < 1e-9 && (v - p.eval(*xv)).abs() < 1e-9);
            }
            if p.degree() >= 7 {
                assert!(b.cost().rounds > a.cost().rounds, "{}", p.name);
            } else {
                assert!(b.cost().rounds >= a.cost().rounds, "{}", p.name);
            }
        }
    }

    #[test]
    fn fixed_point_keeps_tiny_coefficients_with_extra_bits() {
        // W9 = 7.2e-9 is 0 at 16 bits, but not at 40.
        let p = sigmoid::tutorial_interpolated();
        let x = ndarray::arr1(&[6.0]).into_dyn();
        let mut f = Fixed::<u64>::new();
        let xs = f.constant(&x).unwrap();
        let lo = evaluate(&mut f, &xs, &p, &EvalOptions::low_depth(16)).unwrap();
        let hi = evaluate(&mut f, &xs, &p, &EvalOptions::low_depth(40)).unwrap();
        let exact = p.eval(6.0);
        let lo = f.reveal(&lo).unwrap()[0];
        let hi = f.reveal(&hi).unwrap()[0];
        assert!((hi - exact).abs() < 1e-3, "{hi} vs {exact}");
        assert!(
            (lo - exact).abs() > 1e-2,
            "16 bits should visibly lose W7 and W9: {lo} vs {exact}"
        );
    }
}
