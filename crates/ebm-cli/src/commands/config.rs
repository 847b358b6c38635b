//! `ebm config show|check|presets`.

use ebm_config::{Preset, Section};

use crate::cli::{ConfigCommand, GlobalOpts};

/// Run a `config` subcommand.
pub fn run(cmd: &ConfigCommand, global: &GlobalOpts) -> anyhow::Result<()> {
    match cmd {
        ConfigCommand::Show => {
            let config = super::load(global, &Section::ALL)?;
            crate::say!("{}", config.to_toml_string().trim_end())?;
        }
        ConfigCommand::Check => {
            let source = super::source(global)?;
            super::load(global, &Section::ALL)?;
            crate::say!("ok: {}", source.describe())?;
        }
        ConfigCommand::Presets => {
            for p in Preset::ALL {
                crate::say!("{:<11} {}", p.name(), p.description())?;
            }
        }
    }
    Ok(())
}
