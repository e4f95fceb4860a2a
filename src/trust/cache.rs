//! The trust cache on disk, and how an update replaces it without ever leaving it
//! half-written.
//!
//! ```text
//! $KVERIFY_TRUST_DIR/                 mode 0700
//!   .lock                             empty; flock(2)ed by an update, so two never interleave
//!   current -> tuf-XXXXXX             the state in effect: a relative symbolic link
//!   tuf-XXXXXX/                       one verified state, never written once `current` names it
//!     root_history/N.root.json        every root from the pinned one to the latest
//!     timestamp.json snapshot.json targets.json
//!     targets/trusted_root.json       the target
//!     state.json                      when, from where, --as-of what (informational, unsigned)
//! ```
//!
//! An update writes a complete new `tuf-XXXXXX/` beside the old one (created by
//! `tempfile`, so removed on any error), fsyncs it, points a new link at it and renames
//! that link over `current` (atomic), fsyncs the directory, and only then removes the
//! old state. Readers take no lock: they resolve `current` once and read that state;
//! if an update removed it meanwhile they resolve `current` again.

use std::collections::BTreeMap;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::TrustError;

/// Cached files by name relative to a state directory.
pub type Files = BTreeMap<String, Vec<u8>>;

pub const ROOT_HISTORY: &str = "root_history";
pub const TIMESTAMP: &str = "timestamp.json";
pub const SNAPSHOT: &str = "snapshot.json";
pub const TARGETS: &str = "targets.json";
pub const TARGET_FILE: &str = "targets/trusted_root.json";
const STATE: &str = "state.json";
const CURRENT: &str = "current";
const LOCK: &str = ".lock";
const STATE_PREFIX: &str = "tuf-";
const LINK_PREFIX: &str = ".current-";
/// No cached file is anywhere near this; a larger one is damage, not metadata.
const MAX_FILE: u64 = 16 * 1024 * 1024;

/// When, from where and `--as-of` what a state was written. Never signed and never a
/// basis for trust: `trust show` prints it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StateFile {
    pub updated_at: String,
    pub url: String,
    pub as_of: Option<String>,
}

/// The state `current` names.
pub struct State {
    pub dir: PathBuf,
    pub files: Files,
    pub state: Option<StateFile>,
}

/// Whether `name` is one of the files a state holds (what the updater writes and
/// nothing else: no delegated roles, no versioned copies).
pub fn is_kept(name: &str) -> bool {
    if [TIMESTAMP, SNAPSHOT, TARGETS, TARGET_FILE].contains(&name) {
        return true;
    }
    name.strip_prefix(ROOT_HISTORY)
        .and_then(|rest| rest.strip_prefix('/'))
        .and_then(|file| file.strip_suffix(".root.json"))
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

fn cache_err(path: &Path) -> impl FnOnce(io::Error) -> TrustError + '_ {
    move |source| TrustError::Cache { path: path.to_path_buf(), source }
}

/// The state in effect in `dir`, or `None` when there is none.
pub fn read_current(dir: &Path) -> Result<Option<State>, TrustError> {
    let link = dir.join(CURRENT);
    let mut tries = 0;
    loop {
        let target = match std::fs::read_link(&link) {
            Ok(target) => target,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(TrustError::Cache { path: link, source }),
        };
        // Only a state directory beside the link: a link elsewhere is not kverify's.
        let name = target.to_str().filter(|n| n.starts_with(STATE_PREFIX) && !n.contains('/'));
        let Some(name) = name else {
            return Err(TrustError::Cache {
                path: link,
                source: io::Error::new(io::ErrorKind::InvalidData, format!("points to {}", target.display())),
            });
        };
        let state_dir = dir.join(name);
        let state = read_state(&state_dir).map_err(|source| TrustError::Cache { path: state_dir, source })?;
        // An update may have swapped `current` and removed this state while it was
        // read: then read the new one. Files missing otherwise are for verification
        // to report (the cache is then ignored), not an I/O error.
        if tries < 3 && std::fs::read_link(&link).ok().as_ref() != Some(&target) {
            tries += 1;
            continue;
        }
        return Ok(Some(state));
    }
}

fn read_state(dir: &Path) -> io::Result<State> {
    let mut files = Files::new();
    let names = match std::fs::read_dir(dir.join(ROOT_HISTORY)) {
        Ok(entries) => entries
            .map(|e| e.map(|e| format!("{ROOT_HISTORY}/{}", e.file_name().to_string_lossy())))
            .collect::<io::Result<Vec<String>>>()?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e),
    };
    for name in names.iter().map(String::as_str).chain([TIMESTAMP, SNAPSHOT, TARGETS, TARGET_FILE]) {
        if is_kept(name) {
            if let Some(bytes) = read_capped(&dir.join(name))? {
                files.insert(name.to_string(), bytes);
            }
        }
    }
    let state = std::fs::read(dir.join(STATE)).ok().and_then(|b| serde_json::from_slice(&b).ok());
    Ok(State { dir: dir.to_path_buf(), files, state })
}

/// A cached file, `None` when it is not there.
fn read_capped(path: &Path) -> io::Result<Option<Vec<u8>>> {
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    if file.metadata()?.len() > MAX_FILE {
        return Err(io::Error::new(io::ErrorKind::InvalidData, format!("{} is over {MAX_FILE} bytes", path.display())));
    }
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut std::io::Read::take(file, MAX_FILE), &mut bytes)?;
    Ok(Some(bytes))
}

/// Creates `dir` (and parents) with mode 0700 when missing.
fn create_dir(dir: &Path) -> Result<(), TrustError> {
    use std::os::unix::fs::DirBuilderExt as _;
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(cache_err(dir))
}

/// The update lock of a trust directory, held until dropped.
pub struct Lock {
    _file: std::fs::File,
}

impl Lock {
    /// Creates the directory if needed and waits for the lock (another kverify may be
    /// updating the same cache).
    pub fn acquire(dir: &Path) -> Result<Lock, TrustError> {
        use rustix::fs::{flock, FlockOperation};
        create_dir(dir)?;
        let path = dir.join(LOCK);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(cache_err(&path))?;
        if flock(&file, FlockOperation::NonBlockingLockExclusive).is_err() {
            tracing::info!("waiting for another kverify updating {}", dir.display());
            flock(&file, FlockOperation::LockExclusive).map_err(|e| cache_err(&path)(e.into()))?;
        }
        Ok(Lock { _file: file })
    }
}

/// Writes `files` and `state` as a new state of `dir` and makes it current; the caller
/// holds the [`Lock`]. Before the rename of `current` nothing in use is touched; after
/// it, older states are removed.
pub fn install(dir: &Path, files: &Files, state: &StateFile) -> Result<(), TrustError> {
    let staged = tempfile::Builder::new().prefix(STATE_PREFIX).tempdir_in(dir).map_err(cache_err(dir))?;
    let root = staged.path();
    let mut dirs = vec![root.to_path_buf()];
    let state_json = serde_json::to_vec_pretty(state).map_err(|e| cache_err(root)(e.into()))?;
    for (name, bytes) in files.iter().filter(|(n, _)| is_kept(n)).chain([(&STATE.to_string(), &state_json)]) {
        let path = root.join(name);
        if let Some(parent) = path.parent().filter(|p| !dirs.iter().any(|d| d == p)) {
            create_dir(parent)?;
            dirs.push(parent.to_path_buf());
        }
        write_synced(&path, bytes).map_err(cache_err(&path))?;
    }
    for d in dirs.iter().rev() {
        sync_dir(d).map_err(cache_err(d))?;
    }

    let name = root.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let link = dir.join(format!("{LINK_PREFIX}{}", std::process::id()));
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(&name, &link).map_err(cache_err(&link))?;
    if let Err(source) = std::fs::rename(&link, dir.join(CURRENT)) {
        let _ = std::fs::remove_file(&link);
        return Err(TrustError::Cache { path: dir.join(CURRENT), source });
    }
    // From here on the new state is in effect: it must outlive the TempDir.
    let kept = staged.keep();
    sync_dir(dir).map_err(cache_err(dir))?;
    remove_stale(dir, &kept);
    Ok(())
}

/// Removes every state but `keep`, and links left by an update that was killed. Only
/// called under the lock, so none of them is another update's work in progress.
fn remove_stale(dir: &Path, keep: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        let result = if name.starts_with(STATE_PREFIX) && path != keep {
            std::fs::remove_dir_all(&path)
        } else if name.starts_with(LINK_PREFIX) {
            std::fs::remove_file(&path)
        } else {
            continue;
        };
        if let Err(e) = result {
            tracing::warn!("cannot remove the old trust state {}: {e}", path.display());
        }
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files() -> Files {
        [
            ("root_history/1.root.json", "r1"),
            ("root_history/2.root.json", "r2"),
            (TIMESTAMP, "t"),
            (SNAPSHOT, "s"),
            (TARGETS, "g"),
            (TARGET_FILE, "x"),
            ("3.snapshot.json", "not kept"),
        ]
        .into_iter()
        .map(|(n, b)| (n.to_string(), b.as_bytes().to_vec()))
        .collect()
    }

    fn state(url: &str) -> StateFile {
        StateFile { updated_at: "2026-11-30T00:00:00Z".into(), url: url.into(), as_of: None }
    }

    #[test]
    fn only_the_files_of_a_state_are_kept() {
        for name in ["root_history/12.root.json", TIMESTAMP, SNAPSHOT, TARGETS, TARGET_FILE] {
            assert!(is_kept(name), "{name}");
        }
        for name in ["root.json", "3.snapshot.json", "root_history/x.root.json", "root_history/.root.json", "npm.json"]
        {
            assert!(!is_kept(name), "{name}");
        }
    }

    #[test]
    fn install_swaps_in_a_new_state_and_removes_the_old_one() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("trust");
        assert!(read_current(&dir).unwrap().is_none());
        let _lock = Lock::acquire(&dir).unwrap();
        install(&dir, &files(), &state("http://a")).unwrap();
        let first = read_current(&dir).unwrap().unwrap();
        assert_eq!(first.files.len(), 6, "{:?}", first.files.keys());
        assert_eq!(first.state.unwrap().url, "http://a");

        let mut next = files();
        next.insert(TIMESTAMP.into(), b"t2".to_vec());
        install(&dir, &next, &state("http://b")).unwrap();
        let second = read_current(&dir).unwrap().unwrap();
        assert_eq!(second.files[TIMESTAMP], b"t2");
        assert_ne!(first.dir, second.dir);
        assert!(!first.dir.exists(), "the old state is removed");
        let mut names: Vec<String> =
            std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        assert_eq!(names.len(), 3, "{names:?}");
        assert_eq!(&names[..2], [".lock", "current"]);
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
    }

    #[test]
    fn a_link_out_of_the_directory_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/etc", tmp.path().join(CURRENT)).unwrap();
        assert!(matches!(read_current(tmp.path()), Err(TrustError::Cache { .. })));
    }
}
