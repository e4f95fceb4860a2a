//! Staging downloads next to their destination, and installing only what verified:
//! `chmod`, `fsync`, `rename` over the destination, `fsync` the directory.

use std::fs::Permissions;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use crate::digest::Digests;
use crate::expect::Expected;
use crate::report::{Mismatch, SignatureEvidence};

/// Why something could not be installed.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("{}: not a directory", path.display())]
    NotADirectory { path: PathBuf },
    #[error("cannot create a temporary file in {}", dir.display())]
    Stage {
        dir: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{} is a symbolic link to {target}; refusing to replace it", path.display())]
    DestinationIsSymlink { path: PathBuf, target: String },
    #[error("{} exists and is not a regular file", path.display())]
    DestinationNotAFile { path: PathBuf },
    #[error("cannot install {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// A file being written in the destination directory under a hidden temporary name.
/// Dropped without [`install`], it is removed.
pub struct Staged {
    file: NamedTempFile,
}

impl Staged {
    /// A new staged file in `dir`, named `.kverify-<name>-<pid>-XXXXXX.partial`. Staged
    /// files of `name` left by kverify processes that no longer run are removed first.
    pub fn new_in(dir: &Path, name: &str) -> Result<Staged, InstallError> {
        remove_abandoned(dir, name);
        let file = tempfile::Builder::new()
            .prefix(&format!(".kverify-{name}-{}-", std::process::id()))
            .suffix(".partial")
            .tempfile_in(dir)
            .map_err(|source| InstallError::Stage { dir: dir.to_path_buf(), source })?;
        Ok(Staged { file })
    }

    pub fn file_mut(&mut self) -> &mut std::fs::File {
        self.file.as_file_mut()
    }

    pub fn path(&self) -> &Path {
        self.file.path()
    }
}

/// Removes `.kverify-<name>-<pid>-*.partial` files whose process is gone (killed
/// mid-download: no destructor ran). Best effort, and only where `/proc` says which
/// processes run, so a live download of this PID namespace is never touched (one of
/// another namespace would fail its rename, exit 3, and install nothing).
fn remove_abandoned(dir: &Path, name: &str) {
    let proc = Path::new("/proc");
    let prefix = format!(".kverify-{name}-");
    let (true, Ok(entries)) = (proc.join("self").exists(), std::fs::read_dir(dir)) else { return };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(rest) = file_name.to_str().and_then(|n| n.strip_prefix(&prefix)) else { continue };
        let pid = rest.split('-').next().unwrap_or_default();
        let dead = !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()) && !proc.join(pid).exists();
        if dead && rest.ends_with(".partial") && entry.file_type().is_ok_and(|t| t.is_file()) {
            tracing::debug!("removing {}, left by a kverify that no longer runs", entry.path().display());
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// How a signature stood when the artifact was verified.
#[derive(Clone, Debug)]
pub enum SignatureCheck {
    /// Verified, with what it established.
    Verified(SignatureEvidence),
    /// Not checked, and why that is acceptable under the policy (none published,
    /// `--insecure-skip-signature`, a lock pin).
    NotRequired(String),
}

/// Bytes that matched every expected digest and passed the signature policy. Only
/// [`Verified::check`] (and extraction from a verified archive) makes one, and only a
/// `Verified` can be installed.
pub struct Verified {
    staged: Staged,
    pub digests: Digests,
    pub signature: SignatureCheck,
}

/// What did not match.
#[derive(Debug)]
pub struct Rejected {
    pub mismatches: Vec<Mismatch>,
    /// An expected algorithm that was not computed (a bug, reported rather than passed).
    pub not_computed: Vec<String>,
}

impl Verified {
    /// Compares `digests` of `staged` with every expected digest. `expected` must not be
    /// empty: nothing verifies against no evidence.
    pub fn check(
        staged: Staged,
        digests: Digests,
        expected: &[&Expected],
        signature: SignatureCheck,
    ) -> Result<Verified, Rejected> {
        let mut rejected = Rejected { mismatches: Vec::new(), not_computed: Vec::new() };
        if expected.is_empty() {
            rejected.not_computed.push("no expected digest".into());
        }
        for e in expected {
            match digests.get(e.digest.algorithm()) {
                Some(computed) if *computed == e.digest => {}
                Some(computed) => rejected.mismatches.push(Mismatch {
                    expected: e.digest,
                    computed: *computed,
                    origin: e.origin.clone(),
                }),
                None => rejected.not_computed.push(e.origin.clone()),
            }
        }
        if rejected.mismatches.is_empty() && rejected.not_computed.is_empty() {
            Ok(Verified { staged, digests, signature })
        } else {
            Err(rejected)
        }
    }

    /// A file taken out of a verified archive: the archive's verification vouches for it.
    pub fn extracted(_archive: &Verified, staged: Staged, digests: Digests, signature: SignatureCheck) -> Verified {
        Verified { staged, digests, signature }
    }

    /// Fuzzing only (`cargo fuzz` builds with `--cfg fuzzing`): wraps bytes that were
    /// never verified, so the archive walker can be fed hostile archives. Normal builds
    /// do not have it: only [`Verified::check`] makes a `Verified`.
    #[cfg(fuzzing)]
    #[doc(hidden)]
    pub fn unverified_for_fuzzing(staged: Staged) -> Verified {
        let digests = Digests { sha256: None, sha512: None };
        Verified { staged, digests, signature: SignatureCheck::NotRequired("fuzzing".into()) }
    }

    pub fn path(&self) -> &Path {
        self.staged.path()
    }

    /// Reads the verified bytes back (archive extraction).
    pub fn reopen(&self) -> io::Result<std::fs::File> {
        self.staged.file.reopen()
    }
}

/// Checks that `dest` may be replaced: absent or a regular file, never a symbolic link
/// (writing through one could land anywhere).
pub fn check_destination(dest: &Path) -> Result<Option<std::fs::Metadata>, InstallError> {
    match std::fs::symlink_metadata(dest) {
        Ok(meta) if meta.file_type().is_symlink() => {
            let target = std::fs::read_link(dest).map(|t| t.display().to_string()).unwrap_or_default();
            Err(InstallError::DestinationIsSymlink { path: dest.to_path_buf(), target })
        }
        Ok(meta) if !meta.is_file() => Err(InstallError::DestinationNotAFile { path: dest.to_path_buf() }),
        Ok(meta) => Ok(Some(meta)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(InstallError::Write { path: dest.to_path_buf(), source }),
    }
}

/// Installs verified bytes at `dest` with `mode`: chmod, fsync, rename over `dest`,
/// fsync the directory. `dest` is replaced atomically: readers see the old file or the
/// new one, never a mix, and a crash leaves one of the two.
pub fn install(verified: Verified, dest: &Path, mode: u32) -> Result<(), InstallError> {
    let err = |source| InstallError::Write { path: dest.to_path_buf(), source };
    check_destination(dest)?;
    let file = verified.staged.file;
    file.as_file().set_permissions(Permissions::from_mode(mode)).map_err(err)?;
    file.as_file().sync_all().map_err(err)?;
    file.persist(dest).map_err(|e| err(e.error))?;
    if let Some(dir) = dest.parent() {
        let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
        std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(err)?;
    }
    Ok(())
}

/// Sets `mode` on an existing file that already holds the verified bytes.
pub fn set_mode(path: &Path, mode: u32) -> Result<(), InstallError> {
    std::fs::set_permissions(path, Permissions::from_mode(mode))
        .map_err(|source| InstallError::Write { path: path.to_path_buf(), source })
}
