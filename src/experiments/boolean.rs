//! The tutorial's boolean-function experiments.
//!
//! Four training rows of three bits; the networks and their starting
//! weights are the tutorial's (`np.random.seed(1)`), trained full-batch with
//! the error signal y - output and no learning rate, for the tutorial's
//! iteration counts. Predictions are shown on all eight inputs.
//!
//! # What is disclosed
//!
//! The tutorial prints its progress, its weights and its predictions; so
//! does this demo, and these are its only openings, all to every party
//! (exactly rounded: [`Open::open`]):
//!
//! | what | values | when |
//! |---|---|---|
//! | the mean absolute training error ([`nn::train_full_batch`]) | 1 | every tenth of the run (10 times) |
//! | the trained weights ([`Sequential::reveal_parameters`](crate::nn::Sequential::reveal_parameters)), in one opening | 3 (two-layer, 3 × 1) or 16 (three-layer, 3 × 4 + 4 × 1) | once, after training |
//! | the scores on the eight inputs 000 … 111 (the user's: party 2, or 0 on two parties) | 8 | once, at the end |
//!
//! The training rows and targets (the data owner's, party 1) are never
//! opened.

use ndarray::{Array2, ArrayD, arr2};

use super::Log;
use crate::approx::{Polynomial, sigmoid};
use crate::cost::Cost;
use crate::domain::{Open, Ring};
use crate::error::Result;
use crate::nn::{self, Activation, ErrorReport};
use crate::runner::{Job, speaks};

/// The party that owns the training data.
pub const DATA_OWNER: usize = 1;
/// The party that asks for predictions (in the two-party protocol, whose
/// third participant is the dealer and holds no data, [`user`] is party 0).
pub const USER: usize = 2;

/// The party that asks for predictions on `r`: [`USER`], or party 0 when
/// `r` runs the two-party protocol (its party 2 is the dealer).
pub fn user<R: Ring>(r: &R) -> usize {
    if r.cost().protocol.computing_parties() < 3 {
        0
    } else {
        USER
    }
}

/// Which function to learn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    /// y = first bit.
    FirstBit,
    /// y = first bit xor second bit (the tutorial's "negated parity" rows).
    Parity,
}

/// Which network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    /// 3 → 1.
    TwoLayer,
    /// 3 → 4 → 1.
    ThreeLayer,
}

/// One experiment of the tutorial.
#[derive(Debug, Clone)]
pub struct Experiment {
    /// A title.
    pub title: String,
    /// The function.
    pub task: Task,
    /// The network.
    pub arch: Arch,
    /// The sigmoid approximation.
    pub approx: Polynomial,
    /// Training iterations.
    pub iterations: usize,
}

impl Experiment {
    /// The training rows X (4 x 3) and targets y (4 x 1).
    pub fn data(&self) -> (Array2<f64>, Array2<f64>) {
        let x = arr2(&[[0., 0., 1.], [0., 1., 1.], [1., 0., 1.], [1., 1., 1.]]);
        let y = match self.task {
            Task::FirstBit => arr2(&[[0.], [0.], [1.], [1.]]),
            Task::Parity => arr2(&[[0.], [1.], [1.], [0.]]),
        };
        (x, y)
    }
}

/// The tutorial's experiments in its order, with its iteration counts.
pub fn tutorial_experiments() -> Result<Vec<Experiment>> {
    let e = |title: &str, task, arch, approx, iterations| Experiment {
        title: title.to_string(),
        task,
        arch,
        approx,
        iterations,
    };
    Ok(vec![
        e(
            "first bit, two-layer network, Maclaurin-5",
            Task::FirstBit,
            Arch::TwoLayer,
            sigmoid::maclaurin(5)?,
            10_000,
        ),
        e(
            "parity, two-layer network, Maclaurin-5",
            Task::Parity,
            Arch::TwoLayer,
            sigmoid::maclaurin(5)?,
            10_000,
        ),
        e(
            "parity, three-layer network, Maclaurin-5",
            Task::Parity,
            Arch::ThreeLayer,
            sigmoid::maclaurin(5)?,
            10_000,
        ),
        e(
            "parity, three-layer network, Maclaurin-9",
            Task::Parity,
            Arch::ThreeLayer,
            sigmoid::maclaurin(9)?,
            10_000,
        ),
        e(
            "parity, three-layer network, Maclaurin-3",
            Task::Parity,
            Arch::ThreeLayer,
            sigmoid::maclaurin(3)?,
            500,
        ),
        headline(),
    ])
}

/// The tutorial's headline: parity with the three-layer network and the
/// interpolated degree-10 sigmoid as its notebook evaluated it, 10,000
/// iterations.
pub fn headline() -> Experiment {
    Experiment {
        title: "parity, three-layer network, interpolated sigmoid (degree 10 fit, as the notebook ran it)".to_string(),
        task: Task::Parity,
        arch: Arch::ThreeLayer,
        approx: sigmoid::notebook_effective(),
        iterations: 10_000,
    }
}

/// What a run produced.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Mean absolute error every tenth of the run.
    pub errors: Vec<ErrorReport>,
    /// Final weights (opened to every party, for display).
    pub weights: Vec<ArrayD<f64>>,
    /// Scores on the eight inputs 000 ... 111.
    pub predictions: Vec<([u8; 3], f64)>,
    /// Cost of the whole experiment.
    pub cost: Cost,
}

impl Outcome {
    /// The predicted classes (score > 0.5).
    pub fn classes(&self) -> Vec<u8> {
        self.predictions
            .iter()
            .map(|(_, s)| (*s > 0.5) as u8)
            .collect()
    }
}

/// The eight 3-bit inputs in order.
pub fn all_inputs() -> Array2<f64> {
    Array2::from_shape_fn((8, 3), |(i, j)| ((i >> (2 - j)) & 1) as f64)
}

/// Runs `e` on `r`, printing like the tutorial to `log` (only the speaking
/// party prints).
pub fn run<R: Ring>(r: &mut R, e: &Experiment, log: Log<'_>) -> Result<Outcome> {
    let speak = speaks(r);
    let say = |s: &str| {
        if speak {
            log(s)
        }
    };
    let start = r.cost();
    let (x, y) = e.data();
    let (x, y) = (x.into_dyn(), y.into_dyn());
    let xs = r.input(DATA_OWNER, r.owns(DATA_OWNER).then_some(&x), &[4, 3])?;
    let ys = r.input(DATA_OWNER, r.owns(DATA_OWNER).then_some(&y), &[4, 1])?;
    let act = Activation::sigmoid(e.approx.clone());
    let mut net = match e.arch {
        Arch::TwoLayer => nn::two_layer(r, act, 1)?,
        Arch::ThreeLayer => nn::three_layer(r, act, 1)?,
    };
    let every = (e.iterations / 10).max(1);
    let schedule = nn::FullBatch {
        iterations: e.iterations,
        lr: 1.0,
        report_every: every,
    };
    let errors = nn::train_full_batch(r, &mut net, (&xs, &ys), schedule, |rep| {
        say(&format!("Error: {:.10}", rep.error))
    })?;
    let weights = net.reveal_parameters(r)?;
    for (i, w) in weights.iter().enumerate() {
        say(&format!("Layer {i} weights:"));
        for row in w.rows() {
            let cells: Vec<String> = row.iter().map(|v| format!("{v:>12.6}")).collect();
            say(&format!("  [{}]", cells.join(" ")));
        }
    }
    let all = all_inputs().into_dyn();
    let user = user(r);
    let q = r.input(user, r.owns(user).then_some(&all), &[8, 3])?;
    r.set_label("predict");
    let p = net.predict(r, &q)?;
    let scores = r.open(&p)?;
    let mut predictions = Vec::with_capacity(8);
    for i in 0..8 {
        let bits = [(i >> 2) as u8 & 1, (i >> 1) as u8 & 1, i as u8 & 1];
        let s = scores[[i, 0]];
        say(&format!(
            "Prediction on [{} {} {}]: {} ({:.8})",
            bits[0],
            bits[1],
            bits[2],
            (s > 0.5) as u8,
            s
        ));
        predictions.push((bits, s));
    }
    let cost = r.cost().since(&start);
    Ok(Outcome {
        errors,
        weights,
        predictions,
        cost,
    })
}

/// [`run`] as a [`Job`].
pub struct BooleanJob<'a> {
    /// The experiment.
    pub experiment: Experiment,
    /// Where output goes.
    pub log: Log<'a>,
}

impl Job for BooleanJob<'_> {
    type Output = Outcome;
    fn run<R: Ring>(&self, r: &mut R) -> Result<Outcome> {
        run(r, &self.experiment, self.log)
    }
}
