//! The article's first demonstration: additive secret sharing mod Q = 501337.
//!
//! A value is split into three random shares that sum to it modulo Q.
//! Adding shares adds the secrets, multiplying shares by a public number
//! multiplies the secret, and any two shares alone "decrypt" to noise. The
//! article draws shares with `np.random.randint`; here they come from the
//! operating system's cryptographic generator.

use crate::error::Result;
use crate::ring::prg::AesPrg;

/// The article's modulus.
pub const Q: u64 = 501_337;

/// Three additive shares of `x` mod Q.
pub fn encrypt(x: u64, rng: &mut AesPrg) -> [u64; 3] {
    // rejection sampling for uniform values mod Q
    let mut draw = || loop {
        let v: u64 = rng.vec::<u64>(1)[0] >> 44; // 20 bits
        if v < Q {
            return v;
        }
    };
    let (a, b) = (draw(), draw());
    [a, b, (x % Q + 2 * Q - a - b) % Q]
}

/// The sum of shares mod Q.
pub fn decrypt(shares: &[u64]) -> u64 {
    shares.iter().fold(0, |acc, s| (acc + s) % Q)
}

/// Share-wise addition.
pub fn add(x: &[u64; 3], y: &[u64; 3]) -> [u64; 3] {
    [(x[0] + y[0]) % Q, (x[1] + y[1]) % Q, (x[2] + y[2]) % Q]
}

/// Multiplication of every share by a public `w`.
pub fn product(x: &[u64; 3], w: u64) -> [u64; 3] {
    x.map(|s| (s * (w % Q)) % Q)
}

/// What the demo showed.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Shares of 2 + 5.
    pub sum_shares: [u64; 3],
    /// Decryption of all three: 7.
    pub sum: u64,
    /// Decryption of the first two only.
    pub partial: u64,
    /// Decryption of 3 · (2 + 5): 21.
    pub scaled: u64,
}

/// Runs the demo, printing to `log`.
pub fn run(log: super::Log<'_>) -> Result<Outcome> {
    let mut rng = AesPrg::from_entropy()?;
    log("Encrypting variables 2 and 5 as var1 and var2");
    let var1 = encrypt(2, &mut rng);
    let var2 = encrypt(5, &mut rng);
    log("Performing encrypted addition...");
    let my_sum = add(&var1, &var2);
    log(&format!(
        "Multiparty result from add(var1,var2): {my_sum:?}"
    ));
    let sum = decrypt(&my_sum);
    log(&format!("Decrypted result: {sum}"));
    let partial = decrypt(&my_sum[0..2]);
    log(&format!(
        "Decrypted partial result (two shares only): {partial}"
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
        for _ in 0..100 {
            let a = encrypt(2, &mut g);
            let b = encrypt(5, &mut g);
            assert_eq!(decrypt(&add(&a, &b)), 7);
            assert_eq!(decrypt(&product(&add(&a, &b), 3)), 21);
            assert!(a.iter().all(|s| *s < Q));
        }
        // two shares are uniform noise: over many trials they hit 7 rarely
        let hits = (0..2000)
            .filter(|_| {
                let s = add(&encrypt(2, &mut g), &encrypt(5, &mut g));
                decrypt(&s[0..2]) == 7
            })
            .count();
        assert!(hits < 5, "{hits}");
    }
}
