//! OpenPGP-signed upstreams through the CLI: runc's clear-signed `runc.sha256sum` and
//! helm's detached `.sha256sum.asc`, signed by keys gpg makes for the test (ed25519 with
//! a signing subkey, RSA, a lapsed key, a revoked key, a stranger), published as the
//! upstreams publish them, and served from a mirror on disk.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::support::gpg::Gpg;
use crate::support::releases::{tar_gz, Entry};
use crate::support::*;

const RUNC: &str = "github.com/opencontainers/runc/releases/download";
const HELM_GH: &str = "github.com/helm/helm/releases/download";
const HELM_DL: &str = "get.helm.sh";

/// Every release, key and signature, made once for all the tests of this file.
struct Fixture {
    tmp: tempfile::TempDir,
    keyring: PathBuf,
    runc_fpr: String,
    runc_sub: String,
    helm_fpr: String,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(build)
}

impl Fixture {
    fn up(&self) -> PathBuf {
        self.tmp.path().join("up")
    }

    fn runc_bin(&self, version: &str) -> Vec<u8> {
        std::fs::read(self.up().join(format!("{RUNC}/v{version}/runc.amd64"))).unwrap()
    }

    fn helm_bin(&self, version: &str) -> Vec<u8> {
        std::fs::read(self.tmp.path().join(format!("helm-src/{version}/helm"))).unwrap()
    }

    /// `kverify fetch COMPONENT VERSION --dest DEST` against the mirror on disk.
    fn fetch(&self, dest: &Path, target: &[&str], extra: &[&str]) -> Run {
        let mut args: Vec<String> = vec!["fetch".into()];
        args.extend(target.iter().map(|t| t.to_string()));
        args.extend(["--dest".into(), dest.display().to_string(), "--no-progress".into()]);
        args.extend(["--os", "linux", "--arch", "amd64"].map(String::from));
        args.extend(self.mirrors());
        args.extend(extra.iter().map(|e| e.to_string()));
        kverify(args)
    }

    fn mirrors(&self) -> Vec<String> {
        let up = self.up();
        vec![
            format!("--mirror=https://github.com=file://{}", up.join("github.com").display()),
            format!("--mirror=https://get.helm.sh=file://{}", up.join(HELM_DL).display()),
        ]
    }

    fn with_keyring(&self) -> [String; 2] {
        ["--keyring".into(), self.keyring.display().to_string()]
    }
}

fn build() -> Fixture {
    let gpg = Gpg::new();
    let tmp = tempdir();
    let up = tmp.path().join("up");
    // runc's shape: an ed25519 certification-only primary key with an ed25519 signing subkey.
    let runc_fpr = gpg.key("kverify test runc signer <runc-signer@kverify.test>", "ed25519", "cert", None);
    let runc_sub = gpg.subkey(&runc_fpr, "ed25519", "sign", None);
    let helm_fpr = gpg.key("kverify test helm signer <helm-signer@kverify.test>", "rsa3072", "sign,cert", None);
    let stranger = gpg.key("kverify test stranger <stranger@kverify.test>", "ed25519", "sign,cert", None);
    let lapsed = gpg.key("lapsed signer <lapsed@kverify.test>", "ed25519", "sign,cert", Some("20200101T000000"));
    let revoked = gpg.key("revoked signer <revoked@kverify.test>", "ed25519", "sign,cert", Some("20230101T000000"));

    let runc = |version: &str, seed: u64| -> PathBuf {
        let dir = up.join(format!("{RUNC}/v{version}"));
        std::fs::create_dir_all(&dir).unwrap();
        let mut sums = String::new();
        for (i, arch) in ["amd64", "arm64", "ppc64le", "s390x"].iter().enumerate() {
            let data = bytes(seed * 10 + i as u64, if *arch == "amd64" { 300_000 } else { 4096 });
            std::fs::write(dir.join(format!("runc.{arch}")), &data).unwrap();
            sums.push_str(&format!("{}  runc.{arch}\n", sha256_hex(&data)));
        }
        std::fs::write(dir.join("runc.sha256sum"), sums).unwrap();
        dir.join("runc.sha256sum")
    };
    gpg.clearsign(&runc_sub, None, &runc("1.2.1", 1));
    // 1.2.2: runc.amd64 replaced, and its line in the signed text changed to match.
    let sums = runc("1.2.2", 2);
    gpg.clearsign(&runc_sub, None, &sums);
    let evil = bytes(22, 300_000);
    std::fs::write(sums.with_file_name("runc.amd64"), &evil).unwrap();
    let text = std::fs::read_to_string(&sums).unwrap();
    let line = text.lines().find(|l| l.ends_with("  runc.amd64")).unwrap().to_string();
    std::fs::write(&sums, text.replace(&line, &format!("{}  runc.amd64", sha256_hex(&evil)))).unwrap();
    gpg.clearsign(&stranger, None, &runc("1.2.3", 3));
    runc("1.2.4", 4); // published unsigned
                      // The lapsed key: made 2020-01-01, signs 1.2.6 on 2020-06-01 and 1.2.5 on 2021-06-01;
                      // then a self-signature dated 2020-01-01 00:10 expires it on 2021-01-01.
    gpg.clearsign(&lapsed, Some("20200601T000000"), &runc("1.2.6", 6));
    gpg.clearsign(&lapsed, Some("20210601T000000"), &runc("1.2.5", 5));
    gpg.expire(&lapsed, "2021-01-01", "20200101T001000");
    gpg.clearsign(&revoked, Some("20240101T000000"), &runc("1.2.7", 7));
    gpg.revoke(&revoked);
    // 1.2.8: a digest line before the signed message, which the signature does not cover.
    let sums = runc("1.2.8", 8);
    gpg.clearsign(&runc_sub, None, &sums);
    let evil = bytes(88, 300_000);
    std::fs::write(sums.with_file_name("runc.amd64"), &evil).unwrap();
    let text = std::fs::read_to_string(&sums).unwrap();
    std::fs::write(&sums, format!("{}  runc.amd64\n{text}", sha256_hex(&evil))).unwrap();
    // 1.2.9: a second signed message after the first.
    let sums = runc("1.2.9", 9);
    gpg.clearsign(&runc_sub, None, &sums);
    let first = std::fs::read_to_string(&sums).unwrap();
    let other = tmp.path().join("other.sha256sum");
    std::fs::write(&other, format!("{}  runc.amd64\n", sha256_hex(b"other"))).unwrap();
    gpg.clearsign(&runc_sub, None, &other);
    std::fs::write(&sums, format!("{first}{}", std::fs::read_to_string(&other).unwrap())).unwrap();
    // 1.2.10: trailing spaces and tabs added to every signed line: not signed, and
    // changing no name.
    let sums = runc("1.2.10", 10);
    gpg.clearsign(&runc_sub, None, &sums);
    let text = std::fs::read_to_string(&sums).unwrap();
    let padded: String = text
        .lines()
        .map(|l| if l.len() > 64 && !l.starts_with('-') { format!("{l} \t \n") } else { format!("{l}\n") })
        .collect();
    std::fs::write(&sums, padded).unwrap();

    let helm = |version: &str, seed: u64, signer: Option<&str>| {
        let src = tmp.path().join(format!("helm-src/{version}"));
        std::fs::create_dir_all(&src).unwrap();
        let data = bytes(seed, 200_000);
        std::fs::write(src.join("helm"), &data).unwrap();
        let name = format!("helm-v{version}-linux-amd64.tar.gz");
        let archive = tar_gz(&[
            Entry::dir("linux-amd64/"),
            Entry::file("linux-amd64/LICENSE", b"Apache License\n", 0o644),
            Entry::file("linux-amd64/helm", &data, 0o755),
        ]);
        let dl = up.join(HELM_DL);
        std::fs::create_dir_all(&dl).unwrap();
        std::fs::write(dl.join(&name), &archive).unwrap();
        let sums = dl.join(format!("{name}.sha256sum"));
        std::fs::write(&sums, format!("{}  {name}\n", sha256_hex(&archive))).unwrap();
        if let Some(signer) = signer {
            let gh = up.join(format!("{HELM_GH}/v{version}"));
            std::fs::create_dir_all(&gh).unwrap();
            gpg.detach(signer, None, &sums, &gh.join(format!("{name}.sha256sum.asc")));
        }
        (dl.join(&name), sums)
    };
    helm("3.14.1", 31, Some(&helm_fpr));
    // 3.14.2: another tarball and .sha256sum under the good .asc.
    let (tarball, sums) = helm("3.14.2", 32, Some(&helm_fpr));
    let other = tar_gz(&[Entry::file("linux-amd64/helm", b"evil helm", 0o755)]);
    std::fs::write(&tarball, &other).unwrap();
    std::fs::write(&sums, format!("{}  helm-v3.14.2-linux-amd64.tar.gz\n", sha256_hex(&other))).unwrap();
    helm("3.14.3", 33, None);

    let keyring = tmp.path().join("test.keyring");
    std::fs::write(&keyring, gpg.export(&[&runc_fpr, &helm_fpr, &lapsed, &revoked])).unwrap();
    Fixture { tmp, keyring, runc_fpr, runc_sub, helm_fpr }
}

/// The destination holds exactly its `previous` runc (or nothing): nothing installed,
/// nothing left behind.
#[track_caller]
fn untouched(dest: &Path, previous: Option<&[u8]>) {
    match previous {
        Some(bytes) => {
            assert_eq!(listing(dest), ["runc"]);
            assert_eq!(std::fs::read(dest.join("runc")).unwrap(), bytes);
        }
        None => assert_eq!(listing(dest), Vec::<String>::new()),
    }
}

#[test]
fn a_good_clear_signed_runc_installs_and_names_its_signer() {
    let f = fixture();
    let dest = tempdir();
    let run = f.fetch(dest.path(), &["runc", "1.2.1"], &f.with_keyring().each_ref().map(String::as_str));
    run.code(0);
    assert_eq!(std::fs::read(dest.path().join("runc")).unwrap(), f.runc_bin("1.2.1"));
    assert_eq!(mode(&dest.path().join("runc")), 0o755);
    let line = run.stdout.lines().find(|l| l.contains("signature=")).unwrap_or_default();
    assert!(line.contains("runc-signer@kverify.test") && line.contains(&f.runc_fpr), "{}", run.stdout);
    assert!(run.stdout.contains(&format!("signed with subkey {}", f.runc_sub)), "{}", run.stdout);

    let run = f.fetch(tempdir().path(), &["runc", "1.2.1", "--json"], &f.with_keyring().each_ref().map(String::as_str));
    run.code(0);
    let sig = &run.json()[0]["evidence"]["signature"];
    assert_eq!(sig["kind"], "pgp");
    assert_eq!(sig["fingerprint"], f.runc_fpr.as_str());
    assert!(sig["identity"].as_str().unwrap().contains("runc-signer@kverify.test"), "{sig}");
    assert!(sig["signed_at"].is_string(), "{sig}");
}

#[test]
fn a_good_detached_helm_signature_installs_helm() {
    let f = fixture();
    let dest = tempdir();
    let run = f.fetch(dest.path(), &["helm", "3.14.1", "--json"], &f.with_keyring().each_ref().map(String::as_str));
    run.code(0);
    assert_eq!(std::fs::read(dest.path().join("helm")).unwrap(), f.helm_bin("3.14.1"));
    let sig = &run.json()[0]["evidence"]["signature"];
    assert_eq!((sig["kind"].as_str(), sig["fingerprint"].as_str()), (Some("pgp"), Some(f.helm_fpr.as_str())));
}

#[test]
fn every_bad_signature_fails_closed_and_installs_nothing() {
    let f = fixture();
    let keyring = f.with_keyring();
    let k: [&str; 2] = keyring.each_ref().map(String::as_str);
    let cases: [(&str, &[&str], &str); 9] = [
        ("the clear-signed text altered", &["runc", "1.2.2"], "bad signature"),
        ("signed by a key not in the keyring", &["runc", "1.2.3"], "which is not in the keyring"),
        ("runc.sha256sum not signed", &["runc", "1.2.4"], "not a PGP clear-signed message"),
        ("signed after the key expired", &["runc", "1.2.5"], "expired"),
        ("signed by a revoked key", &["runc", "1.2.7"], "revoked"),
        ("a digest line outside the signed text", &["runc", "1.2.8"], "text outside the signed message"),
        ("a second signed message", &["runc", "1.2.9"], "a second signed message"),
        ("helm's .sha256sum altered under its .asc", &["helm", "3.14.2"], "bad signature"),
        ("helm's .sha256sum.asc not published", &["helm", "3.14.3"], "the upstream publishes a signature"),
    ];
    for (what, target, says) in cases {
        let dest = tempdir();
        let previous = bytes(7, 4096);
        std::fs::write(dest.path().join("runc"), &previous).unwrap();
        let run = f.fetch(dest.path(), target, &k);
        assert_eq!(run.code, 1, "{what}: {run:?}");
        assert!(run.stdout.contains(says), "{what}: the report does not say {says:?}:\n{}", run.stdout);
        untouched(dest.path(), Some(&previous));
    }
}

#[test]
fn a_key_that_expired_after_it_signed_still_verifies_and_says_so() {
    let f = fixture();
    let dest = tempdir();
    let run = f.fetch(dest.path(), &["runc", "1.2.6"], &f.with_keyring().each_ref().map(String::as_str));
    run.code(0);
    assert_eq!(std::fs::read(dest.path().join("runc")).unwrap(), f.runc_bin("1.2.6"));
    assert!(run.stdout.contains("the key has expired since, on 2021-01-01"), "{}", run.stdout);
}

#[test]
fn trailing_whitespace_is_not_signed_and_changes_no_name() {
    let f = fixture();
    let dest = tempdir();
    f.fetch(dest.path(), &["runc", "1.2.10"], &f.with_keyring().each_ref().map(String::as_str)).code(0);
    assert_eq!(std::fs::read(dest.path().join("runc")).unwrap(), f.runc_bin("1.2.10"));
}

#[test]
fn the_built_in_keyring_refuses_a_test_key() {
    let f = fixture();
    let dest = tempdir();
    let run = f.fetch(dest.path(), &["runc", "1.2.1"], &[]);
    run.code(1);
    assert!(run.stdout.contains("which is not in the keyring runc.keyring (embedded)"), "{}", run.stdout);
    untouched(dest.path(), None);
}

#[test]
fn skipping_signatures_is_said_in_the_report() {
    let f = fixture();
    let dest = tempdir();
    let run = f.fetch(dest.path(), &["runc", "1.2.4", "--json", "--insecure-skip-signature"], &[]);
    run.code(0);
    let evidence = &run.json()[0]["evidence"];
    assert_eq!(evidence["signature"], serde_json::Value::Null);
    assert_eq!(evidence["signature_skipped"], "not checked (--insecure-skip-signature)");
}

#[test]
fn lock_records_the_signer_and_mirror_writes_the_signed_files_under_their_hosts() {
    let f = fixture();
    let lock = f.tmp.path().join("pgp.lock");
    let mut args = vec!["lock".to_string(), "runc@1.2.1".into(), "helm@3.14.1".into()];
    args.extend(["--platform=linux/amd64".into(), "-o".into(), lock.display().to_string(), "--no-progress".into()]);
    args.extend(f.mirrors());
    args.extend(f.with_keyring());
    kverify(&args).code(0);
    let text = std::fs::read_to_string(&lock).unwrap();
    assert!(text.contains("kind = \"pgp\"") && text.contains(&format!("fingerprint = \"{}\"", f.runc_fpr)), "{text}");
    assert!(text.contains(&format!("fingerprint = \"{}\"", f.helm_fpr)), "{text}");

    let to = tempdir();
    let mut args = vec!["mirror".to_string(), "runc@1.2.1".into(), "helm@3.14.1".into()];
    args.extend(["--os=linux".into(), "--arch=amd64".into(), "--to".into(), to.path().display().to_string()]);
    args.extend(f.mirrors());
    args.extend(f.with_keyring());
    args.push("--no-progress".into());
    kverify(&args).code(0);
    for rel in [
        format!("{RUNC}/v1.2.1/runc.amd64"),
        format!("{RUNC}/v1.2.1/runc.sha256sum"),
        format!("{HELM_DL}/helm-v3.14.1-linux-amd64.tar.gz"),
        format!("{HELM_DL}/helm-v3.14.1-linux-amd64.tar.gz.sha256sum"),
        format!("{HELM_GH}/v3.14.1/helm-v3.14.1-linux-amd64.tar.gz.sha256sum.asc"),
    ] {
        assert_eq!(std::fs::read(to.path().join(&rel)).unwrap(), std::fs::read(f.up().join(&rel)).unwrap(), "{rel}");
    }
    // The mirror on disk serves a fetch that verifies the signatures again.
    let dest = tempdir();
    let mut args = vec!["fetch".to_string(), "runc@1.2.1".into(), "helm@3.14.1".into(), "--no-progress".into()];
    args.extend(["--os=linux".into(), "--arch=amd64".into(), "--dest".into(), dest.path().display().to_string()]);
    args.push(format!("--mirror=https://github.com=file://{}", to.path().join("github.com").display()));
    args.push(format!("--mirror=https://get.helm.sh=file://{}", to.path().join(HELM_DL).display()));
    args.extend(f.with_keyring());
    let run = kverify(&args);
    run.code(0);
    assert_eq!(run.stdout.matches("(pgp, key ").count(), 2, "{}", run.stdout);
}

#[test]
fn verify_release_checks_the_signed_checksum_file() {
    let f = fixture();
    let file = f.tmp.path().join("runc-1.2.1");
    std::fs::write(&file, f.runc_bin("1.2.1")).unwrap();
    let mut args = vec!["verify".to_string(), file.display().to_string(), "--release=runc@1.2.1".into()];
    args.extend(["--os=linux".into(), "--arch=amd64".into()]);
    args.extend(f.mirrors());
    args.extend(f.with_keyring());
    let run = kverify(&args);
    run.code(0);
    assert!(run.stdout.contains(&f.runc_fpr), "{}", run.stdout);
    let tampered = f.tmp.path().join("runc-1.2.2");
    std::fs::write(&tampered, f.runc_bin("1.2.2")).unwrap();
    args[1] = tampered.display().to_string();
    args[2] = "--release=runc@1.2.2".into();
    kverify(&args).code(1);
}
