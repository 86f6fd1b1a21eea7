//! The one error type of the crate.
//!
//! Every fallible operation returns [`Result<T>`](Result). Variants carry typed
//! fields (which operation, which shapes, which party, which value) so that a
//! message names what went wrong and where, and callers can match on them.

use std::path::PathBuf;
use std::time::Duration;

use crate::party_id::PartyId;

/// Result type used across privml.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A value that overflowed the safe range of the fixed-point ring, with the
/// place in the program where it happened.
///
/// Produced by the [`Fixed`](crate::Fixed) domain, which sees the exact integer
/// arithmetic that the secure run will perform, so it can name the operation
/// that left the range instead of printing wrapped garbage much later.
#[derive(Debug, Clone, PartialEq)]
pub struct OverflowEvent {
    /// The operation that produced the value (`"mul"`, `"matmul"`, `"add"`, ...).
    pub op: &'static str,
    /// The label the program set with [`Ring::set_label`](crate::Ring::set_label).
    pub label: &'static str,
    /// The layer (or other index) the program set with
    /// [`Ring::set_layer`](crate::Ring::set_layer).
    pub layer: Option<usize>,
    /// The step (for example the training iteration) set with
    /// [`Ring::set_step`](crate::Ring::set_step).
    pub step: u64,
    /// Index of the operation since the domain was created (0-based).
    pub op_index: u64,
    /// Largest magnitude seen, as a real number (decoded, in value units).
    pub magnitude: f64,
    /// The bound it exceeded, in the same units.
    pub limit: f64,
    /// How many elements of the tensor were out of range.
    pub count: usize,
}

impl std::fmt::Display for OverflowEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let layer = self
            .layer
            .map(|l| format!(", layer {l}"))
            .unwrap_or_default();
        write!(
            f,
            "overflow in {} (op #{}, step {}, label '{}'{layer}): |value| = {:.4e} exceeds the safe bound {:.4e} ({} element{})",
            self.op,
            self.op_index,
            self.step,
            self.label,
            self.magnitude,
            self.limit,
            self.count,
            if self.count == 1 { "" } else { "s" }
        )
    }
}

/// Everything that can go wrong in privml.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Two tensors whose shapes do not fit the operation.
    #[error("shape mismatch in {op}: {left:?} vs {right:?}")]
    ShapeMismatch {
        /// The operation.
        op: &'static str,
        /// Shape of the left operand.
        left: Vec<usize>,
        /// Shape of the right operand (or the requested shape).
        right: Vec<usize>,
    },
    /// A shape with more elements than this party accepts for `op` (or
    /// whose element count does not even fit in a `usize`): typically one
    /// announced by another party, refused before anything is allocated.
    #[error(
        "the shape {shape:?} for {op} exceeds the limit of {max_elements} elements per tensor ({}; see SharedConfig::max_input_elements)",
        shape_excess(.shape, *.max_elements)
    )]
    ShapeTooLarge {
        /// The operation.
        op: &'static str,
        /// The shape as given (announced).
        shape: Vec<usize>,
        /// The largest element count accepted.
        max_elements: usize,
    },
    /// An index past the end of what it indexes (a row of a tensor, an
    /// element of a gather's source).
    #[error("index {index} is out of range in {op}: there are {len}")]
    IndexOutOfRange {
        /// The operation.
        op: &'static str,
        /// The offending index.
        index: usize,
        /// How many there are.
        len: usize,
    },
    /// A NaN or infinity where a finite real number is needed.
    #[error("cannot encode non-finite value {value} (element {index}) as fixed point")]
    NonFinite {
        /// The offending value.
        value: f64,
        /// Its flat index in the tensor.
        index: usize,
    },
    /// A finite value outside the representable fixed-point range.
    #[error("value {value} (element {index}) is outside the fixed-point range [{min}, {max}]")]
    OutOfRange {
        /// The offending value.
        value: f64,
        /// Its flat index in the tensor.
        index: usize,
        /// Smallest representable value.
        min: f64,
        /// Largest representable value.
        max: f64,
    },
    /// A result left the safe range of the ring (see [`OverflowEvent`]).
    #[error("{0}")]
    Overflow(OverflowEvent),
    /// A plaintext computation produced a NaN or infinity.
    #[error("non-finite result (NaN or infinity) in {at}")]
    NonFiniteResult {
        /// The operation and program location.
        at: String,
    },
    /// A parameter that does not make sense (fraction bits, party id, ...).
    #[error("invalid parameter {name}: {reason}")]
    InvalidParameter {
        /// The parameter.
        name: &'static str,
        /// Why it is invalid.
        reason: String,
    },
    /// A party id outside 0..3.
    #[error("party id {0} is not one of 0, 1, 2")]
    InvalidParty(usize),
    /// The peer closed its end of the channel.
    #[error("party {party} disconnected during {op}")]
    PeerDisconnected {
        /// The peer that went away.
        party: usize,
        /// What this party was doing.
        op: String,
    },
    /// The peer did not answer within the configured timeout.
    #[error("party {party} did not answer within {timeout:?} during {op}")]
    Timeout {
        /// The silent peer.
        party: usize,
        /// What this party was doing.
        op: String,
        /// The timeout that expired.
        timeout: Duration,
    },
    /// A neighbour's shares do not match this party's (files from different
    /// models, a mixed-up party, or corruption).
    #[error(
        "the shares of party {party} do not belong with this party's (different model, wrong party file, or corrupted)"
    )]
    InconsistentShares {
        /// The neighbour whose shares disagree.
        party: usize,
    },
    /// A peer could not be reached while setting up connections.
    #[error("cannot reach party {party} at {addr}: {reason}")]
    Unreachable {
        /// The party.
        party: usize,
        /// The address tried.
        addr: String,
        /// The last error seen.
        reason: String,
    },
    /// A data value (a feature after normalisation, say) outside the range a
    /// fixed-point format can encode. Unlike [`Error::OutOfRange`], which is
    /// about one flat tensor element, this names the sample and the column
    /// so a user can find the value in the data file.
    #[error(
        "value {value:e} in row {row}{}, column '{column}' is outside the fixed-point range [{min:e}, {max:e}]",
        line_suffix(.line)
    )]
    DataOutOfRange {
        /// 0-based index of the sample (row of the feature matrix).
        row: usize,
        /// 1-based line of the source file the sample came from, when known.
        line: Option<usize>,
        /// Name of the column.
        column: String,
        /// The offending value.
        value: f64,
        /// Smallest allowed value.
        min: f64,
        /// Largest allowed value.
        max: f64,
    },
    /// A data file (CSV, model shares, configuration) that cannot be used.
    #[error("{path}: {reason}")]
    BadFile {
        /// The file.
        path: String,
        /// What is wrong, naming row and column where it applies.
        reason: String,
    },
    /// TLS configuration, certificate or handshake failure.
    #[error("TLS: {0}")]
    Tls(#[from] TlsError),
    /// The homomorphic-encryption aggregator refused an update; its running
    /// sum is unchanged.
    #[error("update from client '{client}' rejected: {reason}")]
    UpdateRejected {
        /// The client id given to [`Aggregator::add`](crate::he::Aggregator::add).
        client: String,
        /// Why it was refused.
        reason: Rejection,
    },
    /// A client's update cannot be protected for aggregation: a value is not
    /// finite, or so large that the sum over `max_clients` clients could wrap
    /// around the ring (secret sharing) or the plaintext modulus (HE).
    /// Raised on the client, before anything is sent.
    #[error(
        "update of client '{client}' cannot be aggregated: value {value} at index {index} is outside ±{limit:.6e}, the largest magnitude whose sum over {max_clients} clients cannot wrap around"
    )]
    UpdateOutOfRange {
        /// The client.
        client: String,
        /// Index of the value in the (weighted) update.
        index: usize,
        /// The offending value (after weighting by the client's sample count).
        value: f64,
        /// The largest magnitude allowed per client.
        limit: f64,
        /// The number of clients the encoding leaves headroom for.
        max_clients: u32,
    },
    /// A ciphertext presented to a key it was not encrypted for.
    #[error(
        "{what} belongs to key {got:016x} (parameters {got_params}), not to key {expected:016x} (parameters {expected_params})"
    )]
    KeyMismatch {
        /// What was presented (`"encrypted sum"`, ...).
        what: &'static str,
        /// Id of the key used.
        expected: u64,
        /// Id of the key the ciphertext names.
        got: u64,
        /// Parameters of the key used.
        expected_params: String,
        /// Parameters the ciphertext names.
        got_params: String,
    },
    /// The homomorphic-encryption backend failed where it should not (a
    /// broken invariant, not bad input).
    #[error("homomorphic-encryption backend failed in {op}: {reason}")]
    HeBackend {
        /// The operation.
        op: &'static str,
        /// The backend's message.
        reason: String,
    },
    /// A broken internal invariant: a bug in privml, never the caller's
    /// input. The message asks the user to report it.
    #[error("internal error in {at}: {detail} (this is a bug in privml; please report it)")]
    Internal {
        /// The function or step whose invariant broke.
        at: &'static str,
        /// What was found instead of what was expected.
        detail: String,
    },
    /// A party of an SPMD program that owns a value (an input, an
    /// announcement, a data set) but was given none.
    #[error("party {party} owns the {what} but was given none")]
    MissingValue {
        /// The owning party.
        party: PartyId,
        /// What is missing (`"input"`, `"training data"`, ...).
        what: &'static str,
    },
    /// The parties disagree about the job they are about to run (a different
    /// command, model, data shape or fixed-point format was started on them).
    #[error(
        "party {party} was started for a different job: its {field} is {theirs}, this party's is {ours}"
    )]
    SessionMismatch {
        /// The party whose description differs.
        party: PartyId,
        /// The first field that differs.
        field: String,
        /// This party's value of it.
        ours: String,
        /// The other party's value.
        theirs: String,
    },
    /// Bytes that are not a valid encoding of what was expected: a frame from
    /// a peer, a share or model file, a message from a client.
    #[error("malformed {what}{origin}: {error}")]
    Decode {
        /// What was being decoded (`"frame"`, `"model file"`, `"encrypted sum"`, ...).
        what: &'static str,
        /// Where the bytes came from.
        origin: Origin,
        /// What is wrong with them.
        error: DecodeError,
    },
    /// An ONNX model that decodes but cannot be imported (an operator off
    /// the allow-list, an attribute privml does not implement, a graph
    /// that is not a chain of layers).
    #[error("ONNX import: {0}")]
    Onnx(#[from] crate::onnx::OnnxError),
    /// Reading or writing a file failed; names the file.
    #[error("cannot {op} {}: {source}", path.display())]
    FileIo {
        /// What was being done.
        op: FileOp,
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A file holding a secret (a share file, a private key) that other
    /// users may read or write: refused, naming the file and the fix.
    #[error(
        "{what} {} is accessible to other users (mode {mode:03o}); it holds a secret and must be readable by its owner only: run `chmod 600 {}`",
        path.display(),
        path.display()
    )]
    FileNotPrivate {
        /// What the file holds ("share file", "private key").
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A model description whose layers do not fit together, or
    /// parameters that do not fit it: names the layer (1-based position and
    /// its description) and what is wrong.
    #[error("layer {index} ({layer}): {problem}")]
    Layer {
        /// 1-based position of the layer in the description.
        index: usize,
        /// The layer as written (`conv:16k5`, `maxpool:2`, ...).
        layer: String,
        /// What is wrong.
        problem: LayerProblem,
    },
    /// Operating-system I/O error without a file (a socket).
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The operating system's random generator failed, so no seed or key
    /// could be drawn (nothing falls back to a weaker source).
    #[error("the operating system's random generator failed: {0}")]
    OsRng(#[source] std::io::Error),
    /// A preprocessing file of the two-party protocol that this run cannot
    /// use (see [`crate::mpc2::prep`]).
    #[error("preprocessing file {}: {problem}", path.display())]
    Preprocessing {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: PrepProblem,
    },
}

/// Why a preprocessing file cannot be used (see [`Error::Preprocessing`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PrepProblem {
    /// The file was opened by an earlier run. Correlated randomness used
    /// twice would leak the difference of two secrets.
    #[error(
        "already used by an earlier run (its material must never be used twice; deal a new set with `privml dealer`)"
    )]
    AlreadyUsed,
    /// The file was dealt for another program.
    #[error(
        "dealt for another program (its digest is {found}, this program's is {expected}): deal one for this job"
    )]
    OtherProgram {
        /// This program's digest, hex.
        expected: String,
        /// The file's, hex.
        found: String,
    },
    /// The program needs more material than the file holds.
    #[error(
        "no material left for {op}: the file holds material for {ops} operations and this run needs more"
    )]
    Exhausted {
        /// The operation that ran out.
        op: String,
        /// Operations the file has material for.
        ops: u64,
    },
    /// The two parties' files come from different dealer runs.
    #[error("it and the other party's file come from different dealer runs")]
    OtherRun,
    /// A job's public announcement (the data's shapes and class count, a
    /// model id) is not the one the material was dealt for (see
    /// [`crate::mpc2::prep`]): material dealt for other shapes must not be
    /// used.
    #[error(
        "the data's shapes (or the model id) that party {from} announces differ from the ones this preprocessing was dealt for: announcement {index}, {detail}; write the public description for this data again (`privml announce`) and deal new files"
    )]
    OtherAnnouncement {
        /// 1-based index of the announcement in the run.
        index: usize,
        /// The announcing party.
        from: PartyId,
        /// What differs.
        detail: String,
    },
    /// The file is another party's.
    #[error("it is party {found}'s file, and this is party {expected}")]
    WrongParty {
        /// This party.
        expected: PartyId,
        /// The party the file is for.
        found: PartyId,
    },
}

/// What is wrong with a layer of a model description (see [`Error::Layer`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LayerProblem {
    /// A window larger than the (padded) input it slides over.
    #[error("kernel {kernel:?} is larger than the padded input {input:?}")]
    KernelTooLarge {
        /// Kernel rows and columns.
        kernel: Vec<usize>,
        /// Padded input rows and columns.
        input: Vec<usize>,
    },
    /// The previous layer's output is not what this layer takes.
    #[error("takes {expected}, but its input has shape {input:?}")]
    ShapesDoNotChain {
        /// The input shape (without the batch axis).
        input: Vec<usize>,
        /// What the layer takes.
        expected: &'static str,
    },
    /// Pooling windows that do not tile the input exactly.
    #[error(
        "window {kernel:?} with stride {stride:?} does not tile the input {input:?} (the border would be dropped)"
    )]
    WindowDoesNotDivide {
        /// Kernel rows and columns.
        kernel: Vec<usize>,
        /// Stride.
        stride: Vec<usize>,
        /// Input rows and columns.
        input: Vec<usize>,
    },
    /// A parameter tensor of the wrong shape.
    #[error("parameter '{name}' has shape {found:?}, the layer needs {expected:?}")]
    ParameterShape {
        /// The parameter (`"weights"`, `"bias"`, ...).
        name: &'static str,
        /// Its shape.
        found: Vec<usize>,
        /// The shape the layer needs.
        expected: Vec<usize>,
    },
    /// Fewer parameter tensors than the layers need.
    #[error("its parameter '{name}' is missing ({given} tensors given for the whole model)")]
    MissingParameter {
        /// The parameter.
        name: &'static str,
        /// How many tensors were given in all.
        given: usize,
    },
    /// A layer that cannot be used where it is (for example a batch
    /// normalisation that does not follow an affine layer).
    #[error("{0}")]
    Unsupported(String),
    /// The last layer's output is not one value per target column.
    #[error("its output has shape {output:?}, but the table has {targets} target columns")]
    OutputDoesNotMatchTargets {
        /// The model's output shape (without the batch axis).
        output: Vec<usize>,
        /// Target columns (classes, or 1).
        targets: usize,
    },
}

/// Where bytes that failed to decode came from (see [`Error::Decode`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Origin {
    /// A peer party, while this party was doing `op`.
    Peer {
        /// The sender.
        party: PartyId,
        /// What this party was doing.
        op: String,
    },
    /// A file.
    File(PathBuf),
    /// An outside client (data provider, federated site, query client).
    Client(String),
    /// Bytes handed to a decoding function directly.
    Bytes,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Peer { party, op } => write!(f, " from party {party} during {op}"),
            Origin::File(path) => write!(f, " in {}", path.display()),
            Origin::Client(name) => write!(f, " from client '{name}'"),
            Origin::Bytes => Ok(()),
        }
    }
}

/// What is wrong with bytes that do not decode (see [`Error::Decode`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// Fewer bytes than the format needs.
    #[error("truncated: {needed} bytes needed, {available} available")]
    Truncated {
        /// Bytes the format needs.
        needed: u64,
        /// Bytes there were.
        available: u64,
    },
    /// Bytes after the end of the object.
    #[error("{extra} unexpected trailing bytes")]
    TrailingBytes {
        /// How many.
        extra: u64,
    },
    /// The first bytes are not this format's magic number.
    #[error("not a {expected} (wrong magic bytes)")]
    BadMagic {
        /// The format that was expected.
        expected: &'static str,
    },
    /// A format version this build does not read.
    #[error("format version {found}, this build reads version {supported}")]
    UnsupportedVersion {
        /// The version in the bytes.
        found: u32,
        /// The version this build reads.
        supported: u32,
    },
    /// The checksum over the contents does not match (corruption or tampering).
    #[error("checksum mismatch (corrupted or modified)")]
    Checksum,
    /// A declared length above what is accepted, refused before allocating.
    #[error("declared length {declared} exceeds the limit {max}")]
    TooLarge {
        /// The length the bytes announce.
        declared: u64,
        /// The largest accepted.
        max: u64,
    },
    /// A length that differs from what the protocol or header expects.
    #[error("length {found}, expected {expected}")]
    WrongLength {
        /// What was expected.
        expected: u64,
        /// What was found.
        found: u64,
    },
    /// A message of another kind than expected.
    #[error("expected {expected}, got {found}")]
    WrongKind {
        /// The expected kind.
        expected: String,
        /// The kind found.
        found: String,
    },
    /// A field whose value is impossible or inconsistent with the others.
    #[error("field {field}: {reason}")]
    BadField {
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The serialisation layer (postcard) refused the bytes.
    #[error("{0}")]
    Postcard(#[from] postcard::Error),
    /// The protobuf layer (an ONNX file) refused the bytes.
    #[error("protobuf: {0}")]
    Protobuf(#[from] prost::DecodeError),
}

/// Which file operation failed (see [`Error::FileIo`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileOp {
    /// Opening or reading.
    Read,
    /// Creating or writing (including the temporary file of an atomic write).
    Write,
    /// Renaming a finished temporary file into place.
    Rename,
    /// Creating a directory.
    CreateDir,
    /// Reading metadata or permissions.
    Metadata,
}

impl std::fmt::Display for FileOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FileOp::Read => "read",
            FileOp::Write => "write",
            FileOp::Rename => "rename into place",
            FileOp::CreateDir => "create directory",
            FileOp::Metadata => "read metadata of",
        })
    }
}

/// TLS set-up or handshake failures (see [`Error::Tls`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// rustls refused a configuration, certificate or handshake.
    #[cfg(feature = "tls")]
    #[error("{context}: {source}")]
    Rustls {
        /// What was being done.
        context: String,
        /// rustls's error.
        #[source]
        source: rustls::Error,
    },
    /// Certificate generation failed.
    #[cfg(feature = "tls")]
    #[error("certificate generation: {0}")]
    Keygen(#[from] rcgen::Error),
    /// A certificate or key that cannot be used (empty chain, wrong name,
    /// unparseable PEM).
    #[error("{what}: {reason}")]
    BadCertificate {
        /// Which certificate or key.
        what: String,
        /// Why it cannot be used.
        reason: String,
    },
    /// The TLS handshake with a peer failed (typically certificates from
    /// different deployments, or another service at the peer's address).
    #[error(
        "handshake with party {party} at {addr} failed: {source} (were all certificates made by the same `privml keygen`, and is {addr} party {party}?)"
    )]
    Handshake {
        /// The peer.
        party: PartyId,
        /// Its address.
        addr: String,
        /// The transport's error (rustls reports as invalid data).
        #[source]
        source: std::io::Error,
    },
    /// The peer presented a certificate for another identity than the one
    /// this link expects.
    #[error("expected {expected}, the peer presented {presented}")]
    WrongPeer {
        /// The identity expected on this link.
        expected: String,
        /// The identity in the peer's certificate.
        presented: String,
    },
}

/// Why the [`Aggregator`](crate::he::Aggregator) refused an update (see
/// [`Error::UpdateRejected`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// The update has a different number of values than the aggregate.
    #[error("it has {got} values, the aggregate has {expected}")]
    WrongLength {
        /// Length the aggregator was created for.
        expected: usize,
        /// Length of the update.
        got: usize,
    },
    /// The update was encoded with other fixed-point parameters.
    #[error("it uses parameters {got}, the aggregator uses {expected}")]
    WrongParameters {
        /// The aggregator's parameters.
        expected: String,
        /// The update's parameters.
        got: String,
    },
    /// The update was encrypted under another public key.
    #[error("it was encrypted for key {got:016x}, the aggregator's key is {expected:016x}")]
    WrongKey {
        /// Id of the aggregator's public key.
        expected: u64,
        /// Id of the key the update names.
        got: u64,
    },
    /// This client id has already contributed to the aggregate.
    #[error("this client already submitted an update")]
    Duplicate,
    /// The submission's bytes do not decode (bad magic, version or kind,
    /// truncated or padded, checksum mismatch, inconsistent header).
    #[error("malformed submission: {0}")]
    Malformed(#[from] DecodeError),
    /// The submission is for another round of federated training.
    #[error("it is for round {got}, the aggregate is for round {expected}")]
    WrongRound {
        /// The round being aggregated.
        expected: u32,
        /// The round the submission names.
        got: u32,
    },
    /// A share addressed to another aggregation server.
    #[error("it is addressed to server {got}, this is server {expected}")]
    WrongServer {
        /// The receiving server.
        expected: usize,
        /// The server the message names.
        got: usize,
    },
    /// The submission names another client than the one that sent it.
    #[error("it claims to come from client '{named}'")]
    SenderMismatch {
        /// The client named inside the message.
        named: String,
    },
    /// The three aggregation servers did not all accept this client's
    /// shares, so none of them adds any (the sum would be garbage otherwise).
    #[error("server {server} refused its share: {reason}")]
    RefusedByServer {
        /// The first server that refused.
        server: usize,
        /// Why it refused.
        reason: Box<Rejection>,
    },
    /// The aggregate already holds as many updates as the parameters leave
    /// headroom for; one more could wrap around.
    #[error("the aggregate already holds the maximum of {max} updates")]
    TooManyUpdates {
        /// The parameters' `max_clients`.
        max: u32,
    },
}

impl Error {
    /// Shorthand for [`Error::Internal`].
    pub fn internal(at: &'static str, detail: impl Into<String>) -> Self {
        Error::Internal {
            at,
            detail: detail.into(),
        }
    }

    /// Shorthand for [`Error::FileIo`].
    pub fn file(op: FileOp, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::FileIo {
            op,
            path: path.into(),
            source,
        }
    }

    /// Shorthand for [`Error::Decode`].
    pub fn decode(what: &'static str, origin: Origin, error: impl Into<DecodeError>) -> Self {
        Error::Decode {
            what,
            origin,
            error: error.into(),
        }
    }

    /// Shorthand for [`Error::InvalidParameter`] (a caller's parameter that
    /// does not make sense; not for internal invariants, session mismatches
    /// or bad bytes, which have their own variants).
    pub fn invalid(name: &'static str, reason: impl Into<String>) -> Self {
        Error::InvalidParameter {
            name,
            reason: reason.into(),
        }
    }
}

/// What makes `shape` exceed `max` elements, for a message: a dimension
/// above the limit, an element count that overflows, or the count.
fn shape_excess(shape: &[usize], max: usize) -> String {
    if let Some((i, d)) = shape.iter().enumerate().find(|(_, d)| **d > max) {
        return format!("dimension {i} is {d}");
    }
    match shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d)) {
        Some(n) => format!("{n} elements"),
        None => "its element count overflows".to_string(),
    }
}

fn line_suffix(line: &Option<usize>) -> String {
    match line {
        Some(l) => format!(" (line {l} of the file)"),
        None => String::new(),
    }
}
