//! `[propagate]`: The early-inference experiment of section 3 (Eq 3.2-3.18).

use serde::{Deserialize, Serialize};

use crate::check::Checker;

/// The early-inference experiment of section 3 (Eq 3.2-3.18).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PropagateConfig {
    /// Numbers of hidden layers to test.
    pub hidden_layers: Vec<usize>,
    /// Units in the input layer.
    pub input_size: usize,
    /// Units in each hidden layer.
    pub hidden_size: usize,
    /// Units in the output layer.
    pub output_size: usize,
    /// Weights are uniform in [-scale, scale] / sqrt(fan_in + fan_out) * sqrt(6)
    /// (i.e. `scale` = 1 is Glorot-uniform).
    pub weight_scale: f64,
    /// Step sizes epsilon to test.
    pub epsilons: Vec<f64>,
    /// Lower kink of rho (beta2 = beta1 + 1); the paper's condition is beta1 < 0 < beta2.
    pub rho_beta1: f64,
    /// Batch of random inputs.
    pub batch_size: usize,
    /// Fixed-point tolerance on max |R(s) - s|.
    pub tolerance: f64,
    /// Step budget of the relaxation to the fixed point.
    pub max_steps: usize,
}

impl Default for PropagateConfig {
    fn default() -> Self {
        Self {
            hidden_layers: vec![1, 2, 3],
            input_size: 20,
            hidden_size: 20,
            output_size: 5,
            weight_scale: 0.1,
            epsilons: vec![0.5, 0.1, 0.01, 0.001],
            rho_beta1: -0.5,
            batch_size: 8,
            tolerance: 1e-13,
            max_steps: 200_000,
        }
    }
}

impl PropagateConfig {
    /// At least one depth and one step size, positive sizes, steps in (0, 1].
    pub(crate) fn check(&self, c: &mut Checker) {
        if self.hidden_layers.is_empty() {
            c.fail("propagate.hidden_layers", "is empty: give at least one depth");
        }
        for (i, &h) in self.hidden_layers.iter().enumerate() {
            c.positive_count(&format!("propagate.hidden_layers[{i}]"), h);
        }
        c.positive_count("propagate.input_size", self.input_size);
        c.positive_count("propagate.hidden_size", self.hidden_size);
        c.positive_count("propagate.output_size", self.output_size);
        c.positive_count("propagate.batch_size", self.batch_size);
        c.positive_count("propagate.max_steps", self.max_steps);
        c.positive("propagate.weight_scale", self.weight_scale);
        c.positive("propagate.tolerance", self.tolerance);
        c.finite("propagate.rho_beta1", self.rho_beta1);
        if self.epsilons.is_empty() {
            c.fail("propagate.epsilons", "is empty: give at least one step size");
        }
        for (i, &e) in self.epsilons.iter().enumerate() {
            c.unit_interval(&format!("propagate.epsilons[{i}]"), e);
        }
    }
}
