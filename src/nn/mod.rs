//! Neural networks over any [`Ring`](crate::Ring): layers, models, losses,
//! optimisers and the tutorial's networks.
//!
//! Everything here is written once against the `Ring` trait and runs
//! unchanged in the clear (`Plain`), in visible fixed point (`Fixed`) or on
//! secret shares (`Shared`); the training loop never sees which.
//!
//! | piece | what |
//! |---|---|
//! | [`NetworkSpec`], [`LayerSpec`] | the typed model description: compact string (`conv:16k5,relu,maxpool:2,dense:10` with input `1x28x28`), serde (TOML/JSON, the model file), presets `network-a` … `network-d` with their layer tables; shape inference with errors naming the layer |
//! | [`Network`], [`Stage`], [`Module`] | the layers at run time: [`Dense`], [`Conv2d`], [`MaxPool2d`], [`AvgPool2d`], [`GlobalAvgPool`], [`Flatten`], activations ([`ActivationLayer`]), [`Softmax`]; batch normalisation folded into the layer before it when the model owner's parameters are loaded (training with batch statistics is not implemented) |
//! | [`Loss`] | the squared error and the softmax cross-entropy: error signal, the loss summed on shares or its opened mean, prediction |
//! | [`Optimizer`], [`OptimizerConfig`] | SGD, momentum, Adam, with secret state that is exported and imported with the weights ([`OptimizerState`]) |
//! | [`train_network`] | mini-batch training of a `Network` |
//! | [`regression_scores`], [`classification_accuracy`] | scores computed on shares, only the scores opened |
//! | [`Sequential`], [`mlp`], [`train_minibatch`] | the MLP path the `train` command uses today, and the tutorial's networks |
//!
//! # What is disclosed
//!
//! Every figure is computed under MPC and opened (as the few numbers the
//! table lists) to every party, exactly rounded to the output precision ([`Open::open`](crate::domain::Open::open)); nothing
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
//! | [`train_network`] | the mean loss per row of a batch ([`Loss::total`] / rows: one number) | every k-th batch with [`LossReport::EveryBatches`]`(k)` |
//! | [`train_network`] | the mean loss per row over all the call's batches (one number) | once, at the end, with [`LossReport::Total`] |
//! | [`Loss::value`] | the mean loss per row of the given outputs (one number) | when called |
//! | [`classification_accuracy`] | the number of rows whose largest output is the target's class (one number) | when called |
//! | [`regression_scores`] | the residual and the total sum of squares (two numbers, equivalent to RMSE and R² given the public row count) | when called |
//! | [`Network::reveal_parameters`] | every parameter, in one opening | when called (an explicit disclosure of the model) |
//!
//! Nothing else in this module opens a value: the layers, the softmax and
//! its gadgets, the losses' error signals and the optimisers (their state
//! included) compute on shares only.

mod conv;
pub mod init;
mod layers;
mod loss;
mod metrics;
mod mlp;
mod module;
mod network;
mod numpy_rng;
mod optim;
mod pool;
mod presets;
mod regularize;
mod sequential;
pub mod spec;
mod train;
mod trainer;

pub use conv::Conv2d;
pub use layers::{Activation, ActivationLayer, Dense, Layer, piecewise_sigmoid_f64};
pub use loss::{LOG_DEGREE, Loss};
pub use metrics::{RegressionScores, classification_accuracy, regression_scores};
pub use mlp::{MlpSpec, mlp, mlp_with_parameters};
pub use module::{Flatten, Module, Softmax};
pub use network::{Network, Stage, folded_spec};
pub use numpy_rng::NumpyRandom;
pub use optim::{AdamConfig, Optimizer, OptimizerConfig, OptimizerState};
pub use pool::{AvgPool2d, GlobalAvgPool, MaxPool2d};
pub use presets::{MODEL_OWNER, input_weights, three_layer, two_layer};
pub use regularize::WeightDecay;
pub use sequential::Sequential;
pub use spec::{LayerSpec, NetworkSpec, parse_shape};
pub use train::{
    BatchReport, ErrorReport, FullBatch, LossReport, MiniBatch, abs_error_total, accuracy,
    mean_abs_error, mean_square, squared_error_total, train_full_batch, train_minibatch,
};
pub use trainer::{Schedule, train_network};
