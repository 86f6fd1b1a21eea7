//! NumPy's legacy `np.random.seed(s); np.random.random(shape)` (MT19937),
//! so that the tutorial's experiments start from exactly its weights.
//!
//! Not a cryptographic generator: it only reproduces public initial weights.

/// The Mersenne Twister as NumPy's legacy `RandomState` uses it.
#[derive(Debug, Clone)]
pub struct NumpyRandom {
    mt: [u32; 624],
    idx: usize,
}

impl NumpyRandom {
    /// `np.random.seed(seed)`.
    pub fn seed(seed: u32) -> Self {
        let mut mt = [0u32; 624];
        mt[0] = seed;
        for i in 1..624 {
            mt[i] = 1_812_433_253u32
                .wrapping_mul(mt[i - 1] ^ (mt[i - 1] >> 30))
                .wrapping_add(i as u32);
        }
        NumpyRandom { mt, idx: 624 }
    }

    fn next_u32(&mut self) -> u32 {
        if self.idx >= 624 {
            for i in 0..624 {
                let y = (self.mt[i] & 0x8000_0000) | (self.mt[(i + 1) % 624] & 0x7fff_ffff);
                let mut v = self.mt[(i + 397) % 624] ^ (y >> 1);
                if y & 1 == 1 {
                    v ^= 0x9908_b0df;
                }
                self.mt[i] = v;
            }
            self.idx = 0;
        }
        let mut y = self.mt[self.idx];
        self.idx += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^= y >> 18;
        y
    }

    /// `np.random.random()`: a double in [0, 1) from 53 random bits.
    pub fn random(&mut self) -> f64 {
        let a = (self.next_u32() >> 5) as f64;
        let b = (self.next_u32() >> 6) as f64;
        (a * 67_108_864.0 + b) / 9_007_199_254_740_992.0
    }

    /// `2 * np.random.random(shape) - 1`, row-major: the tutorial's weights.
    pub fn symmetric(&mut self, rows: usize, cols: usize) -> ndarray::Array2<f64> {
        ndarray::Array2::from_shape_fn((rows, cols), |_| 2.0 * self.random() - 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_numpy_seed_1() {
        // np.random.seed(1); 2*np.random.random((3,4))-1, then (4,1)
        let mut g = NumpyRandom::seed(1);
        let s0 = g.symmetric(3, 4);
        let s1 = g.symmetric(4, 1);
        assert_eq!(s0[[0, 0]], -0.165955990594852);
        assert_eq!(s0[[0, 1]], 0.4406489868843162);
        assert_eq!(s0[[2, 3]], 0.370439000793519);
        assert_eq!(s1[[0, 0]], -0.5910955005369651);
        assert_eq!(s1[[3, 0]], 0.34093502035680445);
    }
}
