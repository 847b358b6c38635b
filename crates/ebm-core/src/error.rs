//! Typed errors of the model crate.

/// Everything that can go wrong in `ebm-core`.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CoreError {
    /// An array has the wrong shape.
    #[error("{what} has shape {got:?}, expected {expected:?}")]
    Shape {
        /// Which array.
        what: String,
        /// Its shape.
        got: Vec<usize>,
        /// The shape it should have.
        expected: Vec<usize>,
    },
    /// A NaN or infinity appeared in the states during relaxation.
    #[error("non-finite state in layer {layer} at relaxation step {step} (diverging dynamics)")]
    NonFiniteState {
        /// Layer index (0 = input).
        layer: usize,
        /// Step (1-based) at which it appeared.
        step: usize,
    },
    /// A NaN or infinity in the parameters.
    #[error("non-finite {what} in weight layer {layer}")]
    NonFiniteParameter {
        /// `weights` or `biases`.
        what: &'static str,
        /// Weight-layer index.
        layer: usize,
    },
    /// The fixed point's Hessian, restricted to the free units, is not positive definite for
    /// an example (the state is not a strict local minimum of `E`).
    #[error("the Hessian of E at the fixed point of example {example} is not positive definite")]
    NotPositiveDefinite {
        /// Example index in the batch.
        example: usize,
    },
    /// The linear solve of the true gradient did not reach its tolerance.
    #[error(
        "conjugate gradients stopped after {iterations} iterations at relative residual {residual:e}"
    )]
    SolveNotConverged {
        /// Iterations run.
        iterations: usize,
        /// Largest relative residual over the batch.
        residual: f64,
    },
    /// A network needs at least an input and an output layer.
    #[error("a network needs at least 2 layers, got {0}")]
    TooFewLayers(usize),
}
