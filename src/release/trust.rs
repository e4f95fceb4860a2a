//! What the run trusts: whether signatures are checked, who must have made them, and the
//! Sigstore trust root they chain to.

use std::path::PathBuf;

use crate::signature::{IdentityMatcher, Policy, SignatureError, TrustRoot};

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

/// The signature policy and the command line's overrides of the catalog's signer and
/// trust root.
#[derive(Clone, Debug, Default)]
pub struct TrustOptions {
    pub policy: SignaturePolicy,
    /// `--certificate-identity` or `--certificate-identity-regexp` (compiled once).
    pub identity: Option<IdentityMatcher>,
    /// `--certificate-oidc-issuer`.
    pub issuer: Option<String>,
    /// `--trusted-root FILE`.
    pub trusted_root: Option<PathBuf>,
}

impl TrustOptions {
    /// Who must have signed: the catalog's identity and issuer, unless the command line
    /// names others.
    pub fn policy_for(&self, identity: &str, issuer: &str) -> Policy {
        Policy {
            identity: self.identity.clone().unwrap_or_else(|| IdentityMatcher::Exact(identity.to_string())),
            issuer: self.issuer.clone().unwrap_or_else(|| issuer.to_string()),
        }
    }
}

/// The trust root: `--trusted-root FILE`, else the embedded Sigstore public-good one.
pub fn load_root(trust: &TrustOptions) -> Result<TrustRoot, SignatureError> {
    match &trust.trusted_root {
        Some(path) => TrustRoot::from_file(path),
        None => TrustRoot::production(),
    }
}
