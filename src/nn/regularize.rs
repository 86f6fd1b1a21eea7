//! Regularisation of the optimiser step.

use super::{Layer, Sequential};
use crate::domain::Ring;
use crate::error::{Error, Result};

/// Weight decay (L2 regularisation, decoupled from the gradient): after a
/// step with learning rate lr, every dense layer's weights, not its biases,
/// are multiplied by 1 − lr · λ.
///
/// It keeps weights, and so pre-activations, from growing without bound:
/// that matters for a polynomial activation, accurate only on its interval
/// and divergent beyond it.
///
/// # Examples
///
/// ```
/// use ndarray::arr2;
/// use privml::nn::{Dense, Layer, Sequential, WeightDecay};
/// use privml::{Plain, Ring};
///
/// let mut r = Plain::new();
/// let w = r.constant(&arr2(&[[1.0, -2.0]]).into_dyn())?;
/// let b = r.constant(&arr2(&[[4.0, 4.0]]).into_dyn())?;
/// let mut net = Sequential::new(vec![Layer::Dense(Dense::new(w, Some(b)))]);
/// let decay = WeightDecay::new(0.5, 0.2)?; // λ = 0.2 at lr = 0.5: ×0.9
/// decay.apply(&mut r, &mut net)?;
/// let p = net.reveal_parameters(&mut r)?;
/// assert_eq!(p[0].iter().copied().collect::<Vec<_>>(), [0.9, -1.8]);
/// assert_eq!(p[1].iter().copied().collect::<Vec<_>>(), [4.0, 4.0]); // biases untouched
/// assert!(WeightDecay::new(0.5, 2.0).is_err()); // lr · λ ≥ 1 would flip or zero the weights
/// # Ok::<(), privml::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WeightDecay {
    factor: f64,
}

impl WeightDecay {
    /// Decay λ = `lambda` per unit of learning rate `lr`: λ ≥ 0 and
    /// lr · λ < 1 (a larger product would zero or flip the weights).
    pub fn new(lr: f64, lambda: f64) -> Result<Self> {
        if !(lambda >= 0.0 && lr * lambda < 1.0) {
            return Err(Error::invalid(
                "weight_decay",
                format!("{lambda} is not in [0, 1/lr)"),
            ));
        }
        Ok(WeightDecay {
            factor: 1.0 - lr * lambda,
        })
    }

    /// The factor 1 − lr · λ the weights are multiplied by.
    pub fn factor(&self) -> f64 {
        self.factor
    }

    /// Multiplies every dense layer's weights by the factor (nothing to do
    /// for λ = 0). One public scaling per layer: a truncation in the
    /// fixed-point domains, as for the learning rate in
    /// [`Sequential::update`].
    pub fn apply<R: Ring>(&self, r: &mut R, net: &mut Sequential<R>) -> Result<()> {
        if self.factor == 1.0 {
            return Ok(());
        }
        let bits = crate::fixed::coeff_bits_for(self.factor, r.frac_bits().unwrap_or(16));
        r.set_label("weight decay");
        for l in net.layers.iter_mut() {
            if let Layer::Dense(d) = l {
                d.weights = r.lincomb_public(&[&d.weights], &[self.factor], bits)?;
            }
        }
        Ok(())
    }
}
