#![doc = include_str!("../README.md")]
// `missing_docs` and `unsafe_code` are denied for the whole package in
// Cargo.toml's `[lints]`. No `unwrap()` on a path user input can reach:
// this is set here, for the library only, because the helpers of tests and
// examples may unwrap (clippy.toml allows it inside tests).
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
