//! The STDP experiment (issue 4, Bengio et al. 2017 section 4.2): `cargo xtask reproduce stdp`
//! (default run, sensitivity study and `report.md`), `cargo xtask bench stdp` (wall time of the
//! default experiment at 1 and 2 threads, and the bit-identity of their results) and the `ci`
//! regression check. Everything runs the release `ebm stdp` binary as a process.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::util::{cargo, read_json, root, run};

/// The release `ebm` binary (built first), honouring `CARGO_TARGET_DIR`.
fn ebm_binary() -> Result<PathBuf> {
    run(cargo(&["build", "--release", "--quiet", "--package", "ebm-cli"]), "release build")?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|p| if p.is_absolute() { p } else { root().join(p) })
        .unwrap_or_else(|| root().join("target"));
    Ok(target.join("release").join("ebm"))
}

/// Run `ebm stdp` quietly into `out` with `--set` overrides and return its summary.
fn stdp(bin: &Path, out: &Path, sets: &[&str], threads: Option<usize>) -> Result<Value> {
    let mut cmd = Command::new(bin);
    cmd.current_dir(root()).args(["stdp", "--quiet", "--force", "--out"]).arg(out);
    for s in sets {
        cmd.args(["--set", s]);
    }
    if let Some(t) = threads {
        cmd.env("RAYON_NUM_THREADS", t.to_string());
    }
    let output = cmd.output().with_context(|| format!("cannot run {}", bin.display()))?;
    if !output.status.success() {
        bail!("ebm stdp {sets:?} failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    read_json(&out.join("summary.json"))
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

fn flag(v: &Value) -> &'static str {
    if v.as_bool() == Some(true) { "yes" } else { "no" }
}

/// The sensitivity study: one setting changed from the default at a time.
const VARIANTS: &[(&str, &[&str])] = &[
    ("default", &[]),
    ("spike_scale 0.1", &["stdp.spike_scale=0.1"]),
    ("spike_scale 0.5", &["stdp.spike_scale=0.5"]),
    ("spike_scale 1.0", &["stdp.spike_scale=1.0"]),
    ("drive_std 0.3", &["stdp.drive_std=0.3"]),
    ("drive_std 3.0", &["stdp.drive_std=3.0"]),
    ("smoothing 3", &["stdp.smoothing=3.0"]),
    ("smoothing 30", &["stdp.smoothing=30.0"]),
    ("epsilon 0.5", &["stdp.epsilon=0.5"]),
    ("epsilon 1 (s_i = drive)", &["stdp.epsilon=1.0"]),
    ("burn_in 0 (start at rest)", &["stdp.burn_in=0"]),
    ("burn_in 0, drive_mean 1.5", &["stdp.burn_in=0", "stdp.drive_mean=1.5"]),
    ("derivative forward", &["stdp.derivative=\"forward\""]),
    ("derivative backward", &["stdp.derivative=\"backward\""]),
    ("spike_model poisson", &["stdp.spike_model=\"poisson\""]),
    ("pre_std 0 (constant pre rate)", &["stdp.pre_std=0.0"]),
];

/// `cargo xtask reproduce stdp`: the default run into `out`, the sensitivity study into
/// `out/sensitivity/`, and `out/report.md`.
pub fn reproduce(out: &Path) -> Result<()> {
    let bin = ebm_binary()?;
    let s = stdp(&bin, out, &[], None)?;
    let mut rows = String::new();
    for (name, sets) in VARIANTS {
        let dir = out.join("sensitivity").join(slug(name));
        let v = if sets.is_empty() { s.clone() } else { stdp(&bin, &dir, sets, None)? };
        let sign = &v["fig4_sign_pattern"];
        let peak = &v["fig4_peaks_near_zero"];
        let fail = &v["fig4_sign_failures"];
        let pk = &v["fig4_peak_dt"];
        writeln!(
            rows,
            "| {name} | {} ({}) | {} ({}) | {} | {} {} | {} {} | {:.3} | {:.3} | {} |",
            flag(&sign["rate"]),
            fail["rate"],
            flag(&sign["spike"]),
            fail["spike"],
            flag(&sign["nn-stdp"]),
            flag(&peak["rate"]),
            pk["rate"],
            flag(&peak["spike"]),
            pk["spike"],
            num(&v["fig5_pearson_r"]),
            num(&v["fig5_slope"]),
            v["pairs"],
        )?;
    }
    let fig4 = &s["fig4"];
    let mut table = String::new();
    let dts = fig4["dt"].as_array().context("fig4.dt")?;
    for (i, dt) in dts.iter().enumerate() {
        let cell = |k: &str| num(&fig4[k][i]);
        writeln!(
            table,
            "| {dt} | {} | {:+.4e} +- {:.1e} | {:+.4e} +- {:.1e} | {:+.4} |",
            fig4["counts"][i],
            cell("rate_mean"),
            1.96 * cell("rate_se"),
            cell("spike_mean"),
            1.96 * cell("spike_se"),
            cell("nn_stdp_mean"),
        )?;
    }
    let mut schemes = String::new();
    for sc in s["schemes"].as_array().context("schemes")? {
        writeln!(
            schemes,
            "| {} | {:.4} | {:.3} |",
            sc["scheme"].as_str().unwrap_or("?"),
            num(&sc["mean_dw"]),
            num(&sc["pearson_r_spike_rule"])
        )?;
    }
    let (with, without) =
        (num(&s["mean_sq_ds_with_updates"]), num(&s["mean_sq_ds_without_updates"]));
    let report = format!(
        "# STDP from the rate rule (Bengio et al. 2017, section 4.2, Figures 3-5)\n\n\
         Seed {seed}; {pairs} pairs; experiment wall time {secs:.3} s ({threads} threads).\n\n\
         ## Headline\n\n\
         | | paper | ours |\n|---|---|---|\n\
         | Figure 4 sign pattern (dt > 0: dW > 0, dt < 0: dW < 0, 95% interval), rate rule | yes | {sr} |\n\
         | ... spike rule (Eq 4.1) | yes | {ss} |\n\
         | ... NN-STDP | yes | {sn} |\n\
         | Figure 5 Pearson r (binned means) | high, linear | {r:.4} |\n\
         | Figure 5 slope | > 0 | {slope:.4} |\n\
         | E[(ds)^2] with weight changes (Eq 3.18) | measured, no figure or direction given | {with:.6e} |\n\
         | E[(ds)^2] without | | {without:.6e} |\n\
         | difference (with - without), paired over sequences | not stated | {diff:+.3e} +- {dse:.1e} ({rel:+.3}%) |\n\n\
         ## Sensitivity (one setting changed from the default)\n\n\
         | variant | sign rate (failing bins) | sign spike (failing bins) | sign NN-STDP | peak near 0, rate [peak dt -, +] | peak near 0, spike [peak dt] | Fig 5 r | Fig 5 slope | pairs |\n\
         |---|---|---|---|---|---|---|---|---|\n{rows}\n\
         ## Figure 4 (mean +- 95% interval, clustered by sequence)\n\n\
         | dt | pairs | rate rule | spike rule | NN-STDP |\n|---|---|---|---|---|\n{table}\n\
         ## Pairing schemes against the spike rule (per-train totals, first 16 trains of every sequence)\n\n\
         | scheme | mean total dW per train | Pearson r with the spike rule's total |\n|---|---|---|\n{schemes}\n\
         Plots: fig3.svg, fig3-weight.svg, fig4.svg, fig4-counts.svg, fig5.svg; table: metrics.csv.\n",
        seed = s["seed"],
        pairs = s["pairs"],
        secs = num(&s["seconds"]),
        threads = s["threads"],
        sr = flag(&s["fig4_sign_pattern"]["rate"]),
        ss = flag(&s["fig4_sign_pattern"]["spike"]),
        sn = flag(&s["fig4_sign_pattern"]["nn-stdp"]),
        r = num(&s["fig5_pearson_r"]),
        slope = num(&s["fig5_slope"]),
        diff = num(&s["mean_sq_ds_difference"]),
        dse = num(&s["mean_sq_ds_difference_se"]),
        rel = 100.0 * (with - without) / without,
    );
    crate::util::write_report(out, &report)?;
    Ok(())
}

/// The parts of a summary that must not depend on the thread count.
fn results_only(mut v: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        o.remove("seconds");
        o.remove("threads");
    }
    v
}

/// `cargo xtask bench stdp`: the default experiment's wall time (best and median of `runs`) at
/// 1 and 2 threads, and whether the two results are bit-identical.
pub fn bench(args: &[String]) -> Result<()> {
    let runs: usize = args.first().map(|a| a.parse()).transpose()?.unwrap_or(7);
    let bin = ebm_binary()?;
    let dir = std::env::temp_dir().join(format!("ebm-bench-stdp-{}", std::process::id()));
    let mut results = Vec::new();
    for threads in [1, 2] {
        let mut secs = Vec::new();
        let mut last = Value::Null;
        for _ in 0..runs {
            last = stdp(&bin, &dir, &["output.plots=false"], Some(threads))?;
            secs.push(num(&last["seconds"]));
        }
        secs.sort_by(f64::total_cmp);
        println!(
            "stdp 500x160x1000, {threads} thread(s): best {:.3} s, median {:.3} s ({runs} runs)",
            secs[0],
            secs[secs.len() / 2]
        );
        results.push(results_only(last));
    }
    let identical = results[0] == results[1];
    println!("results bit-identical at 1 and 2 threads: {identical}");
    std::fs::remove_dir_all(&dir).ok();
    if !identical {
        bail!("results differ between 1 and 2 threads");
    }
    Ok(())
}

/// A directory name for a variant: its first two words, joined by `-`, without punctuation.
fn slug(name: &str) -> String {
    name.split(' ')
        .take(2)
        .collect::<Vec<_>>()
        .join("-")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect()
}
