//! Files that hold a secret: a party's share files and private keys.
//!
//! privml writes them readable by their owner only (mode 0600 on Unix) and
//! refuses to load one that other users can read or write: a share file or
//! key that others can read is a secret already shared with them, and
//! continuing would hide that. The error names the file and the `chmod` to
//! run. The check uses the permissions of the file as opened (no window
//! between checking and reading). On other systems there is no check.

use std::io::{Read, Write};
use std::path::Path;

use crate::error::{Error, FileOp, Result};

/// The permission bits of a secret file: readable and writable by its
/// owner only.
pub const PRIVATE_MODE: u32 = 0o600;

/// A file's bytes and its permission bits (`None` where the system has no
/// Unix modes), read together from one open file.
#[derive(Debug)]
pub struct Opened {
    /// The content.
    pub bytes: Vec<u8>,
    mode: Option<u32>,
}

impl Opened {
    /// Fails with [`Error::FileNotPrivate`] if other users may read or
    /// write the file (any of the mode bits 0o077); `what` names its
    /// content ("share file", "private key").
    pub fn require_private(&self, path: &Path, what: &'static str) -> Result<()> {
        match self.mode {
            Some(mode) if mode & 0o077 != 0 => Err(Error::FileNotPrivate {
                what,
                path: path.to_path_buf(),
                mode: mode & 0o7777,
            }),
            _ => Ok(()),
        }
    }
}

/// Reads `path`, keeping its permission bits for
/// [`Opened::require_private`] (for files whose content says whether they
/// are secret). Errors name the file.
pub fn read(path: &Path) -> Result<Opened> {
    let mut f = std::fs::File::open(path).map_err(|e| Error::file(FileOp::Read, path, e))?;
    let meta = f
        .metadata()
        .map_err(|e| Error::file(FileOp::Metadata, path, e))?;
    #[cfg(unix)]
    let mode = {
        use std::os::unix::fs::PermissionsExt;
        Some(meta.permissions().mode())
    };
    #[cfg(not(unix))]
    let mode = {
        let _ = &meta;
        None
    };
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes)
        .map_err(|e| Error::file(FileOp::Read, path, e))?;
    Ok(Opened { bytes, mode })
}

/// Reads a file that must be private (a private key): its bytes, or
/// [`Error::FileNotPrivate`] naming it and the `chmod` to run.
///
/// # Examples
///
/// ```
/// # #[cfg(unix)] {
/// use std::os::unix::fs::PermissionsExt;
/// use privml::private_file;
///
/// let dir = tempfile::tempdir().unwrap();
/// let key = dir.path().join("party0.key");
/// privml::model_file::write_atomic(&key, b"secret").unwrap(); // written 0600
/// assert_eq!(private_file::read_private(&key, "private key").unwrap(), b"secret");
/// std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
/// let e = private_file::read_private(&key, "private key").unwrap_err().to_string();
/// assert!(e.contains("chmod 600"), "{e}");
/// # }
/// ```
pub fn read_private(path: &Path, what: &'static str) -> Result<Vec<u8>> {
    let opened = read(path)?;
    opened.require_private(path, what)?;
    Ok(opened.bytes)
}

/// Writes `bytes` to `path` atomically: into a new temporary file in the
/// same directory (readable and writable by its owner only: mode 0600 on
/// Unix, whatever the umask, so share files, models and predictions are
/// never readable by other users), synced to disk, then renamed over `path`; on Unix the directory is synced too, so the rename survives
/// a crash. `path` holds either its old content or all of `bytes`, never a
/// part. Errors name `path`.
///
/// # Examples
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("out.bin");
/// privml::private_file::write_atomic(&path, b"one").unwrap();
/// privml::private_file::write_atomic(&path, b"two").unwrap();
/// assert_eq!(std::fs::read(&path).unwrap(), b"two");
/// ```
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let write_err = |e| Error::file(FileOp::Write, path, e);
    let mut builder = tempfile::Builder::new();
    builder.prefix(".privml-").suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(PRIVATE_MODE));
    }
    let mut tmp = builder.tempfile_in(dir).map_err(write_err)?;
    tmp.write_all(bytes).map_err(write_err)?;
    tmp.as_file().sync_all().map_err(write_err)?;
    tmp.persist(path)
        .map_err(|e| Error::file(FileOp::Rename, path, e.error))?;
    #[cfg(unix)]
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::file(FileOp::Write, dir, e))?;
    Ok(())
}
