//! Statistics for the privacy tests: is a party's (or a server's) view
//! distinguishable between two secrets, and is it uniform? Shared by
//! `privacy.rs`, `privacy_two_party.rs` and `federated.rs`.
#![allow(
    dead_code,
    reason = "shared by several test files, each of which uses only some of it"
)]

pub mod linear;

/// Chi-square 0.9999 quantile for 255 degrees of freedom (Wilson–Hilferty).
pub const CHI2_255: f64 = 348.0;

/// The largest per-bit |z| the tests accept (64 tests at about 5.7e-7 each).
pub const MAX_BIT_Z: f64 = 5.0;

fn byte_histogram(bytes: &[u8]) -> [f64; 256] {
    let mut h = [0.0; 256];
    for &b in bytes {
        h[b as usize] += 1.0;
    }
    h
}

/// Two-sample chi-square homogeneity statistic of two equal-size samples.
pub fn chi2_two_sample(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len(), "views of different sizes");
    let (ha, hb) = (byte_histogram(a), byte_histogram(b));
    ha.iter()
        .zip(&hb)
        .filter(|(x, y)| *x + *y > 0.0)
        .map(|(x, y)| (x - y) * (x - y) / (x + y))
        .sum()
}

/// Chi-square goodness of fit of a byte sample to the uniform distribution.
pub fn chi2_uniform(a: &[u8]) -> f64 {
    let e = a.len() as f64 / 256.0;
    byte_histogram(a)
        .iter()
        .map(|o| (o - e) * (o - e) / e)
        .sum()
}

/// Largest |z| of the 64 per-bit-position two-proportion tests between two
/// samples of 64-bit words. A bit position that is constant in both samples
/// scores 0.
pub fn max_bit_z(a: &[u8], b: &[u8]) -> f64 {
    let count = |v: &[u8]| {
        let mut c = [0.0f64; 64];
        for w in v.chunks_exact(8) {
            let x = u64::from_le_bytes(w.try_into().expect("8 bytes"));
            for (bit, cb) in c.iter_mut().enumerate() {
                *cb += ((x >> bit) & 1) as f64;
            }
        }
        (c, (v.len() / 8) as f64)
    };
    let ((ca, na), (cb, nb)) = (count(a), count(b));
    (0..64)
        .map(|i| {
            let (pa, pb) = (ca[i] / na, cb[i] / nb);
            let p = (ca[i] + cb[i]) / (na + nb);
            if p == 0.0 || p == 1.0 {
                return 0.0;
            }
            (pa - pb).abs() / (p * (1.0 - p) * (1.0 / na + 1.0 / nb)).sqrt()
        })
        .fold(0.0, f64::max)
}

/// `n` values in [-10, 10) from `seed`.
pub fn random_values(n: usize, seed: u64) -> ndarray::ArrayD<f64> {
    use privml::ring::prg::{AesPrg, Seed};
    let mut g = AesPrg::new(&Seed::from_u64(seed));
    let raw: Vec<u64> = g.vec(n);
    ndarray::Array1::from_iter(raw.iter().map(|v| (*v % 2000) as f64 / 100.0 - 10.0)).into_dyn()
}

/// The random secret the privacy tests compare with an all-zero one.
pub fn random_secret(n: usize) -> ndarray::ArrayD<f64> {
    random_values(n, 77)
}

/// The encoded secret's bytes: what the negative controls append to a view.
pub fn encoded_bytes(s: &ndarray::ArrayD<f64>) -> Vec<u8> {
    privml::FixedPoint::<u64>::default()
        .encode_array(s)
        .expect("encodable")
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect()
}

/// Appends the bytes of held share words to `out`, leaving out their
/// `zero_bits` low bits, which are zero by construction (a bit converted to
/// fixed point is shared as multiples of 2^f: public structure, not a leak)
/// and checked to be zero, so that the bytes that remain should be uniform.
pub fn push_share_bytes<'a>(
    words: impl Iterator<Item = &'a u64>,
    zero_bits: u32,
    out: &mut Vec<u8>,
) {
    assert_eq!(zero_bits % 8, 0, "whole bytes only");
    let keep = ((64 - zero_bits) / 8) as usize;
    for x in words {
        assert_eq!(
            x & ((1u64 << zero_bits) - 1),
            0,
            "a share has non-zero bits below 2^{zero_bits}"
        );
        out.extend_from_slice(&(x >> zero_bits).to_le_bytes()[..keep]);
    }
}

/// Two samples of one view (under two secrets): the same byte distribution
/// (chi-square), no bit position that differs (z), and uniform bytes; the
/// first check that fails, described.
pub fn same_and_uniform(a: &[u8], b: &[u8]) -> Result<(), String> {
    let chi = chi2_two_sample(a, b);
    if chi >= CHI2_255 {
        return Err(format!("byte distributions differ (chi2 = {chi:.1})"));
    }
    let z = max_bit_z(a, b);
    if z >= MAX_BIT_Z {
        return Err(format!("a bit position differs (|z| = {z:.2})"));
    }
    let u = chi2_uniform(a);
    if u >= CHI2_255 {
        return Err(format!("not uniform (chi2 = {u:.1})"));
    }
    Ok(())
}

/// [`same_and_uniform`], asserted.
pub fn assert_same_and_uniform(who: &str, what: &str, a: &[u8], b: &[u8]) {
    if let Err(e) = same_and_uniform(a, b) {
        panic!("{who}, {what}: {e}");
    }
}
