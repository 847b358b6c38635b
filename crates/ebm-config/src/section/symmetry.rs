//! `[symmetry]`: Untied forward and feedback matrices trained from an asymmetric start
//! (`ebm symmetry`, Eq 2.10 of Bengio et al. 2017).

use serde::{Deserialize, Serialize};

use crate::check::Checker;

/// Does learning symmetrise untied weights (`ebm symmetry`, see `docs/claims.md`)? Every
/// variant trains a net of `layers` on the first examples of the data set with the `[training]`
/// and `[dynamics]` settings (their epochs replaced by `epochs`), from independent Glorot
/// draws of the forward and the feedback matrices.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SymmetryConfig {
    /// Units per layer, input (784) first, output (10) last; one learning rate per weight
    /// layer comes from `training.alphas`.
    pub layers: Vec<usize>,
    /// Passes over the training examples.
    pub epochs: usize,
    /// Training examples (the first N of the training set).
    pub train_examples: usize,
    /// Test examples (the first N of the test set).
    pub test_examples: usize,
    /// The variants with weight decay multiply every weight by `1 - weight_decay` after each
    /// minibatch (both matrices of an untied pair).
    pub weight_decay: f64,
}

impl Default for SymmetryConfig {
    fn default() -> Self {
        Self {
            layers: vec![784, 100, 10],
            epochs: 5,
            train_examples: 10_000,
            test_examples: 2000,
            weight_decay: 5e-4,
        }
    }
}

impl SymmetryConfig {
    /// At least two positive layer sizes, positive counts, a decay in (0, 1). (That
    /// `training.alphas` has one rate per weight layer of `layers` is checked where the
    /// experiment builds its training configuration: other presets' rates need not fit.)
    pub(crate) fn check(&self, c: &mut Checker) {
        if self.layers.len() < 2 {
            c.fail(
                "symmetry.layers",
                format!("has {} entries: need at least 2 (input and output)", self.layers.len()),
            );
        }
        for (i, &n) in self.layers.iter().enumerate() {
            c.positive_count(&format!("symmetry.layers[{i}]"), n);
        }
        c.positive_count("symmetry.epochs", self.epochs);
        c.positive_count("symmetry.train_examples", self.train_examples);
        c.positive_count("symmetry.test_examples", self.test_examples);
        let d = self.weight_decay;
        if c.finite("symmetry.weight_decay", d) && !(d > 0.0 && d < 1.0) {
            c.fail("symmetry.weight_decay", format!("= {d}: must be in (0, 1)"));
        }
    }
}
