//! The results convention: `--out DIR` gets `summary.json`, `metrics.csv`, plots and run files,
//! each written atomically (temp file + rename). A results directory has one owner at a time:
//! an advisory lock (`.ebm-lock`, holding the owner's PID) is taken before anything in it is
//! read, removed or written, and a second process exits 2 naming the owner. The files a
//! command writes are listed in `.ebm-manifest`, so `--force` removes exactly those (and stale
//! temporary files) and nothing a user put there.
//!
//! Also the mapping from errors to exit codes, and writing to standard output.

use std::collections::BTreeSet;
use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use trainer::io::{TEMP_PREFIX, WriteError};

/// A bad-input error raised by the CLI itself (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UserError(pub String);

/// A new run's results directory holds files already (exit code 2). Its text names the CLI's
/// `--force`; other front ends word the remedy their own way from `path`.
#[derive(Debug, thiserror::Error)]
#[error(
    "results directory {} already exists and is not empty (use --force to replace the files of the earlier run)",
    path.display()
)]
pub struct NotEmpty {
    /// The directory.
    pub path: PathBuf,
}

/// The run was interrupted (SIGINT/SIGTERM) after saving its state (exit code 130).
#[derive(Debug, thiserror::Error)]
#[error("interrupted; state saved to {0} (continue with --resume)")]
pub struct Interrupted(pub String);

/// Exit code for an error: 2 when any cause is bad input, configuration or the environment
/// (an unwritable or full disk, a closed standard output), 130 for an interruption, else 1 (a
/// bug).
pub fn exit_code(err: &anyhow::Error) -> u8 {
    let bad_input = err.chain().any(|cause| {
        cause.is::<UserError>()
            || cause.is::<NotEmpty>()
            || cause.is::<crate::run_files::MemoryShortfall>()
            || cause.is::<ebm_config::ConfigError>()
            || cause.is::<trainer::DataError>()
            || cause.is::<WriteError>()
            || cause.downcast_ref::<trainer::TrainError>().is_some_and(|e| e.is_bad_input())
    });
    if err.chain().any(|c| c.is::<Interrupted>()) {
        130
    } else if bad_input {
        2
    } else {
        1
    }
}

/// The one line printed for an error: its causes joined by `: `, leaving out a cause whose
/// text the line already holds (many errors quote their source), on one line.
pub fn error_line(err: &anyhow::Error) -> String {
    cause_line(err.chain())
}

/// [`error_line`] for an error of the library crates (the error, then its `source()` chain):
/// what a front end without `anyhow` (the Python package) shows for it.
pub fn std_error_line(err: &(dyn std::error::Error + 'static)) -> String {
    cause_line(std::iter::successors(Some(err), |e| e.source()))
}

fn cause_line<'a>(causes: impl Iterator<Item = &'a (dyn std::error::Error + 'static)>) -> String {
    let mut line = String::new();
    for cause in causes {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Print one line on standard output; a closed or full standard output is an error (exit 2),
/// not a panic.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::output::say_line(format_args!($($arg)*))
    };
}

/// See [`say!`].
pub fn say_line(args: std::fmt::Arguments<'_>) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{args}")
        .and_then(|()| out.flush())
        .map_err(|e| UserError(format!("cannot write to standard output: {e}")).into())
}

/// The lock file of a results directory.
pub const LOCK_FILE: &str = ".ebm-lock";
/// The list of files `ebm` wrote into a results directory.
pub const MANIFEST_FILE: &str = ".ebm-manifest";

/// Files of round-1 results directories (written before the manifest existed), which
/// `--force` removes when there is no manifest.
const LEGACY_EXTENSIONS: &[&str] = &["npz", "json", "csv", "svg", "md"];

/// A results directory owned by this process while the value lives.
#[derive(Debug)]
pub struct OutDir {
    path: PathBuf,
    /// Whether this run created the directory (so it may remove it again while unused).
    created: bool,
    lock: Option<File>,
    /// Names of the files written so far (the manifest's contents).
    written: Mutex<BTreeSet<String>>,
}

impl OutDir {
    /// The names written so far (a poisoned lock still holds a valid set).
    fn names(&self) -> MutexGuard<'_, BTreeSet<String>> {
        self.written.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Take a results directory for a new run: create it if needed and lock it; a non-empty
    /// directory (other than `ebm`'s own bookkeeping and stale temporary files) is refused
    /// without `force`; with `force`, the files an earlier `ebm` run wrote there are removed
    /// first, so nothing of that run can be resumed.
    pub fn fresh(path: &Path, force: bool) -> anyhow::Result<Self> {
        let out = Self::take(path, true)?;
        let entries = out.entries()?;
        if !force && !entries.is_empty() {
            return Err(NotEmpty { path: path.to_owned() }.into());
        }
        let has_manifest = out.path.join(MANIFEST_FILE).exists();
        let legacy = |n: &&String| {
            !has_manifest
                && Path::new(n.as_str())
                    .extension()
                    .is_some_and(|e| LEGACY_EXTENSIONS.contains(&e.to_string_lossy().as_ref()))
        };
        let ebm_files: Vec<String> = out.names().iter().cloned().collect();
        for name in ebm_files.iter().chain(entries.iter().filter(legacy)) {
            match std::fs::remove_file(out.path.join(name)) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(UserError(format!(
                        "cannot remove {} of the earlier run: {e}",
                        out.path.join(name).display()
                    ))
                    .into());
                }
            }
        }
        out.names().clear();
        out.save_manifest()?;
        Ok(out)
    }

    /// Take the directory of an existing run to continue it (`--resume`): it must exist; it is
    /// locked and only stale temporary files are removed.
    pub fn existing(path: &Path) -> anyhow::Result<Self> {
        if !path.is_dir() {
            return Err(UserError(format!("{}: no such results directory", path.display())).into());
        }
        Self::take(path, false)
    }

    /// Create (when `create`) and lock `path`, then remove stale temporary files and read the
    /// manifest.
    fn take(path: &Path, create: bool) -> anyhow::Result<Self> {
        let unusable = |e: std::io::Error| {
            UserError(format!("cannot use results directory {}: {e}", path.display()))
        };
        let created = create && !path.exists();
        if create {
            std::fs::create_dir_all(path).map_err(unusable)?;
        }
        let mut out =
            Self { path: path.to_owned(), created, lock: None, written: Mutex::default() };
        // On failure `out` is dropped, removing a directory this call created.
        out.lock = Some(lock(path)?);
        for name in out.entries()? {
            if name.starts_with(TEMP_PREFIX) {
                std::fs::remove_file(out.path.join(&name)).map_err(unusable)?;
            }
        }
        let manifest = match std::fs::read_to_string(path.join(MANIFEST_FILE)) {
            Ok(text) => text,
            Err(e) if e.kind() == ErrorKind::NotFound => String::new(),
            Err(e) => return Err(unusable(e).into()),
        };
        out.names().extend(manifest.lines().filter(|n| is_plain_name(n)).map(str::to_owned));
        Ok(out)
    }

    /// Names in the directory, leaving out the lock file and the manifest.
    fn entries(&self) -> anyhow::Result<Vec<String>> {
        let unreadable = |e: std::io::Error| {
            UserError(format!("cannot read results directory {}: {e}", self.path.display()))
        };
        let mut names = Vec::new();
        for entry in std::fs::read_dir(&self.path).map_err(unreadable)? {
            let name = entry.map_err(unreadable)?.file_name().to_string_lossy().into_owned();
            if name != LOCK_FILE && name != MANIFEST_FILE {
                names.push(name);
            }
        }
        Ok(names)
    }

    fn save_manifest(&self) -> anyhow::Result<()> {
        let mut text = String::new();
        for name in self.names().iter() {
            text.push_str(name);
            text.push('\n');
        }
        trainer::io::write_atomic(&self.path.join(MANIFEST_FILE), text.as_bytes())?;
        Ok(())
    }

    /// Record that `name` is (about to be) written by this run, so that `--force` removes it.
    pub fn register(&self, name: &str) -> anyhow::Result<()> {
        if self.names().insert(name.to_owned()) {
            self.save_manifest()?;
        }
        Ok(())
    }

    /// Remove the directory if this run created it and wrote nothing to it (after a failure,
    /// so that no empty results directory is left behind).
    pub fn remove_if_unused(&self) {
        if self.lock.is_some()
            && self.created
            && self.names().is_empty()
            && self.entries().is_ok_and(|e| e.is_empty())
        {
            let _ = std::fs::remove_file(self.path.join(MANIFEST_FILE));
            let _ = std::fs::remove_file(self.path.join(LOCK_FILE));
            let _ = std::fs::remove_dir(&self.path);
        }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A path inside the directory.
    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Write a file atomically.
    pub fn write(&self, name: &str, bytes: &[u8]) -> anyhow::Result<PathBuf> {
        self.register(name)?;
        let path = self.join(name);
        trainer::io::write_atomic(&path, bytes)?;
        Ok(path)
    }

    /// Write rows as CSV with a header taken from the struct's field names.
    pub fn write_csv<R: serde::Serialize>(
        &self,
        name: &str,
        rows: &[R],
    ) -> anyhow::Result<PathBuf> {
        let mut w = csv::Writer::from_writer(Vec::new());
        for r in rows {
            w.serialize(r)?;
        }
        let bytes = w.into_inner().map_err(|e| anyhow::anyhow!("cannot format {name}: {e}"))?;
        self.write(name, &bytes)
    }

    /// Write `value` as pretty JSON.
    pub fn write_json(&self, name: &str, value: &impl serde::Serialize) -> anyhow::Result<PathBuf> {
        let mut text = serde_json::to_string_pretty(value)?;
        text.push('\n');
        self.write(name, text.as_bytes())
    }
}

impl Drop for OutDir {
    fn drop(&mut self) {
        self.remove_if_unused();
        if let Some(lock) = self.lock.take() {
            // Unlinked while still held: a process waiting on the old file finds, once it gets
            // the lock, that the path no longer names it, and tries again (see `lock`).
            let _ = std::fs::remove_file(self.path.join(LOCK_FILE));
            drop(lock);
        }
    }
}

/// A name `--force` may remove: a plain file name inside the directory.
fn is_plain_name(name: &str) -> bool {
    !name.is_empty() && !name.starts_with('.') && !name.contains(['/', '\\'])
}

/// Lock `dir` for this process, or fail naming the process that holds it.
fn lock(dir: &Path) -> anyhow::Result<File> {
    let path = dir.join(LOCK_FILE);
    let unusable = |e: std::io::Error| {
        UserError(format!("cannot use results directory {}: {e}", dir.display()))
    };
    // The previous owner removes the file when it finishes: retry until the file we locked is
    // the one the path names.
    for _ in 0..100 {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(unusable)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut owner = String::new();
                let _ = file.read_to_string(&mut owner);
                let owner = owner.trim();
                let who = if owner.is_empty() {
                    "another process".to_owned()
                } else {
                    format!("process {owner}")
                };
                return Err(UserError(format!(
                    "results directory {} is in use by {who} (an ebm run still writing there): wait for it to finish or choose another --out",
                    dir.display()
                ))
                .into());
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(unusable(e).into()),
        }
        if !same_file(&file, &path) {
            continue;
        }
        file.set_len(0).map_err(unusable)?;
        writeln!(file, "{}", std::process::id()).map_err(unusable)?;
        return Ok(file);
    }
    Err(UserError(format!("cannot lock results directory {}: it keeps changing", dir.display()))
        .into())
}

/// Whether `path` still names the open `file`.
fn same_file(file: &File, path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (file.metadata(), std::fs::metadata(path)) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (file, path);
        true
    }
}

/// The results directory of a command: `--out`, else the config's `output.dir`, else
/// `results/<command>`.
pub fn results_dir(
    global: &crate::cli::GlobalOpts,
    config: &ebm_config::ValidConfig,
    command: &str,
) -> PathBuf {
    global
        .out
        .clone()
        .or_else(|| config.output.dir.clone())
        .unwrap_or_else(|| Path::new("results").join(command))
}

/// A config choice or status in plain words, as its serde name (`not-reached` ->
/// `not reached`), for output a person reads (never `NotReached`).
pub fn plain<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s.replace(['-', '_'], " "),
        _ => "?".to_owned(),
    }
}
