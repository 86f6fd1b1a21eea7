//! A sequential model: forward, backward, update.

use ndarray::ArrayD;

use super::layers::{Derivative, Layer};
use crate::domain::{Layout, Open, Ring};
use crate::error::{Error, Result};

/// Layers applied in order. Generic over the domain: the same model trains
/// in the clear, in fixed point, or on secret shares.
///
/// Gradients follow the tutorial's sign convention: `backward` takes the
/// *error signal* δ = -∂L/∂output (for the squared error ½Σ(y - out)², that
/// is y - out), and `update` *adds* `lr` times the gradient.
///
/// # Examples
///
/// ```
/// use ndarray::arr2;
/// use privml::approx::sigmoid;
/// use privml::nn::{Activation, Dense, Layer, Sequential};
/// use privml::{Plain, Ring};
///
/// let mut r = Plain::new();
/// let w = r.constant(&arr2(&[[0.5], [-0.5]]).into_dyn())?;
/// let mut net = Sequential::new(vec![
///     Layer::Dense(Dense::new(w, None)),
///     Layer::activation(Activation::sigmoid(sigmoid::maclaurin(3)?)),
/// ]);
/// let x = r.constant(&arr2(&[[1.0, 0.0]]).into_dyn())?;
/// let y = net.forward(&mut r, &x)?;
/// let target = r.constant(&arr2(&[[1.0]]).into_dyn())?;
/// let delta = r.sub(&target, &y)?;
/// net.backward(&mut r, &delta)?;
/// net.update(&mut r, 1.0)?;
/// let w_after = r.reveal(net.dense(0).unwrap())?;
/// assert!(w_after[[0, 0]] > 0.5); // moved toward the target
/// # Ok::<(), privml::Error>(())
/// ```
pub struct Sequential<R: Ring> {
    /// The layers, first to last.
    pub layers: Vec<Layer<R>>,
}

impl<R: Ring> Sequential<R> {
    /// A model from its layers.
    pub fn new(layers: Vec<Layer<R>>) -> Self {
        Sequential { layers }
    }

    /// Forward pass, keeping what backward needs.
    pub fn forward(&mut self, r: &mut R, x: &R::Tensor) -> Result<R::Tensor> {
        let mut h = x.clone();
        for (i, l) in self.layers.iter_mut().enumerate() {
            r.set_layer(Some(i + 1));
            h = l.forward(r, &h, true)?;
        }
        r.set_layer(None);
        Ok(h)
    }

    /// Forward pass for prediction (nothing kept).
    pub fn predict(&mut self, r: &mut R, x: &R::Tensor) -> Result<R::Tensor> {
        let mut h = x.clone();
        for (i, l) in self.layers.iter_mut().enumerate() {
            r.set_layer(Some(i + 1));
            h = l.forward(r, &h, false)?;
        }
        r.set_layer(None);
        Ok(h)
    }

    /// Backward pass from the error signal δ = -∂L/∂output; stores the
    /// parameter gradients for [`update`](Self::update).
    ///
    /// Communication is batched: the derivative factors of all activation
    /// layers are computed in one product round, and each dense layer's two
    /// matrix products (weight gradient and error for the layer below) share
    /// one round.
    pub fn backward(&mut self, r: &mut R, delta: &R::Tensor) -> Result<()> {
        r.set_label("backward: activation derivatives");
        let mut operands = Vec::new();
        let mut which = Vec::new();
        let mut ready: Vec<(usize, R::Tensor)> = Vec::new();
        for (i, l) in self.layers.iter().enumerate() {
            match l.derivative(r)? {
                Some(Derivative::Product(a, b)) => {
                    operands.push((a, b));
                    which.push(i);
                }
                Some(Derivative::Ready(d)) => ready.push((i, d)),
                None => {}
            }
        }
        let pairs: Vec<(&R::Tensor, &R::Tensor)> = operands.iter().map(|(a, b)| (a, b)).collect();
        let mut derivs = if pairs.is_empty() {
            Vec::new()
        } else {
            r.mul_many(&pairs)?
        };
        for (i, d) in ready {
            which.push(i);
            derivs.push(d);
        }

        let mut delta = delta.clone();
        for i in (0..self.layers.len()).rev() {
            r.set_layer(Some(i + 1));
            match &mut self.layers[i] {
                Layer::Activation(_) => {
                    r.set_label("backward: activation");
                    let k = which.iter().position(|w| *w == i).ok_or_else(|| {
                        Error::internal(
                            "Sequential::backward",
                            format!("no derivative saved for activation layer {i}"),
                        )
                    })?;
                    let d = std::mem::replace(&mut derivs[k], delta.clone());
                    delta = r.mul(&delta, &d)?;
                }
                Layer::Dense(d) => {
                    r.set_label("backward: dense");
                    let x = d.input.as_ref().ok_or_else(|| {
                        Error::invalid("backward", "call forward before backward")
                    })?;
                    let xt = r.transpose(x)?;
                    let (gw, next) = if i > 0 {
                        let wt = r.transpose(&d.weights)?;
                        let mut v = r.matmul_many(&[(&xt, &delta), (&delta, &wt)])?;
                        let next = v.pop();
                        (v.pop(), next)
                    } else {
                        (Some(r.matmul(&xt, &delta)?), None)
                    };
                    d.grad_w = gw;
                    if d.bias.is_some() {
                        d.grad_b = Some(r.sum_axis(&delta, 0)?);
                    }
                    if let Some(n) = next {
                        delta = n;
                    }
                }
            }
        }
        r.set_layer(None);
        Ok(())
    }

    /// W += lr · ∂W (and the same for biases). With `lr == 1` this is free;
    /// otherwise every gradient of the model is scaled by one truncation
    /// (one communication step for all layers, not one per tensor), the
    /// rate encoded with [`coeff_bits_for`](crate::fixed::coeff_bits_for)
    /// bits so that small rates keep ten significant bits.
    pub fn update(&mut self, r: &mut R, lr: f64) -> Result<()> {
        r.set_label("update");
        // the gradients in layer order: each dense layer's weights, then its
        // bias where it has one and backward stored its gradient
        let mut grads = Vec::new();
        let mut bias_step = Vec::new();
        for l in self.layers.iter_mut() {
            if let Layer::Dense(d) = l {
                let gw = d
                    .grad_w
                    .take()
                    .ok_or_else(|| Error::invalid("update", "call backward before update"))?;
                grads.push(gw);
                let gb = d.bias.as_ref().and(d.grad_b.take());
                bias_step.push(gb.is_some());
                grads.extend(gb);
            }
        }
        let mut steps = scaled(r, grads, lr)?.into_iter();
        let mut take = |i: usize| {
            steps.next().ok_or_else(|| {
                Error::internal("Sequential::update", format!("no step for layer {i}"))
            })
        };
        let mut bias_step = bias_step.into_iter();
        for (i, l) in self.layers.iter_mut().enumerate() {
            r.set_layer(Some(i + 1));
            if let Layer::Dense(d) = l {
                d.weights = r.add(&d.weights, &take(i)?)?;
                if bias_step.next() == Some(true)
                    && let Some(b) = &d.bias
                {
                    d.bias = Some(r.add(b, &take(i)?)?);
                }
            }
        }
        r.set_layer(None);
        Ok(())
    }

    /// All trainable tensors in order: each dense layer's weights, then its
    /// bias if it has one.
    pub fn parameters(&self) -> Vec<&R::Tensor> {
        let mut out = Vec::new();
        for l in &self.layers {
            if let Layer::Dense(d) = l {
                out.push(&d.weights);
                if let Some(b) = &d.bias {
                    out.push(b);
                }
            }
        }
        out
    }

    /// Replaces the trainable tensors (same order as [`parameters`](Self::parameters)).
    pub fn set_parameters(&mut self, params: Vec<R::Tensor>) -> Result<()> {
        let want = self.parameters().len();
        if params.len() != want {
            return Err(Error::invalid(
                "parameters",
                format!(
                    "the model has {want} parameter tensors, got {}",
                    params.len()
                ),
            ));
        }
        let mut it = params.into_iter();
        for l in self.layers.iter_mut() {
            if let Layer::Dense(d) = l {
                if let Some(w) = it.next() {
                    d.weights = w;
                }
                if d.bias.is_some() {
                    d.bias = it.next();
                }
            }
        }
        Ok(())
    }

    /// The weights of the `k`-th dense layer (0-based, counting dense layers only).
    pub fn dense(&self, k: usize) -> Option<&R::Tensor> {
        self.layers
            .iter()
            .filter_map(|l| match l {
                Layer::Dense(d) => Some(&d.weights),
                Layer::Activation(_) => None,
            })
            .nth(k)
    }

    /// Opens every dense layer's weights (and biases) to all parties, in
    /// layer order: an explicit disclosure of the model. All parameters are
    /// opened in one [`Open::open`] (exactly rounded to the output
    /// precision): one opening of [`num_parameters`](Self::num_parameters)
    /// values.
    pub fn reveal_parameters(&self, r: &mut R) -> Result<Vec<ArrayD<f64>>> {
        open_parameters(r, &self.parameters())
    }

    /// The number of parameters (weights and biases of every dense layer).
    pub fn num_parameters(&self, r: &R) -> usize {
        self.parameters()
            .iter()
            .map(|p| r.shape(p).iter().product::<usize>())
            .sum()
    }
}

/// lr · g for every gradient g: free for `lr == 1`, otherwise one
/// truncation of all of them together (flattened into one column, scaled,
/// cut back into their shapes), so a model's update is one communication
/// step whatever its depth.
fn scaled<R: Ring>(r: &mut R, grads: Vec<R::Tensor>, lr: f64) -> Result<Vec<R::Tensor>> {
    if lr == 1.0 || grads.is_empty() {
        return Ok(grads);
    }
    let bits = crate::fixed::coeff_bits_for(lr, r.frac_bits().unwrap_or(16));
    if let [g] = grads.as_slice() {
        return Ok(vec![r.lincomb_public(&[g], &[lr], bits)?]);
    }
    let shapes: Vec<Vec<usize>> = grads.iter().map(|g| r.shape(g).to_vec()).collect();
    let columns = grads
        .iter()
        .zip(&shapes)
        .map(|(g, s)| r.reshape(g, &[s.iter().product(), 1]))
        .collect::<Result<Vec<_>>>()?;
    drop(grads);
    let all = r.concat_rows(&columns.iter().collect::<Vec<_>>())?;
    drop(columns);
    let all = r.lincomb_public(&[&all], &[lr], bits)?;
    let mut start = 0;
    shapes
        .iter()
        .map(|s| {
            let len: usize = s.iter().product();
            let part = r.slice_rows(&all, start, start + len)?;
            start += len;
            r.reshape(&part, s)
        })
        .collect()
}

/// Opens `params` to every party in one [`Open::open`] (exactly rounded to
/// the output precision), each back in its own shape: one opening of all
/// their values.
pub(crate) fn open_parameters<R: Ring>(
    r: &mut R,
    params: &[&R::Tensor],
) -> Result<Vec<ArrayD<f64>>> {
    if params.is_empty() {
        return Ok(Vec::new());
    }
    let shapes: Vec<Vec<usize>> = params.iter().map(|p| r.shape(p).to_vec()).collect();
    let mut columns = Vec::with_capacity(params.len());
    for (p, shape) in params.iter().zip(&shapes) {
        columns.push(r.reshape(p, &[shape.iter().product(), 1])?);
    }
    let refs: Vec<&R::Tensor> = columns.iter().collect();
    let all = r.concat_rows(&refs)?;
    let opened = r.open(&all)?;
    let flat: Vec<f64> = opened.iter().copied().collect();
    let mut out = Vec::with_capacity(shapes.len());
    let mut pos = 0;
    for shape in shapes {
        let len: usize = shape.iter().product();
        let part = flat.get(pos..pos + len).ok_or_else(|| {
            Error::internal("reveal_parameters", "opened fewer values than parameters")
        })?;
        out.push(
            ArrayD::from_shape_vec(shape, part.to_vec())
                .map_err(|e| Error::internal("reveal_parameters", e.to_string()))?,
        );
        pos += len;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::{MlpSpec, mlp};
    use crate::{Plain, Ring};
    use ndarray::Array2;

    /// ½ Σ (y - net(x))² in f64.
    fn loss(net: &mut Sequential<Plain>, r: &mut Plain, x: &ArrayD<f64>, y: &ArrayD<f64>) -> f64 {
        let out = net.predict(r, x).unwrap();
        0.5 * y
            .iter()
            .zip(out.iter())
            .map(|(a, b)| (a - b) * (a - b))
            .sum::<f64>()
    }

    #[test]
    fn backward_matches_finite_differences_on_a_deep_relu_mlp() {
        let mut r = Plain::new();
        let spec = MlpSpec::parse("mlp:5,4", 3, 2).unwrap();
        let mut net = mlp(&mut r, &spec, 9).unwrap();
        let x =
            Array2::from_shape_fn((4, 3), |(i, j)| ((i * 3 + j) as f64 * 0.37).sin()).into_dyn();
        let y = Array2::from_shape_fn((4, 2), |(i, j)| ((i + j) % 2) as f64).into_dyn();
        let out = net.forward(&mut r, &x).unwrap();
        let delta = r.sub(&y, &out).unwrap();
        net.backward(&mut r, &delta).unwrap();
        let grads: Vec<ArrayD<f64>> = net
            .layers
            .iter()
            .filter_map(|l| match l {
                Layer::Dense(d) => d.grad_w.clone(),
                Layer::Activation(_) => None,
            })
            .collect();
        assert_eq!(grads.len(), 3);
        let h = 1e-6;
        for (k, g) in grads.iter().enumerate() {
            for idx in [0usize, 1, g.len() - 1] {
                let mut plus = mlp(&mut r, &spec, 9).unwrap();
                let mut minus = mlp(&mut r, &spec, 9).unwrap();
                for (net2, s) in [(&mut plus, h), (&mut minus, -h)] {
                    let mut seen = 0;
                    for l in net2.layers.iter_mut() {
                        if let Layer::Dense(d) = l {
                            if seen == k {
                                d.weights.as_slice_mut().unwrap()[idx] += s;
                            }
                            seen += 1;
                        }
                    }
                }
                let numeric = (loss(&mut plus, &mut r, &x, &y) - loss(&mut minus, &mut r, &x, &y))
                    / (2.0 * h);
                let analytic = -g.as_slice().unwrap()[idx];
                assert!(
                    (numeric - analytic).abs() < 1e-5,
                    "layer {k} weight {idx}: numeric {numeric}, backward {analytic}"
                );
            }
        }
    }
}
