//! Fixed-point encoding of real numbers in the ring Z_2^ℓ.
//!
//! A real x is stored as the ring element round(x · 2^f) in two's complement,
//! where f is the number of fraction bits. Addition of encodings is exact;
//! the product of two encodings carries 2f fraction bits and must be divided
//! by 2^f again (truncated) — that is where precision is lost, and where the
//! magnitude must stay bounded, because the secure truncation protocol (see
//! [`crate::mpc`]) is exact only while the double-precision product stays
//! below 2^(ℓ-2) in absolute value.
//!
//! # Defaults and ranges
//!
//! | ring | default f | resolution 2^-f | largest encodable | safe product bound 2^(ℓ-2-2f) |
//! |---|---|---|---|---|
//! | Z_2^64 | 16 | 1.53e-5 | 1.4e14 | 2^30 ≈ 1.07e9 |
//! | Z_2^128 | 32 | 2.33e-10 | 4.0e28 | 2^62 ≈ 4.6e18 |
//!
//! 16 bits in Z_2^64 is the common choice of MPC frameworks for training
//! (CrypTen uses 16, SPU 18): it keeps 30 bits of headroom for products and
//! sums of products, which neural-network activations and gradients rarely
//! approach. Z_2^128 with 32 bits is for computations that need both tiny
//! and huge magnitudes at once, like the degree-9 sigmoid polynomial of the
//! source tutorial, whose coefficient 7.2e-9 is 0 at 16 fraction bits.
//!
//! Encoding a NaN, an infinity or a value whose encoding would not fit the
//! ring is an error naming the value, never a silent wrap.
//!
//! # Examples
//!
//! ```
//! use privml::fixed::FixedPoint;
//!
//! let fp = FixedPoint::<u64>::default();
//! assert_eq!(fp.frac_bits(), 16);
//! let e = fp.encode(-0.5).unwrap();
//! assert_eq!(e, (-32768i64) as u64);
//! assert_eq!(fp.decode(e), -0.5);
//! assert!(fp.encode(f64::NAN).is_err());
//! assert!(fp.encode(1e300).is_err());
//! ```

use std::marker::PhantomData;

use ndarray::ArrayD;

use crate::error::{Error, Result};
use crate::ring::RingElement;

/// A fixed-point format: a ring and a number of fraction bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedPoint<T> {
    frac_bits: u32,
    _ring: PhantomData<T>,
}

/// Default fraction bits for Z_2^64.
pub const DEFAULT_FRAC_BITS_64: u32 = 16;
/// Default fraction bits for Z_2^128.
pub const DEFAULT_FRAC_BITS_128: u32 = 32;

impl<T: RingElement> Default for FixedPoint<T> {
    fn default() -> Self {
        let f = if T::BITS == 64 {
            DEFAULT_FRAC_BITS_64
        } else {
            DEFAULT_FRAC_BITS_128
        };
        FixedPoint {
            frac_bits: f,
            _ring: PhantomData,
        }
    }
}

impl<T: RingElement> FixedPoint<T> {
    /// A format with `frac_bits` fraction bits. It must leave room for a
    /// product and the truncation protocol's two spare bits: 1 ≤ f and
    /// 2f + 2 < ℓ.
    pub fn new(frac_bits: u32) -> Result<Self> {
        if frac_bits == 0 || 2 * frac_bits + 2 >= T::BITS {
            return Err(Error::invalid(
                "frac_bits",
                format!(
                    "{frac_bits} fraction bits do not fit {}: need 1 <= f and 2f + 2 < {}",
                    T::NAME,
                    T::BITS
                ),
            ));
        }
        Ok(FixedPoint {
            frac_bits,
            _ring: PhantomData,
        })
    }

    /// Number of fraction bits f.
    pub fn frac_bits(&self) -> u32 {
        self.frac_bits
    }

    /// 2^f as a float.
    pub fn scale(&self) -> f64 {
        (2.0f64).powi(self.frac_bits as i32)
    }

    /// The smallest positive step, 2^-f.
    pub fn resolution(&self) -> f64 {
        1.0 / self.scale()
    }

    /// Largest encodable value, about 2^(ℓ-1-f).
    pub fn max_value(&self) -> f64 {
        let lim = (2.0f64).powi((T::BITS - 1 - self.frac_bits) as i32);
        let below = lim - self.resolution();
        if below < lim {
            below
        } else {
            // 2^-f is below f64's precision at this magnitude: the float just under.
            f64::from_bits(lim.to_bits() - 1)
        }
    }

    /// Smallest (most negative) encodable value, -2^(ℓ-1-f).
    pub fn min_value(&self) -> f64 {
        -(2.0f64).powi((T::BITS - 1 - self.frac_bits) as i32)
    }

    /// The bound on |a·b| (in value units) below which a fixed-point product
    /// is truncated exactly (to within one unit in the last place):
    /// 2^(ℓ-2-2f). Also the bound on any sum of products (matmul entries).
    pub fn product_bound(&self) -> f64 {
        (2.0f64).powi((T::BITS - 2 - 2 * self.frac_bits) as i32)
    }

    /// Same bound in ring units (2^(ℓ-2)), i.e. for a double-precision value.
    pub fn product_bound_raw(&self) -> i128 {
        1i128 << (T::BITS - 2).min(126)
    }

    /// Encodes one value (round to nearest).
    pub fn encode(&self, x: f64) -> Result<T> {
        self.encode_at(x, 0)
    }

    fn encode_at(&self, x: f64, index: usize) -> Result<T> {
        if !x.is_finite() {
            return Err(Error::NonFinite { value: x, index });
        }
        let scaled = (x * self.scale()).round();
        // The ring's signed range is [-2^(ℓ-1), 2^(ℓ-1)).
        let lim = (2.0f64).powi((T::BITS - 1) as i32);
        if scaled >= lim || scaled < -lim {
            return Err(Error::OutOfRange {
                value: x,
                index,
                min: self.min_value(),
                max: self.max_value(),
            });
        }
        Ok(T::from_i128(scaled as i128))
    }

    /// Decodes one ring element to the nearest f64.
    pub fn decode(&self, v: T) -> f64 {
        v.to_signed_f64() / self.scale()
    }

    /// Encodes a whole tensor; the first bad element is reported by index.
    pub fn encode_array(&self, x: &ArrayD<f64>) -> Result<ArrayD<T>> {
        let mut out = Vec::with_capacity(x.len());
        for (i, &v) in x.iter().enumerate() {
            out.push(self.encode_at(v, i)?);
        }
        ArrayD::from_shape_vec(x.raw_dim(), out)
            .map_err(|e| Error::invalid("tensor", e.to_string()))
    }

    /// Decodes a whole tensor.
    pub fn decode_array(&self, x: &ArrayD<T>) -> ArrayD<f64> {
        x.mapv(|v| self.decode(v))
    }

    /// Encodes an integer exactly (no rounding), for public integer factors.
    pub fn encode_int(&self, k: i64) -> T {
        T::from_i128(k as i128).shl(self.frac_bits)
    }
}

/// Fraction bits for a public scale factor `c` (a learning rate, say) that
/// multiplies values with `frac_bits` fraction bits: enough for 10
/// significant bits of `c`, at least `frac_bits`, at most `2 · frac_bits`.
/// Fewer bits than that would round `c` coarsely; more would shrink the
/// range the product may take (it must stay below 2^(ℓ-2-f-bits)).
///
/// # Examples
///
/// ```
/// use privml::fixed::coeff_bits_for;
/// assert_eq!(coeff_bits_for(0.1 / 128.0, 16), 21); // 7.8e-4: 2^-11 and 10 more bits
/// assert_eq!(coeff_bits_for(0.5, 16), 16);
/// assert_eq!(coeff_bits_for(1e-12, 16), 32);
/// ```
pub fn coeff_bits_for(c: f64, frac_bits: u32) -> u32 {
    let a = c.abs();
    let need = if a > 0.0 && a.is_finite() {
        (-a.log2()).ceil().max(0.0) as u32 + 10
    } else {
        frac_bits
    };
    need.clamp(frac_bits, 2 * frac_bits)
}

/// Encodes `x` with `bits` fraction bits in the ring (round to nearest),
/// for public coefficients that need more precision than the data format.
/// `index` names the value in errors.
pub fn encode_with_bits<T: RingElement>(x: f64, bits: u32, index: usize) -> Result<T> {
    if !x.is_finite() {
        return Err(Error::NonFinite { value: x, index });
    }
    let scaled = (x * (2.0f64).powi(bits as i32)).round();
    let lim = (2.0f64).powi((T::BITS - 1) as i32);
    if scaled >= lim || scaled < -lim || bits >= T::BITS - 1 {
        let max = lim / (2.0f64).powi(bits as i32);
        return Err(Error::OutOfRange {
            value: x,
            index,
            min: -max,
            max,
        });
    }
    Ok(T::from_i128(scaled as i128))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_bounds() {
        let f64r = FixedPoint::<u64>::default();
        assert_eq!(f64r.frac_bits(), 16);
        assert_eq!(f64r.product_bound(), (2.0f64).powi(30));
        let f128 = FixedPoint::<u128>::default();
        assert_eq!(f128.frac_bits(), 32);
        assert_eq!(f128.product_bound(), (2.0f64).powi(62));
        assert!(FixedPoint::<u64>::new(31).is_err());
        assert!(FixedPoint::<u64>::new(0).is_err());
        assert!(FixedPoint::<u64>::new(30).is_ok());
    }

    #[test]
    fn encode_rounds_to_nearest_and_checks_range() {
        let fp = FixedPoint::<u64>::new(4).unwrap();
        assert_eq!(fp.decode(fp.encode(0.03).unwrap()), 0.0);
        assert_eq!(fp.decode(fp.encode(0.04).unwrap()), 0.0625);
        assert_eq!(fp.decode(fp.encode(-1.25).unwrap()), -1.25);
        assert!(matches!(
            fp.encode(f64::INFINITY),
            Err(Error::NonFinite { .. })
        ));
        let max = fp.max_value();
        assert!(fp.encode(max).is_ok());
        assert!(fp.encode(fp.min_value()).is_ok());
        assert!(matches!(
            fp.encode(-fp.min_value()),
            Err(Error::OutOfRange { .. })
        ));
    }

    #[test]
    fn array_error_names_the_element() {
        let fp = FixedPoint::<u128>::default();
        let x = ndarray::arr1(&[1.0, 2.0, f64::NAN]).into_dyn();
        match fp.encode_array(&x) {
            Err(Error::NonFinite { index, .. }) => assert_eq!(index, 2),
            other => panic!("unexpected {other:?}"),
        }
    }
}
