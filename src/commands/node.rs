//! `kverify node`: the binaries installed on a host against a lock or a release, and who
//! besides root could have replaced them.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::cli::NodeArgs;
use crate::digest::{hash_files, Algorithm, AlgorithmSet, Digests};
use crate::expect::{to_compare, Expectations, Expected, Label};
use crate::lock::Lock;
use crate::node::{self, host_path, Check, Finding, Found, Reporter, Resolution, Root, Severity, Stat};
use crate::platform::Platform;
use crate::report::{ExitStatus, Format, Outcome, Status};
use crate::version::VersionRequest;
use crate::Error;

use super::verify::{add_release, compare};
use super::Session;

pub fn run(args: NodeArgs, format: Format) -> Result<ExitStatus, Error> {
    let platform = Platform::from_flags(args.source.os.as_deref(), args.source.arch.as_deref())?;
    let root = Root::open(&args.root)?;
    let pins = match &args.lock {
        Some(lock) => Pins::from_lock(lock, &platform)?,
        None if !args.release.is_empty() => Pins::from_release(&args, &root)?,
        None => {
            return Err(Error::usage_hint(
                "nothing to check the installed binaries against",
                "give --lock FILE (written by `kverify lock`) or --release C@V (e.g. --release kubelet@v1.29.0)",
            ))
        }
    };
    let mut names: BTreeSet<String> = node::BINARIES.iter().map(|s| s.to_string()).collect();
    names.extend(pins.names());
    let discovery = node::discover(&root, &names);
    let node_name = node::node_name(&root);

    // Resolve and stat everything first, then hash every regular file at once.
    let audited: Vec<Audited> = discovery.found.into_iter().map(|found| Audited::new(&root, &pins, found)).collect();
    let targets: Vec<Option<PathBuf>> = audited.iter().map(|a| a.hash_job(&root)).collect();
    let jobs: Vec<(PathBuf, AlgorithmSet)> =
        targets.iter().zip(&audited).filter_map(|(t, a)| t.clone().map(|path| (path, a.algorithms))).collect();
    let mut hashed = hash_files(&jobs).into_iter();

    let mut reporter = Reporter::new(format);
    let mut seen_names: HashSet<String> = HashSet::new();
    let mut seen_pins: HashSet<(Key, String)> = HashSet::new();
    for (a, target) in audited.iter().zip(&targets) {
        let mut findings = Vec::new();
        match (target, node::resolution_finding(&a.resolution, a.stat.as_ref())) {
            (None, Some(f)) => findings.push(f),
            _ => {
                let result = hashed.next().unwrap_or_else(|| Err(std::io::Error::other("not hashed")));
                let finding = match result {
                    Ok((digests, _)) => a.judge(&pins, digests, &mut seen_pins),
                    Err(e) => unreadable(a, &e),
                };
                findings.push(finding);
            }
        }
        if !a.groups.is_empty() {
            seen_names.insert(a.name.clone());
        }
        // Permission findings name the binary the digest check identified.
        let label = findings.first().map(|f| (f.component.clone(), f.version.clone(), f.platform.clone()));
        for mut f in node::permission_findings(&root, &a.resolution, a.stat.as_ref()) {
            if let Some((component, version, platform)) = label.clone() {
                (f.component, f.version, f.platform) = (component, version, platform);
            }
            findings.push(f);
        }
        for mut f in findings {
            f.evidence.found_by = a.found.found_by.clone();
            if let Some(stat) = a.stat.filter(|s| s.kind == node::Kind::File) {
                f.evidence.owner.get_or_insert(node::Owner { uid: stat.uid, gid: stat.gid });
                f.evidence.mode.get_or_insert_with(|| stat.mode_text());
            }
            f.node = node_name.clone();
            reporter.record(&f);
        }
    }
    for f in pins.missing(&seen_names, &seen_pins) {
        reporter.record(&Finding { node: node_name.clone(), ..f });
    }
    for (path, unit) in &discovery.absent {
        let mut f = Finding::new(Status::Missing, Severity::Warning, Check::Digest, "not-installed");
        f.path = Some(host_path(path));
        f.name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        f.message = format!("named by {unit}, not found");
        f.evidence.found_by = vec![unit.clone()];
        f.node = node_name.clone();
        reporter.record(&f);
    }
    Ok(reporter.finish(&args.root.display().to_string()))
}

/// The expected digests of one run, from a lock or from releases.
struct Pins {
    entries: Vec<Expected>,
    /// What the text report calls the source: the lock's path, or `--release`.
    source: String,
    lock: Option<PathBuf>,
    /// For a lock: per pin, where its digests came from when locked, and the archive
    /// that held the binary.
    recorded: HashMap<Key, (String, Option<String>)>,
}

impl Pins {
    fn from_lock(path: &Path, platform: &Platform) -> Result<Pins, Error> {
        let lock = Lock::load(path)?;
        let wanted = platform.to_string();
        let mut recorded = HashMap::new();
        let mut archives = HashSet::new();
        for pin in &lock.artifacts {
            let label = Label {
                component: pin.component.clone(),
                version: pin.version.clone(),
                platform: pin.platform.clone(),
            };
            let archive = (!pin.files.is_empty()).then(|| pin.file.clone());
            if archive.is_some() {
                archives.insert((key(&label), pin.file.clone()));
            }
            recorded.insert(key(&label), (pin.checksums.join(", "), archive));
        }
        // An archive is never installed as such: only the binaries it held are looked for.
        let entries: Vec<Expected> = lock
            .expectations(path)
            .into_iter()
            .filter(|e| e.label.as_ref().is_some_and(|l| l.platform == wanted))
            .filter(|e| {
                !archives.contains(&(key(&e.label.clone().unwrap_or_default()), e.name.clone().unwrap_or_default()))
            })
            .collect();
        if entries.is_empty() && !lock.artifacts.is_empty() {
            let held: BTreeSet<&str> = lock.artifacts.iter().map(|a| a.platform.as_str()).collect();
            tracing::warn!(
                "{} pins nothing for {wanted} (it pins {}): give --os/--arch",
                path.display(),
                held.into_iter().collect::<Vec<_>>().join(", ")
            );
        }
        Ok(Pins { entries, source: path.display().to_string(), lock: Some(path.to_path_buf()), recorded })
    }

    /// Published checksums of each `--release` (`C@V`, or a Kubernetes version for every
    /// Kubernetes binary installed), as `verify --release` gets them.
    fn from_release(args: &NodeArgs, root: &Root) -> Result<Pins, Error> {
        let session = Session::new(&args.source)?;
        let mut targets = Vec::new();
        for release in &args.release {
            if release.contains('@') {
                targets.push(release.clone());
                continue;
            }
            VersionRequest::parse(release)?;
            let names = node::KUBERNETES_BINARIES.iter().map(|s| s.to_string()).collect();
            let mut installed: Vec<String> = node::discover(root, &names)
                .found
                .iter()
                .filter_map(|f| f.path.file_name().map(|n| n.to_string_lossy().into_owned()))
                .collect();
            installed.sort();
            installed.dedup();
            if installed.is_empty() {
                return Err(Error::usage_hint(
                    format!("--release {release}: no Kubernetes binary is installed under {}", root.dir().display()),
                    "name the component: --release containerd@v1.7.13",
                ));
            }
            targets.extend(installed.into_iter().map(|n| format!("{n}@{release}")));
        }
        let mut expectations = Expectations::new(&session.platform.os, &session.platform.arch);
        add_release(&session, &targets, &[], &mut expectations)?;
        if let Some(archive) = expectations.entries.iter().find_map(|e| {
            let name = name_of(e)?;
            [".tar.gz", ".tgz", ".zip"].iter().any(|x| name.ends_with(x)).then_some(e)
        }) {
            let component = archive.label.as_ref().map(|l| l.component.as_str()).unwrap_or("this component");
            return Err(Error::usage_hint(
                format!(
                    "{component} is published as an archive ({}): the binaries inside have no published checksums",
                    name_of(archive).unwrap_or_default()
                ),
                format!("pin them with `kverify lock {component}@VERSION` and audit with --lock"),
            ));
        }
        Ok(Pins { entries: expectations.entries, source: "--release".into(), lock: None, recorded: HashMap::new() })
    }

    fn names(&self) -> BTreeSet<String> {
        self.entries.iter().filter_map(name_of).map(str::to_string).collect()
    }

    /// The entries for a file of this name, one group per pinned component × version ×
    /// platform: a node in the middle of an upgrade may hold either version.
    fn groups(&self, name: &str) -> Vec<Vec<&Expected>> {
        let mut groups: Vec<(Label, Vec<&Expected>)> = Vec::new();
        for e in self.entries.iter().filter(|e| name_of(e) == Some(name)) {
            let label = e.label.clone().unwrap_or_default();
            match groups.iter_mut().find(|(l, _)| *l == label) {
                Some((_, g)) => g.push(e),
                None => groups.push((label, vec![e])),
            }
        }
        groups.into_iter().map(|(_, g)| g).collect()
    }

    /// Fills in what the lock recorded: the pin used, where its digests came from.
    fn annotate(&self, f: &mut Finding) {
        let Some(lock) = &self.lock else { return };
        f.evidence.digest.pin = Some(lock.display().to_string());
        let label = Label {
            component: f.component.clone().unwrap_or_default(),
            version: f.version.clone().unwrap_or_default(),
            platform: f.platform.clone().unwrap_or_default(),
        };
        if let Some((checksums, archive)) = self.recorded.get(&key(&label)) {
            f.evidence.digest.checksum = Some(checksums.clone());
            if let Some(archive) = archive {
                f.details.push(format!("inside {archive}, as pinned by {}", lock.display()));
            }
        }
    }

    /// Pinned binaries that no file on the node was checked against.
    fn missing(&self, seen_names: &HashSet<String>, seen_pins: &HashSet<(Key, String)>) -> Vec<Finding> {
        let mut reported = HashSet::new();
        let mut findings = Vec::new();
        for e in &self.entries {
            let (Some(name), Some(label)) = (name_of(e), e.label.as_ref()) else { continue };
            let pinned = (key(label), name.to_string());
            if seen_names.contains(name) || seen_pins.contains(&pinned) || !reported.insert(pinned) {
                continue;
            }
            let mut f = Finding::new(Status::Missing, Severity::Info, Check::Digest, "not-installed");
            f.name = Some(name.to_string());
            f.component = Some(label.component.clone());
            f.version = Some(label.version.clone());
            f.platform = Some(label.platform.clone());
            f.message = format!("pinned in {}, not installed on this node", self.source);
            self.annotate(&mut f);
            findings.push(f);
        }
        findings
    }
}

/// A pin's identity: component, version, platform.
type Key = (String, String, String);

fn key(label: &Label) -> Key {
    (label.component.clone(), label.version.clone(), label.platform.clone())
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
    groups: Vec<Vec<Expected>>,
    algorithms: AlgorithmSet,
}

impl Audited {
    fn new(root: &Root, pins: &Pins, found: Found) -> Audited {
        let name = found.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let resolution = root.resolve(&found.path);
        let stat = resolution.result.as_ref().ok().and_then(|p| root.lstat(p).ok());
        let groups: Vec<Vec<Expected>> =
            pins.groups(&name).into_iter().map(|g| g.into_iter().cloned().collect()).collect();
        // SHA-256 always: it names an unlisted file, and finds a pin under another name.
        let mut algorithms = AlgorithmSet::only(Algorithm::Sha256);
        for g in &groups {
            let refs: Vec<&Expected> = g.iter().collect();
            let (_, set) = to_compare(&refs, false);
            Algorithm::ALL.iter().filter(|a| set.contains(**a)).for_each(|a| algorithms.insert(*a));
        }
        Audited { found, name, resolution, stat, groups, algorithms }
    }

    /// The file to hash, when the path leads to a regular file (else the resolution
    /// finding says what it leads to).
    fn hash_job(&self, root: &Root) -> Option<PathBuf> {
        match node::resolution_finding(&self.resolution, self.stat.as_ref()) {
            Some(_) => None,
            None => self.resolution.result.as_ref().ok().map(|p| root.real(p)),
        }
    }

    fn path(&self) -> String {
        host_path(&self.found.path)
    }

    /// The digest finding: the file against every pinned version of its name, or, for
    /// a name nothing pins, against every pin (installed under another name).
    fn judge(&self, pins: &Pins, digests: Digests, seen_pins: &mut HashSet<(Key, String)>) -> Finding {
        let shown = PathBuf::from(self.path());
        if self.groups.is_empty() {
            let by_digest = pins.entries.iter().find(|e| digests.get(e.digest.algorithm()) == Some(&e.digest));
            if let Some(e) = by_digest {
                let pinned_as = name_of(e).unwrap_or_default().to_string();
                if let Some(label) = &e.label {
                    seen_pins.insert((key(label), pinned_as.clone()));
                }
                let mut f = self.digest_finding(pins, compare(&shown, &[e], digests));
                f.message = format!("installed under another name: the bytes of {pinned_as}");
                return f;
            }
            let mut f = self.finding(Status::Unlisted, Severity::Warning, "not-pinned");
            f.message = format!("not pinned in {}", pins.source);
            f.digests = digests;
            return f;
        }
        let outcomes: Vec<Outcome> = self
            .groups
            .iter()
            .map(|g| {
                let refs: Vec<&Expected> = g.iter().collect();
                let (chosen, _) = to_compare(&refs, false);
                compare(&shown, &chosen, digests.clone())
            })
            .collect();
        if let Some(ok) = outcomes.iter().find(|o| o.status == Status::Ok) {
            return self.digest_finding(pins, ok.clone());
        }
        let versions: Vec<String> = outcomes.iter().filter_map(|o| o.version.clone()).collect();
        let mut all = outcomes.into_iter();
        let Some(mut first) = all.next() else { return self.finding(Status::Error, Severity::Warning, "unreadable") };
        if versions.len() > 1 {
            all.for_each(|o| first.mismatches.extend(o.mismatches));
            first.message = Some(format!(
                "{} against every pinned version ({})",
                first.message.as_deref().unwrap_or("mismatch"),
                versions.join(", ")
            ));
        }
        self.digest_finding(pins, first)
    }

    fn finding(&self, status: Status, severity: Severity, reason: &'static str) -> Finding {
        node::finding_for(&self.resolution, status, severity, Check::Digest, reason)
    }

    fn digest_finding(&self, pins: &Pins, outcome: Outcome) -> Finding {
        let ok = outcome.status == Status::Ok;
        let (severity, reason) = if ok { (Severity::Info, "match") } else { (Severity::Critical, "mismatch") };
        let mut f = self.finding(if ok { Status::Ok } else { Status::Fail }, severity, reason);
        f.component = outcome.component;
        f.version = outcome.version;
        f.platform = outcome.platform;
        f.digests = outcome.digests;
        f.evidence.digest = outcome.evidence;
        f.mismatches = outcome.mismatches;
        f.message = outcome.message.unwrap_or_default();
        pins.annotate(&mut f);
        if ok {
            let e = &f.evidence.digest;
            let mut parts: Vec<String> = Vec::new();
            parts.extend(e.pin.iter().map(|p| format!("pin={p}")));
            parts.extend(e.checksum.iter().map(|c| format!("checksum={c}")));
            parts.extend(e.signature.iter().map(|s| format!("signature={} ({})", s.identity, s.kind)));
            parts.extend(e.signature_skipped.iter().map(|s| format!("signature: {s}")));
            if !parts.is_empty() {
                f.details.insert(0, parts.join(" "));
            }
        }
        f
    }
}

fn unreadable(a: &Audited, e: &std::io::Error) -> Finding {
    let mut f = a.finding(Status::Error, Severity::Warning, "unreadable");
    f.message = format!("cannot read: {e}");
    if e.kind() == std::io::ErrorKind::PermissionDenied {
        f.details.push("hint: run the audit as root (uid 0, no capabilities needed) to read root-only files".into());
    }
    f
}
