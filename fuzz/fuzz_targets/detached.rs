//! Kubernetes' detached pair, `X.sig` + `X.cert`, as a hostile server would send them,
//! through the whole check: base64, PEM, certificate parsing, chain to the production
//! Fulcio root, embedded SCT, identity and the ECDSA signature.
//! Input: the artifact's SHA-256 (32 bytes), the `.sig` length (u16 LE), the `.sig`,
//! then the `.cert`.

#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((sha256, rest)) = common::take_sha256(data) else { return };
    let Some((sig, cert)) = common::take_u16_prefixed(rest) else { return };
    if let Ok(evidence) = kverify::signature::verify_detached(&sha256, sig, cert, &common::policy(), common::root()) {
        assert_eq!(evidence.identity, common::CONFORMANCE_IDENTITY);
        assert!(evidence.chain && evidence.sct && !evidence.tlog);
    }
});
