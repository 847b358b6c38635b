//! `ebm.stdp` and `ebm.propagate`: the CLI's experiments (`ebm stdp`, `ebm propagate`) as
//! tables of rows, each a dict (or a pandas DataFrame with `frame=True`): the same library
//! calls (`spikes::Experiment`, `ebm_core::experiments::{propagate, saturation}`) on the same
//! config, so the same numbers as the CLI's `metrics.csv` / `summary.json`.

use ebm_config::Section;
use ebm_core::experiments::{propagate as early, saturation};
use pyo3::exceptions::{PyImportError, PyValueError};
use pyo3::prelude::*;
use serde::Serialize;
use serde_json::{Map, Value, json};
use spikes::{Experiment, Report};

use crate::config::PyConfig;
use crate::convert::to_py;
use crate::core_err;

/// Rows as Python: a list of dicts, or a pandas DataFrame of them when `frame` (pandas is
/// imported only then).
fn table<'py>(py: Python<'py>, rows: &[Value], frame: bool) -> PyResult<Bound<'py, PyAny>> {
    let list = to_py(py, &rows)?;
    if !frame {
        return Ok(list);
    }
    let pandas = py.import("pandas").map_err(|e| {
        PyImportError::new_err(format!("frame=True needs pandas (pip install pandas): {e}"))
    })?;
    pandas.getattr("DataFrame")?.call1((list,))
}

/// Every item of `items` as a JSON row.
fn rows_of<T: Serialize>(items: &[T]) -> PyResult<Vec<Value>> {
    items
        .iter()
        .map(serde_json::to_value)
        .collect::<Result<_, _>>()
        .map_err(|e| PyValueError::new_err(format!("cannot convert a row: {e}")))
}

fn unknown_table(name: &str, known: &[&str]) -> PyErr {
    PyValueError::new_err(format!("table = {name:?}: expected one of {}", known.join(", ")))
}

/// The tables `ebm.stdp` returns.
const STDP_TABLES: [&str; 4] = ["figure4", "figure5", "figure3", "schemes"];

/// The STDP tables of a report: Figure 4's (one row per `dt`: `count` and each curve's
/// `{name}_mean` / `{name}_se`, as the CLI's `metrics.csv`), Figure 5's (one row per bin),
/// Figure 3's (one row per step of the example train) and the pairing schemes'.
fn stdp_rows(report: &Report, name: &str) -> PyResult<Vec<Value>> {
    match name {
        "figure4" => {
            let f = &report.fig4;
            let columns = f.columns();
            Ok((0..f.dt.len())
                .map(|i| {
                    let values = [json!(f.dt[i]), json!(f.counts[i])]
                        .into_iter()
                        .chain(f.curve_values(i).map(|v| json!(v)));
                    Value::Object(columns.iter().cloned().zip(values).collect::<Map<_, _>>())
                })
                .collect())
        }
        "figure5" => {
            let f = &report.fig5;
            Ok((0..f.rate.len())
                .map(|i| json!({"rate": f.rate[i], "stdp": f.stdp[i], "count": f.counts[i]}))
                .collect())
        }
        "figure3" => {
            let e = &report.example;
            let fires = |spikes: &[u32], t: usize| spikes.iter().any(|&s| s as usize == t);
            Ok((0..e.rho_pre.len())
                .map(|t| {
                    json!({
                        "step": t,
                        "pre_spike": fires(&e.pre_spikes, t),
                        "post_spike": fires(&e.post_spikes, t),
                        "rho_pre": e.rho_pre[t],
                        "rho_post": e.rho_post[t],
                        "weight_spike_rule": e.weight_spike_rule.get(t),
                        "weight_rate_rule": e.weight_rate_rule.get(t),
                    })
                })
                .collect())
        }
        "schemes" => rows_of(&report.schemes),
        other => Err(unknown_table(other, &STDP_TABLES)),
    }
}

/// The STDP simulation of section 4.2 (Bengio et al. 2017, Figures 3-5), as `ebm stdp` runs
/// it on the config's `[stdp]` section and seed: one table of rows.
///
/// - `table`: `"figure4"` (the default: per spike-time difference `dt`, the pair count and
///   each rule's mean weight change and standard error, the CLI's `metrics.csv`),
///   `"figure5"` (the rate rule against nearest-neighbour STDP per bin), `"figure3"` (the
///   example train, per step) or `"schemes"` (the pairing schemes against the spike rule).
/// - `frame=True` returns a pandas DataFrame (pandas is needed only then).
///
/// The GIL is released while the simulation runs.
#[pyfunction]
#[pyo3(signature = (config = None, *, table = "figure4", frame = false))]
pub fn stdp<'py>(
    py: Python<'py>,
    config: Option<PyRef<'_, PyConfig>>,
    table: &str,
    frame: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let config = config.map_or_else(PyConfig::quick, |c| c.clone());
    let valid = config.validate(&[Section::Stdp, Section::Model]).map_err(crate::config_err)?;
    // An unknown table is refused before the simulation runs.
    if !STDP_TABLES.contains(&table) {
        return Err(unknown_table(table, &STDP_TABLES));
    }
    let report = py.detach(|| Experiment::new(&valid).run());
    self::table(py, &stdp_rows(&report, table)?, frame)
}

/// The early-inference experiment of section 3 (Bengio et al. 2017), as `ebm propagate` runs
/// it on the config's `[propagate]` section and seed: one table of rows.
///
/// - `table`: `"rows"` (the default: every comparison of a layer's early-inference change with
///   backprop in the four sweeps, the CLI's `metrics.csv`), `"headline"` (per step size, the
///   main sweep's minimum cosine and worst norm ratio) or `"saturation"` (saturated units,
///   section 2.3.1 and Eq 3.17-3.18: the CLI's `saturation.csv`).
/// - `frame=True` returns a pandas DataFrame (pandas is needed only then).
///
/// The GIL is released while the experiment runs.
#[pyfunction]
#[pyo3(signature = (config = None, *, table = "rows", frame = false))]
pub fn propagate<'py>(
    py: Python<'py>,
    config: Option<PyRef<'_, PyConfig>>,
    table: &str,
    frame: bool,
) -> PyResult<Bound<'py, PyAny>> {
    const TABLES: [&str; 3] = ["rows", "headline", "saturation"];
    if !TABLES.contains(&table) {
        return Err(unknown_table(table, &TABLES));
    }
    let config = config.map_or_else(PyConfig::quick, |c| c.clone());
    let valid = config.validate(&[Section::Propagate]).map_err(crate::config_err)?;
    let (p, seed) = (&valid.propagate, valid.seed);
    let rows = match table {
        "saturation" => rows_of(&py.detach(|| saturation::run(p, seed)).map_err(core_err)?.rows)?,
        "headline" => rows_of(&py.detach(|| early::run(p, seed)).map_err(core_err)?.headline)?,
        _ => rows_of(&py.detach(|| early::run(p, seed)).map_err(core_err)?.rows)?,
    };
    self::table(py, &rows, frame)
}
