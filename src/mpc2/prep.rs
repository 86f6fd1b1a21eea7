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
//! # Jobs that announce public values
//!
//! `train` and `predict` announce public values at run time (the data's
//! shapes and class count, the model id: [`Participant::announce`]), and
//! the material a dealer deals depends on them. Ahead of time, those values
//! are fixed before the run instead: the data owner writes them, without
//! running the protocol, into a [`PublicDescription`] file (`privml
//! announce`: exactly the bytes the job would announce, in order, and
//! nothing else), the dealer deals with them (`privml dealer --announced
//! FILE`) and records them in both parties' files, and their digest is
//! bound into the program digest in the header ([`bind_announcements`]).
//! At run time the announcing party checks that what it announces is what
//! the material was dealt for, and the other party checks what it receives
//! from its peer against its own file; a difference is
//! [`PrepProblem::OtherAnnouncement`] before any material is used for the
//! wrong shapes. A job's random model id is one of the announced values:
//! drawn when the description is written, and taken from the file by
//! party 0 at run time ([`crate::Session::announced_ahead`]).
//!
//! This design was chosen over the alternatives because it keeps the job
//! code unchanged (the same `announce` calls run live and from files) and
//! discloses nothing new: the description holds only what a live dealer
//! receives anyway. The other designs considered: dealing for a maximum
//! shape (material for rows the data does not have would be wasted and
//! the row count hidden, but the jobs' outputs depend on exact shapes) and
//! letting the dealer guess (impossible: shapes are the data owner's).
//!
//! Cost: a run from files has the live run's rounds and, for party 1, its
//! offline material (read from the file instead of the link, and counted
//! as offline the same way); online, each announcement goes to the other
//! party only, so the announcer sends one message and the announcement's
//! bytes fewer per announcement than live (the dealer's copy travelled
//! before the run, in the description). The cost model (`privml cost`)
//! predicts the live run.
//!
//! [`Participant::announce`]: super::Participant::announce
//!
//! # Format (version 2)
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
//! | 96..104 | length L of the announcements, u64 little-endian (at most 16 MiB + 1 KiB) |
//! | 104..104+L | the announcements the material was dealt for (postcard: a sequence of (party, bytes)) |
//! | then | party 1's frames |
//!
//! Version 1 files (without the announcements) are refused as an
//! unsupported version: a file serves one run, so none outlives an upgrade
//! worth keeping.
//!
//! # Refusals
//!
//! A party refuses a file with an [`Error::Preprocessing`] naming the file
//! when it belongs to another program (digest, announcements included), to another dealer run than
//! the other party's (file id, compared at set-up), to the other party, or
//! was used before: opening a file marks it used on disk (state byte,
//! synced) before any material is read, because correlated randomness used
//! twice leaks the difference of two secrets. A program that needs more
//! material than the file holds stops at the operation that ran out.
//! Files are written atomically (temporary file, sync, rename).

use std::fs::{File, OpenOptions};
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::envelope::Envelope;
use crate::error::{DecodeError, Error, FileOp, Origin, PrepProblem, Result};
use crate::net::Frame;
use crate::net::frame::{self, FrameError};
use crate::party_id::PartyId;
use crate::ring::prg::Seed;
use crate::ring::{Payload, RingElement};

const MAGIC: &[u8; 8] = b"PMLPREP\0";
/// The format version this build writes and reads.
pub const PREP_VERSION: u8 = 2;
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

/// The largest announcement a party accepts (16 MiB), live or from a file.
pub const MAX_ANNOUNCE: usize = 16 << 20;
/// The largest announcements section of a preprocessing file.
const MAX_ANNOUNCED_SECTION: u64 = MAX_ANNOUNCE as u64 + 1024;

/// One public announcement of a job: the party that announces and the
/// bytes it announces (see [`crate::Session::announce`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Announcement {
    /// The computing party that announces (0 or 1).
    pub from: u8,
    /// Exactly the bytes the job announces.
    pub bytes: Vec<u8>,
}

impl Announcement {
    fn check(&self) -> std::result::Result<(), DecodeError> {
        if self.from > 1 {
            return Err(DecodeError::BadField {
                field: "announcing party",
                reason: format!("{} is not 0 or 1", self.from),
            });
        }
        if self.bytes.len() > MAX_ANNOUNCE {
            return Err(DecodeError::BadField {
                field: "announcement",
                reason: format!(
                    "{} bytes, more than the {MAX_ANNOUNCE} a party accepts",
                    self.bytes.len()
                ),
            });
        }
        Ok(())
    }
}

const DESCRIPTION_ENVELOPE: Envelope = Envelope {
    magic: b"PMLPUB\0\0",
    version: 1,
    expected: "privml public description",
};
const DESCRIPTION: &str = "public description";

/// The public values a job announces, in order, fixed before the run so
/// that a dealer can deal its material ahead of time (`privml announce`
/// writes it; `privml dealer --out DIR --announced FILE` reads it).
///
/// It holds only what the job announces to the other party and the dealer
/// anyway (the data's shapes and class count, the model id): nothing
/// secret. The file is checksummed and written atomically.
///
/// # Examples
///
/// ```
/// use privml::mpc2::prep::{Announcement, PublicDescription};
/// let d = PublicDescription::new(vec![Announcement { from: 1, bytes: vec![4, 2] }]);
/// assert_eq!(PublicDescription::from_bytes(&d.to_bytes()?, "example")?, d);
/// # Ok::<(), privml::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PublicDescription {
    /// The announcements in the order the job makes them.
    pub announcements: Vec<Announcement>,
}

impl PublicDescription {
    /// A description of these announcements.
    pub fn new(announcements: Vec<Announcement>) -> Self {
        PublicDescription { announcements }
    }

    /// The file's bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        DESCRIPTION_ENVELOPE
            .seal(self)
            .map_err(|e| Error::internal(DESCRIPTION, e.to_string()))
    }

    /// Decodes a description read from `origin` (a path, for messages).
    pub fn from_bytes(bytes: &[u8], origin: &str) -> Result<Self> {
        let d: PublicDescription = DESCRIPTION_ENVELOPE
            .open(bytes)
            .map_err(|e| Error::decode(DESCRIPTION, Origin::File(origin.into()), e))?;
        for a in &d.announcements {
            a.check()
                .map_err(|e| Error::decode(DESCRIPTION, Origin::File(origin.into()), e))?;
        }
        Ok(d)
    }

    /// Writes the file atomically (temporary file, sync, rename).
    pub fn save(&self, path: &Path) -> Result<()> {
        crate::model_file::write_atomic(path, &self.to_bytes()?)
    }

    /// Reads a file written by [`save`](Self::save); a file larger than a
    /// description can be is refused before it is read.
    pub fn load(path: &Path) -> Result<Self> {
        let read_err = |e| Error::file(FileOp::Read, path, e);
        let file = File::open(path).map_err(read_err)?;
        let limit = MAX_ANNOUNCED_SECTION + 64;
        let mut bytes = Vec::new();
        file.take(limit + 1)
            .read_to_end(&mut bytes)
            .map_err(read_err)?;
        if bytes.len() as u64 > limit {
            return Err(Error::decode(
                DESCRIPTION,
                Origin::File(path.to_path_buf()),
                DecodeError::BadField {
                    field: "length",
                    reason: format!("more than {limit} bytes"),
                },
            ));
        }
        Self::from_bytes(&bytes, &path.display().to_string())
    }
}

/// The program digest of a job whose files carry `announced`: the session
/// description's digest alone when nothing is announced, else SHA-256 over
/// it and the announcements, so that files dealt for other shapes are
/// files of another program.
pub fn bind_announcements(program: &ProgramDigest, announced: &[Announcement]) -> ProgramDigest {
    use sha2::{Digest, Sha256};
    if announced.is_empty() {
        return *program;
    }
    let mut h = Sha256::new();
    h.update(b"privml preprocessing: program and announcements\0");
    h.update(program);
    for a in announced {
        h.update([a.from]);
        h.update((a.bytes.len() as u64).to_le_bytes());
        h.update(&a.bytes);
    }
    h.finalize().into()
}

fn encode_announced(announced: &[Announcement]) -> Result<Vec<u8>> {
    let body = postcard::to_allocvec(announced)
        .map_err(|e| Error::internal("preprocessing announcements", e.to_string()))?;
    let mut out = (body.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&body);
    Ok(out)
}

/// Where the next announcement of a run differs from the one dealt for.
fn first_difference(got: &[u8], dealt: &[u8]) -> String {
    let at = got
        .iter()
        .zip(dealt)
        .position(|(a, b)| a != b)
        .unwrap_or(got.len().min(dealt.len()));
    format!(
        "{} bytes, dealt for {} bytes, first difference at byte {at}",
        got.len(),
        dealt.len()
    )
}

/// The announcements of one run, consumed in order.
#[derive(Debug, Clone, Default)]
struct AnnouncedQueue {
    left: VecDeque<Announcement>,
    total: usize,
}

impl AnnouncedQueue {
    fn new(all: Vec<Announcement>) -> Self {
        AnnouncedQueue {
            total: all.len(),
            left: all.into(),
        }
    }

    /// 1-based index of the next announcement.
    fn next_index(&self) -> usize {
        self.total - self.left.len() + 1
    }

    fn peek(&self, from: PartyId) -> Option<&[u8]> {
        self.left
            .front()
            .filter(|a| usize::from(a.from) == from)
            .map(|a| a.bytes.as_slice())
    }

    /// The next announcement, which must be `from`'s.
    fn next(&mut self, from: PartyId) -> std::result::Result<Vec<u8>, PrepProblem> {
        let index = self.next_index();
        match self.left.pop_front() {
            None => Err(PrepProblem::OtherAnnouncement {
                index,
                from,
                detail: format!(
                    "the job announces more public values than the {} this material was dealt for",
                    self.total
                ),
            }),
            Some(a) if usize::from(a.from) != from => Err(PrepProblem::OtherAnnouncement {
                index,
                from,
                detail: format!(
                    "the material was dealt for an announcement by party {}",
                    a.from
                ),
            }),
            Some(a) => Ok(a.bytes),
        }
    }

    /// Checks `got` against the next announcement, which must be `from`'s.
    fn check_next(&mut self, from: PartyId, got: &[u8]) -> std::result::Result<(), PrepProblem> {
        let index = self.next_index();
        let dealt = self.next(from)?;
        if dealt != got {
            return Err(PrepProblem::OtherAnnouncement {
                index,
                from,
                detail: first_difference(got, &dealt),
            });
        }
        Ok(())
    }
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
    announced: AnnouncedQueue,
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
    /// Opens `path` for a run of the program with digest `program` (its
    /// session description's, [`program_digest`]): checks the header,
    /// refuses a file dealt for another program (the announcements it
    /// carries bound in, [`bind_announcements`]) or used before, and marks
    /// it used on disk.
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
        let announced = read_announced(&mut file).map_err(|e| match e {
            Ok(d) => Error::decode(WHAT, origin(), d),
            Err(io) => read_err(io),
        })?;
        let problem = |problem| Error::Preprocessing {
            path: path.to_path_buf(),
            problem,
        };
        let expected = bind_announcements(program, &announced);
        if header.program != expected {
            return Err(problem(PrepProblem::OtherProgram {
                expected: hex(&expected),
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
        let frames_at = HEADER_LEN as u64 + encode_announced(&announced)?.len() as u64;
        file.seek(SeekFrom::Start(frames_at)).map_err(read_err)?;
        Ok(PrepReader {
            path: path.to_path_buf(),
            header,
            body: BufReader::with_capacity(1 << 20, file),
            used_ops: 0,
            read_frames: 0,
            announced: AnnouncedQueue::new(announced),
        })
    }

    /// The bytes the next announcement was dealt for, if it is `from`'s.
    pub fn peek_announcement(&self, from: PartyId) -> Option<&[u8]> {
        self.announced.peek(from)
    }

    /// Checks an announcement by `from` (made by this party, or received
    /// from it) against the next one the material was dealt for.
    pub fn check_announcement(&mut self, from: PartyId, got: &[u8]) -> Result<()> {
        self.announced
            .check_next(from, got)
            .map_err(|problem| Error::Preprocessing {
                path: self.path.clone(),
                problem,
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

/// The announcements section after the header: its length, bounded before
/// anything is allocated, then the entries, each checked.
fn read_announced(
    file: &mut File,
) -> std::result::Result<Vec<Announcement>, std::result::Result<DecodeError, std::io::Error>> {
    let mut le = [0u8; 8];
    let got = read_full(file, &mut le).map_err(Err)?;
    if got < 8 {
        return Err(Ok(DecodeError::Truncated {
            needed: HEADER_LEN as u64 + 8,
            available: HEADER_LEN as u64 + got as u64,
        }));
    }
    let len = u64::from_le_bytes(le);
    if len > MAX_ANNOUNCED_SECTION {
        return Err(Ok(DecodeError::BadField {
            field: "announcements",
            reason: format!("{len} bytes, more than {MAX_ANNOUNCED_SECTION}"),
        }));
    }
    let mut body = Vec::new();
    file.take(len).read_to_end(&mut body).map_err(Err)?;
    if (body.len() as u64) < len {
        return Err(Ok(DecodeError::Truncated {
            needed: len,
            available: body.len() as u64,
        }));
    }
    let (announced, extra): (Vec<Announcement>, _) =
        postcard::take_from_bytes(&body).map_err(|e| Ok(DecodeError::Postcard(e)))?;
    if !extra.is_empty() {
        return Err(Ok(DecodeError::TrailingBytes {
            extra: extra.len() as u64,
        }));
    }
    for a in &announced {
        a.check().map_err(Ok)?;
    }
    Ok(announced)
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
    /// The announcements section, as written into both files.
    section: Vec<u8>,
    announced: AnnouncedQueue,
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
    /// Starts the files of the program with digest `program` (its session
    /// description's) in `dir` (created if missing), for a run that
    /// announces `announced` (empty for jobs that announce nothing), with
    /// fresh seeds and file id from the operating system. `test_seed`
    /// fixes them, for tests only, to the seeds a live dealer derives from
    /// the same number, so that a run from the files computes what a live
    /// run computes.
    pub fn create(
        dir: &Path,
        program: &ProgramDigest,
        announced: &PublicDescription,
        test_seed: Option<u64>,
    ) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| Error::file(FileOp::CreateDir, dir, e))?;
        let seed = |k: u64| -> Result<[u8; 16]> {
            Ok(match test_seed {
                Some(s) if k < 2 => Seed::from_u64(s.wrapping_mul(5).wrapping_add(k)),
                Some(s) => Seed::from_u64(s.wrapping_mul(7).wrapping_add(k)),
                None => Seed::random()?,
            }
            .expose_bytes())
        };
        let program = &bind_announcements(program, &announced.announcements);
        let section = encode_announced(&announced.announcements)?;
        if section.len() as u64 > 8 + MAX_ANNOUNCED_SECTION {
            return Err(Error::invalid(
                "announced",
                format!(
                    "the public description's announcements take {} bytes, more than the {MAX_ANNOUNCED_SECTION} a preprocessing file carries",
                    section.len() - 8
                ),
            ));
        }
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
            .and_then(|()| tmp.write_all(&section))
            .map_err(|e| Error::file(FileOp::Write, dir, e))?;
        Ok(PrepWriter {
            dir: dir.to_path_buf(),
            headers,
            body: BufWriter::with_capacity(1 << 20, tmp),
            section,
            announced: AnnouncedQueue::new(announced.announcements.clone()),
        })
    }

    /// The next announcement the files are dealt for, which must be
    /// `from`'s: the dealer runs the job on it as a live dealer runs it on
    /// what it receives.
    pub fn next_announcement(&mut self, from: PartyId) -> Result<Vec<u8>> {
        self.announced.next(from).map_err(|problem| {
            Error::invalid(
                "announced",
                format!("the public description does not fit this job: {problem}"),
            )
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
        let PrepWriter {
            dir,
            headers,
            body,
            section,
            announced,
        } = self;
        if !announced.left.is_empty() {
            return Err(Error::invalid(
                "announced",
                format!(
                    "the public description holds {} announcements and the job made {}: \
                     it describes another job",
                    announced.total,
                    announced.total - announced.left.len()
                ),
            ));
        }
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
            .and_then(|()| tmp0.write_all(&section))
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
        // version 1 (without the announcements) and a future version
        for v in [1, 3] {
            let mut bad = h.encode();
            bad[8] = v;
            assert!(matches!(
                Header::decode(&bad),
                Err(DecodeError::UnsupportedVersion { found, .. }) if found == u32::from(v)
            ));
        }
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
