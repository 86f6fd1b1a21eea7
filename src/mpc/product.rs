//! The local step of a product of replicated shares (ABY3), in one place.
//!
//! Party i holds (x_i, x_{i+1}) and (y_i, y_{i+1}). Its *cross terms*
//!
//! > z_i = x_i·(y_i + y_{i+1}) + x_{i+1}·y_i = x_i·y_i + x_i·y_{i+1} + x_{i+1}·y_i
//!
//! cover the nine products x_j·y_k between them (each pair (j, k) at exactly
//! one party), so z_0 + z_1 + z_2 = x·y: an additive sharing of the product
//! without any communication. What follows is protocol-specific — a
//! zero-sharing and one message to the predecessor for an integer product
//! ([`Party::additive_to_replicated`](super::Party::additive_to_replicated)),
//! or the fused truncation of [`trunc`](super::trunc) for a fixed-point one.
//! The sum is symmetric in x and y, so either operand may be the one that
//! is broadcast.

use crate::ring::{RingElement, kernels};

/// This party's additive share of x·y from its shares (xa, xb) of x and
/// (ya, yb) of y.
#[inline(always)]
pub fn cross_term<T: RingElement>(xa: &T, xb: &T, ya: &T, yb: &T) -> T {
    xa.wrapping_mul(&ya.wrapping_add(yb))
        .wrapping_add(&xb.wrapping_mul(ya))
}

/// Appends the cross terms of x ⊙ y to `z`, one per element of x: element
/// e is multiplied by element `y_at[e]` of y (broadcasting), or by element
/// e when `y_at` is `None` (same shape). Contiguous slices, so the common
/// same-shape case is one vectorisable pass writing each output once.
pub fn extend_cross_terms<T: RingElement>(
    z: &mut Vec<T>,
    (xa, xb): (&[T], &[T]),
    (ya, yb): (&[T], &[T]),
    y_at: Option<&[usize]>,
) {
    match y_at {
        None => z.extend(
            xa.iter()
                .zip(xb)
                .zip(ya.iter().zip(yb))
                .map(|((p, q), (r, s))| cross_term(p, q, r, s)),
        ),
        Some(at) => z.extend(
            xa.iter()
                .zip(xb)
                .zip(at)
                .map(|((p, q), &i)| cross_term(p, q, &ya[i], &yb[i])),
        ),
    }
}

/// The cross terms of the matrix product x·y (x is m x k, y is k x n, all
/// row-major): x_i·(y_i + y_{i+1}) + x_{i+1}·y_i with two wrapping matrix
/// products, m·n elements.
pub fn matmul_cross_terms<T: RingElement>(
    (xa, xb): (&[T], &[T]),
    (ya, yb): (&[T], &[T]),
    (m, k, n): (usize, usize, usize),
) -> Vec<T> {
    let ysum: Vec<T> = ya.iter().zip(yb).map(|(p, q)| p.wrapping_add(q)).collect();
    let mut z = kernels::matmul(xa, &ysum, m, k, n);
    kernels::matmul_acc(xb, ya, &mut z, m, k, n);
    z
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ring::prg::{AesPrg, Seed};

    /// Splits each value into three random summands and returns each
    /// party's pair (x_i, x_{i+1}).
    fn share(x: &[u64], g: &mut AesPrg) -> [(Vec<u64>, Vec<u64>); 3] {
        let s0: Vec<u64> = g.vec(x.len());
        let s1: Vec<u64> = g.vec(x.len());
        let s2: Vec<u64> = x
            .iter()
            .zip(s0.iter().zip(&s1))
            .map(|(v, (a, b))| v.wrapping_sub(*a).wrapping_sub(*b))
            .collect();
        let s = [s0, s1, s2];
        std::array::from_fn(|i| (s[i].clone(), s[(i + 1) % 3].clone()))
    }

    fn sum3(z: [Vec<u64>; 3]) -> Vec<u64> {
        (0..z[0].len())
            .map(|e| z[0][e].wrapping_add(z[1][e]).wrapping_add(z[2][e]))
            .collect()
    }

    #[test]
    fn cross_terms_add_up_to_the_product() {
        let mut g = AesPrg::new(&Seed::from_u64(7));
        let x: Vec<u64> = g.vec(6);
        let y: Vec<u64> = g.vec(6);
        let (xs, ys) = (share(&x, &mut g), share(&y, &mut g));
        let z = std::array::from_fn(|i| {
            let mut z = Vec::new();
            let (xi, yi) = (&xs[i], &ys[i]);
            extend_cross_terms(&mut z, (&xi.0, &xi.1), (&yi.0, &yi.1), None);
            z
        });
        let want: Vec<u64> = x.iter().zip(&y).map(|(a, b)| a.wrapping_mul(*b)).collect();
        assert_eq!(sum3(z), want);

        // broadcasting: y's element at[e] for x's element e
        let at = [0, 0, 1, 1, 2, 2];
        let z = std::array::from_fn(|i| {
            let mut z = Vec::new();
            let (xi, yi) = (&xs[i], &ys[i]);
            extend_cross_terms(&mut z, (&xi.0, &xi.1), (&yi.0, &yi.1), Some(&at));
            z
        });
        let want: Vec<u64> = (0..6).map(|e| x[e].wrapping_mul(y[at[e]])).collect();
        assert_eq!(sum3(z), want);

        // a 2 x 3 by 3 x 2 matrix product
        let z = std::array::from_fn(|i| {
            let (xi, yi) = (&xs[i], &ys[i]);
            matmul_cross_terms((&xi.0, &xi.1), (&yi.0, &yi.1), (2, 3, 2))
        });
        let want: Vec<u64> = (0..4)
            .map(|o| {
                let (r, c) = (o / 2, o % 2);
                (0..3).fold(0u64, |acc, j| {
                    acc.wrapping_add(x[r * 3 + j].wrapping_mul(y[j * 2 + c]))
                })
            })
            .collect();
        assert_eq!(sum3(z), want);
    }
}
