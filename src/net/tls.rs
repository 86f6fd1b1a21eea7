//! Certificates and TLS settings of a deployment.
//!
//! A deployment has one certificate authority (CA) and one certificate per
//! party, signed by the CA, whose subject alternative name is the party's
//! name, `party0.privml`, `party1.privml` or `party2.privml`
//! ([`party_name`]). The name, not the host, identifies a party: parties can
//! move between hosts without new certificates, and the address in the
//! parties file only says where to connect.
//!
//! Every connection is TLS 1.3 with client authentication required. A peer
//! is accepted when its chain verifies to the deployment CA **and** its
//! certificate names the party expected at that end ([`server_config`] checks
//! clients, [`client_config`] with the server name checks servers). Any
//! other certificate, or none, fails the handshake.
//!
//! A deployment's keys are made where they are used: [`keygen_ca`] on the
//! CA's machine (CA and `parties.toml`), [`keygen_party`] on each party's
//! host (its key, which never leaves it, and a signing request), and
//! [`sign_request`] on the CA's machine (the party's certificate), so that
//! no host ever holds two parties' keys (`docs/three-machines.md`). For tests
//! and trials on one machine, [`keygen`] writes a complete deployment into
//! one directory. Key files are written with mode 0600 and refused when
//! other users can read them ([`crate::private_file`]).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ParsedCertificate, WebPkiClientVerifier};
use rustls::{ClientConfig, DigitallySignedStruct, DistinguishedName, RootCertStore, ServerConfig};

use crate::error::{Error, FileOp, Result, TlsError};
use crate::party_id::PartyId;
use crate::private_file;

/// The name in party `id`'s certificate: `party{id}.privml`.
pub fn party_name(id: PartyId) -> String {
    format!("party{id}.privml")
}

fn server_name(id: PartyId) -> Result<ServerName<'static>> {
    ServerName::try_from(party_name(id)).map_err(|e| {
        Error::internal(
            "tls::server_name",
            format!("{} is not a DNS name: {e}", party_name(id)),
        )
    })
}

/// A rustls error with what this party was doing.
pub(super) fn rustls_error(context: &str, source: rustls::Error) -> Error {
    Error::Tls(TlsError::Rustls {
        context: context.to_string(),
        source,
    })
}

/// The CA certificates cannot build a verifier (no usable root).
pub(crate) fn bad_ca(e: &dyn std::fmt::Display) -> Error {
    Error::Tls(TlsError::BadCertificate {
        what: "the CA certificate".into(),
        reason: e.to_string(),
    })
}

pub(crate) fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

pub(crate) fn bad_file(path: &Path, reason: impl Into<String>) -> Error {
    Error::BadFile {
        path: path.display().to_string(),
        reason: reason.into(),
    }
}

pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::file(FileOp::Read, path, e))
}

/// Reads all certificates of a PEM file (at least one).
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let pem = read_file(path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| bad_file(path, format!("not a PEM certificate file: {e}")))?;
    if certs.is_empty() {
        return Err(bad_file(
            path,
            "no certificate (-----BEGIN CERTIFICATE-----) in the file",
        ));
    }
    Ok(certs)
}

/// Reads a private key (PKCS#8, PKCS#1 or SEC1) from a PEM file. A key file
/// that other users may read or write is refused
/// ([`Error::FileNotPrivate`], naming the
/// `chmod` to run).
pub fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>> {
    let pem = private_file::read_private(path, "private key")?;
    PrivateKeyDer::from_pem_slice(&pem)
        .map_err(|e| bad_file(path, format!("no usable PEM private key: {e}")))
}

/// What one party needs for TLS: the CA to trust, its own certificate
/// chain and private key.
pub struct Credentials {
    pub(crate) ca: Vec<CertificateDer<'static>>,
    pub(crate) chain: Vec<CertificateDer<'static>>,
    pub(crate) key: PrivateKeyDer<'static>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("ca_certs", &self.ca.len())
            .field("chain_len", &self.chain.len())
            .field("key", &"<redacted>")
            .finish()
    }
}

impl Credentials {
    /// Loads the CA certificate(s), this party's certificate chain and key.
    pub fn load(ca: &Path, cert: &Path, key: &Path) -> Result<Self> {
        Ok(Credentials {
            ca: load_certs(ca)?,
            chain: load_certs(cert)?,
            key: load_key(key)?,
        })
    }

    /// From DER values already in memory.
    pub fn from_der(
        ca: Vec<CertificateDer<'static>>,
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Self {
        Credentials { ca, chain, key }
    }

    pub(crate) fn roots(&self) -> Result<Arc<RootCertStore>> {
        let mut roots = RootCertStore::empty();
        for c in &self.ca {
            roots
                .add(c.clone())
                .map_err(|e| rustls_error("unusable CA certificate", e))?;
        }
        Ok(Arc::new(roots))
    }

    /// Checks that the certificate is signed by the CA and names party
    /// `me`, so that a wrong file is reported at start, not as a refused
    /// handshake on the other host.
    pub fn check_identity(&self, me: PartyId) -> Result<()> {
        let end = self.chain.first().ok_or_else(|| {
            Error::Tls(TlsError::BadCertificate {
                what: "this party's certificate file".into(),
                reason: "the chain is empty".into(),
            })
        })?;
        let parsed = ParsedCertificate::try_from(end)
            .map_err(|e| rustls_error("cannot parse this party's certificate", e))?;
        rustls::client::verify_server_name(&parsed, &server_name(me)?).map_err(|_| {
            Error::Tls(TlsError::BadCertificate {
                what: "this party's certificate".into(),
                reason: format!(
                    "it does not name {} (is it another party's certificate?)",
                    party_name(me)
                ),
            })
        })?;
        let roots = self.roots()?;
        let verifier = WebPkiServerVerifier::builder_with_provider(roots, provider())
            .build()
            .map_err(|e| bad_ca(&e))?;
        use rustls::client::danger::ServerCertVerifier;
        verifier
            .verify_server_cert(
                end,
                &self.chain[1..],
                &server_name(me)?,
                &[],
                UnixTime::now(),
            )
            .map_err(|e| {
                rustls_error(
                    "this party's certificate does not verify against the CA certificate",
                    e,
                )
            })?;
        Ok(())
    }
}

/// Which of `candidates` the certificate `end_entity` names, if any.
pub fn identify(end_entity: &CertificateDer<'_>, candidates: &[PartyId]) -> Option<PartyId> {
    let parsed = ParsedCertificate::try_from(end_entity).ok()?;
    candidates.iter().copied().find(|&id| {
        server_name(id)
            .map(|n| rustls::client::verify_server_name(&parsed, &n).is_ok())
            .unwrap_or(false)
    })
}

/// Which certificates a listening end accepts, by the names they carry
/// (after rustls has verified the chain to the CA).
pub(crate) trait AcceptedNames: std::fmt::Debug + Send + Sync {
    /// Whether the verified certificate `cert` names someone allowed here.
    fn accepts(&self, cert: &CertificateDer<'_>) -> bool;
}

/// The parties allowed to connect to a listening party.
#[derive(Debug)]
struct PartyNames(Vec<PartyId>);

impl AcceptedNames for PartyNames {
    fn accepts(&self, cert: &CertificateDer<'_>) -> bool {
        identify(cert, &self.0).is_some()
    }
}

/// Client-certificate check of a listening end: the chain must verify to
/// the CA (delegated to rustls' WebPKI verifier) and the certificate must
/// carry a name that `accepted` allows.
#[derive(Debug)]
struct NamedClientVerifier<A> {
    inner: Arc<dyn ClientCertVerifier>,
    accepted: A,
}

impl<A: AcceptedNames> ClientCertVerifier for NamedClientVerifier<A> {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> std::result::Result<ClientCertVerified, rustls::Error> {
        let ok = self
            .inner
            .verify_client_cert(end_entity, intermediates, now)?;
        if !self.accepted.accepts(end_entity) {
            return Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForName,
            ));
        }
        Ok(ok)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// Settings of a listening party: TLS 1.3, its own certificate, and client
/// certificates required, verified to the CA and naming one of `allowed`.
pub fn server_config(creds: &Credentials, allowed: &[PartyId]) -> Result<Arc<ServerConfig>> {
    listener_config(creds, PartyNames(allowed.to_vec()))
}

/// TLS 1.3 settings of a listening end (a party towards its peers, or a
/// serving party towards its clients): its own certificate, client
/// certificates required, verified to the CA and carrying a name that
/// `accepted` allows. No session resumption: every connection
/// authenticates afresh.
pub(crate) fn listener_config(
    creds: &Credentials,
    accepted: impl AcceptedNames + 'static,
) -> Result<Arc<ServerConfig>> {
    let inner = WebPkiClientVerifier::builder_with_provider(creds.roots()?, provider())
        .build()
        .map_err(|e| bad_ca(&e))?;
    let verifier = Arc::new(NamedClientVerifier { inner, accepted });
    let mut cfg = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| rustls_error("TLS 1.3 with the ring provider", e))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(creds.chain.clone(), creds.key.clone_key())
        .map_err(|e| rustls_error("this party's certificate or key", e))?;
    cfg.send_tls13_tickets = 0;
    Ok(Arc::new(cfg))
}

/// Settings of a connecting party: TLS 1.3, servers verified to the CA
/// (their name is checked against the [`ServerName`] given per connection),
/// its own certificate presented.
pub fn client_config(creds: &Credentials) -> Result<Arc<ClientConfig>> {
    let cfg = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| rustls_error("TLS 1.3 with the ring provider", e))?
        .with_root_certificates(creds.roots()?)
        .with_client_auth_cert(creds.chain.clone(), creds.key.clone_key())
        .map_err(|e| rustls_error("this party's certificate or key", e))?;
    Ok(Arc::new(cfg))
}

/// The server name to verify when connecting to party `id`.
pub fn peer_server_name(id: PartyId) -> Result<ServerName<'static>> {
    server_name(id)
}

// ---------------------------------------------------------------------------
// keygen

/// How long the certificates `keygen` issues are valid.
pub const CERT_VALIDITY: Duration = Duration::from_secs(5 * 365 * 24 * 3600);

/// Files written by [`keygen`].
#[derive(Debug, Clone)]
pub struct Deployment {
    /// The directory.
    pub dir: PathBuf,
    /// The parties file.
    pub config: PathBuf,
    /// Every file written.
    pub files: Vec<PathBuf>,
}

fn secs_since_epoch() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

pub(crate) fn cert_params(
    names: Vec<String>,
    common_name: &str,
    valid_from_secs: u64,
) -> Result<rcgen::CertificateParams> {
    let mut p = rcgen::CertificateParams::new(names).map_err(TlsError::Keygen)?;
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(rcgen::DnType::OrganizationName, "privml deployment");
    dn.push(rcgen::DnType::CommonName, common_name);
    p.distinguished_name = dn;
    let epoch = rcgen::date_time_ymd(1970, 1, 1);
    p.not_before = epoch + Duration::from_secs(valid_from_secs);
    p.not_after = epoch + Duration::from_secs(valid_from_secs) + CERT_VALIDITY;
    Ok(p)
}

/// Writes a deployment file atomically ([`crate::private_file::write_atomic`]:
/// a crash or a full disk never leaves a half-written key or certificate
/// that a later run would try to load). Secret files (keys) keep the
/// temporary file's mode 0600; the others (certificates, requests, the
/// parties file) are then opened to reading by others, 0644, since other
/// users of a host may need to read them.
pub(crate) fn write_file(path: &Path, contents: &[u8], secret: bool) -> Result<()> {
    crate::private_file::write_atomic(path, contents)?;
    #[cfg(unix)]
    if !secret {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644))
            .map_err(|e| Error::file(FileOp::Write, path, e))?;
    }
    #[cfg(not(unix))]
    let _ = secret;
    Ok(())
}

fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `host:port`, with brackets around an IPv6 literal.
pub fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// File names of a deployment, in the CA's directory and on the party hosts.
pub(crate) const CA_CERT: &str = "ca.pem";
pub(crate) const CA_KEY: &str = "ca.key";
const PARTIES_FILE: &str = "parties.toml";

fn party_cert_file(id: PartyId) -> String {
    format!("party{id}.pem")
}

fn party_key_file(id: PartyId) -> String {
    format!("party{id}.key")
}

fn party_request_file(id: PartyId) -> String {
    format!("party{id}.csr")
}

pub(crate) fn keygen_error(e: rcgen::Error) -> Error {
    Error::Tls(TlsError::Keygen(e))
}

/// Creates `dir` and fails if any of `names` exists there, unless
/// `overwrite`.
pub(crate) fn prepare_dir(dir: &Path, names: &[String], overwrite: bool) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::file(FileOp::CreateDir, dir, e))?;
    if !overwrite {
        let existing: Vec<&str> = names
            .iter()
            .filter(|n| dir.join(n).exists())
            .map(String::as_str)
            .collect();
        if !existing.is_empty() {
            return Err(bad_file(
                dir,
                format!(
                    "already holds {} (pass --force to overwrite)",
                    existing.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

/// Valid from a day ago, so that hosts whose clocks lag a little accept the
/// certificates.
pub(crate) fn valid_from() -> u64 {
    secs_since_epoch().saturating_sub(24 * 3600)
}

/// The parameters of the deployment CA's certificate.
fn ca_params() -> Result<rcgen::CertificateParams> {
    let mut p = cert_params(vec![], "privml deployment CA", valid_from())?;
    p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
    p.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    Ok(p)
}

/// The parameters of party `id`'s certificate: its name and nothing else
/// the CA would not vouch for (not a CA, TLS client and server use).
fn party_params(id: PartyId) -> Result<rcgen::CertificateParams> {
    let mut p = cert_params(vec![party_name(id)], &party_name(id), valid_from())?;
    p.is_ca = rcgen::IsCa::ExplicitNoCa;
    p.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = vec![
        rcgen::ExtendedKeyUsagePurpose::ServerAuth,
        rcgen::ExtendedKeyUsagePurpose::ClientAuth,
    ];
    p.use_authority_key_identifier_extension = true;
    Ok(p)
}

/// Party N takes clients (`privml serve`) at `base_port + CLIENT_PORT_OFFSET + N`.
pub const CLIENT_PORT_OFFSET: u16 = 10;

/// The parties file for `hosts` (party N at `hosts[N]:base_port + N`).
fn parties_toml(hosts: &[String; 3], base_port: u16) -> Result<String> {
    if base_port > u16::MAX - 2 - CLIENT_PORT_OFFSET {
        return Err(Error::invalid(
            "base port",
            format!(
                "{base_port}: the ports base..base+2 (parties) and base+{CLIENT_PORT_OFFSET}..base+{} (clients) must be at most 65535",
                CLIENT_PORT_OFFSET + 2
            ),
        ));
    }
    let mut toml = String::new();
    let _ = writeln!(
        toml,
        "# privml parties file, written by `privml keygen`.\n\
         # Paths are relative to this file's directory. Every party host needs\n\
         # this file, ca.pem, and its own partyN.pem and partyN.key. ca.key is\n\
         # not needed to run: keep it offline.\n\
         ca = \"{CA_CERT}\"\n\
         # Seconds to wait for a peer's message during a run.\n\
         timeout_secs = 60\n\
         # Seconds to wait at start for the other parties to come up.\n\
         connect_deadline_secs = 60"
    );
    for (id, host) in hosts.iter().enumerate() {
        let _ = writeln!(
            toml,
            "\n[[party]]\nid = {id}\naddress = {}\n# where `privml serve` takes clients\nclient_address = {}\ncert = \"{}\"\nkey = \"{}\"",
            toml_string(&host_port(host, base_port + id as u16)),
            toml_string(&host_port(host, base_port + CLIENT_PORT_OFFSET + id as u16)),
            party_cert_file(id),
            party_key_file(id),
        );
    }
    Ok(toml)
}

/// Writes a complete test deployment into `dir`: `ca.pem` / `ca.key` (the
/// CA), `partyN.pem` / `partyN.key` for N = 0, 1, 2 (ECDSA P-256 keys,
/// certificates naming `partyN.privml`, valid for [`CERT_VALIDITY`]), and
/// `parties.toml` with party N at `hosts[N]:base_port + N`. Key files are
/// created with mode 0600 on unix. Existing files are an error unless
/// `overwrite`.
///
/// # Security
///
/// This makes every party's key, and the CA key, on one host: fine for
/// tests and trials on one machine. For a deployment, each party makes its
/// own key ([`keygen_party`]) and the CA signs its request
/// ([`keygen_ca`], [`sign_request`]), so that no host ever holds two
/// parties' keys (see `docs/three-machines.md`).
pub fn keygen(
    dir: &Path,
    hosts: &[String; 3],
    base_port: u16,
    overwrite: bool,
) -> Result<Deployment> {
    write_deployment(dir, hosts, base_port, overwrite, &[0, 1, 2])
}

/// A new CA in `dir` (`ca.pem`, `ca.key`), keys and certificates for
/// `parties`, and the parties file; see [`keygen`] and [`keygen_ca`].
fn write_deployment(
    dir: &Path,
    hosts: &[String; 3],
    base_port: u16,
    overwrite: bool,
    parties: &[PartyId],
) -> Result<Deployment> {
    let toml = parties_toml(hosts, base_port)?;
    let mut names = vec![CA_CERT.to_string(), CA_KEY.to_string()];
    for &id in parties {
        names.push(party_cert_file(id));
        names.push(party_key_file(id));
    }
    names.push(PARTIES_FILE.to_string());
    prepare_dir(dir, &names, overwrite)?;
    let ca_key = rcgen::KeyPair::generate().map_err(keygen_error)?;
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params()?, ca_key).map_err(keygen_error)?;

    let mut files = Vec::new();
    let mut put = |name: &str, contents: &str, secret: bool| -> Result<()> {
        let path = dir.join(name);
        write_file(&path, contents.as_bytes(), secret)?;
        files.push(path);
        Ok(())
    };
    put(CA_CERT, &ca.pem(), false)?;
    put(CA_KEY, &ca.key().serialize_pem(), true)?;
    for &id in parties {
        let key = rcgen::KeyPair::generate().map_err(keygen_error)?;
        let cert = party_params(id)?
            .signed_by(&key, &ca)
            .map_err(keygen_error)?;
        put(&party_cert_file(id), &cert.pem(), false)?;
        put(&party_key_file(id), &key.serialize_pem(), true)?;
    }
    put(PARTIES_FILE, &toml, false)?;
    Ok(Deployment {
        dir: dir.to_path_buf(),
        config: dir.join(PARTIES_FILE),
        files,
    })
}

/// Writes the CA of a deployment into `dir`: `ca.pem` (its certificate,
/// for every party host), `ca.key` (mode 0600; it signs the parties'
/// requests and is not needed to run), and `parties.toml` with party N at
/// `hosts[N]:base_port + N`. No party key is made here: each party makes
/// its own with [`keygen_party`], and [`sign_request`] certifies it.
///
/// # Examples
///
/// ```
/// use privml::net::tls;
///
/// let dir = tempfile::tempdir().unwrap();
/// let (ca, p1) = (dir.path().join("ca"), dir.path().join("host1"));
/// let hosts = ["10.0.0.1".to_string(), "10.0.0.2".into(), "10.0.0.3".into()];
/// tls::keygen_ca(&ca, &hosts, 7700, false)?;
/// // On party 1's host: its key never leaves it.
/// let request = tls::keygen_party(&p1, 1, false)?;
/// // On the CA's host, with the request copied over:
/// let signed = tls::sign_request(&request.request, &ca, &ca, false)?;
/// assert_eq!(signed.party, 1);
/// assert_eq!(signed.fingerprint, request.fingerprint);
/// assert!(!ca.join("party1.key").exists());
/// # Ok::<(), privml::Error>(())
/// ```
pub fn keygen_ca(
    dir: &Path,
    hosts: &[String; 3],
    base_port: u16,
    overwrite: bool,
) -> Result<Deployment> {
    write_deployment(dir, hosts, base_port, overwrite, &[])
}

/// SHA-256 of a public key (its DER bytes) in hex, in groups of four: what
/// a party and the CA compare (over the phone, say) to be sure that the
/// request the CA signs is the one the party made.
pub fn key_fingerprint(public_key_der: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let hex: Vec<String> = Sha256::digest(public_key_der)
        .chunks(2)
        .map(|c| c.iter().map(|b| format!("{b:02x}")).collect())
        .collect();
    hex.join(":")
}

/// What [`keygen_party`] wrote.
#[derive(Debug, Clone)]
pub struct PartyRequest {
    /// The party.
    pub party: PartyId,
    /// Its private key (mode 0600): stays on this host.
    pub key: PathBuf,
    /// The certificate signing request, for the CA.
    pub request: PathBuf,
    /// The public key's [`key_fingerprint`].
    pub fingerprint: String,
}

/// On party `id`'s host: writes its private key `partyN.key` (ECDSA P-256,
/// mode 0600) and a certificate signing request `partyN.csr` naming
/// `partyN.privml` into `dir`. Only the request goes to the CA; the key
/// never leaves the host.
pub fn keygen_party(dir: &Path, id: PartyId, overwrite: bool) -> Result<PartyRequest> {
    if id > 2 {
        return Err(Error::InvalidParty(id));
    }
    prepare_dir(
        dir,
        &[party_key_file(id), party_request_file(id)],
        overwrite,
    )?;
    let key = rcgen::KeyPair::generate().map_err(keygen_error)?;
    // The request carries the name only: the CA sets everything else.
    let csr = cert_params(vec![party_name(id)], &party_name(id), valid_from())?
        .serialize_request(&key)
        .map_err(keygen_error)?;
    let pem = csr.pem().map_err(keygen_error)?;
    let out = PartyRequest {
        party: id,
        key: dir.join(party_key_file(id)),
        request: dir.join(party_request_file(id)),
        fingerprint: key_fingerprint(rcgen::PublicKeyData::der_bytes(&key)),
    };
    write_file(&out.key, key.serialize_pem().as_bytes(), true)?;
    write_file(&out.request, pem.as_bytes(), false)?;
    Ok(out)
}

/// What [`sign_request`] wrote.
#[derive(Debug, Clone)]
pub struct SignedParty {
    /// The party the certificate names.
    pub party: PartyId,
    /// The certificate.
    pub cert: PathBuf,
    /// The certified public key's [`key_fingerprint`].
    pub fingerprint: String,
}

pub(crate) fn bad_request(path: &Path, reason: impl Into<String>) -> Error {
    Error::Tls(TlsError::BadCertificate {
        what: format!("certificate signing request {}", path.display()),
        reason: reason.into(),
    })
}

/// Reads a certificate signing request and the names (subject alternative
/// names) it asks for. Parsing verifies the request's signature, so its
/// maker holds the key it carries.
pub(crate) fn read_request(
    csr: &Path,
) -> Result<(rcgen::CertificateSigningRequestParams, Vec<String>)> {
    let pem = read_file(csr)?;
    let pem = std::str::from_utf8(&pem).map_err(|_| bad_request(csr, "not a PEM file"))?;
    let request = rcgen::CertificateSigningRequestParams::from_pem(pem)
        .map_err(|e| bad_request(csr, e.to_string()))?;
    let names = request
        .params
        .subject_alt_names
        .iter()
        .map(|n| match n {
            rcgen::SanType::DnsName(d) => d.as_str().to_string(),
            other => format!("{other:?}"),
        })
        .collect();
    Ok((request, names))
}

/// The deployment CA in `ca_dir` (`ca.pem`, and `ca.key`, which must be
/// private: mode 0600), ready to sign.
pub(crate) fn load_issuer(ca_dir: &Path) -> Result<rcgen::Issuer<'static, rcgen::KeyPair>> {
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
    rcgen::Issuer::from_ca_cert_pem(ca_cert, ca_key)
        .map_err(|e| bad_file(&ca_cert_path, format!("no usable CA certificate: {e}")))
}

/// On the CA's host: signs the request `csr` (from [`keygen_party`]) with
/// the CA in `ca_dir` and writes the party's certificate `partyN.pem` into
/// `out_dir`.
///
/// The request must verify (it is signed by the key it carries) and name
/// exactly one party, `partyN.privml`. Only its public key and that name
/// are taken from it: the CA sets every other field (not a CA, TLS client
/// and server use, [`CERT_VALIDITY`]), so a request cannot ask for more. The
/// CA key file must be private (mode 0600).
pub fn sign_request(
    csr: &Path,
    ca_dir: &Path,
    out_dir: &Path,
    overwrite: bool,
) -> Result<SignedParty> {
    let (request, names) = read_request(csr)?;
    let party = match names.as_slice() {
        [one] => (0..3).find(|&id| *one == party_name(id)),
        _ => None,
    }
    .ok_or_else(|| {
        bad_request(
            csr,
            format!(
                "it must name exactly one party (party0.privml, party1.privml or party2.privml), \
                 it names {names:?}"
            ),
        )
    })?;
    let issuer = load_issuer(ca_dir)?;
    let cert = party_params(party)?
        .signed_by(&request.public_key, &issuer)
        .map_err(keygen_error)?;
    let name = party_cert_file(party);
    prepare_dir(out_dir, std::slice::from_ref(&name), overwrite)?;
    let path = out_dir.join(name);
    write_file(&path, cert.pem().as_bytes(), false)?;
    Ok(SignedParty {
        party,
        cert: path,
        fingerprint: key_fingerprint(rcgen::PublicKeyData::der_bytes(&request.public_key)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_brackets_ipv6() {
        assert_eq!(host_port("10.0.0.1", 7000), "10.0.0.1:7000");
        assert_eq!(host_port("::1", 7000), "[::1]:7000");
        assert_eq!(host_port("a.example", 1), "a.example:1");
    }

    #[test]
    fn toml_strings_are_escaped() {
        assert_eq!(toml_string(r#"a"b\c"#), r#""a\"b\\c""#);
    }
}
