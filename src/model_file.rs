//! Saved models: one file per party holding only that party's shares.
//!
//! A trained secret-shared model never exists in the clear: each party
//! writes its own file with its two shares of every parameter, and nothing
//! else secret. Loading needs all three parties again, and they check with
//! [`Session::check_agreement`](crate::Session::check_agreement) that their files
//! belong together (same model, right parties, not corrupted) before
//! predicting — a mismatched or damaged file is an error, not a wrong answer.
//!
//! File layout: the magic `PRIVML\x00\x01`, a postcard-encoded
//! [`SavedModel`], and the SHA-256 of that encoding. Files are written to a
//! temporary name and renamed, so an existing model is never left
//! half-overwritten.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::data::Normalizer;
use crate::domain::TensorData;
use crate::error::{Error, Result};

const MAGIC: &[u8; 8] = b"PRIVML\x00\x01";

/// Public description of a model: everything but the parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelMeta {
    /// Layer widths, e.g. "30-16-1" (ReLU between layers).
    pub spec: String,
    /// Name of the target column.
    pub target: String,
    /// Feature column names, in order.
    pub features: Vec<String>,
    /// Classes (1 output column means binary with a 0.5 threshold).
    pub n_classes: usize,
    /// How features were normalised before training (public statistics of
    /// the training data; see the `train` command's documentation).
    pub normalizer: Option<Normalizer>,
    /// The domain the model was trained on.
    pub domain: String,
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
}

impl SavedModel {
    /// Writes the file atomically (temporary file, then rename).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let body = postcard::to_allocvec(self).map_err(|e| Error::BadFile {
            path: path.display().to_string(),
            reason: format!("cannot encode the model: {e}"),
        })?;
        let mut bytes = Vec::with_capacity(body.len() + 40);
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&body);
        bytes.extend_from_slice(&Sha256::digest(&body));
        let tmp = path.with_extension("tmp-write");
        std::fs::write(&tmp, &bytes)?;
        std::fs::rename(&tmp, path)?;
        Ok(())
    }

    /// Reads and checks a file: magic, checksum, encoding.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bad = |reason: String| Error::BadFile {
            path: path.display().to_string(),
            reason,
        };
        let bytes = std::fs::read(path).map_err(|e| bad(format!("cannot read: {e}")))?;
        if bytes.len() < MAGIC.len() + 32 || &bytes[..MAGIC.len()] != MAGIC {
            return Err(bad("not a privml model file".to_string()));
        }
        let (body, sum) = bytes[MAGIC.len()..].split_at(bytes.len() - MAGIC.len() - 32);
        if Sha256::digest(body).as_slice() != sum {
            return Err(bad("corrupted: checksum mismatch".to_string()));
        }
        postcard::from_bytes(body).map_err(|e| bad(format!("cannot decode: {e}")))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> SavedModel {
        SavedModel {
            meta: ModelMeta {
                spec: "2-1".into(),
                target: "y".into(),
                features: vec!["a".into(), "b".into()],
                n_classes: 2,
                normalizer: None,
                domain: "plain".into(),
            },
            model_id: [7; 16],
            tensors: vec![TensorData::Clear {
                shape: vec![2, 1],
                values: vec![0.5, -1.0],
            }],
        }
    }

    #[test]
    fn round_trip_and_corruption() {
        let dir = std::env::temp_dir().join(format!("privml-model-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("m.clear");
        let m = sample();
        m.save(&p).unwrap();
        assert_eq!(SavedModel::load(&p).unwrap(), m);
        let mut bytes = std::fs::read(&p).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x40;
        std::fs::write(&p, &bytes).unwrap();
        let e = SavedModel::load(&p).unwrap_err().to_string();
        assert!(e.contains("checksum"), "{e}");
        std::fs::write(&p, b"hello").unwrap();
        assert!(
            SavedModel::load(&p)
                .unwrap_err()
                .to_string()
                .contains("not a privml model")
        );
        assert_eq!(
            SavedModel::party_path(dir.join("m"), 2),
            dir.join("m.party2.shares")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
