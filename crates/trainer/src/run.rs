//! The training run: epochs of minibatches, per-epoch evaluation and metrics, checkpoints, and
//! stopping on request (e.g. SIGINT) at a minibatch boundary.
//!
//! (About 500 lines: the run's state, its loop and its end-of-epoch figures, which share the
//! state's invariants: what a checkpoint holds is what the loop resumes from.)

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use ebm_config::{DataOrder, Selection, ValidConfig};
use ebm_core::{LayeredNet, Rho};
use ndarray::Array2;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::TrainError;
use crate::batch::Rows;
use crate::data::{DataSplits, Dataset};
use crate::ep::rules::{self, LearningRule};
use crate::ep::{self, Minibatch, Workspace};
use crate::evaluate::evaluate;
use crate::provenance::{Process, Provenance};
use crate::rng::{Stream, stream_rng};

/// What one epoch measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    /// Epoch (1-based).
    pub epoch: usize,
    /// Running training error: the free phase's argmax errors during the epoch (as the paper
    /// reports it).
    pub train_error_running: f64,
    /// The training set re-evaluated at the epoch's end, from zero states: all of it, or the
    /// fixed subsample `training.train_eval_examples` gives.
    pub train_error: Option<f64>,
    /// How many training examples `train_error` scored.
    #[serde(default)]
    pub train_eval_examples: Option<usize>,
    /// Test error from zero states (the network's own prediction).
    pub test_error: f64,
    /// Test error from persistent test particles carried across epochs (what the reference
    /// code reports).
    pub test_error_persistent: f64,
    /// Validation error from zero states (with a validation set): what `best-validation`
    /// selects on.
    #[serde(default)]
    pub validation_error: Option<f64>,
    /// Validation error from persistent validation particles.
    #[serde(default)]
    pub validation_error_persistent: Option<f64>,
    /// Mean `E` at the free fixed points of the epoch's minibatches.
    pub mean_energy: f64,
    /// Mean `C` at the free fixed points of the epoch's minibatches.
    pub mean_cost: f64,
    /// `|W_k(end) - W_k(start)| / |W_k(start)|` over the epoch, per weight layer.
    pub relative_weight_change: Vec<f64>,
    /// Seconds of the training loop (minibatches only).
    pub seconds: f64,
    /// Seconds of the end-of-epoch evaluations.
    pub eval_seconds: f64,
}

/// Running sums of the current epoch (kept in checkpoints so that a resumed epoch reports the
/// same figures).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PartialEpoch {
    /// Misclassified examples so far.
    pub errors: usize,
    /// Examples so far.
    pub examples: usize,
    /// Sum of free-phase energies.
    pub energy: f64,
    /// Sum of free-phase costs.
    pub cost: f64,
    /// Seconds of training so far.
    pub seconds: f64,
}

/// The epoch a run's selection rule chose, with its figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SelectedEpoch {
    /// Epoch (1-based).
    pub epoch: usize,
    /// Its validation error from zero states (what was selected on).
    pub validation_error: f64,
    /// Its test error from zero states (reported, never selected on).
    pub test_error: f64,
    /// Its test error from persistent particles.
    pub test_error_persistent: f64,
}

/// Everything a run needs to continue: the checkpoint's contents.
#[derive(Debug, Clone)]
pub struct TrainState {
    /// The effective configuration.
    pub config: ValidConfig,
    /// The network.
    pub net: LayeredNet<f32>,
    /// Persistent free-phase states of the training examples: `[k-1]`: `(n_train, n_k)`.
    pub train_particles: Vec<Array2<f32>>,
    /// Persistent free-phase states of the test examples: `[k-1]`: `(n_test, n_k)`.
    pub test_particles: Vec<Array2<f32>>,
    /// Persistent free-phase states of the validation examples (empty without a validation
    /// set): `[k-1]`: `(n_validation, n_k)`.
    pub validation_particles: Vec<Array2<f32>>,
    /// The epoch `training.select = "best-validation"` has selected so far.
    pub selected: Option<SelectedEpoch>,
    /// Completed epochs.
    pub epoch: usize,
    /// Minibatches completed in the current epoch.
    pub batch: usize,
    /// Running sums of the current epoch.
    pub partial: PartialEpoch,
    /// Weights at the start of the current epoch (for the relative change).
    pub epoch_start: Vec<Array2<f32>>,
    /// Metrics of the completed epochs.
    pub history: Vec<EpochMetrics>,
    /// What produced the run (saved with every checkpoint and model file).
    pub provenance: Provenance,
}

impl TrainState {
    /// A fresh run: Glorot-uniform weights from the seed, zero particles; its provenance names
    /// this process as the library sees it (a front end replaces `provenance.process` with
    /// what it knows: its version, commit and thread count).
    pub fn new(config: ValidConfig, data: &DataSplits) -> Result<Self, TrainError> {
        check_data(&config, data)?;
        let net = init_net(&config)?;
        let sizes = net.sizes();
        // Written once here, so that the pages are mapped before training starts: the first
        // write to a fresh page of a multi-threaded run costs a page fault and a TLB flush on
        // every other core (measured: +0.4 s in the first `ep-1h` epoch on 2 threads).
        let particles = |n: usize| {
            let zeroed = |u: usize| {
                let mut a = Array2::zeros((n, u));
                a.fill(0.0);
                a
            };
            sizes[1..].iter().map(|&u| zeroed(u)).collect()
        };
        Ok(Self {
            train_particles: particles(data.train.len()),
            test_particles: particles(data.test.len()),
            validation_particles: data
                .validation
                .as_ref()
                .map_or_else(Vec::new, |v| particles(v.len())),
            selected: None,
            epoch_start: net.weights.clone(),
            net,
            config,
            epoch: 0,
            batch: 0,
            partial: PartialEpoch::default(),
            history: Vec::new(),
            provenance: Self::default_provenance(data),
        })
    }

    /// The provenance of a run on `data` by this process, as the library sees it.
    pub fn default_provenance(data: &DataSplits) -> Provenance {
        let process = Process::start(
            env!("CARGO_PKG_VERSION"),
            "unknown",
            std::env::args().collect(),
            rayon::current_num_threads(),
        );
        Provenance::new(process, data.source.clone())
    }

    /// Minibatches per epoch (the last `n mod batch_size` examples are left out of each epoch,
    /// as in the reference code).
    pub fn batches_per_epoch(&self) -> usize {
        self.train_particles[0].nrows() / self.config.training.batch_size
    }

    /// Apply the selection rule to a finished epoch: under `best-validation`, an epoch whose
    /// validation error is lower than the selected one's becomes the selected epoch.
    fn select(&mut self, m: &EpochMetrics) {
        if self.config.training.select != Selection::BestValidation {
            return;
        }
        let Some(v) = m.validation_error else { return };
        if self.selected.as_ref().is_none_or(|s| v < s.validation_error) {
            self.selected = Some(SelectedEpoch {
                epoch: m.epoch,
                validation_error: v,
                test_error: m.test_error,
                test_error_persistent: m.test_error_persistent,
            });
        }
    }

    /// Whether every configured epoch is done.
    pub fn finished(&self) -> bool {
        self.epoch >= self.config.training.epochs
    }
}

/// The network a config describes, initialised Glorot-uniform from the seed's `Init` stream.
pub fn init_net(config: &ValidConfig) -> Result<LayeredNet<f32>, TrainError> {
    let mut rng = stream_rng(config.seed, Stream::Init, 0);
    Ok(LayeredNet::glorot_uniform(
        &config.model.layers,
        Rho::from_config(&config.model.rho),
        &mut rng,
    )?)
}

/// Why a run of `config` on `data` with `threads` threads cannot fit in `available` bytes
/// (the front end's measure of free memory; 0 = unknown), or `None` when it fits: the sentence
/// every front end shows before it allocates anything.
pub fn memory_shortfall(
    config: &ValidConfig,
    data: &DataSplits,
    threads: usize,
    available: u64,
) -> Option<String> {
    let held_out = data.test.len() + data.validation.as_ref().map_or(0, |v| v.len());
    let need = memory_estimate(config, data.train.len(), held_out, threads);
    let gb = |b: u64| b as f64 / 1e9;
    (available > 0 && need > available).then(|| {
        format!(
            "model.layers = {:?} with {} training and {} test examples needs about {:.1} GB of memory (parameters, persistent particles, data, buffers), more than the {:.1} GB available: use fewer or smaller layers or a data.train_limit",
            config.model.layers,
            data.train.len(),
            data.test.len(),
            gb(need),
            gb(available)
        )
    })
}

impl TrainState {
    /// Whether the resume state is due at the end of epoch `epoch` (1-based, just finished):
    /// at the run's end and every `training.checkpoint_every` epochs.
    pub fn checkpoint_due_after_epoch(&self, epoch: usize) -> bool {
        let every = self.config.training.checkpoint_every;
        self.finished() || (every > 0 && epoch.is_multiple_of(every))
    }

    /// Whether the resume state is due after the minibatch just done: every
    /// `training.checkpoint_every_batches` minibatches, except at an epoch's end (which
    /// [`TrainState::checkpoint_due_after_epoch`] decides, after the evaluation).
    pub fn checkpoint_due_after_batch(&self) -> bool {
        let every = self.config.training.checkpoint_every_batches;
        every > 0 && self.batch.is_multiple_of(every) && self.batch < self.batches_per_epoch()
    }
}

/// Bytes a run of `config` on `n_train` training and `n_test` test examples holds at its peak,
/// roughly (within a factor of about 1.5): the parameters and the epoch's starting weights,
/// the persistent particles of both sets, the data as floats, the minibatch workspace, one
/// evaluation chunk per thread, and the in-memory copy of a checkpoint while it is written.
/// Front ends compare it with the memory available before allocating anything.
pub fn memory_estimate(config: &ValidConfig, n_train: usize, n_test: usize, threads: usize) -> u64 {
    let float = std::mem::size_of::<f32>() as u64;
    let layers = &config.model.layers;
    let sum = |it: &mut dyn Iterator<Item = u64>| it.fold(0u64, u64::saturating_add);
    let weights = sum(&mut layers.windows(2).map(|w| (w[0] as u64).saturating_mul(w[1] as u64)));
    let units = sum(&mut layers[1..].iter().map(|&n| n as u64));
    let all_units = units.saturating_add(layers[0] as u64);
    let n = (n_train as u64).saturating_add(n_test as u64);
    let params = weights.saturating_mul(2 * float);
    let particles = n.saturating_mul(units).saturating_mul(float);
    let data = n.saturating_mul(layers[0] as u64).saturating_mul(float);
    let batch =
        (config.training.batch_size as u64).saturating_mul(all_units).saturating_mul(16 * float);
    let eval = (threads.max(1) as u64)
        .saturating_mul(crate::evaluate::EVAL_CHUNK as u64)
        .saturating_mul(all_units)
        .saturating_mul(6 * float);
    let checkpoint = params.saturating_add(particles);
    [params, particles, data, batch, eval, checkpoint].into_iter().fold(0, u64::saturating_add)
}

/// Check that the configuration fits the data.
pub fn check_data(config: &ValidConfig, data: &DataSplits) -> Result<(), TrainError> {
    let n_in = config.model.layers[0];
    if data.input_size() != n_in {
        let (rows, cols) = data.train.image_shape;
        return Err(TrainError::ConfigMismatch {
            field: "model.layers[0]",
            value: n_in.to_string(),
            reason: format!("the images have {} pixels ({rows}x{cols})", data.input_size()),
        });
    }
    let n_out = *config.model.layers.last().expect("validated");
    if n_out != data.classes() {
        return Err(TrainError::ConfigMismatch {
            field: "model.layers[-1]",
            value: n_out.to_string(),
            reason: format!(
                "the data has {} classes (labels 0 to {}): one output unit per class",
                data.classes(),
                data.classes().saturating_sub(1)
            ),
        });
    }
    if data.train.len() < config.training.batch_size {
        return Err(TrainError::ConfigMismatch {
            field: "training.batch_size",
            value: config.training.batch_size.to_string(),
            reason: format!("only {} training examples", data.train.len()),
        });
    }
    Ok(())
}

/// Receives progress and decides whether to stop early.
pub trait Observer {
    /// What the observer's own work (writing files, reporting) can fail with; the run's
    /// errors convert into it, so [`train`] returns it.
    type Error: From<TrainError>;
    /// A minibatch finished (`batch` of `total`, 1-based) in epoch `epoch` (1-based).
    fn on_batch(&mut self, _epoch: usize, _batch: usize, _total: usize) {}
    /// Called after [`Observer::on_batch`] with the state after the minibatch (its weights are
    /// finite), e.g. to write a checkpoint every N minibatches; an error stops the run.
    fn after_batch(&mut self, _state: &TrainState) -> Result<(), Self::Error> {
        Ok(())
    }
    /// An epoch's minibatches are done and its evaluation (test, validation, training
    /// subsample) starts.
    fn on_evaluation(&mut self, _epoch: usize) {}
    /// An epoch finished.
    fn on_epoch(
        &mut self,
        _metrics: &EpochMetrics,
        _state: &TrainState,
    ) -> Result<(), Self::Error> {
        Ok(())
    }
    /// Checked before every minibatch: `true` stops the run at that boundary.
    fn should_stop(&self) -> bool {
        false
    }
}

/// An observer that does nothing.
#[derive(Debug, Default)]
pub struct Silent;
impl Observer for Silent {
    type Error = TrainError;
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every epoch done.
    Finished,
    /// Stopped at a minibatch boundary on the observer's request.
    Interrupted,
}

/// Train until every configured epoch is done or the observer asks to stop, with the learning
/// rule `training.rule` names.
pub fn train<O: Observer + Send + ?Sized>(
    state: &mut TrainState,
    data: &DataSplits,
    observer: &mut O,
) -> Result<Outcome, O::Error>
where
    O::Error: Send,
{
    let rule = rules::for_config(&state.config, &state.net, state.config.training.batch_size);
    train_with(state, data, observer, rule)
}

/// [`train`] with the learning rule `rule` (e.g. a caller's own [`LearningRule`]).
///
/// The epochs run on a worker thread of the current rayon pool (the caller waits), and every
/// other worker of the pool polls for work meanwhile instead of going to sleep. A minibatch
/// forks its parts and products several times within a millisecond; a sleeping worker takes
/// about 150 us to wake on this project's (virtual) machine, longer than half a minibatch's
/// relaxation, so with sleeping workers 2 threads ran `ep-1h` no faster than 1. The cost: the
/// other cores are busy for the whole run.
pub fn train_with<O: Observer + Send + ?Sized>(
    state: &mut TrainState,
    data: &DataSplits,
    observer: &mut O,
    rule: Box<dyn LearningRule>,
) -> Result<Outcome, O::Error>
where
    O::Error: Send,
{
    let done = AtomicBool::new(false);
    rayon::scope(|s| {
        let home = rayon::current_thread_index();
        for _ in 1..rayon::current_num_threads() {
            let done = &done;
            s.spawn(move |_| keep_awake(done, home));
        }
        let outcome = epochs(state, data, observer, rule);
        done.store(true, Ordering::Release);
        outcome
    })
}

/// Run the pool's pending work as soon as it appears, until `done`. Returns at once on the
/// thread `home` that runs the epochs (which would otherwise never get back to them). When
/// idle it yields to the OS every 64 rounds, so that other processes' threads on the same
/// cores still run.
fn keep_awake(done: &AtomicBool, home: Option<usize>) {
    if rayon::current_thread_index() == home {
        return;
    }
    let mut idle = 0u32;
    while !done.load(Ordering::Acquire) {
        if rayon::yield_now() == Some(rayon::Yield::Executed) {
            idle = 0;
        } else {
            idle = idle.wrapping_add(1);
            if idle.is_multiple_of(64) {
                std::thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
        }
    }
}

fn epochs<O: Observer + ?Sized>(
    state: &mut TrainState,
    data: &DataSplits,
    observer: &mut O,
    rule: Box<dyn LearningRule>,
) -> Result<Outcome, O::Error> {
    check_data(&state.config, data)?;
    let config = state.config.clone();
    let batch_size = config.training.batch_size;
    let mut ws = Workspace::with_rule(&state.net, batch_size, rule);
    let total = state.batches_per_epoch();
    let train_eval = train_eval_set(&config, &data.train);
    while !state.finished() {
        let epoch = state.epoch;
        if state.batch == 0 {
            state.epoch_start = state.net.weights.clone();
            state.partial = PartialEpoch::default();
        }
        let order: Option<Vec<usize>> = match config.training.data_order {
            DataOrder::Fixed => None,
            DataOrder::Shuffled => {
                let mut idx: Vec<usize> = (0..data.train.len()).collect();
                idx.shuffle(&mut stream_rng(config.seed, Stream::Order, epoch as u64));
                Some(idx)
            }
        };
        for b in state.batch..total {
            if observer.should_stop() {
                return Ok(Outcome::Interrupted);
            }
            let start = Instant::now();
            let rows = match &order {
                None => Rows::Range(b * batch_size),
                Some(idx) => Rows::Indices(&idx[b * batch_size..(b + 1) * batch_size]),
            };
            let mb = Minibatch { data: &data.train, rows, epoch, index: b };
            let stats =
                ep::train_batch(&config, &mut state.net, &mut ws, &mut state.train_particles, mb)
                    .and_then(|stats| state.net.check_finite().map(|()| stats))
                    .map_err(|fault| TrainError::Diverged {
                        epoch: epoch + 1,
                        batch: b + 1,
                        fault,
                    })?;
            let p = &mut state.partial;
            p.errors += stats.errors;
            p.examples += batch_size;
            p.energy += stats.energy;
            p.cost += stats.cost;
            let seconds = start.elapsed().as_secs_f64();
            p.seconds += seconds;
            state.batch = b + 1;
            tracing::debug!(
                "epoch {} minibatch {}/{total}: free phase {} of {batch_size} misclassified, mean E {:.4}, mean C {:.5}; {:.1} ms",
                epoch + 1,
                b + 1,
                stats.errors,
                stats.energy / batch_size as f64,
                stats.cost / batch_size as f64,
                1e3 * seconds
            );
            observer.on_batch(epoch + 1, b + 1, total);
            observer.after_batch(state)?;
        }
        observer.on_evaluation(epoch + 1);
        let metrics = end_of_epoch(state, data, &train_eval)?;
        state.select(&metrics);
        state.history.push(metrics.clone());
        state.epoch += 1;
        state.batch = 0;
        observer.on_epoch(&metrics, state)?;
    }
    Ok(Outcome::Finished)
}

/// The training examples the end-of-epoch re-evaluation scores: all of them, or
/// `training.train_eval_examples` of them spread evenly (example `i n / m` for `i < m`).
pub fn train_eval_set<'a>(config: &ValidConfig, train: &'a Dataset) -> Cow<'a, Dataset> {
    let (n, m) = (train.len(), config.training.train_eval_examples);
    if m == 0 || m >= n {
        return Cow::Borrowed(train);
    }
    let rows: Vec<usize> = (0..m).map(|i| i * n / m).collect();
    Cow::Owned(train.select(&rows))
}

fn end_of_epoch(
    state: &mut TrainState,
    data: &DataSplits,
    train_eval: &Dataset,
) -> Result<EpochMetrics, TrainError> {
    let config = &state.config;
    let start = Instant::now();
    let steps = config.eval_steps();
    let cost = config.training.cost;
    let test = evaluate(config, &state.net, &data.test, steps, cost, None)?;
    let test_persistent =
        evaluate(config, &state.net, &data.test, steps, cost, Some(&mut state.test_particles))?;
    let (validation_error, validation_error_persistent) = match &data.validation {
        Some(v) => {
            let zero = evaluate(config, &state.net, v, steps, cost, None)?.error_rate();
            let particles = Some(state.validation_particles.as_mut_slice());
            let persistent = evaluate(config, &state.net, v, steps, cost, particles)?.error_rate();
            (Some(zero), Some(persistent))
        }
        None => (None, None),
    };
    let epoch = state.epoch + 1;
    let every = config.training.train_eval_every;
    let train = if every > 0 && (epoch.is_multiple_of(every) || epoch == config.training.epochs) {
        Some(evaluate(config, &state.net, train_eval, steps, cost, None)?.error_rate())
    } else {
        None
    };
    let train_eval_examples = train.map(|_| train_eval.len());
    let relative_weight_change = state
        .net
        .weights
        .iter()
        .zip(&state.epoch_start)
        .map(|(w, w0)| {
            let diff: f64 = w.iter().zip(w0).map(|(a, b)| f64::from(a - b).powi(2)).sum();
            let norm: f64 = w0.iter().map(|&a| f64::from(a).powi(2)).sum();
            (diff / norm.max(f64::MIN_POSITIVE)).sqrt()
        })
        .collect();
    let p = &state.partial;
    let n = p.examples.max(1) as f64;
    Ok(EpochMetrics {
        epoch,
        train_error_running: p.errors as f64 / n,
        train_error: train,
        train_eval_examples,
        test_error: test.error_rate(),
        test_error_persistent: test_persistent.error_rate(),
        validation_error,
        validation_error_persistent,
        mean_energy: p.energy / n,
        mean_cost: p.cost / n,
        relative_weight_change,
        seconds: p.seconds,
        eval_seconds: start.elapsed().as_secs_f64(),
    })
}
