//! `cargo xtask bitident`: the refactor's bit-identity check. Runs the commands of
//! `xtask/baselines/commands.sh` with the current release binary and compares their results
//! with the outputs of the round-1 code recorded in `xtask/baselines/`: the digest of every
//! trained model (`model_sha256`) and its errors, and every number of the `propagate`, `stdp`,
//! `gradcheck` and `relax-steps` metrics (seconds aside). Any difference fails.
//!
//! The `ep-1h` runs need the full MNIST (`../shared/data/mnist`); without it they are skipped,
//! said so, and the rest still runs.

use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::util::{ebm, mnist_dir, read_json, root, run};

/// `cargo xtask bitident`.
pub fn run_bitident(_args: &[String]) -> Result<()> {
    let baselines = root().join("xtask/baselines");
    let out = root().join("results/bitident");
    let expected = read_json(&baselines.join("train.json"))?;
    let mnist = mnist_dir();
    let mut failures = Vec::new();
    let mut checked = 0;
    for (name, args, full) in train_runs() {
        let Some(want) = expected.get(&name) else { bail!("no baseline for {name}") };
        let mut cmd = ebm()?;
        cmd.arg("train").args(&args).arg("--out").arg(out.join(&name)).args(["--force", "-q"]);
        // The baselines re-evaluated the whole training set (the default became a subsample).
        cmd.args(["--set", "training.train_eval_examples=0"]);
        if full {
            let Some(dir) = &mnist else {
                eprintln!("xtask: bitident: {name} skipped (no ../shared/data/mnist)");
                continue;
            };
            cmd.arg("--data").arg(dir);
        }
        cmd.stdout(std::process::Stdio::null());
        run(cmd, &format!("ebm train ({name})"))?;
        let got = read_json(&out.join(&name).join("summary.json"))?;
        // The resume state (about 120 MB with the persistent particles of 60,000 examples) is
        // not compared; 19 of them would fill a small CI disk.
        let checkpoint = out.join(&name).join("checkpoint.npz");
        if checkpoint.exists() {
            std::fs::remove_file(&checkpoint)
                .with_context(|| format!("cannot remove {}", checkpoint.display()))?;
        }
        for key in [
            "model_sha256",
            "final_test_error",
            "final_test_error_persistent",
            "final_train_error",
            "final_train_error_running",
        ] {
            if got[key] != want[key] {
                failures.push(format!("{name}: {key} is {} (baseline {})", got[key], want[key]));
            }
        }
        checked += 1;
    }
    for (command, args) in experiment_runs() {
        let dir = out.join(command);
        let mut cmd = ebm()?;
        cmd.arg(command).args(args).arg("--out").arg(&dir).args(["--force", "-q"]);
        cmd.stdout(std::process::Stdio::null());
        run(cmd, &format!("ebm {command}"))?;
        let want = baselines.join(format!("{command}.csv"));
        failures.extend(compare_csv(&want, &dir.join("metrics.csv"))?);
        checked += 1;
    }
    if !failures.is_empty() {
        bail!("bit-identity lost:\n  {}", failures.join("\n  "));
    }
    eprintln!("xtask: bitident: {checked} runs identical to the round-1 baselines");
    Ok(())
}

/// The training runs of `commands.sh`: baseline name, arguments, and whether the run is on
/// the full MNIST.
fn train_runs() -> Vec<(String, Vec<String>, bool)> {
    let strings = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    let one_epoch = ["--preset", "ep-1h", "--set", "training.epochs=1"];
    let mut runs = Vec::new();
    for rule in ["contrastive", "temporal", "spiking"] {
        for kernels in ["sparse", "dense"] {
            for schedule in ["synchronous", "alternating"] {
                let mut args = strings(&one_epoch);
                for set in [
                    format!("training.rule={rule}"),
                    format!("dynamics.kernels={kernels}"),
                    format!("dynamics.schedule={schedule}"),
                ] {
                    args.extend(["--set".to_owned(), set]);
                }
                runs.push((format!("ep1h-{rule}-{kernels}-{schedule}"), args, true));
            }
        }
    }
    let mut centred = strings(&one_epoch);
    centred.extend(strings(&["--set", "training.beta_sign=centred"]));
    runs.push(("ep1h-centred".to_owned(), centred, true));
    // round 1's `quick` preset: the paper's setting for 15 epochs on the embedded subset
    let quick = strings(&["--preset", "ep-1h", "--set", "training.epochs=15"]);
    runs.push(("quick".to_owned(), quick, false));
    let ep2h = [
        "--preset",
        "ep-2h",
        "--set",
        "training.epochs=1",
        "--set",
        "data.train_limit=2000",
        "--set",
        "dynamics.free_steps=20",
    ];
    runs.push(("ep2h-small".to_owned(), strings(&ep2h), true));
    runs
}

/// The experiments of `commands.sh` and their arguments.
fn experiment_runs() -> [(&'static str, &'static [&'static str]); 4] {
    [
        ("propagate", &[]),
        ("stdp", &[]),
        (
            "gradcheck",
            &[
                "--set",
                "gradcheck.hidden_layers=[1, 2]",
                "--set",
                "gradcheck.hidden_size=100",
                "--set",
                "gradcheck.examples=10",
                "--set",
                "gradcheck.betas=[1e-4, 1e-2]",
            ],
        ),
        (
            "relax-steps",
            &["--set", "relax_steps.layers=[784,100,100,10]", "--set", "relax_steps.examples=20"],
        ),
    ]
}

/// Every field of two CSV files equal (numbers bit for bit), columns about seconds aside.
fn compare_csv(want: &Path, got: &Path) -> Result<Vec<String>> {
    let read = |p: &Path| {
        std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))
    };
    let (want_text, got_text) = (read(want)?, read(got)?);
    let rows = |t: &str| t.lines().map(|l| l.split(',').map(str::to_owned).collect()).collect();
    let (want_rows, got_rows): (Vec<Vec<String>>, Vec<Vec<String>>) =
        (rows(&want_text), rows(&got_text));
    let name = got.display();
    if want_rows.len() != got_rows.len() || want_rows.first() != got_rows.first() {
        return Ok(vec![format!(
            "{name}: {} rows / header differ from the baseline",
            got_rows.len()
        )]);
    }
    let header = &want_rows[0];
    let mut failures = Vec::new();
    for (i, (w, g)) in want_rows.iter().zip(&got_rows).enumerate().skip(1) {
        for ((col, a), b) in header.iter().zip(w).zip(g) {
            if col.contains("second") {
                continue;
            }
            let same = match (a.parse::<f64>(), b.parse::<f64>()) {
                (Ok(x), Ok(y)) => x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()),
                _ => a == b,
            };
            if !same {
                failures.push(format!("{name}: row {i}, {col}: {b} (baseline {a})"));
            }
        }
    }
    Ok(failures)
}
