//! `kverify node` on fake hosts: roots built in temp dirs with binaries of the right and
//! wrong bytes, modes, owners, links and units, audited against a lock or a release.

use std::io::Read;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kverify::digest::Digest;
use kverify::lock::{Lock, Pin, PinnedFile};
use kverify::platform::Platform;
use kverify::subject::Subject;
use kverify::version::Version;
use serde_json::Value;

use crate::support::*;

/// Whether this process can own files as root and chown them; the audit fails every file
/// a non-root user owns, so most of these tests need it (CI runs as root).
fn is_root() -> bool {
    let dir = tempdir();
    let probe = write(dir.path(), "probe", b"");
    std::fs::metadata(probe).unwrap().uid() == 0
}

macro_rules! require_root {
    () => {
        if !is_root() {
            eprintln!("skipped: needs root (the audit fails files not owned by uid 0)");
            return;
        }
    };
}

/// A host's root in a temp dir, and a lock beside it.
struct Host {
    dir: tempfile::TempDir,
}

impl Host {
    fn new() -> Host {
        let host = Host { dir: tempdir() };
        std::fs::create_dir(host.root()).unwrap();
        for d in ["root/usr/bin", "root/usr/local/bin"] {
            host.mkdir(d.strip_prefix("root/").unwrap(), 0o755);
        }
        host.chmod("", 0o755);
        host
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    fn at(&self, rel: &str) -> PathBuf {
        self.root().join(rel)
    }

    /// Creates `rel` with `mode`, and its missing parents with 0755 (root-owned when run
    /// as root).
    fn mkdir(&self, rel: &str, mode: u32) {
        let mut path = self.root();
        let parts: Vec<_> = Path::new(rel).components().collect();
        for (i, part) in parts.iter().enumerate() {
            path.push(part);
            if !path.exists() {
                std::fs::create_dir(&path).unwrap();
                let mode = if i + 1 == parts.len() { mode } else { 0o755 };
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            }
        }
    }

    fn chmod(&self, rel: &str, mode: u32) {
        std::fs::set_permissions(self.at(rel), std::fs::Permissions::from_mode(mode)).unwrap();
    }

    /// Installs `bytes` at `rel` with mode 0755, parents 0755.
    fn install(&self, rel: &str, bytes: &[u8]) -> PathBuf {
        if let Some(parent) = Path::new(rel).parent() {
            self.mkdir(&parent.to_string_lossy(), 0o755);
        }
        let path = self.at(rel);
        std::fs::write(&path, bytes).unwrap();
        self.chmod(rel, 0o755);
        path
    }

    fn link(&self, rel: &str, target: &str) {
        if let Some(parent) = Path::new(rel).parent() {
            self.mkdir(&parent.to_string_lossy(), 0o755);
        }
        symlink(target, self.at(rel)).unwrap();
    }

    fn lock(&self, pins: Vec<Pin>) -> PathBuf {
        let mut lock = Lock::new("sha256:0123456789abcdef".into());
        pins.into_iter().for_each(|p| lock.put(p));
        let path = self.dir.path().join("kverify.lock");
        std::fs::write(&path, lock.to_text()).unwrap();
        path
    }

    /// `kverify node --root ROOT --lock LOCK --json` plus `extra`, as node `node-1`.
    fn audit_cmd(&self, lock: &Path, extra: &[&str]) -> Command {
        let mut args: Vec<String> =
            vec!["node".into(), "--json".into(), "--root".into(), self.root().display().to_string()];
        args.extend(["--lock".into(), lock.display().to_string()]);
        args.extend(["--os", "linux", "--arch", "amd64"].map(String::from));
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut cmd = kverify_cmd();
        cmd.args(&args).env("KVERIFY_NODE_NAME", "node-1");
        cmd
    }

    /// The audit, which must end within [`DEADLINE`].
    fn audit(&self, lock: &Path, extra: &[&str]) -> Run {
        run_within(self.audit_cmd(lock, extra), DEADLINE, |_| {})
    }

    /// A FIFO at `rel`, parents 0755.
    fn fifo(&self, rel: &str) {
        if let Some(parent) = Path::new(rel).parent() {
            self.mkdir(&parent.to_string_lossy(), 0o755);
        }
        let status = Command::new("mkfifo").arg(self.at(rel)).status().unwrap();
        assert!(status.success(), "mkfifo {rel}");
    }
}

/// How long an audit of a fake host may take before the test calls it a hang.
const DEADLINE: Duration = Duration::from_secs(20);

/// Runs `cmd` to its end, or kills it at `deadline` and fails the test, so a hang fails
/// instead of hanging CI. `during` runs once the process has started, with its pid.
fn run_within(mut cmd: Command, deadline: Duration, during: impl FnOnce(u32)) -> Run {
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = cmd.spawn().expect("start kverify");
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    during(child.id());
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let (stdout, stderr) = (stdout.join().unwrap(), stderr.join().unwrap());
    let Some(status) = status else {
        panic!("kverify still ran after {deadline:?}: a hang\n--- stdout\n{stdout}\n--- stderr\n{stderr}");
    };
    Run { code: status.code().unwrap_or(-1), stdout, stderr }
}

/// Every finding as `(status, check, reason, path)`, sorted: the report's lines, exactly.
fn lines(rows: &[Value]) -> Vec<(String, String, String, String)> {
    let text = |v: &Value| v.as_str().unwrap_or("null").to_string();
    let mut out: Vec<_> =
        rows.iter().map(|r| (text(&r["status"]), text(&r["check"]), text(&r["reason"]), text(&r["path"]))).collect();
    out.sort();
    out
}

#[track_caller]
fn exactly(rows: &[Value], want: &[(&str, &str, &str, &str)]) {
    let mut want: Vec<(String, String, String, String)> =
        want.iter().map(|(a, b, c, d)| (a.to_string(), b.to_string(), c.to_string(), d.to_string())).collect();
    want.sort();
    assert_eq!(lines(rows), want, "{rows:#?}");
}

fn subject(component: &str, version: &str) -> Subject {
    Subject::new(component, Version::parse(version).unwrap(), Platform::parse("linux/amd64").unwrap())
}

fn digest(hex: &str) -> Digest {
    Digest::from_hex(hex).unwrap()
}

/// A Kubernetes binary pinned as it is published: one file.
fn pin(component: &str, version: &str, bytes: &[u8]) -> Pin {
    Pin {
        subject: subject(component, version),
        url: format!("https://dl.k8s.io/release/{version}/bin/linux/amd64/{component}"),
        file: component.into(),
        sha256: digest(&sha256_hex(bytes)),
        sha512: Some(digest(&sha512_hex(bytes))),
        checksums: vec![format!("https://dl.k8s.io/release/{version}/bin/linux/amd64/{component}.sha256")],
        signature: None,
        files: vec![],
    }
}

/// etcd pinned as it is published: an archive, with the binaries inside.
fn etcd_pin(binaries: &[(&str, &[u8])]) -> Pin {
    let archive = "etcd-v3.5.12-linux-amd64.tar.gz";
    Pin {
        subject: subject("etcd", "v3.5.12"),
        url: format!("https://github.com/etcd-io/etcd/releases/download/v3.5.12/{archive}"),
        file: archive.into(),
        sha256: digest(&sha256_hex(b"the archive")),
        sha512: None,
        checksums: vec!["https://github.com/etcd-io/etcd/releases/download/v3.5.12/SHA256SUMS".into()],
        signature: None,
        files: binaries
            .iter()
            .map(|(name, bytes)| PinnedFile {
                name: format!("etcd-v3.5.12-linux-amd64/{name}"),
                sha256: digest(&sha256_hex(bytes)),
                sha512: digest(&sha512_hex(bytes)),
            })
            .collect(),
    }
}

/// The one finding of `check` about the binary at host path `path`.
#[track_caller]
fn finding<'a>(rows: &'a [Value], check: &str, path: &str) -> &'a Value {
    let found: Vec<&Value> = rows.iter().filter(|r| r["check"] == check && r["path"] == path).collect();
    assert_eq!(found.len(), 1, "one {check} finding for {path}, in:\n{rows:#?}");
    found[0]
}

#[track_caller]
fn no_finding(rows: &[Value], check: &str, path: &str) {
    assert!(
        !rows.iter().any(|r| r["check"] == check && r["path"] == path),
        "no {check} finding for {path}:\n{rows:#?}"
    );
}

#[track_caller]
fn says(row: &Value, status: &str, severity: &str, reason: &str) {
    assert_eq!(
        (row["status"].as_str(), row["severity"].as_str(), row["reason"].as_str()),
        (Some(status), Some(severity), Some(reason)),
        "{row:#}"
    );
}

#[test]
fn a_clean_host_verifies_reports_unlisted_and_missing_and_exits_0() {
    require_root!();
    let h = Host::new();
    let (kubectl, kubelet, etcd) = (bytes(1, 70_000), bytes(2, 90_000), bytes(3, 50_000));
    h.install("usr/local/bin/kubectl", &kubectl);
    h.install("usr/bin/kubelet", &kubelet);
    h.install("usr/local/bin/etcd", &etcd);
    h.install("usr/bin/runc", &bytes(4, 3000));
    h.install("usr/bin/bash", &bytes(5, 3000)); // not a node binary: not looked at
    let lock = h.lock(vec![
        pin("kubectl", "v1.29.4", &kubectl),
        pin("kubelet", "v1.29.4", &kubelet),
        pin("kubeadm", "v1.29.4", &bytes(6, 100)),
        etcd_pin(&[("etcd", &etcd), ("etcdctl", &bytes(7, 100))]),
    ]);
    let run = h.audit(&lock, &[]);
    run.code(0);
    let rows = run.json();
    let ok = finding(&rows, "digest", "/usr/local/bin/kubectl");
    says(ok, "ok", "info", "match");
    assert_eq!((ok["component"].as_str(), ok["version"].as_str()), (Some("kubectl"), Some("v1.29.4")));
    assert_eq!(ok["platform"], "linux/amd64");
    assert_eq!(ok["digests"]["sha256"], sha256_hex(&kubectl));
    assert_eq!(ok["evidence"]["pin"], lock.display().to_string());
    assert_eq!(ok["evidence"]["checksum"], "https://dl.k8s.io/release/v1.29.4/bin/linux/amd64/kubectl.sha256");
    assert_eq!(ok["evidence"]["found_by"], serde_json::json!(["search path /usr/local/bin"]));
    assert_eq!((ok["evidence"]["mode"].as_str(), ok["evidence"]["owner"]["uid"].as_u64()), (Some("0755"), Some(0)));
    assert_eq!(ok["node"], "node-1");
    says(finding(&rows, "digest", "/usr/bin/kubelet"), "ok", "info", "match");
    let etcd_row = finding(&rows, "digest", "/usr/local/bin/etcd");
    says(etcd_row, "ok", "info", "match");
    assert_eq!(etcd_row["component"], "etcd");
    let runc = finding(&rows, "digest", "/usr/bin/runc");
    says(runc, "unlisted", "warning", "not-pinned");
    assert!(runc["digests"]["sha256"].is_string(), "an unlisted binary's digest is shown: {runc:#}");
    let missing: Vec<&str> =
        rows.iter().filter(|r| r["status"] == "missing").map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(missing, ["etcdctl", "kubeadm"], "the archive itself is never missing: {rows:#?}");
    assert!(rows.iter().all(|r| r["path"] != "/usr/bin/bash"));
    assert!(!rows.iter().any(|r| r["status"] == "fail"), "{rows:#?}");

    let text = run_text(&h, &lock);
    assert!(text.line_with("/usr/local/bin/kubectl").starts_with("OK       digest"), "{}", text.stdout);
    assert!(text.line_with("kubeadm").starts_with("MISSING"));
    assert!(text.line_with("/usr/bin/runc").starts_with("UNLISTED"));
    assert!(text.stdout.contains("4 binaries checked under"), "{}", text.stdout);
    assert!(text.stdout.contains(": 3 verified, 2 missing, 1 unlisted"), "{}", text.stdout);
}

/// The audit in text (`--json` is a plain flag, so run without it).
fn run_text(h: &Host, lock: &Path) -> Run {
    let root = h.root().display().to_string();
    let lock = lock.display().to_string();
    let mut cmd = kverify_cmd();
    cmd.args(["node", "--root", &root, "--lock", &lock, "--os", "linux", "--arch", "amd64"]);
    run_within(cmd, DEADLINE, |_| {})
}

#[test]
fn a_modified_binary_fails_with_expected_and_computed_digests() {
    let h = Host::new();
    let genuine = bytes(1, 70_000);
    let mut tampered = genuine.clone();
    tampered[4096] ^= 0xff;
    h.install("usr/local/bin/kubectl", &tampered);
    let lock = h.lock(vec![pin("kubectl", "v1.29.4", &genuine)]);
    let run = h.audit(&lock, &[]);
    run.code(1);
    let rows = run.json();
    let row = finding(&rows, "digest", "/usr/local/bin/kubectl");
    says(row, "fail", "critical", "mismatch");
    assert_eq!(row["message"], "sha256 mismatch");
    assert_eq!(row["digests"]["sha256"], sha256_hex(&tampered));

    let text = run_text(&h, &lock);
    text.code(1);
    assert!(text.line_with("/usr/local/bin/kubectl").starts_with("FAIL     digest"), "{}", text.stdout);
    assert!(text.line_with("expected").contains(&format!("sha256:{}  (from {}", sha256_hex(&genuine), lock.display())));
    assert!(text.line_with("computed").contains(&sha256_hex(&tampered)));
    assert!(text.stdout.contains("0 verified, 1 failed"), "{}", text.stdout);
}

#[test]
fn group_and_world_writable_binaries_fail_the_mode_check() {
    require_root!();
    let h = Host::new();
    let (kubectl, kubelet) = (bytes(1, 1000), bytes(2, 1000));
    h.install("usr/local/bin/kubectl", &kubectl);
    h.install("usr/local/bin/kubelet", &kubelet);
    h.chmod("usr/local/bin/kubectl", 0o775);
    h.chmod("usr/local/bin/kubelet", 0o757);
    let lock = h.lock(vec![pin("kubectl", "v1.29.4", &kubectl), pin("kubelet", "v1.29.4", &kubelet)]);
    let run = h.audit(&lock, &[]);
    run.code(1);
    let rows = run.json();
    let group = finding(&rows, "mode", "/usr/local/bin/kubectl");
    says(group, "fail", "critical", "group-writable");
    assert_eq!(group["evidence"]["mode"], "0775");
    let world = finding(&rows, "mode", "/usr/local/bin/kubelet");
    says(world, "fail", "critical", "world-writable");
    assert_eq!(world["evidence"]["mode"], "0757");
    // The bytes are still the pinned ones: the digest check says so on its own line.
    says(finding(&rows, "digest", "/usr/local/bin/kubectl"), "ok", "info", "match");
    no_finding(&rows, "parent-writable", "/usr/local/bin/kubectl");
}

#[test]
fn a_group_writable_parent_directory_fails_every_binary_below_it() {
    require_root!();
    let h = Host::new();
    let (kubectl, kubelet) = (bytes(1, 1000), bytes(2, 1000));
    h.install("usr/local/bin/kubectl", &kubectl);
    h.install("usr/bin/kubelet", &kubelet);
    h.chmod("usr/local", 0o775);
    let lock = h.lock(vec![pin("kubectl", "v1.29.4", &kubectl), pin("kubelet", "v1.29.4", &kubelet)]);
    let run = h.audit(&lock, &[]);
    run.code(1);
    let rows = run.json();
    let row = finding(&rows, "parent-writable", "/usr/local/bin/kubectl");
    says(row, "fail", "critical", "group-writable");
    assert_eq!(
        row["evidence"]["directories"],
        serde_json::json!([{"path": "/usr/local", "uid": 0, "gid": 0, "mode": "0775", "exposure": "group-writable"}])
    );
    no_finding(&rows, "parent-writable", "/usr/bin/kubelet");
    no_finding(&rows, "mode", "/usr/local/bin/kubectl");
}

#[test]
fn a_world_writable_root_is_a_parent_too_but_nothing_above_it_is() {
    require_root!();
    let h = Host::new();
    let kubectl = bytes(1, 1000);
    h.install("usr/local/bin/kubectl", &kubectl);
    let lock = h.lock(vec![pin("kubectl", "v1.29.4", &kubectl)]);
    // The temp dir holding the root is 0700; make it world-writable: above --root, ignored.
    std::fs::set_permissions(h.dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    h.audit(&lock, &[]).code(0);
    h.chmod("", 0o777);
    let run = h.audit(&lock, &[]);
    run.code(1);
    let rows = run.json();
    let row = finding(&rows, "parent-writable", "/usr/local/bin/kubectl");
    assert_eq!(row["evidence"]["directories"][0]["path"], "/");
    std::fs::set_permissions(h.dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
}

#[test]
fn a_sticky_world_writable_directory_is_still_writable() {
    require_root!();
    let h = Host::new();
    let kubectl = bytes(1, 1000);
    h.install("opt/bin/kubectl", &kubectl);
    h.chmod("opt/bin", 0o1777);
    let lock = h.lock(vec![pin("kubectl", "v1.29.4", &kubectl)]);
    let run = h.audit(&lock, &[]);
    run.code(1);
    let rows = run.json();
    let row = finding(&rows, "parent-writable", "/opt/bin/kubectl");
    says(row, "fail", "warning", "sticky-world-writable");
    assert_eq!(row["evidence"]["directories"][0]["mode"], "1777");
    says(finding(&rows, "digest", "/opt/bin/kubectl"), "ok", "info", "match");
}

#[test]
fn a_symlink_into_a_writable_place_fails() {
    require_root!();
    let h = Host::new();
    let (kubectl, kubelet) = (bytes(1, 1000), bytes(2, 1000));
    h.mkdir("var/tmp", 0o1777);
    h.install("var/tmp/kubectl", &kubectl);
    h.link("usr/local/bin/kubectl", "/var/tmp/kubectl");
    h.mkdir("home/ops/bin", 0o755);
    h.install("home/ops/bin/kubelet", &kubelet);
    h.chmod("home/ops/bin", 0o775);
    h.link("usr/bin/kubelet", "../../home/ops/bin/kubelet");
    let lock = h.lock(vec![pin("kubectl", "v1.29.4", &kubectl), pin("kubelet", "v1.29.4", &kubelet)]);
    let run = h.audit(&lock, &[]);
    run.code(1);
    let rows = run.json();
    let row = finding(&rows, "symlink", "/usr/local/bin/kubectl");
    says(row, "fail", "critical", "sticky-world-writable");
    assert_eq!(row["evidence"]["resolved"], "/var/tmp/kubectl");
    assert_eq!(row["evidence"]["links"], serde_json::json!(["/usr/local/bin/kubectl -> /var/tmp/kubectl"]));
    assert_eq!(row["evidence"]["directories"][0]["path"], "/var/tmp");
    let row = finding(&rows, "symlink", "/usr/bin/kubelet");
    says(row, "fail", "critical", "group-writable");
    assert_eq!(row["evidence"]["directories"][0]["path"], "/home/ops/bin");
    // A writable place behind a link is the link's finding, not the path's parents'.
    no_finding(&rows, "parent-writable", "/usr/bin/kubelet");
    says(finding(&rows, "digest", "/usr/bin/kubelet"), "ok", "info", "match");
}

#[test]
fn symlink_targets_resolve_inside_the_root_never_the_auditors_filesystem() {
    require_root!();
    let h = Host::new();
    let (kubectl, kubeadm) = (bytes(1, 1000), bytes(2, 1000));
    // Absolute targets and `..` past the top both stay under --root, as on the host.
    let dir = format!("kverify-test-{}", std::process::id());
    h.install(&format!("{dir}/kubectl"), &kubectl);
    h.install(&format!("{dir}/kubeadm"), &kubeadm);
    assert!(!Path::new("/").join(&dir).exists());
    h.link("usr/local/bin/kubectl", &format!("/{dir}/kubectl"));
    h.link("usr/bin/kubeadm", &format!("../../../../../../../../{dir}/./kubeadm"));
    // A link whose target is the auditor's own file, not the host's: there is none on the host.
    h.link("usr/bin/kubelet", "/etc/hostname");
    let lock = h.lock(vec![pin("kubectl", "v1.29.4", &kubectl), pin("kubeadm", "v1.29.4", &kubeadm)]);
    let run = h.audit(&lock, &[]);
    run.code(0);
    let rows = run.json();
    let row = finding(&rows, "digest", "/usr/local/bin/kubectl");
    says(row, "ok", "info", "match");
    assert_eq!(row["evidence"]["resolved"], format!("/{dir}/kubectl"));
    says(finding(&rows, "digest", "/usr/bin/kubeadm"), "ok", "info", "match");
    let dangling = finding(&rows, "symlink", "/usr/bin/kubelet");
    says(dangling, "missing", "warning", "dangling");
    assert!(dangling["message"].as_str().unwrap().contains("/etc does not exist"), "{dangling:#}");
    no_finding(&rows, "symlink", "/usr/local/bin/kubectl");
}

#[test]
fn binaries_and_directories_not_owned_by_root_fail() {
    require_root!();
    let h = Host::new();
    let (kubectl, kubelet) = (bytes(1, 1000), bytes(2, 1000));
    let file = h.install("usr/local/bin/kubectl", &kubectl);
    std::os::unix::fs::chown(&file, Some(1000), Some(1000)).unwrap();
    h.install("opt/bin/kubelet", &kubelet);
    std::os::unix::fs::chown(h.at("opt/bin"), Some(1000), None).unwrap();
    let lock = h.lock(vec![pin("kubectl", "v1.29.4", &kubectl), pin("kubelet", "v1.29.4", &kubelet)]);
    let run = h.audit(&lock, &[]);
    run.code(1);
    let rows = run.json();
    let row = finding(&rows, "owner", "/usr/local/bin/kubectl");
    says(row, "fail", "critical", "owner-not-root");
    assert_eq!(row["evidence"]["owner"], serde_json::json!({"uid": 1000, "gid": 1000}));
    let row = finding(&rows, "parent-writable", "/opt/bin/kubelet");
    says(row, "fail", "critical", "owner-not-root");
    assert_eq!(row["evidence"]["directories"][0]["uid"], 1000);
    no_finding(&rows, "owner", "/opt/bin/kubelet");
}

#[test]
fn units_name_binaries_in_odd_places() {
    require_root!();
    let h = Host::new();
    let (kubelet, containerd) = (bytes(1, 1000), bytes(2, 1000));
    h.install("opt/k8s/v1.29.4/kubelet", &kubelet);
    h.install("srv/containerd/bin/containerd", &containerd);
    h.install("lib/systemd/system/kubelet.service", b"[Service]\nExecStart=/usr/bin/kubelet\nRestart=always\n");
    h.install(
        "etc/systemd/system/kubelet.service.d/10-kubeadm.conf",
        b"[Service]\nExecStart=\nExecStart=/opt/k8s/v1.29.4/kubelet $KUBELET_KUBECONFIG_ARGS \\\n  $KUBELET_EXTRA_ARGS\n",
    );
    // A unit that is a link with an absolute target into the search path, to its own
    // name: systemd reads the file it links to (read inside the root).
    h.install(
        "usr/lib/systemd/system/containerd.service",
        b"[Service]\nExecStartPre=-/sbin/modprobe overlay\nExecStart=-/srv/containerd/bin/containerd\n",
    );
    h.link("etc/systemd/system/containerd.service", "/usr/lib/systemd/system/containerd.service");
    let lock = h.lock(vec![pin("kubelet", "v1.29.4", &kubelet)]);
    let run = h.audit(&lock, &[]);
    run.code(0);
    let rows = run.json();
    let row = finding(&rows, "digest", "/opt/k8s/v1.29.4/kubelet");
    says(row, "ok", "info", "match");
    assert_eq!(
        row["evidence"]["found_by"],
        serde_json::json!(["unit /etc/systemd/system/kubelet.service.d/10-kubeadm.conf"])
    );
    let row = finding(&rows, "digest", "/srv/containerd/bin/containerd");
    says(row, "unlisted", "warning", "not-pinned");
    assert_eq!(row["evidence"]["found_by"], serde_json::json!(["unit /usr/lib/systemd/system/containerd.service"]));
    // The stock unit names /usr/bin/kubelet, but the drop-in resets ExecStart=: systemd
    // never runs it, and it is not reported.
    assert!(!rows.iter().any(|r| r["path"] == "/usr/bin/kubelet"), "{rows:#?}");
    // A program a unit runs that is not there: reported, not failed.
    let row = finding(&rows, "digest", "/sbin/modprobe");
    says(row, "missing", "warning", "not-installed");
    assert_eq!(row["message"], "named by unit /usr/lib/systemd/system/containerd.service (ExecStartPre), not found");
    // kubelet is installed (found through its unit): not missing as a pin.
    assert!(!rows.iter().any(|r| r["status"] == "missing" && r["path"].is_null()), "{rows:#?}");
}

#[test]
fn a_binary_installed_under_another_name_is_found_by_its_digest() {
    require_root!();
    let h = Host::new();
    let kubelet = bytes(1, 1000);
    h.install("opt/k8s/kubelet-1.29.4", &kubelet);
    h.install("etc/systemd/system/kubelet.service", b"[Service]\nExecStart=/opt/k8s/kubelet-1.29.4\n");
    let lock = h.lock(vec![pin("kubelet", "v1.29.4", &kubelet)]);
    let run = h.audit(&lock, &[]);
    run.code(0);
    let rows = run.json();
    let row = finding(&rows, "digest", "/opt/k8s/kubelet-1.29.4");
    says(row, "ok", "info", "match");
    assert_eq!(row["component"], "kubelet");
    assert!(!rows.iter().any(|r| r["status"] == "missing"), "{rows:#?}");
}

#[test]
fn either_pinned_version_passes_on_a_node_mid_upgrade() {
    require_root!();
    let h = Host::new();
    let (old, new) = (bytes(1, 1000), bytes(2, 1000));
    h.install("usr/bin/kubelet", &new);
    h.install("usr/local/bin/kubelet", &bytes(3, 1000));
    let lock = h.lock(vec![pin("kubelet", "v1.29.4", &old), pin("kubelet", "v1.30.0", &new)]);
    let run = h.audit(&lock, &[]);
    run.code(1);
    let rows = run.json();
    let row = finding(&rows, "digest", "/usr/bin/kubelet");
    says(row, "ok", "info", "match");
    assert_eq!(row["version"], "v1.30.0");
    let row = finding(&rows, "digest", "/usr/local/bin/kubelet");
    says(row, "fail", "critical", "mismatch");
    assert_eq!(row["message"], "sha256 mismatch against every pinned version (v1.29.4, v1.30.0)");
    assert!(!rows.iter().any(|r| r["status"] == "missing"), "the name is installed: {rows:#?}");
    let text = run_text(&h, &lock);
    assert_eq!(text.stdout.matches("expected  sha256:").count(), 2, "{}", text.stdout);
}

#[test]
fn nothing_verified_is_a_failure_never_a_vacuous_pass() {
    require_root!();
    let h = Host::new();
    h.install("usr/bin/runc", &bytes(1, 1000));
    let lock = h.lock(vec![pin("kubelet", "v1.29.4", &bytes(2, 10))]);
    let run = h.audit(&lock, &[]);
    run.code(1);
    assert!(run.json().iter().all(|r| r["status"] != "fail"));
    let text = run_text(&h, &lock);
    text.code(1);
    assert!(text.stdout.contains("1 binary checked under"), "{}", text.stdout);
    assert!(text.stdout.contains("nothing was verified, which is a failure"), "{}", text.stdout);
    // An empty host, too.
    let empty = Host::new();
    empty.audit(&lock, &[]).code(1);
}

#[test]
fn things_that_are_not_regular_files_are_never_opened() {
    require_root!();
    let h = Host::new();
    let kubectl = bytes(1, 1000);
    h.install("usr/local/bin/kubectl", &kubectl);
    // Opening a FIFO for reading would block the audit forever.
    let status = std::process::Command::new("mkfifo").arg(h.at("usr/bin/kubelet")).status().unwrap();
    assert!(status.success());
    h.mkdir("usr/bin/kubeadm", 0o755);
    h.link("usr/bin/crictl", "crictl");
    let lock = h.lock(vec![pin("kubectl", "v1.29.4", &kubectl)]);
    let run = h.audit(&lock, &[]);
    run.code(1);
    let rows = run.json();
    says(finding(&rows, "digest", "/usr/bin/kubelet"), "fail", "warning", "not-a-regular-file");
    says(finding(&rows, "digest", "/usr/bin/kubeadm"), "fail", "warning", "not-a-regular-file");
    says(finding(&rows, "symlink", "/usr/bin/crictl"), "fail", "warning", "loop");
    says(finding(&rows, "digest", "/usr/local/bin/kubectl"), "ok", "info", "match");
}

#[test]
fn every_json_object_has_the_documented_fields() {
    let h = Host::new();
    let kubectl = bytes(1, 1000);
    h.install("usr/local/bin/kubectl", &kubectl);
    h.chmod("usr/local/bin/kubectl", 0o777);
    h.install("usr/bin/runc", &bytes(2, 100));
    let lock = h.lock(vec![pin("kubectl", "v1.29.4", &kubectl), pin("kubelet", "v1.29.4", b"x")]);
    let rows = h.audit(&lock, &[]).json();
    let keys = [
        "check",
        "component",
        "digests",
        "evidence",
        "message",
        "name",
        "node",
        "path",
        "platform",
        "reason",
        "severity",
        "status",
        "version",
    ];
    let evidence = ["checksum", "directories", "found_by", "links", "mode", "owner", "pin", "resolved", "signature"];
    assert!(rows.len() >= 4, "{rows:#?}");
    for row in &rows {
        let mut have: Vec<&str> = row.as_object().unwrap().keys().map(String::as_str).collect();
        have.sort();
        assert_eq!(have, keys, "{row:#}");
        let mut have: Vec<&str> = row["evidence"].as_object().unwrap().keys().map(String::as_str).collect();
        have.sort();
        assert_eq!(have, evidence, "{row:#}");
        assert!(["ok", "fail", "missing", "unlisted", "error"].contains(&row["status"].as_str().unwrap()));
        assert!(["info", "warning", "critical"].contains(&row["severity"].as_str().unwrap()));
        let checks = ["digest", "owner", "mode", "parent-writable", "symlink", "unit"];
        assert!(checks.contains(&row["check"].as_str().unwrap()));
    }
}

#[test]
fn usage_and_io_errors_have_their_exit_codes() {
    let h = Host::new();
    let root = h.root().display().to_string();
    let run = kverify(["node", "--root", &root]);
    run.code(2);
    assert!(run.stderr.contains("nothing to check the installed binaries against"), "{}", run.stderr);
    assert!(run.stderr.contains("hint: give --lock FILE"), "{}", run.stderr);
    let lock = h.lock(vec![pin("kubectl", "v1.29.4", b"x")]);
    let lock = lock.display().to_string();
    kverify(["node", "--root", "/no/such/root", "--lock", &lock]).code(3);
    kverify(["node", "--root", &root, "--lock", "/no/such.lock"]).code(3);
    let bad = write(h.dir.path(), "bad.lock", "version = 1\ncatalog = 3\n");
    kverify(["node", "--root", &root, "--lock", &bad.display().to_string()]).code(1);
    kverify(["node", "--root", &root, "--lock", &lock, "--release", "kubectl@v1.29.4"]).code(2);
}

/// dl.k8s.io's layout for one binary, as a `file://` mirror.
fn k8s_mirror(dir: &Path, version: &str, name: &str, data: &[u8]) {
    let rel = format!("release/{version}/bin/linux/amd64/{name}");
    write(dir, &rel, data);
    write(dir, &format!("{rel}.sha256"), sha256_hex(data));
    write(dir, &format!("{rel}.sha512"), sha512_hex(data));
}

fn audit_release(h: &Host, mirror: &Path, releases: &[&str]) -> Run {
    let mut args: Vec<String> = vec!["node".into(), "--root".into(), h.root().display().to_string(), "--json".into()];
    for r in releases {
        args.extend(["--release".into(), r.to_string()]);
    }
    args.extend(["--mirror".into(), format!("https://dl.k8s.io=file://{}", mirror.display())]);
    args.extend(["--os", "linux", "--arch", "amd64", "--insecure-skip-signature", "--no-progress"].map(String::from));
    kverify(args)
}

#[test]
fn against_a_release_published_checksums() {
    require_root!();
    let h = Host::new();
    let mirror = tempdir();
    let (kubectl, kubelet) = (bytes(1, 5000), bytes(2, 5000));
    k8s_mirror(mirror.path(), "v1.29.4", "kubectl", &kubectl);
    k8s_mirror(mirror.path(), "v1.29.4", "kubelet", &kubelet);
    h.install("usr/local/bin/kubectl", &kubectl);
    let mut tampered = kubelet.clone();
    tampered[0] ^= 1;
    h.install("usr/bin/kubelet", &tampered);

    let run = audit_release(&h, mirror.path(), &["kubectl@v1.29.4"]);
    run.code(0);
    let rows = run.json();
    let row = finding(&rows, "digest", "/usr/local/bin/kubectl");
    says(row, "ok", "info", "match");
    assert!(row["evidence"]["checksum"].as_str().unwrap().contains("kubectl.sha256"), "{row:#}");
    says(finding(&rows, "digest", "/usr/bin/kubelet"), "unlisted", "warning", "not-pinned");

    // A bare version is every Kubernetes binary installed here.
    let run = audit_release(&h, mirror.path(), &["v1.29.4"]);
    run.code(1);
    let rows = run.json();
    says(finding(&rows, "digest", "/usr/local/bin/kubectl"), "ok", "info", "match");
    says(finding(&rows, "digest", "/usr/bin/kubelet"), "fail", "critical", "mismatch");
}

#[test]
fn a_release_published_as_an_archive_needs_a_lock() {
    let h = Host::new();
    let mirror = tempdir();
    let archive = "etcd-v3.5.12-linux-amd64.tar.gz";
    write(
        mirror.path(),
        "etcd-io/etcd/releases/download/v3.5.12/SHA256SUMS",
        format!("{}  {archive}\n", sha256_hex(b"archive")),
    );
    let run = kverify([
        "node".to_string(),
        "--root".into(),
        h.root().display().to_string(),
        "--release".into(),
        "etcd@v3.5.12".into(),
        "--mirror".into(),
        format!("https://github.com=file://{}", mirror.path().display()),
        "--os".into(),
        "linux".into(),
        "--arch".into(),
        "amd64".into(),
        "--insecure-skip-signature".into(),
    ]);
    run.code(2);
    assert!(run.stderr.contains("etcd is published as an archive"), "{}", run.stderr);
    assert!(run.stderr.contains("hint: pin them with `kverify lock etcd@VERSION`"), "{}", run.stderr);
}

// Issue 16, "node misses programs systemd would run" and "hangs": one test per attack,
// each through the CLI, each bounded by DEADLINE.

/// A host with the genuine kubelet at /usr/bin/kubelet (pinned) and other bytes at
/// /opt/evil/kubelet, which only a unit names.
fn host_with_an_evil_kubelet() -> (Host, PathBuf) {
    let h = Host::new();
    let genuine = bytes(1, 4000);
    h.install("usr/bin/kubelet", &genuine);
    h.install("opt/evil/kubelet", &bytes(66, 4000));
    let lock = h.lock(vec![pin("kubelet", "v1.29.4", &genuine)]);
    (h, lock)
}

#[track_caller]
fn found_by(row: &Value) -> Vec<String> {
    row["evidence"]["found_by"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect()
}

#[test]
fn a_quoted_execstart_is_still_audited() {
    require_root!();
    let (h, lock) = host_with_an_evil_kubelet();
    h.install("etc/systemd/system/kubelet.service", b"[Service]\nExecStart='/opt/evil/kubelet' --v=2\n");
    h.install("srv/evil/containerd", &bytes(67, 100));
    h.install("etc/systemd/system/containerd.service", b"[Service]\nExecStart=-\"/srv/evil/containerd\"\n");
    let run = h.audit(&lock, &[]);
    run.code(1);
    let rows = run.json();
    exactly(
        &rows,
        &[
            ("ok", "digest", "match", "/usr/bin/kubelet"),
            ("fail", "digest", "mismatch", "/opt/evil/kubelet"),
            ("unlisted", "digest", "not-pinned", "/srv/evil/containerd"),
        ],
    );
    assert_eq!(found_by(finding(&rows, "digest", "/opt/evil/kubelet")), ["unit /etc/systemd/system/kubelet.service"]);
    assert_eq!(
        found_by(finding(&rows, "digest", "/srv/evil/containerd")),
        ["unit /etc/systemd/system/containerd.service"]
    );
}

#[test]
fn a_c_escaped_execstart_is_still_audited() {
    require_root!();
    let (h, lock) = host_with_an_evil_kubelet();
    h.install("etc/systemd/system/kubelet.service", b"[Service]\nExecStart=/opt/evil/kube\\x6cet\n");
    h.install("srv/evil/containerd", &bytes(67, 100));
    // Octal, and a specifier that stands for a percent sign.
    h.install("etc/systemd/system/containerd.service", b"[Service]\nExecStart=/srv/\\145vil/contai%%nerd\n");
    h.install("srv/evil/contai%nerd", &bytes(68, 100));
    let run = h.audit(&lock, &[]);
    run.code(1);
    exactly(
        &run.json(),
        &[
            ("ok", "digest", "match", "/usr/bin/kubelet"),
            ("fail", "digest", "mismatch", "/opt/evil/kubelet"),
            ("unlisted", "digest", "not-pinned", "/srv/evil/contai%nerd"),
            ("fail", "unit", "unit-runs-another-program", "/etc/systemd/system/containerd.service"),
        ],
    );
}

/// SECURITY.md's wrapper gap: `ExecStart=/usr/bin/nice /opt/evil/kubelet` audited only
/// `nice`, and the node passed. A component's unit must run the component's binary (by
/// name, or by digest under another name); a wrapper kverify does not follow, or another
/// program, is a finding: exit 1, naming the unit, the line and what runs.
#[test]
fn a_wrapper_kverify_does_not_follow_in_execstart_is_a_finding() {
    require_root!();
    let (h, lock) = host_with_an_evil_kubelet();
    h.install("usr/bin/nice", &bytes(70, 100));
    h.install(
        "etc/systemd/system/kubelet.service",
        b"[Service]\nExecStart=/usr/bin/nice -n 5 /opt/evil/kubelet --v=2\n",
    );
    h.install("bin/sh", &bytes(71, 100));
    h.install("usr/local/bin/containerd", &bytes(72, 100));
    h.install(
        "etc/systemd/system/containerd.service",
        b"[Service]\nExecStartPre=-/bin/sh -c 'modprobe overlay'\nExecStart=/bin/sh -c '/usr/local/bin/containerd'\n",
    );
    let run = h.audit(&lock, &[]);
    run.code(1);
    let rows = run.json();
    exactly(
        &rows,
        &[
            ("ok", "digest", "match", "/usr/bin/kubelet"),
            ("unlisted", "digest", "not-pinned", "/usr/bin/nice"),
            ("unlisted", "digest", "not-pinned", "/bin/sh"),
            ("unlisted", "digest", "not-pinned", "/usr/local/bin/containerd"),
            ("fail", "unit", "unit-runs-another-program", "/etc/systemd/system/kubelet.service"),
            ("fail", "unit", "unit-runs-another-program", "/etc/systemd/system/containerd.service"),
        ],
    );
    let row = finding(&rows, "unit", "/etc/systemd/system/kubelet.service");
    says(row, "fail", "warning", "unit-runs-another-program");
    assert_eq!(
        row["message"],
        "line 2: ExecStart= runs /usr/bin/nice, not kubelet: a wrapper or another program; kverify follows env(1) \
         only, so what it runs is not audited"
    );
    // ExecStartPre= may run anything: only ExecStart= is held to the unit's binary.
    let row = finding(&rows, "unit", "/etc/systemd/system/containerd.service");
    assert!(row["message"].as_str().unwrap().starts_with("line 3: ExecStart= runs /bin/sh, not containerd"), "{row:#}");

    // The binary itself, by another name: its digest says it is kubelet, so no finding.
    h.install("opt/k8s/kubelet-1.29.4", &bytes(1, 4000)); // the genuine kubelet
    h.install("etc/systemd/system/kubelet.service", b"[Service]\nExecStart=/opt/k8s/kubelet-1.29.4\n");
    h.install("etc/systemd/system/containerd.service", b"[Service]\nExecStart=/usr/local/bin/containerd\n");
    let run = h.audit(&lock, &[]);
    run.code(0);
    assert!(!run.json().iter().any(|r| r["check"] == "unit"), "{:#?}", run.json());
}

#[test]
fn a_non_utf8_byte_in_a_drop_in_hides_nothing() {
    require_root!();
    let (h, lock) = host_with_an_evil_kubelet();
    h.install("usr/lib/systemd/system/kubelet.service", b"[Service]\nExecStart=/usr/bin/kubelet\n");
    let drop_in = b"# r\xe9sum\xe9 of the change\n[Service]\nExecStart=\nExecStart=/opt/evil/kubelet\n";
    let path = h.install("etc/systemd/system/kubelet.service.d/10-override.conf", drop_in);
    let run = h.audit(&lock, &[]);
    run.code(1);
    let rows = run.json();
    // The reset is systemd's: only the drop-in's program runs; /usr/bin/kubelet is audited
    // because it is on the search path.
    exactly(
        &rows,
        &[("ok", "digest", "match", "/usr/bin/kubelet"), ("fail", "digest", "mismatch", "/opt/evil/kubelet")],
    );
    assert_eq!(
        found_by(finding(&rows, "digest", "/opt/evil/kubelet")),
        ["unit /etc/systemd/system/kubelet.service.d/10-override.conf"]
    );
    assert_eq!(found_by(finding(&rows, "digest", "/usr/bin/kubelet")), ["search path /usr/bin"]);
    assert_eq!(std::fs::read(path).unwrap(), drop_in, "read, never written");
}

/// `sh -c 'ulimit -v KIB; exec kverify …'` with kverify's test environment: the audit may
/// not map more than `kib` KiB.
fn with_address_space(cmd: Command, kib: u64) -> Command {
    let mut sh = Command::new("sh");
    sh.arg("-c").arg(format!("ulimit -v {kib} && exec \"$0\" \"$@\"")).arg(cmd.get_program()).args(cmd.get_args());
    for (key, value) in cmd.get_envs() {
        match value {
            Some(value) => sh.env(key, value),
            None => sh.env_remove(key),
        };
    }
    sh
}

#[test]
fn an_oversized_drop_in_is_a_finding_not_skipped() {
    require_root!();
    let (h, lock) = host_with_an_evil_kubelet();
    h.install("usr/lib/systemd/system/kubelet.service", b"[Service]\nExecStart=/usr/bin/kubelet\n");
    // One byte over the cap, and (sparse, no disk used) 4 GiB: neither is read, both fail.
    let mut over = b"[Service]\nExecStart=\nExecStart=/opt/evil/kubelet\n".to_vec();
    over.resize((1 << 20) + 1, b'#');
    h.install("etc/systemd/system/kubelet.service.d/50-over.conf", &over);
    let huge = h.install(
        "etc/systemd/system/kubelet.service.d/60-huge.conf",
        b"[Service]\nExecStart=\nExecStart=/opt/evil/kubelet\n",
    );
    std::fs::OpenOptions::new().write(true).open(&huge).unwrap().set_len(4 << 30).unwrap();
    // Reading the 4 GiB whole would need more than this.
    let run = run_within(with_address_space(h.audit_cmd(&lock, &[]), 2 << 20), DEADLINE, |_| {});
    run.code(1);
    let rows = run.json();
    exactly(
        &rows,
        &[
            ("ok", "digest", "match", "/usr/bin/kubelet"),
            ("fail", "unit", "unit-too-large", "/etc/systemd/system/kubelet.service.d/50-over.conf"),
            ("fail", "unit", "unit-too-large", "/etc/systemd/system/kubelet.service.d/60-huge.conf"),
        ],
    );
    let row = finding(&rows, "unit", "/etc/systemd/system/kubelet.service.d/60-huge.conf");
    says(row, "fail", "warning", "unit-too-large");
    assert_eq!(row["message"], "larger than 1048576 bytes, not read; what the unit runs is unknown");
    assert_eq!(std::fs::metadata(&huge).unwrap().len(), 4 << 30);
    let text = run_text(&h, &lock);
    text.code(1);
    assert!(text.stdout.contains("1 verified, 2 unit findings"), "{}", text.stdout);
}

#[test]
fn system_control_drop_ins_are_read() {
    require_root!();
    let (h, lock) = host_with_an_evil_kubelet();
    h.install("usr/lib/systemd/system/kubelet.service", b"[Service]\nExecStart=/usr/bin/kubelet\n");
    h.install("usr/lib/systemd/system/containerd.service", b"[Service]\nExecStart=/usr/local/bin/containerd\n");
    h.install("usr/local/bin/containerd", &bytes(5, 100));
    // `systemctl set-property` writes here; it outranks /etc/systemd/system.
    h.install(
        "etc/systemd/system.control/kubelet.service.d/50-ctl.conf",
        b"[Service]\nExecStart=\nExecStart=/opt/evil/kubelet\n",
    );
    h.install(
        "etc/systemd/system/kubelet.service.d/50-ctl.conf",
        b"[Service]\nExecStart=\nExecStart=/usr/bin/kubelet\n",
    );
    h.install("run/systemd/system.control/containerd.service.d/pre.conf", b"[Service]\nExecStartPre=/opt/evil/pre\n");
    h.install("opt/evil/pre", &bytes(6, 100));
    let run = h.audit(&lock, &[]);
    run.code(1);
    let rows = run.json();
    exactly(
        &rows,
        &[
            ("ok", "digest", "match", "/usr/bin/kubelet"),
            ("fail", "digest", "mismatch", "/opt/evil/kubelet"),
            ("unlisted", "digest", "not-pinned", "/opt/evil/pre"),
            ("unlisted", "digest", "not-pinned", "/usr/local/bin/containerd"),
        ],
    );
    assert_eq!(
        found_by(finding(&rows, "digest", "/opt/evil/kubelet")),
        ["unit /etc/systemd/system.control/kubelet.service.d/50-ctl.conf"]
    );
    // The /etc/systemd/system drop-in of the same name is overridden: never read.
    assert_eq!(found_by(finding(&rows, "digest", "/usr/bin/kubelet")), ["search path /usr/bin"]);
    assert_eq!(
        found_by(finding(&rows, "digest", "/opt/evil/pre")),
        ["unit /run/systemd/system.control/containerd.service.d/pre.conf (ExecStartPre)"]
    );
}

#[test]
fn env_in_execstart_audits_the_program_it_starts() {
    require_root!();
    let (h, lock) = host_with_an_evil_kubelet();
    h.install("usr/bin/env", &bytes(7, 100));
    h.install(
        "etc/systemd/system/kubelet.service",
        b"[Service]\nExecStart=/usr/bin/env KUBECONFIG=/etc/kubernetes/kubelet.conf /opt/evil/kubelet --v=2\n",
    );
    // A bare `env` (systemd's search path), then env's own PATH.
    h.install("opt/evil/sbin/containerd", &bytes(8, 100));
    h.install(
        "etc/systemd/system/containerd.service",
        b"[Service]\nEnvironment=PATH=/usr/bin\nExecStart=env -i PATH=/opt/evil/sbin containerd\n",
    );
    let run = h.audit(&lock, &[]);
    run.code(1);
    let rows = run.json();
    exactly(
        &rows,
        &[
            ("ok", "digest", "match", "/usr/bin/kubelet"),
            ("fail", "digest", "mismatch", "/opt/evil/kubelet"),
            ("unlisted", "digest", "not-pinned", "/opt/evil/sbin/containerd"),
            ("unlisted", "digest", "not-pinned", "/usr/bin/env"),
        ],
    );
    assert_eq!(
        found_by(finding(&rows, "digest", "/opt/evil/kubelet")),
        ["unit /etc/systemd/system/kubelet.service (via /usr/bin/env)"]
    );
    assert_eq!(
        found_by(finding(&rows, "digest", "/opt/evil/sbin/containerd")),
        ["unit /etc/systemd/system/containerd.service (via /usr/bin/env)"]
    );
    assert_eq!(
        found_by(finding(&rows, "digest", "/usr/bin/env")),
        ["unit /etc/systemd/system/kubelet.service", "unit /etc/systemd/system/containerd.service"]
    );
}

/// SECURITY.md's node gap: `DefaultEnvironment=` of `system.conf` was not read, so a
/// `PATH` it set for every service sent `env kubelet` to a program kverify never
/// audited. The manager's configuration (`system.conf`, then `system.conf.d/*.conf` in
/// name order) is the environment every service starts from, under its own.
#[test]
fn default_environment_of_system_conf_sets_the_path_env_searches() {
    require_root!();
    let (h, lock) = host_with_an_evil_kubelet();
    h.install("usr/bin/env", &bytes(7, 100));
    h.install("etc/systemd/system/kubelet.service", b"[Service]\nExecStart=/usr/bin/env kubelet --v=2\n");
    h.install("etc/systemd/system.conf", b"[Manager]\nDefaultEnvironment=PATH=/usr/bin LANG=C\n");
    // A drop-in later in name order wins; one in a section of its own does nothing.
    h.install("usr/lib/systemd/system.conf.d/10-path.conf", b"[Manager]\nDefaultEnvironment=PATH=/usr/sbin\n");
    h.install("etc/systemd/system.conf.d/50-path.conf", b"[Manager]\nDefaultEnvironment=\"PATH=/opt/evil\"\n");
    h.install("etc/systemd/system.conf.d/90-other.conf", b"[Other]\nDefaultEnvironment=PATH=/usr/bin\n");
    let run = h.audit(&lock, &[]);
    run.code(1);
    let rows = run.json();
    exactly(
        &rows,
        &[
            ("ok", "digest", "match", "/usr/bin/kubelet"),
            ("fail", "digest", "mismatch", "/opt/evil/kubelet"),
            ("unlisted", "digest", "not-pinned", "/usr/bin/env"),
        ],
    );
    assert_eq!(
        found_by(finding(&rows, "digest", "/opt/evil/kubelet")),
        ["unit /etc/systemd/system/kubelet.service (via /usr/bin/env)"]
    );

    // The unit's own Environment= comes first.
    h.install(
        "etc/systemd/system/kubelet.service",
        b"[Service]\nEnvironment=PATH=/usr/bin\nExecStart=/usr/bin/env kubelet --v=2\n",
    );
    let run = h.audit(&lock, &[]);
    run.code(0);
    assert!(!run.json().iter().any(|r| r["path"] == "/opt/evil/kubelet"), "{:#?}", run.json());
}

#[test]
fn a_fifo_at_a_unit_does_not_hang_the_audit() {
    require_root!();
    let (h, lock) = host_with_an_evil_kubelet();
    h.fifo("etc/systemd/system/containerd.service");
    h.install("usr/lib/systemd/system/kubelet.service", b"[Service]\nExecStart=/usr/bin/kubelet\n");
    h.fifo("etc/systemd/system/kubelet.service.d/10-kubeadm.conf");
    let run = h.audit(&lock, &[]);
    run.code(1);
    let rows = run.json();
    exactly(
        &rows,
        &[
            ("ok", "digest", "match", "/usr/bin/kubelet"),
            ("fail", "unit", "unit-not-a-regular-file", "/etc/systemd/system/containerd.service"),
            ("fail", "unit", "unit-not-a-regular-file", "/etc/systemd/system/kubelet.service.d/10-kubeadm.conf"),
        ],
    );
    let row = finding(&rows, "unit", "/etc/systemd/system/containerd.service");
    says(row, "fail", "warning", "unit-not-a-regular-file");
    assert_eq!(row["message"], "not a regular file: a FIFO; what the unit runs is unknown");
    assert_eq!(row["node"], "node-1");
}

#[test]
fn a_fifo_at_etc_hostname_does_not_hang_the_audit() {
    require_root!();
    let (h, lock) = host_with_an_evil_kubelet();
    h.fifo("etc/hostname");
    let mut cmd = h.audit_cmd(&lock, &[]);
    cmd.env_remove("KVERIFY_NODE_NAME");
    let run = run_within(cmd, DEADLINE, |_| {});
    run.code(0);
    let rows = run.json();
    exactly(&rows, &[("ok", "digest", "match", "/usr/bin/kubelet")]);
    assert!(rows[0]["node"].is_null(), "{rows:#?}");
    // The name comes from KVERIFY_NODE_NAME, or from a regular /etc/hostname.
    assert_eq!(h.audit(&lock, &[]).json()[0]["node"], "node-1");
    std::fs::remove_file(h.at("etc/hostname")).unwrap();
    h.install("etc/hostname", b"\n worker-7 \n");
    let mut cmd = h.audit_cmd(&lock, &[]);
    cmd.env_remove("KVERIFY_NODE_NAME");
    assert_eq!(run_within(cmd, DEADLINE, |_| {}).json()[0]["node"], "worker-7");
}

#[test]
fn a_binary_swapped_for_a_fifo_does_not_hang_the_audit() {
    require_root!();
    let (h, lock) = host_with_an_evil_kubelet();
    // Three large files (sparse: no disk used) are hashed first, largest first, while
    // kubelet, looked at already, waits its turn.
    for name in ["ctr", "crictl", "runc"] {
        let file = h.install(&format!("usr/bin/{name}"), b"");
        std::fs::OpenOptions::new().write(true).open(file).unwrap().set_len(1 << 30).unwrap();
    }
    h.fifo("usr/bin/.kubelet-fifo");
    let root = h.root();
    let run = run_within(h.audit_cmd(&lock, &[]), DEADLINE, |pid| {
        // Once kverify holds a large file open, every path has been looked at: swap
        // kubelet for a FIFO before it is opened.
        let start = Instant::now();
        let hashing = || {
            std::fs::read_dir(format!("/proc/{pid}/fd")).into_iter().flatten().flatten().any(|fd| {
                std::fs::read_link(fd.path()).is_ok_and(|t| ["ctr", "crictl", "runc"].iter().any(|n| t.ends_with(n)))
            })
        };
        while !hashing() {
            assert!(start.elapsed() < DEADLINE, "kverify never opened the large files");
            std::thread::sleep(Duration::from_micros(200));
        }
        std::fs::rename(root.join("usr/bin/.kubelet-fifo"), root.join("usr/bin/kubelet")).unwrap();
    });
    run.code(1);
    let rows = run.json();
    exactly(
        &rows,
        &[
            ("fail", "digest", "not-a-regular-file", "/usr/bin/kubelet"),
            ("unlisted", "digest", "not-pinned", "/usr/bin/crictl"),
            ("unlisted", "digest", "not-pinned", "/usr/bin/ctr"),
            ("unlisted", "digest", "not-pinned", "/usr/bin/runc"),
        ],
    );
    let row = finding(&rows, "digest", "/usr/bin/kubelet");
    says(row, "fail", "warning", "not-a-regular-file");
    assert_eq!(row["message"], "not a regular file: a FIFO (replaced while the audit ran)");
}

#[test]
fn a_drop_in_of_an_alias_applies_to_the_unit() {
    require_root!();
    let (h, lock) = host_with_an_evil_kubelet();
    h.install("usr/lib/systemd/system/kubelet.service", b"[Service]\nExecStart=/usr/bin/kubelet\n");
    // Another name for kubelet.service: its drop-ins are kubelet's too.
    h.link("etc/systemd/system/k8s-node.service", "/usr/lib/systemd/system/kubelet.service");
    h.install(
        "etc/systemd/system/k8s-node.service.d/override.conf",
        b"[Service]\nExecStart=\nExecStart=/opt/evil/kubelet\n",
    );
    let run = h.audit(&lock, &[]);
    run.code(1);
    let rows = run.json();
    exactly(
        &rows,
        &[("ok", "digest", "match", "/usr/bin/kubelet"), ("fail", "digest", "mismatch", "/opt/evil/kubelet")],
    );
    assert_eq!(
        found_by(finding(&rows, "digest", "/opt/evil/kubelet")),
        ["unit /etc/systemd/system/k8s-node.service.d/override.conf"]
    );
}

#[test]
fn a_carriage_return_or_a_refused_line_hides_nothing() {
    require_root!();
    let (h, lock) = host_with_an_evil_kubelet();
    h.install("opt/evil/containerd", &bytes(9, 100));
    h.install("usr/local/bin/containerd", &bytes(10, 100));
    // systemd 243+ ends a line at a CR: the "comment" runs /opt/evil/kubelet.
    h.install("usr/lib/systemd/system/kubelet.service", b"[Service]\n# note\rExecStart=/opt/evil/kubelet\n");
    // systemd stops reading a drop-in at a line it refuses: the reset after it never
    // happens, so the unit's own program still runs.
    h.install("usr/lib/systemd/system/containerd.service", b"[Service]\nExecStart=/opt/evil/containerd\n");
    h.install(
        "etc/systemd/system/containerd.service.d/10.conf",
        b"[Service]\nrefused line\nExecStart=\nExecStart=/usr/local/bin/containerd\n",
    );
    let run = h.audit(&lock, &[]);
    run.code(1);
    exactly(
        &run.json(),
        &[
            ("ok", "digest", "match", "/usr/bin/kubelet"),
            ("fail", "digest", "mismatch", "/opt/evil/kubelet"),
            ("unlisted", "digest", "not-pinned", "/opt/evil/containerd"),
            ("unlisted", "digest", "not-pinned", "/usr/local/bin/containerd"),
        ],
    );
}

#[test]
fn a_masked_unit_runs_nothing_and_a_specifier_kverify_cannot_expand_is_a_finding() {
    require_root!();
    let (h, lock) = host_with_an_evil_kubelet();
    h.install("usr/lib/systemd/system/kubelet.service", b"[Service]\nExecStart=/opt/evil/kubelet\n");
    h.link("etc/systemd/system/kubelet.service", "/dev/null");
    // %H is the host name of the running system: not knowable from the files alone.
    h.install("etc/systemd/system/containerd.service", b"[Service]\nExecStart=/opt/%H/containerd\n");
    let run = h.audit(&lock, &[]);
    run.code(1);
    let rows = run.json();
    exactly(
        &rows,
        &[
            ("ok", "digest", "match", "/usr/bin/kubelet"),
            ("fail", "unit", "unit-program-unresolved", "/etc/systemd/system/containerd.service"),
        ],
    );
    let row = finding(&rows, "unit", "/etc/systemd/system/containerd.service");
    assert_eq!(
        row["message"],
        "line 2: ExecStart= runs a program kverify cannot name: /opt/%H/containerd (%H depends on the running host)"
    );
}

#[test]
fn a_unit_directory_that_cannot_be_listed_is_a_finding() {
    require_root!();
    let (h, lock) = host_with_an_evil_kubelet();
    // (As root every directory can be listed; a link loop cannot be, for anyone.)
    h.link("etc/systemd/system/kubelet.service.d", "kubelet.service.d");
    let run = h.audit(&lock, &[]);
    run.code(1);
    let rows = run.json();
    exactly(
        &rows,
        &[
            ("ok", "digest", "match", "/usr/bin/kubelet"),
            ("fail", "unit", "unit-unreadable", "/etc/systemd/system/kubelet.service.d"),
        ],
    );
    let row = finding(&rows, "unit", "/etc/systemd/system/kubelet.service.d");
    assert_eq!(row["message"], "more than 40 symbolic links: a loop; what the unit runs is unknown");
}
