//! `ebm train`: equilibrium propagation on MNIST, with checkpoints, model files and
//! `--resume`; and the data resolution `ebm eval` shares.
//!
//! (Above 500 lines: one command's whole life, from the choice of a new run, a resume or a
//! fork, through the observer that writes the model, checkpoint and per-epoch results, to the
//! summary and plots; each part is a short function, and splitting them across files would
//! separate the run's file contract from the code that keeps it.)

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use trainer::checkpoint::{self, SavedRun};
use trainer::provenance::{Process, Provenance};
use trainer::run::{EpochMetrics, Observer, TrainState};
use trainer::{DataSplits, Limits, Location, Outcome};

use ebm_config::Section;

use super::run_report::{self, Status};
use crate::cli::{GlobalOpts, TrainArgs};
use crate::logging::progress_enabled;
use crate::output::{Interrupted, OutDir, UserError, error_line, results_dir};

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
const BEST_MODEL: &str = "best-model.npz";

struct CliObserver<'a> {
    out: &'a OutDir,
    data: &'a DataSplits,
    stop: Arc<AtomicBool>,
    bar: Option<ProgressBar>,
    preset: Option<&'a str>,
    started: Instant,
    /// (epochs, minibatches) done at the last checkpoint on disk, if any.
    saved: Option<(usize, usize)>,
    /// The thread writing the latest checkpoint, if it has not been waited for.
    writing: Option<std::thread::JoinHandle<Result<(usize, usize), trainer::TrainError>>>,
    /// When this process's first minibatch finished and the (epochs, minibatches) done then:
    /// the whole-run ETA's pace is measured from there (data loading left out).
    pace_from: Option<(Instant, (usize, usize))>,
    /// The epochs the run trains in all.
    epochs: usize,
    /// The last epoch's test error (zero start).
    last_test: Option<f64>,
}

impl CliObserver<'_> {
    /// Write the resume state: encoded here (a copy in memory), written and synced by a
    /// thread of its own while training goes on, so the run does not wait for the disk. One
    /// write at a time: a new checkpoint first waits for the previous one (and reports its
    /// error, if any).
    fn save_checkpoint(&mut self, state: &TrainState) -> Result<()> {
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
    fn wait_checkpoint(&mut self) -> Result<()> {
        if let Some(writer) = self.writing.take() {
            let done = writer
                .join()
                .map_err(|_| anyhow::anyhow!("the thread writing checkpoint.npz panicked"))??;
            self.saved = Some(done);
        }
        Ok(())
    }

    fn save_model(&self, state: &TrainState) -> Result<()> {
        self.out.register(checkpoint::MODEL_FILE_NAME)?;
        checkpoint::save_model(&self.out.join(checkpoint::MODEL_FILE_NAME), state)?;
        Ok(())
    }

    /// The progress bar's message: the epoch of the run, the last test error, the run's ETA.
    fn progress(&self, epoch: usize, batch: usize, total: usize) -> String {
        let mut m = format!("epoch {epoch}/{}", self.epochs);
        if let Some(t) = self.last_test {
            m.push_str(&format!(" | last test {:.2}%", 100.0 * t));
        }
        if let Some(eta) = self.eta(epoch, batch, total) {
            m.push_str(&format!(" | run ETA {eta}"));
        }
        m
    }

    /// The time left for the whole run at minibatch `batch` (of `total`) of epoch `epoch`
    /// (1-based), from this process's pace so far (evaluations and writes included); `None`
    /// before there is a pace or after the last epoch.
    fn eta(&self, epoch: usize, batch: usize, total: usize) -> Option<String> {
        let (since, from) = self.pace_from?;
        let at = |e: usize, b: usize| (e * total + b) as f64;
        let done = at(epoch - 1, batch) - at(from.0, from.1);
        let left = at(self.epochs, 0) - at(epoch - 1, batch);
        if done <= 0.0 || left <= 0.0 {
            return None;
        }
        let secs = since.elapsed().as_secs_f64() * left / done;
        Some(
            humantime::format_duration(std::time::Duration::from_secs(secs.round() as u64))
                .to_string(),
        )
    }

    /// What is left on disk after a failure, for the error message.
    fn last_good(&self) -> String {
        match self.saved {
            Some((epoch, batch)) => format!(
                "last good checkpoint kept: {} ({epoch} epochs + {batch} minibatches done)",
                self.out.join(checkpoint::FILE_NAME).display()
            ),
            None => "no checkpoint had been written".to_owned(),
        }
    }

    fn write_results(&self, state: &TrainState, status: Status) -> Result<()> {
        write_results(self.out, state, self.data, self.preset, self.started, status)
    }
}

impl Observer for CliObserver<'_> {
    type Error = anyhow::Error;

    fn on_batch(&mut self, epoch: usize, batch: usize, total: usize) {
        if self.pace_from.is_none() {
            self.pace_from = Some((Instant::now(), (epoch - 1, batch)));
        }
        if let Some(bar) = &self.bar {
            if batch == 1 {
                bar.set_length(total as u64);
            }
            if batch == 1 || batch.is_multiple_of(16) {
                bar.set_message(self.progress(epoch, batch, total));
            }
            bar.set_position(batch as u64);
        }
    }

    fn on_evaluation(&mut self, epoch: usize) {
        if let Some(bar) = &self.bar {
            bar.set_message(format!("epoch {epoch}/{}: evaluating", self.epochs));
        }
    }

    fn on_epoch(&mut self, m: &EpochMetrics, state: &TrainState) -> Result<()> {
        self.last_test = Some(m.test_error);
        let total = state.batches_per_epoch();
        let eta = self.eta(m.epoch + 1, 0, total);
        tracing::info!(
            "epoch {}/{}: train {:.2}% (running) {} |{} test {:.2}% (zero start) {:.2}% (persistent) | E {:.3} C {:.4} | {:.2}s + eval {:.2}s{}",
            m.epoch,
            self.epochs,
            100.0 * m.train_error_running,
            reevaluated(m, " "),
            m.validation_error
                .map(|e| format!(" validation {:.2}% |", 100.0 * e))
                .unwrap_or_default(),
            100.0 * m.test_error,
            100.0 * m.test_error_persistent,
            m.mean_energy,
            m.mean_cost,
            m.seconds,
            m.eval_seconds,
            eta.map(|e| format!(" | run ETA {e}")).unwrap_or_default(),
        );
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

    fn after_batch(&mut self, state: &TrainState) -> Result<()> {
        if state.checkpoint_due_after_batch() {
            self.save_checkpoint(state)?;
        }
        Ok(())
    }

    fn should_stop(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
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

/// Load the data at `location` (the first examples per `limits`), logging what was loaded.
fn load_location(location: &Location, limits: Limits) -> Result<DataSplits> {
    let mnist = DataSplits::load(location, limits)?;
    tracing::info!(
        "data: {}: {} training, {} test examples",
        mnist.source,
        mnist.train.len(),
        mnist.test.len()
    );
    Ok(mnist)
}

/// The data of a new run (or of a command that reads MNIST): `--data` (a directory, or
/// `embedded`), else the config's `data.dir`, else the embedded subset; the config's limits
/// applied.
pub(super) fn load_data(
    dir: Option<&Path>,
    config: &ebm_config::ValidConfig,
) -> Result<DataSplits> {
    let location = match dir {
        Some(dir) => Location::from_arg(dir),
        None => trainer::data::location_of(&config.data),
    };
    load_location(&location, Limits::from_config(&config.data))
}

/// The data a saved run is continued or evaluated on: `--data` when given, else the source the
/// run recorded (which must still exist). Whether other data is accepted is the caller's call.
pub(super) fn data_of_saved(
    dir: Option<&Path>,
    saved: &SavedRun,
    file: &Path,
) -> Result<DataSplits> {
    let limits = Limits::from_config(&saved.config.data);
    let location = match (dir, &saved.provenance) {
        (Some(dir), _) => Location::from_arg(dir),
        (None, Some(p)) => match &p.data.source {
            Location::Dir(d) if !d.is_dir() => {
                return Err(UserError(format!(
                    "the data directory {} that {} records no longer exists: pass --data DIR holding the same data (fingerprint {})",
                    d.display(),
                    file.display(),
                    p.data.fingerprint
                ))
                .into());
            }
            recorded => recorded.clone(),
        },
        (None, None) => match &saved.config.data.dir {
            Some(d) => Location::from_arg(d),
            None => {
                return Err(UserError(format!(
                    "{} does not record its data (written by an older ebm): pass --data DIR, or --data embedded for the embedded subset",
                    file.display()
                ))
                .into());
            }
        },
    };
    load_location(&location, limits)
}

/// This process, as the provenance of what it writes records it.
pub(super) fn this_process() -> Process {
    Process::start(
        env!("CARGO_PKG_VERSION"),
        env!("EBM_GIT_COMMIT"),
        std::env::args().collect(),
        rayon::current_num_threads(),
    )
}

/// Refuse a run whose buffers would not fit in the memory available, before allocating them.
fn check_memory(config: &ebm_config::ValidConfig, data: &DataSplits) -> Result<()> {
    let mut system = sysinfo::System::new();
    system.refresh_memory();
    let threads = rayon::current_num_threads();
    match trainer::run::memory_shortfall(config, data, threads, system.available_memory()) {
        Some(why) => Err(UserError(why).into()),
        None => Ok(()),
    }
}

/// `ebm train`.
pub fn run(args: &TrainArgs, global: &GlobalOpts) -> Result<()> {
    let started = Instant::now();
    // Bad input (config, data, checkpoint) is refused before the results directory is taken
    // or changed. A directory is locked before anything in it is read or written; one this
    // run created is removed again if nothing was written to it.
    let (mut state, out, data) = match &args.resume {
        Some(dir) => resume(args, global, dir)?,
        None => {
            let config = super::load(global, &Section::TRAIN)?;
            let data = load_data(args.data.as_deref(), &config)?;
            check_memory(&config, &data)?;
            let out = OutDir::fresh(&results_dir(global, &config, "train"), global.force)?;
            let mut state = TrainState::new(config, &data)?;
            state.provenance.process = this_process();
            (state, out, data)
        }
    };
    train_loop(&mut state, &data, &out, global, started, args.resume.is_some())
}

/// Continue the run in `dir` (in place, or into `--out` as a fork that leaves `dir` untouched).
fn resume(
    args: &TrainArgs,
    global: &GlobalOpts,
    dir: &Path,
) -> Result<(TrainState, OutDir, DataSplits)> {
    if global.config.is_some() || global.preset.is_some() {
        return Err(UserError(
            "--resume continues the run's saved config: change it with --set PATH=VALUE, not --config or --preset".into(),
        )
        .into());
    }
    let fork = global.out.as_deref().filter(|o| !same_dir(o, dir));
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
    let overrides = super::overrides(global);
    let saved = checkpoint::read_saved(&path, &overrides)?;
    let data = data_of_saved(args.data.as_deref(), &saved, &path)?;
    check_memory(&saved.config, &data)?;
    let mut state = checkpoint::load(&path, &data, &overrides)?;
    state.provenance = Provenance::resumed(state.provenance, this_process());
    tracing::info!(
        "resuming {} at epoch {}, minibatch {}{}",
        path.display(),
        state.epoch + 1,
        state.batch,
        fork.map(|f| format!(" into {}", f.display())).unwrap_or_default()
    );
    let out = match in_place {
        Some(out) => out,
        None => OutDir::fresh(fork.unwrap_or(dir), global.force)?,
    };
    Ok((state, out, data))
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

fn train_loop(
    state: &mut TrainState,
    data: &DataSplits,
    out: &OutDir,
    global: &GlobalOpts,
    started: Instant,
    resumed: bool,
) -> Result<()> {
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        let dir = out.path().display().to_string();
        ctrlc::set_handler(move || {
            if stop.swap(true, Ordering::SeqCst) {
                eprintln!(
                    "error: interrupted twice: exiting at once; the last checkpoint in {dir} is kept"
                );
                std::process::exit(130);
            }
        })
        .context("cannot install the SIGINT handler")?;
    }
    let bar = progress_enabled().then(|| {
        let bar = ProgressBar::new(state.batches_per_epoch() as u64);
        bar.set_style(
            ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} minibatches")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar
    });
    let preset = global.preset.clone();
    let mut observer = CliObserver {
        out,
        data,
        stop,
        bar: bar.clone(),
        preset: preset.as_deref(),
        started,
        saved: resumed.then_some((state.epoch, state.batch)),
        writing: None,
        pace_from: None,
        epochs: state.config.training.epochs,
        last_test: state.history.last().map(|m| m.test_error),
    };
    tracing::info!(
        "training {:?} for {} epochs (seed {}) -> {}",
        state.config.model.layers,
        state.config.training.epochs,
        state.config.seed,
        out.path().display()
    );
    let outcome = trainer::train(state, data, &mut observer);
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    // The last checkpoint is on disk before the run reports anything, success or failure.
    let written = observer.wait_checkpoint();
    let outcome = outcome.and_then(|o| written.map(|()| o));
    // On an error the state in memory is not saved (it may hold NaN): what is on disk is the
    // last good checkpoint.
    let outcome = outcome.map_err(|e| -> anyhow::Error {
        let note = observer.last_good();
        if crate::output::exit_code(&e) == 2 {
            UserError(format!("{}; {note}", error_line(&e))).into()
        } else {
            e.context(note)
        }
    })?;
    if outcome == Outcome::Interrupted {
        observer.save_model(state)?;
        observer.save_checkpoint(state)?;
        observer.wait_checkpoint()?;
        observer.write_results(state, Status::Interrupted)?;
        return Err(Interrupted(out.path().display().to_string()).into());
    }
    if let Some(m) = state.history.last() {
        crate::say!(
            "test error {:.2}% (from zero states), {:.2}% (persistent particles); train error {:.2}% (running){}; {} epochs in {:.1}s ({:.1}s training, {:.1}s evaluation) -> {}",
            100.0 * m.test_error,
            100.0 * m.test_error_persistent,
            100.0 * m.train_error_running,
            reevaluated(m, ", "),
            state.history.len(),
            started.elapsed().as_secs_f64(),
            state.history.iter().map(|m| m.seconds).sum::<f64>(),
            state.history.iter().map(|m| m.eval_seconds).sum::<f64>(),
            out.path().display()
        )?;
    }
    Ok(())
}

/// `"{sep}1.23% (re-evaluated on 10000 examples)"`, or nothing in an epoch without the
/// re-evaluation.
fn reevaluated(m: &EpochMetrics, sep: &str) -> String {
    let Some(e) = m.train_error else { return String::new() };
    let on = m.train_eval_examples.map(|n| format!(" on {n} examples")).unwrap_or_default();
    format!("{sep}{:.2}% (re-evaluated{on})", 100.0 * e)
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
