//! Dealer-assisted truncation of additive shares, exact up to one unit.
//!
//! After a fixed-point product the parties hold additive shares z0 + z1 = x
//! with 2f fraction bits and must divide by 2^m. The algebra is that of the
//! three-party protocol ([`crate::mpc::trunc`], after Dalskov, Escudero and
//! Keller; SPU's `TruncAPr`), with the dealer in the role party 2 plays
//! there:
//!
//! 1. The dealer knows r = r0 + r1, whose halves the parties derive from
//!    their seeds, and deals shares of r >> m and msb(r): party 0 derives
//!    its halves h0, b0 from k_d0, party 1 receives h1 = (r >> m) − h0 and
//!    b1 = msb(r) − b0 (2n elements, offline).
//! 2. *One round.* P0 sends z0 + r0 + 2^(ℓ−2), P1 sends z1 + r1; both learn
//!    c = x' + r with x' = x + 2^(ℓ−2) ∈ [0, 2^(ℓ−1)) when |x| < 2^(ℓ−2).
//! 3. Locally: y = (c >> m) − (r >> m) + (1 − msb(c))·msb(r)·2^(ℓ−m) −
//!    2^(ℓ−2−m), split as [`p0_half`] and [`p1_half`].
//!
//! > y = ⌊x / 2^m⌋ + e, e ∈ {0, 1}, P(e = 1) = (x mod 2^m) / 2^m
//!
//! for every |x| < 2^(ℓ−2), with probability one: stochastic rounding and
//! no large-error event. SecureML's local truncation (P0 keeps z0 >> m, P1
//! takes −((−z1) >> m)) needs no round but is off by about 2^(ℓ−m) whenever
//! the shares wrap, with probability about |x| / 2^(ℓ−1) — 2^-(ℓ−ℓx−1) for
//! values of ℓx bits — per product; over a long training run that happens.
//!
//! # Cost
//!
//! 1 round and n elements per computing party online; 2n elements to P1
//! offline. After a Beaver product ([`super::beaver`]) the two rounds are
//! one operation and the dealer sends its material for both at once.
//!
//! # Security
//!
//! c = x' + r is uniform to each party: r contains r1 (resp. r0), which
//! the other party's message is masked with and which it does not know.
//! The dealer receives nothing.
//!
//! [`p0_half`]: crate::mpc::trunc::p0_half
//! [`p1_half`]: crate::mpc::trunc::p1_half

use crate::error::{Error, Result};
use crate::mpc::trunc::{dealer_values, p0_half, p1_half};
use crate::ring::RingElement;

use super::participant::{Participant, Role};
use super::streamed::{CHUNK, Chunks};
use super::sub;

/// Fails unless truncating by `m` bits is meaningful in `T`.
pub(super) fn check_bits<T: RingElement>(m: u32) -> Result<()> {
    if m == 0 || m + 2 > T::BITS {
        return Err(Error::invalid(
            "bits",
            format!("cannot truncate by {m} bits in {}", T::NAME),
        ));
    }
    Ok(())
}

impl Participant {
    /// Truncates by `m` bits the secret whose additive shares are the
    /// parties' `z` (one round); returns this party's share of the result.
    /// The dealer passes the length `n` and an empty `z`, and gets an empty
    /// vector.
    pub fn trunc<T: RingElement>(
        &mut self,
        z: Vec<T>,
        n: usize,
        m: u32,
        op_name: &'static str,
    ) -> Result<Vec<T>> {
        check_bits::<T>(m)?;
        let op = self.next_op();
        self.use_material(op_name)?;
        self.net.begin_round(op_name);
        if self.role() == Role::Dealer {
            let mut dealt = Vec::new();
            self.deal_trunc_into::<T>(op, n, m, &mut dealt)?;
            self.send_material(dealt)?;
            return Ok(Vec::new());
        }
        let mut material = self.dealt_with_trunc::<T>(op, 0, n, op_name)?;
        let (_, hi, msb) = material.parts();
        self.trunc_open(op, &z, m, hi, msb)
    }

    /// A computing party's material of operation `op` in the current
    /// round: `lead` elements of other material dealt in the same message
    /// (party 1 only; party 0 derives its own and has none), then its
    /// shares of r >> m and msb(r) for `n` elements.
    pub(super) fn dealt_with_trunc<T: RingElement>(
        &mut self,
        op: u64,
        lead: usize,
        n: usize,
        op_name: &'static str,
    ) -> Result<TruncMaterial<T>> {
        if self.net.me() == 0 {
            let k = self.dealer_key()?;
            return Ok(TruncMaterial::Derived {
                hi: k.elems(op, sub::TRUNC_HI, n),
                msb: k.elems(op, sub::TRUNC_MSB, n),
            });
        }
        let buf = self.recv_material::<T>(lead + 2 * n, op_name)?;
        Ok(TruncMaterial::Dealt { buf, lead })
    }

    /// The round of the truncation (already begun): opens z + r (+ 2^(ℓ−2)
    /// on party 0) and returns this party's half of the result.
    pub(super) fn trunc_open<T: RingElement>(
        &mut self,
        op: u64,
        z: &[T],
        m: u32,
        hi: &[T],
        msb: &[T],
    ) -> Result<Vec<T>> {
        let me = self.net.me();
        // r is read in chunks that stay in cache, twice (the same values
        // recomputed from a clone of its stream, not a second use of it:
        // see [`super::streamed`]), instead of stored.
        let mut r = Chunks::<T>::new(self.dealer_key()?.stream(op, sub::TRUNC_MASK));
        let mut r2 = r.clone();
        let off = if me == 0 {
            T::one().shl(T::BITS - 2)
        } else {
            T::zero()
        };
        let masked = |zi: &T, ri: &T| zi.wrapping_add(ri).wrapping_add(&off);
        let mut mine: Vec<T> = Vec::with_capacity(z.len());
        for zc in z.chunks(CHUNK) {
            let rk = r.next(zc.len());
            mine.extend(zc.iter().zip(rk).map(|(zi, ri)| masked(zi, ri)));
        }
        // c = theirs + ours, ours recomputed so that it is sent without a copy.
        let mut c = self.exchange(mine)?;
        // Two loops, so that each inlines its half (no call per element).
        let chunks = c.chunks_mut(CHUNK).zip(z.chunks(CHUNK));
        for ((cc, zc), (hc, bc)) in chunks.zip(hi.chunks(CHUNK).zip(msb.chunks(CHUNK))) {
            let rk = r2.next(cc.len());
            let halves = cc.iter_mut().zip(zc.iter().zip(rk)).zip(hc.iter().zip(bc));
            if me == 0 {
                for ((ci, (zi, ri)), (h, b)) in halves {
                    *ci = p0_half(ci.wrapping_add(&masked(zi, ri)), *h, *b, m);
                }
            } else {
                for ((ci, (zi, ri)), (h, b)) in halves {
                    *ci = p1_half(ci.wrapping_add(&masked(zi, ri)), *h, *b, m);
                }
            }
        }
        Ok(c)
    }

    /// Appends the dealer's material for party 1 for truncating `n`
    /// elements by `m` bits in operation `op` to `out`: (r >> m) − h0, then
    /// msb(r) − b0.
    pub(super) fn deal_trunc_into<T: RingElement>(
        &self,
        op: u64,
        n: usize,
        m: u32,
        out: &mut Vec<T>,
    ) -> Result<()> {
        let (k0, k1) = self.party_keys()?;
        let r0: Vec<T> = k0.elems(op, sub::TRUNC_MASK, n);
        let r1: Vec<T> = k1.elems(op, sub::TRUNC_MASK, n);
        let h0: Vec<T> = k0.elems(op, sub::TRUNC_HI, n);
        // b0's buffer becomes msb(r) − b0.
        let mut msb: Vec<T> = k0.elems(op, sub::TRUNC_MSB, n);
        out.reserve(2 * n);
        for (((a, b), h), top_share) in r0.iter().zip(&r1).zip(&h0).zip(msb.iter_mut()) {
            let (hi, top) = dealer_values(a.wrapping_add(b), m);
            out.push(hi.wrapping_sub(h));
            *top_share = top.wrapping_sub(top_share);
        }
        out.extend_from_slice(&msb);
        Ok(())
    }
}

/// A computing party's truncation material for one operation.
pub(super) enum TruncMaterial<T> {
    /// Party 0's, derived from its seed.
    Derived {
        /// Its share of r >> m.
        hi: Vec<T>,
        /// Its share of msb(r).
        msb: Vec<T>,
    },
    /// Party 1's message as received: `lead` elements of other material,
    /// then its shares of r >> m and of msb(r) (kept in one buffer, not
    /// copied apart).
    Dealt {
        /// The message.
        buf: Vec<T>,
        /// Elements of other material before the truncation's.
        lead: usize,
    },
}

impl<T> TruncMaterial<T> {
    /// The other material (empty on party 0), the shares of r >> m and
    /// the shares of msb(r).
    pub(super) fn parts(&mut self) -> (&mut [T], &[T], &[T]) {
        match self {
            TruncMaterial::Derived { hi, msb } => (&mut [], hi, msb),
            TruncMaterial::Dealt { buf, lead } => {
                let (other, rest) = buf.split_at_mut(*lead);
                let (hi, msb) = rest.split_at(rest.len() / 2);
                (other, hi, msb)
            }
        }
    }
}
