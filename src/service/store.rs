//! A serving party's store: the datasets clients uploaded, as this party's
//! share files only, one file per dataset.
//!
//! An upload arrives in two steps ([`Store::stage`], then
//! [`Store::commit`]): the staged file is written atomically (temporary
//! file, fsync, rename) under a name that is never
//! loaded as a dataset, and the commit renames it to `NAME.shares` and
//! syncs the directory (staged files are written with
//! [`crate::model_file::write_atomic`]). A crash or a client that goes away leaves at most
//! a staged file, which [`Store::open`] removes at the next start and
//! [`Store::drop_staged`] when the connection ends; a dataset is never seen
//! half-written.

use std::path::{Path, PathBuf};

use crate::dataset_file::{DatasetSchema, DatasetShares, hex};
use crate::error::{Error, FileOp, Result};
use crate::net::config::valid_name;

/// Suffix of a committed dataset.
const COMMITTED: &str = ".shares";
/// Infix of a staged upload.
const STAGED: &str = ".staged-";

/// One party's store directory: `datasets/NAME.shares` (uploads) and
/// `models/NAME.shares` (this party's model share files: a model trained
/// with `privml party ... train --out` is served by copying each party's
/// file there).
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
    models: PathBuf,
    party: usize,
}

impl Store {
    /// Opens (creating it if missing) the store of `party` in `dir`, and
    /// removes uploads that were staged but never committed (returned,
    /// for the log).
    pub fn open(dir: &Path, party: usize) -> Result<(Store, Vec<String>)> {
        let datasets = dir.join("datasets");
        let models = dir.join("models");
        for d in [&datasets, &models] {
            std::fs::create_dir_all(d).map_err(|e| Error::file(FileOp::CreateDir, d, e))?;
        }
        let mut removed = Vec::new();
        for d in [&datasets, &models] {
            let entries = std::fs::read_dir(d).map_err(|e| Error::file(FileOp::Read, d, e))?;
            for entry in entries {
                let entry = entry.map_err(|e| Error::file(FileOp::Read, d, e))?;
                let name = entry.file_name().to_string_lossy().into_owned();
                // Staged uploads, and temporary files of an atomic write
                // (a dataset or a model) that a crash interrupted.
                if name.contains(STAGED) || name.starts_with(".privml-") {
                    std::fs::remove_file(entry.path())
                        .map_err(|e| Error::file(FileOp::Write, entry.path(), e))?;
                    removed.push(name);
                }
            }
        }
        Ok((
            Store {
                dir: datasets,
                models,
                party,
            },
            removed,
        ))
    }

    fn checked(name: &str) -> Result<()> {
        if valid_name(name) {
            Ok(())
        } else {
            Err(Error::invalid(
                "dataset name",
                format!("'{name}': use 1 to 64 of a-z, 0-9, '-', '_'"),
            ))
        }
    }

    fn committed_path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}{COMMITTED}"))
    }

    fn staged_path(&self, name: &str, id: &[u8; 16]) -> PathBuf {
        self.dir.join(format!("{name}{STAGED}{}", hex(id)))
    }

    /// Whether dataset `name` is committed.
    pub fn has(&self, name: &str) -> bool {
        Self::checked(name).is_ok() && self.committed_path(name).exists()
    }

    /// Checks `file` (this party's shares, a name not yet taken) and writes
    /// it as a staged upload; returns its schema.
    pub fn stage(&self, name: &str, file: &DatasetShares) -> Result<DatasetSchema> {
        Self::checked(name)?;
        if usize::from(file.party) != self.party {
            return Err(Error::invalid(
                "upload",
                format!(
                    "the shares are party {}'s, this is party {}",
                    file.party, self.party
                ),
            ));
        }
        if self.has(name) {
            return Err(Error::invalid(
                "dataset name",
                format!("a dataset '{name}' exists already"),
            ));
        }
        file.save(self.staged_path(name, &file.schema.dataset_id))?;
        Ok(file.schema.clone())
    }

    /// Makes the staged upload `name` with dataset id `id` a dataset.
    pub fn commit(&self, name: &str, id: &[u8; 16]) -> Result<()> {
        Self::checked(name)?;
        let staged = self.staged_path(name, id);
        if !staged.exists() {
            return Err(Error::invalid(
                "commit",
                format!("nothing staged for dataset '{name}' ({})", hex(id)),
            ));
        }
        if self.has(name) {
            return Err(Error::invalid(
                "dataset name",
                format!("a dataset '{name}' exists already"),
            ));
        }
        let to = self.committed_path(name);
        std::fs::rename(&staged, &to).map_err(|e| Error::file(FileOp::Rename, &to, e))?;
        std::fs::File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| Error::file(FileOp::Write, &self.dir, e))?;
        Ok(())
    }

    /// Removes a staged upload that will not be committed.
    pub fn drop_staged(&self, name: &str, id: &[u8; 16]) {
        if Self::checked(name).is_ok() {
            let _ = std::fs::remove_file(self.staged_path(name, id));
        }
    }

    /// Loads dataset `name`.
    pub fn load(&self, name: &str) -> Result<DatasetShares> {
        Self::checked(name)?;
        let path = self.committed_path(name);
        if !path.exists() {
            return Err(Error::invalid(
                "dataset",
                format!("party {} has no dataset '{name}'", self.party),
            ));
        }
        DatasetShares::load(path)
    }

    /// Loads this party's share file of model `name`.
    pub fn load_model(&self, name: &str) -> Result<crate::model_file::SavedModel> {
        Self::checked(name)?;
        let path = self.model_path(name);
        if !path.exists() {
            return Err(Error::invalid(
                "model",
                format!("party {} has no model '{name}'", self.party),
            ));
        }
        crate::model_file::SavedModel::load(path)
    }

    /// Whether model `name` is stored.
    pub fn has_model(&self, name: &str) -> bool {
        Self::checked(name).is_ok() && self.model_path(name).exists()
    }

    fn model_path(&self, name: &str) -> PathBuf {
        self.models.join(format!("{name}{COMMITTED}"))
    }

    /// Stores this party's share file of a model trained here as `name`,
    /// atomically ([`SavedModel::save`](crate::model_file::SavedModel::save):
    /// temporary file, fsync, rename, directory sync); a name taken is
    /// refused, never overwritten.
    pub fn save_model(&self, name: &str, model: &crate::model_file::SavedModel) -> Result<()> {
        Self::checked(name)?;
        if self.has_model(name) {
            return Err(Error::invalid(
                "model name",
                format!("a model '{name}' exists already"),
            ));
        }
        model.save(self.model_path(name))
    }

    /// The committed datasets' names, sorted.
    pub fn list(&self) -> Result<Vec<String>> {
        let entries =
            std::fs::read_dir(&self.dir).map_err(|e| Error::file(FileOp::Read, &self.dir, e))?;
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::file(FileOp::Read, &self.dir, e))?;
            let file = entry.file_name().to_string_lossy().into_owned();
            if let Some(n) = file.strip_suffix(COMMITTED)
                && valid_name(n)
            {
                names.push(n.to_string());
            }
        }
        names.sort();
        Ok(names)
    }
}

/// A store's directory of job state files, `DIR/JOB.state` (the federated
/// jobs' settings, round and global model): postcard, written atomically
/// after every round, so that a party restarted between rounds resumes
/// from the last one it finished.
#[derive(Debug)]
pub(crate) struct JobFiles {
    dir: PathBuf,
}

impl JobFiles {
    /// `STORE/name/`, created if missing.
    pub(crate) fn open(store_dir: &Path, name: &str) -> Result<JobFiles> {
        let dir = store_dir.join(name);
        std::fs::create_dir_all(&dir).map_err(|e| Error::file(FileOp::CreateDir, &dir, e))?;
        Ok(JobFiles { dir })
    }

    fn path(&self, job: &str) -> PathBuf {
        self.dir.join(format!("{job}.state"))
    }

    /// Saves `state` as `job`'s file, atomically.
    pub(crate) fn save<T: serde::Serialize>(&self, job: &str, state: &T) -> Result<()> {
        let bytes =
            postcard::to_allocvec(state).map_err(|e| Error::internal("save", e.to_string()))?;
        crate::private_file::write_atomic(&self.path(job), &bytes)
    }

    /// `job`'s saved state, `None` if it has none; a file that does not
    /// decode is an error naming it.
    pub(crate) fn load<T: serde::de::DeserializeOwned>(&self, job: &str) -> Result<Option<T>> {
        let path = self.path(job);
        if !path.exists() {
            return Ok(None);
        }
        let bytes = std::fs::read(&path).map_err(|e| Error::file(FileOp::Read, &path, e))?;
        postcard::from_bytes(&bytes)
            .map(Some)
            .map_err(|e| Error::invalid("federated state", format!("{}: {e}", path.display())))
    }
}
