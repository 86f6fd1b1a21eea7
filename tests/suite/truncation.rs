//! The secure truncation's error bound, checked on a million products.
//!
//! Bound (see `privml::mpc::trunc`): the secure result is ⌊x/2^f⌋ + e with
//! e ∈ {0, 1} and P(e = 1) = frac(x/2^f), for every |x| < 2^(ℓ-2) (raw
//! units), with probability one. `Fixed` in `Floor` mode computes ⌊x/2^f⌋, so the two must
//! differ by exactly 0 or +1 unit in the last place, never more. The
//! two-party protocol's truncation (`privml::mpc2::trunc`) has the same
//! bound; every test runs on both protocols.

use crate::protocols;

use ndarray::{Array1, ArrayD};
use privml::ring::prg::{AesPrg, Seed};
use privml::{Fixed, Ring, SharedConfig, TruncationMode};
use protocols::on_both_protocols;

const N: usize = 1_000_000;

fn uniform(seed: u64, n: usize, lo: f64, hi: f64) -> ArrayD<f64> {
    let mut g = AesPrg::new(&Seed::from_u64(seed));
    let raw: Vec<u64> = g.vec(n);
    Array1::from_iter(
        raw.iter()
            .map(|v| lo + (hi - lo) * ((v >> 11) as f64 / (1u64 << 53) as f64)),
    )
    .into_dyn()
}

fn products<R: Ring>(r: &mut R, x: &ArrayD<f64>, y: &ArrayD<f64>) -> privml::Result<ArrayD<f64>> {
    let xs = r.input(0, r.owns(0).then_some(x), x.shape())?;
    let ys = r.input(1, r.owns(1).then_some(y), y.shape())?;
    let z = r.mul(&xs, &ys)?;
    r.reveal(&z)
}

#[test]
fn a_million_secure_truncations_are_within_one_ulp() {
    // |x·y| up to 2^26, far inside and up to the edge of... well inside 2^30.
    let x = uniform(1, N, -8192.0, 8192.0);
    let y = uniform(2, N, -8192.0, 8192.0);
    let mut floor = Fixed::<u64>::new().truncation(TruncationMode::Floor, None);
    let want = products(&mut floor, &x, &y).unwrap();
    let cfg = SharedConfig::default().insecure_test_seed(3);
    for run in on_both_protocols!(&cfg, |r| products(r, &x, &y)) {
        let who = run.name();
        let ulp = 1.0 / 65536.0;
        let mut ups = 0usize;
        let mut expected_ups = 0.0f64;
        for ((g, w), (a, b)) in run
            .first()
            .iter()
            .zip(want.iter())
            .zip(x.iter().zip(y.iter()))
        {
            let d = (g - w) / ulp;
            assert!(d == 0.0 || d == 1.0, "{who}: secure result off by {d} ulp");
            ups += (d == 1.0) as usize;
            // exact product of the encoded inputs, in ulps of 2f bits
            let exact = (a * 65536.0).round() * (b * 65536.0).round() / 65536.0;
            expected_ups += exact - exact.floor();
        }
        // Stochastic rounding: the number of round-ups matches the fractional
        // parts' sum (binomial sd ≈ 500; allow 6 sd).
        assert!(
            ((ups as f64) - expected_ups).abs() < 3000.0,
            "{who}: ups {ups} vs expected {expected_ups:.0}"
        );
    }
}

#[test]
fn truncation_is_exact_at_the_edges_of_the_range() {
    // div_pow2 on values close to ±2^(ℓ-2) raw units: still no large error.
    let edge = (2.0f64).powi(62 - 16) * 0.999;
    let v = Array1::from_vec(vec![edge, -edge, 0.0, 1.0, -1.0, edge / 3.0]).into_dyn();
    for seed in 0..200 {
        let cfg = SharedConfig::default().insecure_test_seed(seed);
        let runs = on_both_protocols!(&cfg, |r| {
            let x = r.input(1, r.owns(1).then_some(&v), &[6])?;
            let h = r.div_pow2(&x, 20)?;
            r.reveal(&h)
        });
        for run in runs {
            for (g, x) in run.first().iter().zip(v.iter()) {
                let exact = x / (1u64 << 20) as f64;
                assert!(
                    (g - exact).abs() <= 1.0 / 65536.0 + 1e-9,
                    "{}: {x}: got {g}, exact {exact}",
                    run.name()
                );
            }
        }
    }
}

#[test]
fn wide_ring_truncations_are_within_one_ulp() {
    let n = 100_000;
    let x = uniform(4, n, -1e6, 1e6);
    let y = uniform(5, n, -1e6, 1e6);
    let want = products(&mut Fixed::<u128>::new(), &x, &y).unwrap();
    let ulp = (2.0f64).powi(-32);
    for run in on_both_protocols!(u128, &SharedConfig::default(), |r| products(r, &x, &y)) {
        for (g, w) in run.outputs[1].iter().zip(want.iter()) {
            // values up to 1e12 carry 32 fraction bits: f64 rounds at 2^-12
            // there, so compare with a tolerance of one ulp plus f64's own
            // rounding.
            assert!(
                (g - w).abs() <= ulp + w.abs() * 2.0 * f64::EPSILON,
                "{}: {g} vs {w}",
                run.name()
            );
        }
    }
}
