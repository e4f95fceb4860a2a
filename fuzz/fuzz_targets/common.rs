//! What the signature targets share: the embedded production trust root (loaded once)
//! and the identity that signed the Sigstore conformance vectors the seeds come from,
//! so that mutated inputs reach past the identity check into the cryptography.

#![allow(dead_code)]

use std::sync::OnceLock;

use kverify::signature::{IdentityMatcher, Policy, TrustRoot};

pub const CONFORMANCE_IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
pub const CONFORMANCE_ISSUER: &str = "https://token.actions.githubusercontent.com";

pub fn root() -> &'static TrustRoot {
    static ROOT: OnceLock<TrustRoot> = OnceLock::new();
    ROOT.get_or_init(|| TrustRoot::production().expect("the embedded trusted root loads"))
}

pub fn policy() -> Policy {
    Policy { identity: IdentityMatcher::Exact(CONFORMANCE_IDENTITY.into()), issuer: CONFORMANCE_ISSUER.into() }
}

/// Splits `data` into a 32-byte SHA-256 and the rest.
pub fn take_sha256(data: &[u8]) -> Option<([u8; 32], &[u8])> {
    let (sha, rest) = data.split_at_checked(32)?;
    Some((sha.try_into().ok()?, rest))
}

/// Splits `data` into a part whose length is the first two bytes (little-endian) and
/// the rest.
pub fn take_u16_prefixed(data: &[u8]) -> Option<(&[u8], &[u8])> {
    let (len, rest) = data.split_at_checked(2)?;
    let len = usize::from(u16::from_le_bytes([len[0], len[1]]));
    rest.split_at_checked(len)
}
