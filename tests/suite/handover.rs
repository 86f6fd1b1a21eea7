//! The hand-over without a network (issue 16, item 6): a table split into
//! the three parties' dataset share files, trained on by three parties,
//! and the outputs combined again. Round trip, each file alone independent
//! of the table, bad files refused, training on the files equal to
//! training on the table in the clear, and the CLI as three processes.

#[cfg(all(feature = "tls", feature = "cli"))]
use crate::net_common;
#[cfg(not(all(feature = "tls", feature = "cli")))]
use crate::temp_dir;
use crate::view_stats;

#[cfg(all(feature = "tls", feature = "cli"))]
use net_common::TempDir;
#[cfg(not(all(feature = "tls", feature = "cli")))]
use temp_dir::TempDir;

use ndarray::{Array2, ArrayD};
use privml::data::{Bundled, Scaling};
use privml::dataset_file::{self, DatasetShares};
use privml::domain::TensorData;
use privml::error::Origin;
use privml::learn::{
    DataSource, DataSpec, TableData, Task, TrainData, TrainJob, TrainOutcome, TrainSettings,
};
use privml::model_file::TableMeta;
use privml::nn::MiniBatch;
use privml::runner::{DomainSpec, run_local};
use privml::{Error, SharedConfig};
use view_stats::{CHI2_255, MAX_BIT_Z, chi2_two_sample, chi2_uniform, max_bit_z};

fn breast_cancer() -> TableData {
    let source = DataSource::Bundled(Bundled::BreastCancer);
    TableData::prepare(
        &source,
        None,
        None,
        Some(Scaling::Declared),
        &DomainSpec::default(),
    )
    .unwrap()
}

fn settings(model: &str) -> TrainSettings {
    TrainSettings {
        model: model.parse().unwrap(),
        sgd: MiniBatch {
            epochs: 2,
            batch: 32,
            lr: 0.2,
        },
        data: DataSpec {
            test_fraction: 0.2,
            max_rows: Some(300),
            scaling: Some(Scaling::Declared),
            disclose_feature_stats: false,
        },
        seed: 4,
        reveal_model: true,
        ..TrainSettings::default()
    }
}

#[test]
fn files_round_trip_to_the_prepared_table() {
    let table = breast_cancer();
    let files = dataset_file::share_prepared(&table, &DomainSpec::default()).unwrap();
    let dir = TempDir::new("handover-rt");
    let prefix = dir.join("bc");
    for f in &files {
        f.save(DatasetShares::party_path(&prefix, f.party.into()))
            .unwrap();
    }
    let back: Vec<DatasetShares> = (0..3)
        .map(|p| DatasetShares::load(DatasetShares::party_path(&prefix, p)).unwrap())
        .collect();
    let back: [DatasetShares; 3] = back.try_into().unwrap();
    assert_eq!(back, files);
    let (x, y) = dataset_file::open_table(&back).unwrap();
    let close = |a: &Array2<f64>, b: &Array2<f64>| {
        a.dim() == b.dim() && a.iter().zip(b).all(|(u, v)| (u - v).abs() <= 0.5 / 65536.0)
    };
    assert!(close(&x, &table.x) && close(&y, &table.y));
    assert_eq!(back[2].schema.table, table.table);
    assert_eq!(back[0].schema.rows, 569);
    // Two sharings of the same table are different files with different ids.
    let again = dataset_file::share_prepared(&table, &DomainSpec::default()).unwrap();
    assert_ne!(again[0].schema.dataset_id, files[0].schema.dataset_id);
    assert_ne!(again[0].x, files[0].x);
}

fn share_bytes(t: &TensorData) -> Vec<u8> {
    match t {
        TensorData::Shares { a, b, .. } => [a.as_slice(), b.as_slice()].concat(),
        other => panic!("not shares: {other:?}"),
    }
}

fn table_of(x: Array2<f64>, classes: usize) -> (Array2<f64>, Array2<f64>, TableMeta) {
    let n = x.nrows();
    let y = Array2::from_shape_fn((n, classes), |(i, k)| f64::from(u8::from(i % classes == k)));
    let meta = TableMeta {
        target: "y".into(),
        features: (0..x.ncols()).map(|j| format!("f{j}")).collect(),
        n_classes: classes,
        normalizer: None,
        task: Task::Classification,
        target_normalizer: None,
    };
    (x, y, meta)
}

/// What one party's file holds is two uniformly random words per value,
/// whatever the table: the bytes of each party's shares of an all-zero
/// table and of a table of varied values have the same distribution (byte
/// chi-square, per-bit z) and are uniform, as in `tests/suite/privacy.rs`.
#[test]
fn each_file_alone_is_independent_of_the_table() {
    let (rows, cols) = (2000, 10);
    let zeros = Array2::zeros((rows, cols));
    let varied = Array2::from_shape_fn((rows, cols), |(i, j)| {
        ((i * 31 + j * 7) % 97) as f64 / 9.0 - 5.0
    });
    let (x0, y0, t0) = table_of(zeros, 2);
    let (x1, y1, t1) = table_of(varied.clone(), 2);
    let a = dataset_file::share_table(&x0, &y0, &t0, &DomainSpec::default()).unwrap();
    let b = dataset_file::share_table(&x1, &y1, &t1, &DomainSpec::default()).unwrap();
    for p in 0..3 {
        let (va, vb) = (share_bytes(&a[p].x), share_bytes(&b[p].x));
        assert!(va.len() >= 100_000);
        let chi = chi2_two_sample(&va, &vb);
        assert!(
            chi < CHI2_255,
            "party {p}: byte distributions differ ({chi:.1})"
        );
        let z = max_bit_z(&va, &vb);
        assert!(z < MAX_BIT_Z, "party {p}: a bit position differs ({z:.2})");
        let u = chi2_uniform(&vb);
        assert!(u < CHI2_255, "party {p}: not uniform ({u:.1})");
    }
    // Negative control: the three shares together are the table, and the
    // same statistics tell the two tables apart from the sum of shares.
    let sum = |f: &[DatasetShares; 3]| -> Vec<u8> {
        let x = dataset_file::open_shares([&f[0].x, &f[1].x, &f[2].x]).unwrap();
        let fp = privml::FixedPoint::<u64>::default();
        fp.encode_array(&x)
            .unwrap()
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect()
    };
    let (sa, sb) = (sum(&a), sum(&b));
    assert!(chi2_two_sample(&sa, &sb) > CHI2_255 || max_bit_z(&sa, &sb) > MAX_BIT_Z);
}

fn refused(bytes: &[u8], needle: &str) {
    let e = DatasetShares::decode(bytes, Origin::Bytes).unwrap_err();
    assert!(matches!(e, Error::Decode { .. }), "{e:?}");
    assert!(e.to_string().contains(needle), "{e}");
}

#[test]
fn truncated_corrupt_and_foreign_files_are_clear_errors() {
    let (x, y, t) = table_of(Array2::from_elem((20, 3), 0.5), 3);
    let files = dataset_file::share_table(&x, &y, &t, &DomainSpec::default()).unwrap();
    let good = files[1].encode().unwrap();
    assert_eq!(
        DatasetShares::decode(&good, Origin::Bytes).unwrap(),
        files[1]
    );
    for cut in [0, 5, 9, 40, good.len() - 1] {
        let e = DatasetShares::decode(&good[..cut], Origin::Bytes).unwrap_err();
        assert!(matches!(e, Error::Decode { .. }), "cut at {cut}: {e:?}");
    }
    refused(&good[..20], "truncated");
    let mut flipped = good.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 1;
    refused(&flipped, "checksum");
    let mut version = good.clone();
    version[8] = 9;
    refused(&version, "version");
    refused(b"PRIVML\x00\x03 a model file", "dataset share file");
    // A well-formed file whose tensors do not match its schema.
    let mut lying = files[1].clone();
    lying.schema.rows = 21;
    refused(&lying.encode().unwrap(), "schema says [21, 3]");
    let mut other_party = files[1].clone();
    other_party.party = 2;
    refused(&other_party.encode().unwrap(), "file of party 2");
    // Files of two sharings of the same table do not combine, nor do two
    // files of one party, nor a tampered share.
    let other = dataset_file::share_table(&x, &y, &t, &DomainSpec::default()).unwrap();
    let mixed = [files[0].clone(), other[1].clone(), files[2].clone()];
    let e = dataset_file::open_table(&mixed).unwrap_err();
    assert!(e.to_string().contains("another sharing"), "{e}");
    let e = dataset_file::open_shares([&files[0].x, &files[0].x, &files[2].x]).unwrap_err();
    assert!(e.to_string().contains("two files of party 0"), "{e}");
    let mut tampered = files[1].clone();
    if let TensorData::Shares { a, .. } = &mut tampered.x {
        a[0] ^= 1;
    }
    let e = dataset_file::open_shares([&files[0].x, &tampered.x, &files[2].x]).unwrap_err();
    assert!(e.to_string().contains("do not belong together"), "{e}");
    // A file that others may read is refused, naming the chmod.
    let dir = TempDir::new("handover-perm");
    let path = dir.join("d.party1.shares");
    files[1].save(&path).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = DatasetShares::load(&path).unwrap_err();
        assert!(matches!(e, Error::FileNotPrivate { .. }), "{e:?}");
    }
}

fn train_on_files(
    settings: &TrainSettings,
    files: &[DatasetShares],
) -> privml::Result<TrainOutcome> {
    let job = TrainJob {
        shared: files,
        ..TrainJob::new(settings, None)
    };
    run_local(
        DomainSpec::default().kind(),
        &SharedConfig::default().insecure_test_seed(11),
        &job,
    )
    .map(|(out, _)| out)
}

fn max_diff(a: &[ArrayD<f64>], b: &[ArrayD<f64>]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .flat_map(|(x, y)| {
            assert_eq!(x.shape(), y.shape());
            x.iter().zip(y).map(|(u, v)| (u - v).abs())
        })
        .fold(0.0, f64::max)
}

/// Training on the three files (rows chosen and split on the shares) gives
/// the model that training on the table in the clear gives, up to the
/// fixed-point rounding of the secure run: both the classic MLP path (one
/// score column taken from the one-hot targets) and the network path.
#[test]
fn training_on_share_files_equals_training_on_the_table() {
    let table = breast_cancer();
    let files = dataset_file::share_prepared(&table, &DomainSpec::default()).unwrap();
    for model in ["mlp:4", "dense:6,relu,dense:2"] {
        let mut s = settings(model);
        if model.starts_with("dense") {
            s.loss = privml::nn::Loss::CrossEntropy;
        }
        let shared = train_on_files(&s, &files).unwrap();
        let clear = TrainData::prepare(
            &DataSource::Bundled(Bundled::BreastCancer),
            &s,
            &DomainSpec::default(),
        )
        .unwrap();
        let job = TrainJob::new(&s, Some(&clear));
        let (reference, _) = run_local(
            DomainSpec::default().kind(),
            &SharedConfig::default().insecure_test_seed(11),
            &job,
        )
        .unwrap();
        let (a, b) = (shared.revealed.unwrap(), reference.revealed.unwrap());
        let d = max_diff(&a, &b);
        assert!(d < 0.01, "{model}: parameters differ by {d}");
        assert_eq!(shared.model.meta, reference.model.meta, "{model}");
        for (e, f) in shared.epochs.iter().zip(&reference.epochs) {
            assert!(
                (e.train_loss - f.train_loss).abs() < 0.01,
                "{model}: {e:?} {f:?}"
            );
            assert!(
                (e.test_accuracy - f.test_accuracy).abs() < 0.02,
                "{model}: {e:?} {f:?}"
            );
        }
    }
}

#[test]
fn training_on_mismatched_files_stops_with_a_clear_error() {
    let table = breast_cancer();
    let a = dataset_file::share_prepared(&table, &DomainSpec::default()).unwrap();
    let b = dataset_file::share_prepared(&table, &DomainSpec::default()).unwrap();
    let s = settings("mlp:4");
    let mixed = [a[0].clone(), b[1].clone(), a[2].clone()];
    let e = train_on_files(&s, &mixed).unwrap_err();
    assert!(e.to_string().contains("another sharing"), "{e}");
    // Same sharing, but party 1's shares altered (with a valid file around
    // them): the agreement check finds it before training.
    let mut bad = a.clone();
    if let TensorData::Shares { b: second, .. } = &mut bad[1].y {
        second[3] ^= 0x40;
    }
    let e = train_on_files(&s, &bad).unwrap_err();
    assert!(e.to_string().contains("do not belong"), "{e}");
    // A job asking for another scaling or task than the files were shared with.
    let none = TrainSettings {
        data: DataSpec {
            scaling: None,
            ..s.data
        },
        ..s.clone()
    };
    let e = train_on_files(&none, &a).unwrap_err();
    assert!(e.to_string().contains("shared with scaling ranges"), "{e}");
    let regression = TrainSettings {
        task: Some(Task::Regression),
        ..s.clone()
    };
    let e = train_on_files(&regression, &a).unwrap_err();
    assert!(e.to_string().contains("shared for classification"), "{e}");
    // A party without its file.
    let e = train_on_files(&s, &a[..2]).unwrap_err();
    assert!(e.to_string().contains("dataset share file"), "{e}");
}

/// The command line, as processes (needs the binary and TLS).
#[cfg(all(feature = "tls", feature = "cli"))]
mod cli {
    use super::*;
    use privml::model_file::SavedModel;
    use std::path::Path;
    use std::time::Duration;

    fn run_ok(args: &[&str]) -> String {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_privml"))
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "privml {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn path(p: &Path) -> &str {
        p.to_str().unwrap()
    }

    /// `privml share`, three `privml party ... train --input` processes over
    /// TLS, `privml reconstruct` of their model files, and the combined model
    /// predicting in the clear.
    #[test]
    fn share_train_as_three_processes_and_reconstruct() {
        let (dir, config) = net_common::deployment("handover-cli");
        let data = dir.join("d");
        let model = dir.join("m");
        let said = run_ok(&["share", "--data", "breast_cancer", "--out", path(&data)]);
        assert!(said.contains("569 rows, 30 features"), "{said}");
        let parties: Vec<_> = (0..3)
            .map(|p| {
                let input = DatasetShares::party_path(&data, p);
                net_common::spawn(
                    env!("CARGO_BIN_EXE_privml"),
                    &[
                        "party",
                        "--id",
                        &p.to_string(),
                        "--config",
                        path(&config),
                        "--connect-deadline",
                        "20",
                        "--timeout",
                        "20",
                        "train",
                        "--input",
                        path(&input),
                        "--model",
                        "mlp:4",
                        "--epochs",
                        "1",
                        "--max-rows",
                        "200",
                        "--out",
                        path(&model),
                    ],
                )
            })
            .collect();
        let outs: Vec<_> = parties
            .into_iter()
            .map(|c| net_common::finish_within(c, Duration::from_secs(60)))
            .collect();
        for (p, o) in outs.iter().enumerate() {
            assert!(
                o.status.success(),
                "party {p}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
        let said0 = String::from_utf8_lossy(&outs[0].stdout);
        assert!(said0.contains("final test accuracy"), "{said0}");
        let clear = dir.join("m.clear");
        run_ok(&["reconstruct", "--from", path(&model), "--out", path(&clear)]);
        let predicted = run_ok(&[
            "predict",
            "--domain",
            "plain",
            "--model",
            path(&model),
            "--data",
            "breast_cancer",
        ]);
        assert!(predicted.contains("accuracy"), "{predicted}");
        // Reconstructing files of different models is refused.
        let bad = std::process::Command::new(env!("CARGO_BIN_EXE_privml"))
            .args(["reconstruct", "--from", path(&data), "--out"])
            .arg(dir.join("x.csv"))
            .output()
            .unwrap();
        assert!(bad.status.success());
        std::fs::copy(
            DatasetShares::party_path(&data, 0),
            SavedModel::party_path(&model, 0),
        )
        .unwrap();
        let bad = std::process::Command::new(env!("CARGO_BIN_EXE_privml"))
            .args(["reconstruct", "--from", path(&model), "--out"])
            .arg(dir.join("y.clear"))
            .output()
            .unwrap();
        assert!(!bad.status.success());
    }
}
