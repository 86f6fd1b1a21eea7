//! The wrapping u64 matrix product on an f64 GEMM, exactly, by limbs.
//!
//! The trick GPU frameworks use where there is no integer GEMM (CrypTen):
//! split every element into signed ("balanced") limbs of [`W`] bits,
//!
//! > a = a_0 + a_1·2^22 + a_2·2^44 (mod 2^64), a_0, a_1 ∈ [−2^21, 2^21), a_2 ∈ [−2^19, 2^19),
//!
//! so a·b mod 2^64 = Σ_{i+j≤2} a_i·b_j·2^(22(i+j)) — six limb products; the
//! three pairs with i + j ≥ 3 are shifted by 66 or more and vanish. Each limb
//! product is an f64 GEMM, and it is exact when every partial sum stays below
//! 2^53 in magnitude: a product of two limbs is at most 2^42, the pairs with
//! the same shift (at most 3) share one accumulator, so k ≤ [`K_CHUNK`] =
//! 512 keeps every partial sum at most 3·512·2^42 < 2^53 whatever order the
//! GEMM adds in. Longer products run in chunks of k. The f64 sums are then
//! converted to i64 (exact) and recombined with wrapping u64 shifts and adds.
//!
//! On a CPU with a good 64-bit integer multiply this loses: six f64 GEMMs
//! against one u64 GEMM (see `benches/gemm.rs` and BENCHMARKS.md); it is
//! kept as the measured alternative and as a portable exact kernel.

use ndarray::{Array2, linalg::general_mat_mul};

/// Bits per limb.
const W: u32 = 22;
/// Limbs per element (22 + 22 + 20 = 64 bits).
const L: usize = 3;
/// The longest k whose limb sums stay exact (see the module docs).
pub(crate) const K_CHUNK: usize = 512;

/// The balanced limbs of `v`: `v ≡ Σ l_i·2^(22 i) (mod 2^64)`, |l_i| ≤ 2^21.
fn limbs(v: u64) -> [f64; L] {
    let mut out = [0.0; L];
    let mut rest = v;
    for (i, o) in out.iter_mut().enumerate() {
        let width = if i + 1 < L {
            W
        } else {
            64 - W * (L as u32 - 1)
        };
        let half = 1u64 << (width - 1);
        let mask = (1u64 << width) - 1;
        // The low `width` bits, read in [−half, half).
        let low = (rest.wrapping_add(half) & mask).wrapping_sub(half) as i64;
        *o = low as f64;
        rest = rest.wrapping_sub(low as u64) >> width;
    }
    out
}

/// `c += a · b` (row-major, m × k by k × n, wrapping) with six f64 GEMMs per
/// chunk of k.
pub(crate) fn matmul_acc(a: &[u64], b: &[u64], c: &mut [u64], m: usize, k: usize, n: usize) {
    assert_eq!(a.len(), m * k, "limb_f64::matmul_acc: a is not m x k");
    assert_eq!(b.len(), k * n, "limb_f64::matmul_acc: b is not k x n");
    assert_eq!(c.len(), m * n, "limb_f64::matmul_acc: c is not m x n");
    if m == 0 || n == 0 || k == 0 {
        return;
    }
    for k0 in (0..k).step_by(K_CHUNK) {
        let kw = K_CHUNK.min(k - k0);
        let mut al: Vec<Array2<f64>> = (0..L).map(|_| Array2::zeros((m, kw))).collect();
        for r in 0..m {
            for p in 0..kw {
                for (i, l) in limbs(a[r * k + k0 + p]).into_iter().enumerate() {
                    al[i][[r, p]] = l;
                }
            }
        }
        let mut bl: Vec<Array2<f64>> = (0..L).map(|_| Array2::zeros((kw, n))).collect();
        for p in 0..kw {
            for col in 0..n {
                for (j, l) in limbs(b[(k0 + p) * n + col]).into_iter().enumerate() {
                    bl[j][[p, col]] = l;
                }
            }
        }
        // acc[s] = Σ_{i+j=s} A_i · B_j.
        let mut acc: Vec<Array2<f64>> = (0..L).map(|_| Array2::zeros((m, n))).collect();
        for i in 0..L {
            for j in 0..L - i {
                general_mat_mul(1.0, &al[i], &bl[j], 1.0, &mut acc[i + j]);
            }
        }
        for (idx, cv) in c.iter_mut().enumerate() {
            let (r, col) = (idx / n, idx % n);
            let mut v = 0u64;
            for (s, accs) in acc.iter().enumerate() {
                // |acc| < 2^53: the conversion to i64 is exact.
                let exact = accs[[r, col]] as i64 as u64;
                v = v.wrapping_add(exact.wrapping_shl(W * s as u32));
            }
            *cv = cv.wrapping_add(v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limbs_recombine_to_the_element() {
        for v in [
            0,
            1,
            u64::MAX,
            1 << 63,
            (1 << 63) - 1,
            0x1f_ffff,
            0x20_0000,
            12345678901234567890,
        ] {
            let l = limbs(v);
            let mut back = 0u64;
            for (i, x) in l.iter().enumerate() {
                assert!(
                    x.abs() <= f64::from(1u32 << 21),
                    "limb {i} of {v:#x} is {x}"
                );
                back = back.wrapping_add((*x as i64 as u64).wrapping_shl(W * i as u32));
            }
            assert_eq!(back, v, "{v:#x}");
        }
    }
}
