//! `ebm` for Python: the Rust engine with numpy arrays in and out, built by maturin
//! (`pip install ./crates/ebm-py`; `docs/python.md`).
//!
//! The Python surface mirrors the library, not the CLI's files:
//!
//! - [`config::PyConfig`] (`ebm.Config`): a preset, a TOML file or text, or a dict, with
//!   `--set`-style overrides; errors are the CLI's messages, as `ValueError`.
//! - [`train::train`] (`ebm.train`): `trainer::train` with an observer that calls a Python
//!   callback after each epoch, the GIL released while Rust computes; returns a
//!   [`train::PyRun`] (`ebm.Run`).
//! - [`net::PyNet`] (`ebm.Net`): a trained or loaded network: its parameters as numpy arrays,
//!   the free phase, predictions, the EP estimate of the gradient and the true gradient.
//!
//! Library errors become Python exceptions (`ValueError` for bad input, `OSError` for files,
//! `RuntimeError` otherwise); a Rust panic becomes PyO3's `PanicException`.

mod config;
mod convert;
mod data;
mod experiments;
mod net;
mod train;

use ebm_config::ConfigError;
use ebm_core::CoreError;
use pyo3::exceptions::{
    PyFileNotFoundError, PyOSError, PyPermissionError, PyRuntimeError, PyValueError,
};
use pyo3::prelude::*;
use trainer::{DataError, TrainError};

/// The error and its causes on one line, each cause once (what the CLI prints after `error: `).
pub(crate) fn error_line(err: &(dyn std::error::Error + 'static)) -> String {
    ebm_cli::output::std_error_line(err)
}

/// A configuration error as a Python exception: `FileNotFoundError` / `OSError` for a file that
/// cannot be read, else `ValueError`, with the CLI's message.
pub(crate) fn config_err(e: ConfigError) -> PyErr {
    let msg = error_line(&e);
    match &e {
        ConfigError::Read { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            PyFileNotFoundError::new_err(msg)
        }
        ConfigError::Read { .. } => PyOSError::new_err(msg),
        _ => PyValueError::new_err(msg),
    }
}

/// A data error: `FileNotFoundError`, `PermissionError` or `OSError` for files, else
/// `ValueError`.
fn data_err(e: &DataError, msg: String) -> PyErr {
    match e {
        DataError::NotFound { .. } | DataError::MissingFile { .. } => {
            PyFileNotFoundError::new_err(msg)
        }
        DataError::PermissionDenied { .. } => PyPermissionError::new_err(msg),
        DataError::Io { .. } => PyOSError::new_err(msg),
        _ => PyValueError::new_err(msg),
    }
}

/// A trainer error: files as [`data_err`] and `OSError` for a failed write, other bad input
/// (config against data, a diverging run, a bad checkpoint) `ValueError`, and the model's own
/// faults `RuntimeError`.
pub(crate) fn train_err(e: TrainError) -> PyErr {
    let msg = error_line(&e);
    match &e {
        TrainError::Data(d) => data_err(d, msg),
        TrainError::Write(_) => PyOSError::new_err(msg),
        TrainError::Core(c) => core_err_msg(c, msg),
        e if e.is_bad_input() => PyValueError::new_err(msg),
        _ => PyRuntimeError::new_err(msg),
    }
}

fn core_err_msg(e: &CoreError, msg: String) -> PyErr {
    match e {
        CoreError::Shape { .. } | CoreError::TooFewLayers(_) => PyValueError::new_err(msg),
        _ => PyRuntimeError::new_err(msg),
    }
}

/// A model error: a wrong shape is `ValueError`, a numerical fault (non-finite states, a solve
/// that does not converge) `RuntimeError`.
pub(crate) fn core_err(e: CoreError) -> PyErr {
    let msg = error_line(&e);
    core_err_msg(&e, msg)
}

/// Energy-based models and equilibrium propagation, on the Rust engine of the `ebm` CLI.
///
/// - `Config`: a validated run configuration (presets, TOML, dicts, `--set`-style overrides).
/// - `train(config, data=None, out=None, on_epoch=None) -> Run`: equilibrium propagation, the
///   same numbers as `ebm train`.
/// - `Net`: a network (from a run or `Net.load(path)`): parameters as numpy arrays, `relax`,
///   `predict`, `evaluate`, `ep_update`, `true_gradient`.
#[pymodule]
fn ebm(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<config::PyConfig>()?;
    m.add_class::<net::PyNet>()?;
    m.add_class::<train::PyRun>()?;
    m.add_function(wrap_pyfunction!(train::train, m)?)?;
    m.add_function(wrap_pyfunction!(train::resume, m)?)?;
    m.add_function(wrap_pyfunction!(data::load_data, m)?)?;
    m.add_function(wrap_pyfunction!(experiments::stdp, m)?)?;
    m.add_function(wrap_pyfunction!(experiments::propagate, m)?)?;
    m.add("PRESETS", ebm_config::Preset::names())?;
    Ok(())
}
