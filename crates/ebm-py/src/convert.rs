//! Conversions between Python values and the library's serde / TOML values.

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use serde::Serialize;

/// A serialisable value (metrics, a config) as plain Python objects: dicts, lists, numbers,
/// strings, `None`.
pub(crate) fn to_py<'py, T: Serialize>(py: Python<'py>, value: &T) -> PyResult<Bound<'py, PyAny>> {
    let json = serde_json::to_value(value)
        .map_err(|e| PyValueError::new_err(format!("cannot convert to Python: {e}")))?;
    json_to_py(py, &json)
}

fn json_to_py<'py>(py: Python<'py>, v: &serde_json::Value) -> PyResult<Bound<'py, PyAny>> {
    use serde_json::Value;
    Ok(match v {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.into_pyobject(py)?.into_any()
            } else if let Some(u) = n.as_u64() {
                u.into_pyobject(py)?.into_any()
            } else {
                n.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any()
            }
        }
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(json_to_py(py, item)?)?;
            }
            list.into_any()
        }
        Value::Object(map) => {
            let dict = PyDict::new(py);
            for (k, item) in map {
                dict.set_item(k, json_to_py(py, item)?)?;
            }
            dict.into_any()
        }
    })
}

/// A Python value as the TOML value the CLI's `--set path=value` would parse: a bool, an int,
/// a float, a string, or a list / tuple of those.
fn to_toml(value: &Bound<'_, PyAny>) -> PyResult<toml::Value> {
    if value.is_instance_of::<PyBool>() {
        return Ok(toml::Value::Boolean(value.extract()?));
    }
    if value.is_instance_of::<PyInt>() {
        let i: i64 = value.extract().map_err(|_| {
            PyValueError::new_err(format!("{value} does not fit a TOML integer (64-bit signed)"))
        })?;
        return Ok(toml::Value::Integer(i));
    }
    if value.is_instance_of::<PyFloat>() {
        return Ok(toml::Value::Float(value.extract()?));
    }
    if value.is_instance_of::<PyString>() {
        return Ok(toml::Value::String(value.extract()?));
    }
    if value.is_instance_of::<PyList>() || value.is_instance_of::<PyTuple>() {
        let items: Vec<toml::Value> =
            value.try_iter()?.map(|item| to_toml(&item?)).collect::<PyResult<_>>()?;
        return Ok(toml::Value::Array(items));
    }
    // numpy arrays and scalars: as the Python values `tolist()` gives.
    if value.hasattr("tolist")? {
        let plain = value.call_method0("tolist")?;
        if !plain.is(value) {
            return to_toml(&plain);
        }
    }
    // other numbers: through their Python int / float.
    if let Ok(i) = value.call_method0("__index__") {
        return to_toml(&i);
    }
    if let Ok(f) = value.call_method0("__float__") {
        return to_toml(&f);
    }
    Err(PyTypeError::new_err(format!(
        "a config value must be a bool, int, float, str or a list of those, not {}",
        value.get_type().name()?
    )))
}

/// The text after `=` in the override `--set path=value` that sets `value`: a string is
/// written bare, as one types it on the command line, when the CLI reads the bare word back as
/// that string; everything else as TOML.
pub(crate) fn override_text(value: &Bound<'_, PyAny>) -> PyResult<String> {
    let v = to_toml(value)?;
    if let toml::Value::String(s) = &v {
        let bare_is_string =
            !s.is_empty() && s.trim() == s && format!("v = {s}").parse::<toml::Table>().is_err();
        if bare_is_string {
            return Ok(s.clone());
        }
    }
    Ok(v.to_string())
}

/// The overrides (`path=value`) that set every leaf of a nested dict, in its order.
pub(crate) fn dict_overrides(
    prefix: &str,
    dict: &Bound<'_, PyDict>,
    out: &mut Vec<String>,
) -> PyResult<()> {
    for (k, v) in dict.iter() {
        let key: String = k
            .extract()
            .map_err(|_| PyTypeError::new_err(format!("config keys must be strings, not {k}")))?;
        let path = if prefix.is_empty() { key } else { format!("{prefix}.{key}") };
        match v.cast::<PyDict>() {
            Ok(sub) => dict_overrides(&path, sub, out)?,
            Err(_) => out.push(format!("{path}={}", override_text(&v)?)),
        }
    }
    Ok(())
}
