//! `kverify fetch`: download, verify, and only then install.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::archive;
use crate::catalog::Artifact;
use crate::cli::{FetchArgs, OutputArgs};
use crate::digest::{hash_file, AlgorithmSet, Digests};
use crate::expect::Expected;
use crate::install::{self, SignatureCheck, Staged, Verified};
use crate::lock::Lock;
use crate::progress::{self, Progress};
use crate::release::{self, SignatureFiles};
use crate::report::{ExitStatus, Format, Outcome, Reporter, Status};
use crate::Error;

use super::{fail, labelled, parse_targets, Session};

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
    let lock = args.lock.as_deref().map(|p| LockSource::load(p, args.locked)).transpose()?;
    // Resolve everything first: a typo in the third target fails before any download.
    let mut artifacts = Vec::new();
    for (component, request) in &targets {
        artifacts.push(release::resolve(
            &session.catalog,
            &session.transport,
            component,
            request,
            &session.platform,
            &session.trust,
        )?);
    }
    let progress = progress::for_output(output.quiet || format == Format::Json, output.no_progress);
    let job = Job {
        session: &session,
        dest: &dest,
        keep_archive: args.keep_archive,
        lock: lock.as_ref(),
        progress: progress.as_ref(),
    };

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
    Ok(reporter.finish("artifacts verified"))
}

struct Job<'a> {
    session: &'a Session,
    dest: &'a Path,
    keep_archive: bool,
    lock: Option<&'a LockSource>,
    progress: &'a dyn Progress,
}

/// A lock given with `--lock`, and whether artifacts it does not pin fail (`--locked`).
pub struct LockSource {
    pub path: PathBuf,
    pub lock: Lock,
    pub locked: bool,
}

impl LockSource {
    pub fn load(path: &Path, locked: bool) -> Result<LockSource, Error> {
        Ok(LockSource { path: path.to_path_buf(), lock: Lock::load(path)?, locked })
    }
}

/// Everything known about an artifact before its bytes arrive.
pub struct ArtifactEvidence {
    /// The upstream URL to download (a lock's pin names it).
    pub url: String,
    pub expected: Vec<Expected>,
    /// The checksum files as published (none when the digests came from a lock).
    pub checksum_files: Vec<release::RawFile>,
    pub signature: PendingSignature,
    /// The signed release SBOM the digests were checked against, if any.
    pub sbom: Option<String>,
    /// The digests came from a lock, not from the upstream.
    pub pinned: bool,
}

/// A signature still to check over the digest that is about to be computed, or a
/// decision already made.
pub enum PendingSignature {
    Files(SignatureFiles),
    Settled(SignatureCheck),
}

/// The expected digests and signature for `artifact`: from the lock's pin when there is
/// one (no download at all), else from the upstream's published checksum files.
pub fn gather(session: &Session, artifact: &Artifact, lock: Option<&LockSource>) -> Result<ArtifactEvidence, Error> {
    if let Some(source) = lock {
        match source.lock.find(&artifact.component, &artifact.version, Some(&artifact.platform)) {
            Some(pin) => {
                let origin = source.path.as_path();
                let mut expected: Vec<Expected> = Lock { artifacts: vec![pin.clone()], ..source.lock.clone() }
                    .expectations(origin)
                    .into_iter()
                    .filter(|e| e.name.as_deref() == Some(pin.file.as_str()))
                    .collect();
                for e in &mut expected {
                    e.name = Some(artifact.install_name.clone());
                }
                let signature = match &pin.signature {
                    Some(s) => {
                        let sha256 = crate::expect::first_sha256(&expected)
                            .ok_or_else(|| Error::usage(format!("{}: no sha256 pinned", artifact.label())))?;
                        let evidence = release::pinned_evidence(s, &sha256, &artifact.label(), &session.trust, || {
                            session.trust_root()
                        })?;
                        SignatureCheck::Verified(evidence)
                    }
                    None => SignatureCheck::NotRequired(format!("none pinned in {}", origin.display())),
                };
                return Ok(ArtifactEvidence {
                    url: pin.url.clone(),
                    expected,
                    checksum_files: Vec::new(),
                    sbom: None,
                    signature: PendingSignature::Settled(signature),
                    pinned: true,
                });
            }
            None if source.locked => {
                return Err(Error::Release(release::ReleaseError::NotPinned {
                    artifact: artifact.label(),
                    lock: source.path.clone(),
                }));
            }
            None => {}
        }
    }
    let (mut expected, checksum_files) = release::published_checksums(&session.transport, artifact)?;
    let signature = match release::fetch_signature(&session.transport, artifact, &session.trust)? {
        Ok(files) => PendingSignature::Files(files),
        Err(settled) => PendingSignature::Settled(settled),
    };
    // A signature covers a digest, not a name or a version: the release's signed SBOM
    // binds the digest to this artifact of this release, so a validly signed binary of
    // another release (or another binary) served here is refused before any download.
    let sbom = session.signed_sbom(artifact)?;
    if let Some(signed) = &sbom {
        let listed = signed.expected_for(artifact);
        if listed.is_empty() {
            return Err(release::ReleaseError::NotInSbom { artifact: artifact.label(), url: signed.url.clone() }.into());
        }
        for (published, listed) in expected.iter().flat_map(|p| listed.iter().map(move |l| (p, l))) {
            if published.digest.algorithm() == listed.digest.algorithm() && published.digest != listed.digest {
                return Err(release::ReleaseError::SbomDisagrees {
                    artifact: artifact.label(),
                    published: format!("{} from {}", published.digest, published.origin),
                    listed: format!("{} from {}", listed.digest, listed.origin),
                }
                .into());
            }
        }
        expected.extend(listed);
    }
    Ok(ArtifactEvidence {
        url: artifact.url.clone(),
        expected,
        checksum_files,
        signature,
        sbom: sbom.map(|s| s.url.clone()),
        pinned: false,
    })
}

/// Streams the artifact into a staged file in `dir`, hashing SHA-256 and SHA-512 in the
/// same pass, then checks every expected digest and the signature. `Ok(None)` when the
/// bytes did not verify: `outcome` then says why, and the staged file is gone.
pub fn download_verified(
    session: &Session,
    artifact: &Artifact,
    evidence: &ArtifactEvidence,
    dir: &Path,
    progress: &dyn Progress,
    outcome: &mut Outcome,
) -> Result<Option<Verified>, Error> {
    let mut staged = Staged::new_in(dir, &artifact.install_name)?;
    let bar = progress.bar(&artifact.label());
    let downloaded = session.transport.download(
        &evidence.url,
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
    let expected: Vec<&Expected> = evidence.expected.iter().collect();
    let check = check_signature(session, artifact, &evidence.signature, &digests)?;
    match Verified::check(staged, digests, &expected, check) {
        Ok(verified) => {
            record_signature(outcome, &verified.signature);
            Ok(Some(verified))
        }
        Err(rejected) => {
            outcome.status = Status::Fail;
            let algorithm = rejected.mismatches.first().map_or("digest", |m| m.expected.algorithm().name());
            outcome.message = Some(format!("{algorithm} mismatch; nothing installed"));
            outcome.mismatches = rejected.mismatches;
            outcome.details.extend(rejected.not_computed.iter().map(|o| format!("not computed: {o}")));
            Ok(None)
        }
    }
}

/// When the file at `path` already holds the expected bytes: its digests and the
/// signature check over them. `Ok(None)` when its bytes differ (download it again).
pub fn already_verified(
    session: &Session,
    artifact: &Artifact,
    path: &Path,
    evidence: &ArtifactEvidence,
) -> Result<Option<(Digests, SignatureCheck)>, Error> {
    let (digests, _) = hash_file(path, AlgorithmSet::BOTH)?;
    if !evidence.expected.iter().all(|e| digests.get(e.digest.algorithm()) == Some(&e.digest)) {
        return Ok(None);
    }
    let check = check_signature(session, artifact, &evidence.signature, &digests)?;
    Ok(Some((digests, check)))
}

/// Checks a pending signature over the SHA-256 just computed.
pub fn check_signature(
    session: &Session,
    artifact: &Artifact,
    signature: &PendingSignature,
    digests: &Digests,
) -> Result<SignatureCheck, Error> {
    match signature {
        PendingSignature::Settled(check) => Ok(check.clone()),
        PendingSignature::Files(files) => {
            let sha256 = digests.sha256_bytes().ok_or_else(|| Error::usage("sha256 not computed"))?;
            release::verify_signature(files, artifact, sha256, &session.trust, session.trust_root()?)
        }
    }
}

impl Job<'_> {
    /// Fetches one artifact; every failure becomes the outcome's status and message.
    fn fetch(&self, artifact: &Artifact) -> Outcome {
        let mut outcome = labelled(artifact);
        if let Err(e) = self.try_fetch(artifact, &mut outcome) {
            fail(&mut outcome, &e);
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
        // Evidence first: small files, and a missing one stops before the big download.
        let evidence = gather(self.session, artifact, self.lock)?;
        outcome.url = Some(evidence.url.clone());
        outcome.evidence.checksum = Some(origins(&evidence.expected));
        outcome.evidence.pin = self.lock.map(|l| l.path.display().to_string()).filter(|_| evidence.pinned);

        if extract.is_none() {
            if let Some(existing) = install::check_destination(&dest)? {
                if existing.is_file() && self.already_installed(artifact, &dest, &evidence, outcome)? {
                    return Ok(());
                }
            }
        } else if !self.keep_archive {
            // The archive itself is never kept; its binaries are checked at their names.
            for name in binaries_of(artifact) {
                install::check_destination(&self.dest.join(name))?;
            }
        }

        let Some(verified) = download_verified(self.session, artifact, &evidence, self.dest, self.progress, outcome)?
        else {
            return Ok(());
        };

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
        evidence: &ArtifactEvidence,
        outcome: &mut Outcome,
    ) -> Result<bool, Error> {
        let Some((digests, check)) = already_verified(self.session, artifact, dest, evidence)? else {
            return Ok(false);
        };
        install::set_mode(dest, install_mode(artifact, self.keep_archive))?;
        record_signature(outcome, &check);
        outcome.digests = digests;
        outcome.path = Some(dest.to_path_buf());
        outcome.message = Some("already installed; nothing downloaded".into());
        Ok(true)
    }
}

fn record_signature(outcome: &mut Outcome, check: &SignatureCheck) {
    match check {
        SignatureCheck::Verified(evidence) => outcome.evidence.signature = Some(evidence.clone()),
        SignatureCheck::NotRequired(why) => outcome.evidence.signature_skipped = Some(why.clone()),
    }
}

fn origins(expected: &[Expected]) -> String {
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
