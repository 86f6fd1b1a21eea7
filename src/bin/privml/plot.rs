//! `privml plot`: figures.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, ValueEnum};
use privml::approx::sigmoid;
use privml::plot::{LinePlot, Series};

/// What to plot.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum Figure {
    /// The sigmoid approximations against the true sigmoid (the tutorial's figures).
    Sigmoid,
}

/// Arguments of `privml plot`.
#[derive(Args, Debug)]
pub struct PlotArgs {
    /// The figure.
    #[arg(value_enum)]
    figure: Figure,
    /// Output file (.png or .svg).
    #[arg(long, default_value = "sigmoid.png")]
    out: PathBuf,
    /// Half-width of the x range.
    #[arg(long, default_value_t = 12.0)]
    range: f64,
}

/// Runs `privml plot`.
pub fn run(args: PlotArgs) -> Result<()> {
    match args.figure {
        Figure::Sigmoid => {
            let a = args.range;
            let mut plot = LinePlot::new("sigmoid and its polynomial approximations")
                .x_label("x")
                .y_label("value")
                .y_range(-0.5, 1.5)
                .with_series(Series::from_fn("sigmoid", (-a, a), 801, sigmoid::exact));
            for p in sigmoid::catalogue() {
                let f = p.clone();
                plot.push(Series::from_fn(p.name.clone(), (-a, a), 801, move |x| {
                    f.eval(x)
                }));
            }
            plot.save(&args.out)?;
            outln!("wrote {}", args.out.display());
        }
    }
    Ok(())
}
