//! `ebm data fetch DATASET --dir DIR [--mirror URL]...`.

use std::time::Duration;

use trainer::data::{FetchOptions, fetch_dataset};

use crate::cli::DataCommand;

/// Run a `data` subcommand.
pub fn run(cmd: &DataCommand) -> anyhow::Result<()> {
    match cmd {
        DataCommand::Fetch { dataset, dir, mirrors, connect_timeout, read_timeout } => {
            let mut options = FetchOptions {
                connect_timeout: Duration::from_secs(*connect_timeout),
                read_timeout: Duration::from_secs(*read_timeout),
                ..FetchOptions::default()
            };
            if !mirrors.is_empty() {
                options.mirrors.clone_from(mirrors);
            }
            for f in fetch_dataset(dataset, dir, &options)? {
                match &f.url {
                    Some(url) => crate::say!(
                        "{}: {} bytes from {url}, sha256 {}",
                        f.path.display(),
                        f.bytes,
                        f.sha256
                    )?,
                    None => {
                        crate::say!("{}: already present, sha256 {}", f.path.display(), f.sha256)?
                    }
                }
            }
        }
    }
    Ok(())
}
