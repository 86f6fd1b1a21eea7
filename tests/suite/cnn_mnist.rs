//! `privml train`'s network path on the bundled tables, Plain against
//! both secure protocols (three parties, two parties and a dealer) with the
//! same hyperparameters (issue 14's acceptance tests): a
//! small CNN with the softmax cross-entropy on MNIST-5k (SGD and Adam), and
//! a regression on the diabetes table. CI-sized: a subset of the rows, two
//! epochs.

use privml::SharedConfig;
use privml::data::Bundled;
use privml::learn::{DataSource, Task, TrainData, TrainJob, TrainOutcome, TrainSettings};
use privml::nn::{Loss, MiniBatch};
use privml::runner::{DomainKind, DomainSpec, run_local};

fn settings(
    model: &str,
    loss: Loss,
    optimizer: &str,
    sgd: MiniBatch,
    rows: usize,
) -> TrainSettings {
    let mut s = TrainSettings {
        model: model.parse().unwrap(),
        sgd,
        loss,
        optimizer: optimizer.parse().unwrap(),
        seed: 4,
        ..TrainSettings::default()
    };
    s.data.max_rows = Some(rows);
    s
}

fn train(which: Bundled, settings: &TrainSettings, kind: DomainKind) -> TrainOutcome {
    let data = TrainData::prepare(
        &DataSource::Bundled(which),
        settings,
        &DomainSpec::default(),
    )
    .unwrap();
    let job = TrainJob::new(settings, Some(&data));
    let cfg = SharedConfig::default().insecure_test_seed(21);
    run_local(kind, &cfg, &job).unwrap().0
}

/// Test accuracy per epoch, Plain and Shared.
/// The secure domains of Z_2^64: three parties, and two parties with a
/// dealer.
const SECURE: [DomainKind; 2] = [DomainKind::Shared64, DomainKind::TwoParty64];

fn accuracies(settings: &TrainSettings, kind: DomainKind) -> Vec<f64> {
    let o = train(Bundled::Mnist5k, settings, kind);
    o.epochs.iter().map(|e| e.test_accuracy).collect()
}

const CNN: &str = "conv:4k5s2,relu,maxpool:2,dense:10";

/// The small CNN with the cross-entropy and `optimizer`: it learns, and
/// each secure protocol's test accuracy follows `Plain`'s every epoch:
/// within one point on three parties (issue 14's acceptance), within two
/// on two parties and a dealer. The test set is 200 rows (half a point
/// each); the truncations round stochastically with each protocol's own
/// randomness, so the trajectories part by a few rows: the two-party run
/// measured 1.5 points off on the SGD run with these seeds.
fn shared_follows_plain(optimizer: &str, lr: f64) {
    let sgd = MiniBatch {
        epochs: 2,
        batch: 32,
        lr,
    };
    let s = settings(CNN, Loss::CrossEntropy, optimizer, sgd, 1000);
    let plain = accuracies(&s, DomainKind::Plain);
    assert!(plain[1] > 0.7, "it learns: {plain:?}");
    for (kind, points) in SECURE.into_iter().zip([1.0, 2.0]) {
        let shared = accuracies(&s, kind);
        eprintln!("{optimizer}: plain {plain:?}, {kind} {shared:?}");
        for (p, q) in plain.iter().zip(&shared) {
            assert!(
                (p - q).abs() <= points / 100.0 + 1e-9,
                "within {points} points: plain {p}, {kind} {q}"
            );
        }
    }
}

#[test]
fn a_small_cnn_with_cross_entropy_on_mnist_trains_on_shares_as_in_the_clear() {
    shared_follows_plain("sgd", 0.5);
}

#[test]
fn adam_on_shares_follows_adam_in_the_clear() {
    shared_follows_plain("adam", 0.01);
}

#[test]
fn a_regression_on_the_diabetes_table_scores_the_same_on_shares() {
    let sgd = MiniBatch {
        epochs: 30,
        batch: 32,
        lr: 0.02,
    };
    let s = settings("mlp:8", Loss::MeanSquare, "adam", sgd, 442);
    let plain = train(Bundled::Diabetes, &s, DomainKind::Plain);
    assert_eq!(plain.model.meta.table.task, Task::Regression);
    let p = plain.epochs.last().unwrap().test_regression.unwrap();
    assert!(p.r2 > 0.3, "it learns: {p:?}");
    for kind in SECURE {
        let shared = train(Bundled::Diabetes, &s, kind);
        let q = shared.epochs.last().unwrap().test_regression.unwrap();
        eprintln!("diabetes: plain {p:?}, {kind} {q:?}");
        assert!(
            (p.r2 - q.r2).abs() < 0.02,
            "R²: plain {}, {kind} {}",
            p.r2,
            q.r2
        );
        assert!(
            (p.rmse - q.rmse).abs() < 2.0,
            "RMSE: plain {}, {kind} {}",
            p.rmse,
            q.rmse
        );
    }
}
