//! `cargo xtask bench ep-1h` / `ep-deep`: training speed.
//!
//! `ep-1h`, in one invocation: seconds per `ep-1h` training epoch (the minibatch loop, as the
//! peers time it) on the sparse kernels and on the dense reference, at 1 and 2 threads; the
//! numpy peer (`../shared/peers/peer_numpy.py`) at 1 and 2 threads when python3 with numpy is
//! available (`EBM_PEER_PYTHON` names another interpreter); the whole process of both (one
//! epoch with its default evaluation, data loading and files included: what a user waits
//! for), median of 3; a single-thread f32 GEMM and a memory copy measured in the same run, and
//! the dense and sparse FLOP bounds they give. `ep-deep`: seconds per epoch for `ep-2h` and
//! `ep-3h` sizes at their presets' step counts (measured on a subset, scaled to 60,000
//! examples) and the achieved dense-equivalent GFLOP/s against that GEMM peak.

use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result};
use ebm_config::{BetaSign, Config, Preset};

use crate::reproduce::median;
use crate::util::{ebm, mnist_dir, read_json, root, run};

/// Training examples in an MNIST epoch.
const EPOCH: f64 = 60_000.0;

/// Single-thread f32 GEMM throughput in GFLOP/s: the best of 5 products of 1024 x 1024 matrices
/// (the same matrixmultiply kernel the trainer's dense products use).
pub fn gemm_peak() -> f64 {
    use ndarray::Array2;
    use ndarray::linalg::general_mat_mul;
    let n = 1024;
    let a = Array2::from_shape_fn((n, n), |(i, j)| ((i * 7 + j * 3) % 17) as f32 / 17.0);
    let b = Array2::from_shape_fn((n, n), |(i, j)| ((i * 5 + j * 11) % 13) as f32 / 13.0);
    let mut c = Array2::<f32>::zeros((n, n));
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let t = Instant::now();
        general_mat_mul(1.0, &a, &b, 0.0, &mut c);
        best = best.min(t.elapsed().as_secs_f64());
    }
    std::hint::black_box(&c);
    2.0 * (n * n * n) as f64 / best / 1e9
}

/// Dense-equivalent FLOPs per training example of a preset: the input drive and the first
/// layer's update (each `2 n_0 n_1`, computed once per minibatch), every other product in both
/// directions at each of the `T + K` steps (one nudged phase; two when centred), and the other
/// layers' updates (two outer products each).
pub fn flops_per_example(config: &Config) -> f64 {
    let l = &config.model.layers;
    let nudged = match config.training.beta_sign {
        BetaSign::Centred => 2,
        _ => 1,
    };
    let steps = (config.dynamics.free_steps + nudged * config.dynamics.nudged_steps) as f64;
    let input = 2.0 * 2.0 * (l[0] * l[1]) as f64;
    let inner: f64 = l[1..].windows(2).map(|w| (w[0] * w[1]) as f64).sum();
    input + steps * 2.0 * 2.0 * inner + 2.0 * 2.0 * inner
}

/// Memory bandwidth in GB/s: the best of 5 copies of a 256 MB buffer (read + write counted).
pub fn copy_bandwidth() -> f64 {
    let n = 64 << 20;
    let src = vec![1.0f32; n];
    let mut dst = vec![0.0f32; n];
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let t = Instant::now();
        dst.copy_from_slice(&src);
        std::hint::black_box(&mut dst);
        best = best.min(t.elapsed().as_secs_f64());
    }
    2.0 * (n * 4) as f64 / best / 1e9
}

/// The mean fraction of non-zero pixels of the MNIST training images in `dir`.
fn input_density(dir: &std::path::Path) -> Result<f64> {
    let limits = trainer::data::Limits { train: None, test: Some(1), validation: 0 };
    let data = trainer::data::DataSplits::load_dir(dir, limits)?;
    let images = &data.train.images;
    let nonzero = images.iter().filter(|&&v| v != 0.0).count();
    Ok(nonzero as f64 / images.len() as f64)
}

/// [`flops_per_example`] with the input products (`rho(x) W_0` and `dW_0`) counted at the
/// input's `density`: the work the sparse kernels do.
pub fn sparse_flops_per_example(config: &Config, density: f64) -> f64 {
    let l = &config.model.layers;
    let input = 2.0 * 2.0 * (l[0] * l[1]) as f64;
    flops_per_example(config) - input * (1.0 - density)
}

/// One training run of `preset` with `sets` overrides; returns the median epoch seconds.
fn train_seconds(preset: &str, threads: usize, sets: &[String], tag: &str) -> Result<f64> {
    let data = mnist_dir()
        .context("the training benchmarks need the full MNIST in ../shared/data/mnist")?;
    let out = root().join(format!("results/bench-{tag}-{threads}t"));
    let mut cmd = ebm()?;
    cmd.env("RAYON_NUM_THREADS", threads.to_string())
        .args(["train", "--preset", preset, "--force", "-q", "--data"])
        .arg(&data)
        .arg("--out")
        .arg(&out);
    for s in sets {
        cmd.arg("--set").arg(s);
    }
    cmd.stdout(std::process::Stdio::null());
    run(cmd, &format!("ebm train {preset} ({tag}), {threads} thread(s)"))?;
    let s = read_json(&out.join("summary.json"))?;
    Ok(median(s["epoch_seconds"].as_array().context("epoch_seconds")?))
}

/// The numpy peer's seconds per epoch at `threads` threads, or `None` without python3 + numpy.
fn numpy_peer(epochs: usize, threads: usize) -> Result<Option<f64>> {
    let Some(mut cmd) = peer_command(epochs, threads)? else { return Ok(None) };
    let output = cmd.output().context("cannot run the numpy peer")?;
    let text = String::from_utf8_lossy(&output.stdout);
    let secs = text
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("epoch_seconds="))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|v| v.parse::<f64>().ok())
        .context("the peer's last line has no epoch_seconds")?;
    Ok(Some(secs))
}

/// Wall seconds of `cmd` as a whole process, median of 3 runs.
fn whole_process(mut make: impl FnMut() -> Result<Command>, what: &str) -> Result<f64> {
    let mut times = Vec::new();
    for _ in 0..3 {
        let mut cmd = make()?;
        cmd.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
        let t = Instant::now();
        let status = cmd.status().with_context(|| format!("cannot start {what}"))?;
        times.push(t.elapsed().as_secs_f64());
        anyhow::ensure!(status.success(), "{what} failed ({status})");
    }
    times.sort_by(f64::total_cmp);
    Ok(times[1])
}

/// The peer's command line, or `None` without python3 + numpy.
fn peer_command(epochs: usize, threads: usize) -> Result<Option<Command>> {
    let python = std::env::var("EBM_PEER_PYTHON").unwrap_or_else(|_| "python3".into());
    let peer = root().join("../shared/peers/peer_numpy.py");
    let has_numpy = Command::new(&python)
        .args(["-c", "import numpy"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_numpy || !peer.exists() {
        eprintln!("xtask: no python3 with numpy (set EBM_PEER_PYTHON): the peer is skipped");
        return Ok(None);
    }
    let data = mnist_dir().context("the numpy peer needs the full MNIST")?;
    let mut cmd = Command::new(&python);
    cmd.arg(&peer)
        .args(["--epochs", &epochs.to_string(), "--threads", &threads.to_string(), "--data-dir"])
        .arg(&data)
        // Those variables slow a current numpy down; unset them for the peer only.
        .env_remove("OPENBLAS_CORETYPE")
        .env_remove("OPENBLAS_L2_SIZE");
    Ok(Some(cmd))
}

/// `cargo xtask bench ep-1h [EPOCHS]` (default 2 epochs per measurement).
pub fn run_ep1h(args: &[String]) -> Result<()> {
    let epochs: usize = args.first().map(|a| a.parse()).transpose()?.unwrap_or(2);
    let data = mnist_dir().context("the ep-1h benchmark needs the full MNIST")?;
    let peak = gemm_peak();
    let bandwidth = copy_bandwidth();
    let density = input_density(&data)?;
    let config = Preset::Ep1h.config();
    let dense_flops = flops_per_example(&config);
    let sparse_flops = sparse_flops_per_example(&config, density);
    let bound = dense_flops * EPOCH / (peak * 1e9);
    let sparse_bound = sparse_flops * EPOCH / (peak * 1e9);
    let mut rows = Vec::new();
    for kernels in ["sparse", "dense"] {
        for threads in [1, 2] {
            let sets = [format!("training.epochs={epochs}"), format!("dynamics.kernels={kernels}")];
            let secs = train_seconds("ep-1h", threads, &sets, &format!("ep-1h-{kernels}"))?;
            rows.push((format!("ebm {kernels}, {threads} thread(s)"), secs));
        }
    }
    for threads in [1, 2] {
        if let Some(secs) = numpy_peer(epochs, threads)? {
            rows.push((format!("numpy peer, {threads} thread(s)"), secs));
        }
    }
    // What a user waits for: one epoch with its default evaluation, as a whole process.
    let mut whole = Vec::new();
    for threads in [1, 2] {
        let ebm_whole = whole_process(
            || {
                let mut cmd = ebm()?;
                cmd.env("RAYON_NUM_THREADS", threads.to_string())
                    .args(["train", "--preset", "ep-1h", "--set", "training.epochs=1"])
                    .args(["--force", "-q", "--data"])
                    .arg(&data)
                    .arg("--out")
                    .arg(root().join(format!("results/bench-whole-{threads}t")));
                Ok(cmd)
            },
            "ebm train (whole process)",
        )?;
        whole.push((format!("ebm, {threads} thread(s)"), ebm_whole));
        if peer_command(1, threads)?.is_some() {
            let peer_whole = whole_process(
                || peer_command(1, threads)?.context("the peer vanished"),
                "the numpy peer (whole process)",
            )?;
            whole.push((format!("numpy peer, {threads} thread(s)"), peer_whole));
        }
    }
    println!("GEMM (1024^3 f32, 1 thread): {peak:.1} GFLOP/s");
    println!("memory copy (256 MB, 1 thread): {bandwidth:.1} GB/s (read + write)");
    println!(
        "ep-1h dense FLOP bound: {:.2} MFLOP/example x 60000 / GEMM peak = {bound:.2} s",
        dense_flops / 1e6
    );
    println!(
        "ep-1h sparse FLOP bound (input density {:.1}%): {:.2} MFLOP/example x 60000 / GEMM peak = {sparse_bound:.2} s",
        100.0 * density,
        sparse_flops / 1e6
    );
    println!();
    println!(
        "| ep-1h, median seconds per training epoch ({epochs} epochs) | s | ratio to numpy (1 thread) | ratio to the faster numpy | ratio to sparse bound |"
    );
    println!("|---|---|---|---|---|");
    let peer1 = rows.iter().find(|r| r.0 == "numpy peer, 1 thread(s)").map(|r| r.1);
    let best_peer = rows.iter().filter(|r| r.0.starts_with("numpy")).map(|r| r.1).reduce(f64::min);
    let ratio = |x: f64, p: Option<f64>| p.map_or_else(|| "-".into(), |p| format!("{:.2}", x / p));
    for (name, secs) in &rows {
        println!(
            "| {name} | {secs:.3} | {} | {} | {:.2} |",
            ratio(*secs, peer1),
            ratio(*secs, best_peer),
            secs / sparse_bound
        );
    }
    println!();
    println!(
        "| whole process: 1 epoch + default evaluation (median of 3) | s | ratio to numpy, same threads |"
    );
    println!("|---|---|---|");
    for (name, secs) in &whole {
        let threads = name.rsplit(", ").next().unwrap_or_default();
        let peer = whole.iter().find(|w| w.0 == format!("numpy peer, {threads}")).map(|w| w.1);
        println!("| {name} | {secs:.2} | {} |", ratio(*secs, peer));
    }
    Ok(())
}

/// `cargo xtask bench ep-deep [EXAMPLES]`: `ep-2h` and `ep-3h` sizes at their presets' step
/// counts, one epoch of EXAMPLES training examples (default 1000) at 1 thread, scaled to 60,000.
pub fn run_deep(args: &[String]) -> Result<()> {
    let examples: usize = args.first().map(|a| a.parse()).transpose()?.unwrap_or(1000);
    let peak = gemm_peak();
    println!("GEMM (1024^3 f32, 1 thread): {peak:.1} GFLOP/s");
    println!();
    println!(
        "| preset | T / K | s per 60k epoch (1 thread) | dense-equivalent GFLOP/s | fraction of GEMM peak |"
    );
    println!("|---|---|---|---|---|");
    for (name, preset) in [("ep-2h", Preset::Ep2h), ("ep-3h", Preset::Ep3h)] {
        let config = preset.config();
        let sets = [
            "training.epochs=1".to_owned(),
            format!("data.train_limit={examples}"),
            "data.test_limit=100".to_owned(),
        ];
        let secs = train_seconds(name, 1, &sets, name)? * EPOCH / examples as f64;
        let gflops = flops_per_example(&config) * EPOCH / secs / 1e9;
        println!(
            "| {name} | {} / {} | {secs:.0} | {gflops:.1} | {:.2} |",
            config.dynamics.free_steps,
            config.dynamics.nudged_steps,
            gflops / peak
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flop_count_of_ep_1h_is_the_closed_form() {
        // 4 n0 n1 (input drive + W_0 update) + (T + K) 4 n1 n2 + 4 n1 n2 (W_1 update).
        let expected = 4.0 * 784.0 * 500.0 + 24.0 * 4.0 * 5000.0 + 4.0 * 5000.0;
        assert_eq!(flops_per_example(&Preset::Ep1h.config()), expected);
        let mut centred = Preset::Ep1h.config();
        centred.training.beta_sign = BetaSign::Centred;
        assert_eq!(flops_per_example(&centred), expected + 4.0 * 4.0 * 5000.0);
    }
}
