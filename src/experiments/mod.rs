//! The experiments of the two source documents, runnable on any domain.
//!
//! - [`additive`]: the article's three-share additive demo mod 501337, and
//!   the same computation on privml's replicated shares.
//! - [`boolean`]: the tutorial's two- and three-layer networks learning the
//!   first bit and the parity of three bits, with Maclaurin and interpolated
//!   sigmoid polynomials, including the collapse and its explanation.
//! - [`reservoir`]: the article's PySyft demo: XOR through a random ReLU
//!   reservoir, then linear regression on secret-shared data.
//!
//! Each experiment is a [`Job`](crate::runner::Job), so `privml demo`, the
//! examples and the tests run the same code on `Plain`, `Fixed` or `Shared`.

pub mod additive;
pub mod boolean;
pub mod reservoir;

/// Where experiment output goes: a line at a time.
pub type Log<'a> = &'a (dyn Fn(&str) + Sync);

/// A log that prints to stdout. A line that cannot be written (stdout
/// closed, for example piped into `head`) is dropped rather than a panic.
pub fn stdout_log(line: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

/// A log that drops everything (tests, benches).
pub fn quiet(_: &str) {}
