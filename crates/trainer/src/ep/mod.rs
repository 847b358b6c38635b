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
mod split;

use ebm_config::ValidConfig;
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
    bufs: Buffers,
    coefficients: Vec<f32>,
    rule: Box<dyn LearningRule>,
    /// The minibatch's rows split across the rayon pool's threads (empty on one thread).
    parts: Vec<split::Part>,
}

/// The minibatch's relaxer and states.
#[derive(Debug)]
struct Buffers {
    relaxer: Relaxer<f32>,
    free: States<f32>,
    /// One buffer per nudged trajectory (two for centred nudging).
    nudged: Vec<States<f32>>,
    target: Array2<f32>,
}

impl Workspace {
    /// Buffers for `net` and minibatches of `batch`, with the rule `training.rule` names.
    pub fn new(config: &ValidConfig, net: &LayeredNet<f32>, batch: usize) -> Self {
        Self::with_rule(net, batch, rules::for_config(config, net, batch))
    }

    /// Buffers for `net` and minibatches of `batch`, with the learning rule `rule` (which may
    /// be a caller's own). With more than one thread in the current rayon pool, the
    /// minibatch's rows are relaxed in that many parts in parallel where nothing couples them
    /// (see `split.rs`); the results are the same for any thread count.
    pub fn with_rule(net: &LayeredNet<f32>, batch: usize, rule: Box<dyn LearningRule>) -> Self {
        let zeros = || {
            States::with_input(net, Array2::<f32>::zeros((batch, net.sizes()[0])).view())
                .expect("input size from the net")
        };
        Self {
            bufs: Buffers {
                relaxer: Relaxer::new(net, batch, 0),
                nudged: vec![zeros(), zeros()],
                free: zeros(),
                target: Array2::zeros((batch, *net.sizes().last().expect("two layers"))),
            },
            coefficients: vec![0.0; net.depth()],
            parts: split::parts(net, batch, rayon::current_num_threads(), rule.stepwise()),
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
    let b = &mut ws.bufs;
    let batch = b.free.batch();
    let dyn_ = Dynamics::of(&config.dynamics);
    let t = &config.training;
    let rows = mb.rows;

    // Input, persistent particles, one-hot targets.
    rows.gather(&mut b.free.layers[0], &mb.data.images);
    for k in 1..=depth {
        if t.persistent_particles {
            rows.gather(&mut b.free.layers[k], &particles[k - 1]);
        } else {
            b.free.layers[k].fill(0.0);
        }
    }
    mb.data.one_hot_into(rows, &mut b.target);
    let index = batch_index(mb.epoch, mb.index);
    if dyn_.stochastic() {
        *b.relaxer.rng_mut() = stream_rng(config.seed, Stream::Noise, index);
    }

    let plan = NudgingPlan::new(t, config.seed, index);
    for (k, c) in ws.coefficients.iter_mut().enumerate() {
        *c = plan.coefficient(learning_rate(t, k, mb.epoch), batch);
    }
    let ctx = BatchContext {
        plan: &plan,
        coefficients: &ws.coefficients,
        seed: config.seed,
        index,
        shared_noise: t.shared_noise,
    };
    let energy = if !ws.parts.is_empty() && split::applies(config) {
        let energy = split::relax(config, net, &mut ws.parts, b, &plan)?;
        ws.rule.begin(&ctx, &b.relaxer);
        energy
    } else {
        relax_whole(config, net, b, ws.rule.as_mut(), &ctx)?
    };
    if t.persistent_particles {
        for k in 1..=depth {
            rows.scatter(&mut particles[k - 1], &b.free.layers[k]);
        }
    }
    let errors = argmax_rows(b.free.output().view())
        .into_iter()
        .enumerate()
        .filter(|&(i, p)| p != usize::from(mb.data.labels[rows.row(i)]))
        .count();
    let cost = ebm_core::energy::cost(b.free.output(), b.target.view(), t.cost);
    let stats = BatchStats { errors, energy, cost: cost.iter().map(|&c| f64::from(c)).sum() };
    let phases =
        Phases { free: &b.free, nudged: &b.nudged[..plan.trajectories.len()], relaxer: &b.relaxer };
    ws.rule.finish(&ctx, net, &phases);
    Ok(stats)
}

/// The free phase and the nudged trajectories of `ctx.plan` on the minibatch's one relaxer
/// (calling the rule's `begin`, and per step its `on_step` for a stepwise rule); returns the
/// sum over the minibatch of `E` at the free fixed points.
fn relax_whole(
    config: &ValidConfig,
    net: &mut LayeredNet<f32>,
    ws: &mut Buffers,
    rule: &mut dyn LearningRule,
    ctx: &BatchContext<'_>,
) -> Result<f64, ebm_core::CoreError> {
    let dyn_ = Dynamics::of(&config.dynamics);
    // Free phase: T steps (or until the tolerance) from the particle.
    ws.relaxer.set_kernels(config.dynamics.kernels);
    ws.relaxer.set_input(net, ws.free.layers[0].view())?;
    let free_stop = Stop {
        max_steps: config.dynamics.free_steps,
        tolerance: config.dynamics.tolerance,
        trace_energy: false,
    };
    ws.relaxer.relax(net, &mut ws.free, &Output::Free, &dyn_, &free_stop)?;
    let energy = ws.relaxer.energy(net, &ws.free).iter().map(|&e| f64::from(e)).sum();

    // Nudged trajectories: K steps each from the free fixed point.
    rule.begin(ctx, &ws.relaxer);
    let stop = Stop {
        max_steps: config.dynamics.nudged_steps,
        tolerance: config.dynamics.tolerance,
        trace_energy: false,
    };
    // Common random numbers: every trajectory starts from the same generator state.
    let shared = ctx.shared_noise.then(|| ws.relaxer.rng_mut().clone());
    for (i, trajectory) in ctx.plan.trajectories.iter().enumerate() {
        if let Some(rng) = &shared {
            *ws.relaxer.rng_mut() = rng.clone();
        }
        let states = &mut ws.nudged[i];
        let out = from_free(states, &ws.free, &ws.target, trajectory, config.training.cost);
        if !rule.stepwise() {
            ws.relaxer.relax(net, states, &out, &dyn_, &stop)?;
            continue;
        }
        rule.begin_trajectory(ctx, i, net, states);
        for _ in 0..stop.max_steps {
            let moved = ws.relaxer.step(net, states, &out, &dyn_)?;
            rule.on_step(ctx, i, net, states);
            if stop.tolerance > 0.0 && moved < stop.tolerance {
                break;
            }
        }
    }
    Ok(energy)
}

/// Start a nudged trajectory: `states` take the free fixed point `free` (layers 1 and up), and
/// the output is nudged toward `target` at the trajectory's `beta`.
fn from_free<'t>(
    states: &mut States<f32>,
    free: &States<f32>,
    target: &'t Array2<f32>,
    trajectory: &Trajectory,
    cost: ebm_config::CostKind,
) -> Output<'t, f32> {
    for (s, f) in states.layers.iter_mut().zip(&free.layers).skip(1) {
        s.assign(f);
    }
    Output::Nudged { beta: trajectory.beta, target: target.view(), cost }
}
