#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![deny(unsafe_code)]
#![warn(clippy::unwrap_used)]
#![doc(test(attr(deny(warnings))))]

pub mod cost;
pub mod domain;
pub mod error;
pub mod fixed;
pub mod he;
pub mod ring;
pub mod tensor;

pub use cost::{Cost, CostModel, Network};
pub use domain::{Fixed, OverflowPolicy, PartyId, Plain, Ring, Tracker, TruncationMode};
pub use error::{Error, OverflowEvent, Result};
pub use fixed::FixedPoint;
