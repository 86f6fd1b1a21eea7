//! Transport: how a party talks to the next and the previous party.
//!
//! A [`Channel`] carries [`Frame`]s to one peer. Each party holds two, to
//! its successor (`me + 1 mod 3`) and its predecessor (`me + 2 mod 3`), and
//! wraps them in a [`Net`], which
//!
//! - numbers communication rounds and tags every frame with the round it
//!   belongs to, so that two parties that have fallen out of step notice at
//!   the first message instead of computing garbage;
//! - checks that every frame has the element type and length the protocol
//!   expects ([`Error::Decode`] of a `"frame"` from the peer otherwise);
//! - turns a closed channel into [`Error::PeerDisconnected`] and a silent
//!   peer into [`Error::Timeout`], naming the peer and the operation;
//! - counts the bytes, frames and rounds this party sent ([`NetStats`]),
//!   which is what `Shared` reports as its cost.
//!
//! Implementations: [`memory`] (three parties as threads of one process) and,
//! with the `tls` feature, [`tcp`]: TCP with mutual TLS ([`frame`] is its
//! wire format, [`tls`] its certificates, [`config`] the parties file).
//! [`emulate`] wraps either in an emulated network link (delay and
//! bandwidth), to measure what a deployment on a LAN or WAN would cost.

#[cfg(feature = "tls")]
pub mod client_tls;
#[cfg(feature = "tls")]
pub mod config;
pub mod emulate;
pub mod frame;
pub mod memory;
pub mod session;
#[cfg(feature = "tls")]
pub mod tcp;
#[cfg(feature = "tls")]
pub mod tls;

use std::time::{Duration, Instant};

use crate::error::{DecodeError, Error, Origin, Result};
use crate::ring::{Payload, RingElement};

/// One message: the round it belongs to and its payload.
#[derive(Debug)]
pub struct Frame {
    /// The sender's round counter when it sent the frame.
    pub round: u64,
    /// The data.
    pub payload: Payload,
}

/// Why a channel operation failed (turned into an [`Error`] by [`Net`]).
#[derive(Debug)]
pub enum ChannelError {
    /// The peer closed the channel (or its process died).
    Disconnected,
    /// Nothing arrived within the timeout.
    Timeout,
    /// Bytes arrived that do not form a valid frame.
    Malformed(DecodeError),
}

/// What the protocol expects of the next frame on a link: its payload's
/// length. Transports check it against the frame's header, before the
/// payload is read or allocated; [`Net`] checks the whole frame again.
///
/// # Examples
///
/// ```
/// use privml::net::Expect;
///
/// assert!(Expect::elems(4, 8).check(32).is_ok());
/// assert!(Expect::elems(4, 8).check(1 << 29).is_err());
/// assert!(Expect::at_most_bytes(100).check(64).is_ok());
/// assert!(Expect::ANY.check(u64::MAX).is_ok());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expect {
    /// Bytes per element (the unit of error messages).
    unit: u64,
    /// Smallest payload in bytes.
    min: u64,
    /// Largest payload in bytes.
    max: u64,
}

impl Expect {
    /// Any length (the transport's own limit still applies).
    pub const ANY: Expect = Expect {
        unit: 1,
        min: 0,
        max: u64::MAX,
    };

    /// Exactly `n` elements of `elem_bytes` bytes.
    pub fn elems(n: usize, elem_bytes: usize) -> Self {
        let bytes = (n as u64).saturating_mul(elem_bytes as u64);
        Expect {
            unit: (elem_bytes as u64).max(1),
            min: bytes,
            max: bytes,
        }
    }

    /// Exactly `n` bytes.
    pub fn bytes(n: usize) -> Self {
        Self::elems(n, 1)
    }

    /// At most `max` bytes.
    pub fn at_most_bytes(max: usize) -> Self {
        Expect {
            unit: 1,
            min: 0,
            max: max as u64,
        }
    }

    /// Whether a payload of `len` bytes is what is expected
    /// ([`DecodeError::WrongLength`] in elements, or [`DecodeError::TooLarge`]).
    pub fn check(&self, len: u64) -> Result<(), DecodeError> {
        if self.min == self.max && len != self.min {
            return Err(DecodeError::WrongLength {
                expected: self.min / self.unit,
                found: len / self.unit,
            });
        }
        if len > self.max {
            return Err(DecodeError::TooLarge {
                declared: len,
                max: self.max,
            });
        }
        Ok(())
    }
}

/// A bidirectional, ordered, reliable link to one peer.
pub trait Channel: Send {
    /// Sends a frame. May return before the peer has read it.
    fn send(&mut self, frame: Frame) -> Result<(), ChannelError>;
    /// Waits at most `timeout` for the next frame.
    fn recv(&mut self, timeout: Duration) -> Result<Frame, ChannelError>;
    /// [`recv`](Self::recv) of a frame whose payload length the protocol
    /// knows (`expect`; a frame of another length is
    /// [`ChannelError::Malformed`]), also returning when the frame reached
    /// this end of the channel (what the [`emulate`] wrapper delays from).
    /// Transports that read from a byte stream check the length from the
    /// header, before reading the payload. The default receives, then
    /// checks, and stamps the moment `recv` returned.
    fn recv_expecting(
        &mut self,
        timeout: Duration,
        expect: Expect,
    ) -> Result<(Frame, Instant), ChannelError> {
        let f = self.recv(timeout)?;
        check_expected(&f, &expect)?;
        Ok((f, Instant::now()))
    }
    /// Bytes this channel put on the wire beyond the payloads (frame headers,
    /// for transports that have them). Reported, not counted in the cost model.
    fn overhead_bytes(&self) -> u64 {
        0
    }
}

/// Checks a received frame's payload length against `expect`. Elements of
/// the other ring are passed on: that is a kind mismatch, which the
/// receiver reports as [`DecodeError::WrongKind`] when it decodes them.
pub fn check_expected(frame: &Frame, expect: &Expect) -> Result<(), ChannelError> {
    let elem_bytes = match &frame.payload {
        Payload::U64(_) => 8,
        Payload::U128(_) => 16,
        Payload::Bytes(_) => 1,
    };
    if elem_bytes > 1 && expect.unit > 1 && elem_bytes != expect.unit {
        return Ok(());
    }
    expect
        .check(frame.payload.byte_len() as u64)
        .map_err(ChannelError::Malformed)
}

/// A boxed channel is a channel (so that wrappers such as
/// [`emulate::Emulated`] take the boxed links of a [`Net`]).
impl<C: Channel + ?Sized> Channel for Box<C> {
    fn send(&mut self, frame: Frame) -> Result<(), ChannelError> {
        (**self).send(frame)
    }
    fn recv(&mut self, timeout: Duration) -> Result<Frame, ChannelError> {
        (**self).recv(timeout)
    }
    fn recv_expecting(
        &mut self,
        timeout: Duration,
        expect: Expect,
    ) -> Result<(Frame, Instant), ChannelError> {
        (**self).recv_expecting(timeout, expect)
    }
    fn overhead_bytes(&self) -> u64 {
        (**self).overhead_bytes()
    }
}

/// What one party sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetStats {
    /// Payload bytes sent.
    pub bytes_sent: u64,
    /// Frames sent.
    pub messages_sent: u64,
    /// Communication rounds begun.
    pub rounds: u64,
}

/// Default time to wait for a peer before giving up.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// A party's two links with round numbering, checking and counting.
pub struct Net {
    me: usize,
    next: Box<dyn Channel>,
    prev: Box<dyn Channel>,
    timeout: Duration,
    stats: NetStats,
    op: &'static str,
}

impl std::fmt::Debug for Net {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Net")
            .field("me", &self.me)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Net {
    /// Party `me`'s links: `next` goes to party `me + 1 mod 3`, `prev` to
    /// `me + 2 mod 3`.
    pub fn new(
        me: usize,
        next: Box<dyn Channel>,
        prev: Box<dyn Channel>,
        timeout: Duration,
    ) -> Result<Self> {
        if me > 2 {
            return Err(Error::InvalidParty(me));
        }
        Ok(Net {
            me,
            next,
            prev,
            timeout,
            stats: NetStats::default(),
            op: "set-up",
        })
    }

    /// This party's id.
    pub fn me(&self) -> usize {
        self.me
    }

    /// The successor's id.
    pub fn next_id(&self) -> usize {
        (self.me + 1) % 3
    }

    /// The predecessor's id.
    pub fn prev_id(&self) -> usize {
        (self.me + 2) % 3
    }

    /// What was sent so far.
    pub fn stats(&self) -> NetStats {
        self.stats
    }

    /// Header bytes on top of the payloads, as the transports report them.
    pub fn overhead_bytes(&self) -> u64 {
        self.next.overhead_bytes() + self.prev.overhead_bytes()
    }

    /// Zeroes the counters (after key set-up).
    pub fn reset_stats(&mut self) {
        self.stats = NetStats::default();
    }

    /// The per-operation timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Starts communication round `op`. Every party calls this for every
    /// round of a protocol, whether or not it sends in it, so the counters
    /// stay in step.
    pub fn begin_round(&mut self, op: &'static str) {
        self.stats.rounds += 1;
        self.op = op;
    }

    fn channel(&mut self, peer: usize) -> Result<&mut Box<dyn Channel>> {
        if peer == self.next_id() {
            Ok(&mut self.next)
        } else if peer == self.prev_id() {
            Ok(&mut self.prev)
        } else {
            Err(Error::InvalidParty(peer))
        }
    }

    fn map_err(&self, peer: usize, e: ChannelError) -> Error {
        match e {
            ChannelError::Disconnected => Error::PeerDisconnected {
                party: peer,
                op: self.op.to_string(),
            },
            ChannelError::Timeout => Error::Timeout {
                party: peer,
                op: self.op.to_string(),
                timeout: self.timeout,
            },
            ChannelError::Malformed(error) => self.malformed(peer, error),
        }
    }

    /// A frame from `peer` that is not what the current round expects.
    fn malformed(&self, peer: usize, error: DecodeError) -> Error {
        Error::Decode {
            what: "frame",
            origin: Origin::Peer {
                party: peer,
                op: self.op.to_string(),
            },
            error,
        }
    }

    /// Sends `payload` to `peer` in the current round.
    pub fn send(&mut self, peer: usize, payload: Payload) -> Result<()> {
        let bytes = payload.byte_len() as u64;
        let frame = Frame {
            round: self.stats.rounds,
            payload,
        };
        let r = self.channel(peer)?.send(frame);
        r.map_err(|e| self.map_err(peer, e))?;
        self.stats.bytes_sent += bytes;
        self.stats.messages_sent += 1;
        Ok(())
    }

    /// Sends ring elements to `peer`.
    pub fn send_elems<T: RingElement>(&mut self, peer: usize, v: Vec<T>) -> Result<()> {
        self.send(peer, T::into_payload(v))
    }

    /// Receives the frame of the current round from `peer`, whose payload
    /// the protocol expects to be `expect` long.
    fn recv_frame(&mut self, peer: usize, expect: Expect) -> Result<Frame> {
        let timeout = self.timeout;
        let r = self.channel(peer)?.recv_expecting(timeout, expect);
        let (frame, _) = r.map_err(|e| self.map_err(peer, e))?;
        if frame.round != self.stats.rounds {
            return Err(self.malformed(
                peer,
                DecodeError::BadField {
                    field: "round",
                    reason: format!(
                        "out of step: frame of round {} arrived in round {}",
                        frame.round, self.stats.rounds
                    ),
                },
            ));
        }
        Ok(frame)
    }

    /// Receives exactly `len` ring elements from `peer` (any other type or
    /// length is an [`Error::Decode`]).
    pub fn recv_elems<T: RingElement>(&mut self, peer: usize, len: usize) -> Result<Vec<T>> {
        let frame = self.recv_frame(peer, Expect::elems(len, T::BYTES))?;
        let v = match frame.payload {
            Payload::Bytes(b) => {
                T::from_bytes_payload(&b).map_err(|e| self.malformed(peer, e.into()))?
            }
            p => T::from_payload(p).map_err(|kind| {
                self.malformed(peer, wrong_kind(format!("{} elements", T::NAME), kind))
            })?,
        };
        if v.len() != len {
            return Err(self.malformed(
                peer,
                DecodeError::WrongLength {
                    expected: len as u64,
                    found: v.len() as u64,
                },
            ));
        }
        Ok(v)
    }

    /// Receives up to `max` raw bytes from `peer` (any length in that range).
    pub fn recv_any_bytes(&mut self, peer: usize, max: usize) -> Result<Vec<u8>> {
        let frame = self.recv_frame(peer, Expect::at_most_bytes(max))?;
        match frame.payload {
            Payload::Bytes(b) if b.len() <= max => Ok(b),
            Payload::Bytes(b) => Err(self.malformed(
                peer,
                DecodeError::TooLarge {
                    declared: b.len() as u64,
                    max: max as u64,
                },
            )),
            p => Err(self.malformed(peer, wrong_kind("bytes", p.kind_name()))),
        }
    }

    /// Receives exactly `len` raw bytes from `peer`.
    pub fn recv_bytes(&mut self, peer: usize, len: usize) -> Result<Vec<u8>> {
        let frame = self.recv_frame(peer, Expect::bytes(len))?;
        match frame.payload {
            Payload::Bytes(b) if b.len() == len => Ok(b),
            Payload::Bytes(b) => Err(self.malformed(
                peer,
                DecodeError::WrongLength {
                    expected: len as u64,
                    found: b.len() as u64,
                },
            )),
            p => Err(self.malformed(peer, wrong_kind("bytes", p.kind_name()))),
        }
    }
}

/// A payload of another element type than the protocol expects.
fn wrong_kind(expected: impl Into<String>, found: &str) -> DecodeError {
    DecodeError::WrongKind {
        expected: expected.into(),
        found: found.to_string(),
    }
}
