//! `TrainError`: the trainer's typed errors (data, model, checkpoints, numerical faults).

use std::path::PathBuf;

use crate::data::DataError;

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
    /// Writing a file failed.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

impl TrainError {
    /// Whether the error is caused by bad input (data, config, checkpoint, or a configuration
    /// whose training diverges) rather than a bug.
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            TrainError::Data(_)
                | TrainError::ConfigMismatch { .. }
                | TrainError::Checkpoint { .. }
                | TrainError::Diverged { .. }
        )
    }
}
