//! `ebm`: the command line of the ebm workspace.
//!
//! A thin edge: it parses arguments, builds and validates the configuration, calls the library
//! crates, and writes results (`summary.json`, `metrics.csv`, SVG plots) under `--out`. It owns
//! logging, progress bars and exit codes: 0 success, 2 bad input or configuration (or a
//! diverging run), 1 internal error, 130 interrupted.

#![allow(clippy::print_stdout, clippy::print_stderr)]

mod cli;
mod commands;
mod logging;
mod output;
mod pictures;
mod plot;
mod report;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
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
