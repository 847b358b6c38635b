//! `ebm.Config`: the layers of the CLI's configuration (a preset or a file, then `--set`
//! overrides), loaded and validated by the same `ebm-config` functions as
//! `crates/ebm-cli/src/commands/mod.rs` (`source` / `load`), so every error reads as the CLI's.

use std::path::PathBuf;

use ebm_config::{Config, ConfigError, ConfigSource, Preset, Section, ValidConfig};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::config_err;
use crate::convert::{dict_overrides, override_text, to_py};

/// What the overrides apply to.
#[derive(Debug, Clone)]
enum Base {
    /// A preset (the `quick` preset when `None`) and a TOML file over it: `--preset` and
    /// `--config`.
    Source { preset: Option<Preset>, file: Option<PathBuf> },
    /// TOML text merged over the `quick` preset, as a file with that text would be.
    Text(String),
}

/// A run configuration: a preset, a TOML file or text, or a dict, with overrides applied in
/// order, exactly as the CLI's `--preset`, `--config` and `--set path=value` layer them.
///
/// Unknown keys and wrong types raise `ValueError` when they are given; values that parse but
/// make no sense (`training.epochs = 0`) when the config is validated (`check()`, `train`),
/// naming the key and the value in the CLI's words.
///
/// >>> c = ebm.Config.preset("quick").set("training.epochs", 2)
/// >>> c["training.epochs"]
/// 2
#[pyclass(name = "Config", module = "ebm")]
#[derive(Debug, Clone)]
pub struct PyConfig {
    base: Base,
    overrides: Vec<String>,
}

/// TOML text parsed as a config file is (typed first, so errors name the line and key), merged
/// over the `quick` preset (what `ConfigSource::load` does with a file's text).
fn text_base(text: &str) -> Result<Config, ConfigError> {
    const ORIGIN: &str = "<toml text>";
    Config::from_toml_str(text, ORIGIN)?;
    let over: toml::Table = text.parse().map_err(|e: toml::de::Error| ConfigError::Parse {
        origin: ORIGIN.to_owned(),
        location: String::new(),
        key: String::new(),
        message: e.message().trim().to_owned(),
    })?;
    let mut table = match toml::Value::try_from(Preset::Quick.config()) {
        Ok(toml::Value::Table(t)) => t,
        _ => unreachable!("a Config serialises to a table"),
    };
    merge(&mut table, over);
    toml::Value::Table(table).try_into().map_err(|e: toml::de::Error| ConfigError::Parse {
        origin: ORIGIN.to_owned(),
        location: String::new(),
        key: String::new(),
        message: e.message().trim().to_owned(),
    })
}

/// Deep-merge `over` into `base`: tables key by key, everything else replaced (as `ebm-config`
/// merges a file over a preset).
fn merge(base: &mut toml::Table, over: toml::Table) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

impl PyConfig {
    /// The `quick` preset, as `ebm` starts without `--preset`.
    pub(crate) fn quick() -> Self {
        Self { base: Base::Source { preset: None, file: None }, overrides: Vec::new() }
    }

    /// A config of complete TOML text (e.g. a run's effective config).
    /// The preset the config starts from, by name, as `summary.json` records `--preset`
    /// (`None` for the default base and for TOML text).
    pub(crate) fn preset_name(&self) -> Option<String> {
        match &self.base {
            Base::Source { preset: Some(p), .. } => Some(p.to_string()),
            _ => None,
        }
    }

    pub(crate) fn from_text(text: String) -> Self {
        Self { base: Base::Text(text), overrides: Vec::new() }
    }

    fn source(&self) -> ConfigSource {
        match &self.base {
            Base::Source { preset, file } => ConfigSource {
                preset: *preset,
                file: file.clone(),
                overrides: self.overrides.clone(),
            },
            Base::Text(_) => {
                ConfigSource { overrides: self.overrides.clone(), ..Default::default() }
            }
        }
    }

    /// The effective configuration (not validated).
    pub(crate) fn load(&self) -> Result<Config, ConfigError> {
        match &self.base {
            Base::Source { .. } => self.source().load(),
            Base::Text(text) => text_base(text)?.with_overrides(&self.overrides),
        }
    }

    /// Where the config comes from, as the CLI's error messages say it.
    fn describe(&self) -> String {
        match &self.base {
            Base::Source { .. } => self.source().describe(),
            Base::Text(_) if self.overrides.is_empty() => "TOML text".to_owned(),
            Base::Text(_) => format!("TOML text, --set {}", self.overrides.join(" --set ")),
        }
    }

    /// Load and validate the `sections`, as the CLI's `commands::load` does.
    pub(crate) fn validate(&self, sections: &[Section]) -> Result<ValidConfig, ConfigError> {
        self.load()?.validate_sections(sections).map_err(|e| match e {
            ConfigError::Invalid { errors, .. } => {
                ConfigError::Invalid { origin: Some(self.describe()), errors }
            }
            other => other,
        })
    }

    /// A config of the given base and overrides, checked for unknown keys and types.
    fn checked(base: Base, overrides: Vec<String>) -> PyResult<Self> {
        let config = Self { base, overrides };
        config.load().map_err(config_err)?;
        Ok(config)
    }

    /// Add one `path=value` override (checked by `ConfigSource::set`, then applied).
    pub(crate) fn push(&mut self, raw: String) -> PyResult<()> {
        ConfigSource::default().set(&raw).map_err(config_err)?;
        self.overrides.push(raw);
        if let Err(e) = self.load() {
            self.overrides.pop();
            return Err(config_err(e));
        }
        Ok(())
    }
}

#[pymethods]
impl PyConfig {
    /// The default configuration: the `quick` preset (what `ebm` uses without `--preset`).
    #[new]
    fn py_new() -> Self {
        Self::quick()
    }

    /// A named preset (`ebm config presets` lists them: quick, ep-1h, ep-1h-code, ep-2h,
    /// ep-3h); an unknown name raises `ValueError`.
    #[staticmethod]
    fn preset(name: &str) -> PyResult<Self> {
        let preset: Preset = name.parse().map_err(config_err)?;
        Self::checked(Base::Source { preset: Some(preset), file: None }, Vec::new())
    }

    /// A TOML file (a path: `str` or `os.PathLike`) or TOML text (a `str` holding a newline or
    /// an `=`), merged over the `quick` preset as `ebm --config FILE` does. Errors name the
    /// file (or `<toml text>`), line, column and key path.
    #[staticmethod]
    fn from_toml(text_or_path: &Bound<'_, PyAny>) -> PyResult<Self> {
        if let Ok(s) = text_or_path.extract::<String>()
            && (s.contains('\n') || s.contains('=') || s.trim().is_empty())
        {
            return Self::checked(Base::Text(s), Vec::new());
        }
        let path: PathBuf = text_or_path.extract()?;
        Self::checked(Base::Source { preset: None, file: Some(path) }, Vec::new())
    }

    /// A nested dict (`{"training": {"epochs": 3}}`; dotted keys work too) applied as
    /// overrides, leaf by leaf in order, over `preset` (default `quick`).
    #[staticmethod]
    #[pyo3(signature = (d, preset = None))]
    fn from_dict(d: &Bound<'_, PyDict>, preset: Option<&str>) -> PyResult<Self> {
        let preset = preset.map(str::parse::<Preset>).transpose().map_err(config_err)?;
        let mut config = Self { base: Base::Source { preset, file: None }, overrides: Vec::new() };
        let mut raws = Vec::new();
        dict_overrides("", d, &mut raws)?;
        for raw in raws {
            config.push(raw)?;
        }
        Ok(config)
    }

    /// Set one key (a dotted path, e.g. `"training.epochs"`) to a Python bool, int, float,
    /// str or list, as `--set path=value` would; returns the config itself (for chaining). An
    /// unknown key or a wrong type raises `ValueError` at once.
    fn set<'py>(
        mut slf: PyRefMut<'py, Self>,
        key: &str,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<PyRefMut<'py, Self>> {
        let raw = format!("{key}={}", override_text(value)?);
        slf.push(raw)?;
        Ok(slf)
    }

    /// A copy (overrides on the copy leave this config as it is).
    fn copy(&self) -> Self {
        self.clone()
    }

    /// Validate every section the training uses (model, dynamics, training, data), raising
    /// `ValueError` with the CLI's message (`invalid config (preset quick, --set
    /// training.epochs=0): training.epochs = 0: ...`); returns the config.
    fn check(slf: PyRef<'_, Self>) -> PyResult<PyRef<'_, Self>> {
        slf.validate(&Section::TRAIN).map_err(config_err)?;
        Ok(slf)
    }

    /// The effective configuration as TOML (what `ebm config show` prints); loadable with
    /// `Config.from_toml`.
    fn to_toml(&self) -> PyResult<String> {
        Ok(self.load().map_err(config_err)?.to_toml_string())
    }

    /// The effective configuration as a nested dict.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &self.load().map_err(config_err)?)
    }

    /// The overrides applied so far, as `--set` takes them (`"training.epochs=2"`).
    #[getter]
    fn overrides(&self) -> Vec<String> {
        self.overrides.clone()
    }

    /// The value at a dotted key path, e.g. `config["training.epochs"]`.
    fn __getitem__<'py>(&self, py: Python<'py>, key: &str) -> PyResult<Bound<'py, PyAny>> {
        let mut value = self.to_dict(py)?;
        for part in key.split('.') {
            value = value.get_item(part).map_err(|_| {
                pyo3::exceptions::PyKeyError::new_err(format!("no config key `{key}`"))
            })?;
        }
        Ok(value)
    }

    fn __repr__(&self) -> String {
        format!("ebm.Config({})", self.describe())
    }
}
