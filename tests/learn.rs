//! Training on real data: shared accuracy matches plaintext accuracy, saved
//! share files round-trip, and bad files are errors.

use std::path::PathBuf;

use ndarray::{Array2, Axis};
use privml::data::{self, Normalizer, Scaling};
use privml::learn::{ModelLocation, PredictJob, Progress, TrainData, TrainJob};
use privml::model_file::{ModelMeta, SavedModel};
use privml::nn::MiniBatch;
use privml::runner::{DomainKind, run_local};
use privml::{Error, SharedConfig};

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("privml-learn-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Shuffled, split and normalised bundled data.
fn prepared(which: &str, rows: Option<usize>) -> TrainData {
    let ds = data::load_bundled(which).unwrap().shuffled(3);
    let ds = match rows {
        Some(n) => ds.head(n),
        None => ds,
    };
    let classes = ds.n_classes().unwrap();
    let (tr, te) = data::train_test_split(&ds, 0.2, 3).unwrap();
    let norm = Normalizer::fit(Scaling::MinMax, tr.features()).unwrap();
    let (tr, te) = (norm.apply(&tr).unwrap(), norm.apply(&te).unwrap());
    let y = |d: &data::Dataset| -> Array2<f64> {
        if classes <= 2 {
            d.targets().clone().insert_axis(Axis(1))
        } else {
            d.one_hot_targets().unwrap()
        }
    };
    TrainData {
        y_train: y(&tr),
        y_test: y(&te),
        x_train: tr.features().clone(),
        x_test: te.features().clone(),
        meta: ModelMeta {
            spec: String::new(),
            target: ds.target_name().to_string(),
            features: ds.feature_names().to_vec(),
            n_classes: classes,
            normalizer: Some(norm),
            domain: String::new(),
        },
    }
}

fn no_progress(_: &Progress) {}

fn train(
    kind: DomainKind,
    data: &TrainData,
    model: &str,
    sgd: MiniBatch,
    out: Option<PathBuf>,
    seed: u64,
) -> privml::learn::TrainOutcome {
    let job = TrainJob {
        data: Some(data),
        data_owner: 1,
        model: model.to_string(),
        sgd,
        seed: 5,
        out_prefix: out,
        reveal_model: false,
        progress: &no_progress,
    };
    let cfg = SharedConfig::default().insecure_test_seed(seed);
    run_local(kind, &cfg, &job).unwrap().0
}

#[test]
fn shared_mnist_accuracy_is_within_one_point_of_plain() {
    let data = prepared("mnist", Some(1500));
    let sgd = MiniBatch {
        epochs: 5,
        batch: 32,
        lr: 0.2,
    };
    let plain = train(DomainKind::Plain, &data, "mlp:64", sgd, None, 1);
    let shared = train(DomainKind::Shared64, &data, "mlp:64", sgd, None, 1);
    let (p, s) = (
        plain.epochs.last().unwrap().test_accuracy,
        shared.epochs.last().unwrap().test_accuracy,
    );
    assert!(p > 0.75, "the plaintext model learns (accuracy {p})");
    assert!((p - s).abs() <= 0.01, "plain {p} vs shared {s}");
}

#[test]
fn shared_breast_cancer_accuracy_is_within_one_point_of_plain() {
    let data = prepared("breast_cancer", None);
    let sgd = MiniBatch {
        epochs: 5,
        batch: 32,
        lr: 0.2,
    };
    let plain = train(DomainKind::Plain, &data, "mlp:16", sgd, None, 2);
    let fixed = train(DomainKind::Fixed64, &data, "mlp:16", sgd, None, 2);
    let shared = train(DomainKind::Shared64, &data, "mlp:16", sgd, None, 2);
    let acc = |o: &privml::learn::TrainOutcome| o.epochs.last().unwrap().test_accuracy;
    assert!(acc(&plain) > 0.85, "{}", acc(&plain));
    assert!(
        (acc(&plain) - acc(&shared)).abs() <= 0.01,
        "plain {} vs shared {}",
        acc(&plain),
        acc(&shared)
    );
    assert!(
        (acc(&plain) - acc(&fixed)).abs() <= 0.01,
        "plain {} vs fixed {}",
        acc(&plain),
        acc(&fixed)
    );
}

fn predict(
    kind: DomainKind,
    prefix: &std::path::Path,
    x: &Array2<f64>,
) -> privml::Result<privml::learn::Predictions> {
    let job = PredictJob {
        model: ModelLocation::Prefix(prefix.to_path_buf()),
        data: Some(x),
        data_owner: 1,
    };
    let (out, _) = run_local(kind, &SharedConfig::default(), &job)?;
    out.ok_or_else(|| Error::invalid("test", "the data owner got no predictions"))
}

#[test]
fn saved_shares_round_trip_and_bad_files_are_errors() {
    let dir = tmpdir("roundtrip");
    let data = prepared("breast_cancer", None);
    let sgd = MiniBatch {
        epochs: 2,
        batch: 32,
        lr: 0.2,
    };
    let a = dir.join("a");
    let b = dir.join("b");
    let trained = train(
        DomainKind::Shared64,
        &data,
        "mlp:8",
        sgd,
        Some(a.clone()),
        3,
    );
    train(
        DomainKind::Shared64,
        &data,
        "mlp:8",
        sgd,
        Some(b.clone()),
        4,
    );
    for p in 0..3 {
        assert!(SavedModel::party_path(&a, p).exists());
    }
    // Nothing in a party's file is the model in the clear.
    let f0 = SavedModel::load(SavedModel::party_path(&a, 0)).unwrap();
    assert_eq!(f0.tensors.len(), 4);
    assert!(format!("{:?}", f0.tensors[0]).contains("redacted"));

    // Round trip: predictions from the files equal the plaintext model's.
    let p1 = predict(DomainKind::Shared64, &a, &data.x_test).unwrap();
    let p2 = predict(DomainKind::Shared64, &a, &data.x_test).unwrap();
    assert_eq!(p1.classes, p2.classes, "loading twice predicts the same");
    for (s1, s2) in p1.scores.iter().zip(p2.scores.iter()) {
        assert!((s1 - s2).abs() < 1e-3, "{s1} vs {s2}");
    }
    let _ = trained;

    // A file of another model in the set: the agreement check refuses it.
    let c = dir.join("c");
    for p in 0..3 {
        let src = if p == 1 {
            SavedModel::party_path(&b, p)
        } else {
            SavedModel::party_path(&a, p)
        };
        std::fs::copy(src, SavedModel::party_path(&c, p)).unwrap();
    }
    match predict(DomainKind::Shared64, &c, &data.x_test) {
        Err(Error::InconsistentShares { .. }) => {}
        other => panic!("mismatched files must be refused, got {other:?}"),
    }

    // A party's file in the wrong place: refused when loading.
    let d = dir.join("d");
    std::fs::copy(SavedModel::party_path(&a, 0), SavedModel::party_path(&d, 0)).unwrap();
    std::fs::copy(SavedModel::party_path(&a, 2), SavedModel::party_path(&d, 1)).unwrap();
    std::fs::copy(SavedModel::party_path(&a, 1), SavedModel::party_path(&d, 2)).unwrap();
    assert!(predict(DomainKind::Shared64, &d, &data.x_test).is_err());

    // A corrupted file: the checksum catches it.
    let path = SavedModel::party_path(&a, 2);
    let mut bytes = std::fs::read(&path).unwrap();
    let k = bytes.len() / 3;
    bytes[k] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    match predict(DomainKind::Shared64, &a, &data.x_test) {
        Err(Error::BadFile { reason, .. }) => assert!(reason.contains("checksum"), "{reason}"),
        other => panic!("corruption must be detected, got {other:?}"),
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn plaintext_models_round_trip_exactly() {
    let dir = tmpdir("plain");
    let data = prepared("breast_cancer", None);
    let sgd = MiniBatch {
        epochs: 2,
        batch: 32,
        lr: 0.2,
    };
    let a = dir.join("m");
    let t = train(DomainKind::Plain, &data, "mlp:8", sgd, Some(a.clone()), 1);
    assert!(SavedModel::clear_path(&a).exists());
    let p = predict(DomainKind::Plain, &a, &data.x_test).unwrap();
    let hits = p
        .classes
        .iter()
        .zip(data.y_test.column(0))
        .filter(|(c, y)| **c as f64 == **y)
        .count();
    let acc = hits as f64 / data.y_test.nrows() as f64;
    assert!(
        (acc - t.epochs.last().unwrap().test_accuracy).abs() < 1e-12,
        "{acc}"
    );
    // A shared domain cannot load a clear model, and says so.
    let e = predict(DomainKind::Shared64, &a, &data.x_test)
        .unwrap_err()
        .to_string();
    assert!(e.contains("party0.shares") || e.contains("cannot"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn logistic_regression_workload_matches_plaintext_accuracy() {
    use privml::Ring;
    use privml::workloads::{W5Logistic, Workload};
    let w5 = W5Logistic::new();
    let (wp, bp) = w5.plain_epoch();
    let plain_acc = w5.accuracy(&wp, bp);
    let [(w, b), _, _] = privml::Shared::<u64>::simulate(|r| {
        let (x, y, mut w, mut b) = w5.setup(r)?;
        w5.epoch(r, &x, &y, &mut w, &mut b)?;
        Ok((r.reveal(&w)?, r.reveal(&b)?))
    })
    .unwrap();
    let w = w
        .into_shape_with_order(20)
        .unwrap()
        .into_dimensionality::<ndarray::Ix1>()
        .unwrap();
    let acc = w5.accuracy(&w, b.iter().sum());
    assert!(plain_acc > 0.9, "{plain_acc}");
    assert!(
        (acc - plain_acc).abs() < 0.01,
        "shared {acc} vs plain (exact sigmoid) {plain_acc}"
    );
}
