//! What a release publishes for one artifact: its checksum files and signature,
//! fetched (through mirrors) and turned into expected digests and evidence.

use std::path::PathBuf;

use crate::catalog::{Artifact, Catalog, SignatureKind, SignatureRef, ViaMarker};
use crate::checksums::{self, MAX_FILE_LEN};
use crate::expect::{Expectations, Expected, Label};
use crate::fetch::{FetchError, Transport};
use crate::install::SignatureCheck;
use crate::platform::Platform;
use crate::report::SignatureEvidence;
use crate::sbom::Sbom;
use crate::signature::{self, IdentityMatcher, Policy, TrustRoot};
use crate::version::{Marker, Version, VersionRequest};
use crate::Error;

/// Signatures and bundles are small; attestation files of many bundles less so.
const MAX_SIGNATURE_LEN: u64 = 16 * 1024 * 1024;
/// A version marker holds one version string.
const MAX_MARKER_LEN: u64 = 1024;

/// Why a release's evidence is unusable.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    #[error("{url} lists no checksum for {file_name} (a checksum file for another artifact or version?)")]
    NoEntry { url: String, file_name: String },
    #[error("checksum not published: {url}")]
    ChecksumMissing {
        url: String,
        #[source]
        source: FetchError,
    },
    #[error("{url}")]
    ChecksumMalformed {
        url: String,
        #[source]
        source: checksums::ChecksumError,
    },
    #[error("{0}")]
    Ambiguous(#[from] crate::expect::Ambiguous),
    #[error("the upstream publishes a signature for {artifact}, but it is missing: {url}{}", marker_note(.via_marker))]
    SignatureMissing {
        artifact: String,
        url: String,
        /// The marker the version was reached through, whose release must be signed.
        via_marker: Option<Box<ViaMarker>>,
        #[source]
        source: FetchError,
    },
    #[error("{artifact}: no signature is published and --require-signature is set")]
    SignatureRequired { artifact: String },
    #[error("signature of {artifact} does not verify ({url})")]
    SignatureInvalid {
        artifact: String,
        url: String,
        #[source]
        source: Box<signature::SignatureError>,
    },
    #[error("{artifact} has no pin in {}, and --locked allows nothing else", lock.display())]
    NotPinned { artifact: String, lock: PathBuf },
    #[error("{artifact}: the published checksum disagrees with the signed release SBOM: {published}, but {listed}")]
    SbomDisagrees { artifact: String, published: String, listed: String },
    #[error("{artifact} is not listed in the signed release SBOM {url}")]
    NotInSbom { artifact: String, url: String },
    #[error("version marker {url} holds {text:?}, not a version")]
    BadMarker { url: String, text: String },
    /// A marker file names a version the marker cannot mean (a rolled-back `stable`, a
    /// `latest-1.29` naming 1.30): a mirror pointing it elsewhere.
    #[error("version marker {url} names {version}, which {marker} cannot name: {why}")]
    MarkerRefused { url: String, marker: String, version: String, why: String },
    #[error(
        "version marker {marker} names {component} {version}, for which no signature is published: \
         a marker never leads to an unsigned install (markers are unsigned, and a mirror can point them anywhere)"
    )]
    MarkerUnsigned { marker: String, component: String, version: String },
}

impl ReleaseError {
    pub fn hint(&self) -> Option<String> {
        match self {
            ReleaseError::MarkerUnsigned { component, version, .. } => {
                Some(format!("if you mean that release, ask for it explicitly: {component}@{version}"))
            }
            ReleaseError::SignatureMissing { via_marker: Some(via), .. } => {
                Some(format!("if you mean that release unsigned, ask for it explicitly: {}", via.explicit))
            }
            _ => None,
        }
    }
}

/// ` (reached through the version marker stable, …)` when it was.
fn marker_note(via_marker: &Option<Box<ViaMarker>>) -> String {
    match via_marker {
        Some(via) => {
            format!(" (reached through the version marker {}, which must lead to a signed release)", via.marker)
        }
        None => String::new(),
    }
}

/// Whether signatures are checked, as `--require-signature` and
/// `--insecure-skip-signature` say.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SignaturePolicy {
    /// Check every signature the upstream publishes; a missing one fails.
    #[default]
    IfPublished,
    /// As `IfPublished`, and fail artifacts for which none is published.
    Require,
    /// Check none; the report says so.
    Skip,
}

impl SignaturePolicy {
    pub fn from_flags(require: bool, skip: bool) -> SignaturePolicy {
        match (require, skip) {
            (_, true) => SignaturePolicy::Skip,
            (true, false) => SignaturePolicy::Require,
            (false, false) => SignaturePolicy::IfPublished,
        }
    }
}

/// Overrides of the catalog's signer identity and trust root, from the command line.
#[derive(Clone, Debug, Default)]
pub struct TrustOptions {
    pub policy: SignaturePolicy,
    pub identity: Option<String>,
    pub identity_regexp: Option<String>,
    pub issuer: Option<String>,
    pub trusted_root: Option<PathBuf>,
}

/// A signature file (and certificate) downloaded for an artifact, not yet checked.
pub struct SignatureFiles {
    pub reference: SignatureRef,
    pub signature: Vec<u8>,
    pub certificate: Option<Vec<u8>>,
}

/// Resolves what a user asked for into an artifact. A Kubernetes marker (`stable`,
/// `latest-1.29`) is read from the upstream (through mirrors) and held to its meaning:
/// marker files are unsigned and a mirror can point them anywhere, so the version one
/// names must be of the marker's line and must carry a signature that verifies.
pub fn resolve(
    catalog: &Catalog,
    transport: &Transport,
    component: &str,
    request: &VersionRequest,
    platform: &Platform,
    trust: &TrustOptions,
) -> Result<Artifact, Error> {
    let marker = match request {
        VersionRequest::Exact(v) => return Ok(catalog.resolve(component, v, platform)?),
        VersionRequest::Marker(marker) => marker,
    };
    if trust.policy == SignaturePolicy::Skip {
        return Err(Error::usage_hint(
            format!("{component}@{marker}: a version marker cannot be combined with --insecure-skip-signature"),
            "markers are unsigned and a mirror can point them anywhere: only a verified signature vouches for \
             the release one names; name the version explicitly",
        ));
    }
    let version = read_marker(catalog, transport, component, marker, platform)?;
    let artifact = catalog.resolve(component, &version, platform)?;
    if artifact.signature.is_none() {
        let unsigned = ReleaseError::MarkerUnsigned {
            marker: marker.to_string(),
            component: component.into(),
            version: version.to_string(),
        };
        return Err(unsigned.into());
    }
    Ok(artifact.reached_through(marker))
}

/// The version a marker file names, refused when the marker cannot mean it.
fn read_marker(
    catalog: &Catalog,
    transport: &Transport,
    component: &str,
    marker: &Marker,
    platform: &Platform,
) -> Result<Version, Error> {
    let url = catalog.marker_url(component, platform, &marker.to_string())?;
    let bytes = transport.get_small(&url, MAX_MARKER_LEN)?;
    let text = String::from_utf8_lossy(&bytes).trim().to_string();
    let version = Version::parse(&text).map_err(|_| ReleaseError::BadMarker { url: url.clone(), text })?;
    match marker.refuses(&version) {
        Some(why) => {
            Err(ReleaseError::MarkerRefused { url, marker: marker.to_string(), version: version.to_string(), why }
                .into())
        }
        None => Ok(version),
    }
}

/// A checksum file as downloaded: its URL and bytes.
pub type RawFile = (String, Vec<u8>);

/// Downloads and parses every checksum file of `artifact`; each must list it. The raw
/// files come back too, for mirrors.
pub fn published_checksums(transport: &Transport, artifact: &Artifact) -> Result<(Vec<Expected>, Vec<RawFile>), Error> {
    let mut all = Vec::new();
    let mut raw = Vec::new();
    for url in &artifact.checksum_urls {
        let bytes = transport.get_small(url, MAX_FILE_LEN).map_err(|e| match e {
            e if e.is_missing() => Error::Release(ReleaseError::ChecksumMissing { url: url.clone(), source: e }),
            e => Error::Fetch(e),
        })?;
        let file = checksums::parse(url, &bytes)
            .map_err(|source| ReleaseError::ChecksumMalformed { url: url.clone(), source })?;
        let mut one = Expectations::new(&artifact.platform.os, &artifact.platform.arch);
        one.add_checksum_file(&file);
        let matching: Vec<Expected> =
            one.matching(&artifact.file_name, true).map_err(ReleaseError::from)?.into_iter().cloned().collect();
        if matching.is_empty() {
            return Err(ReleaseError::NoEntry { url: url.clone(), file_name: artifact.file_name.clone() }.into());
        }
        all.extend(matching);
        raw.push((url.clone(), bytes));
    }
    let label = Label {
        component: artifact.component.clone(),
        version: artifact.version.to_string(),
        platform: artifact.platform.to_string(),
    };
    for e in &mut all {
        e.label = Some(label.clone());
        // Compare by the artifact's name from now on, whatever the file listed it as.
        e.name = Some(artifact.install_name.clone());
    }
    Ok((all, raw))
}

/// Downloads the signature files the policy asks for. `Ok(Err(check))` when no
/// signature is checked, with the reason in the check.
pub fn fetch_signature(
    transport: &Transport,
    artifact: &Artifact,
    trust: &TrustOptions,
) -> Result<Result<SignatureFiles, SignatureCheck>, Error> {
    let reference = match (&artifact.signature, trust.policy) {
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
    match fetch_signature_files(transport, reference, &artifact.label(), trust.policy)? {
        Some(files) => Ok(Ok(files)),
        None => {
            let why = reference.may_be_missing.as_deref().unwrap_or("none published");
            Ok(Err(SignatureCheck::NotRequired(format!("unsigned upstream: {why}"))))
        }
    }
}

/// Downloads a signature and its certificate. A missing signature fails closed, except
/// for a version the upstream may have published unsigned (`Ok(None)`, for the caller
/// to report), named explicitly (not through a marker) and without
/// `--require-signature`. A signature that is present must be complete and verify.
fn fetch_signature_files(
    transport: &Transport,
    reference: &SignatureRef,
    what: &str,
    policy: SignaturePolicy,
) -> Result<Option<SignatureFiles>, Error> {
    let missing = |url: &str, source: FetchError| {
        Error::Release(ReleaseError::SignatureMissing {
            artifact: what.to_string(),
            url: url.to_string(),
            via_marker: reference.via_marker.clone().map(Box::new),
            source,
        })
    };
    let signature = match transport.get_small(&reference.url, MAX_SIGNATURE_LEN) {
        Ok(bytes) => bytes,
        Err(e) if e.is_missing() => {
            let acceptable = reference.may_be_missing.is_some()
                && reference.via_marker.is_none()
                && policy != SignaturePolicy::Require;
            return if acceptable { Ok(None) } else { Err(missing(&reference.url, e)) };
        }
        Err(e) => return Err(Error::Fetch(e)),
    };
    let certificate = match &reference.certificate_url {
        None => None,
        Some(url) => Some(transport.get_small(url, MAX_SIGNATURE_LEN).map_err(|e| match e {
            e if e.is_missing() => missing(url, e),
            e => Error::Fetch(e),
        })?),
    };
    Ok(Some(SignatureFiles { reference: reference.clone(), signature, certificate }))
}

/// Verifies downloaded signature files over the SHA-256 already computed.
pub fn verify_signature(
    files: &SignatureFiles,
    artifact: &Artifact,
    sha256: &[u8; 32],
    trust: &TrustOptions,
    root: &TrustRoot,
) -> Result<SignatureCheck, Error> {
    let r = &files.reference;
    let policy = policy_for(&r.identity, &r.issuer, trust)?;
    let invalid = |source| ReleaseError::SignatureInvalid {
        artifact: artifact.label(),
        url: r.url.clone(),
        source: Box::new(source),
    };
    let evidence = match r.kind {
        SignatureKind::CosignDetached => {
            let cert = files.certificate.as_deref().unwrap_or_default();
            signature::verify_detached(sha256, &files.signature, cert, &policy, root).map_err(invalid)?
        }
        SignatureKind::IntotoJsonl => {
            signature::verify_intoto_jsonl(sha256, &artifact.file_name, &files.signature, &policy, root)
                .map_err(invalid)?
        }
    };
    Ok(SignatureCheck::Verified(evidence))
}

/// Verifies a signature over the published SHA-256 among `expected`: a file whose bytes
/// later match that digest is covered by it, with no download now.
pub fn verify_over_published(
    files: &SignatureFiles,
    artifact: &Artifact,
    expected: &[Expected],
    trust: &TrustOptions,
    root: &TrustRoot,
) -> Result<SignatureCheck, Error> {
    let sha256 = crate::expect::first_sha256(expected).ok_or_else(|| {
        Error::usage(format!("{}: no SHA-256 published to check its signature over", artifact.label()))
    })?;
    verify_signature(files, artifact, &sha256, trust, root)
}

/// Who must have signed: the catalog's identity and issuer, unless the command line
/// names others (`--certificate-identity[-regexp]`, `--certificate-oidc-issuer`).
pub fn policy_for(identity: &str, issuer: &str, trust: &TrustOptions) -> Result<Policy, Error> {
    let identity = match (&trust.identity, &trust.identity_regexp) {
        (_, Some(pattern)) => IdentityMatcher::regexp(pattern)
            .map_err(|e| Error::usage(format!("--certificate-identity-regexp {pattern:?}: {e}")))?,
        (Some(exact), None) => IdentityMatcher::Exact(exact.clone()),
        (None, None) => IdentityMatcher::Exact(identity.to_string()),
    };
    Ok(Policy { identity, issuer: trust.issuer.clone().unwrap_or_else(|| issuer.to_string()) })
}

/// The evidence of a pin's signature. A pin that kept a Sigstore bundle (a captured
/// transparency-log proof) is verified again, offline, over the pinned SHA-256; a pin
/// without one reports what was verified when the lock was written.
pub fn pinned_evidence<'a>(
    pinned: &crate::lock::PinnedSignature,
    sha256: &[u8; 32],
    what: &str,
    trust: &TrustOptions,
    root: impl FnOnce() -> Result<&'a TrustRoot, Error>,
) -> Result<SignatureEvidence, Error> {
    let Some(bundle) = &pinned.bundle else { return Ok(pinned.to_evidence()) };
    let policy = policy_for(
        &pinned.identity,
        &pinned.issuer,
        &TrustOptions { identity: None, identity_regexp: None, ..trust.clone() },
    )?;
    let mut evidence = signature::verify_bundle(sha256, bundle.as_bytes(), &policy, root()?).map_err(|source| {
        ReleaseError::SignatureInvalid {
            artifact: what.to_string(),
            url: "the bundle kept in the lock".into(),
            source: Box::new(source),
        }
    })?;
    evidence.notes.push("transparency-log proof captured when the lock was written, verified offline now".into());
    Ok(evidence)
}

/// The trust root: `--trusted-root FILE`, else the embedded Sigstore public-good one.
pub fn trust_root(trust: &TrustOptions) -> Result<TrustRoot, Error> {
    let root = match &trust.trusted_root {
        Some(path) => TrustRoot::from_file(path),
        None => TrustRoot::production(),
    };
    root.map_err(Error::Signature)
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
        let label = Label {
            component: artifact.component.clone(),
            version: artifact.version.to_string(),
            platform: artifact.platform.to_string(),
        };
        [files.sha256, files.sha512]
            .into_iter()
            .flatten()
            .map(|(digest, line)| Expected {
                name: Some(artifact.install_name.clone()),
                sidecar_of: None,
                digest,
                origin: format!("{}:{line} (signed SBOM)", self.url),
                label: Some(label.clone()),
                signed_by: Some(self.evidence.clone()),
                pinned_in: None,
            })
            .collect()
    }
}

/// Downloads the release SBOM `artifact` names, verifies its one signature and its
/// namespace, and parses it. `Ok(None)` when there is none to use: the catalog names
/// none, signatures are skipped, or the release does not publish it (HTTP 404); the
/// caller then falls back to per-artifact checksums and signatures.
pub fn signed_sbom<'a>(
    transport: &Transport,
    artifact: &Artifact,
    trust: &TrustOptions,
    root: impl FnOnce() -> Result<&'a TrustRoot, Error>,
) -> Result<Option<SignedSbom>, Error> {
    let Some(sbom_ref) = &artifact.sbom else { return Ok(None) };
    if trust.policy == SignaturePolicy::Skip {
        return Ok(None);
    }
    let bytes = match transport.get_small(&sbom_ref.url, crate::sbom::MAX_LEN) {
        Ok(bytes) => bytes,
        Err(FetchError::Status { status: 404, .. } | FetchError::MirrorFileMissing { .. }) => {
            tracing::info!("{}: not published; checking each artifact's own checksums and signature", sbom_ref.url);
            return Ok(None);
        }
        Err(e) => return Err(e.into()),
    };
    let what = format!("the release SBOM {}", sbom_ref.url);
    let Some(files) = fetch_signature_files(transport, &sbom_ref.signature, &what, trust.policy)? else {
        tracing::info!("{}: published unsigned; checking each artifact's own checksums and signature", sbom_ref.url);
        return Ok(None);
    };
    let sha256: [u8; 32] = {
        use sha2::Digest as _;
        sha2::Sha256::digest(&bytes).into()
    };
    let check = verify_signature(&files, artifact, &sha256, trust, root()?)?;
    let SignatureCheck::Verified(mut evidence) = check else { return Ok(None) };
    evidence.notes.push(format!("digests from the signed release SBOM {}", sbom_ref.url));
    let sbom = Sbom::parse(&sbom_ref.url, &bytes)?;
    sbom.require_namespace(&sbom_ref.namespace)?;
    Ok(Some(SignedSbom { url: sbom_ref.url.clone(), sbom, evidence }))
}
