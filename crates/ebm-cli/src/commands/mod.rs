//! One module per command; each maps its arguments to library calls.

mod compare;
mod config;
mod data;
mod eval;
mod gradcheck;
mod plot;
mod propagate;
mod relax;
mod relax_steps;
pub(crate) mod run_report;
mod sample;
mod stdp;
mod sweep;
mod symmetry;
pub(crate) mod train;

use anyhow::Context as _;
use ebm_config::{ConfigSource, Section, ValidConfig};

use crate::cli::{Cli, Command, GlobalOpts};

/// Dispatch a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    if let Some(n) = cli.global.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n as usize)
            .build_global()
            .context("cannot configure the thread pool")?;
    }
    match &cli.command {
        Command::Config(cmd) => config::run(cmd, &cli.global),
        Command::Data(cmd) => data::run(cmd),
        Command::Stdp(args) => stdp::run(args, &cli.global),
        Command::Propagate => propagate::run(&cli.global),
        Command::Sample => sample::run(&cli.global),
        Command::Gradcheck(args) => gradcheck::run(args, &cli.global),
        Command::RelaxSteps(args) => relax_steps::run(args, &cli.global),
        Command::Symmetry(args) => symmetry::run(args, &cli.global),
        Command::Relax(args) => relax::run(args, &cli.global),
        Command::Plot(args) => plot::run(args),
        Command::Train(args) => train::run(args, &cli.global),
        Command::Eval(args) => eval::run(args, &cli.global),
        Command::Compare(args) => compare::run(args, &cli.global),
        Command::Sweep(cmd) => sweep::run(cmd, &cli.global),
    }
}

/// The configuration source described by the global options.
pub fn source(global: &GlobalOpts) -> anyhow::Result<ConfigSource> {
    let preset = global.preset.as_deref().map(str::parse).transpose()?;
    let mut source = ConfigSource { preset, file: global.config.clone(), overrides: vec![] };
    for raw in overrides(global) {
        source.set(&raw)?;
    }
    Ok(source)
}

/// The `--set` overrides in order, then `--seed N` as `seed=N`: what applies on top of a base
/// configuration (a preset and file, or a checkpoint's saved config).
pub fn overrides(global: &GlobalOpts) -> Vec<String> {
    let mut overrides = global.overrides.clone();
    if let Some(seed) = global.seed {
        overrides.push(format!("seed={seed}"));
    }
    overrides
}

/// Load the effective configuration and validate the `sections` the command uses (a bad value
/// in another section does not stop it).
pub fn load(global: &GlobalOpts, sections: &[Section]) -> anyhow::Result<ValidConfig> {
    let source = source(global)?;
    let config = source.load()?;
    let valid = config.validate_sections(sections).map_err(|e| match e {
        ebm_config::ConfigError::Invalid { errors, .. } => {
            ebm_config::ConfigError::Invalid { origin: Some(source.describe()), errors }
        }
        other => other,
    });
    Ok(valid?)
}
