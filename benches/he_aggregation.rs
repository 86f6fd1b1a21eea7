//! Homomorphic aggregation at the federated-learning size that matters:
//! one update of 10^5 parameters.
//!
//! `cargo bench --bench he_aggregation` measures, per client and per round:
//! encrypting one update, decoding it from bytes at the aggregator, adding
//! it to the running sum, and decrypting the sum of 100 updates. It prints
//! the bytes a client sends. `RAYON_NUM_THREADS=1` gives single-core
//! figures.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use privml::he::{Aggregator, EncryptedUpdate, HeParams, KeyPair};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

const PARAMS: usize = 100_000;
const CLIENTS: usize = 100;

fn bench(c: &mut Criterion) {
    let params = HeParams::default();
    let mut rng = StdRng::seed_from_u64(1);
    let (pk, sk) = KeyPair::generate_with_rng(&params, &mut rng).expect("keygen");
    let update: Vec<f64> = (0..PARAMS).map(|_| rng.random_range(-1.0..1.0)).collect();
    let enc = pk.encrypt_update(&update).expect("encrypt");
    let bytes = enc.to_bytes();
    println!(
        "bytes per client for {PARAMS} parameters: {} ({:.2} bytes/parameter, {} ciphertexts); \
         plaintext f64: {}",
        enc.byte_len(),
        enc.byte_len() as f64 / PARAMS as f64,
        enc.num_ciphertexts(),
        PARAMS * 8
    );

    let mut g = c.benchmark_group("he_1e5");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));

    g.bench_function("client_encrypt_update", |b| {
        b.iter(|| pk.encrypt_update(black_box(&update)).expect("encrypt"))
    });
    g.bench_function("client_to_bytes", |b| b.iter(|| black_box(&enc).to_bytes()));
    g.bench_function("aggregator_from_bytes", |b| {
        b.iter(|| EncryptedUpdate::from_bytes(black_box(&bytes)).expect("decode"))
    });
    g.bench_function("aggregator_add_update", |b| {
        b.iter_batched_ref(
            || {
                let mut agg = Aggregator::new(pk.clone(), PARAMS);
                agg.add("first", &enc).expect("add");
                agg
            },
            |agg| agg.add("second", black_box(&enc)).expect("add"),
            BatchSize::LargeInput,
        )
    });

    let mut agg = Aggregator::new(pk.clone(), PARAMS);
    for i in 0..CLIENTS {
        agg.add(&format!("client-{i}"), &enc).expect("add");
    }
    let sum = agg.finish();
    g.bench_function("owner_decrypt_sum_of_100", |b| {
        b.iter(|| sk.decrypt_sum(black_box(&sum)).expect("decrypt"))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
