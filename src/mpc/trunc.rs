//! Fixed-point truncation, fused with the product it follows.
//!
//! After a fixed-point product the parties hold x = a·b with 2f fraction
//! bits and must divide by 2^f. privml uses a dealer-assisted truncation with
//! a known most significant bit of the mask, in the style of Dalskov,
//! Escudero and Keller, *Secure Evaluation of Quantized Neural Networks*
//! (PETS 2020, §3.2.2, building on Escudero et al., CRYPTO 2020), which is
//! also SPU's `TruncAPr`. What privml adds is the fusion: the product's
//! 3-out-of-3 additive shares are opened under the mask directly, so the
//! resharing round of the multiplication disappears.
//!
//! # Protocol (input: party i holds z_i with z_0 + z_1 + z_2 = x; output:
//! replicated shares of y)
//!
//! Keys: k20 (parties 0 and 2), k12 (parties 1 and 2). x' = x + 2^(ℓ-2).
//!
//! 1. *Round 1.* P0 sends m0 = z0 + r0 + 2^(ℓ-2) to P1 and P1 sends
//!    m1 = z1 + r1 to P0, with r0 from k20 and r1 from k12. Both compute
//!    c = m0 + m1 = x' + r, where r = r0 + r1 - z2 is known to P2 only.
//!    P2 computes r_hi = r >> m and r_msb = msb(r) and sends P1 its halves
//!    r_hi - h0, r_msb - b0 of 2-out-of-2 sharings whose P0 halves h0, b0
//!    come from k20.
//! 2. P0 and P1 compute their halves of
//!    y = (c >> m) - r_hi + (1 - msb(c))·r_msb·2^(ℓ-m) - 2^(ℓ-2-m).
//! 3. *Round 2.* To make y replicated, y0 comes from k20 and y2 from k12;
//!    P0 and P1 exchange their halves minus y0 (resp. y2) and both learn
//!    y1 = y - y0 - y2. Party i ends with (y_i, y_{i+1}).
//!
//! # Correctness and error bound
//!
//! If |x| < 2^(ℓ-2) then x' ∈ [0, 2^(ℓ-1)), and x' + r wraps modulo 2^ℓ
//! exactly when msb(r) = 1 and msb(c) = 0; the wrap term corrects it, so
//!
//! > y = ⌊x / 2^m⌋ + e, with e ∈ {0, 1} and P(e = 1) = (x mod 2^m) / 2^m,
//!
//! that is, stochastic rounding: at most one unit in the last place from the
//! exact quotient, unbiased, and exact when x is a multiple of 2^m. There is
//! **no large-error event**: unlike SecureML/ABY3 Π_trunc1 (off by about
//! 2^(ℓ-m) with probability ≈ |x|/2^(ℓ-1)), the bound holds with probability
//! one for every x in range. For the default Z_2^64 with 16 fraction bits the
//! range |x| < 2^62 means |a·b| < 2^30 in value units.
//!
//! # Cost
//!
//! 2 rounds, 2 ring elements sent by every party per output element
//! (P0: n + n, P1: n + n, P2: 2n), versus 1 round and 1 element for the
//! product alone: one extra round and one extra element per party.
//!
//! # Security
//!
//! P2 receives nothing. P0 sees m1 = z1 + r1 (masked by r1, which it does not
//! know) and P1's round-2 half (masked by y2); P1 sees m0 (masked by r0), the
//! dealer halves (masked by h0, b0) and P0's round-2 half (masked by y0).
//! c = x' + r is uniform to both because r contains a PRF output each of
//! them lacks. No single party's view depends on x.

use crate::error::{Error, Result};
use crate::ring::RingElement;
use crate::ring::audit::{NegativeControl, broken};
use crate::ring::prg::AesPrg;

use super::party::{Party, add_into};

/// Sub-streams of the k20 and k12 keystreams used by one truncation.
mod sub {
    pub const MASK: u8 = 0;
    pub const DEALER_HI: u8 = 1;
    pub const DEALER_MSB: u8 = 2;
    pub const OUT: u8 = 3;
}

/// The offset 2^(ℓ-2) that makes x' non-negative.
fn offset<T: RingElement>() -> T {
    T::one().shl(T::BITS - 2)
}

/// The dealer's values for mask r: (r >> m, msb(r) as 0/1).
#[inline]
pub fn dealer_values<T: RingElement>(r: T, m: u32) -> (T, T) {
    let msb = if r.msb() { T::one() } else { T::zero() };
    (r.shr_logical(m), msb)
}

/// All ones if msb(c) = 0, else zero (branch-free, so loops vectorise).
#[inline(always)]
fn wrap_mask<T: RingElement>(c: T) -> T {
    c.shr_arith(T::BITS - 1)
        .xor(T::zero().wrapping_sub(&T::one()))
}

/// P0's half of the output, from the opened c and its dealer halves.
#[inline(always)]
pub fn p0_half<T: RingElement>(c: T, h0: T, b0: T, m: u32) -> T {
    c.shr_logical(m)
        .wrapping_sub(&h0)
        .wrapping_add(&b0.shl(T::BITS - m).and(wrap_mask(c)))
        .wrapping_sub(&T::one().shl(T::BITS - 2 - m))
}

/// P1's half of the output, from the opened c and its dealer halves.
#[inline(always)]
pub fn p1_half<T: RingElement>(c: T, h1: T, b1: T, m: u32) -> T {
    b1.shl(T::BITS - m).and(wrap_mask(c)).wrapping_sub(&h1)
}

impl Party {
    /// Truncates by `m` bits the secret whose additive shares are the
    /// parties' `z` and returns this party's replicated share of the result.
    /// See the [module documentation](self) for the protocol and its bound.
    pub fn trunc_additive<T: RingElement>(
        &mut self,
        z: Vec<T>,
        m: u32,
        op_name: &'static str,
    ) -> Result<(Vec<T>, Vec<T>)> {
        if m == 0 || m + 2 > T::BITS {
            return Err(Error::invalid(
                "bits",
                format!("cannot truncate by {m} bits in {}", T::NAME),
            ));
        }
        let op = self.next_op();
        let n = z.len();
        let me = self.me();
        let off = offset::<T>();
        // The first mask's sub-stream; a negative control of the test
        // builds draws it from the output sub-stream (see ring::audit).
        let first_mask = if broken(NegativeControl::TruncMaskFromOutputStream) {
            sub::OUT
        } else {
            sub::MASK
        };
        self.net.begin_round(op_name);
        // Keystreams that are used once are read in cache-sized chunks and
        // consumed at once (never stored whole): the protocol is bound by
        // memory traffic, and a stored keystream costs a write and a read.
        match me {
            0 => {
                let k20 = self.keys.prev.clone();
                let mut m0 = z;
                each_chunk(&mut m0, k20.stream(op, first_mask), |v, r| {
                    v.wrapping_add(&r).wrapping_add(&off)
                });
                // c = m0 + m1
                let mut c = self.exchange_sum(1, m0)?;
                let y0: Vec<T> = k20.elems(op, sub::OUT, n);
                // s0 = P0's half - y0, in place over c
                let (mut hs, mut bs) = (
                    k20.stream(op, sub::DEALER_HI),
                    k20.stream(op, sub::DEALER_MSB),
                );
                let len = n.min(CHUNK);
                let (mut h, mut b) = (vec![T::zero(); len], vec![T::zero(); len]);
                for (cc, yc) in c.chunks_mut(CHUNK).zip(y0.chunks(CHUNK)) {
                    let k = cc.len();
                    hs.fill(&mut h[..k]);
                    bs.fill(&mut b[..k]);
                    for (((ci, hi), bi), yi) in cc.iter_mut().zip(&h[..k]).zip(&b[..k]).zip(yc) {
                        *ci = p0_half(*ci, *hi, *bi, m).wrapping_sub(yi);
                    }
                }
                self.net.begin_round(op_name);
                let y1 = self.exchange_sum(1, c)?;
                Ok((y0, y1))
            }
            1 => {
                let k12 = self.keys.next.clone();
                let mut m1 = z;
                each_chunk(&mut m1, k12.stream(op, sub::MASK), |v, r| {
                    v.wrapping_add(&r)
                });
                let mut c = self.exchange_sum(0, m1)?;
                let dealt = self.net.recv_elems::<T>(2, 2 * n)?;
                let (h1, b1) = dealt.split_at(n);
                let y2: Vec<T> = k12.elems(op, sub::OUT, n);
                for ((((ci, h), b), y), _) in c.iter_mut().zip(h1).zip(b1).zip(&y2).zip(0..n) {
                    *ci = p1_half(*ci, *h, *b, m).wrapping_sub(y);
                }
                drop(dealt);
                self.net.begin_round(op_name);
                let y1 = self.exchange_sum(0, c)?;
                Ok((y1, y2))
            }
            _ => {
                let k20 = self.keys.next.clone();
                let k12 = self.keys.prev.clone();
                // party 1's dealer halves: for r = r0 + r1 - z2,
                // (r >> m) - h0 and msb(r) - b0, h0 and b0 being party 0's
                let mut dealt = vec![T::zero(); 2 * n];
                {
                    let (h1, b1) = dealt.split_at_mut(n);
                    let mut streams = [
                        k20.stream(op, first_mask),
                        k12.stream(op, sub::MASK),
                        k20.stream(op, sub::DEALER_HI),
                        k20.stream(op, sub::DEALER_MSB),
                    ];
                    let len = n.min(CHUNK);
                    let mut buf: [Vec<T>; 4] = std::array::from_fn(|_| vec![T::zero(); len]);
                    for ((hc, bc), zc) in h1
                        .chunks_mut(CHUNK)
                        .zip(b1.chunks_mut(CHUNK))
                        .zip(z.chunks(CHUNK))
                    {
                        let k = hc.len();
                        for (st, bf) in streams.iter_mut().zip(buf.iter_mut()) {
                            st.fill(&mut bf[..k]);
                        }
                        for (i, (h, b)) in hc.iter_mut().zip(bc.iter_mut()).enumerate() {
                            let r = buf[0][i].wrapping_add(&buf[1][i]).wrapping_sub(&zc[i]);
                            let (hi, msb) = dealer_values(r, m);
                            *h = hi.wrapping_sub(&buf[2][i]);
                            *b = msb.wrapping_sub(&buf[3][i]);
                        }
                    }
                }
                drop(z);
                self.net.send_elems(1, dealt)?;
                let y2: Vec<T> = k12.elems(op, sub::OUT, n);
                let y0: Vec<T> = k20.elems(op, sub::OUT, n);
                self.net.begin_round(op_name);
                Ok((y2, y0))
            }
        }
    }
}

impl Party {
    /// Sends `mine` to `peer` and returns `mine` plus what `peer` sent:
    /// how parties 0 and 1 open a value both mask (c in round 1, y1 in
    /// round 2).
    fn exchange_sum<T: RingElement>(&mut self, peer: usize, mine: Vec<T>) -> Result<Vec<T>> {
        self.net.send_elems(peer, mine.clone())?;
        let mut sum = self.net.recv_elems::<T>(peer, mine.len())?;
        add_into(&mut sum, &mine);
        Ok(sum)
    }
}

/// Elements per keystream chunk (16 KiB of u64: stays in L1/L2).
const CHUNK: usize = 2048;

/// v[i] = f(v[i], r[i]) with r read from `stream` chunk by chunk.
fn each_chunk<T: RingElement>(v: &mut [T], mut stream: AesPrg, f: impl Fn(T, T) -> T) {
    let mut buf = vec![T::zero(); v.len().min(CHUNK)];
    for c in v.chunks_mut(CHUNK) {
        let k = c.len();
        stream.fill(&mut buf[..k]);
        for (x, r) in c.iter_mut().zip(&buf[..k]) {
            *x = f(*x, *r);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ring::prg::{AesPrg, Seed};

    /// The protocol's local algebra, all three roles in one place.
    fn simulate<T: RingElement>(x: T, m: u32, g: &mut AesPrg) -> T {
        let v: Vec<T> = g.vec(5);
        let (z0, z1) = (v[0], v[1]);
        let z2 = x.wrapping_sub(&z0).wrapping_sub(&z1);
        let (r0, r1) = (v[2], v[3]);
        let r = r0.wrapping_add(&r1).wrapping_sub(&z2);
        let c = z0
            .wrapping_add(&r0)
            .wrapping_add(&offset::<T>())
            .wrapping_add(&z1.wrapping_add(&r1));
        let (hi, msb) = dealer_values(r, m);
        let h0 = v[4];
        let b0 = v[4].wrapping_mul(&T::from_u64(3));
        let h1 = hi.wrapping_sub(&h0);
        let b1 = msb.wrapping_sub(&b0);
        p0_half(c, h0, b0, m).wrapping_add(&p1_half(c, h1, b1, m))
    }

    fn check<T: RingElement>(x: i128, m: u32, g: &mut AesPrg) {
        let xt = T::from_i128(x);
        let y = simulate(xt, m, g).to_i128();
        let floor = x >> m;
        assert!(
            y == floor || y == floor + 1,
            "x={x} m={m}: got {y}, floor {floor}"
        );
    }

    #[test]
    fn one_bit_error_across_the_range_u64() {
        let mut g = AesPrg::new(&Seed::from_u64(1));
        let lim: i128 = 1 << 62;
        for &x in &[
            0i128,
            1,
            -1,
            65535,
            65536,
            -65536,
            lim - 1,
            -lim,
            -lim + 1,
            1 << 40,
        ] {
            for m in [1, 16, 32, 60] {
                for _ in 0..50 {
                    check::<u64>(x, m, &mut g);
                }
            }
        }
        for _ in 0..20000 {
            let raw: u64 = g.vec(1)[0];
            let x = (raw as i64 as i128) >> 2; // uniform over the whole valid range
            check::<u64>(x, 16, &mut g);
        }
    }

    #[test]
    fn one_bit_error_across_the_range_u128() {
        let mut g = AesPrg::new(&Seed::from_u64(2));
        let lim: i128 = 1 << 126;
        for &x in &[0i128, -1, lim - 1, -lim, 12345678901234567] {
            for m in [1, 32, 64, 100] {
                for _ in 0..20 {
                    check::<u128>(x, m, &mut g);
                }
            }
        }
        for _ in 0..5000 {
            let raw: u128 = g.vec(1)[0];
            check::<u128>((raw as i128) >> 2, 32, &mut g);
        }
    }

    #[test]
    fn multiples_of_two_to_the_m_are_exact() {
        let mut g = AesPrg::new(&Seed::from_u64(3));
        for k in [-5i128, 0, 7, 1 << 20] {
            for _ in 0..100 {
                let y = simulate(u64::from_i128(k << 16), 16, &mut g).to_i128();
                assert_eq!(y, k);
            }
        }
    }
}
