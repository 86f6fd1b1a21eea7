//! Criterion benches of the protocol workloads (see `privml::workloads`):
//! each secure workload next to its plaintext f64 twin in the same process.
//! `privml bench` prints the same workloads as a table with ratios, rounds
//! and bytes per party; BENCHMARKS.md records the results.

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};

// The same allocator as the `privml` binary (see src/bin/privml/main.rs).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use privml::runner::DomainKind;
use privml::workloads::{self, W1Mul, W2Matmul, W3Sigmoid, W4Tutorial, Workload};

fn secure_and_plain<W: Workload>(
    c: &mut Criterion,
    group: &str,
    w: &W,
    domains: &[(&str, DomainKind)],
) {
    let mut g = c.benchmark_group(group);
    g.sample_size(10);
    if let Some(mut f) = w.plaintext() {
        g.bench_function("plaintext_f64", |b| b.iter(&mut f));
    }
    for (name, kind) in domains {
        g.bench_function(*name, |b| {
            b.iter_custom(|iters| {
                let m = workloads::measure(w, *kind, iters as usize, 0).expect("workload runs");
                m.runs.iter().sum::<Duration>()
            })
        });
    }
    g.finish();
}

fn protocol(c: &mut Criterion) {
    let shared = [("shared_z2_64", DomainKind::Shared64)];
    secure_and_plain(c, "w1_mul_1e6", &W1Mul::new(1_000_000), &shared);
    secure_and_plain(c, "w2_matmul_256", &W2Matmul::new(256), &shared);
    secure_and_plain(c, "w2_matmul_1024", &W2Matmul::new(1024), &shared);
    secure_and_plain(
        c,
        "w3_sigmoid_poly9_1e6",
        &W3Sigmoid::new(1_000_000),
        &shared,
    );
    let all = [
        ("plain", DomainKind::Plain),
        ("fixed_z2_64", DomainKind::Fixed64),
        ("shared_z2_64", DomainKind::Shared64),
    ];
    secure_and_plain(
        c,
        "w4_tutorial_1000_iterations",
        &W4Tutorial { iterations: 1000 },
        &all,
    );
}

/// The GEMM kernels alone at 1024: the wrapping u64 kernel the protocol
/// runs (six times for one W2 product: two per party) next to ndarray's f64
/// GEMM, both on rayon's pool. BENCHMARKS.md explains W2 with these.
fn gemm_kernels(c: &mut Criterion) {
    use privml::ring::matmul;
    let n = 1024;
    let a: Vec<u64> = (0..(n * n) as u64)
        .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .collect();
    let b: Vec<u64> = a.iter().rev().copied().collect();
    let af = ndarray::Array2::from_shape_fn((n, n), |(i, j)| ((i * 31 + j) % 17) as f64 - 8.0);
    let bf = af.t().to_owned();
    let mut g = c.benchmark_group("gemm_1024");
    g.sample_size(10);
    g.bench_function("u64_wrapping", |bch| {
        bch.iter(|| matmul(std::hint::black_box(&a), &b, n, n, n))
    });
    g.bench_function("f64_ndarray", |bch| {
        bch.iter(|| std::hint::black_box(&af).dot(&bf))
    });
    g.finish();
}

criterion_group!(benches, protocol, gemm_kernels);
criterion_main!(benches);
