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
        self.encoding().max_value()
    }

    /// Smallest (most negative) encodable value, -2^(ℓ-1-f).
    pub fn min_value(&self) -> f64 {
        self.encoding().min_value()
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
        Ok(T::from_i128(self.encoding().encode_i128(x, 0)?))
    }

    /// The encoding rule of this format: round(x · 2^f) anywhere in the
    /// ring's signed range [-2^(ℓ-1), 2^(ℓ-1)).
    pub fn encoding(&self) -> FixedEncoding {
        FixedEncoding::ring::<T>(self.frac_bits)
    }

    /// Decodes one ring element to the nearest f64.
    pub fn decode(&self, v: T) -> f64 {
        v.to_signed_f64() / self.scale()
    }

    /// Encodes a whole tensor; the first bad element is reported by index.
    pub fn encode_array(&self, x: &ArrayD<f64>) -> Result<ArrayD<T>> {
        let encoding = self.encoding();
        let mut out = Vec::with_capacity(x.len());
        for (i, &v) in x.iter().enumerate() {
            out.push(T::from_i128(encoding.encode_i128(v, i)?));
        }
        ArrayD::from_shape_vec(x.raw_dim(), out)
            .map_err(|e| Error::internal("FixedPoint::encode_array", e.to_string()))
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
/// `index` names the value in errors, whose range is ±2^(ℓ-1-bits); with
/// `bits` ≥ ℓ - 1 no value can be encoded.
pub fn encode_with_bits<T: RingElement>(x: f64, bits: u32, index: usize) -> Result<T> {
    let out_of_range = || {
        let max = (2.0f64).powi((T::BITS - 1) as i32) / (2.0f64).powi(bits as i32);
        Error::OutOfRange {
            value: x,
            index,
            min: -max,
            max,
        }
    };
    if bits >= T::BITS - 1 {
        return Err(if x.is_finite() {
            out_of_range()
        } else {
            Error::NonFinite { value: x, index }
        });
    }
    match FixedEncoding::ring::<T>(bits).encode_i128(x, index) {
        Ok(e) => Ok(T::from_i128(e)),
        Err(Error::OutOfRange { .. }) => Err(out_of_range()),
        Err(e) => Err(e),
    }
}

/// The rule every fixed-point encoder of the crate follows: a real x
/// becomes the integer round(x · 2^f) (to nearest, ties away from zero),
/// which must lie in an inclusive range [min, max] of integers.
///
/// The range is what differs between users: a ring's whole signed range
/// ([`FixedPoint`], [`FixedEncoding::ring`]), or a symmetric bound that
/// leaves headroom for sums, as in federated share encoding
/// ([`ShareParams`](crate::fl::ShareParams)) and the HE plaintext
/// ([`HeParams`](crate::he::HeParams)): ⌊(2^63 − 1)/N⌋ or ⌊((t − 1)/2)/N⌋
/// for sums of N updates ([`FixedEncoding::symmetric`]).
///
/// A NaN or an infinity is [`Error::NonFinite`]; a value whose encoding
/// falls outside the range is [`Error::OutOfRange`] with the range in value
/// units ([`min_value`](Self::min_value), [`max_value`](Self::max_value));
/// both name the index given. The range check is exact in integers, even
/// where f64 cannot represent the bound.
///
/// # Examples
///
/// ```
/// use privml::Error;
/// use privml::fixed::FixedEncoding;
///
/// // 16 fraction bits, at most 1000 · 2^16 in magnitude.
/// let enc = FixedEncoding::symmetric(16, 1000 << 16);
/// assert_eq!(enc.encode_i64(-0.5, 0)?, -32768);
/// assert_eq!(enc.max_value(), 1000.0);
/// assert!(enc.encode_i64(1000.0, 0).is_ok());
/// assert!(matches!(enc.encode_i64(1000.0001, 3), Err(Error::OutOfRange { index: 3, .. })));
/// assert!(matches!(enc.encode_i64(f64::NAN, 1), Err(Error::NonFinite { index: 1, .. })));
/// # Ok::<(), privml::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FixedEncoding {
    frac_bits: u32,
    scale: f64,
    /// The smallest f64 that is at least `min`.
    lowest: f64,
    /// The largest f64 that is at most `max`.
    highest: f64,
    /// `lowest` and `highest` clamped to the range of `i64`.
    lowest_i64: f64,
    highest_i64: f64,
}

impl FixedEncoding {
    /// Encodings round(x · 2^`frac_bits`) within [`min`, `max`]. A range
    /// that does not contain 0 (`min` > 0 or `max` < 0) encodes nothing;
    /// with `frac_bits` above 1023, 2^f is infinite and nothing encodes
    /// either.
    pub fn new(frac_bits: u32, min: i128, max: i128) -> Self {
        // f64 cannot hold every i128: move the bounds inwards to the
        // nearest f64 (at most a step or two).
        let mut highest = max as f64;
        while highest >= TWO_127 || highest as i128 > max {
            highest = highest.next_down();
        }
        let mut lowest = min as f64;
        while lowest < -TWO_127 || (lowest as i128) < min {
            lowest = lowest.next_up();
        }
        FixedEncoding {
            frac_bits,
            scale: (2.0f64).powi(frac_bits.min(i32::MAX as u32) as i32),
            lowest,
            highest,
            lowest_i64: lowest.max(-TWO_63),
            highest_i64: highest.min(I64_HIGHEST),
        }
    }

    /// Encodings within ±`bound`.
    pub fn symmetric(frac_bits: u32, bound: u64) -> Self {
        Self::new(frac_bits, -i128::from(bound), i128::from(bound))
    }

    /// Encodings anywhere in the signed range of the ring Z_2^ℓ of `T`:
    /// [-2^(ℓ-1), 2^(ℓ-1) - 1].
    pub fn ring<T: RingElement>(frac_bits: u32) -> Self {
        if T::BITS >= 128 {
            Self::new(frac_bits, i128::MIN, i128::MAX)
        } else {
            let half = 1i128 << (T::BITS - 1);
            Self::new(frac_bits, -half, half - 1)
        }
    }

    /// Number of fraction bits f.
    pub fn frac_bits(&self) -> u32 {
        self.frac_bits
    }

    /// 2^f.
    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// Largest value that encodes, in value units: the largest f64 at most
    /// max / 2^f.
    pub fn max_value(&self) -> f64 {
        self.highest / self.scale
    }

    /// Smallest (most negative) value that encodes: the smallest f64 at
    /// least min / 2^f.
    pub fn min_value(&self) -> f64 {
        self.lowest / self.scale
    }

    /// round(x · 2^f) if it lies in [lo, hi]. An integer-valued f64 lies
    /// in [min, max] exactly when it lies in [lowest, highest], so the check
    /// is exact without any integer conversion; a NaN or an infinity fails
    /// it too (the bounds are finite).
    #[inline(always)]
    fn rounded(&self, x: f64, lo: f64, hi: f64) -> Option<f64> {
        let e = (x * self.scale).round();
        (e >= lo && e <= hi).then_some(e)
    }

    /// Why `x` (element `index`) did not encode.
    #[cold]
    fn refusal(&self, x: f64, index: usize) -> Error {
        if x.is_finite() {
            Error::OutOfRange {
                value: x,
                index,
                min: self.min_value(),
                max: self.max_value(),
            }
        } else {
            Error::NonFinite { value: x, index }
        }
    }

    /// Encodes `x` (element `index`, for errors) as an `i128`.
    #[inline]
    pub fn encode_i128(&self, x: f64, index: usize) -> Result<i128> {
        match self.rounded(x, self.lowest, self.highest) {
            // [lowest, highest] lies within [-2^127, 2^127): `as` is exact.
            Some(e) => Ok(e as i128),
            None => Err(self.refusal(x, index)),
        }
    }

    /// Encodes `x` (element `index`, for errors) as an `i64`. Encodings in
    /// the range but beyond `i64` are [`Error::OutOfRange`] too.
    #[inline]
    pub fn encode_i64(&self, x: f64, index: usize) -> Result<i64> {
        self.try_encode_i64(x).ok_or_else(|| self.refusal(x, index))
    }

    /// [`encode_i64`](Self::encode_i64) for callers that report a refusal
    /// their own way: `None` where it would be an error.
    #[inline]
    pub fn try_encode_i64(&self, x: f64) -> Option<i64> {
        self.rounded(x, self.lowest_i64, self.highest_i64)
            .map(|e| e as i64)
    }
}

/// 2^127 as an f64 (exact): no `i128` is this large.
const TWO_127: f64 = (1u128 << 127) as f64;
/// 2^63 as an f64 (exact).
const TWO_63: f64 = (1u64 << 63) as f64;
/// The largest f64 below 2^63 (2^63 − 2^10: f64 steps by 2^10 there), so at
/// most `i64::MAX`.
const I64_HIGHEST: f64 = ((1u64 << 63) - 1024) as f64;

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

    /// Values around the edges of a range [lo, hi] (in value units).
    fn edges(lo: f64, hi: f64) -> Vec<f64> {
        let mut v = vec![
            0.0,
            1.0,
            -1.0,
            0.3,
            f64::NAN,
            f64::INFINITY,
            f64::MAX,
            f64::MIN,
        ];
        for x in [lo, hi] {
            let mut y = x;
            for _ in 0..4 {
                y = y.next_down();
            }
            for _ in 0..8 {
                v.push(y);
                y = y.next_up();
            }
            v.extend([x * 0.999, x * 1.001, x * 0.5, x * 2.0]);
        }
        v
    }

    #[test]
    fn ring_encoding_is_the_former_fixed_point_rule() {
        // The rule FixedPoint used before it shared FixedEncoding: range
        // checked in f64 against ±2^(ℓ-1), the largest value computed apart.
        fn former<T: RingElement>(f: u32) {
            let fp = FixedPoint::<T>::new(f).expect("valid");
            let lim = (2.0f64).powi((T::BITS - 1) as i32);
            let top = (2.0f64).powi((T::BITS - 1 - f) as i32);
            let below = top - (2.0f64).powi(-(f as i32));
            let max = if below < top {
                below
            } else {
                f64::from_bits(top.to_bits() - 1)
            };
            assert_eq!(fp.max_value(), max, "{} f = {f}", T::NAME);
            assert_eq!(fp.min_value(), -top, "{} f = {f}", T::NAME);
            for x in edges(-top, top) {
                let scaled = (x * fp.scale()).round();
                let ok = x.is_finite() && scaled < lim && scaled >= -lim;
                match fp.encode(x) {
                    Ok(e) => {
                        assert!(ok, "{} f = {f}: {x} encoded", T::NAME);
                        assert_eq!(e, T::from_i128(scaled as i128));
                    }
                    Err(Error::NonFinite { .. }) => assert!(!x.is_finite()),
                    Err(Error::OutOfRange { min, max: m, .. }) => {
                        assert!(!ok, "{} f = {f}: {x} refused", T::NAME);
                        assert_eq!((min, m), (-top, max));
                    }
                    Err(e) => panic!("{e}"),
                }
            }
        }
        for f in 1..=30 {
            former::<u64>(f);
        }
        for f in 1..=62 {
            former::<u128>(f);
        }
    }

    #[test]
    fn symmetric_bounds_are_exact_where_f64_is_not() {
        // ⌊(2^63 − 1)/N⌋ is not an f64 for most N: the check is exact in
        // integers all the same (the rule of the federated share encoding).
        for n in [1u64, 3, 7, 100, 1024, 65_536] {
            let bound = (i64::MAX as u64) / n;
            for f in [0, 16, 30] {
                let enc = FixedEncoding::symmetric(f, bound);
                let max = enc.max_value();
                assert!(max * enc.scale() <= bound as f64);
                for x in edges(-max, max) {
                    let e = (x * enc.scale()).round();
                    let fits =
                        e.is_finite() && e.abs() < TWO_63 && (e as i64).unsigned_abs() <= bound;
                    match enc.encode_i64(x, 7) {
                        Ok(v) => {
                            assert!(fits, "N = {n} f = {f}: {x} encoded");
                            assert_eq!(v, e as i64);
                        }
                        Err(Error::NonFinite { index: 7, .. }) => assert!(!x.is_finite()),
                        Err(Error::OutOfRange {
                            index: 7,
                            min,
                            max: m,
                            ..
                        }) => {
                            assert!(!fits, "N = {n} f = {f}: {x} refused");
                            assert_eq!((min, m), (-max, max));
                        }
                        Err(e) => panic!("{e}"),
                    }
                }
                // The largest value encodes.
                assert!(enc.encode_i64(max, 0).is_ok());
            }
        }
    }

    #[test]
    fn i64_encoding_refuses_what_does_not_fit_i64() {
        let wide = FixedEncoding::ring::<u128>(0);
        assert_eq!(wide.encode_i128(1e30, 0).expect("fits i128"), 1e30 as i128);
        assert!(matches!(
            wide.encode_i64(1e30, 0),
            Err(Error::OutOfRange { .. })
        ));
        assert_eq!(
            wide.encode_i64(-9.2e18, 0).expect("fits i64"),
            -9.2e18 as i64
        );
        // A range without 0, and 2^f infinite: nothing encodes, nothing panics.
        assert!(FixedEncoding::new(0, 5, 10).encode_i64(0.0, 0).is_err());
        assert!(
            FixedEncoding::new(2000, -10, 10)
                .encode_i64(0.0, 0)
                .is_err()
        );
        assert!(
            FixedEncoding::new(2000, -10, 10)
                .encode_i64(1.0, 0)
                .is_err()
        );
    }
}
