//! Channel I/O over an established TLS connection: the [`TlsChannel`]
//! (sending frames from the tensor's memory in batches of [`FLUSH_BYTES`]),
//! its reader thread (decrypting and decoding incoming frames into a queue,
//! so that a party blocked in a large send can always be read), abort frames
//! ([`LinkHandle::abort`]) and the transport's counters ([`WireStats`]).
//!
//! The TLS state is shared by the sending thread and the reader thread under
//! a mutex that neither holds while blocked on the socket (see [`Io`]).

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};
use std::time::{Duration, Instant};

use rustls::Connection;

use super::ConnectOptions;
use crate::error::{DecodeError, Result};
use crate::net::frame::{self, FrameError, HEADER_LEN, KIND_ABORT, Message};
use crate::net::{Channel, ChannelError, Frame};
use crate::party_id::PartyId;

/// Ciphertext is handed to the socket in batches of about this size.
pub const FLUSH_BYTES: usize = 256 * 1024;
/// Payloads up to this size are copied behind their header and sent as one
/// TLS record; larger ones are sent from the tensor's memory.
const SMALL_FRAME: usize = 4096;
/// Socket reads are at most this large.
const READ_BUF: usize = 64 * 1024;
/// Longest the reason in an abort frame may be.
const MAX_ABORT_REASON: usize = 4096;

/// A handshaken connection, before its reader thread starts.
pub(super) struct Link {
    pub(super) conn: Connection,
    pub(super) sock: TcpStream,
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

/// Decodes frames from the connection into `tx` until the stream ends, the
/// peer aborts, or bytes arrive that are not a frame (each of which is the
/// last item sent).
fn reader_loop(mut rd: TlsReader, tx: Sender<Received>, max: u64) {
    loop {
        let item = match frame::read_message(&mut rd, max) {
            Ok(Message::Data(f)) => Ok((f, Instant::now())),
            Ok(Message::Abort(reason)) => {
                *lock(&rd.io.peer_abort) = Some(reason);
                Err(ChannelError::Disconnected)
            }
            Ok(Message::Hello(_)) => Err(ChannelError::Malformed(DecodeError::WrongKind {
                expected: "a data or abort frame".into(),
                found: "a hello frame after set-up".into(),
            })),
            Err(FrameError::Closed | FrameError::Truncated { .. }) => {
                Err(ChannelError::Disconnected)
            }
            // rustls reports records that do not decrypt or authenticate,
            // and other violations of the TLS protocol, as invalid data.
            Err(FrameError::Io(e)) if e.kind() == io::ErrorKind::InvalidData => {
                Err(ChannelError::Malformed(DecodeError::BadField {
                    field: "TLS record",
                    reason: e.to_string(),
                }))
            }
            Err(e) => Err(e
                .decode_error()
                .map_or(ChannelError::Disconnected, ChannelError::Malformed)),
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

/// What the reader thread queues: a frame and when it was decoded, or the
/// reason the link ended.
type Received = std::result::Result<(Frame, Instant), ChannelError>;

/// A [`Channel`] to one peer over TCP with mutual TLS. Made by [`connect`](super::connect).
pub struct TlsChannel {
    owner: Arc<Owner>,
    rx: Receiver<Received>,
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
    /// moved into a [`Net`](crate::net::Net) (the connection stays open while a
    /// handle exists).
    pub fn handle(&self) -> LinkHandle {
        LinkHandle {
            owner: Arc::clone(&self.owner),
        }
    }

    pub(super) fn spawn(
        link: Link,
        peer: PartyId,
        me: PartyId,
        opts: &ConnectOptions,
    ) -> Result<Self> {
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
        self.recv_stamped(timeout).map(|(f, _)| f)
    }

    fn recv_stamped(
        &mut self,
        timeout: Duration,
    ) -> std::result::Result<(Frame, Instant), ChannelError> {
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
