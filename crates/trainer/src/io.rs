//! Writing files so that nothing written is ever lost or half-written: every file goes to a
//! temporary file beside its destination, is synced, and is renamed over it (atomic on one
//! file system). Every writer of the workspace (checkpoints, model files, results, data
//! downloads, xtask reports) goes through here.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Name prefix of the temporary files [`write_atomic`] writes before their rename. A process
/// killed mid-write (`kill -9`) leaves one behind; it is never read, and `ebm` removes such
/// files from a results directory it owns (never from one another process holds).
pub const TEMP_PREFIX: &str = ".ebm-tmp-";

/// A write that failed: the file and the I/O error.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {}: {error}", path.display())]
pub struct WriteError {
    /// The file being written.
    pub path: PathBuf,
    /// The I/O error (part of the message, so not a `source`: an error chain printed with its
    /// causes does not repeat it).
    pub error: std::io::Error,
}

impl WriteError {
    /// `path` could not be written because of `error`.
    pub fn new(path: impl Into<PathBuf>, error: std::io::Error) -> Self {
        Self { path: path.into(), error }
    }

    /// Whether the error is the file system being full (`ENOSPC`, or a quota).
    pub fn is_storage_full(&self) -> bool {
        matches!(
            self.error.kind(),
            std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
        )
    }
}

/// A temporary file beside `path` (same directory, so the final rename is atomic), named
/// [`TEMP_PREFIX`]`...`; it is deleted when dropped unless persisted.
pub fn temp_file_beside(path: &Path) -> std::io::Result<tempfile::NamedTempFile> {
    tempfile::Builder::new().prefix(TEMP_PREFIX).tempfile_in(parent_dir(path))
}

fn parent_dir(path: &Path) -> &Path {
    path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."))
}

/// Write `bytes` to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    write_atomic_with(path, |w| w.write_all(bytes))
}

/// Write `path` atomically with `fill`, which writes the contents into a buffered writer.
///
/// The writer is fused: after its first error it swallows every later write and flush, and
/// that first error is what this function returns. So a writer that finishes itself when
/// dropped (a zip archive) never reports a second failure of its own on the way out.
pub fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), WriteError> {
    let err = |e: std::io::Error| WriteError::new(path, e);
    let tmp = temp_file_beside(path).map_err(|e| WriteError::new(parent_dir(path), e))?;
    let mut fuse = Fuse { inner: BufWriter::new(tmp.as_file()), error: None };
    let filled = fill(&mut fuse);
    let flushed = fuse.inner.flush();
    if let Some(first) = fuse.error.take() {
        return Err(err(first));
    }
    filled.and(flushed).map_err(err)?;
    drop(fuse);
    tmp.as_file().sync_all().map_err(err)?;
    readable_by_all(tmp.as_file()).map_err(err)?;
    tmp.persist(path).map_err(|e| err(e.error))?;
    Ok(())
}

/// A writer that remembers its first error and then accepts (and discards) everything.
struct Fuse<W: Write> {
    inner: W,
    error: Option<std::io::Error>,
}

impl<W: Write> Write for Fuse<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.error.is_some() {
            return Ok(buf.len());
        }
        self.inner.write(buf).or_else(|e| {
            self.error = Some(e);
            Ok(buf.len())
        })
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.error.is_none()
            && let Err(e) = self.inner.flush()
        {
            self.error = Some(e);
        }
        Ok(())
    }
}

/// Temporary files are created `0600`; a result or data file should be `0644` like any other.
pub fn readable_by_all(file: &File) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    #[cfg(not(unix))]
    let _ = file;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_files_are_named_with_the_prefix_and_removed_when_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let tmp = temp_file_beside(&dir.path().join("x")).unwrap();
        let name = tmp.path().file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with(TEMP_PREFIX), "{name}");
        assert_eq!(tmp.path().parent(), Some(dir.path()));
        drop(tmp);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn write_atomic_replaces_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    /// A writer that fails once `limit` bytes are written, like a full disk.
    struct Full {
        written: usize,
        limit: usize,
        attempts_after_failure: usize,
    }

    impl Write for Full {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.written + buf.len() > self.limit {
                self.attempts_after_failure += 1;
                return Err(std::io::ErrorKind::StorageFull.into());
            }
            self.written += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn fuse_keeps_the_first_error_and_swallows_the_rest() {
        let mut fuse =
            Fuse { inner: Full { written: 0, limit: 4, attempts_after_failure: 0 }, error: None };
        assert_eq!(fuse.write(b"abc").unwrap(), 3);
        assert_eq!(fuse.write(b"def").unwrap(), 3);
        assert_eq!(fuse.write(b"ghi").unwrap(), 3);
        fuse.flush().unwrap();
        assert_eq!(
            fuse.error.as_ref().map(std::io::Error::kind),
            Some(std::io::ErrorKind::StorageFull)
        );
        assert_eq!(fuse.inner.attempts_after_failure, 1, "the inner writer was tried again");
    }

    #[test]
    fn a_failed_fill_leaves_neither_file_nor_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let e = write_atomic_with(&path, |w| {
            w.write_all(b"partial")?;
            Err(std::io::ErrorKind::StorageFull.into())
        })
        .unwrap_err();
        assert!(e.is_storage_full(), "{e}");
        assert_eq!(e.path, path);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
