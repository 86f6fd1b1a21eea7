//! A network emulator for any [`Channel`]: a one-way delay and a bandwidth
//! limit per link, in user space.
//!
//! Three parties as threads of one process talk in microseconds; deployed on
//! three hosts, every round costs a network delay. [`Emulated`] wraps a
//! channel (in-memory or TCP) and holds back each frame it receives until
//! the time it would have arrived over the emulated link:
//!
//! > due = max(arrival, link free) + wire bytes · 8 / bandwidth, then + one-way delay,
//!
//! where *arrival* is when the frame reached this end of the real channel
//! ([`Channel::recv_expecting`]), *link free* is when the previous frame on
//! this link finished serialising, and *wire bytes* are the payload and its
//! [`HEADER_LEN`]-byte frame header. This is the model of a sender-side
//! traffic shaper (a FIFO at the bandwidth, then a fixed delay, like Linux
//! `netem` with `rate`), evaluated at the receiver: the kernel's traffic
//! shaper on the development machines has no delay discipline, and the
//! receiver knows every quantity the model needs without a change to the
//! wire format. Each direction of a link is emulated by its receiver, so a
//! link is full duplex with the bandwidth in each direction.
//!
//! Sending is untouched (it returns as soon as the real channel accepted the
//! frame, as a send into a kernel socket buffer does), and so are the
//! frames: a program computes bit-identical results with and without
//! emulation.
//!
//! # Accuracy
//!
//! - Over in-memory channels the arrival is the send time, so the emulated
//!   link is exact up to the waiting precision below.
//! - Over TCP the arrival is when the transport decoded the frame. When the
//!   receiver is busy and the frame waits in the socket, it is stamped late,
//!   and the emulation over-estimates by up to that wait (protocol rounds
//!   mostly find the receiver waiting, so this is rare in round-bound work).
//!   For three processes, a delaying TCP relay in front of each listening
//!   port (the `net_relay` example) is the exact alternative, and the one
//!   used to compare with other frameworks.
//! - Waiting sleeps until [`SPIN_BEFORE`] before the due time and then
//!   yields the core until it passes: sleep alone overshoots by 50–100 µs
//!   on Linux, which is half the LAN round trip. The overhead that remains
//!   is measured by `privml bench --net ...` (a ping-pong on the emulated
//!   link, reported before the workloads).
//!
//! # Examples
//!
//! ```
//! use std::time::{Duration, Instant};
//! use privml::net::emulate::{Emulated, LinkProfile};
//! use privml::net::{Channel, Frame, memory};
//! use privml::ring::Payload;
//!
//! let profile: LinkProfile = "rtt=20,bw=1000".parse()?; // 20 ms round trip, 1 Gbit/s
//! let (a, b) = memory::pair();
//! let (mut a, mut b) = (Emulated::new(a, profile.clone()), Emulated::new(b, profile));
//! let t0 = Instant::now();
//! a.send(Frame { round: 1, payload: Payload::U64(vec![7]) }).unwrap();
//! let f = b.recv(Duration::from_secs(5)).unwrap();
//! assert!(t0.elapsed() >= Duration::from_millis(10)); // one one-way delay
//! assert!(matches!(f.payload, Payload::U64(v) if v == [7]));
//! # Ok::<(), privml::Error>(())
//! ```

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, Instant};

use super::frame::HEADER_LEN;
use super::{Channel, ChannelError, Expect, Frame, check_expected};
use crate::error::{Error, Result};

/// How long before a frame's due time the receiver stops sleeping and
/// yields the core instead (sleep's overshoot on a loaded Linux machine).
pub const SPIN_BEFORE: Duration = Duration::from_micros(250);
/// The longest one-way delay a profile may set (anything longer is a typo,
/// and would make every round wait minutes).
pub const MAX_DELAY: Duration = Duration::from_secs(10);

/// The emulated link: its one-way delay and bandwidth (each direction).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use privml::net::emulate::LinkProfile;
///
/// let wan: LinkProfile = "wan".parse()?;
/// assert_eq!(wan.rtt(), Duration::from_millis(40));
/// assert_eq!(wan.bandwidth_bits_per_s, 100e6);
/// let custom: LinkProfile = "rtt=5,bw=250".parse()?;
/// assert_eq!(custom.one_way_delay, Duration::from_micros(2500));
/// # Ok::<(), privml::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct LinkProfile {
    /// A short name for reports (`lan`, `wan`, `rtt=5,bw=250`).
    pub name: String,
    /// Delay from the end of a frame's serialisation to its arrival: half
    /// the round-trip time.
    pub one_way_delay: Duration,
    /// Link bandwidth in bits per second, each direction
    /// (`f64::INFINITY`: no limit).
    pub bandwidth_bits_per_s: f64,
}

/// The presets `--net` accepts: (name, round-trip time in ms, Mbit/s, what
/// it stands for).
pub const PRESETS: [(&str, f64, f64, &str); 4] = [
    (
        "lan",
        0.2,
        10_000.0,
        "one data centre: 0.2 ms RTT, 10 Gbit/s",
    ),
    (
        "wan",
        40.0,
        100.0,
        "parties on two continents: 40 ms RTT, 100 Mbit/s",
    ),
    (
        "lan-pub",
        0.02,
        40_000.0,
        "the LAN of the published TF Encrypted / MP-SPDZ table: 0.02 ms RTT, 40 Gbit/s",
    ),
    (
        "wan-pub",
        40.0,
        352.0,
        "the WAN of the published TF Encrypted / MP-SPDZ table: 40 ms RTT, 352 Mbit/s",
    ),
];

impl LinkProfile {
    /// A link with round-trip time `rtt_ms` milliseconds and `mbit_per_s`
    /// Mbit/s (`f64::INFINITY` for no limit).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParameter`] (`net`) for a negative, non-finite or too
    /// long delay ([`MAX_DELAY`] one way), or a bandwidth that is not positive.
    pub fn new(name: impl Into<String>, rtt_ms: f64, mbit_per_s: f64) -> Result<Self> {
        let name = name.into();
        let one_way = Duration::try_from_secs_f64(rtt_ms / 2e3)
            .ok()
            .filter(|d| *d <= MAX_DELAY)
            .ok_or_else(|| {
                Error::invalid(
                    "net",
                    format!(
                        "{name}: round-trip time {rtt_ms} ms is not between 0 and {} ms",
                        2 * MAX_DELAY.as_millis()
                    ),
                )
            })?;
        if mbit_per_s.is_nan() || mbit_per_s <= 0.0 {
            return Err(Error::invalid(
                "net",
                format!("{name}: bandwidth {mbit_per_s} Mbit/s is not positive"),
            ));
        }
        Ok(LinkProfile {
            name,
            one_way_delay: one_way,
            bandwidth_bits_per_s: mbit_per_s * 1e6,
        })
    }

    /// The preset named `name` ([`PRESETS`]).
    pub fn preset(name: &str) -> Option<Self> {
        PRESETS
            .iter()
            .find(|p| p.0 == name)
            .and_then(|&(n, rtt, bw, _)| Self::new(n, rtt, bw).ok())
    }

    /// The round-trip time (twice the one-way delay).
    pub fn rtt(&self) -> Duration {
        self.one_way_delay * 2
    }

    /// How long `bytes` bytes occupy the link.
    pub fn serialisation(&self, bytes: u64) -> Duration {
        if self.bandwidth_bits_per_s.is_infinite() {
            return Duration::ZERO;
        }
        Duration::from_secs_f64(bytes as f64 * 8.0 / self.bandwidth_bits_per_s)
    }
}

impl fmt::Display for LinkProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rtt = self.rtt().as_secs_f64() * 1e3;
        if self.bandwidth_bits_per_s.is_infinite() {
            write!(f, "{} ({rtt} ms RTT, unlimited)", self.name)
        } else {
            let bw = self.bandwidth_bits_per_s / 1e6;
            write!(f, "{} ({rtt} ms RTT, {bw} Mbit/s)", self.name)
        }
    }
}

impl FromStr for LinkProfile {
    type Err = Error;

    /// A preset name (`lan`, `wan`, `lan-pub`, `wan-pub`) or
    /// `rtt=MS[,bw=MBIT]` (no `bw`: no bandwidth limit).
    fn from_str(s: &str) -> Result<Self> {
        let s = s.trim();
        if let Some(p) = Self::preset(s) {
            return Ok(p);
        }
        let usage = || {
            let names: Vec<&str> = PRESETS.iter().map(|p| p.0).collect();
            Error::invalid(
                "net",
                format!(
                    "'{s}': use one of {} or rtt=MS[,bw=MBIT] (round-trip time in milliseconds, bandwidth in Mbit/s)",
                    names.join(", ")
                ),
            )
        };
        let (mut rtt, mut bw) = (None, f64::INFINITY);
        for part in s.split(',') {
            let (key, value) = part.split_once('=').ok_or_else(usage)?;
            let v: f64 = value.trim().parse().map_err(|_| usage())?;
            match key.trim() {
                "rtt" => rtt = Some(v),
                "bw" => bw = v,
                _ => return Err(usage()),
            }
        }
        Self::new(s, rtt.ok_or_else(usage)?, bw)
    }
}

/// A channel whose incoming frames arrive as over an emulated link (see the
/// [module documentation](self)).
#[derive(Debug)]
pub struct Emulated<C> {
    inner: C,
    profile: LinkProfile,
    /// When the emulated link finishes serialising the last frame.
    link_free: Option<Instant>,
    /// A frame held past a receive's timeout, with its due time.
    pending: Option<(Frame, Instant)>,
}

impl<C: Channel> Emulated<C> {
    /// Wraps `inner`; frames received through it follow `profile`.
    pub fn new(inner: C, profile: LinkProfile) -> Self {
        Emulated {
            inner,
            profile,
            link_free: None,
            pending: None,
        }
    }

    /// The emulated link.
    pub fn profile(&self) -> &LinkProfile {
        &self.profile
    }

    /// When a frame of `bytes` wire bytes that reached this end at `arrival`
    /// is due, advancing the link's serialisation clock.
    fn due(&mut self, arrival: Instant, bytes: u64) -> Instant {
        let start = self.link_free.map_or(arrival, |f| f.max(arrival));
        let done = start + self.profile.serialisation(bytes);
        self.link_free = Some(done);
        done + self.profile.one_way_delay
    }

    fn next_due(
        &mut self,
        timeout: Duration,
        expect: Expect,
    ) -> Result<(Frame, Instant), ChannelError> {
        if let Some(p) = self.pending.take() {
            check_expected(&p.0, &expect)?;
            return Ok(p);
        }
        let (frame, arrival) = self.inner.recv_expecting(timeout, expect)?;
        let bytes = (frame.payload.byte_len() + HEADER_LEN) as u64;
        let due = self.due(arrival, bytes);
        Ok((frame, due))
    }
}

/// Waits until `t`: sleeps until [`SPIN_BEFORE`] before it, then yields.
pub fn wait_until(t: Instant) {
    loop {
        let now = Instant::now();
        if now >= t {
            return;
        }
        let left = t - now;
        if left > SPIN_BEFORE {
            std::thread::sleep(left - SPIN_BEFORE);
        } else {
            std::thread::yield_now();
        }
    }
}

impl<C: Channel> Channel for Emulated<C> {
    fn send(&mut self, frame: Frame) -> Result<(), ChannelError> {
        self.inner.send(frame)
    }

    fn recv(&mut self, timeout: Duration) -> Result<Frame, ChannelError> {
        self.recv_expecting(timeout, Expect::ANY).map(|(f, _)| f)
    }

    /// The frame and its due time on the emulated link (so that emulators
    /// stack: an outer one starts from this one's arrival).
    fn recv_expecting(
        &mut self,
        timeout: Duration,
        expect: Expect,
    ) -> Result<(Frame, Instant), ChannelError> {
        let start = Instant::now();
        let (frame, due) = self.next_due(timeout, expect)?;
        if let Some(deadline) = start.checked_add(timeout)
            && due > deadline
        {
            // keep it for the next receive: the timeout is the caller's
            self.pending = Some((frame, due));
            wait_until(deadline);
            return Err(ChannelError::Timeout);
        }
        wait_until(due);
        Ok((frame, due))
    }

    fn overhead_bytes(&self) -> u64 {
        self.inner.overhead_bytes()
    }
}

/// Time of `rounds` round trips of a `bytes`-byte payload between two
/// threads over in-memory channels, emulated with `profile` (or bare with
/// `None`): the emulator's own check. On the emulated link a round trip
/// takes at least the RTT plus twice the serialisation time; what it takes
/// beyond that is the emulator's overhead on this machine.
///
/// # Errors
///
/// [`Error::PeerDisconnected`] if the echoing thread fails (it cannot, short
/// of a panic).
pub fn ping_pong(profile: Option<&LinkProfile>, rounds: usize, bytes: usize) -> Result<Duration> {
    let (a, b) = super::memory::pair();
    let wrap = |c: super::memory::MemoryChannel| -> Box<dyn Channel> {
        match profile {
            Some(p) => Box::new(Emulated::new(c, p.clone())),
            None => Box::new(c),
        }
    };
    let (mut a, mut b) = (wrap(a), wrap(b));
    let payload = vec![0u8; bytes];
    let lost = |_| Error::PeerDisconnected {
        party: 1,
        op: "the emulator's ping-pong".into(),
    };
    std::thread::scope(|s| {
        let echo = s.spawn(move || -> Result<(), ChannelError> {
            for _ in 0..rounds {
                let f = b.recv(super::DEFAULT_TIMEOUT)?;
                b.send(f)?;
            }
            Ok(())
        });
        let t0 = Instant::now();
        for round in 0..rounds {
            let payload = crate::ring::Payload::Bytes(payload.clone());
            a.send(Frame {
                round: round as u64,
                payload,
            })
            .map_err(lost)?;
            a.recv(super::DEFAULT_TIMEOUT).map_err(lost)?;
        }
        let took = t0.elapsed();
        echo.join()
            .map_err(|_| lost(ChannelError::Disconnected))?
            .map_err(lost)?;
        Ok(took)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::memory;
    use crate::ring::Payload;

    #[test]
    fn presets_and_custom_profiles_parse() {
        let lan: LinkProfile = "lan".parse().unwrap();
        assert_eq!(lan.one_way_delay, Duration::from_micros(100));
        assert_eq!(lan.bandwidth_bits_per_s, 10e9);
        let p: LinkProfile = "rtt=1.5".parse().unwrap();
        assert_eq!(p.one_way_delay, Duration::from_micros(750));
        assert!(p.bandwidth_bits_per_s.is_infinite());
        assert_eq!(p.serialisation(1 << 30), Duration::ZERO);
        for bad in [
            "",
            "lann",
            "rtt=-1",
            "rtt=1,bw=0",
            "rtt=1,bw=-3",
            "bw=10",
            "rtt=x",
            "rtt=1e9",
            "rtt=NaN",
            "rtt=1,speed=3",
        ] {
            let e = bad.parse::<LinkProfile>().unwrap_err();
            assert!(
                matches!(e, Error::InvalidParameter { name: "net", .. }),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn a_receive_that_times_out_keeps_the_frame() {
        let p = LinkProfile::new("t", 200.0, f64::INFINITY).unwrap(); // 100 ms one way
        let (mut a, b) = memory::pair();
        let mut b = Emulated::new(b, p);
        a.send(Frame {
            round: 3,
            payload: Payload::U64(vec![1, 2]),
        })
        .unwrap();
        let e = b.recv(Duration::from_millis(10)).unwrap_err();
        assert!(matches!(e, ChannelError::Timeout));
        let f = b.recv(Duration::from_secs(5)).unwrap();
        assert_eq!(f.round, 3);
    }
}
