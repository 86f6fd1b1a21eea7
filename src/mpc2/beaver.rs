//! Fixed-point products of additive shares with Beaver triples, the
//! truncation fused into the same operation.
//!
//! # Elementwise (x ⊙ y, y broadcast to x's shape)
//!
//! The dealer's triple is a (x's shape), b (y's own shape) and c = a ⊙ b
//! (b broadcast); a and b are the sums of halves the parties derive from
//! their seeds, c0 comes from k_d0 and P1 receives c1 = a ⊙ b − c0.
//!
//! 1. *Round 1.* Each party sends x_i − a_i and y_i − b_i; both learn
//!    e = x − a and f = y − b.
//! 2. z_i = x_i ⊙ f + e ⊙ b_i + c_i, so that z0 + z1 = x ⊙ (y − b) +
//!    (x − a) ⊙ b + a ⊙ b = x ⊙ y (exact, 2f fraction bits).
//! 3. *Round 2.* The truncation of [`super::trunc`].
//!
//! A broadcast operand is opened once at its own size, so a bias row costs
//! its length, not the batch's.
//!
//! # Matrix (X·Y, X m×k, Y k×n)
//!
//! A matrix triple A (m×k), B (k×n), C = A·B; the parties open E = X − A
//! and F = Y − B and compute Z_i = X_i·F + E·B_i + C_i (two local matrix
//! products each). Communication is proportional to the *operands*, mk +
//! kn elements per party, where the replicated protocol sends one element
//! per output (mn); the dealer computes one matrix product per triple.
//!
//! # Cost
//!
//! 2 rounds; per computing party o + n elements, with o the operand
//! elements (Σ |x| + |y|, or mk + kn) and n the outputs; 3n elements to P1
//! offline (c1 and the truncation's material, one message).
//!
//! # Security
//!
//! e and f are masked by a and b, uniform and unknown to either party
//! alone (each holds one half); the dealer receives nothing.

use crate::error::Result;
use crate::ring::{RingElement, matmul_acc};

use super::participant::{Participant, Role};
use super::sub;

/// The shape of one elementwise product x ⊙ y: x has `n` elements, y has
/// `m`, and element e of x meets element `y_at[e]` of y (`None`: y has x's
/// shape).
#[derive(Debug, Clone)]
pub struct ElemShape {
    /// Elements of x (and of the product).
    pub n: usize,
    /// Elements of y.
    pub m: usize,
    /// The broadcast index of y, if y is smaller.
    pub y_at: Option<Vec<usize>>,
}

/// The shape of one matrix product: (m, k, n).
pub type MatShape = (usize, usize, usize);

/// Where pair k's x, y and outputs start in the concatenated buffers.
fn offsets(sizes: impl Iterator<Item = (usize, usize, usize)>) -> Vec<(usize, usize, usize)> {
    let (mut x, mut y, mut out) = (0, 0, 0);
    sizes
        .map(|(nx, ny, no)| {
            let at = (x, y, out);
            x += nx;
            y += ny;
            out += no;
            at
        })
        .collect()
}

/// What tells an elementwise product from a matrix product: the sizes of
/// the triple, the dealer's a ⊙ b or A·B, and each party's local
/// combination. The protocol around them is one ([`Participant::beaver_trunc`]).
trait Triple {
    /// Elements of a (all x operands), of b (all y operands) and of c (all
    /// outputs).
    fn sizes(&self) -> (usize, usize, usize);
    /// c += a ⊙ b (or A·B) for every pair: the dealer's product.
    fn acc_ab<T: RingElement>(&self, a: &[T], b: &[T], c: &mut [T]);
    /// z += x_i ⊙ f + e ⊙ b_i (or X_i·F + E·B_i) for every pair: a party's
    /// share of the product from its shares `xs`, the opened e and f, and
    /// its half of b.
    fn acc_party<T: RingElement>(&self, xs: &[&[T]], e: &[T], f: &[T], b: &[T], z: &mut [T]);

    /// Whether every pair is an elementwise product of operands of equal
    /// shapes: a computing party then runs the chunked
    /// [`Participant::mul_trunc_streamed`] instead (the same messages and
    /// values; see [`super::streamed`]).
    fn equal_pairs(&self) -> bool {
        false
    }

    /// Completes e and f from the other party's x − a and y − b (`ef`,
    /// e then f) by adding this party's, recomputed from `xs`, `ys`, `a`
    /// and `b` so that its own could be sent without a copy, then
    /// [`acc_party`](Self::acc_party). Returns e and f (in `ef`).
    fn open_and_acc<T: RingElement>(
        &self,
        xs: &[&[T]],
        ys: &[&[T]],
        a: &[T],
        b: &[T],
        ef: &mut [T],
        z: &mut [T],
    ) {
        complete_masked(xs, ys, a, b, ef);
        let (e, f) = ef.split_at(a.len());
        self.acc_party(xs, e, f, b, z);
    }
}

/// e += x − a and f += y − b over the concatenated operands (`ef` holds e
/// then f).
fn complete_masked<T: RingElement>(xs: &[&[T]], ys: &[&[T]], a: &[T], b: &[T], ef: &mut [T]) {
    let (e, f) = ef.split_at_mut(a.len());
    for (ei, (x, ak)) in e.iter_mut().zip(xs.iter().copied().flatten().zip(a)) {
        *ei = ei.wrapping_add(&x.wrapping_sub(ak));
    }
    for (fi, (y, bk)) in f.iter_mut().zip(ys.iter().copied().flatten().zip(b)) {
        *fi = fi.wrapping_add(&y.wrapping_sub(bk));
    }
}

/// The elementwise products of [`Participant::mul_trunc`].
struct Elementwise<'a>(&'a [ElemShape]);

impl Elementwise<'_> {
    fn offsets(&self) -> Vec<(usize, usize, usize)> {
        offsets(self.0.iter().map(|s| (s.n, s.m, s.n)))
    }
}

impl Triple for Elementwise<'_> {
    fn equal_pairs(&self) -> bool {
        self.0.iter().all(|s| s.y_at.is_none() && s.n == s.m)
    }

    fn sizes(&self) -> (usize, usize, usize) {
        let nx: usize = self.0.iter().map(|s| s.n).sum();
        let ny: usize = self.0.iter().map(|s| s.m).sum();
        (nx, ny, nx)
    }

    fn acc_ab<T: RingElement>(&self, a: &[T], b: &[T], c: &mut [T]) {
        for (s, (xo, yo, _)) in self.0.iter().zip(self.offsets()) {
            let (ak, bk, ck) = (&a[xo..xo + s.n], &b[yo..yo + s.m], &mut c[xo..xo + s.n]);
            match &s.y_at {
                None => {
                    for ((ci, ai), bi) in ck.iter_mut().zip(ak).zip(bk) {
                        *ci = ci.wrapping_add(&ai.wrapping_mul(bi));
                    }
                }
                Some(ix) => {
                    for ((ci, ai), &j) in ck.iter_mut().zip(ak).zip(ix) {
                        *ci = ci.wrapping_add(&ai.wrapping_mul(&bk[j]));
                    }
                }
            }
        }
    }

    fn acc_party<T: RingElement>(&self, xs: &[&[T]], e: &[T], f: &[T], b: &[T], z: &mut [T]) {
        for (k, (s, (xo, yo, _))) in self.0.iter().zip(self.offsets()).enumerate() {
            let (x, fk, bk) = (xs[k], &f[yo..yo + s.m], &b[yo..yo + s.m]);
            let (ek, zk) = (&e[xo..xo + s.n], &mut z[xo..xo + s.n]);
            match &s.y_at {
                None => {
                    for ((((zi, xi), ei), fi), bi) in zk.iter_mut().zip(x).zip(ek).zip(fk).zip(bk) {
                        *zi = zi
                            .wrapping_add(&xi.wrapping_mul(fi).wrapping_add(&ei.wrapping_mul(bi)));
                    }
                }
                Some(ix) => {
                    for (((zi, xi), ei), &j) in zk.iter_mut().zip(x).zip(ek).zip(ix) {
                        *zi = zi.wrapping_add(
                            &xi.wrapping_mul(&fk[j])
                                .wrapping_add(&ei.wrapping_mul(&bk[j])),
                        );
                    }
                }
            }
        }
    }
}

/// The matrix products of [`Participant::matmul_trunc`].
struct Matrix<'a>(&'a [MatShape]);

impl Matrix<'_> {
    fn offsets(&self) -> Vec<(usize, usize, usize)> {
        offsets(self.0.iter().map(|&(r, k, c)| (r * k, k * c, r * c)))
    }
}

impl Triple for Matrix<'_> {
    fn sizes(&self) -> (usize, usize, usize) {
        let na: usize = self.0.iter().map(|&(r, k, _)| r * k).sum();
        let nb: usize = self.0.iter().map(|&(_, k, c)| k * c).sum();
        let nc: usize = self.0.iter().map(|&(r, _, c)| r * c).sum();
        (na, nb, nc)
    }

    fn acc_ab<T: RingElement>(&self, a: &[T], b: &[T], c: &mut [T]) {
        for (&(r, k, n), (ao, bo, co)) in self.0.iter().zip(self.offsets()) {
            let (ak, bk) = (&a[ao..ao + r * k], &b[bo..bo + k * n]);
            matmul_acc(ak, bk, &mut c[co..co + r * n], r, k, n);
        }
    }

    fn acc_party<T: RingElement>(&self, xs: &[&[T]], e: &[T], f: &[T], b: &[T], z: &mut [T]) {
        for (i, (&(r, k, n), (ao, bo, co))) in self.0.iter().zip(self.offsets()).enumerate() {
            let zk = &mut z[co..co + r * n];
            matmul_acc(xs[i], &f[bo..bo + k * n], zk, r, k, n);
            matmul_acc(&e[ao..ao + r * k], &b[bo..bo + k * n], zk, r, k, n);
        }
    }
}

impl Participant {
    /// Fixed-point elementwise products: this party's shares `xs[k]`,
    /// `ys[k]` of each pair (shapes in `shapes`), truncated by `m` bits.
    /// Returns the outputs concatenated; the dealer passes empty shares and
    /// gets an empty vector.
    pub fn mul_trunc<T: RingElement>(
        &mut self,
        shapes: &[ElemShape],
        xs: &[&[T]],
        ys: &[&[T]],
        m: u32,
        op_name: &'static str,
    ) -> Result<Vec<T>> {
        self.beaver_trunc(&Elementwise(shapes), xs, ys, m, op_name)
    }

    /// Fixed-point matrix products: this party's shares `xs[k]` (m×k) and
    /// `ys[k]` (k×n), truncated by `m` bits. Returns the outputs
    /// concatenated; the dealer passes empty shares and gets an empty vector.
    pub fn matmul_trunc<T: RingElement>(
        &mut self,
        shapes: &[MatShape],
        xs: &[&[T]],
        ys: &[&[T]],
        m: u32,
        op_name: &'static str,
    ) -> Result<Vec<T>> {
        self.beaver_trunc(&Matrix(shapes), xs, ys, m, op_name)
    }

    /// The Beaver product of either kind, then the truncation: the round
    /// that opens e and f, the local combination, the truncation's round.
    fn beaver_trunc<T: RingElement>(
        &mut self,
        triple: &impl Triple,
        xs: &[&[T]],
        ys: &[&[T]],
        m: u32,
        op_name: &'static str,
    ) -> Result<Vec<T>> {
        super::trunc::check_bits::<T>(m)?;
        let op = self.next_op();
        self.use_material(op_name)?;
        let (na, nb, nc) = triple.sizes();
        if self.role() == Role::Dealer {
            self.net.begin_round(op_name);
            // c1 = a ⊙ b − c0, then the truncation's material: one message.
            let (k0, k1) = self.party_keys()?;
            let a = sum_of_halves::<T>(k0.elems(op, sub::A, na), &k1.elems(op, sub::A, na));
            let b = sum_of_halves::<T>(k0.elems(op, sub::B, nb), &k1.elems(op, sub::B, nb));
            let mut dealt: Vec<T> = k0.elems(op, sub::C, nc);
            for c in dealt.iter_mut() {
                *c = c.wrapping_neg();
            }
            triple.acc_ab(&a, &b, &mut dealt);
            drop((a, b));
            self.deal_trunc_into::<T>(op, nc, m, &mut dealt)?;
            self.send_material(dealt)?;
            self.net.begin_round(op_name);
            return Ok(Vec::new());
        }
        if triple.equal_pairs()
            && xs.len() == ys.len()
            && xs.iter().zip(ys).all(|(x, y)| x.len() == y.len())
        {
            return self.mul_trunc_streamed(op, xs, ys, m, op_name);
        }
        let key = self.dealer_key()?.clone();
        let a: Vec<T> = key.elems(op, sub::A, na);
        let b: Vec<T> = key.elems(op, sub::B, nb);
        // x − a then y − b, one slice at a time so that each extend is a
        // plain vectorised loop (no per-element capacity check).
        let mut masked = Vec::with_capacity(na + nb);
        for (ops, mask) in [(xs, &a), (ys, &b)] {
            let mut at = 0;
            for x in ops {
                let mk = &mask[at..at + x.len()];
                masked.extend(x.iter().zip(mk).map(|(xi, ai)| xi.wrapping_sub(ai)));
                at += x.len();
            }
        }
        self.net.begin_round(op_name);
        // Party 1's c1 comes in the truncation's message, ahead of its
        // material; party 0 derives c0.
        let mut material = self.dealt_with_trunc::<T>(op, nc, nc, op_name)?;
        let mut c0 = if self.net.me() == 0 {
            key.elems(op, sub::C, nc)
        } else {
            Vec::new()
        };
        let (c1, hi, msb) = material.parts();
        let z: &mut [T] = if self.net.me() == 0 { &mut c0 } else { c1 };
        // The other party's x − a and y − b; adding ours (recomputed, so
        // that ours could be sent without a copy) gives e and f.
        let mut ef = self.exchange(masked)?;
        triple.open_and_acc(xs, ys, &a, &b, &mut ef, z);
        drop((ef, a, b));
        self.net.begin_round(op_name);
        self.trunc_open(op, z, m, hi, msb)
    }
}

/// h0 + h1, elementwise, in h0's buffer.
fn sum_of_halves<T: RingElement>(mut h0: Vec<T>, h1: &[T]) -> Vec<T> {
    for (a, b) in h0.iter_mut().zip(h1) {
        *a = a.wrapping_add(b);
    }
    h0
}
