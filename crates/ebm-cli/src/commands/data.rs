//! `ebm data fetch DATASET --dir DIR [--mirror URL]...`.

use trainer::data::{FetchOptions, fetch_dataset};

use crate::cli::DataCommand;

/// Run a `data` subcommand.
pub fn run(cmd: &DataCommand) -> anyhow::Result<()> {
    match cmd {
        DataCommand::Fetch { dataset, dir, mirrors } => {
            let mut options = FetchOptions::default();
            if !mirrors.is_empty() {
                options.mirrors.clone_from(mirrors);
            }
            for f in fetch_dataset(dataset, dir, &options)? {
                match &f.url {
                    Some(url) => println!(
                        "{}: {} bytes from {url}, sha256 {}",
                        f.path.display(),
                        f.bytes,
                        f.sha256
                    ),
                    None => println!("{}: already present, sha256 {}", f.path.display(), f.sha256),
                }
            }
        }
    }
    Ok(())
}
