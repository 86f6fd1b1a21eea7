//! Criterion benches of the network workloads (see `privml::workloads`):
//! one training step of networks B and C (SGD) and A (Adam) at batch 128
//! with the cross-entropy, and network C's inference at batch 1 and 128,
//! each on `Plain`, `Fixed` and `Shared` over Z_2^64, next to the plaintext
//! twin (the same code on `Plain`). `privml bench NB-SGD NC-SGD NA-ADAM
//! NC-INFER-1 NC-INFER-128 --domains plain,fixed,shared` prints the same
//! workloads with rounds, bytes per party and peak memory; BENCHMARKS.md
//! records them.

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};

// The same allocator as the `privml` binary (see src/bin/privml/main.rs).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use privml::nn::{AdamConfig, Loss, OptimizerConfig};
use privml::runner::DomainKind;
use privml::workloads::{self, NetworkInference, NetworkStep, Workload};

const DOMAINS: [(&str, DomainKind); 3] = [
    ("plain", DomainKind::Plain),
    ("fixed_z2_64", DomainKind::Fixed64),
    ("shared_z2_64", DomainKind::Shared64),
];

fn on_every_domain<W: Workload>(c: &mut Criterion, group: &str, w: &W) {
    let mut g = c.benchmark_group(group);
    g.sample_size(10);
    if let Some(mut f) = w.plaintext() {
        g.bench_function("plaintext_twin", |b| b.iter(&mut f));
    }
    for (name, kind) in DOMAINS {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let m = workloads::measure(w, kind, iters as usize, 0).expect("workload runs");
                m.runs.iter().sum::<Duration>()
            })
        });
    }
    g.finish();
}

fn networks(c: &mut Criterion) {
    let sgd = OptimizerConfig::Sgd { lr: 0.01 };
    let adam = OptimizerConfig::Adam(AdamConfig::default());
    let step =
        |preset, opt| NetworkStep::new(preset, 128, Loss::CrossEntropy, opt).expect("preset");
    on_every_domain(c, "network_b_sgd_step_128", &step("network-b", sgd));
    on_every_domain(c, "network_c_sgd_step_128", &step("network-c", sgd));
    on_every_domain(c, "network_a_adam_step_128", &step("network-a", adam));
    for batch in [1, 128] {
        let w = NetworkInference::new("network-c", batch).expect("preset");
        on_every_domain(c, &format!("network_c_inference_{batch}"), &w);
    }
}

criterion_group!(benches, networks);
criterion_main!(benches);
