//! Preprocessing files of the two-party protocol: the parties compute from
//! them what they compute with a live dealer, and refuse a file that was
//! used before, belongs to another program, another dealer run or the other
//! party, runs out, or is corrupted.

use crate::temp_dir;

use ndarray::{ArrayD, arr1};
use privml::cost::Protocol;
use privml::mpc2::prep::{file_name, program_digest};
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
fn a_job_that_announces_cannot_be_dealt_ahead() {
    let dir = TempDir::new("prep-announce");
    let e = Additive::<u64>::deal_to_files(&dir, &program_digest("announce"), &cfg(), |r| {
        privml::Session::announce(r, 1, None)
    })
    .unwrap_err();
    assert!(e.to_string().contains("run the dealer live"), "{e}");
    assert!(!dir.join(file_name(0)).exists(), "no files are left behind");
}
