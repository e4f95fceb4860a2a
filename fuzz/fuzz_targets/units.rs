//! systemd unit files and drop-ins as a crafted node holds them: the reader `kverify node`
//! uses to find which programs `kubelet.service` and `containerd.service` start (lines,
//! continuations, comments, sections, prefixes, quotes, C escapes, specifiers), in the
//! readings of systemd 243+ and 239–242.
//! Input: one byte choosing the unit's name and whether the file is a drop-in, then the
//! file.
//! Invariants: no panic; the same bytes always name the same programs; every program is
//! one systemd could run: an absolute path that is not a directory, or a bare name (no
//! `/`, not `.` or `..`) that systemd looks up, never an empty word or one with a NUL.

#![no_main]

use kverify::node::{programs_of, Program, EXEC_KEYS};
use libfuzzer_sys::fuzz_target;

const UNITS: &[&str] = &["kubelet.service", "containerd.service", "kubelet@node-1.service"];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, file)) = data.split_first() else { return };
    let unit = UNITS[usize::from(pick >> 1) % UNITS.len()];
    let drop_in = pick & 1 == 1;
    let programs = programs_of(file, unit, drop_in);
    assert_eq!(programs, programs_of(file, unit, drop_in), "the same bytes name the same programs");
    for (key, program) in &programs {
        assert!(EXEC_KEYS.contains(key), "{key} is an Exec key");
        match program {
            Program::Path(path) => {
                assert!(path.starts_with(b"/") && !path.ends_with(b"/"), "{program:?}");
                assert!(!path.contains(&0), "{program:?}");
            }
            Program::Name(name) | Program::Shell(name) => {
                assert!(!name.is_empty() && !name.contains(&0), "{program:?}");
                if let Program::Name(name) = program {
                    assert!(!name.contains(&b'/') && name != b"." && name != b"..", "{program:?}");
                }
            }
            Program::Unresolved { word, why } => assert!(!word.is_empty() && !why.is_empty(), "{program:?}"),
        }
    }
});
