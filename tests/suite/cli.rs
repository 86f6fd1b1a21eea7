//! The command-line tool from the outside: demos, train/predict, plots, and
//! clear errors for bad input.
#![cfg(feature = "cli")]

use crate::temp_dir;

use std::process::Command;

use temp_dir::TempDir;

fn privml(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_privml"))
        .args(args)
        .output()
        .expect("runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn demo_runs_and_reports_cost() {
    let (ok, out, err) = privml(&["demo", "--iterations", "100"]);
    assert!(ok, "{err}");
    assert!(out.contains("Prediction on [1 1 1]"), "{out}");
    assert!(
        out.contains("cost report") && out.contains("party 2 sent"),
        "{out}"
    );
    let (ok, out, _) = privml(&[
        "demo",
        "boolean",
        "--domain",
        "fixed",
        "--iterations",
        "100",
    ]);
    assert!(ok);
    assert!(out.contains("COLLAPSE EXPLAINED: overflow in mul"), "{out}");
}

#[test]
fn train_then_predict_in_process() {
    let d = TempDir::new("cli-train");
    let prefix = d.join("bc");
    let plot = d.join("curves.svg");
    let (ok, out, err) = privml(&[
        "train",
        "--data",
        "breast_cancer",
        "--model",
        "mlp:8",
        "--epochs",
        "2",
        "--batch",
        "32",
        "--out",
        prefix.to_str().unwrap(),
        "--plot",
        plot.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    assert!(
        out.contains("epoch 2: train loss") && out.contains("test accuracy"),
        "{out}"
    );
    assert!(
        std::fs::read_to_string(&plot)
            .unwrap()
            .contains("test accuracy")
    );
    let csv = d.join("pred.csv");
    let data = format!("{}/data/breast_cancer.csv", env!("CARGO_MANIFEST_DIR"));
    let (ok, out, err) = privml(&[
        "predict",
        "--model",
        prefix.to_str().unwrap(),
        "--data",
        &data,
        "--out",
        csv.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    assert!(
        out.contains("569 predictions") && out.contains("accuracy against 'target'"),
        "{out}"
    );
    assert_eq!(std::fs::read_to_string(&csv).unwrap().lines().count(), 570);
    // Another ring than the model's is refused before any computation.
    let (ok, _, err) = privml(&[
        "predict",
        "--model",
        prefix.to_str().unwrap(),
        "--data",
        &data,
        "--ring",
        "128",
    ]);
    assert!(!ok);
    assert!(
        err.contains("trained on shared (3 parties, Z_2^64) with 16 fraction bits")
            && err.contains("--ring"),
        "{err}"
    );
}

#[test]
fn bad_csv_input_names_row_and_column() {
    let d = TempDir::new("cli-bad");
    let cases = [
        ("a,b,target\n1,2,0\n3,,1\n", "column 'b'"),
        ("a,b,target\n1,2,0\n3,x,1\n", "column 'b'"),
        ("a,b,target\n1,2,0\n1e300,2,1\n0,1,0\n", "column 'a'"),
    ];
    for (i, (content, want)) in cases.iter().enumerate() {
        let f = d.join(format!("bad{i}.csv"));
        std::fs::write(&f, content).unwrap();
        let (ok, _, err) = privml(&[
            "train",
            "--data",
            f.to_str().unwrap(),
            "--domain",
            "fixed",
            "--scaling",
            "none",
            "--epochs",
            "1",
            "--batch",
            "1",
        ]);
        assert!(!ok, "case {i} must fail");
        assert!(err.contains(want), "case {i}: {err}");
        assert!(
            err.contains("line 3") || err.contains("row"),
            "case {i} names the row: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
    let f = d.join("ok.csv");
    std::fs::write(&f, "a,b,target\n1,2,0\n3,4,1\n").unwrap();
    let (ok, _, err) = privml(&["train", "--data", f.to_str().unwrap(), "--target", "label"]);
    assert!(
        !ok && err.contains("label") && err.contains("target"),
        "{err}"
    );
}

/// Issue 13, leak 3: fitted scaling announces every feature's minimum and
/// range over the training rows (one person's values) to every party. A CSV
/// table needs declared public ranges (`--feature-ranges`) or the explicit
/// consent to disclose its statistics; predictions use the declared ranges
/// too, and a value outside them is refused.
#[test]
fn feature_scaling_discloses_no_row_statistics_by_default() {
    let d = TempDir::new("cli-ranges");
    let rows: String = (0..20)
        .map(|i| format!("{},{},{}\n", i % 7, 10 * (i % 5), i % 2))
        .collect();
    let table = d.write("t.csv", format!("a,b,target\n{rows}"));
    let table = table.to_str().unwrap();
    let prefix = d.join("m");
    let train = |extra: &[&str]| {
        let mut args = vec![
            "train",
            "--data",
            table,
            "--domain",
            "plain",
            "--model",
            "linear",
            "--epochs",
            "1",
            "--batch",
            "4",
            "--out",
            prefix.to_str().unwrap(),
        ];
        args.extend(extra);
        privml(&args)
    };
    let (ok, _, err) = train(&[]);
    assert!(
        !ok,
        "a CSV without declared ranges must not be fitted silently"
    );
    assert!(err.contains("--feature-ranges"), "{err}");
    let (ok, _, err) = train(&["--scaling", "minmax"]);
    assert!(!ok && err.contains("--disclose-feature-stats"), "{err}");
    let (ok, _, err) = train(&["--scaling", "minmax", "--disclose-feature-stats"]);
    assert!(ok, "{err}");
    let ranges = d.write("r.csv", "feature,min,max\nb,0,50\na,0,10\n");
    let ranges = ranges.to_str().unwrap();
    let (ok, out, err) = train(&["--feature-ranges", ranges]);
    assert!(ok, "{err}");
    assert!(out.contains("epoch 1: train loss"), "{out}");
    // A value outside the declared range is refused, at training ...
    let wide = d.write("r2.csv", "feature,min,max\na,0,5\nb,0,50\n");
    let (ok, _, err) = train(&["--feature-ranges", wide.to_str().unwrap()]);
    assert!(
        !ok && err.contains("column 'a'") && err.contains("outside its declared range [0, 5]"),
        "{err}"
    );
    // ... and at prediction, with the ranges saved in the model.
    let new_rows = d.write("new.csv", "a,b,target\n3,20,1\n12,20,0\n");
    let (ok, _, err) = privml(&[
        "predict",
        "--model",
        prefix.to_str().unwrap(),
        "--data",
        new_rows.to_str().unwrap(),
        "--domain",
        "plain",
    ]);
    assert!(
        !ok && err.contains("line 3") && err.contains("outside its declared range [0, 10]"),
        "{err}"
    );
}

#[test]
fn plot_sigmoid_writes_a_png() {
    let d = TempDir::new("cli-plot");
    let f = d.join("s.png");
    let (ok, _, err) = privml(&["plot", "sigmoid", "--out", f.to_str().unwrap()]);
    assert!(ok, "{err}");
    let bytes = std::fs::read(&f).unwrap();
    assert_eq!(&bytes[..4], b"\x89PNG");
    let (ok, _, err) = privml(&[
        "plot",
        "sigmoid",
        "--out",
        d.join("s.gif").to_str().unwrap(),
    ]);
    assert!(!ok && !err.contains("panicked"), "{err}");
}

#[test]
fn a_closed_stdout_ends_the_program_quietly_not_with_a_panic() {
    use std::process::Stdio;
    for args in [&["demo", "approx"][..], &["demo", "--iterations", "50"][..]] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_privml"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("runs");
        // Close the reading end before the program writes its first line.
        drop(child.stdout.take());
        let out = child.wait_with_output().expect("waits");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?}: {:?} {err}", out.status);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

/// The README's TOML network description, as written there.
fn readme_model_toml() -> String {
    let readme = include_str!("../../README.md");
    let start = readme
        .find("```toml\n# net.toml")
        .expect("README has the TOML model")
        + 8;
    let end = start + readme[start..].find("```").expect("the block ends");
    readme[start..end].to_string()
}

#[test]
fn a_model_file_trains_exactly_like_its_compact_description() {
    let d = TempDir::new("cli-model-file");
    let file = d.join("net.toml");
    std::fs::write(&file, readme_model_toml()).unwrap();
    let run = |model: &str| {
        let (ok, out, err) = privml(&[
            "train",
            "--data",
            "mnist",
            "--model",
            model,
            "--loss",
            "cross-entropy",
            "--epochs",
            "1",
            "--batch",
            "16",
            "--max-rows",
            "64",
            "--domain",
            "plain",
            "--seed",
            "5",
        ]);
        assert!(ok, "{model}: {err}");
        // The epoch line without its elapsed time.
        out.lines()
            .filter(|l| l.starts_with("epoch 1"))
            .map(|l| l.split(" (").next().unwrap_or(l).to_string())
            .collect::<Vec<_>>()
    };
    let from_file = run(file.to_str().unwrap());
    assert!(!from_file.is_empty(), "no epoch line");
    assert_eq!(
        from_file,
        run("conv:8k5,relu,maxpool:2,flatten,dense:10@1x28x28")
    );

    // A description whose layers do not chain, and one that is not TOML.
    let bad = d.join("bad.toml");
    std::fs::write(
        &bad,
        "input = [1, 4, 4]\nlayers = [{ conv2d = { channels = 2, kernel = [5, 5] } }]\n",
    )
    .unwrap();
    let (ok, _, err) = privml(&["train", "--data", "mnist", "--model", bad.to_str().unwrap()]);
    assert!(
        !ok && err.contains("bad.toml") && err.contains("layer 1"),
        "{err}"
    );
    std::fs::write(&bad, "input = [1, 28, 28]\nlayers = [\"relu\"\n").unwrap();
    let (ok, _, err) = privml(&["train", "--data", "mnist", "--model", bad.to_str().unwrap()]);
    assert!(!ok && err.contains("bad.toml"), "{err}");
}
