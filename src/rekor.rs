//! Transparency-log proof for a detached pair, captured once online and kept as a
//! standard Sigstore v0.3 bundle that verifies offline forever after.
//!
//! Kubernetes publishes `X.sig`/`X.cert` with no Rekor proof. While `lock` or `mirror`
//! runs online, kverify asks Rekor v1 for the pair's `hashedrekord` entry, builds a
//! bundle from pair + entry, verifies it (SET, inclusion proof, checkpoint, signing time
//! inside the certificate's validity) and only then keeps it.

use base64::Engine as _;
use sha2::Digest as _;
use sigstore_bundle::BundleV03;
use sigstore_rekor::LogEntry;
use sigstore_types::{EntryUuid, KindVersion, Sha256Hash};

use crate::signature::SignatureEvidence;
use crate::signature::{self, Policy, SignatureError, TrustRoot};
use crate::status::ExitStatus;
use crate::transport::{Transport, TransportError};

/// The most bytes of a Rekor answer kverify reads.
const MAX_ANSWER: u64 = 4 * 1024 * 1024;

/// Why no proof could be kept.
#[derive(Debug, thiserror::Error)]
pub enum RekorError {
    #[error("cannot ask the transparency log {url}")]
    Unreachable {
        url: String,
        #[source]
        source: TransportError,
    },
    #[error("{url}: not a Rekor v1 answer ({reason})")]
    Malformed { url: String, reason: String },
    #[error("transparency-log entry {uuid} is not the entry of this signature and certificate")]
    NotThisPair { uuid: String },
    #[error("transparency-log entry {uuid} does not verify")]
    Invalid {
        uuid: String,
        #[source]
        source: Box<SignatureError>,
    },
    #[error("cannot read the signature or certificate for the transparency-log lookup")]
    Pair(#[source] Box<SignatureError>),
}

impl RekorError {
    /// Unreachable or failing logs are "retry later"; anything else is evidence that
    /// does not hold.
    pub fn exit_status(&self) -> ExitStatus {
        match self {
            RekorError::Unreachable { source, .. } if !source.is_verification_failure() => ExitStatus::Io,
            _ => ExitStatus::Failed,
        }
    }
}

/// A verified proof: the bundle to keep and what it established.
#[derive(Clone, Debug)]
pub struct Captured {
    pub bundle_json: String,
    pub evidence: SignatureEvidence,
    pub uuid: String,
}

/// Why there is no proof, when none was found (not an error: the log may not hold it).
pub const NOT_FOUND: &str =
    "no tlog proof: no Rekor v1 entry for this pair (Rekor v2 has no lookup; a bundle is needed)";

/// A decoded `.sig`/`.cert` pair and the entry a cosign upload of it proposed.
struct Pair {
    signature: sigstore_types::SignatureBytes,
    certificate: sigstore_types::DerCertificate,
    proposed: String,
}

impl Pair {
    fn decode(sha256: &[u8; 32], sig_file: &[u8], cert_file: &[u8]) -> Result<Pair, RekorError> {
        let signature = signature::decode_signature(sig_file).map_err(|e| RekorError::Pair(Box::new(e)))?;
        let certificate = signature::decode_certificate(cert_file).map_err(|e| RekorError::Pair(Box::new(e)))?;
        let proposed = proposed_entry(sha256, signature.as_bytes(), certificate.as_bytes());
        Ok(Pair { signature, certificate, proposed })
    }
}

/// Looks the pair up in Rekor v1 at `rekor_url` and returns a verified bundle, or
/// `Ok(None)` when the log holds no entry for it. With several entries, the earliest
/// that verifies wins.
pub fn capture(
    transport: &Transport,
    rekor_url: &str,
    sha256: &[u8; 32],
    sig_file: &[u8],
    cert_file: &[u8],
    policy: &Policy,
    root: &TrustRoot,
) -> Result<Option<Captured>, RekorError> {
    let pair = Pair::decode(sha256, sig_file, cert_file)?;
    let base = rekor_url.trim_end_matches('/');

    let mut entries = retrieve(transport, base, &pair.proposed)?;
    if entries.is_empty() {
        entries = by_uuid(transport, base, &pair.proposed)?;
    }
    choose(base, entries, &pair, sha256, policy, root)
}

/// What [`capture`] does with one answer from Rekor, without the network: `answer` is
/// the body of `POST /api/v1/log/entries/retrieve` (a list) or of
/// `GET /api/v1/log/entries/{uuid}` (an object). For the fuzz target and tests.
#[doc(hidden)]
pub fn capture_from_answer(
    answer: &[u8],
    sha256: &[u8; 32],
    sig_file: &[u8],
    cert_file: &[u8],
    policy: &Policy,
    root: &TrustRoot,
) -> Result<Option<Captured>, RekorError> {
    let pair = Pair::decode(sha256, sig_file, cert_file)?;
    let url = "answer";
    let entries = match answer.trim_ascii_start().first() {
        Some(b'[') => parse_list(url, answer)?,
        _ => parse_map(url, answer)?,
    };
    choose(url, entries, &pair, sha256, policy, root)
}

/// The earliest of `entries` that is this pair's entry and verifies, as a bundle.
#[allow(clippy::too_many_arguments)]
fn choose(
    base: &str,
    mut entries: Vec<LogEntry>,
    pair: &Pair,
    sha256: &[u8; 32],
    policy: &Policy,
    root: &TrustRoot,
) -> Result<Option<Captured>, RekorError> {
    if entries.is_empty() {
        return Ok(None);
    }
    let wanted: serde_json::Value = serde_json::from_str(&pair.proposed).unwrap_or_default();
    entries.sort_by_key(|e| e.integrated_time);
    let mut first_error = None;
    for entry in entries {
        let uuid = entry.uuid.to_string();
        let body: Option<serde_json::Value> = serde_json::from_slice(entry.body.as_bytes()).ok();
        if body.as_ref() != Some(&wanted) {
            first_error.get_or_insert(RekorError::NotThisPair { uuid });
            continue;
        }
        let result = to_bundle(&entry, &pair.certificate, &pair.signature, sha256).and_then(|json| {
            let evidence = signature::verify_bundle(sha256, json.as_bytes(), policy, root)
                .map_err(|e| RekorError::Invalid { uuid: uuid.clone(), source: Box::new(e) })?;
            Ok(Captured { bundle_json: json, evidence, uuid: uuid.clone() })
        });
        match result {
            Ok(captured) if captured.evidence.tlog => return Ok(Some(captured)),
            Ok(_) => {
                let source =
                    Box::new(SignatureError::Certificate { reason: "the bundle's tlog was not checked".into() });
                first_error.get_or_insert(RekorError::Invalid { uuid, source });
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(first_error.unwrap_or(RekorError::Malformed { url: base.to_string(), reason: "no entry".into() }))
}

/// The `hashedrekord` 0.0.1 entry a cosign upload of this pair proposed, as canonical
/// JSON (keys sorted, no spaces): the certificate as PEM with LF line ends.
fn proposed_entry(sha256: &[u8; 32], signature: &[u8], certificate_der: &[u8]) -> String {
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let pem = pem_of(certificate_der);
    format!(
        r#"{{"apiVersion":"0.0.1","kind":"hashedrekord","spec":{{"data":{{"hash":{{"algorithm":"sha256","value":"{}"}}}},"signature":{{"content":"{}","publicKey":{{"content":"{}"}}}}}}}}"#,
        hex::encode(sha256),
        b64(signature),
        b64(pem.as_bytes())
    )
}

fn pem_of(der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(chunk));
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    pem
}

/// The entry's UUID: the Merkle leaf hash of its canonical body.
fn leaf_uuid(canonical_body: &str) -> String {
    let mut h = sha2::Sha256::new();
    h.update([0u8]);
    h.update(canonical_body.as_bytes());
    hex::encode(h.finalize())
}

/// `POST /api/v1/log/entries/retrieve` with the proposed entry.
fn retrieve(transport: &Transport, base: &str, proposed: &str) -> Result<Vec<LogEntry>, RekorError> {
    let url = format!("{base}/api/v1/log/entries/retrieve");
    let query = format!(r#"{{"entries":[{proposed}]}}"#);
    match transport.post_json(&url, &query, MAX_ANSWER) {
        Ok(bytes) => parse_list(&url, &bytes),
        Err(TransportError::Status { status: 404, .. }) => Ok(Vec::new()),
        Err(source) => Err(RekorError::Unreachable { url, source }),
    }
}

/// `GET /api/v1/log/entries/{uuid}`, the UUID computed here.
fn by_uuid(transport: &Transport, base: &str, proposed: &str) -> Result<Vec<LogEntry>, RekorError> {
    let url = format!("{base}/api/v1/log/entries/{}", leaf_uuid(proposed));
    match transport.get_small(&url, MAX_ANSWER) {
        Ok(bytes) => parse_map(&url, &bytes),
        Err(TransportError::Status { status: 404, .. }) => Ok(Vec::new()),
        Err(source) => Err(RekorError::Unreachable { url, source }),
    }
}

/// The answer to `retrieve`: a list of `{entryID: entry}` objects.
fn parse_list(url: &str, bytes: &[u8]) -> Result<Vec<LogEntry>, RekorError> {
    let list: Vec<serde_json::Map<String, serde_json::Value>> =
        serde_json::from_slice(bytes).map_err(|e| malformed(url, e))?;
    list.into_iter().map(|m| entries_of(url, m)).collect::<Result<Vec<_>, _>>().map(|v| v.concat())
}

/// The answer to a get by UUID: one `{entryID: entry}` object.
fn parse_map(url: &str, bytes: &[u8]) -> Result<Vec<LogEntry>, RekorError> {
    let map: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(bytes).map_err(|e| malformed(url, e))?;
    entries_of(url, map)
}

/// `{entryID: entry, ...}` → entries with their IDs.
fn entries_of(url: &str, map: serde_json::Map<String, serde_json::Value>) -> Result<Vec<LogEntry>, RekorError> {
    map.into_iter()
        .map(|(id, value)| {
            let mut entry: LogEntry = serde_json::from_value(value).map_err(|e| malformed(url, e))?;
            entry.uuid = EntryUuid::new(id);
            Ok(entry)
        })
        .collect()
}

fn malformed(url: &str, e: impl std::fmt::Display) -> RekorError {
    RekorError::Malformed { url: url.to_string(), reason: e.to_string() }
}

/// Pair + entry → a Sigstore v0.3 bundle (JSON).
fn to_bundle(
    entry: &LogEntry,
    certificate: &sigstore_types::DerCertificate,
    signature: &sigstore_types::SignatureBytes,
    sha256: &[u8; 32],
) -> Result<String, RekorError> {
    let uuid = entry.uuid.to_string();
    let invalid = |e: String| RekorError::Invalid {
        uuid: uuid.clone(),
        source: Box::new(SignatureError::Certificate { reason: e }),
    };
    let tlog = entry.to_bundle_entry(KindVersion::HashedRekordV001).map_err(|e| invalid(e.to_string()))?;
    let bundle =
        BundleV03::with_certificate_and_signature(certificate.clone(), signature.clone(), Sha256Hash::new(*sha256))
            .with_tlog_entry(tlog)
            .into_bundle();
    bundle.to_json().map_err(|e| invalid(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const VECTORS: &str = "../shared/testvectors";

    #[test]
    fn the_proposed_entry_is_byte_for_byte_the_logged_body() {
        let dir = std::path::Path::new(VECTORS);
        let Ok(answer) = std::fs::read(dir.join("rekor-v1/a.txt.v0.3.rekor.json")) else {
            panic!("test vectors missing at {VECTORS}");
        };
        let map: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&answer).unwrap();
        let (id, entry) = map.into_iter().next().unwrap();
        let body = base64::engine::general_purpose::STANDARD.decode(entry["body"].as_str().unwrap()).unwrap();
        let sig = std::fs::read(dir.join("detached-fulcio/a.txt.v0.3.sig")).unwrap();
        let cert = std::fs::read(dir.join("detached-fulcio/a.txt.v0.3.cert")).unwrap();
        let sha256: [u8; 32] = sha2::Sha256::digest(std::fs::read(dir.join("detached-fulcio/a.txt")).unwrap()).into();
        let signature = signature::decode_signature(&sig).unwrap();
        let certificate = signature::decode_certificate(&cert).unwrap();
        let proposed = proposed_entry(&sha256, signature.as_bytes(), certificate.as_bytes());
        assert_eq!(proposed, String::from_utf8(body).unwrap());
        assert!(id.ends_with(&leaf_uuid(&proposed)), "entry ID {id} ends with the UUID computed locally");
    }

    #[test]
    fn an_answer_without_the_network_keeps_the_real_entry_and_refuses_each_broken_one() {
        let dir = std::path::Path::new(VECTORS);
        let read = |p: &str| std::fs::read(dir.join(p)).unwrap_or_else(|e| panic!("{p}: {e}"));
        let (sig, cert) = (read("detached-fulcio/a.txt.v0.3.sig"), read("detached-fulcio/a.txt.v0.3.cert"));
        let sha256: [u8; 32] = sha2::Sha256::digest(read("detached-fulcio/a.txt")).into();
        let policy = Policy {
            identity: signature::IdentityMatcher::Exact(
                "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main".into(),
            ),
            issuer: "https://token.actions.githubusercontent.com".into(),
        };
        let root = TrustRoot::production().unwrap();
        let answer = read("rekor-v1/a.txt.v0.3.rekor.json");
        let captured = capture_from_answer(&answer, &sha256, &sig, &cert, &policy, &root).unwrap().unwrap();
        assert!(captured.evidence.tlog);
        let mut list = b"[".to_vec();
        list.extend_from_slice(&answer);
        list.push(b']');
        assert!(capture_from_answer(&list, &sha256, &sig, &cert, &policy, &root).unwrap().is_some());
        assert!(capture_from_answer(b"{}", &sha256, &sig, &cert, &policy, &root).unwrap().is_none());
        for entry in std::fs::read_dir(dir.join("rekor-v1/negative")).unwrap() {
            let path = entry.unwrap().path();
            let answer = std::fs::read(&path).unwrap();
            let result = capture_from_answer(&answer, &sha256, &sig, &cert, &policy, &root);
            assert!(!matches!(result, Ok(Some(_))), "{} was kept", path.display());
        }
    }
}
