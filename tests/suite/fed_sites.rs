//! Issue 17: federated sites on the network. Three `privml serve` parties
//! are the aggregation servers and every site is a `privml client
//! federated` process, all on loopback: five sites, one that dies after
//! reaching one server and one that sends a wrong-shape update; the round
//! completes with the other three and the global model equals the
//! plaintext FedAvg of their updates within the fixed-point bound. A site
//! with a certificate of another CA is refused, and the servers keep
//! serving.
#![cfg(all(feature = "tls", feature = "cli"))]

use crate::fed_common::{
    BIN, Children, identity, keygen, max_dev, model_path, plain_fedavg, read_model, serve, shard,
    site, text, write_shards,
};
use crate::net_common;

use std::path::Path;
use std::process::{Child, Command, Output};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(40);

const SITES: usize = 5;
const DEADLINE: &str = "3";

fn fed_site(config: &Path, identity: &Path, data: &Path, out: &Path, extra: &[&str]) -> Child {
    let sites = SITES.to_string();
    let (data, out) = (data.display().to_string(), out.display().to_string());
    let mut args = vec![
        "--data",
        &data,
        "--sites",
        &sites,
        "--rounds",
        "1",
        "--deadline",
        DEADLINE,
        "--out",
        &out,
    ];
    args.extend_from_slice(extra);
    site(config, identity, 20, &args)
}

#[test]
fn five_sites_one_dies_one_misbehaves_the_round_averages_the_other_three() {
    let dir = net_common::TempDir::new("fed-sites");
    let config = keygen(&dir, "s0,s1,s2,s3,s4");
    // The simulator's shards of the breast-cancer data, one per site.
    write_shards(&dir, SITES);
    let mut servers = Children((0..3).map(|id| Some(serve(&config, &dir, id))).collect());

    let shard = |k: usize| shard(&dir, k);
    let model = |k: usize| model_path(&dir, k);
    let identity = |k: usize| identity(&dir, k);
    let mut sites = Vec::new();
    for k in 0..SITES {
        let fault: &[&str] = match k {
            3 => &["--fault", "wrong-shape"],
            4 => &["--fault", "disconnect"],
            _ => &[],
        };
        sites.push(fed_site(&config, &identity(k), &shard(k), &model(k), fault));
    }
    let outs: Vec<Output> = sites
        .into_iter()
        .map(|c| net_common::finish_within(c, WAIT))
        .collect();
    for (k, o) in outs.iter().enumerate().take(3) {
        let s = text(&o.stdout);
        assert!(o.status.success(), "site {k}: {s}\n{}", text(&o.stderr));
        assert!(s.contains(&format!("site s{k} round 1: update accepted | 3 sites in, 1 dropped, 1 refused | global model updated")), "{s}");
    }
    // The wrong-shape site is told why, by name; it still gets the model.
    let s3 = text(&outs[3].stdout);
    assert!(outs[3].status.success(), "{s3}\n{}", text(&outs[3].stderr));
    assert!(s3.contains("update NOT accepted"), "{s3}");
    assert!(s3.contains("site s3's update refused"), "{s3}");
    assert!(s3.contains("values"), "{s3}");
    // The site that died mid-upload failed; the others did not wait on it.
    assert!(!outs[4].status.success());

    // Every site that finished holds the same model: the plaintext FedAvg
    // of the three accepted updates, within the fixed-point bound.
    let got = read_model(&model(0));
    for k in [1, 2, 3] {
        assert_eq!(read_model(&model(k)), got, "site {k}");
    }
    let (models, total) = plain_fedavg(&[shard(0), shard(1), shard(2)], 1);
    let bound = 3.0 * 2f64.powi(-17) / total + 1e-12;
    let dev = max_dev(&got, &models[1]);
    assert!(dev <= bound, "deviation {dev} > bound {bound}");
    assert!(
        max_dev(&models[1], &models[0]) > 1e-3,
        "the updates are not trivial"
    );

    // A site whose certificate comes from another CA is refused.
    let other = net_common::TempDir::new("fed-sites-other-ca");
    keygen(&other, "s0");
    let o = net_common::finish_within(
        fed_site(
            &config,
            &other.join("client-s0"),
            &shard(0),
            &other.join("m.txt"),
            &[],
        ),
        WAIT,
    );
    assert!(!o.status.success());
    let e = text(&o.stderr);
    assert!(e.contains("refused this site"), "{e}");

    // The coordinating side's progress line, and the servers still up.
    let mut logs = Vec::new();
    for c in servers.0.iter_mut() {
        let mut c = c.take().unwrap();
        assert!(c.try_wait().unwrap().is_none(), "a server stopped");
        let _ = c.kill();
        logs.push(text(&c.wait_with_output().unwrap().stderr));
    }
    for (p, log) in logs.iter().enumerate() {
        assert!(
            log.contains("round 1/1: 3 sites in (s0, s1, s2), 1 dropped (s4), 1 refused"),
            "party {p}: {log}"
        );
        assert!(log.contains("refused a client"), "party {p}: {log}");
    }
}

/// More sites than a server's default of 16 clients at once: with
/// `privml serve --max-clients`, twenty sites hold their connections at
/// the same time and the round averages all twenty (before the flag, the
/// seventeenth connection was refused, and that site retried until the
/// job was over, then ended without a word: now it says so). Out-of-range
/// values are refused.
#[test]
fn twenty_sites_fit_under_max_clients() {
    const N: usize = 20;
    let dir = net_common::TempDir::new("fed-sites-many");
    let names: Vec<String> = (0..N).map(|k| format!("s{k}")).collect();
    let config = keygen(&dir, &names.join(","));
    for bad in ["0", "1001"] {
        let out = Command::new(BIN)
            .args(["serve", "--id", "0", "--max-clients", bad, "--store"])
            .arg(dir.join("unused"))
            .arg("--config")
            .arg(&config)
            .output()
            .unwrap();
        assert!(!out.status.success(), "--max-clients {bad} accepted");
        let e = text(&out.stderr);
        assert!(e.contains("from 1 to 1000"), "{e}");
    }
    write_shards(&dir, N);
    let _servers = Children(
        (0..3)
            .map(|id| {
                let store = dir.join(format!("store{id}"));
                Some(net_common::spawn(
                    BIN,
                    &[
                        "serve",
                        "--id",
                        &id.to_string(),
                        "--config",
                        config.to_str().unwrap(),
                        "--store",
                        store.to_str().unwrap(),
                        "--timeout",
                        "30",
                        "--max-clients",
                        "24",
                    ],
                ))
            })
            .collect(),
    );
    let sites: Vec<Child> = (0..N)
        .map(|k| {
            let mut args = vec![
                "--data".into(),
                shard(&dir, k).display().to_string(),
                "--sites".into(),
                N.to_string(),
                "--rounds".into(),
                "1".into(),
                // Long enough for twenty processes to start on a loaded
                // machine; the round closes as soon as all are in.
                "--deadline".into(),
                "30".into(),
            ];
            if k == 0 {
                args.extend(["--out".into(), dir.join("model.txt").display().to_string()]);
            }
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            site(&config, &identity(&dir, k), 40, &args)
        })
        .collect();
    for (k, c) in sites.into_iter().enumerate() {
        let o = net_common::finish_within(c, Duration::from_secs(60));
        let s = text(&o.stdout);
        assert!(o.status.success(), "site {k}: {s}\n{}", text(&o.stderr));
        assert!(
            s.contains(&format!(
                "site s{k} round 1: update accepted | {N} sites in, 0 dropped, 0 refused | global model updated"
            )),
            "{s}"
        );
    }
    assert_eq!(read_model(&dir.join("model.txt")).len(), 31);
    // A site joining after the last round is told it took part in none
    // (it ended silently before).
    let late = net_common::spawn(
        BIN,
        &[
            "client",
            "--config",
            config.to_str().unwrap(),
            "--identity",
            dir.join("client-s0").to_str().unwrap(),
            "--timeout",
            "40",
            "federated",
            "--data",
            dir.join("site-0.csv").to_str().unwrap(),
            "--sites",
            &N.to_string(),
            "--rounds",
            "1",
            "--deadline",
            "30",
        ],
    );
    let o = net_common::finish_within(late, Duration::from_secs(60));
    let s = text(&o.stdout);
    assert!(o.status.success(), "{s}\n{}", text(&o.stderr));
    assert!(
        s.contains("had run all its 1 rounds when this site joined: it took part in none"),
        "{s}"
    );
}
