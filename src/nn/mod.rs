//! Neural networks over any [`Ring`](crate::Ring): layers, a sequential
//! model with forward, backward and update, and the tutorial's networks.
//!
//! Everything here is written once against the `Ring` trait and runs
//! unchanged in the clear (`Plain`), in visible fixed point (`Fixed`) or on
//! secret shares (`Shared`); the training loop never sees which.

pub mod init;
mod layers;
mod mlp;
mod numpy_rng;
mod presets;
mod regularize;
mod sequential;
mod train;

pub use layers::{Activation, ActivationLayer, Dense, Layer, piecewise_sigmoid_f64};
pub use mlp::{MlpSpec, mlp, mlp_with_parameters};
pub use numpy_rng::NumpyRandom;
pub use presets::{MODEL_OWNER, input_weights, three_layer, two_layer};
pub use regularize::WeightDecay;
pub use sequential::Sequential;
pub use train::{
    BatchReport, ErrorReport, FullBatch, LossReport, MiniBatch, abs_error_total, accuracy,
    mean_abs_error, mean_square, squared_error_total, train_full_batch, train_minibatch,
};
