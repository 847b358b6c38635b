//! The exponential STDP kernel fitted by Bi & Poo (1998) to hippocampal cultures.

use ebm_config::StdpConfig;

/// `A+ exp(-dt / tau+)` for `dt > 0` (post after pre: potentiation), `-A- exp(dt / tau-)` for
/// `dt < 0` (depression) and 0 for `dt = 0`, with `dt = t_post - t_pre` in steps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StdpKernel {
    /// Amplitude of potentiation A+.
    pub a_plus: f64,
    /// Amplitude of depression A-.
    pub a_minus: f64,
    /// Decay of potentiation, steps (Bi & Poo: 16.8 ms, one step = 1 ms).
    pub tau_plus: f64,
    /// Decay of depression, steps (Bi & Poo: 33.7 ms).
    pub tau_minus: f64,
}

impl Default for StdpKernel {
    fn default() -> Self {
        Self { a_plus: 1.0, a_minus: 0.5, tau_plus: 16.8, tau_minus: 33.7 }
    }
}

impl StdpKernel {
    /// The kernel of a (validated) STDP config section.
    pub fn from_config(c: &StdpConfig) -> Self {
        Self { a_plus: c.a_plus, a_minus: c.a_minus, tau_plus: c.tau_plus, tau_minus: c.tau_minus }
    }

    /// The weight change of one pair with `dt = t_post - t_pre`.
    #[inline]
    pub fn eval(&self, dt: i64) -> f64 {
        match dt {
            0 => 0.0,
            d if d > 0 => self.a_plus * (-(d as f64) / self.tau_plus).exp(),
            d => -self.a_minus * ((d as f64) / self.tau_minus).exp(),
        }
    }
}
