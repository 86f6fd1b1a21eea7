//! Shared by the examples: `--domain plain|fixed|shared` and `--ring 64|128`.
#![allow(
    dead_code,
    reason = "shared by several examples, each of which uses only some of it"
)]

use privml::SharedConfig;
use privml::runner::{DomainKind, Exec};

/// The domain the example was asked to run on (default: shared, Z_2^64).
pub fn exec_from_args() -> Exec<'static> {
    let args: Vec<String> = std::env::args().collect();
    let get = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let domain = get("--domain").unwrap_or_else(|| "shared".to_string());
    let ring: u32 = get("--ring").and_then(|r| r.parse().ok()).unwrap_or(64);
    let kind = DomainKind::from_parts(&domain, ring).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2)
    });
    Exec::Local {
        kind,
        cfg: SharedConfig::default(),
    }
}
