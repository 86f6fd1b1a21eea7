//! Pairwise PRF keys.

use crate::error::Result;
use crate::net::Net;
use crate::ring::prg::{PrfKey, Seed};

/// The two PRF keys a party shares with its neighbours.
///
/// Party i draws the seed of the link (i, i+1) and sends it to party i+1;
/// so party i's `next` key is its own seed and its `prev` key is the one it
/// received. One round, 16 bytes per party.
#[derive(Debug, Clone)]
pub struct PairKeys {
    /// Shared with the successor.
    pub next: PrfKey,
    /// Shared with the predecessor.
    pub prev: PrfKey,
}

impl PairKeys {
    /// Runs the key set-up over `net`. `seed` is this party's seed for the
    /// link to its successor (fresh from the OS unless a test fixes it).
    pub fn setup(net: &mut Net, seed: Seed) -> Result<Self> {
        net.begin_round("key set-up");
        let next = net.next_id();
        let prev = net.prev_id();
        net.send(
            next,
            crate::ring::Payload::Bytes(seed.expose_bytes().to_vec()),
        )?;
        let got = net.recv_bytes(prev, 16)?;
        let mut b = [0u8; 16];
        b.copy_from_slice(&got);
        let keys = PairKeys {
            next: PrfKey::new(&seed),
            prev: PrfKey::new(&Seed::from_bytes(b)),
        };
        #[cfg(feature = "audit-keystreams")]
        let keys = keys.audited(net.me());
        Ok(keys)
    }

    /// The same keys, recording every keystream they open in one new
    /// log for party `me` (test builds; see [`crate::ring::audit`]).
    #[cfg(feature = "audit-keystreams")]
    fn audited(self, me: usize) -> Self {
        let log = crate::ring::audit::new_log(format!("party {me}"));
        PairKeys {
            next: self.next.audited(
                &format!("key shared with party {}", (me + 1) % 3),
                log.clone(),
            ),
            prev: self
                .prev
                .audited(&format!("key shared with party {}", (me + 2) % 3), log),
        }
    }

    /// The log the keys record into (test builds only).
    #[cfg(feature = "audit-keystreams")]
    pub fn keystream_log(&self) -> Option<std::sync::Arc<crate::ring::audit::KeystreamLog>> {
        self.next.log()
    }
}
