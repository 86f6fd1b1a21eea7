//! The network emulator: delays and bandwidth limits hold (functional lower
//! bounds with a generous ceiling, not timing assertions of the product),
//! and a program computes bit-identical results with and without it, on
//! three parties and on two parties with a dealer.

use std::time::{Duration, Instant};

use ndarray::ArrayD;
use privml::net::emulate::{self, Emulated, LinkProfile};
use privml::net::{Channel, Frame, memory};
use privml::ring::Payload;
use privml::{Additive, DealerSchedule, Gadgets, Ring, Shared, SharedConfig};

#[test]
fn k_round_trips_take_at_least_k_rtts() {
    let p: LinkProfile = "rtt=4".parse().unwrap();
    let k = 25;
    let t = emulate::ping_pong(Some(&p), k, 64).unwrap();
    let floor = p.rtt() * k as u32;
    assert!(
        t >= floor,
        "{k} round trips took {t:?}, less than {floor:?}"
    );
    // generous ceiling: the emulator must not add whole extra delays
    assert!(t < floor * 3 + Duration::from_secs(2), "{t:?}");
}

#[test]
fn the_bandwidth_limit_holds() {
    // 2 MB at 80 Mbit/s is 0.2 s of serialisation, on top of 1 ms RTT
    let p: LinkProfile = "rtt=1,bw=80".parse().unwrap();
    let (mut a, b) = memory::pair();
    let mut b = Emulated::new(b, p.clone());
    let t0 = Instant::now();
    for round in 0..4 {
        a.send(Frame {
            round,
            payload: Payload::Bytes(vec![1; 500_000]),
        })
        .unwrap();
    }
    for _ in 0..4 {
        b.recv(Duration::from_secs(30)).unwrap();
    }
    let t = t0.elapsed();
    let floor = p.serialisation(4 * (500_000 + 24)) + p.one_way_delay;
    assert!(floor >= Duration::from_millis(200));
    assert!(t >= floor, "2 MB arrived after {t:?}, before {floor:?}");
    assert!(t < floor * 5 + Duration::from_secs(2), "{t:?}");
}

#[test]
fn each_direction_is_its_own_link() {
    // two frames crossing in opposite directions each take one delay, not two
    let p: LinkProfile = "rtt=200".parse().unwrap();
    let (a, b) = memory::pair();
    let (mut a, mut b) = (Emulated::new(a, p.clone()), Emulated::new(b, p.clone()));
    let t0 = Instant::now();
    let frame = |r| Frame {
        round: r,
        payload: Payload::U64(vec![r]),
    };
    a.send(frame(1)).unwrap();
    b.send(frame(2)).unwrap();
    assert_eq!(b.recv(Duration::from_secs(5)).unwrap().round, 1);
    assert_eq!(a.recv(Duration::from_secs(5)).unwrap().round, 2);
    let t = t0.elapsed();
    assert!(t >= p.one_way_delay, "{t:?}");
    assert!(t < p.rtt(), "both directions waited in turn: {t:?}");
}

/// A program with products, a matrix product, comparisons and reveals.
fn program(r: &mut Shared<u64>) -> privml::Result<(Vec<f64>, Vec<u64>, privml::Cost)> {
    let x = ArrayD::from_shape_fn(vec![4, 6], |i| {
        (i[0] as f64 - 1.5) * 0.7 + i[1] as f64 * 0.1
    });
    let w = ArrayD::from_shape_fn(vec![6, 3], |i| (i[0] * 3 + i[1]) as f64 / 9.0 - 1.0);
    let xs = r.input(0, r.owns(0).then_some(&x), &[4, 6])?;
    let ws = r.input(1, r.owns(1).then_some(&w), &[6, 3])?;
    let before = r.cost();
    let z = r.matmul(&xs, &ws)?;
    let z = r.relu(&z)?;
    let z2 = r.mul(&z, &z)?;
    let cost = r.cost().since(&before);
    let (sa, sb) = z2.expose_shares();
    let shares = sa.iter().chain(sb.iter()).copied().collect();
    let out = r.reveal(&z2)?;
    Ok((out.iter().copied().collect(), shares, cost))
}

#[test]
fn results_are_bit_identical_with_and_without_emulation() {
    let cfg = SharedConfig::default().insecure_test_seed(11);
    let bare = Shared::<u64>::simulate_with(&cfg, program).unwrap();
    let lan = LinkProfile::preset("lan").unwrap();
    let emulated = Shared::<u64>::simulate_with(&cfg.clone().network(lan), program).unwrap();
    for (b, e) in bare.iter().zip(&emulated) {
        assert_eq!(
            b.0.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            e.0.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
        assert_eq!(b.1, e.1, "shares differ");
        assert_eq!(b.2, e.2, "costs differ");
    }
}

#[test]
fn an_emulated_run_takes_at_least_its_rounds_of_delay() {
    let p: LinkProfile = "rtt=10".parse().unwrap();
    let cfg = SharedConfig::default().network(p.clone());
    let t0 = Instant::now();
    let out = Shared::<u64>::simulate_with(&cfg, program).unwrap();
    let t = t0.elapsed();
    // inputs (2 rounds), the program's rounds, the reveal; key set-up adds one more
    let rounds = out[0].2.rounds as u32 + 3;
    assert!(t >= p.one_way_delay * rounds, "{rounds} rounds in {t:?}");
}

/// The same kind of program on any domain: its revealed outputs (as bits)
/// and its cost after the inputs.
fn generic_program<R: Ring>(r: &mut R) -> privml::Result<(Vec<u64>, privml::Cost)> {
    let x = ArrayD::from_shape_fn(vec![4, 6], |i| {
        (i[0] as f64 - 1.5) * 0.7 + i[1] as f64 * 0.1
    });
    let w = ArrayD::from_shape_fn(vec![6, 3], |i| (i[0] * 3 + i[1]) as f64 / 9.0 - 1.0);
    let xs = r.input(0, r.owns(0).then_some(&x), &[4, 6])?;
    let ws = r.input(1, r.owns(1).then_some(&w), &[6, 3])?;
    let before = r.cost();
    let z = r.matmul(&xs, &ws)?;
    let z = r.relu(&z)?;
    let z2 = r.mul(&z, &z)?;
    let out = r.reveal(&z2)?;
    let cost = r.cost().since(&before);
    Ok((out.iter().map(|v| v.to_bits()).collect(), cost))
}

#[test]
fn two_party_results_are_bit_identical_with_and_without_emulation() {
    let cfg = SharedConfig::default().insecure_test_seed(12);
    let run = |cfg: &SharedConfig| {
        Additive::<u64>::simulate_with(cfg, DealerSchedule::Concurrent, generic_program).unwrap()
    };
    let bare = run(&cfg);
    let emulated = run(&cfg.clone().network(LinkProfile::preset("lan").unwrap()));
    assert_eq!(bare, emulated);
    assert!(bare[0].1.rounds > 0);
}

#[test]
fn an_emulated_two_party_run_takes_at_least_its_online_rounds_of_delay() {
    let p: LinkProfile = "rtt=10".parse().unwrap();
    let cfg = SharedConfig::default().network(p.clone());
    let t0 = Instant::now();
    let out =
        Additive::<u64>::simulate_with(&cfg, DealerSchedule::Concurrent, generic_program).unwrap();
    let t = t0.elapsed();
    let rounds = out[0].1.rounds as u32;
    assert!(rounds >= 3, "{rounds}");
    assert!(t >= p.one_way_delay * rounds, "{rounds} rounds in {t:?}");
}
