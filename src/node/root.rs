//! A host's root directory seen from elsewhere (a container mounting it at `/host`):
//! paths resolved inside it the way the host's kernel would, links and all.

use std::collections::{BTreeSet, VecDeque};
use std::ffi::OsString;
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Component, Path, PathBuf};

use serde::Serialize;

use crate::regular_file;

/// Symbolic links one resolution follows before it calls them a loop (Linux's limit).
pub const MAX_LINKS: usize = 40;

/// The host's root directory: every path below is relative to it and shown as the host
/// sees it (`usr/bin/kubelet` is `/usr/bin/kubelet`).
#[derive(Clone, Debug)]
pub struct Root {
    dir: PathBuf,
}

/// How a path is shown: absolute, as on the host.
pub fn host_path(rel: &Path) -> String {
    format!("/{}", rel.display())
}

/// A symbolic link met while resolving a path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    /// Where the link is, inside the root.
    pub at: PathBuf,
    /// Its target, as written (an absolute target is read inside the root).
    pub target: PathBuf,
}

/// Why a path did not resolve to an object under the root.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("{} does not exist", host_path(at))]
    NotFound { at: PathBuf },
    #[error("{} is not a directory", host_path(at))]
    NotADirectory { at: PathBuf },
    #[error("more than {MAX_LINKS} symbolic links: a loop")]
    Loop,
    #[error("cannot read {}", host_path(at))]
    Io {
        at: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// Where a path leads, and everything along the way whose owner could have changed that.
#[derive(Debug)]
pub struct Resolution {
    pub requested: PathBuf,
    /// The object the path names, every link resolved, inside the root.
    pub result: Result<PathBuf, ResolveError>,
    pub links: Vec<Link>,
    /// The real directories the result depends on, root (`""`) first: the ancestors of
    /// the result (or of where resolution stopped) and of every link followed. Whoever
    /// can write to one of them can replace what the path names.
    pub directories: Vec<PathBuf>,
}

impl Resolution {
    /// Whether `dir` lies on the path as written, not only behind a link.
    pub fn is_lexical_ancestor(&self, dir: &Path) -> bool {
        let requested = normalize(&self.requested);
        requested.ancestors().any(|a| a == dir)
    }
}

/// What kind of object a path is, after links.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    File,
    Directory,
    Symlink,
    Other,
}

/// The owner and permission bits of one object (not following a link).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stat {
    pub uid: u32,
    pub gid: u32,
    /// Permission bits, sticky and set-id bits included (`0o1777`).
    pub mode: u32,
    pub kind: Kind,
}

/// Who besides root could change an object, least serious first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Exposure {
    /// A world-writable directory with the sticky bit: others cannot rename or remove
    /// root's files in it, but can add their own names, and the bit is one chmod away.
    StickyWorldWritable,
    GroupWritable,
    /// Its owner is not root: the owner can change its mode and contents at will.
    OwnerNotRoot,
    WorldWritable,
}

impl Exposure {
    /// The reason code for reports (`group-writable`).
    pub fn code(self) -> &'static str {
        match self {
            Exposure::StickyWorldWritable => "sticky-world-writable",
            Exposure::GroupWritable => "group-writable",
            Exposure::OwnerNotRoot => "owner-not-root",
            Exposure::WorldWritable => "world-writable",
        }
    }
}

impl Stat {
    pub fn of(meta: &std::fs::Metadata) -> Stat {
        let t = meta.file_type();
        let kind = if t.is_symlink() {
            Kind::Symlink
        } else if t.is_dir() {
            Kind::Directory
        } else if t.is_file() {
            Kind::File
        } else {
            debug_assert!(t.is_fifo() || t.is_socket() || t.is_block_device() || t.is_char_device());
            Kind::Other
        };
        Stat { uid: meta.uid(), gid: meta.gid(), mode: meta.mode() & 0o7777, kind }
    }

    /// The write bits that let someone other than its owner change it. The sticky bit
    /// only softens a directory's world-write bit.
    pub fn write_exposure(&self) -> Option<Exposure> {
        if self.mode & 0o002 != 0 {
            let sticky = self.kind == Kind::Directory && self.mode & 0o1000 != 0;
            Some(if sticky { Exposure::StickyWorldWritable } else { Exposure::WorldWritable })
        } else if self.mode & 0o020 != 0 {
            Some(Exposure::GroupWritable)
        } else {
            None
        }
    }

    /// Every way someone other than root could change it, most serious first.
    pub fn exposures(&self) -> Vec<Exposure> {
        let mut all: Vec<Exposure> = self.write_exposure().into_iter().collect();
        if self.uid != 0 {
            all.push(Exposure::OwnerNotRoot);
        }
        all.sort_by(|a, b| b.cmp(a));
        all
    }

    /// `0755`, `1777`.
    pub fn mode_text(&self) -> String {
        format!("{:04o}", self.mode)
    }
}

impl Root {
    /// The root directory; it must exist and be a directory.
    pub fn open(dir: &Path) -> io::Result<Root> {
        let meta = fs_err::metadata(dir)?;
        if !meta.is_dir() {
            return Err(io::Error::new(io::ErrorKind::NotADirectory, format!("{} is not a directory", dir.display())));
        }
        Ok(Root { dir: dir.to_path_buf() })
    }

    /// The path to open for `rel`, from where kverify runs. Only for resolved paths:
    /// opening an unresolved one would follow links outside the root.
    pub fn real(&self, rel: &Path) -> PathBuf {
        self.dir.join(rel)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The object at `rel` itself (a link is not followed), for a resolved `rel`.
    pub fn lstat(&self, rel: &Path) -> io::Result<Stat> {
        std::fs::symlink_metadata(self.real(rel)).map(|m| Stat::of(&m))
    }

    /// Resolves `rel` inside the root like the host's kernel would: `..` stops at the
    /// root, and an absolute link target starts again from it.
    pub fn resolve(&self, rel: &Path) -> Resolution {
        let mut links = Vec::new();
        let mut current = PathBuf::new();
        let result = self.walk(rel, &mut current, &mut links);
        let mut directories = BTreeSet::new();
        let stopped_in = match &result {
            Ok(path) => path.parent().map(Path::to_path_buf).unwrap_or_default(),
            Err(_) => current.clone(),
        };
        let mut add_ancestors = |p: &Path| {
            for a in p.ancestors() {
                directories.insert(a.to_path_buf());
            }
        };
        add_ancestors(&stopped_in);
        for link in &links {
            add_ancestors(link.at.parent().unwrap_or(Path::new("")));
        }
        // BTreeSet order puts "" first, then each ancestor before what it holds.
        Resolution { requested: rel.to_path_buf(), result, links, directories: directories.into_iter().collect() }
    }

    fn walk(&self, rel: &Path, current: &mut PathBuf, links: &mut Vec<Link>) -> Result<PathBuf, ResolveError> {
        let mut pending: VecDeque<OsString> = components(rel).into();
        while let Some(name) = pending.pop_front() {
            if name == ".." {
                current.pop();
                continue;
            }
            let next = current.join(&name);
            let meta = match std::fs::symlink_metadata(self.real(&next)) {
                Ok(meta) => meta,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(ResolveError::NotFound { at: next }),
                Err(source) => return Err(ResolveError::Io { at: next, source }),
            };
            if meta.file_type().is_symlink() {
                if links.len() >= MAX_LINKS {
                    return Err(ResolveError::Loop);
                }
                let target = std::fs::read_link(self.real(&next))
                    .map_err(|source| ResolveError::Io { at: next.clone(), source })?;
                if target.is_absolute() {
                    current.clear();
                }
                for c in components(&target).into_iter().rev() {
                    pending.push_front(c);
                }
                links.push(Link { at: next, target });
                continue;
            }
            if !pending.is_empty() && !meta.is_dir() {
                return Err(ResolveError::NotADirectory { at: next });
            }
            *current = next;
        }
        Ok(current.clone())
    }

    /// Reads a small file (a systemd unit, `/etc/hostname`) at `rel`, resolved inside the
    /// root: see [`Root::read_resolved`].
    pub fn read_small(&self, rel: &Path, cap: u64) -> Result<Vec<u8>, ReadError> {
        let resolved = self.resolve(rel).result.map_err(|e| match e {
            ResolveError::NotFound { .. } => ReadError::NotFound,
            other => ReadError::Resolve(other),
        })?;
        self.read_resolved(&resolved, cap)
    }

    /// Reads the file at `resolved` (a path [`Root::resolve`] returned), as bytes: opened
    /// without following a link and without blocking, refused unless it is a regular
    /// file, and never more than `cap` bytes (one more is a [`ReadError::TooLarge`]).
    pub fn read_resolved(&self, resolved: &Path, cap: u64) -> Result<Vec<u8>, ReadError> {
        let (file, meta) = self.open_file(resolved)?;
        let mut bytes = Vec::with_capacity(meta.len().min(cap + 1) as usize);
        file.take(cap + 1).read_to_end(&mut bytes).map_err(ReadError::Io)?;
        if bytes.len() as u64 > cap {
            return Err(ReadError::TooLarge { cap });
        }
        Ok(bytes)
    }

    /// Opens the regular file at `resolved` for reading, the one way node audits open
    /// what they read ([`regular_file::open_beneath`]): a FIFO, device or socket, or a
    /// link swapped in since `resolved` was found, at the file or for a directory on its
    /// way, is refused before the first read, and nothing blocks.
    pub fn open_file(&self, resolved: &Path) -> Result<(std::fs::File, std::fs::Metadata), ReadError> {
        let real = self.real(resolved);
        regular_file::open_beneath(&self.dir, resolved).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => ReadError::NotFound,
            io::ErrorKind::InvalidInput => ReadError::NotRegular {
                kind: std::fs::symlink_metadata(&real).map_or("not a regular file", |m| regular_file::kind(&m)),
            },
            _ if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) => {
                ReadError::NotRegular { kind: "a symbolic link at it or on its way" }
            }
            _ => ReadError::Io(e),
        })
    }

    /// The names in the directory `rel` (resolved inside the root), sorted, each with
    /// whether it is a symbolic link itself.
    pub fn list(&self, rel: &Path) -> io::Result<Vec<(OsString, bool)>> {
        let resolved = match self.resolve(rel).result {
            Ok(p) => p,
            Err(e) => return Err(io::Error::new(io::ErrorKind::NotFound, e.to_string())),
        };
        let mut names: Vec<(OsString, bool)> = fs_err::read_dir(self.real(&resolved))?
            .filter_map(|e| e.ok())
            .map(|e| {
                let link = e.file_type().is_ok_and(|t| t.is_symlink());
                (e.file_name(), link)
            })
            .collect();
        names.sort();
        Ok(names)
    }

    /// The target of the link at `rel` (whose parent is resolved), as written.
    pub fn read_link(&self, rel: &Path) -> io::Result<PathBuf> {
        std::fs::read_link(self.real(rel))
    }
}

/// Why [`Root::read_small`] returned no bytes.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("does not exist")]
    NotFound,
    /// A FIFO, device, socket or directory (`kind` says which, in words).
    #[error("not a regular file: {kind}")]
    NotRegular { kind: &'static str },
    #[error("larger than {cap} bytes")]
    TooLarge { cap: u64 },
    #[error(transparent)]
    Resolve(ResolveError),
    #[error(transparent)]
    Io(io::Error),
}

/// A path's names, without `.`, root or prefix components (`..` is kept for the walk).
fn components(path: &Path) -> Vec<OsString> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            Component::CurDir | Component::RootDir | Component::Prefix(_) => None,
        })
        .collect()
}

/// `rel` with `.` and `..` applied lexically (stopping at the root).
fn normalize(rel: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in components(rel) {
        if c == ".." {
            out.pop();
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn root() -> (tempfile::TempDir, Root) {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::open(dir.path()).unwrap();
        (dir, root)
    }

    fn mkfile(root: &Root, rel: &str) {
        let p = root.real(Path::new(rel));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, b"x").unwrap();
    }

    fn dirs(r: &Resolution) -> Vec<String> {
        r.directories.iter().map(|d| host_path(d)).collect()
    }

    /// SECURITY.md's node gap: a directory on a resolved path swapped for a link
    /// between resolution and the open was followed, so another file than the one
    /// resolved and judged was read. The kernel now walks the resolved path refusing
    /// every link on it.
    #[test]
    fn a_directory_swapped_for_a_link_after_resolution_is_refused_not_followed() {
        let (_d, root) = root();
        mkfile(&root, "usr/bin/kubelet");
        mkfile(&root, "opt/evil/kubelet");
        std::fs::write(root.real(Path::new("opt/evil/kubelet")), b"evil").unwrap();
        let resolved = root.resolve(Path::new("usr/bin/kubelet")).result.unwrap();
        assert_eq!(resolved, Path::new("usr/bin/kubelet"));
        let (mut file, _) = root.open_file(&resolved).unwrap();
        let mut read = String::new();
        file.read_to_string(&mut read).unwrap();
        assert_eq!(read, "x");

        std::fs::rename(root.real(Path::new("usr/bin")), root.real(Path::new("usr/bin.old"))).unwrap();
        symlink("/opt/evil", root.real(Path::new("usr/bin"))).unwrap();
        match root.open_file(&resolved) {
            Err(ReadError::NotRegular { kind }) => assert_eq!(kind, "a symbolic link at it or on its way"),
            other => panic!("{:?}", other.map(|(_, meta)| meta.len())),
        }
        // A relative link on the way, and one at the file itself, likewise.
        std::fs::remove_file(root.real(Path::new("usr/bin"))).unwrap();
        symlink("../opt/evil", root.real(Path::new("usr/bin"))).unwrap();
        assert!(matches!(root.open_file(&resolved), Err(ReadError::NotRegular { .. })));
        std::fs::remove_file(root.real(Path::new("usr/bin"))).unwrap();
        std::fs::rename(root.real(Path::new("usr/bin.old")), root.real(Path::new("usr/bin"))).unwrap();
        std::fs::remove_file(root.real(&resolved)).unwrap();
        symlink("/opt/evil/kubelet", root.real(&resolved)).unwrap();
        assert!(matches!(root.open_file(&resolved), Err(ReadError::NotRegular { .. })));
    }

    #[test]
    fn plain_paths_depend_on_their_ancestors() {
        let (_d, root) = root();
        mkfile(&root, "usr/local/bin/kubectl");
        let r = root.resolve(Path::new("usr/local/bin/kubectl"));
        assert_eq!(r.result.as_ref().unwrap(), Path::new("usr/local/bin/kubectl"));
        assert!(r.links.is_empty());
        assert_eq!(dirs(&r), ["/", "/usr", "/usr/local", "/usr/local/bin"]);
    }

    #[test]
    fn absolute_targets_and_dotdot_stay_inside_the_root() {
        let (_d, root) = root();
        mkfile(&root, "opt/k8s/kubectl");
        std::fs::create_dir_all(root.real(Path::new("usr/bin"))).unwrap();
        symlink("/opt/k8s/kubectl", root.real(Path::new("usr/bin/kubectl"))).unwrap();
        symlink("../../../../../../opt/k8s/kubectl", root.real(Path::new("usr/bin/kubeadm"))).unwrap();
        for name in ["usr/bin/kubectl", "usr/bin/kubeadm"] {
            let r = root.resolve(Path::new(name));
            assert_eq!(r.result.as_ref().unwrap(), Path::new("opt/k8s/kubectl"), "{name}");
            assert_eq!(dirs(&r), ["/", "/opt", "/opt/k8s", "/usr", "/usr/bin"]);
            assert!(!r.is_lexical_ancestor(Path::new("opt")));
            assert!(r.is_lexical_ancestor(Path::new("usr/bin")));
            assert!(r.is_lexical_ancestor(Path::new("")));
        }
    }

    #[test]
    fn links_in_directories_loops_and_dangling_links() {
        let (_d, root) = root();
        mkfile(&root, "var/lib/bin/kubelet");
        std::fs::create_dir_all(root.real(Path::new("opt"))).unwrap();
        symlink("../var/lib/bin", root.real(Path::new("opt/bin"))).unwrap();
        let r = root.resolve(Path::new("opt/bin/kubelet"));
        assert_eq!(r.result.as_ref().unwrap(), Path::new("var/lib/bin/kubelet"));
        assert_eq!(r.links, [Link { at: "opt/bin".into(), target: "../var/lib/bin".into() }]);

        symlink("loop-b", root.real(Path::new("opt/loop-a"))).unwrap();
        symlink("loop-a", root.real(Path::new("opt/loop-b"))).unwrap();
        assert!(matches!(root.resolve(Path::new("opt/loop-a")).result, Err(ResolveError::Loop)));

        symlink("/tmp/gone/kubectl", root.real(Path::new("opt/kubectl"))).unwrap();
        let r = root.resolve(Path::new("opt/kubectl"));
        assert!(matches!(&r.result, Err(ResolveError::NotFound { at }) if at == Path::new("tmp")));
        assert_eq!(dirs(&r), ["/", "/opt"]);

        let r = root.resolve(Path::new("var/lib/bin/kubelet/x"));
        assert!(matches!(r.result, Err(ResolveError::NotADirectory { .. })));
    }

    #[test]
    fn exposures_rank_world_over_owner_over_group_over_sticky() {
        let s = |mode, uid, kind| Stat { uid, gid: 0, mode, kind };
        assert_eq!(s(0o755, 0, Kind::File).exposures(), []);
        assert_eq!(s(0o775, 0, Kind::File).exposures(), [Exposure::GroupWritable]);
        assert_eq!(s(0o757, 0, Kind::File).exposures(), [Exposure::WorldWritable]);
        assert_eq!(s(0o1777, 0, Kind::Directory).exposures(), [Exposure::StickyWorldWritable]);
        assert_eq!(s(0o1777, 0, Kind::File).exposures(), [Exposure::WorldWritable]);
        assert_eq!(s(0o775, 1000, Kind::Directory).exposures(), [Exposure::OwnerNotRoot, Exposure::GroupWritable]);
        assert_eq!(s(0o1777, 0, Kind::Directory).mode_text(), "1777");
    }
}
