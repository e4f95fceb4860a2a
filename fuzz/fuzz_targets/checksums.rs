//! Checksum files as published (or as a mirror or an attacker serves them): every
//! format of DESIGN.md section 2, under the names that fix or hint an algorithm.
//! Input: one byte choosing the file's name, then the file.
//! Invariants: no panic; a parsed file has entries, each named entry survives a
//! `sha256sum`-style round trip unchanged.

#![no_main]

use kverify::checksums::{self, ChecksumError};
use libfuzzer_sys::fuzz_target;

const NAMES: &[&str] = &[
    "SHA256SUMS",
    "SHA512SUMS",
    "https://dl.k8s.io/release/v1.29.0/bin/linux/amd64/kubelet.sha512",
    "kubelet.sha256",
    "runc.sha256sum",
    "checksums.txt",
    "x.md5",
    "x.sha1",
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, file)) = data.split_first() else { return };
    let source = NAMES[usize::from(pick) % NAMES.len()];
    let parsed = match checksums::parse(source, file) {
        Ok(parsed) => parsed,
        Err(ChecksumError::Line { line, .. } | ChecksumError::Conflict { line, .. }) => {
            assert!(line >= 1, "line numbers are 1-based");
            return;
        }
        Err(_) => return,
    };
    assert!(!parsed.entries.is_empty(), "a parsed checksum file has entries");
    let named: Vec<(String, kverify::digest::Digest)> =
        parsed.entries.iter().filter_map(|e| Some((e.name.clone()?, e.digest))).collect();
    if named.is_empty() || named.iter().any(|(n, _)| n.trim() != n && !n.is_empty()) {
        return; // leading/trailing blanks are not kept by design: lines are trimmed
    }
    let text = checksums::format_gnu(&named);
    if text.lines().any(|l| l.len() > 8 * 1024) {
        return; // escaping can double a name past the parser's 8 KiB line cap
    }
    let again = checksums::parse("CHECKSUMS", text.as_bytes())
        .unwrap_or_else(|e| panic!("formatted entries do not parse again: {e}\n{text:?}"));
    let again: Vec<(Option<String>, kverify::digest::Digest)> =
        again.entries.into_iter().map(|e| (e.name, e.digest)).collect();
    let named: Vec<(Option<String>, kverify::digest::Digest)> = named.into_iter().map(|(n, d)| (Some(n), d)).collect();
    assert_eq!(named, again, "round trip through format_gnu\n{text:?}");
});
