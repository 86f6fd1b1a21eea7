//! The source documents' experiments: reproduced in the clear, and the same
//! on secret shares.

use approx::assert_abs_diff_eq;
use privml::approx::{ApproxRow, Polynomial, sigmoid};
use privml::cost::Protocol;
use privml::experiments::{boolean, quiet, reservoir};
use privml::{Additive, Error, Fixed, Plain, Shared, SharedConfig};

fn cfg(seed: u64) -> SharedConfig {
    SharedConfig::default().insecure_test_seed(seed)
}

#[test]
fn plain_reproduces_the_notebook_numbers() {
    // The notebook printed errors 0.0384136825, 0.01946007, 0.0141456075, ...
    // and predictions 0.00638341, 0.99287968, 0.99361066, 0.00800036 on the
    // training rows (0 0 1, 0 1 1, 1 0 1, 1 1 1).
    let out = boolean::run(&mut Plain::new(), &boolean::headline(), &quiet).unwrap();
    let errs: Vec<f64> = out.errors.iter().map(|e| e.error).collect();
    for (got, want) in errs
        .iter()
        .zip([0.0384136825, 0.01946007, 0.0141456075, 0.0115575225])
    {
        assert_abs_diff_eq!(*got, want, epsilon = 2e-8);
    }
    let on_training_rows: Vec<f64> = [1, 3, 5, 7].iter().map(|&i| out.predictions[i].1).collect();
    for (got, want) in on_training_rows
        .iter()
        .zip([0.00638341, 0.99287968, 0.99361066, 0.00800036])
    {
        assert_abs_diff_eq!(*got, want, epsilon = 2e-8);
    }
    // the one wrong prediction of the tutorial, on the unseen input 0 1 0
    assert_eq!(out.classes(), vec![0, 0, 0, 1, 1, 1, 0, 0]);
}

/// Shared on three parties and on two parties with a dealer: both predict
/// Plain's classes and end at close errors.
fn shared_matches_plain(mut e: boolean::Experiment, iterations: usize, tol: f64) {
    e.iterations = iterations;
    let plain = boolean::run(&mut Plain::new(), &e, &quiet).unwrap();
    let [three, _, _] =
        Shared::<u64>::simulate_with(&cfg(11), |r| boolean::run(r, &e, &quiet)).unwrap();
    let [two, _] = Additive::<u64>::simulate_with(&cfg(11), Default::default(), |r| {
        boolean::run(r, &e, &quiet)
    })
    .unwrap();
    for shared in [three, two] {
        outcome_matches(&e, &plain, &shared, tol);
    }
}

fn outcome_matches(
    e: &boolean::Experiment,
    plain: &boolean::Outcome,
    shared: &boolean::Outcome,
    tol: f64,
) {
    assert_eq!(shared.classes(), plain.classes(), "{}", e.title);
    let (p, s) = (
        plain.errors.last().unwrap().error,
        shared.errors.last().unwrap().error,
    );
    assert!(
        (p - s).abs() < tol,
        "{}: final error plain {p} vs shared {s}",
        e.title
    );
    for ((_, ps), (_, ss)) in plain.predictions.iter().zip(&shared.predictions) {
        assert!(
            (ps - ss).abs() < 10.0 * tol,
            "{}: scores {ps} vs {ss}",
            e.title
        );
    }
}

#[test]
fn first_bit_on_shares_matches_plain() {
    let e = boolean::tutorial_experiments().unwrap().remove(0);
    assert_eq!(e.task, boolean::Task::FirstBit);
    shared_matches_plain(e, 2000, 2e-3);
}

#[test]
fn interpolated_parity_on_shares_matches_plain() {
    shared_matches_plain(boolean::headline(), 3000, 2e-3);
}

#[test]
fn maclaurin_5_collapse_is_explained_by_fixed() {
    let e = boolean::tutorial_experiments()
        .unwrap()
        .into_iter()
        .find(|e| e.arch == boolean::Arch::ThreeLayer && e.approx.name == "Maclaurin-5")
        .unwrap();
    match boolean::run(&mut Fixed::<u64>::new(), &e, &quiet) {
        Err(Error::Overflow(ev)) => {
            assert_eq!(ev.op, "mul", "the power tree's product overflows");
            assert_eq!(ev.label, "forward: activation");
            assert_eq!(ev.layer, Some(2), "the first sigmoid's input grows first");
            assert!(
                ev.step > 10 && ev.step < 100,
                "tutorial: collapse within 100 iterations, got {}",
                ev.step
            );
            assert!(ev.magnitude > ev.limit);
        }
        other => panic!(
            "expected an overflow report, got {:?}",
            other.map(|o| o.classes())
        ),
    }
    // The same run in f64 does not stop there: it goes on to absurd values,
    // the tutorial's 4.5e+22, or NaN.
    let plain = boolean::run(&mut Plain::new(), &e, &quiet);
    let absurd = match &plain {
        Ok(o) => o.errors.iter().any(|r| r.error > 1e3),
        Err(Error::NonFiniteResult { .. }) => true,
        Err(_) => false,
    };
    assert!(absurd, "plain run should diverge");
}

#[test]
fn xor_reservoir_learns_on_shares() {
    let cfg_r = reservoir::Reservoir::default();
    let plain = reservoir::run(&mut Plain::new(), &cfg_r, &quiet).unwrap();
    let [shared, _, _] =
        Shared::<u64>::simulate_with(&cfg(5), |r| reservoir::run(r, &cfg_r, &quiet)).unwrap();
    let cls = |v: &[f64]| v.iter().map(|x| (*x > 0.5) as u8).collect::<Vec<_>>();
    assert_eq!(
        cls(&shared.predictions),
        cls(&shared.targets),
        "predictions equal the targets"
    );
    assert_eq!(cls(&shared.predictions), cls(&plain.predictions));
    assert_eq!(shared.losses.len(), 5, "loss every 50 of 250 steps");
    let (lp, ls) = (
        plain.losses.last().unwrap().1,
        shared.losses.last().unwrap().1,
    );
    assert!(
        (lp - ls).abs() < 0.02,
        "final loss plain {lp} vs shared {ls}"
    );
    assert!(ls < shared.losses[0].1 / 4.0, "the loss falls");
}

#[test]
fn xor_reservoir_learns_on_two_parties_like_plain() {
    // The article's run as written: alice (party 0) and bob (party 1) hold
    // shares of the features, targets and model; a dealer supplies triples.
    let cfg_r = reservoir::Reservoir::default();
    let mut p = Plain::new().with_protocol(Protocol::Additive2);
    let plain = reservoir::run(&mut p, &cfg_r, &quiet).unwrap();
    let [alice, bob] = Additive::<u64>::simulate_with(&cfg(6), Default::default(), |r| {
        reservoir::run(r, &cfg_r, &quiet)
    })
    .unwrap();
    let cls = |v: &[f64]| v.iter().map(|x| (*x > 0.5) as u8).collect::<Vec<_>>();
    for party in [&alice, &bob] {
        assert_eq!(cls(&party.predictions), vec![0, 1, 1, 0], "XOR learned");
        assert_eq!(cls(&party.targets), vec![0, 1, 1, 0]);
        let steps: Vec<usize> = party.losses.iter().map(|l| l.0).collect();
        assert_eq!(steps, [0, 50, 100, 150, 200]);
        for ((s, lp), (_, ls)) in plain.losses.iter().zip(&party.losses) {
            assert!(
                (lp - ls).abs() <= 1e-3 * lp.max(1.0),
                "loss at step {s}: plain {lp} vs two-party {ls}"
            );
        }
        for (pp, ps) in plain.predictions.iter().zip(&party.predictions) {
            assert!(
                (pp - ps).abs() < 1e-3,
                "prediction plain {pp} vs two-party {ps}"
            );
        }
    }
    assert_eq!(
        alice.losses, bob.losses,
        "both parties see the same revealed loss"
    );
    // the article's printed trajectory falls from 2.0 the same way
    assert_abs_diff_eq!(alice.losses[0].1, 2.0, epsilon = 1e-3);
    assert!(
        alice.losses[4].1 < alice.losses[0].1 / 4.0,
        "the loss falls"
    );
    // the cost of the two-party run is what Plain predicted for it: each
    // party's own traffic, and the dealer's material as bob received it
    assert_eq!(alice.cost.rounds, plain.cost.rounds);
    assert_eq!(alice.cost.bytes_sent[0], plain.cost.bytes_sent[0]);
    assert_eq!(bob.cost.bytes_sent[1], plain.cost.bytes_sent[1]);
    assert_eq!(bob.cost.offline_bytes, plain.cost.offline_bytes);
    assert_eq!(
        alice.cost.offline_bytes,
        [0, 0],
        "alice receives no material"
    );
}

/// Max |p - σ| on [lo, hi], computed independently of the library: a coarse
/// scan, then golden-section refinement around the worst point.
fn independent_max_error(p: &Polynomial, lo: f64, hi: f64) -> f64 {
    let s = |x: f64| 1.0 / (1.0 + (-x).exp());
    let e = |x: f64| {
        let t = x / p.arg_scale;
        let mut v = 0.0;
        for (k, c) in p.coeffs.iter().enumerate() {
            v += c * t.powi(k as i32);
        }
        (v - s(x)).abs()
    };
    let n = 4001;
    let h = (hi - lo) / (n - 1) as f64;
    let (mut best, mut at) = (0.0, lo);
    for i in 0..n {
        let x = lo + h * i as f64;
        if e(x) > best {
            best = e(x);
            at = x;
        }
    }
    let (mut a, mut b) = ((at - h).max(lo), (at + h).min(hi));
    let g = (5f64.sqrt() - 1.0) / 2.0;
    for _ in 0..80 {
        let c = b - g * (b - a);
        let d = a + g * (b - a);
        if e(c) > e(d) {
            b = d;
        } else {
            a = c;
        }
    }
    best.max(e(0.5 * (a + b)))
}

#[test]
fn approximation_table_matches_independent_computation() {
    for p in sigmoid::catalogue() {
        let row = ApproxRow::for_sigmoid(&p);
        let e5 = independent_max_error(&p, -5.0, 5.0);
        let e10 = independent_max_error(&p, -10.0, 10.0);
        assert!(
            (row.max_err_5 - e5).abs() <= 1e-6 * e5.max(1.0),
            "{}: {} vs {e5}",
            p.name,
            row.max_err_5
        );
        assert!(
            (row.max_err_10 - e10).abs() <= 1e-6 * e10.max(1.0),
            "{}: {} vs {e10}",
            p.name,
            row.max_err_10
        );
        if let Some(c) = row.collapse {
            // just inside stays within [-0.5, 1.5] on both sides; at c it does not
            let inside = |x: f64| (-0.5..=1.5).contains(&p.eval(x));
            assert!(inside(c - 0.002) && inside(-(c - 0.002)), "{}", p.name);
            assert!(!inside(c) || !inside(-c), "{}", p.name);
        }
        // overflow radius: the highest power fits 2^30 (Z_2^64, 16 bits)
        let d = p.degree() as i32;
        let bound = (2.0f64).powi(30);
        assert!(
            (row.overflow_64 / p.arg_scale).powi(d) <= bound * (1.0 + 1e-9),
            "{}",
            p.name
        );
    }
    // the tutorial's qualitative facts
    let m5 = ApproxRow::for_sigmoid(&sigmoid::maclaurin(5).unwrap());
    let m3 = ApproxRow::for_sigmoid(&sigmoid::maclaurin(3).unwrap());
    let fit = ApproxRow::for_sigmoid(&sigmoid::tutorial_interpolated());
    assert!(
        fit.collapse.unwrap() > 2.0 * m5.collapse.unwrap(),
        "interpolation collapses much further out"
    );
    assert!(m3.collapse.unwrap() > 0.0);
    assert!(fit.max_err_10 < 0.05 && m5.max_err_10 > 10.0);
}
