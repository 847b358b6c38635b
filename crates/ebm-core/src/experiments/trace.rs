//! A relaxation watched step by step (what `ebm relax` draws): the free phase from zero states
//! with the input clamped, descending `E` (Eq 2.7), then the nudged phase from the free fixed
//! point, descending `F = E + beta C` (Eq 3.2-3.3), which pulls the output toward the target.
//! After every step it records the mean energy, the mean cost, each layer's mean activity
//! `rho(s_k)` and every output unit's state; at the free fixed point it records the hidden
//! states and the fraction of saturated units, those with `rho'(s) = 0` (section 2.3.1: such a
//! unit ignores its inputs), counting the kinks `s = beta1` and `s = beta2` as saturated, since
//! the projected rule parks units exactly there.
//!
//! The steps are the relaxer's own (the same kernels and schedule as training), one at a time,
//! with the energy and cost measured by their reference forms (`energy::energy`,
//! `energy::cost`) between steps.

use ebm_config::CostKind;
use ndarray::ArrayView2;
use serde::Serialize;

use crate::energy::{self, Output};
use crate::{CoreError, Dynamics, LayeredNet, Relaxer, Scalar, States};

/// One phase, step by step: index 0 of every series is the phase's start, index `t` the state
/// after `t` steps.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhaseTrace {
    /// Mean `E` over the examples (Eq 2.7).
    pub energy: Vec<f64>,
    /// Mean `C` over the examples (Eq 3.3, the configured cost).
    pub cost: Vec<f64>,
    /// `activity[k - 1][t]`: the mean of `rho(s_k)` over the examples and the units of layer
    /// `k >= 1`.
    pub activity: Vec<Vec<f64>>,
    /// `outputs[example][unit][t]`: each output unit's state.
    pub outputs: Vec<Vec<Vec<f64>>>,
}

/// A free phase and the nudged phase after it, for a few examples.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RelaxTrace {
    /// The nudging strength of the nudged phase.
    pub beta: f64,
    /// From zero states, input clamped, `beta = 0`.
    pub free: PhaseTrace,
    /// From the free fixed point, output nudged toward the target.
    pub nudged: PhaseTrace,
    /// `free_hidden[k - 1]`: every state of hidden layer `k` at the free fixed point (all
    /// examples, row by row).
    pub free_hidden: Vec<Vec<f64>>,
    /// `saturated[k - 1]`: the fraction of hidden layer `k`'s units (over the examples) with
    /// `rho'(s) = 0` at the free fixed point.
    pub saturated: Vec<f64>,
    /// The predicted class (argmax of the output) at the free fixed point, per example.
    pub predictions: Vec<usize>,
}

impl PhaseTrace {
    fn new(depth: usize, examples: usize, outputs: usize) -> Self {
        Self {
            energy: Vec::new(),
            cost: Vec::new(),
            activity: vec![Vec::new(); depth],
            outputs: vec![vec![Vec::new(); outputs]; examples],
        }
    }

    fn record<A: Scalar>(
        &mut self,
        net: &LayeredNet<A>,
        states: &States<A>,
        target: ArrayView2<'_, A>,
        cost: CostKind,
    ) {
        let mean = |a: ndarray::Array1<A>| a.iter().map(|v| v.f64()).sum::<f64>() / a.len() as f64;
        self.energy.push(mean(energy::energy(net, states)));
        self.cost.push(mean(energy::cost(states.output(), target, cost)));
        for (k, a) in self.activity.iter_mut().enumerate() {
            let layer = &states.layers[k + 1];
            let sum: f64 = layer.iter().map(|&s| net.rho.eval(s).f64()).sum();
            a.push(sum / layer.len() as f64);
        }
        for (example, row) in self.outputs.iter_mut().zip(states.output().rows()) {
            for (unit, &y) in example.iter_mut().zip(row) {
                unit.push(y.f64());
            }
        }
    }
}

/// Relax `x` (`(examples, n_0)`) from zero states for `free_steps` steps of `dynamics`, then
/// `nudged_steps` steps with the output nudged toward `target` with strength `beta` and cost
/// `cost`, recording every step (see the module docs).
#[allow(clippy::too_many_arguments)]
pub fn relax_trace<A: Scalar>(
    net: &LayeredNet<A>,
    x: ArrayView2<'_, A>,
    target: ArrayView2<'_, A>,
    dynamics: &Dynamics,
    free_steps: usize,
    nudged_steps: usize,
    beta: f64,
    cost: CostKind,
    noise_seed: u64,
) -> Result<RelaxTrace, CoreError> {
    let depth = net.depth();
    let n_out = net.sizes()[depth];
    if target.dim() != (x.nrows(), n_out) {
        return Err(CoreError::Shape {
            what: "target".into(),
            got: target.shape().to_vec(),
            expected: vec![x.nrows(), n_out],
        });
    }
    let mut relaxer = Relaxer::new(net, x.nrows(), noise_seed);
    relaxer.set_input(net, x)?;
    let mut states = States::with_input(net, x)?;
    let mut free = PhaseTrace::new(depth, x.nrows(), n_out);
    free.record(net, &states, target, cost);
    for _ in 0..free_steps {
        relaxer.step(net, &mut states, &Output::Free, dynamics)?;
        free.record(net, &states, target, cost);
    }
    let free_hidden: Vec<Vec<f64>> =
        states.layers[1..depth].iter().map(|l| l.iter().map(|v| v.f64()).collect()).collect();
    let saturated = free_hidden
        .iter()
        .map(|l| {
            let n = l.iter().filter(|&&s| net.rho.saturated(s)).count();
            n as f64 / l.len().max(1) as f64
        })
        .collect();
    let predictions = crate::argmax_rows(states.output().view());
    let mut nudged = PhaseTrace::new(depth, x.nrows(), n_out);
    nudged.record(net, &states, target, cost);
    let output = Output::Nudged { beta: A::of(beta), target, cost };
    for _ in 0..nudged_steps {
        relaxer.step(net, &mut states, &output, dynamics)?;
        nudged.record(net, &states, target, cost);
    }
    Ok(RelaxTrace { beta, free, nudged, free_hidden, saturated, predictions })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Rho;
    use ndarray::Array2;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn setup() -> (LayeredNet<f64>, Array2<f64>, Array2<f64>) {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let net = LayeredNet::<f64>::glorot_uniform(&[6, 5, 3], Rho::hard(0.0), &mut rng).unwrap();
        let x = Array2::from_shape_fn((4, 6), |(i, j)| ((i * 7 + j * 3) % 5) as f64 / 4.0);
        let mut d = Array2::zeros((4, 3));
        for i in 0..4 {
            d[(i, i % 3)] = 1.0;
        }
        (net, x, d)
    }

    #[test]
    fn trace_records_every_step_and_ends_where_a_plain_relaxation_ends() {
        let (net, x, d) = setup();
        let dynamics = Dynamics::projected(0.5);
        let t =
            relax_trace(&net, x.view(), d.view(), &dynamics, 20, 4, 1.0, CostKind::HalfSquared, 0)
                .unwrap();
        assert_eq!(t.free.energy.len(), 21);
        assert_eq!(t.nudged.cost.len(), 5);
        assert_eq!(t.free.activity.len(), 2);
        assert_eq!(t.free.outputs.len(), 4);
        assert_eq!(t.free.outputs[0].len(), 3);
        // Zero states: E = ||x||^2 / 2 (the clamped input's term) and rho(0) = 0 at the start.
        let e0 = x.mapv(|v| v * v).sum() / 2.0 / 4.0;
        assert!((t.free.energy[0] - e0).abs() < 1e-12);
        assert_eq!(t.free.activity[0][0], 0.0);
        // The free phase ends where relax ends, and the nudged phase starts there.
        let mut states = States::with_input(&net, x.view()).unwrap();
        crate::relax(&net, &mut states, &Output::Free, &dynamics, &crate::Stop::steps(20), 0)
            .unwrap();
        let e = energy::energy(&net, &states).mean().unwrap();
        assert!((t.free.energy[20] - e).abs() < 1e-12);
        assert_eq!(t.nudged.energy[0], t.free.energy[20]);
        for (ex, row) in t.free.outputs.iter().zip(states.output().rows()) {
            for (unit, &y) in ex.iter().zip(row) {
                assert_eq!(*unit.last().unwrap(), y);
            }
        }
        assert_eq!(t.predictions, crate::argmax_rows(states.output().view()));
        // The saturated fraction is the share of hidden states on or beyond the kinks.
        let hidden: Vec<f64> = states.layers[1].iter().copied().collect();
        let sat = hidden.iter().filter(|&&s| s <= 0.0 || s >= 1.0).count() as f64 / 20.0;
        assert_eq!(t.saturated, vec![sat]);
        assert_eq!(t.free_hidden[0], hidden);
    }

    #[test]
    fn nudging_lowers_the_cost_and_the_free_phase_lowers_the_energy() {
        let (net, x, d) = setup();
        let dynamics = Dynamics::projected(0.5);
        let t =
            relax_trace(&net, x.view(), d.view(), &dynamics, 40, 20, 1.0, CostKind::HalfSquared, 0)
                .unwrap();
        // Projected gradient descent with a small step does not raise the energy it descends.
        for w in t.free.energy.windows(2) {
            assert!(w[1] <= w[0] + 1e-12, "{w:?}");
        }
        assert!(t.nudged.cost.last().unwrap() < &t.nudged.cost[0]);
    }

    #[test]
    fn a_target_of_the_wrong_shape_is_refused() {
        let (net, x, _) = setup();
        let d = Array2::<f64>::zeros((4, 2));
        let e = relax_trace(
            &net,
            x.view(),
            d.view(),
            &Dynamics::projected(0.5),
            1,
            1,
            1.0,
            CostKind::HalfSquared,
            0,
        );
        assert!(matches!(e, Err(CoreError::Shape { .. })));
    }
}
