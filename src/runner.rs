//! Running one program on a domain chosen at run time.
//!
//! Generic code is written against [`Ring`]; a command-line tool only learns
//! at run time whether to run it in the clear, in fixed point or on secret
//! shares. A [`Job`] is a program with a generic `run`; [`run_local`]
//! dispatches it to the [`DomainKind`] asked for, running three in-process
//! parties for the shared domains. [`DomainSpec`] is the choice as a user
//! makes it (domain, ring, fraction bits), typed so that a command line, a
//! session description and a model file all say it the same way.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::cost::Cost;
pub use crate::cost::Protocol;
use crate::domain::PartyId;
use crate::domain::{Additive, DealerSchedule, Fixed, Plain, Ring, Session, Shared, SharedConfig};
use crate::error::{Error, Result};
use crate::fixed::{DEFAULT_FRAC_BITS_64, DEFAULT_FRAC_BITS_128, FixedPoint};
use crate::mpc2::DEALER;
use crate::mpc2::prep::{PrepReader, PrepWriter, ProgramDigest, PublicDescription};
use crate::net::Channel;
use crate::ring::RingElement;

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

/// The arithmetic a job computes in (by default `Shared`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum Domain {
    /// f64 in the clear (the reference).
    Plain,
    /// Fixed point in the clear: the exact integers a secure run computes,
    /// with overflow reported where it happens.
    Fixed,
    /// Three parties on secret shares.
    #[default]
    Shared,
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Domain::Plain => "plain",
            Domain::Fixed => "fixed",
            Domain::Shared => "shared",
        })
    }
}

impl FromStr for Domain {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "plain" => Ok(Domain::Plain),
            "fixed" => Ok(Domain::Fixed),
            "shared" => Ok(Domain::Shared),
            other => Err(Error::invalid(
                "domain",
                format!("unknown domain '{other}': use plain, fixed or shared"),
            )),
        }
    }
}

/// The ring of the fixed-point and shared domains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum RingSize {
    /// Z_2^64 (16 fraction bits by default).
    #[default]
    #[cfg_attr(feature = "cli", value(name = "64"))]
    Z64,
    /// Z_2^128 (32 fraction bits by default).
    #[cfg_attr(feature = "cli", value(name = "128"))]
    Z128,
}

impl RingSize {
    /// 64 or 128.
    pub fn bits(self) -> u32 {
        match self {
            RingSize::Z64 => 64,
            RingSize::Z128 => 128,
        }
    }

    /// The fraction bits used when none are given.
    pub fn default_frac_bits(self) -> u32 {
        match self {
            RingSize::Z64 => DEFAULT_FRAC_BITS_64,
            RingSize::Z128 => DEFAULT_FRAC_BITS_128,
        }
    }
}

impl TryFrom<u32> for RingSize {
    type Error = Error;
    fn try_from(bits: u32) -> Result<Self> {
        match bits {
            64 => Ok(RingSize::Z64),
            128 => Ok(RingSize::Z128),
            b => Err(Error::invalid("ring", format!("{b} bits: use 64 or 128"))),
        }
    }
}

impl fmt::Display for RingSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.bits())
    }
}

/// Where and in which format a job computes: the domain, the ring, the
/// fraction bits (`None`: the ring's default) and the secure protocol (the
/// one `Shared` runs, and whose costs `Plain` and `Fixed` predict).
///
/// # Examples
///
/// ```
/// use privml::runner::{Domain, DomainKind, DomainSpec, RingSize};
///
/// let spec = DomainSpec { domain: Domain::Shared, ring: RingSize::Z128, ..DomainSpec::default() };
/// assert_eq!(spec.kind(), DomainKind::Shared128);
/// assert_eq!(spec.frac_bits(), 32);
/// let (min, max) = spec.value_range().unwrap();
/// assert!(min < -1e9 && max > 1e9);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DomainSpec {
    /// The arithmetic.
    pub domain: Domain,
    /// The ring (ignored by `Plain`, except for the range check of data).
    pub ring: RingSize,
    /// Fraction bits; `None` for the ring's default.
    pub frac_bits: Option<u32>,
    /// The secure protocol: three parties, or two with a dealer.
    #[serde(default)]
    pub protocol: Protocol,
}

impl DomainSpec {
    /// The domain to dispatch to.
    pub fn kind(&self) -> DomainKind {
        DomainKind::with_protocol(self.domain, self.ring, self.protocol)
    }

    /// The fraction bits in effect (the given ones, else the ring's default).
    pub fn frac_bits(&self) -> u32 {
        self.frac_bits
            .unwrap_or_else(|| self.ring.default_frac_bits())
    }

    /// The smallest and largest value the fixed-point format encodes; the
    /// range data must lie in. Fails for fraction bits the ring does not
    /// support.
    pub fn value_range(&self) -> Result<(f64, f64)> {
        let f = self.frac_bits();
        Ok(match self.ring {
            RingSize::Z64 => {
                let fp = FixedPoint::<u64>::new(f)?;
                (fp.min_value(), fp.max_value())
            }
            RingSize::Z128 => {
                let fp = FixedPoint::<u128>::new(f)?;
                (fp.min_value(), fp.max_value())
            }
        })
    }
}

/// The domains a job can run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
    /// Two parties and a dealer over Z_2^64.
    TwoParty64,
    /// Two parties and a dealer over Z_2^128.
    TwoParty128,
}

impl DomainKind {
    /// The domain `domain` over `ring` (`Plain` has no ring).
    pub fn new(domain: Domain, ring: RingSize) -> Self {
        match (domain, ring) {
            (Domain::Plain, _) => DomainKind::Plain,
            (Domain::Fixed, RingSize::Z64) => DomainKind::Fixed64,
            (Domain::Fixed, RingSize::Z128) => DomainKind::Fixed128,
            (Domain::Shared, RingSize::Z64) => DomainKind::Shared64,
            (Domain::Shared, RingSize::Z128) => DomainKind::Shared128,
        }
    }

    /// The domain `domain` over `ring` with `protocol` (which only
    /// `Shared` tells apart: the plaintext domains predict either's costs).
    ///
    /// # Examples
    ///
    /// ```
    /// use privml::runner::{Domain, DomainKind, Protocol, RingSize};
    ///
    /// let k = DomainKind::with_protocol(Domain::Shared, RingSize::Z64, Protocol::Additive2);
    /// assert_eq!(k, DomainKind::TwoParty64);
    /// assert_eq!(k.protocol(), Protocol::Additive2);
    /// assert_eq!("2pc".parse::<DomainKind>().unwrap(), k);
    /// ```
    pub fn with_protocol(domain: Domain, ring: RingSize, protocol: Protocol) -> Self {
        match (domain, ring, protocol) {
            (Domain::Shared, RingSize::Z64, Protocol::Additive2) => DomainKind::TwoParty64,
            (Domain::Shared, RingSize::Z128, Protocol::Additive2) => DomainKind::TwoParty128,
            (d, r, _) => DomainKind::new(d, r),
        }
    }

    /// The secure protocol of a shared kind (the replicated one for the
    /// plaintext kinds).
    pub fn protocol(self) -> Protocol {
        match self {
            DomainKind::TwoParty64 | DomainKind::TwoParty128 => Protocol::Additive2,
            _ => Protocol::Replicated3,
        }
    }

    /// From a domain name (`plain`, `fixed`, `shared`) and a ring size (64, 128).
    pub fn from_parts(domain: &str, ring_bits: u32) -> Result<Self> {
        let domain: Domain = domain.parse()?;
        match domain {
            Domain::Plain => Ok(DomainKind::Plain),
            d => Ok(DomainKind::new(d, RingSize::try_from(ring_bits)?)),
        }
    }

    /// The arithmetic.
    pub fn domain(self) -> Domain {
        match self {
            DomainKind::Plain => Domain::Plain,
            DomainKind::Fixed64 | DomainKind::Fixed128 => Domain::Fixed,
            DomainKind::Shared64
            | DomainKind::Shared128
            | DomainKind::TwoParty64
            | DomainKind::TwoParty128 => Domain::Shared,
        }
    }

    /// The ring, `None` for `Plain`.
    pub fn ring(self) -> Option<RingSize> {
        match self {
            DomainKind::Plain => None,
            DomainKind::Fixed64 | DomainKind::Shared64 | DomainKind::TwoParty64 => {
                Some(RingSize::Z64)
            }
            DomainKind::Fixed128 | DomainKind::Shared128 | DomainKind::TwoParty128 => {
                Some(RingSize::Z128)
            }
        }
    }

    /// Whether this is a secret-shared domain (either protocol).
    pub fn is_shared(self) -> bool {
        self.domain() == Domain::Shared
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
            DomainKind::TwoParty64 => "shared (2 parties and a dealer, Z_2^64)",
            DomainKind::TwoParty128 => "shared (2 parties and a dealer, Z_2^128)",
        })
    }
}

impl FromStr for DomainKind {
    type Err = Error;
    /// `plain`, `fixed`, `shared`, `2pc`, with an optional `:64` or `:128`.
    fn from_str(s: &str) -> Result<Self> {
        if let Some(rest) = s.strip_prefix("2pc") {
            let kind = format!("shared{rest}").parse::<DomainKind>()?;
            let ring = kind.ring().unwrap_or_default();
            return Ok(DomainKind::with_protocol(
                Domain::Shared,
                ring,
                Protocol::Additive2,
            ));
        }
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
    let p = cfg.protocol;
    match kind {
        DomainKind::Plain => plain_run(job, Plain::new().with_protocol(p)),
        DomainKind::Fixed64 => match cfg.frac_bits {
            Some(f) => plain_run(job, Fixed::<u64>::with_frac_bits(f)?.with_protocol(p)),
            None => plain_run(job, Fixed::<u64>::new().with_protocol(p)),
        },
        DomainKind::Fixed128 => match cfg.frac_bits {
            Some(f) => plain_run(job, Fixed::<u128>::with_frac_bits(f)?.with_protocol(p)),
            None => plain_run(job, Fixed::<u128>::new().with_protocol(p)),
        },
        DomainKind::Shared64 => {
            let (outs, cost) = Shared::<u64>::simulate_with_cost(cfg, |r| job.run(r))?;
            Ok((pick(outs, job.output_party())?, cost))
        }
        DomainKind::Shared128 => {
            let (outs, cost) = Shared::<u128>::simulate_with_cost(cfg, |r| job.run(r))?;
            Ok((pick(outs, job.output_party())?, cost))
        }
        DomainKind::TwoParty64 => {
            let (outs, cost) =
                Additive::<u64>::simulate_with_cost(cfg, DealerSchedule::Concurrent, |r| {
                    job.run(r)
                })?;
            Ok((pick(outs, job.output_party())?, cost))
        }
        DomainKind::TwoParty128 => {
            let (outs, cost) =
                Additive::<u128>::simulate_with_cost(cfg, DealerSchedule::Concurrent, |r| {
                    job.run(r)
                })?;
            Ok((pick(outs, job.output_party())?, cost))
        }
    }
}

/// Whether `r` is the evaluator that should print (plaintext domains, or
/// party 0 of a shared run; the others compute the same revealed values).
pub fn speaks<R: Ring>(r: &R) -> bool {
    r.party().unwrap_or(0) == 0
}

fn pick<O, const N: usize>(outs: [O; N], party: PartyId) -> Result<O> {
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
        /// The ring.
        ring: RingSize,
        /// Settings.
        cfg: SharedConfig,
        /// Link factory.
        connect: &'a Connect,
    },
    /// As participant `id` of a two-party run (0 or 1 computes, 2 deals)
    /// whose other participants are elsewhere.
    TwoParty {
        /// This participant: 0, 1, or 2 for the dealer.
        id: PartyId,
        /// The ring.
        ring: RingSize,
        /// Settings.
        cfg: SharedConfig,
        /// Where the others and the dealer's material are.
        links: TwoPartyLinks<'a>,
    },
}

/// Makes a link to the one other computing party.
pub type ConnectPeer = dyn Fn() -> Result<Box<dyn Channel>> + Sync;

/// How a participant of the two-party protocol reaches the others, and
/// where the dealer's material is.
pub enum TwoPartyLinks<'a> {
    /// A live dealer: links to the other two participants (next, prev).
    Live(&'a Connect),
    /// A computing party whose material is a preprocessing file; it links
    /// to the other party only.
    FromFile {
        /// The link to the other party.
        peer: &'a ConnectPeer,
        /// This party's preprocessing file.
        file: PathBuf,
        /// The digest of the program the file must be for.
        program: ProgramDigest,
    },
    /// The dealer writing both parties' preprocessing files (no links).
    ToFiles {
        /// The directory to write `party0.prep` and `party1.prep` into.
        dir: PathBuf,
        /// The digest of the program the files are for.
        program: ProgramDigest,
        /// The public values the job announces, fixed ahead of time (empty
        /// for jobs that announce nothing).
        announced: PublicDescription,
    },
}

impl Exec<'_> {
    /// Whether this execution prints (plaintext, in-process, or party 0).
    pub fn is_speaker(&self) -> bool {
        match self {
            Exec::Local { .. } => true,
            Exec::Party { id, .. } | Exec::TwoParty { id, .. } => *id == 0,
        }
    }

    /// A description for headers.
    pub fn describe(&self) -> String {
        match self {
            Exec::Local { kind, .. } => kind.to_string(),
            Exec::Party { id, ring, .. } => {
                format!("shared (party {id} of 3, Z_2^{ring})")
            }
            Exec::TwoParty { id, ring, .. } if *id < 2 => {
                format!("shared (party {id} of 2, with a dealer, Z_2^{ring})")
            }
            Exec::TwoParty { ring, .. } => format!("the dealer of a two-party run (Z_2^{ring})"),
        }
    }
}

/// Runs `job` as participant `id` of the two-party protocol.
fn two_party<T: RingElement, J: Job>(
    id: PartyId,
    cfg: &SharedConfig,
    links: &TwoPartyLinks<'_>,
    job: &J,
) -> Result<(J::Output, Cost)> {
    match links {
        TwoPartyLinks::Live(connect) => {
            let (next, prev) = connect()?;
            let mut r = Additive::<T>::new(id, next, prev, cfg)?;
            let o = job.run(&mut r)?;
            Ok((o, r.cost()))
        }
        TwoPartyLinks::FromFile {
            peer,
            file,
            program,
        } => {
            let reader = PrepReader::open(file, program)?;
            let mut r = Additive::<T>::from_file(id, peer()?, reader, cfg)?;
            let o = job.run(&mut r)?;
            Ok((o, r.cost()))
        }
        TwoPartyLinks::ToFiles {
            dir,
            program,
            announced,
        } => {
            if id != DEALER {
                return Err(Error::invalid(
                    "id",
                    "only the dealer writes preprocessing files",
                ));
            }
            let writer = PrepWriter::create(dir, program, announced, cfg.insecure_test_seed)?;
            let mut r = Additive::<T>::dealer_to_files(writer, cfg)?;
            let o = job.run(&mut r)?;
            let cost = r.cost();
            r.finish()?;
            Ok((o, cost))
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
            ring,
            cfg,
            connect,
        } => {
            let (next, prev) = connect()?;
            match ring {
                RingSize::Z64 => {
                    let mut r = Shared::<u64>::new(*id, next, prev, cfg)?;
                    let o = job.run(&mut r)?;
                    Ok((o, r.cost()))
                }
                RingSize::Z128 => {
                    let mut r = Shared::<u128>::new(*id, next, prev, cfg)?;
                    let o = job.run(&mut r)?;
                    Ok((o, r.cost()))
                }
            }
        }
        Exec::TwoParty {
            id,
            ring,
            cfg,
            links,
        } => match ring {
            RingSize::Z64 => two_party::<u64, J>(*id, cfg, links, job),
            RingSize::Z128 => two_party::<u128, J>(*id, cfg, links, job),
        },
    }
}
