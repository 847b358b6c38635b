//! A Python virtual environment for the checks that run Python (`docs/formats.md`'s numpy
//! example): `target/ci-venv`, made with the machine's `python3` and filled from PyPI.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result};

use crate::util::{root, run};

/// The environment's interpreter, after making sure `modules` import (installing `packages`
/// with pip when one does not).
pub fn venv_python(modules: &[&str], packages: &[&str]) -> Result<PathBuf> {
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from);
    let venv = target.join("ci-venv");
    let python = venv.join("bin/python");
    if !python.exists() {
        let mut cmd = Command::new("python3");
        cmd.args(["-m", "venv"]).arg(&venv);
        run(cmd, "python3 -m venv target/ci-venv")?;
    }
    let imports = modules.iter().map(|m| format!("import {m}")).collect::<Vec<_>>().join("; ");
    let ready = Command::new(&python)
        .args(["-c", &imports])
        .output()
        .with_context(|| format!("cannot run {}", python.display()))?
        .status
        .success();
    if !ready {
        let mut cmd = Command::new(&python);
        cmd.args(["-m", "pip", "install", "--quiet"]).args(packages);
        run(cmd, "pip install into target/ci-venv")?;
    }
    Ok(python)
}
