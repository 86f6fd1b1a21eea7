//! Issue 16: the three parties as long-running services (`privml serve`)
//! and their outside clients (`privml client`), as processes on loopback:
//! two data providers upload, a party restarted keeps what it stored,
//! a client that dies mid-upload leaves nothing, clients without a
//! certificate of the deployment CA (or not on the access list) are
//! refused, and the parties keep serving throughout.
#![cfg(all(feature = "tls", feature = "cli"))]

use crate::net_common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::sync::Arc;
use std::time::{Duration, Instant};

use privml::dataset_file;
use privml::learn::Task;
use privml::model_file::TableMeta;
use privml::net::config::PartiesConfig;
use privml::net::tls::{self, Credentials};
use privml::runner::DomainSpec;
use privml::service::{self, Connection, Reply, Request};

const BIN: &str = env!("CARGO_BIN_EXE_privml");
const WAIT: Duration = Duration::from_secs(30);

/// Child processes killed when the test ends, however it ends.
struct Servers {
    children: Vec<Option<Child>>,
}

impl Drop for Servers {
    fn drop(&mut self) {
        for c in self.children.iter_mut().flatten() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn free(base: u16) -> bool {
    (0..3).all(|i| TcpListener::bind(("127.0.0.1", base + i)).is_ok())
}

/// A base port with base..base+2 and the client ports free.
fn base_port() -> u16 {
    loop {
        let b = net_common::free_base_port();
        if b < 60_000 && free(b + tls::CLIENT_PORT_OFFSET) {
            return b;
        }
    }
}

/// A one-directory deployment with clients alice, bob and carol; carol is
/// then removed from the access list, bob may use dataset "b" only.
fn deployment(tag: &str) -> (net_common::TempDir, PathBuf) {
    let dir = net_common::TempDir::new(tag);
    let out = Command::new(BIN)
        .args(["keygen", "--clients", "alice,bob,carol", "--base-port"])
        .arg(base_port().to_string())
        .arg("--out")
        .arg(&*dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let config = dir.join("parties.toml");
    let t = std::fs::read_to_string(&config).unwrap();
    let t = t.replace(
        "[[client]]\nname = \"carol\"\ndatasets = [\"*\"]\nmodels = [\"*\"]\n",
        "",
    );
    let t = t.replace(
        "name = \"bob\"\ndatasets = [\"*\"]",
        "name = \"bob\"\ndatasets = [\"b\"]",
    );
    assert!(t.contains("datasets = [\"b\"]") && !t.contains("carol"));
    std::fs::write(&config, t).unwrap();
    (dir, config)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// One epoch of `mlp:4` on `source`, trained in process with `cfg`, each
/// party's model share file put in its store as model "bc"; returns the
/// model files' prefix (for in-process reference predictions).
fn store_trained_model(
    dir: &Path,
    source: &privml::learn::DataSource,
    batch: usize,
    cfg: &privml::SharedConfig,
) -> PathBuf {
    use privml::learn::{TrainData, TrainJob, TrainSettings};
    use privml::model_file::SavedModel;
    let settings = TrainSettings {
        model: "mlp:4".parse().unwrap(),
        sgd: privml::nn::MiniBatch {
            epochs: 1,
            batch,
            lr: 0.2,
        },
        ..TrainSettings::default()
    };
    let data = TrainData::prepare(source, &settings, &DomainSpec::default()).unwrap();
    let prefix = dir.join("m");
    let job = TrainJob {
        out_prefix: Some(prefix.clone()),
        ..TrainJob::new(&settings, Some(&data))
    };
    privml::runner::run_local(DomainSpec::default().kind(), cfg, &job).unwrap();
    for p in 0..3 {
        let models = dir.join(format!("store{p}/models"));
        std::fs::create_dir_all(&models).unwrap();
        std::fs::copy(SavedModel::party_path(&prefix, p), models.join("bc.shares")).unwrap();
    }
    prefix
}

fn serve(config: &Path, dir: &Path, id: usize) -> Child {
    net_common::serve(BIN, config, dir, id, 5)
}

fn creds(dir: &Path, config: &PartiesConfig, name: &str) -> Credentials {
    Credentials::load(
        &config.ca,
        &dir.join(format!("client-{name}.pem")),
        &dir.join(format!("client-{name}.key")),
    )
    .unwrap()
}

/// Connects as `name` to `party`, retrying while the party starts.
fn connect(dir: &Path, config: &PartiesConfig, name: &str, party: usize) -> Connection {
    let c = creds(dir, config, name);
    let t0 = Instant::now();
    loop {
        match Connection::open(config, &c, party, Duration::from_secs(5)) {
            Ok(conn) => return conn,
            Err(e) if t0.elapsed() < WAIT => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => panic!("party {party} does not answer: {e}"),
        }
    }
}

fn datasets(conn: &mut Connection) -> Vec<String> {
    match conn.call(&Request::List).unwrap() {
        Reply::Datasets(l) => l.into_iter().map(|(n, _)| n).collect(),
        other => panic!("{other:?}"),
    }
}

fn client(config: &Path, identity: &Path, args: &[&str]) -> Output {
    let child = Command::new(BIN)
        .arg("client")
        .arg("--config")
        .arg(config)
        .arg("--identity")
        .arg(identity)
        .args(["--timeout", "10"])
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    net_common::finish_within(child, WAIT)
}

fn write_csv(path: &Path, rows: usize, offset: usize) {
    let mut s = String::from("f0,f1,f2,y\n");
    for i in 0..rows {
        let k = i + offset;
        let (a, b, c) = ((k % 7) as f64 / 7.0, (k % 11) as f64 / 11.0, (k % 5) as f64);
        s.push_str(&format!("{a},{b},{c},{}\n", u8::from(a + b > 1.0)));
    }
    std::fs::write(path, s).unwrap();
}

fn small_files() -> [privml::dataset_file::DatasetShares; 3] {
    let x = ndarray::Array2::from_elem((4, 1), 0.5);
    let y = ndarray::Array2::from_shape_fn((4, 2), |(i, k)| f64::from(u8::from(i % 2 == k)));
    let table = TableMeta {
        target: "y".into(),
        features: vec!["f".into()],
        n_classes: 2,
        normalizer: None,
        task: Task::Classification,
        target_normalizer: None,
    };
    dataset_file::share_table(&x, &y, &table, &DomainSpec::default()).unwrap()
}

#[test]
fn providers_upload_restarts_keep_the_store_and_failures_stay_contained() {
    let (dir, config_path) = deployment("clients-serve");
    let config = PartiesConfig::load(&config_path).unwrap();
    let mut servers = Servers {
        children: (0..3)
            .map(|id| Some(serve(&config_path, &dir, id)))
            .collect(),
    };
    // Two providers upload their tables; each party gets its shares only.
    let (a_csv, b_csv) = (dir.join("a.csv"), dir.join("b.csv"));
    write_csv(&a_csv, 120, 0);
    write_csv(&b_csv, 80, 500);
    for p in 0..3 {
        drop(connect(&dir, &config, "alice", p));
    }
    for (who, name, csv) in [("alice", "a", &a_csv), ("bob", "b", &b_csv)] {
        let out = client(
            &config_path,
            &dir.join(format!("client-{who}")),
            &[
                "upload",
                "--data",
                csv.to_str().unwrap(),
                "--target",
                "y",
                "--scaling",
                "none",
                "--name",
                name,
            ],
        );
        assert!(out.status.success(), "{who}: {}", text(&out.stderr));
        assert!(text(&out.stdout).contains(&format!("uploaded '{name}'")));
    }
    let a_rows = match connect(&dir, &config, "alice", 2)
        .call(&Request::List)
        .unwrap()
    {
        Reply::Datasets(l) => l.iter().find(|(n, _)| n == "a").map(|(_, s)| s.rows),
        other => panic!("{other:?}"),
    };
    assert_eq!(a_rows, Some(120));
    // Each party's store holds its own shares: the three combine to the
    // table, and no file holds the rows.
    let stored: Vec<_> = (0..3)
        .map(|p| {
            privml::dataset_file::DatasetShares::load(
                dir.join(format!("store{p}/datasets/a.shares")),
            )
            .unwrap()
        })
        .collect();
    let stored: [_; 3] = stored.try_into().unwrap();
    let (x, _) = dataset_file::open_table(&stored).unwrap();
    assert!((x[[3, 0]] - 3.0 / 7.0).abs() < 1e-4);
    // Bob may not upload a dataset the access list does not give him; the
    // parties say so and keep serving.
    let out = client(
        &config_path,
        &dir.join("client-bob"),
        &[
            "upload",
            "--data",
            a_csv.to_str().unwrap(),
            "--target",
            "y",
            "--scaling",
            "none",
            "--name",
            "x",
        ],
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("may not use dataset 'x'"),
        "{}",
        text(&out.stderr)
    );

    // Party 1 stops cleanly on SIGTERM and, restarted, still has both.
    let mut p1 = servers.children[1].take().unwrap();
    let killed = Command::new("kill")
        .args(["-TERM", &p1.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let t0 = Instant::now();
    while p1.try_wait().unwrap().is_none() && t0.elapsed() < WAIT {
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = net_common::finish_within(p1, Duration::from_secs(1));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let log = text(&out.stderr);
    assert!(log.contains("party 1: stopped"), "{log}");
    assert!(log.contains("client alice: committed dataset 'a'"), "{log}");
    servers.children[1] = Some(serve(&config_path, &dir, 1));
    let mut c1 = connect(&dir, &config, "alice", 1);
    assert_eq!(datasets(&mut c1), vec!["a".to_string(), "b".to_string()]);
    // Bob sees only what the access list gives him.
    assert_eq!(
        datasets(&mut connect(&dir, &config, "bob", 1)),
        vec!["b".to_string()]
    );

    // A client that dies mid-upload: party 2 gets half a request, parties
    // 0 and 1 get the whole of theirs staged but never a commit.
    let files = small_files();
    {
        let mut conns = [
            connect(&dir, &config, "alice", 0),
            connect(&dir, &config, "alice", 1),
            connect(&dir, &config, "alice", 2),
        ];
        for p in 0..2 {
            conns[p]
                .call(&Request::Stage {
                    name: "c".into(),
                    file: files[p].encode().unwrap(),
                })
                .unwrap();
        }
        let mut header = Vec::new();
        privml::net::frame::write_frame(
            &mut header,
            &privml::net::Frame {
                round: 1,
                payload: privml::ring::Payload::Bytes(vec![7; 5000]),
            },
        )
        .unwrap();
        conns[2].send_raw(&header[..1000]).unwrap();
    } // the connections drop here, as if the client was killed
    std::thread::sleep(Duration::from_millis(300));
    for p in 0..3 {
        let mut c = connect(&dir, &config, "alice", p);
        let names = datasets(&mut c);
        assert!(!names.contains(&"c".to_string()), "party {p}: {names:?}");
        let leftovers: Vec<_> = std::fs::read_dir(dir.join(format!("store{p}/datasets")))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with('c') || n.contains("staged"))
            .collect();
        assert!(leftovers.is_empty(), "party {p}: {leftovers:?}");
    }
    // ...and the parties keep serving: the same upload, whole, succeeds.
    let mut conns = [
        connect(&dir, &config, "alice", 0),
        connect(&dir, &config, "alice", 1),
        connect(&dir, &config, "alice", 2),
    ];
    let report = service::upload(&mut conns, "c", &files).unwrap();
    assert_eq!(report.schema.rows, 4);
    assert!(datasets(&mut conns[2]).contains(&"c".to_string()));
    drop(servers);
}

#[test]
fn clients_without_a_deployment_certificate_are_refused() {
    let (dir, config_path) = deployment("clients-refused");
    let config = PartiesConfig::load(&config_path).unwrap();
    let servers = Servers {
        children: vec![Some(serve(&config_path, &dir, 0))],
    };
    drop(connect(&dir, &config, "alice", 0));
    // A client certificate of the same name from another deployment's CA.
    let other = net_common::TempDir::new("clients-other-ca");
    let out = Command::new(BIN)
        .args(["keygen", "--clients", "alice", "--out"])
        .arg(&*other)
        .output()
        .unwrap();
    assert!(out.status.success());
    let foreign = Credentials::load(
        &config.ca,
        &other.join("client-alice.pem"),
        &other.join("client-alice.key"),
    )
    .unwrap();
    let e = Connection::open(&config, &foreign, 0, Duration::from_secs(5))
        .and_then(|mut c| c.call(&Request::List))
        .unwrap_err();
    assert!(e.to_string().contains("party 0"), "{e}");
    // The CLI says so too.
    let out = client(&config_path, &other.join("client-alice"), &["list"]);
    assert!(!out.status.success());
    // A client of the right CA that is not on the access list.
    let carol = creds(&dir, &config, "carol");
    assert!(
        Connection::open(&config, &carol, 0, Duration::from_secs(5))
            .and_then(|mut c| c.call(&Request::List))
            .is_err()
    );
    // No certificate at all: the handshake fails, nothing is answered.
    let roots = {
        let mut r = rustls::RootCertStore::empty();
        for c in tls::load_certs(&config.ca).unwrap() {
            r.add(c).unwrap();
        }
        r
    };
    let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS13])
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let addr = config.party(0).client_address.clone().unwrap();
    let sock = TcpStream::connect(&addr).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let conn =
        rustls::ClientConnection::new(Arc::new(cfg), tls::peer_server_name(0).unwrap()).unwrap();
    let mut s = rustls::StreamOwned::new(conn, sock);
    let mut wire = Vec::new();
    service::send(&mut wire, 1, &Request::List).unwrap();
    let _ = s.write_all(&wire);
    let mut buf = [0u8; 64];
    let got = s.read(&mut buf);
    assert!(matches!(got, Err(_) | Ok(0)), "{got:?}");
    // The party kept serving the rightful client.
    let mut ok = connect(&dir, &config, "alice", 0);
    assert!(datasets(&mut ok).is_empty());
    drop(servers);
}

/// A model trained in process, each party's file put in its store; a
/// client's private predictions (several queries on the same connections,
/// and the CLI) equal the in-process predictions of the same files.
#[test]
fn private_predictions_equal_in_process_predictions() {
    use privml::learn::{DataSource, ModelLocation, PredictJob, PredictRows};
    use privml::model_file::SavedModel;
    use privml::runner::run_local;
    let (dir, config_path) = deployment("clients-predict");
    let config = PartiesConfig::load(&config_path).unwrap();
    let source = DataSource::Bundled(privml::data::Bundled::BreastCancer);
    let cfg = privml::SharedConfig::default().insecure_test_seed(5);
    let prefix = store_trained_model(&dir, &source, 32, &cfg);
    let _servers = Servers {
        children: (0..3)
            .map(|id| Some(serve(&config_path, &dir, id)))
            .collect(),
    };
    let meta = SavedModel::load(SavedModel::party_path(&prefix, 0))
        .unwrap()
        .meta;
    let rows = PredictRows::prepare(&source, &meta).unwrap();
    let x = rows.x.slice(ndarray::s![..100, ..]).to_owned();
    let reference = PredictJob {
        model: ModelLocation::Prefix(prefix.clone()),
        data: Some(&x),
        data_owner: 1,
    };
    let (want, _) = run_local(DomainSpec::default().kind(), &cfg, &reference).unwrap();
    let want = want.unwrap().scores;
    for p in 0..3 {
        drop(connect(&dir, &config, "alice", p));
    }
    let mut conns = [
        connect(&dir, &config, "alice", 0),
        connect(&dir, &config, "alice", 1),
        connect(&dir, &config, "alice", 2),
    ];
    let got_meta = service::model_info(&mut conns[0], "bc").unwrap();
    assert_eq!(got_meta, meta);
    let domain = service::model_domain(&got_meta).unwrap();
    // Three queries in a row on the same connections: 1 row, 63, 36.
    let mut parts = Vec::new();
    for (a, b) in [(0, 1), (1, 64), (64, 100)] {
        let q = x.slice(ndarray::s![a..b, ..]).to_owned();
        parts.push(service::predict(&mut conns, "bc", &domain, &q).unwrap());
    }
    let views: Vec<_> = parts.iter().map(|p| p.view()).collect();
    let got = ndarray::concatenate(ndarray::Axis(0), &views).unwrap();
    assert_eq!(got.dim(), want.dim());
    let d = got
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(
        d < 2e-3,
        "private predictions differ from in-process ones by {d}"
    );
    // A model the client may not use, and one that does not exist.
    let e = service::model_info(&mut conns[1], "nope").unwrap_err();
    assert!(e.to_string().contains("no model 'nope'"), "{e}");
    drop(conns);
    // The CLI, in batches of 16 rows.
    let csv = dir.join("rows.csv");
    let mut text_rows = meta.table.features.join(",") + ",target\n";
    let raw = source.load().unwrap();
    for (i, r) in raw.features().rows().into_iter().take(40).enumerate() {
        let v: Vec<String> = r.iter().map(f64::to_string).collect();
        text_rows.push_str(&format!("{},{}\n", v.join(","), raw.targets()[i]));
    }
    std::fs::write(&csv, text_rows).unwrap();
    let out_csv = dir.join("pred.csv");
    let out = client(
        &config_path,
        &dir.join("client-alice"),
        &[
            "predict",
            "--model",
            "bc",
            "--data",
            csv.to_str().unwrap(),
            "--batch",
            "16",
            "--out",
            out_csv.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(
        said.contains("predicted 40 rows") && said.contains("3 queries"),
        "{said}"
    );
    assert!(said.contains("accuracy"), "{said}");
    assert_eq!(
        std::fs::read_to_string(&out_csv).unwrap().lines().count(),
        41
    );
}

/// Opens model `name` from the three parties' stores: each parameter's
/// three share tensors combined.
fn open_stored_model(dir: &Path, name: &str) -> Vec<ndarray::ArrayD<f64>> {
    use privml::model_file::SavedModel;
    let m: Vec<SavedModel> = (0..3)
        .map(|p| SavedModel::load(dir.join(format!("store{p}/models/{name}.shares"))).unwrap())
        .collect();
    (0..m[0].tensors.len())
        .map(|i| {
            dataset_file::open_shares([&m[0].tensors[i], &m[1].tensors[i], &m[2].tensors[i]])
                .unwrap()
        })
        .collect()
}

/// Issue 16's training test: two providers upload the two halves of a
/// table, a client trains on the union with `privml client train`; the
/// model the three stores hold equals, within fixed-point rounding, the
/// model trained in process on the whole table with the same seed, and
/// `client predict` uses it at once. Datasets of different schemas are
/// refused naming both, and a client may train only on what the access
/// list lets it use.
#[test]
fn client_train_on_two_providers_equals_training_on_the_table() {
    use privml::learn::{DataSource, TrainData, TrainJob, TrainSettings};
    use privml::runner::run_local;
    let (dir, config_path) = deployment("clients-train");
    let _servers = Servers {
        children: (0..3)
            .map(|id| Some(serve(&config_path, &dir, id)))
            .collect(),
    };
    let config = PartiesConfig::load(&config_path).unwrap();
    for p in 0..3 {
        drop(connect(&dir, &config, "alice", p));
    }
    let (a_csv, b_csv, all_csv) = (dir.join("a.csv"), dir.join("b.csv"), dir.join("all.csv"));
    write_csv(&a_csv, 40, 0);
    write_csv(&b_csv, 40, 40);
    write_csv(&all_csv, 80, 0);
    let upload = |who: &str, csv: &Path, name: &str| {
        let out = client(
            &config_path,
            &dir.join(format!("client-{who}")),
            &[
                "upload",
                "--data",
                csv.to_str().unwrap(),
                "--target",
                "y",
                "--scaling",
                "none",
                "--name",
                name,
            ],
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
    };
    upload("alice", &a_csv, "a");
    upload("bob", &b_csv, "b");
    let train_args = [
        "--model", "mlp:4", "--epochs", "2", "--batch", "8", "--lr", "0.2", "--seed", "3",
    ];
    // Bob may use dataset "b" only.
    let mut args = vec!["train", "--datasets", "a,b", "--out", "m"];
    args.extend(train_args);
    let out = client(&config_path, &dir.join("client-bob"), &args);
    assert!(!out.status.success());
    let said = text(&out.stderr);
    assert!(said.contains("may not use dataset 'a'"), "{said}");
    let out = client(&config_path, &dir.join("client-alice"), &args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    for needle in [
        "epoch 1: train loss",
        "epoch 2: train loss",
        "final test accuracy",
    ] {
        assert!(said.contains(needle), "{needle}: {said}");
    }
    // The same training in process on the whole table.
    let settings = TrainSettings {
        model: "mlp:4".parse().unwrap(),
        sgd: privml::nn::MiniBatch {
            epochs: 2,
            batch: 8,
            lr: 0.2,
        },
        seed: 3,
        data: privml::learn::DataSpec {
            scaling: None,
            ..privml::learn::DataSpec::default()
        },
        reveal_model: true,
        ..TrainSettings::default()
    };
    let source = DataSource::from_arg(all_csv.to_str().unwrap(), Some("y"));
    let data = TrainData::prepare(&source, &settings, &DomainSpec::default()).unwrap();
    let job = TrainJob::new(&settings, Some(&data));
    let cfg = privml::SharedConfig::default().insecure_test_seed(9);
    let (reference, _) = run_local(DomainSpec::default().kind(), &cfg, &job).unwrap();
    let want = reference.revealed.unwrap();
    let got = open_stored_model(&dir, "m");
    assert_eq!(got.len(), want.len());
    let mut d = 0.0f64;
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g.shape(), w.shape());
        for (u, v) in g.iter().zip(w) {
            d = d.max((u - v).abs());
        }
    }
    assert!(
        d < 0.01,
        "the served model differs from the in-process one by {d}"
    );
    // The model is there for predictions right away.
    let out = client(
        &config_path,
        &dir.join("client-alice"),
        &[
            "predict",
            "--model",
            "m",
            "--data",
            all_csv.to_str().unwrap(),
            "--target",
            "y",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("predicted 80 rows"),
        "{}",
        text(&out.stdout)
    );
    // A model name is never overwritten.
    let out = client(&config_path, &dir.join("client-alice"), &args);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("model 'm' already"),
        "{}",
        text(&out.stderr)
    );
    // A dataset of another schema (one feature fewer) cannot join.
    let c_csv = dir.join("c.csv");
    std::fs::write(
        &c_csv,
        "f0,f1,y\n0.1,0.2,0\n0.9,0.8,1\n0.3,0.9,1\n0.2,0.1,0\n",
    )
    .unwrap();
    upload("alice", &c_csv, "c");
    let mut args = vec!["train", "--datasets", "a,c", "--out", "m2"];
    args.extend(train_args);
    let out = client(&config_path, &dir.join("client-alice"), &args);
    assert!(!out.status.success());
    let said = text(&out.stderr);
    assert!(
        said.contains("'a'") && said.contains("'c'") && said.contains("different schemas"),
        "{said}"
    );
    assert!(said.contains("feature columns differ"), "{said}");
    assert!(!dir.join("store0/models/m2.shares").exists());
}

/// `privml serve` with its log in `dir/logN.txt` (read while it runs).
fn serve_logged(config: &Path, dir: &Path, id: usize) -> Child {
    let log = std::fs::File::create(dir.join(format!("log{id}.txt"))).unwrap();
    let store = dir.join(format!("store{id}"));
    Command::new(BIN)
        .args(["serve", "--id", &id.to_string(), "--config"])
        .arg(config)
        .arg("--store")
        .arg(&store)
        .args(["--timeout", "5"])
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap()
}

/// Waits until party `id`'s log holds `needle` (the party's own progress,
/// not a duration: the wait is bounded only to fail instead of hanging).
fn wait_for_log(dir: &Path, id: usize, needle: &str) -> String {
    let t0 = Instant::now();
    loop {
        let log = std::fs::read_to_string(dir.join(format!("log{id}.txt"))).unwrap_or_default();
        if log.contains(needle) {
            return log;
        }
        assert!(
            t0.elapsed() < WAIT,
            "party {id} never logged '{needle}':\n{log}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .unwrap();
    assert!(ok.success(), "kill {sig} {pid}");
}

/// A real `privml client upload` process killed (SIGKILL) in the middle of
/// its upload leaves no dataset at any party, and the parties go on
/// serving. No timing is assumed: party 0 is stopped (SIGSTOP) once all
/// three parties have logged the client's connection, so the client is
/// then sending its first share file (to party 0, which the upload
/// stages first) and can neither finish it nor commit anywhere (the
/// commits follow all three stagings, party 0's first); the client is
/// killed there, and party 0 continued.
#[test]
fn a_client_process_killed_mid_upload_leaves_no_dataset() {
    let (dir, config_path) = deployment("clients-kill");
    let servers = Servers {
        children: (0..3)
            .map(|id| Some(serve_logged(&config_path, &dir, id)))
            .collect(),
    };
    let config = PartiesConfig::load(&config_path).unwrap();
    for p in 0..3 {
        drop(connect(&dir, &config, "bob", p));
    }
    // About 1 MB of shares per party.
    let big = dir.join("big.csv");
    write_csv(&big, 20_000, 0);
    let mut upload = Command::new(BIN)
        .arg("client")
        .arg("--config")
        .arg(&config_path)
        .arg("--identity")
        .arg(dir.join("client-alice"))
        .args(["upload", "--data"])
        .arg(&big)
        .args(["--target", "y", "--scaling", "none", "--name", "big"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let p0 = servers.children[0].as_ref().unwrap().id();
    wait_for_log(&dir, 0, "client alice connected");
    signal(p0, "-STOP");
    for p in 1..3 {
        wait_for_log(&dir, p, "client alice connected");
    }
    assert!(
        upload.try_wait().unwrap().is_none(),
        "the upload finished although party 0 is stopped"
    );
    upload.kill().unwrap(); // SIGKILL
    let _ = upload.wait();
    signal(p0, "-CONT");
    for p in 0..3 {
        let log = wait_for_log(&dir, p, "client alice disconnected");
        assert!(
            !log.contains("committed dataset 'big'"),
            "party {p}:\n{log}"
        );
    }
    for p in 0..3 {
        let mut c = connect(&dir, &config, "alice", p);
        assert!(datasets(&mut c).is_empty(), "party {p} lists a dataset");
        let left: Vec<_> = std::fs::read_dir(dir.join(format!("store{p}/datasets")))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(left.is_empty(), "party {p} keeps {left:?}");
    }
    // The parties serve the next client.
    let small = dir.join("small.csv");
    write_csv(&small, 20, 0);
    let out = client(
        &config_path,
        &dir.join("client-bob"),
        &[
            "upload",
            "--data",
            small.to_str().unwrap(),
            "--target",
            "y",
            "--scaling",
            "none",
            "--name",
            "b",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    for p in 0..3 {
        let mut c = connect(&dir, &config, "bob", p);
        assert_eq!(datasets(&mut c), vec!["b".to_string()]);
    }
}

/// A connection holds at most `--max-staged` uploads staged and not
/// committed, and at most `--max-staged-bytes` of them; past either, a
/// Stage is refused with an error saying so, and a commit frees room.
#[test]
fn staged_uploads_per_connection_are_capped() {
    let (dir, config_path) = deployment("clients-staged");
    let one = small_files()[0].encode().unwrap().len();
    let cap = one * 11 / 2;
    let store = dir.join("store0");
    let _servers = Servers {
        children: vec![Some(net_common::spawn(
            BIN,
            &[
                "serve",
                "--id",
                "0",
                "--config",
                config_path.to_str().unwrap(),
                "--store",
                store.to_str().unwrap(),
                "--max-staged",
                "4",
                "--max-staged-bytes",
                &cap.to_string(),
            ],
        ))],
    };
    let config = PartiesConfig::load(&config_path).unwrap();
    let mut a = connect(&dir, &config, "alice", 0);
    let mut ids = Vec::new();
    for i in 0..4 {
        let f = small_files();
        ids.push(f[0].schema.dataset_id);
        a.call(&Request::Stage {
            name: format!("s{i}"),
            file: f[0].encode().unwrap(),
        })
        .unwrap();
    }
    let stage = |c: &mut Connection, name: &str, file: Vec<u8>| {
        c.call(&Request::Stage {
            name: name.into(),
            file,
        })
    };
    let e = stage(&mut a, "s4", small_files()[0].encode().unwrap()).unwrap_err();
    assert!(
        e.to_string().contains("4 uploads staged and not committed"),
        "{e}"
    );
    // A commit makes room.
    a.call(&Request::Commit {
        name: "s0".into(),
        dataset_id: ids[0],
    })
    .unwrap();
    stage(&mut a, "s4", small_files()[0].encode().unwrap()).unwrap();
    // Another connection: one file above the byte limit.
    let x = ndarray::Array2::from_elem((40, 1), 0.5);
    let y = ndarray::Array2::from_shape_fn((40, 2), |(i, k)| f64::from(u8::from(i % 2 == k)));
    let table = TableMeta {
        target: "y".into(),
        features: vec!["f".into()],
        n_classes: 2,
        normalizer: None,
        task: Task::Classification,
        target_normalizer: None,
    };
    let big = dataset_file::share_table(&x, &y, &table, &DomainSpec::default()).unwrap();
    let mut b = connect(&dir, &config, "alice", 0);
    let e = stage(&mut b, "big", big[0].encode().unwrap()).unwrap_err();
    assert!(e.to_string().contains("above the party's limit"), "{e}");
    // The refused connection still works.
    assert_eq!(datasets(&mut b), vec!["s0".to_string()]);
}

fn keygen(args: &[&str]) -> Output {
    Command::new(BIN).arg("keygen").args(args).output().unwrap()
}

/// The per-host flow for a client: its key made on its own host (a
/// directory of its own here), only the request signed at the CA. The
/// certified client can upload and list once the access list names it; a
/// request signed by another CA is refused by the parties; a request
/// naming a party, or an invalid name, is refused at signing.
#[test]
fn a_client_certified_from_its_own_request_uploads_and_lists() {
    let (dir, config_path) = deployment("clients-csr");
    let host = net_common::TempDir::new("clients-csr-host");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    // On the client's host: its key and request.
    let out = keygen(&["--client", "dave", "--out", &s(&host)]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("key fingerprint"));
    let csr = host.join("client-dave.csr");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(host.join("client-dave.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // At the CA (the deployment directory holds ca.key): the certificate,
    // written where the CA keeps it, then carried to the client's host.
    let issued = net_common::TempDir::new("clients-csr-issued");
    let out = keygen(&[
        "--sign-client",
        &s(&csr),
        "--ca-dir",
        &s(&dir),
        "--out",
        &s(&issued),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(
        said.contains("client dave") && said.contains("[[client]]"),
        "{said}"
    );
    assert!(!issued.join("client-dave.key").exists());
    std::fs::copy(issued.join("client-dave.pem"), host.join("client-dave.pem")).unwrap();
    // The CA holder adds dave to the access list.
    let mut t = std::fs::read_to_string(&config_path).unwrap();
    t.push_str("\n[[client]]\nname = \"dave\"\ndatasets = [\"d\"]\nmodels = []\n");
    std::fs::write(&config_path, t).unwrap();
    // The same request signed by another deployment's CA.
    let other = net_common::TempDir::new("clients-csr-other");
    assert!(keygen(&["--ca", "--out", &s(&other)]).status.success());
    let foreign = net_common::TempDir::new("clients-csr-foreign");
    let out = keygen(&[
        "--sign-client",
        &s(&csr),
        "--ca-dir",
        &s(&other),
        "--out",
        &s(&foreign),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    std::fs::copy(
        host.join("client-dave.key"),
        foreign.join("client-dave.key"),
    )
    .unwrap();
    // Refused at signing: a party's request, and a request whose name is
    // not a client name (made with the party flow's file, renamed: the
    // name inside counts, not the file's).
    let p = net_common::TempDir::new("clients-csr-party");
    assert!(keygen(&["--party", "1", "--out", &s(&p)]).status.success());
    let out = keygen(&[
        "--sign-client",
        &s(&p.join("party1.csr")),
        "--ca-dir",
        &s(&dir),
        "--out",
        &s(&p),
    ]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("party1.privml"),
        "{}",
        text(&out.stderr)
    );
    assert!(!p.join("party1.pem").exists());
    let bad = rcgen::KeyPair::generate().unwrap();
    let bad_csr = rcgen::CertificateParams::new(vec!["Not A Name.client.privml".to_string()])
        .unwrap()
        .serialize_request(&bad)
        .unwrap()
        .pem()
        .unwrap();
    std::fs::write(p.join("bad.csr"), bad_csr).unwrap();
    let out = keygen(&[
        "--sign-client",
        &s(&p.join("bad.csr")),
        "--ca-dir",
        &s(&dir),
        "--out",
        &s(&p),
    ]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("must name exactly one client"),
        "{}",
        text(&out.stderr)
    );
    // And a client's request is no party's: --sign refuses it.
    let out = keygen(&["--sign", &s(&csr), "--ca-dir", &s(&dir), "--out", &s(&p)]);
    assert!(!out.status.success());

    let config = PartiesConfig::load(&config_path).unwrap();
    let servers = Servers {
        children: (0..3)
            .map(|id| Some(serve(&config_path, &dir, id)))
            .collect(),
    };
    for p in 0..3 {
        drop(connect(&dir, &config, "alice", p));
    }
    let d_csv = dir.join("d.csv");
    write_csv(&d_csv, 30, 0);
    let upload = |identity: &Path| {
        client(
            &config_path,
            identity,
            &[
                "upload",
                "--data",
                d_csv.to_str().unwrap(),
                "--target",
                "y",
                "--scaling",
                "none",
                "--name",
                "d",
            ],
        )
    };
    // The foreign-CA certificate: every party refuses it, nothing stored.
    let out = upload(&foreign.join("client-dave"));
    assert!(!out.status.success());
    // The rightful one.
    let out = upload(&host.join("client-dave"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("uploaded 'd'"));
    let out = client(&config_path, &host.join("client-dave"), &["list"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("d: "),
        "{}",
        text(&out.stdout)
    );
    for p in 0..3 {
        let mut c = connect(&dir, &config, "alice", p);
        assert_eq!(datasets(&mut c), vec!["d".to_string()]);
    }
    drop(servers);
}

/// Issue 16's view test on the serving parties' sockets: what each
/// `privml serve` process receives from a prediction client (the plaintext
/// request frames, recorded by the client's connection before TLS: model
/// name, query id, the party's pair of shares of the rows) passes the
/// view-independence statistics of `privacy.rs` for two different inputs.
/// The parties' messages among themselves are `query_privacy.rs`'s.
#[test]
fn what_a_serving_party_receives_from_a_query_is_independent_of_the_rows() {
    use crate::view_stats::{CHI2_255, MAX_BIT_Z, chi2_two_sample, chi2_uniform, max_bit_z};
    use privml::learn::DataSource;
    let (dir, config_path) = deployment("clients-query-view");
    let config = PartiesConfig::load(&config_path).unwrap();
    let source = DataSource::Bundled(privml::data::Bundled::BreastCancer);
    let cfg = privml::SharedConfig::default().insecure_test_seed(9);
    store_trained_model(&dir, &source, 64, &cfg);
    let _servers = Servers {
        children: (0..3)
            .map(|id| Some(serve(&config_path, &dir, id)))
            .collect(),
    };
    let mut conns = [
        connect(&dir, &config, "alice", 0),
        connect(&dir, &config, "alice", 1),
        connect(&dir, &config, "alice", 2),
    ];
    let meta = service::model_info(&mut conns[0], "bc").unwrap();
    let domain = service::model_domain(&meta).unwrap();
    let n = 400;
    let zeros = ndarray::Array2::zeros((n, 30));
    let varied =
        ndarray::Array2::from_shape_fn((n, 30), |(i, j)| ((i * 13 + j * 7) % 101) as f64 / 100.0);
    let mut view = |x: &ndarray::Array2<f64>| -> Vec<Vec<u8>> {
        for c in conns.iter_mut() {
            c.record_sent();
        }
        let y = service::predict(&mut conns, "bc", &domain, x).unwrap();
        assert_eq!(y.nrows(), n);
        conns.iter_mut().map(Connection::take_sent).collect()
    };
    let a = view(&zeros);
    let b = view(&varied);
    for p in 0..3 {
        let (va, vb) = (&a[p], &b[p]);
        assert_eq!(
            va.len(),
            vb.len(),
            "party {p}: the request's size is public"
        );
        // 400 rows x 30 features x two 8-byte shares.
        assert!(va.len() >= 192_000, "party {p}: {} bytes", va.len());
        let chi = chi2_two_sample(va, vb);
        assert!(
            chi < CHI2_255,
            "party {p}: byte distributions differ ({chi:.1})"
        );
        let z = max_bit_z(va, vb);
        assert!(z < MAX_BIT_Z, "party {p}: a bit position differs ({z:.2})");
        let u = chi2_uniform(vb);
        assert!(u < CHI2_255, "party {p}: not uniform ({u:.1})");
    }
    // Negative control: a client that sent its rows in the clear (here,
    // the fixed-point rows added to what party 1 got) is told apart.
    let fp = privml::FixedPoint::<u64>::default();
    let plain = |x: &ndarray::Array2<f64>| -> Vec<u8> {
        fp.encode_array(&x.clone().into_dyn())
            .unwrap()
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect()
    };
    let (mut la, mut lb) = (a[1].clone(), b[1].clone());
    la.extend(plain(&zeros));
    lb.extend(plain(&varied));
    assert!(chi2_two_sample(&la, &lb) > CHI2_255 || max_bit_z(&la, &lb) > MAX_BIT_Z);
}
