//! A new learning rule without editing the trainer: the contrastive update (Scellier & Bengio,
//! Eq 13) followed by L2 weight decay, `W_k <- (1 - alpha_k lambda) W_k` once per minibatch.
//! Trains `ep-1h` for one epoch on the embedded data and writes `OUT/summary.json`.
//!
//!     cargo run --release -p examples --example weight_decay_rule -- --out DIR [--decay L]

#![allow(clippy::print_stdout)] // an example reports on standard output

use anyhow::{Context, Result};
use ebm_config::{Config, Preset, Section};
use ebm_core::LayeredNet;
use trainer::DataSplits;
use trainer::ep::rules::{BatchContext, Contrastive, LearningRule, Phases};
use trainer::run::{Silent, TrainState, train_with};

/// The contrastive rule, then decay of every weight matrix by its own learning rate.
#[derive(Debug)]
struct WeightDecay {
    contrastive: Contrastive,
    /// lambda.
    decay: f32,
    /// alpha_k per weight layer (fixed rates).
    alphas: Vec<f32>,
}

impl LearningRule for WeightDecay {
    fn finish(&mut self, ctx: &BatchContext<'_>, net: &mut LayeredNet<f32>, phases: &Phases<'_>) {
        self.contrastive.finish(ctx, net, phases);
        for (w, alpha) in net.weights.iter_mut().zip(&self.alphas) {
            w.mapv_inplace(|v| v * (1.0 - alpha * self.decay));
        }
    }
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let value = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1));
    let out = std::path::PathBuf::from(value("--out").context("--out DIR is required")?);
    let decay: f32 = value("--decay").map_or(Ok(1e-4), |v| v.parse())?;

    let mut config = Preset::Ep1h.config();
    config.training.epochs = 1;
    let config = Config::validate_sections(config, &Section::TRAIN)?;
    let data = DataSplits::embedded()?;
    let mut state = TrainState::new(config.clone(), &data)?;
    let rule = WeightDecay {
        contrastive: Contrastive::new(&state.net, config.training.batch_size),
        decay,
        alphas: config.training.alphas.iter().map(|&a| a as f32).collect(),
    };
    train_with(&mut state, &data, &mut Silent, Box::new(rule))?;

    let m = state.history.last().context("one epoch")?;
    let norm: f32 = state.net.weights.iter().map(|w| w.iter().map(|v| v * v).sum::<f32>()).sum();
    println!(
        "weight decay {decay}: test error {:.2}% after 1 epoch, |W|^2 = {norm:.1}",
        100.0 * m.test_error
    );
    std::fs::create_dir_all(&out)?;
    let summary = serde_json::json!({
        "rule": "contrastive + L2 weight decay",
        "decay": decay,
        "final_test_error": m.test_error,
        "final_train_error_running": m.train_error_running,
        "weight_norm_squared": norm,
    });
    trainer::io::write_atomic(&out.join("summary.json"), summary.to_string().as_bytes())?;
    Ok(())
}
