//! Preprocessing files of the two-party protocol: the parties compute from
//! them what they compute with a live dealer, and refuse a file that was
//! used before, belongs to another program, another dealer run or the other
//! party, runs out, or is corrupted; `train` and `predict` dealt ahead of
//! time for the public description their data owner wrote compute what
//! they compute with a live dealer, and refuse data of other shapes.

use crate::temp_dir;

use std::path::Path;

use ndarray::{ArrayD, arr1};
use privml::cost::{Cost, Protocol};
use privml::data::Bundled;
use privml::learn::{
    DataSource, DataSpec, ModelLocation, PredictJob, TrainData, TrainJob, TrainOutcome,
    TrainSettings,
};
use privml::mpc2::prep::{Announcement, PublicDescription, file_name, program_digest};
use privml::nn::MiniBatch;
use privml::runner::{DomainSpec, Job};
use privml::{
    Additive, DealerSchedule, Error, Gadgets, Layout, Plain, PrepProblem, Ring, SharedConfig,
};
use temp_dir::TempDir;

/// A program with every kind of material: products, a matrix product, a
/// truncation and comparisons. `rounds` repeats it.
fn program<R: Ring>(r: &mut R, rounds: usize) -> privml::Result<Vec<ArrayD<f64>>> {
    let x = arr1(&[0.5, -1.25, 2.0, -3.5, 0.0, 7.25]).into_dyn();
    let w = arr1(&[1.5, 0.5, -2.0, 0.25, 3.0, -1.0]).into_dyn();
    let xs = r.input(0, r.owns(0).then_some(&x), &[6])?;
    let ws = r.input(1, r.owns(1).then_some(&w), &[6])?;
    let mut out = Vec::new();
    for _ in 0..rounds {
        let p = r.mul(&xs, &ws)?;
        let (xm, wm) = (r.reshape(&xs, &[2, 3])?, r.reshape(&ws, &[3, 2])?);
        let m = r.matmul(&xm, &wm)?;
        let h = r.div_pow2(&p, 1)?;
        let relu = r.relu(&h)?;
        out.push(r.reveal(&relu)?);
        out.push(r.reveal(&m)?);
    }
    Ok(out)
}

fn cfg() -> SharedConfig {
    SharedConfig::default().insecure_test_seed(3)
}

fn problem(e: &Error) -> Option<&PrepProblem> {
    match e {
        Error::Preprocessing { problem, .. } => Some(problem),
        _ => None,
    }
}

#[test]
fn parties_compute_from_files_what_they_compute_live() {
    let dir = TempDir::new("prep-same");
    let digest = program_digest("test program, 2 rounds");
    let dealt = Additive::<u64>::deal_to_files(&dir, &digest, &cfg(), |r| program(r, 2)).unwrap();
    let from_files = Additive::<u64>::simulate_from_files(&dir, &digest, &cfg(), |r| {
        let out = program(r, 2)?;
        Ok((out, r.cost()))
    })
    .unwrap();
    let (live, live_cost) =
        Additive::<u64>::simulate_with_cost(&cfg(), DealerSchedule::Concurrent, |r| program(r, 2))
            .unwrap();
    let want = program(&mut Plain::new(), 2).unwrap();
    for (out, _) in &from_files {
        for (g, w) in out.iter().zip(&want) {
            for (a, b) in g.iter().zip(w) {
                approx::assert_abs_diff_eq!(a, b, epsilon = 1e-3);
            }
        }
    }
    assert_eq!(from_files[0].0, from_files[1].0);
    assert_eq!(live[0].len(), from_files[0].0.len());
    // The same online traffic, and party 1 read from the file exactly the
    // material a live dealer sends (which is what the dealer counted).
    let (c0, c1) = (&from_files[0].1, &from_files[1].1);
    assert_eq!(c0.bytes_sent[0], live_cost.bytes_sent[0]);
    assert_eq!(c1.bytes_sent[1], live_cost.bytes_sent[1]);
    assert_eq!(c0.rounds, live_cost.rounds);
    assert_eq!(c1.offline_bytes, live_cost.offline_bytes);
    assert_eq!(dealt.offline_bytes, live_cost.offline_bytes);
    let mut plain = Plain::new().with_protocol(Protocol::Additive2);
    program(&mut plain, 2).unwrap();
    assert_eq!(live_cost, plain.cost());
}

#[test]
fn a_file_serves_one_run_only() {
    let dir = TempDir::new("prep-reuse");
    let digest = program_digest("reuse");
    Additive::<u64>::deal_to_files(&dir, &digest, &cfg(), |r| program(r, 1)).unwrap();
    Additive::<u64>::simulate_from_files(&dir, &digest, &cfg(), |r| program(r, 1)).unwrap();
    let e =
        Additive::<u64>::simulate_from_files(&dir, &digest, &cfg(), |r| program(r, 1)).unwrap_err();
    assert_eq!(problem(&e), Some(&PrepProblem::AlreadyUsed), "{e}");
    assert!(e.to_string().contains("party0.prep") || e.to_string().contains("party1.prep"));
}

#[test]
fn a_file_for_another_program_is_refused() {
    let dir = TempDir::new("prep-other");
    Additive::<u64>::deal_to_files(&dir, &program_digest("program A"), &cfg(), |r| {
        program(r, 1)
    })
    .unwrap();
    let e = Additive::<u64>::simulate_from_files(&dir, &program_digest("program B"), &cfg(), |r| {
        program(r, 1)
    })
    .unwrap_err();
    assert!(
        matches!(problem(&e), Some(PrepProblem::OtherProgram { .. })),
        "{e}"
    );
    // refused before use: the right program still runs from the files
    Additive::<u64>::simulate_from_files(&dir, &program_digest("program A"), &cfg(), |r| {
        program(r, 1)
    })
    .unwrap();
}

#[test]
fn running_out_of_material_names_the_operation() {
    // Files dealt for one round of the program, run for two under the same
    // name: the material ends at the second round's first product.
    let dir = TempDir::new("prep-short");
    let digest = program_digest("mislabelled");
    Additive::<u64>::deal_to_files(&dir, &digest, &cfg(), |r| program(r, 1)).unwrap();
    let e =
        Additive::<u64>::simulate_from_files(&dir, &digest, &cfg(), |r| program(r, 2)).unwrap_err();
    match problem(&e) {
        Some(PrepProblem::Exhausted { op, ops }) => {
            assert_eq!(op, "mul");
            assert_eq!(*ops, 4, "mul, matmul, div_pow2, compare");
        }
        _ => panic!("{e}"),
    }
}

#[test]
fn files_of_two_dealer_runs_do_not_mix() {
    let (a, b) = (TempDir::new("prep-run-a"), TempDir::new("prep-run-b"));
    let digest = program_digest("mixed");
    for d in [&a, &b] {
        Additive::<u64>::deal_to_files(d, &digest, &SharedConfig::default(), |r| program(r, 1))
            .unwrap();
    }
    std::fs::copy(b.join(file_name(1)), a.join(file_name(1))).unwrap();
    let e =
        Additive::<u64>::simulate_from_files(&a, &digest, &cfg(), |r| program(r, 1)).unwrap_err();
    assert_eq!(problem(&e), Some(&PrepProblem::OtherRun), "{e}");
}

#[test]
fn the_wrong_party_and_corrupted_files_are_refused() {
    let dir = TempDir::new("prep-bad");
    let digest = program_digest("bad files");
    Additive::<u64>::deal_to_files(&dir, &digest, &cfg(), |r| program(r, 1)).unwrap();
    // party 0's file given to party 1 and vice versa
    let swapped = TempDir::new("prep-swapped");
    std::fs::copy(dir.join(file_name(0)), swapped.join(file_name(1))).unwrap();
    std::fs::copy(dir.join(file_name(1)), swapped.join(file_name(0))).unwrap();
    let e = Additive::<u64>::simulate_from_files(&swapped, &digest, &cfg(), |r| program(r, 1))
        .unwrap_err();
    assert!(
        matches!(problem(&e), Some(PrepProblem::WrongParty { .. })),
        "{e}"
    );
    // a truncated frame in party 1's file
    let cut = TempDir::new("prep-cut");
    std::fs::copy(dir.join(file_name(0)), cut.join(file_name(0))).unwrap();
    let bytes = std::fs::read(dir.join(file_name(1))).unwrap();
    std::fs::write(cut.join(file_name(1)), &bytes[..bytes.len() - 5]).unwrap();
    let e =
        Additive::<u64>::simulate_from_files(&cut, &digest, &cfg(), |r| program(r, 1)).unwrap_err();
    assert!(
        matches!(
            e,
            Error::Decode {
                what: "preprocessing file",
                ..
            }
        ),
        "{e}"
    );
    // not a preprocessing file at all
    let junk = TempDir::new("prep-junk");
    std::fs::write(junk.join(file_name(0)), b"hello").unwrap();
    std::fs::write(junk.join(file_name(1)), vec![7u8; 200]).unwrap();
    let e = Additive::<u64>::simulate_from_files(&junk, &digest, &cfg(), |r| program(r, 1))
        .unwrap_err();
    assert!(matches!(e, Error::Decode { .. }), "{e}");
}

#[test]
fn a_job_that_announces_needs_its_public_description() {
    // Dealt without the announcement the job makes: the dealer stops, and
    // no files are left behind.
    let dir = TempDir::new("prep-announce");
    let e = Additive::<u64>::deal_to_files(&dir, &program_digest("announce"), &cfg(), |r| {
        privml::Session::announce(r, 1, None)
    })
    .unwrap_err();
    assert!(e.to_string().contains("public description"), "{e}");
    assert!(!dir.join(file_name(0)).exists(), "no files are left behind");
    // A description with more announcements than the job makes is refused
    // too: it describes another job.
    let two = PublicDescription::new(vec![
        Announcement {
            from: 1,
            bytes: vec![1],
        },
        Announcement {
            from: 1,
            bytes: vec![2],
        },
    ]);
    let e =
        Additive::<u64>::deal_to_files_for(&dir, &program_digest("announce"), &two, &cfg(), |r| {
            privml::Session::announce(r, 1, None)
        })
        .unwrap_err();
    assert!(e.to_string().contains("describes another job"), "{e}");
    assert!(!dir.join(file_name(0)).exists());
}

// ---- train and predict dealt ahead of time for a public description ----

/// Small training settings: 120 rows of the breast-cancer table, two epochs.
fn train_settings(epochs: usize, rows: usize) -> TrainSettings {
    TrainSettings {
        model: "mlp:8".parse().unwrap(),
        sgd: MiniBatch {
            epochs,
            batch: 32,
            lr: 0.2,
        },
        data: DataSpec {
            max_rows: Some(rows),
            ..DataSpec::default()
        },
        seed: 5,
        data_owner: 1,
        reveal_model: true,
        ..TrainSettings::default()
    }
}

fn train_data(s: &TrainSettings) -> TrainData {
    TrainData::prepare(
        &DataSource::Bundled(Bundled::BreastCancer),
        s,
        &DomainSpec::default(),
    )
    .unwrap()
}

const TRAIN_PROGRAM: &str = "train mlp:8 on the breast-cancer table";

/// The data owner's description, and both files dealt for `settings`
/// (the dealer saves its file of shapes under `out`, if given).
fn deal_training(
    dir: &Path,
    settings: &TrainSettings,
    data: &TrainData,
    out: Option<&Path>,
) -> PublicDescription {
    let description = TrainJob::new(settings, Some(data))
        .public_description()
        .unwrap();
    Additive::<u64>::deal_to_files_for(
        dir,
        &program_digest(TRAIN_PROGRAM),
        &description,
        &cfg(),
        |r| {
            TrainJob {
                out_prefix: out.map(Path::to_path_buf),
                ..TrainJob::new(settings, None)
            }
            .run(r)
        },
    )
    .unwrap();
    description
}

/// Training from the files, the data on party 1 only.
fn train_from_files(
    dir: &Path,
    settings: &TrainSettings,
    data: &TrainData,
    out: Option<&Path>,
) -> privml::Result<[(TrainOutcome, Cost); 2]> {
    Additive::<u64>::simulate_from_files(dir, &program_digest(TRAIN_PROGRAM), &cfg(), |r| {
        let mine = r.owns(1).then_some(data);
        let job = TrainJob {
            out_prefix: out.map(Path::to_path_buf),
            ..TrainJob::new(settings, mine)
        };
        let o = job.run(r)?;
        Ok((o, r.cost()))
    })
}

#[test]
fn training_from_files_dealt_for_its_description_equals_live_training() {
    let dir = TempDir::new("prep-train");
    let settings = train_settings(2, 120);
    let data = train_data(&settings);
    let description = deal_training(&dir, &settings, &data, None);
    assert_eq!(
        description.announcements.len(),
        2,
        "the table, the model id"
    );
    let [(f0, c0), (f1, c1)] = train_from_files(&dir, &settings, &data, None).unwrap();
    let live = Additive::<u64>::simulate_with(&cfg(), DealerSchedule::Concurrent, |r| {
        let mine = r.owns(1).then_some(&data);
        let o = TrainJob::new(&settings, mine).run(r)?;
        Ok((o, r.cost()))
    })
    .unwrap();
    // The same keys and the same material: the very same run.
    let figures = |o: &TrainOutcome| -> Vec<(f64, f64)> {
        o.epochs
            .iter()
            .map(|e| (e.train_loss, e.test_accuracy))
            .collect()
    };
    for (from_file, (live, _)) in [&f0, &f1].into_iter().zip(&live) {
        assert_eq!(figures(from_file), figures(live));
        assert_eq!(from_file.revealed, live.revealed);
        assert!(from_file.revealed.is_some());
    }
    assert!(
        f0.epochs[1].train_loss < f0.epochs[0].train_loss,
        "{:?}",
        f0.epochs
    );
    // The model id is the one the description fixed.
    assert_eq!(
        f0.model.model_id.to_vec(),
        description.announcements[1].bytes
    );
    assert_eq!(f0.model.model_id, f1.model.model_id);
    // Online: the same rounds, and each announcement goes to the other
    // party only (the dealer had it before the run): one message and its
    // bytes fewer per announcement than live. Offline: party 1 read from
    // its file exactly what a live dealer sends it.
    let (l0, l1) = (&live[0].1, &live[1].1);
    assert_eq!(c0.rounds, l0.rounds);
    let (table, id) = (
        description.announcements[0].bytes.len() as u64,
        description.announcements[1].bytes.len() as u64,
    );
    assert_eq!(c0.bytes_sent[0], l0.bytes_sent[0] - id);
    assert_eq!(c0.messages_sent[0], l0.messages_sent[0] - 1);
    assert_eq!(c1.bytes_sent[1], l1.bytes_sent[1] - table);
    assert_eq!(c1.messages_sent[1], l1.messages_sent[1] - 1);
    assert_eq!(c1.offline_bytes, l1.offline_bytes);
    assert_eq!(c1.offline_messages, l1.offline_messages);
    assert!(c1.offline_bytes[1] > 0);
    assert_eq!(c0.offline_bytes, [0, 0]);
}

#[test]
fn prediction_from_files_dealt_for_its_description_equals_live_prediction() {
    let dir = TempDir::new("prep-predict");
    let settings = train_settings(1, 80);
    let data = train_data(&settings);
    let prefix = dir.join("model");
    deal_training(&dir.join("train"), &settings, &data, Some(&prefix));
    train_from_files(&dir.join("train"), &settings, &data, Some(&prefix)).unwrap();
    let rows = &data.x_test;
    let job = |mine: bool| PredictJob {
        model: ModelLocation::Prefix(prefix.clone()),
        data: mine.then_some(rows),
        data_owner: 1,
    };
    let description = job(true).public_description().unwrap();
    let digest = program_digest("predict with the model");
    let prep = dir.join("predict");
    Additive::<u64>::deal_to_files_for(&prep, &digest, &description, &cfg(), |r| job(false).run(r))
        .unwrap();
    let [p0, p1] =
        Additive::<u64>::simulate_from_files(&prep, &digest, &cfg(), |r| job(r.owns(1)).run(r))
            .unwrap();
    let [l0, l1] = Additive::<u64>::simulate_with(&cfg(), DealerSchedule::Concurrent, |r| {
        job(r.owns(1)).run(r)
    })
    .unwrap();
    assert!(
        p0.is_none() && l0.is_none(),
        "only the data owner learns them"
    );
    let (p1, l1) = (p1.unwrap(), l1.unwrap());
    assert_eq!(p1, l1);
    assert_eq!(p1.classes.len(), rows.nrows());
    // spent
    let e = Additive::<u64>::simulate_from_files(&prep, &digest, &cfg(), |r| job(r.owns(1)).run(r))
        .unwrap_err();
    assert_eq!(problem(&e), Some(&PrepProblem::AlreadyUsed), "{e}");
}

#[test]
fn training_files_serve_one_run() {
    let dir = TempDir::new("prep-train-reuse");
    let settings = train_settings(1, 60);
    let data = train_data(&settings);
    deal_training(&dir, &settings, &data, None);
    train_from_files(&dir, &settings, &data, None).unwrap();
    let e = train_from_files(&dir, &settings, &data, None).unwrap_err();
    assert_eq!(problem(&e), Some(&PrepProblem::AlreadyUsed), "{e}");
}

#[test]
fn files_dealt_for_other_shapes_are_refused_with_the_reason() {
    let dir = TempDir::new("prep-train-shapes");
    let settings = train_settings(1, 60);
    // dealt for 60 rows, run on 80 under the same settings otherwise
    deal_training(&dir, &settings, &train_data(&settings), None);
    let more = train_data(&train_settings(1, 80));
    let e = train_from_files(&dir, &settings, &more, None).unwrap_err();
    match problem(&e) {
        Some(PrepProblem::OtherAnnouncement { index, from, .. }) => {
            assert_eq!((*index, *from), (1, 1), "the data owner's table");
        }
        _ => panic!("{e}"),
    }
    let msg = e.to_string();
    assert!(
        msg.contains("shapes")
            && msg.contains("differ from the ones this preprocessing was dealt for"),
        "{msg}"
    );
    // The refusal came before any material was used; still, the files are
    // spent (opened): a new set must be dealt.
    let e = train_from_files(&dir, &settings, &train_data(&settings), None).unwrap_err();
    assert_eq!(problem(&e), Some(&PrepProblem::AlreadyUsed), "{e}");
}

#[test]
fn files_dealt_for_fewer_epochs_run_out() {
    let dir = TempDir::new("prep-train-short");
    // Without revealing the model at the end (its exact rounding uses
    // material), one epoch's program is a prefix of two epochs'.
    let epochs = |n| TrainSettings {
        reveal_model: false,
        ..train_settings(n, 60)
    };
    let data = train_data(&epochs(1));
    deal_training(&dir, &epochs(1), &data, None);
    // the same program name and data, two epochs
    let e = train_from_files(&dir, &epochs(2), &data, None).unwrap_err();
    assert!(
        matches!(problem(&e), Some(PrepProblem::Exhausted { .. })),
        "{e}"
    );
    assert!(e.to_string().contains("no material left"), "{e}");
}

#[test]
fn public_descriptions_round_trip_and_refuse_garbage() {
    let dir = TempDir::new("prep-description");
    let settings = train_settings(1, 60);
    let d = TrainJob::new(&settings, Some(&train_data(&settings)))
        .public_description()
        .unwrap();
    let path = dir.join("public.bin");
    d.save(&path).unwrap();
    assert_eq!(PublicDescription::load(&path).unwrap(), d);
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    assert!(matches!(
        PublicDescription::load(&path),
        Err(Error::Decode { .. })
    ));
    std::fs::write(&path, b"nonsense").unwrap();
    assert!(matches!(
        PublicDescription::load(&path),
        Err(Error::Decode { .. })
    ));
    // Two descriptions of the same data differ only in the model id.
    let again = TrainJob::new(&settings, Some(&train_data(&settings)))
        .public_description()
        .unwrap();
    assert_eq!(d.announcements[0], again.announcements[0]);
    assert_ne!(d.announcements[1], again.announcements[1]);
}
