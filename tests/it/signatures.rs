//! `kverify verify --bundle` and `--signature/--certificate`: real Sigstore signatures
//! from the shared test vectors, and Kubernetes-shaped pairs from a test PKI.

use std::path::{Path, PathBuf};

use base64::Engine as _;

use crate::support::pki::{Leaf, Sct, TestSigstore, K8S_IDENTITY, K8S_ISSUER};
use crate::support::*;

const VECTORS: &str = "../shared/testvectors";
const BEACON: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const GITHUB: &str = "https://token.actions.githubusercontent.com";

fn vectors(rel: &str) -> PathBuf {
    let path = Path::new(VECTORS).join(rel);
    assert!(path.exists(), "test vectors missing: {} (shared/ must sit beside the checkout)", path.display());
    path
}

fn s(path: &Path) -> String {
    path.display().to_string()
}

// ------------------------------------------------------------ sigstore-conformance

/// Every case of the conformance suite's bundle-verify set, through the CLI: `_fail`
/// cases exit 1, the others 0. Managed-key cases use `--key` when the case has one.
#[test]
fn every_sigstore_conformance_bundle_case_gets_the_expected_verdict() {
    let dir = vectors("sigstore-conformance/bundle-verify");
    let mut cases: Vec<PathBuf> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    cases.sort();
    let (mut passing, mut failing, mut wrong) = (0, 0, Vec::new());
    for case in &cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let artifact = if case.join("artifact").exists() { case.join("artifact") } else { dir.join("a.txt") };
        let mut args =
            vec!["verify".to_string(), s(&artifact), "--bundle".into(), s(&case.join("bundle.sigstore.json"))];
        if case.join("key.pub").exists() {
            args.extend(["--key".into(), s(&case.join("key.pub"))]);
        } else {
            let read = |file: &str, default: &str| {
                std::fs::read_to_string(case.join(file)).map(|t| t.trim().to_string()).unwrap_or(default.into())
            };
            args.extend(["--certificate-identity".into(), read("identity", BEACON)]);
            args.extend(["--certificate-oidc-issuer".into(), read("issuer", GITHUB)]);
        }
        if case.join("trusted_root.json").exists() {
            args.extend(["--trusted-root".into(), s(&case.join("trusted_root.json"))]);
        }
        let want = if name.ends_with("_fail") { 1 } else { 0 };
        let run = kverify(&args);
        if want == 0 {
            passing += 1;
        } else {
            failing += 1;
        }
        if run.code != want {
            wrong.push(format!("{name}: exit {} (wanted {want})\n{}{}", run.code, run.stdout, run.stderr));
        }
    }
    assert!(wrong.is_empty(), "{} of {} cases wrong:\n{}", wrong.len(), cases.len(), wrong.join("\n"));
    assert!(passing >= 15 && failing >= 25, "only {passing} passing and {failing} failing cases found");
}

#[test]
fn a_bundle_reports_tlog_and_signing_time() {
    let dir = vectors("sigstore-conformance/bundle-verify");
    let bundle = s(&dir.join("happy-path-v0.3/bundle.sigstore.json"));
    let a = s(&dir.join("a.txt"));
    let args =
        ["verify", &a, "--bundle", &bundle, "--certificate-identity", BEACON, "--certificate-oidc-issuer", GITHUB];
    let run = kverify(args);
    run.code(0);
    assert!(run.stdout.contains("chain: ok, sct: ok, identity: ok, signature: ok, tlog: ok"), "{}", run.stdout);
    let json = kverify(args.iter().copied().chain(["--json"])).json();
    let sig = &json[0]["evidence"]["signature"];
    assert_eq!(sig["kind"], "bundle");
    assert_eq!(sig["identity"], BEACON);
    assert_eq!(sig["tlog"], true);
    assert_eq!(sig["signed_at"], "2024-03-19T17:26:26Z");
}

#[test]
fn a_bundle_for_another_file_fails() {
    let dir = vectors("sigstore-conformance/bundle-verify");
    let t = tempdir();
    let b = write(t.path(), "b.txt", "b\n");
    let bundle = s(&dir.join("happy-path-v0.1/bundle.sigstore.json"));
    let run = kverify([
        "verify",
        &s(&b),
        "--bundle",
        &bundle,
        "--certificate-identity",
        BEACON,
        "--certificate-oidc-issuer",
        GITHUB,
    ]);
    run.code(1);
    assert!(run.line_with("b.txt").starts_with("FAIL"), "{}", run.stdout);
}

#[test]
fn a_bundle_with_the_kubernetes_identity_says_expected_and_found() {
    let dir = vectors("sigstore-conformance/bundle-verify");
    let run = kverify([
        "verify",
        &s(&dir.join("a.txt")),
        "--bundle",
        &s(&dir.join("happy-path-v0.3/bundle.sigstore.json")),
        "--certificate-identity",
        K8S_IDENTITY,
        "--certificate-oidc-issuer",
        K8S_ISSUER,
    ]);
    run.code(1);
    let line = run.line_with("a.txt");
    assert!(line.contains(&format!("expected {K8S_IDENTITY}, found {BEACON}")), "{line}");
}

// ------------------------------------------------------------ detached-fulcio

fn detached(artifact: &Path, sig: &str, cert: &str, identity: &str, issuer: &str) -> Run {
    let dp = vectors("detached-fulcio");
    kverify([
        "verify",
        &s(artifact),
        "--signature",
        &s(&dp.join(sig)),
        "--certificate",
        &s(&dp.join(cert)),
        "--certificate-identity",
        identity,
        "--certificate-oidc-issuer",
        issuer,
    ])
}

#[test]
fn real_fulcio_pairs_verify_offline_and_say_the_tlog_was_not_checked() {
    let a = vectors("detached-fulcio/a.txt");
    for v in ["v0.1", "v0.3"] {
        let run = detached(&a, &format!("a.txt.{v}.sig"), &format!("a.txt.{v}.cert"), BEACON, GITHUB);
        run.code(0);
        assert!(run.line_with("a.txt").starts_with("OK"), "{}", run.stdout);
        assert!(run.stdout.contains("chain: ok, sct: ok, identity: ok, signature: ok\n"), "{}", run.stdout);
        assert!(run.stdout.contains("tlog: not checked (no bundle)"), "{}", run.stdout);
    }
}

#[test]
fn real_fulcio_pairs_refuse_the_kubernetes_identity() {
    let a = vectors("detached-fulcio/a.txt");
    for v in ["v0.1", "v0.3"] {
        let run = detached(&a, &format!("a.txt.{v}.sig"), &format!("a.txt.{v}.cert"), K8S_IDENTITY, K8S_ISSUER);
        run.code(1);
        assert!(run.line_with("a.txt").contains(&format!("expected {K8S_IDENTITY}")), "{}", run.stdout);
    }
}

#[test]
fn real_fulcio_pairs_refuse_another_file_and_each_others_signature() {
    let t = tempdir();
    let b = write(t.path(), "b.txt", "b\n");
    detached(&b, "a.txt.v0.1.sig", "a.txt.v0.1.cert", BEACON, GITHUB).code(1);
    let a = vectors("detached-fulcio/a.txt");
    detached(&a, "a.txt.v0.1.sig", "a.txt.v0.3.cert", BEACON, GITHUB).code(1);
    detached(&a, "a.txt.v0.3.sig", "a.txt.v0.1.cert", BEACON, GITHUB).code(1);
}

// ------------------------------------------------------------ Kubernetes identity, test PKI

/// A kubelet, its `.sig`/`.cert` from `sigstore` as `leaf` says, and the trusted root of
/// `trusted` (usually the same test Sigstore).
struct K8s {
    dir: tempfile::TempDir,
}

impl K8s {
    fn new(signer: &TestSigstore, leaf: &Leaf, trusted: &TestSigstore) -> K8s {
        let dir = tempdir();
        let data = bytes(29, 300_000);
        write(dir.path(), "kubelet", &data);
        signer.write_pair(dir.path(), "kubelet", &data, leaf);
        trusted.write_trusted_root(&dir.path().join("trusted_root.json"));
        K8s { dir }
    }

    fn signed(leaf: &Leaf) -> K8s {
        let sigstore = TestSigstore::new();
        K8s::new(&sigstore, leaf, &sigstore)
    }

    fn path(&self, rel: &str) -> String {
        s(&self.dir.path().join(rel))
    }

    fn verify_as(&self, identity: &str, issuer: &str, extra: &[&str]) -> Run {
        let mut args = vec![
            "verify".to_string(),
            self.path("kubelet"),
            "--signature".into(),
            self.path("kubelet.sig"),
            "--certificate".into(),
            self.path("kubelet.cert"),
            "--trusted-root".into(),
            self.path("trusted_root.json"),
            "--certificate-identity".into(),
            identity.into(),
            "--certificate-oidc-issuer".into(),
            issuer.into(),
        ];
        args.extend(extra.iter().map(|a| a.to_string()));
        kverify(args)
    }

    fn verify(&self) -> Run {
        self.verify_as(K8S_IDENTITY, K8S_ISSUER, &[])
    }

    /// Asserts exit 1 with the kubelet named as failed, for a reason matching `why`.
    #[track_caller]
    fn refused(&self, why: &str) {
        let run = self.verify();
        run.code(1);
        let line = run.line_with("kubelet");
        assert!(line.starts_with("FAIL") && line.contains(why), "wanted FAIL for {why:?}:\n{}", run.stdout);
    }
}

#[test]
fn a_kubernetes_pair_verifies_with_the_release_identity() {
    let k = K8s::signed(&Leaf::kubernetes());
    let run = k.verify();
    run.code(0);
    assert!(run.line_with("kubelet").starts_with("OK"), "{}", run.stdout);
    assert!(run.stdout.contains(&format!("signature={K8S_IDENTITY} (cosign-detached, issuer {K8S_ISSUER})")));
    assert!(run.stdout.contains("chain: ok, sct: ok, identity: ok, signature: ok\n"), "{}", run.stdout);
    assert!(run.stdout.contains("tlog: not checked (no bundle)"), "{}", run.stdout);

    let json = k.verify_as(K8S_IDENTITY, K8S_ISSUER, &["--json"]).json();
    let sig = &json[0]["evidence"]["signature"];
    assert_eq!(json[0]["status"], "ok");
    assert_eq!(sig["kind"], "cosign-detached");
    assert_eq!(sig["identity"], K8S_IDENTITY);
    assert_eq!(sig["issuer"], K8S_ISSUER);
    assert_eq!(
        (sig["chain"].clone(), sig["sct"].clone(), sig["tlog"].clone()),
        (true.into(), true.into(), false.into())
    );
    assert_eq!(sig["signed_at"], serde_json::Value::Null);
    assert_eq!(sig["notes"][0], "tlog: not checked (no bundle)");
}

#[test]
fn a_kubernetes_pair_with_a_bare_pem_certificate_verifies_too() {
    let k = K8s::signed(&Leaf::kubernetes());
    let cert = std::fs::read_to_string(k.path("kubelet.cert")).unwrap();
    let pem = base64::engine::general_purpose::STANDARD.decode(cert.trim()).unwrap();
    std::fs::write(k.path("kubelet.cert"), pem).unwrap();
    k.verify().code(0);
}

#[test]
fn an_identity_regexp_must_match_the_whole_identity() {
    let k = K8s::signed(&Leaf::kubernetes());
    let flags = |re: &str| {
        kverify([
            "verify",
            &k.path("kubelet"),
            "--signature",
            &k.path("kubelet.sig"),
            "--certificate",
            &k.path("kubelet.cert"),
            "--trusted-root",
            &k.path("trusted_root.json"),
            "--certificate-identity-regexp",
            re,
            "--certificate-oidc-issuer",
            K8S_ISSUER,
        ])
    };
    flags(r"krel-staging@k8s-releng-prod\.iam\.gserviceaccount\.com").code(0);
    flags(r".*@k8s-releng-prod\.iam\.gserviceaccount\.com").code(0);
    flags(r"krel-staging").code(1);
    flags(r"(").code(2);
}

#[test]
fn the_wrong_identity_is_refused_saying_expected_and_found() {
    let k = K8s::signed(&Leaf::kubernetes());
    let run = k.verify_as("someone@example.com", K8S_ISSUER, &[]);
    run.code(1);
    assert!(
        run.line_with("kubelet")
            .contains(&format!("wrong signer identity: expected someone@example.com, found {K8S_IDENTITY}")),
        "{}",
        run.stdout
    );
}

#[test]
fn a_certificate_from_another_issuer_is_refused() {
    let leaf = Leaf { issuer: "https://token.actions.githubusercontent.com".into(), ..Leaf::kubernetes() };
    K8s::signed(&leaf).refused("wrong OIDC issuer: expected https://accounts.google.com");
}

#[test]
fn a_certificate_from_an_untrusted_ca_is_refused() {
    let (mallory, trusted) = (TestSigstore::new(), TestSigstore::new());
    K8s::new(&mallory, &Leaf::kubernetes(), &trusted).refused("does not chain to a trusted Fulcio CA");
}

#[test]
fn a_certificate_issued_before_the_ca_was_trusted_is_refused() {
    let leaf = Leaf { issued: (2022, 6, 1), ..Leaf::kubernetes() };
    K8s::signed(&leaf).refused("does not chain to a trusted Fulcio CA at its issuance (2022-06-01T00:00:00Z)");
}

#[test]
fn an_sct_from_an_unknown_log_is_refused() {
    K8s::signed(&Leaf { sct: Sct::UnknownLog, ..Leaf::kubernetes() }).refused("unknown CT log");
}

#[test]
fn an_sct_outside_the_certificate_validity_is_refused() {
    K8s::signed(&Leaf { sct: Sct::At(601), ..Leaf::kubernetes() }).refused("outside the certificate's validity");
    K8s::signed(&Leaf { sct: Sct::At(-1), ..Leaf::kubernetes() }).refused("outside the certificate's validity");
    // Inside the ten minutes is fine.
    K8s::signed(&Leaf { sct: Sct::At(599), ..Leaf::kubernetes() }).verify().code(0);
}

#[test]
fn a_certificate_without_an_sct_is_refused() {
    K8s::signed(&Leaf { sct: Sct::Missing, ..Leaf::kubernetes() }).refused("embedded SCT does not verify");
}

#[test]
fn a_certificate_without_the_code_signing_eku_is_refused() {
    K8s::signed(&Leaf { code_signing: false, ..Leaf::kubernetes() })
        .refused("lacks the code-signing extended key usage");
}

#[test]
fn a_tampered_signature_is_refused() {
    let k = K8s::signed(&Leaf::kubernetes());
    let sig = std::fs::read_to_string(k.path("kubelet.sig")).unwrap();
    let mut der = base64::engine::general_purpose::STANDARD.decode(sig.trim()).unwrap();
    let at = der.len() - 5;
    der[at] ^= 0x01;
    std::fs::write(k.path("kubelet.sig"), base64::engine::general_purpose::STANDARD.encode(der)).unwrap();
    k.refused("signature does not match this file");
}

#[test]
fn a_tampered_file_is_refused() {
    let k = K8s::signed(&Leaf::kubernetes());
    let mut data = std::fs::read(k.path("kubelet")).unwrap();
    data[100_000] ^= 0xff;
    std::fs::write(k.path("kubelet"), data).unwrap();
    k.refused("signature does not match this file");
}

#[test]
fn a_signature_from_another_certificate_is_refused() {
    let sigstore = TestSigstore::new();
    let k = K8s::new(&sigstore, &Leaf::kubernetes(), &sigstore);
    let other = sigstore.sign(&std::fs::read(k.path("kubelet")).unwrap(), &Leaf::kubernetes());
    std::fs::write(k.path("kubelet.cert"), other.cert).unwrap();
    k.refused("signature does not match this file");
}

#[test]
fn garbage_base64_is_refused_as_malformed() {
    let k = K8s::signed(&Leaf::kubernetes());
    let good_sig = std::fs::read(k.path("kubelet.sig")).unwrap();
    std::fs::write(k.path("kubelet.sig"), "this is not base64!!\n").unwrap();
    k.refused("the signature is not valid base64");
    std::fs::write(k.path("kubelet.sig"), good_sig).unwrap();
    std::fs::write(k.path("kubelet.cert"), "LS0tLS1CRUdJTi@@@@").unwrap();
    k.refused("the certificate is not valid base64");
    std::fs::write(k.path("kubelet.cert"), base64::engine::general_purpose::STANDARD.encode(bytes(3, 500))).unwrap();
    k.refused("the certificate is malformed");
}

#[test]
fn a_signature_and_a_checksum_must_both_pass() {
    let k = K8s::signed(&Leaf::kubernetes());
    let right = sha256_hex(&std::fs::read(k.path("kubelet")).unwrap());
    let run = k.verify_as(K8S_IDENTITY, K8S_ISSUER, &["--sha256", &right]);
    run.code(0);
    assert!(run.stdout.contains("checksum=--sha256 signature=krel-staging@"), "{}", run.stdout);
    let run = k.verify_as(K8S_IDENTITY, K8S_ISSUER, &["--sha256", &sha256_hex(b"other")]);
    run.code(1);
    assert!(run.line_with("kubelet").contains("sha256 mismatch"), "{}", run.stdout);
}

#[test]
fn without_a_pinned_identity_a_signature_is_a_usage_error() {
    let k = K8s::signed(&Leaf::kubernetes());
    let base =
        ["verify", &k.path("kubelet"), "--signature", &k.path("kubelet.sig"), "--certificate", &k.path("kubelet.cert")];
    for extra in [&[][..], &["--certificate-identity", K8S_IDENTITY], &["--certificate-oidc-issuer", K8S_ISSUER]] {
        let run = kverify(base.iter().chain(extra));
        run.code(2);
        assert!(run.stderr.contains("without a pinned signer") && run.stderr.contains("hint: "), "{}", run.stderr);
    }
}

#[test]
fn unreadable_evidence_is_an_io_error_and_a_bad_trusted_root_a_failure() {
    let k = K8s::signed(&Leaf::kubernetes());
    std::fs::remove_file(k.path("kubelet.sig")).unwrap();
    let run = k.verify();
    run.code(3);
    assert!(run.stderr.contains("kubelet.sig"), "{}", run.stderr);

    let k = K8s::signed(&Leaf::kubernetes());
    std::fs::write(k.path("trusted_root.json"), "{\"mediaType\": []}").unwrap();
    let run = k.verify();
    run.code(1);
    assert!(run.stderr.contains("cannot load the trusted root"), "{}", run.stderr);

    let k = K8s::signed(&Leaf::kubernetes());
    std::fs::remove_file(k.path("trusted_root.json")).unwrap();
    let run = k.verify();
    run.code(3);
    assert!(run.stderr.contains("cannot read the trusted root"), "{}", run.stderr);

    let k = K8s::signed(&Leaf::kubernetes());
    std::fs::remove_file(k.path("kubelet")).unwrap();
    k.verify().code(3);
}

#[test]
fn the_pki_helper_writes_kubernetes_shaped_files() {
    let t = tempdir();
    let data = bytes(5, 1000);
    let files =
        crate::support::pki::write_kubernetes_signature(t.path(), "kubectl", &data, &t.path().join("root.json"));
    let sig = std::fs::read_to_string(&files.sig).unwrap();
    let cert = std::fs::read_to_string(&files.cert).unwrap();
    assert!(!sig.contains('\n') && base64::engine::general_purpose::STANDARD.decode(&sig).is_ok());
    assert!(cert.starts_with("LS0tLS1CRUdJTi"), "{cert}");
    write(t.path(), "kubectl", &data);
    kverify([
        "verify",
        &s(&t.path().join("kubectl")),
        "--signature",
        &s(&files.sig),
        "--certificate",
        &s(&files.cert),
        "--trusted-root",
        &s(&files.trusted_root),
        "--certificate-identity",
        K8S_IDENTITY,
        "--certificate-oidc-issuer",
        K8S_ISSUER,
    ])
    .code(0);
}

#[test]
fn a_signature_that_is_not_der_is_refused_as_malformed() {
    let k = K8s::signed(&Leaf::kubernetes());
    std::fs::write(k.path("kubelet.sig"), base64::engine::general_purpose::STANDARD.encode(b"not a DER signature"))
        .unwrap();
    k.refused("the signature is not a DER ECDSA signature");
}
