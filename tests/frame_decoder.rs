//! The frame decoder against hostile input: random bytes, truncated frames,
//! headers that claim huge payloads, wrong magic, version and kind. Every
//! case must end in an error or a frame, never a panic, and a claimed length
//! must never be allocated before the bytes arrive (checked with a counting
//! allocator).

mod alloc_stats;

use alloc_stats::allocated_by;
use privml::net::Frame;
use privml::net::frame::{
    self, DEFAULT_MAX_PAYLOAD, FrameError, HEADER_LEN, Message, READ_CHUNK, encode_header,
};
use privml::ring::Payload;
use proptest::prelude::*;

fn encode(frame: &Frame) -> Vec<u8> {
    let mut wire = Vec::new();
    frame::write_frame(&mut wire, frame).unwrap();
    wire
}

#[test]
fn huge_claimed_lengths_fail_fast_without_allocating_them() {
    for (kind, len) in [
        (3u8, 1u64 << 40),
        (1, 1 << 40),
        (2, 1 << 40),
        (3, u64::MAX),
        (1, u64::MAX - 7),
    ] {
        let mut wire = encode_header(kind, 0, len).to_vec();
        wire.extend_from_slice(&[7u8; 100]);
        // With the default limit: refused from the header alone.
        let (r, bytes) =
            allocated_by(|| frame::read_message(&mut wire.as_slice(), DEFAULT_MAX_PAYLOAD));
        assert!(r.is_err(), "kind {kind} len {len}");
        assert!(
            bytes < 4096,
            "kind {kind} len {len}: allocated {bytes} bytes"
        );
        // With no limit at all: the stream ends long before, and memory
        // follows what arrived (one chunk), not what was claimed.
        let t0 = std::time::Instant::now();
        let (r, bytes) = allocated_by(|| frame::read_message(&mut wire.as_slice(), u64::MAX));
        assert!(r.is_err(), "kind {kind} len {len}");
        assert!(
            bytes <= READ_CHUNK + 4096,
            "kind {kind} len {len}: allocated {bytes} bytes"
        );
        assert!(t0.elapsed().as_millis() < 500);
    }
    // Just under the limit: accepted from the header, then memory follows
    // the bytes that arrive.
    let mut wire = encode_header(3, 0, DEFAULT_MAX_PAYLOAD - 1).to_vec();
    wire.extend_from_slice(&[7u8; 100]);
    let (r, bytes) =
        allocated_by(|| frame::read_message(&mut wire.as_slice(), DEFAULT_MAX_PAYLOAD));
    assert!(
        matches!(r, Err(FrameError::Truncated { got: 124, .. })),
        "{r:?}"
    );
    assert!(bytes <= READ_CHUNK + 4096, "allocated {bytes} bytes");

    let mut wire = encode_header(3, 0, 1 << 40).to_vec();
    wire.extend_from_slice(&[0; 10]);
    match frame::read_message(&mut wire.as_slice(), DEFAULT_MAX_PAYLOAD) {
        Err(FrameError::TooLarge { len, max }) => {
            assert_eq!((len, max), (1 << 40, DEFAULT_MAX_PAYLOAD));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn wrong_magic_version_kind_reserved_and_length() {
    let good = encode(&Frame {
        round: 1,
        payload: Payload::U64(vec![5, 6]),
    });
    let case = |i: usize, v: u8| {
        let mut w = good.clone();
        w[i] = v;
        frame::read_message(&mut w.as_slice(), 1024)
    };
    assert!(matches!(case(0, b'X'), Err(FrameError::BadMagic(_))));
    assert!(matches!(case(3, 2), Err(FrameError::BadVersion { got: 2 })));
    assert!(matches!(case(4, 0), Err(FrameError::BadKind(0))));
    assert!(matches!(case(4, 0xff), Err(FrameError::BadKind(0xff))));
    assert!(matches!(case(5, 1), Err(FrameError::BadReserved(_))));
    // u128 elements are 16 bytes: 16 payload bytes are fine, 8 are not.
    assert!(matches!(case(4, 2), Ok(Message::Data(_))));
    let mut w = good.clone();
    w[4] = 2;
    w[16] = 8;
    assert!(matches!(
        frame::read_message(&mut w.as_slice(), 1024),
        Err(FrameError::BadLength { len: 8, .. })
    ));
    assert!(frame::read_frame(&mut good.as_slice(), 1024).is_ok());
}

#[test]
fn every_truncation_of_valid_frames_is_an_error() {
    for payload in [
        Payload::U64(vec![1, 2, 3]),
        Payload::U128(vec![u128::MAX]),
        Payload::Bytes(b"seed bytes".to_vec()),
    ] {
        let wire = encode(&Frame { round: 9, payload });
        assert!(frame::read_message(&mut wire.as_slice(), 1024).is_ok());
        for cut in 0..wire.len() {
            let r = frame::read_message(&mut &wire[..cut], 1024);
            if cut == 0 {
                assert!(matches!(r, Err(FrameError::Closed)));
            } else {
                assert!(
                    matches!(r, Err(FrameError::Truncated { .. })),
                    "cut at {cut}: {r:?}"
                );
            }
        }
    }
}

fn payload() -> impl Strategy<Value = Payload> {
    prop_oneof![
        prop::collection::vec(any::<u64>(), 0..40).prop_map(Payload::U64),
        prop::collection::vec(any::<u128>(), 0..20).prop_map(Payload::U128),
        prop::collection::vec(any::<u8>(), 0..200).prop_map(Payload::Bytes),
    ]
}

fn same(a: &Payload, b: &Payload) -> bool {
    match (a, b) {
        (Payload::U64(x), Payload::U64(y)) => x == y,
        (Payload::U128(x), Payload::U128(y)) => x == y,
        (Payload::Bytes(x), Payload::Bytes(y)) => x == y,
        _ => false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let mut r = bytes.as_slice();
        // Decode until the input is exhausted or refused.
        for _ in 0..10 {
            if frame::read_message(&mut r, 1 << 20).is_err() {
                break;
            }
        }
    }

    #[test]
    fn random_bytes_after_a_valid_magic_never_panic(
        kind in any::<u8>(),
        reserved in any::<[u8; 3]>(),
        round in any::<u64>(),
        len in prop_oneof![any::<u64>(), 0u64..512],
        tail in prop::collection::vec(any::<u8>(), 0..600),
    ) {
        let mut w = encode_header(kind, round, len).to_vec();
        w[5..8].copy_from_slice(&reserved);
        w.extend_from_slice(&tail);
        let (r, bytes) = allocated_by(|| frame::read_message(&mut w.as_slice(), u64::MAX));
        prop_assert!(bytes <= READ_CHUNK + 4096);
        if let Ok(Message::Data(f)) = r {
            prop_assert_eq!(f.round, round);
            prop_assert_eq!(f.payload.byte_len() as u64, len);
        }
    }

    #[test]
    fn frames_roundtrip_and_concatenate(ps in prop::collection::vec(payload(), 1..5), round in any::<u64>()) {
        let mut wire = Vec::new();
        for p in &ps {
            let p = match p {
                Payload::U64(v) => Payload::U64(v.clone()),
                Payload::U128(v) => Payload::U128(v.clone()),
                Payload::Bytes(v) => Payload::Bytes(v.clone()),
            };
            wire.extend(encode(&Frame { round, payload: p }));
        }
        let total: usize = ps.iter().map(|p| p.byte_len() + HEADER_LEN).sum();
        prop_assert_eq!(wire.len(), total);
        let mut r = wire.as_slice();
        for p in &ps {
            let f = frame::read_frame(&mut r, 1 << 20).unwrap();
            prop_assert_eq!(f.round, round);
            prop_assert!(same(&f.payload, p));
        }
        prop_assert!(matches!(frame::read_message(&mut r, 1 << 20), Err(FrameError::Closed)));
    }
}

/// A non-blocking stream: hands out `data` in pieces of the given sizes,
/// answering `WouldBlock` between pieces, and ends after the last.
struct Trickle<'a> {
    data: &'a [u8],
    pieces: Vec<usize>,
    blocked: bool,
}

impl std::io::Read for Trickle<'_> {
    fn read(&mut self, dst: &mut [u8]) -> std::io::Result<usize> {
        if self.blocked {
            self.blocked = false;
            return Err(std::io::ErrorKind::WouldBlock.into());
        }
        let piece = self.pieces.pop().unwrap_or(self.data.len()).max(1);
        let n = piece.min(dst.len()).min(self.data.len());
        dst[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        self.blocked = true;
        Ok(n)
    }
}

/// Every message the incremental decoder finds in `wire`, fed in `pieces`.
fn decode_incrementally(
    wire: &[u8],
    pieces: Vec<usize>,
    max: u64,
) -> (Vec<Message>, Result<(), FrameError>) {
    let mut d = frame::FrameDecoder::new(max);
    let mut r = Trickle {
        data: wire,
        pieces,
        blocked: false,
    };
    let mut out = Vec::new();
    for _ in 0..wire.len() * 2 + 8 {
        match d.poll(&mut r, None) {
            Ok(Some(m)) => out.push(m),
            Ok(None) => {}
            Err(e) => return (out, Err(e)),
        }
    }
    (out, Ok(()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// The incremental decoder finds the frames the blocking one finds,
    /// whatever pieces the stream arrives in, and ends like it.
    #[test]
    fn the_incremental_decoder_agrees_in_any_pieces(
        ps in prop::collection::vec(payload(), 1..4),
        pieces in prop::collection::vec(1usize..64, 0..200),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut wire = Vec::new();
        for (round, p) in ps.iter().enumerate() {
            let payload = match p {
                Payload::U64(v) => Payload::U64(v.clone()),
                Payload::U128(v) => Payload::U128(v.clone()),
                Payload::Bytes(v) => Payload::Bytes(v.clone()),
            };
            wire.extend(encode(&Frame { round: round as u64, payload }));
        }
        let (got, end) = decode_incrementally(&wire, pieces.clone(), 1 << 20);
        prop_assert!(matches!(end, Err(FrameError::Closed)), "{end:?}");
        prop_assert_eq!(got.len(), ps.len());
        for (m, p) in got.iter().zip(&ps) {
            let found = matches!(m, Message::Data(f) if same(&f.payload, p));
            prop_assert!(found);
        }
        // cut anywhere inside: the frames before the cut, then Truncated
        let at = cut.index(wire.len());
        let (got, end) = decode_incrementally(&wire[..at], pieces, 1 << 20);
        let whole = {
            let mut r = &wire[..at];
            std::iter::from_fn(|| frame::read_message(&mut r, 1 << 20).ok()).count()
        };
        prop_assert_eq!(got.len(), whole);
        let ended = matches!(end, Err(FrameError::Closed | FrameError::Truncated { .. }));
        prop_assert!(ended, "{:?}", end);
    }

    #[test]
    fn random_bytes_never_panic_the_incremental_decoder(
        bytes in prop::collection::vec(any::<u8>(), 0..300),
        pieces in prop::collection::vec(1usize..32, 0..50),
    ) {
        let ((found, _), allocated) =
            allocated_by(|| decode_incrementally(&bytes, pieces, u64::MAX));
        prop_assert!(found.len() <= bytes.len() / HEADER_LEN);
        prop_assert!(allocated <= 4 * READ_CHUNK, "{allocated}");
    }
}

/// A header announcing more than the protocol expects is refused before the
/// payload is allocated.
#[test]
fn the_incremental_decoder_checks_the_expected_length_first() {
    use privml::net::Expect;
    let mut wire = encode_header(1, 0, 1 << 30).to_vec();
    wire.extend_from_slice(&[0; 64]);
    let mut d = frame::FrameDecoder::new(DEFAULT_MAX_PAYLOAD);
    let (r, bytes) = allocated_by(|| d.poll(&mut wire.as_slice(), Some(&Expect::elems(4, 8))));
    assert!(
        matches!(
            r,
            Err(FrameError::Unexpected(privml::DecodeError::WrongLength {
                expected: 4,
                found: 134217728
            }))
        ),
        "{r:?}"
    );
    assert!(bytes < 4096, "{bytes} bytes allocated");
    // without an expectation the same header is accepted, and its payload
    // grows with the bytes that arrive (at most one chunk ahead)
    let mut d = frame::FrameDecoder::new(DEFAULT_MAX_PAYLOAD);
    let (r, bytes) = allocated_by(|| d.poll(&mut wire.as_slice(), None));
    assert!(matches!(r, Err(FrameError::Truncated { .. })), "{r:?}");
    assert!(bytes <= READ_CHUNK + 4096, "{bytes} bytes allocated");
}
