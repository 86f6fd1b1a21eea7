//! The model every client trains locally, in plaintext, with the generic
//! [`nn`](crate::nn) code on [`Plain`], and its flat parameter vector (the
//! thing that is aggregated).

use ndarray::{Array1, Array2, ArrayD, Axis, IxDyn};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use crate::approx::{Polynomial, sigmoid};
use crate::domain::{Plain, Ring};
use crate::error::{Error, Result};
use crate::nn::{Activation, Dense, Layer, Sequential, WeightDecay};

/// How a client trains locally each round.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LocalTraining {
    /// Full-batch gradient steps.
    pub steps: usize,
    /// Learning rate (on the mean gradient over the client's samples).
    pub lr: f64,
    /// Weight decay per unit of learning rate (L2 regularisation λ).
    pub weight_decay: f64,
}

impl Default for LocalTraining {
    fn default() -> Self {
        LocalTraining {
            steps: 5,
            lr: 4.0,
            weight_decay: 0.002,
        }
    }
}

/// A small binary classifier: logistic regression (one dense layer with a
/// bias, then a sigmoid) or one hidden layer of sigmoids before it. The
/// sigmoid is a polynomial (Chebyshev, degree 9, on \[−10, 10\]) so that the
/// same model could also be trained on secret shares; here clients train in
/// the clear.
///
/// Parameters are flattened layer by layer: the weights `[in, out]` in row
/// major order, then the bias `[out]`.
///
/// # Examples
///
/// ```
/// use ndarray::array;
/// use privml::fl::{LocalTraining, ModelSpec};
///
/// let spec = ModelSpec::logistic(2);
/// assert_eq!(spec.num_params(), 3);
/// let x = array![[1.0, 0.0], [0.0, 1.0]];
/// let y = array![1.0, 0.0];
/// let opts = LocalTraining { steps: 50, lr: 2.0, weight_decay: 0.0 };
/// let w = spec.train_local(&spec.init(0), &x, &y, opts)?;
/// assert_eq!(spec.accuracy(&w, &x, &y)?, 1.0);
/// # Ok::<(), privml::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ModelSpec {
    /// Number of input features.
    pub inputs: usize,
    /// Width of the hidden layer, `None` for logistic regression.
    pub hidden: Option<usize>,
    /// The sigmoid approximation.
    pub sigmoid: Polynomial,
}

impl ModelSpec {
    /// Logistic regression on `inputs` features.
    pub fn logistic(inputs: usize) -> Self {
        ModelSpec {
            inputs,
            hidden: None,
            sigmoid: sigmoid::chebyshev(10.0, 9),
        }
    }

    /// One hidden layer of `hidden` sigmoid units.
    pub fn mlp(inputs: usize, hidden: usize) -> Self {
        ModelSpec {
            hidden: Some(hidden),
            ..Self::logistic(inputs)
        }
    }

    /// A short description.
    pub fn describe(&self) -> String {
        match self.hidden {
            None => format!(
                "logistic regression {}→1 ({} parameters)",
                self.inputs,
                self.num_params()
            ),
            Some(h) => format!(
                "MLP {}→{h}→1 ({} parameters)",
                self.inputs,
                self.num_params()
            ),
        }
    }

    /// (in, out) of each dense layer.
    fn layers(&self) -> Vec<(usize, usize)> {
        match self.hidden {
            None => vec![(self.inputs, 1)],
            Some(h) => vec![(self.inputs, h), (h, 1)],
        }
    }

    /// Length of the flat parameter vector.
    pub fn num_params(&self) -> usize {
        self.layers().iter().map(|(i, o)| i * o + o).sum()
    }

    /// Initial parameters: zeros for logistic regression; for an MLP,
    /// weights uniform in ±1/√in (seeded) and zero biases.
    pub fn init(&self, seed: u64) -> Vec<f64> {
        if self.hidden.is_none() {
            return vec![0.0; self.num_params()];
        }
        let mut rng = StdRng::seed_from_u64(seed);
        let mut out = Vec::with_capacity(self.num_params());
        for (i, o) in self.layers() {
            let a = 1.0 / (i as f64).sqrt();
            out.extend((0..i * o).map(|_| rng.random_range(-a..a)));
            out.extend(std::iter::repeat_n(0.0, o));
        }
        out
    }

    fn check_len(&self, params: &[f64]) -> Result<()> {
        if params.len() != self.num_params() {
            return Err(Error::ShapeMismatch {
                op: "model parameters",
                left: vec![params.len()],
                right: vec![self.num_params()],
            });
        }
        Ok(())
    }

    /// The network with these parameters.
    pub fn build(&self, r: &mut Plain, params: &[f64]) -> Result<Sequential<Plain>> {
        self.check_len(params)?;
        let mut layers = Vec::new();
        let mut pos = 0;
        for (i, o) in self.layers() {
            let w = ArrayD::from_shape_vec(IxDyn(&[i, o]), params[pos..pos + i * o].to_vec())
                .map_err(|e| Error::internal("ModelSpec::build", e.to_string()))?;
            pos += i * o;
            let b = ArrayD::from_shape_vec(IxDyn(&[1, o]), params[pos..pos + o].to_vec())
                .map_err(|e| Error::internal("ModelSpec::build", e.to_string()))?;
            pos += o;
            let w = r.constant(&w)?;
            let b = r.constant(&b)?;
            layers.push(Layer::Dense(Dense::new(w, Some(b))));
            layers.push(Layer::activation(Activation::sigmoid(self.sigmoid.clone())));
        }
        Ok(Sequential::new(layers))
    }

    /// The flat parameters of a network built by [`build`](Self::build).
    pub fn flatten(&self, r: &mut Plain, net: &Sequential<Plain>) -> Result<Vec<f64>> {
        let mut out = Vec::with_capacity(self.num_params());
        for t in net.reveal_parameters(r)? {
            out.extend(t.iter().copied());
        }
        self.check_len(&out)?;
        Ok(out)
    }

    /// Local training from `params`: `steps` full-batch gradient steps on
    /// (x, y), each `w += lr / n · ∂w` for the squared error ½Σ(y − p)²
    /// (the nn module's convention), then [`WeightDecay`]
    /// `W *= 1 − lr · weight_decay` on the weights (not the biases). Returns
    /// the new parameters.
    ///
    /// A polynomial sigmoid is accurate only on its interval (±10 here) and
    /// diverges beyond it, which would feed back into ever larger weights;
    /// weight decay keeps the pre-activations inside (with the default
    /// 0.002 the breast-cancer model settles at |z| ≈ 7). If after any step
    /// a layer's pre-activations on `x` leave 1.1 times the interval, this
    /// is an [`Error::InvalidParameter`] asking for a lower rate or more
    /// decay, rather than a silent collapse a few rounds later.
    pub fn train_local(
        &self,
        params: &[f64],
        x: &Array2<f64>,
        y: &Array1<f64>,
        opts: LocalTraining,
    ) -> Result<Vec<f64>> {
        let n = x.nrows();
        if n == 0 || y.len() != n {
            return Err(Error::ShapeMismatch {
                op: "train_local",
                left: vec![n, x.ncols()],
                right: vec![y.len()],
            });
        }
        let LocalTraining {
            steps,
            lr,
            weight_decay,
        } = opts;
        let decay = WeightDecay::new(lr, weight_decay)?;
        let mut r = Plain::new();
        let mut net = self.build(&mut r, params)?;
        let xt = r.constant(&x.clone().into_dyn())?;
        let yt = r.constant(&y.clone().insert_axis(Axis(1)).into_dyn())?;
        let range = self.sigmoid.arg_scale;
        let mut new = params.to_vec();
        for step in 0..steps {
            r.set_step(step as u64 + 1);
            let out = net.forward(&mut r, &xt)?;
            let delta = r.sub(&yt, &out)?;
            net.backward(&mut r, &delta)?;
            net.update(&mut r, lr / n as f64)?;
            decay.apply(&mut r, &mut net)?;
            // Checked after every step: one step too far is enough to
            // overflow the next one.
            new = self.flatten(&mut r, &net)?;
            let z = self.max_preactivation(&new, x)?;
            if z.is_nan() || z > 1.1 * range {
                let z = if z < 1e6 {
                    format!("{z:.1}")
                } else {
                    format!("{z:.1e}")
                };
                return Err(Error::invalid(
                    "lr",
                    format!(
                        "local step {} drove pre-activations to ±{z}, beyond ±{range}, where the polynomial sigmoid is accurate: lower the learning rate ({lr}) or raise the weight decay ({weight_decay})",
                        step + 1
                    ),
                ));
            }
        }
        Ok(new)
    }

    /// The largest |pre-activation| of any layer on the rows of `x` (in f64,
    /// with the polynomial sigmoid between layers).
    pub fn max_preactivation(&self, params: &[f64], x: &Array2<f64>) -> Result<f64> {
        self.check_len(params)?;
        let mut h = x.clone();
        let mut pos = 0;
        let mut largest = 0.0f64;
        for (i, o) in self.layers() {
            if h.ncols() != i {
                return Err(Error::ShapeMismatch {
                    op: "max_preactivation",
                    left: vec![h.nrows(), h.ncols()],
                    right: vec![i, o],
                });
            }
            let w = Array2::from_shape_vec((i, o), params[pos..pos + i * o].to_vec())
                .map_err(|e| Error::internal("ModelSpec::max_preactivation", e.to_string()))?;
            pos += i * o;
            let b = ndarray::ArrayView1::from(&params[pos..pos + o]);
            pos += o;
            let z = h.dot(&w) + b;
            largest = z.iter().fold(largest, |m, v| m.max(v.abs()));
            h = z.mapv(|v| self.sigmoid.eval(v));
        }
        Ok(largest)
    }

    /// Predicted probabilities for the rows of `x`.
    pub fn predict(&self, params: &[f64], x: &Array2<f64>) -> Result<Array1<f64>> {
        let mut r = Plain::new();
        let mut net = self.build(&mut r, params)?;
        let xt = r.constant(&x.clone().into_dyn())?;
        let p = net.predict(&mut r, &xt)?;
        Ok(p.iter().copied().collect())
    }

    /// Fraction of rows whose prediction (probability > 1/2) matches the
    /// 0/1 target.
    pub fn accuracy(&self, params: &[f64], x: &Array2<f64>, y: &Array1<f64>) -> Result<f64> {
        let p = self.predict(params, x)?;
        if p.is_empty() {
            return Ok(0.0);
        }
        let right = p
            .iter()
            .zip(y)
            .filter(|(p, y)| (**p > 0.5) == (**y > 0.5))
            .count();
        Ok(right as f64 / p.len() as f64)
    }
}
