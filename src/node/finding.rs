//! One finding per check that says something, as a text line or one JSON object, and
//! the exit status they add up to.

use std::borrow::Cow;
use std::io::{self, Write};

use serde::Serialize;

use crate::digest::Digests;
use crate::report::{escape, Evidence, ExitStatus, Mismatch, Record, Status, Tally};

/// How urgently a finding needs a person.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

/// Which check a finding is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Check {
    /// The bytes against the lock or the release.
    Digest,
    /// The binary's owner is root.
    Owner,
    /// No group or world write bit on the binary.
    Mode,
    /// No directory on the path as written is writable by anyone but root.
    ParentWritable,
    /// No symbolic link on the way leads somewhere writable by anyone but root.
    Symlink,
    /// Every unit file and drop-in that says what kubelet and containerd run was read,
    /// and names its programs.
    Unit,
}

impl Check {
    pub fn name(self) -> &'static str {
        match self {
            Check::Digest => "digest",
            Check::Owner => "owner",
            Check::Mode => "mode",
            Check::ParentWritable => "parent-writable",
            Check::Symlink => "symlink",
            Check::Unit => "unit",
        }
    }
}

/// A file's or directory's owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Owner {
    pub uid: u32,
    pub gid: u32,
}

/// A directory that someone other than root could write to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DirectoryEvidence {
    pub path: String,
    pub uid: u32,
    pub gid: u32,
    pub mode: String,
    /// `world-writable`, `owner-not-root`, `group-writable`, `sticky-world-writable`.
    pub exposure: &'static str,
}

/// What a finding rests on. The digest part (`checksum`, `pin`, `signature`) is the
/// same as `kverify verify` reports; the rest says what was seen on the node.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct NodeEvidence {
    #[serde(flatten)]
    pub digest: Evidence,
    /// How the binary was found: `search path /usr/bin`, `unit /etc/systemd/system/…`.
    pub found_by: Vec<String>,
    /// Where the path leads after symbolic links, when it is a link or behind one.
    pub resolved: Option<String>,
    /// Every link followed, `/usr/local/bin/kubectl -> /opt/k8s/kubectl`.
    pub links: Vec<String>,
    pub owner: Option<Owner>,
    /// The binary's permission bits, `0755`.
    pub mode: Option<String>,
    /// The directories that made this finding (parent-writable, symlink).
    pub directories: Vec<DirectoryEvidence>,
}

/// The result of one check of one binary (or of a binary that is not there).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub status: Status,
    pub severity: Severity,
    pub check: Check,
    /// A stable code for machines: `mismatch`, `group-writable`, `dangling` … (README).
    pub reason: &'static str,
    /// The binary's path as the host sees it (`/usr/local/bin/kubelet`); null for a
    /// pinned binary that is not installed.
    pub path: Option<String>,
    /// The binary's name: the file name found, or the name a pin gives it.
    pub name: Option<String>,
    pub component: Option<String>,
    pub version: Option<String>,
    pub platform: Option<String>,
    #[serde(serialize_with = "crate::report::digests_json")]
    pub digests: Digests,
    pub evidence: NodeEvidence,
    pub message: String,
    /// The node audited: `KVERIFY_NODE_NAME`, else the root's `/etc/hostname`.
    pub node: Option<String>,
    #[serde(skip)]
    pub mismatches: Vec<Mismatch>,
    /// Extra lines for the text report.
    #[serde(skip)]
    pub details: Vec<String>,
}

impl Finding {
    pub fn new(status: Status, severity: Severity, check: Check, reason: &'static str) -> Finding {
        Finding {
            status,
            severity,
            check,
            reason,
            path: None,
            name: None,
            component: None,
            version: None,
            platform: None,
            digests: Digests::default(),
            evidence: NodeEvidence::default(),
            message: String::new(),
            node: None,
            mismatches: Vec::new(),
            details: Vec::new(),
        }
    }
}

impl Finding {
    /// Names the binary's component, version and platform.
    pub fn set_subject(&mut self, subject: &crate::subject::Subject) {
        self.component = Some(subject.component.clone());
        self.version = Some(subject.version.to_string());
        self.platform = Some(subject.platform.to_string());
    }
}

impl Record for Finding {
    type Tally = FindingCounts;

    fn status(&self) -> Status {
        self.status
    }

    /// One line, then the mismatches and details under it; every field that comes from
    /// the node (paths, names, link targets, messages) escaped.
    fn write_text(&self, out: &mut dyn Write) -> io::Result<()> {
        let label = self.status.label();
        let subject = escape(self.path.as_deref().or(self.name.as_deref()).unwrap_or("-"));
        let mut line = format!("{label:<8} {:<15} {subject}", self.check.name());
        let subject: Vec<Cow<'_, str>> =
            [&self.component, &self.version, &self.platform].into_iter().flatten().map(|s| escape(s)).collect();
        if !subject.is_empty() {
            line.push_str("  ");
            line.push_str(&subject.join(" "));
        }
        if !self.message.is_empty() {
            line.push_str("  ");
            line.push_str(&escape(&self.message));
        }
        writeln!(out, "{line}")?;
        for m in &self.mismatches {
            writeln!(out, "         expected  {}  (from {})", m.expected, escape(&m.origin))?;
            writeln!(out, "         computed  {}", m.computed)?;
        }
        for detail in &self.details {
            writeln!(out, "         {}", escape(detail))?;
        }
        Ok(())
    }
}

/// What a node audit counts: binaries whose digest was checked, and of those verified;
/// permission findings apart.
#[derive(Default)]
pub struct FindingCounts {
    pub checked: usize,
    pub verified: usize,
    pub digest_failed: usize,
    pub permission_failed: usize,
    /// Units not read, or naming a program kverify cannot name.
    pub unit_failed: usize,
    pub missing: usize,
    pub unlisted: usize,
    pub errors: usize,
}

impl Tally<Finding> for FindingCounts {
    fn add(&mut self, finding: &Finding) {
        let digest = finding.check == Check::Digest;
        match finding.status {
            Status::Ok if digest => self.verified += 1,
            Status::Fail if digest => self.digest_failed += 1,
            Status::Fail if finding.check == Check::Unit => self.unit_failed += 1,
            Status::Fail => self.permission_failed += 1,
            Status::Missing => self.missing += 1,
            Status::Unlisted => self.unlisted += 1,
            Status::Error => self.errors += 1,
            Status::Ok => {}
        }
        if digest && matches!(finding.status, Status::Ok | Status::Fail | Status::Unlisted) {
            self.checked += 1;
        }
    }

    fn verified(&self) -> usize {
        self.verified
    }

    /// Nothing verified on a node is a failure, whatever else went wrong.
    fn nothing_verified(&self, status: ExitStatus) -> ExitStatus {
        status.and(ExitStatus::Failed)
    }

    fn summary(&self, root: &str) -> Option<String> {
        let mut parts = vec![format!("{} verified", self.verified)];
        for (n, word) in [
            (self.digest_failed, "failed"),
            (
                self.permission_failed,
                if self.permission_failed == 1 { "permission finding" } else { "permission findings" },
            ),
            (self.unit_failed, if self.unit_failed == 1 { "unit finding" } else { "unit findings" }),
            (self.errors, if self.errors == 1 { "error" } else { "errors" }),
            (self.missing, "missing"),
            (self.unlisted, "unlisted"),
        ] {
            if n > 0 {
                parts.push(format!("{n} {word}"));
            }
        }
        let noun = if self.checked == 1 { "binary" } else { "binaries" };
        let mut summary = format!("{} {noun} checked under {root}: {}", self.checked, parts.join(", "));
        if self.verified == 0 {
            summary.push_str("; nothing was verified, which is a failure");
        }
        Some(summary)
    }
}
