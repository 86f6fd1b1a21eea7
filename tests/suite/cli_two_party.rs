//! The two-party protocol as processes over mutual TLS: `privml dealer`
//! live or writing preprocessing files, `privml party --protocol 2pc`; the
//! article's alice-and-bob run prints what the in-process demo prints;
//! `train` and `predict --protocol 2pc` in one process and as two parties
//! and a live dealer.
#![cfg(all(feature = "tls", feature = "cli"))]

use crate::net_common;

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

/// `train` and `predict` options shared by every participant.
const TRAIN: [&str; 10] = [
    "--model",
    "mlp:8",
    "--epochs",
    "2",
    "--batch",
    "32",
    "--insecure-seed",
    "3",
    "--protocol",
    "2pc",
];

fn breast_cancer_csv() -> String {
    format!("{}/data/breast_cancer.csv", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn train_and_predict_in_process_on_two_parties() {
    let (dir, _) = deployment("2pc-train-local");
    let prefix = dir.join("bc");
    let p = prefix.to_str().expect("utf-8 path");
    let mut args = vec!["train", "--data", "breast_cancer", "--out", p];
    args.extend(TRAIN);
    let o = finish_within(spawn(BIN, &args), LIMIT);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(
        out.contains("epoch 2: train loss") && out.contains("test accuracy"),
        "{out}"
    );
    // the parties' shares and the dealer's shapes
    for id in 0..3 {
        assert!(dir.join(format!("bc.party{id}.shares")).exists(), "{id}");
    }
    let csv = dir.join("pred.csv");
    let data = breast_cancer_csv();
    let predict = |extra: &[&str]| {
        let mut a = vec!["predict", "--model", p, "--data", &data];
        a.extend(extra);
        finish_within(spawn(BIN, &a), LIMIT)
    };
    let o = predict(&[
        "--protocol",
        "2pc",
        "--out",
        csv.to_str().expect("utf-8 path"),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(
        out.contains("569 predictions") && out.contains("accuracy against 'target'"),
        "{out}"
    );
    assert_eq!(std::fs::read_to_string(&csv).unwrap().lines().count(), 570);
    // The three-party protocol cannot use two-party shares, and says so.
    let o = predict(&[]);
    assert!(!o.status.success());
    let err = text(&o.stderr);
    assert!(err.contains("--protocol"), "{err}");
}

#[test]
fn train_and_predict_as_two_parties_and_a_live_dealer() {
    let (dir, config) = deployment("2pc-train");
    let config = config.to_str().expect("utf-8 path");
    let prefix = dir.join("m");
    let p = prefix.to_str().expect("utf-8 path");
    let start = |head: &[&str], job: &[&str]| {
        let mut a = head.to_vec();
        a.extend(job);
        spawn(BIN, &a)
    };
    // only the data owner (party 1) has the data; the dealer has none
    let mut owner = vec!["train", "--data", "breast_cancer", "--out", p];
    owner.extend(TRAIN);
    let mut other = vec!["train", "--out", p];
    other.extend(TRAIN);
    let d = start(&["dealer", "--config", config], &other);
    let one = start(&["party", "--id", "1", "--config", config], &owner);
    let zero = start(&["party", "--id", "0", "--config", config], &other);
    let outs = [
        finish_within(zero, LIMIT),
        finish_within(one, LIMIT),
        finish_within(d, LIMIT),
    ];
    for (id, o) in outs.iter().enumerate() {
        assert!(o.status.success(), "{id}: {}", text(&o.stderr));
        assert!(dir.join(format!("m.party{id}.shares")).exists(), "{id}");
    }
    assert!(
        text(&outs[0].stdout).contains("epoch 2: train loss"),
        "{}",
        text(&outs[0].stdout)
    );
    // predict: each loads its own file; the owner passes the rows
    let data = breast_cancer_csv();
    let pred = dir.join("pred.csv");
    let pred = pred.to_str().expect("utf-8 path");
    let model = |id: usize| dir.join(format!("m.party{id}.shares"));
    let (m0, m1, m2) = (model(0), model(1), model(2));
    let (m0, m1, m2) = (
        m0.to_str().expect("utf-8"),
        m1.to_str().expect("utf-8"),
        m2.to_str().expect("utf-8"),
    );
    let two = ["--protocol", "2pc"];
    let d = start(
        &["dealer", "--config", config, "predict", "--model", m2],
        &two,
    );
    let one = start(
        &[
            "party", "--id", "1", "--config", config, "predict", "--model", m1, "--data", &data,
            "--out", pred,
        ],
        &two,
    );
    let zero = start(
        &[
            "party", "--id", "0", "--config", config, "predict", "--model", m0,
        ],
        &two,
    );
    let outs = [
        finish_within(zero, LIMIT),
        finish_within(one, LIMIT),
        finish_within(d, LIMIT),
    ];
    for (id, o) in outs.iter().enumerate() {
        assert!(o.status.success(), "{id}: {}", text(&o.stderr));
    }
    let owner = text(&outs[1].stdout);
    assert!(
        owner.contains("569 predictions") && owner.contains("accuracy against 'target'"),
        "{owner}"
    );
    assert_eq!(std::fs::read_to_string(pred).unwrap().lines().count(), 570);
    // neither party 0 nor the dealer sees the rows or the predictions
    for o in [&outs[0], &outs[2]] {
        assert!(
            !text(&o.stdout).contains("predictions"),
            "{}",
            text(&o.stdout)
        );
    }
}

/// Party 0's epoch lines (the figures of the run, without timings).
fn epoch_lines(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter(|l| l.starts_with("epoch "))
        .map(|l| l.split(" (").next().unwrap_or(l).to_string())
        .collect()
}

/// One command line from its parts.
fn line(parts: &[&[&str]]) -> Vec<String> {
    parts
        .iter()
        .flat_map(|p| p.iter())
        .map(|s| s.to_string())
        .collect()
}

fn start(args: &[String]) -> std::process::Child {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    spawn(BIN, &a)
}

/// Runs processes concurrently and waits for all.
fn run_all(lines: &[Vec<String>]) -> Vec<std::process::Output> {
    let children: Vec<_> = lines.iter().map(|l| start(l)).collect();
    children
        .into_iter()
        .map(|c| finish_within(c, LIMIT))
        .collect()
}

fn succeeded(outs: &[std::process::Output]) {
    for (i, o) in outs.iter().enumerate() {
        assert!(o.status.success(), "process {i}: {}", text(&o.stderr));
    }
}

#[test]
fn train_and_predict_from_files_dealt_ahead_for_the_owners_description() {
    let (dir, config) = deployment("2pc-train-ahead");
    let config = config.to_str().expect("utf-8 path");
    let path = |name: &str| dir.join(name).to_str().expect("utf-8 path").to_string();
    let (live, ahead) = (path("live"), path("ahead"));
    let (public, prep, prep2, prep3) = (
        path("public.bin"),
        path("prep"),
        path("prep2"),
        path("prep3"),
    );
    let data = breast_cancer_csv();
    let party = |id: &str| -> Vec<String> { line(&[&["party", "--id", id, "--config", config]]) };
    let with_prep = |id: &str, dir: &str| -> Vec<String> {
        let f = format!("{dir}/party{id}.prep");
        line(&[&["party", "--id", id, "--config", config, "--prep", &f]])
    };
    let cat = |a: Vec<String>, b: &[&str]| -> Vec<String> {
        let mut a = a;
        a.extend(b.iter().map(|s| s.to_string()));
        a
    };
    let owner_live = line(&[
        &["train", "--data", "breast_cancer", "--out", &live],
        &TRAIN,
    ]);
    let other_live = line(&[&["train", "--out", &live], &TRAIN]);
    let owner_ahead = line(&[
        &["train", "--data", "breast_cancer", "--out", &ahead],
        &TRAIN,
    ]);
    let other_ahead = line(&[&["train", "--out", &ahead], &TRAIN]);
    let join = |a: Vec<String>, b: &[String]| -> Vec<String> {
        let mut a = a;
        a.extend(b.iter().cloned());
        a
    };

    // The same training with a live dealer, for reference.
    let outs = run_all(&[
        join(party("0"), &other_live),
        join(party("1"), &owner_live),
        join(line(&[&["dealer", "--config", config]]), &other_live),
    ]);
    succeeded(&outs);
    let want = epoch_lines(&text(&outs[0].stdout));
    assert_eq!(want.len(), 2, "{}", text(&outs[0].stdout));

    // Ahead of time: a dealer without the description is refused ...
    let o = &run_all(&[join(line(&[&["dealer", "--out", &prep]]), &other_ahead)])[0];
    assert!(!o.status.success());
    assert!(
        text(&o.stderr).contains("--announced"),
        "{}",
        text(&o.stderr)
    );
    // ... the data owner (party 1) writes it, the dealer deals for it ...
    let announce = line(&[&["announce", "--id", "1", "--out", &public]]);
    let o = run_all(&[join(announce.clone(), &owner_ahead)]);
    succeeded(&o);
    assert!(
        text(&o[0].stdout).contains("2 public values"),
        "{}",
        text(&o[0].stdout)
    );
    let deal = |dir: &str, job: &[String]| {
        let o = run_all(&[join(
            line(&[&["dealer", "--out", dir, "--announced", &public]]),
            job,
        )]);
        succeeded(&o);
    };
    deal(&prep, &other_ahead);
    // ... and the two parties train from the files alone, as live.
    let zero = join(with_prep("0", &prep), &other_ahead);
    let outs = run_all(&[zero.clone(), join(with_prep("1", &prep), &owner_ahead)]);
    succeeded(&outs);
    assert_eq!(
        epoch_lines(&text(&outs[0].stdout)),
        want,
        "the same keys and the same material"
    );
    // A second run on the same files is refused.
    let again = &run_all(&[zero])[0];
    assert!(!again.status.success());
    assert!(
        text(&again.stderr).contains("already used"),
        "{}",
        text(&again.stderr)
    );

    // Data of other shapes than dealt for: the owner refuses before it
    // announces, with the reason, and party 0 stops too.
    // (other output prefixes: the dealer's file of shapes must not replace
    // the one the model trained ahead was dealt with)
    let ahead2 = path("ahead2");
    let owner_ahead2 = line(&[
        &["train", "--data", "breast_cancer", "--out", &ahead2],
        &TRAIN,
    ]);
    let other_ahead2 = line(&[&["train", "--out", &ahead2], &TRAIN]);
    succeeded(&run_all(&[join(announce.clone(), &owner_ahead2)]));
    deal(&prep2, &other_ahead2);
    // (the diabetes table: 10 features, not 30; the file name is private,
    // so the job descriptions still agree)
    let short_owner = line(&[&["train", "--data", "diabetes", "--out", &ahead2], &TRAIN]);
    let outs = run_all(&[
        join(with_prep("0", &prep2), &other_ahead2),
        join(with_prep("1", &prep2), &short_owner),
    ]);
    assert!(!outs[0].status.success() && !outs[1].status.success());
    assert!(
        text(&outs[1].stderr).contains("differ from the ones this preprocessing was dealt for"),
        "{}",
        text(&outs[1].stderr)
    );

    // Predict ahead of time with the model trained from files: the owner
    // gets what a live prediction with the live model gives.
    let two = ["--protocol", "2pc"];
    let predict = |prefix: &str, id: usize| -> Vec<String> {
        let m = format!("{prefix}.party{id}.shares");
        let a = cat(line(&[&["predict", "--model", &m], &two]), &[]);
        if id == 1 {
            cat(a, &["--data", &data])
        } else {
            a
        }
    };
    let outs = run_all(&[
        join(party("0"), &predict(&live, 0)),
        join(party("1"), &predict(&live, 1)),
        join(line(&[&["dealer", "--config", config]]), &predict(&live, 2)),
    ]);
    succeeded(&outs);
    let want = text(&outs[1].stdout);
    succeeded(&run_all(&[join(announce, &predict(&ahead, 1))]));
    deal(&prep3, &predict(&ahead, 2));
    let outs = run_all(&[
        join(with_prep("0", &prep3), &predict(&ahead, 0)),
        join(with_prep("1", &prep3), &predict(&ahead, 1)),
    ]);
    succeeded(&outs);
    let got = text(&outs[1].stdout);
    let accuracy = |s: &str| {
        s.lines()
            .find(|l| l.starts_with("accuracy"))
            .map(String::from)
    };
    assert!(got.contains("569 predictions"), "{got}");
    assert!(accuracy(&got).is_some(), "{got}");
    assert_eq!(accuracy(&got), accuracy(&want));
}
