//! `kverify verify`: files on disk against checksum files, digests, releases or locks.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::checksums;
use crate::cli::VerifyArgs;
use crate::digest::{hash_files, Algorithm, AlgorithmSet, Digest, Digests};
use crate::expect::{to_compare, Expectations, Expected};
use crate::install::SignatureCheck;
use crate::lock::Lock;
use crate::platform::Platform;
use crate::release;
use crate::report::{ExitStatus, Format, Mismatch, Outcome, Reporter, Status};
use crate::version::VersionRequest;
use crate::Error;

use super::{parse_targets, trust_options, Session};

pub fn run(args: VerifyArgs, format: Format) -> Result<ExitStatus, Error> {
    if args.bundle.is_some() || args.signature.is_some() {
        return super::signed::run(args, format);
    }
    let mut expectations = local_expectations(&args)?;
    if let Some(path) = &args.lock {
        let lock = Lock::load(path)?;
        let platform = args.source.os.is_some() || args.source.arch.is_some();
        let wanted = platform.then(|| expectations.platform());
        let mut pinned = lock.expectations(path);
        reverify_bundles(&lock, &mut pinned, &trust_options(&args.source.signature))?;
        expectations.entries.extend(
            pinned
                .into_iter()
                .filter(|e| wanted.as_ref().is_none_or(|p| e.label.as_ref().is_some_and(|l| &l.platform == p))),
        );
        expectations.any_of = true;
        if expectations.is_empty() {
            let scope = wanted.map(|p| format!(" for {p}")).unwrap_or_default();
            return Err(Error::usage(format!("{} pins nothing{scope}", path.display())));
        }
    }
    if !args.release.is_empty() {
        let session = Session::new(&args.source)?;
        add_release(&session, &args.release, &args.paths, &mut expectations)?;
    }
    if expectations.is_empty() {
        return Err(Error::usage_hint(
            "nothing to verify against",
            "give --checksums FILE, --sha256 HEX, --sha512 HEX, --release C@V or --lock FILE",
        ));
    }
    verify_paths(&args.paths, &expectations, args.all_digests, format)
}

/// The expected digests given on the command line: `--checksums` files, `--sha256`,
/// `--sha512`; empty when none is given. The platform narrows ambiguous names.
pub(super) fn local_expectations(args: &VerifyArgs) -> Result<Expectations, Error> {
    let platform = Platform::from_flags(args.source.os.as_deref(), args.source.arch.as_deref())?;
    let mut expectations = Expectations::new(&platform.os, &platform.arch);
    for path in &args.checksums {
        let bytes = read_capped(path, checksums::MAX_FILE_LEN)?;
        expectations.add_checksum_file(&checksums::parse(&path.display().to_string(), &bytes)?);
    }
    for (hex, algorithm, flag) in
        [(&args.sha256, Algorithm::Sha256, "--sha256"), (&args.sha512, Algorithm::Sha512, "--sha512")]
    {
        if let Some(hex) = hex {
            let digest =
                Digest::from_hex_as(algorithm, hex.trim()).map_err(|e| Error::usage(format!("{flag} {hex}: {e}")))?;
            expectations.add_digest(digest, flag);
        }
    }
    Ok(expectations)
}

/// Verifies, offline, every transparency-log bundle the lock kept, and lets its evidence
/// vouch for the pin's digests.
fn reverify_bundles(lock: &Lock, pinned: &mut [Expected], trust: &release::TrustOptions) -> Result<(), Error> {
    let root = std::sync::OnceLock::new();
    for pin in &lock.artifacts {
        let Some(signature) = pin.signature.as_ref().filter(|s| s.bundle.is_some()) else { continue };
        let Ok(Digest::Sha256(sha256)) = Digest::from_hex_as(Algorithm::Sha256, &pin.sha256) else { continue };
        let what = format!("{} {} {}", pin.component, pin.version, pin.platform);
        let evidence = release::pinned_evidence(signature, &sha256, &what, trust, || {
            if root.get().is_none() {
                let loaded = release::trust_root(trust)?;
                let _ = root.set(loaded);
            }
            root.get().ok_or_else(|| Error::usage("trusted root not loaded"))
        })?;
        for e in pinned.iter_mut() {
            let same = e.label.as_ref().is_some_and(|l| {
                l.component == pin.component && l.version == pin.version && l.platform == pin.platform
            });
            if same && e.name.as_deref() == Some(pin.file.as_str()) {
                e.signed_by = Some(evidence.clone());
            }
        }
    }
    Ok(())
}

/// Adds the published checksums of each `--release` target (`C@V`, or a bare version
/// whose components are the names of the files given). Published signatures are
/// verified over the published SHA-256: a file that matches that digest is then covered
/// by the signature without a second look at its bytes.
pub(super) fn add_release(
    session: &Session,
    releases: &[String],
    paths: &[PathBuf],
    expectations: &mut Expectations,
) -> Result<(), Error> {
    let mut targets = Vec::new();
    for release in releases {
        match release.split_once('@') {
            Some(_) => targets.extend(parse_targets(std::slice::from_ref(release), false)?),
            None => {
                let version = VersionRequest::parse(release)?;
                let names = file_names(paths);
                let known: Vec<String> = names.into_iter().filter(|n| session.catalog.knows(n)).collect();
                if known.is_empty() {
                    return Err(Error::usage_hint(
                        format!("--release {release}: no file here is named like a known component"),
                        "name the component: --release kubelet@v1.29.0",
                    ));
                }
                targets.extend(known.into_iter().map(|n| (n, version.clone())));
            }
        }
    }
    // One named release applies to every file given, whatever it is called.
    let for_every_file = targets.len() == 1 && releases.iter().all(|r| r.contains('@'));
    for (component, request) in targets {
        let artifact = release::resolve(
            &session.catalog,
            &session.transport,
            &component,
            &request,
            &session.platform,
            &session.trust,
        )?;
        // One signed SBOM covers every binary of a release: one download, one signature.
        let signed = session.signed_sbom(&artifact)?;
        let mut published = match signed {
            Some(signed) => {
                let listed = signed.expected_for(&artifact);
                if listed.is_empty() {
                    return Err(release::ReleaseError::NotInSbom {
                        artifact: artifact.label(),
                        url: signed.url.clone(),
                    }
                    .into());
                }
                listed
            }
            None => published_and_signed(session, &artifact)?,
        };
        for e in &mut published {
            if for_every_file {
                e.sidecar_of = e.name.take();
            }
        }
        expectations.entries.extend(published);
    }
    Ok(())
}

/// The artifact's own checksum files, with its own signature verified over the
/// published SHA-256 (a file that matches that digest is then covered by it).
fn published_and_signed(session: &Session, artifact: &crate::catalog::Artifact) -> Result<Vec<Expected>, Error> {
    let (mut published, _) = release::published_checksums(&session.transport, artifact)?;
    let evidence = match release::fetch_signature(&session.transport, artifact, &session.trust)? {
        Err(_not_required) => None,
        Ok(files) => {
            match release::verify_over_published(&files, artifact, &published, &session.trust, session.trust_root()?)? {
                SignatureCheck::Verified(evidence) => Some(evidence),
                SignatureCheck::NotRequired(_) => None,
            }
        }
    };
    for e in &mut published {
        if matches!(e.digest, Digest::Sha256(_)) {
            e.signed_by = evidence.clone();
        }
    }
    Ok(published)
}

/// The file names under `paths`, for inferring components.
fn file_names(paths: &[PathBuf]) -> Vec<String> {
    let mut names = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut ignored = Vec::new();
            names.extend(
                walk(p, &mut ignored)
                    .into_iter()
                    .filter_map(|(f, _)| f.file_name().map(|n| n.to_string_lossy().into_owned())),
            );
        } else if let Some(n) = p.file_name() {
            names.push(n.to_string_lossy().into_owned());
        }
    }
    names.sort();
    names.dedup();
    names
}

/// Verifies files and directories against `expectations` and reports each.
pub fn verify_paths(
    paths: &[PathBuf],
    expectations: &Expectations,
    all_digests: bool,
    format: Format,
) -> Result<ExitStatus, Error> {
    let mut plan = Plan { expectations, all_digests, candidates: Vec::new(), early: Vec::new(), found: HashSet::new() };
    let mut walked_a_directory = false;
    for arg in paths {
        match std::fs::metadata(arg) {
            Err(e) => plan.early.push(path_outcome(arg, Status::Error).with_message(format!("cannot read: {e}"))),
            Ok(meta) if meta.is_dir() => {
                walked_a_directory = true;
                for (entry, link) in walk(arg, &mut plan.early) {
                    let rel = entry.strip_prefix(arg).unwrap_or(&entry).to_string_lossy().replace('\\', "/");
                    match link {
                        None => plan.classify(entry, &rel, false),
                        Some(target) => plan.symlink(entry, &rel, &target),
                    }
                }
            }
            Ok(_) => {
                let name = arg.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                plan.classify(arg.clone(), &name, true);
            }
        }
    }

    let mut reporter = Reporter::new(format);
    for outcome in &plan.early {
        reporter.record(outcome);
    }
    let jobs: Vec<(PathBuf, AlgorithmSet)> = plan.candidates.iter().map(|c| (c.path.clone(), c.algorithms)).collect();
    for (candidate, result) in plan.candidates.iter().zip(hash_files(&jobs)) {
        let outcome = match result {
            Ok((digests, _)) if expectations.any_of => compare_any(&candidate.path, &candidate.compare, digests),
            Ok((digests, _)) => compare(&candidate.path, &candidate.compare, digests),
            Err(e) => path_outcome(&candidate.path, Status::Error).with_message(format!("cannot read: {e}")),
        };
        reporter.record(&outcome);
    }
    if walked_a_directory {
        for expected in expectations.expected_in_directory() {
            let Some(name) = expected.name.as_deref().or(expected.sidecar_of.as_deref()) else { continue };
            if !plan.found.contains(&expected.origin) {
                let mut outcome =
                    Outcome::new(Status::Missing).with_message(format!("listed in {}, not found", expected.origin));
                outcome.path = Some(PathBuf::from(name));
                reporter.record(&outcome);
            }
        }
    }
    Ok(reporter.finish("files verified"))
}

/// The outcome of comparing what was computed with every expected digest chosen.
pub fn compare(path: &Path, chosen: &[&Expected], digests: Digests) -> Outcome {
    let mut outcome = path_outcome(path, Status::Ok);
    for expected in chosen {
        let computed = digests.get(expected.digest.algorithm()).copied();
        match computed {
            Some(computed) if computed == expected.digest => {}
            Some(computed) => outcome.mismatches.push(Mismatch {
                expected: expected.digest,
                computed,
                origin: expected.origin.clone(),
            }),
            // Never pass a digest that was not computed.
            None => outcome.status = Status::Fail,
        }
    }
    if let Some(first) = outcome.mismatches.first() {
        outcome.status = Status::Fail;
        outcome.message = Some(format!("{} mismatch", first.expected.algorithm()));
    }
    let origins: Vec<&str> = chosen.iter().map(|e| e.origin.as_str()).collect();
    outcome.evidence.checksum = Some(origins.join(", "));
    if let Some(evidence) = chosen.iter().find_map(|e| e.signed_by.as_ref()) {
        outcome.evidence.signature = Some(evidence.clone());
    }
    if let Some(pin) = chosen.iter().find_map(|e| e.pinned_in.as_ref()) {
        outcome.evidence.pin = Some(pin.clone());
    }
    if let Some(label) = chosen.iter().find_map(|e| e.label.as_ref()) {
        outcome.component = Some(label.component.clone());
        outcome.version = Some(label.version.clone());
        outcome.platform = Some(label.platform.clone());
    }
    outcome.digests = digests;
    outcome
}

/// Like [`compare`], when the entries are alternatives: the file verifies if it matches
/// every digest of any one label (component, version, platform).
fn compare_any(path: &Path, chosen: &[&Expected], digests: Digests) -> Outcome {
    let mut labels: Vec<Option<&crate::expect::Label>> = chosen.iter().map(|e| e.label.as_ref()).collect();
    labels.dedup();
    let mut failed = None;
    for label in labels {
        let group: Vec<&Expected> = chosen.iter().copied().filter(|e| e.label.as_ref() == label).collect();
        let outcome = compare(path, &group, digests.clone());
        if outcome.status == Status::Ok {
            return outcome;
        }
        failed.get_or_insert(outcome);
    }
    failed.unwrap_or_else(|| compare(path, chosen, digests))
}

/// A file to check and the entries chosen to compare it with.
struct Candidate<'a> {
    path: PathBuf,
    compare: Vec<&'a Expected>,
    algorithms: AlgorithmSet,
}

/// Which files to hash against which entries, and what was settled without hashing.
struct Plan<'a> {
    expectations: &'a Expectations,
    all_digests: bool,
    candidates: Vec<Candidate<'a>>,
    /// Outcomes known before any hashing: unreadable, unlisted, ambiguous, links.
    early: Vec<Outcome>,
    /// Origins of the entries some file matched; the rest are missing.
    found: HashSet<String>,
}

impl<'a> Plan<'a> {
    fn classify(&mut self, path: PathBuf, rel: &str, explicit: bool) {
        let applying = match self.expectations.matching(rel, explicit) {
            Ok(applying) => applying,
            Err(ambiguous) => {
                self.early.push(path_outcome(&path, Status::Fail).with_message(ambiguous.to_string()));
                return;
            }
        };
        self.found.extend(applying.iter().map(|e| e.origin.clone()));
        if applying.is_empty() {
            // A file named on the command line that nothing lists was not verified: that
            // fails. In a directory walk, an extra file is only reported.
            let outcome = if explicit {
                path_outcome(&path, Status::Fail).with_message("no source lists this file; not verified")
            } else {
                path_outcome(&path, Status::Unlisted).with_message("no source lists this file")
            };
            self.early.push(outcome);
            return;
        }
        let (compare, algorithms) = to_compare(&applying, self.all_digests);
        self.candidates.push(Candidate { path, compare, algorithms });
    }

    /// A symbolic link in a directory is never followed: a listed name that is now a
    /// link fails (someone swapped the binary for a link), an unlisted one is reported.
    fn symlink(&mut self, path: PathBuf, rel: &str, target: &str) {
        let origins: Vec<String> = match self.expectations.matching(rel, false) {
            Ok(applying) => applying.into_iter().map(|e| e.origin.clone()).collect(),
            Err(_) => Vec::new(),
        };
        let outcome = if origins.is_empty() {
            path_outcome(&path, Status::Unlisted).with_message(format!("symbolic link to {target}: not followed"))
        } else {
            let message =
                format!("is a symbolic link to {target}, not the file listed in {}; not followed", origins.join(", "));
            self.found.extend(origins);
            path_outcome(&path, Status::Fail).with_message(message)
        };
        self.early.push(outcome);
    }
}

/// Every regular file under `dir`, sorted, with `Some(target)` for symbolic links
/// (never followed); special files and unreadable directories are reported in `early`.
fn walk(dir: &Path, early: &mut Vec<Outcome>) -> Vec<(PathBuf, Option<String>)> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = match std::fs::read_dir(&d) {
            Ok(entries) => entries,
            Err(e) => {
                early.push(path_outcome(&d, Status::Error).with_message(format!("cannot read directory: {e}")));
                continue;
            }
        };
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    early.push(path_outcome(&d, Status::Error).with_message(format!("cannot read directory: {e}")));
                    continue;
                }
            };
            let path = entry.path();
            match entry.file_type() {
                Ok(t) if t.is_dir() => stack.push(path),
                Ok(t) if t.is_file() => files.push((path, None)),
                Ok(t) if t.is_symlink() => {
                    let target = std::fs::read_link(&path).map(|t| t.display().to_string()).unwrap_or_default();
                    files.push((path, Some(target)));
                }
                Ok(_) => early.push(path_outcome(&path, Status::Unlisted).with_message("not a regular file: skipped")),
                Err(e) => early.push(path_outcome(&path, Status::Error).with_message(format!("cannot stat: {e}"))),
            }
        }
    }
    files.sort();
    files
}

fn path_outcome(path: &Path, status: Status) -> Outcome {
    let mut outcome = Outcome::new(status);
    outcome.path = Some(path.to_path_buf());
    outcome
}

/// Reads a small local file, refusing one over `cap` bytes before reading it all.
pub fn read_capped(path: &Path, cap: u64) -> Result<Vec<u8>, Error> {
    use std::io::Read;
    let file = fs_err::File::open(path)?;
    let mut bytes = Vec::new();
    file.take(cap + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > cap {
        return Err(Error::Checksums(checksums::ChecksumError::TooLarge { source_name: path.display().to_string() }));
    }
    Ok(bytes)
}
