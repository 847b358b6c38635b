//! Learning rules: how a minibatch's nudged phase becomes a parameter update. Each rule is a
//! type implementing [`LearningRule`] in its own file, owning its buffers; the driver
//! ([`crate::ep::train_batch`]) runs the free phase, the nudged trajectories of the
//! [`NudgingPlan`](super::NudgingPlan), and calls the rule at each point.
//!
//! - [`Contrastive`]: the two-point update (Scellier & Bengio, Eq 13);
//! - [`Temporal`]: Eq 3.18 of Bengio et al. 2017 accumulated along the nudged trajectory;
//! - [`Spiking`]: the same with Bernoulli presynaptic spikes (Eq 4.1).
//!
//! A new rule is a new file implementing the trait (see `docs/extending.md`): pass it to
//! [`crate::ep::Workspace::with_rule`] (or [`crate::run::train_with`]); to make it a choice of
//! `training.rule`, add a variant to `ebm_config::LearningRule` and a line to [`for_config`].

mod contrastive;
mod local;
mod spiking;
mod temporal;

use ebm_config::ValidConfig;
use ebm_core::kernels::par_gemm;
use ebm_core::{LayeredNet, Relaxer, States};
use ndarray::{Array1, Array2};

pub use contrastive::Contrastive;
pub use local::{Local, Presynaptic};
pub use spiking::{Spikes, Spiking};
pub use temporal::{Rates, Temporal};

use super::NudgingPlan;

/// What a rule knows of the minibatch it updates from.
#[derive(Debug, Clone, Copy)]
pub struct BatchContext<'a> {
    /// The nudged trajectories and the update's denominator.
    pub plan: &'a NudgingPlan,
    /// Per weight layer `k`: `alpha_k / (denominator batch)`, the factor of its update.
    pub coefficients: &'a [f32],
    /// The run's seed (for a rule's own random stream).
    pub seed: u64,
    /// The minibatch's stream index ([`crate::rng::batch_index`]).
    pub index: u64,
    /// Whether every nudged trajectory replays the same random draws
    /// (`training.shared_noise`): a rule with its own draws restarts them per trajectory.
    pub shared_noise: bool,
}

/// The phases of a minibatch as they ended.
#[derive(Debug, Clone, Copy)]
pub struct Phases<'a> {
    /// The free fixed point (layer 0: the input).
    pub free: &'a States<f32>,
    /// The end of each nudged trajectory of the plan, in order (layer 0 unused).
    pub nudged: &'a [States<f32>],
    /// The relaxer of the minibatch: its input `rho(x)`, dense or sparse.
    pub relaxer: &'a Relaxer<f32>,
}

/// A weight-update rule of equilibrium propagation. The driver calls, per minibatch: `begin`
/// after the free phase; for each trajectory `begin_trajectory`, then `on_step` after every
/// step of the nudged phase (when [`LearningRule::stepwise`]; otherwise the phase runs as one
/// relaxation); finally `finish`, which updates the parameters.
pub trait LearningRule: std::fmt::Debug + Send {
    /// Whether the rule observes every step of the nudged phase (`on_step`).
    fn stepwise(&self) -> bool {
        false
    }

    /// A minibatch begins (its free phase is done; `relaxer` holds its input).
    fn begin(&mut self, _ctx: &BatchContext<'_>, _relaxer: &Relaxer<f32>) {}

    /// Trajectory `trajectory` of the plan starts from `states` (the free fixed point).
    fn begin_trajectory(
        &mut self,
        _ctx: &BatchContext<'_>,
        _trajectory: usize,
        _net: &LayeredNet<f32>,
        _states: &States<f32>,
    ) {
    }

    /// One step of trajectory `trajectory` moved the states to `states` (stepwise rules only).
    /// The rule may update parameters that do not enter the phase's dynamics (`W_0`: the
    /// input's drive is computed once per minibatch).
    fn on_step(
        &mut self,
        _ctx: &BatchContext<'_>,
        _trajectory: usize,
        _net: &mut LayeredNet<f32>,
        _states: &States<f32>,
    ) {
    }

    /// Apply the minibatch's update to `net`.
    fn finish(&mut self, ctx: &BatchContext<'_>, net: &mut LayeredNet<f32>, phases: &Phases<'_>);
}

/// The rule `training.rule` names, with buffers for `net` and minibatches of `batch`.
pub fn for_config(
    config: &ValidConfig,
    net: &LayeredNet<f32>,
    batch: usize,
) -> Box<dyn LearningRule> {
    match config.training.rule {
        ebm_config::LearningRule::Contrastive => Box::new(Contrastive::new(net, batch)),
        ebm_config::LearningRule::Temporal => {
            let time = config.training.presynaptic_time;
            Box::new(Temporal::new(net, batch, Rates).with_time(net, time, batch))
        }
        ebm_config::LearningRule::Spiking => {
            let time = config.training.presynaptic_time;
            let deferred = config.dynamics.messages == ebm_config::Messages::Spikes;
            let spikes = Spikes::new(net, batch, deferred);
            Box::new(Spiking::new(net, batch, spikes).with_time(net, time, batch))
        }
    }
}

/// `b += c sum_batch diff` (a bias is a connection from a unit of constant rate 1).
pub fn add_bias_update(bias: &mut Array1<f32>, c: f32, diff: &Array2<f32>) {
    for row in diff.rows() {
        bias.scaled_add(c, &row);
    }
}

/// `W_0 += c rho(x)^T diff`, touching only the rows of `W_0` whose pixel is non-zero somewhere
/// in the minibatch when the relaxer took the sparse input path.
pub fn add_input_outer(relaxer: &Relaxer<f32>, c: f32, diff: &Array2<f32>, w0: &mut Array2<f32>) {
    match relaxer.sparse_input() {
        Some(sparse) => sparse.acc_outer(c, diff, w0),
        None => par_gemm(c, &relaxer.rho_input().t(), diff, 1.0, w0),
    }
}

/// `rates[k] = rho(s_k)` for every layer `k >= 1` of `states` (`rates[0]` untouched).
pub(crate) fn rates_into(net: &LayeredNet<f32>, states: &States<f32>, rates: &mut [Array2<f32>]) {
    let rho = net.rho;
    for k in 1..=net.depth() {
        ndarray::Zip::from(&mut rates[k]).and(&states.layers[k]).for_each(|p, &v| *p = rho.eval(v));
    }
}

/// Per layer `k >= 1` of `net`, a `(batch, n_k)` buffer; index 0 (the input) is empty.
pub(crate) fn layer_buffers(net: &LayeredNet<f32>, batch: usize) -> Vec<Array2<f32>> {
    let mut v = vec![Array2::zeros((0, 0))];
    v.extend(net.sizes()[1..].iter().map(|&n| Array2::zeros((batch, n))));
    v
}
