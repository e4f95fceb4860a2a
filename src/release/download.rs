//! An artifact's bytes, streamed into a staged file beside its destination while every
//! digest is computed in the same pass, and turned into a [`Verified`] only when every
//! expected digest and the signature hold.

use std::path::Path;

use crate::catalog::Artifact;
use crate::digest::{hash_reader, AlgorithmSet, Digests};
use crate::expect::Expected;
use crate::install::{Existing, Staged, Verified};
use crate::progress::Progress;
use crate::report::Outcome;
use crate::signature::SignatureCheck;

use super::{ArtifactEvidence, Error, PendingSignature, Upstream};

/// What a download came to: bytes that verified, or bytes that did not (the outcome
/// says why; the staged file is gone).
pub enum Downloaded {
    Verified(Box<Verified>),
    Refused,
}

impl Upstream {
    /// Streams the artifact into a staged file in `dir`, hashing SHA-256 and SHA-512 in
    /// the same pass, then checks every expected digest and the signature. The outcome
    /// gets the digests computed, the signature's evidence, or the mismatches.
    pub fn download(
        &self,
        artifact: &Artifact,
        evidence: &ArtifactEvidence,
        dir: &Path,
        progress: &dyn Progress,
        outcome: &mut Outcome,
    ) -> Result<Downloaded, Error> {
        let mut staged = Staged::new_in(dir, &artifact.install_name)?;
        let bar = progress.bar(&artifact.label());
        let downloaded = self.transport.download(
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
        let check = self.check_signature(artifact, &evidence.signature, &digests)?;
        match Verified::check(staged, digests, &expected, check) {
            Ok(verified) => {
                outcome.signature(&verified.signature);
                Ok(Downloaded::Verified(Box::new(verified)))
            }
            Err(verdict) => {
                outcome.refused(&verdict);
                Ok(Downloaded::Refused)
            }
        }
    }

    /// When the file already installed holds the expected bytes: its digests and the
    /// signature check over them. `Ok(None)` when its bytes differ (download it again).
    pub fn already_verified(
        &self,
        artifact: &Artifact,
        existing: &Existing,
        evidence: &ArtifactEvidence,
    ) -> Result<Option<(Digests, SignatureCheck)>, Error> {
        let (file, len) = existing.contents();
        let (digests, _) = hash_reader(file, AlgorithmSet::BOTH, Some(len))?;
        if !evidence.expected.iter().all(|e| e.matches(&digests)) {
            return Ok(None);
        }
        let check = self.check_signature(artifact, &evidence.signature, &digests)?;
        Ok(Some((digests, check)))
    }

    /// Checks a pending signature over the SHA-256 just computed.
    pub fn check_signature(
        &self,
        artifact: &Artifact,
        signature: &PendingSignature,
        digests: &Digests,
    ) -> Result<SignatureCheck, Error> {
        match signature {
            PendingSignature::Settled(check) => Ok(check.clone()),
            PendingSignature::Files(files) => {
                let Some(sha256) = digests.sha256_bytes() else {
                    return Err(Error::Internal(format!("{}: sha256 not computed", artifact.label())));
                };
                self.verify_signature(files, artifact, sha256)
            }
        }
    }
}
