//! Helpers of the federated-sites tests (`fed_sites`, `fed_sites_he`):
//! real `privml` processes on loopback, killed when the test ends.

use crate::net_common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};

use privml::net::tls;

/// The binary the tests run.
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

/// Output bytes as text.
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

/// `privml keygen --clients CLIENTS` into `dir`; the parties file's path.
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

/// `privml serve --id ID` with its store in `dir`.
pub fn serve(config: &Path, dir: &Path, id: usize) -> Child {
    net_common::serve(BIN, config, dir, id, 10)
}

/// The simulator's shards of the breast-cancer data, `dir/site-K.csv`.
pub fn write_shards(dir: &Path, sites: usize) {
    let out = Command::new(BIN)
        .args([
            "federated",
            "--clients",
            &sites.to_string(),
            "--write-shards",
        ])
        .arg(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
}

/// A model file written with `--out` (one parameter per line).
pub fn read_model(path: &Path) -> Vec<f64> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect()
}
