//! A fast cryptographic pseudo-random generator: AES-128 in counter mode.
//!
//! Secret sharing needs a lot of randomness: every multiplication draws one
//! or more ring elements per output from keys that pairs of parties share, so
//! the generator's speed is part of the protocol's speed. AES-CTR with AES-NI
//! (picked at run time by the `aes` crate) runs at several GB/s per core on
//! this kind of machine; the counter blocks are written straight into the
//! destination buffer and encrypted in place, so filling a slice costs one
//! pass over memory.
//!
//! Seeds come from the operating system's generator ([`Seed::random`]); tests
//! may fix them ([`Seed::from_bytes`]).
//!
//! # Examples
//!
//! ```
//! use privml::ring::prg::{AesPrg, Seed};
//!
//! let seed = Seed::from_bytes([7; 16]);
//! let mut a = AesPrg::new(&seed);
//! let mut b = AesPrg::new(&seed);
//! let (mut x, mut y) = ([0u64; 5], [0u64; 5]);
//! a.fill(&mut x);
//! b.fill(&mut y);
//! assert_eq!(x, y); // same seed, same stream: this is how two parties share randomness
//! ```

use std::convert::Infallible;

use aes::Aes128;
use aes::cipher::{Array, BlockCipherEncrypt, KeyInit};
use rand_core::{TryCryptoRng, TryRng};

use super::RingElement;
use crate::error::{Error, Result};

/// Fills `buf` from the operating system's cryptographic RNG: the source of
/// every seed and key that is not fixed for a test.
///
/// # Errors
///
/// [`Error::OsRng`] if the operating system cannot provide randomness (there
/// is no fallback to a weaker source).
///
/// # Examples
///
/// ```
/// let mut key = [0u8; 32];
/// privml::ring::prg::fill_from_os(&mut key)?;
/// # Ok::<(), privml::Error>(())
/// ```
pub fn fill_from_os(buf: &mut [u8]) -> Result<()> {
    rand::rngs::SysRng
        .try_fill_bytes(buf)
        .map_err(|e| Error::OsRng(e.into()))
}

/// A 128-bit PRG seed. It is a secret: no `Display`, and `Debug` shows nothing.
#[derive(Clone, PartialEq, Eq)]
pub struct Seed([u8; 16]);

impl Seed {
    /// A fresh seed from the operating system's cryptographic RNG
    /// ([`Error::OsRng`] if it fails).
    pub fn random() -> Result<Self> {
        let mut s = [0u8; 16];
        fill_from_os(&mut s)?;
        Ok(Seed(s))
    }

    /// A seed with fixed bytes (tests, reproducible simulations).
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        Seed(bytes)
    }

    /// A seed derived from a small integer, for reproducible tests only.
    pub fn from_u64(v: u64) -> Self {
        let mut s = [0u8; 16];
        s[..8].copy_from_slice(&v.to_le_bytes());
        s[8..].copy_from_slice(&(!v).to_le_bytes());
        Seed(s)
    }

    /// The raw bytes (to send a seed to a peer during key set-up).
    pub fn expose_bytes(&self) -> [u8; 16] {
        self.0
    }
}

impl std::fmt::Debug for Seed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Seed(<redacted>)")
    }
}

/// AES-128-CTR keystream generator.
///
/// A clone continues the same stream from the same point: it recomputes
/// the values the original yields (to read a stream twice without storing
/// it), it is not a fresh stream.
#[derive(Clone)]
pub struct AesPrg {
    cipher: Aes128,
    counter: u128,
    /// Leftover bytes of the last block for small requests.
    buf: [u8; 16],
    buf_pos: usize,
}

impl std::fmt::Debug for AesPrg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AesPrg(<redacted>)")
    }
}

const BLOCK: usize = 16;

impl AesPrg {
    /// A generator keyed with `seed`, starting at counter 0.
    pub fn new(seed: &Seed) -> Self {
        let key = Array::from(seed.0);
        AesPrg {
            cipher: Aes128::new(&key),
            counter: 0,
            buf: [0; 16],
            buf_pos: BLOCK,
        }
    }

    /// A generator with an already expanded key, starting at `counter`.
    fn at(cipher: Aes128, counter: u128) -> Self {
        AesPrg {
            cipher,
            counter,
            buf: [0; 16],
            buf_pos: BLOCK,
        }
    }

    /// A generator keyed from the operating system's RNG.
    pub fn from_entropy() -> Result<Self> {
        Ok(Self::new(&Seed::random()?))
    }

    /// Fills whole 16-byte blocks in place: counter, then encrypt.
    fn fill_blocks(&mut self, blocks: &mut [[u8; BLOCK]]) {
        let (hi, lo) = ((self.counter >> 64) as u64, self.counter as u64);
        if lo.checked_add(blocks.len() as u64).is_some() {
            // No carry into the high half: two 64-bit stores per block
            // (the little-endian bytes of the same 128-bit counter).
            let hi = hi.to_le_bytes();
            for (b, c) in blocks.iter_mut().zip(lo..) {
                b[..8].copy_from_slice(&c.to_le_bytes());
                b[8..].copy_from_slice(&hi);
            }
            self.counter = self.counter.wrapping_add(blocks.len() as u128);
        } else {
            for b in blocks.iter_mut() {
                *b = self.counter.to_le_bytes();
                self.counter = self.counter.wrapping_add(1);
            }
        }
        self.cipher
            .encrypt_blocks(Array::cast_slice_from_core_mut(blocks));
    }

    /// Fills `dst` with keystream bytes.
    pub fn fill_bytes_fast(&mut self, dst: &mut [u8]) {
        let mut dst = dst;
        // Drain leftovers first so that the stream is the same however it is cut.
        while self.buf_pos < BLOCK && !dst.is_empty() {
            dst[0] = self.buf[self.buf_pos];
            self.buf_pos += 1;
            dst = &mut dst[1..];
        }
        let whole = dst.len() / BLOCK * BLOCK;
        let (head, tail) = dst.split_at_mut(whole);
        // Chunk to stay in cache between writing counters and encrypting.
        for chunk in head.chunks_mut(BLOCK * 1024) {
            let blocks: &mut [[u8; BLOCK]] = bytemuck::cast_slice_mut(chunk);
            self.fill_blocks(blocks);
        }
        if !tail.is_empty() {
            let mut b = [[0u8; BLOCK]];
            self.fill_blocks(&mut b);
            self.buf = b[0];
            let n = tail.len();
            tail.copy_from_slice(&self.buf[..n]);
            self.buf_pos = n;
        }
    }

    /// Fills `dst` with uniform ring elements.
    pub fn fill<T: RingElement>(&mut self, dst: &mut [T]) {
        self.fill_bytes_fast(bytemuck::cast_slice_mut(dst));
    }

    /// A vector of `n` uniform ring elements.
    pub fn vec<T: RingElement>(&mut self, n: usize) -> Vec<T> {
        let mut v = vec![T::zero(); n];
        self.fill(&mut v);
        v
    }
}

/// Bytes per rayon task when [`PrfKey::fill`] fills a large slice.
const FILL_CHUNK_BYTES: usize = 1 << 20;

/// The AES counter where stream `(op, sub)` starts.
fn stream_start(op: u64, sub: u8) -> u128 {
    ((op as u128) << 64) | ((sub as u128) << 56)
}

/// A PRF key shared by two parties: both derive the same independent
/// keystreams from it, one per (operation, sub-stream) pair, without talking.
///
/// Stream `(op, sub)` starts at AES counter `op · 2^64 + sub · 2^56`, so
/// streams never overlap (each may run for 2^56 blocks) and a party that
/// consumes more of one stream cannot shift any other.
///
/// In test builds (feature `audit-keystreams`) a key made `audited` records
/// every stream it opens in its owner's keystream log: see [`super::audit`].
#[derive(Clone)]
pub struct PrfKey {
    cipher: Aes128,
    #[cfg(feature = "audit-keystreams")]
    id: super::audit::KeyId,
    #[cfg(feature = "audit-keystreams")]
    tag: Option<super::audit::KeyTag>,
}

impl std::fmt::Debug for PrfKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PrfKey(<redacted>)")
    }
}

impl PrfKey {
    /// The key for `seed`.
    pub fn new(seed: &Seed) -> Self {
        PrfKey {
            cipher: Aes128::new(&Array::from(seed.0)),
            #[cfg(feature = "audit-keystreams")]
            id: super::audit::KeyId::of(seed),
            #[cfg(feature = "audit-keystreams")]
            tag: None,
        }
    }

    /// The same key, recording every stream it opens in `log` (test builds
    /// only); `label` says what the key is to the log's owner.
    #[cfg(feature = "audit-keystreams")]
    pub fn audited(mut self, label: &str, log: std::sync::Arc<super::audit::KeystreamLog>) -> Self {
        self.tag = Some(super::audit::KeyTag {
            id: self.id,
            label: label.into(),
            log,
        });
        self
    }

    /// The log this key records into, if it is audited (test builds only).
    #[cfg(feature = "audit-keystreams")]
    pub fn log(&self) -> Option<std::sync::Arc<super::audit::KeystreamLog>> {
        self.tag.as_ref().map(|t| t.log.clone())
    }

    /// Records the opening of stream `(op, sub)` in the owner's log (test
    /// builds with an audited key; nothing otherwise).
    #[inline(always)]
    fn record(&self, op: u64, sub: u8) {
        #[cfg(feature = "audit-keystreams")]
        if let Some(t) = &self.tag {
            t.log
                .open(super::audit::StreamId { key: t.id, op, sub }, &t.label);
        }
        #[cfg(not(feature = "audit-keystreams"))]
        let _ = (op, sub);
    }

    /// The keystream of operation `op`, sub-stream `sub`.
    pub fn stream(&self, op: u64, sub: u8) -> AesPrg {
        self.record(op, sub);
        AesPrg::at(self.cipher.clone(), stream_start(op, sub))
    }

    /// `n` ring elements from stream `(op, sub)`: the same as
    /// [`fill`](Self::fill) into `n` zeros. Below the parallel threshold
    /// the keystream goes from a small buffer straight into the vector, so
    /// that its memory is written once, not zeroed first.
    pub fn elems<T: RingElement>(&self, op: u64, sub: u8, n: usize) -> Vec<T> {
        // Above the threshold the zeroed vector is filled on rayon's pool:
        // the zeroing costs one pass over memory, but collecting into the
        // uninitialised vector in parallel without `unsafe` (rayon's
        // `map_init(..).collect_into_vec`, one call per element: 37 % of
        // the profile) made two-party W1 1.6x slower in an A/B under load
        // on 2026-11-26 (branch twopc-speed), and the parallel fill
        // keeps party 0, which derives twice party 1's keystream, off the
        // critical path.
        if n * T::BYTES >= 2 * FILL_CHUNK_BYTES {
            let mut v = vec![T::zero(); n];
            self.fill(op, sub, &mut v);
            return v;
        }
        self.record(op, sub);
        let mut prg = AesPrg::at(self.cipher.clone(), stream_start(op, sub));
        let mut v = Vec::with_capacity(n);
        // 256 blocks: 4 KiB, in L1; whole blocks of elements, so the bytes
        // are those of one pass over the stream.
        let mut buf = [T::zero(); 256 * BLOCK / 8];
        let per_buf = 256 * BLOCK / T::BYTES;
        while v.len() < n {
            let blocks = bytemuck::cast_slice_mut::<T, [u8; BLOCK]>(&mut buf[..per_buf]);
            prg.fill_blocks(blocks);
            let take = per_buf.min(n - v.len());
            v.extend_from_slice(&buf[..take]);
        }
        v
    }

    /// Fills `dst` from the start of stream `(op, sub)`: the same bytes as
    /// [`stream`](Self::stream)`(op, sub).fill(dst)`, computed on rayon's
    /// pool in chunks when `dst` is large (counter mode is seekable).
    pub fn fill<T: RingElement>(&self, op: u64, sub: u8, dst: &mut [T]) {
        use rayon::prelude::*;
        const CHUNK_BYTES: usize = FILL_CHUNK_BYTES;
        self.record(op, sub);
        let bytes: &mut [u8] = bytemuck::cast_slice_mut(dst);
        let start = stream_start(op, sub);
        if bytes.len() < 2 * CHUNK_BYTES {
            AesPrg::at(self.cipher.clone(), start).fill_bytes_fast(bytes);
            return;
        }
        bytes
            .par_chunks_mut(CHUNK_BYTES)
            .enumerate()
            .for_each(|(i, chunk)| {
                let blocks = (i * CHUNK_BYTES / BLOCK) as u128;
                AesPrg::at(self.cipher.clone(), start.wrapping_add(blocks)).fill_bytes_fast(chunk);
            });
    }
}

impl TryRng for AesPrg {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut b = [0u8; 4];
        self.fill_bytes_fast(&mut b);
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut b = [0u8; 8];
        self.fill_bytes_fast(&mut b);
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        self.fill_bytes_fast(dst);
        Ok(())
    }
}

impl TryCryptoRng for AesPrg {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_does_not_depend_on_how_it_is_cut() {
        let seed = Seed::from_u64(42);
        let mut a = AesPrg::new(&seed);
        let mut whole = vec![0u8; 1000];
        a.fill_bytes_fast(&mut whole);
        let mut b = AesPrg::new(&seed);
        let mut parts = vec![0u8; 1000];
        let mut pos = 0;
        for n in [3usize, 16, 1, 200, 17, 0, 763] {
            b.fill_bytes_fast(&mut parts[pos..pos + n]);
            pos += n;
        }
        assert_eq!(whole, parts);
    }

    #[test]
    fn different_seeds_differ_and_output_looks_uniform() {
        let mut a = AesPrg::new(&Seed::from_u64(1));
        let mut b = AesPrg::new(&Seed::from_u64(2));
        let x: Vec<u64> = a.vec(4096);
        let y: Vec<u64> = b.vec(4096);
        assert_ne!(x, y);
        // each bit position is set about half the time
        for bit in 0..64 {
            let ones = x.iter().filter(|v| (*v >> bit) & 1 == 1).count();
            assert!((1700..2400).contains(&ones), "bit {bit}: {ones}");
        }
    }

    #[test]
    fn elems_equal_the_sequential_stream_below_and_above_the_parallel_threshold() {
        let k = PrfKey::new(&Seed::from_u64(12));
        // 2 MiB of u64 is the threshold; u128 crosses it at half the count
        for n in [0usize, 1, 511, 513, (1 << 18) - 1, 1 << 18, (1 << 18) + 777] {
            let mut seq = vec![0u64; n];
            k.stream(4, 1).fill(&mut seq);
            assert_eq!(k.elems::<u64>(4, 1, n), seq, "u64, n = {n}");
            let mut seq = vec![0u128; n];
            k.stream(4, 2).fill(&mut seq);
            assert_eq!(k.elems::<u128>(4, 2, n), seq, "u128, n = {n}");
        }
    }

    #[test]
    fn prf_streams_are_reproducible_and_distinct() {
        let k = PrfKey::new(&Seed::from_u64(9));
        let a: Vec<u64> = k.elems(5, 0, 8);
        assert_eq!(a, k.elems::<u64>(5, 0, 8));
        assert_ne!(a, k.elems::<u64>(5, 1, 8));
        assert_ne!(a, k.elems::<u64>(6, 0, 8));
    }

    #[test]
    fn parallel_fill_equals_the_sequential_stream() {
        let k = PrfKey::new(&Seed::from_u64(11));
        for n in [0usize, 1, 5, 300_000, 1 << 19] {
            let mut par = vec![0u64; n];
            k.fill(3, 2, &mut par);
            let mut seq = vec![0u64; n];
            k.stream(3, 2).fill(&mut seq);
            assert_eq!(par, seq, "n = {n}");
        }
    }

    #[test]
    fn seed_debug_is_redacted() {
        let s = Seed::from_u64(5);
        assert_eq!(format!("{s:?}"), "Seed(<redacted>)");
        assert_ne!(Seed::random().unwrap(), Seed::random().unwrap());
    }
}
