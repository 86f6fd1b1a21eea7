//! Fast wrapping kernels over ring elements.
//!
//! `ndarray`'s `.dot()` on integer arrays is a naive triple loop and panics on
//! overflow in debug builds; ring arithmetic must wrap. This module holds the
//! one hot kernel the protocol needs, a wrapping matrix product, written as a
//! cache-blocked i-k-j loop whose innermost loop the compiler vectorises. On
//! x86-64 the same code is compiled a second and third time with AVX2 and
//! AVX-512 enabled and the best copy is picked at run time; the portable copy
//! is always available and is what the tests cross-check against. Row blocks
//! run on rayon's pool when the product is large enough to pay for it.
//!
//! This is the only module with `unsafe`: calling a `#[target_feature]`
//! function is unsafe, and each call is guarded by a run-time check of every
//! feature the called copy is compiled with. The module is private to the
//! crate; [`matmul`] and [`matmul_acc`] are re-exported from
//! [`ring`](crate::ring) as safe functions.

use rayon::prelude::*;

use super::{RingElement, gemm64};

/// Columns of B (and C) per tile: 2 KiB of u64, one AVX-512 loop of 32 iterations.
const NB: usize = 256;
/// Rows of B per tile: a 128 x 256 tile of u64 is 256 KiB, an L2's worth.
const KB: usize = 128;
/// Below this many multiply-adds, stay on the calling thread.
const PAR_THRESHOLD: usize = 1 << 18;

/// Rows and columns of C kept in registers by the micro-kernel.
const MR: usize = 4;
const NR: usize = 16;

/// `c += a · b` for row-major `a` (m x k), `b` (k x n), `c` (m x n), wrapping.
///
/// Cache-blocked (NB columns x KB rows of B per tile) with an MR x NR
/// register-blocked micro-kernel: for each k, one row of NR elements of B is
/// loaded and multiplied by MR broadcast elements of A into accumulators that
/// stay in registers, so the loop is bound by the multiplier, not by loads
/// and stores of C. Edges fall back to a simple row loop.
#[inline(always)]
fn matmul_acc_body<T: RingElement>(a: &[T], b: &[T], c: &mut [T], m: usize, k: usize, n: usize) {
    for jb in (0..n).step_by(NB) {
        let jw = NB.min(n - jb);
        for pb in (0..k).step_by(KB) {
            let pw = KB.min(k - pb);
            let mut i = 0;
            while i + MR <= m {
                let mut j = 0;
                while j + NR <= jw {
                    let mut acc = [[T::zero(); NR]; MR];
                    for p in pb..pb + pw {
                        let row = p * n + jb + j;
                        let brow: &[T; NR] = b[row..row + NR].try_into().expect("NR elements");
                        for (r, accr) in acc.iter_mut().enumerate() {
                            let av = a[(i + r) * k + p];
                            for (x, &bv) in accr.iter_mut().zip(brow) {
                                *x = x.wrapping_add(&av.wrapping_mul(&bv));
                            }
                        }
                    }
                    for (r, accr) in acc.iter().enumerate() {
                        let dst = (i + r) * n + jb + j;
                        for (cv, x) in c[dst..dst + NR].iter_mut().zip(accr) {
                            *cv = cv.wrapping_add(x);
                        }
                    }
                    j += NR;
                }
                if j < jw {
                    for r in 0..MR {
                        row_tail(a, b, c, (i + r, k, n), (pb, pw), (jb + j, jw - j));
                    }
                }
                i += MR;
            }
            while i < m {
                row_tail(a, b, c, (i, k, n), (pb, pw), (jb, jw));
                i += 1;
            }
        }
    }
}

/// One row of C, columns `j0..j0+jw`, over k in `pb..pb+pw`: the simple loop.
#[inline(always)]
fn row_tail<T: RingElement>(
    a: &[T],
    b: &[T],
    c: &mut [T],
    (i, k, n): (usize, usize, usize),
    (pb, pw): (usize, usize),
    (j0, jw): (usize, usize),
) {
    let crow = &mut c[i * n + j0..i * n + j0 + jw];
    for p in pb..pb + pw {
        let av = a[i * k + p];
        let brow = &b[p * n + j0..p * n + j0 + jw];
        for (cv, &bv) in crow.iter_mut().zip(brow) {
            *cv = cv.wrapping_add(&av.wrapping_mul(&bv));
        }
    }
}

/// The portable kernel (no target features), for cross-checking the
/// dispatched copies.
#[cfg(test)]
fn matmul_acc_portable<T: RingElement>(
    a: &[T],
    b: &[T],
    c: &mut [T],
    m: usize,
    k: usize,
    n: usize,
) {
    matmul_acc_body(a, b, c, m, k, n)
}

/// The AVX2 and AVX-512 copies of the kernel and the run-time choice
/// between them. Each copy's `#[target_feature]` list names every feature it
/// is compiled with, including those the compiler would imply (AVX-512F
/// implies AVX2, FMA and F16C; AVX2, FMA and F16C imply AVX, which implies
/// SSE4.2, SSE4.1, SSSE3 and SSE3; SSE and SSE2 are part of x86-64 itself),
/// and the check before each call tests exactly that list.
#[cfg(target_arch = "x86_64")]
#[allow(
    unsafe_code,
    reason = "calling a #[target_feature] function is unsafe; each call is guarded by a run-time check of every feature it is compiled with"
)]
mod x86 {
    use std::arch::is_x86_feature_detected as has;

    use super::*;

    #[target_feature(enable = "avx2,avx,sse4.2,sse4.1,ssse3,sse3")]
    fn matmul_acc_avx2<T: RingElement>(
        a: &[T],
        b: &[T],
        c: &mut [T],
        m: usize,
        k: usize,
        n: usize,
    ) {
        matmul_acc_body(a, b, c, m, k, n)
    }

    /// Whether the CPU has every feature of [`matmul_acc_avx2`]'s list.
    fn has_avx2_features() -> bool {
        has!("avx2")
            && has!("avx")
            && has!("sse4.2")
            && has!("sse4.1")
            && has!("ssse3")
            && has!("sse3")
    }

    #[target_feature(
        enable = "avx512f,avx512dq,avx512vl,avx2,fma,f16c,avx,sse4.2,sse4.1,ssse3,sse3"
    )]
    fn matmul_acc_avx512<T: RingElement>(
        a: &[T],
        b: &[T],
        c: &mut [T],
        m: usize,
        k: usize,
        n: usize,
    ) {
        matmul_acc_body(a, b, c, m, k, n)
    }

    /// Whether the CPU has every feature of [`matmul_acc_avx512`]'s list.
    fn has_avx512_features() -> bool {
        has!("avx512f")
            && has!("avx512dq")
            && has!("avx512vl")
            && has!("fma")
            && has!("f16c")
            && has_avx2_features()
    }

    /// The copies of the kernel, fastest first.
    #[derive(Clone, Copy)]
    enum Variant {
        Avx512,
        Avx2,
        Portable,
    }

    /// The copy to run, chosen once per process (the feature checks cost
    /// about 7 ns; a product can be a handful of multiply-adds).
    fn best_variant() -> Variant {
        static CHOICE: std::sync::OnceLock<Variant> = std::sync::OnceLock::new();
        *CHOICE.get_or_init(|| {
            if has_avx512_features() {
                Variant::Avx512
            } else if has_avx2_features() {
                Variant::Avx2
            } else {
                Variant::Portable
            }
        })
    }

    pub(super) fn dispatch<T: RingElement>(
        a: &[T],
        b: &[T],
        c: &mut [T],
        m: usize,
        k: usize,
        n: usize,
    ) {
        match best_variant() {
            // SAFETY: `matmul_acc_avx512` is compiled with AVX-512F,
            // AVX-512DQ, AVX-512VL, AVX2, FMA, F16C, AVX, SSE4.2, SSE4.1,
            // SSSE3 and SSE3, and `best_variant` is `Avx512` only after
            // `has_avx512_features` found that this CPU supports every one
            // of them. That is the only requirement of the call: the function
            // itself is safe code.
            Variant::Avx512 => unsafe { matmul_acc_avx512(a, b, c, m, k, n) },
            // SAFETY: `matmul_acc_avx2` is compiled with AVX2, AVX, SSE4.2,
            // SSE4.1, SSSE3 and SSE3, and `best_variant` is `Avx2` only after
            // `has_avx2_features` found that this CPU supports every one of
            // them. That is the only requirement of the call: the function
            // itself is safe code.
            Variant::Avx2 => unsafe { matmul_acc_avx2(a, b, c, m, k, n) },
            Variant::Portable => matmul_acc_body(a, b, c, m, k, n),
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use crate::ring::prg::{AesPrg, Seed};

        /// Every copy this CPU can run agrees with the portable one (the
        /// dispatcher only ever runs the best, so the AVX2 copy is otherwise
        /// untested on AVX-512 machines).
        #[test]
        fn every_supported_copy_matches_the_portable_one() {
            let (m, k, n) = (9, 140, 37);
            let mut g = AesPrg::new(&Seed::from_u64(5));
            let a: Vec<u64> = g.vec(m * k);
            let b: Vec<u64> = g.vec(k * n);
            let mut want = vec![0u64; m * n];
            matmul_acc_body(&a, &b, &mut want, m, k, n);
            if has_avx2_features() {
                let mut c = vec![0u64; m * n];
                // SAFETY: `has_avx2_features` found every feature
                // `matmul_acc_avx2` is compiled with (AVX2, AVX, SSE4.2,
                // SSE4.1, SSSE3, SSE3).
                unsafe { matmul_acc_avx2(&a, &b, &mut c, m, k, n) };
                assert_eq!(c, want, "AVX2 copy");
            }
            if has_avx512_features() {
                let mut c = vec![0u64; m * n];
                // SAFETY: `has_avx512_features` found every feature
                // `matmul_acc_avx512` is compiled with (AVX-512F, AVX-512DQ,
                // AVX-512VL, AVX2, FMA, F16C, AVX, SSE4.2, SSE4.1, SSSE3, SSE3).
                unsafe { matmul_acc_avx512(&a, &b, &mut c, m, k, n) };
                assert_eq!(c, want, "AVX-512 copy");
            }
        }
    }
}

fn matmul_acc_serial<T: RingElement>(a: &[T], b: &[T], c: &mut [T], m: usize, k: usize, n: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        x86::dispatch(a, b, c, m, k, n)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        matmul_acc_body(a, b, c, m, k, n)
    }
}

/// `c += a · b` over the ring, for row-major slices: `a` is m x k, `b` is
/// k x n, `c` is m x n.
///
/// # Panics
///
/// If a slice length does not match its dimensions (a caller bug, not user
/// input: the domains check shapes and return errors before calling this).
///
/// # Examples
///
/// ```
/// use privml::ring::matmul_acc;
/// let a = [1u64, 2, 3, 4]; // 2 x 2
/// let b = [5u64, 6, 7, 8];
/// let mut c = [0u64; 4];
/// matmul_acc(&a, &b, &mut c, 2, 2, 2);
/// assert_eq!(c, [19, 22, 43, 50]);
/// ```
pub fn matmul_acc<T: RingElement>(a: &[T], b: &[T], c: &mut [T], m: usize, k: usize, n: usize) {
    assert_eq!(a.len(), m * k, "matmul_acc: a is not m x k");
    assert_eq!(b.len(), k * n, "matmul_acc: b is not k x n");
    assert_eq!(c.len(), m * n, "matmul_acc: c is not m x n");
    if m == 0 || n == 0 || k == 0 {
        return;
    }
    // Z_2^64 (u64 is the only 64-bit ring element): the fastest exact
    // kernel this machine has for the shape (see `gemm64`).
    if T::BITS == 64 {
        let kernel = gemm64::preferred(m, k, n);
        if kernel != gemm64::Kernel::Blocked
            && let (Ok(a64), Ok(b64), Ok(c64)) = (
                bytemuck::try_cast_slice::<T, u64>(a),
                bytemuck::try_cast_slice::<T, u64>(b),
                bytemuck::try_cast_slice_mut::<T, u64>(c),
            )
            && gemm64::matmul_acc_with(kernel, a64, b64, c64, m, k, n)
        {
            return;
        }
    }
    blocked_matmul_acc(a, b, c, m, k, n);
}

/// [`matmul_acc`] on the register-blocked kernel whatever the shape.
pub(crate) fn blocked_matmul_acc<T: RingElement>(
    a: &[T],
    b: &[T],
    c: &mut [T],
    m: usize,
    k: usize,
    n: usize,
) {
    if m == 0 || n == 0 || k == 0 {
        return;
    }
    let work = m * n * k;
    if work < PAR_THRESHOLD || m < 2 {
        matmul_acc_serial(a, b, c, m, k, n);
        return;
    }
    // Split rows of C (and A) into blocks, a few per rayon thread.
    let threads = rayon::current_num_threads().max(1);
    let rows_per = m.div_ceil(threads * 4).max(1);
    c.par_chunks_mut(rows_per * n)
        .zip(a.par_chunks(rows_per * k))
        .for_each(|(cblk, ablk)| {
            let rows = cblk.len() / n;
            matmul_acc_serial(ablk, b, cblk, rows, k, n);
        });
}

/// `a · b` as a new vector (see [`matmul_acc`]).
pub fn matmul<T: RingElement>(a: &[T], b: &[T], m: usize, k: usize, n: usize) -> Vec<T> {
    let mut c = vec![T::zero(); m * n];
    matmul_acc(a, b, &mut c, m, k, n);
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ring::prg::{AesPrg, Seed};

    fn naive<T: RingElement>(a: &[T], b: &[T], m: usize, k: usize, n: usize) -> Vec<T> {
        let mut c = vec![T::zero(); m * n];
        for i in 0..m {
            for j in 0..n {
                let mut s = T::zero();
                for p in 0..k {
                    s = s.wrapping_add(&a[i * k + p].wrapping_mul(&b[p * n + j]));
                }
                c[i * n + j] = s;
            }
        }
        c
    }

    fn check<T: RingElement>(m: usize, k: usize, n: usize) {
        let mut g = AesPrg::new(&Seed::from_u64((m * 31 + k * 7 + n) as u64));
        let a: Vec<T> = g.vec(m * k);
        let b: Vec<T> = g.vec(k * n);
        let want = naive(&a, &b, m, k, n);
        assert_eq!(matmul(&a, &b, m, k, n), want, "dispatched {m}x{k}x{n}");
        let mut c = vec![T::zero(); m * n];
        matmul_acc_portable(&a, &b, &mut c, m, k, n);
        assert_eq!(c, want, "portable {m}x{k}x{n}");
    }

    #[test]
    fn matches_naive_on_odd_and_tiled_shapes() {
        for &(m, k, n) in &[
            (1, 1, 1),
            (3, 5, 7),
            (4, 3, 1),
            (17, 130, 259),
            (70, 300, 70),
            (2, 1, 300),
        ] {
            check::<u64>(m, k, n);
            check::<u128>(m, k, n);
        }
    }

    #[test]
    fn accumulates_into_existing_output() {
        let a = [1u64, 1];
        let b = [2u64, 3];
        let mut c = [10u64];
        matmul_acc(&a, &b, &mut c, 1, 2, 1);
        assert_eq!(c, [15]);
        let mut w = [u64::MAX];
        matmul_acc(&[1u64], &[1u64], &mut w, 1, 1, 1);
        assert_eq!(w, [0]); // wraps, never panics
    }
}
