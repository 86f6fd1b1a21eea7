//! The wrapping u64 matrix product on Intel AMX tiles, exactly, by limbs.
//!
//! Why: a secure matrix product is six u64 GEMMs (two per party), and the
//! CPU's 64-bit vector multiply (`vpmullq`, three µops) runs at about a third
//! of the f64 FMA rate, so the u64 GEMM is the floor of every secure matmul.
//! AMX's `tdpbuud` multiplies 8-bit unsigned tiles into 32-bit accumulators
//! at 1,024 multiply-adds per cycle, which is enough headroom to pay for a
//! limb decomposition:
//!
//! * each u64 element is split into its 8 bytes, a = Σ_i a_i·2^(8i);
//! * a·b mod 2^64 = Σ_{i+j<8} a_i·b_j·2^(8(i+j)): the 36 byte pairs whose
//!   shift is below 64 (the other 28 vanish mod 2^64);
//! * the pairs with the same s = i + j share one i32 tile accumulator. For
//!   s ≤ 3 the accumulator must be exact: it holds at most 4·k products of
//!   at most 255², which is below 2^32 for k ≤ [`K_CHUNK`] (16,384;
//!   4·16384·65025 = 4.26e9 < 2^32 = 4.29e9), so longer products run in
//!   chunks of k. For s ≥ 4 only the accumulator mod 2^(64−8s) ⊂ mod 2^32
//!   matters, and the tile's wrapping i32 sum is exactly that;
//! * the eight accumulators are recombined as Σ_s (acc_s as u32) << 8s with
//!   wrapping u64 arithmetic.
//!
//! The tiles have fixed shapes: A tiles are 16 rows × 64 bytes of k, B tiles
//! are 16 rows of 4 k-values × 16 columns (the "VNNI" layout `tdpbuud`
//! reads), C tiles 16 × 16 i32. Operands are packed once per call into byte
//! planes of contiguous 1 KiB tiles, zero-padded to those multiples (zero
//! padding adds nothing to any sum).
//!
//! Register use per 16 × 16 block of C: `tmm0`–`tmm3` accumulate four shifts
//! at a time (a pass for s = 0..3, then one for s = 4..7), `tmm4` holds the A
//! plane being used and `tmm5`–`tmm7` cache B planes.
//!
//! # Safety argument
//!
//! This is one of the modules with `unsafe` (inline assembly: the AMX
//! intrinsics are not stable in Rust). [`available`] is true only when CPUID
//! reports AMX-TILE and AMX-INT8 with the palette this code configures, and
//! Linux granted the process the tile-data state (`arch_prctl
//! ARCH_REQ_XCOMP_PERM`), and the CPU has the AVX-512 VBMI byte permutation
//! the packing uses; every entry point checks it. Every tile load reads 1,024
//! contiguous bytes inside a buffer this module allocated with the padded
//! size (the bounds are asserted before each block, in release builds too),
//! and every tile store writes a 16 × 16 i32 array. Tile state is per thread
//! and each call configures it before use and releases it after.

#![allow(
    unsafe_code,
    reason = "AMX has no stable intrinsics: inline assembly, guarded by a run-time check of CPU and OS support and by asserted buffer bounds"
)]

use std::sync::OnceLock;

use rayon::prelude::*;

/// Rows of an A tile and of a C tile; rows of a B tile (4 k-values each).
const TR: usize = 16;
/// Bytes of k in one A tile (16 rows of B × 4).
const TK: usize = 64;
/// Columns of a C tile (16 i32 = 64 bytes per row).
const TN: usize = 16;
/// The longest k one pass of accumulators may cover exactly (see the module
/// docs); a multiple of [`TK`].
pub(crate) const K_CHUNK: usize = 16_384;
/// Rows of C per rayon task (four row blocks).
const ROWS_PER_TASK: usize = 64;
/// Column blocks of C visited together (see `rows_acc`): with k = 1,024 the
/// task's A panels and the group's B panels are 512 KiB each.
const COL_GROUP: usize = 4;

/// Whether this CPU and OS can run [`matmul_acc`] (AMX-TILE, AMX-INT8, the
/// tile-data permission, and AVX-512F/BW/VBMI for the packing); checked once
/// per process.
pub(crate) fn available() -> bool {
    static OK: OnceLock<bool> = OnceLock::new();
    *OK.get_or_init(detect)
}

fn detect() -> bool {
    use std::arch::x86_64::{__cpuid, __cpuid_count};
    // Leaves above the maximum are never read.
    let max_leaf = __cpuid(0).eax;
    if max_leaf < 0x1d {
        return false;
    }
    let l7 = __cpuid_count(7, 0);
    let (amx_tile, amx_int8) = ((l7.edx >> 24) & 1 == 1, (l7.edx >> 25) & 1 == 1);
    if !(amx_tile && amx_int8) {
        return false;
    }
    // Palette 1: 8 tiles of 16 rows × 64 bytes.
    let p0 = __cpuid_count(0x1d, 0);
    if p0.eax < 1 {
        return false;
    }
    let p1 = __cpuid_count(0x1d, 1);
    let total_bytes = p1.eax & 0xffff;
    let bytes_per_row = p1.ebx & 0xffff;
    let max_names = p1.ebx >> 16;
    let max_rows = p1.ecx & 0xffff;
    if total_bytes < 1024 || bytes_per_row < 64 || max_names < 8 || max_rows < 16 {
        return false;
    }
    // The packing's byte transposes.
    if !(std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512bw")
        && std::arch::is_x86_feature_detected!("avx512vbmi"))
    {
        return false;
    }
    request_tile_permission()
}

/// Asks Linux for the AMX tile-data state (`arch_prctl(ARCH_REQ_XCOMP_PERM,
/// XFEATURE_XTILEDATA)`); without it the first tile instruction faults.
/// Process-wide: every thread may then use the tiles.
fn request_tile_permission() -> bool {
    const SYS_ARCH_PRCTL: i64 = 158;
    const ARCH_REQ_XCOMP_PERM: i64 = 0x1023;
    const XFEATURE_XTILEDATA: i64 = 18;
    let ret: i64;
    // SAFETY: a plain system call with two integer arguments; it reads and
    // writes no user memory. The kernel clobbers rcx and r11.
    unsafe {
        std::arch::asm!(
            "syscall",
            inlateout("rax") SYS_ARCH_PRCTL => ret,
            in("rdi") ARCH_REQ_XCOMP_PERM,
            in("rsi") XFEATURE_XTILEDATA,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    ret == 0
}

/// The tile configuration (`ldtilecfg`'s 64-byte operand): palette 1, all
/// eight tiles 16 rows × 64 bytes.
#[repr(C, align(64))]
struct TileConfig([u8; 64]);

impl TileConfig {
    fn new() -> Self {
        let mut c = [0u8; 64];
        c[0] = 1; // palette 1
        for t in 0..8 {
            c[16 + 2 * t] = TK as u8; // bytes per row (u16, little-endian)
            c[48 + t] = TR as u8; // rows
        }
        TileConfig(c)
    }
}

/// Bytes in one tile (16 rows × 64 bytes).
const TILE: usize = TR * TK;

/// B's byte planes for one chunk of k, tile by tile: tile (plane j, column
/// block cb, k block kb) is 1,024 contiguous bytes at
/// `((j·ncb + cb)·nkb + kb)·1024`, in the VNNI layout (row r holds k-values
/// 4r..4r+4 of each of the 16 columns, byte `r·64 + c·4 + q`). Contiguous
/// tiles load with a 64-byte stride: a row stride of n·4 bytes would put a
/// tile's 16 rows in the same cache set whenever n is a multiple of 1,024.
struct PackedB {
    bytes: Vec<u8>,
    /// Bytes between the same tile of consecutive planes: ncb · nkb · 1024.
    plane: usize,
    /// Column blocks of 16.
    ncb: usize,
    /// k blocks of 64.
    nkb: usize,
}

/// Transposes an 8 × 8 byte matrix held as eight u64 (element e's byte j
/// at bits 8j of `x[e]`): afterwards `x[j]` holds byte j of every element,
/// element e at bits 8e. One AVX-512 VBMI byte permutation (every AMX CPU
/// has VBMI; [`available`] checks it).
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
fn transpose8(x: &mut [u64; 8]) {
    use std::arch::x86_64::{_mm512_loadu_si512, _mm512_permutexvar_epi8, _mm512_storeu_si512};
    /// Output byte 8j + e takes input byte 8e + j.
    const IDX: [u8; 64] = {
        let mut t = [0u8; 64];
        let mut o = 0;
        while o < 64 {
            t[o] = ((o % 8) * 8 + o / 8) as u8;
            o += 1;
        }
        t
    };
    // SAFETY: both pointers address 64 readable (and, for the store,
    // writable) bytes; the unaligned load and store need no alignment.
    unsafe {
        let v = _mm512_loadu_si512(x.as_ptr().cast());
        let idx = _mm512_loadu_si512(IDX.as_ptr().cast());
        _mm512_storeu_si512(x.as_mut_ptr().cast(), _mm512_permutexvar_epi8(idx, v));
    }
}

/// Writes the eight byte planes of `x` (see [`transpose8`]) as 8-byte runs
/// at `at` in each plane of `bytes`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
fn scatter8(bytes: &mut [u8], plane: usize, at: usize, mut x: [u64; 8]) {
    transpose8(&mut x);
    for (j, word) in x.into_iter().enumerate() {
        bytes[j * plane + at..j * plane + at + 8].copy_from_slice(&word.to_le_bytes());
    }
}

#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
fn pack_b(b: &[u64], n: usize, k0: usize, kw: usize) -> PackedB {
    let nkb = kw.div_ceil(TK);
    let ncb = n.div_ceil(TN);
    let plane = ncb * nkb * TILE;
    let mut bytes = vec![0u8; 8 * plane];
    // Groups of four rows of B (one VNNI row of a tile) and two columns:
    // eight elements whose byte j forms 8 contiguous bytes of plane j.
    let at = |kk: usize, col: usize| {
        let (kb, within) = (kk / TK, kk % TK);
        (col / TN * nkb + kb) * TILE + (within / 4) * TK + (col % TN) * 4
    };
    let elem = |kk: usize, col: usize| {
        if kk < kw && col < n {
            b[(k0 + kk) * n + col]
        } else {
            0
        }
    };
    for kq in (0..kw).step_by(4) {
        for col in (0..n).step_by(2) {
            let mut x = [0u64; 8];
            for (e, v) in x.iter_mut().enumerate() {
                *v = elem(kq + e % 4, col + e / 4);
            }
            scatter8(&mut bytes, plane, at(kq, col), x);
        }
    }
    PackedB {
        bytes,
        plane,
        ncb,
        nkb,
    }
}

/// A's byte planes for `rows` rows and one chunk of k, tile by tile: tile
/// (plane i, row block rb, k block kb) at `((i·nrb + rb)·nkb + kb)·1024`,
/// row r of the tile at byte `r·64`. Returns the bytes and the plane size.
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
fn pack_a(a: &[u64], k: usize, rows: usize, k0: usize, kw: usize, nkb: usize) -> (Vec<u8>, usize) {
    let nrb = rows.div_ceil(TR);
    let plane = nrb * nkb * TILE;
    let mut bytes = vec![0u8; 8 * plane];
    for row in 0..rows {
        let src = &a[row * k + k0..row * k + k0 + kw];
        let (rb, r) = (row / TR, row % TR);
        // Eight consecutive k-values of the row: byte j of each forms 8
        // contiguous bytes of plane j (64 is a multiple of 8, so a run never
        // crosses a tile).
        for p in (0..kw).step_by(8) {
            let mut x = [0u64; 8];
            for (e, v) in x.iter_mut().enumerate() {
                *v = src.get(p + e).copied().unwrap_or(0);
            }
            let at = (rb * nkb + p / TK) * TILE + r * TK + p % TK;
            scatter8(&mut bytes, plane, at, x);
        }
    }
    (bytes, plane)
}

/// One k block of one pass for one 16 × 16 block of C: every byte-pair
/// product A_i·B_j whose shift s = i + j falls in the pass (pass 0: s ≤ 3,
/// pass 1: 4 ≤ s ≤ 7) accumulated into `tmm(s − 4·pass)`. `ptrs[i]` is the
/// A tile of plane i, `ptrs[8 + j]` the B tile of plane j. A tiles go to
/// tmm4, B tiles to tmm5–tmm7, which cache them: the product order and the
/// cache's replacement (furthest next use) were generated offline to load
/// 8 + 16 tiles for the 10 + 26 products instead of two per product.
///
/// # Safety
///
/// Tiles must be configured ([`TileConfig`]) and every `ptrs[i]..+1024`
/// must lie inside a live allocation.
unsafe fn pass_block(pass: usize, ptrs: &[*const u8; 16]) {
    // SAFETY: the caller's contract; the assembly reads those tiles only
    // and writes no memory.
    unsafe {
        if pass == 0 {
            // pass 0: 10 products, 8 tile loads (order desc)
            std::arch::asm!(
                "mov {t}, [{p} + 0]",
                "tileloadd tmm4, [{t} + {s}*1]",
                "mov {t}, [{p} + 88]",
                "tileloadd tmm5, [{t} + {s}*1]",
                "tdpbuud tmm3, tmm4, tmm5",
                "mov {t}, [{p} + 80]",
                "tileloadd tmm6, [{t} + {s}*1]",
                "tdpbuud tmm2, tmm4, tmm6",
                "mov {t}, [{p} + 72]",
                "tileloadd tmm7, [{t} + {s}*1]",
                "tdpbuud tmm1, tmm4, tmm7",
                "mov {t}, [{p} + 64]",
                "tileloadd tmm5, [{t} + {s}*1]",
                "tdpbuud tmm0, tmm4, tmm5",
                "mov {t}, [{p} + 8]",
                "tileloadd tmm4, [{t} + {s}*1]",
                "tdpbuud tmm3, tmm4, tmm6",
                "tdpbuud tmm2, tmm4, tmm7",
                "tdpbuud tmm1, tmm4, tmm5",
                "mov {t}, [{p} + 16]",
                "tileloadd tmm4, [{t} + {s}*1]",
                "tdpbuud tmm3, tmm4, tmm7",
                "tdpbuud tmm2, tmm4, tmm5",
                "mov {t}, [{p} + 24]",
                "tileloadd tmm4, [{t} + {s}*1]",
                "tdpbuud tmm3, tmm4, tmm5",
                p = in(reg) ptrs.as_ptr(), s = in(reg) TK, t = out(reg) _,
                options(nostack, readonly, preserves_flags),
            )
        } else {
            // pass 1: 26 products, 16 tile loads (order desc)
            std::arch::asm!(
                "mov {t}, [{p} + 0]",
                "tileloadd tmm4, [{t} + {s}*1]",
                "mov {t}, [{p} + 120]",
                "tileloadd tmm5, [{t} + {s}*1]",
                "tdpbuud tmm3, tmm4, tmm5",
                "mov {t}, [{p} + 112]",
                "tileloadd tmm6, [{t} + {s}*1]",
                "tdpbuud tmm2, tmm4, tmm6",
                "mov {t}, [{p} + 104]",
                "tileloadd tmm7, [{t} + {s}*1]",
                "tdpbuud tmm1, tmm4, tmm7",
                "mov {t}, [{p} + 96]",
                "tileloadd tmm5, [{t} + {s}*1]",
                "tdpbuud tmm0, tmm4, tmm5",
                "mov {t}, [{p} + 8]",
                "tileloadd tmm4, [{t} + {s}*1]",
                "tdpbuud tmm3, tmm4, tmm6",
                "tdpbuud tmm2, tmm4, tmm7",
                "tdpbuud tmm1, tmm4, tmm5",
                "mov {t}, [{p} + 88]",
                "tileloadd tmm6, [{t} + {s}*1]",
                "tdpbuud tmm0, tmm4, tmm6",
                "mov {t}, [{p} + 16]",
                "tileloadd tmm4, [{t} + {s}*1]",
                "tdpbuud tmm3, tmm4, tmm7",
                "tdpbuud tmm2, tmm4, tmm5",
                "tdpbuud tmm1, tmm4, tmm6",
                "mov {t}, [{p} + 80]",
                "tileloadd tmm7, [{t} + {s}*1]",
                "tdpbuud tmm0, tmm4, tmm7",
                "mov {t}, [{p} + 24]",
                "tileloadd tmm4, [{t} + {s}*1]",
                "tdpbuud tmm3, tmm4, tmm5",
                "tdpbuud tmm2, tmm4, tmm6",
                "tdpbuud tmm1, tmm4, tmm7",
                "mov {t}, [{p} + 72]",
                "tileloadd tmm5, [{t} + {s}*1]",
                "tdpbuud tmm0, tmm4, tmm5",
                "mov {t}, [{p} + 32]",
                "tileloadd tmm4, [{t} + {s}*1]",
                "tdpbuud tmm3, tmm4, tmm6",
                "tdpbuud tmm2, tmm4, tmm7",
                "tdpbuud tmm1, tmm4, tmm5",
                "mov {t}, [{p} + 64]",
                "tileloadd tmm6, [{t} + {s}*1]",
                "tdpbuud tmm0, tmm4, tmm6",
                "mov {t}, [{p} + 40]",
                "tileloadd tmm4, [{t} + {s}*1]",
                "tdpbuud tmm3, tmm4, tmm7",
                "tdpbuud tmm2, tmm4, tmm5",
                "tdpbuud tmm1, tmm4, tmm6",
                "mov {t}, [{p} + 48]",
                "tileloadd tmm4, [{t} + {s}*1]",
                "tdpbuud tmm3, tmm4, tmm5",
                "tdpbuud tmm2, tmm4, tmm6",
                "mov {t}, [{p} + 56]",
                "tileloadd tmm4, [{t} + {s}*1]",
                "tdpbuud tmm3, tmm4, tmm6",
                p = in(reg) ptrs.as_ptr(), s = in(reg) TK, t = out(reg) _,
                options(nostack, readonly, preserves_flags),
            )
        }
    }
}

/// `c += a · b` over `rows` rows of A and C, with B packed for k-chunk
/// `k0..k0+kw`. Runs on the calling thread.
#[allow(
    clippy::too_many_arguments,
    reason = "the shape, the chunk and three buffers; a private helper"
)]
fn rows_acc(
    a: &[u64],
    pb: &PackedB,
    c: &mut [u64],
    rows: usize,
    k: usize,
    n: usize,
    k0: usize,
    kw: usize,
) {
    // SAFETY: the caller checked `available()`, which includes AVX-512F,
    // BW and VBMI, the features `pack_a` is compiled with.
    let (pa, aplane) = unsafe { pack_a(a, k, rows, k0, kw, pb.nkb) };
    let nkb = pb.nkb;
    let cfg = TileConfig::new();
    let mut acc = [[0i32; TR * TN]; 8];
    // SAFETY: `available()` was checked by the caller (`matmul_acc`); the
    // configuration is a valid palette-1 operand of 64 bytes.
    unsafe {
        std::arch::asm!("ldtilecfg [{0}]", in(reg) cfg.0.as_ptr(), options(nostack, readonly, preserves_flags))
    };
    // Column blocks in groups whose B panels stay in L2 while every row
    // block of this task (whose A panels stay there too) passes over them.
    for cg in (0..pb.ncb).step_by(COL_GROUP) {
        for rb in 0..rows.div_ceil(TR) {
            for cb in cg..(cg + COL_GROUP).min(pb.ncb) {
                for pass in 0..2 {
                    // SAFETY: tiles are configured; zeroing touches no memory.
                    unsafe {
                        std::arch::asm!(
                            "tilezero tmm0",
                            "tilezero tmm1",
                            "tilezero tmm2",
                            "tilezero tmm3",
                            options(nostack, nomem, preserves_flags)
                        )
                    };
                    for kb in 0..nkb {
                        let a_at = (rb * nkb + kb) * TILE;
                        let b_at = (cb * nkb + kb) * TILE;
                        let mut ptrs = [std::ptr::null::<u8>(); 16];
                        for plane in 0..8 {
                            let (ao, bo) = (plane * aplane + a_at, plane * pb.plane + b_at);
                            // Every tile read lies inside its buffer.
                            assert!(ao + TILE <= pa.len(), "A tile inside its planes");
                            assert!(bo + TILE <= pb.bytes.len(), "B tile inside its planes");
                            ptrs[plane] = pa[ao..].as_ptr();
                            ptrs[8 + plane] = pb.bytes[bo..].as_ptr();
                        }
                        // SAFETY: tiles are configured, and the asserts above put
                        // all 1,024 bytes of every tile read inside `pa` and
                        // `pb.bytes`.
                        unsafe { pass_block(pass, &ptrs) };
                    }
                    let dst = &mut acc[4 * pass..4 * pass + 4];
                    // SAFETY: each destination is a 16 × 16 i32 array (1,024
                    // bytes, rows 64 bytes apart), which is what a store writes.
                    unsafe {
                        std::arch::asm!(
                            "tilestored [{d0} + {s}*1], tmm0",
                            "tilestored [{d1} + {s}*1], tmm1",
                            "tilestored [{d2} + {s}*1], tmm2",
                            "tilestored [{d3} + {s}*1], tmm3",
                            d0 = in(reg) dst[0].as_mut_ptr(), d1 = in(reg) dst[1].as_mut_ptr(),
                            d2 = in(reg) dst[2].as_mut_ptr(), d3 = in(reg) dst[3].as_mut_ptr(),
                            s = in(reg) TN * 4,
                            options(nostack, preserves_flags),
                        )
                    };
                }
                let (r0, c0) = (rb * TR, cb * TN);
                for r in 0..TR.min(rows - r0) {
                    let crow = &mut c[(r0 + r) * n..(r0 + r + 1) * n];
                    for col in 0..TN.min(n - c0) {
                        let mut v = 0u64;
                        for (s, accs) in acc.iter().enumerate() {
                            v = v.wrapping_add(u64::from(accs[r * TN + col] as u32) << (8 * s));
                        }
                        crow[c0 + col] = crow[c0 + col].wrapping_add(v);
                    }
                }
            }
        }
    }
    // SAFETY: releases this thread's tile state; no operands.
    unsafe { std::arch::asm!("tilerelease", options(nostack, nomem, preserves_flags)) };
}

/// `c += a · b` (row-major, m × k by k × n, wrapping), on AMX tiles, or
/// `false` without touching `c` when [`available`] is false.
pub(crate) fn matmul_acc(
    a: &[u64],
    b: &[u64],
    c: &mut [u64],
    m: usize,
    k: usize,
    n: usize,
) -> bool {
    if !available() {
        return false;
    }
    assert_eq!(a.len(), m * k, "amx::matmul_acc: a is not m x k");
    assert_eq!(b.len(), k * n, "amx::matmul_acc: b is not k x n");
    assert_eq!(c.len(), m * n, "amx::matmul_acc: c is not m x n");
    if m == 0 || n == 0 || k == 0 {
        return true;
    }
    for k0 in (0..k).step_by(K_CHUNK) {
        let kw = K_CHUNK.min(k - k0);
        // SAFETY: `available()` (checked above) includes AVX-512F, BW and
        // VBMI, the features `pack_b` is compiled with.
        let pb = unsafe { pack_b(b, n, k0, kw) };
        c.par_chunks_mut(ROWS_PER_TASK * n)
            .zip(a.par_chunks(ROWS_PER_TASK * k))
            .for_each(|(cblk, ablk)| {
                let rows = cblk.len() / n;
                rows_acc(ablk, &pb, cblk, rows, k, n, k0, kw);
            });
    }
    true
}
