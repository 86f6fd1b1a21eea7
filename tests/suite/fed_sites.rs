//! Issue 17: federated sites on the network. Three `privml serve` parties
//! are the aggregation servers and every site is a `privml client
//! federated` process, all on loopback: five sites, one that dies after
//! reaching one server and one that sends a wrong-shape update; the round
//! completes with the other three and the global model equals the
//! plaintext FedAvg of their updates within the fixed-point bound. A site
//! with a certificate of another CA is refused, and the servers keep
//! serving.
#![cfg(all(feature = "tls", feature = "cli"))]

use crate::fed_common::{BIN, Children, keygen, read_model, serve, text, write_shards};
use crate::net_common;

use std::path::Path;
use std::process::{Child, Output};
use std::time::Duration;

use privml::data::load_csv;
use privml::fl::{LocalTraining, ModelSpec};

const WAIT: Duration = Duration::from_secs(40);

const SITES: usize = 5;
const DEADLINE: &str = "3";

fn site(config: &Path, identity: &Path, data: &Path, out: &Path, extra: &[&str]) -> Child {
    let mut args = vec![
        "client".to_string(),
        "--config".into(),
        config.display().to_string(),
        "--identity".into(),
        identity.display().to_string(),
        "--timeout".into(),
        "20".into(),
        "federated".into(),
        "--data".into(),
        data.display().to_string(),
        "--sites".into(),
        SITES.to_string(),
        "--rounds".into(),
        "1".into(),
        "--deadline".into(),
        DEADLINE.into(),
        "--out".into(),
        out.display().to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    net_common::spawn(BIN, &args)
}

#[test]
fn five_sites_one_dies_one_misbehaves_the_round_averages_the_other_three() {
    let dir = net_common::TempDir::new("fed-sites");
    let config = keygen(&dir, "s0,s1,s2,s3,s4");
    // The simulator's shards of the breast-cancer data, one per site.
    write_shards(&dir, SITES);
    let mut servers = Children((0..3).map(|id| Some(serve(&config, &dir, id))).collect());

    let shard = |k: usize| dir.join(format!("site-{k}.csv"));
    let model = |k: usize| dir.join(format!("model-{k}.txt"));
    let identity = |k: usize| dir.join(format!("client-s{k}"));
    let mut sites = Vec::new();
    for k in 0..SITES {
        let fault: &[&str] = match k {
            3 => &["--fault", "wrong-shape"],
            4 => &["--fault", "disconnect"],
            _ => &[],
        };
        sites.push(site(&config, &identity(k), &shard(k), &model(k), fault));
    }
    let outs: Vec<Output> = sites
        .into_iter()
        .map(|c| net_common::finish_within(c, WAIT))
        .collect();
    for (k, o) in outs.iter().enumerate().take(3) {
        let s = text(&o.stdout);
        assert!(o.status.success(), "site {k}: {s}\n{}", text(&o.stderr));
        assert!(s.contains(&format!("site s{k} round 1: update accepted | 3 sites in, 1 dropped, 1 refused | global model updated")), "{s}");
    }
    // The wrong-shape site is told why, by name; it still gets the model.
    let s3 = text(&outs[3].stdout);
    assert!(outs[3].status.success(), "{s3}\n{}", text(&outs[3].stderr));
    assert!(s3.contains("update NOT accepted"), "{s3}");
    assert!(s3.contains("site s3's update refused"), "{s3}");
    assert!(s3.contains("values"), "{s3}");
    // The site that died mid-upload failed; the others did not wait on it.
    assert!(!outs[4].status.success());

    // Every site that finished holds the same model: the plaintext FedAvg
    // of the three accepted updates, within the fixed-point bound.
    let got = read_model(&model(0));
    for k in [1, 2, 3] {
        assert_eq!(read_model(&model(k)), got, "site {k}");
    }
    let spec = ModelSpec::logistic(30);
    let init = spec.init(1);
    let local = LocalTraining {
        steps: 5,
        lr: 4.0,
        weight_decay: 0.002,
    };
    let mut sum = vec![0.0; init.len()];
    let mut total = 0.0;
    for k in 0..3 {
        let d = load_csv(shard(k), "target").unwrap();
        let new = spec
            .train_local(&init, d.features(), d.targets(), local)
            .unwrap();
        let n = d.n_samples() as f64;
        for ((s, a), b) in sum.iter_mut().zip(&new).zip(&init) {
            *s += n * (a - b);
        }
        total += n;
    }
    let bound = 3.0 * 2f64.powi(-17) / total + 1e-12;
    let mut dev = 0.0f64;
    for ((g, s), i) in got.iter().zip(&sum).zip(&init) {
        dev = dev.max((g - (i + s / total)).abs());
    }
    assert!(dev <= bound, "deviation {dev} > bound {bound}");
    assert!(
        sum.iter().any(|s| s.abs() > 1e-3),
        "the updates are not trivial"
    );

    // A site whose certificate comes from another CA is refused.
    let other = net_common::TempDir::new("fed-sites-other-ca");
    keygen(&other, "s0");
    let o = net_common::finish_within(
        site(
            &config,
            &other.join("client-s0"),
            &shard(0),
            &other.join("m.txt"),
            &[],
        ),
        WAIT,
    );
    assert!(!o.status.success());
    let e = text(&o.stderr);
    assert!(e.contains("refused this site"), "{e}");

    // The coordinating side's progress line, and the servers still up.
    let mut logs = Vec::new();
    for c in servers.0.iter_mut() {
        let mut c = c.take().unwrap();
        assert!(c.try_wait().unwrap().is_none(), "a server stopped");
        let _ = c.kill();
        logs.push(text(&c.wait_with_output().unwrap().stderr));
    }
    for (p, log) in logs.iter().enumerate() {
        assert!(
            log.contains("round 1/1: 3 sites in (s0, s1, s2), 1 dropped (s4), 1 refused"),
            "party {p}: {log}"
        );
        assert!(log.contains("refused a client"), "party {p}: {log}");
    }
}
