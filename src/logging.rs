//! Logs on stderr: `-v` for info, `-vv` for debug, or `KVERIFY_LOG` as a filter.

use tracing_subscriber::EnvFilter;

use crate::cli::OutputArgs;

pub fn init(output: &OutputArgs) {
    let default = match output.verbose {
        0 => "warn",
        1 => "kverify=info",
        2 => "kverify=debug",
        _ => "debug",
    };
    let filter = EnvFilter::try_from_env("KVERIFY_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    // A second init (tests calling run twice) is harmless; ignore it.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .try_init();
}
