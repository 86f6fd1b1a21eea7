//! Boolean (XOR) replicated sharing in bit-sliced form, and its AND gate.
//!
//! A secret bit vector b = b0 ⊕ b1 ⊕ b2 is held like arithmetic shares: party
//! i has (b_i, b_{i+1}). Comparison circuits work bit position by bit
//! position across many elements at once, so bits are stored *sliced*: a
//! [`Planes`] value holds, for each bit position j of the ℓ-bit ring
//! elements, one plane of ⌈n/64⌉ words whose bit e is bit j of element e.
//! One AND gate on a plane is then 64 element-gates per word, and a round
//! that evaluates g gates on n elements sends exactly g·⌈n/64⌉ words.
//!
//! AND (ABY3): z_i = a_i b_i ⊕ a_i b_{i+1} ⊕ a_{i+1} b_i ⊕ α_i with α a
//! 3-out-of-3 XOR sharing of zero from the pairwise keys; z_i goes to the
//! predecessor. One round, one bit per gate per party.

use crate::error::Result;
use crate::ring::RingElement;

use super::party::Party;

/// Words per plane for `n` elements.
pub fn words(n: usize) -> usize {
    n.div_ceil(64)
}

/// Transposes a 64 x 64 bit matrix in place: bit c of row r moves to bit r
/// of row c.
pub fn transpose64(m: &mut [u64; 64]) {
    let mut j = 32;
    let mut mask: u64 = 0x0000_0000_FFFF_FFFF;
    while j != 0 {
        let mut k = 0;
        while k < 64 {
            let t = ((m[k] >> j) ^ m[k + j]) & mask;
            m[k] ^= t << j;
            m[k + j] ^= t;
            k = (k + j + 1) & !j;
        }
        j >>= 1;
        mask ^= mask << j;
    }
}

/// Bit planes: `planes[j]` holds bit j of every element.
#[derive(Clone, PartialEq, Eq)]
pub struct Planes {
    /// Number of elements.
    pub n: usize,
    /// One vector of ⌈n/64⌉ words per bit position.
    pub planes: Vec<Vec<u64>>,
}

impl std::fmt::Debug for Planes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Planes({} bits x {} elements, <redacted>)",
            self.planes.len(),
            self.n
        )
    }
}

impl Planes {
    /// Slices ring elements into ℓ planes.
    pub fn from_elems<T: RingElement>(v: &[T]) -> Self {
        let n = v.len();
        let w = words(n);
        let bits = T::BITS as usize;
        let mut planes = vec![vec![0u64; w]; bits];
        let mut block = [0u64; 64];
        for (wi, chunk) in v.chunks(64).enumerate() {
            for limb in 0..(bits / 64) {
                // row = element, column = bit: transpose to row = bit
                for (r, x) in block.iter_mut().enumerate() {
                    *x = chunk.get(r).map_or(0, |e| e.limb(limb as u32));
                }
                transpose64(&mut block);
                for (b, x) in block.iter().enumerate() {
                    planes[limb * 64 + b][wi] = *x;
                }
            }
        }
        Planes { n, planes }
    }

    /// All planes in one buffer, plane after plane.
    pub fn flat(self) -> Vec<u64> {
        self.planes.concat()
    }

    /// An all-zero value with `bits` planes.
    pub fn zeros(n: usize, bits: usize) -> Self {
        Planes {
            n,
            planes: vec![vec![0u64; words(n)]; bits],
        }
    }

    /// One plane back to one 0/1 ring element per element.
    pub fn plane_to_elems<T: RingElement>(plane: &[u64], n: usize) -> Vec<T> {
        (0..n)
            .map(|e| T::from_u64((plane[e / 64] >> (e % 64)) & 1))
            .collect()
    }
}

/// XOR of two planes.
pub fn xor(a: &[u64], b: &[u64]) -> Vec<u64> {
    a.iter().zip(b).map(|(x, y)| x ^ y).collect()
}

/// XOR-shared planes: this party's two shares.
#[derive(Clone, Debug)]
pub struct BitShare {
    /// Share i.
    pub a: Vec<u64>,
    /// Share i + 1.
    pub b: Vec<u64>,
}

impl BitShare {
    /// Shares XOR.
    pub fn xor(&self, o: &BitShare) -> BitShare {
        BitShare {
            a: xor(&self.a, &o.a),
            b: xor(&self.b, &o.b),
        }
    }

    /// A zero share of `w` words.
    pub fn zero(w: usize) -> BitShare {
        BitShare {
            a: vec![0; w],
            b: vec![0; w],
        }
    }
}

/// Sub-stream for XOR zero-sharings.
const XOR_ZERO: u8 = 5;

/// XORs F(k_prev) ⊕ F(k_next) into `v`: this party's part of a 3-out-of-3
/// XOR sharing of zero, keystreams read in chunks.
fn xor_zero_share(
    prev: &crate::ring::prg::PrfKey,
    next: &crate::ring::prg::PrfKey,
    op: u64,
    v: &mut [u64],
) {
    let (mut p, mut q) = (prev.stream(op, XOR_ZERO), next.stream(op, XOR_ZERO));
    let len = v.len().min(2048);
    let (mut bp, mut bq) = (vec![0u64; len], vec![0u64; len]);
    for c in v.chunks_mut(2048) {
        let k = c.len();
        p.fill(&mut bp[..k]);
        q.fill(&mut bq[..k]);
        for ((x, u), w) in c.iter_mut().zip(&bp[..k]).zip(&bq[..k]) {
            *x ^= u ^ w;
        }
    }
}

/// The local cross term of an AND gate on XOR shares (x_a, x_b), (y_a, y_b).
#[inline(always)]
pub fn and_local(xa: u64, xb: u64, ya: u64, yb: u64) -> u64 {
    (xa & (ya ^ yb)) ^ (xb & ya)
}

impl Party {
    /// One round of AND gates whose local cross terms are already in
    /// `local` (g planes of `w` words, laid out plane after plane): adds a
    /// fresh XOR sharing of zero, sends the result to the predecessor and
    /// returns this party's output shares (a, b), laid out the same way.
    pub fn and_round(
        &mut self,
        mut local: Vec<u64>,
        op_name: &'static str,
    ) -> Result<(Vec<u64>, Vec<u64>)> {
        let op = self.next_op();
        let total = local.len();
        let zero_op = self.and_round_zero_op(op);
        xor_zero_share(&self.keys.prev, &self.keys.next, zero_op, &mut local);
        self.net.begin_round(op_name);
        let (nx_id, pv_id) = (self.net.next_id(), self.net.prev_id());
        self.net.send_elems(pv_id, local.clone())?;
        let got = self.net.recv_elems::<u64>(nx_id, total)?;
        Ok((local, got))
    }

    /// Evaluates the AND gates `pairs` (each on one plane of `w` words) in a
    /// single round and returns the output shares in order.
    pub fn and_gates(
        &mut self,
        pairs: &[(&BitShare, &BitShare)],
        w: usize,
        op_name: &'static str,
    ) -> Result<Vec<BitShare>> {
        let mut z = vec![0u64; pairs.len() * w];
        for (g, (x, y)) in pairs.iter().enumerate() {
            let out = &mut z[g * w..(g + 1) * w];
            for (k, o) in out.iter_mut().enumerate() {
                *o = and_local(x.a[k], x.b[k], y.a[k], y.b[k]);
            }
        }
        let (z, got) = self.and_round(z, op_name)?;
        Ok((0..pairs.len())
            .map(|g| BitShare {
                a: z[g * w..(g + 1) * w].to_vec(),
                b: got[g * w..(g + 1) * w].to_vec(),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transpose_is_an_involution_and_moves_bits() {
        let mut m = [0u64; 64];
        for (r, x) in m.iter_mut().enumerate() {
            *x = (r as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
        let orig = m;
        transpose64(&mut m);
        for (r, row) in orig.iter().enumerate() {
            for (c, col) in m.iter().enumerate() {
                assert_eq!((col >> r) & 1, (row >> c) & 1);
            }
        }
        transpose64(&mut m);
        assert_eq!(m, orig);
    }

    #[test]
    fn planes_hold_the_bits_of_each_element() {
        let v: Vec<u128> = (0..130u128)
            .map(|i| i.wrapping_mul(0x1234_5678_9abc_def0_1357_9bdf_2468_ace0))
            .collect();
        let p = Planes::from_elems(&v);
        assert_eq!(p.planes.len(), 128);
        for (e, x) in v.iter().enumerate() {
            for j in 0..128 {
                assert_eq!((p.planes[j][e / 64] >> (e % 64)) & 1, ((x >> j) & 1) as u64);
            }
        }
        let back: Vec<u64> = Planes::plane_to_elems(&p.planes[3], v.len());
        assert_eq!(back[1] as u128, (v[1] >> 3) & 1);
    }
}
