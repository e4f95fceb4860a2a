//! `kverify trust update|show`: Sigstore's trusted root through TUF (DESIGN.md §4),
//! against repositories made in-process (support::tuf) and served by the test server.
//!
//! "The cache untouched" is checked as the contract checks it: every non-empty file
//! under the trust directory (path and bytes) and every symbolic link (path and target)
//! is the same after a refused update as before it.

use std::net::TcpListener;
use std::path::{Path, PathBuf};

use jiff::{SignedDuration, Timestamp};

use crate::support::pki::{Leaf, TestSigstore};
use crate::support::server::Server;
use crate::support::tuf::TufRepo;
use crate::support::{kverify_cmd, sha256_hex, tempdir, Run};

/// A served repository, its pinned root on disk, and trust directories to use.
struct World {
    server: Server,
    repo: TufRepo,
    tmp: tempfile::TempDir,
    url: String,
}

impl World {
    fn new(target: &[u8]) -> World {
        World::with(TufRepo::new(target))
    }

    fn with(repo: TufRepo) -> World {
        let server = Server::start();
        repo.serve(&server);
        let tmp = tempdir();
        std::fs::write(tmp.path().join("root.json"), repo.root_v1()).unwrap();
        let url = TufRepo::url(&server);
        World { server, repo, tmp, url }
    }

    fn root_file(&self) -> PathBuf {
        self.tmp.path().join("root.json")
    }

    /// A trust directory of this world (not created).
    fn dir(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    /// kverify with trust directory `dir`, `args`, then `--tuf-url URL --tuf-root ROOT`.
    fn kv(&self, dir: &Path, args: &[&str]) -> Run {
        self.kv_env(dir, args, &[])
    }

    fn kv_env(&self, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut cmd = kverify_cmd();
        cmd.env("KVERIFY_TRUST_DIR", dir).env_remove("KVERIFY_TUF_URL");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.args(args).arg("--tuf-url").arg(&self.url).arg("--tuf-root").arg(self.root_file());
        run(cmd)
    }

    /// `trust show --json` of `dir`, parsed.
    fn show(&self, dir: &Path) -> serde_json::Value {
        let run = self.kv(dir, &["trust", "show", "--json"]);
        run.code(0);
        serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
    }

    fn publish(&mut self, target: &[u8]) {
        self.repo.publish(target);
        self.repo.serve(&self.server);
    }
}

fn run(mut cmd: std::process::Command) -> Run {
    Run::from(cmd.output().unwrap())
}

/// One line per non-empty file (path, sha256) and per symbolic link (path, target).
fn tree(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries {
            let path = entry.unwrap().path();
            let rel = path.strip_prefix(root).unwrap().display().to_string();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.file_type().is_symlink() {
                out.push(format!("link {rel} {}", std::fs::read_link(&path).unwrap().display()));
            } else if meta.is_dir() {
                walk(root, &path, out);
            } else if meta.len() > 0 {
                out.push(format!("file {rel} {}", sha256_hex(&std::fs::read(&path).unwrap())));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Two distinct trusted roots: the production one and a test Sigstore's.
fn production() -> Vec<u8> {
    sigstore_trust_root::SIGSTORE_PRODUCTION_TRUSTED_ROOT.as_bytes().to_vec()
}

fn test_root() -> Vec<u8> {
    TestSigstore::new().trusted_root_json().into_bytes()
}

#[test]
fn first_update_caches_the_trusted_root_and_show_names_it() {
    let w = World::new(&production());
    let dir = w.dir("trust");
    let run = w.kv(&dir, &["trust", "update"]);
    run.code(0);
    let sha = sha256_hex(&production());
    assert!(run.stdout.contains(&format!("→  sha256:{sha}")), "{}", run.stdout);
    assert!(run.stdout.contains("timestamp  - → v1"), "{}", run.stdout);

    let show = w.show(&dir);
    assert_eq!(show["sha256"], sha);
    assert_eq!(show["source"], "tuf-cache");
    assert_eq!(show["cache"]["status"], "verified");
    assert_eq!(show["cache"]["versions"]["timestamp"], 1);
    assert_eq!(show["cache"]["url"], w.url.as_str());
    assert!(show["material"].as_array().unwrap().iter().any(|m| m["kind"] == "ctlog"));
    assert_eq!(crate::support::mode(&dir), 0o700);
    assert!(tree(&dir).iter().any(|l| l.starts_with("link current tuf-")), "{:?}", tree(&dir));

    let text = w.kv(&dir, &["trust", "show"]);
    text.code(0);
    assert!(text.stdout.contains("in effect  the TUF cache"), "{}", text.stdout);
    assert!(text.stdout.contains(&format!("sha256     {sha}")), "{}", text.stdout);
    assert!(text.stdout.contains("timestamp  expires "), "{}", text.stdout);
}

#[test]
fn a_new_trusted_root_is_picked_up_and_the_update_says_what_changed() {
    let mut w = World::new(&production());
    let dir = w.dir("trust");
    w.kv(&dir, &["trust", "update"]).code(0);
    let again = w.kv(&dir, &["trust", "update"]);
    again.code(0);
    assert!(again.stdout.starts_with("trust is up to date"), "{}", again.stdout);

    let new_root = test_root();
    w.publish(&new_root);
    let run = w.kv(&dir, &["trust", "update"]);
    run.code(0);
    assert!(run.stdout.contains(&format!("sha256:{}", sha256_hex(&production()))), "{}", run.stdout);
    assert!(run.stdout.contains(&format!("→  sha256:{}", sha256_hex(&new_root))), "{}", run.stdout);
    assert!(run.stdout.contains("targets    v1 → v2"), "{}", run.stdout);
    assert!(run.stdout.contains("+ added   CA      https://fulcio.invalid"), "{}", run.stdout);
    assert!(run.stdout.contains("- removed CT log  https://ctfe.sigstore.dev/2022"), "{}", run.stdout);
    assert_eq!(w.show(&dir)["sha256"], sha256_hex(&new_root));

    let json = w.kv(&dir, &["trust", "update", "--json"]);
    json.code(0);
    let report: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(report["new"]["sha256"], sha256_hex(&new_root));
    assert_eq!(report["changes"].as_array().unwrap().len(), 0, "nothing changed since");
}

#[test]
fn a_signature_only_the_refreshed_root_accepts_verifies_after_an_update() {
    const ID: &str = "--certificate-identity=krel-staging@k8s-releng-prod.iam.gserviceaccount.com";
    const ISS: &str = "--certificate-oidc-issuer=https://accounts.google.com";
    let sigstore = TestSigstore::new();
    let artifact = crate::support::bytes(13, 4096);
    let mut w = World::new(&production());
    let files = w.tmp.path().join("files");
    std::fs::create_dir_all(&files).unwrap();
    std::fs::write(files.join("kubectl"), &artifact).unwrap();
    let (sig, cert) = sigstore.write_pair(&files, "kubectl", &artifact, &Leaf::kubernetes());
    let dir = w.dir("trust");
    let verify = |w: &World| {
        let (file, sig, cert) = (files.join("kubectl"), sig.display().to_string(), cert.display().to_string());
        w.kv(&dir, &["verify", file.to_str().unwrap(), "--signature", &sig, "--certificate", &cert, ID, ISS])
    };

    w.kv(&dir, &["trust", "update"]).code(0);
    let refused = verify(&w);
    refused.code(1);
    assert!(refused.stdout.contains("does not chain to a trusted Fulcio CA"), "{}", refused.stdout);
    assert!(refused.stdout.contains("kverify trust update"), "the rotation hint: {}", refused.stdout);

    w.publish(sigstore.trusted_root_json().as_bytes());
    w.kv(&dir, &["trust", "update"]).code(0);
    verify(&w).code(0);
    // --trusted-root still comes first.
    let prod = w.tmp.path().join("production.json");
    std::fs::write(&prod, production()).unwrap();
    let (file, sig, cert) = (files.join("kubectl"), sig.display().to_string(), cert.display().to_string());
    let args =
        ["verify", file.to_str().unwrap(), "--signature", &sig, "--certificate", &cert, ID, ISS, "--trusted-root"];
    w.kv(&dir, &[&args[..], &[prod.to_str().unwrap()]].concat()).code(1);
}

/// From a cache at the good state (timestamp, snapshot and targets v2), the repository
/// turns hostile one way: `trust update` is exit 1 and the cache is untouched.
fn refused(attack: fn(&mut TufRepo), why: &str) {
    let mut w = World::new(&production());
    w.publish(&test_root());
    let dir = w.dir("trust");
    w.kv(&dir, &["trust", "update"]).code(0);
    let before = tree(&dir);
    let mut hostile = w.repo.clone();
    attack(&mut hostile);
    hostile.serve(&w.server);
    let run = w.kv(&dir, &["trust", "update"]);
    run.code(1);
    assert!(run.stderr.contains("failed verification; the trust cache was left as it was"), "{}", run.stderr);
    assert!(run.stderr.contains(why), "wanted {why:?} in:\n{}", run.stderr);
    assert_eq!(tree(&dir), before, "the cache changed");
    assert_eq!(w.show(&dir)["sha256"], sha256_hex(w.repo.target()), "the last good root is still in effect");
}

#[test]
fn an_expired_timestamp_is_refused_and_the_cache_untouched() {
    refused(TufRepo::expired_timestamp, "timestamp metadata expired");
}

#[test]
fn a_timestamp_rollback_is_refused_and_the_cache_untouched() {
    refused(TufRepo::timestamp_rollback, "rollback detected for timestamp");
}

#[test]
fn a_snapshot_rollback_is_refused_and_the_cache_untouched() {
    refused(TufRepo::snapshot_rollback, "rollback detected for snapshot");
}

#[test]
fn a_targets_rollback_is_refused_and_the_cache_untouched() {
    refused(TufRepo::targets_rollback, "rollback detected for targets.json");
}

#[test]
fn mix_and_match_is_refused_and_the_cache_untouched() {
    refused(TufRepo::mix_and_match, "integrity check failed");
}

#[test]
fn a_target_whose_hash_differs_is_refused_and_the_cache_untouched() {
    refused(TufRepo::target_hash, "integrity check failed");
}

#[test]
fn a_target_longer_than_its_metadata_is_refused_and_the_cache_untouched() {
    refused(TufRepo::target_length, "refusing an endless or oversized body");
}

#[test]
fn a_root_rotation_with_too_few_signatures_is_refused_and_the_cache_untouched() {
    refused(TufRepo::root_threshold, "signature threshold not met for role root");
}

#[test]
fn a_root_rotation_signed_by_both_thresholds_is_followed() {
    let mut w = World::new(&production());
    let dir = w.dir("trust");
    w.kv(&dir, &["trust", "update"]).code(0);
    w.repo.rotate_root();
    w.repo.serve(&w.server);
    let run = w.kv(&dir, &["trust", "update"]);
    run.code(0);
    assert!(run.stdout.contains("root       v1 → v2"), "{}", run.stdout);
    // Every later load re-verifies the chain from the pinned v1.
    assert_eq!(w.show(&dir)["cache"]["versions"]["root"], 2);
}

#[test]
fn a_tampered_cache_is_never_trusted_because_it_is_on_disk() {
    let w = World::new(&test_root());
    let dir = w.dir("trust");
    w.kv(&dir, &["trust", "update"]).code(0);
    let current = dir.join(std::fs::read_link(dir.join("current")).unwrap());
    let cached = current.join("targets/trusted_root.json");
    let forged = production();
    std::fs::write(&cached, &forged).unwrap();

    let run = w.kv(&dir, &["trust", "show", "--json"]);
    run.code(0);
    let show: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(show["source"], "built-in");
    assert_eq!(show["cache"]["status"], "invalid");
    assert!(run.stderr.contains("does not verify"), "{}", run.stderr);
    // Pinned to another root (here the built-in Sigstore one), the same cache does not verify.
    std::fs::write(&cached, w.repo.target()).unwrap();
    let mut cmd = kverify_cmd();
    cmd.env("KVERIFY_TRUST_DIR", &dir).args(["trust", "show", "--json"]);
    let other = run_json(cmd);
    assert_eq!(other["cache"]["status"], "invalid");
    assert_eq!(w.show(&dir)["source"], "tuf-cache", "restored, it verifies again");
}

fn run_json(cmd: std::process::Command) -> serde_json::Value {
    let run = run(cmd);
    run.code(0);
    serde_json::from_str(&run.stdout).unwrap()
}

#[test]
fn server_down_update_is_exit_3_the_cache_untouched_and_show_answers() {
    let w = World::new(&test_root());
    let dir = w.dir("trust");
    w.kv(&dir, &["trust", "update"]).code(0);
    let before = tree(&dir);
    let closed = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let mut cmd = kverify_cmd();
    cmd.env("KVERIFY_TRUST_DIR", &dir).args(["trust", "update", "--tuf-url", &closed, "--tuf-root"]).arg(w.root_file());
    let down = run(cmd);
    down.code(3);
    assert!(down.stderr.contains(&format!("cannot reach the TUF repository at {closed}")), "{}", down.stderr);
    assert_eq!(tree(&dir), before);
    assert_eq!(w.show(&dir)["sha256"], sha256_hex(w.repo.target()));
}

#[test]
fn offline_makes_no_connection() {
    let w = World::new(&test_root());
    let dir = w.dir("trust");
    w.kv(&dir, &["trust", "update"]).code(0);
    let before = (tree(&dir), w.server.requests().len());

    let offline = w.kv(&dir, &["trust", "update", "--offline"]);
    offline.code(3);
    assert!(offline.stderr.contains("--offline"), "{}", offline.stderr);
    w.kv_env(&dir, &["trust", "update"], &[("KVERIFY_OFFLINE", "1")]).code(3);
    let show = w.kv_env(&dir, &["trust", "show", "--json"], &[("KVERIFY_OFFLINE", "1")]);
    show.code(0);
    assert!(show.stdout.contains(&sha256_hex(w.repo.target())), "{}", show.stdout);
    let mut off = kverify_cmd();
    off.env("KVERIFY_TRUST_DIR", &dir).args(["trust", "update"]);
    run(off).code(3);
    assert_eq!((tree(&dir), w.server.requests().len()), before, "a connection, or the cache changed");
    // KVERIFY_OFFLINE=0 is not offline.
    w.kv_env(&dir, &["trust", "update"], &[("KVERIFY_OFFLINE", "0")]).code(0);
}

#[test]
fn as_of_imports_an_expired_copy_and_never_a_future_time() {
    let mut repo = TufRepo::new(&production());
    repo.timestamp_lifetime = SignedDuration::from_hours(-24);
    let target = test_root();
    repo.publish(&target);
    let w = World::with(repo);
    let dir = w.dir("trust");
    std::fs::create_dir(&dir).unwrap();

    let expired = w.kv(&dir, &["trust", "update"]);
    expired.code(1);
    assert!(expired.stderr.contains("timestamp metadata expired"), "{}", expired.stderr);
    assert_eq!(tree(&dir), Vec::<String>::new(), "nothing written");

    let future = Timestamp::now().checked_add(SignedDuration::from_hours(48)).unwrap().to_string();
    w.kv(&dir, &["trust", "update", "--as-of", &future]).code(2);
    w.kv(&dir, &["trust", "update", "--as-of", "two days ago"]).code(2);
    assert_eq!(tree(&dir), Vec::<String>::new(), "nothing written");

    let as_of = Timestamp::now().checked_sub(SignedDuration::from_hours(48)).unwrap();
    let as_of = Timestamp::from_second(as_of.as_second()).unwrap().to_string();
    let import = w.kv(&dir, &["trust", "update", "--as-of", &as_of]);
    import.code(0);
    assert!(import.stdout.contains(&format!("expiry judged as of {as_of}")), "{}", import.stdout);
    let show = w.kv(&dir, &["trust", "show", "--json"]);
    show.code(0);
    let json: serde_json::Value = serde_json::from_str(&show.stdout).unwrap();
    assert_eq!(json["sha256"], sha256_hex(&target));
    assert_eq!(json["cache"]["stale"], true);
    assert_eq!(json["cache"]["as_of"], as_of.as_str());
    assert!(show.stderr.contains("expired") && show.stderr.contains("kverify trust update"), "{}", show.stderr);
}

#[test]
fn concurrent_updates_leave_one_good_cache() {
    let w = World::new(&test_root());
    let dir = w.dir("trust");
    let children: Vec<_> = (0..3)
        .map(|_| {
            let mut cmd = kverify_cmd();
            cmd.env("KVERIFY_TRUST_DIR", &dir)
                .args(["trust", "update", "--tuf-url", &w.url, "--tuf-root"])
                .arg(w.root_file())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null());
            cmd.spawn().unwrap()
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    assert_eq!(w.show(&dir)["source"], "tuf-cache");
    let states = std::fs::read_dir(&dir)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().starts_with("tuf-"))
        .count();
    assert_eq!(states, 1, "old states are removed: {:?}", tree(&dir));
}

/// kubectl v1.29.4 published on its own server, signed by `sigstore` as the Kubernetes
/// release signer (`.sig`/`.cert` beside it, no SBOM).
fn signed_release(sigstore: &TestSigstore, data: &[u8]) -> Server {
    let server = Server::start();
    crate::support::releases::publish_k8s(&server, "v1.29.4", "kubectl", data);
    let pair = sigstore.sign(data, &Leaf::kubernetes());
    let path = crate::support::releases::k8s_path("v1.29.4", "kubectl");
    server.put(&format!("{path}.sig"), pair.sig);
    server.put(&format!("{path}.cert"), pair.cert);
    server
}

#[test]
fn fetch_refreshes_the_trusted_root_by_itself_after_a_rotation() {
    let sigstore = TestSigstore::new();
    let data = crate::support::bytes(21, 80_000);
    let release = signed_release(&sigstore, &data);
    let mut w = World::new(&production());
    let dir = w.dir("trust");
    w.kv(&dir, &["trust", "update"]).code(0);
    // Sigstore rotates: the repository now publishes a root with the new CA and log.
    let rotated = sigstore.trusted_root_json();
    w.publish(rotated.as_bytes());
    let dest = tempdir();
    let mirror = format!("--mirror=https://dl.k8s.io={}", release.base());
    let dest_arg = dest.path().display().to_string();
    let args = ["fetch", "kubectl", "v1.29.4", "--dest", &dest_arg, &mirror, "--os=linux", "--arch=amd64"];
    let run = w.kv(&dir, &[&args[..], &["--no-progress"]].concat());
    run.code(0);
    assert_eq!(std::fs::read(dest.path().join("kubectl")).unwrap(), data);
    assert_eq!(w.show(&dir)["sha256"], sha256_hex(rotated.as_bytes()), "the refreshed root is the one cached");
}

#[test]
fn fetch_offline_reads_a_mirror_on_disk_and_never_the_network() {
    let w = World::new(&test_root());
    let dir = w.dir("trust");
    let before = w.server.requests().len();
    let dest = tempdir();
    let dest_arg = dest.path().display().to_string();
    // A Kubernetes release below signing: nothing to verify a signature of, nothing fetched.
    let files = w.tmp.path().join("up/release/v1.25.4/bin/linux/amd64");
    std::fs::create_dir_all(&files).unwrap();
    std::fs::write(files.join("kubectl"), b"kubectl").unwrap();
    std::fs::write(files.join("kubectl.sha256"), sha256_hex(b"kubectl")).unwrap();
    let mirror = format!("--mirror=https://dl.k8s.io=file://{}", w.tmp.path().join("up").display());
    let args = ["fetch", "kubectl", "v1.25.4", "--dest", &dest_arg, &mirror, "--os=linux", "--arch=amd64", "--offline"];
    std::fs::write(files.join("kubectl.sha512"), crate::support::sha512_hex(b"kubectl")).unwrap();
    w.kv(&dir, &args).code(0);
    // Online would have asked for release/v1.25.4/...; offline, an http mirror is refused.
    let http = format!("--mirror=https://dl.k8s.io={}", w.server.base());
    let run = w.kv(&dir, &["fetch", "kubectl", "v1.25.4", "--dest", &dest_arg, &http, "--offline"]);
    run.code(3);
    assert!(run.stdout.contains("--offline allows no network"), "{}", run.stdout);
    assert_eq!(w.server.requests().len(), before, "no connection was made");
}

#[test]
fn mirror_writes_the_tuf_repository_it_used_and_a_site_imports_it() {
    let sigstore = TestSigstore::new();
    let data = crate::support::bytes(22, 60_000);
    let release = signed_release(&sigstore, &data);
    let root_json = sigstore.trusted_root_json();
    let w = World::new(root_json.as_bytes());
    let online = w.dir("online");
    w.kv(&online, &["trust", "update"]).code(0);
    let to = w.tmp.path().join("mirror");
    let mirror = format!("--mirror=https://dl.k8s.io={}", release.base());
    let to_arg = to.display().to_string();
    let args = ["mirror", "kubectl@v1.29.4", "--to", &to_arg, &mirror, "--os=linux", "--arch=amd64", "--no-rekor"];
    let run = w.kv(&online, &args);
    run.code(0);
    assert!(run.stdout.contains("TUF repository (root v1"), "{}", run.stdout);
    let tuf = to.join("tuf-repo-cdn.sigstore.dev");
    assert!(tuf.join("1.root.json").is_file() && tuf.join("timestamp.json").is_file());
    let target = tuf.join(format!("targets/{}.trusted_root.json", sha256_hex(root_json.as_bytes())));
    assert_eq!(std::fs::read(target).unwrap(), root_json.as_bytes());

    // The air-gapped site: its own trust directory, the mirror on disk, no server.
    let site = w.dir("site");
    let mut cmd = kverify_cmd();
    cmd.env("KVERIFY_TRUST_DIR", &site).env_remove("KVERIFY_TUF_URL");
    cmd.args(["trust", "update", "--tuf-url", &format!("file://{}", tuf.display())]);
    cmd.arg("--tuf-root").arg(w.root_file());
    run_ok(cmd);
    assert_eq!(w.show(&site)["sha256"], sha256_hex(root_json.as_bytes()));
}

#[test]
fn a_lock_records_the_trusted_root_that_verified_each_signature() {
    let sigstore = TestSigstore::new();
    let data = crate::support::bytes(23, 60_000);
    let release = signed_release(&sigstore, &data);
    let root_json = sigstore.trusted_root_json();
    let w = World::new(root_json.as_bytes());
    let dir = w.dir("trust");
    w.kv(&dir, &["trust", "update"]).code(0);
    let lock = w.tmp.path().join("kverify.lock");
    let lock_arg = lock.display().to_string();
    let mirror = format!("--mirror=https://dl.k8s.io={}", release.base());
    let args = ["lock", "kubectl@v1.29.4", "--platform=linux/amd64", "-o", &lock_arg, &mirror, "--no-rekor"];
    w.kv(&dir, &args).code(0);
    let text = std::fs::read_to_string(&lock).unwrap();
    assert!(text.contains(&format!("trusted_root = \"sha256:{}\"", sha256_hex(root_json.as_bytes()))), "{text}");
}

fn run_ok(cmd: std::process::Command) {
    let run = run(cmd);
    run.code(0);
}

/// Issue 16's gap: a newline inside a field of `trust` text (here the trust directory
/// the operator named) started a line of its own, forging one. Every line is escaped
/// whole: the path shows `\n` and no forged line appears.
#[test]
fn a_newline_in_a_trust_field_forges_no_line() {
    let w = World::new(&production());
    let dir = w.dir("x\nsha256     forged");
    let forged = |out: &str| out.lines().any(|l| l.starts_with("sha256     forged"));

    let update = w.kv(&dir, &["trust", "update"]);
    update.code(0);
    assert!(update.stdout.contains("x\\nsha256     forged"), "{}", update.stdout);
    assert!(!forged(&update.stdout), "{}", update.stdout);

    let show = w.kv(&dir, &["trust", "show"]);
    show.code(0);
    assert!(show.stdout.contains("cache      ") && show.stdout.contains("x\\nsha256     forged"), "{}", show.stdout);
    assert!(!forged(&show.stdout), "{}", show.stdout);
    assert_eq!(w.show(&dir)["trust_dir"], dir.to_str().unwrap(), "JSON stays exact");
}
