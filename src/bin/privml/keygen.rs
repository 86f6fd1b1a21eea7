//! `privml keygen`: certificates and a parties file for a deployment.

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::Args;
use privml::net::tls;

/// Arguments of `privml keygen`.
#[derive(Args, Debug)]
pub struct KeygenArgs {
    /// Directory to write into (created if missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Hosts of parties 0, 1 and 2 (names or IP addresses), comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "127.0.0.1,127.0.0.1,127.0.0.1"
    )]
    hosts: Vec<String>,
    /// Port of party 0; party N listens on this + N.
    #[arg(long, default_value_t = 7700)]
    base_port: u16,
    /// Overwrite files already in the directory.
    #[arg(long)]
    force: bool,
}

/// Runs `privml keygen`.
pub fn run(args: KeygenArgs) -> Result<()> {
    let hosts: [String; 3] = match args.hosts.try_into() {
        Ok(h) => h,
        Err(h) => bail!(
            "--hosts needs three hosts, for parties 0, 1 and 2 (got {})",
            h.len()
        ),
    };
    if let Some(h) = hosts.iter().find(|h| h.trim().is_empty()) {
        bail!("--hosts: empty host name '{h}'");
    }
    let d = tls::keygen(&args.out, &hosts, args.base_port, args.force)?;
    let dir = d.dir.display();
    outln!("privml keygen: a deployment CA and certificates for parties 0, 1, 2 in {dir}");
    outln!("  ca.pem        the CA certificate: every party host needs it");
    outln!("  ca.key        the CA key (secret): not needed to run; keep it offline");
    for (i, h) in hosts.iter().enumerate() {
        outln!(
            "  party{i}.pem   party{i}.key (secret): for the host of party {i}, listening on {}",
            tls::host_port(h, args.base_port + i as u16)
        );
    }
    outln!("  parties.toml  the parties file: every party host needs it");
    outln!("\nstart the three parties, in any order, with the same job:");
    for i in 0..3 {
        outln!(
            "  privml party --id {i} --config {} demo tutorial",
            d.config.display()
        );
    }
    Ok(())
}
