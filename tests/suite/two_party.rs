//! The two-party domain with a dealer: values, costs and refusals.

use ndarray::{ArrayD, arr1, arr2};
use privml::cost::Protocol;
use privml::{Additive, DealerSchedule, Gadgets, Plain, Ring, SharedConfig};

fn given(r: &impl Ring, owner: usize, v: &ArrayD<f64>) -> Option<ArrayD<f64>> {
    r.owns(owner).then(|| v.clone())
}

#[test]
fn products_comparisons_and_costs_match_plain() {
    fn prog<R: Ring>(r: &mut R) -> privml::Result<Vec<ArrayD<f64>>> {
        let x = arr2(&[[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]]).into_dyn();
        let w = arr2(&[[1.0, 2.0], [-0.5, 0.125], [0.75, -1.0]]).into_dyn();
        let b = arr1(&[0.1, -0.2]).into_dyn();
        let xs = r.input(0, given(r, 0, &x).as_ref(), &[2, 3])?;
        let ws = r.input(1, given(r, 1, &w).as_ref(), &[3, 2])?;
        let bs = r.input(1, given(r, 1, &b).as_ref(), &[2])?;
        let y = r.matmul(&xs, &ws)?;
        let y = r.add(&y, &bs)?;
        let z = r.mul(&y, &bs)?;
        let s = r.relu(&y)?;
        let m = r.max(&z, &y)?;
        let h = r.mul_public(&y, 0.5)?;
        Ok(vec![
            r.reveal(&y)?,
            r.reveal(&z)?,
            r.reveal(&s)?,
            r.reveal(&m)?,
            r.reveal(&h)?,
        ])
    }
    let mut plain = Plain::new().with_protocol(Protocol::Additive2);
    let want = prog(&mut plain).unwrap();
    let cfg = SharedConfig::default();
    for schedule in [DealerSchedule::Concurrent, DealerSchedule::Ahead] {
        let (got, cost) = Additive::<u64>::simulate_with_cost(&cfg, schedule, prog).unwrap();
        for party in &got {
            for (g, w) in party.iter().zip(&want) {
                for (a, b) in g.iter().zip(w) {
                    approx::assert_abs_diff_eq!(a, b, epsilon = 1e-3);
                }
            }
        }
        assert_eq!(cost, plain.cost());
    }
}

use crate::temp_dir;

use privml::data::{Bundled, Scaling};
use privml::learn::{
    DataSource, DataSpec, ModelLocation, PredictJob, TrainData, TrainJob, TrainOutcome,
    TrainSettings,
};
use privml::model_file::SavedModel;
use privml::nn::MiniBatch;
use privml::runner::{DomainKind, DomainSpec, run_local};

fn train_settings() -> TrainSettings {
    TrainSettings {
        model: "mlp:16".parse().unwrap(),
        sgd: MiniBatch {
            epochs: 5,
            batch: 32,
            lr: 0.2,
        },
        data: DataSpec {
            test_fraction: 0.2,
            max_rows: None,
            scaling: Some(Scaling::MinMax),
            disclose_feature_stats: true,
        },
        seed: 5,
        data_owner: 1,
        reveal_model: false,
        ..TrainSettings::default()
    }
}

#[test]
fn training_and_prediction_run_on_two_parties() {
    let settings = train_settings();
    let data = TrainData::prepare(
        &DataSource::Bundled(Bundled::BreastCancer),
        &settings,
        &DomainSpec::default(),
    )
    .unwrap();
    let dir = temp_dir::TempDir::new("two-party-learn");
    let prefix = dir.join("bc");
    let train = |kind, out: Option<&std::path::Path>| -> TrainOutcome {
        let job = TrainJob {
            out_prefix: out.map(|p| p.to_path_buf()),
            ..TrainJob::new(&settings, Some(&data))
        };
        let cfg = SharedConfig::default().insecure_test_seed(2);
        run_local(kind, &cfg, &job).unwrap().0
    };
    let plain = train(DomainKind::Plain, None);
    let two = train(DomainKind::TwoParty64, Some(&prefix));
    let acc = |o: &TrainOutcome| o.epochs.last().unwrap().test_accuracy;
    assert!(acc(&plain) > 0.85, "{}", acc(&plain));
    assert!(
        (acc(&plain) - acc(&two)).abs() <= 0.01,
        "plain {} vs two-party {}",
        acc(&plain),
        acc(&two)
    );
    // The parties' files hold shares; the dealer's holds shapes only.
    let f = |p| SavedModel::load(SavedModel::party_path(&prefix, p)).unwrap();
    assert_eq!(f(0).meta.domain, DomainKind::TwoParty64);
    assert_eq!(f(0).model_id, f(2).model_id);
    for t in &f(2).tensors {
        assert!(
            matches!(t, privml::TensorData::AdditiveShare { party: 2, data, .. } if data.is_empty())
        );
    }
    // Prediction from the files: what the training run's model predicts.
    let job = PredictJob {
        model: ModelLocation::Prefix(prefix.clone()),
        data: Some(&data.x_test),
        data_owner: 1,
    };
    let (pred, cost) = run_local(DomainKind::TwoParty64, &SharedConfig::default(), &job).unwrap();
    let pred = pred.expect("the data owner's predictions");
    let labels: Vec<usize> = data
        .y_test
        .rows()
        .into_iter()
        .map(|r| (r[0] > 0.5) as usize)
        .collect();
    let hits = pred.hits(&labels) as f64 / labels.len() as f64;
    assert!((hits - acc(&two)).abs() < 1e-9, "{hits} vs {}", acc(&two));
    assert_eq!(cost.protocol, Protocol::Additive2);
    // The three-party domain refuses the two-party model.
    let e = run_local(DomainKind::Shared64, &SharedConfig::default(), &job).unwrap_err();
    assert!(e.to_string().contains("cannot load"), "{e}");
}
