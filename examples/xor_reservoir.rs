//! The article's PySyft demo: XOR through a random 2 → 256 ReLU reservoir
//! (applied in plaintext by the data owner), then linear regression trained
//! on secret-shared data, targets and model: 250 steps, learning rate 1e-3.
//!
//! `cargo run --release --example xor_reservoir [-- --domain shared|fixed|plain]`

#[path = "common/mod.rs"]
mod common;

use privml::Result;
use privml::experiments::{reservoir, stdout_log};
use privml::runner::execute;

fn main() -> Result<()> {
    let exec = common::exec_from_args();
    let job = reservoir::ReservoirJob {
        config: reservoir::Reservoir::default(),
        log: &stdout_log,
    };
    let (out, cost) = execute(&exec, &job)?;
    let learned = out
        .predictions
        .iter()
        .zip(&out.targets)
        .all(|(p, t)| (*p > 0.5) == (*t > 0.5));
    println!("XOR learned on {}: {learned}", exec.describe());
    print!("{}", cost.report());
    Ok(())
}
