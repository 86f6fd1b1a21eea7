//! Every exact u64 GEMM kernel (`privml::ring::gemm64`) equals the wrapping
//! u64 product bit for bit: random and extreme elements (all-ones, 2^63,
//! values near 2^64, negatives in two's complement, the limb decompositions'
//! worst cases), shapes that are multiples of nothing, and k long enough to
//! cross each kernel's exactness chunk (512 for the f64 limbs, 16,384 for
//! AMX) with every sum at its largest.

use privml::ring::gemm64::{Kernel, matmul_with};
use privml::ring::matmul;
use proptest::prelude::*;

/// The definition: Σ_p a[i][p]·b[p][j] with wrapping u64 arithmetic.
fn naive(a: &[u64], b: &[u64], m: usize, k: usize, n: usize) -> Vec<u64> {
    let mut c = vec![0u64; m * n];
    for i in 0..m {
        for p in 0..k {
            let av = a[i * k + p];
            for j in 0..n {
                c[i * n + j] = c[i * n + j].wrapping_add(av.wrapping_mul(b[p * n + j]));
            }
        }
    }
    c
}

/// The element whose balanced 22/22/20-bit limbs are all at their most
/// negative (−2^21, −2^21, −2^19): the f64 kernel's largest products.
fn limb_f64_extreme() -> u64 {
    let l0 = (-(1i64 << 21)) as u64;
    let l1 = (-(1i64 << 21)) as u64;
    let l2 = (-(1i64 << 19)) as u64;
    l0.wrapping_add(l1 << 22).wrapping_add(l2 << 44)
}

const EXTREMES: [u64; 8] = [
    0,
    1,
    u64::MAX,      // all ones, −1
    1 << 63,       // 2^63, the most negative
    (1 << 63) - 1, // the most positive
    u64::MAX - 1,  // −2, near 2^64
    u64::MAX - 12_345_678,
    0xFF00_FF00_FF00_FF00,
];

fn element() -> impl Strategy<Value = u64> {
    prop_oneof![
        3 => any::<u64>(),
        2 => proptest::sample::select(EXTREMES.to_vec()),
        1 => Just(limb_f64_extreme()),
        1 => (-1000i64..1000).prop_map(|v| v as u64),
    ]
}

fn check_all(a: &[u64], b: &[u64], m: usize, k: usize, n: usize) -> Result<(), TestCaseError> {
    let want = naive(a, b, m, k, n);
    prop_assert_eq!(
        &matmul(a, b, m, k, n),
        &want,
        "dispatched {}x{}x{}",
        m,
        k,
        n
    );
    for kernel in Kernel::ALL {
        if let Some(c) = matmul_with(kernel, a, b, m, k, n) {
            prop_assert_eq!(&c, &want, "{} {}x{}x{}", kernel.name(), m, k, n);
        } else {
            prop_assert!(
                !kernel.available(),
                "{} available but declined",
                kernel.name()
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// Random shapes, including 1, tile edges ±1 and long k, mixed elements.
    #[test]
    fn every_kernel_equals_the_wrapping_product(
        (m, k, n, a, b) in (1usize..40, 1usize..700, 1usize..40).prop_flat_map(|(m, k, n)| {
            (
                Just(m),
                Just(k),
                Just(n),
                proptest::collection::vec(element(), m * k),
                proptest::collection::vec(element(), k * n),
            )
        })
    ) {
        check_all(&a, &b, m, k, n)?;
    }
}

/// Every element extreme, k past the f64 kernel's 512-element chunk twice:
/// the limb sums reach their bound.
#[test]
fn extreme_elements_across_the_f64_chunk() {
    let (m, k, n) = (5, 1_100, 7);
    for v in EXTREMES.into_iter().chain([limb_f64_extreme()]) {
        let a = vec![v; m * k];
        let b = vec![v; k * n];
        check_all(&a, &b, m, k, n).unwrap();
    }
    // Signs mixed: extremes against their negations.
    let a: Vec<u64> = (0..m * k).map(|i| EXTREMES[i % 8]).collect();
    let b: Vec<u64> = (0..k * n)
        .map(|i| EXTREMES[(i * 3) % 8].wrapping_neg())
        .collect();
    check_all(&a, &b, m, k, n).unwrap();
}

/// All-ones (every byte 255) over k past AMX's 16,384-element chunk: its
/// exact accumulators for shifts 0..3 reach 4·16384·255², just under 2^32.
#[test]
fn all_ones_across_the_amx_chunk() {
    let (m, k, n) = (17, 16_384 + 77, 18);
    let a = vec![u64::MAX; m * k];
    let b = vec![u64::MAX; k * n];
    let mut want = vec![0u64; m * n];
    // Each entry is k·(−1)·(−1) = k.
    want.iter_mut().for_each(|w| *w = k as u64);
    assert_eq!(naive(&a, &b, m, k, n), want);
    check_all(&a, &b, m, k, n).unwrap();
    // Exactly one chunk, and one element past it.
    for k in [16_384, 16_385] {
        let a = vec![u64::MAX; 16 * k];
        let b = vec![0xFFFF_FFFF_FFFF_FF7Fu64; k * 16];
        check_all(&a, &b, 16, k, 16).unwrap();
    }
}

/// A product large enough for the dispatcher to pick AMX where it exists
/// (every dimension ≥ 32, ≥ 2^20 multiply-adds): `matmul`, the entry point
/// the protocol calls, stays exact on it.
#[test]
fn the_dispatched_kernel_is_exact_on_a_large_product() {
    use privml::ring::gemm64::preferred;
    let (m, k, n) = (48, 700, 40);
    let want = if Kernel::AmxInt8.available() {
        Kernel::AmxInt8
    } else {
        Kernel::Blocked
    };
    assert_eq!(preferred(m, k, n), want);
    assert_eq!(preferred(4, 3, 4), Kernel::Blocked);
    let a: Vec<u64> = (0..m * k)
        .map(|i| EXTREMES[i % 8].wrapping_add((i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)))
        .collect();
    let b: Vec<u64> = (0..k * n)
        .map(|i| EXTREMES[(i * 5) % 8] ^ (i as u64).rotate_left(17))
        .collect();
    check_all(&a, &b, m, k, n).unwrap();
}
