//! The article's PySyft demo: XOR learned on secret-shared data through a
//! random ReLU reservoir.
//!
//! The data owner lifts the four XOR inputs through a fixed random 2 → 256
//! projection followed by ReLU, in plaintext on its own machine; the
//! non-linearity is then already in the data, and what is trained under
//! secret sharing is a plain linear regression: data, targets and the model
//! are all shared, 250 steps of gradient descent with learning rate 1e-3.
//! As in the article, the loss (the sum of |prediction - target|) is
//! printed every 50 steps.
//!
//! # What is disclosed
//!
//! All to every party, exactly rounded ([`Open::open`]):
//!
//! | what | values | when |
//! |---|---|---|
//! | the loss Σ\|prediction − target\|, computed under MPC ([`nn::abs_error_total`]) | 1 | every 50 steps (5 times in 250) |
//! | the final predictions on the four training rows (the demo's result) | 4 | once, at the end |
//!
//! The article opens the whole residual prediction − target every step
//! (`grad.get()`); its signs are the XOR labels, so here only the printed
//! sum is opened, and only when it is printed.

use ndarray::{Array2, ArrayD, arr2};

use super::Log;
use crate::cost::Cost;
use crate::domain::{Layout, Open, Ring};
use crate::error::Result;
use crate::nn;
use crate::runner::{Job, speaks};

/// The data owner.
pub const DATA_OWNER: usize = 1;
/// Reservoir width.
pub const RESERVOIR: usize = 256;

/// Settings of the demo.
#[derive(Debug, Clone)]
pub struct Reservoir {
    /// Training steps (250 in the article).
    pub steps: usize,
    /// Learning rate (1e-3).
    pub lr: f64,
    /// Seed of the random projection (public: it is the data owner's
    /// preprocessing, not a secret of the protocol).
    pub seed: u64,
}

impl Default for Reservoir {
    fn default() -> Self {
        Reservoir {
            steps: 250,
            lr: 1e-3,
            seed: 1,
        }
    }
}

/// The XOR table and its reservoir features relu(x · T).
pub fn features(seed: u64) -> (Array2<f64>, Array2<f64>) {
    let x = arr2(&[[0., 0.], [0., 1.], [1., 0.], [1., 1.]]);
    let y = arr2(&[[0.], [1.], [1.], [0.]]);
    let t = crate::nn::init::Sampler::new(seed).normal_matrix(2, RESERVOIR);
    let lifted = x.dot(&t).mapv(|v| v.max(0.0));
    (lifted, y)
}

/// `v` as Python's `'%.3e' % v` prints it (the article's format):
/// `2.000e+00`, `5.590e-01`.
///
/// # Examples
///
/// ```
/// use privml::experiments::reservoir::python_sci;
/// assert_eq!(python_sci(2.0), "2.000e+00");
/// assert_eq!(python_sci(0.000559), "5.590e-04");
/// assert_eq!(python_sci(-1234.0), "-1.234e+03");
/// ```
pub fn python_sci(v: f64) -> String {
    let s = format!("{v:.3e}");
    match s.split_once('e') {
        Some((mantissa, exp)) => {
            let (sign, digits) = match exp.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', exp),
            };
            format!("{mantissa}e{sign}{digits:0>2}")
        }
        None => s,
    }
}

/// What a run produced.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// (step, loss) every 50 steps.
    pub losses: Vec<(usize, f64)>,
    /// Final predictions on the four rows.
    pub predictions: Vec<f64>,
    /// Targets.
    pub targets: Vec<f64>,
    /// Cost of the run.
    pub cost: Cost,
}

/// Runs the demo on `r`.
pub fn run<R: Ring>(r: &mut R, cfg: &Reservoir, log: Log<'_>) -> Result<Outcome> {
    let speak = speaks(r);
    let start = r.cost();
    let (data, target) = features(cfg.seed);
    let (data, target): (ArrayD<f64>, ArrayD<f64>) = (data.into_dyn(), target.into_dyn());
    let d = r.input(
        DATA_OWNER,
        r.owns(DATA_OWNER).then_some(&data),
        &[4, RESERVOIR],
    )?;
    let t = r.input(DATA_OWNER, r.owns(DATA_OWNER).then_some(&target), &[4, 1])?;
    let zeros = ArrayD::zeros(vec![RESERVOIR, 1]);
    let mut model = r.input(0, r.owns(0).then_some(&zeros), &[RESERVOIR, 1])?;
    let dt = r.transpose(&d)?;
    if speak {
        log("Begin training encrypted reservoir...");
    }
    let mut losses = Vec::new();
    let mut pred = None;
    for i in 0..cfg.steps {
        r.set_step(i as u64);
        let p = r.matmul(&d, &model)?;
        let grad = r.sub(&p, &t)?;
        let update = r.matmul(&dt, &grad)?;
        let bits = crate::fixed::coeff_bits_for(cfg.lr, r.frac_bits().unwrap_or(16));
        let scaled = r.lincomb_public(&[&update], &[cfg.lr], bits)?;
        model = r.sub(&model, &scaled)?;
        if i % 50 == 0 {
            // the article's grad.get(), reduced to the one number it prints
            let total = nn::abs_error_total(r, &grad)?;
            let loss = r.open(&total)?.sum();
            if speak {
                log(&format!("loss at step {i}: {}", python_sci(loss)));
            }
            losses.push((i, loss));
        }
        pred = Some(p);
    }
    let predictions = match pred {
        Some(p) => r.open(&p)?.iter().copied().collect(),
        None => Vec::new(),
    };
    let targets: Vec<f64> = target.iter().copied().collect();
    if speak {
        let cls: Vec<u8> = predictions.iter().map(|v| (*v > 0.5) as u8).collect();
        log(&format!("predictions: {cls:?} (scores {predictions:.3?})"));
        log(&format!(
            "targets:     {:?}",
            targets.iter().map(|v| *v as u8).collect::<Vec<_>>()
        ));
    }
    Ok(Outcome {
        losses,
        predictions,
        targets,
        cost: r.cost().since(&start),
    })
}

/// [`run`] as a [`Job`].
pub struct ReservoirJob<'a> {
    /// Settings.
    pub config: Reservoir,
    /// Where output goes.
    pub log: Log<'a>,
}

impl Job for ReservoirJob<'_> {
    type Output = Outcome;
    fn run<R: Ring>(&self, r: &mut R) -> Result<Outcome> {
        run(r, &self.config, self.log)
    }
}
