//! The download cache: artifacts that verified, kept under their SHA-256, and the
//! partial downloads the next run resumes.
//!
//! ```text
//! $KVERIFY_CACHE_DIR/        mode 0700, owned by the user running kverify (else not used)
//!   sha256/<hex>             an artifact that verified, named by the SHA-256 of its bytes (0400)
//!   source/<hex of URL>      the SHA-256 (hex) of the entry last verified from that URL
//!   partial/<hex>/           an interrupted download, named by the SHA-256 it must have
//!     data                   the bytes received so far, a prefix of the file
//!     state.json             the SHA-256 of the URL it came from, the server's validator
//!                            (ETag or Last-Modified), the length it announced
//!   trust/                   the trust cache (src/trust): `cache clean` leaves it alone
//! ```
//!
//! Nothing here is evidence. An entry is found by a digest that the checksums, the
//! signature or the lock supplied, and its bytes are hashed again on their way into the
//! destination and judged like downloaded bytes: an entry that does not match is removed
//! and the artifact downloaded. An entry answers only for the URL (as located, through
//! any mirror) it was downloaded from: the cache spares a repeat download, it never
//! stands in for another source, so a mirror that now serves other bytes is still caught
//! and reported rather than masked by a copy from elsewhere. A partial download is hashed again too (the part on disk
//! first) before anything is installed.
//!
//! Two processes: a partial is `flock`ed by the process that downloads into it; another
//! process fetching the same artifact meanwhile downloads without it (and stores no
//! entry). Entries appear by `rename`, whole.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, FileExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::digest::{copy_hashing_ahead, AlgorithmSet, CopyError, Hashed};
use crate::regular_file::{self, Links};
use crate::status::{Classified, ExitStatus};
use crate::transport::{Resume, Sink, Start, Validator};

const ENTRIES: &str = "sha256";
const PARTIALS: &str = "partial";
const SOURCES: &str = "source";
const DATA: &str = "data";
const STATE: &str = "state.json";
/// Entries are read-only: nothing is meant to change them in place.
const ENTRY_MODE: u32 = 0o400;
/// A state file is a few hundred bytes; anything larger is not one.
const MAX_STATE: u64 = 64 * 1024;

/// Why the cache could not be used or cleaned.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("no directory for the download cache: KVERIFY_CACHE_DIR, XDG_CACHE_HOME and HOME are unset")]
    NoDir,
    #[error("download cache {}", path.display())]
    Dir {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("download cache {} is owned by uid {owner}, not by this user (uid {me})", path.display())]
    NotOwned { path: PathBuf, owner: u32, me: u32 },
    #[error("download cache {} can be written by others (mode {mode:04o})", path.display())]
    Writable { path: PathBuf, mode: u32 },
    #[error("download cache {}: {} is {}, not a directory", dir.display(), path.display(), kind)]
    NotADirectory { dir: PathBuf, path: PathBuf, kind: &'static str },
}

impl Classified for CacheError {
    fn exit_status(&self) -> ExitStatus {
        ExitStatus::Io
    }

    fn hint(&self) -> Option<String> {
        match self {
            CacheError::NoDir => Some("set KVERIFY_CACHE_DIR to a directory for it".into()),
            CacheError::NotOwned { .. } | CacheError::Writable { .. } | CacheError::NotADirectory { .. } => Some(
                "point KVERIFY_CACHE_DIR at a directory of this user's own that only it can write to, or a path \
                 that does not exist yet (kverify creates it, mode 0700)"
                    .into(),
            ),
            CacheError::Dir { .. } => None,
        }
    }
}

/// The cache directory: `KVERIFY_CACHE_DIR`; else `$XDG_CACHE_HOME/kverify`; else
/// `$HOME/.cache/kverify`. Empty variables count as unset.
pub fn default_dir() -> Option<PathBuf> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    var("KVERIFY_CACHE_DIR")
        .or_else(|| var("XDG_CACHE_HOME").map(|d| d.join("kverify")))
        .or_else(|| var("HOME").map(|d| d.join(".cache").join("kverify")))
}

/// An open cache directory.
#[derive(Debug)]
pub struct Cache {
    dir: PathBuf,
}

impl Cache {
    /// Opens `dir`, creating it (mode 0700) when missing. A directory owned by another
    /// user, or that others can write to, is refused.
    pub fn open(dir: &Path) -> Result<Cache, CacheError> {
        let err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| CacheError::Dir { path, source }
        };
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(err(dir))?;
        let meta = std::fs::metadata(dir).map_err(err(dir))?;
        let me = rustix::process::geteuid().as_raw();
        if meta.uid() != me {
            return Err(CacheError::NotOwned { path: dir.to_path_buf(), owner: meta.uid(), me });
        }
        // Never chmod a directory that was there before (KVERIFY_CACHE_DIR=/var/cache must
        // not lock others out of it); one that others can write to is not used. Entries
        // and partials live in 0700 subdirectories of kverify's own either way.
        if meta.mode() & 0o022 != 0 {
            return Err(CacheError::Writable { path: dir.to_path_buf(), mode: meta.mode() & 0o7777 });
        }
        for sub in [ENTRIES, PARTIALS, SOURCES] {
            let path = dir.join(sub);
            match std::fs::DirBuilder::new().mode(0o700).create(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(err(&path)(e)),
            }
            // A link planted in place of a subdirectory would send entries elsewhere.
            let meta = std::fs::symlink_metadata(&path).map_err(err(&path))?;
            if !meta.is_dir() {
                return Err(CacheError::NotADirectory {
                    dir: dir.to_path_buf(),
                    path,
                    kind: regular_file::kind(&meta),
                });
            }
            if meta.uid() != me {
                return Err(CacheError::NotOwned { path, owner: meta.uid(), me });
            }
        }
        Ok(Cache { dir: dir.to_path_buf() })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn entry_path(&self, sha256: &[u8; 32]) -> PathBuf {
        self.dir.join(ENTRIES).join(hex::encode(sha256))
    }

    fn source_path(&self, url: &str) -> PathBuf {
        self.dir.join(SOURCES).join(url_key(url))
    }

    /// Whether the entry under `sha256` was last verified from `url`.
    fn came_from(&self, sha256: &[u8; 32], url: &str) -> bool {
        let Ok((file, meta)) = regular_file::open(&self.source_path(url), Links::Refuse) else { return false };
        let mut text = String::new();
        meta.len() <= 128 && file.take(128).read_to_string(&mut text).is_ok() && text.trim() == hex::encode(sha256)
    }

    /// Copies the entry stored under `sha256`, downloaded from `url` (as located), into
    /// `dest` (a staged file), hashing with `set` on the way: a reflink where the
    /// filesystem can share the blocks (the copy is then hashed), else a copy through the
    /// one byte pipeline, which hashes as it copies. What is hashed is what was written
    /// to `dest`. `None`: no usable entry from that URL (one that is a link or not a
    /// regular file is removed).
    pub fn stage_entry(
        &self,
        sha256: &[u8; 32],
        url: &str,
        dest: &mut File,
        set: AlgorithmSet,
    ) -> Option<io::Result<Hashed>> {
        if !self.came_from(sha256, url) {
            return None;
        }
        let path = self.entry_path(sha256);
        let (mut entry, meta) = match regular_file::open(&path, Links::Refuse) {
            Ok(opened) => opened,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return None,
            Err(e) => {
                tracing::warn!("cache entry {}: {e}; removing it", path.display());
                let _ = std::fs::remove_file(&path);
                return None;
            }
        };
        // The entry was used: `cache clean --older-than` counts from here.
        let _ = entry.set_modified(SystemTime::now());
        let staged = (|| {
            dest.set_len(0)?;
            dest.rewind()?;
            let into_io = |e| match e {
                CopyError::Read { source, .. } | CopyError::Write(source) => source,
                CopyError::Limit { .. } => io::Error::other("over the size limit"),
            };
            if rustix::fs::ioctl_ficlone(&*dest, &entry).is_ok() {
                tracing::debug!("{}: reflinked into the destination", path.display());
                dest.rewind()?;
                let copy = dest.try_clone()?;
                return copy_hashing_ahead(copy, &mut io::sink(), set, Some(meta.len()), u64::MAX, |_| {})
                    .map_err(into_io);
            }
            copy_hashing_ahead(&mut entry, dest, set, Some(meta.len()), u64::MAX, |_| {}).map_err(into_io)
        })();
        Some(staged)
    }

    /// Removes the entry stored under `sha256` (its bytes did not match).
    pub fn remove_entry(&self, sha256: &[u8; 32]) {
        let path = self.entry_path(sha256);
        match std::fs::remove_file(&path) {
            Ok(()) => tracing::warn!("cache entry {} did not hold the bytes named by it: removed", path.display()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!("cannot remove the bad cache entry {}: {e}", path.display()),
        }
    }

    /// The partial download of the artifact whose SHA-256 is `sha256`, fetched from
    /// `url` (as located: a mirror's URL resumes only from that mirror), locked for this
    /// process. `None` when another process holds it (this one then downloads without
    /// it) or it cannot be made.
    pub fn partial(&self, sha256: &[u8; 32], url: &str) -> Option<Partial> {
        let dir = self.dir.join(PARTIALS).join(hex::encode(sha256));
        match Partial::open(dir.clone(), url_key(url)) {
            Ok(Some(partial)) => Some(partial),
            Ok(None) => {
                tracing::info!("{} is in use by another kverify: downloading without it", dir.display());
                None
            }
            Err(e) => {
                tracing::warn!("cannot use the partial download {}: {e}", dir.display());
                None
            }
        }
    }

    /// Removes entries and partial downloads (those not in use), or only those unused for
    /// `older_than`. The trust cache is left alone.
    pub fn clean(&self, older_than: Option<Duration>) -> Result<Cleaned, CacheError> {
        let cutoff = older_than.map(|d| SystemTime::now().checked_sub(d).unwrap_or(SystemTime::UNIX_EPOCH));
        let old = |meta: &std::fs::Metadata| match cutoff {
            None => true,
            Some(cutoff) => meta.modified().map_or(true, |m| m <= cutoff),
        };
        let mut cleaned = Cleaned::default();
        let entries = self.dir.join(ENTRIES);
        for item in read_dir(&entries)? {
            let Ok(meta) = item.path().symlink_metadata() else { continue };
            if meta.is_dir() || !old(&meta) {
                continue;
            }
            if std::fs::remove_file(item.path()).is_ok() {
                cleaned.entries += 1;
                cleaned.bytes += meta.len();
            }
        }
        for item in read_dir(&self.dir.join(PARTIALS))? {
            let path = item.path();
            let Ok(meta) = path.symlink_metadata() else { continue };
            if !meta.is_dir() {
                let _ = std::fs::remove_file(&path);
                continue;
            }
            // A partial another kverify is downloading into is left to it.
            let Ok(Some(partial)) = Partial::open(path.clone(), String::new()) else { continue };
            let data = partial.data.metadata().ok();
            if data.as_ref().is_some_and(|d| !old(d)) {
                continue;
            }
            cleaned.partials += 1;
            cleaned.bytes += data.map_or(0, |d| d.len());
            partial.remove();
        }
        // A source record whose entry is gone says nothing.
        for item in read_dir(&self.dir.join(SOURCES))? {
            let entry = std::fs::read_to_string(item.path()).ok().map(|hex| entries.join(hex.trim()));
            if cutoff.is_none() || !entry.is_some_and(|e| e.is_file()) {
                let _ = std::fs::remove_file(item.path());
            }
        }
        Ok(cleaned)
    }
}

fn read_dir(dir: &Path) -> Result<Vec<std::fs::DirEntry>, CacheError> {
    match std::fs::read_dir(dir) {
        Ok(items) => Ok(items.flatten().collect()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(source) => Err(CacheError::Dir { path: dir.to_path_buf(), source }),
    }
}

/// What `clean` removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Cleaned {
    pub entries: u64,
    pub partials: u64,
    pub bytes: u64,
}

/// The URL a partial came from, as its state keeps it: hashed, so that a mirror's
/// credentials are never written to disk.
fn url_key(url: &str) -> String {
    hex::encode(Sha256::digest(url.as_bytes()))
}

/// What a partial download's bytes are, for resuming them.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct PartialState {
    /// SHA-256 of the URL the bytes came from.
    url_sha256: String,
    validator: Option<Validator>,
    /// The whole file's length, as announced.
    total: Option<u64>,
}

/// A partial download, locked for this process (the lock is on its directory and
/// goes with the process, even a killed one).
pub struct Partial {
    dir: PathBuf,
    _lock: File,
    data: File,
    state: Option<PartialState>,
    url: String,
}

impl Partial {
    /// Opens (or makes) the partial at `dir`; `Ok(None)` when another process holds it.
    fn open(dir: PathBuf, url: String) -> io::Result<Option<Partial>> {
        use rustix::fs::{flock, FlockOperation};
        loop {
            match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
            let lock = File::open(&dir)?;
            let meta = lock.metadata()?;
            if !meta.is_dir() {
                return Err(io::Error::other("not a directory"));
            }
            if flock(&lock, FlockOperation::NonBlockingLockExclusive).is_err() {
                return Ok(None);
            }
            // Removed (by the process that held it) between our open and our lock: that
            // directory is gone; make or take the new one.
            match std::fs::symlink_metadata(&dir) {
                Ok(now) if now.ino() == meta.ino() && now.dev() == meta.dev() => {}
                _ => continue,
            }
            let data_path = dir.join(DATA);
            let data = match std::fs::symlink_metadata(&data_path) {
                Ok(m) if !m.is_file() => return Err(io::Error::other("its data is not a regular file")),
                // O_NOFOLLOW: a link planted there must not redirect the writes.
                _ => OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create(true)
                    .truncate(false)
                    .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
                    .open(&data_path)?,
            };
            let state = read_state(&dir.join(STATE));
            return Ok(Some(Partial { dir, _lock: lock, data, state, url }));
        }
    }

    /// The file the bytes are written to: a staged file may be another name of it.
    pub fn data_path(&self) -> PathBuf {
        self.dir.join(DATA)
    }

    /// What is on disk to resume from: bytes of this URL, with a validator to ask for
    /// the same file.
    fn resume(&self) -> Option<Resume> {
        let state = self.state.as_ref()?;
        let have = self.data.metadata().ok()?.len();
        let fits = state.url_sha256 == self.url && have > 0 && state.total.is_none_or(|t| have < t);
        let validator = state.validator.clone()?;
        fits.then_some(Resume { have, validator, total: state.total })
    }

    /// Starts the data over for a response whose body is the whole file.
    fn restart(&mut self, validator: Option<Validator>, total: Option<u64>) -> io::Result<()> {
        self.data.set_len(0)?;
        self.data.rewind()?;
        let state = PartialState { url_sha256: self.url.clone(), validator, total };
        let json = serde_json::to_vec(&state).map_err(io::Error::other)?;
        crate::install::write_atomic(&self.dir.join(STATE), &json, 0o600)?;
        self.state = Some(state);
        Ok(())
    }

    /// Keeps the first `offset` bytes, to which the body will be appended.
    fn continue_at(&mut self, offset: u64, validator: Option<Validator>) -> io::Result<()> {
        self.data.set_len(offset)?;
        self.data.seek(SeekFrom::Start(offset))?;
        if let (Some(state), Some(v)) = (&mut self.state, validator) {
            if state.validator.as_ref() != Some(&v) {
                state.validator = Some(v);
                let json = serde_json::to_vec(state).map_err(io::Error::other)?;
                crate::install::write_atomic(&self.dir.join(STATE), &json, 0o600)?;
            }
        }
        Ok(())
    }

    /// Forgets what was received (it did not verify): the next attempt starts over.
    pub fn reset(&mut self) {
        self.state = None;
        let _ = std::fs::remove_file(self.dir.join(STATE));
        let _ = self.data.set_len(0);
    }

    /// The bytes verified as `sha256`: they become its entry, and the partial is gone.
    /// (When the staged file is another name of them, the install sets its mode.)
    fn publish(self, cache: &Cache, sha256: &[u8; 32]) -> io::Result<()> {
        if self.data.metadata()?.nlink() == 1 {
            self.data.set_permissions(std::fs::Permissions::from_mode(ENTRY_MODE))?;
        }
        std::fs::rename(self.dir.join(DATA), cache.entry_path(sha256))?;
        let source = cache.dir.join(SOURCES).join(&self.url);
        crate::install::write_atomic(&source, hex::encode(sha256).as_bytes(), 0o600)?;
        self.remove();
        Ok(())
    }

    /// Removes the partial (still holding its lock, so no other process is in it).
    fn remove(self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn read_state(path: &Path) -> Option<PartialState> {
    let (file, meta) = regular_file::open(path, Links::Refuse).ok()?;
    if meta.len() > MAX_STATE {
        return None;
    }
    serde_json::from_reader(io::BufReader::new(file)).ok()
}

/// A download that lands in a staged file in the destination and, as it arrives, in
/// the cache's partial download (which the next run resumes when this one is cut). When
/// the staged file is another name of the partial (a hard link, see [`Partial::data_path`]),
/// every byte is written once.
pub struct Download {
    /// The staged file (a second handle on it); `None` when it is the partial itself.
    staged: Option<File>,
    partial: Option<Partial>,
    /// Bytes of the file before the body of the current attempt: on disk already.
    offset: u64,
    /// Bytes written in the current attempt.
    pos: u64,
    resumed: bool,
}

impl Download {
    /// Into `staged`, and into `partial` when there is one.
    pub fn new(staged: File, partial: Option<Partial>) -> Download {
        Download { staged: Some(staged), partial, offset: 0, pos: 0, resumed: false }
    }

    /// Into `partial` alone, whose data file the staged file is another name of.
    pub fn linked(partial: Partial) -> Download {
        Download { staged: None, partial: Some(partial), offset: 0, pos: 0, resumed: false }
    }

    /// Some attempt continued bytes from an earlier run.
    pub fn resumed(&self) -> bool {
        self.resumed
    }

    /// The bytes verified as `sha256`: keep them as the cache's entry.
    pub fn keep(self, cache: &Cache, sha256: &[u8; 32]) {
        if let Some(partial) = self.partial {
            if let Err(e) = partial.publish(cache, sha256) {
                tracing::warn!("cannot keep {} in the download cache: {e}", hex::encode(sha256));
            }
        }
    }

    /// The bytes did not verify: nothing of them is kept. Returns the partial, reset, for
    /// a download from scratch.
    pub fn discard(self) -> Option<Partial> {
        let mut partial = self.partial?;
        partial.reset();
        Some(partial)
    }

    /// The download failed: what arrived stays for the next run when it can be resumed
    /// (the server gave a validator), else it is removed.
    pub fn interrupted(self) {
        if let Some(partial) = self.partial {
            if partial.resume().is_none() {
                partial.remove();
            }
        }
    }

    /// Writing to the cache failed: go on without it (unless it is the staged file too).
    fn drop_partial(&mut self, e: io::Error) -> io::Result<()> {
        if self.staged.is_none() {
            return Err(e);
        }
        if let Some(partial) = self.partial.take() {
            tracing::warn!("download cache {}: {e}; going on without it", partial.dir.display());
            partial.remove();
        }
        Ok(())
    }
}

impl Write for Download {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = match &mut self.staged {
            Some(staged) => staged.write(buf)?,
            None => buf.len(),
        };
        // Bytes before the offset are the partial's own, read back to be hashed.
        let skip = self.offset.saturating_sub(self.pos).min(n as u64) as usize;
        if let Some(partial) = &mut self.partial {
            if let Err(e) = partial.data.write_all(&buf[skip..n]) {
                self.drop_partial(e)?;
            }
        }
        self.pos += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.staged {
            Some(staged) => staged.flush(),
            None => Ok(()),
        }
    }
}

impl Sink for Download {
    fn resume(&mut self) -> Option<Resume> {
        self.partial.as_ref()?.resume()
    }

    fn begin(&mut self, start: &Start) -> io::Result<Box<dyn Read + Send>> {
        if let Some(staged) = &mut self.staged {
            staged.set_len(0)?;
            staged.rewind()?;
        }
        self.pos = 0;
        self.offset = start.offset;
        let Some(partial) = &mut self.partial else {
            return match start.offset {
                0 => Ok(Box::new(io::empty())),
                _ => Err(io::Error::other("a resumed response without the bytes before it")),
            };
        };
        if start.offset == 0 {
            if let Err(e) = partial.restart(start.validator.clone(), start.total) {
                self.drop_partial(e)?;
            }
            return Ok(Box::new(io::empty()));
        }
        partial.continue_at(start.offset, start.validator.clone())?;
        self.resumed = true;
        let data = partial.data.try_clone()?;
        Ok(Box::new(ReadAt { file: data, pos: 0, end: start.offset }))
    }
}

/// The first bytes of a file, read by position (the file's own offset is left to the
/// writer appending to it).
struct ReadAt {
    file: File,
    pos: u64,
    end: u64,
}

impl Read for ReadAt {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = (self.end - self.pos).min(buf.len() as u64) as usize;
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..want], self.pos)?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the partial download shrank while read"));
        }
        self.pos += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partial_is_held_by_one_process_and_resumes_only_its_url() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(&dir.path().join("c")).unwrap();
        assert_eq!(std::fs::metadata(cache.dir()).unwrap().permissions().mode() & 0o777, 0o700);
        let sha = [7u8; 32];
        let mut p = cache.partial(&sha, "http://a/x").unwrap();
        assert!(cache.partial(&sha, "http://a/x").is_none(), "a second holder while the first holds it");
        assert!(p.resume().is_none(), "nothing received yet");
        p.restart(Some(Validator::Etag("\"v1\"".into())), Some(10)).unwrap();
        p.data.write_all(b"01234").unwrap();
        let want = Resume { have: 5, validator: Validator::Etag("\"v1\"".into()), total: Some(10) };
        assert_eq!(p.resume(), Some(want.clone()));
        drop(p);
        let again = cache.partial(&sha, "http://a/x").unwrap();
        assert_eq!(again.resume(), Some(want));
        drop(again);
        assert!(cache.partial(&sha, "http://mirror/x").unwrap().resume().is_none(), "another URL");
    }

    #[test]
    fn a_verified_partial_becomes_an_entry_and_a_planted_link_is_no_entry() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        let bytes = b"the artifact".to_vec();
        let sha: [u8; 32] = Sha256::digest(&bytes).into();
        let staged = tempfile::tempfile().unwrap();
        let mut d = Download::new(staged, cache.partial(&sha, "u"));
        d.begin(&Start { offset: 0, total: Some(12), validator: None }).unwrap();
        d.write_all(&bytes).unwrap();
        d.keep(&cache, &sha);
        assert!(!dir.path().join(PARTIALS).join(hex::encode(sha)).exists());
        let mut dest = tempfile::tempfile().unwrap();
        let (digests, n) = cache.stage_entry(&sha, "u", &mut dest, AlgorithmSet::BOTH).unwrap().unwrap();
        assert_eq!((digests.sha256_bytes(), n), (Some(&sha), 12));
        // An entry answers for the URL it came from, never for another source.
        assert!(cache.stage_entry(&sha, "elsewhere", &mut dest, AlgorithmSet::BOTH).is_none());

        let other = [9u8; 32];
        std::fs::write(cache.source_path("v"), hex::encode(other)).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", cache.entry_path(&other)).unwrap();
        assert!(cache.stage_entry(&other, "v", &mut dest, AlgorithmSet::BOTH).is_none());
        assert!(cache.entry_path(&other).symlink_metadata().is_err(), "the planted link is removed");
        assert!(Path::new("/etc/passwd").exists());
    }

    #[test]
    fn another_users_directory_or_a_planted_subdirectory_link_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/tmp", dir.path().join(ENTRIES)).unwrap();
        let e = Cache::open(dir.path()).unwrap_err();
        assert!(e.to_string().contains("not a directory"), "{e}");
        let shared = tempfile::tempdir().unwrap();
        std::fs::set_permissions(shared.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
        let e = Cache::open(shared.path()).unwrap_err();
        assert!(e.to_string().contains("can be written by others (mode 1777)"), "{e}");
        assert_eq!(std::fs::metadata(shared.path()).unwrap().permissions().mode() & 0o7777, 0o1777, "left as it was");
        if rustix::process::geteuid().is_root() {
            let theirs = tempfile::tempdir().unwrap();
            std::os::unix::fs::chown(theirs.path(), Some(65534), None).unwrap();
            let e = Cache::open(theirs.path()).unwrap_err();
            assert!(e.to_string().contains("owned by uid 65534"), "{e}");
        }
    }
}
