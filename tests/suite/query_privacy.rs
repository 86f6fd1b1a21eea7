//! Issue 16, item 5: a party's view of a private prediction query (the
//! client's pair of shares of the rows, and every message of the secure
//! evaluation) is independent of the client's rows: the same statistics
//! as `tests/suite/privacy.rs` (two-sample byte chi-square, per-bit z, byte
//! uniformity) on each party's received bytes for two different inputs.

use crate::common;
use crate::view_stats;

use common::run_parties;
use ndarray::Array2;
use privml::SharedConfig;
use privml::dataset_file::share_matrix;
use privml::domain::TensorData;
use privml::learn::{SharedPredictJob, TrainData, TrainJob, TrainSettings};
use privml::model_file::SavedModel;
use privml::nn::MiniBatch;
use privml::runner::{DomainSpec, Job, run_local};
use view_stats::{CHI2_255, MAX_BIT_Z, chi2_two_sample, chi2_uniform, max_bit_z};

/// A small model on the bundled breast-cancer table, in three share files.
fn model() -> Vec<SavedModel> {
    let settings = TrainSettings {
        model: "mlp:8".parse().unwrap(),
        sgd: MiniBatch {
            epochs: 1,
            batch: 32,
            lr: 0.2,
        },
        ..TrainSettings::default()
    };
    let source = privml::learn::DataSource::Bundled(privml::data::Bundled::BreastCancer);
    let data = TrainData::prepare(&source, &settings, &DomainSpec::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("m");
    let job = TrainJob {
        out_prefix: Some(prefix.clone()),
        ..TrainJob::new(&settings, Some(&data))
    };
    run_local(
        DomainSpec::default().kind(),
        &SharedConfig::default().insecure_test_seed(3),
        &job,
    )
    .unwrap();
    (0..3)
        .map(|p| SavedModel::load(SavedModel::party_path(&prefix, p)).unwrap())
        .collect()
}

/// Each party's received bytes while answering a query on `x`: its pair
/// of the client's shares, then the protocol's messages.
fn views(models: &[SavedModel], x: &Array2<f64>, seed: u64) -> Vec<Vec<u8>> {
    let rows = share_matrix(x, &DomainSpec::default()).unwrap();
    let cfg = SharedConfig::default().insecure_test_seed(seed);
    let job = SharedPredictJob {
        models,
        rows: &rows,
    };
    let (results, received) = run_parties(&cfg, |r| job.run(r));
    results
        .into_iter()
        .zip(received)
        .enumerate()
        .map(|(p, (res, got))| {
            res.expect("query");
            let mut v = match &rows[p] {
                TensorData::Shares { a, b, .. } => [a.as_slice(), b.as_slice()].concat(),
                other => panic!("{other:?}"),
            };
            v.extend_from_slice(&got);
            v
        })
        .collect()
}

#[test]
fn a_partys_view_of_a_query_is_independent_of_the_rows() {
    let models = model();
    let n = 400;
    let zeros = Array2::zeros((n, 30));
    let varied = Array2::from_shape_fn((n, 30), |(i, j)| ((i * 13 + j * 7) % 101) as f64 / 100.0);
    let a = views(&models, &zeros, 1);
    let b = views(&models, &varied, 2);
    for p in 0..3 {
        let (va, vb) = (&a[p], &b[p]);
        assert_eq!(va.len(), vb.len(), "party {p}: the view's size is public");
        assert!(
            va.len() >= 100_000,
            "party {p}: {} bytes, too few to test",
            va.len()
        );
        let chi = chi2_two_sample(va, vb);
        assert!(
            chi < CHI2_255,
            "party {p}: byte distributions differ ({chi:.1})"
        );
        let z = max_bit_z(va, vb);
        assert!(z < MAX_BIT_Z, "party {p}: a bit position differs ({z:.2})");
        let u = chi2_uniform(vb);
        assert!(u < CHI2_255, "party {p}: not uniform ({u:.1})");
    }
    // Negative control: with the rows themselves in the view, the two
    // inputs are told apart.
    let fp = privml::FixedPoint::<u64>::default();
    let leak = |x: &Array2<f64>| -> Vec<u8> {
        fp.encode_array(&x.clone().into_dyn())
            .unwrap()
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect()
    };
    let (mut la, mut lb) = (a[1].clone(), b[1].clone());
    la.extend(leak(&zeros));
    lb.extend(leak(&varied));
    assert!(chi2_two_sample(&la, &lb) > CHI2_255 || max_bit_z(&la, &lb) > MAX_BIT_Z);
}
