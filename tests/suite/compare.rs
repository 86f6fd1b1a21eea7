//! Secure comparison: ReLU, sign, less-than, max and argmax on shares equal
//! the plaintext results, exactly, across the whole fixed-point range, on
//! the three-party protocol and on the two-party one with a dealer.

use ndarray::{Array1, Array2, ArrayD};
use privml::cost::Protocol;
use privml::{
    Additive, DealerSchedule, Fixed, FixedPoint, Gadgets, Plain, Ring, Shared, SharedConfig,
};
use proptest::prelude::*;

fn edge_values<T: privml::ring::RingElement>() -> Vec<f64> {
    let fp = FixedPoint::<T>::default();
    let u = fp.resolution();
    vec![
        0.0,
        u,
        -u,
        2.0 * u,
        -2.0 * u,
        1.0,
        -1.0,
        fp.max_value(),
        fp.min_value(),
        fp.max_value() / 2.0,
        fp.min_value() / 2.0,
    ]
}

/// Every comparison op on `x` (and `y` for the binary ones).
fn ops<R: Ring>(r: &mut R, x: &ArrayD<f64>, y: &ArrayD<f64>) -> privml::Result<Vec<ArrayD<f64>>> {
    let xs = r.input(0, r.owns(0).then_some(x), x.shape())?;
    let ys = r.input(1, r.owns(1).then_some(y), y.shape())?;
    let (relu, step) = r.relu_with_derivative(&xs)?;
    let sign = r.sign(&xs)?;
    let lt = r.less_than(&xs, &ys)?;
    let mx = r.max(&xs, &ys)?;
    Ok(vec![
        r.reveal(&relu)?,
        r.reveal(&step)?,
        r.reveal(&sign)?,
        r.reveal(&lt)?,
        r.reveal(&mx)?,
    ])
}

fn expected(x: &ArrayD<f64>, y: &ArrayD<f64>) -> Vec<ArrayD<f64>> {
    let relu = x.mapv(|v| v.max(0.0));
    let step = x.mapv(|v| (v >= 0.0) as u8 as f64);
    let sign = x.mapv(|v| if v >= 0.0 { 1.0 } else { -1.0 });
    let lt = ndarray::Zip::from(x)
        .and(y)
        .map_collect(|a, b| (a < b) as u8 as f64);
    let mx = ndarray::Zip::from(x).and(y).map_collect(|a, b| a.max(*b));
    vec![relu, step, sign, lt, mx]
}

/// Values that are exact in the fixed-point format (so comparisons with f64 are exact).
fn quantize<T: privml::ring::RingElement>(v: Vec<f64>) -> ArrayD<f64> {
    let fp = FixedPoint::<T>::default();
    Array1::from_iter(
        v.into_iter()
            .map(|x| fp.decode(fp.encode(x).expect("in range"))),
    )
    .into_dyn()
}

fn check<T: privml::ring::RingElement>(
    xv: Vec<f64>,
    yv: Vec<f64>,
    seed: u64,
) -> Result<(), TestCaseError> {
    let x = quantize::<T>(xv);
    let y = quantize::<T>(yv);
    let want = expected(&x, &y);
    let mut f = Fixed::<T>::new();
    let fixed = ops(&mut f, &x, &y).expect("fixed");
    let cfg = SharedConfig::default().insecure_test_seed(seed);
    let (shared, cost) = Shared::<T>::simulate_with_cost(&cfg, |r| ops(r, &x, &y)).expect("shared");
    for (i, w) in want.iter().enumerate() {
        // max(a, b) = b + relu(a - b) is exact unless a - b overflows, which
        // the values below avoid
        prop_assert_eq!(&fixed[i], w, "fixed op {}", i);
        for s in &shared {
            prop_assert_eq!(&s[i], w, "shared op {}", i);
        }
    }
    let mut p = Plain::new().with_elem_bytes(T::BYTES as u64);
    ops(&mut p, &x, &y).expect("plain");
    prop_assert_eq!(cost, p.cost(), "predicted cost = measured cost");

    let (two, cost2) =
        Additive::<T>::simulate_with_cost(&cfg, DealerSchedule::Concurrent, |r| ops(r, &x, &y))
            .expect("two-party");
    for (i, w) in want.iter().enumerate() {
        for s in &two {
            prop_assert_eq!(&s[i], w, "two-party op {}", i);
        }
    }
    let mut p2 = Plain::new()
        .with_elem_bytes(T::BYTES as u64)
        .with_protocol(Protocol::Additive2);
    ops(&mut p2, &x, &y).expect("plain");
    prop_assert_eq!(cost2, p2.cost(), "predicted two-party cost = measured cost");
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn comparisons_match_plaintext_u64(
        xv in proptest::collection::vec(-1.0e6f64..1.0e6, 1..200),
        seed in any::<u64>(),
    ) {
        let n = xv.len();
        let mut x = xv.clone();
        x.extend(edge_values::<u64>().iter().map(|v| v / 4.0)); // |x - y| must fit the ring
        let y: Vec<f64> = x.iter().enumerate().map(|(i, v)| if i % 3 == 0 { *v } else { -v / 2.0 + (i as f64) }).collect();
        let _ = n;
        check::<u64>(x, y, seed)?;
    }

    #[test]
    fn comparisons_match_plaintext_u128(
        xv in proptest::collection::vec(-1.0e12f64..1.0e12, 1..100),
        seed in any::<u64>(),
    ) {
        let mut x = xv;
        x.extend(edge_values::<u128>().iter().map(|v| v / 4.0));
        let y: Vec<f64> = x.iter().map(|v| -v / 3.0).collect();
        check::<u128>(x, y, seed)?;
    }
}

#[test]
fn relu_and_sign_at_the_exact_range_edges() {
    // relu alone needs no subtraction, so the full range is fair game
    let fp = FixedPoint::<u64>::default();
    let x = Array1::from_vec(edge_values::<u64>()).into_dyn();
    let prog = |r: &mut Shared<u64>| {
        let xs = r.input(0, r.owns(0).then_some(&x), x.shape())?;
        let (relu, d) = r.relu_with_derivative(&xs)?;
        Ok((r.reveal(&relu)?, r.reveal(&d)?))
    };
    let [(relu, d), _, _] = Shared::<u64>::simulate(prog).unwrap();
    let [(relu2, d2), _] = Additive::<u64>::simulate(|r| {
        let xs = r.input(0, r.owns(0).then_some(&x), x.shape())?;
        let (relu, d) = r.relu_with_derivative(&xs)?;
        Ok((r.reveal(&relu)?, r.reveal(&d)?))
    })
    .unwrap();
    for (relu, d) in [(&relu, &d), (&relu2, &d2)] {
        for ((v, r), s) in x.iter().zip(relu.iter()).zip(d.iter()) {
            assert_eq!(*r, v.max(0.0), "relu({v})");
            assert_eq!(*s, (*v >= 0.0) as u8 as f64, "step({v})");
        }
    }
    assert_eq!(fp.min_value(), x[8]);
}

fn argmax<R: Ring>(
    r: &mut R,
    owner: usize,
    m: &ArrayD<f64>,
) -> privml::Result<(ArrayD<f64>, ArrayD<f64>)> {
    let xs = r.input(owner, r.owns(owner).then_some(m), m.shape())?;
    let (mx, hot) = r.argmax_rows(&xs)?;
    Ok((r.reveal(&mx)?, r.reveal(&hot)?))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    #[test]
    fn argmax_matches_plaintext(
        rows in 1usize..6,
        k in 1usize..12,
        vals in proptest::collection::vec(-100i32..100, 72),
        seed in any::<u64>(),
    ) {
        // small integers: ties happen, and the first maximum must win
        let m = Array2::from_shape_fn((rows, k), |(i, j)| vals[(i * k + j) % vals.len()] as f64 / 4.0).into_dyn();
        let (pm, ph) = argmax(&mut Plain::new(), 2, &m).unwrap();
        let cfg = SharedConfig::default().insecure_test_seed(seed);
        let [(sm, sh), _, _] = Shared::<u64>::simulate_with(&cfg, |r| argmax(r, 2, &m)).unwrap();
        let [(tm, th), _] = Additive::<u64>::simulate_with(&cfg, DealerSchedule::Concurrent, |r| {
            argmax(r, 1, &m)
        })
        .unwrap();
        for i in 0..rows {
            let row: Vec<f64> = (0..k).map(|j| m[[i, j]]).collect();
            let best = row.iter().cloned().fold(f64::MIN, f64::max);
            let first = row.iter().position(|v| *v == best).unwrap();
            prop_assert_eq!(pm[[i, 0]], best);
            prop_assert_eq!(sm[[i, 0]], best);
            prop_assert_eq!(tm[[i, 0]], best);
            for j in 0..k {
                let want = (j == first) as u8 as f64;
                prop_assert_eq!(ph[[i, j]], want);
                prop_assert_eq!(sh[[i, j]], want);
                prop_assert_eq!(th[[i, j]], want);
            }
        }
    }
}

#[test]
fn piecewise_sigmoid_matches_plaintext() {
    use privml::nn::{Activation, piecewise_sigmoid_f64};
    let x = Array1::from_vec((-40..=40).map(|i| i as f64 / 8.0).collect()).into_dyn();
    for slope in [1.0, 0.25] {
        let prog = |r: &mut Shared<u64>| {
            let xs = r.input(0, r.owns(0).then_some(&x), x.shape())?;
            let y = Activation::PiecewiseSigmoid { slope }.apply(r, &xs)?;
            r.reveal(&y)
        };
        let [got, _, _] = Shared::<u64>::simulate(prog).unwrap();
        let [got2, _] = Additive::<u64>::simulate(|r| {
            let xs = r.input(0, r.owns(0).then_some(&x), x.shape())?;
            let y = Activation::PiecewiseSigmoid { slope }.apply(r, &xs)?;
            r.reveal(&y)
        })
        .unwrap();
        let mut plain = Plain::new();
        let xp = plain.constant(&x).unwrap();
        let ys = Activation::PiecewiseSigmoid { slope }
            .apply(&mut plain, &xp)
            .unwrap();
        let yp = plain.reveal(&ys).unwrap();
        for ((g, p), v) in got.iter().zip(yp.iter()).zip(x.iter()) {
            let want = piecewise_sigmoid_f64(*v, slope);
            assert_eq!(*p, want, "plain at {v}");
            assert!(
                (g - want).abs() <= 2.0 / 65536.0,
                "shared at {v}: {g} vs {want}"
            );
        }
        for (g, v) in got2.iter().zip(x.iter()) {
            let want = piecewise_sigmoid_f64(*v, slope);
            assert!(
                (g - want).abs() <= 2.0 / 65536.0,
                "two-party at {v}: {g} vs {want}"
            );
        }
    }
}
