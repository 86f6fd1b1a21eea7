//! The two-party protocol: additive 2-out-of-2 sharing over Z_2^ℓ with a
//! dealer of correlated randomness (the setting of the article's
//! `share(alice, bob)` with a crypto provider, CrypTen's default and SPU's
//! Semi2k).
//!
//! # Roles and threat model
//!
//! Two *computing parties*, P0 and P1, hold additive shares: x = x0 + x1
//! (mod 2^ℓ), party i holding x_i. A third role, the *dealer* (network id
//! 2), supplies correlated randomness — Beaver triples, truncation pairs,
//! comparison masks — and nothing else: it holds no input, receives no
//! share, no masked value and no output, and the randomness it deals is
//! independent of the data. Security is semi-honest: each role follows the
//! protocol and tries to learn from what it sees.
//!
//! - **P0 and P1** each see their own shares, their seeds, the dealer's
//!   messages and the other party's messages. Every value a party receives
//!   is masked by randomness it does not know (a triple's a or b, a
//!   truncation or comparison mask, a bit of the dealer's), so its view is
//!   independent of the secrets; what a program reveals is revealed.
//! - **The dealer** sees its two seeds and the jobs' public announcements
//!   (the shapes a data owner announces, so that it can deal the right
//!   amount; ahead of time, the same values in the data owner's public
//!   description, [`prep::PublicDescription`]); it receives nothing else at
//!   all, so its view does not depend on any secret.
//!
//! The protocol is secure if the dealer colludes with neither party: the
//! dealer together with P0 knows P1's randomness and could unmask what P1
//! sends. Not covered, as in [`crate::mpc`]: a deviating party, side
//! channels, denial of service. TLS protects the links.
//!
//! # Randomness
//!
//! Seeds are drawn from the operating system ([`Seed::random`]); in the key
//! set-up the dealer sends one seed to each party (k_d0, k_d1) and P0 sends
//! one to P1 (k_01). Everything P0 needs from the dealer it derives from
//! k_d0, and P1 derives its random parts from k_d1: the dealer knows both
//! and sends P1 only the *corrections*, the parts that depend on both (c1 =
//! a·b − c0 of a triple, say). So the offline traffic is one direction, to
//! P1; P0 receives no material at all. Keystreams are AES-128-CTR indexed
//! by an operation counter all three roles advance identically
//! ([`sub`] numbers the streams of one operation).
//!
//! # Operations (n elements, ℓ-bit ring; see [`crate::cost`] for the formulas)
//!
//! | operation | online rounds | online elements per party | offline to P1 | how |
//! |---|---|---|---|---|
//! | input | 0 | 0 | 0 | P_o's share is x − ρ, the other's ρ, with ρ from k_01 |
//! | reshare | 0 | 0 | 0 | ± ρ from k_01 |
//! | add, public ops, layout | 0 | 0 | 0 | local |
//! | reveal | 1 | n | 0 | shares exchanged |
//! | product x ⊙ y / matmul X·Y | 2 | \|x\| + \|y\| + n / mk + kn + mn | 3n | [`beaver`], then [`trunc`] |
//! | truncation | 1 | n | 2n | [`trunc`] |
//! | sign and multiplexing | 8 (ℓ=64) | (n + m) + ≈ 23 bytes per element | (n + m) + ≈ 23 bytes | [`compare`] |
//!
//! # Choices
//!
//! *Truncation* is dealer-assisted and exact up to one unit ([`trunc`]):
//! SecureML's local truncation (each party shifts its own share) costs no
//! round but is off by about 2^(ℓ−m) with probability about 2^-(ℓ−ℓx−1)
//! per product, which a long training run meets; the dealer-assisted one
//! costs one round and n elements per party and has no large-error event.
//!
//! *Comparison* is a dealer-assisted bit decomposition of a masked value
//! ([`compare`]): 8 online rounds for ℓ = 64 and about 40 bytes per element
//! each way. Function secret sharing (a distributed comparison function)
//! would need one online round, but its keys are about ℓ·(λ + ℓ) bits,
//! 1.6 KB per element per party for ℓ = 64 — 1.6 GB of dealer material for
//! a ReLU of 10^6 values — and ℓ AES evaluations per element online; on
//! the LAN this crate targets, the bit decomposition is cheaper end to end.
//!
//! [`Seed::random`]: crate::ring::prg::Seed::random

pub mod beaver;
pub mod compare;
mod participant;
pub mod prep;
mod streamed;
pub mod trunc;

pub use participant::{DEALER, Participant, Role, StreamKeys};

/// Sub-stream numbers of one operation's keystreams (see
/// [`PrfKey::stream`](crate::ring::prg::PrfKey::stream)): which random
/// vector of the operation a stream is. Both computing parties and the
/// dealer use the same numbers.
pub mod sub {
    /// Input masks (k_01).
    pub const INPUT: u8 = 0;
    /// Re-randomisation (k_01).
    pub const RESHARE: u8 = 1;
    /// A triple's a.
    pub const A: u8 = 2;
    /// A triple's b.
    pub const B: u8 = 3;
    /// P0's part of a triple's c.
    pub const C: u8 = 4;
    /// The truncation mask r.
    pub const TRUNC_MASK: u8 = 5;
    /// P0's part of r >> m.
    pub const TRUNC_HI: u8 = 6;
    /// P0's part of msb(r).
    pub const TRUNC_MSB: u8 = 7;
    /// The comparison mask r.
    pub const CMP_MASK: u8 = 8;
    /// P0's XOR share of r's bits.
    pub const CMP_MASK_BITS: u8 = 9;
    /// Masks of the multiplexed operands.
    pub const CMP_B: u8 = 10;
    /// XOR shares of the output mask bit s.
    pub const CMP_S: u8 = 11;
    /// P0's arithmetic share of s.
    pub const CMP_S_ARITH: u8 = 12;
    /// P0's share of s · b.
    pub const CMP_SB: u8 = 13;
    /// The carry tree's gate input masks.
    pub const CMP_TREE: u8 = 14;
    /// P0's share of the carry tree's gate triples.
    pub const CMP_TREE_AND: u8 = 15;
}
