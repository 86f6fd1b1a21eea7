//! The hello frame both sides of a new connection send after the TLS
//! handshake: version, sender, receiver and the job description
//! ([`ConnectOptions::session`](super::ConnectOptions::session)), so that
//! parties started for different jobs stop at set-up.
//!
//! Body: `[HELLO_VERSION, from, to, session bytes...]`, the session cut to
//! at most [`MAX_SESSION`] bytes at a character boundary.

use crate::error::DecodeError;
use crate::party_id::PartyId;

/// Longest the job description in a hello may be.
const MAX_SESSION: usize = 16 * 1024;
/// Version of the hello body.
const HELLO_VERSION: u8 = 1;

/// The hello party `from` sends to party `to`.
pub(super) fn hello_body(from: PartyId, to: PartyId, session: &str) -> Vec<u8> {
    let mut end = session.len().min(MAX_SESSION);
    while !session.is_char_boundary(end) {
        end -= 1;
    }
    let mut b = vec![HELLO_VERSION, from as u8, to as u8];
    b.extend_from_slice(&session.as_bytes()[..end]);
    b
}

/// A hello's (from, to, session).
pub(super) fn parse_hello(b: &[u8]) -> Result<(PartyId, PartyId, String), DecodeError> {
    match b {
        [HELLO_VERSION, from, to, rest @ ..] if *from < 3 && *to < 3 => Ok((
            *from as PartyId,
            *to as PartyId,
            String::from_utf8_lossy(rest).into_owned(),
        )),
        [v, ..] if *v != HELLO_VERSION => Err(DecodeError::UnsupportedVersion {
            found: u32::from(*v),
            supported: u32::from(HELLO_VERSION),
        }),
        [_, from, to, ..] => Err(DecodeError::BadField {
            field: "party ids",
            reason: format!("from {from} to {to}: parties are 0, 1 and 2"),
        }),
        _ => Err(DecodeError::Truncated {
            needed: 3,
            available: b.len() as u64,
        }),
    }
}

/// The session as a hello carries it (cut like [`hello_body`] cuts it).
pub(super) fn hello_session(s: &str) -> String {
    match parse_hello(&hello_body(0, 0, s)) {
        Ok((_, _, s)) => s,
        Err(_) => String::new(),
    }
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
        assert_eq!(
            parse_hello(&[9, 0, 1]),
            Err(DecodeError::UnsupportedVersion {
                found: 9,
                supported: u32::from(HELLO_VERSION)
            })
        );
        assert!(matches!(
            parse_hello(&[HELLO_VERSION, 3, 1]),
            Err(DecodeError::BadField {
                field: "party ids",
                ..
            })
        ));
        assert_eq!(
            parse_hello(&[HELLO_VERSION, 1]),
            Err(DecodeError::Truncated {
                needed: 3,
                available: 2
            })
        );
        let long = "é".repeat(MAX_SESSION);
        assert!(hello_session(&long).len() <= MAX_SESSION);
    }
}
