//! `Additive`: one participant of the two-party computation with a dealer
//! ([`crate::mpc2`]).

use std::borrow::Cow;
use std::path::Path;

use ndarray::{ArrayD, Axis};

use super::session::decode_elements;
use super::shared::{checked_len, root_cause};
use super::{DomainInfo, Gather, PartyId, Ring, Session, SharedConfig, TensorData, Tracker};
use crate::cost::{Cost, Op, Protocol};
use crate::error::{Error, Result};
use crate::fixed::FixedPoint;
use crate::mpc2::beaver::{ElemShape, MatShape};
use crate::mpc2::prep::{PrepReader, PrepWriter, ProgramDigest, PublicDescription, file_name};
use crate::mpc2::{DEALER, Participant, Role};
use crate::net::{Channel, ChannelError, Frame, Net, memory};
use crate::ring::RingElement;
use crate::tensor;

/// A tensor of the two-party domain: a computing party's additive share,
/// or, on the dealer, only the shape (the dealer holds no data of any
/// tensor). `Debug` prints the shape only.
#[derive(Clone)]
pub struct AdditiveShare<T> {
    repr: Repr<T>,
}

#[derive(Clone)]
enum Repr<T> {
    Share(ArrayD<T>),
    Shape(Vec<usize>),
}

impl<T> std::fmt::Debug for AdditiveShare<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AdditiveShare({:?}, <redacted>)", self.shape())
    }
}

impl<T> AdditiveShare<T> {
    /// The tensor's shape.
    pub fn shape(&self) -> &[usize] {
        match &self.repr {
            Repr::Share(a) => a.shape(),
            Repr::Shape(s) => s,
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.shape().iter().product()
    }

    /// Whether the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// This party's share (`None` on the dealer).
    pub fn share(&self) -> Option<&ArrayD<T>> {
        match &self.repr {
            Repr::Share(a) => Some(a),
            Repr::Shape(_) => None,
        }
    }

    fn shape_only(shape: &[usize]) -> Self {
        AdditiveShare {
            repr: Repr::Shape(shape.to_vec()),
        }
    }
}

impl<T: Clone> AdditiveShare<T> {
    /// The share's elements in row-major order (empty on the dealer).
    fn flat(&self) -> Cow<'_, [T]> {
        match &self.repr {
            Repr::Share(a) => tensor::row_major(a),
            Repr::Shape(_) => Cow::Borrowed(&[]),
        }
    }
}

/// When an in-process run starts the dealer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DealerSchedule {
    /// With the parties, streaming its material as they go (as a live
    /// dealer process does).
    #[default]
    Concurrent,
    /// To completion before the parties start, so that their run is the
    /// online phase alone (the material waits in memory). Only for programs
    /// without announcements: the dealer would wait for them (ahead-of-time
    /// material for programs that announce is written to files for a
    /// public description: [`Additive::deal_to_files_for`]).
    Ahead,
}

/// A link that is not there: the dealer's side when its material comes
/// from a file, or a file-writing dealer's links. Any use is a disconnect.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoLink;

impl Channel for NoLink {
    fn send(&mut self, _frame: Frame) -> std::result::Result<(), ChannelError> {
        Err(ChannelError::Disconnected)
    }
    fn recv(&mut self, _timeout: std::time::Duration) -> std::result::Result<Frame, ChannelError> {
        Err(ChannelError::Disconnected)
    }
}

/// One participant of the two-party computation over Z_2^64
/// (`Additive<u64>`) or Z_2^128: computing party 0 or 1, whose tensors are
/// additive shares, or the dealer, which runs the same program on shapes
/// alone and supplies the correlated randomness (see [`crate::mpc2`] for
/// the protocol and the threat model).
///
/// Run a generic program with two in-process parties and a dealer with
/// [`Additive::simulate`]; build one participant from links with
/// [`Additive::new`], or a computing party that reads a preprocessing file
/// with [`Additive::from_file`].
///
/// The dealer plays party id 2: [`Ring::owns`] is false for every input
/// owner, revealed values are zeros on it (it receives nothing), and a
/// program whose sequence of operations depends on revealed values cannot
/// run with a dealer (the parties then stop with an out-of-step error).
///
/// # Examples
///
/// ```
/// use ndarray::arr1;
/// use privml::{Additive, Ring};
///
/// // alice (party 0) owns x, bob (party 1) owns y
/// let out = Additive::<u64>::simulate(|r| {
///     let x = r.input(0, r.owns(0).then(|| arr1(&[1.5, -2.0]).into_dyn()).as_ref(), &[2])?;
///     let y = r.input(1, r.owns(1).then(|| arr1(&[4.0, 0.25]).into_dyn()).as_ref(), &[2])?;
///     let z = r.mul(&x, &y)?;
///     r.reveal(&z)
/// })?;
/// for party in &out {
///     assert!((party[0] - 6.0).abs() < 1e-4 && (party[1] + 0.5).abs() < 1e-4);
/// }
/// # Ok::<(), privml::Error>(())
/// ```
#[derive(Debug)]
pub struct Additive<T: RingElement> {
    part: Participant,
    fp: FixedPoint<T>,
    tracker: Tracker,
    /// [`SharedConfig::max_input_elements`].
    max_input_elements: usize,
}

/// A participant thread's result; a panic is reported as its disconnect.
fn joined<O>(h: std::thread::ScopedJoinHandle<'_, Result<O>>, me: PartyId) -> Result<O> {
    h.join().unwrap_or_else(|_| {
        Err(Error::PeerDisconnected {
            party: me,
            op: "a panic in its thread".to_string(),
        })
    })
}

fn format_of<T: RingElement>(cfg: &SharedConfig) -> Result<FixedPoint<T>> {
    match cfg.frac_bits {
        Some(f) => FixedPoint::new(f),
        None => Ok(FixedPoint::default()),
    }
}

impl<T: RingElement> Additive<T> {
    /// Participant `me` (0, 1, or 2 for the dealer) over links to the
    /// others (`next` to me + 1, `prev` to me + 2, mod 3), with a live
    /// dealer. Runs the key set-up.
    pub fn new(
        me: PartyId,
        next: Box<dyn Channel>,
        prev: Box<dyn Channel>,
        cfg: &SharedConfig,
    ) -> Result<Self> {
        let fp = format_of(cfg)?;
        let net = Net::new(me, cfg.emulated(next), cfg.emulated(prev), cfg.timeout)?;
        let part = Participant::live(net, cfg.insecure_test_seed)?;
        Ok(Self::with_participant(part, fp, cfg))
    }

    /// Computing party `me` whose dealer material is `file` (no dealer
    /// link): `peer` is the link to the other party.
    pub fn from_file(
        me: PartyId,
        peer: Box<dyn Channel>,
        file: PrepReader,
        cfg: &SharedConfig,
    ) -> Result<Self> {
        let fp = format_of(cfg)?;
        let (next, prev): (Box<dyn Channel>, Box<dyn Channel>) = match me {
            0 => (cfg.emulated(peer), Box::new(NoLink)),
            1 => (Box::new(NoLink), cfg.emulated(peer)),
            other => {
                return Err(Protocol::Additive2
                    .check_party(other)
                    .err()
                    .unwrap_or(Error::InvalidParty(other)));
            }
        };
        let net = Net::new(me, next, prev, cfg.timeout)?;
        let part = Participant::from_file(net, file, cfg.insecure_test_seed)?;
        Ok(Self::with_participant(part, fp, cfg))
    }

    /// The dealer writing preprocessing files with `writer` instead of
    /// sending (no links at all). Run the program on it, then
    /// [`finish`](Self::finish).
    pub fn dealer_to_files(writer: PrepWriter, cfg: &SharedConfig) -> Result<Self> {
        let fp = format_of(cfg)?;
        let net = Net::new(DEALER, Box::new(NoLink), Box::new(NoLink), cfg.timeout)?;
        let part = Participant::writing(net, writer)?;
        Ok(Self::with_participant(part, fp, cfg))
    }

    fn with_participant(part: Participant, fp: FixedPoint<T>, cfg: &SharedConfig) -> Self {
        let mut tracker = Tracker::default();
        tracker.cost.protocol = Protocol::Additive2;
        Additive {
            part,
            fp,
            tracker,
            max_input_elements: cfg.max_input_elements,
        }
    }

    /// Writes the files of a file-writing dealer (a no-op otherwise).
    pub fn finish(self) -> Result<()> {
        self.part.finish()
    }

    /// Runs `program` on two computing parties and a dealer in this process
    /// (one thread each, in-memory links) and returns the two parties'
    /// results. If any participant fails, returns the root-cause error.
    pub fn simulate<O, F>(program: F) -> Result<[O; 2]>
    where
        O: Send,
        F: Fn(&mut Additive<T>) -> Result<O> + Sync,
    {
        Self::simulate_with(
            &SharedConfig::default(),
            DealerSchedule::Concurrent,
            program,
        )
    }

    /// [`Additive::simulate`] with explicit settings and dealer schedule.
    pub fn simulate_with<O, F>(
        cfg: &SharedConfig,
        schedule: DealerSchedule,
        program: F,
    ) -> Result<[O; 2]>
    where
        O: Send,
        F: Fn(&mut Additive<T>) -> Result<O> + Sync,
    {
        let [l0, l1, l2] = memory::triangle();
        let run = |me: PartyId, (next, prev): (memory::MemoryChannel, memory::MemoryChannel)| {
            let program = &program;
            move || -> Result<O> {
                let mut r = Additive::new(me, Box::new(next), Box::new(prev), cfg)?;
                program(&mut r)
            }
        };
        let (r0, r1, rd) = std::thread::scope(|s| match schedule {
            DealerSchedule::Concurrent => {
                let d = s.spawn(run(DEALER, l2));
                let h0 = s.spawn(run(0, l0));
                let h1 = s.spawn(run(1, l1));
                (joined(h0, 0), joined(h1, 1), joined(d, DEALER))
            }
            DealerSchedule::Ahead => {
                let rd = joined(s.spawn(run(DEALER, l2)), DEALER);
                let h0 = s.spawn(run(0, l0));
                let h1 = s.spawn(run(1, l1));
                (joined(h0, 0), joined(h1, 1), rd)
            }
        });
        match (r0, r1, rd) {
            (Ok(o0), Ok(o1), Ok(_)) => Ok([o0, o1]),
            (a, b, c) => Err(root_cause(
                [a.err(), b.err(), c.err()].into_iter().flatten().collect(),
            )),
        }
    }

    /// Like [`Additive::simulate_with`], also returning the merged cost:
    /// each computing party's bytes and messages, the rounds, and the
    /// dealer's material as party 1 received it.
    pub fn simulate_with_cost<O, F>(
        cfg: &SharedConfig,
        schedule: DealerSchedule,
        program: F,
    ) -> Result<([O; 2], Cost)>
    where
        O: Send,
        F: Fn(&mut Additive<T>) -> Result<O> + Sync,
    {
        let [(o0, c0), (o1, c1)] = Self::simulate_with(cfg, schedule, |r| {
            let o = program(r)?;
            Ok((o, r.cost()))
        })?;
        let mut dealer = c1.clone();
        dealer.bytes_sent = [0; 3];
        dealer.messages_sent = [0; 3];
        let cost = Cost::merge_parties(&[c0, c1, dealer]);
        Ok(([o0, o1], cost))
    }

    /// Runs `program` as the dealer alone, writing both parties'
    /// preprocessing files for it into `dir` (see [`crate::mpc2::prep`]);
    /// `digest` names the program (the parties must present the same).
    /// Returns the dealer's cost (the material in `offline_bytes`).
    ///
    /// # Examples
    ///
    /// ```
    /// use privml::{Additive, Ring, SharedConfig};
    /// use privml::mpc2::prep::program_digest;
    ///
    /// let prog = |r: &mut Additive<u64>| {
    ///     let x = r.input(0, r.owns(0).then(|| ndarray::arr1(&[1.5, -2.0]).into_dyn()).as_ref(), &[2])?;
    ///     let y = r.mul(&x, &x)?;
    ///     r.reveal(&y)
    /// };
    /// let dir = std::env::temp_dir().join(format!("privml-doc-prep-{}", std::process::id()));
    /// let digest = program_digest("square two values");
    /// let cfg = SharedConfig::default();
    /// let dealt = Additive::<u64>::deal_to_files(&dir, &digest, &cfg, prog)?;
    /// assert_eq!(dealt.offline_bytes, [0, 3 * 2 * 8]);
    /// let [a, b] = Additive::<u64>::simulate_from_files(&dir, &digest, &cfg, prog)?;
    /// assert!((a[0] - 2.25).abs() < 1e-4 && a == b);
    /// // the files are spent
    /// assert!(Additive::<u64>::simulate_from_files(&dir, &digest, &cfg, prog).is_err());
    /// # std::fs::remove_dir_all(&dir).ok();
    /// # Ok::<(), privml::Error>(())
    /// ```
    pub fn deal_to_files<O, F>(
        dir: &Path,
        digest: &ProgramDigest,
        cfg: &SharedConfig,
        program: F,
    ) -> Result<Cost>
    where
        F: Fn(&mut Additive<T>) -> Result<O>,
    {
        Self::deal_to_files_for(dir, digest, &PublicDescription::default(), cfg, program)
    }

    /// [`Additive::deal_to_files`] for a program that announces public
    /// values at run time (`train`, `predict`): `announced` holds them,
    /// written before the run by the party that announces (for example
    /// [`TrainJob::public_description`](crate::learn::TrainJob::public_description)).
    /// The files carry them, and the parties reading the files check their
    /// announcements against them.
    pub fn deal_to_files_for<O, F>(
        dir: &Path,
        digest: &ProgramDigest,
        announced: &PublicDescription,
        cfg: &SharedConfig,
        program: F,
    ) -> Result<Cost>
    where
        F: Fn(&mut Additive<T>) -> Result<O>,
    {
        let writer = PrepWriter::create(dir, digest, announced, cfg.insecure_test_seed)?;
        let mut r = Additive::dealer_to_files(writer, cfg)?;
        program(&mut r)?;
        let cost = r.cost();
        r.finish()?;
        Ok(cost)
    }

    /// Runs `program` on the two computing parties in this process, their
    /// dealer material read from `party0.prep` and `party1.prep` in `dir`
    /// (dealt for the program named `digest`); returns both results.
    pub fn simulate_from_files<O, F>(
        dir: &Path,
        digest: &ProgramDigest,
        cfg: &SharedConfig,
        program: F,
    ) -> Result<[O; 2]>
    where
        O: Send,
        F: Fn(&mut Additive<T>) -> Result<O> + Sync,
    {
        let (c0, c1) = memory::pair();
        let files = [dir.join(file_name(0)), dir.join(file_name(1))];
        let results: Vec<Result<O>> = std::thread::scope(|s| {
            let handles: Vec<_> = [c0, c1]
                .into_iter()
                .zip(&files)
                .enumerate()
                .map(|(me, (link, path))| {
                    let program = &program;
                    s.spawn(move || -> Result<O> {
                        let file = PrepReader::open(path, digest)?;
                        let mut r = Additive::from_file(me, Box::new(link), file, cfg)?;
                        program(&mut r)
                    })
                })
                .collect();
            handles
                .into_iter()
                .enumerate()
                .map(|(me, h)| joined(h, me))
                .collect()
        });
        let [r0, r1]: [Result<O>; 2] = results
            .try_into()
            .map_err(|_| Error::internal("simulate_from_files", "not two results"))?;
        match (r0, r1) {
            (Ok(a), Ok(b)) => Ok([a, b]),
            (a, b) => Err(root_cause(
                [a.err(), b.err()].into_iter().flatten().collect(),
            )),
        }
    }

    /// The fixed-point format.
    pub fn format(&self) -> FixedPoint<T> {
        self.fp
    }

    /// The protocol engine (for protocols beyond the `Ring` trait).
    pub fn participant_mut(&mut self) -> &mut Participant {
        &mut self.part
    }

    /// Whether this participant is the dealer.
    pub fn is_dealer(&self) -> bool {
        self.part.role() == Role::Dealer
    }

    /// Copies the transport's and the material counters into the cost.
    fn sync(&mut self) {
        let s = self.part.net().stats();
        let role = self.part.role();
        let (bytes, messages) = self.part.offline();
        let c = &mut self.tracker.cost;
        c.rounds = s.rounds;
        if let Role::Compute(me) = role {
            c.bytes_sent[me] = s.bytes_sent;
            c.messages_sent[me] = s.messages_sent;
        }
        c.offline_bytes[1] = bytes;
        c.offline_messages[1] = messages;
    }

    fn count(&mut self, op: Op, n: usize) {
        self.tracker.cost.count_op(op, n);
        self.sync();
    }

    /// A result of `shape` from this participant's flat output (ignored on
    /// the dealer, which keeps the shape).
    fn wrap(&self, op: &'static str, shape: &[usize], v: Vec<T>) -> Result<AdditiveShare<T>> {
        if self.is_dealer() {
            return Ok(AdditiveShare::shape_only(shape));
        }
        Ok(AdditiveShare {
            repr: Repr::Share(tensor::from_vec(op, shape, v)?),
        })
    }

    /// Cuts concatenated outputs into tensors of `shapes`.
    fn split(
        &self,
        op: &'static str,
        shapes: &[Vec<usize>],
        mut v: Vec<T>,
    ) -> Result<Vec<AdditiveShare<T>>> {
        if shapes.len() == 1 {
            return Ok(vec![self.wrap(op, &shapes[0], v)?]);
        }
        let mut out = Vec::with_capacity(shapes.len());
        for shape in shapes.iter().rev() {
            let len: usize = shape.iter().product();
            let tail = if self.is_dealer() {
                Vec::new()
            } else {
                v.split_off(v.len().saturating_sub(len))
            };
            out.push(self.wrap(op, shape, tail)?);
        }
        out.reverse();
        Ok(out)
    }

    /// An elementwise local operation on two tensors (y broadcast to x).
    fn local2(
        &self,
        op: &'static str,
        x: &AdditiveShare<T>,
        y: &AdditiveShare<T>,
        f: impl Fn(&T, &T) -> T,
    ) -> Result<AdditiveShare<T>> {
        match (&x.repr, &y.repr) {
            (Repr::Share(a), Repr::Share(b)) => Ok(AdditiveShare {
                repr: Repr::Share(tensor::zip_broadcast(op, a, b, f)?),
            }),
            _ => {
                tensor::check_broadcast(op, x.shape(), y.shape())?;
                Ok(AdditiveShare::shape_only(x.shape()))
            }
        }
    }

    /// An elementwise local map.
    fn local1(&self, x: &AdditiveShare<T>, f: impl Fn(T) -> T) -> AdditiveShare<T> {
        match &x.repr {
            Repr::Share(a) => AdditiveShare {
                repr: Repr::Share(a.mapv(f)),
            },
            Repr::Shape(s) => AdditiveShare::shape_only(s),
        }
    }

    /// For each y, where its elements meet x (y's shape gets x broadcast
    /// to it), as the protocol's product shapes.
    fn select_shapes(&self, x: &[usize], ys: &[&AdditiveShare<T>]) -> Result<Vec<ElemShape>> {
        ys.iter()
            .map(|y| {
                Ok(ElemShape {
                    n: y.len(),
                    m: x.iter().product(),
                    y_at: if y.shape() == x {
                        None
                    } else {
                        Some(tensor::broadcast_index("nonneg_select", y.shape(), x)?)
                    },
                })
            })
            .collect()
    }
}

impl<T: RingElement> Ring for Additive<T> {
    type Tensor = AdditiveShare<T>;

    fn info(&self) -> DomainInfo {
        DomainInfo::Additive {
            ring_bits: T::BITS,
            frac_bits: self.fp.frac_bits(),
            party: self.part.role().id(),
        }
    }

    fn shape<'a>(&self, x: &'a AdditiveShare<T>) -> &'a [usize] {
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
    ) -> Result<AdditiveShare<T>> {
        self.tracker.begin_op();
        Protocol::Additive2.check_party(owner)?;
        let n = checked_len("input", shape, self.max_input_elements)?;
        let enc = if self.part.role() == Role::Compute(owner) {
            let value = value.ok_or(Error::MissingValue {
                party: owner,
                what: "input",
            })?;
            tensor::check_same("input", value.shape(), shape)?;
            Some(self.fp.encode_array(value)?)
        } else {
            None
        };
        let flat = enc.as_ref().map(tensor::row_major);
        let v = self.part.input(owner, flat.as_deref(), n)?;
        self.count(Op::Input { owner }, n);
        self.wrap("input", shape, v)
    }

    fn constant(&mut self, value: &ArrayD<f64>) -> Result<AdditiveShare<T>> {
        self.tracker.begin_op();
        let c = self.fp.encode_array(value)?;
        Ok(match self.part.role() {
            Role::Compute(0) => AdditiveShare {
                repr: Repr::Share(c),
            },
            Role::Compute(_) => AdditiveShare {
                repr: Repr::Share(ArrayD::from_elem(c.raw_dim(), T::zero())),
            },
            Role::Dealer => AdditiveShare::shape_only(c.shape()),
        })
    }

    fn reveal(&mut self, x: &AdditiveShare<T>) -> Result<ArrayD<f64>> {
        self.tracker.begin_op();
        let v = self.part.reveal(&x.flat())?;
        self.count(Op::Reveal, x.len());
        match v {
            Some(v) => Ok(self
                .fp
                .decode_array(&tensor::from_vec("reveal", x.shape(), v)?)),
            None => Ok(ArrayD::zeros(x.shape())),
        }
    }

    fn reveal_to(&mut self, to: PartyId, x: &AdditiveShare<T>) -> Result<Option<ArrayD<f64>>> {
        self.tracker.begin_op();
        let v = self.part.reveal_to(to, &x.flat())?;
        self.count(Op::RevealTo { to }, x.len());
        match v {
            Some(v) => Ok(Some(self.fp.decode_array(&tensor::from_vec(
                "reveal_to",
                x.shape(),
                v,
            )?))),
            None => Ok(None),
        }
    }

    fn reshare(&mut self, x: &AdditiveShare<T>) -> Result<AdditiveShare<T>> {
        self.tracker.begin_op();
        let v = self.part.reshare(x.flat().into_owned())?;
        self.count(Op::Reshare, x.len());
        self.wrap("reshare", x.shape(), v)
    }

    fn add(&mut self, x: &AdditiveShare<T>, y: &AdditiveShare<T>) -> Result<AdditiveShare<T>> {
        self.tracker.begin_op();
        self.local2("add", x, y, |p, q| p.wrapping_add(q))
    }

    // One pass instead of a negation and an addition.
    fn sub(&mut self, x: &AdditiveShare<T>, y: &AdditiveShare<T>) -> Result<AdditiveShare<T>> {
        self.tracker.begin_op();
        self.local2("sub", x, y, |p, q| p.wrapping_sub(q))
    }

    fn neg(&mut self, x: &AdditiveShare<T>) -> Result<AdditiveShare<T>> {
        self.tracker.begin_op();
        Ok(self.local1(x, |v| v.wrapping_neg()))
    }

    fn add_public(&mut self, x: &AdditiveShare<T>, c: &ArrayD<f64>) -> Result<AdditiveShare<T>> {
        self.tracker.begin_op();
        let ce = self.fp.encode_array(c)?;
        tensor::check_broadcast("add_public", x.shape(), ce.shape())?;
        match (&x.repr, self.part.role()) {
            (Repr::Share(a), Role::Compute(0)) => Ok(AdditiveShare {
                repr: Repr::Share(tensor::zip_broadcast("add_public", a, &ce, |p, q| {
                    p.wrapping_add(q)
                })?),
            }),
            _ => Ok(x.clone()),
        }
    }

    fn scale_int(&mut self, x: &AdditiveShare<T>, k: i64) -> Result<AdditiveShare<T>> {
        self.tracker.begin_op();
        let kt = T::from_i128(k as i128);
        Ok(self.local1(x, |v| v.wrapping_mul(&kt)))
    }

    fn sum_axis(&mut self, x: &AdditiveShare<T>, axis: usize) -> Result<AdditiveShare<T>> {
        self.tracker.begin_op();
        tensor::check_axis("sum_axis", x.shape(), axis)?;
        Ok(match &x.repr {
            Repr::Share(a) => AdditiveShare {
                repr: Repr::Share(
                    a.fold_axis(Axis(axis), T::zero(), |acc, v| acc.wrapping_add(v))
                        .insert_axis(Axis(axis)),
                ),
            },
            Repr::Shape(s) => AdditiveShare::shape_only(&tensor::reduced_shape(s, axis)),
        })
    }

    fn gather(&mut self, parts: &[&AdditiveShare<T>], plan: &Gather) -> Result<AdditiveShare<T>> {
        self.tracker.begin_op();
        if self.is_dealer() {
            plan.check_sources(parts.iter().map(|p| p.shape()))?;
            return Ok(AdditiveShare::shape_only(plan.shape()));
        }
        let shares = parts
            .iter()
            .map(|p| {
                p.share()
                    .ok_or_else(|| Error::internal("Additive::gather", "a party holds no share"))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(AdditiveShare {
            repr: Repr::Share(plan.apply(&shares, T::zero())?),
        })
    }

    fn nonneg_select(
        &mut self,
        x: &AdditiveShare<T>,
        ys: &[&AdditiveShare<T>],
    ) -> Result<(AdditiveShare<T>, Vec<AdditiveShare<T>>)> {
        self.tracker.begin_op();
        let shapes = self.select_shapes(x.shape(), ys)?;
        let flats: Vec<Cow<'_, [T]>> = ys.iter().map(|y| y.flat()).collect();
        let yrefs: Vec<&[T]> = flats.iter().map(|f| f.as_ref()).collect();
        let (d, outs) = self
            .part
            .nonneg_select(x.len(), &x.flat(), &shapes, &yrefs, "compare")?;
        let m: usize = ys.iter().map(|y| y.len()).sum();
        self.count(
            Op::Compare {
                bits: T::BITS,
                selected: m,
            },
            x.len(),
        );
        let one = self.fp.encode_int(1);
        let d: Vec<T> = d.into_iter().map(|v| v.wrapping_mul(&one)).collect();
        let d = self.wrap("nonneg_select", x.shape(), d)?;
        let out_shapes: Vec<Vec<usize>> = ys.iter().map(|y| y.shape().to_vec()).collect();
        let outs = if ys.is_empty() {
            Vec::new()
        } else {
            self.split("nonneg_select", &out_shapes, outs)?
        };
        Ok((d, outs))
    }

    fn div_pow2(&mut self, x: &AdditiveShare<T>, bits: u32) -> Result<AdditiveShare<T>> {
        self.tracker.begin_op();
        let v = self
            .part
            .trunc(x.flat().into_owned(), x.len(), bits, "div_pow2")?;
        self.count(Op::Trunc, x.len());
        self.wrap("div_pow2", x.shape(), v)
    }

    fn mul_many(
        &mut self,
        pairs: &[(&AdditiveShare<T>, &AdditiveShare<T>)],
    ) -> Result<Vec<AdditiveShare<T>>> {
        self.tracker.begin_op();
        let mut shapes = Vec::with_capacity(pairs.len());
        let mut out_shapes = Vec::with_capacity(pairs.len());
        for (x, y) in pairs {
            shapes.push(ElemShape {
                n: x.len(),
                m: y.len(),
                y_at: if x.shape() == y.shape() {
                    None
                } else {
                    Some(tensor::broadcast_index("mul", x.shape(), y.shape())?)
                },
            });
            out_shapes.push(x.shape().to_vec());
        }
        let xf: Vec<Cow<'_, [T]>> = pairs.iter().map(|(x, _)| x.flat()).collect();
        let yf: Vec<Cow<'_, [T]>> = pairs.iter().map(|(_, y)| y.flat()).collect();
        let xs: Vec<&[T]> = xf.iter().map(|c| c.as_ref()).collect();
        let ys: Vec<&[T]> = yf.iter().map(|c| c.as_ref()).collect();
        let f = self.fp.frac_bits();
        let z = self.part.mul_trunc(&shapes, &xs, &ys, f, "mul")?;
        let total = shapes.iter().map(|s| s.n).sum();
        self.count(Op::MulTrunc, total);
        self.split("mul", &out_shapes, z)
    }

    fn matmul_many(
        &mut self,
        pairs: &[(&AdditiveShare<T>, &AdditiveShare<T>)],
    ) -> Result<Vec<AdditiveShare<T>>> {
        self.tracker.begin_op();
        let mut shapes: Vec<MatShape> = Vec::with_capacity(pairs.len());
        for (x, y) in pairs {
            shapes.push(tensor::matmul_dims("matmul", x.shape(), y.shape())?);
        }
        let xf: Vec<Cow<'_, [T]>> = pairs.iter().map(|(x, _)| x.flat()).collect();
        let yf: Vec<Cow<'_, [T]>> = pairs.iter().map(|(_, y)| y.flat()).collect();
        let xs: Vec<&[T]> = xf.iter().map(|c| c.as_ref()).collect();
        let ys: Vec<&[T]> = yf.iter().map(|c| c.as_ref()).collect();
        let f = self.fp.frac_bits();
        let z = self.part.matmul_trunc(&shapes, &xs, &ys, f, "matmul")?;
        let outputs = shapes.iter().map(|&(m, _, n)| m * n).sum();
        self.count(Op::Matmul, outputs);
        let out_shapes: Vec<Vec<usize>> = shapes.iter().map(|&(m, _, n)| vec![m, n]).collect();
        self.split("matmul", &out_shapes, z)
    }

    fn lincomb_public(
        &mut self,
        terms: &[&AdditiveShare<T>],
        coeffs: &[f64],
        coeff_frac_bits: u32,
    ) -> Result<AdditiveShare<T>> {
        self.tracker.begin_op();
        let shapes: Vec<&[usize]> = terms.iter().map(|t| t.shape()).collect();
        tensor::check_lincomb_shapes(&shapes, coeffs, coeff_frac_bits)?;
        let shape = shapes[0].to_vec();
        let n: usize = shape.iter().product();
        let mut z: Vec<T> = if self.is_dealer() {
            Vec::new()
        } else {
            vec![T::zero(); n]
        };
        for (i, (t, c)) in terms.iter().zip(coeffs).enumerate() {
            let ce = crate::fixed::encode_with_bits::<T>(*c, coeff_frac_bits, i)?;
            for (r, v) in z.iter_mut().zip(t.flat().iter()) {
                *r = r.wrapping_add(&v.wrapping_mul(&ce));
            }
        }
        let v = self.part.trunc(z, n, coeff_frac_bits, "lincomb_public")?;
        self.count(Op::Trunc, n);
        self.wrap("lincomb_public", &shape, v)
    }
}

impl<T: RingElement> Session for Additive<T> {
    fn export(&self, x: &AdditiveShare<T>) -> TensorData {
        TensorData::AdditiveShare {
            shape: x.shape().to_vec(),
            ring_bits: T::BITS,
            frac_bits: self.fp.frac_bits(),
            party: self.part.role().id() as u8,
            data: T::slice_to_le_bytes(&x.flat()).into_owned(),
        }
    }

    fn import(&mut self, data: &TensorData) -> Result<AdditiveShare<T>> {
        match data {
            TensorData::AdditiveShare {
                shape,
                ring_bits,
                frac_bits,
                party,
                data,
            } if *ring_bits == T::BITS
                && *frac_bits == self.fp.frac_bits()
                && *party as usize == self.part.role().id() =>
            {
                if self.is_dealer() {
                    if !data.is_empty() {
                        return Err(Error::invalid(
                            "tensor",
                            "a dealer's model file holds shapes only, and this one holds data",
                        ));
                    }
                    return Ok(AdditiveShare::shape_only(shape));
                }
                self.wrap("import", shape, decode_elements(data)?)
            }
            other => Err(Error::invalid(
                "tensor",
                format!("{} cannot load {}", self.describe(), other.kind()),
            )),
        }
    }

    fn check_agreement(&mut self, tensors: &[&AdditiveShare<T>], tag: &[u8]) -> Result<()> {
        use sha2::{Digest, Sha256};
        self.tracker.begin_op();
        let mut h = Sha256::new();
        h.update(tag);
        for t in tensors {
            for d in t.shape() {
                h.update((*d as u64).to_le_bytes());
            }
        }
        self.part.check_agreement(h.finalize().to_vec())?;
        self.count(Op::Agreement, 0);
        Ok(())
    }

    fn announce(&mut self, from: PartyId, data: Option<&[u8]>) -> Result<Vec<u8>> {
        self.tracker.begin_op();
        let out = self.part.announce(from, data)?;
        self.count(Op::Announce { from }, out.len());
        Ok(out)
    }

    fn announced_ahead(&self, from: PartyId) -> Option<Vec<u8>> {
        self.part.announced_ahead(from)
    }
}
