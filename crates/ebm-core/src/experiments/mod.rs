//! The experiments on the model, each measuring a claim of the papers on networks drawn from a
//! seed (or given): early inference is backprop (`propagate`), the EP update against the true
//! gradient (`gradcheck`), the steps a relaxation needs to reach a fixed point
//! (`relax_steps`), a relaxation watched step by step (`trace`), and the noisy leaky integrator's
//! stationary distribution against the Boltzmann density (`sample`). Each takes its config
//! section as it is; the data-aware parts (choosing MNIST examples) live in
//! `trainer::experiments`.

pub mod gradcheck;
pub mod propagate;
pub mod relax_steps;
pub mod sample;
pub mod saturation;
pub mod trace;
