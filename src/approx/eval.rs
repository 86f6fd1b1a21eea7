//! Evaluating a public polynomial on a secret tensor.

use std::collections::{BTreeMap, BTreeSet};

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

/// The product level that makes t^k: ⌈log₂ k⌉ (t itself is level 0).
fn level(k: usize) -> u32 {
    k.next_power_of_two().trailing_zeros()
}

/// How each power is made: k ↦ (a, b), a ≥ b, a + b = k, with both parts
/// of a lower [`level`] than k, so that all powers of a level are one
/// batched product and the depth stays ⌈log₂ d⌉.
///
/// Two plans are drawn and the one with fewer products kept (the halving
/// one on a tie, so that nothing changes where nothing is gained): the
/// halving rule t^k = t^h · t^(k−h), h the largest power of two below k,
/// and a greedy one where each power (largest first) takes the valid split
/// that adds the fewest powers nobody asked for, the most balanced of
/// those. For the odd powers of a sigmoid (1, 3, 5, 7, 9) halving makes
/// t^8 only for t^9 = t^8 · t; t^9 = t^5 · t^4 reuses two powers the tree
/// has anyway: 6 products instead of 7 at the same depth, a seventh less
/// online work and traffic for the degree-9 polynomial (W3). Degree 7's
/// odd powers cost 5 products either way.
fn plan(wanted: &[usize]) -> BTreeMap<usize, (usize, usize)> {
    let halving = plan_with(wanted, false);
    let greedy = plan_with(wanted, true);
    if greedy.len() < halving.len() {
        greedy
    } else {
        halving
    }
}

/// One plan of [`plan`]: greedy splits, or halving ones.
fn plan_with(wanted: &[usize], greedy: bool) -> BTreeMap<usize, (usize, usize)> {
    let mut need: BTreeSet<usize> = wanted.iter().copied().filter(|k| *k >= 1).collect();
    let mut split = BTreeMap::new();
    let mut below = usize::MAX;
    // Parts are smaller than their power, so walking down from the
    // largest visits every power added on the way.
    while let Some(k) = need.range(..below).next_back().copied() {
        below = k;
        if k < 2 {
            continue;
        }
        let halved = (half(k), k - half(k));
        let new = |j: usize| usize::from(!need.contains(&j));
        let (a, b) = if greedy {
            (1..=k / 2)
                .map(|b| (k - b, b))
                .filter(|&(a, _)| level(a) < level(k))
                .min_by_key(|&(a, b)| {
                    let added = if a == b { new(a) } else { new(a) + new(b) };
                    // fewest added, then the most balanced (largest b)
                    (added, std::cmp::Reverse(b))
                })
                .unwrap_or(halved)
        } else {
            halved
        };
        need.insert(a);
        need.insert(b);
        split.insert(k, (a, b));
    }
    split
}

/// t^k for every k in `wanted`, computed level by level (see [`plan`]):
/// all powers of one level in one batched product.
pub(crate) fn powers<R: Ring>(
    r: &mut R,
    t: &R::Tensor,
    wanted: &[usize],
) -> Result<BTreeMap<usize, R::Tensor>> {
    let split = plan(wanted);
    let mut have: BTreeMap<usize, R::Tensor> = BTreeMap::new();
    have.insert(1, t.clone());
    let top = split.keys().map(|k| level(*k)).max().unwrap_or(0);
    for l in 1..=top {
        let level_ks: Vec<usize> = split.keys().copied().filter(|k| level(*k) == l).collect();
        if level_ks.is_empty() {
            continue;
        }
        let mut pairs: Vec<(&R::Tensor, &R::Tensor)> = Vec::with_capacity(level_ks.len());
        for k in &level_ks {
            let (a, b) = split[k];
            match (have.get(&a), have.get(&b)) {
                (Some(x), Some(y)) => pairs.push((x, y)),
                _ => {
                    return Err(crate::error::Error::internal(
                        "approx::powers",
                        format!("t^{k} planned from t^{a} and t^{b} before they exist"),
                    ));
                }
            }
        }
        let out = r.mul_many(&pairs)?;
        for (k, v) in level_ks.into_iter().zip(out) {
            have.insert(k, v);
        }
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
        assert_eq!(
            c.mults, 6,
            "t^2, t^3, t^4, t^5, t^7 and t^9 = t^5 t^4: no t^8"
        );
        for (k, v) in &pw {
            assert!((v[[]] - 1.1f64.powi(*k as i32)).abs() < 1e-12);
        }
        assert_eq!(half(9), 8);
        assert_eq!(half(8), 4);
        assert_eq!(half(2), 1);
    }

    #[test]
    fn plans_keep_the_depth_and_never_cost_more_than_halving() {
        for d in 1..=16usize {
            let all: Vec<usize> = (1..=d).collect();
            let odd: Vec<usize> = (1..=d).step_by(2).collect();
            for wanted in [all, odd] {
                let p = plan(&wanted);
                assert!(p.len() <= plan_with(&wanted, false).len(), "{wanted:?}");
                for (&k, &(a, b)) in &p {
                    assert_eq!(a + b, k);
                    assert!(a >= b && level(a) < level(k), "t^{k} from t^{a} t^{b}");
                    for part in [a, b] {
                        assert!(part == 1 || p.contains_key(&part), "t^{part} unplanned");
                    }
                }
                for k in &wanted {
                    assert!(*k == 1 || p.contains_key(k));
                }
            }
        }
        // the degree-7 sigmoid's odd powers: halving's plan, unchanged
        assert_eq!(plan(&[1, 3, 5, 7]), plan_with(&[1, 3, 5, 7], false));
        assert_eq!(plan(&[1, 3, 5, 7, 9]).len(), 6);
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
