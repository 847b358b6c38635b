//! MNIST data and the equilibrium-propagation trainer (Scellier & Bengio, *Towards a
//! biologically plausible backprop*, arXiv:1602.05179).
//!
//! - [`data`]: the IDX reader and writer, the embedded class-balanced MNIST subset, downloads.
//! - [`ep`]: one minibatch of equilibrium propagation (free phase, nudged phase, update).
//! - [`evaluate`](mod@evaluate): the free phase over a whole dataset.
//! - [`run`]: epochs, metrics, stopping at minibatch boundaries.
//! - [`checkpoint`]: `.npz` model files and checkpoints (numpy-loadable), written atomically;
//!   resuming gives bit-identical weights.
//! - [`provenance`]: what produced a run (program, command, times, data fingerprint).
//! - [`io`]: atomic file writes, used for every file the workspace writes.
//!
//! The crate never prints; progress goes through the [`run::Observer`] trait.

pub mod checkpoint;
pub mod data;
pub mod ep;
mod error;
pub mod evaluate;
pub mod io;
mod npz;
pub mod provenance;
pub mod run;

pub use data::{DataError, DataSource, Dataset, Limits, Location, Mnist};
pub use error::TrainError;
pub use run::{EpochMetrics, Observer, Outcome, TrainState, train};

#[cfg(test)]
mod rule_tests;
#[cfg(test)]
mod tests;
