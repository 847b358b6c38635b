//! Saturated units (section 2.3.1 and section 6 of Bengio et al. 2017): "a saturated unit
//! ignores its inputs", and "synaptic weight changes should also vanish under this condition,
//! as seen by inspection of equation 3.18".
//!
//! On Glorot-scale nets (where many units saturate) relaxed under each rule, every hidden unit
//! is classed saturated (`rho'(s_i) = 0`: at or beyond a kink of the hard sigmoid) or interior,
//! and two things are measured per class:
//!
//! - **Inputs ignored.** One step of the dynamics from the relaxed state, and one from the same
//!   state with every *other* layer (the input included) perturbed by `delta`: the response of
//!   unit `i` is `|step(s + delta)_i - step(s)_i| / |delta|`. For both rules the step is
//!   `s_i + eps (R_i(s) - s_i)` (clipped for the projected rule) with `R_i = rho'(s_i) u_i`
//!   (Eq 2.4), so `rho'(s_i) = 0` makes it independent of the inputs `u_i`: the prediction is a
//!   response of exactly 0.
//! - **Weight change (Eq 3.18).** `dW_ij ~ rho(s_j) ds_i/dt`, so per postsynaptic unit the
//!   update is its `ds_i/dt` times the presynaptic rates. Taken literally, after `L` nudged steps
//!   (when the nudge has reached every layer), `ds_i/dt` of a saturated *leaky* unit is
//!   `-eps s_i`, not 0 (it decays toward 0 whatever its inputs), so Eq 3.18 does not vanish.
//!   What carries the nudge's signal is the part of `ds_i/dt` that comes through the unit's
//!   inputs: its step from the nudged state minus its step from its own nudged state with the
//!   neighbours of the free trajectory (the same number of steps without the nudge). That part
//!   has the `rho'(s_i)` factor of Eq 3.17, and the prediction is exactly 0 for saturated units.
//!   (Under the projected rule a unit on a bound ignores only inputs that keep pushing it
//!   outward: where the nudge turns its drive inward, it leaves the bound, so there the part is
//!   small but not 0.)
//!
//! (The classes of this part are taken at the measured step's start.)
//!
//! Under the leaky integrator with a hard sigmoid a saturated unit has no fixed point
//! (`s_i = R_i = 0` is inside `(beta1, beta2)`): the relaxation does not converge and such units
//! drift or chatter at a kink; the rows say whether the relaxation converged.

use ebm_config::{CostKind, PropagateConfig, UpdateRuleKind};
use ndarray::{Array2, Zip};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::{CoreError, Dynamics, LayeredNet, Output, Relaxer, Rho, States, Stop};

/// Step size of the measured steps.
pub const EPSILON: f64 = 0.5;
/// Size (standard deviation per unit) of the input perturbation.
pub const DELTA: f64 = 1e-6;

/// One (rule, depth): what the saturated and the interior units did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SaturationRow {
    /// The update rule.
    pub rule: UpdateRuleKind,
    /// Hidden layers.
    pub hidden_layers: usize,
    /// Whether the relaxation reached the tolerance.
    pub converged: bool,
    /// Share of hidden units (over the batch) with `rho'(s) = 0`.
    pub saturated_fraction: f64,
    /// Largest response to the input perturbation over the saturated units (prediction: 0).
    pub max_response_saturated: f64,
    /// Mean response over the interior units.
    pub mean_response_interior: f64,
    /// RMS of `ds_i/dt` (one step's change) after the nudge reached every layer, Eq 3.18 taken
    /// literally, over the saturated units.
    pub rms_eq318_saturated: f64,
    /// The same over the interior units.
    pub rms_eq318_interior: f64,
    /// RMS of the part of `ds_i/dt` that the nudge's signal brings through the inputs (see
    /// the module docs) over the saturated units (prediction: 0).
    pub rms_contrast_saturated: f64,
    /// The same over the interior units.
    pub rms_contrast_interior: f64,
}

/// Per unit, for the plot: its state and its response.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnitResponse {
    /// The update rule.
    pub rule: UpdateRuleKind,
    /// State at the relaxed point.
    pub state: f64,
    /// Response to the input perturbation.
    pub response: f64,
}

/// The rows and every unit's response.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Saturation {
    /// One per (rule, depth).
    pub rows: Vec<SaturationRow>,
    /// Every hidden unit of every net.
    pub units: Vec<UnitResponse>,
}

/// Run the measurement on Glorot-scale nets of `config`'s sizes and depths (its `rho_beta1`,
/// batch, tolerance and budget), for the leaky integrator and the projected rule.
pub fn run(config: &PropagateConfig, seed: u64) -> Result<Saturation, CoreError> {
    let mut out = Saturation { rows: Vec::new(), units: Vec::new() };
    for rule in [UpdateRuleKind::LeakyIntegrator, UpdateRuleKind::ProjectedGradient] {
        for (i, &hidden) in config.hidden_layers.iter().enumerate() {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            rng.set_stream(1000 + i as u64);
            let (row, units) = one(config, rule, hidden, &mut rng)?;
            out.rows.push(row);
            out.units.extend(units);
        }
    }
    Ok(out)
}

fn one(
    c: &PropagateConfig,
    rule: UpdateRuleKind,
    hidden: usize,
    rng: &mut ChaCha8Rng,
) -> Result<(SaturationRow, Vec<UnitResponse>), CoreError> {
    let rho = Rho::hard(c.rho_beta1);
    let mut sizes = vec![c.input_size];
    sizes.extend(std::iter::repeat_n(c.hidden_size, hidden));
    sizes.push(c.output_size);
    let net = LayeredNet::<f64>::scaled_uniform(&sizes, rho, 1.0, rng)?;
    let (lo, hi) = rho.bounds();
    let x = Array2::from_shape_fn((c.batch_size, c.input_size), |_| rng.random_range(lo..hi));
    let mut target = Array2::zeros((c.batch_size, c.output_size));
    for mut row in target.rows_mut() {
        row[rng.random_range(0..c.output_size)] = 1.0;
    }
    let dynamics = Dynamics { rule, ..Dynamics::projected(EPSILON) };
    let mut relaxer = Relaxer::new(&net, c.batch_size, 0);
    relaxer.set_input(&net, x.view())?;
    let mut relaxed = States::with_input(&net, x.view())?;
    let stop = Stop { max_steps: c.max_steps, tolerance: c.tolerance, trace_energy: false };
    let relaxation = relaxer.relax(&net, &mut relaxed, &Output::Free, &dynamics, &stop)?;
    let depth = net.depth();
    let saturated = |s: f64| rho.saturated(s);

    // Inputs ignored: per hidden layer k, one step with every other layer perturbed.
    let base = step(&net, &relaxed, &dynamics, &Output::Free)?;
    let mut units = Vec::new();
    let (mut max_sat, mut sum_int, mut n_int, mut n_sat, mut n_all) = (0.0f64, 0.0, 0usize, 0, 0);
    for k in 1..depth {
        let mut perturbed = relaxed.clone();
        let mut norm2 = 0.0;
        for (l, layer) in perturbed.layers.iter_mut().enumerate() {
            if l != k {
                layer.mapv_inplace(|v| {
                    let d = DELTA * rng.sample::<f64, _>(rand_distr::StandardNormal);
                    norm2 += d * d;
                    v + d
                });
            }
        }
        let moved = step(&net, &perturbed, &dynamics, &Output::Free)?;
        let norm = norm2.sqrt() / (c.batch_size as f64).sqrt();
        Zip::from(&relaxed.layers[k]).and(&moved.layers[k]).and(&base.layers[k]).for_each(
            |&s, &a, &b| {
                let response = (a - b).abs() / norm;
                n_all += 1;
                if saturated(s) {
                    n_sat += 1;
                    max_sat = max_sat.max(response);
                } else {
                    n_int += 1;
                    sum_int += response;
                }
                units.push(UnitResponse { rule, state: s, response });
            },
        );
    }

    // Eq 3.18: after `depth` nudged steps, each hidden unit's next change, and the nudge's
    // part of it.
    let nudged_out =
        Output::Nudged { beta: 1.0, target: target.view(), cost: CostKind::HalfSquared };
    let (mut nudged, mut free) = (relaxed.clone(), relaxed.clone());
    for _ in 0..depth {
        nudged = step(&net, &nudged, &dynamics, &nudged_out)?;
        free = step(&net, &free, &dynamics, &Output::Free)?;
    }
    // (`free` is the same number of steps without the nudge.)
    let nudged_next = step(&net, &nudged, &dynamics, &nudged_out)?;
    let mut sums = [0.0f64; 4];
    let mut counts = [0usize; 2];
    for k in 1..depth {
        // The unit's own (nudged) state with the free trajectory's neighbours: what it would
        // do without the nudge's signal in its inputs.
        let mut mixed = free.clone();
        mixed.layers[k].assign(&nudged.layers[k]);
        let mixed_next = step(&net, &mixed, &dynamics, &Output::Free)?;
        for ((&a, &a0), &m) in
            nudged_next.layers[k].iter().zip(&nudged.layers[k]).zip(&mixed_next.layers[k])
        {
            let class = usize::from(!saturated(a0));
            let ds = a - a0;
            let signal = a - m;
            sums[class] += ds * ds;
            sums[2 + class] += signal * signal;
            counts[class] += 1;
        }
    }
    let rms = |sum: f64, n: usize| if n == 0 { f64::NAN } else { (sum / n as f64).sqrt() };
    let row = SaturationRow {
        rule,
        hidden_layers: hidden,
        converged: relaxation.converged,
        saturated_fraction: n_sat as f64 / n_all.max(1) as f64,
        max_response_saturated: if n_sat == 0 { f64::NAN } else { max_sat },
        mean_response_interior: if n_int == 0 { f64::NAN } else { sum_int / n_int as f64 },
        rms_eq318_saturated: rms(sums[0], counts[0]),
        rms_eq318_interior: rms(sums[1], counts[1]),
        rms_contrast_saturated: rms(sums[2], counts[0]),
        rms_contrast_interior: rms(sums[3], counts[1]),
    };
    Ok((row, units))
}

/// One step of `dynamics` from `states` (a relaxer of its own: the input may differ).
fn step(
    net: &LayeredNet<f64>,
    states: &States<f64>,
    dynamics: &Dynamics,
    output: &Output<'_, f64>,
) -> Result<States<f64>, CoreError> {
    let mut relaxer = Relaxer::new(net, states.batch(), 0);
    relaxer.set_input(net, states.layers[0].view())?;
    let mut next = states.clone();
    relaxer.step(net, &mut next, output, dynamics)?;
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saturated_units_ignore_their_inputs_and_their_nudge_signal_vanishes() {
        let config = PropagateConfig {
            hidden_layers: vec![1, 2],
            max_steps: 2000,
            ..PropagateConfig::default()
        };
        let s = run(&config, 1).unwrap();
        assert_eq!(s.rows.len(), 4);
        for r in &s.rows {
            // Glorot weights saturate a good share of the units under either rule.
            assert!(r.saturated_fraction > 0.1, "{r:?}");
            assert_eq!(r.max_response_saturated, 0.0, "{r:?}");
            assert!(r.mean_response_interior > 0.05, "{r:?}");
            assert!(r.rms_contrast_interior > 0.0, "{r:?}");
            match r.rule {
                // rho'(s) = 0 removes the inputs from the step: the nudge's signal is exactly 0.
                UpdateRuleKind::LeakyIntegrator => assert_eq!(r.rms_contrast_saturated, 0.0),
                // A unit on a bound ignores inputs only while they push it outward: a nudge
                // that turns its drive inward frees it, so the signal is smaller, not 0.
                UpdateRuleKind::ProjectedGradient => {
                    assert!(r.rms_contrast_saturated < r.rms_contrast_interior, "{r:?}")
                }
            }
        }
        // A saturated leaky unit keeps moving (ds/dt = -eps s): Eq 3.18 taken literally does
        // not vanish; a saturated projected unit sits on its bound and does not move.
        let leaky = s.rows.iter().find(|r| r.rule == UpdateRuleKind::LeakyIntegrator).unwrap();
        assert!(leaky.rms_eq318_saturated > 1e-3, "{leaky:?}");
        let projected =
            s.rows.iter().find(|r| r.rule == UpdateRuleKind::ProjectedGradient).unwrap();
        assert_eq!(projected.rms_eq318_saturated, 0.0, "{projected:?}");
    }
}
