//! Optimisers: SGD, SGD with momentum, and Adam, over the gradients a
//! [`Network`] stores. Their state (velocity, moments) is secret like the
//! weights, lives in the same domain, and is saved and loaded with them
//! through [`Session::export`]/[`Session::import`] ([`OptimizerState`]).
//!
//! All parameters are updated as one flat vector: the network's tensors
//! are laid end to end (a local layout step), so each public scaling is one
//! truncation round for the whole model, not one per tensor, and Adam's
//! inverse square root runs once.
//!
//! Gradients are the network's: -∂L/∂θ summed over the batch (the crate's
//! sign convention), so a step *adds*.
//!
//! | optimiser | update (G: batch-summed gradient, B: batch rows) | rounds per step (Z_2^64) |
//! |---|---|---|
//! | [`Sgd`](OptimizerConfig::Sgd) | θ += (lr/B)·G | 2 |
//! | [`Momentum`](OptimizerConfig::Momentum) | u = μ·u + (lr/B)·G; θ += u | 2 |
//! | [`Adam`](OptimizerConfig::Adam) | m̂, v̂ (below); θ += lr·m̂/√(v̂ + 2^lo) | 28 + the inverse square root's 16 + 4k |
//!
//! # Adam in fixed point
//!
//! * **Bias-corrected moments are what is stored.** Textbook Adam keeps
//!   m_t = β₁m + (1-β₁)G and divides by 1 - β^t when it uses them. In fixed
//!   point v₁ = (1-β₂)·G² = 0.001·G² underflows for small gradients; so the
//!   corrected moments are updated directly, m̂_t = c_t·m̂ + d_t·G with
//!   c_t = β₁(1-β₁^(t-1))/(1-β₁^t), d_t = (1-β₁)/(1-β₁^t) (the same for v̂
//!   with β₂ and G²): the same values, never tiny at the start.
//! * **The batch-summed gradient, not the mean.** Adam is invariant to the
//!   gradient's scale except for ε, and the sum is B times larger, which is
//!   what fixed point needs; ε is 2^lo in those units (2^-14 by default:
//!   about 3.7·10⁻⁹ per mean gradient² at B = 128, ε ≈ 6·10⁻⁵ outside the
//!   root).
//! * **The inverse square root's range** is [2^lo, 2^hi] (default
//!   [2^-14, 2^8]): ε is its floor, and v̂ above 2^hi is clamped (a larger
//!   step than Adam's for that parameter). 16 fraction bits resolve both ends
//!   (the gadget refuses a floor below four units); see
//!   [`InvSqrtParams`].
//! * **AMSGrad** (v̂ ← max(v̂_prev, v̂), one comparison per parameter)
//!   is offered, not the default: the bound-based reasons for it do not
//!   change with fixed point, whose own hazard (a tiny v̂ making huge steps)
//!   is already removed by the floor ε = 2^lo.

use serde::{Deserialize, Serialize};

use super::network::Network;
use crate::domain::gadgets::InvSqrtParams;
use crate::domain::{Gadgets, Layout, Ring, Session, TensorData};
use crate::error::{Error, Result};

/// Adam's settings (see the module documentation of `src/nn/optim.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AdamConfig {
    /// Learning rate.
    pub lr: f64,
    /// β₁ (first moment).
    pub beta1: f64,
    /// β₂ (second moment).
    pub beta2: f64,
    /// log₂ of ε, the floor of v̂ inside the root (batch-summed units).
    pub eps_log2: i32,
    /// log₂ of the largest v̂ resolved (larger ones are clamped).
    pub max_log2: i32,
    /// Newton iterations of the inverse square root.
    pub iterations: u32,
    /// AMSGrad: use the running maximum of v̂.
    pub amsgrad: bool,
}

impl Default for AdamConfig {
    fn default() -> Self {
        AdamConfig {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps_log2: -14,
            max_log2: 8,
            iterations: 4,
            amsgrad: false,
        }
    }
}

impl AdamConfig {
    /// The inverse square root's parameters.
    pub fn inv_sqrt(&self) -> Result<InvSqrtParams> {
        InvSqrtParams::new(self.eps_log2, self.max_log2, self.iterations)
    }
}

/// Which optimiser, with its public settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum OptimizerConfig {
    /// Plain stochastic gradient descent.
    Sgd {
        /// Learning rate (per mean gradient).
        lr: f64,
    },
    /// SGD with (heavy-ball) momentum.
    Momentum {
        /// Learning rate (per mean gradient).
        lr: f64,
        /// μ in [0, 1).
        momentum: f64,
    },
    /// Adam (see the module documentation of `src/nn/optim.rs`).
    Adam(AdamConfig),
}

impl OptimizerConfig {
    /// `sgd`, `momentum` or `adam` with learning rate `lr` and the other
    /// settings at their defaults (momentum 0.9; Adam as
    /// [`AdamConfig::default`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use privml::nn::OptimizerConfig;
    /// assert_eq!(OptimizerConfig::named("sgd", 0.1)?, OptimizerConfig::Sgd { lr: 0.1 });
    /// assert!(OptimizerConfig::named("rmsprop", 0.1).is_err());
    /// # Ok::<(), privml::Error>(())
    /// ```
    pub fn named(name: &str, lr: f64) -> Result<Self> {
        let c = match name {
            "sgd" => OptimizerConfig::Sgd { lr },
            "momentum" => OptimizerConfig::Momentum { lr, momentum: 0.9 },
            "adam" => OptimizerConfig::Adam(AdamConfig {
                lr,
                ..AdamConfig::default()
            }),
            other => {
                return Err(Error::invalid(
                    "optimizer",
                    format!("'{other}': expected sgd, momentum or adam"),
                ));
            }
        };
        c.check()?;
        Ok(c)
    }

    /// Checks the settings.
    pub fn check(&self) -> Result<()> {
        let lr = match self {
            OptimizerConfig::Sgd { lr } => *lr,
            OptimizerConfig::Momentum { lr, momentum } => {
                if !(0.0..1.0).contains(momentum) {
                    return Err(Error::invalid(
                        "momentum",
                        format!("{momentum} is not in [0, 1)"),
                    ));
                }
                *lr
            }
            OptimizerConfig::Adam(a) => {
                for (name, b) in [("beta1", a.beta1), ("beta2", a.beta2)] {
                    if !(0.0..1.0).contains(&b) {
                        return Err(Error::invalid(name, format!("{b} is not in [0, 1)")));
                    }
                }
                a.inv_sqrt()?;
                a.lr
            }
        };
        if !(lr > 0.0 && lr.is_finite()) {
            return Err(Error::invalid(
                "lr",
                format!("{lr} is not a positive number"),
            ));
        }
        Ok(())
    }

    /// How many state tensors (each as long as the model) it keeps.
    fn slots(&self) -> usize {
        match self {
            OptimizerConfig::Sgd { .. } => 0,
            OptimizerConfig::Momentum { .. } => 1,
            OptimizerConfig::Adam(a) => 2 + usize::from(a.amsgrad),
        }
    }
}

/// An optimiser and its secret state: one `[p, 1]` tensor per slot (p =
/// the model's parameter count), zero before the first step.
pub struct Optimizer<R: Ring> {
    config: OptimizerConfig,
    step: u64,
    slots: Vec<R::Tensor>,
}

/// What [`Optimizer::export`] saves: the public settings and step count,
/// and this evaluator's data of each state tensor (shares in `Shared`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OptimizerState {
    /// The settings.
    pub config: OptimizerConfig,
    /// Steps taken.
    pub step: u64,
    /// The state tensors (empty before the first step).
    pub slots: Vec<TensorData>,
}

/// The coefficient precision for public coefficients `cs` (the smallest
/// non-zero one keeps ten significant bits).
fn bits_for<R: Ring>(r: &R, cs: &[f64]) -> u32 {
    let smallest = cs
        .iter()
        .copied()
        .filter(|c| *c != 0.0)
        .map(f64::abs)
        .fold(f64::INFINITY, f64::min);
    let smallest = if smallest.is_finite() { smallest } else { 1.0 };
    crate::fixed::coeff_bits_for(smallest, r.frac_bits().unwrap_or(16))
}

/// Tensors laid end to end as one `[p, 1]` column, and back.
struct Flat {
    shapes: Vec<Vec<usize>>,
}

impl Flat {
    fn of<R: Ring>(r: &R, tensors: &[&R::Tensor]) -> Flat {
        Flat {
            shapes: tensors.iter().map(|t| r.shape(t).to_vec()).collect(),
        }
    }

    fn len(&self) -> usize {
        self.shapes
            .iter()
            .map(|s| s.iter().product::<usize>())
            .sum()
    }

    fn join<R: Ring>(&self, r: &mut R, tensors: &[&R::Tensor]) -> Result<R::Tensor> {
        let columns = tensors
            .iter()
            .zip(&self.shapes)
            .map(|(t, s)| r.reshape(t, &[s.iter().product(), 1]))
            .collect::<Result<Vec<_>>>()?;
        let refs: Vec<&R::Tensor> = columns.iter().collect();
        r.concat_rows(&refs)
    }

    fn split<R: Ring>(&self, r: &mut R, flat: &R::Tensor) -> Result<Vec<R::Tensor>> {
        let mut start = 0;
        let mut out = Vec::with_capacity(self.shapes.len());
        for s in &self.shapes {
            let n: usize = s.iter().product();
            let part = r.slice_rows(flat, start, start + n)?;
            out.push(r.reshape(&part, s)?);
            start += n;
        }
        Ok(out)
    }
}

impl<R: Ring> Optimizer<R> {
    /// An optimiser with fresh (zero) state.
    pub fn new(config: OptimizerConfig) -> Result<Self> {
        config.check()?;
        Ok(Optimizer {
            config,
            step: 0,
            slots: Vec::new(),
        })
    }

    /// The settings.
    pub fn config(&self) -> &OptimizerConfig {
        &self.config
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u64 {
        self.step
    }

    /// One step on `net`'s stored gradients (taken), for a batch of
    /// `batch_rows` rows.
    pub fn step(&mut self, r: &mut R, net: &mut Network<R>, batch_rows: usize) -> Result<()> {
        if batch_rows == 0 {
            return Err(Error::invalid("batch", "a step needs at least one row"));
        }
        let grads = net.take_gradients()?;
        let flat = Flat::of(r, &net.parameters());
        let p = flat.len();
        if grads.len() != flat.shapes.len() {
            return Err(Error::internal(
                "Optimizer::step",
                format!(
                    "{} gradients for {} parameters",
                    grads.len(),
                    flat.shapes.len()
                ),
            ));
        }
        if self.slots.is_empty() {
            let zeros = ndarray::ArrayD::zeros(ndarray::IxDyn(&[p, 1]));
            for _ in 0..self.config.slots() {
                self.slots.push(r.constant(&zeros)?);
            }
        } else if let Some(s) = self.slots.first()
            && r.shape(s) != [p, 1]
        {
            return Err(Error::ShapeMismatch {
                op: "optimizer state",
                left: r.shape(s).to_vec(),
                right: vec![p, 1],
            });
        }
        r.set_label("update");
        let g_refs: Vec<&R::Tensor> = grads.iter().collect();
        let g = flat.join(r, &g_refs)?;
        self.step += 1;
        let change = self.change(r, &g, batch_rows)?;
        let theta_refs = net.parameters();
        let theta = flat.join(r, &theta_refs)?;
        let theta = r.add(&theta, &change)?;
        let parts = flat.split(r, &theta)?;
        for (dst, src) in net.parameters_mut().into_iter().zip(parts) {
            *dst = src;
        }
        Ok(())
    }

    /// The change to the flat parameters for the flat gradient `g`.
    fn change(&mut self, r: &mut R, g: &R::Tensor, batch: usize) -> Result<R::Tensor> {
        let t = self.step as i32;
        match self.config {
            OptimizerConfig::Sgd { lr } => {
                let c = lr / batch as f64;
                r.lincomb_public(&[g], &[c], bits_for(r, &[c]))
            }
            OptimizerConfig::Momentum { lr, momentum } => {
                let c = [momentum, lr / batch as f64];
                let u = r.lincomb_public(&[&self.slots[0], g], &c, bits_for(r, &c))?;
                self.slots[0] = u.clone();
                Ok(u)
            }
            OptimizerConfig::Adam(a) => {
                let corrected = |beta: f64| {
                    let done = 1.0 - beta.powi(t);
                    [beta * (1.0 - beta.powi(t - 1)) / done, (1.0 - beta) / done]
                };
                let cm = corrected(a.beta1);
                let m = r.lincomb_public(&[&self.slots[0], g], &cm, bits_for(r, &cm))?;
                let g2 = r.square(g)?;
                let cv = corrected(a.beta2);
                let mut v = r.lincomb_public(&[&self.slots[1], &g2], &cv, bits_for(r, &cv))?;
                self.slots[1] = v.clone();
                if a.amsgrad {
                    v = r.max(&v, &self.slots[2])?;
                    self.slots[2] = v.clone();
                }
                self.slots[0] = m.clone();
                let floor = 2f64.powi(a.eps_log2);
                let x = r.add_public(&v, &ndarray::arr0(floor).into_dyn())?;
                let d = r.inv_sqrt(&x, &a.inv_sqrt()?)?;
                let s = r.mul(&m, &d)?;
                r.lincomb_public(&[&s], &[a.lr], bits_for(r, &[a.lr]))
            }
        }
    }
}

impl<R: Ring + Session> Optimizer<R> {
    /// The settings, the step count and this evaluator's data of the state
    /// (its shares in `Shared`), for saving with the model.
    pub fn export(&self, r: &R) -> OptimizerState {
        OptimizerState {
            config: self.config,
            step: self.step,
            slots: self.slots.iter().map(|t| r.export(t)).collect(),
        }
    }

    /// An optimiser from saved state (see [`export`](Self::export)).
    pub fn import(r: &mut R, state: &OptimizerState) -> Result<Self> {
        state.config.check()?;
        let want = if state.step == 0 {
            0
        } else {
            state.config.slots()
        };
        if state.slots.len() != want {
            return Err(Error::invalid(
                "optimizer state",
                format!(
                    "{} keeps {want} state tensors after {} steps, the data has {}",
                    match state.config {
                        OptimizerConfig::Sgd { .. } => "SGD",
                        OptimizerConfig::Momentum { .. } => "momentum",
                        OptimizerConfig::Adam(_) => "Adam",
                    },
                    state.step,
                    state.slots.len()
                ),
            ));
        }
        let slots = state
            .slots
            .iter()
            .map(|d| r.import(d))
            .collect::<Result<Vec<_>>>()?;
        Ok(Optimizer {
            config: state.config,
            step: state.step,
            slots,
        })
    }
}
