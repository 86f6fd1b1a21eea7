//! Federated learning with secure aggregation: correctness against plain
//! federated averaging, what a single server sees, dropped and faulty
//! clients, range checks, and training accuracy.
//!
//! That the homomorphic aggregator cannot decrypt is checked at compile
//! time: `compile_fail` doctests on `privml::he::Aggregator` and on
//! `privml::fl::HeRound` (neither has a decryption method, and no
//! conversion from the public key to a `SecretKey` exists).
#![cfg(feature = "he")]

use crate::view_stats;

use privml::Error;
use privml::error::{DecodeError, Rejection};
use privml::fl::{
    Aggregation, AggregationOptions, AggregationRound, AggregationScheme, Cleartext, ClientId,
    ClientUpdate, Fault, FederatedConfig, HEADER_LEN, HeRound, MpcRound, OpenedSum,
    RoundAggregator, ShareEncoding, ShareParams, ShareServer, Split, UpdateMeta, Weighting,
    encrypt_update, prepare_data, run_federated, share_update, share_update_with_rng,
    split_clients,
};
use privml::he::{HeParams, KeyPair};
use privml::ring::audit::{self, Audit, NegativeControl};
use privml::ring::prg::{AesPrg, Seed};
use view_stats::linear::find_relation;
use view_stats::{CHI2_255, MAX_BIT_Z, chi2_two_sample, chi2_uniform, max_bit_z};

// ----- helpers ---------------------------------------------------------------

/// Deterministic pseudo-random values in [-a, a).
fn values(seed: u64, n: usize, a: f64) -> Vec<f64> {
    let raw: Vec<u64> = AesPrg::new(&Seed::from_u64(seed)).vec(n);
    raw.iter()
        .map(|v| ((*v >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0) * a)
        .collect()
}

fn opts(encoding: ShareEncoding) -> AggregationOptions {
    AggregationOptions {
        share_encoding: encoding,
        ..AggregationOptions::default()
    }
}

/// The methods under test, with names for messages.
fn methods() -> Vec<(&'static str, Aggregation, AggregationOptions)> {
    vec![
        (
            "mpc explicit",
            Aggregation::Mpc,
            opts(ShareEncoding::Explicit),
        ),
        ("mpc seeded", Aggregation::Mpc, opts(ShareEncoding::Seeded)),
        ("he", Aggregation::He, opts(ShareEncoding::Explicit)),
        ("plain", Aggregation::Plain, opts(ShareEncoding::Explicit)),
    ]
}

fn updates<'a>(data: &'a [Vec<f64>], weights: &[u32], round: u32) -> Vec<ClientUpdate<'a>> {
    data.iter()
        .zip(weights)
        .enumerate()
        .map(|(k, (v, w))| ClientUpdate {
            meta: UpdateMeta::new(ClientId(k as u32), round, *w),
            values: v,
            fault: None,
        })
        .collect()
}

/// Σ w_k v_k / Σ w_k in f64, over the clients in `which`.
fn plain_mean(data: &[Vec<f64>], weights: &[u32], which: &[usize]) -> Vec<f64> {
    let len = data[0].len();
    let tw: f64 = which.iter().map(|k| weights[*k] as f64).sum();
    (0..len)
        .map(|i| {
            which
                .iter()
                .map(|k| weights[*k] as f64 * data[*k][i])
                .sum::<f64>()
                / tw
        })
        .collect()
}

fn max_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

fn rejected_client(e: &Error) -> &str {
    match e {
        Error::UpdateRejected { client, .. } => client,
        other => panic!("expected a rejection, got {other}"),
    }
}

// ----- the secure aggregate is plain federated averaging ----------------------

#[test]
fn secure_aggregate_equals_plain_federated_averaging() {
    let n_clients = 7;
    let len = 1000;
    let data: Vec<Vec<f64>> = (0..n_clients)
        .map(|k| values(k as u64 + 10, len, 5.0))
        .collect();
    let weights = [1, 40, 3, 17, 1, 99, 8];
    let all: Vec<usize> = (0..n_clients).collect();
    let want = plain_mean(&data, &weights, &all);
    let tw: f64 = weights.iter().map(|w| *w as f64).sum();
    // Each client's weighted values are rounded to the 2^-16 grid once:
    // |error of the mean| <= k * 2^-17 / Σw.
    let tol = n_clients as f64 * (0.5f64).powi(17) / tw;
    for (name, agg, o) in methods() {
        let ra = RoundAggregator::new(agg, len, &o).expect("set-up");
        let out = ra.run(1, &updates(&data, &weights, 1)).expect("round");
        let mean = out.mean.expect("aggregated");
        assert_eq!(out.accepted.len(), n_clients, "{name}");
        assert_eq!(out.total_weight, tw as u64, "{name}");
        let d = max_diff(&mean, &want);
        assert!(d <= tol + 1e-12, "{name}: deviation {d:.3e} > {tol:.3e}");
        assert!(out.deviation <= out.tolerance, "{name}: self-check");
    }
}

#[test]
fn mpc_aggregate_is_exactly_the_fixed_point_sum() {
    // Secret sharing adds no error of its own: the revealed sum is exactly
    // Σ round(w v 2^16), whatever the randomness, for every length
    // (including 2 values = 16 bytes, the size of a seed).
    for encoding in [ShareEncoding::Explicit, ShareEncoding::Seeded] {
        let p = ShareParams::default().with_encoding(encoding);
        for len in 1..=6 {
            let data: Vec<Vec<f64>> = (0..3)
                .map(|k| values(len as u64 * 7 + k, len, 100.0))
                .collect();
            let weights = [1u32, 5, 2];
            let mut round = MpcRound::new(4, len, p).expect("round");
            for (k, (v, w)) in data.iter().zip(weights).enumerate() {
                let c = ClientId(k as u32);
                let m = share_update(&p, UpdateMeta::new(c, 4, w), v).expect("share");
                round.submit(c, &[&m[0], &m[1], &m[2]]).expect("accepted");
            }
            let sum = round.open(&()).expect("reveal");
            for i in 0..len {
                let exact: i64 = data
                    .iter()
                    .zip(weights)
                    .map(|(v, w)| (v[i] * w as f64 * 65536.0).round() as i64)
                    .sum();
                assert_eq!(
                    sum.sum[i],
                    exact as f64 / 65536.0,
                    "{encoding} len {len} element {i}"
                );
            }
        }
    }
}

#[test]
fn federated_training_matches_plain_federated_averaging() {
    let base = FederatedConfig {
        clients: 6,
        rounds: 5,
        ..FederatedConfig::default()
    };
    let plain = run_federated(
        &FederatedConfig {
            aggregation: Aggregation::Plain,
            ..base.clone()
        },
        |_| {},
    )
    .expect("plain run");
    for agg in [Aggregation::Mpc, Aggregation::He] {
        let run = run_federated(
            &FederatedConfig {
                aggregation: agg,
                ..base.clone()
            },
            |r| {
                // Every round's opened mean is within the fixed-point bound
                // of the plaintext mean of the very same updates.
                assert!(r.aggregated());
                assert!(
                    r.outcome.deviation <= r.outcome.tolerance,
                    "{agg} round {}: {:.3e} > {:.3e}",
                    r.round,
                    r.outcome.deviation,
                    r.outcome.tolerance
                );
            },
        )
        .expect("secure run");
        // Over five rounds the rounding errors (<= 2^-17 per round) stay far
        // below anything that moves the model.
        let d = max_diff(&run.params, &plain.params);
        assert!(d < 1e-4, "{agg}: final parameters differ by {d:.3e}");
        assert_eq!(run.final_accuracy, plain.final_accuracy, "{agg}");
    }
}

// ----- one interface for every method ----------------------------------------

/// One round of `scheme` driven through the traits alone: every client
/// protects its update, the round takes each client's messages, a stale
/// submission is refused without touching the sum, and the round is opened.
fn round_through_the_traits<S: AggregationScheme>(
    scheme: &S,
    opener: &<S::Round as AggregationRound>::Opener,
    data: &[Vec<f64>],
    weights: &[u32],
) -> OpenedSum {
    let mut round = scheme.start_round(3, data[0].len()).expect("start");
    for (k, (v, w)) in data.iter().zip(weights).enumerate() {
        let meta = UpdateMeta::new(ClientId(k as u32), 3, *w);
        let msgs = scheme.protect(meta, v).expect("protect");
        let msgs: Vec<&[u8]> = msgs.iter().map(Vec::as_slice).collect();
        round.submit(meta.client, &msgs).expect("accepted");
        // The same client again, for another round: refused, sum untouched.
        let stale = scheme
            .protect(UpdateMeta::new(meta.client, 2, *w), v)
            .expect("protect");
        let stale: Vec<&[u8]> = stale.iter().map(Vec::as_slice).collect();
        match round.submit(meta.client, &stale) {
            Err(Error::UpdateRejected {
                reason:
                    Rejection::WrongRound {
                        expected: 3,
                        got: 2,
                    },
                ..
            }) => {}
            other => panic!("stale submission: {other:?}"),
        }
        // One message too many is the caller's mistake, not a rejection.
        let mut more = msgs.clone();
        more.push(msgs[0]);
        assert!(matches!(
            round.submit(meta.client, &more),
            Err(Error::InvalidParameter {
                name: "messages",
                ..
            })
        ));
    }
    assert_eq!(round.count(), data.len());
    assert_eq!(
        round.total_weight(),
        weights.iter().map(|w| u64::from(*w)).sum::<u64>()
    );
    round.open(opener).expect("open")
}

#[test]
fn every_method_opens_the_same_mean_through_one_interface() {
    let len = 4100; // two HE ciphertexts
    let data: Vec<Vec<f64>> = (0..5).map(|k| values(k + 90, len, 20.0)).collect();
    let weights = [7u32, 1, 30, 2, 11];
    let all: Vec<usize> = (0..5).collect();
    let want = plain_mean(&data, &weights, &all);
    let tw: f64 = weights.iter().map(|w| *w as f64).sum();

    let plain = round_through_the_traits(&Cleartext, &(), &data, &weights);
    let (pk, sk) = KeyPair::generate(&HeParams::default()).expect("keys");
    let explicit = ShareParams::default();
    let seeded = ShareParams::default().with_encoding(ShareEncoding::Seeded);
    let opened = [
        ("plain", Cleartext.sum_tolerance(5), plain),
        (
            "mpc explicit",
            explicit.sum_tolerance(5),
            round_through_the_traits(&explicit, &(), &data, &weights),
        ),
        (
            "mpc seeded",
            seeded.sum_tolerance(5),
            round_through_the_traits(&seeded, &(), &data, &weights),
        ),
        (
            "he",
            pk.sum_tolerance(5),
            round_through_the_traits(&pk, &sk, &data, &weights),
        ),
    ];
    // The documented bound: 5 roundings to the 2^-16 grid, over Σw.
    assert_eq!(explicit.sum_tolerance(5), 5.0 * (0.5f64).powi(17));
    assert_eq!(pk.sum_tolerance(5), 5.0 * (0.5f64).powi(17));
    assert_eq!(Cleartext.sum_tolerance(5), 0.0);
    let plain_mean_opened = opened[0].2.mean().expect("mean");
    for (name, tolerance, sum) in &opened {
        let expected_accepted: Vec<(ClientId, u32)> = weights
            .iter()
            .enumerate()
            .map(|(k, w)| (ClientId(k as u32), *w))
            .collect();
        assert_eq!(sum.accepted, expected_accepted, "{name}");
        assert_eq!(sum.total_weight, tw as u64, "{name}");
        let mean = sum.mean().expect("mean");
        // Against the f64 mean of the updates, and against each other.
        let bound = tolerance / tw + 1e-12;
        let d = max_diff(&mean, &want);
        assert!(d <= bound, "{name}: {d:.3e} > {bound:.3e}");
        let d = max_diff(&mean, &plain_mean_opened);
        assert!(d <= bound, "{name} vs plain: {d:.3e} > {bound:.3e}");
    }
    // The fixed-point methods round the same way and add exactly: their
    // sums are bit for bit equal.
    assert_eq!(opened[1].2.sum, opened[2].2.sum);
    assert_eq!(opened[1].2.sum, opened[3].2.sum);
    // Every client's messages were counted, the refused ones too.
    assert_eq!(opened[0].2.bytes_from_clients.len(), 1);
    assert_eq!(opened[1].2.bytes_from_clients.len(), 3);
    assert_eq!(opened[3].2.bytes_from_clients.len(), 1);
    let plain_msg = (HEADER_LEN + 8 * len) as u64;
    assert_eq!(opened[0].2.bytes_from_clients, vec![2 * 5 * plain_msg]);
}

// ----- what one server sees ---------------------------------------------------

const N: usize = 4096;

fn assert_indistinguishable(a: &[u8], b: &[u8], what: &str) {
    let chi = chi2_two_sample(a, b);
    assert!(
        chi < CHI2_255,
        "{what}: byte distributions differ (chi2 = {chi:.1})"
    );
    let z = max_bit_z(a, b);
    assert!(
        z < MAX_BIT_Z,
        "{what}: a bit position differs (|z| = {z:.2})"
    );
    for (s, v) in [("first", a), ("second", b)] {
        let u = chi2_uniform(v);
        assert!(u < CHI2_255, "{what}, {s} run: not uniform (chi2 = {u:.1})");
    }
}

fn detected(a: &[u8], b: &[u8]) -> bool {
    chi2_two_sample(a, b) > CHI2_255 || max_bit_z(a, b) > MAX_BIT_Z
}

/// The two updates compared: all zeros, and large values of both signs.
fn two_updates() -> (Vec<f64>, Vec<f64>) {
    (vec![0.0; N], values(77, N, 1000.0))
}

/// What each server receives from one client (the message bodies; the
/// header is public: client, round, weight, length), for the explicit
/// encoding.
fn server_views(update: &[f64], rng_seed: u64) -> [Vec<u8>; 3] {
    let p = ShareParams::default();
    let mut rng = AesPrg::new(&Seed::from_u64(rng_seed));
    let m = share_update_with_rng(&p, UpdateMeta::new(ClientId(3), 1, 1), update, &mut rng)
        .expect("share");
    m.map(|msg| msg[HEADER_LEN..].to_vec())
}

/// Little-endian u64 words.
fn words(b: &[u8]) -> Vec<u64> {
    b.chunks_exact(8)
        .map(|w| u64::from_le_bytes(w.try_into().expect("8 bytes")))
        .collect()
}

/// The update as the client encodes it (weight 1).
fn encoded_update(update: &[f64]) -> Vec<u64> {
    ShareParams::default()
        .encode(ClientId(3), update)
        .expect("in range")
}

/// A server's message bodies (seeded encoding) as the share vectors it
/// holds: the seeds expanded, the explicit share x2 read.
fn seeded_server_vectors(bodies: &[Vec<u8>; 3]) -> [Vec<Vec<u64>>; 3] {
    let expand = |seed: &[u8]| -> Vec<u64> {
        AesPrg::new(&Seed::from_bytes(seed.try_into().expect("16-byte seed"))).vec(N)
    };
    [
        vec![expand(&bodies[0][..16]), expand(&bodies[0][16..])],
        vec![expand(&bodies[1][..16]), words(&bodies[1][16..])],
        vec![words(&bodies[2][..8 * N]), expand(&bodies[2][8 * N..])],
    ]
}

#[test]
fn no_single_server_view_depends_on_a_client_update() {
    let (zeros, big) = two_updates();
    let v0 = server_views(&zeros, 1);
    let v1 = server_views(&big, 2);
    for s in 0..3 {
        assert_eq!(v0[s].len(), 2 * 8 * N);
        assert_indistinguishable(&v0[s], &v1[s], &format!("server {s}, received shares"));
        // Nor is the update a small linear combination of the two shares.
        let shares = [words(&v1[s][..8 * N]), words(&v1[s][8 * N..])];
        assert_eq!(
            find_relation(&shares, &encoded_update(&big)),
            None,
            "server {s}"
        );
    }
}

#[test]
fn seeded_shares_hide_the_update_too() {
    // Server 0 receives two 16-byte seeds; servers 1 and 2 one seed and the
    // explicit share x2 = x - x0 - x1.
    let (zeros, big) = two_updates();
    let p = ShareParams::default().with_encoding(ShareEncoding::Seeded);
    let views = |u: &[f64], seed: u64| {
        let mut rng = AesPrg::new(&Seed::from_u64(seed));
        share_update_with_rng(&p, UpdateMeta::new(ClientId(3), 1, 1), u, &mut rng)
            .expect("share")
            .map(|m| m[HEADER_LEN..].to_vec())
    };
    let (v0, v1) = (views(&zeros, 5), views(&big, 6));
    assert_eq!(v0[0].len(), 32);
    for (s, shares) in seeded_server_vectors(&v1).iter().enumerate() {
        assert_eq!(
            find_relation(shares, &encoded_update(&big)),
            None,
            "server {s}, seeded"
        );
    }
    for s in 1..3 {
        let x2 = |v: &[u8]| {
            if s == 1 {
                v[16..].to_vec()
            } else {
                v[..v.len() - 16].to_vec()
            }
        };
        assert_indistinguishable(&x2(&v0[s]), &x2(&v1[s]), &format!("server {s}, seeded"));
    }
}

#[test]
fn a_client_that_uses_one_seed_twice_is_caught() {
    // Negative control (a test-build switch, see privml::ring::audit): the
    // client draws x0 and x1 from the same seed. Each message still looks
    // uniform, x2 = x - 2·x1 included, but server 1 (seed of x1, and x2)
    // and server 2 (x2, seed of x0) both hold x = x2 + 2·x1.
    let (_, big) = two_updates();
    let x = encoded_update(&big);
    let p = ShareParams::default().with_encoding(ShareEncoding::Seeded);
    let share = || {
        let mut rng = AesPrg::new(&Seed::from_u64(7));
        share_update_with_rng(&p, UpdateMeta::new(ClientId(3), 1, 1), &big, &mut rng)
            .expect("share")
            .map(|m| m[HEADER_LEN..].to_vec())
    };
    let control = Audit::recording().with_control(NegativeControl::FederatedClientEqualSeeds);
    let (bodies, record) = audit::run(control, share);
    let held = seeded_server_vectors(&bodies);
    for (s, shares) in held.iter().enumerate().skip(1) {
        let r = find_relation(shares, &x).expect("x from one seed and x2");
        assert_eq!((r.multiple, r.offset), (1, 0));
        let mut coefficients: Vec<i64> = r.terms.iter().map(|t| t.1).collect();
        coefficients.sort();
        assert_eq!(coefficients, [1, 2], "server {s}: {r:?}");
    }
    // The client's keystream record shows the reuse too.
    assert_eq!(record.reuses().len(), 1, "{:?}", record.reuses());
    // The same client with two seeds: nothing.
    let (bodies, record) = audit::run(Audit::recording(), share);
    assert!(record.reuses().is_empty());
    for (s, shares) in seeded_server_vectors(&bodies).iter().enumerate() {
        assert_eq!(find_relation(shares, &x), None, "server {s}");
    }
}

#[test]
fn the_sum_a_server_holds_is_uniform_too() {
    // Three clients, client 0's update differs between the runs: the
    // server's share pair of the sum is as random as any share.
    let (zeros, big) = two_updates();
    let p = ShareParams::default();
    let held = |first: &[f64], seed: u64| -> Vec<Vec<u8>> {
        let mut rng = AesPrg::new(&Seed::from_u64(seed));
        let others = [values(8, N, 3.0), values(9, N, 3.0)];
        let mut servers: Vec<ShareServer> = (0..3)
            .map(|s| ShareServer::new(s, 1, N, p).expect("server"))
            .collect();
        for (k, u) in [first, &others[0], &others[1]].iter().enumerate() {
            let c = ClientId(k as u32);
            let m =
                share_update_with_rng(&p, UpdateMeta::new(c, 1, 1), u, &mut rng).expect("share");
            for (s, msg) in servers.iter_mut().zip(&m) {
                s.receive(c, msg).expect("accepted");
            }
        }
        servers
            .into_iter()
            .map(|s| {
                let r = s.into_shares().expect("shares");
                let (a, b) = r.expose_shares();
                a.iter()
                    .chain(b.iter())
                    .flat_map(|x| x.to_le_bytes())
                    .collect()
            })
            .collect()
    };
    let server = ShareServer::new(0, 1, 3, p).expect("server");
    assert!(
        format!("{server:?}").contains("redacted"),
        "Debug shows shares"
    );
    let (h0, h1) = (held(&zeros, 11), held(&big, 12));
    for s in 0..3 {
        assert_indistinguishable(&h0[s], &h1[s], &format!("server {s}, held sum"));
    }
}

#[test]
fn the_test_detects_leaky_sharings() {
    // Negative controls: the same statistics do tell the two updates apart
    // when the sharing is broken.
    let (zeros, big) = two_updates();
    let fp = privml::FixedPoint::<u64>::default();
    let enc = |u: &[f64]| -> Vec<u64> { u.iter().map(|v| fp.encode(*v).expect("fits")).collect() };
    let bytes = |v: &[u64]| -> Vec<u8> { v.iter().flat_map(|x| x.to_le_bytes()).collect() };

    // 1. No masks at all (x0 = x1 = 0): server 1 receives (0, x).
    let unmasked = |u: &[f64]| {
        let mut v = vec![0u8; 8 * N];
        v.extend(bytes(&enc(u)));
        v
    };
    assert!(
        detected(&unmasked(&zeros), &unmasked(&big)),
        "unmasked shares"
    );

    // 2. Masks from a weak generator (uniform in 0..2^16, not the whole
    //    ring): x2 = x - x0 - x1 keeps the high bits of x.
    let weak = |u: &[f64], seed: u64| {
        let mut g = AesPrg::new(&Seed::from_u64(seed));
        let x = enc(u);
        let x0: Vec<u64> = g.vec::<u64>(N).iter().map(|r| r & 0xffff).collect();
        let x1: Vec<u64> = g.vec::<u64>(N).iter().map(|r| r & 0xffff).collect();
        let x2: Vec<u64> = (0..N)
            .map(|i| x[i].wrapping_sub(x0[i]).wrapping_sub(x1[i]))
            .collect();
        let mut v = bytes(&x1);
        v.extend(bytes(&x2));
        v
    };
    assert!(detected(&weak(&zeros, 1), &weak(&big, 2)), "weak masks");

    // 3. The real view with the update appended.
    let mut a = server_views(&zeros, 1)[1].clone();
    let mut b = server_views(&big, 2)[1].clone();
    a.extend(bytes(&enc(&zeros)));
    b.extend(bytes(&enc(&big)));
    assert!(detected(&a, &b), "appended update");
}

// ----- dropped clients ----------------------------------------------------------

#[test]
fn dropped_clients_leave_the_mean_over_the_others() {
    let len = 50;
    let data: Vec<Vec<f64>> = (0..5).map(|k| values(k + 30, len, 2.0)).collect();
    let weights = [10u32, 20, 30, 40, 50];
    // Clients 1 and 3 drop out: they never submit.
    let present = [0usize, 2, 4];
    for (name, agg, o) in methods() {
        for weighting in [Weighting::SampleCount, Weighting::Uniform] {
            let w: Vec<u32> = match weighting {
                Weighting::SampleCount => weights.to_vec(),
                Weighting::Uniform => vec![1; 5],
            };
            let ups: Vec<ClientUpdate<'_>> = updates(&data, &w, 2)
                .into_iter()
                .enumerate()
                .filter(|(k, _)| present.contains(k))
                .map(|(_, u)| u)
                .collect();
            let ra = RoundAggregator::new(agg, len, &o).expect("set-up");
            let out = ra.run(2, &ups).expect("round");
            assert_eq!(out.accepted.len(), 3, "{name}");
            let want_w: u64 = present.iter().map(|k| w[*k] as u64).sum();
            assert_eq!(out.total_weight, want_w, "{name} {weighting}");
            let mean = out.mean.expect("3 >= min_clients");
            let d = max_diff(&mean, &plain_mean(&data, &w, &present));
            assert!(d <= 1e-4, "{name} {weighting}: {d:.3e}");
            // Dividing by all five clients would be visibly wrong.
            let wrong: Vec<f64> = plain_mean(&data, &w, &present)
                .iter()
                .map(|m| m * want_w as f64 / w.iter().map(|x| *x as f64).sum::<f64>())
                .collect();
            assert!(max_diff(&mean, &wrong) > 1e-2, "{name}: count not used");
        }
    }
}

#[test]
fn too_few_clients_reveal_nothing() {
    let data = [values(1, 8, 1.0), values(2, 8, 1.0)];
    for (name, agg, o) in methods() {
        let ra = RoundAggregator::new(agg, 8, &o).expect("set-up");
        // One client only: below min_clients = 2, the "sum" would be its update.
        let out = ra.run(1, &updates(&data[..1], &[1], 1)).expect("round");
        assert!(out.mean.is_none(), "{name}: a single update was opened");
        assert_eq!(out.accepted.len(), 1);
    }
}

#[test]
fn federated_run_with_dropouts_counts_the_right_clients() {
    let cfg = FederatedConfig {
        clients: 8,
        rounds: 4,
        dropout: 0.3,
        dropped: vec![ClientId(2)],
        aggregation: Aggregation::Mpc,
        ..FederatedConfig::default()
    };
    let report = run_federated(&cfg, |_| {}).expect("run");
    let mut some_dropout = false;
    for r in &report.rounds {
        assert!(r.dropped.contains(&ClientId(2)), "round {}", r.round);
        assert_eq!(
            r.outcome.accepted.len() + r.dropped.len(),
            8,
            "round {}",
            r.round
        );
        assert!(r.outcome.refused.is_empty());
        some_dropout |= r.dropped.len() > 1;
        if r.aggregated() {
            assert!(r.outcome.deviation <= r.outcome.tolerance);
        }
    }
    assert!(some_dropout, "dropout 0.3 never dropped anyone");
}

// ----- malformed and faulty submissions ----------------------------------------------

#[test]
fn faulty_submissions_are_rejected_naming_the_client_and_leave_the_aggregate_alone() {
    let len = 40;
    let data: Vec<Vec<f64>> = (0..4).map(|k| values(k + 50, len, 3.0)).collect();
    let weights = [3u32, 1, 4, 1];
    let good = [0usize, 1, 3];
    for (name, agg, o) in methods() {
        let ra = RoundAggregator::new(agg, len, &o).expect("set-up");
        let reference = {
            let ups: Vec<_> = updates(&data, &weights, 5)
                .into_iter()
                .enumerate()
                .filter(|(k, _)| good.contains(k))
                .map(|(_, u)| u)
                .collect();
            ra.run(5, &ups).expect("round").mean.expect("mean")
        };
        for fault in [Fault::WrongShape, Fault::Corrupted, Fault::StaleRound] {
            let mut ups = updates(&data, &weights, 5);
            ups[2].fault = Some(fault);
            let out = ra.run(5, &ups).expect("round");
            assert_eq!(out.refused.len(), 1, "{name} {fault:?}");
            assert_eq!(out.refused[0].client, ClientId(2));
            assert_eq!(rejected_client(&out.refused[0].error), "client-2");
            assert!(
                out.refused[0].error.to_string().contains("client-2"),
                "{name}: message does not name the client"
            );
            let mean = out.mean.expect("mean");
            // Secret sharing and BFV decrypt exactly the fixed-point sum: the
            // aggregate is bit for bit that of the three good clients.
            assert_eq!(mean, reference, "{name} {fault:?}: aggregate changed");
            assert_eq!(out.total_weight, 3 + 1 + 1);
        }
    }
}

#[test]
fn mpc_servers_refuse_every_kind_of_bad_message() {
    let p = ShareParams::default();
    let len = 16;
    let u = values(3, len, 1.0);
    let c = ClientId(9);
    let good = share_update(&p, UpdateMeta::new(c, 7, 2), &u).expect("share");
    let reason = |round: &mut MpcRound, msgs: [&[u8]; 3]| -> Rejection {
        match round.submit(c, &msgs) {
            Err(Error::UpdateRejected { client, reason }) => {
                assert_eq!(client, "client-9");
                reason
            }
            other => panic!("expected a rejection, got {other:?}"),
        }
    };
    let mut round = MpcRound::new(7, len, p).expect("round");
    // Garbage, truncated, padded.
    let garbage = vec![0xAB; 300];
    let r = reason(&mut round, [&garbage, &garbage, &garbage]);
    assert!(
        matches!(r, Rejection::Malformed(DecodeError::BadMagic { .. })),
        "{r:?}"
    );
    let short = &good[1][..good[1].len() - 8];
    let r = reason(&mut round, [&good[0], short, &good[2]]);
    assert!(
        matches!(&r, Rejection::RefusedByServer { server: 1, reason } if matches!(**reason, Rejection::Malformed(DecodeError::Checksum))),
        "{r:?}"
    );
    // Messages swapped between servers.
    let r = reason(&mut round, [&good[1], &good[0], &good[2]]);
    assert!(
        matches!(&r, Rejection::RefusedByServer { server: 0, reason } if matches!(**reason, Rejection::WrongServer { expected: 0, got: 1 })),
        "{r:?}"
    );
    // Another client's submission replayed under this client's name.
    let other = share_update(&p, UpdateMeta::new(ClientId(1), 7, 2), &u).expect("share");
    let r = reason(&mut round, [&other[0], &other[1], &other[2]]);
    assert_eq!(
        r,
        Rejection::SenderMismatch {
            named: "client-1".into()
        }
    );
    // Wrong round, wrong length, other fraction bits.
    let stale = share_update(&p, UpdateMeta::new(c, 6, 2), &u).expect("share");
    let r = reason(&mut round, [&stale[0], &stale[1], &stale[2]]);
    assert_eq!(
        r,
        Rejection::WrongRound {
            expected: 7,
            got: 6
        }
    );
    let short = share_update(&p, UpdateMeta::new(c, 7, 2), &u[1..]).expect("share");
    let r = reason(&mut round, [&short[0], &short[1], &short[2]]);
    assert_eq!(
        r,
        Rejection::WrongLength {
            expected: 16,
            got: 15
        }
    );
    let p20 = ShareParams::new(20, 1024).expect("params");
    let other_fp = share_update(&p20, UpdateMeta::new(c, 7, 2), &u).expect("share");
    let r = reason(&mut round, [&other_fp[0], &other_fp[1], &other_fp[2]]);
    assert!(matches!(r, Rejection::WrongParameters { .. }), "{r:?}");
    // Nothing so far touched the sum; now the good one, then a duplicate.
    assert_eq!(round.count(), 0);
    round
        .submit(c, &[&good[0], &good[1], &good[2]])
        .expect("good");
    let again = share_update(&p, UpdateMeta::new(c, 7, 2), &u).expect("share");
    let r = reason(&mut round, [&again[0], &again[1], &again[2]]);
    assert_eq!(r, Rejection::Duplicate);
    let sum = round.open(&()).expect("reveal");
    assert_eq!(sum.accepted, vec![(c, 2)]);
    let mean = sum.mean().expect("mean");
    assert!(max_diff(&mean, &u) <= 1e-5);
}

#[test]
fn he_round_refuses_bad_submissions_naming_the_client() {
    let (pk, sk) = KeyPair::generate(&HeParams::default()).expect("keys");
    let (other_pk, _) = KeyPair::generate(&HeParams::default()).expect("keys");
    let u = values(4, 10, 1.0);
    let c = ClientId(5);
    let mut round = HeRound::new(pk.clone(), 3, 10);
    let bad = [
        vec![1u8; 100],
        encrypt_update(&pk, UpdateMeta::new(c, 2, 1), &u).expect("enc"),
        encrypt_update(&pk, UpdateMeta::new(c, 3, 1), &u[..9]).expect("enc"),
        encrypt_update(&other_pk, UpdateMeta::new(c, 3, 1), &u).expect("enc"),
        encrypt_update(&pk, UpdateMeta::new(ClientId(6), 3, 1), &u).expect("enc"),
    ];
    for b in &bad {
        let e = round.submit(c, &[b]).expect_err("refused");
        assert_eq!(rejected_client(&e), "client-5", "{e}");
    }
    assert_eq!(round.count(), 0);
    let good = encrypt_update(&pk, UpdateMeta::new(c, 3, 4), &u).expect("enc");
    round.submit(c, &[&good]).expect("good");
    assert!(round.submit(c, &[&good]).is_err(), "duplicate accepted");
    let mean = round.finish().decrypt_mean(&sk).expect("decrypt");
    assert!(max_diff(&mean, &u) <= 1e-5);
}

// ----- range ----------------------------------------------------------------------------

#[test]
fn out_of_range_updates_fail_on_the_client_naming_it() {
    let p = ShareParams::new(16, 1024).expect("params");
    let limit = p.max_abs_value();
    let (pk, _) = KeyPair::generate(&HeParams::default()).expect("keys");
    for (i, v) in [(3usize, f64::NAN), (1, f64::INFINITY), (2, limit * 1.01)] {
        let mut u = vec![0.5; 4];
        u[i] = v;
        let meta = UpdateMeta::new(ClientId(12), 1, 1);
        for e in [
            share_update(&p, meta, &u).expect_err("mpc"),
            encrypt_update(&pk, meta, &u).expect_err("he"),
        ] {
            match &e {
                Error::UpdateOutOfRange { client, index, .. } => {
                    assert_eq!((client.as_str(), *index), ("client-12", i), "{e}");
                }
                other => panic!("{other}"),
            }
        }
    }
    // The weight counts: 1e9 is fine alone, not from a client with 1000 samples.
    let big = [1e9];
    assert!(share_update(&p, UpdateMeta::new(ClientId(0), 1, 1), &big).is_ok());
    assert!(share_update(&p, UpdateMeta::new(ClientId(0), 1, 1000), &big).is_err());

    // In a round, such a client fails alone and the others are aggregated.
    let data = [vec![1.0, 2.0], vec![f64::NAN, 0.0], vec![3.0, 4.0]];
    for (name, agg, o) in methods() {
        if agg == Aggregation::Plain {
            continue;
        }
        let ra = RoundAggregator::new(agg, 2, &o).expect("set-up");
        let out = ra.run(1, &updates(&data, &[1, 1, 1], 1)).expect("round");
        assert_eq!(out.refused.len(), 1, "{name}");
        assert!(matches!(
            out.refused[0].error,
            Error::UpdateOutOfRange { ref client, index: 0, .. } if client == "client-1"
        ));
        let mean = out.mean.expect("two accepted");
        assert!(max_diff(&mean, &[2.0, 3.0]) < 1e-4, "{name}");
    }
}

#[test]
fn sums_at_the_headroom_bound_do_not_wrap_and_one_more_is_refused() {
    let p = ShareParams::new(16, 4).expect("params");
    let top = p.max_abs_value();
    let mut round = MpcRound::new(1, 2, p).expect("round");
    for k in 0..4 {
        let c = ClientId(k);
        let m = share_update(&p, UpdateMeta::new(c, 1, 1), &[top, -top]).expect("share");
        round
            .submit(c, &[&m[0], &m[1], &m[2]])
            .expect("within headroom");
    }
    let m = share_update(&p, UpdateMeta::new(ClientId(4), 1, 1), &[1.0, 1.0]).expect("share");
    match round.submit(ClientId(4), &[&m[0], &m[1], &m[2]]) {
        Err(Error::UpdateRejected {
            reason: Rejection::TooManyUpdates { max: 4 },
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
    let sum = round.open(&()).expect("reveal").sum;
    assert!(
        (sum[0] - 4.0 * top).abs() / (4.0 * top) < 1e-12,
        "{}",
        sum[0]
    );
    assert!(
        (sum[1] + 4.0 * top).abs() / (4.0 * top) < 1e-12,
        "{}",
        sum[1]
    );
}

// ----- bytes ----------------------------------------------------------------------------

#[test]
fn bytes_per_client_and_per_server_are_as_documented() {
    let len = 5000;
    let data: Vec<Vec<f64>> = (0..3).map(|k| values(k, len, 1.0)).collect();
    let w = [1u32, 1, 1];
    let h = HEADER_LEN as u64;
    let l = len as u64;
    let expect: [(Aggregation, ShareEncoding, u64, Vec<u64>); 4] = [
        (
            Aggregation::Mpc,
            ShareEncoding::Explicit,
            3 * (h + 16 * l),
            vec![3 * (h + 16 * l); 3],
        ),
        (
            Aggregation::Mpc,
            ShareEncoding::Seeded,
            3 * h + 32 + 2 * (16 + 8 * l),
            vec![3 * (h + 32), 3 * (h + 16 + 8 * l), 3 * (h + 16 + 8 * l)],
        ),
        // BFV: 2 ciphertexts of 63 488 bytes plus the he header (48 bytes).
        (
            Aggregation::He,
            ShareEncoding::Explicit,
            h + 48 + 2 * 63_488,
            vec![3 * (h + 48 + 2 * 63_488)],
        ),
        (
            Aggregation::Plain,
            ShareEncoding::Explicit,
            h + 8 * l,
            vec![3 * (h + 8 * l)],
        ),
    ];
    for (agg, enc, per_client, per_server) in expect {
        let ra = RoundAggregator::new(agg, len, &opts(enc)).expect("set-up");
        let out = ra.run(1, &updates(&data, &w, 1)).expect("round");
        assert_eq!(out.bytes_per_client, per_client, "{agg} {enc}");
        assert_eq!(out.bytes_from_clients, per_server, "{agg} {enc}");
        if agg == Aggregation::Mpc {
            // The reveal: each server sends one share of the sum, 8 bytes a value.
            for b in &out.bytes_server_out {
                assert!(*b >= 8 * l && *b < 8 * l + 256, "{b}");
            }
        }
    }
}

// ----- data split and accuracy ------------------------------------------------------------

#[test]
fn iid_and_skewed_splits() {
    let (train, _) = prepare_data(0.2, 1).expect("data");
    let n = train.n_samples();
    let iid = split_clients(&train, 10, Split::Iid, 3).expect("iid");
    let sizes: Vec<usize> = iid.iter().map(|s| s.n_samples()).collect();
    assert_eq!(sizes.iter().sum::<usize>(), n);
    assert!(sizes.iter().max().expect("10") - sizes.iter().min().expect("10") <= 1);
    let frac = |s: &privml::data::Dataset| {
        s.targets().iter().filter(|v| **v > 0.5).count() as f64 / s.n_samples() as f64
    };
    let skewed = split_clients(&train, 10, Split::Skewed, 3).expect("skewed");
    assert_eq!(skewed.iter().map(|s| s.n_samples()).sum::<usize>(), n);
    let pure = skewed
        .iter()
        .filter(|s| frac(s) == 0.0 || frac(s) == 1.0)
        .count();
    let pure_iid = iid
        .iter()
        .filter(|s| frac(s) == 0.0 || frac(s) == 1.0)
        .count();
    assert!(
        pure >= 3,
        "skewed split has only {pure} single-class clients"
    );
    assert_eq!(pure_iid, 0);
    assert!(split_clients(&train, n + 1, Split::Iid, 3).is_err());
    assert!(split_clients(&train, n / 2 + 1, Split::Skewed, 3).is_err());
}

#[test]
fn federated_training_reaches_high_accuracy_with_both_aggregations() {
    for agg in [Aggregation::Mpc, Aggregation::He] {
        let cfg = FederatedConfig {
            clients: 10,
            rounds: 15,
            aggregation: agg,
            target_accuracy: Some(0.93),
            ..FederatedConfig::default()
        };
        let report = run_federated(&cfg, |_| {}).expect("run");
        assert!(
            report.final_accuracy >= 0.93,
            "{agg}: test accuracy {:.3} after {} rounds",
            report.final_accuracy,
            report.rounds.len()
        );
        assert!(report.initial_accuracy < 0.7);
    }
}

#[test]
fn a_hundred_clients_with_dropouts_and_a_faulty_one() {
    // MPC on label-skewed shards (4-6 samples each, over half of the clients
    // see one class only); HE on iid shards (fewer rounds: 100 encryptions a
    // round).
    for (agg, split, rounds) in [
        (Aggregation::Mpc, Split::Skewed, 20),
        (Aggregation::He, Split::Iid, 10),
    ] {
        let cfg = FederatedConfig {
            clients: 100,
            rounds,
            split,
            dropout: 0.1,
            aggregation: agg,
            faulty: vec![(ClientId(42), Fault::WrongShape)],
            target_accuracy: Some(0.9),
            ..FederatedConfig::default()
        };
        let report = run_federated(&cfg, |r| {
            let faulty_present = !r.dropped.contains(&ClientId(42));
            let out = &r.outcome;
            assert_eq!(out.refused.len(), usize::from(faulty_present));
            assert_eq!(
                out.accepted.len() + r.dropped.len() + out.refused.len(),
                100
            );
            assert!(out.deviation <= out.tolerance);
        })
        .expect("run");
        assert!(
            report.reached_target.is_some(),
            "{agg} {split}: {:.3} after {rounds} rounds",
            report.final_accuracy
        );
    }
}

#[test]
fn a_learning_rate_that_leaves_the_sigmoid_range_is_an_error_not_a_collapse() {
    let cfg = FederatedConfig {
        clients: 4,
        rounds: 3,
        lr: 50.0,
        ..FederatedConfig::default()
    };
    match run_federated(&cfg, |_| {}) {
        Err(Error::InvalidParameter { name: "lr", reason }) => {
            assert!(
                reason.contains("client-") && reason.contains("round 1"),
                "{reason}"
            );
        }
        other => panic!("expected an lr error, got {other:?}"),
    }
    // The defaults stay inside the range for long runs (weight decay).
    let cfg = FederatedConfig {
        clients: 4,
        rounds: 150,
        aggregation: Aggregation::Plain,
        ..FederatedConfig::default()
    };
    let report = run_federated(&cfg, |_| {}).expect("stable");
    let (_, test) = prepare_data(0.2, 1).expect("data");
    let z = report
        .model
        .max_preactivation(&report.params, test.features())
        .expect("forward");
    assert!(z < 10.0, "|z| = {z}");
}
