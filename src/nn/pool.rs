//! Pooling layers: `MaxPool2d` by a secure comparison tournament over the
//! window, `AvgPool2d` and `GlobalAvgPool` by local sums and one public
//! scaling.
//!
//! | layer | forward | backward |
//! |---|---|---|
//! | [`MaxPool2d`] | the windows as candidates `[kh·kw, n·c·oh·ow]` (a local [`Gather`]), then ⌈log₂(kh·kw)⌉ comparison rounds (one per tournament level, all windows at once); the comparison bits are kept | the gradient routed down the tournament (one product round per level), then the windows' adjoint (local) |
//! | [`AvgPool2d`] | the window sum (local), times 1/(kh·kw): one truncation | times 1/(kh·kw), spread over the window (local) |
//! | [`GlobalAvgPool`] | the channel sum (local), times 1/(h·w) | the same, spread |
//!
//! Pooling takes no padding, and the windows must tile the input: a window
//! that does not divide the input is an error, not a dropped border.

use super::module::{Module, forward_first};
use crate::domain::gadgets::MaxTrace;
use crate::domain::{Gadgets, Gather, Layout, Ring, Window2d};
use crate::error::{Error, Result};

/// The plans of one input shape.
#[derive(Debug, Clone)]
struct WindowPlans {
    input: Vec<usize>,
    output: Vec<usize>,
    /// input → candidates `[kh·kw, n·c·oh·ow]`
    windows: Gather,
    /// candidates → `[t, n, c, h, w]` (built on first backward)
    adjoint: Option<Gather>,
}

/// Plans for pooling `input` with `window`, reusing `cached` if it fits.
fn window_plans(
    cached: Option<WindowPlans>,
    input: &[usize],
    window: &Window2d,
) -> Result<WindowPlans> {
    if let Some(p) = cached
        && p.input == input
    {
        return Ok(p);
    }
    let &[n, c, h, w] = input else {
        return Err(Error::ShapeMismatch {
            op: "pool input",
            left: input.to_vec(),
            right: vec![],
        });
    };
    let [oh, ow] = window.pool_output_size("pool", [h, w])?;
    Ok(WindowPlans {
        input: input.to_vec(),
        output: vec![n, c, oh, ow],
        windows: Gather::pool_windows(input, window)?,
        adjoint: None,
    })
}

/// The input gradient from a gradient on the candidates: the windows'
/// adjoint, summed where windows overlap.
fn spread<R: Ring>(
    r: &mut R,
    plans: &mut WindowPlans,
    window: &Window2d,
    on_candidates: &R::Tensor,
) -> Result<R::Tensor> {
    if plans.adjoint.is_none() {
        plans.adjoint = Some(Gather::pool_windows_adjoint(&plans.input, window)?);
    }
    let adjoint = plans
        .adjoint
        .as_ref()
        .ok_or_else(|| Error::internal("pool backward", "no adjoint plan"))?;
    let layers = r.gather(&[on_candidates], adjoint)?;
    let summed = if adjoint.shape().first() == Some(&1) {
        layers
    } else {
        r.sum_axis(&layers, 0)?
    };
    r.reshape(&summed, &plans.input)
}

/// Max pooling over NCHW tensors (see the module documentation of `src/nn/pool.rs`).
///
/// # Examples
///
/// ```
/// use ndarray::{Array, IxDyn};
/// use privml::nn::{MaxPool2d, Module};
/// use privml::{Plain, Ring, Window2d};
///
/// let mut r = Plain::new();
/// let x = r.constant(&Array::from_shape_vec(IxDyn(&[1, 1, 2, 4]), vec![1., 5., 2., 0., 3., 4., 8., -1.])?)?;
/// let mut pool = MaxPool2d::new(Window2d::square(2, 2, 0)?);
/// let y = pool.forward(&mut r, &x, false)?;
/// assert_eq!(y.iter().copied().collect::<Vec<_>>(), vec![5.0, 8.0]);
/// assert_eq!(r.cost().comparisons, 6); // per window: 2 pairs, then 1
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct MaxPool2d<T> {
    window: Window2d,
    plans: Option<WindowPlans>,
    trace: Option<MaxTrace<T>>,
}

impl<T> MaxPool2d<T> {
    /// Max pooling with `window` (its padding must be 0).
    pub fn new(window: Window2d) -> Self {
        MaxPool2d {
            window,
            plans: None,
            trace: None,
        }
    }
}

impl<R: Ring> Module<R> for MaxPool2d<R::Tensor> {
    fn label(&self) -> &'static str {
        "maxpool"
    }

    fn forward(&mut self, r: &mut R, x: &R::Tensor, train: bool) -> Result<R::Tensor> {
        r.set_label("forward: maxpool");
        let plans = window_plans(self.plans.take(), r.shape(x), &self.window)?;
        let candidates = r.gather(&[x], &plans.windows)?;
        let (m, trace) = r.max_tree(&candidates, train)?;
        self.trace = train.then_some(trace);
        let out = r.reshape(&m, &plans.output);
        self.plans = Some(plans);
        out
    }

    fn backward(
        &mut self,
        r: &mut R,
        delta: &R::Tensor,
        _input_gradient: bool,
    ) -> Result<Option<R::Tensor>> {
        r.set_label("backward: maxpool");
        let trace = self.trace.take().ok_or_else(|| forward_first("maxpool"))?;
        let mut plans = self.plans.take().ok_or_else(|| forward_first("maxpool"))?;
        let m: usize = plans.output.iter().product();
        let result = (|| {
            let g = r.reshape(delta, &[1, m])?;
            let routed = r.max_tree_backward(&trace, &g)?;
            spread(r, &mut plans, &self.window, &routed)
        })();
        self.plans = Some(plans);
        result.map(Some)
    }
}

/// Average pooling over NCHW tensors (see the module documentation of `src/nn/pool.rs`).
pub struct AvgPool2d {
    window: Window2d,
    plans: Option<WindowPlans>,
}

impl AvgPool2d {
    /// Average pooling with `window` (its padding must be 0).
    pub fn new(window: Window2d) -> Self {
        AvgPool2d {
            window,
            plans: None,
        }
    }

    fn scale(&self) -> f64 {
        1.0 / (self.window.kernel[0] * self.window.kernel[1]) as f64
    }
}

impl<R: Ring> Module<R> for AvgPool2d {
    fn label(&self) -> &'static str {
        "avgpool"
    }

    fn forward(&mut self, r: &mut R, x: &R::Tensor, _train: bool) -> Result<R::Tensor> {
        r.set_label("forward: avgpool");
        let plans = window_plans(self.plans.take(), r.shape(x), &self.window)?;
        let result = (|| {
            let candidates = r.gather(&[x], &plans.windows)?;
            let sum = r.sum_axis(&candidates, 0)?;
            let mean = r.mul_public(&sum, self.scale())?;
            r.reshape(&mean, &plans.output)
        })();
        self.plans = Some(plans);
        result
    }

    fn backward(
        &mut self,
        r: &mut R,
        delta: &R::Tensor,
        _input_gradient: bool,
    ) -> Result<Option<R::Tensor>> {
        r.set_label("backward: avgpool");
        let mut plans = self.plans.take().ok_or_else(|| forward_first("avgpool"))?;
        let window = self.window;
        let taps = window.kernel[0] * window.kernel[1];
        let m: usize = plans.output.iter().product();
        let scale = self.scale();
        let result = (|| {
            let g = r.reshape(delta, &[1, m])?;
            let g = r.mul_public(&g, scale)?;
            let every_tap = r.gather_rows(&g, &vec![0; taps])?;
            spread(r, &mut plans, &window, &every_tap)
        })();
        self.plans = Some(plans);
        result.map(Some)
    }
}

/// The mean of each channel, `[n, c, h, w]` to `[n, c, 1, 1]` (see the
/// module documentation of `src/nn/pool.rs`).
#[derive(Debug, Clone, Default)]
pub struct GlobalAvgPool {
    /// The input shape and the plan that spreads `[n·c, 1]` over `[n·c, h·w]`.
    plans: Option<(Vec<usize>, Gather)>,
}

impl GlobalAvgPool {
    /// A global average pooling layer.
    pub fn new() -> Self {
        GlobalAvgPool::default()
    }
}

impl<R: Ring> Module<R> for GlobalAvgPool {
    fn label(&self) -> &'static str {
        "gap"
    }

    fn forward(&mut self, r: &mut R, x: &R::Tensor, _train: bool) -> Result<R::Tensor> {
        r.set_label("forward: gap");
        let shape = r.shape(x).to_vec();
        let &[n, c, h, w] = shape.as_slice() else {
            return Err(Error::ShapeMismatch {
                op: "gap input",
                left: shape,
                right: vec![],
            });
        };
        if self.plans.as_ref().is_none_or(|(s, _)| *s != shape) {
            let index: Vec<Option<usize>> = (0..n * c * h * w).map(|e| Some(e / (h * w))).collect();
            let spread = Gather::from_indices(&[n * c, 1], &[n * c, h * w], &index)?;
            self.plans = Some((shape.clone(), spread));
        }
        let rows = r.reshape(x, &[n * c, h * w])?;
        let sum = r.sum_axis(&rows, 1)?;
        let mean = r.mul_public(&sum, 1.0 / (h * w) as f64)?;
        r.reshape(&mean, &[n, c, 1, 1])
    }

    fn backward(
        &mut self,
        r: &mut R,
        delta: &R::Tensor,
        _input_gradient: bool,
    ) -> Result<Option<R::Tensor>> {
        r.set_label("backward: gap");
        let (shape, spread) = self.plans.as_ref().ok_or_else(|| forward_first("gap"))?;
        let (nc, hw) = (shape[0] * shape[1], shape[2] * shape[3]);
        let g = r.reshape(delta, &[nc, 1])?;
        let g = r.mul_public(&g, 1.0 / hw as f64)?;
        let spread_out = r.gather(&[&g], spread)?;
        Ok(Some(r.reshape(&spread_out, shape)?))
    }
}
