//! Project automation, run as `cargo xtask <command>`.
//!
//! - `ci`: the checks CI runs, cheap first: `cargo fmt --check`, clippy with `-D warnings` on
//!   all targets, the tests, then the regression experiments in release mode and the
//!   bit-identity check against `xtask/baselines/`.
//! - `bitident`: that check alone.
//! - `reproduce NAME`: a named reproduction run writing `results/NAME/` with a `report.md`.
//! - `bench`: the benchmarks.
//! - `slurm-check`: a real single-node Slurm runs a sweep's job array.
//! - `simd-check`: the kernels' runtime SIMD dispatch on emulated baseline and AVX2 CPUs.
//! - `browser-check`: a run's HTML report rendered in headless Chromium.
//! - `python-check`: the Python package's wheel in a fresh virtual environment, its pytest suite.
//! - `make-mini-mnist --from DIR`: the embedded MNIST subset (`crates/trainer/data/mini-mnist/`).
//!
//! Kept light on purpose: it drives `cargo` and the `ebm` binary as processes.

#![allow(clippy::print_stdout, clippy::print_stderr)]

mod bench;
mod bench_ep;
mod bitident;
mod browser_check;
mod ci;
mod examples;
mod gradcheck;
mod mini_mnist;
mod python;
mod python_check;
mod regress;
mod reproduce;
mod rules;
mod simd_check;
mod slurm_check;
mod stdp;
mod util;

use anyhow::{Result, bail};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (cmd, rest) = args.split_first().map(|(c, r)| (c.as_str(), r)).unwrap_or(("help", &[]));
    match cmd {
        "ci" => ci::run_ci(rest),
        "make-mini-mnist" => mini_mnist::run(rest),
        "reproduce" => reproduce::run_reproduce(rest),
        "bench" => bench::run_bench(rest),
        "bitident" => bitident::run_bitident(rest),
        "regress" => regress::run_regress(rest),
        "examples" => examples::run_examples(),
        "slurm-check" => slurm_check::run_slurm_check(),
        "simd-check" => simd_check::run_simd_check(),
        "python-check" => python_check::run_python_check(),
        "browser-check" => browser_check::run_cli(rest),
        "help" | "--help" | "-h" => {
            println!("{}", HELP);
            Ok(())
        }
        other => bail!("unknown xtask command `{other}`\n{HELP}"),
    }
}

const HELP: &str = "\
cargo xtask <command>

  ci [--no-regression]    fmt --check, clippy -D warnings, tests, regression experiments
  reproduce NAME          a reproduction run into results/NAME/ with report.md
                          (propagate, ep-1h, ep-1h-code, stdp, rules, rules-code,
                          gradcheck, relax-steps)
  bench [NAME] [ARGS]     timed whole experiments (stdp, ep-1h)
  regress [NAME...] [--update-baselines]
                          the regression experiments of xtask/regressions.toml: a table,
                          $GITHUB_STEP_SUMMARY markdown, results/regress/junit.xml
  slurm-check             a real Slurm (installed from Debian if missing, started on
                          loopback) runs the 4-task array of `ebm sweep slurm` on
                          sweeps/tiny.toml; checks the tasks and `ebm sweep report`
  simd-check              the kernels' runtime SIMD dispatch under qemu-x86_64: ebm-core's
                          tests on a baseline x86-64, ebm train on baseline / AVX2 / native
  python-check            the Python package (crates/ebm-py): maturin builds its wheel into a
                          fresh target/python-check/venv (maturin, pytest, numpy from PyPI),
                          pytest runs crates/ebm-py/tests against the release ebm binary
  browser-check [--report FILE]
                          a short ebm train's report.html (or FILE) in headless Chromium:
                          no console error, every image loaded, a screenshot not blank
                          (results/browser-check/report.png)
  examples                the worked examples of docs/extending.md (crates/examples)
  bitident                the refactor's check: every baseline of xtask/baselines/
                          reproduced bit for bit by the current code
  make-mini-mnist --from DIR [--out DIR]
                          the embedded class-balanced MNIST subset, from the four files in DIR
";
