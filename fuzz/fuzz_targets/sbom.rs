//! The signed release SBOM (`kubernetes-release.spdx`, SPDX tag-value), whose digests
//! stand for every binary of a release once its one signature verifies.
//! Invariants: no panic; every file kept has a digest; the namespace check accepts only
//! the namespace the document states.

#![no_main]

use kverify::sbom::Sbom;
use libfuzzer_sys::fuzz_target;

const NAMESPACE: &str = "https://sbom.k8s.io/v1.29.0/release";

fuzz_target!(|data: &[u8]| {
    let Ok(sbom) = Sbom::parse("kubernetes-release.spdx", data) else { return };
    assert!(!sbom.files.is_empty());
    for digests in sbom.files.values() {
        assert!(digests.sha256.is_some() || digests.sha512.is_some());
    }
    let accepted = sbom.require_namespace(NAMESPACE).is_ok();
    assert_eq!(accepted, sbom.namespace.trim_end_matches('/') == NAMESPACE);
    let _ = sbom.get("bin/linux/amd64/kubelet");
});
