//! Integration tests of `privml::data`: the bundled data sets, CSV errors on
//! real files, normalisation, splitting and the fixed-point range check.

use crate::temp_dir;

use std::collections::HashSet;
use std::io::Write;

use ndarray::{Axis, array};
use privml::data::{
    Bundled, Dataset, Normalizer, Scaling, bundled, load_bundled, load_csv, one_hot,
    train_test_split,
};
use privml::{Error, FileOp, FixedPoint};
use temp_dir::TempDir;

/// Loads `contents` from a file and returns (path, error).
fn load_err(dir: &TempDir, name: &str, contents: &str, target: &str) -> (String, Error) {
    let path = dir.write(name, contents);
    let err = load_csv(&path, target).expect_err("expected an error");
    (path.display().to_string(), err)
}

/// The `BadFile` reason, checking that the error is `BadFile` for `path`.
fn reason(path: &str, err: Error) -> String {
    match err {
        Error::BadFile { path: p, reason } => {
            assert_eq!(p, path);
            reason
        }
        other => panic!("expected BadFile, got {other:?}"),
    }
}

// --- bundled data ------------------------------------------------------------

#[test]
fn mnist_has_5000_images_of_784_pixels_in_10_balanced_classes() {
    let d = Bundled::Mnist5k.load().unwrap();
    assert_eq!(d.features().dim(), (5000, 784));
    assert_eq!(d.n_classes(), Some(10));
    assert_eq!(d.class_counts().unwrap(), vec![500; 10]);
    assert_eq!(d.target_name(), "label");
    assert_eq!(d.feature_names()[0], "p0");
    assert_eq!(d.feature_names()[783], "p783");
    // Grey levels: integers 0..=255, and real images (not all blank).
    assert!(
        d.features()
            .iter()
            .all(|&v| (0.0..=255.0).contains(&v) && v.fract() == 0.0)
    );
    assert_eq!(d.features().iter().cloned().fold(0.0, f64::max), 255.0);
    let ink_per_image = d.features().map(|&v| f64::from(v > 0.0)).sum_axis(Axis(1));
    assert!(ink_per_image.iter().all(|&n| n >= 20.0));
    // One sample per line after the header.
    let lines = d.source_lines().unwrap();
    assert_eq!((lines[0], lines[4999]), (2, 5001));
}

#[test]
fn breast_cancer_has_569_samples_30_features_2_classes() {
    let d = load_bundled("breast_cancer").unwrap();
    assert_eq!(d.features().dim(), (569, 30));
    assert_eq!(d.n_classes(), Some(2));
    // scikit-learn: 212 malignant (0), 357 benign (1).
    assert_eq!(d.class_counts().unwrap(), vec![212, 357]);
    assert_eq!(d.feature_names()[0], "mean radius");
    assert_eq!(d.feature_names()[29], "worst fractal dimension");
    assert_eq!(d.target_name(), "target");
    // First row of the upstream file.
    assert_eq!(d.features()[(0, 0)], 17.99);
    assert_eq!(d.features()[(0, 3)], 1001.0);
    assert_eq!(d.targets()[0], 0.0);
}

#[test]
fn diabetes_is_a_regression_table_within_its_declared_ranges() {
    let d = Bundled::Diabetes.load().unwrap();
    assert_eq!(d.features().dim(), (442, 10));
    assert_eq!(d.n_classes(), None, "a continuous score, not class labels");
    assert_eq!(d.feature_names()[2], "bmi");
    // First row of the upstream raw file and its target.
    assert_eq!(d.features()[(0, 0)], 59.0);
    assert_eq!(d.features()[(0, 8)], 4.8598);
    assert_eq!(d.targets()[0], 151.0);
    let mut columns = d.feature_names().to_vec();
    columns.push(d.target_name().to_string());
    let ranges = Bundled::Diabetes
        .declared_ranges(d.feature_names())
        .unwrap()
        .for_features(&columns)
        .unwrap();
    for (j, &(lo, hi)) in ranges.iter().enumerate() {
        let column: Vec<f64> = if j < 10 {
            d.features().column(j).to_vec()
        } else {
            d.targets().to_vec()
        };
        assert!(
            column.iter().all(|v| (lo..=hi).contains(v)),
            "{} outside [{lo}, {hi}]",
            columns[j]
        );
    }
}

#[test]
fn bundled_paths_are_absolute_and_names_checked() {
    for b in Bundled::ALL {
        let p = bundled(b.name()).unwrap();
        assert!(p.is_absolute() && p.is_file(), "{}", p.display());
        assert_eq!(b.to_string().parse::<Bundled>().unwrap(), b);
    }
    let err = bundled("cifar").unwrap_err().to_string();
    assert!(err.contains("'cifar'") && err.contains("mnist_5k"), "{err}");
}

// --- CSV errors ----------------------------------------------------------------

#[test]
fn missing_value_names_line_and_column() {
    let dir = TempDir::new("missing");
    let (path, err) = load_err(&dir, "m.csv", "a,b,y\n1,2,0\n3,4,1\n5,,1\n", "y");
    let r = reason(&path, err);
    assert_eq!(
        r,
        "line 4 (data row 3), column 'b' (2 of 3): missing value (empty cell)"
    );
}

#[test]
fn non_numeric_cell_names_line_column_and_value() {
    let dir = TempDir::new("nonnum");
    let (path, err) = load_err(&dir, "n.csv", "x,label\n1.5,0\nabc,1\n", "label");
    let msg = err.to_string();
    assert!(msg.starts_with(&path), "{msg}");
    let r = reason(&path, err);
    assert_eq!(
        r,
        "line 3 (data row 2), column 'x' (1 of 2): 'abc' is not a number"
    );
}

#[test]
fn nan_is_rejected_with_line_and_column() {
    let dir = TempDir::new("nan");
    for cell in ["NaN", "nan"] {
        let (path, err) = load_err(&dir, "nan.csv", &format!("a,b,y\n1,2,0\n1,{cell},1\n"), "y");
        let r = reason(&path, err);
        assert!(
            r.starts_with("line 3 (data row 2), column 'b' (2 of 3): "),
            "{r}"
        );
        assert!(r.contains("not a finite number"), "{r}");
    }
}

#[test]
fn missing_target_in_target_column_is_reported_too() {
    let dir = TempDir::new("target-cell");
    let (path, err) = load_err(&dir, "t.csv", "a,y\n1,0\n2,\n", "y");
    let r = reason(&path, err);
    assert!(
        r.contains("line 3 (data row 2), column 'y' (2 of 2)"),
        "{r}"
    );
}

#[test]
fn unknown_target_column_lists_available_columns() {
    let dir = TempDir::new("target");
    let (path, err) = load_err(&dir, "t.csv", "a,b,class\n1,2,0\n", "label");
    let r = reason(&path, err);
    assert_eq!(r, "no column named 'label'; available columns: a, b, class");
    // Long headers are abbreviated but still name the count.
    let err = load_csv(Bundled::Mnist5k.path(), "digit").unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("no column named 'digit'"), "{msg}");
    assert!(
        msg.contains("label, p0,") && msg.contains("p783 (785 columns)"),
        "{msg}"
    );
}

#[test]
fn ragged_rows_name_the_line() {
    let dir = TempDir::new("ragged");
    let (path, err) = load_err(&dir, "long.csv", "a,b,y\n1,2,0\n1,2,3,4\n", "y");
    assert_eq!(
        reason(&path, err),
        "line 3 (data row 2): 4 cells, but the header has 3 columns"
    );
    let (path, err) = load_err(&dir, "short.csv", "a,b,y\n1,2,0\n1,2,0\n7,1\n", "y");
    assert_eq!(
        reason(&path, err),
        "line 4 (data row 3): 2 cells, but the header has 3 columns"
    );
}

#[test]
fn headerless_file_is_recognised() {
    let dir = TempDir::new("noheader");
    let (path, err) = load_err(&dir, "h.csv", "0,0,5\n1,2,3\n", "label");
    let r = reason(&path, err);
    assert!(
        r.contains("looks like data") && r.contains("header row"),
        "{r}"
    );
}

#[test]
fn missing_file_is_a_file_error_with_path() {
    let dir = TempDir::new("nofile");
    let path = dir.join("absent.csv");
    let err = load_csv(&path, "y").unwrap_err();
    let msg = err.to_string();
    match err {
        Error::FileIo {
            op: FileOp::Read,
            path: p,
            source,
        } => {
            assert_eq!(p, path);
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        }
        other => panic!("expected FileIo, got {other:?}"),
    }
    assert!(
        msg.starts_with("cannot read") && msg.contains("absent.csv"),
        "{msg}"
    );
}

#[test]
fn gzip_files_load_and_report_decompressed_lines() {
    let dir = TempDir::new("gz");
    let gz = |name: &str, text: &str| {
        let path = dir.join(name);
        let f = std::fs::File::create(&path).unwrap();
        let mut enc = flate2::write::GzEncoder::new(f, flate2::Compression::default());
        enc.write_all(text.as_bytes()).unwrap();
        enc.finish().unwrap();
        path
    };
    let ok = gz("ok.csv.gz", "a,y\n1,0\n2,1\n");
    let d = load_csv(&ok, "y").unwrap();
    assert_eq!(d.features(), &array![[1.0], [2.0]]);
    let bad = gz("bad.csv.gz", "a,y\n1,0\n2,1\nx,1\n");
    let r = reason(&bad.display().to_string(), load_csv(&bad, "y").unwrap_err());
    assert!(r.starts_with("line 4 (data row 3), column 'a'"), "{r}");
}

// --- normalisation -------------------------------------------------------------

#[test]
fn min_max_fit_on_train_applies_to_test() {
    let data = Bundled::BreastCancer.load().unwrap();
    let (train, test) = train_test_split(&data, 0.25, 1).unwrap();
    let norm = Normalizer::fit(Scaling::MinMax, train.features()).unwrap();
    assert_eq!(norm.n_features(), 30);
    let train_n = norm.apply(&train).unwrap();
    let test_n = norm.apply(&test).unwrap();
    // Train: every column spans exactly [0, 1].
    for col in train_n.features().columns() {
        let lo = col.iter().cloned().fold(f64::INFINITY, f64::min);
        let hi = col.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        assert_eq!((lo, hi), (0.0, 1.0));
    }
    // Test uses the train parameters, not its own.
    let expect = (test.features()[(0, 3)] - norm.shift()[3]) / norm.divisor()[3];
    assert_eq!(test_n.features()[(0, 3)], expect);
    // Targets, names and lines are untouched.
    assert_eq!(test_n.targets(), test.targets());
    assert_eq!(test_n.source_lines(), test.source_lines());
    // Back again.
    let back = norm.inverse_transform(test_n.features()).unwrap();
    for (a, b) in back.iter().zip(test.features()) {
        assert!((a - b).abs() <= 1e-9 * b.abs().max(1.0), "{a} vs {b}");
    }
}

#[test]
fn z_score_gives_zero_mean_unit_variance_on_train() {
    let data = Bundled::BreastCancer.load().unwrap();
    let norm = Normalizer::fit(Scaling::ZScore, data.features()).unwrap();
    let z = norm.transform(data.features()).unwrap();
    let n = z.nrows() as f64;
    for col in z.columns() {
        let mean = col.sum() / n;
        let var = col.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
        assert!(mean.abs() < 1e-12, "{mean}");
        assert!((var - 1.0).abs() < 1e-12, "{var}");
    }
}

#[test]
fn constant_columns_become_zero_without_division_by_zero() {
    // MNIST has pixels that are 0 in every image (the corners).
    let data = Bundled::Mnist5k.load().unwrap();
    let constant: Vec<usize> = (0..784)
        .filter(|&j| data.features().column(j).iter().all(|&v| v == 0.0))
        .collect();
    assert!(constant.contains(&0));
    for scaling in [Scaling::MinMax, Scaling::ZScore] {
        let norm = Normalizer::fit(scaling, data.features()).unwrap();
        let x = norm.transform(data.features()).unwrap();
        assert!(x.iter().all(|v| v.is_finite()));
        for &j in &constant {
            assert_eq!(norm.divisor()[j], 1.0);
            assert!(x.column(j).iter().all(|&v| v == 0.0));
        }
    }
}

#[test]
fn normalizer_survives_a_save_and_load() {
    let data = Bundled::BreastCancer.load().unwrap();
    for scaling in [Scaling::MinMax, Scaling::ZScore] {
        let norm = Normalizer::fit(scaling, data.features()).unwrap();
        let json = serde_json::to_string(&norm).unwrap();
        let back: Normalizer = serde_json::from_str(&json).unwrap();
        assert_eq!(back, norm);
        assert_eq!(back.scaling(), scaling);
        // Bit-identical output after the round trip.
        assert_eq!(
            back.transform(data.features()).unwrap(),
            norm.transform(data.features()).unwrap()
        );
    }
    // A tampered file with a zero divisor is refused.
    let bad = r#"{"scaling":"z_score","shift":[1.0,2.0],"divisor":[1.0,0.0]}"#;
    let err = serde_json::from_str::<Normalizer>(bad)
        .unwrap_err()
        .to_string();
    assert!(err.contains("divisor of column 1"), "{err}");
}

// --- splitting ------------------------------------------------------------------

#[test]
fn split_is_reproducible_disjoint_and_complete() {
    let data = Bundled::BreastCancer.load().unwrap();
    let (train, test) = train_test_split(&data, 0.2, 2024).unwrap();
    assert_eq!((train.n_samples(), test.n_samples()), (455, 114));
    let (train2, test2) = train_test_split(&data, 0.2, 2024).unwrap();
    assert_eq!((&train, &test), (&train2, &test2));

    // Source lines identify samples: the parts are disjoint and cover all.
    let a: HashSet<usize> = train.source_lines().unwrap().iter().copied().collect();
    let b: HashSet<usize> = test.source_lines().unwrap().iter().copied().collect();
    assert_eq!(a.len(), 455);
    assert_eq!(b.len(), 114);
    assert!(a.is_disjoint(&b));
    let all: HashSet<usize> = a.union(&b).copied().collect();
    assert_eq!(all, (2..=570).collect());

    // Each row still matches its line in the original file.
    let first = test.source_lines().unwrap()[0] - 2;
    assert_eq!(test.features().row(0), data.features().row(first));
    assert_eq!(test.targets()[0], data.targets()[first]);

    // Another seed gives another split; the class count is kept.
    let (_, other) = train_test_split(&data, 0.2, 2025).unwrap();
    assert_ne!(other.source_lines(), test.source_lines());
    assert_eq!(test.n_classes(), Some(2));
}

#[test]
fn split_of_sorted_mnist_mixes_classes() {
    let data = Bundled::Mnist5k.load().unwrap();
    let (train, test) = train_test_split(&data, 0.1, 0).unwrap();
    assert_eq!((train.n_samples(), test.n_samples()), (4500, 500));
    let counts = test.class_counts().unwrap();
    assert!(counts.iter().all(|&c| c > 20), "{counts:?}");
}

// --- labels and range --------------------------------------------------------------

#[test]
fn one_hot_matches_labels() {
    let data = Bundled::Mnist5k.load().unwrap().stratified_head(3).unwrap();
    let y = data.one_hot_targets().unwrap();
    assert_eq!(y.dim(), (30, 10));
    for (row, &l) in y.rows().into_iter().zip(&data.labels().unwrap()) {
        assert_eq!(row.sum(), 1.0);
        assert_eq!(row[l], 1.0);
    }
    assert_eq!(y, one_hot(&data.labels().unwrap(), 10).unwrap());
}

#[test]
fn out_of_range_value_is_named_by_row_line_and_column() {
    let dir = TempDir::new("range");
    // Line 5 holds a value that normalises far beyond Z_2^64's range.
    let path = dir.write(
        "r.csv",
        "size,weight,y\n1,10,0\n2,20,1\n3,30,0\n4,3e20,1\n5,50,0\n",
    );
    let data = load_csv(&path, "y").unwrap();
    let train = data.select(&[0, 1, 2]).unwrap();
    let test = data.select(&[4, 3]).unwrap();
    let norm = Normalizer::fit(Scaling::MinMax, train.features()).unwrap();
    let fp = FixedPoint::<u64>::default();
    norm.apply(&train).unwrap().check_fixed_range(&fp).unwrap();
    let err = norm
        .apply(&test)
        .unwrap()
        .check_fixed_range(&fp)
        .unwrap_err();
    match &err {
        Error::DataOutOfRange {
            row,
            line,
            column,
            value,
            min,
            max,
        } => {
            assert_eq!((*row, *line, column.as_str()), (1, Some(5), "weight"));
            assert!(*value > *max);
            assert_eq!((*min, *max), (fp.min_value(), fp.max_value()));
        }
        other => panic!("expected DataOutOfRange, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("in row 1 (line 5 of the file), column 'weight'"),
        "{msg}"
    );
    // Z_2^128 with 32 fraction bits holds it.
    norm.apply(&test)
        .unwrap()
        .check_fixed_range(&FixedPoint::<u128>::default())
        .unwrap();
}

#[test]
fn in_memory_dataset_range_error_has_no_line() {
    let d = Dataset::new(
        array![[0.0, 1.0], [0.0, -1e16]],
        array![0.0, 1.0],
        vec!["a".into(), "b".into()],
        "y",
    )
    .unwrap();
    let msg = d
        .check_fixed_range(&FixedPoint::<u64>::default())
        .unwrap_err()
        .to_string();
    assert!(msg.starts_with("value -1e16 in row 1, column 'b'"), "{msg}");
}
