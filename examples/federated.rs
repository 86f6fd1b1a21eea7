//! Federated learning on the breast-cancer data: hospitals train locally
//! and share only protected updates.
//!
//! ```text
//! cargo run --release --example federated
//! ```
//!
//! Part 1 walks through one round by hand with each role's own type: the
//! clients secret-share their updates among three servers, the servers add
//! shares locally and reveal only the sum; then the same with homomorphic
//! encryption, where only the model owner can decrypt the sum.
//!
//! Part 2 trains with [`run_federated`] for both aggregations on iid and
//! label-skewed shards, with a client that drops out and one that sends a
//! malformed update, printing per-round accuracy, bytes and time.

use privml::fl::{
    Aggregation, AggregationRound, ClientId, Fault, FederatedConfig, HeRound, MpcRound,
    ShareParams, Split, UpdateMeta, encrypt_update, run_federated, share_update,
};
use privml::he::{HeParams, KeyPair};

fn by_hand() -> privml::Result<()> {
    println!("== one round by hand: three clients, updates of 4 values, weights 10, 20, 30");
    let updates = [
        [0.5, -1.0, 0.25, 2.0],
        [1.5, 0.0, -0.75, 1.0],
        [-0.5, 1.0, 0.25, 0.0],
    ];
    let weights = [10, 20, 30];
    let plain: Vec<f64> = (0..4)
        .map(|i| {
            (0..3)
                .map(|k| weights[k] as f64 * updates[k][i])
                .sum::<f64>()
                / 60.0
        })
        .collect();
    println!("plaintext weighted mean (what a trusted server would compute): {plain:?}");

    // Secret sharing: each client sends (x_i, x_{i+1}) to server i.
    let params = ShareParams::default();
    let mut round = MpcRound::new(1, 4, params)?;
    for (k, u) in updates.iter().enumerate() {
        let meta = UpdateMeta::new(ClientId(k as u32), 1, weights[k]);
        let msgs = share_update(&params, meta, u)?;
        println!(
            "  {} sends {} + {} + {} bytes to servers 0, 1, 2",
            meta.client,
            msgs[0].len(),
            msgs[1].len(),
            msgs[2].len()
        );
        round.submit(meta.client, &[&msgs[0], &msgs[1], &msgs[2]])?;
    }
    // A malformed submission: refused by name, the sum untouched.
    let bad = share_update(
        &params,
        UpdateMeta::new(ClientId(3), 1, 5),
        &[1.0, 2.0, 3.0],
    )?;
    if let Err(e) = round.submit(ClientId(3), &[&bad[0], &bad[1], &bad[2]]) {
        println!("  refused: {e}");
    }
    let sum = round.open(&())?;
    println!(
        "MPC: servers revealed the sum of {} updates (total weight {}); mean {:?}",
        sum.accepted.len(),
        sum.total_weight,
        sum.mean()?
    );

    // Homomorphic: the model owner makes the keys; the aggregator has the
    // public key only.
    let (pk, sk) = KeyPair::generate(&HeParams::default())?;
    let mut round = HeRound::new(pk.clone(), 1, 4);
    for (k, u) in updates.iter().enumerate() {
        let meta = UpdateMeta::new(ClientId(k as u32), 1, weights[k]);
        let msg = encrypt_update(&pk, meta, u)?;
        round.submit(meta.client, &[&msg])?;
    }
    let sum = round.finish();
    println!(
        "HE: aggregator summed {} ciphertext updates ({} bytes); owner decrypts the mean {:?}\n",
        sum.accepted.len(),
        sum.sum.byte_len(),
        sum.decrypt_mean(&sk)?
    );
    Ok(())
}

fn main() -> privml::Result<()> {
    by_hand()?;
    for split in [Split::Iid, Split::Skewed] {
        for aggregation in [Aggregation::Mpc, Aggregation::He] {
            let cfg = FederatedConfig {
                clients: 10,
                rounds: 15,
                split,
                aggregation,
                dropped: vec![ClientId(7)],
                faulty: vec![(ClientId(3), Fault::WrongShape)],
                ..FederatedConfig::default()
            };
            println!(
                "== {aggregation} aggregation, {split} split, 10 clients (client-7 offline, client-3 faulty)"
            );
            let report = run_federated(&cfg, |r| {
                if r.round % 3 == 0 || r.round == 1 {
                    println!(
                        "round {:2}: test accuracy {:.3}, {} accepted, {} bytes per client, {} bytes per server, {:.1} ms",
                        r.round,
                        r.test_accuracy,
                        r.outcome.accepted.len(),
                        r.outcome.bytes_per_client,
                        r.outcome.bytes_from_clients.iter().max().unwrap_or(&0),
                        r.time_round.as_secs_f64() * 1e3
                    );
                }
            })?;
            println!(
                "final test accuracy {:.3} (initial {:.3}); {}\n",
                report.final_accuracy,
                report.initial_accuracy,
                report.rounds[0]
                    .outcome
                    .refused
                    .first()
                    .map(|r| format!("every round refused {}: {}", r.client, r.error))
                    .unwrap_or_default()
            );
        }
    }
    Ok(())
}
