//! `ebm train` and `ebm eval`: equilibrium propagation on MNIST.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use trainer::checkpoint;
use trainer::evaluate::evaluate;
use trainer::run::{EpochMetrics, Observer, TrainState};
use trainer::{Mnist, Outcome, TrainError};

use crate::cli::{EvalArgs, GlobalOpts, TrainArgs};
use crate::logging::progress_enabled;
use crate::output::{Interrupted, OutDir, UserError, results_dir};
use crate::plot::{self, Chart, Series};

#[derive(Serialize)]
struct Summary<'a> {
    command: &'static str,
    preset: Option<&'a str>,
    seed: u64,
    data: String,
    epochs: usize,
    final_test_error: f64,
    final_test_error_persistent: f64,
    final_train_error: Option<f64>,
    final_train_error_running: f64,
    epoch_seconds: Vec<f64>,
    /// Wall time of this process (data loading and checkpoint writes included; a resumed run
    /// counts only since its resumption).
    total_seconds: f64,
    /// Training and evaluation seconds summed over every epoch of the run, across `--resume`.
    run_seconds: f64,
    config: &'a ebm_config::Config,
}

struct CliObserver<'a> {
    out: &'a OutDir,
    stop: Arc<AtomicBool>,
    bar: Option<ProgressBar>,
    preset: Option<&'a str>,
    data: String,
    started: Instant,
    /// (epochs, minibatches) done at the last checkpoint on disk, if any.
    saved: Option<(usize, usize)>,
}

impl CliObserver<'_> {
    fn save_checkpoint(&mut self, state: &TrainState) -> Result<(), TrainError> {
        let path = self.out.join(checkpoint::FILE_NAME);
        checkpoint::save(&path, state)?;
        self.saved = Some((state.epoch, state.batch));
        tracing::info!(
            "checkpoint: {} epochs + {} minibatches done -> {}",
            state.epoch,
            state.batch,
            path.display()
        );
        Ok(())
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

    fn write_results(&self, state: &TrainState) -> Result<(), TrainError> {
        let to_err = |e: anyhow::Error| TrainError::Write {
            path: self.out.path().to_owned(),
            source: std::io::Error::other(format!("{e:#}")),
        };
        write_results(self.out, state, self.preset, &self.data, self.started).map_err(to_err)
    }
}

impl Observer for CliObserver<'_> {
    fn on_batch(&mut self, epoch: usize, batch: usize, total: usize) {
        if let Some(bar) = &self.bar {
            if batch == 1 {
                bar.set_length(total as u64);
                bar.set_message(format!("epoch {epoch}"));
            }
            bar.set_position(batch as u64);
        }
    }

    fn on_epoch(&mut self, m: &EpochMetrics, state: &TrainState) -> Result<(), TrainError> {
        tracing::info!(
            "epoch {}: train {:.2}% (running) {} | test {:.2}% (zero start) {:.2}% (persistent) | E {:.3} C {:.4} | {:.2}s + eval {:.2}s",
            m.epoch,
            100.0 * m.train_error_running,
            m.train_error.map(|e| format!("{:.2}% (re-evaluated)", 100.0 * e)).unwrap_or_default(),
            100.0 * m.test_error,
            100.0 * m.test_error_persistent,
            m.mean_energy,
            m.mean_cost,
            m.seconds,
            m.eval_seconds,
        );
        let every = state.config.training.checkpoint_every;
        if state.finished() || (every > 0 && m.epoch.is_multiple_of(every)) {
            self.save_checkpoint(state)?;
        }
        self.write_results(state)
    }

    fn after_batch(&mut self, state: &TrainState) -> Result<(), TrainError> {
        let every = state.config.training.checkpoint_every_batches;
        // The end of an epoch is on_epoch's (after the evaluation).
        if every > 0 && state.batch.is_multiple_of(every) && state.batch < state.batches_per_epoch()
        {
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
    preset: Option<&str>,
    data: &str,
    started: Instant,
) -> Result<()> {
    let depth = state.net.depth();
    let mut csv = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> = [
        "epoch",
        "train_error_running",
        "train_error",
        "test_error",
        "test_error_persistent",
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
            m.mean_energy.to_string(),
            m.mean_cost.to_string(),
        ];
        rec.extend(m.relative_weight_change.iter().map(|v| v.to_string()));
        rec.extend([m.seconds.to_string(), m.eval_seconds.to_string()]);
        csv.write_record(&rec)?;
    }
    out.write("metrics.csv", &csv.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?)?;
    let last = state.history.last();
    let summary = Summary {
        command: "train",
        preset,
        seed: state.config.seed,
        data: data.to_owned(),
        epochs: state.history.len(),
        final_test_error: last.map_or(f64::NAN, |m| m.test_error),
        final_test_error_persistent: last.map_or(f64::NAN, |m| m.test_error_persistent),
        final_train_error: last.and_then(|m| m.train_error),
        final_train_error_running: last.map_or(f64::NAN, |m| m.train_error_running),
        epoch_seconds: state.history.iter().map(|m| m.seconds).collect(),
        total_seconds: started.elapsed().as_secs_f64(),
        run_seconds: state.history.iter().map(|m| m.seconds + m.eval_seconds).sum(),
        config: state.config.config(),
    };
    out.write_json("summary.json", &summary)?;
    if state.config.output.plots && !state.history.is_empty() {
        let curve = |f: &dyn Fn(&EpochMetrics) -> Option<f64>| -> Vec<(f64, f64)> {
            state.history.iter().filter_map(|m| f(m).map(|v| (m.epoch as f64, 100.0 * v))).collect()
        };
        let series = vec![
            Series::line("train (running)", curve(&|m| Some(m.train_error_running))),
            Series::line("train (re-evaluated, zero start)", curve(&|m| m.train_error)),
            Series::line("test (zero start)", curve(&|m| Some(m.test_error))),
            Series::line("test (persistent particles)", curve(&|m| Some(m.test_error_persistent))),
        ];
        let title = format!("Equilibrium propagation, {:?}", state.config.model.layers);
        let chart = Chart {
            title: &title,
            x_label: "epoch",
            y_label: "error (%)",
            log_x: false,
            log_y: true,
        };
        plot::svg(&out.join("learning_curve.svg"), &chart, &series)?;
    }
    Ok(())
}

pub(super) fn load_data(
    dir: Option<&Path>,
    config: &ebm_config::ValidConfig,
) -> Result<(Mnist, String)> {
    let mut data_config = config.data.clone();
    if let Some(dir) = dir {
        data_config.dir = Some(dir.to_owned());
    }
    let description = match &data_config.dir {
        Some(d) => format!("MNIST from {}", d.display()),
        None => "embedded MNIST subset (10k/2k)".to_owned(),
    };
    let mnist = Mnist::from_config(&data_config)?;
    tracing::info!(
        "data: {description}: {} training, {} test examples",
        mnist.train.len(),
        mnist.test.len()
    );
    Ok((mnist, description))
}

fn init_threads(threads: Option<usize>) -> Result<()> {
    if let Some(n) = threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
            .context("cannot configure the thread pool")?;
    }
    Ok(())
}

/// `ebm train`.
pub fn run(args: &TrainArgs, global: &GlobalOpts) -> Result<()> {
    init_threads(args.threads)?;
    let started = Instant::now();
    // Everything is read and checked before the results directory is created, so bad input
    // leaves nothing behind.
    let (mut state, out, data, description) = match &args.resume {
        Some(dir) => {
            let path = dir.join(checkpoint::FILE_NAME);
            if !path.exists() {
                return Err(no_checkpoint(dir).into());
            }
            let overrides = super::overrides(global);
            let saved = checkpoint::read_config(&path, &overrides)?;
            let (data, description) = load_data(args.data.as_deref(), &saved)?;
            let state = checkpoint::load(&path, &data, &overrides)?;
            tracing::info!(
                "resuming {} at epoch {}, minibatch {}",
                path.display(),
                state.epoch + 1,
                state.batch
            );
            (state, OutDir::create(dir, true)?, data, description)
        }
        None => {
            let config = super::load(global)?;
            let out_path = results_dir(global, &config, "train");
            OutDir::check(&out_path, global.force)?;
            let (data, description) = load_data(args.data.as_deref(), &config)?;
            let state = TrainState::new(config, &data)?;
            (state, OutDir::create(&out_path, global.force)?, data, description)
        }
    };
    let resumed = args.resume.is_some();
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        ctrlc::set_handler(move || {
            if stop.swap(true, Ordering::SeqCst) {
                std::process::exit(130);
            }
        })
        .context("cannot install the SIGINT handler")?;
    }
    let bar = progress_enabled().then(|| {
        let bar = ProgressBar::new(state.batches_per_epoch() as u64);
        bar.set_style(
            ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} minibatches ({eta})")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar
    });
    let preset = global.preset.clone();
    let mut observer = CliObserver {
        out: &out,
        stop,
        bar: bar.clone(),
        preset: preset.as_deref(),
        data: description,
        started,
        saved: resumed.then_some((state.epoch, state.batch)),
    };
    tracing::info!(
        "training {:?} for {} epochs (seed {}) -> {}",
        state.config.model.layers,
        state.config.training.epochs,
        state.config.seed,
        out.path().display()
    );
    let outcome = trainer::train(&mut state, &data, &mut observer);
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    // On an error the state in memory is not saved (it may hold NaN): what is on disk is the
    // last good checkpoint.
    let outcome = outcome.map_err(|e| -> anyhow::Error {
        let note = observer.last_good();
        out.remove_if_unused();
        if e.is_bad_input() {
            UserError(format!("{e}; {note}")).into()
        } else {
            anyhow::Error::new(e).context(note)
        }
    })?;
    if outcome == Outcome::Interrupted {
        observer.save_checkpoint(&state)?;
        observer.write_results(&state)?;
        return Err(Interrupted(out.path().display().to_string()).into());
    }
    if let Some(m) = state.history.last() {
        println!(
            "test error {:.2}% (from zero states), {:.2}% (persistent particles); train error {:.2}% (running){}; {} epochs in {:.1}s -> {}",
            100.0 * m.test_error,
            100.0 * m.test_error_persistent,
            100.0 * m.train_error_running,
            m.train_error
                .map(|e| format!(", {:.2}% (re-evaluated)", 100.0 * e))
                .unwrap_or_default(),
            state.history.len(),
            started.elapsed().as_secs_f64(),
            out.path().display()
        );
    }
    Ok(())
}

/// The error for `--resume DIR` when `DIR` holds no checkpoint: the run was stopped (or
/// killed) before writing its first one, so there is nothing to continue.
fn no_checkpoint(dir: &Path) -> UserError {
    let what = if dir.is_dir() { "holds no" } else { "does not exist, so there is no" };
    UserError(format!(
        "--resume {}: the directory {what} {} (the run stopped before its first checkpoint): start the run again with --out {} --force",
        dir.display(),
        checkpoint::FILE_NAME,
        dir.display()
    ))
}

/// `ebm eval`.
pub fn eval(args: &EvalArgs, global: &GlobalOpts) -> Result<()> {
    // The checkpoint carries its config; --set (and --seed) apply on top of it, as for
    // --resume. A second base config would be ambiguous, so --config / --preset are refused.
    if global.config.is_some() || global.preset.is_some() {
        return Err(crate::output::UserError(
            "ebm eval uses the checkpoint's config: change it with --set PATH=VALUE, not --config or --preset".into(),
        )
        .into());
    }
    let overrides = super::overrides(global);
    let (config, net) = checkpoint::load_net_with(&args.checkpoint, &overrides)?;
    let (data, description) = load_data(args.data.as_deref(), &config)?;
    trainer::run::check_data(&config, &data)?;
    let steps = args.steps.unwrap_or_else(|| config.eval_steps());
    let e = evaluate(&config, &net, &data.test, steps, config.training.cost, None)?;
    println!(
        "test error {:.2}% ({} of {} misclassified, free phase of {steps} steps from zero states) on {description}",
        100.0 * e.error_rate(),
        e.errors,
        e.examples
    );
    Ok(())
}
