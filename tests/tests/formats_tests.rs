//! `docs/formats.md`'s numpy example, run as written: it reads a run's `model.npz` and the
//! test files and must count the same misclassified examples as `ebm eval`, for the
//! synchronous and the layer-alternating schedule.
//!
//! It needs a Python with numpy: `EBM_PYTHON` (default `python3`). When numpy is missing the
//! test fails if `EBM_REQUIRE_NUMPY=1` (as `.ci/run` sets, after installing numpy), and is
//! skipped with a message otherwise.

use std::path::Path;
use std::process::Command;

use ebm_tests::{run_in, stderr, stdout};
use trainer::data::{TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES, TRAIN_LABELS, embedded};

/// The first ```python block of `docs/formats.md`.
fn example() -> String {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/formats.md"))
            .unwrap();
    let start = doc.find("```python\n").expect("a python block") + "```python\n".len();
    let len = doc[start..].find("```").expect("the block ends");
    doc[start..start + len].to_owned()
}

#[allow(clippy::print_stderr)]
fn python() -> Option<String> {
    let python = std::env::var("EBM_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let has_numpy =
        Command::new(&python).args(["-c", "import numpy"]).status().is_ok_and(|s| s.success());
    if has_numpy {
        return Some(python);
    }
    assert!(
        std::env::var("EBM_REQUIRE_NUMPY").as_deref() != Ok("1"),
        "EBM_REQUIRE_NUMPY=1 but {python} cannot import numpy"
    );
    eprintln!("formats_tests: skipped: {python} has no numpy (set EBM_PYTHON)");
    None
}

#[test]
fn the_numpy_example_counts_the_same_errors_as_ebm_eval() {
    let Some(python) = python() else { return };
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let script = w.join("read_model.py");
    std::fs::write(&script, example()).unwrap();
    // the embedded subset's real digits (10,000 / 2,000), as files
    let data = w.join("mnist");
    std::fs::create_dir(&data).unwrap();
    let files = [
        (TRAIN_IMAGES, embedded::TRAIN_IMAGES_GZ),
        (TRAIN_LABELS, embedded::TRAIN_LABELS_GZ),
        (TEST_IMAGES, embedded::TEST_IMAGES_GZ),
        (TEST_LABELS, embedded::TEST_LABELS_GZ),
    ];
    for (name, bytes) in files {
        std::fs::write(data.join(format!("{name}.gz")), bytes).unwrap();
    }
    for (name, schedule, epsilon) in [("sync", "synchronous", "0.5"), ("alt", "alternating", "1.0")]
    {
        let schedule = format!("dynamics.schedule=\"{schedule}\"");
        let epsilon = format!("dynamics.epsilon={epsilon}");
        let args = [
            "-q",
            "train",
            "--data",
            "mnist",
            "--out",
            name,
            "--set",
            "model.layers=[784, 30, 10]",
            "--set",
            "training.epochs=1",
            "--set",
            &schedule,
            "--set",
            &epsilon,
        ];
        let out = run_in(w, &args);
        assert!(out.status.success(), "{}", stderr(&out));
        let model = w.join(name).join("model.npz");
        let eval = run_in(w, &["-q", "eval", "--checkpoint", model.to_str().unwrap()]);
        assert!(eval.status.success(), "{}", stderr(&eval));
        let eval = stdout(&eval);
        let count = eval.split(" misclassified").next().and_then(|s| s.split('(').nth(1)).unwrap();
        let py = Command::new(&python).arg(&script).arg(&model).arg(&data).output().unwrap();
        assert!(py.status.success(), "{}", String::from_utf8_lossy(&py.stderr));
        let py = String::from_utf8_lossy(&py.stdout).trim().to_owned();
        assert_eq!(py.split(" misclassified").next(), Some(count), "numpy: {py}; ebm: {eval}");
    }
}
