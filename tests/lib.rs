//! End-to-end tests of the `ebm` binary live in `tests/tests/`; this library holds their shared
//! helpers.

use std::path::PathBuf;
use std::process::{Command, Output};

/// The `ebm` binary in the same target directory and profile as the test executable
/// (`target/<profile>/ebm`), built (once per test process) so it is never stale.
pub fn ebm_path() -> PathBuf {
    static BUILD: std::sync::Once = std::sync::Once::new();
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe.parent().and_then(|d| d.parent()).expect("target/<profile>").to_owned();
    BUILD.call_once(|| {
        let mut cmd = Command::new(env!("CARGO"));
        cmd.args(["build", "--quiet", "--package", "ebm-cli", "--bin", "ebm"]);
        // `cargo test` gives this process the test package's CARGO_PKG_* / CARGO_MANIFEST_*
        // variables; build scripts that watch them (ring's) would then rerun, and every
        // alternation with a plain `cargo build` would rebuild the TLS stack and the binary.
        for (key, _) in std::env::vars_os() {
            let key = key.to_string_lossy();
            let from_cargo_test = ["CARGO_PKG_", "CARGO_MANIFEST_", "CARGO_CRATE_", "CARGO_BIN_"]
                .iter()
                .any(|p| key.starts_with(p))
                || key == "CARGO_PRIMARY_PACKAGE"
                || key == "CARGO_TARGET_TMPDIR";
            if from_cargo_test {
                cmd.env_remove(key.as_ref());
            }
        }
        if dir.ends_with("release") {
            cmd.arg("--release");
        }
        if let Some(target) = dir.parent() {
            cmd.arg("--target-dir").arg(target);
        }
        let status = cmd.current_dir(env!("CARGO_MANIFEST_DIR")).status().expect("cargo runs");
        assert!(status.success(), "building the ebm binary failed");
    });
    dir.join(format!("ebm{}", std::env::consts::EXE_SUFFIX))
}

/// A command running the `ebm` binary.
pub fn ebm() -> Command {
    let mut cmd = Command::new(ebm_path());
    cmd.env_remove("RUST_LOG");
    cmd
}

/// Run `ebm` with `args` in `dir`.
pub fn run_in(dir: &std::path::Path, args: &[&str]) -> Output {
    ebm().args(args).current_dir(dir).output().expect("ebm runs")
}

/// The process's stderr as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The process's stdout as text.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The full MNIST beside the workspace, when present.
pub fn shared_mnist() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/mnist");
    dir.join("train-images-idx3-ubyte.gz").exists().then_some(dir)
}
