//! The learning-rate schedule: the rate of each weight layer in each epoch.

use ebm_config::TrainingConfig;

/// Learning rate of weight layer `k` in epoch `epoch` (0-based):
/// `alphas[k] * alpha_decay^epoch` (exactly `alphas[k]` with the default decay of 1).
pub fn learning_rate(t: &TrainingConfig, k: usize, epoch: usize) -> f64 {
    let epoch = i32::try_from(epoch).unwrap_or(i32::MAX);
    t.alphas[k] * t.alpha_decay.powi(epoch)
}
