//! Three parties as threads of this process, joined by TCP with mutual TLS
//! over loopback: the same results and the same cost as the in-memory
//! simulation with the same seed; refusals and malformed frames from a
//! peer fail cleanly.
#![cfg(feature = "tls")]

use crate::net_common;

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ndarray::ArrayD;
use privml::net::config::PartiesConfig;
use privml::net::frame::{self, HEADER_LEN, KIND_HELLO};
use privml::net::tcp::{self, ConnectOptions, WireStats};
use privml::net::tls::{self, Credentials};
use privml::ring::RingElement;
use privml::{Cost, DecodeError, Error, Origin, Ring, Shared, SharedConfig};

/// Secret inputs from parties 0 and 1, an elementwise product, a matrix
/// product and a reveal.
fn program<R: Ring>(r: &mut R, n: usize) -> privml::Result<Vec<f64>> {
    let a = ArrayD::from_shape_fn(vec![n, n], |ix| {
        ((ix[0] * 7 + ix[1] * 3) % 11) as f64 / 10.0 - 0.5
    });
    let b = ArrayD::from_shape_fn(vec![n, n], |ix| {
        ((ix[0] * 5 + ix[1]) % 13) as f64 / 6.0 - 1.0
    });
    let x = r.input(0, r.owns(0).then_some(&a), &[n, n])?;
    let y = r.input(1, r.owns(1).then_some(&b), &[n, n])?;
    let z = r.mul(&x, &y)?;
    let w = r.matmul(&z, &y)?;
    let out = r.reveal(&w)?;
    Ok(out.iter().copied().collect())
}

struct PartyRun<O> {
    out: O,
    cost: Cost,
    messages: u64,
    overhead: u64,
    wire: [WireStats; 2],
}

/// Runs `f` on three parties connected over TLS with `opts`.
fn run_tcp<T, O, F>(
    parties: &PartiesConfig,
    cfg: &SharedConfig,
    opts: &ConnectOptions,
    f: F,
) -> Vec<privml::Result<PartyRun<O>>>
where
    T: RingElement,
    O: Send,
    F: Fn(&mut Shared<T>) -> privml::Result<O> + Sync,
{
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..3)
            .map(|me| {
                let f = &f;
                s.spawn(move || -> privml::Result<PartyRun<O>> {
                    let links = tcp::connect(parties, me, opts)?;
                    let handles = links.handles();
                    let (next, prev) = links.into_boxed();
                    let mut r = Shared::<T>::new(me, next, prev, cfg)?;
                    let out = f(&mut r)?;
                    let cost = r.cost();
                    let net = r.party_mut().net();
                    Ok(PartyRun {
                        out,
                        cost,
                        messages: net.stats().messages_sent,
                        overhead: net.overhead_bytes(),
                        wire: [handles[0].stats(), handles[1].stats()],
                    })
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("party thread panicked"))
            .collect()
    })
}

fn check_against_memory<T: RingElement>(n: usize, tag: &str) {
    let (_dir, config) = net_common::deployment(tag);
    let parties = PartiesConfig::load(&config).unwrap();
    let cfg = SharedConfig::default()
        .insecure_test_seed(42)
        .timeout(Duration::from_secs(20));
    let opts = ConnectOptions::from_config(&parties).session("tcp test");
    let (mem, mem_cost) = Shared::<T>::simulate_with_cost(&cfg, |r| program(r, n)).unwrap();
    let runs = run_tcp::<T, _, _>(&parties, &cfg, &opts, |r| program(r, n));
    for (me, run) in runs.into_iter().enumerate() {
        let run = run.unwrap_or_else(|e| panic!("party {me}: {e}"));
        // Same seed, same protocol randomness: bit-identical results.
        assert_eq!(
            run.out, mem[me],
            "party {me}: results differ from the simulation"
        );
        assert_eq!(
            run.cost.bytes_sent[me], mem_cost.bytes_sent[me],
            "party {me}: payload bytes"
        );
        assert_eq!(
            run.cost.messages_sent[me], mem_cost.messages_sent[me],
            "party {me}: messages"
        );
        assert_eq!(run.cost.rounds, mem_cost.rounds, "party {me}: rounds");
        // One header per frame, the key set-up frame included.
        assert_eq!(
            run.overhead,
            HEADER_LEN as u64 * (run.messages + 1),
            "party {me}: overhead"
        );
        let payload: u64 = run.wire.iter().map(|w| w.payload_bytes_sent).sum();
        let tls_bytes: u64 = run.wire.iter().map(|w| w.tls_bytes_sent).sum();
        assert!(tls_bytes >= payload + run.overhead);
        println!(
            "{} n={n} party {me}: payload {} B (as in memory), headers {} B, on the wire with TLS {} B",
            T::NAME,
            run.cost.bytes_sent[me],
            run.overhead,
            tls_bytes
        );
    }
}

#[test]
fn tls_parties_match_the_simulation_z64() {
    check_against_memory::<u64>(12, "tcp64");
}

#[test]
fn tls_parties_match_the_simulation_z128() {
    check_against_memory::<u128>(9, "tcp128");
}

/// 2^20-element products: every party sends 8 MiB to a peer that is itself
/// sending, far beyond the socket buffers. Synchronous transports deadlock
/// here.
#[test]
fn large_tensors_in_a_cycle_do_not_deadlock() {
    let (_dir, config) = net_common::deployment("tcpbig");
    let parties = PartiesConfig::load(&config).unwrap();
    let cfg = SharedConfig::default()
        .insecure_test_seed(3)
        .timeout(Duration::from_secs(30));
    let opts = ConnectOptions::from_config(&parties);
    let n = 1 << 20;
    let prog = |r: &mut Shared<u64>| {
        let v = ArrayD::from_shape_fn(vec![n], |ix| (ix[0] % 17) as f64 / 4.0 - 2.0);
        let x = r.input(0, r.owns(0).then_some(&v), &[n])?;
        let y = r.mul(&x, &x)?;
        let z = r.reveal(&y)?;
        Ok(z[[n - 1]])
    };
    let runs = run_tcp::<u64, _, _>(&parties, &cfg, &opts, prog);
    let expect = ((n - 1) % 17) as f64 / 4.0 - 2.0;
    for run in runs {
        let run = run.unwrap();
        assert!((run.out - expect * expect).abs() < 1e-3);
    }
}

#[test]
fn parties_with_different_jobs_stop_at_set_up() {
    let (_dir, config) = net_common::deployment("tcpjob");
    let parties = PartiesConfig::load(&config).unwrap();
    let errs: Vec<String> =
        std::thread::scope(|s| {
            let hs: Vec<_> =
                (0..3)
                    .map(|me| {
                        let parties = &parties;
                        s.spawn(move || {
                            let mut opts = ConnectOptions::from_config(parties)
                                .session(if me == 2 { "demo B" } else { "demo A" });
                            opts.deadline = Duration::from_secs(3);
                            tcp::connect(parties, me, &opts).map(|_| ())
                        })
                    })
                    .collect();
            hs.into_iter()
                .map(|h| match h.join().unwrap() {
                    Ok(()) => String::new(),
                    Err(e) => e.to_string(),
                })
                .collect()
        });
    // The mismatch names what differs (free text: by its line).
    assert!(
        errs[2].contains(
            "was started for a different job: its line 1 is demo A, this party's is demo B"
        ),
        "{}",
        errs[2]
    );
    assert!(
        errs[0].contains("party 2 was started for a different job: its line 1 is demo B"),
        "{}",
        errs[0]
    );
}

/// Party 1's certificate cannot be used to pose as party 2: party 0 sees
/// the certificate's name, not the claim in the hello.
#[test]
fn a_party_cannot_pose_as_another() {
    let (dir, config) = net_common::deployment("tcppose");
    let parties = PartiesConfig::load(&config).unwrap();
    let creds1 = Credentials::load(
        &dir.join("ca.pem"),
        &dir.join("party1.pem"),
        &dir.join("party1.key"),
    )
    .unwrap();
    // The library refuses to start as party 2 with party 1's certificate...
    assert!(creds1.check_identity(2).is_err());
    // ...and party 0 refuses such a client if it tries anyway.
    let addresses = parties.parties.clone().map(|p| p.address);
    let mut opts = ConnectOptions::from_config(&parties);
    opts.deadline = Duration::from_secs(2);
    opts.log_refusals = false;
    let (r0, r2) = std::thread::scope(|s| {
        let p0 = s.spawn(|| tcp::connect(&parties, 0, &opts).map(|_| ()));
        let p2 =
            s.spawn(|| tcp::connect_with(&creds1, 2, &addresses, "127.0.0.1:0", &opts).map(|_| ()));
        (p0.join().unwrap(), p2.join().unwrap())
    });
    assert!(
        matches!(r0, Err(Error::Unreachable { .. })),
        "party 0 must not accept the impostor: {r0:?}"
    );
    assert!(r2.is_err());
}

/// A genuine party 2 written by hand: it connects to party 0 with party 2's
/// credentials, exchanges hellos for job `session`, and returns the TLS
/// stream, on which the test writes what it likes.
fn hand_made_party2(
    dir: &std::path::Path,
    parties: &PartiesConfig,
    session: &[u8],
) -> rustls::StreamOwned<rustls::ClientConnection, std::net::TcpStream> {
    let creds = Credentials::load(
        &dir.join("ca.pem"),
        &dir.join("party2.pem"),
        &dir.join("party2.key"),
    )
    .unwrap();
    let client = tls::client_config(&creds).unwrap();
    let sock = loop {
        match std::net::TcpStream::connect(&parties.party(0).address) {
            Ok(s) => break s,
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    };
    let conn =
        rustls::ClientConnection::new(Arc::clone(&client), tls::peer_server_name(0).unwrap())
            .unwrap();
    let mut tls_stream = rustls::StreamOwned::new(conn, sock);
    let mut hello = vec![1u8, 2, 0];
    hello.extend_from_slice(session);
    frame::write_control(&mut tls_stream, KIND_HELLO, &hello).unwrap();
    tls_stream.flush().unwrap();
    let reply = frame::read_message(&mut tls_stream, 1 << 16).unwrap();
    assert!(matches!(reply, frame::Message::Hello(_)));
    tls_stream
}

/// Parties 0 and 1 start (key set-up), and a hand-made party 2 sends party
/// 0 a frame header claiming `claimed` bytes of its key-set-up message (16
/// bytes are due), and a few bytes. Returns party 0's result and how long it
/// took.
fn party0_against_a_claim(tag: &str, claimed: u64) -> (privml::Result<()>, Duration) {
    let (dir, config) = net_common::deployment(tag);
    let parties = PartiesConfig::load(&config).unwrap();
    let cfg = SharedConfig::default().timeout(Duration::from_secs(20));
    let mut opts = ConnectOptions::from_config(&parties).session("s");
    opts.deadline = Duration::from_secs(3);
    let t0 = Instant::now();
    let (r0, _r1) = std::thread::scope(|s| {
        let p0 = s.spawn(|| -> privml::Result<()> {
            let (next, prev) = tcp::connect(&parties, 0, &opts)?.into_boxed();
            Shared::<u64>::new(0, next, prev, &cfg).map(|_| ())
        });
        let p1 = s.spawn(|| -> privml::Result<()> {
            let (next, prev) = tcp::connect(&parties, 1, &opts)?.into_boxed();
            Shared::<u64>::new(1, next, prev, &cfg).map(|_| ())
        });
        let mut tls_stream = hand_made_party2(&dir, &parties, b"s");
        tls_stream
            .write_all(&frame::encode_header(3, 0, claimed))
            .unwrap();
        tls_stream.write_all(&[0u8; 64]).unwrap();
        tls_stream.flush().unwrap();
        let r0 = p0.join().unwrap();
        drop(tls_stream);
        (r0, p1.join().unwrap())
    });
    (r0, t0.elapsed())
}

/// The malformed-frame error of party 0 about party 2.
fn frame_error_from_party2(r: &privml::Result<()>) -> &DecodeError {
    match r {
        Err(Error::Decode {
            what: "frame",
            origin: Origin::Peer { party: 2, .. },
            error,
        }) => error,
        other => panic!("party 0: expected a malformed frame from party 2, got {other:?}"),
    }
}

/// A peer that authenticates correctly and then sends a frame claiming
/// 2^40 bytes: party 0 fails with a malformed-frame error at once, without
/// trying to read (or allocate) the claimed size.
#[test]
fn an_oversized_frame_from_a_peer_is_refused() {
    let (r0, took) = party0_against_a_claim("tcphuge", 1 << 40);
    let error = frame_error_from_party2(&r0);
    assert!(
        matches!(
            error,
            DecodeError::TooLarge {
                declared: 1099511627776,
                ..
            }
        ),
        "{error}"
    );
    assert!(error.to_string().contains("1099511627776"), "{error}");
    assert!(took < Duration::from_secs(15));
}

/// A frame within the transport's limit but longer than the protocol
/// expects (512 MiB where a 16-byte key is due) is refused from its header,
/// at once, instead of waiting for (and buffering) the payload.
#[test]
fn a_frame_of_an_unexpected_length_is_refused_at_its_header() {
    let (r0, took) = party0_against_a_claim("tcplen", 1 << 29);
    let error = frame_error_from_party2(&r0);
    assert!(
        matches!(
            error,
            DecodeError::WrongLength {
                expected: 16,
                found: 536870912
            }
        ),
        "{error}"
    );
    // party 0 would otherwise wait its 20 s timeout for the payload
    assert!(took < Duration::from_secs(10), "{took:?}");
}

/// Three connected parties' links (as threads of this process), with
/// `io_timeout` for blocked sends.
fn connected(tag: &str, io_timeout: Duration) -> Vec<tcp::PartyLinks> {
    let (_dir, config) = net_common::deployment(tag);
    let parties = PartiesConfig::load(&config).unwrap();
    let mut opts = ConnectOptions::from_config(&parties).session("q");
    opts.io_timeout = io_timeout;
    std::thread::scope(|s| {
        let hs: Vec<_> = (0..3)
            .map(|me| {
                let (parties, opts) = (&parties, &opts);
                s.spawn(move || tcp::connect(parties, me, opts).unwrap())
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// A peer that sends far ahead of what this party reads is held back: the
/// queue of each link is bounded, so its sends block (and time out) instead
/// of filling this party's memory, and what was queued arrives intact.
#[test]
fn a_peer_sending_ahead_meets_back_pressure() {
    use privml::net::{Channel, Frame};
    use privml::ring::Payload;
    const FRAMES: u64 = 64;
    const ELEMS: usize = 1 << 17; // 1 MiB per frame
    let mut links = connected("tcpflood", Duration::from_secs(1));
    let p1 = links.remove(1);
    let p0 = links.remove(0);
    let (mut to1, mut from0, mut to2) = (p0.next, p1.prev, p1.next);
    let sent = std::thread::scope(|s| {
        let flood = s.spawn(move || {
            let mut sent = 0u64;
            for round in 0..FRAMES {
                let payload = Payload::U64(vec![round; ELEMS]);
                if to1.send(Frame { round, payload }).is_err() {
                    break;
                }
                sent += 1;
            }
            sent
        });
        // Party 1 waits 3 s for party 2 (which sends nothing), reading party
        // 0's link meanwhile as far as its queue allows.
        assert!(to2.recv(Duration::from_secs(3)).is_err());
        flood.join().unwrap()
    });
    assert!(
        sent < FRAMES,
        "all {FRAMES} MiB went out while party 1 read nothing of them"
    );
    assert!(sent >= tcp::MAX_QUEUED_FRAMES as u64, "{sent}");
    for round in 0..tcp::MAX_QUEUED_FRAMES as u64 {
        let f = from0.recv(Duration::from_secs(5)).unwrap();
        assert_eq!(f.round, round);
        assert!(
            matches!(f.payload, Payload::U64(v) if v.len() == ELEMS && v.iter().all(|x| *x == round))
        );
    }
}

/// Clients that connect to a listening party and say nothing do not hold
/// up the set-up: handshakes run concurrently, so the parties connect in
/// less than one handshake timeout although three silent clients came
/// first.
#[test]
fn silent_clients_do_not_stall_set_up() {
    let (_dir, config) = net_common::deployment("tcpsilent");
    let parties = PartiesConfig::load(&config).unwrap();
    let mut opts = ConnectOptions::from_config(&parties).session("q");
    opts.log_refusals = false;
    let t0 = Instant::now();
    let done = std::thread::scope(|s| {
        let p0 = s.spawn(|| tcp::connect(&parties, 0, &opts).map(|_| Instant::now()));
        let silent: Vec<std::net::TcpStream> = (0..3)
            .map(|_| {
                loop {
                    match std::net::TcpStream::connect(&parties.party(0).address) {
                        Ok(sock) => break sock,
                        Err(_) => std::thread::sleep(Duration::from_millis(20)),
                    }
                }
            })
            .collect();
        std::thread::sleep(Duration::from_millis(200));
        let p1 = s.spawn(|| tcp::connect(&parties, 1, &opts).map(|_| ()));
        let p2 = s.spawn(|| tcp::connect(&parties, 2, &opts).map(|_| ()));
        p1.join().unwrap().unwrap();
        p2.join().unwrap().unwrap();
        let done = p0.join().unwrap().unwrap();
        drop(silent);
        done
    });
    let took = done - t0;
    assert!(
        took < tcp::HANDSHAKE_TIMEOUT,
        "set-up took {took:?} behind three silent clients"
    );
}
