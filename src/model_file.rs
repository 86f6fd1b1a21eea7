//! Saved models: one file per party holding only that party's shares.
//!
//! A trained secret-shared model never exists in the clear: each party
//! writes its own file with its two shares of every parameter, and nothing
//! else secret. Loading needs all three parties again, and they check with
//! [`Session::check_agreement`](crate::Session::check_agreement) that their files
//! belong together (same model, right parties, not corrupted) before
//! predicting — a mismatched or damaged file is an error, not a wrong answer.
//!
//! File layout: the magic `PRIVML\x00`, one format-version byte
//! ([`FORMAT_VERSION`]), a postcard-encoded [`SavedModel`], and the SHA-256
//! of that encoding. The public description ([`ModelMeta`]) is typed data:
//! the architecture, the domain and ring, the fixed-point format, the
//! table's columns and normaliser. A file of another format version is
//! refused with [`DecodeError::UnsupportedVersion`], never mis-read.
//!
//! Files are written atomically ([`write_atomic`]): to a temporary file in
//! the same directory, synced to disk, then renamed over the target, so an
//! existing model is never left half-overwritten and a crash leaves either
//! the old file or the new one.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::cost::Protocol;
use crate::data::Normalizer;
use crate::domain::TensorData;
use crate::envelope::Envelope;
use crate::error::{DecodeError, Error, Origin, Result};
use crate::learn::Task;
use crate::nn::{MlpSpec, NetworkSpec, OptimizerState};
use crate::runner::{Domain, DomainKind, DomainSpec, RingSize};

/// The first bytes of every model file.
const MAGIC: &[u8; 7] = b"PRIVML\x00";

/// The format version this build writes and reads. Version 1 stored the
/// architecture and the domain as strings; version 2 stores them typed;
/// version 3 adds general networks ([`Architecture::Network`]) and the
/// optimiser's state.
pub const FORMAT_VERSION: u8 = 3;

/// The file's frame (see [`crate::envelope`]).
const ENVELOPE: Envelope = Envelope {
    magic: MAGIC,
    version: FORMAT_VERSION,
    expected: "privml model file",
};

/// What "model file" errors call the format.
const WHAT: &str = "model file";

/// The shape of a saved model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Architecture {
    /// Dense layers with ReLU between them.
    Mlp(MlpSpec),
    /// Any network of [`nn`](crate::nn) layers (convolutions, pooling, ...),
    /// its batch normalisations folded.
    Network(NetworkSpec),
}

impl std::fmt::Display for Architecture {
    /// `784-64-10` for an MLP, `1x28x28: conv:16k5,...` for a network.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Architecture::Mlp(spec) => write!(f, "{spec}"),
            Architecture::Network(spec) => write!(f, "{}: {spec}", spec.input_string()),
        }
    }
}

/// The data owner's public description of its table: what any party needs
/// to apply the model to new rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableMeta {
    /// Name of the target column.
    pub target: String,
    /// Feature column names, in order.
    pub features: Vec<String>,
    /// Classes (1 output column means binary with a 0.5 threshold).
    pub n_classes: usize,
    /// How features were normalised before training (public statistics of
    /// the training data; see the [`learn`](crate::learn) module).
    pub normalizer: Option<Normalizer>,
    /// Classification or regression.
    pub task: Task,
    /// How a regression's target was scaled for training (one column;
    /// predictions are scaled back with it), like the features.
    pub target_normalizer: Option<Normalizer>,
}

/// Public description of a model: everything but the parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelMeta {
    /// The layers.
    pub architecture: Architecture,
    /// The table the model was trained on.
    pub table: TableMeta,
    /// The domain (and ring) the model was trained on.
    pub domain: DomainKind,
    /// Fraction bits of the fixed-point format; `None` for `Plain`.
    pub frac_bits: Option<u32>,
}

impl ModelMeta {
    /// Fails unless the model was trained on `spec`'s domain, ring and
    /// fraction bits: shares of one ring or format are meaningless in another.
    ///
    /// # Examples
    ///
    /// ```
    /// use privml::learn::Task;
    /// use privml::model_file::{Architecture, ModelMeta, TableMeta};
    /// use privml::runner::{DomainKind, DomainSpec, RingSize};
    ///
    /// let meta = ModelMeta {
    ///     architecture: Architecture::Mlp("2-1".parse().unwrap()),
    ///     table: TableMeta { target: "y".into(), features: vec!["a".into(), "b".into()], n_classes: 2, normalizer: None, task: Task::Classification, target_normalizer: None },
    ///     domain: DomainKind::Shared64,
    ///     frac_bits: Some(16),
    /// };
    /// assert!(meta.check_domain(&DomainSpec::default()).is_ok());
    /// let z128 = DomainSpec { ring: RingSize::Z128, ..DomainSpec::default() };
    /// assert!(meta.check_domain(&z128).unwrap_err().to_string().contains("Z_2^64"));
    /// ```
    pub fn check_domain(&self, spec: &DomainSpec) -> Result<()> {
        let frac_ok = match self.frac_bits {
            Some(f) => f == spec.frac_bits(),
            None => true,
        };
        if self.domain == spec.kind() && frac_ok {
            return Ok(());
        }
        let frac = self
            .frac_bits
            .map_or(String::new(), |f| format!(" with {f} fraction bits"));
        Err(Error::invalid(
            "domain",
            format!(
                "the model was trained on {}{frac}, not on {} with {} fraction bits",
                self.domain,
                spec.kind(),
                spec.frac_bits()
            ),
        ))
    }
}

/// A model file's content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedModel {
    /// Public description.
    pub meta: ModelMeta,
    /// Random id shared by the three parties' files of one model.
    pub model_id: [u8; 16],
    /// This party's data of each parameter tensor.
    pub tensors: Vec<TensorData>,
    /// The optimiser's settings, steps and state (this party's data of it),
    /// if training is to go on from this file.
    pub optimizer: Option<OptimizerState>,
}

/// The domain and fraction bits that exported tensors are data of; fails
/// unless every tensor is of the same kind.
///
/// # Examples
///
/// ```
/// use privml::TensorData;
/// use privml::model_file::domain_of;
/// use privml::runner::DomainKind;
///
/// let t = TensorData::Clear { shape: vec![1], values: vec![0.5] };
/// assert_eq!(domain_of(&[t]).unwrap(), (DomainKind::Plain, None));
/// ```
pub fn domain_of(tensors: &[TensorData]) -> Result<(DomainKind, Option<u32>)> {
    let one = |t: &TensorData| -> Result<(DomainKind, Option<u32>)> {
        let ring = |bits: u32| RingSize::try_from(bits);
        Ok(match t {
            TensorData::Clear { .. } => (DomainKind::Plain, None),
            TensorData::ClearRing {
                ring_bits,
                frac_bits,
                ..
            } => (
                DomainKind::new(Domain::Fixed, ring(*ring_bits)?),
                Some(*frac_bits),
            ),
            TensorData::Shares {
                ring_bits,
                frac_bits,
                ..
            } => (
                DomainKind::new(Domain::Shared, ring(*ring_bits)?),
                Some(*frac_bits),
            ),
            TensorData::AdditiveShare {
                ring_bits,
                frac_bits,
                ..
            } => (
                DomainKind::with_protocol(Domain::Shared, ring(*ring_bits)?, Protocol::Additive2),
                Some(*frac_bits),
            ),
        })
    };
    let (first, rest) = tensors
        .split_first()
        .ok_or_else(|| Error::invalid("tensors", "a model has at least one parameter tensor"))?;
    let kind = one(first)?;
    for t in rest {
        if one(t)? != kind {
            return Err(Error::invalid(
                "tensors",
                format!("{} among {}", t.kind(), first.kind()),
            ));
        }
    }
    Ok(kind)
}

impl SavedModel {
    /// Writes the file atomically (see the [module docs](self)).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let bytes = ENVELOPE
            .seal(self)
            .map_err(|e| Error::internal("SavedModel::save", format!("encoding: {e}")))?;
        write_atomic(path.as_ref(), &bytes)
    }

    /// Reads and checks a file: magic, version, checksum, encoding, and that
    /// the description's domain is the tensors' own. A party's share file
    /// that other users may read or write is refused
    /// ([`Error::FileNotPrivate`], naming the `chmod` to run; see
    /// [`crate::private_file`]).
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let opened = crate::private_file::read(path)?;
        let model = Self::decode(&opened.bytes, path)?;
        if matches!(model.tensors.first(), Some(TensorData::Shares { .. })) {
            opened.require_private(path, "share file")?;
        }
        Ok(model)
    }

    /// Decodes the bytes of a model file read from `path` (which names the
    /// file in errors): the checks of [`load`](Self::load) but the
    /// permissions. Never panics, whatever the bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::path::Path;
    /// use privml::model_file::SavedModel;
    ///
    /// let e = SavedModel::decode(b"PRIVML\x00\x03", Path::new("m.clear")).unwrap_err();
    /// assert!(e.to_string().contains("truncated"), "{e}");
    /// ```
    pub fn decode(bytes: &[u8], path: &Path) -> Result<Self> {
        let bad = |error: DecodeError| Error::decode(WHAT, Origin::File(path.to_path_buf()), error);
        let model: SavedModel = ENVELOPE.open(bytes).map_err(bad)?;
        let found = domain_of(&model.tensors).map_err(|e| {
            bad(DecodeError::BadField {
                field: "tensors",
                reason: e.to_string(),
            })
        })?;
        if found != (model.meta.domain, model.meta.frac_bits) {
            return Err(bad(DecodeError::BadField {
                field: "domain",
                reason: format!(
                    "the description says {} with {:?} fraction bits, the tensors are {}",
                    model.meta.domain,
                    model.meta.frac_bits,
                    model.tensors[0].kind()
                ),
            }));
        }
        Ok(model)
    }

    /// `{prefix}.party{N}.shares`, the conventional file of party `party`.
    pub fn party_path(prefix: impl AsRef<Path>, party: usize) -> PathBuf {
        let mut s = prefix.as_ref().as_os_str().to_owned();
        s.push(format!(".party{party}.shares"));
        PathBuf::from(s)
    }

    /// `{prefix}.clear`, the file of a model trained (or revealed) in the clear.
    pub fn clear_path(prefix: impl AsRef<Path>) -> PathBuf {
        let mut s = prefix.as_ref().as_os_str().to_owned();
        s.push(".clear");
        PathBuf::from(s)
    }
}

pub use crate::private_file::write_atomic;

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failing test is meant to panic")]
mod tests {
    use super::*;
    use crate::error::FileOp;

    fn sample() -> SavedModel {
        SavedModel {
            meta: ModelMeta {
                architecture: Architecture::Mlp("2-1".parse().unwrap()),
                table: TableMeta {
                    target: "y".into(),
                    features: vec!["a".into(), "b".into()],
                    n_classes: 2,
                    normalizer: None,
                    task: Task::Classification,
                    target_normalizer: None,
                },
                domain: DomainKind::Plain,
                frac_bits: None,
            },
            model_id: [7; 16],
            tensors: vec![TensorData::Clear {
                shape: vec![2, 1],
                values: vec![0.5, -1.0],
            }],
            optimizer: None,
        }
    }

    fn decode_error(p: &Path) -> DecodeError {
        match SavedModel::load(p).unwrap_err() {
            Error::Decode {
                what,
                origin: Origin::File(f),
                error,
            } => {
                assert_eq!((what, f.as_path()), (WHAT, p));
                error
            }
            other => panic!("expected a decoding error, got {other:?}"),
        }
    }

    #[test]
    fn round_trip_and_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.clear");
        let m = sample();
        m.save(&p).unwrap();
        assert_eq!(SavedModel::load(&p).unwrap(), m);
        let mut bytes = std::fs::read(&p).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x40;
        std::fs::write(&p, &bytes).unwrap();
        let e = SavedModel::load(&p).unwrap_err().to_string();
        assert!(e.contains("checksum"), "{e}");
        assert_eq!(decode_error(&p), DecodeError::Checksum);
        std::fs::write(&p, b"hello").unwrap();
        assert!(
            SavedModel::load(&p)
                .unwrap_err()
                .to_string()
                .contains("not a privml model")
        );
        assert_eq!(
            SavedModel::party_path(dir.path().join("m"), 2),
            dir.path().join("m.party2.shares")
        );
        // Nothing but the file is left in the directory.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn other_versions_truncation_and_missing_files_are_typed_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.clear");
        sample().save(&p).unwrap();
        let good = std::fs::read(&p).unwrap();
        // Version-1 files (architecture and domain as strings) and
        // version-2 files (no general networks, no optimiser) are refused.
        for version in [1, 2] {
            let mut old = good.clone();
            old[MAGIC.len()] = version;
            std::fs::write(&p, &old).unwrap();
            assert_eq!(
                decode_error(&p),
                DecodeError::UnsupportedVersion {
                    found: version.into(),
                    supported: 3
                }
            );
        }
        std::fs::write(&p, &good[..MAGIC.len() + 5]).unwrap();
        assert!(matches!(decode_error(&p), DecodeError::Truncated { .. }));
        std::fs::write(&p, MAGIC).unwrap();
        assert!(matches!(decode_error(&p), DecodeError::Truncated { .. }));
        let missing = dir.path().join("absent.clear");
        match SavedModel::load(&missing).unwrap_err() {
            Error::FileIo {
                op: FileOp::Read,
                path,
                ..
            } => assert_eq!(path, missing),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn networks_and_optimiser_state_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.clear");
        let mut m = sample();
        m.meta.architecture = Architecture::Network(NetworkSpec::preset("network-d").unwrap());
        m.optimizer = Some(OptimizerState {
            config: crate::nn::OptimizerConfig::named("adam", 0.01).unwrap(),
            step: 3,
            slots: m.tensors.clone(),
        });
        m.save(&p).unwrap();
        let back = SavedModel::load(&p).unwrap();
        assert_eq!(back, m);
        assert!(
            back.meta
                .architecture
                .to_string()
                .starts_with("1x28x28: conv:5k5s2p2")
        );
    }

    #[test]
    fn a_description_that_contradicts_the_tensors_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.clear");
        let mut m = sample();
        m.meta.domain = DomainKind::Fixed64;
        m.meta.frac_bits = Some(16);
        m.save(&p).unwrap();
        assert!(matches!(
            decode_error(&p),
            DecodeError::BadField {
                field: "domain",
                ..
            }
        ));
    }

    #[test]
    fn writes_into_a_missing_directory_fail_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("no/such/dir/m.clear");
        match sample().save(&p).unwrap_err() {
            Error::FileIo {
                op: FileOp::Write,
                path,
                ..
            } => assert_eq!(path, p),
            other => panic!("{other:?}"),
        }
    }
}
