//! Every decoder of bytes from outside, fuzzed: frames from a peer, share
//! and model files, the data owner's announcement, federated submissions
//! (secret-shared, encrypted, clear), the HE wire formats (updates, sums,
//! public keys), the parties file, a peer's session description, and PEM
//! certificates, keys and signing requests.
//!
//! Each harness feeds random bytes and mutations of valid inputs (with
//! checksums recomputed where a checksum would otherwise stop everything
//! early) and asserts: no panic, a typed error or a value, and no huge
//! allocation. A counting global allocator (`tests/alloc_stats/`) records
//! the largest single allocation of the process, and every case must stay
//! below
//! [`ALLOCATION_LIMIT`] (no test in this file needs more).
//!
//! The number of cases per harness is proptest's, bounded by
//! `PROPTEST_CASES` (CI sets it; see `.ci/run`).
#![cfg(all(unix, feature = "tls", feature = "he"))]

mod alloc_stats;
mod net_common;
mod tiny_training;

use std::path::Path;
use std::sync::OnceLock;

use privml::learn::{TrainJob, TrainSettings};
use privml::net::frame::{self, DEFAULT_MAX_PAYLOAD};
use privml::net::{Frame, memory};
use privml::ring::Payload;
use privml::runner::Job;
use privml::{Error, Session, Shared, SharedConfig};
use proptest::prelude::*;

/// The largest single allocation any case may make: 64 MiB. Far above what
/// the valid inputs here need, far below what a claimed length could ask.
const ALLOCATION_LIMIT: usize = 64 << 20;

/// Fails the case if any allocation so far exceeded the limit.
fn check_allocations(what: &str) -> Result<(), TestCaseError> {
    let largest = alloc_stats::largest();
    prop_assert!(
        largest < ALLOCATION_LIMIT,
        "{what}: an allocation of {largest} bytes"
    );
    Ok(())
}

/// Mutations of a valid input: flipped bytes, cut, extended, or an 8-byte
/// little-endian field overwritten with an extreme value.
#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Cut(usize),
    Extend(Vec<u8>),
    Word(usize, u64),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let extreme = prop_oneof![
        Just(0u64),
        Just(1),
        Just(u64::MAX),
        Just(u64::MAX / 2),
        Just(1 << 32),
        Just(1 << 40),
        Just(1 << 61),
        any::<u64>()
    ];
    prop_oneof![
        (any::<usize>(), 1u8..=255).prop_map(|(i, b)| Mutation::Flip(i, b)),
        any::<usize>().prop_map(Mutation::Cut),
        prop::collection::vec(any::<u8>(), 1..64).prop_map(Mutation::Extend),
        (any::<usize>(), extreme).prop_map(|(i, w)| Mutation::Word(i, w)),
    ]
}

fn mutate(valid: &[u8], ms: &[Mutation]) -> Vec<u8> {
    let mut b = valid.to_vec();
    for m in ms {
        match m {
            Mutation::Flip(i, x) if !b.is_empty() => {
                let n = b.len();
                b[i % n] ^= x;
            }
            Mutation::Cut(i) => b.truncate(i % (b.len() + 1)),
            Mutation::Extend(more) => b.extend_from_slice(more),
            Mutation::Word(i, w) if b.len() >= 8 => {
                let at = i % (b.len() - 7);
                b[at..at + 8].copy_from_slice(&w.to_le_bytes());
            }
            _ => {}
        }
    }
    b
}

fn mutations() -> impl Strategy<Value = Vec<Mutation>> {
    prop::collection::vec(mutation(), 1..4)
}

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..512)
}

// ----- frames from a peer ------------------------------------------------------

fn valid_frames() -> &'static [Vec<u8>] {
    static V: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    V.get_or_init(|| {
        [
            Payload::U64(vec![1, 2, 3]),
            Payload::U128(vec![u128::MAX]),
            Payload::Bytes(b"hello".to_vec()),
        ]
        .into_iter()
        .map(|payload| {
            let mut wire = Vec::new();
            frame::write_frame(&mut wire, &Frame { round: 7, payload }).expect("encode");
            wire
        })
        .collect()
    })
}

// ----- model and share files ---------------------------------------------------

/// A clear model file and a share file (bytes), from a tiny training run.
fn valid_model_files() -> &'static [Vec<u8>; 2] {
    static V: OnceLock<[Vec<u8>; 2]> = OnceLock::new();
    V.get_or_init(|| {
        let dir = net_common::TempDir::new("fuzz-models");
        let (settings, train) = tiny_training::tiny(16, 1, 4, 1);
        let prefix = dir.join("m");
        let job = TrainJob {
            out_prefix: Some(prefix.clone()),
            ..TrainJob::new(&settings, Some(&train))
        };
        let kinds = [
            privml::runner::DomainKind::Plain,
            privml::runner::DomainKind::Shared64,
        ];
        for k in kinds {
            privml::runner::run_local(k, &SharedConfig::default(), &job).expect("train");
        }
        [
            std::fs::read(privml::model_file::SavedModel::clear_path(&prefix)).expect("read"),
            std::fs::read(privml::model_file::SavedModel::party_path(&prefix, 1)).expect("read"),
        ]
    })
}

/// Magic, version, `body` and its SHA-256: a model file whose checksum
/// holds, so the decoder's checks past the checksum are reached.
fn with_checksum(body: &[u8]) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let mut v = b"PRIVML\x00".to_vec();
    v.push(privml::model_file::FORMAT_VERSION);
    v.extend_from_slice(body);
    v.extend_from_slice(&Sha256::digest(body));
    v
}

/// A valid dataset share file (party 1's, a 6 x 2 table of two classes).
fn valid_dataset_file() -> &'static Vec<u8> {
    static V: OnceLock<Vec<u8>> = OnceLock::new();
    V.get_or_init(|| {
        let x = ndarray::Array2::from_elem((6, 2), 0.25);
        let y = ndarray::Array2::from_shape_fn((6, 2), |(i, k)| f64::from(u8::from(i % 2 == k)));
        let table = privml::model_file::TableMeta {
            target: "y".into(),
            features: vec!["a".into(), "b".into()],
            n_classes: 2,
            normalizer: None,
            task: privml::learn::Task::Classification,
            target_normalizer: None,
        };
        let files = privml::dataset_file::share_table(
            &x,
            &y,
            &table,
            &privml::runner::DomainSpec::default(),
        )
        .expect("share");
        files[1].encode().expect("encode")
    })
}

/// `body` framed as a dataset share file with a fitting checksum.
fn dataset_with_checksum(body: &[u8]) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let mut v = b"PRIVMLD\x00".to_vec();
    v.push(privml::dataset_file::FORMAT_VERSION);
    v.extend_from_slice(body);
    v.extend_from_slice(&Sha256::digest(body));
    v
}

fn decode_dataset(bytes: &[u8]) -> Result<(), TestCaseError> {
    let _ = privml::dataset_file::DatasetShares::decode(bytes, privml::error::Origin::Bytes);
    check_allocations("dataset share file")
}

fn decode_model(bytes: &[u8]) -> Result<(), TestCaseError> {
    let _ = privml::model_file::SavedModel::decode(bytes, Path::new("fuzz.shares"));
    check_allocations("model file")
}

// ----- the data owner's announcement ---------------------------------------------

/// Party 0 (the data owner) announces `bytes` and leaves; parties 1 and 2
/// run the training job, which decodes the announcement and inputs what it
/// describes. Their errors must be typed (a panic fails the case), and
/// nothing they allocate may follow the announced sizes.
fn hostile_announcement(bytes: &[u8]) -> Result<(), TestCaseError> {
    let settings = TrainSettings {
        data_owner: 0,
        ..TrainSettings::default()
    };
    let job = TrainJob::new(&settings, None);
    let links = memory::triangle();
    let results: Vec<privml::Result<()>> = std::thread::scope(|s| {
        let handles: Vec<_> = links
            .into_iter()
            .enumerate()
            .map(|(me, (next, prev))| {
                let job = &job;
                s.spawn(move || -> privml::Result<()> {
                    let mut r = Shared::<u64>::new(
                        me,
                        Box::new(next),
                        Box::new(prev),
                        &SharedConfig::default(),
                    )?;
                    if me == 0 {
                        r.announce(0, Some(bytes)).map(|_| ())
                    } else {
                        job.run(&mut r).map(|_| ())
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("no party panics"))
            .collect()
    });
    for r in &results[1..] {
        prop_assert!(r.is_err(), "an honest party finished without the data");
    }
    check_allocations("announcement")
}

/// A valid announcement (the bytes party 0 sends for a small table).
fn valid_announcement() -> &'static [u8] {
    static V: OnceLock<Vec<u8>> = OnceLock::new();
    V.get_or_init(|| {
        // The announcement is what party 0 sends first: capture it from a
        // run with a recording of party 1's received bytes.
        use privml::net::{Channel, ChannelError};
        use std::sync::{Arc, Mutex};
        struct First<C>(C, Arc<Mutex<Option<Vec<u8>>>>);
        impl<C: Channel> Channel for First<C> {
            fn send(&mut self, f: Frame) -> Result<(), ChannelError> {
                self.0.send(f)
            }
            fn recv(&mut self, t: std::time::Duration) -> Result<Frame, ChannelError> {
                let f = self.0.recv(t)?;
                let mut first = self.1.lock().expect("lock");
                if let (None, Payload::Bytes(b)) = (&*first, &f.payload) {
                    // The key set-up seed is 16 bytes; the announcement is longer.
                    if b.len() > 16 {
                        *first = Some(b.clone());
                    }
                }
                Ok(f)
            }
        }
        let seen = Arc::new(Mutex::new(None));
        let (settings, train) = tiny_training::tiny(16, 1, 4, 0);
        let job = TrainJob::new(&settings, Some(&train));
        let links = memory::triangle();
        std::thread::scope(|s| {
            for (me, (next, prev)) in links.into_iter().enumerate() {
                let (job, seen) = (&job, seen.clone());
                s.spawn(move || {
                    let prev: Box<dyn Channel> = if me == 1 {
                        Box::new(First(prev, seen))
                    } else {
                        Box::new(prev)
                    };
                    let mut r =
                        Shared::<u64>::new(me, Box::new(next), prev, &SharedConfig::default())
                            .expect("set-up");
                    job.run(&mut r).expect("training");
                });
            }
        });
        let announced = seen.lock().expect("lock").clone();
        announced.expect("party 1 received the announcement")
    })
}

// ----- federated submissions and HE formats --------------------------------------

struct Fl {
    share_msgs: Vec<[Vec<u8>; 3]>,
    he_pk: privml::he::PublicKey,
    he_msg: Vec<u8>,
    he_update: Vec<u8>,
    he_sum: Vec<u8>,
    plain_msg: Vec<u8>,
}

fn fl() -> &'static Fl {
    static V: OnceLock<Fl> = OnceLock::new();
    V.get_or_init(|| {
        use privml::fl::{ClientId, ShareEncoding, ShareParams, UpdateMeta};
        let meta = UpdateMeta::new(ClientId(1), 1, 2);
        let update = [0.5, -1.0, 2.0];
        let share_msgs = [ShareEncoding::Explicit, ShareEncoding::Seeded]
            .into_iter()
            .map(|e| {
                privml::fl::share_update(&ShareParams::default().with_encoding(e), meta, &update)
                    .expect("share")
            })
            .collect();
        let (pk, _) =
            privml::he::KeyPair::generate(&privml::he::HeParams::default()).expect("keys");
        let he_msg = privml::fl::encrypt_update(&pk, meta, &update).expect("encrypt");
        let enc = pk.encrypt_update(&update).expect("encrypt");
        let mut agg = privml::he::Aggregator::new(pk.clone(), 3);
        agg.add("a", &enc).expect("add");
        Fl {
            share_msgs,
            he_update: enc.to_bytes(),
            he_sum: agg.finish().to_bytes(),
            he_pk: pk,
            he_msg,
            plain_msg: privml::fl::plain_update(meta, &update).expect("plain"),
        }
    })
}

/// The HE wire checksum (documented in `privml::he`): lets mutated headers
/// through to the checks behind it.
fn he_checksum(b: &mut [u8]) {
    if b.len() < 48 {
        return;
    }
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut total = 0u64;
    for part in [&b[..40], &b[48..]] {
        total += part.len() as u64;
        for c in part.chunks(8) {
            let mut w = [0u8; 8];
            w[..c.len()].copy_from_slice(c);
            h = (h ^ u64::from_le_bytes(w)).wrapping_mul(PRIME);
        }
    }
    let sum = (h ^ total).wrapping_mul(PRIME);
    b[40..48].copy_from_slice(&sum.to_le_bytes());
}

fn federated_submissions(b: &[u8]) -> Result<(), TestCaseError> {
    use privml::fl::{AggregationRound, ClientId, HeRound, PlainRound, ShareParams, ShareServer};
    let client = ClientId(1);
    for encoding in [
        privml::fl::ShareEncoding::Explicit,
        privml::fl::ShareEncoding::Seeded,
    ] {
        let p = ShareParams::default().with_encoding(encoding);
        for s in 0..3 {
            let mut server = ShareServer::new(s, 1, 3, p).expect("server");
            let _ = server.receive(client, b);
        }
    }
    let mut he = HeRound::new(fl().he_pk.clone(), 1, 3);
    let _ = he.submit(client, &[b]);
    let mut plain = PlainRound::new(1, 3);
    let _ = plain.submit(client, &[b]);
    check_allocations("federated submission")
}

fn he_formats(b: &[u8]) -> Result<(), TestCaseError> {
    use privml::he::{EncryptedSum, EncryptedUpdate, PublicKey};
    let _ = EncryptedUpdate::from_bytes(b);
    let _ = EncryptedSum::from_bytes(b, 3);
    let _ = PublicKey::from_bytes(b);
    check_allocations("HE wire format")
}

// ----- the parties file, session texts, PEM files ----------------------------------

const PARTIES: &str = r#"ca = "ca.pem"
timeout_secs = 60
connect_deadline_secs = 60
max_frame_bytes = 1073741824
[[party]]
id = 0
address = "127.0.0.1:7000"
cert = "party0.pem"
key = "party0.key"
[[party]]
id = 1
address = "[::1]:7001"
listen = "0.0.0.0:7001"
cert = "party1.pem"
key = "party1.key"
[[party]]
id = 2
address = "h2:7002"
cert = "party2.pem"
key = "party2.key"
"#;

fn parties_file(text: &str) -> Result<(), TestCaseError> {
    match privml::net::config::PartiesConfig::parse(text, Path::new("/d/parties.toml")) {
        Ok(cfg) => {
            // Whatever parses is usable: every wait fits `Instant + wait`.
            for w in [cfg.timeout, cfg.connect_deadline].into_iter().flatten() {
                prop_assert!(std::time::Instant::now().checked_add(w).is_some());
            }
        }
        Err(e) => prop_assert!(matches!(e, Error::BadFile { .. }), "{e:?}"),
    }
    check_allocations("parties file")
}

/// Replaces the value of one `key = value` line of the parties file.
fn with_value(line: usize, value: &str) -> String {
    let lines: Vec<&str> = PARTIES.lines().collect();
    let i = line % lines.len();
    lines
        .iter()
        .enumerate()
        .map(|(k, l)| match (k == i, l.split_once(" = ")) {
            (true, Some((key, _))) => format!("{key} = {value}"),
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn pem_files(b: &[u8]) -> Result<(), TestCaseError> {
    let dir = net_common::TempDir::new("fuzz-pem");
    let path = dir.write("x.pem", b);
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .expect("chmod");
    let _ = privml::net::tls::load_certs(&path);
    let _ = privml::net::tls::load_key(&path);
    let ca = dir.join("ca");
    let loopback = [
        "127.0.0.1".to_string(),
        "127.0.0.1".into(),
        "127.0.0.1".into(),
    ];
    ca_dir(&ca, &loopback);
    let r = privml::net::tls::sign_request(&path, &ca, dir.path(), true);
    prop_assert!(r.is_err(), "random bytes signed as a request");
    check_allocations("PEM file")
}

fn ca_dir(dir: &Path, hosts: &[String; 3]) {
    static CA: OnceLock<Vec<(String, Vec<u8>)>> = OnceLock::new();
    let files = CA.get_or_init(|| {
        let tmp = net_common::TempDir::new("fuzz-ca");
        privml::net::tls::keygen_ca(&tmp, hosts, 7700, false).expect("CA");
        ["ca.pem", "ca.key", "parties.toml"]
            .iter()
            .map(|n| (n.to_string(), std::fs::read(tmp.join(n)).expect("read")))
            .collect()
    });
    std::fs::create_dir_all(dir).expect("mkdir");
    for (n, b) in files {
        let p = dir.join(n);
        std::fs::write(&p, b).expect("write");
        std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .expect("chmod");
    }
}

proptest! {
    #[test]
    fn frames(raw in bytes(), which in 0usize..3, ms in mutations()) {
        for b in [raw, mutate(&valid_frames()[which], &ms)] {
            let _ = frame::read_message(&mut b.as_slice(), DEFAULT_MAX_PAYLOAD);
            check_allocations("frame")?;
        }
    }

    #[test]
    fn model_and_share_files(raw in bytes(), which in 0usize..2, ms in mutations()) {
        let valid = &valid_model_files()[which];
        decode_model(&raw)?;
        decode_model(&mutate(valid, &ms))?;
        // The body mutated and the checksum made to fit: postcard sees it.
        let body = &valid[8..valid.len() - 32];
        decode_model(&with_checksum(&mutate(body, &ms)))?;
        decode_model(&with_checksum(&raw))?;
    }

    #[test]
    fn dataset_share_files(raw in bytes(), ms in mutations()) {
        let valid = valid_dataset_file();
        decode_dataset(&raw)?;
        decode_dataset(&mutate(valid, &ms))?;
        let body = &valid[9..valid.len() - 32];
        decode_dataset(&dataset_with_checksum(&mutate(body, &ms)))?;
        decode_dataset(&dataset_with_checksum(&raw))?;
    }

    #[test]
    fn client_requests(raw in bytes(), ms in mutations()) {
        let mut valid = Vec::new();
        let stage = privml::service::Request::Stage {
            name: "d".into(),
            file: valid_dataset_file().clone(),
        };
        privml::service::send(&mut valid, 1, &stage).expect("encode");
        for b in [raw, mutate(&valid, &ms)] {
            let _ = privml::service::receive::<privml::service::Request, _>(
                &mut b.as_slice(),
                privml::service::DEFAULT_MAX_REQUEST,
                &privml::error::Origin::Client("fuzz".into()),
            );
            check_allocations("client request")?;
        }
    }

    #[test]
    fn announcements(raw in bytes(), ms in mutations()) {
        hostile_announcement(&raw)?;
        hostile_announcement(&mutate(valid_announcement(), &ms))?;
    }

    #[test]
    fn federated_and_he_submissions(raw in bytes(), which in 0usize..6, ms in mutations()) {
        let f = fl();
        let valid: [&[u8]; 6] = [
            &f.share_msgs[0][1],
            &f.share_msgs[1][0],
            &f.share_msgs[1][2],
            &f.he_msg,
            &f.plain_msg,
            &f.share_msgs[0][0],
        ];
        federated_submissions(&raw)?;
        federated_submissions(&mutate(valid[which], &ms))?;
    }

    #[test]
    fn he_wire_formats(raw in bytes(), which in 0usize..3, ms in mutations()) {
        let f = fl();
        let pk = f.he_pk.to_bytes();
        let valid: [&[u8]; 3] = [&f.he_update, &f.he_sum, &pk];
        he_formats(&raw)?;
        let mut m = mutate(valid[which], &ms);
        he_formats(&m)?;
        he_checksum(&mut m);
        he_formats(&m)?;
    }

    #[test]
    fn parties_files(
        raw in "\\PC{0,300}",
        line in any::<usize>(),
        value in prop_oneof![
            any::<f64>().prop_map(|v| v.to_string()),
            any::<i64>().prop_map(|v| v.to_string()),
            any::<u64>().prop_map(|v| v.to_string()),
            "\"[^\"]{0,20}\"",
            Just("1.8e19".to_string()),
            Just("-0.0".to_string()),
            Just("nan".to_string()),
            Just("inf".to_string()),
        ],
        cut in any::<usize>(),
    ) {
        parties_file(&raw)?;
        parties_file(&with_value(line, &value))?;
        parties_file(&PARTIES[..PARTIES.len() - cut % PARTIES.len()])?;
    }

    #[test]
    fn session_texts(raw in "\\PC{0,200}", other in "\\PC{0,200}") {
        let a = privml::session::SessionText::parse(&raw);
        let b = privml::session::SessionText::parse(&other);
        let _ = a.first_difference(&b);
        check_allocations("session text")?;
    }

    #[test]
    fn pem_certificates_keys_and_requests(raw in bytes()) {
        let mut framed = b"-----BEGIN CERTIFICATE REQUEST-----\n".to_vec();
        framed.extend_from_slice(&raw);
        framed.extend_from_slice(b"\n-----END CERTIFICATE REQUEST-----\n");
        pem_files(&raw)?;
        pem_files(&framed)?;
    }
}

#[test]
fn the_harnesses_reach_past_the_first_checks() {
    // Sanity of the fixtures: the valid inputs the mutations start from are
    // accepted, so the mutations exercise the decoders beyond their magic
    // bytes and checksums.
    for b in valid_frames() {
        frame::read_message(&mut b.as_slice(), DEFAULT_MAX_PAYLOAD).expect("valid frame");
    }
    for b in valid_model_files() {
        privml::model_file::SavedModel::decode(b, Path::new("m")).expect("valid model file");
        let body = &b[8..b.len() - 32];
        privml::model_file::SavedModel::decode(&with_checksum(body), Path::new("m"))
            .expect("re-checksummed model file");
    }
    let f = fl();
    privml::he::EncryptedUpdate::from_bytes(&f.he_update).expect("update");
    privml::he::EncryptedSum::from_bytes(&f.he_sum, 3).expect("sum");
    let mut fixed = f.he_update.clone();
    he_checksum(&mut fixed);
    assert_eq!(fixed, f.he_update, "the test's checksum is the format's");
    privml::net::config::PartiesConfig::parse(PARTIES, Path::new("/d/p.toml")).expect("parties");
    let d = valid_dataset_file();
    privml::dataset_file::DatasetShares::decode(d, privml::error::Origin::Bytes)
        .expect("valid dataset file");
    privml::dataset_file::DatasetShares::decode(
        &dataset_with_checksum(&d[9..d.len() - 32]),
        privml::error::Origin::Bytes,
    )
    .expect("re-checksummed dataset file");
    assert!(valid_announcement().len() > 16);
    // The allocation record sees allocations of other threads too.
    std::thread::spawn(|| std::hint::black_box(vec![1u8; 3 << 20]))
        .join()
        .expect("thread");
    assert!(alloc_stats::largest() >= 3 << 20);
}
