//! Helpers of the network tests: temporary deployments on free loopback ports.
#![allow(
    dead_code,
    reason = "shared by several test files, each of which uses only some of it"
)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

#[path = "../temp_dir/mod.rs"]
mod temp_dir;
pub use temp_dir::TempDir;

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A port P such that P, P+1 and P+2 are free on 127.0.0.1 right now. Each
/// call of one process starts its search elsewhere, so parallel tests do not
/// pick the same ports.
pub fn free_base_port() -> u16 {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let start = 20_000 + (std::process::id() % 500) * 60 + n * 3;
    for k in 0..2000u32 {
        let base = 20_000 + (start - 20_000 + 3 * k) % 40_000;
        let base = base as u16;
        let ok = (0..3).all(|i| TcpListener::bind(("127.0.0.1", base + i)).is_ok());
        if ok {
            return base;
        }
    }
    panic!("no three consecutive free ports");
}

/// A loopback deployment (CA, keys, certificates, parties.toml) in a fresh
/// directory; returns the directory (removed when dropped) and the parties
/// file.
pub fn deployment(tag: &str) -> (TempDir, PathBuf) {
    let dir = TempDir::new(tag);
    let hosts = [
        "127.0.0.1".to_string(),
        "127.0.0.1".into(),
        "127.0.0.1".into(),
    ];
    let d = privml::net::tls::keygen(&dir, &hosts, free_base_port(), false).expect("keygen");
    (dir, d.config)
}

/// Sets `key = value` lines of a parties file (top level only, before the
/// first table), replacing an existing line with the same key.
pub fn set_top_level(config: &Path, key: &str, value: &str) {
    let text = std::fs::read_to_string(config).expect("read parties file");
    let mut lines: Vec<String> = text
        .lines()
        .filter(|l| !l.starts_with(&format!("{key} =")))
        .map(String::from)
        .collect();
    let first_table = lines
        .iter()
        .position(|l| l.starts_with('['))
        .unwrap_or(lines.len());
    lines.insert(first_table, format!("{key} = {value}"));
    std::fs::write(config, lines.join("\n") + "\n").expect("write parties file");
}

/// Starts `bin` with `args`, stdout and stderr captured.
pub fn spawn(bin: &str, args: &[&str]) -> std::process::Child {
    std::process::Command::new(bin)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start the binary")
}

/// Starts `privml serve` (the binary `bin`) as party `id` of `config`, its
/// store in `dir/store{id}`, with a client timeout of `timeout_secs`.
pub fn serve(
    bin: &str,
    config: &Path,
    dir: &Path,
    id: usize,
    timeout_secs: u32,
) -> std::process::Child {
    let store = dir.join(format!("store{id}"));
    spawn(
        bin,
        &[
            "serve",
            "--id",
            &id.to_string(),
            "--config",
            config.to_str().expect("a UTF-8 path"),
            "--store",
            store.to_str().expect("a UTF-8 path"),
            "--timeout",
            &timeout_secs.to_string(),
        ],
    )
}

/// Waits at most `limit` for `child` (killing it after that) and returns
/// its output.
pub fn finish_within(
    mut child: std::process::Child,
    limit: std::time::Duration,
) -> std::process::Output {
    let t0 = std::time::Instant::now();
    while t0.elapsed() < limit && child.try_wait().expect("poll the child").is_none() {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    if child.try_wait().expect("poll the child").is_none() {
        let _ = child.kill();
    }
    child.wait_with_output().expect("collect the output")
}
