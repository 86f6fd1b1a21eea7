//! Secure comparison: the sign bit of a shared value by bit extraction, and
//! multiplexing by that bit.
//!
//! # Sign extraction (ABY3-style, bit-sliced)
//!
//! x = x0 + x1 + x2 in Z_2^ℓ, and each summand x_k is known in the clear to
//! the two parties holding it, so each is *already* a boolean sharing (x_k in
//! share k, zeros elsewhere). The sum's most significant bit is computed by a
//! circuit on these three ℓ-bit numbers:
//!
//! 1. a carry-save layer: s = x0 ⊕ x1 ⊕ x2 (local) and
//!    c = maj(x0, x1, x2) << 1 (ℓ-1 AND gates, 1 round);
//! 2. generate bits g_j = s_j ∧ c_j for j = 1 … ℓ-2 (1 round; c_0 = 0, so
//!    position 0 never carries);
//! 3. a carry tree over positions 1 … ℓ-2 that combines neighbouring groups,
//!    (G, P) = (G_hi ⊕ P_hi ∧ G_lo, P_hi ∧ P_lo), skipping P for the lowest
//!    group: ⌈log₂(ℓ-2)⌉ rounds;
//! 4. msb = s_{ℓ-1} ⊕ c_{ℓ-1} ⊕ carry (local).
//!
//! For ℓ = 64: 8 rounds and 63 + 62 + 116 = 241 AND gates per element,
//! about 30 bytes per element per party (gates are evaluated on bit planes,
//! 64 elements per word; see [`binary`](super::binary)). For ℓ = 128: 9 rounds,
//! 489 gates.
//!
//! # From the bit to arithmetic
//!
//! d = 1 - msb = [x ≥ 0] as an XOR sharing d0 ⊕ d1 ⊕ d2. Party 0 holds d0 and
//! d1, so it knows t = d0 ⊕ d1 and inputs it (round A, two elements per
//! element from party 0); parties 1 and 2 both hold d2, which is therefore
//! an arithmetic sharing with nothing to send. In the same round each
//! requested y is multiplied by d2 (v = y·d2), and in round B
//! d·y = t·y + v - 2t·v and d = t + d2 - 2t·d2 follow from integer products
//! (no truncation: one factor is 0 or 1). Total: msb rounds + 2.
//!
//! # Security
//!
//! Every message is an AND-gate or product output masked by a fresh zero
//! sharing, or an input share masked by a PRF share the receiver lacks; the
//! only value a party learns in the clear is party 0's t = d0 ⊕ d1, a uniform
//! bit independent of d because d2 is uniform and unknown to party 0.

use crate::error::Result;
use crate::ring::RingElement;

use super::binary::{BitShare, Planes, words};
use super::party::{Party, sub};

/// AND gates per round of the sign extraction for `bits`-bit elements.
pub fn msb_gates_per_round(bits: u32) -> Vec<usize> {
    let l = bits as usize;
    let mut rounds = vec![l - 1, l - 2];
    // groups over positions 1..=l-2; only the first group is "lowest"
    let mut groups = l - 2;
    while groups > 1 {
        let pairs = groups / 2;
        rounds.push(2 * pairs - 1);
        groups = pairs + groups % 2;
    }
    rounds
}

#[derive(Clone)]
struct Group {
    g: BitShare,
    p: Option<BitShare>,
}

impl Party {
    /// XOR shares of msb(x) for this party's arithmetic shares (a, b) of x.
    pub fn msb<T: RingElement>(&mut self, a: &[T], b: &[T]) -> Result<BitShare> {
        let n = a.len();
        let w = words(n);
        let l = T::BITS as usize;
        let pa = Planes::from_elems(a);
        let pb = Planes::from_elems(b);
        let me = self.me();
        let zero = vec![0u64; w];
        // x_k's boolean shares as this party holds them
        let summand = |k: usize, j: usize| -> BitShare {
            if k == me {
                BitShare {
                    a: pa.planes[j].clone(),
                    b: zero.clone(),
                }
            } else if k == (me + 1) % 3 {
                BitShare {
                    a: zero.clone(),
                    b: pb.planes[j].clone(),
                }
            } else {
                BitShare::zero(w)
            }
        };
        let s: Vec<BitShare> = (0..l)
            .map(|j| BitShare {
                a: pa.planes[j].clone(),
                b: pb.planes[j].clone(),
            })
            .collect();

        // Round 1: carries c_{j+1} = maj(x0_j, x1_j, x2_j), j = 0..l-2
        let mut ins = Vec::with_capacity(l - 1);
        for j in 0..l - 1 {
            let x2 = summand(2, j);
            ins.push((summand(0, j).xor(&x2), summand(1, j).xor(&x2), x2));
        }
        let pairs: Vec<(&BitShare, &BitShare)> = ins.iter().map(|(u, v, _)| (u, v)).collect();
        let maj = self.and_gates(&pairs, w, "compare")?;
        // c[j] for j = 1..l-1
        let c: Vec<BitShare> = maj
            .iter()
            .zip(&ins)
            .map(|(m, (_, _, x2))| m.xor(x2))
            .collect();
        let carry_at = |j: usize| &c[j - 1];

        // Round 2: generate bits for positions 1..=l-2
        let gp: Vec<(&BitShare, &BitShare)> = (1..=l - 2).map(|j| (&s[j], carry_at(j))).collect();
        let gens = self.and_gates(&gp, w, "compare")?;
        let mut groups: Vec<Group> = gens
            .into_iter()
            .enumerate()
            .map(|(k, g)| {
                let j = k + 1;
                Group {
                    g,
                    p: Some(s[j].xor(carry_at(j))),
                }
            })
            .collect();
        groups[0].p = None; // the lowest group's propagate is never needed

        // Carry tree
        while groups.len() > 1 {
            let npairs = groups.len() / 2;
            let mut gates: Vec<(&BitShare, &BitShare)> = Vec::new();
            for k in 0..npairs {
                let (lo, hi) = (&groups[2 * k], &groups[2 * k + 1]);
                let phi = hi.p.as_ref().expect("only the lowest group lacks P");
                gates.push((phi, &lo.g));
                if let Some(plo) = &lo.p {
                    gates.push((phi, plo));
                }
            }
            let out = self.and_gates(&gates, w, "compare")?;
            let mut it = out.into_iter();
            let mut next = Vec::with_capacity(npairs + 1);
            for k in 0..npairs {
                let (lo, hi) = (&groups[2 * k], &groups[2 * k + 1]);
                let pg = it.next().expect("one gate per pair");
                let g = hi.g.xor(&pg);
                let p = if lo.p.is_some() { it.next() } else { None };
                next.push(Group { g, p });
            }
            if groups.len() % 2 == 1 {
                next.push(groups[groups.len() - 1].clone());
            }
            groups = next;
        }
        let carry = &groups[0].g;
        Ok(s[l - 1].xor(carry_at(l - 1)).xor(carry))
    }

    /// d = [x ≥ 0] (as 0/1 ring elements, replicated) and d·y for each
    /// `ys[k]` (replicated shares, flattened), where `index[k][e]` is the
    /// element of x that element e of y is multiplied by (broadcasting).
    #[allow(clippy::type_complexity)]
    pub fn nonneg_select<T: RingElement>(
        &mut self,
        x: (&[T], &[T]),
        ys: &[(&[T], &[T])],
        index: &[Vec<usize>],
    ) -> Result<((Vec<T>, Vec<T>), Vec<(Vec<T>, Vec<T>)>)> {
        let n = x.0.len();
        let msb = self.msb(x.0, x.1)?;
        let me = self.me();
        // d = ¬msb: flip share index 0 (party 0's a, party 2's b)
        let mut d = msb;
        if me == 0 {
            d.a.iter_mut().for_each(|v| *v = !*v);
        }
        if me == 2 {
            d.b.iter_mut().for_each(|v| *v = !*v);
        }
        let bit = |plane: &[u64], e: usize| T::from_u64((plane[e / 64] >> (e % 64)) & 1);
        // d2 as arithmetic share index 2: party 1 holds it as b, party 2 as a
        let d2: Vec<T> = match me {
            1 => (0..n).map(|e| bit(&d.b, e)).collect(),
            2 => (0..n).map(|e| bit(&d.a, e)).collect(),
            _ => vec![T::zero(); n],
        };
        // this party's replicated shares of [d2]: (e_i, e_{i+1}) of (0, 0, d2)
        let (e_a, e_b): (Vec<T>, Vec<T>) = match me {
            1 => (vec![T::zero(); n], d2.clone()),
            2 => (d2.clone(), vec![T::zero(); n]),
            _ => (vec![T::zero(); n], vec![T::zero(); n]),
        };

        // ---- Round A: party 0 inputs t = d0 ⊕ d1; v_k = y_k · d2 resharing
        let op = self.next_op();
        let t_value: Option<Vec<T>> =
            (me == 0).then(|| (0..n).map(|e| bit(&d.a, e).xor(bit(&d.b, e))).collect());
        let m_total: usize = ys.iter().map(|y| y.0.len()).sum();
        let mut zv: Vec<T> = Vec::with_capacity(m_total);
        for ((ya, yb), idx) in ys.iter().zip(index) {
            for (k, &e) in idx.iter().enumerate() {
                // z = y_a (e_a + e_b) + y_b e_a
                zv.push(
                    ya[k]
                        .wrapping_mul(&e_a[e].wrapping_add(&e_b[e]))
                        .wrapping_add(&yb[k].wrapping_mul(&e_a[e])),
                );
            }
        }
        let zero = self.zero_share::<T>(op, m_total);
        for (z, r) in zv.iter_mut().zip(&zero) {
            *z = z.wrapping_add(r);
        }
        self.net.begin_round("compare");
        let (nx, pv) = (self.net.next_id(), self.net.prev_id());
        let (t_a, t_b) = match me {
            0 => {
                let tv = t_value.unwrap_or_default();
                let a: Vec<T> = self.keys.prev.elems(op, sub::SHARE, n);
                let b: Vec<T> = self.keys.next.elems(op, sub::SHARE, n);
                let third: Vec<T> = (0..n)
                    .map(|e| tv[e].wrapping_sub(&a[e]).wrapping_sub(&b[e]))
                    .collect();
                self.net.send_elems(nx, third.clone())?;
                self.net.send_elems(pv, third)?;
                (a, b)
            }
            1 => {
                let a: Vec<T> = self.keys.prev.elems(op, sub::SHARE, n);
                let b = self.net.recv_elems::<T>(0, n)?;
                (a, b)
            }
            _ => {
                let a = self.net.recv_elems::<T>(0, n)?;
                let b: Vec<T> = self.keys.next.elems(op, sub::SHARE, n);
                (a, b)
            }
        };
        let v_next = if m_total > 0 {
            self.net.send_elems(pv, zv.clone())?;
            self.net.recv_elems::<T>(nx, m_total)?
        } else {
            Vec::new()
        };
        let (v_a, v_b) = (zv, v_next);

        // ---- Round B: t·y_k, t·v_k and t·d2, integer products
        let op = self.next_op();
        let cross = |xa: T, xb: T, ya: T, yb: T| {
            xa.wrapping_mul(&ya.wrapping_add(&yb))
                .wrapping_add(&xb.wrapping_mul(&ya))
        };
        let mut z: Vec<T> = Vec::with_capacity(2 * m_total + n);
        let mut pos = 0;
        for ((ya, yb), idx) in ys.iter().zip(index) {
            for (k, &e) in idx.iter().enumerate() {
                z.push(cross(t_a[e], t_b[e], ya[k], yb[k]));
            }
            for (k, &e) in idx.iter().enumerate() {
                z.push(cross(t_a[e], t_b[e], v_a[pos + k], v_b[pos + k]));
            }
            pos += idx.len();
        }
        for e in 0..n {
            z.push(cross(t_a[e], t_b[e], e_a[e], e_b[e]));
        }
        let zero = self.zero_share::<T>(op, z.len());
        for (zi, r) in z.iter_mut().zip(&zero) {
            *zi = zi.wrapping_add(r);
        }
        self.net.begin_round("compare");
        self.net.send_elems(pv, z.clone())?;
        let zb = self.net.recv_elems::<T>(nx, z.len())?;
        let two = T::from_u64(2);
        // assemble d·y_k = t·y + v - 2 t·v
        let mut outs = Vec::with_capacity(ys.len());
        let mut off = 0;
        let mut vpos = 0;
        for idx in index {
            let m = idx.len();
            let mut oa = Vec::with_capacity(m);
            let mut ob = Vec::with_capacity(m);
            for k in 0..m {
                let (ty_a, ty_b) = (z[off + k], zb[off + k]);
                let (tv_a, tv_b) = (z[off + m + k], zb[off + m + k]);
                oa.push(
                    ty_a.wrapping_add(&v_a[vpos + k])
                        .wrapping_sub(&two.wrapping_mul(&tv_a)),
                );
                ob.push(
                    ty_b.wrapping_add(&v_b[vpos + k])
                        .wrapping_sub(&two.wrapping_mul(&tv_b)),
                );
            }
            outs.push((oa, ob));
            off += 2 * m;
            vpos += m;
        }
        // d = t + d2 - 2 t·d2
        let mut da = Vec::with_capacity(n);
        let mut db = Vec::with_capacity(n);
        for e in 0..n {
            da.push(
                t_a[e]
                    .wrapping_add(&e_a[e])
                    .wrapping_sub(&two.wrapping_mul(&z[off + e])),
            );
            db.push(
                t_b[e]
                    .wrapping_add(&e_b[e])
                    .wrapping_sub(&two.wrapping_mul(&zb[off + e])),
            );
        }
        Ok(((da, db), outs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gate_plan_matches_the_documented_counts() {
        let g64 = msb_gates_per_round(64);
        assert_eq!(g64.len(), 8);
        assert_eq!(g64.iter().sum::<usize>(), 241);
        let g128 = msb_gates_per_round(128);
        assert_eq!(g128.len(), 9);
        assert_eq!(
            g128.iter().sum::<usize>(),
            127 + 126 + 125 + 61 + 31 + 15 + 7 + 3 + 1
        );
    }
}
