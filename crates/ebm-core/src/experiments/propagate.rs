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

use ebm_config::{CostKind, PropagateConfig, UpdateRuleKind};
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::backprop::{Backprop, compare};
use crate::energy::rho_of;
use crate::{CoreError, Dynamics, LayeredNet, Output, Relaxer, Rho, States, Stop};

/// One sweep of the experiment: the config's networks under one update rule and weight scale.
#[derive(Debug, Clone, PartialEq)]
pub struct Sweep {
    /// The section: sizes, step sizes, the activation's lower kink, batch, tolerance, budget.
    pub config: PropagateConfig,
    /// Weight scale relative to Glorot-uniform.
    pub weight_scale: f64,
    /// The update rule (of the relaxation to the fixed point and of the nudged steps).
    pub rule: UpdateRuleKind,
}

impl Sweep {
    /// The paper's sweep from the config section (leaky-integrator rule, the config's weight
    /// scale).
    pub fn main(c: &PropagateConfig) -> Self {
        Self {
            config: c.clone(),
            weight_scale: c.weight_scale,
            rule: UpdateRuleKind::LeakyIntegrator,
        }
    }

    /// The activation: the hard sigmoid from `rho_beta1` (its kinks decide where the identity
    /// is exact).
    pub fn rho(&self) -> Rho {
        Rho::hard(self.config.rho_beta1)
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

/// The four sweeps of `ebm propagate`, sharing the config's networks and seed: the paper's
/// setting (leaky integrator, small weights, `beta1 < 0 < beta2`), the projected-gradient rule
/// on the same networks, and Glorot-scale weights (where units saturate) under both rules.
pub fn sweeps(c: &PropagateConfig) -> [Sweep; 4] {
    let main = Sweep::main(c);
    let projected = Sweep { rule: UpdateRuleKind::ProjectedGradient, ..main.clone() };
    let glorot = Sweep { weight_scale: 1.0, ..main.clone() };
    let glorot_projected = Sweep { weight_scale: 1.0, ..projected.clone() };
    [main, projected, glorot, glorot_projected]
}

/// What a layer's row compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Quantity {
    /// The layer's change in the step the perturbation first reaches it.
    State,
    /// The Eq 3.18 update of the weights below the layer.
    Weight,
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
    pub quantity: Quantity,
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

/// Per step size, the main sweep's figures the paper's claim rests on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Headline {
    /// Step size.
    pub epsilon: f64,
    /// Smallest cosine over the hidden layers' changes.
    pub min_state_cosine: f64,
    /// Largest `|norm ratio - 1|` over the hidden layers' changes.
    pub max_norm_ratio_error: f64,
    /// Smallest cosine of the Eq 3.18 update of the weights into the output.
    pub min_output_adjacent_weight_cosine: f64,
    /// Whether every fixed point of the sweep was interior (where the identity is exact).
    pub all_interior: bool,
}

/// Every sweep's rows, and the main sweep's headline per step size.
#[derive(Debug, Clone, PartialEq)]
pub struct Propagation {
    /// The rows of the four sweeps, in [`sweeps`] order.
    pub rows: Vec<PropagateRow>,
    /// The main sweep's headline, one per step size.
    pub headline: Vec<Headline>,
}

/// Run the four sweeps of `config` with `seed`.
pub fn run(config: &PropagateConfig, seed: u64) -> Result<Propagation, CoreError> {
    let sweeps = sweeps(config);
    let mut rows = Vec::new();
    for sweep in &sweeps {
        rows.extend(early_inference(sweep, seed)?);
    }
    let main = &sweeps[0];
    let is_main = |r: &PropagateRow| r.rule == main.rule && r.weight_scale == main.weight_scale;
    let headline = main
        .config
        .epsilons
        .iter()
        .map(|&eps| {
            let sel = || rows.iter().filter(move |r| is_main(r) && r.epsilon == eps);
            let hidden_states =
                || sel().filter(|r| r.quantity == Quantity::State && r.layer < r.hidden_layers + 1);
            Headline {
                epsilon: eps,
                min_state_cosine: hidden_states().map(|r| r.cosine).fold(f64::INFINITY, f64::min),
                max_norm_ratio_error: hidden_states()
                    .map(|r| (r.norm_ratio - 1.0).abs())
                    .fold(0.0, f64::max),
                min_output_adjacent_weight_cosine: sel()
                    .filter(|r| r.quantity == Quantity::Weight && r.layer == r.hidden_layers)
                    .map(|r| r.cosine)
                    .fold(f64::INFINITY, f64::min),
                all_interior: sel().all(|r| r.fixed_point == FixedPoint::Interior),
            }
        })
        .collect();
    Ok(Propagation { rows, headline })
}

/// Run one sweep for every depth and step size.
pub fn early_inference(settings: &Sweep, seed: u64) -> Result<Vec<PropagateRow>, CoreError> {
    let mut rows = Vec::new();
    for (i, &hidden) in settings.config.hidden_layers.iter().enumerate() {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(i as u64 + 1);
        rows.extend(one_depth(settings, hidden, &mut rng)?);
    }
    Ok(rows)
}

fn one_depth(
    s: &Sweep,
    hidden: usize,
    rng: &mut ChaCha8Rng,
) -> Result<Vec<PropagateRow>, CoreError> {
    let c = &s.config;
    let rho = s.rho();
    let mut sizes = vec![c.input_size];
    sizes.extend(std::iter::repeat_n(c.hidden_size, hidden));
    sizes.push(c.output_size);
    let mut net = LayeredNet::<f64>::scaled_uniform(&sizes, rho, s.weight_scale, rng)?;
    for b in &mut net.biases {
        b.mapv_inplace(|_| rng.random_range(-0.1..0.1));
    }
    let (lo, hi) = rho.bounds();
    let margin = 0.25 * (hi - lo);
    let x = Array2::from_shape_fn((c.batch_size, c.input_size), |_| rng.random_range(lo..hi));
    let target = Array2::from_shape_fn((c.batch_size, c.output_size), |_| {
        rng.random_range(lo + margin..hi - margin)
    });

    // Fixed point s_hat of the sweep's rule, noise-free, eps 0.5 (the fixed point does not
    // depend on eps), until max |delta s| < tolerance / 2.
    let mut fixed = States::with_input(&net, x.view())?;
    let relax_dyn = Dynamics { rule: s.rule, ..Dynamics::projected(0.5) };
    let mut relaxer = Relaxer::new(&net, c.batch_size, 0);
    relaxer.set_input(&net, x.view())?;
    let stop = Stop { max_steps: c.max_steps, tolerance: 0.5 * c.tolerance, trace_energy: false };
    let relaxation = relaxer.relax(&net, &mut fixed, &Output::Free, &relax_dyn, &stop)?;
    let residual = relax_dyn.residual(&net, &fixed, &Output::Free);
    let free_units = fixed.layers[1..].iter().flat_map(|a| a.iter());
    let total = free_units.clone().count();
    let inside = free_units.filter(|&&v| !rho.saturated(v)).count();
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
    for &eps in &c.epsilons {
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
            quantity: Quantity::State,
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
                quantity: Quantity::Weight,
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
