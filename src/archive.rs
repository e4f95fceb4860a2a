//! Taking binaries out of a verified tar.gz archive, refusing the whole archive if an
//! entry selected for extraction is hostile: a link, a device, an oversized file, a name
//! that could not be a binary's. Entries not selected (documentation, a symbolic link
//! beside it, a path with `..`) are skipped whatever they are; the caps on what is read
//! (the total unpacked size, and every name and extended-header record) hold for every
//! entry.
//!
//! The archive is read as GNU tar reads it, so that what kverify installs is what an
//! operator extracting the same verified file would get: every gzip member, GNU long
//! names and PAX headers applied by kverify itself (with caps: the `tar` crate would read
//! them whole into memory), and whatever another reader could take differently (a PAX
//! `size` other than the header's, a PAX path and a long name that disagree, GNU sparse
//! files) refused rather than guessed.

use std::io::{self, Read};
use std::path::Path;

use flate2::read::MultiGzDecoder;

use crate::catalog::Extract;
use crate::digest::{copy_hashing, AlgorithmSet, CopyError, CHUNK};
use crate::install::{InstallError, Staged, Verified};
use crate::report::escape;
use crate::signature::SignatureCheck;
use crate::status::ExitStatus;

/// The largest single file kverify takes out of an archive.
pub const MAX_ENTRY_SIZE: u64 = 1024 * 1024 * 1024;
/// The most bytes kverify decompresses from one archive (a gzip bomb stops here).
pub const MAX_TOTAL_SIZE: u64 = 4 * 1024 * 1024 * 1024;
/// The longest path an archive may give an entry through a GNU long-name or long-link
/// record, or a PAX `path` or `linkpath` (Linux's PATH_MAX). A longer one refuses the
/// archive before a byte of it is read.
pub const MAX_PATH: u64 = 4096;
/// The largest PAX extended header (local or global) kverify reads; a larger one
/// refuses the archive before a byte of it is read. With [`MAX_PATH`], what an archive
/// can make kverify hold in memory at once is bounded, whatever the archive.
pub const MAX_PAX_HEADER: u64 = 1024 * 1024;
/// The longest name a binary may have: NAME_MAX (255) less what its staging name adds
/// around it (`.kverify-NAME-PID-XXXXXX.partial`, up to 35 bytes), so that a name that
/// passes can always be staged beside its destination.
pub const MAX_NAME: usize = 220;

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// `entry` is shown quoted and escaped as all text is (`"bin/ctr\nOK"`).
    #[error("{archive}: hostile entry \"{}\": {why}; nothing was installed", escape(entry))]
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
/// whole archive and the staged files are dropped (removed). `foreign` lists the names
/// of other components' binaries (`kubelet` for a containerd archive): a selected entry
/// with one of them is hostile, as is one whose name is empty, `.` or `..`, hidden,
/// longer than [`MAX_NAME`], not UTF-8, or holds a control character.
pub fn extract(
    archive: &Verified,
    archive_name: &str,
    layout: &Extract,
    foreign: &[String],
    dir: &Path,
) -> Result<Vec<Extracted>, ArchiveError> {
    let corrupt = |source| ArchiveError::Corrupt { archive: archive_name.to_string(), source };
    let hostile = |entry: &[u8], why: &str| ArchiveError::Hostile {
        archive: archive_name.to_string(),
        entry: String::from_utf8_lossy(entry).into_owned(),
        why: why.to_string(),
    };
    let file = archive.reopen().map_err(corrupt)?;
    // Every member: gzip readers go on after the first member's end, and so does a tar
    // stream that continues there (an `etcd` hidden in a second member is still seen).
    let mut tar = tar::Archive::new(MultiGzDecoder::new(io::BufReader::with_capacity(CHUNK, file)));
    let mut out: Vec<Extracted> = Vec::new();
    let mut total: u64 = 0;
    let mut pending = Pending::default();
    // Raw: GNU long names and PAX headers come as entries, read here under caps.
    for entry in tar.entries().map_err(corrupt)?.raw(true) {
        let mut entry = entry.map_err(corrupt)?;
        let header_path = entry.header().path_bytes().into_owned();
        let kind = entry.header().entry_type();
        // The cap on what an archive unpacks to holds for every entry, read or skipped,
        // extended headers included.
        let size = entry.size();
        total = total.saturating_add(size);
        if total > MAX_TOTAL_SIZE {
            return Err(hostile(&header_path, &format!("the archive unpacks to over {MAX_TOTAL_SIZE} bytes")));
        }
        if let Some(record) = Record::of(kind) {
            let cap = record.cap();
            if size > cap {
                let what = record.name();
                return Err(hostile(&header_path, &format!("{what} of {size} bytes, over the {cap}-byte cap")));
            }
            let data = read_record(&mut entry, size).map_err(corrupt)?;
            pending.add(record, data).map_err(|why| hostile(&header_path, &why))?;
            continue;
        }
        let extensions = std::mem::take(&mut pending);
        let raw = extensions.path(header_path).map_err(|(path, why)| hostile(&path, why))?;
        if extensions.size.is_some_and(|s| s != size) {
            let why = "a PAX size other than its header's: readers would disagree on where the next entry starts";
            return Err(hostile(&raw, why));
        }
        // A sparse entry's extension headers are not read in raw mode: past one, kverify
        // would read another archive than GNU tar does.
        let sparse = kind.is_gnu_sparse();
        if sparse && entry.header().as_gnu().is_some_and(|g| g.is_extended()) {
            return Err(hostile(&raw, "a GNU sparse file with extended headers, which kverify does not read"));
        }
        // Entries not selected are skipped whatever they are (etcd 3.4 ships a symbolic
        // link among its docs); a selected one must be a plain file inside the archive.
        let EntryPath { path, name, clean } = entry_path(&raw);
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
        let regular = kind.is_file() || kind == tar::EntryType::Continuous;
        if let Extract::Directory(_) = layout {
            // Binaries of a directory are its executable files: README.md and LICENSE
            // beside CNI's plugins are not programs, and neither is a subdirectory.
            let executable = entry.header().mode().is_ok_and(|m| m & 0o111 != 0);
            if kind.is_dir() || ((regular || sparse) && !executable) {
                continue;
            }
        }
        if sparse {
            return Err(hostile(&raw, "a sparse file, which kverify does not read"));
        }
        if !regular {
            return Err(hostile(&raw, "not a regular file"));
        }
        if size > MAX_ENTRY_SIZE {
            return Err(hostile(&raw, &format!("{size} bytes, over the {MAX_ENTRY_SIZE}-byte cap")));
        }
        let name = install_name(name, foreign).map_err(|why| hostile(&raw, &why))?;
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
    if !pending.is_empty() {
        return Err(hostile(b"", "an extended header that describes no entry: the archive ends after it"));
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

/// Reads an extended-header record whose size was checked against its cap.
fn read_record(entry: &mut impl Read, size: u64) -> io::Result<Vec<u8>> {
    let mut data = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    entry.take(size).read_to_end(&mut data)?;
    if (data.len() as u64) < size {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "an extended header ends early"));
    }
    Ok(data)
}

/// A record that describes the entries after it rather than being one.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Record {
    /// GNU `L` (`././@LongLink`): the next entry's path.
    LongName,
    /// GNU `K`: the next entry's link target.
    LongLink,
    /// PAX `x`: records for the next entry.
    Pax,
    /// PAX `g`: records for every entry after it.
    PaxGlobal,
}

impl Record {
    fn of(kind: tar::EntryType) -> Option<Record> {
        if kind.is_gnu_longname() {
            Some(Record::LongName)
        } else if kind.is_gnu_longlink() {
            Some(Record::LongLink)
        } else if kind.is_pax_local_extensions() {
            Some(Record::Pax)
        } else if kind.is_pax_global_extensions() {
            Some(Record::PaxGlobal)
        } else {
            None
        }
    }

    fn cap(self) -> u64 {
        match self {
            Record::LongName | Record::LongLink => MAX_PATH,
            Record::Pax | Record::PaxGlobal => MAX_PAX_HEADER,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Record::LongName => "a GNU long name",
            Record::LongLink => "a GNU long link name",
            Record::Pax => "a PAX header",
            Record::PaxGlobal => "a PAX global header",
        }
    }
}

/// What extended headers said of the entry that follows them.
#[derive(Default)]
struct Pending {
    long_name: Option<Vec<u8>>,
    long_link: bool,
    pax: bool,
    pax_path: Option<Vec<u8>>,
    size: Option<u64>,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.long_name.is_none() && !self.long_link && !self.pax
    }

    /// Takes in one record; two of a kind for one entry are ambiguous, and refused.
    fn add(&mut self, record: Record, data: Vec<u8>) -> Result<(), String> {
        let twice = || format!("two {}s for one entry", record.name().trim_start_matches("a "));
        match record {
            Record::LongName if self.long_name.is_some() => return Err(twice()),
            Record::LongLink if self.long_link => return Err(twice()),
            Record::Pax if self.pax => return Err(twice()),
            // GNU tar reads a long name as a C string: up to its first NUL.
            Record::LongName => self.long_name = Some(c_string(&data).to_vec()),
            Record::LongLink => self.long_link = true,
            Record::Pax | Record::PaxGlobal => {
                self.pax |= record == Record::Pax;
                for (key, value) in pax_records(&data)? {
                    let key = String::from_utf8_lossy(key);
                    if key.starts_with("GNU.sparse.") {
                        // PAX sparse files carry their real name and layout in records
                        // and data that only GNU tar reads.
                        return Err(format!("a PAX sparse file ({key}), which kverify does not read"));
                    }
                    let setting = matches!(key.as_ref(), "path" | "linkpath" | "size");
                    if record == Record::PaxGlobal && setting {
                        return Err(format!("a PAX global header that sets {key} for every entry after it"));
                    }
                    if setting && value.len() as u64 > MAX_PATH {
                        let n = value.len();
                        return Err(format!("a PAX {key} of {n} bytes, over the {MAX_PATH}-byte cap"));
                    }
                    match key.as_ref() {
                        "path" => self.pax_path = Some(c_string(value).to_vec()),
                        "size" => {
                            let size = std::str::from_utf8(value).ok().and_then(|v| v.parse::<u64>().ok());
                            self.size = Some(size.ok_or_else(|| "a PAX size that is not a number".to_string())?);
                        }
                        _ => {}
                    }
                }
            }
        }
        Ok(())
    }

    /// The entry's path: a PAX `path`, else a GNU long name, else the header's own.
    fn path(&self, header: Vec<u8>) -> Result<Vec<u8>, (Vec<u8>, &'static str)> {
        match (&self.pax_path, &self.long_name) {
            (Some(pax), Some(long)) if pax != long => {
                Err((pax.clone(), "a PAX path and a GNU long name that differ: readers would disagree on its name"))
            }
            (Some(path), _) | (None, Some(path)) => Ok(path.clone()),
            (None, None) => Ok(header),
        }
    }
}

/// The bytes up to the first NUL.
fn c_string(bytes: &[u8]) -> &[u8] {
    bytes.iter().position(|b| *b == 0).map_or(bytes, |end| &bytes[..end])
}

/// One PAX record: its key and value.
type PaxRecord<'a> = (&'a [u8], &'a [u8]);

/// PAX records, `LEN KEY=VALUE\n` each, LEN counting the whole record. NUL padding after
/// the last record is tolerated; anything else malformed is refused.
fn pax_records(mut data: &[u8]) -> Result<Vec<PaxRecord<'_>>, String> {
    let malformed = || "a malformed PAX record".to_string();
    let mut records = Vec::new();
    while !data.iter().all(|b| *b == 0) {
        let space = data.iter().take(20).position(|b| *b == b' ').ok_or_else(malformed)?;
        let digits = &data[..space];
        if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
            return Err(malformed());
        }
        let len: usize = std::str::from_utf8(digits).ok().and_then(|d| d.parse().ok()).ok_or_else(malformed)?;
        if len <= space + 1 || len > data.len() || data[len - 1] != b'\n' {
            return Err(malformed());
        }
        let record = &data[space + 1..len - 1];
        let eq = record.iter().position(|b| *b == b'=').ok_or_else(malformed)?;
        records.push((&record[..eq], &record[eq + 1..]));
        data = &data[len..];
    }
    Ok(records)
}

/// Whether `layout` selects the entry at `path` (normalized) for extraction.
fn selects(layout: &Extract, path: &str) -> bool {
    match layout {
        Extract::Binaries(binaries) => binaries.iter().any(|b| entry_path(b.as_bytes()).path == path),
        Extract::Directory(dir) => {
            let dir = dir.trim_end_matches('/');
            let parent = path.rsplit_once('/').map_or("", |(p, _)| p);
            parent == dir
        }
    }
}

/// The name a selected entry would be installed under, or why it cannot be: the last
/// component of its path as written, which must be a plain, visible file name of this
/// component's own.
fn install_name(name: &[u8], foreign: &[String]) -> Result<String, String> {
    if name.is_empty() {
        return Err("an empty name".into());
    }
    if name == b"." || name == b".." {
        return Err(format!("the name `{}`", String::from_utf8_lossy(name)));
    }
    if name.len() > MAX_NAME {
        return Err(format!("a name of {} bytes, over the {MAX_NAME}-byte cap", name.len()));
    }
    let Ok(name) = std::str::from_utf8(name) else { return Err("a name that is not UTF-8".into()) };
    if name.chars().any(char::is_control) {
        return Err("a control character in its name".into());
    }
    if name.starts_with('.') {
        return Err("a hidden name".into());
    }
    if foreign.iter().any(|f| f == name) {
        return Err(format!("the name of another component's binary ({name}), which this archive does not ship"));
    }
    Ok(name.to_string())
}

/// An entry's path as an extractor would place it: `./bin/x` and `/bin/x` are `bin/x`,
/// `a/../bin/x` is `bin/x`. A path that only gets there by stripping a leading `/` or by
/// climbing with `..` (or that holds a backslash) is not `clean`: refused when it is
/// selected, skipped when it is not. `name` is the last component as written (`.` for
/// `bin/.`); `path` shows bytes that are not UTF-8 as U+FFFD, so such an entry is still
/// selected where it lies, and then refused by its name.
struct EntryPath<'a> {
    path: String,
    name: &'a [u8],
    clean: bool,
}

fn entry_path(raw: &[u8]) -> EntryPath<'_> {
    let mut parts: Vec<&[u8]> = Vec::new();
    let mut clean = !raw.contains(&b'\\') && !raw.starts_with(b"/");
    for c in raw.split(|b| *b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                parts.pop();
                clean = false;
            }
            c => parts.push(c),
        }
    }
    let name = raw.split(|b| *b == b'/').rfind(|c| !c.is_empty()).unwrap_or_default();
    let path = parts.iter().map(|p| String::from_utf8_lossy(p)).collect::<Vec<_>>().join("/");
    EntryPath { path, name, clean }
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
            let got = entry_path(raw.as_bytes());
            assert_eq!((got.path.as_str(), got.clean), (path, clean), "{raw}");
        }
    }

    #[test]
    fn install_names_must_be_plain_visible_names_of_this_component() {
        let foreign = ["kubelet".to_string(), "etcdctl".to_string()];
        let long = "x".repeat(MAX_NAME + 1);
        for (name, why) in [
            (&b""[..], Some("an empty name")),
            (b".", Some("the name `.`")),
            (b"..", Some("the name `..`")),
            (long.as_bytes(), Some("over the 220-byte cap")),
            (b"ctr\xff", Some("not UTF-8")),
            (b"ctr\nOK", Some("control character")),
            (b"ctr\x1b[2K", Some("control character")),
            (b"ctr\x7f", Some("control character")),
            ("ctr\u{85}".as_bytes(), Some("control character")),
            (b".kverify-ctr-1-AbCdEf.partial", Some("hidden")),
            (b".ctr", Some("hidden")),
            (b"kubelet", Some("another component's binary (kubelet)")),
            (b"etcdctl", Some("another component's binary (etcdctl)")),
            (b"ctr", None),
            (b"containerd-shim-runc-v2", None),
            ("x".repeat(MAX_NAME).as_bytes(), None),
            (b"kubelet.1", None),
        ] {
            match (install_name(name, &foreign), why) {
                (Ok(got), None) => assert_eq!(got.as_bytes(), name),
                (Err(got), Some(why)) => assert!(got.contains(why), "{name:?}: {got}"),
                (got, why) => panic!("{name:?}: {got:?}, wanted {why:?}"),
            }
        }
    }

    #[test]
    fn pax_records_are_read_exactly_or_refused() {
        let ok: &[(&[u8], Vec<PaxRecord<'_>>)] = &[
            (b"", vec![]),
            (b"11 path=ab\n", vec![(b"path", b"ab")]),
            (b"11 path=ab\n16 linkpath=xyz\n", vec![(b"path", b"ab"), (b"linkpath", b"xyz")]),
            (b"8 path=\n\0\0\0", vec![(b"path", b"")]),
            (b"12 path=a=b\n", vec![(b"path", b"a=b")]),
            (b"12 path=a\nb\n", vec![(b"path", b"a\nb")]),
        ];
        for (data, want) in ok {
            assert_eq!(&pax_records(data).unwrap(), want, "{data:?}");
        }
        for bad in [
            &b"10 path=ab\n"[..],
            b"12 path=ab\n",
            b"path=ab\n",
            b"x1 path=ab\n",
            b"11 pathab\n\n",
            b"11 path=abX",
            b"3 a\n",
            b"99999999999999999999999 path=a\n",
        ] {
            assert!(pax_records(bad).is_err(), "{bad:?}");
        }
    }

    /// One PAX record, its length computed.
    fn pax(key: &str, value: &str) -> Vec<u8> {
        let body = format!(" {key}={value}\n");
        let mut len = body.len() + 1;
        while format!("{len}{body}").len() != len {
            len += 1;
        }
        format!("{len}{body}").into_bytes()
    }

    #[test]
    fn extended_headers_name_the_entry_as_gnu_tar_does() {
        let mut p = Pending::default();
        p.add(Record::LongName, b"bin/ctr\0junk after the NUL".to_vec()).unwrap();
        assert_eq!(p.path(b"././@LongLink".to_vec()).unwrap(), b"bin/ctr");
        assert!(p.add(Record::LongName, b"bin/ctr".to_vec()).unwrap_err().contains("two GNU long names"));
        p.add(Record::Pax, pax("path", "bin/runc")).unwrap();
        assert!(p.path(Vec::new()).unwrap_err().1.contains("differ"));
        let mut p = Pending::default();
        p.add(Record::Pax, [pax("path", "bin/runc"), pax("size", "100")].concat()).unwrap();
        assert_eq!((p.path(b"bin/x".to_vec()).unwrap(), p.size), (b"bin/runc".to_vec(), Some(100)));
        assert!(p.add(Record::Pax, Vec::new()).unwrap_err().contains("two PAX headers"));
        for (global, why) in [
            (pax("path", "bin/runc"), "sets path for every entry"),
            (pax("size", "100"), "sets size for every entry"),
            (pax("GNU.sparse.major", "1"), "PAX sparse file"),
        ] {
            let err = Pending::default().add(Record::PaxGlobal, global).unwrap_err();
            assert!(err.contains(why), "{err}");
        }
        let err = Pending::default().add(Record::Pax, pax("GNU.sparse.name", "bin/ctr")).unwrap_err();
        assert!(err.contains("PAX sparse file"), "{err}");
        let err = Pending::default().add(Record::Pax, pax("size", "-1")).unwrap_err();
        assert!(err.contains("not a number"), "{err}");
        let mut p = Pending::default();
        p.add(Record::PaxGlobal, pax("comment", "released")).unwrap();
        assert!(p.is_empty(), "a harmless global header describes no one entry");
        let path = "a".repeat(MAX_PATH as usize);
        assert!(Pending::default().add(Record::Pax, pax("path", &path)).is_ok());
        let err = Pending::default().add(Record::Pax, pax("linkpath", &format!("{path}a"))).unwrap_err();
        assert!(err.contains("over the 4096-byte cap"), "{err}");
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
            let err = match extract(&archive, "a.tar.gz", &layout, &[], dir.path()) {
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
        let got = extract(&archive, "etcd.tar.gz", &layout, &[], dir.path()).unwrap();
        assert_eq!(got.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(), ["etcd"]);
        assert_eq!(std::fs::read(got[0].verified.path()).unwrap(), b"etcd");
        let missing = Extract::Binaries(vec!["etcd-v3.5.12-linux-amd64/etcdutl".into()]);
        let err = extract(&archive, "etcd.tar.gz", &missing, &[], dir.path()).err().unwrap();
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
        let got = extract(&archive, "a.tar.gz", &Extract::Directory("bin/".into()), &[], dir.path()).unwrap();
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
        let got = extract(&archive, "cni.tgz", &Extract::Directory(String::new()), &[], dir.path()).unwrap();
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
