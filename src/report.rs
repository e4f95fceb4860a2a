//! What happened to each artifact or file: one [`Outcome`] each, printed as text or as
//! one JSON object per line, and the exit status they add up to.

use std::io::{self, Write};
use std::path::PathBuf;

use serde::Serialize;

use crate::digest::{Digest, Digests};

/// The process exit status, as DESIGN.md section 5 defines it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ExitStatus {
    /// 0: everything verified.
    Ok,
    /// 3: network or I/O trouble; retrying later may help.
    Io,
    /// 1: verification failed: stop, this may be tampering.
    Failed,
    /// 2: the command line was wrong.
    Usage,
}

impl ExitStatus {
    pub fn code(self) -> u8 {
        match self {
            ExitStatus::Ok => 0,
            ExitStatus::Failed => 1,
            ExitStatus::Usage => 2,
            ExitStatus::Io => 3,
        }
    }

    /// The status of two results together: a failed verification outranks an I/O
    /// error, so a script never retries what looked like tampering.
    pub fn and(self, other: ExitStatus) -> ExitStatus {
        self.max(other)
    }
}

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
    fn label(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Fail => "FAIL",
            Status::Missing => "MISSING",
            Status::Unlisted => "UNLISTED",
            Status::Error => "ERROR",
        }
    }
}

/// What a signature check established. Booleans say which checks passed; a check that
/// could not run is `false` and the report says why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SignatureEvidence {
    /// `cosign-detached` or `bundle`.
    pub kind: &'static str,
    pub identity: String,
    pub issuer: String,
    pub chain: bool,
    pub sct: bool,
    pub tlog: bool,
    /// RFC 3339 time of signing, from the transparency log or a timestamp.
    pub signed_at: Option<String>,
    /// What was not checked and why (`tlog: not checked (no bundle)`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
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

/// An expected digest that did not match what was computed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mismatch {
    pub expected: Digest,
    pub computed: Digest,
    pub origin: String,
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

    pub fn with_message(mut self, message: impl Into<String>) -> Outcome {
        self.message = Some(message.into());
        self
    }

    pub fn exit_status(&self) -> ExitStatus {
        match self.status {
            Status::Ok | Status::Unlisted | Status::Missing => ExitStatus::Ok,
            Status::Fail => ExitStatus::Failed,
            Status::Error => ExitStatus::Io,
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
            parts.push(format!("signature={} ({}, issuer {})", sig.identity, sig.kind, sig.issuer));
        } else if let Some(why) = &self.evidence.signature_skipped {
            parts.push(format!("signature: {why}"));
        }
        (!parts.is_empty()).then(|| parts.join(" "))
    }

    fn write_text(&self, out: &mut dyn Write) -> io::Result<()> {
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
            let mark = |ok: bool| if ok { "ok" } else { "no" };
            let mut checks = format!("chain: {}, sct: {}, identity: ok, signature: ok", mark(sig.chain), mark(sig.sct));
            checks.push_str(if sig.tlog { ", tlog: ok" } else { "" });
            if let Some(at) = &sig.signed_at {
                checks.push_str(&format!(", signed at {at}"));
            }
            writeln!(out, "         {checks}")?;
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

/// Prints outcomes as they come and keeps the tally for the summary and exit status.
pub struct Reporter {
    format: Format,
    counts: [usize; 5],
    status: ExitStatus,
}

impl Reporter {
    pub fn new(format: Format) -> Reporter {
        Reporter { format, counts: [0; 5], status: ExitStatus::Ok }
    }

    pub fn format(&self) -> Format {
        self.format
    }

    pub fn record(&mut self, outcome: &Outcome) {
        self.counts[outcome.status as usize] += 1;
        self.status = self.status.and(outcome.exit_status());
        let stdout = io::stdout();
        let mut out = stdout.lock();
        // A closed stdout (`| head`) must not turn a verified run into a panic.
        let _ = match self.format {
            Format::Json => {
                serde_json::to_writer(&mut out, outcome).map_err(io::Error::from).and_then(|_| writeln!(out))
            }
            Format::Text => outcome.write_text(&mut out),
            Format::Quiet if outcome.status == Status::Fail || outcome.status == Status::Error => {
                outcome.write_text(&mut io::stderr().lock())
            }
            Format::Quiet => Ok(()),
        };
    }

    pub fn count(&self, status: Status) -> usize {
        self.counts[status as usize]
    }

    /// Forces a status, for failures that are not one outcome (nothing verified).
    pub fn fail(&mut self, status: ExitStatus) {
        self.status = self.status.and(status);
    }

    /// Prints the summary line (text only), `what` saying what the verified count is
    /// (`files verified`), and returns the exit status.
    pub fn finish(mut self, what: &str) -> ExitStatus {
        let verified = self.count(Status::Ok);
        if verified == 0 && self.status == ExitStatus::Ok {
            self.status = ExitStatus::Failed;
        }
        if self.format == Format::Text {
            let mut parts = vec![format!("{verified} {what}")];
            for (status, word) in [
                (Status::Fail, "failed"),
                (Status::Error, "could not be checked"),
                (Status::Missing, "missing"),
                (Status::Unlisted, "unlisted"),
            ] {
                let n = self.count(status);
                if n > 0 {
                    parts.push(format!("{n} {word}"));
                }
            }
            let mut summary = parts.join(", ");
            if verified == 0 {
                summary.push_str(": nothing was verified, which is a failure");
            }
            println!("{summary}");
        }
        self.status
    }
}
