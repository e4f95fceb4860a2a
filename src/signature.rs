//! Placeholder until the signatures capability lands (issue 4): the API the fetch
//! pipeline calls, refusing every signature so nothing passes unchecked.

use std::path::Path;

use crate::report::SignatureEvidence;

#[derive(Debug, thiserror::Error)]
pub enum SignatureError {
    #[error("signature verification is not built into this kverify yet")]
    NotBuilt,
}

pub struct TrustRoot;

impl TrustRoot {
    pub fn production() -> Result<TrustRoot, SignatureError> {
        Ok(TrustRoot)
    }
    pub fn from_file(_path: &Path) -> Result<TrustRoot, SignatureError> {
        Ok(TrustRoot)
    }
}

pub enum IdentityMatcher {
    Exact(String),
}

pub struct Policy {
    pub identity: IdentityMatcher,
    pub issuer: String,
}

pub fn verify_detached(
    _sha256: &[u8; 32],
    _sig_file: &[u8],
    _cert_file: &[u8],
    _policy: &Policy,
    _root: &TrustRoot,
) -> Result<SignatureEvidence, SignatureError> {
    Err(SignatureError::NotBuilt)
}

pub fn verify_intoto_jsonl(
    _sha256: &[u8; 32],
    _artifact_name: &str,
    _jsonl: &[u8],
    _policy: &Policy,
    _root: &TrustRoot,
) -> Result<SignatureEvidence, SignatureError> {
    Err(SignatureError::NotBuilt)
}
