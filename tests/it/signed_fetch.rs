//! `fetch` and `verify --release` with Kubernetes signatures made by a test Sigstore
//! (root, Fulcio-like CA, CT log), served from `file://` upstream trees.

use std::path::PathBuf;

use crate::support::pki::{Leaf, Sct, TestSigstore, K8S_IDENTITY};
use crate::support::*;

const V: &str = "v1.29.0";

struct Release {
    tmp: tempfile::TempDir,
    sigstore: TestSigstore,
    data: Vec<u8>,
}

impl Release {
    /// kubelet v1.29.0 with `.sha256`, `.sha512`, `.sig` and `.cert` as dl.k8s.io has them.
    fn new() -> Release {
        let tmp = tempdir();
        let sigstore = TestSigstore::new();
        sigstore.write_trusted_root(&tmp.path().join("trusted_root.json"));
        let data = bytes(42, 200_000);
        let r = Release { tmp, sigstore, data };
        r.publish(&r.data.clone());
        r.sign_with(&Leaf::kubernetes());
        std::fs::create_dir(r.dest()).unwrap();
        write(&r.dest(), "kubelet", b"previous kubelet");
        r
    }

    fn bin_dir(&self) -> PathBuf {
        self.tmp.path().join(format!("up/release/{V}/bin/linux/amd64"))
    }

    fn dest(&self) -> PathBuf {
        self.tmp.path().join("dest")
    }

    fn publish(&self, data: &[u8]) {
        let d = self.bin_dir();
        write(&d, "kubelet", data);
        write(&d, "kubelet.sha256", sha256_hex(data));
        write(&d, "kubelet.sha512", sha512_hex(data));
    }

    fn sign_with(&self, leaf: &Leaf) {
        self.sigstore.write_pair(&self.bin_dir(), "kubelet", &self.data, leaf);
    }

    fn args(&self, command: &[&str]) -> Vec<String> {
        let mut a: Vec<String> = command.iter().map(|s| s.to_string()).collect();
        a.extend([
            format!("--mirror=https://dl.k8s.io=file://{}", self.tmp.path().join("up").display()),
            "--trusted-root".into(),
            self.tmp.path().join("trusted_root.json").display().to_string(),
            "--os=linux".into(),
            "--arch=amd64".into(),
            "--no-progress".into(),
        ]);
        a
    }

    fn fetch(&self, extra: &[&str]) -> Run {
        let dest = self.dest().display().to_string();
        let mut command = vec!["fetch", "kubelet", V, "--dest", &dest];
        command.extend(extra);
        kverify(self.args(&command))
    }

    /// The destination holds the previous kubelet and nothing else.
    #[track_caller]
    fn untouched(&self) {
        assert_eq!(listing(&self.dest()), ["kubelet"]);
        assert_eq!(std::fs::read(self.dest().join("kubelet")).unwrap(), b"previous kubelet");
    }
}

#[test]
fn a_signed_kubernetes_release_installs_and_says_which_checks_ran() {
    let r = Release::new();
    let run = r.fetch(&[]);
    run.code(0);
    assert_eq!(std::fs::read(r.dest().join("kubelet")).unwrap(), r.data);
    assert_eq!(mode(&r.dest().join("kubelet")), 0o755);
    assert!(
        run.stdout.contains(&format!("signature={K8S_IDENTITY} (cosign-detached, issuer https://accounts.google.com)")),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("chain: ok, sct: ok, identity: ok, signature: ok"), "{}", run.stdout);
    assert!(run.stdout.contains("tlog: not checked (no bundle)"), "{}", run.stdout);

    let json = kverify(r.args(&["fetch", "kubelet", V, "--json", "--dest", &r.dest().display().to_string()]));
    json.code(0);
    let row = &json.json()[0];
    assert_eq!(row["status"], "ok");
    assert_eq!(row["evidence"]["signature"]["kind"], "cosign-detached");
    assert_eq!(row["evidence"]["signature"]["identity"], K8S_IDENTITY);
    assert_eq!(row["evidence"]["signature"]["chain"], true);
    assert_eq!(row["evidence"]["signature"]["sct"], true);
    assert_eq!(row["evidence"]["signature"]["tlog"], false);
}

/// Each broken signature: exit 1, the previous binary untouched, no leftovers.
#[test]
fn every_bad_signature_fails_closed() {
    type Breakage = Box<dyn Fn(&Release)>;
    let cases: Vec<(&str, Breakage, &str)> = vec![
        (
            "wrong identity",
            Box::new(|r| r.sign_with(&Leaf { identity: "someone@example.com".into(), ..Leaf::kubernetes() })),
            "someone@example.com",
        ),
        (
            "wrong issuer",
            Box::new(|r| r.sign_with(&Leaf { issuer: "https://evil.example".into(), ..Leaf::kubernetes() })),
            "https://evil.example",
        ),
        (
            "untrusted CA",
            Box::new(|r| {
                TestSigstore::new().write_pair(&r.bin_dir(), "kubelet", &r.data, &Leaf::kubernetes());
            }),
            "",
        ),
        (
            "CA not valid at issuance",
            Box::new(|r| r.sign_with(&Leaf { issued: (2022, 6, 1), ..Leaf::kubernetes() })),
            "",
        ),
        (
            "SCT from an unknown log",
            Box::new(|r| r.sign_with(&Leaf { sct: Sct::UnknownLog, ..Leaf::kubernetes() })),
            "",
        ),
        ("SCT outside validity", Box::new(|r| r.sign_with(&Leaf { sct: Sct::At(3600), ..Leaf::kubernetes() })), ""),
        ("no code-signing EKU", Box::new(|r| r.sign_with(&Leaf { code_signing: false, ..Leaf::kubernetes() })), ""),
        (
            "signature from another certificate",
            Box::new(|r| {
                let other = r.sigstore.sign(&r.data, &Leaf::kubernetes());
                write(&r.bin_dir(), "kubelet.cert", other.cert);
            }),
            "",
        ),
        (
            "signature over other bytes",
            Box::new(|r| {
                let other = r.sigstore.sign(b"other bytes", &Leaf::kubernetes());
                write(&r.bin_dir(), "kubelet.sig", other.sig);
                write(&r.bin_dir(), "kubelet.cert", other.cert);
            }),
            "",
        ),
        ("missing .sig", Box::new(|r| std::fs::remove_file(r.bin_dir().join("kubelet.sig")).unwrap()), "kubelet.sig"),
        (
            "missing .cert",
            Box::new(|r| std::fs::remove_file(r.bin_dir().join("kubelet.cert")).unwrap()),
            "kubelet.cert",
        ),
        (
            "garbage base64",
            Box::new(|r| std::fs::write(r.bin_dir().join("kubelet.sig"), "!!not base64!!").unwrap()),
            "",
        ),
    ];
    for (what, break_it, named) in cases {
        let r = Release::new();
        break_it(&r);
        let run = r.fetch(&[]);
        assert_eq!(run.code, 1, "{what}: exit code\n{}\n{}", run.stdout, run.stderr);
        assert!(run.line_with("kubelet").starts_with("FAIL"), "{what}: {}", run.stdout);
        assert!(run.stdout.contains(named), "{what}: the report should name {named:?}\n{}", run.stdout);
        r.untouched();
    }
}

#[test]
fn insecure_skip_signature_installs_and_says_so() {
    let r = Release::new();
    std::fs::remove_file(r.bin_dir().join("kubelet.sig")).unwrap();
    let run = r.fetch(&["--insecure-skip-signature"]);
    run.code(0);
    assert!(run.stdout.contains("signature: not checked (--insecure-skip-signature)"), "{}", run.stdout);
    assert_eq!(std::fs::read(r.dest().join("kubelet")).unwrap(), r.data);
}

#[test]
fn require_signature_fails_artifacts_that_have_none() {
    let r = Release::new();
    // etcd publishes no signature at all.
    let gh = r.tmp.path().join("gh/etcd-io/etcd/releases/download/v3.5.12");
    write(&gh, "SHA256SUMS", format!("{}  etcd-v3.5.12-linux-amd64.tar.gz\n", sha256_hex(b"x")));
    write(&gh, "etcd-v3.5.12-linux-amd64.tar.gz", b"x");
    let mut a = r.args(&["fetch", "etcd", "v3.5.12", "--require-signature", "--dest", &r.dest().display().to_string()]);
    a.push(format!("--mirror=https://github.com=file://{}", r.tmp.path().join("gh").display()));
    let run = kverify(a);
    run.code(1);
    assert!(run.stdout.contains("no signature is published and --require-signature is set"), "{}", run.stdout);
    r.untouched();
}

#[test]
fn containerd_attestations_are_required_from_2_0_1() {
    let r = Release::new();
    let gh = r.tmp.path().join("gh/containerd/containerd/releases/download/v2.0.1");
    let name = "containerd-2.0.1-linux-amd64.tar.gz";
    write(&gh, name, b"tarball");
    write(&gh, &format!("{name}.sha256sum"), format!("{}  {name}\n", sha256_hex(b"tarball")));
    let mut a = r.args(&["fetch", "containerd", "2.0.1", "--dest", &r.dest().display().to_string()]);
    a.push(format!("--mirror=https://github.com=file://{}", r.tmp.path().join("gh").display()));
    let run = kverify(a);
    run.code(1);
    assert!(run.stdout.contains("containerd-2.0.1-attestation.intoto.jsonl"), "{}", run.stdout);
    r.untouched();
}

/// An SPDX tag-value SBOM listing `files` for a release `version`.
fn sbom(version: &str, files: &[(&str, &[u8])]) -> String {
    let mut s = format!(
        "SPDXVersion: SPDX-2.3\r\nDataLicense: CC0-1.0\r\nSPDXID: SPDXRef-DOCUMENT\r\nDocumentName: kubernetes\r\nDocumentNamespace: https://sbom.k8s.io/{version}/release\r\n\r\nPackageName: kubernetes\r\nSPDXID: SPDXRef-Package\r\n\r\n"
    );
    for (name, data) in files {
        s.push_str(&format!(
            "FileName: {name}\r\nSPDXID: SPDXRef-File\r\nFileChecksum: SHA512: {}\r\nFileChecksum: SHA256: {}\r\n\r\n",
            sha512_hex(data),
            sha256_hex(data)
        ));
    }
    s
}

fn publish_sbom(r: &Release, text: &str) {
    let dir = r.tmp.path().join(format!("up/release/{V}"));
    write(&dir, "kubernetes-release.spdx", text);
    r.sigstore.write_pair(&dir, "kubernetes-release.spdx", text.as_bytes(), &Leaf::kubernetes());
}

#[test]
fn verify_release_takes_every_digest_from_one_signed_sbom() {
    let r = Release::new();
    let kubectl = bytes(43, 50_000);
    publish_sbom(&r, &sbom(V, &[("bin/linux/amd64/kubelet", &r.data), ("bin/linux/amd64/kubectl", &kubectl)]));
    // The per-binary signatures are gone: only the SBOM's signature can vouch.
    std::fs::remove_file(r.bin_dir().join("kubelet.sig")).unwrap();
    let local = r.tmp.path().join("local");
    write(&local, "kubelet", &r.data);
    write(&local, "kubectl", &kubectl);
    let run = kverify(r.args(&["verify", &local.display().to_string(), "--release", V]));
    run.code(0);
    assert!(run.line_with("kubelet").starts_with("OK"), "{}", run.stdout);
    assert!(run.line_with("kubectl").starts_with("OK"), "{}", run.stdout);
    assert!(run.stdout.contains("kubernetes-release.spdx:"), "{}", run.stdout);
    assert!(run.stdout.contains("digests from the signed release SBOM"), "{}", run.stdout);

    // A tampered local copy fails against the SBOM's digest.
    write(&local, "kubectl", b"tampered");
    kverify(r.args(&["verify", &local.display().to_string(), "--release", V])).code(1);
}

#[test]
fn a_replayed_sbom_of_another_release_is_refused() {
    let r = Release::new();
    publish_sbom(&r, &sbom("v1.28.0", &[("bin/linux/amd64/kubelet", &r.data)]));
    let run = kverify(r.args(&[
        "verify",
        &r.bin_dir().join("kubelet").display().to_string(),
        "--release",
        "kubelet@v1.29.0",
    ]));
    run.code(1);
    assert!(run.stderr.contains("an SBOM of another release"), "{}", run.stderr);
}

#[test]
fn a_binary_the_sbom_does_not_list_is_reported_not_passed() {
    let r = Release::new();
    publish_sbom(&r, &sbom(V, &[("bin/linux/amd64/kubectl", b"x")]));
    let file = write(r.tmp.path(), "local/kubelet", &r.data);
    let run = kverify(r.args(&["verify", &file.display().to_string(), "--release", "kubelet@v1.29.0"]));
    run.code(1);
    assert!(
        run.stderr.contains("kubelet v1.29.0 linux/amd64 is not listed in the signed release SBOM"),
        "{}",
        run.stderr
    );
}

#[test]
fn an_sbom_with_a_bad_signature_fails_closed() {
    let r = Release::new();
    let text = sbom(V, &[("bin/linux/amd64/kubelet", &r.data)]);
    publish_sbom(&r, &text);
    // Same signature, edited document.
    write(
        &r.tmp.path().join(format!("up/release/{V}")),
        "kubernetes-release.spdx",
        text.replace("SPDX-2.3", "SPDX-2.2"),
    );
    let run = kverify(r.args(&[
        "verify",
        &r.bin_dir().join("kubelet").display().to_string(),
        "--release",
        "kubelet@v1.29.0",
    ]));
    run.code(1);
    assert!(run.stderr.contains("does not verify"), "{}", run.stderr);
}

/// A release of three signed binaries on the test server, with or without its signed SBOM.
fn serve_signed_release(
    with_sbom: bool,
) -> (crate::support::server::Server, TestSigstore, Vec<(&'static str, Vec<u8>)>) {
    use crate::support::releases::{k8s_path, publish_k8s};
    let server = crate::support::server::Server::start();
    let sigstore = TestSigstore::new();
    let binaries: Vec<(&str, Vec<u8>)> =
        vec![("kubelet", bytes(61, 30_000)), ("kubectl", bytes(62, 20_000)), ("kubeadm", bytes(63, 10_000))];
    for (name, data) in &binaries {
        publish_k8s(&server, V, name, data);
        let pair = sigstore.sign(data, &Leaf::kubernetes());
        server.put(&format!("{}.sig", k8s_path(V, name)), pair.sig);
        server.put(&format!("{}.cert", k8s_path(V, name)), pair.cert);
    }
    if with_sbom {
        let files: Vec<(String, &[u8])> =
            binaries.iter().map(|(n, d)| (format!("bin/linux/amd64/{n}"), d.as_slice())).collect();
        let listed: Vec<(&str, &[u8])> = files.iter().map(|(n, d)| (n.as_str(), *d)).collect();
        let text = sbom(V, &listed);
        let pair = sigstore.sign(text.as_bytes(), &Leaf::kubernetes());
        server.put(&format!("release/{V}/kubernetes-release.spdx"), text);
        server.put(&format!("release/{V}/kubernetes-release.spdx.sig"), pair.sig);
        server.put(&format!("release/{V}/kubernetes-release.spdx.cert"), pair.cert);
    }
    (server, sigstore, binaries)
}

#[test]
fn verify_release_of_a_directory_downloads_one_sbom_instead_of_a_signature_per_binary() {
    for with_sbom in [true, false] {
        let (server, sigstore, binaries) = serve_signed_release(with_sbom);
        let tmp = tempdir();
        sigstore.write_trusted_root(&tmp.path().join("trusted_root.json"));
        for (name, data) in &binaries {
            write(&tmp.path().join("bin"), name, data);
        }
        let run = kverify([
            "verify".to_string(),
            tmp.path().join("bin").display().to_string(),
            "--release".into(),
            V.into(),
            format!("--mirror=https://dl.k8s.io={}", server.base()),
            format!("--trusted-root={}", tmp.path().join("trusted_root.json").display()),
            "--os=linux".into(),
            "--arch=amd64".into(),
        ]);
        run.code(0);
        assert!(run.stdout.contains("3 files verified"), "{}", run.stdout);
        let mut paths = server.paths();
        paths.sort();
        if with_sbom {
            // One document and its signature vouch for all three binaries.
            let spdx = format!("/release/{V}/kubernetes-release.spdx");
            assert_eq!(paths, [spdx.clone(), format!("{spdx}.cert"), format!("{spdx}.sig")]);
        } else {
            // Without it: the SBOM's 404, then checksums and a signature per binary.
            assert_eq!(paths.len(), 1 + 3 * 4, "{paths:?}");
        }
    }
}

#[test]
fn lock_cross_checks_a_validly_signed_artifact_against_the_release_sbom() {
    let r = Release::new();
    let lock = r.tmp.path().join("kverify.lock").display().to_string();
    let lock_args = |r: &Release| {
        kverify(r.args(&["lock", "kubelet@v1.29.0", "--platform", "linux/amd64", "--no-rekor", "-o", &lock]))
    };
    // The SBOM agrees: its URL joins the pin's checksum sources.
    publish_sbom(&r, &sbom(V, &[("bin/linux/amd64/kubelet", &r.data)]));
    lock_args(&r).code(0);
    let text = std::fs::read_to_string(&lock).unwrap();
    assert!(text.contains("kubernetes-release.spdx"), "{text}");
    // The SBOM lists both digests of one file: the SHA-512 is tied to it and pinned.
    assert!(text.contains(&format!("sha512 = \"{}\"", sha512_hex(&r.data))), "{text}");

    // Another kubelet, validly signed by the same identity (say, another release's),
    // served under this release's path: its own signature verifies, the SBOM does not agree.
    std::fs::remove_file(&lock).unwrap();
    let other = bytes(77, 150_000);
    r.publish(&other);
    r.sigstore.write_pair(&r.bin_dir(), "kubelet", &other, &Leaf::kubernetes());
    let run = lock_args(&r);
    run.code(1);
    assert!(run.stdout.contains("disagrees with the signed release SBOM"), "{}", run.stdout);
    assert!(run.stdout.contains(&format!("sha256:{}", sha256_hex(&r.data))), "{}", run.stdout);
    assert!(!std::path::Path::new(&lock).exists());
}

#[test]
fn fetch_refuses_a_validly_signed_binary_of_another_release_served_here() {
    let r = Release::new();
    publish_sbom(&r, &sbom(V, &[("bin/linux/amd64/kubelet", &r.data)]));
    r.fetch(&[]).code(0);
    assert_eq!(std::fs::read(r.dest().join("kubelet")).unwrap(), r.data);

    // A signature covers a digest, not a name or a version: an older kubelet with its
    // own valid signature and checksums, served under v1.29.0, passes every check but
    // the release's SBOM.
    write(&r.dest(), "kubelet", b"previous kubelet");
    let older = bytes(78, 120_000);
    r.publish(&older);
    r.sigstore.write_pair(&r.bin_dir(), "kubelet", &older, &Leaf::kubernetes());
    let run = r.fetch(&[]);
    run.code(1);
    assert!(run.line_with("kubelet").contains("disagrees with the signed release SBOM"), "{}", run.stdout);
    r.untouched();
}
