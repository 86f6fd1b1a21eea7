//! The typed model description: one [`NetworkSpec`] (an input shape and a
//! list of [`LayerSpec`]s) covers MLPs and CNNs. It is written as a compact
//! string, read from TOML or JSON through serde, or named as a preset, and
//! the model file stores it as typed data.
//!
//! # The compact string
//!
//! Layers separated by commas; the input shape is given separately
//! (`1x28x28` for an image of one channel, `30` for 30 features).
//!
//! | token | layer |
//! |---|---|
//! | `dense:100`, `dense:100/nobias` | [`LayerSpec::Dense`]: an affine map to 100 outputs (an image input is flattened first, in C order) |
//! | `conv:16k5`, `conv:5k5s2p2`, `conv:8k3x5s1x2p1x2/nobias` | [`LayerSpec::Conv2d`]: 16 output channels, kernel 5 (or 3 x 5), stride `s` (default 1), zero padding `p` (default 0) |
//! | `maxpool:2`, `maxpool:3s2` | [`LayerSpec::MaxPool2d`]: kernel 2, stride (default: the kernel) |
//! | `avgpool:2` | [`LayerSpec::AvgPool2d`] |
//! | `gap` | [`LayerSpec::GlobalAvgPool`] |
//! | `flatten` | [`LayerSpec::Flatten`] |
//! | `batchnorm`, `batchnorm:1e-3` | [`LayerSpec::BatchNorm`] (inference; folded into the layer before it) |
//! | `relu` | [`LayerSpec::Relu`] |
//! | `hardsigmoid`, `hardsigmoid:0.25` | [`LayerSpec::HardSigmoid`]: clip(slope·x + 1/2, 0, 1) |
//! | `sigmoid`, `sigmoid:10d9` | [`LayerSpec::Sigmoid`]: the Chebyshev polynomial of degree 9 on [-10, 10] |
//! | `softmax` | [`LayerSpec::Softmax`] over the features of each row |
//!
//! # Presets
//!
//! The networks of the SecureML / SecureNN / Falcon benchmark suite, on
//! MNIST (input 1 x 28 x 28; SecureNN's numbering, as in MP-SPDZ's
//! `Programs/Source/mnist_full_{A,B,C,D}.mpc`). As there, the max pooling
//! comes before the ReLU, which gives the same function (ReLU and max
//! commute) with four times fewer comparisons in the ReLU.
//!
//! | preset | layers | output shapes | parameters |
//! |---|---|---|---|
//! | `network-a` (SecureML) | dense:128, relu, dense:128, relu, dense:10 | 128, 128, 10 | 118,282 |
//! | `network-b` (MiniONN) | conv:16k5, maxpool:2, relu, conv:16k5, maxpool:2, relu, dense:100, relu, dense:10 | 16x24x24, 16x12x12, 16x8x8, 16x4x4, 100, 10 | 10,626 |
//! | `network-c` (LeNet) | conv:20k5, maxpool:2, relu, conv:50k5, maxpool:2, relu, dense:500, relu, dense:10 | 20x24x24, 20x12x12, 50x8x8, 50x4x4, 500, 10 | 431,080 |
//! | `network-d` (Chameleon) | conv:5k5s2p2, relu, dense:100, relu, dense:10 | 5x14x14, 100, 10 | 99,340 |
//!
//! (MP-SPDZ's network D uses TensorFlow's `SAME` padding, which pads 1 row
//! above and 2 below; symmetric padding 2 gives the same 14 x 14 output.)
//!
//! # Examples
//!
//! ```
//! use privml::nn::NetworkSpec;
//!
//! let spec = NetworkSpec::parse("conv:16k5,relu,maxpool:2,dense:10", "1x28x28")?;
//! assert_eq!(spec.output_shapes()?, vec![vec![16, 24, 24], vec![16, 24, 24], vec![16, 12, 12], vec![10]]);
//! assert_eq!(spec.to_string(), "conv:16k5,relu,maxpool:2,dense:10");
//! assert_eq!(NetworkSpec::preset("network-c")?.parameter_count()?, 431_080);
//! // a pooling window that does not tile its input names the layer
//! let bad = NetworkSpec::parse("conv:16k5,maxpool:5", "1x28x28")?;
//! assert!(bad.output_shapes().unwrap_err().to_string().starts_with("layer 2 (maxpool:5)"));
//! # Ok::<(), privml::Error>(())
//! ```

use std::fmt;

use serde::{Deserialize, Serialize};

use super::mlp::MlpSpec;
use crate::domain::Window2d;
use crate::error::{Error, LayerProblem, Result};

/// One layer of a [`NetworkSpec`]: what it computes, not its parameters.
/// Each variant is one ONNX operator (`Gemm`, `Conv`, `MaxPool`,
/// `AveragePool`, `GlobalAveragePool`, `Flatten`, `BatchNormalization`,
/// `Relu`, `HardSigmoid`, `Sigmoid`, `Softmax`), so an importer maps them
/// one to one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LayerSpec {
    /// y = x·W + b with W of shape [inputs, outputs] and b of shape
    /// [1, outputs]; an image input is flattened first (C order).
    Dense {
        /// Output features.
        outputs: usize,
        /// Whether the layer has a bias.
        #[serde(default = "yes")]
        bias: bool,
    },
    /// A 2-D convolution of an input [c, h, w] with weights
    /// [channels, c, kh, kw] (and a bias [1, channels]).
    Conv2d {
        /// Output channels.
        channels: usize,
        /// Kernel rows and columns.
        kernel: [usize; 2],
        /// Stride.
        #[serde(default = "ones")]
        stride: [usize; 2],
        /// Zero padding on each side.
        #[serde(default)]
        padding: [usize; 2],
        /// Whether the layer has a bias.
        #[serde(default = "yes")]
        bias: bool,
    },
    /// The maximum over each window (no padding; the windows must tile the
    /// input).
    MaxPool2d {
        /// Window rows and columns.
        kernel: [usize; 2],
        /// Stride.
        stride: [usize; 2],
    },
    /// The mean over each window (no padding; the windows must tile the
    /// input).
    AvgPool2d {
        /// Window rows and columns.
        kernel: [usize; 2],
        /// Stride.
        stride: [usize; 2],
    },
    /// The mean of each channel: [c, h, w] to [c, 1, 1].
    GlobalAvgPool,
    /// [c, h, w] to [c·h·w] (C order).
    Flatten,
    /// Batch normalisation with fixed statistics (inference): per channel
    /// (x - mean)·scale/√(variance + ε) + shift, folded into the affine
    /// layer before it when the parameters are given. Training with batch
    /// statistics is not implemented.
    BatchNorm {
        /// ε added to the variance.
        epsilon: f64,
    },
    /// max(x, 0).
    Relu,
    /// clip(slope·x + 1/2, 0, 1), by two comparisons.
    HardSigmoid {
        /// The slope (1/4 matches σ'(0)).
        slope: f64,
    },
    /// The sigmoid by its Chebyshev interpolant on [-interval, interval].
    Sigmoid {
        /// Half-width of the interval.
        interval: f64,
        /// Degree (odd).
        degree: usize,
    },
    /// The softmax over the features of each row.
    Softmax,
}

fn yes() -> bool {
    true
}

fn ones() -> [usize; 2] {
    [1, 1]
}

/// "5" for a square pair, "3x5" otherwise.
fn pair(v: [usize; 2]) -> String {
    if v[0] == v[1] {
        v[0].to_string()
    } else {
        format!("{}x{}", v[0], v[1])
    }
}

impl fmt::Display for LayerSpec {
    /// The layer's token in the compact string.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nobias = |b: bool| if b { "" } else { "/nobias" };
        match self {
            LayerSpec::Dense { outputs, bias } => write!(f, "dense:{outputs}{}", nobias(*bias)),
            LayerSpec::Conv2d {
                channels,
                kernel,
                stride,
                padding,
                bias,
            } => {
                write!(f, "conv:{channels}k{}", pair(*kernel))?;
                if *stride != [1, 1] {
                    write!(f, "s{}", pair(*stride))?;
                }
                if *padding != [0, 0] {
                    write!(f, "p{}", pair(*padding))?;
                }
                f.write_str(nobias(*bias))
            }
            LayerSpec::MaxPool2d { kernel, stride } | LayerSpec::AvgPool2d { kernel, stride } => {
                let name = if matches!(self, LayerSpec::MaxPool2d { .. }) {
                    "maxpool"
                } else {
                    "avgpool"
                };
                write!(f, "{name}:{}", pair(*kernel))?;
                if stride != kernel {
                    write!(f, "s{}", pair(*stride))?;
                }
                Ok(())
            }
            LayerSpec::GlobalAvgPool => f.write_str("gap"),
            LayerSpec::Flatten => f.write_str("flatten"),
            LayerSpec::BatchNorm { epsilon } => write!(f, "batchnorm:{epsilon:e}"),
            LayerSpec::Relu => f.write_str("relu"),
            LayerSpec::HardSigmoid { slope } => write!(f, "hardsigmoid:{slope}"),
            LayerSpec::Sigmoid { interval, degree } => write!(f, "sigmoid:{interval}d{degree}"),
            LayerSpec::Softmax => f.write_str("softmax"),
        }
    }
}

/// Reads a number for `what` in `token`.
fn number<T: std::str::FromStr>(s: &str, what: &str, token: &str) -> Result<T> {
    s.trim()
        .parse()
        .map_err(|_| Error::invalid("model", format!("'{s}' is not a valid {what} in '{token}'")))
}

/// "5" or "3x5".
fn parse_pair(s: &str, what: &str, token: &str) -> Result<[usize; 2]> {
    match s.split_once('x') {
        Some((a, b)) => Ok([number(a, what, token)?, number(b, what, token)?]),
        None => {
            let v = number(s, what, token)?;
            Ok([v, v])
        }
    }
}

/// Splits "16k5s2p2" at the markers, in order: ("16", {k: "5", s: "2", p: "2"}).
fn split_markers<'a>(s: &'a str, markers: &[char], token: &str) -> Result<Vec<Option<&'a str>>> {
    let mut out = vec![None; markers.len() + 1];
    let mut rest = s;
    let mut slot = 0;
    loop {
        let next = rest
            .char_indices()
            .find_map(|(i, c)| markers.iter().position(|m| *m == c).map(|k| (i, k)));
        match next {
            Some((i, k)) if k + 1 > slot => {
                out[slot] = Some(&rest[..i]);
                slot = k + 1;
                rest = &rest[i + 1..];
            }
            Some(_) => {
                return Err(Error::invalid(
                    "model",
                    format!("'{token}': the parts {markers:?} must come once each, in that order"),
                ));
            }
            None => {
                out[slot] = Some(rest);
                return Ok(out);
            }
        }
    }
}

impl LayerSpec {
    /// Parses one token of the compact string (see the [module
    /// documentation](self)).
    ///
    /// # Examples
    ///
    /// ```
    /// use privml::nn::LayerSpec;
    ///
    /// let conv = LayerSpec::parse("conv:5k5s2p2")?;
    /// assert_eq!(conv, LayerSpec::Conv2d { channels: 5, kernel: [5, 5], stride: [2, 2], padding: [2, 2], bias: true });
    /// assert_eq!(LayerSpec::parse("maxpool:2")?, LayerSpec::MaxPool2d { kernel: [2, 2], stride: [2, 2] });
    /// assert!(LayerSpec::parse("conv:16").is_err());
    /// # Ok::<(), privml::Error>(())
    /// ```
    pub fn parse(token: &str) -> Result<Self> {
        let token = token.trim();
        let (body, nobias) = match token.strip_suffix("/nobias") {
            Some(b) => (b, true),
            None => (token, false),
        };
        let (name, arg) = match body.split_once(':') {
            Some((n, a)) => (n.trim(), Some(a.trim())),
            None => (body, None),
        };
        let bad = |why: &str| Error::invalid("model", format!("'{token}': {why}"));
        let no_arg = |spec: LayerSpec| match arg {
            None => Ok(spec),
            Some(_) => Err(bad("takes no argument")),
        };
        let spec = match name {
            "dense" | "fc" | "linear" => LayerSpec::Dense {
                outputs: number(
                    arg.ok_or_else(|| bad("needs a width, e.g. dense:100"))?,
                    "width",
                    token,
                )?,
                bias: !nobias,
            },
            "conv" | "conv2d" => {
                let arg = arg.ok_or_else(|| bad("needs channels and a kernel, e.g. conv:16k5"))?;
                let parts = split_markers(arg, &['k', 's', 'p'], token)?;
                let kernel = parts[1].ok_or_else(|| bad("needs a kernel, e.g. conv:16k5"))?;
                LayerSpec::Conv2d {
                    channels: number(parts[0].unwrap_or(""), "channel count", token)?,
                    kernel: parse_pair(kernel, "kernel", token)?,
                    stride: parts[2].map_or(Ok([1, 1]), |s| parse_pair(s, "stride", token))?,
                    padding: parts[3].map_or(Ok([0, 0]), |s| parse_pair(s, "padding", token))?,
                    bias: !nobias,
                }
            }
            "maxpool" | "avgpool" => {
                let arg = arg.ok_or_else(|| bad("needs a window, e.g. maxpool:2"))?;
                let parts = split_markers(arg, &['s'], token)?;
                let kernel = parse_pair(parts[0].unwrap_or(""), "window", token)?;
                let stride = parts[1].map_or(Ok(kernel), |s| parse_pair(s, "stride", token))?;
                if name == "maxpool" {
                    LayerSpec::MaxPool2d { kernel, stride }
                } else {
                    LayerSpec::AvgPool2d { kernel, stride }
                }
            }
            "gap" | "globalavgpool" => no_arg(LayerSpec::GlobalAvgPool)?,
            "flatten" => no_arg(LayerSpec::Flatten)?,
            "relu" => no_arg(LayerSpec::Relu)?,
            "softmax" => no_arg(LayerSpec::Softmax)?,
            "batchnorm" | "bn" => LayerSpec::BatchNorm {
                epsilon: arg.map_or(Ok(1e-5), |a| number(a, "epsilon", token))?,
            },
            "hardsigmoid" => LayerSpec::HardSigmoid {
                slope: arg.map_or(Ok(0.25), |a| number(a, "slope", token))?,
            },
            "sigmoid" => match arg {
                None => LayerSpec::Sigmoid {
                    interval: 10.0,
                    degree: 9,
                },
                Some(a) => {
                    let (i, d) = a
                        .split_once('d')
                        .ok_or_else(|| bad("write sigmoid:INTERVALdDEGREE, e.g. sigmoid:10d9"))?;
                    LayerSpec::Sigmoid {
                        interval: number(i, "interval", token)?,
                        degree: number(d, "degree", token)?,
                    }
                }
            },
            _ => {
                return Err(bad(
                    "unknown layer (dense, conv, maxpool, avgpool, gap, flatten, batchnorm, relu, hardsigmoid, sigmoid, softmax)",
                ));
            }
        };
        if nobias && !matches!(spec, LayerSpec::Dense { .. } | LayerSpec::Conv2d { .. }) {
            return Err(bad("only dense and conv layers have a bias"));
        }
        spec.check_values().map_err(|why| bad(&why))?;
        Ok(spec)
    }

    /// Values that make no sense whatever the input (zero sizes, a
    /// non-finite slope), as a reason.
    fn check_values(&self) -> std::result::Result<(), String> {
        let positive = |v: &[usize], what: &str| {
            if v.contains(&0) {
                Err(format!("the {what} must be at least 1"))
            } else {
                Ok(())
            }
        };
        match self {
            LayerSpec::Dense { outputs, .. } => positive(&[*outputs], "width"),
            LayerSpec::Conv2d {
                channels,
                kernel,
                stride,
                ..
            } => {
                positive(&[*channels], "channel count")?;
                positive(kernel, "kernel")?;
                positive(stride, "stride")
            }
            LayerSpec::MaxPool2d { kernel, stride } | LayerSpec::AvgPool2d { kernel, stride } => {
                positive(kernel, "window")?;
                positive(stride, "stride")
            }
            LayerSpec::BatchNorm { epsilon } if !(*epsilon > 0.0 && epsilon.is_finite()) => {
                Err("epsilon must be positive".to_string())
            }
            LayerSpec::HardSigmoid { slope } if !(*slope > 0.0 && slope.is_finite()) => {
                Err("the slope must be positive".to_string())
            }
            LayerSpec::Sigmoid { interval, degree }
                if !(*interval > 0.0 && interval.is_finite())
                    || *degree % 2 == 0
                    || *degree > 15 =>
            {
                Err("needs a positive interval and an odd degree of at most 15".to_string())
            }
            _ => Ok(()),
        }
    }

    /// The window of a convolution or pooling layer.
    pub(crate) fn window(&self) -> Option<Window2d> {
        match *self {
            LayerSpec::Conv2d {
                kernel,
                stride,
                padding,
                ..
            } => Some(Window2d {
                kernel,
                stride,
                padding,
            }),
            LayerSpec::MaxPool2d { kernel, stride } | LayerSpec::AvgPool2d { kernel, stride } => {
                Some(Window2d {
                    kernel,
                    stride,
                    padding: [0, 0],
                })
            }
            _ => None,
        }
    }

    /// The output shape for an input of shape `input` (without the batch
    /// axis), or what is wrong.
    pub fn output_shape(&self, input: &[usize]) -> std::result::Result<Vec<usize>, LayerProblem> {
        let chain = |expected: &'static str| LayerProblem::ShapesDoNotChain {
            input: input.to_vec(),
            expected,
        };
        if input.is_empty() || input.contains(&0) {
            return Err(chain("a non-empty input"));
        }
        self.check_values().map_err(LayerProblem::Unsupported)?;
        let image = |input: &[usize]| match *input {
            [c, h, w] => Ok([c, h, w]),
            _ => Err(chain("an image [channels, height, width]")),
        };
        let window_out = |w: &Window2d, [h, wd]: [usize; 2]| {
            w.output_size("layer", [h, wd])
                .map_err(|_| LayerProblem::KernelTooLarge {
                    kernel: w.kernel.to_vec(),
                    input: vec![h + 2 * w.padding[0], wd + 2 * w.padding[1]],
                })
        };
        Ok(match self {
            LayerSpec::Dense { outputs, .. } => vec![*outputs],
            LayerSpec::Conv2d { channels, .. } => {
                let [_, h, w] = image(input)?;
                let window = self.window().ok_or_else(|| chain("an image"))?;
                let [oh, ow] = window_out(&window, [h, w])?;
                vec![*channels, oh, ow]
            }
            LayerSpec::MaxPool2d { kernel, stride } | LayerSpec::AvgPool2d { kernel, stride } => {
                let [c, h, w] = image(input)?;
                let window = self.window().ok_or_else(|| chain("an image"))?;
                let [oh, ow] = window_out(&window, [h, w])?;
                if !window.tiles([h, w]) {
                    return Err(LayerProblem::WindowDoesNotDivide {
                        kernel: kernel.to_vec(),
                        stride: stride.to_vec(),
                        input: vec![h, w],
                    });
                }
                vec![c, oh, ow]
            }
            LayerSpec::GlobalAvgPool => {
                let [c, _, _] = image(input)?;
                vec![c, 1, 1]
            }
            LayerSpec::Flatten => vec![input.iter().product()],
            LayerSpec::Softmax => {
                if input.len() != 1 {
                    return Err(chain("a vector of features (flatten first)"));
                }
                input.to_vec()
            }
            LayerSpec::BatchNorm { .. }
            | LayerSpec::Relu
            | LayerSpec::HardSigmoid { .. }
            | LayerSpec::Sigmoid { .. } => input.to_vec(),
        })
    }

    /// The names and shapes of the layer's parameter tensors for an input
    /// of shape `input`, in the order they are stored: weights then bias;
    /// for a batch normalisation scale, shift, mean and variance.
    pub fn parameter_shapes(&self, input: &[usize]) -> Vec<(&'static str, Vec<usize>)> {
        let c = input.first().copied().unwrap_or(0);
        match *self {
            LayerSpec::Dense { outputs, bias } => {
                let inputs = input.iter().product();
                let mut v = vec![("weights", vec![inputs, outputs])];
                if bias {
                    v.push(("bias", vec![1, outputs]));
                }
                v
            }
            LayerSpec::Conv2d {
                channels,
                kernel,
                bias,
                ..
            } => {
                let mut v = vec![("weights", vec![channels, c, kernel[0], kernel[1]])];
                if bias {
                    v.push(("bias", vec![1, channels]));
                }
                v
            }
            LayerSpec::BatchNorm { .. } => ["scale", "shift", "mean", "variance"]
                .iter()
                .map(|n| (*n, vec![c]))
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// A whole model: the input shape (without the batch axis: `[features]`
/// or `[channels, height, width]`) and the layers. See the [module
/// documentation](self) for the compact string and the presets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetworkSpec {
    /// The shape of one example.
    pub input: Vec<usize>,
    /// The layers, first to last.
    pub layers: Vec<LayerSpec>,
}

/// Parses an input shape such as `1x28x28` or `30`.
///
/// # Examples
///
/// ```
/// assert_eq!(privml::nn::parse_shape("1x28x28")?, vec![1, 28, 28]);
/// assert!(privml::nn::parse_shape("1x0").is_err());
/// # Ok::<(), privml::Error>(())
/// ```
pub fn parse_shape(s: &str) -> Result<Vec<usize>> {
    let dims: Vec<usize> = s
        .split('x')
        .map(|d| number::<usize>(d, "dimension", s))
        .collect::<Result<_>>()?;
    if dims.is_empty() || dims.contains(&0) || dims.len() > 3 {
        return Err(Error::invalid(
            "input shape",
            format!("'{s}': one to three positive dimensions, e.g. 30 or 1x28x28"),
        ));
    }
    Ok(dims)
}

impl NetworkSpec {
    /// The names [`preset`](Self::preset) knows.
    pub const PRESETS: [&'static str; 4] = ["network-a", "network-b", "network-c", "network-d"];

    /// A model from the compact string and the input shape (`1x28x28`).
    /// Checks each token; [`output_shapes`](Self::output_shapes) checks
    /// that the layers chain.
    pub fn parse(layers: &str, input: &str) -> Result<Self> {
        let layers = layers
            .split(',')
            .filter(|t| !t.trim().is_empty())
            .map(LayerSpec::parse)
            .collect::<Result<Vec<_>>>()?;
        if layers.is_empty() {
            return Err(Error::invalid("model", "no layers"));
        }
        Ok(NetworkSpec {
            input: parse_shape(input)?,
            layers,
        })
    }

    /// A preset of the benchmark suite by name (see the [module
    /// documentation](self)); the input is 1 x 28 x 28.
    pub fn preset(name: &str) -> Result<Self> {
        let layers = match name {
            "network-a" => "dense:128,relu,dense:128,relu,dense:10",
            "network-b" => {
                "conv:16k5,maxpool:2,relu,conv:16k5,maxpool:2,relu,dense:100,relu,dense:10"
            }
            "network-c" => {
                "conv:20k5,maxpool:2,relu,conv:50k5,maxpool:2,relu,dense:500,relu,dense:10"
            }
            "network-d" => "conv:5k5s2p2,relu,dense:100,relu,dense:10",
            other => {
                return Err(Error::invalid(
                    "model",
                    format!(
                        "no preset '{other}' (presets: {})",
                        Self::PRESETS.join(", ")
                    ),
                ));
            }
        };
        Self::parse(layers, "1x28x28")
    }

    /// The output shape of every layer in order, checking that the layers
    /// chain: a kernel larger than its padded input, a pooling window that
    /// does not tile its input, or a layer that does not take its input's
    /// shape is [`Error::Layer`] naming the layer.
    pub fn output_shapes(&self) -> Result<Vec<Vec<usize>>> {
        let mut shape = self.input.clone();
        let mut out = Vec::with_capacity(self.layers.len());
        for (i, layer) in self.layers.iter().enumerate() {
            shape = layer.output_shape(&shape).map_err(|problem| Error::Layer {
                index: i + 1,
                layer: layer.to_string(),
                problem,
            })?;
            out.push(shape.clone());
        }
        Ok(out)
    }

    /// The input shape of every layer.
    pub fn input_shapes(&self) -> Result<Vec<Vec<usize>>> {
        let outs = self.output_shapes()?;
        let mut ins = vec![self.input.clone()];
        ins.extend(outs.into_iter().take(self.layers.len().saturating_sub(1)));
        Ok(ins)
    }

    /// The shape of the model's output (one example).
    pub fn output_shape(&self) -> Result<Vec<usize>> {
        self.output_shapes()?
            .pop()
            .ok_or_else(|| Error::invalid("model", "no layers"))
    }

    /// Every parameter tensor in storage order: (layer index, name, shape).
    pub fn parameter_shapes(&self) -> Result<Vec<(usize, &'static str, Vec<usize>)>> {
        let ins = self.input_shapes()?;
        Ok(self
            .layers
            .iter()
            .zip(&ins)
            .enumerate()
            .flat_map(|(i, (l, shape))| {
                l.parameter_shapes(shape)
                    .into_iter()
                    .map(move |(n, s)| (i, n, s))
            })
            .collect())
    }

    /// The number of trainable parameters.
    pub fn parameter_count(&self) -> Result<usize> {
        Ok(self
            .parameter_shapes()?
            .iter()
            .map(|(_, _, s)| s.iter().product::<usize>())
            .sum())
    }

    /// The input shape as written (`1x28x28`).
    pub fn input_string(&self) -> String {
        let dims: Vec<String> = self.input.iter().map(|d| d.to_string()).collect();
        dims.join("x")
    }
}

impl fmt::Display for NetworkSpec {
    /// The compact string of the layers (the input shape is separate, see
    /// [`NetworkSpec::input_string`]).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, l) in self.layers.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{l}")?;
        }
        Ok(())
    }
}

impl From<&MlpSpec> for NetworkSpec {
    /// The MLP as dense layers with ReLU between them.
    fn from(m: &MlpSpec) -> Self {
        let mut layers = Vec::new();
        let widths = m.widths();
        for (k, w) in widths.iter().enumerate().skip(1) {
            layers.push(LayerSpec::Dense {
                outputs: *w,
                bias: true,
            });
            if k + 1 < widths.len() {
                layers.push(LayerSpec::Relu);
            }
        }
        NetworkSpec {
            input: vec![m.inputs],
            layers,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_have_the_published_shapes_and_sizes() {
        let shapes = |n: &str| NetworkSpec::preset(n).unwrap().output_shapes().unwrap();
        assert_eq!(
            NetworkSpec::preset("network-a")
                .unwrap()
                .parameter_count()
                .unwrap(),
            MlpSpec::network_a().parameters()
        );
        let b = shapes("network-b");
        assert_eq!(b[0], vec![16, 24, 24]);
        assert_eq!(b[5], vec![16, 4, 4]);
        assert_eq!(b[8], vec![10]);
        let c = shapes("network-c");
        assert_eq!(c[3], vec![50, 8, 8]);
        assert_eq!(c[5].iter().product::<usize>(), 800);
        let d = shapes("network-d");
        assert_eq!(d[0], vec![5, 14, 14]);
        assert_eq!(
            NetworkSpec::preset("network-b")
                .unwrap()
                .parameter_count()
                .unwrap(),
            16 * 25 + 16 + 16 * 16 * 25 + 16 + 256 * 100 + 100 + 100 * 10 + 10
        );
        assert_eq!(
            NetworkSpec::preset("network-d")
                .unwrap()
                .parameter_count()
                .unwrap(),
            5 * 25 + 5 + 980 * 100 + 100 + 100 * 10 + 10
        );
        assert!(NetworkSpec::preset("network-e").is_err());
    }

    #[test]
    fn strings_round_trip() {
        for s in [
            "conv:16k5,relu,maxpool:2,conv:16k5,relu,maxpool:2,dense:100,relu,dense:10",
            "conv:8k3x5s1x2p1x2/nobias,avgpool:2s1,gap,flatten,dense:3/nobias,softmax",
            "batchnorm:1e-3,hardsigmoid:0.5,sigmoid:8d7,maxpool:3s2",
        ] {
            let spec = NetworkSpec::parse(s, "3x32x32").unwrap();
            let again = NetworkSpec::parse(&spec.to_string(), "3x32x32").unwrap();
            assert_eq!(spec, again, "{s}");
        }
        for bad in [
            "dense",
            "dense:0",
            "conv:16",
            "conv:0k3",
            "conv:4k3p1s1",
            "maxpool:0",
            "relu:2",
            "sigmoid:10d8",
            "pool:2",
            "relu/nobias",
            "dense:x",
            "hardsigmoid:-1",
        ] {
            assert!(LayerSpec::parse(bad).is_err(), "{bad}");
        }
        assert!(NetworkSpec::parse("", "3").is_err());
        assert!(NetworkSpec::parse("relu", "3x").is_err());
    }

    #[test]
    fn bad_chains_name_the_layer() {
        let err = |layers: &str, input: &str| {
            NetworkSpec::parse(layers, input)
                .unwrap()
                .output_shapes()
                .unwrap_err()
        };
        assert!(matches!(
            err("conv:4k7", "1x5x5"),
            Error::Layer {
                index: 1,
                problem: LayerProblem::KernelTooLarge { .. },
                ..
            }
        ));
        // padding makes it fit
        assert!(
            NetworkSpec::parse("conv:4k7p1", "1x5x5")
                .unwrap()
                .output_shapes()
                .is_ok()
        );
        assert!(matches!(
            err("relu,maxpool:2", "1x5x5"),
            Error::Layer {
                index: 2,
                problem: LayerProblem::WindowDoesNotDivide { .. },
                ..
            }
        ));
        assert!(matches!(
            err("dense:4,conv:2k1", "6"),
            Error::Layer {
                index: 2,
                problem: LayerProblem::ShapesDoNotChain { .. },
                ..
            }
        ));
        assert!(matches!(
            err("conv:2k1,softmax", "1x3x3"),
            Error::Layer {
                index: 2,
                problem: LayerProblem::ShapesDoNotChain { .. },
                ..
            }
        ));
        let e = err("conv:2k3,maxpool:2", "1x7x7");
        assert!(e.to_string().contains("layer 2 (maxpool:2)"), "{e}");
    }

    #[test]
    fn typed_data_through_serde() {
        let spec = NetworkSpec::preset("network-d").unwrap();
        let json = serde_json::to_string(&spec).unwrap();
        assert!(json.contains("conv2d"), "{json}");
        let back: NetworkSpec = serde_json::from_str(&json).unwrap();
        assert_eq!(back, spec);
        // defaults for the optional fields
        let written = r#"{"input":[1,8,8],"layers":[{"conv2d":{"channels":2,"kernel":[3,3]}},"relu",{"dense":{"outputs":2}}]}"#;
        let spec: NetworkSpec = serde_json::from_str(written).unwrap();
        assert_eq!(spec.to_string(), "conv:2k3,relu,dense:2");
        let bytes = postcard::to_allocvec(&spec).unwrap();
        assert_eq!(postcard::from_bytes::<NetworkSpec>(&bytes).unwrap(), spec);
    }

    #[test]
    fn mlp_specs_convert() {
        let m: MlpSpec = "30-16-8-2".parse().unwrap();
        let n = NetworkSpec::from(&m);
        assert_eq!(n.to_string(), "dense:16,relu,dense:8,relu,dense:2");
        assert_eq!(n.parameter_count().unwrap(), m.parameters());
    }
}
