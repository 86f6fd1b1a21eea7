//! The article's additive secret-sharing demo (mod Q = 501337), then the same
//! addition and public scaling on privml's replicated shares.
//!
//! `cargo run --release --example additive_sharing [-- --domain shared|fixed|plain]`

#[path = "common/mod.rs"]
mod common;

use privml::experiments::{additive, stdout_log};
use privml::runner::{Job, execute, speaks};
use privml::{Result, Ring};

struct TwoPlusFive;

impl Job for TwoPlusFive {
    type Output = (f64, f64);
    fn run<R: Ring>(&self, r: &mut R) -> Result<(f64, f64)> {
        let (two, five) = (ndarray::arr0(2.0).into_dyn(), ndarray::arr0(5.0).into_dyn());
        let a = r.input(0, r.owns(0).then_some(&two), &[])?;
        let b = r.input(1, r.owns(1).then_some(&five), &[])?;
        let s = r.add(&a, &b)?;
        let p = r.scale_int(&s, 3)?;
        let (s, p) = (r.reveal(&s)?[[]], r.reveal(&p)?[[]]);
        if speaks(r) {
            println!("{}: 2 + 5 = {s}, 3 · (2 + 5) = {p}", r.describe());
        }
        Ok((s, p))
    }
}

fn main() -> Result<()> {
    let out = additive::run(&stdout_log, 3)?;
    assert_eq!(out.sum, 7);
    let exec = common::exec_from_args();
    let ((s, p), cost) = execute(&exec, &TwoPlusFive)?;
    assert_eq!((s, p), (7.0, 21.0));
    print!("{}", cost.report());
    Ok(())
}
