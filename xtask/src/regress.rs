//! Regression experiments run by `cargo xtask ci` after the tests (release builds): each runs
//! the `ebm` binary and fails when a measured figure crosses a threshold set from measurements
//! (recorded next to each threshold).

use anyhow::{Context, Result, bail, ensure};

use crate::util::{ebm, mnist_dir, read_json, root, run};

/// `ep-1h` for one epoch: on the full MNIST (when `../shared/data/mnist` exists) the test error
/// from zero states must stay <= 5.5% (measured 5.11%, the numpy peer 5.15%); on the embedded
/// subset <= 25% (measured 21.4%).
pub fn ep1h_one_epoch() -> Result<()> {
    let out = root().join("results/ci-ep-1h-1epoch");
    let mut cmd = ebm()?;
    cmd.args([
        "train",
        "--preset",
        "ep-1h",
        "--set",
        "training.epochs=1",
        "--force",
        "-q",
        "--out",
    ])
    .arg(&out);
    let threshold = match mnist_dir() {
        Some(dir) => {
            cmd.arg("--data").arg(dir);
            0.055
        }
        None => 0.25,
    };
    run(cmd, "ebm train --preset ep-1h (1 epoch)")?;
    let s = read_json(&out.join("summary.json"))?;
    let err = s["final_test_error"].as_f64().context("final_test_error")?;
    eprintln!(
        "xtask: ep-1h, 1 epoch: test error {:.2}% (threshold {:.2}%)",
        100.0 * err,
        100.0 * threshold
    );
    ensure!(err <= threshold, "ep-1h after 1 epoch: test error {err} > {threshold}");
    Ok(())
}

/// Early inference is backprop: for eps 0.1 and 0.01 every hidden layer has cosine >= 0.999 and
/// norm ratio within 1% of 1, and the output-adjacent Eq 3.18 update cosine >= 0.99 (measured:
/// 1 - 2e-8 and 2e-5).
pub fn propagate() -> Result<()> {
    let out = root().join("results/ci-propagate");
    let mut cmd = ebm()?;
    cmd.args(["propagate", "--force", "-q", "--out"]).arg(&out);
    cmd.stdout(std::process::Stdio::null());
    run(cmd, "ebm propagate")?;
    let s = read_json(&out.join("summary.json"))?;
    for h in s["headline"].as_array().context("headline")? {
        let eps = h["epsilon"].as_f64().unwrap_or(f64::NAN);
        if eps != 0.1 && eps != 0.01 {
            continue;
        }
        let cos = h["min_state_cosine"].as_f64().unwrap_or(0.0);
        let ratio = h["max_norm_ratio_error"].as_f64().unwrap_or(1.0);
        let wcos = h["min_output_adjacent_weight_cosine"].as_f64().unwrap_or(0.0);
        eprintln!(
            "xtask: propagate eps {eps}: min cosine {cos:.9}, max |ratio - 1| {ratio:.2e}, dW cosine {wcos:.6}"
        );
        if cos < 0.999 || ratio > 0.01 || wcos < 0.99 || h["all_interior"] != true {
            bail!("early inference regressed at eps {eps}: {h}");
        }
    }
    Ok(())
}
