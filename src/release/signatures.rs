//! The signatures a release publishes: fetched as the policy asks, verified over a
//! SHA-256 already known (computed, published or pinned), and the release's signed SBOM.

use crate::catalog::{Artifact, Keyring, SignatureKind, SignatureRef};
use crate::expect::Expected;
use crate::lock::{Pin, PinnedSignature};
use crate::sbom::Sbom;
use std::sync::Arc;

use crate::signature::{self, openpgp, IdentityMatcher, Policy, SignatureCheck, SignatureError, SignatureEvidence};
use crate::transport::TransportError;

use super::{Error, RawFile, ReleaseError, SignaturePolicy, TrustOptions, Upstream};

/// Signatures and bundles are small; attestation files of many bundles less so.
const MAX_SIGNATURE_LEN: u64 = 16 * 1024 * 1024;

/// A signature file (and certificate) downloaded for an artifact, not yet checked.
pub struct SignatureFiles {
    pub reference: SignatureRef,
    pub signature: Vec<u8>,
    pub certificate: Option<Vec<u8>>,
}

impl SignatureFiles {
    /// The files as published, by URL.
    pub fn raw(&self) -> Vec<RawFile> {
        let mut raw = vec![(self.reference.url.clone(), self.signature.clone())];
        if let (Some(url), Some(cert)) = (&self.reference.certificate_url, &self.certificate) {
            raw.push((url.clone(), cert.clone()));
        }
        raw
    }
}

impl Upstream {
    /// Downloads the signature files the policy asks for (a file among `known`, already
    /// downloaded this run, is not fetched again: runc's clear-signed checksum file).
    /// `Ok(Err(check))` when no signature is checked, with the reason in the check.
    pub fn fetch_signature(
        &self,
        artifact: &Artifact,
        known: &[RawFile],
    ) -> Result<Result<SignatureFiles, SignatureCheck>, Error> {
        let reference = match (&artifact.signature, self.trust.policy) {
            (_, SignaturePolicy::Skip) => {
                return Ok(Err(SignatureCheck::NotRequired("not checked (--insecure-skip-signature)".into())))
            }
            (None, SignaturePolicy::Require) => {
                return Err(ReleaseError::SignatureRequired { artifact: artifact.label() }.into())
            }
            (None, SignaturePolicy::IfPublished) => {
                return Ok(Err(SignatureCheck::NotRequired(format!("none published by {}", artifact.upstream))))
            }
            (Some(r), _) => r,
        };
        match self.fetch_signature_files(reference, &artifact.label(), known)? {
            Some(files) => Ok(Ok(files)),
            None => {
                let why = reference.may_be_missing.as_deref().unwrap_or("none published");
                Ok(Err(SignatureCheck::NotRequired(format!("unsigned upstream: {why}"))))
            }
        }
    }

    /// Downloads a signature and its certificate. A missing signature fails closed,
    /// except for a version the upstream may have published unsigned (`Ok(None)`, for
    /// the caller to report), named explicitly (not through a marker) and without
    /// `--require-signature`. A signature that is present must be complete and verify.
    fn fetch_signature_files(
        &self,
        reference: &SignatureRef,
        what: &str,
        known: &[RawFile],
    ) -> Result<Option<SignatureFiles>, Error> {
        let missing = |url: &str, source: TransportError| {
            Error::Release(ReleaseError::SignatureMissing {
                artifact: what.to_string(),
                url: url.to_string(),
                via_marker: reference.via_marker.clone().map(Box::new),
                source,
            })
        };
        let already = known.iter().find(|(url, _)| *url == reference.url).map(|(_, bytes)| Ok(bytes.clone()));
        let signature = match already.unwrap_or_else(|| self.transport.get_small(&reference.url, MAX_SIGNATURE_LEN)) {
            Ok(bytes) => bytes,
            Err(e) if e.is_missing() => {
                let acceptable = reference.may_be_missing.is_some()
                    && reference.via_marker.is_none()
                    && self.trust.policy != SignaturePolicy::Require;
                return if acceptable { Ok(None) } else { Err(missing(&reference.url, e)) };
            }
            Err(e) => return Err(Error::Transport(e)),
        };
        let certificate = match &reference.certificate_url {
            None => None,
            Some(url) => Some(self.transport.get_small(url, MAX_SIGNATURE_LEN).map_err(|e| match e {
                e if e.is_missing() => missing(url, e),
                e => Error::Transport(e),
            })?),
        };
        Ok(Some(SignatureFiles { reference: reference.clone(), signature, certificate }))
    }

    /// Verifies downloaded signature files over a SHA-256 already known.
    pub fn verify_signature(
        &self,
        files: &SignatureFiles,
        artifact: &Artifact,
        sha256: &[u8; 32],
    ) -> Result<SignatureCheck, Error> {
        let r = &files.reference;
        let policy = self.trust.policy_for(&r.identity, &r.issuer);
        let verify = |root: &signature::TrustRoot| match r.kind {
            SignatureKind::CosignDetached => {
                let cert = files.certificate.as_deref().unwrap_or_default();
                signature::verify_detached(sha256, &files.signature, cert, &policy, root)
            }
            SignatureKind::IntotoJsonl => {
                signature::verify_intoto_jsonl(sha256, &artifact.file_name, &files.signature, &policy, root)
            }
            SignatureKind::Pgp => Err(SignatureError::NoAttestation {
                artifact: artifact.label(),
                lines: 0,
                reasons: "an OpenPGP signature covers a checksum file, not a digest".into(),
            }),
        };
        let mut verified = verify(&*self.trust_root()?);
        if verified.as_ref().is_err_and(SignatureError::may_be_a_rotation) {
            if let Some(rotated) = self.rotated_root()? {
                verified = verify(&rotated);
            }
        }
        let evidence = verified.map_err(|source| ReleaseError::SignatureInvalid {
            artifact: artifact.label(),
            url: r.url.clone(),
            source: Box::new(source),
        })?;
        Ok(SignatureCheck::Verified(evidence))
    }

    /// Verifies an OpenPGP signature over a checksum file, before any download, and lets
    /// it vouch for the digests that file lists: a detached `.asc` over the checksum file
    /// `signed_url` names, or a clear-signed checksum file, whose digests are then taken
    /// from the signed text alone (never from text outside it, nor changed by trailing
    /// whitespace). The artifact's bytes must later match one of those digests.
    pub(super) fn verify_pgp(
        &self,
        artifact: &Artifact,
        files: &SignatureFiles,
        checksum_files: &[RawFile],
    ) -> Result<SignedChecksums, Error> {
        let r = &files.reference;
        let keyring = self.keyring(r)?;
        let now = jiff::Timestamp::now();
        let invalid = |e: openpgp::OpenPgpError| ReleaseError::SignatureInvalid {
            artifact: artifact.label(),
            url: r.url.clone(),
            source: Box::new(SignatureError::from(e)),
        };
        let malformed = |url: &str| {
            let url = url.to_string();
            move |source| ReleaseError::ChecksumMalformed { url, source }
        };
        let (url, file, evidence) = match &r.signed_url {
            Some(signed) => {
                let Some((_, data)) = checksum_files.iter().find(|(url, _)| url == signed) else {
                    return Err(Error::Internal(format!(
                        "{signed}: signed by {}, but not among the checksum files",
                        r.url
                    )));
                };
                let s = openpgp::verify_detached(&keyring, &r.url, data, &files.signature, now).map_err(invalid)?;
                let file = crate::checksums::parse(signed, data).map_err(malformed(signed))?;
                (signed.clone(), file, SignatureEvidence::pgp(&s))
            }
            None => {
                let cleartext = openpgp::verify_cleartext(&keyring, &r.url, &files.signature, now).map_err(invalid)?;
                let mut file = crate::checksums::parse(&r.url, cleartext.text.as_bytes()).map_err(malformed(&r.url))?;
                for entry in &mut file.entries {
                    entry.line += cleartext.first_line - 1;
                }
                (r.url.clone(), file, SignatureEvidence::pgp(&cleartext.signature))
            }
        };
        let mut expected = super::listed(artifact, &file)?;
        for e in &mut expected {
            e.signed_by = Some(evidence.clone());
        }
        Ok(SignedChecksums { url, expected, evidence })
    }

    /// The keyring an OpenPGP signature must be made by: `--keyring FILE`, else the one
    /// the catalog names (built in, or a file a `--catalog` names); read once per run.
    fn keyring(&self, reference: &SignatureRef) -> Result<Arc<openpgp::Keyring>, Error> {
        let wanted = match (&self.trust.keyring, &reference.keyring) {
            (Some(path), _) => Keyring::File(path.clone()),
            (None, Some(named)) => named.clone(),
            (None, None) => {
                return Err(Error::Internal(format!("{}: a pgp signature without a keyring", reference.url)))
            }
        };
        let mut cache = self.keyrings.lock().map_err(|_| Error::Internal("a download thread panicked".into()))?;
        if let Some(known) = cache.get(&wanted) {
            return Ok(known.clone());
        }
        let keyring = match &wanted {
            Keyring::Embedded(name) => openpgp::Keyring::embedded(name).map_err(SignatureError::from)?,
            Keyring::File(path) => {
                let source = path.display().to_string();
                let unreadable = |e| SignatureError::Unreadable { file: source.clone(), source: e };
                let file = std::fs::File::open(path).map_err(unreadable)?;
                let mut bytes = Vec::new();
                std::io::Read::read_to_end(&mut std::io::Read::take(file, openpgp::MAX_KEYRING_LEN + 1), &mut bytes)
                    .map_err(unreadable)?;
                openpgp::Keyring::parse(&source, &bytes).map_err(SignatureError::from)?
            }
        };
        let keyring = Arc::new(keyring);
        cache.insert(wanted, keyring.clone());
        Ok(keyring)
    }

    /// Verifies a signature over the published SHA-256 among `expected`: a file whose
    /// bytes later match that digest is covered by it, with no download now.
    pub fn verify_over_published(
        &self,
        files: &SignatureFiles,
        artifact: &Artifact,
        expected: &[Expected],
    ) -> Result<SignatureCheck, Error> {
        let sha256 = crate::expect::first_sha256(expected)
            .ok_or_else(|| ReleaseError::NoSha256 { artifact: artifact.label() })?;
        self.verify_signature(files, artifact, &sha256)
    }
}

/// The evidence of a pin's signature. A pin that kept a Sigstore bundle (a captured
/// transparency-log proof) is verified again, offline, over the pinned SHA-256 under the
/// identity recorded in the pin; a pin without one reports what was verified when the
/// lock was written.
pub fn pinned_evidence(
    pinned: &PinnedSignature,
    sha256: &[u8; 32],
    what: &str,
    root: impl FnOnce() -> Result<Arc<signature::TrustRoot>, Error>,
) -> Result<SignatureEvidence, Error> {
    let Some(bundle) = &pinned.bundle else { return Ok(pinned.to_evidence()) };
    let policy = Policy { identity: IdentityMatcher::Exact(pinned.identity.clone()), issuer: pinned.issuer.clone() };
    let mut evidence = signature::verify_bundle(sha256, bundle.as_bytes(), &policy, &*root()?).map_err(|source| {
        ReleaseError::SignatureInvalid {
            artifact: what.to_string(),
            url: "the bundle kept in the lock".into(),
            source: Box::new(source),
        }
    })?;
    evidence.notes.push("transparency-log proof captured when the lock was written, verified offline now".into());
    Ok(evidence)
}

/// A checksum file an OpenPGP signature covers: its URL, the digests it lists for the
/// artifact (each vouched for by the signature), and what the signature established.
pub(super) struct SignedChecksums {
    pub url: String,
    pub expected: Vec<Expected>,
    pub evidence: SignatureEvidence,
}

/// A release SBOM whose signature verified, and what it vouches for.
pub struct SignedSbom {
    pub url: String,
    pub sbom: Sbom,
    pub evidence: SignatureEvidence,
}

impl SignedSbom {
    /// The SBOM's digests for `artifact`, named by its install name; empty when the
    /// SBOM does not list it (never a pass by omission: the file is then unlisted).
    pub fn expected_for(&self, artifact: &Artifact) -> Vec<Expected> {
        let Some(sbom_ref) = &artifact.sbom else { return Vec::new() };
        let Some(files) = self.sbom.get(&sbom_ref.path) else { return Vec::new() };
        [files.sha256, files.sha512]
            .into_iter()
            .flatten()
            .map(|(digest, line)| Expected {
                name: Some(artifact.install_name.clone()),
                sidecar_of: None,
                digest,
                origin: format!("{}:{line} (signed SBOM)", self.url),
                subject: Some(artifact.subject()),
                signed_by: Some(self.evidence.clone()),
                pinned_in: None,
            })
            .collect()
    }
}

/// Downloads the release SBOM `artifact` names, verifies its one signature and its
/// namespace, and parses it. `Ok(None)` when there is none to use: the catalog names
/// none, signatures are skipped, the release does not publish it (HTTP 404), or
/// publishes it unsigned for a version that may be; the caller then falls back to
/// per-artifact checksums and signatures.
pub(super) fn signed_sbom(upstream: &Upstream, artifact: &Artifact) -> Result<Option<SignedSbom>, Error> {
    let Some(sbom_ref) = &artifact.sbom else { return Ok(None) };
    if upstream.trust.policy == SignaturePolicy::Skip {
        return Ok(None);
    }
    let bytes = match upstream.transport.get_small(&sbom_ref.url, crate::sbom::MAX_LEN) {
        Ok(bytes) => bytes,
        Err(e) if e.is_missing() => {
            tracing::info!("{}: not published; checking each artifact's own checksums and signature", sbom_ref.url);
            return Ok(None);
        }
        Err(e) => return Err(e.into()),
    };
    let what = format!("the release SBOM {}", sbom_ref.url);
    let Some(files) = upstream.fetch_signature_files(&sbom_ref.signature, &what, &[])? else {
        tracing::info!("{}: published unsigned; checking each artifact's own checksums and signature", sbom_ref.url);
        return Ok(None);
    };
    let sha256: [u8; 32] = {
        use sha2::Digest as _;
        sha2::Sha256::digest(&bytes).into()
    };
    let SignatureCheck::Verified(mut evidence) = upstream.verify_signature(&files, artifact, &sha256)? else {
        return Ok(None);
    };
    evidence.notes.push(format!("digests from the signed release SBOM {}", sbom_ref.url));
    let sbom = Sbom::parse(&sbom_ref.url, &bytes)?;
    sbom.require_namespace(&sbom_ref.namespace)?;
    Ok(Some(SignedSbom { url: sbom_ref.url.clone(), sbom, evidence }))
}

/// Under `--require-signature`, a pin must hold the signature it was locked with: a
/// lock is no way around the policy.
pub fn require_signed(pin: &Pin, lock: &std::path::Path, trust: &TrustOptions) -> Result<(), ReleaseError> {
    if trust.policy == SignaturePolicy::Require && pin.signature.is_none() {
        return Err(ReleaseError::PinUnsigned { artifact: pin.subject.to_string(), lock: lock.to_path_buf() });
    }
    Ok(())
}
