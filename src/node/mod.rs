//! Node audits: which Kubernetes binaries a host has installed, and whether anyone but
//! root could have replaced them (owner, mode, parent directories, symbolic links).
//!
//! Every path is resolved inside a root directory, the host's `/` or where a container
//! mounts it, the way the host itself sees it: an absolute link target names a file
//! under the root, never one of the auditing container's.

mod audit;
mod finding;
mod root;
mod units;

use std::collections::{BTreeSet, HashMap};
use std::io;
use std::path::{Path, PathBuf};

pub use audit::{audit, Pins};
pub use finding::{Check, DirectoryEvidence, Finding, FindingCounts, NodeEvidence, Owner, Severity};
pub use root::{host_path, Exposure, Kind, Link, Resolution, ResolveError, Root, Stat, MAX_LINKS};
pub use units::{exec_starts, unit_files, UNITS, UNIT_DIRS};

use crate::report::Status;

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

/// A unit file is a few hundred bytes; anything near this is not one.
const MAX_UNIT_LEN: u64 = 1 << 20;

/// A binary found on the node, by the path the host would run it under.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    /// Inside the root, as written (not resolved).
    pub path: PathBuf,
    /// How it was found: `search path /usr/bin`, `unit /etc/systemd/system/kubelet.service`.
    pub found_by: Vec<String>,
}

/// What a look around the node found.
#[derive(Debug, Default)]
pub struct Discovery {
    /// Sorted by path.
    pub found: Vec<Found>,
    /// Programs a unit names that are not there, with the unit.
    pub absent: Vec<(PathBuf, String)>,
}

/// Looks for `names` in [`SEARCH_DIRS`] and for the programs kubelet's and containerd's
/// units start. A directory that is a link to another one searched already is not
/// searched twice; a unit naming a binary found already adds to its `found_by`.
pub fn discover(root: &Root, names: &BTreeSet<String>) -> Discovery {
    let mut discovery = Discovery::default();
    // Keyed by the resolved directory and the name: the same directory entry once.
    let mut seen: HashMap<PathBuf, usize> = HashMap::new();
    let mut add = |discovery: &mut Discovery, key: PathBuf, path: PathBuf, by: String| match seen.get(&key) {
        Some(&i) => discovery.found[i].found_by.push(by),
        None => {
            seen.insert(key, discovery.found.len());
            discovery.found.push(Found { path, found_by: vec![by] });
        }
    };
    for dir in SEARCH_DIRS {
        let Ok(real_dir) = root.resolve(Path::new(dir)).result else { continue };
        for name in names {
            let key = real_dir.join(name);
            if root.lstat(&key).is_ok() {
                add(&mut discovery, key, Path::new(dir).join(name), format!("search path /{dir}"));
            }
        }
    }
    let unit_files = unit_files(|dir| root.list(Path::new(dir)).unwrap_or_default());
    for unit in unit_files {
        let text = match root.read_small(Path::new(&unit), MAX_UNIT_LEN) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => {
                tracing::info!("not reading unit /{unit}: {e}");
                continue;
            }
        };
        for program in exec_starts(&text) {
            let rel = PathBuf::from(program.trim_start_matches('/'));
            let by = format!("unit /{unit}");
            let key = rel
                .parent()
                .and_then(|parent| root.resolve(parent).result.ok())
                .zip(rel.file_name())
                .map(|(dir, name)| dir.join(name))
                .filter(|key| root.lstat(key).is_ok());
            match key {
                Some(key) => add(&mut discovery, key, rel, by),
                None if !discovery.absent.iter().any(|(p, _)| p == &rel) => discovery.absent.push((rel, by)),
                None => {}
            }
        }
    }
    discovery.found.sort_by(|a, b| a.path.cmp(&b.path));
    discovery
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
/// `spec.nodeName`), else the first line of the root's `/etc/hostname`.
pub fn node_name(root: &Root) -> Option<String> {
    if let Some(name) = std::env::var("KVERIFY_NODE_NAME").ok().filter(|n| !n.trim().is_empty()) {
        return Some(name.trim().to_string());
    }
    let text = root.read_small(Path::new("etc/hostname"), 4096).ok()?;
    text.lines().map(str::trim).find(|l| !l.is_empty()).map(str::to_string)
}
