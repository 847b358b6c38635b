//! A minibatch's rows split across threads. Given the weights, the relaxation of each example
//! is independent of the others (every product of the step is row by row), so each share of
//! the rows is relaxed by its own [`Relaxer`] on its own thread, through the free phase and
//! every nudged trajectory, and the fixed points are copied back into the minibatch's buffers
//! in row order. Every number is computed by the same operations as on one thread: the
//! results are bit-identical for any thread count (a test checks 1, 2 and 3 threads).
//!
//! Splitting applies when no step couples the rows of a minibatch: no Langevin noise and no
//! spiking messages (their draws come from one generator in row order), no tolerance (the stop is decided on the
//! whole minibatch's `max |delta s|`), and a rule that does not observe every step
//! ([`super::LearningRule::stepwise`]); and when it pays ([`parts`]: nets whose products
//! above the input are thin). Otherwise the minibatch runs on one relaxer, its large products
//! split by columns.

use std::ops::Range;

use ebm_config::ValidConfig;
use ebm_core::{CoreError, Dynamics, LayeredNet, Output, Relaxer, States, Stop};
use ndarray::{Array1, Array2, s};
use rayon::prelude::*;

use super::{Buffers, NudgingPlan};

/// One share of a minibatch's rows, with its own relaxer and states.
#[derive(Debug)]
pub(super) struct Part {
    rows: Range<usize>,
    relaxer: Relaxer<f32>,
    free: States<f32>,
    nudged: Vec<States<f32>>,
    target: Array2<f32>,
    /// `E` per row at the free fixed point.
    energy: Array1<f32>,
}

/// The parts of a minibatch of `batch` rows for `threads` threads: contiguous shares of
/// `batch / threads` rows (the first `batch mod threads` one more); none on one thread, for a
/// rule that observes every step, or where splitting does not pay.
///
/// Only nets whose weights above the input are all thin (e.g. 784-500-10) are split: there the
/// step's products are row by row with no packing. A net with a large hidden-to-hidden matrix
/// (784-500-500-10) spends its steps in GEMMs, which pack the weight matrix once per call
/// whatever the number of rows: splitting the rows doubles that packing, and the GEMMs' own
/// split by columns ([`ebm_core::kernels::par_gemm`]) uses the threads better (measured on the
/// `ep-3h-fast` setting, 2 threads: 9.2 s per 6,000 examples with the rows split, 6.2 s with
/// the columns split, 11.4 s on 1 thread).
pub(super) fn parts(
    net: &LayeredNet<f32>,
    batch: usize,
    threads: usize,
    stepwise: bool,
) -> Vec<Part> {
    let n = threads.min(batch);
    let thin = |w: &Array2<f32>| w.nrows().min(w.ncols()) <= ebm_core::kernels::THIN;
    if n < 2 || stepwise || !net.weights[1..].iter().all(thin) {
        return Vec::new();
    }
    let outputs = *net.sizes().last().expect("two layers");
    let mut start = 0;
    (0..n)
        .map(|p| {
            let len = batch / n + usize::from(p < batch % n);
            let zeros = || {
                States::with_input(net, Array2::<f32>::zeros((len, net.sizes()[0])).view())
                    .expect("input size from the net")
            };
            let part = Part {
                rows: start..start + len,
                relaxer: Relaxer::new(net, len, 0),
                free: zeros(),
                nudged: vec![zeros(), zeros()],
                target: Array2::zeros((len, outputs)),
                energy: Array1::zeros(len),
            };
            start += len;
            part
        })
        .collect()
}

/// Whether `config`'s dynamics leave a minibatch's rows independent (see the module's
/// documentation); [`parts`] decided the rest once.
pub(super) fn applies(config: &ValidConfig) -> bool {
    !Dynamics::of(&config.dynamics).stochastic() && config.dynamics.tolerance == 0.0
}

/// Relax the free phase and every trajectory of `plan` part by part in parallel, from and
/// back into the minibatch's buffers `whole`; returns the sum over the minibatch of `E` at the
/// free fixed points (in row order, as one relaxer sums it). The minibatch's own relaxer gets
/// only the input's rates (for the rule's `dW_0`), with the choice of the sparse or dense
/// input path made on the whole minibatch, as one relaxer would make it.
pub(super) fn relax(
    config: &ValidConfig,
    net: &LayeredNet<f32>,
    parts: &mut [Part],
    whole: &mut Buffers,
    plan: &NudgingPlan,
) -> Result<f64, CoreError> {
    let depth = net.depth();
    whole.relaxer.set_kernels(config.dynamics.kernels);
    whole.relaxer.set_input_rates(net, whole.free.layers[0].view())?;
    let threshold = if whole.relaxer.sparse_input().is_some() { f64::INFINITY } else { 0.0 };
    let (free, target) = (&whole.free, &whole.target);
    parts
        .par_iter_mut()
        .map(|part| part.relax(config, net, free, target, plan, threshold))
        .collect::<Result<Vec<()>, CoreError>>()?;
    for part in parts.iter() {
        let rows = part.rows.clone();
        for k in 1..=depth {
            whole.free.layers[k].slice_mut(s![rows.clone(), ..]).assign(&part.free.layers[k]);
            for (i, nudged) in whole.nudged.iter_mut().enumerate().take(plan.trajectories.len()) {
                nudged.layers[k].slice_mut(s![rows.clone(), ..]).assign(&part.nudged[i].layers[k]);
            }
        }
    }
    // One sum in row order, as over one relaxer's energies.
    let energies = parts.iter().flat_map(|p| p.energy.iter());
    Ok(energies.map(|&e| f64::from(e)).sum())
}

impl Part {
    /// This part's rows of the free phase (from `free`: input and starting states) and of
    /// every nudged trajectory.
    fn relax(
        &mut self,
        config: &ValidConfig,
        net: &LayeredNet<f32>,
        free: &States<f32>,
        target: &Array2<f32>,
        plan: &NudgingPlan,
        sparse_threshold: f64,
    ) -> Result<(), CoreError> {
        let rows = self.rows.clone();
        for (mine, whole) in self.free.layers.iter_mut().zip(&free.layers) {
            mine.assign(&whole.slice(s![rows.clone(), ..]));
        }
        self.target.assign(&target.slice(s![rows, ..]));
        let dyn_ = Dynamics::of(&config.dynamics);
        self.relaxer.set_kernels(config.dynamics.kernels);
        self.relaxer.set_sparse_threshold(sparse_threshold);
        self.relaxer.set_input(net, self.free.layers[0].view())?;
        let d = &config.dynamics;
        let free_stop = Stop { max_steps: d.free_steps, tolerance: 0.0, trace_energy: false };
        self.relaxer.relax(net, &mut self.free, &Output::Free, &dyn_, &free_stop)?;
        self.energy = self.relaxer.energy(net, &self.free);
        let stop = Stop::steps(d.nudged_steps);
        for (trajectory, states) in plan.trajectories.iter().zip(&mut self.nudged) {
            let cost = config.training.cost;
            let out = super::from_free(states, &self.free, &self.target, trajectory, cost);
            self.relaxer.relax(net, states, &out, &dyn_, &stop)?;
        }
        Ok(())
    }
}
