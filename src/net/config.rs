//! The parties file: where the three parties are and which keys they use.
//!
//! ```toml
//! ca = "ca.pem"                 # the deployment CA certificate
//! timeout_secs = 60             # optional: wait for a peer's message (per operation)
//! connect_deadline_secs = 60    # optional: wait for the other parties at start
//! max_frame_bytes = 1073741824  # optional: largest payload accepted from a peer
//!
//! [[party]]
//! id = 0
//! address = "10.0.0.1:7000"     # host:port the others connect to
//! # listen = "0.0.0.0:7000"     # optional: where this party binds instead
//! cert = "party0.pem"
//! key = "party0.key"            # read only by party 0 itself
//! # client_address = "10.0.0.1:7100" # optional: where `privml serve` takes clients
//!
//! [[party]]
//! id = 1
//! # ...
//!
//! # The access list of `privml serve` (optional): the clients the parties
//! # accept (each with a certificate from `privml keygen --clients`), the
//! # datasets each may upload and train on, the models each may train and
//! # query. "*" allows every name.
//! [[client]]
//! name = "alice"
//! datasets = ["alice-rows"]
//! models = ["*"]
//! ```
//!
//! Paths are relative to the file's directory. Every party reads the same
//! file but opens only the CA certificate and its own certificate and key,
//! so a host needs only its own key. `privml keygen` writes a ready file.
//!
//! # Examples
//!
//! ```
//! use std::path::Path;
//! use privml::net::config::PartiesConfig;
//!
//! let text = r#"
//! ca = "ca.pem"
//! [[party]]
//! id = 0
//! address = "127.0.0.1:7000"
//! cert = "party0.pem"
//! key = "party0.key"
//! [[party]]
//! id = 1
//! address = "127.0.0.1:7001"
//! cert = "party1.pem"
//! key = "party1.key"
//! [[party]]
//! id = 2
//! address = "127.0.0.1:7002"
//! cert = "party2.pem"
//! key = "party2.key"
//! "#;
//! let cfg = PartiesConfig::parse(text, Path::new("/etc/privml/parties.toml"))?;
//! assert_eq!(cfg.party(1).address, "127.0.0.1:7001");
//! assert_eq!(cfg.party(1).cert, Path::new("/etc/privml/party1.pem"));
//! # Ok::<(), privml::Error>(())
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::error::{Error, FileOp, Result};
use crate::party_id::PartyId;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    ca: String,
    timeout_secs: Option<f64>,
    connect_deadline_secs: Option<f64>,
    max_frame_bytes: Option<u64>,
    party: Vec<RawParty>,
    #[serde(default)]
    client: Vec<RawClient>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClient {
    name: String,
    #[serde(default)]
    datasets: Vec<String>,
    #[serde(default)]
    models: Vec<String>,
}

/// One client of the access list: who may use which datasets and models.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientEntry {
    /// The name its certificate carries (`NAME.client.privml`).
    pub name: String,
    /// Datasets it may upload and train on (`*`: any).
    pub datasets: Vec<String>,
    /// Models it may train (write) and query (`*`: any).
    pub models: Vec<String>,
}

impl ClientEntry {
    /// Whether the client may upload or train on dataset `name`.
    pub fn may_use_dataset(&self, name: &str) -> bool {
        self.datasets.iter().any(|d| d == "*" || d == name)
    }

    /// Whether the client may train or query model `name`.
    pub fn may_use_model(&self, name: &str) -> bool {
        self.models.iter().any(|m| m == "*" || m == name)
    }
}

/// Whether `name` may name a client, a dataset or a model: 1 to 64
/// characters from `a-z`, `0-9`, `-` and `_`, not starting with `-` (a
/// DNS label in certificates, a file name in a party's store).
///
/// # Examples
///
/// ```
/// use privml::net::config::valid_name;
///
/// assert!(valid_name("alice-2"));
/// assert!(!valid_name("../etc") && !valid_name("") && !valid_name("-x") && !valid_name("A"));
/// ```
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('-')
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawParty {
    id: i64,
    address: String,
    listen: Option<String>,
    client_address: Option<String>,
    cert: String,
    key: String,
}

/// One party's entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartyEntry {
    /// 0, 1 or 2.
    pub id: PartyId,
    /// `host:port` where the others reach it.
    pub address: String,
    /// `host:port` it binds to, when that differs from `address` (behind
    /// NAT, or `0.0.0.0:port` to listen on every interface).
    pub listen: Option<String>,
    /// `host:port` where `privml serve` takes clients (and binds).
    pub client_address: Option<String>,
    /// Its certificate (PEM), absolute or relative to the working directory.
    pub cert: PathBuf,
    /// Its private key (PEM); only the party itself reads it.
    pub key: PathBuf,
}

impl PartyEntry {
    /// Where this party binds its listener.
    pub fn listen_address(&self) -> &str {
        self.listen.as_deref().unwrap_or(&self.address)
    }
}

/// A parsed parties file.
#[derive(Debug, Clone, PartialEq)]
pub struct PartiesConfig {
    /// The file it was read from.
    pub path: PathBuf,
    /// The CA certificate.
    pub ca: PathBuf,
    /// Parties 0, 1, 2, in order.
    pub parties: [PartyEntry; 3],
    /// Per-operation timeout during a run.
    pub timeout: Option<Duration>,
    /// How long to wait for the other parties at start.
    pub connect_deadline: Option<Duration>,
    /// Largest payload accepted from a peer.
    pub max_frame_bytes: Option<u64>,
    /// The access list of `privml serve`.
    pub clients: Vec<ClientEntry>,
}

fn check_address(path: &Path, what: &str, a: &str) -> Result<()> {
    let bad = |why: &str| Error::BadFile {
        path: path.display().to_string(),
        reason: format!("{what} '{a}' {why}: expected host:port, e.g. 10.0.0.1:7000"),
    };
    let (host, port) = a.rsplit_once(':').ok_or_else(|| bad("has no port"))?;
    if host.is_empty() {
        return Err(bad("has no host"));
    }
    port.parse::<u16>()
        .map_err(|_| bad("has no valid port (0-65535)"))?;
    Ok(())
}

/// The longest wait the parties file or the command line may set (a
/// connect deadline or a per-operation timeout): one week.
///
/// Waits are added to the current time ([`std::time::Instant`]), which
/// overflows (and panics) for durations near `u64::MAX` seconds; a week is
/// far beyond any useful wait and far below that limit.
pub const MAX_WAIT: Duration = Duration::from_secs(7 * 24 * 3600);

/// `secs` as a wait of at most [`MAX_WAIT`]; `None` (with the reason) for
/// a negative, non-finite or larger value. `name` is the setting, for the
/// reason.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use privml::net::config::wait_from_secs;
///
/// assert_eq!(wait_from_secs("timeout", 2.5), Ok(Duration::from_millis(2500)));
/// assert!(wait_from_secs("connect deadline", 1.8e19).unwrap_err().contains("at most 604800"));
/// assert!(wait_from_secs("timeout", -1.0).is_err());
/// ```
pub fn wait_from_secs(name: &str, secs: f64) -> std::result::Result<Duration, String> {
    match Duration::try_from_secs_f64(secs) {
        Ok(d) if d <= MAX_WAIT => Ok(d),
        Ok(_) => Err(format!(
            "{name} = {secs} seconds is too long: at most {} seconds (one week)",
            MAX_WAIT.as_secs()
        )),
        Err(_) => Err(format!(
            "{name} = {secs} is not a non-negative number of seconds"
        )),
    }
}

fn seconds(path: &Path, name: &str, v: Option<f64>) -> Result<Option<Duration>> {
    v.map(|s| {
        wait_from_secs(name, s).map_err(|reason| Error::BadFile {
            path: path.display().to_string(),
            reason,
        })
    })
    .transpose()
}

impl PartiesConfig {
    /// Reads and checks the file at `path`.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::file(FileOp::Read, path, e))?;
        Self::parse(&text, path)
    }

    /// Parses `text` as if read from `path` (relative paths in it are taken
    /// relative to `path`'s directory).
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        let bad = |reason: String| Error::BadFile {
            path: path.display().to_string(),
            reason,
        };
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| {
                    format!(
                        "line {}: ",
                        text[..s.start.min(text.len())].lines().count().max(1)
                    )
                })
                .unwrap_or_default();
            bad(format!("{line}{}", e.message().trim()))
        })?;
        let dir = path.parent().unwrap_or(Path::new(""));
        let resolve = |p: &str| -> PathBuf {
            let p = Path::new(p);
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                dir.join(p)
            }
        };
        let mut slots: [Option<PartyEntry>; 3] = [None, None, None];
        for p in raw.party {
            let id = usize::try_from(p.id)
                .ok()
                .filter(|&i| i < 3)
                .ok_or_else(|| bad(format!("party id {} is not one of 0, 1, 2", p.id)))?;
            if slots[id].is_some() {
                return Err(bad(format!("party {id} is listed twice")));
            }
            check_address(path, &format!("party {id}: address"), &p.address)?;
            if let Some(l) = &p.listen {
                check_address(path, &format!("party {id}: listen"), l)?;
            }
            if let Some(l) = &p.client_address {
                check_address(path, &format!("party {id}: client_address"), l)?;
            }
            slots[id] = Some(PartyEntry {
                id,
                address: p.address,
                listen: p.listen,
                client_address: p.client_address,
                cert: resolve(&p.cert),
                key: resolve(&p.key),
            });
        }
        let missing: Vec<String> = (0..3)
            .filter(|&i| slots[i].is_none())
            .map(|i| i.to_string())
            .collect();
        if !missing.is_empty() {
            return Err(bad(format!(
                "no [[party]] entry for party {} (three are needed: ids 0, 1, 2)",
                missing.join(", ")
            )));
        }
        let [Some(p0), Some(p1), Some(p2)] = slots else {
            return Err(bad("three parties are needed".into()));
        };
        if raw.max_frame_bytes == Some(0) {
            return Err(bad("max_frame_bytes must be positive".into()));
        }
        let mut clients: Vec<ClientEntry> = Vec::with_capacity(raw.client.len());
        for c in raw.client {
            if !valid_name(&c.name) {
                return Err(bad(format!(
                    "client name '{}': use 1 to 64 of a-z, 0-9, '-', '_'",
                    c.name
                )));
            }
            if clients.iter().any(|k| k.name == c.name) {
                return Err(bad(format!("client '{}' is listed twice", c.name)));
            }
            if let Some(n) = c
                .datasets
                .iter()
                .chain(&c.models)
                .find(|n| *n != "*" && !valid_name(n))
            {
                return Err(bad(format!(
                    "client '{}': '{n}' is not a dataset or model name (1 to 64 of a-z, 0-9, '-', '_', or \"*\")",
                    c.name
                )));
            }
            clients.push(ClientEntry {
                name: c.name,
                datasets: c.datasets,
                models: c.models,
            });
        }
        Ok(PartiesConfig {
            clients,
            path: path.to_path_buf(),
            ca: resolve(&raw.ca),
            parties: [p0, p1, p2],
            timeout: seconds(path, "timeout_secs", raw.timeout_secs)?,
            connect_deadline: seconds(path, "connect_deadline_secs", raw.connect_deadline_secs)?,
            max_frame_bytes: raw.max_frame_bytes,
        })
    }

    /// Party `id`'s entry.
    ///
    /// # Panics
    ///
    /// If `id > 2`.
    pub fn party(&self, id: PartyId) -> &PartyEntry {
        &self.parties[id]
    }

    /// The access list's entry of client `name`.
    pub fn client(&self, name: &str) -> Option<&ClientEntry> {
        self.clients.iter().find(|c| c.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
ca = "ca.pem"
timeout_secs = 2.5
[[party]]
id = 0
address = "127.0.0.1:7000"
cert = "p0.pem"
key = "/abs/p0.key"
[[party]]
id = 2
address = "[::1]:7002"
listen = "0.0.0.0:7002"
cert = "p2.pem"
key = "p2.key"
[[party]]
id = 1
address = "h1:7001"
cert = "p1.pem"
key = "p1.key"
"#;

    fn parse(s: &str) -> Result<PartiesConfig> {
        PartiesConfig::parse(s, Path::new("/d/parties.toml"))
    }

    fn err(s: &str) -> String {
        parse(s).unwrap_err().to_string()
    }

    #[test]
    fn good_file() {
        let c = parse(GOOD).unwrap();
        assert_eq!(c.ca, Path::new("/d/ca.pem"));
        assert_eq!(c.party(0).key, Path::new("/abs/p0.key"));
        assert_eq!(c.party(2).listen_address(), "0.0.0.0:7002");
        assert_eq!(c.party(1).listen_address(), "h1:7001");
        assert_eq!(c.timeout, Some(Duration::from_millis(2500)));
        assert_eq!(c.connect_deadline, None);
        assert!(c.clients.is_empty());
    }

    #[test]
    fn access_list() {
        let text = format!(
            "{GOOD}\n[[client]]\nname = \"alice\"\ndatasets = [\"a\"]\nmodels = [\"*\"]\n\n[[client]]\nname = \"bob\"\n"
        );
        let c = parse(&text).unwrap();
        let alice = c.client("alice").unwrap();
        assert!(alice.may_use_dataset("a") && !alice.may_use_dataset("b"));
        assert!(alice.may_use_model("anything"));
        let bob = c.client("bob").unwrap();
        assert!(!bob.may_use_dataset("a") && !bob.may_use_model("m"));
        assert!(c.client("carol").is_none());
        let e = err(&text.replace("name = \"bob\"", "name = \"alice\""));
        assert!(e.contains("listed twice"), "{e}");
        let e = err(&text.replace("name = \"bob\"", "name = \"../bob\""));
        assert!(e.contains("client name"), "{e}");
        let e = err(&text.replace("[\"a\"]", "[\"a/b\"]"));
        assert!(e.contains("not a dataset or model name"), "{e}");
    }

    #[test]
    fn clear_errors() {
        let e = err(&GOOD.replace("key = \"p2.key\"\n", ""));
        assert!(
            e.contains("/d/parties.toml") && e.contains("missing field `key`"),
            "{e}"
        );
        for ((from, to), expected) in [
            (("id = 2", "id = 3"), "party id 3 is not one of 0, 1, 2"),
            (("id = 2", "id = 1"), "party 1 is listed twice"),
            (("h1:7001", "h1"), "has no port"),
            (("h1:7001", "h1:70000"), "no valid port"),
            (("timeout_secs = 2.5", "timeout_secs = -1"), "timeout_secs"),
            (("timeout_secs", "timeout_sec"), "unknown field"),
        ] {
            let e = err(&GOOD.replace(from, to));
            assert!(e.contains(expected), "{from} -> {to}: {e}");
        }
        // Up to ~1.8e19 seconds fit a `Duration`, but not `Instant::now() +`
        // it: refused here with the limit, not a panic at connection time.
        let e = err(&GOOD.replace(
            "timeout_secs = 2.5",
            "timeout_secs = 2.5\nconnect_deadline_secs = 1.8e19",
        ));
        assert!(
            e.contains("/d/parties.toml")
                && e.contains("connect_deadline_secs = 18000000000000000000")
                && e.contains("at most 604800 seconds"),
            "{e}"
        );
        let e = err(&GOOD.replace("timeout_secs = 2.5", "timeout_secs = 1e12"));
        assert!(e.contains("timeout_secs") && e.contains("too long"), "{e}");
        let week = GOOD.replace(
            "timeout_secs = 2.5",
            "timeout_secs = 604800\nconnect_deadline_secs = 604800",
        );
        assert_eq!(parse(&week).unwrap().connect_deadline, Some(MAX_WAIT));
        let only_two = GOOD.split("[[party]]\nid = 1").next().unwrap();
        let e = err(only_two);
        assert!(e.contains("no [[party]] entry for party 1"), "{e}");
        let missing = Path::new("/nonexistent/parties.toml");
        let e = PartiesConfig::load(missing).unwrap_err();
        assert!(
            matches!(&e, Error::FileIo { op: FileOp::Read, path, .. } if path == missing),
            "{e:?}"
        );
        let e = e.to_string();
        assert!(
            e.contains("cannot read") && e.contains("/nonexistent/parties.toml"),
            "{e}"
        );
    }
}
