//! Random programs over the `Ring` trait, an interpreter that runs them on
//! any domain, and a forward error analysis that gives the tolerance a
//! fixed-point run must meet against the f64 reference.
#![allow(
    dead_code,
    reason = "shared by several test files, each of which uses only some of it"
)]

use ndarray::{Array2, ArrayD};
use privml::domain::gadgets::{ExpParams, SoftmaxParams};
use privml::{Gadgets, Gather, Layout, Result, Ring, Window2d};
use proptest::prelude::*;

/// One step of a random program. Operand indices are taken modulo the number
/// of registers that exist when the step runs.
#[derive(Debug, Clone)]
pub enum Step {
    Add(usize, usize),
    Sub(usize, usize),
    Neg(usize),
    AddPublic(usize, f64),
    MulPublic(usize, f64),
    ScaleInt(usize, i64),
    Mul(usize, usize),
    MulTwo(usize, usize, usize),
    Square(usize),
    Matmul(usize, usize),
    Transpose(usize),
    Reshare(usize),
    Lincomb(usize, usize, f64, f64, u32),
    MatmulTwo(usize, usize, usize),
    Relu(usize),
    Max(usize, usize),
    /// Reshape to a vector and back.
    Reshape(usize),
    /// n rows picked by index (mod n), repeats allowed.
    GatherRows(usize, [usize; 4]),
    /// A general index map on the n x n elements (mod n²), `None` = zero.
    Gather(usize, Vec<Option<usize>>),
    /// The first k rows of one register over the last n - k of another
    /// (k mod n + 1).
    SliceConcat(usize, usize, usize),
    /// Rows k..k+n (k mod n + 1) of two registers stacked.
    ConcatSlice(usize, usize, usize),
    /// e^(-a²), by the exponential of a non-positive value.
    ExpNeg(usize),
    /// The softmax of each row.
    Softmax(usize),
    /// The maximum of each row (a tournament over the columns), broadcast
    /// back over the row.
    RowMax(usize),
    /// The im2col patches of a 2 x 2 kernel with stride s and padding p
    /// over the register as a one-channel image, each patch summed, the
    /// sums repeated (or cut) to fill n x n.
    Patches(usize, usize, usize),
}

/// Square n x n inputs from parties 0, 1, 2 and a list of steps.
#[derive(Debug, Clone)]
pub struct Program {
    pub n: usize,
    pub inputs: Vec<Array2<f64>>,
    pub steps: Vec<Step>,
}

fn step() -> impl Strategy<Value = Step> {
    let i = 0usize..16;
    let c = -2.0f64..2.0;
    prop_oneof![
        (i.clone(), i.clone()).prop_map(|(a, b)| Step::Add(a, b)),
        (i.clone(), i.clone()).prop_map(|(a, b)| Step::Sub(a, b)),
        i.clone().prop_map(Step::Neg),
        (i.clone(), c.clone()).prop_map(|(a, c)| Step::AddPublic(a, c)),
        (i.clone(), c).prop_map(|(a, c)| Step::MulPublic(a, c)),
        (i.clone(), -3i64..=3).prop_map(|(a, k)| Step::ScaleInt(a, k)),
        (i.clone(), i.clone()).prop_map(|(a, b)| Step::Mul(a, b)),
        (i.clone(), i.clone(), i.clone()).prop_map(|(a, b, c)| Step::MulTwo(a, b, c)),
        i.clone().prop_map(Step::Square),
        (i.clone(), i.clone()).prop_map(|(a, b)| Step::Matmul(a, b)),
        i.clone().prop_map(Step::Transpose),
        i.clone().prop_map(Step::Reshare),
        (
            i.clone(),
            i.clone(),
            -2.0f64..2.0,
            -2.0f64..2.0,
            prop_oneof![Just(8u32), Just(16), Just(20)]
        )
            .prop_map(|(a, b, c, d, bits)| Step::Lincomb(a, b, c, d, bits)),
        (i.clone(), i.clone(), i.clone()).prop_map(|(a, b, c)| Step::MatmulTwo(a, b, c)),
        i.clone().prop_map(Step::Relu),
        (i.clone(), i.clone()).prop_map(|(a, b)| Step::Max(a, b)),
        i.clone().prop_map(Step::Reshape),
        (i.clone(), proptest::array::uniform4(0usize..16))
            .prop_map(|(a, rows)| Step::GatherRows(a, rows)),
        (
            i.clone(),
            proptest::collection::vec(proptest::option::weighted(0.8, 0usize..16), 16)
        )
            .prop_map(|(a, map)| Step::Gather(a, map)),
        (i.clone(), i.clone(), 0usize..5).prop_map(|(a, b, k)| Step::SliceConcat(a, b, k)),
        (i.clone(), i.clone(), 0usize..5).prop_map(|(a, b, k)| Step::ConcatSlice(a, b, k)),
        i.clone().prop_map(Step::ExpNeg),
        i.clone().prop_map(Step::Softmax),
        i.clone().prop_map(Step::RowMax),
        (i, 1usize..=2, 0usize..=1).prop_map(|(a, s, p)| Step::Patches(a, s, p)),
    ]
}

/// Programs of 1..=8 steps on n x n tensors, n in 1..=4, inputs in [-2, 2).
pub fn program() -> impl Strategy<Value = Program> {
    (1usize..=4).prop_flat_map(|n| {
        let input = proptest::collection::vec(-2.0f64..2.0, n * n)
            .prop_map(move |v| Array2::from_shape_vec((n, n), v).expect("n*n values"));
        (
            Just(n),
            proptest::collection::vec(input, 3),
            proptest::collection::vec(step(), 1..=8),
        )
            .prop_map(|(n, inputs, steps)| Program { n, inputs, steps })
    })
}

/// Runs `p` on `r` and reveals every register.
pub fn run<R: Ring>(r: &mut R, p: &Program) -> Result<Vec<ArrayD<f64>>> {
    run_with_parties(r, p, 3)
}

/// [`run`] with the inputs owned by parties 0..`parties` in turn (2 for the
/// two-party protocol, whose party 2 is the dealer).
pub fn run_with_parties<R: Ring>(
    r: &mut R,
    p: &Program,
    parties: usize,
) -> Result<Vec<ArrayD<f64>>> {
    let shape = [p.n, p.n];
    let n = p.n;
    let mut regs = Vec::new();
    for (i, x) in p.inputs.iter().enumerate() {
        let owner = i % parties;
        let v = x.clone().into_dyn();
        let value = if r.owns(owner) { Some(&v) } else { None };
        regs.push(r.input(owner, value, &shape)?);
    }
    for s in &p.steps {
        let k = regs.len();
        let t = match *s {
            Step::Add(a, b) => r.add(&regs[a % k], &regs[b % k])?,
            Step::Sub(a, b) => r.sub(&regs[a % k], &regs[b % k])?,
            Step::Neg(a) => r.neg(&regs[a % k])?,
            Step::AddPublic(a, c) => r.add_public(&regs[a % k], &ndarray::arr0(c).into_dyn())?,
            Step::MulPublic(a, c) => r.mul_public(&regs[a % k], c)?,
            Step::ScaleInt(a, c) => r.scale_int(&regs[a % k], c)?,
            Step::Mul(a, b) => r.mul(&regs[a % k], &regs[b % k])?,
            Step::MulTwo(a, b, c) => {
                let mut v =
                    r.mul_many(&[(&regs[a % k], &regs[b % k]), (&regs[b % k], &regs[c % k])])?;
                let second = v.pop().expect("two results");
                let first = v.pop().expect("two results");
                regs.push(first);
                second
            }
            Step::Square(a) => r.square(&regs[a % k])?,
            Step::Matmul(a, b) => r.matmul(&regs[a % k], &regs[b % k])?,
            Step::Transpose(a) => r.transpose(&regs[a % k])?,
            Step::Reshare(a) => r.reshare(&regs[a % k])?,
            Step::Lincomb(a, b, c, d, bits) => {
                r.lincomb_public(&[&regs[a % k], &regs[b % k]], &[c, d], bits)?
            }
            Step::Relu(a) => r.relu(&regs[a % k])?,
            Step::Max(a, b) => r.max(&regs[a % k], &regs[b % k])?,
            Step::MatmulTwo(a, b, c) => {
                let mut v =
                    r.matmul_many(&[(&regs[a % k], &regs[b % k]), (&regs[b % k], &regs[c % k])])?;
                let second = v.pop().expect("two results");
                let first = v.pop().expect("two results");
                regs.push(first);
                second
            }
            Step::Reshape(a) => {
                let flat = r.reshape(&regs[a % k], &[n * n])?;
                r.reshape(&flat, &shape)?
            }
            Step::GatherRows(a, rows) => {
                let picked: Vec<usize> = (0..n).map(|i| rows[i] % n).collect();
                r.gather_rows(&regs[a % k], &picked)?
            }
            Step::Gather(a, ref map) => {
                let index: Vec<Option<usize>> = map[..n * n]
                    .iter()
                    .map(|i| i.map(|i| i % (n * n)))
                    .collect();
                let plan = Gather::from_indices(&shape, &shape, &index)?;
                r.gather(&[&regs[a % k]], &plan)?
            }
            Step::SliceConcat(a, b, c) => {
                let c = c % (n + 1);
                let top = r.slice_rows(&regs[a % k], 0, c)?;
                let bottom = r.slice_rows(&regs[b % k], c, n)?;
                r.concat_rows(&[&top, &bottom])?
            }
            Step::ConcatSlice(a, b, c) => {
                let c = c % (n + 1);
                let both = r.concat_rows(&[&regs[a % k], &regs[b % k]])?;
                r.slice_rows(&both, c, c + n)?
            }
            Step::ExpNeg(a) => {
                let sq = r.square(&regs[a % k])?;
                let z = r.neg(&sq)?;
                r.exp_nonpositive(&z, &ExpParams::default())?
            }
            Step::Softmax(a) => r.softmax_rows(&regs[a % k], &SoftmaxParams::default())?,
            Step::RowMax(a) => {
                let m = r.row_max(&regs[a % k])?;
                let zero = r.scale_int(&regs[a % k], 0)?;
                r.add(&zero, &m)?
            }
            Step::Patches(a, s, p) => {
                // the patch sums of the register as a one-channel image,
                // repeated (or cut) to fill n x n again
                let image = r.reshape(&regs[a % k], &[1, 1, n, n])?;
                let plan = Gather::im2col(&[1, 1, n, n], &patch_window(n, s, p))?;
                let cols = r.gather(&[&image], &plan)?;
                let sums = r.sum_axis(&cols, 1)?;
                let rows = r.shape(&sums)[0];
                let index: Vec<Option<usize>> = (0..n * n).map(|e| Some(e % rows)).collect();
                let plan = Gather::from_indices(&[rows, 1], &[n, n], &index)?;
                r.gather(&[&sums], &plan)?
            }
        };
        regs.push(t);
    }
    regs.iter().map(|t| r.reveal(t)).collect()
}

/// The window of [`Step::Patches`]: 2 x 2, stride s, padding p (at least
/// 1 for a 1 x 1 image, which a 2 x 2 kernel would not fit).
fn patch_window(n: usize, s: usize, p: usize) -> Window2d {
    let p = if n + 2 * p < 2 { 1 } else { p };
    Window2d::new([2, 2], [s, s], [p, p]).expect("valid window")
}

fn max_abs(x: &ArrayD<f64>) -> f64 {
    x.iter().fold(0.0f64, |m, v| m.max(v.abs()))
}

/// For each register, a bound on |fixed-point result - exact result| when
/// every truncation is off by at most one unit `ulp` and every encoding by
/// half a unit. `plain` are the exact (f64) register values.
pub fn error_bounds(p: &Program, plain: &[ArrayD<f64>], ulp: f64) -> Vec<f64> {
    let mut e: Vec<f64> = vec![ulp / 2.0; 3];
    let m = |i: usize, e: &[f64]| max_abs(&plain[i]) + e[i];
    let n = p.n as f64;
    for s in &p.steps {
        let k = e.len();
        let b = match *s {
            Step::Add(a, b) | Step::Sub(a, b) => e[a % k] + e[b % k],
            Step::Neg(a)
            | Step::Transpose(a)
            | Step::Reshare(a)
            | Step::Reshape(a)
            | Step::GatherRows(a, _)
            | Step::Gather(a, _) => e[a % k],
            Step::SliceConcat(a, b, _) | Step::ConcatSlice(a, b, _) => e[a % k].max(e[b % k]),
            Step::AddPublic(a, _) => e[a % k] + ulp / 2.0,
            Step::MulPublic(a, c) => c.abs() * e[a % k] + m(a % k, &e) * ulp / 2.0 + ulp,
            Step::ScaleInt(a, c) => c.unsigned_abs() as f64 * e[a % k],
            Step::Mul(a, b) => {
                let (a, b) = (a % k, b % k);
                m(a, &e) * e[b] + m(b, &e) * e[a] + ulp
            }
            Step::MulTwo(a, b, c) => {
                let (a, b, c) = (a % k, b % k, c % k);
                e.push(m(a, &e) * e[b] + m(b, &e) * e[a] + ulp);
                m(b, &e) * e[c] + m(c, &e) * e[b] + ulp
            }
            Step::Square(a) => 2.0 * m(a % k, &e) * e[a % k] + ulp,
            Step::Matmul(a, b) => {
                let (a, b) = (a % k, b % k);
                n * (m(a, &e) * e[b] + m(b, &e) * e[a]) + ulp
            }
            Step::Lincomb(a, b, c, d, bits) => {
                let (a, b) = (a % k, b % k);
                let cu = (0.5f64).powi(bits as i32 + 1);
                c.abs() * e[a] + d.abs() * e[b] + (m(a, &e) + m(b, &e)) * cu + ulp
            }
            Step::Relu(a) => e[a % k],
            Step::Max(a, b) => e[a % k].max(e[b % k]),
            Step::MatmulTwo(a, b, c) => {
                let (a, b, c) = (a % k, b % k, c % k);
                e.push(n * (m(a, &e) * e[b] + m(b, &e) * e[a]) + ulp);
                n * (m(b, &e) * e[c] + m(c, &e) * e[b]) + ulp
            }
            // e^z is 1-Lipschitz for z ≤ 0: the square's error, plus the
            // exponential's own bound
            Step::ExpNeg(a) => {
                let sq = 2.0 * m(a % k, &e) * e[a % k] + ulp;
                sq + ExpParams::default().error_bound(frac_bits(ulp))
            }
            // |Δp| ≤ 2·max|Δx| for the softmax, plus its own bound
            Step::Softmax(a) => {
                2.0 * e[a % k]
                    + SoftmaxParams::default()
                        .error_bound(p.n, frac_bits(ulp))
                        .expect("bound")
            }
            Step::RowMax(a) => e[a % k],
            // a sum of at most 4 taps
            Step::Patches(a, _, _) => 4.0 * e[a % k],
        };
        e.push(b);
    }
    e
}

/// The fraction bits whose unit is `ulp`.
fn frac_bits(ulp: f64) -> u32 {
    (-ulp.log2()).round() as u32
}

/// Largest magnitude of any register.
pub fn largest(values: &[ArrayD<f64>]) -> f64 {
    values.iter().map(max_abs).fold(0.0, f64::max)
}

/// Asserts |got - want| <= bound elementwise, register by register.
pub fn assert_within(got: &[ArrayD<f64>], want: &[ArrayD<f64>], bounds: &[f64], what: &str) {
    assert_eq!(got.len(), want.len());
    for (i, ((g, w), b)) in got.iter().zip(want).zip(bounds).enumerate() {
        assert_eq!(g.shape(), w.shape(), "{what}: register {i} shape");
        for (x, y) in g.iter().zip(w) {
            approx::assert_abs_diff_eq!(*x, *y, epsilon = b * (1.0 + 1e-9) + 1e-12);
        }
        let _ = i;
    }
}

use privml::net::{Channel, ChannelError, Frame, memory};
use privml::ring::Payload;
use privml::{Shared, SharedConfig};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A channel that records the bytes of every frame it receives: what a
/// (semi-honest) party gets to see from the network.
pub struct Recording<C> {
    pub inner: C,
    pub seen: Arc<Mutex<Vec<u8>>>,
}

impl<C: Channel> Channel for Recording<C> {
    fn send(&mut self, frame: Frame) -> std::result::Result<(), ChannelError> {
        self.inner.send(frame)
    }
    fn recv(&mut self, timeout: Duration) -> std::result::Result<Frame, ChannelError> {
        let f = self.inner.recv(timeout)?;
        let mut seen = self.seen.lock().expect("lock");
        match &f.payload {
            Payload::U64(v) => v
                .iter()
                .for_each(|x| seen.extend_from_slice(&x.to_le_bytes())),
            Payload::U128(v) => v
                .iter()
                .for_each(|x| seen.extend_from_slice(&x.to_le_bytes())),
            Payload::Bytes(b) => seen.extend_from_slice(b),
        }
        Ok(f)
    }
}

/// Runs `program` on three participants built by `make` over recorded
/// in-memory links and returns each one's own result (not just the root
/// cause), plus the bytes each received after key set-up: participant p's
/// first `skip[p] = [next, prev]` bytes from each link are the key seeds it
/// was sent, PRF keys rather than part of the computation's view.
pub fn run_recorded<D, O, F, M>(
    cfg: &SharedConfig,
    skip: [[usize; 2]; 3],
    make: M,
    program: F,
) -> (Vec<privml::Result<O>>, Vec<Vec<u8>>)
where
    O: Send,
    M: Fn(usize, Box<dyn Channel>, Box<dyn Channel>, &SharedConfig) -> privml::Result<D> + Sync,
    F: Fn(&mut D) -> privml::Result<O> + Sync,
{
    let seen: Vec<[Arc<Mutex<Vec<u8>>>; 2]> = (0..3).map(|_| Default::default()).collect();
    let results = std::thread::scope(|s| {
        let hs: Vec<_> = memory::triangle()
            .into_iter()
            .enumerate()
            .map(|(me, (next, prev))| {
                let (program, make) = (&program, &make);
                let next = Recording {
                    inner: next,
                    seen: seen[me][0].clone(),
                };
                let prev = Recording {
                    inner: prev,
                    seen: seen[me][1].clone(),
                };
                s.spawn(move || {
                    let mut r = make(me, Box::new(next), Box::new(prev), cfg)?;
                    program(&mut r)
                })
            })
            .collect();
        hs.into_iter()
            .map(|h| h.join().expect("participant thread"))
            .collect::<Vec<_>>()
    });
    let views = seen
        .iter()
        .zip(skip)
        .map(|([next, prev], [skip_next, skip_prev])| {
            let (prev, next) = (prev.lock().expect("lock"), next.lock().expect("lock"));
            let mut v = prev[skip_prev.min(prev.len())..].to_vec();
            v.extend_from_slice(&next[skip_next.min(next.len())..]);
            v
        })
        .collect();
    (results, views)
}

/// Runs `program` on three parties over in-memory links and returns each
/// party's own result (not just the root cause), plus the bytes each party
/// received after key set-up (each party's 16-byte key seed from its
/// previous neighbour left out).
pub fn run_parties<O, F>(cfg: &SharedConfig, program: F) -> (Vec<privml::Result<O>>, Vec<Vec<u8>>)
where
    O: Send,
    F: Fn(&mut Shared<u64>) -> privml::Result<O> + Sync,
{
    run_recorded(cfg, [[0, 16]; 3], Shared::<u64>::new, program)
}
