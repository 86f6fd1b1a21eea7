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
//! 489 gates. The gate count of each round is
//! [`cost::msb_gates_per_round`](crate::cost::msb_gates_per_round), the
//! formula the cost model predicts with; the conformance tests hold this
//! circuit to it byte for byte.
//!
//! # From the bit to arithmetic
//!
//! d = 1 - msb = [x ≥ 0] as an XOR sharing d0 ⊕ d1 ⊕ d2. Party 0 holds d0 and
//! d1, so it knows t = d0 ⊕ d1 and inputs it (round A, the messages of
//! [`Party::input`], two elements per element from party 0); parties 1 and 2
//! both hold d2, which is therefore an arithmetic sharing with nothing to
//! send. In the same round each
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

use super::binary::{BitShare, Planes, and_local, words};
use super::party::Party;
use super::product::extend_cross_terms;

impl Party {
    /// XOR shares of msb(x) for this party's arithmetic shares (a, b) of x.
    ///
    /// Every value below is a set of bit planes laid out flat (plane after
    /// plane, `w` words each) so that a round's gates are one buffer.
    pub fn msb<T: RingElement>(&mut self, a: &[T], b: &[T]) -> Result<BitShare> {
        let n = a.len();
        let w = words(n);
        let l = T::BITS as usize;
        let me = self.me();
        let pa = Planes::from_elems(a).flat();
        let pb = Planes::from_elems(b).flat();

        // Round 1: carries maj(x0_j, x1_j, x2_j), j = 0..l-2. With the
        // summands' boolean shares (x_me in share a, x_{me+1} in share b)
        // the gate's local term is A∧B for parties 0 and 1 and A∧¬B for 2.
        let mut z1 = vec![0u64; (l - 1) * w];
        for (k, z) in z1.iter_mut().enumerate() {
            let (x, y) = (pa[k], pb[k]);
            *z = if me == 2 { x & !y } else { x & y };
        }
        let (maj_a, maj_b) = self.and_round(z1, "compare")?;
        // c_{j+1} = maj_j ⊕ x2_j; x2's shares are (0,0), (0,B), (A,0) at parties 0, 1, 2
        let mut c_a = maj_a;
        let mut c_b = maj_b;
        match me {
            1 => c_b.iter_mut().zip(&pb).for_each(|(c, x)| *c ^= x),
            2 => c_a.iter_mut().zip(&pa).for_each(|(c, x)| *c ^= x),
            _ => {}
        }
        // c_j lives at plane j - 1 of c_a / c_b

        // Round 2: g_j = s_j ∧ c_j for j = 1..=l-2, s_j = (A_j, B_j)
        let mut z2 = vec![0u64; (l - 2) * w];
        for (k, z) in z2.iter_mut().enumerate() {
            let sidx = w + k; // plane j = 1 + k / w of s
            *z = and_local(pa[sidx], pb[sidx], c_a[k], c_b[k]);
        }
        let (g_a, g_b) = self.and_round(z2, "compare")?;
        // propagate p_j = s_j ⊕ c_j (j = 1..=l-2), plane j - 1
        let p_a: Vec<u64> = pa[w..(l - 1) * w]
            .iter()
            .zip(&c_a[..(l - 2) * w])
            .map(|(x, y)| x ^ y)
            .collect();
        let p_b: Vec<u64> = pb[w..(l - 1) * w]
            .iter()
            .zip(&c_b[..(l - 2) * w])
            .map(|(x, y)| x ^ y)
            .collect();

        // Carry tree over the l - 2 groups. Group 0 (the lowest) never needs P.
        let mut g = (g_a, g_b);
        let mut p = (p_a, p_b);
        let mut groups = l - 2;
        while groups > 1 {
            let pairs = groups / 2;
            // gates: for pair k, P_hi ∧ G_lo, then (k > 0) P_hi ∧ P_lo
            let mut z = Vec::with_capacity((2 * pairs - 1) * w);
            for k in 0..pairs {
                let (lo, hi) = (2 * k, 2 * k + 1);
                let (ph, gl) = (hi * w..(hi + 1) * w, lo * w..(lo + 1) * w);
                for i in 0..w {
                    let (pha, phb) = (p.0[ph.start + i], p.1[ph.start + i]);
                    z.push(and_local(pha, phb, g.0[gl.start + i], g.1[gl.start + i]));
                }
                if k > 0 {
                    for i in 0..w {
                        let (pha, phb) = (p.0[ph.start + i], p.1[ph.start + i]);
                        z.push(and_local(pha, phb, p.0[gl.start + i], p.1[gl.start + i]));
                    }
                }
            }
            let (oa, ob) = self.and_round(z, "compare")?;
            let next_groups = pairs + groups % 2;
            let mut ng = (vec![0u64; next_groups * w], vec![0u64; next_groups * w]);
            let mut np = (vec![0u64; next_groups * w], vec![0u64; next_groups * w]);
            let mut gate = 0;
            for k in 0..pairs {
                let hi = (2 * k + 1) * w;
                let dst = k * w;
                for i in 0..w {
                    ng.0[dst + i] = g.0[hi + i] ^ oa[gate * w + i];
                    ng.1[dst + i] = g.1[hi + i] ^ ob[gate * w + i];
                }
                gate += 1;
                if k > 0 {
                    np.0[dst..dst + w].copy_from_slice(&oa[gate * w..(gate + 1) * w]);
                    np.1[dst..dst + w].copy_from_slice(&ob[gate * w..(gate + 1) * w]);
                    gate += 1;
                }
            }
            if groups % 2 == 1 {
                let (src, dst) = ((groups - 1) * w, pairs * w);
                ng.0[dst..dst + w].copy_from_slice(&g.0[src..src + w]);
                ng.1[dst..dst + w].copy_from_slice(&g.1[src..src + w]);
                np.0[dst..dst + w].copy_from_slice(&p.0[src..src + w]);
                np.1[dst..dst + w].copy_from_slice(&p.1[src..src + w]);
            }
            g = ng;
            p = np;
            groups = next_groups;
        }
        // msb = s_{l-1} ⊕ c_{l-1} ⊕ carry; c_{l-1} is plane l - 2 of c
        let top = (l - 1) * w;
        let cl = (l - 2) * w;
        Ok(BitShare {
            a: (0..w).map(|i| pa[top + i] ^ c_a[cl + i] ^ g.0[i]).collect(),
            b: (0..w).map(|i| pb[top + i] ^ c_b[cl + i] ^ g.1[i]).collect(),
        })
    }

    /// d = [x ≥ 0] (as 0/1 ring elements, replicated) and d·y for each
    /// `ys[k]` (replicated shares, flattened). `index[k]` maps element e of
    /// y_k to the element of x it is multiplied by (broadcasting); `None`
    /// means y_k has x's shape.
    #[expect(
        clippy::type_complexity,
        reason = "(d, d·y_k) as pairs of share vectors, the layout of replicated shares throughout mpc; a named type would be used once"
    )]
    pub fn nonneg_select<T: RingElement>(
        &mut self,
        x: (&[T], &[T]),
        ys: &[(&[T], &[T])],
        index: &[Option<Vec<usize>>],
    ) -> Result<((Vec<T>, Vec<T>), Vec<(Vec<T>, Vec<T>)>)> {
        let n = x.0.len();
        let msb = self.msb(x.0, x.1)?;
        let me = self.me();
        let bit = |plane: &[u64], e: usize| T::from_u64((plane[e / 64] >> (e % 64)) & 1);
        // d = ¬msb, so share 0 is flipped: d0 = ¬msb0. Party 0 holds
        // (d0, d1), party 1 (d1, d2), party 2 (d2, d0).
        // d2 is an arithmetic share too (index 2 of (0, 0, d2)); party 1 holds
        // it as its second share, party 2 as its first.
        let d2: Vec<T> = match me {
            1 => (0..n).map(|e| bit(&msb.b, e)).collect(),
            2 => (0..n).map(|e| bit(&msb.a, e)).collect(),
            _ => Vec::new(),
        };
        let at = |k: usize, e: usize| -> usize {
            match &index[k] {
                Some(ix) => ix[e],
                None => e,
            }
        };

        // ---- Round A: party 0 inputs t = d0 ⊕ d1; v_k = y_k · d2, reshared
        let op = self.next_op();
        let m_total: usize = ys.iter().map(|y| y.0.len()).sum();
        // cross terms of y · (0, 0, d2), which has zero shares but d2 (party 1
        // holds (0, d2), party 2 (d2, 0)): party 1: y_a·d2; party 2: (y_a + y_b)·d2
        let mut zv: Vec<T> = Vec::with_capacity(m_total);
        for (k, (ya, yb)) in ys.iter().enumerate() {
            match me {
                1 => zv.extend(
                    ya.iter()
                        .enumerate()
                        .map(|(e, v)| v.wrapping_mul(&d2[at(k, e)])),
                ),
                2 => zv.extend(
                    ya.iter()
                        .zip(yb.iter())
                        .enumerate()
                        .map(|(e, (u, v))| u.wrapping_add(v).wrapping_mul(&d2[at(k, e)])),
                ),
                _ => zv.resize(zv.len() + ya.len(), T::zero()),
            }
        }
        self.net.begin_round("compare");
        // t = d0 ⊕ d1 = ¬msb0 ⊕ msb1, known to party 0 only
        let t = (me == 0).then(|| {
            (0..n).map(|e| T::from_u64(((!msb.a[e / 64] ^ msb.b[e / 64]) >> (e % 64)) & 1))
        });
        let (t_a, t_b) = self.input_messages(op, 0, t, n)?;
        drop(msb);
        let (v_a, v_b) = if m_total > 0 {
            self.additive_to_replicated_messages(op, zv)?
        } else {
            (zv, Vec::new())
        };

        // ---- Round B: t·y_k, t·v_k and t·d2, integer products
        let mut z: Vec<T> = Vec::with_capacity(2 * m_total + n);
        let mut pos = 0;
        for (k, (ya, yb)) in ys.iter().enumerate() {
            let len = ya.len();
            let t_at = index[k].as_deref();
            extend_cross_terms(&mut z, (ya, yb), (&t_a, &t_b), t_at);
            let v = (&v_a[pos..pos + len], &v_b[pos..pos + len]);
            extend_cross_terms(&mut z, v, (&t_a, &t_b), t_at);
            pos += len;
        }
        // t · (0, 0, d2): party 1 holds (0, d2): t_a·d2; party 2 holds (d2, 0): (t_a + t_b)·d2
        match me {
            1 => z.extend((0..n).map(|e| t_a[e].wrapping_mul(&d2[e]))),
            2 => z.extend((0..n).map(|e| t_a[e].wrapping_add(&t_b[e]).wrapping_mul(&d2[e]))),
            _ => z.resize(z.len() + n, T::zero()),
        }
        let (z, zb) = self.additive_to_replicated(z, "compare")?;
        let two = T::from_u64(2);
        // d·y_k = t·y + v - 2 t·v
        let mut outs = Vec::with_capacity(ys.len());
        let mut off = 0;
        let mut vpos = 0;
        for (ya, _) in ys {
            let m = ya.len();
            let side = |zz: &[T], vv: &[T]| -> Vec<T> {
                (0..m)
                    .map(|k| {
                        zz[off + k]
                            .wrapping_add(&vv[vpos + k])
                            .wrapping_sub(&two.wrapping_mul(&zz[off + m + k]))
                    })
                    .collect()
            };
            outs.push((side(&z, &v_a), side(&zb, &v_b)));
            off += 2 * m;
            vpos += m;
        }
        // d = t + d2 - 2 t·d2, with d2's shares (e_a, e_b) = (0,0), (0,d2), (d2,0)
        let e = |first: bool, i: usize| -> T {
            match (me, first) {
                (1, false) | (2, true) => d2[i],
                _ => T::zero(),
            }
        };
        let d_side = |t: &[T], tz: &[T], first: bool| -> Vec<T> {
            (0..n)
                .map(|i| {
                    t[i].wrapping_add(&e(first, i))
                        .wrapping_sub(&two.wrapping_mul(&tz[off + i]))
                })
                .collect()
        };
        Ok(((d_side(&t_a, &z, true), d_side(&t_b, &zb, false)), outs))
    }
}
