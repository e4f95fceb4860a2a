//! Transparency-log capture for a Kubernetes-signed release, end to end: kubelet
//! v1.29.0 signed by the test Sigstore (Kubernetes identity), its Rekor v1 entry in a
//! Merkle tree, checkpoint and SET that the test makes with the test Rekor key
//! (`support::rekor_log`), served by the fake Rekor of `rekor.rs`.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use rcgen::{KeyPair, PKCS_ECDSA_P256_SHA256};
use sha2::Digest as _;

use crate::rekor::{Answer, FakeRekor};
use crate::support::pki::{Leaf, TestSigstore, K8S_IDENTITY, K8S_ISSUER};
use crate::support::rekor_log::*;
use crate::support::*;

const V: &str = "v1.29.0";

/// Index of the kubelet's entry in the shard: five entries before it, one after.
const INDEX: u64 = 5;

struct Release {
    tmp: tempfile::TempDir,
    sigstore: TestSigstore,
    /// The kubelet's entry, and a valid entry of another artifact (same signer) after it.
    log_body: String,
    other_body: String,
}

impl Release {
    fn new() -> Release {
        let tmp = tempdir();
        let sigstore = TestSigstore::new();
        sigstore.write_trusted_root(&tmp.path().join("trusted_root.json"));
        let data = bytes(129, 150_000);
        let dir = tmp.path().join(format!("up/release/{V}/bin/linux/amd64"));
        write(&dir, "kubelet", &data);
        write(&dir, "kubelet.sha256", sha256_hex(&data));
        write(&dir, "kubelet.sha512", sha512_hex(&data));
        let pair = sigstore.sign(&data, &Leaf::kubernetes());
        write(&dir, "kubelet.sig", &pair.sig);
        write(&dir, "kubelet.cert", &pair.cert);
        write(tmp.path(), "local/kubelet", &data);

        let other = bytes(130, 1000);
        let other_pair = sigstore.sign(&other, &Leaf::kubernetes());
        Release {
            log_body: hashedrekord_body(&sha2::Sha256::digest(&data).into(), &pair),
            other_body: hashedrekord_body(&sha2::Sha256::digest(&other).into(), &other_pair),
            tmp,
            sigstore,
        }
    }

    /// The shard: five unrelated entries, the kubelet's, the other artifact's.
    fn log(&self) -> TestLog<'_> {
        let mut log = TestLog::new(self.sigstore.rekor_key(), INDEX as usize);
        assert_eq!(log.append(self.log_body.clone()), INDEX);
        log.append(self.other_body.clone());
        log
    }

    /// The kubelet's entry, as the log serves it.
    fn logged(&self) -> Logged {
        self.log().logged(INDEX, INTEGRATED_TIME)
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.tmp.path().join(rel)
    }

    fn s(&self, rel: &str) -> String {
        self.path(rel).display().to_string()
    }

    fn common(&self, trusted_root: &str) -> Vec<String> {
        vec![
            format!("--mirror=https://dl.k8s.io=file://{}", self.s("up")),
            format!("--trusted-root={}", self.s(trusted_root)),
            "--no-progress".into(),
        ]
    }

    fn lock_with(&self, rekor: &str, out: &str, trusted_root: &str) -> Run {
        let mut a: Vec<String> = vec![
            "lock".into(),
            format!("kubelet@{V}"),
            "--platform=linux/amd64".into(),
            format!("--rekor-url={rekor}"),
            "-o".into(),
            self.s(out),
        ];
        a.extend(self.common(trusted_root));
        kverify(a)
    }

    fn lock(&self, rekor: &str, out: &str) -> Run {
        self.lock_with(rekor, out, "trusted_root.json")
    }
}

fn stranger() -> KeyPair {
    KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap()
}

/// The bundle kept in a lock, as JSON.
fn kept_bundle(lock_path: &Path) -> serde_json::Value {
    let lock: toml::Value = toml::from_str(&std::fs::read_to_string(lock_path).unwrap()).unwrap();
    let artifacts = lock["artifact"].as_array().unwrap();
    assert_eq!(artifacts.len(), 1, "{lock}");
    let bundle = artifacts[0]["signature"]["bundle"].as_str().unwrap();
    serde_json::from_str(bundle).unwrap()
}

#[test]
fn a_kubernetes_pair_and_its_logged_entry_lock_then_verify_offline_with_the_tlog() {
    let r = Release::new();
    let logged = r.logged();
    assert_ne!(logged.log_index, logged.proof_index, "global and shard indexes differ, as in production");
    assert_eq!(logged.hashes.len(), 3, "a tree of 7: the entry has a three-hash audit path");
    let rekor = FakeRekor::start(Answer::Entries(vec![logged.answer()]));

    let run = r.lock(&rekor.url, "kverify.lock");
    run.code(0);
    let lock = std::fs::read_to_string(r.path("kverify.lock")).unwrap();
    assert!(lock.contains("tlog = true"), "{lock}");
    assert!(lock.contains(&format!("signed_at = \"{INTEGRATED_AT}\"")), "{lock}");
    assert!(lock.contains(&format!("identity = \"{K8S_IDENTITY}\"")), "{lock}");
    assert_eq!(rekor.requests.load(Ordering::SeqCst), 1, "found by the search");

    // What was kept is the standard v0.3 bundle of this entry: the global index on the
    // entry, the shard index on the proof.
    let bundle = kept_bundle(&r.path("kverify.lock"));
    assert_eq!(bundle["mediaType"], "application/vnd.dev.sigstore.bundle.v0.3+json");
    let tlog = &bundle["verificationMaterial"]["tlogEntries"][0];
    assert_eq!(tlog["logIndex"], (SHARD_START + INDEX).to_string());
    assert_eq!(tlog["inclusionProof"]["logIndex"], INDEX.to_string());
    assert_eq!(tlog["integratedTime"], INTEGRATED_TIME.to_string());
    assert_eq!(tlog["kindVersion"]["kind"], "hashedrekord");

    // Offline from here: the lock's bundle is checked again, with no Rekor asked (the
    // fake's listener thread outlives it, so its counter shows nobody called).
    let asked = rekor.requests.clone();
    drop(rekor);
    let run = kverify([
        "verify",
        &r.s("local/kubelet"),
        "--lock",
        &r.s("kverify.lock"),
        "--trusted-root",
        &r.s("trusted_root.json"),
        "--json",
    ]);
    run.code(0);
    let row = &run.json()[0];
    assert_eq!(row["status"], "ok");
    let signature = &row["evidence"]["signature"];
    assert_eq!(signature["tlog"], true, "{row}");
    assert_eq!(signature["kind"], "bundle", "{row}");
    assert_eq!(signature["signed_at"], INTEGRATED_AT, "{row}");
    assert_eq!(signature["identity"], K8S_IDENTITY, "{row}");
    assert_eq!(signature["issuer"], K8S_ISSUER, "{row}");
    assert_eq!(asked.load(Ordering::SeqCst), 1, "verify asked no transparency log");

    // The kept bundle is checked against the trusted root, not taken on the lock's
    // word: under a root whose Rekor key is another, the same lock fails.
    let other = TestSigstore::new();
    other.write_trusted_root(&r.path("other_root.json"));
    let run = kverify([
        "verify",
        &r.s("local/kubelet"),
        "--lock",
        &r.s("kverify.lock"),
        "--trusted-root",
        &r.s("other_root.json"),
    ]);
    run.code(1);
}

#[test]
fn mirror_writes_a_bundle_that_verifies_with_the_kubernetes_identity() {
    let r = Release::new();
    let rekor = FakeRekor::start(Answer::Entries(vec![r.logged().answer()]));
    let mut a: Vec<String> = vec![
        "mirror".into(),
        format!("kubelet@{V}"),
        "--os=linux".into(),
        "--arch=amd64".into(),
        format!("--rekor-url={}", rekor.url),
        "--to".into(),
        r.s("mir"),
    ];
    a.extend(r.common("trusted_root.json"));
    kverify(a).code(0);
    let bundle = r.s(&format!("mir/dl.k8s.io/release/{V}/bin/linux/amd64/kubelet.sigstore.json"));
    assert!(Path::new(&bundle).exists());
    drop(rekor);

    let verify = |identity: &str| {
        kverify([
            "verify",
            &r.s("local/kubelet"),
            "--bundle",
            &bundle,
            "--trusted-root",
            &r.s("trusted_root.json"),
            "--certificate-identity",
            identity,
            "--certificate-oidc-issuer",
            K8S_ISSUER,
            "--json",
        ])
    };
    let run = verify(K8S_IDENTITY);
    run.code(0);
    let signature = &run.json()[0]["evidence"]["signature"];
    assert_eq!(signature["tlog"], true, "{signature}");
    assert_eq!(signature["kind"], "bundle", "{signature}");
    assert_eq!(signature["identity"], K8S_IDENTITY, "{signature}");
    assert_eq!(signature["signed_at"], INTEGRATED_AT, "{signature}");
    // The identity is still enforced on the kept bundle.
    verify("someone@example.com").code(1);
}

/// Each broken entry: exit 1, the reason named, no lock written.
#[test]
fn every_broken_entry_of_the_test_log_is_refused_and_nothing_is_kept() {
    let r = Release::new();
    let log_key = r.sigstore.rekor_key();
    let forger = stranger();
    type Breakage<'a> = Box<dyn Fn(&mut Logged) + 'a>;
    let cases: Vec<(&str, Breakage, &str)> = vec![
        ("SET signed by another key", Box::new(|l| l.set = sign_set(l, &forger)), "SET verification failed"),
        ("inclusion proof hash flipped", Box::new(|l| l.hashes[1][7] ^= 0x01), "inclusion proof verification failed"),
        (
            "checkpoint signed by another key in the log's name",
            Box::new(|l| {
                l.checkpoint = signed_checkpoint(&r.log().origin, l.tree_size, &l.root_hash, &forger, log_key)
            }),
            "No valid Rekor signature found on checkpoint",
        ),
        (
            "checkpoint signed by another key under its own hint",
            Box::new(|l| {
                l.checkpoint = signed_checkpoint(&r.log().origin, l.tree_size, &l.root_hash, &forger, &forger)
            }),
            "No matching Rekor key found for checkpoint",
        ),
        (
            "checkpoint of another tree, signed by the log",
            Box::new(|l| {
                l.checkpoint = signed_checkpoint(&r.log().origin, l.tree_size + 1, &[7; 32], log_key, log_key)
            }),
            "inclusion proof root hash does not match checkpoint root hash",
        ),
        (
            "integrated after the certificate expired (SET re-signed by the log)",
            Box::new(|l| {
                l.integrated_time = LEAF_NOT_BEFORE + 601;
                l.set = sign_set(l, log_key);
            }),
            "hint: the signing time the log or timestamp proves is after the certificate expired",
        ),
        (
            "integrated before the certificate was issued (SET re-signed by the log)",
            Box::new(|l| {
                l.integrated_time = LEAF_NOT_BEFORE - 1;
                l.set = sign_set(l, log_key);
            }),
            "hint: the signing time the log or timestamp proves is before the certificate was issued",
        ),
        (
            "integratedTime moved without the log's SET",
            Box::new(|l| l.integrated_time += 60),
            "SET verification failed",
        ),
        (
            "a valid entry of another artifact served for this pair",
            Box::new(|l| *l = r.log().logged(INDEX + 1, INTEGRATED_TIME)),
            "is not the entry of this signature and certificate",
        ),
    ];
    for (n, (name, breakage, reason)) in cases.iter().enumerate() {
        let mut logged = r.logged();
        breakage(&mut logged);
        let rekor = FakeRekor::start(Answer::Entries(vec![logged.answer()]));
        let out = format!("broken-{n}.lock");
        let run = r.lock(&rekor.url, &out);
        assert_eq!(run.code, 1, "{name}: exit code\n--- stdout\n{}\n--- stderr\n{}", run.stdout, run.stderr);
        let said = format!("{}{}", run.stdout, run.stderr);
        assert!(said.contains("transparency-log entry"), "{name}: {said}");
        assert!(said.contains(reason), "{name}: the reason {reason:?} is not named\n{said}");
        assert!(!r.path(&out).exists(), "{name}: a lock was written");
    }
}

/// The Rekor key's validity window in the trusted root must cover the integrated time:
/// an entry "integrated" before the key was the log's is refused.
#[test]
fn an_entry_integrated_outside_the_log_keys_window_is_refused() {
    let mut r = Release::new();
    r.sigstore.set_rekor_validity("2024-06-01T00:00:00Z", None);
    r.sigstore.write_trusted_root(&r.path("late_key_root.json"));
    let rekor = FakeRekor::start(Answer::Entries(vec![r.logged().answer()]));
    let run = r.lock_with(&rekor.url, "late.lock", "late_key_root.json");
    run.code(1);
    assert!(run.stdout.contains("No log key valid at integrated time"), "{}\n{}", run.stdout, run.stderr);
    assert!(!r.path("late.lock").exists());

    // The same entry under the usual root (key valid 2023 to 2025, since rotated out)
    // verifies: an expired log key still vouches for what it logged while current.
    r.lock(&rekor.url, "ok.lock").code(0);
}
