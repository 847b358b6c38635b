//! Random streams: every random draw of a run comes from a generator that is a pure function
//! of (seed, stream, index), so a run's numbers do not depend on threads, scheduling, or where
//! it was interrupted and resumed.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The independent random streams of a training run.
#[derive(Debug, Clone, Copy)]
pub enum Stream {
    /// Weight initialisation.
    Init = 1,
    /// The sign of beta, per (epoch, minibatch).
    BetaSign = 2,
    /// The data order, per epoch.
    Order = 3,
    /// Langevin noise, per (epoch, minibatch).
    Noise = 4,
    /// Presynaptic spikes of the spiking rule, per (epoch, minibatch).
    Spikes = 5,
    /// Diagnostics that relax a trained net (`experiments::relax_trace`'s noise).
    Diagnostics = 6,
    /// The noise and spikes of an evaluation's free phase, per chunk of examples (indexed by
    /// the chunk's first example, so the draws do not depend on the thread count).
    Evaluation = 7,
}

/// A generator for `stream` at `index` (e.g. `epoch << 32 | batch`), derived from `seed`.
pub fn stream_rng(seed: u64, stream: Stream, index: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(((stream as u64) << 56) ^ index);
    rng
}

/// The stream index of minibatch `batch` (0-based) of epoch `epoch` (0-based).
pub fn batch_index(epoch: usize, batch: usize) -> u64 {
    ((epoch as u64) << 32) | batch as u64
}
