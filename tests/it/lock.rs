//! `lock`, `mirror`, `identify`, and offline `fetch --lock` / `verify --lock`, against
//! upstream-shaped trees served from `file://` (so "no network" can be proven).

use std::net::TcpListener;
use std::path::{Path, PathBuf};

use crate::support::*;

const K8S: &str = "https://dl.k8s.io";
const PLATFORM: [&str; 4] = ["--os", "linux", "--arch", "amd64"];
const SKIP: &str = "--insecure-skip-signature";

/// A dl.k8s.io-shaped tree for one binary: the file plus bare-hex `.sha256`/`.sha512`
/// without a newline, as dl.k8s.io publishes them.
fn k8s_release(root: &Path, version: &str, name: &str, data: &[u8]) -> PathBuf {
    let dir = format!("release/{version}/bin/linux/amd64");
    write(root, &format!("{dir}/{name}.sha256"), sha256_hex(data));
    write(root, &format!("{dir}/{name}.sha512"), sha512_hex(data));
    write(root, &format!("{dir}/{name}"), data)
}

/// An etcd release tarball with its SHA256SUMS, as GitHub serves it.
fn etcd_release(root: &Path, version: &str, files: &[(&str, Vec<u8>)]) {
    let top = format!("etcd-{version}-linux-amd64");
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast()));
    for (name, data) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o755);
        header.set_cksum();
        tar.append_data(&mut header, format!("{top}/{name}"), &data[..]).unwrap();
    }
    let gz = tar.into_inner().unwrap().finish().unwrap();
    let dir = format!("etcd-io/etcd/releases/download/{version}");
    let file = format!("{top}.tar.gz");
    write(root, &format!("{dir}/SHA256SUMS"), format!("{}  {file}\n", sha256_hex(&gz)));
    write(root, &format!("{dir}/{file}"), gz);
}

fn mirror_flag(upstream: &str, base: &Path) -> String {
    format!("--mirror={upstream}=file://{}", base.display())
}

/// A TCP listener standing in for every proxy: if kverify opened any connection, it
/// would land here.
struct Tripwire(TcpListener);

impl Tripwire {
    fn new() -> Tripwire {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        Tripwire(listener)
    }

    fn url(&self) -> String {
        format!("http://{}", self.0.local_addr().unwrap())
    }

    /// Runs kverify with every proxy variable pointing at the tripwire.
    fn run(&self, args: &[String]) -> Run {
        let mut cmd = kverify_cmd();
        for var in ["http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"] {
            cmd.env(var, self.url());
        }
        cmd.env_remove("NO_PROXY").env_remove("no_proxy");
        Run::from(cmd.args(args).output().unwrap())
    }

    fn connections(&self) -> usize {
        std::iter::from_fn(|| self.0.accept().ok()).count()
    }
}

fn args(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| s.to_string()).collect()
}

struct World {
    tmp: tempfile::TempDir,
    data: Vec<u8>,
}

impl World {
    fn new() -> World {
        let tmp = tempdir();
        let data = bytes(7, 300_000);
        k8s_release(&tmp.path().join("up"), "v1.29.4", "kubectl", &data);
        World { tmp, data }
    }
    fn p(&self, rel: &str) -> PathBuf {
        self.tmp.path().join(rel)
    }
    fn s(&self, rel: &str) -> String {
        self.p(rel).display().to_string()
    }
    fn lock(&self, extra: &[&str]) -> Run {
        let mut a = args(&["lock", "kubectl@v1.29.4", "--platform", "linux/amd64", SKIP, "-o"]);
        a.push(self.s("kverify.lock"));
        a.push(mirror_flag(K8S, &self.p("up")));
        a.extend(args(extra));
        kverify(a)
    }
}

#[test]
fn lock_then_fetch_and_verify_offline_with_zero_connections() {
    let w = World::new();
    w.lock(&[]).code(0);
    let lock = std::fs::read_to_string(w.p("kverify.lock")).unwrap();
    assert!(lock.contains(&format!("sha256 = \"{}\"", sha256_hex(&w.data))), "{lock}");
    // `.sha256` and `.sha512` are two files: nothing ties the second to the same bytes.
    assert!(!lock.contains("sha512 ="), "{lock}");
    assert!(
        lock.contains("url = \"https://dl.k8s.io/release/v1.29.4/bin/linux/amd64/kubectl\""),
        "upstream URL, never the mirror's"
    );
    assert!(!lock.contains("file://"));

    let mut m = args(&["mirror", "kubectl@v1.29.4", SKIP, "--to"]);
    m.push(w.s("mir"));
    m.push(mirror_flag(K8S, &w.p("up")));
    m.extend(args(&PLATFORM));
    let run = kverify(m);
    run.code(0);
    assert!(run.stdout.contains("1 added"), "{}", run.stdout);
    let mirrored = w.p("mir/dl.k8s.io/release/v1.29.4/bin/linux/amd64");
    assert_eq!(std::fs::read(mirrored.join("kubectl")).unwrap(), w.data);
    assert_eq!(std::fs::read_to_string(mirrored.join("kubectl.sha256")).unwrap(), sha256_hex(&w.data));
    assert_eq!(mode(&mirrored.join("kubectl")), 0o644);

    // The upstream is gone; only the lock and the file:// mirror remain.
    std::fs::remove_dir_all(w.p("up")).unwrap();
    std::fs::create_dir(w.p("dest")).unwrap();
    let wire = Tripwire::new();
    let mut f = args(&["fetch", "kubectl", "v1.29.4", "--locked", "--lock"]);
    f.extend([w.s("kverify.lock"), "--dest".into(), w.s("dest"), mirror_flag(K8S, &w.p("mir/dl.k8s.io"))]);
    f.extend(args(&PLATFORM));
    let run = wire.run(&f);
    run.code(0);
    assert_eq!(std::fs::read(w.p("dest/kubectl")).unwrap(), w.data);
    assert_eq!(mode(&w.p("dest/kubectl")), 0o755);
    assert!(run.stdout.contains(&format!("pin={}", w.s("kverify.lock"))), "{}", run.stdout);

    let run = wire.run(&["verify".into(), w.s("dest/kubectl"), "--lock".into(), w.s("kverify.lock")]);
    run.code(0);
    assert_eq!(wire.connections(), 0, "fetch --locked and verify --lock must not touch the network");

    // The tripwire does catch a run that goes online: without the lock, fetch asks the
    // (proxied) upstream for checksums.
    let mut online = args(&["fetch", "kubectl", "v1.29.4", SKIP, "--timeout", "1", "--dest"]);
    online.push(w.s("dest"));
    online.extend(args(&PLATFORM));
    wire.run(&online).code(3);
    assert!(wire.connections() > 0, "the tripwire saw no connection from an online run");
}

#[test]
fn a_lock_that_disagrees_with_the_mirror_fails_closed() {
    let w = World::new();
    w.lock(&[]).code(0);
    let mut tampered = w.data.clone();
    tampered[5] ^= 1;
    k8s_release(&w.p("up"), "v1.29.4", "kubectl", &tampered); // checksums re-made too: only the lock knows
    std::fs::create_dir(w.p("dest")).unwrap();
    write(&w.p("dest"), "kubectl", b"previous");
    let mut f = args(&["fetch", "kubectl", "v1.29.4", "--locked", "--lock"]);
    f.extend([w.s("kverify.lock"), "--dest".into(), w.s("dest"), mirror_flag(K8S, &w.p("up")), "--no-progress".into()]);
    f.extend(args(&PLATFORM));
    let run = kverify(f);
    run.code(1);
    assert!(run.stdout.contains("sha256 mismatch"), "{}", run.stdout);
    assert!(
        run.stdout.contains(&format!("(from {} (kubectl v1.29.4 linux/amd64))", w.s("kverify.lock"))),
        "{}",
        run.stdout
    );
    assert_eq!(listing(&w.p("dest")), ["kubectl"]);
    assert_eq!(std::fs::read(w.p("dest/kubectl")).unwrap(), b"previous");
}

#[test]
fn locked_refuses_an_artifact_with_no_pin() {
    let w = World::new();
    w.lock(&[]).code(0);
    k8s_release(&w.p("up"), "v1.29.4", "kubelet", &bytes(9, 1000));
    std::fs::create_dir(w.p("dest")).unwrap();
    let mut f = args(&["fetch", "kubelet", "v1.29.4", "--locked", SKIP, "--lock"]);
    f.extend([w.s("kverify.lock"), "--dest".into(), w.s("dest"), mirror_flag(K8S, &w.p("up"))]);
    f.extend(args(&PLATFORM));
    let run = kverify(f);
    run.code(1);
    assert!(run.stdout.contains("has no pin in"), "{}", run.stdout);
    assert!(listing(&w.p("dest")).is_empty());
}

#[test]
fn lock_is_deterministic_and_check_reports_drift() {
    let w = World::new();
    w.lock(&[]).code(0);
    let first = std::fs::read(w.p("kverify.lock")).unwrap();
    w.lock(&[]).code(0);
    assert_eq!(std::fs::read(w.p("kverify.lock")).unwrap(), first, "same upstream, same bytes");

    let check = || {
        let mut a = args(&["lock", "--check", SKIP, "-o"]);
        a.push(w.s("kverify.lock"));
        a.push(mirror_flag(K8S, &w.p("up")));
        kverify(a)
    };
    let run = check();
    run.code(0);
    assert!(run.stdout.contains("unchanged since"), "{}", run.stdout);

    // A re-uploaded release: new bytes, new checksums. Exactly what a lock must catch.
    k8s_release(&w.p("up"), "v1.29.4", "kubectl", &bytes(8, 300_000));
    let run = check();
    run.code(1);
    assert!(run.line_with("kubectl").contains("changed upstream"), "{}", run.stdout);
    assert!(run.stdout.contains(&format!("expected  sha256:{}", sha256_hex(&w.data))), "{}", run.stdout);
    assert_eq!(std::fs::read(w.p("kverify.lock")).unwrap(), first, "--check changes nothing");
}

#[test]
fn identify_names_known_files_and_fails_unknown_ones() {
    let w = World::new();
    w.lock(&[]).code(0);
    let mystery = write(w.tmp.path(), "mystery", &w.data);
    let unknown = write(w.tmp.path(), "unknown", b"nothing like it");
    let run = kverify(["identify".as_ref(), mystery.as_os_str(), "--lock".as_ref(), w.p("kverify.lock").as_os_str()]);
    run.code(0);
    assert!(run.line_with("mystery").contains("kubectl v1.29.4 linux/amd64"), "{}", run.stdout);
    let run = kverify([
        "identify".as_ref(),
        mystery.as_os_str(),
        unknown.as_os_str(),
        "--lock".as_ref(),
        w.p("kverify.lock").as_os_str(),
    ]);
    run.code(1);
    assert!(run.line_with("unknown").starts_with("FAIL"));
    assert!(run.line_with("unknown").contains("matches no artifact"));

    let sums = write(w.tmp.path(), "SHA512SUMS", format!("{}  bin/linux/amd64/kubectl\n", sha512_hex(&w.data)));
    let run = kverify(["identify".as_ref(), mystery.as_os_str(), "--checksums".as_ref(), sums.as_os_str()]);
    run.code(0);
    assert!(run.line_with("mystery").contains("is bin/linux/amd64/kubectl"), "{}", run.stdout);
}

#[test]
fn a_corrupt_or_hand_edited_lock_gets_a_clear_error() {
    let w = World::new();
    w.lock(&[]).code(0);
    let text = std::fs::read_to_string(w.p("kverify.lock")).unwrap();
    let file = write(w.tmp.path(), "x", b"x");
    let cases = [
        (text.replace("sha256 = \"", "sha256 = \"zz"), "artifact 1 (kubectl v1.29.4): sha256:"),
        (text.replace("platform = \"linux/amd64\"", "platform = linux"), "TOML parse error at line"),
        (text.replace("version = 1", "version = 2"), "format version 2; this kverify reads version 1"),
        ("garbage".to_string(), "TOML parse error"),
    ];
    for (bad, want) in cases {
        let lock = write(w.tmp.path(), "bad.lock", bad);
        let run = kverify(["verify".as_ref(), file.as_os_str(), "--lock".as_ref(), lock.as_os_str()]);
        run.code(1);
        assert!(run.stderr.contains(want), "want {want:?} in\n{}", run.stderr);
        assert!(run.stderr.contains("bad.lock"), "{}", run.stderr);
    }
}

#[test]
fn mirror_twice_adds_nothing_the_second_time_and_refuses_tampered_upstreams() {
    let w = World::new();
    let mirror = || {
        let mut m = args(&["mirror", "kubectl@v1.29.4", SKIP, "--to"]);
        m.extend([w.s("mir"), mirror_flag(K8S, &w.p("up"))]);
        m.extend(args(&PLATFORM));
        kverify(m)
    };
    mirror().code(0);
    let run = mirror();
    run.code(0);
    assert!(run.stdout.contains("0 added"), "{}", run.stdout);
    assert!(run.stdout.contains("already mirrored and verified"), "{}", run.stdout);

    // The upstream now serves other bytes under the old checksums: nothing is written.
    let target = w.p("up/release/v1.29.4/bin/linux/amd64/kubectl");
    std::fs::write(&target, bytes(99, 300_000)).unwrap();
    std::fs::remove_dir_all(w.p("mir")).unwrap();
    let run = mirror();
    run.code(1);
    assert!(!w.p("mir/dl.k8s.io/release/v1.29.4/bin/linux/amd64/kubectl").exists());
    let leftovers: Vec<String> = listing(&w.p("mir/dl.k8s.io/release/v1.29.4/bin/linux/amd64"));
    assert!(leftovers.is_empty(), "nothing unverified, no partial files: {leftovers:?}");
}

#[test]
fn archives_pin_their_binaries_for_audits() {
    let w = World::new();
    let files = vec![("etcd", bytes(1, 5000)), ("etcdctl", bytes(2, 4000)), ("etcdutl", bytes(3, 3000))];
    etcd_release(&w.p("gh"), "v3.5.12", &files);
    let mut a = args(&["lock", "etcd@3.5.12", "--platform", "linux/amd64", "-o"]);
    a.extend([w.s("kverify.lock"), mirror_flag("https://github.com", &w.p("gh"))]);
    kverify(a).code(0);
    let lock = std::fs::read_to_string(w.p("kverify.lock")).unwrap();
    assert!(lock.contains("[[artifact.file-in-archive]]"), "{lock}");
    // An installed etcdctl verifies against the lock by its name.
    let installed = write(w.tmp.path(), "bin/etcdctl", &files[1].1);
    let run = kverify(["verify".as_ref(), installed.as_os_str(), "--lock".as_ref(), w.p("kverify.lock").as_os_str()]);
    run.code(0);
    assert!(run.line_with("etcdctl").contains("etcd v3.5.12 linux/amd64"), "{}", run.stdout);
    let swapped = write(w.tmp.path(), "bin2/etcdctl", &files[0].1);
    kverify(["verify".as_ref(), swapped.as_os_str(), "--lock".as_ref(), w.p("kverify.lock").as_os_str()]).code(1);
}

/// Serves every file under `dir` at its relative path.
fn serve_tree(server: &crate::support::server::Server, dir: &Path) {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                server.put(&rel, std::fs::read(&path).unwrap());
            }
        }
    }
}

#[test]
fn a_mirror_served_by_any_static_server_reproduces_a_full_fetch() {
    let w = World::new();
    let files = vec![("etcd", bytes(11, 5000)), ("etcdctl", bytes(12, 4000)), ("etcdutl", bytes(13, 3000))];
    etcd_release(&w.p("gh"), "v3.5.12", &files);
    let mut m = args(&["mirror", "kubectl@v1.29.4", "etcd@3.5.12", SKIP, "--to"]);
    m.extend([w.s("mir"), mirror_flag(K8S, &w.p("up")), mirror_flag("https://github.com", &w.p("gh"))]);
    m.extend(args(&PLATFORM));
    let run = kverify(m);
    run.code(0);
    assert!(run.stdout.contains("2 added"), "{}", run.stdout);

    // The air-gapped site: a plain static server over the mirror tree, nothing else.
    let server = crate::support::server::Server::start();
    serve_tree(&server, &w.p("mir"));
    std::fs::create_dir(w.p("dest")).unwrap();
    let mut f = args(&["fetch", "kubectl@v1.29.4", "etcd@3.5.12", SKIP, "--no-progress", "--dest"]);
    f.extend([
        w.s("dest"),
        format!("--mirror=https://dl.k8s.io={}/dl.k8s.io", server.base()),
        format!("--mirror=https://github.com={}/github.com", server.base()),
    ]);
    f.extend(args(&PLATFORM));
    kverify(f).code(0);
    assert_eq!(std::fs::read(w.p("dest/kubectl")).unwrap(), w.data);
    for (name, data) in &files {
        assert_eq!(&std::fs::read(w.p("dest").join(name)).unwrap(), data, "{name}");
        assert_eq!(mode(&w.p("dest").join(name)), 0o755);
    }
    assert!(server.paths().iter().all(|p| p.starts_with("/dl.k8s.io/") || p.starts_with("/github.com/")));
}

/// A lock that pins nothing (an empty one, or one for another platform) verifies
/// nothing: `verify --lock` and `node --lock` fail, exit 1, never pass vacuously.
#[test]
fn an_empty_lock_or_one_for_another_platform_verifies_nothing_exit_1() {
    let w = World::new();
    w.lock(&[]).code(0);
    let empty = w.p("empty.lock");
    std::fs::write(&empty, kverify::lock::Lock::new("sha256:0123456789abcdef".into()).to_text()).unwrap();
    let file = k8s_release(&w.p("up"), "v1.29.4", "kubectl", &w.data);
    let root = w.p("node-root");
    std::fs::create_dir(&root).unwrap();
    let (file, root, empty, lock) =
        (file.display().to_string(), root.display().to_string(), empty.display().to_string(), w.s("kverify.lock"));

    for run in [kverify(["verify", &file, "--lock", &empty]), kverify(["node", "--root", &root, "--lock", &empty])] {
        run.code(1);
        assert!(run.stderr.contains(&format!("lock {empty} pins nothing")), "{run:?}");
        assert!(run.stderr.contains("kverify lock COMPONENT VERSION"), "the next step is named\n{run:?}");
    }
    let arm = ["--os", "linux", "--arch", "arm64"];
    for run in [
        kverify([&["verify", &file, "--lock", &lock][..], &arm].concat()),
        kverify([&["node", "--root", &root, "--lock", &lock][..], &arm].concat()),
    ] {
        run.code(1);
        assert!(run.stderr.contains(&format!("lock {lock} pins nothing for linux/arm64")), "{run:?}");
        assert!(run.stderr.contains("it pins linux/amd64"), "{run:?}");
        assert!(run.stdout.is_empty(), "nothing is reported as checked\n{run:?}");
    }
}

/// A mirror serves the real `.sha256` and a `.sha512` of other bytes: `lock` must not
/// pin two digests no evidence ties to the same file (a check by SHA-512 would then
/// pass the mirror's bytes). A SHA-512 is pinned when one source lists both, or from
/// the bytes themselves.
#[test]
fn lock_never_pins_a_sha512_that_no_evidence_ties_to_the_sha256() {
    let w = World::new();
    let evil = bytes(66, 300_000);
    write(&w.p("up"), "release/v1.29.4/bin/linux/amd64/kubectl.sha512", sha512_hex(&evil));
    let run = w.lock(&[]);
    run.code(0);
    assert!(run.stdout.contains("sha512 not pinned: no one source lists it with the sha256"), "{}", run.stdout);
    let lock = std::fs::read_to_string(w.p("kverify.lock")).unwrap();
    assert!(lock.contains(&sha256_hex(&w.data)), "{lock}");
    assert!(!lock.contains(&sha512_hex(&evil)) && !lock.contains("sha512 ="), "{lock}");

    // The evil bytes, checked by SHA-512 against the lock: nothing vouches for them.
    let file = write(&w.p("evil"), "kubectl", &evil);
    let run = kverify(["verify", &file.display().to_string(), "--lock", &w.s("kverify.lock")]);
    run.code(1);

    // An archive is downloaded to pin the binaries inside: both digests come from its
    // bytes. (A signed SBOM listing both is the other tie: signed_fetch.rs.)
    etcd_release(
        &w.p("up"),
        "v3.5.12",
        &[("etcd", bytes(1, 1000)), ("etcdctl", bytes(2, 1000)), ("etcdutl", bytes(3, 1000))],
    );
    let mut a = args(&["lock", "etcd@v3.5.12", "--platform", "linux/amd64", SKIP, "-o"]);
    a.push(w.s("etcd.lock"));
    a.push(mirror_flag("https://github.com", &w.p("up")));
    kverify(a).code(0);
    let lock = std::fs::read_to_string(w.p("etcd.lock")).unwrap();
    let archive =
        std::fs::read(w.p("up/etcd-io/etcd/releases/download/v3.5.12/etcd-v3.5.12-linux-amd64.tar.gz")).unwrap();
    assert!(lock.contains(&format!("sha512 = \"{}\"", sha512_hex(&archive))), "{lock}");
}

/// A hand-edited pin pointing the download elsewhere (`file:///…` would be read
/// without any --mirror): a lock records where an artifact comes from, it never moves
/// the download. Nothing is read from the pin's URL, nothing installed, exit 1.
#[test]
fn a_pin_whose_url_is_not_the_catalogs_is_refused() {
    let w = World::new();
    w.lock(&[]).code(0);
    let elsewhere = write(&w.p("elsewhere"), "kubectl", &w.data);
    let text = std::fs::read_to_string(w.p("kverify.lock")).unwrap();
    let moved = text.replace(
        "https://dl.k8s.io/release/v1.29.4/bin/linux/amd64/kubectl\"",
        &format!("file://{}\"", elsewhere.display()),
    );
    assert_ne!(moved, text);
    std::fs::write(w.p("kverify.lock"), moved).unwrap();
    std::fs::create_dir(w.p("dest")).unwrap();
    let mut f = args(&["fetch", "kubectl", "v1.29.4", "--locked", "--lock"]);
    f.extend([w.s("kverify.lock"), "--dest".into(), w.s("dest"), mirror_flag(K8S, &w.p("up"))]);
    f.extend(args(&PLATFORM));
    let run = kverify(f);
    run.code(1);
    let line = run.line_with("kubectl");
    assert!(
        line.contains(&format!("the pin for kubectl v1.29.4 linux/amd64 names file://{}", elsewhere.display()))
            && line.contains(
                "but the catalog downloads it from https://dl.k8s.io/release/v1.29.4/bin/linux/amd64/kubectl"
            ),
        "{line}"
    );
    assert!(listing(&w.p("dest")).is_empty());
}

/// `--require-signature` holds for pins too: a lock of an unsigned pin is no way
/// around it, for `fetch --lock` and `verify --lock` alike.
#[test]
fn require_signature_refuses_a_pin_without_a_signature() {
    let w = World::new();
    w.lock(&[]).code(0);
    std::fs::create_dir(w.p("dest")).unwrap();
    let mut f = args(&["fetch", "kubectl", "v1.29.4", "--require-signature", "--locked", "--lock"]);
    f.extend([w.s("kverify.lock"), "--dest".into(), w.s("dest"), mirror_flag(K8S, &w.p("up"))]);
    f.extend(args(&PLATFORM));
    let run = kverify(f);
    run.code(1);
    let message = format!("lock {}: the pin for kubectl v1.29.4 linux/amd64 holds no signature", w.s("kverify.lock"));
    assert!(run.line_with("kubectl").contains(&message), "{}", run.stdout);
    assert!(listing(&w.p("dest")).is_empty());

    let file = w.s("up/release/v1.29.4/bin/linux/amd64/kubectl");
    let run = kverify(["verify", &file, "--require-signature", "--lock", &w.s("kverify.lock")]);
    run.code(1);
    assert!(run.stderr.contains(&message), "{run:?}");
    // Without the flag, the same pin verifies.
    kverify(["verify", &file, "--lock", &w.s("kverify.lock")]).code(0);
}

/// Someone with write access to the mirror's root links `dl.k8s.io` to another
/// directory: `mirror` refuses to write through the link (exit 3) and writes nothing
/// there. The root given with --to may itself be a link.
#[test]
fn mirror_never_writes_through_a_linked_directory_under_to() {
    let w = World::new();
    std::fs::create_dir_all(w.p("mir")).unwrap();
    std::fs::create_dir_all(w.p("elsewhere")).unwrap();
    std::os::unix::fs::symlink(w.p("elsewhere"), w.p("mir/dl.k8s.io")).unwrap();
    let mirror = |to: &str| {
        let mut m = args(&["mirror", "kubectl@v1.29.4", SKIP, "--to", to]);
        m.push(mirror_flag(K8S, &w.p("up")));
        m.extend(args(&PLATFORM));
        kverify(m)
    };
    let run = mirror(&w.s("mir"));
    run.code(3);
    let said = format!("{}{}", run.stdout, run.stderr);
    assert!(said.contains(&format!("{} is a symbolic link to {}", w.s("mir/dl.k8s.io"), w.s("elsewhere"))), "{run:?}");
    assert!(said.contains("refusing to write the mirror through it"), "{run:?}");
    assert!(listing(&w.p("elsewhere")).is_empty());

    std::os::unix::fs::symlink(w.p("real-root"), w.p("linked-root")).unwrap();
    std::fs::create_dir(w.p("real-root")).unwrap();
    mirror(&w.s("linked-root")).code(0);
    assert_eq!(std::fs::read(w.p("real-root/dl.k8s.io/release/v1.29.4/bin/linux/amd64/kubectl")).unwrap(), w.data);
}
