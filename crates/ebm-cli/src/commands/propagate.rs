//! `ebm propagate`: the early-inference experiment (section 3 of Bengio et al. 2017).
//!
//! Four sweeps share the config's networks and seed: the paper's setting (leaky integrator,
//! small weights, beta1 < 0 < beta2), the projected-gradient rule on the same networks, and
//! Glorot-scale weights where units saturate, under both rules.

use anyhow::Result;
use ebm_config::UpdateRuleKind;
use ebm_core::analysis::{FixedPoint, PropagateRow, PropagateSettings, early_inference};
use serde::Serialize;

use ebm_config::Section;

use crate::cli::GlobalOpts;
use crate::output::{OutDir, results_dir};
use crate::plot::{self, Chart, Series};

#[derive(Serialize)]
struct Summary<'a> {
    command: &'static str,
    seed: u64,
    /// The headline: minimum cosine and worst norm ratio over the hidden layers of the main
    /// sweep, per epsilon.
    headline: Vec<Headline>,
    rows: &'a [PropagateRow],
    config: &'a ebm_config::Config,
}

#[derive(Serialize)]
struct Headline {
    epsilon: f64,
    min_state_cosine: f64,
    max_norm_ratio_error: f64,
    min_output_adjacent_weight_cosine: f64,
    all_interior: bool,
}

/// Run the experiment and write `summary.json`, `metrics.csv` and the plot.
pub fn run(global: &GlobalOpts) -> Result<()> {
    let config = super::load(global, &[Section::Propagate])?;
    let out = OutDir::fresh(&results_dir(global, &config, "propagate"), global.force)?;
    let main = PropagateSettings::from_config(&config.propagate);
    let projected = PropagateSettings { rule: UpdateRuleKind::ProjectedGradient, ..main.clone() };
    let glorot = PropagateSettings { weight_scale: 1.0, ..main.clone() };
    let glorot_projected = PropagateSettings { weight_scale: 1.0, ..projected.clone() };
    let mut rows = Vec::new();
    for settings in [&main, &projected, &glorot, &glorot_projected] {
        rows.extend(early_inference(settings, config.seed)?);
    }
    let is_main = |r: &PropagateRow| r.rule == main.rule && r.weight_scale == main.weight_scale;
    let headline: Vec<Headline> = main
        .epsilons
        .iter()
        .map(|&eps| {
            let sel = || rows.iter().filter(move |r| is_main(r) && r.epsilon == eps);
            let hidden_states =
                || sel().filter(|r| r.quantity == "state" && r.layer < r.hidden_layers + 1);
            Headline {
                epsilon: eps,
                min_state_cosine: hidden_states().map(|r| r.cosine).fold(f64::INFINITY, f64::min),
                max_norm_ratio_error: hidden_states()
                    .map(|r| (r.norm_ratio - 1.0).abs())
                    .fold(0.0, f64::max),
                min_output_adjacent_weight_cosine: sel()
                    .filter(|r| r.quantity == "weight" && r.layer == r.hidden_layers)
                    .map(|r| r.cosine)
                    .fold(f64::INFINITY, f64::min),
                all_interior: sel().all(|r| r.fixed_point == FixedPoint::Interior),
            }
        })
        .collect();

    out.write_csv("metrics.csv", &rows)?;
    out.write_json(
        "summary.json",
        &Summary {
            command: "propagate",
            seed: config.seed,
            headline,
            rows: &rows,
            config: &config,
        },
    )?;
    if config.output.plots {
        let mut series = Vec::new();
        for &h in &main.hidden_layers {
            for layer in 1..=h {
                let points: Vec<(f64, f64)> = rows
                    .iter()
                    .filter(|r| {
                        is_main(r)
                            && r.hidden_layers == h
                            && r.layer == layer
                            && r.quantity == "state"
                    })
                    .map(|r| (r.epsilon, (1.0 - r.cosine).max(1e-17)))
                    .collect();
                series.push(Series::line(format!("{h} hidden, layer {layer}"), points));
            }
        }
        let chart = Chart {
            title: "Early inference vs backprop: 1 - cosine per hidden layer",
            x_label: "epsilon",
            y_label: "1 - cosine(measured change, -eps^p dC/dh)",
            log_x: true,
            log_y: true,
        };
        plot::svg(&out, "cosine.svg", &chart, &series)?;
    }

    crate::say!(
        "early inference vs backprop (seed {}), {} rows -> {}",
        config.seed,
        rows.len(),
        out.path().display()
    )?;
    crate::say!(
        "{:<19} {:>6} {:>5} {:>7} {:>8} {:>13} {:>11} {:<11}",
        "rule",
        "scale",
        "depth",
        "layer",
        "eps",
        "cosine",
        "norm_ratio",
        "fixed point"
    )?;
    for r in &rows {
        let rule = match r.rule {
            UpdateRuleKind::LeakyIntegrator => "leaky-integrator",
            UpdateRuleKind::ProjectedGradient => "projected-gradient",
        };
        let layer = match r.quantity {
            "state" if r.layer == r.hidden_layers + 1 => "y".to_owned(),
            "state" => format!("h{}", r.layer),
            _ => format!("W{}", r.layer),
        };
        crate::say!(
            "{rule:<19} {:>6.2} {:>5} {:>7} {:>8} {:>13.9} {:>11.6} {:?}",
            r.weight_scale,
            r.hidden_layers,
            layer,
            r.epsilon,
            r.cosine,
            r.norm_ratio,
            r.fixed_point
        )?;
    }
    Ok(())
}
