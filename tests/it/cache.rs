//! The download cache (`KVERIFY_CACHE_DIR`), resumed downloads and the per-download
//! deadline, end to end: what the server saw (requests, ranges, bytes sent), what landed
//! in the destination and in the cache, and the exit code.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::releases::*;
use crate::support::server::{Fault, Ranged, Server};
use crate::support::*;

const V: &str = "v1.29.0";
const ETAG: &str = "\"kubelet-v1\"";
const DATE: &str = "Mon, 01 Jan 2024 00:00:00 GMT";

fn kubelet() -> String {
    k8s_path(V, "kubelet")
}

/// Runs `kverify fetch` against `server` with `cache` as KVERIFY_CACHE_DIR.
fn fetch_cached(server: &Server, dest: &Path, cache: &Path, targets: &[&str], extra: &[&str]) -> Run {
    std::fs::create_dir_all(dest).unwrap();
    Run::from(
        kverify_cmd().env("KVERIFY_CACHE_DIR", cache).args(fetch_args(server, dest, targets, extra)).output().unwrap(),
    )
}

/// `kverify lock TARGET --platform linux/amd64 -o LOCK` against `server`, with `cache`.
fn lock_cached(server: &Server, cache: &Path, target: &str, lock: &Path) -> Run {
    let mut cmd = kverify_cmd();
    cmd.env("KVERIFY_CACHE_DIR", cache).args(["lock", target, "--platform", "linux/amd64", "-o"]).arg(lock);
    Run::from(cmd.args(mirror_args(server)).output().unwrap())
}

fn entry(cache: &Path, data: &[u8]) -> PathBuf {
    cache.join("sha256").join(sha256_hex(data))
}

fn partial(cache: &Path, data: &[u8]) -> PathBuf {
    cache.join("partial").join(sha256_hex(data)).join("data")
}

fn text(run: &Run) -> String {
    format!("{}\n{}", run.stdout, run.stderr)
}

#[test]
fn a_cache_hit_installs_with_zero_artifact_requests() {
    let server = Server::start();
    let data = publish_kubelet(&server, V, 1, 300_000);
    let root = tempdir();
    let cache = root.path().join("cache");
    fetch_cached(&server, &root.path().join("d1"), &cache, &["kubelet", V], &[]).code(0);
    assert!(std::fs::read(entry(&cache, &data)).unwrap() == data, "kept under its SHA-256");
    assert_eq!(mode(&cache), 0o700);
    let run = fetch_cached(&server, &root.path().join("d2"), &cache, &["kubelet", V], &[]);
    run.code(0);
    assert_eq!(server.hits(&kubelet()), 1, "the second fetch downloaded the artifact");
    assert_installed(&root.path().join("d2"), "kubelet", &data);
    assert_eq!(listing(&root.path().join("d2")), ["kubelet"]);
    assert!(run.line_with("kubelet v1.29.0").starts_with("OK"), "{}", run.stdout);
    assert!(run.stdout.contains("from the cache"), "{}", run.stdout);
    // The checksums are still fetched: the cache is a source of bytes, never evidence.
    assert_eq!(server.hits(&format!("{}.sha256", kubelet())), 2);
}

#[test]
fn a_corrupted_cache_entry_is_detected_removed_and_downloaded_again() {
    let server = Server::start();
    let data = publish_kubelet(&server, V, 2, 200_000);
    let root = tempdir();
    let cache = root.path().join("cache");
    fetch_cached(&server, &root.path().join("d1"), &cache, &["kubelet", V], &[]).code(0);
    let path = entry(&cache, &data);
    let mut bad = data.clone();
    bad[4096] ^= 0xff;
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    std::fs::write(&path, &bad).unwrap();
    let dest = root.path().join("d2");
    fetch_cached(&server, &dest, &cache, &["kubelet", V], &[]).code(0);
    assert_installed(&dest, "kubelet", &data);
    assert_eq!(listing(&dest), ["kubelet"]);
    assert_eq!(server.hits(&kubelet()), 2, "the bad entry was not downloaded again");
    assert!(std::fs::read(&path).unwrap() == data, "the entry was replaced by the verified bytes");
}

#[test]
fn a_symlink_planted_in_the_cache_is_never_followed() {
    let server = Server::start();
    let data = publish_kubelet(&server, V, 3, 100_000);
    let root = tempdir();
    let cache = root.path().join("cache");
    std::fs::create_dir_all(cache.join("sha256")).unwrap();
    // The entry's name points at a file with other bytes: it must not be read, nor the
    // file it names touched.
    let target = write(root.path(), "elsewhere", b"not the artifact");
    std::os::unix::fs::symlink(&target, entry(&cache, &data)).unwrap();
    let dest = root.path().join("d");
    fetch_cached(&server, &dest, &cache, &["kubelet", V], &[]).code(0);
    assert_installed(&dest, "kubelet", &data);
    assert_eq!(server.hits(&kubelet()), 1);
    assert_eq!(std::fs::read(&target).unwrap(), b"not the artifact");
    assert!(!entry(&cache, &data).symlink_metadata().unwrap().file_type().is_symlink(), "the link was replaced");
}

#[test]
fn a_cache_dir_of_another_user_is_not_used() {
    if !rustix::process::geteuid().is_root() {
        return; // needs root to give a directory away
    }
    let server = Server::start();
    let data = publish_kubelet(&server, V, 4, 50_000);
    let root = tempdir();
    let cache = root.path().join("theirs");
    std::fs::create_dir(&cache).unwrap();
    std::os::unix::fs::chown(&cache, Some(65534), Some(65534)).unwrap();
    let dest = root.path().join("d");
    let run = fetch_cached(&server, &dest, &cache, &["kubelet", V], &[]);
    run.code(0);
    assert!(run.stderr.contains("owned by uid 65534") && run.stderr.contains("not used"), "{}", run.stderr);
    assert_installed(&dest, "kubelet", &data);
    assert_eq!(listing(&cache), Vec::<String>::new(), "nothing written into another user's directory");
}

#[test]
fn no_cache_neither_reads_nor_writes_the_cache() {
    let server = Server::start();
    let data = publish_kubelet(&server, V, 5, 100_000);
    let root = tempdir();
    let cache = root.path().join("cache");
    fetch_cached(&server, &root.path().join("d1"), &cache, &["kubelet", V], &[]).code(0);
    fetch_cached(&server, &root.path().join("d2"), &cache, &["kubelet", V], &["--no-cache"]).code(0);
    assert_eq!(server.hits(&kubelet()), 2, "--no-cache read the cache");
    let fresh = root.path().join("fresh");
    fetch_cached(&server, &root.path().join("d3"), &fresh, &["kubelet", V], &["--no-cache"]).code(0);
    assert!(!fresh.exists(), "--no-cache created or wrote the cache");
    assert_installed(&root.path().join("d3"), "kubelet", &data);
}

#[test]
fn offline_with_a_lock_installs_from_the_cache_with_no_request() {
    let server = Server::start();
    let data = publish_kubelet(&server, V, 6, 100_000);
    let root = tempdir();
    let cache = root.path().join("cache");
    let lock = root.path().join("kverify.lock");
    lock_cached(&server, &cache, "kubelet@v1.29.0", &lock).code(0);
    fetch_cached(&server, &root.path().join("d1"), &cache, &["kubelet", V], &[]).code(0);
    server.forget();
    let dest = root.path().join("d2");
    let lock = lock.display().to_string();
    let run = fetch_cached(&server, &dest, &cache, &["kubelet", V], &["--lock", &lock, "--offline"]);
    run.code(0);
    assert!(server.requests().is_empty(), "{:?}", server.paths());
    assert_installed(&dest, "kubelet", &data);
    // Nothing cached: --offline cannot help, exit 3, nothing installed, still no request.
    let empty = root.path().join("d3");
    let run =
        fetch_cached(&server, &empty, &root.path().join("none"), &["kubelet", V], &["--lock", &lock, "--offline"]);
    run.code(3);
    assert!(server.requests().is_empty(), "{:?}", server.paths());
    assert_eq!(listing(&empty), Vec::<String>::new());
}

/// A kubelet of `len` bytes served with ranges and `validators`, cut at half: the first
/// run ends with exit 3 and keeps the half in the cache; nothing in the destination.
fn cut_at_half(server: &Server, seed: u64, len: usize, spec: Ranged, cache: &Path, dest: &Path) -> Vec<u8> {
    let data = publish_kubelet(server, V, seed, len);
    server.fault(&kubelet(), Fault::Ranged(Ranged { cut: Some(len / 2), ..spec }));
    let run = fetch_cached(server, dest, cache, &["kubelet", V], &[]);
    run.code(3);
    assert_eq!(listing(dest), Vec::<String>::new(), "the destination is as it was");
    let part = std::fs::read(partial(cache, &data)).expect("the half received is kept in the cache");
    assert!(part.len() == len / 2 && part[..] == data[..len / 2], "{} bytes kept", part.len());
    server.forget();
    data
}

fn etag() -> Ranged {
    Ranged { etag: Some(ETAG.into()), ..Ranged::default() }
}

#[test]
fn resume_with_an_etag_transfers_only_the_rest() {
    let server = Server::start();
    let root = tempdir();
    let (cache, dest) = (root.path().join("cache"), root.path().join("d"));
    let data = cut_at_half(&server, 10, 1_000_000, etag(), &cache, &dest);
    server.fault(&kubelet(), Fault::Ranged(etag()));
    let run = fetch_cached(&server, &dest, &cache, &["kubelet", V], &[]);
    run.code(0);
    assert_installed(&dest, "kubelet", &data);
    let req = &server.requests()[server.requests().iter().position(|r| r.path == format!("/{}", kubelet())).unwrap()];
    assert_eq!(req.header("range"), Some("bytes=500000-"));
    assert_eq!(req.header("if-range"), Some(ETAG));
    assert_eq!(server.responses(&kubelet()), [(206, 500_000)], "only the other half was sent");
    assert!(!partial(&cache, &data).exists(), "the partial became the entry");
    assert!(std::fs::read(entry(&cache, &data)).unwrap() == data);
}

#[test]
fn resume_with_last_modified_transfers_only_the_rest() {
    let server = Server::start();
    let root = tempdir();
    let (cache, dest) = (root.path().join("cache"), root.path().join("d"));
    let spec = Ranged { last_modified: Some(DATE.into()), ..Ranged::default() };
    let data = cut_at_half(&server, 11, 600_000, spec.clone(), &cache, &dest);
    server.fault(&kubelet(), Fault::Ranged(spec));
    fetch_cached(&server, &dest, &cache, &["kubelet", V], &[]).code(0);
    assert_installed(&dest, "kubelet", &data);
    let req = server.requests().into_iter().find(|r| r.path == format!("/{}", kubelet())).unwrap();
    assert_eq!((req.header("range"), req.header("if-range")), (Some("bytes=300000-"), Some(DATE)));
    assert_eq!(server.responses(&kubelet()), [(206, 300_000)]);
}

#[test]
fn a_server_that_ignores_range_starts_over() {
    let server = Server::start();
    let root = tempdir();
    let (cache, dest) = (root.path().join("cache"), root.path().join("d"));
    let data = cut_at_half(&server, 12, 400_000, etag(), &cache, &dest);
    server.fault(&kubelet(), Fault::Ranged(Ranged { ignore_range: true, ..etag() }));
    fetch_cached(&server, &dest, &cache, &["kubelet", V], &[]).code(0);
    assert_installed(&dest, "kubelet", &data);
    let req = server.requests().into_iter().find(|r| r.path == format!("/{}", kubelet())).unwrap();
    assert_eq!(req.header("range"), Some("bytes=200000-"), "a resume was tried");
    assert_eq!(server.responses(&kubelet()), [(200, 400_000)], "one request: its 200 body is the whole file");
}

#[test]
fn a_changed_validator_starts_over() {
    let server = Server::start();
    let root = tempdir();
    let (cache, dest) = (root.path().join("cache"), root.path().join("d"));
    let data = cut_at_half(&server, 13, 400_000, etag(), &cache, &dest);
    // Republished: new bytes, new ETag, new checksums.
    let new = publish_kubelet(&server, V, 14, 400_000);
    server.fault(&kubelet(), Fault::Ranged(Ranged { etag: Some("\"kubelet-v2\"".into()), ..Ranged::default() }));
    fetch_cached(&server, &dest, &cache, &["kubelet", V], &[]).code(0);
    assert_installed(&dest, "kubelet", &new);
    assert!(new != data);
    assert_eq!(server.responses(&kubelet()), [(200, 400_000)]);
    // Same checksums, new ETag (the file was touched): If-Range fails, 200, whole file.
    let root = tempdir();
    let (cache, dest) = (root.path().join("cache"), root.path().join("d"));
    let data = cut_at_half(&server, 15, 400_000, etag(), &cache, &dest);
    server.fault(&kubelet(), Fault::Ranged(Ranged { etag: Some("\"touched\"".into()), ..Ranged::default() }));
    fetch_cached(&server, &dest, &cache, &["kubelet", V], &[]).code(0);
    assert_installed(&dest, "kubelet", &data);
    let req = server.requests().into_iter().find(|r| r.path == format!("/{}", kubelet())).unwrap();
    assert_eq!(req.header("if-range"), Some(ETAG));
    assert_eq!(server.responses(&kubelet()), [(200, 400_000)]);
}

#[test]
fn a_lying_content_range_is_never_spliced_on() {
    let server = Server::start();
    let root = tempdir();
    let (cache, dest) = (root.path().join("cache"), root.path().join("d"));
    let data = cut_at_half(&server, 16, 400_000, etag(), &cache, &dest);
    // The resume is answered 206 with `bytes 204096-399999/400000`: consistent with
    // itself, not with the request. It is dropped and the file downloaded whole.
    server.fault(&kubelet(), Fault::Ranged(Ranged { shift: 4096, ..etag() }));
    fetch_cached(&server, &dest, &cache, &["kubelet", V], &[]).code(0);
    assert_installed(&dest, "kubelet", &data);
    let statuses: Vec<u16> = server.responses(&kubelet()).into_iter().map(|(s, _)| s).collect();
    assert_eq!(statuses, [206, 200], "the lying range, then the whole file");
}

#[test]
fn a_tampered_partial_is_caught_and_downloaded_whole() {
    let server = Server::start();
    let root = tempdir();
    let (cache, dest) = (root.path().join("cache"), root.path().join("d"));
    let data = cut_at_half(&server, 17, 400_000, etag(), &cache, &dest);
    let part = partial(&cache, &data);
    let mut bytes = std::fs::read(&part).unwrap();
    bytes[1000] ^= 0xff;
    std::fs::write(&part, &bytes).unwrap();
    server.fault(&kubelet(), Fault::Ranged(etag()));
    let run = fetch_cached(&server, &dest, &cache, &["kubelet", V], &[]);
    run.code(0);
    assert_installed(&dest, "kubelet", &data);
    assert_eq!(server.responses(&kubelet()), [(206, 200_000), (200, 400_000)], "resumed, caught, whole");
    assert!(std::fs::read(entry(&cache, &data)).unwrap() == data);
}

/// Waits until the server has seen the stalled client go (its response is logged then),
/// and forgets it.
fn settle(server: &Server) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.responses(&kubelet()).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    server.forget();
}

/// Waits until `path` holds at least `len` bytes.
fn wait_for(path: &Path, len: u64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::fs::metadata(path).map_or(true, |m| m.len() < len) {
        assert!(Instant::now() < deadline, "{} never reached {len} bytes", path.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Starts `kverify fetch` of kubelet into `dest` with `cache`, and returns once the
/// server (made to stall there) has sent `at` bytes of `data` into the partial download.
fn stalled_fetch(server: &Server, cache: &Path, dest: &Path, data: &[u8], at: u64) -> std::process::Child {
    std::fs::create_dir(dest).unwrap();
    let child = kverify_cmd()
        .env("KVERIFY_CACHE_DIR", cache)
        .args(fetch_args(server, dest, &["kubelet", V], &["--timeout", "30"]))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for(&partial(cache, data), at);
    child
}

#[test]
fn a_process_killed_mid_download_resumes_where_it_stopped() {
    let server = Server::start();
    let data = publish_kubelet(&server, V, 18, 1_000_000);
    server.fault(&kubelet(), Fault::Ranged(Ranged { stall: Some(500_000), ..etag() }));
    let root = tempdir();
    let (cache, dest) = (root.path().join("cache"), root.path().join("d"));
    let mut child = stalled_fetch(&server, &cache, &dest, &data, 500_000);
    child.kill().unwrap(); // SIGKILL: no destructor runs
    child.wait().unwrap();
    settle(&server);
    server.fault(&kubelet(), Fault::Ranged(etag()));
    fetch_cached(&server, &dest, &cache, &["kubelet", V], &[]).code(0);
    assert_installed(&dest, "kubelet", &data);
    assert_eq!(listing(&dest), ["kubelet"], "the killed run's staged file is gone too");
    assert_eq!(server.responses(&kubelet()), [(206, 500_000)]);
}

/// Sends `signal` to a fetch stalled at half; the destination is left as it was and the
/// half in the cache is resumed by the next run. Returns the exit status seen.
fn stopped_by(signal: i32, seed: u64) -> std::process::ExitStatus {
    let server = Server::start();
    let data = publish_kubelet(&server, V, seed, 600_000);
    server.fault(&kubelet(), Fault::Ranged(Ranged { stall: Some(300_000), ..etag() }));
    let root = tempdir();
    let (cache, dest) = (root.path().join("cache"), root.path().join("d"));
    let mut child = stalled_fetch(&server, &cache, &dest, &data, 300_000);
    assert_eq!(listing(&dest).len(), 1, "a staged file while downloading: {:?}", listing(&dest));
    let killed = std::process::Command::new("kill").args([format!("-{signal}"), child.id().to_string()]).status();
    assert!(killed.unwrap().success());
    let status = child.wait().unwrap();
    assert_eq!(listing(&dest), Vec::<String>::new(), "the staged file was left in the destination");
    settle(&server);
    server.fault(&kubelet(), Fault::Ranged(etag()));
    fetch_cached(&server, &dest, &cache, &["kubelet", V], &[]).code(0);
    assert_installed(&dest, "kubelet", &data);
    assert_eq!(server.responses(&kubelet()), [(206, 300_000)], "the cache's partial was resumed");
    status
}

#[test]
fn sigterm_leaves_no_partial_in_the_destination() {
    use std::os::unix::process::ExitStatusExt;
    let status = stopped_by(15, 19);
    assert_eq!(status.signal(), Some(15), "ends as SIGTERM ends a process: {status:?}");
}

#[test]
fn sigint_leaves_no_partial_in_the_destination() {
    use std::os::unix::process::ExitStatusExt;
    let status = stopped_by(2, 20);
    assert_eq!(status.signal(), Some(2), "{status:?}");
}

#[test]
fn the_deadline_ends_a_trickling_download() {
    let server = Server::start();
    publish_kubelet(&server, V, 21, 50_000);
    // A byte every 200 ms: never silent long enough for --timeout, forever to finish.
    server.fault(&kubelet(), Fault::Trickle { chunk: 1, pause: Duration::from_millis(200) });
    let root = tempdir();
    let dest = root.path().join("d");
    let started = Instant::now();
    let run = fetch_cached(&server, &dest, &root.path().join("cache"), &["kubelet", V], &["--deadline", "2"]);
    run.code(3);
    let took = started.elapsed();
    assert!(took < Duration::from_secs(8), "took {took:?}");
    let t = text(&run);
    assert!(t.contains("deadline of 2 s passed after") && t.contains("of 50000 bytes"), "{t}");
    assert_eq!(server.hits(&kubelet()), 1, "a deadline is not retried");
    assert_eq!(listing(&dest), Vec::<String>::new());
}

#[test]
fn lock_pinned_archive_binaries_already_installed_download_nothing() {
    let server = Server::start();
    let release = publish_etcd(&server, "v3.5.12");
    let root = tempdir();
    let lock = root.path().join("kverify.lock");
    let out = kverify_cmd()
        .args(["lock", "etcd@v3.5.12", "--platform", "linux/amd64", "-o"])
        .arg(&lock)
        .args(mirror_args(&server))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let dest = root.path().join("d");
    std::fs::create_dir(&dest).unwrap();
    for (name, data) in &release.binaries {
        write(&dest, name, data);
    }
    server.forget();
    let lock = lock.display().to_string();
    let run = fetch_cached(&server, &dest, &root.path().join("empty-cache"), &["etcd", "v3.5.12"], &["--lock", &lock]);
    run.code(0);
    assert!(run.line_with("etcd v3.5.12").contains("nothing downloaded"), "{}", run.stdout);
    assert_eq!(server.hits(&release.path), 0);
    for (name, data) in &release.binaries {
        assert_installed(&dest, name, data);
    }
    // One binary differs: the archive is downloaded and the binaries installed.
    write(&dest, "etcdctl", b"tampered");
    fetch_cached(&server, &dest, &root.path().join("empty-cache"), &["etcd", "v3.5.12"], &["--lock", &lock]).code(0);
    assert_eq!(server.hits(&release.path), 1);
    for (name, data) in &release.binaries {
        assert_installed(&dest, name, data);
    }
}

#[test]
fn two_processes_sharing_a_cache_both_install_and_the_cache_stays_sound() {
    let server = Server::start();
    let data = publish_kubelet(&server, V, 22, 600_000);
    server.fault(&kubelet(), Fault::Trickle { chunk: 32 * 1024, pause: Duration::from_millis(20) });
    let root = tempdir();
    let cache = root.path().join("cache");
    let spawn = |dest: &Path| {
        std::fs::create_dir_all(dest).unwrap();
        kverify_cmd()
            .env("KVERIFY_CACHE_DIR", &cache)
            .args(fetch_args(&server, dest, &["kubelet", V], &[]))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(&root.path().join("a")), spawn(&root.path().join("b")));
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(a.status.success() && b.status.success(), "{a:?}\n{b:?}");
    assert!(server.max_concurrent() >= 2, "the two downloads did not overlap");
    for d in ["a", "b"] {
        assert_installed(&root.path().join(d), "kubelet", &data);
    }
    assert!(std::fs::read(entry(&cache, &data)).unwrap() == data, "one sound entry");
    assert_eq!(listing(&cache.join("partial")), Vec::<String>::new(), "no partial left");
    // And it serves the next fetch.
    fetch_cached(&server, &root.path().join("c"), &cache, &["kubelet", V], &[]).code(0);
    assert_eq!(server.hits(&kubelet()), 2);
}

#[test]
fn cache_dir_names_the_directory_and_clean_empties_it_but_the_trust_cache() {
    let root = tempdir();
    let run = |envs: &[(&str, &Path)]| {
        let mut cmd = kverify_cmd();
        cmd.env_remove("KVERIFY_CACHE_DIR").env_remove("XDG_CACHE_HOME").env_remove("HOME");
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let out = cmd.args(["cache", "dir"]).output().unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap().trim_end().to_string()
    };
    let (c, x, h) = (root.path().join("c"), root.path().join("x"), root.path().join("h"));
    assert_eq!(run(&[("KVERIFY_CACHE_DIR", &c), ("XDG_CACHE_HOME", &x), ("HOME", &h)]), c.display().to_string());
    assert_eq!(run(&[("XDG_CACHE_HOME", &x), ("HOME", &h)]), x.join("kverify").display().to_string());
    assert_eq!(run(&[("HOME", &h)]), h.join(".cache/kverify").display().to_string());

    let server = Server::start();
    let data = publish_kubelet(&server, V, 23, 100_000);
    let cache = root.path().join("cache");
    fetch_cached(&server, &root.path().join("d"), &cache, &["kubelet", V], &[]).code(0);
    write(&cache, "trust/current/keep.json", b"{}");
    let clean = |extra: &[&str]| {
        let out = kverify_cmd().env("KVERIFY_CACHE_DIR", &cache).args(["cache", "clean"]).args(extra).output().unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let out = clean(&["--older-than", "1"]);
    assert!(out.contains("removed 0 cached artifacts"), "{out}");
    assert!(entry(&cache, &data).exists(), "a fresh entry is younger than a day");
    let out = clean(&[]);
    assert!(out.contains("removed 1 cached artifacts"), "{out}");
    assert!(!entry(&cache, &data).exists());
    assert!(cache.join("trust/current/keep.json").exists(), "the trust cache is left alone");
    fetch_cached(&server, &root.path().join("d2"), &cache, &["kubelet", V], &[]).code(0);
    assert_eq!(server.hits(&kubelet()), 2, "after clean, the next fetch downloads");
}

#[test]
fn a_destination_on_another_filesystem_gets_a_copy_and_still_resumes() {
    // The staged file cannot be a link of the cache's partial there: bytes go to both.
    let Ok(shm) = tempfile::tempdir_in("/dev/shm") else { return };
    let server = Server::start();
    let root = tempdir();
    let (cache, dest) = (root.path().join("cache"), shm.path().join("d"));
    let data = cut_at_half(&server, 24, 800_000, etag(), &cache, &dest);
    server.fault(&kubelet(), Fault::Ranged(etag()));
    fetch_cached(&server, &dest, &cache, &["kubelet", V], &[]).code(0);
    assert_installed(&dest, "kubelet", &data);
    assert_eq!(server.responses(&kubelet()), [(206, 400_000)]);
    let installed = std::fs::metadata(dest.join("kubelet")).unwrap();
    assert_eq!(std::os::unix::fs::MetadataExt::nlink(&installed), 1);
    assert!(std::fs::read(entry(&cache, &data)).unwrap() == data);
}

#[test]
fn a_lock_of_a_cached_archive_still_pins_both_digests() {
    let server = Server::start();
    let release = publish_etcd(&server, "v3.5.12");
    let root = tempdir();
    let cache = root.path().join("cache");
    fetch_cached(&server, &root.path().join("d"), &cache, &["etcd", "v3.5.12"], &[]).code(0);
    let lock = root.path().join("kverify.lock");
    lock_cached(&server, &cache, "etcd@v3.5.12", &lock).code(0);
    assert_eq!(server.hits(&release.path), 1, "the lock took the archive from the cache");
    let text = std::fs::read_to_string(&lock).unwrap();
    assert!(text.contains(&sha512_hex(&release.archive)), "the archive's SHA-512 is pinned:\n{text}");
    for (_, data) in &release.binaries {
        assert!(text.contains(&sha512_hex(data)), "{text}");
    }
}

/// A mirror that serves other bytes under the upstream's checksums is caught even when
/// the cache holds the genuine artifact: an entry answers only for the URL it came from,
/// so the cache never masks what a source now serves (exit 1, nothing installed). The
/// source the entry came from still gets it with no download.
#[test]
fn a_tampered_mirror_is_caught_though_the_cache_holds_the_genuine_bytes() {
    let good = Server::start();
    let data = publish_kubelet(&good, V, 21, 200_000);
    let bad = Server::start();
    let mut tampered = data.clone();
    tampered[4096] ^= 0xff;
    publish_k8s(&bad, V, "kubelet", &tampered);
    bad.put(&format!("{}.sha256", kubelet()), sha256_hex(&data));
    bad.put(&format!("{}.sha512", kubelet()), sha512_hex(&data));
    let root = tempdir();
    let cache = root.path().join("cache");
    fetch_cached(&good, &root.path().join("d1"), &cache, &["kubelet", V], &[]).code(0);

    let run = fetch_cached(&bad, &root.path().join("d2"), &cache, &["kubelet", V], &[]);
    run.code(1);
    assert!(run.line_with("kubelet v1.29.0").starts_with("FAIL"), "{}", run.stdout);
    assert!(run.stdout.contains("sha256 mismatch"), "{}", run.stdout);
    assert_eq!(bad.hits(&kubelet()), 1, "the mirror's bytes were downloaded and judged");
    assert!(listing(&root.path().join("d2")).is_empty());
    assert!(std::fs::read(entry(&cache, &data)).unwrap() == data, "the genuine entry is kept");

    let run = fetch_cached(&good, &root.path().join("d3"), &cache, &["kubelet", V], &[]);
    run.code(0);
    assert!(run.stdout.contains("from the cache"), "{}", run.stdout);
    assert_eq!(good.hits(&kubelet()), 1);
    assert_installed(&root.path().join("d3"), "kubelet", &data);
}
