//! Steps to a fixed point: the free phase from zero states, relaxed under several
//! (schedule, step size) choices until the projected residual `max |clip(s - dE/ds) - s|`
//! (Eq 2.9's fixed-point condition, projected) is at most a tolerance. The synchronous schedule
//! is the reference code's; the alternating one moves even layers, then odd layers.

use ebm_config::Schedule;
use ndarray::ArrayView2;
use serde::Serialize;

use crate::{CoreError, Dynamics, LayeredNet, Output, Relaxer, Scalar, States};

/// One relaxation's count.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepsRow {
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
}

/// Relax the free phase of `x` from zero states once per `(schedule, epsilon)` (projected rule)
/// until the residual over the whole batch is at most `tolerance` or `max_steps`; returns each
/// count with the final states.
pub fn steps_to_residual<A: Scalar>(
    net: &LayeredNet<A>,
    x: ArrayView2<'_, A>,
    choices: &[(Schedule, f64)],
    tolerance: f64,
    max_steps: usize,
) -> Result<Vec<(StepsRow, States<A>)>, CoreError> {
    let mut relaxer = Relaxer::new(net, x.nrows(), 0);
    relaxer.set_input(net, x)?;
    let mut out = Vec::with_capacity(choices.len());
    for &(schedule, epsilon) in choices {
        let dynamics = Dynamics::projected(epsilon).with_schedule(schedule);
        let mut states = States::with_input(net, x)?;
        let r = relaxer.relax_to_residual(
            net,
            &mut states,
            &Output::Free,
            &dynamics,
            tolerance,
            max_steps,
        )?;
        let row = StepsRow {
            schedule,
            epsilon,
            steps: r.steps,
            converged: r.converged,
            residual: r.last_delta,
        };
        out.push((row, states));
    }
    Ok(out)
}
