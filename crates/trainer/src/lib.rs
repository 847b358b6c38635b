//! MNIST data and the equilibrium-propagation trainer (Scellier & Bengio, *Towards a
//! biologically plausible backprop*, arXiv:1602.05179).
//!
//! - [`data`]: the IDX reader and writer, the embedded class-balanced MNIST subset, downloads.
//! - [`ep`]: one minibatch of equilibrium propagation (free phase, the nudging plan's
//!   trajectories, the update of a [`ep::rules::LearningRule`]: contrastive, temporal, spiking
//!   or a caller's own).
//! - [`experiments`]: gradient fidelity and steps to a fixed point on a data set's examples.
//! - [`batch`], [`rng`], [`schedule`]: a minibatch's rows, the random streams, the learning
//!   rates.
//! - [`evaluate`](mod@evaluate): the free phase over a whole dataset.
//! - [`run`]: epochs, metrics, stopping at minibatch boundaries.
//! - [`checkpoint`]: `.npz` model files and checkpoints (numpy-loadable), written atomically;
//!   resuming gives bit-identical weights.
//! - [`provenance`]: what produced a run (program, command, times, data fingerprint).
//! - [`io`]: atomic file writes, used for every file the workspace writes.
//! - [`sweep`]: the spread of a figure over the seeds of a sweep.
//!
//! The crate never prints; progress goes through the [`run::Observer`] trait.

pub mod batch;
pub mod checkpoint;
pub mod data;
pub mod ep;
mod error;
pub mod evaluate;
pub mod experiments;
pub mod io;
mod npz;
pub mod provenance;
pub mod rng;
pub mod run;
pub mod schedule;
pub mod sweep;

pub use data::{DataError, DataSource, DataSplits, Dataset, Limits, Location};
pub use error::TrainError;
pub use run::{EpochMetrics, Observer, Outcome, TrainState, train, train_with};

#[cfg(test)]
mod rule_tests;
#[cfg(test)]
mod tests;
