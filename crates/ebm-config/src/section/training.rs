//! `[training]`: Supervised training by nudging (Scellier & Bengio): nudging, cost, learning rates, minibatches, epochs, particles, checkpoints, and the learning rule.

use serde::{Deserialize, Serialize};

use crate::check::Checker;

/// Supervised training by nudging (Scellier & Bengio).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainingConfig {
    /// Nudging strength beta (> 0; its sign is set by `beta_sign`).
    pub beta: f64,
    /// How the sign of beta is chosen per minibatch.
    pub beta_sign: BetaSign,
    /// The cost C: `half-squared` = 1/2 ||y - d||^2 (Eq 3.3), `squared` = ||y - d||^2 (the
    /// reference code's).
    pub cost: CostKind,
    /// Learning rate per weight layer (one per pair of adjacent layers).
    pub alphas: Vec<f64>,
    /// Factor applied to every learning rate once per epoch: epoch `e` (1-based) trains with
    /// `alphas * alpha_decay^(e - 1)`. 1 (the default) keeps the rates fixed, as in the paper.
    pub alpha_decay: f64,
    /// How the rates end the run, on top of `alpha_decay`: `constant` (the paper), `step` (the
    /// last `anneal_epochs` epochs at rates / 10) or `cosine` (epoch `e` of `E`, 0-based, at
    /// `(1 + cos(pi e / E)) / 2` of the rates), so that the last epoch is a stable figure
    /// whatever the stop.
    pub schedule: RateSchedule,
    /// Epochs at rates / 10 at the end of a `step` schedule.
    pub anneal_epochs: usize,
    /// Which epoch a run's headline figures come from, declared before the run: `last` (a
    /// fixed schedule) or `best-validation` (the epoch of the lowest validation error from
    /// zero states, which needs `data.validation`; its model is kept as `best-model.npz`).
    pub select: Selection,
    /// Examples per minibatch.
    pub batch_size: usize,
    /// Passes over the training set.
    pub epochs: usize,
    /// Start each free phase from the example's previous free state (persistent particles).
    pub persistent_particles: bool,
    /// Order in which training examples are visited.
    pub data_order: DataOrder,
    /// Write a checkpoint every this many epochs (0 = only at the end).
    pub checkpoint_every: usize,
    /// The weight update: the two-point contrastive update, or its local-in-time forms
    /// accumulated along the nudged trajectory (Eq 3.18, Eq 4.1 of Bengio et al. 2017).
    pub rule: LearningRule,
    /// Also write a checkpoint every this many minibatches within an epoch (0 = never), so
    /// that a killed run loses at most that many minibatches.
    pub checkpoint_every_batches: usize,
    /// Re-evaluate the whole training set from zero states every this many epochs and at the
    /// last epoch (1 = every epoch; 0 = never). On deep nets this evaluation costs about as
    /// much as the epoch's training; the running training error is always reported.
    pub train_eval_every: usize,
    /// How many training examples that re-evaluation scores: a fixed subsample spread evenly
    /// over the training set (example `i n / m` for `i < m`), the same every epoch; 0 = all of
    /// them. The default (10,000) keeps the whole run cheap; set 0 for the full figure (e.g.
    /// the paper's 0.00% training error).
    pub train_eval_examples: usize,
    /// The nudged trajectories of a minibatch replay the same random draws (the Langevin noise,
    /// the spikes of spiking messages and the spiking rule's presynaptic spikes): common random
    /// numbers, so that with centred nudging the difference of the `+beta` and `-beta`
    /// trajectories is the effect of beta alone, not of two noise realisations. No effect on
    /// deterministic dynamics with a deterministic rule.
    pub shared_noise: bool,
    /// When a local rule (`temporal`, `spiking`) takes its presynaptic factor within a step:
    /// at its `start` (`rho_j(t)`, Eq 3.18 / 4.1 discretised as written) or at its `midpoint`
    /// (`(rho_j(t) + rho_j(t+1)) / 2`, or a spike of that probability). Summed over a
    /// trajectory the midpoint form is exactly the contrastive product difference; the start
    /// form differs from it by `sum_t delta rho_i delta rho_j`, negligible for smooth
    /// deterministic trajectories but of the order of the noise for noisy or spiking ones.
    pub presynaptic_time: PresynapticTime,
}

/// When a local rule takes its presynaptic factor within a step (`training.presynaptic_time`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PresynapticTime {
    /// `rho_j(t)`, before the step (Eq 3.18 and 4.1 discretised as written).
    #[default]
    Start,
    /// `(rho_j(t) + rho_j(t+1)) / 2`: the midpoint of the step.
    Midpoint,
}

/// The default of `training.train_eval_examples`.
pub const DEFAULT_TRAIN_EVAL_EXAMPLES: usize = 10_000;

impl Default for TrainingConfig {
    fn default() -> Self {
        Self {
            beta: 1.0,
            beta_sign: BetaSign::Random,
            cost: CostKind::HalfSquared,
            alphas: vec![0.1, 0.05],
            alpha_decay: 1.0,
            schedule: RateSchedule::Constant,
            anneal_epochs: 1,
            select: Selection::Last,
            batch_size: 20,
            epochs: 15,
            persistent_particles: true,
            data_order: DataOrder::Fixed,
            checkpoint_every: 1,
            rule: LearningRule::Contrastive,
            checkpoint_every_batches: 0,
            train_eval_every: 1,
            train_eval_examples: DEFAULT_TRAIN_EVAL_EXAMPLES,
            shared_noise: false,
            presynaptic_time: PresynapticTime::Start,
        }
    }
}

/// How a run's headline epoch is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Selection {
    /// The last epoch (the schedule is fixed before the run).
    #[default]
    Last,
    /// The epoch with the lowest validation error from zero states (the first of equals).
    BestValidation,
}

/// How the learning rates change over a run (besides `alpha_decay`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RateSchedule {
    /// The same rates every epoch.
    #[default]
    Constant,
    /// The last `anneal_epochs` epochs at a tenth of the rates.
    Step,
    /// A half cosine from the rates at the first epoch towards 0 after the last.
    Cosine,
}

/// The weight update of a minibatch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LearningRule {
    /// `dW = alpha / beta (rho rho^T at the nudged point - at the free point)` (Scellier &
    /// Bengio, Eq 13 of arXiv:1602.05179).
    Contrastive,
    /// At every step of the nudged phase, `dW_ij += alpha / beta (delta rho_i rho_j(t) +
    /// rho_i(t) delta rho_j)`: the postsynaptic rate of change times the presynaptic rate
    /// (Eq 3.18 of Bengio et al. 2017), in both directions of the symmetric connection.
    Temporal,
    /// As `temporal` with every presynaptic rate `rho_j(t)` replaced by a Bernoulli spike
    /// `xi_j(t)` of probability `rho_j(t)` (Eq 4.1 of Bengio et al. 2017).
    Spiking,
}

/// How the sign of beta is chosen per minibatch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BetaSign {
    /// Always +beta.
    Fixed,
    /// +beta or -beta with probability 1/2 each (the reference code).
    Random,
    /// Two nudged phases, at +beta and -beta; the update uses their difference / (2 beta).
    Centred,
}

/// The output cost C.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CostKind {
    /// C = 1/2 ||y - d||^2 (Eq 3.3).
    HalfSquared,
    /// C = ||y - d||^2 (the reference code's).
    Squared,
}

/// Order in which training examples are visited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DataOrder {
    /// The file's order, every epoch (the reference code).
    Fixed,
    /// A fresh seeded permutation every epoch.
    Shuffled,
}

impl TrainingConfig {
    /// A positive beta, one non-negative rate per weight layer of a model with
    /// `weight_layers`, a decay in (0, 1], at least one example and one epoch, a validation set
    /// (`validation` examples) for a selection on it.
    pub(crate) fn check(&self, c: &mut Checker, weight_layers: usize, validation: usize) {
        if c.finite("training.beta", self.beta) && self.beta <= 0.0 {
            c.fail(
                "training.beta",
                format!("= {}: must be > 0 (its sign is set by training.beta_sign)", self.beta),
            );
        }
        if self.alphas.len() != weight_layers {
            c.fail(
                "training.alphas",
                format!(
                    "has {} entries but the model has {weight_layers} weight layers",
                    self.alphas.len()
                ),
            );
        }
        for (i, &a) in self.alphas.iter().enumerate() {
            c.non_negative(&format!("training.alphas[{i}]"), a);
        }
        if c.finite("training.alpha_decay", self.alpha_decay)
            && !(self.alpha_decay > 0.0 && self.alpha_decay <= 1.0)
        {
            c.fail(
                "training.alpha_decay",
                format!("= {}: must be in (0, 1] (1 keeps the rates fixed)", self.alpha_decay),
            );
        }
        c.positive_count("training.batch_size", self.batch_size);
        c.positive_count("training.epochs", self.epochs);
        if self.select == Selection::BestValidation && validation == 0 {
            c.fail(
                "training.select",
                "= \"best-validation\" needs a validation set: set data.validation (e.g. 10000 for MNIST)",
            );
        }
        if self.schedule == RateSchedule::Step && !(1..=self.epochs).contains(&self.anneal_epochs) {
            c.fail(
                "training.anneal_epochs",
                format!(
                    "= {}: a step schedule anneals between 1 and training.epochs = {} epochs",
                    self.anneal_epochs, self.epochs
                ),
            );
        }
    }
}
