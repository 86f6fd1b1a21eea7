//! The secure three-party protocol: replicated secret sharing over Z_2^ℓ.
//!
//! # Threat model
//!
//! Three parties P0, P1, P2, at most one of which is corrupted, and only
//! *semi-honestly*: it follows the protocol but tries to learn from what it
//! sees (its shares, its keys, and every message it receives). Under this
//! model no single party learns anything about the secret inputs,
//! intermediate values or weights beyond what the program explicitly reveals
//! (`reveal`, `reveal_to`). Not covered: two colluding parties (they can
//! reconstruct everything), a party that deviates from the protocol (it can
//! silently corrupt results; detecting that needs a malicious-secure
//! protocol), side channels such as timing, and denial of service. Transport
//! confidentiality between parties is the job of TLS in the TCP transport.
//!
//! # Sharing
//!
//! A secret x is split as x = x0 + x1 + x2 (mod 2^ℓ) and party i holds the
//! pair (x_i, x_{i+1}) ([`Replicated`]). Any one party's pair is uniformly
//! random; any two parties together hold all three shares.
//!
//! # Correlated randomness
//!
//! At set-up each party draws a 128-bit seed from the operating system and
//! sends it to its successor ([`PairKeys`]), so every pair of parties shares
//! an AES key. From these keys parties derive, without talking, the random
//! shares of inputs, 3-out-of-3 sharings of zero, and the masks and dealer
//! values of the truncation protocol. Keystreams are indexed by an operation
//! counter that all parties advance identically.
//!
//! # Operations and their cost (n elements)
//!
//! | operation | rounds | elements sent per party | notes |
//! |---|---|---|---|
//! | input | 1 | owner 2n | two shares from PRF keys, the third sent to both neighbours |
//! | add, sub, public ops | 0 | 0 | local |
//! | integer product | 1 | n | ABY3: cross terms ([`product`]) + zero-sharing, one element to the predecessor |
//! | fixed-point product / matmul | 2 | 2n | see [`trunc`]: product and truncation fused |
//! | truncation | 2 | 2n | see [`trunc`] |
//! | reshare | 1 | n | |
//! | reveal to all / to one | 1 | n / n from one party | |

pub mod binary;
pub mod compare;
mod keys;
mod party;
pub mod product;
mod share;
pub mod trunc;

pub use keys::PairKeys;
pub use party::Party;
pub use share::Replicated;
