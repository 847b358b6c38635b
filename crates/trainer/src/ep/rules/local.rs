//! The local-in-time rules: the nudged phase is observed step by step from the free fixed
//! point, and at every step `t`
//!
//! `dW_ij += c (delta rho_i(t) pre_j(t) + pre_i(t) delta rho_j(t))`, `delta rho(t) = rho(s(t+1)) - rho(s(t))`,
//!
//! with a presynaptic factor `pre` that the [`Presynaptic`] part chooses (the rate `rho(s(t))`
//! for [`super::Temporal`], a Bernoulli spike of that probability for [`super::Spiking`]), and
//! `c = alpha_k / (beta batch)`: the postsynaptic rate of change times the presynaptic factor
//! (Eq 3.18 of Bengio et al. 2017), in both directions of the symmetric connection. Under the
//! projected rule with the hard sigmoid the states stay in `[beta1, beta2]`, where
//! `delta rho_i = delta s_i`.
//!
//! Summed over the trajectory, the temporal rule is the contrastive update less the
//! second-order terms: `sum_t (delta rho_i rho_j + rho_i delta rho_j) = rho_i rho_j |_0^K -
//! sum_t delta rho_i delta rho_j`. Biases see a constant presynaptic rate of 1. The input is
//! clamped (`delta x = 0`), so `W_0` gets only `pre(x)^T delta rho_1`, which the
//! [`Presynaptic`] part applies. With `training.presynaptic_time = "midpoint"` the factor is
//! taken at the step's midpoint, `(rho(t) + rho(t+1)) / 2` (or a spike of that probability),
//! and the sum telescopes to the contrastive difference exactly: `m_i delta rho_j + delta rho_i
//! m_j = delta (rho_i rho_j)`. Centred nudging runs a `+beta` and a `-beta` trajectory, with
//! signs `+1` and `-1`, and divides by `2 beta`.

use ebm_config::PresynapticTime;
use ebm_core::{LayeredNet, Relaxer, States};
use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, Zip};

use super::{BatchContext, LearningRule, Phases, add_bias_update, layer_buffers, rates_into};

/// The presynaptic factor of a local rule, and how the input's weights `W_0` learn with it.
pub trait Presynaptic: std::fmt::Debug + Send {
    /// A minibatch begins (`relaxer` holds its input `rho(x)`).
    fn begin(&mut self, ctx: &BatchContext<'_>, relaxer: &Relaxer<f32>);

    /// A nudged trajectory begins (a factor with its own draws restarts them when
    /// `ctx.shared_noise`).
    fn begin_trajectory(&mut self, _ctx: &BatchContext<'_>) {}

    /// The presynaptic factor of every layer (index 0 unused) at a step whose rates before the
    /// step are `rates` and whose first hidden layer moved by `delta1`; the factor may update
    /// `W_0` itself (with `c` the layer's coefficient times the trajectory's sign).
    fn step<'a>(
        &'a mut self,
        rates: &'a [Array2<f32>],
        delta1: &Array2<f32>,
        c: f32,
        w0: &mut Array2<f32>,
    ) -> &'a [Array2<f32>];

    /// At the end of the minibatch, the `W_0` update from `sum_t sign delta rho_1(t)` (for a
    /// factor that did not update `W_0` step by step).
    fn finish_input(
        &self,
        relaxer: &Relaxer<f32>,
        c: f32,
        sum_delta1: &Array2<f32>,
        w0: &mut Array2<f32>,
    );
}

/// A local-in-time rule with presynaptic factor `P`.
#[derive(Debug, Clone)]
pub struct Local<P> {
    /// `rho(s_k(t))` before the current step.
    prev: Vec<Array2<f32>>,
    /// `rho(s_k(t+1)) - rho(s_k(t))`.
    delta: Vec<Array2<f32>>,
    /// `sum_t sign * delta_k(t)` over the nudged trajectories of the minibatch.
    sum_delta: Vec<Array2<f32>>,
    /// `sum_t sign * (pre_k^T delta_(k+1) + delta_k^T pre_(k+1))` for the weights `W_k`,
    /// `k >= 1` (index 0 empty: `W_0` learns through the presynaptic part).
    dw: Vec<Array2<f32>>,
    /// The presynaptic factor.
    pre: P,
    /// `(rho(t) + rho(t+1)) / 2` per layer when the factor is taken at the step's midpoint
    /// (empty otherwise).
    mid: Vec<Array2<f32>>,
}

impl<P: Presynaptic> Local<P> {
    /// Buffers for `net` and minibatches of `batch`, with presynaptic factor `pre`.
    pub fn new(net: &LayeredNet<f32>, batch: usize, pre: P) -> Self {
        let mut dw = vec![Array2::zeros((0, 0))];
        dw.extend(net.weights[1..].iter().map(|w| Array2::zeros(w.dim())));
        Self {
            prev: layer_buffers(net, batch),
            delta: layer_buffers(net, batch),
            sum_delta: layer_buffers(net, batch),
            dw,
            pre,
            mid: Vec::new(),
        }
    }

    /// Take the presynaptic factor at the midpoint of each step (`training.presynaptic_time`).
    pub fn with_time(mut self, net: &LayeredNet<f32>, time: PresynapticTime, batch: usize) -> Self {
        self.mid = match time {
            PresynapticTime::Start => Vec::new(),
            PresynapticTime::Midpoint => layer_buffers(net, batch),
        };
        self
    }
}

impl<P: Presynaptic> LearningRule for Local<P> {
    fn stepwise(&self) -> bool {
        true
    }

    fn begin(&mut self, ctx: &BatchContext<'_>, relaxer: &Relaxer<f32>) {
        for d in &mut self.sum_delta[1..] {
            d.fill(0.0);
        }
        for dw in &mut self.dw[1..] {
            dw.fill(0.0);
        }
        self.pre.begin(ctx, relaxer);
    }

    fn begin_trajectory(
        &mut self,
        ctx: &BatchContext<'_>,
        _trajectory: usize,
        net: &LayeredNet<f32>,
        states: &States<f32>,
    ) {
        self.pre.begin_trajectory(ctx);
        rates_into(net, states, &mut self.prev);
    }

    fn on_step(
        &mut self,
        ctx: &BatchContext<'_>,
        trajectory: usize,
        net: &mut LayeredNet<f32>,
        states: &States<f32>,
    ) {
        let depth = net.depth();
        let rho = net.rho;
        let sign = ctx.plan.trajectories[trajectory].sign;
        for k in 1..=depth {
            Zip::from(&mut self.delta[k])
                .and(&states.layers[k])
                .and(&self.prev[k])
                .for_each(|d, &v, &p| *d = rho.eval(v) - p);
            self.sum_delta[k].scaled_add(sign, &self.delta[k]);
        }
        let c0 = sign * ctx.coefficients[0];
        let rates = if self.mid.is_empty() {
            &self.prev
        } else {
            for k in 1..=depth {
                Zip::from(&mut self.mid[k])
                    .and(&self.prev[k])
                    .and(&self.delta[k])
                    .for_each(|m, &p, &d| *m = p + 0.5 * d);
            }
            &self.mid
        };
        let pre = self.pre.step(rates, &self.delta[1], c0, &mut net.weights[0]);
        for k in 1..depth {
            let dw = &mut self.dw[k];
            general_mat_mul(sign, &pre[k].t(), &self.delta[k + 1], 1.0, dw);
            general_mat_mul(sign, &self.delta[k].t(), &pre[k + 1], 1.0, dw);
        }
        for k in 1..=depth {
            self.prev[k] += &self.delta[k];
        }
    }

    fn finish(&mut self, ctx: &BatchContext<'_>, net: &mut LayeredNet<f32>, phases: &Phases<'_>) {
        let depth = net.depth();
        let coef = ctx.coefficients;
        for k in 1..depth {
            net.weights[k].scaled_add(coef[k], &self.dw[k]);
        }
        for k in 0..depth {
            add_bias_update(&mut net.biases[k], coef[k], &self.sum_delta[k + 1]);
        }
        self.pre.finish_input(phases.relaxer, coef[0], &self.sum_delta[1], &mut net.weights[0]);
    }
}
