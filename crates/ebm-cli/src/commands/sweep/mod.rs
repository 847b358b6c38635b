//! `ebm sweep plan | run | slurm | report`: many `ebm train` runs from a sweep file (a base
//! configuration, a grid of overrides, a list of seeds), run locally or as a Slurm job array,
//! and aggregated over seeds.
//!
//! A sweep directory holds `sweep.json` (the plan: every run's overrides, seed and results
//! directory), `sweep.toml` (the file as given), `runs/NN-SETTING/seed-S/` (one `ebm train`
//! results directory per run), `logs/` (each run's output) and, after `report`, `report/`.
//! Each run is an `ebm train` process: it locks its own results directory, so array tasks and
//! local jobs never share one, and an unfinished run is resumed from its checkpoint.

mod report;
mod run;

use std::path::{Path, PathBuf};

use anyhow::Result;
use ebm_config::sweep::SweepPlan;

use crate::cli::{GlobalOpts, SweepCommand};
use crate::output::{OutDir, UserError};

/// The plan inside a sweep directory.
const PLAN_FILE: &str = "sweep.json";
/// The sbatch script `ebm sweep slurm` writes.
const SBATCH_FILE: &str = "sweep.sbatch";

/// `ebm sweep ...`.
pub fn run(cmd: &SweepCommand, global: &GlobalOpts) -> Result<()> {
    match cmd {
        SweepCommand::Plan { file, data } => plan(file, data.as_deref(), global),
        SweepCommand::Run { dir, task, jobs } => {
            run::run(dir, *task, *jobs, global.threads.map(|n| n as usize))
        }
        SweepCommand::Slurm { dir, ebm } => slurm(dir, ebm.as_deref()),
        SweepCommand::Report { dir } => report::run(dir, global),
    }
}

/// `ebm sweep plan FILE --out DIR`.
fn plan(file: &Path, data: Option<&str>, global: &GlobalOpts) -> Result<()> {
    let plan = SweepPlan::from_file(file, data)?;
    let dir = global.out.clone().unwrap_or_else(|| Path::new("results/sweeps").join(&plan.name));
    let runs = dir.join("runs");
    if std::fs::read_dir(&runs).is_ok_and(|mut d| d.next().is_some()) {
        return Err(UserError(format!(
            "{} holds the runs of an earlier plan: plan into another directory (or remove it)",
            runs.display()
        ))
        .into());
    }
    let out = OutDir::fresh(&dir, global.force)?;
    out.write_json(PLAN_FILE, &plan)?;
    let text = std::fs::read(file)
        .map_err(|e| UserError(format!("cannot read {}: {e}", file.display())))?;
    out.write("sweep.toml", &text)?;
    for sub in ["runs", "logs"] {
        std::fs::create_dir_all(dir.join(sub))
            .map_err(|e| UserError(format!("cannot create {}: {e}", dir.join(sub).display())))?;
    }
    crate::say!(
        "planned {} runs ({} settings x {} seeds) -> {}\nrun them with `ebm sweep run {} --jobs N`, or on Slurm with `ebm sweep slurm {}`",
        plan.tasks.len(),
        plan.settings.len(),
        plan.spec.seeds.len(),
        dir.display(),
        dir.display(),
        dir.display()
    )
}

/// Read the plan of the sweep directory `dir`.
fn read_plan(dir: &Path) -> Result<SweepPlan> {
    let path = dir.join(PLAN_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        UserError(format!(
            "cannot read {}: {e} (is {} a directory made by `ebm sweep plan`?)",
            path.display(),
            dir.display()
        ))
    })?;
    let plan = serde_json::from_str(&text)
        .map_err(|e| UserError(format!("{}: not a sweep plan: {e}", path.display())))?;
    Ok(plan)
}

/// `ebm sweep slurm DIR`: the sbatch array script, one array task per run.
fn slurm(dir: &Path, ebm: Option<&Path>) -> Result<()> {
    let plan = read_plan(dir)?;
    let dir = std::path::absolute(dir)?;
    let ebm: PathBuf = match ebm {
        Some(p) => std::path::absolute(p)?,
        None => std::env::current_exe()?,
    };
    let s = &plan.spec.slurm;
    let cpus = s.cpus_per_task.unwrap_or(plan.spec.threads);
    let last = plan.tasks.len().saturating_sub(1);
    let parallel = s.parallel.map(|p| format!("%{p}")).unwrap_or_default();
    let quote = |p: &Path| shell_quote(&p.display().to_string());
    let mut text = format!(
        "#!/bin/bash\n\
         # {n} runs of the sweep `{name}` (planned from {file}), one array task each.\n\
         # Submit as is: sbatch {script}\n\
         # A task that is stopped (time limit, preemption) saves its run's state; submitting\n\
         # again resumes unfinished runs and skips finished ones.\n\
         #SBATCH --job-name={name}\n\
         #SBATCH --array=0-{last}{parallel}\n\
         #SBATCH --cpus-per-task={cpus}\n\
         #SBATCH --ntasks=1\n\
         #SBATCH --time={time}\n\
         #SBATCH --output={logs}/slurm-%A_%a.out\n",
        n = plan.tasks.len(),
        name = plan.name,
        file = plan.file.display(),
        script = dir.join(SBATCH_FILE).display(),
        time = s.time.as_deref().unwrap_or("24:00:00"),
        logs = dir.join("logs").display(),
    );
    for (key, value) in [("partition", &s.partition), ("account", &s.account), ("mem", &s.mem)] {
        if let Some(v) = value {
            text.push_str(&format!("#SBATCH --{key}={v}\n"));
        }
    }
    for option in &s.options {
        text.push_str(&format!("#SBATCH {option}\n"));
    }
    text.push_str("set -euo pipefail\n");
    for line in &s.setup {
        text.push_str(line);
        text.push('\n');
    }
    text.push_str(&format!(
        "exec {} sweep run {} --task \"$SLURM_ARRAY_TASK_ID\" --threads \"${{SLURM_CPUS_PER_TASK:-{cpus}}}\"\n",
        quote(&ebm),
        quote(&dir)
    ));
    let path = dir.join(SBATCH_FILE);
    trainer::io::write_atomic(&path, text.as_bytes())?;
    crate::say!(
        "wrote {} ({} array tasks, {} cpus each); submit it with `sbatch {}`",
        path.display(),
        plan.tasks.len(),
        cpus,
        path.display()
    )
}

/// `text` quoted for a POSIX shell.
fn shell_quote(text: &str) -> String {
    if text.chars().all(|c| c.is_ascii_alphanumeric() || "/._-=+:,".contains(c)) {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}
