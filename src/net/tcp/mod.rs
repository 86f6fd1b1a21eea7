//! TCP with mutual TLS: three parties as three processes, on one host or
//! three.
//!
//! # Connections
//!
//! The three parties are joined by three TLS 1.3 connections, one per pair.
//! **The lower id listens, the higher id connects**: party 0 accepts from 1
//! and 2, party 1 connects to 0 and accepts from 2, party 2 connects to 0
//! and 1 (and listens nowhere). Parties may start in any order: a party
//! binds its listener first, then connects to the lower ids, retrying
//! refused or dropped connections every [`RETRY_PAUSE`] until the set-up
//! deadline, then accepts the higher ids until the same deadline. A peer
//! still missing then is [`Error::Unreachable`]: "cannot reach party K at
//! ADDR: ...".
//!
//! Each side authenticates the other with certificates of the deployment CA
//! (see [`super::tls`]): a connecting party checks that the listener's
//! certificate names the party it dialled, a listening party that the
//! client's names one of the parties allowed to connect to it. Refused
//! clients (no certificate, another CA, a name that may not connect here)
//! are logged to stderr with their address, and the listener keeps waiting
//! for the right one. A listening party handshakes each connection on its
//! own thread (at most [`MAX_PENDING_HANDSHAKES`] at once), each within
//! [`HANDSHAKE_TIMEOUT`], so an unauthenticated client that connects and
//! stays silent holds up nobody. After the handshake both sides exchange a *hello*
//! frame naming sender, receiver and the job ([`ConnectOptions::session`]);
//! parties started with different jobs stop at once instead of failing
//! later with out-of-step frames.
//!
//! # Frames and I/O
//!
//! Frames are written in the format of [`super::frame`]: the header, then
//! the payload straight from the tensor's memory (no copy on little-endian
//! machines), encrypted in records of at most 16 KiB and handed to the
//! socket in batches of at most [`FLUSH_BYTES`]. A party's two connections
//! are driven by its own thread alone (no reader threads): a receive reads
//! and decrypts the socket itself, and a send that finds its socket full
//! waits in `poll` for room *and* for input on both links, reading what
//! arrives into each link's queue. The protocols send before they receive,
//! in a cycle over the three parties, so with plain synchronous reads a
//! tensor larger than the socket buffers would deadlock; reading while
//! blocked prevents that. Each queue holds at most [`MAX_QUEUED_FRAMES`]
//! frames, then the link is not read and a peer that sends ahead waits
//! (TCP back-pressure). A receive tells the transport the length it
//! expects, and the frame's header is checked against it before its payload
//! is read. See `channel.rs` for why this design (a round costs one wake-up
//! of the receiving thread) and why the bounded queues cannot deadlock.
//!
//! # Failures
//!
//! - [`Channel::recv`] waits at most its timeout for the next frame
//!   ([`ChannelError::Timeout`](super::ChannelError::Timeout));
//! - a send blocked longer than [`ConnectOptions::io_timeout`] (a peer
//!   that stopped reading) is [`ChannelError::Timeout`](super::ChannelError::Timeout);
//! - end of stream, with or without TLS `close_notify`, or a reset, is
//!   [`ChannelError::Disconnected`](super::ChannelError::Disconnected) once the frames before it are consumed;
//! - a frame that does not decode, or a TLS record that does not
//!   authenticate, is [`ChannelError::Malformed`](super::ChannelError::Malformed). Payloads above
//!   [`ConnectOptions::max_frame_bytes`], or of another length than the
//!   receive expects, are refused from the header alone.
//!
//! A party that stops on an error can tell its remaining peer why with
//! [`LinkHandle::abort`]; the peer's channel then reports a disconnect and
//! [`LinkHandle::peer_abort`] gives the reason (this is how `privml party`
//! reports "party 0 disconnected during mul; party 0 reported: party 2
//! disconnected during mul" instead of blaming the messenger).
//! Dropping a channel sends TLS `close_notify` and shuts the socket for
//! writing.
//!
//! # Layout
//!
//! This file sets the connections up (listening, dialling with retries,
//! concurrent handshakes, deadlines); `hello.rs` is the hello's format;
//! `channel.rs` is the channel I/O over established connections (the
//! reactor that sends and receives on both links, bounded queues, abort
//! frames, counters).
//!
//! # Examples
//!
//! ```no_run
//! use std::path::Path;
//! use privml::net::config::PartiesConfig;
//! use privml::net::tcp::{self, ConnectOptions};
//! use privml::{Ring, Shared, SharedConfig};
//!
//! let parties = PartiesConfig::load(Path::new("deploy/parties.toml"))?;
//! let me = 1;
//! let links = tcp::connect(&parties, me, &ConnectOptions::from_config(&parties))?;
//! let (next, prev) = links.into_boxed();
//! let mut r = Shared::<u64>::new(me, next, prev, &SharedConfig::default())?;
//! // ... run the same program as the other two parties:
//! let x = r.input(0, None, &[2])?; // party 0 owns x
//! let x2 = r.mul(&x, &x)?;
//! println!("{}", r.reveal(&x2)?);
//! # Ok::<(), privml::Error>(())
//! ```

mod channel;
mod hello;

use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::{ClientConfig, ClientConnection, Connection, ServerConfig, ServerConnection};

use self::channel::Link;
pub use self::channel::{FLUSH_BYTES, LinkHandle, MAX_QUEUED_FRAMES, TlsChannel, WireStats};
use self::hello::{hello_body, hello_session, parse_hello};
use super::config::PartiesConfig;
use super::frame::{self, FrameError, KIND_HELLO, Message};
use super::tls::{self, Credentials, rustls_error};
use super::{Channel, DEFAULT_TIMEOUT};
use crate::error::{DecodeError, Error, Origin, Result, TlsError};
use crate::party_id::PartyId;

/// Pause between two attempts to reach a peer at set-up.
pub const RETRY_PAUSE: Duration = Duration::from_millis(200);
/// Default time to wait at set-up for the other parties.
pub const DEFAULT_CONNECT_DEADLINE: Duration = Duration::from_secs(60);
/// Longest a listening party waits for one client's handshake. Handshakes
/// run concurrently, so a stray client holds up nobody; this bounds how
/// long it holds a thread and a socket.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// Settings of the connection set-up and the links.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// How long to wait at set-up for the other parties.
    pub deadline: Duration,
    /// How long a send may stay blocked on a peer that does not read.
    pub io_timeout: Duration,
    /// Largest payload accepted from a peer, in bytes.
    pub max_frame_bytes: u64,
    /// A description of the job; the parties must agree on it (it should
    /// include every argument that changes the sequence of operations, and
    /// no argument that is private to one party, such as its input file).
    pub session: String,
    /// Whether to print refused connection attempts to stderr.
    pub log_refusals: bool,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            deadline: DEFAULT_CONNECT_DEADLINE,
            io_timeout: DEFAULT_TIMEOUT,
            max_frame_bytes: frame::DEFAULT_MAX_PAYLOAD,
            session: String::new(),
            log_refusals: true,
        }
    }
}

impl ConnectOptions {
    /// The defaults, overridden by what the parties file sets.
    pub fn from_config(cfg: &PartiesConfig) -> Self {
        let d = ConnectOptions::default();
        ConnectOptions {
            deadline: cfg.connect_deadline.unwrap_or(d.deadline),
            io_timeout: cfg.timeout.unwrap_or(d.io_timeout),
            max_frame_bytes: cfg.max_frame_bytes.unwrap_or(d.max_frame_bytes),
            ..d
        }
    }

    /// Sets the job description.
    pub fn session(mut self, s: impl Into<String>) -> Self {
        self.session = s.into();
        self
    }
}

/// A party's two links, as [`connect`] returns them.
#[derive(Debug)]
pub struct PartyLinks {
    /// To party `me + 1 mod 3`.
    pub next: TlsChannel,
    /// To party `me + 2 mod 3`.
    pub prev: TlsChannel,
}

impl PartyLinks {
    /// Handles on both links (to next, to prev).
    pub fn handles(&self) -> [LinkHandle; 2] {
        [self.next.handle(), self.prev.handle()]
    }

    /// The two channels, boxed for [`Shared::new`](crate::Shared::new).
    pub fn into_boxed(self) -> (Box<dyn Channel>, Box<dyn Channel>) {
        (Box::new(self.next), Box::new(self.prev))
    }
}

/// Party `me`'s links to the other two, as the parties file describes them.
/// Loads this party's credentials, checks that its certificate names it and
/// verifies to the CA, then connects as described in the [module
/// docs](self).
///
/// # Errors
///
/// [`Error::FileIo`] for unreadable certificate or key files,
/// [`Error::BadFile`] for ones that do not parse, [`Error::Tls`]
/// for credentials that do not fit or a peer that refuses this party's
/// certificate, [`Error::Unreachable`] for a peer still missing at the
/// deadline, [`Error::InvalidParameter`] (`job`) when a peer runs a
/// different job.
///
/// # Security
///
/// Peers are authenticated by certificate: only holders of a key certified
/// by the deployment CA for the right party name get a link. Everything on
/// the links is encrypted and integrity-protected by TLS 1.3.
pub fn connect(cfg: &PartiesConfig, me: PartyId, opts: &ConnectOptions) -> Result<PartyLinks> {
    let (creds, addresses) = credentials_and_addresses(cfg, me)?;
    connect_with(&creds, me, &addresses, cfg.party(me).listen_address(), opts)
}

/// Party `me`'s credentials, checked to name it, and every party's address,
/// from the parties file.
fn credentials_and_addresses(
    cfg: &PartiesConfig,
    me: PartyId,
) -> Result<(Credentials, [String; 3])> {
    if me > 2 {
        return Err(Error::InvalidParty(me));
    }
    let entry = cfg.party(me);
    let creds = Credentials::load(&cfg.ca, &entry.cert, &entry.key)?;
    creds.check_identity(me)?;
    let addresses = [
        cfg.party(0).address.clone(),
        cfg.party(1).address.clone(),
        cfg.party(2).address.clone(),
    ];
    Ok((creds, addresses))
}

/// [`connect`] with credentials and addresses given directly: party `me`
/// listens on `listen` (if it has higher-id peers) and reaches party `k` at
/// `addresses[k]`.
pub fn connect_with(
    creds: &Credentials,
    me: PartyId,
    addresses: &[String; 3],
    listen: &str,
    opts: &ConnectOptions,
) -> Result<PartyLinks> {
    if me > 2 {
        return Err(Error::InvalidParty(me));
    }
    let others: Vec<PartyId> = (0..3).filter(|&k| k != me).collect();
    let mut links = link_to(creds, me, addresses, listen, &others, opts)?;
    let (n, p) = ((me + 1) % 3, (me + 2) % 3);
    let take = |links: &mut [Option<Link>; 3], k: PartyId| {
        links[k]
            .take()
            .ok_or_else(|| Error::internal("tcp::connect_with", format!("no link to party {k}")))
    };
    let next_link = take(&mut links, n)?;
    let prev_link = take(&mut links, p)?;
    let (next, prev) = TlsChannel::pair((next_link, n), (prev_link, p), opts)?;
    Ok(PartyLinks { next, prev })
}

/// Party `me`'s link to party `peer` alone, as the parties file describes
/// them: for two parties that compute without the third (the two-party
/// protocol's computing parties when their dealer's material comes from
/// preprocessing files). Set-up, authentication and errors as in
/// [`connect`]; the lower id listens.
pub fn connect_pair(
    cfg: &PartiesConfig,
    me: PartyId,
    peer: PartyId,
    opts: &ConnectOptions,
) -> Result<TlsChannel> {
    if me > 2 {
        return Err(Error::InvalidParty(me));
    }
    if peer > 2 || peer == me {
        return Err(Error::InvalidParty(peer));
    }
    let (creds, addresses) = credentials_and_addresses(cfg, me)?;
    let mut links = link_to(
        &creds,
        me,
        &addresses,
        cfg.party(me).listen_address(),
        &[peer],
        opts,
    )?;
    let link = links[peer]
        .take()
        .ok_or_else(|| Error::internal("tcp::connect_pair", format!("no link to party {peer}")))?;
    TlsChannel::single(link, peer, opts)
}

/// Links from party `me` to each of `peers`: dials the lower ids, then
/// accepts the higher ones (listening only if there are any).
fn link_to(
    creds: &Credentials,
    me: PartyId,
    addresses: &[String; 3],
    listen: &str,
    peers: &[PartyId],
    opts: &ConnectOptions,
) -> Result<[Option<Link>; 3]> {
    let deadline = Instant::now() + opts.deadline;
    let higher: Vec<PartyId> = peers.iter().copied().filter(|&k| k > me).collect();
    let listener = if !higher.is_empty() {
        Some(TcpListener::bind(listen).map_err(|e| Error::Unreachable {
            party: me,
            addr: listen.to_string(),
            reason: format!(
                "this party cannot listen there: {e} (is another process using the port, \
                     or is the address not one of this host's?)"
            ),
        })?)
    } else {
        None
    };
    let setup = Setup {
        me,
        addresses,
        listen,
        deadline,
        opts,
    };
    let mut links: [Option<Link>; 3] = [None, None, None];
    let client = tls::client_config(creds)?;
    for &peer in peers.iter().filter(|&&k| k < me) {
        links[peer] = Some(dial(&client, peer, &setup)?);
    }
    if let Some(listener) = listener {
        let server = tls::server_config(creds, &higher)?;
        accept_all(&listener, &server, &higher, &setup, &mut links)?;
    }
    Ok(links)
}

/// `peer` described another job than this party's: the typed error naming
/// the first field that differs (see [`super::session`]).
fn session_mismatch(peer: PartyId, ours: &str, theirs: &str) -> Error {
    super::session::mismatch(peer, ours, theirs)
}

fn bad_hello(peer: PartyId, addr: &str, error: DecodeError) -> Error {
    Error::Decode {
        what: "hello",
        origin: Origin::Peer {
            party: peer,
            op: format!("connection set-up with {addr}"),
        },
        error,
    }
}

enum Attempt {
    Retry(String),
    Fatal(Error),
}

fn set_timeouts(sock: &TcpStream, t: Duration) -> io::Result<()> {
    let t = t.max(Duration::from_millis(1));
    sock.set_read_timeout(Some(t))?;
    sock.set_write_timeout(Some(t))?;
    sock.set_nodelay(true)
}

/// This party's side of the set-up: who it is, where everyone is, until
/// when to try.
struct Setup<'a> {
    me: PartyId,
    addresses: &'a [String; 3],
    listen: &'a str,
    deadline: Instant,
    opts: &'a ConnectOptions,
}

/// Connects to the lower-id party `peer`, retrying every [`RETRY_PAUSE`]
/// until the deadline.
fn dial(cfg: &Arc<ClientConfig>, peer: PartyId, setup: &Setup<'_>) -> Result<Link> {
    let &Setup { deadline, opts, .. } = setup;
    let addr = &setup.addresses[peer];
    loop {
        let last = match dial_once(cfg, peer, setup) {
            Ok(link) => return Ok(link),
            Err(Attempt::Fatal(e)) => return Err(e),
            Err(Attempt::Retry(reason)) => reason,
        };
        if Instant::now() + RETRY_PAUSE >= deadline {
            return Err(Error::Unreachable {
                party: peer,
                addr: addr.to_string(),
                reason: format!("{last} (gave up after {:?})", opts.deadline),
            });
        }
        std::thread::sleep(RETRY_PAUSE);
    }
}

/// One attempt of [`dial`]: connect, TLS handshake, hellos.
fn dial_once(
    cfg: &Arc<ClientConfig>,
    peer: PartyId,
    setup: &Setup<'_>,
) -> std::result::Result<Link, Attempt> {
    let &Setup {
        me, deadline, opts, ..
    } = setup;
    let addr = setup.addresses[peer].as_str();
    let remaining = deadline.saturating_duration_since(Instant::now());
    let resolved: Vec<SocketAddr> = addr
        .to_socket_addrs()
        .map_err(|e| Attempt::Retry(format!("cannot resolve the address: {e}")))?
        .collect();
    let mut last = Attempt::Retry("the address resolves to nothing".to_string());
    let mut sock = None;
    for a in &resolved {
        match TcpStream::connect_timeout(
            a,
            remaining.clamp(Duration::from_millis(1), Duration::from_secs(3)),
        ) {
            Ok(s) => {
                sock = Some(s);
                break;
            }
            Err(e) => last = Attempt::Retry(e.to_string()),
        }
    }
    let Some(mut sock) = sock else {
        return Err(last);
    };
    let retry = |e: io::Error| Attempt::Retry(e.to_string());
    set_timeouts(&sock, remaining).map_err(retry)?;
    let name = tls::peer_server_name(peer).map_err(Attempt::Fatal)?;
    let mut conn = ClientConnection::new(Arc::clone(cfg), name)
        .map_err(|e| Attempt::Fatal(rustls_error("client connection", e)))?;
    let classify = |e: io::Error| -> Attempt {
        if e.kind() == io::ErrorKind::InvalidData {
            Attempt::Fatal(Error::Tls(TlsError::Handshake {
                party: peer,
                addr: addr.to_string(),
                source: e,
            }))
        } else if matches!(
            e.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        ) {
            Attempt::Retry("it accepted the connection but did not answer the TLS handshake".into())
        } else {
            Attempt::Retry(e.to_string())
        }
    };
    let mut stream = rustls::Stream::new(&mut conn, &mut sock);
    frame::write_control(
        &mut stream,
        KIND_HELLO,
        &hello_body(me, peer, &opts.session),
    )
    .and_then(|()| stream.flush())
    .map_err(classify)?;
    let reply = match frame::read_message(&mut stream, frame::MAX_CONTROL_PAYLOAD) {
        Ok(Message::Hello(b)) => b,
        Ok(_) => {
            return Err(Attempt::Fatal(bad_hello(
                peer,
                addr,
                DecodeError::WrongKind {
                    expected: "a hello".into(),
                    found: "another frame".into(),
                },
            )));
        }
        Err(FrameError::Io(e)) => return Err(classify(e)),
        Err(FrameError::Closed | FrameError::Truncated { .. }) => {
            return Err(Attempt::Retry(
                "the connection closed during set-up".to_string(),
            ));
        }
        Err(e) => {
            return Err(match e.decode_error() {
                Some(error) => Attempt::Fatal(bad_hello(peer, addr, error)),
                None => Attempt::Retry(e.to_string()),
            });
        }
    };
    let (from, to, session) =
        parse_hello(&reply).map_err(|e| Attempt::Fatal(bad_hello(peer, addr, e)))?;
    if from != peer || to != me {
        return Err(Attempt::Fatal(Error::Tls(TlsError::WrongPeer {
            expected: format!("party {peer} answering party {me} at {addr}"),
            presented: format!("party {from} answering party {to}"),
        })));
    }
    if session != hello_session(&opts.session) {
        return Err(Attempt::Fatal(session_mismatch(
            peer,
            &opts.session,
            &session,
        )));
    }
    Ok(Link {
        conn: Connection::Client(conn),
        sock,
    })
}

enum Incoming {
    Refused(String),
    Fatal(Error),
}

/// Handshakes that may run at once on a listening party: more clients wait
/// in the kernel's backlog until one finishes.
pub const MAX_PENDING_HANDSHAKES: usize = 32;

/// What a handshake thread reports: the client's address and the outcome.
type Handshaken = (SocketAddr, std::result::Result<(PartyId, Link), Incoming>);

/// Accepts connections until every party in `allowed` has a link (a party
/// that connects again replaces its earlier link), refusing and logging
/// clients that do not authenticate as one of them. Each connection is
/// handshaken on its own thread within [`HANDSHAKE_TIMEOUT`], so clients
/// that connect and stay silent do not hold up the parties behind them.
fn accept_all(
    listener: &TcpListener,
    server: &Arc<ServerConfig>,
    allowed: &[PartyId],
    setup: &Setup<'_>,
    links: &mut [Option<Link>; 3],
) -> Result<()> {
    let &Setup {
        me,
        addresses,
        listen,
        deadline,
        opts,
    } = setup;
    listener.set_nonblocking(true)?;
    let (tx, rx) = std::sync::mpsc::channel::<Handshaken>();
    let mut pending = 0usize;
    let settle = |(remote, outcome): Handshaken, links: &mut [Option<Link>; 3]| -> Result<()> {
        match outcome {
            Ok((peer, link)) => {
                if links[peer].is_some() && opts.log_refusals {
                    eprintln!(
                        "privml: party {me}: party {peer} connected again from {remote}; using the new connection"
                    );
                }
                links[peer] = Some(link);
                Ok(())
            }
            Err(Incoming::Refused(reason)) => {
                if opts.log_refusals {
                    eprintln!("privml: party {me}: refused a connection from {remote}: {reason}");
                }
                Ok(())
            }
            Err(Incoming::Fatal(e)) => Err(e),
        }
    };
    loop {
        while let Ok(done) = rx.try_recv() {
            pending -= 1;
            settle(done, links)?;
        }
        let Some(&missing) = allowed.iter().find(|&&p| links[p].is_none()) else {
            return Ok(());
        };
        if pending < MAX_PENDING_HANDSHAKES {
            match listener.accept() {
                Ok((sock, remote)) => {
                    let (tx, server) = (tx.clone(), Arc::clone(server));
                    let (them, own) = (allowed.to_vec(), opts.clone());
                    let handshake = std::thread::Builder::new()
                        .name(format!("privml-handshake-{me}"))
                        .spawn(move || {
                            let r = accept_one(sock, &server, me, &them, deadline, &own);
                            let _ = tx.send((remote, r));
                        });
                    match handshake {
                        Ok(_) => pending += 1,
                        Err(e) => {
                            if opts.log_refusals {
                                eprintln!("privml: party {me}: cannot start a handshake: {e}");
                            }
                        }
                    }
                    continue;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => {
                    if opts.log_refusals {
                        eprintln!("privml: party {me}: accepting a connection failed: {e}");
                    }
                }
            }
        }
        if Instant::now() >= deadline {
            return Err(Error::Unreachable {
                party: missing,
                addr: addresses[missing].clone(),
                reason: format!(
                    "it did not connect to party {me} (listening on {listen}) within {:?}",
                    opts.deadline
                ),
            });
        }
        if let Ok(done) = rx.recv_timeout(Duration::from_millis(20)) {
            pending -= 1;
            settle(done, links)?;
        }
    }
}

fn accept_one(
    mut sock: TcpStream,
    server: &Arc<ServerConfig>,
    me: PartyId,
    allowed: &[PartyId],
    deadline: Instant,
    opts: &ConnectOptions,
) -> std::result::Result<(PartyId, Link), Incoming> {
    let refused = |e: &dyn std::fmt::Display| Incoming::Refused(e.to_string());
    sock.set_nonblocking(false).map_err(|e| refused(&e))?;
    let remaining = deadline.saturating_duration_since(Instant::now());
    set_timeouts(
        &sock,
        remaining.clamp(Duration::from_millis(500), HANDSHAKE_TIMEOUT),
    )
    .map_err(|e| refused(&e))?;
    let mut conn = ServerConnection::new(Arc::clone(server))
        .map_err(|e| Incoming::Fatal(rustls_error("server connection", e)))?;
    let mut stream = rustls::Stream::new(&mut conn, &mut sock);
    let hello = match frame::read_message(&mut stream, frame::MAX_CONTROL_PAYLOAD) {
        Ok(Message::Hello(b)) => b,
        Ok(_) => return Err(refused(&"it sent data before the hello")),
        Err(FrameError::Io(e)) => {
            let alert = e
                .get_ref()
                .and_then(|i| i.downcast_ref::<rustls::Error>())
                .is_some_and(|t| matches!(t, rustls::Error::AlertReceived(_)));
            let hint = if alert {
                "the client refused this party's certificate: is it from the same deployment CA?"
                    .to_string()
            } else {
                let names: Vec<String> = allowed.iter().map(|&p| tls::party_name(p)).collect();
                format!(
                    "party {me} accepts only certificates of the deployment CA naming {}",
                    names.join(" or ")
                )
            };
            return Err(refused(&format!("TLS handshake failed: {e} ({hint})")));
        }
        Err(FrameError::Closed | FrameError::Truncated { .. }) => {
            return Err(refused(&"it closed the connection during the handshake"));
        }
        Err(e) => return Err(refused(&format!("bad hello: {e}"))),
    };
    let peer = stream
        .conn
        .peer_certificates()
        .and_then(|c| c.first())
        .and_then(|c| tls::identify(c, allowed))
        .ok_or_else(|| refused(&"its certificate names none of the parties that connect here"))?;
    let (from, to, session) = parse_hello(&hello).map_err(|e| refused(&e))?;
    if from != peer || to != me {
        return Err(refused(&format!(
            "its certificate is party {peer}'s but its hello says party {from} to party {to}"
        )));
    }
    frame::write_control(
        &mut stream,
        KIND_HELLO,
        &hello_body(me, peer, &opts.session),
    )
    .and_then(|()| stream.flush())
    .map_err(|e| refused(&format!("cannot answer the hello: {e}")))?;
    if session != hello_session(&opts.session) {
        return Err(Incoming::Fatal(session_mismatch(
            peer,
            &opts.session,
            &session,
        )));
    }
    Ok((
        peer,
        Link {
            conn: Connection::Server(conn),
            sock,
        },
    ))
}
