//! The replicated share type.

use ndarray::ArrayD;

use crate::ring::RingElement;

/// This party's two shares of a secret tensor: `a` = x_i, `b` = x_{i+1}
/// for party i.
///
/// A share is a secret: `Debug` prints only the shape, and there is no
/// `Display`. Getting the value back requires all parties to run a reveal.
#[derive(Clone, PartialEq, Eq)]
pub struct Replicated<T> {
    /// x_i.
    pub(crate) a: ArrayD<T>,
    /// x_{i+1}.
    pub(crate) b: ArrayD<T>,
}

impl<T> std::fmt::Debug for Replicated<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Replicated(shape {:?}, <shares redacted>)",
            self.a.shape()
        )
    }
}

impl<T: RingElement> Replicated<T> {
    /// Builds a share pair; both halves must have the same shape.
    pub fn from_pair(a: ArrayD<T>, b: ArrayD<T>) -> Option<Self> {
        (a.shape() == b.shape()).then_some(Replicated { a, b })
    }

    /// The tensor's shape.
    pub fn shape(&self) -> &[usize] {
        self.a.shape()
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.a.len()
    }

    /// Whether the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.a.is_empty()
    }

    /// The raw share pair (x_i, x_{i+1}). Exposing it is how a party's view
    /// is inspected in privacy tests or saved to its own model file; it
    /// reveals nothing on its own.
    pub fn expose_shares(&self) -> (&ArrayD<T>, &ArrayD<T>) {
        (&self.a, &self.b)
    }
}
