//! The record of opened keystreams and the audit scopes (feature
//! `audit-keystreams` only; see the [parent module](super)).

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use sha2::{Digest, Sha256};

use super::NegativeControl;
use crate::ring::prg::Seed;

/// A key, named by a fingerprint of its seed (the first 8 bytes of a
/// SHA-256 of the seed under a fixed label): enough to tell keys apart in
/// a test, nothing to recover the key from.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(pub u64);

impl KeyId {
    /// The fingerprint of `seed`'s key.
    pub fn of(seed: &Seed) -> Self {
        let mut h = Sha256::new();
        h.update(b"privml audit key id");
        h.update(seed.expose_bytes());
        let d = h.finalize();
        let mut w = [0u8; 8];
        w.copy_from_slice(&d[..8]);
        KeyId(u64::from_le_bytes(w))
    }
}

impl std::fmt::Debug for KeyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "key {:016x}", self.0)
    }
}

/// One keystream: a key and where in its counter space the stream starts
/// (operation `op`, sub-stream `sub`; see
/// [`PrfKey::stream`](crate::ring::prg::PrfKey::stream)). A client's seeded
/// stream is operation 0, sub-stream 0 of its seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamId {
    /// The key.
    pub key: KeyId,
    /// The operation counter.
    pub op: u64,
    /// The sub-stream within the operation.
    pub sub: u8,
}

/// What a party does when it opens a keystream for the second time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnReuse {
    /// Panic at once, naming the party and the stream (the default, so
    /// that every test of a protocol also checks it).
    Panic,
    /// Record it and go on (negative controls read the [`Report`]).
    Record,
}

/// A keystream that one party opened more than once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reuse {
    /// The party (or client) whose log it is.
    pub owner: String,
    /// The stream.
    pub stream: StreamId,
    /// What the key is to the owner ("shared with party 2", ...) and what
    /// the stream was first opened for.
    pub what: String,
    /// How many times it was opened.
    pub times: u32,
}

impl std::fmt::Display for Reuse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} opened keystream ({:?}, op {}, sub-stream {}; {}) {} times",
            self.owner, self.stream.key, self.stream.op, self.stream.sub, self.what, self.times
        )
    }
}

#[derive(Debug)]
struct Entry {
    times: u32,
    what: String,
}

/// Every keystream one party (or one federated client) opened, and how
/// often. Shared by the party's keys (cloned keys record into the same
/// log).
#[derive(Debug)]
pub struct KeystreamLog {
    owner: String,
    on_reuse: OnReuse,
    opened: Mutex<HashMap<StreamId, Entry>>,
}

impl KeystreamLog {
    /// A log for `owner` with the given policy (not registered anywhere;
    /// [`new_log`] registers it in the thread's audit scope).
    pub fn new(owner: impl Into<String>, on_reuse: OnReuse) -> Self {
        KeystreamLog {
            owner: owner.into(),
            on_reuse,
            opened: Mutex::new(HashMap::new()),
        }
    }

    /// Whose log this is ("party 1", "federated client 3").
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// Records that the owner opened `stream` for `what`; a second opening
    /// is a reuse (a panic under [`OnReuse::Panic`]).
    pub fn open(&self, stream: StreamId, what: &str) {
        let mut opened = self.opened.lock().unwrap_or_else(PoisonError::into_inner);
        let e = opened.entry(stream).or_insert_with(|| Entry {
            times: 0,
            what: what.to_string(),
        });
        e.times += 1;
        if e.times > 1 && self.on_reuse == OnReuse::Panic {
            let reuse = Reuse {
                owner: self.owner.clone(),
                stream,
                what: format!("first for {}, now for {what}", e.what),
                times: e.times,
            };
            drop(opened);
            panic!(
                "keystream reuse: {reuse} (a mask or zero-sharing used twice: the messages it \
                 masks would be correlated; see privml::ring::audit)"
            );
        }
    }

    /// The distinct keystreams opened, in order of (key, op, sub-stream).
    pub fn streams(&self) -> Vec<StreamId> {
        let opened = self.opened.lock().unwrap_or_else(PoisonError::into_inner);
        let mut v: Vec<StreamId> = opened.keys().copied().collect();
        v.sort();
        v
    }

    /// The keystreams opened more than once.
    pub fn reuses(&self) -> Vec<Reuse> {
        let opened = self.opened.lock().unwrap_or_else(PoisonError::into_inner);
        let mut v: Vec<Reuse> = opened
            .iter()
            .filter(|(_, e)| e.times > 1)
            .map(|(s, e)| Reuse {
                owner: self.owner.clone(),
                stream: *s,
                what: e.what.clone(),
                times: e.times,
            })
            .collect();
        v.sort_by_key(|r| r.stream);
        v
    }
}

/// A key's link to its owner's log: what the key is to the owner, and the
/// log its streams are recorded in (see
/// [`PrfKey::audited`](crate::ring::prg::PrfKey::audited)).
#[derive(Debug, Clone)]
pub struct KeyTag {
    /// The key's fingerprint.
    pub id: KeyId,
    /// What the key is to the owner ("shared with party 2").
    pub label: Arc<str>,
    /// The owner's log.
    pub log: Arc<KeystreamLog>,
}

/// Settings of an audit scope ([`run`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Audit {
    /// What a reuse does.
    pub on_reuse: OnReuse,
    /// The broken variant switched on, if any.
    pub control: Option<NegativeControl>,
}

impl Audit {
    /// Reuses panic (as outside any scope).
    pub fn strict() -> Self {
        Audit {
            on_reuse: OnReuse::Panic,
            control: None,
        }
    }

    /// Reuses are recorded, for the [`Report`] to show.
    pub fn recording() -> Self {
        Audit {
            on_reuse: OnReuse::Record,
            control: None,
        }
    }

    /// The same with `control` switched on.
    pub fn with_control(mut self, control: NegativeControl) -> Self {
        self.control = Some(control);
        self
    }
}

#[derive(Debug)]
struct Scope {
    audit: Audit,
    logs: Mutex<Vec<Arc<KeystreamLog>>>,
}

thread_local! {
    static SCOPE: RefCell<Option<Arc<Scope>>> = const { RefCell::new(None) };
}

/// The audit scope of a thread, to carry into threads it starts (as
/// [`Shared::simulate`](crate::Shared::simulate) does).
#[derive(Debug, Clone)]
pub struct ScopeHandle(Option<Arc<Scope>>);

impl ScopeHandle {
    /// This thread's scope (possibly none).
    pub fn current() -> Self {
        ScopeHandle(SCOPE.with(|s| s.borrow().clone()))
    }

    /// Makes it this thread's scope until the guard is dropped.
    pub fn enter(self) -> ScopeGuard {
        let previous = SCOPE.with(|s| s.replace(self.0));
        ScopeGuard { previous }
    }
}

/// Restores the thread's previous audit scope when dropped.
#[derive(Debug)]
pub struct ScopeGuard {
    previous: Option<Arc<Scope>>,
}

impl Drop for ScopeGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        let _ = SCOPE.try_with(|s| s.replace(previous));
    }
}

/// The logs of every party and client that started inside one [`run`].
#[derive(Debug)]
pub struct Report {
    logs: Vec<Arc<KeystreamLog>>,
}

impl Report {
    /// The logs, in the order their owners started.
    pub fn logs(&self) -> &[Arc<KeystreamLog>] {
        &self.logs
    }

    /// Every reuse in every log.
    pub fn reuses(&self) -> Vec<Reuse> {
        self.logs.iter().flat_map(|l| l.reuses()).collect()
    }

    /// Keystreams opened, summed over the logs.
    pub fn streams(&self) -> usize {
        self.logs.iter().map(|l| l.streams().len()).sum()
    }
}

/// Runs `f` in a fresh audit scope with the settings `audit` and returns
/// its result with the [`Report`] of every log created inside (on this
/// thread, or on threads that entered the scope's [`ScopeHandle`]).
pub fn run<R>(audit: Audit, f: impl FnOnce() -> R) -> (R, Report) {
    let scope = Arc::new(Scope {
        audit,
        logs: Mutex::new(Vec::new()),
    });
    let out = {
        let _guard = ScopeHandle(Some(Arc::clone(&scope))).enter();
        f()
    };
    let logs = scope
        .logs
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    (out, Report { logs })
}

/// A new log for `owner`, with the policy of this thread's scope
/// ([`OnReuse::Panic`] outside any), registered in the scope.
pub fn new_log(owner: impl Into<String>) -> Arc<KeystreamLog> {
    SCOPE.with(|s| {
        let scope = s.borrow();
        let on_reuse = scope
            .as_ref()
            .map_or(OnReuse::Panic, |sc| sc.audit.on_reuse);
        let log = Arc::new(KeystreamLog::new(owner, on_reuse));
        if let Some(sc) = scope.as_ref() {
            sc.logs
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(Arc::clone(&log));
        }
        log
    })
}

/// Whether this thread's scope switched `control` on.
pub(super) fn control_on(control: NegativeControl) -> bool {
    SCOPE
        .try_with(|s| {
            s.borrow()
                .as_ref()
                .is_some_and(|sc| sc.audit.control == Some(control))
        })
        .unwrap_or(false)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failing test is meant to panic")]
mod tests {
    use super::*;

    fn stream(op: u64, sub: u8) -> StreamId {
        StreamId {
            key: KeyId::of(&Seed::from_u64(1)),
            op,
            sub,
        }
    }

    #[test]
    fn a_second_opening_is_a_reuse() {
        let log = KeystreamLog::new("party 0", OnReuse::Record);
        log.open(stream(1, 0), "a");
        log.open(stream(1, 1), "b");
        log.open(stream(2, 0), "c");
        assert!(log.reuses().is_empty());
        log.open(stream(1, 1), "d");
        let r = log.reuses();
        assert_eq!(r.len(), 1);
        assert_eq!((r[0].stream, r[0].times), (stream(1, 1), 2));
        assert!(r[0].to_string().contains("party 0 opened keystream"));
        assert_eq!(log.streams().len(), 3);
    }

    #[test]
    #[should_panic(expected = "keystream reuse: party 2 opened")]
    fn the_default_policy_panics() {
        let log = new_log("party 2");
        log.open(stream(5, 3), "mask");
        log.open(stream(5, 3), "output");
    }

    #[test]
    fn scopes_collect_logs_and_carry_the_control() {
        let control = NegativeControl::CompareReusesZeroSharing;
        assert!(!control_on(control));
        let (on, report) = run(Audit::recording().with_control(control), || {
            let _ = new_log("a");
            let handle = ScopeHandle::current();
            std::thread::spawn(move || {
                let _g = handle.enter();
                let _ = new_log("b");
                control_on(control)
            })
            .join()
            .unwrap()
        });
        assert!(on);
        assert!(!control_on(control));
        let owners: Vec<&str> = report.logs().iter().map(|l| l.owner()).collect();
        assert_eq!(owners, ["a", "b"]);
        assert_ne!(KeyId::of(&Seed::from_u64(1)), KeyId::of(&Seed::from_u64(2)));
    }
}
