//! `Fixed`: the secure run's arithmetic, in the clear.

use ndarray::{ArrayD, Axis};

use super::clear::Clear;
use super::session::decode_elements;
use super::{DomainInfo, Gather, PartyId, Ring, Session, TensorData, Tracker};
use crate::cost::{Op, Protocol};
use crate::error::{Error, OverflowEvent, Result};
use crate::fixed::FixedPoint;
use crate::ring::RingElement;
use crate::ring::kernels;
use crate::ring::prg::{AesPrg, Seed};
use crate::tensor;

/// What `Fixed` does when a value leaves the safe range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OverflowPolicy {
    /// Return [`Error::Overflow`] naming the operation (default).
    #[default]
    Error,
    /// Record an [`OverflowEvent`] (see [`Fixed::overflows`]) and go on with
    /// the wrapped value, as the secure run would.
    Warn,
}

/// How `Fixed` rounds when it truncates a double-precision product.
///
/// The secure truncation ([`crate::mpc::trunc`]) returns ⌊x / 2^f⌋ + e where
/// e ∈ {0, 1} is 1 with probability (x mod 2^f) / 2^f: stochastic rounding,
/// unbiased, never more than one unit in the last place from the floor.
/// `Stochastic` (the default) draws e with that distribution from a
/// generator with a fixed seed, so `Fixed` runs are reproducible and follow
/// the secure run's statistics; the individual e differ from the secure
/// run's, which come from the parties' joint randomness. `Floor` always takes
/// e = 0: deterministic but biased downwards, which long training runs show
/// (the tutorial's 10,000 iterations drift visibly).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TruncationMode {
    /// ⌊x / 2^f⌋.
    Floor,
    /// ⌊x / 2^f⌋ + Bernoulli((x mod 2^f) / 2^f), like the secure protocol.
    #[default]
    Stochastic,
}

/// Most events kept in memory under [`OverflowPolicy::Warn`] (all are counted).
const MAX_KEPT_EVENTS: usize = 256;

/// Plaintext fixed-point evaluation over Z_2^64 (`Fixed<u64>`) or Z_2^128
/// (`Fixed<u128>`): exactly the encoding, wrap-around and truncation of the
/// secure run, visible.
///
/// Every product is checked before truncation against the bound under which
/// the secure truncation is exact (|a·b| < 2^(ℓ-2-2f) in value units), every
/// sum against the ring's range; a value outside is reported with the
/// operation, the program label and step, and the magnitude — an error by
/// default, or a counted warning ([`OverflowPolicy::Warn`]).
///
/// The checks use the decoded values in f64, so a value within a relative
/// 1e-12 of a bound may be judged either way.
///
/// # Examples
///
/// ```
/// use privml::{Error, Fixed, Ring};
///
/// let mut r = Fixed::<u64>::new(); // 16 fraction bits: products must stay below 2^30
/// let x = r.scalar(20.0)?;
/// let x2 = r.mul(&x, &x)?;          // 400: fine
/// let x4 = r.mul(&x2, &x2)?;        // 160,000: fine
/// r.set_label("x^8");
/// let err = r.mul(&x4, &x4).unwrap_err(); // 2.56e10 > 2^30
/// match err {
///     Error::Overflow(ev) => {
///         assert_eq!(ev.op, "mul");
///         assert_eq!(ev.label, "x^8");
///     }
///     other => panic!("{other}"),
/// }
/// # Ok::<(), privml::Error>(())
/// ```
#[derive(Debug)]
pub struct Fixed<T: RingElement> {
    fp: FixedPoint<T>,
    clear: Clear,
    policy: OverflowPolicy,
    mode: TruncationMode,
    rng: Option<AesPrg>,
    events: Vec<OverflowEvent>,
    event_count: u64,
}

impl<T: RingElement> Default for Fixed<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: RingElement> Fixed<T> {
    /// The default format for the ring (16 fraction bits in Z_2^64, 32 in Z_2^128).
    pub fn new() -> Self {
        Self::with_format(FixedPoint::default())
    }

    /// A given fixed-point format.
    pub fn with_format(fp: FixedPoint<T>) -> Self {
        Fixed {
            fp,
            clear: Clear::new(T::BYTES as u64),
            policy: OverflowPolicy::Error,
            mode: TruncationMode::Stochastic,
            rng: Some(AesPrg::new(&Seed::from_u64(0x5eed))),
            events: Vec::new(),
            event_count: 0,
        }
    }

    /// `frac_bits` fraction bits (see [`FixedPoint::new`] for the limits).
    pub fn with_frac_bits(frac_bits: u32) -> Result<Self> {
        Ok(Self::with_format(FixedPoint::new(frac_bits)?))
    }

    /// Predicts the costs of `protocol` (see [`Plain::with_protocol`](super::Plain::with_protocol)).
    pub fn with_protocol(mut self, protocol: Protocol) -> Self {
        self.clear.set_protocol(protocol);
        self
    }

    /// Sets the overflow policy.
    pub fn policy(mut self, policy: OverflowPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Sets the truncation mode; `Stochastic` draws from `rng` if given,
    /// otherwise from the fixed-seed generator every `Fixed` starts with.
    pub fn truncation(mut self, mode: TruncationMode, rng: Option<AesPrg>) -> Self {
        self.mode = mode;
        if let Some(g) = rng {
            self.rng = Some(g);
        }
        self
    }

    /// The fixed-point format.
    pub fn format(&self) -> FixedPoint<T> {
        self.fp
    }

    /// Overflow events recorded under [`OverflowPolicy::Warn`] (the first 256).
    pub fn overflows(&self) -> &[OverflowEvent] {
        &self.events
    }

    /// How many overflow events happened in all.
    pub fn overflow_count(&self) -> u64 {
        self.event_count
    }

    fn account(&mut self, op: Op, n: usize) {
        self.clear.account(op, n);
    }

    fn begin_op(&mut self) -> u64 {
        self.clear.tracker.begin_op()
    }

    /// Reports the elements of `values` whose magnitude is not below `limit`.
    fn check(
        &mut self,
        op: &'static str,
        op_index: u64,
        values: impl Iterator<Item = f64>,
        limit: f64,
    ) -> Result<()> {
        let mut count = 0usize;
        let mut magnitude = 0.0f64;
        for v in values {
            let a = v.abs();
            if a.is_nan() || a >= limit {
                count += 1;
                if a > magnitude || a.is_nan() {
                    magnitude = a;
                }
            }
        }
        if count == 0 {
            return Ok(());
        }
        let ev = OverflowEvent {
            op,
            label: self.clear.tracker.label,
            layer: self.clear.tracker.layer,
            step: self.clear.tracker.step,
            op_index,
            magnitude,
            limit,
            count,
        };
        match self.policy {
            OverflowPolicy::Error => Err(Error::Overflow(ev)),
            OverflowPolicy::Warn => {
                self.event_count += 1;
                if self.events.len() < MAX_KEPT_EVENTS {
                    self.events.push(ev);
                }
                Ok(())
            }
        }
    }

    fn dec(&self, v: T) -> f64 {
        self.fp.decode(v)
    }

    /// Truncates a double-precision product by `bits`.
    fn trunc(&mut self, p: T, bits: u32) -> T {
        let floor = p.shr_arith(bits);
        match (&mut self.rng, self.mode) {
            (Some(rng), TruncationMode::Stochastic) => {
                let mask = T::one().shl(bits).wrapping_sub(&T::one());
                let low = p.and(mask);
                let mut r = [T::zero()];
                rng.fill(&mut r);
                if r[0].and(mask) < low {
                    floor.wrapping_add(&T::one())
                } else {
                    floor
                }
            }
            _ => floor,
        }
    }

    fn encode(&self, c: &ArrayD<f64>) -> Result<ArrayD<T>> {
        self.fp.encode_array(c)
    }
}

impl<T: RingElement> Ring for Fixed<T> {
    type Tensor = ArrayD<T>;

    fn info(&self) -> DomainInfo {
        DomainInfo::Fixed {
            ring_bits: T::BITS,
            frac_bits: self.fp.frac_bits(),
        }
    }

    fn shape<'a>(&self, x: &'a ArrayD<T>) -> &'a [usize] {
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
    ) -> Result<ArrayD<T>> {
        let fp = self.fp;
        self.clear
            .input(owner, value, shape, |v| fp.encode_array(v))
    }

    fn constant(&mut self, value: &ArrayD<f64>) -> Result<ArrayD<T>> {
        self.begin_op();
        self.encode(value)
    }

    fn reveal(&mut self, x: &ArrayD<T>) -> Result<ArrayD<f64>> {
        self.clear.pass_through(Op::Reveal, x.len())?;
        Ok(self.fp.decode_array(x))
    }

    fn reveal_to(&mut self, to: PartyId, x: &ArrayD<T>) -> Result<Option<ArrayD<f64>>> {
        self.clear.pass_through(Op::RevealTo { to }, x.len())?;
        Ok(Some(self.fp.decode_array(x)))
    }

    fn reshare(&mut self, x: &ArrayD<T>) -> Result<ArrayD<T>> {
        self.clear.pass_through(Op::Reshare, x.len())?;
        Ok(x.clone())
    }

    fn add(&mut self, a: &ArrayD<T>, b: &ArrayD<T>) -> Result<ArrayD<T>> {
        let idx = self.begin_op();
        let sums = tensor::zip_broadcast("add", a, b, |x, y| self.dec(*x) + self.dec(*y))?;
        let lim = -self.fp.min_value();
        self.check("add", idx, sums.iter().copied(), lim)?;
        tensor::zip_broadcast("add", a, b, |x, y| x.wrapping_add(y))
    }

    // Overridden so that the overflow check sees the true difference (the
    // default, a + (-b), would check a wrapped -b for b = the ring's
    // minimum) and reports it as `sub`, in one operation.
    fn sub(&mut self, a: &ArrayD<T>, b: &ArrayD<T>) -> Result<ArrayD<T>> {
        let idx = self.begin_op();
        let diffs = tensor::zip_broadcast("sub", a, b, |x, y| self.dec(*x) - self.dec(*y))?;
        let lim = -self.fp.min_value();
        self.check("sub", idx, diffs.iter().copied(), lim)?;
        tensor::zip_broadcast("sub", a, b, |x, y| x.wrapping_sub(y))
    }

    fn neg(&mut self, a: &ArrayD<T>) -> Result<ArrayD<T>> {
        self.begin_op();
        Ok(a.mapv(|x| x.wrapping_neg()))
    }

    fn add_public(&mut self, a: &ArrayD<T>, c: &ArrayD<f64>) -> Result<ArrayD<T>> {
        let idx = self.begin_op();
        let ce = self.encode(c)?;
        let sums = tensor::zip_broadcast("add_public", a, c, |x, y| self.dec(*x) + y)?;
        let lim = -self.fp.min_value();
        self.check("add_public", idx, sums.iter().copied(), lim)?;
        tensor::zip_broadcast("add_public", a, &ce, |x, y| x.wrapping_add(y))
    }

    fn scale_int(&mut self, a: &ArrayD<T>, k: i64) -> Result<ArrayD<T>> {
        let idx = self.begin_op();
        let lim = -self.fp.min_value();
        let vals: Vec<f64> = a.iter().map(|x| self.dec(*x) * k as f64).collect();
        self.check("scale_int", idx, vals.into_iter(), lim)?;
        let kt = T::from_i128(k as i128);
        Ok(a.mapv(|x| x.wrapping_mul(&kt)))
    }

    fn sum_axis(&mut self, a: &ArrayD<T>, axis: usize) -> Result<ArrayD<T>> {
        let idx = self.begin_op();
        tensor::check_axis("sum_axis", a.shape(), axis)?;
        let sums = a.mapv(|x| self.dec(x)).sum_axis(Axis(axis));
        let lim = -self.fp.min_value();
        self.check("sum_axis", idx, sums.iter().copied(), lim)?;
        let r = a
            .fold_axis(Axis(axis), T::zero(), |acc, x| acc.wrapping_add(x))
            .insert_axis(Axis(axis));
        Ok(r)
    }

    fn gather(&mut self, parts: &[&ArrayD<T>], plan: &Gather) -> Result<ArrayD<T>> {
        self.begin_op();
        plan.apply(parts, T::zero())
    }

    fn nonneg_select(
        &mut self,
        x: &ArrayD<T>,
        ys: &[&ArrayD<T>],
    ) -> Result<(ArrayD<T>, Vec<ArrayD<T>>)> {
        self.begin_op();
        let bit = x.mapv(|v| !v.msb());
        let mut out = Vec::with_capacity(ys.len());
        let mut m = 0;
        for y in ys {
            out.push(tensor::zip_broadcast("nonneg_select", y, &bit, |v, b| {
                if *b { *v } else { T::zero() }
            })?);
            m += y.len();
        }
        self.account(
            Op::Compare {
                bits: T::BITS,
                selected: m,
            },
            x.len(),
        );
        let one = self.fp.encode_int(1);
        Ok((bit.mapv(|b| if b { one } else { T::zero() }), out))
    }

    fn div_pow2(&mut self, a: &ArrayD<T>, bits: u32) -> Result<ArrayD<T>> {
        let idx = self.begin_op();
        if bits + 2 >= T::BITS {
            return Err(Error::invalid(
                "bits",
                format!("cannot divide by 2^{bits} in {}", T::NAME),
            ));
        }
        // The secure truncation needs |x| < 2^(ℓ-2) in ring units.
        let lim = (2.0f64).powi((T::BITS - 2) as i32) / self.fp.scale();
        let vals: Vec<f64> = a.iter().map(|x| self.dec(*x)).collect();
        self.check("div_pow2", idx, vals.into_iter(), lim)?;
        self.account(Op::Trunc, a.len());
        Ok(a.mapv(|p| self.trunc(p, bits)))
    }

    fn mul_many(&mut self, pairs: &[(&ArrayD<T>, &ArrayD<T>)]) -> Result<Vec<ArrayD<T>>> {
        let idx = self.begin_op();
        let lim = self.fp.product_bound();
        let f = self.fp.frac_bits();
        let mut out = Vec::with_capacity(pairs.len());
        let (mut n, mut operands) = (0, 0);
        for (a, b) in pairs {
            let prods = tensor::zip_broadcast("mul", a, b, |x, y| self.dec(*x) * self.dec(*y))?;
            self.check("mul", idx, prods.iter().copied(), lim)?;
            let raw = tensor::zip_broadcast("mul", a, b, |x, y| x.wrapping_mul(y))?;
            n += raw.len();
            operands += a.len() + b.len();
            out.push(raw.mapv(|p| self.trunc(p, f)));
        }
        self.clear.account_product(Op::MulTrunc, n, operands);
        Ok(out)
    }

    fn matmul_many(&mut self, pairs: &[(&ArrayD<T>, &ArrayD<T>)]) -> Result<Vec<ArrayD<T>>> {
        let idx = self.begin_op();
        let f = self.fp.frac_bits();
        let mut out = Vec::with_capacity(pairs.len());
        let (mut outputs, mut operands) = (0, 0);
        for (a, b) in pairs {
            let (m, k, n) = tensor::matmul_dims("matmul", a.shape(), b.shape())?;
            operands += m * k + k * n;
            // Magnitude check in f64 (fast, and exact enough for a bound check).
            let (af, bf) = (a.mapv(|x| self.dec(x)), b.mapv(|x| self.dec(x)));
            let prods = tensor::as_matrix(&af)?.dot(&tensor::as_matrix(&bf)?);
            self.check(
                "matmul",
                idx,
                prods.iter().copied(),
                self.fp.product_bound(),
            )?;
            let raw = kernels::matmul(&tensor::row_major(a), &tensor::row_major(b), m, k, n);
            let t: Vec<T> = raw.into_iter().map(|p| self.trunc(p, f)).collect();
            out.push(tensor::from_vec("matmul", &[m, n], t)?);
            outputs += m * n;
        }
        self.clear.account_product(Op::Matmul, outputs, operands);
        Ok(out)
    }

    fn lincomb_public(
        &mut self,
        terms: &[&ArrayD<T>],
        coeffs: &[f64],
        coeff_frac_bits: u32,
    ) -> Result<ArrayD<T>> {
        let idx = self.begin_op();
        let first = tensor::check_lincomb(terms, coeffs, coeff_frac_bits)?;
        let enc: Vec<T> = coeffs
            .iter()
            .enumerate()
            .map(|(i, c)| crate::fixed::encode_with_bits::<T>(*c, coeff_frac_bits, i))
            .collect::<Result<_>>()?;
        let mut exact = ArrayD::<f64>::zeros(first.raw_dim());
        let mut raw = ArrayD::from_elem(first.raw_dim(), T::zero());
        for ((t, c), ce) in terms.iter().zip(coeffs).zip(&enc) {
            exact.zip_mut_with(t, |e, v| *e += c * self.fp.decode(*v));
            raw.zip_mut_with(t, |r, v| *r = r.wrapping_add(&v.wrapping_mul(ce)));
        }
        let limit =
            (2.0f64).powi(T::BITS as i32 - 2 - self.fp.frac_bits() as i32 - coeff_frac_bits as i32);
        self.check("lincomb_public", idx, exact.iter().copied(), limit)?;
        self.account(Op::Trunc, raw.len());
        Ok(raw.mapv(|p| self.trunc(p, coeff_frac_bits)))
    }
}

impl<T: RingElement> Session for Fixed<T> {
    fn announce(&mut self, from: PartyId, data: Option<&[u8]>) -> Result<Vec<u8>> {
        self.clear.announce(from, data)
    }

    fn export(&self, x: &ArrayD<T>) -> TensorData {
        TensorData::ClearRing {
            shape: x.shape().to_vec(),
            ring_bits: T::BITS,
            frac_bits: self.fp.frac_bits(),
            data: T::slice_to_le_bytes(&tensor::row_major(x)).into_owned(),
        }
    }

    fn import(&mut self, data: &TensorData) -> Result<ArrayD<T>> {
        match data {
            TensorData::ClearRing {
                shape,
                ring_bits,
                frac_bits,
                data,
            } if *ring_bits == T::BITS && *frac_bits == self.fp.frac_bits() => {
                tensor::from_vec("import", shape, decode_elements(data)?)
            }
            other => Err(Error::invalid(
                "tensor",
                format!("{} cannot load {}", self.describe(), other.kind()),
            )),
        }
    }

    fn check_agreement(&mut self, _tensors: &[&ArrayD<T>], _tag: &[u8]) -> Result<()> {
        self.clear.check_agreement()
    }
}
