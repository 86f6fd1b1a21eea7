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
//! | [`Loss`] | the squared error and the softmax cross-entropy: error signal, revealed value, prediction |
//! | [`Optimizer`], [`OptimizerConfig`] | SGD, momentum, Adam, with secret state that is exported and imported with the weights ([`OptimizerState`]) |
//! | [`train_network`] | mini-batch training of a `Network` |
//! | [`regression_scores`], [`classification_accuracy`] | scores computed on shares, only the scores opened |
//! | [`Sequential`], [`mlp`], [`train_minibatch`] | the MLP path the `train` command uses today, and the tutorial's networks |

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
mod spec;
mod train;
mod trainer;

pub use conv::Conv2d;
pub use layers::{Activation, ActivationLayer, Dense, Layer, piecewise_sigmoid_f64};
pub use loss::{LOG_DEGREE, Loss};
pub use metrics::{RegressionScores, classification_accuracy, regression_scores};
pub use mlp::{MlpSpec, mlp, mlp_with_parameters};
pub use module::{Flatten, Module, Softmax};
pub use network::{Network, Stage};
pub use numpy_rng::NumpyRandom;
pub use optim::{AdamConfig, Optimizer, OptimizerConfig, OptimizerState};
pub use pool::{AvgPool2d, GlobalAvgPool, MaxPool2d};
pub use presets::{MODEL_OWNER, input_weights, three_layer, two_layer};
pub use regularize::WeightDecay;
pub use sequential::Sequential;
pub use spec::{LayerSpec, NetworkSpec, parse_shape};
pub use train::{
    BatchReport, ErrorReport, FullBatch, MiniBatch, accuracy, mean_square, train_full_batch,
    train_minibatch,
};
pub use trainer::{Schedule, train_network};
