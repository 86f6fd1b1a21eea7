//! Preprocessing files: the dealer's material for one program, written
//! ahead of time, one file per computing party.
//!
//! `privml dealer --job ... --out DIR` runs the program as the dealer with
//! a [`PrepWriter`] instead of a live link: what a live dealer would send
//! party 1 is recorded frame by frame (the transport's own frame format,
//! [`crate::net::frame`], round numbers included), and each party's file
//! carries its seed shared with the dealer. Party 0's file holds no frames:
//! everything it needs from the dealer follows from its seed.
//!
//! # Format (version 1)
//!
//! | bytes | field |
//! |---|---|
//! | 0..8 | magic `PMLPREP\0` |
//! | 8 | version |
//! | 9 | party (0 or 1) |
//! | 10 | state: 0 fresh, 1 used |
//! | 11..16 | reserved, zero |
//! | 16..32 | file id, the same in both parties' files of one dealer run |
//! | 32..64 | the program's digest (SHA-256 of its session description) |
//! | 64..80 | the seed shared with the dealer |
//! | 80..88 | operations that use material, u64 little-endian |
//! | 88..96 | frames that follow, u64 little-endian |
//!
//! # Refusals
//!
//! A party refuses a file with an [`Error::Preprocessing`] naming the file
//! when it belongs to another program (digest), to another dealer run than
//! the other party's (file id, compared at set-up), to the other party, or
//! was used before: opening a file marks it used on disk (state byte,
//! synced) before any material is read, because correlated randomness used
//! twice leaks the difference of two secrets. A program that needs more
//! material than the file holds stops at the operation that ran out.
//! Files are written atomically (temporary file, sync, rename).

use std::fs::{File, OpenOptions};
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::{DecodeError, Error, FileOp, Origin, PrepProblem, Result};
use crate::net::Frame;
use crate::net::frame::{self, FrameError};
use crate::party_id::PartyId;
use crate::ring::prg::Seed;
use crate::ring::{Payload, RingElement};

const MAGIC: &[u8; 8] = b"PMLPREP\0";
/// The format version this build writes and reads.
pub const PREP_VERSION: u8 = 1;
const HEADER_LEN: usize = 96;
const STATE_OFFSET: u64 = 10;
const WHAT: &str = "preprocessing file";

/// The digest that binds preprocessing files to one program.
pub type ProgramDigest = [u8; 32];

/// The digest of a program's public description (its session text).
///
/// # Examples
///
/// ```
/// use privml::mpc2::prep::program_digest;
/// assert_ne!(program_digest("job=demo\ndemo=reservoir"), program_digest("job=demo\ndemo=tutorial"));
/// ```
pub fn program_digest(description: &str) -> ProgramDigest {
    use sha2::{Digest, Sha256};
    Sha256::digest(description.as_bytes()).into()
}

/// The file name of party `p`'s preprocessing file in a directory.
pub fn file_name(p: PartyId) -> String {
    format!("party{p}.prep")
}

/// What both parties' files of one dealer run have in common, and each
/// one's own fields.
#[derive(Clone)]
struct Header {
    party: u8,
    used: bool,
    file_id: [u8; 16],
    program: ProgramDigest,
    seed: [u8; 16],
    ops: u64,
    frames: u64,
}

impl Header {
    fn encode(&self) -> [u8; HEADER_LEN] {
        let mut h = [0u8; HEADER_LEN];
        h[..8].copy_from_slice(MAGIC);
        h[8] = PREP_VERSION;
        h[9] = self.party;
        h[10] = self.used as u8;
        h[16..32].copy_from_slice(&self.file_id);
        h[32..64].copy_from_slice(&self.program);
        h[64..80].copy_from_slice(&self.seed);
        h[80..88].copy_from_slice(&self.ops.to_le_bytes());
        h[88..96].copy_from_slice(&self.frames.to_le_bytes());
        h
    }

    fn decode(h: &[u8; HEADER_LEN]) -> std::result::Result<Header, DecodeError> {
        if &h[..8] != MAGIC {
            return Err(DecodeError::BadMagic {
                expected: "privml preprocessing file",
            });
        }
        if h[8] != PREP_VERSION {
            return Err(DecodeError::UnsupportedVersion {
                found: h[8] as u32,
                supported: PREP_VERSION as u32,
            });
        }
        let bad = |field, reason: String| DecodeError::BadField { field, reason };
        if h[9] > 1 {
            return Err(bad("party", format!("{} is not 0 or 1", h[9])));
        }
        if h[10] > 1 {
            return Err(bad("state", format!("{} is not 0 or 1", h[10])));
        }
        if h[11..16].iter().any(|&b| b != 0) {
            return Err(bad("reserved", "not zero".to_string()));
        }
        let mut le = [0u8; 8];
        let mut u64_at = |at: usize| {
            le.copy_from_slice(&h[at..at + 8]);
            u64::from_le_bytes(le)
        };
        let (ops, frames) = (u64_at(80), u64_at(88));
        if h[9] == 0 && frames != 0 {
            return Err(bad(
                "frames",
                format!("party 0's file holds {frames} frames"),
            ));
        }
        let mut header = Header {
            party: h[9],
            used: h[10] == 1,
            file_id: [0; 16],
            program: [0; 32],
            seed: [0; 16],
            ops,
            frames,
        };
        header.file_id.copy_from_slice(&h[16..32]);
        header.program.copy_from_slice(&h[32..64]);
        header.seed.copy_from_slice(&h[64..80]);
        Ok(header)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A computing party's preprocessing file, opened for one run.
pub struct PrepReader {
    path: PathBuf,
    header: Header,
    body: BufReader<File>,
    used_ops: u64,
    read_frames: u64,
}

impl std::fmt::Debug for PrepReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrepReader")
            .field("path", &self.path)
            .field("party", &self.header.party)
            .field("ops", &self.header.ops)
            .finish_non_exhaustive()
    }
}

impl PrepReader {
    /// Opens `path` for a run of the program with digest `program`: checks
    /// the header, refuses a file dealt for another program or used
    /// before, and marks it used on disk.
    pub fn open(path: &Path, program: &ProgramDigest) -> Result<Self> {
        let read_err = |e| Error::file(FileOp::Read, path, e);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(read_err)?;
        let mut h = [0u8; HEADER_LEN];
        let got = read_full(&mut file, &mut h).map_err(read_err)?;
        let origin = || Origin::File(path.to_path_buf());
        if got < HEADER_LEN {
            return Err(Error::decode(
                WHAT,
                origin(),
                DecodeError::Truncated {
                    needed: HEADER_LEN as u64,
                    available: got as u64,
                },
            ));
        }
        let header = Header::decode(&h).map_err(|e| Error::decode(WHAT, origin(), e))?;
        let problem = |problem| Error::Preprocessing {
            path: path.to_path_buf(),
            problem,
        };
        if &header.program != program {
            return Err(problem(PrepProblem::OtherProgram {
                expected: hex(program),
                found: hex(&header.program),
            }));
        }
        if header.used {
            return Err(problem(PrepProblem::AlreadyUsed));
        }
        let write_err = |e| Error::file(FileOp::Write, path, e);
        file.seek(SeekFrom::Start(STATE_OFFSET))
            .map_err(write_err)?;
        file.write_all(&[1]).map_err(write_err)?;
        file.sync_data().map_err(write_err)?;
        file.seek(SeekFrom::Start(HEADER_LEN as u64))
            .map_err(read_err)?;
        Ok(PrepReader {
            path: path.to_path_buf(),
            header,
            body: BufReader::with_capacity(1 << 20, file),
            used_ops: 0,
            read_frames: 0,
        })
    }

    /// The party the file is for.
    pub fn party(&self) -> PartyId {
        self.header.party as PartyId
    }

    /// The id of the dealer run that wrote it.
    pub fn file_id(&self) -> [u8; 16] {
        self.header.file_id
    }

    /// The seed shared with the dealer.
    pub fn dealer_seed(&self) -> Seed {
        Seed::from_bytes(self.header.seed)
    }

    /// The error for a file opened by the wrong party.
    pub fn wrong_party(&self, me: PartyId) -> Error {
        Error::Preprocessing {
            path: self.path.clone(),
            problem: PrepProblem::WrongParty {
                expected: me,
                found: self.party(),
            },
        }
    }

    /// The error for files of two different dealer runs.
    pub fn other_run(&self) -> Error {
        Error::Preprocessing {
            path: self.path.clone(),
            problem: PrepProblem::OtherRun,
        }
    }

    fn exhausted(&self, op: &str) -> Error {
        Error::Preprocessing {
            path: self.path.clone(),
            problem: PrepProblem::Exhausted {
                op: op.to_string(),
                ops: self.header.ops,
            },
        }
    }

    /// Counts one operation that uses material; fails past the file's end.
    pub fn use_op(&mut self, op_name: &'static str) -> Result<()> {
        if self.used_ops >= self.header.ops {
            return Err(self.exhausted(op_name));
        }
        self.used_ops += 1;
        Ok(())
    }

    /// The next frame: `len` elements for round `round`.
    pub fn next_elems<T: RingElement>(
        &mut self,
        round: u64,
        len: usize,
        op_name: &'static str,
    ) -> Result<Vec<T>> {
        if self.read_frames >= self.header.frames {
            return Err(self.exhausted(op_name));
        }
        let origin = || Origin::File(self.path.clone());
        let f =
            frame::read_frame(&mut self.body, frame::DEFAULT_MAX_PAYLOAD).map_err(|e| match e {
                FrameError::Closed => self.exhausted(op_name),
                FrameError::Io(io) => Error::file(FileOp::Read, &self.path, io),
                other => match other.decode_error() {
                    Some(d) => Error::decode(WHAT, origin(), d),
                    None => Error::decode(
                        WHAT,
                        origin(),
                        DecodeError::BadField {
                            field: "frame",
                            reason: other.to_string(),
                        },
                    ),
                },
            })?;
        self.read_frames += 1;
        if f.round != round {
            return Err(Error::decode(
                WHAT,
                origin(),
                DecodeError::BadField {
                    field: "round",
                    reason: format!(
                        "material of round {} needed in round {round} ({op_name}): the file is not this program's",
                        f.round
                    ),
                },
            ));
        }
        let v = match f.payload {
            Payload::Bytes(_) => {
                return Err(Error::decode(
                    WHAT,
                    origin(),
                    DecodeError::WrongKind {
                        expected: format!("{} elements", T::NAME),
                        found: "bytes".to_string(),
                    },
                ));
            }
            p => T::from_payload(p).map_err(|kind| {
                Error::decode(
                    WHAT,
                    origin(),
                    DecodeError::WrongKind {
                        expected: format!("{} elements", T::NAME),
                        found: kind.to_string(),
                    },
                )
            })?,
        };
        if v.len() != len {
            return Err(Error::decode(
                WHAT,
                origin(),
                DecodeError::WrongLength {
                    expected: len as u64,
                    found: v.len() as u64,
                },
            ));
        }
        Ok(v)
    }
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..])? {
            0 => break,
            k => got += k,
        }
    }
    Ok(got)
}

/// The dealer's side: both parties' files of one program, written as the
/// dealer runs it.
pub struct PrepWriter {
    dir: PathBuf,
    headers: [Header; 2],
    body: BufWriter<tempfile::NamedTempFile>,
}

impl std::fmt::Debug for PrepWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrepWriter")
            .field("dir", &self.dir)
            .field("ops", &self.headers[0].ops)
            .field("frames", &self.headers[1].frames)
            .finish_non_exhaustive()
    }
}

impl PrepWriter {
    /// Starts the files of the program with digest `program` in `dir`
    /// (created if missing), with fresh seeds and file id from the
    /// operating system (`test_seed` fixes them, for tests only).
    pub fn create(dir: &Path, program: &ProgramDigest, test_seed: Option<u64>) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| Error::file(FileOp::CreateDir, dir, e))?;
        let seed = |k: u64| -> Result<[u8; 16]> {
            Ok(match test_seed {
                Some(s) => Seed::from_u64(s.wrapping_mul(7).wrapping_add(k)),
                None => Seed::random()?,
            }
            .expose_bytes())
        };
        let file_id = seed(9)?;
        let header = |party: u8, seed: [u8; 16]| Header {
            party,
            used: false,
            file_id,
            program: *program,
            seed,
            ops: 0,
            frames: 0,
        };
        let headers = [header(0, seed(0)?), header(1, seed(1)?)];
        let mut tmp = tempfile::Builder::new()
            .prefix(".privml-prep-")
            .suffix(".tmp")
            .tempfile_in(dir)
            .map_err(|e| Error::file(FileOp::Write, dir, e))?;
        tmp.write_all(&[0u8; HEADER_LEN])
            .map_err(|e| Error::file(FileOp::Write, dir, e))?;
        Ok(PrepWriter {
            dir: dir.to_path_buf(),
            headers,
            body: BufWriter::with_capacity(1 << 20, tmp),
        })
    }

    /// The seed party `p` shares with the dealer.
    pub fn seed(&self, p: PartyId) -> Seed {
        Seed::from_bytes(self.headers[p.min(1)].seed)
    }

    /// Counts one operation that uses material.
    pub fn count_op(&mut self) {
        for h in &mut self.headers {
            h.ops += 1;
        }
    }

    /// Records a frame for party 1.
    pub fn push(&mut self, round: u64, payload: Payload) -> Result<()> {
        let frame = Frame { round, payload };
        frame::write_frame(&mut self.body, &frame)
            .map_err(|e| Error::file(FileOp::Write, &self.dir, e))?;
        self.headers[1].frames += 1;
        Ok(())
    }

    /// Writes both files into place: party 1's frames and final header,
    /// then party 0's header, each synced and renamed atomically.
    pub fn finish(self) -> Result<()> {
        let PrepWriter { dir, headers, body } = self;
        let path1 = dir.join(file_name(1));
        let write_err = |p: &Path| {
            let p = p.to_path_buf();
            move |e| Error::file(FileOp::Write, p, e)
        };
        let mut tmp = body
            .into_inner()
            .map_err(|e| Error::file(FileOp::Write, &path1, e.into_error()))?;
        tmp.seek(SeekFrom::Start(0)).map_err(write_err(&path1))?;
        tmp.write_all(&headers[1].encode())
            .map_err(write_err(&path1))?;
        tmp.as_file().sync_all().map_err(write_err(&path1))?;
        tmp.persist(&path1)
            .map_err(|e| Error::file(FileOp::Rename, &path1, e.error))?;
        let path0 = dir.join(file_name(0));
        let mut tmp0 = tempfile::Builder::new()
            .prefix(".privml-prep-")
            .suffix(".tmp")
            .tempfile_in(&dir)
            .map_err(write_err(&path0))?;
        tmp0.write_all(&headers[0].encode())
            .map_err(write_err(&path0))?;
        tmp0.as_file().sync_all().map_err(write_err(&path0))?;
        tmp0.persist(&path0)
            .map_err(|e| Error::file(FileOp::Rename, &path0, e.error))?;
        #[cfg(unix)]
        File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(write_err(&dir))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip_and_refuse_garbage() {
        let h = Header {
            party: 1,
            used: false,
            file_id: [3; 16],
            program: [4; 32],
            seed: [5; 16],
            ops: 7,
            frames: 9,
        };
        let back = Header::decode(&h.encode()).expect("decodes");
        assert_eq!((back.party, back.ops, back.frames), (1, 7, 9));
        let mut bad = h.encode();
        bad[0] = b'X';
        assert!(matches!(
            Header::decode(&bad),
            Err(DecodeError::BadMagic { .. })
        ));
        let mut bad = h.encode();
        bad[8] = 2;
        assert!(matches!(
            Header::decode(&bad),
            Err(DecodeError::UnsupportedVersion { found: 2, .. })
        ));
        let mut bad = h.encode();
        bad[9] = 0; // party 0 with frames
        assert!(matches!(
            Header::decode(&bad),
            Err(DecodeError::BadField {
                field: "frames",
                ..
            })
        ));
    }
}
