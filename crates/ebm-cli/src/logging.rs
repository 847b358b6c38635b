//! Logging (tracing-subscriber, honouring RUST_LOG) joined with progress bars (indicatif via
//! tracing-indicatif) on a terminal; plain log lines on stderr otherwise.

use std::io::IsTerminal;

use tracing_indicatif::IndicatifLayer;
use tracing_subscriber::{EnvFilter, fmt, layer::SubscriberExt, util::SubscriberInitExt};

/// Whether progress bars are drawn (stderr is a terminal).
pub fn progress_enabled() -> bool {
    std::io::stderr().is_terminal()
}

/// Install the global subscriber.
pub fn init(verbose: u8, quiet: bool) {
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "info",
        (false, 1) => "debug",
        (false, _) => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    if progress_enabled() {
        let indicatif = IndicatifLayer::new();
        let _ = tracing_subscriber::registry()
            .with(filter)
            .with(fmt::layer().with_target(false).with_writer(indicatif.get_stderr_writer()))
            .with(indicatif)
            .try_init();
    } else {
        let _ = tracing_subscriber::registry()
            .with(filter)
            .with(fmt::layer().with_target(false).with_ansi(false).with_writer(std::io::stderr))
            .try_init();
    }
}

/// A spinner with the elapsed time for a long computation that reports no steps (`None`
/// off a terminal); finish it with `finish_and_clear`.
pub fn spinner(message: impl Into<String>) -> Option<indicatif::ProgressBar> {
    progress_enabled().then(|| {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                .expect("valid template"),
        );
        bar.set_message(message.into());
        bar.enable_steady_tick(std::time::Duration::from_millis(200));
        bar
    })
}

/// Run `f` under a [`spinner`] showing `message`.
pub fn with_spinner<T>(message: &str, f: impl FnOnce() -> T) -> T {
    let bar = spinner(message);
    let out = f();
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    out
}
