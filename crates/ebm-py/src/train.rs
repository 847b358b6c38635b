//! `ebm.train`: `trainer::train` on a worker thread with the GIL released, an observer that
//! calls the Python callback after each epoch and writes `model.npz` / `checkpoint.npz` as
//! `ebm train` does, and Ctrl-C (`KeyboardInterrupt`) handled at a minibatch boundary after
//! the state is saved.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use ebm_config::{Section, ValidConfig};
use pyo3::exceptions::{PyMemoryError, PyOSError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::PyBool;
use trainer::checkpoint;
use trainer::provenance::Process;
use trainer::run::{EpochMetrics, Observer, TrainState};
use trainer::{DataSplits, Outcome, TrainError};

use crate::config::PyConfig;
use crate::convert::to_py;
use crate::data::data_arg;
use crate::net::PyNet;
use crate::train_err;

/// What a training run measured and produced.
#[pyclass(name = "Run", module = "ebm", frozen)]
pub struct PyRun {
    history: Vec<EpochMetrics>,
    net: Py<PyNet>,
    model_sha256: String,
    stopped: bool,
    out: Option<PathBuf>,
    config_toml: String,
}

#[pymethods]
impl PyRun {
    /// One dict per completed epoch with the fields of `summary.json`'s metrics (`epoch`,
    /// `train_error_running`, `train_error`, `test_error`, `test_error_persistent`,
    /// `validation_error`, `mean_energy`, `mean_cost`, `relative_weight_change`, `seconds`,
    /// `eval_seconds`, ...).
    #[getter]
    fn history<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &self.history)
    }

    /// The last epoch's test error from zero states (`None` if no epoch finished).
    #[getter]
    fn test_error(&self) -> Option<f64> {
        self.history.last().map(|m| m.test_error)
    }

    /// The trained network.
    #[getter]
    fn net(&self, py: Python<'_>) -> Py<PyNet> {
        self.net.clone_ref(py)
    }

    /// SHA-256 of the trained parameters: `summary.json`'s `model_sha256` for the same run of
    /// `ebm train`.
    #[getter]
    fn model_sha256(&self) -> String {
        self.model_sha256.clone()
    }

    /// Whether the run stopped before its last epoch (the callback returned `False`).
    #[getter]
    fn stopped(&self) -> bool {
        self.stopped
    }

    /// The directory `model.npz` and `checkpoint.npz` were written to, if any.
    #[getter]
    fn out(&self) -> Option<PathBuf> {
        self.out.clone()
    }

    /// The run's effective config.
    #[getter]
    fn config(&self) -> PyConfig {
        PyConfig::from_text(self.config_toml.clone())
    }

    fn __repr__(&self) -> String {
        let test = self.test_error().map_or("-".to_owned(), |t| format!("{:.2}%", 100.0 * t));
        format!(
            "ebm.Run(epochs={}, test_error={test}, stopped={})",
            self.history.len(),
            if self.stopped { "True" } else { "False" }
        )
    }
}

/// What stops a run: the trainer's errors, or the callback's exception.
enum RunError {
    Train(TrainError),
    Python(PyErr),
}

impl From<TrainError> for RunError {
    fn from(e: TrainError) -> Self {
        RunError::Train(e)
    }
}

struct PyObserver<'a> {
    on_epoch: Option<&'a Py<PyAny>>,
    /// Set by the callback's `False` or by Ctrl-C; checked before every minibatch.
    stop: &'a AtomicBool,
    out: Option<&'a Path>,
}

impl PyObserver<'_> {
    fn save_checkpoint(&self, state: &TrainState) -> Result<(), TrainError> {
        match self.out {
            Some(out) => checkpoint::save(&out.join(checkpoint::FILE_NAME), state),
            None => Ok(()),
        }
    }

    fn save_model(&self, state: &TrainState) -> Result<(), TrainError> {
        match self.out {
            Some(out) => checkpoint::save_model(&out.join(checkpoint::MODEL_FILE_NAME), state),
            None => Ok(()),
        }
    }
}

impl Observer for PyObserver<'_> {
    type Error = RunError;

    // The files as `ebm train` writes them: the model every epoch, the checkpoint every
    // `training.checkpoint_every` epochs, every `checkpoint_every_batches` minibatches and at
    // the end.
    fn on_epoch(&mut self, m: &EpochMetrics, state: &TrainState) -> Result<(), RunError> {
        self.save_model(state)?;
        if state.checkpoint_due_after_epoch(m.epoch) {
            self.save_checkpoint(state)?;
        }
        if let Some(callback) = self.on_epoch {
            let go_on = Python::attach(|py| -> PyResult<bool> {
                let result = callback.call1(py, (to_py(py, m)?,))?;
                Ok(!result.bind(py).is(PyBool::new(py, false)))
            })
            .map_err(RunError::Python)?;
            if !go_on {
                self.stop.store(true, Ordering::SeqCst);
            }
        }
        Ok(())
    }

    fn after_batch(&mut self, state: &TrainState) -> Result<(), RunError> {
        if state.checkpoint_due_after_batch() {
            self.save_checkpoint(state)?;
        }
        Ok(())
    }

    fn should_stop(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

/// Sets the flag and wakes the waiting thread when dropped (also when the run panics).
struct Done<'a>(&'a (Mutex<bool>, Condvar));

impl Drop for Done<'_> {
    fn drop(&mut self) {
        let (lock, cv) = self.0;
        *lock.lock().unwrap_or_else(|e| e.into_inner()) = true;
        cv.notify_all();
    }
}

/// Refuse a run whose buffers would not fit in the memory available (the CLI's check: a
/// notebook's kernel killed for memory loses everything).
fn check_memory(config: &ValidConfig, data: &DataSplits) -> PyResult<()> {
    let mut system = sysinfo::System::new();
    system.refresh_memory();
    let threads = rayon::current_num_threads();
    match trainer::run::memory_shortfall(config, data, threads, system.available_memory()) {
        Some(why) => Err(PyMemoryError::new_err(why)),
        None => Ok(()),
    }
}

/// Train a network by equilibrium propagation: the same numbers as `ebm train` with the same
/// config and data (bit for bit: `Run.model_sha256` is its `summary.json`'s).
///
/// - `config`: an `ebm.Config`, validated here (`ValueError` with the CLI's message).
/// - `data`: `None` (the config's `data.dir`, else the embedded MNIST subset), `"embedded"`, a
///   directory of the four MNIST IDX files, or numpy arrays `(x_train, y_train, x_test,
///   y_test)` (images `(n, pixels)` or `(n, rows, cols)`, float in [0, 1] or uint8; integer
///   labels); the config's `data.train_limit`, `test_limit` and `validation` apply.
/// - `out`: a directory to write `model.npz` (every epoch) and `checkpoint.npz` (as `ebm
///   train` does; `ebm train --resume DIR` continues it), atomically.
/// - `on_epoch(metrics: dict)`: called after every epoch; returning `False` stops the run
///   before the next minibatch (the run's `stopped` is then true); an exception it raises
///   stops the run and propagates.
///
/// The GIL is released while the run computes. Ctrl-C stops it at the next minibatch
/// boundary, saves the model and checkpoint when `out` is given, and raises
/// `KeyboardInterrupt`.
#[pyfunction]
#[pyo3(signature = (config, data = None, out = None, on_epoch = None))]
pub fn train(
    py: Python<'_>,
    config: PyRef<'_, PyConfig>,
    data: Option<&Bound<'_, PyAny>>,
    out: Option<PathBuf>,
    on_epoch: Option<Py<PyAny>>,
) -> PyResult<PyRun> {
    let valid = config.validate(&Section::TRAIN).map_err(crate::config_err)?;
    drop(config);
    if let Some(callback) = &on_epoch
        && !callback.bind(py).is_callable()
    {
        return Err(PyTypeError::new_err("on_epoch must be callable"));
    }
    let arg = data_arg(data, &valid)?;
    let data = py.detach(|| arg.load(&valid)).map_err(|e| train_err(e.into()))?;
    check_memory(&valid, &data)?;
    let config_toml = valid.to_toml_string();
    let mut state = TrainState::new(valid, &data).map_err(train_err)?;
    state.provenance.process = Process::start(
        concat!("ebm-py ", env!("CARGO_PKG_VERSION")),
        "unknown",
        std::env::args_os().map(|a| a.to_string_lossy().into_owned()).collect(),
        rayon::current_num_threads(),
    );
    if let Some(dir) = &out {
        std::fs::create_dir_all(dir).map_err(|e| {
            PyOSError::new_err(format!("cannot create the directory {}: {e}", dir.display()))
        })?;
    }
    let stop = AtomicBool::new(false);
    let mut observer = PyObserver { on_epoch: on_epoch.as_ref(), stop: &stop, out: out.as_deref() };
    let done = (Mutex::new(false), Condvar::new());
    let mut interrupt: Option<PyErr> = None;
    let joined = std::thread::scope(|s| {
        let run = s.spawn(|| {
            let _done = Done(&done);
            trainer::train(&mut state, &data, &mut observer)
        });
        // The GIL is taken back only to look for Ctrl-C, 10 times a second.
        loop {
            let finished = py.detach(|| {
                let (lock, cv) = &done;
                let guard = lock.lock().unwrap_or_else(|e| e.into_inner());
                let (guard, _) = cv
                    .wait_timeout_while(guard, Duration::from_millis(100), |d| !*d)
                    .unwrap_or_else(|e| e.into_inner());
                *guard
            });
            if finished {
                break;
            }
            if interrupt.is_none()
                && let Err(e) = py.check_signals()
            {
                interrupt = Some(e);
                stop.store(true, Ordering::SeqCst);
            }
        }
        run.join()
    });
    let outcome = match joined {
        Ok(outcome) => outcome,
        Err(panic) => std::panic::resume_unwind(panic),
    };
    let outcome = outcome.map_err(|e| match e {
        RunError::Train(e) => train_err(e),
        RunError::Python(e) => e,
    })?;
    let stopped = outcome == Outcome::Interrupted;
    if stopped {
        // As `ebm train` on Ctrl-C: the state at the minibatch boundary, resumable.
        let save = || -> Result<(), TrainError> {
            observer.save_model(&state)?;
            observer.save_checkpoint(&state)
        };
        py.detach(save).map_err(train_err)?;
    }
    if let Some(e) = interrupt {
        return Err(e);
    }
    let model_sha256 = checkpoint::parameters_sha256(&state.net);
    let net = Py::new(py, PyNet { net: state.net, config: state.config })?;
    Ok(PyRun { history: state.history, net, model_sha256, stopped, out, config_toml })
}
