//! Everything known about an artifact before its bytes arrive: the digests it must have
//! and the signature it must carry, from the upstream's published files or a lock's pin.

use std::path::{Path, PathBuf};

use crate::catalog::{Artifact, SignatureKind};
use crate::checksums::{self, MAX_FILE_LEN};
use crate::digest::Algorithm;
use crate::expect::Expected;
use crate::lock::Lock;
use crate::signature::SignatureCheck;

use super::signatures::{pinned_evidence, SignatureFiles};
use super::{listed, Error, ReleaseError, Upstream};

/// A checksum or signature file as downloaded: its URL and bytes.
pub type RawFile = (String, Vec<u8>);

/// Whether `entries`, from one source, hold both a SHA-256 and a SHA-512.
fn lists_both(entries: &[Expected]) -> bool {
    let has = |a: Algorithm| entries.iter().any(|e| e.digest.algorithm() == a);
    has(Algorithm::Sha256) && has(Algorithm::Sha512)
}

/// Everything known about an artifact before its bytes arrive.
pub struct ArtifactEvidence {
    /// The upstream URL to download (a lock's pin names it).
    pub url: String,
    pub expected: Vec<Expected>,
    /// The checksum files as published (none when the digests came from a lock).
    pub checksum_files: Vec<RawFile>,
    /// The signature files as published (a `.sig` and `.cert`, a bundle file, an
    /// OpenPGP `.asc` or clear-signed file), for mirrors.
    pub signature_files: Vec<RawFile>,
    pub signature: PendingSignature,
    /// The signed release SBOM the digests were checked against, if any.
    pub sbom: Option<String>,
    /// The lock whose pin the digests came from, if they did.
    pub pinned_in: Option<PathBuf>,
    /// Whether one source lists both a SHA-256 and a SHA-512 (a signed SBOM, a checksum
    /// file with both, a lock's pin): only then do the two describe the same bytes
    /// without a download. Kubernetes' `.sha256` and `.sha512` are two files, and a
    /// mirror can swap one.
    pub digests_tied: bool,
    /// The binaries inside an archive, as the lock's pin lists them (by install name):
    /// when the destination holds them all, nothing needs downloading.
    pub binaries: Vec<Expected>,
}

impl ArtifactEvidence {
    /// Where the expected digests came from, as a report names them.
    pub fn origins(&self) -> String {
        self.expected.iter().map(|e| e.origin.as_str()).collect::<Vec<_>>().join(", ")
    }
}

/// A signature still to check over the digest that is about to be computed, or a
/// decision already made.
pub enum PendingSignature {
    Files(SignatureFiles),
    Settled(SignatureCheck),
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

impl Upstream {
    /// The expected digests and signature for `artifact`: from the lock's pin when there
    /// is one (no download at all), else from the upstream's published checksum files,
    /// signature and signed release SBOM.
    pub fn evidence(&self, artifact: &Artifact, lock: Option<&LockSource>) -> Result<ArtifactEvidence, Error> {
        if let Some(source) = lock {
            match source.lock.find(&artifact.component, &artifact.version, Some(&artifact.platform)) {
                Some(pin) => return self.pinned(artifact, source, pin),
                None if source.locked => {
                    let lock = source.path.clone();
                    return Err(ReleaseError::NotPinned { artifact: artifact.label(), lock }.into());
                }
                None => {}
            }
        }
        let checksum_files = self.fetch_checksum_files(artifact)?;
        let mut signature_files = Vec::new();
        let mut expected = Vec::new();
        // The checksum file an OpenPGP signature covers is read only through it.
        let mut signed_file = None;
        let mut digests_tied = false;
        let signature = match self.fetch_signature(artifact, &checksum_files)? {
            Ok(files) => {
                signature_files = files.raw();
                match files.reference.kind {
                    // An OpenPGP signature covers a checksum file: checked now, before any
                    // download, and the digests it vouches for are those of the signed text.
                    SignatureKind::Pgp => {
                        let signed = self.verify_pgp(artifact, &files, &checksum_files)?;
                        digests_tied |= lists_both(&signed.expected);
                        expected.extend(signed.expected);
                        signed_file = Some(signed.url);
                        PendingSignature::Settled(SignatureCheck::Verified(signed.evidence))
                    }
                    SignatureKind::CosignDetached | SignatureKind::IntotoJsonl => PendingSignature::Files(files),
                }
            }
            Err(settled) => PendingSignature::Settled(settled),
        };
        for (url, bytes) in checksum_files.iter().filter(|(url, _)| Some(url) != signed_file.as_ref()) {
            let file = checksums::parse(url, bytes)
                .map_err(|source| ReleaseError::ChecksumMalformed { url: url.clone(), source })?;
            let listed = listed(artifact, &file)?;
            digests_tied |= lists_both(&listed);
            expected.extend(listed);
        }
        // A signature covers a digest, not a name or a version: the release's signed SBOM
        // binds the digest to this artifact of this release, so a validly signed binary of
        // another release (or another binary) served here is refused before any download.
        let sbom = self.signed_sbom(artifact)?;
        if let Some(signed) = &sbom {
            let listed = signed.expected_for(artifact);
            if listed.is_empty() {
                return Err(ReleaseError::NotInSbom { artifact: artifact.label(), url: signed.url.clone() }.into());
            }
            for (published, listed) in expected.iter().flat_map(|p| listed.iter().map(move |l| (p, l))) {
                if published.digest.algorithm() == listed.digest.algorithm() && published.digest != listed.digest {
                    return Err(ReleaseError::SbomDisagrees {
                        artifact: artifact.label(),
                        published: format!("{} from {}", published.digest, published.origin),
                        listed: format!("{} from {}", listed.digest, listed.origin),
                    }
                    .into());
                }
            }
            digests_tied |= lists_both(&listed);
            expected.extend(listed);
        }
        Ok(ArtifactEvidence {
            url: artifact.url.clone(),
            expected,
            checksum_files,
            signature_files,
            signature,
            sbom: sbom.map(|s| s.url.clone()),
            pinned_in: None,
            digests_tied,
            binaries: Vec::new(),
        })
    }

    /// The evidence a lock's pin holds: its digests (named as the artifact installs),
    /// and its signature, re-verified offline when it kept a transparency-log bundle.
    fn pinned(
        &self,
        artifact: &Artifact,
        source: &LockSource,
        pin: &crate::lock::Pin,
    ) -> Result<ArtifactEvidence, Error> {
        let origin = source.path.as_path();
        if pin.url != artifact.url {
            let (pinned, catalog) = (pin.url.clone(), artifact.url.clone());
            let lock = source.path.clone();
            return Err(ReleaseError::PinMoved { artifact: artifact.label(), lock, pinned, catalog }.into());
        }
        super::signatures::require_signed(pin, origin, &self.trust)?;
        let one = Lock { artifacts: vec![pin.clone()], ..source.lock.clone() };
        let (mut expected, binaries): (Vec<Expected>, Vec<Expected>) =
            one.expectations(origin).into_iter().partition(|e| e.name.as_deref() == Some(pin.file.as_str()));
        let binaries = if artifact.extract.is_some() { binaries } else { Vec::new() };
        for e in &mut expected {
            e.name = Some(artifact.install_name.clone());
        }
        let signature = match &pin.signature {
            Some(s) => {
                let Some(sha256) = crate::expect::first_sha256(&expected) else {
                    return Err(Error::Internal(format!("{}: a pin without its sha256", artifact.label())));
                };
                SignatureCheck::Verified(pinned_evidence(s, &sha256, &artifact.label(), || self.trust_root())?)
            }
            None => SignatureCheck::NotRequired(format!("none pinned in {}", origin.display())),
        };
        Ok(ArtifactEvidence {
            url: artifact.url.clone(),
            expected,
            checksum_files: Vec::new(),
            signature_files: Vec::new(),
            sbom: None,
            signature: PendingSignature::Settled(signature),
            pinned_in: Some(source.path.clone()),
            digests_tied: true,
            binaries,
        })
    }

    /// Downloads every checksum file of `artifact` (each at most [`MAX_FILE_LEN`]
    /// bytes); a missing one fails.
    fn fetch_checksum_files(&self, artifact: &Artifact) -> Result<Vec<RawFile>, Error> {
        let mut raw = Vec::new();
        for url in &artifact.checksum_urls {
            let bytes = self.transport.get_small(url, MAX_FILE_LEN).map_err(|e| match e {
                e if e.is_missing() => Error::Release(ReleaseError::ChecksumMissing { url: url.clone(), source: e }),
                e => Error::Transport(e),
            })?;
            raw.push((url.clone(), bytes));
        }
        Ok(raw)
    }
}
