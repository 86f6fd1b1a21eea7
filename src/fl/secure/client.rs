//! The client's side: an update encoded, split into replicated shares and
//! written as one message per server.

use super::super::UpdateMeta;
use super::super::wire::{self, FLAG_FIRST_SEED, FLAG_SECOND_SEED, Header, Kind, SEED_LEN};
use super::{ShareEncoding, ShareParams};
use crate::error::{Error, Result};
use crate::ring::audit::{NegativeControl, SeedStreams, broken};
use crate::ring::prg::{AesPrg, Seed};

/// Client side: encodes `update` (times `meta.weight`) in fixed point and
/// splits it into replicated shares with fresh operating-system randomness.
/// Returns the message for each server: `messages[i]` holds
/// (x_i, x_{i+1}) and goes to server i only.
///
/// # Security
///
/// x0 and x1 are uniform (AES-CTR keyed from the OS generator) and
/// x2 = x − x0 − x1, so each message, and each pair of shares a server
/// holds, is uniformly distributed whatever the update: a server that sees
/// one message learns the header (client, round, weight, length) and
/// nothing else. Two colluding servers learn the update.
///
/// # Examples
///
/// ```
/// use privml::fl::{AggregationRound, ClientId, MpcRound, ShareParams, UpdateMeta, share_update};
///
/// let params = ShareParams::default();
/// let mut round = MpcRound::new(1, 3, params)?;
/// for (k, update) in [[0.5, -1.0, 2.0], [1.5, 0.0, -2.0]].iter().enumerate() {
///     let client = ClientId(k as u32);
///     let messages = share_update(&params, UpdateMeta::new(client, 1, 1), update)?;
///     round.submit(client, &[&messages[0], &messages[1], &messages[2]])?;
/// }
/// let sum = round.open(&())?; // the one disclosure: the aggregate
/// let mean = sum.mean()?;
/// assert!((mean[0] - 1.0).abs() < 1e-4 && (mean[1] + 0.5).abs() < 1e-4 && mean[2].abs() < 1e-4);
/// # Ok::<(), privml::Error>(())
/// ```
pub fn share_update(
    params: &ShareParams,
    meta: UpdateMeta,
    update: &[f64],
) -> Result<[Vec<u8>; 3]> {
    share_update_with_rng(params, meta, update, &mut AesPrg::from_entropy()?)
}

/// [`share_update`] drawing the shares (or their seeds) from `rng`: for
/// reproducible tests; a deployment must use fresh entropy.
pub fn share_update_with_rng(
    params: &ShareParams,
    meta: UpdateMeta,
    update: &[f64],
    rng: &mut AesPrg,
) -> Result<[Vec<u8>; 3]> {
    if update.is_empty() {
        return Err(Error::invalid(
            "update",
            "an update needs at least one value",
        ));
    }
    let values = meta.weighted(update)?;
    let values = &values[..];
    let x = params.encode(meta.client, values)?;
    let n = x.len();
    let (seeds, x0, x1) = match params.encoding() {
        ShareEncoding::Explicit => (None, rng.vec::<u64>(n), rng.vec::<u64>(n)),
        ShareEncoding::Seeded => {
            let (mut s0, mut s1) = ([0u8; SEED_LEN], [0u8; SEED_LEN]);
            rng.fill_bytes_fast(&mut s0);
            rng.fill_bytes_fast(&mut s1);
            if broken(NegativeControl::FederatedClientEqualSeeds) {
                s1 = s0; // a negative control of the test builds (see ring::audit)
            }
            let streams = SeedStreams::new(|| format!("federated {}", meta.client));
            let x0 = streams.open(&Seed::from_bytes(s0), "x0").vec::<u64>(n);
            let x1 = streams.open(&Seed::from_bytes(s1), "x1").vec::<u64>(n);
            (Some((s0, s1)), x0, x1)
        }
    };
    let x2: Vec<u64> = x
        .iter()
        .zip(&x0)
        .zip(&x1)
        .map(|((v, a), b)| v.wrapping_sub(*a).wrapping_sub(*b))
        .collect();
    let base = Header::of_update(Kind::Shares, meta, params.frac_bits(), n);
    let header = |server: u8, flags: u8| Header {
        server,
        flags,
        ..base
    };
    // Each message is written once, straight from the share vectors.
    let msg = |server: u8, flags: u8, parts: [Part<'_>; 2]| {
        let len = parts.iter().map(Part::byte_len).sum();
        wire::encode_with(&header(server, flags), len, |out| {
            for p in parts {
                match p {
                    Part::Seed(s) => out.extend_from_slice(s),
                    Part::Share(v) => wire::put_u64s(out, v),
                }
            }
        })
    };
    Ok(match seeds {
        None => [
            msg(0, 0, [Part::Share(&x0), Part::Share(&x1)]),
            msg(1, 0, [Part::Share(&x1), Part::Share(&x2)]),
            msg(2, 0, [Part::Share(&x2), Part::Share(&x0)]),
        ],
        Some((s0, s1)) => [
            msg(
                0,
                FLAG_FIRST_SEED | FLAG_SECOND_SEED,
                [Part::Seed(&s0), Part::Seed(&s1)],
            ),
            msg(1, FLAG_FIRST_SEED, [Part::Seed(&s1), Part::Share(&x2)]),
            msg(2, FLAG_SECOND_SEED, [Part::Share(&x2), Part::Seed(&s0)]),
        ],
    })
}

/// One share as it goes on the wire.
#[derive(Clone, Copy)]
enum Part<'a> {
    Seed(&'a [u8; SEED_LEN]),
    Share(&'a [u64]),
}

impl Part<'_> {
    fn byte_len(&self) -> usize {
        match self {
            Part::Seed(_) => SEED_LEN,
            Part::Share(v) => 8 * v.len(),
        }
    }
}
