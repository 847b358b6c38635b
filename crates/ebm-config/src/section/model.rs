//! `[model]`: The network: layer sizes and the activation `rho` (Eq 2.8).

use serde::{Deserialize, Serialize};

use crate::check::Checker;

/// Network architecture: layer sizes and the activation `rho`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelConfig {
    /// Units per layer, input first, output last (e.g. `[784, 500, 10]`).
    pub layers: Vec<usize>,
    /// The activation `rho` (Eq 2.8).
    pub rho: RhoConfig,
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self { layers: vec![784, 500, 10], rho: RhoConfig::default() }
    }
}

/// The activation function `rho` (Eq 2.8 of Bengio et al. 2017).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RhoConfig {
    /// Which function.
    pub kind: RhoKind,
    /// Lower kink of the hard sigmoid: rho = 0 below it.
    pub beta1: f64,
    /// Upper kink of the hard sigmoid: rho = 1 above it; `beta2 - beta1` must be 1.
    pub beta2: f64,
}

impl Default for RhoConfig {
    fn default() -> Self {
        Self { kind: RhoKind::HardSigmoid, beta1: 0.0, beta2: 1.0 }
    }
}

/// Choice of activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RhoKind {
    /// Piecewise linear: 0 below beta1, `s - beta1` between, 1 above beta2 (Eq 2.8).
    HardSigmoid,
    /// Logistic sigmoid centred between beta1 and beta2, `1 / (1 + exp(-4 (s - m)))`.
    Sigmoid,
}

impl ModelConfig {
    /// At least an input and an output layer, no empty layer, a hard sigmoid of unit width.
    pub(crate) fn check(&self, c: &mut Checker) {
        if self.layers.len() < 2 {
            c.fail(
                "model.layers",
                format!("has {} entries: need at least 2 (input and output)", self.layers.len()),
            );
        }
        for (i, &n) in self.layers.iter().enumerate() {
            if n == 0 {
                c.fail(format!("model.layers[{i}]"), "= 0: a layer needs at least 1 unit");
            }
        }
        let (b1, b2) = (self.rho.beta1, self.rho.beta2);
        if c.finite("model.rho.beta1", b1) & c.finite("model.rho.beta2", b2) {
            if b1 >= b2 {
                c.fail("model.rho.beta2", format!("= {b2}: must be > model.rho.beta1 = {b1}"));
            } else if self.rho.kind == RhoKind::HardSigmoid && ((b2 - b1) - 1.0).abs() > 1e-9 {
                c.fail(
                    "model.rho.beta2",
                    format!("- beta1 = {}: must be 1 for the hard sigmoid (Eq 2.8)", b2 - b1),
                );
            }
        }
    }
}
