//! What a peer or a settings file says never makes a party panic, abort or
//! allocate what it claims: an announced shape above the limit is a typed
//! error naming it, a receiver allocates nothing for an input before the
//! owner's frame of that size has arrived, and waits too long for
//! `Instant::now() + wait` are refused with the limit.
//!
//! The allocation checks count per thread (`tests/alloc_stats/`): the party
//! under test runs on the test's own thread.

mod alloc_stats;
#[cfg(all(feature = "tls", feature = "cli"))]
mod net_common;

use std::time::Duration;

use alloc_stats::allocated_by;
use privml::mpc::Party;
use privml::net::{Net, memory};
use privml::ring::prg::Seed;
use privml::{DEFAULT_MAX_INPUT_ELEMENTS, Error, Ring, Shared, SharedConfig};

#[test]
fn an_announced_shape_above_the_limit_is_refused_naming_it() {
    // The data owner (party 0) inputs two values; the other two parties were
    // told (announced) a shape of 2^61 elements: 2^64 bytes of PRF shares.
    let huge = [1usize << 61];
    let overflowing = [1usize << 40, 1 << 40];
    let zero_hides_huge = [0usize, usize::MAX];
    for shape in [&huge[..], &overflowing, &zero_hides_huge] {
        let small = ndarray::arr1(&[1.0, 2.0]).into_dyn();
        let e = Shared::<u64>::simulate(|r| {
            if r.owns(0) {
                r.input(0, Some(&small), &[2]).map(|_| ())
            } else {
                r.input(0, None, shape).map(|_| ())
            }
        })
        .unwrap_err();
        match &e {
            Error::ShapeTooLarge {
                op: "input",
                shape: s,
                max_elements,
            } => {
                assert_eq!(s, shape);
                assert_eq!(*max_elements, DEFAULT_MAX_INPUT_ELEMENTS);
            }
            other => panic!("shape {shape:?}: expected ShapeTooLarge, got {other:?}"),
        }
        let msg = e.to_string();
        assert!(
            msg.contains(&format!("{shape:?}")) && msg.contains("max_input_elements"),
            "{msg}"
        );
    }
    // The limit is a setting: the same 4x4 shape passes or not.
    let x = ndarray::Array2::<f64>::ones((4, 4)).into_dyn();
    let run = |cfg: SharedConfig| {
        Shared::<u64>::simulate_with(&cfg, |r| {
            let t = r.input(1, r.owns(1).then_some(&x), &[4, 4])?;
            r.reveal(&t)
        })
    };
    assert!(run(SharedConfig::default().max_input_elements(16)).is_ok());
    assert!(matches!(
        run(SharedConfig::default().max_input_elements(15)),
        Err(Error::ShapeTooLarge {
            max_elements: 15,
            ..
        })
    ));
}

#[test]
fn a_receiver_allocates_nothing_for_an_input_before_the_owners_frame() {
    // Parties 0 and 2 run on their own threads; party 1 (which, for an input
    // of party 0, draws its first share from a PRF) runs on this thread so
    // that its allocations are counted. Party 0 sends two elements; party 1
    // was told 2^27 (a GiB of shares) and must fail on the frame's length
    // without allocating the GiB first.
    let claimed = 1usize << 27;
    let timeout = Duration::from_secs(20);
    let mut links = memory::triangle().into_iter();
    let (l0, l1, l2) = (
        links.next().expect("link"),
        links.next().expect("link"),
        links.next().expect("link"),
    );
    let owner = std::thread::spawn(move || -> privml::Result<()> {
        let net = Net::new(0, Box::new(l0.0), Box::new(l0.1), timeout)?;
        let mut p = Party::new(net, Seed::from_u64(10))?;
        p.input::<u64>(0, Some(&[1, 2]), 2).map(|_| ())
    });
    let other = std::thread::spawn(move || -> privml::Result<()> {
        let net = Net::new(2, Box::new(l2.0), Box::new(l2.1), timeout)?;
        let mut p = Party::new(net, Seed::from_u64(12))?;
        p.input::<u64>(0, None, 2).map(|_| ())
    });
    let net = Net::new(1, Box::new(l1.0), Box::new(l1.1), timeout).expect("net");
    let mut me = Party::new(net, Seed::from_u64(11)).expect("key set-up");
    let (r, bytes) = allocated_by(|| me.input::<u64>(0, None, claimed));
    match r {
        Err(Error::Decode {
            what: "frame",
            error: privml::error::DecodeError::WrongLength { expected, found },
            ..
        }) => assert_eq!((expected, found), (claimed as u64, 2)),
        other => panic!("expected a frame of the wrong length, got {other:?}"),
    }
    assert!(
        bytes < 1 << 16,
        "party 1 allocated {bytes} bytes before the owner's frame was checked"
    );
    drop(me);
    owner.join().expect("owner thread").expect("owner's input");
    other
        .join()
        .expect("party 2 thread")
        .expect("party 2's input");
}

/// `privml party --connect-deadline 1e19`: a clear error before connecting,
/// not a panic on `Instant::now() + deadline` once the credentials load.
#[cfg(all(feature = "tls", feature = "cli"))]
#[test]
fn a_connect_deadline_beyond_a_week_is_an_error_not_a_panic() {
    use std::process::Command;
    let (dir, config) = net_common::deployment("deadline");
    for (flag, value) in [("--connect-deadline", "1e19"), ("--timeout", "1.8e19")] {
        let out = Command::new(env!("CARGO_BIN_EXE_privml"))
            .args(["party", "--id", "2", "--config"])
            .arg(&config)
            .args([flag, value, "demo", "tutorial"])
            .output()
            .expect("run privml");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{flag} {value}: {stderr}");
        assert!(
            stderr.contains(flag) && stderr.contains("at most 604800 seconds"),
            "{flag} {value}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    // The same in the parties file.
    net_common::set_top_level(&config, "connect_deadline_secs", "1.8e19");
    let out = Command::new(env!("CARGO_BIN_EXE_privml"))
        .args(["party", "--id", "2", "--config"])
        .arg(&config)
        .args(["demo", "tutorial"])
        .output()
        .expect("run privml");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("connect_deadline_secs") && stderr.contains("at most 604800 seconds"),
        "{stderr}"
    );
    drop(dir);
}
