//! `Plain`: the f64 reference domain.

use ndarray::{ArrayD, Axis};

use super::{PartyId, Ring, TensorData, Tracker};
use crate::cost::{CostModel, Op};
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
    tracker: Tracker,
    model: CostModel,
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
            tracker: Tracker::default(),
            model: CostModel::new(8),
            check_finite: true,
        }
    }

    /// Predict costs for ring elements of `elem_bytes` bytes (16 for Z_2^128).
    pub fn with_elem_bytes(mut self, elem_bytes: u64) -> Self {
        self.model = CostModel::new(elem_bytes);
        self
    }

    /// Whether to return an error when an operation produces NaN or infinity
    /// (on by default).
    pub fn with_finite_check(mut self, on: bool) -> Self {
        self.check_finite = on;
        self
    }

    fn account(&mut self, op: Op, n: usize) {
        self.tracker.cost.predict(&self.model, op, n);
    }

    fn finite(&self, op: &'static str, x: ArrayD<f64>) -> Result<ArrayD<f64>> {
        if self.check_finite && !x.iter().all(|v| v.is_finite()) {
            return Err(Error::NonFiniteResult {
                at: self.tracker.describe(op),
            });
        }
        Ok(x)
    }
}

/// Checks the arguments of `lincomb_public` and returns the first term.
pub(crate) fn check_lincomb<'t, X: Clone>(
    terms: &[&'t ArrayD<X>],
    coeffs: &[f64],
    bits: u32,
) -> Result<&'t ArrayD<X>> {
    let first = *terms
        .first()
        .ok_or_else(|| Error::invalid("terms", "lincomb_public needs at least one term"))?;
    if terms.len() != coeffs.len() {
        return Err(Error::invalid(
            "coeffs",
            format!("{} coefficients for {} terms", coeffs.len(), terms.len()),
        ));
    }
    if bits == 0 {
        return Err(Error::invalid("coeff_frac_bits", "must be at least 1"));
    }
    for t in terms {
        tensor::check_same("lincomb_public", first.shape(), t.shape())?;
    }
    if let Some((index, &value)) = coeffs.iter().enumerate().find(|(_, c)| !c.is_finite()) {
        return Err(Error::NonFinite { value, index });
    }
    Ok(first)
}

fn check_input(value: &ArrayD<f64>) -> Result<()> {
    match value.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        Some((index, &value)) => Err(Error::NonFinite { value, index }),
        None => Ok(()),
    }
}

impl Ring for Plain {
    type Tensor = ArrayD<f64>;

    fn describe(&self) -> String {
        "plain f64".to_string()
    }

    fn frac_bits(&self) -> Option<u32> {
        None
    }

    fn party(&self) -> Option<PartyId> {
        None
    }

    fn shape<'a>(&self, x: &'a ArrayD<f64>) -> &'a [usize] {
        x.shape()
    }

    fn input(
        &mut self,
        owner: PartyId,
        value: Option<&ArrayD<f64>>,
        shape: &[usize],
    ) -> Result<ArrayD<f64>> {
        self.tracker.begin_op();
        if owner > 2 {
            return Err(Error::InvalidParty(owner));
        }
        let value = value.ok_or_else(|| {
            Error::invalid("value", "the plaintext domain needs every input value")
        })?;
        tensor::check_same("input", value.shape(), shape)?;
        check_input(value)?;
        self.account(Op::Input { owner }, value.len());
        Ok(value.clone())
    }

    fn constant(&mut self, value: &ArrayD<f64>) -> Result<ArrayD<f64>> {
        self.tracker.begin_op();
        check_input(value)?;
        Ok(value.clone())
    }

    fn reveal(&mut self, x: &ArrayD<f64>) -> Result<ArrayD<f64>> {
        self.tracker.begin_op();
        self.account(Op::Reveal, x.len());
        Ok(x.clone())
    }

    fn reveal_to(&mut self, to: PartyId, x: &ArrayD<f64>) -> Result<Option<ArrayD<f64>>> {
        self.tracker.begin_op();
        if to > 2 {
            return Err(Error::InvalidParty(to));
        }
        self.account(Op::RevealTo { to }, x.len());
        Ok(Some(x.clone()))
    }

    fn reshare(&mut self, x: &ArrayD<f64>) -> Result<ArrayD<f64>> {
        self.tracker.begin_op();
        self.account(Op::Reshare, x.len());
        Ok(x.clone())
    }

    fn add(&mut self, a: &ArrayD<f64>, b: &ArrayD<f64>) -> Result<ArrayD<f64>> {
        self.tracker.begin_op();
        let r = tensor::zip_broadcast("add", a, b, |x, y| x + y)?;
        self.finite("add", r)
    }

    fn sub(&mut self, a: &ArrayD<f64>, b: &ArrayD<f64>) -> Result<ArrayD<f64>> {
        self.tracker.begin_op();
        let r = tensor::zip_broadcast("sub", a, b, |x, y| x - y)?;
        self.finite("sub", r)
    }

    fn neg(&mut self, a: &ArrayD<f64>) -> Result<ArrayD<f64>> {
        self.tracker.begin_op();
        Ok(a.mapv(|x| -x))
    }

    fn add_public(&mut self, a: &ArrayD<f64>, c: &ArrayD<f64>) -> Result<ArrayD<f64>> {
        self.tracker.begin_op();
        check_input(c)?;
        let r = tensor::zip_broadcast("add_public", a, c, |x, y| x + y)?;
        self.finite("add_public", r)
    }

    fn scale_int(&mut self, a: &ArrayD<f64>, k: i64) -> Result<ArrayD<f64>> {
        self.tracker.begin_op();
        let r = a.mapv(|x| x * k as f64);
        self.finite("scale_int", r)
    }

    fn sum_axis(&mut self, a: &ArrayD<f64>, axis: usize) -> Result<ArrayD<f64>> {
        self.tracker.begin_op();
        tensor::check_axis("sum_axis", a.shape(), axis)?;
        let r = a.sum_axis(Axis(axis)).insert_axis(Axis(axis));
        self.finite("sum_axis", r)
    }

    fn transpose(&mut self, a: &ArrayD<f64>) -> Result<ArrayD<f64>> {
        self.tracker.begin_op();
        tensor::transpose2("transpose", a)
    }

    fn reshape(&mut self, a: &ArrayD<f64>, shape: &[usize]) -> Result<ArrayD<f64>> {
        self.tracker.begin_op();
        tensor::reshape("reshape", a, shape)
    }

    fn slice_rows(&mut self, a: &ArrayD<f64>, start: usize, end: usize) -> Result<ArrayD<f64>> {
        self.tracker.begin_op();
        tensor::slice_rows("slice_rows", a, start, end)
    }

    fn gather_rows(&mut self, a: &ArrayD<f64>, indices: &[usize]) -> Result<ArrayD<f64>> {
        self.tracker.begin_op();
        tensor::gather_rows("gather_rows", a, indices)
    }

    fn concat_rows(&mut self, parts: &[&ArrayD<f64>]) -> Result<ArrayD<f64>> {
        self.tracker.begin_op();
        tensor::concat_rows("concat_rows", parts)
    }

    fn nonneg_select(
        &mut self,
        x: &ArrayD<f64>,
        ys: &[&ArrayD<f64>],
    ) -> Result<(ArrayD<f64>, Vec<ArrayD<f64>>)> {
        self.tracker.begin_op();
        let d = x.mapv(|v| (v >= 0.0) as u8 as f64);
        let mut out = Vec::with_capacity(ys.len());
        let mut m = 0;
        for y in ys {
            out.push(tensor::zip_broadcast("nonneg_select", y, &d, |v, b| v * b)?);
            m += y.len();
        }
        let bits = (self.model.elem_bytes * 8) as u32;
        self.account(Op::Compare { bits, selected: m }, x.len());
        Ok((d, out))
    }

    fn mul_public(&mut self, a: &ArrayD<f64>, c: &ArrayD<f64>) -> Result<ArrayD<f64>> {
        self.tracker.begin_op();
        check_input(c)?;
        let r = tensor::zip_broadcast("mul_public", a, c, |x, y| x * y)?;
        self.account(Op::Trunc, r.len());
        self.finite("mul_public", r)
    }

    fn div_pow2(&mut self, a: &ArrayD<f64>, bits: u32) -> Result<ArrayD<f64>> {
        self.tracker.begin_op();
        let s = (0.5f64).powi(bits as i32);
        self.account(Op::Trunc, a.len());
        Ok(a.mapv(|x| x * s))
    }

    fn mul_many(&mut self, pairs: &[(&ArrayD<f64>, &ArrayD<f64>)]) -> Result<Vec<ArrayD<f64>>> {
        self.tracker.begin_op();
        let mut out = Vec::with_capacity(pairs.len());
        for (a, b) in pairs {
            out.push(tensor::zip_broadcast("mul", a, b, |x, y| x * y)?);
        }
        let n = out.iter().map(|t| t.len()).sum();
        self.account(Op::MulTrunc, n);
        out.into_iter().map(|t| self.finite("mul", t)).collect()
    }

    fn matmul_many(&mut self, pairs: &[(&ArrayD<f64>, &ArrayD<f64>)]) -> Result<Vec<ArrayD<f64>>> {
        self.tracker.begin_op();
        let mut out = Vec::with_capacity(pairs.len());
        let mut outputs = 0;
        for (a, b) in pairs {
            let (m, _k, n) = tensor::matmul_dims("matmul", a.shape(), b.shape())?;
            let a2 = a
                .view()
                .into_dimensionality::<ndarray::Ix2>()
                .map_err(|e| Error::invalid("a", e.to_string()))?;
            let b2 = b
                .view()
                .into_dimensionality::<ndarray::Ix2>()
                .map_err(|e| Error::invalid("b", e.to_string()))?;
            out.push(a2.dot(&b2).into_dyn());
            outputs += m * n;
        }
        self.account(Op::Matmul, outputs);
        out.into_iter().map(|t| self.finite("matmul", t)).collect()
    }

    fn lincomb_public(
        &mut self,
        terms: &[&ArrayD<f64>],
        coeffs: &[f64],
        coeff_frac_bits: u32,
    ) -> Result<ArrayD<f64>> {
        self.tracker.begin_op();
        let first = check_lincomb(terms, coeffs, coeff_frac_bits)?;
        let mut acc = ArrayD::zeros(first.raw_dim());
        for (t, c) in terms.iter().zip(coeffs) {
            acc.scaled_add(*c, *t);
        }
        self.account(Op::Trunc, acc.len());
        self.finite("lincomb_public", acc)
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
        self.tracker.begin_op();
        self.account(Op::Agreement, 0);
        Ok(())
    }

    fn announce(&mut self, from: PartyId, data: Option<&[u8]>) -> Result<Vec<u8>> {
        self.tracker.begin_op();
        if from > 2 {
            return Err(Error::InvalidParty(from));
        }
        let data = data.ok_or_else(|| {
            Error::invalid("data", "the plaintext domain needs the announced data")
        })?;
        self.account(Op::Announce { from }, data.len());
        Ok(data.to_vec())
    }

    fn tracker(&self) -> &Tracker {
        &self.tracker
    }

    fn tracker_mut(&mut self) -> &mut Tracker {
        &mut self.tracker
    }
}
