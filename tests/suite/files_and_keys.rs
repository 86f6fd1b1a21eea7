//! Files that hold secrets and where keys are made: share files and keys
//! are written 0600 and refused when other users can read them (with the
//! `chmod` to run); an in-process shared run says that it holds every
//! share; and a deployment where each party makes its own key and the CA
//! signs its request connects over TLS, while a certificate from another
//! CA is refused.
#![cfg(all(unix, feature = "tls"))]

use crate::net_common;
use crate::tiny_training;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use net_common::TempDir;
use privml::learn::TrainJob;
use privml::model_file::SavedModel;
use privml::net::tcp::{self, ConnectOptions};
use privml::net::tls::{self, Credentials};
use privml::runner::{DomainKind, run_local};
use privml::{Error, Ring, Shared, SharedConfig};

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777
}

fn set_mode(p: &Path, m: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).expect("chmod");
}

/// Asserts `e` is the refusal of `path` as `what`, naming the `chmod`.
fn assert_not_private(e: &Error, path: &Path, what: &str) {
    match e {
        Error::FileNotPrivate {
            what: w, path: p, ..
        } => assert_eq!((*w, p.as_path()), (what, path)),
        other => panic!("expected {what} {} refused, got {other:?}", path.display()),
    }
    let msg = e.to_string();
    assert!(
        msg.contains(&format!("chmod 600 {}", path.display())),
        "{msg}"
    );
}

fn small_training(out: &Path) {
    let (settings, data) = tiny_training::tiny(32, 1, 16, 1);
    let job = TrainJob {
        out_prefix: Some(out.to_path_buf()),
        ..TrainJob::new(&settings, Some(&data))
    };
    run_local(DomainKind::Shared64, &SharedConfig::default(), &job).expect("training");
}

#[test]
fn share_files_are_written_0600_and_refused_once_others_can_read_them() {
    let dir = TempDir::new("share-mode");
    let prefix = dir.join("m");
    small_training(&prefix);
    for p in 0..3 {
        let f = SavedModel::party_path(&prefix, p);
        assert_eq!(mode(&f), 0o600, "{}", f.display());
        SavedModel::load(&f).expect("a private share file loads");
    }
    let f = SavedModel::party_path(&prefix, 1);
    for m in [0o644, 0o640, 0o604, 0o620] {
        set_mode(&f, m);
        let e = SavedModel::load(&f).unwrap_err();
        assert_not_private(&e, &f, "share file");
    }
    // Overwriting an existing file keeps it private too.
    small_training(&prefix);
    assert_eq!(mode(&f), 0o600);
    SavedModel::load(&f).expect("rewritten share file");
}

#[test]
fn keys_readable_by_others_are_refused_naming_the_chmod() {
    let (dir, config) = net_common::deployment("key-mode");
    let key = dir.join("party0.key");
    let ca_key = dir.join("ca.key");
    assert_eq!((mode(&key), mode(&ca_key)), (0o600, 0o600));
    let parties = privml::net::config::PartiesConfig::load(&config).expect("parties file");
    let load = || Credentials::load(&parties.ca, &dir.join("party0.pem"), &key);
    load().expect("a private key loads");
    set_mode(&key, 0o644);
    assert_not_private(&load().unwrap_err(), &key, "private key");
    // tcp::connect loads the same way: a party stops before connecting.
    let e = tcp::connect(&parties, 0, &ConnectOptions::default()).unwrap_err();
    assert_not_private(&e, &key, "private key");
    // The CA key, when signing a request.
    let host = TempDir::new("key-mode-host");
    let request = tls::keygen_party(&host, 1, false).expect("request");
    set_mode(&ca_key, 0o640);
    let e = tls::sign_request(&request.request, &dir, &host, false).unwrap_err();
    assert_not_private(&e, &ca_key, "CA key");
    set_mode(&ca_key, 0o600);
    tls::sign_request(&request.request, &dir, &host, false).expect("signed");
}

/// The CA on its own host, and each party's key made on its own.
struct SeparateDeployment {
    _root: TempDir,
    ca: PathBuf,
    hosts: [PathBuf; 3],
    addresses: [String; 3],
}

fn separate_deployment(tag: &str) -> SeparateDeployment {
    let root = TempDir::new(tag);
    let ca = root.join("ca-host");
    let hosts = [0, 1, 2].map(|i| root.join(format!("party{i}-host")));
    let base = net_common::free_base_port();
    let loopback = [
        "127.0.0.1".to_string(),
        "127.0.0.1".into(),
        "127.0.0.1".into(),
    ];
    tls::keygen_ca(&ca, &loopback, base, false).expect("CA");
    for (id, host) in hosts.iter().enumerate() {
        let request = tls::keygen_party(host, id, false).expect("party key");
        // The request travels to the CA's host; the certificate comes back.
        let at_ca = ca.join(format!("party{id}.csr"));
        std::fs::copy(&request.request, &at_ca).expect("copy request");
        let signed = tls::sign_request(&at_ca, &ca, &ca, false).expect("sign");
        assert_eq!(signed.party, id);
        assert_eq!(signed.fingerprint, request.fingerprint);
        std::fs::copy(&signed.cert, host.join(format!("party{id}.pem"))).expect("copy cert");
        std::fs::copy(ca.join("ca.pem"), host.join("ca.pem")).expect("copy CA cert");
        std::fs::copy(ca.join("parties.toml"), host.join("parties.toml")).expect("copy");
    }
    SeparateDeployment {
        _root: root,
        ca,
        hosts,
        addresses: [0, 1, 2].map(|i| format!("127.0.0.1:{}", base + i)),
    }
}

/// The private keys in `dir`.
fn keys_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".key"))
        .collect();
    v.sort();
    v
}

/// Connects the three parties of `creds` on loopback and runs a product of
/// party 0's and party 2's inputs; each party's result or error.
fn run_three(
    creds: [Credentials; 3],
    addresses: &[String; 3],
    deadline: Duration,
) -> Vec<privml::Result<f64>> {
    let opts = ConnectOptions {
        deadline,
        ..ConnectOptions::default()
    }
    .session("separate keys");
    let cfg = SharedConfig::default().timeout(Duration::from_secs(20));
    std::thread::scope(|s| {
        let handles: Vec<_> = creds
            .iter()
            .enumerate()
            .map(|(me, c)| {
                let (opts, cfg) = (&opts, &cfg);
                s.spawn(move || -> privml::Result<f64> {
                    let links = tcp::connect_with(c, me, addresses, &addresses[me], opts)?;
                    let (next, prev) = links.into_boxed();
                    let mut r = Shared::<u64>::new(me, next, prev, cfg)?;
                    let three = ndarray::arr1(&[3.0]).into_dyn();
                    let x = r.input(0, r.owns(0).then_some(&three), &[1])?;
                    let y = r.input(2, r.owns(2).then_some(&three), &[1])?;
                    let z = r.mul(&x, &y)?;
                    Ok(r.reveal(&z)?[0])
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("party thread"))
            .collect()
    })
}

fn host_credentials(d: &SeparateDeployment, id: usize) -> Credentials {
    let host = &d.hosts[id];
    Credentials::load(
        &host.join("ca.pem"),
        &host.join(format!("party{id}.pem")),
        &host.join(format!("party{id}.key")),
    )
    .expect("credentials")
}

#[test]
fn parties_with_their_own_keys_connect_and_no_host_holds_two_keys() {
    let d = separate_deployment("own-keys");
    for (id, host) in d.hosts.iter().enumerate() {
        assert_eq!(keys_in(host), [format!("party{id}.key")]);
        assert_eq!(mode(&host.join(format!("party{id}.key"))), 0o600);
    }
    assert_eq!(keys_in(&d.ca), ["ca.key"]);
    let creds = [0, 1, 2].map(|id| {
        let c = host_credentials(&d, id);
        c.check_identity(id)
            .expect("names its party, verifies to the CA");
        c
    });
    for (me, r) in run_three(creds, &d.addresses, Duration::from_secs(20))
        .into_iter()
        .enumerate()
    {
        let v = r.unwrap_or_else(|e| panic!("party {me}: {e}"));
        assert!((v - 9.0).abs() < 1e-3, "party {me}: {v}");
    }
    // The parties file the CA wrote serves every host as it is.
    let parties = privml::net::config::PartiesConfig::load(&d.hosts[1].join("parties.toml"))
        .expect("parties file");
    assert_eq!(parties.party(1).key, d.hosts[1].join("party1.key"));
}

#[test]
fn a_certificate_signed_by_another_ca_is_refused() {
    let d = separate_deployment("other-ca");
    // Party 2's request signed by a CA of another deployment.
    let other = TempDir::new("other-ca-root");
    let loopback = [
        "127.0.0.1".to_string(),
        "127.0.0.1".into(),
        "127.0.0.1".into(),
    ];
    tls::keygen_ca(&other, &loopback, 7700, false).expect("other CA");
    let host2 = &d.hosts[2];
    let signed = tls::sign_request(&host2.join("party2.csr"), &other, &other, false)
        .expect("the other CA signs");
    let foreign = Credentials::load(
        &host2.join("ca.pem"),
        &signed.cert,
        &host2.join("party2.key"),
    )
    .expect("files load");
    // Checked at start ...
    assert!(foreign.check_identity(2).is_err());
    // ... and refused by the peers if party 2 goes on regardless.
    let creds = [host_credentials(&d, 0), host_credentials(&d, 1), foreign];
    let results = run_three(creds, &d.addresses, Duration::from_secs(3));
    assert!(
        results.iter().all(|r| r.is_err()),
        "{:?}",
        results
            .iter()
            .map(|r| r.as_ref().err().map(|e| e.to_string()))
            .collect::<Vec<_>>()
    );
    assert!(
        matches!(&results[2], Err(Error::Tls(_))),
        "{:?}",
        results[2]
    );
}

#[test]
fn the_ca_signs_only_requests_that_name_exactly_one_party() {
    let root = TempDir::new("csr-names");
    let ca = root.join("ca");
    let loopback = [
        "127.0.0.1".to_string(),
        "127.0.0.1".into(),
        "127.0.0.1".into(),
    ];
    tls::keygen_ca(&ca, &loopback, 7700, false).expect("CA");
    for names in [
        vec!["party0.privml".to_string(), "party1.privml".to_string()],
        vec!["party3.privml".to_string()],
        vec!["example.com".to_string()],
        vec![],
    ] {
        let key = rcgen::KeyPair::generate().expect("key");
        let mut params = rcgen::CertificateParams::new(names.clone()).expect("params");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let csr = params.serialize_request(&key).expect("request");
        let path = root.join("bad.csr");
        std::fs::write(&path, csr.pem().expect("pem")).expect("write");
        let e = tls::sign_request(&path, &ca, &root, true).unwrap_err();
        assert!(
            e.to_string().contains("exactly one party"),
            "{names:?}: {e}"
        );
    }
    // A request that is not one.
    let path = root.join("junk.csr");
    std::fs::write(
        &path,
        "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
    )
    .expect("write");
    assert!(matches!(
        tls::sign_request(&path, &ca, &root, true),
        Err(Error::Tls(_))
    ));
    // A request of the right name that asks to be a CA gets a party
    // certificate all the same: a certificate signed with its key does not
    // verify, while one signed by the CA does.
    let key = rcgen::KeyPair::generate().expect("key");
    let mut params =
        rcgen::CertificateParams::new(vec!["party0.privml".to_string()]).expect("params");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    let path = root.join("greedy.csr");
    let pem = params.serialize_request(&key).expect("request").pem();
    std::fs::write(&path, pem.expect("pem")).expect("write");
    let signed = tls::sign_request(&path, &ca, &root, true).expect("signed as a party");
    assert_eq!(signed.party, 0);
    let party_cert = tls::load_certs(&signed.cert).expect("certificate");
    let cert_pem = std::fs::read_to_string(&signed.cert).expect("read");
    let as_issuer = rcgen::Issuer::from_ca_cert_pem(&cert_pem, key).expect("issuer");
    let leaf = |issuer: &rcgen::Issuer<'_, rcgen::KeyPair>| {
        let leaf_key = rcgen::KeyPair::generate().expect("key");
        let mut p =
            rcgen::CertificateParams::new(vec!["party1.privml".to_string()]).expect("params");
        p.use_authority_key_identifier_extension = true;
        let cert = p.signed_by(&leaf_key, issuer).expect("leaf");
        let der = rustls::pki_types::PrivatePkcs8KeyDer::from(leaf_key.serialize_der());
        (cert.der().clone(), der.into())
    };
    let ca_certs = tls::load_certs(&ca.join("ca.pem")).expect("CA certificate");
    let (cert, leaf_key) = leaf(&as_issuer);
    let forged = Credentials::from_der(
        ca_certs.clone(),
        vec![cert, party_cert[0].clone()],
        leaf_key,
    );
    assert!(forged.check_identity(1).is_err());
    let ca_pem = std::fs::read_to_string(ca.join("ca.pem")).expect("read");
    let ca_key =
        rcgen::KeyPair::from_pem(&std::fs::read_to_string(ca.join("ca.key")).expect("read"))
            .expect("CA key");
    let real_ca = rcgen::Issuer::from_ca_cert_pem(&ca_pem, ca_key).expect("issuer");
    let (cert, leaf_key) = leaf(&real_ca);
    Credentials::from_der(ca_certs, vec![cert], leaf_key)
        .check_identity(1)
        .expect("a certificate the CA signed verifies");
}

/// The deployment flow through the command line: `keygen --ca`, `--party
/// N` on three "hosts", `--sign`, then `privml party` on each.
#[cfg(feature = "cli")]
#[test]
fn the_separate_key_flow_through_the_command_line() {
    use std::process::Command;
    let bin = env!("CARGO_BIN_EXE_privml");
    let run = |args: &[&str]| {
        let out = Command::new(bin).args(args).output().expect("run privml");
        let (so, se) = (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        );
        assert!(out.status.success(), "{args:?}: {se}");
        so
    };
    let root = TempDir::new("cli-flow");
    let ca = root.join("ca");
    let port = net_common::free_base_port().to_string();
    let s = |p: &Path| p.to_str().expect("utf-8 path").to_string();
    run(&["keygen", "--ca", "--out", &s(&ca), "--base-port", &port]);
    let mut children = Vec::new();
    for id in 0..3 {
        let host = root.join(format!("host{id}"));
        let out = run(&["keygen", "--party", &id.to_string(), "--out", &s(&host)]);
        let fingerprint = out
            .lines()
            .find_map(|l| l.trim().strip_prefix("key fingerprint "))
            .expect("fingerprint printed")
            .to_string();
        let csr = host.join(format!("party{id}.csr"));
        let signed = run(&[
            "keygen",
            "--sign",
            &s(&csr),
            "--ca-dir",
            &s(&ca),
            "--out",
            &s(&host),
        ]);
        assert!(signed.contains(&fingerprint), "{signed}");
        std::fs::copy(ca.join("ca.pem"), host.join("ca.pem")).expect("copy");
        std::fs::copy(ca.join("parties.toml"), host.join("parties.toml")).expect("copy");
        assert_eq!(keys_in(&host), [format!("party{id}.key")]);
        children.push(
            Command::new(bin)
                .args(["party", "--id", &id.to_string(), "--config"])
                .arg(host.join("parties.toml"))
                .args([
                    "--connect-deadline",
                    "30",
                    "demo",
                    "tutorial",
                    "--iterations",
                    "50",
                ])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("start party"),
        );
    }
    for (id, c) in children.into_iter().enumerate() {
        let out = c.wait_with_output().expect("party ends");
        assert!(
            out.status.success(),
            "party {id}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        if id == 0 {
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(stdout.contains("Prediction on [1 1 1]"), "{stdout}");
        }
    }
    // Mixing up the flags is an error, not a silent all-in-one run.
    let out = Command::new(bin)
        .args(["keygen", "--party", "1", "--ca", "--out"])
        .arg(root.join("x"))
        .output()
        .expect("run");
    assert!(!out.status.success());
}

/// An in-process shared run says, once, that it holds every share.
#[cfg(feature = "cli")]
#[test]
fn an_in_process_shared_run_warns_once_that_it_holds_every_share() {
    use std::process::Command;
    let bin = env!("CARGO_BIN_EXE_privml");
    let note = "holds all three parties' shares";
    let out = Command::new(bin)
        .args(["demo", "boolean", "--iterations", "20"])
        .output()
        .expect("run");
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.matches(note).count(), 1, "{err}");
    let out = Command::new(bin)
        .args(["demo", "--domain", "plain", "--iterations", "20"])
        .output()
        .expect("run");
    assert!(out.status.success());
    assert!(!String::from_utf8_lossy(&out.stderr).contains(note));
}
