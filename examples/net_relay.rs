//! A delaying TCP relay: puts an emulated network link in front of a
//! listening port, so that programs whose transport privml cannot wrap
//! (MP-SPDZ's parties, or `privml party` processes) run over the same
//! emulated LAN or WAN as `privml bench --net`.
//!
//! ```text
//! cargo run --release --example net_relay -- --net wan 16000=127.0.0.1:15000 16001=127.0.0.1:15001
//! ```
//!
//! Each `LISTEN_PORT=TARGET` pair accepts connections on
//! `127.0.0.1:LISTEN_PORT` and forwards them to `TARGET`. Both directions of
//! every connection are delayed with the model of
//! [`privml::net::emulate`]: a chunk read at time *t* leaves the relay at
//! `max(t, link free) + bytes · 8 / bandwidth + one-way delay`, the link
//! being free again when its serialisation ends. A party connecting through
//! the relay therefore sees the profile's round-trip time per exchange and
//! its bandwidth in each direction. TLS passes through untouched (the relay
//! sees only ciphertext).
//!
//! The relay's own cost (two extra loopback hops and a thread hand-off per
//! chunk) is measured by running it with `--net rtt=0` (printed as "relay
//! only" in the benchmark scripts).

use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use privml::net::emulate::{LinkProfile, wait_until};

/// The largest chunk moved at once: bigger reads would be delayed as one
/// unit, smaller ones cost more hand-offs.
const CHUNK: usize = 64 * 1024;

/// What went wrong, for the one line the relay prints before it exits.
#[derive(Debug)]
enum RelayError {
    Usage(String),
    Io(String, std::io::Error),
}

impl std::fmt::Display for RelayError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RelayError::Usage(s) => write!(
                f,
                "{s}\nusage: net_relay --net PROFILE LISTEN_PORT=HOST:PORT [...]"
            ),
            RelayError::Io(what, e) => write!(f, "{what}: {e}"),
        }
    }
}

/// Chunks in flight with the time each may leave the relay
/// (non-decreasing, so a FIFO suffices), and whether the reader hit the end.
type Queue = (VecDeque<(Instant, Vec<u8>)>, bool);

/// One direction of one connection.
#[derive(Default)]
struct Pipe {
    queue: Mutex<Queue>,
    ready: Condvar,
}

/// Reads from `from`, stamps each chunk with its emulated departure, queues it.
fn read_side(mut from: TcpStream, pipe: Arc<Pipe>, profile: LinkProfile) {
    let mut link_free = Instant::now();
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => 0,
            Ok(n) => n,
        };
        let mut guard = match pipe.queue.lock() {
            Ok(g) => g,
            Err(_) => return,
        };
        if n == 0 {
            guard.1 = true;
            pipe.ready.notify_one();
            return;
        }
        let sent = Instant::now().max(link_free) + profile.serialisation(n as u64);
        link_free = sent;
        guard
            .0
            .push_back((sent + profile.one_way_delay, buf[..n].to_vec()));
        pipe.ready.notify_one();
    }
}

/// Waits for each queued chunk's departure time and writes it to `to`.
fn write_side(mut to: TcpStream, pipe: Arc<Pipe>) {
    loop {
        let next = {
            let Ok(mut guard) = pipe.queue.lock() else {
                return;
            };
            loop {
                if let Some(item) = guard.0.pop_front() {
                    break Some(item);
                }
                if guard.1 {
                    break None;
                }
                guard = match pipe.ready.wait(guard) {
                    Ok(g) => g,
                    Err(_) => return,
                };
            }
        };
        let Some((due, bytes)) = next else {
            let _ = to.shutdown(Shutdown::Write);
            return;
        };
        wait_until(due);
        if to.write_all(&bytes).is_err() {
            return;
        }
    }
}

/// How long the relay keeps trying to reach a target that is not listening
/// yet: the programs behind it start in any order and retry a refused
/// connection, but the relay has already accepted theirs.
const CONNECT_PATIENCE: Duration = Duration::from_secs(60);

/// Connects to `target`, retrying while it refuses (not started yet).
fn connect_patiently(target: SocketAddr) -> std::io::Result<TcpStream> {
    let give_up = Instant::now() + CONNECT_PATIENCE;
    loop {
        match TcpStream::connect(target) {
            Ok(s) => return Ok(s),
            Err(e) if e.kind() == ErrorKind::ConnectionRefused && Instant::now() < give_up => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => return Err(e),
        }
    }
}

/// Relays one accepted connection to `target`, both directions delayed.
fn relay(client: TcpStream, target: SocketAddr, profile: &LinkProfile) -> std::io::Result<()> {
    let server = connect_patiently(target)?;
    for s in [&client, &server] {
        s.set_nodelay(true)?;
    }
    for (from, to) in [(client.try_clone()?, server.try_clone()?), (server, client)] {
        let pipe = Arc::new(Pipe::default());
        let (p, profile) = (pipe.clone(), profile.clone());
        std::thread::spawn(move || read_side(from, p, profile));
        std::thread::spawn(move || write_side(to, pipe));
    }
    Ok(())
}

fn parse_args() -> Result<(LinkProfile, Vec<(u16, SocketAddr)>), RelayError> {
    let mut args = std::env::args().skip(1);
    let mut profile = None;
    let mut links = Vec::new();
    while let Some(a) = args.next() {
        if a == "--net" {
            let p = args
                .next()
                .ok_or_else(|| RelayError::Usage("--net needs a profile".into()))?;
            profile = Some(
                p.parse::<LinkProfile>()
                    .map_err(|e| RelayError::Usage(e.to_string()))?,
            );
        } else if let Some((port, target)) = a.split_once('=') {
            let port = port
                .parse::<u16>()
                .map_err(|_| RelayError::Usage(format!("bad listening port in {a:?}")))?;
            let target = target
                .parse::<SocketAddr>()
                .map_err(|_| RelayError::Usage(format!("bad target address in {a:?}")))?;
            links.push((port, target));
        } else {
            return Err(RelayError::Usage(format!("unexpected argument {a:?}")));
        }
    }
    let profile = profile.ok_or_else(|| RelayError::Usage("--net is required".into()))?;
    if links.is_empty() {
        return Err(RelayError::Usage("no LISTEN_PORT=HOST:PORT given".into()));
    }
    Ok((profile, links))
}

fn main() {
    if let Err(e) = run() {
        eprintln!("net_relay: {e}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), RelayError> {
    let (profile, links) = parse_args()?;
    let mut acceptors = Vec::new();
    for (port, target) in links {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .map_err(|e| RelayError::Io(format!("listening on port {port}"), e))?;
        let profile = profile.clone();
        acceptors.push(std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let profile = profile.clone();
                // connecting may wait for the target: not in the acceptor
                std::thread::spawn(move || {
                    if let Err(e) = relay(client, target, &profile) {
                        eprintln!("net_relay: connecting to {target}: {e}");
                    }
                });
            }
        }));
    }
    eprintln!(
        "net_relay: {} (one-way {:?}) on {} port(s)",
        profile,
        profile.one_way_delay,
        acceptors.len()
    );
    // The acceptors run until the process is killed.
    for a in acceptors {
        let _ = a.join();
    }
    Ok(())
}
