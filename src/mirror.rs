//! An upstream-shaped tree on disk for air-gapped sites: each file lands at
//! `ROOT/<host>/<path>` of its upstream URL, so a static file server (or
//! `--mirror UPSTREAM=file:///ROOT/<host>`) serves it as the upstream would.

use std::path::{Path, PathBuf};

use crate::install::{self, InstallError, Verified};
use crate::status::ExitStatus;

/// Mirrored files are data, not programs to run from the mirror.
pub const MODE: u32 = 0o644;

/// Why a file cannot be placed in the tree.
#[derive(Debug, thiserror::Error)]
pub enum MirrorError {
    #[error("{url}: cannot be laid out under {} (a path that could climb out of it)", root.display())]
    Escapes { url: String, root: PathBuf },
    #[error(transparent)]
    Install(#[from] InstallError),
}

impl MirrorError {
    pub fn exit_status(&self) -> ExitStatus {
        match self {
            // A URL that would climb out of the mirror comes from a malformed --catalog.
            MirrorError::Escapes { .. } => ExitStatus::Usage,
            MirrorError::Install(_) => ExitStatus::Io,
        }
    }
}

/// The mirror's root directory.
pub struct MirrorTree {
    root: PathBuf,
}

impl MirrorTree {
    pub fn create(root: &Path) -> std::io::Result<MirrorTree> {
        fs_err::create_dir_all(root)?;
        Ok(MirrorTree { root: root.to_path_buf() })
    }

    /// `https://dl.k8s.io/release/v1.29.0/bin/linux/amd64/kubelet` →
    /// `ROOT/dl.k8s.io/release/v1.29.0/bin/linux/amd64/kubelet`. Refuses any URL whose
    /// path could climb out of the root (`..`, `.`, empty segments, backslashes).
    pub fn path_of(&self, url: &str) -> Result<PathBuf, MirrorError> {
        let rest = url.split_once("://").map_or(url, |(_, r)| r);
        let mut path = self.root.clone();
        for part in rest.split('/') {
            if part.is_empty() || part == "." || part == ".." || part.contains('\\') {
                return Err(MirrorError::Escapes { url: url.to_string(), root: self.root.clone() });
            }
            path.push(part);
        }
        Ok(path)
    }

    /// Writes a small file (a checksum file, a signature) at its upstream path,
    /// atomically, as every file kverify writes.
    pub fn write(&self, url: &str, bytes: &[u8]) -> Result<PathBuf, MirrorError> {
        let path = self.path_of(url)?;
        let write_err = |source| InstallError::Write { path: path.clone(), source };
        fs_err::create_dir_all(path.parent().unwrap_or(&self.root)).map_err(write_err)?;
        install::write_atomic(&path, bytes, MODE).map_err(write_err)?;
        Ok(path)
    }

    /// Where an artifact's download is staged: the directory of its upstream path.
    pub fn dir_of(&self, url: &str) -> Result<PathBuf, MirrorError> {
        let path = self.path_of(url)?;
        let dir = path.parent().map_or_else(|| self.root.clone(), Path::to_path_buf);
        fs_err::create_dir_all(&dir).map_err(|source| InstallError::Write { path: dir.clone(), source })?;
        Ok(dir)
    }

    /// Places verified bytes at their upstream path.
    pub fn install(&self, url: &str, verified: Verified) -> Result<PathBuf, MirrorError> {
        let path = self.path_of(url)?;
        install::install(verified, &path, MODE)?;
        Ok(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_map_to_host_and_path_under_the_root() {
        let tree = MirrorTree { root: PathBuf::from("/srv/mirror") };
        assert_eq!(
            tree.path_of("https://dl.k8s.io/release/v1.29.0/bin/linux/amd64/kubelet").unwrap(),
            Path::new("/srv/mirror/dl.k8s.io/release/v1.29.0/bin/linux/amd64/kubelet")
        );
        assert_eq!(
            tree.path_of("https://github.com/etcd-io/etcd/releases/download/v3.5.12/SHA256SUMS").unwrap(),
            Path::new("/srv/mirror/github.com/etcd-io/etcd/releases/download/v3.5.12/SHA256SUMS")
        );
    }

    #[test]
    fn a_url_that_could_climb_out_is_refused() {
        let tree = MirrorTree { root: PathBuf::from("/srv/mirror") };
        for url in [
            "https://dl.k8s.io/release/../../../etc/passwd",
            "https://dl.k8s.io/./x",
            "https://dl.k8s.io//x",
            "https://dl.k8s.io/a\\..\\b",
            "https://dl.k8s.io/release/",
            "https://../x",
        ] {
            let e = tree.path_of(url).unwrap_err();
            assert!(e.to_string().contains("cannot be laid out under /srv/mirror"), "{url}: {e}");
        }
    }
}
