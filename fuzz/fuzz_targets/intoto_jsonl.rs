//! containerd's `containerd-<V>-attestation.intoto.jsonl`: one bundle per line, each
//! listing subjects by name and SHA-256.
//! Input: the artifact's SHA-256 (32 bytes), its name's length (1 byte), its name, then
//! the file.

#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((sha256, rest)) = common::take_sha256(data) else { return };
    let Some((&len, rest)) = rest.split_first() else { return };
    let Some((name, jsonl)) = rest.split_at_checked(usize::from(len)) else { return };
    let name = String::from_utf8_lossy(name);
    let _ = kverify::signature::verify_intoto_jsonl(&sha256, &name, jsonl, &common::policy(), common::root());
});
