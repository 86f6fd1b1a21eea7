//! Federated learning with secure aggregation: clients train locally and
//! share only protected model updates, aggregated by secret sharing among
//! three servers ([`Aggregation::Mpc`]) or homomorphically under the model
//! owner's key ([`Aggregation::He`]).
//!
//! DOCS

#[cfg(feature = "he")]
mod homomorphic;
mod model;
mod plain;
mod round;
mod secure;
mod split;
mod train;
mod wire;

#[cfg(feature = "he")]
pub use homomorphic::{HeRound, HeRoundSum, encrypt_update};
pub use model::{LocalTraining, ModelSpec};
pub use plain::{PlainRound, plain_update};
pub use round::{AggregationOptions, ClientUpdate, Fault, Refusal, RoundAggregator, RoundOutcome};
pub use secure::{
    CheckedShares, MpcRound, MpcSum, ShareEncoding, ShareParams, ShareServer, share_update,
    share_update_with_rng,
};
pub use split::{Split, split_clients};
pub use train::{
    FederatedConfig, FederatedReport, RoundReport, Weighting, prepare_data, run_federated,
    train_centralised,
};
pub use wire::HEADER_LEN;

use crate::error::{Error, Result};

/// A client's id: public, carried in every submission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientId(pub u32);

impl std::fmt::Display for ClientId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "client-{}", self.0)
    }
}

/// The public facts of one submission: who, for which round, with which
/// weight (the client's sample count, or 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpdateMeta {
    /// The client.
    pub client: ClientId,
    /// The round of federated training.
    pub round: u32,
    /// The client's weight in the mean (at least 1).
    pub weight: u32,
}

impl UpdateMeta {
    /// The facts of `client`'s submission for `round` with `weight`.
    pub fn new(client: ClientId, round: u32, weight: u32) -> Self {
        UpdateMeta {
            client,
            round,
            weight,
        }
    }
}

/// How updates are aggregated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Aggregation {
    /// Secure aggregation by replicated secret sharing among three
    /// non-colluding servers; they reveal the sum only.
    #[default]
    Mpc,
    /// Homomorphic aggregation (BFV): clients encrypt under the model
    /// owner's key, one aggregator adds ciphertexts, the owner decrypts the
    /// sum only.
    He,
    /// The insecure reference: a trusted server sees every update.
    Plain,
}

impl std::fmt::Display for Aggregation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Aggregation::Mpc => "mpc",
            Aggregation::He => "he",
            Aggregation::Plain => "plain",
        })
    }
}

impl std::str::FromStr for Aggregation {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "mpc" | "smpc" | "shares" => Ok(Aggregation::Mpc),
            "he" | "bfv" => Ok(Aggregation::He),
            "plain" | "none" => Ok(Aggregation::Plain),
            _ => Err(Error::invalid(
                "aggregation",
                format!("'{s}': use mpc, he or plain"),
            )),
        }
    }
}
