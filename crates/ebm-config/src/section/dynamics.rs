//! `[dynamics]`: How states move: the update rule, its step, noise and schedule, and the kernels (Eq 2.1-2.2 and the equilibrium-propagation code).

use serde::{Deserialize, Serialize};

use crate::check::Checker;

/// How states move (Eq 2.1-2.2 and the equilibrium-propagation code).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DynamicsConfig {
    /// Step size epsilon, in (0, 1].
    pub epsilon: f64,
    /// Steps of the free phase (T).
    pub free_steps: usize,
    /// Steps of the nudged phase (K).
    pub nudged_steps: usize,
    /// Steps of the free phase when evaluating (0 = same as `free_steps`).
    pub eval_steps: usize,
    /// Standard deviation of the Langevin noise eta (0 = noise-free).
    pub noise_std: f64,
    /// Stop a phase early once max |delta s| < tolerance (0 = always run the full step count).
    pub tolerance: f64,
    /// The state-update rule.
    pub rule: UpdateRuleKind,
    /// Order of the layer updates within a step: `synchronous` (every layer from the previous
    /// step's states) or `alternating` (even layers, then odd layers from the new even states).
    pub schedule: Schedule,
    /// Which kernels compute the relaxation and the updates: `sparse` (skip the exact zeros of
    /// the input and of the clipped states, fused layer steps) or `dense` (every product dense:
    /// the checked reference). Both compute the same sums; only zero terms are left out.
    pub kernels: Kernels,
    /// What a unit sends its neighbours at each step: its rate `rho(s)` (`rates`, the papers'
    /// model) or a Bernoulli spike of probability `rho(s)` (`spikes`: binary messages, the
    /// future work of Bengio et al. 2017), in every phase and for the clamped input too.
    pub messages: Messages,
}

impl Default for DynamicsConfig {
    fn default() -> Self {
        Self {
            epsilon: 0.5,
            free_steps: 20,
            nudged_steps: 4,
            eval_steps: 0,
            noise_std: 0.0,
            tolerance: 0.0,
            rule: UpdateRuleKind::ProjectedGradient,
            schedule: Schedule::Synchronous,
            kernels: Kernels::Sparse,
            messages: Messages::Rates,
        }
    }
}

/// Which kernels the relaxation and the weight updates use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kernels {
    /// Skip exact zeros: the input's zero pixels (when the minibatch is sparse enough), the
    /// clipped states' zeros in thin products, and fuse each hidden layer's drive, leak and clip
    /// into one pass (the projected rule with `beta1 = 0`, where `rho(s) = s`).
    #[default]
    Sparse,
    /// Every product dense and every step unfused: the reference the sparse path is tested
    /// against (same sums, so results agree to rounding).
    Dense,
}

/// What units send each other at each relaxation step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Messages {
    /// The rate `rho(s_j)`: the papers' deterministic model.
    #[default]
    Rates,
    /// A spike `xi_j` in {0, 1} with `P(xi_j = 1) = rho(s_j)`, drawn afresh at every step
    /// for every unit (the input's too): the net input `sum_j W_ij xi_j` is an unbiased
    /// estimate of the rates' `sum_j W_ij rho(s_j)`.
    Spikes,
}

/// Order of the layer updates within one relaxation step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Schedule {
    /// Every free layer moves from the previous step's states (the reference code).
    #[default]
    Synchronous,
    /// Layer-alternating (asynchronous): the even layers move first, from the current states,
    /// then the odd layers from the new even states. Layers of one parity do not interact, so
    /// each half-step is exact block-coordinate descent on the layered energy.
    Alternating,
}

/// The two state-update rules of `ebm-core`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UpdateRuleKind {
    /// `s <- clip(s - eps dF/ds, beta1, beta2)`, the equilibrium-propagation code's rule.
    ProjectedGradient,
    /// `s <- s + eps (R(s + eta) - s)`, the leaky integrator with Langevin noise (Eq 2.1-2.2).
    LeakyIntegrator,
}

impl DynamicsConfig {
    /// A step in (0, 1], at least one step per phase, non-negative noise and tolerance.
    pub(crate) fn check(&self, c: &mut Checker) {
        c.unit_interval("dynamics.epsilon", self.epsilon);
        c.positive_count("dynamics.free_steps", self.free_steps);
        c.positive_count("dynamics.nudged_steps", self.nudged_steps);
        c.non_negative("dynamics.noise_std", self.noise_std);
        c.non_negative("dynamics.tolerance", self.tolerance);
    }
}
