//! The two-party domain with a dealer: values, costs and refusals.

use ndarray::{ArrayD, arr1, arr2};
use privml::cost::Protocol;
use privml::{Additive, DealerSchedule, Gadgets, Plain, Ring, SharedConfig};

fn given(r: &impl Ring, owner: usize, v: &ArrayD<f64>) -> Option<ArrayD<f64>> {
    r.owns(owner).then(|| v.clone())
}

#[test]
fn products_comparisons_and_costs_match_plain() {
    fn prog<R: Ring>(r: &mut R) -> privml::Result<Vec<ArrayD<f64>>> {
        let x = arr2(&[[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]]).into_dyn();
        let w = arr2(&[[1.0, 2.0], [-0.5, 0.125], [0.75, -1.0]]).into_dyn();
        let b = arr1(&[0.1, -0.2]).into_dyn();
        let xs = r.input(0, given(r, 0, &x).as_ref(), &[2, 3])?;
        let ws = r.input(1, given(r, 1, &w).as_ref(), &[3, 2])?;
        let bs = r.input(1, given(r, 1, &b).as_ref(), &[2])?;
        let y = r.matmul(&xs, &ws)?;
        let y = r.add(&y, &bs)?;
        let z = r.mul(&y, &bs)?;
        let s = r.relu(&y)?;
        let m = r.max(&z, &y)?;
        let h = r.mul_public(&y, 0.5)?;
        Ok(vec![
            r.reveal(&y)?,
            r.reveal(&z)?,
            r.reveal(&s)?,
            r.reveal(&m)?,
            r.reveal(&h)?,
        ])
    }
    let mut plain = Plain::new().with_protocol(Protocol::Additive2);
    let want = prog(&mut plain).unwrap();
    let cfg = SharedConfig::default();
    for schedule in [DealerSchedule::Concurrent, DealerSchedule::Ahead] {
        let (got, cost) = Additive::<u64>::simulate_with_cost(&cfg, schedule, prog).unwrap();
        for party in &got {
            for (g, w) in party.iter().zip(&want) {
                for (a, b) in g.iter().zip(w) {
                    approx::assert_abs_diff_eq!(a, b, epsilon = 1e-3);
                }
            }
        }
        assert_eq!(cost, plain.cost());
    }
}
