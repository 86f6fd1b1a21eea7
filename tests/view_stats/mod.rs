//! Statistics for the privacy tests: is a party's (or a server's) view
//! distinguishable between two secrets, and is it uniform? Shared by
//! `privacy.rs` and `federated.rs`.
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
