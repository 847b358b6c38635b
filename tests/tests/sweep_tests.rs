//! `ebm sweep` end to end on the embedded data: plan, run (one task; all, N at a time),
//! interrupt and resume, skip finished runs, the Slurm script, the report's statistics, and
//! bad sweep files. (`cargo xtask slurm-check` submits the script to a real Slurm.)

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use ebm_tests::{ebm, read_json, run_in, stderr, stdout};

const SWEEP: &str = r#"
name = "t"
preset = "quick"
data = "embedded"
seeds = [1, 2]
set = [
    "model.layers=[784, 60, 10]",
    "training.epochs=3",
    "data.train_limit=2000",
    "data.test_limit=300",
    "data.validation=200",
    "training.select=best-validation",
    "training.checkpoint_every_batches=10",
]
[grid]
"training.rule" = ["contrastive", "temporal"]
[slurm]
parallel = 2
time = "00:05:00"
partition = "short"
setup = ["module load foo"]
"#;

fn plan(work: &Path, name: &str) -> std::path::PathBuf {
    std::fs::write(work.join("sweep.toml"), SWEEP).unwrap();
    let out = run_in(work, &["sweep", "plan", "sweep.toml", "--out", name]);
    assert!(out.status.success(), "{}", stderr(&out));
    work.join(name)
}

fn summary(sweep: &Path, task: usize) -> serde_json::Value {
    let plan = read_json(&sweep.join("sweep.json"));
    read_json(&sweep.join(plan["tasks"][task]["dir"].as_str().unwrap()).join("summary.json"))
}

#[test]
fn a_sweep_runs_resumes_after_an_interruption_and_reports_over_seeds() {
    let work = tempfile::tempdir().unwrap();
    let sweep = plan(work.path(), "s");
    let plan_json = read_json(&sweep.join("sweep.json"));
    assert_eq!(plan_json["tasks"].as_array().unwrap().len(), 4);

    // Interrupt a local run after its first checkpoint: the signal to `sweep run` reaches
    // the run, which saves its state; `sweep run` exits 130.
    let child = ebm()
        .current_dir(work.path())
        .args(["-q", "sweep", "run", "s", "--jobs", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let first = sweep.join(plan_json["tasks"][0]["dir"].as_str().unwrap());
    let start = Instant::now();
    while !first.join("checkpoint.npz").exists() {
        assert!(start.elapsed() < Duration::from_secs(60), "no checkpoint written");
        std::thread::sleep(Duration::from_millis(5));
    }
    let pid = child.id().to_string();
    assert!(std::process::Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    let partial = read_json(&first.join("summary.json"));
    assert!(partial["epochs"].as_u64().unwrap() < 3, "the run ended before the signal");

    // Running again resumes it and runs the others, 2 at a time.
    let out = run_in(work.path(), &["sweep", "run", "s", "--jobs", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("4 runs finished"), "{}", stdout(&out));
    let resumed = summary(&sweep, 0);
    assert_eq!(resumed["epochs"], 3);
    let from = resumed["provenance"]["resumed_from"].as_array().map(Vec::len);
    assert_eq!(from, Some(1), "{}", resumed["provenance"]);

    // A finished run is skipped, and the resumed run is bit-identical to an uninterrupted one.
    let out = run_in(work.path(), &["sweep", "run", "s", "--task", "0"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(summary(&sweep, 0)["provenance"], resumed["provenance"], "re-ran a finished run");
    let fresh = plan(work.path(), "fresh");
    let out = run_in(work.path(), &["-q", "sweep", "run", "fresh", "--task", "0"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(summary(&fresh, 0)["model_sha256"], resumed["model_sha256"]);
    assert!(!fresh.join(plan_json["tasks"][1]["dir"].as_str().unwrap()).exists());

    // The report: mean and sd over the two seeds of each setting, from the runs' summaries.
    let out = run_in(work.path(), &["sweep", "report", "s"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("| training.rule=temporal | 2 of 2 |"), "{}", stdout(&out));
    let report = sweep.join("report");
    for f in ["table.md", "table.csv", "runs.csv", "curves.csv", "summary.json"] {
        assert!(report.join(f).exists(), "{f} missing");
    }
    assert!(report.join("test_error_band.svg").exists());
    assert!(report.join("validation_error_band.svg").exists());
    let rep = read_json(&report.join("summary.json"));
    assert_eq!(rep["finished"], 4);
    for (s, setting) in rep["settings"].as_array().unwrap().iter().enumerate() {
        let errors: Vec<f64> = (0..2)
            .map(|k| summary(&sweep, 2 * s + k)["selected"]["test_error"].as_f64().unwrap())
            .collect();
        let mean = (errors[0] + errors[1]) / 2.0;
        let sd = (errors[0] - errors[1]).abs() / 2f64.sqrt();
        let fig = &setting["figures"]["selected_test_error"];
        assert_eq!(fig["n"], 2);
        assert!((fig["mean"].as_f64().unwrap() - mean).abs() < 1e-12, "{fig}");
        assert!((fig["sd"].as_f64().unwrap() - sd).abs() < 1e-12, "{fig}");
        assert!(mean < 0.3, "the runs learn: {mean}");
    }
    let curves = std::fs::read_to_string(report.join("curves.csv")).unwrap();
    // 2 settings x 2 figures x 3 epochs, + the header
    assert_eq!(curves.lines().count(), 13, "{curves}");

    // The Slurm array script.
    let out = run_in(work.path(), &["sweep", "slurm", "s", "--ebm", "/opt/ebm/bin/ebm"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let script = std::fs::read_to_string(sweep.join("sweep.sbatch")).unwrap();
    for line in [
        "#SBATCH --array=0-3%2\n",
        "#SBATCH --cpus-per-task=1\n",
        "#SBATCH --time=00:05:00\n",
        "#SBATCH --partition=short\n",
        "module load foo\n",
        "exec /opt/ebm/bin/ebm sweep run ",
        " --task \"$SLURM_ARRAY_TASK_ID\" --threads \"${SLURM_CPUS_PER_TASK:-1}\"\n",
    ] {
        assert!(script.contains(line), "{line:?} not in\n{script}");
    }
}

#[test]
fn bad_sweeps_and_tasks_are_refused_with_exit_2() {
    let work = tempfile::tempdir().unwrap();
    let refused = |args: &[&str], expected: &str| {
        let out = run_in(work.path(), args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(expected), "{args:?}: {}", stderr(&out));
    };
    std::fs::write(work.path().join("bad.toml"), "seeds = [1]\nsed = 2\n").unwrap();
    refused(&["sweep", "plan", "bad.toml", "--out", "x"], "sed");
    std::fs::write(
        work.path().join("bad.toml"),
        "seeds = [1]\n[grid]\n\"training.batch_size\" = [20, 0]\n",
    )
    .unwrap();
    refused(&["sweep", "plan", "bad.toml", "--out", "x"], "setting `training.batch_size=0`");
    assert!(!work.path().join("x").exists(), "nothing planned");
    refused(&["sweep", "run", "nowhere"], "ebm sweep plan");
    plan(work.path(), "s");
    refused(&["sweep", "run", "s", "--task", "4"], "the sweep has 4 tasks (0 to 3)");
    // Planning over an earlier plan's runs is refused, even with --force.
    std::fs::create_dir_all(work.path().join("s/runs/00-x")).unwrap();
    refused(&["sweep", "plan", "sweep.toml", "--out", "s", "--force"], "earlier plan");
}
