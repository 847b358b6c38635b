//! State dynamics: the two update rules, the two update schedules, and relaxation to a fixed
//! point.
//!
//! - Leaky integrator with Langevin noise (Eq 2.1-2.2): `s <- s + eps (R(s + eta) - s)`, with
//!   `eta ~ N(0, sigma^2)` entering through `R`, i.e. through the connections; for a nudged
//!   output the force `-eps beta dC/dy` is added (Eq 3.2).
//! - Projected gradient (the equilibrium-propagation code): `s <- clip(s - eps dF/ds, beta1,
//!   beta2)`.
//!
//! Schedules: synchronous (every layer moves from the previous step's states, the reference
//! code) or layer-alternating (the even layers move first, then the odd layers from the new even
//! states; layers of one parity do not interact, so each half-step is block-coordinate descent).
//! Either way one step updates every free layer once and costs the same products. The input
//! layer is always clamped, and its drive `rho(x) W_0 + b_0` is computed once per relaxation
//! ([`Relaxer::set_input`]); every product is one batched GEMM into a preallocated buffer, and
//! the step loop allocates nothing.

use ebm_config::{Kernels, Schedule, UpdateRuleKind};
use ndarray::{Array2, ArrayView2, Zip};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use crate::energy::{self, Output, cost_factor};
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
}

impl Dynamics {
    /// The projected-gradient rule with step `epsilon`, noise-free, synchronous.
    pub fn projected(epsilon: f64) -> Self {
        Self {
            rule: UpdateRuleKind::ProjectedGradient,
            epsilon,
            noise_std: 0.0,
            schedule: Schedule::Synchronous,
        }
    }

    /// The leaky integrator with step `epsilon` and noise `noise_std`, synchronous.
    pub fn leaky(epsilon: f64, noise_std: f64) -> Self {
        Self {
            rule: UpdateRuleKind::LeakyIntegrator,
            epsilon,
            noise_std,
            schedule: Schedule::Synchronous,
        }
    }

    /// The dynamics a config's `[dynamics]` section describes (its step counts, tolerance and
    /// kernels are the relaxation's stopping rule and implementation, not the dynamics).
    pub fn of(c: &ebm_config::DynamicsConfig) -> Self {
        Self { rule: c.rule, epsilon: c.epsilon, noise_std: c.noise_std, schedule: c.schedule }
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
    /// `rho(s_k)` (or `rho(s_k + eta_k)`) per layer; index 0 unused.
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
    /// Input density below which the sparse path is used (0 = never, > 1 = always).
    sparse_threshold: f64,
    /// Sparse (zero-skipping, fused) or dense (reference) kernels.
    kernels: Kernels,
    /// `y - dC/dy` of a custom cost at the current step (empty until one is used).
    custom: Array2<A>,
    rng: ChaCha8Rng,
}

impl<A: Scalar> Relaxer<A> {
    /// Buffers for `net` and `batch` examples; the noise generator (used only when
    /// `noise_std > 0`) is seeded with `noise_seed`.
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

    /// The noise generator (to save or restore its state).
    pub fn rng_mut(&mut self) -> &mut ChaCha8Rng {
        &mut self.rng
    }

    /// Compute the clamped input's drive `rho(x) W_0 + b_0` once (x does not move).
    pub fn set_input(
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
        self.input_drive.assign(&net.biases[0]);
        self.sparse_used = false;
        if self.sparse_threshold > 0.0 && self.kernels == Kernels::Sparse {
            self.sparse.fill(&self.rho[0].view());
            self.sparse_used = self.sparse.density() < self.sparse_threshold;
        }
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

    /// One synchronous step of every free layer; returns `max |delta s|`.
    /// Requires [`Relaxer::set_input`] for the states' input.
    pub fn step(
        &mut self,
        net: &LayeredNet<A>,
        states: &mut States<A>,
        output: &Output<'_, A>,
        dynamics: &Dynamics,
    ) -> Result<f64, CoreError> {
        self.check_states(net, states)?;
        let fast = self.fast_path(net, states, output, dynamics);
        self.step_unchecked(net, states, output, dynamics, 0, true, fast)
    }

    /// Whether the sparse kernels' fused step applies: the projected rule with a hard sigmoid
    /// whose lower kink is 0, no noise, and every free state (and a clamped output) inside
    /// `[0, beta2]`, where `rho(s) = s` exactly so the states serve as their own rates. The
    /// projected rule keeps states there, so this holds for a whole relaxation once it holds at
    /// its start.
    fn fast_path(
        &self,
        net: &LayeredNet<A>,
        states: &States<A>,
        output: &Output<'_, A>,
        dynamics: &Dynamics,
    ) -> bool {
        let hi = match net.rho {
            crate::Rho::HardSigmoid { beta1: 0.0, beta2 } => A::of(beta2),
            _ => return false,
        };
        let inside = |a: &[A]| a.iter().fold(true, |ok, &v| ok & (v >= A::zero()) & (v <= hi));
        let clamped_inside = match output {
            Output::Clamped { target } => target.iter().all(|&v| v >= A::zero() && v <= hi),
            _ => true,
        };
        self.kernels == Kernels::Sparse
            && dynamics.rule == UpdateRuleKind::ProjectedGradient
            && clamped_inside
            && states.layers[1..].iter().all(|l| l.as_slice().is_some_and(inside))
    }

    /// The hidden layer whose step is fused (drive, leak and clip in one pass): the layer
    /// below a thin output layer, whose drive from above is a short sum of rows of `W^T`.
    fn fused_layer(&self, net: &LayeredNet<A>) -> Option<usize> {
        let k = net.depth().checked_sub(1).filter(|&k| k >= 1)?;
        (self.thin_t[k].is_some() && net.weights[k].ncols() <= kernels::THIN).then_some(k)
    }

    fn check_states(&self, net: &LayeredNet<A>, states: &States<A>) -> Result<(), CoreError> {
        let sizes = net.sizes();
        for (k, (s, &n)) in states.layers.iter().zip(&sizes).enumerate() {
            if s.dim() != (self.batch, n) {
                return Err(CoreError::Shape {
                    what: format!("states of layer {k}"),
                    got: s.shape().to_vec(),
                    expected: vec![self.batch, n],
                });
            }
        }
        if states.layers.len() != sizes.len() {
            return Err(CoreError::Shape {
                what: "states (layer count)".into(),
                got: vec![states.layers.len()],
                expected: vec![sizes.len()],
            });
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn step_unchecked(
        &mut self,
        net: &LayeredNet<A>,
        states: &mut States<A>,
        output: &Output<'_, A>,
        dynamics: &Dynamics,
        step_index: usize,
        track_delta: bool,
        fast: bool,
    ) -> Result<f64, CoreError> {
        let depth = net.depth();
        let noisy = dynamics.rule == UpdateRuleKind::LeakyIntegrator && dynamics.noise_std > 0.0;
        if noisy {
            self.draw_noise(net, dynamics.noise_std);
        }
        self.prepare_custom(states, output);
        let mv = Move { dynamics, output, noisy, step_index, track_delta };
        if fast && !noisy {
            return self.step_fast(net, states, &mv);
        }
        let mut max_delta = 0.0f64;
        match dynamics.schedule {
            Schedule::Synchronous => {
                // rho of every free layer (at s + eta for the noisy leaky integrator), every net
                // input from the old states (one GEMM per product), then every move.
                for k in 1..=depth {
                    self.rho_layer(net, states, k, noisy);
                }
                for k in 1..=depth {
                    self.drive_layer(net, k);
                }
                for k in 1..=depth {
                    max_delta = max_delta.max(self.move_layer(net, states, k, &mv)?);
                }
            }
            Schedule::Alternating => {
                // Even layers from the current odd layers, then odd layers from the new even
                // layers (layer 0, the input, is even and fixed: its drive is cached).
                for parity in [0, 1] {
                    for k in (1..=depth).filter(|k| k % 2 != parity) {
                        self.rho_layer(net, states, k, noisy);
                    }
                    for k in (1..=depth).filter(|k| k % 2 == parity) {
                        self.drive_layer(net, k);
                        max_delta = max_delta.max(self.move_layer(net, states, k, &mv)?);
                    }
                }
            }
        }
        Ok(max_delta)
    }

    /// One step on the sparse kernels (see [`Relaxer::fast_path`]): the states are their own
    /// rates, thin products skip zero rates, and the fused layer moves in one pass. The same
    /// sums as the reference step, in the same order, less the zero terms.
    fn step_fast(
        &mut self,
        net: &LayeredNet<A>,
        states: &mut States<A>,
        mv: &Move<'_, '_, A>,
    ) -> Result<f64, CoreError> {
        let depth = net.depth();
        let fused = self.fused_layer(net);
        let mut max_delta = 0.0f64;
        match mv.dynamics.schedule {
            Schedule::Synchronous => {
                // Every net input from the old states first; the fused layer's own drive is
                // formed while it moves, after the others' drives and before their moves.
                for k in (1..=depth).filter(|&k| Some(k) != fused) {
                    self.drive_fast(net, states, k);
                }
                if let Some(k) = fused {
                    max_delta = max_delta.max(self.fused_move(net, states, k, mv)?);
                }
                for k in (1..=depth).filter(|&k| Some(k) != fused) {
                    max_delta = max_delta.max(self.move_layer(net, states, k, mv)?);
                }
            }
            Schedule::Alternating => {
                for parity in [0, 1] {
                    for k in (1..=depth).filter(|k| k % 2 == parity) {
                        let delta = if Some(k) == fused {
                            self.fused_move(net, states, k, mv)?
                        } else {
                            self.drive_fast(net, states, k);
                            self.move_layer(net, states, k, mv)?
                        };
                        max_delta = max_delta.max(delta);
                    }
                }
            }
        }
        Ok(max_delta)
    }

    /// `drive[k]` from the states themselves (`rho(s) = s` on the fast path), skipping zero
    /// rates in products with a thin layer above.
    fn drive_fast(&mut self, net: &LayeredNet<A>, states: &States<A>, k: usize) {
        self.lower_drive(net, states, k);
        if k < net.depth() {
            let d = &mut self.drive[k];
            let upper = &states.layers[k + 1];
            match &self.thin_t[k] {
                Some(w_t) => kernels::acc_axpy_rows_skip_zeros(upper, w_t, d),
                None => kernels::par_gemm(A::one(), upper, &net.weights[k].t(), A::one(), d),
            }
        }
    }

    /// `drive[k]` = the net input of layer `k` from below (the cached input drive for layer 1,
    /// else `b_(k-1) + s_(k-1) W_(k-1)`), on the fast path.
    fn lower_drive(&mut self, net: &LayeredNet<A>, states: &States<A>, k: usize) {
        let d = &mut self.drive[k];
        if k == 1 {
            d.assign(&self.input_drive);
        } else {
            d.assign(&net.biases[k - 1]);
            let lower = &states.layers[k - 1];
            match &self.thin_t[k - 1] {
                Some(w_t) => kernels::acc_dot_rows(lower, w_t, d),
                None => kernels::par_gemm(A::one(), lower, &net.weights[k - 1], A::one(), d),
            }
        }
    }

    /// Drive and move the fused layer `k` (below the thin output) in one pass per row:
    /// `s <- clip((1 - eps) s + eps (lower + sum_j s_(k+1),j W_k^T[j]))`, skipping zero rates.
    fn fused_move(
        &mut self,
        net: &LayeredNet<A>,
        states: &mut States<A>,
        k: usize,
        mv: &Move<'_, '_, A>,
    ) -> Result<f64, CoreError> {
        if k > 1 {
            self.lower_drive(net, states, k);
        }
        let base = if k == 1 { &self.input_drive } else { &self.drive[k] };
        let (_, hi) = net.rho.bounds();
        let w_t = self.thin_t[k].as_ref().expect("fused layers have a thin layer above");
        let (below, above) = states.layers.split_at_mut(k + 1);
        let step = kernels::FusedStep { hi: A::of(hi), epsilon: A::of(mv.dynamics.epsilon) };
        let (delta, finite) = step.apply(&mut below[k], base, &above[0], w_t, mv.track_delta);
        if !finite {
            return Err(CoreError::NonFiniteState { layer: k, step: mv.step_index + 1 });
        }
        Ok(delta)
    }

    /// `rho[k] = rho(s_k [+ eta_k])`.
    fn rho_layer(&mut self, net: &LayeredNet<A>, states: &States<A>, k: usize, noisy: bool) {
        let noise = if noisy { Some(&self.noise[k]) } else { None };
        kernels::rho_into(net.rho, &states.layers[k], noise, &mut self.rho[k]);
    }

    /// `drive[k]` = the net input of layer `k` from `rho[k - 1]` (or the cached input drive)
    /// and `rho[k + 1]`.
    fn drive_layer(&mut self, net: &LayeredNet<A>, k: usize) {
        let depth = net.depth();
        let (lower, upper) = self.rho.split_at(k + 1);
        let d = &mut self.drive[k];
        if k == 1 {
            d.assign(&self.input_drive);
        } else {
            d.assign(&net.biases[k - 1]);
            match &self.thin_t[k - 1] {
                Some(w_t) => kernels::acc_dot_rows(&lower[k - 1], w_t, d),
                None => {
                    kernels::par_gemm(A::one(), &lower[k - 1], &net.weights[k - 1], A::one(), d)
                }
            }
        }
        if k < depth {
            match &self.thin_t[k] {
                Some(w_t) => kernels::acc_axpy_rows(&upper[0], w_t, d),
                None => kernels::par_gemm(A::one(), &upper[0], &net.weights[k].t(), A::one(), d),
            }
        }
    }

    /// Move layer `k` given `drive[k]`; returns its `max |delta s|` (0 when untracked).
    fn move_layer(
        &self,
        net: &LayeredNet<A>,
        states: &mut States<A>,
        k: usize,
        mv: &Move<'_, '_, A>,
    ) -> Result<f64, CoreError> {
        let s = &mut states.layers[k];
        let is_output = k == net.depth();
        let nudge = match mv.output {
            Output::Nudged { beta, target, cost } if is_output => {
                Some((*beta * cost_factor::<A>(*cost), *target))
            }
            Output::Custom { beta, .. } if is_output => Some((*beta, self.custom.view())),
            Output::Clamped { target } if is_output => {
                s.assign(target);
                return Ok(0.0);
            }
            _ => None,
        };
        let noise = if mv.noisy { Some(&self.noise[k]) } else { None };
        let update = kernels::Update {
            rho: net.rho,
            leaky: mv.dynamics.rule == UpdateRuleKind::LeakyIntegrator,
            epsilon: A::of(mv.dynamics.epsilon),
            track_delta: mv.track_delta,
        };
        let (delta, finite) = update.apply(s, &self.drive[k], noise, nudge);
        if !finite {
            return Err(CoreError::NonFiniteState { layer: k, step: mv.step_index + 1 });
        }
        Ok(delta)
    }

    /// The residual of [`Dynamics::residual`] (`max |clip(s - dF/ds) - s|` for the projected
    /// rule, `max |dF/ds|` for the leaky integrator; the clamped output does not count),
    /// computed in the relaxer's buffers without allocating. Requires [`Relaxer::set_input`].
    pub fn residual(
        &mut self,
        net: &LayeredNet<A>,
        states: &States<A>,
        output: &Output<'_, A>,
        dynamics: &Dynamics,
    ) -> Result<f64, CoreError> {
        self.check_states(net, states)?;
        let depth = net.depth();
        for k in 1..=depth {
            self.rho_layer(net, states, k, false);
        }
        let (lo, hi) = dynamics.bounds(net.rho);
        let rho = net.rho;
        let mut m = 0.0f64;
        self.prepare_custom(states, output);
        let custom = std::mem::take(&mut self.custom);
        for k in 1..=depth {
            let is_output = k == depth;
            let (force, target) = match output {
                Output::Clamped { .. } if is_output => continue,
                Output::Nudged { beta, target, cost } if is_output => {
                    (*beta * cost_factor::<A>(*cost), Some(target.view()))
                }
                Output::Custom { beta, .. } if is_output => (*beta, Some(custom.view())),
                _ => (A::zero(), None),
            };
            self.drive_layer(net, k);
            let s = &states.layers[k];
            let u = &self.drive[k];
            let mut one = |sv: A, uv: A, dv: A| {
                let g = sv - rho.prime(sv) * uv + force * (sv - dv);
                let sv = sv.f64();
                m = m.max(((sv - g.f64()).clamp(lo, hi) - sv).abs());
            };
            match target {
                Some(t) => Zip::from(s).and(u).and(&t).for_each(|&sv, &uv, &dv| one(sv, uv, dv)),
                None => Zip::from(s).and(u).for_each(|&sv, &uv| one(sv, uv, A::zero())),
            }
        }
        self.custom = custom;
        Ok(m)
    }

    /// For a custom cost ([`Output::Custom`]): `custom = y - dC/dy` at the current output, so
    /// that the kernels' nudging force `beta (y - custom)` is `beta dC/dy`.
    fn prepare_custom(&mut self, states: &States<A>, output: &Output<'_, A>) {
        let Output::Custom { target, cost, .. } = output else { return };
        let y = states.output();
        if self.custom.dim() != y.dim() {
            self.custom = Array2::zeros(y.dim());
        }
        cost.gradient_into(y.view(), *target, &mut self.custom);
        Zip::from(&mut self.custom).and(y).for_each(|c, &y| *c = y - *c);
    }

    fn draw_noise(&mut self, net: &LayeredNet<A>, std: f64) {
        if self.noise.is_empty() {
            self.noise = self.rho.iter().map(|r| Array2::zeros(r.dim())).collect();
        }
        let std = A::of(std);
        for k in 1..=net.depth() {
            for v in self.noise[k].iter_mut() {
                let z: f64 = StandardNormal.sample(&mut self.rng);
                *v = A::of(z) * std;
            }
        }
    }

    /// `E(s)` per example (Eq 2.7), computed from the cached input drive so the input product
    /// is not repeated: the `rho(x) W_0 rho(s_1)` and `b_0 . rho(s_1)` terms are
    /// `input_drive . rho(s_1)`. Uses the step buffers as scratch. Returns `(batch,)`.
    pub fn energy(&mut self, net: &LayeredNet<A>, states: &States<A>) -> ndarray::Array1<A> {
        let rho = net.rho;
        let half = A::of(0.5);
        let depth = net.depth();
        for k in 1..=depth {
            Zip::from(&mut self.rho[k]).and(&states.layers[k]).for_each(|r, &s| *r = rho.eval(s));
        }
        let mut e = ndarray::Array1::<A>::zeros(self.batch);
        for (b, e_b) in e.iter_mut().enumerate() {
            let mut acc = A::zero();
            for s in &states.layers {
                acc += s.row(b).iter().fold(A::zero(), |a, &v| a + v * v) * half;
            }
            *e_b = acc - self.input_drive.row(b).dot(&self.rho[1].row(b));
        }
        for k in 1..depth {
            let (lower, upper) = self.rho.split_at(k + 1);
            let d = &mut self.drive[k + 1];
            d.assign(&net.biases[k]);
            kernels::par_gemm(A::one(), &lower[k], &net.weights[k], A::one(), d);
            for (b, e_b) in e.iter_mut().enumerate() {
                *e_b -= d.row(b).dot(&upper[0].row(b));
            }
        }
        e
    }

    /// Relax until `max |delta s| < stop.tolerance` or `stop.max_steps` steps.
    /// Requires [`Relaxer::set_input`] for the states' input.
    pub fn relax(
        &mut self,
        net: &LayeredNet<A>,
        states: &mut States<A>,
        output: &Output<'_, A>,
        dynamics: &Dynamics,
        stop: &Stop,
    ) -> Result<Relaxation, CoreError> {
        self.check_states(net, states)?;
        let mut result = Relaxation {
            steps: 0,
            last_delta: f64::INFINITY,
            converged: false,
            energy_trace: Vec::new(),
        };
        let fast = self.fast_path(net, states, output, dynamics);
        for step in 0..stop.max_steps {
            let track = stop.tolerance > 0.0 || step + 1 == stop.max_steps;
            let delta = self.step_unchecked(net, states, output, dynamics, step, track, fast)?;
            result.steps = step + 1;
            result.last_delta = delta;
            if stop.trace_energy {
                let f = energy::total_energy(net, states, output);
                result.energy_trace.push(f.mean().map_or(0.0, Scalar::f64));
            }
            if stop.tolerance > 0.0 && delta < stop.tolerance {
                result.converged = true;
                break;
            }
        }
        Ok(result)
    }
}

impl<A: Scalar> Relaxer<A> {
    /// Relax until the residual [`Relaxer::residual`] is at most `tolerance`, checked before
    /// the first step and after every step, or `max_steps` steps. `steps` in the result is the
    /// number of steps after which the residual first reached the tolerance (0 if the start
    /// already did), `last_delta` that residual. Costs one extra set of products per step (the
    /// residual's net inputs); for measurements and reference fixed points, not training.
    pub fn relax_to_residual(
        &mut self,
        net: &LayeredNet<A>,
        states: &mut States<A>,
        output: &Output<'_, A>,
        dynamics: &Dynamics,
        tolerance: f64,
        max_steps: usize,
    ) -> Result<Relaxation, CoreError> {
        let mut result = Relaxation {
            steps: 0,
            last_delta: self.residual(net, states, output, dynamics)?,
            converged: false,
            energy_trace: Vec::new(),
        };
        let fast = self.fast_path(net, states, output, dynamics);
        while result.last_delta > tolerance && result.steps < max_steps {
            self.step_unchecked(net, states, output, dynamics, result.steps, false, fast)?;
            result.steps += 1;
            result.last_delta = self.residual(net, states, output, dynamics)?;
        }
        result.converged = result.last_delta <= tolerance;
        Ok(result)
    }
}

/// What a layer's move needs besides the layer index.
struct Move<'d, 'o, A> {
    dynamics: &'d Dynamics,
    output: &'d Output<'o, A>,
    noisy: bool,
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
