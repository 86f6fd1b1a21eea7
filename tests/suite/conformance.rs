//! The domains agree: random programs give `Fixed`, `Shared` and `Additive`
//! (two parties and a dealer) results within a derived error bound of
//! `Plain`, the secure runs within the truncation bound of `Fixed`, and the
//! cost `Plain`/`Fixed` predict equals what the secure run's transport
//! carried, byte for byte and round for round — for the two-party protocol
//! online and offline (the dealer's material) separately.

use crate::common;
use crate::protocols;

use common::{Program, assert_within, error_bounds, largest, program, run, run_with_parties};
use privml::cost::Protocol;
use privml::{
    Additive, DealerSchedule, Fixed, FixedPoint, Layout, Plain, Ring, Shared, SharedConfig,
};
use proptest::prelude::*;
use protocols::on_both_protocols;

/// Largest register magnitude we let random programs reach: products of two
/// such values (and sums of 4 of them) stay far below 2^30, the safe product
/// bound at 16 fraction bits.
const MAX_MAGNITUDE: f64 = 1e4;

fn plain_run(p: &Program, elem_bytes: u64) -> (Vec<ndarray::ArrayD<f64>>, privml::Cost) {
    let mut r = Plain::new().with_elem_bytes(elem_bytes);
    let v = run(&mut r, p).expect("plain run");
    (v, r.cost())
}

fn check_domain_agreement<T: privml::ring::RingElement>(
    p: &Program,
    seed: u64,
) -> Result<(), TestCaseError> {
    let (want, plain_cost) = plain_run(p, T::BYTES as u64);
    prop_assume!(largest(&want) < MAX_MAGNITUDE);
    let ulp = FixedPoint::<T>::default().resolution();
    let bounds = error_bounds(p, &want, ulp);

    let mut f = Fixed::<T>::new();
    let fixed = run(&mut f, p).expect("fixed run");
    assert_within(&fixed, &want, &bounds, "fixed vs plain");
    prop_assert_eq!(&f.cost(), &plain_cost);

    let cfg = SharedConfig::default().insecure_test_seed(seed);
    let (outs, cost) = Shared::<T>::simulate_with_cost(&cfg, |r| run(r, p)).expect("shared run");
    for out in &outs {
        assert_within(out, &want, &bounds, "shared vs plain");
        let twice: Vec<f64> = bounds.iter().map(|b| 2.0 * b).collect();
        assert_within(out, &fixed, &twice, "shared vs fixed");
    }
    prop_assert_eq!(&outs[0], &outs[1]);
    prop_assert_eq!(&outs[1], &outs[2]);
    prop_assert_eq!(cost, plain_cost);
    Ok(())
}

/// The same for the two-party protocol: inputs from parties 0 and 1, the
/// plaintext domains predicting the two-party costs.
fn check_two_party_agreement<T: privml::ring::RingElement>(
    p: &Program,
    seed: u64,
    schedule: DealerSchedule,
) -> Result<(), TestCaseError> {
    let mut plain = Plain::new()
        .with_elem_bytes(T::BYTES as u64)
        .with_protocol(Protocol::Additive2);
    let want = run_with_parties(&mut plain, p, 2).expect("plain run");
    prop_assume!(largest(&want) < MAX_MAGNITUDE);
    let plain_cost = plain.cost();
    let ulp = FixedPoint::<T>::default().resolution();
    let bounds = error_bounds(p, &want, ulp);

    let mut f = Fixed::<T>::new().with_protocol(Protocol::Additive2);
    let fixed = run_with_parties(&mut f, p, 2).expect("fixed run");
    assert_within(&fixed, &want, &bounds, "fixed vs plain");
    prop_assert_eq!(&f.cost(), &plain_cost);

    let cfg = SharedConfig::default().insecure_test_seed(seed);
    let (outs, cost) =
        Additive::<T>::simulate_with_cost(&cfg, schedule, |r| run_with_parties(r, p, 2))
            .expect("two-party run");
    let twice: Vec<f64> = bounds.iter().map(|b| 2.0 * b).collect();
    for out in &outs {
        assert_within(out, &want, &bounds, "two-party vs plain");
        assert_within(out, &fixed, &twice, "two-party vs fixed");
    }
    prop_assert_eq!(&outs[0], &outs[1]);
    prop_assert_eq!(cost, plain_cost);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn random_programs_agree_on_two_parties_in_z2_64(p in program(), seed in any::<u64>()) {
        check_two_party_agreement::<u64>(&p, seed, DealerSchedule::Concurrent)?;
    }

    #[test]
    fn random_programs_agree_on_two_parties_in_z2_128(p in program(), seed in any::<u64>()) {
        check_two_party_agreement::<u128>(&p, seed, DealerSchedule::Concurrent)?;
    }

    #[test]
    fn random_programs_agree_with_the_dealer_ahead(p in program(), seed in any::<u64>()) {
        check_two_party_agreement::<u64>(&p, seed, DealerSchedule::Ahead)?;
    }

    #[test]
    fn random_programs_agree_in_z2_64(p in program(), seed in any::<u64>()) {
        check_domain_agreement::<u64>(&p, seed)?;
    }

    #[test]
    fn random_programs_agree_in_z2_128(p in program(), seed in any::<u64>()) {
        check_domain_agreement::<u128>(&p, seed)?;
    }
}

#[test]
fn broadcast_bias_and_sum_axis_agree() {
    // y = x·w + b, then column sums: the shapes a dense layer uses.
    fn prog<R: Ring>(r: &mut R) -> privml::Result<Vec<ndarray::ArrayD<f64>>> {
        let x = ndarray::arr2(&[[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]]).into_dyn();
        let w = ndarray::arr2(&[[1.0, 2.0], [-0.5, 0.125], [0.75, -1.0]]).into_dyn();
        let b = ndarray::arr2(&[[0.1, -0.2]]).into_dyn();
        let xs = r.input(0, r.owns(0).then_some(&x), &[2, 3])?;
        let ws = r.input(1, r.owns(1).then_some(&w), &[3, 2])?;
        let bs = r.input(0, r.owns(0).then_some(&b), &[1, 2])?;
        let y = r.matmul(&xs, &ws)?;
        let y = r.add(&y, &bs)?;
        let s = r.sum_axis(&y, 0)?;
        let t = r.slice_rows(&y, 1, 2)?;
        let u = r.reshape(&y, &[4])?;
        Ok(vec![
            r.reveal(&y)?,
            r.reveal(&s)?,
            r.reveal(&t)?,
            r.reveal(&u)?,
        ])
    }
    let want = prog(&mut Plain::new()).unwrap();
    let fixed = prog(&mut Fixed::<u64>::new()).unwrap();
    let runs = on_both_protocols!(&SharedConfig::default(), |r| prog(r));
    let secure = runs.iter().flat_map(|run| &run.outputs);
    for got in std::iter::once(&fixed).chain(secure) {
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(g.shape(), w.shape());
            for (a, b) in g.iter().zip(w) {
                approx::assert_abs_diff_eq!(a, b, epsilon = 1e-3);
            }
        }
    }
}

#[test]
fn reveal_to_reaches_only_its_party() {
    let runs = on_both_protocols!(&SharedConfig::default(), |r| {
        let v = ndarray::arr1(&[1.25, -3.0]).into_dyn();
        let x = r.input(1, r.owns(1).then_some(&v), &[2])?;
        r.reveal_to(0, &x)
    });
    for run in runs {
        let got = run.outputs[0].as_ref().expect("party 0 gets the value");
        assert_eq!(got.as_slice().unwrap(), &[1.25, -3.0], "{}", run.name());
        assert!(
            run.outputs[1..].iter().all(Option::is_none),
            "{}: only party 0 gets it",
            run.name()
        );
        let mut model = run.plain();
        let x = model
            .input(1, Some(&ndarray::arr1(&[0.0, 0.0]).into_dyn()), &[2])
            .unwrap();
        model.reveal_to(0, &x).unwrap();
        assert_eq!(run.cost, model.cost(), "{}", run.name());
    }
}
