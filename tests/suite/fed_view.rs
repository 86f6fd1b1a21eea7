//! Issue 17's view test on the deployed aggregation servers: what each
//! `privml serve` receives from a federated site does not depend on the
//! site's update. A site runs in the test (`run_site`, the code of
//! `privml client federated`) over connections that record the plaintext
//! requests they send (what each server decodes inside TLS); two jobs with
//! very different updates (all-zero rows against varied ones) give each
//! server share bytes that pass the view statistics of `privacy.rs`
//! (`tests/view_stats`), and a negative control, the plain update added
//! to those bytes, is told apart. The rest of what a server receives is
//! the requests' public fields: the job's settings, the round, the update
//! header (site id, round, weight, length).
#![cfg(all(feature = "tls", feature = "cli"))]

use crate::fed_common::{Children, default_local, keygen, serve};
use crate::net_common;
use crate::view_stats::{encoded_bytes, same_and_uniform};

use std::time::{Duration, Instant};

use ndarray::{Array1, Array2};
use privml::error::Origin;
use privml::fl::{FedSettings, HEADER_LEN, ShareParams};
use privml::net::config::PartiesConfig;
use privml::net::tls::Credentials;
use privml::service::federated::{SiteOptions, run_site};
use privml::service::{self, Connection, Request};

const ROWS: usize = 200;
const HIDDEN: u32 = 64;

fn settings(job: &str) -> FedSettings {
    FedSettings {
        job: job.into(),
        features: 30,
        hidden: Some(HIDDEN),
        sites: 1,
        min_clients: 1,
        rounds: 1,
        deadline_ms: 20_000,
        frac_bits: 16,
        max_clients: ShareParams::DEFAULT_MAX_CLIENTS,
        seed: 1,
    }
}

/// The share bytes (the wire messages' bodies, past the public header) of
/// every update in the recorded requests.
fn share_bytes(recorded: &[u8]) -> Vec<u8> {
    let mut r = recorded;
    let who = Origin::Client("s0".into());
    let mut out = Vec::new();
    while let Some(req) = service::receive::<Request, _>(&mut r, u64::MAX, &who).unwrap() {
        if let Request::FedSubmit { message, .. } = req {
            out.extend_from_slice(&message[HEADER_LEN..]);
        }
    }
    out
}

#[test]
fn what_each_aggregation_server_receives_from_a_site_is_independent_of_its_update() {
    let dir = net_common::TempDir::new("fed-view");
    let config_path = keygen(&dir, "s0");
    let config = PartiesConfig::load(&config_path).unwrap();
    let _servers = Children(
        (0..3)
            .map(|id| Some(serve(&config_path, &dir, id)))
            .collect(),
    );
    let creds = Credentials::load(
        &config.ca,
        &dir.join("client-s0.pem"),
        &dir.join("client-s0.key"),
    )
    .unwrap();
    let timeout = Duration::from_secs(30);
    let connect = || -> privml::Result<[Connection; 3]> {
        let t0 = Instant::now();
        loop {
            match service::connect_all(&config, &creds, timeout) {
                Ok(c) => return Ok(c),
                Err(e) if t0.elapsed() < timeout => {
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => return Err(e),
            }
        }
    };
    let zeros = (Array2::zeros((ROWS, 30)), Array1::zeros(ROWS));
    let varied = (
        Array2::from_shape_fn((ROWS, 30), |(i, j)| ((i * 13 + j * 7) % 101) as f64 / 100.0),
        Array1::from_shape_fn(ROWS, |i| (i % 3 == 0) as u8 as f64),
    );
    // One job per run; returns each server's share bytes and the update.
    let view = |job: &str, (x, y): &(Array2<f64>, Array1<f64>)| {
        let s = settings(job);
        let mut conns = connect().unwrap();
        for c in conns.iter_mut() {
            c.record_sent();
        }
        let report = run_site(
            &mut conns,
            || panic!("no round fails here"),
            &config,
            "s0",
            &s,
            x,
            y,
            default_local(),
            SiteOptions {
                retries: 0,
                ..SiteOptions::default()
            },
            |_| {},
        )
        .unwrap();
        let model = s.model();
        let init = model.init(s.seed);
        let update: Vec<f64> = report
            .global
            .iter()
            .zip(&init)
            .map(|(g, i)| g - i)
            .collect();
        let views: Vec<Vec<u8>> = conns
            .iter_mut()
            .map(|c| share_bytes(&c.take_sent()))
            .collect();
        (views, update)
    };
    let (a, ua) = view("zeros", &zeros);
    let (b, ub) = view("varied", &varied);
    // The updates differ, widely.
    let apart = ua
        .iter()
        .zip(&ub)
        .map(|(p, q)| (p - q).abs())
        .fold(0.0, f64::max);
    assert!(apart > 0.1, "updates too alike ({apart})");
    let params = (30 * HIDDEN + 2 * HIDDEN + 1) as usize;
    for p in 0..3 {
        let (va, vb) = (&a[p], &b[p]);
        assert_eq!(
            va.len(),
            vb.len(),
            "server {p}: the update's size is public"
        );
        // Two shares per server; one may be a 16-byte seed.
        assert!(
            va.len() >= 8 * params + 16,
            "server {p}: {} bytes",
            va.len()
        );
        if let Err(e) = same_and_uniform(va, vb) {
            panic!("server {p}: {e}");
        }
    }
    // Negative control: a site that also sent its update in the clear
    // (here, the encoded update added to what server 1 received) is told
    // apart by the same statistics.
    let ea = encoded_bytes(&ndarray::Array1::from(ua).into_dyn());
    let eb = encoded_bytes(&ndarray::Array1::from(ub).into_dyn());
    let (mut la, mut lb) = (a[1].clone(), b[1].clone());
    la.extend(ea);
    lb.extend(eb);
    assert!(
        same_and_uniform(&la, &lb).is_err(),
        "the negative control passed"
    );
}
