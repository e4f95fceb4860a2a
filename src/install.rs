//! Staging downloads next to their destination, and installing only what verified:
//! `chmod`, `fsync`, `rename` over the destination, `fsync` the directory.

use std::fs::Permissions;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use crate::catalog::{Artifact, Extract};
use crate::digest::Digests;
use crate::expect::{judge, Expected, Policy, Verdict};
use crate::signature::SignatureCheck;

/// Why something could not be installed.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("{}: not a directory", path.display())]
    NotADirectory { path: PathBuf },
    #[error("--dest {}", path.display())]
    DestinationUnusable {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
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

impl InstallError {
    pub fn hint(&self) -> Option<String> {
        match self {
            InstallError::DestinationIsSymlink { .. } => {
                Some("remove the link, or give --dest the directory it points into".into())
            }
            _ => None,
        }
    }
}

/// A file being written in the destination directory under a hidden temporary name.
/// Dropped without [`install`], it is removed; so it is when kverify is told to stop
/// (see [`remove_staged_on_termination`]).
pub struct Staged {
    file: NamedTempFile,
    _registered: Registered,
}

impl Staged {
    /// A new staged file in `dir`, named `.kverify-<name>-<pid>-XXXXXX.partial`. Staged
    /// files of `name` left by kverify processes that no longer run are removed first.
    pub fn new_in(dir: &Path, name: &str) -> Result<Staged, InstallError> {
        remove_abandoned(dir, name);
        let prefix = format!(".kverify-{name}-{}-", std::process::id());
        let (file, registered) =
            staged_tempfile(dir, &prefix).map_err(|source| InstallError::Stage { dir: dir.to_path_buf(), source })?;
        Ok(Staged { file, _registered: registered })
    }

    /// A staged file in `dir` that is another name of the file at `source` (a hard
    /// link; same filesystem only): what is written to either is in both, and nothing is
    /// copied. The download cache's partial download is staged this way.
    pub fn link_to(dir: &Path, name: &str, source: &Path) -> io::Result<Staged> {
        use std::fmt::Write as _;
        remove_abandoned(dir, name);
        let mut staged = STAGED.lock().map_err(|_| io::Error::other("a thread panicked"))?;
        let Some(paths) = staged.as_mut() else {
            return Err(io::Error::new(io::ErrorKind::Interrupted, "kverify is stopping"));
        };
        let mut attempt = 0u32;
        let path = loop {
            let mut random = String::new();
            for b in rand_bytes(attempt) {
                let _ = write!(random, "{b:02x}");
            }
            let path = dir.join(format!(".kverify-{name}-{}-{random}.partial", std::process::id()));
            match std::fs::hard_link(source, &path) {
                Ok(()) => break path,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < 16 => attempt += 1,
                Err(e) => return Err(e),
            }
        };
        let file = std::fs::OpenOptions::new().read(true).write(true).open(&path);
        let file = match file {
            Ok(file) => file,
            Err(e) => {
                let _ = std::fs::remove_file(&path);
                return Err(e);
            }
        };
        let temp = match tempfile::TempPath::try_from_path(&path) {
            Ok(temp) => temp,
            Err(e) => {
                let _ = std::fs::remove_file(&path);
                return Err(e);
            }
        };
        paths.push(path.clone());
        Ok(Staged { file: NamedTempFile::from_parts(file, temp), _registered: Registered(path) })
    }

    pub fn file_mut(&mut self) -> &mut std::fs::File {
        self.file.as_file_mut()
    }

    pub fn path(&self) -> &Path {
        self.file.path()
    }
}

/// Six bytes for a name nobody guesses in advance: the clock and the attempt, hashed.
fn rand_bytes(attempt: u32) -> [u8; 6] {
    use sha2::Digest as _;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let seed = format!("{}-{}-{attempt}", now.as_nanos(), std::process::id());
    let hash = sha2::Sha256::digest(seed.as_bytes());
    let mut out = [0u8; 6];
    out.copy_from_slice(&hash[..6]);
    out
}

/// The staged files of this process (`None` once it was told to stop: no more are made).
static STAGED: std::sync::Mutex<Option<Vec<PathBuf>>> = std::sync::Mutex::new(Some(Vec::new()));

/// A staged file's place in [`STAGED`], given up when it is installed or removed.
struct Registered(PathBuf);

impl Drop for Registered {
    fn drop(&mut self) {
        if let Ok(mut staged) = STAGED.lock() {
            if let Some(paths) = staged.as_mut() {
                paths.retain(|p| *p != self.0);
            }
        }
    }
}

/// A temporary file `<prefix>XXXXXX.partial` in `dir`, registered for removal on a
/// signal. Made under the registry's lock, so a signal never misses one.
fn staged_tempfile(dir: &Path, prefix: &str) -> io::Result<(NamedTempFile, Registered)> {
    let mut staged = STAGED.lock().map_err(|_| io::Error::other("a thread panicked"))?;
    let Some(paths) = staged.as_mut() else {
        return Err(io::Error::new(io::ErrorKind::Interrupted, "kverify is stopping"));
    };
    let file = tempfile::Builder::new().prefix(prefix).suffix(".partial").tempfile_in(dir)?;
    paths.push(file.path().to_path_buf());
    let registered = Registered(file.path().to_path_buf());
    Ok((file, registered))
}

/// On SIGTERM, SIGINT or SIGHUP, removes this process's staged files (a stopped run
/// leaves the destination as it was), then ends the process as that signal would have
/// (exit status 128 + the signal's number to a shell). The download cache's partial
/// downloads are left as they are: the next run resumes them. The signals are taken on a
/// thread of their own (signal-hook's self-pipe): nothing runs in a signal handler.
pub fn remove_staged_on_termination() {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGTERM, SIGINT, SIGHUP]) else { return };
    let spawned = std::thread::Builder::new().name("signals".into()).spawn(move || {
        if let Some(signal) = signals.forever().next() {
            let paths = STAGED.lock().map(|mut s| s.take()).unwrap_or_default().unwrap_or_default();
            for path in paths {
                let _ = std::fs::remove_file(path);
            }
            let _ = signal_hook::low_level::emulate_default_handler(signal);
            std::process::exit(128 + signal);
        }
    });
    if let Err(e) = spawned {
        tracing::debug!("no thread for signals: {e}");
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

/// Bytes that matched every expected digest and passed the signature policy. Only
/// [`Verified::check`] (and extraction from a verified archive) makes one, and only a
/// `Verified` can be installed.
pub struct Verified {
    staged: Staged,
    pub digests: Digests,
    pub signature: SignatureCheck,
    /// The bytes came from the download cache (hashed again and judged like a
    /// download), not over the network.
    pub from_cache: bool,
}

impl Verified {
    /// Judges `digests` of `staged` against every expected digest: all must match, and
    /// `expected` must not be empty (nothing verifies against no evidence). The verdict
    /// comes back when they do not.
    pub fn check(
        staged: Staged,
        digests: Digests,
        expected: &[&Expected],
        signature: SignatureCheck,
    ) -> Result<Verified, Verdict<'static>> {
        let verdict = judge(expected, &digests, Policy::All);
        if verdict.is_ok() {
            Ok(Verified { staged, digests, signature, from_cache: false })
        } else {
            let mut refused =
                Verdict { mismatches: verdict.mismatches, not_computed: verdict.not_computed, ..Verdict::default() };
            if expected.is_empty() {
                refused.not_computed.push("no expected digest".into());
            }
            Err(refused)
        }
    }

    /// A file taken out of a verified archive: the archive's verification vouches for it.
    pub fn extracted(_archive: &Verified, staged: Staged, digests: Digests, signature: SignatureCheck) -> Verified {
        Verified { staged, digests, signature, from_cache: false }
    }

    /// Fuzzing only (`cargo fuzz` builds with `--cfg fuzzing`): wraps bytes that were
    /// never verified, so the archive walker can be fed hostile archives. Normal builds
    /// do not have it: only [`Verified::check`] makes a `Verified`.
    #[cfg(fuzzing)]
    #[doc(hidden)]
    pub fn unverified_for_fuzzing(staged: Staged) -> Verified {
        let digests = Digests { sha256: None, sha512: None };
        Verified { staged, digests, signature: SignatureCheck::NotRequired("fuzzing".into()), from_cache: false }
    }

    pub fn path(&self) -> &Path {
        self.staged.path()
    }

    /// Reads the verified bytes back (archive extraction).
    pub fn reopen(&self) -> io::Result<std::fs::File> {
        self.staged.file.reopen()
    }
}

/// The directory a fetch installs into, and the names an artifact takes in it.
pub struct Destination {
    dir: PathBuf,
}

/// How an artifact lands in a [`Destination`].
pub enum Placement<'a> {
    /// One file: a binary under its install name, or a verified archive kept whole.
    File { path: PathBuf, mode: u32 },
    /// The binaries taken out of a verified archive, each under its own name.
    Extract { layout: &'a Extract, mode: u32 },
}

impl Placement<'_> {
    /// The names this placement installs, when known before the download: `None` for
    /// every executable of an archive's directory, known once extracted.
    pub fn names(&self) -> Option<Vec<String>> {
        match self {
            Placement::File { path, .. } => Some(vec![path.file_name()?.to_string_lossy().into_owned()]),
            Placement::Extract { layout: Extract::Binaries(paths), .. } => {
                Some(paths.iter().map(|p| p.rsplit('/').next().unwrap_or(p).to_string()).collect())
            }
            Placement::Extract { layout: Extract::Directory(_), .. } => None,
        }
    }
}

impl Destination {
    /// `dir`, which must be a directory (it may be a link to one).
    pub fn open(dir: PathBuf) -> Result<Destination, InstallError> {
        match std::fs::metadata(&dir) {
            Ok(m) if m.is_dir() => Ok(Destination { dir }),
            Ok(_) => Err(InstallError::NotADirectory { path: dir }),
            Err(source) => Err(InstallError::DestinationUnusable { path: dir, source }),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where and how `artifact` installs here. A kept archive is data (0644); binaries
    /// get the catalog's mode.
    pub fn placement<'a>(&self, artifact: &'a Artifact, keep_archive: bool) -> Placement<'a> {
        match (&artifact.extract, keep_archive) {
            (Some(layout), false) => Placement::Extract { layout, mode: artifact.mode },
            (Some(_), true) => Placement::File { path: self.dir.join(&artifact.file_name), mode: 0o644 },
            (None, _) => Placement::File { path: self.dir.join(&artifact.install_name), mode: artifact.mode },
        }
    }

    /// Checks, before any download, every name the placement will replace that is known
    /// now: the file, or the binaries an archive names (a directory's are known only
    /// once extracted).
    pub fn check(&self, placement: &Placement<'_>) -> Result<(), InstallError> {
        match placement {
            Placement::File { path, .. } => check_destination(path),
            Placement::Extract { layout: Extract::Binaries(paths), .. } => {
                for p in paths {
                    check_destination(&self.dir.join(p.rsplit('/').next().unwrap_or(p)))?;
                }
                Ok(())
            }
            Placement::Extract { .. } => Ok(()),
        }
    }

    /// Installs the binaries of an archive, all or nothing as far as kverify can check
    /// beforehand: every name is checked before the first is replaced.
    pub fn install_all(&self, binaries: Vec<(String, Verified)>, mode: u32) -> Result<Vec<String>, InstallError> {
        for (name, _) in &binaries {
            check_destination(&self.dir.join(name))?;
        }
        let mut names = Vec::new();
        for (name, verified) in binaries {
            install(verified, &self.dir.join(&name), mode)?;
            names.push(name);
        }
        Ok(names)
    }
}

/// Checks that `dest` may be replaced: absent or a regular file, never a symbolic link
/// (writing through one could land anywhere).
pub fn check_destination(dest: &Path) -> Result<(), InstallError> {
    match std::fs::symlink_metadata(dest) {
        Ok(meta) if meta.file_type().is_symlink() => {
            let target = std::fs::read_link(dest).map(|t| t.display().to_string()).unwrap_or_default();
            Err(InstallError::DestinationIsSymlink { path: dest.to_path_buf(), target })
        }
        Ok(meta) if !meta.is_file() => Err(InstallError::DestinationNotAFile { path: dest.to_path_buf() }),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(InstallError::Write { path: dest.to_path_buf(), source }),
    }
}

/// A file already at an install path, opened once, without following a link and
/// without blocking: what is hashed and then given its mode is this one file, even if
/// the name is swapped (for a link to `/etc/shadow`, say) in between.
pub struct Existing {
    file: std::fs::File,
    len: u64,
    path: PathBuf,
}

impl Existing {
    /// The regular file at `path`, or `None` when there is none. A link or anything but
    /// a regular file is refused, as [`check_destination`] words it.
    pub fn open(path: &Path) -> Result<Option<Existing>, InstallError> {
        match crate::regular_file::open(path, crate::regular_file::Links::Refuse) {
            Ok((file, meta)) => Ok(Some(Existing { file, len: meta.len(), path: path.to_path_buf() })),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(source) => {
                check_destination(path)?;
                Err(InstallError::Write { path: path.to_path_buf(), source })
            }
        }
    }

    /// The open file, to hash, and its length when opened.
    pub fn contents(&self) -> (&std::fs::File, u64) {
        (&self.file, self.len)
    }

    /// Gives the file `mode`, through the descriptor hashed (`fchmod`), never the name.
    pub fn set_mode(&self, mode: u32) -> Result<(), InstallError> {
        self.file
            .set_permissions(Permissions::from_mode(mode))
            .map_err(|source| InstallError::Write { path: self.path.clone(), source })
    }
}

/// Installs verified bytes at `dest` with `mode`: chmod, fsync, rename over `dest`,
/// fsync the directory. `dest` is replaced atomically: readers see the old file or the
/// new one, never a mix, and a crash leaves one of the two.
pub fn install(verified: Verified, dest: &Path, mode: u32) -> Result<(), InstallError> {
    check_destination(dest)?;
    let Staged { file, _registered } = verified.staged;
    persist(file, dest, mode).map_err(|source| InstallError::Write { path: dest.to_path_buf(), source })
}

/// Writes `bytes` to `path` atomically with `mode` (a lock, a mirrored checksum file):
/// the same durability as an install.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let (mut tmp, _registered) = staged_tempfile(dir, ".kverify-")?;
    std::io::Write::write_all(&mut tmp, bytes)?;
    persist(tmp, path, mode)
}

/// The one durability policy for what kverify writes: mode, fsync the file, rename it
/// over `dest`, fsync the directory.
fn persist(file: NamedTempFile, dest: &Path, mode: u32) -> io::Result<()> {
    file.as_file().set_permissions(Permissions::from_mode(mode))?;
    file.as_file().sync_all()?;
    file.persist(dest).map_err(|e| e.error)?;
    let dir = dest.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::File::open(dir)?.sync_all()
}
