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
//! | sign extraction of n values, selecting m (`nonneg_select`) | 6 (ℓ=64), 7 (ℓ=128) | party 0: (2·233 + 26)·⌈n/64⌉ words + 2(n + 2m) elements; parties 1, 2: (32 + 26)·⌈n/64⌉ words + (n + m) elements (ℓ=64) |
//! | `open` / `open_to(p)` of an output (exact rounding, then the reveal; [`crate::domain::Open`]) | 9 (ℓ=64), 10 (ℓ=128) | a truncation of n, a sign extraction of n selecting n, then `reveal` / `reveal_to(p)` of n |
//!
//! For a matrix product n is the number of *output* entries.
//!
//! # The gadgets (n elements, ℓ = 64; `c` is the comparison above)
//!
//! Replicated protocol; on the two-party protocol the same closed forms
//! add up the two-party costs of the same steps.
//!
//! | gadget | rounds | bytes sent per party and element |
//! |---|---|---|
//! | [`exp_nonpositive`](CostModel::exp_nonpositive), s squarings | 12 + 2s | c(n, n)/n + 16·(3 + s) |
//! | [`reciprocal`](CostModel::reciprocal), k iterations | 4 + 2k | 16·(2 + 2(k-1) + 1) |
//! | [`inv_sqrt`](CostModel::inv_sqrt), t thresholds, k iterations | 12 + 4k | c(t·n, 0)/n + 16·(4 + 3k) |
//! | [`max_tree`](CostModel::max_tree) over c candidates | 6·⌈log₂ c⌉ | about c(n, n)/n per pair |
//! | [`softmax`](CostModel::softmax) of rows of k | max tree + exp + reciprocal + 2 | per row |
//!
//! The `Gadgets` methods are built from the core operations, whose costs
//! `Plain` and `Fixed` predict; these closed forms say the same in one line
//! and are tested against the transport's counts (`tests/suite/functions.rs`).
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

impl std::ops::Add for Comm {
    type Output = Comm;
    /// Two steps one after the other: rounds, bytes and messages add up.
    fn add(mut self, other: Comm) -> Comm {
        self += other;
        self
    }
}

impl std::ops::AddAssign for Comm {
    fn add_assign(&mut self, other: Comm) {
        self.rounds += other.rounds;
        for i in 0..3 {
            self.bytes[i] += other.bytes[i];
            self.messages[i] += other.messages[i];
        }
        for i in 0..2 {
            self.offline_bytes[i] += other.offline_bytes[i];
            self.offline_messages[i] += other.offline_messages[i];
        }
    }
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

    /// Estimated wall time of the communication on `net`: one (one-way)
    /// latency per round plus the busiest party's bytes at the link's
    /// bandwidth (online only: the two-party protocol's offline material is
    /// sent ahead).
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
///
/// A round costs one *one-way* latency: in every round each party sends
/// what it has and waits for what its neighbours sent in the same round,
/// so rounds chain one delay each (half the round-trip time). The presets
/// are those of the network emulator ([`crate::net::emulate::PRESETS`]),
/// and `privml bench --net ...` checks the estimate against an emulated run.
#[derive(Debug, Clone, PartialEq)]
pub struct Network {
    /// A short name.
    pub name: &'static str,
    /// One-way latency: what one round costs.
    pub latency: Duration,
    /// Link bandwidth in bits per second.
    pub bandwidth_bits_per_s: f64,
}

impl Network {
    /// 0.2 ms round trip (0.1 ms per round), 10 Gbit/s: parties in one
    /// data centre (the emulator's `lan`).
    pub const LAN: Network = Network {
        name: "LAN 0.2 ms RTT / 10 Gbit/s",
        latency: Duration::from_micros(100),
        bandwidth_bits_per_s: 10e9,
    };
    /// 40 ms round trip (20 ms per round), 100 Mbit/s: parties on
    /// different continents (the emulator's `wan`).
    pub const WAN: Network = Network {
        name: "WAN 40 ms RTT / 100 Mbit/s",
        latency: Duration::from_millis(20),
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
    /// `m` elements by the resulting bits (see [`crate::mpc::compare`]): the
    /// leaf round (party 0 sends two copies of each masked α plane, parties
    /// 1 and 2 one plane per output to each other), the carry tree's AND
    /// rounds (one word per 64 elements per gate), then the selection round
    /// (party 0 sends t and, per selected element, Y0 and t·Y0, masked, to
    /// both others; parties 1 and 2 one element per output to each other).
    pub fn compare(&self, bits: u32, n: usize, m: usize) -> Comm {
        let words = n.div_ceil(64) as u64;
        let plan = msb_plan(bits);
        let mut c = Comm {
            rounds: 1,
            ..Default::default()
        };
        // leaf round
        c.bytes[0] += 2 * plan.alpha_planes as u64 * words * 8;
        c.messages[0] += 2;
        for i in 1..3 {
            c.bytes[i] += plan.leaf_outputs as u64 * words * 8;
            c.messages[i] += 1;
        }
        // carry tree
        for g in &plan.tree_gates {
            c.rounds += 1;
            for i in 0..3 {
                c.bytes[i] += *g as u64 * words * 8;
                c.messages[i] += 1;
            }
        }
        // selection
        c.rounds += 1;
        c.bytes[0] += 2 * self.b(n + 2 * m);
        c.messages[0] += 2;
        for i in 1..3 {
            c.bytes[i] += self.b(n + m);
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
        self.comm(Op::Trunc, n)
            + self.comm(Op::Compare { bits, selected: n }, n)
            + self.comm(reveal, n)
    }

    /// The ring's bits (for the comparison's gate plan).
    fn ring_bits(&self) -> u32 {
        (self.elem_bytes * 8) as u32
    }

    /// `Gadgets::max_tree` over `count` candidates of `m` elements each: a
    /// comparison of every pair of a level, selecting the difference.
    pub fn max_tree(&self, count: usize, m: usize) -> Comm {
        let mut c = Comm::default();
        let mut count = count;
        while count > 1 {
            let pairs = count / 2;
            c += self.comm(
                Op::Compare {
                    bits: self.ring_bits(),
                    selected: pairs * m,
                },
                pairs * m,
            );
            count = pairs + count % 2;
        }
        c
    }

    /// `Gadgets::max_tree_backward`: one product per pair and level.
    pub fn max_tree_backward(&self, count: usize, m: usize) -> Comm {
        let mut c = Comm::default();
        let mut count = count;
        while count > 1 {
            let pairs = count / 2;
            c += self.comm(Op::MulTrunc, pairs * m);
            count = pairs + count % 2;
        }
        c
    }

    /// `Gadgets::exp_nonpositive` of n elements with `squarings` squarings:
    /// one ReLU, the square and cube, the polynomial's truncation, then the
    /// squarings.
    pub fn exp_nonpositive(&self, n: usize, squarings: u32) -> Comm {
        let mut c = self.comm(
            Op::Compare {
                bits: self.ring_bits(),
                selected: n,
            },
            n,
        ) + self.comm(Op::MulTrunc, n)
            + self.comm(Op::MulTrunc, n)
            + self.comm(Op::Trunc, n);
        for _ in 0..squarings {
            c += self.comm(Op::MulTrunc, n);
        }
        c
    }

    /// `Gadgets::reciprocal` of n elements with `iterations` iterations:
    /// the starting line, the first error, two products per iteration but
    /// the last.
    pub fn reciprocal(&self, n: usize, iterations: u32) -> Comm {
        let mut c = self.comm(Op::Trunc, n) + self.comm(Op::MulTrunc, n);
        for i in 0..iterations {
            c += self.comm(Op::MulTrunc, if i + 1 == iterations { n } else { 2 * n });
        }
        c
    }

    /// `Gadgets::inv_sqrt` of n elements with `thresholds` comparison
    /// thresholds (the last is the clamp) and `iterations` Newton steps.
    pub fn inv_sqrt(&self, n: usize, thresholds: usize, iterations: u32) -> Comm {
        let mut c = self.comm(
            Op::Compare {
                bits: self.ring_bits(),
                selected: 0,
            },
            thresholds * n,
        ) + self.comm(Op::MulTrunc, n);
        if thresholds > 1 {
            c += self.comm(Op::Trunc, n);
        }
        // x·y and y·½ (a public-size scalar operand)
        c += self.product(Op::MulTrunc, 2 * n, 3 * n + 1);
        for _ in 0..iterations {
            c += self.comm(Op::MulTrunc, n) + self.comm(Op::MulTrunc, 2 * n);
        }
        c
    }

    /// `Gadgets::softmax_rows` of `rows` rows of k columns, with
    /// `squarings` in the exponential and `iterations` in the reciprocal.
    pub fn softmax(&self, rows: usize, k: usize, squarings: u32, iterations: u32) -> Comm {
        self.max_tree(k, rows)
            + self.exp_nonpositive(rows * k, squarings)
            + self.reciprocal(rows, iterations)
            // each row times its reciprocal (one operand per row)
            + self.product(Op::MulTrunc, rows * k, rows * k + rows)
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

/// Bit positions per leaf group of the comparison's carry computation (see
/// [`crate::mpc::compare`]).
pub const LEAF_WIDTH: usize = 4;

/// The sign-extraction circuit of `bits`-bit elements (see
/// [`crate::mpc::compare`]): what the cost model predicts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MsbPlan {
    /// Leaf groups over the positions 0 … ℓ-2 ([`LEAF_WIDTH`] each, the top
    /// one shorter).
    pub groups: usize,
    /// Party 0's masked α planes in the leaf round: 2^w - 1 per group of w
    /// positions, and the top bit.
    pub alpha_planes: usize,
    /// Outputs of the leaf round: each group's G, each group's P but the
    /// lowest's, and the top bit.
    pub leaf_outputs: usize,
    /// AND gates in each round of the carry tree.
    pub tree_gates: Vec<usize>,
}

impl MsbPlan {
    /// Rounds of the sign extraction: the leaf round and the tree.
    pub fn rounds(&self) -> usize {
        1 + self.tree_gates.len()
    }
}

/// The plan of the sign extraction of `bits`-bit elements. For ℓ = 64: 16
/// groups, 233 α planes, 32 leaf outputs, then 15 + 7 + 3 + 1 gates in 4
/// rounds; ℓ = 128: 32 groups, 473 α planes, 64 outputs, 5 tree rounds.
///
/// # Examples
///
/// ```
/// use privml::cost::msb_plan;
/// let p = msb_plan(64);
/// assert_eq!((p.groups, p.alpha_planes, p.leaf_outputs), (16, 233, 32));
/// assert_eq!(p.tree_gates, [15, 7, 3, 1]);
/// assert_eq!(p.rounds(), 5);
/// ```
pub fn msb_plan(bits: u32) -> MsbPlan {
    let positions = bits as usize - 1;
    let groups = positions.div_ceil(LEAF_WIDTH);
    let alpha_planes = (0..positions)
        .step_by(LEAF_WIDTH)
        .map(|lo| (1usize << (positions - lo).min(LEAF_WIDTH)) - 1)
        .sum::<usize>()
        + 1;
    let mut tree_gates = Vec::new();
    let mut g = groups;
    while g > 1 {
        let pairs = g / 2;
        tree_gates.push(2 * pairs - 1);
        g = pairs + g % 2;
    }
    MsbPlan {
        groups,
        alpha_planes,
        leaf_outputs: 2 * groups,
        tree_gates,
    }
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
    fn msb_plan_matches_the_documented_counts() {
        let p64 = msb_plan(64);
        assert_eq!(p64.rounds(), 5);
        assert_eq!(p64.alpha_planes, 15 * 15 + 7 + 1);
        let p128 = msb_plan(128);
        assert_eq!((p128.groups, p128.alpha_planes), (32, 31 * 15 + 7 + 1));
        assert_eq!(p128.leaf_outputs, 32 + 31 + 1);
        assert_eq!(p128.tree_gates, [31, 15, 7, 3, 1]);
        // with the selection: 6 rounds on Z_2^64, 7 on Z_2^128
        assert_eq!(CostModel::new(8).compare(64, 100, 100).rounds, 6);
        assert_eq!(CostModel::new(16).compare(128, 100, 0).rounds, 7);
    }

    #[test]
    fn the_standard_networks_are_the_emulator_presets() {
        use crate::net::emulate::LinkProfile;
        for (net, name) in [(Network::LAN, "lan"), (Network::WAN, "wan")] {
            let p = LinkProfile::preset(name).unwrap();
            assert_eq!(net.latency, p.one_way_delay, "{name}");
            assert_eq!(net.bandwidth_bits_per_s, p.bandwidth_bits_per_s, "{name}");
        }
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
    fn estimate_uses_latency_and_busiest_party() {
        let c = Cost {
            rounds: 10,
            bytes_sent: [1_250_000, 0, 0],
            ..Default::default()
        };
        // 10 * 20 ms (one way) + 10 Mbit at 100 Mbit/s = 0.2 + 0.1
        let t = c.estimate(&Network::WAN).as_secs_f64();
        assert!((t - 0.3).abs() < 1e-9);
        let text = c.report().to_string();
        assert!(text.contains("rounds") && text.contains("1.25 MB"));
    }
}
