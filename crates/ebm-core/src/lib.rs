//! The energy model of Bengio, Mesnard, Fischer, Zhang & Wu (*STDP-compatible approximation of
//! backpropagation in an energy-based model*, Neural Computation 2017; equation numbers are
//! that paper's): the activation `rho` (Eq 2.8), the layered energy (Eq 2.7) and cost (Eq 3.3),
//! the fixed-point map `R` (Eq 2.9), the leaky-integrator / Langevin dynamics (Eq 2.1-2.2) and
//! the projected-gradient rule of the equilibrium-propagation code, relaxation to fixed points,
//! the early-inference experiment (section 3: early inference is backprop), and the true
//! gradient of the loss at the free fixed point with the gradient-fidelity experiment of
//! equilibrium propagation (`gradient`, `gradcheck`).
//!
//! The crate never reads files and never prints.
//!
//! ```
//! use ebm_core::{Dynamics, LayeredNet, Output, Rho, States, Stop, relax};
//! use ndarray::Array2;
//! use rand::SeedableRng;
//!
//! let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
//! let net = LayeredNet::<f64>::glorot_uniform(&[4, 8, 2], Rho::default(), &mut rng).unwrap();
//! let x = Array2::from_elem((3, 4), 0.5);
//! let mut states = States::with_input(&net, x.view()).unwrap();
//! let stop = Stop { max_steps: 500, tolerance: 1e-10, trace_energy: false };
//! let r = relax(&net, &mut states, &Output::Free, &Dynamics::projected(0.5), &stop, 0).unwrap();
//! assert!(r.converged);
//! ```

pub mod backprop;
pub mod energy;
mod error;
pub mod experiments;
pub mod fd;
pub mod gradient;
pub mod kernels;
mod net;
mod relax;
mod rho;
mod scalar;
pub(crate) mod spike;

#[cfg(test)]
mod tests;

pub use energy::{Cost, Output};
pub use error::CoreError;
pub use net::{LayeredNet, States, argmax_rows};
pub use relax::{Dynamics, Relaxation, Relaxer, Stop, relax};
pub use rho::Rho;
pub use scalar::Scalar;
pub use spike::{bernoulli, threshold};

/// Re-exported so downstream crates name the same generator type.
pub use rand_chacha::ChaCha8Rng;
