//! `kverify fetch`: download, verify, and only then install.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::archive;
use crate::catalog::Artifact;
use crate::cli::{FetchArgs, OutputArgs};
use crate::digest::{hash_file, AlgorithmSet};
use crate::expect::Expected;
use crate::install::{self, SignatureCheck, Staged, Verified};
use crate::progress::{self, Progress};
use crate::release::{self, SignatureFiles};
use crate::report::{ExitStatus, Format, Outcome, Reporter, Status};
use crate::Error;

use super::{parse_targets, Session};

/// How many artifacts download at once.
const PARALLEL: usize = 4;

pub fn run(args: FetchArgs, output: &OutputArgs, format: Format) -> Result<ExitStatus, Error> {
    let session = Session::new(&args.source)?;
    let targets = parse_targets(&args.targets, true)?;
    let dest = args.dest.clone().unwrap_or_else(|| PathBuf::from("."));
    match std::fs::metadata(&dest) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Err(install::InstallError::NotADirectory { path: dest }.into()),
        Err(e) => {
            return Err(Error::Io(std::io::Error::new(e.kind(), format!("--dest {}: {e}", dest.display()))));
        }
    }
    // Resolve everything first: a typo in the third target fails before any download.
    let mut artifacts = Vec::new();
    for (component, request) in &targets {
        let version =
            release::resolve_version(&session.catalog, &session.transport, component, request, &session.platform)?;
        artifacts.push(session.catalog.resolve(component, &version, &session.platform)?);
    }
    let progress = progress::for_output(output.quiet || format == Format::Json, output.no_progress);
    let job = Job { session: &session, dest: &dest, keep_archive: args.keep_archive, progress: progress.as_ref() };

    let reporter = Mutex::new(Reporter::new(format));
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..PARALLEL.min(artifacts.len()) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(artifact) = artifacts.get(i) else { break };
                let outcome = job.fetch(artifact);
                if let Ok(mut r) = reporter.lock() {
                    r.record(&outcome);
                }
            });
        }
    });
    let reporter = reporter.into_inner().map_err(|_| Error::usage("a download thread panicked"))?;
    Ok(reporter.finish("artifacts"))
}

struct Job<'a> {
    session: &'a Session,
    dest: &'a Path,
    keep_archive: bool,
    progress: &'a dyn Progress,
}

impl Job<'_> {
    /// Fetches one artifact; every failure becomes the outcome's status and message.
    fn fetch(&self, artifact: &Artifact) -> Outcome {
        let mut outcome = Outcome::new(Status::Ok);
        outcome.component = Some(artifact.component.clone());
        outcome.version = Some(artifact.version.to_string());
        outcome.platform = Some(artifact.platform.to_string());
        outcome.url = Some(artifact.url.clone());
        if let Err(e) = self.try_fetch(artifact, &mut outcome) {
            outcome.status = match e.exit_status() {
                ExitStatus::Io => Status::Error,
                _ => Status::Fail,
            };
            if outcome.message.is_none() {
                outcome.message = Some(e.chain());
            }
        }
        outcome
    }

    fn try_fetch(&self, artifact: &Artifact, outcome: &mut Outcome) -> Result<(), Error> {
        let extract = artifact.extract.as_ref().filter(|_| !self.keep_archive);
        let dest = self.dest.join(if extract.is_some() || self.keep_archive {
            &artifact.file_name
        } else {
            &artifact.install_name
        });
        let session = self.session;
        // Evidence first: small files, and a missing one stops before the big download.
        let expected = release::published_checksums(&session.transport, artifact)?;
        let expected: Vec<&Expected> = expected.iter().collect();
        outcome.evidence.checksum = Some(origins(&expected));
        let signature = release::fetch_signature(&session.transport, artifact, &session.trust)?;

        if extract.is_none() {
            if let Some(existing) = install::check_destination(&dest)? {
                if existing.is_file() && self.already_installed(artifact, &dest, &expected, &signature, outcome)? {
                    return Ok(());
                }
            }
        } else if !self.keep_archive {
            // The archive itself is never kept; its binaries are checked at their names.
            for name in binaries_of(artifact) {
                install::check_destination(&self.dest.join(name))?;
            }
        }

        let mut staged = Staged::new_in(self.dest, &artifact.install_name)?;
        let bar = self.progress.bar(&artifact.label());
        let downloaded = session.transport.download(
            &artifact.url,
            staged.file_mut(),
            AlgorithmSet::BOTH,
            artifact.max_size,
            bar.as_ref(),
        );
        let (digests, _len) = match downloaded {
            Ok(d) => {
                bar.finish("downloaded");
                d
            }
            Err(e) => {
                bar.finish("failed");
                return Err(e.into());
            }
        };
        outcome.digests = digests.clone();
        let check = self.check_signature(artifact, &signature, &digests)?;
        let verified = match Verified::check(staged, digests, &expected, check) {
            Ok(v) => v,
            Err(rejected) => {
                outcome.status = Status::Fail;
                let algorithm = rejected.mismatches.first().map_or("digest", |m| m.expected.algorithm().name());
                outcome.message = Some(format!("{algorithm} mismatch; nothing installed"));
                outcome.mismatches = rejected.mismatches;
                outcome.details.extend(rejected.not_computed.iter().map(|o| format!("not computed: {o}")));
                return Ok(());
            }
        };
        record_signature(outcome, &verified.signature);

        match extract {
            None => {
                install::install(verified, &dest, install_mode(artifact, self.keep_archive))?;
                outcome.path = Some(dest);
                outcome.message = Some("installed".into());
            }
            Some(layout) => {
                let binaries = archive::extract(&verified, &artifact.file_name, layout, self.dest)?;
                // All or nothing: no binary is replaced while another cannot be.
                for b in &binaries {
                    install::check_destination(&self.dest.join(&b.name))?;
                }
                let mut names = Vec::new();
                for b in binaries {
                    install::install(b.verified, &self.dest.join(&b.name), artifact.mode)?;
                    names.push(b.name);
                }
                outcome.path = Some(self.dest.to_path_buf());
                outcome.message = Some(format!("installed {} from {}", names.join(", "), artifact.file_name));
            }
        }
        Ok(())
    }

    /// When `dest` already holds the expected bytes, says so and downloads nothing.
    fn already_installed(
        &self,
        artifact: &Artifact,
        dest: &Path,
        expected: &[&Expected],
        signature: &Result<SignatureFiles, SignatureCheck>,
        outcome: &mut Outcome,
    ) -> Result<bool, Error> {
        let (digests, _) = hash_file(dest, AlgorithmSet::BOTH)?;
        let matches = expected.iter().all(|e| digests.get(e.digest.algorithm()) == Some(&e.digest));
        if !matches {
            return Ok(false);
        }
        let check = self.check_signature(artifact, signature, &digests)?;
        install::set_mode(dest, install_mode(artifact, self.keep_archive))?;
        record_signature(outcome, &check);
        outcome.digests = digests;
        outcome.path = Some(dest.to_path_buf());
        outcome.message = Some("already installed; nothing downloaded".into());
        Ok(true)
    }

    fn check_signature(
        &self,
        artifact: &Artifact,
        signature: &Result<SignatureFiles, SignatureCheck>,
        digests: &crate::digest::Digests,
    ) -> Result<SignatureCheck, Error> {
        match signature {
            Err(not_required) => Ok(not_required.clone()),
            Ok(files) => {
                let sha256 = digests.sha256_bytes().ok_or_else(|| Error::usage("sha256 not computed"))?;
                let root = self.session.trust_root()?;
                release::verify_signature(files, artifact, sha256, &self.session.trust, root)
            }
        }
    }
}

fn record_signature(outcome: &mut Outcome, check: &SignatureCheck) {
    match check {
        SignatureCheck::Verified(evidence) => outcome.evidence.signature = Some(evidence.clone()),
        SignatureCheck::NotRequired(why) => outcome.evidence.signature_skipped = Some(why.clone()),
    }
}

fn origins(expected: &[&Expected]) -> String {
    expected.iter().map(|e| e.origin.as_str()).collect::<Vec<_>>().join(", ")
}

/// A kept archive is data (0644); binaries get the catalog's mode.
fn install_mode(artifact: &Artifact, keep_archive: bool) -> u32 {
    if keep_archive && artifact.extract.is_some() {
        0o644
    } else {
        artifact.mode
    }
}

/// The names an archive's binaries install under, when the catalog names them.
fn binaries_of(artifact: &Artifact) -> Vec<String> {
    match &artifact.extract {
        Some(crate::catalog::Extract::Binaries(b)) => {
            b.iter().map(|p| p.rsplit('/').next().unwrap_or(p).to_string()).collect()
        }
        _ => Vec::new(),
    }
}
