//! `ebm sweep run DIR --task I | --jobs N`: each run is an `ebm train` process (a new run, or
//! `--resume` of an unfinished one); finished runs are skipped.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use ebm_config::sweep::{SweepPlan, Task};

use crate::output::{Interrupted, UserError};

/// Where a run stands, read from its results directory.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Status {
    /// `summary.json` reports every configured epoch.
    Finished(serde_json::Value),
    /// A checkpoint to resume from.
    Partial,
    /// Nothing to resume.
    New,
}

/// The status of the run in `run_dir`.
pub(super) fn status(run_dir: &Path) -> Status {
    let summary = std::fs::read_to_string(run_dir.join("summary.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok());
    if let Some(s) = summary {
        let done = s["epochs"].as_u64();
        let wanted = s["config"]["training"]["epochs"].as_u64();
        if done.is_some() && done >= wanted {
            return Status::Finished(s);
        }
    }
    if run_dir.join(trainer::checkpoint::FILE_NAME).exists() {
        Status::Partial
    } else {
        Status::New
    }
}

/// The `ebm train` command of `task` (None when the run has finished).
fn train_command(
    exe: &Path,
    dir: &Path,
    plan: &SweepPlan,
    task: &Task,
    threads: usize,
) -> Option<Command> {
    let run_dir = dir.join(&task.dir);
    let mut cmd = Command::new(exe);
    cmd.arg("train");
    match status(&run_dir) {
        Status::Finished(_) => return None,
        Status::Partial => {
            cmd.arg("--resume").arg(&run_dir);
        }
        Status::New => {
            if let Some(p) = &plan.spec.preset {
                cmd.args(["--preset", p]);
            }
            if let Some(c) = &plan.spec.config {
                cmd.arg("--config").arg(c);
            }
            for s in &task.set {
                cmd.args(["--set", s]);
            }
            if let Some(d) = &plan.spec.data {
                cmd.args(["--data", d]);
            }
            cmd.args(["--seed", &task.seed.to_string(), "--force", "--out"]).arg(&run_dir);
        }
    }
    cmd.args(["--threads", &threads.to_string()]);
    Some(cmd)
}

/// A one-line account of a finished run, from its summary.
fn outcome(summary: &serde_json::Value) -> String {
    let pct =
        |v: &serde_json::Value| v.as_f64().map_or("-".into(), |e| format!("{:.2}%", 100.0 * e));
    let sel = &summary["selected"];
    format!(
        "test {} (selected epoch {}, {}), last epoch {}; {:.0} s",
        pct(&sel["test_error"]),
        sel["epoch"].as_u64().map_or("-".into(), |e| e.to_string()),
        sel["rule"].as_str().unwrap_or("-"),
        pct(&summary["final_test_error"]),
        summary["run_seconds"].as_f64().unwrap_or(f64::NAN)
    )
}

/// `ebm sweep run`.
pub(super) fn run(
    dir: &Path,
    task: Option<usize>,
    jobs: Option<usize>,
    threads: Option<usize>,
) -> Result<()> {
    let plan = super::read_plan(dir)?;
    let exe = std::env::current_exe().context("cannot find the ebm executable")?;
    let threads = threads.unwrap_or(plan.spec.threads).max(1);
    let n = plan.tasks.len();
    if let Some(i) = task {
        let t = plan.tasks.get(i).ok_or_else(|| {
            UserError(format!("--task {i}: the sweep has {n} tasks (0 to {})", n.max(1) - 1))
        })?;
        let Some(mut cmd) = train_command(&exe, dir, &plan, t, threads) else {
            tracing::info!("task {i} ({}, seed {}) has finished: skipped", t.label, t.seed);
            return Ok(());
        };
        tracing::info!("task {i} of {n}: {}, seed {} -> {}", t.label, t.seed, t.dir);
        // The task becomes the `ebm train` process: a signal (Ctrl-C, Slurm's time limit)
        // reaches the run itself, which saves its state.
        let err = std::os::unix::process::CommandExt::exec(&mut cmd);
        return Err(anyhow::Error::new(err).context("cannot start ebm train"));
    }
    let jobs = jobs.unwrap_or(1).max(1);
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        // The runs get the signal too (same process group) and save their state; this
        // process starts no new run and waits for them.
        ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst))
            .context("cannot install the SIGINT handler")?;
    }
    let mut pending: std::collections::VecDeque<&Task> = plan.tasks.iter().collect();
    let mut running: Vec<(&Task, Child, PathBuf, Instant)> = Vec::new();
    let (mut done, mut skipped, mut failed) = (0usize, 0usize, Vec::new());
    let mut forwarded = false;
    while !pending.is_empty() || !running.is_empty() {
        while running.len() < jobs && !stop.load(Ordering::SeqCst) {
            let Some(t) = pending.pop_front() else { break };
            let Some(mut cmd) = train_command(&exe, dir, &plan, t, threads) else {
                skipped += 1;
                continue;
            };
            let log = dir.join("logs").join(format!("task-{:04}.log", t.task));
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&log)
                .map_err(|e| UserError(format!("cannot open {}: {e}", log.display())))?;
            cmd.stdout(file.try_clone()?).stderr(file).stdin(Stdio::null());
            let child = cmd.spawn().context("cannot start ebm train")?;
            tracing::info!(
                "task {} started: {}, seed {} (log {})",
                t.task,
                t.label,
                t.seed,
                log.display()
            );
            running.push((t, child, log, Instant::now()));
        }
        if stop.load(Ordering::SeqCst) && !forwarded {
            forwarded = true;
            pending.clear();
            // A signal sent to this process alone (not to its process group) is passed on,
            // so every run saves its state.
            for (_, child, _, _) in &running {
                let _ = Command::new("kill")
                    .args(["-INT", &child.id().to_string()])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
            }
        }
        std::thread::sleep(Duration::from_millis(100));
        let mut i = 0;
        while i < running.len() {
            let exited = running[i].1.try_wait()?;
            let Some(exit) = exited else {
                i += 1;
                continue;
            };
            let (t, _, log, started) = running.swap_remove(i);
            match check(exit, t, &log) {
                Ok(()) => {
                    done += 1;
                    let result = match status(&dir.join(&t.dir)) {
                        Status::Finished(s) => outcome(&s),
                        _ => "not finished".into(),
                    };
                    tracing::info!(
                        "task {} done in {:.0} s ({}, seed {}): {result} [{} of {n} finished, {} running]",
                        t.task,
                        started.elapsed().as_secs_f64(),
                        t.label,
                        t.seed,
                        done + skipped,
                        running.len()
                    );
                }
                Err(e) if stop.load(Ordering::SeqCst) => {
                    tracing::info!("task {} stopped: {e:#}", t.task);
                }
                Err(e) => {
                    tracing::error!("{e:#}");
                    failed.push(t.task);
                }
            }
        }
    }
    if stop.load(Ordering::SeqCst) {
        return Err(Interrupted(format!(
            "{} (run `ebm sweep run` again to resume the unfinished runs)",
            dir.display()
        ))
        .into());
    }
    if !failed.is_empty() {
        return Err(UserError(format!(
            "{} of {n} runs failed (tasks {:?}; see {}/logs)",
            failed.len(),
            failed,
            dir.display()
        ))
        .into());
    }
    crate::say!(
        "{n} runs finished ({done} run now, {skipped} already finished) -> summarise them with `ebm sweep report {}`",
        dir.display()
    )
}

/// An error naming the run when its process failed.
fn check(status: ExitStatus, t: &Task, log: &Path) -> Result<()> {
    if status.success() {
        return Ok(());
    }
    let code = status.code().map_or("a signal".into(), |c| format!("exit {c}"));
    let msg = format!(
        "task {} ({}, seed {}) failed with {code}; see {}",
        t.task,
        t.label,
        t.seed,
        log.display()
    );
    if status.code() == Some(130) {
        Err(UserError(format!(
            "task {} ({}, seed {}) was interrupted (its state is saved: `ebm sweep run` resumes it)",
            t.task, t.label, t.seed
        ))
        .into())
    } else {
        Err(UserError(msg).into())
    }
}
