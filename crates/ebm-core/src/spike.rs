//! Bernoulli spikes of a rate: the binary messages of Eq 4.1 of Bengio et al. 2017 (`xi ~
//! Bernoulli(rho(s))`), decided by one uniform 32-bit integer per draw. Shared by the
//! relaxation's spiking messages (`dynamics.messages = "spikes"`), the spiking learning rule
//! and the STDP simulation, so that all three draw spikes the same way.

use rand::{Rng, RngCore};

/// `p` as a 32-bit fixed-point threshold in `[0, 2^32]`: a draw spikes when a uniform 32-bit
/// integer is below it, so the spike probability is `threshold / 2^32` (within `2^-33` of `p`).
#[inline]
pub fn threshold(p: f64) -> u64 {
    // Rounded to nearest (ties up) without a call to `round`: `x + 0.5` is exact for
    // `0 <= x <= 2^32` in f64, and the cast truncates.
    (p.clamp(0.0, 1.0) * 4_294_967_296.0 + 0.5) as u64
}

/// One Bernoulli draw: a spike with probability `rate` (clamped to `[0, 1]`), decided by one
/// uniform 32-bit integer against [`threshold`]. The spiking form of a rate, `xi ~
/// Bernoulli(rho(s))`, as in Eq 4.1 of Bengio et al. 2017.
#[inline]
pub fn bernoulli(rate: f64, rng: &mut impl RngCore) -> bool {
    fires(rate, rng.next_u32())
}

/// `draws.len()` uniform 32-bit integers from `rng` in one block (`draws` is resized to `n`),
/// for as many [`bernoulli`] decisions made by [`fires`] in a vectorisable loop.
pub(crate) fn uniform_draws(n: usize, draws: &mut Vec<u32>, rng: &mut impl RngCore) {
    draws.resize(n, 0);
    rng.fill(&mut draws[..]);
}

/// Whether a spike of probability `rate` fires on the uniform 32-bit draw `u` (the decision of
/// [`bernoulli`]).
#[inline(always)]
pub(crate) fn fires(rate: f64, u: u32) -> bool {
    u64::from(u) < threshold(rate)
}
