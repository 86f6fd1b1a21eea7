//! Channel I/O over established TLS connections: the [`TlsChannel`], abort
//! frames ([`LinkHandle::abort`]) and the transport's counters
//! ([`WireStats`]).
//!
//! # One party, one thread, both links
//!
//! A party's two connections are driven together by a [`Reactor`], and only
//! by the thread that sends or receives: there is no reader thread. A
//! receive reads the socket itself (non-blocking, then `poll`), decrypts in
//! place and decodes the frame straight into the payload's vector. A round
//! therefore costs one wake-up of the receiving thread, where a reader
//! thread cost two (the reader, then the party it handed the frame to) and
//! a lock and queue hand-off each way; on a loaded machine with nine threads
//! for three parties on two cores those wake-ups were most of a round.
//!
//! The reader threads existed so that a party blocked in a large send can
//! always be read: the protocols send before they receive, in a cycle over
//! the three parties, and with synchronous reads a tensor larger than the
//! socket buffers would deadlock. The reactor keeps that property without
//! threads: a send that finds its socket full waits in `poll` for it to
//! drain *and* for input on both links, and reads what arrives into each
//! link's queue; a receive likewise reads the other link while it waits.
//!
//! # Back-pressure
//!
//! Each link's queue holds at most [`MAX_QUEUED_FRAMES`] frames (each at
//! most [`ConnectOptions::max_frame_bytes`](super::ConnectOptions::max_frame_bytes)).
//! When it is full the link is not read, TCP's window closes, and a peer
//! that sends ahead blocks in its send instead of filling this party's
//! memory. This cannot deadlock the protocols: a link carries at most two
//! frames per round in each direction, so a full queue means the sender is
//! rounds ahead of its receiver, and three parties cannot each be ahead of
//! the next around the cycle.
//!
//! # Early length checks
//!
//! A receive passes what the protocol expects ([`Expect`]); the frame's
//! header is checked against it before any of the payload is read or
//! allocated, so a peer that announces 1 GiB where one element is due is
//! refused at once ([`ChannelError::Malformed`]), and nothing more is read
//! from that link.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec, poll};
use rustls::Connection;

use super::ConnectOptions;
use crate::error::{DecodeError, Result};
use crate::net::frame::{self, FrameDecoder, FrameError, HEADER_LEN, KIND_ABORT, Message};
use crate::net::{Channel, ChannelError, Expect, Frame, check_expected};
use crate::party_id::PartyId;

/// Largest batch of ciphertext handed to the socket at once (the TLS
/// library's send buffer).
pub const FLUSH_BYTES: usize = 256 * 1024;
/// Frames a link's queue holds before the link is no longer read.
pub const MAX_QUEUED_FRAMES: usize = 8;
/// Payloads up to this size are copied behind their header and sent as one
/// TLS record; larger ones are sent from the tensor's memory.
const SMALL_FRAME: usize = 4096;
/// Socket reads are at most this large.
const READ_BUF: usize = 64 * 1024;
/// Longest the reason in an abort frame may be.
const MAX_ABORT_REASON: usize = 4096;
/// Longest a party waits to deliver `close_notify` or an abort frame.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// A handshaken connection, before it joins a [`Reactor`].
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

/// Counters readable without the reactor's lock.
#[derive(Default)]
struct Counters {
    frames: AtomicU64,
    payload: AtomicU64,
    header: AtomicU64,
    tls_sent: AtomicU64,
    tls_received: AtomicU64,
}

impl Counters {
    fn stats(&self) -> WireStats {
        WireStats {
            frames_sent: self.frames.load(Ordering::Relaxed),
            payload_bytes_sent: self.payload.load(Ordering::Relaxed),
            header_bytes_sent: self.header.load(Ordering::Relaxed),
            tls_bytes_sent: self.tls_sent.load(Ordering::Relaxed),
            tls_bytes_received: self.tls_received.load(Ordering::Relaxed),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn tls_error(e: rustls::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

/// The plaintext of a connection, for the frame decoder.
struct Plaintext<'a>(&'a mut Connection);

impl Read for Plaintext<'_> {
    fn read(&mut self, dst: &mut [u8]) -> io::Result<usize> {
        self.0.reader().read(dst)
    }
}

/// Why a link stopped delivering frames (reported once, after the frames
/// before it; later receives see [`ChannelError::Disconnected`]).
enum End {
    Pending(ChannelError),
    Reported,
}

/// One connection's state.
struct LinkIo {
    conn: Connection,
    sock: TcpStream,
    rbuf: Box<[u8]>,
    start: usize,
    end: usize,
    eof: bool,
    decoder: FrameDecoder,
    inbox: VecDeque<(Frame, Instant)>,
    ended: Option<End>,
    /// A send failed part-way: the stream can carry no more frames.
    broken: bool,
    closed: bool,
    counters: Arc<Counters>,
    peer_abort: Arc<Mutex<Option<String>>>,
}

impl LinkIo {
    fn new(link: Link, max_frame_bytes: u64) -> Result<Self> {
        let Link { mut conn, sock } = link;
        sock.set_nonblocking(true)?;
        conn.set_buffer_limit(Some(FLUSH_BYTES));
        Ok(LinkIo {
            conn,
            sock,
            rbuf: vec![0; READ_BUF].into_boxed_slice(),
            start: 0,
            end: 0,
            eof: false,
            decoder: FrameDecoder::new(max_frame_bytes),
            inbox: VecDeque::new(),
            ended: None,
            broken: false,
            closed: false,
            counters: Arc::default(),
            peer_abort: Arc::default(),
        })
    }

    /// Whether reading this link can produce anything now.
    fn readable(&self) -> bool {
        self.ended.is_none() && self.inbox.len() < MAX_QUEUED_FRAMES
    }

    fn stop(&mut self, why: ChannelError) {
        if self.ended.is_none() {
            self.ended = Some(End::Pending(why));
        }
    }

    /// Reads what the socket has (without blocking) and decodes frames into
    /// the queue while it has room. `expect` applies to the next frame if
    /// the queue is empty (it is the frame a receive waits for). Returns
    /// whether anything happened.
    fn pump(&mut self, expect: Option<Expect>) -> bool {
        let mut progress = false;
        let mut expect = expect.filter(|_| self.inbox.is_empty());
        while self.readable() {
            // 1. whole frames from the plaintext TLS has decrypted
            match self
                .decoder
                .poll(&mut Plaintext(&mut self.conn), expect.as_ref())
            {
                Ok(Some(msg)) => {
                    progress = true;
                    expect = None;
                    self.deliver(msg);
                    continue;
                }
                Ok(None) => {}
                Err(e) => {
                    self.stop(frame_failure(e));
                    return true;
                }
            }
            // 2. ciphertext already read from the socket
            if self.start < self.end || self.eof {
                let fed = if self.start < self.end {
                    let mut pending = &self.rbuf[self.start..self.end];
                    let r = self.conn.read_tls(&mut pending);
                    r.map(|n| self.start += n)
                } else {
                    self.conn.read_tls(&mut io::empty()).map(|_| ())
                };
                let processed = fed.and_then(|()| {
                    self.conn
                        .process_new_packets()
                        .map(|_| ())
                        .map_err(tls_error)
                });
                if let Err(e) = processed {
                    self.stop(io_failure(&e));
                    return true;
                }
                // alerts and key updates that reading produced
                if self.flush_nonblocking().is_err() {
                    self.broken = true;
                }
                if self.eof && self.start == self.end {
                    // everything TLS will ever decrypt is decrypted: decode
                    // it, then the stream's end is the link's end
                    match self
                        .decoder
                        .poll(&mut Plaintext(&mut self.conn), expect.as_ref())
                    {
                        Ok(Some(msg)) => {
                            self.deliver(msg);
                            expect = None;
                            progress = true;
                            continue;
                        }
                        Ok(None) | Err(_) => self.stop(ChannelError::Disconnected),
                    }
                    return true;
                }
                progress = true;
                continue;
            }
            // 3. the socket
            match self.sock.read(&mut self.rbuf) {
                Ok(n) => {
                    self.counters
                        .tls_received
                        .fetch_add(n as u64, Ordering::Relaxed);
                    self.eof = n == 0;
                    self.start = 0;
                    self.end = n;
                    progress = true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return progress,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    self.stop(ChannelError::Disconnected);
                    return true;
                }
            }
        }
        progress
    }

    fn deliver(&mut self, msg: Message) {
        match msg {
            Message::Data(f) => self.inbox.push_back((f, Instant::now())),
            Message::Abort(reason) => {
                *lock(&self.peer_abort) = Some(reason);
                self.stop(ChannelError::Disconnected);
            }
            Message::Hello(_) => self.stop(ChannelError::Malformed(DecodeError::WrongKind {
                expected: "a data or abort frame".into(),
                found: "a hello frame after set-up".into(),
            })),
        }
    }

    /// Hands queued ciphertext to the socket until it would block.
    fn flush_nonblocking(&mut self) -> io::Result<()> {
        while self.conn.wants_write() {
            match self.conn.write_tls(&mut self.sock) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::WriteZero,
                        "the socket accepts no more data",
                    ));
                }
                Ok(n) => {
                    self.counters
                        .tls_sent
                        .fetch_add(n as u64, Ordering::Relaxed);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// A frame error as what a receive reports.
fn frame_failure(e: FrameError) -> ChannelError {
    match e {
        FrameError::Closed | FrameError::Truncated { .. } => ChannelError::Disconnected,
        FrameError::Io(e) => io_failure(&e),
        e => e
            .decode_error()
            .map_or(ChannelError::Disconnected, ChannelError::Malformed),
    }
}

/// rustls reports records that do not decrypt or authenticate, and other
/// violations of the TLS protocol, as invalid data.
fn io_failure(e: &io::Error) -> ChannelError {
    if e.kind() == io::ErrorKind::InvalidData {
        ChannelError::Malformed(DecodeError::BadField {
            field: "TLS record",
            reason: e.to_string(),
        })
    } else {
        ChannelError::Disconnected
    }
}

/// A party's links, driven by whichever thread sends or receives.
struct Reactor {
    links: Vec<LinkIo>,
}

/// What a wait in `poll` should watch besides the links' input.
#[derive(Clone, Copy)]
enum Watch {
    /// Input only (a receive).
    Input,
    /// Also room to write on this link (a blocked send).
    Output(usize),
}

impl Reactor {
    /// Waits until a link can be read or `watch`'s link written, or the
    /// deadline; reads every link that has input. `Ok(false)` at the deadline.
    fn wait(&mut self, watch: Watch, deadline: Option<Instant>) -> io::Result<bool> {
        let timeout = match deadline {
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Ok(false);
                }
                Some(Timespec {
                    tv_sec: left.as_secs().try_into().unwrap_or(i64::MAX),
                    tv_nsec: left.subsec_nanos().into(),
                })
            }
            None => None,
        };
        // Links with nothing to watch stay out of the set: poll reports
        // hang-ups whatever was asked, and an ended link would spin.
        let watched: Vec<(usize, PollFlags)> = self
            .links
            .iter()
            .enumerate()
            .filter_map(|(k, l)| {
                let mut ev = PollFlags::empty();
                if l.readable() {
                    ev |= PollFlags::IN;
                }
                if matches!(watch, Watch::Output(w) if w == k) {
                    ev |= PollFlags::OUT;
                }
                (!ev.is_empty()).then_some((k, ev))
            })
            .collect();
        if watched.is_empty() {
            return Err(io::Error::other("no link to wait for"));
        }
        let ready: Vec<PollFlags> = {
            let mut fds: Vec<PollFd<'_>> = watched
                .iter()
                .map(|&(k, ev)| PollFd::new(&self.links[k].sock, ev))
                .collect();
            match poll(&mut fds, timeout.as_ref()) {
                Ok(_) => {}
                Err(rustix::io::Errno::INTR) => return Ok(true),
                Err(e) => return Err(e.into()),
            }
            fds.iter().map(PollFd::revents).collect()
        };
        let mut any = false;
        for (&(k, _), r) in watched.iter().zip(&ready) {
            if r.is_empty() {
                continue;
            }
            any = true;
            if r.intersects(PollFlags::IN | PollFlags::HUP | PollFlags::ERR) {
                self.links[k].pump(None);
            }
        }
        Ok(any || deadline.is_none_or(|d| Instant::now() < d))
    }

    /// Encrypts `parts` in order as one uninterrupted sequence on link `k`
    /// and hands all of it to the socket, reading both links while the
    /// socket is full.
    fn send(&mut self, k: usize, parts: &[&[u8]], timeout: Duration) -> io::Result<()> {
        if self.links[k].broken {
            return Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the link failed earlier",
            ));
        }
        let deadline = Instant::now().checked_add(timeout);
        let r = self.send_parts(k, parts, deadline);
        if r.is_err() {
            self.links[k].broken = true;
        }
        r
    }

    fn send_parts(
        &mut self,
        k: usize,
        parts: &[&[u8]],
        deadline: Option<Instant>,
    ) -> io::Result<()> {
        for part in parts {
            let mut rest = *part;
            while !rest.is_empty() {
                let n = self.links[k].conn.writer().write(rest)?;
                rest = &rest[n..];
                if n == 0 || !rest.is_empty() {
                    // TLS's send buffer is full: move it to the socket
                    self.flush(k, deadline)?;
                }
            }
        }
        self.flush(k, deadline)
    }

    /// Hands link `k`'s ciphertext to the socket, waiting (and reading)
    /// while it is full.
    fn flush(&mut self, k: usize, deadline: Option<Instant>) -> io::Result<()> {
        loop {
            self.links[k].flush_nonblocking()?;
            if !self.links[k].conn.wants_write() {
                return Ok(());
            }
            if !self.wait(Watch::Output(k), deadline)? {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the peer did not read in time",
                ));
            }
        }
    }

    /// The next frame on link `k`, at most `timeout` from now.
    fn recv(
        &mut self,
        k: usize,
        timeout: Duration,
        expect: Expect,
    ) -> std::result::Result<(Frame, Instant), ChannelError> {
        let deadline = Instant::now().checked_add(timeout);
        loop {
            let link = &mut self.links[k];
            if let Some((f, at)) = link.inbox.pop_front() {
                if let Err(e) = check_expected(&f, &expect) {
                    link.stop(ChannelError::Disconnected);
                    return Err(e);
                }
                return Ok((f, at));
            }
            match link.ended.replace(End::Reported) {
                Some(End::Pending(e)) => return Err(e),
                Some(End::Reported) => return Err(ChannelError::Disconnected),
                None => link.ended = None,
            }
            if link.pump(Some(expect)) {
                continue;
            }
            match self.wait(Watch::Input, deadline) {
                Ok(true) => {}
                Ok(false) => return Err(ChannelError::Timeout),
                Err(_) => return Err(ChannelError::Disconnected),
            }
        }
    }

    /// Sends `close_notify` on link `k` (best effort, bounded wait) and
    /// shuts its socket for writing.
    fn close(&mut self, k: usize) {
        let link = &mut self.links[k];
        if std::mem::replace(&mut link.closed, true) {
            return;
        }
        if !link.broken {
            link.conn.send_close_notify();
            let _ = self.flush(k, Instant::now().checked_add(CLOSE_WAIT));
        }
        let _ = self.links[k].sock.shutdown(Shutdown::Write);
    }
}

/// Closes a link when the last of its channel and handles goes.
struct Owner {
    reactor: Arc<Mutex<Reactor>>,
    index: usize,
    peer: PartyId,
    counters: Arc<Counters>,
    peer_abort: Arc<Mutex<Option<String>>>,
    io_timeout: Duration,
}

impl Drop for Owner {
    fn drop(&mut self) {
        lock(&self.reactor).close(self.index);
    }
}

/// A [`Channel`] to one peer over TCP with mutual TLS. Made by [`connect`](super::connect).
pub struct TlsChannel {
    owner: Arc<Owner>,
}

impl std::fmt::Debug for TlsChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsChannel")
            .field("peer", &self.owner.peer)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl TlsChannel {
    /// The peer's id.
    pub fn peer(&self) -> PartyId {
        self.owner.peer
    }

    /// What this link carried so far.
    pub fn stats(&self) -> WireStats {
        self.owner.counters.stats()
    }

    /// A handle on the same connection that outlives the channel being
    /// moved into a [`Net`](crate::net::Net) (the connection stays open while a
    /// handle exists).
    pub fn handle(&self) -> LinkHandle {
        LinkHandle {
            owner: Arc::clone(&self.owner),
        }
    }

    /// A party's two channels over its handshaken connections, driven by one
    /// reactor: (to `next.1`, to `prev.1`).
    pub(super) fn pair(
        next: (Link, PartyId),
        prev: (Link, PartyId),
        opts: &ConnectOptions,
    ) -> Result<(Self, Self)> {
        let mut made = Self::over(vec![next, prev], opts)?.into_iter();
        match (made.next(), made.next()) {
            (Some(n), Some(p)) => Ok((n, p)),
            _ => Err(crate::error::Error::internal(
                "TlsChannel::pair",
                "two links make two channels",
            )),
        }
    }

    /// The channel over a party's only link (two parties that compute
    /// without the third), driven by its own reactor.
    pub(super) fn single(link: Link, peer: PartyId, opts: &ConnectOptions) -> Result<Self> {
        Self::over(vec![(link, peer)], opts)?.pop().ok_or_else(|| {
            crate::error::Error::internal("TlsChannel::single", "one link makes one channel")
        })
    }

    /// One channel per handshaken connection, in order, all driven by one
    /// reactor (so a party's thread waits on all its links at once).
    fn over(links: Vec<(Link, PartyId)>, opts: &ConnectOptions) -> Result<Vec<Self>> {
        let peers: Vec<PartyId> = links.iter().map(|&(_, peer)| peer).collect();
        let links = links
            .into_iter()
            .map(|(link, _)| LinkIo::new(link, opts.max_frame_bytes))
            .collect::<Result<Vec<_>>>()?;
        let shared: Vec<_> = links
            .iter()
            .map(|l| (Arc::clone(&l.counters), Arc::clone(&l.peer_abort)))
            .collect();
        let reactor = Arc::new(Mutex::new(Reactor { links }));
        Ok(peers
            .into_iter()
            .zip(shared)
            .enumerate()
            .map(|(index, (peer, (counters, peer_abort)))| TlsChannel {
                owner: Arc::new(Owner {
                    reactor: Arc::clone(&reactor),
                    index,
                    peer,
                    counters,
                    peer_abort,
                    io_timeout: opts.io_timeout,
                }),
            })
            .collect())
    }
}

impl Channel for TlsChannel {
    fn send(&mut self, frame: Frame) -> std::result::Result<(), ChannelError> {
        let (header, bytes) = frame::frame_parts(&frame);
        let o = &self.owner;
        let mut reactor = lock(&o.reactor);
        let r = if bytes.len() <= SMALL_FRAME {
            // One TLS record for header and payload: the copy is cheaper
            // than a second record's 22 bytes of overhead.
            let mut whole = Vec::with_capacity(HEADER_LEN + bytes.len());
            whole.extend_from_slice(&header);
            whole.extend_from_slice(&bytes);
            reactor.send(o.index, &[&whole], o.io_timeout)
        } else {
            reactor.send(o.index, &[&header, &bytes], o.io_timeout)
        };
        drop(reactor);
        r.map_err(|e| match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => ChannelError::Timeout,
            _ => ChannelError::Disconnected,
        })?;
        let c = &o.counters;
        c.frames.fetch_add(1, Ordering::Relaxed);
        c.header.fetch_add(HEADER_LEN as u64, Ordering::Relaxed);
        c.payload.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        Ok(())
    }

    fn recv(&mut self, timeout: Duration) -> std::result::Result<Frame, ChannelError> {
        self.recv_expecting(timeout, Expect::ANY).map(|(f, _)| f)
    }

    /// The frame and when it was decoded. The payload length is checked
    /// against `expect` from the frame's header.
    fn recv_expecting(
        &mut self,
        timeout: Duration,
        expect: Expect,
    ) -> std::result::Result<(Frame, Instant), ChannelError> {
        let o = &self.owner;
        lock(&o.reactor).recv(o.index, timeout, expect)
    }

    fn overhead_bytes(&self) -> u64 {
        self.owner.counters.header.load(Ordering::Relaxed)
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
        self.owner.counters.stats()
    }

    /// Tells the peer that this party stops, and why (best effort: ignored
    /// if the link is already down). The reason is cut at 4 KiB. It waits
    /// for the party's own thread to leave a send or receive in progress.
    pub fn abort(&self, reason: &str) {
        let mut end = reason.len().min(MAX_ABORT_REASON);
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        let body = &reason.as_bytes()[..end];
        let header = frame::encode_header(KIND_ABORT, 0, body.len() as u64);
        let o = &self.owner;
        let mut reactor = lock(&o.reactor);
        if !reactor.links[o.index].closed {
            let _ = reactor.send(o.index, &[&header, body], CLOSE_WAIT);
        }
    }

    /// The reason the peer gave when it stopped with an abort frame.
    pub fn peer_abort(&self) -> Option<String> {
        lock(&self.owner.peer_abort).clone()
    }
}
