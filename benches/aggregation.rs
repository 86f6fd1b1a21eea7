//! Secure aggregation (MPC) against homomorphic aggregation (HE) at the
//! federated-learning size that matters: 100 clients × 10^5 parameters.
//!
//! ```text
//! cargo bench --bench aggregation                       # table, then criterion
//! AGG_TABLE_ONLY=1 cargo bench --bench aggregation      # the table only
//! AGG_CLIENTS=100 AGG_PARAMS=100000 AGG_RUNS=3 cargo bench --bench aggregation
//! ```
//!
//! First a table: whole rounds through [`RoundAggregator::run`] (every
//! client protects and serialises its update, the servers check and add
//! every message, the aggregate is opened), the median of `AGG_RUNS` runs
//! per method, with the plaintext round through the same envelope and a
//! bare in-memory f64 sum as references. Then criterion figures per
//! operation for one update of 10^5 values.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion};
use privml::fl::{
    Aggregation, AggregationOptions, AggregationRound, ClientId, ClientUpdate, HeRound, MpcRound,
    RoundAggregator, ShareEncoding, ShareParams, ShareServer, UpdateMeta, encrypt_update,
    share_update,
};
use privml::he::{HeParams, KeyPair};
use privml::ring::prg::{AesPrg, Seed};

const PARAMS: usize = 100_000;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn random_update(seed: u64, n: usize) -> Vec<f64> {
    let raw: Vec<u64> = AesPrg::new(&Seed::from_u64(seed)).vec(n);
    raw.iter()
        .map(|v| (*v >> 11) as f64 / (1u64 << 53) as f64 - 0.5)
        .collect()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

struct Row {
    name: &'static str,
    client: Duration,
    servers: Duration,
    n_servers: usize,
    open: Duration,
    total: Duration,
    bytes_client: u64,
    bytes_server: u64,
    bytes_out: u64,
    deviation: f64,
}

fn table(clients: usize, params: usize, runs: usize) {
    println!(
        "\n{clients} clients x {params} parameters, median of {runs} runs, {} rayon threads",
        rayon::current_num_threads()
    );
    let updates: Vec<Vec<f64>> = (0..clients)
        .map(|k| random_update(k as u64, params))
        .collect();
    let ups: Vec<ClientUpdate<'_>> = updates
        .iter()
        .enumerate()
        .map(|(k, v)| ClientUpdate {
            meta: UpdateMeta::new(ClientId(k as u32), 1, 1),
            values: v,
            fault: None,
        })
        .collect();

    // The bare reference: an in-memory f64 sum, no messages at all.
    let bare = median(
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                let mut s = vec![0.0f64; params];
                for u in &updates {
                    for (a, b) in s.iter_mut().zip(u) {
                        *a += b;
                    }
                }
                black_box(&s);
                t.elapsed()
            })
            .collect(),
    );

    let methods = [
        (
            "plain (reference)",
            Aggregation::Plain,
            ShareEncoding::Explicit,
        ),
        (
            "MPC, explicit shares",
            Aggregation::Mpc,
            ShareEncoding::Explicit,
        ),
        (
            "MPC, seeded shares",
            Aggregation::Mpc,
            ShareEncoding::Seeded,
        ),
        ("HE (BFV)", Aggregation::He, ShareEncoding::Explicit),
    ];
    let mut rows = Vec::new();
    for (name, agg, enc) in methods {
        let opts = AggregationOptions {
            share_encoding: enc,
            ..AggregationOptions::default()
        };
        let ra = RoundAggregator::new(agg, params, &opts).expect("set-up");
        let (mut c, mut s, mut o, mut t) = (vec![], vec![], vec![], vec![]);
        let mut last = None;
        for _ in 0..runs {
            let out = ra.run(1, &ups).expect("round");
            assert_eq!(out.accepted.len(), clients);
            assert!(out.deviation <= out.tolerance, "{name}: wrong aggregate");
            c.push(out.time_clients / clients as u32);
            s.push(out.time_servers);
            o.push(out.time_open);
            t.push(out.time_clients + out.time_servers + out.time_open);
            last = Some(out);
        }
        let out = last.expect("at least one run");
        rows.push(Row {
            name,
            client: median(c),
            servers: median(s),
            n_servers: out.bytes_from_clients.len(),
            open: median(o),
            total: median(t),
            bytes_client: out.bytes_per_client,
            bytes_server: out.bytes_from_clients.iter().copied().max().unwrap_or(0),
            bytes_out: out.bytes_server_out.iter().copied().max().unwrap_or(0),
            deviation: out.deviation,
        });
    }
    let plain_total = rows[0].total;
    println!(
        "| method | client: protect one update | each server: check + add all {clients} | open the sum | round total (clients one after another) | ÷ plain round | bytes per client | bytes per server (from clients) | bytes per server (out) | max error of the mean |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for r in &rows {
        println!(
            "| {} | {:.2} ms | {:.1} ms{} | {:.1} ms | {:.0} ms | {:.1} | {} ({:.1}/param) | {} | {} | {:.1e} |",
            r.name,
            ms(r.client),
            ms(r.servers) / r.n_servers as f64,
            if r.n_servers > 1 {
                format!(" (x{})", r.n_servers)
            } else {
                String::new()
            },
            ms(r.open),
            ms(r.total),
            r.total.as_secs_f64() / plain_total.as_secs_f64(),
            r.bytes_client,
            r.bytes_client as f64 / params as f64,
            r.bytes_server,
            r.bytes_out,
            r.deviation
        );
    }
    println!(
        "| bare f64 sum in memory | - | {:.1} ms | - | {:.1} ms | {:.2} | - | - | - | 0 |",
        ms(bare),
        ms(bare),
        bare.as_secs_f64() / plain_total.as_secs_f64()
    );
    println!(
        "(MPC: 3 servers, each receives one message per client; HE: one aggregator, and the owner decrypts.)\n"
    );
}

fn per_operation(c: &mut Criterion) {
    let update = random_update(1, PARAMS);
    let mut g = c.benchmark_group("fl_aggregation_1e5");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));

    for enc in [ShareEncoding::Explicit, ShareEncoding::Seeded] {
        let p = ShareParams::default().with_encoding(enc);
        let meta = UpdateMeta::new(ClientId(0), 1, 1);
        let msgs = share_update(&p, meta, &update).expect("share");
        g.bench_function(format!("mpc_{enc}_client_share_update"), |b| {
            b.iter(|| share_update(&p, meta, black_box(&update)).expect("share"))
        });
        g.bench_function(format!("mpc_{enc}_server1_receive"), |b| {
            b.iter_batched_ref(
                || ShareServer::new(1, 1, PARAMS, p).expect("server"),
                |s| s.receive(ClientId(0), black_box(&msgs[1])).expect("add"),
                BatchSize::LargeInput,
            )
        });
    }
    let p = ShareParams::default();
    g.bench_function("mpc_reveal_sum_3_servers", |b| {
        b.iter_batched(
            || {
                let mut r = MpcRound::new(1, PARAMS, p).expect("round");
                for k in 0..2 {
                    let c = ClientId(k);
                    let m = share_update(&p, UpdateMeta::new(c, 1, 1), &update).expect("share");
                    r.submit(c, &[&m[0], &m[1], &m[2]]).expect("add");
                }
                r
            },
            |r| r.open(&()).expect("reveal"),
            BatchSize::LargeInput,
        )
    });

    let (pk, sk) = KeyPair::generate(&HeParams::default()).expect("keys");
    let meta = UpdateMeta::new(ClientId(0), 1, 1);
    let msg = encrypt_update(&pk, meta, &update).expect("encrypt");
    g.bench_function("he_client_encrypt_update", |b| {
        b.iter(|| encrypt_update(&pk, meta, black_box(&update)).expect("encrypt"))
    });
    g.bench_function("he_aggregator_submit", |b| {
        b.iter_batched_ref(
            || HeRound::new(pk.clone(), 1, PARAMS),
            |r| r.submit(ClientId(0), &[black_box(&msg)]).expect("add"),
            BatchSize::LargeInput,
        )
    });
    let mut r = HeRound::new(pk.clone(), 1, PARAMS);
    r.submit(ClientId(0), &[&msg]).expect("add");
    let sum = r.finish();
    g.bench_function("he_owner_decrypt_mean", |b| {
        b.iter(|| sum.decrypt_mean(&sk).expect("decrypt"))
    });
    g.finish();
}

fn main() {
    table(
        env("AGG_CLIENTS", 100),
        env("AGG_PARAMS", PARAMS),
        env("AGG_RUNS", 3).max(1),
    );
    if std::env::var_os("AGG_TABLE_ONLY").is_none() {
        let mut c = Criterion::default().configure_from_args();
        per_operation(&mut c);
        c.final_summary();
    }
}
