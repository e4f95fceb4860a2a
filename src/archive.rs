//! Taking binaries out of a verified tar.gz archive, refusing the whole archive if any
//! entry is hostile: `..`, an absolute path, a link, a device, or an oversized file.

use std::io::{self, Read, Write};
use std::path::{Component, Path};

use flate2::read::GzDecoder;

use crate::catalog::Extract;
use crate::digest::{AlgorithmSet, MultiHasher, CHUNK};
use crate::install::{InstallError, SignatureCheck, Staged, Verified};

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

/// A binary taken out of an archive, verified by the archive's verification.
pub struct Extracted {
    /// The name to install it under (the entry's last path component).
    pub name: String,
    pub verified: Verified,
}

/// Extracts the binaries `layout` names from `archive` into staged files in `dir`.
/// Every entry is checked first-to-last in one pass; any hostile entry fails the whole
/// archive and the staged files are dropped (removed).
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
        if kind.is_symlink() || kind.is_hard_link() {
            return Err(hostile(&raw, "a link"));
        }
        if kind.is_character_special() || kind.is_block_special() || kind.is_fifo() {
            return Err(hostile(&raw, "a device or fifo"));
        }
        let path = normalize(&raw).ok_or_else(|| hostile(&raw, "an absolute path or one with `..`"))?;
        if kind.is_dir() || kind.is_pax_global_extensions() || kind.is_pax_local_extensions() {
            continue;
        }
        if !(kind.is_file() || kind == tar::EntryType::Continuous || kind.is_gnu_sparse()) {
            return Err(hostile(&raw, "not a regular file"));
        }
        let size = entry.size();
        if size > MAX_ENTRY_SIZE {
            return Err(hostile(&raw, &format!("{size} bytes, over the {MAX_ENTRY_SIZE}-byte cap")));
        }
        total += size;
        if total > MAX_TOTAL_SIZE {
            return Err(hostile(&raw, &format!("the archive unpacks to over {MAX_TOTAL_SIZE} bytes")));
        }
        if !wanted(layout, &path) {
            continue;
        }
        let name = path.rsplit('/').next().unwrap_or(&path).to_string();
        if out.iter().any(|e| e.name == name) {
            return Err(hostile(&raw, "a second file with the name of one already taken"));
        }
        let mut staged = Staged::new_in(dir, &name)?;
        let mut hasher = MultiHasher::new(AlgorithmSet::BOTH, Some(size));
        let mut buf = vec![0u8; CHUNK];
        let mut got = 0u64;
        loop {
            let n = entry.read(&mut buf).map_err(corrupt)?;
            if n == 0 {
                break;
            }
            got += n as u64;
            if got > size {
                return Err(hostile(&raw, "more bytes than its header says"));
            }
            hasher.update(&buf[..n]);
            staged.file_mut().write_all(&buf[..n]).map_err(|source| {
                ArchiveError::Install(InstallError::Write { path: staged.path().to_path_buf(), source })
            })?;
        }
        let signature = SignatureCheck::NotRequired(format!("extracted from {archive_name}"));
        out.push(Extracted { name, verified: Verified::extracted(archive, staged, hasher.finish(), signature) });
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

fn wanted(layout: &Extract, path: &str) -> bool {
    match layout {
        Extract::Binaries(binaries) => binaries.iter().any(|b| normalize(b).as_deref() == Some(path)),
        Extract::Directory(dir) => {
            let dir = dir.trim_end_matches('/');
            let parent = path.rsplit_once('/').map_or("", |(p, _)| p);
            parent == dir
        }
    }
}

/// `./bin/x` → `bin/x`; `None` for absolute paths and any `..`.
fn normalize(raw: &str) -> Option<String> {
    let mut parts = Vec::new();
    for c in Path::new(raw).components() {
        match c {
            Component::Normal(p) => parts.push(p.to_str()?.to_string()),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    if raw.contains('\\') {
        return None;
    }
    Some(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_and_refuses_escapes() {
        assert_eq!(normalize("./bin/containerd").as_deref(), Some("bin/containerd"));
        assert_eq!(normalize("etcd-v3.5.12-linux-amd64/etcd").as_deref(), Some("etcd-v3.5.12-linux-amd64/etcd"));
        for bad in ["../x", "/etc/passwd", "bin/../../x", "a\\..\\b"] {
            assert_eq!(normalize(bad), None, "{bad}");
        }
    }

    #[test]
    fn wanted_by_layout() {
        let dir = Extract::Directory("bin/".into());
        assert!(wanted(&dir, "bin/ctr"));
        assert!(!wanted(&dir, "bin/sub/ctr"));
        assert!(!wanted(&dir, "ctr"));
        let top = Extract::Directory(String::new());
        assert!(wanted(&top, "bridge"));
        assert!(!wanted(&top, "docs/x"));
        let named = Extract::Binaries(vec!["linux-amd64/helm".into()]);
        assert!(wanted(&named, "linux-amd64/helm"));
        assert!(!wanted(&named, "linux-amd64/README.md"));
    }
}
