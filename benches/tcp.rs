//! The cost of real links: the same secure operations over in-memory
//! channels and over TCP loopback with mutual TLS.
//!
//! `cargo bench --bench tcp` runs criterion on four cases (fixed-point
//! elementwise product of 10^6 values, 256x256 matrix product; memory and
//! TLS) and on the cost of one round (a bare ping-pong over plain TCP and
//! over the TLS channel; a one-element reveal of the three parties over
//! memory and TLS), then prints two tables: median of 7 timed runs per case,
//! the TLS / memory ratio, and party 0's bytes per operation (payload,
//! headers, TLS records) against the cost model; and the round-trip times.
//! `PRIVML_BENCH_TABLE_ONLY=1` skips criterion and prints the tables only.
//!
//! Three parties run as threads of this process (party 0 in the timing
//! thread), so the figures include the parties' computation and the
//! scheduler of this machine: on fewer than three cores they compete.

use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group};
use ndarray::ArrayD;
use privml::mpc::Replicated;
use privml::net::config::PartiesConfig;
use privml::net::tcp::{self, ConnectOptions, LinkHandle};
use privml::net::{Channel, Frame, memory};
use privml::ring::Payload;
use privml::{CostModel, Ring, Shared, SharedConfig};

const N_MUL: usize = 1_000_000;
const N_MAT: usize = 256;

#[derive(Clone, Copy, Debug)]
enum Op {
    Mul,
    Matmul,
    /// One round: a one-element reveal.
    Round,
}

impl Op {
    fn outputs(self) -> usize {
        match self {
            Op::Mul => N_MUL,
            Op::Matmul => N_MAT * N_MAT,
            Op::Round => 1,
        }
    }
    fn name(self) -> &'static str {
        match self {
            Op::Mul => "mul 10^6",
            Op::Matmul => "matmul 256x256",
            Op::Round => "one round",
        }
    }
}

/// One party's shared operands.
struct Data {
    x: Replicated<u64>,
    y: Replicated<u64>,
    a: Replicated<u64>,
    b: Replicated<u64>,
    one: Replicated<u64>,
}

fn setup(r: &mut Shared<u64>) -> Data {
    let v = ArrayD::from_shape_fn(vec![N_MUL], |i| (i[0] % 101) as f64 / 50.0 - 1.0);
    let m = ArrayD::from_shape_fn(vec![N_MAT, N_MAT], |i| ((i[0] + 3 * i[1]) % 7) as f64 / 7.0);
    let x = r.input(0, r.owns(0).then_some(&v), &[N_MUL]).unwrap();
    let y = r.input(1, r.owns(1).then_some(&v), &[N_MUL]).unwrap();
    let a = r
        .input(0, r.owns(0).then_some(&m), &[N_MAT, N_MAT])
        .unwrap();
    let b = r
        .input(1, r.owns(1).then_some(&m), &[N_MAT, N_MAT])
        .unwrap();
    let one = r
        .input(
            2,
            r.owns(2)
                .then_some(&v.slice_move(ndarray::s![..1]).into_dyn()),
            &[1],
        )
        .unwrap();
    Data { x, y, a, b, one }
}

fn run(r: &mut Shared<u64>, d: &Data, op: Op) {
    let z = match op {
        Op::Mul => r.mul(&d.x, &d.y),
        Op::Matmul => r.matmul(&d.a, &d.b),
        Op::Round => {
            std::hint::black_box(r.reveal(&d.one).unwrap());
            return;
        }
    };
    std::hint::black_box(z.unwrap());
}

/// Three parties: 0 here, 1 and 2 on helper threads running what they are told.
struct Trio {
    r0: Shared<u64>,
    d0: Data,
    links0: Option<[LinkHandle; 2]>,
    tx: Vec<Sender<Option<(Op, u64)>>>,
    joins: Vec<JoinHandle<()>>,
}

type Links = (Box<dyn Channel>, Box<dyn Channel>);

impl Trio {
    fn start(make: impl Fn(usize) -> Links + Sync + Send + Clone + 'static) -> Self {
        let cfg = SharedConfig::default().timeout(Duration::from_secs(120));
        let mut tx = Vec::new();
        let mut joins = Vec::new();
        for me in 1..3 {
            let (t, rx): (_, Receiver<Option<(Op, u64)>>) = mpsc::channel();
            tx.push(t);
            let make = make.clone();
            let cfg = cfg.clone();
            joins.push(std::thread::spawn(move || {
                let (next, prev) = make(me);
                let mut r = Shared::<u64>::new(me, next, prev, &cfg).unwrap();
                let d = setup(&mut r);
                while let Ok(Some((op, iters))) = rx.recv() {
                    for _ in 0..iters {
                        run(&mut r, &d, op);
                    }
                }
            }));
        }
        let (next, prev) = make(0);
        let mut r0 = Shared::<u64>::new(0, next, prev, &cfg).unwrap();
        let d0 = setup(&mut r0);
        Trio {
            r0,
            d0,
            links0: None,
            tx,
            joins,
        }
    }

    fn memory() -> Self {
        let links = std::sync::Arc::new(std::sync::Mutex::new(
            memory::triangle().map(|(n, p)| Some((n, p))),
        ));
        Trio::start(move |me| {
            let (n, p) = links.lock().unwrap()[me].take().unwrap();
            (
                Box::new(n) as Box<dyn Channel>,
                Box::new(p) as Box<dyn Channel>,
            )
        })
    }

    fn tls(parties: PartiesConfig) -> Self {
        let opts = ConnectOptions::from_config(&parties);
        let (h_tx, h_rx) = mpsc::channel();
        let mut t = Trio::start(move |me| {
            let links = tcp::connect(&parties, me, &opts).unwrap();
            if me == 0 {
                h_tx.send(links.handles()).unwrap();
            }
            links.into_boxed()
        });
        t.links0 = Some(h_rx.recv().unwrap());
        t
    }

    /// Runs `op` `iters` times on all three parties; party 0's wall time.
    fn time(&mut self, op: Op, iters: u64) -> Duration {
        for t in &self.tx {
            t.send(Some((op, iters))).unwrap();
        }
        let t0 = Instant::now();
        for _ in 0..iters {
            run(&mut self.r0, &self.d0, op);
        }
        t0.elapsed()
    }

    /// Party 0's (payload, header, TLS) bytes for one `op`.
    fn bytes(&mut self, op: Op) -> (u64, u64, Option<u64>) {
        let tls = |t: &Trio| {
            t.links0
                .as_ref()
                .map(|h| h.iter().map(|l| l.stats().tls_bytes_sent).sum::<u64>())
        };
        let (p0, h0, t0) = (
            self.r0.net_stats().bytes_sent,
            self.r0.party_mut().net().overhead_bytes(),
            tls(self),
        );
        self.time(op, 1);
        let (p1, h1, t1) = (
            self.r0.net_stats().bytes_sent,
            self.r0.party_mut().net().overhead_bytes(),
            tls(self),
        );
        (p1 - p0, h1 - h0, t0.zip(t1).map(|(a, b)| b - a))
    }
}

impl Drop for Trio {
    fn drop(&mut self) {
        for t in &self.tx {
            let _ = t.send(None);
        }
        for j in self.joins.drain(..) {
            let _ = j.join();
        }
    }
}

fn deployment() -> PartiesConfig {
    let dir = std::env::temp_dir().join(format!("privml-bench-tcp-{}", std::process::id()));
    let port = (0..200)
        .map(|k| 31_000 + 3 * k)
        .find(|&p| (0..3).all(|i| std::net::TcpListener::bind(("127.0.0.1", p + i)).is_ok()))
        .expect("three free ports");
    let hosts = [
        "127.0.0.1".to_string(),
        "127.0.0.1".into(),
        "127.0.0.1".into(),
    ];
    let d = privml::net::tls::keygen(&dir, &hosts, port, true).unwrap();
    PartiesConfig::load(&d.config).unwrap()
}

/// Two endpoints of a plain TCP connection on loopback (no TLS, Nagle off).
fn tcp_pair() -> (std::net::TcpStream, std::net::TcpStream) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let a = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (b, _) = l.accept().unwrap();
    a.set_nodelay(true).unwrap();
    b.set_nodelay(true).unwrap();
    (a, b)
}

/// `iters` round trips of a 32-byte message (a frame's size with one
/// element) over plain TCP, echoed by a helper thread.
fn tcp_ping_pong(iters: u64) -> Duration {
    use std::io::{Read, Write};
    let (mut a, mut b) = tcp_pair();
    let echo = std::thread::spawn(move || {
        let mut buf = [0u8; 32];
        for _ in 0..iters {
            b.read_exact(&mut buf).unwrap();
            b.write_all(&buf).unwrap();
        }
    });
    let mut buf = [0u8; 32];
    let t0 = Instant::now();
    for _ in 0..iters {
        a.write_all(&buf).unwrap();
        a.read_exact(&mut buf).unwrap();
    }
    let t = t0.elapsed();
    echo.join().unwrap();
    t
}

/// Party 0's link to party 1 and party 1's link to party 0 over TLS (party
/// 2's links are connected and dropped).
fn tls_pair() -> (Box<dyn Channel>, Box<dyn Channel>) {
    let parties = deployment();
    let opts = ConnectOptions::from_config(&parties);
    let mut links: Vec<_> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..3)
            .map(|me| {
                let (parties, opts) = (&parties, &opts);
                s.spawn(move || tcp::connect(parties, me, opts).unwrap())
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    links.truncate(2);
    let p1 = links.pop().unwrap();
    let p0 = links.pop().unwrap();
    (Box::new(p0.next), Box::new(p1.prev))
}

/// `iters` round trips of a one-element frame over the TLS channel.
fn tls_ping_pong(a: &mut Box<dyn Channel>, tx: &Sender<u64>, iters: u64) -> Duration {
    tx.send(iters).unwrap();
    let t0 = Instant::now();
    for round in 0..iters {
        a.send(Frame {
            round,
            payload: Payload::U64(vec![round]),
        })
        .unwrap();
        a.recv(Duration::from_secs(60)).unwrap();
    }
    t0.elapsed()
}

/// The echoing end of [`tls_ping_pong`], on its own thread.
fn tls_echo(mut b: Box<dyn Channel>) -> (Sender<u64>, JoinHandle<()>) {
    let (tx, rx) = mpsc::channel::<u64>();
    let h = std::thread::spawn(move || {
        while let Ok(iters) = rx.recv() {
            for _ in 0..iters {
                let f = b.recv(Duration::from_secs(60)).unwrap();
                b.send(f).unwrap();
            }
        }
    });
    (tx, h)
}

fn bench(c: &mut Criterion) {
    {
        let mut g = c.benchmark_group("round trip");
        g.sample_size(20);
        g.warm_up_time(Duration::from_secs(1));
        g.measurement_time(Duration::from_secs(3));
        g.bench_function("tcp ping-pong", |b| b.iter_custom(tcp_ping_pong));
        {
            let (mut a, peer) = tls_pair();
            let (tx, h) = tls_echo(peer);
            g.bench_function("tls ping-pong", |b| {
                b.iter_custom(|iters| tls_ping_pong(&mut a, &tx, iters))
            });
            drop(tx);
            h.join().unwrap();
        }
        {
            let mut t = Trio::memory();
            g.bench_function("memory round", |b| {
                b.iter_custom(|iters| t.time(Op::Round, iters))
            });
        }
        {
            let mut t = Trio::tls(deployment());
            g.bench_function("tls round", |b| {
                b.iter_custom(|iters| t.time(Op::Round, iters))
            });
        }
        g.finish();
    }
    for op in [Op::Mul, Op::Matmul] {
        let mut g = c.benchmark_group(op.name());
        g.sample_size(10);
        g.warm_up_time(Duration::from_secs(1));
        g.measurement_time(Duration::from_secs(3));
        {
            let mut t = Trio::memory();
            g.bench_function("memory", |b| b.iter_custom(|iters| t.time(op, iters)));
        }
        {
            let mut t = Trio::tls(deployment());
            g.bench_function("tls", |b| b.iter_custom(|iters| t.time(op, iters)));
        }
        g.finish();
    }
}

criterion_group!(benches, bench);

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn table() {
    const RUNS: usize = 7;
    println!("\nmedian of {RUNS} runs, party 0's wall time; bytes are party 0's per operation");
    println!(
        "{:<16} {:>11} {:>11} {:>6}  {:>12} {:>9} {:>12} {:>12}",
        "operation", "memory", "TLS", "ratio", "payload B", "header B", "TLS B", "model B"
    );
    let mut mem = Trio::memory();
    let mut tls = Trio::tls(deployment());
    for op in [Op::Mul, Op::Matmul] {
        // Warm up both (page faults, TCP windows).
        mem.time(op, 2);
        tls.time(op, 2);
        let tm = median((0..RUNS).map(|_| mem.time(op, 1)).collect());
        let tt = median((0..RUNS).map(|_| tls.time(op, 1)).collect());
        let (payload, header, wire) = tls.bytes(op);
        let (mem_payload, _, _) = mem.bytes(op);
        assert_eq!(payload, mem_payload);
        let model = CostModel::new(8).mul_trunc(op.outputs()).bytes[0];
        println!(
            "{:<16} {:>8.2} ms {:>8.2} ms {:>6.2}  {:>12} {:>9} {:>12} {:>12}",
            op.name(),
            tm.as_secs_f64() * 1e3,
            tt.as_secs_f64() * 1e3,
            tt.as_secs_f64() / tm.as_secs_f64(),
            payload,
            header,
            wire.unwrap_or(0),
            model
        );
    }
}

/// Round-trip times: plain TCP and TLS ping-pong, one protocol round over
/// memory and TLS (median of 7 batches of `ROUNDS`).
fn round_table() {
    const RUNS: usize = 7;
    const ROUNDS: u64 = 2000;
    let per = |d: Duration| d.as_secs_f64() / ROUNDS as f64 * 1e6;
    let tcp = median((0..RUNS).map(|_| tcp_ping_pong(ROUNDS)).collect());
    let (mut a, peer) = tls_pair();
    let (tx, h) = tls_echo(peer);
    let tls = median(
        (0..RUNS)
            .map(|_| tls_ping_pong(&mut a, &tx, ROUNDS))
            .collect(),
    );
    drop(tx);
    h.join().unwrap();
    let mut mem = Trio::memory();
    let mut trio = Trio::tls(deployment());
    mem.time(Op::Round, 100);
    trio.time(Op::Round, 100);
    let mem_round = median((0..RUNS).map(|_| mem.time(Op::Round, ROUNDS)).collect());
    let tls_round = median((0..RUNS).map(|_| trio.time(Op::Round, ROUNDS)).collect());
    println!("\nround trips, median of {RUNS} batches of {ROUNDS}, µs each");
    println!(
        "{:<40} {:>10}",
        "plain TCP ping-pong (32 bytes)",
        format!("{:.1}", per(tcp))
    );
    println!(
        "{:<40} {:>10}   ({:.2}x plain TCP)",
        "TLS channel ping-pong (one element)",
        format!("{:.1}", per(tls)),
        per(tls) / per(tcp)
    );
    println!(
        "{:<40} {:>10}",
        "one round of 3 parties, memory",
        format!("{:.1}", per(mem_round))
    );
    println!(
        "{:<40} {:>10}   ({:.2}x plain TCP ping-pong)",
        "one round of 3 parties, TLS",
        format!("{:.1}", per(tls_round)),
        per(tls_round) / per(tcp)
    );
}

fn main() {
    let test_mode = std::env::args().any(|a| a == "--test");
    if std::env::var_os("PRIVML_BENCH_TABLE_ONLY").is_none() {
        benches();
        Criterion::default().configure_from_args().final_summary();
    }
    if !test_mode {
        round_table();
        table();
    }
}
