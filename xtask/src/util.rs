//! Running commands from the workspace root.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};

/// The workspace root (parent of `xtask/`).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask has a parent").to_owned()
}

/// `cargo` with the given arguments, run from the workspace root.
pub fn cargo(args: &[&str]) -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.args(args).current_dir(root());
    cmd
}

/// Run a command, failing with its description if it exits non-zero.
pub fn run(mut cmd: Command, what: &str) -> Result<()> {
    eprintln!("xtask: {what}: {cmd:?}");
    let status = cmd.status().with_context(|| format!("cannot start {what}"))?;
    if !status.success() {
        bail!("{what} failed ({status})");
    }
    Ok(())
}

/// Build the release `ebm` binary and return a command that runs it from the workspace root
/// (the binary is looked up in `CARGO_TARGET_DIR` when set, else `target/`).
pub fn ebm() -> Result<Command> {
    run(cargo(&["build", "--release", "--quiet", "--package", "ebm-cli"]), "release build")?;
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from);
    let mut cmd = Command::new(target.join("release/ebm"));
    cmd.current_dir(root());
    Ok(cmd)
}

/// The full MNIST beside the project (`../shared/data/mnist`), when present.
pub fn mnist_dir() -> Option<PathBuf> {
    let dir = root().parent()?.join("shared/data/mnist");
    dir.join("train-images-idx3-ubyte.gz").exists().then_some(dir)
}

/// Read a JSON file.
pub fn read_json(path: &std::path::Path) -> Result<serde_json::Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not valid JSON", path.display()))
}

/// Write `out/report.md` atomically (temp file + rename) and print its path.
pub fn write_report(out: &std::path::Path, report: &str) -> Result<()> {
    let path = out.join("report.md");
    trainer::io::write_atomic(&path, report.as_bytes())?;
    println!("{}", path.display());
    Ok(())
}
