//! The audit of one host: every binary found, its digest against the pins (a lock or a
//! release's published digests), and who besides root could have replaced it.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::digest::{hash_reader, Algorithm, AlgorithmSet, Digests, Hashed};
use crate::expect::{judge, to_compare, Expected, Policy, Verdict};
use crate::lock::{Lock, LockError};
use crate::platform::Platform;
use crate::report::{Outcome, Reporter, Status};
use crate::subject::Subject;

use super::{
    discover, finding_for, host_path, node_name, permission_findings, resolution_finding, Check, Finding, Found, Kind,
    NodeError, Owner, ReadError, Resolution, Root, Severity, Stat, BINARIES,
};

/// The expected digests of one audit, from a lock or from releases.
pub struct Pins {
    entries: Vec<Expected>,
    /// What the text report calls the source: the lock's path, or `--release`.
    source: String,
    lock: Option<PathBuf>,
    /// For a lock: per pin, where its digests came from when locked, and the archive
    /// that held the binary.
    recorded: HashMap<Subject, (String, Option<String>)>,
}

impl Pins {
    /// The pins of `path` for `platform`. An archive is never installed as such: only
    /// the binaries it held are looked for.
    pub fn from_lock(path: &Path, platform: &Platform) -> Result<Pins, NodeError> {
        let lock = Lock::load(path)?;
        let mut recorded = HashMap::new();
        let mut archives = HashSet::new();
        for pin in &lock.artifacts {
            let archive = (!pin.files.is_empty()).then(|| pin.file.clone());
            if archive.is_some() {
                archives.insert((pin.subject.clone(), pin.file.clone()));
            }
            recorded.insert(pin.subject.clone(), (pin.checksums.join(", "), archive));
        }
        let entries: Vec<Expected> = lock
            .expectations(path)
            .into_iter()
            .filter(|e| e.subject.as_ref().is_some_and(|s| s.platform == *platform))
            .filter(|e| match (&e.subject, &e.name) {
                (Some(subject), Some(name)) => !archives.contains(&(subject.clone(), name.clone())),
                _ => true,
            })
            .collect();
        if entries.is_empty() {
            return Err(LockError::pins_nothing(&lock, path, Some(platform)).into());
        }
        Ok(Pins { entries, source: path.display().to_string(), lock: Some(path.to_path_buf()), recorded })
    }

    /// Published digests of releases (as `verify --release` gets them). The binaries of
    /// an archive have none: those must be pinned with a lock.
    pub fn from_release(entries: Vec<Expected>) -> Result<Pins, NodeError> {
        if let Some(archive) = entries.iter().find_map(|e| {
            let name = name_of(e)?;
            [".tar.gz", ".tgz", ".zip"].iter().any(|x| name.ends_with(x)).then_some(e)
        }) {
            return Err(NodeError::Unpinnable {
                component: archive.subject.as_ref().map_or("this component".into(), |s| s.component.clone()),
                archive: name_of(archive).unwrap_or_default().to_string(),
            });
        }
        Ok(Pins { entries, source: "--release".into(), lock: None, recorded: HashMap::new() })
    }

    fn names(&self) -> BTreeSet<String> {
        self.entries.iter().filter_map(name_of).map(str::to_string).collect()
    }

    /// The entries for a file of this name: a node in the middle of an upgrade may hold
    /// any pinned version, so they are alternatives by subject.
    fn for_name(&self, name: &str) -> Vec<&Expected> {
        self.entries.iter().filter(|e| name_of(e) == Some(name)).collect()
    }

    /// Fills in what the lock recorded: the pin used, where its digests came from.
    fn annotate(&self, f: &mut Finding, subject: Option<&Subject>) {
        let Some(lock) = &self.lock else { return };
        f.evidence.digest.pin = Some(lock.display().to_string());
        if let Some((checksums, archive)) = subject.and_then(|s| self.recorded.get(s)) {
            f.evidence.digest.checksum = Some(checksums.clone());
            if let Some(archive) = archive {
                f.details.push(format!("inside {archive}, as pinned by {}", lock.display()));
            }
        }
    }

    /// Pinned binaries that no file on the node was checked against.
    fn missing(&self, seen_names: &HashSet<String>, seen_pins: &HashSet<(Subject, String)>) -> Vec<Finding> {
        let mut reported = HashSet::new();
        let mut findings = Vec::new();
        for e in &self.entries {
            let (Some(name), Some(subject)) = (name_of(e), e.subject.as_ref()) else { continue };
            let pinned = (subject.clone(), name.to_string());
            if seen_names.contains(name) || seen_pins.contains(&pinned) || !reported.insert(pinned) {
                continue;
            }
            let mut f = Finding::new(Status::Missing, Severity::Info, Check::Digest, "not-installed");
            f.name = Some(name.to_string());
            f.set_subject(subject);
            f.message = format!("pinned in {}, not installed on this node", self.source);
            self.annotate(&mut f, Some(subject));
            findings.push(f);
        }
        findings
    }
}

/// Audits the host under `root` against `pins`, reporting every finding.
pub fn audit(root: &Root, pins: &Pins, reporter: &mut Reporter<Finding>) {
    let mut names: BTreeSet<String> = BINARIES.iter().map(|s| s.to_string()).collect();
    names.extend(pins.names());
    let discovery = discover(root, &names);
    let node = node_name(root);

    // Resolve and stat everything first, then hash every regular file at once.
    let audited: Vec<Audited> = discovery.found.into_iter().map(|found| Audited::new(root, pins, found)).collect();
    let targets: Vec<Option<PathBuf>> = audited.iter().map(|a| a.hash_job()).collect();
    let jobs: Vec<(PathBuf, AlgorithmSet, u64)> =
        targets.iter().zip(&audited).filter_map(|(t, a)| t.clone().map(|path| (path, a.algorithms, a.len))).collect();
    let mut hashed = hash_opened(root, &jobs).into_iter();

    let mut seen_names: HashSet<String> = HashSet::new();
    // Found paths whose digest matched a pin, with the pinned component.
    let mut identified: HashSet<(PathBuf, String)> = HashSet::new();
    let mut seen_pins: HashSet<(Subject, String)> = HashSet::new();
    for (a, target) in audited.iter().zip(&targets) {
        let mut findings = Vec::new();
        match (target, resolution_finding(&a.resolution, a.stat.as_ref())) {
            (None, Some(f)) => findings.push(f),
            _ => {
                let result = hashed.next().unwrap_or_else(|| Err(ReadError::Io(std::io::Error::other("not hashed"))));
                let finding = match result {
                    Ok((digests, _)) => a.judge(pins, digests, &mut seen_pins),
                    Err(e) => unreadable(a, &e),
                };
                findings.push(finding);
            }
        }
        if !a.pinned.is_empty() {
            seen_names.insert(a.name.clone());
        }
        // Permission findings name the binary the digest check identified.
        let named = findings.first().map(|f| (f.component.clone(), f.version.clone(), f.platform.clone()));
        if let Some(f) = findings.first().filter(|f| f.status == Status::Ok && f.check == Check::Digest) {
            identified.extend(f.component.clone().map(|c| (a.found.path.clone(), c)));
        }
        for mut f in permission_findings(root, &a.resolution, a.stat.as_ref()) {
            if let Some((component, version, platform)) = named.clone() {
                (f.component, f.version, f.platform) = (component, version, platform);
            }
            findings.push(f);
        }
        for mut f in findings {
            f.evidence.found_by = a.found.found_by.clone();
            if let Some(stat) = a.stat.filter(|s| s.kind == Kind::File) {
                f.evidence.owner.get_or_insert(Owner { uid: stat.uid, gid: stat.gid });
                f.evidence.mode.get_or_insert_with(|| stat.mode_text());
            }
            f.node = node.clone();
            reporter.record(&f);
        }
    }
    for f in pins.missing(&seen_names, &seen_pins) {
        reporter.record(&Finding { node: node.clone(), ..f });
    }
    for absent in &discovery.absent {
        let mut f = Finding::new(Status::Missing, Severity::Warning, Check::Digest, "not-installed");
        f.path = absent.path.as_deref().map(host_path);
        f.name = Some(absent.name.clone());
        f.message = absent.message.clone();
        f.evidence.found_by = vec![absent.found_by.clone()];
        f.node = node.clone();
        reporter.record(&f);
    }
    for f in discovery.unit_findings {
        reporter.record(&Finding { node: node.clone(), ..f });
    }
    // A unit's program under another name is its binary if its digest says so.
    for other in discovery.other_programs {
        if other.found.is_some_and(|path| identified.contains(&(path, other.binary.to_string()))) {
            continue;
        }
        reporter.record(&Finding { node: node.clone(), ..other.finding });
    }
}

/// Hashes every job's file on all cores, results in the order given: each opened the
/// one way node audits open files ([`Root::open_file`]), so a FIFO or device swapped in
/// since it was looked at is refused on its descriptor, never waited on. Largest first,
/// so the largest file does not start last and run alone.
fn hash_opened(root: &Root, jobs: &[(PathBuf, AlgorithmSet, u64)]) -> Vec<Result<Hashed, ReadError>> {
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get()).min(jobs.len().max(1));
    let mut order: Vec<usize> = (0..jobs.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(jobs[i].2));
    let next = AtomicUsize::new(0);
    let results: Vec<Mutex<Option<Result<Hashed, ReadError>>>> = jobs.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                while let Some(&i) = order.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let (path, set, _) = &jobs[i];
                    let result = root
                        .open_file(path)
                        .and_then(|(file, meta)| hash_reader(file, *set, Some(meta.len())).map_err(ReadError::Io));
                    if let Ok(mut slot) = results[i].lock() {
                        *slot = Some(result);
                    }
                }
            });
        }
    });
    results
        .into_iter()
        .map(|slot| {
            slot.into_inner()
                .ok()
                .flatten()
                .unwrap_or_else(|| Err(ReadError::Io(std::io::Error::other("hashing thread failed"))))
        })
        .collect()
}

/// The name an entry stands for: its last path component (`bin/containerd` is `containerd`).
fn name_of(e: &Expected) -> Option<&str> {
    let name = e.name.as_deref().or(e.sidecar_of.as_deref())?;
    name.rsplit('/').next().filter(|n| !n.is_empty())
}

/// One binary found, resolved, and what to compare it with.
struct Audited {
    found: Found,
    name: String,
    resolution: Resolution,
    stat: Option<Stat>,
    /// The pinned entries of its name, every pinned version (alternatives).
    pinned: Vec<Expected>,
    algorithms: AlgorithmSet,
    /// The size the stat saw, to hash the largest files first.
    len: u64,
}

impl Audited {
    fn new(root: &Root, pins: &Pins, found: Found) -> Audited {
        let name = found.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let resolution = root.resolve(&found.path);
        let stat = resolution.result.as_ref().ok().and_then(|p| root.lstat(p).ok());
        let len = resolution
            .result
            .as_ref()
            .ok()
            .and_then(|p| std::fs::symlink_metadata(root.real(p)).ok())
            .map_or(0, |m| m.len());
        let pinned: Vec<Expected> = pins.for_name(&name).into_iter().cloned().collect();
        // SHA-256 always: it names an unlisted file, and finds a pin under another name.
        let mut algorithms = AlgorithmSet::only(Algorithm::Sha256);
        let refs: Vec<&Expected> = pinned.iter().collect();
        let (_, chosen) = to_compare(&refs, false);
        Algorithm::ALL.iter().filter(|a| chosen.contains(**a)).for_each(|a| algorithms.insert(*a));
        Audited { found, name, resolution, stat, pinned, algorithms, len }
    }

    /// The file to hash (resolved, inside the root), when the path leads to a regular
    /// file (else the resolution finding says what it leads to).
    fn hash_job(&self) -> Option<PathBuf> {
        match resolution_finding(&self.resolution, self.stat.as_ref()) {
            Some(_) => None,
            None => self.resolution.result.as_ref().ok().cloned(),
        }
    }

    /// The digest finding: the file against every pinned version of its name, or, for
    /// a name nothing pins, against every pin (installed under another name).
    fn judge(&self, pins: &Pins, digests: Digests, seen_pins: &mut HashSet<(Subject, String)>) -> Finding {
        if self.pinned.is_empty() {
            if let Some(e) = pins.entries.iter().find(|e| e.matches(&digests)) {
                let pinned_as = name_of(e).unwrap_or_default().to_string();
                if let Some(subject) = &e.subject {
                    seen_pins.insert((subject.clone(), pinned_as.clone()));
                }
                let mut f = self.digest_finding(pins, &judge(&[e], &digests, Policy::All), digests);
                f.message = format!("installed under another name: the bytes of {pinned_as}");
                return f;
            }
            let mut f = self.finding(Status::Unlisted, Severity::Warning, "not-pinned");
            f.message = format!("not pinned in {}", pins.source);
            f.digests = digests;
            return f;
        }
        let refs: Vec<&Expected> = self.pinned.iter().collect();
        let (chosen, _) = to_compare(&refs, false);
        let verdict = judge(&chosen, &digests, Policy::AnyOfSubjects);
        let mut f = self.digest_finding(pins, &verdict, digests);
        if !verdict.also_failed.is_empty() {
            let mut versions: Vec<String> = Vec::new();
            for e in &chosen {
                let v = e.subject.as_ref().map(|s| s.version.to_string()).unwrap_or_default();
                if !versions.contains(&v) {
                    versions.push(v);
                }
            }
            f.mismatches.extend(verdict.also_failed.iter().cloned());
            f.message = format!("{} against every pinned version ({})", f.message, versions.join(", "));
        }
        f
    }

    fn finding(&self, status: Status, severity: Severity, reason: &'static str) -> Finding {
        finding_for(&self.resolution, status, severity, Check::Digest, reason)
    }

    fn digest_finding(&self, pins: &Pins, verdict: &Verdict<'_>, digests: Digests) -> Finding {
        let shown = PathBuf::from(host_path(&self.found.path));
        let mut outcome = Outcome::new(Status::Ok);
        outcome.path = Some(shown);
        outcome.judged(verdict, digests);
        let ok = outcome.status == Status::Ok;
        let (severity, reason) = if ok { (Severity::Info, "match") } else { (Severity::Critical, "mismatch") };
        let mut f = self.finding(if ok { Status::Ok } else { Status::Fail }, severity, reason);
        (f.component, f.version, f.platform) = (outcome.component, outcome.version, outcome.platform);
        f.digests = outcome.digests;
        f.evidence.digest = outcome.evidence;
        f.mismatches = outcome.mismatches;
        f.message = outcome.message.unwrap_or_default();
        pins.annotate(&mut f, verdict.subject());
        if ok {
            let e = &f.evidence.digest;
            let mut parts: Vec<String> = Vec::new();
            parts.extend(e.pin.iter().map(|p| format!("pin={p}")));
            parts.extend(e.checksum.iter().map(|c| format!("checksum={c}")));
            parts.extend(e.signature.iter().map(|s| format!("signature={}", s.signer())));
            parts.extend(e.signature_skipped.iter().map(|s| format!("signature: {s}")));
            if !parts.is_empty() {
                f.details.insert(0, parts.join(" "));
            }
        }
        f
    }
}

fn unreadable(a: &Audited, e: &ReadError) -> Finding {
    if let ReadError::NotRegular { kind } = e {
        // Replaced between the look and the open: what runs is not what was looked at.
        let mut f = a.finding(Status::Fail, Severity::Warning, "not-a-regular-file");
        f.message = format!("not a regular file: {kind} (replaced while the audit ran)");
        return f;
    }
    let mut f = a.finding(Status::Error, Severity::Warning, "unreadable");
    f.message = match e {
        ReadError::NotFound => "cannot read: removed while the audit ran".to_string(),
        e => format!("cannot read: {e}"),
    };
    if matches!(e, ReadError::Io(io) if io.kind() == std::io::ErrorKind::PermissionDenied) {
        f.details.push("hint: run the audit as root (uid 0, no capabilities needed) to read root-only files".into());
    }
    f
}
