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
    /// A directory inside the tree is a link: writing through it could land anywhere
    /// (`ROOT/dl.k8s.io` pointing at `/etc`).
    #[error("{} is a symbolic link to {target}; refusing to write the mirror through it", path.display())]
    Linked { path: PathBuf, target: String },
    #[error(transparent)]
    Install(#[from] InstallError),
}

impl MirrorError {
    pub fn exit_status(&self) -> ExitStatus {
        match self {
            // A URL that would climb out of the mirror comes from a malformed --catalog.
            MirrorError::Escapes { .. } => ExitStatus::Usage,
            MirrorError::Linked { .. } | MirrorError::Install(_) => ExitStatus::Io,
        }
    }

    pub fn hint(&self) -> Option<String> {
        match self {
            MirrorError::Linked { .. } => {
                Some("remove the link: --to itself may be a link, nothing under it may be one".into())
            }
            MirrorError::Install(e) => e.hint(),
            MirrorError::Escapes { .. } => None,
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
        self.dir_of(url)?;
        let path = self.path_of(url)?;
        install::check_destination(&path)?;
        install::write_atomic(&path, bytes, MODE)
            .map_err(|source| InstallError::Write { path: path.clone(), source })?;
        Ok(path)
    }

    /// Where an artifact's download is staged: the directory of its upstream path,
    /// created as needed, every directory below the root a real one, never a link.
    pub fn dir_of(&self, url: &str) -> Result<PathBuf, MirrorError> {
        let path = self.path_of(url)?;
        let dir = path.parent().map_or_else(|| self.root.clone(), Path::to_path_buf);
        let mut at = self.root.clone();
        for part in dir.strip_prefix(&self.root).unwrap_or(Path::new("")).components() {
            at.push(part);
            let write_err = |source| InstallError::Write { path: at.clone(), source };
            match std::fs::symlink_metadata(&at) {
                Ok(meta) if meta.file_type().is_symlink() => {
                    let target = std::fs::read_link(&at).map(|t| t.display().to_string()).unwrap_or_default();
                    return Err(MirrorError::Linked { path: at, target });
                }
                Ok(meta) if meta.is_dir() => {}
                Ok(_) => return Err(InstallError::NotADirectory { path: at }.into()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    std::fs::create_dir(&at).map_err(write_err)?;
                }
                Err(e) => return Err(write_err(e).into()),
            }
        }
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
