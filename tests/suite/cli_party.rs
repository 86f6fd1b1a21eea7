//! `privml keygen` and `privml party` as separate processes on loopback:
//! the same printed results as the in-process demo, and clear failures when
//! a party dies, never starts, or a stranger knocks.
#![cfg(all(feature = "tls", feature = "cli"))]

use crate::net_common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use privml::net::frame::{self, KIND_HELLO};
use privml::net::tls::{self, Credentials};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

const BIN: &str = env!("CARGO_BIN_EXE_privml");

fn keygen(tag: &str) -> (net_common::TempDir, PathBuf) {
    let dir = net_common::TempDir::new(tag);
    let port = net_common::free_base_port().to_string();
    let out = Command::new(BIN)
        .args(["keygen", "--out"])
        .arg(&dir)
        .args(["--base-port", &port])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let config = dir.join("parties.toml");
    (dir, config)
}

fn party(config: &Path, id: usize, args: &[&str]) -> Child {
    Command::new(BIN)
        .args(["party", "--id", &id.to_string(), "--config"])
        .arg(config)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits at most `limit` for `child`, killing it after that.
fn wait_for(mut child: Child, limit: Duration) -> (Output, Duration) {
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let elapsed = t0.elapsed();
    if child.try_wait().unwrap().is_none() {
        let _ = child.kill();
    }
    (child.wait_with_output().unwrap(), elapsed)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The lines that carry results: errors during training, weights, predictions.
fn results(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter(|l| {
            l.starts_with("Error:")
                || l.starts_with("Prediction")
                || l.starts_with("Layer")
                || l.starts_with("  [")
        })
        .map(String::from)
        .collect()
}

#[test]
fn three_party_processes_print_what_the_in_process_demo_prints() {
    let (_dir, config) = keygen("cli-same");
    let job = [
        "demo",
        "tutorial",
        "--iterations",
        "200",
        "--insecure-seed",
        "7",
    ];
    // Any start order: 2, then 1, then 0.
    let p2 = party(&config, 2, &job);
    std::thread::sleep(Duration::from_millis(300));
    let p1 = party(&config, 1, &job);
    let p0 = party(&config, 0, &job);
    let limit = Duration::from_secs(60);
    let (o0, _) = wait_for(p0, limit);
    let (o1, _) = wait_for(p1, limit);
    let (o2, _) = wait_for(p2, limit);
    for (id, o) in [(0, &o0), (1, &o1), (2, &o2)] {
        assert!(o.status.success(), "party {id}: {}", text(&o.stderr));
    }
    let local = Command::new(BIN).args(job).output().unwrap();
    assert!(local.status.success());
    let expected = results(&text(&local.stdout));
    let got = results(&text(&o0.stdout));
    assert!(
        expected
            .iter()
            .filter(|l| l.starts_with("Prediction"))
            .count()
            == 8
    );
    assert_eq!(got, expected, "party 0 must print the in-process results");
    // Parties 1 and 2 print nothing on stdout; they report on stderr.
    assert!(o1.stdout.is_empty() && o2.stdout.is_empty());
    assert!(text(&o1.stderr).contains("party 1: done"));
    // All three agreed to fixed key seeds, and each says what that means.
    for (id, o) in [(0, &o0), (1, &o1), (2, &o2)] {
        assert!(
            text(&o.stderr).contains(&format!("party {id}: WARNING: --insecure-seed 7")),
            "party {id}: {}",
            text(&o.stderr)
        );
    }
}

/// Issue 13, leak 2: `--insecure-seed` fixes a party's key seeds, and a
/// neighbour who knows the number recomputes the keys it must not know.
/// One party alone cannot ask for it: the seed is part of the job
/// description, so the parties stop at once, naming the field.
#[test]
fn one_party_alone_cannot_fix_the_key_seeds() {
    let (_dir, config) = keygen("cli-seed");
    let honest = [
        "--connect-deadline",
        "10",
        "demo",
        "tutorial",
        "--iterations",
        "5",
    ];
    let mut fixed = honest.to_vec();
    fixed.extend(["--insecure-seed", "7"]);
    let p0 = party(&config, 0, &honest);
    let p1 = party(&config, 1, &honest);
    let p2 = party(&config, 2, &fixed);
    let limit = Duration::from_secs(60);
    let outs = [
        wait_for(p0, limit).0,
        wait_for(p1, limit).0,
        wait_for(p2, limit).0,
    ];
    for (id, o) in outs.iter().enumerate() {
        assert!(!o.status.success(), "party {id} must refuse to run");
        assert!(
            !text(&o.stdout).contains("Prediction"),
            "party {id} computed: {}",
            text(&o.stdout)
        );
    }
    // The honest party that met party 2 names the difference (the other may
    // only see party 2 leave before it connected).
    let named =
        "party 2 was started for a different job: its insecure_seed is 7, this party's is none";
    assert!(
        outs[..2].iter().any(|o| text(&o.stderr).contains(named)),
        "party 0: {}\nparty 1: {}",
        text(&outs[0].stderr),
        text(&outs[1].stderr)
    );
    let err2 = text(&outs[2].stderr);
    assert!(
        err2.contains("party 2: WARNING: --insecure-seed 7"),
        "{err2}"
    );
    assert!(
        err2.contains("its insecure_seed is none, this party's is 7"),
        "{err2}"
    );
}

#[test]
fn killing_a_party_mid_run_fails_the_other_two_promptly() {
    let (_dir, config) = keygen("cli-kill");
    // The full tutorial runs for many seconds over TCP.
    let job = [
        "--timeout",
        "20",
        "demo",
        "tutorial",
        "--insecure-seed",
        "7",
    ];
    let p0 = party(&config, 0, &job);
    let p1 = party(&config, 1, &job);
    let mut p2 = party(&config, 2, &job);
    std::thread::sleep(Duration::from_millis(1200));
    assert!(p2.try_wait().unwrap().is_none(), "party 2 ended too early");
    p2.kill().unwrap();
    let killed = Instant::now();
    let _ = p2.wait();
    let (o0, _) = wait_for(p0, Duration::from_secs(15));
    let (o1, _) = wait_for(p1, Duration::from_secs(15));
    let took = killed.elapsed();
    for (id, o) in [(0, &o0), (1, &o1)] {
        let err = text(&o.stderr);
        assert!(!o.status.success(), "party {id} must fail");
        assert!(
            err.contains("party 2 disconnected during"),
            "party {id} stderr: {err}"
        );
    }
    // Disconnects are noticed at once, not after the 20 s timeout.
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

/// A client whose certificate is self-signed (not issued by the deployment
/// CA) but names party 1.
fn intruder_credentials(dir: &Path) -> Credentials {
    let ck = rcgen::generate_simple_self_signed(vec![tls::party_name(1)]).unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der()));
    let ca = tls::load_certs(&dir.join("ca.pem")).unwrap();
    Credentials::from_der(ca, vec![ck.cert.der().clone()], key)
}

#[test]
fn an_untrusted_client_is_refused_and_logged() {
    let (dir, config) = keygen("cli-intruder");
    let p0 = party(&config, 0, &["--connect-deadline", "3", "demo", "tutorial"]);
    let parties = privml::net::config::PartiesConfig::load(&config).unwrap();
    let addr = parties.party(0).address.clone();
    let client = tls::client_config(&intruder_credentials(&dir)).unwrap();
    let t0 = Instant::now();
    let sock = loop {
        match std::net::TcpStream::connect(&addr) {
            Ok(s) => break s,
            Err(_) if t0.elapsed() < Duration::from_secs(3) => {
                std::thread::sleep(Duration::from_millis(50))
            }
            Err(e) => panic!("party 0 never listened: {e}"),
        }
    };
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let conn =
        rustls::ClientConnection::new(Arc::clone(&client), tls::peer_server_name(0).unwrap())
            .unwrap();
    let mut s = rustls::StreamOwned::new(conn, sock);
    // TLS 1.3: the client finishes its side of the handshake before the
    // server judges its certificate; the refusal arrives as an alert.
    let sent = frame::write_control(&mut s, KIND_HELLO, &[1, 1, 0]).and_then(|()| s.flush());
    let mut buf = [0u8; 64];
    let answer = sent.and_then(|()| s.read(&mut buf));
    assert!(
        matches!(answer, Err(_) | Ok(0)),
        "the intruder got an answer: {answer:?}"
    );
    let (o0, _) = wait_for(p0, Duration::from_secs(10));
    let err = text(&o0.stderr);
    assert!(!o0.status.success());
    assert!(
        err.contains("refused a connection from 127.0.0.1:"),
        "party 0 must log the refusal: {err}"
    );
    assert!(err.contains("cannot reach party 1"), "{err}");
}

#[test]
fn a_party_whose_peers_never_start_cannot_reach_them() {
    let (_dir, config) = keygen("cli-alone");
    let parties = privml::net::config::PartiesConfig::load(&config).unwrap();
    // Party 1 connects to party 0, which is not there.
    let p1 = party(&config, 1, &["--connect-deadline", "1", "demo", "tutorial"]);
    let (o1, t1) = wait_for(p1, Duration::from_secs(10));
    let e1 = text(&o1.stderr);
    assert!(!o1.status.success());
    let want = format!("cannot reach party 0 at {}", parties.party(0).address);
    assert!(e1.contains(&want), "{e1}");
    // Party 0 waits for parties 1 and 2, which never come.
    let p0 = party(&config, 0, &["--connect-deadline", "1", "demo", "tutorial"]);
    let (o0, t0) = wait_for(p0, Duration::from_secs(10));
    let e0 = text(&o0.stderr);
    assert!(!o0.status.success());
    let want = format!("cannot reach party 1 at {}", parties.party(1).address);
    assert!(e0.contains(&want), "{e0}");
    assert!(t1 < Duration::from_secs(5) && t0 < Duration::from_secs(5));
}

#[test]
fn keygen_protects_keys_and_does_not_overwrite() {
    let (dir, _config) = keygen("cli-keygen");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for f in ["ca.key", "party0.key", "party1.key", "party2.key"] {
            let mode = std::fs::metadata(dir.join(f)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{f}");
        }
    }
    let again = Command::new(BIN)
        .args(["keygen", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(text(&again.stderr).contains("--force"));
    let forced = Command::new(BIN)
        .args([
            "keygen",
            "--force",
            "--hosts",
            "10.0.0.1,10.0.0.2,::1",
            "--out",
        ])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(forced.status.success(), "{}", text(&forced.stderr));
    let toml = std::fs::read_to_string(dir.join("parties.toml")).unwrap();
    assert!(
        toml.contains("\"10.0.0.2:7701\"") && toml.contains("\"[::1]:7702\""),
        "{toml}"
    );
}

#[test]
fn a_bad_parties_file_is_named_in_the_error() {
    let (_dir, config) = keygen("cli-badfile");
    let t = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, t.replacen("key = \"party1.key\"\n", "", 1)).unwrap();
    let o = Command::new(BIN)
        .args(["party", "--id", "0", "--config"])
        .arg(&config)
        .args(["demo", "tutorial"])
        .output()
        .unwrap();
    let err = text(&o.stderr);
    assert!(!o.status.success());
    assert!(
        err.contains("parties.toml") && err.contains("missing field `key`"),
        "{err}"
    );
    // A key file that is not PEM.
    std::fs::write(&config, &t).unwrap();
    std::fs::write(config.with_file_name("party0.key"), "not a key").unwrap();
    let o = Command::new(BIN)
        .args(["party", "--id", "0", "--config"])
        .arg(&config)
        .args(["demo", "tutorial"])
        .output()
        .unwrap();
    let err = text(&o.stderr);
    assert!(
        err.contains("party0.key") && err.contains("private key"),
        "{err}"
    );
}

#[test]
fn train_and_predict_as_three_processes() {
    let (dir, config) = keygen("train");
    let prefix = dir.join("m");
    let p = prefix.to_str().unwrap();
    let common = [
        "--model",
        "mlp:8",
        "--epochs",
        "2",
        "--batch",
        "32",
        "--insecure-seed",
        "3",
    ];
    // only the data owner (party 1) has the data
    let mut owner_args = vec!["train", "--data", "breast_cancer", "--out", p];
    owner_args.extend(common);
    let mut other_args = vec!["train", "--out", p];
    other_args.extend(common);
    let kids: Vec<Child> = (0..3)
        .map(|id| party(&config, id, if id == 1 { &owner_args } else { &other_args }))
        .collect();
    let outs: Vec<Output> = kids
        .into_iter()
        .map(|c| wait_for(c, Duration::from_secs(120)).0)
        .collect();
    for (id, o) in outs.iter().enumerate() {
        assert!(o.status.success(), "party {id}: {}", text(&o.stderr));
        assert!(
            text(&o.stdout).contains(&format!("party {id} saved its shares")),
            "party {id}: {}",
            text(&o.stdout)
        );
    }
    assert!(
        text(&outs[0].stdout).contains("epoch 2: train loss"),
        "{}",
        text(&outs[0].stdout)
    );
    for id in 0..3 {
        assert!(dir.join(format!("m.party{id}.shares")).exists());
    }
    // predict: each party loads its own file; the owner passes the rows
    let data = format!("{}/data/breast_cancer.csv", env!("CARGO_MANIFEST_DIR"));
    let pred = dir.join("pred.csv");
    let kids: Vec<Child> = (0..3)
        .map(|id| {
            let model = dir.join(format!("m.party{id}.shares"));
            let model = model.to_str().unwrap().to_string();
            let mut args = vec!["predict".to_string(), "--model".to_string(), model];
            if id == 1 {
                args.extend([
                    "--data".into(),
                    data.clone(),
                    "--out".into(),
                    pred.to_str().unwrap().into(),
                ]);
            }
            let refs: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
            party(&config, id, &refs)
        })
        .collect();
    let outs: Vec<Output> = kids
        .into_iter()
        .map(|c| wait_for(c, Duration::from_secs(120)).0)
        .collect();
    for (id, o) in outs.iter().enumerate() {
        assert!(o.status.success(), "party {id}: {}", text(&o.stderr));
    }
    let owner = text(&outs[1].stdout);
    assert!(
        owner.contains("569 predictions") && owner.contains("accuracy against 'target'"),
        "{owner}"
    );
    assert_eq!(std::fs::read_to_string(&pred).unwrap().lines().count(), 570);
    // party 0 never sees the rows or the predictions
    assert!(
        !text(&outs[0].stdout).contains("predictions"),
        "{}",
        text(&outs[0].stdout)
    );
}

/// `privml party bench`: the three processes time a workload; party 0
/// prints its row with the cost model's rounds and its own bytes, parties
/// started for different workloads stop at once naming the field, and an
/// unknown workload is refused before connecting.
#[test]
fn party_bench_times_a_workload_on_three_processes() {
    let (_dir, config) = keygen("cli-bench");
    let job = ["bench", "W2-256", "--runs", "2"];
    let ps: Vec<Child> = (0..3).map(|id| party(&config, id, &job)).collect();
    let outs: Vec<Output> = ps
        .into_iter()
        .map(|p| wait_for(p, Duration::from_secs(60)).0)
        .collect();
    for (id, o) in outs.iter().enumerate() {
        assert!(o.status.success(), "party {id}: {}", text(&o.stderr));
    }
    let row = text(&outs[0].stdout)
        .lines()
        .find(|l| l.starts_with("| W2 matmul 256x256 |"))
        .map(String::from)
        .unwrap_or_else(|| panic!("no row in {}", text(&outs[0].stdout)));
    let cells: Vec<&str> = row.split('|').map(str::trim).collect();
    // | name | median s | runs | rounds | bytes |
    assert!(cells[2].parse::<f64>().unwrap() > 0.0, "{row}");
    assert_eq!(cells[3], "2", "{row}");
    // one secure product: the resharing round and the truncation's round
    assert_eq!(cells[4], "2", "{row}");
    // each round sends party 0's 256 x 256 elements of 8 bytes
    assert_eq!(cells[5], "1.05 MB", "{row}");
    assert!(outs[1].stdout.is_empty() && outs[2].stdout.is_empty());

    let (_dir2, config2) = keygen("cli-bench-mismatch");
    let same = ["--connect-deadline", "10", "bench", "W2-256", "--runs", "1"];
    let other = ["--connect-deadline", "10", "bench", "W1", "--runs", "1"];
    let ps = [
        party(&config2, 0, &same),
        party(&config2, 1, &same),
        party(&config2, 2, &other),
    ];
    let outs: Vec<Output> = ps
        .into_iter()
        .map(|p| wait_for(p, Duration::from_secs(60)).0)
        .collect();
    for (id, o) in outs.iter().enumerate() {
        assert!(!o.status.success(), "party {id} must refuse to run");
        assert!(o.stdout.is_empty(), "party {id}: {}", text(&o.stdout));
    }
    let err2 = text(&outs[2].stderr);
    assert!(
        err2.contains("its workload is W2-256, this party's is W1"),
        "{err2}"
    );

    let bad = party(&config2, 0, &["bench", "W9"]);
    let (o, elapsed) = wait_for(bad, Duration::from_secs(30));
    assert!(!o.status.success());
    assert!(
        text(&o.stderr).contains("unknown workload W9"),
        "{}",
        text(&o.stderr)
    );
    assert!(
        elapsed < Duration::from_secs(30),
        "refused before connecting"
    );
}
