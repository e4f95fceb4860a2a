//! Running the real binary, and fixtures on disk.

#![allow(dead_code)]

pub mod gpg;
pub mod memory;
pub mod pki;
pub mod rekor_log;
pub mod releases;
pub mod server;
pub mod tls;
pub mod tuf;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use sha2::{Digest, Sha256, Sha512};

/// What a run of `kverify` showed its user.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// What a finished command printed, and its exit code (-1 when a signal ended it).
impl From<std::process::Output> for Run {
    fn from(out: std::process::Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl Run {
    /// Asserts the exit code, printing everything the user saw when it differs.
    #[track_caller]
    pub fn code(&self, want: i32) -> &Run {
        assert_eq!(self.code, want, "exit code\n--- stdout\n{}\n--- stderr\n{}", self.stdout, self.stderr);
        self
    }

    /// The stdout line that names `needle`.
    #[track_caller]
    pub fn line_with(&self, needle: &str) -> &str {
        self.stdout
            .lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no stdout line names {needle:?}\n{}\n--- stderr\n{}", self.stdout, self.stderr))
    }

    /// The JSON objects on stdout.
    pub fn json(&self) -> Vec<serde_json::Value> {
        self.stdout.lines().filter(|l| !l.trim().is_empty()).map(|l| serde_json::from_str(l).expect(l)).collect()
    }
}

pub fn kverify_cmd() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kverify"));
    cmd.env_remove("KVERIFY_MIRROR").env_remove("KVERIFY_LOG").env_remove("KVERIFY_TIMEOUT").stdin(Stdio::null());
    // Trust never comes from the real home directory or the network: a trust cache of
    // this test run's own, never written, and TUF off. Tests of `kverify trust` give
    // KVERIFY_TRUST_DIR and --tuf-url themselves.
    let no_trust = std::env::temp_dir().join(format!("kverify-it-trust-{}", std::process::id()));
    cmd.env("KVERIFY_TRUST_DIR", no_trust).env("KVERIFY_TUF_URL", "off").env_remove("KVERIFY_OFFLINE");
    // A download cache of this command's own, so that no run finds another's artifacts
    // (tests of the cache share one on purpose by setting KVERIFY_CACHE_DIR).
    cmd.env("KVERIFY_CACHE_DIR", scratch_cache()).env_remove("KVERIFY_NO_CACHE").env_remove("KVERIFY_DEADLINE");
    // The test servers are on loopback: a proxy from the environment must not intercept them.
    for proxy in ["http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"] {
        cmd.env_remove(proxy);
    }
    cmd
}

/// A new, empty directory name for one command's download cache, under one directory
/// per test process.
pub fn scratch_cache() -> PathBuf {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    std::env::temp_dir().join(format!("kverify-it-cache-{}", std::process::id())).join(n.to_string())
}

/// Runs kverify with `args` and collects what it printed; its scratch cache is removed.
pub fn kverify<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut cmd = kverify_cmd();
    let out = cmd.args(args).output().expect("run kverify");
    let cache = cmd.get_envs().find(|(k, _)| *k == "KVERIFY_CACHE_DIR").and_then(|(_, v)| v.map(PathBuf::from));
    if let Some(dir) = cache.filter(|d| d.starts_with(std::env::temp_dir())) {
        let _ = std::fs::remove_dir_all(dir);
    }
    Run::from(out)
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

pub fn sha512_hex(bytes: &[u8]) -> String {
    hex::encode(Sha512::digest(bytes))
}

/// Deterministic pseudo-random bytes, different for every seed.
pub fn bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Writes `bytes` at `dir/rel`, creating parents, and returns the path.
pub fn write(dir: &Path, rel: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, bytes).unwrap();
    path
}

pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// `dir` holds exactly `names`: no temporary files, nothing else.
#[track_caller]
pub fn assert_listing(dir: &Path, names: &[&str]) {
    let mut want: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    want.sort();
    assert_eq!(listing(dir), want, "listing of {}", dir.display());
}

/// `dir/name` is an installed binary: a regular file (not a link) holding `data`, mode 0755.
#[track_caller]
pub fn assert_installed(dir: &Path, name: &str, data: &[u8]) {
    let path = dir.join(name);
    assert!(!std::fs::symlink_metadata(&path).unwrap().file_type().is_symlink(), "{} is a link", path.display());
    assert!(std::fs::read(&path).unwrap() == data, "{} does not hold the published bytes", path.display());
    assert_eq!(mode(&path), 0o755, "mode of {}", path.display());
}

pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

/// The names in a directory, sorted.
pub fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}
