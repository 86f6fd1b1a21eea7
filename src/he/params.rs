//! The BFV parameter set and the fixed-point encoding of updates into its
//! plaintext slots.

use std::sync::{Arc, OnceLock};

use fhe::bfv::{BfvParameters, BfvParametersBuilder};

use crate::error::{Error, Result};
use crate::fixed::FixedEncoding;

/// Ring degree n: the number of SIMD slots, i.e. values per ciphertext.
pub(crate) const DEGREE: usize = 4096;
/// First ciphertext prime (62 bits, ≡ 1 mod 2n): the only one left on the wire.
pub(crate) const Q0: u64 = 4_611_686_018_427_322_369;
/// Second ciphertext prime (47 bits, ≡ 1 mod 2n): used by the keys and fresh
/// encryptions, dropped by modulus switching before an update leaves a client.
pub(crate) const Q1: u64 = 140_737_488_273_409;
/// Plaintext prime t (42 bits, ≡ 1 mod 2n so that Z_t[X]/(X^n+1) splits into
/// n slots).
pub(crate) const T: u64 = 4_398_046_486_529;
/// Level of the ciphertexts that are sent and summed (modulus Q0 alone).
pub(crate) const WIRE_LEVEL: usize = 1;
/// Bits of one wire coefficient (Q0 < 2^62).
pub(crate) const COEFF_BITS: usize = 62;
/// Bytes of one packed polynomial on the wire.
pub(crate) const POLY_BYTES: usize = DEGREE * COEFF_BITS / 8;
/// Bytes of one wire ciphertext (two polynomials).
pub(crate) const CT_BYTES: usize = 2 * POLY_BYTES;

/// The shared BFV parameter object. One `Arc` for the whole process: the
/// backend adds ciphertexts only when they point to the same parameters.
pub(crate) fn bfv() -> Result<&'static Arc<BfvParameters>> {
    static PARAMS: OnceLock<Arc<BfvParameters>> = OnceLock::new();
    if let Some(p) = PARAMS.get() {
        return Ok(p);
    }
    let built = BfvParametersBuilder::new()
        .set_degree(DEGREE)
        .set_plaintext_modulus(T)
        .set_moduli(&[Q0, Q1])
        .build_arc()
        .map_err(|e| Error::HeBackend {
            op: "parameters",
            reason: e.to_string(),
        })?;
    Ok(PARAMS.get_or_init(|| built))
}

/// Parameters of homomorphic aggregation: the fixed-point scale and the
/// number of clients the plaintext space must leave headroom for.
///
/// The lattice parameters are fixed (see the [module docs](super)): ring
/// degree n = 4096, keys under q = q0·q1 (109 bits, the 128-bit bound of the
/// HomomorphicEncryption.org standard for n = 4096), plaintext prime
/// t ≈ 2^42. What a caller chooses is how that 42-bit plaintext is shared
/// between precision and headroom:
///
/// * a value x is encoded as the integer round(x · 2^f), f = `frac_bits`;
/// * each client's encodings are bounded by B = ⌊((t−1)/2) / N⌋ with
///   N = `max_clients`, so any sum of at most N updates stays inside
///   (−t/2, t/2) and decodes exactly: **no wrap-around**;
/// * a decrypted sum of k updates is within k · 2^−(f+1) of the exact sum
///   of the f64 inputs ([`sum_tolerance`](Self::sum_tolerance)): the only
///   error is the rounding of each input to the 2^−f grid.
///
/// | f | N | largest \|x\| per client | resolution |
/// |---|---|---|---|
/// | 16 (default) | 1024 (default) | ≈ 32768 | 1.5e-5 |
/// | 16 | 100 | 335544 | 1.5e-5 |
/// | 24 | 1024 | 128 | 6.0e-8 |
/// | 20 | 16384 | 128 | 9.5e-7 |
///
/// # Examples
///
/// ```
/// use privml::he::HeParams;
///
/// let p = HeParams::default();
/// assert_eq!((p.frac_bits(), p.max_clients()), (16, 1024));
/// assert!(p.max_abs_value() >= 32767.0);
/// assert_eq!(p.slots(), 4096);
/// assert_eq!(p.ciphertexts_for(100_000), 25);
/// assert!(HeParams::new(16, 0).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HeParams {
    frac_bits: u32,
    max_clients: u32,
}

impl Default for HeParams {
    /// 16 fraction bits (the project's Z_2^64 convention) and room for 1024
    /// clients: |x| ≤ 32768 per client.
    fn default() -> Self {
        HeParams {
            frac_bits: 16,
            max_clients: 1024,
        }
    }
}

impl std::fmt::Display for HeParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "BFV n={} t={} frac_bits={} max_clients={}",
            DEGREE, T, self.frac_bits, self.max_clients
        )
    }
}

impl HeParams {
    /// Values per ciphertext (SIMD slots).
    pub const SLOTS: usize = DEGREE;

    /// Largest supported `max_clients`. The decryption noise of a sum grows
    /// with the number of ciphertexts added (measured largest coefficient:
    /// 2^9 for one update, 2^12 for 100, 2^13 for 1024, 2^15 for 16384) and
    /// must stay below q0/(2t) ≈ 2^19 for the sum to decrypt correctly.
    pub const MAX_CLIENTS: u32 = 16_384;

    /// Parameters with `frac_bits` fraction bits and headroom for sums of up
    /// to `max_clients` updates. Errors if `max_clients` is 0 or above
    /// [`MAX_CLIENTS`](Self::MAX_CLIENTS), or if the resulting per-client
    /// bound [`max_abs_value`](Self::max_abs_value) would be below 1.
    pub fn new(frac_bits: u32, max_clients: u32) -> Result<Self> {
        if max_clients == 0 || max_clients > Self::MAX_CLIENTS {
            return Err(Error::invalid(
                "max_clients",
                format!(
                    "{max_clients} is not in 1..={}: the decryption noise of larger sums is not covered",
                    Self::MAX_CLIENTS
                ),
            ));
        }
        let p = HeParams {
            frac_bits,
            max_clients,
        };
        if frac_bits > 40 || p.max_abs_value() < 1.0 {
            return Err(Error::invalid(
                "frac_bits",
                format!(
                    "{frac_bits} fraction bits with {max_clients} clients leave a per-client range below 1 \
                     (the plaintext has 41 bits for magnitude: need 2^frac_bits * max_clients < 2^41)"
                ),
            ));
        }
        Ok(p)
    }

    /// Number of fraction bits f.
    pub fn frac_bits(&self) -> u32 {
        self.frac_bits
    }

    /// Largest number of updates one sum may hold.
    pub fn max_clients(&self) -> u32 {
        self.max_clients
    }

    /// The scale 2^f.
    pub fn scale(&self) -> f64 {
        (2.0f64).powi(self.frac_bits as i32)
    }

    /// The encoding step 2^−f.
    pub fn resolution(&self) -> f64 {
        1.0 / self.scale()
    }

    /// Largest |x| a client may encode: B / 2^f with
    /// B = ⌊((t−1)/2) / max_clients⌋. Values beyond it are an error, never a
    /// silent wrap of the sum.
    pub fn max_abs_value(&self) -> f64 {
        self.fixed_encoding().max_value()
    }

    /// Guaranteed bound on |decrypted sum − exact sum| per element for a sum
    /// of `clients` updates: clients · 2^−(f+1) (round-to-nearest of each
    /// input; the integer sum itself is exact).
    pub fn sum_tolerance(&self, clients: usize) -> f64 {
        clients as f64 * 0.5 * self.resolution()
    }

    /// Values per ciphertext: 4096.
    pub fn slots(&self) -> usize {
        DEGREE
    }

    /// The plaintext modulus t (a 42-bit prime).
    pub fn plaintext_modulus(&self) -> u64 {
        T
    }

    /// Bits of the ciphertext modulus of the keys and of fresh encryptions
    /// (109), and of the modulus-switched ciphertexts that are sent and
    /// summed (62).
    pub fn ciphertext_modulus_bits(&self) -> (u32, u32) {
        (Q0.ilog2() + 1 + Q1.ilog2() + 1, Q0.ilog2() + 1)
    }

    /// Ciphertexts needed for an update of `len` values: ⌈len / 4096⌉.
    pub fn ciphertexts_for(&self, len: usize) -> usize {
        len.div_ceil(DEGREE)
    }

    /// Bytes of an encrypted update of `len` values on the wire
    /// (what [`EncryptedUpdate::byte_len`](super::EncryptedUpdate::byte_len)
    /// will report): a 48-byte header plus 63 488 bytes per ciphertext,
    /// about 15.5 bytes per value.
    pub fn encrypted_len(&self, len: usize) -> usize {
        super::wire::HEADER_LEN + self.ciphertexts_for(len) * CT_BYTES
    }

    /// Per-client bound B in encoded (integer) units.
    pub(crate) fn bound(&self) -> u64 {
        ((T - 1) / 2) / u64::from(self.max_clients)
    }

    /// The fixed-point encoding of one client's values: round(x · 2^f)
    /// within ±B ([`crate::fixed::FixedEncoding`]).
    pub(crate) fn fixed_encoding(&self) -> FixedEncoding {
        FixedEncoding::symmetric(self.frac_bits, self.bound())
    }

    /// Encodes an update as signed integers round(x · 2^f), checking every
    /// value: NaN and infinities are [`Error::NonFinite`], values whose
    /// `max_clients`-fold sum could wrap are [`Error::OutOfRange`]; both name
    /// the index.
    pub(crate) fn encode(&self, update: &[f64]) -> Result<Vec<i64>> {
        let encoding = self.fixed_encoding();
        update
            .iter()
            .enumerate()
            .map(|(index, &value)| encoding.encode_i64(value, index))
            .collect()
    }

    /// Decodes a slot of a decrypted sum: the centred lift of `residue`
    /// (in [0, t)) divided by 2^f.
    pub(crate) fn decode(&self, residue: u64) -> f64 {
        let signed = if residue > (T - 1) / 2 {
            -((T - residue) as i64)
        } else {
            residue as i64
        };
        signed as f64 / self.scale()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moduli_are_ntt_friendly() {
        for m in [Q0, Q1, T] {
            assert_eq!(m % (2 * DEGREE as u64), 1, "{m}");
        }
        assert_eq!(Q0.ilog2() + 1, COEFF_BITS as u32);
        // 109 bits: the HE-standard bound for n = 4096 at 128-bit security.
        assert_eq!(HeParams::default().ciphertext_modulus_bits(), (109, 62));
    }

    #[test]
    fn parameters_build() {
        let p = bfv().expect("parameters");
        assert_eq!(p.degree(), DEGREE);
        assert_eq!(p.plaintext(), T);
        assert_eq!(p.moduli(), &[Q0, Q1]);
    }

    #[test]
    fn encode_decode_round_trip() {
        let p = HeParams::default();
        let xs = [0.0, 1.0, -1.0, 0.5, -32767.5, 32767.99, 1.0e-5, -3.25];
        let enc = p.encode(&xs).expect("in range");
        for (x, e) in xs.iter().zip(enc) {
            let residue = (e.rem_euclid(T as i64)) as u64;
            let back = p.decode(residue);
            assert!((back - x).abs() <= 0.5 * p.resolution(), "{x} -> {back}");
        }
    }

    #[test]
    fn headroom_covers_max_clients() {
        for (f, n) in [(16, 1024), (16, 100), (0, 16384), (30, 1)] {
            let p = HeParams::new(f, n).expect("valid");
            // N updates at the bound still fit the centred range.
            assert!(u128::from(p.bound()) * u128::from(n) <= u128::from((T - 1) / 2));
            // and one more client's worth would not.
            assert!(u128::from(p.bound() + 1) * u128::from(n) > u128::from((T - 1) / 2));
        }
    }

    #[test]
    fn out_of_range_and_non_finite_name_the_index() {
        let p = HeParams::default();
        let max = p.max_abs_value();
        match p.encode(&[0.0, max * 1.01]) {
            Err(Error::OutOfRange {
                index: 1, value, ..
            }) => assert_eq!(value, max * 1.01),
            other => panic!("{other:?}"),
        }
        match p.encode(&[1.0, 2.0, f64::NAN]) {
            Err(Error::NonFinite { index: 2, .. }) => {}
            other => panic!("{other:?}"),
        }
        match p.encode(&[f64::NEG_INFINITY]) {
            Err(Error::NonFinite { index: 0, .. }) => {}
            other => panic!("{other:?}"),
        }
        assert!(p.encode(&[max, -max]).is_ok());
    }

    #[test]
    fn invalid_parameters() {
        assert!(HeParams::new(16, 0).is_err());
        assert!(HeParams::new(16, HeParams::MAX_CLIENTS + 1).is_err());
        assert!(HeParams::new(40, 1024).is_err());
        assert!(HeParams::new(41, 1).is_err());
        assert!(HeParams::new(30, 1024).is_ok());
        assert!(HeParams::new(31, 1024).is_err());
    }
}
