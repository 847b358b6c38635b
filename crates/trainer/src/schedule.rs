//! The learning-rate schedule: the rate of each weight layer in each epoch.

use ebm_config::{RateSchedule, TrainingConfig};

/// Learning rate of weight layer `k` in epoch `epoch` (0-based): `alphas[k] *
/// alpha_decay^epoch * f(epoch)`, with `f` the `training.schedule`: 1 (`constant`: exactly
/// `alphas[k]` with the default decay of 1), 1/10 over the last `anneal_epochs` epochs
/// (`step`), or `(1 + cos(pi epoch / epochs)) / 2` (`cosine`).
pub fn learning_rate(t: &TrainingConfig, k: usize, epoch: usize) -> f64 {
    let decayed = t.alphas[k] * t.alpha_decay.powi(i32::try_from(epoch).unwrap_or(i32::MAX));
    match t.schedule {
        RateSchedule::Constant => decayed,
        RateSchedule::Step if epoch + t.anneal_epochs >= t.epochs => decayed * 0.1,
        RateSchedule::Step => decayed,
        RateSchedule::Cosine => {
            let phase = std::f64::consts::PI * epoch as f64 / t.epochs as f64;
            decayed * 0.5 * (1.0 + phase.cos())
        }
    }
}
