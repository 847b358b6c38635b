//! The spiking rule (`training.rule = "spiking"`): the temporal rule with every presynaptic
//! rate `rho_j(t)` replaced by a Bernoulli spike `xi_j(t)` of that probability (Eq 4.1 of
//! Bengio et al. 2017). Each input spike adds `c delta rho_1(t)` to its row of `W_0` at the
//! step it fires. With rate messages `W_0` does not enter the phase's dynamics (the input
//! drive was computed once, before the free phase), so the terms go into `W_0` at once. With
//! spiking messages (`dynamics.messages = "spikes"`) every step's input drive is recomputed
//! from `W_0`, so the terms are held in a buffer and added at the end of the minibatch, as the
//! other layers' updates are: adding them at once fed each step's `delta rho_1` back into the
//! next step's drive (and the `-beta` trajectory of centred nudging ran on a `W_0` the `+beta`
//! one had changed), and the weights grew without bound (docs/claims.md). The spikes come from
//! the run's `Spikes` stream of the minibatch.

use ebm_core::kernels::SparseInput;
use ebm_core::{ChaCha8Rng, LayeredNet, Relaxer};
use ndarray::{Array2, Zip};
use rand::SeedableRng;

use super::local::{Local, Presynaptic};
use super::{BatchContext, layer_buffers};
use crate::rng::{Stream, stream_rng};

/// Bernoulli presynaptic spikes.
#[derive(Debug, Clone)]
pub struct Spikes {
    /// The spikes `xi_k(t)` of the current step, per layer (index 0 unused).
    spikes: Vec<Array2<f32>>,
    /// `rho(x)` in sparse form: one Bernoulli draw per non-zero input rate.
    input: SparseInput<f32>,
    rng: ChaCha8Rng,
    /// The generator at the minibatch's start (replayed per trajectory with shared noise).
    start: ChaCha8Rng,
    /// The minibatch's `W_0` update so far, when the dynamics reads `W_0` during the phase
    /// (spiking messages); `None` when the terms go into `W_0` at once.
    pending: Option<Array2<f32>>,
}

impl Spikes {
    /// Buffers for `net` and minibatches of `batch`; `deferred` when the dynamics reads `W_0`
    /// at every step (spiking messages), so that its update waits for the minibatch's end.
    pub fn new(net: &LayeredNet<f32>, batch: usize, deferred: bool) -> Self {
        Self {
            spikes: layer_buffers(net, batch),
            input: SparseInput::default(),
            rng: ChaCha8Rng::seed_from_u64(0),
            start: ChaCha8Rng::seed_from_u64(0),
            pending: deferred.then(|| Array2::zeros(net.weights[0].dim())),
        }
    }
}

/// The spiking rule.
pub type Spiking = Local<Spikes>;

impl Presynaptic for Spikes {
    fn begin(&mut self, ctx: &BatchContext<'_>, relaxer: &Relaxer<f32>) {
        self.rng = stream_rng(ctx.seed, Stream::Spikes, ctx.index);
        self.start = self.rng.clone();
        self.input.fill(&relaxer.rho_input().view());
        if let Some(pending) = &mut self.pending {
            pending.fill(0.0);
        }
    }

    fn begin_trajectory(&mut self, ctx: &BatchContext<'_>) {
        if ctx.shared_noise {
            self.rng = self.start.clone();
        }
    }

    fn step<'a>(
        &'a mut self,
        rates: &'a [Array2<f32>],
        delta1: &Array2<f32>,
        c: f32,
        w0: &mut Array2<f32>,
    ) -> &'a [Array2<f32>] {
        let rng = &mut self.rng;
        for (x, p) in self.spikes.iter_mut().zip(rates).skip(1) {
            Zip::from(x).and(p).for_each(|x, &p| {
                *x = if spikes::bernoulli(f64::from(p), rng) { 1.0 } else { 0.0 }
            });
        }
        // Each input spike adds c delta rho_1(b, :) to its row of W_0.
        let spike = |v: f32| if spikes::bernoulli(f64::from(v), rng) { 1.0 } else { 0.0 };
        self.input.acc_outer_with(c, delta1, self.pending.as_mut().unwrap_or(w0), spike);
        &self.spikes
    }

    fn finish_input(
        &self,
        _relaxer: &Relaxer<f32>,
        _c: f32,
        _sum_delta1: &Array2<f32>,
        w0: &mut Array2<f32>,
    ) {
        if let Some(pending) = &self.pending {
            *w0 += pending;
        }
    }
}
