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
pub mod dataset_file;
pub mod domain;
mod envelope;
pub mod error;
pub mod experiments;
pub mod fixed;
pub mod fl;
#[cfg(feature = "he")]
pub mod he;
mod keyword;
pub mod learn;
pub mod model_file;
pub mod mpc;
pub mod mpc2;
pub mod net;
pub mod nn;
pub mod onnx;
pub mod party_id;
#[cfg(feature = "plot")]
pub mod plot;
pub mod private_file;
pub mod ring;
pub mod runner;
#[cfg(feature = "tls")]
pub mod service;
pub mod session;
pub mod tensor;
pub mod workloads;

pub use cost::{Cost, CostModel, Network};
pub use domain::{
    Additive, DEFAULT_MAX_INPUT_ELEMENTS, DealerSchedule, DomainInfo, Fixed, Gadgets, Gather,
    Layout, Open, OverflowPolicy, PartyId, Plain, Ring, Session, Shared, SharedConfig, TensorData,
    Tracker, TruncationMode, Window2d,
};
pub use error::{
    DecodeError, Error, FileOp, LayerProblem, Origin, OverflowEvent, PrepProblem, Result, TlsError,
};
pub use fixed::FixedPoint;

/// The traits and domains a program over [`Ring`] needs, in one import:
/// `use privml::prelude::*;` brings the core trait, its extensions
/// ([`Layout`], [`Gadgets`], [`Open`], [`Session`]) and the domains into scope.
///
/// # Examples
///
/// ```
/// use privml::prelude::*;
///
/// fn clipped_sum<R: Ring>(r: &mut R, x: &R::Tensor) -> Result<R::Tensor> {
///     let (c, _) = r.clip01(x)?; // a gadget
///     let flat = r.reshape(&c, &[1, 3])?; // a layout helper
///     r.sum_axis(&flat, 1) // the core
/// }
///
/// let mut r = Plain::new();
/// let x = r.constant(&ndarray::arr1(&[-1.0, 0.5, 2.0]).into_dyn())?;
/// let s = clipped_sum(&mut r, &x)?;
/// assert_eq!(r.reveal(&s)?.sum(), 1.5);
/// # Ok::<(), privml::Error>(())
/// ```
pub mod prelude {
    pub use crate::domain::{Additive, Fixed, Gadgets, Layout, Open, Plain, Ring, Session, Shared};
    pub use crate::error::{Error, Result};
}
