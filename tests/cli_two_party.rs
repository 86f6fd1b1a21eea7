//! The two-party protocol as processes over mutual TLS: `privml dealer`
//! live or writing preprocessing files, `privml party --protocol 2pc`; the
//! article's alice-and-bob run prints what the in-process demo prints.
#![cfg(all(feature = "tls", feature = "cli"))]

mod net_common;

use std::time::Duration;

use net_common::{deployment, finish_within, spawn};

const BIN: &str = env!("CARGO_BIN_EXE_privml");
const LIMIT: Duration = Duration::from_secs(120);
const JOB: [&str; 4] = ["demo", "reservoir", "--parties", "2"];

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The losses the reservoir demo printed (step, value) and its class line.
fn reservoir_results(stdout: &str) -> (Vec<(usize, f64)>, String) {
    let losses = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("loss at step "))
        .map(|l| {
            let (s, v) = l.split_once(": ").expect("step: value");
            (s.parse().expect("step"), v.parse().expect("loss"))
        })
        .collect();
    let classes = stdout
        .lines()
        .find(|l| l.starts_with("predictions:"))
        .map(|l| l.split(" (").next().unwrap_or(l).to_string())
        .unwrap_or_default();
    (losses, classes)
}

fn assert_same_run(got: &str, want: &str) {
    let (gl, gc) = reservoir_results(got);
    let (wl, wc) = reservoir_results(want);
    assert_eq!(gc, "predictions: [0, 1, 1, 0]", "{got}");
    assert_eq!(gc, wc);
    assert_eq!(gl.len(), 5, "{got}");
    for ((gs, g), (ws, w)) in gl.iter().zip(&wl) {
        assert_eq!(gs, ws);
        assert!((g - w).abs() <= 1e-2 * w.max(0.1), "step {gs}: {g} vs {w}");
    }
}

fn local_run() -> String {
    let local = finish_within(spawn(BIN, &JOB), LIMIT);
    assert!(local.status.success(), "{}", text(&local.stderr));
    text(&local.stdout)
}

#[test]
fn dealer_and_two_parties_over_tls_print_the_in_process_run() {
    let (_dir, config) = deployment("2pc-live");
    let config = config.to_str().expect("utf-8 path");
    let start = |head: &[&str]| {
        let mut a = head.to_vec();
        a.extend(JOB);
        spawn(BIN, &a)
    };
    // any start order
    let d = start(&["dealer", "--config", config]);
    let one = start(&["party", "--id", "1", "--config", config]);
    let zero = start(&["party", "--id", "0", "--config", config]);
    let (o0, o1, od) = (
        finish_within(zero, LIMIT),
        finish_within(one, LIMIT),
        finish_within(d, LIMIT),
    );
    for (who, o) in [("party 0", &o0), ("party 1", &o1), ("dealer", &od)] {
        assert!(o.status.success(), "{who}: {}", text(&o.stderr));
    }
    assert!(text(&od.stderr).contains("the dealer: done"));
    assert!(
        o1.stdout.is_empty() && od.stdout.is_empty(),
        "only party 0 prints"
    );
    assert_same_run(&text(&o0.stdout), &local_run());
}

#[test]
fn preprocessing_files_serve_one_run_of_their_job() {
    let (dir, config) = deployment("2pc-prep");
    let config = config.to_str().expect("utf-8 path");
    let prep = dir.join("prep");
    let prep = prep.to_str().expect("utf-8 path");
    let mut deal = vec!["dealer", "--out", prep];
    deal.extend(JOB);
    let out = finish_within(spawn(BIN, &deal), LIMIT);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("party1.prep"));
    let party = |id: &'static str, extra: &[&str]| {
        let file = format!("{prep}/party{id}.prep");
        let mut a = vec!["party", "--id", id, "--config", config, "--prep", &file];
        a.extend(extra);
        spawn(BIN, &a)
    };
    let one = party("1", &JOB);
    let zero = party("0", &JOB);
    let (o0, o1) = (finish_within(zero, LIMIT), finish_within(one, LIMIT));
    assert!(o0.status.success(), "{}", text(&o0.stderr));
    assert!(o1.status.success(), "{}", text(&o1.stderr));
    assert_same_run(&text(&o0.stdout), &local_run());

    // A second run with the same files is refused before anything runs.
    let again = finish_within(party("0", &JOB), LIMIT);
    assert!(!again.status.success());
    assert!(
        text(&again.stderr).contains("already used"),
        "{}",
        text(&again.stderr)
    );

    // Files for another job are refused.
    let other = dir.join("other");
    let other = other.to_str().expect("utf-8 path");
    let mut deal = vec!["dealer", "--out", other];
    deal.extend(JOB);
    deal.extend(["--iterations", "10"]);
    assert!(finish_within(spawn(BIN, &deal), LIMIT).status.success());
    let file = format!("{other}/party1.prep");
    let mut a = vec!["party", "--id", "1", "--config", config, "--prep", &file];
    a.extend(JOB);
    let wrong = finish_within(spawn(BIN, &a), LIMIT);
    assert!(!wrong.status.success());
    assert!(
        text(&wrong.stderr).contains("dealt for another program"),
        "{}",
        text(&wrong.stderr)
    );
}

#[test]
fn ids_and_flags_that_do_not_fit_the_protocol_are_refused() {
    let (_dir, config) = deployment("2pc-args");
    let config = config.to_str().expect("utf-8 path");
    let mut a = vec!["party", "--id", "2", "--config", config];
    a.extend(JOB);
    let o = finish_within(spawn(BIN, &a), LIMIT);
    assert!(!o.status.success());
    assert!(
        text(&o.stderr).contains("privml dealer"),
        "{}",
        text(&o.stderr)
    );
    let o = finish_within(
        spawn(
            BIN,
            &[
                "dealer",
                "--config",
                config,
                "demo",
                "reservoir",
                "--protocol",
                "3pc",
            ],
        ),
        LIMIT,
    );
    assert!(!o.status.success());
    assert!(text(&o.stderr).contains("two-party"), "{}", text(&o.stderr));
    let o = finish_within(
        spawn(
            BIN,
            &[
                "party",
                "--id",
                "0",
                "--config",
                config,
                "--prep",
                "x.prep",
                "demo",
                "reservoir",
            ],
        ),
        LIMIT,
    );
    assert!(!o.status.success());
    assert!(
        text(&o.stderr).contains("--prep is for the two-party protocol"),
        "{}",
        text(&o.stderr)
    );
}
