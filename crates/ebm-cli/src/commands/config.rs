//! `ebm config show|check|presets`.

use ebm_config::Preset;

use crate::cli::{ConfigCommand, GlobalOpts};

/// Run a `config` subcommand.
pub fn run(cmd: &ConfigCommand, global: &GlobalOpts) -> anyhow::Result<()> {
    match cmd {
        ConfigCommand::Show => {
            let config = super::load(global)?;
            print!("{}", config.to_toml_string());
        }
        ConfigCommand::Check => {
            let source = super::source(global)?;
            super::load(global)?;
            println!("ok: {}", source.describe());
        }
        ConfigCommand::Presets => {
            for p in Preset::ALL {
                println!("{:<11} {}", p.name(), p.description());
            }
        }
    }
    Ok(())
}
