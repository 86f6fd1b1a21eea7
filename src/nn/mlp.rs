//! Multi-layer perceptrons with ReLU: the model the benchmarks and the
//! `train` command use.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::init::Sampler;
use super::layers::{Activation, Dense, Layer};
use super::presets::{MODEL_OWNER, input_weights};
use super::sequential::Sequential;
use crate::domain::Ring;
use crate::error::{Error, Result};

/// Layer sizes of an MLP: inputs, hidden layers (each followed by ReLU),
/// outputs (linear).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MlpSpec {
    /// Input features.
    pub inputs: usize,
    /// Hidden layer widths.
    pub hidden: Vec<usize>,
    /// Outputs (classes; 1 for a single score).
    pub outputs: usize,
}

impl MlpSpec {
    /// "Network A" of the MPC literature (SecureML, ABY3, MP-SPDZ):
    /// 784-128-ReLU-128-ReLU-10.
    pub fn network_a() -> Self {
        MlpSpec {
            inputs: 784,
            hidden: vec![128, 128],
            outputs: 10,
        }
    }

    /// Parses `mlp:64,32` (or `mlp:` for no hidden layer) for the given
    /// input and output sizes.
    pub fn parse(s: &str, inputs: usize, outputs: usize) -> Result<Self> {
        let rest = s
            .strip_prefix("mlp:")
            .or_else(|| (s == "mlp" || s == "linear").then_some(""))
            .ok_or_else(|| {
                Error::invalid(
                    "model",
                    format!("'{s}': expected mlp:W1,W2,... (e.g. mlp:64,32) or linear"),
                )
            })?;
        let hidden = if rest.trim().is_empty() {
            Vec::new()
        } else {
            rest.split(',')
                .map(|w| {
                    w.trim()
                        .parse::<usize>()
                        .ok()
                        .filter(|w| *w > 0)
                        .ok_or_else(|| {
                            Error::invalid("model", format!("'{w}' is not a layer width in '{s}'"))
                        })
                })
                .collect::<Result<_>>()?
        };
        Ok(MlpSpec {
            inputs,
            hidden,
            outputs,
        })
    }

    /// All widths, input to output.
    pub fn widths(&self) -> Vec<usize> {
        let mut v = vec![self.inputs];
        v.extend(&self.hidden);
        v.push(self.outputs);
        v
    }

    /// Number of trainable parameters.
    pub fn parameters(&self) -> usize {
        self.widths().windows(2).map(|w| w[0] * w[1] + w[1]).sum()
    }
}

impl fmt::Display for MlpSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let w: Vec<String> = self.widths().iter().map(|x| x.to_string()).collect();
        write!(f, "{}", w.join("-"))
    }
}

impl FromStr for MlpSpec {
    type Err = Error;
    /// "784-128-128-10".
    fn from_str(s: &str) -> Result<Self> {
        let w: Vec<usize> = s
            .split('-')
            .map(|x| {
                x.trim()
                    .parse::<usize>()
                    .map_err(|_| Error::invalid("model", format!("bad layer size '{x}' in '{s}'")))
            })
            .collect::<Result<_>>()?;
        if w.len() < 2 {
            return Err(Error::invalid(
                "model",
                format!("'{s}' needs at least input and output sizes"),
            ));
        }
        Ok(MlpSpec {
            inputs: w[0],
            hidden: w[1..w.len() - 1].to_vec(),
            outputs: w[w.len() - 1],
        })
    }
}

/// An MLP with He-uniform initial weights (scaled so activations stay of
/// order one, far inside the fixed-point range) and zero biases, input by
/// the model owner.
pub fn mlp<R: Ring>(r: &mut R, spec: &MlpSpec, seed: u64) -> Result<Sequential<R>> {
    let mut s = Sampler::new(seed);
    let widths = spec.widths();
    let mut layers = Vec::new();
    for (k, w) in widths.windows(2).enumerate() {
        let weights = input_weights(r, &s.he_uniform(w[0], w[1]))?;
        let zeros = ndarray::Array2::<f64>::zeros((1, w[1])).into_dyn();
        let bias = r.input(
            MODEL_OWNER,
            r.owns(MODEL_OWNER).then_some(&zeros),
            &[1, w[1]],
        )?;
        layers.push(Layer::Dense(Dense::new(weights, Some(bias))));
        if k + 2 < widths.len() {
            layers.push(Layer::activation(Activation::Relu));
        }
    }
    Ok(Sequential::new(layers))
}

/// An MLP of the given shape with the given (already loaded) parameters:
/// per layer the weights [in, out] then the bias [1, out].
pub fn mlp_with_parameters<R: Ring>(
    r: &R,
    spec: &MlpSpec,
    params: Vec<R::Tensor>,
) -> Result<Sequential<R>> {
    let widths = spec.widths();
    let want = 2 * (widths.len() - 1);
    if params.len() != want {
        return Err(Error::invalid(
            "model",
            format!(
                "a {spec} MLP has {want} parameter tensors, the file holds {}",
                params.len()
            ),
        ));
    }
    let mut it = params.into_iter();
    let mut layers = Vec::new();
    for (k, w) in widths.windows(2).enumerate() {
        let (Some(weights), Some(bias)) = (it.next(), it.next()) else {
            // the count was checked above
            return Err(Error::internal(
                "mlp_with_parameters",
                format!("parameters of layer {k} missing"),
            ));
        };
        for (t, want_shape) in [(&weights, vec![w[0], w[1]]), (&bias, vec![1, w[1]])] {
            if r.shape(t) != want_shape.as_slice() {
                return Err(Error::ShapeMismatch {
                    op: "load model",
                    left: r.shape(t).to_vec(),
                    right: want_shape,
                });
            }
        }
        layers.push(Layer::Dense(Dense::new(weights, Some(bias))));
        if k + 2 < widths.len() {
            layers.push(Layer::activation(Activation::Relu));
        }
    }
    Ok(Sequential::new(layers))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_count() {
        let s = MlpSpec::parse("mlp:64,32", 30, 2).unwrap();
        assert_eq!(s.widths(), vec![30, 64, 32, 2]);
        assert_eq!(s.to_string(), "30-64-32-2");
        assert_eq!(
            MlpSpec::network_a().parameters(),
            784 * 128 + 128 + 128 * 128 + 128 + 128 * 10 + 10
        );
        assert_eq!(
            "784-128-128-10".parse::<MlpSpec>().unwrap(),
            MlpSpec::network_a()
        );
        assert!(MlpSpec::parse("mlp:64,x", 3, 1).is_err());
        assert!(MlpSpec::parse("cnn:3", 3, 1).is_err());
        assert!(MlpSpec::parse("linear", 3, 1).unwrap().hidden.is_empty());
    }
}
