//! Running one program on a domain chosen at run time.
//!
//! Generic code is written against [`Ring`]; a command-line tool only learns
//! at run time whether to run it in the clear, in fixed point or on secret
//! shares. A [`Job`] is a program with a generic `run`; [`run_local`]
//! dispatches it to the [`DomainKind`] asked for, running three in-process
//! parties for the shared domains.

use std::fmt;
use std::str::FromStr;

use crate::cost::Cost;
use crate::domain::PartyId;
use crate::domain::{Fixed, Plain, Ring, Session, Shared, SharedConfig};
use crate::error::{Error, Result};
use crate::net::Channel;

/// A program that can run on any domain.
pub trait Job: Sync {
    /// What a run returns (for `Shared`, party 0's result is kept).
    type Output: Send;
    /// Runs the program on `r` (every domain implements [`Session`] too, for
    /// jobs that announce, save or load).
    fn run<R: Ring + Session>(&self, r: &mut R) -> Result<Self::Output>;

    /// Whose output an in-process shared run returns (party 0 unless the
    /// job's result is meant for another party).
    fn output_party(&self) -> PartyId {
        0
    }
}

/// The domains a job can run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DomainKind {
    /// f64.
    Plain,
    /// Fixed point in Z_2^64.
    Fixed64,
    /// Fixed point in Z_2^128.
    Fixed128,
    /// Three in-process parties over Z_2^64.
    Shared64,
    /// Three in-process parties over Z_2^128.
    Shared128,
}

impl DomainKind {
    /// From a domain name (`plain`, `fixed`, `shared`) and a ring size (64, 128).
    pub fn from_parts(domain: &str, ring_bits: u32) -> Result<Self> {
        match (domain, ring_bits) {
            ("plain", _) => Ok(DomainKind::Plain),
            ("fixed", 64) => Ok(DomainKind::Fixed64),
            ("fixed", 128) => Ok(DomainKind::Fixed128),
            ("shared", 64) => Ok(DomainKind::Shared64),
            ("shared", 128) => Ok(DomainKind::Shared128),
            (d, b) => Err(Error::invalid(
                "domain",
                format!(
                    "unknown domain '{d}' with a {b}-bit ring: use plain, fixed or shared, and 64 or 128"
                ),
            )),
        }
    }

    /// Whether this is a secret-shared domain.
    pub fn is_shared(self) -> bool {
        matches!(self, DomainKind::Shared64 | DomainKind::Shared128)
    }
}

impl fmt::Display for DomainKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DomainKind::Plain => "plain (f64)",
            DomainKind::Fixed64 => "fixed (Z_2^64)",
            DomainKind::Fixed128 => "fixed (Z_2^128)",
            DomainKind::Shared64 => "shared (3 parties, Z_2^64)",
            DomainKind::Shared128 => "shared (3 parties, Z_2^128)",
        })
    }
}

impl FromStr for DomainKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let (d, b) = match s.split_once(':') {
            Some((d, b)) => (
                d,
                b.parse::<u32>()
                    .map_err(|_| Error::invalid("ring", format!("'{b}' is not 64 or 128")))?,
            ),
            None => (s, 64),
        };
        DomainKind::from_parts(d, b)
    }
}

/// Runs `job` on `kind` and returns its output with the cost of the whole
/// run. Shared domains run three parties as threads with `cfg`; the output
/// is that of [`Job::output_party`] (party 0 by default), the cost merges
/// all three parties' traffic.
pub fn run_local<J: Job>(
    kind: DomainKind,
    cfg: &SharedConfig,
    job: &J,
) -> Result<(J::Output, Cost)> {
    fn plain_run<J: Job, R: Ring + Session>(job: &J, mut r: R) -> Result<(J::Output, Cost)> {
        let o = job.run(&mut r)?;
        Ok((o, r.cost()))
    }
    match kind {
        DomainKind::Plain => plain_run(job, Plain::new()),
        DomainKind::Fixed64 => match cfg.frac_bits {
            Some(f) => plain_run(job, Fixed::<u64>::with_frac_bits(f)?),
            None => plain_run(job, Fixed::<u64>::new()),
        },
        DomainKind::Fixed128 => match cfg.frac_bits {
            Some(f) => plain_run(job, Fixed::<u128>::with_frac_bits(f)?),
            None => plain_run(job, Fixed::<u128>::new()),
        },
        DomainKind::Shared64 => {
            let (outs, cost) = Shared::<u64>::simulate_with_cost(cfg, |r| job.run(r))?;
            Ok((pick(outs, job.output_party())?, cost))
        }
        DomainKind::Shared128 => {
            let (outs, cost) = Shared::<u128>::simulate_with_cost(cfg, |r| job.run(r))?;
            Ok((pick(outs, job.output_party())?, cost))
        }
    }
}

/// Whether `r` is the evaluator that should print (plaintext domains, or
/// party 0 of a shared run; the others compute the same revealed values).
pub fn speaks<R: Ring>(r: &R) -> bool {
    r.party().unwrap_or(0) == 0
}

fn pick<O>(outs: [O; 3], party: PartyId) -> Result<O> {
    outs.into_iter()
        .nth(party)
        .ok_or(Error::InvalidParty(party))
}

/// Makes party links: returns (to next, to previous).
pub type Connect = dyn Fn() -> Result<(Box<dyn Channel>, Box<dyn Channel>)> + Sync;

/// Where a job runs.
pub enum Exec<'a> {
    /// In this process: plaintext, or three parties as threads.
    Local {
        /// The domain.
        kind: DomainKind,
        /// Settings for shared domains (and fraction bits for `Fixed`).
        cfg: SharedConfig,
    },
    /// As party `id` of a run whose other parties are elsewhere (other
    /// processes or hosts), over the links `connect` makes.
    Party {
        /// This party.
        id: PartyId,
        /// 64 or 128.
        ring_bits: u32,
        /// Settings.
        cfg: SharedConfig,
        /// Link factory.
        connect: &'a Connect,
    },
}

impl Exec<'_> {
    /// Whether this execution prints (plaintext, in-process, or party 0).
    pub fn is_speaker(&self) -> bool {
        match self {
            Exec::Local { .. } => true,
            Exec::Party { id, .. } => *id == 0,
        }
    }

    /// A description for headers.
    pub fn describe(&self) -> String {
        match self {
            Exec::Local { kind, .. } => kind.to_string(),
            Exec::Party { id, ring_bits, .. } => {
                format!("shared (party {id} of 3, Z_2^{ring_bits})")
            }
        }
    }
}

/// Runs `job` where `exec` says. Returns the output and the cost: merged
/// over the three parties for in-process runs, this party's own traffic for
/// [`Exec::Party`].
pub fn execute<J: Job>(exec: &Exec<'_>, job: &J) -> Result<(J::Output, Cost)> {
    match exec {
        Exec::Local { kind, cfg } => run_local(*kind, cfg, job),
        Exec::Party {
            id,
            ring_bits,
            cfg,
            connect,
        } => {
            let (next, prev) = connect()?;
            match ring_bits {
                64 => {
                    let mut r = Shared::<u64>::new(*id, next, prev, cfg)?;
                    let o = job.run(&mut r)?;
                    Ok((o, r.cost()))
                }
                128 => {
                    let mut r = Shared::<u128>::new(*id, next, prev, cfg)?;
                    let o = job.run(&mut r)?;
                    Ok((o, r.cost()))
                }
                b => Err(Error::invalid("ring", format!("{b} bits: use 64 or 128"))),
            }
        }
    }
}
