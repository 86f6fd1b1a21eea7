//! A tiny training job on a bundled data set, for tests that need a real
//! training run (its keystreams, its files, its announcement) and not its
//! accuracy.
#![allow(
    dead_code,
    reason = "each integration test binary includes this module and uses a different part of it"
)]

use privml::data::{Bundled, Scaling};
use privml::learn::{DataSource, DataSpec, TrainData, TrainSettings};
use privml::nn::MiniBatch;
use privml::runner::DomainSpec;

/// An MLP with 2 hidden units on the first `rows` rows of the breast-cancer
/// set (a quarter of them for testing), trained for `epochs` in batches of
/// `batch`, with data owner `owner`: the settings and the prepared rows.
pub fn tiny(rows: usize, epochs: usize, batch: usize, owner: usize) -> (TrainSettings, TrainData) {
    let settings = TrainSettings {
        model: "mlp:2".parse().expect("model"),
        sgd: MiniBatch {
            epochs,
            batch,
            lr: 0.2,
        },
        data: DataSpec {
            test_fraction: 0.25,
            max_rows: Some(rows),
            scaling: Some(Scaling::Declared),
            disclose_feature_stats: false,
        },
        seed: 3,
        data_owner: owner,
        reveal_model: false,
        ..TrainSettings::default()
    };
    let data = TrainData::prepare(
        &DataSource::Bundled(Bundled::BreastCancer),
        &settings,
        &DomainSpec::default(),
    )
    .expect("bundled data");
    (settings, data)
}
