//! Evaluation: the free phase on a whole dataset in large chunks (in parallel over chunks,
//! deterministic), from zero states or from persistent particles.

use ebm_config::{CostKind, ValidConfig};
use ebm_core::{Dynamics, LayeredNet, Output, Relaxer, States, Stop, argmax_rows};
use ndarray::{Array2, ArrayView2, s};
use rayon::prelude::*;

use crate::TrainError;
use crate::data::Dataset;
use crate::rng::{Stream, stream_rng};

/// Examples per evaluation chunk (one batched free phase each).
pub const EVAL_CHUNK: usize = 500;

/// Result of evaluating a dataset.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Evaluation {
    /// Misclassified examples.
    pub errors: usize,
    /// Examples.
    pub examples: usize,
    /// Mean `E` at the free fixed points.
    pub mean_energy: f64,
    /// Mean `C` at the free fixed points.
    pub mean_cost: f64,
    /// The predicted class (argmax of the output) of every example, in order.
    pub predictions: Vec<u32>,
}

impl Evaluation {
    /// Error rate in [0, 1] (NaN for no example: there is no rate to report).
    pub fn error_rate(&self) -> f64 {
        if self.examples == 0 { f64::NAN } else { self.errors as f64 / self.examples as f64 }
    }
}

/// Run the free phase (`steps` steps) on every example of `data` and count argmax errors.
/// With `particles` (`particles[k-1]`: `(n, n_k)`) the phase starts from them and writes the
/// fixed points back (the reference code's persistent test particles); without, it starts from
/// zero states (the network's own prediction, independent of history).
pub fn evaluate(
    config: &ValidConfig,
    net: &LayeredNet<f32>,
    data: &Dataset,
    steps: usize,
    cost: CostKind,
    particles: Option<&mut [Array2<f32>]>,
) -> Result<Evaluation, TrainError> {
    evaluate_examples(config, net, Examples::of(data), steps, cost, particles)
}

/// Examples to evaluate, borrowed (a [`Dataset`]'s, or arrays a front end holds, without a
/// copy): `images` `(n, pixels)`, `labels` `n` classes below `classes`.
#[derive(Debug, Clone, Copy)]
pub struct Examples<'a> {
    /// One row per example, pixels in [0, 1].
    pub images: ArrayView2<'a, f32>,
    /// The label of every row.
    pub labels: &'a [u8],
    /// Output units of the net (the one-hot targets' width).
    pub classes: usize,
}

impl<'a> Examples<'a> {
    /// Every example of `data`.
    pub fn of(data: &'a Dataset) -> Self {
        Self { images: data.images.view(), labels: &data.labels, classes: data.classes }
    }

    /// The one-hot targets of rows `start..start + n` (as `Dataset::one_hot`).
    fn one_hot(&self, start: usize, n: usize) -> Array2<f32> {
        let mut out = Array2::zeros((n, self.classes));
        for (b, &l) in self.labels[start..start + n].iter().enumerate() {
            if let Some(v) = out.get_mut((b, usize::from(l))) {
                *v = 1.0;
            }
        }
        out
    }
}

/// [`evaluate`] on borrowed examples.
pub fn evaluate_examples(
    config: &ValidConfig,
    net: &LayeredNet<f32>,
    data: Examples<'_>,
    steps: usize,
    cost: CostKind,
    particles: Option<&mut [Array2<f32>]>,
) -> Result<Evaluation, TrainError> {
    let n = data.labels.len();
    debug_assert_eq!(n, data.images.nrows());
    let depth = net.depth();
    let dyn_ = Dynamics::of(&config.dynamics);
    let stop = Stop { max_steps: steps, tolerance: config.dynamics.tolerance, trace_energy: false };
    let starts: Vec<usize> = (0..n).step_by(EVAL_CHUNK).collect();
    let particles_ref = particles.as_deref();
    let results: Vec<Result<(Evaluation, States<f32>), TrainError>> = starts
        .par_iter()
        .map(|&start| {
            let end = (start + EVAL_CHUNK).min(n);
            let x = data.images.slice(s![start..end, ..]);
            let mut states = States::with_input(net, x)?;
            if let Some(p) = particles_ref {
                for k in 1..=depth {
                    states.layers[k].assign(&p[k - 1].slice(s![start..end, ..]));
                }
            }
            let mut relaxer = Relaxer::new(net, end - start, 0);
            if dyn_.stochastic() {
                *relaxer.rng_mut() = stream_rng(config.seed, Stream::Evaluation, start as u64);
            }
            relaxer.set_kernels(config.dynamics.kernels);
            relaxer.set_input(net, x)?;
            relaxer.relax(net, &mut states, &Output::Free, &dyn_, &stop)?;
            let labels = &data.labels[start..end];
            let predictions: Vec<u32> =
                argmax_rows(states.output().view()).into_iter().map(|p| p as u32).collect();
            let errors =
                predictions.iter().zip(labels).filter(|(p, l)| **p != u32::from(**l)).count();
            let target = data.one_hot(start, end - start);
            let energy: f64 = relaxer.energy(net, &states).iter().map(|&e| f64::from(e)).sum();
            let c: f64 = ebm_core::energy::cost(states.output(), target.view(), cost)
                .iter()
                .map(|&c| f64::from(c))
                .sum();
            let eval = Evaluation {
                errors,
                examples: end - start,
                mean_energy: energy,
                mean_cost: c,
                predictions,
            };
            Ok((eval, states))
        })
        .collect();
    let mut total = Evaluation::default();
    let mut particles = particles;
    for (&start, result) in starts.iter().zip(results) {
        let (e, states) = result?;
        total.errors += e.errors;
        total.examples += e.examples;
        total.mean_energy += e.mean_energy;
        total.mean_cost += e.mean_cost;
        total.predictions.extend_from_slice(&e.predictions);
        if let Some(p) = particles.as_deref_mut() {
            let end = start + e.examples;
            for k in 1..=depth {
                p[k - 1].slice_mut(s![start..end, ..]).assign(&states.layers[k]);
            }
        }
    }
    if total.examples > 0 {
        total.mean_energy /= total.examples as f64;
        total.mean_cost /= total.examples as f64;
    }
    Ok(total)
}
