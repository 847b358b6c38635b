//! `TrainError`: the trainer's typed errors (data, model, checkpoints, numerical faults).

use std::path::PathBuf;

use crate::data::{DataError, DataSource};
use crate::io::WriteError;

/// Everything that can go wrong while training or evaluating.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// Reading the data failed.
    #[error(transparent)]
    Data(#[from] DataError),
    /// The model rejected a shape or diverged.
    #[error(transparent)]
    Core(#[from] ebm_core::CoreError),
    /// The configuration does not fit the data.
    #[error("{field} = {value} does not match the data: {reason}")]
    ConfigMismatch {
        /// The config key.
        field: &'static str,
        /// Its value.
        value: String,
        /// What the data has.
        reason: String,
    },
    /// A NaN or infinity appeared during training: in the states during a relaxation (the
    /// source names the layer and step) or in the parameters right after a minibatch's update
    /// (the source names the weight layer). The run stops; nothing is saved after it.
    #[error(
        "training diverged: non-finite values at epoch {epoch}, minibatch {batch}: {fault} (lower training.alphas or dynamics.epsilon)"
    )]
    Diverged {
        /// Epoch (1-based).
        epoch: usize,
        /// Minibatch (1-based) within the epoch.
        batch: usize,
        /// Where it appeared (part of the message, so not a `source`: printing the error
        /// chain does not repeat it).
        fault: ebm_core::CoreError,
    },
    /// A checkpoint could not be read or does not fit.
    #[error("checkpoint {path}: {reason}")]
    Checkpoint {
        /// The checkpoint file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// `--resume` with a config that changes what the saved state means.
    #[error(
        "cannot resume {path}: {} would change the meaning of the saved state (keys that may change: {}); start a new run instead",
        changes.join(", "),
        crate::checkpoint::RESUME_MAY_CHANGE.join(", ")
    )]
    ResumeChange {
        /// The checkpoint.
        path: PathBuf,
        /// Each refused change, `key: old -> new`.
        changes: Vec<String>,
    },
    /// The data differs from the data a run recorded.
    #[error(
        "the data at {} (fingerprint {}) is not the data the run recorded: {} (fingerprint {}); leave out --data to use the recorded data",
        given.source,
        given.fingerprint,
        recorded.source,
        recorded.fingerprint
    )]
    DataMismatch {
        /// What the run recorded.
        recorded: DataSource,
        /// What was given.
        given: DataSource,
    },
    /// Writing a file failed (an unwritable directory, a full disk).
    #[error(transparent)]
    Write(#[from] WriteError),
}

impl TrainError {
    /// Whether the error is caused by the user's input or environment (data, config,
    /// checkpoint, a configuration whose training diverges, a file that cannot be written)
    /// rather than a bug.
    pub fn is_bad_input(&self) -> bool {
        !matches!(self, TrainError::Core(_))
    }
}
