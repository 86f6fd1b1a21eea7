//! The integration tests, one module per topic, in one test binary.
//!
//! Why one binary: every integration test file is a crate of its own, which
//! links privml again and instantiates its generic code (the models over
//! every domain) again; with some forty topics that was most of the test
//! build. The three hostile-input suites stay separate binaries
//! (`tests/frame_decoder.rs`, `tests/fuzz_decoders.rs`,
//! `tests/untrusted_input.rs`): they install a counting global allocator and
//! read the process's largest allocation, which other topics would disturb.
//!
//! Run one topic with a filter: `cargo test --release --test suite privacy::`.

#![allow(
    clippy::duplicate_mod,
    reason = "net_common includes temp_dir for the separate binaries, which use it alone; two copies of a small helper cost nothing"
)]

// Helpers shared with the separate binaries, where they live.
#[path = "../common/mod.rs"]
mod common;
#[cfg(all(feature = "tls", feature = "cli"))]
#[path = "../fed_common/mod.rs"]
mod fed_common;
#[path = "../full_batch/mod.rs"]
mod full_batch;
#[cfg(feature = "tls")]
#[path = "../net_common/mod.rs"]
mod net_common;
#[path = "../onnx_common/mod.rs"]
mod onnx_common;
#[path = "../protocols/mod.rs"]
mod protocols;
#[path = "../temp_dir/mod.rs"]
mod temp_dir;
#[path = "../tiny_training/mod.rs"]
mod tiny_training;
#[path = "../view_stats/mod.rs"]
mod view_stats;

mod cli;
mod cli_party;
mod cli_party_onnx;
mod cli_two_party;
mod clients;
mod cnn_mnist;
mod cnn_training;
mod compare;
mod conformance;
mod data;
mod disclosure;
mod emulate;
mod experiments;
mod failures;
mod fed_restart;
mod fed_sites;
mod fed_sites_he;
mod fed_view;
mod federated;
mod files_and_keys;
mod fixed_point;
mod functions;
mod gadgets;
mod gemm_exact;
mod handover;
mod he;
mod keystreams;
mod layering;
mod layers;
mod leaks;
mod learn;
mod onnx_cli;
mod onnx_cost;
mod onnx_import;
mod onnx_ops;
mod onnx_torch;
mod plot;
mod preprocessing;
mod privacy;
mod privacy_two_party;
mod query_privacy;
mod tcp;
mod truncation;
mod two_party;
