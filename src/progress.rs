//! Progress of downloads: a small trait here, indicatif only in its implementation.
//! Labels are escaped as all text is (`report::escape`), and a closed stderr is no error.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::Duration;

use crate::report::escape;

/// One download's progress.
pub trait Bar: Send + Sync {
    /// A (re)start, with the length when the server announced one.
    fn start(&self, len: Option<u64>);
    fn advance(&self, bytes: u64);
    /// The end, with a one-word outcome.
    fn finish(&self, outcome: &str);
}

/// Makes a bar per download.
pub trait Progress: Send + Sync {
    fn bar(&self, label: &str) -> Box<dyn Bar>;
}

/// How to show progress: bars on a terminal, plain lines otherwise, or nothing.
pub fn for_output(quiet: bool, no_bars: bool) -> Box<dyn Progress> {
    if quiet {
        Box::new(Silent)
    } else if !no_bars && std::io::stderr().is_terminal() {
        Box::new(Bars(indicatif::MultiProgress::new()))
    } else {
        Box::new(Lines)
    }
}

/// Nothing at all (`--quiet`, `--json`).
pub struct Silent;

impl Progress for Silent {
    fn bar(&self, _: &str) -> Box<dyn Bar> {
        Box::new(SilentBar)
    }
}

struct SilentBar;

impl Bar for SilentBar {
    fn start(&self, _: Option<u64>) {}
    fn advance(&self, _: u64) {}
    fn finish(&self, _: &str) {}
}

/// One line on stderr when a download starts and one when it ends, for logs.
pub struct Lines;

impl Progress for Lines {
    fn bar(&self, label: &str) -> Box<dyn Bar> {
        Box::new(LineBar { label: escape(label).into_owned(), bytes: Mutex::new(0) })
    }
}

struct LineBar {
    label: String,
    bytes: Mutex<u64>,
}

impl Bar for LineBar {
    fn start(&self, len: Option<u64>) {
        if let Ok(mut b) = self.bytes.lock() {
            *b = 0;
        }
        match len {
            Some(n) => line(format_args!("downloading {} ({})", self.label, human(n))),
            None => line(format_args!("downloading {}", self.label)),
        }
    }
    fn advance(&self, bytes: u64) {
        if let Ok(mut b) = self.bytes.lock() {
            *b += bytes;
        }
    }
    fn finish(&self, outcome: &str) {
        let n = self.bytes.lock().map(|b| *b).unwrap_or(0);
        line(format_args!("{} {} ({})", escape(outcome), self.label, human(n)));
    }
}

/// One line on stderr; a closed stderr loses the line, never the run (`eprintln!` would
/// panic).
fn line(text: std::fmt::Arguments<'_>) {
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}

/// indicatif bars on a terminal.
pub struct Bars(indicatif::MultiProgress);

impl Progress for Bars {
    fn bar(&self, label: &str) -> Box<dyn Bar> {
        let bar = self.0.add(indicatif::ProgressBar::no_length());
        let style = indicatif::ProgressStyle::with_template(
            "{msg:40!} {bar:30.cyan/blue} {bytes:>10}/{total_bytes:<10} {bytes_per_sec:>12} {eta:>4}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> ");
        bar.set_style(style);
        bar.set_message(escape(label).into_owned());
        bar.enable_steady_tick(Duration::from_millis(200));
        Box::new(IndicatifBar(bar))
    }
}

struct IndicatifBar(indicatif::ProgressBar);

impl Bar for IndicatifBar {
    fn start(&self, len: Option<u64>) {
        self.0.reset();
        if let Some(n) = len {
            self.0.set_length(n);
        }
    }
    fn advance(&self, bytes: u64) {
        self.0.inc(bytes);
    }
    fn finish(&self, outcome: &str) {
        let label = self.0.message();
        self.0.finish_with_message(format!("{label} {}", escape(outcome)));
    }
}

/// `12.3 MiB`.
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}
