//! Layers: dense (affine) maps and activations, generic over the domain.

use ndarray::arr0;

use crate::approx::{self, EvalOptions, Polynomial};
use crate::domain::{Gadgets, Ring};
use crate::error::{Error, Result};

/// A dense layer y = x · W (+ b), with x of shape [batch, in], W of shape
/// [in, out] and b of shape [1, out].
pub struct Dense<R: Ring> {
    /// Weights, [in, out].
    pub weights: R::Tensor,
    /// Bias, [1, out], if the layer has one.
    pub bias: Option<R::Tensor>,
    pub(crate) input: Option<R::Tensor>,
    pub(crate) grad_w: Option<R::Tensor>,
    pub(crate) grad_b: Option<R::Tensor>,
}

impl<R: Ring> Dense<R> {
    /// A layer with the given (already secret) parameters.
    pub fn new(weights: R::Tensor, bias: Option<R::Tensor>) -> Self {
        Dense {
            weights,
            bias,
            input: None,
            grad_w: None,
            grad_b: None,
        }
    }
}

/// An activation function as the secure computation evaluates it.
#[derive(Debug, Clone, PartialEq)]
pub enum Activation {
    /// A polynomial approximation of the sigmoid; its derivative is taken as
    /// (1 - s) · s from the output s, as in the tutorial.
    Sigmoid {
        /// The approximation.
        approx: Polynomial,
        /// How to evaluate it.
        eval: EvalOptions,
    },
    /// max(x, 0) by secure comparison; the comparison's bit is kept as the
    /// derivative, so backward costs one product and no second comparison.
    Relu,
    /// The piecewise-linear sigmoid clip(slope · x + 1/2, 0, 1) of SecureML
    /// (slope 1) and ABY3; slope 1/4 matches σ'(0) ("hard sigmoid"). Two
    /// comparisons in one batch; the derivative slope · \[0 < t < 1\] comes
    /// with them.
    PiecewiseSigmoid {
        /// Slope of the middle segment.
        slope: f64,
    },
}

impl Activation {
    /// A sigmoid approximation evaluated with the default (low-depth) method.
    pub fn sigmoid(approx: Polynomial) -> Self {
        Activation::Sigmoid {
            approx,
            eval: EvalOptions::default(),
        }
    }

    /// A short name for reports.
    pub fn name(&self) -> String {
        match self {
            Activation::Sigmoid { approx, .. } => format!("sigmoid ≈ {}", approx.name),
            Activation::Relu => "relu".to_string(),
            Activation::PiecewiseSigmoid { slope } => {
                format!("piecewise-linear sigmoid (slope {slope})")
            }
        }
    }

    /// Applies the activation.
    pub fn apply<R: Ring>(&self, r: &mut R, x: &R::Tensor) -> Result<R::Tensor> {
        match self {
            Activation::Sigmoid { approx, eval } => approx::evaluate(r, x, approx, eval),
            Activation::Relu => r.relu(x),
            Activation::PiecewiseSigmoid { slope } => Ok(piecewise(r, x, *slope)?.0),
        }
    }
}

/// clip(slope · x + 1/2, 0, 1) and its derivative slope · [0 ≤ t < 1].
pub(crate) fn piecewise<R: Ring>(
    r: &mut R,
    x: &R::Tensor,
    slope: f64,
) -> Result<(R::Tensor, R::Tensor)> {
    let scaled = if slope == 1.0 {
        x.clone()
    } else {
        r.mul_public(x, slope)?
    };
    let t = r.add_public(&scaled, &arr0(0.5).into_dyn())?;
    if slope == 1.0 {
        return r.clip01(&t);
    }
    // the derivative slope · inside rides along in clip's product round
    let s = r.constant(&arr0(slope).into_dyn())?;
    let (v, _, mut d) = r.clip01_with(&t, &[&s])?;
    Ok((v, d.remove(0)))
}

/// The piecewise-linear sigmoid in f64, for tables and plots.
pub fn piecewise_sigmoid_f64(x: f64, slope: f64) -> f64 {
    (slope * x + 0.5).clamp(0.0, 1.0)
}

/// An activation layer: the function plus what backward needs.
pub struct ActivationLayer<R: Ring> {
    /// The function.
    pub activation: Activation,
    /// Sigmoid: the output s. ReLU: the derivative bit.
    pub(crate) saved: Option<R::Tensor>,
}

impl<R: Ring> ActivationLayer<R> {
    /// An activation layer with nothing saved yet.
    pub fn new(activation: Activation) -> Self {
        ActivationLayer {
            activation,
            saved: None,
        }
    }

    /// Applies the function; with `keep`, saves what the derivative needs
    /// (ReLU's and the piecewise sigmoid's come with the comparison, a
    /// polynomial sigmoid's from its output).
    pub(crate) fn forward(&mut self, r: &mut R, x: &R::Tensor, keep: bool) -> Result<R::Tensor> {
        r.set_label("forward: activation");
        match (&self.activation, keep) {
            (Activation::Relu, true) => {
                let (y, d) = r.relu_with_derivative(x)?;
                self.saved = Some(d);
                Ok(y)
            }
            (Activation::PiecewiseSigmoid { slope }, true) => {
                let (y, d) = piecewise(r, x, *slope)?;
                self.saved = Some(d);
                Ok(y)
            }
            (Activation::Sigmoid { .. }, true) => {
                let y = self.activation.apply(r, x)?;
                self.saved = Some(y.clone());
                Ok(y)
            }
            (_, false) => self.activation.apply(r, x),
        }
    }

    /// The derivative from what forward saved: for a sigmoid, the pair
    /// ((1 - s), s) still to be multiplied; for ReLU, the comparison bit
    /// itself.
    pub(crate) fn derivative(&self, r: &mut R) -> Result<Derivative<R>> {
        let saved = self
            .saved
            .as_ref()
            .ok_or_else(|| Error::invalid("backward", "call forward before backward"))?;
        match self.activation {
            Activation::Sigmoid { .. } => {
                let one_minus = r.public_sub(&arr0(1.0).into_dyn(), saved)?;
                Ok(Derivative::Product(one_minus, saved.clone()))
            }
            Activation::Relu | Activation::PiecewiseSigmoid { .. } => {
                Ok(Derivative::Ready(saved.clone()))
            }
        }
    }
}

impl<R: Ring> Dense<R> {
    /// x · W (+ b); with `keep`, saves x for the weight gradient.
    pub(crate) fn forward(&mut self, r: &mut R, x: &R::Tensor, keep: bool) -> Result<R::Tensor> {
        r.set_label("forward: dense");
        let mut y = r.matmul(x, &self.weights)?;
        if let Some(b) = &self.bias {
            y = r.add(&y, b)?;
        }
        if keep {
            self.input = Some(x.clone());
        }
        Ok(y)
    }
}

/// What backward needs from an activation layer to form its derivative.
pub(crate) enum Derivative<R: Ring> {
    /// The derivative is the product of these two (one multiplication).
    Product(R::Tensor, R::Tensor),
    /// The derivative is already known.
    Ready(R::Tensor),
}

/// One layer of a [`Sequential`](super::Sequential) model.
pub enum Layer<R: Ring> {
    /// Affine map.
    Dense(Dense<R>),
    /// Elementwise activation.
    Activation(ActivationLayer<R>),
}

impl<R: Ring> Layer<R> {
    /// An activation layer.
    pub fn activation(a: Activation) -> Self {
        Layer::Activation(ActivationLayer::new(a))
    }

    pub(crate) fn forward(&mut self, r: &mut R, x: &R::Tensor, keep: bool) -> Result<R::Tensor> {
        match self {
            Layer::Dense(d) => d.forward(r, x, keep),
            Layer::Activation(a) => a.forward(r, x, keep),
        }
    }

    /// The derivative of an activation layer from what forward saved (see
    /// [`ActivationLayer::derivative`]); `None` for a dense layer.
    pub(crate) fn derivative(&self, r: &mut R) -> Result<Option<Derivative<R>>> {
        match self {
            Layer::Activation(a) => a.derivative(r).map(Some),
            Layer::Dense(_) => Ok(None),
        }
    }
}
