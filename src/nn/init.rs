//! Reproducible random numbers for weight initialisation and synthetic data.
//!
//! These are public starting points and test data, drawn from AES-CTR with a
//! seed the caller chooses; secret randomness (shares, masks) never comes
//! from here.

use ndarray::Array2;

use crate::ring::prg::{AesPrg, Seed};

/// A seeded source of uniform and normal floats.
pub struct Sampler {
    g: AesPrg,
    spare: Option<f64>,
}

impl Sampler {
    /// A sampler with a fixed seed.
    pub fn new(seed: u64) -> Self {
        Sampler {
            g: AesPrg::new(&Seed::from_u64(seed)),
            spare: None,
        }
    }

    /// Uniform in [0, 1) with 53 random bits.
    pub fn uniform(&mut self) -> f64 {
        let v: u64 = self.g.vec::<u64>(1)[0];
        (v >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        if let Some(z) = self.spare.take() {
            return z;
        }
        let a = self.uniform().max(f64::MIN_POSITIVE);
        let b = self.uniform();
        let r = (-2.0 * a.ln()).sqrt();
        let t = 2.0 * std::f64::consts::PI * b;
        self.spare = Some(r * t.sin());
        r * t.cos()
    }

    /// A matrix of standard normals.
    pub fn normal_matrix(&mut self, rows: usize, cols: usize) -> Array2<f64> {
        Array2::from_shape_fn((rows, cols), |_| self.normal())
    }

    /// A matrix of uniforms in [lo, hi).
    pub fn uniform_matrix(&mut self, rows: usize, cols: usize, lo: f64, hi: f64) -> Array2<f64> {
        Array2::from_shape_fn((rows, cols), |_| lo + (hi - lo) * self.uniform())
    }

    /// He (Kaiming) uniform initialisation for a layer with `fan_in` inputs:
    /// U(-√(6/fan_in), √(6/fan_in)). For ReLU networks it keeps activations
    /// of order one layer after layer, which is what keeps them inside the
    /// fixed-point range (products below 2^30 at 16 fraction bits).
    pub fn he_uniform(&mut self, fan_in: usize, fan_out: usize) -> Array2<f64> {
        let a = (6.0 / fan_in.max(1) as f64).sqrt();
        self.uniform_matrix(fan_in, fan_out, -a, a)
    }

    /// Glorot (Xavier) uniform initialisation: U(-√(6/(in+out)), √(6/(in+out))),
    /// for sigmoid-like activations.
    pub fn glorot_uniform(&mut self, fan_in: usize, fan_out: usize) -> Array2<f64> {
        let a = (6.0 / (fan_in + fan_out).max(1) as f64).sqrt();
        self.uniform_matrix(fan_in, fan_out, -a, a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moments_are_right() {
        let mut s = Sampler::new(3);
        let n = 20000;
        let xs: Vec<f64> = (0..n).map(|_| s.normal()).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n as f64;
        assert!(
            mean.abs() < 0.03 && (var - 1.0).abs() < 0.05,
            "{mean} {var}"
        );
        let w = s.he_uniform(100, 10);
        assert!(w.iter().all(|v| v.abs() <= (0.06f64).sqrt()));
        let a = Sampler::new(9).normal_matrix(2, 2);
        assert_eq!(a, Sampler::new(9).normal_matrix(2, 2));
    }
}
