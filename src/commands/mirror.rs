//! `kverify mirror`: an upstream-shaped tree of verified artifacts for air-gapped sites.
//! Nothing is written that did not verify.

use crate::catalog::Artifact;
use crate::mirror::MirrorTree;
use crate::plan::{MirrorPlan, Output};
use crate::progress::{self, Progress};
use crate::rekor;
use crate::release::{Downloaded, PendingSignature, Upstream};
use crate::report::{self, ExitStatus, Outcome, Reporter};
use crate::signature::SignatureCheck;
use crate::trust;
use crate::Error;

pub fn run(plan: MirrorPlan, output: Output) -> Result<ExitStatus, Error> {
    let upstream = Upstream::new(&plan.upstream)?;
    let artifacts: Vec<Artifact> =
        plan.requests.iter().map(|r| upstream.resolve(&r.component, &r.version)).collect::<Result<_, _>>()?;
    let tree = MirrorTree::create(&plan.to)?;
    let progress = progress::for_output(output.silent, output.no_bars);
    let mut reporter = Reporter::new(output.format);
    let mut added = 0;
    for artifact in &artifacts {
        let mut outcome = Outcome::of(artifact);
        match mirror_one(&upstream, artifact, &tree, plan.rekor.as_deref(), progress.as_ref(), &mut outcome) {
            Ok(true) => added += 1,
            Ok(false) => {}
            Err(e) => outcome.failed(&e),
        }
        reporter.record(&outcome);
    }
    reporter.note(&format!("{added} added to {}", plan.to.display()));
    // The TUF repository whose trusted root verified the keyless signatures, so the
    // site can keep its trust current with `trust update --as-of`.
    if upstream.trust_root_sha256().is_some() {
        let url = |rel: &str| format!("{}/{rel}", trust::DEFAULT_TUF_URL);
        match trust::export(&upstream.trust.config, |rel, bytes| tree.write(&url(rel), bytes).map(drop)) {
            Ok(Some(v)) => reporter.note(&format!(
                "TUF repository (root v{}, timestamp v{}, snapshot v{}, targets v{}) written to {}",
                v.root,
                v.timestamp,
                v.snapshot,
                v.targets,
                tree.path_of(trust::DEFAULT_TUF_URL)?.display()
            )),
            Ok(None) => report::warn("no TUF repository written: no verified trust cache (run `kverify trust update`)"),
            Err(trust::ExportError::Trust(e)) => return Err(e.into()),
            Err(trust::ExportError::Write(e)) => return Err(e.into()),
        }
    }
    Ok(reporter.finish("artifacts mirrored"))
}

/// Mirrors one artifact; `Ok(true)` when its bytes were downloaded, `Ok(false)` when
/// they were already there (or did not verify: then `outcome` says so).
fn mirror_one(
    upstream: &Upstream,
    artifact: &Artifact,
    tree: &MirrorTree,
    rekor: Option<&str>,
    progress: &dyn Progress,
    outcome: &mut Outcome,
) -> Result<bool, Error> {
    let evidence = upstream.evidence(artifact, None)?;
    outcome.evidence.checksum = Some(evidence.origins());
    let dest = tree.path_of(&artifact.url)?;
    let existing = match crate::install::Existing::open(&dest)? {
        Some(existing) => upstream.already_verified(artifact, &existing, &evidence)?,
        None => None,
    };
    let present = existing.is_some();
    match existing {
        Some((digests, check)) => {
            if let SignatureCheck::Verified(e) = check {
                outcome.evidence.signature = Some(e);
            }
            outcome.digests = digests;
        }
        None => {
            let dir = tree.dir_of(&artifact.url)?;
            let Downloaded::Verified(verified) = upstream.download(artifact, &evidence, &dir, progress, outcome)?
            else {
                return Ok(false);
            };
            tree.install(&artifact.url, *verified)?;
        }
    }
    // The evidence beside it, exactly as published, each file under its own host (helm's
    // .asc files live on GitHub, its tarballs on get.helm.sh).
    for (url, bytes) in evidence.checksum_files.iter().chain(&evidence.signature_files) {
        tree.write(url, bytes)?;
    }
    // A detached pair's transparency-log proof, as a standard bundle beside the artifact.
    if let PendingSignature::Files(files) = &evidence.signature {
        if let (Some(rekor_url), Some(crate::digest::Digest::Sha256(sha256))) = (rekor, outcome.digests.sha256) {
            if files.certificate.is_some() {
                match upstream.capture_proof(rekor_url, files, &sha256)? {
                    Some(captured) => {
                        tree.write(&format!("{}.sigstore.json", artifact.url), captured.bundle_json.as_bytes())?;
                        outcome.evidence.signature = Some(captured.evidence);
                    }
                    None => outcome.details.push(rekor::NOT_FOUND.into()),
                }
            }
        }
    } else if let PendingSignature::Settled(SignatureCheck::Verified(e)) = &evidence.signature {
        outcome.evidence.signature.get_or_insert_with(|| e.clone());
    }
    outcome.path = Some(dest);
    outcome.message = Some(if present { "already mirrored and verified".into() } else { "added".into() });
    Ok(!present)
}
