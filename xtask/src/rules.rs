//! `cargo xtask reproduce rules` (`rules-code`): the `ep-1h` (`ep-1h-code`) network trained on
//! the full MNIST with the three
//! learning rules (`training.rule = contrastive | temporal | spiking`), their learning curves on
//! one plot (`ebm compare`), and `report.md` checking the claims: the temporal rule
//! within 0.3 points of the contrastive update, the spiking rule at <= 3.5% test error.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};

use crate::util::{ebm, mnist_dir, read_json, run};

/// The rules, in plot order.
pub const RULES: [&str; 3] = ["contrastive", "temporal", "spiking"];

/// Train with each rule into `out/<rule>/`, compare, and write `out/report.md`. `extra` are
/// further `--set` overrides for every run (e.g. `training.epochs=2` for a quick look).
pub fn reproduce(preset: &str, out: &Path, extra: &[String]) -> Result<()> {
    let data =
        mnist_dir().context("this reproduction needs the full MNIST in ../shared/data/mnist")?;
    for rule in RULES {
        let mut cmd = ebm()?;
        cmd.args(["train", "--preset", preset, "--force", "-q", "--data"])
            .arg(&data)
            .arg("--out")
            .arg(out.join(rule))
            .arg("--set")
            .arg(format!("training.rule={rule}"));
        for e in extra {
            cmd.arg("--set").arg(e);
        }
        run(cmd, &format!("ebm train {preset}, rule {rule}"))?;
    }
    let mut cmd = ebm()?;
    cmd.args(["compare", "--force", "-q", "--out"]).arg(out);
    for rule in RULES {
        cmd.arg(out.join(rule));
    }
    run(cmd, "ebm compare")?;

    // `ebm compare` already gathered each run's final figures and median epoch time.
    let runs = read_json(&out.join("summary.json"))?;
    let runs = runs["runs"].as_array().context("compare's summary.json: runs")?.clone();
    let steps = read_json(&out.join(RULES[0]).join("summary.json"))?["config"]["dynamics"].clone();
    let figure = |s: &serde_json::Value, key: &str| s[key].as_f64().unwrap_or(f64::NAN);
    let seconds = |s: &serde_json::Value| figure(s, "median_epoch_seconds");
    let base = &runs[0];
    let mut report = format!(
        "# Learning MNIST with the STDP-compatible rule (Bengio et al. 2017, Eq 3.18 and 4.1)\n\n\
         Preset `{preset}` (784-500-10), full MNIST, seed {}, overrides {extra:?}.\n\n\
         | rule | epochs | train error (running) | test error, zero start | test error, persistent | median s/epoch | time vs contrastive |\n\
         |---|---|---|---|---|---|---|\n",
        base["seed"]
    );
    for (rule, s) in RULES.iter().zip(&runs) {
        writeln!(
            report,
            "| {rule} | {} | {:.2}% | {:.2}% | {:.2}% | {:.2} | {:.2}x |",
            s["epochs"],
            100.0 * figure(s, "final_train_error_running"),
            100.0 * figure(s, "final_test_error"),
            100.0 * figure(s, "final_test_error_persistent"),
            seconds(s),
            seconds(s) / seconds(base),
        )?;
    }
    let gap = |s: &serde_json::Value, key: &str| 100.0 * (figure(s, key) - figure(base, key)).abs();
    let t = &runs[1];
    let sp = &runs[2];
    writeln!(
        report,
        "\nTemporal vs contrastive: {:.2} points (zero start), {:.2} points (persistent); \
         the issue asks for <= 0.3: {}.\n\
         Spiking: {:.2}% (zero start), {:.2}% (persistent); the issue asks for <= 3.5%: {}.\n\
         Steps per phase: free {}, nudged {} (every rule).\n\n\
         Curves: test_error.svg, test_error_persistent.svg; per epoch: compare.csv.\n",
        gap(t, "final_test_error"),
        gap(t, "final_test_error_persistent"),
        if gap(t, "final_test_error") <= 0.3 && gap(t, "final_test_error_persistent") <= 0.3 {
            "met"
        } else {
            "NOT met"
        },
        100.0 * figure(sp, "final_test_error"),
        100.0 * figure(sp, "final_test_error_persistent"),
        if figure(sp, "final_test_error_persistent") <= 0.035 { "met" } else { "NOT met" },
        steps["free_steps"],
        steps["nudged_steps"],
    )?;
    crate::util::write_report(out, &report)?;
    print!("{report}");
    Ok(())
}
