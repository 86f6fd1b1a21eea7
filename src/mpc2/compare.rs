//! Comparison of additive shares with zero, and multiplexing by the result:
//! a dealer-assisted bit decomposition of a masked value.
//!
//! # Protocol (x in Z_2^ℓ read as signed; d = [x ≥ 0]; products d ⊙ y_k)
//!
//! The dealer knows a mask r = r0 + r1 (halves from the parties' seeds)
//! and deals XOR shares of its ℓ bits, a random bit s (XOR shares from the
//! seeds, arithmetic shares dealt), masks b_k for the y_k with shares of
//! s·b_k, and AND-gate triples for the carry tree.
//!
//! 1. *Round 1.* Open x̂ = x + r and f_k = y_k − b_k.
//! 2. Write x̂ = 2^(ℓ−1)·a + x̂' and r = 2^(ℓ−1)·b + r'. Then x = x̂ − r
//!    has msb(x) = a ⊕ b ⊕ [x̂' < r']: the borrow out of the low ℓ−1 bits.
//!    [x̂' < r'] compares a public number with a bit-shared one: position j
//!    *decides* (G_j = ¬x̂_j ∧ r_j) or is *equal* (E_j = ¬(x̂_j ⊕ r_j)), both
//!    local since x̂ is public; a tree over the ℓ−1 positions combines
//!    (G, E)_hi with (G, E)_lo as (G_hi ⊕ E_hi ∧ G_lo, E_hi ∧ E_lo), with
//!    no E for the lowest group: ⌈log₂(ℓ−1)⌉ *rounds* of AND gates (6 for
//!    ℓ = 64), each gate a Beaver triple on bit planes, E_hi opened once
//!    for its two gates ([`crate::cost::compare2_tree`] gives the pairs).
//! 3. d = ¬msb(x), XOR-shared. *Last round:* open t = d ⊕ s. Then, with t
//!    public, d = t + s − 2ts and d·y = t·y + (1 − 2t)·(f·s + s·b), both
//!    linear in the parties' shares of s and s·b: no product round.
//!
//! Bits are sliced as in [`crate::mpc::binary`]: one plane of ⌈n/64⌉
//! words per bit position, 64 elements per AND instruction.
//!
//! # Cost (n compared, m multiplexed)
//!
//! Online: 1 + ⌈log₂(ℓ−1)⌉ + 1 rounds (8 for ℓ = 64, 9 for ℓ = 128); per
//! party n + m elements, then 3p − 1 planes per tree round of p pairs and
//! one plane for t (ℓ = 64: 181 planes, about 23 bytes per element).
//! Offline, to P1: the mask's ℓ bit planes and 2p − 1 gate planes per
//! round (ℓ = 64: 182 planes), and n + m elements (its shares of s and
//! s·b), in two messages.
//!
//! # Security
//!
//! Every opened value is masked by dealer randomness that neither party
//! knows alone: x̂ by r, f_k by b_k, each gate input by a fresh triple
//! mask, t by s. The dealer receives nothing.

use crate::cost::compare2_tree;
use crate::error::Result;
use crate::mpc::binary::{Planes, words};
use crate::ring::RingElement;

use super::beaver::ElemShape;
use super::participant::{Participant, Role};
use super::sub;

/// Where one round of the carry tree keeps its masks and gates.
#[derive(Debug, Clone, Copy)]
struct TreeRound {
    /// Pairs of groups combined.
    pairs: usize,
    /// First mask plane of the round (3p − 1 planes).
    mask_plane: usize,
    /// First gate plane of the round (2p − 1 planes).
    gate_plane: usize,
}

/// The rounds of the tree for ℓ-bit elements and the total mask and gate
/// planes.
fn tree_layout(bits: u32) -> (Vec<TreeRound>, usize, usize) {
    let (mut masks, mut gates) = (0, 0);
    let rounds = compare2_tree(bits)
        .into_iter()
        .map(|pairs| {
            let r = TreeRound {
                pairs,
                mask_plane: masks,
                gate_plane: gates,
            };
            masks += 3 * pairs - 1;
            gates += 2 * pairs - 1;
            r
        })
        .collect();
    (rounds, masks, gates)
}

/// Pair k's first mask plane and first gate plane within its round.
fn pair_planes(k: usize) -> (usize, usize) {
    if k == 0 {
        (0, 0)
    } else {
        (3 * k - 1, 2 * k - 1)
    }
}

/// Bit e of a plane.
fn bit_set(plane: &[u64], e: usize) -> bool {
    (plane[e / 64] >> (e % 64)) & 1 == 1
}

/// Bit e of a plane, as a ring element 0 or 1.
fn bit<T: RingElement>(plane: &[u64], e: usize) -> T {
    T::from_u64((plane[e / 64] >> (e % 64)) & 1)
}

/// This party's view of what the dealer dealt for one comparison.
struct Dealt<T> {
    /// XOR share of the mask's bits (ℓ planes).
    mask_bits: Vec<u64>,
    /// Share of the carry tree's gate outputs.
    gates: Vec<u64>,
    /// Arithmetic share of s.
    s: Vec<T>,
    /// Shares of s·b.
    sb: Vec<T>,
}

impl Participant {
    /// d = [x ≥ 0] as this party's additive shares of 0/1 integers, and
    /// d ⊙ y_k for each y_k (`shapes[k]`: its size and the index of the
    /// element of x each of its elements meets), concatenated. The dealer
    /// passes empty shares and gets empty vectors.
    pub fn nonneg_select<T: RingElement>(
        &mut self,
        n: usize,
        x: &[T],
        shapes: &[ElemShape],
        ys: &[&[T]],
        op_name: &'static str,
    ) -> Result<(Vec<T>, Vec<T>)> {
        let op = self.next_op();
        self.use_material(op_name)?;
        let m: usize = shapes.iter().map(|s| s.n).sum();
        let w = words(n);
        let l = T::BITS as usize;
        let (layout, mask_planes, gate_planes) = tree_layout(T::BITS);
        self.net.begin_round(op_name);
        if self.role() == Role::Dealer {
            self.deal_compare::<T>(op, n, shapes, m)?;
            for _ in 0..=layout.len() {
                self.net.begin_round(op_name);
            }
            return Ok((Vec::new(), Vec::new()));
        }
        let me = self.net.me();
        let key = self.dealer_key()?.clone();
        let dealt = if me == 0 {
            Dealt {
                mask_bits: key.elems(op, sub::CMP_MASK_BITS, l * w),
                gates: key.elems(op, sub::CMP_TREE_AND, gate_planes * w),
                s: key.elems(op, sub::CMP_S_ARITH, n),
                sb: key.elems(op, sub::CMP_SB, m),
            }
        } else {
            let mut mask_bits = self.recv_material::<u64>((l + gate_planes) * w, op_name)?;
            let gates = mask_bits.split_off(l * w);
            let mut s = self.recv_material::<T>(n + m, op_name)?;
            let sb = s.split_off(n);
            Dealt {
                mask_bits,
                gates,
                s,
                sb,
            }
        };

        // Round 1: open x + r and y_k - b_k.
        let r: Vec<T> = key.elems(op, sub::CMP_MASK, n);
        let b: Vec<T> = key.elems(op, sub::CMP_B, m);
        let mut masked: Vec<T> = x.iter().zip(&r).map(|(v, ri)| v.wrapping_add(ri)).collect();
        masked.extend(
            ys.iter()
                .copied()
                .flatten()
                .zip(&b)
                .map(|(y, bi)| y.wrapping_sub(bi)),
        );
        drop(r);
        let opened = self.open(&masked)?;
        drop(masked);
        let (xhat, f) = opened.split_at(n);
        let c = Planes::from_elems(xhat).flat();

        // Positions 0..l-1 decide (G) or are equal (E).
        let positions = l - 1;
        let mut g = vec![0u64; positions * w];
        let mut e = vec![0u64; positions * w];
        for k in 0..positions * w {
            let (cj, rj) = (c[k], dealt.mask_bits[k]);
            g[k] = !cj & rj;
            e[k] = if me == 0 { rj ^ !cj } else { rj };
        }
        let masks: Vec<u64> = key.elems(op, sub::CMP_TREE, mask_planes * w);
        let mut groups = positions;
        for round in &layout {
            self.net.begin_round(op_name);
            let mine = &masks[round.mask_plane * w..];
            let my_gates = &dealt.gates[round.gate_plane * w..];
            let mut out = Vec::with_capacity((3 * round.pairs - 1) * w);
            for k in 0..round.pairs {
                let (lo, hi) = (2 * k, 2 * k + 1);
                let (mp, _) = pair_planes(k);
                for i in 0..w {
                    out.push(e[hi * w + i] ^ mine[mp * w + i]);
                }
                for i in 0..w {
                    out.push(g[lo * w + i] ^ mine[(mp + 1) * w + i]);
                }
                if k > 0 {
                    for i in 0..w {
                        out.push(e[lo * w + i] ^ mine[(mp + 2) * w + i]);
                    }
                }
            }
            let theirs = self.exchange(out.clone())?;
            let d: Vec<u64> = out.iter().zip(&theirs).map(|(a, b)| a ^ b).collect();
            let next = round.pairs + groups % 2;
            let (mut ng, mut ne) = (vec![0u64; next * w], vec![0u64; next * w]);
            for k in 0..round.pairs {
                let hi = 2 * k + 1;
                let (mp, gp) = pair_planes(k);
                for i in 0..w {
                    let (du, dv) = (d[mp * w + i], d[(mp + 1) * w + i]);
                    let (u, v) = (mine[mp * w + i], mine[(mp + 1) * w + i]);
                    let mut and = my_gates[gp * w + i] ^ (du & v) ^ (u & dv);
                    if me == 0 {
                        and ^= du & dv;
                    }
                    ng[k * w + i] = g[hi * w + i] ^ and;
                    if k > 0 {
                        let dv2 = d[(mp + 2) * w + i];
                        let v2 = mine[(mp + 2) * w + i];
                        let mut and2 = my_gates[(gp + 1) * w + i] ^ (du & v2) ^ (u & dv2);
                        if me == 0 {
                            and2 ^= du & dv2;
                        }
                        ne[k * w + i] = and2;
                    }
                }
            }
            if groups % 2 == 1 {
                let (src, dst) = ((groups - 1) * w, round.pairs * w);
                ng[dst..dst + w].copy_from_slice(&g[src..src + w]);
                ne[dst..dst + w].copy_from_slice(&e[src..src + w]);
            }
            g = ng;
            e = ne;
            groups = next;
        }

        // d = ¬msb(x) = ¬(a ⊕ b ⊕ borrow), masked by s and opened.
        let top = (l - 1) * w;
        let sigma: Vec<u64> = key.elems(op, sub::CMP_S, w);
        let mut delta = Vec::with_capacity(w);
        for i in 0..w {
            let mut dbit = dealt.mask_bits[top + i] ^ g[i];
            if me == 0 {
                dbit ^= !c[top + i];
            }
            delta.push(dbit ^ sigma[i]);
        }
        self.net.begin_round(op_name);
        let theirs = self.exchange(delta.clone())?;
        let t: Vec<u64> = delta.iter().zip(&theirs).map(|(a, b)| a ^ b).collect();

        // d = t + s - 2ts and d·y = t·y + (1 - 2t)(f·s + s·b), locally.
        let lead = if me == 0 { T::one() } else { T::zero() };
        let d_share: Vec<T> = (0..n)
            .map(|e| {
                let s = dealt.s[e];
                if bit_set(&t, e) {
                    lead.wrapping_sub(&s)
                } else {
                    s
                }
            })
            .collect();
        let mut outs = Vec::with_capacity(m);
        let mut pos = 0;
        for (shape, y) in shapes.iter().zip(ys) {
            for (j, yj) in y.iter().enumerate() {
                let at = shape.y_at.as_ref().map_or(j, |ix| ix[j]);
                let sy = f[pos + j]
                    .wrapping_mul(&dealt.s[at])
                    .wrapping_add(&dealt.sb[pos + j]);
                outs.push(if bit_set(&t, at) {
                    yj.wrapping_sub(&sy)
                } else {
                    sy
                });
            }
            pos += shape.n;
        }
        Ok((d_share, outs))
    }

    /// The dealer's two messages for one comparison: P1's share of the
    /// mask's bits and of the gate triples (words), then its shares of s and
    /// s·b (elements).
    fn deal_compare<T: RingElement>(
        &mut self,
        op: u64,
        n: usize,
        shapes: &[ElemShape],
        m: usize,
    ) -> Result<()> {
        let w = words(n);
        let l = T::BITS as usize;
        let (layout, mask_planes, gate_planes) = tree_layout(T::BITS);
        let (k0, k1) = self.party_keys()?;
        let (k0, k1) = (k0.clone(), k1.clone());
        let both = |s: u8, len: usize| -> Vec<u64> {
            let mut v: Vec<u64> = k0.elems(op, s, len);
            for (a, b) in v.iter_mut().zip(k1.elems::<u64>(op, s, len)) {
                *a ^= b;
            }
            v
        };
        // the mask and its bits
        let mut r: Vec<T> = k0.elems(op, sub::CMP_MASK, n);
        for (a, b) in r.iter_mut().zip(k1.elems::<T>(op, sub::CMP_MASK, n)) {
            *a = a.wrapping_add(&b);
        }
        let mut words_msg = Planes::from_elems(&r).flat();
        drop(r);
        for (a, b) in words_msg
            .iter_mut()
            .zip(k0.elems::<u64>(op, sub::CMP_MASK_BITS, l * w))
        {
            *a ^= b;
        }
        // the carry tree's triples
        let masks = both(sub::CMP_TREE, mask_planes * w);
        let mut gates: Vec<u64> = k0.elems(op, sub::CMP_TREE_AND, gate_planes * w);
        for round in &layout {
            for k in 0..round.pairs {
                let (mp, gp) = pair_planes(k);
                let (mp, gp) = (round.mask_plane + mp, round.gate_plane + gp);
                for i in 0..w {
                    let u = masks[mp * w + i];
                    gates[gp * w + i] ^= u & masks[(mp + 1) * w + i];
                    if k > 0 {
                        gates[(gp + 1) * w + i] ^= u & masks[(mp + 2) * w + i];
                    }
                }
            }
        }
        words_msg.extend(gates);
        // s, and s·b for the multiplexed operands
        let s_bits = both(sub::CMP_S, w);
        let mut b: Vec<T> = k0.elems(op, sub::CMP_B, m);
        for (a, c) in b.iter_mut().zip(k1.elems::<T>(op, sub::CMP_B, m)) {
            *a = a.wrapping_add(&c);
        }
        let mut elems: Vec<T> = k0.elems(op, sub::CMP_S_ARITH, n);
        for (e, s0) in elems.iter_mut().enumerate() {
            *s0 = bit::<T>(&s_bits, e).wrapping_sub(s0);
        }
        let t0: Vec<T> = k0.elems(op, sub::CMP_SB, m);
        let mut pos = 0;
        for shape in shapes {
            for j in 0..shape.n {
                let at = shape.y_at.as_ref().map_or(j, |ix| ix[j]);
                let sb = bit::<T>(&s_bits, at).wrapping_mul(&b[pos + j]);
                elems.push(sb.wrapping_sub(&t0[pos + j]));
            }
            pos += shape.n;
        }
        self.send_material(words_msg)?;
        self.send_material(elems)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tree_layout_matches_the_cost_model() {
        let (rounds, masks, gates) = tree_layout(64);
        assert_eq!(rounds.len(), 6);
        assert_eq!(masks, 92 + 47 + 23 + 11 + 5 + 2);
        assert_eq!(gates, 61 + 31 + 15 + 7 + 3 + 1);
        assert_eq!(tree_layout(128).0.len(), 7);
    }
}
