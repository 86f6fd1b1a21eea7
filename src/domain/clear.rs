//! What the two plaintext domains share: they play all parties at once, so
//! every private input and announcement must be given, and they predict
//! from [`CostModel`] the communication a secure run of the same program
//! would need, for the protocol they are set to ([`Protocol`]: three
//! parties, or two with a dealer, where party 2 holds no data).

use ndarray::ArrayD;

use super::{PartyId, Tracker};
use crate::cost::{CostModel, Op, Protocol};
use crate::error::{Error, Result};
use crate::tensor;

/// The tracker and cost model of a plaintext domain, and the operations
/// whose checks and accounting do not depend on how values are represented.
#[derive(Debug, Clone)]
pub(crate) struct Clear {
    pub(crate) tracker: Tracker,
    model: CostModel,
}

impl Clear {
    /// Predicting costs for ring elements of `elem_bytes` bytes.
    pub(crate) fn new(elem_bytes: u64) -> Self {
        Clear {
            tracker: Tracker::default(),
            model: CostModel::new(elem_bytes),
        }
    }

    /// Predicts costs for ring elements of `elem_bytes` bytes from now on.
    pub(crate) fn set_elem_bytes(&mut self, elem_bytes: u64) {
        self.model = CostModel::for_protocol(self.model.protocol, elem_bytes);
    }

    /// Predicts the costs of `protocol` from now on (and checks party ids
    /// against its parties).
    pub(crate) fn set_protocol(&mut self, protocol: Protocol) {
        self.model = CostModel::for_protocol(protocol, self.model.elem_bytes);
        self.tracker.cost.protocol = protocol;
    }

    /// What party `owner` gave: the plaintext domain is every party, so it
    /// needs every owner's value.
    fn given<'v, V: ?Sized>(
        &self,
        owner: PartyId,
        value: Option<&'v V>,
        what: &'static str,
    ) -> Result<&'v V> {
        self.model.protocol.check_party(owner)?;
        value.ok_or(Error::MissingValue { party: owner, what })
    }

    /// Bits of the ring whose costs are predicted.
    pub(crate) fn ring_bits(&self) -> u32 {
        (self.model.elem_bytes * 8) as u32
    }

    /// Counts `n` elements of `op` with their predicted communication.
    pub(crate) fn account(&mut self, op: Op, n: usize) {
        self.tracker.cost.predict(&self.model, op, n);
    }

    /// Counts a product with `n` outputs and `operands` operand elements.
    pub(crate) fn account_product(&mut self, op: Op, n: usize, operands: usize) {
        self.tracker
            .cost
            .predict_product(&self.model, op, n, operands);
    }

    /// A private input: checks the owner, that the value is there and has
    /// `shape`, converts it with `convert` and counts it.
    pub(crate) fn input<X>(
        &mut self,
        owner: PartyId,
        value: Option<&ArrayD<f64>>,
        shape: &[usize],
        convert: impl FnOnce(&ArrayD<f64>) -> Result<X>,
    ) -> Result<X> {
        self.tracker.begin_op();
        let value = self.given(owner, value, "input")?;
        tensor::check_same("input", value.shape(), shape)?;
        let x = convert(value)?;
        self.account(Op::Input { owner }, value.len());
        Ok(x)
    }

    /// Counts an operation that moves `n` elements and is a copy in the
    /// clear (`reveal`, `reveal_to`, `reshare`), after checking any party
    /// it names.
    pub(crate) fn pass_through(&mut self, op: Op, n: usize) -> Result<()> {
        self.tracker.begin_op();
        if let Op::RevealTo { to: p } = op {
            self.model.protocol.check_party(p)?;
        }
        self.account(op, n);
        Ok(())
    }

    /// A public announcement (the data must be given).
    pub(crate) fn announce(&mut self, from: PartyId, data: Option<&[u8]>) -> Result<Vec<u8>> {
        self.tracker.begin_op();
        let data = self.given(from, data, "announcement")?;
        self.account(Op::Announce { from }, data.len());
        Ok(data.to_vec())
    }

    /// The share agreement check: nothing to check in the clear, but the
    /// same predicted cost.
    pub(crate) fn check_agreement(&mut self) -> Result<()> {
        self.tracker.begin_op();
        self.account(Op::Agreement, 0);
        Ok(())
    }
}
