//! Training on real data: the library's data pipeline, shared accuracy
//! matches plaintext accuracy, saved share files round-trip to the trained
//! model's predictions, and bad files are errors.

use crate::protocols;
use crate::temp_dir;

use ndarray::{Array2, Axis};
use privml::data::{self, Bundled, Normalizer, Scaling};
use privml::learn::{
    DataSource, DataSpec, ModelLocation, PredictJob, PredictRows, Predictions, Task, TrainData,
    TrainJob, TrainOutcome, TrainSettings,
};
use privml::model_file::{Architecture, SavedModel, TableMeta};
use privml::nn::{self, MiniBatch};
use privml::runner::{Domain, DomainKind, DomainSpec, RingSize, run_local};
use privml::{DecodeError, Error, Origin, Plain, SharedConfig};
use protocols::on_both_protocols;
use temp_dir::TempDir;

/// The settings of these tests: data shuffled and split with seed 3, 20%
/// test rows, min-max scaling fitted on the training rows (which discloses
/// their per-feature minimum and range, so it needs the explicit consent).
fn settings(model: &str, sgd: MiniBatch, rows: Option<usize>) -> TrainSettings {
    TrainSettings {
        model: model.parse().unwrap(),
        sgd,
        data: DataSpec {
            test_fraction: 0.2,
            max_rows: rows,
            scaling: Some(Scaling::MinMax),
            disclose_feature_stats: true,
        },
        seed: 3,
        data_owner: 1,
        reveal_model: false,
        ..TrainSettings::default()
    }
}

/// Bundled data prepared by the library's pipeline (for Z_2^64).
fn prepared(which: Bundled, rows: Option<usize>) -> TrainData {
    let s = settings("mlp:8", SGD, rows);
    TrainData::prepare(&DataSource::Bundled(which), &s, &DomainSpec::default()).unwrap()
}

const SGD: MiniBatch = MiniBatch {
    epochs: 5,
    batch: 32,
    lr: 0.2,
};

/// Trains with the initial weights drawn from seed 5 and the parties' keys
/// from `key_seed`.
fn train(
    kind: DomainKind,
    data: &TrainData,
    model: &str,
    sgd: MiniBatch,
    out: Option<&std::path::Path>,
    key_seed: u64,
    reveal_model: bool,
) -> TrainOutcome {
    let settings = TrainSettings {
        seed: 5,
        reveal_model,
        ..settings(model, sgd, None)
    };
    let job = TrainJob {
        out_prefix: out.map(|p| p.to_path_buf()),
        ..TrainJob::new(&settings, Some(data))
    };
    let cfg = SharedConfig::default().insecure_test_seed(key_seed);
    run_local(kind, &cfg, &job).unwrap().0
}

/// The pipeline written out step by step, as `privml train` did before it
/// moved into the library: the library must give exactly this.
fn reference_pipeline(which: Bundled, rows: Option<usize>, seed: u64) -> TrainData {
    let ds = which.load().unwrap().shuffled(seed);
    let ds = match rows {
        Some(n) => ds.head(n),
        None => ds,
    };
    let classes = ds.n_classes().unwrap();
    let (tr, te) = data::train_test_split(&ds, 0.2, seed).unwrap();
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
        table: TableMeta {
            target: ds.target_name().to_string(),
            features: ds.feature_names().to_vec(),
            n_classes: classes,
            normalizer: Some(norm),
            task: Task::Classification,
            target_normalizer: None,
        },
        task_note: None,
    }
}

#[test]
fn prepare_gives_the_split_normalisation_and_targets_of_the_step_by_step_pipeline() {
    for (which, rows, outputs) in [
        (Bundled::BreastCancer, None, 1),
        (Bundled::Mnist5k, Some(1500), 10),
    ] {
        let got = prepared(which, rows);
        let want = reference_pipeline(which, rows, 3);
        assert_eq!(got.x_train, want.x_train, "{which}");
        assert_eq!(got.x_test, want.x_test, "{which}");
        assert_eq!(got.y_train, want.y_train, "{which}");
        assert_eq!(got.y_test, want.y_test, "{which}");
        assert_eq!(got.table, want.table, "{which}");
        assert_eq!(got.y_train.ncols(), outputs);
        let n = rows.unwrap_or(569);
        assert_eq!(got.x_train.nrows() + got.x_test.nrows(), n);
        assert_eq!(got.x_test.nrows(), (n as f64 * 0.2).round() as usize);
        // Min-max on the training rows: every column within [0, 1].
        assert!(got.x_train.iter().all(|v| (0.0..=1.0).contains(v)));
    }
    // Another seed gives another split.
    let mut s = settings("mlp:8", SGD, None);
    s.seed = 4;
    let other = TrainData::prepare(
        &DataSource::Bundled(Bundled::BreastCancer),
        &s,
        &DomainSpec::default(),
    )
    .unwrap();
    assert_ne!(other.x_test, prepared(Bundled::BreastCancer, None).x_test);
}

#[test]
fn prepare_checks_the_range_of_the_chosen_fixed_point_format() {
    let dir = TempDir::new("learn-range");
    // 1e20 fits Z_2^128 (32 fraction bits: below 2^95) but not Z_2^64 (16:
    // below 2^47).
    let path = dir.write(
        "big.csv",
        "a,b,target\n1,2,0\n3,1e20,1\n5,6,0\n7,8,1\n9,10,0\n",
    );
    let source = DataSource::from_arg(path.to_str().unwrap(), None);
    let mut s = settings("mlp:2", SGD, None);
    s.data.scaling = None;
    s.data.test_fraction = 0.4;
    let z64 = DomainSpec {
        domain: Domain::Plain,
        ..DomainSpec::default()
    };
    match TrainData::prepare(&source, &s, &z64) {
        Err(Error::DataOutOfRange { column, line, .. }) => {
            assert_eq!((column.as_str(), line), ("b", Some(3)));
        }
        other => panic!("expected DataOutOfRange, got {other:?}"),
    }
    let z128 = DomainSpec {
        ring: RingSize::Z128,
        ..z64
    };
    let ok = TrainData::prepare(&source, &s, &z128).unwrap();
    assert_eq!((ok.x_train.nrows(), ok.x_test.nrows()), (3, 2));
    // Without class labels in the target column there is nothing to
    // classify; with no task named, it is detected as a regression.
    let path = dir.write("reg.csv", "a,target\n1,0.5\n2,1.5\n3,2\n");
    let reg = DataSource::from_arg(path.to_str().unwrap(), None);
    s.task = Some(Task::Classification);
    let e = TrainData::prepare(&reg, &s, &z64).unwrap_err();
    assert!(e.to_string().contains("class labels"), "{e}");
    s.task = None;
    let detected = TrainData::prepare(&reg, &s, &z64).unwrap();
    assert_eq!(detected.table.task, Task::Regression);
    assert!(detected.task_note.unwrap().contains("not class labels"));
}

#[test]
fn predict_rows_use_the_model_normaliser_and_check_the_columns() {
    let dir = TempDir::new("learn-rows");
    let data = prepared(Bundled::BreastCancer, None);
    let t = train(DomainKind::Plain, &data, "mlp:4", SGD, None, 1, false);
    let meta = &t.model.meta;
    assert_eq!(meta.table, data.table);
    assert_eq!(meta.domain, DomainKind::Plain);
    assert_eq!(meta.architecture.to_string(), "30-4-1");
    let source = DataSource::Bundled(Bundled::BreastCancer);
    let rows = PredictRows::prepare(&source, meta).unwrap();
    let raw = Bundled::BreastCancer.load().unwrap();
    let norm = data.table.normalizer.as_ref().unwrap();
    assert_eq!(rows.x, norm.transform(raw.features()).unwrap());
    assert_eq!(rows.labels, Some(raw.labels().unwrap()));
    // A table with other columns is refused, naming the first that differs.
    let path = dir.write("other.csv", "x,y,target\n1,2,0\n");
    let e = PredictRows::prepare(&DataSource::from_arg(path.to_str().unwrap(), None), meta)
        .unwrap_err();
    match e {
        Error::BadFile { path: p, reason } => {
            assert_eq!(p, path.display().to_string());
            assert!(
                reason.contains("2 columns here, 30 in the model")
                    && reason.contains("column 1 is 'x' here, 'mean radius' in the model"),
                "{reason}"
            );
        }
        other => panic!("expected BadFile, got {other:?}"),
    }
}

/// Declared ranges are the announced (and saved) normaliser, whatever rows
/// are trained on; predictions scale new rows with them.
#[test]
fn declared_ranges_are_the_normaliser_of_training_and_prediction() {
    let mut s = settings("mlp:4", SGD, None);
    s.data.scaling = Some(Scaling::Declared);
    s.data.disclose_feature_stats = false;
    let source = DataSource::Bundled(Bundled::BreastCancer);
    let data = TrainData::prepare(&source, &s, &DomainSpec::default()).unwrap();
    let raw = Bundled::BreastCancer.load().unwrap();
    let declared = Bundled::BreastCancer
        .declared_ranges(raw.feature_names())
        .unwrap();
    let norm = declared.normalizer(raw.feature_names()).unwrap();
    assert_eq!(data.table.normalizer.as_ref(), Some(&norm));
    assert_eq!(norm.scaling(), Scaling::Declared);
    assert!(
        data.x_train
            .iter()
            .chain(data.x_test.iter())
            .all(|v| (0.0..=1.0).contains(v)),
        "every value lies in its declared range"
    );
    let t = train(DomainKind::Plain, &data, "mlp:4", SGD, None, 1, false);
    assert!(t.epochs.last().unwrap().test_accuracy > 0.85);
    let rows = PredictRows::prepare(&source, &t.model.meta).unwrap();
    assert_eq!(rows.x, norm.transform(raw.features()).unwrap());
    // A fitted scaling without the consent is refused before anything else.
    s.data.scaling = Some(Scaling::ZScore);
    let e = TrainData::prepare(&source, &s, &DomainSpec::default()).unwrap_err();
    assert!(e.to_string().contains("disclose"), "{e}");
    // A CSV table has no declared ranges of its own.
    let dir = TempDir::new("learn-declared");
    let path = dir.write("t.csv", "a,target\n1,0\n2,1\n3,0\n4,1\n5,0\n");
    s.data.scaling = Some(Scaling::Declared);
    let csv = DataSource::from_arg(path.to_str().unwrap(), None);
    let e = TrainData::prepare(&csv, &s, &DomainSpec::default()).unwrap_err();
    assert!(e.to_string().contains("--feature-ranges"), "{e}");
    let ranges =
        data::FeatureRanges::read("feature,min,max\na,0,10\n".as_bytes(), "r.csv").unwrap();
    let d =
        TrainData::prepare_with_ranges(&csv, Some(&ranges), &s, &DomainSpec::default()).unwrap();
    assert!(
        d.x_train
            .iter()
            .all(|v| [0.1, 0.2, 0.3, 0.4, 0.5].contains(v))
    );
}

/// The secure domains of Z_2^64: three parties, and two parties with a
/// dealer.
const SECURE: [DomainKind; 2] = [DomainKind::Shared64, DomainKind::TwoParty64];

#[test]
fn shared_mnist_accuracy_is_within_one_point_of_plain() {
    let data = prepared(Bundled::Mnist5k, Some(1500));
    let plain = train(DomainKind::Plain, &data, "mlp:64", SGD, None, 1, false);
    let p = plain.epochs.last().unwrap().test_accuracy;
    assert!(p > 0.75, "the plaintext model learns (accuracy {p})");
    for kind in SECURE {
        let shared = train(kind, &data, "mlp:64", SGD, None, 1, false);
        let s = shared.epochs.last().unwrap().test_accuracy;
        assert!((p - s).abs() <= 0.01, "plain {p} vs {kind} {s}");
    }
}

#[test]
fn shared_breast_cancer_accuracy_is_within_one_point_of_plain() {
    let data = prepared(Bundled::BreastCancer, None);
    let plain = train(DomainKind::Plain, &data, "mlp:16", SGD, None, 2, false);
    let fixed = train(DomainKind::Fixed64, &data, "mlp:16", SGD, None, 2, false);
    let acc = |o: &TrainOutcome| o.epochs.last().unwrap().test_accuracy;
    assert!(acc(&plain) > 0.85, "{}", acc(&plain));
    for kind in SECURE {
        let shared = train(kind, &data, "mlp:16", SGD, None, 2, false);
        assert!(
            (acc(&plain) - acc(&shared)).abs() <= 0.01,
            "plain {} vs {kind} {}",
            acc(&plain),
            acc(&shared)
        );
    }
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
) -> privml::Result<Predictions> {
    let job = PredictJob {
        model: ModelLocation::Prefix(prefix.to_path_buf()),
        data: Some(x),
        data_owner: 1,
    };
    let (out, _) = run_local(kind, &SharedConfig::default(), &job)?;
    out.ok_or_else(|| Error::invalid("test", "the data owner got no predictions"))
}

/// What the trained model predicts: its revealed parameters applied in f64.
fn plaintext_predictions(t: &TrainOutcome, x: &Array2<f64>) -> Predictions {
    let Architecture::Mlp(spec) = &t.model.meta.architecture else {
        panic!("an MLP was trained");
    };
    let params = t.revealed.clone().expect("trained with reveal_model");
    let mut r = Plain::new();
    let mut net = nn::mlp_with_parameters(&r, spec, params).unwrap();
    let scores = net.predict(&mut r, &x.clone().into_dyn()).unwrap();
    Predictions::from_scores(scores.into_dimensionality().unwrap())
}

#[test]
fn saved_shares_round_trip_and_bad_files_are_errors() {
    round_trip(DomainKind::Shared64);
}

#[test]
fn saved_two_party_shares_round_trip_and_bad_files_are_errors() {
    round_trip(DomainKind::TwoParty64);
}

/// Train, save, predict from the files; files of another model, in the
/// wrong place or corrupted are refused. Every secure domain writes three
/// files: the parties' shares, and with two parties the dealer's shapes.
fn round_trip(kind: DomainKind) {
    let dir = TempDir::new("learn-roundtrip");
    let data = prepared(Bundled::BreastCancer, None);
    let sgd = MiniBatch { epochs: 2, ..SGD };
    let a = dir.join("a");
    let b = dir.join("b");
    // Revealed only to have the trained model to compare the files with.
    let trained = train(kind, &data, "mlp:8", sgd, Some(&a), 3, true);
    train(kind, &data, "mlp:8", sgd, Some(&b), 4, false);
    for p in 0..3 {
        assert!(SavedModel::party_path(&a, p).exists());
    }
    // Nothing in a party's file is the model in the clear.
    let f0 = SavedModel::load(SavedModel::party_path(&a, 0)).unwrap();
    assert_eq!(f0.tensors.len(), 4);
    assert!(format!("{:?}", f0.tensors[0]).contains("redacted"));
    assert_eq!(f0.meta, trained.model.meta);
    assert_eq!(f0.meta.domain, kind);
    assert_eq!(f0.meta.frac_bits, Some(16));

    // Round trip: predictions from the files equal the trained model's
    // (up to the fixed-point error of the secure forward pass).
    let loaded = predict(kind, &a, &data.x_test).unwrap();
    let want = plaintext_predictions(&trained, &data.x_test);
    assert_eq!(loaded.scores.dim(), want.scores.dim());
    for (row, (got, exp)) in loaded.scores.iter().zip(want.scores.iter()).enumerate() {
        assert!((got - exp).abs() < 1e-3, "row {row}: {got} vs {exp}");
        if (exp - 0.5).abs() > 1e-3 {
            assert_eq!(loaded.classes[row], want.classes[row], "row {row}");
        }
    }
    // The tolerance tells models apart: the initial weights (what a save
    // before training would hold) predict otherwise.
    let Architecture::Mlp(spec) = &trained.model.meta.architecture else {
        panic!("an MLP was trained");
    };
    let mut r = Plain::new();
    let mut initial = nn::mlp(&mut r, spec, 5).unwrap();
    let before = initial
        .predict(&mut r, &data.x_test.clone().into_dyn())
        .unwrap();
    assert!(
        before
            .iter()
            .zip(want.scores.iter())
            .any(|(b, w)| (b - w).abs() > 1e-2),
        "training must change the predictions"
    );

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
    match predict(kind, &c, &data.x_test) {
        Err(Error::InconsistentShares { .. }) => {}
        other => panic!("mismatched files must be refused, got {other:?}"),
    }

    // A party's file in the wrong place: refused when loading.
    let d = dir.join("d");
    std::fs::copy(SavedModel::party_path(&a, 0), SavedModel::party_path(&d, 0)).unwrap();
    std::fs::copy(SavedModel::party_path(&a, 2), SavedModel::party_path(&d, 1)).unwrap();
    std::fs::copy(SavedModel::party_path(&a, 1), SavedModel::party_path(&d, 2)).unwrap();
    assert!(predict(kind, &d, &data.x_test).is_err());

    // A corrupted file: the checksum catches it.
    let path = SavedModel::party_path(&a, 2);
    let mut bytes = std::fs::read(&path).unwrap();
    let k = bytes.len() / 3;
    bytes[k] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    match predict(kind, &a, &data.x_test) {
        Err(Error::Decode {
            origin: Origin::File(p),
            error: DecodeError::Checksum,
            ..
        }) => assert_eq!(p, path),
        other => panic!("corruption must be detected, got {other:?}"),
    }
}

#[test]
fn plaintext_models_round_trip_exactly() {
    let dir = TempDir::new("learn-plain");
    let data = prepared(Bundled::BreastCancer, None);
    let sgd = MiniBatch { epochs: 2, ..SGD };
    let a = dir.join("m");
    let t = train(DomainKind::Plain, &data, "mlp:8", sgd, Some(&a), 1, false);
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
}

#[test]
fn logistic_regression_workload_matches_plaintext_accuracy() {
    use privml::Ring;
    use privml::workloads::{W5Logistic, Workload};
    let w5 = W5Logistic::new();
    let (wp, bp) = w5.plain_epoch();
    let plain_acc = w5.accuracy(&wp, bp);
    assert!(plain_acc > 0.9, "{plain_acc}");
    let runs = on_both_protocols!(&SharedConfig::default(), |r| {
        let (x, y, mut w, mut b) = w5.setup(r)?;
        w5.epoch(r, &x, &y, &mut w, &mut b)?;
        Ok((r.reveal(&w)?, r.reveal(&b)?))
    });
    for run in runs {
        let (w, b) = run.first().clone();
        let w = w
            .into_shape_with_order(20)
            .unwrap()
            .into_dimensionality::<ndarray::Ix1>()
            .unwrap();
        let acc = w5.accuracy(&w, b.iter().sum());
        assert!(
            (acc - plain_acc).abs() < 0.01,
            "{}: {acc} vs plain (exact sigmoid) {plain_acc}",
            run.name()
        );
    }
}
