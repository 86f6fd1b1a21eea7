#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![deny(unsafe_code)]
#![warn(clippy::unwrap_used)]
#![doc(test(attr(deny(warnings))))]

pub mod approx;
pub mod cost;
pub mod data;
pub mod domain;
pub mod error;
pub mod experiments;
pub mod fixed;
pub mod fl;
#[cfg(feature = "he")]
pub mod he;
pub mod learn;
pub mod model_file;
pub mod mpc;
pub mod net;
pub mod nn;
pub mod party_id;
#[cfg(feature = "plot")]
pub mod plot;
pub mod ring;
pub mod runner;
pub mod session;
pub mod tensor;
pub mod workloads;

pub use cost::{Cost, CostModel, Network};
pub use domain::{
    Fixed, OverflowPolicy, PartyId, Plain, Ring, Shared, SharedConfig, TensorData, Tracker,
    TruncationMode,
};
pub use error::{DecodeError, Error, FileOp, Origin, OverflowEvent, Result, TlsError};
pub use fixed::FixedPoint;
