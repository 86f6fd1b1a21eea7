//! No single party's view depends on the secret.
//!
//! A party's view is its shares and every message it received. We run the
//! same program on two very different secrets (all zeros, and random values)
//! and compare the byte and bit statistics of each party's view with a
//! two-sample chi-square test. A negative control shows that the test does
//! flag a view that contains the secret. Seeds are fixed, so the outcome is
//! deterministic; the thresholds are at a false-alarm rate of about 1e-4.
//!
//! Statistics of single values cannot see values that are each uniform but
//! related (what a reused mask causes), so every party's view is also
//! searched, element by element, for a small linear combination that equals
//! the secret (`view_stats::linear`), with a negative control: the
//! truncation protocol broken to reuse a keystream (a test-build switch,
//! `privml::ring::audit`), which the search and the keystream record catch.

use crate::common;
use crate::view_stats;

use common::run_parties;
use ndarray::ArrayD;
use privml::mpc::Replicated;
use privml::ring::audit::{self, Audit, NegativeControl};
use privml::{FixedPoint, Gadgets, Layout, Ring, Shared, SharedConfig};
use view_stats::linear::{aligned, find_relation, views as vector_views};
use view_stats::{
    CHI2_255, MAX_BIT_Z, assert_same_and_uniform, chi2_two_sample, chi2_uniform, encoded_bytes,
    max_bit_z, push_share_bytes,
};

const N: usize = 4096;

/// What a program returns: each output with the number of its low bits that
/// are zero in every share by construction (public structure, not a leak:
/// a bit converted to fixed point is shared as multiples of 2^f).
type Outputs = Vec<(Replicated<u64>, u32)>;
type Program = fn(&ArrayD<f64>, &mut Shared<u64>) -> privml::Result<Outputs>;

/// The bytes of a party's held shares. Low bits that are zero by
/// construction are checked to be zero and left out, so the bytes that
/// remain should be uniform.
fn shares_bytes(ts: &[(Replicated<u64>, u32)]) -> Vec<u8> {
    let mut v = Vec::new();
    for (t, zero_bits) in ts {
        let (a, b) = t.expose_shares();
        push_share_bytes(a.iter().chain(b.iter()), *zero_bits, &mut v);
    }
    v
}

/// Input a secret, multiply, matmul, truncate, reshare: every protocol.
fn program(secret: &ArrayD<f64>, r: &mut Shared<u64>) -> privml::Result<Outputs> {
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

/// Each party's view as two samples: the bytes it received, and the bytes of
/// the shares it holds at the end. They are tested separately because some
/// shares are copies of received messages (the third share of an input), and
/// a sample with duplicated values is not i.i.d., which would inflate the
/// chi-square statistic without any leak.
fn views(secret: &ArrayD<f64>, seed: u64) -> Vec<[Vec<u8>; 2]> {
    views_of(program, secret, seed)
}

/// The views of the parties running `prog` on `secret`.
fn views_of(prog: Program, secret: &ArrayD<f64>, seed: u64) -> Vec<[Vec<u8>; 2]> {
    let cfg = SharedConfig::default().insecure_test_seed(seed);
    let (results, received) = run_parties(&cfg, |r| prog(secret, r));
    results
        .into_iter()
        .zip(received)
        .map(|(res, got)| [got, shares_bytes(&res.expect("party run"))])
        .collect()
}

fn random_secret() -> ArrayD<f64> {
    view_stats::random_secret(N)
}

#[test]
fn each_party_view_is_independent_of_the_secret() {
    assert_views_independent(program);
}

/// Comparisons: the bit decomposition, the carry circuit's AND gates, the
/// conversion of the result bit back to arithmetic shares and the
/// selections built on it, on a secret with both signs and zeros. The
/// comparison bits come out as fixed-point 0 or 1, shared as multiples of
/// 2^f: their low f bits are zero in every share. Party 0 receives only the
/// carry tree's gates of a comparison (about 3 bytes per element), so the
/// comparisons run on the secret twice over (2N elements, fresh masks) to
/// give every view at least the 100,000 bytes the test needs.
fn comparison_program(secret: &ArrayD<f64>, r: &mut Shared<u64>) -> privml::Result<Outputs> {
    let f = r.format().frac_bits();
    let other = ArrayD::from_elem(vec![2 * N], 0.5);
    let once = r.input(0, r.owns(0).then_some(secret), &[N])?;
    let once = r.reshape(&once, &[1, N])?;
    let x = r.concat_rows(&[&once, &once])?;
    let x = r.reshape(&x, &[2 * N])?;
    let y = r.input(1, r.owns(1).then_some(&other), &[2 * N])?;
    let (relu, d) = r.relu_with_derivative(&x)?;
    let lt = r.less_than(&x, &y)?;
    let m = r.max(&x, &y)?;
    let rows = r.reshape(&x, &[2 * N / 8, 8])?;
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

#[test]
fn each_party_view_is_independent_of_the_secret_in_comparisons() {
    assert_views_independent(comparison_program);
}

/// Runs `prog` on an all-zero and on a random secret and checks every
/// party's received bytes and final shares: the same distribution in both
/// runs (byte chi-square and per-bit z) and uniform bytes.
fn assert_views_independent(prog: Program) {
    let zeros = ArrayD::from_elem(vec![N], 0.0);
    let random = random_secret();
    let v0 = views_of(prog, &zeros, 1);
    let v1 = views_of(prog, &random, 2);
    for p in 0..3 {
        for (k, what) in ["received messages", "held shares"].iter().enumerate() {
            let (a, b) = (&v0[p][k], &v1[p][k]);
            assert!(
                a.len() >= 100_000 || (p == 2 && k == 0),
                "party {p}: too few {what} to test"
            );
            if a.is_empty() {
                continue;
            }
            assert_same_and_uniform(&format!("party {p}"), what, a, b);
        }
    }
}

#[test]
fn the_test_detects_a_view_that_contains_the_secret() {
    // Negative control: append the encoded secret to the view; now the views
    // of the two runs must be told apart.
    let zeros = ArrayD::from_elem(vec![N], 0.0);
    let random = random_secret();
    let mut v0 = views(&zeros, 1)[1][0].clone();
    let mut v1 = views(&random, 2)[1][0].clone();
    v0.extend(encoded_bytes(&zeros));
    v1.extend(encoded_bytes(&random));
    assert!(chi2_two_sample(&v0, &v1) > CHI2_255 || max_bit_z(&v0, &v1) > MAX_BIT_Z);
}

#[test]
fn fresh_input_shares_are_uniform_and_two_shares_are_noise() {
    let ones = ArrayD::from_elem(vec![N * 4], 1.0);
    let cfg = SharedConfig::default().insecure_test_seed(9);
    let out = Shared::<u64>::simulate_with(&cfg, |r| {
        let x = r.input(2, r.owns(2).then_some(&ones), &[N * 4])?;
        Ok(x.expose_shares().0.clone())
    })
    .expect("run");
    // out[i] is x_i, the first share of party i.
    let bytes = |a: &ArrayD<u64>| -> Vec<u8> { a.iter().flat_map(|v| v.to_le_bytes()).collect() };
    for (i, s) in out.iter().enumerate() {
        let u = chi2_uniform(&bytes(s));
        assert!(u < CHI2_255, "share x{i} not uniform (chi2 = {u:.1})");
    }
    // All three reconstruct the secret ...
    let fp = FixedPoint::<u64>::default();
    for k in 0..out[0].len() {
        let v = out[0].as_slice().unwrap()[k]
            .wrapping_add(out[1].as_slice().unwrap()[k])
            .wrapping_add(out[2].as_slice().unwrap()[k]);
        assert_eq!(fp.decode(v), 1.0);
    }
    // ... any two are noise: uniform bytes, and essentially never the secret.
    for (i, j) in [(0, 1), (1, 2), (2, 0)] {
        let two: Vec<u64> = out[i]
            .iter()
            .zip(out[j].iter())
            .map(|(a, b)| a.wrapping_add(*b))
            .collect();
        let twob: Vec<u8> = two.iter().flat_map(|v| v.to_le_bytes()).collect();
        let u = chi2_uniform(&twob);
        assert!(u < CHI2_255, "x{i} + x{j} not uniform (chi2 = {u:.1})");
        let hits = two.iter().filter(|v| fp.decode(**v) == 1.0).count();
        assert_eq!(hits, 0, "x{i} + x{j} decoded to the secret");
    }
}

// ----- linear relations between a view's values and the secret ----------------

/// N random values in [-10, 10), from `seed`.
fn random_values(seed: u64) -> ArrayD<f64> {
    view_stats::random_values(N, seed)
}

fn encoded(v: &ArrayD<f64>) -> Vec<u64> {
    FixedPoint::<u64>::default()
        .encode_array(v)
        .expect("encodable")
        .iter()
        .copied()
        .collect()
}

/// Every arithmetic protocol on two secrets, x from party 0 and y from
/// party 1: products, a matrix product, truncations, a public linear
/// combination, a reshare; the outputs are what each party holds.
fn arithmetic(
    x: &ArrayD<f64>,
    y: &ArrayD<f64>,
    r: &mut Shared<u64>,
) -> privml::Result<Vec<Replicated<u64>>> {
    let xs = r.input(0, r.owns(0).then_some(x), &[N])?;
    let ys = r.input(1, r.owns(1).then_some(y), &[N])?;
    let xy = r.mul(&xs, &ys)?;
    let xm = r.reshape(&xs, &[64, 64])?;
    let ym = r.reshape(&ys, &[64, 64])?;
    let p = r.matmul(&xm, &ym)?;
    let h = r.div_pow2(&xy, 3)?;
    let l = r.lincomb_public(&[&xs, &ys], &[0.5, -1.25], 16)?;
    let s = r.reshare(&h)?;
    Ok(vec![xs, ys, xy, p, h, l, s])
}

#[test]
fn no_small_linear_combination_of_a_view_is_the_secret() {
    let (x, y) = (random_values(31), random_values(32));
    let cfg = SharedConfig::default().insecure_test_seed(3);
    let v = vector_views(&cfg, |r| arithmetic(&x, &y, r));
    // x is party 0's, y party 1's: each is checked against the views of
    // the two parties that do not own it.
    for (secret, owner) in [(encoded(&x), 0), (encoded(&y), 1)] {
        for p in (0..3).filter(|&p| p != owner) {
            let vectors = aligned(&v[p].all(), N);
            assert!(vectors.len() >= 12, "party {p}: {} vectors", vectors.len());
            assert_eq!(
                find_relation(&vectors, &secret),
                None,
                "party {p}'s view holds party {owner}'s secret"
            );
        }
    }
}

/// Party 0 inputs x, the parties truncate it by 3 bits and reveal the
/// result.
fn truncate_and_reveal(
    x: &ArrayD<f64>,
    r: &mut Shared<u64>,
) -> privml::Result<Vec<Replicated<u64>>> {
    let xs = r.input(0, r.owns(0).then_some(x), &[N])?;
    let h = r.div_pow2(&xs, 3)?;
    r.reveal(&h)?;
    Ok(vec![xs, h])
}

#[test]
fn a_truncation_mask_reused_as_an_output_share_is_found_in_party_1s_view() {
    // Negative control: the truncation draws its first mask r0 from the
    // stream party 0's output share y0 comes from. Party 1 receives
    // m0 = x0 + r0 + 2^62 in the truncation and y0 in the reveal, and holds
    // x1 and x2: m0 - y0 + x1 + x2 = x + 2^62. Each message alone is still
    // uniform; the relation is what gives it away.
    let x = random_values(33);
    let secret = encoded(&x);
    let cfg = SharedConfig::default().insecure_test_seed(4);
    let run = |control: Option<NegativeControl>| {
        let audit = match control {
            Some(c) => Audit::recording().with_control(c),
            None => Audit::recording(),
        };
        audit::run(audit, || vector_views(&cfg, |r| truncate_and_reveal(&x, r)))
    };
    let (good, clean) = run(None);
    assert!(clean.reuses().is_empty());
    for (p, view) in good.iter().enumerate().skip(1) {
        assert_eq!(
            find_relation(&aligned(&view.all(), N), &secret),
            None,
            "party {p}"
        );
    }
    let (bad, record) = run(Some(NegativeControl::TruncMaskFromOutputStream));
    let found = find_relation(&aligned(&bad[1].all(), N), &secret)
        .expect("the relation through the reused mask");
    assert_eq!((found.multiple, found.offset), (1, 1u64 << 62));
    assert_eq!(found.terms.len(), 4, "{found:?}");
    // The keystream record names the same bug.
    assert!(
        record
            .reuses()
            .iter()
            .any(|r| r.owner == "party 0" && r.stream.sub == 3),
        "{:?}",
        record.reuses()
    );
}
