//! What each job opens, and to whom (issue 13, "Leaks" 1).
//!
//! Every disclosure path of `nn`, `learn`, `fl` and `experiments` is run on
//! secret shares and its openings are compared with the module's written
//! disclosure list, with the cost counters as the witness: how many
//! `reveal`s and `reveal_to`s, how many values each, and to whom
//! (`Cost::opened_to_all`, `Cost::opened_to`). The tests that pin down the
//! leaks themselves, runnable on the commit before the fix, are in
//! `tests/suite/leaks.rs`.

use crate::full_batch;
use crate::temp_dir;

use full_batch::full_batch;
use ndarray::Array2;
use privml::cost::Openings;
use privml::data::Bundled;
use privml::experiments::{boolean, quiet, reservoir};
use privml::fl::AggregationRound;
use privml::fl::{ClientId, MpcRound, ShareParams, UpdateMeta, share_update};
use privml::learn::{DataSource, ModelLocation, PredictJob, TrainData, TrainJob, TrainSettings};
use privml::nn::{self, LossReport, MiniBatch};
use privml::runner::{DomainKind, DomainSpec, run_local};
use privml::{Cost, Plain, Ring, Shared, SharedConfig};
use temp_dir::TempDir;

/// Openings of `n` values in `ops` reveals.
fn opened(ops: u64, elements: u64) -> Openings {
    Openings { ops, elements }
}

/// Nothing opened to any single party.
const NONE_TO_ONE: [Openings; 3] = [Openings {
    ops: 0,
    elements: 0,
}; 3];

#[test]
fn full_batch_training_opens_exactly_its_documented_list() {
    let cfg = SharedConfig::default().insecure_test_seed(22);
    let (_, cost) = Shared::<u64>::simulate_with_cost(&cfg, |r| full_batch(r, 30, 10)).unwrap();
    assert_eq!(cost.opened_to_all, opened(3, 3));
    assert_eq!(cost.opened_to, NONE_TO_ONE);
    let (_, quiet_cost) =
        Shared::<u64>::simulate_with_cost(&cfg, |r| full_batch(r, 30, 0)).unwrap();
    assert_eq!(quiet_cost.opened_to_all, Openings::default());
    assert_eq!(quiet_cost.opened_to, NONE_TO_ONE);
}

#[test]
fn the_reported_mean_absolute_error_is_the_plaintext_one() {
    // Plain: the tutorial's numbers (checked to 2e-8 in tests/suite/experiments.rs);
    // Shared: the same numbers up to the fixed-point error.
    let e = boolean::Experiment {
        iterations: 200,
        ..boolean::headline()
    };
    let plain = boolean::run(&mut Plain::new(), &e, &quiet).unwrap();
    let cfg = SharedConfig::default().insecure_test_seed(3);
    let [shared, _, _] =
        Shared::<u64>::simulate_with(&cfg, |r| boolean::run(r, &e, &quiet)).unwrap();
    assert_eq!(plain.errors.len(), 10);
    for (p, s) in plain.errors.iter().zip(&shared.errors) {
        assert_eq!(p.iteration, s.iteration);
        assert!((p.error - s.error).abs() < 2e-3, "{p:?} vs {s:?}");
    }
}

/// Mini-batch training: nothing, one loss every k batches, or one loss for
/// the whole call, as `LossReport` says.
#[test]
fn minibatch_training_opens_exactly_the_losses_asked_for() {
    let x =
        Array2::from_shape_fn((64, 3), |(i, j)| ((i * 7 + j * 3) % 11) as f64 / 11.0).into_dyn();
    let y = Array2::from_shape_fn((64, 1), |(i, _)| (i % 2) as f64).into_dyn();
    let run = |loss: LossReport| -> (Vec<Option<f64>>, Option<f64>, Cost) {
        let cfg = SharedConfig::default().insecure_test_seed(4);
        let (out, cost) = Shared::<u64>::simulate_with_cost(&cfg, |r| {
            let xs = r.input(1, r.owns(1).then_some(&x), &[64, 3])?;
            let ys = r.input(1, r.owns(1).then_some(&y), &[64, 1])?;
            let spec = "3-4-1".parse()?;
            let mut net = nn::mlp(r, &spec, 1)?;
            let sgd = MiniBatch {
                epochs: 2,
                batch: 16,
                lr: 0.1,
            };
            let mut losses = Vec::new();
            let total = nn::train_minibatch(r, &mut net, (&xs, &ys), sgd, loss, |_, _, rep| {
                losses.push(rep.loss);
                Ok(())
            })?;
            Ok((losses, total))
        })
        .unwrap();
        let [(losses, total), _, _] = out;
        (losses, total, cost)
    };
    let (losses, total, cost) = run(LossReport::Off);
    assert!(losses.iter().all(Option::is_none) && total.is_none());
    assert_eq!(cost.opened_to_all, Openings::default());
    let (losses, total, cost) = run(LossReport::EveryBatches(2));
    assert_eq!(losses.iter().filter(|l| l.is_some()).count(), 4);
    assert!(total.is_none());
    assert_eq!(cost.opened_to_all, opened(4, 4), "8 batches, every second");
    let (losses, total, cost) = run(LossReport::Total);
    assert!(losses.iter().all(Option::is_none));
    let t = total.unwrap();
    assert!(t > 0.0 && t < 1.0, "{t}");
    assert_eq!(cost.opened_to_all, opened(1, 1));
    assert_eq!(cost.opened_to, NONE_TO_ONE);
}

fn breast_cancer(settings: &TrainSettings) -> TrainData {
    TrainData::prepare(
        &DataSource::Bundled(Bundled::BreastCancer),
        settings,
        &DomainSpec::default(),
    )
    .unwrap()
}

fn small_settings(reveal_model: bool) -> TrainSettings {
    let mut s = TrainSettings {
        model: "mlp:4".parse().unwrap(),
        sgd: MiniBatch {
            epochs: 2,
            batch: 32,
            lr: 0.2,
        },
        reveal_model,
        ..TrainSettings::default()
    };
    s.data.max_rows = Some(200);
    s
}

/// `privml train`: per epoch, the training loss and the test accuracy (one
/// number each, to every party); the model only with `reveal_model`, in one
/// opening of all its parameters; the rows and targets never.
#[test]
fn train_job_opens_two_numbers_per_epoch_and_the_model_only_if_asked() {
    for reveal_model in [false, true] {
        let settings = small_settings(reveal_model);
        let data = breast_cancer(&settings);
        let job = TrainJob::new(&settings, Some(&data));
        let cfg = SharedConfig::default().insecure_test_seed(6);
        let (out, cost) = run_local(DomainKind::Shared64, &cfg, &job).unwrap();
        let epochs = settings.sgd.epochs as u64;
        let params = (30 * 4 + 4 + 4 + 1) as u64;
        let want = if reveal_model {
            opened(2 * epochs + 1, 2 * epochs + params)
        } else {
            opened(2 * epochs, 2 * epochs)
        };
        assert_eq!(cost.opened_to_all, want, "reveal_model {reveal_model}");
        assert_eq!(cost.opened_to, NONE_TO_ONE);
        assert_eq!(out.revealed.is_some(), reveal_model);
        for e in &out.epochs {
            assert!(e.train_loss > 0.0 && e.train_loss < 1.0, "{e:?}");
            assert!(e.test_accuracy > 0.5, "{e:?}");
        }
    }
}

/// `privml predict`: the scores, rows × outputs values, to the data owner
/// only, in one opening; nothing to anyone else.
#[test]
fn predict_job_opens_the_scores_to_the_data_owner_only() {
    let dir = TempDir::new("disclosure-predict");
    let prefix = dir.join("m");
    let settings = small_settings(false);
    let data = breast_cancer(&settings);
    let job = TrainJob {
        out_prefix: Some(prefix.clone()),
        ..TrainJob::new(&settings, Some(&data))
    };
    let cfg = SharedConfig::default().insecure_test_seed(7);
    run_local(DomainKind::Shared64, &cfg, &job).unwrap();
    for owner in [1, 2] {
        let rows = data.x_test.slice(ndarray::s![..5, ..]).to_owned();
        let job = PredictJob {
            model: ModelLocation::Prefix(prefix.clone()),
            data: Some(&rows),
            data_owner: owner,
        };
        let (pred, cost) = run_local(DomainKind::Shared64, &cfg, &job).unwrap();
        let mut want = NONE_TO_ONE;
        want[owner] = opened(1, 5);
        assert_eq!(cost.opened_to, want);
        assert_eq!(cost.opened_to_all, Openings::default());
        let pred = pred.unwrap();
        // Leak 4: the scores are opened exactly rounded to 12 fraction
        // bits, so they lie on that grid.
        for s in pred.scores.iter() {
            assert_eq!(
                (s * 4096.0).fract(),
                0.0,
                "score {s} is not on the 2^-12 grid"
            );
        }
    }
}

/// The tutorial demo: 10 error reports, the weights in one opening, the 8
/// scores — all to every party, nothing else.
#[test]
fn boolean_demo_opens_exactly_its_documented_list() {
    let e = boolean::Experiment {
        iterations: 20,
        ..boolean::headline()
    };
    let cfg = SharedConfig::default().insecure_test_seed(8);
    let (_, cost) =
        Shared::<u64>::simulate_with_cost(&cfg, |r| boolean::run(r, &e, &quiet)).unwrap();
    assert_eq!(cost.opened_to_all, opened(10 + 1 + 1, 10 + 16 + 8));
    assert_eq!(cost.opened_to, NONE_TO_ONE);
}

/// The reservoir demo: the printed loss every 50 steps, the 4 final
/// predictions; not the per-step residual the article opened.
#[test]
fn reservoir_demo_opens_the_printed_losses_and_the_predictions_only() {
    let cfg_r = reservoir::Reservoir {
        steps: 120,
        ..reservoir::Reservoir::default()
    };
    let cfg = SharedConfig::default().insecure_test_seed(9);
    let (out, cost) =
        Shared::<u64>::simulate_with_cost(&cfg, |r| reservoir::run(r, &cfg_r, &quiet)).unwrap();
    assert_eq!(out[0].losses.len(), 3, "steps 0, 50, 100");
    assert_eq!(cost.revealed_elements, 3 + 4);
    assert_eq!(cost.opened_to_all, opened(3 + 1, 3 + 4));
    assert_eq!(cost.opened_to, NONE_TO_ONE);
}

/// Federated MPC aggregation: one reveal of the sum (len values) to all
/// three servers. The witness is the servers' traffic after the clients:
/// exactly one ring element per value from each server, what one `reveal`
/// of len values sends (`CostModel::reveal`), and nothing else.
#[test]
fn federated_mpc_round_opens_the_sum_once() {
    let p = ShareParams::default();
    let len = 5;
    let mut round = MpcRound::new(1, len, p).unwrap();
    for k in 0..3u32 {
        let v: Vec<f64> = (0..len).map(|i| (i as f64 - k as f64) / 8.0).collect();
        let c = ClientId(k);
        let m = share_update(&p, UpdateMeta::new(c, 1, 2), &v).unwrap();
        round.submit(c, &[&m[0], &m[1], &m[2]]).unwrap();
    }
    let sum = round.open(&()).unwrap();
    let one_reveal = privml::CostModel::new(8).reveal(len).bytes.to_vec();
    assert_eq!(sum.bytes_server_out, one_reveal);
    assert_eq!(sum.sum.len(), len);
}

/// `train_network`: nothing, one loss every k batches, or one loss for the
/// whole call, as its `Schedule::report` says; the metrics open their few
/// numbers.
#[test]
fn network_training_opens_exactly_the_losses_and_scores_asked_for() {
    use privml::nn::{Loss, Network, NetworkSpec, Optimizer, OptimizerConfig, Schedule};
    let x = ndarray::Array4::from_shape_fn((32, 1, 4, 4), |(i, _, h, w)| {
        ((i * 5 + h * 3 + w) % 7) as f64 / 7.0
    })
    .into_dyn();
    let y = Array2::from_shape_fn((32, 2), |(i, j)| f64::from(u8::from(i % 2 == j))).into_dyn();
    let run = |report: LossReport| -> (Vec<Option<f64>>, Option<f64>, Cost) {
        let cfg = SharedConfig::default().insecure_test_seed(12);
        let (out, cost) = Shared::<u64>::simulate_with_cost(&cfg, |r| {
            let xs = r.input(1, r.owns(1).then_some(&x), x.shape())?;
            let ys = r.input(1, r.owns(1).then_some(&y), y.shape())?;
            let spec = NetworkSpec::parse("conv:2k3,maxpool:2,relu,dense:2", "1x4x4")?;
            let mut net = Network::init(r, &spec, 1)?;
            let mut opt = Optimizer::new(OptimizerConfig::named("adam", 0.01)?)?;
            let schedule = Schedule {
                epochs: 2,
                batch: 8,
                loss: Loss::CrossEntropy,
                report,
            };
            let mut losses = Vec::new();
            let total =
                nn::train_network(r, &mut net, &mut opt, (&xs, &ys), schedule, |_, _, rep| {
                    losses.push(rep.loss);
                    Ok(())
                })?;
            Ok((losses, total))
        })
        .unwrap();
        let [(losses, total), _, _] = out;
        (losses, total, cost)
    };
    let (losses, total, cost) = run(LossReport::Off);
    assert!(losses.iter().all(Option::is_none) && total.is_none());
    assert_eq!(cost.opened_to_all, Openings::default());
    assert_eq!(cost.opened_to, NONE_TO_ONE);
    let (losses, total, cost) = run(LossReport::EveryBatches(2));
    assert_eq!(losses.iter().filter(|l| l.is_some()).count(), 4);
    assert!(total.is_none());
    assert_eq!(cost.opened_to_all, opened(4, 4), "8 batches, every second");
    let (losses, total, cost) = run(LossReport::Total);
    assert!(losses.iter().all(Option::is_none));
    let t = total.unwrap();
    assert!(t > 0.0 && t < 2.0, "{t}");
    assert_eq!(cost.opened_to_all, opened(1, 1));
    assert_eq!(cost.opened_to, NONE_TO_ONE);
}

fn network_settings(model: &str, loss: nn::Loss, optimizer: &str) -> TrainSettings {
    let mut s = TrainSettings {
        model: model.parse().unwrap(),
        sgd: MiniBatch {
            epochs: 2,
            batch: 32,
            lr: 0.01,
        },
        loss,
        optimizer: optimizer.parse().unwrap(),
        ..TrainSettings::default()
    };
    s.data.max_rows = Some(200);
    s
}

/// `privml train` on the network path (cross-entropy, Adam): per epoch the
/// loss and the test accuracy, one number each; the optimiser's state is
/// saved, never opened.
#[test]
fn network_train_job_opens_two_numbers_per_epoch() {
    let settings = network_settings("dense:4,relu,dense:2", nn::Loss::CrossEntropy, "adam");
    let data = breast_cancer(&settings);
    assert_eq!(
        data.y_train.ncols(),
        2,
        "one-hot targets off the classic path"
    );
    let job = TrainJob::new(&settings, Some(&data));
    let cfg = SharedConfig::default().insecure_test_seed(13);
    let (out, cost) = run_local(DomainKind::Shared64, &cfg, &job).unwrap();
    let epochs = settings.sgd.epochs as u64;
    assert_eq!(cost.opened_to_all, opened(2 * epochs, 2 * epochs));
    assert_eq!(cost.opened_to, NONE_TO_ONE);
    assert!(out.model.optimizer.is_some());
    for e in &out.epochs {
        assert!(e.train_loss > 0.0 && e.train_loss < 1.0, "{e:?}");
        assert!(e.test_accuracy > 0.5, "{e:?}");
        assert!(e.test_regression.is_none());
    }
}

/// A regression: per epoch the loss (one number) and the test sums of
/// squares (two numbers, one opening); predictions to the data owner only.
#[test]
fn regression_train_job_opens_the_loss_and_two_sums_per_epoch() {
    let dir = TempDir::new("disclosure-regression");
    let prefix = dir.join("m");
    let settings = network_settings("mlp:4", nn::Loss::MeanSquare, "momentum");
    let data = TrainData::prepare(
        &DataSource::Bundled(Bundled::Diabetes),
        &settings,
        &DomainSpec::default(),
    )
    .unwrap();
    assert_eq!(data.table.task, privml::learn::Task::Regression);
    assert!(data.task_note.is_some());
    let job = TrainJob {
        out_prefix: Some(prefix.clone()),
        ..TrainJob::new(&settings, Some(&data))
    };
    let cfg = SharedConfig::default().insecure_test_seed(14);
    let (out, cost) = run_local(DomainKind::Shared64, &cfg, &job).unwrap();
    let epochs = settings.sgd.epochs as u64;
    assert_eq!(cost.opened_to_all, opened(2 * epochs, 3 * epochs));
    assert_eq!(cost.opened_to, NONE_TO_ONE);
    for e in &out.epochs {
        let t = e.test_regression.unwrap();
        assert!(t.rmse > 0.0 && t.rmse < 200.0, "{e:?}");
        assert!(e.test_accuracy.is_nan());
    }
    let rows = data.x_test.slice(ndarray::s![..4, ..]).to_owned();
    let job = PredictJob {
        model: ModelLocation::Prefix(prefix),
        data: Some(&rows),
        data_owner: 1,
    };
    let (pred, cost) = run_local(DomainKind::Shared64, &cfg, &job).unwrap();
    let mut want = NONE_TO_ONE;
    want[1] = opened(1, 4);
    assert_eq!(cost.opened_to, want);
    assert_eq!(cost.opened_to_all, Openings::default());
    // in the target's units (the diabetes score lies in 25..346)
    let pred = pred.unwrap();
    assert!(pred.classes.is_empty());
    assert!(
        pred.scores.iter().all(|v| (-100.0..500.0).contains(v)),
        "{pred:?}"
    );
}
