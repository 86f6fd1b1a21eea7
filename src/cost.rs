//! Operation counters and the communication cost model.
//!
//! Every domain keeps a [`Cost`]: how many secret multiplications,
//! truncations, comparisons and matrix-product outputs a program performed,
//! how many communication rounds it needed and how many bytes and messages
//! each of the three parties sent. `Plain` and `Fixed` fill the
//! communication fields from the protocol's formulas in [`CostModel`];
//! `Shared` fills them from what its transport really carried. Tests check
//! that the two agree byte for byte, so a cheap plaintext run predicts the
//! cost of the secure one.
//!
//! # The formulas (n elements of ℓ/8 bytes each)
//!
//! | operation | rounds | bytes sent per party |
//! |---|---|---|
//! | `input` from party o | 1 | o: 2n, others 0 |
//! | `reveal` to all | 1 | n each |
//! | `reveal_to(p)` | 1 | party p-1: n, others 0 |
//! | `reshare` | 1 | n each |
//! | integer product (no truncation) | 1 | n each |
//! | fixed-point product or matmul (truncation fused) | 2 | 2n each |
//! | truncation alone (`mul_public`, `div_pow2`) | 2 | 2n each |
//! | sign extraction of n values, selecting m (`nonneg_select`) | 10 (ℓ=64), 11 (ℓ=128) | 241·⌈n/64⌉ words + m + (2m + n) elements each, party 0 also 2n (ℓ=64) |
//! | `open` / `open_to(p)` of an output (exact rounding, then the reveal; [`crate::domain::Open`]) | 13 (ℓ=64), 14 (ℓ=128) | a truncation of n, a sign extraction of n selecting n, then `reveal` / `reveal_to(p)` of n |
//!
//! For a matrix product n is the number of *output* entries.
//!
//! # The two-party protocol ([`Protocol::Additive2`], [`crate::mpc2`])
//!
//! Two computing parties hold additive shares; a dealer sends party 1 the
//! correlated randomness that party 0 derives from a seed. The dealer's
//! messages are the *offline* cost ([`Cost::offline_bytes`]); they depend
//! on nothing the parties send, so they never wait: all of them together
//! are one round, sent ahead of time (live) or written to a preprocessing
//! file. Online, for a product x ⊙ y (or X·Y) with o operand elements
//! (|x| + |y|, or mk + kn) and n outputs:
//!
//! | operation | online rounds | online bytes per computing party | offline bytes to party 1 |
//! |---|---|---|---|
//! | `input`, `reshare`, local operations | 0 | 0 | 0 |
//! | `reveal` / `reveal_to(p)` | 1 | n each / n from the other party | 0 |
//! | fixed-point product or matmul | 2 | o + n | 3n |
//! | truncation alone | 1 | n | 2n |
//! | sign extraction of n values, selecting m | 8 (ℓ=64), 9 (ℓ=128) | (n + m) elements + (Σ opened planes + 1)·⌈n/64⌉ words | (n + m) elements + (ℓ + Σ gates)·⌈n/64⌉ words |
//! | `open` / `open_to(p)` of an output | 10 (ℓ=64), 11 (ℓ=128) | a truncation of n, a sign extraction of n selecting n, then the reveal | theirs |
//!
//! Beaver matmul sends its operands, not its outputs: o = mk + kn against
//! the replicated protocol's n = mn.
//!
//! # Examples
//!
//! ```
//! use privml::cost::{Cost, CostModel};
//!
//! let model = CostModel::new(8);
//! let mut c = Cost::default();
//! c.add_comm(&model.mul_trunc(1000));
//! assert_eq!(c.rounds, 2);
//! assert_eq!(c.bytes_sent, [16_000, 16_000, 16_000]);
//! ```

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The secure protocol a cost is for: the replicated three-party protocol
/// of [`crate::mpc`] or the two-party protocol with a dealer of
/// [`crate::mpc2`]. The plaintext domains predict the costs of either.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum Protocol {
    /// Three parties, replicated 2-out-of-3 sharing (honest majority).
    #[default]
    #[cfg_attr(feature = "cli", value(name = "3pc"))]
    Replicated3,
    /// Two parties, additive 2-out-of-2 sharing, with a dealer of
    /// correlated randomness that sees no data.
    #[cfg_attr(feature = "cli", value(name = "2pc"))]
    Additive2,
}

impl Protocol {
    /// The parties that compute and may hold inputs: 3, or 2.
    pub fn computing_parties(self) -> usize {
        match self {
            Protocol::Replicated3 => 3,
            Protocol::Additive2 => 2,
        }
    }

    /// Checks that `p` is a party that may hold data (own an input, receive
    /// an output, announce): 0, 1, 2; or 0, 1 in the two-party protocol,
    /// whose network id 2 is the dealer.
    pub fn check_party(self, p: crate::party_id::PartyId) -> crate::error::Result<()> {
        use crate::error::Error;
        match self {
            Protocol::Replicated3 if p > 2 => Err(Error::InvalidParty(p)),
            Protocol::Additive2 if p > 1 => Err(Error::invalid(
                "party",
                format!(
                    "party {p} in the two-party protocol: data belongs to party 0 or 1 \
                     (network id 2 is the dealer, which holds no data)"
                ),
            )),
            _ => Ok(()),
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Replicated3 => "3pc",
            Protocol::Additive2 => "2pc",
        })
    }
}

/// Communication of one protocol step: rounds, and bytes and messages sent by
/// each party.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Comm {
    /// Sequential communication rounds.
    pub rounds: u64,
    /// Bytes sent by party 0, 1, 2.
    pub bytes: [u64; 3],
    /// Messages (frames) sent by party 0, 1, 2.
    pub messages: [u64; 3],
    /// Two-party protocol: bytes of correlated randomness the dealer sends
    /// to party 0 and party 1 (offline).
    pub offline_bytes: [u64; 2],
    /// Two-party protocol: the dealer's messages to party 0 and party 1.
    pub offline_messages: [u64; 2],
}

/// Openings of secret values to one kind of recipient: how many `reveal`
/// (or `reveal_to`) operations, and how many elements they opened in all.
///
/// # Examples
///
/// ```
/// use privml::{Plain, Ring};
/// use privml::cost::Openings;
///
/// let mut r = Plain::new();
/// let x = r.input(1, Some(&ndarray::arr1(&[1.0, 2.0]).into_dyn()), &[2])?;
/// r.reveal_to(1, &x)?;
/// let c = r.cost();
/// assert_eq!(c.opened_to[1], Openings { ops: 1, elements: 2 });
/// assert_eq!(c.opened_to_all, Openings::default());
/// # Ok::<(), privml::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Openings {
    /// Reveal operations.
    pub ops: u64,
    /// Elements they opened.
    pub elements: u64,
}

impl Openings {
    /// Counts one opening of `n` elements.
    fn count(&mut self, n: u64) {
        self.ops += 1;
        self.elements += n;
    }

    /// The openings after `earlier` was taken.
    fn since(self, earlier: Openings) -> Openings {
        Openings {
            ops: self.ops - earlier.ops,
            elements: self.elements - earlier.elements,
        }
    }
}

impl fmt::Display for Openings {
    /// `"3 values in 2 reveals"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} values in {} reveals", self.elements, self.ops)
    }
}

/// The counters of a program run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cost {
    /// Elementwise secret-by-secret products (elements).
    pub mults: u64,
    /// Entries of secret-by-secret matrix products.
    pub matmul_outputs: u64,
    /// Fixed-point truncations (elements).
    pub truncations: u64,
    /// Secure comparisons / sign extractions (elements).
    pub comparisons: u64,
    /// Elements given as private input.
    pub input_elements: u64,
    /// Elements revealed (to everyone or to one party).
    pub revealed_elements: u64,
    /// What `reveal` opened to every party: operations and elements.
    pub opened_to_all: Openings,
    /// What `reveal_to(p)` opened to party p alone (index p): operations and
    /// elements. With [`opened_to_all`](Self::opened_to_all) this is the
    /// program's whole disclosure, the witness the disclosure tests check
    /// against each module's documented list.
    pub opened_to: [Openings; 3],
    /// Communication rounds (sequential).
    pub rounds: u64,
    /// Bytes sent by each party.
    pub bytes_sent: [u64; 3],
    /// Messages sent by each party.
    pub messages_sent: [u64; 3],
    /// Two-party protocol: bytes of correlated randomness the dealer sent
    /// to party 0 and to party 1 (the offline phase; not in `bytes_sent`).
    pub offline_bytes: [u64; 2],
    /// Two-party protocol: the dealer's messages to party 0 and party 1.
    pub offline_messages: [u64; 2],
    /// The protocol the communication fields are for.
    pub protocol: Protocol,
}

impl Cost {
    /// Adds the communication of one step.
    pub fn add_comm(&mut self, c: &Comm) {
        self.rounds += c.rounds;
        for i in 0..3 {
            self.bytes_sent[i] += c.bytes[i];
            self.messages_sent[i] += c.messages[i];
        }
        for i in 0..2 {
            self.offline_bytes[i] += c.offline_bytes[i];
            self.offline_messages[i] += c.offline_messages[i];
        }
    }

    /// Combines the costs seen by the three parties of one run: operation
    /// counters and rounds are the same on every party (they run the same
    /// program), bytes and messages are each party's own. In the two-party
    /// protocol the third is the dealer, and the offline counters are those
    /// each computing party received.
    pub fn merge_parties(costs: &[Cost; 3]) -> Cost {
        let mut out = costs[0].clone();
        for (i, c) in costs.iter().enumerate() {
            out.bytes_sent[i] = c.bytes_sent[i];
            out.messages_sent[i] = c.messages_sent[i];
            out.rounds = out.rounds.max(c.rounds);
        }
        for (i, c) in costs.iter().take(2).enumerate() {
            out.offline_bytes[i] = c.offline_bytes[i];
            out.offline_messages[i] = c.offline_messages[i];
        }
        out
    }

    /// The difference `self - earlier` (costs of the part of a program run
    /// after `earlier` was taken).
    pub fn since(&self, earlier: &Cost) -> Cost {
        let mut d = Cost {
            mults: self.mults - earlier.mults,
            matmul_outputs: self.matmul_outputs - earlier.matmul_outputs,
            truncations: self.truncations - earlier.truncations,
            comparisons: self.comparisons - earlier.comparisons,
            input_elements: self.input_elements - earlier.input_elements,
            revealed_elements: self.revealed_elements - earlier.revealed_elements,
            opened_to_all: self.opened_to_all.since(earlier.opened_to_all),
            opened_to: std::array::from_fn(|p| self.opened_to[p].since(earlier.opened_to[p])),
            rounds: self.rounds - earlier.rounds,
            protocol: self.protocol,
            ..Default::default()
        };
        for i in 0..3 {
            d.bytes_sent[i] = self.bytes_sent[i] - earlier.bytes_sent[i];
            d.messages_sent[i] = self.messages_sent[i] - earlier.messages_sent[i];
        }
        for i in 0..2 {
            d.offline_bytes[i] = self.offline_bytes[i] - earlier.offline_bytes[i];
            d.offline_messages[i] = self.offline_messages[i] - earlier.offline_messages[i];
        }
        d
    }

    /// The largest number of bytes any one party sent.
    pub fn max_bytes_per_party(&self) -> u64 {
        self.bytes_sent.iter().copied().max().unwrap_or(0)
    }

    /// Estimated wall time of the communication on `net`: one latency per
    /// round plus the busiest party's bytes at the link's bandwidth (online
    /// only: the two-party protocol's offline material is sent ahead).
    pub fn estimate(&self, net: &Network) -> Duration {
        let secs = self.rounds as f64 * net.latency.as_secs_f64()
            + self.max_bytes_per_party() as f64 * 8.0 / net.bandwidth_bits_per_s;
        Duration::from_secs_f64(secs)
    }

    /// A readable report with estimates for the standard networks.
    pub fn report(&self) -> CostReport<'_> {
        CostReport { cost: self }
    }
}

/// A network to estimate communication time on.
#[derive(Debug, Clone, PartialEq)]
pub struct Network {
    /// A short name.
    pub name: &'static str,
    /// One-way latency per round.
    pub latency: Duration,
    /// Link bandwidth in bits per second.
    pub bandwidth_bits_per_s: f64,
}

impl Network {
    /// 0.2 ms, 10 Gbit/s: parties in one data centre.
    pub const LAN: Network = Network {
        name: "LAN 0.2 ms / 10 Gbit/s",
        latency: Duration::from_micros(200),
        bandwidth_bits_per_s: 10e9,
    };
    /// 40 ms, 100 Mbit/s: parties on different continents.
    pub const WAN: Network = Network {
        name: "WAN 40 ms / 100 Mbit/s",
        latency: Duration::from_millis(40),
        bandwidth_bits_per_s: 100e6,
    };
}

/// Display adapter returned by [`Cost::report`].
pub struct CostReport<'a> {
    cost: &'a Cost,
}

fn human_bytes(b: u64) -> String {
    let b = b as f64;
    if b >= 1e9 {
        format!("{:.2} GB", b / 1e9)
    } else if b >= 1e6 {
        format!("{:.2} MB", b / 1e6)
    } else if b >= 1e3 {
        format!("{:.2} kB", b / 1e3)
    } else {
        format!("{b} B")
    }
}

impl fmt::Display for CostReport<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = self.cost;
        writeln!(f, "cost report")?;
        writeln!(f, "  multiplications      {:>14}", c.mults)?;
        writeln!(f, "  matmul outputs       {:>14}", c.matmul_outputs)?;
        writeln!(f, "  truncations          {:>14}", c.truncations)?;
        writeln!(f, "  comparisons          {:>14}", c.comparisons)?;
        writeln!(
            f,
            "  inputs / reveals     {:>14}",
            format!("{} / {}", c.input_elements, c.revealed_elements)
        )?;
        writeln!(
            f,
            "  opened to all        {:>14}",
            c.opened_to_all.to_string()
        )?;
        for (p, o) in c.opened_to.iter().enumerate() {
            if o.ops > 0 {
                writeln!(f, "  opened to party {p}    {:>14}", o.to_string())?;
            }
        }
        if c.protocol == Protocol::Additive2 {
            writeln!(f, "  rounds (online)      {:>14}", c.rounds)?;
        } else {
            writeln!(f, "  rounds               {:>14}", c.rounds)?;
        }
        let parties = c.protocol.computing_parties();
        for i in 0..parties {
            writeln!(
                f,
                "  party {i} sent         {:>14}  ({} messages)",
                human_bytes(c.bytes_sent[i]),
                c.messages_sent[i]
            )?;
        }
        if c.protocol == Protocol::Additive2 {
            let dealt = c.offline_messages.iter().any(|&m| m > 0);
            writeln!(
                f,
                "  offline (the dealer's correlated randomness, sent ahead)"
            )?;
            writeln!(f, "  rounds (offline)     {:>14}", u64::from(dealt))?;
            for i in 0..2 {
                writeln!(
                    f,
                    "  dealer to party {i}    {:>14}  ({} messages)",
                    human_bytes(c.offline_bytes[i]),
                    c.offline_messages[i]
                )?;
            }
        }
        for net in [Network::LAN, Network::WAN] {
            writeln!(
                f,
                "  estimated network time on {}: {:.3} s",
                net.name,
                c.estimate(&net).as_secs_f64()
            )?;
        }
        Ok(())
    }
}

/// The communication formulas of privml's protocols, for ring elements of
/// `elem_bytes` bytes: the replicated 3-party protocol (`new`) or the
/// two-party protocol with a dealer (`for_protocol(Protocol::Additive2, ..)`).
/// `Plain` and `Fixed` add these to their [`Cost`]; `Shared` and
/// `Additive` must send exactly this much.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CostModel {
    /// Bytes per ring element (8 for Z_2^64, 16 for Z_2^128).
    pub elem_bytes: u64,
    /// The protocol.
    pub protocol: Protocol,
}

impl CostModel {
    /// The replicated 3-party model for elements of `elem_bytes` bytes.
    pub const fn new(elem_bytes: u64) -> Self {
        CostModel {
            elem_bytes,
            protocol: Protocol::Replicated3,
        }
    }

    /// The model of `protocol` for elements of `elem_bytes` bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// use privml::cost::{CostModel, Protocol};
    ///
    /// // a 256 x 256 matmul: Beaver sends both operands, then the truncation
    /// let m = CostModel::for_protocol(Protocol::Additive2, 8);
    /// let c = m.product(privml::cost::Op::Matmul, 256 * 256, 2 * 256 * 256);
    /// assert_eq!((c.rounds, c.bytes), (2, [3 * 65536 * 8, 3 * 65536 * 8, 0]));
    /// assert_eq!(c.offline_bytes, [0, 3 * 65536 * 8]);
    /// ```
    pub const fn for_protocol(protocol: Protocol, elem_bytes: u64) -> Self {
        CostModel {
            elem_bytes,
            protocol,
        }
    }

    fn b(&self, n: usize) -> u64 {
        n as u64 * self.elem_bytes
    }

    /// Private input of n elements by party `owner`: the owner derives two of
    /// the three shares from keys it shares with its neighbours and sends the
    /// third to both of them.
    pub fn input(&self, owner: usize, n: usize) -> Comm {
        let mut c = Comm {
            rounds: 1,
            ..Default::default()
        };
        c.bytes[owner % 3] = 2 * self.b(n);
        c.messages[owner % 3] = 2;
        c
    }

    /// Reveal n elements to all: each party sends its first share to the next.
    pub fn reveal(&self, n: usize) -> Comm {
        Comm {
            rounds: 1,
            bytes: [self.b(n); 3],
            messages: [1; 3],
            ..Default::default()
        }
    }

    /// Reveal n elements to party `to`: its predecessor sends the missing share.
    pub fn reveal_to(&self, to: usize, n: usize) -> Comm {
        let mut c = Comm {
            rounds: 1,
            ..Default::default()
        };
        let from = (to + 2) % 3;
        c.bytes[from] = self.b(n);
        c.messages[from] = 1;
        c
    }

    /// Re-randomise n elements: one element to the predecessor each.
    pub fn reshare(&self, n: usize) -> Comm {
        Comm {
            rounds: 1,
            bytes: [self.b(n); 3],
            messages: [1; 3],
            ..Default::default()
        }
    }

    /// n integer products (no truncation): one element to the predecessor each.
    pub fn mul_int(&self, n: usize) -> Comm {
        self.reshare(n)
    }

    /// n fixed-point products (or matmul outputs, or plain truncations) with
    /// the fused truncation of [`crate::mpc::trunc`]: round one, parties 0 and
    /// 1 exchange masked values and party 2 sends two dealer shares to party 1;
    /// round two, parties 0 and 1 exchange their parts of the output.
    pub fn mul_trunc(&self, n: usize) -> Comm {
        Comm {
            rounds: 2,
            bytes: [2 * self.b(n); 3],
            messages: [2, 2, 1],
            ..Default::default()
        }
    }

    /// Truncation alone costs the same as a fused product.
    pub fn trunc(&self, n: usize) -> Comm {
        self.mul_trunc(n)
    }

    /// Sign extraction of n elements of a `bits`-bit ring and multiplexing
    /// `m` elements by the resulting bits (see [`crate::mpc::compare`]):
    /// the AND-gate rounds (one word per 64 elements per gate), then party 0
    /// inputs n bits while everyone reshares m products, then one round of
    /// 2m + n integer products.
    pub fn compare(&self, bits: u32, n: usize, m: usize) -> Comm {
        let words = n.div_ceil(64) as u64;
        let gates = msb_gates_per_round(bits);
        let mut c = Comm::default();
        for g in &gates {
            c.rounds += 1;
            for i in 0..3 {
                c.bytes[i] += *g as u64 * words * 8;
                c.messages[i] += 1;
            }
        }
        // round A
        c.rounds += 1;
        c.bytes[0] += 2 * self.b(n);
        c.messages[0] += 2;
        if m > 0 {
            for i in 0..3 {
                c.bytes[i] += self.b(m);
                c.messages[i] += 1;
            }
        }
        // round B
        c.rounds += 1;
        for i in 0..3 {
            c.bytes[i] += self.b(2 * m + n);
            c.messages[i] += 1;
        }
        c
    }

    /// Opening n elements of a `bits`-bit ring to every party through the
    /// exact rounding of [`Open::open`](crate::domain::Open::open): a
    /// truncation, a sign extraction selecting n elements, the reveal.
    pub fn open(&self, bits: u32, n: usize) -> Comm {
        self.rounded(bits, n, Op::Reveal)
    }

    /// [`open`](Self::open) to party `to` only
    /// ([`Open::open_to`](crate::domain::Open::open_to)).
    pub fn open_to(&self, bits: u32, to: usize, n: usize) -> Comm {
        self.rounded(bits, n, Op::RevealTo { to })
    }

    /// The exact rounding of n elements, then the reveal `reveal`, in
    /// either protocol (the dealer's material included).
    fn rounded(&self, bits: u32, n: usize, reveal: Op) -> Comm {
        let mut c = Comm::default();
        let compare = Op::Compare { bits, selected: n };
        for step in [Op::Trunc, compare, reveal].map(|op| self.comm(op, n)) {
            c.rounds += step.rounds;
            for i in 0..3 {
                c.bytes[i] += step.bytes[i];
                c.messages[i] += step.messages[i];
            }
            for i in 0..2 {
                c.offline_bytes[i] += step.offline_bytes[i];
                c.offline_messages[i] += step.offline_messages[i];
            }
        }
        c
    }

    /// The communication of `op` on `n` elements. (For the two-party
    /// protocol's products, whose cost depends on the operands' sizes, this
    /// assumes two operands of n elements; see [`product`](Self::product).)
    pub fn comm(&self, op: Op, n: usize) -> Comm {
        if self.protocol == Protocol::Additive2 {
            return self.additive2(op, n, 2 * n);
        }
        match op {
            Op::Compare { bits, selected } => self.compare(bits, n, selected),
            Op::Announce { from } => announce(from, n),
            Op::Agreement => Comm {
                rounds: 1,
                bytes: [32; 3],
                messages: [1; 3],
                ..Default::default()
            },
            Op::Input { owner } => self.input(owner, n),
            Op::Reveal => self.reveal(n),
            Op::RevealTo { to } => self.reveal_to(to, n),
            Op::Reshare => self.reshare(n),
            Op::MulInt => self.mul_int(n),
            Op::MulTrunc | Op::Matmul => self.mul_trunc(n),
            Op::Trunc => self.trunc(n),
        }
    }
}

impl CostModel {
    /// The communication of a product `op` (`MulTrunc`, `Matmul`, `MulInt`)
    /// with `n` outputs and `operands` operand elements in all (Σ |x| + |y|
    /// over the pairs, or mk + kn for matrices). The replicated protocol's
    /// cost depends on n only.
    pub fn product(&self, op: Op, n: usize, operands: usize) -> Comm {
        match self.protocol {
            Protocol::Replicated3 => self.comm(op, n),
            Protocol::Additive2 => self.additive2(op, n, operands),
        }
    }

    /// The two-party formulas (see the [module documentation](self)).
    fn additive2(&self, op: Op, n: usize, operands: usize) -> Comm {
        let e = |k: usize| k as u64 * self.elem_bytes;
        let online = |rounds: u64, bytes: u64, messages: u64| Comm {
            rounds,
            bytes: [bytes, bytes, 0],
            messages: [messages, messages, 0],
            ..Default::default()
        };
        let dealt = |mut c: Comm, bytes: u64, messages: u64| {
            c.offline_bytes[1] = bytes;
            c.offline_messages[1] = messages;
            c
        };
        match op {
            Op::Input { .. } | Op::Reshare => Comm::default(),
            Op::Reveal => online(1, e(n), 1),
            Op::RevealTo { to } => {
                let mut c = Comm {
                    rounds: 1,
                    ..Default::default()
                };
                let from = 1 - to.min(1);
                c.bytes[from] = e(n);
                c.messages[from] = 1;
                c
            }
            Op::Agreement => online(1, 32, 1),
            Op::Announce { from } => announce(from, n),
            Op::MulInt => dealt(online(1, e(operands), 1), e(n), 1),
            Op::MulTrunc | Op::Matmul => dealt(online(2, e(operands + n), 2), e(3 * n), 1),
            Op::Trunc => dealt(online(1, e(n), 1), e(2 * n), 1),
            Op::Compare { bits, selected } => {
                let words = n.div_ceil(64) as u64 * 8;
                let tree = compare2_tree(bits);
                let opened: u64 = tree.iter().map(|&p| 3 * p as u64 - 1).sum();
                let gates: u64 = tree.iter().map(|&p| 2 * p as u64 - 1).sum();
                let rounds = tree.len() as u64 + 2;
                let c = online(rounds, e(n + selected) + (opened + 1) * words, rounds);
                dealt(c, e(n + selected) + (bits as u64 + gates) * words, 2)
            }
        }
    }
}

/// Public bytes (`n`) from party `from` to the other two, in either
/// protocol (the dealer, id 2, receives announcements too).
fn announce(from: usize, n: usize) -> Comm {
    let mut c = Comm {
        rounds: 1,
        ..Default::default()
    };
    c.bytes[from % 3] = 2 * n as u64;
    c.messages[from % 3] = 2;
    c
}

/// The pairs combined in each round of the two-party comparison's carry
/// tree (see [`crate::mpc2::compare`]): ℓ-1 bit positions, halved each
/// round. A round with p pairs opens 3p - 1 masked planes and evaluates
/// 2p - 1 AND gates per 64 elements. ℓ = 64: 6 rounds; ℓ = 128: 7.
///
/// # Examples
///
/// ```
/// use privml::cost::compare2_tree;
/// assert_eq!(compare2_tree(64), [31, 16, 8, 4, 2, 1]);
/// ```
pub fn compare2_tree(bits: u32) -> Vec<usize> {
    let mut groups = bits as usize - 1;
    let mut pairs = Vec::new();
    while groups > 1 {
        pairs.push(groups / 2);
        groups = groups / 2 + groups % 2;
    }
    pairs
}

/// AND gates in each round of the sign extraction of `bits`-bit elements
/// (see [`crate::mpc::compare`]): the carry-save layer (ℓ-1 gates), the
/// generate bits (ℓ-2), then a carry tree over the ℓ-2 positions 1 … ℓ-2
/// that combines neighbouring groups, 2 gates per pair except for the
/// lowest group (1). For ℓ = 64: 8 rounds, 241 gates; ℓ = 128: 9 rounds,
/// 489 gates.
///
/// # Examples
///
/// ```
/// use privml::cost::msb_gates_per_round;
/// assert_eq!(msb_gates_per_round(64), [63, 62, 61, 29, 15, 7, 3, 1]);
/// ```
pub fn msb_gates_per_round(bits: u32) -> Vec<usize> {
    let l = bits as usize;
    let mut rounds = vec![l - 1, l - 2];
    // groups over positions 1..=l-2; only the first group is "lowest"
    let mut groups = l - 2;
    while groups > 1 {
        let pairs = groups / 2;
        rounds.push(2 * pairs - 1);
        groups = pairs + groups % 2;
    }
    rounds
}

/// The protocol operations that communicate, for cost accounting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Private input by `owner`.
    Input {
        /// The data owner.
        owner: usize,
    },
    /// Reveal to all parties.
    Reveal,
    /// Reveal to one party.
    RevealTo {
        /// The receiving party.
        to: usize,
    },
    /// Re-randomisation.
    Reshare,
    /// Integer elementwise product.
    MulInt,
    /// Fixed-point elementwise product (truncation fused).
    MulTrunc,
    /// Fixed-point matrix product; `n` counts output entries.
    Matmul,
    /// Truncation of a shared value (public scaling, division by 2^k).
    Trunc,
    /// The share-consistency check of loaded models: one 32-byte digest per
    /// party (`n` is ignored).
    Agreement,
    /// Public bytes from party `from` to the other two (`n` bytes).
    Announce {
        /// The sender.
        from: usize,
    },
    /// Sign extraction of `n` elements in a `bits`-bit ring, multiplexing
    /// `selected` elements by the resulting bits.
    Compare {
        /// Ring size ℓ.
        bits: u32,
        /// Elements multiplied by the comparison bits.
        selected: usize,
    },
}

impl Cost {
    /// Counts `n` elements of `op` in the operation counters (not the
    /// communication fields).
    pub fn count_op(&mut self, op: Op, n: usize) {
        let n = n as u64;
        match op {
            Op::Input { .. } => self.input_elements += n,
            Op::Reveal => {
                self.revealed_elements += n;
                self.opened_to_all.count(n);
            }
            Op::RevealTo { to } => {
                self.revealed_elements += n;
                if let Some(o) = self.opened_to.get_mut(to) {
                    o.count(n);
                }
            }
            Op::Reshare | Op::Agreement | Op::Announce { .. } => {}
            Op::MulInt => self.mults += n,
            Op::MulTrunc => {
                self.mults += n;
                self.truncations += n;
            }
            Op::Matmul => {
                self.matmul_outputs += n;
                self.truncations += n;
            }
            Op::Trunc => self.truncations += n,
            Op::Compare { .. } => self.comparisons += n,
        }
    }

    /// Counts `op` and adds its communication from `model`: what the
    /// plaintext domains do to predict a secure run.
    pub fn predict(&mut self, model: &CostModel, op: Op, n: usize) {
        self.count_op(op, n);
        self.add_comm(&model.comm(op, n));
    }

    /// [`predict`](Self::predict) for a product with `operands` operand
    /// elements (see [`CostModel::product`]).
    pub fn predict_product(&mut self, model: &CostModel, op: Op, n: usize, operands: usize) {
        self.count_op(op, n);
        self.add_comm(&model.product(op, n, operands));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_and_since() {
        let m = CostModel::new(8);
        let mut a = Cost::default();
        a.add_comm(&m.input(1, 10));
        assert_eq!(a.bytes_sent, [0, 160, 0]);
        let snapshot = a.clone();
        a.add_comm(&m.reveal_to(0, 4));
        let d = a.since(&snapshot);
        assert_eq!(d.bytes_sent, [0, 0, 32]);
        assert_eq!(d.rounds, 1);
        let parts = [
            Cost {
                bytes_sent: [5, 0, 0],
                rounds: 3,
                ..Default::default()
            },
            Cost {
                bytes_sent: [0, 6, 0],
                rounds: 3,
                ..Default::default()
            },
            Cost {
                bytes_sent: [0, 0, 7],
                rounds: 3,
                ..Default::default()
            },
        ];
        assert_eq!(Cost::merge_parties(&parts).bytes_sent, [5, 6, 7]);
    }

    #[test]
    fn openings_are_counted_per_recipient() {
        let m = CostModel::new(8);
        let mut c = Cost::default();
        c.predict(&m, Op::Reveal, 3);
        c.predict(&m, Op::RevealTo { to: 2 }, 5);
        c.predict(&m, Op::RevealTo { to: 2 }, 1);
        let snapshot = c.clone();
        c.predict(&m, Op::Reveal, 1);
        assert_eq!(snapshot.revealed_elements, 9);
        assert_eq!(
            snapshot.opened_to_all,
            Openings {
                ops: 1,
                elements: 3
            }
        );
        assert_eq!(
            snapshot.opened_to[2],
            Openings {
                ops: 2,
                elements: 6
            }
        );
        assert_eq!(snapshot.opened_to[0], Openings::default());
        let d = c.since(&snapshot);
        assert_eq!(
            d.opened_to_all,
            Openings {
                ops: 1,
                elements: 1
            }
        );
        assert_eq!(d.opened_to, [Openings::default(); 3]);
        let text = snapshot.report().to_string();
        assert!(text.contains("3 values in 1 reveals"), "{text}");
        assert!(text.contains("opened to party 2") && !text.contains("opened to party 0"));
    }

    #[test]
    fn gate_plan_matches_the_documented_counts() {
        let g64 = msb_gates_per_round(64);
        assert_eq!(g64.len(), 8);
        assert_eq!(g64.iter().sum::<usize>(), 241);
        let g128 = msb_gates_per_round(128);
        assert_eq!(g128.len(), 9);
        assert_eq!(
            g128.iter().sum::<usize>(),
            127 + 126 + 125 + 61 + 31 + 15 + 7 + 3 + 1
        );
    }

    #[test]
    fn estimate_uses_latency_and_busiest_party() {
        let c = Cost {
            rounds: 10,
            bytes_sent: [1_250_000, 0, 0],
            ..Default::default()
        };
        // 10 * 40 ms + 10 Mbit at 100 Mbit/s = 0.4 + 0.1
        let t = c.estimate(&Network::WAN).as_secs_f64();
        assert!((t - 0.5).abs() < 1e-9);
        let text = c.report().to_string();
        assert!(text.contains("rounds") && text.contains("1.25 MB"));
    }
}
