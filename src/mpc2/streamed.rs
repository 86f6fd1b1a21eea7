//! The elementwise Beaver product and its truncation, computed in
//! cache-sized chunks: the common case of [`super::beaver`] (operands of
//! equal shapes, no broadcast), as a computing party runs it.
//!
//! # Why
//!
//! The protocol, its messages and its rounds are those of
//! [`super::beaver`] and [`super::trunc`], and so is every value: the
//! result is bit-identical. What changes is where the keystreams live.
//! Derived as whole vectors, party 0's six keystreams (a, b, c0, r and
//! its shares of r >> m and msb r) of a product of 10^6 elements are
//! 48 MB that are zeroed, written, and read back from memory, on fresh
//! pages the kernel must clear; a two-party W1 profile spent about a third
//! of its time there. Here each keystream is read [`CHUNK`] elements at a
//! time into a buffer that stays in L1 and consumed at once, so the
//! operands, the messages and the output are the only vectors that touch
//! memory.
//!
//! # Passes
//!
//! 1. x − a and y − b, the first round's message.
//! 2. From the other party's message: e and f, z = c + x ⊙ f + e ⊙ b,
//!    and at once the truncation's message z + r (+ 2^(ℓ−2) on party 0)
//!    — the truncation's round still comes after the first round's
//!    message has arrived, as it must. A copy of the message is kept.
//! 3. From the other party's second message: c = theirs + ours and this
//!    party's half of the truncated value.
//!
//! a and b are needed in passes 1 and 2: their streams are opened once
//! and read twice, from a clone of the generator taken before the first
//! read. The second read recomputes the same values for the same use
//! (AES on a chunk in L1 is cheaper than storing and reloading 16 MB);
//! no mask is ever applied to two different values, which is what the
//! keystream audit ([`crate::ring::audit`]) guards against, and it still
//! records each stream opened exactly once.

use crate::error::{Error, Result};
use crate::mpc::trunc::{p0_half, p1_half};
use crate::ring::RingElement;
use crate::ring::prg::AesPrg;

use super::participant::Participant;
use super::sub;

/// Elements per chunk: 4 KiB of u64 (8 KiB of u128), so that the chunks of
/// the keystreams a pass reads together stay in L1.
pub(super) const CHUNK: usize = 512;

/// A keystream read in chunks of at most [`CHUNK`] elements.
#[derive(Clone)]
pub(super) struct Chunks<T> {
    prg: AesPrg,
    buf: Vec<T>,
}

impl<T: RingElement> Chunks<T> {
    /// Reads `prg` from where it stands.
    pub(super) fn new(prg: AesPrg) -> Self {
        Chunks {
            prg,
            buf: vec![T::zero(); CHUNK],
        }
    }

    /// The next `len` elements of the stream (`len` ≤ [`CHUNK`]: the
    /// callers cut their slices with `chunks(CHUNK)`).
    pub(super) fn next(&mut self, len: usize) -> &[T] {
        let b = &mut self.buf[..len];
        self.prg.fill(b);
        b
    }
}

/// Party 1's dealt material is shorter than the operation it was dealt for
/// (the transport and the preprocessing reader check lengths, so this is a
/// bug, not a peer's fault).
fn short_material() -> Error {
    Error::internal(
        "mpc2",
        "party 1's dealt material is shorter than its product",
    )
}

impl Participant {
    /// A computing party's fixed-point elementwise products of operation
    /// `op`, when `xs[k]` and `ys[k]` have the same length for every k:
    /// the two rounds of [`Participant::mul_trunc`] (begun here), this
    /// party's share of the outputs concatenated.
    pub(super) fn mul_trunc_streamed<T: RingElement>(
        &mut self,
        op: u64,
        xs: &[&[T]],
        ys: &[&[T]],
        m: u32,
        op_name: &'static str,
    ) -> Result<Vec<T>> {
        let me = self.net.me();
        let n: usize = xs.iter().map(|x| x.len()).sum();
        let key = self.dealer_key()?.clone();
        let mut a = Chunks::<T>::new(key.stream(op, sub::A));
        let mut b = Chunks::<T>::new(key.stream(op, sub::B));
        // The same streams again for pass 2 (see the module docs).
        let (mut a2, mut b2) = (a.clone(), b.clone());

        // Pass 1: x − a, then y − b.
        let mut masked = Vec::with_capacity(2 * n);
        for (ops, mask) in [(xs, &mut a), (ys, &mut b)] {
            for x in ops {
                for xc in x.chunks(CHUNK) {
                    let mk = mask.next(xc.len());
                    masked.extend(xc.iter().zip(mk).map(|(xi, ai)| xi.wrapping_sub(ai)));
                }
            }
        }
        self.net.begin_round(op_name);
        // Party 1's c1, r >> m − h0 and msb r − b0 come in one message;
        // party 0 derives its c0, h0 and b0.
        let dealt: Vec<T> = if me == 1 {
            self.recv_material::<T>(3 * n, op_name)?
        } else {
            Vec::new()
        };
        let mut c0 = (me == 0).then(|| Chunks::<T>::new(key.stream(op, sub::C)));
        let mut r = Chunks::<T>::new(key.stream(op, sub::TRUNC_MASK));
        let ef = self.exchange(masked)?;
        let (e, f) = ef.split_at(n);

        // Pass 2: e, f, z and the truncation's message z + r (+ 2^(ℓ−2)).
        let off = if me == 0 {
            T::one().shl(T::BITS - 2)
        } else {
            T::zero()
        };
        let mut mine: Vec<T> = Vec::with_capacity(n);
        let mut kept: Vec<T> = Vec::with_capacity(n);
        let mut at = 0;
        for (x, y) in xs.iter().zip(ys) {
            for (xc, yc) in x.chunks(CHUNK).zip(y.chunks(CHUNK)) {
                let end = at + xc.len();
                let len = xc.len();
                let (ak, bk, rk) = (a2.next(len), b2.next(len), r.next(len));
                let ck = match &mut c0 {
                    Some(s) => s.next(len),
                    None => dealt.get(at..end).ok_or_else(short_material)?,
                };
                let opened = e[at..end].iter().zip(&f[at..end]);
                let lanes = xc
                    .iter()
                    .zip(yc)
                    .zip(opened)
                    .zip(ak.iter().zip(bk))
                    .zip(ck.iter().zip(rk));
                mine.extend(lanes.map(|((((xi, yi), (eo, fo)), (ai, bi)), (ci, ri))| {
                    let ei = eo.wrapping_add(&xi.wrapping_sub(ai));
                    let fi = fo.wrapping_add(&yi.wrapping_sub(bi));
                    let z =
                        ci.wrapping_add(&xi.wrapping_mul(&fi).wrapping_add(&ei.wrapping_mul(bi)));
                    z.wrapping_add(ri).wrapping_add(&off)
                }));
                kept.extend_from_slice(&mine[at..end]);
                at = end;
            }
        }
        drop(ef);

        // Pass 3: c = theirs + ours, then this party's half.
        self.net.begin_round(op_name);
        let mut out = self.exchange(mine)?;
        if me == 0 {
            let mut hi = Chunks::<T>::new(key.stream(op, sub::TRUNC_HI));
            let mut msb = Chunks::<T>::new(key.stream(op, sub::TRUNC_MSB));
            for (oc, kc) in out.chunks_mut(CHUNK).zip(kept.chunks(CHUNK)) {
                let len = oc.len();
                let (hk, sk) = (hi.next(len), msb.next(len));
                for (((o, k), h), s) in oc.iter_mut().zip(kc).zip(hk).zip(sk) {
                    *o = p0_half(o.wrapping_add(k), *h, *s, m);
                }
            }
        } else {
            let (hi, msb) = dealt.get(n..3 * n).ok_or_else(short_material)?.split_at(n);
            for (((o, k), h), s) in out.iter_mut().zip(&kept).zip(hi).zip(msb) {
                *o = p1_half(o.wrapping_add(k), *h, *s, m);
            }
        }
        Ok(out)
    }
}
