//! Issue 17: aggregation servers that die and come back. Three `privml
//! serve` parties and three `privml client federated` sites on loopback
//! (a fourth listed site never runs, so every round waits for its
//! deadline and the test can act while the sites wait):
//!
//! * a server killed (SIGKILL) while the sites wait for the round's close
//!   makes the round fail on every site, with a line naming the round and
//!   the lost server; the sites retry (they are not restarted), the server
//!   is started again on the same store, and the round's next attempt
//!   opens the plaintext FedAvg of the three updates;
//! * a server killed after round 1 closed resumes from its store: round 2
//!   runs and its model continues from round 1's, as a continuous
//!   plaintext FedAvg of two rounds.
//!
//! The sites report their accuracy (`--report-accuracy`), and the servers
//! log the weighted mean: the coordinating side's progress.
#![cfg(all(feature = "tls", feature = "cli"))]

use crate::fed_common::{
    Watched, identity, keygen, max_dev, model_path, plain_fedavg, read_model, serve, shard, site,
    write_shards,
};
use crate::net_common;

use std::path::Path;
use std::time::Duration;

/// Sites that run (s0, s1, s2); s3 is listed and never runs.
const RUNNING: usize = 3;
const WAIT: Duration = Duration::from_secs(90);

/// A deployment with four listed sites and three shards, the servers'
/// close giving up on a lost party after `connect_deadline_secs` plus the
/// round deadline.
fn setup(tag: &str) -> (net_common::TempDir, std::path::PathBuf) {
    let dir = net_common::TempDir::new(tag);
    let config = keygen(&dir, "s0,s1,s2,s3");
    net_common::set_top_level(&config, "connect_deadline_secs", "3");
    write_shards(&dir, RUNNING);
    (dir, config)
}

fn start_sites(dir: &Path, config: &Path, rounds: u32) -> Vec<Watched> {
    let rounds = rounds.to_string();
    (0..RUNNING)
        .map(|k| {
            let (data, out) = (
                shard(dir, k).display().to_string(),
                model_path(dir, k).display().to_string(),
            );
            let args = [
                "--data",
                &data,
                "--sites",
                "4",
                "--min-clients",
                "2",
                "--rounds",
                &rounds,
                "--deadline",
                "8",
                "--report-accuracy",
                "--out",
                &out,
            ];
            Watched::new(site(config, &identity(dir, k), 60, &args))
        })
        .collect()
}

/// Every site ends well and holds the same model; returns it.
fn finish_sites(dir: &Path, sites: Vec<Watched>) -> (Vec<f64>, Vec<String>) {
    let mut outs = Vec::new();
    for (k, s) in sites.into_iter().enumerate() {
        let (status, out) = s.finish(WAIT);
        assert!(status.success(), "site {k}:\n{out}");
        outs.push(out);
    }
    let got = read_model(&model_path(dir, 0));
    for k in 1..RUNNING {
        assert_eq!(read_model(&model_path(dir, k)), got, "site {k}");
    }
    (got, outs)
}

#[test]
fn a_server_killed_mid_round_fails_the_round_on_every_site_and_the_retry_succeeds() {
    let (dir, config) = setup("fed-restart-mid");
    let mut servers: Vec<Option<Watched>> = (0..3)
        .map(|id| Some(Watched::new(serve(&config, &dir, id))))
        .collect();
    let sites = start_sites(&dir, &config, 1);
    // Server 2 holds the three updates: the sites now wait for the close
    // (at the deadline, as s3 never comes).
    servers[2]
        .as_ref()
        .unwrap()
        .wait_for("3 of 4 sites heard from", 1, WAIT);
    let before = servers[2].take().unwrap().kill();
    assert!(before.contains("new job"), "{before}");
    // Every site is told: the round, and the lost server.
    for (k, s) in sites.iter().enumerate() {
        let out = s.wait_for("round 1 failed", 1, WAIT);
        let line = out
            .lines()
            .find(|l| l.contains("round 1 failed"))
            .unwrap_or_default();
        assert!(
            line.contains(&format!("site s{k} round 1 failed")),
            "{line}"
        );
        assert!(line.contains("party 2"), "site {k}: {line}");
        assert!(line.contains("retrying (attempt 2 of 4)"), "{line}");
        // Shown with --nocapture: what a user sees.
        println!("{line}");
    }
    // The same store, started again; the sites were left alone.
    servers[2] = Some(Watched::new(serve(&config, &dir, 2)));
    let (got, outs) = finish_sites(&dir, sites);
    for (k, out) in outs.iter().enumerate() {
        assert!(
            out.contains(&format!(
                "site s{k} round 1: update accepted | 3 sites in, 1 dropped, 0 refused | global model updated"
            )),
            "site {k}:\n{out}"
        );
    }
    let shards: Vec<_> = (0..RUNNING).map(|k| shard(&dir, k)).collect();
    let (models, total) = plain_fedavg(&shards, 1);
    let bound = 3.0 * 2f64.powi(-17) / total + 1e-12;
    let dev = max_dev(&got, &models[1]);
    assert!(dev <= bound, "deviation {dev} > bound {bound}");
    assert!(max_dev(&models[1], &models[0]) > 1e-3, "trivial updates");

    let logs: Vec<String> = servers.into_iter().map(|s| s.unwrap().kill()).collect();
    assert!(
        logs[2].contains("resumed from the store at round 1"),
        "{}",
        logs[2]
    );
    for (p, log) in logs.iter().enumerate() {
        if p < 2 {
            assert!(log.contains("round 1 failed at party"), "party {p}: {log}");
        }
        assert!(
            log.contains("round 1/1: 3 sites in (s0, s1, s2), 1 dropped (s3), 0 refused"),
            "party {p}: {log}"
        );
        // The coordinating side's accuracy: the sites' reports, weighted.
        assert!(log.contains("weighted mean"), "party {p}: {log}");
        assert!(log.contains("over 3 sites"), "party {p}: {log}");
    }
}

#[test]
fn a_server_restarted_between_rounds_resumes_from_its_store() {
    let (dir, config) = setup("fed-restart-between");
    let mut servers: Vec<Option<Watched>> = (0..3)
        .map(|id| Some(Watched::new(serve(&config, &dir, id))))
        .collect();
    let sites = start_sites(&dir, &config, 2);
    // Round 1 is over at every server (each site had all three results,
    // which the servers send after saving the round).
    for s in &sites {
        s.wait_for("round 1: update accepted", 1, WAIT);
    }
    let before = servers[2].take().unwrap().kill();
    assert!(before.contains("round 1/2: 3 sites in"), "{before}");
    // Round 2 fails on every site without server 2 ...
    for s in &sites {
        s.wait_for("round 2 failed", 1, WAIT);
    }
    // ... and runs once it is back, from its store.
    servers[2] = Some(Watched::new(serve(&config, &dir, 2)));
    let (got, outs) = finish_sites(&dir, sites);
    for (k, out) in outs.iter().enumerate() {
        assert!(
            out.contains(&format!("site s{k} round 2: update accepted | 3 sites in")),
            "site {k}:\n{out}"
        );
    }
    let logs: Vec<String> = servers.into_iter().map(|s| s.unwrap().kill()).collect();
    assert!(
        logs[2].contains("resumed from the store at round 2"),
        "{}",
        logs[2]
    );
    for (p, log) in logs.iter().enumerate() {
        assert!(log.contains("round 2/2: 3 sites in"), "party {p}: {log}");
    }
    // The model continues from round 1's: two rounds of plaintext FedAvg,
    // within the fixed-point error of two aggregates carried through one
    // round of local training; far from one round (a restart from the
    // initial model) or from round 1's model.
    let shards: Vec<_> = (0..RUNNING).map(|k| shard(&dir, k)).collect();
    let (models, _) = plain_fedavg(&shards, 2);
    let tolerance = 1e-4;
    let dev = max_dev(&got, &models[2]);
    assert!(dev <= tolerance, "deviation {dev} > {tolerance}");
    assert!(max_dev(&models[2], &models[1]) > 100.0 * tolerance);
}
