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
use trainer::checkpoint::SavedRun;
use trainer::provenance::Process;
use trainer::run::{EpochMetrics, Observer, TrainState};
use trainer::{DataSplits, Limits, Location, Outcome};

use ebm_config::Section;

use crate::cli::{GlobalOpts, TrainArgs};
use crate::logging::progress_enabled;
use crate::output::{Interrupted, OutDir, UserError, error_line, results_dir};
use crate::run_files::RunFiles;

struct CliObserver<'a> {
    files: RunFiles<'a>,
    stop: Arc<AtomicBool>,
    bar: Option<ProgressBar>,
    /// When this process's first minibatch finished and the (epochs, minibatches) done then:
    /// the whole-run ETA's pace is measured from there (data loading left out).
    pace_from: Option<(Instant, (usize, usize))>,
    /// The epochs the run trains in all.
    epochs: usize,
    /// The last epoch's test error (zero start).
    last_test: Option<f64>,
}

impl CliObserver<'_> {
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
        self.files.after_epoch(m, state)
    }

    fn after_batch(&mut self, state: &TrainState) -> Result<()> {
        self.files.after_batch(state)
    }

    fn should_stop(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
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
pub fn data_of_saved(dir: Option<&Path>, saved: &SavedRun, file: &Path) -> Result<DataSplits> {
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
            Location::Memory => {
                return Err(UserError(format!(
                    "{} was trained on arrays held in memory (ebm.train(config, data=(x_train, ...)) from Python): pass --data DIR holding the same data (fingerprint {}), or continue it from Python with ebm.resume(DIR, data=...) and the same arrays",
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
        crate::GIT_COMMIT,
        std::env::args().collect(),
        rayon::current_num_threads(),
    )
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
            crate::run_files::check_memory(&config, &data)?;
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
    crate::run_files::resume(
        dir,
        global.out.as_deref(),
        &super::overrides(global),
        global.force,
        this_process(),
        |saved, path| data_of_saved(args.data.as_deref(), saved, path),
    )
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
        files: RunFiles::new(
            out,
            data,
            preset.as_deref(),
            started,
            resumed.then_some((state.epoch, state.batch)),
        ),
        stop,
        bar: bar.clone(),
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
    let written = observer.files.wait_checkpoint();
    let outcome = outcome.and_then(|o| written.map(|()| o));
    // On an error the state in memory is not saved (it may hold NaN): what is on disk is the
    // last good checkpoint.
    let outcome = outcome.map_err(|e| -> anyhow::Error {
        let note = observer.files.last_good();
        if crate::output::exit_code(&e) == 2 {
            UserError(format!("{}; {note}", error_line(&e))).into()
        } else {
            e.context(note)
        }
    })?;
    if outcome == Outcome::Interrupted {
        observer.files.save_interrupted(state)?;
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
