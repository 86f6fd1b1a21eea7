//! Training networks end to end: a tiny CNN learns a synthetic image
//! problem on `Plain` and on shares (both protocols) with the same loss
//! trajectory; SGD, momentum and Adam all learn it; the optimiser's secret state survives an
//! export and import; a regression's RMSE and R² on shares match the clear
//! ones. Sizes are CI-sized (a few dozen images of 6 x 6).

use crate::protocols;

use ndarray::{Array2, Array4, ArrayD};
use privml::SharedConfig;
use privml::nn::{
    AdamConfig, Loss, LossReport, Network, NetworkSpec, Optimizer, OptimizerConfig, Schedule,
    classification_accuracy, regression_scores, train_network,
};
use privml::prelude::*;
use protocols::on_both_protocols;

const ROWS: usize = 48;
const CLASSES: usize = 3;

/// 6 x 6 images of a horizontal bar, a vertical bar or a diagonal (class =
/// row mod 3), at a position and with noise that vary by row.
fn images() -> (ArrayD<f64>, ArrayD<f64>) {
    let noise = |i: usize, j: usize| (((i * 37 + j * 11) % 17) as f64 / 17.0 - 0.5) * 0.3;
    let x = Array4::from_shape_fn((ROWS, 1, 6, 6), |(i, _, h, w)| {
        let at = 1 + (i / 3) % 4;
        let on = match i % CLASSES {
            0 => h == at,
            1 => w == at,
            _ => h == w,
        };
        f64::from(u8::from(on)) + noise(i, h * 6 + w)
    })
    .into_dyn();
    let y = Array2::from_shape_fn((ROWS, CLASSES), |(i, j)| {
        f64::from(u8::from(i % CLASSES == j))
    })
    .into_dyn();
    (x, y)
}

fn spec() -> NetworkSpec {
    NetworkSpec::parse("conv:4k3,maxpool:2,relu,dense:3", "1x6x6").unwrap()
}

/// Trains on any domain and returns the revealed batch losses and the
/// final training accuracy (both revealed: explicit, small disclosures).
fn train<R: Ring + 'static>(
    r: &mut R,
    optimizer: OptimizerConfig,
    epochs: usize,
) -> Result<(Vec<f64>, f64)> {
    let (xv, yv) = images();
    let x = r.input(1, r.owns(1).then_some(&xv), xv.shape())?;
    let y = r.input(1, r.owns(1).then_some(&yv), yv.shape())?;
    let mut net = Network::init(r, &spec(), 5)?;
    let mut opt = Optimizer::new(optimizer)?;
    let schedule = Schedule {
        epochs,
        batch: 8,
        loss: Loss::CrossEntropy,
        report: LossReport::EveryBatches(3),
    };
    let mut losses = Vec::new();
    train_network(r, &mut net, &mut opt, (&x, &y), schedule, |_, _, rep| {
        losses.extend(rep.loss);
        Ok(())
    })?;
    let out = net.predict(r, &x)?;
    let acc = classification_accuracy(r, &out, &y)?;
    Ok((losses, acc))
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

#[test]
fn a_tiny_cnn_learns_on_plain_and_shared_alike() {
    let sgd = OptimizerConfig::named("sgd", 0.5).unwrap();
    let (plain, plain_acc) = train(&mut Plain::new(), sgd, 4).unwrap();
    // it learns: the loss falls well below ln 3 and the training set is
    // mostly classified
    assert!(
        mean(&plain[plain.len() - 4..]) < 0.5 * mean(&plain[..2]),
        "{plain:?}"
    );
    assert!(plain_acc > 0.9, "{plain_acc}");
    let cfg = SharedConfig::default().insecure_test_seed(3);
    for run in on_both_protocols!(&cfg, |r| train(r, sgd, 4)) {
        let (losses, acc) = run.first();
        assert_eq!(losses.len(), plain.len());
        // the same trajectory on shares (fixed point: rounding and the
        // approximate softmax, no other difference)
        for (k, (s, p)) in losses.iter().zip(&plain).enumerate() {
            assert!(
                (s - p).abs() < 0.05 + 0.05 * p,
                "{}: batch report {k}: shared {s} vs plain {p}",
                run.name()
            );
        }
        assert!(
            (acc - plain_acc).abs() <= 2.0 / ROWS as f64 + 1e-9,
            "{}: {acc} vs {plain_acc}",
            run.name()
        );
        assert!(run.outputs.iter().all(|(l, a)| l == losses && a == acc));
    }
}

#[test]
fn momentum_and_adam_learn_it_too_and_adam_on_shares_follows_plain() {
    let momentum = OptimizerConfig::Momentum {
        lr: 0.2,
        momentum: 0.9,
    };
    let (m_losses, m_acc) = train(&mut Plain::new(), momentum, 4).unwrap();
    assert!(
        mean(&m_losses[m_losses.len() - 4..]) < 0.5 * mean(&m_losses[..2]),
        "{m_losses:?}"
    );
    assert!(m_acc > 0.9, "{m_acc}");

    let adam = OptimizerConfig::Adam(AdamConfig {
        lr: 0.05,
        ..AdamConfig::default()
    });
    let (plain, plain_acc) = train(&mut Plain::new(), adam, 4).unwrap();
    assert!(
        mean(&plain[plain.len() - 4..]) < 0.5 * mean(&plain[..2]),
        "{plain:?}"
    );
    assert!(plain_acc > 0.9, "{plain_acc}");
    let cfg = SharedConfig::default().insecure_test_seed(4);
    for run in on_both_protocols!(&cfg, |r| train(r, adam, 4)) {
        let (losses, acc) = run.first();
        for (k, (s, p)) in losses.iter().zip(&plain).enumerate() {
            assert!(
                (s - p).abs() < 0.08 + 0.08 * p,
                "{}: batch report {k}: shared {s} vs plain {p}",
                run.name()
            );
        }
        assert!(
            (acc - plain_acc).abs() <= 3.0 / ROWS as f64 + 1e-9,
            "{}: {acc} vs {plain_acc}",
            run.name()
        );
    }
}

/// Two steps, then the optimiser exported and imported, then two more:
/// returns the final parameters.
fn steps_with_a_break<R: Ring + Session + 'static>(
    r: &mut R,
    config: OptimizerConfig,
    reload: bool,
) -> Result<Vec<ArrayD<f64>>> {
    let (xv, yv) = images();
    let x = r.input(1, r.owns(1).then_some(&xv), xv.shape())?;
    let y = r.input(1, r.owns(1).then_some(&yv), yv.shape())?;
    let mut net = Network::init(r, &spec(), 8)?;
    let mut opt = Optimizer::new(config)?;
    for step in 0..4 {
        if step == 2 && reload {
            let saved = opt.export(r);
            let params = net.export(r);
            opt = Optimizer::import(r, &saved)?;
            net = Network::import(r, &spec(), &params)?;
            assert_eq!(opt.steps(), 2);
        }
        let xb = r.slice_rows(&x, 8 * step, 8 * step + 8)?;
        let yb = r.slice_rows(&y, 8 * step, 8 * step + 8)?;
        let out = net.forward(r, &xb)?;
        let delta = Loss::CrossEntropy.error_signal(r, &out, &yb)?;
        net.backward(r, &delta)?;
        opt.step(r, &mut net, 8)?;
    }
    net.reveal_parameters(r)
}

#[test]
fn optimizer_state_is_saved_and_loaded_with_the_weights() {
    for config in [
        OptimizerConfig::Momentum {
            lr: 0.2,
            momentum: 0.9,
        },
        OptimizerConfig::Adam(AdamConfig {
            lr: 0.05,
            amsgrad: true,
            ..AdamConfig::default()
        }),
    ] {
        let straight = steps_with_a_break(&mut Plain::new(), config, false).unwrap();
        let reloaded = steps_with_a_break(&mut Plain::new(), config, true).unwrap();
        assert_eq!(straight, reloaded, "{config:?}");
        let cfg = SharedConfig::default().insecure_test_seed(6);
        for run in on_both_protocols!(&cfg, |r| steps_with_a_break(r, config, true)) {
            for (s, p) in run.first().iter().zip(&straight) {
                for (a, b) in s.iter().zip(p.iter()) {
                    assert!(
                        (a - b).abs() < 2e-2,
                        "{}: {config:?}: {a} vs {b}",
                        run.name()
                    );
                }
            }
        }
    }
    // state of another kind is refused
    let mut r = Plain::new();
    let adam = Optimizer::<Plain>::new(OptimizerConfig::Adam(AdamConfig::default())).unwrap();
    let mut state = adam.export(&r);
    state.step = 3;
    assert!(Optimizer::<Plain>::import(&mut r, &state).is_err());
    assert!(OptimizerConfig::named("adam", -1.0).is_err());
    assert!(
        Optimizer::<Plain>::new(OptimizerConfig::Momentum {
            lr: 0.1,
            momentum: 1.0
        })
        .is_err()
    );
}

/// y = Σ_j w_j x_j + 0.3 sin(3 x_0) on 64 rows of 3 features: trains a
/// small regression network, returns (RMSE, R²) on the training rows.
fn regression<R: Ring + 'static>(r: &mut R) -> Result<(f64, f64)> {
    let xv = Array2::from_shape_fn((64, 3), |(i, j)| {
        (((i * 7 + j * 13) % 23) as f64 / 11.5) - 1.0
    });
    let yv = Array2::from_shape_fn((64, 1), |(i, _)| {
        let row = xv.row(i);
        0.8 * row[0] - 0.5 * row[1] + 0.3 * row[2] + 0.3 * (3.0 * row[0]).sin()
    });
    let (xv, yv) = (xv.into_dyn(), yv.into_dyn());
    let x = r.input(1, r.owns(1).then_some(&xv), xv.shape())?;
    let y = r.input(1, r.owns(1).then_some(&yv), yv.shape())?;
    let spec = NetworkSpec::parse("dense:8,relu,dense:1", "3")?;
    let mut net = Network::init(r, &spec, 2)?;
    let mut opt = Optimizer::new(OptimizerConfig::Momentum {
        lr: 0.05,
        momentum: 0.9,
    })?;
    let schedule = Schedule {
        epochs: 15,
        batch: 16,
        loss: Loss::MeanSquare,
        report: LossReport::Off,
    };
    train_network(r, &mut net, &mut opt, (&x, &y), schedule, |_, _, _| Ok(()))?;
    let p = net.predict(r, &x)?;
    let s = regression_scores(r, &p, &y)?;
    Ok((s.rmse, s.r2))
}

#[test]
fn regression_scores_on_shares_match_the_clear_ones() {
    let (rmse, r2) = regression(&mut Plain::new()).unwrap();
    assert!(r2 > 0.8, "{r2}");
    for run in on_both_protocols!(&SharedConfig::default(), |r| regression(r)) {
        let (s_rmse, s_r2) = *run.first();
        assert!((s_r2 - r2).abs() < 0.02, "{}: {s_r2} vs {r2}", run.name());
        assert!(
            (s_rmse - rmse).abs() < 0.02,
            "{}: {s_rmse} vs {rmse}",
            run.name()
        );
    }
}
