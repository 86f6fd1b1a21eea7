//! Secure aggregation by replicated secret sharing over Z_2^64, by
//! concern: the [parameters](ShareParams) everybody agrees on, the
//! [client](share_update) that shares its update, one
//! [aggregation server](ShareServer), and a [round](MpcRound) on three
//! in-process servers that reveals the sum.

mod client;
mod params;
mod round;
mod server;

pub use client::{share_update, share_update_with_rng};
pub use params::{ShareEncoding, ShareParams};
pub use round::MpcRound;
pub use server::{CheckedShares, ShareServer};
