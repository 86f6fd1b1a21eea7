//! Additively homomorphic aggregation of model updates for federated
//! learning: the alternative to secure aggregation with MPC.
//!
//! Sites (hospitals, phones) train locally and each sends an *encrypted*
//! update; an aggregator adds the ciphertexts without any key; the model
//! owner, who holds the only secret key, decrypts the sum and nothing else.
//!
//! ```text
//!  model owner ── PublicKey ──▶ clients, aggregator
//!  client i    ── EncryptedUpdate (≈15.9 bytes per value) ──▶ aggregator
//!  aggregator  ── EncryptedSum ──▶ model owner ── SecretKey::decrypt_sum ──▶ Σ updates
//! ```
//!
//! # Example
//!
//! ```
//! use privml::he::{Aggregator, EncryptedUpdate, HeParams, KeyPair};
//!
//! // Model owner.
//! let params = HeParams::default(); // 16 fraction bits, up to 1024 clients
//! let (pk, sk) = KeyPair::generate(&params)?;
//!
//! // Clients: encrypt and serialise their updates.
//! let updates = [vec![0.5, -1.25, 3.0], vec![1.5, 0.25, -1.0]];
//! let wire: Vec<Vec<u8>> = updates
//!     .iter()
//!     .map(|u| pk.encrypt_update(u).map(|c| c.to_bytes()))
//!     .collect::<Result<_, _>>()?;
//!
//! // Aggregator: public key only.
//! let mut agg = Aggregator::new(pk, 3);
//! for (i, bytes) in wire.iter().enumerate() {
//!     agg.add(&format!("site-{i}"), &EncryptedUpdate::from_bytes(bytes)?)?;
//! }
//! let sum = agg.finish();
//!
//! // Model owner: decrypts the sum (or the mean) only.
//! let mean = sk.decrypt_mean(&sum)?;
//! assert!((mean[0] - 1.0).abs() < 1e-4);
//! assert!((mean[1] + 0.5).abs() < 1e-4);
//! assert!((mean[2] - 1.0).abs() < 1e-4);
//! # Ok::<(), privml::Error>(())
//! ```
//!
//! # Threat model: who learns what
//!
//! Semi-honest (honest-but-curious) parties: everybody follows the protocol
//! and tries to learn from what they see.
//!
//! * **Clients** learn nothing about each other: they only send.
//! * **The aggregator** sees ciphertexts, their sizes (hence the number of
//!   parameters), client ids and how many updates it summed. BFV is
//!   IND-CPA secure under Ring-LWE, so the ciphertexts tell it nothing about
//!   the values. It holds no secret key, and the types make sure it cannot
//!   decrypt: [`Aggregator`] and [`EncryptedSum`] have no decryption method,
//!   only [`SecretKey::decrypt_sum`] exists (a `compile_fail` test on
//!   [`Aggregator`] checks this).
//! * **The model owner** decrypts only what it receives: the sum. It learns
//!   the sum of the updates (and the count), which is the point.
//!
//! Said plainly, what this does **not** protect:
//!
//! * A single update is **not** protected from the key owner if the
//!   aggregator colludes with it (it can pass on any client's ciphertext
//!   unchanged), or if only one client submits (the "sum" is that update).
//!   Two clients' sum reveals each to the other if one of them colludes with
//!   the owner. Require a minimum [`Aggregator::count`] before a sum leaves
//!   the aggregator, and combine with differential privacy if the sum itself
//!   must not reveal individuals.
//! * Malicious parties are out of scope. Ciphertexts are malleable and the
//!   wire checksum is not a MAC: a client can submit anything within range
//!   (or a ciphertext with huge noise that garbles the sum), and a network
//!   attacker can alter updates unless the channel is authenticated (TLS
//!   with client certificates). The public key must reach clients
//!   authentically: a substituted key lets its maker read every update.
//! * The decryption noise of the sum is the sum of the clients' encryption
//!   noises; no noise flooding is applied ("circuit privacy"), so the owner
//!   sees that aggregate noise. It does not depend on the values except
//!   through modulus-switching rounding, and we do not consider it a leak
//!   of individual updates, but it is not covered by a formal proof here.
//! * Traffic analysis: the aggregator knows who submitted.
//!
//! # Scheme and parameters
//!
//! BFV (Brakerski/Fan–Vercauteren) from the `fhe` crate, used for addition
//! only, with SIMD packing: the plaintext ring Z_t\[X\]/(X^n + 1) with t prime,
//! t ≡ 1 (mod 2n), splits into n = 4096 slots, so one ciphertext carries
//! 4096 values and adding two ciphertexts adds all slots at once.
//!
//! | | value |
//! |---|---|
//! | ring degree n (values per ciphertext) | 4096 |
//! | key / fresh ciphertext modulus q = q0·q1 | 62 + 47 = **109 bits** |
//! | wire / aggregate modulus q0 (after modulus switching) | 62 bits |
//! | plaintext modulus t | 4 398 046 486 529 (42-bit prime) |
//! | secret and error distribution | centred binomial, variance 10 (σ ≈ 3.16) |
//! | security | ≈ 128 bits (classical) |
//!
//! **Security.** The HomomorphicEncryption.org Security Standard
//! (Albrecht et al., 2018) gives 109 bits as the largest log2 q for
//! n = 4096 at 128-bit classical security, for a ternary secret and error
//! σ ≈ 3.2 (the table Microsoft SEAL enforces as
//! `SEAL_HE_STD_PARMS_128_TC`: 27, 54, 109, 218, 438, 881 bits for
//! n = 1024 … 32768). Our keys use exactly 109 bits. The ternary row is the
//! most conservative one; the `fhe` crate draws the secret from the error
//! distribution (centred binomial, variance 10), which is wider than
//! ternary and so no easier. Its error variance 10 (σ = 3.16) is the
//! integer closest to the standard's σ = 3.19. Modulus switching down to
//! q0 is a public operation on ciphertexts and does not change the
//! Ring-LWE instance the keys define.
//!
//! **Correctness.** A sum decrypts correctly while its noise is below
//! q0/(2t) ≈ 2^19. Measured largest noise coefficient: 2^9 for one
//! switched update, 2^12 for 100, 2^13 for 1024, 2^15 for 16 384 — hence
//! [`HeParams::MAX_CLIENTS`] = 16 384.
//!
//! **Fixed point.** See [`HeParams`]: value x ↦ round(x · 2^f) mod t; each
//! client's values are bounded so that `max_clients` of them can never wrap
//! around t/2. Encoding a value whose N-fold sum could wrap, or a NaN or
//! infinity, is an error naming the index. The decrypted sum of k updates is
//! within k · 2^−(f+1) of the exact sum.
//!
//! # Why BFV and not Paillier (measured)
//!
//! Workload: 100 clients × 10^5 parameters. Measured on the project's
//! 2-core machine, single thread, scratch benchmark:
//!
//! | | BFV (`fhe` 0.1.1, n = 4096) | Paillier, 3072-bit N (crypto-bigint 0.7) | `libpaillier` 0.6 |
//! |---|---|---|---|
//! | values per ciphertext | 4096 | 73 (42-bit slots packed in 3072 bits) | 48 (2048-bit N only) |
//! | encrypt 10^5 values | 31–50 ms | 1370 × r^N mod N² (55–88 ms) = 75–120 s; 7–9 s with short exponents | 305 s |
//! | add one update | 0.7 ms | 1370 modular multiplications | 5.3 s |
//! | decrypt 10^5 sums | 25–37 ms | 1370 × 2 CRT exponentiations (10 ms) = 28 s | 170 s |
//! | bytes per client | 1.59 MB | 1.05 MB | 1.07 MB |
//!
//! Paillier ciphertexts are about a third smaller, but every encryption is
//! a 6144-bit modular exponentiation: three orders of magnitude slower.
//! `libpaillier` 0.6 is fixed at 2048-bit moduli (112-bit security; its
//! default bigint backend panics when built with 1536-bit primes) and does
//! (N+1)^m as a full exponentiation. BFV makes the workload a matter of
//! seconds.
//!
//! # Measured cost
//!
//! `cargo run --release --example he_aggregation` (100 clients × 10^5
//! parameters, default parameters, 2 shared cores, both used by rayon;
//! `RAYON_NUM_THREADS=1` in brackets):
//!
//! | step | time |
//! |---|---|
//! | key generation (owner) | 11–15 ms |
//! | encrypt + serialise one update (client) | 33 ms (56 ms) |
//! | all 100 clients, one after the other | 3.3 s (5.6 s) |
//! | aggregator: decode + add, all 100 updates | 135 ms (153 ms), 1.4 ms per client |
//! | owner: decrypt the sum | 14 ms (17 ms) |
//! | reference: plaintext sum of the 100 updates | 12 ms |
//!
//! Bytes per client: 1 587 248 (15.87 per parameter: 25 ciphertexts of
//! 4096 slots, 63 488 bytes each, plus a 48-byte header), about 2× the f64
//! update itself. Public key: 55 875 bytes. The decrypted sum was within
//! 2.0e-4 of the plaintext sum (guaranteed bound 100 · 2^−17 = 7.6e-4).
//! Per-operation figures: `cargo bench --bench he_aggregation`.
//!
//! # Wire format
//!
//! [`EncryptedUpdate::to_bytes`] and [`EncryptedSum::to_bytes`] write
//! (integers little-endian):
//!
//! ```text
//! offset size field
//!  0      4   magic "PMHE"
//!  4      1   format version (1)
//!  5      1   kind: 1 = encrypted update, 2 = encrypted sum
//!  6      2   reserved, zero
//!  8      4   frac_bits
//! 12      4   max_clients
//! 16      8   key id (checksum of the public key and parameters)
//! 24      8   number of values
//! 32      4   number of updates summed (1 for an update)
//! 36      4   number of ciphertexts (= ⌈values / 4096⌉, 0 for an empty sum)
//! 40      8   checksum (64-bit FNV-1a over bytes 0..40 and the body)
//! 48          per ciphertext: c0 then c1, each 4096 NTT-domain
//!             coefficients mod q0 packed in 62 bits (31 744 bytes)
//! ```
//!
//! `from_bytes` checks every field, the exact length, the checksum and that
//! every coefficient is reduced modulo q0, so a decoded update is always a
//! well-formed ciphertext; bad input is an [`Error::Decode`](crate::Error::Decode),
//! never a panic. The checksum catches transmission errors, not tampering.

mod aggregator;
mod keys;
mod params;
mod wire;

pub use aggregator::{Aggregator, EncryptedSum, EncryptedUpdate};
pub use keys::{KeyPair, PublicKey, SecretKey};
pub use params::HeParams;

pub use crate::error::Rejection;
