//! `cargo xtask bench ep-1h`: seconds per `ep-1h` training epoch (the minibatch loop, as the
//! peers time it) at 1 and 2 threads, and the numpy peer (`../shared/peers/peer_numpy.py`)
//! measured in the same invocation when python3 with numpy is available (`EBM_PEER_PYTHON`
//! names another interpreter).

use std::process::Command;

use anyhow::{Context, Result};

use crate::reproduce::median;
use crate::util::{ebm, mnist_dir, read_json, root, run};

/// Run the benchmark; `args[0]` is the number of epochs per measurement (default 2).
pub fn run_ep1h(args: &[String]) -> Result<()> {
    let epochs: usize = args.first().map(|a| a.parse()).transpose()?.unwrap_or(2);
    let data =
        mnist_dir().context("the ep-1h benchmark needs the full MNIST in ../shared/data/mnist")?;
    let mut rows = Vec::new();
    for threads in [1, 2] {
        let out = root().join(format!("results/bench-ep-1h-{threads}t"));
        let mut cmd = ebm()?;
        cmd.env("RAYON_NUM_THREADS", threads.to_string())
            .args(["train", "--preset", "ep-1h", "--force", "-q", "--set"])
            .arg(format!("training.epochs={epochs}"))
            .arg("--data")
            .arg(&data)
            .arg("--out")
            .arg(&out);
        cmd.stdout(std::process::Stdio::null());
        run(cmd, &format!("ebm train ep-1h, {threads} thread(s)"))?;
        let s = read_json(&out.join("summary.json"))?;
        let secs = median(s["epoch_seconds"].as_array().context("epoch_seconds")?);
        rows.push((format!("ebm, {threads} thread(s)"), secs));
    }
    let python = std::env::var("EBM_PEER_PYTHON").unwrap_or_else(|_| "python3".into());
    let peer = root().join("../shared/peers/peer_numpy.py");
    let has_numpy = Command::new(&python)
        .args(["-c", "import numpy"])
        .output()
        .is_ok_and(|o| o.status.success());
    if has_numpy && peer.exists() {
        let output = Command::new(&python)
            .arg(&peer)
            .args(["--epochs", &epochs.to_string(), "--threads", "1", "--data-dir"])
            .arg(&data)
            // Those variables slow a current numpy down; unset them for the peer only.
            .env_remove("OPENBLAS_CORETYPE")
            .env_remove("OPENBLAS_L2_SIZE")
            .output()
            .context("cannot run the numpy peer")?;
        let text = String::from_utf8_lossy(&output.stdout);
        let secs = text
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix("epoch_seconds="))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|v| v.parse::<f64>().ok())
            .context("the peer's last line has no epoch_seconds")?;
        rows.push(("numpy peer, 1 thread".into(), secs));
    } else {
        eprintln!("xtask: no python3 with numpy (set EBM_PEER_PYTHON): the peer is skipped");
    }
    println!("| ep-1h, median seconds per training epoch ({epochs} epochs) | s | ratio to numpy |");
    println!("|---|---|---|");
    let peer = rows.iter().find(|r| r.0.starts_with("numpy")).map(|r| r.1);
    for (name, secs) in &rows {
        let ratio = peer.map(|p| format!("{:.2}", secs / p)).unwrap_or_else(|| "-".into());
        println!("| {name} | {secs:.3} | {ratio} |");
    }
    Ok(())
}
