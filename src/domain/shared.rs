//! `Shared`: one party of the replicated three-party computation.

use std::time::Duration;

use ndarray::{ArrayD, Axis};

use super::session::decode_elements;
use super::{DomainInfo, Gather, PartyId, Ring, Session, TensorData, Tracker};
use crate::cost::{Cost, Op, Protocol};
use crate::error::{Error, Result};
use crate::fixed::FixedPoint;
use crate::mpc::product::{extend_cross_terms, matmul_cross_terms};
use crate::mpc::{Party, Replicated};
use crate::net::emulate::{Emulated, LinkProfile};
use crate::net::{Channel, DEFAULT_TIMEOUT, Net, NetStats, memory};
use crate::ring::RingElement;
use crate::ring::prg::Seed;
use crate::tensor;

/// Settings of a secure run.
#[derive(Debug, Clone)]
pub struct SharedConfig {
    /// Fraction bits of the fixed-point format (`None`: the ring's default).
    pub frac_bits: Option<u32>,
    /// How long to wait for a peer before failing with [`Error::Timeout`].
    pub timeout: Duration,
    /// Fixed key seeds for reproducible test runs. `None` (the default) draws
    /// them from the operating system, which is what security requires.
    ///
    /// Whoever knows the number recomputes every pairwise key, so it is
    /// meant for the in-process simulation. Across processes all three
    /// parties must agree to it: `privml party` makes it a field of the job
    /// description the parties compare (one party cannot fix its keys
    /// alone) and prints a warning on every party.
    pub insecure_test_seed: Option<u64>,
    /// The protocol whose costs the plaintext domains predict when a runner
    /// builds them (a shared domain runs the protocol of its kind).
    pub protocol: Protocol,
    /// The most elements a party accepts for one private input
    /// ([`Ring::input`]): the shape of another party's input usually comes
    /// from that party's announcement, so this bounds what a peer can make
    /// this party allocate. A larger shape (or one whose element count
    /// overflows) is [`Error::ShapeTooLarge`], before anything is allocated
    /// or received. Default [`DEFAULT_MAX_INPUT_ELEMENTS`].
    pub max_input_elements: usize,
    /// An emulated network on both links ([`crate::net::emulate`]); `None`
    /// (the default) uses the links as they are.
    pub network: Option<LinkProfile>,
}

/// Default of [`SharedConfig::max_input_elements`]: 2^27 elements, the most
/// Z_2^64 elements one frame carries at the TCP transport's default frame
/// limit (1 GiB), so a larger input could not be received anyway.
pub const DEFAULT_MAX_INPUT_ELEMENTS: usize = 1 << 27;

impl Default for SharedConfig {
    fn default() -> Self {
        SharedConfig {
            frac_bits: None,
            timeout: DEFAULT_TIMEOUT,
            insecure_test_seed: None,
            protocol: Protocol::Replicated3,
            max_input_elements: DEFAULT_MAX_INPUT_ELEMENTS,
            network: None,
        }
    }
}

impl SharedConfig {
    /// Sets the fraction bits.
    pub fn frac_bits(mut self, f: u32) -> Self {
        self.frac_bits = Some(f);
        self
    }

    /// Sets the per-operation timeout.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }

    /// Fixes the key seeds (tests only: the keys become predictable).
    pub fn insecure_test_seed(mut self, s: u64) -> Self {
        self.insecure_test_seed = Some(s);
        self
    }

    /// Runs both links over an emulated network.
    pub fn network(mut self, profile: LinkProfile) -> Self {
        self.network = Some(profile);
        self
    }

    /// `link` over the emulated network of [`SharedConfig::network`], or as
    /// it is when there is none (every protocol's links go through here).
    pub(super) fn emulated(&self, link: Box<dyn Channel>) -> Box<dyn Channel> {
        match &self.network {
            Some(p) => Box::new(Emulated::new(link, p.clone())),
            None => link,
        }
    }

    /// Sets the most elements accepted for one private input.
    ///
    /// # Examples
    ///
    /// ```
    /// use privml::{Error, Ring, Shared, SharedConfig};
    ///
    /// let cfg = SharedConfig::default().max_input_elements(1000);
    /// let e = Shared::<u64>::simulate_with(&cfg, |r| r.input(0, None, &[1 << 20, 1 << 20]))
    ///     .unwrap_err();
    /// assert!(matches!(e, Error::ShapeTooLarge { max_elements: 1000, .. }));
    /// ```
    pub fn max_input_elements(mut self, n: usize) -> Self {
        self.max_input_elements = n;
        self
    }
}

/// The element count of `shape` if it is at most `max` (each dimension
/// too, so that a zero dimension cannot hide a huge one), else
/// [`Error::ShapeTooLarge`] naming the shape.
pub(super) fn checked_len(op: &'static str, shape: &[usize], max: usize) -> Result<usize> {
    let too_large = || Error::ShapeTooLarge {
        op,
        shape: shape.to_vec(),
        max_elements: max,
    };
    if shape.iter().any(|&d| d > max) {
        return Err(too_large());
    }
    shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .filter(|&n| n <= max)
        .ok_or_else(too_large)
}

/// One party of the secure computation over Z_2^64 (`Shared<u64>`) or
/// Z_2^128 (`Shared<u128>`): tensors are this party's replicated shares.
///
/// Run a generic program on three in-process parties with
/// [`Shared::simulate`], or build one party from any pair of [`Channel`]s
/// with [`Shared::new`] (that is how `privml party` runs over TCP).
///
/// # Security
///
/// Semi-honest security with an honest majority: no single party learns
/// anything about inputs or intermediate values except what the program
/// reveals (see [`crate::mpc`] for the threat model and protocols).
///
/// # Examples
///
/// ```
/// use ndarray::arr1;
/// use privml::{Ring, Shared};
///
/// // each party runs the same closure; party 0 owns x, party 1 owns y
/// let out = Shared::<u64>::simulate(|r| {
///     let x = r.input(0, Some(&arr1(&[1.5, -2.0]).into_dyn()), &[2])?;
///     let y = r.input(1, Some(&arr1(&[4.0, 0.25]).into_dyn()), &[2])?;
///     let z = r.mul(&x, &y)?;
///     r.reveal(&z)
/// })?;
/// for party in &out {
///     assert!((party[0] - 6.0).abs() < 1e-4 && (party[1] + 0.5).abs() < 1e-4);
/// }
/// # Ok::<(), privml::Error>(())
/// ```
#[derive(Debug)]
pub struct Shared<T: RingElement> {
    party: Party,
    fp: FixedPoint<T>,
    tracker: Tracker,
    max_input_elements: usize,
}

/// Which of several errors of a failed simulation to report: the first that
/// is not a consequence of another party stopping.
pub(super) fn root_cause(errors: Vec<Error>) -> Error {
    let mut iter = errors.into_iter();
    let mut first = None;
    for e in iter.by_ref() {
        let consequence = matches!(e, Error::PeerDisconnected { .. } | Error::Timeout { .. });
        if !consequence {
            return e;
        }
        if first.is_none() {
            first = Some(e);
        }
    }
    first.unwrap_or_else(|| Error::internal("Shared::simulate", "failed without an error"))
}

impl<T: RingElement> Shared<T> {
    /// Party `me` over the given links (`next` to party me+1, `prev` to party
    /// me+2). Runs the key set-up with the neighbours.
    pub fn new(
        me: PartyId,
        next: Box<dyn Channel>,
        prev: Box<dyn Channel>,
        cfg: &SharedConfig,
    ) -> Result<Self> {
        let fp = match cfg.frac_bits {
            Some(f) => FixedPoint::new(f)?,
            None => FixedPoint::default(),
        };
        let net = Net::new(me, cfg.emulated(next), cfg.emulated(prev), cfg.timeout)?;
        let seed = match cfg.insecure_test_seed {
            Some(s) => Seed::from_u64(s.wrapping_mul(3).wrapping_add(me as u64)),
            None => Seed::random()?,
        };
        let party = Party::new(net, seed)?;
        Ok(Shared {
            party,
            fp,
            tracker: Tracker::default(),
            max_input_elements: cfg.max_input_elements,
        })
    }

    /// Runs `program` on three parties in this process (one thread each,
    /// in-memory channels) and returns what each party's run returned.
    /// If any party fails, returns the root-cause error.
    pub fn simulate<O, F>(program: F) -> Result<[O; 3]>
    where
        O: Send,
        F: Fn(&mut Shared<T>) -> Result<O> + Sync,
    {
        Self::simulate_with(&SharedConfig::default(), program)
    }

    /// [`Shared::simulate`] with explicit settings.
    pub fn simulate_with<O, F>(cfg: &SharedConfig, program: F) -> Result<[O; 3]>
    where
        O: Send,
        F: Fn(&mut Shared<T>) -> Result<O> + Sync,
    {
        let links = memory::triangle();
        // Test builds: the parties join the caller's keystream audit scope.
        #[cfg(feature = "audit-keystreams")]
        let audit = crate::ring::audit::ScopeHandle::current();
        let results: Vec<Result<O>> = std::thread::scope(|s| {
            let handles: Vec<_> = links
                .into_iter()
                .enumerate()
                .map(|(me, (next, prev))| {
                    let program = &program;
                    #[cfg(feature = "audit-keystreams")]
                    let audit = audit.clone();
                    s.spawn(move || -> Result<O> {
                        #[cfg(feature = "audit-keystreams")]
                        let _audit = audit.enter();
                        let mut r = Shared::new(me, Box::new(next), Box::new(prev), cfg)?;
                        program(&mut r)
                    })
                })
                .collect();
            handles
                .into_iter()
                .enumerate()
                .map(|(me, h)| {
                    h.join().unwrap_or_else(|_| {
                        Err(Error::PeerDisconnected {
                            party: me,
                            op: "a panic in its thread".to_string(),
                        })
                    })
                })
                .collect()
        });
        let mut oks = Vec::with_capacity(3);
        let mut errs = Vec::new();
        for r in results {
            match r {
                Ok(o) => oks.push(o),
                Err(e) => errs.push(e),
            }
        }
        if !errs.is_empty() {
            return Err(root_cause(errs));
        }
        oks.try_into().map_err(|v: Vec<O>| {
            Error::internal(
                "Shared::simulate",
                format!("{} results for 3 parties", v.len()),
            )
        })
    }

    /// Like [`Shared::simulate`], also returning the merged cost of the three
    /// parties (each party's bytes and messages, the common counters).
    pub fn simulate_with_cost<O, F>(cfg: &SharedConfig, program: F) -> Result<([O; 3], Cost)>
    where
        O: Send,
        F: Fn(&mut Shared<T>) -> Result<O> + Sync,
    {
        let out = Self::simulate_with(cfg, |r| {
            let o = program(r)?;
            Ok((o, r.cost()))
        })?;
        let [(o0, c0), (o1, c1), (o2, c2)] = out;
        let cost = Cost::merge_parties(&[c0, c1, c2]);
        Ok(([o0, o1, o2], cost))
    }

    /// The fixed-point format.
    pub fn format(&self) -> FixedPoint<T> {
        self.fp
    }

    /// What this party's transport sent (after key set-up).
    pub fn net_stats(&self) -> NetStats {
        self.party.net().stats()
    }

    /// The protocol engine (for protocols beyond the `Ring` trait).
    pub fn party_mut(&mut self) -> &mut Party {
        &mut self.party
    }

    fn me(&self) -> usize {
        self.party.me()
    }

    /// Copies the transport's counters into the cost.
    fn sync(&mut self) {
        let s = self.party.net().stats();
        let me = self.me();
        let c = &mut self.tracker.cost;
        c.rounds = s.rounds;
        c.bytes_sent[me] = s.bytes_sent;
        c.messages_sent[me] = s.messages_sent;
    }

    fn encode(&self, c: &ArrayD<f64>) -> Result<ArrayD<T>> {
        self.fp.encode_array(c)
    }

    fn pair(
        &self,
        op: &'static str,
        shape: &[usize],
        a: Vec<T>,
        b: Vec<T>,
    ) -> Result<Replicated<T>> {
        Ok(Replicated {
            a: tensor::from_vec(op, shape, a)?,
            b: tensor::from_vec(op, shape, b)?,
        })
    }

    fn map2(
        &self,
        op: &'static str,
        x: &Replicated<T>,
        y: &Replicated<T>,
        f: impl Fn(&T, &T) -> T + Copy,
    ) -> Result<Replicated<T>> {
        Ok(Replicated {
            a: tensor::zip_broadcast(op, &x.a, &y.a, f)?,
            b: tensor::zip_broadcast(op, &x.b, &y.b, f)?,
        })
    }

    /// Cuts batched output shares into tensors of `shapes` (no copy when
    /// there is only one).
    fn split_outputs(
        &self,
        op: &'static str,
        shapes: Vec<Vec<usize>>,
        a: Vec<T>,
        b: Vec<T>,
    ) -> Result<Vec<Replicated<T>>> {
        if shapes.len() == 1 {
            return Ok(vec![self.pair(op, &shapes[0], a, b)?]);
        }
        let mut out = Vec::with_capacity(shapes.len());
        let mut pos = 0;
        for shape in shapes {
            let len: usize = shape.iter().product();
            out.push(self.pair(
                op,
                &shape,
                a[pos..pos + len].to_vec(),
                b[pos..pos + len].to_vec(),
            )?);
            pos += len;
        }
        Ok(out)
    }
}

impl<T: RingElement> Ring for Shared<T> {
    type Tensor = Replicated<T>;

    fn info(&self) -> DomainInfo {
        DomainInfo::Shared {
            ring_bits: T::BITS,
            frac_bits: self.fp.frac_bits(),
            party: self.me(),
        }
    }

    fn shape<'a>(&self, x: &'a Replicated<T>) -> &'a [usize] {
        x.shape()
    }

    fn tracker(&self) -> &Tracker {
        &self.tracker
    }

    fn tracker_mut(&mut self) -> &mut Tracker {
        &mut self.tracker
    }

    fn input(
        &mut self,
        owner: PartyId,
        value: Option<&ArrayD<f64>>,
        shape: &[usize],
    ) -> Result<Replicated<T>> {
        self.tracker.begin_op();
        if owner > 2 {
            return Err(Error::InvalidParty(owner));
        }
        let n = checked_len("input", shape, self.max_input_elements)?;
        let (a, b) = if self.me() == owner {
            let value = value.ok_or(Error::MissingValue {
                party: owner,
                what: "input",
            })?;
            tensor::check_same("input", value.shape(), shape)?;
            let enc = self.encode(value)?;
            self.party.input(owner, Some(&tensor::row_major(&enc)), n)?
        } else {
            self.party.input::<T>(owner, None, n)?
        };
        self.tracker.cost.count_op(Op::Input { owner }, n);
        self.sync();
        self.pair("input", shape, a, b)
    }

    fn constant(&mut self, value: &ArrayD<f64>) -> Result<Replicated<T>> {
        self.tracker.begin_op();
        let c = self.encode(value)?;
        let zero = ArrayD::from_elem(c.raw_dim(), T::zero());
        let me = self.me();
        Ok(Replicated {
            a: if me == 0 { c.clone() } else { zero.clone() },
            b: if me == 2 { c } else { zero },
        })
    }

    fn reveal(&mut self, x: &Replicated<T>) -> Result<ArrayD<f64>> {
        self.tracker.begin_op();
        let v = self
            .party
            .reveal(&tensor::row_major(&x.a), &tensor::row_major(&x.b))?;
        self.tracker.cost.count_op(Op::Reveal, x.len());
        self.sync();
        let v = tensor::from_vec("reveal", x.shape(), v)?;
        Ok(self.fp.decode_array(&v))
    }

    fn reveal_to(&mut self, to: PartyId, x: &Replicated<T>) -> Result<Option<ArrayD<f64>>> {
        self.tracker.begin_op();
        let v = self
            .party
            .reveal_to(to, &tensor::row_major(&x.a), &tensor::row_major(&x.b))?;
        self.tracker.cost.count_op(Op::RevealTo { to }, x.len());
        self.sync();
        match v {
            Some(v) => {
                let v = tensor::from_vec("reveal_to", x.shape(), v)?;
                Ok(Some(self.fp.decode_array(&v)))
            }
            None => Ok(None),
        }
    }

    fn reshare(&mut self, x: &Replicated<T>) -> Result<Replicated<T>> {
        self.tracker.begin_op();
        let (a, b) = self
            .party
            .additive_to_replicated(tensor::row_major(&x.a).into_owned(), "reshare")?;
        self.tracker.cost.count_op(Op::Reshare, x.len());
        self.sync();
        self.pair("reshare", x.shape(), a, b)
    }

    fn add(&mut self, x: &Replicated<T>, y: &Replicated<T>) -> Result<Replicated<T>> {
        self.tracker.begin_op();
        self.map2("add", x, y, |p, q| p.wrapping_add(q))
    }

    // Overridden for speed: one pass over each share instead of a negation
    // and an addition.
    fn sub(&mut self, x: &Replicated<T>, y: &Replicated<T>) -> Result<Replicated<T>> {
        self.tracker.begin_op();
        self.map2("sub", x, y, |p, q| p.wrapping_sub(q))
    }

    fn neg(&mut self, x: &Replicated<T>) -> Result<Replicated<T>> {
        self.tracker.begin_op();
        Ok(Replicated {
            a: x.a.mapv(|v| v.wrapping_neg()),
            b: x.b.mapv(|v| v.wrapping_neg()),
        })
    }

    fn add_public(&mut self, x: &Replicated<T>, c: &ArrayD<f64>) -> Result<Replicated<T>> {
        self.tracker.begin_op();
        let ce = self.encode(c)?;
        tensor::check_broadcast("add_public", x.shape(), ce.shape())?;
        let me = self.me();
        let add =
            |s: &ArrayD<T>| tensor::zip_broadcast("add_public", s, &ce, |p, q| p.wrapping_add(q));
        Ok(Replicated {
            a: if me == 0 { add(&x.a)? } else { x.a.clone() },
            b: if me == 2 { add(&x.b)? } else { x.b.clone() },
        })
    }

    fn scale_int(&mut self, x: &Replicated<T>, k: i64) -> Result<Replicated<T>> {
        self.tracker.begin_op();
        let kt = T::from_i128(k as i128);
        Ok(Replicated {
            a: x.a.mapv(|v| v.wrapping_mul(&kt)),
            b: x.b.mapv(|v| v.wrapping_mul(&kt)),
        })
    }

    fn sum_axis(&mut self, x: &Replicated<T>, axis: usize) -> Result<Replicated<T>> {
        self.tracker.begin_op();
        tensor::check_axis("sum_axis", x.shape(), axis)?;
        let f = |s: &ArrayD<T>| {
            s.fold_axis(Axis(axis), T::zero(), |acc, v| acc.wrapping_add(v))
                .insert_axis(Axis(axis))
        };
        Ok(Replicated {
            a: f(&x.a),
            b: f(&x.b),
        })
    }

    fn gather(&mut self, parts: &[&Replicated<T>], plan: &Gather) -> Result<Replicated<T>> {
        self.tracker.begin_op();
        let a: Vec<&ArrayD<T>> = parts.iter().map(|p| &p.a).collect();
        let b: Vec<&ArrayD<T>> = parts.iter().map(|p| &p.b).collect();
        Ok(Replicated {
            a: plan.apply(&a, T::zero())?,
            b: plan.apply(&b, T::zero())?,
        })
    }

    fn nonneg_select(
        &mut self,
        x: &Replicated<T>,
        ys: &[&Replicated<T>],
    ) -> Result<(Replicated<T>, Vec<Replicated<T>>)> {
        self.tracker.begin_op();
        let mut index = Vec::with_capacity(ys.len());
        let mut flat = Vec::with_capacity(ys.len());
        for y in ys {
            index.push(if y.shape() == x.shape() {
                None
            } else {
                Some(tensor::broadcast_index(
                    "nonneg_select",
                    y.shape(),
                    x.shape(),
                )?)
            });
            flat.push((tensor::row_major(&y.a), tensor::row_major(&y.b)));
        }
        let yrefs: Vec<(&[T], &[T])> = flat.iter().map(|(a, b)| (a.as_ref(), b.as_ref())).collect();
        let (xa, xb) = (tensor::row_major(&x.a), tensor::row_major(&x.b));
        let ((da, db), outs) = self.party.nonneg_select((&xa, &xb), &yrefs, &index)?;
        let m: usize = ys.iter().map(|y| y.len()).sum();
        self.tracker.cost.count_op(
            Op::Compare {
                bits: T::BITS,
                selected: m,
            },
            x.len(),
        );
        self.sync();
        let one = self.fp.encode_int(1);
        let da: Vec<T> = da.into_iter().map(|v| v.wrapping_mul(&one)).collect();
        let db: Vec<T> = db.into_iter().map(|v| v.wrapping_mul(&one)).collect();
        let d = self.pair("nonneg_select", x.shape(), da, db)?;
        let mut out = Vec::with_capacity(ys.len());
        for (y, (a, b)) in ys.iter().zip(outs) {
            out.push(self.pair("nonneg_select", y.shape(), a, b)?);
        }
        Ok((d, out))
    }

    fn div_pow2(&mut self, x: &Replicated<T>, bits: u32) -> Result<Replicated<T>> {
        self.tracker.begin_op();
        let (a, b) =
            self.party
                .trunc_additive(tensor::row_major(&x.a).into_owned(), bits, "div_pow2")?;
        self.tracker.cost.count_op(Op::Trunc, x.len());
        self.sync();
        self.pair("div_pow2", x.shape(), a, b)
    }

    fn mul_many(
        &mut self,
        pairs: &[(&Replicated<T>, &Replicated<T>)],
    ) -> Result<Vec<Replicated<T>>> {
        self.tracker.begin_op();
        let total: usize = pairs.iter().map(|(x, _)| x.len()).sum();
        let mut z = Vec::with_capacity(total);
        let mut shapes = Vec::with_capacity(pairs.len());
        for (x, y) in pairs {
            // y is broadcast to x's shape: x's element e meets y's y_at[e]
            let y_at = if x.shape() == y.shape() {
                None
            } else {
                Some(tensor::broadcast_index("mul", x.shape(), y.shape())?)
            };
            let (xa, xb) = (tensor::row_major(&x.a), tensor::row_major(&x.b));
            let (ya, yb) = (tensor::row_major(&y.a), tensor::row_major(&y.b));
            extend_cross_terms(&mut z, (&xa, &xb), (&ya, &yb), y_at.as_deref());
            shapes.push(x.shape().to_vec());
        }
        let f = self.fp.frac_bits();
        let (a, b) = self.party.trunc_additive(z, f, "mul")?;
        self.tracker.cost.count_op(Op::MulTrunc, total);
        self.sync();
        self.split_outputs("mul", shapes, a, b)
    }

    fn matmul_many(
        &mut self,
        pairs: &[(&Replicated<T>, &Replicated<T>)],
    ) -> Result<Vec<Replicated<T>>> {
        self.tracker.begin_op();
        let mut z = Vec::new();
        let mut dims = Vec::with_capacity(pairs.len());
        for (x, y) in pairs {
            let (m, k, n) = tensor::matmul_dims("matmul", x.shape(), y.shape())?;
            let (xa, xb) = (tensor::row_major(&x.a), tensor::row_major(&x.b));
            let (ya, yb) = (tensor::row_major(&y.a), tensor::row_major(&y.b));
            let part = matmul_cross_terms((&xa, &xb), (&ya, &yb), (m, k, n));
            if z.is_empty() {
                z = part;
            } else {
                z.extend(part);
            }
            dims.push((m, n));
        }
        let total = z.len();
        let f = self.fp.frac_bits();
        let (a, b) = self.party.trunc_additive(z, f, "matmul")?;
        self.tracker.cost.count_op(Op::Matmul, total);
        self.sync();
        let shapes = dims.into_iter().map(|(m, n)| vec![m, n]).collect();
        self.split_outputs("matmul", shapes, a, b)
    }

    fn lincomb_public(
        &mut self,
        terms: &[&Replicated<T>],
        coeffs: &[f64],
        coeff_frac_bits: u32,
    ) -> Result<Replicated<T>> {
        self.tracker.begin_op();
        let firsts: Vec<&ArrayD<T>> = terms.iter().map(|t| &t.a).collect();
        let first = tensor::check_lincomb(&firsts, coeffs, coeff_frac_bits)?;
        let shape = first.shape().to_vec();
        // Σ c_k·t_k on the first shares: a local product with public
        // constants, written straight into the buffer the truncation takes.
        let mut z: Vec<T> = Vec::new();
        for (i, (t, c)) in firsts.iter().zip(coeffs).enumerate() {
            let ce = crate::fixed::encode_with_bits::<T>(*c, coeff_frac_bits, i)?;
            let t = tensor::row_major(t);
            if i == 0 {
                z = t.iter().map(|v| v.wrapping_mul(&ce)).collect();
            } else {
                for (r, v) in z.iter_mut().zip(t.iter()) {
                    *r = r.wrapping_add(&v.wrapping_mul(&ce));
                }
            }
        }
        let n = z.len();
        let (a, b) = self
            .party
            .trunc_additive(z, coeff_frac_bits, "lincomb_public")?;
        self.tracker.cost.count_op(Op::Trunc, n);
        self.sync();
        self.pair("lincomb_public", &shape, a, b)
    }
}

impl<T: RingElement> Session for Shared<T> {
    fn export(&self, x: &Replicated<T>) -> TensorData {
        TensorData::Shares {
            shape: x.shape().to_vec(),
            ring_bits: T::BITS,
            frac_bits: self.fp.frac_bits(),
            party: self.me() as u8,
            a: T::slice_to_le_bytes(&tensor::row_major(&x.a)).into_owned(),
            b: T::slice_to_le_bytes(&tensor::row_major(&x.b)).into_owned(),
        }
    }

    fn import(&mut self, data: &TensorData) -> Result<Replicated<T>> {
        match data {
            TensorData::Shares {
                shape,
                ring_bits,
                frac_bits,
                party,
                a,
                b,
            } if *ring_bits == T::BITS
                && *frac_bits == self.fp.frac_bits()
                && *party as usize == self.me() =>
            {
                self.pair("import", shape, decode_elements(a)?, decode_elements(b)?)
            }
            other => Err(Error::invalid(
                "tensor",
                format!("{} cannot load {}", self.describe(), other.kind()),
            )),
        }
    }

    fn check_agreement(&mut self, tensors: &[&Replicated<T>], tag: &[u8]) -> Result<()> {
        use sha2::{Digest, Sha256};
        self.tracker.begin_op();
        let digest = |pick: &dyn Fn(&Replicated<T>) -> &ArrayD<T>| {
            let mut h = Sha256::new();
            h.update(tag);
            for t in tensors {
                h.update(T::slice_to_le_bytes(&tensor::row_major(pick(t))));
            }
            h.finalize().to_vec()
        };
        let (mine_a, mine_b) = (digest(&|t| &t.a), digest(&|t| &t.b));
        self.party.check_agreement(mine_a, mine_b)?;
        self.tracker.cost.count_op(Op::Agreement, 0);
        self.sync();
        Ok(())
    }

    fn announce(&mut self, from: PartyId, data: Option<&[u8]>) -> Result<Vec<u8>> {
        self.tracker.begin_op();
        let out = self.party.announce(from, data)?;
        self.tracker.cost.count_op(Op::Announce { from }, out.len());
        self.sync();
        Ok(out)
    }
}
