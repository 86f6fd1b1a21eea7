//! One participant of the two-party protocol: a computing party or the
//! dealer, its links, its keys, and where the dealer's material goes to or
//! comes from.

use crate::error::{Error, Result};
use crate::net::Net;
use crate::party_id::PartyId;
use crate::ring::prg::{PrfKey, Seed};
use crate::ring::{Payload, RingElement};

use super::prep::{MAX_ANNOUNCE, PrepReader, PrepWriter};

/// The dealer's network id (the computing parties are 0 and 1).
pub const DEALER: PartyId = 2;

/// What a participant plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Computing party 0 or 1.
    Compute(PartyId),
    /// The dealer of correlated randomness.
    Dealer,
}

impl Role {
    /// The role of network id `id`: 0 and 1 compute, 2 deals.
    pub fn from_id(id: PartyId) -> Result<Role> {
        match id {
            0 | 1 => Ok(Role::Compute(id)),
            DEALER => Ok(Role::Dealer),
            other => Err(Error::InvalidParty(other)),
        }
    }

    /// The network id.
    pub fn id(self) -> PartyId {
        match self {
            Role::Compute(p) => p,
            Role::Dealer => DEALER,
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Role::Compute(p) => write!(f, "party {p}"),
            Role::Dealer => f.write_str("the dealer"),
        }
    }
}

/// The PRF keys of a participant.
#[derive(Debug, Clone)]
pub enum StreamKeys {
    /// A computing party's: shared with the other party and with the dealer.
    Party {
        /// k_01.
        peer: PrfKey,
        /// k_d0 or k_d1.
        dealer: PrfKey,
    },
    /// The dealer's: shared with party 0 and party 1.
    Dealer {
        /// k_d0.
        p0: PrfKey,
        /// k_d1.
        p1: PrfKey,
    },
}

/// Where the dealer's material goes (dealer) or comes from (party 1).
#[derive(Debug)]
enum Material {
    /// Over the network, as the program runs.
    Live,
    /// From a preprocessing file (a computing party).
    Reading(PrepReader),
    /// Into preprocessing files (the dealer).
    Writing(PrepWriter),
}

/// One participant: links, keys, the operation counter that indexes the
/// keystreams, and the dealer's material channel.
///
/// Every protocol method is SPMD: the two parties and the dealer call it
/// with the same public arguments (shapes, bit counts) in the same order;
/// the dealer passes no values.
#[derive(Debug)]
pub struct Participant {
    pub(super) net: Net,
    role: Role,
    keys: StreamKeys,
    op: u64,
    material: Material,
    /// Material bytes and messages received (party 1) or dealt (dealer).
    offline: (u64, u64),
}

impl Participant {
    /// Sets up keys with a live dealer over `net` (one round, not counted
    /// in the statistics afterwards): the dealer sends one seed to each
    /// party, party 0 sends one to party 1. `test_seed` fixes the seeds
    /// (tests only); `None` draws them from the operating system.
    pub fn live(mut net: Net, test_seed: Option<u64>) -> Result<Self> {
        let role = Role::from_id(net.me())?;
        let seed = |k: u64| -> Result<Seed> {
            match test_seed {
                Some(s) => Ok(Seed::from_u64(s.wrapping_mul(5).wrapping_add(k))),
                None => Seed::random(),
            }
        };
        net.begin_round("key set-up");
        let keys = match role {
            Role::Dealer => {
                let (s0, s1) = (seed(0)?, seed(1)?);
                net.send(0, Payload::Bytes(s0.expose_bytes().to_vec()))?;
                net.send(1, Payload::Bytes(s1.expose_bytes().to_vec()))?;
                StreamKeys::Dealer {
                    p0: PrfKey::new(&s0),
                    p1: PrfKey::new(&s1),
                }
            }
            Role::Compute(me) => {
                let peer = if me == 0 {
                    let s = seed(2)?;
                    net.send(1, Payload::Bytes(s.expose_bytes().to_vec()))?;
                    s
                } else {
                    recv_seed(&mut net, 0)?
                };
                let dealer = recv_seed(&mut net, DEALER)?;
                StreamKeys::Party {
                    peer: PrfKey::new(&peer),
                    dealer: PrfKey::new(&dealer),
                }
            }
        };
        net.reset_stats();
        Ok(Participant {
            net,
            role,
            keys,
            op: 0,
            material: Material::Live,
            offline: (0, 0),
        })
    }

    /// A computing party whose dealer material comes from a preprocessing
    /// file: only the key with the other party is set up over `net` (party
    /// 0 sends a seed to party 1); the dealer's key is the file's.
    pub fn from_file(mut net: Net, file: PrepReader, test_seed: Option<u64>) -> Result<Self> {
        let role = Role::from_id(net.me())?;
        let Role::Compute(me) = role else {
            return Err(Error::invalid(
                "id",
                "only a computing party reads a preprocessing file",
            ));
        };
        if file.party() != me {
            return Err(file.wrong_party(me));
        }
        // Party 0 sends k_01's seed; both send their file's id and compare.
        net.begin_round("key set-up");
        let id = file.file_id();
        let peer = if me == 0 {
            let s = match test_seed {
                Some(s) => Seed::from_u64(s.wrapping_mul(5).wrapping_add(2)),
                None => Seed::random()?,
            };
            let mut msg = s.expose_bytes().to_vec();
            msg.extend_from_slice(&id);
            net.send(1, Payload::Bytes(msg))?;
            let theirs = net.recv_bytes(1, 16)?;
            if theirs != id {
                return Err(file.other_run());
            }
            s
        } else {
            net.send(0, Payload::Bytes(id.to_vec()))?;
            let got = net.recv_bytes(0, 32)?;
            if got[16..] != id {
                return Err(file.other_run());
            }
            let mut b = [0u8; 16];
            b.copy_from_slice(&got[..16]);
            Seed::from_bytes(b)
        };
        net.reset_stats();
        let dealer = PrfKey::new(&file.dealer_seed());
        Ok(Participant {
            net,
            role,
            keys: StreamKeys::Party {
                peer: PrfKey::new(&peer),
                dealer,
            },
            op: 0,
            material: Material::Reading(file),
            offline: (0, 0),
        })
    }

    /// The dealer writing preprocessing files instead of sending (`net` is
    /// never used for material; its round counter keeps the frames' round
    /// numbers those of a live run).
    pub fn writing(net: Net, writer: PrepWriter) -> Result<Self> {
        if net.me() != DEALER {
            return Err(Error::invalid(
                "id",
                "only the dealer writes preprocessing files",
            ));
        }
        let keys = StreamKeys::Dealer {
            p0: PrfKey::new(&writer.seed(0)),
            p1: PrfKey::new(&writer.seed(1)),
        };
        Ok(Participant {
            net,
            role: Role::Dealer,
            keys,
            op: 0,
            material: Material::Writing(writer),
            offline: (0, 0),
        })
    }

    /// This participant's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The transport.
    pub fn net(&self) -> &Net {
        &self.net
    }

    /// Material received (party 1) or dealt (dealer) so far: bytes, messages.
    pub fn offline(&self) -> (u64, u64) {
        self.offline
    }

    /// Whether the dealer's material comes over the network as the program
    /// runs (not from a file).
    pub fn dealer_is_live(&self) -> bool {
        matches!(self.material, Material::Live)
    }

    /// Finishes a dealer that writes files: writes them atomically.
    pub fn finish(self) -> Result<()> {
        match self.material {
            Material::Writing(w) => w.finish(),
            _ => Ok(()),
        }
    }

    /// Advances and returns the operation counter.
    pub(super) fn next_op(&mut self) -> u64 {
        self.op += 1;
        self.op
    }

    /// The other computing party (only for computing parties).
    pub(super) fn peer(&self) -> PartyId {
        1 - self.net.me().min(1)
    }

    /// The key with the other party (computing parties).
    pub(super) fn peer_key(&self) -> Result<&PrfKey> {
        match &self.keys {
            StreamKeys::Party { peer, .. } => Ok(peer),
            StreamKeys::Dealer { .. } => Err(self.not_for_dealer()),
        }
    }

    /// The key with the dealer (computing parties).
    pub(super) fn dealer_key(&self) -> Result<&PrfKey> {
        match &self.keys {
            StreamKeys::Party { dealer, .. } => Ok(dealer),
            StreamKeys::Dealer { .. } => Err(self.not_for_dealer()),
        }
    }

    /// The dealer's keys with party 0 and party 1.
    pub(super) fn party_keys(&self) -> Result<(&PrfKey, &PrfKey)> {
        match &self.keys {
            StreamKeys::Dealer { p0, p1 } => Ok((p0, p1)),
            StreamKeys::Party { .. } => Err(Error::internal(
                "mpc2",
                "a computing party asked for the dealer's keys",
            )),
        }
    }

    fn not_for_dealer(&self) -> Error {
        Error::internal("mpc2", "the dealer ran a computing party's step")
    }

    /// Counts one operation that uses dealer material: a computing party
    /// reading a preprocessing file fails here when the file has no
    /// material left.
    pub(super) fn use_material(&mut self, op_name: &'static str) -> Result<()> {
        match &mut self.material {
            Material::Reading(r) => r.use_op(op_name),
            Material::Writing(w) => {
                w.count_op();
                Ok(())
            }
            Material::Live => Ok(()),
        }
    }

    /// Party 1 receives `len` elements of dealer material for the current
    /// round (party 0 never does: its material comes from its seed).
    pub(super) fn recv_material<T: RingElement>(
        &mut self,
        len: usize,
        op_name: &'static str,
    ) -> Result<Vec<T>> {
        let rounds = self.net.stats().rounds;
        let v = match &mut self.material {
            Material::Live => self.net.recv_elems::<T>(DEALER, len)?,
            Material::Reading(r) => r.next_elems::<T>(rounds, len, op_name)?,
            Material::Writing(_) => return Err(self.not_for_dealer()),
        };
        self.offline.0 += (len * T::BYTES) as u64;
        self.offline.1 += 1;
        Ok(v)
    }

    /// The dealer sends party 1 its material for the current round.
    pub(super) fn send_material<T: RingElement>(&mut self, v: Vec<T>) -> Result<()> {
        let bytes = (v.len() * T::BYTES) as u64;
        let round = self.net.stats().rounds;
        match &mut self.material {
            Material::Live => self.net.send_elems(1, v)?,
            Material::Writing(w) => w.push(round, T::into_payload(v))?,
            Material::Reading(_) => {
                return Err(Error::internal("mpc2", "a computing party dealt material"));
            }
        }
        self.offline.0 += bytes;
        self.offline.1 += 1;
        Ok(())
    }

    /// Sends `mine` to the other party and returns what it sent back.
    pub(super) fn exchange<T: RingElement>(&mut self, mine: Vec<T>) -> Result<Vec<T>> {
        let peer = self.peer();
        let n = mine.len();
        self.net.send_elems(peer, mine)?;
        self.net.recv_elems::<T>(peer, n)
    }

    /// Opens a value both parties hold additive shares of: returns the sum.
    pub(super) fn open<T: RingElement>(&mut self, mine: &[T]) -> Result<Vec<T>> {
        let mut sum = self.exchange(mine.to_vec())?;
        for (s, m) in sum.iter_mut().zip(mine) {
            *s = s.wrapping_add(m);
        }
        Ok(sum)
    }

    /// Private input of `n` elements by computing party `owner` (0
    /// communication): both derive ρ from k_01, the owner keeps x − ρ, the
    /// other party ρ. Returns this party's share; the dealer gets an empty
    /// vector.
    ///
    /// # Security
    ///
    /// The other party's share ρ is independent of x; the owner knows x.
    pub fn input<T: RingElement>(
        &mut self,
        owner: PartyId,
        value: Option<&[T]>,
        n: usize,
    ) -> Result<Vec<T>> {
        check_owner(owner)?;
        let op = self.next_op();
        let me = match self.role {
            Role::Dealer => return Ok(Vec::new()),
            Role::Compute(me) => me,
        };
        let rho: Vec<T> = self.peer_key()?.elems(op, super::sub::INPUT, n);
        if me != owner {
            return Ok(rho);
        }
        let value = value.ok_or(Error::MissingValue {
            party: owner,
            what: "input",
        })?;
        if value.len() != n {
            return Err(Error::ShapeMismatch {
                op: "input",
                left: vec![value.len()],
                right: vec![n],
            });
        }
        Ok(value
            .iter()
            .zip(&rho)
            .map(|(x, r)| x.wrapping_sub(r))
            .collect())
    }

    /// Fresh shares of the same value (0 communication): party 0 adds ρ from
    /// k_01, party 1 subtracts it.
    pub fn reshare<T: RingElement>(&mut self, mut share: Vec<T>) -> Result<Vec<T>> {
        let op = self.next_op();
        if let Role::Compute(me) = self.role {
            let rho: Vec<T> = self.peer_key()?.elems(op, super::sub::RESHARE, share.len());
            for (s, r) in share.iter_mut().zip(&rho) {
                *s = if me == 0 {
                    s.wrapping_add(r)
                } else {
                    s.wrapping_sub(r)
                };
            }
        }
        Ok(share)
    }

    /// Reveals to both parties (one round); the dealer takes part in the
    /// round's numbering only and gets `None`.
    pub fn reveal<T: RingElement>(&mut self, share: &[T]) -> Result<Option<Vec<T>>> {
        self.next_op();
        self.net.begin_round("reveal");
        match self.role {
            Role::Dealer => Ok(None),
            Role::Compute(_) => Ok(Some(self.open(share)?)),
        }
    }

    /// Reveals to computing party `to` only: the other sends its share.
    pub fn reveal_to<T: RingElement>(
        &mut self,
        to: PartyId,
        share: &[T],
    ) -> Result<Option<Vec<T>>> {
        check_owner(to)?;
        self.next_op();
        self.net.begin_round("reveal_to");
        match self.role {
            Role::Compute(me) if me == to => {
                let mut v = self.net.recv_elems::<T>(1 - to, share.len())?;
                for (s, m) in v.iter_mut().zip(share) {
                    *s = s.wrapping_add(m);
                }
                Ok(Some(v))
            }
            Role::Compute(_) => {
                self.net.send_elems(to, share.to_vec())?;
                Ok(None)
            }
            Role::Dealer => Ok(None),
        }
    }

    /// Public bytes from computing party `from` to the other party and the
    /// dealer (one round): the shapes a job announces decide how much
    /// material the dealer deals, so it needs them; nothing secret may go
    /// through here.
    ///
    /// Ahead of time ([`crate::mpc2::prep`]) the dealer was given the
    /// announcements before the run: a dealer writing files takes the next
    /// one from the public description; a party reading a file sends its
    /// announcement to the other party only, and both check it against the
    /// one the material was dealt for (the announcer before it sends, the
    /// other party on receipt), so material dealt for other shapes is
    /// refused before it is used.
    pub fn announce(&mut self, from: PartyId, data: Option<&[u8]>) -> Result<Vec<u8>> {
        check_owner(from)?;
        self.next_op();
        self.net.begin_round("announce");
        let me = self.net.me();
        if let Material::Writing(w) = &mut self.material {
            return w.next_announcement(from);
        }
        if me == from {
            let data = data.ok_or(Error::MissingValue {
                party: from,
                what: "announcement",
            })?;
            if let Material::Reading(r) = &mut self.material {
                r.check_announcement(from, data)?;
            }
            self.net.send(1 - from, Payload::Bytes(data.to_vec()))?;
            if self.dealer_is_live() {
                self.net.send(DEALER, Payload::Bytes(data.to_vec()))?;
            }
            Ok(data.to_vec())
        } else {
            let got = self.net.recv_any_bytes(from, MAX_ANNOUNCE)?;
            if let Material::Reading(r) = &mut self.material {
                r.check_announcement(from, &got)?;
            }
            Ok(got)
        }
    }

    /// The bytes computing party `from`'s next announcement was fixed to
    /// ahead of time (a party reading a preprocessing file dealt for a
    /// public description), if any: a value the job would otherwise draw at
    /// run time, such as a model id, is then the one dealt for.
    pub fn announced_ahead(&self, from: PartyId) -> Option<Vec<u8>> {
        match &self.material {
            Material::Reading(r) => r.peek_announcement(from).map(<[u8]>::to_vec),
            _ => None,
        }
    }

    /// Exchanges a 32-byte digest with the other party and compares (one
    /// round). Additive shares carry no redundancy, so what two parties
    /// can check is that they agree on `digest` (a model's id and layout).
    pub fn check_agreement(&mut self, digest: Vec<u8>) -> Result<()> {
        self.next_op();
        self.net.begin_round("share agreement check");
        if self.role == Role::Dealer {
            return Ok(());
        }
        let peer = self.peer();
        let len = digest.len();
        self.net.send(peer, Payload::Bytes(digest.clone()))?;
        let got = self.net.recv_bytes(peer, len)?;
        if got != digest {
            return Err(Error::InconsistentShares { party: peer });
        }
        Ok(())
    }
}

/// Fails unless `p` is a computing party.
pub(crate) fn check_owner(p: PartyId) -> Result<()> {
    crate::cost::Protocol::Additive2.check_party(p)
}

fn recv_seed(net: &mut Net, from: PartyId) -> Result<Seed> {
    let got = net.recv_bytes(from, 16)?;
    let mut b = [0u8; 16];
    b.copy_from_slice(&got);
    Ok(Seed::from_bytes(b))
}
