//! OpenPGP-signed checksum files as a hostile mirror would serve them: runc's clear-signed
//! `runc.sha256sum` and helm's detached `.sha256sum.asc`, through framing, armor, packet
//! parsing, signature verification and the key's validity at signing time, against a fixed
//! keyring (a gpg-made ed25519 key with a signing subkey, as runc's; scripts/fuzz-seeds.py holds
//! files it signed, so that mutations reach past the key lookup).
//! Input: one byte choosing the reader; for the cleartext reader, the file; for the detached
//! one, the signature's length (u16 LE), the signature, then the signed data.
//! Invariants: no panic; an accepted clear-signed file is one signed message with nothing but
//! whitespace around it, and the text handed back is exactly its signed lines (dash-unescaped,
//! trailing blanks removed), the very text rPGP's own cleartext reader verifies; an accepted
//! detached signature does not also accept the data with one byte changed.

#![no_main]

#[path = "common.rs"]
mod common;

use std::sync::OnceLock;

use kverify::signature::openpgp::{self, Keyring};
use libfuzzer_sys::fuzz_target;
use pgp::composed::{
    CleartextSignedMessage, Deserializable as _, DetachedSignature, SignedPublicKey, SignedPublicSubKey,
};

/// `gpg --quick-gen-key 'kverify fuzz signer <fuzz@kverify.test>' ed25519 cert` at
/// 2025-01-01, with an ed25519 signing subkey (45DC39DAE4FDF84A96AAF1F31BE1B82B4B413CE9);
/// the secret key was thrown away.
const KEY_ASC: &str = include_str!("../../src/signature/testdata/gpg-signer.asc");
const FINGERPRINT: &str = "C973CDF7D7DD9C7C3CA69C8C8F4831852EA2272C";

fn keyring() -> &'static Keyring {
    static RING: OnceLock<Keyring> = OnceLock::new();
    RING.get_or_init(|| Keyring::parse("fuzz.keyring", KEY_ASC.as_bytes()).expect("the fuzz key parses"))
}

fn now() -> jiff::Timestamp {
    jiff::Timestamp::from_second(1_796_000_000).expect("a 2026 time") // 2026-11-30
}

/// The input's lines without `\n` and one trailing `\r`, as the reader splits them.
fn lines(bytes: &[u8]) -> Vec<&[u8]> {
    let mut lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').map(|l| l.strip_suffix(b"\r").unwrap_or(l)).collect();
    if bytes.ends_with(b"\n") {
        lines.pop();
    }
    lines
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else { return };
    if pick % 2 == 0 {
        cleartext(rest);
    } else if let Some((signature, signed)) = common::take_u16_prefixed(rest) {
        detached(signature, signed);
    }
});

fn cleartext(file: &[u8]) {
    let Ok(out) = openpgp::verify_cleartext(keyring(), "runc.sha256sum", file, now()) else { return };
    assert_eq!(out.signature.fingerprint, FINGERPRINT);
    assert!(out.signature.signed_at.as_second() <= now().as_second() + 300);

    // One signed message, nothing but whitespace before it.
    let all = lines(file);
    let begin = |l: &[u8]| l.trim_ascii_end() == b"-----BEGIN PGP SIGNED MESSAGE-----";
    assert_eq!(all.iter().filter(|l| begin(l)).count(), 1, "one BEGIN line");
    let start = all.iter().position(|l| begin(l)).expect("a BEGIN line");
    assert!(all[..start].iter().all(|l| l.trim_ascii().is_empty()), "only whitespace before the message");

    // The text is the signed lines at first_line, unescaped and trimmed, and nothing else.
    let text: Vec<&str> = out.text.lines().collect();
    assert_eq!(out.text.matches('\n').count(), text.len(), "every line ends with \\n");
    let from = out.first_line - 1;
    assert!(from + text.len() < all.len());
    for (i, line) in text.iter().enumerate() {
        let raw = all[from + i];
        let unescaped = raw.strip_prefix(b"- ").unwrap_or(raw);
        assert_eq!(
            &unescaped[..line.len()],
            line.as_bytes(),
            "line {} of the text is line {} of the file",
            i + 1,
            from + i + 1
        );
        assert!(unescaped[line.len()..].iter().all(|b| b" \t".contains(b)), "only blanks trimmed");
        assert!(!line.contains('\r') && !line.starts_with("-----"));
    }
    assert_eq!(
        all[from + text.len()].trim_ascii_end(),
        b"-----BEGIN PGP SIGNATURE-----",
        "the text ends at the signature"
    );

    // The text handed back is what the signature covers: rPGP verifies the block's signature
    // over exactly that text.
    let signed = text.join("\r\n");
    let end = (from + text.len()..all.len())
        .find(|&i| all[i].trim_ascii_end() == b"-----END PGP SIGNATURE-----")
        .expect("an END line");
    let block = all[from + text.len()..=end].join(&b'\n');
    let (signature, _) = DetachedSignature::from_armor_single(&block[..]).expect("rPGP reads the signature block");
    signature.verify(&subkey().key, signed.as_bytes()).expect("rPGP verifies the text handed back");

    // rPGP's own cleartext reader, where it reads the file (it refuses some whitespace that
    // RFC 9580 allows and kverify accepts), takes the same text for signed.
    let Ok(file) = std::str::from_utf8(file) else { return };
    if let Ok((message, _)) = CleartextSignedMessage::from_string(file.trim_start()) {
        assert_eq!(message.signed_text(), signed, "rPGP's reader signs the same text");
    }
}

fn subkey() -> &'static SignedPublicSubKey {
    static KEY: OnceLock<SignedPublicKey> = OnceLock::new();
    &KEY.get_or_init(|| SignedPublicKey::from_string(KEY_ASC).expect("the fuzz key parses").0).public_subkeys[0]
}

fn detached(signature: &[u8], signed: &[u8]) {
    let Ok(sig) = openpgp::verify_detached(keyring(), "x.sha256sum.asc", signed, signature, now()) else { return };
    assert_eq!(sig.fingerprint, FINGERPRINT);
    let Some((&last, head)) = signed.split_last() else { return };
    // Even a text-mode signature, blind to CR LF versus LF, sees the last byte change.
    let changed = if last == b'x' { b'y' } else { b'x' };
    let other = [head, &[changed]].concat();
    assert!(
        openpgp::verify_detached(keyring(), "x.sha256sum.asc", &other, signature, now()).is_err(),
        "a signature that verified also verifies other data"
    );
}
