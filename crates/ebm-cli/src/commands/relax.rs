//! `ebm relax`: a saved model's relaxation, step by step, on the first test examples of its
//! run's data (`trainer::experiments::relax_trace`): the free phase from zero states, then the
//! nudged phase toward the targets, drawn as `relaxation.svg` and the hidden states at the
//! free fixed point as `hidden_states.svg`, with every step's figures in `relax.json` and a
//! `report.html`.

use anyhow::Result;
use ebm_core::experiments::trace::RelaxTrace;
use serde::Serialize;
use trainer::checkpoint;

use super::train::data_of_saved;
use crate::cli::{GlobalOpts, RelaxArgs};
use crate::output::{OutDir, UserError};
use crate::pictures;
use crate::report::{self, Picture, Report};

#[derive(Serialize)]
struct Summary<'a> {
    command: &'static str,
    /// The file relaxed.
    file: String,
    data: String,
    free_steps: usize,
    nudged_steps: usize,
    labels: &'a [u8],
    trace: &'a RelaxTrace,
    config: &'a ebm_config::Config,
}

/// `ebm relax`.
pub fn run(args: &RelaxArgs, global: &GlobalOpts) -> Result<()> {
    if global.config.is_some() || global.preset.is_some() {
        return Err(UserError(
            "ebm relax uses the checkpoint's config: change it with --set PATH=VALUE, not --config or --preset".into(),
        )
        .into());
    }
    if args.examples == 0 {
        return Err(UserError("--examples 0: relax at least one example".into()).into());
    }
    let file = checkpoint::resolve(&args.checkpoint);
    let (saved, net) = checkpoint::load_net_with(&file, &super::overrides(global))?;
    let config = &saved.config;
    let data = data_of_saved(args.data.as_deref(), &saved, &file)?;
    trainer::run::check_data(config, &data)?;
    let dir = global.out.clone().unwrap_or_else(|| "results/relax".into());
    let out = OutDir::fresh(&dir, global.force)?;
    let (trace, labels) = crate::logging::with_spinner("relaxing step by step", || {
        trainer::experiments::relax_trace::run(config, &net, &data.test, args.examples)
    })?;
    let pictures = vec![
        Picture::svg(
            "relaxation.svg",
            format!(
                "The free phase ({} steps from zero states) and the nudged phase ({} steps, beta = {}) of the first {} test examples of {}.",
                config.eval_steps(),
                config.dynamics.nudged_steps,
                trace.beta,
                labels.len(),
                data.source
            ),
            pictures::relaxation_svg(&trace, &labels)?,
        ),
        Picture::svg(
            "hidden_states.svg",
            "The hidden states at the free fixed point; saturated units (rho'(s) = 0) ignore their inputs (section 2.3.1).",
            pictures::hidden_states_svg(&trace)?,
        ),
    ];
    for p in &pictures {
        out.write(&p.file, &p.bytes)?;
    }
    out.write_json(
        "relax.json",
        &Summary {
            command: "relax",
            file: file.display().to_string(),
            data: data.source.to_string(),
            free_steps: config.eval_steps(),
            nudged_steps: config.dynamics.nudged_steps,
            labels: &labels,
            trace: &trace,
            config: config.config(),
        },
    )?;
    let conclusion = conclusion(&trace, &labels);
    let report = Report {
        title: format!("ebm relax: {}", file.display()),
        status: format!("Written {}.", report::now()),
        summary: vec![
            ("layers".into(), format!("{:?}", config.model.layers)),
            ("data".into(), data.source.to_string()),
            ("conclusion".into(), conclusion.clone()),
        ],
        pictures,
        ..Report::default()
    };
    out.write("report.html", report.html().as_bytes())?;
    crate::say!("{conclusion} -> {}", out.path().display())?;
    Ok(())
}

/// One line in the paper's terms: what the free phase and the nudge did.
fn conclusion(t: &RelaxTrace, labels: &[u8]) -> String {
    let first_last =
        |v: &[f64]| (v.first().copied().unwrap_or(f64::NAN), v.last().copied().unwrap_or(f64::NAN));
    let (e0, e1) = first_last(&t.free.energy);
    let (c0, c1) = first_last(&t.nudged.cost);
    let right = t.predictions.iter().zip(labels).filter(|(p, l)| **p == usize::from(**l)).count();
    let saturated = t
        .saturated
        .iter()
        .enumerate()
        .map(|(k, s)| format!("{:.0}% of hidden layer {}", 100.0 * s, k + 1))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "free phase: mean energy {e0:.3} -> {e1:.3} in {} steps, {right} of {} examples classified right; nudged phase (beta = {}): mean cost {c0:.3e} -> {c1:.3e}; saturated at the free fixed point: {}",
        t.free.energy.len().saturating_sub(1),
        labels.len(),
        t.beta,
        if saturated.is_empty() { "no hidden layer".into() } else { saturated }
    )
}
