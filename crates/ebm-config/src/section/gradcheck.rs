//! `[gradcheck]`: The gradient-fidelity experiment (`ebm gradcheck`).

use serde::{Deserialize, Serialize};

use crate::Schedule;
use crate::check::Checker;

/// The gradient-fidelity experiment (`ebm gradcheck`, see `docs/gradient.md`): on MNIST inputs,
/// the EP update (one-sided and centred) against the true gradient of `C` at the free fixed
/// point, per layer, as beta varies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GradcheckConfig {
    /// Numbers of hidden layers to test.
    pub hidden_layers: Vec<usize>,
    /// Units in each hidden layer (the input is 784, the output 10).
    pub hidden_size: usize,
    /// Training examples (a seeded sample) the gradients are averaged over.
    pub examples: usize,
    /// Nudging strengths beta to test (> 0).
    pub betas: Vec<f64>,
    /// Weight scale relative to Glorot-uniform (1 = Glorot); biases are zero.
    pub weight_scale: f64,
    /// Fixed-point tolerance: relax until the projected residual `max |clip(s - dF/ds) - s|`
    /// is at most this (f64).
    pub tolerance: f64,
    /// Step budget of each relaxation.
    pub max_steps: usize,
    /// Step size of the relaxation (the fixed points do not depend on it).
    pub epsilon: f64,
    /// Update order of the relaxation (the fixed points do not depend on it).
    pub schedule: Schedule,
    /// For a trained network (`ebm gradcheck --checkpoint`): how many evenly spaced training
    /// examples to scan for ones whose cost at the free fixed point is non-zero; the first
    /// `examples` of those are used. A trained net's outputs sit exactly on the targets for
    /// most examples, where the loss and its gradient are exactly 0: nothing to compare.
    pub candidates: usize,
}

impl Default for GradcheckConfig {
    fn default() -> Self {
        Self {
            hidden_layers: vec![1, 2, 3],
            hidden_size: 500,
            examples: 20,
            betas: vec![1e-5, 1e-4, 1e-3, 1e-2, 0.1, 1.0],
            weight_scale: 1.0,
            tolerance: 1e-11,
            max_steps: 200_000,
            epsilon: 1.0,
            schedule: Schedule::Alternating,
            candidates: 2000,
        }
    }
}

impl GradcheckConfig {
    /// At least one depth and one beta, positive sizes and tolerances, a step in (0, 1].
    pub(crate) fn check(&self, c: &mut Checker) {
        if self.hidden_layers.is_empty() {
            c.fail("gradcheck.hidden_layers", "is empty: give at least one depth");
        }
        for (i, &h) in self.hidden_layers.iter().enumerate() {
            c.positive_count(&format!("gradcheck.hidden_layers[{i}]"), h);
        }
        c.positive_count("gradcheck.hidden_size", self.hidden_size);
        c.positive_count("gradcheck.examples", self.examples);
        c.positive_count("gradcheck.candidates", self.candidates);
        c.positive_count("gradcheck.max_steps", self.max_steps);
        c.positive("gradcheck.weight_scale", self.weight_scale);
        c.positive("gradcheck.tolerance", self.tolerance);
        c.unit_interval("gradcheck.epsilon", self.epsilon);
        if self.betas.is_empty() {
            c.fail("gradcheck.betas", "is empty: give at least one beta");
        }
        for (i, &b) in self.betas.iter().enumerate() {
            c.positive(&format!("gradcheck.betas[{i}]"), b);
        }
    }
}
