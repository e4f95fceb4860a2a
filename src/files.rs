//! Files already on disk, checked against expected digests and, when one is given, a
//! signature: each file hashed once (in parallel across cores), every check on that one
//! pass, one report line per file.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::digest::{hash_files, Algorithm, AlgorithmSet};
use crate::expect::{judge, to_compare, Expectations, Expected};
use crate::report::{Outcome, Reporter, Status};
use crate::signature::{self, Signer};

/// What a file must be: listed by `expectations` with the digests they hold, signed as
/// `signer` says, or both.
pub struct Check<'a> {
    pub expectations: Option<&'a Expectations>,
    pub signer: Option<&'a Signer>,
    /// Compare every digest a source lists, not only SHA-256.
    pub all_digests: bool,
}

/// Verifies files and directories (walked recursively; a signature covers one file, so
/// with a signer a directory fails) and reports each, then the files a directory should
/// have held but did not.
pub fn verify(paths: &[PathBuf], check: &Check<'_>, reporter: &mut Reporter<Outcome>) {
    let mut plan = Plan { check, candidates: Vec::new(), early: Vec::new(), found: HashSet::new() };
    let mut walked_a_directory = false;
    for arg in paths {
        match std::fs::metadata(arg) {
            Err(e) => plan.early.push(path_outcome(arg, Status::Error).with_message(format!("cannot read: {e}"))),
            Ok(meta) if meta.is_dir() && check.signer.is_some() => plan
                .early
                .push(path_outcome(arg, Status::Fail).with_message("is a directory: a signature covers one file")),
            Ok(meta) if meta.is_dir() => {
                walked_a_directory = true;
                for (entry, kind) in walk(arg, &mut plan.early) {
                    let rel = entry.strip_prefix(arg).unwrap_or(&entry).to_string_lossy().replace('\\', "/");
                    match kind {
                        Walked::File => plan.classify(entry, &rel, false),
                        Walked::Other(what) => plan.not_a_file(entry, &rel, &what),
                    }
                }
            }
            Ok(meta) if meta.is_file() => {
                let name = arg.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                plan.classify(arg.clone(), &name, true);
            }
            // A FIFO or a device named on the command line is never read (it could
            // block forever, or never end): it is not the file to verify.
            Ok(meta) => plan.early.push(
                path_outcome(arg, Status::Fail)
                    .with_message(format!("not a regular file: {}; not verified", crate::regular_file::kind(&meta))),
            ),
        }
    }

    for outcome in &plan.early {
        reporter.record(outcome);
    }
    let jobs: Vec<(PathBuf, AlgorithmSet)> = plan.candidates.iter().map(|c| (c.path.clone(), c.algorithms)).collect();
    for (candidate, result) in plan.candidates.iter().zip(hash_files(&jobs)) {
        let digests = match result {
            Ok((digests, _)) => digests,
            Err(e) => {
                reporter
                    .record(&path_outcome(&candidate.path, Status::Error).with_message(format!("cannot read: {e}")));
                continue;
            }
        };
        let mut outcome = path_outcome(&candidate.path, Status::Ok);
        match check.expectations {
            Some(expectations) => outcome.judged(&judge(&candidate.compare, &digests, expectations.policy), digests),
            None => outcome.digests = digests,
        }
        if let Some(signer) = check.signer {
            sign_check(&mut outcome, signer);
        }
        reporter.record(&outcome);
    }
    if let (true, Some(expectations)) = (walked_a_directory, check.expectations) {
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
}

/// Checks the given signature over the file's SHA-256; the outcome fails if it does not
/// verify, whatever the digests said.
fn sign_check(outcome: &mut Outcome, signer: &Signer) {
    match outcome.digests.sha256_bytes().map(|sha256| signer.check(sha256)) {
        Some(Ok(evidence)) => outcome.evidence.signature = Some(evidence),
        Some(Err(e)) => {
            outcome.status = Status::Fail;
            let text = format!("signature: {}", signature::chain_text(&e));
            outcome.message = Some(match outcome.message.take() {
                Some(before) => format!("{before}; {text}"),
                None => text,
            });
            outcome.details.extend(e.hint().map(|h| format!("hint: {h}")));
        }
        None => {
            outcome.status = Status::Fail;
            outcome.message = Some("sha256 was not computed".into());
        }
    }
    outcome.details.push(format!("evidence: {}", signer.given.files()));
}

/// A file to check and the entries chosen to compare it with.
struct Candidate<'a> {
    path: PathBuf,
    compare: Vec<&'a Expected>,
    algorithms: AlgorithmSet,
}

/// Which files to hash against which entries, and what was settled without hashing.
struct Plan<'a> {
    check: &'a Check<'a>,
    candidates: Vec<Candidate<'a>>,
    /// Outcomes known before any hashing: unreadable, unlisted, ambiguous, links.
    early: Vec<Outcome>,
    /// Origins of the entries some file matched; the rest are missing.
    found: HashSet<String>,
}

impl<'a> Plan<'a> {
    fn classify(&mut self, path: PathBuf, rel: &str, explicit: bool) {
        // A signature is over the SHA-256: always computed when one is to be checked.
        let mut algorithms = AlgorithmSet::default();
        if self.check.signer.is_some() {
            algorithms.insert(Algorithm::Sha256);
        }
        let Some(expectations) = self.check.expectations else {
            self.candidates.push(Candidate { path, compare: Vec::new(), algorithms });
            return;
        };
        let applying = match expectations.matching(rel, explicit) {
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
            let outcome = match (explicit, self.check.signer.is_some()) {
                (_, true) => {
                    path_outcome(&path, Status::Fail).with_message("no checksum source lists this file; not verified")
                }
                (true, false) => {
                    path_outcome(&path, Status::Fail).with_message("no source lists this file; not verified")
                }
                (false, false) => path_outcome(&path, Status::Unlisted).with_message("no source lists this file"),
            };
            self.early.push(outcome);
            return;
        }
        let (compare, chosen) = to_compare(&applying, self.check.all_digests);
        Algorithm::ALL.iter().filter(|a| chosen.contains(**a)).for_each(|a| algorithms.insert(*a));
        self.candidates.push(Candidate { path, compare, algorithms });
    }

    /// What is not a regular file in a directory is never read: a symbolic link (never
    /// followed), a FIFO, a device, a socket, a directory. A listed name that is now one
    /// fails (someone swapped the binary for it); an unlisted one is reported.
    fn not_a_file(&mut self, path: PathBuf, rel: &str, what: &str) {
        let origins: Vec<String> = match self.check.expectations.map(|x| x.matching(rel, false)) {
            Some(Ok(applying)) => applying.into_iter().map(|e| e.origin.clone()).collect(),
            _ => Vec::new(),
        };
        let outcome = match (origins.is_empty(), what) {
            // An unlisted directory is just a directory (its files are walked).
            (true, "a directory") => return,
            (true, _) => path_outcome(&path, Status::Unlisted).with_message(format!("{what}: not read")),
            (false, _) => {
                let message = format!("is {what}, not the file listed in {}; not read", origins.join(", "));
                self.found.extend(origins);
                path_outcome(&path, Status::Fail).with_message(message)
            }
        };
        self.early.push(outcome);
    }
}

/// What a directory walk met at a path.
enum Walked {
    File,
    /// Anything else, in words: `a symbolic link to /x`, `a FIFO`, `a directory`.
    Other(String),
}

/// Every entry under `dir`, sorted: regular files, and what is not one (symbolic links,
/// never followed; FIFOs, devices, sockets; directories, which are walked too).
/// Unreadable directories are reported in `early`.
fn walk(dir: &Path, early: &mut Vec<Outcome>) -> Vec<(PathBuf, Walked)> {
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
            match entry.metadata() {
                Ok(m) if m.is_dir() => {
                    stack.push(path.clone());
                    files.push((path, Walked::Other("a directory".into())));
                }
                Ok(m) if m.is_file() => files.push((path, Walked::File)),
                Ok(m) if m.file_type().is_symlink() => {
                    let target = std::fs::read_link(&path).map(|t| t.display().to_string()).unwrap_or_default();
                    files.push((path, Walked::Other(format!("a symbolic link to {target}"))));
                }
                Ok(m) => files.push((path, Walked::Other(crate::regular_file::kind(&m).into()))),
                Err(e) => early.push(path_outcome(&path, Status::Error).with_message(format!("cannot stat: {e}"))),
            }
        }
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    files
}

/// The file names under `paths` (directories walked), sorted, for inferring which
/// components they are.
pub fn names(paths: &[PathBuf]) -> Vec<String> {
    let mut names = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut ignored = Vec::new();
            names.extend(
                walk(p, &mut ignored)
                    .into_iter()
                    .filter(|(_, kind)| matches!(kind, Walked::File))
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

fn path_outcome(path: &Path, status: Status) -> Outcome {
    let mut outcome = Outcome::new(status);
    outcome.path = Some(path.to_path_buf());
    outcome
}
