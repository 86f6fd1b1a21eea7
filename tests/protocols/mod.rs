//! One generic test program on both secure protocols: the replicated
//! three-party one ([`privml::Shared`]) and the two-party one with a dealer
//! ([`privml::Additive`]). The program is written once, generic over
//! `Ring`; [`on_both_protocols!`] instantiates it for each domain (a
//! closure cannot be generic, a macro body can).
#![allow(
    dead_code,
    unused_macros,
    unused_imports,
    reason = "shared by several test files, each of which uses only some of it"
)]

use privml::cost::Protocol;
use privml::{Cost, Plain};

/// One protocol's run of a program: every computing party's output (three,
/// or two: the dealer's is not a party's) and the cost merged over all
/// participants (the dealer's material in `offline_bytes`).
#[derive(Debug)]
pub struct Run<O> {
    pub protocol: Protocol,
    pub outputs: Vec<O>,
    pub cost: Cost,
}

impl<O> Run<O> {
    /// The protocol's name, for assertion messages.
    pub fn name(&self) -> &'static str {
        match self.protocol {
            Protocol::Replicated3 => "three parties",
            Protocol::Additive2 => "two parties and a dealer",
        }
    }

    /// Party 0's output.
    pub fn first(&self) -> &O {
        &self.outputs[0]
    }

    /// A `Plain` domain whose cost model is this protocol's: run the
    /// program on it to get the prediction the transport must match.
    pub fn plain(&self) -> Plain {
        Plain::new().with_protocol(self.protocol)
    }
}

/// Runs `|r| body` (generic code, `r` the participant) on `Shared<u64>`
/// and on `Additive<u64>` with the settings `cfg` (a `&SharedConfig`), each
/// in this process; returns the two [`Run`]s, three parties first. Panics,
/// naming the protocol, if either run fails. `on_both_protocols!(u128, cfg,
/// |r| body)` runs on Z_2^128.
macro_rules! on_both_protocols {
    ($cfg:expr, |$r:ident| $body:expr) => {
        on_both_protocols!(u64, $cfg, |$r| $body)
    };
    ($t:ty, $cfg:expr, |$r:ident| $body:expr) => {{
        let cfg: &privml::SharedConfig = $cfg;
        let (three, c3) = privml::Shared::<$t>::simulate_with_cost(cfg, |$r| $body)
            .unwrap_or_else(|e| panic!("three parties: {e}"));
        let (two, c2) = privml::Additive::<$t>::simulate_with_cost(
            cfg,
            privml::DealerSchedule::Concurrent,
            |$r| $body,
        )
        .unwrap_or_else(|e| panic!("two parties and a dealer: {e}"));
        [
            $crate::protocols::Run {
                protocol: privml::cost::Protocol::Replicated3,
                outputs: Vec::from(three),
                cost: c3,
            },
            $crate::protocols::Run {
                protocol: privml::cost::Protocol::Additive2,
                outputs: Vec::from(two),
                cost: c2,
            },
        ]
    }};
}

/// Like [`on_both_protocols!`] for a program that may fail: each
/// protocol's result (the root-cause error of a failed run), three parties
/// first.
macro_rules! try_on_both_protocols {
    ($cfg:expr, |$r:ident| $body:expr) => {{
        let cfg: &privml::SharedConfig = $cfg;
        [
            (
                "three parties",
                privml::Shared::<u64>::simulate_with(cfg, |$r| $body).map(Vec::from),
            ),
            (
                "two parties and a dealer",
                privml::Additive::<u64>::simulate_with(
                    cfg,
                    privml::DealerSchedule::Concurrent,
                    |$r| $body,
                )
                .map(Vec::from),
            ),
        ]
    }};
}

pub(crate) use {on_both_protocols, try_on_both_protocols};
