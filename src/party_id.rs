//! Who is who among the computing parties.
//!
//! This sits below every other module (the transport included) so that
//! `net` can name parties without knowing about domains or protocols.

/// Index of one of the three parties: 0, 1 or 2.
pub type PartyId = usize;

/// The number of computing parties of the replicated protocol.
pub const PARTIES: usize = 3;
