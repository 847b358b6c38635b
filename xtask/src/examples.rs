//! The worked examples of `docs/extending.md` (`crates/examples`), run by `cargo xtask ci`:
//! the cost example checks itself; the data-set example writes its IDX files, which the release
//! `ebm train --data` then trains on and `ebm eval` scores. (The learning-rule example is a
//! regression experiment of `xtask/regressions.toml`.)

use anyhow::{Context, Result, ensure};

use crate::util::{cargo, ebm, read_json, root, run};

/// Run the examples; fails when one does.
pub fn run_examples() -> Result<()> {
    let example = |name: &str| {
        let mut cmd = cargo(&["run", "--release", "--quiet", "-p", "examples", "--example", name]);
        cmd.arg("--");
        cmd
    };
    run(example("softmax_cost"), "example softmax_cost")?;
    let dir = root().join("results/examples/idx-dataset");
    let mut make = example("idx_dataset");
    make.arg(dir.join("data"));
    run(make, "example idx_dataset")?;
    let mut train = ebm()?;
    train
        .args(["train", "--force", "-q", "--data"])
        .arg(dir.join("data"))
        .arg("--out")
        .arg(dir.join("run"));
    train.args(["--set", "model.layers=[100, 30, 5]", "--set", "training.alphas=[0.1, 0.05]"]);
    train.args(["--set", "training.epochs=3"]).stdout(std::process::Stdio::null());
    run(train, "ebm train on the example's 5-class 10x10 data")?;
    let s = read_json(&dir.join("run/summary.json"))?;
    let err = s["final_test_error"].as_f64().context("final_test_error")?;
    eprintln!("xtask: idx_dataset: test error {:.2}% (5 classes, chance 80%)", 100.0 * err);
    ensure!(err <= 0.1, "the 5-class data set was not learned: test error {err}");
    let mut eval = ebm()?;
    eval.args(["eval", "-q", "--checkpoint"]).arg(dir.join("run/model.npz"));
    eval.stdout(std::process::Stdio::null());
    run(eval, "ebm eval on the example's data")?;
    Ok(())
}
