//! Federated averaging: the training loop.

use std::time::{Duration, Instant};

use ndarray::{Array1, Array2};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use super::model::{LocalTraining, ModelSpec};
use super::round::{AggregationOptions, ClientUpdate, Fault, RoundAggregator, RoundOutcome};
use super::split::{Split, split_clients};
use super::{Aggregation, ClientId, ShareEncoding, UpdateMeta};
use crate::data::{Bundled, Dataset, Normalizer, Scaling, train_test_split};
use crate::error::{Error, Result};
use crate::keyword::keyword_enum;
use crate::nn::WeightDecay;

/// How client updates are weighted in the mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Weighting {
    /// By the client's number of training samples (public): the FedAvg
    /// weighting, Σ n_k Δ_k / Σ n_k over the accepted clients.
    #[default]
    SampleCount,
    /// Every accepted client counts once: Σ Δ_k / k.
    Uniform,
}

keyword_enum!(Weighting, "weighting", {
    SampleCount => "samples" | "sample-count",
    Uniform => "uniform",
});

/// Settings of a federated training run on the bundled breast-cancer data
/// (569 samples, 30 features, binary target).
///
/// # Examples
///
/// ```
/// use privml::fl::{Aggregation, FederatedConfig, run_federated};
///
/// let cfg = FederatedConfig { clients: 5, rounds: 3, aggregation: Aggregation::Mpc, ..Default::default() };
/// let report = run_federated(&cfg, |_| {})?;
/// assert_eq!(report.rounds.len(), 3);
/// assert!(report.final_accuracy > 0.8);
/// # Ok::<(), privml::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct FederatedConfig {
    /// Number of clients N (at least 2).
    pub clients: usize,
    /// Rounds of federated averaging (at most; see `target_accuracy`).
    pub rounds: usize,
    /// Local full-batch gradient steps per round.
    pub local_steps: usize,
    /// Local learning rate (per step, on the mean gradient of the shard).
    pub lr: f64,
    /// Weight decay λ of local training (keeps the polynomial sigmoid's
    /// inputs inside its range; see [`ModelSpec::train_local`]).
    pub weight_decay: f64,
    /// How the training set is dealt out.
    pub split: Split,
    /// How updates are aggregated.
    pub aggregation: Aggregation,
    /// How updates are weighted.
    pub weighting: Weighting,
    /// Probability that a client drops out of a round (independently).
    pub dropout: f64,
    /// Clients that never submit.
    pub dropped: Vec<ClientId>,
    /// Clients whose submissions are faulty in every round.
    pub faulty: Vec<(ClientId, Fault)>,
    /// Fewest accepted updates for a round to reveal its aggregate.
    pub min_clients: usize,
    /// Stop once the global test accuracy reaches this.
    pub target_accuracy: Option<f64>,
    /// Hidden units of an MLP; `None` for logistic regression.
    pub hidden: Option<usize>,
    /// Fraction of the data held out as the test set.
    pub test_fraction: f64,
    /// Fraction bits of the fixed-point encoding of updates.
    pub frac_bits: u32,
    /// Clients the encoding leaves headroom for.
    pub max_clients: u32,
    /// How MPC clients write their shares.
    pub share_encoding: ShareEncoding,
    /// Seed of the data split, dropouts and initial weights (the
    /// cryptographic randomness always comes from the OS).
    pub seed: u64,
}

impl Default for FederatedConfig {
    fn default() -> Self {
        FederatedConfig {
            clients: 10,
            rounds: 20,
            local_steps: 5,
            lr: 4.0,
            weight_decay: 0.002,
            split: Split::Iid,
            aggregation: Aggregation::Mpc,
            weighting: Weighting::SampleCount,
            dropout: 0.0,
            dropped: Vec::new(),
            faulty: Vec::new(),
            min_clients: 2,
            target_accuracy: None,
            hidden: None,
            test_fraction: 0.2,
            frac_bits: 16,
            max_clients: 1024,
            share_encoding: ShareEncoding::Explicit,
            seed: 1,
        }
    }
}

impl FederatedConfig {
    fn check(&self) -> Result<()> {
        if self.clients < 2 {
            return Err(Error::invalid(
                "clients",
                "federated learning needs at least 2",
            ));
        }
        if self.clients as u64 > self.max_clients as u64 {
            return Err(Error::invalid(
                "clients",
                format!(
                    "{} clients exceed max_clients = {}",
                    self.clients, self.max_clients
                ),
            ));
        }
        if self.rounds == 0 || self.local_steps == 0 {
            return Err(Error::invalid(
                "rounds",
                "rounds and local steps must be at least 1",
            ));
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(Error::invalid("lr", format!("{} is not positive", self.lr)));
        }
        WeightDecay::new(self.lr, self.weight_decay)?;
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(Error::invalid(
                "dropout",
                format!("{} is not in [0, 1)", self.dropout),
            ));
        }
        if let Some(c) = self
            .dropped
            .iter()
            .chain(self.faulty.iter().map(|(c, _)| c))
            .find(|c| c.0 as usize >= self.clients)
        {
            return Err(Error::invalid(
                "clients",
                format!("{c} does not exist (clients are 0..{})", self.clients),
            ));
        }
        Ok(())
    }
}

/// What happened in one round: the aggregation's [`RoundOutcome`] and
/// what training around it adds.
#[derive(Debug)]
pub struct RoundReport {
    /// 1-based round.
    pub round: usize,
    /// Clients that dropped out.
    pub dropped: Vec<ClientId>,
    /// The aggregation: accepted and refused clients (and why), the opened
    /// mean, bytes, the time to protect, aggregate and open, and the
    /// deviation from the plaintext mean with its bound.
    pub outcome: RoundOutcome,
    /// Accuracy of the global model on the test set after the round.
    pub test_accuracy: f64,
    /// Accuracy of the global model on the pooled training set.
    pub train_accuracy: f64,
    /// Local training, all clients.
    pub time_local: Duration,
    /// The whole round (training, aggregation, evaluation).
    pub time_round: Duration,
}

impl RoundReport {
    /// Whether an aggregate was opened (enough clients) and applied.
    pub fn aggregated(&self) -> bool {
        self.outcome.mean.is_some()
    }
}

/// The result of [`run_federated`].
#[derive(Debug)]
pub struct FederatedReport {
    /// The model.
    pub model: ModelSpec,
    /// The method.
    pub aggregation: Aggregation,
    /// Training samples per client.
    pub shard_sizes: Vec<usize>,
    /// Fraction of positive (benign) samples per client.
    pub shard_positive: Vec<f64>,
    /// Test-set accuracy of the initial model.
    pub initial_accuracy: f64,
    /// Per-round reports.
    pub rounds: Vec<RoundReport>,
    /// Test accuracy of the final global model.
    pub final_accuracy: f64,
    /// First round at which `target_accuracy` was reached.
    pub reached_target: Option<usize>,
    /// The final global parameters.
    pub params: Vec<f64>,
    /// Time to set up the aggregation (HE key generation).
    pub setup_time: Duration,
}

/// The breast-cancer data, split into training and test sets and min-max
/// scaled with the training set's ranges.
///
/// The scaling ranges are taken from the pooled training set: a simulation
/// shortcut. In a deployment the sites agree on them in advance (they are
/// properties of the measuring instruments), or compute them with one
/// extra round of secure aggregation.
pub fn prepare_data(test_fraction: f64, seed: u64) -> Result<(Dataset, Dataset)> {
    let data = Bundled::BreastCancer.load()?;
    let (train, test) = train_test_split(&data, test_fraction, seed)?;
    let norm = Normalizer::fit(Scaling::MinMax, train.features())?;
    Ok((norm.apply(&train)?, norm.apply(&test)?))
}

/// Federated averaging on the bundled breast-cancer data.
///
/// Every round: each client that has not dropped out trains the global
/// model locally in plaintext for `local_steps` steps on its own shard and
/// submits its update Δ_k = w_k − w (new minus global parameters),
/// protected by the chosen [`Aggregation`]; the aggregator(s) check each
/// submission (refusing malformed ones without touching the sum), and if
/// at least `min_clients` were accepted the weighted mean
/// Σ n_k Δ_k / Σ n_k over the *accepted* clients is opened and added to the
/// global model. `log` is called after each round.
///
/// # Security
///
/// See the [module docs](super#who-learns-what). Clients' data never leave
/// them; with [`Aggregation::Mpc`] or [`Aggregation::He`] nobody sees an
/// individual update, only the round's aggregate (and the public list of
/// who took part with what weight). The aggregate itself, and the global
/// model, are public to the servers and clients.
pub fn run_federated(
    cfg: &FederatedConfig,
    mut log: impl FnMut(&RoundReport),
) -> Result<FederatedReport> {
    cfg.check()?;
    let (train, test) = prepare_data(cfg.test_fraction, cfg.seed)?;
    let shards = split_clients(&train, cfg.clients, cfg.split, cfg.seed ^ 0x5EED)?;
    let model = match cfg.hidden {
        None => ModelSpec::logistic(train.n_features()),
        Some(h) => ModelSpec::mlp(train.n_features(), h),
    };
    let mut global = model.init(cfg.seed);
    let opts = AggregationOptions {
        frac_bits: cfg.frac_bits,
        max_clients: cfg.max_clients,
        share_encoding: cfg.share_encoding,
        min_clients: cfg.min_clients,
    };
    let t = Instant::now();
    let aggregator = RoundAggregator::new(cfg.aggregation, model.num_params(), &opts)?;
    let setup_time = t.elapsed();
    let mut rng = StdRng::seed_from_u64(cfg.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let local = LocalTraining {
        steps: cfg.local_steps,
        lr: cfg.lr,
        weight_decay: cfg.weight_decay,
    };

    let (xt, yt) = (test.features(), test.targets());
    let (xa, ya) = (train.features(), train.targets());
    let initial_accuracy = model.accuracy(&global, xt, yt)?;
    let mut rounds = Vec::new();
    let mut reached_target = None;

    for round in 1..=cfg.rounds {
        let t_round = Instant::now();
        let mut dropped = Vec::new();
        let mut present = Vec::new();
        for k in 0..cfg.clients {
            let id = ClientId(k as u32);
            // Draw for every client every round, so the dropout pattern does
            // not depend on the explicit list.
            let drops = rng.random::<f64>() < cfg.dropout;
            if drops || cfg.dropped.contains(&id) {
                dropped.push(id);
            } else {
                present.push(k);
            }
        }

        let t = Instant::now();
        let deltas = present
            .iter()
            .map(|&k| {
                let s = &shards[k];
                let new = model
                    .train_local(&global, s.features(), s.targets(), local)
                    .map_err(|e| match e {
                        Error::InvalidParameter { name, reason } => Error::InvalidParameter {
                            name,
                            reason: format!("{} in round {round}: {reason}", ClientId(k as u32)),
                        },
                        e => e,
                    })?;
                Ok(new.iter().zip(&global).map(|(n, g)| n - g).collect())
            })
            .collect::<Result<Vec<Vec<f64>>>>()?;
        let time_local = t.elapsed();

        let updates: Vec<ClientUpdate<'_>> = present
            .iter()
            .zip(&deltas)
            .map(|(&k, d)| {
                let client = ClientId(k as u32);
                let weight = match cfg.weighting {
                    Weighting::SampleCount => shards[k].n_samples() as u32,
                    Weighting::Uniform => 1,
                };
                ClientUpdate {
                    meta: UpdateMeta::new(client, round as u32, weight),
                    values: d,
                    fault: cfg
                        .faulty
                        .iter()
                        .find(|(c, _)| *c == client)
                        .map(|(_, f)| *f),
                }
            })
            .collect();
        let out = aggregator.run(round as u32, &updates)?;
        if let Some(mean) = &out.mean {
            for (g, m) in global.iter_mut().zip(mean) {
                *g += m;
            }
        }
        let test_accuracy = model.accuracy(&global, xt, yt)?;
        let train_accuracy = model.accuracy(&global, xa, ya)?;
        let report = RoundReport {
            round,
            dropped,
            outcome: out,
            test_accuracy,
            train_accuracy,
            time_local,
            time_round: t_round.elapsed(),
        };
        log(&report);
        rounds.push(report);
        if let Some(target) = cfg.target_accuracy
            && test_accuracy >= target
        {
            reached_target = Some(round);
            break;
        }
    }

    let final_accuracy = model.accuracy(&global, xt, yt)?;
    Ok(FederatedReport {
        aggregation: cfg.aggregation,
        shard_sizes: shards.iter().map(Dataset::n_samples).collect(),
        shard_positive: shards.iter().map(|s| positive(s.targets())).collect(),
        initial_accuracy,
        rounds,
        final_accuracy,
        reached_target,
        params: global,
        setup_time,
        model,
    })
}

fn positive(y: &Array1<f64>) -> f64 {
    if y.is_empty() {
        0.0
    } else {
        y.iter().filter(|v| **v > 0.5).count() as f64 / y.len() as f64
    }
}

/// Trains the same model centrally on all of `x`, `y` for comparison.
pub fn train_centralised(
    model: &ModelSpec,
    x: &Array2<f64>,
    y: &Array1<f64>,
    opts: LocalTraining,
    seed: u64,
) -> Result<Vec<f64>> {
    model.train_local(&model.init(seed), x, y, opts)
}
