//! One minibatch of equilibrium propagation (Scellier & Bengio, arXiv:1602.05179), faithful to
//! the reference code: a free phase of `T` projected steps from the example's persistent
//! particle (or from zero), then the nudged trajectories of the minibatch's [`NudgingPlan`]
//! (`K` steps each from the free fixed point, descending `F = E + beta C`), then the update of
//! the [`LearningRule`](rules::LearningRule).
//!
//! Speed: the clamped input's drive `rho(x) W_0 + b_0` is computed once per minibatch and shared
//! by every phase; every buffer is allocated once, in [`Workspace`] and in the rule.

mod nudging;
pub mod rules;

use ebm_config::{UpdateRuleKind, ValidConfig};
use ebm_core::{Dynamics, LayeredNet, Output, Relaxer, States, Stop, argmax_rows};
use ndarray::Array2;

pub use nudging::{NudgingPlan, Trajectory};
pub use rules::{BatchContext, LearningRule, Phases};

use crate::batch::Rows;
use crate::data::Dataset;
use crate::rng::{Stream, batch_index, stream_rng};
use crate::schedule::learning_rate;

/// Preallocated buffers for one minibatch size, and the learning rule with its own.
#[derive(Debug)]
pub struct Workspace {
    relaxer: Relaxer<f32>,
    free: States<f32>,
    /// One buffer per nudged trajectory (two for centred nudging).
    nudged: Vec<States<f32>>,
    target: Array2<f32>,
    coefficients: Vec<f32>,
    rule: Box<dyn LearningRule>,
}

impl Workspace {
    /// Buffers for `net` and minibatches of `batch`, with the rule `training.rule` names.
    pub fn new(config: &ValidConfig, net: &LayeredNet<f32>, batch: usize) -> Self {
        Self::with_rule(net, batch, rules::for_config(config, net, batch))
    }

    /// Buffers for `net` and minibatches of `batch`, with the learning rule `rule` (which may
    /// be a caller's own).
    pub fn with_rule(net: &LayeredNet<f32>, batch: usize, rule: Box<dyn LearningRule>) -> Self {
        let zeros = || {
            States::with_input(net, Array2::<f32>::zeros((batch, net.sizes()[0])).view())
                .expect("input size from the net")
        };
        Self {
            relaxer: Relaxer::new(net, batch, 0),
            nudged: vec![zeros(), zeros()],
            free: zeros(),
            target: Array2::zeros((batch, *net.sizes().last().expect("two layers"))),
            coefficients: vec![0.0; net.depth()],
            rule,
        }
    }
}

/// What one minibatch reports.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BatchStats {
    /// Examples misclassified by the free phase (argmax of the output).
    pub errors: usize,
    /// Sum over the batch of `E` at the free fixed point.
    pub energy: f64,
    /// Sum over the batch of `C` at the free fixed point.
    pub cost: f64,
}

/// A minibatch: its examples in a data set, and its place in the run.
#[derive(Debug, Clone, Copy)]
pub struct Minibatch<'a> {
    /// The data set.
    pub data: &'a Dataset,
    /// The examples.
    pub rows: Rows<'a>,
    /// Epoch (0-based).
    pub epoch: usize,
    /// Minibatch within the epoch (0-based).
    pub index: usize,
}

/// One minibatch of equilibrium propagation: free phase (written back to the persistent
/// particles `particles[k-1]`: `(n, n_k)`), nudged trajectories, update of `net`.
pub fn train_batch(
    config: &ValidConfig,
    net: &mut LayeredNet<f32>,
    ws: &mut Workspace,
    particles: &mut [Array2<f32>],
    mb: Minibatch<'_>,
) -> Result<BatchStats, ebm_core::CoreError> {
    let depth = net.depth();
    let batch = ws.free.batch();
    let dyn_ = Dynamics::of(&config.dynamics);
    let t = &config.training;
    let rows = mb.rows;

    // Input, persistent particles, one-hot targets.
    rows.gather(&mut ws.free.layers[0], &mb.data.images);
    for k in 1..=depth {
        if t.persistent_particles {
            rows.gather(&mut ws.free.layers[k], &particles[k - 1]);
        } else {
            ws.free.layers[k].fill(0.0);
        }
    }
    mb.data.one_hot_into(rows, &mut ws.target);
    let index = batch_index(mb.epoch, mb.index);
    if dyn_.noise_std > 0.0 && dyn_.rule == UpdateRuleKind::LeakyIntegrator {
        *ws.relaxer.rng_mut() = stream_rng(config.seed, Stream::Noise, index);
    }

    // Free phase: T steps (or until the tolerance) from the particle.
    ws.relaxer.set_kernels(config.dynamics.kernels);
    ws.relaxer.set_input(net, ws.free.layers[0].view())?;
    let free_stop = Stop {
        max_steps: config.dynamics.free_steps,
        tolerance: config.dynamics.tolerance,
        trace_energy: false,
    };
    ws.relaxer.relax(net, &mut ws.free, &Output::Free, &dyn_, &free_stop)?;
    if t.persistent_particles {
        for k in 1..=depth {
            rows.scatter(&mut particles[k - 1], &ws.free.layers[k]);
        }
    }
    let errors = argmax_rows(ws.free.output().view())
        .into_iter()
        .enumerate()
        .filter(|&(b, p)| p != usize::from(mb.data.labels[rows.row(b)]))
        .count();
    let energy = ws.relaxer.energy(net, &ws.free).iter().map(|&e| f64::from(e)).sum();
    let cost = ebm_core::energy::cost(ws.free.output(), ws.target.view(), t.cost);
    let stats = BatchStats { errors, energy, cost: cost.iter().map(|&c| f64::from(c)).sum() };

    // Nudged trajectories: K steps each from the free fixed point.
    let plan = NudgingPlan::new(t, config.seed, index);
    for (k, c) in ws.coefficients.iter_mut().enumerate() {
        *c = plan.coefficient(learning_rate(t, k, mb.epoch), batch);
    }
    let ctx =
        BatchContext { plan: &plan, coefficients: &ws.coefficients, seed: config.seed, index };
    ws.rule.begin(&ctx, &ws.relaxer);
    let stop = Stop {
        max_steps: config.dynamics.nudged_steps,
        tolerance: config.dynamics.tolerance,
        trace_energy: false,
    };
    for (i, trajectory) in plan.trajectories.iter().enumerate() {
        let states = &mut ws.nudged[i];
        for k in 1..=depth {
            states.layers[k].assign(&ws.free.layers[k]);
        }
        let out = Output::Nudged { beta: trajectory.beta, target: ws.target.view(), cost: t.cost };
        if !ws.rule.stepwise() {
            ws.relaxer.relax(net, states, &out, &dyn_, &stop)?;
            continue;
        }
        ws.rule.begin_trajectory(&ctx, i, net, states);
        for _ in 0..stop.max_steps {
            let moved = ws.relaxer.step(net, states, &out, &dyn_)?;
            ws.rule.on_step(&ctx, i, net, states);
            if stop.tolerance > 0.0 && moved < stop.tolerance {
                break;
            }
        }
    }
    let phases = Phases {
        free: &ws.free,
        nudged: &ws.nudged[..plan.trajectories.len()],
        relaxer: &ws.relaxer,
    };
    ws.rule.finish(&ctx, net, &phases);
    Ok(stats)
}
