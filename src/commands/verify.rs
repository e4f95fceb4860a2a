//! `kverify verify`: files on disk against checksum files, digests, releases or locks.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::checksums;
use crate::cli::VerifyArgs;
use crate::digest::{hash_files, Algorithm, AlgorithmSet, Digest, Digests};
use crate::expect::{to_compare, Expectations, Expected};
use crate::platform::Platform;
use crate::report::{ExitStatus, Format, Mismatch, Outcome, Reporter, Status};
use crate::Error;

pub fn run(args: VerifyArgs, format: Format) -> Result<ExitStatus, Error> {
    if args.bundle.is_some() || args.signature.is_some() {
        return super::signed::run(args, format);
    }
    let platform = Platform::from_flags(args.source.os.as_deref(), args.source.arch.as_deref())?;
    let mut expectations = Expectations::new(&platform.os, &platform.arch);
    for path in &args.checksums {
        let bytes = read_capped(path, checksums::MAX_FILE_LEN)?;
        let file = checksums::parse(&path.display().to_string(), &bytes)?;
        expectations.add_checksum_file(&file);
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
    if expectations.is_empty() {
        return Err(Error::usage_hint(
            "nothing to verify against",
            "give --checksums FILE, --sha256 HEX, --sha512 HEX, --release C@V or --lock FILE",
        ));
    }
    verify_paths(&args.paths, &expectations, args.all_digests, format)
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
    Ok(reporter.finish("files"))
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
    if let Some(label) = chosen.iter().find_map(|e| e.label.as_ref()) {
        outcome.component = Some(label.component.clone());
        outcome.version = Some(label.version.clone());
        outcome.platform = Some(label.platform.clone());
    }
    outcome.digests = digests;
    outcome
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
