//! Who built an artifact: Kubernetes' cosign detached pairs (`X.sig` + `X.cert`),
//! Sigstore bundles and containerd's in-toto attestation files, verified offline
//! against a [`TrustRoot`] with a pinned signer identity ([`Policy`]).
//!
//! Every check works on the SHA-256 the caller already computed: the artifact is never
//! read again. Bundles go through `sigstore-verify`; the detached pair, which no crate
//! verifies, is checked here the way cosign does without a transparency-log entry (see
//! [`verify_detached`]).

use std::path::Path;

use base64::Engine as _;
use rustls_pki_types::{CertificateDer, UnixTime};
use sigstore_crypto::{CertificateInfo, KeyAlgorithm, SigningScheme, VerificationKey};
use sigstore_trust_root::TrustedRoot;
use sigstore_types::{Bundle, DerCertificate, DerPublicKey, Sha256Hash, SignatureBytes, SignatureContent, Statement};
use sigstore_verify::{PublicKeyVerificationPolicy, VerificationPolicy, VerificationResult, Verifier};
use x509_cert::der::{Decode as _, Encode as _};
use x509_cert::ext::pkix::sct::{HashAlgorithm as SctHash, SignatureAlgorithm as SctSig};
use x509_cert::ext::pkix::SignedCertificateTimestampList;

use super::SignatureEvidence;
use crate::status::ExitStatus;

/// The Kubernetes release signer, as `dl.k8s.io`'s `.cert` files name it.
pub const KUBERNETES_IDENTITY: &str = "krel-staging@k8s-releng-prod.iam.gserviceaccount.com";
/// The OIDC issuer of [`KUBERNETES_IDENTITY`].
pub const KUBERNETES_ISSUER: &str = "https://accounts.google.com";

/// The largest `.sig`, `.cert` or key file read (real ones are well under 4 KiB).
pub const MAX_DETACHED_LEN: u64 = 64 * 1024;
/// The largest bundle or attestation file read.
pub const MAX_BUNDLE_LEN: u64 = 16 * 1024 * 1024;

/// RFC 6962 embedded SCT list extension.
const SCT_LIST_OID: x509_cert::der::asn1::ObjectIdentifier =
    x509_cert::der::asn1::ObjectIdentifier::new_unwrap("1.3.6.1.4.1.11129.2.4.2");
/// Extended key usage id-kp-codeSigning (1.3.6.1.5.5.7.3.3), DER content octets.
const CODE_SIGNING_EKU: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x03];

/// Why a signature did not verify, or its evidence could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SignatureError {
    /// The trusted root file could not be read (an I/O problem, not bad evidence).
    #[error("cannot read the trusted root {origin}")]
    TrustRootUnreadable {
        origin: String,
        #[source]
        source: std::io::Error,
    },
    /// The trusted root is malformed or holds unusable trust material.
    #[error("cannot load the trusted root {origin}")]
    TrustRoot {
        origin: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A `.sig` or `.cert` file is not the base64 it must be.
    #[error("the {what} is not valid base64")]
    Base64 {
        what: &'static str,
        #[source]
        source: base64::DecodeError,
    },
    /// The decoded `.cert` is not a PEM certificate, or the certificate is malformed.
    #[error("the certificate is malformed: {reason}")]
    Certificate { reason: String },
    /// The certificate does not chain to a Fulcio CA of the trusted root.
    #[error("the certificate does not chain to a trusted Fulcio CA at its issuance ({at})")]
    Untrusted {
        at: String,
        #[source]
        source: Option<webpki::Error>,
    },
    /// No usable embedded SCT: missing, from an unknown log, out of time, or forged.
    #[error("the certificate's embedded SCT does not verify: {reason}")]
    Sct { reason: String },
    /// The certificate names another signer.
    #[error("wrong signer identity: expected {expected}, found {found}")]
    Identity { expected: String, found: String },
    /// The certificate names another OIDC issuer.
    #[error("wrong OIDC issuer: expected {expected}, found {found}")]
    Issuer { expected: String, found: String },
    /// The decoded `.sig` is not a DER ECDSA signature at all.
    #[error("the signature is not a DER ECDSA signature")]
    SignatureEncoding,
    /// The signature is not over this artifact's SHA-256 with the certificate's key.
    #[error("the signature does not match this file under the certificate's key")]
    Signature {
        #[source]
        source: sigstore_crypto::Error,
    },
    /// The certificate's key cannot sign the way Kubernetes does.
    #[error("unsupported certificate key: {0}")]
    UnsupportedKey(String),
    /// The bundle is not a Sigstore bundle kverify can read.
    #[error("the bundle is malformed")]
    BundleFormat {
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// sigstore-verify refused the bundle.
    #[error("the bundle does not verify")]
    Bundle {
        #[source]
        source: sigstore_verify::Error,
    },
    /// The public key given for a managed-key bundle is not a PEM public key.
    #[error("the public key is malformed")]
    Key {
        #[source]
        source: sigstore_types::Error,
    },
    /// A signature, certificate, key or bundle file that cannot be read (I/O).
    #[error("cannot read {file}")]
    Unreadable {
        file: String,
        #[source]
        source: std::io::Error,
    },
    /// A signature, certificate, key or bundle file far larger than any real one.
    #[error("{file} is larger than {cap} bytes: not a signature file")]
    TooLarge { file: String, cap: u64 },
    /// An OpenPGP signature (or the keyring it is checked with) that does not hold.
    #[error(transparent)]
    OpenPgp(Box<super::openpgp::OpenPgpError>),
    /// No line of an attestation file verifies for this artifact.
    #[error("no attestation for {artifact} verifies ({lines} lines): {reasons}")]
    NoAttestation { artifact: String, lines: usize, reasons: String },
}

impl From<super::openpgp::OpenPgpError> for SignatureError {
    fn from(e: super::openpgp::OpenPgpError) -> SignatureError {
        SignatureError::OpenPgp(Box::new(e))
    }
}

impl SignatureError {
    /// A certificate that chains to no CA, or an SCT from no log, of the trusted root:
    /// what a Sigstore key rotation looks like to a root fetched before it.
    pub fn may_be_a_rotation(&self) -> bool {
        matches!(self, SignatureError::Untrusted { .. } | SignatureError::Sct { .. })
    }

    pub fn hint(&self) -> Option<String> {
        self.may_be_a_rotation().then(|| {
            "if Sigstore rotated its keys since the trusted root was fetched, run `kverify trust update` and retry"
                .to_string()
        })
    }

    /// An unreadable trusted root is I/O; everything else is evidence that does not hold.
    pub fn exit_status(&self) -> ExitStatus {
        match self {
            SignatureError::TrustRootUnreadable { .. } | SignatureError::Unreadable { .. } => ExitStatus::Io,
            _ => ExitStatus::Failed,
        }
    }
}

/// The Sigstore trust material signatures chain to: Fulcio CAs, CT log keys, Rekor
/// keys and timestamp authorities, each with its validity window.
#[derive(Clone, Debug)]
pub struct TrustRoot {
    root: TrustedRoot,
    /// Where it came from, for errors: a path or "the built-in public-good root".
    origin: String,
}

impl TrustRoot {
    /// The Sigstore public-good `trusted_root.json` built into kverify.
    pub fn production() -> Result<TrustRoot, SignatureError> {
        TrustRoot::from_json("the built-in public-good root", sigstore_trust_root::SIGSTORE_PRODUCTION_TRUSTED_ROOT)
    }

    /// A `trusted_root.json` from disk (`--trusted-root`).
    pub fn from_file(path: &Path) -> Result<TrustRoot, SignatureError> {
        let origin = path.display().to_string();
        let bytes = std::fs::read(path)
            .map_err(|source| SignatureError::TrustRootUnreadable { origin: origin.clone(), source })?;
        let text = std::str::from_utf8(&bytes)
            .map_err(|e| SignatureError::TrustRoot { origin: origin.clone(), source: Box::new(e) })?;
        TrustRoot::from_json(&origin, text)
    }

    /// A `trusted_root.json` already in memory; `origin` names it in errors.
    pub fn from_json(origin: &str, json: &str) -> Result<TrustRoot, SignatureError> {
        let root = TrustedRoot::from_json(json)
            .map_err(|e| SignatureError::TrustRoot { origin: origin.to_string(), source: Box::new(e) })?;
        Ok(TrustRoot { root, origin: origin.to_string() })
    }

    /// The CAs, CT logs, tlogs and TSAs, for `kverify trust show` and `trust update`.
    pub fn material(&self) -> &TrustedRoot {
        &self.root
    }
}

/// How the signer identity (the certificate's SAN, e-mail or URI) must look.
#[derive(Clone, Debug)]
pub enum IdentityMatcher {
    /// Exactly this string.
    Exact(String),
    /// A regular expression, matched as given: build it with
    /// [`IdentityMatcher::regexp`] so that it must match the whole identity.
    Regexp(regex::Regex),
}

impl IdentityMatcher {
    /// A regular expression that must match the whole identity, as cosign's
    /// `--certificate-identity-regexp` users expect of an allow-list.
    pub fn regexp(pattern: &str) -> Result<IdentityMatcher, regex::Error> {
        Ok(IdentityMatcher::Regexp(regex::Regex::new(&format!("^(?:{pattern})$"))?))
    }

    pub fn matches(&self, identity: &str) -> bool {
        match self {
            IdentityMatcher::Exact(expected) => expected == identity,
            IdentityMatcher::Regexp(re) => re.is_match(identity),
        }
    }

    fn describe(&self) -> String {
        match self {
            IdentityMatcher::Exact(expected) => expected.clone(),
            IdentityMatcher::Regexp(re) => format!("an identity matching /{}/", re.as_str()),
        }
    }
}

/// Who must have signed: the identity and its OIDC issuer, both pinned.
#[derive(Clone, Debug)]
pub struct Policy {
    pub identity: IdentityMatcher,
    pub issuer: String,
}

impl Policy {
    /// The Kubernetes release signer (`krel-staging@…`, `https://accounts.google.com`).
    pub fn kubernetes() -> Policy {
        Policy { identity: IdentityMatcher::Exact(KUBERNETES_IDENTITY.into()), issuer: KUBERNETES_ISSUER.into() }
    }

    fn check(&self, identity: &str, issuer: &str) -> Result<(), SignatureError> {
        if !self.identity.matches(identity) {
            return Err(SignatureError::Identity { expected: self.identity.describe(), found: identity.to_string() });
        }
        if self.issuer != issuer {
            return Err(SignatureError::Issuer { expected: self.issuer.clone(), found: issuer.to_string() });
        }
        Ok(())
    }
}

/// Verifies a Kubernetes-style detached pair over the artifact's SHA-256: `sig_file` is
/// base64 of a DER ECDSA signature, `cert_file` base64 of a PEM Fulcio certificate (a
/// bare PEM is accepted too).
///
/// As cosign does without a transparency-log entry: the certificate must chain (with
/// the code-signing EKU) to a Fulcio CA of `root` whose validity window holds the
/// certificate's notBefore, validated at that time; one embedded SCT must verify with a
/// CT log key of `root`, its time inside the certificate's validity; the SAN and OIDC
/// issuer must satisfy `policy`; and the signature must verify over `sha256`. There is
/// no tlog proof in a pair, and the evidence says so.
pub fn verify_detached(
    sha256: &[u8; 32],
    sig_file: &[u8],
    cert_file: &[u8],
    policy: &Policy,
    root: &TrustRoot,
) -> Result<SignatureEvidence, SignatureError> {
    let signature = decode_signature(sig_file)?;
    let leaf = decode_certificate(cert_file)?;
    let info = sigstore_crypto::parse_certificate_info(&leaf)
        .map_err(|e| SignatureError::Certificate { reason: e.to_string() })?;

    let issuer_spki = verify_chain(leaf.as_bytes(), &info, root)?;
    verify_embedded_sct(leaf.as_bytes(), &issuer_spki, &info, root)?;

    let identity =
        info.identity.as_ref().map(|i| i.as_str().to_string()).ok_or_else(|| SignatureError::Certificate {
            reason: "no e-mail or URI subject alternative name".into(),
        })?;
    let issuer = info
        .issuer
        .clone()
        .ok_or_else(|| SignatureError::Certificate { reason: "no Fulcio OIDC issuer extension".into() })?;
    policy.check(&identity, &issuer)?;

    verify_prehashed(&info, sha256, &signature)?;
    Ok(SignatureEvidence {
        kind: "cosign-detached",
        identity,
        issuer,
        fingerprint: None,
        chain: true,
        sct: true,
        tlog: false,
        signed_at: None,
        notes: vec!["tlog: not checked (no bundle)".into()],
    })
}

/// Verifies a Sigstore bundle (`.sigstore.json`, v0.1 to v0.3) over the artifact's
/// SHA-256: a message signature over it, or a DSSE in-toto statement listing it among
/// its subjects. Certificate chain, SCT, transparency log (inclusion proof or promise,
/// checkpoint) and timestamps are checked as `sigstore-verify` checks them.
pub fn verify_bundle(
    sha256: &[u8; 32],
    bundle_json: &[u8],
    policy: &Policy,
    root: &TrustRoot,
) -> Result<SignatureEvidence, SignatureError> {
    let bundle = parse_bundle(bundle_json)?;
    let verifier = verifier(root)?;
    verify_parsed(sha256, &bundle, policy, &verifier)
}

/// Verifies a bundle signed with a managed key (no certificate, so no identity): the
/// signature must verify with the PEM public key `key_pem`, and the transparency log
/// entry against `root`.
pub fn verify_bundle_with_key(
    sha256: &[u8; 32],
    bundle_json: &[u8],
    key_pem: &[u8],
    root: &TrustRoot,
) -> Result<SignatureEvidence, SignatureError> {
    let key =
        DerPublicKey::from_pem(&String::from_utf8_lossy(key_pem)).map_err(|e| SignatureError::Key { source: e })?;
    let fingerprint = hex::encode(sigstore_crypto::sha256(key.as_bytes()).as_bytes());
    let bundle = parse_bundle(bundle_json)?;
    let result = verifier(root)?
        .verify(Sha256Hash::new(*sha256), &bundle, &PublicKeyVerificationPolicy::new(key))
        .map_err(|e| SignatureError::Bundle { source: e })?;
    let mut evidence = evidence(&result, format!("public key sha256:{fingerprint}"), "(managed key)".into());
    evidence.notes.push("managed key: no certificate, the key is the identity".into());
    Ok(evidence)
}

/// Verifies containerd's `containerd-<V>-attestation.intoto.jsonl`: one bundle per line.
/// Succeeds with the first line whose in-toto subjects list `artifact_name` with this
/// SHA-256 and that verifies under `policy`.
pub fn verify_intoto_jsonl(
    sha256: &[u8; 32],
    artifact_name: &str,
    jsonl: &[u8],
    policy: &Policy,
    root: &TrustRoot,
) -> Result<SignatureEvidence, SignatureError> {
    let verifier = verifier(root)?;
    let wanted = Sha256Hash::new(*sha256);
    let mut reasons = Vec::new();
    let mut lines = 0;
    for (n, line) in jsonl.split(|b| *b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        lines += 1;
        let result = parse_bundle(line).and_then(|bundle| {
            if !names_subject(&bundle, artifact_name, &wanted) {
                return Err(SignatureError::NoAttestation {
                    artifact: artifact_name.into(),
                    lines: 1,
                    reasons: "its subjects do not list this name with this sha256".into(),
                });
            }
            verify_parsed(sha256, &bundle, policy, &verifier)
        });
        match result {
            Ok(evidence) => return Ok(evidence),
            Err(SignatureError::NoAttestation { reasons: why, .. }) => reasons.push(format!("line {}: {why}", n + 1)),
            Err(e) => reasons.push(format!("line {}: {}", n + 1, chain_text(&e))),
        }
    }
    if reasons.is_empty() {
        reasons.push("the file holds no bundle".into());
    }
    // A release attests every tarball: say why the relevant lines failed, not all.
    reasons.truncate(5);
    Err(SignatureError::NoAttestation { artifact: artifact_name.into(), lines, reasons: reasons.join("; ") })
}

/// An error and its causes on one line, for summaries.
pub fn chain_text(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn verifier(root: &TrustRoot) -> Result<Verifier, SignatureError> {
    Verifier::new(&root.root)
        .map_err(|e| SignatureError::TrustRoot { origin: root.origin.clone(), source: Box::new(e) })
}

fn parse_bundle(json: &[u8]) -> Result<Bundle, SignatureError> {
    let text = std::str::from_utf8(json).map_err(|e| SignatureError::BundleFormat { source: Box::new(e) })?;
    Bundle::from_json(text).map_err(|e| SignatureError::BundleFormat { source: Box::new(e) })
}

fn verify_parsed(
    sha256: &[u8; 32],
    bundle: &Bundle,
    policy: &Policy,
    verifier: &Verifier,
) -> Result<SignatureEvidence, SignatureError> {
    // sigstore-verify matches exact identities itself; a regexp is checked on its result,
    // with the issuer still pinned by sigstore-verify.
    let vp = match &policy.identity {
        IdentityMatcher::Exact(identity) => VerificationPolicy::new(identity.as_str(), policy.issuer.as_str()),
        IdentityMatcher::Regexp(_) => VerificationPolicy::any_identity().require_issuer(policy.issuer.as_str()),
    };
    let result = match verifier.verify(Sha256Hash::new(*sha256), bundle, &vp) {
        Ok(result) => result,
        Err(e @ (sigstore_verify::Error::IdentityMismatch { .. } | sigstore_verify::Error::IssuerMismatch { .. })) => {
            // The same words as for a detached pair: expected, then found.
            let claims = bundle
                .signing_certificate()
                .and_then(|cert| sigstore_crypto::parse_certificate_info(cert).ok())
                .map(|info| (info.identity.map(|i| i.as_str().to_string()), info.issuer));
            if let Some((Some(identity), Some(issuer))) = claims {
                policy.check(&identity, &issuer)?;
            }
            return Err(SignatureError::Bundle { source: e });
        }
        Err(e) => return Err(SignatureError::Bundle { source: e }),
    };
    let identity = result.identity().map(|i| i.as_str().to_string()).unwrap_or_default();
    let issuer = result.issuer().unwrap_or_default().to_string();
    policy.check(&identity, &issuer)?;
    if !result.certificate_verified() {
        // Never with these policies; a refusal is cheaper than a silent pass.
        return Err(SignatureError::Untrusted { at: "signing time".into(), source: None });
    }
    Ok(evidence(&result, identity, issuer))
}

fn evidence(result: &VerificationResult, identity: String, issuer: String) -> SignatureEvidence {
    let signed_at = result.integrated_time().or_else(|| result.verified_timestamps().iter().min().copied());
    let mut notes = Vec::new();
    if !result.tlog_verified() {
        notes.push("tlog: not checked".to_string());
    }
    SignatureEvidence {
        kind: "bundle",
        identity,
        issuer,
        fingerprint: None,
        chain: result.certificate_verified(),
        sct: result.sct_verified(),
        tlog: result.tlog_verified(),
        signed_at: signed_at.map(|t| t.to_string()),
        notes,
    }
}

/// Whether the bundle's in-toto statement names `artifact` (or a path ending in it)
/// with this SHA-256.
fn names_subject(bundle: &Bundle, artifact: &str, sha256: &Sha256Hash) -> bool {
    let SignatureContent::DsseEnvelope(envelope) = &bundle.content else { return false };
    let Ok(statement) = serde_json::from_slice::<Statement>(envelope.payload.as_bytes()) else { return false };
    statement.subject.iter().any(|s| {
        let name_matches = s.name == artifact || s.name.rsplit('/').next() == Some(artifact);
        name_matches && s.digest.sha256.as_ref() == Some(sha256)
    })
}

/// Base64 with any whitespace (line breaks, a trailing newline) removed.
fn decode_base64(what: &'static str, bytes: &[u8]) -> Result<Vec<u8>, SignatureError> {
    let compact: Vec<u8> = bytes.iter().copied().filter(|b| !b.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(&compact).map_err(|source| SignatureError::Base64 { what, source })
}

pub(crate) fn decode_signature(sig_file: &[u8]) -> Result<SignatureBytes, SignatureError> {
    let der = decode_base64("signature", sig_file)?;
    // An ECDSA signature is a DER SEQUENCE of two INTEGERs; anything else is garbage
    // that must not be reported as a mere mismatch.
    if der.len() < 8 || der[0] != 0x30 {
        return Err(SignatureError::SignatureEncoding);
    }
    Ok(SignatureBytes::new(der))
}

/// The leaf certificate from a `.cert` file: base64 of PEM, or PEM itself.
pub(crate) fn decode_certificate(cert_file: &[u8]) -> Result<DerCertificate, SignatureError> {
    let trimmed = cert_file.trim_ascii();
    let pem =
        if trimmed.starts_with(b"-----BEGIN") { trimmed.to_vec() } else { decode_base64("certificate", trimmed)? };
    let text = std::str::from_utf8(&pem)
        .map_err(|_| SignatureError::Certificate { reason: "the decoded .cert is not PEM text".into() })?;
    DerCertificate::from_pem(text.trim()).map_err(|e| SignatureError::Certificate { reason: e.to_string() })
}

/// Chains the leaf to a Fulcio CA valid at its notBefore, validated at that time; the
/// leaf must carry the code-signing EKU. Returns the SPKI (DER) of the leaf's issuer, for the SCT.
fn verify_chain(leaf_der: &[u8], info: &CertificateInfo, root: &TrustRoot) -> Result<Vec<u8>, SignatureError> {
    let at = info.not_before;
    let untrusted = |source| SignatureError::Untrusted { at: at.to_string(), source };
    let secs = u64::try_from(at.as_second()).map_err(|_| untrusted(None))?;
    let time = UnixTime::since_unix_epoch(std::time::Duration::from_secs(secs));
    if !has_code_signing_eku(leaf_der)? {
        return Err(SignatureError::Certificate { reason: "it lacks the code-signing extended key usage".into() });
    }
    let leaf = CertificateDer::from(leaf_der);
    let end_entity = webpki::EndEntityCert::try_from(&leaf)
        .map_err(|e| SignatureError::Certificate { reason: format!("not an end-entity certificate: {e}") })?;

    let mut last_error = None;
    for ca in &root.root.certificate_authorities {
        if !ca.valid_for.is_none_or(|window| window.contains(at)) {
            continue;
        }
        // Like cosign: the chain's last certificate is the root, the others intermediates.
        let Some((ca_root, intermediates)) = ca.cert_chain.certificates.split_last() else { continue };
        let root_der = CertificateDer::from(ca_root.raw_bytes.as_bytes());
        let Ok(anchor) = webpki::anchor_from_trusted_cert(&root_der) else { continue };
        let anchors = [anchor];
        let intermediates: Vec<CertificateDer<'_>> =
            intermediates.iter().map(|c| CertificateDer::from(c.raw_bytes.as_bytes())).collect();
        match end_entity.verify_for_usage(
            sigstore_crypto::WEBPKI_VERIFICATION_ALGS,
            &anchors,
            &intermediates,
            time,
            // CAs without an EKU extension may issue code-signing leaves (as in Go's
            // x509); the leaf itself must name code signing, checked below.
            webpki::KeyUsage::required_if_present(CODE_SIGNING_EKU),
            None,
            None,
        ) {
            Ok(path) => {
                return match path.intermediate_certificates().next() {
                    Some(issuer) => Ok(issuer.subject_public_key_info().as_ref().to_vec()),
                    // webpki keeps an anchor's SPKI without its SEQUENCE header.
                    None => x509_cert::der::Any::new(
                        x509_cert::der::Tag::Sequence,
                        path.anchor().subject_public_key_info.as_ref(),
                    )
                    .and_then(|any| any.to_der())
                    .map_err(|e| SignatureError::Certificate { reason: format!("issuer key: {e}") }),
                };
            }
            Err(e) => last_error = Some(e),
        }
    }
    Err(untrusted(last_error))
}

fn has_code_signing_eku(leaf_der: &[u8]) -> Result<bool, SignatureError> {
    let cert = x509_cert::Certificate::from_der(leaf_der)
        .map_err(|e| SignatureError::Certificate { reason: e.to_string() })?;
    let code_signing = x509_cert::der::asn1::ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.3");
    match cert.tbs_certificate.get::<x509_cert::ext::pkix::ExtendedKeyUsage>() {
        Ok(Some((_, eku))) => Ok(eku.0.contains(&code_signing)),
        Ok(None) => Ok(false),
        Err(e) => Err(SignatureError::Certificate { reason: format!("malformed extended key usage: {e}") }),
    }
}

/// Verifies one embedded SCT against the CT log keys of the trusted root (RFC 6962
/// precertificate entry: the TBS without its SCT extension, and the issuer key hash),
/// its time inside the leaf's validity.
fn verify_embedded_sct(
    leaf_der: &[u8],
    issuer_spki: &[u8],
    info: &CertificateInfo,
    root: &TrustRoot,
) -> Result<(), SignatureError> {
    let sct_error = |reason: String| SignatureError::Sct { reason };
    let cert = x509_cert::Certificate::from_der(leaf_der)
        .map_err(|e| SignatureError::Certificate { reason: e.to_string() })?;
    let list: SignedCertificateTimestampList = match cert.tbs_certificate.get() {
        Ok(Some((_, list))) => list,
        Ok(None) => return Err(sct_error("the certificate has none".into())),
        Err(e) => return Err(sct_error(format!("malformed SCT extension: {e}"))),
    };
    let scts = list.parse_timestamps().map_err(|e| sct_error(format!("malformed SCT list: {e:?}")))?;

    let mut precert = cert.tbs_certificate.clone();
    precert.extensions =
        precert.extensions.map(|exts| exts.into_iter().filter(|ext| ext.extn_id != SCT_LIST_OID).collect());
    let precert_der = precert.to_der().map_err(|e| sct_error(format!("cannot rebuild the precertificate: {e}")))?;
    let tbs_len = u32::try_from(precert_der.len())
        .ok()
        .filter(|len| *len < 1 << 24)
        .ok_or_else(|| sct_error("certificate too large".into()))?;
    let issuer_key_hash = sigstore_crypto::sha256(issuer_spki);

    let mut reasons = Vec::new();
    for serialized in &scts {
        let sct = match serialized.parse_timestamp() {
            Ok(sct) => sct,
            Err(e) => {
                reasons.push(format!("malformed SCT: {e:?}"));
                continue;
            }
        };
        let log_id = Sha256Hash::new(sct.log_id.key_id);
        if !root.root.ctlogs.iter().any(|log| log.log_id.key_id.as_bytes() == sct.log_id.key_id) {
            reasons.push(format!("unknown CT log {}", log_id.to_hex()));
            continue;
        }
        let Some(at) = i64::try_from(sct.timestamp).ok().and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
        else {
            reasons.push("timestamp out of range".into());
            continue;
        };
        if at < info.not_before || at > info.not_after {
            reasons.push(format!(
                "logged at {at}, outside the certificate's validity ({} to {})",
                info.not_before, info.not_after
            ));
            continue;
        }
        let scheme = match (sct.signature.algorithm.hash, sct.signature.algorithm.signature) {
            (SctHash::Sha256, SctSig::Ecdsa) => SigningScheme::EcdsaP256Sha256,
            (SctHash::Sha384, SctSig::Ecdsa) => SigningScheme::EcdsaP384Sha384,
            (SctHash::Sha256, SctSig::Rsa) => SigningScheme::RsaPkcs1Sha256,
            (SctHash::Sha384, SctSig::Rsa) => SigningScheme::RsaPkcs1Sha384,
            (SctHash::Sha512, SctSig::Rsa) => SigningScheme::RsaPkcs1Sha512,
            (hash, sig) => {
                reasons.push(format!("unsupported algorithm {sig:?} with {hash:?}"));
                continue;
            }
        };
        // RFC 6962 section 3.2 digitally-signed struct for a precertificate entry.
        let mut signed = Vec::with_capacity(precert_der.len() + 64);
        signed.push(0); // version v1
        signed.push(0); // signature_type certificate_timestamp
        signed.extend_from_slice(&sct.timestamp.to_be_bytes());
        signed.extend_from_slice(&1u16.to_be_bytes()); // entry_type precert_entry
        signed.extend_from_slice(issuer_key_hash.as_bytes());
        signed.extend_from_slice(&tbs_len.to_be_bytes()[1..]);
        signed.extend_from_slice(&precert_der);
        let extensions = sct.extensions.as_slice();
        let Ok(ext_len) = u16::try_from(extensions.len()) else {
            reasons.push("extensions too long".into());
            continue;
        };
        signed.extend_from_slice(&ext_len.to_be_bytes());
        signed.extend_from_slice(extensions);

        let keyring = match root.root.ctfe_keys(scheme) {
            Ok(keyring) => keyring,
            Err(e) => {
                reasons.push(format!("CT log keys: {e}"));
                continue;
            }
        };
        let signature = SignatureBytes::new(sct.signature.signature.as_slice().to_vec());
        match keyring.verify_with_key_id_at(&log_id, at, &signed, &signature) {
            Ok(()) => return Ok(()),
            Err(e) => reasons.push(format!("log {}: {e}", log_id.to_hex())),
        }
    }
    if reasons.is_empty() {
        reasons.push("the SCT list is empty".into());
    }
    Err(sct_error(reasons.join("; ")))
}

/// The ECDSA signature over the SHA-256 the caller computed.
fn verify_prehashed(
    info: &CertificateInfo,
    sha256: &[u8; 32],
    signature: &SignatureBytes,
) -> Result<(), SignatureError> {
    let scheme = match info.key_algorithm {
        KeyAlgorithm::EcdsaP256 => SigningScheme::EcdsaP256Sha256,
        KeyAlgorithm::EcdsaP384 => SigningScheme::EcdsaP384Sha256,
        other => return Err(SignatureError::UnsupportedKey(format!("{other:?} (want ECDSA)"))),
    };
    let key = VerificationKey::from_spki_with_scheme(&info.public_key, scheme)
        .map_err(|e| SignatureError::UnsupportedKey(e.to_string()))?;
    key.verify_prehashed(sha256, signature).map_err(|source| SignatureError::Signature { source })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file of the shared test vectors (tests run in the package root).
    fn vector(rel: &str) -> Vec<u8> {
        let path = Path::new("../shared/testvectors").join(rel);
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    struct Pair {
        sig: Vec<u8>,
        cert: Vec<u8>,
        digest: [u8; 32],
    }

    fn v01() -> Pair {
        Pair {
            sig: vector("detached-fulcio/a.txt.v0.1.sig"),
            cert: vector("detached-fulcio/a.txt.v0.1.cert"),
            digest: sha256(&vector("detached-fulcio/a.txt")),
        }
    }
    const BEACON: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
    const GITHUB: &str = "https://token.actions.githubusercontent.com";

    fn beacon() -> Policy {
        Policy { identity: IdentityMatcher::Exact(BEACON.into()), issuer: GITHUB.into() }
    }

    fn sha256(bytes: &[u8]) -> [u8; 32] {
        use sha2::Digest as _;
        sha2::Sha256::digest(bytes).into()
    }

    /// xorshift bytes: deterministic, different per seed.
    fn noise(seed: u64, len: usize) -> Vec<u8> {
        let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    #[test]
    fn a_real_fulcio_pair_verifies_with_its_identity() {
        let (p, root) = (v01(), TrustRoot::production().unwrap());
        let evidence = verify_detached(&p.digest, &p.sig, &p.cert, &beacon(), &root).unwrap();
        assert_eq!(evidence.kind, "cosign-detached");
        assert_eq!(evidence.identity, BEACON);
        assert!(evidence.chain && evidence.sct && !evidence.tlog);
    }

    #[test]
    fn a_regexp_must_match_the_whole_identity() {
        let (p, root) = (v01(), TrustRoot::production().unwrap());
        let whole = Policy {
            identity: IdentityMatcher::regexp("https://github.com/sigstore-conformance/.*").unwrap(),
            issuer: GITHUB.into(),
        };
        verify_detached(&p.digest, &p.sig, &p.cert, &whole, &root).unwrap();
        let part = Policy { identity: IdentityMatcher::regexp("sigstore-conformance").unwrap(), issuer: GITHUB.into() };
        let err = verify_detached(&p.digest, &p.sig, &p.cert, &part, &root).unwrap_err();
        assert!(matches!(err, SignatureError::Identity { .. }), "{err}");
    }

    #[test]
    fn the_kubernetes_identity_is_refused_saying_expected_and_found() {
        let (p, root) = (v01(), TrustRoot::production().unwrap());
        let err = verify_detached(&p.digest, &p.sig, &p.cert, &Policy::kubernetes(), &root).unwrap_err();
        let text = err.to_string();
        assert!(text.contains(&format!("expected {KUBERNETES_IDENTITY}")) && text.contains(BEACON), "{text}");
    }

    #[test]
    fn another_digest_is_a_bad_signature() {
        let (p, root) = (v01(), TrustRoot::production().unwrap());
        let err = verify_detached(&sha256(b"b\n"), &p.sig, &p.cert, &beacon(), &root).unwrap_err();
        assert!(matches!(err, SignatureError::Signature { .. }), "{err}");
    }

    /// A bundle file as one JSON line, as attestation files hold them.
    fn one_line(rel: &str) -> Vec<u8> {
        let value: serde_json::Value = serde_json::from_slice(&vector(rel)).unwrap();
        serde_json::to_vec(&value).unwrap()
    }

    fn attestations() -> Vec<u8> {
        let bv = "sigstore-conformance/bundle-verify";
        let mut jsonl = one_line(&format!("{bv}/happy-path-v0.3/bundle.sigstore.json"));
        jsonl.extend(b"\n\n");
        jsonl.extend(one_line(&format!("{bv}/happy-path-intoto-in-dsse-v3/bundle.sigstore.json")));
        jsonl.push(b'\n');
        jsonl
    }

    #[test]
    fn an_attestation_line_naming_the_artifact_verifies() {
        let (p, root) = (v01(), TrustRoot::production().unwrap());
        let evidence = verify_intoto_jsonl(&p.digest, "a.txt", &attestations(), &beacon(), &root).unwrap();
        assert_eq!((evidence.kind, evidence.tlog, evidence.identity.as_str()), ("bundle", true, BEACON));
        assert!(evidence.signed_at.is_some());
    }

    #[test]
    fn attestations_for_another_name_digest_or_signer_are_refused() {
        let (p, root) = (v01(), TrustRoot::production().unwrap());
        let jsonl = attestations();
        let err = verify_intoto_jsonl(&p.digest, "b.txt", &jsonl, &beacon(), &root).unwrap_err();
        assert!(err.to_string().contains("no attestation for b.txt verifies (2 lines)"), "{err}");
        assert!(verify_intoto_jsonl(&sha256(b"b\n"), "a.txt", &jsonl, &beacon(), &root).is_err());
        let err = verify_intoto_jsonl(&p.digest, "a.txt", &jsonl, &Policy::kubernetes(), &root).unwrap_err();
        assert!(err.to_string().contains(&format!("expected {KUBERNETES_IDENTITY}")), "{err}");
        // A message signature over the digest is not an attestation that names it.
        let message_only = one_line("sigstore-conformance/bundle-verify/happy-path-v0.3/bundle.sigstore.json");
        assert!(verify_intoto_jsonl(&p.digest, "a.txt", &message_only, &beacon(), &root).is_err());
        assert!(verify_intoto_jsonl(&p.digest, "a.txt", b"\n \n", &beacon(), &root).is_err());
    }

    #[test]
    fn hostile_detached_bytes_never_panic() {
        let (p, root) = (v01(), TrustRoot::production().unwrap());
        let (sig, cert, digest) = (p.sig.as_slice(), p.cert.as_slice(), p.digest);
        let cert_pem = base64::engine::general_purpose::STANDARD.decode(cert.trim_ascii()).unwrap();
        let mut inputs: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        for len in [0, 1, 2, 3, 4, 7, 8, 64, 100, 1000] {
            inputs.push((noise(len as u64, len), cert.to_vec()));
            inputs.push((sig.to_vec(), noise(len as u64 + 7, len)));
            let b64 = base64::engine::general_purpose::STANDARD.encode(noise(len as u64 + 9, len));
            inputs.push((b64.clone().into_bytes(), b64.into_bytes()));
        }
        // Every truncation of both files, and of the PEM inside the certificate.
        for cut in 0..sig.len() {
            inputs.push((sig[..cut].to_vec(), cert.to_vec()));
        }
        for cut in (0..cert.len()).step_by(7) {
            inputs.push((sig.to_vec(), cert[..cut].to_vec()));
        }
        for cut in (0..cert_pem.len()).step_by(11) {
            inputs.push((sig.to_vec(), cert_pem[..cut].to_vec()));
        }
        // Bytes flipped inside the DER certificate, re-wrapped as a valid PEM.
        let der = DerCertificate::from_pem(std::str::from_utf8(&cert_pem).unwrap()).unwrap();
        for i in (0..der.as_bytes().len()).step_by(13) {
            let mut bad = der.as_bytes().to_vec();
            bad[i] ^= 0x5a;
            inputs.push((sig.to_vec(), DerCertificate::new(bad).to_pem().into_bytes()));
        }
        for (bad_sig, bad_cert) in &inputs {
            assert!(verify_detached(&digest, bad_sig, bad_cert, &beacon(), &root).is_err());
        }
    }

    #[test]
    fn hostile_bundle_bytes_never_panic() {
        let root = TrustRoot::production().unwrap();
        let digest = v01().digest;
        let bundle = &vector("sigstore-conformance/bundle-verify/happy-path-v0.3/bundle.sigstore.json")[..];
        verify_bundle(&digest, bundle, &beacon(), &root).unwrap();
        for cut in (0..bundle.len()).step_by(17) {
            assert!(verify_bundle(&digest, &bundle[..cut], &beacon(), &root).is_err());
            assert!(verify_intoto_jsonl(&digest, "a.txt", &bundle[..cut], &beacon(), &root).is_err());
        }
        for seed in 0..50 {
            let mut bad = bundle.to_vec();
            let at = (seed * 7919) % bad.len();
            bad[at] = noise(seed as u64, 1)[0];
            let _ = verify_bundle(&digest, &bad, &beacon(), &root);
            assert!(verify_bundle(&digest, &noise(seed as u64, seed * 31), &beacon(), &root).is_err());
            assert!(verify_bundle_with_key(&digest, bundle, &noise(seed as u64, seed), &root).is_err());
        }
        assert!(TrustRoot::from_json("noise", "{\"mediaType\": 3}").is_err());
    }
}
