//! The insecure reference: updates sent and summed in the clear, through
//! the same envelope, checks and accounting as the secure methods.

use super::aggregate::{AggregationRound, AggregationScheme, Intake, OpenedSum, refusal};
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

/// The cleartext reference as an [`AggregationScheme`]: clients send
/// [`plain_update`]s to one trusted [`PlainRound`]. **No privacy**: it is
/// what the secure methods are measured against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Cleartext;

impl AggregationScheme for Cleartext {
    type Round = PlainRound;

    /// One message: [`plain_update`].
    fn protect(&self, meta: UpdateMeta, update: &[f64]) -> Result<Vec<Vec<u8>>> {
        Ok(vec![plain_update(meta, update)?])
    }

    fn start_round(&self, round: u32, len: usize) -> Result<PlainRound> {
        Ok(PlainRound::new(round, len))
    }

    /// 0: the sum is computed in f64 on the updates themselves.
    fn sum_tolerance(&self, _clients: usize) -> f64 {
        0.0
    }
}

/// A trusted server that sums plaintext updates: the reference the secure
/// methods are measured against.
#[derive(Debug)]
pub struct PlainRound {
    round: u32,
    sum: Vec<f64>,
    intake: Intake,
}

impl PlainRound {
    /// An empty round for updates of `len` values.
    pub fn new(round: u32, len: usize) -> Self {
        PlainRound {
            round,
            sum: vec![0.0; len],
            intake: Intake::default(),
        }
    }

    /// The weighted sum so far.
    pub fn sum(&self) -> &[f64] {
        &self.sum
    }
}

impl AggregationRound for PlainRound {
    /// The trusted server holds the sum in the clear.
    type Opener = ();

    /// Checks and adds a submission, exactly one message (same refusals as
    /// the secure methods).
    fn submit(&mut self, client: ClientId, messages: &[&[u8]]) -> Result<()> {
        let (h, body) = self.intake.receive(
            "the cleartext reference",
            messages,
            (Kind::Plain, self.round),
            client,
        )?;
        let reject = refusal(client);
        if h.len != self.sum.len() as u64 || body.len() != 8 * self.sum.len() {
            return Err(reject(Rejection::WrongLength {
                expected: self.sum.len(),
                got: body.len() / 8,
            }));
        }
        self.intake.check_new(client)?;
        for (acc, w) in self.sum.iter_mut().zip(body.chunks_exact(8)) {
            let mut a = [0u8; 8];
            a.copy_from_slice(w);
            *acc += f64::from_le_bytes(a);
        }
        self.intake.accept(client, h.weight);
        Ok(())
    }

    fn accepted(&self) -> &[(ClientId, u32)] {
        &self.intake.accepted
    }

    fn bytes_from_clients(&self) -> &[u64] {
        std::slice::from_ref(&self.intake.bytes_in)
    }

    /// The sum as it is: the server saw every update anyway.
    fn open(self, _: &()) -> Result<OpenedSum> {
        let total_weight = self.total_weight();
        Ok(OpenedSum {
            sum: self.sum,
            accepted: self.intake.accepted,
            total_weight,
            bytes_from_clients: vec![self.intake.bytes_in],
            bytes_server_out: vec![0],
        })
    }
}
