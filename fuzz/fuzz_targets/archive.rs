//! A tar.gz archive as etcd, containerd, crictl, CNI and helm publish them, or as an
//! attacker would craft one, walked by `archive::extract` under three layouts.
//! Input: one flag byte, then either a raw tar (even flag; gzipped here, so mutations
//! reach the tar structure) or the tar.gz bytes themselves (odd flag).
//! Invariants: no panic; every extracted name is a plain, visible file name of at most
//! `MAX_NAME` bytes, with no control character and none of the foreign names; what is
//! extracted holds what the archive's entry held; nothing is left behind in the directory.

#![no_main]

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use flate2::write::GzEncoder;
use kverify::archive;
use kverify::catalog::Extract;
use kverify::install::{Staged, Verified};
use libfuzzer_sys::fuzz_target;

fn dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        // scripts/fuzz.sh gives one directory per run and removes it afterwards (fork
        // mode starts a process per job, each with its own directory).
        let base = match std::env::var_os("KVERIFY_FUZZ_TMP") {
            Some(dir) => PathBuf::from(dir),
            None if Path::new("/dev/shm").is_dir() => PathBuf::from("/dev/shm"),
            None => std::env::temp_dir(),
        };
        tempfile::Builder::new().prefix("kverify-fuzz-archive-").tempdir_in(base).expect("temp dir").keep()
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&flag, body)) = data.split_first() else { return };
    let bytes = if flag % 2 == 0 {
        let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(body).expect("in memory");
        gz.finish().expect("in memory")
    } else {
        body.to_vec()
    };
    let dir = dir();
    let mut staged = Staged::new_in(dir, "archive").expect("stage");
    staged.file_mut().write_all(&bytes).expect("write");
    let archive = Verified::unverified_for_fuzzing(staged);
    let layouts = [
        Extract::Binaries(vec!["etcd-v3.5.12-linux-amd64/etcd".into(), "./bin/etcdctl".into()]),
        Extract::Directory("bin/".into()),
        Extract::Directory(String::new()),
    ];
    let foreign = vec!["kubelet".to_string(), "runc".to_string()];
    for layout in &layouts {
        if let Ok(extracted) = archive::extract(&archive, "fuzz.tar.gz", layout, &foreign, dir) {
            for e in &extracted {
                assert!(!e.name.is_empty() && !e.name.contains('/') && !e.name.starts_with('.'), "{:?}", e.name);
                assert!(e.name.len() <= archive::MAX_NAME && !e.name.chars().any(char::is_control), "{:?}", e.name);
                assert!(!foreign.contains(&e.name), "{:?}", e.name);
                let mut content = Vec::new();
                std::fs::File::open(e.verified.path()).expect("open").read_to_end(&mut content).expect("read");
                let sha256 = kverify::digest::Digest::Sha256(<sha2::Sha256 as sha2::Digest>::digest(&content).into());
                assert_eq!(e.verified.digests.sha256, Some(sha256), "digest of {:?}", e.name);
            }
        }
    }
    drop(archive);
    let left: Vec<_> = std::fs::read_dir(dir).expect("read dir").map(|e| e.expect("entry").file_name()).collect();
    assert!(left.is_empty(), "left behind: {left:?}");
});
