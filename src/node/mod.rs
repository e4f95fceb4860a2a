//! Node audits: which Kubernetes binaries a host has installed, and whether anyone but
//! root could have replaced them (owner, mode, parent directories, symbolic links).
//!
//! Every path is resolved inside a root directory, the host's `/` or where a container
//! mounts it, the way the host itself sees it: an absolute link target names a file
//! under the root, never one of the auditing container's. Every file an audit reads (a
//! binary, a unit, `/etc/hostname`) is opened without blocking and checked on its
//! descriptor to be a regular file before the first read ([`Root::open_file`]).

mod audit;
mod exec;
mod finding;
mod root;
mod units;

use std::collections::{BTreeSet, HashMap};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

pub use audit::{audit, Pins};
pub use exec::Program;
pub use finding::{Check, DirectoryEvidence, Finding, FindingCounts, NodeEvidence, Owner, Severity};
pub use root::{host_path, Exposure, Kind, Link, ReadError, Resolution, ResolveError, Root, Stat, MAX_LINKS};
pub use units::{programs_of, EXEC_KEYS, MAX_UNIT_LEN, UNITS, UNIT_DIRS};

use crate::report::Status;
use exec::{EnvRuns, PathSetting};
use units::UnitCommand;

/// Why an audit cannot start.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error(transparent)]
    Lock(#[from] crate::lock::LockError),
    /// `--release` of a component published as an archive: nothing published names the
    /// binaries inside.
    #[error("{component} is published as an archive ({archive}): the binaries inside have no published checksums")]
    Unpinnable { component: String, archive: String },
}

impl NodeError {
    pub fn exit_status(&self) -> crate::status::ExitStatus {
        match self {
            NodeError::Lock(e) => e.exit_status(),
            NodeError::Unpinnable { .. } => crate::status::ExitStatus::Usage,
        }
    }

    pub fn hint(&self) -> Option<String> {
        match self {
            NodeError::Unpinnable { component, .. } => {
                Some(format!("pin them with `kverify lock {component}@VERSION` and audit with --lock"))
            }
            NodeError::Lock(e) => e.hint(),
        }
    }
}

/// The node binaries looked for, besides any file a lock or release names.
pub const BINARIES: &[&str] = &[
    "kubelet",
    "kubeadm",
    "kubectl",
    "kube-proxy",
    "containerd",
    "containerd-shim-runc-v2",
    "ctr",
    "runc",
    "crictl",
    "etcd",
    "etcdctl",
];

/// The binaries a bare `--release VERSION` (a Kubernetes version) applies to.
pub const KUBERNETES_BINARIES: &[&str] = &["kubelet", "kubeadm", "kubectl", "kube-proxy"];

/// Where binaries are looked for, relative to the root.
pub const SEARCH_DIRS: &[&str] = &["usr/bin", "usr/local/bin", "usr/local/sbin", "opt/cni/bin", "opt/bin"];

/// A binary found on the node, by the path the host would run it under.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    /// Inside the root, as written (not resolved).
    pub path: PathBuf,
    /// How it was found: `search path /usr/bin`, `unit /etc/systemd/system/kubelet.service`.
    pub found_by: Vec<String>,
}

/// A program a unit names that is not on the node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Absent {
    /// Inside the root; `None` for a bare name found in no directory searched.
    pub path: Option<PathBuf>,
    pub name: String,
    pub found_by: String,
    pub message: String,
}

/// What a look around the node found.
#[derive(Debug, Default)]
pub struct Discovery {
    /// Sorted by path.
    pub found: Vec<Found>,
    /// Programs a unit names that are not there.
    pub absent: Vec<Absent>,
    /// Units kverify could not read, and programs of units it cannot name: each hides
    /// what the unit runs, so each is a finding.
    pub unit_findings: Vec<Finding>,
    /// `ExecStart=` programs not named for their unit's binary: each is a finding unless
    /// its digest shows it is that binary under another name.
    pub other_programs: Vec<OtherProgram>,
}

/// A program a component's unit runs in place of the component's binary (a wrapper such
/// as `nice`, or another program), by name.
#[derive(Debug)]
pub struct OtherProgram {
    /// The [`Found`] path it was recorded under; `None` when it is not on the node.
    pub found: Option<PathBuf>,
    /// The binary the unit is for (`kubelet`).
    pub binary: &'static str,
    /// What is reported when the program is not that binary after all.
    pub finding: Finding,
}

/// Looks for `names` in [`SEARCH_DIRS`] and for the programs kubelet's and containerd's
/// units run ([`units`]). A directory that is a link to another one searched already is
/// not searched twice; a unit naming a binary found already adds to its `found_by`.
pub fn discover(root: &Root, names: &BTreeSet<String>) -> Discovery {
    let mut d = Discoverer { root, discovery: Discovery::default(), seen: HashMap::new() };
    for dir in SEARCH_DIRS {
        let Ok(real_dir) = root.resolve(Path::new(dir)).result else { continue };
        for name in names {
            let key = real_dir.join(name);
            if root.lstat(&key).is_ok() {
                d.add(key, Path::new(dir).join(name), format!("search path /{dir}"));
            }
        }
    }
    let (defaults, problems) = units::manager_environment(root);
    for problem in problems {
        d.discovery.unit_findings.push(unit_problem_finding(&problem.file, &problem.error));
    }
    for unit in UNITS {
        // The binary the unit is named for: what its `ExecStart=` must run.
        let binary = unit.strip_suffix(".service").unwrap_or(unit);
        let loaded = units::load(root, unit, &defaults);
        for problem in loaded.problems {
            let f = unit_problem_finding(&problem.file, &problem.error);
            if !d.discovery.unit_findings.contains(&f) {
                d.discovery.unit_findings.push(f);
            }
        }
        for command in &loaded.commands {
            let by = FoundBy::unit(command);
            d.command(command, by, binary);
        }
    }
    let mut discovery = d.discovery;
    discovery.found.sort_by(|a, b| a.path.cmp(&b.path));
    discovery
}

/// How deep wrappers (env running env …) are followed.
const MAX_WRAPPERS: usize = 8;

struct Discoverer<'a> {
    root: &'a Root,
    discovery: Discovery,
    /// Keyed by the resolved directory and the name: the same directory entry once.
    seen: HashMap<PathBuf, usize>,
}

impl Discoverer<'_> {
    /// Records `path` (the directory entry `key`) as found by `by`; returns the path
    /// the entry is recorded under (the first one it was found by).
    fn add(&mut self, key: PathBuf, path: PathBuf, by: String) -> PathBuf {
        let i = match self.seen.get(&key) {
            Some(&i) => i,
            None => {
                self.seen.insert(key, self.discovery.found.len());
                self.discovery.found.push(Found { path, found_by: Vec::new() });
                self.discovery.found.len() - 1
            }
        };
        let found = &mut self.discovery.found[i];
        if !found.found_by.contains(&by) {
            found.found_by.push(by);
        }
        found.path.clone()
    }

    fn absent(&mut self, path: Option<PathBuf>, name: &[u8], by: String, message: String) {
        let name = String::from_utf8_lossy(name).into_owned();
        if !self.discovery.absent.iter().any(|a| a.path == path && a.name == name) {
            self.discovery.absent.push(Absent { path, name, found_by: by, message });
        }
    }

    fn unresolved(&mut self, command: &UnitCommand, what: &str) {
        let message = format!("line {}: {}= runs a program kverify cannot name: {what}", command.line, command.key);
        let f = unit_finding(command, "unit-program-unresolved", message);
        if !self.discovery.unit_findings.contains(&f) {
            self.discovery.unit_findings.push(f);
        }
    }

    /// `ExecStart=` of a component's unit runs the component's binary: a `kubelet` for
    /// kubelet.service, by its name, the name of what it links to, or (judged by the
    /// audit) its digest. Anything else there (`nice`, `taskset`, `sh -c`, another
    /// program) is a finding: kverify follows env(1) only, so what such a wrapper goes on
    /// to run is not audited.
    fn main_program(&mut self, command: &UnitCommand, program: &Path, found: Option<PathBuf>, binary: &'static str) {
        let named = |p: &Path| p.file_name() == Some(OsStr::new(binary));
        if command.key != "ExecStart" || named(program) || self.root.resolve(program).result.is_ok_and(|p| named(&p)) {
            return;
        }
        let message = format!(
            "line {}: ExecStart= runs {}, not {binary}: a wrapper or another program; kverify follows env(1) only, \
             so what it runs is not audited",
            command.line,
            host_path(program)
        );
        let finding = unit_finding(command, "unit-runs-another-program", message);
        if !self.discovery.other_programs.iter().any(|o| o.finding == finding) {
            self.discovery.other_programs.push(OtherProgram { found, binary, finding });
        }
    }

    /// The program one unit command runs, and what a wrapper (env, `|`) it names runs.
    fn command(&mut self, command: &UnitCommand, by: FoundBy, binary: &'static str) {
        let args = command.environment.expand_args(&command.command);
        let path = match &command.command.program {
            Program::Unresolved { word, why } => {
                return self.unresolved(command, &format!("{} ({why})", String::from_utf8_lossy(word)));
            }
            Program::Path(path) => units::rel_path(path),
            Program::Name(name) => {
                let Some(path) = self.in_systemd_path(name) else {
                    let dirs: Vec<String> = exec::SYSTEMD_EXEC_PATH.iter().map(|d| format!("/{d}")).collect();
                    let message = format!("named by {by}, not in systemd's search path ({})", dirs.join(":"));
                    return self.absent(None, name, by.to_string(), message);
                };
                path
            }
            Program::Shell(word) => {
                let cwd = command.environment.working_directory.clone();
                let runs = EnvRuns::Program { command: word.clone(), path: PathSetting::Inherit, cwd, rest: args };
                return self.wrapped(command, runs, by.via("the shell"), 0, binary);
            }
        };
        let found = self.program(path.clone(), by.to_string());
        if self.names_env(&path) {
            let args = if command.command.separate_argv0 { args.get(1..).unwrap_or_default().to_vec() } else { args };
            self.wrapped(command, exec::env_runs(&args), by.via(&host_path(&path)), 1, binary);
        } else {
            self.main_program(command, &path, found, binary);
        }
    }

    /// What env(1) (or the shell) goes on to run: found as `execvp` finds it.
    fn wrapped(&mut self, command: &UnitCommand, runs: EnvRuns, by: FoundBy, depth: usize, binary: &'static str) {
        let (program, path, cwd, rest) = match runs {
            EnvRuns::Nothing => return,
            EnvRuns::Unknown(why) => return self.unresolved(command, &why),
            EnvRuns::Program { command, path, cwd, rest } => (command, path, cwd, rest),
        };
        if depth > MAX_WRAPPERS {
            return self.unresolved(command, "wrappers nested too deep");
        }
        let env = &command.environment;
        let cwd = match cwd.or_else(|| env.working_directory.clone()) {
            Some(cwd) => cwd,
            None if env.working_directory_unknown => {
                return self.unresolved(command, "its working directory is set in a way kverify cannot follow")
            }
            None => b"/".to_vec(),
        };
        let found = if program.contains(&b'/') {
            units::rel_path(&join(&cwd, &program))
        } else {
            let search = match path {
                PathSetting::Set(p) => p,
                PathSetting::Unset => exec::UNSET_PATH.to_vec(),
                PathSetting::Inherit => match env.path() {
                    Some(p) => p,
                    None => {
                        return self
                            .unresolved(command, "its PATH may be set by an EnvironmentFile= kverify does not read")
                    }
                },
            };
            let mut candidates =
                search.split(|&b| b == b':').map(|dir| units::rel_path(&join(&join(&cwd, dir), &program)));
            match candidates.find(|rel| self.is_executable(rel)) {
                Some(rel) => rel,
                None => {
                    let message = format!("named by {by}, not found in PATH {}", String::from_utf8_lossy(&search));
                    return self.absent(None, &program, by.to_string(), message);
                }
            }
        };
        let recorded = self.program(found.clone(), by.to_string());
        if self.names_env(&found) {
            self.wrapped(command, exec::env_runs(&rest), by.via(&host_path(&found)), depth + 1, binary);
        } else {
            self.main_program(command, &found, recorded, binary);
        }
    }

    /// Records a program at `rel` (absolute on the host), found or not; returns the path
    /// of the [`Found`] it is recorded under, when found.
    fn program(&mut self, rel: PathBuf, by: String) -> Option<PathBuf> {
        let key = rel
            .parent()
            .and_then(|parent| self.root.resolve(parent).result.ok())
            .zip(rel.file_name())
            .map(|(dir, name)| dir.join(name))
            .filter(|key| self.root.lstat(key).is_ok());
        match key {
            Some(key) => Some(self.add(key, rel, by)),
            None => {
                let name = rel.file_name().map(|n| n.as_bytes().to_vec()).unwrap_or_default();
                let message = format!("named by {by}, not found");
                self.absent(Some(rel), &name, by, message);
                None
            }
        }
    }

    /// Whether `rel` is there, links followed (`access(F_OK)`).
    fn exists(&self, rel: &Path) -> bool {
        self.root.resolve(rel).result.is_ok()
    }

    /// A regular file someone may execute, where `execvp` would run it.
    fn is_executable(&self, rel: &Path) -> bool {
        let Ok(resolved) = self.root.resolve(rel).result else { return false };
        std::fs::metadata(self.root.real(&resolved)).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }

    /// Where systemd finds a bare program name (`DEFAULT_PATH`, first that exists).
    fn in_systemd_path(&self, name: &[u8]) -> Option<PathBuf> {
        exec::SYSTEMD_EXEC_PATH
            .iter()
            .map(|dir| Path::new(dir).join(OsStr::from_bytes(name)))
            .find(|rel| self.exists(rel))
    }

    /// Whether the program at `rel` is env(1): by its name, or the name of what it links to.
    fn names_env(&self, rel: &Path) -> bool {
        let env = Some(OsStr::new("env"));
        rel.file_name() == env || self.root.resolve(rel).result.is_ok_and(|p| p.file_name() == env)
    }
}

/// A finding about what a unit runs, naming the unit file.
fn unit_finding(command: &UnitCommand, reason: &'static str, message: String) -> Finding {
    let mut f = Finding::new(Status::Fail, Severity::Warning, Check::Unit, reason);
    f.path = Some(host_path(&command.file));
    f.name = command.file.file_name().map(|n| n.to_string_lossy().into_owned());
    f.message = message;
    f
}

/// How a unit's program was found, for `found_by`: `unit /etc/…/kubelet.service`, with
/// the setting when it is not `ExecStart=` and the wrappers it went through:
/// `unit /usr/lib/…/containerd.service (ExecStartPre, via /usr/bin/env)`.
#[derive(Clone)]
struct FoundBy {
    file: String,
    notes: Vec<String>,
}

impl FoundBy {
    fn unit(command: &UnitCommand) -> FoundBy {
        let notes = (command.key != "ExecStart").then(|| command.key.to_string()).into_iter().collect();
        FoundBy { file: host_path(&command.file), notes }
    }

    fn via(&self, wrapper: &str) -> FoundBy {
        let mut next = self.clone();
        next.notes.push(format!("via {wrapper}"));
        next
    }
}

impl std::fmt::Display for FoundBy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "unit {}", self.file)?;
        if !self.notes.is_empty() {
            write!(f, " ({})", self.notes.join(", "))?;
        }
        Ok(())
    }
}

/// `path` from `cwd` (`path` itself when absolute).
fn join(cwd: &[u8], path: &[u8]) -> Vec<u8> {
    if path.starts_with(b"/") {
        return path.to_vec();
    }
    let mut out = cwd.to_vec();
    if !out.ends_with(b"/") {
        out.push(b'/');
    }
    out.extend_from_slice(path);
    out
}

/// The finding for a unit file or drop-in that could not be read.
fn unit_problem_finding(file: &Path, error: &ReadError) -> Finding {
    let (status, reason, message) = match error {
        ReadError::NotRegular { kind } => (
            Status::Fail,
            "unit-not-a-regular-file",
            format!("not a regular file: {kind}; what the unit runs is unknown"),
        ),
        ReadError::TooLarge { cap } => (
            Status::Fail,
            "unit-too-large",
            format!("larger than {cap} bytes, not read; what the unit runs is unknown"),
        ),
        ReadError::Resolve(e @ (ResolveError::Loop | ResolveError::NotADirectory { .. })) => {
            (Status::Fail, "unit-unreadable", format!("{e}; what the unit runs is unknown"))
        }
        other => (
            Status::Error,
            "unit-unreadable",
            format!("cannot read: {}; what the unit runs is unknown", io_text(other)),
        ),
    };
    let mut f = Finding::new(status, Severity::Warning, Check::Unit, reason);
    f.path = Some(host_path(file));
    f.name = file.file_name().map(|n| n.to_string_lossy().into_owned());
    f.message = message;
    f
}

fn io_text(e: &ReadError) -> String {
    match e {
        ReadError::Resolve(ResolveError::Io { source, .. }) => format!("{e}: {source}"),
        other => other.to_string(),
    }
}

/// The names of the Kubernetes binaries installed under `root`, sorted.
pub fn installed_kubernetes_binaries(root: &Root) -> Vec<String> {
    let names = KUBERNETES_BINARIES.iter().map(|s| s.to_string()).collect();
    let mut installed: Vec<String> = discover(root, &names)
        .found
        .iter()
        .filter_map(|f| f.path.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    installed.sort();
    installed.dedup();
    installed
}

/// A finding about the binary at `res.requested`, with its path and links filled in.
pub fn finding_for(
    res: &Resolution,
    status: Status,
    severity: Severity,
    check: Check,
    reason: &'static str,
) -> Finding {
    let mut f = Finding::new(status, severity, check, reason);
    f.path = Some(host_path(&res.requested));
    f.name = res.requested.file_name().map(|n| n.to_string_lossy().into_owned());
    if !res.links.is_empty() {
        f.evidence.links =
            res.links.iter().map(|l| format!("{} -> {}", host_path(&l.at), l.target.display())).collect();
        f.evidence.resolved = res.result.as_ref().ok().map(|p| host_path(p));
        f.details.push(format!("via {}", f.evidence.links.join(", ")));
    }
    f
}

/// The finding when a path does not lead to a regular file (`None` when it does).
pub fn resolution_finding(res: &Resolution, stat: Option<&Stat>) -> Option<Finding> {
    let (status, severity, check, reason, message) = match (&res.result, stat) {
        (Ok(_), Some(s)) if s.kind == Kind::File => return None,
        (Ok(_), Some(_)) => {
            (Status::Fail, Severity::Warning, Check::Digest, "not-a-regular-file", "not a regular file".to_string())
        }
        (Ok(_), None) => return None,
        (Err(e @ ResolveError::NotFound { .. }), _) => {
            (Status::Missing, Severity::Warning, Check::Symlink, "dangling", format!("symbolic link to nothing: {e}"))
        }
        (Err(ResolveError::Loop), _) => {
            (Status::Fail, Severity::Warning, Check::Symlink, "loop", format!("symbolic links loop (over {MAX_LINKS})"))
        }
        (Err(e @ ResolveError::NotADirectory { .. }), _) => {
            (Status::Fail, Severity::Warning, Check::Symlink, "not-a-directory", e.to_string())
        }
        (Err(e @ ResolveError::Io { source, .. }), _) => {
            (Status::Error, Severity::Warning, Check::Digest, "unreadable", format!("{e}: {source}"))
        }
    };
    let mut f = finding_for(res, status, severity, check, reason);
    f.message = message;
    Some(f)
}

/// Who besides root could replace the binary: its own owner and mode (`stat`, of what
/// the path resolves to), the directories on its path as written (`parent-writable`)
/// and those reached through a link (`symlink`). Only failures are returned.
pub fn permission_findings(root: &Root, res: &Resolution, stat: Option<&Stat>) -> Vec<Finding> {
    let mut findings = Vec::new();
    if let Some(stat) = stat.filter(|s| s.kind == Kind::File) {
        let owner = Owner { uid: stat.uid, gid: stat.gid };
        if stat.uid != 0 {
            let mut f = finding_for(res, Status::Fail, Severity::Critical, Check::Owner, "owner-not-root");
            f.message = format!("owned by uid {}, not root: that user can replace it", stat.uid);
            f.evidence.owner = Some(owner);
            f.evidence.mode = Some(stat.mode_text());
            findings.push(f);
        }
        if let Some(exposure) = stat.write_exposure() {
            let mut f = finding_for(res, Status::Fail, Severity::Critical, Check::Mode, exposure.code());
            f.message =
                format!("{} (mode {}): someone other than root can modify it", exposure.code(), stat.mode_text());
            f.evidence.owner = Some(owner);
            f.evidence.mode = Some(stat.mode_text());
            findings.push(f);
        }
    }
    let mut lexical = Vec::new();
    let mut behind_links = Vec::new();
    for dir in &res.directories {
        let Ok(s) = root.lstat(dir) else { continue };
        let Some(&worst) = s.exposures().first() else { continue };
        let evidence = DirectoryEvidence {
            path: host_path(dir),
            uid: s.uid,
            gid: s.gid,
            mode: s.mode_text(),
            exposure: worst.code(),
        };
        let text = describe(&evidence, worst);
        if res.is_lexical_ancestor(dir) {
            lexical.push((worst, evidence, text));
        } else {
            behind_links.push((worst, evidence, text));
        }
    }
    for (check, dirs) in [(Check::ParentWritable, lexical), (Check::Symlink, behind_links)] {
        let Some(worst) = dirs.iter().map(|(e, _, _)| *e).max() else { continue };
        // Root's files in a sticky directory cannot be renamed or removed by others; a
        // link's target there can vanish (tmp cleaners) and be re-created by anyone.
        let severity = match (check, worst) {
            (Check::ParentWritable, Exposure::StickyWorldWritable) => Severity::Warning,
            _ => Severity::Critical,
        };
        let mut f = finding_for(res, Status::Fail, severity, check, worst.code());
        let texts: Vec<&str> = dirs.iter().map(|(_, _, t)| t.as_str()).collect();
        f.message = match check {
            Check::Symlink => format!("resolves into a place others can write: {}", texts.join("; ")),
            _ => format!("in a directory others can write: {}", texts.join("; ")),
        };
        f.evidence.directories = dirs.into_iter().map(|(_, e, _)| e).collect();
        findings.push(f);
    }
    findings
}

fn describe(dir: &DirectoryEvidence, worst: Exposure) -> String {
    let what = match worst {
        Exposure::WorldWritable => "world-writable".to_string(),
        Exposure::StickyWorldWritable => "world-writable (sticky)".to_string(),
        Exposure::GroupWritable => format!("writable by group {}", dir.gid),
        Exposure::OwnerNotRoot => format!("owned by uid {}", dir.uid),
    };
    format!("{} is {what} (mode {}, uid {}, gid {})", dir.path, dir.mode, dir.uid, dir.gid)
}

/// The node's name for reports: `KVERIFY_NODE_NAME` (a DaemonSet sets it from
/// `spec.nodeName`), else the first line of the root's `/etc/hostname`, read like every
/// other file of the host: a FIFO or device there is no name, never a hang.
pub fn node_name(root: &Root) -> Option<String> {
    if let Some(name) = std::env::var("KVERIFY_NODE_NAME").ok().filter(|n| !n.trim().is_empty()) {
        return Some(name.trim().to_string());
    }
    let bytes = match root.read_small(Path::new("etc/hostname"), 4096) {
        Ok(bytes) => bytes,
        Err(ReadError::NotFound) => return None,
        Err(e) => {
            tracing::warn!("no node name from /etc/hostname: {e}");
            return None;
        }
    };
    let text = String::from_utf8_lossy(&bytes);
    text.lines().map(str::trim).find(|l| !l.is_empty()).map(str::to_string)
}

/// `len` bytes drawn from `alphabet` by a xorshift generator at `seed`: hostile input,
/// the same on every run, for the parsers' never-panic tests.
#[cfg(test)]
fn hostile_bytes(seed: &mut u64, alphabet: &[u8], len: usize) -> Vec<u8> {
    (0..len)
        .map(|_| {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            alphabet[(*seed % alphabet.len() as u64) as usize]
        })
        .collect()
}
