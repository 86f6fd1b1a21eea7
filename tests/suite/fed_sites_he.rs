//! Issue 17, item 3: HE aggregation deployed. One `privml serve` party is
//! the keyless aggregator, the model owner (`privml client fed-owner`)
//! holds the BFV secret key, and four `privml client federated --scheme
//! he` sites, all on loopback: one site sends a wrong-shape ciphertext and
//! is refused by name; the round completes with the other three and the
//! global model (decrypted and posted by the owner, stored by the
//! aggregator, given to the sites) equals the plaintext FedAvg of their
//! updates within the HE encoding's bound. The aggregator's files and log
//! hold no secret key (with a positive control: they do hold the public
//! key), and a site cannot collect the encrypted sum.
#![cfg(all(feature = "tls", feature = "cli", feature = "he"))]

use crate::fed_common::{
    BIN, Children, keygen, max_dev, plain_fedavg, read_model, serve, text, write_shards,
};
use crate::net_common;

use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::Duration;

use privml::he::{HeParams, KeyPair};
use privml::net::config::PartiesConfig;
use privml::net::tls::Credentials;
use privml::service::federated_he::HeRequest;
use privml::service::{Connection, Request};

const WAIT: Duration = Duration::from_secs(60);
const SITES: usize = 4;

fn client(config: &Path, identity: &Path, action: &[&str]) -> Child {
    let mut args = vec![
        "client".to_string(),
        "--config".into(),
        config.display().to_string(),
        "--identity".into(),
        identity.display().to_string(),
        "--timeout".into(),
        "40".into(),
    ];
    args.extend(action.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    net_common::spawn(BIN, &args)
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn he_sites_owner_and_one_keyless_aggregator_complete_a_round() {
    let dir = net_common::TempDir::new("fed-sites-he");
    let config = keygen(&dir, "owner,s0,s1,s2,s3");
    write_shards(&dir, SITES);
    let mut server = Children(vec![Some(serve(&config, &dir, 0))]);

    let key = dir.join("owner.hekey");
    let owner_out = dir.join("model-owner.txt");
    let owner = client(
        &config,
        &dir.join("client-owner"),
        &[
            "fed-owner",
            "--key",
            key.to_str().unwrap(),
            "--features",
            "30",
            "--sites",
            &SITES.to_string(),
            "--rounds",
            "1",
            "--min-clients",
            "2",
            "--deadline",
            "20",
            "--out",
            owner_out.to_str().unwrap(),
        ],
    );
    let shard = |k: usize| dir.join(format!("site-{k}.csv"));
    let model = |k: usize| dir.join(format!("model-{k}.txt"));
    let mut sites = Vec::new();
    for k in 0..SITES {
        let (d, m) = (shard(k), model(k));
        let mut action = vec![
            "federated",
            "--scheme",
            "he",
            "--data",
            d.to_str().unwrap(),
            "--out",
            m.to_str().unwrap(),
        ];
        if k == 3 {
            action.extend(["--fault", "wrong-shape"]);
        }
        sites.push(client(&config, &dir.join(format!("client-s{k}")), &action));
    }
    let outs: Vec<_> = sites
        .into_iter()
        .map(|c| net_common::finish_within(c, WAIT))
        .collect();
    let o = net_common::finish_within(owner, WAIT);
    let owner_text = text(&o.stdout);
    assert!(o.status.success(), "{owner_text}\n{}", text(&o.stderr));
    assert!(
        owner_text.contains("owner round 1: 3 sites in, 0 dropped, 1 refused | decrypted the sum"),
        "{owner_text}"
    );
    for (k, o) in outs.iter().enumerate().take(3) {
        let s = text(&o.stdout);
        assert!(o.status.success(), "site {k}: {s}\n{}", text(&o.stderr));
        assert!(
            s.contains(&format!(
                "site s{k} round 1/1: update accepted | 3 sites in, 0 dropped, 1 refused | global model updated"
            )),
            "{s}"
        );
    }
    // The wrong-shape site is told why, by name; it still gets the model.
    let s3 = text(&outs[3].stdout);
    assert!(outs[3].status.success(), "{s3}\n{}", text(&outs[3].stderr));
    assert!(s3.contains("update NOT accepted"), "{s3}");
    assert!(s3.contains("site s3's update refused"), "{s3}");

    // Every site and the owner hold the same model: the plaintext FedAvg of
    // the three accepted updates, within the HE encoding's bound.
    let got = read_model(&owner_out);
    for k in 0..SITES {
        assert_eq!(read_model(&model(k)), got, "site {k}");
    }
    let shards: Vec<PathBuf> = (0..3).map(shard).collect();
    let (plain, total) = plain_fedavg(&shards, 1);
    let bound = HeParams::default().sum_tolerance(3) / total + 1e-12;
    let dev = max_dev(&got, &plain[1]);
    assert!(dev <= bound, "deviation {dev} > bound {bound}");
    assert!(
        max_dev(&plain[1], &plain[0]) > 1e-3,
        "the updates are not trivial"
    );

    // The owner's key file is private; the secret key is in it and nowhere
    // at the aggregator (its store and its log), which does hold the
    // public key (the search's positive control).
    let key_bytes = std::fs::read(&key).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "owner key file mode {mode:o}");
    }
    let (pk, _sk) = KeyPair::from_owner_bytes(&key_bytes).unwrap();
    let public = pk.to_bytes();
    let public_len = u32::from_le_bytes(key_bytes[8..12].try_into().unwrap()) as usize;
    assert_eq!(&key_bytes[12..12 + public_len], &public[..]);
    let secret = &key_bytes[12 + public_len..];
    assert!(secret.len() > 1000, "{} secret key bytes", secret.len());
    // Windows of the secret key's encoding and of the public key's body.
    let secret_probes: Vec<&[u8]> = secret.chunks(64).filter(|c| c.len() == 64).collect();
    let public_probe = &public[public.len() / 2..public.len() / 2 + 64];

    // A site cannot collect the encrypted sum: only the owner may.
    let parties = PartiesConfig::load(&config).unwrap();
    let creds = Credentials::load(
        &parties.ca,
        &dir.join("client-s0.pem"),
        &dir.join("client-s0.key"),
    )
    .unwrap();
    let mut conn = Connection::open(&parties, &creds, 0, Duration::from_secs(10)).unwrap();
    let e = conn
        .call(&Request::FedHe(HeRequest::Collect {
            job: "fed".into(),
            round: 2,
        }))
        .unwrap_err();
    assert!(e.to_string().contains("only job 'fed''s owner"), "{e}");
    drop(conn);

    let mut c = server.0[0].take().unwrap();
    assert!(c.try_wait().unwrap().is_none(), "the aggregator stopped");
    let _ = c.kill();
    let log = c.wait_with_output().unwrap().stderr;
    let log_text = text(&log);
    assert!(
        log_text.contains("round 1/1: 3 sites in (s0, s1, s2), 0 dropped (), 1 refused (s3:"),
        "{log_text}"
    );
    assert!(
        log_text.contains("this party holds no secret key"),
        "{log_text}"
    );
    let store = dir.join("store0");
    let files = files_under(&store);
    let state = store.join("federated-he").join("fed.state");
    assert!(files.contains(&state), "{files:?}");
    let mut public_seen = false;
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        for probe in &secret_probes {
            assert!(
                !contains(&bytes, probe),
                "{} holds secret key bytes",
                f.display()
            );
        }
        public_seen |= contains(&bytes, public_probe);
    }
    assert!(public_seen, "the public key is in the aggregator's store");
    for probe in &secret_probes {
        assert!(
            !contains(&log, probe),
            "the aggregator's log holds secret key bytes"
        );
    }
}
