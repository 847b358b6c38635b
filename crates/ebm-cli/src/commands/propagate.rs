//! `ebm propagate`: the early-inference experiment (section 3 of Bengio et al. 2017,
//! `ebm_core::experiments::propagate`: four sweeps and their headline); this file writes the
//! results.

use anyhow::Result;
use ebm_config::UpdateRuleKind;
use ebm_core::experiments::propagate::{
    self, Headline, PropagateRow, Propagation, Quantity, Sweep,
};
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
    headline: &'a [Headline],
    rows: &'a [PropagateRow],
    config: &'a ebm_config::Config,
}

/// Run the experiment and write `summary.json`, `metrics.csv` and the plot.
pub fn run(global: &GlobalOpts) -> Result<()> {
    let config = super::load(global, &[Section::Propagate])?;
    let out = OutDir::fresh(&results_dir(global, &config, "propagate"), global.force)?;
    let Propagation { rows, headline } = propagate::run(&config.propagate, config.seed)?;
    let main = Sweep::main(&config.propagate);
    let is_main = |r: &PropagateRow| r.rule == main.rule && r.weight_scale == main.weight_scale;
    out.write_csv("metrics.csv", &rows)?;
    out.write_json(
        "summary.json",
        &Summary {
            command: "propagate",
            seed: config.seed,
            headline: &headline,
            rows: &rows,
            config: &config,
        },
    )?;
    if config.output.plots {
        let mut series = Vec::new();
        for &h in &main.config.hidden_layers {
            for layer in 1..=h {
                let points: Vec<(f64, f64)> = rows
                    .iter()
                    .filter(|r| {
                        is_main(r)
                            && r.hidden_layers == h
                            && r.layer == layer
                            && r.quantity == Quantity::State
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
            Quantity::State if r.layer == r.hidden_layers + 1 => "y".to_owned(),
            Quantity::State => format!("h{}", r.layer),
            Quantity::Weight => format!("W{}", r.layer),
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
