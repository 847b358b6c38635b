//! A training run's results directory, as `ebm train` keeps it and as the Python package's
//! `ebm.train(..., out=DIR)` keeps it too: after every epoch the model (`model.npz`), the
//! selected epoch's model (`best-model.npz`), the resume state (`checkpoint.npz`, when due,
//! written by a thread of its own), `metrics.csv`, `summary.json` and the pictures with
//! `report.html`; on an early stop the same, marked interrupted. Every file goes through
//! [`OutDir`] (locked, listed in the manifest, written atomically).

use std::path::Path;
use std::time::Instant;

use anyhow::Result;
use serde::Serialize;
use trainer::DataSplits;
use trainer::checkpoint::{self, SavedRun};
use trainer::provenance::{Process, Provenance};
use trainer::run::{EpochMetrics, TrainState};

use crate::commands::run_report;
pub use crate::commands::run_report::Status;
pub use crate::commands::train::data_of_saved;
use crate::output::{OutDir, UserError};

#[derive(Serialize)]
struct Summary<'a> {
    command: &'static str,
    preset: Option<&'a str>,
    seed: u64,
    epochs: usize,
    final_test_error: f64,
    final_test_error_persistent: f64,
    final_train_error: Option<f64>,
    /// How many training examples `final_train_error` scored (`training.train_eval_examples`).
    final_train_eval_examples: Option<usize>,
    final_train_error_running: f64,
    epoch_seconds: Vec<f64>,
    /// Wall time of this process (data loading and checkpoint writes included; a resumed run
    /// counts only since its resumption).
    total_seconds: f64,
    /// Training and evaluation seconds summed over every epoch of the run, across `--resume`.
    run_seconds: f64,
    /// SHA-256 of the parameters (see `docs/formats.md`).
    model_sha256: String,
    /// Examples of the training, validation and test sets.
    examples: Examples,
    /// The epoch the selection rule (`training.select`) chose, with its validation and test
    /// errors; the `final_*` figures are the last epoch's.
    selected: Selected,
    provenance: Provenance,
    config: &'a ebm_config::Config,
}

#[derive(Serialize)]
struct Examples {
    train: usize,
    validation: usize,
    test: usize,
}

#[derive(Serialize)]
struct Selected {
    /// `last` or `best-validation`.
    rule: ebm_config::Selection,
    epoch: Option<usize>,
    validation_error: Option<f64>,
    test_error: Option<f64>,
    test_error_persistent: Option<f64>,
    /// The model file of that epoch.
    model: Option<&'static str>,
}

/// The file `best-validation` keeps the selected epoch's model in.
pub const BEST_MODEL: &str = "best-model.npz";

/// The files of one training run in its results directory.
pub struct RunFiles<'a> {
    out: &'a OutDir,
    data: &'a DataSplits,
    preset: Option<&'a str>,
    started: Instant,
    /// (epochs, minibatches) done at the last checkpoint on disk, if any.
    saved: Option<(usize, usize)>,
    /// The thread writing the latest checkpoint, if it has not been waited for.
    writing: Option<std::thread::JoinHandle<Result<(usize, usize), trainer::TrainError>>>,
}

impl<'a> RunFiles<'a> {
    /// The files of the run on `data` in `out`, started (this process) at `started`; `preset`
    /// is what `summary.json` names; `resumed` is `Some` for a run continued from the
    /// checkpoint already in `out` (so a failure before the next one still names it).
    pub fn new(
        out: &'a OutDir,
        data: &'a DataSplits,
        preset: Option<&'a str>,
        started: Instant,
        resumed: Option<(usize, usize)>,
    ) -> Self {
        Self { out, data, preset, started, saved: resumed, writing: None }
    }

    /// The results directory.
    pub fn out(&self) -> &OutDir {
        self.out
    }

    /// After epoch `m`: the model, the selected epoch's model when `m` is it, the checkpoint
    /// when due (`training.checkpoint_every`), and the results (metrics, summary, report).
    pub fn after_epoch(&mut self, m: &EpochMetrics, state: &TrainState) -> Result<()> {
        self.save_model(state)?;
        if state.selected.as_ref().is_some_and(|s| s.epoch == m.epoch) {
            self.out.register(BEST_MODEL)?;
            checkpoint::save_model(&self.out.join(BEST_MODEL), state)?;
        }
        if state.checkpoint_due_after_epoch(m.epoch) {
            self.save_checkpoint(state)?;
        }
        self.write_results(state, Status::Running)
    }

    /// After a minibatch: the checkpoint when due (`training.checkpoint_every_batches`).
    pub fn after_batch(&mut self, state: &TrainState) -> Result<()> {
        if state.checkpoint_due_after_batch() {
            self.save_checkpoint(state)?;
        }
        Ok(())
    }

    /// The run stopped before its last epoch (Ctrl-C, a callback): the state at the minibatch
    /// boundary saved (model and checkpoint, so it can be resumed) and the results marked
    /// interrupted.
    pub fn save_interrupted(&mut self, state: &TrainState) -> Result<()> {
        self.save_model(state)?;
        self.save_checkpoint(state)?;
        self.wait_checkpoint()?;
        self.write_results(state, Status::Interrupted)
    }

    /// Write the resume state: encoded here (a copy in memory), written and synced by a
    /// thread of its own while training goes on, so the run does not wait for the disk. One
    /// write at a time: a new checkpoint first waits for the previous one (and reports its
    /// error, if any).
    pub fn save_checkpoint(&mut self, state: &TrainState) -> Result<()> {
        self.wait_checkpoint()?;
        self.out.register(checkpoint::FILE_NAME)?;
        let encoded = checkpoint::encode_checkpoint(&self.out.join(checkpoint::FILE_NAME), state)?;
        self.writing = Some(std::thread::spawn(move || {
            encoded.write()?;
            // Logged once it is on disk (a killed run's log never names a checkpoint it lacks).
            tracing::info!(
                "checkpoint: {} epochs + {} minibatches done -> {}",
                encoded.done.0,
                encoded.done.1,
                encoded.path().display()
            );
            Ok(encoded.done)
        }));
        Ok(())
    }

    /// Wait for the checkpoint being written, if any.
    pub fn wait_checkpoint(&mut self) -> Result<()> {
        if let Some(writer) = self.writing.take() {
            let done = writer
                .join()
                .map_err(|_| anyhow::anyhow!("the thread writing checkpoint.npz panicked"))??;
            self.saved = Some(done);
        }
        Ok(())
    }

    /// The model file (`model.npz`) of the state.
    pub fn save_model(&self, state: &TrainState) -> Result<()> {
        self.out.register(checkpoint::MODEL_FILE_NAME)?;
        checkpoint::save_model(&self.out.join(checkpoint::MODEL_FILE_NAME), state)?;
        Ok(())
    }

    /// What is left on disk after a failure, for the error message.
    pub fn last_good(&self) -> String {
        match self.saved {
            Some((epoch, batch)) => format!(
                "last good checkpoint kept: {} ({epoch} epochs + {batch} minibatches done)",
                self.out.join(checkpoint::FILE_NAME).display()
            ),
            None => "no checkpoint had been written".to_owned(),
        }
    }

    /// `metrics.csv`, `summary.json` and (with `output.plots`) the pictures and report.
    pub fn write_results(&self, state: &TrainState, status: Status) -> Result<()> {
        write_results(self.out, state, self.data, self.preset, self.started, status)
    }
}

fn write_results(
    out: &OutDir,
    state: &TrainState,
    data: &DataSplits,
    preset: Option<&str>,
    started: Instant,
    status: Status,
) -> Result<()> {
    let depth = state.net.depth();
    let mut csv = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> = [
        "epoch",
        "train_error_running",
        "train_error",
        "test_error",
        "test_error_persistent",
        "validation_error",
        "validation_error_persistent",
        "mean_energy",
        "mean_cost",
    ]
    .map(String::from)
    .to_vec();
    header.extend((0..depth).map(|k| format!("rel_change_w{k}")));
    header.extend(["seconds".into(), "eval_seconds".into()]);
    csv.write_record(&header)?;
    for m in &state.history {
        let mut rec = vec![
            m.epoch.to_string(),
            m.train_error_running.to_string(),
            m.train_error.map(|e| e.to_string()).unwrap_or_default(),
            m.test_error.to_string(),
            m.test_error_persistent.to_string(),
            m.validation_error.map(|e| e.to_string()).unwrap_or_default(),
            m.validation_error_persistent.map(|e| e.to_string()).unwrap_or_default(),
            m.mean_energy.to_string(),
            m.mean_cost.to_string(),
        ];
        rec.extend(m.relative_weight_change.iter().map(|v| v.to_string()));
        rec.extend([m.seconds.to_string(), m.eval_seconds.to_string()]);
        csv.write_record(&rec)?;
    }
    let metrics = csv.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?;
    out.write("metrics.csv", &metrics)?;
    let last = state.history.last();
    let summary = Summary {
        command: "train",
        preset,
        seed: state.config.seed,
        epochs: state.history.len(),
        final_test_error: last.map_or(f64::NAN, |m| m.test_error),
        final_test_error_persistent: last.map_or(f64::NAN, |m| m.test_error_persistent),
        final_train_error: last.and_then(|m| m.train_error),
        final_train_eval_examples: last.and_then(|m| m.train_eval_examples),
        final_train_error_running: last.map_or(f64::NAN, |m| m.train_error_running),
        epoch_seconds: state.history.iter().map(|m| m.seconds).collect(),
        total_seconds: started.elapsed().as_secs_f64(),
        run_seconds: state.history.iter().map(|m| m.seconds + m.eval_seconds).sum(),
        model_sha256: checkpoint::parameters_sha256(&state.net),
        examples: Examples {
            train: state.train_particles.first().map_or(0, |p| p.nrows()),
            validation: state.validation_particles.first().map_or(0, |p| p.nrows()),
            test: state.test_particles.first().map_or(0, |p| p.nrows()),
        },
        selected: selected(state),
        provenance: state.provenance.stamped(),
        config: state.config.config(),
    };
    out.write_json("summary.json", &summary)?;
    if state.config.output.plots && !state.history.is_empty() {
        run_report::write(out, state, data, preset, &metrics, status)?;
    }
    Ok(())
}

/// The selected epoch as `summary.json` reports it: the best validation epoch so far, or the
/// last epoch.
fn selected(state: &TrainState) -> Selected {
    let rule = state.config.training.select;
    match (&state.selected, state.history.last()) {
        (Some(s), _) => Selected {
            rule,
            epoch: Some(s.epoch),
            validation_error: Some(s.validation_error),
            test_error: Some(s.test_error),
            test_error_persistent: Some(s.test_error_persistent),
            model: Some(BEST_MODEL),
        },
        (None, Some(m)) if rule == ebm_config::Selection::Last => Selected {
            rule,
            epoch: Some(m.epoch),
            validation_error: m.validation_error,
            test_error: Some(m.test_error),
            test_error_persistent: Some(m.test_error_persistent),
            model: Some(checkpoint::MODEL_FILE_NAME),
        },
        _ => Selected {
            rule,
            epoch: None,
            validation_error: None,
            test_error: None,
            test_error_persistent: None,
            model: None,
        },
    }
}

/// The run's buffers would not fit in the memory available (refused before they are
/// allocated: a run killed for memory loses everything).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct MemoryShortfall(pub String);

/// Refuse a run whose buffers would not fit in the memory available, before allocating them.
pub fn check_memory(
    config: &ebm_config::ValidConfig,
    data: &DataSplits,
) -> Result<(), MemoryShortfall> {
    let mut system = sysinfo::System::new();
    system.refresh_memory();
    let threads = rayon::current_num_threads();
    match trainer::run::memory_shortfall(config, data, threads, system.available_memory()) {
        Some(why) => Err(MemoryShortfall(why)),
        None => Ok(()),
    }
}

/// Continue the run whose results directory is `dir`: in place, or into `out` when that is
/// another directory (a fork that leaves `dir` untouched). The saved config is used with
/// `overrides` (`path=value`, the keys that may change) on top; `data` loads the data for the
/// saved run (the checkpoint refuses data with another fingerprint); `process` is recorded in
/// the resumed provenance.
pub fn resume(
    dir: &Path,
    out: Option<&Path>,
    overrides: &[String],
    force: bool,
    process: Process,
    data: impl FnOnce(&SavedRun, &Path) -> Result<DataSplits>,
) -> Result<(TrainState, OutDir, DataSplits)> {
    let fork = out.filter(|o| !same_dir(o, dir));
    // In place, the directory is locked before the checkpoint is read: a run still writing
    // there is refused, and one that just finished leaves its last checkpoint to read.
    let in_place = match fork {
        Some(_) => None,
        None if dir.is_dir() => Some(OutDir::existing(dir)?),
        None => None,
    };
    let path = dir.join(checkpoint::FILE_NAME);
    if !path.exists() {
        return Err(no_checkpoint(dir).into());
    }
    let saved = checkpoint::read_saved(&path, overrides)?;
    let data = data(&saved, &path)?;
    check_memory(&saved.config, &data)?;
    let mut state = checkpoint::load(&path, &data, overrides)?;
    state.provenance = Provenance::resumed(state.provenance, process);
    tracing::info!(
        "resuming {} at epoch {}, minibatch {}{}",
        path.display(),
        state.epoch + 1,
        state.batch,
        fork.map(|f| format!(" into {}", f.display())).unwrap_or_default()
    );
    let out = match in_place {
        Some(out) => out,
        None => OutDir::fresh(fork.unwrap_or(dir), force)?,
    };
    Ok((state, out, data))
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// The error for `--resume DIR` when `DIR` holds no checkpoint: the run was stopped (or
/// killed) before writing its first one, so there is nothing to continue.
fn no_checkpoint(dir: &Path) -> UserError {
    if !dir.is_dir() {
        return UserError(format!("--resume {}: no such results directory", dir.display()));
    }
    UserError(format!(
        "--resume {}: the directory holds no {} (the run stopped before its first checkpoint): start the run again with --out {} --force",
        dir.display(),
        checkpoint::FILE_NAME,
        dir.display()
    ))
}
