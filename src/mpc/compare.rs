//! Secure comparison: the sign bit of a shared value, and multiplexing by
//! that bit, in (ℓ = 64) 6 rounds with the selection.
//!
//! # The two-operand view
//!
//! x = x0 + x1 + x2 in Z_2^ℓ, party i holding (x_i, x_{i+1}). Party 0 holds
//! x0 and x1, so it knows X = x0 + x1; parties 1 and 2 both hold x2 =: Y.
//! So x = X + Y is a sum of *two* numbers, one known to party 0 and one
//! known to parties 1 and 2, and its most significant bit is
//!
//! > msb(x) = X_{ℓ-1} ⊕ Y_{ℓ-1} ⊕ c, c = the carry into bit ℓ-1 of X + Y,
//!
//! with c = G over positions 0 … ℓ-2 for the generate bits g_j = X_j ∧ Y_j
//! and propagate bits p_j = X_j ⊕ Y_j of a carry-lookahead adder.
//!
//! # Sums of products in one round
//!
//! Any bit that is a sum ⊕_k α_k(X) ∧ β_k(Y) ⊕ γ(Y) of products of a
//! function of X (party 0's) and a function of Y (parties 1 and 2's) can be
//! turned into a replicated XOR sharing in **one round**
//! (`sum_of_products_bits` and `sum_of_products_ring` below):
//!
//! 1. party 0 sends party 1 each α_k ⊕ ρ_k and party 2 each α_k ⊕ ρ'_k,
//!    ρ from the key of parties 0 and 2, ρ' from that of parties 0 and 1;
//! 2. at the same time party 2 sends party 1 u = ⊕_k ρ_k β_k ⊕ o0 and party
//!    1 sends party 2 u' = ⊕_k ρ'_k β_k ⊕ o1, where the output components
//!    o0 (parties 0 and 2) and o1 (parties 0 and 1) are fresh keystream;
//! 3. parties 1 and 2 each compute the third component
//!    o2 = ⊕_k (α_k ⊕ ρ_k) β_k ⊕ u ⊕ o1 ⊕ γ = o ⊕ o0 ⊕ o1 (party 2 with ρ', u').
//!
//! Party 0 receives nothing; party 1 sees α ⊕ ρ and u, masked by ρ and o0
//! which it does not know (party 2 symmetrically by ρ' and o1): uniform,
//! whatever X is. The same holds over Z_2^ℓ with + and · (the selection).
//!
//! # Sign extraction
//!
//! 1. *Leaf round.* Positions 0 … ℓ-2 are cut into groups of
//!    [`LEAF_WIDTH`] = 4 from the bottom (ℓ = 64: 15 groups of 4 and one of
//!    3). A group's generate and propagate bits are sums of products: with
//!    X_U the AND of X's bits in a set U of the group's positions,
//!    G = ⊕_{U ≠ ∅} X_U ∧ Y_{{min U} ∪ (above(min U) ∖ U)} and
//!    P = ⊕_U X_U ∧ Y_{group ∖ U}. All groups' G and P (the lowest group
//!    needs no P) and the top bit X_{ℓ-1} ⊕ Y_{ℓ-1} are one sum-of-products
//!    round: 2^4 - 1 = 15 masked α planes per group.
//! 2. *Carry tree.* The groups are combined pairwise with AND gates on
//!    replicated XOR shares (see [`binary`](super::binary)),
//!    (G, P) = (G_hi ⊕ P_hi ∧ G_lo, P_hi ∧ P_lo), skipping P for the lowest
//!    group: ⌈log₂ 16⌉ = 4 rounds for ℓ = 64 (5 for ℓ = 128, 32 groups).
//! 3. msb = (X_{ℓ-1} ⊕ Y_{ℓ-1}) ⊕ G (local).
//!
//! Bits are bit-sliced, 64 elements per word. The plan (groups, α planes,
//! outputs, gates per tree round) is [`cost::msb_plan`](crate::cost::msb_plan),
//! from which the cost model predicts; the conformance tests hold this
//! protocol to it byte for byte.
//!
//! # Selection by the bit, in one round
//!
//! d = 1 - msb = [x ≥ 0] as XOR shares d0 ⊕ d1 ⊕ d2. Party 0 holds d0 and
//! d1, so it knows t = d0 ⊕ d1; parties 1 and 2 both hold d2, and
//! d = t + d2 - 2·t·d2 over the integers. For a selected y with replicated
//! shares, party 0 knows Y0 = y0 + y1 and parties 1 and 2 know y2, so
//!
//! > d·y = (t·Y0)(1 - 2 d2) + t·(y2 - 2 d2 y2) + Y0·d2 + d2 y2,
//!
//! a sum of products of party 0's values (t·Y0, t, Y0) and parties 1 and
//! 2's: one arithmetic sum-of-products round gives replicated d and every
//! d·y_k at once (t is sent once per compared element).
//!
//! # Cost (n compared, m selected, ℓ = 64)
//!
//! | round | party 0 sends | parties 1 and 2 send |
//! |---|---|---|
//! | leaf | 2 · 233 words per 64 elements | 32 words per 64 elements each |
//! | carry tree (4 rounds) | 15 + 7 + 3 + 1 words per 64 elements | the same |
//! | selection | 2(n + 2m) elements | n + m elements each |
//!
//! That is 6 rounds (7 for ℓ = 128) where the ABY3-style circuit with a
//! carry-save layer and a separate bit-to-arithmetic step took 10 (11).
//! ReLU (m = n): party 0 sends about 110 bytes per element (78 before),
//! parties 1 and 2 about 23 (62 before).

use crate::cost::LEAF_WIDTH;
use crate::error::Result;
use crate::ring::RingElement;
use crate::ring::prg::PrfKey;

use super::binary::{BitShare, Planes, words};
use super::party::Party;

/// Sub-streams of the keystreams of one comparison round (each round has
/// its own operation number).
mod sub {
    /// ρ (key of parties 0 and 2) and ρ' (key of parties 0 and 1).
    pub const MASK: u8 = 6;
    /// The output components o0 and o1.
    pub const OUT: u8 = 7;
}

/// One output of a sum-of-products round: XOR (or sum) over terms α_k·β_k,
/// plus γ. Indices refer to the α planes and to the β planes the caller
/// passes.
struct Plan {
    /// (α index, β index) per term, per output.
    terms: Vec<Vec<(usize, usize)>>,
    /// The γ plane of each output (`None`: zero).
    gamma: Vec<Option<usize>>,
}

/// v ^= the mask keystream of operation `op` under `key`, read in
/// cache-sized chunks (the same words as `key.elems(op, sub::MASK, _)`).
fn xor_keystream(key: &PrfKey, op: u64, v: &mut [u64]) {
    let mut stream = key.stream(op, sub::MASK);
    let mut buf = vec![0u64; v.len().min(2048)];
    for c in v.chunks_mut(2048) {
        let k = c.len();
        stream.fill(&mut buf[..k]);
        c.iter_mut().zip(&buf[..k]).for_each(|(x, r)| *x ^= r);
    }
}

/// The positions of each leaf group: 0 … ℓ-2 in groups of [`LEAF_WIDTH`]
/// from the bottom.
fn leaf_groups(bits: usize) -> Vec<std::ops::Range<usize>> {
    (0..bits - 1)
        .step_by(LEAF_WIDTH)
        .map(|lo| lo..(lo + LEAF_WIDTH).min(bits - 1))
        .collect()
}

/// Bits of `u` as positions of a group starting at `lo`.
fn positions(u: usize, lo: usize, width: usize) -> impl Iterator<Item = usize> {
    (0..width)
        .filter(move |i| u >> i & 1 == 1)
        .map(move |i| lo + i)
}

impl Party {
    /// XOR shares of msb(x) for this party's arithmetic shares (a, b) of x
    /// (see the [module documentation](self)).
    pub fn msb<T: RingElement>(&mut self, a: &[T], b: &[T]) -> Result<BitShare> {
        let n = a.len();
        let w = words(n);
        let l = T::BITS as usize;
        let me = self.me();
        let groups = leaf_groups(l);
        // Party 0 slices X = x0 + x1; parties 1 and 2 slice Y = x2.
        let planes = match me {
            0 => {
                let x: Vec<T> = a.iter().zip(b).map(|(u, v)| u.wrapping_add(v)).collect();
                Planes::from_elems(&x)
            }
            1 => Planes::from_elems(b),
            _ => Planes::from_elems(a),
        };
        // α planes (party 0, flat: plane after plane), β planes (parties 1,
        // 2), and the plan.
        let mut alpha_planes = 0;
        let mut alpha: Vec<u64> = if me == 0 {
            Vec::with_capacity(crate::cost::msb_plan(T::BITS).alpha_planes * w)
        } else {
            Vec::new()
        };
        let mut beta: Vec<Vec<u64>> = Vec::new();
        let mut plan = Plan {
            terms: Vec::new(),
            gamma: Vec::new(),
        };
        let ones = vec![u64::MAX; w];
        let and_of = |pos: &mut dyn Iterator<Item = usize>| -> Vec<u64> {
            let mut acc = ones.clone();
            for p in pos {
                acc.iter_mut()
                    .zip(&planes.planes[p])
                    .for_each(|(x, y)| *x &= y);
            }
            acc
        };
        // appends the AND of X's bits at `pos` to the flat α planes
        let push_and = |alpha: &mut Vec<u64>, pos: &mut dyn Iterator<Item = usize>| {
            let start = alpha.len();
            alpha.extend_from_slice(&ones);
            for p in pos {
                alpha[start..]
                    .iter_mut()
                    .zip(&planes.planes[p])
                    .for_each(|(x, y)| *x &= y);
            }
        };
        let mut p_outputs = Vec::new();
        for (k, g) in groups.iter().enumerate() {
            let width = g.len();
            let base = alpha_planes;
            let full = (1usize << width) - 1;
            if me == 0 {
                for u in 1..=full {
                    push_and(&mut alpha, &mut positions(u, g.start, width));
                }
            }
            alpha_planes += full;
            // β planes are products of Y bits over subsets S of the group;
            // index them by S.
            let beta_base = beta.len();
            if me == 0 {
                beta.resize(beta_base + full + 1, Vec::new());
            } else {
                for s in 0..=full {
                    beta.push(and_of(&mut positions(s, g.start, width)));
                }
            }
            // G = ⊕_{U ≠ ∅} X_U · Y_{{j} ∪ (above j ∖ U)}, j = min U
            let g_terms = (1..=full)
                .map(|u| {
                    let j = u.trailing_zeros() as usize;
                    let above = full & !((2usize << j) - 1);
                    let s = (1 << j) | (above & !u);
                    (base + u - 1, beta_base + s)
                })
                .collect();
            plan.terms.push(g_terms);
            plan.gamma.push(None);
            if k > 0 {
                // P = ⊕_U X_U · Y_{group ∖ U}; U = ∅ is γ = Y_group
                let p_terms = (1..=full)
                    .map(|u| (base + u - 1, beta_base + (full & !u)))
                    .collect();
                p_outputs.push((plan.terms.len(), k));
                plan.terms.push(p_terms);
                plan.gamma.push(Some(beta_base + full));
            }
        }
        // the top bit: X_{ℓ-1} ⊕ Y_{ℓ-1}, the term X_{ℓ-1} ∧ 1 and γ = Y_{ℓ-1}
        // (party 0 holds the α plane, parties 1 and 2 the β planes)
        let top_alpha = alpha_planes;
        let top_beta = beta.len();
        let top = planes.planes[l - 1].clone();
        if me == 0 {
            alpha.extend_from_slice(&top);
            beta.extend([Vec::new(), Vec::new()]);
        } else {
            beta.extend([ones.clone(), top]);
        }
        alpha_planes += 1;
        plan.terms.push(vec![(top_alpha, top_beta)]);
        plan.gamma.push(Some(top_beta + 1));
        drop(planes);
        let out = self.sum_of_products_bits(alpha, alpha_planes, &beta, &plan, w)?;
        drop(beta);

        // Carry tree over the groups: G planes in group order, P likewise
        // (the lowest group's P is never read and stays zero).
        let ng = groups.len();
        let mut g = (vec![0u64; ng * w], vec![0u64; ng * w]);
        let mut p = (vec![0u64; ng * w], vec![0u64; ng * w]);
        let mut next_g = 0;
        for (r, _) in plan.terms.iter().enumerate().take(plan.terms.len() - 1) {
            if let Some(&(_, k)) = p_outputs.iter().find(|(o, _)| *o == r) {
                p.0[k * w..(k + 1) * w].copy_from_slice(&out.a[r * w..(r + 1) * w]);
                p.1[k * w..(k + 1) * w].copy_from_slice(&out.b[r * w..(r + 1) * w]);
            } else {
                g.0[next_g * w..(next_g + 1) * w].copy_from_slice(&out.a[r * w..(r + 1) * w]);
                g.1[next_g * w..(next_g + 1) * w].copy_from_slice(&out.b[r * w..(r + 1) * w]);
                next_g += 1;
            }
        }
        let carry = self.carry_tree(g, p, ng, w)?;
        let top = plan.terms.len() - 1;
        Ok(BitShare {
            a: (0..w).map(|i| out.a[top * w + i] ^ carry.0[i]).collect(),
            b: (0..w).map(|i| out.b[top * w + i] ^ carry.1[i]).collect(),
        })
    }

    /// Combines the (G, P) of `groups` groups (planes of `w` words, group
    /// after group) pairwise until one G is left: the carry out of all of
    /// them. The lowest group's P is never used.
    fn carry_tree(
        &mut self,
        mut g: (Vec<u64>, Vec<u64>),
        mut p: (Vec<u64>, Vec<u64>),
        mut groups: usize,
        w: usize,
    ) -> Result<(Vec<u64>, Vec<u64>)> {
        use super::binary::and_local;
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
        Ok(g)
    }

    /// One sum-of-products round over bit planes (see the [module
    /// documentation](self)): party 0 passes the `alpha_planes` α planes
    /// (flat, plane after plane; masked in place), parties 1 and 2 the β
    /// planes (the others' entries are empty and ignored). Returns the
    /// replicated XOR shares of every output, plane after plane.
    fn sum_of_products_bits(
        &mut self,
        alpha: Vec<u64>,
        alpha_planes: usize,
        beta: &[Vec<u64>],
        plan: &Plan,
        w: usize,
    ) -> Result<BitShare> {
        let op = self.next_op();
        let outputs = plan.terms.len();
        let me = self.me();
        self.net.begin_round("compare");
        let (k02, k01) = self.keys_with_party0();
        let draw =
            |key: &PrfKey, s: u8, planes: usize| -> Vec<u64> { key.elems(op, s, planes * w) };
        match me {
            0 => {
                let (k02, k01) = (k02.clone(), k01.clone());
                // α ⊕ ρ for party 1, α ⊕ ρ' for party 2
                let mut m1 = alpha;
                let mut m2 = m1.clone();
                xor_keystream(&k02, op, &mut m1);
                xor_keystream(&k01, op, &mut m2);
                let (nx, pv) = (self.net.next_id(), self.net.prev_id());
                self.net.send_elems(nx, m1)?;
                self.net.send_elems(pv, m2)?;
                Ok(BitShare {
                    a: draw(&k02, sub::OUT, outputs),
                    b: draw(&k01, sub::OUT, outputs),
                })
            }
            _ => {
                // party 1: its masks and output component are from the key
                // with party 0 (ρ', o1); party 2: ρ, o0. The peer of the
                // exchange is the other of parties 1 and 2.
                let key = if me == 1 { k01 } else { k02 }.clone();
                let mask = draw(&key, sub::MASK, alpha_planes);
                let own = draw(&key, sub::OUT, outputs);
                let other = 3 - me;
                let mut tell = own.clone();
                self.accumulate(&mut tell, &mask, beta, plan, w);
                self.net.send_elems(other, tell)?;
                let m = self.net.recv_elems::<u64>(0, alpha_planes * w)?;
                let u = self.net.recv_elems::<u64>(other, outputs * w)?;
                let mut third = u;
                self.accumulate(&mut third, &m, beta, plan, w);
                for (r, g) in plan.gamma.iter().enumerate() {
                    if let Some(gi) = g {
                        let dst = &mut third[r * w..(r + 1) * w];
                        dst.iter_mut().zip(&beta[*gi]).for_each(|(x, y)| *x ^= y);
                    }
                }
                third.iter_mut().zip(&own).for_each(|(x, y)| *x ^= y);
                // party 1 holds (o1, o2), party 2 (o2, o0)
                Ok(if me == 1 {
                    BitShare { a: own, b: third }
                } else {
                    BitShare { a: third, b: own }
                })
            }
        }
    }

    /// acc[r] ^= ⊕_k v[α_k] ∧ β[β_k] for every output r.
    fn accumulate(&self, acc: &mut [u64], v: &[u64], beta: &[Vec<u64>], plan: &Plan, w: usize) {
        for (r, terms) in plan.terms.iter().enumerate() {
            let dst = &mut acc[r * w..(r + 1) * w];
            for &(ai, bi) in terms {
                let src = &v[ai * w..(ai + 1) * w];
                dst.iter_mut()
                    .zip(src.iter().zip(&beta[bi]))
                    .for_each(|(d, (x, y))| *d ^= x & y);
            }
        }
    }

    /// The keys shared with party 0 (for parties 1 and 2) or by party 0:
    /// (key of parties 0 and 2, key of parties 0 and 1). A party holds only
    /// the keys it is part of; the other slot repeats one it holds and is
    /// never used.
    fn keys_with_party0(&self) -> (&PrfKey, &PrfKey) {
        match self.me() {
            0 => (&self.keys.prev, &self.keys.next),
            1 => (&self.keys.next, &self.keys.prev),
            _ => (&self.keys.next, &self.keys.prev),
        }
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
        // (d0, d1): t = d0 ⊕ d1 = ¬msb0 ⊕ msb1. Parties 1 and 2 hold d2 (party
        // 1 as its second share, party 2 as its first).
        let known: Vec<T> = match me {
            0 => (0..n)
                .map(|e| T::from_u64(((!msb.a[e / 64] ^ msb.b[e / 64]) >> (e % 64)) & 1))
                .collect(),
            1 => (0..n).map(|e| bit(&msb.b, e)).collect(),
            _ => (0..n).map(|e| bit(&msb.a, e)).collect(),
        };
        drop(msb);
        let at = |k: usize, e: usize| -> usize {
            match &index[k] {
                Some(ix) => ix[e],
                None => e,
            }
        };
        let m_total: usize = ys.iter().map(|y| y.0.len()).sum();
        let alpha_len = n + 2 * m_total;
        let outputs = n + m_total;
        let one = T::one();
        let two = T::from_u64(2);
        // α values (party 0): t for each compared element, then for each
        // selected element Y0 = y0 + y1 and t·Y0.
        let alphas: Vec<T> = if me == 0 {
            let mut v = Vec::with_capacity(alpha_len);
            v.extend_from_slice(&known);
            for (k, (ya, yb)) in ys.iter().enumerate() {
                for (e, (u, w)) in ya.iter().zip(yb.iter()).enumerate() {
                    let y0 = u.wrapping_add(w);
                    v.push(y0);
                    v.push(known[at(k, e)].wrapping_mul(&y0));
                }
            }
            v
        } else {
            Vec::new()
        };
        // β and γ (parties 1, 2): d_i = t_i·(1 - 2 d2_i) + d2_i, and
        // d·y = (t·Y0)(1 - 2 d2) + t·(y2 - 2 d2 y2) + Y0·d2 + d2 y2, with y2
        // party 1's second share and party 2's first.
        let y2 = |ya: &[T], yb: &[T], e: usize| if me == 1 { yb[e] } else { ya[e] };
        let products = |v: &[T]| -> Vec<T> {
            let mut out = Vec::with_capacity(outputs);
            out.extend(
                v[..n]
                    .iter()
                    .zip(&known)
                    .map(|(t, d2)| t.wrapping_mul(&one.wrapping_sub(&two.wrapping_mul(d2)))),
            );
            let mut a = n;
            for (k, (ya, yb)) in ys.iter().enumerate() {
                for e in 0..ya.len() {
                    let i = at(k, e);
                    let d2 = known[i];
                    let d2y2 = d2.wrapping_mul(&y2(ya, yb, e));
                    let b_ty = one.wrapping_sub(&two.wrapping_mul(&d2));
                    let b_t = y2(ya, yb, e).wrapping_sub(&two.wrapping_mul(&d2y2));
                    out.push(
                        v[a + 1]
                            .wrapping_mul(&b_ty)
                            .wrapping_add(&v[i].wrapping_mul(&b_t))
                            .wrapping_add(&v[a].wrapping_mul(&d2)),
                    );
                    a += 2;
                }
            }
            out
        };
        let gamma = |out: &mut [T]| {
            out[..n]
                .iter_mut()
                .zip(&known)
                .for_each(|(o, d2)| *o = o.wrapping_add(d2));
            let mut o = n;
            for (k, (ya, yb)) in ys.iter().enumerate() {
                for e in 0..ya.len() {
                    let d2y2 = known[at(k, e)].wrapping_mul(&y2(ya, yb, e));
                    out[o] = out[o].wrapping_add(&d2y2);
                    o += 1;
                }
            }
        };
        let (mut sa, mut sb) =
            self.sum_of_products_ring::<T>(&alphas, alpha_len, outputs, products, gamma)?;
        // split the outputs, last first, so each tail is moved once
        let mut outs = Vec::with_capacity(ys.len());
        let mut end = outputs;
        for (ya, _) in ys.iter().rev() {
            end -= ya.len();
            outs.push((sa.split_off(end), sb.split_off(end)));
        }
        outs.reverse();
        Ok(((sa, sb), outs))
    }

    /// One sum-of-products round over Z_2^ℓ (see the [module
    /// documentation](self)): party 0 passes its `alpha_len` α values.
    /// On parties 1 and 2, `products(v)` is Σ_k v[α_k]·β_k for every output
    /// and `gamma` adds each output's γ in place (party 0 calls neither).
    /// Returns the replicated shares of the `outputs` outputs.
    fn sum_of_products_ring<T: RingElement>(
        &mut self,
        alpha: &[T],
        alpha_len: usize,
        outputs: usize,
        products: impl Fn(&[T]) -> Vec<T>,
        gamma: impl FnOnce(&mut [T]),
    ) -> Result<(Vec<T>, Vec<T>)> {
        let op = self.next_op();
        let me = self.me();
        self.net.begin_round("compare");
        let (k02, k01) = self.keys_with_party0();
        let (k02, k01) = (k02.clone(), k01.clone());
        if me == 0 {
            let masked = |key: &PrfKey| -> Vec<T> {
                let mask: Vec<T> = key.elems(op, sub::MASK, alpha_len);
                alpha
                    .iter()
                    .zip(&mask)
                    .map(|(x, r)| x.wrapping_add(r))
                    .collect()
            };
            let (m1, m2) = (masked(&k02), masked(&k01));
            let (nx, pv) = (self.net.next_id(), self.net.prev_id());
            self.net.send_elems(nx, m1)?;
            self.net.send_elems(pv, m2)?;
            return Ok((
                k02.elems(op, sub::OUT, outputs),
                k01.elems(op, sub::OUT, outputs),
            ));
        }
        // party 1: ρ', o1 from the key with party 0; party 2: ρ, o0
        let key = if me == 1 { k01 } else { k02 };
        let mask: Vec<T> = key.elems(op, sub::MASK, alpha_len);
        let own: Vec<T> = key.elems(op, sub::OUT, outputs);
        // tell the other -Σ mask·β - own; add Σ m·β + γ - own to its answer
        let mut tell = products(&mask);
        tell.iter_mut()
            .zip(&own)
            .for_each(|(t, o)| *t = T::zero().wrapping_sub(t).wrapping_sub(o));
        let other = 3 - me;
        self.net.send_elems(other, tell)?;
        let m = self.net.recv_elems::<T>(0, alpha_len)?;
        let u = self.net.recv_elems::<T>(other, outputs)?;
        let mut third = products(&m);
        gamma(&mut third);
        third
            .iter_mut()
            .zip(u.iter().zip(&own))
            .for_each(|(t, (x, o))| *t = t.wrapping_add(x).wrapping_sub(o));
        Ok(if me == 1 { (own, third) } else { (third, own) })
    }
}
