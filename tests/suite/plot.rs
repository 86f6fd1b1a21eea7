//! Integration tests of `privml::plot`: real PNG and SVG files on disk.
#![cfg(feature = "plot")]

use crate::temp_dir;

use privml::plot::{LegendPosition, LinePlot, Series};
use privml::{Error, FileOp};
use temp_dir::TempDir;

fn training_curves() -> LinePlot {
    LinePlot::new("Training loss")
        .x_label("epoch")
        .y_label("cross-entropy")
        .with_series(Series::from_values(
            "plain",
            &[2.30, 1.20, 0.70, 0.45, 0.33],
        ))
        .with_series(Series::from_values(
            "secret-shared",
            &[2.30, 1.21, 0.71, 0.46, 0.35],
        ))
}

fn sigmoid_approximations() -> LinePlot {
    let sigmoid = |x: f64| 1.0 / (1.0 + (-x).exp());
    // Degree-3 Taylor polynomial around 0: reaches about -20 and 21 at the ends.
    let taylor = |x: f64| 0.5 + x / 4.0 - x.powi(3) / 48.0;
    // Degree-9 polynomial: |p(10)| is about 1e6.
    let deg9 = |x: f64| 0.5 + x / 4.0 - x.powi(3) / 48.0 + x.powi(5) / 480.0 - x.powi(9) / 4e3;
    LinePlot::new("Sigmoid and polynomial approximations")
        .x_label("x")
        .y_label("y")
        .y_range(-0.5, 1.5)
        .legend(LegendPosition::UpperLeft)
        .with_series(Series::from_fn("sigmoid", (-10.0, 10.0), 401, sigmoid))
        .with_series(Series::from_fn("Taylor deg 3", (-10.0, 10.0), 401, taylor))
        .with_series(Series::from_fn("deg 9", (-10.0, 10.0), 401, deg9))
}

/// PNG width and height from the IHDR chunk.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    let be = |i: usize| u32::from_be_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    (be(16), be(20))
}

#[test]
fn writes_a_png() {
    let dir = TempDir::new("png");
    let path = dir.join("loss.png");
    training_curves().size(640, 400).save(&path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(&bytes[12..16], b"IHDR");
    assert_eq!(png_size(&bytes), (640, 400));
    // A blank white image compresses to well under 1 KB; text, grid and
    // curves make several KB.
    assert!(bytes.len() > 5_000, "{} bytes", bytes.len());
}

#[test]
fn writes_an_svg_with_titles_labels_and_series_names() {
    let dir = TempDir::new("svg");
    let path = dir.join("sigmoid.svg");
    sigmoid_approximations().save(&path).unwrap();
    let svg = std::fs::read_to_string(&path).unwrap();
    assert!(svg.starts_with("<svg"), "{}", &svg[..svg.len().min(80)]);
    assert!(svg.trim_end().ends_with("</svg>"));
    assert!(svg.len() > 5_000, "{} bytes", svg.len());
    for text in [
        "Sigmoid and polynomial approximations",
        "sigmoid",
        "Taylor deg 3",
        "deg 9",
    ] {
        assert!(svg.contains(text), "missing {text:?}");
    }
    // One polyline per visible piece: the sigmoid is one piece, each
    // exploding polynomial is clipped to pieces inside [-0.5, 1.5].
    assert!(svg.matches("<polyline").count() >= 3);
}

#[test]
fn extension_is_case_insensitive() {
    let dir = TempDir::new("case");
    let png = dir.join("LOSS.PNG");
    training_curves().save(&png).unwrap();
    assert_eq!(&std::fs::read(&png).unwrap()[1..4], b"PNG");
    let svg = dir.join("loss.Svg");
    training_curves().save(&svg).unwrap();
    assert!(
        std::fs::read_to_string(&svg)
            .unwrap()
            .contains("secret-shared")
    );
}

#[test]
fn other_extensions_are_parameter_errors_naming_the_path() {
    let dir = TempDir::new("ext");
    for name in ["loss.pdf", "loss.jpg", "loss"] {
        let path = dir.join(name);
        match training_curves().save(&path) {
            Err(Error::InvalidParameter {
                name: "path",
                reason,
            }) => {
                assert!(reason.starts_with(&path.display().to_string()), "{reason}");
                assert!(reason.contains(".png or .svg"), "{reason}");
            }
            other => panic!("{name}: expected InvalidParameter, got {other:?}"),
        }
        assert!(!path.exists());
    }
}

#[test]
fn unwritable_path_is_an_error_not_a_panic() {
    let dir = TempDir::new("nodir");
    for name in ["missing/sub/loss.png", "missing/sub/loss.svg"] {
        let path = dir.join(name);
        let err = training_curves().save(&path).unwrap_err();
        match err {
            Error::FileIo {
                op: FileOp::Write,
                path: p,
                ..
            } => assert_eq!(p, path),
            other => panic!("expected FileIo, got {other:?}"),
        }
    }
}

#[test]
fn clipping_keeps_the_reference_curve_readable() {
    // With a fixed y range the axis ticks stay within it even though a
    // series reaches ~1e6; without one the exploding series sets the scale.
    let clipped = sigmoid_approximations().to_svg_string().unwrap();
    assert!(!clipped.contains("e5") && !clipped.contains("e6"));
    let mut free = sigmoid_approximations();
    free.y_range = None;
    let free = free.to_svg_string().unwrap();
    assert!(free.contains("e5") || free.contains("e6"));
}

#[test]
fn gaps_single_points_and_hidden_legend_render() {
    let dir = TempDir::new("gaps");
    let path = dir.join("gaps.png");
    let plot = LinePlot::new("gaps")
        .legend(LegendPosition::Hidden)
        .with_series(Series::new(
            "with gap",
            vec![(0.0, 1.0), (1.0, f64::NAN), (2.0, 2.0), (3.0, 1.5)],
        ))
        .with_series(Series::new("one epoch", vec![(1.0, 0.5)]));
    plot.save(&path).unwrap();
    assert!(std::fs::metadata(&path).unwrap().len() > 1_000);
    let svg = plot.to_svg_string().unwrap();
    assert!(!svg.contains("one epoch"), "hidden legend drew labels");
}

#[test]
fn nothing_to_plot_is_an_error() {
    let dir = TempDir::new("empty");
    let path = dir.join("empty.png");
    let err = LinePlot::new("empty").save(&path).unwrap_err();
    assert!(matches!(err, Error::InvalidParameter { .. }), "{err:?}");
    assert!(!path.exists());
}
