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
//! for the right one. After the handshake both sides exchange a *hello*
//! frame naming sender, receiver and the job ([`ConnectOptions::session`]);
//! parties started with different jobs stop at once instead of failing
//! later with out-of-step frames.
//!
//! # Frames and I/O
//!
//! Frames are written in the format of [`super::frame`]: the header, then
//! the payload straight from the tensor's memory (no copy on little-endian
//! machines), encrypted in records of at most 16 KiB and handed to the
//! socket in batches of [`FLUSH_BYTES`]. One reader thread per connection
//! decrypts and decodes incoming frames as they arrive into an unbounded
//! queue, like the in-memory channels, so that a party blocked in a large
//! send can always be read by its peer: the protocols send before they
//! receive, in a cycle over the three parties, and with synchronous reads a
//! tensor larger than the socket buffers would deadlock. The TLS state is
//! shared by the sending thread and the reader thread under a mutex that
//! neither holds while blocked on the socket.
//!
//! # Failures
//!
//! - [`Channel::recv`] waits at most its timeout for the next frame
//!   ([`ChannelError::Timeout`]);
//! - a send blocked longer than [`ConnectOptions::io_timeout`] (a peer
//!   that stopped reading) is [`ChannelError::Timeout`];
//! - end of stream, with or without TLS `close_notify`, or a reset, is
//!   [`ChannelError::Disconnected`] once the frames before it are consumed;
//! - a frame that does not decode, or a TLS record that does not
//!   authenticate, is [`ChannelError::Malformed`]. Payloads above
//!   [`ConnectOptions::max_frame_bytes`] are refused from the header alone.
//!
//! A party that stops on an error can tell its remaining peer why with
//! [`LinkHandle::abort`]; the peer's channel then reports a disconnect and
//! [`LinkHandle::peer_abort`] gives the reason (this is how `privml party`
//! reports "party 0 disconnected during mul; party 0 reported: party 2
//! disconnected during mul" instead of blaming the messenger).
//! Dropping a channel sends TLS `close_notify` and shuts the socket for
//! writing.
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

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};
use std::time::{Duration, Instant};

use rustls::{ClientConfig, ClientConnection, Connection, ServerConfig, ServerConnection};

use super::config::PartiesConfig;
use super::frame::{self, FrameError, HEADER_LEN, KIND_ABORT, KIND_HELLO, Message};
use super::tls::{self, Credentials};
use super::{Channel, ChannelError, DEFAULT_TIMEOUT, Frame};
use crate::error::{DecodeError, Error, Origin, Result, TlsError};
use crate::party_id::PartyId;

/// Pause between two attempts to reach a peer at set-up.
pub const RETRY_PAUSE: Duration = Duration::from_millis(200);
/// Default time to wait at set-up for the other parties.
pub const DEFAULT_CONNECT_DEADLINE: Duration = Duration::from_secs(60);
/// Longest a listening party waits for one client's handshake (so that a
/// stray client cannot hold up the set-up for long).
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Ciphertext is handed to the socket in batches of about this size.
pub const FLUSH_BYTES: usize = 256 * 1024;
/// Payloads up to this size are copied behind their header and sent as one
/// TLS record; larger ones are sent from the tensor's memory.
const SMALL_FRAME: usize = 4096;
/// Socket reads are at most this large.
const READ_BUF: usize = 64 * 1024;
/// Longest the reason in an abort frame may be.
const MAX_ABORT_REASON: usize = 4096;
/// Longest the job description in a hello may be.
const MAX_SESSION: usize = 16 * 1024;
/// Version of the hello body.
const HELLO_VERSION: u8 = 1;

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

/// What one link carried, as counted by the transport.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WireStats {
    /// Data frames sent.
    pub frames_sent: u64,
    /// Payload bytes of those frames.
    pub payload_bytes_sent: u64,
    /// Header bytes of those frames.
    pub header_bytes_sent: u64,
    /// Bytes handed to the socket after set-up (TLS records of data,
    /// control frames and alerts).
    pub tls_bytes_sent: u64,
    /// Bytes read from the socket after set-up.
    pub tls_bytes_received: u64,
}

#[derive(Default)]
struct Counters {
    frames: AtomicU64,
    payload: AtomicU64,
    header: AtomicU64,
    tls_sent: AtomicU64,
    tls_received: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The sending side of a connection: the socket and a ciphertext buffer.
struct Out {
    sock: TcpStream,
    buf: Vec<u8>,
    broken: bool,
}

/// One TLS connection, shared by the channel (sending) and its reader
/// thread (receiving). Lock order: `out`, then `conn`; `conn` is never held
/// during socket I/O.
struct Io {
    conn: Mutex<Connection>,
    out: Mutex<Out>,
    closed: AtomicBool,
    peer_abort: Mutex<Option<String>>,
    counters: Counters,
}

impl Io {
    fn drain_into(&self, buf: &mut Vec<u8>) -> io::Result<()> {
        let mut c = lock(&self.conn);
        while c.wants_write() {
            c.write_tls(buf)?;
        }
        Ok(())
    }

    fn flush_out(&self, out: &mut Out) -> io::Result<()> {
        if !out.buf.is_empty() {
            out.sock.write_all(&out.buf)?;
            self.counters
                .tls_sent
                .fetch_add(out.buf.len() as u64, Ordering::Relaxed);
            out.buf.clear();
        }
        Ok(())
    }

    /// Encrypts and sends `parts` in order, as one uninterrupted sequence.
    fn write_parts(&self, parts: &[&[u8]]) -> io::Result<()> {
        let mut out = lock(&self.out);
        if out.broken {
            return Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the link failed earlier",
            ));
        }
        let r = self.write_parts_locked(&mut out, parts);
        if r.is_err() {
            out.broken = true;
        }
        r
    }

    fn write_parts_locked(&self, out: &mut Out, parts: &[&[u8]]) -> io::Result<()> {
        for part in parts {
            let mut rest = *part;
            while !rest.is_empty() {
                {
                    let mut c = lock(&self.conn);
                    let n = c.writer().write(rest)?;
                    rest = &rest[n..];
                    while c.wants_write() {
                        c.write_tls(&mut out.buf)?;
                    }
                    if n == 0 && out.buf.is_empty() {
                        return Err(io::Error::new(
                            io::ErrorKind::WriteZero,
                            "the TLS connection accepts no more data",
                        ));
                    }
                }
                if out.buf.len() >= FLUSH_BYTES {
                    self.flush_out(out)?;
                }
            }
        }
        self.drain_into(&mut out.buf)?;
        self.flush_out(out)
    }

    /// Sends what TLS has queued (alerts, key updates) unless a sender is
    /// busy, in which case its next batch carries it.
    fn try_flush(&self) {
        let mut out = match self.out.try_lock() {
            Ok(o) => o,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) => return,
        };
        if out.broken {
            return;
        }
        let mut buf = std::mem::take(&mut out.buf);
        if self.drain_into(&mut buf).is_ok() {
            out.buf = buf;
            if self.flush_out(&mut out).is_err() {
                out.broken = true;
            }
        }
    }

    /// Sends `close_notify` (best effort, bounded wait) and shuts the socket
    /// for writing. The reader thread ends when the peer closes too.
    fn close(&self) {
        if self.closed.swap(true, Ordering::SeqCst) {
            return;
        }
        let mut out = lock(&self.out);
        if !out.broken {
            let _ = out.sock.set_write_timeout(Some(Duration::from_secs(2)));
            lock(&self.conn).send_close_notify();
            let mut buf = std::mem::take(&mut out.buf);
            if self.drain_into(&mut buf).is_ok() {
                out.buf = buf;
                let _ = self.flush_out(&mut out);
            }
        }
        let _ = out.sock.shutdown(Shutdown::Write);
    }
}

/// Plaintext reader over the shared TLS state (used by the reader thread).
struct TlsReader {
    io: Arc<Io>,
    sock: TcpStream,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
}

fn tls_error(e: rustls::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

impl Read for TlsReader {
    fn read(&mut self, dst: &mut [u8]) -> io::Result<usize> {
        if dst.is_empty() {
            return Ok(0);
        }
        loop {
            {
                let mut c = lock(&self.io.conn);
                match c.reader().read(dst) {
                    Ok(n) => return Ok(n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(e),
                }
                let fed = if self.start < self.end {
                    let mut pending = &self.buf[self.start..self.end];
                    let n = c.read_tls(&mut pending)?;
                    self.start += n;
                    true
                } else if self.eof {
                    c.read_tls(&mut io::empty())?;
                    true
                } else {
                    false
                };
                let state = c.process_new_packets();
                let wants_write = c.wants_write();
                drop(c);
                if wants_write {
                    self.io.try_flush();
                }
                let state = state.map_err(tls_error)?;
                if fed || state.plaintext_bytes_to_read() > 0 {
                    continue;
                }
            }
            let n = self.sock.read(&mut self.buf)?;
            self.io
                .counters
                .tls_received
                .fetch_add(n as u64, Ordering::Relaxed);
            if n == 0 {
                self.eof = true;
            }
            self.start = 0;
            self.end = n;
        }
    }
}

fn is_disconnect(e: &io::Error) -> bool {
    use io::ErrorKind::*;
    matches!(
        e.kind(),
        UnexpectedEof | ConnectionReset | ConnectionAborted | BrokenPipe | NotConnected
    )
}

fn reader_loop(mut rd: TlsReader, tx: Sender<std::result::Result<Frame, ChannelError>>, max: u64) {
    loop {
        let item = match frame::read_message(&mut rd, max) {
            Ok(Message::Data(f)) => Ok(f),
            Ok(Message::Abort(reason)) => {
                *lock(&rd.io.peer_abort) = Some(reason);
                Err(ChannelError::Disconnected)
            }
            Ok(Message::Hello(_)) => Err(ChannelError::Malformed(
                "a hello frame after set-up".to_string(),
            )),
            Err(FrameError::Closed | FrameError::Truncated { .. }) => {
                Err(ChannelError::Disconnected)
            }
            Err(FrameError::Io(e)) if is_disconnect(&e) => Err(ChannelError::Disconnected),
            Err(FrameError::Io(e)) if e.kind() == io::ErrorKind::InvalidData => {
                Err(ChannelError::Malformed(format!("TLS: {e}")))
            }
            Err(FrameError::Io(_)) => Err(ChannelError::Disconnected),
            Err(e) => Err(ChannelError::Malformed(e.to_string())),
        };
        let stop = item.is_err();
        if tx.send(item).is_err() || stop {
            return;
        }
    }
}

/// Closes the connection when the last of the channel and its handles goes.
struct Owner {
    io: Arc<Io>,
    peer: PartyId,
}

impl Drop for Owner {
    fn drop(&mut self) {
        self.io.close();
    }
}

/// A [`Channel`] to one peer over TCP with mutual TLS. Made by [`connect`].
pub struct TlsChannel {
    owner: Arc<Owner>,
    rx: Receiver<std::result::Result<Frame, ChannelError>>,
}

impl std::fmt::Debug for TlsChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsChannel")
            .field("peer", &self.owner.peer)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

fn stats_of(io: &Io) -> WireStats {
    let c = &io.counters;
    WireStats {
        frames_sent: c.frames.load(Ordering::Relaxed),
        payload_bytes_sent: c.payload.load(Ordering::Relaxed),
        header_bytes_sent: c.header.load(Ordering::Relaxed),
        tls_bytes_sent: c.tls_sent.load(Ordering::Relaxed),
        tls_bytes_received: c.tls_received.load(Ordering::Relaxed),
    }
}

impl TlsChannel {
    /// The peer's id.
    pub fn peer(&self) -> PartyId {
        self.owner.peer
    }

    /// What this link carried so far.
    pub fn stats(&self) -> WireStats {
        stats_of(&self.owner.io)
    }

    /// A handle on the same connection that outlives the channel being
    /// moved into a [`Net`](super::Net) (the connection stays open while a
    /// handle exists).
    pub fn handle(&self) -> LinkHandle {
        LinkHandle {
            owner: Arc::clone(&self.owner),
        }
    }

    fn spawn(link: Link, peer: PartyId, me: PartyId, opts: &ConnectOptions) -> Result<Self> {
        let Link { conn, sock } = link;
        sock.set_read_timeout(None)?;
        sock.set_write_timeout(Some(opts.io_timeout.max(Duration::from_millis(1))))?;
        let rsock = sock.try_clone()?;
        let io = Arc::new(Io {
            conn: Mutex::new(conn),
            out: Mutex::new(Out {
                sock,
                buf: Vec::new(),
                broken: false,
            }),
            closed: AtomicBool::new(false),
            peer_abort: Mutex::new(None),
            counters: Counters::default(),
        });
        let (tx, rx) = mpsc::channel();
        let reader = TlsReader {
            io: Arc::clone(&io),
            sock: rsock,
            buf: vec![0; READ_BUF],
            start: 0,
            end: 0,
            eof: false,
        };
        let max = opts.max_frame_bytes;
        std::thread::Builder::new()
            .name(format!("privml-rx-{me}-from-{peer}"))
            .spawn(move || reader_loop(reader, tx, max))?;
        Ok(TlsChannel {
            owner: Arc::new(Owner { io, peer }),
            rx,
        })
    }
}

impl Channel for TlsChannel {
    fn send(&mut self, frame: Frame) -> std::result::Result<(), ChannelError> {
        let (header, bytes) = frame::frame_parts(&frame);
        let io = &self.owner.io;
        let r = if bytes.len() <= SMALL_FRAME {
            // One TLS record for header and payload: the copy is cheaper
            // than a second record's 22 bytes of overhead.
            let mut whole = Vec::with_capacity(HEADER_LEN + bytes.len());
            whole.extend_from_slice(&header);
            whole.extend_from_slice(&bytes);
            io.write_parts(&[&whole])
        } else {
            io.write_parts(&[&header, &bytes])
        };
        r.map_err(|e| match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => ChannelError::Timeout,
            _ => ChannelError::Disconnected,
        })?;
        let c = &io.counters;
        c.frames.fetch_add(1, Ordering::Relaxed);
        c.header.fetch_add(HEADER_LEN as u64, Ordering::Relaxed);
        c.payload.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        Ok(())
    }

    fn recv(&mut self, timeout: Duration) -> std::result::Result<Frame, ChannelError> {
        match self.rx.recv_timeout(timeout) {
            Ok(r) => r,
            Err(RecvTimeoutError::Timeout) => Err(ChannelError::Timeout),
            Err(RecvTimeoutError::Disconnected) => Err(ChannelError::Disconnected),
        }
    }

    fn overhead_bytes(&self) -> u64 {
        self.owner.io.counters.header.load(Ordering::Relaxed)
    }
}

/// A second handle on a connection: statistics, and a way to tell the peer
/// why this party stops. The connection closes when the channel and all
/// handles are dropped.
#[derive(Clone)]
pub struct LinkHandle {
    owner: Arc<Owner>,
}

impl std::fmt::Debug for LinkHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkHandle")
            .field("peer", &self.owner.peer)
            .finish_non_exhaustive()
    }
}

impl LinkHandle {
    /// The peer's id.
    pub fn peer(&self) -> PartyId {
        self.owner.peer
    }

    /// What the link carried so far.
    pub fn stats(&self) -> WireStats {
        stats_of(&self.owner.io)
    }

    /// Tells the peer that this party stops, and why (best effort: ignored
    /// if the link is already down). The reason is cut at 4 KiB.
    pub fn abort(&self, reason: &str) {
        let mut end = reason.len().min(MAX_ABORT_REASON);
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        let body = &reason.as_bytes()[..end];
        let header = frame::encode_header(KIND_ABORT, 0, body.len() as u64);
        let _ = self.owner.io.write_parts(&[&header, body]);
    }

    /// The reason the peer gave when it stopped with an abort frame.
    pub fn peer_abort(&self) -> Option<String> {
        lock(&self.owner.io.peer_abort).clone()
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

/// A handshaken connection, before its reader thread starts.
struct Link {
    conn: Connection,
    sock: TcpStream,
}

/// Party `me`'s links to the other two, as the parties file describes them.
/// Loads this party's credentials, checks that its certificate names it and
/// verifies to the CA, then connects as described in the [module
/// docs](self).
///
/// # Errors
///
/// [`Error::BadFile`] for unreadable certificates or keys, [`Error::Tls`]
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
    connect_with(&creds, me, &addresses, entry.listen_address(), opts)
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
    let deadline = Instant::now() + opts.deadline;
    let listener = if me < 2 {
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
    let mut links: [Option<Link>; 3] = [None, None, None];
    let client = tls::client_config(creds)?;
    for peer in 0..me {
        links[peer] = Some(dial(&client, me, peer, &addresses[peer], deadline, opts)?);
    }
    if let Some(listener) = listener {
        let allowed: Vec<PartyId> = (me + 1..3).collect();
        let server = tls::server_config(creds, &allowed)?;
        accept_all(
            &listener, &server, me, &allowed, addresses, listen, deadline, opts, &mut links,
        )?;
    }
    let (n, p) = ((me + 1) % 3, (me + 2) % 3);
    let take = |links: &mut [Option<Link>; 3], k: PartyId| {
        links[k]
            .take()
            .ok_or_else(|| Error::invalid("links", format!("no link to party {k}")))
    };
    let next_link = take(&mut links, n)?;
    let prev_link = take(&mut links, p)?;
    Ok(PartyLinks {
        next: TlsChannel::spawn(next_link, n, me, opts)?,
        prev: TlsChannel::spawn(prev_link, p, me, opts)?,
    })
}

fn hello_body(from: PartyId, to: PartyId, session: &str) -> Vec<u8> {
    let mut end = session.len().min(MAX_SESSION);
    while !session.is_char_boundary(end) {
        end -= 1;
    }
    let mut b = vec![HELLO_VERSION, from as u8, to as u8];
    b.extend_from_slice(&session.as_bytes()[..end]);
    b
}

/// A hello's (from, to, session).
fn parse_hello(b: &[u8]) -> std::result::Result<(PartyId, PartyId, String), String> {
    match b {
        [HELLO_VERSION, from, to, rest @ ..] if *from < 3 && *to < 3 => Ok((
            *from as PartyId,
            *to as PartyId,
            String::from_utf8_lossy(rest).into_owned(),
        )),
        [v, ..] if *v != HELLO_VERSION => {
            Err(format!("hello version {v}, expected {HELLO_VERSION}"))
        }
        _ => Err("malformed hello".to_string()),
    }
}

/// `peer` described another job than this party's: the typed error naming
/// the first field that differs (see [`super::session`]).
fn session_mismatch(peer: PartyId, ours: &str, theirs: &str) -> Error {
    super::session::mismatch(peer, ours, theirs)
}

fn rustls_error(context: &str, source: rustls::Error) -> Error {
    Error::Tls(TlsError::Rustls {
        context: context.to_string(),
        source,
    })
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

fn dial(
    cfg: &Arc<ClientConfig>,
    me: PartyId,
    peer: PartyId,
    addr: &str,
    deadline: Instant,
    opts: &ConnectOptions,
) -> Result<Link> {
    loop {
        let last = match dial_once(cfg, me, peer, addr, deadline, opts) {
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

fn dial_once(
    cfg: &Arc<ClientConfig>,
    me: PartyId,
    peer: PartyId,
    addr: &str,
    deadline: Instant,
    opts: &ConnectOptions,
) -> std::result::Result<Link, Attempt> {
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
            return Err(Attempt::Fatal(bad_hello(
                peer,
                addr,
                DecodeError::BadField {
                    field: "frame",
                    reason: e.to_string(),
                },
            )));
        }
    };
    let (from, to, session) = parse_hello(&reply).map_err(|e| {
        Attempt::Fatal(bad_hello(
            peer,
            addr,
            DecodeError::BadField {
                field: "hello",
                reason: e,
            },
        ))
    })?;
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

/// The session as a hello carries it (cut like [`hello_body`] cuts it).
fn hello_session(s: &str) -> String {
    match parse_hello(&hello_body(0, 0, s)) {
        Ok((_, _, s)) => s,
        Err(_) => String::new(),
    }
}

enum Incoming {
    Refused(String),
    Fatal(Error),
}

#[allow(clippy::too_many_arguments)]
fn accept_all(
    listener: &TcpListener,
    server: &Arc<ServerConfig>,
    me: PartyId,
    allowed: &[PartyId],
    addresses: &[String; 3],
    listen: &str,
    deadline: Instant,
    opts: &ConnectOptions,
    links: &mut [Option<Link>; 3],
) -> Result<()> {
    listener.set_nonblocking(true)?;
    loop {
        let Some(&missing) = allowed.iter().find(|&&p| links[p].is_none()) else {
            return Ok(());
        };
        match listener.accept() {
            Ok((sock, remote)) => match accept_one(sock, server, me, allowed, deadline, opts) {
                Ok((peer, link)) => {
                    if links[peer].is_some() && opts.log_refusals {
                        eprintln!(
                            "privml: party {me}: party {peer} connected again from {remote}; using the new connection"
                        );
                    }
                    links[peer] = Some(link);
                }
                Err(Incoming::Refused(reason)) => {
                    if opts.log_refusals {
                        eprintln!(
                            "privml: party {me}: refused a connection from {remote}: {reason}"
                        );
                    }
                }
                Err(Incoming::Fatal(e)) => return Err(e),
            },
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
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
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => {
                if opts.log_refusals {
                    eprintln!("privml: party {me}: accepting a connection failed: {e}");
                }
                std::thread::sleep(Duration::from_millis(20));
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hello_roundtrip_and_cut() {
        let b = hello_body(2, 0, "demo tutorial");
        assert_eq!(
            parse_hello(&b).unwrap(),
            (2, 0, "demo tutorial".to_string())
        );
        assert!(parse_hello(&[9, 0, 1]).is_err());
        assert!(parse_hello(&[HELLO_VERSION, 3, 1]).is_err());
        let long = "é".repeat(MAX_SESSION);
        assert!(hello_session(&long).len() <= MAX_SESSION);
    }
}
