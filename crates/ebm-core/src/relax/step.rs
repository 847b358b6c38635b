//! One relaxation step (Eq 2.1-2.2 and the projected rule): the reference path (every layer's
//! rate, net input and move in the chosen schedule), the sparse kernels' fast path (states as
//! their own rates, zero-skipping thin products, the fused layer below a thin output), and the
//! per-layer pieces both share.

use ebm_config::{Kernels, Messages, Schedule, UpdateRuleKind};
use ndarray::{Array2, Zip};
use rand_distr::{Distribution, StandardNormal};

use super::{Dynamics, Move, Relaxer};
use crate::energy::{Output, cost_factor};
use crate::kernels;
use crate::{CoreError, LayeredNet, Scalar, States};

impl<A: Scalar> Relaxer<A> {
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
    /// whose lower kink is 0, rates as messages, no noise, and every free state (and a clamped output) inside
    /// `[0, beta2]`, where `rho(s) = s` exactly so the states serve as their own rates. The
    /// projected rule keeps states there, so this holds for a whole relaxation once it holds at
    /// its start.
    pub(super) fn fast_path(
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
            && net.feedback.is_none()
            && dynamics.rule == UpdateRuleKind::ProjectedGradient
            && dynamics.messages == Messages::Rates
            && clamped_inside
            && states.layers[1..].iter().all(|l| l.as_slice().is_some_and(inside))
    }

    /// The hidden layer whose step is fused (drive, leak and clip in one pass): the layer
    /// below a thin output layer, whose drive from above is a short sum of rows of `W^T`.
    pub(super) fn fused_layer(&self, net: &LayeredNet<A>) -> Option<usize> {
        let k = net.depth().checked_sub(1).filter(|&k| k >= 1)?;
        (self.thin_t[k].is_some() && net.weights[k].ncols() <= kernels::THIN).then_some(k)
    }

    pub(super) fn check_states(
        &self,
        net: &LayeredNet<A>,
        states: &States<A>,
    ) -> Result<(), CoreError> {
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
    pub(super) fn step_unchecked(
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
        let noisy = dynamics.noisy();
        if noisy {
            self.draw_noise(net, dynamics.noise_std);
        }
        let spiking = dynamics.messages == Messages::Spikes;
        if spiking && !self.sparse_filled {
            self.sparse.fill(&self.rho[0].view());
            self.sparse_filled = true;
        }
        self.prepare_custom(states, output);
        let mv = Move { dynamics, output, noisy, spiking, step_index, track_delta };
        if fast {
            return self.step_fast(net, states, &mv);
        }
        let mut max_delta = 0.0f64;
        match dynamics.schedule {
            Schedule::Synchronous => {
                // rho of every free layer (at s + eta for the noisy leaky integrator; its spikes
                // for spiking messages), every net input from the old states (one GEMM per
                // product), then every move.
                for k in 1..=depth {
                    self.message_layer(net, states, k, &mv);
                }
                for k in 1..=depth {
                    self.drive_layer(net, k, spiking);
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
                        self.message_layer(net, states, k, &mv);
                    }
                    for k in (1..=depth).filter(|k| k % 2 == parity) {
                        self.drive_layer(net, k, spiking);
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
    pub(super) fn step_fast(
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
    pub(super) fn drive_fast(&mut self, net: &LayeredNet<A>, states: &States<A>, k: usize) {
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
    pub(super) fn lower_drive(&mut self, net: &LayeredNet<A>, states: &States<A>, k: usize) {
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
    pub(super) fn fused_move(
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
    pub(super) fn rho_layer(
        &mut self,
        net: &LayeredNet<A>,
        states: &States<A>,
        k: usize,
        noisy: bool,
    ) {
        let noise = if noisy { Some(&self.noise[k]) } else { None };
        kernels::rho_into(net.rho, &states.layers[k], noise, &mut self.rho[k]);
    }

    /// What layer `k` sends at this step into `rho[k]`: its rates `rho(s_k [+ eta_k])`, or
    /// with spiking messages their spikes, 1 with probability `rho(s_k [+ eta_k])` and else 0
    /// (one draw per unit, row by row).
    fn message_layer(
        &mut self,
        net: &LayeredNet<A>,
        states: &States<A>,
        k: usize,
        mv: &Move<'_, '_, A>,
    ) {
        self.rho_layer(net, states, k, mv.noisy);
        if mv.spiking {
            let m = self.rho[k].as_slice_mut().expect("standard layout");
            crate::spike::uniform_draws(m.len(), &mut self.draws, &mut self.rng);
            for (v, &u) in m.iter_mut().zip(&self.draws) {
                *v = if crate::spike::fires(v.f64(), u) { A::one() } else { A::zero() };
            }
        }
    }

    /// `drive[k]` = the net input of layer `k` from `rho[k - 1]` (or the cached input drive;
    /// with spiking messages the drive of this step's input spikes) and `rho[k + 1]` (through
    /// `W_k^T`, or through the feedback matrix `V_k` when the net has them:
    /// [`LayeredNet::feedback`]).
    pub(super) fn drive_layer(&mut self, net: &LayeredNet<A>, k: usize, spiking: bool) {
        let depth = net.depth();
        let (lower, upper) = self.rho.split_at(k + 1);
        let d = &mut self.drive[k];
        if k == 1 && spiking {
            self.input_spikes.fill_spikes(&self.sparse, &mut self.draws, &mut self.rng);
            d.assign(&net.biases[0]);
            self.input_spikes.acc_product(&net.weights[0], d);
        } else if k == 1 {
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
            match (&net.feedback, &self.thin_t[k]) {
                // Each matrix in its own direction: the drive from above through V_k.
                (Some(v), _) => kernels::par_gemm(A::one(), &upper[0], &v[k], A::one(), d),
                (None, Some(w_t)) => kernels::acc_axpy_rows(&upper[0], w_t, d),
                (None, None) => {
                    kernels::par_gemm(A::one(), &upper[0], &net.weights[k].t(), A::one(), d)
                }
            }
        }
    }

    /// Move layer `k` given `drive[k]`; returns its `max |delta s|` (0 when untracked).
    pub(super) fn move_layer(
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

    /// For a custom cost ([`Output::Custom`]): `custom = y - dC/dy` at the current output, so
    /// that the kernels' nudging force `beta (y - custom)` is `beta dC/dy`.
    pub(super) fn prepare_custom(&mut self, states: &States<A>, output: &Output<'_, A>) {
        let Output::Custom { target, cost, .. } = output else { return };
        let y = states.output();
        if self.custom.dim() != y.dim() {
            self.custom = Array2::zeros(y.dim());
        }
        cost.gradient_into(y.view(), *target, &mut self.custom);
        Zip::from(&mut self.custom).and(y).for_each(|c, &y| *c = y - *c);
    }

    pub(super) fn draw_noise(&mut self, net: &LayeredNet<A>, std: f64) {
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
}
