//! `[data]`: Where the data comes from.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::check::Checker;

/// Where the data comes from.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataConfig {
    /// Directory holding the four MNIST IDX files (raw or gzip); absent = the embedded subset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dir: Option<PathBuf>,
    /// Use only the first N training examples.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub train_limit: Option<usize>,
    /// Use only the first N test examples.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_limit: Option<usize>,
    /// Hold out the last N examples of the training file as the validation set (never trained
    /// on; 0 = none). MNIST's reference split is 50,000 / 10,000: `validation = 10000`.
    /// `train_limit` applies to the examples before them.
    pub validation: usize,
}

impl DataConfig {
    /// Limits of at least one example.
    pub(crate) fn check(&self, c: &mut Checker) {
        if self.train_limit == Some(0) {
            c.fail("data.train_limit", "= 0: must be at least 1");
        }
        if self.test_limit == Some(0) {
            c.fail("data.test_limit", "= 0: must be at least 1");
        }
    }
}
