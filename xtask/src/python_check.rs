//! `cargo xtask python-check`: the Python package (`crates/ebm-py`, `docs/python.md`) as a
//! user installs it. In a fresh virtual environment `target/python-check/venv` (the machine's
//! `python3`; maturin, pytest and numpy from PyPI), maturin builds the release wheel into
//! `target/python-check/wheels`, pip installs it, and pytest runs `crates/ebm-py/tests` with
//! `EBM_BIN` set to the release `ebm` binary, so the comparisons with the CLI (bit-identical
//! training, `ebm eval`'s predictions, `--resume` of a Python checkpoint, the error messages)
//! run rather than skip.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::util::{ebm, root, run};

/// `cargo xtask python-check`.
pub fn run_python_check() -> Result<()> {
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from);
    let ebm_bin = target.join("release/ebm");
    // Builds the release binary (the CLI side of the comparisons).
    drop(ebm()?);
    if !ebm_bin.exists() {
        bail!("the release build left no {}", ebm_bin.display());
    }

    let dir = target.join("python-check");
    let venv = dir.join("venv");
    let wheels = dir.join("wheels");
    for d in [&venv, &wheels] {
        if d.exists() {
            std::fs::remove_dir_all(d).with_context(|| format!("cannot remove {}", d.display()))?;
        }
    }
    let mut cmd = Command::new("python3");
    cmd.args(["-m", "venv"]).arg(&venv);
    run(cmd, "python3 -m venv target/python-check/venv")?;
    let python = venv.join("bin/python");
    let mut cmd = Command::new(&python);
    cmd.args(["-m", "pip", "install", "--quiet", "maturin", "pytest", "numpy"]);
    run(cmd, "pip install maturin pytest numpy")?;

    let manifest = root().join("crates/ebm-py/Cargo.toml");
    let mut cmd = Command::new(venv.join("bin/maturin"));
    cmd.args(["build", "--release", "--quiet", "-m"]).arg(&manifest).arg("-o").arg(&wheels);
    cmd.current_dir(root());
    run(cmd, "maturin build (the ebm wheel)")?;
    let wheel = std::fs::read_dir(&wheels)
        .with_context(|| format!("cannot list {}", wheels.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .with_context(|| format!("maturin wrote no wheel to {}", wheels.display()))?;
    let mut cmd = Command::new(&python);
    cmd.args(["-m", "pip", "install", "--quiet"]).arg(&wheel);
    run(cmd, "pip install the wheel")?;

    let mut cmd = Command::new(&python);
    cmd.args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "crates/ebm-py/tests"]);
    cmd.current_dir(root()).env("EBM_BIN", &ebm_bin).env("PYTHONDONTWRITEBYTECODE", "1");
    run(cmd, "pytest crates/ebm-py/tests")
}
