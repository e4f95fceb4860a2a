//! The one reporting path: every record (an artifact or file's [`Outcome`], a node's
//! finding, a catalog row) goes through a [`Reporter`], printed as it comes as text or as
//! one JSON object per line, and counted into the run's summary and exit status. Nothing
//! else in kverify prints to stdout.

use std::io::{self, Write};
use std::path::PathBuf;

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
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Outcome {
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    pub component: Option<String>,
    pub version: Option<String>,
    pub platform: Option<String>,
    #[serde(serialize_with = "digests_json")]
    pub digests: Digests,
    pub evidence: Evidence,
    pub message: Option<String>,
    #[serde(skip)]
    pub mismatches: Vec<Mismatch>,
    /// Extra lines for the text report, indented under the verdict.
    #[serde(skip)]
    pub details: Vec<String>,
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

    /// How the subject is named in a text line: `kubelet v1.29.0 linux/amd64` or a path.
    fn subject(&self) -> String {
        match (&self.component, &self.path) {
            (Some(c), path) => {
                let mut s = c.clone();
                for part in [&self.version, &self.platform].into_iter().flatten() {
                    s.push(' ');
                    s.push_str(part);
                }
                if let Some(p) = path {
                    s.push_str(&format!("  {}", p.display()));
                }
                s
            }
            (None, Some(p)) => p.display().to_string(),
            (None, None) => self.url.clone().unwrap_or_default(),
        }
    }

    /// The evidence in one line: `sha256=SHA256SUMS:3 signature=krel-staging@…`.
    fn evidence_line(&self) -> Option<String> {
        let mut parts = Vec::new();
        if let Some(checksum) = &self.evidence.checksum {
            parts.push(format!("checksum={checksum}"));
        }
        if let Some(pin) = &self.evidence.pin {
            parts.push(format!("pin={pin}"));
        }
        if let Some(sig) = &self.evidence.signature {
            parts.push(format!("signature={}", sig.signer()));
        } else if let Some(why) = &self.evidence.signature_skipped {
            parts.push(format!("signature: {why}"));
        }
        (!parts.is_empty()).then(|| parts.join(" "))
    }

    fn write_lines(&self, out: &mut dyn Write) -> io::Result<()> {
        let mut line = format!("{:<8} {}", self.status.label(), self.subject());
        if let Some(message) = &self.message {
            line.push_str("  ");
            line.push_str(message);
        }
        writeln!(out, "{line}")?;
        for m in &self.mismatches {
            writeln!(out, "         expected  {}  (from {})", m.expected, m.origin)?;
            writeln!(out, "         computed  {}", m.computed)?;
        }
        if self.status == Status::Ok {
            if let Some(evidence) = self.evidence_line() {
                writeln!(out, "         {evidence}")?;
            }
        }
        if let Some(sig) = &self.evidence.signature {
            writeln!(out, "         {}", sig.checks())?;
            for note in &sig.notes {
                writeln!(out, "         {note}")?;
            }
        }
        for detail in &self.details {
            writeln!(out, "         {detail}")?;
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
}

impl<R: Record> Reporter<R> {
    pub fn new(format: Format) -> Reporter<R> {
        Reporter { format, tally: R::Tally::default(), status: ExitStatus::Ok }
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
        // A closed stdout (`| head`) must not turn a verified run into a panic.
        let _ = match self.format {
            Format::Json => {
                let mut out = io::stdout().lock();
                serde_json::to_writer(&mut out, record).map_err(io::Error::from).and_then(|_| writeln!(out))
            }
            Format::Text => record.write_text(&mut io::stdout().lock()),
            Format::Quiet if failed => record.write_text(&mut io::stderr().lock()),
            Format::Quiet => Ok(()),
        };
    }

    /// Forces a status, for failures that are not one record.
    pub fn fail(&mut self, status: ExitStatus) {
        self.status = self.status.and(status);
    }

    /// A line of text after the records (text format only): `3 added to /srv/mirror`.
    pub fn note(&self, text: &str) {
        if self.format == Format::Text {
            let _ = writeln!(io::stdout().lock(), "{text}");
        }
    }

    /// Prints the summary line (text only), `what` naming what was counted, and returns
    /// the exit status.
    pub fn finish(mut self, what: &str) -> ExitStatus {
        if self.tally.verified() == 0 {
            self.status = self.tally.nothing_verified(self.status);
        }
        if self.format == Format::Text {
            if let Some(summary) = self.tally.summary(what) {
                let _ = writeln!(io::stdout().lock(), "{summary}");
            }
        }
        self.status
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

/// A warning on stderr, for what is not a record (a lock left unwritten).
pub fn warn(text: &str) {
    let _ = writeln!(io::stderr().lock(), "warning: {text}");
}

/// Prints an error as `error: …`, its causes as `  caused by: …`, then `hint: …`.
pub fn print_error(err: &dyn Classified) {
    let mut out = io::stderr().lock();
    let _ = writeln!(out, "error: {err}");
    // `transparent` variants show their inner error and forward its causes.
    let mut source = err.source();
    while let Some(cause) = source {
        let _ = writeln!(out, "  caused by: {cause}");
        source = cause.source();
    }
    if let Some(hint) = err.next_step() {
        let _ = writeln!(out, "hint: {hint}");
    }
}
