//! [`Module`]: what every layer of a [`Network`](super::Network) does —
//! forward, backward, its parameters and their gradients — and the
//! implementations for the dense layer, the activations, `Flatten` and
//! `Softmax`. Convolutions and pooling are in their own files.
//!
//! Gradients follow the crate's sign convention (see
//! [`Sequential`](super::Sequential)): `backward` takes the error signal
//! δ = -∂L/∂output, stores -∂L/∂θ for every parameter θ, and returns
//! -∂L/∂input; an optimiser *adds* a multiple of the stored gradients.

use super::layers::{ActivationLayer, Dense, Derivative};
use crate::domain::gadgets::SoftmaxParams;
use crate::domain::{Gadgets, Layout, Ring};
use crate::error::{Error, Result};

/// One layer of a [`Network`](super::Network), generic over the domain.
pub trait Module<R: Ring> {
    /// A label for errors and overflow reports (`"forward: conv"`).
    fn label(&self) -> &'static str;

    /// The layer applied to a batch `x` (batch axis first). With `train`,
    /// keeps what [`backward`](Self::backward) needs.
    fn forward(&mut self, r: &mut R, x: &R::Tensor, train: bool) -> Result<R::Tensor>;

    /// From δ = -∂L/∂output (the output's shape), stores the parameter
    /// gradients and, if `input_gradient`, returns -∂L/∂input.
    fn backward(
        &mut self,
        r: &mut R,
        delta: &R::Tensor,
        input_gradient: bool,
    ) -> Result<Option<R::Tensor>>;

    /// The trainable tensors, in storage order.
    fn parameters(&self) -> Vec<&R::Tensor> {
        Vec::new()
    }

    /// The trainable tensors, mutable, in storage order.
    fn parameters_mut(&mut self) -> Vec<&mut R::Tensor> {
        Vec::new()
    }

    /// The gradients stored by the last `backward`, in the order of
    /// [`parameters`](Self::parameters); taken, so a second call is an
    /// error.
    fn take_gradients(&mut self) -> Result<Vec<R::Tensor>> {
        Ok(Vec::new())
    }
}

/// The error for a backward pass without its forward pass.
pub(crate) fn forward_first(layer: &'static str) -> Error {
    Error::invalid(
        "backward",
        format!("{layer}: call forward (with train = true) before backward"),
    )
}

/// The error for taking gradients that backward did not store.
pub(crate) fn backward_first(layer: &'static str) -> Error {
    Error::invalid(
        "gradients",
        format!("{layer}: call backward before taking the gradients"),
    )
}

/// The element count of each example: the shape without its batch axis.
pub(crate) fn example_len(shape: &[usize]) -> usize {
    shape.iter().skip(1).product()
}

impl<R: Ring> Module<R> for Dense<R> {
    fn label(&self) -> &'static str {
        "dense"
    }

    fn forward(&mut self, r: &mut R, x: &R::Tensor, train: bool) -> Result<R::Tensor> {
        Dense::forward(self, r, x, train)
    }

    fn backward(
        &mut self,
        r: &mut R,
        delta: &R::Tensor,
        input_gradient: bool,
    ) -> Result<Option<R::Tensor>> {
        r.set_label("backward: dense");
        let x = self.input.take().ok_or_else(|| forward_first("dense"))?;
        let xt = r.transpose(&x)?;
        // the weight gradient and the input gradient share one round
        let mut products = if input_gradient {
            let wt = r.transpose(&self.weights)?;
            r.matmul_many(&[(&xt, delta), (delta, &wt)])?
        } else {
            r.matmul_many(&[(&xt, delta)])?
        };
        let dx = if input_gradient { products.pop() } else { None };
        self.grad_w = products.pop();
        if self.bias.is_some() {
            self.grad_b = Some(r.sum_axis(delta, 0)?);
        }
        Ok(dx)
    }

    fn parameters(&self) -> Vec<&R::Tensor> {
        std::iter::once(&self.weights).chain(&self.bias).collect()
    }

    fn parameters_mut(&mut self) -> Vec<&mut R::Tensor> {
        std::iter::once(&mut self.weights)
            .chain(self.bias.as_mut())
            .collect()
    }

    fn take_gradients(&mut self) -> Result<Vec<R::Tensor>> {
        let mut g = vec![self.grad_w.take().ok_or_else(|| backward_first("dense"))?];
        if self.bias.is_some() {
            g.push(self.grad_b.take().ok_or_else(|| backward_first("dense"))?);
        }
        Ok(g)
    }
}

impl<R: Ring> Module<R> for ActivationLayer<R> {
    fn label(&self) -> &'static str {
        "activation"
    }

    fn forward(&mut self, r: &mut R, x: &R::Tensor, train: bool) -> Result<R::Tensor> {
        ActivationLayer::forward(self, r, x, train)
    }

    fn backward(
        &mut self,
        r: &mut R,
        delta: &R::Tensor,
        _input_gradient: bool,
    ) -> Result<Option<R::Tensor>> {
        r.set_label("backward: activation");
        let d = match self.derivative(r)? {
            Derivative::Ready(d) => d,
            Derivative::Product(a, b) => r.mul(&a, &b)?,
        };
        self.saved = None;
        Ok(Some(r.mul(delta, &d)?))
    }
}

/// `[n, ...]` to `[n, prod(...)]` (C order), and back in backward. Local.
#[derive(Debug, Clone, Default)]
pub struct Flatten {
    input: Option<Vec<usize>>,
}

impl Flatten {
    /// A flatten layer.
    pub fn new() -> Self {
        Flatten::default()
    }
}

impl<R: Ring> Module<R> for Flatten {
    fn label(&self) -> &'static str {
        "flatten"
    }

    fn forward(&mut self, r: &mut R, x: &R::Tensor, _train: bool) -> Result<R::Tensor> {
        let shape = r.shape(x).to_vec();
        let n = shape.first().copied().unwrap_or(0);
        let y = r.reshape(x, &[n, example_len(&shape)])?;
        self.input = Some(shape);
        Ok(y)
    }

    fn backward(
        &mut self,
        r: &mut R,
        delta: &R::Tensor,
        _input_gradient: bool,
    ) -> Result<Option<R::Tensor>> {
        let shape = self
            .input
            .as_ref()
            .ok_or_else(|| forward_first("flatten"))?;
        Ok(Some(r.reshape(delta, shape)?))
    }
}

/// The softmax over the features of each row (`[n, k]`), as a layer (for a
/// model that outputs probabilities). Backward is the Jacobian-vector
/// product p ⊙ (δ - Σ_j δ_j p_j): two product rounds. For training with
/// the cross-entropy, end the network with the logits and use
/// [`Loss::CrossEntropy`](super::Loss), whose gradient p - y needs no
/// Jacobian.
#[derive(Debug, Clone)]
pub struct Softmax<T> {
    params: SoftmaxParams,
    output: Option<T>,
}

impl<T> Softmax<T> {
    /// A softmax layer evaluated with `params`.
    pub fn new(params: SoftmaxParams) -> Self {
        Softmax {
            params,
            output: None,
        }
    }
}

impl<R: Ring> Module<R> for Softmax<R::Tensor> {
    fn label(&self) -> &'static str {
        "softmax"
    }

    fn forward(&mut self, r: &mut R, x: &R::Tensor, train: bool) -> Result<R::Tensor> {
        r.set_label("forward: softmax");
        let p = r.softmax_rows(x, &self.params)?;
        if train {
            self.output = Some(p.clone());
        }
        Ok(p)
    }

    fn backward(
        &mut self,
        r: &mut R,
        delta: &R::Tensor,
        _input_gradient: bool,
    ) -> Result<Option<R::Tensor>> {
        r.set_label("backward: softmax");
        let p = self.output.take().ok_or_else(|| forward_first("softmax"))?;
        let weighted = r.mul(delta, &p)?;
        let total = r.sum_axis(&weighted, 1)?;
        let centred = r.sub(delta, &total)?;
        Ok(Some(r.mul(&p, &centred)?))
    }
}
