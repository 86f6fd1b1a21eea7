//! Helpers of the ONNX tests: the committed fixtures, the CLI, and the
//! comparisons every test of imported models makes.
#![allow(
    dead_code,
    reason = "shared by several test files, each of which uses only some of it"
)]

use std::path::{Path, PathBuf};
use std::process::Command;

use ndarray::Array2;

/// A file of `tests/fixtures/onnx`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/onnx")
        .join(name)
}

/// Runs the CLI, asserts that it succeeded, and returns its stdout.
pub fn privml(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_privml"))
        .args(args)
        .output()
        .expect("the privml binary runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{args:?}: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// The largest absolute difference of two matrices of the same shape.
pub fn max_diff(a: &Array2<f64>, b: &Array2<f64>) -> f64 {
    assert_eq!(a.shape(), b.shape());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

/// Each row's index of its largest value (the first one on ties).
pub fn argmax(a: &Array2<f64>) -> Vec<usize> {
    a.rows()
        .into_iter()
        .map(|r| (0..r.len()).fold(0, |b, k| if r[k] > r[b] { k } else { b }))
        .collect()
}
