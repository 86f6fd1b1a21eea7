//! Integer rings Z_2^64 and Z_2^128: the numbers the protocol computes with.
//!
//! Secret sharing and fixed-point arithmetic both live in the ring of integers
//! modulo 2^ℓ, where reduction is free (the machine word wraps). The
//! [`RingElement`] trait gathers what the rest of the crate needs from such a
//! ring: wrapping arithmetic (from `num-traits`), signed interpretation,
//! uniform sampling from a cryptographic RNG, and fast little-endian
//! (de)serialisation of whole slices, which is what crosses the wire.
//!
//! # Examples
//!
//! ```
//! use privml::ring::RingElement;
//!
//! let a = u64::MAX; // -1 in the signed reading
//! assert_eq!(a.wrapping_add(2), 1);
//! assert_eq!(a.to_signed_f64(), -1.0);
//! let bytes = u64::slice_to_le_bytes(&[1, 2]);
//! assert_eq!(bytes.len(), 16);
//! let mut back = [0u64; 2];
//! u64::slice_from_le_bytes(&bytes, &mut back).unwrap();
//! assert_eq!(back, [1, 2]);
//! ```

// `kernels` (target-feature dispatch) and `amx` (inline assembly) are the
// modules with `unsafe`; their safe entry points are re-exported below and
// in `gemm64`.
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
mod amx;
/// AMX exists only on x86-64 (and its tile permission is asked of Linux):
/// elsewhere the kernel is never available.
#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
mod amx {
    pub(crate) fn available() -> bool {
        false
    }
    pub(crate) fn matmul_acc(
        _: &[u64],
        _: &[u64],
        _: &mut [u64],
        _: usize,
        _: usize,
        _: usize,
    ) -> bool {
        false
    }
}
pub mod audit;
pub mod gemm64;
pub(crate) mod kernels;
mod limb_f64;
pub mod prg;

pub use kernels::{matmul, matmul_acc};

use std::borrow::Cow;
use std::fmt::Debug;

use num_traits::{One, WrappingAdd, WrappingMul, WrappingNeg, WrappingSub, Zero};
use rand_core::Rng;

use crate::error::DecodeError;

/// A message payload: ring elements travel as typed vectors so that the
/// in-memory transport moves them without copying, and the TCP transport
/// writes them as little-endian bytes.
#[derive(Debug)]
pub enum Payload {
    /// Elements of Z_2^64.
    U64(Vec<u64>),
    /// Elements of Z_2^128.
    U128(Vec<u128>),
    /// Raw bytes (seeds, packed bits).
    Bytes(Vec<u8>),
}

impl Payload {
    /// Size of the payload on the wire, in bytes.
    pub fn byte_len(&self) -> usize {
        match self {
            Payload::U64(v) => v.len() * 8,
            Payload::U128(v) => v.len() * 16,
            Payload::Bytes(v) => v.len(),
        }
    }

    /// A one-byte code for the element type, used in frame headers.
    pub fn kind(&self) -> u8 {
        match self {
            Payload::U64(_) => 1,
            Payload::U128(_) => 2,
            Payload::Bytes(_) => 3,
        }
    }

    /// Name of the element type, for error messages.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Payload::U64(_) => "u64",
            Payload::U128(_) => "u128",
            Payload::Bytes(_) => "bytes",
        }
    }
}

/// An element of Z_2^ℓ for ℓ = 64 or 128.
///
/// All arithmetic wraps modulo 2^ℓ. The signed reading (two's complement) is
/// what fixed-point encoding uses for negative numbers.
pub trait RingElement:
    Copy
    + Send
    + Sync
    + 'static
    + Debug
    + Default
    + PartialEq
    + Eq
    + Ord
    + std::hash::Hash
    + Zero
    + One
    + WrappingAdd
    + WrappingSub
    + WrappingMul
    + WrappingNeg
    + bytemuck::Pod
{
    /// ℓ, the number of bits.
    const BITS: u32;
    /// ℓ / 8, the number of bytes on the wire.
    const BYTES: usize;
    /// A short name for reports: `"Z_2^64"`.
    const NAME: &'static str;

    /// The element with the low 64 bits `v` (zero-extended).
    fn from_u64(v: u64) -> Self;
    /// The low 64 bits.
    fn low_u64(self) -> u64;
    /// The element whose signed reading is `v` (sign-extended).
    fn from_i128(v: i128) -> Self;
    /// The signed reading, as i128 (exact for both rings: i128 holds any u64
    /// signed value and is the u128 signed value itself).
    fn to_i128(self) -> i128;
    /// The signed reading converted to f64 (rounded to nearest).
    fn to_signed_f64(self) -> f64;
    /// The most significant bit (the sign in the signed reading).
    fn msb(self) -> bool {
        (self.shr_logical(Self::BITS - 1)).low_u64() & 1 == 1
    }
    /// Logical right shift by `k < BITS`.
    fn shr_logical(self, k: u32) -> Self;
    /// Arithmetic (sign-propagating) right shift by `k < BITS`: floor division
    /// of the signed reading by 2^k.
    fn shr_arith(self, k: u32) -> Self;
    /// Left shift by `k < BITS` (wrapping).
    fn shl(self, k: u32) -> Self;
    /// Bitwise xor.
    fn xor(self, other: Self) -> Self;
    /// Bitwise and.
    fn and(self, other: Self) -> Self;
    /// The `i`-th 64-bit limb (little-endian), for `i < BITS / 64`.
    fn limb(self, i: u32) -> u64 {
        self.shr_logical(64 * i).low_u64()
    }

    /// Fills `dst` with independent uniform elements drawn from `rng`.
    fn fill_uniform<R: Rng + ?Sized>(rng: &mut R, dst: &mut [Self]) {
        rng.fill_bytes(bytemuck::cast_slice_mut(dst));
    }

    /// The little-endian bytes of a whole slice: borrowed (zero-copy) on
    /// little-endian machines, converted otherwise.
    fn slice_to_le_bytes(src: &[Self]) -> Cow<'_, [u8]>;

    /// Reads `dst.len()` elements from little-endian `bytes`. The length must
    /// match exactly.
    fn slice_from_le_bytes(bytes: &[u8], dst: &mut [Self]) -> Result<(), LengthError>;

    /// Wraps a vector of elements into a transport payload (no copy).
    fn into_payload(v: Vec<Self>) -> Payload;

    /// Takes a payload apart again; `Err` gives back the payload's kind name if
    /// it holds a different element type.
    fn from_payload(p: Payload) -> Result<Vec<Self>, &'static str>;

    /// Decodes a payload of raw bytes (what arrives over TCP) into elements.
    fn from_bytes_payload(bytes: &[u8]) -> Result<Vec<Self>, LengthError> {
        if !bytes.len().is_multiple_of(Self::BYTES) {
            return Err(LengthError {
                expected: bytes.len() / Self::BYTES * Self::BYTES,
                got: bytes.len(),
            });
        }
        let mut out = vec![Self::zero(); bytes.len() / Self::BYTES];
        Self::slice_from_le_bytes(bytes, &mut out)?;
        Ok(out)
    }
}

/// A byte buffer whose length does not fit the number of elements requested.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LengthError {
    /// Bytes expected.
    pub expected: usize,
    /// Bytes given.
    pub got: usize,
}

impl std::fmt::Display for LengthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "expected {} bytes, got {}", self.expected, self.got)
    }
}

impl From<LengthError> for DecodeError {
    fn from(e: LengthError) -> Self {
        DecodeError::WrongLength {
            expected: e.expected as u64,
            found: e.got as u64,
        }
    }
}

macro_rules! read_le_into {
    ($t:ty, $bytes:expr, $dst:expr) => {{
        let bytes: &[u8] = $bytes;
        let dst: &mut [$t] = $dst;
        let need = dst.len() * std::mem::size_of::<$t>();
        if bytes.len() != need {
            return Err(LengthError {
                expected: need,
                got: bytes.len(),
            });
        }
        if cfg!(target_endian = "little") {
            // Byte copy straight into the destination's memory: one memcpy,
            // no alignment requirement on `bytes`.
            bytemuck::cast_slice_mut::<$t, u8>(dst).copy_from_slice(bytes);
        } else {
            for (d, c) in dst
                .iter_mut()
                .zip(bytes.chunks_exact(std::mem::size_of::<$t>()))
            {
                let mut a = [0u8; std::mem::size_of::<$t>()];
                a.copy_from_slice(c);
                *d = <$t>::from_le_bytes(a);
            }
        }
        Ok(())
    }};
}

macro_rules! to_le_bytes {
    ($t:ty, $src:expr) => {{
        let src: &[$t] = $src;
        if cfg!(target_endian = "little") {
            Cow::Borrowed(bytemuck::cast_slice::<$t, u8>(src))
        } else {
            Cow::Owned(src.iter().flat_map(|v| v.to_le_bytes()).collect())
        }
    }};
}

/// `RingElement` for one unsigned integer type: `$s` is its signed twin
/// (for arithmetic shifts and sign extension), `$payload` its transport
/// variant. Written once so that Z_2^64 and Z_2^128 cannot drift apart.
macro_rules! ring_element {
    ($t:ty, $s:ty, $bits:literal, $name:literal, $payload:ident) => {
        impl RingElement for $t {
            const BITS: u32 = $bits;
            const BYTES: usize = $bits / 8;
            const NAME: &'static str = $name;

            #[inline(always)]
            fn from_u64(v: u64) -> Self {
                <$t>::from(v)
            }
            #[inline(always)]
            fn low_u64(self) -> u64 {
                self as u64
            }
            #[inline(always)]
            fn from_i128(v: i128) -> Self {
                v as $t
            }
            #[inline(always)]
            fn to_i128(self) -> i128 {
                i128::from(self as $s)
            }
            #[inline(always)]
            fn to_signed_f64(self) -> f64 {
                self as $s as f64
            }
            #[inline(always)]
            fn shr_logical(self, k: u32) -> Self {
                self >> k
            }
            #[inline(always)]
            fn shr_arith(self, k: u32) -> Self {
                ((self as $s) >> k) as $t
            }
            #[inline(always)]
            fn shl(self, k: u32) -> Self {
                self << k
            }
            #[inline(always)]
            fn xor(self, other: Self) -> Self {
                self ^ other
            }
            #[inline(always)]
            fn and(self, other: Self) -> Self {
                self & other
            }
            fn slice_to_le_bytes(src: &[Self]) -> Cow<'_, [u8]> {
                to_le_bytes!($t, src)
            }
            fn slice_from_le_bytes(bytes: &[u8], dst: &mut [Self]) -> Result<(), LengthError> {
                read_le_into!($t, bytes, dst)
            }
            fn into_payload(v: Vec<Self>) -> Payload {
                Payload::$payload(v)
            }
            fn from_payload(p: Payload) -> Result<Vec<Self>, &'static str> {
                match p {
                    Payload::$payload(v) => Ok(v),
                    other => Err(other.kind_name()),
                }
            }
        }
    };
}

ring_element!(u64, i64, 64, "Z_2^64", U64);
ring_element!(u128, i128, 128, "Z_2^128", U128);

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip<T: RingElement>(vals: &[T]) {
        let bytes = T::slice_to_le_bytes(vals);
        assert_eq!(bytes.len(), vals.len() * T::BYTES);
        let mut back = vec![T::zero(); vals.len()];
        T::slice_from_le_bytes(&bytes, &mut back).unwrap();
        assert_eq!(back, vals);
        // wrong length is an error, not a panic
        assert!(T::slice_from_le_bytes(&bytes[..bytes.len() - 1], &mut back).is_err());
    }

    #[test]
    fn le_roundtrip_both_rings() {
        roundtrip::<u64>(&[0, 1, u64::MAX, 0x0123_4567_89ab_cdef]);
        roundtrip::<u128>(&[0, 1, u128::MAX, 0x0123_4567_89ab_cdef_0011_2233_4455_6677]);
    }

    #[test]
    fn le_layout_is_little_endian() {
        let b = u64::slice_to_le_bytes(&[0x0102_0304_0506_0708]);
        assert_eq!(&*b, &[8, 7, 6, 5, 4, 3, 2, 1]);
    }

    #[test]
    fn signed_reading_and_shifts() {
        let m1 = u64::MAX;
        assert_eq!(m1.to_i128(), -1);
        assert!(m1.msb());
        assert_eq!(m1.shr_arith(3), u64::MAX);
        assert_eq!((-8i64 as u64).shr_arith(2), -2i64 as u64);
        assert_eq!(u128::from_i128(-5).to_i128(), -5);
        assert_eq!(u64::from_i128(-5).to_signed_f64(), -5.0);
        assert!(!1u128.msb());
    }

    #[test]
    fn payload_roundtrip_and_kind_check() {
        let p = u64::into_payload(vec![1, 2, 3]);
        assert_eq!(p.byte_len(), 24);
        assert_eq!(u64::from_payload(p).unwrap(), vec![1, 2, 3]);
        let p = u128::into_payload(vec![1]);
        assert_eq!(u64::from_payload(p).unwrap_err(), "u128");
        assert!(u64::from_bytes_payload(&[0u8; 9]).is_err());
    }
}
