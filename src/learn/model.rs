//! What a user asks to train before the table's shape is known: the model
//! ([`ModelChoice`]), the task ([`Task`]) and the optimiser
//! ([`OptimizerKind`]).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::data::Dataset;
use crate::error::{Error, LayerProblem, Result};
use crate::keyword::keyword_enum;
use crate::model_file::Architecture;
use crate::nn::{LayerSpec, MlpSpec, NetworkSpec, OptimizerConfig, parse_shape};

/// The model a user asks for before the table's shape is known: the hidden
/// layers of an MLP (`mlp:64,32`; `linear` or `mlp:` for none), or any
/// network in the compact string of [`NetworkSpec`] (`conv:8k5,maxpool:2,
/// relu,dense:10`), optionally with its input shape after `@`
/// (`...,dense:10@1x28x28`), or a preset (`network-a` ... `network-d`).
///
/// A network without an input shape takes the table's features as they
/// are, or, when its first layer wants an image, as one square channel
/// (784 features: 1 x 28 x 28, the C-order rows of MNIST).
///
/// # Examples
///
/// ```
/// use privml::learn::ModelChoice;
///
/// let m: ModelChoice = "mlp:64,32".parse().unwrap();
/// assert_eq!(m.to_string(), "mlp:64,32");
/// assert_eq!(m.architecture(784, 10).unwrap().to_string(), "784-64-32-10");
/// assert_eq!("linear".parse::<ModelChoice>().unwrap().to_string(), "linear");
/// let cnn: ModelChoice = "conv:4k5,maxpool:2,relu,dense:10".parse().unwrap();
/// assert_eq!(cnn.architecture(784, 10).unwrap().to_string(), "1x28x28: conv:4k5,maxpool:2,relu,dense:10");
/// // the output must be one value per target column
/// assert!(cnn.architecture(784, 3).unwrap_err().to_string().contains("3 target columns"));
/// let c: ModelChoice = "network-c".parse().unwrap();
/// assert!(c.to_string().ends_with("dense:10@1x28x28"));
/// assert!("cnn:3".parse::<ModelChoice>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ModelChoice {
    /// Dense layers of these widths with ReLU, then a linear output layer.
    Mlp {
        /// Hidden layer widths.
        hidden: Vec<usize>,
    },
    /// A network of [`nn`](crate::nn) layers.
    Network {
        /// The layers, first to last.
        layers: Vec<LayerSpec>,
        /// The shape of one row, if given.
        input: Option<Vec<usize>>,
    },
}

impl ModelChoice {
    /// The architecture for `inputs` features and `outputs` target columns.
    /// Fails if a network's input shape does not hold `inputs` values, its
    /// layers do not chain ([`Error::Layer`] naming the layer) or its output
    /// is not `outputs` values.
    pub fn architecture(&self, inputs: usize, outputs: usize) -> Result<Architecture> {
        match self {
            ModelChoice::Mlp { hidden } => Ok(Architecture::Mlp(MlpSpec {
                inputs,
                hidden: hidden.clone(),
                outputs,
            })),
            ModelChoice::Network { layers, input } => {
                let input = match input {
                    Some(shape) => shape.clone(),
                    None => inferred_input(layers, inputs)?,
                };
                if input.iter().product::<usize>() != inputs {
                    return Err(Error::invalid(
                        "model",
                        format!(
                            "the input shape {} holds {} values, the table has {inputs} features",
                            shape_string(&input),
                            input.iter().product::<usize>()
                        ),
                    ));
                }
                let spec = NetworkSpec {
                    input,
                    layers: layers.clone(),
                };
                let out = spec.output_shape()?;
                if out != [outputs] {
                    return Err(Error::Layer {
                        index: layers.len(),
                        layer: layers.last().map(|l| l.to_string()).unwrap_or_default(),
                        problem: LayerProblem::OutputDoesNotMatchTargets {
                            output: out,
                            targets: outputs,
                        },
                    });
                }
                Ok(Architecture::Network(spec))
            }
        }
    }

    /// Whether this is an MLP (the classic path of `privml train`).
    pub fn is_mlp(&self) -> bool {
        matches!(self, ModelChoice::Mlp { .. })
    }
}

/// 1 x s x s for s² features when the first layer wants an image, else the
/// features as they are.
fn inferred_input(layers: &[LayerSpec], inputs: usize) -> Result<Vec<usize>> {
    let wants_image = matches!(
        layers.first(),
        Some(
            LayerSpec::Conv2d { .. }
                | LayerSpec::MaxPool2d { .. }
                | LayerSpec::AvgPool2d { .. }
                | LayerSpec::GlobalAvgPool
        )
    );
    if !wants_image {
        return Ok(vec![inputs]);
    }
    let side = (inputs as f64).sqrt().round() as usize;
    if side * side != inputs {
        return Err(Error::invalid(
            "model",
            format!(
                "the first layer wants an image and {inputs} features are not one square \
                 channel: give the input shape after '@' (e.g. 'conv:8k3,...@3x32x32')"
            ),
        ));
    }
    Ok(vec![1, side, side])
}

fn shape_string(shape: &[usize]) -> String {
    let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
    dims.join("x")
}

impl Default for ModelChoice {
    /// One hidden layer of 64 units.
    fn default() -> Self {
        ModelChoice::Mlp { hidden: vec![64] }
    }
}

impl FromStr for ModelChoice {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let s = s.trim();
        if s == "linear" || s.starts_with("mlp:") {
            let spec = MlpSpec::parse(s, 0, 0)?;
            return Ok(ModelChoice::Mlp {
                hidden: spec.hidden,
            });
        }
        if NetworkSpec::PRESETS.contains(&s) {
            let spec = NetworkSpec::preset(s)?;
            return Ok(ModelChoice::Network {
                layers: spec.layers,
                input: Some(spec.input),
            });
        }
        let (layers, input) = match s.split_once('@') {
            Some((layers, shape)) => (layers, Some(parse_shape(shape.trim())?)),
            None => (s, None),
        };
        let layers = layers
            .split(',')
            .filter(|t| !t.trim().is_empty())
            .map(|t| LayerSpec::parse(t.trim()))
            .collect::<Result<Vec<_>>>()
            .map_err(|e| {
                Error::invalid(
                    "model",
                    format!(
                        "'{s}': {e} (models: mlp:W1,W2,..., linear, {}, or layers such as \
                         conv:8k5,maxpool:2,relu,dense:10)",
                        NetworkSpec::PRESETS.join(", ")
                    ),
                )
            })?;
        if layers.is_empty() {
            return Err(Error::invalid("model", format!("'{s}': no layers")));
        }
        Ok(ModelChoice::Network { layers, input })
    }
}

impl fmt::Display for ModelChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelChoice::Mlp { hidden } if hidden.is_empty() => f.write_str("linear"),
            ModelChoice::Mlp { hidden } => {
                let w: Vec<String> = hidden.iter().map(usize::to_string).collect();
                write!(f, "mlp:{}", w.join(","))
            }
            ModelChoice::Network { layers, input } => {
                let spec = NetworkSpec {
                    input: input.clone().unwrap_or_default(),
                    layers: layers.clone(),
                };
                write!(f, "{spec}")?;
                match input {
                    Some(shape) => write!(f, "@{}", shape_string(shape)),
                    None => Ok(()),
                }
            }
        }
    }
}

/// What the target column is for.
///
/// # Examples
///
/// ```
/// use privml::data::Bundled;
/// use privml::learn::Task;
///
/// assert_eq!("regression".parse::<Task>().unwrap(), Task::Regression);
/// let (task, why) = Task::detect(&Bundled::Diabetes.load().unwrap());
/// assert_eq!(task, Task::Regression);
/// assert!(why.contains("not class labels"));
/// assert_eq!(Task::detect(&Bundled::BreastCancer.load().unwrap()).0, Task::Classification);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Task {
    /// Class labels 0, 1, ...: one output per class (one score for two
    /// classes on the MLP's classic path), accuracy.
    Classification,
    /// A continuous target: one output, identity, the squared error, RMSE
    /// and R².
    Regression,
}

keyword_enum!(Task, "task", {
    Classification => "classification" | "classify",
    Regression => "regression" | "regress",
});

/// A target column of class labels 0..k-1 is taken as classes, when no task
/// is named, only for k up to this (a larger k is a count or a score).
pub const MAX_DETECTED_CLASSES: usize = 100;

impl Task {
    /// The task for `ds`'s target column when the user named none, and why:
    /// classification when every target is a class label 0..k-1 with k ≤
    /// [`MAX_DETECTED_CLASSES`], regression otherwise.
    pub fn detect(ds: &Dataset) -> (Task, String) {
        let target = ds.target_name();
        match ds.n_classes() {
            Some(k) if k <= MAX_DETECTED_CLASSES => (
                Task::Classification,
                format!(
                    "the target column '{target}' holds class labels 0..{}",
                    k - 1
                ),
            ),
            Some(k) => (
                Task::Regression,
                format!(
                    "the target column '{target}' holds integers up to {} (more than \
                     {MAX_DETECTED_CLASSES} classes), taken as not class labels",
                    k - 1
                ),
            ),
            None => (
                Task::Regression,
                format!("the target column '{target}' holds values that are not class labels"),
            ),
        }
    }
}

/// Which optimiser `privml train` uses, by keyword; the learning rate is
/// the run's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OptimizerKind {
    /// Plain SGD.
    #[default]
    Sgd,
    /// SGD with momentum 0.9.
    Momentum,
    /// Adam (β₁ 0.9, β₂ 0.999; see [`AdamConfig`](crate::nn::AdamConfig)).
    Adam,
}

keyword_enum!(OptimizerKind, "optimizer", {
    Sgd => "sgd",
    Momentum => "momentum",
    Adam => "adam",
});

impl OptimizerKind {
    /// The optimiser with learning rate `lr` ([`OptimizerConfig::named`]).
    pub fn config(self, lr: f64) -> Result<OptimizerConfig> {
        OptimizerConfig::named(&self.to_string(), lr)
    }
}
