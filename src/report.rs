//! The one reporting path: every record (an artifact or file's [`Outcome`], a node's
//! finding, a catalog row) goes through a [`Reporter`], printed as it comes as text or as
//! one JSON object per line, and counted into the run's summary and exit status. Nothing
//! else in kverify prints to stdout.
//!
//! Output never lies: text shows every control character (and bidirectional override,
//! and byte that is not UTF-8) escaped ([`escape`]), so a name cannot forge a line or
//! reach the terminal as a command; a JSON object is serialized whole before a byte of it
//! is written; a reader that closes stdout (`| head -1`) ends the report quietly.

use std::borrow::Cow;
use std::cell::Cell;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use base64::Engine as _;

use serde::Serialize;

use crate::digest::Digests;
pub use crate::expect::Mismatch;
use crate::expect::Verdict;
use crate::signature::{SignatureCheck, SignatureEvidence};
use crate::status::Classified;
pub use crate::status::ExitStatus;
use crate::subject::Subject;

/// The verdict on one artifact or file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Every digest (and signature) checked matched.
    Ok,
    /// A digest or signature did not match, or the evidence was unacceptable.
    Fail,
    /// A source names the file, but it is not there.
    Missing,
    /// No source names the file.
    Unlisted,
    /// It could not be checked (network, I/O).
    Error,
}

impl Status {
    /// `OK`, `FAIL`, …: how a text report names the status.
    pub fn label(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Fail => "FAIL",
            Status::Missing => "MISSING",
            Status::Unlisted => "UNLISTED",
            Status::Error => "ERROR",
        }
    }
}

/// Where the expected digests came from and what vouched for them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Evidence {
    /// Where the expected digest came from: a URL, `FILE:LINE`, `--sha256`, or the lock.
    pub checksum: Option<String>,
    /// The lock file whose pin was used.
    pub pin: Option<String>,
    pub signature: Option<SignatureEvidence>,
    /// Why no signature was checked, when none was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature_skipped: Option<String>,
}

/// The result for one artifact or file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub status: Status,
    pub path: Option<PathBuf>,
    pub url: Option<String>,
    pub component: Option<String>,
    pub version: Option<String>,
    pub platform: Option<String>,
    pub digests: Digests,
    pub evidence: Evidence,
    pub message: Option<String>,
    pub mismatches: Vec<Mismatch>,
    /// Extra lines for the text report, indented under the verdict.
    pub details: Vec<String>,
}

/// An [`Outcome`] as JSON: `path` is a string whatever its bytes (U+FFFD for what is not
/// UTF-8, as `to_string_lossy` shows it), and a path that is not UTF-8 also comes exactly,
/// as `path_base64` (standard base64 of its bytes).
impl Serialize for Outcome {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Json<'a> {
            status: Status,
            #[serde(skip_serializing_if = "Option::is_none")]
            path: Option<Cow<'a, str>>,
            #[serde(skip_serializing_if = "Option::is_none")]
            path_base64: Option<String>,
            #[serde(skip_serializing_if = "Option::is_none")]
            url: &'a Option<String>,
            component: &'a Option<String>,
            version: &'a Option<String>,
            platform: &'a Option<String>,
            #[serde(serialize_with = "digests_json")]
            digests: &'a Digests,
            evidence: &'a Evidence,
            message: &'a Option<String>,
        }
        let path = self.path.as_deref();
        Json {
            status: self.status,
            path: path.map(|p| p.to_string_lossy()),
            path_base64: path.and_then(path_base64),
            url: &self.url,
            component: &self.component,
            version: &self.version,
            platform: &self.platform,
            digests: &self.digests,
            evidence: &self.evidence,
            message: &self.message,
        }
        .serialize(s)
    }
}

/// The exact bytes of a path that is not UTF-8, as standard base64; `None` for one that
/// is (its JSON string is then exact).
pub fn path_base64(path: &Path) -> Option<String> {
    let bytes = path.as_os_str().as_bytes();
    std::str::from_utf8(bytes).is_err().then(|| base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// Text for a terminal or a log: every control character (C0, DEL, C1), bidirectional
/// override and line or paragraph separator escaped (`\n`, `\x1b`, `\u{202e}`), so that
/// what a name holds can neither start a line of its own nor reach the terminal as a
/// command. Everything else, backslashes included, is shown as it is.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    text.chars().for_each(|c| push_escaped(&mut out, c));
    Cow::Owned(out)
}

/// One line of a record's text, whatever its fields hold: the formatted line is escaped
/// whole ([`escape`]), so a newline or control character inside a field (a URL or path
/// the operator typed, a server's message) is shown, never a line of its own.
pub fn write_line(out: &mut dyn Write, line: std::fmt::Arguments<'_>) -> io::Result<()> {
    match line.as_str() {
        Some(text) => writeln!(out, "{}", escape(text)),
        None => writeln!(out, "{}", escape(&line.to_string())),
    }
}

/// [`escape`] for bytes that may not be UTF-8: each byte that is not part of a UTF-8
/// character is shown as `\xNN`.
pub fn escape_bytes(bytes: &[u8]) -> Cow<'_, str> {
    if let Ok(text) = std::str::from_utf8(bytes) {
        return escape(text);
    }
    let mut out = String::with_capacity(bytes.len() + 8);
    for chunk in bytes.utf8_chunks() {
        chunk.valid().chars().for_each(|c| push_escaped(&mut out, c));
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    Cow::Owned(out)
}

/// A path for text output: its bytes, escaped as [`escape_bytes`] does.
pub fn escape_path(path: &Path) -> Cow<'_, str> {
    escape_bytes(path.as_os_str().as_bytes())
}

fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        || matches!(c, '\u{2028}' | '\u{2029}')
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '\t' => out.push_str("\\t"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        c if c.is_ascii() && needs_escape(c) => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c if needs_escape(c) => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
        c => out.push(c),
    }
}

/// A record's text, line by line, with whatever control character is left in a line
/// escaped: the last guard, for fields a record did not escape itself.
fn escape_lines(text: &[u8]) -> String {
    let lines: Vec<Cow<'_, str>> = text.split(|b| *b == b'\n').map(escape_bytes).collect();
    lines.join("\n")
}

/// `{"sha256": hex, "sha512": hex}`, each only when computed.
pub fn digests_json<S: serde::Serializer>(d: &Digests, s: S) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct Hex {
        #[serde(skip_serializing_if = "Option::is_none")]
        sha256: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        sha512: Option<String>,
    }
    Hex { sha256: d.sha256.map(|d| d.to_hex()), sha512: d.sha512.map(|d| d.to_hex()) }.serialize(s)
}

impl Outcome {
    pub fn new(status: Status) -> Outcome {
        Outcome {
            status,
            path: None,
            url: None,
            component: None,
            version: None,
            platform: None,
            digests: Digests::default(),
            evidence: Evidence::default(),
            message: None,
            mismatches: Vec::new(),
            details: Vec::new(),
        }
    }

    /// An outcome naming `artifact`, to be filled in.
    pub fn of(artifact: &crate::catalog::Artifact) -> Outcome {
        let mut outcome = Outcome::new(Status::Ok);
        outcome.set_subject(&artifact.subject());
        outcome.url = Some(artifact.url.clone());
        outcome
    }

    pub fn with_message(mut self, message: impl Into<String>) -> Outcome {
        self.message = Some(message.into());
        self
    }

    /// Names its subject: component, version and platform.
    pub fn set_subject(&mut self, subject: &Subject) {
        self.component = Some(subject.component.clone());
        self.version = Some(subject.version.to_string());
        self.platform = Some(subject.platform.to_string());
    }

    /// Takes what a verdict established: the subject and the evidence that decided, or
    /// the mismatches.
    pub fn judged(&mut self, verdict: &Verdict<'_>, digests: Digests) {
        if let Some(subject) = verdict.subject() {
            self.set_subject(subject);
        }
        self.evidence.checksum = Some(verdict.origins());
        self.evidence.signature = verdict.signed_by().cloned();
        self.evidence.pin = verdict.decided_by.iter().find_map(|e| e.pinned_in.clone());
        self.mismatches = verdict.mismatches.clone();
        self.digests = digests;
        if !verdict.is_ok() {
            self.status = Status::Fail;
            if let Some(first) = verdict.mismatches.first() {
                self.message.get_or_insert_with(|| format!("{} mismatch", first.expected.algorithm()));
            }
            self.details.extend(verdict.not_computed.iter().map(|o| format!("not computed: {o}")));
        }
    }

    /// The bytes did not verify: nothing was installed, and the mismatches say why.
    pub fn refused(&mut self, verdict: &Verdict<'_>) {
        self.status = Status::Fail;
        let algorithm = verdict.mismatches.first().map_or("digest", |m| m.expected.algorithm().name());
        self.message = Some(format!("{algorithm} mismatch; nothing installed"));
        self.mismatches = verdict.mismatches.clone();
        self.details.extend(verdict.not_computed.iter().map(|o| format!("not computed: {o}")));
    }

    /// Records how the signature stood: its evidence, or why none was checked.
    pub fn signature(&mut self, check: &SignatureCheck) {
        match check {
            SignatureCheck::Verified(evidence) => self.evidence.signature = Some(evidence.clone()),
            SignatureCheck::NotRequired(why) => self.evidence.signature_skipped = Some(why.clone()),
        }
    }

    /// Marks the outcome as failed by `e`: `error` for network and I/O trouble (exit 3),
    /// `fail` for everything else (exit 1); the error's hint goes under it.
    pub fn failed(&mut self, e: &dyn Classified) {
        self.status = if e.exit_status() == ExitStatus::Io { Status::Error } else { Status::Fail };
        if self.message.is_none() {
            self.message = Some(e.chain());
        }
        if let Some(hint) = e.next_step() {
            self.details.push(format!("hint: {hint}"));
        }
    }

    /// How the subject is named in a text line: `kubelet v1.29.0 linux/amd64` or a path,
    /// escaped.
    fn subject(&self) -> String {
        match (&self.component, &self.path) {
            (Some(c), path) => {
                let mut s = escape(c).into_owned();
                for part in [&self.version, &self.platform].into_iter().flatten() {
                    s.push(' ');
                    s.push_str(&escape(part));
                }
                if let Some(p) = path {
                    s.push_str("  ");
                    s.push_str(&escape_path(p));
                }
                s
            }
            (None, Some(p)) => escape_path(p).into_owned(),
            (None, None) => escape(self.url.as_deref().unwrap_or_default()).into_owned(),
        }
    }

    /// The evidence in one line: `sha256=SHA256SUMS:3 signature=krel-staging@…`, escaped.
    fn evidence_line(&self) -> Option<String> {
        let mut parts = Vec::new();
        if let Some(checksum) = &self.evidence.checksum {
            parts.push(format!("checksum={}", escape(checksum)));
        }
        if let Some(pin) = &self.evidence.pin {
            parts.push(format!("pin={}", escape(pin)));
        }
        if let Some(sig) = &self.evidence.signature {
            parts.push(format!("signature={}", escape(&sig.signer())));
        } else if let Some(why) = &self.evidence.signature_skipped {
            parts.push(format!("signature: {}", escape(why)));
        }
        (!parts.is_empty()).then(|| parts.join(" "))
    }

    /// The text lines: every field that comes from outside (paths, names, URLs, messages)
    /// escaped, so each line printed is one this function meant.
    fn write_lines(&self, out: &mut dyn Write) -> io::Result<()> {
        let mut line = format!("{:<8} {}", self.status.label(), self.subject());
        if let Some(message) = &self.message {
            line.push_str("  ");
            line.push_str(&escape(message));
        }
        writeln!(out, "{line}")?;
        for m in &self.mismatches {
            writeln!(out, "         expected  {}  (from {})", m.expected, escape(&m.origin))?;
            writeln!(out, "         computed  {}", m.computed)?;
        }
        if self.status == Status::Ok {
            if let Some(evidence) = self.evidence_line() {
                writeln!(out, "         {evidence}")?;
            }
        }
        if let Some(sig) = &self.evidence.signature {
            writeln!(out, "         {}", escape(&sig.checks()))?;
            for note in &sig.notes {
                writeln!(out, "         {}", escape(note))?;
            }
        }
        for detail in &self.details {
            writeln!(out, "         {}", escape(detail))?;
        }
        Ok(())
    }
}

/// How reports are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    /// Only the exit status speaks (`--quiet`); failures still print.
    Quiet,
}

/// One line (or JSON object) of a report.
pub trait Record: Serialize {
    /// How the record adds to the run's summary.
    type Tally: Tally<Self>;

    fn status(&self) -> Status;

    fn write_text(&self, out: &mut dyn Write) -> io::Result<()>;
}

/// The counts a summary line is made of.
pub trait Tally<R: ?Sized>: Default {
    fn add(&mut self, record: &R);
    /// How many records verified: none at all is a failure, never a pass.
    fn verified(&self) -> usize;
    /// The text summary; `what` names the subject of the run (`files verified`, a root).
    fn summary(&self, what: &str) -> Option<String>;
    /// The exit status when nothing verified, given the status so far.
    fn nothing_verified(&self, status: ExitStatus) -> ExitStatus {
        if status == ExitStatus::Ok {
            ExitStatus::Failed
        } else {
            status
        }
    }
}

impl Status {
    /// What a record with this status means for the run.
    pub fn exit_status(self) -> ExitStatus {
        match self {
            Status::Ok | Status::Unlisted | Status::Missing => ExitStatus::Ok,
            Status::Fail => ExitStatus::Failed,
            Status::Error => ExitStatus::Io,
        }
    }
}

/// Prints records as they come and keeps the tally for the summary and exit status.
pub struct Reporter<R: Record> {
    format: Format,
    tally: R::Tally,
    status: ExitStatus,
    stdout: Stdout,
}

impl<R: Record> Reporter<R> {
    pub fn new(format: Format) -> Reporter<R> {
        Reporter { format, tally: R::Tally::default(), status: ExitStatus::Ok, stdout: Stdout::default() }
    }

    pub fn format(&self) -> Format {
        self.format
    }

    pub fn tally(&self) -> &R::Tally {
        &self.tally
    }

    pub fn record(&mut self, record: &R) {
        self.tally.add(record);
        self.status = self.status.and(record.status().exit_status());
        let failed = matches!(record.status(), Status::Fail | Status::Error);
        match self.format {
            // Serialized whole before a byte is written: an object is printed entire or
            // not at all, never cut off mid-way.
            Format::Json => match serde_json::to_vec(record) {
                Ok(mut json) => {
                    json.push(b'\n');
                    self.stdout.write(&json);
                }
                Err(e) => {
                    // Cannot happen for kverify's records (their fields are strings); if it
                    // did, the run must not pass on a record nobody saw.
                    let _ = writeln!(io::stderr().lock(), "error: a report record cannot be written as JSON: {e}");
                    self.status = self.status.and(ExitStatus::Failed);
                }
            },
            Format::Text => self.stdout.write(text_of(record).as_bytes()),
            Format::Quiet if failed => {
                let _ = io::stderr().lock().write_all(text_of(record).as_bytes());
            }
            Format::Quiet => {}
        }
    }

    /// Forces a status, for failures that are not one record.
    pub fn fail(&mut self, status: ExitStatus) {
        self.status = self.status.and(status);
    }

    /// A line of text after the records (text format only): `3 added to /srv/mirror`.
    pub fn note(&self, text: &str) {
        if self.format == Format::Text {
            self.stdout.write(format!("{}\n", escape(text)).as_bytes());
        }
    }

    /// Prints the summary line (text only), `what` naming what was counted, and returns
    /// the exit status. A report that could not be written for another reason than a
    /// closed stdout is an I/O failure (exit 3 unless something failed verification).
    pub fn finish(mut self, what: &str) -> ExitStatus {
        if self.tally.verified() == 0 {
            self.status = self.tally.nothing_verified(self.status);
        }
        if self.format == Format::Text {
            if let Some(summary) = self.tally.summary(what) {
                self.stdout.write(format!("{}\n", escape(&summary)).as_bytes());
            }
        }
        if self.stdout.failed.get() {
            self.status = self.status.and(ExitStatus::Io);
        }
        self.status
    }
}

/// A record's text lines, each escaped as a whole once more (see [`escape_lines`]).
fn text_of<R: Record + ?Sized>(record: &R) -> String {
    let mut text = Vec::new();
    // Writing into memory does not fail; a record that did would show what it wrote.
    let _ = record.write_text(&mut text);
    escape_lines(&text)
}

/// stdout as the report's one writer. A reader that closes it (`kverify … | head -1`)
/// ends the report quietly: nothing more is written, no error, no panic, and the exit
/// status stays the run's (the work itself goes on: a fetch still installs what
/// verified). Any other write error (a full disk) is said once on stderr and makes the
/// run an I/O failure.
#[derive(Default)]
struct Stdout {
    closed: Cell<bool>,
    failed: Cell<bool>,
}

impl Stdout {
    fn write(&self, bytes: &[u8]) {
        if self.closed.get() {
            return;
        }
        match write_stdout(bytes) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => self.closed.set(true),
            Err(e) => {
                self.closed.set(true);
                self.failed.set(true);
                let _ = writeln!(io::stderr().lock(), "error: cannot write the report to stdout: {e}");
            }
        }
    }
}

fn write_stdout(bytes: &[u8]) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(bytes)?;
    out.flush()
}

/// Writes `bytes` to stdout whole; a closed stdout (a broken pipe) is no error: the
/// reader has what it wanted. What is not the report (shell completions) prints here.
pub fn print(bytes: &[u8]) -> io::Result<()> {
    match write_stdout(bytes) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// The tally of a listing or a single record (`components`, `trust show`): no summary
/// line, and a listing is never "nothing verified".
#[derive(Default)]
pub struct NoSummary;

impl<R: ?Sized> Tally<R> for NoSummary {
    fn add(&mut self, _: &R) {}

    fn verified(&self) -> usize {
        1
    }

    fn summary(&self, _: &str) -> Option<String> {
        None
    }
}

/// The counts of artifact and file outcomes, by status.
#[derive(Default)]
pub struct Counts([usize; 5]);

impl Counts {
    pub fn of(&self, status: Status) -> usize {
        self.0[status as usize]
    }
}

impl Tally<Outcome> for Counts {
    fn add(&mut self, outcome: &Outcome) {
        self.0[outcome.status as usize] += 1;
    }

    fn verified(&self) -> usize {
        self.of(Status::Ok)
    }

    fn summary(&self, what: &str) -> Option<String> {
        let verified = self.verified();
        let mut parts = vec![format!("{verified} {what}")];
        for (status, word) in [
            (Status::Fail, "failed"),
            (Status::Error, "could not be checked"),
            (Status::Missing, "missing"),
            (Status::Unlisted, "unlisted"),
        ] {
            let n = self.of(status);
            if n > 0 {
                parts.push(format!("{n} {word}"));
            }
        }
        let mut summary = parts.join(", ");
        if verified == 0 {
            summary.push_str(": nothing was verified, which is a failure");
        }
        Some(summary)
    }
}

impl Record for Outcome {
    type Tally = Counts;

    fn status(&self) -> Status {
        self.status
    }

    fn write_text(&self, out: &mut dyn Write) -> io::Result<()> {
        self.write_lines(out)
    }
}

/// A warning on stderr, for what is not a record (a lock left unwritten), escaped.
pub fn warn(text: &str) {
    let _ = writeln!(io::stderr().lock(), "warning: {}", escape(text));
}

/// Prints an error as `error: …`, its causes as `  caused by: …`, then `hint: …`, each
/// escaped: an error names what it is about (a path, a URL, an entry of an archive).
pub fn print_error(err: &dyn Classified) {
    let mut text = format!("error: {}\n", escape(&err.to_string()));
    // `transparent` variants show their inner error and forward its causes.
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(&format!("  caused by: {}\n", escape(&cause.to_string())));
        source = cause.source();
    }
    if let Some(hint) = err.next_step() {
        text.push_str(&format!("hint: {}\n", escape(&hint)));
    }
    let _ = io::stderr().lock().write_all(text.as_bytes());
}

/// Prints what clap says of a command line it did not take, and returns its exit code
/// (0 for `--help` and `--version`, 2 for a usage error). clap echoes what was typed as
/// it was typed, so in an error every argument (and every `--flag=value`'s value) that
/// needs escaping is shown escaped, as all text is: a value holding a newline or a
/// terminal escape can neither start a line of its own nor reach the terminal.
pub fn print_command_line_error(err: &clap::Error, args: &[std::ffi::OsString]) -> u8 {
    if !err.use_stderr() {
        let _ = err.print();
        return 0;
    }
    let mut typed: Vec<String> = Vec::new();
    for arg in args {
        let arg = arg.to_string_lossy();
        let value = arg.split_once('=').map(|(_, value)| value.to_string());
        typed.extend([Some(arg.to_string()), value].into_iter().flatten());
    }
    // Longest first: a value is also part of its `--flag=value`.
    typed.sort_by_key(|t| std::cmp::Reverse(t.len()));
    let mut text = err.render().to_string();
    for t in &typed {
        if let Cow::Owned(escaped) = escape(t) {
            text = text.replace(t.as_str(), &escaped);
        }
    }
    let _ = io::stderr().lock().write_all(text.as_bytes());
    u8::try_from(err.exit_code()).unwrap_or(2)
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;

    use super::*;

    #[test]
    fn escape_shows_every_control_character_and_nothing_else() {
        for (text, shown) in [
            ("kubelet", "kubelet"),
            ("", ""),
            ("a b/c-d_e.f", "a b/c-d_e.f"),
            ("x\nOK       kubelet", "x\\nOK       kubelet"),
            ("tab\there", "tab\\there"),
            ("cr\rback", "cr\\rback"),
            ("\u{1b}[31mred\u{1b}[0m", "\\x1b[31mred\\x1b[0m"),
            ("nul\0", "nul\\x00"),
            ("del\u{7f}", "del\\x7f"),
            ("csi\u{9b}2J", "csi\\u{9b}2J"),
            ("next\u{85}line", "next\\u{85}line"),
            ("rlo\u{202e}gpj.exe", "rlo\\u{202e}gpj.exe"),
            ("isolate\u{2066}x\u{2069}", "isolate\\u{2066}x\\u{2069}"),
            ("line\u{2028}sep", "line\\u{2028}sep"),
            ("backslash\\n stays", "backslash\\n stays"),
            ("ünïcödé ✓ 漢字", "ünïcödé ✓ 漢字"),
        ] {
            assert_eq!(escape(text), shown, "{text:?}");
            assert!(!escape(text).chars().any(|c| c.is_control()), "{text:?}");
        }
        assert!(matches!(escape("plain"), Cow::Borrowed(_)), "nothing to escape: no copy");
    }

    #[test]
    fn bytes_that_are_not_utf8_are_shown_as_hex() {
        for (bytes, shown) in [
            (&b"kube\xfflet"[..], "kube\\xfflet"),
            (b"\xc3", "\\xc3"),
            (b"\xc3\xa9t\xe9", "\u{e9}t\\xe9"),
            (b"\x9b2J\n", "\\x9b2J\\n"),
            (b"ok", "ok"),
        ] {
            assert_eq!(escape_bytes(bytes), shown, "{bytes:?}");
            assert_eq!(escape_path(Path::new(OsStr::from_bytes(bytes))), shown);
        }
    }

    #[test]
    fn a_record_cannot_end_its_line_early() {
        assert_eq!(escape_lines(b"OK a\n   b\x1b[2K\n"), "OK a\n   b\\x1b[2K\n");
        let mut outcome = Outcome::new(Status::Fail);
        outcome.path = Some(PathBuf::from("/srv/x\nOK       kubelet v1.29.0 linux/amd64"));
        outcome.message = Some("sha256 mismatch\r\u{1b}[1A".into());
        outcome.details.push("hint: \nOK".into());
        let text = text_of(&outcome);
        assert_eq!(
            text,
            "FAIL     /srv/x\\nOK       kubelet v1.29.0 linux/amd64  sha256 mismatch\\r\\x1b[1A\n         hint: \\nOK\n"
        );
    }

    #[test]
    fn json_of_a_path_that_is_not_utf8_is_valid_and_exact() {
        let bytes = b"/srv/kube\xfflet\n";
        let mut outcome = Outcome::new(Status::Ok);
        outcome.path = Some(PathBuf::from(OsStr::from_bytes(bytes)));
        let json: serde_json::Value = serde_json::from_slice(&serde_json::to_vec(&outcome).unwrap()).unwrap();
        assert_eq!(json["path"], "/srv/kube\u{fffd}let\n");
        let exact = base64::engine::general_purpose::STANDARD.decode(json["path_base64"].as_str().unwrap()).unwrap();
        assert_eq!(exact, bytes);
        // A UTF-8 path is exact as it is: no second field.
        outcome.path = Some(PathBuf::from("/srv/kubelet"));
        let json = serde_json::to_value(&outcome).unwrap();
        assert_eq!(json["path"], "/srv/kubelet");
        assert!(json.get("path_base64").is_none(), "{json}");
        let text = String::from_utf8(serde_json::to_vec(&outcome).unwrap()).unwrap();
        assert!(text.starts_with(r#"{"status":"ok","path":"/srv/kubelet","component":null,"#), "{text}");
    }
}
