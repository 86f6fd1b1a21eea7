//! The smooth gadgets (exponential, reciprocal, inverse square root,
//! softmax) and the max tournament: each within its documented error bound
//! over its documented range, edges included, on `Fixed` (property tests)
//! and `Shared` and `Additive` (two parties and a dealer); `Plain` computes
//! the documented f64 reference; and the closed-form costs of `CostModel`
//! equal what `Plain` and `Fixed` predict and what `Shared`'s and
//! `Additive`'s transports carried, for each protocol.

use ndarray::{Array1, Array2, ArrayD};
use privml::cost::{Comm, CostModel, Protocol};
use privml::domain::gadgets::{ExpParams, InvSqrtParams, ReciprocalParams, SoftmaxParams};
use privml::prelude::*;
use privml::{Additive, Cost, DealerSchedule, SharedConfig};
use proptest::prelude::*;

/// Fraction bits of the default Z_2^64 format.
const F: u32 = 16;

/// A gadget under test, generic over the domain.
trait Gadget: Sync {
    fn apply<R: Ring>(&self, r: &mut R, x: &R::Tensor) -> Result<R::Tensor>;
}

struct Exp(ExpParams);
impl Gadget for Exp {
    fn apply<R: Ring>(&self, r: &mut R, x: &R::Tensor) -> Result<R::Tensor> {
        r.exp_nonpositive(x, &self.0)
    }
}

struct Recip(ReciprocalParams);
impl Gadget for Recip {
    fn apply<R: Ring>(&self, r: &mut R, x: &R::Tensor) -> Result<R::Tensor> {
        r.reciprocal(x, &self.0)
    }
}

struct InvSqrt(InvSqrtParams);
impl Gadget for InvSqrt {
    fn apply<R: Ring>(&self, r: &mut R, x: &R::Tensor) -> Result<R::Tensor> {
        r.inv_sqrt(x, &self.0)
    }
}

struct Softmax(SoftmaxParams);
impl Gadget for Softmax {
    fn apply<R: Ring>(&self, r: &mut R, x: &R::Tensor) -> Result<R::Tensor> {
        r.softmax_rows(x, &self.0)
    }
}

/// The maximum over axis 0 and the gradient of its sum routed back.
struct MaxAndRoute;
impl Gadget for MaxAndRoute {
    fn apply<R: Ring>(&self, r: &mut R, x: &R::Tensor) -> Result<R::Tensor> {
        let (m, trace) = r.max_tree(x, true)?;
        let ones = r.add_public(&m, &ndarray::arr0(1.0).into_dyn())?;
        let ones = r.sub(&ones, &m)?;
        let g = r.max_tree_backward(&trace, &ones)?;
        r.concat_rows(&[&m, &g])
    }
}

fn input<R: Ring>(r: &mut R, x: &ArrayD<f64>) -> Result<R::Tensor> {
    r.input(0, r.owns(0).then_some(x), x.shape())
}

/// The gadget's output and its cost alone (after the input, before the reveal).
fn run_one<R: Ring, G: Gadget>(r: &mut R, g: &G, x: &ArrayD<f64>) -> Result<(ArrayD<f64>, Cost)> {
    let t = input(r, x)?;
    let before = r.cost();
    let y = g.apply(r, &t)?;
    let spent = r.cost().since(&before);
    Ok((r.reveal(&y)?, spent))
}

fn comm(c: &Cost) -> Comm {
    Comm {
        rounds: c.rounds,
        bytes: c.bytes_sent,
        messages: c.messages_sent,
        offline_bytes: c.offline_bytes,
        offline_messages: c.offline_messages,
    }
}

fn fixed<G: Gadget>(g: &G, x: &ArrayD<f64>) -> (ArrayD<f64>, Cost) {
    run_one(&mut Fixed::<u64>::new(), g, x).expect("fixed run")
}

/// Runs `g` on `Plain`, `Fixed`, `Shared` and `Additive`, checks that the
/// secure parties agree and that, for each protocol, the predicted costs
/// equal the measured one and the closed form `expected` of that protocol's
/// model; returns (plain, fixed, shared, two-party) outputs.
fn all_domains<G: Gadget>(
    g: &G,
    x: &ArrayD<f64>,
    expected: impl Fn(&CostModel) -> Comm,
) -> [ArrayD<f64>; 4] {
    let (p, pc) = run_one(&mut Plain::new(), g, x).expect("plain run");
    let (f, fc) = fixed(g, x);
    let cfg = SharedConfig::default().insecure_test_seed(7);
    let outs = Shared::<u64>::simulate_with(&cfg, |r| run_one(r, g, x)).expect("shared run");
    let costs: Vec<Cost> = outs.iter().map(|(_, c)| c.clone()).collect();
    let measured = Cost::merge_parties(&[costs[0].clone(), costs[1].clone(), costs[2].clone()]);
    assert_eq!(outs[0].0, outs[1].0);
    assert_eq!(outs[1].0, outs[2].0);
    assert_eq!(pc, fc, "plain and fixed predict the same");
    assert_eq!(measured, pc, "the transport carried what plain predicted");
    assert_eq!(comm(&pc), expected(&CostModel::new(8)), "the closed form");
    let s = outs[0].0.clone();

    let two = Protocol::Additive2;
    let (_, pc2) = run_one(&mut Plain::new().with_protocol(two), g, x).expect("plain 2pc");
    let (_, fc2) = run_one(&mut Fixed::<u64>::new().with_protocol(two), g, x).expect("fixed 2pc");
    let [(a0, c0), (a1, c1)] =
        Additive::<u64>::simulate_with(&cfg, DealerSchedule::Concurrent, |r| run_one(r, g, x))
            .expect("two-party run");
    assert_eq!(a0, a1, "both computing parties reveal the same");
    // party 1 counts the rounds and the dealer's material it received
    let spent2 = Cost::merge_parties(&[c0, c1.clone(), c1]);
    assert_eq!(pc2, fc2, "plain and fixed predict the same (2pc)");
    assert_eq!(
        spent2, pc2,
        "the two-party transport carried what plain predicted"
    );
    assert_eq!(
        comm(&pc2),
        expected(&CostModel::for_protocol(two, 8)),
        "the two-party closed form"
    );
    [p, f, s, a0]
}

/// The nearest value of the 16-fraction-bit grid.
fn on_grid(x: f64) -> f64 {
    (x * 65536.0).round() / 65536.0
}

fn vector(v: &[f64]) -> ArrayD<f64> {
    Array1::from(v.to_vec()).into_dyn()
}

fn assert_close(got: &ArrayD<f64>, want: impl Fn(usize) -> f64, bound: f64, what: &str) {
    for (i, g) in got.iter().enumerate() {
        let w = want(i);
        assert!(
            (g - w).abs() <= bound,
            "{what}: element {i}: {g} vs {w} (error {:.3e} > bound {bound:.3e})",
            (g - w).abs()
        );
    }
}

// ----- exponential -----------------------------------------------------------

#[test]
fn exp_meets_its_bound_on_every_domain_with_the_predicted_cost() {
    let p = ExpParams::default();
    let m = (1u64 << p.squarings) as f64;
    // range edges: 0, the clamp point -2^n and either side, far below
    let xs = [
        0.0,
        -1e-5,
        -0.5,
        -1.0,
        -3.0,
        -4.2,
        -7.99,
        -m,
        -m - 1e-3,
        -30.0,
        -1000.0,
    ];
    let x = vector(&xs);
    let [plain, fixed, shared, two] =
        all_domains(&Exp(p), &x, |m| m.exp_nonpositive(xs.len(), p.squarings));
    assert_close(&plain, |i| p.reference(xs[i]), 1e-12, "plain vs reference");
    let bound = p.error_bound(F);
    assert!(bound < 1e-3, "{bound}");
    assert_close(&fixed, |i| xs[i].exp(), bound, "fixed vs e^x");
    assert_close(&shared, |i| xs[i].exp(), bound, "shared vs e^x");
    assert_close(&two, |i| xs[i].exp(), bound, "2pc vs e^x");
    // e^0 is 1 up to the encoding of 1/3
    assert!((fixed[0] - 1.0).abs() <= 10.0 * 0.5f64.powi(F as i32));
    let rounds = 12 + 2 * p.squarings as u64;
    assert_eq!(
        CostModel::new(8).exp_nonpositive(1, p.squarings).rounds,
        rounds
    );
}

#[test]
fn exp_with_more_squarings_in_z2_128_is_more_accurate() {
    let p = ExpParams { squarings: 5 };
    let xs: Vec<f64> = (0..=80).map(|i| -0.25 * i as f64).collect();
    let x = vector(&xs);
    let (out, _) = run_one(&mut Fixed::<u128>::new(), &Exp(p), &x).unwrap();
    let bound = p.error_bound(32);
    assert!(bound < 1e-5, "{bound}");
    assert_close(&out, |i| xs[i].exp(), bound, "fixed128 vs e^x");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn exp_is_within_its_bound_in_fixed_point(
        xs in proptest::collection::vec(-40.0f64..=0.0, 1..24),
        squarings in 2u32..=4,
    ) {
        let p = ExpParams { squarings };
        let (out, _) = fixed(&Exp(p), &vector(&xs));
        let bound = p.error_bound(F);
        for (g, x) in out.iter().zip(&xs) {
            prop_assert!((g - x.exp()).abs() <= bound, "x = {x}: {g} vs {}", x.exp());
        }
    }

    #[test]
    fn reciprocal_is_within_its_bound_in_fixed_point(
        max in prop_oneof![Just(1.0f64), Just(2.0), Just(10.0), Just(11.0), 1.0f64..64.0],
        fractions in proptest::collection::vec(0.0f64..=1.0, 1..24),
    ) {
        let p = ReciprocalParams::for_range(max).unwrap();
        // the range's edges and points between them
        let mut xs: Vec<f64> = fractions.iter().map(|t| 1.0 + t * (max - 1.0)).collect();
        xs.extend([1.0, max]);
        let (out, _) = fixed(&Recip(p), &vector(&xs));
        let bound = p.error_bound(F);
        for (g, x) in out.iter().zip(&xs) {
            prop_assert!((g - 1.0 / x).abs() <= bound, "x = {x}: {g} vs {}", 1.0 / x);
        }
    }

    #[test]
    fn inv_sqrt_is_within_its_bound_in_fixed_point(
        (lo, hi) in prop_oneof![Just((-6i32, 18i32)), Just((-4, 8)), Just((0, 2)), Just((-10, 10))],
        logs in proptest::collection::vec(0.0f64..=1.0, 1..24),
    ) {
        let p = InvSqrtParams::new(lo, hi, 4).unwrap();
        // on the fixed-point grid, so that only the gadget's error is measured
        let mut xs: Vec<f64> = logs
            .iter()
            .map(|t| on_grid(2f64.powf(lo as f64 + t * (hi - lo) as f64)))
            .collect();
        xs.extend([2f64.powi(lo), 2f64.powi(hi)]);
        let (out, _) = fixed(&InvSqrt(p), &vector(&xs));
        let bound = p.relative_error_bound(F);
        for (g, x) in out.iter().zip(&xs) {
            let rel = (g * x.sqrt() - 1.0).abs();
            prop_assert!(rel <= bound, "x = {x}: {g} vs {} (relative {rel:.3e} > {bound:.3e})", 1.0 / x.sqrt());
        }
    }

    #[test]
    fn softmax_is_within_its_bound_in_fixed_point(
        k in 2usize..=12,
        values in proptest::collection::vec(-20.0f64..20.0, 48),
    ) {
        let rows = values.len() / k;
        let x = Array2::from_shape_vec((rows, k), values[..rows * k].to_vec()).unwrap().into_dyn();
        let p = SoftmaxParams::default();
        let (out, _) = fixed(&Softmax(p), &x);
        let bound = p.error_bound(k, F).unwrap();
        for (row, got) in x.outer_iter().zip(out.outer_iter()) {
            let m = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let s: f64 = row.iter().map(|v| (v - m).exp()).sum();
            for (v, g) in row.iter().zip(got.iter()) {
                let want = (v - m).exp() / s;
                prop_assert!((g - want).abs() <= bound, "{g} vs {want} (bound {bound:.3e})");
            }
        }
    }
}

// ----- reciprocal ------------------------------------------------------------

#[test]
fn reciprocal_meets_its_bound_on_every_domain_with_the_predicted_cost() {
    let p = ReciprocalParams::for_range(10.0).unwrap();
    let xs = [1.0, 1.0001, 1.5, 2.0, 3.0, 5.5, 7.25, 9.999, 10.0];
    let x = vector(&xs);
    let [plain, fixed, shared, two] =
        all_domains(&Recip(p), &x, |m| m.reciprocal(xs.len(), p.iterations));
    assert_close(&plain, |i| p.reference(xs[i]), 1e-12, "plain vs reference");
    assert_close(&plain, |i| 1.0 / xs[i], 1e-9, "plain vs 1/x");
    let bound = p.error_bound(F);
    assert_close(&fixed, |i| 1.0 / xs[i], bound, "fixed vs 1/x");
    assert_close(&shared, |i| 1.0 / xs[i], bound, "shared vs 1/x");
    assert_close(&two, |i| 1.0 / xs[i], bound, "2pc vs 1/x");
}

#[test]
fn reciprocal_iterations_follow_the_range() {
    assert_eq!(ReciprocalParams::for_range(1.0).unwrap().iterations, 1);
    assert_eq!(ReciprocalParams::for_range(10.0).unwrap().iterations, 5);
    let wide = ReciprocalParams::for_range(1000.0).unwrap();
    assert!(wide.start_error().powi(1 << wide.iterations) <= 0.5f64.powi(20));
    assert!(ReciprocalParams::for_range(f64::NAN).is_err());
    assert!(
        ReciprocalParams {
            max: 4.0,
            iterations: 0
        }
        .reference(2.0)
            > 0.0
    );
}

// ----- inverse square root ---------------------------------------------------

#[test]
fn inv_sqrt_meets_its_bound_on_every_domain_with_the_predicted_cost() {
    let p = InvSqrtParams::new(-6, 12, 4).unwrap();
    // both ends, every threshold and either side of it, then above the range
    let mut xs = vec![2f64.powi(-6)];
    for t in p.thresholds() {
        xs.extend([on_grid(t * 0.999), t, on_grid(t * 1.001)]);
    }
    let inside = xs.len();
    xs.extend([2f64.powi(12) * 3.0, 1e6]);
    let x = vector(&xs);
    let [plain, fixed, shared, two] = all_domains(&InvSqrt(p), &x, |m| {
        m.inv_sqrt(xs.len(), p.thresholds().len(), p.iterations)
    });
    assert_close(&plain, |i| p.reference(xs[i]), 1e-9, "plain vs reference");
    let bound = p.relative_error_bound(F);
    for (name, out) in [("fixed", &fixed), ("shared", &shared), ("2pc", &two)] {
        for (i, g) in out.iter().enumerate() {
            // above the range: clamped to 2^hi
            let x = xs[i].min(2f64.powi(12));
            let rel = (g * x.sqrt() - 1.0).abs();
            assert!(
                rel <= bound,
                "{name} x = {}: relative error {rel:.3e} > {bound:.3e}",
                xs[i]
            );
        }
    }
    assert!(inside < xs.len());
}

#[test]
fn inv_sqrt_parameters_are_checked() {
    assert!(InvSqrtParams::new(2, 2, 4).is_err());
    assert!(InvSqrtParams::new(-4, 3, 4).is_err());
    assert!(InvSqrtParams::new(-4, 4, 0).is_err());
    assert!(InvSqrtParams::new(-50, 4, 4).is_err());
    // a range below what 16 fraction bits resolve
    let fine = InvSqrtParams::new(-20, 4, 4).unwrap();
    let mut f = Fixed::<u64>::new();
    let x = f.scalar(1.0).unwrap();
    assert!(matches!(
        f.inv_sqrt(&x, &fine),
        Err(Error::InvalidParameter { name: "range", .. })
    ));
    assert!(
        Fixed::<u128>::new()
            .inv_sqrt(&Fixed::<u128>::new().scalar(1.0).unwrap(), &fine)
            .is_ok()
    );
    let p = InvSqrtParams::new(-4, 4, 4).unwrap();
    assert_eq!(p.thresholds(), vec![2f64.powi(-2), 1.0, 4.0, 16.0]);
    let (_, steps) = p.start_steps();
    assert_eq!(steps.len(), 3);
    assert!(steps.iter().all(|s| *s < 0.0));
}

// ----- softmax and the max tree ----------------------------------------------

#[test]
fn softmax_meets_its_bound_on_every_domain_with_the_predicted_cost() {
    let x = ndarray::arr2(&[
        [1.0, 2.0, 3.0, -1.0, 0.5],
        [-20.0, 15.0, 14.5, 15.0, 0.0],
        [0.0, 0.0, 0.0, 0.0, 0.0],
    ])
    .into_dyn();
    let p = SoftmaxParams::default();
    let recip = p.reciprocal(5).unwrap();
    let [plain, fixed, shared, two] = all_domains(&Softmax(p), &x, |m| {
        m.softmax(3, 5, p.exp.squarings, recip.iterations)
    });
    let bound = p.error_bound(5, F).unwrap();
    for (r, row) in x.outer_iter().enumerate() {
        let row: Vec<f64> = row.iter().copied().collect();
        let reference = p.reference(&row);
        let m = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let s: f64 = row.iter().map(|v| (v - m).exp()).sum();
        for c in 0..5 {
            let exact = (row[c] - m).exp() / s;
            assert!((plain[[r, c]] - reference[c]).abs() < 1e-9);
            for (name, out) in [("fixed", &fixed), ("shared", &shared), ("2pc", &two)] {
                let e = (out[[r, c]] - exact).abs();
                assert!(e <= bound, "{name} [{r}, {c}]: error {e:.3e} > {bound:.3e}");
            }
        }
    }
}

#[test]
fn max_tree_routes_the_gradient_to_the_first_maximum() {
    // 5 candidates (an odd one waits a level) for 4 elements, with ties
    let x = ndarray::arr2(&[
        [1.0, -2.0, 0.5, 3.0],
        [4.0, -2.0, 0.5, 2.0],
        [2.0, -3.0, 0.25, 3.0],
        [0.0, -5.0, 0.5, 1.0],
        [3.5, -1.0, -1.0, 3.0],
    ])
    .into_dyn();
    let expected = |model: &CostModel| {
        model.max_tree(5, 4) + model.max_tree_backward(5, 4) + {
            // the "ones" of MaxAndRoute are local
            Comm::default()
        }
    };
    let [plain, fixed, shared, two] = all_domains(&MaxAndRoute, &x, expected);
    let want_max = [4.0, -1.0, 0.5, 3.0];
    // the first maximal candidate of each column
    let winner = [1usize, 4, 0, 0];
    for out in [&plain, &fixed, &shared, &two] {
        for c in 0..4 {
            assert!((out[[0, c]] - want_max[c]).abs() < 1e-4, "{out}");
            for cand in 0..5 {
                let want = (cand == winner[c]) as u8 as f64;
                assert!((out[[1 + cand, c]] - want).abs() < 1e-4, "{out}");
            }
        }
    }
}

#[test]
fn gadgets_refuse_bad_shapes_and_parameters() {
    let mut r = Plain::new();
    let v = r.constant(&vector(&[1.0, 2.0])).unwrap();
    assert!(matches!(
        r.softmax_rows(&v, &SoftmaxParams::default()),
        Err(Error::ShapeMismatch { .. })
    ));
    assert!(matches!(r.row_max(&v), Err(Error::ShapeMismatch { .. })));
    assert!(r.exp_nonpositive(&v, &ExpParams { squarings: 0 }).is_err());
    let empty = r
        .constant(&Array2::<f64>::zeros((0, 3)).into_dyn())
        .unwrap();
    assert!(r.max_tree(&empty, false).is_err());
    let (_, trace) = r.max_tree(&v, false).unwrap();
    let g = r.constant(&vector(&[1.0])).unwrap();
    assert!(r.max_tree_backward(&trace, &g).is_err());
}

// ----- the documented table --------------------------------------------------

/// Rounds and the busiest party's bytes per element of `g` on 1024 inputs
/// of shape `shape`, measured on `Shared`'s transport.
fn measured_per_element<G: Gadget>(g: &G, x: &ArrayD<f64>) -> (u64, f64) {
    let cfg = SharedConfig::default().insecure_test_seed(31);
    let outs = Shared::<u64>::simulate_with(&cfg, |r| run_one(r, g, x)).expect("shared run");
    let costs: Vec<Cost> = outs.iter().map(|(_, c)| c.clone()).collect();
    let c = Cost::merge_parties(&[costs[0].clone(), costs[1].clone(), costs[2].clone()]);
    let busiest = c.bytes_sent.iter().copied().max().unwrap_or(0);
    (c.rounds, busiest as f64 / x.len() as f64)
}

/// The rounds and bytes per element that `privml demo approx` prints for
/// each gadget (`FunctionTable::defaults`, from the cost model) are what
/// the transport carries for the same parameters, and its error bounds are
/// the gadgets' documented ones.
#[test]
fn the_function_table_states_the_measured_rounds_and_bytes() {
    use privml::approx::functions::FunctionTable;
    let table = FunctionTable::defaults().unwrap();
    let row = |prefix: &str| {
        table
            .0
            .iter()
            .find(|r| r.name.starts_with(prefix))
            .unwrap_or_else(|| panic!("no row {prefix}"))
            .clone()
    };
    let n = 1024;
    let nonpositive = Array1::from_shape_fn(n, |i| -(i as f64) / 64.0).into_dyn();
    let in_1_11 = Array1::from_shape_fn(n, |i| 1.0 + 10.0 * i as f64 / n as f64).into_dyn();
    let positive = Array1::from_shape_fn(n, |i| 0.01 + i as f64 / 8.0).into_dyn();
    let logits = Array2::from_shape_fn((n / 10, 10), |(i, j)| ((i * 3 + j * 7) % 13) as f64 / 3.0)
        .into_dyn();
    let exp = ExpParams::default();
    let recip = ReciprocalParams::for_range(11.0).unwrap();
    let inv = InvSqrtParams::new(-14, 8, 4).unwrap();
    let soft = SoftmaxParams::default();
    let cases: Vec<(&str, (u64, f64), f64)> = vec![
        (
            "exp",
            measured_per_element(&Exp(exp), &nonpositive),
            exp.error_bound(F),
        ),
        (
            "reciprocal",
            measured_per_element(&Recip(recip), &in_1_11),
            recip.error_bound(F),
        ),
        (
            "inverse square root",
            measured_per_element(&InvSqrt(inv), &positive),
            inv.relative_error_bound(F),
        ),
        (
            "softmax",
            measured_per_element(&Softmax(soft), &logits),
            soft.error_bound(10, F).unwrap(),
        ),
    ];
    for (name, (rounds, bytes), bound) in cases {
        let r = row(name);
        assert_eq!(r.rounds, rounds, "{name}: rounds");
        assert!(
            (r.bytes_per_element - bytes).abs() < 1e-9,
            "{name}: {} bytes per element in the table, {bytes} measured",
            r.bytes_per_element
        );
        assert_eq!(r.bound_64, bound, "{name}: bound");
    }
}
