//! `[output]`: Output files.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Output files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutputConfig {
    /// Results directory (overridden by `--out`); absent = `results/<command>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dir: Option<PathBuf>,
    /// Write SVG plots.
    pub plots: bool,
}

impl Default for OutputConfig {
    fn default() -> Self {
        Self { dir: None, plots: true }
    }
}
