//! Issue 17: federated sites on the network. Three `privml serve` parties
//! are the aggregation servers and every site is a `privml client
//! federated` process, all on loopback: five sites, one that dies after
//! reaching one server and one that sends a wrong-shape update; the round
//! completes with the other three and the global model equals the
//! plaintext FedAvg of their updates within the fixed-point bound. A site
//! with a certificate of another CA is refused, and the servers keep
//! serving.
#![cfg(all(feature = "tls", feature = "cli"))]

use crate::net_common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::Duration;

use privml::data::load_csv;
use privml::fl::{LocalTraining, ModelSpec};
use privml::net::tls;

const BIN: &str = env!("CARGO_BIN_EXE_privml");
const WAIT: Duration = Duration::from_secs(40);

/// Child processes killed when the test ends, however it ends.
struct Children(Vec<Option<Child>>);

impl Drop for Children {
    fn drop(&mut self) {
        for c in self.0.iter_mut().flatten() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A base port with the parties' and the client ports free.
fn base_port() -> u16 {
    loop {
        let b = net_common::free_base_port();
        if b < 60_000
            && (0..3)
                .all(|i| TcpListener::bind(("127.0.0.1", b + tls::CLIENT_PORT_OFFSET + i)).is_ok())
        {
            return b;
        }
    }
}

fn keygen(dir: &Path, clients: &str) -> PathBuf {
    let out = Command::new(BIN)
        .args(["keygen", "--clients", clients, "--base-port"])
        .arg(base_port().to_string())
        .arg("--out")
        .arg(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    dir.join("parties.toml")
}

fn serve(config: &Path, dir: &Path, id: usize) -> Child {
    net_common::serve(BIN, config, dir, id, 10)
}

const SITES: usize = 5;
const DEADLINE: &str = "3";

fn site(config: &Path, identity: &Path, data: &Path, out: &Path, extra: &[&str]) -> Child {
    let mut args = vec![
        "client".to_string(),
        "--config".into(),
        config.display().to_string(),
        "--identity".into(),
        identity.display().to_string(),
        "--timeout".into(),
        "20".into(),
        "federated".into(),
        "--data".into(),
        data.display().to_string(),
        "--sites".into(),
        SITES.to_string(),
        "--rounds".into(),
        "1".into(),
        "--deadline".into(),
        DEADLINE.into(),
        "--out".into(),
        out.display().to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    net_common::spawn(BIN, &args)
}

fn read_model(path: &Path) -> Vec<f64> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect()
}

#[test]
fn five_sites_one_dies_one_misbehaves_the_round_averages_the_other_three() {
    let dir = net_common::TempDir::new("fed-sites");
    let config = keygen(&dir, "s0,s1,s2,s3,s4");
    // The simulator's shards of the breast-cancer data, one per site.
    let out = Command::new(BIN)
        .args(["federated", "--clients", "5", "--write-shards"])
        .arg(&*dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut servers = Children((0..3).map(|id| Some(serve(&config, &dir, id))).collect());

    let shard = |k: usize| dir.join(format!("site-{k}.csv"));
    let model = |k: usize| dir.join(format!("model-{k}.txt"));
    let identity = |k: usize| dir.join(format!("client-s{k}"));
    let mut sites = Vec::new();
    for k in 0..SITES {
        let fault: &[&str] = match k {
            3 => &["--fault", "wrong-shape"],
            4 => &["--fault", "disconnect"],
            _ => &[],
        };
        sites.push(site(&config, &identity(k), &shard(k), &model(k), fault));
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
    let spec = ModelSpec::logistic(30);
    let init = spec.init(1);
    let local = LocalTraining {
        steps: 5,
        lr: 4.0,
        weight_decay: 0.002,
    };
    let mut sum = vec![0.0; init.len()];
    let mut total = 0.0;
    for k in 0..3 {
        let d = load_csv(shard(k), "target").unwrap();
        let new = spec
            .train_local(&init, d.features(), d.targets(), local)
            .unwrap();
        let n = d.n_samples() as f64;
        for ((s, a), b) in sum.iter_mut().zip(&new).zip(&init) {
            *s += n * (a - b);
        }
        total += n;
    }
    let bound = 3.0 * 2f64.powi(-17) / total + 1e-12;
    let mut dev = 0.0f64;
    for ((g, s), i) in got.iter().zip(&sum).zip(&init) {
        dev = dev.max((g - (i + s / total)).abs());
    }
    assert!(dev <= bound, "deviation {dev} > bound {bound}");
    assert!(
        sum.iter().any(|s| s.abs() > 1e-3),
        "the updates are not trivial"
    );

    // A site whose certificate comes from another CA is refused.
    let other = net_common::TempDir::new("fed-sites-other-ca");
    keygen(&other, "s0");
    let o = net_common::finish_within(
        site(
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
    let out = Command::new(BIN)
        .args(["federated", "--clients", &N.to_string(), "--write-shards"])
        .arg(&*dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
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
                "client".to_string(),
                "--config".into(),
                config.display().to_string(),
                "--identity".into(),
                dir.join(format!("client-s{k}")).display().to_string(),
                "--timeout".into(),
                "40".into(),
                "federated".into(),
                "--data".into(),
                dir.join(format!("site-{k}.csv")).display().to_string(),
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
            net_common::spawn(BIN, &args)
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
