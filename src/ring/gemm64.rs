//! The wrapping u64 matrix product: three exact kernels and the choice
//! between them.
//!
//! Every secure matrix product over Z_2^64 is six u64 GEMMs (two per
//! party), so this kernel is the floor of `Shared`, `Fixed` and `Additive`
//! matmuls. Three kernels compute the same wrapping product bit for bit:
//!
//! | [`Kernel`] | how | where it runs |
//! |---|---|---|
//! | [`Kernel::Blocked`] | register-blocked i-k-j loop on 64-bit vector multiplies (AVX-512 / AVX2 / portable) | everywhere |
//! | [`Kernel::LimbF64`] | 22-bit signed limbs, six f64 GEMMs (ndarray's `matrixmultiply`), recombined | everywhere |
//! | [`Kernel::AmxInt8`] | 8-bit limbs, 36 byte-pair products on AMX `tdpbuud` tiles, recombined | x86-64 Linux with AMX-INT8 |
//!
//! [`matmul_acc`](super::matmul_acc) calls [`preferred`] for each product:
//! AMX where the CPU has it and the product is large enough to fill tiles,
//! the blocked kernel otherwise. The limb-onto-f64 kernel is never chosen:
//! measured on the development machine it loses to the blocked kernel at
//! every size (BENCHMARKS.md, `cargo bench --bench gemm`).
//!
//! # Examples
//!
//! ```
//! use privml::ring::gemm64::{Kernel, matmul_with};
//! let a = [1u64, 2, 3, u64::MAX]; // 2 x 2; u64::MAX is -1
//! let b = [5u64, 6, 7, 8];
//! let want = matmul_with(Kernel::Blocked, &a, &b, 2, 2, 2).unwrap();
//! assert_eq!(want, [19, 22, 8, 10]);
//! assert_eq!(matmul_with(Kernel::LimbF64, &a, &b, 2, 2, 2).unwrap(), want);
//! if let Some(c) = matmul_with(Kernel::AmxInt8, &a, &b, 2, 2, 2) {
//!     assert_eq!(c, want);
//! }
//! ```

use super::{amx, kernels, limb_f64};

/// An exact wrapping u64 GEMM kernel (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    /// The register-blocked 64-bit integer loop.
    Blocked,
    /// Signed 22-bit limbs on f64 GEMMs.
    LimbF64,
    /// Byte limbs on Intel AMX-INT8 tiles.
    AmxInt8,
}

impl Kernel {
    /// Every kernel, for benches and tests.
    pub const ALL: [Kernel; 3] = [Kernel::Blocked, Kernel::LimbF64, Kernel::AmxInt8];

    /// Whether this CPU and OS can run the kernel.
    pub fn available(self) -> bool {
        match self {
            Kernel::Blocked | Kernel::LimbF64 => true,
            Kernel::AmxInt8 => amx::available(),
        }
    }

    /// A short name for reports.
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Blocked => "u64-blocked",
            Kernel::LimbF64 => "limb-f64",
            Kernel::AmxInt8 => "amx-int8",
        }
    }
}

/// The kernel [`matmul_acc`](super::matmul_acc) runs for an m × k by k × n
/// product on this machine.
///
/// AMX pads every operand to 16-row, 64-byte tiles and packs both into byte
/// planes, a cost linear in the operands that only a large enough product
/// repays: measured on one thread under load on the development machine,
/// AMX is 0.85× the blocked kernel at 64³, 1.3× at 100³, 1.7× at
/// 128 × 784 × 128 and about 3× at 1024³, and loses on shapes with a
/// dimension of 10 or less (padding). On two threads it was ahead from 64³
/// (BENCHMARKS.md); the threshold follows the single-thread figures, since
/// the three in-process parties share the cores.
pub fn preferred(m: usize, k: usize, n: usize) -> Kernel {
    let work = m.saturating_mul(k).saturating_mul(n);
    if m.min(k).min(n) >= AMX_MIN_DIM && work >= AMX_MIN_WORK && amx::available() {
        Kernel::AmxInt8
    } else {
        Kernel::Blocked
    }
}

/// Below this many rows, columns or k, AMX's tiles are mostly padding.
const AMX_MIN_DIM: usize = 32;
/// Below this many multiply-adds, packing dominates.
const AMX_MIN_WORK: usize = 1 << 20;

/// `c += a · b` with the given kernel (row-major, m × k by k × n, wrapping);
/// `false`, with `c` untouched, if the kernel is not [available](Kernel::available).
///
/// # Panics
///
/// If a slice length does not match its dimensions (a caller bug).
pub fn matmul_acc_with(
    kernel: Kernel,
    a: &[u64],
    b: &[u64],
    c: &mut [u64],
    m: usize,
    k: usize,
    n: usize,
) -> bool {
    match kernel {
        Kernel::Blocked => {
            kernels::blocked_matmul_acc(a, b, c, m, k, n);
            true
        }
        Kernel::LimbF64 => {
            limb_f64::matmul_acc(a, b, c, m, k, n);
            true
        }
        Kernel::AmxInt8 => amx::matmul_acc(a, b, c, m, k, n),
    }
}

/// `a · b` with the given kernel, or `None` if it is not available here.
///
/// # Panics
///
/// If a slice length does not match its dimensions (a caller bug).
pub fn matmul_with(
    kernel: Kernel,
    a: &[u64],
    b: &[u64],
    m: usize,
    k: usize,
    n: usize,
) -> Option<Vec<u64>> {
    let mut c = vec![0u64; m * n];
    matmul_acc_with(kernel, a, b, &mut c, m, k, n).then_some(c)
}
