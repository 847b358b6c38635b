//! Building a [`Config`]: a preset (or the defaults), then a TOML file merged over it, then
//! `--set path=value` overrides, each step checked for unknown keys and wrong types.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use toml::{Table, Value};

use crate::{Config, ConfigError, Preset};

/// Where a configuration comes from: the layers are applied in field order.
#[derive(Debug, Clone, Default)]
pub struct ConfigSource {
    /// Starting point (default: the `quick` preset).
    pub preset: Option<Preset>,
    /// A TOML file whose keys replace the preset's.
    pub file: Option<PathBuf>,
    /// `path=value` overrides, applied last, in order.
    pub overrides: Vec<String>,
}

impl ConfigSource {
    /// Start from a preset.
    pub fn preset(preset: Preset) -> Self {
        Self { preset: Some(preset), ..Self::default() }
    }

    /// Add an override `path=value`; the value is TOML (`0.5`, `[784, 10]`, `"fixed"`), and a
    /// bare word is taken as a string.
    pub fn set(&mut self, raw: &str) -> Result<&mut Self, ConfigError> {
        parse_override(raw)?;
        self.overrides.push(raw.to_owned());
        Ok(self)
    }

    /// A short description of the source, used in error messages and summaries.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(p) = self.preset {
            parts.push(format!("preset {p}"));
        }
        if let Some(f) = &self.file {
            parts.push(format!("file {}", f.display()));
        }
        if !self.overrides.is_empty() {
            parts.push(format!("--set {}", self.overrides.join(" --set ")));
        }
        if parts.is_empty() { "defaults".to_owned() } else { parts.join(", ") }
    }

    /// Build the configuration. It is not validated yet: call [`Config::validate`].
    pub fn load(&self) -> Result<Config, ConfigError> {
        let base = self.preset.unwrap_or(Preset::Quick).config();
        let mut table = to_table(&base);
        if let Some(path) = &self.file {
            let text = std::fs::read_to_string(path)
                .map_err(|source| ConfigError::Read { path: path.clone(), source })?;
            let file_table = parse_file(path, &text)?;
            merge(&mut table, file_table);
        }
        apply_overrides(&mut table, &self.overrides)?;
        from_table(&table, "config")
    }
}

fn apply_overrides(table: &mut Table, overrides: &[String]) -> Result<(), ConfigError> {
    for raw in overrides {
        let (path, value) = parse_override(raw)?;
        set_path(table, &path, value)
            .map_err(|reason| ConfigError::Override { raw: raw.clone(), reason })?;
        from_table::<Config>(table, &format!("--set {raw}"))?;
    }
    Ok(())
}

impl Config {
    /// Parse a complete TOML document (missing keys take their defaults).
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Config, ConfigError> {
        parse_typed(text, origin)
    }

    /// This configuration with `path=value` overrides applied in order (e.g. to continue a
    /// checkpointed run for more epochs).
    pub fn with_overrides(&self, overrides: &[String]) -> Result<Config, ConfigError> {
        let mut table = to_table(self);
        apply_overrides(&mut table, overrides)?;
        from_table(&table, "config")
    }

    /// Read a TOML file (missing keys take their defaults).
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        ConfigSource { file: Some(path.to_owned()), ..ConfigSource::default() }.load()
    }

    /// Every key whose value differs between `self` and `other`, in key order (arrays compare
    /// as whole values; an absent optional key shows as `(unset)`).
    pub fn changed_keys(&self, other: &Config) -> Vec<KeyChange> {
        let mut changes = Vec::new();
        diff_tables("", &to_table(self), &to_table(other), &mut changes);
        changes
    }

    /// The configuration as TOML; `Config::from_toml_str` reads it back to an equal value.
    pub fn to_toml_string(&self) -> String {
        toml::to_string_pretty(self).expect("a Config always serialises to TOML")
    }
}

/// Parse a file: first as a typed `Config` (so unknown keys and wrong types are reported with
/// the file, line and key path), then as a plain table for merging.
fn parse_file(path: &Path, text: &str) -> Result<Table, ConfigError> {
    let origin = path.display().to_string();
    parse_typed::<Config>(text, &origin)?;
    text.parse::<Table>().map_err(|e| parse_error(&origin, text, &e, String::new()))
}

pub(crate) fn parse_typed<T: DeserializeOwned>(text: &str, origin: &str) -> Result<T, ConfigError> {
    let de = toml::Deserializer::new(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let key = key_prefix(&e.path().to_string());
        parse_error(origin, text, e.inner(), key)
    })
}

fn key_prefix(path: &str) -> String {
    if path.is_empty() || path == "." { String::new() } else { format!("at key `{path}`: ") }
}

fn parse_error(origin: &str, text: &str, e: &toml::de::Error, key: String) -> ConfigError {
    let location = e
        .span()
        .map(|span| {
            let upto = &text[..span.start.min(text.len())];
            let line = upto.matches('\n').count() + 1;
            let col = upto.len() - upto.rfind('\n').map_or(0, |i| i + 1) + 1;
            format!(":{line}:{col}")
        })
        .unwrap_or_default();
    ConfigError::Parse {
        origin: origin.to_owned(),
        location,
        key,
        message: e.message().trim().to_owned(),
    }
}

fn to_table(config: &Config) -> Table {
    match Value::try_from(config).expect("a Config always serialises to TOML") {
        Value::Table(t) => t,
        _ => unreachable!("a struct serialises to a table"),
    }
}

fn from_table<T: DeserializeOwned>(table: &Table, origin: &str) -> Result<T, ConfigError> {
    serde_path_to_error::deserialize(Value::Table(table.clone())).map_err(|e| ConfigError::Parse {
        origin: origin.to_owned(),
        location: String::new(),
        key: key_prefix(&e.path().to_string()),
        message: e.inner().message().trim().to_owned(),
    })
}

/// One key whose value differs between two configurations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyChange {
    /// Dotted key path, e.g. `training.batch_size`.
    pub key: String,
    /// The value in the first configuration (TOML), `None` when absent.
    pub old: Option<String>,
    /// The value in the second configuration (TOML), `None` when absent.
    pub new: Option<String>,
}

impl std::fmt::Display for KeyChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "(unset)".to_owned());
        write!(f, "{} ({} -> {})", self.key, show(&self.old), show(&self.new))
    }
}

fn diff_tables(prefix: &str, a: &Table, b: &Table, out: &mut Vec<KeyChange>) {
    let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    for key in keys {
        let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
        match (a.get(key), b.get(key)) {
            (Some(Value::Table(x)), Some(Value::Table(y))) => diff_tables(&path, x, y, out),
            (x, y) if x != y => out.push(KeyChange {
                key: path,
                old: x.map(ToString::to_string),
                new: y.map(ToString::to_string),
            }),
            _ => {}
        }
    }
}

/// Deep-merge `over` into `base`: tables merge key by key, everything else is replaced.
fn merge(base: &mut Table, over: Table) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(Value::Table(b)), Value::Table(o)) => merge(b, o),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

fn parse_override(raw: &str) -> Result<(Vec<String>, Value), ConfigError> {
    let bad =
        |reason: &str| ConfigError::Override { raw: raw.to_owned(), reason: reason.to_owned() };
    let (path, value) = raw.split_once('=').ok_or_else(|| bad("expected path=value"))?;
    let path: Vec<String> = path.trim().split('.').map(|s| s.trim().to_owned()).collect();
    if path.iter().any(String::is_empty) {
        return Err(bad("empty key in the path"));
    }
    let value = value.trim();
    if value.is_empty() {
        return Err(bad("empty value"));
    }
    let parsed = format!("v = {value}")
        .parse::<Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| Value::String(value.to_owned()));
    Ok((path, parsed))
}

fn set_path(table: &mut Table, path: &[String], value: Value) -> Result<(), String> {
    let (last, parents) = path.split_last().expect("path is non-empty");
    let mut current = table;
    for (i, key) in parents.iter().enumerate() {
        let entry = current.entry(key.clone()).or_insert_with(|| Value::Table(Table::new()));
        current = match entry {
            Value::Table(t) => t,
            _ => return Err(format!("`{}` is not a table", path[..=i].join("."))),
        };
    }
    current.insert(last.clone(), value);
    Ok(())
}
