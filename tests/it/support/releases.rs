//! Release fixtures in the upstreams' exact layouts (../shared/UPSTREAMS.md), published
//! on a test [`Server`], and tar.gz archives built entry by entry (hostile ones too).

use std::io::Write;

use flate2::write::GzEncoder;

use super::server::Server;
use super::{bytes, sha256_hex, sha512_hex};

/// `release/v1.29.0/bin/linux/amd64/kubelet`: where dl.k8s.io serves a binary.
pub fn k8s_path(version: &str, name: &str) -> String {
    format!("release/{version}/bin/linux/amd64/{name}")
}

/// Publishes a Kubernetes binary with its `.sha256` and `.sha512`: bare lowercase hex,
/// no file name, no newline.
pub fn publish_k8s(server: &Server, version: &str, name: &str, data: &[u8]) {
    let path = k8s_path(version, name);
    server.put(&path, data);
    server.put(&format!("{path}.sha256"), sha256_hex(data));
    server.put(&format!("{path}.sha512"), sha512_hex(data));
}

/// Publishes a fresh kubelet of `len` bytes (different bytes for every `seed`).
pub fn publish_kubelet(server: &Server, version: &str, seed: u64, len: usize) -> Vec<u8> {
    let data = bytes(seed, len);
    publish_k8s(server, version, "kubelet", &data);
    data
}

/// A Kubernetes version marker: `release/stable.txt` holds `v1.29.0`, no newline.
pub fn publish_marker(server: &Server, marker: &str, version: &str) {
    server.put(&format!("release/{marker}.txt"), version);
}

/// A published archive and the binaries kverify should take out of it.
pub struct Release {
    /// The archive's path on the server.
    pub path: String,
    /// The checksum file's path on the server.
    pub checksum_path: String,
    pub archive: Vec<u8>,
    /// (install name, bytes) of every binary the catalog takes out.
    pub binaries: Vec<(String, Vec<u8>)>,
}

impl Release {
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.binaries.iter().map(|(n, _)| n.clone()).collect();
        names.sort();
        names
    }
}

pub const ETCD_DIR: &str = "etcd-io/etcd/releases/download";
pub const CONTAINERD_DIR: &str = "containerd/containerd/releases/download";

/// etcd: `etcd-v{V}-linux-amd64.tar.gz` with top directory `etcd-v{V}-linux-amd64/`
/// (etcd, etcdctl, etcdutl, READMEs, Documentation), and one `SHA256SUMS` for the
/// release (`hex␠␠name\n`, every platform, trailing newline).
pub fn publish_etcd(server: &Server, version: &str) -> Release {
    let top = format!("etcd-{version}-linux-amd64");
    let binaries: Vec<(String, Vec<u8>)> = ["etcd", "etcdctl", "etcdutl"]
        .iter()
        .enumerate()
        .map(|(i, n)| (n.to_string(), bytes(100 + i as u64, 70_000 + i)))
        .collect();
    let mut entries = vec![Entry::dir(&format!("{top}/")), Entry::dir(&format!("{top}/Documentation/"))];
    entries.push(Entry::file(&format!("{top}/Documentation/README.md"), b"# etcd docs\n", 0o644));
    entries.push(Entry::file(&format!("{top}/README-etcdctl.md"), b"# etcdctl\n", 0o644));
    entries.push(Entry::file(&format!("{top}/README.md"), b"# etcd\n", 0o644));
    for (name, data) in &binaries {
        entries.push(Entry::file(&format!("{top}/{name}"), data, 0o755));
    }
    publish_etcd_archive(server, version, &tar_gz(&entries), binaries)
}

/// Publishes `archive` as etcd's linux/amd64 tarball of `version`, with a SHA256SUMS
/// that lists it among the other platforms.
pub fn publish_etcd_archive(
    server: &Server,
    version: &str,
    archive: &[u8],
    binaries: Vec<(String, Vec<u8>)>,
) -> Release {
    let name = format!("etcd-{version}-linux-amd64.tar.gz");
    let path = format!("{ETCD_DIR}/{version}/{name}");
    let checksum_path = format!("{ETCD_DIR}/{version}/SHA256SUMS");
    let mut sums = String::new();
    for (i, other) in
        ["darwin-amd64.zip", "darwin-arm64.zip", "linux-amd64.tar.gz", "linux-arm64.tar.gz", "windows-amd64.zip"]
            .iter()
            .enumerate()
    {
        let file = format!("etcd-{version}-{other}");
        let hex = if file == name { sha256_hex(archive) } else { sha256_hex(&bytes(900 + i as u64, 32)) };
        sums.push_str(&format!("{hex}  {file}\n"));
    }
    server.put(&path, archive);
    server.put(&checksum_path, sums);
    Release { path, checksum_path, archive: archive.to_vec(), binaries }
}

/// containerd: `containerd-{V}-linux-amd64.tar.gz` (file name without the `v`) holding
/// `bin/…`, and `{asset}.sha256sum` = `hex␠␠asset\n`.
pub fn publish_containerd(server: &Server, version: &str) -> Release {
    let names = ["containerd", "containerd-shim-runc-v2", "containerd-stress", "ctr"];
    let binaries: Vec<(String, Vec<u8>)> =
        names.iter().enumerate().map(|(i, n)| (n.to_string(), bytes(200 + i as u64, 50_000 + i))).collect();
    let mut entries = vec![Entry::dir("bin/")];
    for (name, data) in &binaries {
        entries.push(Entry::file(&format!("bin/{name}"), data, 0o755));
    }
    publish_containerd_archive(server, version, &tar_gz(&entries), binaries)
}

pub fn publish_containerd_archive(
    server: &Server,
    version: &str,
    archive: &[u8],
    binaries: Vec<(String, Vec<u8>)>,
) -> Release {
    let bare = version.trim_start_matches('v');
    let name = format!("containerd-{bare}-linux-amd64.tar.gz");
    let path = format!("{CONTAINERD_DIR}/v{bare}/{name}");
    let checksum_path = format!("{path}.sha256sum");
    server.put(&path, archive);
    server.put(&checksum_path, format!("{}  {name}\n", sha256_hex(archive)));
    Release { path, checksum_path, archive: archive.to_vec(), binaries }
}

/// crictl: `crictl-v{V}-linux-amd64.tar.gz` with `crictl` at the top; `.sha256` and
/// `.sha512` are bare hex with a newline.
pub fn publish_crictl(server: &Server, version: &str) -> Release {
    let data = bytes(300, 40_000);
    let archive = tar_gz(&[Entry::file("crictl", &data, 0o755)]);
    let path = format!("kubernetes-sigs/cri-tools/releases/download/{version}/crictl-{version}-linux-amd64.tar.gz");
    server.put(&path, archive.clone());
    server.put(&format!("{path}.sha256"), format!("{}\n", sha256_hex(&archive)));
    server.put(&format!("{path}.sha512"), format!("{}\n", sha512_hex(&archive)));
    Release { checksum_path: format!("{path}.sha256"), path, archive, binaries: vec![("crictl".into(), data)] }
}

/// runc: a plain binary `runc.amd64`; `runc.sha256sum` is PGP clear-signed.
pub fn publish_runc(server: &Server, version: &str) -> Release {
    let data = bytes(400, 60_000);
    let dir = format!("opencontainers/runc/releases/download/{version}");
    let mut sums = String::from("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n");
    sums.push_str(&format!("{}  runc.amd64\n", sha256_hex(&data)));
    sums.push_str(&format!("{}  runc.arm64\n", sha256_hex(&bytes(401, 10))));
    sums.push_str(&format!("{}  libseccomp-2.5.4.tar.gz\n", sha256_hex(&bytes(402, 10))));
    sums.push_str("-----BEGIN PGP SIGNATURE-----\n\niQIzBAEBCAAdFiEE\n=abcd\n-----END PGP SIGNATURE-----\n");
    server.put(&format!("{dir}/runc.amd64"), data.clone());
    server.put(&format!("{dir}/runc.sha256sum"), sums);
    Release {
        path: format!("{dir}/runc.amd64"),
        checksum_path: format!("{dir}/runc.sha256sum"),
        archive: data.clone(),
        binaries: vec![("runc".into(), data)],
    }
}

/// CNI plugins: `cni-plugins-linux-amd64-v{V}.tgz` with `./bridge`, … at the top;
/// `.sha256` / `.sha512` are `hex␠␠file\n`.
pub fn publish_cni(server: &Server, version: &str) -> Release {
    let names = ["bridge", "host-local", "loopback"];
    let binaries: Vec<(String, Vec<u8>)> =
        names.iter().enumerate().map(|(i, n)| (n.to_string(), bytes(500 + i as u64, 30_000 + i))).collect();
    let mut entries = vec![Entry::dir("./")];
    for (name, data) in &binaries {
        entries.push(Entry::file(&format!("./{name}"), data, 0o755));
    }
    let archive = tar_gz(&entries);
    let name = format!("cni-plugins-linux-amd64-{version}.tgz");
    let path = format!("containernetworking/plugins/releases/download/{version}/{name}");
    server.put(&path, archive.clone());
    server.put(&format!("{path}.sha256"), format!("{}  {name}\n", sha256_hex(&archive)));
    server.put(&format!("{path}.sha512"), format!("{}  {name}\n", sha512_hex(&archive)));
    Release { checksum_path: format!("{path}.sha256"), path, archive, binaries }
}

/// helm from get.helm.sh: `helm-v{V}-linux-amd64.tar.gz` holding `linux-amd64/helm`,
/// `.sha256sum` = `hex␠␠file\n`.
pub fn publish_helm(server: &Server, version: &str) -> Release {
    let data = bytes(600, 45_000);
    let archive = tar_gz(&[
        Entry::dir("linux-amd64/"),
        Entry::file("linux-amd64/LICENSE", b"Apache License\n", 0o644),
        Entry::file("linux-amd64/README.md", b"# helm\n", 0o644),
        Entry::file("linux-amd64/helm", &data, 0o755),
    ]);
    let name = format!("helm-{version}-linux-amd64.tar.gz");
    server.put(&name, archive.clone());
    server.put(&format!("{name}.sha256sum"), format!("{}  {name}\n", sha256_hex(&archive)));
    server.put(&format!("{name}.sha256"), format!("{}\n", sha256_hex(&archive)));
    Release { checksum_path: format!("{name}.sha256sum"), path: name, archive, binaries: vec![("helm".into(), data)] }
}

/// One tar entry, written as-is: no path checks, so hostile archives can be built.
pub struct Entry {
    pub path: String,
    pub kind: tar::EntryType,
    pub data: Vec<u8>,
    pub mode: u32,
    pub link: Option<String>,
    /// The size the header claims, when it differs from the data (oversized entries).
    pub claimed_size: Option<u64>,
}

impl Entry {
    pub fn file(path: &str, data: &[u8], mode: u32) -> Entry {
        Entry {
            path: path.into(),
            kind: tar::EntryType::Regular,
            data: data.to_vec(),
            mode,
            link: None,
            claimed_size: None,
        }
    }
    pub fn dir(path: &str) -> Entry {
        Entry {
            path: path.into(),
            kind: tar::EntryType::Directory,
            data: Vec::new(),
            mode: 0o755,
            link: None,
            claimed_size: None,
        }
    }
    pub fn symlink(path: &str, target: &str) -> Entry {
        Entry { link: Some(target.into()), ..Entry::special(path, tar::EntryType::Symlink) }
    }
    pub fn hardlink(path: &str, target: &str) -> Entry {
        Entry { link: Some(target.into()), ..Entry::special(path, tar::EntryType::Link) }
    }
    pub fn special(path: &str, kind: tar::EntryType) -> Entry {
        Entry { path: path.into(), kind, data: Vec::new(), mode: 0o644, link: None, claimed_size: None }
    }
    /// A regular file whose header claims `size` bytes; only a few follow.
    pub fn oversized(path: &str, size: u64) -> Entry {
        Entry { claimed_size: Some(size), ..Entry::file(path, &[0u8; 512], 0o755) }
    }
}

/// A gzip-compressed tar of `entries`, in order, names written raw (GNU headers).
pub fn tar_gz(entries: &[Entry]) -> Vec<u8> {
    let end = entries.iter().all(|e| e.claimed_size.is_none());
    gzip(&tar(entries, end))
}

/// The raw tar of `entries` (names written raw, GNU headers), ended by the two zero
/// blocks of an end-of-archive marker when `end`.
pub fn tar(entries: &[Entry], end: bool) -> Vec<u8> {
    let mut tar = Vec::new();
    for e in entries {
        tar.extend_from_slice(&header(e));
        tar.extend_from_slice(&e.data);
        tar.resize(tar.len().div_ceil(512) * 512, 0);
    }
    if end {
        tar.resize(tar.len() + 1024, 0);
    }
    tar
}

/// The 512-byte GNU header of `e`, claiming its `claimed_size` or the size of its data.
pub fn header(e: &Entry) -> [u8; 512] {
    let mut header = tar::Header::new_gnu();
    {
        let name = &mut header.as_old_mut().name;
        assert!(e.path.len() < name.len(), "{}: too long for a plain header", e.path);
        name[..e.path.len()].copy_from_slice(e.path.as_bytes());
    }
    if let Some(link) = &e.link {
        let field = &mut header.as_old_mut().linkname;
        field[..link.len()].copy_from_slice(link.as_bytes());
    }
    header.set_entry_type(e.kind);
    header.set_mode(e.mode);
    header.set_mtime(1_700_000_000);
    header.set_uid(0);
    header.set_gid(0);
    header.set_size(e.claimed_size.unwrap_or(e.data.len() as u64));
    header.set_cksum();
    *header.as_bytes()
}

/// `bytes` as one gzip member.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

/// `--mirror` for every upstream host onto `server`, no bars, and no signature checks
/// (signatures have their own tests).
pub fn mirror_args(server: &Server) -> Vec<String> {
    let base = server.base();
    let mut args = Vec::new();
    for upstream in ["https://dl.k8s.io", "https://github.com", "https://get.helm.sh"] {
        args.push("--mirror".to_string());
        args.push(format!("{upstream}={base}"));
    }
    args.extend(["--no-progress", "--insecure-skip-signature"].map(String::from));
    args
}

/// The arguments of `kverify fetch TARGETS… --dest DEST` against `server`: mirrors,
/// linux/amd64 and a 5 s timeout unless `extra` sets them.
pub fn fetch_args(server: &Server, dest: &std::path::Path, targets: &[&str], extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = vec!["fetch".into()];
    args.extend(targets.iter().map(|t| t.to_string()));
    args.push("--dest".into());
    args.push(dest.display().to_string());
    args.extend(mirror_args(server));
    for (flag, value) in [("--os", "linux"), ("--arch", "amd64"), ("--timeout", "5")] {
        if !extra.contains(&flag) {
            args.extend([flag.to_string(), value.to_string()]);
        }
    }
    args.extend(extra.iter().map(|e| e.to_string()));
    args
}

/// Runs `kverify fetch TARGETS… --dest DEST` against `server` (see [`fetch_args`]).
pub fn fetch(server: &Server, dest: &std::path::Path, targets: &[&str], extra: &[&str]) -> super::Run {
    super::kverify(fetch_args(server, dest, targets, extra))
}
