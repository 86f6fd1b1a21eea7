//! Client identities: certificates for the outside clients of `privml
//! serve` (data providers, prediction queries), issued by the deployment CA.
//!
//! A client's certificate names it `NAME.client.privml` ([`client_dns_name`])
//! and is valid for TLS client authentication only, so it can neither act
//! as a party nor serve. A serving party accepts a client connection when
//! the chain verifies to the deployment CA **and** the certificate names a
//! client of the parties file's access list ([`serve_config`]); a
//! certificate from another CA, a party's certificate, an unlisted client or
//! no certificate at all fails the handshake. What each listed client may do
//! is the access list's ([`crate::net::config::ClientEntry`]).
//!
//! [`keygen_clients`] issues keys and certificates on the CA's host (the CA
//! key signs them); the client takes its key and certificate, `ca.pem` and
//! the parties file. Key files are written with mode 0600.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::server::ParsedCertificate;

use super::config::{PartiesConfig, valid_name};
use super::tls::{
    AcceptedNames, CA_CERT, CA_KEY, Credentials, bad_file, cert_params, keygen_error,
    listener_config, prepare_dir, read_file, valid_from, write_file,
};
use crate::error::{Error, Result};
use crate::private_file;

/// The DNS name in client `name`'s certificate: `NAME.client.privml`.
pub fn client_dns_name(name: &str) -> String {
    format!("{name}.client.privml")
}

/// Files of client `name` in a directory: `client-NAME.pem`, `client-NAME.key`.
pub fn client_files(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    (
        dir.join(format!("client-{name}.pem")),
        dir.join(format!("client-{name}.key")),
    )
}

fn check_name(name: &str) -> Result<()> {
    if valid_name(name) {
        Ok(())
    } else {
        Err(Error::invalid(
            "client name",
            format!("'{name}': use 1 to 64 of a-z, 0-9, '-', '_'"),
        ))
    }
}

/// The parameters of client `name`'s certificate: its name, TLS client use
/// only, not a CA.
fn client_params(name: &str) -> Result<rcgen::CertificateParams> {
    let dns = client_dns_name(name);
    let mut p = cert_params(vec![dns.clone()], &dns, valid_from())?;
    p.is_ca = rcgen::IsCa::ExplicitNoCa;
    p.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    p.use_authority_key_identifier_extension = true;
    Ok(p)
}

/// On the CA's host: a key (ECDSA P-256, mode 0600) and a certificate
/// signed by the CA in `ca_dir` for each of `names`, written into `out_dir`
/// as `client-NAME.key` and `client-NAME.pem`. Returns the certificate and
/// key paths per client.
///
/// # Examples
///
/// ```
/// use privml::net::{client_tls, tls};
///
/// let dir = tempfile::tempdir().unwrap();
/// let hosts = ["127.0.0.1".to_string(), "127.0.0.1".into(), "127.0.0.1".into()];
/// tls::keygen(dir.path(), &hosts, 7700, false)?;
/// let made = client_tls::keygen_clients(dir.path(), dir.path(), &["alice".into()], false)?;
/// assert!(made[0].0.ends_with("client-alice.pem"));
/// assert!(client_tls::keygen_clients(dir.path(), dir.path(), &["Bad Name".into()], false).is_err());
/// # Ok::<(), privml::Error>(())
/// ```
pub fn keygen_clients(
    ca_dir: &Path,
    out_dir: &Path,
    names: &[String],
    overwrite: bool,
) -> Result<Vec<(PathBuf, PathBuf)>> {
    for n in names {
        check_name(n)?;
    }
    let files: Vec<String> = names
        .iter()
        .flat_map(|n| [format!("client-{n}.pem"), format!("client-{n}.key")])
        .collect();
    let ca_cert_path = ca_dir.join(CA_CERT);
    let ca_cert = read_file(&ca_cert_path)?;
    let ca_cert =
        std::str::from_utf8(&ca_cert).map_err(|_| bad_file(&ca_cert_path, "not a PEM file"))?;
    let ca_key_path = ca_dir.join(CA_KEY);
    let ca_key = private_file::read_private(&ca_key_path, "CA key")?;
    let ca_key = std::str::from_utf8(&ca_key)
        .map_err(|_| bad_file(&ca_key_path, "not a PEM file"))
        .and_then(|k| {
            rcgen::KeyPair::from_pem(k)
                .map_err(|e| bad_file(&ca_key_path, format!("no usable CA key: {e}")))
        })?;
    let issuer = rcgen::Issuer::from_ca_cert_pem(ca_cert, ca_key)
        .map_err(|e| bad_file(&ca_cert_path, format!("no usable CA certificate: {e}")))?;
    prepare_dir(out_dir, &files, overwrite)?;
    let mut out = Vec::with_capacity(names.len());
    for n in names {
        let key = rcgen::KeyPair::generate().map_err(keygen_error)?;
        let cert = client_params(n)?
            .signed_by(&key, &issuer)
            .map_err(keygen_error)?;
        let (cert_path, key_path) = client_files(out_dir, n);
        write_file(&cert_path, cert.pem().as_bytes(), false)?;
        write_file(&key_path, key.serialize_pem().as_bytes(), true)?;
        out.push((cert_path, key_path));
    }
    Ok(out)
}

/// Which of `names` the certificate `end_entity` names, if any.
pub fn identify_client(end_entity: &CertificateDer<'_>, names: &[String]) -> Option<String> {
    let parsed = ParsedCertificate::try_from(end_entity).ok()?;
    names
        .iter()
        .find(|n| {
            ServerName::try_from(client_dns_name(n))
                .map(|s| rustls::client::verify_server_name(&parsed, &s).is_ok())
                .unwrap_or(false)
        })
        .cloned()
}

/// The clients of the access list, by their certificates' names.
#[derive(Debug)]
struct ClientNames(Vec<String>);

impl AcceptedNames for ClientNames {
    fn accepts(&self, cert: &CertificateDer<'_>) -> bool {
        identify_client(cert, &self.0).is_some()
    }
}

/// TLS settings of a serving party towards clients: TLS 1.3, the party's
/// own certificate, client certificates required, verified to the CA and
/// naming a client of `parties`' access list.
pub fn serve_config(creds: &Credentials, parties: &PartiesConfig) -> Result<Arc<ServerConfig>> {
    listener_config(
        creds,
        ClientNames(parties.clients.iter().map(|c| c.name.clone()).collect()),
    )
}
