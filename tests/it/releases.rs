//! Real releases, every version (issue 11): what each upstream published for a version,
//! with fixtures built the way each upstream's release script builds them
//! (../shared/UPSTREAMS.md, "What changes from version to version").

use std::path::Path;

use crate::support::pki::{Leaf, TestSigstore, K8S_IDENTITY};
use crate::support::releases::*;
use crate::support::server::Server;
use crate::support::*;

/// A Kubernetes release on `server` signed by a test Sigstore whose trusted root is in
/// `tmp`: fetches verify signatures (no `--insecure-skip-signature`).
struct Signed {
    server: Server,
    sigstore: TestSigstore,
    tmp: tempfile::TempDir,
}

impl Signed {
    fn new() -> Signed {
        let tmp = tempdir();
        let sigstore = TestSigstore::new();
        sigstore.write_trusted_root(&tmp.path().join("trusted_root.json"));
        Signed { server: Server::start(), sigstore, tmp }
    }

    /// `release/VERSION/bin/linux/amd64/NAME` with `.sha256`, `.sha512`, and `.sig` +
    /// `.cert` when `signed`.
    fn publish(&self, version: &str, name: &str, data: &[u8], signed: bool) {
        publish_k8s(&self.server, version, name, data);
        if signed {
            let pair = self.sigstore.sign(data, &Leaf::kubernetes());
            let path = k8s_path(version, name);
            self.server.put(&format!("{path}.sig"), pair.sig);
            self.server.put(&format!("{path}.cert"), pair.cert);
        }
    }

    /// `release/VERSION/kubernetes-release.spdx` listing `bin/linux/amd64/NAME`, signed
    /// when `signed`.
    fn publish_sbom(&self, version: &str, name: &str, data: &[u8], signed: bool) {
        let text = format!(
            "SPDXVersion: SPDX-2.3\nDataLicense: CC0-1.0\nSPDXID: SPDXRef-DOCUMENT\nDocumentName: Kubernetes Release {version}\n\
             DocumentNamespace: https://sbom.k8s.io/{version}/release\n\nFileName: bin/linux/amd64/{name}\n\
             SPDXID: SPDXRef-File-1\nFileChecksum: SHA256: {}\nFileChecksum: SHA512: {}\n",
            sha256_hex(data),
            sha512_hex(data)
        );
        let path = format!("release/{version}/kubernetes-release.spdx");
        if signed {
            let pair = self.sigstore.sign(text.as_bytes(), &Leaf::kubernetes());
            self.server.put(&format!("{path}.sig"), pair.sig);
            self.server.put(&format!("{path}.cert"), pair.cert);
        }
        self.server.put(&path, text);
    }

    fn fetch(&self, dest: &Path, targets: &[&str], extra: &[&str]) -> Run {
        let mut args: Vec<String> = vec!["fetch".into()];
        args.extend(targets.iter().map(|t| t.to_string()));
        args.extend(["--dest".into(), dest.display().to_string()]);
        args.extend([format!("--mirror=https://dl.k8s.io={}", self.server.base()), "--no-progress".into()]);
        args.extend(["--os", "linux", "--arch", "amd64", "--timeout", "5"].map(String::from));
        args.push(format!("--trusted-root={}", self.tmp.path().join("trusted_root.json").display()));
        args.extend(extra.iter().map(|e| e.to_string()));
        kverify(args)
    }
}

// ---------------------------------------------------------------- archives

/// etcd 3.4 as its scripts/build-binary.sh builds it: `cp -R Documentation` keeps the
/// symbolic link `Documentation/README.md -> docs.md`, then `tar cfz` of the directory.
fn etcd34(etcdctl: Entry) -> (Vec<u8>, Vec<(String, Vec<u8>)>) {
    let top = "etcd-v3.4.45-linux-amd64";
    let etcd = bytes(3445, 300_000);
    let mut entries = vec![
        Entry::dir(&format!("{top}/")),
        Entry::dir(&format!("{top}/Documentation/")),
        Entry::file(&format!("{top}/Documentation/docs.md"), b"# Documentation\n", 0o644),
        Entry::symlink(&format!("{top}/Documentation/README.md"), "docs.md"),
        Entry::file(&format!("{top}/Documentation/faq.md"), b"# FAQ\n", 0o644),
        Entry::file(&format!("{top}/README-etcdctl.md"), b"# etcdctl\n", 0o644),
        Entry::file(&format!("{top}/README.md"), b"# etcd\n", 0o644),
        Entry::file(&format!("{top}/READMEv2-etcdctl.md"), b"# etcdctl (v2)\n", 0o644),
        Entry::file(&format!("{top}/etcd"), &etcd, 0o755),
    ];
    let ctl = etcdctl.data.clone();
    entries.push(etcdctl);
    (tar_gz(&entries), vec![("etcd".into(), etcd), ("etcdctl".into(), ctl)])
}

#[test]
fn etcd_3_4_installs_although_its_tarball_holds_a_symbolic_link() {
    let server = Server::start();
    let etcdctl = bytes(3446, 200_000);
    let (archive, binaries) = etcd34(Entry::file("etcd-v3.4.45-linux-amd64/etcdctl", &etcdctl, 0o755));
    publish_etcd_archive(&server, "v3.4.45", &archive, binaries.clone());
    let dest = tempdir();
    let run = fetch(&server, dest.path(), &["etcd@3.4.45"], &[]);
    run.code(0);
    assert_listing(dest.path(), &["etcd", "etcdctl"]);
    for (name, data) in &binaries {
        assert_installed(dest.path(), name, data);
    }
    assert!(run.line_with("etcd v3.4.45").contains("installed etcd, etcdctl"), "{}", run.stdout);
}

#[test]
fn etcd_3_4_whose_etcdctl_is_a_symbolic_link_installs_nothing() {
    let server = Server::start();
    let (archive, _) = etcd34(Entry::symlink("etcd-v3.4.45-linux-amd64/etcdctl", "etcd"));
    publish_etcd_archive(&server, "v3.4.45", &archive, Vec::new());
    let dest = tempdir();
    let run = fetch(&server, dest.path(), &["etcd@3.4.45"], &[]);
    run.code(1);
    let line = run.line_with("etcd v3.4.45");
    assert!(line.contains("hostile entry \"etcd-v3.4.45-linux-amd64/etcdctl\": a link"), "{line}");
    assert_listing(dest.path(), &[]);
}

/// CNI plugins from v1.4.1, as .github/workflows/release.yaml builds them: the plugins,
/// README.md and LICENSE copied into bin/, tarred from inside it (`./bridge`, …).
#[test]
fn cni_plugins_install_their_plugins_and_not_readme_or_license() {
    let server = Server::start();
    let plugins = ["bandwidth", "bridge", "host-local", "loopback", "portmap"];
    let binaries: Vec<(String, Vec<u8>)> =
        plugins.iter().enumerate().map(|(i, n)| (n.to_string(), bytes(1600 + i as u64, 30_000 + i))).collect();
    let mut entries = vec![Entry::dir("./")];
    entries.extend(binaries.iter().map(|(n, d)| Entry::file(&format!("./{n}"), d, 0o755)));
    entries.push(Entry::file("./README.md", b"# Plugins\n", 0o644));
    entries.push(Entry::file("./LICENSE", b"Apache License\n", 0o644));
    let archive = tar_gz(&entries);
    let name = "cni-plugins-linux-amd64-v1.6.0.tgz";
    let path = format!("containernetworking/plugins/releases/download/v1.6.0/{name}");
    server.put(&path, archive.clone());
    server.put(&format!("{path}.sha256"), format!("{}  {name}\n", sha256_hex(&archive)));
    server.put(&format!("{path}.sha512"), format!("{}  {name}\n", sha512_hex(&archive)));
    let dest = tempdir();
    let run = fetch(&server, dest.path(), &["cni-plugins", "v1.6.0"], &[]);
    run.code(0);
    assert_listing(dest.path(), &plugins);
    for (name, data) in &binaries {
        assert_installed(dest.path(), name, data);
    }
}

/// crictl v1.21/v1.22: hack/release.sh wrote only a `.sha256`, the line
/// `sha256sum -b "$OUTPUTDIR/$file" | sed -e "s,$OUTPUTDIR,,"` prints (on macOS, the
/// same without `*`); no `.sha512` until v1.23.0.
#[test]
fn crictl_before_v1_23_has_only_its_sha256_line() {
    let server = Server::start();
    let crictl = bytes(1220, 150_000);
    let archive = tar_gz(&[Entry::file("crictl", &crictl, 0o755)]);
    for (version, line_prefix) in [("v1.22.0", "*/"), ("v1.21.0", " /")] {
        let name = format!("crictl-{version}-linux-amd64.tar.gz");
        let path = format!("kubernetes-sigs/cri-tools/releases/download/{version}/{name}");
        server.put(&path, archive.clone());
        server.put(&format!("{path}.sha256"), format!("{} {line_prefix}{name}\n", sha256_hex(&archive)));
        let dest = tempdir();
        let run = fetch(&server, dest.path(), &["crictl", version], &[]);
        run.code(0);
        assert_listing(dest.path(), &["crictl"]);
        assert_installed(dest.path(), "crictl", &crictl);
        assert_eq!(server.hits(&format!("{path}.sha512")), 0, "{version}: no .sha512 is asked for");
    }
}

// ---------------------------------------------------------------- platforms never published

#[test]
fn combinations_never_published_are_usage_errors_before_any_request() {
    let server = Server::start();
    /// What, the targets, extra flags, and words the error must say.
    type Case<'a> = (&'a str, Vec<&'a str>, Vec<&'a str>, Vec<&'a str>);
    let cases: Vec<Case> = vec![
        (
            "crictl dropped linux/arm in v1.29.0",
            vec!["crictl@1.31.1"],
            vec!["--arch", "arm"],
            vec!["linux/arm (dropped in v1.29.0)", "linux/amd64", "linux/arm64", "linux/386"],
        ),
        ("crictl riscv64 before v1.27.0", vec!["crictl@1.26.0"], vec!["--arch", "riscv64"], vec!["from v1.27.0"]),
        ("crictl before any checksum", vec!["crictl@1.20.0"], vec![], vec!["no checksum file is published"]),
        (
            "etcd 3.4 on s390x",
            vec!["etcd@3.4.45"],
            vec!["--arch", "s390x"],
            vec!["linux/s390x (published from v3.5.0)"],
        ),
        ("containerd 1.6 on s390x", vec!["containerd@1.6.36"], vec!["--arch", "s390x"], vec!["from v1.7.0"]),
        ("containerd-static before 1.7.0", vec!["containerd-static@1.6.36"], vec![], vec!["published from v1.7.0"]),
        ("runc has no plain arm", vec!["runc@1.3.0"], vec!["--arch", "arm"], vec!["--arch armel", "--arch armhf"]),
        ("runc 386 before 1.2.0", vec!["runc@1.1.12"], vec!["--arch", "386"], vec!["from v1.2.0"]),
        ("helm riscv64 before 3.14.0", vec!["helm@3.13.0"], vec!["--arch", "riscv64"], vec!["from v3.14.0"]),
        ("kubelet on darwin", vec!["kubelet@v1.31.0"], vec!["--os", "darwin"], vec!["it is for linux/amd64"]),
    ];
    for (what, targets, extra, words) in cases {
        let dest = tempdir();
        let run = fetch(&server, dest.path(), &targets, &extra);
        assert_eq!(run.code, 2, "{what}: {run:?}");
        for word in words {
            assert!(run.stderr.contains(word), "{what}: stderr does not say {word:?}:\n{}", run.stderr);
        }
        assert_listing(dest.path(), &[]);
    }
    assert!(server.requests().is_empty(), "requests were made: {:?}", server.paths());
}

#[test]
fn newly_cataloged_platforms_resolve_and_install() {
    let server = Server::start();
    let cases = [
        ("kubelet", "windows/amd64", "kubelet.exe"),
        ("kube-log-runner", "windows/amd64", "kube-log-runner.exe"),
        ("kubectl-convert", "darwin/arm64", "kubectl-convert"),
        ("kubectl-convert", "windows/amd64", "kubectl-convert.exe"),
        ("kubectl-convert", "linux/arm", "kubectl-convert"),
    ];
    for (i, (name, platform, file)) in cases.iter().enumerate() {
        let data = bytes(3100 + i as u64, 50_000);
        let path = format!("release/v1.31.0/bin/{platform}/{file}");
        server.put(&path, data.clone());
        server.put(&format!("{path}.sha256"), sha256_hex(&data));
        server.put(&format!("{path}.sha512"), sha512_hex(&data));
        let (os, arch) = platform.split_once('/').unwrap();
        let dest = tempdir();
        let run = fetch(&server, dest.path(), &[name, "v1.31.0"], &["--os", os, "--arch", arch]);
        run.code(0);
        assert_listing(dest.path(), &[file]);
        assert_installed(dest.path(), file, &data);
    }
    // runc's 32-bit ARM builds, by their own names.
    let runc = bytes(3200, 60_000);
    let dir = "opencontainers/runc/releases/download/v1.3.0";
    server.put(&format!("{dir}/runc.armhf"), runc.clone());
    server.put(&format!("{dir}/runc.sha256sum"), format!("{}  runc.armhf\n", sha256_hex(&runc)));
    let dest = tempdir();
    fetch(&server, dest.path(), &["runc", "1.3.0"], &["--arch", "armhf"]).code(0);
    assert_installed(dest.path(), "runc", &runc);
}

#[test]
fn components_shows_the_version_ranges() {
    let run = kverify(["components"]);
    run.code(0);
    assert!(run.stdout.contains("linux/arm (before v1.29.0)"), "{}", run.stdout);
    assert!(run.stdout.contains("{url}.sha512 (from v1.23.0)"), "{}", run.stdout);
    assert!(run.stdout.contains("linux/s390x (from v3.5.0)"), "{}", run.stdout);
    let run = kverify(["components", "--json"]);
    let crictl = run.json().into_iter().find(|c| c["component"] == "crictl").unwrap();
    let arm = crictl["published"].as_array().unwrap().iter().find(|p| p["platform"] == "linux/arm").unwrap().clone();
    assert_eq!(arm, serde_json::json!({"platform": "linux/arm", "since": null, "until": "v1.29.0"}));
}

// ---------------------------------------------------------------- Kubernetes signatures

#[test]
fn an_alpha_0_is_installed_unsigned_and_says_so() {
    let r = Signed::new();
    let data = bytes(3300, 120_000);
    r.publish("v1.33.0-alpha.0", "kubectl", &data, false);
    r.publish_sbom("v1.33.0-alpha.0", "kubectl", &data, false);
    let dest = tempdir();
    let run = r.fetch(dest.path(), &["kubectl", "v1.33.0-alpha.0"], &[]);
    run.code(0);
    assert_installed(dest.path(), "kubectl", &data);
    assert!(
        run.stdout.contains("signature: unsigned upstream: alpha.0 is cut unsigned with the branch"),
        "{}",
        run.stdout
    );
    let run = r.fetch(dest.path(), &["kubectl", "v1.33.0-alpha.0"], &["--json"]);
    run.code(0);
    let row = &run.json()[0];
    assert_eq!(row["evidence"]["signature"], serde_json::Value::Null);
    assert_eq!(row["evidence"]["signature_skipped"], "unsigned upstream: alpha.0 is cut unsigned with the branch");

    // --require-signature: nothing unsigned is installed.
    let strict = tempdir();
    let run = r.fetch(strict.path(), &["kubectl", "v1.33.0-alpha.0"], &["--require-signature"]);
    run.code(1);
    assert!(run.stdout.contains("kubectl.sig"), "{}", run.stdout);
    assert_listing(strict.path(), &[]);
}

#[test]
fn an_alpha_0_signature_that_is_present_must_verify() {
    let r = Signed::new();
    let data = bytes(3301, 120_000);
    r.publish("v1.33.0-alpha.0", "kubectl", &data, false);
    // Signed by somebody else: present, so it must verify, and it does not.
    let pair = r.sigstore.sign(&data, &Leaf { identity: "mallory@example.com".into(), ..Leaf::kubernetes() });
    let path = k8s_path("v1.33.0-alpha.0", "kubectl");
    r.server.put(&format!("{path}.sig"), pair.sig);
    r.server.put(&format!("{path}.cert"), pair.cert);
    let dest = tempdir();
    let run = r.fetch(dest.path(), &["kubectl", "v1.33.0-alpha.0"], &[]);
    run.code(1);
    assert!(run.stdout.contains(K8S_IDENTITY) && run.stdout.contains("mallory@example.com"), "{}", run.stdout);
    assert_listing(dest.path(), &[]);
}

#[test]
fn a_release_candidate_without_its_signature_still_fails_closed() {
    let r = Signed::new();
    let data = bytes(3302, 120_000);
    r.publish("v1.33.0-rc.1", "kubectl", &data, false);
    r.publish_sbom("v1.33.0-rc.1", "kubectl", &data, false);
    let dest = tempdir();
    let run = r.fetch(dest.path(), &["kubectl", "v1.33.0-rc.1"], &[]);
    run.code(1);
    assert!(run.stdout.contains("the upstream publishes a signature"), "{}", run.stdout);
    assert_listing(dest.path(), &[]);
    // 1.26.0-rc.0 was cut before signing began; rc.1 was signed.
    r.publish("v1.26.0-rc.0", "kubectl", &data, false);
    r.fetch(dest.path(), &["kubectl", "v1.26.0-rc.0"], &[]).code(0);
    r.publish("v1.26.0-rc.1", "kubectl", &data, false);
    r.fetch(tempdir().path(), &["kubectl", "v1.26.0-rc.1"], &[]).code(1);
}

#[test]
fn older_lines_cut_after_signing_began_are_verified_when_signed() {
    let r = Signed::new();
    let signed = bytes(3303, 90_000);
    r.publish("v1.25.9", "kubelet", &signed, true);
    let dest = tempdir();
    let run = r.fetch(dest.path(), &["kubelet", "v1.25.9"], &[]);
    run.code(0);
    assert!(run.stdout.contains(&format!("signature={K8S_IDENTITY}")), "{}", run.stdout);
    let unsigned = bytes(3304, 90_000);
    r.publish("v1.24.10", "kubelet", &unsigned, false);
    let run = r.fetch(dest.path(), &["kubelet", "v1.24.10"], &[]);
    run.code(0);
    assert!(run.stdout.contains("signature: unsigned upstream: 1.24 patch releases"), "{}", run.stdout);
    // Before signing began nothing is asked for.
    r.publish("v1.25.4", "kubelet", &unsigned, false);
    let run = r.fetch(dest.path(), &["kubelet", "v1.25.4"], &[]);
    run.code(0);
    assert!(run.stdout.contains("signature: none published by kubernetes"), "{}", run.stdout);
    assert_eq!(r.server.hits(&format!("{}.sig", k8s_path("v1.25.4", "kubelet"))), 0);
}

// ---------------------------------------------------------------- markers

#[test]
fn markers_resolve_to_signed_releases() {
    let r = Signed::new();
    let v0 = bytes(3400, 40_000);
    let v3 = bytes(3403, 40_000);
    r.publish("v1.29.0", "kubelet", &v0, true);
    r.publish("v1.29.3", "kubelet", &v3, true);
    publish_marker(&r.server, "stable", "v1.29.0");
    publish_marker(&r.server, "latest-1.29", "v1.29.3\n");
    let dest = tempdir();
    let run = r.fetch(dest.path(), &["kubelet", "stable"], &[]);
    run.code(0);
    assert!(run.line_with("kubelet").contains("v1.29.0"), "{}", run.stdout);
    assert_installed(dest.path(), "kubelet", &v0);
    let run = r.fetch(dest.path(), &["kubelet@latest-1.29"], &[]);
    run.code(0);
    assert!(run.line_with("kubelet").contains("v1.29.3"), "{}", run.stdout);
    assert_installed(dest.path(), "kubelet", &v3);
    assert_eq!(r.server.hits("release/stable.txt"), 1);

    // A marker that holds a web page, not a version.
    r.server.fault("release/stable.txt", crate::support::server::Fault::Html);
    let run = r.fetch(dest.path(), &["kubelet", "stable"], &[]);
    run.code(1);
    assert!(run.stderr.contains("release/stable.txt"), "{run:?}");
    assert_installed(dest.path(), "kubelet", &v3);
}

#[test]
fn a_marker_never_leads_to_an_unsigned_install() {
    let r = Signed::new();
    let alpha = bytes(3500, 40_000);
    r.publish("v1.33.0-alpha.0", "kubectl", &alpha, false);
    r.publish_sbom("v1.33.0-alpha.0", "kubectl", &alpha, false);
    publish_marker(&r.server, "latest", "v1.33.0-alpha.0");
    let dest = tempdir();
    let run = r.fetch(dest.path(), &["kubectl", "latest"], &[]);
    run.code(1);
    assert!(run.stdout.contains("reached through the version marker latest"), "{}", run.stdout);
    assert!(run.stdout.contains("kubectl@v1.33.0-alpha.0"), "the next step names the version: {}", run.stdout);
    assert_listing(dest.path(), &[]);
    assert_eq!(r.server.hits(&k8s_path("v1.33.0-alpha.0", "kubectl")), 0, "nothing unsigned was downloaded");

    // Named explicitly, the same release installs and says it is unsigned.
    r.fetch(dest.path(), &["kubectl", "v1.33.0-alpha.0"], &[]).code(0);
}

#[test]
fn a_marker_is_held_to_its_meaning() {
    let r = Signed::new();
    let old = bytes(3600, 40_000);
    r.publish("v1.25.0", "kubelet", &old, false);
    r.publish("v1.30.0", "kubelet", &old, true);
    r.publish("v1.30.0-rc.1", "kubelet", &old, true);
    let cases = [
        ("stable-1.29", "v1.25.0", 1, "v1.25.0 is not a 1.29.x release"),
        ("latest-1.29", "v1.30.0", 1, "v1.30.0 is not a 1.29.x release"),
        ("stable", "v1.30.0-rc.1", 1, "a stable marker never names"),
        // A rolled-back stable naming a release from before signing began.
        ("stable", "v1.25.0", 1, "ask for it explicitly: kubelet@v1.25.0"),
    ];
    for (marker, names, code, words) in cases {
        publish_marker(&r.server, marker, names);
        let dest = tempdir();
        let run = r.fetch(dest.path(), &["kubelet", marker], &[]);
        assert_eq!(run.code, code, "{marker} -> {names}: {run:?}");
        assert!(run.stderr.contains(words), "{marker} -> {names}: {}", run.stderr);
        assert_listing(dest.path(), &[]);
    }
    assert_eq!(r.server.hits(&k8s_path("v1.25.0", "kubelet")), 0);
    // Without signatures a marker means nothing: refused before any request.
    let dest = tempdir();
    let before = r.server.requests().len();
    let run = r.fetch(dest.path(), &["kubelet", "stable"], &["--insecure-skip-signature"]);
    run.code(2);
    assert!(run.stderr.contains("cannot be combined with --insecure-skip-signature"), "{}", run.stderr);
    assert_eq!(r.server.requests().len(), before);
}

// ---------------------------------------------------------------- containerd-static

#[test]
fn containerd_static_from_2_0_1_is_checked_against_the_release_attestation() {
    let server = Server::start();
    let archive = tar_gz(&[Entry::dir("bin/"), Entry::file("bin/containerd", b"static containerd", 0o755)]);
    for version in ["1.7.20", "2.0.1"] {
        let name = format!("containerd-static-{version}-linux-amd64.tar.gz");
        let path = format!("{CONTAINERD_DIR}/v{version}/{name}");
        server.put(&path, archive.clone());
        server.put(&format!("{path}.sha256sum"), format!("{}  {name}\n", sha256_hex(&archive)));
    }
    let args = |version: &str, dest: &Path| {
        let mut a = vec!["fetch".to_string(), format!("containerd-static@{version}"), "--dest".into()];
        a.push(dest.display().to_string());
        a.extend([format!("--mirror=https://github.com={}", server.base()), "--no-progress".into()]);
        a.extend(["--os", "linux", "--arch", "amd64"].map(String::from));
        a
    };
    let dest = tempdir();
    let run = kverify(args("1.7.20", dest.path()));
    run.code(0);
    assert!(run.stdout.contains("signature: none published by containerd"), "{}", run.stdout);
    let dest = tempdir();
    let run = kverify(args("2.0.1", dest.path()));
    run.code(1);
    assert!(run.stdout.contains("containerd-2.0.1-attestation.intoto.jsonl"), "{}", run.stdout);
    assert_listing(dest.path(), &[]);
}

#[test]
fn lock_and_verify_release_of_an_alpha_0_report_it_unsigned() {
    let r = Signed::new();
    let data = bytes(3700, 60_000);
    r.publish("v1.34.0-alpha.0", "kubectl", &data, false);
    r.publish_sbom("v1.34.0-alpha.0", "kubectl", &data, false);
    let common = [
        format!("--mirror=https://dl.k8s.io={}", r.server.base()),
        format!("--trusted-root={}", r.tmp.path().join("trusted_root.json").display()),
        "--no-progress".into(),
    ];
    let lock = r.tmp.path().join("kverify.lock");
    let mut args = vec!["lock".to_string(), "kubectl@v1.34.0-alpha.0".into(), "--platform=linux/amd64".into()];
    args.extend(["--no-rekor".into(), "-o".into(), lock.display().to_string()]);
    args.extend(common.iter().cloned());
    let run = kverify(&args);
    run.code(0);
    assert!(run.stdout.contains("unsigned upstream: alpha.0 is cut unsigned with the branch"), "{}", run.stdout);
    let text = std::fs::read_to_string(&lock).unwrap();
    assert!(text.contains(&sha256_hex(&data)) && !text.contains("[artifact.signature]"), "{text}");

    let file = write(r.tmp.path(), "kubectl", &data);
    let mut args = vec!["verify".to_string(), file.display().to_string(), "--release=kubectl@v1.34.0-alpha.0".into()];
    args.extend(["--os=linux".into(), "--arch=amd64".into()]);
    args.extend(common.iter().cloned());
    kverify(&args).code(0);
    // The rc of the same line is not known to be unsigned: its missing signature fails.
    r.publish("v1.34.0-rc.0", "kubectl", &data, false);
    args[2] = "--release=kubectl@v1.34.0-rc.0".into();
    kverify(&args).code(1);
}
