//! The exact u64 GEMM kernels (`privml::ring::gemm64`) per size, next to
//! ndarray's f64 GEMM on the same shape: which kernel wins where decides
//! `gemm64::preferred`. Square sizes 64–1024 and the products of one
//! Network A step at batch 128 (forward 128×784·784×128, the weight
//! gradient 784×128·128×128, the last layer 128×128·128×10).
//!
//! `cargo bench --bench gemm`; BENCHMARKS.md records the results.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use privml::ring::gemm64::{Kernel, matmul_with};

fn gemm(c: &mut Criterion) {
    let shapes: &[(usize, usize, usize)] = &[
        (64, 64, 64),
        (128, 128, 128),
        (256, 256, 256),
        (512, 512, 512),
        (1024, 1024, 1024),
        (128, 784, 128),
        (784, 128, 128),
        (128, 128, 10),
    ];
    let mut g = c.benchmark_group("gemm");
    g.sample_size(10);
    for &(m, k, n) in shapes {
        let label = format!("{m}x{k}x{n}");
        let a: Vec<u64> = (0..(m * k) as u64)
            .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
            .collect();
        let b: Vec<u64> = (0..(k * n) as u64)
            .map(|i| i.wrapping_mul(0xD1B5_4A32_D192_ED03))
            .collect();
        let af = ndarray::Array2::from_shape_fn((m, k), |(i, j)| ((i * 31 + j) % 17) as f64 - 8.0);
        let bf = ndarray::Array2::from_shape_fn((k, n), |(i, j)| ((i * 7 + j) % 13) as f64 - 6.0);
        g.bench_function(BenchmarkId::new("f64_ndarray", &label), |bch| {
            bch.iter(|| std::hint::black_box(&af).dot(&bf))
        });
        for kernel in Kernel::ALL {
            if !kernel.available() {
                continue;
            }
            g.bench_function(BenchmarkId::new(kernel.name(), &label), |bch| {
                bch.iter(|| matmul_with(kernel, std::hint::black_box(&a), &b, m, k, n))
            });
        }
    }
    g.finish();
}

criterion_group!(benches, gemm);
criterion_main!(benches);
