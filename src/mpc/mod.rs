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
//! Keys are drawn from the operating system. A fixed seed
//! ([`SharedConfig::insecure_test_seed`](crate::SharedConfig::insecure_test_seed),
//! `--insecure-seed`) lets whoever knows it recompute every pairwise key; it
//! is for tests, and across processes all three parties must ask for the
//! same one (`privml party` compares it with the job and warns on every
//! party).
//!
//! # What is opened
//!
//! Opening is explicit (`reveal`, `reveal_to`, and for outputs
//! [`Open`](crate::domain::Open)); the cost counters record every opening
//! by recipient ([`Cost::opened_to_all`](crate::Cost::opened_to_all),
//! [`Cost::opened_to`](crate::Cost::opened_to); the cost report prints
//! them), and `tests/suite/disclosure.rs` checks each job's openings against this
//! table. "Announced" values are public by design: every party needs them
//! to run the job.
//!
//! | job | opened to every party | opened to one party | announced |
//! |---|---|---|---|
//! | `demo tutorial`, each `demo boolean` experiment | the mean absolute training error 10 times (one number each); the trained weights once (3 or 16 values); the scores on the user's 8 inputs | — | — |
//! | `demo reservoir` | the loss Σ\|prediction − target\| every 50 steps (one number each); the 4 final predictions | — | — |
//! | `demo additive` | 2 + 5 and 3 · (2 + 5) | — | — |
//! | `train` | per epoch: the training loss (mean squared error) and the test accuracy (a count), one number each; with `--reveal-model`, every parameter once | — | by the data owner: the table's shape, feature and target names, number of classes, and the scaling — the declared public ranges (default), or with `--disclose-feature-stats` the training rows' per-feature minimum and range (or mean and deviation); by party 0: a random model id |
//! | `predict` | — | to the data owner: the scores, rows × outputs values | by the data owner: the number of rows; the model's id and layers (compared at connection) |
//! | `federated`, `mpc` | to the three servers: each round's aggregate Σ n_k Δ_k (one reveal of the model's length; exact, no truncation); to participants: the global model | — | the updates' headers (client ids, round, weights, length) |
//! | `federated`, `he` | to participants: the global model | to the model owner: each round's aggregate (decrypted) | the headers and ciphertexts, to the aggregator |
//! | `federated`, `plain` | the insecure reference: the server sees every update | — | — |
//! | `bench` | two one-element openings of the constant 0 per timed run (synchronisation); the data are synthetic | — | — |
//!
//! The shapes of everything (and so the number of rows, features, classes
//! and iterations) are public in every job, as are the timing and the
//! amount of traffic.
//!
//! **The low bits of outputs.** The truncation rounds stochastically (see
//! [`trunc`]): a value opened right after it carries a random bit whose
//! distribution depends on the bits it dropped, so whoever receives the
//! same output many times — a client repeating a prediction — could
//! estimate the value to 2f bits. Every output above is therefore opened
//! exactly rounded to f − f/4 fraction bits ([`Open`](crate::domain::Open)):
//! the opened value is a deterministic function of the shared value, and a
//! party's view of the opening depends on nothing else (proof in
//! [`crate::domain::open`]). What remains: a shared value that is itself the
//! result of stochastic roundings varies by a few units between runs, so the
//! rounded output still flips between two neighbours when the exact result
//! lies within that error of a rounding boundary (for a value with one final
//! truncation, 1 case in 2^(f/4)), and repeated queries then locate it
//! inside that band. The federated aggregate is an exact integer sum and
//! involves no truncation.
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
//! | open an output (exact rounding, then reveal) | 9 (ℓ = 64) | a truncation, a sign extraction of n selecting n, then the reveal | [`Open`](crate::domain::Open); [`CostModel::open`](crate::cost::CostModel::open) |

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
