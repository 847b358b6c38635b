//! Interruptions end to end (issue 6): SIGINT finishes the current minibatch, writes a
//! checkpoint and exits 130; after `kill -9` at several points of a run, `ebm train --resume`
//! reaches bit-identical final weights to an uninterrupted run.
//!
//! The run checkpoints after every minibatch (`training.checkpoint_every_batches = 1`) and logs
//! a line per checkpoint; the kill points are "right after the line for (epoch, minibatch)
//! appeared", so they fall at different places of the run (inside a minibatch, inside a
//! checkpoint write, inside the end-of-epoch evaluation) without depending on timing.
#![cfg(unix)]

use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::OnceLock;

use ebm_tests::{ebm, run_in, stderr};

/// 3 epochs of 20 minibatches of a small net; a checkpoint after every minibatch.
const RUN: &[&str] = &[
    "--set",
    "model.layers=[784, 64, 10]",
    "--set",
    "training.epochs=3",
    "--set",
    "training.batch_size=20",
    "--set",
    "data.train_limit=400",
    "--set",
    "data.test_limit=100",
    "--set",
    "training.checkpoint_every_batches=1",
    "--seed",
    "5",
];

type Arrays = (Vec<ndarray::Array2<f32>>, Vec<ndarray::Array1<f32>>);

/// Weights, biases and persistent particles of a run's checkpoint.
fn arrays(run: &Path) -> Arrays {
    let file = std::fs::File::open(run.join("checkpoint.npz")).unwrap();
    let mut npz = ndarray_npy::NpzReader::new(file).unwrap();
    let two = ["W0", "W1", "train_s1", "train_s2", "test_s1", "test_s2"];
    let w = two.iter().map(|n| npz.by_name(&format!("{n}.npy")).unwrap()).collect();
    let b = ["b0", "b1"].iter().map(|n| npz.by_name(&format!("{n}.npy")).unwrap()).collect();
    (w, b)
}

/// The uninterrupted run's final arrays (computed once).
fn reference() -> &'static Arrays {
    static REF: OnceLock<Arrays> = OnceLock::new();
    REF.get_or_init(|| {
        let work = tempfile::tempdir().unwrap();
        let mut args = vec!["-q", "train", "--out", "run"];
        args.extend(RUN);
        let out = run_in(work.path(), &args);
        assert!(out.status.success(), "{}", stderr(&out));
        arrays(&work.path().join("run"))
    })
}

fn spawn_train(work: &Path, extra: &[&str]) -> Child {
    let mut args = vec!["train", "--out", "run"];
    args.extend(RUN);
    args.extend(extra);
    ebm()
        .args(&args)
        .current_dir(work)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ebm starts")
}

/// Read the child's log until a line contains `pattern`, then send it `signal` (`KILL` or
/// `INT`); returns every log line.
fn signal_after(child: &mut Child, pattern: &str, signal: &str) -> Vec<String> {
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let hit = line.contains(pattern);
        seen.push(line);
        if hit {
            if signal == "KILL" {
                child.kill().unwrap();
            } else {
                let pid = child.id().to_string();
                let status = std::process::Command::new("kill")
                    .args([&format!("-{signal}"), pid.as_str()])
                    .status()
                    .unwrap();
                assert!(status.success());
            }
            seen.extend(lines.map(Result::unwrap));
            return seen;
        }
    }
    panic!("`{pattern}` never appeared:\n{}", seen.join("\n"));
}

/// (epochs, minibatches) of the last `checkpoint:` log line.
fn last_checkpoint(lines: &[String]) -> Option<(usize, usize)> {
    lines.iter().rev().find_map(|l| {
        let rest = l.split("checkpoint: ").nth(1)?;
        let mut words = rest.split_whitespace();
        let epochs = words.next()?.parse().ok()?;
        let batches = words.nth(2)?.parse().ok()?;
        Some((epochs, batches))
    })
}

fn stale_temp_files(run: &Path) -> Vec<String> {
    std::fs::read_dir(run)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(trainer::io::TEMP_PREFIX))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn kill_9_at_several_points_then_resume_gives_identical_weights() {
    let reference = reference();
    let points = [
        // before any checkpoint exists (logged just before the first minibatch)
        "training [784, 64, 10]",
        "checkpoint: 0 epochs + 2 minibatches done",
        // just after an epoch's checkpoint: during the results files or epoch 2's first batch
        "checkpoint: 1 epochs + 0 minibatches done",
        "checkpoint: 1 epochs + 13 minibatches done",
        "checkpoint: 2 epochs + 3 minibatches done",
    ];
    for point in points {
        let work = tempfile::tempdir().unwrap();
        let mut child = spawn_train(work.path(), &[]);
        let log = signal_after(&mut child, point, "KILL");
        let status = child.wait().unwrap();
        assert_eq!(status.signal(), Some(9), "{point}: the run ended before the kill: {status}");
        let run = work.path().join("run");
        let resume = run_in(work.path(), &["-q", "train", "--resume", "run"]);
        if run.join("checkpoint.npz").exists() {
            assert!(resume.status.success(), "{point}: {}", stderr(&resume));
        } else {
            // Killed before the first checkpoint: --resume says there is nothing to resume,
            // and starting again (the directory is empty or absent) works.
            assert!(last_checkpoint(&log).is_none(), "{point}: checkpoint logged but absent");
            assert_eq!(resume.status.code(), Some(2), "{point}: {}", stderr(&resume));
            assert!(stderr(&resume).contains("no checkpoint.npz"), "{}", stderr(&resume));
            let mut again = vec!["-q", "train", "--out", "run", "--force"];
            again.extend(RUN);
            let out = run_in(work.path(), &again);
            assert!(out.status.success(), "{point}: {}", stderr(&out));
        }
        assert!(stale_temp_files(&run).is_empty(), "{point}: {:?}", stale_temp_files(&run));
        assert!(arrays(&run) == *reference, "{point}: resumed run ends with different weights");
    }
}

#[test]
fn sigint_finishes_the_minibatch_saves_and_exits_130() {
    let reference = reference();
    // SIGTERM (e.g. from a job scheduler) is handled the same way.
    for signal in ["INT", "TERM"] {
        let work = tempfile::tempdir().unwrap();
        // Many epochs: the run is certainly still going when the signal arrives.
        let mut child = spawn_train(work.path(), &["--set", "training.epochs=1000"]);
        let log = signal_after(&mut child, "checkpoint: 0 epochs + 5 minibatches done", signal);
        let status = child.wait().unwrap();
        let text = log.join("\n");
        assert_eq!(status.code(), Some(130), "{signal}: {text}");
        assert!(
            text.contains("error: interrupted; state saved to run (continue with --resume)"),
            "{signal}: {text}"
        );
        assert!(!text.contains("panicked"), "{text}");
        // The state saved on the signal is at a minibatch boundary at or after the one seen.
        let (epochs, batches) = last_checkpoint(&log).unwrap();
        assert!((epochs, batches) >= (0, 5) && epochs < 3, "{signal}: ({epochs}, {batches})");
        let run = work.path().join("run");
        for f in ["checkpoint.npz", "summary.json", "metrics.csv"] {
            assert!(run.join(f).exists(), "{f} missing after SIG{signal}");
        }
        assert!(stale_temp_files(&run).is_empty());
        // Continuing to the reference's 3 epochs gives its weights.
        let resume = ["-q", "train", "--resume", "run", "--set", "training.epochs=3"];
        let out = run_in(work.path(), &resume);
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(arrays(&run) == *reference, "{signal}: resumed run ends with different weights");
    }
}

#[test]
fn a_second_ctrl_c_exits_at_once_with_one_line() {
    let work = tempfile::tempdir().unwrap();
    let mut child = spawn_train(work.path(), &["--set", "training.epochs=1000"]);
    let pid = child.id().to_string();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    for line in lines.by_ref() {
        if line.unwrap().contains("checkpoint: 0 epochs + 3 minibatches done") {
            break;
        }
    }
    for _ in 0..2 {
        let status = std::process::Command::new("kill").args(["-INT", &pid]).status().unwrap();
        assert!(status.success());
    }
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{rest:?}");
    let errors: Vec<&String> = rest.iter().filter(|l| l.starts_with("error: ")).collect();
    // Usually the second signal arrives while the first is being handled ("interrupted
    // twice"); if the state was saved first, the first signal's line is the one line.
    assert_eq!(errors.len(), 1, "{rest:?}");
    assert!(
        errors[0].contains("interrupted twice: exiting at once")
            || errors[0].contains("interrupted; state saved"),
        "{rest:?}"
    );
    assert!(!rest.iter().any(|l| l.contains("panicked")), "{rest:?}");
}
