//! The tutorial's boolean-function experiments, with its iteration counts:
//! first bit and parity, two- and three-layer networks, Maclaurin-5/-9/-3 and
//! the interpolated sigmoid. On `--domain fixed` the collapses are explained
//! (which operation overflowed, at which iteration).
//!
//! `cargo run --release --example boolean_functions [-- --domain shared|fixed|plain --ring 64|128]`

#[path = "common/mod.rs"]
mod common;

use privml::experiments::{boolean, stdout_log};
use privml::runner::execute;
use privml::{Error, Result};

fn main() -> Result<()> {
    let exec = common::exec_from_args();
    for e in boolean::tutorial_experiments()? {
        println!(
            "\n=== {} — {} iterations on {} ===",
            e.title,
            e.iterations,
            exec.describe()
        );
        let job = boolean::BooleanJob {
            experiment: e,
            log: &stdout_log,
        };
        match execute(&exec, &job) {
            Ok((_, cost)) => print!("{}", cost.report()),
            Err(Error::Overflow(ev)) => println!("collapse explained: {ev}"),
            Err(Error::NonFiniteResult { at }) => println!("collapse: NaN/infinity at {at}"),
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
