//! The energy model of Bengio, Mesnard, Fischer, Zhang & Wu (*STDP-compatible approximation of
//! backpropagation in an energy-based model*, Neural Computation 2017): the activation `rho`,
//! the layered energy, the two state-update rules and relaxation to fixed points.

mod rho;

pub use rho::Rho;
