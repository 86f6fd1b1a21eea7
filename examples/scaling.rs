//! How time, bytes and memory grow with the work (issue 19, item 6): W1
//! (elementwise products) from 10^4 to 10^7 elements, W2 (square matrix
//! products) from 64 to 2048, and one SGD step of Network A (784-128-128-10)
//! from batch 1 to 512, on `Shared<u64>` (three parties in this process)
//! next to the plaintext f64 twin. Writes `docs/performance.md` (tables and
//! the fitted exponent of each curve) and one log-log plot per workload.
//!
//! ```text
//! cargo run --release --example scaling            # writes docs/performance.md and docs/scaling-*.svg
//! cargo run --release --example scaling -- --quick # fewer sizes, one run each, prints only
//! ```

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use privml::plot::{LinePlot, Series};
use privml::runner::DomainKind;
use privml::workloads::{self, Measurement, W1Mul, W2Matmul, W6Mlp, Workload};

/// One measured point of a curve.
struct Point {
    size: f64,
    secure_s: f64,
    plain_s: f64,
    rounds: u64,
    busiest_bytes: u64,
    peak_rss: Option<u64>,
}

/// A workload family measured over its sizes.
struct Curve {
    name: &'static str,
    size_label: &'static str,
    slug: &'static str,
    points: Vec<Point>,
}

fn measure<W: Workload>(w: &W, size: f64, runs: usize) -> privml::Result<Point> {
    let m: Measurement = workloads::measure(w, DomainKind::Shared64, runs, runs.max(3))?;
    let secs = |d: Option<std::time::Duration>| d.map_or(f64::NAN, |d| d.as_secs_f64());
    Ok(Point {
        size,
        secure_s: secs(m.median()),
        plain_s: secs(m.plain_median()),
        rounds: m.cost.rounds,
        busiest_bytes: m.cost.bytes_sent.into_iter().max().unwrap_or(0),
        peak_rss: m.peak_rss_bytes,
    })
}

/// Least-squares slope of log(y) over log(x): the exponent of y ∝ x^e.
fn exponent(points: &[(f64, f64)]) -> f64 {
    let pts: Vec<(f64, f64)> = points
        .iter()
        .filter(|(x, y)| *x > 0.0 && *y > 0.0 && y.is_finite())
        .map(|(x, y)| (x.ln(), y.ln()))
        .collect();
    let n = pts.len() as f64;
    if pts.len() < 2 {
        return f64::NAN;
    }
    let (mx, my) = (
        pts.iter().map(|p| p.0).sum::<f64>() / n,
        pts.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let sxy: f64 = pts.iter().map(|(x, y)| (x - mx) * (y - my)).sum();
    let sxx: f64 = pts.iter().map(|(x, _)| (x - mx) * (x - mx)).sum();
    sxy / sxx
}

/// The exponent over all sizes and over the larger half (where fixed costs
/// per run no longer dominate).
fn exponents(c: &Curve, y: impl Fn(&Point) -> f64) -> (f64, f64) {
    let all: Vec<(f64, f64)> = c.points.iter().map(|p| (p.size, y(p))).collect();
    let top = &all[all.len() / 2..];
    (exponent(&all), exponent(top))
}

fn table(c: &Curve) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "### {}\n", c.name);
    let _ = writeln!(
        s,
        "| {} | shared s | plaintext s | ratio | rounds | busiest party's bytes | peak RSS |",
        c.size_label
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|");
    for p in &c.points {
        let _ = writeln!(
            s,
            "| {} | {:.5} | {:.5} | {:.1}x | {} | {:.3} MB | {} |",
            p.size,
            p.secure_s,
            p.plain_s,
            p.secure_s / p.plain_s,
            p.rounds,
            p.busiest_bytes as f64 / 1e6,
            p.peak_rss
                .map_or("-".to_string(), |b| format!("{:.0} MB", b as f64 / 1e6))
        );
    }
    let (t_all, t_top) = exponents(c, |p| p.secure_s);
    let (p_all, p_top) = exponents(c, |p| p.plain_s);
    let (b_all, _) = exponents(c, |p| p.busiest_bytes as f64);
    let (m_all, m_top) = exponents(c, |p| p.peak_rss.map_or(f64::NAN, |b| b as f64));
    let _ = writeln!(
        s,
        "\nFitted exponents (y ∝ size^e, least squares on logs; all sizes / larger half): \
         shared time {t_all:.2} / {t_top:.2}, plaintext time {p_all:.2} / {p_top:.2}, \
         bytes {b_all:.2}, peak memory {m_all:.2} / {m_top:.2}.\n"
    );
    let _ = writeln!(s, "![{}](scaling-{}.svg)\n", c.name, c.slug);
    s
}

fn plot(c: &Curve, dir: &Path) -> privml::Result<()> {
    let series = |name: &str, f: &dyn Fn(&Point) -> f64| {
        Series::new(
            name,
            c.points
                .iter()
                .map(|p| (p.size.log10(), f(p).log10()))
                .collect(),
        )
    };
    LinePlot::new(format!("{} (log-log)", c.name))
        .x_label(format!("log10 {}", c.size_label))
        .y_label("log10 seconds")
        .with_series(series("shared (3 parties)", &|p| p.secure_s))
        .with_series(series("plaintext f64", &|p| p.plain_s))
        .save(dir.join(format!("scaling-{}.svg", c.slug)))
}

fn main() -> privml::Result<()> {
    let quick = std::env::args().any(|a| a == "--quick");
    let runs = if quick { 1 } else { 3 };
    let w1_sizes: Vec<usize> = if quick {
        vec![10_000, 100_000, 1_000_000]
    } else {
        vec![
            10_000, 30_000, 100_000, 300_000, 1_000_000, 3_000_000, 10_000_000,
        ]
    };
    let w2_sizes: Vec<usize> = if quick {
        vec![64, 256, 1024]
    } else {
        vec![64, 128, 256, 512, 1024, 2048]
    };
    let batches: Vec<usize> = if quick {
        vec![1, 32, 512]
    } else {
        vec![1, 4, 16, 64, 128, 256, 512]
    };
    let mut curves = Vec::new();
    let mut c = Curve {
        name: "W1: elementwise products",
        size_label: "elements",
        slug: "w1",
        points: Vec::new(),
    };
    for &n in &w1_sizes {
        c.points.push(measure(&W1Mul::new(n), n as f64, runs)?);
        eprintln!("W1 {n} done");
    }
    curves.push(c);
    let mut c = Curve {
        name: "W2: square matrix products",
        size_label: "matrix side",
        slug: "w2",
        points: Vec::new(),
    };
    for &n in &w2_sizes {
        c.points.push(measure(&W2Matmul::new(n), n as f64, runs)?);
        eprintln!("W2 {n} done");
    }
    curves.push(c);
    let mut c = Curve {
        name: "Network A: one SGD step",
        size_label: "batch",
        slug: "network-a",
        points: Vec::new(),
    };
    for &b in &batches {
        c.points.push(measure(&W6Mlp::new(b), b as f64, runs)?);
        eprintln!("Network A batch {b} done");
    }
    curves.push(c);

    let mut doc = String::from(
        "# Performance: how the cost grows with the work\n\n\
         Written by `cargo run --release --example scaling` (issue 19, item 6): \
         each workload on `Shared<u64>` (three parties as threads of one process, \
         in-memory channels) next to its plaintext f64 twin timed in the same \
         process; medians of 3 runs. Rounds and bytes are exact and \
         load-independent; times depend on the machine and its load, so read the \
         exponents rather than the seconds. W1's and W2's rounds do not grow with \
         the size (one product is two rounds whatever its size), and their bytes \
         grow exactly as the elements; the time exponents say where the machine \
         departs from that (memory bandwidth, the GEMM kernel's efficiency at \
         small sizes, per-run fixed costs at the small end). Peak RSS is the \
         process's high-water mark from a reset before each row; it includes what \
         the allocator kept from earlier, larger rows (W2's small sizes after W1's \
         10^7), so its exponents are meaningful only over the larger half.\n\n",
    );
    let _ = writeln!(
        doc,
        "Measured {} on {} cores.\n",
        std::env::var("SCALING_WHEN").unwrap_or_else(|_| "on this machine".to_string()),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    for c in &curves {
        doc.push_str(&table(c));
    }
    if quick {
        print!("{doc}");
        return Ok(());
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
    for c in &curves {
        plot(c, &dir)?;
    }
    // write-then-rename: an interrupted run leaves the previous file whole
    let mut tmp = tempfile::NamedTempFile::new_in(&dir)?;
    tmp.write_all(doc.as_bytes())?;
    tmp.as_file().sync_all()?;
    tmp.persist(dir.join("performance.md"))
        .map_err(|e| privml::Error::from(e.error))?;
    println!("wrote docs/performance.md and docs/scaling-*.svg");
    Ok(())
}
