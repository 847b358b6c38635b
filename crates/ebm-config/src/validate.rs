//! `Config` -> `ValidConfig`: every range check in one place, every failure naming its field.

use std::ops::Deref;

use crate::{Config, ConfigError, FieldError, RhoKind};

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

/// Collects field errors.
struct Checker(Vec<FieldError>);

impl Checker {
    fn fail(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError { field: field.into(), message: message.into() });
    }

    fn positive_count(&mut self, field: &str, value: usize) {
        if value == 0 {
            self.fail(field, "= 0: must be at least 1");
        }
    }

    fn finite(&mut self, field: &str, value: f64) -> bool {
        if value.is_finite() {
            true
        } else {
            self.fail(field, format!("= {value}: must be a finite number"));
            false
        }
    }

    fn positive(&mut self, field: &str, value: f64) {
        if self.finite(field, value) && value <= 0.0 {
            self.fail(field, format!("= {value}: must be > 0"));
        }
    }

    fn non_negative(&mut self, field: &str, value: f64) {
        if self.finite(field, value) && value < 0.0 {
            self.fail(field, format!("= {value}: must be >= 0"));
        }
    }

    fn unit_interval(&mut self, field: &str, value: f64) {
        if self.finite(field, value) && !(value > 0.0 && value <= 1.0) {
            self.fail(field, format!("= {value}: must be in (0, 1]"));
        }
    }
}

impl Config {
    /// Check every value; on success the config becomes a [`ValidConfig`].
    ///
    /// All problems are reported at once, each naming its key path and value, e.g.
    /// `training.alphas has 2 entries but the model has 3 weight layers`.
    pub fn validate(self) -> Result<ValidConfig, ConfigError> {
        let mut c = Checker(Vec::new());
        if self.seed > i64::MAX as u64 {
            c.fail(
                "seed",
                format!("= {}: must be at most {} (a TOML integer)", self.seed, i64::MAX),
            );
        }
        let m = &self.model;
        if m.layers.len() < 2 {
            c.fail(
                "model.layers",
                format!("has {} entries: need at least 2 (input and output)", m.layers.len()),
            );
        }
        for (i, &n) in m.layers.iter().enumerate() {
            if n == 0 {
                c.fail(format!("model.layers[{i}]"), "= 0: a layer needs at least 1 unit");
            }
        }
        let (b1, b2) = (m.rho.beta1, m.rho.beta2);
        if c.finite("model.rho.beta1", b1) & c.finite("model.rho.beta2", b2) {
            if b1 >= b2 {
                c.fail("model.rho.beta2", format!("= {b2}: must be > model.rho.beta1 = {b1}"));
            } else if m.rho.kind == RhoKind::HardSigmoid && ((b2 - b1) - 1.0).abs() > 1e-9 {
                c.fail(
                    "model.rho.beta2",
                    format!("- beta1 = {}: must be 1 for the hard sigmoid (Eq 2.8)", b2 - b1),
                );
            }
        }

        let d = &self.dynamics;
        c.unit_interval("dynamics.epsilon", d.epsilon);
        c.positive_count("dynamics.free_steps", d.free_steps);
        c.positive_count("dynamics.nudged_steps", d.nudged_steps);
        c.non_negative("dynamics.noise_std", d.noise_std);
        c.non_negative("dynamics.tolerance", d.tolerance);

        let t = &self.training;
        if c.finite("training.beta", t.beta) && t.beta <= 0.0 {
            c.fail(
                "training.beta",
                format!("= {}: must be > 0 (its sign is set by training.beta_sign)", t.beta),
            );
        }
        let weight_layers = m.layers.len().saturating_sub(1);
        if t.alphas.len() != weight_layers {
            c.fail(
                "training.alphas",
                format!(
                    "has {} entries but the model has {weight_layers} weight layers",
                    t.alphas.len()
                ),
            );
        }
        for (i, &a) in t.alphas.iter().enumerate() {
            c.non_negative(&format!("training.alphas[{i}]"), a);
        }
        if c.finite("training.alpha_decay", t.alpha_decay)
            && !(t.alpha_decay > 0.0 && t.alpha_decay <= 1.0)
        {
            c.fail(
                "training.alpha_decay",
                format!("= {}: must be in (0, 1] (1 keeps the rates fixed)", t.alpha_decay),
            );
        }
        c.positive_count("training.batch_size", t.batch_size);
        c.positive_count("training.epochs", t.epochs);

        if self.data.train_limit == Some(0) {
            c.fail("data.train_limit", "= 0: must be at least 1");
        }
        if self.data.test_limit == Some(0) {
            c.fail("data.test_limit", "= 0: must be at least 1");
        }

        let s = &self.stdp;
        c.positive_count("stdp.sequences", s.sequences);
        c.positive_count("stdp.steps", s.steps);
        c.positive_count("stdp.trains", s.trains);
        c.positive_count("stdp.window", s.window);
        c.positive("stdp.spike_scale", s.spike_scale);
        c.positive("stdp.tau_plus", s.tau_plus);
        c.positive("stdp.tau_minus", s.tau_minus);
        c.non_negative("stdp.a_plus", s.a_plus);
        c.non_negative("stdp.a_minus", s.a_minus);
        if c.finite("stdp.smoothing", s.smoothing) && s.smoothing < 1.0 {
            c.fail("stdp.smoothing", format!("= {}: must be >= 1 (steps)", s.smoothing));
        }
        c.finite("stdp.pre_mean", s.pre_mean);
        c.non_negative("stdp.pre_std", s.pre_std);
        c.finite("stdp.drive_mean", s.drive_mean);
        c.non_negative("stdp.drive_std", s.drive_std);
        c.unit_interval("stdp.epsilon", s.epsilon);
        c.finite("stdp.learning_rate", s.learning_rate);
        if !matches!(s.spike_model.as_str(), "bernoulli" | "poisson") {
            c.fail(
                "stdp.spike_model",
                format!("= {:?}: must be \"bernoulli\" or \"poisson\"", s.spike_model),
            );
        }
        if !matches!(s.derivative.as_str(), "central" | "forward" | "backward") {
            c.fail(
                "stdp.derivative",
                format!("= {:?}: must be \"central\", \"forward\" or \"backward\"", s.derivative),
            );
        }
        if s.fig5_bins < 2 {
            c.fail("stdp.fig5_bins", format!("= {}: must be at least 2", s.fig5_bins));
        }
        if s.steps > 1 << 20 || s.window > 1 << 16 || s.trains > 1 << 24 || s.sequences > 1 << 32 {
            c.fail(
                "stdp",
                "sizes too large: steps <= 2^20, window <= 2^16, trains <= 2^24, sequences <= 2^32",
            );
        }

        let p = &self.propagate;
        if p.hidden_layers.is_empty() {
            c.fail("propagate.hidden_layers", "is empty: give at least one depth");
        }
        for (i, &h) in p.hidden_layers.iter().enumerate() {
            c.positive_count(&format!("propagate.hidden_layers[{i}]"), h);
        }
        c.positive_count("propagate.input_size", p.input_size);
        c.positive_count("propagate.hidden_size", p.hidden_size);
        c.positive_count("propagate.output_size", p.output_size);
        c.positive_count("propagate.batch_size", p.batch_size);
        c.positive_count("propagate.max_steps", p.max_steps);
        c.positive("propagate.weight_scale", p.weight_scale);
        c.positive("propagate.tolerance", p.tolerance);
        c.finite("propagate.rho_beta1", p.rho_beta1);
        if p.epsilons.is_empty() {
            c.fail("propagate.epsilons", "is empty: give at least one step size");
        }
        for (i, &e) in p.epsilons.iter().enumerate() {
            c.unit_interval(&format!("propagate.epsilons[{i}]"), e);
        }

        let g = &self.gradcheck;
        if g.hidden_layers.is_empty() {
            c.fail("gradcheck.hidden_layers", "is empty: give at least one depth");
        }
        for (i, &h) in g.hidden_layers.iter().enumerate() {
            c.positive_count(&format!("gradcheck.hidden_layers[{i}]"), h);
        }
        c.positive_count("gradcheck.hidden_size", g.hidden_size);
        c.positive_count("gradcheck.examples", g.examples);
        c.positive_count("gradcheck.candidates", g.candidates);
        c.positive_count("gradcheck.max_steps", g.max_steps);
        c.positive("gradcheck.weight_scale", g.weight_scale);
        c.positive("gradcheck.tolerance", g.tolerance);
        c.unit_interval("gradcheck.epsilon", g.epsilon);
        if g.betas.is_empty() {
            c.fail("gradcheck.betas", "is empty: give at least one beta");
        }
        for (i, &b) in g.betas.iter().enumerate() {
            c.positive(&format!("gradcheck.betas[{i}]"), b);
        }

        let r = &self.relax_steps;
        if r.layers.len() < 2 {
            c.fail(
                "relax_steps.layers",
                format!("has {} entries: need at least 2 (input and output)", r.layers.len()),
            );
        }
        for (i, &n) in r.layers.iter().enumerate() {
            c.positive_count(&format!("relax_steps.layers[{i}]"), n);
        }
        c.positive_count("relax_steps.examples", r.examples);
        c.positive_count("relax_steps.max_steps", r.max_steps);
        c.positive("relax_steps.tolerance", r.tolerance);
        if r.synchronous_epsilons.is_empty() && r.alternating_epsilons.is_empty() {
            c.fail(
                "relax_steps",
                "no step sizes: give synchronous_epsilons or alternating_epsilons",
            );
        }
        for (i, &e) in r.synchronous_epsilons.iter().enumerate() {
            c.unit_interval(&format!("relax_steps.synchronous_epsilons[{i}]"), e);
        }
        for (i, &e) in r.alternating_epsilons.iter().enumerate() {
            c.unit_interval(&format!("relax_steps.alternating_epsilons[{i}]"), e);
        }

        if c.0.is_empty() {
            Ok(ValidConfig(self))
        } else {
            Err(ConfigError::Invalid { origin: None, errors: c.0 })
        }
    }
}
