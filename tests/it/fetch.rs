//! `kverify fetch` end to end against an in-process upstream: what lands in the
//! destination directory (exact listing, bytes, mode), what the user is told, and the
//! exit code. Transport faults are in `transport.rs`.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::memory;
use crate::support::releases::*;
use crate::support::server::{Fault, Server};
use crate::support::*;

const V: &str = "v1.29.0";

fn previous_binary(dir: &Path, name: &str) -> Vec<u8> {
    use std::os::unix::fs::PermissionsExt;
    let data = bytes(4242, 5000);
    let path = write(dir, name, &data);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    data
}

#[test]
fn kubelet_is_installed_with_the_published_bytes_and_mode_0755() {
    let server = Server::start();
    let data = publish_kubelet(&server, V, 1, 300_000);
    let dest = tempdir();
    let run = fetch(&server, dest.path(), &["kubelet", V], &[]);
    run.code(0);
    assert_listing(dest.path(), &["kubelet"]);
    assert_installed(dest.path(), "kubelet", &data);
    let line = run.line_with("kubelet");
    assert!(line.starts_with("OK") && line.contains("kubelet v1.29.0 linux/amd64"), "{line}");
    let upstream = format!("https://dl.k8s.io/{}", k8s_path(V, "kubelet"));
    assert!(run.stdout.contains(&format!("{upstream}.sha256")), "{}", run.stdout);
    assert!(run.stdout.contains(&format!("{upstream}.sha512")), "{}", run.stdout);
    assert!(
        run.stdout.contains("--insecure-skip-signature"),
        "the report says the signature was skipped\n{}",
        run.stdout
    );
    // Evidence first, then one download of the artifact.
    let p = k8s_path(V, "kubelet");
    assert_eq!(server.paths(), [format!("/{p}.sha256"), format!("/{p}.sha512"), format!("/{p}")]);
}

#[test]
fn a_second_fetch_downloads_nothing_and_says_so() {
    let server = Server::start();
    let data = publish_kubelet(&server, V, 2, 200_000);
    let dest = tempdir();
    fetch(&server, dest.path(), &["kubelet", V], &[]).code(0);
    // Same bytes, but someone dropped the exec bit: fixed without a download.
    let path = dest.path().join("kubelet");
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let run = fetch(&server, dest.path(), &["kubelet", V], &[]);
    run.code(0);
    assert!(run.line_with("kubelet").contains("already installed"), "{}", run.stdout);
    assert_eq!(server.hits(&k8s_path(V, "kubelet")), 1, "the artifact was downloaded again");
    assert_listing(dest.path(), &["kubelet"]);
    assert_installed(dest.path(), "kubelet", &data);
}

#[test]
fn a_tampered_artifact_is_refused_and_the_previous_binary_kept() {
    let server = Server::start();
    let data = publish_kubelet(&server, V, 3, 250_000);
    let mut tampered = data.clone();
    tampered[123_456] ^= 0x01;
    server.put(&k8s_path(V, "kubelet"), tampered.clone());
    let dest = tempdir();
    let previous = previous_binary(dest.path(), "kubelet");

    let run = fetch(&server, dest.path(), &["kubelet", V], &[]);
    run.code(1);
    assert_listing(dest.path(), &["kubelet"]);
    assert_installed(dest.path(), "kubelet", &previous);
    let line = run.line_with("kubelet v1.29.0");
    assert!(line.starts_with("FAIL") && line.contains("mismatch") && line.contains("nothing installed"), "{line}");
    // Expected, computed, and the URL the expected digest came from.
    let upstream = format!("https://dl.k8s.io/{}", k8s_path(V, "kubelet"));
    let expected = run.line_with(&sha256_hex(&data));
    assert!(expected.contains("expected") && expected.contains(&format!("{upstream}.sha256")), "{}", run.stdout);
    assert!(run.line_with(&sha512_hex(&data)).contains(&format!("{upstream}.sha512")), "{}", run.stdout);
    assert!(run.line_with(&sha256_hex(&tampered)).contains("computed"), "{}", run.stdout);
    assert!(run.line_with(&sha512_hex(&tampered)).contains("computed"), "{}", run.stdout);
    // A mismatch is never retried.
    assert_eq!(server.hits(&k8s_path(V, "kubelet")), 1);

    let empty = tempdir();
    fetch(&server, empty.path(), &["kubelet", V], &[]).code(1);
    assert_listing(empty.path(), &[]);
}

#[test]
fn a_checksum_of_another_file_or_version_is_refused() {
    let server = Server::start();
    let data = publish_kubelet(&server, V, 4, 100_000);
    let kubectl = bytes(5, 100_000);
    publish_k8s(&server, V, "kubectl", &kubectl);
    // kubelet.sha256 holds kubectl's digest: both files genuine, mixed and matched.
    server.put(&format!("{}.sha256", k8s_path(V, "kubelet")), sha256_hex(&kubectl));
    let dest = tempdir();
    let run = fetch(&server, dest.path(), &["kubelet", V], &[]);
    run.code(1);
    assert!(run.line_with(&sha256_hex(&kubectl)).contains("expected"), "{}", run.stdout);
    assert!(run.line_with(&sha256_hex(&data)).contains("computed"), "{}", run.stdout);
    assert_listing(dest.path(), &[]);

    // etcd's SHA256SUMS of another release: even this archive's digest, listed under
    // another release's name, is no evidence for this one.
    let release = publish_etcd(&server, "v3.5.12");
    let other = format!(
        "{}  etcd-v3.5.11-linux-amd64.tar.gz\n{}  etcd-v3.5.11-linux-arm64.tar.gz\n",
        sha256_hex(&release.archive),
        sha256_hex(b"arm64")
    );
    server.put(&release.checksum_path, other);
    let run = fetch(&server, dest.path(), &["etcd", "v3.5.12"], &[]);
    run.code(1);
    let text = format!("{}{}", run.stdout, run.stderr);
    assert!(text.contains("lists no checksum for etcd-v3.5.12-linux-amd64.tar.gz"), "{text}");
    assert_eq!(server.hits(&release.path), 0, "the archive was downloaded without evidence");
    assert_listing(dest.path(), &[]);
}

#[test]
fn malformed_and_weak_checksum_files_are_exit_1() {
    let server = Server::start();
    publish_kubelet(&server, V, 6, 50_000);
    let sha256 = format!("{}.sha256", k8s_path(V, "kubelet"));
    let cases: [(&str, Vec<u8>); 5] = [
        ("not hex", b"this is not a digest".to_vec()),
        ("empty", Vec::new()),
        ("md5 only", hex_of(16).into_bytes()),
        ("a NUL byte", [hex_of(32).as_bytes(), b"\0"].concat()),
        ("two digests for one name", format!("{}  kubelet\n{}  kubelet\n", hex_of(32), "ab".repeat(32)).into_bytes()),
    ];
    for (what, body) in cases {
        server.put(&sha256, body);
        let dest = tempdir();
        let run = fetch(&server, dest.path(), &["kubelet", V], &[]);
        assert_eq!(run.code, 1, "{what}: {run:?}");
        let text = format!("{}{}", run.stdout, run.stderr);
        assert!(text.contains(&format!("https://dl.k8s.io/{sha256}")), "{what}: the message names the file\n{text}");
        assert_listing(dest.path(), &[]);
    }
    assert_eq!(server.hits(&k8s_path(V, "kubelet")), 0, "an artifact was downloaded against broken evidence");
}

fn hex_of(len: usize) -> String {
    hex::encode(bytes(len as u64, len))
}

#[test]
fn a_checksum_not_published_is_exit_1_and_nothing_is_downloaded() {
    let server = Server::start();
    publish_kubelet(&server, V, 7, 50_000);
    server.fault(&format!("{}.sha512", k8s_path(V, "kubelet")), Fault::Status(404));
    let dest = tempdir();
    let run = fetch(&server, dest.path(), &["kubelet", V], &[]);
    run.code(1);
    let text = format!("{}{}", run.stdout, run.stderr);
    assert!(text.contains(&format!("https://dl.k8s.io/{}.sha512", k8s_path(V, "kubelet"))), "{text}");
    assert!(text.contains("404"), "{text}");
    assert_eq!(server.hits(&format!("{}.sha512", k8s_path(V, "kubelet"))), 1, "a 404 is not retried");
    assert_eq!(server.hits(&k8s_path(V, "kubelet")), 0);
    assert_listing(dest.path(), &[]);
}

#[test]
fn kubernetes_from_1_26_fails_closed_without_a_verified_signature() {
    let server = Server::start();
    publish_kubelet(&server, V, 8, 50_000);
    let dest = tempdir();
    let args = |dest: &Path| -> Vec<String> {
        let all = fetch_args(&server, dest, &["kubelet", V], &[]);
        all.into_iter().filter(|a| a != "--insecure-skip-signature").collect()
    };
    // No .sig/.cert published: a missing signature fails before the download.
    let run = kverify(args(dest.path()));
    run.code(1);
    let text = format!("{}{}", run.stdout, run.stderr);
    assert!(text.contains("kubelet.sig"), "{text}");
    assert_eq!(server.hits(&k8s_path(V, "kubelet")), 0);
    assert_listing(dest.path(), &[]);
    // Present but not valid: still nothing installed.
    let path = k8s_path(V, "kubelet");
    server.put(&format!("{path}.sig"), "MEUCIQDx");
    server.put(&format!("{path}.cert"), "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==");
    kverify(args(dest.path())).code(1);
    assert_listing(dest.path(), &[]);
    // Before v1.26 nothing is signed: checksums alone install.
    let old = publish_kubelet(&server, "v1.25.9", 9, 50_000);
    let mut a = args(dest.path());
    a[2] = "v1.25.9".into();
    kverify(a).code(0);
    assert_installed(dest.path(), "kubelet", &old);
}

#[test]
fn etcd_installs_its_three_binaries_and_nothing_else() {
    let server = Server::start();
    let release = publish_etcd(&server, "v3.5.12");
    let dest = tempdir();
    let run = fetch(&server, dest.path(), &["etcd", "v3.5.12"], &[]);
    run.code(0);
    assert_listing(dest.path(), &["etcd", "etcdctl", "etcdutl"]);
    for (name, data) in &release.binaries {
        assert_installed(dest.path(), name, data);
    }
    assert!(run.line_with("etcd v3.5.12").contains("etcd, etcdctl, etcdutl"), "{}", run.stdout);
}

#[test]
fn containerd_installs_every_file_under_bin_with_or_without_v() {
    let server = Server::start();
    let release = publish_containerd(&server, "1.7.13");
    for version in ["v1.7.13", "1.7.13"] {
        let dest = tempdir();
        fetch(&server, dest.path(), &["containerd", version], &[]).code(0);
        assert_listing(dest.path(), &release.names().iter().map(String::as_str).collect::<Vec<_>>());
        for (name, data) in &release.binaries {
            assert_installed(dest.path(), name, data);
        }
    }
}

#[test]
fn crictl_runc_cni_and_helm_install_from_their_layouts() {
    let server = Server::start();
    let releases = [
        publish_crictl(&server, "v1.29.0"),
        publish_runc(&server, "v1.1.12"),
        publish_cni(&server, "v1.4.0"),
        publish_helm(&server, "v3.14.0"),
    ];
    let dest = tempdir();
    let run = fetch(&server, dest.path(), &["crictl@v1.29.0", "runc@1.1.12", "cni-plugins@v1.4.0", "helm@3.14.0"], &[]);
    run.code(0);
    let mut names: Vec<String> = releases.iter().flat_map(|r| r.names()).collect();
    names.sort();
    assert_eq!(listing(dest.path()), names);
    for (name, data) in releases.iter().flat_map(|r| r.binaries.iter()) {
        assert_installed(dest.path(), name, data);
    }
}

#[test]
fn keep_archive_keeps_the_verified_archive_only() {
    let server = Server::start();
    let release = publish_etcd(&server, "v3.5.12");
    let dest = tempdir();
    fetch(&server, dest.path(), &["etcd", "v3.5.12", "--keep-archive"], &[]).code(0);
    let name = "etcd-v3.5.12-linux-amd64.tar.gz";
    assert_listing(dest.path(), &[name]);
    assert!(std::fs::read(dest.path().join(name)).unwrap() == release.archive);
    assert_eq!(mode(&dest.path().join(name)), 0o644, "an archive is data, not a program");
    // Kept archives are idempotent like binaries.
    fetch(&server, dest.path(), &["etcd", "v3.5.12", "--keep-archive"], &[]).code(0);
    assert_eq!(server.hits(&release.path), 1);
}

/// etcd v3.5.12's three binaries followed by `hostile` (last, so the good binaries are
/// already staged when the bad entry is met).
fn etcd_with(hostile: Vec<Entry>) -> (Vec<u8>, Vec<(String, Vec<u8>)>) {
    // setuid, world-writable: the archive's modes are not trusted, the catalog's 0755 is.
    let (binaries, mut entries) = etcd_entries(0, 0o6777);
    entries.extend(hostile);
    (tar_gz(&entries), binaries)
}

/// etcd v3.5.12's three binaries (their bytes made from `seed`) and the entries of a
/// tarball that holds them as etcd's does: the top directory, then each binary, `mode`.
fn etcd_entries(seed: u64, mode: u32) -> (Vec<(String, Vec<u8>)>, Vec<Entry>) {
    let top = "etcd-v3.5.12-linux-amd64";
    let binaries: Vec<(String, Vec<u8>)> =
        ["etcd", "etcdctl", "etcdutl"].iter().map(|n| (n.to_string(), bytes(seed + n.len() as u64, 20_000))).collect();
    let mut entries = vec![Entry::dir(&format!("{top}/"))];
    entries.extend(binaries.iter().map(|(n, d)| Entry::file(&format!("{top}/{n}"), d, mode)));
    (binaries, entries)
}

/// A PAX extended header that sets the next entry's path.
fn pax_path(path: &str) -> Entry {
    Entry { data: pax_record("path", path), ..Entry::special("PaxHeaders/x", tar::EntryType::XHeader) }
}

/// A GNU long-name entry that sets the next entry's path.
fn gnu_long_name(path: &str) -> Entry {
    Entry { data: format!("{path}\0").into_bytes(), ..Entry::special("././@LongLink", tar::EntryType::GNULongName) }
}

#[test]
fn hostile_selected_entries_refuse_the_archive_whole() {
    let top = "etcd-v3.5.12-linux-amd64";
    let root = tempdir();
    let at = |name: &str| format!("{top}/{name}");
    let cases: Vec<(&str, Vec<Entry>)> = vec![
        ("dot-dot onto a binary", vec![Entry::file(&format!("x/../{top}/etcd"), b"evil", 0o755)]),
        ("absolute path of a binary", vec![Entry::file(&format!("/{top}/etcd"), b"evil", 0o755)]),
        ("symlink as a binary", vec![Entry::symlink(&at("etcdctl"), "/etc/shadow")]),
        ("hardlink as a binary", vec![Entry::hardlink(&at("etcdctl"), "/etc/passwd")]),
        ("character device as a binary", vec![Entry::special(&at("etcd"), tar::EntryType::Char)]),
        ("block device as a binary", vec![Entry::special(&at("etcdctl"), tar::EntryType::Block)]),
        ("fifo as a binary", vec![Entry::special(&at("etcdutl"), tar::EntryType::Fifo)]),
        ("oversized binary", vec![Entry::oversized(&at("etcdutl"), 2 * 1024 * 1024 * 1024)]),
        ("second etcd", vec![Entry::file(&at("etcd"), b"evil", 0o755)]),
        // The real path in a PAX header or a GNU long name, behind a harmless-looking one.
        ("pax path", vec![pax_path(&format!("x/../{top}/etcd")), Entry::file(&at("README2.md"), b"evil", 0o644)]),
        (
            "gnu long name",
            vec![gnu_long_name(&format!("/{top}/etcdctl")), Entry::file(&at("README3.md"), b"evil", 0o644)],
        ),
    ];
    let server = Server::start();
    for (what, hostile) in cases {
        let (archive, binaries) = etcd_with(hostile);
        publish_etcd_archive(&server, "v3.5.12", &archive, binaries);
        let dest = root.path().join("a/b/dest");
        std::fs::create_dir_all(&dest).unwrap();
        let run = fetch(&server, &dest, &["etcd", "v3.5.12"], &[]);
        assert_eq!(run.code, 1, "{what}: {run:?}");
        assert!(format!("{}{}", run.stdout, run.stderr).contains("hostile"), "{what}: {run:?}");
        assert_listing(&dest, &[]);
        assert_listing(root.path(), &["a"]);
        assert_listing(&root.path().join("a"), &["b"]);
        assert_listing(&root.path().join("a/b"), &["dest"]);
    }
    // The same archive without the hostile entry installs.
    let (archive, binaries) = etcd_with(Vec::new());
    publish_etcd_archive(&server, "v3.5.12", &archive, binaries.clone());
    let dest = root.path().join("a/b/dest");
    fetch(&server, &dest, &["etcd", "v3.5.12"], &[]).code(0);
    for (name, data) in &binaries {
        assert_installed(&dest, name, data);
    }
}

/// DESIGN.md §1 fetch step 5: entries not selected for extraction are skipped whatever
/// they are (etcd 3.4's tarballs hold a symbolic link among their docs), and none of
/// them reaches the disk.
#[test]
fn hostile_entries_not_selected_are_skipped_and_nothing_escapes() {
    let top = "etcd-v3.5.12-linux-amd64";
    let root = tempdir();
    let absolute = root.path().join("absolute-escape");
    let (archive, binaries) = etcd_with(vec![
        Entry::file("../../escaped", b"evil", 0o755),
        Entry::file(&format!("{top}/../../escaped"), b"evil", 0o755),
        Entry::file(absolute.to_str().unwrap(), b"evil", 0o755),
        Entry::symlink(&format!("{top}/Documentation"), "/etc"),
        Entry::hardlink(&format!("{top}/etcd2"), "/etc/passwd"),
        Entry::special(&format!("{top}/tty"), tar::EntryType::Char),
        Entry::special(&format!("{top}/pipe"), tar::EntryType::Fifo),
        pax_path("../../escaped-pax"),
        Entry::file(&format!("{top}/README2.md"), b"evil", 0o644),
        gnu_long_name("../../escaped-gnu"),
        Entry::file(&format!("{top}/README3.md"), b"evil", 0o644),
    ]);
    let server = Server::start();
    publish_etcd_archive(&server, "v3.5.12", &archive, binaries.clone());
    let dest = root.path().join("a/b/dest");
    std::fs::create_dir_all(&dest).unwrap();
    fetch(&server, &dest, &["etcd", "v3.5.12"], &[]).code(0);
    assert_listing(&dest, &["etcd", "etcdctl", "etcdutl"]);
    for (name, data) in &binaries {
        assert_installed(&dest, name, data);
    }
    assert_listing(root.path(), &["a"]);
    assert_listing(&root.path().join("a"), &["b"]);
    assert_listing(&root.path().join("a/b"), &["dest"]);
    assert!(!absolute.exists());
}

#[test]
fn an_archive_missing_a_required_binary_installs_nothing() {
    let server = Server::start();
    let top = "etcd-v3.5.12-linux-amd64";
    let entries = vec![
        Entry::file(&format!("{top}/etcd"), b"etcd", 0o755),
        Entry::file(&format!("{top}/etcdctl"), b"etcdctl", 0o755),
        Entry::file(&format!("{top}/README.md"), b"# etcd", 0o644),
    ];
    publish_etcd_archive(&server, "v3.5.12", &tar_gz(&entries), Vec::new());
    let dest = tempdir();
    let run = fetch(&server, dest.path(), &["etcd", "v3.5.12"], &[]);
    run.code(1);
    assert!(format!("{}{}", run.stdout, run.stderr).contains("etcdutl is not in the archive"), "{run:?}");
    assert_listing(dest.path(), &[]);

    // containerd with an empty bin/.
    publish_containerd_archive(
        &server,
        "1.7.13",
        &tar_gz(&[Entry::dir("bin/"), Entry::file("README.md", b"x", 0o644)]),
        Vec::new(),
    );
    fetch(&server, dest.path(), &["containerd", "1.7.13"], &[]).code(1);
    assert_listing(dest.path(), &[]);

    // Not a tar.gz at all, though the checksum matches.
    publish_containerd_archive(&server, "1.7.13", b"<html>not an archive</html>", Vec::new());
    fetch(&server, dest.path(), &["containerd", "1.7.13"], &[]).code(1);
    assert_listing(dest.path(), &[]);
}

#[test]
fn a_destination_that_is_a_symlink_is_refused_and_left_alone() {
    let server = Server::start();
    publish_kubelet(&server, V, 10, 50_000);
    let root = tempdir();
    let target = write(root.path(), "elsewhere/kubelet", b"the real one");
    let dest = root.path().join("bin");
    std::fs::create_dir(&dest).unwrap();
    std::os::unix::fs::symlink(&target, dest.join("kubelet")).unwrap();
    let mut run = fetch(&server, &dest, &["kubelet", V], &[]);
    run.code(3);
    assert!(format!("{}{}", run.stdout, run.stderr).contains("symbolic link"), "{run:?}");
    assert_eq!(std::fs::read_link(dest.join("kubelet")).unwrap(), target);
    assert_eq!(std::fs::read(&target).unwrap(), b"the real one");
    assert_listing(&dest, &["kubelet"]);
    assert_eq!(server.hits(&k8s_path(V, "kubelet")), 0);

    // A directory where the binary should go is not replaced either.
    std::fs::remove_file(dest.join("kubelet")).unwrap();
    write(&dest, "kubelet/keep", b"x");
    run = fetch(&server, &dest, &["kubelet", V], &[]);
    run.code(3);
    assert_eq!(listing(&dest.join("kubelet")), ["keep"]);
    std::fs::remove_dir_all(dest.join("kubelet")).unwrap();
    std::os::unix::fs::symlink(&target, dest.join("kubelet")).unwrap();

    // One binary of an archive behind a link: none of the archive's binaries is installed.
    let release = publish_containerd(&server, "1.7.13");
    std::fs::remove_file(dest.join("kubelet")).unwrap();
    std::os::unix::fs::symlink(&target, dest.join("ctr")).unwrap();
    fetch(&server, &dest, &["containerd", "1.7.13"], &[]).code(3);
    assert_listing(&dest, &["ctr"]);
    assert_eq!(std::fs::read(&target).unwrap(), b"the real one");
    assert!(release.names().contains(&"ctr".to_string()));
}

/// An attacker who can write in --dest keeps swapping the installed kubelet (right
/// bytes, mode 0644) for a link to a root-only file holding the same bytes, hoping the
/// "already installed" path gives the link's target mode 0755. kverify hashes and
/// chmods one descriptor, opened without following links: the target never changes.
#[test]
fn an_installed_binary_swapped_for_a_link_mid_run_never_lends_its_mode() {
    use std::os::unix::fs::PermissionsExt;
    let server = Server::start();
    let data = publish_kubelet(&server, V, 12, 50_000);
    let root = tempdir();
    let secret = write(root.path(), "secret/kubelet", &data);
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let dest = root.path().join("bin");
    std::fs::create_dir(&dest).unwrap();
    let original = write(root.path(), "original", &data);

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let swapper = {
        let (stop, dest, original, secret) = (stop.clone(), dest.clone(), original.clone(), secret.clone());
        std::thread::spawn(move || {
            let (file, link, kubelet) = (dest.join(".f"), dest.join(".l"), dest.join("kubelet"));
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                std::fs::set_permissions(&original, std::fs::Permissions::from_mode(0o644)).unwrap();
                let _ = std::fs::remove_file(&file);
                std::fs::hard_link(&original, &file).unwrap();
                std::fs::rename(&file, &kubelet).unwrap();
                let _ = std::fs::remove_file(&link);
                std::os::unix::fs::symlink(&secret, &link).unwrap();
                std::fs::rename(&link, &kubelet).unwrap();
            }
        })
    };
    for _ in 0..40 {
        // Installed, refused as a link, or refused because the name moved: never 0755
        // on the link's target.
        let run = fetch(&server, &dest, &["kubelet", V], &[]);
        assert!(matches!(run.code, 0 | 3), "{run:?}");
        assert_eq!(mode(&secret), 0o600, "the link's target was given a mode\n{run:?}");
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    swapper.join().unwrap();
    assert_eq!(std::fs::read(&secret).unwrap(), data);
}

/// Two versions of kubelet into one --dest in one run: the second would replace the
/// first while both said "installed". Refused before any download, exit 2.
#[test]
fn two_requests_installing_one_name_into_one_dest_are_refused() {
    let server = Server::start();
    publish_kubelet(&server, V, 13, 10_000);
    publish_kubelet(&server, "v1.28.6", 14, 10_000);
    let dest = tempdir();
    let run = fetch(&server, dest.path(), &["kubelet@v1.29.0", "kubelet@v1.28.6"], &[]);
    run.code(2);
    assert!(
        run.stderr.contains(&format!(
            "kubelet v1.29.0 linux/amd64 and kubelet v1.28.6 linux/amd64 would both install kubelet into {}",
            dest.path().display()
        )),
        "{run:?}"
    );
    assert!(run.stderr.contains("fetch each into its own --dest"), "{run:?}");
    assert!(server.paths().is_empty(), "nothing is downloaded: {:?}", server.paths());
    assert_listing(dest.path(), &[]);

    // The same request twice is one artifact, fetched once.
    fetch(&server, dest.path(), &["kubelet@v1.29.0", "kubelet@v1.29.0"], &[]).code(0);
    assert_eq!(server.hits(&k8s_path(V, "kubelet")), 1);
}

#[test]
fn a_destination_that_cannot_be_written_is_exit_3() {
    let server = Server::start();
    publish_kubelet(&server, V, 11, 50_000);
    let root = tempdir();
    let missing = root.path().join("no-such-dir");
    let run = fetch(&server, &missing, &["kubelet", V], &[]);
    run.code(3);
    assert!(run.stderr.contains("no-such-dir"), "{run:?}");
    let file = write(root.path(), "a-file", b"x");
    fetch(&server, &file, &["kubelet", V], &[]).code(3);

    let dest = unwritable_dir(root.path());
    let before = listing(&dest);
    let run = fetch(&server, &dest, &["kubelet", V], &[]);
    run.code(3);
    assert!(
        run.stderr.contains(&dest.display().to_string()) || run.stdout.contains(&dest.display().to_string()),
        "{run:?}"
    );
    assert_eq!(listing(&dest), before);
}

/// A directory this process cannot create files in: mode 0555, or where root ignores
/// modes (the tests run as root in CI), a kernel directory that refuses new files.
fn unwritable_dir(root: &Path) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = root.join("read-only");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o555)).unwrap();
    if std::fs::File::create(dir.join("probe")).is_err() {
        return dir;
    }
    std::fs::remove_file(dir.join("probe")).unwrap();
    for candidate in ["/sys", "/proc/self"] {
        let probe = Path::new(candidate).join(".kverify-probe");
        if std::fs::File::create(&probe).is_err() {
            return candidate.into();
        }
        let _ = std::fs::remove_file(probe);
    }
    panic!("no unwritable directory found on this machine");
}

#[test]
fn several_artifacts_download_in_parallel() {
    let server = Server::start();
    let slow = Fault::Trickle { chunk: 16 * 1024, pause: Duration::from_millis(30) };
    let mut published = Vec::new();
    for (i, name) in ["kubelet", "kubectl", "kubeadm"].iter().enumerate() {
        let data = bytes(20 + i as u64, 160_000);
        publish_k8s(&server, V, name, &data);
        server.fault(&k8s_path(V, name), slow.clone());
        published.push((name.to_string(), data));
    }
    let etcd = publish_etcd(&server, "v3.5.12");
    server.fault(&etcd.path, slow);
    let dest = tempdir();
    let run = fetch(
        &server,
        dest.path(),
        &["kubelet@v1.29.0", "kubectl@v1.29.0", "kubeadm@1.29.0", "etcd@v3.5.12"],
        &["--json"],
    );
    run.code(0);
    assert_eq!(run.json().len(), 4, "{}", run.stdout);
    assert_listing(dest.path(), &["etcd", "etcdctl", "etcdutl", "kubeadm", "kubectl", "kubelet"]);
    for (name, data) in published.iter().chain(etcd.binaries.iter()) {
        assert_installed(dest.path(), name, data);
    }
    assert!(server.max_concurrent() >= 2, "downloads ran one at a time");
}

#[test]
fn one_failure_among_several_fails_the_run_and_only_that_artifact() {
    let server = Server::start();
    let kubelet = publish_kubelet(&server, V, 30, 60_000);
    publish_k8s(&server, V, "kubectl", &bytes(31, 60_000));
    server.put(&k8s_path(V, "kubectl"), bytes(32, 60_000));
    let dest = tempdir();
    let run = fetch(&server, dest.path(), &["kubelet@v1.29.0", "kubectl@v1.29.0"], &[]);
    run.code(1);
    assert!(run.line_with("kubelet v1.29.0").starts_with("OK"), "{}", run.stdout);
    assert!(run.line_with("kubectl v1.29.0").starts_with("FAIL"), "{}", run.stdout);
    assert!(run.stdout.contains("1 artifacts verified, 1 failed"), "{}", run.stdout);
    assert_listing(dest.path(), &["kubelet"]);
    assert_installed(dest.path(), "kubelet", &kubelet);

    // A tampered artifact outranks a network error: exit 1, never "retry later".
    server.fault(&k8s_path(V, "kubelet"), Fault::Status(503));
    std::fs::remove_file(dest.path().join("kubelet")).unwrap();
    fetch(&server, dest.path(), &["kubelet@v1.29.0", "kubectl@v1.29.0"], &[]).code(1);
    assert_listing(dest.path(), &[]);
}

#[test]
fn json_reports_one_object_per_artifact() {
    let server = Server::start();
    let data = publish_kubelet(&server, V, 40, 30_000);
    publish_k8s(&server, V, "kubectl", &bytes(41, 30_000));
    server.put(&k8s_path(V, "kubectl"), bytes(42, 30_000));
    let dest = tempdir();
    let run = fetch(&server, dest.path(), &["kubelet@v1.29.0", "kubectl@v1.29.0"], &["--json"]);
    run.code(1);
    assert!(run.stderr.lines().all(|l| !l.starts_with('{')), "JSON goes to stdout only");
    let rows = run.json();
    assert_eq!(rows.len(), 2, "{}", run.stdout);
    let row = |c: &str| rows.iter().find(|r| r["component"] == c).unwrap_or_else(|| panic!("{c}: {rows:?}")).clone();
    let ok = row("kubelet");
    let upstream = format!("https://dl.k8s.io/{}", k8s_path(V, "kubelet"));
    assert_eq!(ok["status"], "ok");
    assert_eq!(ok["url"], upstream);
    assert_eq!(ok["version"], "v1.29.0");
    assert_eq!(ok["platform"], "linux/amd64");
    assert_eq!(ok["path"], dest.path().join("kubelet").display().to_string());
    assert_eq!(ok["digests"]["sha256"], sha256_hex(&data));
    assert_eq!(ok["digests"]["sha512"], sha512_hex(&data));
    let checksum = ok["evidence"]["checksum"].as_str().unwrap();
    assert!(
        checksum.contains(&format!("{upstream}.sha256")) && checksum.contains(&format!("{upstream}.sha512")),
        "{ok}"
    );
    assert!(ok["evidence"]["signature"].is_null(), "{ok}");
    assert!(ok["evidence"].get("pin").is_some(), "{ok}");
    assert!(ok["message"].is_string(), "{ok}");
    let fail = row("kubectl");
    assert_eq!(fail["status"], "fail");
    assert_eq!(fail["digests"]["sha256"], sha256_hex(&bytes(42, 30_000)));
    assert!(fail["message"].as_str().unwrap().contains("mismatch"), "{fail}");
    assert!(fail.get("path").is_none() || fail["path"].is_null(), "{fail}");
}

#[test]
fn usage_errors_are_exit_2_before_any_download() {
    let server = Server::start();
    publish_kubelet(&server, V, 50, 10_000);
    let dest = tempdir();
    for (what, targets, extra) in [
        ("unknown component", vec!["kubelett", V], vec![]),
        ("unknown platform", vec!["kubelet", V], vec!["--os", "darwin"]),
        ("unknown arch", vec!["kubelet", V], vec!["--arch", "sparc"]),
        ("bad version", vec!["kubelet", "1.29"], vec![]),
        ("version with a path", vec!["kubelet", "v1.29.0/../x"], vec![]),
        ("no version", vec!["kubelet"], vec![]),
        ("marker for etcd", vec!["etcd", "stable"], vec![]),
        ("one bad target of two", vec!["kubelet@v1.29.0", "kubelett@v1.29.0"], vec![]),
    ] {
        let run = fetch(&server, dest.path(), &targets, &extra);
        assert_eq!(run.code, 2, "{what}: {run:?}");
        assert!(run.stderr.starts_with("error:"), "{what}: {run:?}");
    }
    assert!(server.requests().is_empty(), "{:?}", server.paths());
    assert_listing(dest.path(), &[]);
}

#[test]
fn two_processes_fetching_the_same_target_both_end_cleanly() {
    let server = Server::start();
    let data = publish_kubelet(&server, V, 60, 400_000);
    server.fault(&k8s_path(V, "kubelet"), Fault::Trickle { chunk: 32 * 1024, pause: Duration::from_millis(20) });
    server.put(&k8s_path(V, "kubelet"), data.clone());
    let dest = tempdir();
    let previous = previous_binary(dest.path(), "kubelet");
    let spawn = || {
        let args = fetch_args(&server, dest.path(), &["kubelet", V], &[]);
        kverify_cmd().args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    // Each stages its own temporary file and renames it over the name: both succeed
    // (neither removes the other's download in progress).
    assert!(a.status.success() && b.status.success(), "{a:?}\n{b:?}");
    assert!(server.max_concurrent() >= 2, "the two downloads did not overlap");
    assert_listing(dest.path(), &["kubelet"]);
    assert_installed(dest.path(), "kubelet", &data);
    assert!(data != previous);
}

/// A download killed mid-way leaves the previous binary; the next run installs and
/// removes the dead process's temporary file.
#[test]
fn a_process_killed_mid_download_loses_nothing() {
    let server = Server::start();
    let data = publish_kubelet(&server, V, 70, 1_000_000);
    server.fault(&k8s_path(V, "kubelet"), Fault::StallBody);
    let dest = tempdir();
    let previous = previous_binary(dest.path(), "kubelet");
    let args = fetch_args(&server, dest.path(), &["kubelet", V], &["--timeout", "30"]);
    let mut child = kverify_cmd().args(args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();

    // Wait until half the body sits in the temporary file.
    let deadline = Instant::now() + Duration::from_secs(20);
    let partial = loop {
        let found = std::fs::read_dir(dest.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(".kverify-kubelet-"));
        if let Some(p) = found.filter(|p| std::fs::metadata(p).map(|m| m.len() >= 500_000).unwrap_or(false)) {
            break p;
        }
        assert!(Instant::now() < deadline, "no partial download appeared: {:?}", listing(dest.path()));
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(partial.to_string_lossy().ends_with(".partial"), "{}", partial.display());
    assert_installed(dest.path(), "kubelet", &previous);
    child.kill().unwrap(); // SIGKILL: no destructor, no cleanup
    child.wait().unwrap();
    assert_installed(dest.path(), "kubelet", &previous);
    assert!(partial.exists(), "a killed process cannot remove its temporary file");

    // The next run installs the release and removes the dead process's leftover.
    server.clear_fault(&k8s_path(V, "kubelet"));
    fetch(&server, dest.path(), &["kubelet", V], &[]).code(0);
    assert_listing(dest.path(), &["kubelet"]);
    assert_installed(dest.path(), "kubelet", &data);
}

#[test]
fn only_temporary_files_of_dead_processes_are_removed() {
    let server = Server::start();
    let data = publish_kubelet(&server, V, 71, 20_000);
    let dest = tempdir();
    let dead = {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        pid
    };
    let alive = std::process::id();
    let names = [
        format!(".kverify-kubelet-{dead}-AbC123.partial"), // a killed kverify's: removed
        format!(".kverify-kubelet-{alive}-AbC123.partial"), // a running download's: kept
        format!(".kverify-kubectl-{dead}-AbC123.partial"), // another artifact's: kept
        ".kverify-kubelet-AbC123.partial".to_string(),     // not ours to judge: kept
        format!(".kverify-kubelet-{dead}-notes.txt"),      // not a partial: kept
    ];
    for name in &names {
        write(dest.path(), name, b"partial");
    }
    fetch(&server, dest.path(), &["kubelet", V], &[]).code(0);
    let mut want: Vec<&str> = names[1..].iter().map(String::as_str).collect();
    want.push("kubelet");
    assert_listing(dest.path(), &want);
    assert_installed(dest.path(), "kubelet", &data);
}

#[test]
fn without_dest_the_current_directory_is_the_destination() {
    let server = Server::start();
    let data = publish_kubelet(&server, V, 80, 20_000);
    let cwd = tempdir();
    let mut args = fetch_args(&server, cwd.path(), &["kubelet", V], &[]);
    let at = args.iter().position(|a| a == "--dest").unwrap();
    args.drain(at..at + 2);
    let out = kverify_cmd().args(args).current_dir(cwd.path()).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_listing(cwd.path(), &["kubelet"]);
    assert_installed(cwd.path(), "kubelet", &data);
}

/// etcd v3.5.12's binaries, then an extended-header record of `kind` (`path` in its own
/// header) holding `size` zero bytes, then a README it would describe. Zeros compress a
/// thousandfold: a few hundred KiB that verify against their checksum.
fn etcd_with_huge_record(kind: tar::EntryType, path: &str, size: u64) -> (Vec<u8>, Vec<(String, Vec<u8>)>) {
    use std::io::{Read as _, Write as _};
    let top = "etcd-v3.5.12-linux-amd64";
    let (binaries, entries) = etcd_entries(0, 0o755);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&tar(&entries, false)).unwrap();
    gz.write_all(&header(&Entry { claimed_size: Some(size), ..Entry::special(path, kind) })).unwrap();
    std::io::copy(&mut std::io::repeat(0).take(size), &mut gz).unwrap();
    gz.write_all(&tar(&[Entry::file(&format!("{top}/README2.md"), b"# etcd\n", 0o644)], true)).unwrap();
    (gz.finish().unwrap(), binaries)
}

const ARCHIVE_MEMORY_CAP_KIB: u64 = 64 * 1024;

/// The two lines of a fetch of one archive refused as hostile: `FAIL` with the entry and
/// why, and the summary.
fn refused(subject: &str, archive: &str, entry: &str, why: &str) -> String {
    format!(
        "FAIL     {subject}  {archive}: hostile entry {entry}: {why}; nothing was installed\n\
         0 artifacts verified, 1 failed: nothing was verified, which is a failure\n"
    )
}

const ETCD: &str = "etcd v3.5.12 linux/amd64";
const ETCD_ARCHIVE: &str = "etcd-v3.5.12-linux-amd64.tar.gz";
const CONTAINERD: &str = "containerd v1.7.13 linux/amd64";
const CONTAINERD_ARCHIVE: &str = "containerd-1.7.13-linux-amd64.tar.gz";

/// Issue 16: a GNU long name that matched its checksum drove a 299 KiB download to
/// 1.27 GiB of memory. A long name is read by kverify under a 4 KiB cap: one that
/// claims (and holds) 256 MiB refuses the archive before a byte of it is read.
#[test]
fn a_gnu_long_name_cannot_exhaust_memory() {
    let size = 256 * 1024 * 1024;
    let (archive, binaries) = etcd_with_huge_record(tar::EntryType::GNULongName, "././@LongLink", size);
    assert!(archive.len() < 512 * 1024, "{} bytes", archive.len());
    let why = "a GNU long name of 268435456 bytes, over the 4096-byte cap";
    let peak_kib = assert_etcd_archive_refused(&archive, binaries, "././@LongLink", why);
    eprintln!("a_gnu_long_name_cannot_exhaust_memory: peak RSS {peak_kib} KiB");
    assert!(peak_kib < ARCHIVE_MEMORY_CAP_KIB, "peak RSS {peak_kib} KiB");
}

/// The same for PAX: a header over 1 MiB refuses the archive unread; headers under the
/// cap are read one at a time, so 200 of 1 MiB each (200 MiB of records) before an
/// archive's READMEs install it with memory as flat as ever.
#[test]
fn a_pax_record_cannot_exhaust_memory() {
    use std::io::Write as _;
    let size = 256 * 1024 * 1024;
    let (archive, binaries) = etcd_with_huge_record(tar::EntryType::XHeader, "PaxHeaders/README2.md", size);
    assert!(archive.len() < 512 * 1024, "{} bytes", archive.len());
    let why = "a PAX header of 268435456 bytes, over the 1048576-byte cap";
    let peak_kib = assert_etcd_archive_refused(&archive, binaries, "PaxHeaders/README2.md", why);
    eprintln!("a_pax_record_cannot_exhaust_memory (256 MiB header): peak RSS {peak_kib} KiB");
    assert!(peak_kib < ARCHIVE_MEMORY_CAP_KIB, "peak RSS {peak_kib} KiB");

    // 200 PAX headers of exactly the cap, each before a README: read, kept no longer
    // than their entry, and the archive installs.
    let top = "etcd-v3.5.12-linux-amd64";
    let (binaries, entries) = etcd_entries(7, 0o755);
    let cap = 1024 * 1024;
    let record = pax_record("comment", &"0".repeat(cap - "1048576 comment=\n".len()));
    assert_eq!(record.len(), cap);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&tar(&entries, false)).unwrap();
    for i in 0..200 {
        let header = Entry { data: record.clone(), ..Entry::special("PaxHeaders/doc", tar::EntryType::XHeader) };
        gz.write_all(&tar(&[header, Entry::file(&format!("{top}/doc-{i}.md"), b"#\n", 0o644)], false)).unwrap();
    }
    gz.write_all(&tar(&[], true)).unwrap();
    let archive = gz.finish().unwrap();
    let server = Server::start();
    publish_etcd_archive(&server, "v3.5.12", &archive, binaries.clone());
    let dest = tempdir();
    let measured = memory::kverify_peak_rss(fetch_args(&server, dest.path(), &["etcd", "v3.5.12"], &[]));
    eprintln!("a_pax_record_cannot_exhaust_memory (200 x 1 MiB headers): peak RSS {} KiB", measured.peak_kib);
    measured.run.code(0);
    assert_listing(dest.path(), &["etcd", "etcdctl", "etcdutl"]);
    for (name, data) in &binaries {
        assert_installed(dest.path(), name, data);
    }
    assert!(measured.peak_kib < ARCHIVE_MEMORY_CAP_KIB, "peak RSS {} KiB", measured.peak_kib);
}

/// One PAX record (`LEN KEY=VALUE\n`), its length computed.
fn pax_record(key: &str, value: &str) -> Vec<u8> {
    let body = format!(" {key}={value}\n");
    let mut len = body.len() + 1;
    while format!("{len}{body}").len() != len {
        len += 1;
    }
    format!("{len}{body}").into_bytes()
}

/// Issue 16: a `.tar.gz` of two gzip members was read only to the end of the first,
/// while GNU tar extracts a second, hidden `etcd` from the second. Every member is read:
/// the second `etcd` is seen, and two files for one name refuse the archive.
#[test]
fn a_second_gzip_member_is_read_and_its_etcd_refused() {
    let top = "etcd-v3.5.12-linux-amd64";
    let (binaries, first) = etcd_entries(0, 0o755);
    let hidden = Entry::file(&format!("{top}/etcd"), b"#!/bin/sh\necho pwned\n", 0o755);
    // No end-of-archive marker in the first member: the tar stream goes on in the second.
    let archive = [gzip(&tar(&first, false)), gzip(&tar(&[hidden], true))].concat();
    let root = tempdir();
    let copy = write(root.path(), "a.tar.gz", &archive);
    if let Ok(out) = std::process::Command::new("tar").arg("-tzf").arg(&copy).output() {
        let listed = String::from_utf8_lossy(&out.stdout);
        assert_eq!(listed.lines().filter(|l| *l == format!("{top}/etcd")).count(), 2, "GNU tar lists:\n{listed}");
    }
    let why = "a second file with the name of one already taken";
    assert_etcd_archive_refused(&archive, binaries, &format!("{top}/etcd"), why);
}

/// Fetches `archive`, published as etcd v3.5.12, over a destination that holds an
/// earlier etcd: refused as hostile (exit 1, the report naming `entry` and `why`), the
/// earlier etcd untouched and nothing else written. Returns kverify's peak RSS in KiB,
/// measured while it waits on a full stdout.
fn assert_etcd_archive_refused(archive: &[u8], binaries: Vec<(String, Vec<u8>)>, entry: &str, why: &str) -> u64 {
    let server = Server::start();
    publish_etcd_archive(&server, "v3.5.12", archive, binaries);
    let dest = tempdir();
    let previous = previous_binary(dest.path(), "etcd");
    let measured = memory::kverify_peak_rss(fetch_args(&server, dest.path(), &["etcd", "v3.5.12"], &[]));
    let run = &measured.run;
    run.code(1);
    assert_eq!(run.stdout, refused(ETCD, ETCD_ARCHIVE, &format!("\"{entry}\""), why));
    assert_listing(dest.path(), &["etcd"]);
    assert_installed(dest.path(), "etcd", &previous);
    measured.peak_kib
}

/// A gzip bomb: a few hundred KiB that unpack past the 4 GiB cap on what an archive
/// unpacks to, in an entry that is not selected. The cap counts every header, read or
/// skipped, so the archive is refused at the header, before the bomb is inflated.
#[test]
fn a_gzip_bomb_past_the_unpacked_cap_is_refused_at_its_header() {
    use std::io::{Read as _, Write as _};
    let top = "etcd-v3.5.12-linux-amd64";
    let (binaries, entries) = etcd_entries(0, 0o755);
    let bomb = format!("{top}/Documentation/bomb");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&tar(&entries, false)).unwrap();
    gz.write_all(&header(&Entry::oversized(&bomb, 5 << 30))).unwrap();
    // Only the first 16 MiB of the 5 GiB follow: the refusal comes before any is read.
    std::io::copy(&mut std::io::repeat(0).take(16 << 20), &mut gz).unwrap();
    let archive = gz.finish().unwrap();
    assert!(archive.len() < 1 << 20, "{} bytes", archive.len());
    assert_etcd_archive_refused(&archive, binaries, &bomb, "the archive unpacks to over 4294967296 bytes");
}

/// Two zero blocks end a tar archive for GNU tar (without `-i`) and for kverify alike:
/// an `etcd` hidden after the end-of-archive marker is extracted by neither, so what an
/// operator unpacks by hand is what kverify installed.
#[test]
fn what_follows_the_end_of_archive_marker_is_read_by_neither_kverify_nor_gnu_tar() {
    let top = "etcd-v3.5.12-linux-amd64";
    let (binaries, first) = etcd_entries(0, 0o755);
    let hidden = Entry::file(&format!("{top}/etcd"), b"#!/bin/sh\necho pwned\n", 0o755);
    let archive = gzip(&[tar(&first, true), tar(&[hidden], true)].concat());
    let root = tempdir();
    let copy = write(root.path(), "a.tar.gz", &archive);
    if let Ok(out) = std::process::Command::new("tar").arg("-tzf").arg(&copy).output() {
        let listed = String::from_utf8_lossy(&out.stdout);
        assert_eq!(listed.lines().filter(|l| *l == format!("{top}/etcd")).count(), 1, "GNU tar lists:\n{listed}");
    }
    let server = Server::start();
    publish_etcd_archive(&server, "v3.5.12", &archive, binaries.clone());
    let dest = tempdir();
    fetch(&server, dest.path(), &["etcd", "v3.5.12"], &[]).code(0);
    assert_listing(dest.path(), &["etcd", "etcdctl", "etcdutl"]);
    for (name, data) in &binaries {
        assert_installed(dest.path(), name, data);
    }
}

/// containerd's binaries under `bin/`, then `extra` (executable, under `bin/` unless its
/// path says otherwise), published as containerd 1.7.13.
fn publish_containerd_with(server: &Server, extra: Vec<Entry>) {
    let names = ["containerd", "containerd-shim-runc-v2", "ctr"];
    let binaries: Vec<(String, Vec<u8>)> =
        names.iter().enumerate().map(|(i, n)| (n.to_string(), bytes(700 + i as u64, 10_000))).collect();
    let mut entries = vec![Entry::dir("bin/")];
    entries.extend(binaries.iter().map(|(n, d)| Entry::file(&format!("bin/{n}"), d, 0o755)));
    entries.extend(extra);
    publish_containerd_archive(server, "1.7.13", &tar_gz(&entries), binaries);
}

/// Issue 16: an entry named with a newline was installed, and the report printed a
/// forged `OK` line. A selected name with a control character refuses the archive, and
/// the one line that names it shows the newline escaped.
#[test]
fn an_archive_entry_named_with_a_newline_is_refused_and_forges_no_line() {
    let server = Server::start();
    for (name, shown) in [
        // A name holds no `/`: the forged line names no platform.
        (
            "bin/ctr\nOK       kubelet v1.29.0  installed kubelet",
            "\"bin/ctr\\nOK       kubelet v1.29.0  installed kubelet\"",
        ),
        ("bin/ctr\r\u{1b}[2KOK", "\"bin/ctr\\r\\x1b[2KOK\""),
    ] {
        publish_containerd_with(&server, vec![Entry::file(name, b"evil", 0o755)]);
        let dest = tempdir();
        let previous = previous_binary(dest.path(), "ctr");
        let run = fetch(&server, dest.path(), &["containerd", "1.7.13"], &[]);
        run.code(1);
        assert_eq!(run.stdout, refused(CONTAINERD, CONTAINERD_ARCHIVE, shown, "a control character in its name"));
        assert!(!run.stdout.contains('\u{1b}') && !run.stdout.contains('\r'), "{:?}", run.stdout);
        assert!(run.stdout.lines().all(|l| !l.starts_with("OK")), "{}", run.stdout);
        assert_listing(dest.path(), &["ctr"]);
        assert_installed(dest.path(), "ctr", &previous);
    }
}

/// Issue 16: a name over 255 bytes failed at install with an I/O error, exit 3 ("retry
/// later"). It is hostile (exit 1); a name of 220 bytes, the most that can be staged
/// beside its destination, installs.
#[test]
fn an_entry_name_over_name_max_is_exit_1() {
    let server = Server::start();
    let long = "a".repeat(256);
    publish_containerd_with(
        &server,
        vec![gnu_long_name(&format!("bin/{long}")), Entry::file("bin/placeholder", b"x", 0o755)],
    );
    let dest = tempdir();
    let previous = previous_binary(dest.path(), "ctr");
    let run = fetch(&server, dest.path(), &["containerd", "1.7.13"], &[]);
    run.code(1);
    let entry = format!("\"bin/{long}\"");
    assert_eq!(
        run.stdout,
        refused(CONTAINERD, CONTAINERD_ARCHIVE, &entry, "a name of 256 bytes, over the 220-byte cap")
    );
    assert_listing(dest.path(), &["ctr"]);
    assert_installed(dest.path(), "ctr", &previous);

    let longest = "b".repeat(220);
    publish_containerd_with(
        &server,
        vec![gnu_long_name(&format!("bin/{longest}")), Entry::file("bin/placeholder", b"x", 0o755)],
    );
    fetch(&server, dest.path(), &["containerd", "1.7.13"], &[]).code(0);
    assert_listing(dest.path(), &["containerd", "containerd-shim-runc-v2", "ctr", &longest]);
    assert_installed(dest.path(), &longest, b"x");
}

/// Issue 16: a regular file named `.` at the top of a CNI tarball was taken for a
/// binary named `.` and failed at install, exit 3. It is hostile: exit 1.
#[test]
fn an_entry_named_dot_is_exit_1() {
    let server = Server::start();
    let path = "containernetworking/plugins/releases/download/v1.4.0/cni-plugins-linux-amd64-v1.4.0.tgz";
    for (raw, shown, why) in [("./.", "\"./.\"", "the name `.`"), ("./bridge/..", "\"./bridge/..\"", "`..`")] {
        let archive =
            tar_gz(&[Entry::dir("./"), Entry::file("./bridge", b"bridge", 0o755), Entry::file(raw, b"evil", 0o755)]);
        server.put(path, archive.clone());
        server
            .put(&format!("{path}.sha256"), format!("{}  cni-plugins-linux-amd64-v1.4.0.tgz\n", sha256_hex(&archive)));
        server
            .put(&format!("{path}.sha512"), format!("{}  cni-plugins-linux-amd64-v1.4.0.tgz\n", sha512_hex(&archive)));
        let dest = tempdir();
        let previous = previous_binary(dest.path(), "bridge");
        let run = fetch(&server, dest.path(), &["cni-plugins", "v1.4.0"], &[]);
        run.code(1);
        let subject = "cni-plugins v1.4.0 linux/amd64";
        let archive_name = "cni-plugins-linux-amd64-v1.4.0.tgz";
        let line = run.stdout.lines().next().unwrap();
        assert!(line.starts_with(&format!("FAIL     {subject}  {archive_name}: hostile entry {shown}: ")), "{line}");
        assert!(line.contains(why) && line.ends_with("; nothing was installed"), "{line}");
        assert_listing(dest.path(), &["bridge"]);
        assert_installed(dest.path(), "bridge", &previous);
    }
}

/// Issue 16: a containerd or CNI archive could install any name, `kubelet` included.
/// The names other upstreams' binaries install are refused as hostile in an archive of
/// another upstream; the kubelet already there is untouched.
#[test]
fn a_containerd_archive_cannot_install_kubelet() {
    let server = Server::start();
    publish_containerd_with(&server, vec![Entry::file("bin/kubelet", b"#!/bin/sh\necho pwned\n", 0o755)]);
    let dest = tempdir();
    let previous = previous_binary(dest.path(), "kubelet");
    let run = fetch(&server, dest.path(), &["containerd", "1.7.13"], &[]);
    run.code(1);
    let why = "the name of another component's binary (kubelet), which this archive does not ship";
    assert_eq!(run.stdout, refused(CONTAINERD, CONTAINERD_ARCHIVE, "\"bin/kubelet\"", why));
    assert_listing(dest.path(), &["kubelet"]);
    assert_installed(dest.path(), "kubelet", &previous);

    // A CNI tarball naming runc: the same.
    let path = "containernetworking/plugins/releases/download/v1.4.0/cni-plugins-linux-amd64-v1.4.0.tgz";
    let archive = tar_gz(&[Entry::file("./bridge", b"bridge", 0o755), Entry::file("./runc", b"evil", 0o755)]);
    server.put(path, archive.clone());
    server.put(&format!("{path}.sha256"), format!("{}  cni-plugins-linux-amd64-v1.4.0.tgz\n", sha256_hex(&archive)));
    server.put(&format!("{path}.sha512"), format!("{}  cni-plugins-linux-amd64-v1.4.0.tgz\n", sha512_hex(&archive)));
    let run = fetch(&server, dest.path(), &["cni-plugins", "v1.4.0"], &[]);
    run.code(1);
    assert!(run.line_with("hostile entry \"./runc\"").contains("another component's binary (runc)"), "{}", run.stdout);
    assert_listing(dest.path(), &["kubelet"]);
}

/// Issue 16: an archive could install a hidden name, kverify's own staging names
/// (`.kverify-*.partial`) included. A selected hidden name refuses the archive.
#[test]
fn a_hidden_or_staging_name_is_refused() {
    let server = Server::start();
    let staging = format!(".kverify-kubelet-{}-AbCdEf.partial", std::process::id());
    for name in [staging.as_str(), ".ctr"] {
        publish_containerd_with(&server, vec![Entry::file(&format!("bin/{name}"), b"evil", 0o755)]);
        let dest = tempdir();
        let previous = previous_binary(dest.path(), "ctr");
        let run = fetch(&server, dest.path(), &["containerd", "1.7.13"], &[]);
        run.code(1);
        let entry = format!("\"bin/{name}\"");
        assert_eq!(run.stdout, refused(CONTAINERD, CONTAINERD_ARCHIVE, &entry, "a hidden name"), "{name}");
        assert_listing(dest.path(), &["ctr"]);
        assert_installed(dest.path(), "ctr", &previous);
    }
}
