//! `privml keygen`: certificates and a parties file for a deployment.
//!
//! Two ways to make them. The recommended one for a deployment keeps every
//! party's key on its own host: `--ca` on the CA's host (CA and parties
//! file), `--party N` on party N's host (its key and a signing request),
//! `--sign` back on the CA's host (the party's certificate). Clients of
//! `privml serve` have the same flow: `--client NAME` on the client's host,
//! `--sign-client` on the CA's host. Without any of these flags, one command
//! makes everything in one directory: for tests and trials on one machine.

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
        default_value = "127.0.0.1,127.0.0.1,127.0.0.1",
        conflicts_with_all = ["party", "sign", "client", "sign_client"]
    )]
    hosts: Vec<String>,
    /// Port of party 0; party N listens on this + N.
    #[arg(long, default_value_t = 7700, conflicts_with_all = ["party", "sign", "client", "sign_client"])]
    base_port: u16,
    /// Make only the deployment CA (ca.pem, ca.key) and the parties file,
    /// on the CA's host; each party then makes its own key (--party) and
    /// the CA signs its request (--sign).
    #[arg(long, conflicts_with_all = ["party", "sign", "client", "sign_client"])]
    ca: bool,
    /// On party N's host: make its private key (partyN.key, stays here) and
    /// a certificate signing request (partyN.csr, for the CA).
    #[arg(long, value_name = "N", conflicts_with_all = ["sign", "client", "sign_client"])]
    party: Option<usize>,
    /// On the CA's host: sign a party's request (partyN.csr) with the CA
    /// in --ca-dir, writing the party's certificate partyN.pem into --out.
    #[arg(long, value_name = "CSR", requires = "ca_dir", conflicts_with_all = ["client", "sign_client"])]
    sign: Option<PathBuf>,
    /// On a client's host: make client NAME's private key (client-NAME.key,
    /// stays here) and a certificate signing request (client-NAME.csr, for
    /// the CA).
    #[arg(long, value_name = "NAME", conflicts_with = "sign_client")]
    client: Option<String>,
    /// On the CA's host: sign a client's request (client-NAME.csr) with the
    /// CA in --ca-dir, writing the client's certificate client-NAME.pem into
    /// --out. Only a request naming a client is signed, never a party's.
    #[arg(long, value_name = "CSR", requires = "ca_dir")]
    sign_client: Option<PathBuf>,
    /// The CA's directory (ca.pem, ca.key), for --sign, --sign-client or
    /// --clients.
    #[arg(long, value_name = "DIR")]
    ca_dir: Option<PathBuf>,
    /// Client certificates for these names (comma-separated), signed by
    /// the deployment CA: with the one-directory set-up, next to the
    /// parties' files (and listed in the parties file's access list, with
    /// every dataset and model allowed: narrow it there); with --ca-dir,
    /// from that CA into --out.
    #[arg(long, value_delimiter = ',', value_name = "NAME,...", conflicts_with_all = ["party", "sign", "ca", "client", "sign_client"])]
    clients: Vec<String>,
    /// Overwrite files already in the directory.
    #[arg(long)]
    force: bool,
}

/// Runs `privml keygen`.
pub fn run(args: KeygenArgs) -> Result<()> {
    if let Some(id) = args.party {
        return party(&args, id);
    }
    if let (Some(csr), Some(ca_dir)) = (&args.sign, &args.ca_dir) {
        return sign(&args, csr, ca_dir);
    }
    if let Some(name) = &args.client {
        return client_request(&args, name);
    }
    if let (Some(csr), Some(ca_dir)) = (&args.sign_client, &args.ca_dir) {
        return sign_client(&args, csr, ca_dir);
    }
    if let Some(ca_dir) = &args.ca_dir {
        if args.clients.is_empty() {
            bail!("--ca-dir goes with --sign, --sign-client or --clients");
        }
        return clients(&args.clients, ca_dir, &args.out, args.force, None);
    }
    let hosts: [String; 3] = match args.hosts.clone().try_into() {
        Ok(h) => h,
        Err(h) => bail!(
            "--hosts needs three hosts, for parties 0, 1 and 2 (got {})",
            h.len()
        ),
    };
    if let Some(h) = hosts.iter().find(|h| h.trim().is_empty()) {
        bail!("--hosts: empty host name '{h}'");
    }
    if args.ca {
        return ca(&args, &hosts);
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
    if !args.clients.is_empty() {
        clients(
            &args.clients,
            &args.out,
            &args.out,
            args.force,
            Some(&d.config),
        )?;
    }
    outln!(
        "\nthis directory holds every party's key: fine for a trial on one machine; for a \
         deployment, let each party make its own (privml keygen --ca, --party N, --sign; \
         see docs/three-machines.md)"
    );
    outln!("\nstart the three parties, in any order, with the same job:");
    for i in 0..3 {
        outln!(
            "  privml party --id {i} --config {} demo tutorial",
            d.config.display()
        );
    }
    Ok(())
}

fn ca(args: &KeygenArgs, hosts: &[String; 3]) -> Result<()> {
    let d = tls::keygen_ca(&args.out, hosts, args.base_port, args.force)?;
    let dir = d.dir.display();
    outln!("privml keygen: the deployment CA in {dir}");
    outln!("  ca.pem        the CA certificate: every party host needs it");
    outln!("  ca.key        the CA key (secret): signs the parties' requests; keep it offline");
    outln!("  parties.toml  the parties file: every party host needs it");
    outln!("\nnext, on the host of each party N:");
    outln!("  privml keygen --party N --out DIR");
    outln!("and here, with the request partyN.csr it sends you:");
    outln!("  privml keygen --sign partyN.csr --ca-dir {dir} --out DIR   (send partyN.pem back)");
    Ok(())
}

fn party(args: &KeygenArgs, id: usize) -> Result<()> {
    let r = tls::keygen_party(&args.out, id, args.force)?;
    outln!("privml keygen: party {id}'s key and certificate signing request");
    outln!(
        "  {}   the private key (secret): stays on this host",
        r.key.display()
    );
    outln!("  {}   the request: send it to the CA", r.request.display());
    outln!("  key fingerprint {}", r.fingerprint);
    outln!(
        "\ntell the CA the fingerprint by another channel; it gets party{id}.pem back, which goes \
         next to the key, with ca.pem and parties.toml from the CA"
    );
    Ok(())
}

fn sign(args: &KeygenArgs, csr: &std::path::Path, ca_dir: &std::path::Path) -> Result<()> {
    let s = tls::sign_request(csr, ca_dir, &args.out, args.force)?;
    outln!(
        "privml keygen: signed {} for party {}",
        csr.display(),
        s.party
    );
    outln!(
        "  {}   party {}'s certificate: send it to party {}'s host",
        s.cert.display(),
        s.party,
        s.party
    );
    outln!(
        "  key fingerprint {}: it must be the one party {} reported",
        s.fingerprint,
        s.party
    );
    Ok(())
}

fn client_request(args: &KeygenArgs, name: &str) -> Result<()> {
    let r = privml::net::client_tls::keygen_client_request(&args.out, name, args.force)?;
    outln!("privml keygen: client {name}'s key and certificate signing request");
    outln!(
        "  {}   the private key (secret): stays on this host",
        r.key.display()
    );
    outln!("  {}   the request: send it to the CA", r.request.display());
    outln!("  key fingerprint {}", r.fingerprint);
    outln!(
        "\ntell the CA the fingerprint by another channel; it gets client-{name}.pem back, which \
         goes next to the key (--identity {}), with ca.pem and parties.toml from the CA",
        args.out.join(format!("client-{name}")).display()
    );
    Ok(())
}

fn sign_client(args: &KeygenArgs, csr: &std::path::Path, ca_dir: &std::path::Path) -> Result<()> {
    let s = privml::net::client_tls::sign_client_request(csr, ca_dir, &args.out, args.force)?;
    let name = &s.name;
    outln!("privml keygen: signed {} for client {name}", csr.display());
    outln!(
        "  {}   client {name}'s certificate: send it to the client",
        s.cert.display()
    );
    outln!(
        "  key fingerprint {}: it must be the one client {name} reported",
        s.fingerprint
    );
    outln!(
        "\nthe certificate says who the client is, not what it may do: the parties refuse \
         {name} until the parties file lists it; add to parties.toml, and give the new file \
         to the three parties (restart them):\n\n[[client]]\nname = \"{name}\"\n\
         datasets = []   # the datasets {name} may use, or \"*\"\nmodels = []     # \
         the models {name} may read or query, or \"*\""
    );
    Ok(())
}

/// Issues client certificates; with `config`, lists the clients in its
/// access list (every dataset and model allowed, to be narrowed).
fn clients(
    names: &[String],
    ca_dir: &std::path::Path,
    out: &std::path::Path,
    force: bool,
    config: Option<&std::path::Path>,
) -> Result<()> {
    let made = privml::net::client_tls::keygen_clients(ca_dir, out, names, force)?;
    for (name, (cert, key)) in names.iter().zip(&made) {
        outln!(
            "  {}   {} (secret): client {name}'s identity (--identity {})",
            cert.display(),
            key.display(),
            out.join(format!("client-{name}")).display()
        );
    }
    if let Some(config) = config {
        use std::io::Write as _;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(config)
            .map_err(|e| privml::Error::file(privml::error::FileOp::Write, config, e))?;
        let mut text = String::from(
            "\n# The clients `privml serve` accepts, and what each may use: dataset\n\
             # and model names, or \"*\" for all. Narrow these lists for real data.\n",
        );
        for n in names {
            text.push_str(&format!(
                "\n[[client]]\nname = \"{n}\"\ndatasets = [\"*\"]\nmodels = [\"*\"]\n"
            ));
        }
        f.write_all(text.as_bytes())
            .and_then(|()| f.sync_all())
            .map_err(|e| privml::Error::file(privml::error::FileOp::Write, config, e))?;
        outln!(
            "  the clients are in the access list of {}",
            config.display()
        );
    } else {
        outln!(
            "  add each client to the parties file's access list ([[client]] name = ..., datasets = [...], models = [...])"
        );
    }
    Ok(())
}
