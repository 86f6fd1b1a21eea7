//! Helpers of the deployed federated tests (`fed_sites.rs`,
//! `fed_restart.rs`, `fed_view.rs`): a deployment with site identities,
//! `privml serve` and `privml client federated` processes whose output is
//! read as it comes, and the plaintext FedAvg the aggregates are checked
//! against.
#![cfg(all(feature = "tls", feature = "cli"))]
#![allow(
    dead_code,
    reason = "shared by several test files, each of which uses only some of it"
)]

use crate::net_common;

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use privml::data::load_csv;
use privml::fl::{LocalTraining, ModelSpec};
use privml::net::tls;

pub const BIN: &str = env!("CARGO_BIN_EXE_privml");

/// Child processes killed when the test ends, however it ends.
pub struct Children(pub Vec<Option<Child>>);

impl Drop for Children {
    fn drop(&mut self) {
        for c in self.0.iter_mut().flatten() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A base port with the parties' and the client ports free.
pub fn base_port() -> u16 {
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

/// `privml keygen` with the sites `clients` (comma-separated) in `dir`;
/// returns the parties file.
pub fn keygen(dir: &Path, clients: &str) -> PathBuf {
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

/// The simulator's shards of the breast-cancer data, `dir/site-K.csv`.
pub fn write_shards(dir: &Path, n: usize) {
    let out = Command::new(BIN)
        .args(["federated", "--clients", &n.to_string(), "--write-shards"])
        .arg(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
}

pub fn shard(dir: &Path, k: usize) -> PathBuf {
    dir.join(format!("site-{k}.csv"))
}

pub fn model_path(dir: &Path, k: usize) -> PathBuf {
    dir.join(format!("model-{k}.txt"))
}

pub fn identity(dir: &Path, k: usize) -> PathBuf {
    dir.join(format!("client-s{k}"))
}

/// `privml serve` as party `id`, its store in `dir/store{id}` (the same
/// store when started again).
pub fn serve(config: &Path, dir: &Path, id: usize) -> Child {
    net_common::serve(BIN, config, dir, id, 10)
}

/// `privml client federated` with the client options `--config`,
/// `--identity` and `--timeout`, then the site's `args`.
pub fn site(config: &Path, identity: &Path, timeout_secs: u32, args: &[&str]) -> Child {
    let mut all = vec![
        "client".to_string(),
        "--config".into(),
        config.display().to_string(),
        "--identity".into(),
        identity.display().to_string(),
        "--timeout".into(),
        timeout_secs.to_string(),
        "federated".into(),
    ];
    all.extend(args.iter().map(|s| s.to_string()));
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    net_common::spawn(BIN, &all)
}

pub fn read_model(path: &Path) -> Vec<f64> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect()
}

/// The local training every site runs by default.
pub fn default_local() -> LocalTraining {
    LocalTraining {
        steps: 5,
        lr: 4.0,
        weight_decay: 0.002,
    }
}

/// The global models of `rounds` rounds of plaintext FedAvg over the
/// shards (every site in every round, weighted by rows) of logistic
/// regression from the sites' default initial model, and the total weight.
pub fn plain_fedavg(shards: &[PathBuf], rounds: usize) -> (Vec<Vec<f64>>, f64) {
    let spec = ModelSpec::logistic(30);
    let mut global = spec.init(1);
    let data: Vec<_> = shards
        .iter()
        .map(|p| load_csv(p, "target").unwrap())
        .collect();
    let total: f64 = data.iter().map(|d| d.n_samples() as f64).sum();
    let mut out = vec![global.clone()];
    for _ in 0..rounds {
        let mut sum = vec![0.0; global.len()];
        for d in &data {
            let new = spec
                .train_local(&global, d.features(), d.targets(), default_local())
                .unwrap();
            let n = d.n_samples() as f64;
            for ((s, a), b) in sum.iter_mut().zip(&new).zip(&global) {
                *s += n * (a - b);
            }
        }
        for (g, s) in global.iter_mut().zip(&sum) {
            *g += s / total;
        }
        out.push(global.clone());
    }
    (out, total)
}

/// The largest absolute difference of two models.
pub fn max_dev(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

/// A child process whose stdout and stderr are read as they come, into
/// one text, so that a test can wait for a line (a round's progress, a
/// failure) before acting.
pub struct Watched {
    child: Option<Child>,
    out: Arc<Mutex<String>>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

impl Watched {
    /// Watches `child` (started with piped stdout and stderr).
    pub fn new(mut child: Child) -> Watched {
        let out = Arc::new(Mutex::new(String::new()));
        let mut readers = Vec::new();
        let pipes: Vec<Box<dyn Read + Send>> = vec![
            Box::new(child.stdout.take().expect("piped stdout")),
            Box::new(child.stderr.take().expect("piped stderr")),
        ];
        for mut pipe in pipes {
            let out = Arc::clone(&out);
            readers.push(std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = pipe.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    out.lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            }));
        }
        Watched {
            child: Some(child),
            out,
            readers,
        }
    }

    /// What it wrote so far.
    pub fn text(&self) -> String {
        self.out
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Waits until its output contains `needle` `times` times (at most
    /// `limit`, then panics with the output); returns the output.
    pub fn wait_for(&self, needle: &str, times: usize, limit: Duration) -> String {
        let t0 = Instant::now();
        loop {
            let t = self.text();
            if t.matches(needle).count() >= times {
                return t;
            }
            assert!(
                t0.elapsed() < limit,
                "no '{needle}' (x{times}) within {limit:?}:\n{t}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills it (SIGKILL) and returns its output.
    pub fn kill(mut self) -> String {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        self.join()
    }

    /// Waits at most `limit` for it to end (killing it after that); its
    /// exit status and output.
    pub fn finish(mut self, limit: Duration) -> (ExitStatus, String) {
        let mut c = self.child.take().expect("a running child");
        let t0 = Instant::now();
        while t0.elapsed() < limit && c.try_wait().expect("poll the child").is_none() {
            std::thread::sleep(Duration::from_millis(20));
        }
        if c.try_wait().expect("poll the child").is_none() {
            let _ = c.kill();
        }
        let status = c.wait().expect("wait for the child");
        (status, self.join())
    }

    /// Whether it is still running.
    pub fn running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().expect("poll the child").is_none())
    }

    fn join(&mut self) -> String {
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
        self.text()
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        if let Some(c) = self.child.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
