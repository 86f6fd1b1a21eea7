//! One party's protocol engine: its links, its keys, and the operations that
//! communicate.

use crate::error::{Error, Result};
use crate::net::Net;
use crate::ring::RingElement;
use crate::ring::prg::Seed;

use super::keys::PairKeys;

/// One of the three parties: links to its neighbours, PRF keys shared with
/// them, and an operation counter that indexes the keystreams.
///
/// Every method is SPMD: all three parties call it with the same public
/// arguments (shapes, owner ids, bit counts) in the same order.
#[derive(Debug)]
pub struct Party {
    pub(crate) net: Net,
    pub(crate) keys: PairKeys,
    op: u64,
    /// The operation whose XOR zero-sharing the last AND round added (for
    /// a negative control of the test builds; see [`crate::ring::audit`]).
    #[cfg(feature = "audit-keystreams")]
    last_and_zero_op: Option<u64>,
}

/// Sub-stream numbers within one operation (see [`PrfKey::stream`](crate::ring::prg::PrfKey::stream)).
pub(crate) mod sub {
    pub const SHARE: u8 = 0;
    pub const ZERO: u8 = 1;
}

/// Largest public announcement accepted (16 MiB).
const MAX_ANNOUNCE: usize = 16 << 20;

/// dst += src, elementwise.
pub(super) fn add_into<T: RingElement>(dst: &mut [T], src: &[T]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d = d.wrapping_add(s);
    }
}

impl Party {
    /// Sets up PRF keys with the neighbours (one round; not counted in the
    /// statistics afterwards). `seed` is this party's seed for the link to its
    /// successor; use [`Seed::random`] outside tests.
    pub fn new(mut net: Net, seed: Seed) -> Result<Self> {
        let keys = PairKeys::setup(&mut net, seed)?;
        net.reset_stats();
        Ok(Party {
            net,
            keys,
            op: 0,
            #[cfg(feature = "audit-keystreams")]
            last_and_zero_op: None,
        })
    }

    /// This party's id.
    pub fn me(&self) -> usize {
        self.net.me()
    }

    /// The transport.
    pub fn net(&self) -> &Net {
        &self.net
    }

    /// The record of every keystream this party opened (test builds only:
    /// feature `audit-keystreams`, see [`crate::ring::audit`]).
    #[cfg(feature = "audit-keystreams")]
    pub fn keystream_log(&self) -> Option<std::sync::Arc<crate::ring::audit::KeystreamLog>> {
        self.keys.keystream_log()
    }

    /// Advances and returns the operation counter.
    pub(crate) fn next_op(&mut self) -> u64 {
        self.op += 1;
        self.op
    }

    /// The operation whose XOR zero-sharing the AND round of operation `op`
    /// adds: `op` itself. Under the negative control
    /// [`CompareReusesZeroSharing`](crate::ring::audit::NegativeControl::CompareReusesZeroSharing)
    /// of the test builds, the one the previous AND round added.
    #[inline(always)]
    pub(crate) fn and_round_zero_op(&mut self, op: u64) -> u64 {
        #[cfg(feature = "audit-keystreams")]
        {
            use crate::ring::audit::{NegativeControl, broken};
            let reused = self
                .last_and_zero_op
                .filter(|_| broken(NegativeControl::CompareReusesZeroSharing));
            let zero_op = reused.unwrap_or(op);
            self.last_and_zero_op = Some(zero_op);
            zero_op
        }
        #[cfg(not(feature = "audit-keystreams"))]
        op
    }

    /// Adds this party's part of a fresh zero-sharing to `v` in place,
    /// reading the two keystreams in cache-sized chunks.
    pub(crate) fn add_zero_share<T: RingElement>(&self, op: u64, v: &mut [T]) {
        let (mut p, mut q) = (
            self.keys.prev.stream(op, sub::ZERO),
            self.keys.next.stream(op, sub::ZERO),
        );
        let len = v.len().min(1024);
        let (mut bp, mut bq) = (vec![T::zero(); len], vec![T::zero(); len]);
        for c in v.chunks_mut(1024) {
            let k = c.len();
            p.fill(&mut bp[..k]);
            q.fill(&mut bq[..k]);
            for ((x, u), w) in c.iter_mut().zip(&bp[..k]).zip(&bq[..k]) {
                *x = x.wrapping_add(u).wrapping_sub(w);
            }
        }
    }

    /// Private input of `n` elements by `owner`. The owner passes
    /// `Some(value)`; the others pass `None`. One round.
    ///
    /// # Security
    ///
    /// Two shares come from the keys the owner shares with each neighbour;
    /// the third, value minus the two, goes to both neighbours. Each
    /// neighbour misses one PRF share, so its view is uniformly random.
    pub fn input<T: RingElement>(
        &mut self,
        owner: usize,
        value: Option<&[T]>,
        n: usize,
    ) -> Result<(Vec<T>, Vec<T>)> {
        if owner > 2 {
            return Err(Error::InvalidParty(owner));
        }
        let op = self.next_op();
        self.net.begin_round("input");
        // `n` may come from the owner's announcement: nothing of that size
        // is allocated until the owner has sent a frame of exactly `n`
        // elements.
        self.input_round(op, owner, value.map(|v| v.iter().copied()), n)
    }

    /// The input protocol's messages. A receiver draws its PRF share of
    /// `n` elements only once a frame of exactly `n` elements has arrived
    /// (`n` may come from another party's announcement).
    fn input_round<T: RingElement>(
        &mut self,
        op: u64,
        owner: usize,
        value: Option<impl ExactSizeIterator<Item = T>>,
        n: usize,
    ) -> Result<(Vec<T>, Vec<T>)> {
        let me = self.me();
        if me == owner {
            let value = value.ok_or(Error::MissingValue {
                party: me,
                what: "input",
            })?;
            if value.len() != n {
                return Err(Error::ShapeMismatch {
                    op: "input",
                    left: vec![value.len()],
                    right: vec![n],
                });
            }
            let a: Vec<T> = self.keys.prev.elems(op, sub::SHARE, n);
            let b: Vec<T> = self.keys.next.elems(op, sub::SHARE, n);
            let third: Vec<T> = value
                .zip(a.iter().zip(&b))
                .map(|(v, (x, y))| v.wrapping_sub(x).wrapping_sub(y))
                .collect();
            let (nx, pv) = (self.net.next_id(), self.net.prev_id());
            self.net.send_elems(nx, third.clone())?;
            self.net.send_elems(pv, third)?;
            Ok((a, b))
        } else if me == (owner + 1) % 3 {
            let b = self.net.recv_elems(owner, n)?;
            Ok((self.keys.prev.elems(op, sub::SHARE, n), b))
        } else {
            let a = self.net.recv_elems(owner, n)?;
            let b: Vec<T> = self.keys.next.elems(op, sub::SHARE, n);
            Ok((a, b))
        }
    }

    /// Reveals to every party: each sends its first share to its successor.
    pub fn reveal<T: RingElement>(&mut self, a: &[T], b: &[T]) -> Result<Vec<T>> {
        self.next_op();
        self.net.begin_round("reveal");
        let (nx, pv) = (self.net.next_id(), self.net.prev_id());
        self.net.send_elems(nx, a.to_vec())?;
        let mut missing = self.net.recv_elems::<T>(pv, a.len())?;
        add_into(&mut missing, a);
        add_into(&mut missing, b);
        Ok(missing)
    }

    /// Reveals to party `to` only: its predecessor sends it the missing share.
    pub fn reveal_to<T: RingElement>(
        &mut self,
        to: usize,
        a: &[T],
        b: &[T],
    ) -> Result<Option<Vec<T>>> {
        if to > 2 {
            return Err(Error::InvalidParty(to));
        }
        self.next_op();
        self.net.begin_round("reveal_to");
        let me = self.me();
        if me == (to + 2) % 3 {
            self.net.send_elems(to, a.to_vec())?;
            Ok(None)
        } else if me == to {
            let mut missing = self.net.recv_elems::<T>((to + 2) % 3, a.len())?;
            add_into(&mut missing, a);
            add_into(&mut missing, b);
            Ok(Some(missing))
        } else {
            Ok(None)
        }
    }

    /// Public bytes from `from` to the other two parties (one round).
    pub fn announce(&mut self, from: usize, data: Option<&[u8]>) -> Result<Vec<u8>> {
        if from > 2 {
            return Err(Error::InvalidParty(from));
        }
        self.next_op();
        self.net.begin_round("announce");
        if self.me() == from {
            let data = data.ok_or(Error::MissingValue {
                party: from,
                what: "announcement",
            })?;
            let (nx, pv) = (self.net.next_id(), self.net.prev_id());
            self.net
                .send(nx, crate::ring::Payload::Bytes(data.to_vec()))?;
            self.net
                .send(pv, crate::ring::Payload::Bytes(data.to_vec()))?;
            Ok(data.to_vec())
        } else {
            self.net.recv_any_bytes(from, MAX_ANNOUNCE)
        }
    }

    /// Agreement check between neighbours: sends `digest_b` (of this party's
    /// second shares) to the successor and compares the predecessor's digest
    /// with `digest_a` (of this party's first shares, the same share index).
    /// A mismatch means the parties' shares do not belong together.
    pub fn check_agreement(&mut self, digest_a: Vec<u8>, digest_b: Vec<u8>) -> Result<()> {
        self.next_op();
        self.net.begin_round("share agreement check");
        let (nx, pv) = (self.net.next_id(), self.net.prev_id());
        let len = digest_a.len();
        self.net.send(nx, crate::ring::Payload::Bytes(digest_b))?;
        let got = self.net.recv_bytes(pv, len)?;
        if got != digest_a {
            return Err(Error::InconsistentShares { party: pv });
        }
        Ok(())
    }

    /// Turns this party's additive share `z` (the three parties' `z` sum to
    /// the secret) into a replicated share, re-randomised by a zero-sharing:
    /// one element to the predecessor. This finishes an integer product (see
    /// [`product`](super::product)) and is a `reshare` when `z` is the first
    /// share of a replicated value.
    pub fn additive_to_replicated<T: RingElement>(
        &mut self,
        z: Vec<T>,
        op_name: &'static str,
    ) -> Result<(Vec<T>, Vec<T>)> {
        let op = self.next_op();
        self.net.begin_round(op_name);
        self.additive_to_replicated_messages(op, z)
    }

    /// The messages of [`additive_to_replicated`](Self::additive_to_replicated)
    /// within a round that is already open, with the zero-sharing of
    /// operation `op`.
    pub(crate) fn additive_to_replicated_messages<T: RingElement>(
        &mut self,
        op: u64,
        mut z: Vec<T>,
    ) -> Result<(Vec<T>, Vec<T>)> {
        self.add_zero_share(op, &mut z);
        let (nx, pv) = (self.net.next_id(), self.net.prev_id());
        let n = z.len();
        self.net.send_elems(pv, z.clone())?;
        let b = self.net.recv_elems::<T>(nx, n)?;
        Ok((z, b))
    }
}
