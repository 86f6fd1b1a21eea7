//! The extension traits are written once for every domain: a domain that
//! implements only the required methods of `Ring` — here one defined outside
//! the crate — gets every provided method, layout helper and gadget, with
//! the same values and the same cost as the built-in domains.

use crate::protocols;

use ndarray::{ArrayD, arr1};
use privml::prelude::*;
use privml::{DomainInfo, Gather, PartyId, Tracker};
use protocols::on_both_protocols;

/// A domain that implements only the required methods of [`Ring`] (by
/// handing them to `Plain`): every provided method, every layout helper
/// and every gadget it has comes from the defaults and blanket impls.
struct CoreOnly(Plain);

impl Ring for CoreOnly {
    type Tensor = ArrayD<f64>;
    fn info(&self) -> DomainInfo {
        self.0.info()
    }
    fn shape<'a>(&self, x: &'a ArrayD<f64>) -> &'a [usize] {
        x.shape()
    }
    fn tracker(&self) -> &Tracker {
        self.0.tracker()
    }
    fn tracker_mut(&mut self) -> &mut Tracker {
        self.0.tracker_mut()
    }
    fn input(
        &mut self,
        owner: PartyId,
        value: Option<&ArrayD<f64>>,
        shape: &[usize],
    ) -> Result<ArrayD<f64>> {
        self.0.input(owner, value, shape)
    }
    fn constant(&mut self, value: &ArrayD<f64>) -> Result<ArrayD<f64>> {
        self.0.constant(value)
    }
    fn reveal(&mut self, x: &ArrayD<f64>) -> Result<ArrayD<f64>> {
        self.0.reveal(x)
    }
    fn reveal_to(&mut self, to: PartyId, x: &ArrayD<f64>) -> Result<Option<ArrayD<f64>>> {
        self.0.reveal_to(to, x)
    }
    fn reshare(&mut self, x: &ArrayD<f64>) -> Result<ArrayD<f64>> {
        self.0.reshare(x)
    }
    fn add(&mut self, a: &ArrayD<f64>, b: &ArrayD<f64>) -> Result<ArrayD<f64>> {
        self.0.add(a, b)
    }
    fn neg(&mut self, a: &ArrayD<f64>) -> Result<ArrayD<f64>> {
        self.0.neg(a)
    }
    fn add_public(&mut self, a: &ArrayD<f64>, c: &ArrayD<f64>) -> Result<ArrayD<f64>> {
        self.0.add_public(a, c)
    }
    fn scale_int(&mut self, a: &ArrayD<f64>, k: i64) -> Result<ArrayD<f64>> {
        self.0.scale_int(a, k)
    }
    fn sum_axis(&mut self, a: &ArrayD<f64>, axis: usize) -> Result<ArrayD<f64>> {
        self.0.sum_axis(a, axis)
    }
    fn gather(&mut self, parts: &[&ArrayD<f64>], plan: &Gather) -> Result<ArrayD<f64>> {
        self.0.gather(parts, plan)
    }
    fn mul_many(&mut self, pairs: &[(&ArrayD<f64>, &ArrayD<f64>)]) -> Result<Vec<ArrayD<f64>>> {
        self.0.mul_many(pairs)
    }
    fn matmul_many(&mut self, pairs: &[(&ArrayD<f64>, &ArrayD<f64>)]) -> Result<Vec<ArrayD<f64>>> {
        self.0.matmul_many(pairs)
    }
    fn div_pow2(&mut self, a: &ArrayD<f64>, bits: u32) -> Result<ArrayD<f64>> {
        self.0.div_pow2(a, bits)
    }
    fn lincomb_public(
        &mut self,
        terms: &[&ArrayD<f64>],
        coeffs: &[f64],
        coeff_frac_bits: u32,
    ) -> Result<ArrayD<f64>> {
        self.0.lincomb_public(terms, coeffs, coeff_frac_bits)
    }
    fn nonneg_select(
        &mut self,
        x: &ArrayD<f64>,
        ys: &[&ArrayD<f64>],
    ) -> Result<(ArrayD<f64>, Vec<ArrayD<f64>>)> {
        self.0.nonneg_select(x, ys)
    }
}

/// Every gadget on `r`, revealed.
fn all_gadgets<R: Ring>(r: &mut R) -> Result<Vec<ArrayD<f64>>> {
    let xv = arr1(&[-2.0, -0.5, 0.0, 0.25, 1.0, 3.5]).into_dyn();
    let yv = arr1(&[1.0, -0.5, 0.5, 0.25, -1.0, 4.0]).into_dyn();
    let x = r.input(0, r.owns(0).then_some(&xv), &[6])?;
    let y = r.input(1, r.owns(1).then_some(&yv), &[6])?;
    let (relu, d) = r.relu_with_derivative(&x)?;
    let (clip, inside, extra) = r.clip01_with(&x, &[&y])?;
    let grid = r.reshape(&x, &[2, 3])?;
    let (best, hot) = r.argmax_rows(&grid)?;
    let outs = [
        relu,
        d,
        r.relu(&x)?,
        r.relu_derivative(&x)?,
        r.sign(&x)?,
        r.less_than(&x, &y)?,
        r.max(&x, &y)?,
        clip,
        inside,
        extra[0].clone(),
        r.clip01(&y)?.0,
        best,
        hot,
        r.sub(&x, &y)?,
        r.mul_public(&x, 0.5)?,
    ];
    outs.iter().map(|t| r.reveal(t)).collect()
}

#[test]
fn a_domain_with_only_the_core_gets_every_gadget() {
    let mut core = CoreOnly(Plain::new());
    let got = all_gadgets(&mut core).unwrap();
    let want = [
        vec![0.0, 0.0, 0.0, 0.25, 1.0, 3.5],
        vec![0.0, 0.0, 1.0, 1.0, 1.0, 1.0],
        vec![0.0, 0.0, 0.0, 0.25, 1.0, 3.5],
        vec![0.0, 0.0, 1.0, 1.0, 1.0, 1.0],
        vec![-1.0, -1.0, 1.0, 1.0, 1.0, 1.0],
        vec![1.0, 0.0, 1.0, 0.0, 0.0, 1.0],
        vec![1.0, -0.5, 0.5, 0.25, 1.0, 4.0],
        vec![0.0, 0.0, 0.0, 0.25, 1.0, 1.0],
        vec![0.0, 0.0, 1.0, 1.0, 0.0, 0.0],
        vec![0.0, 0.0, 0.5, 0.25, 0.0, 0.0],
        vec![1.0, 0.0, 0.5, 0.25, 0.0, 1.0],
        vec![0.0, 3.5],
        vec![0.0, 0.0, 1.0, 0.0, 0.0, 1.0],
        vec![-3.0, 0.0, -0.5, 0.0, 2.0, -0.5],
        vec![-1.0, -0.25, 0.0, 0.125, 0.5, 1.75],
    ];
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g.iter().copied().collect::<Vec<_>>(), *w, "output {i}");
    }
    // the defaults cost what the domains' own versions cost
    let mut plain = Plain::new();
    assert_eq!(all_gadgets(&mut plain).unwrap(), got);
    assert_eq!(core.cost(), plain.cost());
}

#[test]
fn gadgets_agree_across_domains_with_the_predicted_cost() {
    let mut plain = Plain::new();
    let want = all_gadgets(&mut plain).unwrap();
    let mut fixed = Fixed::<u64>::new();
    let fixed_out = all_gadgets(&mut fixed).unwrap();
    assert_eq!(fixed.cost(), plain.cost());
    let close = |got: &Vec<ArrayD<f64>>, who: &str| {
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(g.shape(), w.shape());
            for (a, b) in g.iter().zip(w) {
                assert!((a - b).abs() < 1e-4, "{who}: {a} vs {b}");
            }
        }
    };
    close(&fixed_out, "fixed");
    for run in on_both_protocols!(&Default::default(), |r| all_gadgets(r)) {
        for out in &run.outputs {
            close(out, run.name());
        }
        let mut model = run.plain();
        all_gadgets(&mut model).unwrap();
        assert_eq!(run.cost, model.cost(), "{}", run.name());
    }
}
