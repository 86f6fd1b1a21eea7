//! The three parties as a service for outside clients (`privml serve`,
//! `privml client`): data providers upload their tables as shares.
//!
//! Each party listens for clients at its `client_address` (the parties
//! file) with mutual TLS: the client's certificate must come from the
//! deployment CA and name a client of the access list
//! ([`crate::net::client_tls`]), and every request is checked against what
//! the access list allows that client. A client talks to each party over
//! its own connection, in [frames](crate::net::frame) carrying one
//! postcard-encoded [`Request`] or [`Reply`] each; a frame's length is
//! checked against the party's limit before anything is allocated, reads
//! and writes time out, and a bad request gets an error [`Reply`] (and a
//! log line on the party), never a stopped party.
//!
//! An upload ([`upload`]): the client prepares and shares its table
//! locally ([`crate::dataset_file`]), sends each party only its own share
//! file ([`Request::Stage`]), and once all three hold it staged, commits it
//! on each ([`Request::Commit`]); a party stores it ([`store::Store`]) under
//! the name the client chose. No party sees a row: each receives two
//! uniformly random words per value and the public schema.
//!
//! A prediction query ([`predict`]): the client asks a party for the
//! model's public description ([`Request::ModelInfo`]), prepares its rows
//! with the model's normaliser, shares them, and sends each party its pair
//! ([`Request::Predict`]); the three parties evaluate the model on the
//! shares over their own links (a fresh set of links per query, with the
//! query's id in the job description they compare) and each returns only
//! its shares of the output, exactly rounded as an opening would be; the
//! client combines them. No party sees the rows or the output: each
//! receives its pair of the rows (uniformly random words), and what the
//! protocol's messages carry.
//!
//! A training run ([`train`], `privml client train`): the client sends
//! the same [`TrainRequest`] to the three parties (the datasets, the model
//! name, the settings and a random job id); each loads its shares of the
//! named datasets, checks that their schemas agree (a difference names
//! both datasets), joins the rows locally
//! ([`union`](crate::dataset_file::union)), and the three train as
//! `privml party ... train --input` does on share files
//! ([`crate::learn::TrainJob`]) over links whose job description holds the
//! request; each stores its share of the model in its store. Party 0 sends
//! the progress lines while it trains; the per-epoch metrics and the final
//! metrics, which training opens to the parties anyway, go back to the
//! client. Nothing else is opened.
//!
//! Known limits:
//!
//! - the commit is three messages, one per party; a client that dies
//!   between them leaves the dataset on the parties it reached (the others
//!   then answer "no dataset of that name"), and the name can be reused
//!   only after removing the file from those stores;
//! - each party runs one secure computation at a time; two clients whose
//!   queries reach the parties in different orders can make the parties'
//!   links disagree on the job (a session mismatch, an error to both
//!   clients, who may retry);
//! - a connection may hold at most [`server::ServeOptions::max_staged`]
//!   uploads staged and not committed (4 by default), and at most
//!   `max_staged_bytes` of them (1 GiB); past either, a Stage is refused
//!   with an error saying so (`privml serve --max-staged`,
//!   `--max-staged-bytes`). Several connections of one client are each
//!   bounded, not their sum (the number of connections is);
//! - a training run's model is stored by each party when it finishes: if
//!   one party fails to write its file after the others wrote theirs, the
//!   model exists at two parties only, and the name must be freed by hand;
//! - a party that refuses a training or query request before connecting
//!   (a missing dataset, say) leaves the other two waiting for it until
//!   their connection deadline, and the client waits for their answer;
//! - SIGTERM lets the job in progress finish; aborting it is not there yet.

pub mod federated;
#[cfg(feature = "he")]
pub mod federated_he;
pub mod server;
pub mod store;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use rustls::{ClientConnection, StreamOwned};
use serde::{Deserialize, Serialize};

use crate::dataset_file::{DatasetSchema, DatasetShares, open_shares, share_matrix};
use crate::domain::TensorData;
use crate::error::{DecodeError, Error, Origin, Result};
use crate::model_file::ModelMeta;
use crate::net::Frame;
use crate::net::config::PartiesConfig;
use crate::net::frame::{self, FrameError};
use crate::net::tls::{self, Credentials};
use crate::ring::Payload;
use crate::runner::{Domain, DomainSpec, RingSize};

/// The largest request a party accepts by default (a dataset share file
/// of about a million values is 16 MiB; MNIST-5k is 63 MB).
pub const DEFAULT_MAX_REQUEST: u64 = 256 << 20;

/// A client's request to one party.
#[derive(Debug, Serialize, Deserialize)]
pub enum Request {
    /// Keep this party's share file of a new dataset, staged.
    Stage {
        /// The dataset's name.
        name: String,
        /// This party's dataset share file (its bytes, as written to disk).
        file: Vec<u8>,
    },
    /// Make the staged dataset a dataset.
    Commit {
        /// The dataset's name.
        name: String,
        /// The dataset id of the staged file.
        dataset_id: [u8; 16],
    },
    /// The datasets this client may use, with their public schemas.
    List,
    /// The public description of a stored model (features, normaliser,
    /// layers), for the client to prepare its rows.
    ModelInfo {
        /// The model's name.
        model: String,
    },
    /// Evaluate a stored model on rows the client shared: this party's
    /// pair of shares of the rows; the reply is this party's shares of the
    /// output.
    Predict {
        /// The model's name.
        model: String,
        /// A random id of the query, the same at all three parties.
        query: [u8; 16],
        /// This party's shares of the rows (rows × the model's inputs).
        rows: TensorData,
    },
    /// Train a model on the union of stored datasets; the reply is the
    /// run's metrics, and this party's share of the model is stored.
    Train(Box<TrainRequest>),
    /// Join (create or resume) a federated job as a site
    /// ([`federated`]); the reply is the job's status.
    FedJoin {
        /// The job's public settings.
        settings: crate::fl::FedSettings,
    },
    /// A site's update for a round: this party's pair of replicated shares
    /// (one federated wire message).
    FedSubmit {
        /// The job.
        job: String,
        /// The round.
        round: u32,
        /// The message for this party.
        message: Vec<u8>,
    },
    /// Wait for a round's result; the reply is the job's status with the
    /// round's summary and the new global model.
    FedWait {
        /// The job.
        job: String,
        /// The round.
        round: u32,
    },
    /// A site's accuracy of a closed round's global model on its own rows
    /// (`--report-accuracy`: a public scalar the site discloses), for the
    /// servers' progress log.
    FedReport {
        /// The job.
        job: String,
        /// The closed round whose model was evaluated.
        round: u32,
        /// The fraction of the site's rows classified right.
        accuracy: f64,
        /// The site's rows (its public weight).
        rows: u32,
    },
    /// A request of the deployed HE form ([`federated_he`]): the owner's
    /// and the sites' side of a job aggregated by this one party.
    #[cfg(feature = "he")]
    FedHe(federated_he::HeRequest),
}

/// The most datasets one training run may join.
pub const MAX_TRAIN_DATASETS: usize = 64;
/// The most epochs a client may ask for.
pub const MAX_TRAIN_EPOCHS: usize = 10_000;
/// The largest mini-batch a client may ask for.
pub const MAX_TRAIN_BATCH: usize = 65_536;
/// The most trainable parameters of a model a client may ask for (each
/// is a few dozen bytes on every party with its gradient and optimiser
/// state; this bounds what one request can make a party allocate).
pub const MAX_TRAIN_PARAMETERS: usize = 1 << 24;

/// What `privml client train` asks of the three parties: the same request
/// to each. Everything in it is public (the parties compare it in the job
/// description before computing).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainRequest {
    /// A random id of this training run, the same at all three parties:
    /// two runs asked for at once never join each other's links.
    pub job: [u8; 16],
    /// The datasets whose rows are joined (in this order).
    pub datasets: Vec<String>,
    /// The stored model's name.
    pub out: String,
    /// The model, as `privml train --model` takes it (a compact
    /// description or a preset).
    pub model: String,
    /// The loss.
    pub loss: crate::nn::Loss,
    /// The optimiser's keyword (`sgd`, `momentum`, `adam`).
    pub optimizer: String,
    /// Classification or regression; `None`: the datasets' own.
    pub task: Option<crate::learn::Task>,
    /// Epochs.
    pub epochs: usize,
    /// Mini-batch size.
    pub batch: usize,
    /// Learning rate.
    pub lr: f64,
    /// Fraction of rows held out for testing.
    pub test_fraction: f64,
    /// Use only the first N rows after shuffling.
    pub max_rows: Option<usize>,
    /// Seed of the shuffle, the split and the initial weights.
    pub seed: u64,
}

impl TrainRequest {
    /// The training settings on a dataset of `schema`, checked against the
    /// limits a party puts on a client's request. The scaling is the one
    /// the datasets were shared with (it is applied by the provider).
    pub fn settings(&self, schema: &DatasetSchema) -> Result<crate::learn::TrainSettings> {
        use crate::learn::{DataSpec, ModelChoice, OptimizerKind, TrainSettings};
        if self.epochs == 0 || self.epochs > MAX_TRAIN_EPOCHS {
            return Err(Error::invalid(
                "epochs",
                format!("{}: use 1 to {MAX_TRAIN_EPOCHS}", self.epochs),
            ));
        }
        if self.batch == 0 || self.batch > MAX_TRAIN_BATCH {
            return Err(Error::invalid(
                "batch",
                format!("{}: use 1 to {MAX_TRAIN_BATCH}", self.batch),
            ));
        }
        if !(0.0..1.0).contains(&self.test_fraction) {
            return Err(Error::invalid(
                "test fraction",
                format!("{}: use a number in [0, 1)", self.test_fraction),
            ));
        }
        let model: ModelChoice = self.model.parse()?;
        let optimizer: OptimizerKind = self.optimizer.parse()?;
        optimizer.config(self.lr)?;
        let architecture =
            model.architecture(schema.table.features.len(), schema.target_columns())?;
        let params = match &architecture {
            crate::model_file::Architecture::Mlp(spec) => {
                crate::nn::NetworkSpec::from(spec).parameter_count()?
            }
            crate::model_file::Architecture::Network(spec) => spec.parameter_count()?,
        };
        if params > MAX_TRAIN_PARAMETERS {
            return Err(Error::invalid(
                "model",
                format!(
                    "{architecture} has {params} parameters, more than the \
                     {MAX_TRAIN_PARAMETERS} a client may train"
                ),
            ));
        }
        let scaling = schema
            .table
            .normalizer
            .as_ref()
            .map(|_| crate::data::Scaling::Declared);
        let data = DataSpec {
            test_fraction: self.test_fraction,
            max_rows: self.max_rows,
            scaling,
            disclose_feature_stats: false,
        };
        data.check()?;
        Ok(TrainSettings {
            model,
            sgd: crate::nn::MiniBatch {
                epochs: self.epochs,
                batch: self.batch,
                lr: self.lr,
            },
            loss: self.loss,
            optimizer,
            task: self.task,
            data,
            seed: self.seed,
            data_owner: crate::learn::DEFAULT_DATA_OWNER,
            reveal_model: false,
        })
    }
}

/// A party's answer.
#[derive(Debug, Serialize, Deserialize)]
pub enum Reply {
    /// Done; a line for the client.
    Done(String),
    /// Datasets and their schemas.
    Datasets(Vec<(String, DatasetSchema)>),
    /// A model's public description.
    Model(Box<ModelMeta>),
    /// This party's shares of a query's output.
    Output(TensorData),
    /// The request was refused or failed; why.
    Failed(String),
    /// A line of a training run's progress (party 0 sends them while it
    /// trains; the final reply follows).
    Progress(String),
    /// A training run is done: its metrics lines (what training opens to
    /// every party anyway) and where the model was stored.
    Trained(Vec<String>),
    /// A federated job's status.
    Federated(Box<federated::FedStatus>),
    /// A reply of the deployed HE form.
    #[cfg(feature = "he")]
    FedHe(Box<federated_he::HeReply>),
}

/// Writes one message (a postcard value in a bytes frame).
pub fn send<T: Serialize, W: Write>(w: &mut W, round: u64, msg: &T) -> Result<()> {
    let bytes = postcard::to_allocvec(msg).map_err(|e| Error::internal("send", e.to_string()))?;
    frame::write_frame(
        w,
        &Frame {
            round,
            payload: Payload::Bytes(bytes),
        },
    )?;
    w.flush()?;
    Ok(())
}

/// Reads one message of at most `max` bytes from `who`; `Ok(None)` when the
/// stream ends cleanly between messages.
pub fn receive<T: for<'de> Deserialize<'de>, R: Read>(
    r: &mut R,
    max: u64,
    who: &Origin,
) -> Result<Option<T>> {
    let bad = |e: DecodeError| Error::decode("service message", who.clone(), e);
    let frame = match frame::read_frame(r, max) {
        Ok(f) => f,
        Err(FrameError::Closed) => return Ok(None),
        Err(e) => return Err(frame_error(e, who)),
    };
    let Payload::Bytes(b) = frame.payload else {
        return Err(bad(DecodeError::WrongKind {
            expected: "bytes".into(),
            found: "ring elements".into(),
        }));
    };
    let (v, extra) = postcard::take_from_bytes(&b).map_err(|e| bad(e.into()))?;
    if !extra.is_empty() {
        return Err(bad(DecodeError::TrailingBytes {
            extra: extra.len() as u64,
        }));
    }
    Ok(Some(v))
}

fn frame_error(e: FrameError, who: &Origin) -> Error {
    match e {
        FrameError::Io(io) => Error::Io(io),
        other => Error::invalid("service message", format!("from {who}: {other}")),
    }
}

/// A client's connection to one serving party.
pub struct Connection {
    party: usize,
    stream: StreamOwned<ClientConnection, TcpStream>,
    round: u64,
    max_reply: u64,
    /// A copy of the plaintext bytes sent, while recording
    /// ([`Connection::record_sent`]).
    sent: Option<Vec<u8>>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Connection(party {})", self.party)
    }
}

impl Connection {
    /// Connects to party `party`'s client address with the client's
    /// credentials (certificate from the deployment CA), verifying that
    /// the server is that party; `timeout` bounds the connection and every
    /// read and write.
    pub fn open(
        parties: &PartiesConfig,
        creds: &Credentials,
        party: usize,
        timeout: Duration,
    ) -> Result<Connection> {
        let entry = parties
            .parties
            .get(party)
            .ok_or(Error::InvalidParty(party))?;
        let addr = entry.client_address.as_deref().ok_or_else(|| {
            Error::invalid(
                "parties file",
                format!("party {party} has no client_address: it takes no clients"),
            )
        })?;
        let unreachable = |reason: String| Error::Unreachable {
            party,
            addr: addr.to_string(),
            reason,
        };
        let sock_addr = std::net::ToSocketAddrs::to_socket_addrs(addr)
            .map_err(|e| unreachable(e.to_string()))?
            .next()
            .ok_or_else(|| unreachable("no address".into()))?;
        let sock = TcpStream::connect_timeout(&sock_addr, timeout)
            .map_err(|e| unreachable(e.to_string()))?;
        sock.set_read_timeout(Some(timeout))?;
        sock.set_write_timeout(Some(timeout))?;
        sock.set_nodelay(true)?;
        let cfg = tls::client_config(creds)?;
        let conn = ClientConnection::new(Arc::clone(&cfg), tls::peer_server_name(party)?)
            .map_err(|e| unreachable(format!("TLS: {e}")))?;
        let mut stream = StreamOwned::new(conn, sock);
        while stream.conn.is_handshaking() {
            stream
                .conn
                .complete_io(&mut stream.sock)
                .map_err(|e| unreachable(format!("TLS handshake refused: {e}")))?;
        }
        Ok(Connection {
            party,
            stream,
            round: 0,
            max_reply: DEFAULT_MAX_REQUEST,
            sent: None,
        })
    }

    /// Sends `req` and waits for the reply; a [`Reply::Failed`] is an error
    /// naming the party.
    pub fn call(&mut self, req: &Request) -> Result<Reply> {
        let party = self.party;
        let closed = |e: Error| match e {
            Error::Io(io) => Error::invalid(
                "connection",
                format!("party {party} closed the connection ({io}): was this client refused?"),
            ),
            other => other,
        };
        self.send_request(req).map_err(closed)?;
        let who = Origin::Peer {
            party,
            op: "reply".into(),
        };
        let reply: Option<Reply> =
            receive(&mut self.stream, self.max_reply, &who).map_err(closed)?;
        match reply {
            Some(Reply::Failed(why)) => Err(Error::invalid(
                "request",
                format!("party {} refused: {why}", self.party),
            )),
            Some(r) => Ok(r),
            None => Err(Error::invalid(
                "connection",
                format!(
                    "party {} closed the connection without a reply (was this client refused?)",
                    self.party
                ),
            )),
        }
    }

    /// From now on, keeps a copy of every request this connection sends,
    /// as the plaintext frames the party decodes (what TLS encrypts): for
    /// tests that look at what a party receives from a client. The copy
    /// grows with what the caller sends; [`Connection::take_sent`] empties it.
    pub fn record_sent(&mut self) {
        self.sent.get_or_insert_with(Vec::new);
    }

    /// The bytes sent since [`Connection::record_sent`] (or the last
    /// call), taken; empty when not recording.
    pub fn take_sent(&mut self) -> Vec<u8> {
        self.sent.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Sends one request in the next round (copied when recording).
    fn send_request(&mut self, req: &Request) -> Result<()> {
        self.round += 1;
        match &mut self.sent {
            Some(copy) => {
                let start = copy.len();
                send(copy, self.round, req)?;
                self.stream.write_all(&copy[start..])?;
                self.stream.flush()?;
                Ok(())
            }
            None => send(&mut self.stream, self.round, req),
        }
    }

    /// Sends raw bytes (tests: a client that stops in the middle of a
    /// request).
    pub fn send_raw(&mut self, bytes: &[u8]) -> Result<()> {
        self.stream.write_all(bytes)?;
        self.stream.flush()?;
        Ok(())
    }
}

impl Drop for Connection {
    /// Ends the TLS session properly, so that the party logs a client that
    /// went away, not one that vanished.
    fn drop(&mut self) {
        self.stream.conn.send_close_notify();
        let _ = self.stream.flush();
    }
}

/// What an upload sent.
#[derive(Debug, Clone)]
pub struct UploadReport {
    /// The schema the parties stored.
    pub schema: DatasetSchema,
    /// Bytes of the request sent to each party.
    pub bytes_per_party: [u64; 3],
}

/// Connections to the three parties.
pub fn connect_all(
    parties: &PartiesConfig,
    creds: &Credentials,
    timeout: Duration,
) -> Result<[Connection; 3]> {
    Ok([
        Connection::open(parties, creds, 0, timeout)?,
        Connection::open(parties, creds, 1, timeout)?,
        Connection::open(parties, creds, 2, timeout)?,
    ])
}

/// Uploads the three parties' files of one sharing as dataset `name`:
/// each party gets only its own file, staged; then all three commit.
pub fn upload(
    conns: &mut [Connection; 3],
    name: &str,
    files: &[DatasetShares; 3],
) -> Result<UploadReport> {
    let mut bytes = [0u64; 3];
    for (p, conn) in conns.iter_mut().enumerate() {
        let file = files
            .iter()
            .find(|f| usize::from(f.party) == conn.party)
            .ok_or(Error::MissingValue {
                party: conn.party,
                what: "dataset share file",
            })?;
        let body = file.encode()?;
        bytes[p] = body.len() as u64;
        conn.call(&Request::Stage {
            name: name.to_string(),
            file: body,
        })?;
    }
    let id = files[0].schema.dataset_id;
    for conn in conns.iter_mut() {
        conn.call(&Request::Commit {
            name: name.to_string(),
            dataset_id: id,
        })?;
    }
    Ok(UploadReport {
        schema: files[0].schema.clone(),
        bytes_per_party: bytes,
    })
}

/// The model `model`'s public description, from party 0.
pub fn model_info(conn: &mut Connection, model: &str) -> Result<ModelMeta> {
    match conn.call(&Request::ModelInfo {
        model: model.to_string(),
    })? {
        Reply::Model(m) => Ok(*m),
        other => Err(unexpected(conn.party, &other)),
    }
}

fn unexpected(party: usize, reply: &Reply) -> Error {
    let what = match reply {
        Reply::Done(_) => "a confirmation",
        Reply::Datasets(_) => "a dataset list",
        Reply::Model(_) => "a model description",
        Reply::Output(_) => "output shares",
        Reply::Failed(_) => "a refusal",
        Reply::Progress(_) => "a progress line",
        Reply::Trained(_) => "training metrics",
        Reply::Federated(_) => "a federated status",
        #[cfg(feature = "he")]
        Reply::FedHe(_) => "an HE federated reply",
    };
    Error::invalid("reply", format!("party {party} answered with {what}"))
}

/// One private prediction: `x` (rows already prepared with the model's
/// normaliser) shared for the model's `domain`, each party's pair sent to
/// it, the parties' output shares combined. Returns the outputs (rows ×
/// the model's outputs).
pub fn predict(
    conns: &mut [Connection; 3],
    model: &str,
    domain: &DomainSpec,
    x: &ndarray::Array2<f64>,
) -> Result<ndarray::Array2<f64>> {
    let shares = share_matrix(x, domain)?;
    let mut query = [0u8; 16];
    crate::ring::prg::fill_from_os(&mut query)?;
    // Every party must get its request before any can finish: they compute
    // together. Send all three, then collect the replies.
    for (conn, rows) in conns.iter_mut().zip(shares) {
        let req = Request::Predict {
            model: model.to_string(),
            query,
            rows,
        };
        conn.send_request(&req)?;
    }
    let mut outs = Vec::with_capacity(3);
    for conn in conns.iter_mut() {
        let who = Origin::Peer {
            party: conn.party,
            op: "prediction".into(),
        };
        match receive(&mut conn.stream, conn.max_reply, &who)? {
            Some(Reply::Output(t)) => outs.push(t),
            Some(Reply::Failed(why)) => {
                return Err(Error::invalid(
                    "request",
                    format!("party {} refused: {why}", conn.party),
                ));
            }
            Some(other) => return Err(unexpected(conn.party, &other)),
            None => {
                return Err(Error::invalid(
                    "connection",
                    format!("party {} closed the connection", conn.party),
                ));
            }
        }
    }
    let y = open_shares([&outs[0], &outs[1], &outs[2]])?;
    y.into_dimensionality::<ndarray::Ix2>()
        .map_err(|e| Error::internal("predict", e.to_string()))
}

/// The domain a model's shares are in (the three-party shared domain of
/// its ring and fraction bits).
pub fn model_domain(meta: &ModelMeta) -> Result<DomainSpec> {
    let ring = match meta.domain {
        crate::runner::DomainKind::Shared64 => RingSize::Z64,
        crate::runner::DomainKind::Shared128 => RingSize::Z128,
        other => {
            return Err(Error::invalid(
                "model",
                format!("a served model holds three-party shares, not {other}"),
            ));
        }
    };
    Ok(DomainSpec {
        domain: Domain::Shared,
        ring,
        frac_bits: meta.frac_bits,
        ..DomainSpec::default()
    })
}

/// Trains a model on the union of stored datasets (`privml client
/// train`): the same request goes to all three parties, which train
/// together on their shares and each store their share of the model as
/// `req.out`. `progress` receives party 0's progress lines as they come;
/// returns party 0's final lines (the per-epoch and final metrics). A
/// party's refusal is an error naming it (and what the others said).
pub fn train(
    conns: &mut [Connection; 3],
    req: &TrainRequest,
    progress: &mut dyn FnMut(&str),
) -> Result<Vec<String>> {
    let request = Request::Train(Box::new(req.clone()));
    for conn in conns.iter_mut() {
        conn.send_request(&request)?;
    }
    let mut lines = None;
    let mut failures = Vec::new();
    for conn in conns.iter_mut() {
        let who = Origin::Peer {
            party: conn.party,
            op: "training".into(),
        };
        loop {
            match receive(&mut conn.stream, conn.max_reply, &who) {
                Ok(Some(Reply::Progress(line))) => {
                    if conn.party == 0 {
                        progress(&line);
                    }
                }
                Ok(Some(Reply::Trained(l))) => {
                    if lines.is_none() {
                        lines = Some(l);
                    }
                    break;
                }
                Ok(Some(Reply::Failed(why))) => {
                    failures.push(format!("party {} refused: {why}", conn.party));
                    break;
                }
                Ok(Some(other)) => {
                    failures.push(unexpected(conn.party, &other).to_string());
                    break;
                }
                Ok(None) => {
                    failures.push(format!("party {} closed the connection", conn.party));
                    break;
                }
                Err(e) => {
                    failures.push(format!("party {}: {e}", conn.party));
                    break;
                }
            }
        }
    }
    match (failures.is_empty(), lines) {
        (true, Some(l)) => Ok(l),
        _ => Err(Error::invalid("training", failures.join("; "))),
    }
}
