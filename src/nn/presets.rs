//! The tutorial's networks, with its exact initial weights.

use ndarray::{Array2, ArrayD};

use super::layers::{Activation, Dense, Layer};
use super::numpy_rng::NumpyRandom;
use super::sequential::Sequential;
use crate::domain::{PartyId, Ring};
use crate::error::Result;

/// The party that owns (and inputs) the initial model weights.
pub const MODEL_OWNER: PartyId = 0;

/// Inputs a public-by-construction weight matrix as the model owner's
/// private input: afterwards no party but the owner knows it, and the owner
/// only knows the starting point.
pub fn input_weights<R: Ring>(r: &mut R, w: &Array2<f64>) -> Result<R::Tensor> {
    let w: ArrayD<f64> = w.clone().into_dyn();
    let value = if r.owns(MODEL_OWNER) { Some(&w) } else { None };
    r.input(MODEL_OWNER, value, w.shape())
}

/// The tutorial's `TwoLayerNetwork`: 3 → 1, no bias, then a sigmoid
/// approximation; weights `np.random.seed(seed); 2 * random((3, 1)) - 1`.
pub fn two_layer<R: Ring>(r: &mut R, activation: Activation, seed: u32) -> Result<Sequential<R>> {
    let mut g = NumpyRandom::seed(seed);
    let w0 = input_weights(r, &g.symmetric(3, 1))?;
    Ok(Sequential::new(vec![
        Layer::Dense(Dense::new(w0, None)),
        Layer::activation(activation),
    ]))
}

/// The tutorial's `ThreeLayerNetwork`: 3 → 4 → 1, no biases, sigmoid
/// approximations after both; weights `np.random.seed(seed)`, then
/// `2 * random((3, 4)) - 1` and `2 * random((4, 1)) - 1`.
pub fn three_layer<R: Ring>(r: &mut R, activation: Activation, seed: u32) -> Result<Sequential<R>> {
    let mut g = NumpyRandom::seed(seed);
    let (a, b) = (g.symmetric(3, 4), g.symmetric(4, 1));
    let w0 = input_weights(r, &a)?;
    let w1 = input_weights(r, &b)?;
    Ok(Sequential::new(vec![
        Layer::Dense(Dense::new(w0, None)),
        Layer::activation(activation.clone()),
        Layer::Dense(Dense::new(w1, None)),
        Layer::activation(activation),
    ]))
}
