//! The experiments that measure networks on a data set's examples: the EP update against the
//! true gradient ([`gradcheck`]), the steps to a fixed point ([`relax_steps`]) and a trained
//! net's relaxation step by step ([`relax_trace`]); untied weights trained from an asymmetric
//! start ([`symmetry`], Eq 2.10). They choose
//! the examples, build the targets and reduce the rows to headlines; the model-level parts are
//! `ebm_core::experiments`. Front ends load the networks and write the results.

pub mod gradcheck;
pub mod relax_steps;
pub mod relax_trace;
pub mod symmetry;

use ebm_core::LayeredNet;

/// A given network to measure (e.g. a trained checkpoint): its label (its path), the cost it
/// was trained on, and its parameters.
#[derive(Debug, Clone)]
pub struct GivenNet {
    /// How the rows name it.
    pub name: String,
    /// The cost it was trained with (the loss its gradient is taken of).
    pub cost: ebm_config::CostKind,
    /// The network.
    pub net: LayeredNet<f32>,
}

/// `count` evenly spaced indices of `0..n` (all of them when `count >= n`).
pub fn spaced(n: usize, count: usize) -> Vec<usize> {
    let count = count.min(n);
    (0..count).map(|i| i * n / count).collect()
}
