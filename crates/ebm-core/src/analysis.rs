//! The early-inference experiment (section 3 of Bengio et al. 2017; Bengio & Fischer 2015):
//! starting at a fixed point with the input clamped, nudging the outputs by
//! `dy = eps (d - y_hat)` (Eq 3.2) makes the first steps of inference carry
//! `-eps^(k+2) dC/dh_(l-k)` into the k-th layer below the top hidden layer `h_l` (Eq 3.9-3.16),
//! and the update `dW_ij ~ (ds_i/dt) rho(s_j)` (Eq 3.18) follows the backprop weight gradient.
//!
//! For each depth and step size the experiment relaxes noise-free (f64, tight tolerance) to the
//! fixed point `s_hat`, runs the nudged dynamics (`F = E + C`, so the first step moves the output
//! by exactly `-eps dC/dy`), records each layer's change in the step at which the perturbation
//! first reaches it (step `L - k + 1` for layer `k` of `L`), and compares it with explicit
//! backpropagation through `R` at `s_hat`.

use ebm_config::{CostKind, UpdateRuleKind};
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::energy::rho_of;
use crate::{CoreError, Dynamics, LayeredNet, Output, Relaxer, Rho, States, Stop};

/// Settings of one sweep of the experiment.
#[derive(Debug, Clone, PartialEq)]
pub struct PropagateSettings {
    /// Numbers of hidden layers.
    pub hidden_layers: Vec<usize>,
    /// Input units.
    pub input_size: usize,
    /// Units per hidden layer.
    pub hidden_size: usize,
    /// Output units.
    pub output_size: usize,
    /// Weight scale relative to Glorot-uniform.
    pub weight_scale: f64,
    /// Step sizes.
    pub epsilons: Vec<f64>,
    /// The activation (its kinks decide where the identity is exact).
    pub rho: Rho,
    /// The update rule (of the relaxation to the fixed point and of the nudged steps).
    pub rule: UpdateRuleKind,
    /// Random inputs per network.
    pub batch_size: usize,
    /// Fixed-point tolerance on `max |R(s) - s|`.
    pub tolerance: f64,
    /// Step budget of the relaxation.
    pub max_steps: usize,
}

impl PropagateSettings {
    /// Settings from the config section (`rho` from `rho_beta1`, leaky-integrator rule).
    pub fn from_config(c: &ebm_config::PropagateConfig) -> Self {
        Self {
            hidden_layers: c.hidden_layers.clone(),
            input_size: c.input_size,
            hidden_size: c.hidden_size,
            output_size: c.output_size,
            weight_scale: c.weight_scale,
            epsilons: c.epsilons.clone(),
            rho: Rho::hard(c.rho_beta1),
            rule: UpdateRuleKind::LeakyIntegrator,
            batch_size: c.batch_size,
            tolerance: c.tolerance,
            max_steps: c.max_steps,
        }
    }
}

/// Whether the network reached a usable fixed point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FixedPoint {
    /// Converged with every free unit strictly inside `(beta1, beta2)`: the identity is exact.
    Interior,
    /// Converged, but some units sit at or beyond a kink (saturated).
    Saturated,
    /// Did not converge within the budget (e.g. a unit's input exceeds `beta2`, so the leaky
    /// integrator chatters at the kink and there is no fixed point).
    NotReached,
}

/// One comparison: a layer's early-inference change against backprop.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PropagateRow {
    /// Hidden layers of the network.
    pub hidden_layers: usize,
    /// For `state`: the layer index (1 = first hidden, `L` = output); for `weight`: the weight
    /// layer index `k` (between layers `k` and `k+1`).
    pub layer: usize,
    /// `state` (a layer's change) or `weight` (the Eq 3.18 update).
    pub quantity: &'static str,
    /// Step size.
    pub epsilon: f64,
    /// Cosine between the measured change and `-eps^p dC/d(.)`.
    pub cosine: f64,
    /// `|measured| / |eps^p dC/d(.)|`.
    pub norm_ratio: f64,
    /// The power `p` of epsilon in the prediction.
    pub power: u32,
    /// Step (1-based) at which the perturbation first reaches the layer.
    pub arrival_step: usize,
    /// The nudged steps' update rule.
    pub rule: UpdateRuleKind,
    /// Weight scale (1 = Glorot).
    pub weight_scale: f64,
    /// The fixed point's status.
    pub fixed_point: FixedPoint,
    /// `max |R(s) - s|` at the fixed point.
    pub residual: f64,
    /// Fraction of free units inside `(beta1, beta2)` at the fixed point.
    pub interior_fraction: f64,
}

/// Run the experiment for every depth and step size.
pub fn early_inference(
    settings: &PropagateSettings,
    seed: u64,
) -> Result<Vec<PropagateRow>, CoreError> {
    let mut rows = Vec::new();
    for (i, &hidden) in settings.hidden_layers.iter().enumerate() {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(i as u64 + 1);
        rows.extend(one_depth(settings, hidden, &mut rng)?);
    }
    Ok(rows)
}

fn one_depth(
    s: &PropagateSettings,
    hidden: usize,
    rng: &mut ChaCha8Rng,
) -> Result<Vec<PropagateRow>, CoreError> {
    let mut sizes = vec![s.input_size];
    sizes.extend(std::iter::repeat_n(s.hidden_size, hidden));
    sizes.push(s.output_size);
    let mut net = LayeredNet::<f64>::scaled_uniform(&sizes, s.rho, s.weight_scale, rng)?;
    for b in &mut net.biases {
        b.mapv_inplace(|_| rng.random_range(-0.1..0.1));
    }
    let (lo, hi) = s.rho.bounds();
    let margin = 0.25 * (hi - lo);
    let x = Array2::from_shape_fn((s.batch_size, s.input_size), |_| rng.random_range(lo..hi));
    let target = Array2::from_shape_fn((s.batch_size, s.output_size), |_| {
        rng.random_range(lo + margin..hi - margin)
    });

    // Fixed point s_hat of the sweep's rule, noise-free, eps 0.5 (the fixed point does not
    // depend on eps), until max |delta s| < tolerance / 2.
    let mut fixed = States::with_input(&net, x.view())?;
    let relax_dyn = Dynamics { rule: s.rule, ..Dynamics::projected(0.5) };
    let mut relaxer = Relaxer::new(&net, s.batch_size, 0);
    relaxer.set_input(&net, x.view())?;
    let stop = Stop { max_steps: s.max_steps, tolerance: 0.5 * s.tolerance, trace_energy: false };
    let relaxation = relaxer.relax(&net, &mut fixed, &Output::Free, &relax_dyn, &stop)?;
    let residual = relax_dyn.residual(&net, &fixed, &Output::Free);
    let free_units = fixed.layers[1..].iter().flat_map(|a| a.iter());
    let total = free_units.clone().count();
    let inside = free_units.filter(|&&v| v > lo && v < hi).count();
    let interior_fraction = inside as f64 / total as f64;
    let status = if !relaxation.converged {
        FixedPoint::NotReached
    } else if inside == total {
        FixedPoint::Interior
    } else {
        FixedPoint::Saturated
    };

    let backprop = Backprop::at(&net, &fixed, &target);
    let depth = net.depth();
    let dynamics = Dynamics { rule: s.rule, ..Dynamics::projected(0.0) };
    let output = Output::Nudged { beta: 1.0, target: target.view(), cost: CostKind::HalfSquared };
    let mut rows = Vec::new();
    for &eps in &s.epsilons {
        let dynamics = Dynamics { epsilon: eps, ..dynamics };
        let mut states = fixed.clone();
        // changes[k] = change of layer k in the step at which it first moves (step L - k + 1).
        let mut changes: Vec<Option<Array2<f64>>> = vec![None; depth + 1];
        for step in 1..=depth {
            let before = states.layers.clone();
            relaxer.step(&net, &mut states, &output, &dynamics)?;
            let k = depth + 1 - step;
            changes[k] = Some(&states.layers[k] - &before[k]);
        }
        let base = PropagateRow {
            hidden_layers: hidden,
            layer: 0,
            quantity: "state",
            epsilon: eps,
            cosine: 0.0,
            norm_ratio: 0.0,
            power: 0,
            arrival_step: 0,
            rule: s.rule,
            weight_scale: s.weight_scale,
            fixed_point: status,
            residual,
            interior_fraction,
        };
        for k in 1..=depth {
            let change = changes[k].as_ref().expect("every layer was reached");
            // Layer k sits (depth - 1 - k) layers below the top hidden layer h_l = layer depth-1:
            // predicted change -eps^(depth - k + 1) dC/ds_k (the output: -eps dC/dy).
            let power = (depth - k + 1) as u32;
            let predicted = &backprop.grad_state[k] * -eps.powi(power as i32);
            let (cosine, norm_ratio) = compare(change, &predicted);
            rows.push(PropagateRow {
                layer: k,
                cosine,
                norm_ratio,
                power,
                arrival_step: depth - k + 1,
                ..base.clone()
            });
            // Eq 3.18: dW_(k-1) ~ rho(s_(k-1))^T (ds_k/dt), against -eps^p dC/dW_(k-1).
            let rho_pre = rho_of(&net, &fixed.layers[k - 1]);
            let update = rho_pre.t().dot(change);
            let predicted_w = &backprop.grad_weight[k - 1] * -eps.powi(power as i32);
            let (cosine, norm_ratio) = compare(&update, &predicted_w);
            rows.push(PropagateRow {
                layer: k - 1,
                quantity: "weight",
                cosine,
                norm_ratio,
                power,
                arrival_step: depth - k + 1,
                ..base.clone()
            });
        }
    }
    Ok(rows)
}

/// Explicit backpropagation through `R` at a fixed point (Eq 3.9-3.16).
#[derive(Debug, Clone)]
pub struct Backprop {
    /// `dC/ds_k` for every layer (index 0 unused, zeros): `(batch, n_k)`.
    pub grad_state: Vec<Array2<f64>>,
    /// `dC/dW_k`, summed over the batch: `(n_k, n_(k+1))`.
    pub grad_weight: Vec<Array2<f64>>,
}

impl Backprop {
    /// Backpropagate `C = 1/2 ||y - d||^2` from the output down through the map `R` at `fixed`:
    /// `dC/dy = y - d`; `dC/ds_k = rho'(s_k) * ((rho'(s_(k+1)) * dC/ds_(k+1)) W_k^T)`;
    /// `dC/dW_k = rho(s_k)^T (rho'(s_(k+1)) * dC/ds_(k+1))`.
    pub fn at(net: &LayeredNet<f64>, fixed: &States<f64>, target: &Array2<f64>) -> Self {
        let depth = net.depth();
        let prime = |a: &Array2<f64>| a.mapv(|v| net.rho.prime(v));
        let mut grad_state = vec![Array2::zeros((0, 0)); depth + 1];
        let mut grad_weight = vec![Array2::zeros((0, 0)); depth];
        grad_state[depth] = fixed.output() - target;
        for k in (0..depth).rev() {
            let delta = prime(&fixed.layers[k + 1]) * &grad_state[k + 1];
            grad_weight[k] = rho_of(net, &fixed.layers[k]).t().dot(&delta);
            grad_state[k] = if k == 0 {
                Array2::zeros(fixed.layers[0].dim())
            } else {
                prime(&fixed.layers[k]) * &delta.dot(&net.weights[k].t())
            };
        }
        Self { grad_state, grad_weight }
    }
}

/// Cosine similarity and norm ratio `|a| / |b|` of two arrays taken as flat vectors.
pub fn compare(a: &Array2<f64>, b: &Array2<f64>) -> (f64, f64) {
    compare_iter(a.iter().copied(), b.iter().copied())
}

/// Cosine similarity and norm ratio `|a| / |b|` of two vectors.
pub fn compare_flat(a: &[f64], b: &[f64]) -> (f64, f64) {
    compare_iter(a.iter().copied(), b.iter().copied())
}

fn compare_iter(a: impl Iterator<Item = f64>, b: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut dot, mut na, mut nb) = (0.0, 0.0, 0.0);
    for (x, y) in a.zip(b) {
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    let (na, nb) = (f64::sqrt(na), f64::sqrt(nb));
    let cosine = if na > 0.0 && nb > 0.0 { dot / (na * nb) } else { 0.0 };
    let ratio = if nb > 0.0 { na / nb } else { f64::INFINITY };
    (cosine, ratio)
}
