//! The configuration structs, one per section of the TOML file, with their defaults.
//!
//! `Config::default()` is the paper's 784-500-10 setting (the reference code's dynamics and
//! training, 15 epochs, the embedded MNIST subset); every preset starts from it, and a
//! configuration built without a preset starts from the `quick` preset.

use serde::{Deserialize, Serialize};

use crate::section::SymmetryConfig;
use crate::section::{
    DataConfig, DynamicsConfig, GradcheckConfig, ModelConfig, OutputConfig, PropagateConfig,
    RelaxStepsConfig, SampleConfig, StdpConfig, TrainingConfig,
};

/// A whole run's configuration. Sections mirror the TOML tables.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Seed of every random draw of the run (weights, noise, data order, spikes). Each
    /// independent stream derives its own generator from (seed, stream id).
    pub seed: u64,
    /// Network architecture and activation.
    pub model: ModelConfig,
    /// State dynamics (relaxation).
    pub dynamics: DynamicsConfig,
    /// Supervised training by nudging (equilibrium propagation).
    pub training: TrainingConfig,
    /// Where the data comes from.
    pub data: DataConfig,
    /// The STDP simulation of section 4.2.
    pub stdp: StdpConfig,
    /// The early-inference ("inference is backprop") experiment.
    pub propagate: PropagateConfig,
    /// The gradient-fidelity experiment (EP estimate against the true gradient).
    pub gradcheck: GradcheckConfig,
    /// Steps to a residual, synchronous against alternating relaxation.
    pub relax_steps: RelaxStepsConfig,
    /// The noisy leaky integrator as Langevin MCMC against the Boltzmann density.
    pub sample: SampleConfig,
    /// Untied forward and feedback matrices (Eq 2.10, `ebm symmetry`).
    pub symmetry: SymmetryConfig,
    /// Output files.
    pub output: OutputConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            seed: 1,
            model: ModelConfig::default(),
            dynamics: DynamicsConfig::default(),
            training: TrainingConfig::default(),
            data: DataConfig::default(),
            stdp: StdpConfig::default(),
            propagate: PropagateConfig::default(),
            gradcheck: GradcheckConfig::default(),
            relax_steps: RelaxStepsConfig::default(),
            sample: SampleConfig::default(),
            symmetry: SymmetryConfig::default(),
            output: OutputConfig::default(),
        }
    }
}
