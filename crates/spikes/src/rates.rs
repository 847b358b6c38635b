//! The random rate sequences of section 4.2.1, and the estimate of ds/dt.
//!
//! The paper leaves the generator open ("random variations of the presynaptic rate and of the
//! postsynaptic rate, the latter induced by an externally driven voltage"). Ours:
//!
//! - presynaptic voltage `s_j`: a discretised Ornstein-Uhlenbeck process of mean `pre_mean`,
//!   stationary standard deviation `pre_std` and time constant `smoothing`:
//!   `s_j <- s_j + (pre_mean - s_j) / tau + pre_std sqrt(2/tau - 1/tau^2) N(0, 1)`;
//! - external drive `x`: the same process with `drive_mean`, `drive_std`;
//! - postsynaptic voltage `s_i`: a leaky integrator of the drive and of the synapse,
//!   `s_i <- s_i + epsilon (x + W rho(s_j) - s_i)` (Eq 2.1 with `R = x + W rho(s_j)`, no
//!   noise). In the STDP experiment `W = 0`: the postsynaptic rate is driven from outside only.
//!
//! Every voltage starts at rest (0) and runs `burn_in` steps before it is recorded.

use ebm_core::Rho;
use rand::Rng;
use rand_distr::StandardNormal;

pub use ebm_config::Derivative;
use ebm_config::StdpConfig;

/// The rate-sequence generator of a `[stdp]` section: discretised Ornstein-Uhlenbeck processes
/// for the presynaptic voltage and the drive (time constant `smoothing`), a leaky-integrator
/// postsynaptic voltage (step `epsilon`), recorded after `burn_in` steps from rest.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Generator<'a>(pub &'a StdpConfig);

/// One sequence's voltages, each of length `len`, recorded after the burn-in.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Voltages {
    /// Presynaptic voltage `s_j`.
    pub pre: Vec<f64>,
    /// Postsynaptic voltage `s_i` with the synapse silent (`W = 0`).
    pub post: Vec<f64>,
    /// Postsynaptic voltage when the synapse drives it and `W` learns by Eq 3.18 from step
    /// `learn_from` on (equal to `post` before).
    pub post_learning: Vec<f64>,
}

impl Generator<'_> {
    /// Generate `len` steps; `W` starts at 0 and, from step `learn_from` on, follows Eq 3.18,
    /// `W <- W + learning_rate (s_i(t+1) - s_i(t)) rho(s_j(t))`, in `post_learning`.
    pub fn generate(
        &self,
        len: usize,
        learn_from: usize,
        learning_rate: f64,
        rho: &Rho,
        rng: &mut impl Rng,
    ) -> Voltages {
        let c = self.0;
        let tau = c.smoothing;
        let decay = 1.0 / tau;
        let noise = (2.0 / tau - 1.0 / (tau * tau)).max(0.0).sqrt();
        let (mut sj, mut x, mut si, mut si_w, mut w) = (0.0f64, 0.0f64, 0.0f64, 0.0f64, 0.0f64);
        let mut out = Voltages {
            pre: Vec::with_capacity(len),
            post: Vec::with_capacity(len),
            post_learning: Vec::with_capacity(len),
        };
        for k in 0..c.burn_in + len {
            if k >= c.burn_in {
                out.pre.push(sj);
                out.post.push(si);
                out.post_learning.push(si_w);
            }
            let n1: f64 = rng.sample(StandardNormal);
            let n2: f64 = rng.sample(StandardNormal);
            let rj = rho.rho(sj);
            si += c.epsilon * (x - si);
            let before = si_w;
            si_w += c.epsilon * (x + w * rj - si_w);
            if k >= c.burn_in + learn_from {
                w += learning_rate * (si_w - before) * rj;
            }
            sj += (c.pre_mean - sj) * decay + c.pre_std * noise * n1;
            x += (c.drive_mean - x) * decay + c.drive_std * noise * n2;
        }
        out
    }
}

/// How a [`Derivative`] estimates ds/dt from a sampled voltage.
pub trait Slope {
    /// ds/dt at index `t` of `s` (needs `1 <= t < s.len() - 1`).
    fn at(self, s: &[f64], t: usize) -> f64;
}

impl Slope for Derivative {
    #[inline]
    fn at(self, s: &[f64], t: usize) -> f64 {
        match self {
            Derivative::Central => 0.5 * (s[t + 1] - s[t - 1]),
            Derivative::Forward => s[t + 1] - s[t],
            Derivative::Backward => s[t] - s[t - 1],
        }
    }
}
