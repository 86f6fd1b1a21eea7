//! The two-party protocol: no computing party's view depends on the secret,
//! and the dealer receives nothing at all.
//!
//! As in `privacy.rs`: each participant's view (the bytes it received after
//! the key set-up, and the shares it holds at the end) is recorded for two
//! very different secrets and compared with a two-sample chi-square test on
//! bytes and a z-test per bit position, and tested for uniformity; a
//! negative control shows that the statistics flag a view that contains the
//! secret. The dealer's view is stronger than independent: it is empty, or,
//! when the job announces public values, exactly those values.

use crate::common;
use crate::view_stats;

use ndarray::{Array1, ArrayD};
use privml::domain::AdditiveShare;
use privml::ring::prg::{AesPrg, Seed};
use privml::{Additive, FixedPoint, Gadgets, Layout, Ring, Session, SharedConfig};
use view_stats::{
    CHI2_255, MAX_BIT_Z, assert_same_and_uniform, chi2_two_sample, chi2_uniform, encoded_bytes,
    max_bit_z, push_share_bytes,
};

const N: usize = 4096;

/// Outputs with the number of their low bits that are zero in every share
/// by construction (a comparison bit in fixed point is a multiple of 2^f).
type Outputs = Vec<(AdditiveShare<u64>, u32)>;
type Program = fn(&ArrayD<f64>, &mut Additive<u64>) -> privml::Result<Outputs>;

/// Seeds arrive in the key set-up: party 0 gets one from the dealer, party
/// 1 one from party 0 and one from the dealer. They are keys, not part of
/// the computation's view.
const SEED_BYTES: [[usize; 2]; 3] = [[0, 16], [16, 16], [0, 0]];

/// Runs `program` on the three participants over recorded in-memory links:
/// each one's result and the bytes it received (prev link, then next).
fn run_recorded<O: Send>(
    cfg: &SharedConfig,
    program: impl Fn(&mut Additive<u64>) -> privml::Result<O> + Sync,
) -> (Vec<privml::Result<O>>, Vec<Vec<u8>>) {
    common::run_recorded(cfg, SEED_BYTES, Additive::<u64>::new, program)
}

/// The bytes of held shares without their zero low bits (checked zero).
fn shares_bytes(ts: &[(AdditiveShare<u64>, u32)]) -> Vec<u8> {
    let mut v = Vec::new();
    for (t, zero_bits) in ts {
        if let Some(share) = t.share() {
            push_share_bytes(share.iter(), *zero_bits, &mut v);
        }
    }
    v
}

/// Input, Beaver product, matrix product, truncation, reshare.
fn arithmetic(secret: &ArrayD<f64>, r: &mut Additive<u64>) -> privml::Result<Outputs> {
    let other = ArrayD::from_elem(vec![N], 1.5);
    let x = r.input(0, r.owns(0).then_some(secret), &[N])?;
    let y = r.input(1, r.owns(1).then_some(&other), &[N])?;
    let xy = r.mul(&x, &y)?;
    let xm = r.reshape(&x, &[64, 64])?;
    let ym = r.reshape(&y, &[64, 64])?;
    let p = r.matmul(&xm, &ym)?;
    let h = r.div_pow2(&xy, 3)?;
    let s = r.reshare(&h)?;
    Ok(vec![(x, 0), (xy, 0), (p, 0), (s, 0)])
}

/// The comparison: masked opening, carry tree, bit to arithmetic and the
/// multiplexing, through ReLU, less-than, max and argmax.
fn comparison(secret: &ArrayD<f64>, r: &mut Additive<u64>) -> privml::Result<Outputs> {
    let f = r.format().frac_bits();
    let other = ArrayD::from_elem(vec![N], 0.5);
    let x = r.input(1, r.owns(1).then_some(secret), &[N])?;
    let y = r.input(0, r.owns(0).then_some(&other), &[N])?;
    let (relu, d) = r.relu_with_derivative(&x)?;
    let lt = r.less_than(&x, &y)?;
    let m = r.max(&x, &y)?;
    let rows = r.reshape(&x, &[N / 8, 8])?;
    let (best, which) = r.argmax_rows(&rows)?;
    Ok(vec![
        (relu, 0),
        (d, f),
        (lt, f),
        (m, 0),
        (best, 0),
        (which, 0),
    ])
}

fn random_secret() -> ArrayD<f64> {
    view_stats::random_secret(N)
}

/// Each participant's [received bytes, held share bytes].
fn views_of(prog: Program, secret: &ArrayD<f64>, seed: u64) -> Vec<[Vec<u8>; 2]> {
    let cfg = SharedConfig::default().insecure_test_seed(seed);
    let (results, received) = run_recorded(&cfg, |r| prog(secret, r));
    results
        .into_iter()
        .zip(received)
        .map(|(res, got)| [got, shares_bytes(&res.expect("participant run"))])
        .collect()
}

fn assert_views_independent(prog: Program) {
    let zeros = ArrayD::from_elem(vec![N], 0.0);
    let random = random_secret();
    let v0 = views_of(prog, &zeros, 1);
    let v1 = views_of(prog, &random, 2);
    for p in 0..2 {
        for (k, what) in ["received messages", "held shares"].iter().enumerate() {
            let (a, b) = (&v0[p][k], &v1[p][k]);
            assert!(a.len() >= 100_000, "party {p}: too few {what} to test");
            assert_same_and_uniform(&format!("party {p}"), what, a, b);
        }
    }
    // The dealer received nothing and holds nothing, whatever the secret.
    for v in [&v0[2], &v1[2]] {
        assert!(v[0].is_empty(), "the dealer received {} bytes", v[0].len());
        assert!(
            v[1].is_empty(),
            "the dealer holds {} bytes of shares",
            v[1].len()
        );
    }
}

#[test]
fn each_party_view_is_independent_of_the_secret() {
    assert_views_independent(arithmetic);
}

#[test]
fn each_party_view_is_independent_of_the_secret_in_comparisons() {
    assert_views_independent(comparison);
}

#[test]
fn the_dealer_receives_only_what_the_job_announces() {
    // A job that announces a public shape: the dealer's view is exactly
    // the announcement, the same for either secret.
    let run = |secret: &ArrayD<f64>, seed| {
        let cfg = SharedConfig::default().insecure_test_seed(seed);
        let (results, views) = run_recorded(&cfg, |r| {
            let shape = r.owns(1).then(|| (N as u64).to_le_bytes().to_vec());
            let got = r.announce(1, shape.as_deref())?;
            let n = u64::from_le_bytes(got.try_into().expect("8 bytes")) as usize;
            let x = r.input(1, r.owns(1).then_some(secret), &[n])?;
            let y = r.relu(&x)?;
            let z = r.mul(&y, &x)?;
            r.reveal(&z)
        });
        for res in results {
            res.expect("participant run");
        }
        views
    };
    let a = run(&ArrayD::from_elem(vec![N], 0.0), 3);
    let b = run(&random_secret(), 4);
    assert_eq!(a[2], (N as u64).to_le_bytes().to_vec());
    assert_eq!(a[2], b[2]);
}

#[test]
fn the_test_detects_a_view_that_contains_the_secret() {
    // Negative control: party 1's received bytes with the encoded secret
    // appended must be told apart.
    let zeros = ArrayD::from_elem(vec![N], 0.0);
    let random = random_secret();
    let mut v0 = views_of(arithmetic, &zeros, 1)[1][0].clone();
    let mut v1 = views_of(arithmetic, &random, 2)[1][0].clone();
    v0.extend(encoded_bytes(&zeros));
    v1.extend(encoded_bytes(&random));
    assert!(chi2_two_sample(&v0, &v1) > CHI2_255 || max_bit_z(&v0, &v1) > MAX_BIT_Z);
}

#[test]
fn input_shares_are_uniform_and_one_share_is_noise() {
    let ones = ArrayD::from_elem(vec![N * 4], 1.0);
    let cfg = SharedConfig::default().insecure_test_seed(9);
    let out = Additive::<u64>::simulate_with(&cfg, Default::default(), |r| {
        let x = r.input(1, r.owns(1).then_some(&ones), &[N * 4])?;
        Ok(x.share().cloned()) // the dealer holds none
    })
    .expect("run")
    .map(|s| s.expect("a computing party's share"));
    let bytes = |a: &ArrayD<u64>| -> Vec<u8> { a.iter().flat_map(|v| v.to_le_bytes()).collect() };
    let fp = FixedPoint::<u64>::default();
    for (i, s) in out.iter().enumerate() {
        let u = chi2_uniform(&bytes(s));
        assert!(u < CHI2_255, "share x{i} not uniform (chi2 = {u:.1})");
        let hits = s.iter().filter(|v| fp.decode(**v) == 1.0).count();
        assert_eq!(hits, 0, "share x{i} alone decoded to the secret");
    }
    for (a, b) in out[0].iter().zip(out[1].iter()) {
        assert_eq!(fp.decode(a.wrapping_add(*b)), 1.0);
    }
}

// ---------------------------------------------------------------------
// Correlations: the tests above compare each view's *marginal* byte and
// bit distributions. A protocol can pass them and still leak through a
// relation between values (a party receiving s + r in one message and r
// in another sees two uniform words whose difference is the secret). So
// each party's whole view — every received word and every held share —
// is recorded over many runs with fresh random secrets, and every word,
// and the sum and difference of every pair of words, is tested for
// correlation with the secret (its value and its magnitude), under a
// Bonferroni-corrected bound; a negative control shows that a leak in a
// pair of uniform words is caught by the pair test and missed by the
// single-word test.

/// Elements per run of the correlation tests.
const SMALL: usize = 4;
/// Runs of the correlation tests (one fresh secret each).
const RUNS: usize = 1500;
/// Largest |z| = |r|·√RUNS accepted. With up to ~10^6 tests the chance
/// that an independent view exceeds it is below 10^-4; a correlation of
/// 0.17 or more fails it.
const MAX_CORR_Z: f64 = 6.6;

/// Products, a matrix product, a truncation and a reshare on SMALL
/// elements of party 0's secret.
fn arithmetic_small(secret: &ArrayD<f64>, r: &mut Additive<u64>) -> privml::Result<Outputs> {
    let other = ArrayD::from_elem(vec![SMALL], -1.25);
    let x = r.input(0, r.owns(0).then_some(secret), &[SMALL])?;
    let y = r.input(1, r.owns(1).then_some(&other), &[SMALL])?;
    let xy = r.mul(&x, &y)?;
    let xx = r.mul(&x, &x)?;
    let (xm, ym) = (r.reshape(&x, &[2, 2])?, r.reshape(&y, &[2, 2])?);
    let p = r.matmul(&xm, &ym)?;
    let h = r.div_pow2(&xy, 3)?;
    let s = r.reshare(&h)?;
    Ok(vec![(x, 0), (xy, 0), (xx, 0), (p, 0), (s, 0)])
}

/// ReLU with its derivative on SMALL elements of party 1's secret: one
/// comparison and its multiplexing (less-than, max and argmax are the same
/// gadget on differences, tested for their marginals above; one is enough
/// to keep the pair test's ~10^5 pairs of words fast).
fn comparison_small(secret: &ArrayD<f64>, r: &mut Additive<u64>) -> privml::Result<Outputs> {
    let x = r.input(1, r.owns(1).then_some(secret), &[SMALL])?;
    let (relu, d) = r.relu_with_derivative(&x)?;
    Ok(vec![(relu, 0), (d, 0)])
}

/// Each computing party's view of one run as 64-bit words: the bytes it
/// received (padded to whole words), then its held shares.
fn view_words(prog: Program, secret: &ArrayD<f64>, seed: u64) -> [Vec<u64>; 2] {
    let cfg = SharedConfig::default().insecure_test_seed(seed);
    let (results, received) = run_recorded(&cfg, |r| prog(secret, r));
    let mut views = results.into_iter().zip(received).map(|(res, got)| {
        let mut w: Vec<u64> = got
            .chunks(8)
            .map(|c| {
                let mut b = [0u8; 8];
                b[..c.len()].copy_from_slice(c);
                u64::from_le_bytes(b)
            })
            .collect();
        for (t, _) in res.expect("participant run") {
            if let Some(share) = t.share() {
                w.extend(share.iter().copied());
            }
        }
        w
    });
    let mut next = || views.next().expect("a computing party's view");
    [next(), next()]
}

/// `v` centred and scaled to unit norm, or `None` if it is constant.
fn standardised(v: &[f64]) -> Option<Vec<f64>> {
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    let c: Vec<f64> = v.iter().map(|x| x - mean).collect();
    let norm = c.iter().map(|x| x * x).sum::<f64>().sqrt();
    (norm > 1e-9 * v.len() as f64).then(|| c.iter().map(|x| x / norm).collect())
}

/// Numeric readings of a 64-bit word: its signed value and its low 16 bits.
fn readings(w: u64) -> [f64; 2] {
    [w as i64 as f64, (w & 0xffff) as f64]
}

/// The largest |z| of the correlations between the secret features and
/// (`pairs` false) each word's readings, or (`pairs` true) the readings of
/// the sum and difference of each pair of words, over the runs.
fn max_correlation_z(views: &[Vec<u64>], secret: &[Vec<f64>], pairs: bool) -> f64 {
    let runs = views.len();
    let len = views[0].len();
    assert!(
        views.iter().all(|v| v.len() == len),
        "views of different lengths"
    );
    let targets: Vec<Vec<f64>> = (0..secret[0].len())
        .flat_map(|i| {
            let s: Vec<f64> = secret.iter().map(|s| s[i]).collect();
            let a: Vec<f64> = s.iter().map(|x| x.abs()).collect();
            [s, a]
        })
        .filter_map(|t| standardised(&t))
        .collect();
    let mut worst: f64 = 0.0;
    let mut test = |word: &dyn Fn(&[u64]) -> u64| {
        for k in 0..2 {
            let f: Vec<f64> = views.iter().map(|v| readings(word(v))[k]).collect();
            if let Some(f) = standardised(&f) {
                for t in &targets {
                    let r: f64 = f.iter().zip(t).map(|(a, b)| a * b).sum();
                    worst = worst.max(r.abs() * (runs as f64).sqrt());
                }
            }
        }
    };
    for j in 0..len {
        if pairs {
            for k in j + 1..len {
                test(&|v: &[u64]| v[j].wrapping_add(v[k]));
                test(&|v: &[u64]| v[j].wrapping_sub(v[k]));
            }
        } else {
            test(&|v: &[u64]| v[j]);
        }
    }
    worst
}

/// RUNS fresh random secrets and each party's views of them.
fn correlation_sample(prog: Program) -> (Vec<Vec<f64>>, [Vec<Vec<u64>>; 2]) {
    let mut g = AesPrg::new(&Seed::from_u64(4242));
    let mut secrets = Vec::with_capacity(RUNS);
    let mut views: [Vec<Vec<u64>>; 2] = Default::default();
    for run in 0..RUNS {
        let raw: Vec<u64> = g.vec(SMALL);
        let s: Vec<f64> = raw
            .iter()
            .map(|v| (*v % 2001) as f64 / 100.0 - 10.0)
            .collect();
        let [a, b] = view_words(prog, &Array1::from(s.clone()).into_dyn(), run as u64);
        views[0].push(a);
        views[1].push(b);
        secrets.push(s);
    }
    (secrets, views)
}

fn assert_views_uncorrelated(prog: Program) {
    let (secrets, views) = correlation_sample(prog);
    for (p, v) in views.iter().enumerate() {
        assert!(v[0].len() >= 8, "party {p}: too small a view to test");
        for pairs in [false, true] {
            let z = max_correlation_z(v, &secrets, pairs);
            assert!(
                z < MAX_CORR_Z,
                "party {p}: a {} correlates with the secret (|z| = {z:.2})",
                if pairs {
                    "pair of view words"
                } else {
                    "view word"
                }
            );
        }
    }
}

#[test]
fn no_word_or_pair_of_words_of_a_view_correlates_with_the_secret() {
    assert_views_uncorrelated(arithmetic_small);
}

#[test]
fn no_word_or_pair_of_words_of_a_view_correlates_with_the_secret_in_comparisons() {
    assert_views_uncorrelated(comparison_small);
}

#[test]
fn the_pair_test_catches_a_leak_that_uniform_marginals_hide() {
    // Negative control: party 1's view with two appended words, s + r and
    // r for a fresh uniform r: each word alone is uniform and uncorrelated
    // with the secret, their difference is the encoded secret.
    let (secrets, mut views) = correlation_sample(arithmetic_small);
    let fp = FixedPoint::<u64>::default();
    let mut g = AesPrg::new(&Seed::from_u64(5));
    for (v, s) in views[1].iter_mut().zip(&secrets) {
        let r: u64 = g.vec(1)[0];
        let enc = fp.encode(s[0]).expect("encodable");
        v.extend([enc.wrapping_add(r), r]);
    }
    let single = max_correlation_z(&views[1], &secrets, false);
    let pairs = max_correlation_z(&views[1], &secrets, true);
    assert!(
        single < MAX_CORR_Z,
        "single words flagged: |z| = {single:.2}"
    );
    assert!(
        pairs > MAX_CORR_Z,
        "the pair leak was missed: |z| = {pairs:.2}"
    );
}
