//! `ebm.train` and `ebm.resume`: `trainer::train` on a worker thread with the GIL released
//! (in a pool of `threads` workers when asked), an observer that calls the Python callback after
//! each epoch and, with `out`, keeps the results directory exactly as `ebm train` does (the
//! CLI's own `ebm_cli::run_files`: lock, model, best model, checkpoint, `metrics.csv`,
//! `summary.json`, pictures and `report.html`), and Ctrl-C (`KeyboardInterrupt`) handled at a
//! minibatch boundary after the state is saved.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use ebm_cli::output::{NotEmpty, OutDir};
use ebm_cli::run_files::{self, MemoryShortfall, RunFiles};
use ebm_config::Section;
use pyo3::exceptions::{PyMemoryError, PyOSError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict};
use trainer::checkpoint;
use trainer::io::WriteError;
use trainer::provenance::Process;
use trainer::run::{EpochMetrics, Observer, TrainState};
use trainer::{DataSplits, Location, Outcome, TrainError};

use crate::config::PyConfig;
use crate::convert::{dict_overrides, to_py};
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

    /// The results directory (`model.npz`, `checkpoint.npz`, `metrics.csv`, `summary.json`,
    /// `report.html`, ...), if any.
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

/// What stops a run: the trainer's errors, the results directory's, or the callback's
/// exception.
enum RunError {
    Train(TrainError),
    Files(anyhow::Error),
    Python(PyErr),
}

impl From<TrainError> for RunError {
    fn from(e: TrainError) -> Self {
        RunError::Train(e)
    }
}

impl From<anyhow::Error> for RunError {
    fn from(e: anyhow::Error) -> Self {
        RunError::Files(e)
    }
}

impl From<RunError> for PyErr {
    fn from(e: RunError) -> Self {
        match e {
            RunError::Train(e) => train_err(e),
            RunError::Files(e) => files_err(e),
            RunError::Python(e) => e,
        }
    }
}

/// An error of the results directory or of resuming (as `ebm train` reports it, exit code
/// 2 or 1): `MemoryError` for a run too large, `OSError` for a failed write, the trainer's
/// mapping for its errors, `ValueError` for other bad input (a directory in use or not empty,
/// no checkpoint to resume), `RuntimeError` otherwise; with the CLI's message.
fn files_err(e: anyhow::Error) -> PyErr {
    let e = match e.downcast::<PyErr>() {
        Ok(py) => return py,
        Err(e) => e,
    };
    let e = match e.downcast::<TrainError>() {
        Ok(t) => return train_err(t),
        Err(e) => e,
    };
    if let Some(NotEmpty { path }) = e.downcast_ref::<NotEmpty>() {
        return PyValueError::new_err(format!(
            "results directory {} already exists and is not empty (pass force=True to replace the files of the earlier run)",
            path.display()
        ));
    }
    let msg = ebm_cli::output::error_line(&e);
    if e.chain().any(|c| c.is::<MemoryShortfall>()) {
        PyMemoryError::new_err(msg)
    } else if e.chain().any(|c| c.is::<WriteError>() || c.is::<std::io::Error>()) {
        PyOSError::new_err(msg)
    } else if ebm_cli::output::exit_code(&e) == 2 {
        PyValueError::new_err(msg)
    } else {
        pyo3::exceptions::PyRuntimeError::new_err(msg)
    }
}

struct PyObserver<'a> {
    on_epoch: Option<&'a Py<PyAny>>,
    /// Set by the callback's `False` or by Ctrl-C; checked before every minibatch.
    stop: &'a AtomicBool,
    /// The results directory's files, when `out` is given.
    files: Option<RunFiles<'a>>,
}

impl Observer for PyObserver<'_> {
    type Error = RunError;

    fn on_epoch(&mut self, m: &EpochMetrics, state: &TrainState) -> Result<(), RunError> {
        if let Some(files) = &mut self.files {
            files.after_epoch(m, state)?;
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
        if let Some(files) = &mut self.files {
            files.after_batch(state)?;
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

/// The worker threads of a run: a pool of `threads` when given (`--threads N`), else rayon's
/// global pool (`RAYON_NUM_THREADS`, else all cores).
struct Pool(Option<rayon::ThreadPool>);

impl Pool {
    fn new(threads: Option<usize>) -> PyResult<Self> {
        match threads {
            None => Ok(Pool(None)),
            Some(0) => Err(PyValueError::new_err("threads = 0: a run needs at least 1 thread")),
            Some(n) => rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .build()
                .map(|p| Pool(Some(p)))
                .map_err(|e| PyValueError::new_err(format!("cannot start {n} threads: {e}"))),
        }
    }

    fn install<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        match &self.0 {
            Some(pool) => pool.install(f),
            None => f(),
        }
    }

    fn threads(&self) -> usize {
        self.0
            .as_ref()
            .map_or_else(rayon::current_num_threads, rayon::ThreadPool::current_num_threads)
    }
}

/// This process, as the provenance of a run from Python records it: the package version, the
/// git commit it was built from, the interpreter's arguments and the threads.
fn this_process(threads: usize) -> Process {
    Process::start(
        concat!("ebm-py ", env!("CARGO_PKG_VERSION")),
        ebm_cli::GIT_COMMIT,
        std::env::args_os().map(|a| a.to_string_lossy().into_owned()).collect(),
        threads,
    )
}

/// Train a network by equilibrium propagation: the same numbers as `ebm train` with the same
/// config and data (bit for bit: `Run.model_sha256` is its `summary.json`'s).
///
/// - `config`: an `ebm.Config`, validated here (`ValueError` with the CLI's message).
/// - `data`: `None` (the config's `data.dir`, else the embedded MNIST subset), `"embedded"`, a
///   directory of the four MNIST IDX files, or numpy arrays `(x_train, y_train, x_test,
///   y_test)` (images `(n, pixels)` or `(n, rows, cols)`, float in [0, 1] or uint8; integer
///   labels); the config's `data.train_limit`, `test_limit` and `validation` apply.
/// - `out`: a results directory, kept as `ebm train --out` keeps it (locked while the run
///   lasts; `model.npz` every epoch, `best-model.npz`, `checkpoint.npz`, `metrics.csv`,
///   `summary.json`, pictures and `report.html`, all written atomically); a directory that is
///   not empty is refused unless `force=True` (which removes the files of the earlier run).
///   `ebm.resume(out)` or `ebm train --resume DIR` continues it.
/// - `on_epoch(metrics: dict)`: called after every epoch; returning `False` stops the run
///   before the next minibatch (the run's `stopped` is then true); an exception it raises
///   stops the run and propagates.
/// - `threads`: worker threads (default: `RAYON_NUM_THREADS`, else all cores); results do not
///   depend on it.
///
/// The GIL is released while the run computes. Ctrl-C stops it at the next minibatch
/// boundary, saves the model and checkpoint when `out` is given, and raises
/// `KeyboardInterrupt`.
#[pyfunction]
#[pyo3(signature = (config, data = None, out = None, on_epoch = None, *, threads = None, force = false))]
pub fn train(
    py: Python<'_>,
    config: PyRef<'_, PyConfig>,
    data: Option<&Bound<'_, PyAny>>,
    out: Option<PathBuf>,
    on_epoch: Option<Py<PyAny>>,
    threads: Option<usize>,
    force: bool,
) -> PyResult<PyRun> {
    let started = Instant::now();
    let valid = config.validate(&Section::TRAIN).map_err(crate::config_err)?;
    let preset = config.preset_name();
    drop(config);
    check_callable(py, on_epoch.as_ref())?;
    let pool = Pool::new(threads)?;
    let arg = data_arg(data, &valid)?;
    let data = py.detach(|| arg.load(&valid)).map_err(|e| train_err(e.into()))?;
    pool.install(|| run_files::check_memory(&valid, &data))
        .map_err(|e| PyMemoryError::new_err(e.0))?;
    let out =
        out.map(|dir| py.detach(|| OutDir::fresh(&dir, force))).transpose().map_err(files_err)?;
    let mut state = TrainState::new(valid, &data).map_err(train_err)?;
    state.provenance.process = this_process(pool.threads());
    run(py, state, &data, out.as_ref(), preset.as_deref(), on_epoch, &pool, started, false)
}

/// Continue the run in the results directory `run_dir` (its `checkpoint.npz`) on the data it
/// recorded, as `ebm train --resume DIR` does: the saved config, with `set` (a dict of the
/// keys that may change, e.g. `{"training.epochs": 30}`) on top.
///
/// - `data`: `None` (the data the run recorded, which must still be there), `"embedded"`, a
///   directory, or the arrays of a run trained on arrays; data with another fingerprint than
///   the run's is refused.
/// - `out`: `None` continues in place; another directory forks the run there and leaves
///   `run_dir` untouched (`force` as in `train`).
/// - `on_epoch` and `threads` as in `train`. The same numbers as a run never interrupted.
#[pyfunction]
#[pyo3(signature = (run_dir, data = None, out = None, on_epoch = None, *, set = None, threads = None, force = false))]
#[allow(clippy::too_many_arguments)]
pub fn resume(
    py: Python<'_>,
    run_dir: PathBuf,
    data: Option<&Bound<'_, PyAny>>,
    out: Option<PathBuf>,
    on_epoch: Option<Py<PyAny>>,
    set: Option<&Bound<'_, PyDict>>,
    threads: Option<usize>,
    force: bool,
) -> PyResult<PyRun> {
    let started = Instant::now();
    check_callable(py, on_epoch.as_ref())?;
    let pool = Pool::new(threads)?;
    let mut overrides = Vec::new();
    if let Some(set) = set {
        dict_overrides("", set, &mut overrides)?;
    }
    // The data is resolved with the GIL held (arrays are Python objects); loading a directory
    // takes well under a second.
    let load = |saved: &checkpoint::SavedRun, path: &Path| -> anyhow::Result<DataSplits> {
        let recorded_arrays =
            saved.provenance.as_ref().is_some_and(|p| p.data.source == Location::Memory);
        match data {
            None if recorded_arrays => Err(PyValueError::new_err(format!(
                "{} was trained on numpy arrays: pass the same arrays again as data=(x_train, y_train, x_test, y_test)",
                path.display()
            ))
            .into()),
            None => run_files::data_of_saved(None, saved, path),
            Some(d) => Ok(data_arg(Some(d), &saved.config)?.load(&saved.config)?),
        }
    };
    // (The memory check counts the global pool's threads: at least as many buffers as the
    // run's pool needs.)
    let process = this_process(pool.threads());
    let (state, out, data) =
        run_files::resume(&run_dir, out.as_deref(), &overrides, force, process, load)
            .map_err(files_err)?;
    run(py, state, &data, Some(&out), None, on_epoch, &pool, started, true)
}

fn check_callable(py: Python<'_>, on_epoch: Option<&Py<PyAny>>) -> PyResult<()> {
    match on_epoch {
        Some(callback) if !callback.bind(py).is_callable() => {
            Err(PyTypeError::new_err("on_epoch must be callable"))
        }
        _ => Ok(()),
    }
}

/// The run itself: `trainer::train` on a worker thread (in `pool`), the GIL taken back 10
/// times a second to look for Ctrl-C; the files kept in `out`, if any. `resumed` says the run
/// continues the checkpoint in `out`.
#[allow(clippy::too_many_arguments)]
fn run(
    py: Python<'_>,
    mut state: TrainState,
    data: &DataSplits,
    out: Option<&OutDir>,
    preset: Option<&str>,
    on_epoch: Option<Py<PyAny>>,
    pool: &Pool,
    started: Instant,
    resumed: bool,
) -> PyResult<PyRun> {
    let at = (state.epoch, state.batch);
    let files = out.map(|o| RunFiles::new(o, data, preset, started, resumed.then_some(at)));
    let stop = AtomicBool::new(false);
    let mut observer = PyObserver { on_epoch: on_epoch.as_ref(), stop: &stop, files };
    let done = (Mutex::new(false), Condvar::new());
    let mut interrupt: Option<PyErr> = None;
    let joined = std::thread::scope(|s| {
        let run = s.spawn(|| {
            let _done = Done(&done);
            pool.install(|| trainer::train(&mut state, data, &mut observer))
        });
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
    // The last checkpoint is on disk before the run reports anything, success or failure.
    let written = match &mut observer.files {
        Some(files) => py.detach(|| files.wait_checkpoint()),
        None => Ok(()),
    };
    let outcome = outcome?;
    written.map_err(files_err)?;
    let stopped = outcome == Outcome::Interrupted;
    if stopped && let Some(files) = &mut observer.files {
        // As `ebm train` on Ctrl-C: the state at the minibatch boundary, resumable.
        py.detach(|| files.save_interrupted(&state)).map_err(files_err)?;
    }
    if let Some(e) = interrupt {
        return Err(e);
    }
    let model_sha256 = checkpoint::parameters_sha256(&state.net);
    let config_toml = state.config.to_toml_string();
    let net = Py::new(py, PyNet { net: state.net, config: state.config })?;
    let history = state.history;
    let out = out.map(|o| o.path().to_path_buf());
    Ok(PyRun { history, net, model_sha256, stopped, out, config_toml })
}
