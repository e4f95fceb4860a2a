//! A Rekor v1 answer (a `retrieve` list or a get-by-UUID object) from a hostile or
//! broken log, for the real detached pair of the test vectors: parsed, matched to the
//! pair, turned into a v0.3 bundle and verified (SET, inclusion proof, checkpoint).
//! Input: the answer's body.
//! Invariant: a kept proof always has its transparency log verified.

#![no_main]

#[path = "common.rs"]
mod common;

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sha2::Digest as _;

/// The pair and artifact whose log entry the seeds hold (../shared/testvectors).
struct Pair {
    sha256: [u8; 32],
    sig: Vec<u8>,
    cert: Vec<u8>,
}

fn pair() -> &'static Pair {
    static PAIR: OnceLock<Pair> = OnceLock::new();
    PAIR.get_or_init(|| {
        let dir = std::env::var("KVERIFY_TESTVECTORS")
            .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/testvectors").to_string());
        let read =
            |p: &str| std::fs::read(format!("{dir}/detached-fulcio/{p}")).expect("test vectors (KVERIFY_TESTVECTORS)");
        Pair {
            sha256: sha2::Sha256::digest(read("a.txt")).into(),
            sig: read("a.txt.v0.3.sig"),
            cert: read("a.txt.v0.3.cert"),
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let p = pair();
    let result =
        kverify::rekor::capture_from_answer(data, &p.sha256, &p.sig, &p.cert, &common::policy(), common::root());
    if let Ok(Some(captured)) = result {
        assert!(captured.evidence.tlog, "a proof is kept only with its tlog verified");
    }
});
