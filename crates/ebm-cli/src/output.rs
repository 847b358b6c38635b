//! The results convention: `--out DIR` gets `summary.json`, `metrics.csv` and SVG plots, each
//! written atomically (temp file + rename); an existing directory is kept unless `--force`.
//! Also the mapping from errors to exit codes.

use std::path::{Path, PathBuf};

use anyhow::Context;

/// A bad-input error raised by the CLI itself (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UserError(pub String);

/// The run was interrupted (SIGINT/SIGTERM) after saving its state (exit code 130).
#[derive(Debug, thiserror::Error)]
#[error("interrupted; state saved to {0} (continue with --resume)")]
pub struct Interrupted(pub String);

/// Exit code for an error: 2 when any cause is bad input or configuration, else 1.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    let bad_input = err.chain().any(|cause| {
        cause.is::<UserError>()
            || cause.is::<ebm_config::ConfigError>()
            || cause.is::<trainer::DataError>()
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

/// A results directory being filled.
#[derive(Debug)]
pub struct OutDir {
    path: PathBuf,
    /// Whether this run created the directory (so it may remove it again while empty).
    created: bool,
}

impl OutDir {
    /// Refuse a non-empty directory without `force`, creating nothing. Temporary files left by
    /// a killed run ([`trainer::data::idx::TEMP_PREFIX`]) are removed first and do not count.
    pub fn check(path: &Path, force: bool) -> anyhow::Result<()> {
        if !path.exists() {
            return Ok(());
        }
        let entries = std::fs::read_dir(path)
            .with_context(|| format!("cannot read results directory {}", path.display()))?;
        let mut non_empty = false;
        for entry in entries {
            let entry = entry
                .with_context(|| format!("cannot read results directory {}", path.display()))?;
            if entry.file_name().to_string_lossy().starts_with(trainer::data::idx::TEMP_PREFIX) {
                std::fs::remove_file(entry.path()).with_context(|| {
                    format!("cannot remove stale temporary file {}", entry.path().display())
                })?;
            } else {
                non_empty = true;
            }
        }
        if non_empty && !force {
            return Err(UserError(format!(
                "results directory {} already exists and is not empty (use --force to replace its files)",
                path.display()
            ))
            .into());
        }
        Ok(())
    }

    /// Create (or, with `force`, reuse) the directory; refuse a non-empty one without `force`.
    pub fn create(path: &Path, force: bool) -> anyhow::Result<Self> {
        Self::check(path, force)?;
        let created = !path.exists();
        std::fs::create_dir_all(path)
            .with_context(|| format!("cannot create results directory {}", path.display()))?;
        Ok(Self { path: path.to_owned(), created })
    }

    /// Remove the directory if this run created it and nothing was written to it (after a
    /// failure, so that no empty results directory is left behind).
    pub fn remove_if_unused(&self) {
        if self.created && std::fs::read_dir(&self.path).is_ok_and(|mut d| d.next().is_none()) {
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
        let path = self.join(name);
        write_atomic(&path, bytes)?;
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

/// Write `bytes` to `path` atomically (temp file in the same directory + rename), via the
/// trainer's writer so every file the program writes goes through one implementation.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    Ok(trainer::data::idx::write_atomic(path, bytes)?)
}
