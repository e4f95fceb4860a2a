//! Opening a file kverify is about to read, safely: without blocking (a FIFO or a
//! device swapped in for a file must not hang a run or a DaemonSet pod forever),
//! optionally without following a symbolic link at the last component, and checked
//! to be a regular file on the descriptor itself, before the first byte is read, so
//! what was checked is what is read.

use std::fs::{File, Metadata, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use rustix::fs::OFlags;

/// Whether a symbolic link at the last component of the path is followed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Links {
    Follow,
    /// Refuse a link (`ELOOP`): the path itself must be the file.
    Refuse,
}

/// Opens `path` for reading: never blocks on a FIFO or device, refuses anything but a
/// regular file (`io::ErrorKind::InvalidInput`, "not a regular file: a FIFO"), and
/// returns the file, back in blocking mode, with its metadata from the descriptor.
pub fn open(path: &Path, links: Links) -> io::Result<(File, Metadata)> {
    let mut flags = OFlags::NONBLOCK | OFlags::NOCTTY;
    if links == Links::Refuse {
        flags |= OFlags::NOFOLLOW;
    }
    let file = OpenOptions::new().read(true).custom_flags(flags.bits() as i32).open(path)?;
    checked(file)
}

/// [`open`] of `rel`, a path below the directory `dir` with no symbolic link on it (one
/// already resolved), walked by the kernel in one step (`openat2` with
/// `RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH`): a directory on the way swapped for a link
/// since `rel` was resolved is refused (`ELOOP`), never followed. `dir` itself is opened
/// as named. Where `openat2` is missing (Linux before 5.6, or a seccomp profile that
/// refuses it), the path is opened as [`open`] does, refusing a link at its last
/// component only.
pub fn open_beneath(dir: &Path, rel: &Path) -> io::Result<(File, Metadata)> {
    use rustix::fs::{Mode, ResolveFlags};
    let base = rustix::fs::open(dir, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?;
    let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let resolve = ResolveFlags::NO_SYMLINKS | ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS;
    match rustix::fs::openat2(&base, rel, flags, Mode::empty(), resolve) {
        Ok(fd) => checked(File::from(fd)),
        Err(rustix::io::Errno::NOSYS | rustix::io::Errno::PERM) => open(&dir.join(rel), Links::Refuse),
        Err(e) => Err(e.into()),
    }
}

/// `file`, checked on its descriptor to be a regular file, back in blocking mode.
fn checked(file: File) -> io::Result<(File, Metadata)> {
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("not a regular file: {}", kind(&meta))));
    }
    // Regular files never block; clear the flag so reads behave as usual.
    let status = rustix::fs::fcntl_getfl(&file)?;
    rustix::fs::fcntl_setfl(&file, status - OFlags::NONBLOCK)?;
    Ok((file, meta))
}

/// What a non-regular file is, in words.
pub fn kind(meta: &Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() || t.is_block_device() {
        "a device"
    } else if t.is_symlink() {
        "a symbolic link"
    } else {
        "a regular file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_open_and_nothing_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, b"bytes").unwrap();
        let (mut f, meta) = open(&file, Links::Refuse).unwrap();
        assert_eq!(meta.len(), 5);
        let mut s = String::new();
        io::Read::read_to_string(&mut f, &mut s).unwrap();
        assert_eq!(s, "bytes");

        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        assert!(open(&link, Links::Refuse).is_err(), "a link is refused");
        assert!(open(&link, Links::Follow).is_ok());

        let fifo = dir.path().join("fifo");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let e = open(&fifo, Links::Follow).unwrap_err();
        assert_eq!((e.kind(), e.to_string()), (io::ErrorKind::InvalidInput, "not a regular file: a FIFO".into()));
        let e = open(dir.path(), Links::Follow).unwrap_err();
        assert_eq!(e.to_string(), "not a regular file: a directory");
        assert_eq!(
            open(Path::new("/dev/zero"), Links::Follow).unwrap_err().to_string(),
            "not a regular file: a device"
        );
    }
}
