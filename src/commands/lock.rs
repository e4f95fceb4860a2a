//! `kverify lock`: pin what the upstream publishes now, and `--check` for drift.

use std::path::Path;

use crate::archive;
use crate::catalog::Artifact;
use crate::cli::{LockArgs, OutputArgs};
use crate::digest::Digest;
use crate::install::SignatureCheck;
use crate::lock::{Lock, Pin, PinnedFile, PinnedSignature};
use crate::platform::Platform;
use crate::progress::{self, Progress};
use crate::report::{ExitStatus, Format, Mismatch, Outcome, Reporter, Status};
use crate::Error;
use crate::{rekor, release};

use super::fetch::{download_verified, gather, PendingSignature};
use super::{fail, labelled, parse_targets, Session};

pub fn run(args: LockArgs, output: &OutputArgs, format: Format) -> Result<ExitStatus, Error> {
    let session = Session::new(&args.source)?;
    let progress = progress::for_output(output.quiet || format == Format::Json, output.no_progress);
    if args.check {
        return check(&session, &args.output, progress.as_ref(), format);
    }
    if args.targets.is_empty() {
        return Err(Error::usage_hint(
            "nothing to lock",
            "kverify lock kubelet@v1.29.0 kubectl@v1.29.0 -o kverify.lock",
        ));
    }
    let targets = parse_targets(&args.targets, false)?;
    let platforms = if args.platform.is_empty() {
        vec![session.platform.clone()]
    } else {
        args.platform.iter().map(|p| Platform::parse(p)).collect::<Result<Vec<_>, _>>()?
    };
    // Resolve everything first: a typo fails before any download.
    let mut artifacts = Vec::new();
    for (component, request) in &targets {
        for platform in &platforms {
            artifacts.push(release::resolve(
                &session.catalog,
                &session.transport,
                component,
                request,
                platform,
                &session.trust,
            )?);
        }
    }
    // An existing lock keeps its other pins; the ones asked for are replaced.
    let mut lock = match std::fs::metadata(&args.output) {
        Ok(_) => Lock::load(&args.output)?,
        Err(_) => Lock::new(session.catalog.fingerprint().to_string()),
    };
    lock.catalog = session.catalog.fingerprint().to_string();
    let rekor = (!args.no_rekor).then_some(args.rekor_url.as_str());
    let mut reporter = Reporter::new(format);
    for artifact in &artifacts {
        let mut outcome = labelled(artifact);
        match pin(&session, artifact, rekor, progress.as_ref(), &mut outcome) {
            Ok(Some(p)) => {
                outcome.message = Some(format!("pinned in {}", args.output.display()));
                lock.put(p);
            }
            Ok(None) => {}
            Err(e) => fail(&mut outcome, &e),
        }
        reporter.record(&outcome);
    }
    if reporter.count(Status::Fail) + reporter.count(Status::Error) == 0 {
        lock.save(&args.output)?;
    } else {
        eprintln!("{} not written: not every artifact verified", args.output.display());
    }
    Ok(reporter.finish("artifacts pinned"))
}

/// Re-resolves every pin of the lock and reports any digest that changed upstream.
fn check(session: &Session, path: &Path, progress: &dyn Progress, format: Format) -> Result<ExitStatus, Error> {
    let lock = Lock::load(path)?;
    let mut reporter = Reporter::new(format);
    for old in &lock.artifacts {
        let platform = Platform::parse(&old.platform)?;
        let version = crate::version::Version::parse(&old.version)?;
        let artifact = session.catalog.resolve(&old.component, &version, &platform)?;
        let mut outcome = labelled(&artifact);
        match pin(session, &artifact, None, progress, &mut outcome) {
            Ok(Some(new)) => {
                let drift = differences(old, &new);
                if drift.is_empty() {
                    outcome.message = Some(format!("unchanged since {}", path.display()));
                } else {
                    outcome.status = Status::Fail;
                    outcome.message = Some(format!("changed upstream since {} was written", path.display()));
                    outcome.mismatches = drift;
                }
            }
            Ok(None) => {}
            Err(e) => fail(&mut outcome, &e),
        }
        reporter.record(&outcome);
    }
    Ok(reporter.finish("pins unchanged"))
}

/// Pinned digests that differ between two resolutions, as mismatches (expected = pinned).
fn differences(old: &Pin, new: &Pin) -> Vec<Mismatch> {
    let mut out = Vec::new();
    let mut compare = |name: &str, old: Option<&str>, new: Option<&str>| {
        if let (Some(o), Some(n)) =
            (old.and_then(|h| Digest::from_hex(h).ok()), new.and_then(|h| Digest::from_hex(h).ok()))
        {
            if o != n {
                out.push(Mismatch { expected: o, computed: n, origin: format!("the lock's pin of {name}") });
            }
        }
    };
    compare(&old.file, Some(&old.sha256), Some(&new.sha256));
    compare(&old.file, old.sha512.as_deref(), new.sha512.as_deref());
    for f in &old.files {
        let now = new.files.iter().find(|n| n.name == f.name);
        compare(&f.name, Some(&f.sha256), now.map(|n| n.sha256.as_str()));
        compare(&f.name, Some(&f.sha512), now.map(|n| n.sha512.as_str()));
    }
    out
}

/// What the upstream publishes for `artifact`, verified: checksums and the signature
/// over the published SHA-256; archives are downloaded (and kept nowhere) so the
/// binaries inside can be pinned too. `Ok(None)`: a mismatch, told in `outcome`.
/// Where the release publishes a signed SBOM, the published digests must agree with it
/// (see `gather`); the lock then names it among the pin's checksum sources.
fn pin(
    session: &Session,
    artifact: &Artifact,
    rekor: Option<&str>,
    progress: &dyn Progress,
    outcome: &mut Outcome,
) -> Result<Option<Pin>, Error> {
    let evidence = gather(session, artifact, None)?;
    let digest_hex = |algorithm: crate::digest::Algorithm| {
        evidence.expected.iter().find(|e| e.digest.algorithm() == algorithm).map(|e| e.digest.to_hex())
    };
    let mut sha256 = digest_hex(crate::digest::Algorithm::Sha256);
    let mut sha512 = digest_hex(crate::digest::Algorithm::Sha512);
    let mut files = Vec::new();
    let mut signature = None;

    let needs_download = artifact.extract.is_some() || sha256.is_none();
    if needs_download {
        let dir = tempfile::tempdir()?;
        let Some(verified) = download_verified(session, artifact, &evidence, dir.path(), progress, outcome)? else {
            return Ok(None);
        };
        sha256 = verified.digests.sha256.map(|d| d.to_hex());
        sha512 = verified.digests.sha512.map(|d| d.to_hex());
        if let SignatureCheck::Verified(e) = &verified.signature {
            signature = Some(PinnedSignature::from_evidence(e));
        }
        if let Some(layout) = &artifact.extract {
            for b in archive::extract(&verified, &artifact.file_name, layout, dir.path())? {
                let hex = |d: Option<Digest>| d.map(|d| d.to_hex()).unwrap_or_default();
                files.push(PinnedFile {
                    name: b.name,
                    sha256: hex(b.verified.digests.sha256),
                    sha512: hex(b.verified.digests.sha512),
                });
            }
        }
    } else if let PendingSignature::Files(sig) = &evidence.signature {
        let check =
            release::verify_over_published(sig, artifact, &evidence.expected, &session.trust, session.trust_root()?)?;
        if let SignatureCheck::Verified(e) = check {
            signature = Some(PinnedSignature::from_evidence(&e));
        }
    } else if let PendingSignature::Settled(SignatureCheck::NotRequired(why)) = &evidence.signature {
        outcome.evidence.signature_skipped = Some(why.clone());
    }
    let sha256 = sha256.ok_or_else(|| Error::usage(format!("{}: no SHA-256 to pin", artifact.label())))?;
    let mut checksums = artifact.checksum_urls.clone();
    checksums.extend(evidence.sbom.clone());
    // A verified detached pair: capture its transparency-log proof while online.
    if let (Some(url), Some(pinned), PendingSignature::Files(files)) = (rekor, &mut signature, &evidence.signature) {
        if let Ok(Digest::Sha256(sha)) = Digest::from_hex(&sha256) {
            match session.capture_proof(url, files, &sha)? {
                Some(captured) => {
                    *pinned = PinnedSignature::from_evidence(&captured.evidence);
                    pinned.bundle = Some(captured.bundle_json);
                }
                None => outcome.details.push(rekor::NOT_FOUND.into()),
            }
        }
    }
    outcome.evidence.checksum =
        Some(evidence.expected.iter().map(|e| e.origin.as_str()).collect::<Vec<_>>().join(", "));
    if let Some(s) = &signature {
        let mut shown = s.to_evidence();
        shown.notes.clear();
        outcome.evidence.signature = Some(shown);
    }
    outcome.digests.sha256 = Digest::from_hex(&sha256).ok();
    outcome.digests.sha512 = sha512.as_deref().and_then(|h| Digest::from_hex(h).ok());
    Ok(Some(Pin {
        component: artifact.component.clone(),
        version: artifact.version.to_string(),
        platform: artifact.platform.to_string(),
        url: artifact.url.clone(),
        file: if artifact.extract.is_some() { artifact.file_name.clone() } else { artifact.install_name.clone() },
        sha256,
        sha512,
        checksums,
        signature,
        files,
    }))
}
