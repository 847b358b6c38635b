//! `cargo xtask slurm-check`: a real Slurm runs a sweep's job array.
//!
//! Installs Slurm (`slurm-wlm`) and munge from Debian's packages if missing, starts munged, a
//! controller and one node on loopback (everything in a fresh temporary directory: key, config,
//! state, logs, ports derived from the process id), plans the tiny sweep (`sweeps/tiny.toml`:
//! 2 settings x 2 seeds on the embedded data), submits the array script of `ebm sweep slurm`
//! with `sbatch`, waits for its 4 tasks, checks each task's Slurm output and the controller's
//! record of it, runs `ebm sweep report` and checks the table; then stops the daemons it
//! started (also on failure).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};

use crate::util::{ebm, root, run};

/// The daemons started, stopped when dropped.
struct Daemons {
    dir: PathBuf,
    conf: PathBuf,
    munged_pid: PathBuf,
}

impl Drop for Daemons {
    fn drop(&mut self) {
        let _ = Command::new("scontrol").env("SLURM_CONF", &self.conf).arg("shutdown").status();
        std::thread::sleep(Duration::from_secs(1));
        for pid_file in
            [self.dir.join("slurmd.pid"), self.dir.join("slurmctld.pid"), self.munged_pid.clone()]
        {
            if let Ok(pid) = std::fs::read_to_string(&pid_file) {
                let _ = Command::new("kill").arg(pid.trim()).status();
            }
        }
        eprintln!("xtask: slurm-check: daemons stopped");
    }
}

fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn install() -> Result<()> {
    if ["sbatch", "slurmctld", "slurmd", "munged", "mungekey"].iter().all(|p| have(p)) {
        return Ok(());
    }
    eprintln!("xtask: slurm-check: installing slurm-wlm and munge from Debian's packages");
    let mut update = Command::new("apt-get");
    update.args(["update", "-qq"]);
    run(update, "apt-get update")?;
    let mut install = Command::new("apt-get");
    install
        .args(["install", "-y", "-qq", "slurm-wlm", "munge"])
        .env("DEBIAN_FRONTEND", "noninteractive");
    run(install, "apt-get install slurm-wlm munge")
}

fn output(cmd: &mut Command, what: &str) -> Result<String> {
    let out = cmd.output().with_context(|| format!("cannot start {what}"))?;
    ensure!(
        out.status.success(),
        "{what} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> Result<bool>) -> Result<()> {
    let start = Instant::now();
    while !done()? {
        if start.elapsed() > limit {
            bail!("timed out after {} s waiting for {what}", limit.as_secs());
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    Ok(())
}

fn start(dir: &Path) -> Result<Daemons> {
    let munge = dir.join("munge");
    std::fs::create_dir_all(&munge)?;
    for sub in ["state", "spool"] {
        std::fs::create_dir_all(dir.join(sub))?;
    }
    let key = munge.join("munge.key");
    let sock = munge.join("munge.sock");
    let mut keygen = Command::new("mungekey");
    keygen.arg("--create").arg(format!("--keyfile={}", key.display()));
    run(keygen, "mungekey")?;
    let munged_pid = munge.join("munged.pid");
    let mut munged = Command::new("munged");
    munged
        .arg(format!("--socket={}", sock.display()))
        .arg(format!("--key-file={}", key.display()))
        .arg(format!("--pid-file={}", munged_pid.display()))
        .arg(format!("--log-file={}", munge.join("munged.log").display()))
        .arg(format!("--seed-file={}", munge.join("munged.seed").display()))
        .arg("--force");
    run(munged, "munged")?;
    let host = output(Command::new("hostname").arg("-s"), "hostname")?.trim().to_owned();
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let port = 20000 + 2 * (std::process::id() % 10000);
    let conf = dir.join("slurm.conf");
    let d = dir.display();
    let text = format!(
        "# written by cargo xtask slurm-check: one controller and one node on loopback\n\
         ClusterName=ebmcheck\n\
         SlurmctldHost={host}(127.0.0.1)\n\
         SlurmUser=root\nSlurmdUser=root\n\
         SlurmctldPort={port}\nSlurmdPort={}\n\
         AuthType=auth/munge\nAuthInfo=socket={}\nCredType=cred/munge\n\
         StateSaveLocation={d}/state\nSlurmdSpoolDir={d}/spool\n\
         SlurmctldPidFile={d}/slurmctld.pid\nSlurmdPidFile={d}/slurmd.pid\n\
         SlurmctldLogFile={d}/slurmctld.log\nSlurmdLogFile={d}/slurmd.log\n\
         SlurmctldDebug=info\nSlurmdDebug=info\n\
         ProctrackType=proctrack/linuxproc\nTaskPlugin=task/none\n\
         SelectType=select/cons_tres\nSelectTypeParameters=CR_CPU\nSchedulerType=sched/backfill\n\
         JobAcctGatherType=jobacct_gather/none\nAccountingStorageType=accounting_storage/none\n\
         JobCompType=jobcomp/none\nMpiDefault=none\nSwitchType=switch/none\nReturnToService=2\n\
         NodeName=ebmnode NodeAddr=127.0.0.1 CPUs={cpus} State=UNKNOWN\n\
         PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP\n",
        port + 1,
        sock.display(),
    );
    std::fs::write(&conf, text)?;
    let daemons = Daemons { dir: dir.to_owned(), conf: conf.clone(), munged_pid };
    let mut ctld = Command::new("slurmctld");
    ctld.arg("-f").arg(&conf).env("SLURM_CONF", &conf);
    run(ctld, "slurmctld")?;
    let mut slurmd = Command::new("slurmd");
    slurmd.arg("-f").arg(&conf).args(["-N", "ebmnode"]).env("SLURM_CONF", &conf);
    run(slurmd, "slurmd")?;
    wait_for("the node to be idle", Duration::from_secs(60), || {
        let state = Command::new("sinfo")
            .env("SLURM_CONF", &conf)
            .args(["-h", "-o", "%T"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default();
        Ok(state == "idle")
    })?;
    eprintln!("xtask: slurm-check: controller and node up ({host}, ports {port}-{})", port + 1);
    Ok(daemons)
}

/// `cargo xtask slurm-check`.
pub fn run_slurm_check() -> Result<()> {
    let started = Instant::now();
    install()?;
    let mut bin = ebm()?;
    let exe = PathBuf::from(bin.get_program());
    let dir = std::env::temp_dir().join(format!("ebm-slurm-check-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let daemons = start(&dir)?;
    let conf = daemons.conf.clone();
    let sweep = dir.join("sweep");
    bin.args(["-q", "sweep", "plan"]).arg(root().join("sweeps/tiny.toml")).arg("--out").arg(&sweep);
    run(bin, "ebm sweep plan")?;
    let mut slurm = Command::new(&exe);
    slurm.args(["-q", "sweep", "slurm"]).arg(&sweep).arg("--ebm").arg(&exe);
    run(slurm, "ebm sweep slurm")?;
    let script = sweep.join("sweep.sbatch");
    let job = output(
        Command::new("sbatch").env("SLURM_CONF", &conf).arg("--parsable").arg(&script),
        "sbatch",
    )?;
    let job = job.trim().split(';').next().unwrap_or_default().to_owned();
    eprintln!("xtask: slurm-check: submitted {} as job {job}", script.display());
    wait_for("the array job", Duration::from_secs(600), || {
        let queue = output(
            Command::new("squeue").env("SLURM_CONF", &conf).args(["-h", "-j", &job]),
            "squeue",
        )
        .unwrap_or_default();
        Ok(queue.trim().is_empty())
    })?;
    let ctld_log = std::fs::read_to_string(dir.join("slurmctld.log")).unwrap_or_default();
    for task in 0..4 {
        let out = sweep.join(format!("logs/slurm-{job}_{task}.out"));
        let text = std::fs::read_to_string(&out)
            .with_context(|| format!("array task {task} left no output {}", out.display()))?;
        let last = text.lines().rev().find(|l| l.starts_with("test error")).with_context(|| {
            format!("array task {task}: no result line in {}:\n{text}", out.display())
        })?;
        let record = ctld_log
            .lines()
            .find(|l| l.contains("_job_complete") && l.contains(&format!("JobId={job}_{task}(")))
            .unwrap_or("(no completion record in slurmctld.log)");
        eprintln!(
            "xtask: slurm-check: array task {task}: {last}\n    slurmctld: {}",
            record.trim()
        );
        ensure!(
            record.contains("WEXITSTATUS 0"),
            "array task {task} did not exit 0 according to slurmctld: {record}"
        );
    }
    let mut report = Command::new(&exe);
    report.args(["sweep", "report"]).arg(&sweep);
    let table = output(&mut report, "ebm sweep report")?;
    eprintln!("{table}");
    let rows = crate::util::read_json(&sweep.join("report/summary.json"))?;
    ensure!(rows["finished"] == 4, "the report counts {} finished runs, not 4", rows["finished"]);
    for s in rows["settings"].as_array().context("no settings")? {
        let test = &s["figures"]["selected_test_error"];
        ensure!(test["n"] == 2, "setting {}: {} seeds in the table, not 2", s["label"], test["n"]);
        let mean = test["mean"].as_f64().unwrap_or(f64::NAN);
        ensure!((0.05..0.3).contains(&mean), "setting {}: test error {mean}", s["label"]);
    }
    drop(daemons);
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!("xtask: slurm-check passed in {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}
