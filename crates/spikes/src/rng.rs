//! Random streams derived from `(seed, stream id)`, so that every draw of the experiment depends
//! only on the seed and on which sequence, block of trains and neuron it belongs to, never on
//! the thread that computes it.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// SplitMix64: a bijective mixer used to expand the seed into a ChaCha key.
#[inline]
pub fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Which independent stream of the experiment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// The random voltages (presynaptic voltage and postsynaptic drive) of one sequence.
    Rates {
        /// Sequence index.
        sequence: u64,
    },
    /// The spikes of one block of 64 trains of one sequence, for one neuron.
    Spikes {
        /// Sequence index.
        sequence: u64,
        /// Block index: trains `64 block .. 64 block + 63`.
        block: u64,
        /// Presynaptic (`false`) or postsynaptic (`true`) neuron.
        post: bool,
    },
}

impl Stream {
    /// The ChaCha stream number: 32 bits of sequence, 1 bit of kind, 1 bit of neuron, 30 bits
    /// of block.
    pub fn id(self) -> u64 {
        match self {
            Stream::Rates { sequence } => sequence << 32,
            Stream::Spikes { sequence, block, post } => {
                (sequence << 32) | (1 << 31) | (u64::from(post) << 30) | (block & ((1 << 30) - 1))
            }
        }
    }
}

/// The generator of `stream` under `seed`: ChaCha8 keyed by SplitMix64 of the seed, on the
/// stream's own ChaCha stream number (independent streams of one key).
pub fn stream(seed: u64, stream: Stream) -> ChaCha8Rng {
    let mut state = seed;
    let mut key = [0u8; 32];
    for chunk in key.chunks_exact_mut(8) {
        chunk.copy_from_slice(&splitmix64(&mut state).to_le_bytes());
    }
    let mut rng = ChaCha8Rng::from_seed(key);
    rng.set_stream(stream.id());
    rng
}
