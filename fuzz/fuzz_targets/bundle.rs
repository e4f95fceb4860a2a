//! A Sigstore bundle (`.sigstore.json`, v0.1 to v0.3, message signature or DSSE) from
//! an untrusted server, verified offline against the production trust root.
//! Input: the artifact's SHA-256 (32 bytes), then the bundle.

#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((sha256, bundle)) = common::take_sha256(data) else { return };
    if let Ok(evidence) = kverify::signature::verify_bundle(&sha256, bundle, &common::policy(), common::root()) {
        assert_eq!(evidence.identity, common::CONFORMANCE_IDENTITY);
        assert!(evidence.chain);
    }
});
