//! `[relax_steps]`: Steps to reach a residual (`ebm relax-steps`).

use serde::{Deserialize, Serialize};

use crate::check::Checker;

/// Steps to reach a residual (`ebm relax-steps`, see `docs/gradient.md`): free phases from zero
/// states on MNIST inputs, synchronous against alternating updates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RelaxStepsConfig {
    /// Units per layer, input (784) first, output (10) last.
    pub layers: Vec<usize>,
    /// Test examples relaxed (one batch; the first N of the test set).
    pub examples: usize,
    /// Stop when the projected residual `max |clip(s - dE/ds) - s|` over the batch is at most
    /// this.
    pub tolerance: f64,
    /// Step budget.
    pub max_steps: usize,
    /// Step sizes of the synchronous schedule.
    pub synchronous_epsilons: Vec<f64>,
    /// Step sizes of the alternating schedule.
    pub alternating_epsilons: Vec<f64>,
}

impl Default for RelaxStepsConfig {
    fn default() -> Self {
        Self {
            layers: vec![784, 500, 500, 500, 10],
            examples: 100,
            tolerance: 1e-4,
            max_steps: 20_000,
            synchronous_epsilons: vec![0.5],
            alternating_epsilons: vec![0.5, 1.0],
        }
    }
}

impl RelaxStepsConfig {
    /// At least two layers, positive sizes, at least one step size, each in (0, 1].
    pub(crate) fn check(&self, c: &mut Checker) {
        if self.layers.len() < 2 {
            c.fail(
                "relax_steps.layers",
                format!("has {} entries: need at least 2 (input and output)", self.layers.len()),
            );
        }
        for (i, &n) in self.layers.iter().enumerate() {
            c.positive_count(&format!("relax_steps.layers[{i}]"), n);
        }
        c.positive_count("relax_steps.examples", self.examples);
        c.positive_count("relax_steps.max_steps", self.max_steps);
        c.positive("relax_steps.tolerance", self.tolerance);
        if self.synchronous_epsilons.is_empty() && self.alternating_epsilons.is_empty() {
            c.fail(
                "relax_steps",
                "no step sizes: give synchronous_epsilons or alternating_epsilons",
            );
        }
        for (i, &e) in self.synchronous_epsilons.iter().enumerate() {
            c.unit_interval(&format!("relax_steps.synchronous_epsilons[{i}]"), e);
        }
        for (i, &e) in self.alternating_epsilons.iter().enumerate() {
            c.unit_interval(&format!("relax_steps.alternating_epsilons[{i}]"), e);
        }
    }
}
