//! `ebm propagate`: the early-inference experiment (section 3 of Bengio et al. 2017,
//! `ebm_core::experiments::propagate`: four sweeps and their headline), and the saturated
//! units' measurement (`ebm_core::experiments::saturation`); this file writes the results.

use anyhow::Result;
use ebm_config::{Section, UpdateRuleKind};
use ebm_core::experiments::propagate::{
    self, Headline, PropagateRow, Propagation, Quantity, Sweep,
};
use ebm_core::experiments::saturation::{self, SaturationRow};
use serde::Serialize;

use crate::cli::GlobalOpts;
use crate::output::plain;
use crate::output::{OutDir, results_dir};
use crate::plot::{self, Chart, Series, Style};

#[derive(Serialize)]
struct Summary<'a> {
    command: &'static str,
    seed: u64,
    /// The headline: minimum cosine and worst norm ratio over the hidden layers of the main
    /// sweep, per epsilon.
    headline: &'a [Headline],
    rows: &'a [PropagateRow],
    /// Saturated units (section 2.3.1, Eq 3.17-3.18) on Glorot-scale nets: see
    /// `ebm_core::experiments::saturation`.
    saturation: &'a [SaturationRow],
    config: &'a ebm_config::Config,
}

/// Run the experiment and write `summary.json`, `metrics.csv` and the plot.
pub fn run(global: &GlobalOpts) -> Result<()> {
    let config = super::load(global, &[Section::Propagate])?;
    let out = OutDir::fresh(&results_dir(global, &config, "propagate"), global.force)?;
    let Propagation { rows, headline } = crate::logging::with_spinner(
        "relaxing, nudging and backpropagating (four sweeps)",
        || propagate::run(&config.propagate, config.seed),
    )?;
    let saturation =
        crate::logging::with_spinner("saturated units: perturbing and nudging", || {
            saturation::run(&config.propagate, config.seed)
        })?;
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
            saturation: &saturation.rows,
            config: &config,
        },
    )?;
    out.write_csv("saturation.csv", &saturation.rows)?;
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
        let title = format!(
            "Early inference vs backprop ({}, weight scale {}): 1 - cosine per hidden layer",
            plain(&main.rule),
            main.weight_scale
        );
        let chart = Chart {
            title: &title,
            x_label: "epsilon",
            y_label: "1 - cosine(measured change, -eps^p dC/dh)",
            log_x: true,
            log_y: true,
        };
        plot::svg(&out, "cosine.svg", &chart, &series)?;
        let series: Vec<Series> =
            [UpdateRuleKind::LeakyIntegrator, UpdateRuleKind::ProjectedGradient]
                .into_iter()
                .map(|rule| Series {
                    style: Style::Points,
                    ..Series::line(
                        plain(&rule),
                        saturation
                            .units
                            .iter()
                            .filter(|u| u.rule == rule)
                            .map(|u| (u.state, u.response))
                            .collect(),
                    )
                })
                .collect();
        let title = format!(
            "Saturated units ignore their inputs (Glorot nets, beta1 = {})",
            config.propagate.rho_beta1
        );
        let chart = Chart {
            title: &title,
            x_label: "state s_i at the relaxed point (rho'(s) = 0 outside [beta1, beta1 + 1])",
            y_label: "one step's response per hidden unit: |change| / |input perturbation|",
            log_x: false,
            log_y: false,
        };
        plot::svg(&out, "saturation.svg", &chart, &series)?;
    }

    // Every row is in metrics.csv; -v lists them here too.
    for r in &rows {
        let layer = match r.quantity {
            Quantity::State if r.layer == r.hidden_layers + 1 => "y".to_owned(),
            Quantity::State => format!("h{}", r.layer),
            Quantity::Weight => format!("W{}", r.layer),
        };
        tracing::debug!(
            "{} weight scale {:.2}, {} hidden, {layer}, eps {}: cosine {:.9}, norm ratio {:.6}, fixed point {}",
            plain(&r.rule),
            r.weight_scale,
            r.hidden_layers,
            r.epsilon,
            r.cosine,
            r.norm_ratio,
            plain(&r.fixed_point)
        );
    }
    crate::say!(
        "early inference vs backprop (seed {}; {}, weight scale {}): {} rows in {}/metrics.csv",
        config.seed,
        plain(&main.rule),
        main.weight_scale,
        rows.len(),
        out.path().display()
    )?;
    crate::say!(
        "{:>8} {:>16} {:>16} {:>22} {:>13}",
        "eps",
        "min cosine (h)",
        "max |ratio - 1|",
        "min cosine (W to y)",
        "fixed points"
    )?;
    for h in &headline {
        crate::say!(
            "{:>8} {:>16.10} {:>16.3e} {:>22.10} {:>13}",
            h.epsilon,
            h.min_state_cosine,
            h.max_norm_ratio_error,
            h.min_output_adjacent_weight_cosine,
            if h.all_interior { "interior" } else { "not all interior" }
        )?;
    }
    crate::say!("{}", conclusion(&headline))?;
    for r in &saturation.rows {
        tracing::debug!("saturation: {r:?}");
    }
    crate::say!("{}", saturation_conclusion(&saturation.rows))?;
    Ok(())
}

/// The experiment's finding in one line, in the paper's terms.
fn conclusion(headline: &[propagate::Headline]) -> String {
    let list = |hs: &[&propagate::Headline]| {
        hs.iter().map(|h| h.epsilon.to_string()).collect::<Vec<_>>().join(", ")
    };
    let interior: Vec<&propagate::Headline> = headline.iter().filter(|h| h.all_interior).collect();
    if interior.is_empty() {
        return "conclusion: no step size reached interior fixed points, where the identity (Eq 3.16) is exact: not tested".into();
    }
    let (close, weak): (Vec<&propagate::Headline>, Vec<&propagate::Headline>) =
        interior.iter().partition(|h| h.min_state_cosine >= 1.0 - 1e-6);
    let worst = |hs: &[&propagate::Headline]| {
        hs.iter().map(|h| h.min_state_cosine).fold(f64::INFINITY, f64::min)
    };
    let mut line = if close.is_empty() {
        "conclusion: early inference does not match backprop to 1e-6 at any step size".to_owned()
    } else {
        format!(
            "conclusion: early inference matches backprop (Eq 3.16) at interior fixed points: min cosine over the hidden layers 1 - {:.1e} at eps = {}",
            1.0 - worst(&close),
            list(&close)
        )
    };
    if !weak.is_empty() {
        line.push_str(&format!(
            "; {:.6} at eps = {}, where the change eps^(k+2) dC/dh (down to 1e-15) nears the f64 rounding of the states and the fixed point's residual",
            worst(&weak),
            list(&weak)
        ));
    }
    let others: Vec<&propagate::Headline> = headline.iter().filter(|h| !h.all_interior).collect();
    if !others.is_empty() {
        line.push_str(&format!("; eps = {}: not all fixed points interior", list(&others)));
    }
    line
}

/// The saturation measurement's finding in one line (see `ebm_core::experiments::saturation`).
fn saturation_conclusion(rows: &[SaturationRow]) -> String {
    let of = |rule| rows.iter().filter(move |r: &&SaturationRow| r.rule == rule);
    let max = |it: &mut dyn Iterator<Item = f64>| it.fold(0.0f64, f64::max);
    let min = |it: &mut dyn Iterator<Item = f64>| it.fold(f64::INFINITY, f64::min);
    let leaky = UpdateRuleKind::LeakyIntegrator;
    let projected = UpdateRuleKind::ProjectedGradient;
    format!(
        "saturated units (section 2.3.1): a unit with rho'(s) = 0 ignores its inputs (largest one-step response {:.1e}, interior units {:.3} or more, {:.0}-{:.0}% of hidden units saturated); Eq 3.18 taken literally does not vanish for saturated leaky units (their ds/dt = -eps s: RMS {:.3}), but the part the nudge brings through the inputs, with the rho' factor of Eq 3.17, is {:.1e} (projected rule: {:.1e}, units on a bound move when the nudge turns their drive inward)",
        max(&mut rows.iter().map(|r| r.max_response_saturated)),
        min(&mut rows.iter().map(|r| r.mean_response_interior)),
        100.0 * min(&mut rows.iter().map(|r| r.saturated_fraction)),
        100.0 * max(&mut rows.iter().map(|r| r.saturated_fraction)),
        max(&mut of(leaky).map(|r| r.rms_eq318_saturated)),
        max(&mut of(leaky).map(|r| r.rms_contrast_saturated)),
        max(&mut of(projected).map(|r| r.rms_contrast_saturated)),
    )
}
