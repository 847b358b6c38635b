//! Typed configuration errors: every variant names the file or override and the key path.

use std::path::PathBuf;

/// One invalid value found by [`crate::Config::validate`].
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    /// Dotted key path, e.g. `dynamics.epsilon` or `model.layers[1]`.
    pub field: String,
    /// What is wrong, including the offending value; it continues the field path in a sentence
    /// (`= NaN: must be a finite number`, `has 2 entries but ...`).
    pub message: String,
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.field, self.message)
    }
}

/// Everything that can go wrong while reading, overriding or validating a configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML, or a key is unknown or has the wrong type.
    #[error("{origin}{location}: {key}{message}")]
    Parse {
        /// The file (or `--set` override) the error comes from.
        origin: String,
        /// `:line:column` where TOML gives it, else empty.
        location: String,
        /// `at key a.b.c: ` where known, else empty.
        key: String,
        /// The parser's message.
        message: String,
    },
    /// A `--set path=value` override is malformed.
    #[error("bad override `--set {raw}`: {reason}")]
    Override {
        /// The override as given.
        raw: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An unknown preset name.
    #[error("unknown preset `{0}` (known: {known})", known = crate::Preset::names().join(", "))]
    UnknownPreset(String),
    /// A sweep file that cannot be planned (a bad seed list, grid or setting).
    #[error("sweep {path}: {reason}")]
    Sweep {
        /// The sweep file.
        path: PathBuf,
        /// What is wrong, naming the key or setting.
        reason: String,
    },
    /// Values that parse but make no sense (listed all at once).
    #[error("invalid config{}: {}", origin_suffix(.origin), join(.errors))]
    Invalid {
        /// Where the config came from (file name, preset), for the message.
        origin: Option<String>,
        /// Every invalid value found.
        errors: Vec<FieldError>,
    },
}

fn origin_suffix(origin: &Option<String>) -> String {
    origin.as_ref().map(|o| format!(" ({o})")).unwrap_or_default()
}

fn join(errors: &[FieldError]) -> String {
    errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}
