//! Typed, validated configuration shared by every `ebm` crate.
//!
//! A run is described by one [`Config`]: the model (layer sizes, the activation `rho`), the
//! dynamics (step size `epsilon`, number of steps, noise, tolerance, update rule), training
//! (`beta`, its sign mode, per-layer learning rates `alphas`, batch size, epochs, persistent
//! particles, data order), the data source, the STDP experiment, the early-inference
//! experiment and the output. It is plain data: serde with `deny_unknown_fields`, TOML on disk,
//! defaults on every field.
//!
//! Each section lives in its own file (`section/`) beside its own check, and choices are serde
//! enums (an unknown value is refused while parsing, naming the choices). A config reaches the
//! numerical crates only as a [`ValidConfig`], made once at the edge by [`Config::validate`]
//! (every section) or [`Config::validate_sections`] (the sections a command uses, so a bad
//! `[stdp]` value does not stop `ebm train`); inner code never re-checks a value (the linfa
//! "parameter guard" pattern).
//!
//! ```
//! use ebm_config::{Config, ConfigSource, Preset};
//!
//! let mut source = ConfigSource::preset(Preset::Ep1h);
//! source.set("training.epochs=3").unwrap();
//! let config = source.load().unwrap().validate().unwrap();
//! assert_eq!(config.training.epochs, 3);
//! assert_eq!(config.model.layers, vec![784, 500, 10]);
//! ```

mod check;
mod config;
mod error;
mod load;
mod presets;
mod section;
pub mod sweep;
mod validate;

#[cfg(test)]
mod tests;

pub use config::Config;
pub use error::{ConfigError, FieldError};
pub use load::{ConfigSource, KeyChange};
pub use presets::Preset;
pub use section::SymmetryConfig;
pub use section::{
    BetaSign, CostKind, DataConfig, DataOrder, Derivative, DynamicsConfig, GradcheckConfig,
    Kernels, LearningRule, Messages, ModelConfig, OutputConfig, PresynapticTime, PropagateConfig,
    RateSchedule, RelaxStepsConfig, RhoConfig, RhoKind, SampleConfig, Schedule, Selection,
    SpikeModel, StdpConfig, TrainingConfig, UpdateRuleKind,
};
pub use validate::{Section, ValidConfig};
