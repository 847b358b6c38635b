//! Equilibrium propagation (Scellier & Bengio, arXiv:1602.05179), faithful to the reference
//! code: a free phase of `T` projected steps from the example's persistent particle, a nudged
//! phase of `K` steps from the free fixed point with `F = E + beta C` (beta's sign drawn per
//! minibatch, or centred: two nudged phases at `+beta` and `-beta`), and the contrastive update
//!
//! `dW_k = alpha_k / beta * mean_batch(rho(s^beta_k)^T rho(s^beta_(k+1)) - rho(s^0_k)^T rho(s^0_(k+1)))`
//!
//! with biases updated likewise at the rate of their incoming weights.
//!
//! Speed: the clamped input's drive `rho(x) W_0 + b_0` is computed once per minibatch and shared
//! by both phases; the first layer's update is one product `rho(x)^T (rho(h^beta) - rho(h^0))`;
//! every buffer is allocated once, in [`Workspace`].

use ebm_config::{BetaSign, LearningRule, TrainingConfig, UpdateRuleKind, ValidConfig};
use ebm_core::kernels::{SparseInput, par_gemm};
use ebm_core::{Dynamics, LayeredNet, Output, Relaxer, Rho, States, Stop};
use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, ArrayView2, Zip, s};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::TrainError;
use crate::data::Dataset;

/// Independent random streams, each a pure function of (seed, stream, index) so that a run's
/// numbers do not depend on threads, scheduling, or where it was interrupted and resumed.
#[derive(Debug, Clone, Copy)]
pub enum Stream {
    /// Weight initialisation.
    Init = 1,
    /// The sign of beta, per (epoch, minibatch).
    BetaSign = 2,
    /// The data order, per epoch.
    Order = 3,
    /// Langevin noise, per (epoch, minibatch).
    Noise = 4,
    /// Presynaptic spikes of the spiking rule, per (epoch, minibatch).
    Spikes = 5,
}

/// A generator for `stream` at `index` (e.g. `epoch << 32 | batch`), derived from `seed`.
pub fn stream_rng(seed: u64, stream: Stream, index: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(((stream as u64) << 56) ^ index);
    rng
}

/// The network a config describes, initialised Glorot-uniform from the seed's `Init` stream.
pub fn init_net(config: &ValidConfig) -> Result<LayeredNet<f32>, TrainError> {
    let mut rng = stream_rng(config.seed, Stream::Init, 0);
    Ok(LayeredNet::glorot_uniform(
        &config.model.layers,
        Rho::from_config(&config.model.rho),
        &mut rng,
    )?)
}

/// The dynamics of both phases.
pub fn dynamics(config: &ValidConfig) -> Dynamics {
    Dynamics {
        rule: config.dynamics.rule,
        epsilon: config.dynamics.epsilon,
        noise_std: config.dynamics.noise_std,
        schedule: config.dynamics.schedule,
    }
}

/// Preallocated buffers for one minibatch size.
#[derive(Debug, Clone)]
pub struct Workspace {
    relaxer: Relaxer<f32>,
    free: States<f32>,
    nudged: States<f32>,
    nudged_neg: States<f32>,
    rho_pos: Vec<Array2<f32>>,
    rho_neg: Vec<Array2<f32>>,
    target: Array2<f32>,
    local: LocalRule,
}

/// Buffers of the local-in-time rules (`temporal`, `spiking`), indexed by layer (index 0, the
/// input, is empty where unused).
#[derive(Debug, Clone, Default)]
struct LocalRule {
    /// `rho(s_k(t))` before the current step.
    prev: Vec<Array2<f32>>,
    /// `rho(s_k(t+1)) - rho(s_k(t))`.
    delta: Vec<Array2<f32>>,
    /// Presynaptic spikes `xi_k(t)` (spiking rule).
    spikes: Vec<Array2<f32>>,
    /// `sum_t sign * delta_k(t)` over the nudged trajectories of the minibatch.
    sum_delta: Vec<Array2<f32>>,
    /// `sum_t sign * (pre_k^T delta_(k+1) + delta_k^T pre_(k+1))` for the weights `W_k`,
    /// `k >= 1` (index 0 empty: `W_0`'s update is done from `sum_delta[1]` or per spike).
    dw: Vec<Array2<f32>>,
    /// `rho(x)` in sparse form (spiking rule: one Bernoulli draw per non-zero input rate).
    input: SparseInput<f32>,
}

impl LocalRule {
    fn new(net: &LayeredNet<f32>, batch: usize) -> Self {
        let sizes = net.sizes();
        let states = || {
            let mut v = vec![Array2::zeros((0, 0))];
            v.extend(sizes[1..].iter().map(|&n| Array2::zeros((batch, n))));
            v
        };
        let mut dw = vec![Array2::zeros((0, 0))];
        dw.extend(net.weights[1..].iter().map(|w| Array2::zeros(w.dim())));
        Self {
            prev: states(),
            delta: states(),
            spikes: states(),
            sum_delta: states(),
            dw,
            input: SparseInput::default(),
        }
    }
}

impl Workspace {
    /// Buffers for `net` and minibatches of `batch` examples.
    pub fn new(net: &LayeredNet<f32>, batch: usize) -> Self {
        let zeros = || {
            States::with_input(net, Array2::<f32>::zeros((batch, net.sizes()[0])).view())
                .expect("input size from the net")
        };
        let free = zeros();
        Self {
            relaxer: Relaxer::new(net, batch, 0),
            rho_pos: free.layers.clone(),
            rho_neg: free.layers.clone(),
            nudged: free.clone(),
            nudged_neg: free.clone(),
            free,
            target: Array2::zeros((batch, *net.sizes().last().expect("two layers"))),
            local: LocalRule::new(net, batch),
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

/// The examples of a minibatch: a contiguous range (fixed order) or a list of indices.
#[derive(Debug, Clone, Copy)]
pub enum Rows<'a> {
    /// `start..start + batch`.
    Range(usize),
    /// Arbitrary rows.
    Indices(&'a [usize]),
}

fn gather(dst: &mut Array2<f32>, src: &Array2<f32>, rows: Rows<'_>) {
    match rows {
        Rows::Range(start) => {
            let n = dst.nrows();
            dst.assign(&src.slice(s![start..start + n, ..]));
        }
        Rows::Indices(idx) => {
            for (mut d, &i) in dst.rows_mut().into_iter().zip(idx) {
                d.assign(&src.row(i));
            }
        }
    }
}

fn scatter(dst: &mut Array2<f32>, src: &Array2<f32>, rows: Rows<'_>) {
    match rows {
        Rows::Range(start) => dst.slice_mut(s![start..start + src.nrows(), ..]).assign(src),
        Rows::Indices(idx) => {
            for (s, &i) in src.rows().into_iter().zip(idx) {
                dst.row_mut(i).assign(&s);
            }
        }
    }
}

/// Index of the largest output per example.
pub fn argmax_rows(y: ArrayView2<'_, f32>) -> Vec<usize> {
    y.rows()
        .into_iter()
        .map(|r| {
            let first_max = |best: (usize, f32), (i, &v): (usize, &f32)| {
                if v > best.1 { (i, v) } else { best }
            };
            r.iter().enumerate().fold((0, f32::NEG_INFINITY), first_max).0
        })
        .collect()
}

/// Learning rate of weight layer `k` in epoch `epoch` (0-based):
/// `alphas[k] * alpha_decay^epoch` (exactly `alphas[k]` with the default decay of 1).
pub fn learning_rate(t: &TrainingConfig, k: usize, epoch: usize) -> f64 {
    let epoch = i32::try_from(epoch).unwrap_or(i32::MAX);
    t.alphas[k] * t.alpha_decay.powi(epoch)
}

/// One minibatch of equilibrium propagation: free phase (written back to the persistent
/// particles), nudged phase(s), contrastive update of `net`.
#[allow(clippy::too_many_arguments)]
pub fn train_batch(
    config: &ValidConfig,
    net: &mut LayeredNet<f32>,
    ws: &mut Workspace,
    particles: &mut [Array2<f32>],
    data: &Dataset,
    rows: Rows<'_>,
    epoch: usize,
    batch_index: usize,
) -> Result<BatchStats, ebm_core::CoreError> {
    let depth = net.depth();
    let batch = ws.free.batch();
    let dyn_ = dynamics(config);
    let t = &config.training;

    // Input, persistent particles, one-hot targets.
    gather(&mut ws.free.layers[0], &data.images, rows);
    for k in 1..=depth {
        if t.persistent_particles {
            gather(&mut ws.free.layers[k], &particles[k - 1], rows);
        } else {
            ws.free.layers[k].fill(0.0);
        }
    }
    ws.target.fill(0.0);
    for b in 0..batch {
        let i = match rows {
            Rows::Range(start) => start + b,
            Rows::Indices(idx) => idx[b],
        };
        ws.target[(b, data.labels[i] as usize)] = 1.0;
    }
    let index = ((epoch as u64) << 32) | batch_index as u64;
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
            scatter(&mut particles[k - 1], &ws.free.layers[k], rows);
        }
    }
    let mut stats = BatchStats::default();
    let labels = (0..batch).map(|b| match rows {
        Rows::Range(start) => data.labels[start + b],
        Rows::Indices(idx) => data.labels[idx[b]],
    });
    stats.errors = argmax_rows(ws.free.output().view())
        .into_iter()
        .zip(labels)
        .filter(|(p, l)| *p != *l as usize)
        .count();
    stats.energy = ws.relaxer.energy(net, &ws.free).iter().map(|&e| f64::from(e)).sum();
    let cost = ebm_core::energy::cost(ws.free.output(), ws.target.view(), t.cost);
    stats.cost = cost.iter().map(|&c| f64::from(c)).sum();

    // Nudged phase(s): K steps from the free fixed point.
    let nudged_stop = Stop {
        max_steps: config.dynamics.nudged_steps,
        tolerance: config.dynamics.tolerance,
        trace_energy: false,
    };
    let beta = t.beta as f32;
    let signed_beta = match t.beta_sign {
        BetaSign::Fixed | BetaSign::Centred => beta,
        BetaSign::Random => {
            if stream_rng(config.seed, Stream::BetaSign, index).random::<bool>() {
                beta
            } else {
                -beta
            }
        }
    };
    if t.rule != LearningRule::Contrastive {
        local_update(config, net, ws, signed_beta, epoch, index)?;
        return Ok(stats);
    }
    for k in 1..=depth {
        ws.nudged.layers[k].assign(&ws.free.layers[k]);
    }
    let out = Output::Nudged { beta: signed_beta, target: ws.target.view(), cost: t.cost };
    ws.relaxer.relax(net, &mut ws.nudged, &out, &dyn_, &nudged_stop)?;
    let (neg, denominator) = if t.beta_sign == BetaSign::Centred {
        for k in 1..=depth {
            ws.nudged_neg.layers[k].assign(&ws.free.layers[k]);
        }
        let out = Output::Nudged { beta: -beta, target: ws.target.view(), cost: t.cost };
        ws.relaxer.relax(net, &mut ws.nudged_neg, &out, &dyn_, &nudged_stop)?;
        (&ws.nudged_neg, 2.0 * beta)
    } else {
        (&ws.free, signed_beta)
    };

    // Contrastive update.
    let rho = net.rho;
    let map_rho = |dst: &mut Array2<f32>, src: &Array2<f32>| {
        Zip::from(dst).and(src).for_each(|d, &v| *d = rho.eval(v))
    };
    for k in 1..=depth {
        map_rho(&mut ws.rho_pos[k], &ws.nudged.layers[k]);
        map_rho(&mut ws.rho_neg[k], &neg.layers[k]);
    }
    let coef = |k: usize| (learning_rate(t, k, epoch) as f32) / (denominator * batch as f32);
    // W_k += c (rho(pos_k)^T rho(pos_(k+1)) - rho(neg_k)^T rho(neg_(k+1))) for k >= 1.
    for k in 1..depth {
        let c = coef(k);
        par_gemm(c, &ws.rho_pos[k].t(), &ws.rho_pos[k + 1], 1.0, &mut net.weights[k]);
        par_gemm(-c, &ws.rho_neg[k].t(), &ws.rho_neg[k + 1], 1.0, &mut net.weights[k]);
    }
    // Biases from the differences (kept in rho_neg), and W_0 as one product: rho(x) is the
    // same in both phases, so dW_0 = c rho(x)^T (rho(h^beta) - rho(h^0)).
    for k in 0..depth {
        let c = coef(k);
        Zip::from(&mut ws.rho_neg[k + 1]).and(&ws.rho_pos[k + 1]).for_each(|n, &p| *n = p - *n);
        let diff = &ws.rho_neg[k + 1];
        add_bias_update(&mut net.biases[k], c, diff);
        if k == 0 {
            add_input_outer(&ws.relaxer, c, diff, &mut net.weights[0]);
        }
    }
    Ok(stats)
}

/// `b += c sum_batch diff` (a bias is a connection from a unit of constant rate 1).
fn add_bias_update(bias: &mut ndarray::Array1<f32>, c: f32, diff: &Array2<f32>) {
    for row in diff.rows() {
        bias.scaled_add(c, &row);
    }
}

/// `W_0 += c rho(x)^T diff`, touching only the rows of `W_0` whose pixel is non-zero somewhere
/// in the minibatch when the relaxer took the sparse input path.
fn add_input_outer(relaxer: &Relaxer<f32>, c: f32, diff: &Array2<f32>, w0: &mut Array2<f32>) {
    match relaxer.sparse_input() {
        Some(sparse) => sparse.acc_outer(c, diff, w0),
        None => par_gemm(c, &relaxer.rho_input().t(), diff, 1.0, w0),
    }
}

/// The local-in-time rules (`training.rule = "temporal" | "spiking"`): the nudged phase is run
/// step by step from the free fixed point, and at every step `t`
///
/// `dW_ij += c (delta rho_i(t) pre_j(t) + pre_i(t) delta rho_j(t))`, `delta rho(t) = rho(s(t+1)) - rho(s(t))`,
///
/// with the presynaptic factor `pre = rho(s(t))` (temporal: the postsynaptic rate of change
/// times the presynaptic rate, Eq 3.18 of Bengio et al. 2017, in both directions of the
/// symmetric connection) or `pre = xi(t) ~ Bernoulli(rho(s(t)))` (spiking, Eq 4.1), and
/// `c = alpha_k / (beta batch)`. Under the projected rule with the hard sigmoid the states stay
/// in `[beta1, beta2]`, where `delta rho_i = delta s_i`: the issue's `(s_i(t+1) - s_i(t))`.
///
/// Summed over the trajectory, the temporal rule is the contrastive update less the
/// second-order terms: `sum_t (delta rho_i pre_j + pre_i delta rho_j) = rho_i rho_j |_0^K -
/// sum_t delta rho_i delta rho_j`. Biases see a constant presynaptic rate of 1. The input is
/// clamped (`delta x = 0`), so `W_0` gets only `pre(x)^T delta rho_1`: for the temporal rule
/// `rho(x)` is constant and the per-step sum is one product `rho(x)^T sum_t delta rho_1(t)`,
/// the same sum regrouped; for the spiking rule each input spike adds `c delta rho_1(t)` to its
/// row of `W_0` at the step it fires (`W_0` does not enter the phase's dynamics: the input
/// drive was computed once, before the free phase). Centred nudging runs a `+beta` and a
/// `-beta` trajectory, with signs `+1` and `-1`, and divides by `2 beta`.
fn local_update(
    config: &ValidConfig,
    net: &mut LayeredNet<f32>,
    ws: &mut Workspace,
    signed_beta: f32,
    epoch: usize,
    index: u64,
) -> Result<(), ebm_core::CoreError> {
    let t = &config.training;
    let depth = net.depth();
    let batch = ws.free.batch();
    let spiking = t.rule == LearningRule::Spiking;
    let beta = t.beta as f32;
    // (nudging strength of the trajectory, sign of its contribution), and the denominator.
    let (trajectories, denominator): (&[(f32, f32)], f32) = match t.beta_sign {
        BetaSign::Centred => (&[(beta, 1.0), (-beta, -1.0)], 2.0 * beta),
        _ => (&[(signed_beta, 1.0)], signed_beta),
    };
    let coef = |k: usize| (learning_rate(t, k, epoch) as f32) / (denominator * batch as f32);
    let mut rng = stream_rng(config.seed, Stream::Spikes, index);
    let local = &mut ws.local;
    for k in 1..=depth {
        local.sum_delta[k].fill(0.0);
    }
    for dw in &mut local.dw[1..] {
        dw.fill(0.0);
    }
    if spiking {
        local.input.fill(&ws.relaxer.rho_input().view());
    }
    let dyn_ = dynamics(config);
    let rho = net.rho;
    for &(phase_beta, sign) in trajectories {
        let out = Output::Nudged { beta: phase_beta, target: ws.target.view(), cost: t.cost };
        let states = &mut ws.nudged;
        for k in 1..=depth {
            states.layers[k].assign(&ws.free.layers[k]);
            Zip::from(&mut local.prev[k]).and(&states.layers[k]).for_each(|p, &v| *p = rho.eval(v));
        }
        for _ in 0..config.dynamics.nudged_steps {
            let moved = ws.relaxer.step(net, states, &out, &dyn_)?;
            for k in 1..=depth {
                Zip::from(&mut local.delta[k])
                    .and(&states.layers[k])
                    .and(&local.prev[k])
                    .for_each(|d, &v, &p| *d = rho.eval(v) - p);
                local.sum_delta[k].scaled_add(sign, &local.delta[k]);
            }
            if spiking {
                for k in 1..=depth {
                    Zip::from(&mut local.spikes[k]).and(&local.prev[k]).for_each(|x, &p| {
                        *x = if spikes::bernoulli(f64::from(p), &mut rng) { 1.0 } else { 0.0 }
                    });
                }
                // Each input spike adds c delta rho_1(b, :) to its row of W_0.
                let spike =
                    |v: f32| if spikes::bernoulli(f64::from(v), &mut rng) { 1.0 } else { 0.0 };
                local.input.acc_outer_with(
                    sign * coef(0),
                    &local.delta[1],
                    &mut net.weights[0],
                    spike,
                );
            }
            let pre = if spiking { &local.spikes } else { &local.prev };
            for k in 1..depth {
                let dw = &mut local.dw[k];
                general_mat_mul(sign, &pre[k].t(), &local.delta[k + 1], 1.0, dw);
                general_mat_mul(sign, &local.delta[k].t(), &pre[k + 1], 1.0, dw);
            }
            for k in 1..=depth {
                local.prev[k] += &local.delta[k];
            }
            if config.dynamics.tolerance > 0.0 && moved < config.dynamics.tolerance {
                break;
            }
        }
    }
    for k in 1..depth {
        net.weights[k].scaled_add(coef(k), &local.dw[k]);
    }
    for k in 0..depth {
        add_bias_update(&mut net.biases[k], coef(k), &local.sum_delta[k + 1]);
    }
    if !spiking {
        add_input_outer(&ws.relaxer, coef(0), &local.sum_delta[1], &mut net.weights[0]);
    }
    Ok(())
}
