//! Peers that hang up, hang, or send garbage make every other party fail
//! with a clear error within the configured timeout, never hang or panic.

use crate::common;

use std::time::{Duration, Instant};

use common::run_parties;
use ndarray::ArrayD;
use privml::net::{Net, memory};
use privml::{DecodeError, Error, Origin, Ring, Shared, SharedConfig};

fn two_products(
    r: &mut Shared<u64>,
    stop_party: Option<usize>,
    nap: Duration,
) -> privml::Result<()> {
    let v = ArrayD::from_elem(vec![1000], 0.5);
    let x = r.input(0, r.owns(0).then_some(&v), &[1000])?;
    let y = r.mul(&x, &x)?;
    if r.party() == stop_party {
        std::thread::sleep(nap);
        return Ok(()); // leaves, dropping its channels
    }
    let z = r.mul(&y, &x)?;
    r.reveal(&z)?;
    Ok(())
}

#[test]
fn a_party_that_leaves_mid_program_fails_the_others_at_once() {
    let cfg = SharedConfig::default().timeout(Duration::from_secs(30));
    let t0 = Instant::now();
    let (results, _) = run_parties(&cfg, |r| two_products(r, Some(2), Duration::ZERO));
    let elapsed = t0.elapsed();
    assert!(results[2].is_ok());
    for p in [0, 1] {
        match &results[p] {
            Err(Error::PeerDisconnected { party, op }) => {
                assert!(*party == 2 || *party == 1 - p, "party {p} blamed {party}");
                assert_eq!(op, "mul");
            }
            other => panic!("party {p}: expected a disconnect, got {other:?}"),
        }
    }
    assert!(
        elapsed < Duration::from_secs(10),
        "disconnects must not wait for the timeout"
    );
    let msg = results[1].as_ref().unwrap_err().to_string();
    assert!(msg.contains("party 2 disconnected during mul"), "{msg}");
}

#[test]
fn a_silent_party_times_out_the_others() {
    let timeout = Duration::from_millis(300);
    let cfg = SharedConfig::default().timeout(timeout);
    let t0 = Instant::now();
    let (results, _) = run_parties(&cfg, |r| {
        two_products(r, Some(0), Duration::from_secs(3))?;
        Ok(Instant::now())
    });
    let sleeper_done = t0 + Duration::from_secs(3);
    // Party 1 waits for party 0's masked value in the second product and
    // gives up after the timeout.
    match &results[1] {
        Err(Error::Timeout {
            party: 0,
            op,
            timeout: t,
        }) => {
            assert_eq!(op, "mul");
            assert_eq!(*t, timeout);
        }
        other => panic!("party 1: expected a timeout on party 0, got {other:?}"),
    }
    // Party 2 goes on to the reveal and fails there, by timeout or because
    // party 1 has already gone.
    assert!(
        matches!(
            &results[2],
            Err(Error::Timeout { .. } | Error::PeerDisconnected { .. })
        ),
        "party 2: {:?}",
        results[2]
    );
    assert!(results[0].as_ref().is_ok_and(|t| *t >= sleeper_done));
}

/// A party 2 that runs key set-up honestly, then answers party 0's input
/// round, then misbehaves in the multiplication.
fn rogue_party_2(next: memory::MemoryChannel, prev: memory::MemoryChannel, misbehave: u8) {
    let mut net = Net::new(2, Box::new(next), Box::new(prev), Duration::from_secs(5)).unwrap();
    net.begin_round("key set-up");
    net.send(0, privml::ring::Payload::Bytes(vec![7; 16]))
        .unwrap();
    let _ = net.recv_bytes(1, 16).unwrap();
    net.reset_stats(); // as Party::new does: rounds count from the first op
    net.begin_round("input");
    let _ = net.recv_elems::<u64>(0, 100).unwrap();
    net.begin_round("mul");
    let _ = match misbehave {
        0 => net.send_elems::<u64>(1, vec![0; 2 * 100 + 1]), // one element too many
        1 => net.send(1, privml::ring::Payload::U128(vec![0; 200])), // wrong ring
        2 => net.send(1, privml::ring::Payload::Bytes(vec![0; 1599])), // not whole elements
        _ => {
            net.begin_round("mul"); // out of step
            net.send_elems::<u64>(1, vec![0; 200])
        }
    };
    std::thread::sleep(Duration::from_millis(200));
}

#[test]
fn malformed_frames_are_errors_not_panics() {
    for misbehave in 0..4u8 {
        let [l0, l1, (n2, p2)] = memory::triangle();
        let cfg = SharedConfig::default().timeout(Duration::from_secs(5));
        let results: Vec<privml::Result<()>> = std::thread::scope(|s| {
            let honest: Vec<_> = [(0usize, l0), (1usize, l1)]
                .into_iter()
                .map(|(me, (next, prev))| {
                    let cfg = &cfg;
                    s.spawn(move || {
                        let mut r = Shared::<u64>::new(me, Box::new(next), Box::new(prev), cfg)?;
                        let v = ArrayD::from_elem(vec![100], 1.0);
                        let x = r.input(0, r.owns(0).then_some(&v), &[100])?;
                        let y = r.mul(&x, &x)?;
                        r.reveal(&y).map(|_| ())
                    })
                })
                .collect();
            s.spawn(move || rogue_party_2(n2, p2, misbehave));
            honest.into_iter().map(|h| h.join().unwrap()).collect()
        });
        match &results[1] {
            Err(Error::Decode {
                what: "frame",
                origin: Origin::Peer { party: 2, op },
                error,
            }) => {
                assert_eq!(op, "mul");
                assert!(!error.to_string().is_empty());
                let expected = match misbehave {
                    0 | 2 => matches!(error, DecodeError::WrongLength { .. }),
                    1 => matches!(error, DecodeError::WrongKind { .. }),
                    _ => matches!(error, DecodeError::BadField { field: "round", .. }),
                };
                assert!(expected, "case {misbehave}: {error:?}");
            }
            other => {
                panic!("case {misbehave}: party 1 should reject party 2's frame, got {other:?}")
            }
        }
        assert!(
            results[0].is_err(),
            "case {misbehave}: party 0 must fail too"
        );
    }
}
