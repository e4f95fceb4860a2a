//! A pin for `kverify lock`: what the upstream publishes for an artifact now, verified,
//! with the binaries inside an archive and the transparency-log proof of a detached
//! pair captured while online.

use crate::archive;
use crate::catalog::Artifact;
use crate::digest::{Algorithm, Digest};
use crate::lock::{Pin, PinnedFile, PinnedSignature};
use crate::progress::Progress;
use crate::rekor;
use crate::report::Outcome;
use crate::signature::SignatureCheck;

use super::{Downloaded, Error, PendingSignature, ReleaseError, SignatureFiles, Upstream};

/// A pin, or `None` when the artifact's bytes did not verify (the outcome says why).
pub type Pinned = Option<Pin>;

impl Upstream {
    /// What the upstream publishes for `artifact`, verified: checksums and the signature
    /// over the published SHA-256; archives are downloaded (and kept nowhere) so the
    /// binaries inside can be pinned too. Where the release publishes a signed SBOM, the
    /// published digests must agree with it (see [`Upstream::evidence`]); the pin then
    /// names it among its checksum sources. With `rekor`, a verified detached pair's
    /// transparency-log proof is looked up and kept in the pin.
    pub fn pin(
        &self,
        artifact: &Artifact,
        rekor: Option<&str>,
        progress: &dyn Progress,
        outcome: &mut Outcome,
    ) -> Result<Pinned, Error> {
        let evidence = self.evidence(artifact, None)?;
        let published = |algorithm: Algorithm| {
            evidence.expected.iter().find(|e| e.digest.algorithm() == algorithm).map(|e| e.digest)
        };
        let mut sha256 = published(Algorithm::Sha256);
        // Two digests from two files may describe different bytes: a SHA-512 no source
        // ties to the SHA-256 is not pinned (the download below, when there is one,
        // computes both from the same bytes).
        let mut sha512 = published(Algorithm::Sha512).filter(|_| evidence.digests_tied);
        if sha512.is_none() && published(Algorithm::Sha512).is_some() {
            outcome.details.push("sha512 not pinned: no one source lists it with the sha256".into());
        }
        let mut files = Vec::new();
        let mut signature = None;

        if artifact.extract.is_some() || sha256.is_none() {
            let dir = tempfile::tempdir()?;
            let Downloaded::Verified(verified) = self.download(artifact, &evidence, dir.path(), progress, outcome)?
            else {
                return Ok(None);
            };
            let verified = *verified;
            sha256 = verified.digests.sha256;
            sha512 = verified.digests.sha512;
            if let SignatureCheck::Verified(e) = &verified.signature {
                signature = Some(PinnedSignature::from_evidence(e));
            }
            if let Some(layout) = &artifact.extract {
                for b in archive::extract(&verified, &artifact.file_name, layout, &artifact.foreign_names, dir.path())?
                {
                    let (Some(sha256), Some(sha512)) = (b.verified.digests.sha256, b.verified.digests.sha512) else {
                        return Err(Error::Internal(format!("{}: not both digests computed", b.name)));
                    };
                    files.push(PinnedFile { name: b.name, sha256, sha512 });
                }
            }
        } else if let PendingSignature::Files(sig) = &evidence.signature {
            if let SignatureCheck::Verified(e) = self.verify_over_published(sig, artifact, &evidence.expected)? {
                signature = Some(PinnedSignature::from_evidence(&e));
            }
        } else if let PendingSignature::Settled(check) = &evidence.signature {
            match check {
                SignatureCheck::Verified(e) => signature = Some(PinnedSignature::from_evidence(e)),
                SignatureCheck::NotRequired(_) => outcome.signature(check),
            }
        }
        let Some(sha256) = sha256 else { return Err(ReleaseError::NoSha256 { artifact: artifact.label() }.into()) };
        let mut checksums = artifact.checksum_urls.clone();
        checksums.extend(evidence.sbom.clone());
        // A verified detached pair: capture its transparency-log proof while online.
        if let (Some(url), Some(pinned), PendingSignature::Files(files), Digest::Sha256(sha)) =
            (rekor, &mut signature, &evidence.signature, sha256)
        {
            match self.capture_proof(url, files, &sha)? {
                Some(captured) => {
                    *pinned = PinnedSignature::from_evidence(&captured.evidence);
                    pinned.bundle = Some(captured.bundle_json);
                }
                None => outcome.details.push(rekor::NOT_FOUND.into()),
            }
        }
        if let Some(pinned) = &mut signature {
            pinned.trusted_root = self.trust_root_sha256();
        }
        outcome.evidence.checksum = Some(evidence.origins());
        if let Some(s) = &signature {
            let mut shown = s.to_evidence();
            shown.notes.clear();
            outcome.evidence.signature = Some(shown);
        }
        outcome.digests.sha256 = Some(sha256);
        outcome.digests.sha512 = sha512;
        Ok(Some(Pin {
            subject: artifact.subject(),
            url: artifact.url.clone(),
            file: if artifact.extract.is_some() { artifact.file_name.clone() } else { artifact.install_name.clone() },
            sha256,
            sha512,
            checksums,
            signature,
            files,
        }))
    }

    /// The transparency-log proof of a verified detached pair, looked up in the Rekor
    /// log at `rekor_url` over the artifact's SHA-256 (`Ok(None)`: the log holds none, or
    /// the files are not a pair).
    pub fn capture_proof(
        &self,
        rekor_url: &str,
        files: &SignatureFiles,
        sha256: &[u8; 32],
    ) -> Result<Option<rekor::Captured>, Error> {
        let Some(cert) = &files.certificate else { return Ok(None) };
        let policy = self.trust.policy_for(&files.reference.identity, &files.reference.issuer);
        let root = self.trust_root()?;
        Ok(rekor::capture(&self.transport, rekor_url, sha256, &files.signature, cert, &policy, &root)?)
    }
}
