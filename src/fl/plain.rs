//! The insecure reference: updates sent and summed in the clear, through
//! the same envelope, checks and accounting as the secure methods.

use super::wire::{self, Header, Kind};
use super::{ClientId, UpdateMeta};
use crate::error::{Error, Rejection, Result};

/// Client side of the reference: the weighted update as little-endian f64.
/// **No privacy**: the server sees the update.
pub fn plain_update(meta: UpdateMeta, update: &[f64]) -> Result<Vec<u8>> {
    let values = meta.weighted(update)?;
    if let Some((index, &value)) = update.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(Error::NonFinite { value, index });
    }
    let mut body = Vec::with_capacity(8 * values.len());
    for v in values.iter() {
        body.extend_from_slice(&v.to_le_bytes());
    }
    let header = Header::of_update(Kind::Plain, meta, 0, update.len());
    Ok(wire::encode(&header, &[&body]))
}

/// A trusted server that sums plaintext updates: the reference the secure
/// methods are measured against.
#[derive(Debug)]
pub struct PlainRound {
    round: u32,
    sum: Vec<f64>,
    accepted: Vec<(ClientId, u32)>,
    bytes_in: u64,
}

impl PlainRound {
    /// An empty round for updates of `len` values.
    pub fn new(round: u32, len: usize) -> Self {
        PlainRound {
            round,
            sum: vec![0.0; len],
            accepted: Vec::new(),
            bytes_in: 0,
        }
    }

    /// Checks and adds a submission (same refusals as the secure methods).
    pub fn submit(&mut self, client: ClientId, bytes: &[u8]) -> Result<()> {
        self.bytes_in += bytes.len() as u64;
        let reject = |reason| Error::UpdateRejected {
            client: client.to_string(),
            reason,
        };
        let (h, body) =
            wire::decode_submission(bytes, Kind::Plain, self.round, client.0).map_err(reject)?;
        if h.len != self.sum.len() as u64 || body.len() != 8 * self.sum.len() {
            return Err(reject(Rejection::WrongLength {
                expected: self.sum.len(),
                got: body.len() / 8,
            }));
        }
        if self.accepted.iter().any(|(c, _)| *c == client) {
            return Err(reject(Rejection::Duplicate));
        }
        for (acc, w) in self.sum.iter_mut().zip(body.chunks_exact(8)) {
            let mut a = [0u8; 8];
            a.copy_from_slice(w);
            *acc += f64::from_le_bytes(a);
        }
        self.accepted.push((client, h.weight));
        Ok(())
    }

    /// Number of accepted updates.
    pub fn count(&self) -> usize {
        self.accepted.len()
    }

    /// Bytes received so far.
    pub fn bytes_from_clients(&self) -> u64 {
        self.bytes_in
    }

    /// The accepted clients and their weights.
    pub fn accepted(&self) -> &[(ClientId, u32)] {
        &self.accepted
    }

    /// Σ weight_k.
    pub fn total_weight(&self) -> u64 {
        self.accepted.iter().map(|(_, w)| *w as u64).sum()
    }

    /// The weighted sum.
    pub fn sum(&self) -> &[f64] {
        &self.sum
    }
}
