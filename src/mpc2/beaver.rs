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

impl ElemShape {
    fn at(&self, e: usize) -> usize {
        match &self.y_at {
            Some(ix) => ix[e],
            None => e,
        }
    }
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
        super::trunc::check_bits::<T>(m)?;
        let op = self.next_op();
        self.use_material(op_name)?;
        let nx: usize = shapes.iter().map(|s| s.n).sum();
        let ny: usize = shapes.iter().map(|s| s.m).sum();
        if self.role() == Role::Dealer {
            self.net.begin_round(op_name);
            let mut dealt = self.deal_mul::<T>(op, shapes, nx, ny)?;
            dealt.extend(self.deal_trunc::<T>(op, nx, m)?);
            self.send_material(dealt)?;
            self.net.begin_round(op_name);
            return Ok(Vec::new());
        }
        let key = self.dealer_key()?.clone();
        let a: Vec<T> = key.elems(op, sub::A, nx);
        let b: Vec<T> = key.elems(op, sub::B, ny);
        let mut masked = Vec::with_capacity(nx + ny);
        for (x, ak) in xs.iter().copied().flatten().zip(&a) {
            masked.push(x.wrapping_sub(ak));
        }
        for (y, bk) in ys.iter().copied().flatten().zip(&b) {
            masked.push(y.wrapping_sub(bk));
        }
        drop(a);
        self.net.begin_round(op_name);
        let (dealt_c, hi, msb) = self.dealt_with_trunc::<T>(op, nx, nx, op_name)?;
        let c = if self.net.me() == 0 {
            key.elems(op, sub::C, nx)
        } else {
            dealt_c
        };
        let ef = self.open(&masked)?;
        let (e, f) = ef.split_at(nx);
        let mut z = c;
        let at = offsets(shapes.iter().map(|s| (s.n, s.m, s.n)));
        for (k, (s, &(xo, yo, _))) in shapes.iter().zip(&at).enumerate() {
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
        drop(ef);
        self.net.begin_round(op_name);
        self.trunc_open(op, z, m, &hi, &msb)
    }

    /// The dealer's c1 = a ⊙ b − c0 for the pairs of `shapes`.
    fn deal_mul<T: RingElement>(
        &self,
        op: u64,
        shapes: &[ElemShape],
        nx: usize,
        ny: usize,
    ) -> Result<Vec<T>> {
        let (k0, k1) = self.party_keys()?;
        let a = sum_of_halves::<T>(k0.elems(op, sub::A, nx), &k1.elems(op, sub::A, nx));
        let b = sum_of_halves::<T>(k0.elems(op, sub::B, ny), &k1.elems(op, sub::B, ny));
        let mut c: Vec<T> = k0.elems(op, sub::C, nx);
        let at = offsets(shapes.iter().map(|s| (s.n, s.m, s.n)));
        for (s, &(xo, yo, _)) in shapes.iter().zip(&at) {
            for e in 0..s.n {
                let ab = a[xo + e].wrapping_mul(&b[yo + s.at(e)]);
                c[xo + e] = ab.wrapping_sub(&c[xo + e]);
            }
        }
        Ok(c)
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
        super::trunc::check_bits::<T>(m)?;
        let op = self.next_op();
        self.use_material(op_name)?;
        let at = offsets(shapes.iter().map(|&(r, k, c)| (r * k, k * c, r * c)));
        let na: usize = shapes.iter().map(|&(r, k, _)| r * k).sum();
        let nb: usize = shapes.iter().map(|&(_, k, c)| k * c).sum();
        let nout: usize = shapes.iter().map(|&(r, _, c)| r * c).sum();
        if self.role() == Role::Dealer {
            self.net.begin_round(op_name);
            let (k0, k1) = self.party_keys()?;
            let a = sum_of_halves::<T>(k0.elems(op, sub::A, na), &k1.elems(op, sub::A, na));
            let b = sum_of_halves::<T>(k0.elems(op, sub::B, nb), &k1.elems(op, sub::B, nb));
            let mut dealt: Vec<T> = k0.elems(op, sub::C, nout);
            for c in dealt.iter_mut() {
                *c = c.wrapping_neg();
            }
            for (&(r, k, n), &(ao, bo, co)) in shapes.iter().zip(&at) {
                matmul_acc(
                    &a[ao..ao + r * k],
                    &b[bo..bo + k * n],
                    &mut dealt[co..co + r * n],
                    r,
                    k,
                    n,
                );
            }
            drop((a, b));
            dealt.extend(self.deal_trunc::<T>(op, nout, m)?);
            self.send_material(dealt)?;
            self.net.begin_round(op_name);
            return Ok(Vec::new());
        }
        let key = self.dealer_key()?.clone();
        let a: Vec<T> = key.elems(op, sub::A, na);
        let b: Vec<T> = key.elems(op, sub::B, nb);
        let mut masked = Vec::with_capacity(na + nb);
        for (x, ak) in xs.iter().copied().flatten().zip(&a) {
            masked.push(x.wrapping_sub(ak));
        }
        for (y, bk) in ys.iter().copied().flatten().zip(&b) {
            masked.push(y.wrapping_sub(bk));
        }
        drop(a);
        self.net.begin_round(op_name);
        let (dealt_c, hi, msb) = self.dealt_with_trunc::<T>(op, nout, nout, op_name)?;
        let mut z = if self.net.me() == 0 {
            key.elems(op, sub::C, nout)
        } else {
            dealt_c
        };
        let ef = self.open(&masked)?;
        let (e, f) = ef.split_at(na);
        for (i, (&(r, k, n), &(ao, bo, co))) in shapes.iter().zip(&at).enumerate() {
            let zk = &mut z[co..co + r * n];
            matmul_acc(xs[i], &f[bo..bo + k * n], zk, r, k, n);
            matmul_acc(&e[ao..ao + r * k], &b[bo..bo + k * n], zk, r, k, n);
        }
        drop(ef);
        self.net.begin_round(op_name);
        self.trunc_open(op, z, m, &hi, &msb)
    }
}

/// h0 + h1, elementwise, in h0's buffer.
fn sum_of_halves<T: RingElement>(mut h0: Vec<T>, h1: &[T]) -> Vec<T> {
    for (a, b) in h0.iter_mut().zip(h1) {
        *a = a.wrapping_add(b);
    }
    h0
}
