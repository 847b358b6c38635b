//! The configuration structs, one per section of the TOML file, with their defaults.
//!
//! `Config::default()` is the paper's 784-500-10 setting (the reference code's dynamics and
//! training, 15 epochs, the embedded MNIST subset); every preset starts from it, and a
//! configuration built without a preset starts from the `quick` preset.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

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
            output: OutputConfig::default(),
        }
    }
}

/// Network architecture: layer sizes and the activation `rho`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelConfig {
    /// Units per layer, input first, output last (e.g. `[784, 500, 10]`).
    pub layers: Vec<usize>,
    /// The activation `rho` (Eq 2.8).
    pub rho: RhoConfig,
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self { layers: vec![784, 500, 10], rho: RhoConfig::default() }
    }
}

/// The activation function `rho` (Eq 2.8 of Bengio et al. 2017).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RhoConfig {
    /// Which function.
    pub kind: RhoKind,
    /// Lower kink of the hard sigmoid: rho = 0 below it.
    pub beta1: f64,
    /// Upper kink of the hard sigmoid: rho = 1 above it; `beta2 - beta1` must be 1.
    pub beta2: f64,
}

impl Default for RhoConfig {
    fn default() -> Self {
        Self { kind: RhoKind::HardSigmoid, beta1: 0.0, beta2: 1.0 }
    }
}

/// Choice of activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RhoKind {
    /// Piecewise linear: 0 below beta1, `s - beta1` between, 1 above beta2 (Eq 2.8).
    HardSigmoid,
    /// Logistic sigmoid centred between beta1 and beta2, `1 / (1 + exp(-4 (s - m)))`.
    Sigmoid,
}

/// How states move (Eq 2.1-2.2 and the equilibrium-propagation code).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DynamicsConfig {
    /// Step size epsilon, in (0, 1].
    pub epsilon: f64,
    /// Steps of the free phase (T).
    pub free_steps: usize,
    /// Steps of the nudged phase (K).
    pub nudged_steps: usize,
    /// Steps of the free phase when evaluating (0 = same as `free_steps`).
    pub eval_steps: usize,
    /// Standard deviation of the Langevin noise eta (0 = noise-free).
    pub noise_std: f64,
    /// Stop a phase early once max |delta s| < tolerance (0 = always run the full step count).
    pub tolerance: f64,
    /// The state-update rule.
    pub rule: UpdateRuleKind,
    /// Order of the layer updates within a step: `synchronous` (every layer from the previous
    /// step's states) or `alternating` (even layers, then odd layers from the new even states).
    pub schedule: Schedule,
    /// Which kernels compute the relaxation and the updates: `sparse` (skip the exact zeros of
    /// the input and of the clipped states, fused layer steps) or `dense` (every product dense:
    /// the checked reference). Both compute the same sums; only zero terms are left out.
    pub kernels: Kernels,
}

impl Default for DynamicsConfig {
    fn default() -> Self {
        Self {
            epsilon: 0.5,
            free_steps: 20,
            nudged_steps: 4,
            eval_steps: 0,
            noise_std: 0.0,
            tolerance: 0.0,
            rule: UpdateRuleKind::ProjectedGradient,
            schedule: Schedule::Synchronous,
            kernels: Kernels::Sparse,
        }
    }
}

/// Which kernels the relaxation and the weight updates use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kernels {
    /// Skip exact zeros: the input's zero pixels (when the minibatch is sparse enough), the
    /// clipped states' zeros in thin products, and fuse each hidden layer's drive, leak and clip
    /// into one pass (the projected rule with `beta1 = 0`, where `rho(s) = s`).
    #[default]
    Sparse,
    /// Every product dense and every step unfused: the reference the sparse path is tested
    /// against (same sums, so results agree to rounding).
    Dense,
}

/// Order of the layer updates within one relaxation step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Schedule {
    /// Every free layer moves from the previous step's states (the reference code).
    #[default]
    Synchronous,
    /// Layer-alternating (asynchronous): the even layers move first, from the current states,
    /// then the odd layers from the new even states. Layers of one parity do not interact, so
    /// each half-step is exact block-coordinate descent on the layered energy.
    Alternating,
}

/// The two state-update rules of `ebm-core`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UpdateRuleKind {
    /// `s <- clip(s - eps dF/ds, beta1, beta2)`, the equilibrium-propagation code's rule.
    ProjectedGradient,
    /// `s <- s + eps (R(s + eta) - s)`, the leaky integrator with Langevin noise (Eq 2.1-2.2).
    LeakyIntegrator,
}

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
}

impl Default for TrainingConfig {
    fn default() -> Self {
        Self {
            beta: 1.0,
            beta_sign: BetaSign::Random,
            cost: CostKind::HalfSquared,
            alphas: vec![0.1, 0.05],
            alpha_decay: 1.0,
            batch_size: 20,
            epochs: 15,
            persistent_particles: true,
            data_order: DataOrder::Fixed,
            checkpoint_every: 1,
            rule: LearningRule::Contrastive,
            checkpoint_every_batches: 0,
            train_eval_every: 1,
        }
    }
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

/// Where the data comes from.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataConfig {
    /// Directory holding the four MNIST IDX files (raw or gzip); absent = the embedded subset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dir: Option<PathBuf>,
    /// Use only the first N training examples.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub train_limit: Option<usize>,
    /// Use only the first N test examples.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_limit: Option<usize>,
}

/// The STDP simulation of section 4.2 of Bengio et al. 2017 (see `docs/stdp.md`).
///
/// The presynaptic voltage `s_j` and the external drive `x` of the postsynaptic unit are
/// discretised Ornstein-Uhlenbeck processes (time constant `smoothing`); the postsynaptic voltage
/// is a leaky integrator of the drive, `s_i <- s_i + epsilon (x - s_i)`. Spikes are drawn per
/// step with probability `clamp(spike_scale * rho(s), 0, 1)` (Bernoulli) or
/// `1 - exp(-spike_scale * rho(s))` (Poisson).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StdpConfig {
    /// Random rate sequences (the paper: 500).
    pub sequences: usize,
    /// Steps per sequence (the paper: 160).
    pub steps: usize,
    /// Spike trains sampled per sequence (the paper: 1000).
    pub trains: usize,
    /// Half-width of the window around each presynaptic spike, in steps (the paper: 20).
    pub window: usize,
    /// Spike probability constant c: p = clamp(c rho(s), 0, 1) per step (Bernoulli) or
    /// p = 1 - exp(-c rho(s)) (Poisson).
    pub spike_scale: f64,
    /// Spike model: `bernoulli` or `poisson`.
    pub spike_model: String,
    /// Time constant of the potentiation branch of the STDP kernel, steps (Bi & Poo: 16.8).
    pub tau_plus: f64,
    /// Time constant of the depression branch of the STDP kernel, steps (Bi & Poo: 33.7).
    pub tau_minus: f64,
    /// Amplitude of potentiation A+.
    pub a_plus: f64,
    /// Amplitude of depression A-.
    pub a_minus: f64,
    /// Time constant (steps, >= 1) of the Ornstein-Uhlenbeck presynaptic voltage and drive.
    pub smoothing: f64,
    /// Mean of the presynaptic voltage `s_j`.
    pub pre_mean: f64,
    /// Stationary standard deviation of the presynaptic voltage `s_j`.
    pub pre_std: f64,
    /// Mean of the external drive `x` of the postsynaptic voltage.
    pub drive_mean: f64,
    /// Stationary standard deviation of the external drive `x`.
    pub drive_std: f64,
    /// Step of the postsynaptic leaky integrator `s_i <- s_i + epsilon (x + W rho(s_j) - s_i)`,
    /// in (0, 1] (Eq 2.1 without noise).
    pub epsilon: f64,
    /// Estimate of ds_i/dt at step t: `central` (s_(t+1) - s_(t-1)) / 2, `forward`
    /// s_(t+1) - s_t, or `backward` s_t - s_(t-1).
    pub derivative: String,
    /// Steps simulated from rest (all voltages 0) and discarded before each sequence.
    pub burn_in: usize,
    /// Learning rate of the weight in the E[(ds)^2] measurement and Figure 3.
    pub learning_rate: f64,
    /// Equal-count bins of the rate-rule update in Figure 5.
    pub fig5_bins: usize,
}

impl Default for StdpConfig {
    fn default() -> Self {
        Self {
            sequences: 500,
            steps: 160,
            trains: 1000,
            window: 20,
            spike_scale: 0.25,
            spike_model: "bernoulli".into(),
            tau_plus: 16.8,
            tau_minus: 33.7,
            a_plus: 1.0,
            a_minus: 0.5,
            smoothing: 10.0,
            pre_mean: 0.5,
            pre_std: 0.3,
            drive_mean: 0.5,
            drive_std: 1.0,
            epsilon: 0.1,
            derivative: "central".into(),
            burn_in: 100,
            learning_rate: 0.01,
            fig5_bins: 20,
        }
    }
}

/// The early-inference experiment of section 3 (Eq 3.2-3.18).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PropagateConfig {
    /// Numbers of hidden layers to test.
    pub hidden_layers: Vec<usize>,
    /// Units in the input layer.
    pub input_size: usize,
    /// Units in each hidden layer.
    pub hidden_size: usize,
    /// Units in the output layer.
    pub output_size: usize,
    /// Weights are uniform in [-scale, scale] / sqrt(fan_in + fan_out) * sqrt(6)
    /// (i.e. `scale` = 1 is Glorot-uniform).
    pub weight_scale: f64,
    /// Step sizes epsilon to test.
    pub epsilons: Vec<f64>,
    /// Lower kink of rho (beta2 = beta1 + 1); the paper's condition is beta1 < 0 < beta2.
    pub rho_beta1: f64,
    /// Batch of random inputs.
    pub batch_size: usize,
    /// Fixed-point tolerance on max |R(s) - s|.
    pub tolerance: f64,
    /// Step budget of the relaxation to the fixed point.
    pub max_steps: usize,
}

impl Default for PropagateConfig {
    fn default() -> Self {
        Self {
            hidden_layers: vec![1, 2, 3],
            input_size: 20,
            hidden_size: 20,
            output_size: 5,
            weight_scale: 0.1,
            epsilons: vec![0.5, 0.1, 0.01, 0.001],
            rho_beta1: -0.5,
            batch_size: 8,
            tolerance: 1e-13,
            max_steps: 200_000,
        }
    }
}

/// The gradient-fidelity experiment (`ebm gradcheck`, see `docs/gradient.md`): on MNIST inputs,
/// the EP update (one-sided and centred) against the true gradient of `C` at the free fixed
/// point, per layer, as beta varies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GradcheckConfig {
    /// Numbers of hidden layers to test.
    pub hidden_layers: Vec<usize>,
    /// Units in each hidden layer (the input is 784, the output 10).
    pub hidden_size: usize,
    /// Training examples (a seeded sample) the gradients are averaged over.
    pub examples: usize,
    /// Nudging strengths beta to test (> 0).
    pub betas: Vec<f64>,
    /// Weight scale relative to Glorot-uniform (1 = Glorot); biases are zero.
    pub weight_scale: f64,
    /// Fixed-point tolerance: relax until the projected residual `max |clip(s - dF/ds) - s|`
    /// is at most this (f64).
    pub tolerance: f64,
    /// Step budget of each relaxation.
    pub max_steps: usize,
    /// Step size of the relaxation (the fixed points do not depend on it).
    pub epsilon: f64,
    /// Update order of the relaxation (the fixed points do not depend on it).
    pub schedule: Schedule,
    /// For a trained network (`ebm gradcheck --checkpoint`): how many evenly spaced training
    /// examples to scan for ones whose cost at the free fixed point is non-zero; the first
    /// `examples` of those are used. A trained net's outputs sit exactly on the targets for
    /// most examples, where the loss and its gradient are exactly 0: nothing to compare.
    pub candidates: usize,
}

impl Default for GradcheckConfig {
    fn default() -> Self {
        Self {
            hidden_layers: vec![1, 2, 3],
            hidden_size: 500,
            examples: 20,
            betas: vec![1e-5, 1e-4, 1e-3, 1e-2, 0.1, 1.0],
            weight_scale: 1.0,
            tolerance: 1e-11,
            max_steps: 200_000,
            epsilon: 1.0,
            schedule: Schedule::Alternating,
            candidates: 2000,
        }
    }
}

/// Steps to reach a residual (`ebm relax-steps`, see `docs/gradient.md`): free phases from zero
/// states on MNIST inputs, synchronous against alternating updates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RelaxStepsConfig {
    /// Units per layer, input (784) first, output (10) last.
    pub layers: Vec<usize>,
    /// Test examples relaxed (one batch; the first N of the test set).
    pub examples: usize,
    /// Stop when the projected residual `max |clip(s - dE/ds) - s|` over the batch is at most
    /// this.
    pub tolerance: f64,
    /// Step budget.
    pub max_steps: usize,
    /// Step sizes of the synchronous schedule.
    pub synchronous_epsilons: Vec<f64>,
    /// Step sizes of the alternating schedule.
    pub alternating_epsilons: Vec<f64>,
}

impl Default for RelaxStepsConfig {
    fn default() -> Self {
        Self {
            layers: vec![784, 500, 500, 500, 10],
            examples: 100,
            tolerance: 1e-4,
            max_steps: 20_000,
            synchronous_epsilons: vec![0.5],
            alternating_epsilons: vec![0.5, 1.0],
        }
    }
}

/// Output files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutputConfig {
    /// Results directory (overridden by `--out`); absent = `results/<command>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dir: Option<PathBuf>,
    /// Write SVG plots.
    pub plots: bool,
}

impl Default for OutputConfig {
    fn default() -> Self {
        Self { dir: None, plots: true }
    }
}
