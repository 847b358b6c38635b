//! State dynamics: the two update rules, the two update schedules, and relaxation to a fixed
//! point.
//!
//! - Leaky integrator with Langevin noise (Eq 2.1-2.2): `s <- s + eps (R(s + eta) - s)`, with
//!   `eta ~ N(0, sigma^2)` entering through `R`, i.e. through the connections; for a nudged
//!   output the force `-eps beta dC/dy` is added (Eq 3.2).
//! - Projected gradient (the equilibrium-propagation code): `s <- clip(s - eps dF/ds, beta1,
//!   beta2)`.
//!
//! Messages: with either rule, units send each other their rates `rho(s)` (the papers' model)
//! or, with [`Messages::Spikes`], a Bernoulli spike of probability `rho(s)` drawn afresh at each
//! step for every unit, the clamped input's included (Eq 4.1's `xi` in place of `rho` in the
//! net input: binary messages, the future work of Bengio et al. 2017, section 6). The net input
//! is then an unbiased estimate of the rates' net input, and the input's drive is recomputed
//! at each step from its spikes.
//!
//! Schedules: synchronous (every layer moves from the previous step's states, the reference
//! code) or layer-alternating (the even layers move first, then the odd layers from the new even
//! states; layers of one parity do not interact, so each half-step is block-coordinate descent).
//! Either way one step updates every free layer once and costs the same products. The input
//! layer is always clamped, and its drive `rho(x) W_0 + b_0` is computed once per relaxation
//! ([`Relaxer::set_input`]); every product is one batched GEMM into a preallocated buffer, and
//! the step loop allocates nothing.
//!
//! Files: this one holds the types and the relaxer's buffers (`Relaxer::new`, `set_input`);
//! `step.rs` one step (reference and fast paths); `measure.rs` relaxing to a stopping rule and
//! the residual and energy measured in the relaxer's buffers.

mod measure;
mod step;

use ebm_config::{Kernels, Messages, Schedule, UpdateRuleKind};
use ndarray::{Array2, ArrayView2, Zip};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::energy::{self, Output};
use crate::kernels;
use crate::{CoreError, LayeredNet, Scalar, States};

/// Input density below which [`Relaxer::set_input`] uses the sparse path by default (measured
/// on this project's machine: the sparse product wins clearly below about half density).
pub const DEFAULT_SPARSE_THRESHOLD: f64 = 0.5;

/// How states move: rule, step size, noise, update order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dynamics {
    /// The update rule.
    pub rule: UpdateRuleKind,
    /// Step size epsilon.
    pub epsilon: f64,
    /// Langevin noise standard deviation sigma (leaky integrator only; 0 = noise-free).
    pub noise_std: f64,
    /// Order of the layer updates within a step.
    pub schedule: Schedule,
    /// Rates or Bernoulli spikes between units.
    pub messages: Messages,
}

impl Dynamics {
    /// The projected-gradient rule with step `epsilon`, noise-free, synchronous.
    pub fn projected(epsilon: f64) -> Self {
        Self {
            rule: UpdateRuleKind::ProjectedGradient,
            epsilon,
            noise_std: 0.0,
            schedule: Schedule::Synchronous,
            messages: Messages::Rates,
        }
    }

    /// The leaky integrator with step `epsilon` and noise `noise_std`, synchronous.
    pub fn leaky(epsilon: f64, noise_std: f64) -> Self {
        Self {
            rule: UpdateRuleKind::LeakyIntegrator,
            epsilon,
            noise_std,
            schedule: Schedule::Synchronous,
            messages: Messages::Rates,
        }
    }

    /// The dynamics a config's `[dynamics]` section describes (its step counts, tolerance and
    /// kernels are the relaxation's stopping rule and implementation, not the dynamics).
    pub fn of(c: &ebm_config::DynamicsConfig) -> Self {
        Self {
            rule: c.rule,
            epsilon: c.epsilon,
            noise_std: c.noise_std,
            schedule: c.schedule,
            messages: c.messages,
        }
    }

    /// Whether a step draws random numbers (Langevin noise or spikes), which couples the rows
    /// of a batch through the one generator: such a relaxation is not split by rows.
    pub fn stochastic(&self) -> bool {
        self.noisy() || self.messages == Messages::Spikes
    }

    /// Whether the leaky integrator's Langevin noise is on.
    pub(crate) fn noisy(&self) -> bool {
        self.rule == UpdateRuleKind::LeakyIntegrator && self.noise_std > 0.0
    }

    /// The same dynamics with another update order.
    pub fn with_schedule(self, schedule: Schedule) -> Self {
        Self { schedule, ..self }
    }

    /// The bounds the rule projects onto (unbounded for the leaky integrator).
    fn bounds(&self, rho: crate::Rho) -> (f64, f64) {
        match self.rule {
            UpdateRuleKind::LeakyIntegrator => (f64::NEG_INFINITY, f64::INFINITY),
            UpdateRuleKind::ProjectedGradient => rho.bounds(),
        }
    }

    /// How far `states` are from a fixed point of this rule: `max |R(s) - s|` including the
    /// nudging force for the leaky integrator, and the projected-gradient residual
    /// `max |clip(s - dF/ds) - s|` for the projected rule (zero at a constrained fixed point).
    pub fn residual<A: Scalar>(
        &self,
        net: &LayeredNet<A>,
        states: &States<A>,
        output: &Output<'_, A>,
    ) -> f64 {
        // The projected rule's fixed points may sit on the box, where dF/ds != 0: measure the
        // projected step instead. The clamped output does not count.
        let bounds = self.bounds(net.rho);
        let g = energy::grad_total(net, states, output);
        let last = if matches!(output, Output::Clamped { .. }) { g.len() - 1 } else { g.len() };
        let mut m = 0.0f64;
        for k in 1..last {
            for (&s, &gk) in states.layers[k].iter().zip(g[k].iter()) {
                let s = s.f64();
                m = m.max(((s - gk.f64()).clamp(bounds.0, bounds.1) - s).abs());
            }
        }
        m
    }
}

/// When to stop relaxing.
///
/// The tolerance is on the step's own movement `max |delta s|`, which is free to compute in the
/// step loop. It is not the residual of [`Dynamics::residual`]: for the synchronous projected
/// rule each unit's step satisfies `eps r <= |delta s| <= r` with `r` the residual of the state
/// before the step, so stopping at `max |delta s| < tol` bounds that state's residual by
/// `tol / eps`. To stop on the residual itself (e.g. to count the steps to a residual, or for
/// the alternating schedule, whose odd half-step sees the new even states), use
/// [`Relaxer::relax_to_residual`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stop {
    /// Step budget.
    pub max_steps: usize,
    /// Stop once `max |delta s| < tolerance` in a step (0 = always use the full budget).
    pub tolerance: f64,
    /// Record `mean F` after every step (allocates; for diagnostics only).
    pub trace_energy: bool,
}

impl Stop {
    /// Exactly `n` steps.
    pub fn steps(n: usize) -> Self {
        Self { max_steps: n, tolerance: 0.0, trace_energy: false }
    }
}

/// Diagnostics of a relaxation.
#[derive(Debug, Clone, PartialEq)]
pub struct Relaxation {
    /// Steps taken.
    pub steps: usize,
    /// `max |delta s|` of the last step.
    pub last_delta: f64,
    /// Whether it stopped on the tolerance (false when the budget ran out or tolerance is 0).
    pub converged: bool,
    /// Mean `F` over the batch after each step, when asked for.
    pub energy_trace: Vec<f64>,
}

/// Preallocated buffers for relaxing one batch size; reused across minibatches and phases.
#[derive(Debug, Clone)]
pub struct Relaxer<A> {
    batch: usize,
    /// `rho(x) W_0 + b_0`: `(batch, n_1)`, set by [`Relaxer::set_input`].
    input_drive: Array2<A>,
    /// `rho(s_k)` (or `rho(s_k + eta_k)`, or their spikes) per layer; index 0 holds `rho(x)`.
    rho: Vec<Array2<A>>,
    /// Net input of each layer; index 0 unused.
    drive: Vec<Array2<A>>,
    /// Noise `eta_k` per layer (empty until noise is used).
    noise: Vec<Array2<A>>,
    /// `W_k^T` for thin weight matrices (refreshed by `set_input`), else empty.
    thin_t: Vec<Option<Array2<A>>>,
    /// `rho(x)` in sparse form when the input is sparse enough (see [`Relaxer::set_input`]).
    sparse: kernels::SparseInput<A>,
    /// Whether the last `set_input` used the sparse path.
    sparse_used: bool,
    /// Whether `sparse` holds the current input (it may, without `sparse_used`).
    sparse_filled: bool,
    /// The input's spikes at the current step (spiking messages only).
    input_spikes: kernels::SparseInput<A>,
    /// Uniform draws deciding a step's spikes (spiking messages only).
    draws: Vec<u32>,
    /// Input density below which the sparse path is used (0 = never, > 1 = always).
    sparse_threshold: f64,
    /// Sparse (zero-skipping, fused) or dense (reference) kernels.
    kernels: Kernels,
    /// `y - dC/dy` of a custom cost at the current step (empty until one is used).
    custom: Array2<A>,
    rng: ChaCha8Rng,
}

impl<A: Scalar> Relaxer<A> {
    /// Buffers for `net` and `batch` examples; the generator of the noise and the spikes (used
    /// only when `noise_std > 0` or with spiking messages) is seeded with `noise_seed`.
    pub fn new(net: &LayeredNet<A>, batch: usize, noise_seed: u64) -> Self {
        let sizes = net.sizes();
        let buffers = || sizes.iter().map(|&n| Array2::zeros((batch, n))).collect::<Vec<_>>();
        Self {
            batch,
            input_drive: Array2::zeros((batch, sizes[1])),
            rho: buffers(),
            drive: buffers(),
            noise: Vec::new(),
            thin_t: vec![None; net.depth()],
            sparse: kernels::SparseInput::default(),
            sparse_used: false,
            sparse_filled: false,
            input_spikes: kernels::SparseInput::default(),
            draws: Vec::new(),
            sparse_threshold: DEFAULT_SPARSE_THRESHOLD,
            kernels: Kernels::Sparse,
            custom: Array2::zeros((0, 0)),
            rng: ChaCha8Rng::seed_from_u64(noise_seed),
        }
    }

    /// The batch size the buffers hold.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// The generator of the noise and the spikes (to save, restore or reseed it).
    pub fn rng_mut(&mut self) -> &mut ChaCha8Rng {
        &mut self.rng
    }

    /// Compute the clamped input's drive `rho(x) W_0 + b_0` once (x does not move).
    pub fn set_input(
        &mut self,
        net: &LayeredNet<A>,
        x: ArrayView2<'_, A>,
    ) -> Result<(), CoreError> {
        self.set_input_rates(net, x)?;
        self.input_drive.assign(&net.biases[0]);
        if self.sparse_used {
            self.sparse.acc_product(&net.weights[0], &mut self.input_drive);
        } else {
            kernels::par_gemm(
                A::one(),
                &self.rho[0],
                &net.weights[0],
                A::one(),
                &mut self.input_drive,
            );
        }
        // The weights may have changed since the last call: refresh the thin transposes.
        for (k, w) in net.weights.iter().enumerate().skip(1) {
            if w.nrows().min(w.ncols()) <= kernels::THIN {
                let t = self.thin_t[k].get_or_insert_with(|| Array2::zeros((w.ncols(), w.nrows())));
                t.assign(&w.t());
            } else {
                self.thin_t[k] = None;
            }
        }
        Ok(())
    }

    /// Only the input's rates: `rho(x)` and its sparse form when the input is sparse enough
    /// ([`Relaxer::rho_input`], [`Relaxer::sparse_input`]), without the drive. Enough for an
    /// update that needs `rho(x)` (e.g. `dW_0`) when other relaxers relaxed the rows; a
    /// relaxation needs [`Relaxer::set_input`].
    pub fn set_input_rates(
        &mut self,
        net: &LayeredNet<A>,
        x: ArrayView2<'_, A>,
    ) -> Result<(), CoreError> {
        if x.dim() != (self.batch, net.weights[0].nrows()) {
            return Err(CoreError::Shape {
                what: "input x".into(),
                got: x.shape().to_vec(),
                expected: vec![self.batch, net.weights[0].nrows()],
            });
        }
        let rho = net.rho;
        let rx = &mut self.rho[0];
        Zip::from(&mut *rx).and(&x).for_each(|r, &v| *r = rho.eval(v));
        self.sparse_used = false;
        self.sparse_filled = false;
        if self.sparse_threshold > 0.0 && self.kernels == Kernels::Sparse {
            self.sparse.fill(&self.rho[0].view());
            self.sparse_filled = true;
            self.sparse_used = self.sparse.density() < self.sparse_threshold;
        }
        Ok(())
    }

    /// Choose the input path: products with `rho(x)` skip its zeros when its density is below
    /// `threshold` (0 = always dense, above 1 = always sparse). Both paths compute the same
    /// sums (the sparse one leaves out the zero terms), so results agree to rounding.
    pub fn set_sparse_threshold(&mut self, threshold: f64) {
        self.sparse_threshold = threshold;
    }

    /// Choose the kernels: [`Kernels::Sparse`] (the default) skips the exact zeros of the
    /// input and of the clipped states and fuses each hidden layer's step;
    /// [`Kernels::Dense`] computes every product dense and every step unfused (the reference).
    /// Takes effect at the next [`Relaxer::set_input`].
    pub fn set_kernels(&mut self, kernels: Kernels) {
        self.kernels = kernels;
    }

    /// `rho(x)` in sparse form, when the last [`Relaxer::set_input`] took the sparse path.
    pub fn sparse_input(&self) -> Option<&kernels::SparseInput<A>> {
        self.sparse_used.then_some(&self.sparse)
    }

    /// `rho(x)` of the last [`Relaxer::set_input`]: `(batch, n_0)`.
    pub fn rho_input(&self) -> &Array2<A> {
        &self.rho[0]
    }
}

/// What a layer's move needs besides the layer index.
struct Move<'d, 'o, A> {
    dynamics: &'d Dynamics,
    output: &'d Output<'o, A>,
    noisy: bool,
    spiking: bool,
    step_index: usize,
    track_delta: bool,
}

/// Relax `states` (whose layer 0 is the clamped input) in one call: allocates a [`Relaxer`],
/// computes the input drive once, and relaxes.
pub fn relax<A: Scalar>(
    net: &LayeredNet<A>,
    states: &mut States<A>,
    output: &Output<'_, A>,
    dynamics: &Dynamics,
    stop: &Stop,
    noise_seed: u64,
) -> Result<Relaxation, CoreError> {
    let mut relaxer = Relaxer::new(net, states.batch(), noise_seed);
    relaxer.set_input(net, states.layers[0].view())?;
    relaxer.relax(net, states, output, dynamics, stop)
}
