//! `ebm relax-steps`: steps the free phase needs to reach a residual under synchronous and
//! alternating updates (`trainer::experiments::relax_steps`), on MNIST test inputs (the
//! embedded subset unless `--data`); see `docs/gradient.md`. This file loads the checkpoints
//! and writes the results.

use anyhow::Result;
use ebm_config::Section;
use serde::Serialize;
use trainer::experiments::relax_steps::RelaxStepsRow;

use crate::cli::{GlobalOpts, RelaxStepsArgs};
use crate::output::{OutDir, results_dir};

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
    let (rows, n) = trainer::experiments::relax_steps::run(&config, &data, &given)?;
    for r in &rows {
        crate::say!(
            "{}: {:?} eps {}: {} steps (residual {:.2e}, converged {}), {} errors / {n}",
            r.net,
            r.schedule,
            r.epsilon,
            r.steps,
            r.residual,
            r.converged,
            r.test_errors
        )?;
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
