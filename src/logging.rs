//! Logs on stderr: `-v` for info, `-vv` for debug, or `KVERIFY_LOG` as a filter.

use std::io::{self, Write};

use tracing_subscriber::EnvFilter;

use crate::cli::OutputArgs;
use crate::report;

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
        .with_writer(|| EscapedStderr)
        .with_ansi(false)
        .with_target(false)
        .without_time()
        .try_init();
}

/// Standard error for log events. The formatter writes each event whole, as one line;
/// everything in it but its final newline is escaped as report text is
/// ([`report::escape_bytes`]), so a field holding a newline or a control character (a
/// path, a server's message) cannot forge a line of its own or drive the terminal.
struct EscapedStderr;

impl Write for EscapedStderr {
    fn write(&mut self, event: &[u8]) -> io::Result<usize> {
        let (text, end) = match event.strip_suffix(b"\n") {
            Some(text) => (text, "\n"),
            None => (event, ""),
        };
        write!(io::stderr().lock(), "{}{end}", report::escape_bytes(text))?;
        Ok(event.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stderr().flush()
    }
}
