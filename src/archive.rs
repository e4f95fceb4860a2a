//! Taking binaries out of a verified tar.gz archive, refusing the whole archive if an
//! entry selected for extraction is hostile: a link, a device, an oversized file. Entries
//! not selected (documentation, a symbolic link beside it, a path with `..`) are skipped
//! whatever they are; the cap on the total unpacked size holds for every entry.

use std::io;
use std::path::{Component, Path};

use flate2::read::GzDecoder;

use crate::catalog::Extract;
use crate::digest::{copy_hashing, AlgorithmSet, CopyError, CHUNK};
use crate::install::{InstallError, Staged, Verified};
use crate::signature::SignatureCheck;
use crate::status::ExitStatus;

/// The largest single file kverify takes out of an archive.
pub const MAX_ENTRY_SIZE: u64 = 1024 * 1024 * 1024;
/// The most bytes kverify decompresses from one archive (a gzip bomb stops here).
pub const MAX_TOTAL_SIZE: u64 = 4 * 1024 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("{archive}: hostile entry {entry:?}: {why}; nothing was installed")]
    Hostile { archive: String, entry: String, why: String },
    #[error("{archive}: {binary} is not in the archive")]
    Missing { archive: String, binary: String },
    #[error("{archive}: no files under {directory:?}")]
    Empty { archive: String, directory: String },
    #[error("{archive}: not a readable tar.gz archive")]
    Corrupt {
        archive: String,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Install(#[from] InstallError),
}

impl ArchiveError {
    /// A hostile or broken archive is evidence that does not hold; a binary that cannot
    /// be staged is I/O.
    pub fn exit_status(&self) -> ExitStatus {
        match self {
            ArchiveError::Install(_) => ExitStatus::Io,
            _ => ExitStatus::Failed,
        }
    }
}

/// A binary taken out of an archive, verified by the archive's verification.
pub struct Extracted {
    /// The name to install it under (the entry's last path component).
    pub name: String,
    pub verified: Verified,
}

/// Extracts the binaries `layout` names from `archive` into staged files in `dir`.
/// Every entry is checked first-to-last in one pass; a hostile selected entry fails the
/// whole archive and the staged files are dropped (removed).
pub fn extract(
    archive: &Verified,
    archive_name: &str,
    layout: &Extract,
    dir: &Path,
) -> Result<Vec<Extracted>, ArchiveError> {
    let corrupt = |source| ArchiveError::Corrupt { archive: archive_name.to_string(), source };
    let hostile = |entry: &str, why: &str| ArchiveError::Hostile {
        archive: archive_name.to_string(),
        entry: entry.to_string(),
        why: why.to_string(),
    };
    let file = archive.reopen().map_err(corrupt)?;
    let mut tar = tar::Archive::new(GzDecoder::new(io::BufReader::with_capacity(CHUNK, file)));
    let mut out: Vec<Extracted> = Vec::new();
    let mut total: u64 = 0;
    for entry in tar.entries().map_err(corrupt)? {
        let mut entry = entry.map_err(corrupt)?;
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let kind = entry.header().entry_type();
        // The cap on what an archive unpacks to holds for every entry, read or skipped.
        let size = entry.size();
        total = total.saturating_add(size);
        if total > MAX_TOTAL_SIZE {
            return Err(hostile(&raw, &format!("the archive unpacks to over {MAX_TOTAL_SIZE} bytes")));
        }
        if kind.is_pax_global_extensions() || kind.is_pax_local_extensions() {
            continue;
        }
        // Entries not selected are skipped whatever they are (etcd 3.4 ships a symbolic
        // link among its docs); a selected one must be a plain file inside the archive.
        let EntryPath { path, clean } = entry_path(&raw);
        if !selects(layout, &path) {
            continue;
        }
        if !clean {
            return Err(hostile(&raw, "an absolute path or one with `..`"));
        }
        if kind.is_symlink() || kind.is_hard_link() {
            return Err(hostile(&raw, "a link"));
        }
        if kind.is_character_special() || kind.is_block_special() || kind.is_fifo() {
            return Err(hostile(&raw, "a device or fifo"));
        }
        let regular = kind.is_file() || kind == tar::EntryType::Continuous || kind.is_gnu_sparse();
        if let Extract::Directory(_) = layout {
            // Binaries of a directory are its executable files: README.md and LICENSE
            // beside CNI's plugins are not programs, and neither is a subdirectory.
            let executable = entry.header().mode().is_ok_and(|m| m & 0o111 != 0);
            if kind.is_dir() || (regular && !executable) {
                continue;
            }
        }
        if !regular {
            return Err(hostile(&raw, "not a regular file"));
        }
        if size > MAX_ENTRY_SIZE {
            return Err(hostile(&raw, &format!("{size} bytes, over the {MAX_ENTRY_SIZE}-byte cap")));
        }
        let name = path.rsplit('/').next().unwrap_or(&path).to_string();
        if out.iter().any(|e| e.name == name) {
            return Err(hostile(&raw, "a second file with the name of one already taken"));
        }
        let mut staged = Staged::new_in(dir, &name)?;
        let path = staged.path().to_path_buf();
        let copied = copy_hashing(&mut entry, staged.file_mut(), AlgorithmSet::BOTH, Some(size), size, |_| {});
        let (digests, _) = copied.map_err(|e| match e {
            CopyError::Read { source, .. } => corrupt(source),
            CopyError::Write(source) => ArchiveError::Install(InstallError::Write { path, source }),
            CopyError::Limit { .. } => hostile(&raw, "more bytes than its header says"),
        })?;
        let signature = SignatureCheck::NotRequired(format!("extracted from {archive_name}"));
        out.push(Extracted { name, verified: Verified::extracted(archive, staged, digests, signature) });
    }
    match layout {
        Extract::Binaries(binaries) => {
            for b in binaries {
                let name = b.rsplit('/').next().unwrap_or(b);
                if !out.iter().any(|e| e.name == name) {
                    return Err(ArchiveError::Missing { archive: archive_name.to_string(), binary: b.clone() });
                }
            }
        }
        Extract::Directory(d) if out.is_empty() => {
            return Err(ArchiveError::Empty { archive: archive_name.to_string(), directory: d.clone() })
        }
        Extract::Directory(_) => {}
    }
    Ok(out)
}

/// Whether `layout` selects the entry at `path` (normalized) for extraction.
fn selects(layout: &Extract, path: &str) -> bool {
    match layout {
        Extract::Binaries(binaries) => binaries.iter().any(|b| entry_path(b).path == path),
        Extract::Directory(dir) => {
            let dir = dir.trim_end_matches('/');
            let parent = path.rsplit_once('/').map_or("", |(p, _)| p);
            parent == dir
        }
    }
}

/// An entry's path as an extractor would place it: `./bin/x` and `/bin/x` are `bin/x`,
/// `a/../bin/x` is `bin/x`. A path that only gets there by stripping a leading `/` or by
/// climbing with `..` (or that holds a backslash or non-UTF-8 bytes) is not `clean`:
/// refused when it is selected, skipped when it is not.
struct EntryPath {
    path: String,
    clean: bool,
}

fn entry_path(raw: &str) -> EntryPath {
    let mut parts: Vec<&str> = Vec::new();
    let mut clean = !raw.contains('\\');
    for c in Path::new(raw).components() {
        match c {
            Component::Normal(p) => match p.to_str() {
                Some(p) => parts.push(p),
                None => clean = false,
            },
            Component::CurDir => {}
            Component::ParentDir => {
                parts.pop();
                clean = false;
            }
            Component::RootDir | Component::Prefix(_) => clean = false,
        }
    }
    EntryPath { path: parts.join("/"), clean }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;
    use crate::digest::MultiHasher;

    #[test]
    fn entry_paths_as_an_extractor_places_them() {
        for (raw, path, clean) in [
            ("./bin/containerd", "bin/containerd", true),
            ("etcd-v3.5.12-linux-amd64/etcd", "etcd-v3.5.12-linux-amd64/etcd", true),
            ("../x", "x", false),
            ("/etc/passwd", "etc/passwd", false),
            ("bin/../../x", "x", false),
            ("a/../bin/ctr", "bin/ctr", false),
            ("a\\..\\b", "a\\..\\b", false),
        ] {
            let got = entry_path(raw);
            assert_eq!((got.path.as_str(), got.clean), (path, clean), "{raw}");
        }
    }

    use crate::expect::Expected;

    /// An archive staged in `dir` and verified against its own digest, as fetch does.
    fn verified_archive(dir: &Path, tar_gz: &[u8]) -> Verified {
        let mut staged = Staged::new_in(dir, "a.tar.gz").unwrap();
        staged.file_mut().write_all(tar_gz).unwrap();
        let mut hasher = MultiHasher::new(AlgorithmSet::BOTH, None);
        hasher.update(tar_gz);
        let digests = hasher.finish();
        let expected = Expected::unnamed(digests.sha256.unwrap(), "test");
        let none = SignatureCheck::NotRequired("test".into());
        Verified::check(staged, digests, &[&expected], none).map_err(|r| format!("{r:?}")).unwrap()
    }

    enum Entry<'a> {
        File(&'a str, &'a [u8]),
        /// A header only, claiming `u64` bytes (no data follows).
        Claims(&'a str, u64),
        Special(&'a str, tar::EntryType, &'a str),
    }

    fn tar_gz(entries: &[Entry<'_>]) -> Vec<u8> {
        let mut raw = Vec::new();
        {
            let mut b = tar::Builder::new(&mut raw);
            for e in entries {
                let mut h = tar::Header::new_gnu();
                h.set_mode(0o755);
                // Names go into the header as bytes: `tar` itself refuses `..` and `/x`.
                let path = match e {
                    Entry::File(p, _) | Entry::Claims(p, _) | Entry::Special(p, ..) => p,
                };
                h.as_gnu_mut().unwrap().name[..path.len()].copy_from_slice(path.as_bytes());
                match e {
                    Entry::File(_, data) => {
                        h.set_size(data.len() as u64);
                        h.set_entry_type(tar::EntryType::Regular);
                        h.set_cksum();
                        b.append(&h, *data).unwrap();
                    }
                    Entry::Claims(_, size) => {
                        // Written by hand: `tar` would want the data.
                        h.set_size(*size);
                        h.set_entry_type(tar::EntryType::Regular);
                        h.set_cksum();
                        b.get_mut().extend_from_slice(h.as_bytes());
                    }
                    Entry::Special(_, kind, link) => {
                        h.set_size(0);
                        h.set_entry_type(*kind);
                        if !link.is_empty() {
                            h.set_link_name(link).unwrap();
                        }
                        h.set_cksum();
                        b.append(&h, std::io::empty()).unwrap();
                    }
                }
            }
            b.finish().unwrap();
        }
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&raw).unwrap();
        gz.finish().unwrap()
    }

    fn files_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> =
            std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
    }

    #[test]
    fn hostile_archives_are_refused_whole_and_leave_nothing_behind() {
        let ok: &[u8] = b"\x7fELF containerd";
        let cases: Vec<(&str, Vec<Entry<'_>>, &str)> = vec![
            ("dot-dot", vec![Entry::File("bin/containerd", ok), Entry::File("x/../bin/ctr", b"x")], "`..`"),
            ("absolute", vec![Entry::File("bin/containerd", ok), Entry::File("/bin/ctr", b"x")], "absolute"),
            ("symlink", vec![Entry::Special("bin/ctr", tar::EntryType::Symlink, "/etc/shadow")], "a link"),
            (
                "hard link",
                vec![Entry::File("bin/a", ok), Entry::Special("bin/b", tar::EntryType::Link, "bin/a")],
                "a link",
            ),
            ("device", vec![Entry::Special("bin/null", tar::EntryType::Char, "")], "a device"),
            ("fifo", vec![Entry::Special("bin/fifo", tar::EntryType::Fifo, "")], "fifo"),
            ("two of one name", vec![Entry::File("bin/ctr", ok), Entry::File("./bin/ctr", b"x")], "a second file"),
            ("oversized", vec![Entry::File("bin/containerd", ok), Entry::Claims("bin/ctr", MAX_ENTRY_SIZE + 1)], "cap"),
        ];
        let layout = Extract::Directory("bin/".into());
        for (what, entries, why) in cases {
            let dir = tempfile::tempdir().unwrap();
            let archive = verified_archive(dir.path(), &tar_gz(&entries));
            let err = match extract(&archive, "a.tar.gz", &layout, dir.path()) {
                Ok(got) => panic!("{what}: extracted {:?}", got.iter().map(|e| &e.name).collect::<Vec<_>>()),
                Err(e) => e.to_string(),
            };
            assert!(err.contains("hostile entry") && err.contains(why), "{what}: {err}");
            drop(archive);
            assert_eq!(files_in(dir.path()), Vec::<String>::new(), "{what}: left behind");
        }
    }

    #[test]
    fn only_the_named_binaries_come_out_of_an_archive() {
        let dir = tempfile::tempdir().unwrap();
        let entries = [
            Entry::File("etcd-v3.5.12-linux-amd64/etcd", b"etcd"),
            Entry::File("etcd-v3.5.12-linux-amd64/etcdctl", b"etcdctl"),
            Entry::File("etcd-v3.5.12-linux-amd64/README.md", b"# readme"),
            Entry::File("etcd-v3.5.12-linux-amd64/Documentation/etcd", b"not this one"),
        ];
        let archive = verified_archive(dir.path(), &tar_gz(&entries));
        let layout = Extract::Binaries(vec!["etcd-v3.5.12-linux-amd64/etcd".into()]);
        let got = extract(&archive, "etcd.tar.gz", &layout, dir.path()).unwrap();
        assert_eq!(got.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(), ["etcd"]);
        assert_eq!(std::fs::read(got[0].verified.path()).unwrap(), b"etcd");
        let missing = Extract::Binaries(vec!["etcd-v3.5.12-linux-amd64/etcdutl".into()]);
        let err = extract(&archive, "etcd.tar.gz", &missing, dir.path()).err().unwrap();
        assert!(matches!(err, ArchiveError::Missing { .. }), "{err}");
    }

    #[test]
    fn entries_not_selected_are_skipped_whatever_they_are() {
        let dir = tempfile::tempdir().unwrap();
        let entries = [
            Entry::File("bin/containerd", b"containerd"),
            Entry::File("bin/../../escaped", b"x"),
            Entry::File("/etc/cron.d/evil", b"x"),
            Entry::Special("docs/README.md", tar::EntryType::Symlink, "docs.md"),
            Entry::Special("docs/null", tar::EntryType::Char, ""),
            Entry::Special("docs/hard", tar::EntryType::Link, "bin/containerd"),
        ];
        let archive = verified_archive(dir.path(), &tar_gz(&entries));
        let got = extract(&archive, "a.tar.gz", &Extract::Directory("bin/".into()), dir.path()).unwrap();
        assert_eq!(got.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(), ["containerd"]);
    }

    #[test]
    fn a_directory_archive_yields_its_executable_files_only() {
        let dir = tempfile::tempdir().unwrap();
        let mut raw = Vec::new();
        {
            let mut b = tar::Builder::new(&mut raw);
            for (name, mode) in
                [("./bridge", 0o755), ("./README.md", 0o644), ("./LICENSE", 0o644), ("./loopback", 0o700)]
            {
                let mut h = tar::Header::new_gnu();
                h.set_size(4);
                h.set_mode(mode);
                h.set_entry_type(tar::EntryType::Regular);
                b.append_data(&mut h, name, &b"data"[..]).unwrap();
            }
            b.finish().unwrap();
        }
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&raw).unwrap();
        let archive = verified_archive(dir.path(), &gz.finish().unwrap());
        let got = extract(&archive, "cni.tgz", &Extract::Directory(String::new()), dir.path()).unwrap();
        assert_eq!(got.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(), ["bridge", "loopback"]);
    }

    #[test]
    fn selects_by_layout() {
        let dir = Extract::Directory("bin/".into());
        assert!(selects(&dir, "bin/ctr"));
        assert!(!selects(&dir, "bin/sub/ctr"));
        assert!(!selects(&dir, "ctr"));
        let top = Extract::Directory(String::new());
        assert!(selects(&top, "bridge"));
        assert!(!selects(&top, "docs/x"));
        let named = Extract::Binaries(vec!["linux-amd64/helm".into()]);
        assert!(selects(&named, "linux-amd64/helm"));
        assert!(!selects(&named, "linux-amd64/README.md"));
    }
}
