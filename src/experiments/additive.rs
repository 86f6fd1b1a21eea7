//! The article's first demonstration: additive secret sharing mod Q = 501337.
//!
//! A value is split into random shares (three in the article's first demo,
//! two for its alice and bob) that sum to it modulo Q.
//! Adding shares adds the secrets, multiplying shares by a public number
//! multiplies the secret, and all shares but one "decrypt" to noise. The
//! article draws shares with `np.random.randint`; here they come from the
//! operating system's cryptographic generator.

use crate::error::{Error, Result};
use crate::ring::prg::AesPrg;

/// The article's modulus.
pub const Q: u64 = 501_337;

/// `shares` additive shares of `x` mod Q (the article uses 3; its PySyft
/// part shares between 2 workers, alice and bob).
pub fn encrypt(x: u64, shares: usize, rng: &mut AesPrg) -> Vec<u64> {
    // rejection sampling for uniform values mod Q
    let mut draw = || loop {
        let v: u64 = rng.vec::<u64>(1)[0] >> 44; // 20 bits
        if v < Q {
            return v;
        }
    };
    let mut out: Vec<u64> = (1..shares.max(1)).map(|_| draw()).collect();
    let last = out.iter().fold(x % Q, |acc, s| (acc + Q - s) % Q);
    out.push(last);
    out
}

/// The sum of shares mod Q.
pub fn decrypt(shares: &[u64]) -> u64 {
    shares.iter().fold(0, |acc, s| (acc + s) % Q)
}

/// Share-wise addition; both variables must have the same number of shares.
pub fn add(x: &[u64], y: &[u64]) -> Result<Vec<u64>> {
    if x.len() != y.len() {
        return Err(Error::invalid(
            "shares",
            format!(
                "each variable must consist of the same number of shares ({} and {})",
                x.len(),
                y.len()
            ),
        ));
    }
    Ok(x.iter().zip(y).map(|(a, b)| (a + b) % Q).collect())
}

/// Multiplication of every share by a public `w`.
pub fn product(x: &[u64], w: u64) -> Vec<u64> {
    x.iter().map(|s| (s * (w % Q)) % Q).collect()
}

/// What the demo showed.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Shares of 2 + 5.
    pub sum_shares: Vec<u64>,
    /// Decryption of all shares: 7.
    pub sum: u64,
    /// Decryption of all shares but the last.
    pub partial: u64,
    /// Decryption of 3 · (2 + 5): 21.
    pub scaled: u64,
}

/// Runs the demo with `shares` shares (at least 2), printing to `log`.
pub fn run(log: super::Log<'_>, shares: usize) -> Result<Outcome> {
    if shares < 2 {
        return Err(Error::invalid(
            "shares",
            format!("{shares}: additive sharing needs at least 2 shares"),
        ));
    }
    let mut rng = AesPrg::from_entropy()?;
    log(&format!(
        "Encrypting variables 2 and 5 as var1 and var2 ({shares} shares mod {Q})"
    ));
    let var1 = encrypt(2, shares, &mut rng);
    let var2 = encrypt(5, shares, &mut rng);
    log("Performing encrypted addition...");
    let my_sum = add(&var1, &var2)?;
    log(&format!(
        "Multiparty result from add(var1,var2): {my_sum:?}"
    ));
    let sum = decrypt(&my_sum);
    log(&format!("Decrypted result: {sum}"));
    let partial = decrypt(&my_sum[..shares - 1]);
    log(&format!(
        "Decrypted partial result ({} of {shares} shares): {partial}",
        shares - 1
    ));
    let scaled = decrypt(&product(&my_sum, 3));
    log(&format!(
        "Decrypted product with the public value 3: {scaled}"
    ));
    Ok(Outcome {
        sum_shares: my_sum,
        sum,
        partial,
        scaled,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_add_and_scale() {
        let mut g = AesPrg::from_entropy().unwrap();
        for k in [2, 3, 5] {
            for _ in 0..100 {
                let a = encrypt(2, k, &mut g);
                let b = encrypt(5, k, &mut g);
                assert_eq!(a.len(), k);
                let s = add(&a, &b).unwrap();
                assert_eq!(decrypt(&s), 7);
                assert_eq!(decrypt(&product(&s, 3)), 21);
                assert!(a.iter().all(|s| *s < Q));
            }
        }
        assert!(add(&[1, 2], &[1, 2, 3]).is_err());
        assert!(run(&crate::experiments::quiet, 1).is_err());
        // all but one share are uniform noise: over many trials they hit 7 rarely
        for k in [2, 3] {
            let hits = (0..2000)
                .filter(|_| {
                    let s = add(&encrypt(2, k, &mut g), &encrypt(5, k, &mut g)).unwrap();
                    decrypt(&s[..k - 1]) == 7
                })
                .count();
            assert!(hits < 5, "{k} shares: {hits}");
        }
    }
}
