//! Per-element linear relations between one party's view and the secret.
//!
//! The byte and bit statistics of the parent module look at each value of
//! a view on its own. Reusing a mask or a keystream does not change how any
//! single message looks: it makes messages *related*. This module searches
//! for such relations directly.
//!
//! # What is searched
//!
//! The view is a list of vectors aligned element by element with the
//! secret x (n elements): every message the party received whose length is
//! a multiple of n (a message of k·n elements, such as the truncation
//! dealer's two halves, counts as k vectors) and the party's shares of the
//! outputs of n elements. Duplicates are dropped. For every subset of at
//! most [`MAX_TERMS`] vectors, every choice of coefficients c_j in
//! {−2, −1, 1, 2} and every multiple m in {1, 2}, the search asks whether
//!
//! > Σ_j c_j · v_j[e] − m · x[e]   (in Z_2^64)
//!
//! is the same value at every element e: the secret, up to a public
//! constant such as the truncation's offset 2^62. It is decided on the
//! differences to element 0 at four probe elements (2^−256 chance of a false
//! candidate), then confirmed at all n.
//!
//! # Why this catches mask reuse
//!
//! A keystream read twice puts one mask r into two values: a + r and b ± r
//! cancel in their difference or sum (coefficients ±1), and a share drawn
//! twice from one stream appears twice in one value (x − r − r: coefficient
//! 2). What is left is a combination of values the party holds (its own
//! shares, a revealed share), which the subset includes: up to four terms
//! cover two masked messages and two shares. With fresh masks, every
//! combination contains a mask the party does not know and is uniform at
//! every element, so the search finds nothing.
//!
//! Not covered: larger coefficients or more terms, non-linear relations,
//! and messages not aligned with the secret (the bit planes of the
//! comparisons). The keystream record (`privml::ring::audit`) covers those.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use privml::mpc::Replicated;
use privml::net::{Channel, ChannelError, Frame, memory};
use privml::ring::Payload;
use privml::ring::audit::ScopeHandle;
use privml::{Shared, SharedConfig};

/// The most vectors one combination uses.
pub const MAX_TERMS: usize = 4;

const COEFFS: [i64; 4] = [-2, -1, 1, 2];
const PROBES: [usize; 4] = [1, 2, 3, 5];

/// A relation found: Σ coefficient · view[index] = multiple · x + offset at
/// every element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    /// (index into the deduplicated view, coefficient).
    pub terms: Vec<(usize, i64)>,
    /// The multiple of the secret.
    pub multiple: i64,
    /// The public constant.
    pub offset: u64,
}

fn times(c: i64, v: u64) -> u64 {
    v.wrapping_mul(c as u64)
}

/// The distinct vectors of `view` of `n` elements (longer ones split).
pub fn aligned(view: &[Vec<u64>], n: usize) -> Vec<Vec<u64>> {
    let mut out: Vec<Vec<u64>> = Vec::new();
    for v in view {
        if v.is_empty() || v.len() % n != 0 {
            continue;
        }
        for chunk in v.chunks(n) {
            if !out.iter().any(|o| o.as_slice() == chunk) {
                out.push(chunk.to_vec());
            }
        }
    }
    out
}

/// Searches `views` (each of `secret.len()` elements) for a relation to
/// the secret as described in the [module docs](self).
pub fn find_relation(views: &[Vec<u64>], secret: &[u64]) -> Option<Relation> {
    let n = secret.len();
    assert!(
        n > *PROBES.iter().max().expect("probes"),
        "too few elements"
    );
    for v in views {
        assert_eq!(v.len(), n, "views must be aligned with the secret");
    }
    let diff = |v: &[u64], e: usize| v[e].wrapping_sub(v[0]);
    let probes: Vec<[u64; 4]> = views.iter().map(|v| PROBES.map(|e| diff(v, e))).collect();
    let target = PROBES.map(|e| diff(secret, e));
    let mut search = Search {
        views,
        secret,
        probes,
        target,
        idx: Vec::with_capacity(MAX_TERMS),
        coef: Vec::with_capacity(MAX_TERMS),
    };
    search.from(0, [0; 4])
}

/// Depth-first search over subsets (increasing indices) and coefficients,
/// with the running sums at the probes.
struct Search<'a> {
    views: &'a [Vec<u64>],
    secret: &'a [u64],
    probes: Vec<[u64; 4]>,
    target: [u64; 4],
    idx: Vec<usize>,
    coef: Vec<i64>,
}

impl Search<'_> {
    /// The current terms as a relation with multiple `m`, if it holds at
    /// every element.
    fn confirm(&self, m: i64) -> Option<Relation> {
        let at = |e: usize| -> u64 {
            let s = self.idx.iter().zip(&self.coef).fold(0u64, |s, (&j, &c)| {
                s.wrapping_add(times(c, self.views[j][e]))
            });
            s.wrapping_sub(times(m, self.secret[e]))
        };
        let offset = at(0);
        (1..self.secret.len())
            .all(|e| at(e) == offset)
            .then(|| Relation {
                terms: self
                    .idx
                    .iter()
                    .copied()
                    .zip(self.coef.iter().copied())
                    .collect(),
                multiple: m,
                offset,
            })
    }

    /// The first relation among the current terms plus terms from `from`
    /// on; `acc` holds the current terms' sums at the probes.
    fn from(&mut self, from: usize, acc: [u64; 4]) -> Option<Relation> {
        if !self.idx.is_empty() {
            for m in [1i64, 2] {
                let at_probes = (0..4).all(|p| acc[p] == times(m, self.target[p]));
                if let Some(r) = at_probes.then(|| self.confirm(m)).flatten() {
                    return Some(r);
                }
            }
        }
        if self.idx.len() == MAX_TERMS {
            return None;
        }
        for j in from..self.probes.len() {
            for c in COEFFS {
                let mut next = acc;
                for (n, q) in next.iter_mut().zip(self.probes[j]) {
                    *n = n.wrapping_add(times(c, q));
                }
                self.idx.push(j);
                self.coef.push(c);
                let found = self.from(j + 1, next);
                self.idx.pop();
                self.coef.pop();
                if found.is_some() {
                    return found;
                }
            }
        }
        None
    }
}

/// A channel that keeps every Z_2^64 message it receives, as a vector.
struct Keep<C> {
    inner: C,
    seen: Arc<Mutex<Vec<Vec<u64>>>>,
}

impl<C: Channel> Channel for Keep<C> {
    fn send(&mut self, frame: Frame) -> Result<(), ChannelError> {
        self.inner.send(frame)
    }
    fn recv(&mut self, timeout: Duration) -> Result<Frame, ChannelError> {
        let f = self.inner.recv(timeout)?;
        if let Payload::U64(v) = &f.payload {
            self.seen.lock().expect("lock").push(v.clone());
        }
        Ok(f)
    }
}

/// One party's view as vectors: the Z_2^64 messages it received and its
/// two shares of every output.
#[derive(Debug, Default)]
pub struct View {
    /// Every message received, in order.
    pub received: Vec<Vec<u64>>,
    /// The party's shares of the outputs (a, b per output).
    pub held: Vec<Vec<u64>>,
}

impl View {
    /// Everything, received first.
    pub fn all(&self) -> Vec<Vec<u64>> {
        self.received.iter().chain(&self.held).cloned().collect()
    }
}

/// Runs `program` on three in-process parties (in the caller's audit
/// scope, so negative controls apply) and returns each party's view.
pub fn views<F>(cfg: &SharedConfig, program: F) -> [View; 3]
where
    F: Fn(&mut Shared<u64>) -> privml::Result<Vec<Replicated<u64>>> + Sync,
{
    let links = memory::triangle();
    let scope = ScopeHandle::current();
    let out: Vec<View> = std::thread::scope(|s| {
        let handles: Vec<_> = links
            .into_iter()
            .enumerate()
            .map(|(me, (next, prev))| {
                let program = &program;
                let scope = scope.clone();
                s.spawn(move || {
                    let _audit = scope.enter();
                    let seen = Arc::new(Mutex::new(Vec::new()));
                    let next = Keep {
                        inner: next,
                        seen: seen.clone(),
                    };
                    let prev = Keep {
                        inner: prev,
                        seen: seen.clone(),
                    };
                    let mut r = Shared::<u64>::new(me, Box::new(next), Box::new(prev), cfg)
                        .expect("key set-up");
                    let outs = program(&mut r).expect("party run");
                    let held = outs
                        .iter()
                        .flat_map(|t| {
                            let (a, b) = t.expose_shares();
                            [a.iter().copied().collect(), b.iter().copied().collect()]
                        })
                        .collect();
                    let received = std::mem::take(&mut *seen.lock().expect("lock"));
                    View { received, held }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("party thread"))
            .collect()
    });
    out.try_into().expect("three views")
}

#[test]
fn finds_a_planted_relation_and_nothing_in_noise() {
    use privml::ring::prg::{AesPrg, Seed};
    let mut g = AesPrg::new(&Seed::from_u64(5));
    let n = 64;
    let x: Vec<u64> = g.vec(n);
    let noise: Vec<Vec<u64>> = (0..8).map(|_| g.vec(n)).collect();
    assert_eq!(find_relation(&noise, &x), None);
    // x = v3 + 2·v5 - v1 + 7 (a reused mask of coefficient 2, and an offset)
    let mut planted = noise.clone();
    planted.push(
        (0..n)
            .map(|e| {
                x[e].wrapping_sub(noise[3][e])
                    .wrapping_sub(noise[5][e].wrapping_mul(2))
                    .wrapping_add(noise[1][e])
                    .wrapping_add(7)
            })
            .collect(),
    );
    let r = find_relation(&planted, &x).expect("planted relation");
    assert_eq!(r.multiple, 1);
    assert_eq!(r.offset, 7);
    assert_eq!(r.terms, vec![(1, -1), (3, 1), (5, 2), (8, 1)]);
}
