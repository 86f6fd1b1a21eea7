//! One serving party: accepts clients until told to stop.
//!
//! Every client connection gets its own thread (at most
//! [`ServeOptions::max_clients`] at once, itself at most
//! [`MAX_SERVE_CLIENTS`]; one more is refused with a log line), its own
//! read and write timeouts, and a request size limit checked
//! on the frame header before anything is allocated. A failing client ends
//! its own connection only: the error goes back to it as a
//! [`Reply::Failed`] where the connection still works, and into the log
//! with the client's name. Stopping ([`Server::run`] with a stop flag set,
//! by `privml serve` on SIGTERM or Ctrl-C) stops accepting, lets the
//! requests in progress finish, and returns.

use std::io::ErrorKind;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use rustls::{ServerConfig, ServerConnection, StreamOwned};

use super::federated::{CloseContext, FedJobs};
use super::store::Store;
use super::{DEFAULT_MAX_REQUEST, MAX_TRAIN_DATASETS, Reply, Request, TrainRequest, receive, send};
use crate::dataset_file::{DatasetShares, hex, union};
use crate::domain::{SharedConfig, TensorData};
use crate::error::{Error, Origin, Result};
use crate::learn::{EpochStats, Progress, SharedPredictJob, TrainJob};
use crate::net::Channel;
use crate::net::client_tls::{identify_client, serve_config};
use crate::net::config::{ClientEntry, PartiesConfig};
use crate::net::tcp::{self, ConnectOptions};
use crate::net::tls::Credentials;
use crate::runner::{Domain, DomainSpec, Exec, Job, RingSize, execute};
use crate::session::{JobDescription, SessionDescription};

/// How often party 0 tells a training client which batch it is at.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// How a party serves.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Read and write timeout per client operation.
    pub io_timeout: Duration,
    /// Largest request accepted.
    pub max_request: u64,
    /// Clients served at once (each holds a thread and a socket while
    /// connected); at most [`MAX_SERVE_CLIENTS`].
    pub max_clients: usize,
    /// Uploads one connection may hold staged and not yet committed.
    pub max_staged: usize,
    /// Bytes of share files one connection may hold staged and not yet
    /// committed (each is also bounded by `max_request`).
    pub max_staged_bytes: u64,
}

/// Uploads staged and not committed that one connection may hold by
/// default (an upload stages one file per party and commits it at once;
/// a few in flight are plenty).
pub const DEFAULT_MAX_STAGED: usize = 4;
/// Bytes staged and not committed that one connection may hold by default.
pub const DEFAULT_MAX_STAGED_BYTES: u64 = 1 << 30;
/// Clients served at once by default.
pub const DEFAULT_MAX_CLIENTS: usize = 16;
/// The most clients a party serves at once, whatever it is asked: each
/// connected client holds a thread (with its stack) and a file descriptor,
/// and a federated site's update stays in memory until its round closes,
/// so the bound keeps a party within ordinary process limits (`ulimit -n`
/// is commonly 1024) while leaving room for a few hundred federated sites.
pub const MAX_SERVE_CLIENTS: usize = 1000;

/// Bytes on the wire between this party and its clients (TLS records
/// included), counted at the sockets: what `privml serve` reports per
/// federated round. A [`Server`] shares its counters
/// ([`Server::client_bytes`]) with every connection it serves.
///
/// # Examples
///
/// ```
/// use privml::service::server::ClientBytes;
///
/// let bytes = ClientBytes::default();
/// assert_eq!((bytes.received(), bytes.sent()), (0, 0));
/// ```
#[derive(Debug, Default)]
pub struct ClientBytes {
    received: AtomicU64,
    sent: AtomicU64,
}

impl ClientBytes {
    /// Bytes received from clients so far.
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }

    /// Bytes sent to clients so far.
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }
}

/// A client's socket that adds what passes through it to the party's
/// [`ClientBytes`].
struct Counted {
    sock: TcpStream,
    bytes: Arc<ClientBytes>,
}

impl Read for Counted {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.sock.read(buf)?;
        self.bytes.received.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

impl Write for Counted {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.sock.write(buf)?;
        self.bytes.sent.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.sock.flush()
    }
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            io_timeout: Duration::from_secs(60),
            max_request: DEFAULT_MAX_REQUEST,
            max_clients: DEFAULT_MAX_CLIENTS,
            max_staged: DEFAULT_MAX_STAGED,
            max_staged_bytes: DEFAULT_MAX_STAGED_BYTES,
        }
    }
}

/// A serving party, bound and ready.
pub struct Server {
    me: usize,
    listener: TcpListener,
    tls: Arc<ServerConfig>,
    store: Store,
    parties: Arc<PartiesConfig>,
    opts: ServeOptions,
    log: Arc<dyn Fn(&str) + Send + Sync>,
    jobs: Arc<Mutex<()>>,
    fed: Arc<FedJobs>,
    bytes: Arc<ClientBytes>,
    #[cfg(feature = "he")]
    fed_he: Arc<super::federated_he::HeJobs>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Server(party {})", self.me)
    }
}

impl Server {
    /// Party `me` of `parties`, with its store in `store_dir`, bound to its
    /// `client_address`; `log` receives one line per event.
    pub fn bind(
        me: usize,
        parties: PartiesConfig,
        store_dir: &Path,
        opts: ServeOptions,
        log: Arc<dyn Fn(&str) + Send + Sync>,
    ) -> Result<Server> {
        let entry = parties.parties.get(me).ok_or(Error::InvalidParty(me))?;
        if !(1..=MAX_SERVE_CLIENTS).contains(&opts.max_clients) {
            return Err(Error::invalid(
                "max_clients",
                format!("{} is not in 1..={MAX_SERVE_CLIENTS}", opts.max_clients),
            ));
        }
        let creds = Credentials::load(&parties.ca, &entry.cert, &entry.key)?;
        creds.check_identity(me)?;
        let tls = serve_config(&creds, &parties)?;
        let addr = entry.client_address.clone().ok_or_else(|| {
            Error::invalid(
                "parties file",
                format!("party {me} has no client_address to serve clients on"),
            )
        })?;
        let listener = TcpListener::bind(&addr).map_err(|e| Error::Unreachable {
            party: me,
            addr: addr.clone(),
            reason: format!("cannot listen: {e}"),
        })?;
        listener.set_nonblocking(true)?;
        let (store, removed) = Store::open(store_dir, me)?;
        for r in removed {
            log(&format!(
                "removed {r}, an upload never committed or a write a crash interrupted"
            ));
        }
        log(&format!(
            "serving clients on {addr}, store {} ({} datasets)",
            store_dir.display(),
            store.list()?.len()
        ));
        Ok(Server {
            me,
            listener,
            tls,
            store,
            parties: Arc::new(parties),
            opts,
            log,
            jobs: Arc::default(),
            fed: Arc::new(FedJobs::new(store_dir)?),
            bytes: Arc::default(),
            #[cfg(feature = "he")]
            fed_he: Arc::new(super::federated_he::HeJobs::new(store_dir)?),
        })
    }

    /// The bytes exchanged with clients so far.
    pub fn client_bytes(&self) -> Arc<ClientBytes> {
        Arc::clone(&self.bytes)
    }

    /// Accepts clients until `stop` is set, then waits for the connections
    /// in progress and returns.
    pub fn run(&self, stop: &AtomicBool) -> Result<()> {
        let active = Arc::new(AtomicUsize::new(0));
        let threads: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        while !stop.load(Ordering::Relaxed) {
            match self.listener.accept() {
                Ok((sock, peer)) => {
                    if active.load(Ordering::Relaxed) >= self.opts.max_clients {
                        (self.log)(&format!(
                            "refused a connection from {peer}: {} clients are being served",
                            self.opts.max_clients
                        ));
                        continue;
                    }
                    active.fetch_add(1, Ordering::Relaxed);
                    let session = Session {
                        me: self.me,
                        store: self.store.clone(),
                        parties: Arc::clone(&self.parties),
                        opts: self.opts.clone(),
                        log: Arc::clone(&self.log),
                        peer: peer.to_string(),
                        jobs: Arc::clone(&self.jobs),
                        fed: Arc::clone(&self.fed),
                        bytes: Arc::clone(&self.bytes),
                        #[cfg(feature = "he")]
                        fed_he: Arc::clone(&self.fed_he),
                    };
                    let tls = Arc::clone(&self.tls);
                    let active = Arc::clone(&active);
                    let handle = std::thread::spawn(move || {
                        session.serve(sock, tls);
                        active.fetch_sub(1, Ordering::Relaxed);
                    });
                    let mut t = threads.lock().unwrap_or_else(PoisonError::into_inner);
                    t.retain(|h| !h.is_finished());
                    t.push(handle);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(25));
                }
                Err(e) => (self.log)(&format!("accept failed: {e}")),
            }
        }
        let mut pending =
            std::mem::take(&mut *threads.lock().unwrap_or_else(PoisonError::into_inner));
        pending.retain(|h| !h.is_finished());
        if !pending.is_empty() {
            (self.log)(&format!(
                "stopping: waiting for {} client connection(s) to finish",
                pending.len()
            ));
        }
        for h in pending {
            let _ = h.join();
        }
        (self.log)("stopped");
        Ok(())
    }
}

/// An upload this connection staged and has not committed.
struct Staged {
    name: String,
    id: [u8; 16],
    bytes: u64,
}

/// One client connection.
struct Session {
    me: usize,
    store: Store,
    parties: Arc<PartiesConfig>,
    opts: ServeOptions,
    log: Arc<dyn Fn(&str) + Send + Sync>,
    peer: String,
    /// One secure computation at a time (each listens on the party's
    /// address for the others).
    jobs: Arc<Mutex<()>>,
    /// Federated jobs (issue 17).
    fed: Arc<FedJobs>,
    /// The party's byte counters of client traffic.
    bytes: Arc<ClientBytes>,
    /// Federated jobs aggregated under HE by this party alone.
    #[cfg(feature = "he")]
    fed_he: Arc<super::federated_he::HeJobs>,
}

impl Session {
    fn serve(&self, sock: TcpStream, tls: Arc<ServerConfig>) {
        let setup = move || -> Result<StreamOwned<ServerConnection, Counted>> {
            sock.set_nonblocking(false)?;
            sock.set_read_timeout(Some(self.opts.io_timeout))?;
            sock.set_write_timeout(Some(self.opts.io_timeout))?;
            sock.set_nodelay(true)?;
            let conn =
                ServerConnection::new(tls).map_err(|e| Error::invalid("TLS", e.to_string()))?;
            let sock = Counted {
                sock,
                bytes: Arc::clone(&self.bytes),
            };
            let mut stream = StreamOwned::new(conn, sock);
            while stream.conn.is_handshaking() {
                stream.conn.complete_io(&mut stream.sock)?;
            }
            Ok(stream)
        };
        let mut stream = match setup() {
            Ok(s) => s,
            Err(e) => {
                (self.log)(&format!("refused a client from {}: {e}", self.peer));
                return;
            }
        };
        let names: Vec<String> = self
            .parties
            .clients
            .iter()
            .map(|c| c.name.clone())
            .collect();
        let client = stream
            .conn
            .peer_certificates()
            .and_then(|c| c.first())
            .and_then(|c| identify_client(c, &names));
        let Some(client) = client else {
            (self.log)(&format!(
                "refused a client from {}: no listed name",
                self.peer
            ));
            return;
        };
        (self.log)(&format!("client {client} connected from {}", self.peer));
        let mut staged: Vec<Staged> = Vec::new();
        let who = Origin::Client(client.clone());
        let mut round = 0;
        loop {
            let req: Option<Request> = match receive(&mut stream, self.opts.max_request, &who) {
                Ok(r) => r,
                Err(e) => {
                    (self.log)(&format!("client {client}: {e}; closing its connection"));
                    round += 1;
                    let _ = send(&mut stream, round, &Reply::Failed(e.to_string()));
                    break;
                }
            };
            let Some(req) = req else {
                break;
            };
            let reply = {
                // A training run's progress lines go to the client while it
                // runs (they also keep its reads from timing out).
                let sink = Mutex::new((&mut stream, &mut round));
                let progress = |line: &str| {
                    let mut g = sink.lock().unwrap_or_else(PoisonError::into_inner);
                    let (s, r) = &mut *g;
                    **r += 1;
                    let _ = send(*s, **r, &Reply::Progress(line.to_string()));
                };
                match self.handle(&client, req, &mut staged, &progress) {
                    Ok(r) => r,
                    Err(e) => {
                        (self.log)(&format!("client {client}: refused: {e}"));
                        Reply::Failed(e.to_string())
                    }
                }
            };
            round += 1;
            if let Err(e) = send(&mut stream, round, &reply) {
                (self.log)(&format!("client {client}: cannot reply: {e}"));
                break;
            }
        }
        for Staged { name, id, .. } in &staged {
            self.store.drop_staged(name, id);
            (self.log)(&format!(
                "client {client}: dropped dataset '{name}', staged but never committed"
            ));
        }
        (self.log)(&format!("client {client} disconnected"));
    }

    fn handle(
        &self,
        client: &str,
        req: Request,
        staged: &mut Vec<Staged>,
        progress: &(dyn Fn(&str) + Sync),
    ) -> Result<Reply> {
        let entry = self
            .parties
            .client(client)
            .ok_or_else(|| Error::invalid("client", format!("{client} is not listed")))?;
        let allowed = |name: &str| -> Result<()> {
            if entry.may_use_dataset(name) {
                Ok(())
            } else {
                Err(Error::invalid(
                    "access",
                    format!(
                        "client {client} may not use dataset '{name}' (the parties file's access list)"
                    ),
                ))
            }
        };
        match req {
            Request::Stage { name, file } => {
                allowed(&name)?;
                let held: u64 = staged.iter().map(|s| s.bytes).sum();
                let bytes = file.len() as u64;
                if staged.len() >= self.opts.max_staged {
                    return Err(Error::invalid(
                        "upload",
                        format!(
                            "this connection holds {} uploads staged and not committed, the \
                             most a party keeps: commit them (or reconnect) before staging more",
                            staged.len()
                        ),
                    ));
                }
                if held.saturating_add(bytes) > self.opts.max_staged_bytes {
                    return Err(Error::invalid(
                        "upload",
                        format!(
                            "staging {bytes} more bytes would make {} bytes staged and not \
                             committed on this connection, above the party's limit of {}: \
                             commit what is staged first",
                            held.saturating_add(bytes),
                            self.opts.max_staged_bytes
                        ),
                    ));
                }
                let shares = DatasetShares::decode(&file, Origin::Client(client.to_string()))?;
                let schema = self.store.stage(&name, &shares)?;
                staged.push(Staged {
                    name: name.clone(),
                    id: schema.dataset_id,
                    bytes,
                });
                (self.log)(&format!(
                    "client {client}: staged dataset '{name}' ({}, {} bytes)",
                    schema.summary(),
                    file.len()
                ));
                Ok(Reply::Done(format!("party {} staged '{name}'", self.me)))
            }
            Request::Commit { name, dataset_id } => {
                allowed(&name)?;
                self.store.commit(&name, &dataset_id)?;
                staged.retain(|s| !(s.name == name && s.id == dataset_id));
                (self.log)(&format!(
                    "client {client}: committed dataset '{name}' ({})",
                    hex(&dataset_id)
                ));
                Ok(Reply::Done(format!("party {} stored '{name}'", self.me)))
            }
            Request::ModelInfo { model } => {
                self.model_allowed(client, entry, &model)?;
                let m = self.store.load_model(&model)?;
                (self.log)(&format!("client {client}: described model '{model}'"));
                Ok(Reply::Model(Box::new(m.meta)))
            }
            Request::Predict { model, query, rows } => {
                self.model_allowed(client, entry, &model)?;
                let n = rows.shape().first().copied().unwrap_or(0);
                let t0 = std::time::Instant::now();
                let out = self.predict(&model, &query, rows)?;
                (self.log)(&format!(
                    "client {client}: predicted {n} rows with model '{model}' (query {}, {:.3} s)",
                    hex(&query),
                    t0.elapsed().as_secs_f64()
                ));
                Ok(Reply::Output(out))
            }
            Request::Train(req) => {
                for d in &req.datasets {
                    allowed(d)?;
                }
                self.model_allowed(client, entry, &req.out)?;
                let t0 = std::time::Instant::now();
                let lines = self.train(&req, progress)?;
                (self.log)(&format!(
                    "client {client}: trained model '{}' on {} (job {}, {:.1} s)",
                    req.out,
                    req.datasets.join(", "),
                    hex(&req.job),
                    t0.elapsed().as_secs_f64()
                ));
                Ok(Reply::Trained(lines))
            }
            Request::FedJoin { settings } => {
                self.model_allowed(client, entry, &settings.job)?;
                let st = self.fed.join(self.me, &settings, &self.bytes, &*self.log)?;
                (self.log)(&format!(
                    "client {client}: joined federated '{}' at round {}",
                    settings.job, st.round
                ));
                Ok(Reply::Federated(Box::new(st)))
            }
            Request::FedSubmit {
                job,
                round,
                message,
            } => {
                self.model_allowed(client, entry, &job)?;
                self.fed
                    .submit(&self.parties, client, &job, round, &message, &*self.log)?;
                Ok(Reply::Done(format!("party {} took the update", self.me)))
            }
            Request::FedWait { job, round } => {
                self.model_allowed(client, entry, &job)?;
                let ctx = CloseContext {
                    me: self.me,
                    parties: &self.parties,
                    io_timeout: self.opts.io_timeout,
                    jobs: &self.jobs,
                    log: &*self.log,
                    bytes: &self.bytes,
                };
                let st = self.fed.wait(&ctx, &job, round)?;
                Ok(Reply::Federated(Box::new(st)))
            }
            Request::FedReport {
                job,
                round,
                accuracy,
                rows,
            } => {
                self.model_allowed(client, entry, &job)?;
                self.fed
                    .report(client, &job, round, accuracy, rows, &*self.log)?;
                Ok(Reply::Done(format!("party {} took the report", self.me)))
            }
            #[cfg(feature = "he")]
            Request::FedHe(req) => {
                self.model_allowed(client, entry, req.job())?;
                let reply = self.fed_he.handle(&self.parties, client, req, &*self.log)?;
                Ok(Reply::FedHe(Box::new(reply)))
            }
            Request::List => {
                let mut out = Vec::new();
                for name in self.store.list()? {
                    if entry.may_use_dataset(&name) {
                        out.push((name.clone(), self.store.load(&name)?.schema));
                    }
                }
                (self.log)(&format!("client {client}: listed {} datasets", out.len()));
                Ok(Reply::Datasets(out))
            }
        }
    }
}

impl Session {
    fn model_allowed(&self, client: &str, entry: &ClientEntry, model: &str) -> Result<()> {
        if entry.may_use_model(model) {
            Ok(())
        } else {
            Err(Error::invalid(
                "access",
                format!(
                    "client {client} may not use model '{model}' (the parties file's access list)"
                ),
            ))
        }
    }

    /// Trains on the union of the named datasets with the other two
    /// parties over fresh links whose job description holds the request
    /// (the settings, the datasets, the union's id, the job id), then
    /// stores this party's share of the model. Party 0 passes the
    /// progress on as lines (at most one batch line every few seconds).
    fn train(&self, req: &TrainRequest, progress: &(dyn Fn(&str) + Sync)) -> Result<Vec<String>> {
        if req.datasets.len() > MAX_TRAIN_DATASETS {
            return Err(Error::invalid(
                "datasets",
                format!(
                    "{} datasets: one run joins at most {MAX_TRAIN_DATASETS}",
                    req.datasets.len()
                ),
            ));
        }
        if self.store.has_model(&req.out) {
            return Err(Error::invalid(
                "model name",
                format!("party {} has a model '{}' already", self.me, req.out),
            ));
        }
        let mut named = Vec::with_capacity(req.datasets.len());
        for name in &req.datasets {
            named.push((name.clone(), self.store.load(name)?));
        }
        let file = union(&named)?;
        drop(named);
        let schema = &file.schema;
        let settings = req.settings(schema)?;
        let ring = if schema.ring_bits == 128 {
            RingSize::Z128
        } else {
            RingSize::Z64
        };
        let domain = DomainSpec {
            domain: Domain::Shared,
            ring,
            frac_bits: Some(schema.frac_bits),
            ..DomainSpec::default()
        };
        let session = SessionDescription {
            job: JobDescription::Train(settings.clone()),
            domain,
        }
        .to_text()
        .with("serve_job", hex(&req.job))
        .with("datasets", req.datasets.join(","))
        .with("dataset_id", hex(&schema.dataset_id))
        .with("out", &req.out);
        let cfg = SharedConfig::default()
            .timeout(self.opts.io_timeout)
            .frac_bits(schema.frac_bits);
        let me = self.me;
        let last_batch = Mutex::new(std::time::Instant::now());
        let report = |p: &Progress| match p {
            Progress::Start {
                batches,
                epochs,
                architecture,
                task,
            } => progress(&format!(
                "training {architecture} ({task}) on {} rows of {} for {epochs} epochs of {batches} batches",
                schema.rows,
                req.datasets.join(", ")
            )),
            Progress::Batch { epoch, batch } => {
                let mut last = last_batch.lock().unwrap_or_else(PoisonError::into_inner);
                if last.elapsed() >= PROGRESS_EVERY {
                    *last = std::time::Instant::now();
                    progress(&format!("epoch {} batch {}", epoch + 1, batch + 1));
                }
            }
            Progress::Epoch(s) => progress(&s.line()),
        };
        let job = TrainJob {
            settings: &settings,
            data: None,
            shared: std::slice::from_ref(&file),
            out_prefix: None,
            progress: &report,
        };
        let t0 = std::time::Instant::now();
        let out = self.with_parties(session.to_string(), ring, cfg, &job)?;
        self.store.save_model(&req.out, &out.model)?;
        let mut lines: Vec<String> = out.epochs.iter().map(EpochStats::line).collect();
        if let Some(last) = out.epochs.last() {
            lines.push(last.final_line());
        }
        lines.push(format!(
            "trained in {:.1} s; party {me} stored its share of model '{}'",
            t0.elapsed().as_secs_f64(),
            req.out
        ));
        Ok(lines)
    }

    /// Runs one query with the other two parties over fresh links whose
    /// job description names the model and the query.
    fn predict(&self, model: &str, query: &[u8; 16], rows: TensorData) -> Result<TensorData> {
        let saved = self.store.load_model(model)?;
        let ring = match &rows {
            TensorData::Shares { ring_bits: 128, .. } => RingSize::Z128,
            _ => RingSize::Z64,
        };
        let session = format!(
            "privml serve: predict model={model} model_id={} query={} rows={:?}",
            hex(&saved.model_id),
            hex(query),
            rows.shape()
        );
        let mut cfg = SharedConfig::default().timeout(self.opts.io_timeout);
        if let Some(f) = saved.meta.frac_bits {
            cfg = cfg.frac_bits(f);
        }
        let job = SharedPredictJob {
            models: std::slice::from_ref(&saved),
            rows: std::slice::from_ref(&rows),
        };
        self.with_parties(session, ring, cfg, &job)
    }

    /// Runs `job` with the other two parties over fresh links whose job
    /// description is `session` (the parties compare it when they
    /// connect), one secure computation at a time.
    fn with_parties<J: Job>(
        &self,
        session: String,
        ring: RingSize,
        cfg: SharedConfig,
        job: &J,
    ) -> Result<J::Output> {
        let opts = ConnectOptions::from_config(&self.parties).session(session);
        let parties = Arc::clone(&self.parties);
        let me = self.me;
        let connect = move || -> Result<(Box<dyn Channel>, Box<dyn Channel>)> {
            Ok(tcp::connect(&parties, me, &opts)?.into_boxed())
        };
        let exec = Exec::Party {
            id: me,
            ring,
            cfg,
            connect: &connect,
        };
        let _one_at_a_time = self.jobs.lock().unwrap_or_else(PoisonError::into_inner);
        let (out, _cost) = execute(&exec, job)?;
        Ok(out)
    }
}
