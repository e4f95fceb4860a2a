//! What the run trusts: whether signatures are checked, who must have made them, and the
//! Sigstore trust root they chain to.

use crate::signature::{IdentityMatcher, Policy};
use crate::trust::TrustConfig;

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

/// The signature policy, the command line's overrides of the catalog's signer, and
/// where the trust root comes from.
#[derive(Clone, Debug)]
pub struct TrustOptions {
    pub policy: SignaturePolicy,
    /// `--certificate-identity` or `--certificate-identity-regexp` (compiled once).
    pub identity: Option<IdentityMatcher>,
    /// `--certificate-oidc-issuer`.
    pub issuer: Option<String>,
    /// `--trusted-root FILE`, else the TUF cache, else the built-in root.
    pub config: TrustConfig,
    /// `--keyring FILE`: the OpenPGP keyring every `pgp` signature must be made by,
    /// instead of the one the catalog names.
    pub keyring: Option<std::path::PathBuf>,
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
