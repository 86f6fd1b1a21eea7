//! `Plain`: the f64 reference domain.

use ndarray::{ArrayD, Axis};

use super::clear::Clear;
use super::{DomainInfo, Gather, PartyId, Ring, Session, TensorData, Tracker};
use crate::cost::{Op, Protocol};
use crate::error::{Error, Result};
use crate::tensor;

/// Plaintext `f64` evaluation: the reference every other domain is tested
/// against, and the fastest way to debug a model.
///
/// It predicts the communication a `Shared` run would need (for a ring of
/// `elem_bytes` bytes, 8 by default) and reports the first operation that
/// produced a NaN or infinity, with its label and step.
///
/// # Examples
///
/// ```
/// use privml::{Plain, Ring};
/// let mut r = Plain::new();
/// let x = r.scalar(3.0)?;
/// let y = r.mul(&x, &x)?;
/// assert_eq!(r.reveal(&y)?[[]], 9.0);
/// assert_eq!(r.cost().mults, 1);
/// # Ok::<(), privml::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Plain {
    clear: Clear,
    check_finite: bool,
}

impl Default for Plain {
    fn default() -> Self {
        Self::new()
    }
}

impl Plain {
    /// A plaintext evaluator predicting costs for Z_2^64 (8-byte elements).
    pub fn new() -> Self {
        Plain {
            clear: Clear::new(8),
            check_finite: true,
        }
    }

    /// Predict costs for ring elements of `elem_bytes` bytes (16 for Z_2^128).
    pub fn with_elem_bytes(mut self, elem_bytes: u64) -> Self {
        self.clear.set_elem_bytes(elem_bytes);
        self
    }

    /// Predict the costs of `protocol` (the replicated three-party protocol
    /// by default); with [`Protocol::Additive2`] only parties 0 and 1 may
    /// hold data, as in the two-party run.
    ///
    /// # Examples
    ///
    /// ```
    /// use privml::cost::Protocol;
    /// use privml::{Plain, Ring};
    ///
    /// let mut r = Plain::new().with_protocol(Protocol::Additive2);
    /// let x = r.input(0, Some(&ndarray::arr1(&[1.0, 2.0]).into_dyn()), &[2])?;
    /// let y = r.mul(&x, &x)?;
    /// assert_eq!(r.reveal(&y)?[1], 4.0);
    /// assert_eq!(r.cost().rounds, 3); // Beaver opening, truncation, reveal
    /// assert_eq!(r.cost().offline_bytes, [0, 3 * 2 * 8]);
    /// assert!(r.input(2, Some(&ndarray::arr1(&[1.0]).into_dyn()), &[1]).is_err());
    /// # Ok::<(), privml::Error>(())
    /// ```
    pub fn with_protocol(mut self, protocol: Protocol) -> Self {
        self.clear.set_protocol(protocol);
        self
    }

    /// Whether to return an error when an operation produces NaN or infinity
    /// (on by default).
    pub fn with_finite_check(mut self, on: bool) -> Self {
        self.check_finite = on;
        self
    }

    fn begin_op(&mut self) {
        self.clear.tracker.begin_op();
    }

    fn finite(&self, op: &'static str, x: ArrayD<f64>) -> Result<ArrayD<f64>> {
        if self.check_finite && !x.iter().all(|v| v.is_finite()) {
            return Err(Error::NonFiniteResult {
                at: self.clear.tracker.describe(op),
            });
        }
        Ok(x)
    }
}

impl Ring for Plain {
    type Tensor = ArrayD<f64>;

    fn info(&self) -> DomainInfo {
        DomainInfo::Plain
    }

    fn shape<'a>(&self, x: &'a ArrayD<f64>) -> &'a [usize] {
        x.shape()
    }

    fn tracker(&self) -> &Tracker {
        &self.clear.tracker
    }

    fn tracker_mut(&mut self) -> &mut Tracker {
        &mut self.clear.tracker
    }

    fn input(
        &mut self,
        owner: PartyId,
        value: Option<&ArrayD<f64>>,
        shape: &[usize],
    ) -> Result<ArrayD<f64>> {
        self.clear.input(owner, value, shape, |v| {
            tensor::check_finite(v)?;
            Ok(v.clone())
        })
    }

    fn constant(&mut self, value: &ArrayD<f64>) -> Result<ArrayD<f64>> {
        self.begin_op();
        tensor::check_finite(value)?;
        Ok(value.clone())
    }

    fn reveal(&mut self, x: &ArrayD<f64>) -> Result<ArrayD<f64>> {
        self.clear.pass_through(Op::Reveal, x.len())?;
        Ok(x.clone())
    }

    fn reveal_to(&mut self, to: PartyId, x: &ArrayD<f64>) -> Result<Option<ArrayD<f64>>> {
        self.clear.pass_through(Op::RevealTo { to }, x.len())?;
        Ok(Some(x.clone()))
    }

    fn reshare(&mut self, x: &ArrayD<f64>) -> Result<ArrayD<f64>> {
        self.clear.pass_through(Op::Reshare, x.len())?;
        Ok(x.clone())
    }

    fn add(&mut self, a: &ArrayD<f64>, b: &ArrayD<f64>) -> Result<ArrayD<f64>> {
        self.begin_op();
        let r = tensor::zip_broadcast("add", a, b, |x, y| x + y)?;
        self.finite("add", r)
    }

    // Overridden so that a subtraction is one operation, as in the other
    // domains (the default, a + (-b), gives the same values in two).
    fn sub(&mut self, a: &ArrayD<f64>, b: &ArrayD<f64>) -> Result<ArrayD<f64>> {
        self.begin_op();
        let r = tensor::zip_broadcast("sub", a, b, |x, y| x - y)?;
        self.finite("sub", r)
    }

    fn neg(&mut self, a: &ArrayD<f64>) -> Result<ArrayD<f64>> {
        self.begin_op();
        Ok(a.mapv(|x| -x))
    }

    fn add_public(&mut self, a: &ArrayD<f64>, c: &ArrayD<f64>) -> Result<ArrayD<f64>> {
        self.begin_op();
        tensor::check_finite(c)?;
        let r = tensor::zip_broadcast("add_public", a, c, |x, y| x + y)?;
        self.finite("add_public", r)
    }

    fn scale_int(&mut self, a: &ArrayD<f64>, k: i64) -> Result<ArrayD<f64>> {
        self.begin_op();
        let r = a.mapv(|x| x * k as f64);
        self.finite("scale_int", r)
    }

    fn sum_axis(&mut self, a: &ArrayD<f64>, axis: usize) -> Result<ArrayD<f64>> {
        self.begin_op();
        tensor::check_axis("sum_axis", a.shape(), axis)?;
        let r = a.sum_axis(Axis(axis)).insert_axis(Axis(axis));
        self.finite("sum_axis", r)
    }

    fn gather(&mut self, parts: &[&ArrayD<f64>], plan: &Gather) -> Result<ArrayD<f64>> {
        self.begin_op();
        plan.apply(parts, 0.0)
    }

    fn nonneg_select(
        &mut self,
        x: &ArrayD<f64>,
        ys: &[&ArrayD<f64>],
    ) -> Result<(ArrayD<f64>, Vec<ArrayD<f64>>)> {
        self.begin_op();
        let d = x.mapv(|v| (v >= 0.0) as u8 as f64);
        let mut out = Vec::with_capacity(ys.len());
        let mut m = 0;
        for y in ys {
            out.push(tensor::zip_broadcast("nonneg_select", y, &d, |v, b| v * b)?);
            m += y.len();
        }
        let bits = self.clear.ring_bits();
        self.clear
            .account(Op::Compare { bits, selected: m }, x.len());
        Ok((d, out))
    }

    fn div_pow2(&mut self, a: &ArrayD<f64>, bits: u32) -> Result<ArrayD<f64>> {
        self.begin_op();
        let s = (0.5f64).powi(bits as i32);
        self.clear.account(Op::Trunc, a.len());
        Ok(a.mapv(|x| x * s))
    }

    fn mul_many(&mut self, pairs: &[(&ArrayD<f64>, &ArrayD<f64>)]) -> Result<Vec<ArrayD<f64>>> {
        self.begin_op();
        let mut out = Vec::with_capacity(pairs.len());
        let mut operands = 0;
        for (a, b) in pairs {
            out.push(tensor::zip_broadcast("mul", a, b, |x, y| x * y)?);
            operands += a.len() + b.len();
        }
        let n = out.iter().map(|t| t.len()).sum();
        self.clear.account_product(Op::MulTrunc, n, operands);
        out.into_iter().map(|t| self.finite("mul", t)).collect()
    }

    fn matmul_many(&mut self, pairs: &[(&ArrayD<f64>, &ArrayD<f64>)]) -> Result<Vec<ArrayD<f64>>> {
        self.begin_op();
        let mut out = Vec::with_capacity(pairs.len());
        let (mut outputs, mut operands) = (0, 0);
        for (a, b) in pairs {
            let (m, k, n) = tensor::matmul_dims("matmul", a.shape(), b.shape())?;
            let (a2, b2) = (tensor::as_matrix(a)?, tensor::as_matrix(b)?);
            out.push(a2.dot(&b2).into_dyn());
            outputs += m * n;
            operands += m * k + k * n;
        }
        self.clear.account_product(Op::Matmul, outputs, operands);
        out.into_iter().map(|t| self.finite("matmul", t)).collect()
    }

    fn lincomb_public(
        &mut self,
        terms: &[&ArrayD<f64>],
        coeffs: &[f64],
        coeff_frac_bits: u32,
    ) -> Result<ArrayD<f64>> {
        self.begin_op();
        let first = tensor::check_lincomb(terms, coeffs, coeff_frac_bits)?;
        let mut acc = ArrayD::zeros(first.raw_dim());
        for (t, c) in terms.iter().zip(coeffs) {
            acc.scaled_add(*c, *t);
        }
        self.clear.account(Op::Trunc, acc.len());
        self.finite("lincomb_public", acc)
    }
}

impl Session for Plain {
    fn announce(&mut self, from: PartyId, data: Option<&[u8]>) -> Result<Vec<u8>> {
        self.clear.announce(from, data)
    }

    fn export(&self, x: &ArrayD<f64>) -> TensorData {
        TensorData::Clear {
            shape: x.shape().to_vec(),
            values: tensor::row_major(x).into_owned(),
        }
    }

    fn import(&mut self, data: &TensorData) -> Result<ArrayD<f64>> {
        match data {
            TensorData::Clear { shape, values } => {
                tensor::from_vec("import", shape, values.clone())
            }
            other => Err(Error::invalid(
                "tensor",
                format!("the plain domain cannot load {}", other.kind()),
            )),
        }
    }

    fn check_agreement(&mut self, _tensors: &[&ArrayD<f64>], _tag: &[u8]) -> Result<()> {
        self.clear.check_agreement()
    }
}
