//! Who made an artifact, and what a check of that established: Sigstore (cosign
//! detached pairs, bundles, in-toto attestations) in [`sigstore`].

pub mod openpgp;
mod sigstore;

use std::path::{Path, PathBuf};

use serde::Serialize;

pub use sigstore::*;

/// What a signature check established. Booleans say which checks passed; a check that
/// could not run is `false` and the report says why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SignatureEvidence {
    /// `cosign-detached`, `bundle` or `pgp`.
    pub kind: &'static str,
    /// The signer: the certificate's SAN (Sigstore) or the key's user ID (OpenPGP).
    pub identity: String,
    /// The OIDC issuer the certificate names (Sigstore only).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub issuer: String,
    /// The fingerprint of the OpenPGP key that signed (its primary key).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    pub chain: bool,
    pub sct: bool,
    pub tlog: bool,
    /// RFC 3339 time of signing: from the transparency log or a timestamp, or the
    /// OpenPGP signature's creation time.
    pub signed_at: Option<String>,
    /// What was not checked and why (`tlog: not checked (no bundle)`), or what the
    /// signer's key has become since (expired).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl SignatureEvidence {
    /// Who signed, in one phrase: `krel-staging@… (cosign-detached, issuer https://…)`,
    /// `Jane <jane@example.org> (pgp, key 0123…)`.
    pub fn signer(&self) -> String {
        match &self.fingerprint {
            Some(fingerprint) => format!("{} ({}, key {fingerprint})", self.identity, self.kind),
            None => format!("{} ({}, issuer {})", self.identity, self.kind, self.issuer),
        }
    }

    /// Which checks passed, in one line.
    pub fn checks(&self) -> String {
        let mark = |ok: bool| if ok { "ok" } else { "no" };
        let mut checks = match self.fingerprint {
            Some(_) => "key in the keyring and valid when it signed: ok, signature: ok".to_string(),
            None => format!("chain: {}, sct: {}, identity: ok, signature: ok", mark(self.chain), mark(self.sct)),
        };
        checks.push_str(if self.tlog { ", tlog: ok" } else { "" });
        if let Some(at) = &self.signed_at {
            checks.push_str(&format!(", signed at {at}"));
        }
        checks
    }

    /// What an OpenPGP signature established: the signer's user ID and fingerprint, when
    /// it signed, and whether the key has expired since.
    pub fn pgp(s: &openpgp::PgpSignature) -> SignatureEvidence {
        let mut notes = Vec::new();
        if s.signing_key != s.fingerprint {
            notes.push(format!("signed with subkey {}", s.signing_key));
        }
        if let Some(expired) = s.expired_since {
            notes.push(format!("the key has expired since, on {expired}: it was valid when it signed"));
        }
        SignatureEvidence {
            kind: openpgp::PgpSignature::KIND,
            identity: s.user_id.clone(),
            issuer: String::new(),
            fingerprint: Some(s.fingerprint.clone()),
            chain: false,
            sct: false,
            tlog: false,
            signed_at: Some(s.signed_at.to_string()),
            notes,
        }
    }
}

/// How a signature stood when the artifact was verified.
#[derive(Clone, Debug)]
pub enum SignatureCheck {
    /// Verified, with what it established.
    Verified(SignatureEvidence),
    /// Not checked, and why that is acceptable under the policy (none published,
    /// `--insecure-skip-signature`, a lock pin).
    NotRequired(String),
}

/// Why a signature's time did not fit its certificate, in words, when the verification
/// library's message says so (it reports certificate times in its own words).
pub fn time_hint(chain: &str) -> Option<String> {
    if chain.contains("CertExpired") {
        Some("the signing time the log or timestamp proves is after the certificate expired".into())
    } else if chain.contains("CertNotValidYet") {
        Some("the signing time the log or timestamp proves is before the certificate was issued".into())
    } else {
        None
    }
}

/// A signature given on the command line (`verify --bundle`, `--signature` with
/// `--certificate`), read once, checked against each file's SHA-256.
pub enum Given {
    Bundle { path: PathBuf, json: Vec<u8>, key: Option<Vec<u8>> },
    Detached { sig_path: PathBuf, sig: Vec<u8>, cert_path: PathBuf, cert: Vec<u8> },
}

/// A given signature with who must have made it and what it chains to.
pub struct Signer {
    pub given: Given,
    /// The pinned identity and issuer; `None` for a managed-key bundle (`--key`).
    pub policy: Option<Policy>,
    pub root: TrustRoot,
}

impl Given {
    /// Reads a bundle (and the managed key that signed it, if any).
    pub fn bundle(path: &Path, key: Option<&Path>) -> Result<Given, SignatureError> {
        Ok(Given::Bundle {
            path: path.to_path_buf(),
            json: read_evidence(path, MAX_BUNDLE_LEN)?,
            key: key.map(|k| read_evidence(k, MAX_DETACHED_LEN)).transpose()?,
        })
    }

    /// Reads a cosign detached pair.
    pub fn detached(sig: &Path, cert: &Path) -> Result<Given, SignatureError> {
        Ok(Given::Detached {
            sig_path: sig.to_path_buf(),
            sig: read_evidence(sig, MAX_DETACHED_LEN)?,
            cert_path: cert.to_path_buf(),
            cert: read_evidence(cert, MAX_DETACHED_LEN)?,
        })
    }

    /// Which files the evidence came from, for the report.
    pub fn files(&self) -> String {
        match self {
            Given::Bundle { path, .. } => format!("bundle {}", path.display()),
            Given::Detached { sig_path, cert_path, .. } => {
                format!("signature {}, certificate {}", sig_path.display(), cert_path.display())
            }
        }
    }
}

impl Signer {
    /// Checks the given signature over a file's SHA-256.
    pub fn check(&self, sha256: &[u8; 32]) -> Result<SignatureEvidence, SignatureError> {
        match (&self.given, &self.policy) {
            (Given::Bundle { json, key: Some(key), .. }, _) => verify_bundle_with_key(sha256, json, key, &self.root),
            (Given::Bundle { json, .. }, Some(policy)) => verify_bundle(sha256, json, policy, &self.root),
            (Given::Detached { sig, cert, .. }, Some(policy)) => verify_detached(sha256, sig, cert, policy, &self.root),
            // The plan pins a signer whenever there is no key.
            (_, None) => Err(SignatureError::Identity { expected: "a pinned identity".into(), found: "none".into() }),
        }
    }
}

/// Reads a signature, certificate, key or bundle: unreadable is an I/O error (exit 3),
/// oversized is malformed evidence (exit 1).
fn read_evidence(path: &Path, cap: u64) -> Result<Vec<u8>, SignatureError> {
    use std::io::Read as _;
    let unreadable = |source| SignatureError::Unreadable { file: path.display().to_string(), source };
    let file = std::fs::File::open(path).map_err(unreadable)?;
    let mut bytes = Vec::new();
    file.take(cap + 1).read_to_end(&mut bytes).map_err(unreadable)?;
    if bytes.len() as u64 > cap {
        return Err(SignatureError::TooLarge { file: path.display().to_string(), cap });
    }
    Ok(bytes)
}
