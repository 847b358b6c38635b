//! `cargo xtask simd-check`: the kernels' runtime SIMD dispatch on CPUs this machine is not.
//!
//! The release binary is built for baseline x86-64 and picks AVX-512, AVX2+FMA or the
//! baseline version of each relaxation kernel at run time (ebm-core's `simd_kernel!`). Under
//! QEMU's user-mode emulator (`qemu-x86_64`, Debian's `qemu-user`):
//!
//! 1. ebm-core's test suite runs on an emulated baseline CPU (`-cpu qemu64`: SSE2, no AVX):
//!    every kernel test (bit-for-bit orders, sparse against dense, fused against unfused)
//!    passes on the fallback versions;
//! 2. a short `ebm train` runs natively, on `-cpu max` (AVX2 + FMA, no AVX-512: QEMU does not
//!    emulate AVX-512) and on `-cpu qemu64`. Native and AVX2 must give the same parameters bit
//!    for bit (the AVX-512 and AVX2 kernels against each other); the baseline run must finish
//!    with the same errors. Its parameters may differ in the last bits: matrixmultiply (the
//!    GEMMs) uses fused multiply-adds where the CPU has FMA, and qemu64 has none.
//!
//! Without `qemu-x86_64` the check fails, since `.ci/run` installs it; off x86-64 it is skipped.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::util::{cargo, ebm, read_json, root, run};

/// `cargo xtask simd-check`.
pub fn run_simd_check() -> Result<()> {
    if !cfg!(target_arch = "x86_64") {
        eprintln!("xtask: simd-check: not an x86-64 machine, skipped");
        return Ok(());
    }
    // Looked up on PATH, as `.ci/run` checks for it.
    let qemu = Path::new("qemu-x86_64");
    if !Command::new(qemu).arg("--version").output().is_ok_and(|o| o.status.success()) {
        bail!(
            "simd-check needs qemu-x86_64 on PATH (Debian package qemu-user; .ci/run installs it)"
        );
    }
    let tests = core_test_binary()?;
    let mut cmd = Command::new(qemu);
    cmd.args(["-cpu", "qemu64"]).arg(&tests).arg("-q");
    run(cmd, "ebm-core tests on a baseline x86-64 (qemu64)")?;

    let out = root().join("results/simd-check");
    let train = |runner: Option<&str>, name: &str| -> Result<serde_json::Value> {
        let mut cmd = ebm()?;
        let dir = out.join(name);
        let mut args: Vec<String> = [
            "train",
            "--set",
            "data.train_limit=400",
            "--set",
            "data.test_limit=200",
            "--set",
            "training.epochs=1",
            "--force",
            "-q",
            "--out",
        ]
        .map(str::to_owned)
        .to_vec();
        args.push(dir.display().to_string());
        if let Some(cpu) = runner {
            let binary = cmd.get_program().to_owned();
            cmd = Command::new(qemu);
            cmd.current_dir(root()).args(["-cpu", cpu]).arg(binary);
        }
        cmd.args(&args).stdout(std::process::Stdio::null());
        run(cmd, &format!("ebm train ({name})"))?;
        read_json(&dir.join("summary.json"))
    };
    let native = train(None, "native")?;
    let avx2 = train(Some("max"), "avx2")?;
    let baseline = train(Some("qemu64"), "baseline")?;
    let key = |v: &serde_json::Value, k: &str| v[k].clone();
    for (run, want) in [(&avx2, "avx2+fma"), (&baseline, "baseline")] {
        if run["provenance"]["simd"] != want {
            bail!("the emulated run used the {} kernels, not {want}", run["provenance"]["simd"]);
        }
    }
    if key(&native, "model_sha256") != key(&avx2, "model_sha256") {
        bail!(
            "the AVX2 kernels give other parameters than the native ones: {} vs {}",
            key(&avx2, "model_sha256"),
            key(&native, "model_sha256")
        );
    }
    for k in ["final_test_error", "final_train_error_running"] {
        if key(&native, k) != key(&baseline, k) {
            bail!("{k}: {} on the baseline CPU, {} natively", key(&baseline, k), key(&native, k));
        }
    }
    eprintln!(
        "xtask: simd-check passed: native and AVX2 bit-identical ({}), baseline x86-64 test error {} as native",
        key(&native, "model_sha256"),
        key(&native, "final_test_error")
    );
    Ok(())
}

/// Build ebm-core's release test binary and return its path.
fn core_test_binary() -> Result<PathBuf> {
    let mut cmd = cargo(&[
        "test",
        "--release",
        "--package",
        "ebm-core",
        "--lib",
        "--no-run",
        "--message-format=json",
    ]);
    cmd.stderr(std::process::Stdio::inherit());
    let output = cmd.output().context("cannot build ebm-core's tests")?;
    if !output.status.success() {
        bail!("building ebm-core's tests failed ({})", output.status);
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["profile"]["test"] == true)
        .filter(|m| m["target"]["name"] == "ebm_core")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .context("cargo named no ebm-core test executable")
}
