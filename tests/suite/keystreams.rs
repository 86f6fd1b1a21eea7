//! No party ever opens the same keystream twice, over whole programs: the
//! conformance suite's random programs in both rings, the comparisons,
//! training, and federated rounds with MPC aggregation. And the record
//! catches each deliberately broken variant (negative controls).
//!
//! The record is the test build's keystream log (`privml::ring::audit`,
//! feature `audit-keystreams`, on for the whole test suite): each party
//! notes every (key, operation, sub-stream) it opens. Outside these tests a
//! reuse panics at once, so every other test of a protocol checks it too;
//! here the logs are collected per program and inspected.

use crate::common;
use crate::tiny_training;

use std::collections::{BTreeMap, BTreeSet};

use ndarray::{ArrayD, arr1};
use privml::fl::{
    Aggregation, ClientId, FederatedConfig, ShareEncoding, ShareParams, UpdateMeta, run_federated,
    share_update,
};
use privml::learn::TrainJob;
use privml::ring::RingElement;
use privml::ring::audit::{self, Audit, KeyId, NegativeControl, Report, StreamId};
use privml::runner::{DomainKind, run_local};
use privml::{Error, Gadgets, Layout, Ring, Shared, SharedConfig};
use proptest::prelude::*;

/// Every party of the report opened at least one keystream (the record is
/// not empty where the program uses correlated randomness).
fn assert_every_party_opened_streams(report: &Report, what: &str) {
    for log in report.logs() {
        assert!(
            !log.streams().is_empty(),
            "{what}: {} opened no keystream",
            log.owner()
        );
    }
}

/// The streams each party opened, by the key they were opened on.
fn by_key(report: &Report) -> BTreeMap<KeyId, Vec<(String, BTreeSet<StreamId>)>> {
    let mut m: BTreeMap<KeyId, Vec<(String, BTreeSet<StreamId>)>> = BTreeMap::new();
    for log in report.logs() {
        let mut per_key: BTreeMap<KeyId, BTreeSet<StreamId>> = BTreeMap::new();
        for s in log.streams() {
            per_key.entry(s.key).or_default().insert(s);
        }
        for (k, set) in per_key {
            m.entry(k).or_default().push((log.owner().to_string(), set));
        }
    }
    m
}

/// The audit of one or more three-party runs: no reuse anywhere, three
/// party logs per run, and every pairwise key used by exactly its two
/// holders, who open exactly the same streams on it (correlated randomness
/// that only one holder read would be no correlation; a stream one holder
/// reads twice would be a reuse).
fn assert_clean(report: &Report, runs: usize, what: &str) {
    let reuses = report.reuses();
    assert!(
        reuses.is_empty(),
        "{what}: {}",
        reuses
            .iter()
            .map(|r| r.to_string())
            .collect::<Vec<_>>()
            .join("; ")
    );
    let parties: Vec<_> = report
        .logs()
        .iter()
        .filter(|l| l.owner().starts_with("party "))
        .collect();
    assert_eq!(parties.len(), 3 * runs, "{what}: party logs");
    for (key, holders) in by_key(report) {
        let holders: Vec<_> = holders
            .into_iter()
            .filter(|(o, _)| o.starts_with("party "))
            .collect();
        if holders.is_empty() {
            continue;
        }
        assert_eq!(
            holders.len(),
            2,
            "{what}: {key:?} used by {:?}",
            holders.iter().map(|h| &h.0).collect::<Vec<_>>()
        );
        assert_eq!(
            holders[0].1, holders[1].1,
            "{what}: {} and {} opened different streams on their shared {key:?}",
            holders[0].0, holders[1].0
        );
    }
}

#[test]
fn the_record_lists_exactly_the_streams_of_an_input_and_a_product() {
    // Input by party 0 (op 1): the owner opens its two PRF shares, each
    // neighbour the one it shares with the owner. Fixed-point product (op
    // 2, the fused truncation): party 0 the mask, output and two dealer
    // sub-streams of k20; party 1 the mask and output of k12; party 2 all
    // six. Reveal (op 3): nothing.
    let x = arr1(&[1.5, -2.0]).into_dyn();
    let (out, report) = audit::run(Audit::recording(), || {
        Shared::<u64>::simulate(|r| {
            let a = r.input(0, r.owns(0).then_some(&x), &[2])?;
            let b = r.mul(&a, &a)?;
            r.reveal(&b)
        })
    });
    let out = out.expect("run");
    assert!((out[0][1] - 4.0).abs() < 1e-3);
    assert_clean(&report, 1, "input and product");
    assert_every_party_opened_streams(&report, "input and product");
    let ops_subs = |p: usize| -> Vec<(u64, u8)> {
        let mut v: Vec<(u64, u8)> = report.logs()[p]
            .streams()
            .iter()
            .map(|s| (s.op, s.sub))
            .collect();
        v.sort();
        v
    };
    let owners: Vec<&str> = report.logs().iter().map(|l| l.owner()).collect();
    let p = |name: &str| owners.iter().position(|o| *o == name).expect("party log");
    assert_eq!(
        ops_subs(p("party 0")),
        [(1, 0), (1, 0), (2, 0), (2, 1), (2, 2), (2, 3)]
    );
    assert_eq!(ops_subs(p("party 1")), [(1, 0), (2, 0), (2, 3)]);
    assert_eq!(
        ops_subs(p("party 2")),
        [(1, 0), (2, 0), (2, 0), (2, 1), (2, 2), (2, 3), (2, 3)]
    );
}

fn audited_random_program<T: RingElement>(p: &common::Program, seed: u64) {
    let cfg = SharedConfig::default().insecure_test_seed(seed);
    let (out, report) = audit::run(Audit::recording(), || {
        Shared::<T>::simulate_with(&cfg, |r| common::run(r, p))
    });
    // Programs may leave the fixed-point range; the audit holds either way.
    let _ = out;
    assert_clean(&report, 1, &format!("{p:?}"));
    // Every program inputs three values: each party opens PRF shares.
    assert_every_party_opened_streams(&report, &format!("{p:?}"));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn random_programs_never_reuse_a_keystream_in_z2_64(p in common::program(), seed in any::<u64>()) {
        audited_random_program::<u64>(&p, seed);
    }

    #[test]
    fn random_programs_never_reuse_a_keystream_in_z2_128(p in common::program(), seed in any::<u64>()) {
        audited_random_program::<u128>(&p, seed);
    }
}

/// Every comparison gadget, on a secret with both signs and zeros.
fn comparisons<T: RingElement>(r: &mut Shared<T>) -> privml::Result<Vec<ArrayD<f64>>> {
    let v = arr1(&[-3.0, 0.0, 2.5, -0.25, 7.0, 1.0, -1.0, 0.0]).into_dyn();
    let w = arr1(&[1.0, 0.0, -2.5, 0.5, 7.0, 2.0, -3.0, 4.0]).into_dyn();
    let x = r.input(0, r.owns(0).then_some(&v), &[8])?;
    let y = r.input(2, r.owns(2).then_some(&w), &[8])?;
    let (relu, d) = r.relu_with_derivative(&x)?;
    let lt = r.less_than(&x, &y)?;
    let m = r.max(&x, &y)?;
    let s = r.sign(&x)?;
    let rows = r.reshape(&x, &[2, 4])?;
    let (best, which) = r.argmax_rows(&rows)?;
    let (c, inside) = r.clip01(&y)?;
    [relu, d, lt, m, s, best, which, c, inside]
        .iter()
        .map(|t| r.reveal(t))
        .collect()
}

#[test]
fn comparisons_never_reuse_a_keystream() {
    let (a, report64) = audit::run(Audit::recording(), || Shared::<u64>::simulate(comparisons));
    let (b, report128) = audit::run(Audit::recording(), || Shared::<u128>::simulate(comparisons));
    assert_eq!(a.expect("u64 run")[0], b.expect("u128 run")[0]);
    for (report, ring) in [(&report64, "Z_2^64"), (&report128, "Z_2^128")] {
        assert_clean(report, 1, &format!("comparisons in {ring}"));
        assert_every_party_opened_streams(report, &format!("comparisons in {ring}"));
    }
}

#[test]
fn training_never_reuses_a_keystream() {
    let (settings, data) = tiny_training::tiny(64, 2, 16, 1);
    let job = TrainJob::new(&settings, Some(&data));
    let (out, report) = audit::run(Audit::recording(), || {
        run_local(DomainKind::Shared64, &SharedConfig::default(), &job)
    });
    let (outcome, _) = out.expect("training");
    assert_eq!(outcome.epochs.len(), 2);
    assert_clean(&report, 1, "training");
    assert_every_party_opened_streams(&report, "training");
    // Training opens hundreds of keystreams per party: the record is not a
    // sample.
    assert!(report.streams() > 600, "{} streams", report.streams());
}

#[test]
fn federated_rounds_with_mpc_aggregation_never_reuse_a_keystream() {
    for encoding in [ShareEncoding::Explicit, ShareEncoding::Seeded] {
        let cfg = FederatedConfig {
            clients: 4,
            rounds: 2,
            aggregation: Aggregation::Mpc,
            share_encoding: encoding,
            ..FederatedConfig::default()
        };
        let (out, report) = audit::run(Audit::recording(), || run_federated(&cfg, |_| {}));
        assert_eq!(out.expect("federated run").rounds.len(), 2);
        // One three-party reveal per round (a reveal draws no randomness).
        assert_clean(&report, 2, &format!("federated, {encoding} shares"));
        let clients = report
            .logs()
            .iter()
            .filter(|l| l.owner().starts_with("federated client"))
            .count();
        match encoding {
            // Seeded shares: each client's seeds in each round are its own
            // keystreams, two per update.
            ShareEncoding::Seeded => {
                assert_eq!(clients, 4 * 2);
                for log in report.logs() {
                    if log.owner().starts_with("federated client") {
                        assert_eq!(log.streams().len(), 2, "{}", log.owner());
                    }
                }
            }
            _ => assert_eq!(clients, 0),
        }
    }
}

// ----- negative controls -------------------------------------------------------

/// A product and a truncation, revealed.
fn products(r: &mut Shared<u64>) -> privml::Result<Vec<ArrayD<f64>>> {
    let v = arr1(&[1.5, -2.0, 3.25, 0.5]).into_dyn();
    let x = r.input(0, r.owns(0).then_some(&v), &[4])?;
    let y = r.mul(&x, &x)?;
    let h = r.div_pow2(&x, 2)?;
    Ok(vec![r.reveal(&y)?, r.reveal(&h)?])
}

/// `f` in a recording audit scope, then again with `control` switched on.
fn clean_and_broken<R>(control: NegativeControl, f: impl Fn() -> R) -> [(R, Report); 2] {
    [
        audit::run(Audit::recording(), &f),
        audit::run(Audit::recording().with_control(control), &f),
    ]
}

/// The reuses of `report` as (owner, op, sub-stream).
fn reused(report: &Report) -> BTreeSet<(String, u64, u8)> {
    report
        .reuses()
        .into_iter()
        .map(|r| (r.owner, r.stream.op, r.stream.sub))
        .collect()
}

#[test]
fn a_truncation_mask_from_the_output_stream_is_caught() {
    let control = NegativeControl::TruncMaskFromOutputStream;
    let [(good, clean), (bad, report)] =
        clean_and_broken(control, || Shared::<u64>::simulate(products));
    assert_clean(&clean, 1, "the same program, unbroken");
    // The broken variant still computes the right values: only the record
    // (or a test of correlations) can see the bug.
    let (good, bad) = (good.expect("run"), bad.expect("broken run"));
    for k in 0..2 {
        for (g, b) in good[0][k].iter().zip(bad[0][k].iter()) {
            assert!((g - b).abs() <= 2.0 / 65536.0, "{g} vs {b}");
        }
    }
    // Parties 0 and 2 hold k20, and opened its output sub-stream (3) twice
    // in both truncations (ops 2 and 3).
    let expected: BTreeSet<(String, u64, u8)> = [
        ("party 0", 2, 3),
        ("party 0", 3, 3),
        ("party 2", 2, 3),
        ("party 2", 3, 3),
    ]
    .iter()
    .map(|(o, op, sub)| (o.to_string(), *op, *sub))
    .collect();
    assert_eq!(reused(&report), expected);
    // Outside a recording scope the same bug stops the run at once.
    let (strict, _) = audit::run(Audit::strict().with_control(control), || {
        Shared::<u64>::simulate(products)
    });
    match strict {
        Err(Error::PeerDisconnected { op, .. }) => assert!(op.contains("panic"), "{op}"),
        other => panic!("expected the parties to stop, got {other:?}"),
    }
}

#[test]
fn a_comparison_round_reusing_the_previous_zero_sharing_is_caught() {
    let control = NegativeControl::CompareReusesZeroSharing;
    let [(good, _), (bad, report)] =
        clean_and_broken(control, || Shared::<u64>::simulate(comparisons));
    assert_eq!(good.expect("run")[0], bad.expect("broken run")[0]);
    let reuses = report.reuses();
    // Every party, on both of its keys: the first AND round's XOR
    // zero-sharing (sub-stream 5) added again in every later round (at
    // least the 8 rounds of one 64-bit sign extraction).
    for p in 0..3 {
        let owner = format!("party {p}");
        let mine: Vec<_> = reuses.iter().filter(|r| r.owner == owner).collect();
        assert_eq!(mine.len(), 2, "{owner}: {mine:?}");
        assert!(
            mine.iter().all(|r| r.stream.sub == 5 && r.times >= 8),
            "{mine:?}"
        );
        assert_ne!(mine[0].stream.key, mine[1].stream.key);
    }
}

#[test]
fn a_federated_client_with_equal_seeds_is_caught() {
    let control = NegativeControl::FederatedClientEqualSeeds;
    let params = ShareParams::default().with_encoding(ShareEncoding::Seeded);
    let update = [0.5, -1.0, 2.0];
    let share = || share_update(&params, UpdateMeta::new(ClientId(7), 1, 1), &update);
    let [(ok, clean), (msgs, report)] = clean_and_broken(control, share);
    assert!(ok.is_ok());
    assert_eq!(clean.logs().len(), 1);
    assert_eq!(clean.logs()[0].streams().len(), 2);
    assert!(clean.reuses().is_empty());
    // The messages look as usual (two seeds to server 0) ...
    let msgs = msgs.expect("share");
    assert_eq!(msgs[0].len(), privml::fl::HEADER_LEN + 32);
    // ... but the client opened one keystream twice.
    let reuses = report.reuses();
    assert_eq!(reuses.len(), 1, "{reuses:?}");
    assert_eq!(reuses[0].owner, "federated client-7");
    assert_eq!(reuses[0].times, 2);
    // In a whole federated run, every client in every round.
    let cfg = FederatedConfig {
        clients: 3,
        rounds: 1,
        aggregation: Aggregation::Mpc,
        share_encoding: ShareEncoding::Seeded,
        ..FederatedConfig::default()
    };
    let (run, report) = audit::run(Audit::recording().with_control(control), || {
        run_federated(&cfg, |_| {})
    });
    run.expect("federated run");
    assert_eq!(report.reuses().len(), 3);
}
