//! `[stdp]`: The STDP simulation of section 4.2 of Bengio et al. 2017.

use serde::{Deserialize, Serialize};

use crate::check::Checker;

/// The STDP simulation of section 4.2 of Bengio et al. 2017 (see `docs/stdp.md`).
///
/// The presynaptic voltage `s_j` and the external drive `x` of the postsynaptic unit are
/// discretised Ornstein-Uhlenbeck processes (time constant `smoothing`); the postsynaptic voltage
/// is a leaky integrator of the drive, `s_i <- s_i + epsilon (x - s_i)`. Spikes are drawn per
/// step with probability `clamp(spike_scale * rho(s), 0, 1)` (Bernoulli) or
/// `1 - exp(-spike_scale * rho(s))` (Poisson).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StdpConfig {
    /// Random rate sequences (the paper: 500).
    pub sequences: usize,
    /// Steps per sequence (the paper: 160).
    pub steps: usize,
    /// Spike trains sampled per sequence (the paper: 1000).
    pub trains: usize,
    /// Half-width of the window around each presynaptic spike, in steps (the paper: 20).
    pub window: usize,
    /// Spike probability constant c: p = clamp(c rho(s), 0, 1) per step (Bernoulli) or
    /// p = 1 - exp(-c rho(s)) (Poisson).
    pub spike_scale: f64,
    /// Spike model: `bernoulli` or `poisson`.
    pub spike_model: SpikeModel,
    /// Time constant of the potentiation branch of the STDP kernel, steps (Bi & Poo: 16.8).
    pub tau_plus: f64,
    /// Time constant of the depression branch of the STDP kernel, steps (Bi & Poo: 33.7).
    pub tau_minus: f64,
    /// Amplitude of potentiation A+.
    pub a_plus: f64,
    /// Amplitude of depression A-.
    pub a_minus: f64,
    /// Time constant (steps, >= 1) of the Ornstein-Uhlenbeck presynaptic voltage and drive.
    pub smoothing: f64,
    /// Mean of the presynaptic voltage `s_j`.
    pub pre_mean: f64,
    /// Stationary standard deviation of the presynaptic voltage `s_j`.
    pub pre_std: f64,
    /// Mean of the external drive `x` of the postsynaptic voltage.
    pub drive_mean: f64,
    /// Stationary standard deviation of the external drive `x`.
    pub drive_std: f64,
    /// Step of the postsynaptic leaky integrator `s_i <- s_i + epsilon (x + W rho(s_j) - s_i)`,
    /// in (0, 1] (Eq 2.1 without noise).
    pub epsilon: f64,
    /// Estimate of ds_i/dt at step t: `central` (s_(t+1) - s_(t-1)) / 2, `forward`
    /// s_(t+1) - s_t, or `backward` s_t - s_(t-1).
    pub derivative: Derivative,
    /// Steps simulated from rest (all voltages 0) and discarded before each sequence.
    pub burn_in: usize,
    /// Learning rate of the weight in the E[(ds)^2] measurement and Figure 3.
    pub learning_rate: f64,
    /// Equal-count bins of the rate-rule update in Figure 5.
    pub fig5_bins: usize,
}

impl Default for StdpConfig {
    fn default() -> Self {
        Self {
            sequences: 500,
            steps: 160,
            trains: 1000,
            window: 20,
            spike_scale: 0.25,
            spike_model: SpikeModel::Bernoulli,
            tau_plus: 16.8,
            tau_minus: 33.7,
            a_plus: 1.0,
            a_minus: 0.5,
            smoothing: 10.0,
            pre_mean: 0.5,
            pre_std: 0.3,
            drive_mean: 0.5,
            drive_std: 1.0,
            epsilon: 0.1,
            derivative: Derivative::Central,
            burn_in: 100,
            learning_rate: 0.01,
            fig5_bins: 20,
        }
    }
}

impl StdpConfig {
    /// Positive sizes within bounds, finite constants in their ranges.
    pub(crate) fn check(&self, c: &mut Checker) {
        c.positive_count("stdp.sequences", self.sequences);
        c.positive_count("stdp.steps", self.steps);
        c.positive_count("stdp.trains", self.trains);
        c.positive_count("stdp.window", self.window);
        c.positive("stdp.spike_scale", self.spike_scale);
        c.positive("stdp.tau_plus", self.tau_plus);
        c.positive("stdp.tau_minus", self.tau_minus);
        c.non_negative("stdp.a_plus", self.a_plus);
        c.non_negative("stdp.a_minus", self.a_minus);
        if c.finite("stdp.smoothing", self.smoothing) && self.smoothing < 1.0 {
            c.fail("stdp.smoothing", format!("= {}: must be >= 1 (steps)", self.smoothing));
        }
        c.finite("stdp.pre_mean", self.pre_mean);
        c.non_negative("stdp.pre_std", self.pre_std);
        c.finite("stdp.drive_mean", self.drive_mean);
        c.non_negative("stdp.drive_std", self.drive_std);
        c.unit_interval("stdp.epsilon", self.epsilon);
        c.finite("stdp.learning_rate", self.learning_rate);
        if self.fig5_bins < 2 {
            c.fail("stdp.fig5_bins", format!("= {}: must be at least 2", self.fig5_bins));
        }
        if self.steps > 1 << 20
            || self.window > 1 << 16
            || self.trains > 1 << 24
            || self.sequences > 1 << 32
        {
            c.fail(
                "stdp",
                "sizes too large: steps <= 2^20, window <= 2^16, trains <= 2^24, sequences <= 2^32",
            );
        }
    }
}

/// How a rate becomes a spike probability per step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SpikeModel {
    /// `p = clamp(c rate, 0, 1)`: the paper's "probability proportional to the rate".
    #[default]
    Bernoulli,
    /// Inhomogeneous Poisson process of intensity `lambda = c rate` per step, at most one spike
    /// per step: `p = 1 - exp(-lambda)`.
    Poisson,
}

/// The estimate of ds/dt at step `t` from the sampled voltage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Derivative {
    /// `(s_(t+1) - s_(t-1)) / 2`.
    #[default]
    Central,
    /// `s_(t+1) - s_t`.
    Forward,
    /// `s_t - s_(t-1)`.
    Backward,
}
