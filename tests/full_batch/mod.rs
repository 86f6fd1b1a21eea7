//! The tutorial's full-batch training on shares, the program of the
//! disclosure tests of `nn::train_full_batch` (`tests/suite/leaks.rs`,
//! `tests/suite/disclosure.rs`).

use privml::experiments::boolean;
use privml::{Ring, Shared, nn};

/// The tutorial's rows on shares (the data owner's, party 1), and its
/// three-layer network trained full-batch for `iterations`, reporting the
/// error every `every`.
pub fn full_batch(
    r: &mut Shared<u64>,
    iterations: usize,
    every: usize,
) -> privml::Result<Vec<nn::ErrorReport>> {
    let e = boolean::headline();
    let (x, y) = e.data();
    let (x, y) = (x.into_dyn(), y.into_dyn());
    let xs = r.input(1, r.owns(1).then_some(&x), &[4, 3])?;
    let ys = r.input(1, r.owns(1).then_some(&y), &[4, 1])?;
    let mut net = nn::three_layer(r, nn::Activation::sigmoid(e.approx.clone()), 1)?;
    let schedule = nn::FullBatch {
        iterations,
        lr: 1.0,
        report_every: every,
    };
    nn::train_full_batch(r, &mut net, (&xs, &ys), schedule, |_| ())
}
