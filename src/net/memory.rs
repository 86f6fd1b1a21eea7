//! In-memory channels: three parties as threads of one process.
//!
//! Frames move through `std::sync::mpsc` queues without being copied or
//! serialised (the payload vector changes owner), so what is measured is the
//! protocol, not a transport. Dropping an endpoint closes it: the peer's next
//! receive fails with [`ChannelError::Disconnected`] at once.
//!
//! # Examples
//!
//! ```
//! use privml::net::memory;
//!
//! // links[i] = (to next, to prev) for party i
//! let links = memory::triangle();
//! assert_eq!(links.len(), 3);
//! ```

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use super::{Channel, ChannelError, Expect, Frame, check_expected};

/// How long a receive polls before parking the thread.
const SPIN: Duration = Duration::from_micros(200);

/// One end of an in-memory link.
#[derive(Debug)]
pub struct MemoryChannel {
    tx: Sender<(Frame, Instant)>,
    rx: Receiver<(Frame, Instant)>,
}

impl Channel for MemoryChannel {
    fn send(&mut self, frame: Frame) -> Result<(), ChannelError> {
        self.tx
            .send((frame, Instant::now()))
            .map_err(|_| ChannelError::Disconnected)
    }

    fn recv(&mut self, timeout: Duration) -> Result<Frame, ChannelError> {
        self.recv_expecting(timeout, Expect::ANY).map(|(f, _)| f)
    }

    /// The frame and when it was sent (it reached this end at once).
    fn recv_expecting(
        &mut self,
        timeout: Duration,
        expect: Expect,
    ) -> Result<(Frame, Instant), ChannelError> {
        let (frame, sent) = self.recv_queued(timeout)?;
        check_expected(&frame, &expect)?;
        Ok((frame, sent))
    }
}

impl MemoryChannel {
    fn recv_queued(&mut self, timeout: Duration) -> Result<(Frame, Instant), ChannelError> {
        // Poll briefly, yielding the core, before parking the thread: a
        // protocol round between threads takes microseconds, and waking a
        // parked thread costs tens of them.
        let start = Instant::now();
        loop {
            match self.rx.try_recv() {
                Ok(f) => return Ok(f),
                Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                    return Err(ChannelError::Disconnected);
                }
                Err(std::sync::mpsc::TryRecvError::Empty) => {}
            }
            if start.elapsed() >= SPIN {
                break;
            }
            std::thread::yield_now();
        }
        match self
            .rx
            .recv_timeout(timeout.saturating_sub(start.elapsed()))
        {
            Ok(f) => Ok(f),
            Err(RecvTimeoutError::Timeout) => Err(ChannelError::Timeout),
            Err(RecvTimeoutError::Disconnected) => Err(ChannelError::Disconnected),
        }
    }
}

/// A connected pair of endpoints.
pub fn pair() -> (MemoryChannel, MemoryChannel) {
    let (tx_a, rx_b) = mpsc::channel();
    let (tx_b, rx_a) = mpsc::channel();
    (
        MemoryChannel { tx: tx_a, rx: rx_a },
        MemoryChannel { tx: tx_b, rx: rx_b },
    )
}

/// Links for three parties: element `i` is party `i`'s `(next, prev)`.
pub fn triangle() -> [(MemoryChannel, MemoryChannel); 3] {
    // link k connects party k (its "next") with party k+1 (its "prev")
    let (n0, p1) = pair();
    let (n1, p2) = pair();
    let (n2, p0) = pair();
    [(n0, p0), (n1, p1), (n2, p2)]
}
