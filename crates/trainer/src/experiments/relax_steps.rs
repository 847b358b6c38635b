//! `ebm relax-steps` on a data set: the steps the free phase needs from zero states to reach a
//! residual ([`ebm_core::experiments::relax_steps`]) under each (schedule, step size), on the
//! first test examples, for a Glorot net of `relax_steps.layers` from the seed and given
//! (trained) nets; with the test errors of each choice and how far its fixed point is from the
//! first choice's (the energy is not convex: schedules may settle in different fixed points).

use ebm_config::{Schedule, ValidConfig};
use ebm_core::experiments::relax_steps::{StepsRow, steps_to_residual};
use ebm_core::{LayeredNet, Rho, argmax_rows};
use serde::Serialize;

use crate::TrainError;
use crate::data::DataSplits;
use crate::rng::{Stream, stream_rng};

/// One network's relaxation under one (schedule, step size).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RelaxStepsRow {
    /// `glorot` (from the seed) or the given network's label.
    pub net: String,
    /// Update order.
    pub schedule: Schedule,
    /// Step size.
    pub epsilon: f64,
    /// Steps until the residual was at most the tolerance (the budget if never).
    pub steps: usize,
    /// Whether the tolerance was reached.
    pub converged: bool,
    /// The residual at the end.
    pub residual: f64,
    /// Errors (argmax) of the relaxed outputs on the examples.
    pub test_errors: usize,
    /// Fraction of examples whose argmax agrees with the first choice's.
    pub argmax_agreement: f64,
    /// Mean over examples of `max_j |y_j - y_ref,j|` against the first choice's outputs.
    pub output_difference: f64,
}

/// Run the experiment of `config.relax_steps` on the first test examples of `data`, for the
/// Glorot net and each of `given` (label, network); returns the rows and the examples used.
pub fn run(
    config: &ValidConfig,
    data: &DataSplits,
    given: &[(String, LayeredNet<f32>)],
) -> Result<(Vec<RelaxStepsRow>, usize), TrainError> {
    let r = &config.relax_steps;
    let n = r.examples.min(data.test.len());
    let x = data.test.images.slice(ndarray::s![..n, ..]);
    let labels = &data.test.labels[..n];
    let mut rng = stream_rng(config.seed, Stream::Init, 0);
    let rho = Rho::from_config(&config.model.rho);
    let glorot = LayeredNet::glorot_uniform(&r.layers, rho, &mut rng)?;
    let mut nets: Vec<(&str, &LayeredNet<f32>)> = vec![("glorot", &glorot)];
    nets.extend(given.iter().map(|(name, net)| (name.as_str(), net)));
    let mut choices: Vec<(Schedule, f64)> =
        r.synchronous_epsilons.iter().map(|&e| (Schedule::Synchronous, e)).collect();
    choices.extend(r.alternating_epsilons.iter().map(|&e| (Schedule::Alternating, e)));
    let mut rows = Vec::new();
    for (name, net) in nets {
        let results = steps_to_residual(net, x, &choices, r.tolerance, r.max_steps)?;
        let reference = results[0].1.output().clone();
        let reference_argmax = argmax_rows(reference.view());
        for (steps, states) in results {
            let predicted = argmax_rows(states.output().view());
            let test_errors =
                predicted.iter().zip(labels).filter(|(p, l)| **p != usize::from(**l)).count();
            let agree = predicted.iter().zip(&reference_argmax).filter(|(a, b)| a == b).count();
            let diff = (states.output() - &reference).mapv(f32::abs);
            let output_difference = diff
                .rows()
                .into_iter()
                .map(|r| f64::from(r.fold(0.0f32, |m, &v| m.max(v))))
                .sum::<f64>()
                / n as f64;
            let StepsRow { schedule, epsilon, steps, converged, residual } = steps;
            rows.push(RelaxStepsRow {
                net: name.to_owned(),
                schedule,
                epsilon,
                steps,
                converged,
                residual,
                test_errors,
                argmax_agreement: agree as f64 / n as f64,
                output_difference,
            });
        }
    }
    Ok((rows, n))
}
