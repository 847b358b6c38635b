//! The sections of a configuration, one file each: the section's structs and choices (serde
//! enums), their defaults, and the section's own check.

mod data;
mod dynamics;
mod gradcheck;
mod model;
mod output;
mod propagate;
mod relax_steps;
mod sample;
mod stdp;
mod symmetry;
mod training;

pub use data::DataConfig;
pub use dynamics::{DynamicsConfig, Kernels, Messages, Schedule, UpdateRuleKind};
pub use gradcheck::GradcheckConfig;
pub use model::{ModelConfig, RhoConfig, RhoKind};
pub use output::OutputConfig;
pub use propagate::PropagateConfig;
pub use relax_steps::RelaxStepsConfig;
pub use sample::SampleConfig;
pub use stdp::{Derivative, SpikeModel, StdpConfig};
pub use symmetry::SymmetryConfig;
pub use training::{
    BetaSign, CostKind, DataOrder, LearningRule, PresynapticTime, RateSchedule, Selection,
    TrainingConfig,
};
