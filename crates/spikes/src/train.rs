//! Spike trains and their generation from rates: a Bernoulli draw per step with
//! `p = clamp(c rho(s), 0, 1)`, or an inhomogeneous Poisson process with `p = 1 - exp(-c rho(s))`.
//!
//! The experiment draws 64 trains at once ([`bernoulli_lanes`]): the trains of one sequence
//! share their rate, so one step of 64 trains is 64 Bernoulli draws with the same `p`, and a
//! bit-sliced comparison of uniform numbers against `p` decides them with about 8 random words
//! instead of 64.

use rand::{Rng, RngCore};

pub use ebm_config::SpikeModel;

use crate::SpikesError;

/// A spike train: strictly increasing spike times (in steps).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SpikeTrain {
    times: Vec<u32>,
}

impl SpikeTrain {
    /// A train from strictly increasing times.
    pub fn new(times: Vec<u32>) -> Result<Self, SpikesError> {
        if let Some(w) = times.windows(2).find(|w| w[0] >= w[1]) {
            return Err(SpikesError::UnsortedTimes { previous: w[0], next: w[1] });
        }
        Ok(Self { times })
    }

    /// The train with a spike at every step where `spikes[t]` is true.
    pub fn from_bools(spikes: &[bool]) -> Self {
        let times = (0u32..).zip(spikes).filter_map(|(t, &s)| s.then_some(t)).collect();
        Self { times }
    }

    /// The spike times, strictly increasing.
    pub fn times(&self) -> &[u32] {
        &self.times
    }

    /// Number of spikes.
    pub fn len(&self) -> usize {
        self.times.len()
    }

    /// No spike at all.
    pub fn is_empty(&self) -> bool {
        self.times.is_empty()
    }
}

/// How a [`SpikeModel`] turns a rate into a spike probability per step.
pub trait SpikeProbability {
    /// Probability of a spike in one step at `rate` (`rho(s)`) with constant `scale` (c).
    fn probability(self, scale: f64, rate: f64) -> f64;
}

impl SpikeProbability for SpikeModel {
    #[inline]
    fn probability(self, scale: f64, rate: f64) -> f64 {
        let lambda = scale * rate;
        match self {
            SpikeModel::Bernoulli => lambda.clamp(0.0, 1.0),
            SpikeModel::Poisson => (1.0 - (-lambda.max(0.0)).exp()).clamp(0.0, 1.0),
        }
    }
}

/// One Bernoulli draw per step: a spike at step `t` with probability `probabilities[t]`.
pub fn sample_train(probabilities: &[f64], rng: &mut impl Rng) -> SpikeTrain {
    let times = (0u32..)
        .zip(probabilities)
        .filter_map(|(t, &p)| (rng.random::<f64>() < p).then_some(t))
        .collect();
    SpikeTrain { times }
}

pub use ebm_core::{bernoulli, threshold};

/// 64 independent Bernoulli draws with probability `threshold / 2^32` (see [`threshold`]),
/// one per bit.
///
/// Bit-sliced comparison: lane k holds a uniform 32-bit integer `U_k` whose bits are drawn
/// most significant first, one 64-bit random word per bit position for all lanes. At each bit
/// a lane is decided as soon as its bit differs from the threshold's (a 0 where the threshold
/// has a 1 means `U_k < threshold`: spike); the loop ends when every lane is decided, after
/// about `log2(64) + 2` words. Lanes still undecided after 32 bits equal the threshold: no
/// spike.
#[inline]
pub fn bernoulli_lanes(threshold: u64, rng: &mut impl RngCore) -> u64 {
    if threshold == 0 {
        return 0;
    }
    if threshold >= 1 << 32 {
        return u64::MAX;
    }
    let mut spikes = 0u64;
    let mut undecided = u64::MAX;
    let mut bit = 31;
    loop {
        let r = rng.next_u64();
        if (threshold >> bit) & 1 == 1 {
            spikes |= undecided & !r;
            undecided &= r;
        } else {
            undecided &= !r;
        }
        if undecided == 0 || bit == 0 {
            return spikes;
        }
        bit -= 1;
    }
}
