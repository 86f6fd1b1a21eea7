//! The wire format of a frame, for byte-stream transports (TCP).
//!
//! A frame is a fixed 24-byte header followed by the payload:
//!
//! | bytes  | field                                                       |
//! |--------|-------------------------------------------------------------|
//! | 0..3   | magic `PML`                                                 |
//! | 3      | format version ([`VERSION`])                                |
//! | 4      | kind: 1 = u64, 2 = u128, 3 = bytes ([`Payload::kind`]); 16 = hello, 17 = abort (control) |
//! | 5..8   | reserved, zero                                              |
//! | 8..16  | round, u64 little-endian                                    |
//! | 16..24 | payload length in bytes, u64 little-endian                  |
//!
//! and then the payload: ring elements as little-endian bytes, raw bytes as
//! they are, control bodies as described on [`Message`].
//!
//! # Robustness
//!
//! [`read_message`] works on any [`Read`] and is the only place where bytes
//! from a peer are interpreted. It checks the whole header before it
//! allocates anything: magic, version, kind, reserved bytes, that the
//! length is a multiple of the element size and at most the configured
//! maximum (1 GiB by default, [`DEFAULT_MAX_PAYLOAD`]). Even a length that
//! passes these checks is not trusted: the payload buffer grows with the
//! bytes that actually arrive, [`READ_CHUNK`] at a time, so a peer that
//! claims a huge frame and sends a few bytes costs a few bytes of memory.
//! A stream that ends inside a frame is [`FrameError::Truncated`]; one that
//! ends between frames is [`FrameError::Closed`].
//!
//! # Examples
//!
//! ```
//! use privml::net::Frame;
//! use privml::net::frame::{self, Message, HEADER_LEN};
//! use privml::ring::Payload;
//!
//! let mut wire = Vec::new();
//! let frame = Frame { round: 7, payload: Payload::U64(vec![1, 2, 3]) };
//! frame::write_frame(&mut wire, &frame)?;
//! assert_eq!(wire.len(), HEADER_LEN + 24);
//!
//! match frame::read_message(&mut wire.as_slice(), frame::DEFAULT_MAX_PAYLOAD)? {
//!     Message::Data(f) => {
//!         assert_eq!(f.round, 7);
//!         assert!(matches!(f.payload, Payload::U64(v) if v == [1, 2, 3]));
//!     }
//!     _ => unreachable!(),
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::io::{self, Read, Write};

use super::{Expect, Frame};
use crate::error::DecodeError;
use crate::ring::{Payload, RingElement};

/// Bytes of the fixed frame header.
pub const HEADER_LEN: usize = 24;
/// The first three bytes of every frame.
pub const MAGIC: [u8; 3] = *b"PML";
/// The wire-format version this build speaks.
pub const VERSION: u8 = 1;
/// Default limit on one frame's payload: 1 GiB (a 2^27-element Z_2^64
/// tensor). Larger tensors must be split by the protocol.
pub const DEFAULT_MAX_PAYLOAD: u64 = 1 << 30;
/// Limit on control-frame bodies (hello, abort), whatever the data limit.
pub const MAX_CONTROL_PAYLOAD: u64 = 64 * 1024;
/// How much the payload buffer grows per read: large payloads are read in
/// pieces of this size, so memory follows the bytes actually received.
pub const READ_CHUNK: usize = 1 << 20;

/// Kind code of a hello (connection set-up) frame.
pub const KIND_HELLO: u8 = 0x10;
/// Kind code of an abort frame (the sender stops, and says why).
pub const KIND_ABORT: u8 = 0x11;

/// What a frame on the wire carries.
#[derive(Debug)]
pub enum Message {
    /// A protocol message.
    Data(Frame),
    /// Connection set-up: an opaque body the transport defines.
    Hello(Vec<u8>),
    /// The sender stops the run; the body is its reason, UTF-8 (invalid
    /// sequences replaced).
    Abort(String),
}

/// Why bytes from a peer are not a frame.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The stream ended cleanly between two frames.
    #[error("the stream ended")]
    Closed,
    /// The stream ended inside a frame.
    #[error("the stream ended inside a frame, after {got} of {expected} bytes")]
    Truncated {
        /// Bytes of the frame (header included) that arrived.
        got: u64,
        /// Bytes the frame should have had (header, or header + payload).
        expected: u64,
    },
    /// The first bytes are not `PML`.
    #[error("bad magic {0:02x?}: not a privml frame")]
    BadMagic([u8; 3]),
    /// A wire-format version this build does not speak.
    #[error("wire-format version {got}, this build speaks {VERSION}")]
    BadVersion {
        /// The version in the header.
        got: u8,
    },
    /// An unknown payload kind.
    #[error("unknown payload kind {0}")]
    BadKind(u8),
    /// Reserved header bytes that are not zero.
    #[error("reserved header bytes are not zero: {0:02x?}")]
    BadReserved([u8; 3]),
    /// A length that is not a whole number of elements.
    #[error("payload length {len} is not a multiple of {elem} bytes ({kind} elements)")]
    BadLength {
        /// The kind name.
        kind: &'static str,
        /// Element size.
        elem: u64,
        /// The length in the header.
        len: u64,
    },
    /// A length above the limit.
    #[error("frame claims {len} payload bytes, more than the limit of {max}")]
    TooLarge {
        /// The length in the header.
        len: u64,
        /// The limit.
        max: u64,
    },
    /// A frame the protocol does not expect now (its length), refused from
    /// the header before the payload is read.
    #[error("unexpected frame: {0}")]
    Unexpected(DecodeError),
    /// The underlying reader failed.
    #[error("{0}")]
    Io(#[from] io::Error),
}

impl FrameError {
    /// What is wrong with the bytes, as the crate's [`DecodeError`]; `None`
    /// for a stream that ended between frames or failed ([`FrameError::Closed`],
    /// [`FrameError::Io`]), which are transport failures, not bad bytes.
    pub fn decode_error(&self) -> Option<DecodeError> {
        Some(match self {
            FrameError::Closed | FrameError::Io(_) => return None,
            FrameError::Truncated { got, expected } => DecodeError::Truncated {
                needed: *expected,
                available: *got,
            },
            FrameError::BadMagic(_) => DecodeError::BadMagic {
                expected: "privml frame",
            },
            FrameError::BadVersion { got } => DecodeError::UnsupportedVersion {
                found: u32::from(*got),
                supported: u32::from(VERSION),
            },
            FrameError::BadKind(_) => DecodeError::BadField {
                field: "kind",
                reason: self.to_string(),
            },
            FrameError::BadReserved(_) => DecodeError::BadField {
                field: "reserved",
                reason: self.to_string(),
            },
            FrameError::BadLength { .. } => DecodeError::BadField {
                field: "length",
                reason: self.to_string(),
            },
            FrameError::TooLarge { len, max } => DecodeError::TooLarge {
                declared: *len,
                max: *max,
            },
            FrameError::Unexpected(e) => e.clone(),
        })
    }
}

/// A checked header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Kind code.
    pub kind: u8,
    /// Round number.
    pub round: u64,
    /// Payload length in bytes.
    pub len: u64,
}

/// Encodes a header.
pub fn encode_header(kind: u8, round: u64, len: u64) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..3].copy_from_slice(&MAGIC);
    h[3] = VERSION;
    h[4] = kind;
    h[8..16].copy_from_slice(&round.to_le_bytes());
    h[16..24].copy_from_slice(&len.to_le_bytes());
    h
}

fn element_size(kind: u8) -> Option<(&'static str, u64)> {
    match kind {
        1 => Some(("u64", 8)),
        2 => Some(("u128", 16)),
        3 => Some(("bytes", 1)),
        KIND_HELLO => Some(("hello", 1)),
        KIND_ABORT => Some(("abort", 1)),
        _ => None,
    }
}

/// Checks a header against the format and the payload limit `max_payload`.
pub fn decode_header(h: &[u8; HEADER_LEN], max_payload: u64) -> Result<Header, FrameError> {
    let magic = [h[0], h[1], h[2]];
    if magic != MAGIC {
        return Err(FrameError::BadMagic(magic));
    }
    if h[3] != VERSION {
        return Err(FrameError::BadVersion { got: h[3] });
    }
    let kind = h[4];
    let (name, elem) = element_size(kind).ok_or(FrameError::BadKind(kind))?;
    let reserved = [h[5], h[6], h[7]];
    if reserved != [0; 3] {
        return Err(FrameError::BadReserved(reserved));
    }
    let round = u64::from_le_bytes(h[8..16].try_into().unwrap_or_default());
    let len = u64::from_le_bytes(h[16..24].try_into().unwrap_or_default());
    let max = if kind >= KIND_HELLO {
        MAX_CONTROL_PAYLOAD.min(max_payload)
    } else {
        max_payload
    };
    if len > max {
        return Err(FrameError::TooLarge { len, max });
    }
    if !len.is_multiple_of(elem) {
        return Err(FrameError::BadLength {
            kind: name,
            elem,
            len,
        });
    }
    Ok(Header { kind, round, len })
}

/// Fills `buf` from `r`; returns how many bytes arrived before the end of the
/// stream (`buf.len()` unless it ended early).
fn read_full<R: Read + ?Sized>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Reads a payload of `len` bytes into a vector of `T`, growing it at most
/// [`READ_CHUNK`] bytes beyond what has arrived.
fn read_elems<T: RingElement, R: Read + ?Sized>(r: &mut R, len: u64) -> Result<Vec<T>, FrameError> {
    let total = usize::try_from(len).map_err(|_| FrameError::TooLarge {
        len,
        max: usize::MAX as u64,
    })? / T::BYTES;
    let chunk = (READ_CHUNK / T::BYTES).max(1);
    let mut v: Vec<T> = Vec::new();
    while v.len() < total {
        let start = v.len();
        let end = total.min(start + chunk);
        v.resize(end, T::zero());
        let bytes: &mut [u8] = bytemuck::cast_slice_mut(&mut v[start..end]);
        let got = read_full(r, bytes)?;
        if got < bytes.len() {
            return Err(FrameError::Truncated {
                got: (HEADER_LEN + start * T::BYTES + got) as u64,
                expected: HEADER_LEN as u64 + len,
            });
        }
    }
    if cfg!(target_endian = "big") {
        // The bytes are little-endian; reinterpret them in place.
        let mut fixed = vec![T::zero(); v.len()];
        T::slice_from_le_bytes(bytemuck::cast_slice(&v), &mut fixed).map_err(|e| {
            FrameError::Io(io::Error::new(io::ErrorKind::InvalidData, e.to_string()))
        })?;
        v = fixed;
    }
    Ok(v)
}

fn read_bytes<R: Read + ?Sized>(r: &mut R, len: u64) -> Result<Vec<u8>, FrameError> {
    let total = usize::try_from(len).map_err(|_| FrameError::TooLarge {
        len,
        max: usize::MAX as u64,
    })?;
    let mut v = Vec::new();
    while v.len() < total {
        let start = v.len();
        let end = total.min(start + READ_CHUNK);
        v.resize(end, 0);
        let got = read_full(r, &mut v[start..end])?;
        if got < end - start {
            return Err(FrameError::Truncated {
                got: (HEADER_LEN + start + got) as u64,
                expected: HEADER_LEN as u64 + len,
            });
        }
    }
    Ok(v)
}

/// Reads one frame (data or control) from `r`, refusing payloads above
/// `max_payload` bytes. Never panics; never allocates more than
/// [`READ_CHUNK`] bytes beyond what has arrived.
pub fn read_message<R: Read + ?Sized>(r: &mut R, max_payload: u64) -> Result<Message, FrameError> {
    let mut h = [0u8; HEADER_LEN];
    let got = read_full(r, &mut h)?;
    if got == 0 {
        return Err(FrameError::Closed);
    }
    if got < HEADER_LEN {
        return Err(FrameError::Truncated {
            got: got as u64,
            expected: HEADER_LEN as u64,
        });
    }
    let header = decode_header(&h, max_payload)?;
    let round = header.round;
    Ok(match header.kind {
        1 => Message::Data(Frame {
            round,
            payload: Payload::U64(read_elems::<u64, _>(r, header.len)?),
        }),
        2 => Message::Data(Frame {
            round,
            payload: Payload::U128(read_elems::<u128, _>(r, header.len)?),
        }),
        3 => Message::Data(Frame {
            round,
            payload: Payload::Bytes(read_bytes(r, header.len)?),
        }),
        KIND_HELLO => Message::Hello(read_bytes(r, header.len)?),
        KIND_ABORT => {
            Message::Abort(String::from_utf8_lossy(&read_bytes(r, header.len)?).into_owned())
        }
        k => return Err(FrameError::BadKind(k)),
    })
}

/// The payload being read by a [`FrameDecoder`], typed from the header.
#[derive(Debug)]
enum Body {
    U64(Vec<u64>),
    U128(Vec<u128>),
    Bytes(Vec<u8>),
}

impl Body {
    fn for_kind(kind: u8) -> Self {
        match kind {
            1 => Body::U64(Vec::new()),
            2 => Body::U128(Vec::new()),
            _ => Body::Bytes(Vec::new()),
        }
    }

    /// Makes room for the next bytes of a `total`-byte payload of which
    /// `got` arrived: at most [`READ_CHUNK`] more (or all of it at once
    /// when `exact`, a size the protocol asked for), and returns it.
    fn room(&mut self, got: usize, total: usize, exact: bool) -> &mut [u8] {
        let want = if exact {
            total
        } else {
            total.min(got + READ_CHUNK)
        };
        match self {
            Body::U64(v) => grow(v, got, want),
            Body::U128(v) => grow(v, got, want),
            Body::Bytes(v) => grow(v, got, want),
        }
    }

    fn into_message(self, kind: u8, round: u64) -> Result<Message, FrameError> {
        Ok(match self {
            Body::U64(v) => Message::Data(Frame {
                round,
                payload: Payload::U64(from_le(v)?),
            }),
            Body::U128(v) => Message::Data(Frame {
                round,
                payload: Payload::U128(from_le(v)?),
            }),
            Body::Bytes(b) => match kind {
                KIND_HELLO => Message::Hello(b),
                KIND_ABORT => Message::Abort(String::from_utf8_lossy(&b).into_owned()),
                _ => Message::Data(Frame {
                    round,
                    payload: Payload::Bytes(b),
                }),
            },
        })
    }
}

/// The unfilled bytes of `v`, of which `got` bytes are filled; when none
/// are left, `v` first grows to hold `want` bytes (so it grows by whole
/// chunks, never per read).
fn grow<T: bytemuck::Pod + Default>(v: &mut Vec<T>, got: usize, want: usize) -> &mut [u8] {
    let size = std::mem::size_of::<T>();
    if got >= v.len() * size {
        let elems = want / size;
        if v.len() < elems {
            v.reserve_exact(elems - v.len());
            v.resize(elems, T::default());
        }
    }
    &mut bytemuck::cast_slice_mut::<T, u8>(v)[got..]
}

/// The elements of a payload read as little-endian bytes.
fn from_le<T: RingElement>(v: Vec<T>) -> Result<Vec<T>, FrameError> {
    if cfg!(target_endian = "big") {
        let mut fixed = vec![T::zero(); v.len()];
        T::slice_from_le_bytes(bytemuck::cast_slice(&v), &mut fixed).map_err(|e| {
            FrameError::Io(io::Error::new(io::ErrorKind::InvalidData, e.to_string()))
        })?;
        return Ok(fixed);
    }
    Ok(v)
}

#[derive(Debug)]
enum DecodeState {
    Header {
        buf: [u8; HEADER_LEN],
        got: usize,
    },
    Body {
        header: Header,
        body: Body,
        got: usize,
        exact: bool,
    },
}

/// An incremental frame reader for non-blocking streams: [`poll`](Self::poll)
/// reads what is available now and resumes where it stopped on the next
/// call. It makes the checks of [`read_message`] and one more: the length of
/// a data frame against what the protocol [`Expect`]s, from the header,
/// before any of the payload is read or allocated.
///
/// # Examples
///
/// ```
/// use std::io::{self, Read};
/// use privml::net::{Expect, Frame};
/// use privml::net::frame::{self, FrameDecoder, FrameError, Message};
/// use privml::ring::Payload;
///
/// /// A non-blocking stream: the bytes that arrived, then "would block".
/// struct Arrived<'a>(&'a [u8]);
/// impl Read for Arrived<'_> {
///     fn read(&mut self, dst: &mut [u8]) -> io::Result<usize> {
///         if self.0.is_empty() {
///             return Err(io::ErrorKind::WouldBlock.into());
///         }
///         self.0.read(dst)
///     }
/// }
///
/// let mut wire = Vec::new();
/// frame::write_frame(&mut wire, &Frame { round: 1, payload: Payload::U64(vec![5; 1000]) })?;
/// let mut d = FrameDecoder::new(frame::DEFAULT_MAX_PAYLOAD);
/// // the first 100 bytes: not a whole frame yet
/// assert!(d.poll(&mut Arrived(&wire[..100]), None)?.is_none());
/// assert!(matches!(d.poll(&mut Arrived(&wire[100..]), None)?, Some(Message::Data(_))));
/// // a frame of 1000 elements where the protocol expects 3: refused at the header
/// let mut d = FrameDecoder::new(frame::DEFAULT_MAX_PAYLOAD);
/// let e = d.poll(&mut Arrived(&wire[..24]), Some(&Expect::elems(3, 8))).unwrap_err();
/// assert!(matches!(e, FrameError::Unexpected(_)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct FrameDecoder {
    max_payload: u64,
    state: DecodeState,
}

impl FrameDecoder {
    /// A decoder that refuses payloads above `max_payload` bytes.
    pub fn new(max_payload: u64) -> Self {
        FrameDecoder {
            max_payload,
            state: DecodeState::Header {
                buf: [0; HEADER_LEN],
                got: 0,
            },
        }
    }

    /// The header of the frame being read, once it has arrived.
    pub fn header(&self) -> Option<Header> {
        match &self.state {
            DecodeState::Body { header, .. } => Some(*header),
            DecodeState::Header { .. } => None,
        }
    }

    /// Whether no byte of a next frame has arrived.
    pub fn between_frames(&self) -> bool {
        matches!(self.state, DecodeState::Header { got: 0, .. })
    }

    /// Reads from `r` until a whole frame has arrived (`Ok(Some)`) or `r`
    /// has nothing more now (`Ok(None)`: it returned
    /// [`io::ErrorKind::WouldBlock`]). `expect`, if given, is checked
    /// against the length of the next data frame whose header is read (or
    /// has been read) in this call. A stream that ends is
    /// [`FrameError::Closed`] between frames and [`FrameError::Truncated`]
    /// inside one.
    pub fn poll<R: Read + ?Sized>(
        &mut self,
        r: &mut R,
        expect: Option<&Expect>,
    ) -> Result<Option<Message>, FrameError> {
        loop {
            match &mut self.state {
                DecodeState::Header { buf, got } => {
                    let n = match r.read(&mut buf[*got..]) {
                        Ok(0) if *got == 0 => return Err(FrameError::Closed),
                        Ok(0) => {
                            return Err(FrameError::Truncated {
                                got: *got as u64,
                                expected: HEADER_LEN as u64,
                            });
                        }
                        Ok(n) => n,
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => return Err(FrameError::Io(e)),
                    };
                    *got += n;
                    if *got < HEADER_LEN {
                        continue;
                    }
                    let header = decode_header(buf, self.max_payload)?;
                    let len = usize::try_from(header.len).map_err(|_| FrameError::TooLarge {
                        len: header.len,
                        max: usize::MAX as u64,
                    })?;
                    let mut exact = false;
                    if header.kind < KIND_HELLO
                        && let Some(x) = expect
                    {
                        x.check(header.len).map_err(FrameError::Unexpected)?;
                        exact = true;
                    }
                    let body = Body::for_kind(header.kind);
                    self.state = DecodeState::Body {
                        header,
                        body,
                        got: 0,
                        exact,
                    };
                    if len == 0 {
                        return self.finish().map(Some);
                    }
                }
                DecodeState::Body {
                    header,
                    body,
                    got,
                    exact,
                } => {
                    let total = header.len as usize;
                    if !*exact
                        && header.kind < KIND_HELLO
                        && let Some(x) = expect
                    {
                        x.check(header.len).map_err(FrameError::Unexpected)?;
                        *exact = true;
                    }
                    let room = body.room(*got, total, *exact);
                    let n = match r.read(room) {
                        Ok(0) => {
                            return Err(FrameError::Truncated {
                                got: (HEADER_LEN + *got) as u64,
                                expected: HEADER_LEN as u64 + header.len,
                            });
                        }
                        Ok(n) => n,
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => return Err(FrameError::Io(e)),
                    };
                    *got += n;
                    if *got == total {
                        return self.finish().map(Some);
                    }
                }
            }
        }
    }

    /// The frame whose payload is complete; the decoder waits for the next.
    fn finish(&mut self) -> Result<Message, FrameError> {
        let state = std::mem::replace(
            &mut self.state,
            DecodeState::Header {
                buf: [0; HEADER_LEN],
                got: 0,
            },
        );
        match state {
            DecodeState::Body { header, body, .. } => body.into_message(header.kind, header.round),
            DecodeState::Header { .. } => Err(FrameError::Io(io::Error::other(
                "frame decoder finished without a header",
            ))),
        }
    }
}

/// Reads one data frame; a control frame is an error.
pub fn read_frame<R: Read + ?Sized>(r: &mut R, max_payload: u64) -> Result<Frame, FrameError> {
    match read_message(r, max_payload)? {
        Message::Data(f) => Ok(f),
        Message::Hello(_) => Err(FrameError::BadKind(KIND_HELLO)),
        Message::Abort(_) => Err(FrameError::BadKind(KIND_ABORT)),
    }
}

/// The header and the little-endian payload bytes of `frame` (borrowed from
/// the frame on little-endian machines: no copy of the payload).
pub fn frame_parts(frame: &Frame) -> ([u8; HEADER_LEN], std::borrow::Cow<'_, [u8]>) {
    let p = &frame.payload;
    let bytes = match p {
        Payload::U64(v) => u64::slice_to_le_bytes(v),
        Payload::U128(v) => u128::slice_to_le_bytes(v),
        Payload::Bytes(v) => std::borrow::Cow::Borrowed(v.as_slice()),
    };
    (
        encode_header(p.kind(), frame.round, bytes.len() as u64),
        bytes,
    )
}

/// Writes `frame` to `w`: the header, then the payload straight from the
/// frame's vector (no second copy on little-endian machines). Does not flush.
pub fn write_frame<W: Write + ?Sized>(w: &mut W, frame: &Frame) -> io::Result<()> {
    let (h, bytes) = frame_parts(frame);
    w.write_all(&h)?;
    w.write_all(&bytes)
}

/// Writes a control frame (`KIND_HELLO` or `KIND_ABORT`) with `body`.
pub fn write_control<W: Write + ?Sized>(w: &mut W, kind: u8, body: &[u8]) -> io::Result<()> {
    w.write_all(&encode_header(kind, 0, body.len() as u64))?;
    w.write_all(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(p: Payload) -> Frame {
        let mut wire = Vec::new();
        write_frame(
            &mut wire,
            &Frame {
                round: 3,
                payload: p,
            },
        )
        .unwrap();
        read_frame(&mut wire.as_slice(), DEFAULT_MAX_PAYLOAD).unwrap()
    }

    #[test]
    fn all_kinds_roundtrip() {
        let f = roundtrip(Payload::U64(vec![1, u64::MAX]));
        assert!(matches!(f.payload, Payload::U64(v) if v == [1, u64::MAX]));
        let f = roundtrip(Payload::U128(vec![u128::MAX - 5]));
        assert!(matches!(f.payload, Payload::U128(v) if v == [u128::MAX - 5]));
        let f = roundtrip(Payload::Bytes(vec![9; 17]));
        assert!(matches!(f.payload, Payload::Bytes(v) if v == [9; 17]));
        let f = roundtrip(Payload::U64(vec![]));
        assert_eq!(f.round, 3);
    }

    #[test]
    fn payload_larger_than_a_chunk() {
        let v: Vec<u64> = (0..(3 * READ_CHUNK as u64 / 8 + 5)).collect();
        let f = roundtrip(Payload::U64(v.clone()));
        assert!(matches!(f.payload, Payload::U64(w) if w == v));
    }

    #[test]
    fn header_checks() {
        let ok = encode_header(1, 0, 16);
        assert!(decode_header(&ok, 1024).is_ok());
        let mut bad = ok;
        bad[0] = b'X';
        assert!(matches!(
            decode_header(&bad, 1024),
            Err(FrameError::BadMagic(_))
        ));
        let mut bad = ok;
        bad[3] = 9;
        assert!(matches!(
            decode_header(&bad, 1024),
            Err(FrameError::BadVersion { got: 9 })
        ));
        assert!(matches!(
            decode_header(&encode_header(7, 0, 8), 1024),
            Err(FrameError::BadKind(7))
        ));
        let mut bad = ok;
        bad[6] = 1;
        assert!(matches!(
            decode_header(&bad, 1024),
            Err(FrameError::BadReserved(_))
        ));
        assert!(matches!(
            decode_header(&encode_header(2, 0, 24), 1024),
            Err(FrameError::BadLength { .. })
        ));
        assert!(matches!(
            decode_header(&encode_header(1, 0, 2048), 1024),
            Err(FrameError::TooLarge {
                len: 2048,
                max: 1024
            })
        ));
        assert!(matches!(
            decode_header(&encode_header(KIND_ABORT, 0, 1 << 20), 1 << 30),
            Err(FrameError::TooLarge { .. })
        ));
    }

    #[test]
    fn decode_errors_of_bad_bytes_only() {
        let too_large = decode_header(&encode_header(1, 0, 2048), 1024).unwrap_err();
        assert_eq!(
            too_large.decode_error(),
            Some(DecodeError::TooLarge {
                declared: 2048,
                max: 1024
            })
        );
        let truncated = read_message(&mut &encode_header(1, 0, 8)[..], 1024).unwrap_err();
        assert_eq!(
            truncated.decode_error(),
            Some(DecodeError::Truncated {
                needed: HEADER_LEN as u64 + 8,
                available: HEADER_LEN as u64
            })
        );
        assert_eq!(FrameError::Closed.decode_error(), None);
        assert_eq!(
            FrameError::Io(io::ErrorKind::BrokenPipe.into()).decode_error(),
            None
        );
    }

    #[test]
    fn closed_and_truncated() {
        assert!(matches!(
            read_message(&mut &[][..], 1024),
            Err(FrameError::Closed)
        ));
        let mut wire = Vec::new();
        write_frame(
            &mut wire,
            &Frame {
                round: 0,
                payload: Payload::U64(vec![1, 2]),
            },
        )
        .unwrap();
        for cut in 1..wire.len() {
            assert!(matches!(
                read_message(&mut &wire[..cut], 1024),
                Err(FrameError::Truncated { .. })
            ));
        }
    }

    #[test]
    fn control_frames() {
        let mut wire = Vec::new();
        write_control(&mut wire, KIND_ABORT, "party 2 disconnected".as_bytes()).unwrap();
        write_control(&mut wire, KIND_HELLO, &[1, 2, 3]).unwrap();
        let mut r = wire.as_slice();
        assert!(matches!(read_message(&mut r, 1024).unwrap(),
            Message::Abort(s) if s == "party 2 disconnected"));
        assert!(matches!(read_message(&mut r, 1024).unwrap(),
            Message::Hello(b) if b == [1, 2, 3]));
        let mut r = wire.as_slice();
        assert!(read_frame(&mut r, 1024).is_err());
    }
}
