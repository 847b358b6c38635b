//! End-to-end tests of the `ebm` binary live in `tests/tests/`; this library holds their shared
//! helpers.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use trainer::data::idx::{self, IdxImages};
use trainer::data::{TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES, TRAIN_LABELS};

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

/// `--set` arguments of a tiny training run: 784-20-10, one epoch, 100 training and 50 test
/// examples of the embedded subset.
pub const SMALL: &[&str] = &[
    "--set",
    "model.layers=[784, 20, 10]",
    "--set",
    "training.epochs=1",
    "--set",
    "data.train_limit=100",
    "--set",
    "data.test_limit=50",
];

/// Run `ebm -q args` in `dir` and check the failure: exit code 2, exactly one stderr line
/// starting with `error: ` and containing every `expected` piece, no panic. Returns the line.
pub fn fails(dir: &Path, args: &[&str], expected: &[&str]) -> String {
    let mut all = vec!["-q"];
    all.extend(args);
    let out = run_in(dir, &all);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert_eq!(err.lines().count(), 1, "{args:?}: not one line: {err}");
    assert!(err.starts_with("error: "), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    for e in expected {
        assert!(err.contains(e), "{args:?}: expected `{e}` in: {err}");
    }
    err
}

/// `n` 28x28 images with a fixed pattern of pixels.
pub fn images(n: usize) -> IdxImages {
    IdxImages { rows: 28, cols: 28, pixels: (0..n * 784).map(|i| (i % 251) as u8).collect() }
}

/// A directory `root/name` with the four standard MNIST files, gzipped: `n_train` training and
/// `n_test` test images of [`images`], labels cycling through the digits.
pub fn mnist_dir(root: &Path, name: &str, n_train: usize, n_test: usize) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir(&dir).unwrap();
    for (iname, lname, n) in
        [(TRAIN_IMAGES, TRAIN_LABELS, n_train), (TEST_IMAGES, TEST_LABELS, n_test)]
    {
        let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
        std::fs::write(
            dir.join(format!("{iname}.gz")),
            idx::encode_images(&images(n), true).unwrap(),
        )
        .unwrap();
        std::fs::write(dir.join(format!("{lname}.gz")), idx::encode_labels(&labels, true).unwrap())
            .unwrap();
    }
    dir
}

/// Every file of `dir` with its bytes, sorted by path.
pub fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect();
    files.sort();
    files
}

/// A JSON file, parsed.
pub fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}
