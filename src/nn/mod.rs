//! Neural networks over any [`Ring`](crate::Ring): layers, a sequential
//! model with forward, backward and update, and the tutorial's networks.
//!
//! Everything here is written once against the `Ring` trait and runs
//! unchanged in the clear (`Plain`), in visible fixed point (`Fixed`) or on
//! secret shares (`Shared`); the training loop never sees which.
//!
//! # What is disclosed
//!
//! Every figure is computed under MPC and opened as one number to every
//! party, exactly rounded to the output precision ([`Open::open`](crate::domain::Open::open)); nothing
//! else of the training data, the targets or the model is opened here.
//!
//! | function | opens to every party | when |
//! |---|---|---|
//! | [`train_full_batch`] | the mean absolute error Σ\|y − output\| / n (one number) | every `report_every` iterations (never if 0) |
//! | [`train_minibatch`] | the mean squared error of a batch (one number) | every k-th batch with [`LossReport::EveryBatches`]`(k)` |
//! | [`train_minibatch`] | the mean squared error over all the call's batches (one number) | once, at the end, with [`LossReport::Total`] |
//! | [`mean_square`], [`mean_abs_error`] | the error of the given residual (one number) | when called |
//! | [`accuracy`] | the number of correct predictions (one number) | when called |
//! | [`Sequential::reveal_parameters`] | every weight and bias, in one opening | when called (an explicit disclosure of the model) |

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
