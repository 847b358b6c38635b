//! `Config` -> `ValidConfig`: each section's check (beside the section, in `section/`) for the
//! sections a command uses, every failure naming its field.

use std::ops::Deref;

use crate::check::Checker;
use crate::{Config, ConfigError};

/// A configuration whose every value has been checked. The only form the numerical crates
/// accept; made by [`Config::validate`].
#[derive(Debug, Clone, PartialEq)]
pub struct ValidConfig(Config);

impl Deref for ValidConfig {
    type Target = Config;
    fn deref(&self) -> &Config {
        &self.0
    }
}

impl ValidConfig {
    /// The underlying configuration.
    pub fn config(&self) -> &Config {
        &self.0
    }

    /// Number of weight layers (pairs of adjacent layers).
    pub fn weight_layers(&self) -> usize {
        self.0.model.layers.len() - 1
    }

    /// Steps of the evaluation free phase (`dynamics.eval_steps`, or `free_steps` when 0).
    pub fn eval_steps(&self) -> usize {
        match self.0.dynamics.eval_steps {
            0 => self.0.dynamics.free_steps,
            n => n,
        }
    }
}

/// A section of the configuration, as a command uses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// `[model]`.
    Model,
    /// `[dynamics]`.
    Dynamics,
    /// `[training]`.
    Training,
    /// `[data]`.
    Data,
    /// `[stdp]`.
    Stdp,
    /// `[propagate]`.
    Propagate,
    /// `[gradcheck]`.
    Gradcheck,
    /// `[relax_steps]`.
    RelaxSteps,
    /// `[sample]`.
    Sample,
    /// `[symmetry]`.
    Symmetry,
}

impl Section {
    /// Every section.
    pub const ALL: [Section; 10] = [
        Section::Model,
        Section::Dynamics,
        Section::Training,
        Section::Data,
        Section::Stdp,
        Section::Propagate,
        Section::Gradcheck,
        Section::RelaxSteps,
        Section::Sample,
        Section::Symmetry,
    ];

    /// What training and evaluating a network uses (`ebm train`, `ebm eval`).
    pub const TRAIN: [Section; 4] =
        [Section::Model, Section::Dynamics, Section::Training, Section::Data];
}

impl Config {
    /// Check every section; on success the config becomes a [`ValidConfig`]. All problems are
    /// reported at once, each naming its key path and value, e.g. `training.alphas has 2
    /// entries but the model has 3 weight layers`.
    pub fn validate(self) -> Result<ValidConfig, ConfigError> {
        self.validate_sections(&Section::ALL)
    }

    /// Check the seed and the `sections` a command uses (a bad value elsewhere does not stop
    /// it); on success the config becomes a [`ValidConfig`].
    pub fn validate_sections(self, sections: &[Section]) -> Result<ValidConfig, ConfigError> {
        let mut c = Checker::default();
        if self.seed > i64::MAX as u64 {
            c.fail(
                "seed",
                format!("= {}: must be at most {} (a TOML integer)", self.seed, i64::MAX),
            );
        }
        let weight_layers = self.model.layers.len().saturating_sub(1);
        for section in sections {
            match section {
                Section::Model => self.model.check(&mut c),
                Section::Dynamics => self.dynamics.check(&mut c),
                Section::Training => {
                    self.training.check(&mut c, weight_layers, self.data.validation);
                }
                Section::Data => self.data.check(&mut c),
                Section::Stdp => self.stdp.check(&mut c),
                Section::Propagate => self.propagate.check(&mut c),
                Section::Gradcheck => self.gradcheck.check(&mut c),
                Section::RelaxSteps => self.relax_steps.check(&mut c),
                Section::Sample => self.sample.check(&mut c),
                Section::Symmetry => self.symmetry.check(&mut c),
            }
        }
        if c.0.is_empty() {
            Ok(ValidConfig(self))
        } else {
            Err(ConfigError::Invalid { origin: None, errors: c.0 })
        }
    }
}
