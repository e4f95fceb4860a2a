//! An artifact's bytes, streamed into a staged file beside its destination while every
//! digest is computed in the same pass, and turned into a [`Verified`] only when every
//! expected digest and the signature hold. With the download cache, the bytes come
//! from a cached copy when one is stored under the expected SHA-256 (hashed again on
//! their way, never trusted as they are), and a download is kept there as it arrives,
//! so that an interrupted one resumes.

use std::path::Path;

use crate::cache::{self, Cache};
use crate::catalog::Artifact;
use crate::digest::{hash_reader, AlgorithmSet, Digests};
use crate::expect::{first_sha256, Expected};
use crate::install::{Existing, Staged, Verified};
use crate::progress::Progress;
use crate::report::Outcome;
use crate::signature::SignatureCheck;

use super::{ArtifactEvidence, Error, PendingSignature, Upstream};

/// The staged file of a download and where its bytes go. With the cache on the same
/// filesystem, the staged file is another name (a hard link) of the cache's partial
/// download: every byte is written once, and once verified it is both the cache's entry
/// and the installed file. (That inode is shared by the entry and this one install only:
/// an install from the cache is a copy, so no two installs ever share one, and a chmod
/// or an in-place write of the install changes an entry that is hashed again before any
/// use.) Otherwise every byte is written to both.
fn stage(
    dir: &Path,
    name: &str,
    partial: Option<cache::Partial>,
) -> Result<(Staged, cache::Download), crate::install::InstallError> {
    let stage_err = |source| crate::install::InstallError::Stage { dir: dir.to_path_buf(), source };
    if let Some(partial) = partial {
        match Staged::link_to(dir, name, &partial.data_path()) {
            Ok(staged) => return Ok((staged, cache::Download::linked(partial))),
            Err(e) => {
                tracing::debug!("cannot link the partial download into {}: {e}; writing both", dir.display());
                let mut staged = Staged::new_in(dir, name)?;
                let file = staged.file_mut().try_clone().map_err(stage_err)?;
                return Ok((staged, cache::Download::new(file, Some(partial))));
            }
        }
    }
    let mut staged = Staged::new_in(dir, name)?;
    let file = staged.file_mut().try_clone().map_err(stage_err)?;
    Ok((staged, cache::Download::new(file, None)))
}

/// What a download came to: bytes that verified, or bytes that did not (the outcome
/// says why; the staged file is gone).
pub enum Downloaded {
    Verified(Box<Verified>),
    Refused,
}

impl Upstream {
    /// Stages the artifact in `dir` and checks every expected digest and the signature:
    /// from the download cache when it holds bytes under the expected SHA-256 (no
    /// download), else streamed from the upstream, hashing SHA-256 and SHA-512 in the
    /// same pass (and resuming what an interrupted run left in the cache). The outcome
    /// gets the digests computed, the signature's evidence, or the mismatches.
    pub fn download(
        &self,
        artifact: &Artifact,
        evidence: &ArtifactEvidence,
        dir: &Path,
        progress: &dyn Progress,
        outcome: &mut Outcome,
    ) -> Result<Downloaded, Error> {
        let cache = self.cache();
        let sha256 = first_sha256(&evidence.expected);
        let located = self.transport.locate(&evidence.url);
        if let (Some(cache), Some(sha256)) = (cache, &sha256) {
            if let Some(verified) = self.cached_copy(cache, sha256, artifact, evidence, dir, outcome)? {
                return Ok(Downloaded::Verified(Box::new(verified)));
            }
        }
        let mut partial = cache.zip(sha256.as_ref()).and_then(|(c, sha)| c.partial(sha, &located));
        let bar = progress.bar(&artifact.label());
        // Twice at most: bytes that do not verify after a resume may be a damaged part on
        // disk rather than the upstream's; they are dropped and downloaded once whole.
        loop {
            let (staged, mut sink) = stage(dir, &artifact.install_name, partial.take())?;
            let downloaded =
                self.transport.download(&evidence.url, &mut sink, AlgorithmSet::BOTH, artifact.max_size, bar.as_ref());
            let (digests, _len) = match downloaded {
                Ok(d) => d,
                Err(e) => {
                    bar.finish("failed");
                    sink.interrupted();
                    return Err(e.into());
                }
            };
            outcome.digests = digests.clone();
            let expected: Vec<&Expected> = evidence.expected.iter().collect();
            let check = match self.check_signature(artifact, &evidence.signature, &digests) {
                Ok(check) => check,
                Err(e) => {
                    bar.finish("failed");
                    sink.discard();
                    return Err(e);
                }
            };
            let resumed = sink.resumed();
            let verdict = Verified::check(staged, digests, &expected, check);
            match verdict {
                Ok(verified) => {
                    bar.finish("downloaded");
                    if let (Some(cache), Some(sha)) = (cache, verified.digests.sha256_bytes()) {
                        sink.keep(cache, sha);
                    }
                    outcome.signature(&verified.signature);
                    return Ok(Downloaded::Verified(Box::new(verified)));
                }
                Err(_) if resumed => {
                    tracing::warn!("{}: the resumed download does not verify; downloading it whole", artifact.label());
                    partial = sink.discard();
                    outcome.digests = Digests::default();
                }
                Err(verdict) => {
                    bar.finish("failed");
                    sink.discard();
                    outcome.refused(&verdict);
                    return Ok(Downloaded::Refused);
                }
            }
        }
    }

    /// The artifact from the download cache, staged in `dir` and verified like a
    /// download: `None` when nothing downloaded from where the artifact is located now
    /// (through any mirror) is stored under `sha256`, or what is stored does not verify
    /// (it is then removed).
    fn cached_copy(
        &self,
        cache: &Cache,
        sha256: &[u8; 32],
        artifact: &Artifact,
        evidence: &ArtifactEvidence,
        dir: &Path,
        outcome: &mut Outcome,
    ) -> Result<Option<Verified>, Error> {
        let mut staged = Staged::new_in(dir, &artifact.install_name)?;
        // Both digests, as a download computes them (SHA-512 on a second core): cached
        // bytes are judged exactly as downloaded ones, against every digest the evidence
        // names, and a lock pins both digests of an archive found in the cache.
        let digests = match cache.stage_entry(
            sha256,
            &self.transport.locate(&evidence.url),
            staged.file_mut(),
            AlgorithmSet::BOTH,
        ) {
            None => return Ok(None),
            Some(Ok((digests, _))) => digests,
            Some(Err(e)) => {
                tracing::warn!("cannot read the cached copy of {}: {e}; downloading it", artifact.label());
                return Ok(None);
            }
        };
        let expected: Vec<&Expected> = evidence.expected.iter().collect();
        if !expected.iter().all(|e| e.matches(&digests)) || digests.sha256_bytes() != Some(sha256) {
            cache.remove_entry(sha256);
            return Ok(None);
        }
        let check = self.check_signature(artifact, &evidence.signature, &digests)?;
        match Verified::check(staged, digests.clone(), &expected, check) {
            Ok(mut verified) => {
                verified.from_cache = true;
                outcome.digests = digests;
                outcome.signature(&verified.signature);
                Ok(Some(verified))
            }
            Err(_) => {
                cache.remove_entry(sha256);
                Ok(None)
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

    /// When `dir` already holds every binary of an archive that a lock pins, with the
    /// pinned bytes: those files, opened once (their mode is then set through the
    /// descriptor hashed). `Ok(None)` when there is no such pin, or any binary is missing
    /// or differs.
    pub fn binaries_already_installed(
        &self,
        evidence: &ArtifactEvidence,
        dir: &Path,
    ) -> Result<Option<Vec<(String, Existing)>>, Error> {
        let mut names: Vec<&str> = evidence.binaries.iter().filter_map(|e| e.name.as_deref()).collect();
        names.dedup();
        if names.is_empty() {
            return Ok(None);
        }
        let mut found = Vec::new();
        for name in names {
            let Some(existing) = Existing::open(&dir.join(name))? else { return Ok(None) };
            let (file, len) = existing.contents();
            let (digests, _) = hash_reader(file, AlgorithmSet::BOTH, Some(len))?;
            if !evidence.binaries.iter().filter(|e| e.name.as_deref() == Some(name)).all(|e| e.matches(&digests)) {
                return Ok(None);
            }
            found.push((name.to_string(), existing));
        }
        Ok(Some(found))
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
