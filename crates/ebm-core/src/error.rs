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
    /// A network needs at least an input and an output layer.
    #[error("a network needs at least 2 layers, got {0}")]
    TooFewLayers(usize),
}
