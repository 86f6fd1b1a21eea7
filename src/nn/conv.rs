//! `Conv2d`: a 2-D convolution whose communication is proportional to its
//! output, not to its kernel.
//!
//! Each pass is one local layout step and one secure matrix product:
//!
//! | pass | local layout ([`Gather`] plans, no communication) | secure product (one round of truncated products) | products (entries sent) |
//! |---|---|---|---|
//! | forward | input `[n, c, h, w]` → patches `[n·oh·ow, c·kh·kw]` (im2col) | patches · weightsᵀ → `[n·oh·ow, o]` | n·o·oh·ow: the output |
//! | weight gradient | δ `[n, o, oh, ow]` → `[o, n·oh·ow]` | δ · patches → `[o, c·kh·kw]` | the weights |
//! | input gradient | δ → transposed patches `[n·h·w, kh·kw·o]`; weights → flipped `[kh·kw·o, c]` | patches · flipped → `[n·h·w, c]` | n·c·h·w: the input |
//!
//! The two gradient products share one round. The transposed patches make
//! the input gradient a product with one output per *input* element (the
//! "col2im" alternative, δ·weights then a local sum, would send one per
//! kernel tap and output position, kh·kw·c/(o) times more for the same
//! result); their price is memory and local work, a patch matrix of
//! n·h·w·kh·kw·o entries. Plans are built once per input shape and kept.

use super::module::{Module, backward_first, forward_first};
use crate::domain::{Gather, Layout, Ring, Window2d};
use crate::error::{Error, Result};

/// The plans of one input shape.
#[derive(Debug, Clone)]
struct Plans {
    input: Vec<usize>,
    /// input → patches `[n·p, c·k]`
    im2col: Gather,
    /// weights `[o, c, kh, kw]` → `[c·k, o]`
    weight_matrix: Gather,
    /// products `[n·p, o]` → output `[n, o, oh, ow]`
    to_channels: Gather,
    /// δ `[n, o, oh, ow]` → `[o, n·p]`
    delta_rows: Gather,
    /// `[o, c·k]` → `[o, c, kh, kw]`
    to_weights: Gather,
    /// the input gradient's plans, built on first use
    transposed: Option<TransposedPlans>,
}

#[derive(Debug, Clone)]
struct TransposedPlans {
    /// δ → `[n·h·w, k·o]`
    patches: Gather,
    /// weights → `[k·o, c]`
    flipped: Gather,
    /// `[n·h·w, c]` → `[n, c, h, w]`
    to_input: Gather,
}

/// A 2-D convolution over NCHW tensors: weights `[o, c, kh, kw]`, an
/// optional bias `[1, o]`, a [`Window2d`] (kernel, stride, zero padding).
/// See the module documentation of `src/nn/conv.rs` for how it is computed.
///
/// # Examples
///
/// ```
/// use ndarray::{Array, IxDyn};
/// use privml::nn::{Conv2d, Module};
/// use privml::{Plain, Ring, Window2d};
///
/// let mut r = Plain::new();
/// // one 2 x 2 filter of ones over a 3 x 3 image: sums of 2 x 2 blocks
/// let w = r.constant(&Array::ones(IxDyn(&[1, 1, 2, 2])))?;
/// let mut conv = Conv2d::new(&r, w, None, Window2d::square(2, 1, 0)?)?;
/// let x = r.constant(&Array::from_shape_vec(IxDyn(&[1, 1, 3, 3]), (1..=9).map(f64::from).collect())?)?;
/// let y = conv.forward(&mut r, &x, false)?;
/// assert_eq!(y.iter().copied().collect::<Vec<_>>(), vec![12.0, 16.0, 24.0, 28.0]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Conv2d<R: Ring> {
    /// Weights `[o, c, kh, kw]`.
    pub weights: R::Tensor,
    /// Bias `[1, o]`, if the layer has one.
    pub bias: Option<R::Tensor>,
    window: Window2d,
    /// boxed: the plans are large, the layer moves around
    plans: Option<Box<Plans>>,
    patches: Option<R::Tensor>,
    grad_w: Option<R::Tensor>,
    grad_b: Option<R::Tensor>,
}

impl<R: Ring> Conv2d<R> {
    /// A convolution with the given (already secret) parameters; checks
    /// that the weights have four axes and the bias fits them.
    pub fn new(
        r: &R,
        weights: R::Tensor,
        bias: Option<R::Tensor>,
        window: Window2d,
    ) -> Result<Self> {
        let w = r.shape(&weights).to_vec();
        if w.len() != 4 || w[2..] != window.kernel {
            return Err(Error::ShapeMismatch {
                op: "Conv2d weights",
                left: w,
                right: window.kernel.to_vec(),
            });
        }
        if let Some(b) = &bias
            && r.shape(b) != [1, w[0]]
        {
            return Err(Error::ShapeMismatch {
                op: "Conv2d bias",
                left: r.shape(b).to_vec(),
                right: vec![1, w[0]],
            });
        }
        Ok(Conv2d {
            weights,
            bias,
            window,
            plans: None,
            patches: None,
            grad_w: None,
            grad_b: None,
        })
    }

    /// The window.
    pub fn window(&self) -> Window2d {
        self.window
    }

    /// The plans for `input`, built if the shape is new, moved out of the
    /// layer (put them back with `self.plans = Some(..)`; they are large,
    /// so they are moved rather than copied).
    fn take_plans(&mut self, r: &R, input: &[usize]) -> Result<Box<Plans>> {
        if let Some(p) = self.plans.take()
            && p.input == input
        {
            return Ok(p);
        }
        {
            let w = r.shape(&self.weights).to_vec();
            let (o, ck) = (w[0], w[1] * w[2] * w[3]);
            if input.len() != 4 || input[1] != w[1] {
                return Err(Error::ShapeMismatch {
                    op: "Conv2d input",
                    left: input.to_vec(),
                    right: w,
                });
            }
            let n = input[0];
            let [oh, ow] = self.window.output_size("Conv2d", [input[2], input[3]])?;
            let p = oh * ow;
            Ok(Box::new(Plans {
                input: input.to_vec(),
                im2col: Gather::im2col(input, &self.window)?,
                weight_matrix: Gather::permute_reshaped(&w, &[o, ck], &[1, 0], &[ck, o])?,
                to_channels: Gather::permute_reshaped(
                    &[n * p, o],
                    &[n, p, o],
                    &[0, 2, 1],
                    &[n, o, oh, ow],
                )?,
                delta_rows: Gather::permute_reshaped(
                    &[n, o, oh, ow],
                    &[n, o, p],
                    &[1, 0, 2],
                    &[o, n * p],
                )?,
                to_weights: Gather::reshape(&[o, ck], &w)?,
                transposed: None,
            }))
        }
    }
}

impl<R: Ring> Module<R> for Conv2d<R> {
    fn label(&self) -> &'static str {
        "conv"
    }

    fn forward(&mut self, r: &mut R, x: &R::Tensor, train: bool) -> Result<R::Tensor> {
        r.set_label("forward: conv");
        let input = r.shape(x).to_vec();
        let plans = self.take_plans(r, &input)?;
        let patches = r.gather(&[x], &plans.im2col)?;
        let wm = r.gather(&[&self.weights], &plans.weight_matrix)?;
        let mut rows = r.matmul(&patches, &wm)?;
        if let Some(b) = &self.bias {
            rows = r.add(&rows, b)?;
        }
        if train {
            self.patches = Some(patches);
        }
        let out = r.gather(&[&rows], &plans.to_channels);
        self.plans = Some(plans);
        out
    }

    fn backward(
        &mut self,
        r: &mut R,
        delta: &R::Tensor,
        input_gradient: bool,
    ) -> Result<Option<R::Tensor>> {
        r.set_label("backward: conv");
        let patches = self.patches.take().ok_or_else(|| forward_first("conv"))?;
        let input = self
            .plans
            .as_ref()
            .map(|p| p.input.clone())
            .ok_or_else(|| forward_first("conv"))?;
        let window = self.window;
        let wshape = r.shape(&self.weights).to_vec();
        let mut plans = self.take_plans(r, &input)?;
        if input_gradient && plans.transposed.is_none() {
            let n = input[0];
            let (o, c) = (wshape[0], wshape[1]);
            let [oh, ow] = window.output_size("Conv2d", [input[2], input[3]])?;
            let (h, w) = (input[2], input[3]);
            plans.transposed = Some(TransposedPlans {
                patches: Gather::conv_transpose_patches(&[n, o, oh, ow], [h, w], &window)?,
                flipped: Gather::flipped_kernel(&wshape)?,
                to_input: Gather::permute_reshaped(
                    &[n * h * w, c],
                    &[n, h * w, c],
                    &[0, 2, 1],
                    &input,
                )?,
            });
        }
        let result = self.backward_with(r, delta, &patches, &plans, input_gradient);
        self.plans = Some(plans);
        result
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
        let mut g = vec![self.grad_w.take().ok_or_else(|| backward_first("conv"))?];
        if self.bias.is_some() {
            g.push(self.grad_b.take().ok_or_else(|| backward_first("conv"))?);
        }
        Ok(g)
    }
}

impl<R: Ring> Conv2d<R> {
    /// The backward products with the plans at hand.
    fn backward_with(
        &mut self,
        r: &mut R,
        delta: &R::Tensor,
        patches: &R::Tensor,
        plans: &Plans,
        input_gradient: bool,
    ) -> Result<Option<R::Tensor>> {
        let dy = r.gather(&[delta], &plans.delta_rows)?;
        let transposed = plans.transposed.as_ref().filter(|_| input_gradient);
        let mut products = match transposed {
            Some(t) => {
                let back = r.gather(&[delta], &t.patches)?;
                let flipped = r.gather(&[&self.weights], &t.flipped)?;
                r.matmul_many(&[(&dy, patches), (&back, &flipped)])?
            }
            None => r.matmul_many(&[(&dy, patches)])?,
        };
        let dx_rows = transposed.and_then(|_| products.pop());
        let gw = products
            .pop()
            .ok_or_else(|| Error::internal("Conv2d::backward", "no weight gradient"))?;
        self.grad_w = Some(r.gather(&[&gw], &plans.to_weights)?);
        if self.bias.is_some() {
            let per_channel = r.sum_axis(&dy, 1)?;
            self.grad_b = Some(r.transpose(&per_channel)?);
        }
        match (dx_rows, transposed) {
            (Some(rows), Some(t)) => Ok(Some(r.gather(&[&rows], &t.to_input)?)),
            _ => Ok(None),
        }
    }
}
