//! Dealing a training set out to clients: iid, or skewed by label.

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::keyword::keyword_enum;

/// How the training data is dealt out to the clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Split {
    /// Shuffled and dealt round-robin: every client's shard has (nearly) the
    /// same size and the same label mix as the whole.
    #[default]
    Iid,
    /// Label skew as in McMahan et al. (2017): the samples are sorted by
    /// label, cut into 2N equal runs, and each client gets two runs at
    /// random. Most clients see mostly or only one class (for a binary
    /// target about half the clients see a single class).
    Skewed,
}

keyword_enum!(Split, "split", {
    Iid => "iid",
    Skewed => "skewed" | "non-iid",
});

/// Deals `data` out to `clients` shards. Reproducible from `seed`. Every
/// shard gets at least one sample: iid needs `clients ≤ n`, skewed
/// `2 · clients ≤ n`.
///
/// # Examples
///
/// ```
/// use privml::data::Bundled;
/// use privml::fl::{Split, split_clients};
///
/// let data = Bundled::BreastCancer.load()?;
/// let shards = split_clients(&data, 10, Split::Skewed, 1)?;
/// assert_eq!(shards.iter().map(|s| s.n_samples()).sum::<usize>(), 569);
/// # Ok::<(), privml::Error>(())
/// ```
pub fn split_clients(
    data: &Dataset,
    clients: usize,
    split: Split,
    seed: u64,
) -> Result<Vec<Dataset>> {
    let n = data.n_samples();
    let need = match split {
        Split::Iid => clients,
        Split::Skewed => 2 * clients,
    };
    if clients == 0 || need > n {
        return Err(Error::invalid(
            "clients",
            format!(
                "{clients} clients: a {split} split of {n} samples allows 1 to {}",
                match split {
                    Split::Iid => n,
                    Split::Skewed => n / 2,
                }
            ),
        ));
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let mut idx: Vec<usize> = (0..n).collect();
    idx.shuffle(&mut rng);
    let groups: Vec<Vec<usize>> = match split {
        Split::Iid => (0..clients)
            .map(|c| idx.iter().skip(c).step_by(clients).copied().collect())
            .collect(),
        Split::Skewed => {
            let y = data.targets();
            // Stable sort of the shuffled order: random within each label.
            idx.sort_by(|a, b| y[*a].total_cmp(&y[*b]));
            let runs = 2 * clients;
            let bounds: Vec<usize> = (0..=runs).map(|r| r * n / runs).collect();
            let mut order: Vec<usize> = (0..runs).collect();
            order.shuffle(&mut rng);
            order
                .chunks(2)
                .map(|pair| {
                    pair.iter()
                        .flat_map(|&r| idx[bounds[r]..bounds[r + 1]].iter().copied())
                        .collect()
                })
                .collect()
        }
    };
    groups.iter().map(|g| data.select(g)).collect()
}
