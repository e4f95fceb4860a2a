//! What a release or a lock says files on disk must be, for `verify` and `node`: the
//! published digests of a release with its signature already checked over them, and a
//! lock's pins with their kept transparency-log proofs re-verified offline.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use crate::catalog::Artifact;
use crate::digest::Digest;
use crate::expect::Expected;
use crate::lock::Lock;
use crate::signature::{SignatureCheck, TrustRoot};
use crate::version::Request;

use super::signatures::{pinned_evidence, require_signed};
use super::{Error, PendingSignature, ReleaseError, TrustOptions, Upstream};

impl Upstream {
    /// The published digests of every `requests` release, for files on disk. With
    /// `for_every_file`, they apply to every file given whatever its name (`verify FILE
    /// --release kubelet@v1.29.0`), else to files named as the artifact installs.
    pub fn release_expectations(&self, requests: &[Request], for_every_file: bool) -> Result<Vec<Expected>, Error> {
        let mut out = Vec::new();
        for request in requests {
            let artifact = self.resolve(&request.component, &request.version)?;
            let mut published = self.published(&artifact)?;
            if for_every_file {
                for e in &mut published {
                    e.sidecar_of = e.name.take();
                }
            }
            out.extend(published);
        }
        Ok(out)
    }

    /// The digests a release publishes for `artifact`, vouched for by its signature. One
    /// signed SBOM covers every binary of a release (one download, one signature);
    /// without one, the artifact's own checksum files, with its signature verified over
    /// the published SHA-256: a file that matches that digest is then covered by it
    /// without a second look at its bytes.
    pub fn published(&self, artifact: &Artifact) -> Result<Vec<Expected>, Error> {
        if let Some(signed) = self.signed_sbom(artifact)? {
            let listed = signed.expected_for(artifact);
            if listed.is_empty() {
                return Err(ReleaseError::NotInSbom { artifact: artifact.label(), url: signed.url.clone() }.into());
            }
            return Ok(listed);
        }
        let evidence = self.evidence(artifact, None)?;
        let mut published = evidence.expected;
        // A Sigstore signature is over the artifact's SHA-256: checked over the published
        // one now. An OpenPGP signature over the checksum file was checked already.
        if let PendingSignature::Files(files) = &evidence.signature {
            if let SignatureCheck::Verified(e) = self.verify_over_published(files, artifact, &published)? {
                for p in published.iter_mut().filter(|p| matches!(p.digest, Digest::Sha256(_))) {
                    p.signed_by = Some(e.clone());
                }
            }
        }
        Ok(published)
    }
}

/// Every pin of `lock` as expectations; a pin that kept a Sigstore bundle is verified
/// again, offline, and its evidence vouches for the pin's digests. The trust root is
/// loaded only when some pin kept a bundle. With `--require-signature`, every pin must
/// hold a signature.
pub fn pinned_expectations(lock: &Lock, path: &Path, trust: &TrustOptions) -> Result<Vec<Expected>, Error> {
    for pin in &lock.artifacts {
        require_signed(pin, path, trust)?;
    }
    let mut pinned = lock.expectations(path);
    let root: OnceLock<Arc<TrustRoot>> = OnceLock::new();
    let load = || -> Result<Arc<TrustRoot>, Error> {
        if let Some(root) = root.get() {
            return Ok(root.clone());
        }
        let loaded = crate::trust::load(&trust.config)?;
        loaded.warnings.iter().for_each(|w| crate::report::warn(w));
        Ok(root.get_or_init(|| Arc::new(loaded.root)).clone())
    };
    for pin in &lock.artifacts {
        let Some(signature) = pin.signature.as_ref().filter(|s| s.bundle.is_some()) else { continue };
        let Digest::Sha256(sha256) = pin.sha256 else { continue };
        let evidence = pinned_evidence(signature, &sha256, &pin.subject.to_string(), load)?;
        for e in pinned.iter_mut() {
            if e.subject.as_ref() == Some(&pin.subject) && e.name.as_deref() == Some(pin.file.as_str()) {
                e.signed_by = Some(evidence.clone());
            }
        }
    }
    Ok(pinned)
}
