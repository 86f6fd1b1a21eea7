//! Line plots as PNG or SVG files: training curves and function
//! approximations.
//!
//! Two pictures carry most of what privml has to show: how loss and accuracy
//! evolve per epoch (often several runs side by side, say plaintext against
//! secret-shared training), and how well a polynomial approximates a
//! non-linear function (a sigmoid on \[-10, 10\], say) that MPC cannot
//! evaluate directly. Both are a handful of named `(x, y)` series on shared
//! axes, which is all [`LinePlot`] does.
//!
//! Polynomial approximations explode outside their fitting interval; with
//! automatic scaling one curve reaching 10^12 would flatten everything else
//! into a line. Set [`LinePlot::y_range`] and every series is clipped to it
//! (segments that leave the range are cut exactly at its border, so curves
//! run to the edge instead of stopping early). Points with a NaN or
//! infinite coordinate leave a gap.
//!
//! The drawing is done by `plotters`, with its pure-Rust bitmap and SVG
//! backends and the DejaVu Sans font compiled in (from the `dejavu` crate),
//! so no system font library is needed. This module exists only with the
//! cargo feature `plot` (on by default).
//!
//! # Examples
//!
//! ```
//! use privml::plot::{LinePlot, Series};
//!
//! # fn main() -> privml::Result<()> {
//! let sigmoid = |x: f64| 1.0 / (1.0 + (-x).exp());
//! let taylor = |x: f64| 0.5 + x / 4.0 - x.powi(3) / 48.0;
//! let plot = LinePlot::new("Sigmoid approximation")
//!     .x_label("x")
//!     .y_label("y")
//!     .y_range(-0.5, 1.5)
//!     .with_series(Series::from_fn("sigmoid", (-10.0, 10.0), 201, sigmoid))
//!     .with_series(Series::from_fn("Taylor, degree 3", (-10.0, 10.0), 201, taylor));
//!
//! let path = std::env::temp_dir().join(format!("privml-doc-{}.svg", std::process::id()));
//! plot.save(&path)?;
//! let svg = std::fs::read_to_string(&path)?;
//! assert!(svg.contains("Taylor, degree 3"));
//! # std::fs::remove_file(&path)?;
//! # Ok(())
//! # }
//! ```

use std::path::Path;
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::error::{Error, FileOp, Result};
use crate::model_file::write_atomic;

/// The font family name the plots use; DejaVu Sans is registered under it.
const FONT: &str = "sans-serif";

/// Registers DejaVu Sans as `sans-serif` once per process. The outcome is
/// kept so a failure is reported on every save, not only the first.
fn ensure_font() -> std::result::Result<(), String> {
    static REGISTERED: OnceLock<std::result::Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular())
                .map_err(|_| "cannot load the bundled DejaVu Sans font".to_string())
        })
        .clone()
}

/// Okabe-Ito colours: distinguishable with the common colour-vision
/// deficiencies, and all dark enough on white (their yellow is left out).
const PALETTE: [RGBColor; 7] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
];

/// One named curve: points joined by straight lines in the given order.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Name shown in the legend.
    pub name: String,
    /// The `(x, y)` points. A point with a NaN or infinite coordinate
    /// breaks the line.
    pub points: Vec<(f64, f64)>,
}

impl Series {
    /// A series from its points.
    pub fn new(name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Series {
            name: name.into(),
            points,
        }
    }

    /// A series of per-epoch values: `values[i]` is plotted at x = i + 1.
    ///
    /// # Examples
    ///
    /// ```
    /// use privml::plot::Series;
    ///
    /// let s = Series::from_values("loss", &[0.9, 0.5, 0.3]);
    /// assert_eq!(s.points, vec![(1.0, 0.9), (2.0, 0.5), (3.0, 0.3)]);
    /// ```
    pub fn from_values(name: impl Into<String>, values: &[f64]) -> Self {
        Series::new(
            name,
            values
                .iter()
                .enumerate()
                .map(|(i, &y)| ((i + 1) as f64, y))
                .collect(),
        )
    }

    /// A function sampled at `n` evenly spaced points from `x_range.0` to
    /// `x_range.1` inclusive (one point at `x_range.0` if `n == 1`, none if
    /// `n == 0`).
    ///
    /// # Examples
    ///
    /// ```
    /// use privml::plot::Series;
    ///
    /// let s = Series::from_fn("square", (-1.0, 1.0), 3, |x| x * x);
    /// assert_eq!(s.points, vec![(-1.0, 1.0), (0.0, 0.0), (1.0, 1.0)]);
    /// ```
    pub fn from_fn(
        name: impl Into<String>,
        x_range: (f64, f64),
        n: usize,
        f: impl Fn(f64) -> f64,
    ) -> Self {
        let (a, b) = x_range;
        let step = if n > 1 { (b - a) / (n - 1) as f64 } else { 0.0 };
        let points = (0..n)
            .map(|i| {
                // Hit the end exactly rather than a + (n-1)·step.
                let x = if i + 1 == n && n > 1 {
                    b
                } else {
                    a + i as f64 * step
                };
                (x, f(x))
            })
            .collect();
        Series::new(name, points)
    }
}

/// Where the legend goes inside the plotting area.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LegendPosition {
    /// Top left corner.
    UpperLeft,
    /// Top right corner (the default).
    #[default]
    UpperRight,
    /// Bottom left corner.
    LowerLeft,
    /// Bottom right corner.
    LowerRight,
    /// No legend.
    Hidden,
}

/// The file formats [`LinePlot::save`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    /// Portable Network Graphics (bitmap).
    Png,
    /// Scalable Vector Graphics (text stays text).
    Svg,
}

impl ImageFormat {
    /// The format named by a path's extension, `.png` or `.svg` (any case).
    ///
    /// # Examples
    ///
    /// ```
    /// use privml::plot::ImageFormat;
    ///
    /// assert_eq!(ImageFormat::from_path("out/loss.PNG").unwrap(), ImageFormat::Png);
    /// assert_eq!(ImageFormat::from_path("loss.svg").unwrap(), ImageFormat::Svg);
    /// assert!(ImageFormat::from_path("loss.pdf").is_err());
    /// ```
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("png") => Ok(ImageFormat::Png),
            Some("svg") => Ok(ImageFormat::Svg),
            _ => Err(Error::invalid(
                "path",
                format!(
                    "{}: unsupported image format: the file name must end in .png or .svg",
                    path.display()
                ),
            )),
        }
    }
}

/// A line plot: a title, axis labels, named series, a legend.
///
/// Build it with the chained setters or fill the public fields, then
/// [`save`](LinePlot::save) it. The x range covers all finite points; the
/// y range does too unless [`y_range`](LinePlot::y_range) fixes it, in
/// which case the series are clipped to it.
///
/// # Examples
///
/// A training curve, plaintext against secret-shared:
///
/// ```
/// use privml::plot::{LegendPosition, LinePlot, Series};
///
/// # fn main() -> privml::Result<()> {
/// let plot = LinePlot::new("Training loss")
///     .x_label("epoch")
///     .y_label("cross-entropy")
///     .legend(LegendPosition::UpperRight)
///     .with_series(Series::from_values("plain", &[2.3, 1.1, 0.6, 0.4]))
///     .with_series(Series::from_values("shared", &[2.3, 1.1, 0.62, 0.41]));
/// let svg = plot.to_svg_string()?;
/// assert!(svg.contains("shared") && svg.contains("cross-entropy"));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct LinePlot {
    /// Caption above the plot.
    pub title: String,
    /// Label of the horizontal axis.
    pub x_label: String,
    /// Label of the vertical axis.
    pub y_label: String,
    /// The curves, drawn in order with a fixed colour cycle.
    pub series: Vec<Series>,
    /// Fixed vertical range `(low, high)`; `None` fits the data.
    pub y_range: Option<(f64, f64)>,
    /// Image size in pixels (width, height); default 800 x 500.
    pub size: (u32, u32),
    /// Where the legend goes.
    pub legend: LegendPosition,
}

impl LinePlot {
    /// An empty plot with a title, no axis labels and the default size.
    pub fn new(title: impl Into<String>) -> Self {
        LinePlot {
            title: title.into(),
            x_label: String::new(),
            y_label: String::new(),
            series: Vec::new(),
            y_range: None,
            size: (800, 500),
            legend: LegendPosition::default(),
        }
    }

    /// Sets the x-axis label.
    pub fn x_label(mut self, label: impl Into<String>) -> Self {
        self.x_label = label.into();
        self
    }

    /// Sets the y-axis label.
    pub fn y_label(mut self, label: impl Into<String>) -> Self {
        self.y_label = label.into();
        self
    }

    /// Fixes the vertical range and clips the series to it.
    pub fn y_range(mut self, low: f64, high: f64) -> Self {
        self.y_range = Some((low, high));
        self
    }

    /// Sets the image size in pixels.
    pub fn size(mut self, width: u32, height: u32) -> Self {
        self.size = (width, height);
        self
    }

    /// Sets the legend position.
    pub fn legend(mut self, position: LegendPosition) -> Self {
        self.legend = position;
        self
    }

    /// Adds a series.
    pub fn with_series(mut self, series: Series) -> Self {
        self.series.push(series);
        self
    }

    /// Adds a series in place.
    pub fn push(&mut self, series: Series) {
        self.series.push(series);
    }

    /// Writes the plot to `path`, as PNG or SVG by the extension (see
    /// [`ImageFormat::from_path`]), atomically: into a temporary file in the
    /// same directory, renamed over `path` once complete. Fails with
    /// [`Error::InvalidParameter`] for another extension or a plot that
    /// cannot be drawn (no finite point, an empty or reversed `y_range`, a
    /// size outside 100..=10000 pixels), and with [`Error::FileIo`] naming
    /// `path` when the file cannot be written.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let format = ImageFormat::from_path(path)?;
        let layout = self.layout()?;
        match format {
            ImageFormat::Png => {
                ensure_font().map_err(|e| Error::internal("LinePlot::save", e))?;
                let dir = match path.parent() {
                    Some(d) if !d.as_os_str().is_empty() => d,
                    _ => Path::new("."),
                };
                let write_err = |e| Error::file(FileOp::Write, path, e);
                // plotters picks the encoder by the extension of the file it writes.
                let tmp = tempfile::Builder::new()
                    .prefix(".privml-")
                    .suffix(".png")
                    .tempfile_in(dir)
                    .map_err(write_err)?;
                let root = BitMapBackend::new(tmp.path(), self.size).into_drawing_area();
                self.render(root, &layout)
                    .map_err(|e| write_err(std::io::Error::other(e)))?;
                tmp.persist(path)
                    .map_err(|e| Error::file(FileOp::Rename, path, e.error))?;
                Ok(())
            }
            ImageFormat::Svg => write_atomic(path, self.to_svg_string()?.as_bytes()),
        }
    }

    /// The plot as an SVG document, without touching the file system.
    pub fn to_svg_string(&self) -> Result<String> {
        let layout = self.layout()?;
        let fail = |reason: String| Error::internal("LinePlot::to_svg_string", reason);
        ensure_font().map_err(fail)?;
        let mut buf = String::new();
        {
            let root = SVGBackend::with_string(&mut buf, self.size).into_drawing_area();
            self.render(root, &layout).map_err(fail)?;
        }
        Ok(buf)
    }

    /// Checks the plot and works out the axes and the visible polylines.
    fn layout(&self) -> Result<Layout> {
        let (w, h) = self.size;
        if !(100..=10_000).contains(&w) || !(100..=10_000).contains(&h) {
            return Err(Error::invalid(
                "size",
                format!("{w} x {h} pixels: each side must be within 100..=10000"),
            ));
        }
        if let Some((lo, hi)) = self.y_range
            && !(lo.is_finite() && hi.is_finite() && lo < hi)
        {
            return Err(Error::invalid(
                "y_range",
                format!("({lo}, {hi}) is not a finite range with low < high"),
            ));
        }
        let finite = |&&(x, y): &&(f64, f64)| x.is_finite() && y.is_finite();
        let all = || {
            self.series
                .iter()
                .flat_map(|s| s.points.iter().filter(finite))
        };
        let Some(x_range) = span(all().map(|p| p.0)) else {
            return Err(Error::invalid(
                "series",
                "nothing to plot: no series has a point with finite coordinates",
            ));
        };
        let x_range = pad(x_range, 0.0);
        let y_range = match self.y_range {
            Some(r) => r,
            None => match span(all().map(|p| p.1)) {
                Some(r) => pad(r, 0.05),
                None => (0.0, 1.0),
            },
        };
        let lines = self
            .series
            .iter()
            .map(|s| clip_polylines(&s.points, y_range))
            .collect();
        Ok(Layout {
            x_range,
            y_range,
            lines,
        })
    }

    fn render<DB: DrawingBackend>(
        &self,
        root: DrawingArea<DB, Shift>,
        layout: &Layout,
    ) -> std::result::Result<(), String> {
        let err = |e: DrawingAreaErrorKind<DB::ErrorType>| format!("cannot draw: {e}");
        root.fill(&WHITE).map_err(err)?;
        let (x0, x1) = layout.x_range;
        let (y0, y1) = layout.y_range;
        let mut chart = ChartBuilder::on(&root)
            .caption(&self.title, (FONT, 22))
            .margin(12)
            .x_label_area_size(if self.x_label.is_empty() { 30 } else { 50 })
            .y_label_area_size(if self.y_label.is_empty() { 60 } else { 80 })
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc(self.x_label.as_str())
            .y_desc(self.y_label.as_str())
            .axis_desc_style((FONT, 16))
            .label_style((FONT, 13))
            .x_label_formatter(&|v| tick(*v, x1 - x0))
            .y_label_formatter(&|v| tick(*v, y1 - y0))
            .light_line_style(RGBColor(235, 235, 235))
            .bold_line_style(RGBColor(210, 210, 210))
            .draw()
            .map_err(err)?;
        for (k, (series, lines)) in self.series.iter().zip(&layout.lines).enumerate() {
            let color = PALETTE[k % PALETTE.len()];
            let style = ShapeStyle::from(&color).stroke_width(2);
            // The first polyline (possibly empty) carries the legend entry,
            // so a series clipped away entirely is still listed.
            let mut first = true;
            let none = Vec::new();
            for line in lines.iter().chain(lines.is_empty().then_some(&none)) {
                let drawn = if line.len() == 1 {
                    chart
                        .draw_series(std::iter::once(Circle::new(line[0], 3, style.filled())))
                        .map_err(err)?
                } else {
                    chart
                        .draw_series(LineSeries::new(line.iter().copied(), style))
                        .map_err(err)?
                };
                if first {
                    drawn
                        .label(series.name.as_str())
                        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
                    first = false;
                }
            }
        }
        let position = match self.legend {
            LegendPosition::UpperLeft => Some(SeriesLabelPosition::UpperLeft),
            LegendPosition::UpperRight => Some(SeriesLabelPosition::UpperRight),
            LegendPosition::LowerLeft => Some(SeriesLabelPosition::LowerLeft),
            LegendPosition::LowerRight => Some(SeriesLabelPosition::LowerRight),
            LegendPosition::Hidden => None,
        };
        if let (Some(position), false) = (position, self.series.is_empty()) {
            chart
                .configure_series_labels()
                .position(position)
                .label_font((FONT, 14))
                .background_style(WHITE.mix(0.85))
                .border_style(RGBColor(160, 160, 160))
                .draw()
                .map_err(err)?;
        }
        root.present().map_err(err)?;
        Ok(())
    }
}

/// Axes and visible polylines, worked out before any drawing starts.
struct Layout {
    x_range: (f64, f64),
    y_range: (f64, f64),
    lines: Vec<Vec<Vec<(f64, f64)>>>,
}

fn span(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    values.fold(None, |acc, v| match acc {
        None => Some((v, v)),
        Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
    })
}

/// Widens a range by `frac` of its length on each side; a single value gets
/// a unit-sized range around it.
fn pad((lo, hi): (f64, f64), frac: f64) -> (f64, f64) {
    let len = hi - lo;
    if len > 0.0 && len.is_finite() {
        (lo - frac * len, hi + frac * len)
    } else if len > 0.0 {
        (lo, hi)
    } else {
        let d = (lo.abs() * 0.1).max(0.5);
        (lo - d, hi + d)
    }
}

/// Tick labels: short, in scientific notation for very large or small
/// magnitudes, and exactly `0` for a tick that is zero up to rounding
/// (|v| tiny against the axis `span`, like -5.6e-17 on a \[-0.5, 1.5\] axis).
fn tick(v: f64, span: f64) -> String {
    let a = v.abs();
    if a <= span.abs() * 1e-9 {
        return "0".into();
    }
    if !(1e-3..1e5).contains(&a) {
        format!("{v:.1e}")
    } else {
        // Enough decimals to tell ticks a thousandth of the span apart.
        let decimals = (3.0 - span.abs().log10().floor()).clamp(0.0, 12.0) as usize;
        let s = format!("{v:.decimals$}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        if s == "-0" { "0".into() } else { s.into() }
    }
}

/// The part of segment p-q inside the band `lo <= y <= hi`, if any.
fn clip_segment(
    p: (f64, f64),
    q: (f64, f64),
    (lo, hi): (f64, f64),
) -> Option<((f64, f64), (f64, f64))> {
    let inside = |y: f64| lo <= y && y <= hi;
    if p.1 == q.1 {
        return inside(p.1).then_some((p, q));
    }
    // Parameter t in [0, 1] along p -> q where y crosses lo and hi; halves
    // keep the differences finite even for values near f64::MAX.
    let at = |y: f64| (y * 0.5 - p.1 * 0.5) / (q.1 * 0.5 - p.1 * 0.5);
    let (ta, tb) = (at(lo), at(hi));
    // Entering the band at one border and leaving it at the other.
    let ((t_in, y_in), (t_out, y_out)) = if ta <= tb {
        ((ta, lo), (tb, hi))
    } else {
        ((tb, hi), (ta, lo))
    };
    if t_in.max(0.0) > t_out.min(1.0) {
        return None;
    }
    let x_at = |t: f64| p.0 + t * (q.0 - p.0);
    // At a crossing, y is the border itself (exact, where interpolating y
    // could round past it or overflow).
    let a = if t_in <= 0.0 { p } else { (x_at(t_in), y_in) };
    let b = if t_out >= 1.0 {
        q
    } else {
        (x_at(t_out), y_out)
    };
    Some((a, b))
}

/// Splits a series into the polylines visible in the y band: broken at
/// non-finite points, cut where it leaves the band. A lone visible point
/// becomes a one-point polyline (drawn as a dot).
fn clip_polylines(points: &[(f64, f64)], band: (f64, f64)) -> Vec<Vec<(f64, f64)>> {
    let finite = |p: &(f64, f64)| p.0.is_finite() && p.1.is_finite();
    let mut out: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut current: Vec<(f64, f64)> = Vec::new();
    let flush = |current: &mut Vec<(f64, f64)>, out: &mut Vec<Vec<(f64, f64)>>| {
        if !current.is_empty() {
            out.push(std::mem::take(current));
        }
    };
    // Runs of consecutive finite points.
    for run in points.split(|p| !finite(p)) {
        match run {
            [] => {}
            [p] => {
                if band.0 <= p.1 && p.1 <= band.1 {
                    out.push(vec![*p]);
                }
            }
            _ => {
                for w in run.windows(2) {
                    match clip_segment(w[0], w[1], band) {
                        Some((a, b)) => {
                            if current.last() != Some(&a) {
                                flush(&mut current, &mut out);
                                current.push(a);
                            }
                            current.push(b);
                        }
                        None => flush(&mut current, &mut out),
                    }
                }
                flush(&mut current, &mut out);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const BAND: (f64, f64) = (-1.0, 1.0);

    #[test]
    fn segment_inside_is_kept_whole() {
        let (p, q) = ((0.0, -0.5), (1.0, 0.5));
        assert_eq!(clip_segment(p, q, BAND), Some((p, q)));
    }

    #[test]
    fn segment_is_cut_at_the_border() {
        let r = clip_segment((0.0, 0.0), (1.0, 4.0), BAND);
        assert_eq!(r, Some(((0.0, 0.0), (0.25, 1.0))));
        // Crossing the whole band from below to above.
        let r = clip_segment((0.0, -3.0), (4.0, 5.0), BAND);
        assert_eq!(r, Some(((1.0, -1.0), (2.0, 1.0))));
        // From above to below.
        let r = clip_segment((0.0, 5.0), (1.0, -3.0), BAND);
        assert_eq!(r, Some(((0.5, 1.0), (0.75, -1.0))));
        // Entirely outside.
        assert_eq!(clip_segment((0.0, 2.0), (1.0, 3.0), BAND), None);
        assert_eq!(clip_segment((0.0, 2.0), (1.0, 2.0), BAND), None);
        // Huge values do not overflow.
        let r = clip_segment((0.0, -f64::MAX), (1.0, f64::MAX), BAND);
        let ((x0, y0), (x1, y1)) = r.unwrap_or_default();
        assert_eq!((y0, y1), (-1.0, 1.0));
        assert!((0.0..=1.0).contains(&x0) && x0 <= x1 && x1 <= 1.0);
    }

    #[test]
    fn polylines_break_at_gaps_and_excursions() {
        let pts = [
            (0.0, 0.0),
            (1.0, 0.5),
            (2.0, 5.0), // leaves the band
            (3.0, 0.5), // comes back
            (4.0, 0.0),
            (5.0, f64::NAN), // gap
            (6.0, 0.0),      // lone point
            (7.0, f64::INFINITY),
        ];
        let lines = clip_polylines(&pts, BAND);
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert_eq!(lines[0][..2], [(0.0, 0.0), (1.0, 0.5)]);
        assert_eq!(lines[0].last().map(|p| p.1), Some(1.0));
        assert_eq!(lines[1][0].1, 1.0);
        assert_eq!(lines[1][1..], [(3.0, 0.5), (4.0, 0.0)]);
        assert_eq!(lines[2], vec![(6.0, 0.0)]);
    }

    #[test]
    fn ranges_and_ticks() {
        assert_eq!(pad((0.0, 10.0), 0.05), (-0.5, 10.5));
        assert_eq!(pad((3.0, 3.0), 0.05), (2.5, 3.5));
        assert_eq!(tick(0.25, 1.0), "0.25");
        assert_eq!(tick(2.0, 1.0), "2");
        assert_eq!(tick(-0.0, 1.0), "0");
        assert_eq!(tick(-5.6e-17, 2.0), "0");
        assert_eq!(tick(1e12, 1e13), "1.0e12");
        assert_eq!(tick(0.0001, 0.001), "1.0e-4");
        assert_eq!(tick(0.00125, 0.01), "0.00125");
        assert_eq!(tick(1234.7, 5000.0), "1235");
    }

    #[test]
    fn layout_rejects_bad_plots() {
        assert!(LinePlot::new("empty").layout().is_err());
        let nan = LinePlot::new("nan").with_series(Series::new("s", vec![(f64::NAN, 1.0)]));
        assert!(nan.layout().is_err());
        let ok = LinePlot::new("ok").with_series(Series::from_values("s", &[1.0, 2.0]));
        assert!(ok.layout().is_ok());
        assert!(ok.clone().y_range(1.0, 1.0).layout().is_err());
        assert!(ok.clone().y_range(0.0, f64::INFINITY).layout().is_err());
        assert!(ok.clone().size(10, 500).layout().is_err());
    }

    #[test]
    fn from_fn_ends_exactly() {
        let s = Series::from_fn("f", (-10.0, 10.0), 7, |x| x);
        assert_eq!(s.points.first(), Some(&(-10.0, -10.0)));
        assert_eq!(s.points.last(), Some(&(10.0, 10.0)));
        assert_eq!(
            Series::from_fn("f", (0.0, 1.0), 1, |x| x).points,
            vec![(0.0, 0.0)]
        );
        assert!(Series::from_fn("f", (0.0, 1.0), 0, |x| x).points.is_empty());
    }
}
