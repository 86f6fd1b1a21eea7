//! Test-build instrumentation of keystream use, and the deliberately broken
//! protocol variants that the privacy tests must detect.
//!
//! Every mask, PRF share and zero-sharing of the protocol is read from a
//! keystream: a key (a pairwise [`PrfKey`](super::prg::PrfKey) or a seed a
//! client drew) and a starting counter (operation and sub-stream). The
//! protocol is secure only if no party ever reads the same keystream twice:
//! two messages masked by the same stream are each uniform, but their
//! difference is not, and statistics of single messages cannot see that.
//!
//! With the cargo feature `audit-keystreams` (enabled for the test suite by
//! the crate's dev-dependency on itself; release builds leave it out),
//!
//! - every party records each keystream it opens in a `KeystreamLog`:
//!   `(key, op, sub-stream)`, the key named by a fingerprint of its seed;
//! - a second opening of the same keystream is a *reuse*: by default it
//!   panics at once, naming the party and the stream, so every test that
//!   runs a protocol (in any test file, through any API) also checks it;
//! - `run` runs a closure in an audit scope: every party started inside
//!   it (the threads of [`Shared::simulate`](crate::Shared::simulate)
//!   inherit it), and every federated client sharing an update, register
//!   their logs there, so a test gets the `Report` of a whole program;
//! - a scope can switch on one [`NegativeControl`]: a broken variant of the
//!   protocol that reuses a keystream (and leaks), which the tests show the
//!   record catches.
//!
//! Without the feature this module holds only [`NegativeControl`] and the
//! crate-internal switch that reads it, which is then the constant `false`:
//! the broken branches and every recording call are compiled away (so the
//! items named here in code font, `KeystreamLog`, `run`, `Report`, exist in
//! test builds only).
//!
//! # Examples
//!
//! ```
//! # #[cfg(feature = "audit-keystreams")]
//! # {
//! use privml::ring::audit::{self, Audit};
//! use privml::{Ring, Shared};
//!
//! let x = ndarray::arr1(&[1.5, -2.0]).into_dyn();
//! let (out, report) = audit::run(Audit::recording(), || {
//!     Shared::<u64>::simulate(|r| {
//!         let a = r.input(0, r.owns(0).then_some(&x), &[2])?;
//!         let b = r.mul(&a, &a)?;
//!         r.reveal(&b)
//!     })
//! });
//! assert!(out.is_ok());
//! assert_eq!(report.logs().len(), 3); // one per party
//! assert!(report.reuses().is_empty());
//! # }
//! ```

use super::prg::{AesPrg, Seed};

/// A deliberately broken protocol variant, for the negative controls of the
/// privacy tests. Each reuses a keystream, which the `KeystreamLog` (and
/// for some, the view statistics) must detect.
///
/// Only a test build (feature `audit-keystreams`) can switch one on, for
/// the closure given to `run` and the parties it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NegativeControl {
    /// The truncation draws its first mask r0 from the output sub-stream
    /// of the same operation, the one party 0's output share y0 comes
    /// from: the opened c then hides z0 with y0, which party 1 later sees.
    TruncMaskFromOutputStream,
    /// Each round of AND gates of the comparison circuit adds the XOR
    /// zero-sharing of the previous round again: the XOR of two rounds'
    /// messages from one party no longer carries any mask.
    CompareReusesZeroSharing,
    /// A federated client (seeded share encoding) uses one seed for both
    /// x0 and x1: a server holding one seed and x2 = x − 2·x1 computes x.
    FederatedClientEqualSeeds,
}

/// Whether `control` is switched on for this thread: always `false` without
/// the feature `audit-keystreams`, so the broken branch is compiled away.
#[inline(always)]
pub(crate) fn broken(control: NegativeControl) -> bool {
    #[cfg(feature = "audit-keystreams")]
    {
        recording::control_on(control)
    }
    #[cfg(not(feature = "audit-keystreams"))]
    {
        let _ = control;
        false
    }
}

/// The keystreams one actor (a federated client) expands from seeds it drew
/// itself: [`open`](Self::open) is [`AesPrg::new`], and in test builds also
/// records the stream in the actor's `KeystreamLog`. Without the feature
/// it is an empty type.
pub(crate) struct SeedStreams {
    #[cfg(feature = "audit-keystreams")]
    log: std::sync::Arc<KeystreamLog>,
}

impl SeedStreams {
    /// The streams of the actor that `owner` names (only called in test
    /// builds).
    #[inline(always)]
    pub(crate) fn new(owner: impl FnOnce() -> String) -> Self {
        #[cfg(feature = "audit-keystreams")]
        {
            SeedStreams {
                log: new_log(owner()),
            }
        }
        #[cfg(not(feature = "audit-keystreams"))]
        {
            let _ = owner;
            SeedStreams {}
        }
    }

    /// The keystream of `seed`, from counter 0. `what` says what it masks.
    #[inline(always)]
    pub(crate) fn open(&self, seed: &Seed, what: &'static str) -> AesPrg {
        #[cfg(feature = "audit-keystreams")]
        self.log.open(
            StreamId {
                key: KeyId::of(seed),
                op: 0,
                sub: 0,
            },
            what,
        );
        #[cfg(not(feature = "audit-keystreams"))]
        let _ = what;
        AesPrg::new(seed)
    }
}

#[cfg(feature = "audit-keystreams")]
mod recording;

#[cfg(feature = "audit-keystreams")]
pub use recording::{
    Audit, KeyId, KeyTag, KeystreamLog, OnReuse, Report, Reuse, ScopeGuard, ScopeHandle, StreamId,
    new_log, run,
};
