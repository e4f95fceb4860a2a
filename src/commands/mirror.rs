//! `kverify mirror`: an upstream-shaped tree of verified artifacts for air-gapped sites.
//!
//! Each artifact lands at `DIR/<host>/<path>` with its checksum and signature files
//! beside it, so a static file server (or `--mirror UPSTREAM=file:///DIR/<host>`) serves
//! it as the upstream would. Nothing is written that did not verify.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::catalog::Artifact;
use crate::cli::{MirrorArgs, OutputArgs};
use crate::install::{self, InstallError};
use crate::progress::{self, Progress};
use crate::report::{ExitStatus, Format, Outcome, Reporter};
use crate::Error;
use crate::{rekor, release};

use super::fetch::{already_verified, download_verified, gather, PendingSignature};
use super::{fail, labelled, parse_targets, Session};

/// Mirrored files are data, not programs to run from the mirror.
const MODE: u32 = 0o644;

pub fn run(args: MirrorArgs, output: &OutputArgs, format: Format) -> Result<ExitStatus, Error> {
    let session = Session::new(&args.source)?;
    let targets = parse_targets(&args.targets, false)?;
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
    fs_err::create_dir_all(&args.to)?;
    let progress = progress::for_output(output.quiet || format == Format::Json, output.no_progress);
    let rekor = (!args.no_rekor).then_some(args.rekor_url.as_str());
    let mut reporter = Reporter::new(format);
    let mut added = 0;
    for artifact in &artifacts {
        let mut outcome = labelled(artifact);
        match mirror_one(&session, artifact, &args.to, rekor, progress.as_ref(), &mut outcome) {
            Ok(true) => added += 1,
            Ok(false) => {}
            Err(e) => fail(&mut outcome, &e),
        }
        reporter.record(&outcome);
    }
    if format == Format::Text {
        println!("{added} added to {}", args.to.display());
    }
    Ok(reporter.finish("artifacts mirrored"))
}

/// Mirrors one artifact; `Ok(true)` when its bytes were downloaded, `Ok(false)` when
/// they were already there (or did not verify: then `outcome` says so).
fn mirror_one(
    session: &Session,
    artifact: &Artifact,
    root: &Path,
    rekor: Option<&str>,
    progress: &dyn Progress,
    outcome: &mut Outcome,
) -> Result<bool, Error> {
    let evidence = gather(session, artifact, None)?;
    outcome.evidence.checksum =
        Some(evidence.expected.iter().map(|e| e.origin.as_str()).collect::<Vec<_>>().join(", "));
    let dest = local_path(root, &artifact.url)?;
    let dir = dest.parent().map(Path::to_path_buf).unwrap_or_else(|| root.to_path_buf());
    fs_err::create_dir_all(&dir)?;

    let existing = match install::check_destination(&dest)? {
        Some(_) => already_verified(session, artifact, &dest, &evidence)?,
        None => None,
    };
    let present = existing.is_some();
    if let Some((digests, check)) = existing {
        if let install::SignatureCheck::Verified(e) = check {
            outcome.evidence.signature = Some(e);
        }
        outcome.digests = digests;
    }
    if !present {
        let Some(verified) = download_verified(session, artifact, &evidence, &dir, progress, outcome)? else {
            return Ok(false);
        };
        install::install(verified, &dest, MODE)?;
    }
    // The evidence beside it, exactly as published.
    for (url, bytes) in &evidence.checksum_files {
        write_file(&local_path(root, url)?, bytes)?;
    }
    if let PendingSignature::Files(files) = &evidence.signature {
        write_file(&local_path(root, &files.reference.url)?, &files.signature)?;
        if let (Some(url), Some(cert)) = (&files.reference.certificate_url, &files.certificate) {
            write_file(&local_path(root, url)?, cert)?;
            // The pair's transparency-log proof, as a standard bundle beside the artifact.
            if let (Some(rekor_url), Some(crate::digest::Digest::Sha256(sha256))) = (rekor, outcome.digests.sha256) {
                match session.capture_proof(rekor_url, files, &sha256)? {
                    Some(captured) => {
                        let beside = local_path(root, &format!("{}.sigstore.json", artifact.url))?;
                        write_file(&beside, captured.bundle_json.as_bytes())?;
                        outcome.evidence.signature = Some(captured.evidence);
                    }
                    None => outcome.details.push(rekor::NOT_FOUND.into()),
                }
            }
        }
    }
    outcome.path = Some(dest);
    outcome.message = Some(if present { "already mirrored and verified".into() } else { "added".into() });
    Ok(!present)
}

/// `https://dl.k8s.io/release/v1.29.0/bin/linux/amd64/kubelet` → `ROOT/dl.k8s.io/release/…`.
/// Refuses any URL whose path could climb out of ROOT.
fn local_path(root: &Path, url: &str) -> Result<PathBuf, Error> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let mut path = root.to_path_buf();
    for part in rest.split('/') {
        if part.is_empty() || part == "." || part == ".." || part.contains('\\') {
            return Err(Error::usage(format!("{url}: cannot be laid out under {}", root.display())));
        }
        path.push(part);
    }
    Ok(path)
}

/// Writes a small file atomically.
fn write_file(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let err = |source| InstallError::Write { path: path.to_path_buf(), source };
    let dir = path.parent().unwrap_or(Path::new("."));
    fs_err::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(err)?;
    tmp.write_all(bytes).map_err(err)?;
    tmp.as_file().set_permissions(std::os::unix::fs::PermissionsExt::from_mode(MODE)).map_err(err)?;
    tmp.persist(path).map_err(|e| err(e.error))?;
    Ok(())
}
