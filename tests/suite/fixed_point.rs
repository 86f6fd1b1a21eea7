//! Fixed-point encoding, bad input, overflow reports and hand-checked costs.
//! Bad input gets the same typed error on every domain, both secure
//! protocols included.

use crate::protocols;

use ndarray::{ArrayD, arr1, arr2};
use privml::{Error, Fixed, FixedPoint, OverflowPolicy, Plain, Ring, Shared, SharedConfig};
use proptest::prelude::*;
use protocols::try_on_both_protocols;

proptest! {
    #[test]
    fn encode_decode_within_half_ulp_u64(x in -1.0e9f64..1.0e9, f in 1u32..=30) {
        let fp = FixedPoint::<u64>::new(f).unwrap();
        let back = fp.decode(fp.encode(x).unwrap());
        prop_assert!((back - x).abs() <= fp.resolution() / 2.0 + x.abs() * f64::EPSILON);
    }

    #[test]
    fn encode_decode_within_half_ulp_u128(x in -1.0e15f64..1.0e15, f in 1u32..=60) {
        let fp = FixedPoint::<u128>::new(f).unwrap();
        let back = fp.decode(fp.encode(x).unwrap());
        prop_assert!((back - x).abs() <= fp.resolution() / 2.0 + x.abs() * f64::EPSILON);
    }

    #[test]
    fn out_of_range_is_rejected_not_wrapped(f in 1u32..=30, factor in 1.0f64..1e6) {
        let fp = FixedPoint::<u64>::new(f).unwrap();
        let x = -fp.min_value() * factor;
        let is_range_error = matches!(fp.encode(x), Err(Error::OutOfRange { .. }));
        prop_assert!(is_range_error);
        let is_range_error = matches!(fp.encode(-x * 1.0001), Err(Error::OutOfRange { .. }));
        prop_assert!(is_range_error);
    }
}

fn nan_input<R: Ring>(r: &mut R) -> privml::Result<ArrayD<f64>> {
    let v = arr1(&[1.0, f64::NAN]).into_dyn();
    let x = r.input(0, r.owns(0).then_some(&v), &[2])?;
    r.reveal(&x)
}

fn inf_constant<R: Ring>(r: &mut R) -> privml::Result<R::Tensor> {
    r.constant(&arr1(&[f64::NEG_INFINITY]).into_dyn())
}

fn huge_input<R: Ring>(r: &mut R) -> privml::Result<ArrayD<f64>> {
    let v = arr1(&[3.0e20]).into_dyn();
    let x = r.input(1, r.owns(1).then_some(&v), &[1])?;
    r.reveal(&x)
}

fn shape_mismatch<R: Ring>(r: &mut R) -> privml::Result<R::Tensor> {
    let a = r.constant(&arr2(&[[1.0, 2.0], [3.0, 4.0]]).into_dyn())?;
    let b = r.constant(&arr2(&[[1.0, 2.0, 3.0]]).into_dyn())?;
    r.matmul(&a, &b)
}

fn add_mismatch<R: Ring>(r: &mut R) -> privml::Result<R::Tensor> {
    let a = r.constant(&arr1(&[1.0, 2.0]).into_dyn())?;
    let b = r.constant(&arr1(&[1.0, 2.0, 3.0]).into_dyn())?;
    r.add(&a, &b)
}

#[test]
fn bad_input_gives_the_right_error_on_every_domain() {
    assert!(matches!(
        nan_input(&mut Plain::new()),
        Err(Error::NonFinite { index: 1, .. })
    ));
    assert!(matches!(
        nan_input(&mut Fixed::<u64>::new()),
        Err(Error::NonFinite { index: 1, .. })
    ));
    for (who, e) in try_on_both_protocols!(&SharedConfig::default(), |r| nan_input(r)) {
        assert!(
            matches!(e, Err(Error::NonFinite { index: 1, .. })),
            "{who}: {e:?}"
        );
    }

    assert!(matches!(
        inf_constant(&mut Plain::new()),
        Err(Error::NonFinite { .. })
    ));
    assert!(matches!(
        inf_constant(&mut Fixed::<u128>::new()),
        Err(Error::NonFinite { .. })
    ));

    assert!(huge_input(&mut Plain::new()).is_ok(), "f64 holds 3e20");
    match huge_input(&mut Fixed::<u64>::new()) {
        Err(Error::OutOfRange { value, max, .. }) => {
            assert_eq!(value, 3.0e20);
            assert!(max < 3.0e20);
        }
        other => panic!("expected OutOfRange, got {other:?}"),
    }
    for (who, e) in try_on_both_protocols!(&SharedConfig::default(), |r| huge_input(r)) {
        assert!(matches!(e, Err(Error::OutOfRange { .. })), "{who}: {e:?}");
    }
    assert!(
        huge_input(&mut Fixed::<u128>::new()).is_ok(),
        "Z_2^128 holds 3e20"
    );

    let cfg = SharedConfig::default();
    let secure = try_on_both_protocols!(&cfg, |r| shape_mismatch(r).map(|_| ()))
        .into_iter()
        .chain(try_on_both_protocols!(&cfg, |r| add_mismatch(r).map(|_| ())))
        .map(|(_, e)| e.unwrap_err());
    for e in [
        shape_mismatch(&mut Plain::new()).unwrap_err(),
        shape_mismatch(&mut Fixed::<u64>::new()).unwrap_err(),
        add_mismatch(&mut Plain::new()).unwrap_err(),
        add_mismatch(&mut Fixed::<u64>::new()).unwrap_err(),
    ]
    .into_iter()
    .chain(secure)
    {
        assert!(matches!(e, Error::ShapeMismatch { .. }), "{e}");
    }
    let msg = shape_mismatch(&mut Plain::new()).unwrap_err().to_string();
    assert!(
        msg.contains("matmul") && msg.contains("[2, 2]") && msg.contains("[1, 3]"),
        "{msg}"
    );

    assert!(matches!(
        FixedPoint::<u64>::new(40),
        Err(Error::InvalidParameter { .. })
    ));
    for (who, e) in try_on_both_protocols!(&SharedConfig::default().frac_bits(0), |_r| Ok(())) {
        assert!(
            matches!(e, Err(Error::InvalidParameter { .. })),
            "{who}: {e:?}"
        );
    }
    let mut p = Plain::new();
    let x = p.scalar(1.0).unwrap();
    assert!(matches!(p.reveal_to(3, &x), Err(Error::InvalidParty(3))));
}

/// x^9 by repeated multiplication, the way the tutorial's `__pow__` does it.
fn ninth_power<R: Ring>(r: &mut R, x: f64) -> privml::Result<ArrayD<f64>> {
    let v = arr1(&[0.5, x]).into_dyn();
    let xs = r.input(0, r.owns(0).then_some(&v), &[2])?;
    let mut p = xs.clone();
    for k in 2..=9 {
        r.set_step(k);
        r.set_label("x^k");
        p = r.mul(&p, &xs)?;
    }
    r.reveal(&p)
}

#[test]
fn ninth_power_outside_the_safe_range_is_reported_with_its_operation() {
    // 16 fraction bits: products must stay below 2^30 ≈ 1.07e9. 11^9 = 2.36e9.
    let err = ninth_power(&mut Fixed::<u64>::new(), 11.0).unwrap_err();
    match &err {
        Error::Overflow(ev) => {
            assert_eq!(ev.op, "mul");
            assert_eq!(ev.label, "x^k");
            assert_eq!(ev.step, 9, "x^8 · x is the product that leaves the range");
            assert_eq!(ev.count, 1, "only the element 11.0 overflows");
            approx::assert_relative_eq!(ev.magnitude, 11f64.powi(9), max_relative = 1e-3);
            approx::assert_relative_eq!(ev.limit, 2f64.powi(30));
        }
        other => panic!("expected an overflow report, got {other}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("overflow in mul") && msg.contains("x^k"),
        "{msg}"
    );

    // Inside the range nothing is reported and the result is right.
    let ok = ninth_power(&mut Fixed::<u64>::new(), 9.0).unwrap();
    approx::assert_relative_eq!(ok[1], 9f64.powi(9), max_relative = 1e-4);

    // Under the Warn policy the run goes on and the events are counted.
    let mut warn = Fixed::<u64>::new().policy(OverflowPolicy::Warn);
    let wrapped = ninth_power(&mut warn, 11.0).unwrap();
    assert_eq!(warn.overflow_count(), 1);
    assert_eq!(warn.overflows()[0].op, "mul");
    assert!(
        (wrapped[1] - 11f64.powi(9)).abs() > 1.0,
        "the value wrapped, as the secure run would"
    );

    // Z_2^128 (32 fraction bits, bound 2^62) holds it.
    let wide = ninth_power(&mut Fixed::<u128>::new(), 11.0).unwrap();
    approx::assert_relative_eq!(wide[1], 11f64.powi(9), max_relative = 1e-6);
}

#[test]
fn plain_reports_the_first_non_finite_result() {
    let mut r = Plain::new();
    let x = r.scalar(1e200).unwrap();
    r.set_label("blow-up");
    match r.mul(&x, &x) {
        Err(Error::NonFiniteResult { at }) => {
            assert!(at.contains("blow-up") && at.contains("mul"), "{at}")
        }
        other => panic!("{other:?}"),
    }
}

/// The example program whose cost is computed by hand below.
fn small_program<R: Ring>(r: &mut R) -> privml::Result<()> {
    let x = arr2(&[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]).into_dyn(); // 2 x 3
    let w = arr2(&[[0.5], [0.25], [0.125]]).into_dyn(); // 3 x 1
    let xs = r.input(0, r.owns(0).then_some(&x), &[2, 3])?;
    let ws = r.input(1, r.owns(1).then_some(&w), &[3, 1])?;
    let y = r.matmul(&xs, &ws)?; // 2 outputs
    let y2 = r.mul(&y, &y)?; // 2 products
    let h = r.mul_public(&y2, 0.5)?; // 2 truncations
    let _ = r.add(&h, &y)?; // free
    r.reveal(&h)?; // 2 elements
    Ok(())
}

#[test]
fn cost_counters_equal_hand_computed_values() {
    // Hand count, 8-byte elements:
    //   input x (6 el. by P0): 1 round, P0 sends 2·6·8 = 96 B in 2 messages
    //   input w (3 el. by P1): 1 round, P1 sends 2·3·8 = 48 B in 2 messages
    //   matmul, 2 outputs:     2 rounds, every party 2·2·8 = 32 B; messages 2,2,1
    //   mul, 2 products:       2 rounds, 32 B each; messages 2,2,1
    //   mul_public, 2 el.:     2 rounds, 32 B each; messages 2,2,1
    //   reveal 2 el.:          1 round, 16 B each, 1 message each
    let want = privml::Cost {
        mults: 2,
        matmul_outputs: 2,
        truncations: 6,
        comparisons: 0,
        input_elements: 9,
        revealed_elements: 2,
        opened_to_all: privml::cost::Openings {
            ops: 1,
            elements: 2,
        },
        opened_to: Default::default(),
        rounds: 1 + 1 + 2 + 2 + 2 + 1,
        bytes_sent: [96 + 32 * 3 + 16, 48 + 32 * 3 + 16, 32 * 3 + 16],
        messages_sent: [2 + 2 * 3 + 1, 2 + 2 * 3 + 1, 3 + 1],
        ..Default::default()
    };
    let mut p = Plain::new();
    small_program(&mut p).unwrap();
    assert_eq!(p.cost(), want);
    let mut f = Fixed::<u64>::new();
    small_program(&mut f).unwrap();
    assert_eq!(f.cost(), want);
    let (_, shared) =
        Shared::<u64>::simulate_with_cost(&SharedConfig::default(), small_program).unwrap();
    assert_eq!(shared, want);
    // Z_2^128 doubles every byte count and nothing else.
    let mut p128 = Plain::new().with_elem_bytes(16);
    small_program(&mut p128).unwrap();
    assert_eq!(p128.cost().bytes_sent, want.bytes_sent.map(|b| 2 * b));
    assert_eq!(p128.cost().rounds, want.rounds);
}
