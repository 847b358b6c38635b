//! `ebm`: the command line of the ebm workspace, and the results-directory convention it keeps.
//!
//! A thin edge: it parses arguments, builds and validates the configuration, calls the library
//! crates, and writes results (`summary.json`, `metrics.csv`, SVG plots) under `--out`. It owns
//! logging, progress bars and exit codes: 0 success, 2 bad input or configuration (or a
//! diverging run), 1 internal error, 130 interrupted.
//!
//! The binary (`src/main.rs`) only calls [`main`]. The library half exists so that another
//! front end (the Python package, `crates/ebm-py`) leaves a training run's directory exactly as
//! `ebm train` does: [`output::OutDir`] (the lock, the manifest, atomic writes) and
//! [`run_files::RunFiles`] (model, best model, checkpoint, `summary.json`, `metrics.csv`,
//! pictures and `report.html` after every epoch), with [`output::error_line`] for the one-line
//! error text both print.

#![allow(clippy::print_stdout, clippy::print_stderr)]

mod cli;
pub(crate) mod commands;
mod logging;
pub mod output;
mod pictures;
mod plot;
mod report;
pub mod run_files;

use std::process::ExitCode;

use clap::Parser;

/// The git commit this crate was built from (`"unknown"` outside a git checkout), as every
/// run's provenance records it.
pub const GIT_COMMIT: &str = env!("EBM_GIT_COMMIT");

/// The `ebm` command: parse the arguments, run the command, print the error line (if any) and
/// return the exit code.
pub fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    logging::init(cli.global.verbose, cli.global.quiet);
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {}", output::error_line(&err));
            ExitCode::from(output::exit_code(&err))
        }
    }
}
