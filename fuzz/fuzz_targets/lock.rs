//! `kverify.lock` files (TOML), which users hand to `fetch --lock` and `verify --lock`
//! and which may have been edited or tampered with.
//! Invariants: no panic; a lock that parses is written back as text that parses to the
//! same lock and is written identically again; every pin's digests become expectations.

#![no_main]

use std::path::Path;

use kverify::lock::Lock;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let path = Path::new("kverify.lock");
    let Ok(lock) = Lock::parse(path, text) else { return };
    let written = lock.to_text();
    let again = Lock::parse(path, &written).unwrap_or_else(|e| panic!("a written lock does not parse: {e}\n{written}"));
    assert_eq!(again.to_text(), written, "writing a lock is deterministic");
    let expected = lock.expectations(path);
    let pins: usize = lock.artifacts.iter().map(|p| 1 + usize::from(p.sha512.is_some()) + 2 * p.files.len()).sum();
    assert_eq!(expected.len(), pins, "every pinned digest is an expectation");
    for pin in &lock.artifacts {
        let subject = &pin.subject;
        let found = lock.find(&subject.component, &subject.version, None);
        assert!(found.is_some(), "{subject} has its pin");
        let found = lock.find(&subject.component, &subject.version, Some(&subject.platform));
        assert_eq!(found.map(|p| &p.subject), Some(subject), "{subject} is found as itself");
    }
});
