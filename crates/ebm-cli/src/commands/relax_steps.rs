//! `ebm relax-steps`: steps the free phase needs to reach a residual under synchronous and
//! alternating updates (`trainer::experiments::relax_steps`), on MNIST test inputs (the
//! embedded subset unless `--data`); see `docs/gradient.md`. This file loads the checkpoints
//! and writes the results.

use anyhow::Result;
use ebm_config::Section;
use serde::Serialize;
use trainer::experiments::relax_steps::RelaxStepsRow;

use crate::cli::{GlobalOpts, RelaxStepsArgs};
use crate::output::{OutDir, plain, results_dir};

#[derive(Serialize)]
struct Summary<'a> {
    command: &'static str,
    seed: u64,
    data: String,
    tolerance: f64,
    examples: usize,
    rows: &'a [RelaxStepsRow],
    config: &'a ebm_config::Config,
}

/// `ebm relax-steps`: writes `summary.json` and `metrics.csv`.
pub fn run(args: &RelaxStepsArgs, global: &GlobalOpts) -> Result<()> {
    let config = super::load(global, &[Section::RelaxSteps, Section::Model, Section::Data])?;
    let out = OutDir::fresh(&results_dir(global, &config, "relax-steps"), global.force)?;
    let data = super::train::load_data(args.data.as_deref(), &config)?;
    let mut given = Vec::new();
    for path in &args.checkpoints {
        let (_, net) = trainer::checkpoint::load_net(path)?;
        given.push((path.display().to_string(), net));
    }
    let (rows, n) = crate::logging::with_spinner(
        "relaxing to the residual under each schedule and step size",
        || trainer::experiments::relax_steps::run(&config, &data, &given),
    )?;
    for r in &rows {
        crate::say!(
            "{}: {} updates, eps {}: {} steps{} (residual {:.2e}), {} errors of {n}, argmax as the first choice on {:.0}%",
            r.net,
            plain(&r.schedule),
            r.epsilon,
            r.steps,
            if r.converged { "" } else { " (budget used up, not converged)" },
            r.residual,
            r.test_errors,
            100.0 * r.argmax_agreement
        )?;
    }
    for line in conclusions(&rows, config.relax_steps.tolerance) {
        crate::say!("{line}")?;
    }
    out.write_csv("metrics.csv", &rows)?;
    out.write_json(
        "summary.json",
        &Summary {
            command: "relax-steps",
            seed: config.seed,
            data: data.source.to_string(),
            tolerance: config.relax_steps.tolerance,
            examples: n,
            rows: &rows,
            config: &config,
        },
    )?;
    crate::say!("-> {}", out.path().display())?;
    Ok(())
}

/// One line per network: the fewest steps to the residual against the first choice's.
fn conclusions(rows: &[RelaxStepsRow], tolerance: f64) -> Vec<String> {
    let mut nets: Vec<&str> = rows.iter().map(|r| r.net.as_str()).collect();
    nets.dedup();
    nets.iter()
        .filter_map(|net| {
            let mine: Vec<&RelaxStepsRow> = rows.iter().filter(|r| r.net == *net).collect();
            let first = mine.first()?;
            let best = mine.iter().filter(|r| r.converged).min_by_key(|r| r.steps)?;
            Some(format!(
                "conclusion ({net}): to residual {tolerance:e}, {} updates at eps {} take {} steps against {} for {} updates at eps {} ({:.1}x fewer), with the same argmax on {:.0}% of the examples",
                plain(&best.schedule),
                best.epsilon,
                best.steps,
                first.steps,
                plain(&first.schedule),
                first.epsilon,
                first.steps as f64 / best.steps.max(1) as f64,
                100.0 * best.argmax_agreement
            ))
        })
        .collect()
}
