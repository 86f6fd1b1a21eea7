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
//! Two ways to issue them, as for the parties ([`super::tls`]):
//! [`keygen_clients`] makes keys and certificates on the CA's host, and the
//! client takes its key and certificate, `ca.pem` and the parties file; or,
//! so that the client's key never leaves the client's host,
//! [`keygen_client_request`] there writes the key and a signing request,
//! and [`sign_client_request`] on the CA's host turns the request into the
//! same certificate. Either way the certificate only says who the client
//! is: what it may do is the access list's, which the CA holder edits. Key
//! files are written atomically with mode 0600.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::server::ParsedCertificate;

use super::config::{PartiesConfig, valid_name};
use super::tls::{
    AcceptedNames, Credentials, bad_request, cert_params, key_fingerprint, keygen_error,
    listener_config, load_issuer, prepare_dir, read_request, valid_from, write_file,
};
use crate::error::{Error, Result};

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
    let issuer = load_issuer(ca_dir)?;
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

/// Client `name`'s signing request in a directory: `client-NAME.csr`.
pub fn client_request_file(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("client-{name}.csr"))
}

/// What [`keygen_client_request`] wrote.
#[derive(Debug, Clone)]
pub struct ClientRequest {
    /// The client's name.
    pub name: String,
    /// Its private key (mode 0600): stays on this host.
    pub key: PathBuf,
    /// The certificate signing request, for the CA.
    pub request: PathBuf,
    /// The public key's [`key_fingerprint`], for the CA to compare.
    pub fingerprint: String,
}

/// On client `name`'s host: writes its private key `client-NAME.key`
/// (ECDSA P-256, mode 0600) and a certificate signing request
/// `client-NAME.csr` naming `NAME.client.privml` into `dir`. Only the
/// request goes to the CA ([`sign_client_request`]); the key never leaves
/// the host.
///
/// # Examples
///
/// ```
/// use privml::net::client_tls;
///
/// let dir = tempfile::tempdir().unwrap();
/// let r = client_tls::keygen_client_request(dir.path(), "alice", false)?;
/// assert!(r.request.ends_with("client-alice.csr"));
/// assert!(client_tls::keygen_client_request(dir.path(), "Bad Name", false).is_err());
/// # Ok::<(), privml::Error>(())
/// ```
pub fn keygen_client_request(dir: &Path, name: &str, overwrite: bool) -> Result<ClientRequest> {
    check_name(name)?;
    let key_file = format!("client-{name}.key");
    let request_file = format!("client-{name}.csr");
    prepare_dir(dir, &[key_file.clone(), request_file.clone()], overwrite)?;
    let key = rcgen::KeyPair::generate().map_err(keygen_error)?;
    // The request carries the name only: the CA sets everything else.
    let dns = client_dns_name(name);
    let csr = cert_params(vec![dns.clone()], &dns, valid_from())?
        .serialize_request(&key)
        .map_err(keygen_error)?;
    let pem = csr.pem().map_err(keygen_error)?;
    let out = ClientRequest {
        name: name.to_string(),
        key: dir.join(key_file),
        request: dir.join(request_file),
        fingerprint: key_fingerprint(rcgen::PublicKeyData::der_bytes(&key)),
    };
    write_file(&out.key, key.serialize_pem().as_bytes(), true)?;
    write_file(&out.request, pem.as_bytes(), false)?;
    Ok(out)
}

/// What [`sign_client_request`] wrote.
#[derive(Debug, Clone)]
pub struct SignedClient {
    /// The client the certificate names.
    pub name: String,
    /// The certificate, `client-NAME.pem`.
    pub cert: PathBuf,
    /// The certified public key's [`key_fingerprint`].
    pub fingerprint: String,
}

/// On the CA's host: signs a client's request `csr` (from
/// [`keygen_client_request`]) with the CA in `ca_dir` and writes the
/// client's certificate `client-NAME.pem` into `out_dir`.
///
/// The request must verify and name exactly one client,
/// `NAME.client.privml` with a valid client name: a request naming a party
/// (or anything else) is refused, so that this command can never issue a
/// party's certificate. Only the public key and the name are taken from the
/// request; the CA sets every other field, as [`keygen_clients`] does (TLS
/// client use only, not a CA). The certificate does not put the client on
/// the parties file's access list: the parties refuse it until the CA
/// holder adds a `[[client]]` entry for `NAME`.
pub fn sign_client_request(
    csr: &Path,
    ca_dir: &Path,
    out_dir: &Path,
    overwrite: bool,
) -> Result<SignedClient> {
    let (request, names) = read_request(csr)?;
    let name = match names.as_slice() {
        [one] => one
            .strip_suffix(".client.privml")
            .filter(|n| valid_name(n))
            .map(str::to_string),
        _ => None,
    }
    .ok_or_else(|| {
        bad_request(
            csr,
            format!(
                "it must name exactly one client, NAME.client.privml with NAME 1 to 64 of \
                 a-z, 0-9, '-', '_'; it names {names:?}"
            ),
        )
    })?;
    let issuer = load_issuer(ca_dir)?;
    let cert = client_params(&name)?
        .signed_by(&request.public_key, &issuer)
        .map_err(keygen_error)?;
    let file = format!("client-{name}.pem");
    prepare_dir(out_dir, std::slice::from_ref(&file), overwrite)?;
    let path = out_dir.join(file);
    write_file(&path, cert.pem().as_bytes(), false)?;
    Ok(SignedClient {
        name,
        cert: path,
        fingerprint: key_fingerprint(rcgen::PublicKeyData::der_bytes(&request.public_key)),
    })
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
