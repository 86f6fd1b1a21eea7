//! The benchmark workloads, written once over [`Ring`], and a harness that
//! times them on any domain against the plaintext f64 run in the same
//! process.
//!
//! | id | workload |
//! |---|---|
//! | W1 | elementwise fixed-point product of two secret vectors, n = 10^6, values in [-10, 10) |
//! | W2 | secret × secret matrix product, n × n (256, 1024), values in [-1, 1) |
//! | W3 | sigmoid of 10^6 secret values in [-8, 8): the tutorial's degree-9 polynomial |
//! | W4 | the tutorial's 3-layer network, 10,000 training iterations |
//! | W5 | logistic regression on 10,000 × 20 synthetic rows, one epoch, batch 128, lr 0.1 |
//! | W6 | one SGD step of network A (784-128-128-10, ReLU) at batch 128 |
//! | N-step | one training step (forward, loss, backward, optimiser) of a network preset ([`NetworkStep`]): network B and C with SGD, network A with Adam, batch 128, cross-entropy |
//! | N-infer | a network preset's prediction ([`NetworkInference`]): network C at batch 1 and 128 |
//!
//! Inputs are shared before the clock starts, as in the peer frameworks'
//! scripts (`../shared/peers`); outputs stay shared. In a shared run the
//! parties synchronise before and after each timed run with two one-element
//! reveals, which are excluded from the reported cost. On the two-party
//! protocol the dealer and the parties take turns: the dealer deals a run
//! (timed as its offline phase), then the parties compute it (timed as the
//! online phase) while the dealer waits.

use std::time::{Duration, Instant};

use ndarray::{Array1, Array2, ArrayD};

use crate::approx::{self, EvalOptions, sigmoid};
use crate::cost::Cost;
use crate::domain::{
    Additive, DealerSchedule, Fixed, Gadgets, Layout, Plain, Ring, Shared, SharedConfig,
};
use crate::error::Result;
use crate::experiments::boolean;
use crate::nn::{self, Loss, Network, NetworkSpec, Optimizer, OptimizerConfig, init::Sampler};
use crate::runner::DomainKind;

/// A timed program: set-up (inputs; not timed), then the timed body.
pub trait Workload: Sync {
    /// What set-up produces for the body.
    type State<R: Ring>;
    /// A short name: "W1 mul 10^6".
    fn name(&self) -> String;
    /// Shares the inputs.
    fn setup<R: Ring>(&self, r: &mut R) -> Result<Self::State<R>>;
    /// The timed part.
    fn run<R: Ring>(&self, r: &mut R, state: &mut Self::State<R>) -> Result<()>;
    /// The same computation in plain f64 ndarray code, timed as the
    /// reference (`None` when there is no meaningful plaintext twin).
    fn plaintext(&self) -> Option<Box<dyn FnMut() + '_>>;
}

fn input_matrix<R: Ring>(r: &mut R, owner: usize, m: &Array2<f64>) -> Result<R::Tensor> {
    let v: ArrayD<f64> = m.clone().into_dyn();
    r.input(owner, r.owns(owner).then_some(&v), v.shape())
}

/// W1: elementwise product.
pub struct W1Mul {
    /// Number of elements.
    pub n: usize,
    x: Array2<f64>,
    y: Array2<f64>,
}

impl W1Mul {
    /// n elements, uniform in [-10, 10).
    pub fn new(n: usize) -> Self {
        let mut s = Sampler::new(1);
        W1Mul {
            n,
            x: s.uniform_matrix(1, n, -10.0, 10.0),
            y: s.uniform_matrix(1, n, -10.0, 10.0),
        }
    }
}

impl Workload for W1Mul {
    type State<R: Ring> = (R::Tensor, R::Tensor);
    fn name(&self) -> String {
        format!("W1 elementwise mul, n = {}", self.n)
    }
    fn setup<R: Ring>(&self, r: &mut R) -> Result<Self::State<R>> {
        Ok((input_matrix(r, 0, &self.x)?, input_matrix(r, 1, &self.y)?))
    }
    fn run<R: Ring>(&self, r: &mut R, (x, y): &mut Self::State<R>) -> Result<()> {
        r.mul(x, y).map(|_| ())
    }
    fn plaintext(&self) -> Option<Box<dyn FnMut() + '_>> {
        Some(Box::new(move || {
            std::hint::black_box(&self.x * &self.y);
        }))
    }
}

/// W2: matrix product.
pub struct W2Matmul {
    /// Matrix size.
    pub n: usize,
    a: Array2<f64>,
    b: Array2<f64>,
}

impl W2Matmul {
    /// n x n matrices, uniform in [-1, 1).
    pub fn new(n: usize) -> Self {
        let mut s = Sampler::new(2);
        W2Matmul {
            n,
            a: s.uniform_matrix(n, n, -1.0, 1.0),
            b: s.uniform_matrix(n, n, -1.0, 1.0),
        }
    }
}

impl Workload for W2Matmul {
    type State<R: Ring> = (R::Tensor, R::Tensor);
    fn name(&self) -> String {
        format!("W2 matmul {0}x{0}", self.n)
    }
    fn setup<R: Ring>(&self, r: &mut R) -> Result<Self::State<R>> {
        Ok((input_matrix(r, 0, &self.a)?, input_matrix(r, 1, &self.b)?))
    }
    fn run<R: Ring>(&self, r: &mut R, (a, b): &mut Self::State<R>) -> Result<()> {
        r.matmul(a, b).map(|_| ())
    }
    fn plaintext(&self) -> Option<Box<dyn FnMut() + '_>> {
        Some(Box::new(move || {
            std::hint::black_box(self.a.dot(&self.b));
        }))
    }
}

/// W3: sigmoid of a vector by the tutorial's degree-9 polynomial.
pub struct W3Sigmoid {
    /// Number of elements.
    pub n: usize,
    x: Array2<f64>,
    poly: approx::Polynomial,
    eval: EvalOptions,
}

impl W3Sigmoid {
    /// n values uniform in [-8, 8), log-depth evaluation.
    pub fn new(n: usize) -> Self {
        W3Sigmoid {
            n,
            x: Sampler::new(3).uniform_matrix(1, n, -8.0, 8.0),
            poly: sigmoid::tutorial_interpolated(),
            eval: EvalOptions::default(),
        }
    }
}

impl Workload for W3Sigmoid {
    type State<R: Ring> = R::Tensor;
    fn name(&self) -> String {
        format!("W3 sigmoid (degree-9 polynomial), n = {}", self.n)
    }
    fn setup<R: Ring>(&self, r: &mut R) -> Result<Self::State<R>> {
        input_matrix(r, 0, &self.x)
    }
    fn run<R: Ring>(&self, r: &mut R, x: &mut Self::State<R>) -> Result<()> {
        approx::evaluate(r, x, &self.poly, &self.eval).map(|_| ())
    }
    fn plaintext(&self) -> Option<Box<dyn FnMut() + '_>> {
        Some(Box::new(move || {
            std::hint::black_box(self.x.mapv(sigmoid::exact));
        }))
    }
}

/// W3 (piecewise): the hard sigmoid clip(x/4 + 1/2, 0, 1) by secure comparison.
pub struct W3Piecewise {
    /// Number of elements.
    pub n: usize,
    x: Array2<f64>,
}

impl W3Piecewise {
    /// n values uniform in [-8, 8).
    pub fn new(n: usize) -> Self {
        W3Piecewise {
            n,
            x: Sampler::new(3).uniform_matrix(1, n, -8.0, 8.0),
        }
    }
}

impl Workload for W3Piecewise {
    type State<R: Ring> = R::Tensor;
    fn name(&self) -> String {
        format!(
            "W3 sigmoid (piecewise linear, 2 comparisons), n = {}",
            self.n
        )
    }
    fn setup<R: Ring>(&self, r: &mut R) -> Result<Self::State<R>> {
        input_matrix(r, 0, &self.x)
    }
    fn run<R: Ring>(&self, r: &mut R, x: &mut Self::State<R>) -> Result<()> {
        nn::Activation::PiecewiseSigmoid { slope: 0.25 }
            .apply(r, x)
            .map(|_| ())
    }
    fn plaintext(&self) -> Option<Box<dyn FnMut() + '_>> {
        Some(Box::new(move || {
            std::hint::black_box(self.x.mapv(sigmoid::exact));
        }))
    }
}

/// ReLU of a vector by secure comparison (issue 6's benchmark).
pub struct WRelu {
    /// Number of elements.
    pub n: usize,
    x: Array2<f64>,
}

impl WRelu {
    /// n values uniform in [-8, 8).
    pub fn new(n: usize) -> Self {
        WRelu {
            n,
            x: Sampler::new(7).uniform_matrix(1, n, -8.0, 8.0),
        }
    }
}

impl Workload for WRelu {
    type State<R: Ring> = R::Tensor;
    fn name(&self) -> String {
        format!("ReLU, n = {}", self.n)
    }
    fn setup<R: Ring>(&self, r: &mut R) -> Result<Self::State<R>> {
        input_matrix(r, 0, &self.x)
    }
    fn run<R: Ring>(&self, r: &mut R, x: &mut Self::State<R>) -> Result<()> {
        r.relu(x).map(|_| ())
    }
    fn plaintext(&self) -> Option<Box<dyn FnMut() + '_>> {
        Some(Box::new(move || {
            std::hint::black_box(self.x.mapv(|v| v.max(0.0)));
        }))
    }
}

/// W6: one SGD step of an MLP ("Network A": 784-128-128-10, ReLU) on a batch.
pub struct W6Mlp {
    /// The network.
    pub spec: nn::MlpSpec,
    x: Array2<f64>,
    y: Array2<f64>,
    /// Learning rate.
    pub lr: f64,
}

impl W6Mlp {
    /// Network A on `batch` rows of the bundled MNIST-5k (pixels scaled to
    /// [0, 1], one-hot labels); random rows if the data file is missing.
    /// Learning rate 0.01: the runs repeat the step on the same batch, and
    /// larger rates make that diverge within a few steps.
    pub fn new(batch: usize) -> Self {
        let spec = nn::MlpSpec::network_a();
        let mnist = crate::data::load_bundled("mnist").and_then(|d| {
            let d = d.shuffled(6).head(batch);
            Ok((d.features().mapv(|v| v / 255.0), d.one_hot_targets()?))
        });
        let (x, y) = match mnist {
            Ok(xy) => xy,
            Err(_) => {
                let mut s = Sampler::new(6);
                let x = s.uniform_matrix(batch, spec.inputs, 0.0, 1.0);
                let y = Array2::from_shape_fn((batch, spec.outputs), |(i, j)| {
                    (i % spec.outputs == j) as u8 as f64
                });
                (x, y)
            }
        };
        W6Mlp {
            spec,
            x,
            y,
            lr: 0.01,
        }
    }
}

impl Workload for W6Mlp {
    type State<R: Ring> = (nn::Sequential<R>, R::Tensor, R::Tensor);
    fn name(&self) -> String {
        format!(
            "W6 MLP {} (ReLU), one SGD step, batch {}",
            self.spec,
            self.x.nrows()
        )
    }
    fn setup<R: Ring>(&self, r: &mut R) -> Result<Self::State<R>> {
        let net = nn::mlp(r, &self.spec, 6)?;
        Ok((
            net,
            input_matrix(r, 1, &self.x)?,
            input_matrix(r, 1, &self.y)?,
        ))
    }
    fn run<R: Ring>(&self, r: &mut R, (net, x, y): &mut Self::State<R>) -> Result<()> {
        let out = net.forward(r, x)?;
        let delta = r.sub(y, &out)?;
        net.backward(r, &delta)?;
        net.update(r, self.lr / self.x.nrows() as f64)
    }
    fn plaintext(&self) -> Option<Box<dyn FnMut() + '_>> {
        // the same step in plain ndarray f64
        let widths = self.spec.widths();
        let mut s = Sampler::new(6);
        let mut ws: Vec<Array2<f64>> = widths
            .windows(2)
            .map(|w| s.he_uniform(w[0], w[1]))
            .collect();
        let mut bs: Vec<Array1<f64>> = widths[1..].iter().map(|w| Array1::zeros(*w)).collect();
        let step = self.lr / self.x.nrows() as f64;
        Some(Box::new(move || {
            let mut acts = vec![self.x.clone()];
            for (k, (w, b)) in ws.iter().zip(&bs).enumerate() {
                let z = acts[k].dot(w) + b;
                acts.push(if k + 1 < ws.len() {
                    z.mapv(|v| v.max(0.0))
                } else {
                    z
                });
            }
            let mut delta = &self.y - &acts[ws.len()];
            for k in (0..ws.len()).rev() {
                let gw = acts[k].t().dot(&delta);
                let gb = delta.sum_axis(ndarray::Axis(0));
                if k > 0 {
                    let back = delta.dot(&ws[k].t());
                    delta = back * acts[k].mapv(|v| (v > 0.0) as u8 as f64);
                }
                ws[k] = &ws[k] + &(gw * step);
                bs[k] = &bs[k] + &(gb * step);
            }
            std::hint::black_box(&ws);
        }))
    }
}

/// `batch` MNIST-5k images as `[batch, 1, 28, 28]` (pixels in [0, 1]) and
/// one-hot labels; random images if the data file is missing.
fn mnist_images(batch: usize, seed: u64) -> Result<(ArrayD<f64>, ArrayD<f64>)> {
    let mnist = crate::data::load_bundled("mnist").and_then(|d| {
        let d = d.shuffled(seed).head(batch);
        Ok((d.features().mapv(|v| v / 255.0), d.one_hot_targets()?))
    });
    let (x, y) = match mnist {
        Ok(xy) => xy,
        Err(_) => {
            let mut s = Sampler::new(seed);
            let x = s.uniform_matrix(batch, 784, 0.0, 1.0);
            let y = Array2::from_shape_fn((batch, 10), |(i, j)| (i % 10 == j) as u8 as f64);
            (x, y)
        }
    };
    let n = x.nrows();
    let images = x
        .as_standard_layout()
        .into_owned()
        .into_shape_with_order((n, 1, 28, 28))
        .map_err(|e| crate::Error::internal("mnist_images", e.to_string()))?;
    Ok((images.into_dyn(), y.into_dyn()))
}

fn input_tensor<R: Ring>(r: &mut R, owner: usize, v: &ArrayD<f64>) -> Result<R::Tensor> {
    r.input(owner, r.owns(owner).then_some(v), v.shape())
}

/// One training step of a network preset on a batch of MNIST images:
/// forward, the loss's error signal, backward and one optimiser step. The
/// weights are He-uniform from seed 7 and input by party 0, the images by
/// party 1; the plaintext twin is the same step on [`Plain`] (f64 im2col
/// and ndarray products).
pub struct NetworkStep {
    /// The preset's name.
    pub preset: String,
    spec: NetworkSpec,
    x: ArrayD<f64>,
    y: ArrayD<f64>,
    /// The loss.
    pub loss: Loss,
    /// The optimiser.
    pub optimizer: OptimizerConfig,
}

impl NetworkStep {
    /// A step of `preset` (see [`NetworkSpec::preset`]) at `batch` rows.
    pub fn new(preset: &str, batch: usize, loss: Loss, optimizer: OptimizerConfig) -> Result<Self> {
        let spec = NetworkSpec::preset(preset)?;
        let (x, y) = mnist_images(batch, 8)?;
        Ok(NetworkStep {
            preset: preset.to_string(),
            spec,
            x,
            y,
            loss,
            optimizer,
        })
    }

    fn step<R: Ring>(
        &self,
        r: &mut R,
        (net, opt, x, y): &mut (Network<R>, Optimizer<R>, R::Tensor, R::Tensor),
    ) -> Result<()> {
        let out = net.forward(r, x)?;
        let delta = self.loss.error_signal(r, &out, y)?;
        net.backward(r, &delta)?;
        opt.step(r, net, self.x.shape()[0])
    }
}

impl Workload for NetworkStep {
    type State<R: Ring> = (Network<R>, Optimizer<R>, R::Tensor, R::Tensor);
    fn name(&self) -> String {
        let opt = match self.optimizer {
            OptimizerConfig::Sgd { .. } => "SGD",
            OptimizerConfig::Momentum { .. } => "momentum",
            OptimizerConfig::Adam(_) => "Adam",
        };
        format!(
            "{} one {opt} step, batch {}, {}",
            self.preset,
            self.x.shape()[0],
            self.loss
        )
    }
    fn setup<R: Ring>(&self, r: &mut R) -> Result<Self::State<R>> {
        let net = Network::init(r, &self.spec, 7)?;
        let opt = Optimizer::new(self.optimizer)?;
        Ok((
            net,
            opt,
            input_tensor(r, 1, &self.x)?,
            input_tensor(r, 1, &self.y)?,
        ))
    }
    fn run<R: Ring>(&self, r: &mut R, state: &mut Self::State<R>) -> Result<()> {
        self.step(r, state)
    }
    fn plaintext(&self) -> Option<Box<dyn FnMut() + '_>> {
        let mut r = Plain::new();
        let mut state = self.setup(&mut r).ok()?;
        Some(Box::new(move || {
            std::hint::black_box(self.step(&mut r, &mut state).is_ok());
        }))
    }
}

/// A network preset's prediction on a batch of MNIST images (the weights
/// as in [`NetworkStep`]); the plaintext twin is the same on [`Plain`].
pub struct NetworkInference {
    /// The preset's name.
    pub preset: String,
    spec: NetworkSpec,
    x: ArrayD<f64>,
}

impl NetworkInference {
    /// `preset` on `batch` images.
    pub fn new(preset: &str, batch: usize) -> Result<Self> {
        Ok(NetworkInference {
            preset: preset.to_string(),
            spec: NetworkSpec::preset(preset)?,
            x: mnist_images(batch, 9)?.0,
        })
    }
}

impl Workload for NetworkInference {
    type State<R: Ring> = (Network<R>, R::Tensor);
    fn name(&self) -> String {
        format!("{} inference, batch {}", self.preset, self.x.shape()[0])
    }
    fn setup<R: Ring>(&self, r: &mut R) -> Result<Self::State<R>> {
        Ok((
            Network::init(r, &self.spec, 7)?,
            input_tensor(r, 1, &self.x)?,
        ))
    }
    fn run<R: Ring>(&self, r: &mut R, (net, x): &mut Self::State<R>) -> Result<()> {
        net.predict(r, x).map(|_| ())
    }
    fn plaintext(&self) -> Option<Box<dyn FnMut() + '_>> {
        let mut r = Plain::new();
        let (mut net, x) = self.setup(&mut r).ok()?;
        Some(Box::new(move || {
            std::hint::black_box(net.predict(&mut r, &x).is_ok());
        }))
    }
}

/// W4: the tutorial's three-layer network.
pub struct W4Tutorial {
    /// Training iterations.
    pub iterations: usize,
}

impl Workload for W4Tutorial {
    type State<R: Ring> = (R::Tensor, R::Tensor);
    fn name(&self) -> String {
        format!("W4 tutorial 3-layer net, {} iterations", self.iterations)
    }
    fn setup<R: Ring>(&self, r: &mut R) -> Result<Self::State<R>> {
        let e = boolean::headline();
        let (x, y) = e.data();
        let xs = input_matrix(r, boolean::DATA_OWNER, &x)?;
        let ys = input_matrix(r, boolean::DATA_OWNER, &y)?;
        Ok((xs, ys))
    }
    fn run<R: Ring>(&self, r: &mut R, (x, y): &mut Self::State<R>) -> Result<()> {
        // every run starts from the tutorial's initial weights (two small inputs)
        let mut net = nn::three_layer(r, nn::Activation::sigmoid(boolean::headline().approx), 1)?;
        let net = &mut net;
        let schedule = nn::FullBatch {
            iterations: self.iterations,
            lr: 1.0,
            report_every: 0,
        };
        nn::train_full_batch(r, net, (x, y), schedule, |_| ()).map(|_| ())
    }
    fn plaintext(&self) -> Option<Box<dyn FnMut() + '_>> {
        None
    }
}

/// W5: one epoch of logistic regression.
pub struct W5Logistic {
    x: Array2<f64>,
    y: Array2<f64>,
    /// Mini-batch size.
    pub batch: usize,
    /// Learning rate.
    pub lr: f64,
    /// The sigmoid: piecewise linear by comparison (a polynomial overflows
    /// here: |x·w| reaches 11 and x^9 leaves the safe range at 16 bits).
    pub activation: nn::Activation,
}

impl W5Logistic {
    /// 10,000 x 20 normal features, labels from a random linear model plus
    /// noise; batch 128, lr 0.1; the piecewise-linear sigmoid (slope 1/4).
    pub fn new() -> Self {
        let (n, d) = (10_000, 20);
        let mut s = Sampler::new(5);
        let x = s.normal_matrix(n, d);
        let w = s.normal_matrix(d, 1);
        let noise = s.normal_matrix(n, 1);
        let y = (x.dot(&w) + noise * 0.5).mapv(|v| (v > 0.0) as u8 as f64);
        W5Logistic {
            x,
            y,
            batch: 128,
            lr: 0.1,
            activation: nn::Activation::PiecewiseSigmoid { slope: 0.25 },
        }
    }

    /// Training accuracy of weights `w` and bias `b`.
    pub fn accuracy(&self, w: &Array1<f64>, b: f64) -> f64 {
        let p = self.x.dot(w) + b;
        let hits = p
            .iter()
            .zip(self.y.iter())
            .filter(|(p, y)| ((**p > 0.0) as u8 as f64) == **y)
            .count();
        hits as f64 / p.len() as f64
    }
}

impl Default for W5Logistic {
    fn default() -> Self {
        Self::new()
    }
}

impl Workload for W5Logistic {
    type State<R: Ring> = (R::Tensor, R::Tensor, R::Tensor, R::Tensor);
    fn name(&self) -> String {
        format!(
            "W5 logistic regression {}x{}, 1 epoch, batch {}",
            self.x.nrows(),
            self.x.ncols(),
            self.batch
        )
    }
    fn setup<R: Ring>(&self, r: &mut R) -> Result<Self::State<R>> {
        let x = input_matrix(r, 1, &self.x)?;
        let y = input_matrix(r, 1, &self.y)?;
        let w = input_matrix(r, 0, &Array2::zeros((self.x.ncols(), 1)))?;
        let b = input_matrix(r, 0, &Array2::zeros((1, 1)))?;
        Ok((x, y, w, b))
    }
    fn run<R: Ring>(&self, r: &mut R, (x, y, w, b): &mut Self::State<R>) -> Result<()> {
        self.epoch(r, x, y, w, b)
    }
    fn plaintext(&self) -> Option<Box<dyn FnMut() + '_>> {
        Some(Box::new(move || {
            std::hint::black_box(self.plain_epoch());
        }))
    }
}

impl W5Logistic {
    /// One epoch on secret data and weights.
    pub fn epoch<R: Ring>(
        &self,
        r: &mut R,
        x: &R::Tensor,
        y: &R::Tensor,
        w: &mut R::Tensor,
        b: &mut R::Tensor,
    ) -> Result<()> {
        let step = self.lr / self.batch as f64;
        for i in 0..self.x.nrows() / self.batch {
            let (lo, hi) = (i * self.batch, (i + 1) * self.batch);
            let xb = r.slice_rows(x, lo, hi)?;
            let yb = r.slice_rows(y, lo, hi)?;
            let z = r.matmul(&xb, w)?;
            let z = r.add(&z, b)?;
            let p = self.activation.apply(r, &z)?;
            let g = r.sub(&p, &yb)?;
            let xt = r.transpose(&xb)?;
            let gw = r.matmul(&xt, &g)?;
            let gb = r.sum_axis(&g, 0)?;
            let bits = crate::fixed::coeff_bits_for(step, r.frac_bits().unwrap_or(16));
            let upd = r.lincomb_public(&[&gw], &[step], bits)?;
            let updb = r.lincomb_public(&[&gb], &[step], bits)?;
            *w = r.sub(w, &upd)?;
            *b = r.sub(b, &updb)?;
        }
        Ok(())
    }
    /// The same epoch in plain f64 with the exact sigmoid: (w, b).
    pub fn plain_epoch(&self) -> (Array1<f64>, f64) {
        let mut w = Array1::<f64>::zeros(self.x.ncols());
        let mut b = 0.0;
        let step = self.lr / self.batch as f64;
        for i in 0..self.x.nrows() / self.batch {
            let xb = self
                .x
                .slice(ndarray::s![i * self.batch..(i + 1) * self.batch, ..]);
            let yb = self
                .y
                .slice(ndarray::s![i * self.batch..(i + 1) * self.batch, 0]);
            let p = (xb.dot(&w) + b).mapv(sigmoid::exact);
            let g = &p - &yb;
            w = w - xb.t().dot(&g) * step;
            b -= g.sum() * step;
        }
        (w, b)
    }
}

/// What a measurement found.
#[derive(Debug, Clone)]
pub struct Measurement {
    /// The workload.
    pub workload: String,
    /// The domain.
    pub domain: String,
    /// Wall time of each timed run (for the two-party protocol, the
    /// parties' online phase).
    pub runs: Vec<Duration>,
    /// Two-party protocol: the dealer's time to deal each run (offline);
    /// empty for the other domains.
    pub offline_runs: Vec<Duration>,
    /// Wall time of each plaintext reference run (same process).
    pub plain_runs: Vec<Duration>,
    /// Communication of one run (merged over the parties).
    pub cost: Cost,
    /// Peak resident memory of the process during the runs, if known.
    pub peak_rss_bytes: Option<u64>,
}

fn median(v: &[Duration]) -> Option<Duration> {
    let mut s = v.to_vec();
    s.sort();
    s.get(s.len() / 2).copied()
}

impl Measurement {
    /// Median run time.
    pub fn median(&self) -> Option<Duration> {
        median(&self.runs)
    }
    /// Median offline (dealing) time, for the two-party protocol.
    pub fn offline_median(&self) -> Option<Duration> {
        median(&self.offline_runs)
    }
    /// Median plaintext time.
    pub fn plain_median(&self) -> Option<Duration> {
        median(&self.plain_runs)
    }
    /// Median time over median plaintext time.
    pub fn ratio(&self) -> Option<f64> {
        Some(self.median()?.as_secs_f64() / self.plain_median()?.as_secs_f64())
    }
}

/// Peak resident set size of this process (Linux), reset with
/// [`reset_peak_rss`].
pub fn peak_rss_bytes() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Resets the peak-RSS counter (Linux; ignored elsewhere).
pub fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Two one-element reveals: afterwards every party has reached this point.
fn sync<R: Ring>(r: &mut R) -> Result<()> {
    let z = r.scalar(0.0)?;
    r.reveal(&z)?;
    r.reveal(&z)?;
    Ok(())
}

/// Takes turns between the two-party protocol's dealer and its parties in
/// one process: the dealer deals run k while the parties wait, then waits
/// while they compute it, so that each phase is timed alone (offline,
/// online) and at most one run's material is in memory. A participant that
/// fails releases the others.
#[derive(Debug, Default)]
struct Pacer {
    /// Runs dealt, party runs finished, and whether anyone failed.
    state: std::sync::Mutex<(usize, usize, bool)>,
    turn: std::sync::Condvar,
}

impl Pacer {
    fn lock(&self) -> std::sync::MutexGuard<'_, (usize, usize, bool)> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn wait_until(&self, ready: impl Fn(&(usize, usize, bool)) -> bool) -> Result<()> {
        let mut s = self.lock();
        while !ready(&s) && !s.2 {
            s = self
                .turn
                .wait(s)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        if s.2 {
            return Err(crate::Error::PeerDisconnected {
                party: 2,
                op: "taking turns in the benchmark (another participant failed)".to_string(),
            });
        }
        Ok(())
    }

    fn update(&self, f: impl Fn(&mut (usize, usize, bool))) {
        f(&mut self.lock());
        self.turn.notify_all();
    }

    /// Before run `k`: the dealer waits for both parties to finish run
    /// k − 1; a party waits for run k to be dealt.
    fn before(&self, dealer: bool, k: usize) -> Result<()> {
        if dealer {
            self.wait_until(|s| s.1 >= 2 * k)
        } else {
            self.wait_until(|s| s.0 > k)
        }
    }

    /// After run `k`.
    fn after(&self, dealer: bool) {
        self.update(|s| if dealer { s.0 += 1 } else { s.1 += 1 });
    }

    /// A participant failed: nobody waits for it any more.
    fn fail(&self) {
        self.update(|s| s.2 = true);
    }
}

/// Sets `w` up on `r`, then times `runs` runs of it, each between two
/// synchronisations of the parties: the durations, and the cost of the last
/// run. This is what `privml party bench` does on each party over TCP; the
/// in-process [`measure`] does the same on three threads.
pub fn time_runs<W: Workload, R: Ring>(
    w: &W,
    r: &mut R,
    runs: usize,
) -> Result<(Vec<Duration>, Cost)> {
    timed_runs(w, r, runs, None)
}

fn timed_runs<W: Workload, R: Ring>(
    w: &W,
    r: &mut R,
    runs: usize,
    pacer: Option<&Pacer>,
) -> Result<(Vec<Duration>, Cost)> {
    let out = paced_runs(w, r, runs, pacer);
    if let (Err(_), Some(p)) = (&out, pacer) {
        p.fail();
    }
    out
}

fn paced_runs<W: Workload, R: Ring>(
    w: &W,
    r: &mut R,
    runs: usize,
    pacer: Option<&Pacer>,
) -> Result<(Vec<Duration>, Cost)> {
    let dealer = matches!(r.info(), crate::DomainInfo::Additive { party: 2, .. });
    let mut st = w.setup(r)?;
    let mut times = Vec::with_capacity(runs);
    let mut cost = Cost::default();
    for k in 0..runs {
        if let Some(p) = pacer {
            p.before(dealer, k)?;
        }
        sync(r)?;
        let before = r.cost();
        let t0 = Instant::now();
        w.run(r, &mut st)?;
        let after = r.cost();
        sync(r)?;
        times.push(t0.elapsed());
        cost = after.since(&before);
        if let Some(p) = pacer {
            p.after(dealer);
        }
    }
    Ok((times, cost))
}

/// Times `runs` runs of `w` on the two-party protocol: the dealer's runs
/// (offline) and the parties' (online) in turn.
fn two_party_runs<W: Workload, T: crate::ring::RingElement>(
    w: &W,
    runs: usize,
    cfg: &SharedConfig,
) -> Result<(Vec<Duration>, Vec<Duration>, Cost)> {
    let pacer = Pacer::default();
    let dealt = std::sync::Mutex::new(Vec::new());
    let out = Additive::<T>::simulate_with(cfg, DealerSchedule::Concurrent, |r| {
        let (times, cost) = timed_runs(w, r, runs, Some(&pacer))?;
        if r.is_dealer() {
            *dealt
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = times.clone();
        }
        Ok((times, cost))
    })?;
    let [(t0, c0), (_, c1)] = out;
    let offline = dealt
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    Ok((t0, offline, Cost::merge_parties(&[c0, c1.clone(), c1])))
}

/// Times `runs` runs of `w` on `kind` and `plain_runs` of its plaintext twin.
pub fn measure<W: Workload>(
    w: &W,
    kind: DomainKind,
    runs: usize,
    plain_runs: usize,
) -> Result<Measurement> {
    measure_on(w, kind, runs, plain_runs, &SharedConfig::default())
}

/// [`measure`] with the settings of the secure run (for example an
/// emulated network, [`SharedConfig::network`]).
pub fn measure_on<W: Workload>(
    w: &W,
    kind: DomainKind,
    runs: usize,
    plain_runs: usize,
    cfg: &SharedConfig,
) -> Result<Measurement> {
    let mut plain_times = Vec::new();
    if let Some(mut f) = w.plaintext() {
        f(); // warm-up
        for _ in 0..plain_runs {
            let t0 = Instant::now();
            f();
            plain_times.push(t0.elapsed());
        }
    }
    reset_peak_rss();
    let mut offline_runs = Vec::new();
    let (runs_t, cost) = match kind {
        DomainKind::Plain => timed_runs(w, &mut Plain::new(), runs, None)?,
        DomainKind::Fixed64 => timed_runs(w, &mut Fixed::<u64>::new(), runs, None)?,
        DomainKind::Fixed128 => timed_runs(w, &mut Fixed::<u128>::new(), runs, None)?,
        DomainKind::Shared64 => {
            let out = Shared::<u64>::simulate_with(cfg, |r| timed_runs(w, r, runs, None))?;
            merge(out)
        }
        DomainKind::Shared128 => {
            let out = Shared::<u128>::simulate_with(cfg, |r| timed_runs(w, r, runs, None))?;
            merge(out)
        }
        DomainKind::TwoParty64 | DomainKind::TwoParty128 => {
            let (online, offline, cost) = if kind == DomainKind::TwoParty64 {
                two_party_runs::<W, u64>(w, runs, cfg)?
            } else {
                two_party_runs::<W, u128>(w, runs, cfg)?
            };
            offline_runs = offline;
            (online, cost)
        }
    };
    Ok(Measurement {
        workload: w.name(),
        domain: kind.to_string(),
        runs: runs_t,
        offline_runs,
        plain_runs: plain_times,
        cost,
        peak_rss_bytes: peak_rss_bytes(),
    })
}

fn merge(out: [(Vec<Duration>, Cost); 3]) -> (Vec<Duration>, Cost) {
    let [(t0, c0), (_, c1), (_, c2)] = out;
    (t0, Cost::merge_parties(&[c0, c1, c2]))
}
