//! The error type of the `spikes` crate.

/// Everything that can go wrong in `spikes`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SpikesError {
    /// Spike times that are not strictly increasing.
    #[error("spike times must be strictly increasing: {previous} is followed by {next}")]
    UnsortedTimes {
        /// The earlier entry.
        previous: u32,
        /// The entry after it.
        next: u32,
    },
}
