//! `cargo xtask ci`: every check CI runs, cheapest first.

use anyhow::Result;

use crate::util::{cargo, run};

/// Run the checks; `--no-regression` skips the release-mode regression experiments and the
/// bit-identity check.
pub fn run_ci(args: &[String]) -> Result<()> {
    let regression = !args.iter().any(|a| a == "--no-regression");
    run(cargo(&["fmt", "--all", "--", "--check"]), "rustfmt")?;
    run(cargo(&["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]), "clippy")?;
    // docs/formats.md's numpy example is a test: it must run here, not be skipped.
    let python = crate::python::venv_python(&["numpy"], &["numpy"])?;
    let mut tests = cargo(&["test", "--workspace", "--release"]);
    tests.env("EBM_PYTHON", &python).env("EBM_REQUIRE_NUMPY", "1");
    run(tests, "tests")?;
    if regression {
        crate::examples::run_examples()?;
        crate::regress::run_regress(&[])?;
        // The numbers the round-1 code produced, bit for bit (the refactor's guard).
        crate::bitident::run_bitident(&[])?;
        // The baseline and AVX2 kernels on emulated CPUs (the binary is built without
        // target-cpu=native and dispatches at run time).
        crate::simd_check::run_simd_check()?;
        // A run's report.html in headless Chromium: no errors, images loaded, not blank.
        crate::browser_check::run_browser_check()?;
        // The Python package: its wheel in a fresh venv, pytest against the release binary.
        crate::python_check::run_python_check()?;
        // `ebm sweep slurm`'s array script, submitted to a real Slurm (about a minute).
        crate::slurm_check::run_slurm_check()?;
    }
    eprintln!("xtask: all checks passed");
    Ok(())
}
