//! The programs kubelet's and containerd's systemd units run, read the way systemd reads
//! them: the unit search path in systemd's order (`systemd-analyze unit-paths`, the
//! `system.control` directories first), the unit file (the first of its name; a link into
//! the search path is an alias, elsewhere a linked unit file; a link to `/dev/null` or an
//! empty file masks the unit), the drop-ins `NAME.d/*.conf` of every name of the unit and
//! `service.d/*.conf`, merged in systemd's order, each file's lines as systemd's parser
//! splits them, and every `Exec*=` setting of `[Service]` with its resets.
//!
//! Two readings are merged: systemd 243 and later (a line also ends at `\r`; a comment
//! line inside a continuation is skipped) and 239 to 242 (a line ends at `\n` or NUL; a
//! comment is recognised after continuation lines are joined). A program either runs is
//! audited. A reset (`ExecStart=`) is only believed when nothing before it in its file
//! could have made systemd stop reading that file (a line it refuses), so a line systemd
//! never applied cannot hide a program that it runs.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use super::exec::{self, Command, Environment, ExecValue, Specifiers};
use super::root::{host_path, ReadError, ResolveError, Root};

/// The units whose programs are node binaries.
pub const UNITS: &[&str] = &["kubelet.service", "containerd.service"];

/// Where systemd (as the system manager) reads units from, relative to the root,
/// highest priority first. `lib/systemd/system` is read on split-/usr systems.
pub const UNIT_DIRS: &[&str] = &[
    "etc/systemd/system.control",
    "run/systemd/system.control",
    "run/systemd/transient",
    "run/systemd/generator.early",
    "etc/systemd/system",
    "etc/systemd/system.attached",
    "run/systemd/system",
    "run/systemd/system.attached",
    "run/systemd/generator",
    "usr/local/lib/systemd/system",
    "usr/lib/systemd/system",
    "lib/systemd/system",
    "run/systemd/generator.late",
];

/// The settings of `[Service]` that run a program, in the order systemd runs them.
pub const EXEC_KEYS: &[&str] =
    &["ExecCondition", "ExecStartPre", "ExecStart", "ExecStartPost", "ExecReload", "ExecStop", "ExecStopPost"];

/// A unit file or drop-in is a few hundred bytes; one over this is a finding, not read.
pub const MAX_UNIT_LEN: u64 = 1 << 20;

/// How deep `.include` and alias chains are followed.
const MAX_DEPTH: usize = 8;

/// A command one of a unit's files gives systemd to run.
#[derive(Clone, Debug)]
pub struct UnitCommand {
    /// `ExecStart`, `ExecStartPre` …
    pub key: &'static str,
    /// The file the line is in, inside the root, as systemd looked it up.
    pub file: PathBuf,
    pub line: usize,
    pub command: Command,
    /// The service's environment where the command was read (for env(1) and `|`).
    pub environment: Environment,
}

/// A unit file or drop-in that could not be read: its programs are unknown.
#[derive(Debug)]
pub struct UnitProblem {
    pub file: PathBuf,
    pub error: ReadError,
}

/// What a unit runs, and the files that kept kverify from knowing all of it.
#[derive(Debug, Default)]
pub struct Unit {
    pub commands: Vec<UnitCommand>,
    pub problems: Vec<UnitProblem>,
}

/// Reads unit `name` under `root`; its commands run in `defaults` (the manager's
/// `DefaultEnvironment=`, [`manager_environment`]) under the unit's own environment.
pub fn load(root: &Root, name: &str, defaults: &Environment) -> Unit {
    let mut unit = Unit::default();
    let entries = search_path_entries(root, &mut unit.problems);
    let fragment = resolve_name(&entries, name, 0);
    let mut files: Vec<PathBuf> = Vec::new();
    let mut specifiers = Specifiers::new(name);
    if let Some(path) = &fragment {
        files.push(path.clone());
        if let Ok(resolved) = root.resolve(path).result {
            specifiers.fragment = Some(host_path(&resolved).into_bytes());
        }
    }
    let names = unit_names(&entries, name, fragment.as_deref());
    files.extend(drop_ins(root, &names, &mut unit.problems));

    let mut texts: Vec<(PathBuf, Vec<u8>)> = Vec::new();
    for (i, file) in files.iter().enumerate() {
        match read_unit_file(root, file) {
            Read::Text(bytes) => texts.push((file.clone(), bytes)),
            Read::Masked if i == 0 && fragment.is_some() => return unit,
            Read::Masked | Read::Absent => {}
            Read::Problem(error) => unit.problems.push(UnitProblem { file: file.clone(), error }),
        }
    }
    let is_fragment = |file: &Path| fragment.as_deref() == Some(file);
    let mut seen = BTreeSet::new();
    for dialect in [Dialect::Current, Dialect::Legacy] {
        let mut merge = Merge::default();
        let src = Source { root: Some(root), dialect, specifiers: &specifiers };
        for (file, bytes) in &texts {
            let fragment = is_fragment(file);
            merge.apply(&src, file, bytes, !fragment, if fragment { MAX_DEPTH } else { 0 });
        }
        for mut command in merge.commands() {
            command.environment.inherit(defaults);
            let program = format!("{:?}", command.command);
            if seen.insert((command.file.clone(), command.line, command.key, program)) {
                unit.commands.push(command);
            }
        }
    }
    unit
}

/// One entry of a search directory, by unit name: the first directory's wins.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Entry {
    /// A file (or anything that is not a link), or a link outside the search path (a
    /// linked unit file): the unit file, by the path systemd opens.
    File(PathBuf),
    /// A link into the search path under another name.
    Alias(String),
}

/// Every `.service` name in the search path, as systemd maps them
/// (`unit_file_build_name_map`): the highest-priority entry of a name wins; a link to a
/// file of the same name in the search path is no entry at all (a self-alias).
fn search_path_entries(root: &Root, problems: &mut Vec<UnitProblem>) -> BTreeMap<String, Entry> {
    let mut entries = BTreeMap::new();
    for dir in UNIT_DIRS {
        for (name, is_link) in listing(root, Path::new(dir), problems) {
            let Some(name) = name.to_str().filter(|n| is_service_name(n)) else { continue };
            if entries.contains_key(name) {
                continue;
            }
            let path = Path::new(dir).join(name);
            let entry = if is_link {
                let Ok(target) = root.read_link(&path) else { continue };
                match alias_of(dir, &target) {
                    Some(to) if to == name => continue,
                    Some(to) => Entry::Alias(to),
                    None => Entry::File(path),
                }
            } else {
                Entry::File(path)
            };
            entries.insert(name.to_string(), entry);
        }
    }
    entries
}

/// The unit name a link in `dir` aliases, when its target lies in the search path.
fn alias_of(dir: &str, target: &Path) -> Option<String> {
    let absolute = if target.is_absolute() { target.to_path_buf() } else { Path::new("/").join(dir).join(target) };
    let normal = normalize(&absolute);
    let parent = normal.parent()?;
    let in_search_path = UNIT_DIRS.iter().any(|d| parent.starts_with(Path::new("/").join(d)));
    let name = normal.file_name()?.to_str()?;
    (in_search_path && is_service_name(name)).then(|| name.to_string())
}

/// `..` and `.` applied to an absolute path, lexically (systemd's `CHASE_NONEXISTENT`
/// simplification of a link target before it compares it with the search path).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in path.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::Normal(n) => out.push(n),
            _ => {}
        }
    }
    out
}

fn is_service_name(name: &str) -> bool {
    name.len() <= 255
        && name.len() > ".service".len()
        && name.ends_with(".service")
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b":-_.\\@".contains(&b))
}

/// The unit file a name leads to, through its aliases.
fn resolve_name(entries: &BTreeMap<String, Entry>, name: &str, hops: usize) -> Option<PathBuf> {
    match entries.get(name)? {
        _ if hops > MAX_DEPTH => None,
        Entry::Alias(to) => resolve_name(entries, to, hops + 1),
        Entry::File(path) => Some(path.clone()),
    }
}

/// Every name of the unit (`unit_file_find_fragment`): its own, and every name whose
/// entry leads to a unit file of the same file name as its unit file. Its own first.
fn unit_names(entries: &BTreeMap<String, Entry>, name: &str, fragment: Option<&Path>) -> Vec<String> {
    let mut names = vec![name.to_string()];
    let Some(base) = fragment.and_then(Path::file_name) else { return names };
    for other in entries.keys() {
        if other == name {
            continue;
        }
        if resolve_name(entries, other, 0).is_some_and(|path| path.file_name() == Some(base)) {
            names.push(other.clone());
        }
    }
    names
}

/// The drop-ins of a unit with these names, in the order systemd applies them
/// (`unit_file_find_dropin_paths`): `NAME.d/*.conf` of each name and of each of its
/// dash prefixes (`foo-.service.d`), then `service.d/*.conf`, in every search directory;
/// of several of one file name the first found wins; applied in file name order.
fn drop_ins(root: &Root, names: &[String], problems: &mut Vec<UnitProblem>) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    for name in names {
        for each in with_prefixes(name) {
            dirs.extend(UNIT_DIRS.iter().map(|d| Path::new(d).join(format!("{each}.d"))));
        }
    }
    dirs.extend(UNIT_DIRS.iter().map(|d| Path::new(d).join("service.d")));
    conf_files(root, dirs, problems)
}

/// The `*.conf` files of `dirs` (highest priority first) as systemd lists drop-ins: one
/// per file name, from the first directory that has it, in name order; a directory
/// reached twice through links is read once.
fn conf_files(root: &Root, dirs: Vec<PathBuf>, problems: &mut Vec<UnitProblem>) -> Vec<PathBuf> {
    let mut by_name: BTreeMap<OsString, PathBuf> = BTreeMap::new();
    let mut listed = BTreeSet::new();
    for dir in dirs {
        let Ok(resolved) = root.resolve(&dir).result else {
            listing(root, &dir, problems);
            continue;
        };
        if !listed.insert(resolved) {
            continue;
        }
        for (file, _) in listing(root, &dir, problems) {
            let bytes = file.as_bytes();
            if bytes.ends_with(b".conf") && !bytes.starts_with(b".") {
                let path = dir.join(&file);
                let is_dir = root
                    .resolve(&path)
                    .result
                    .is_ok_and(|p| root.lstat(&p).is_ok_and(|s| s.kind == super::Kind::Directory));
                if !is_dir {
                    by_name.entry(file).or_insert(path);
                }
            }
        }
    }
    by_name.into_values().collect()
}

/// The entries of a directory systemd lists. One that is not there, or not a directory,
/// has none; one that is there but cannot be listed may hold units: a problem.
fn listing(root: &Root, dir: &Path, problems: &mut Vec<UnitProblem>) -> Vec<(OsString, bool)> {
    let mut problem = |error| {
        if !problems.iter().any(|p| p.file == dir) {
            problems.push(UnitProblem { file: dir.to_path_buf(), error });
        }
    };
    match root.resolve(dir).result {
        Err(ResolveError::NotFound { .. } | ResolveError::NotADirectory { .. }) => return Vec::new(),
        Err(e) => {
            problem(ReadError::Resolve(e));
            return Vec::new();
        }
        Ok(_) => {}
    }
    match root.list(dir) {
        Ok(entries) => entries,
        Err(e) if matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory) => Vec::new(),
        Err(e) => {
            problem(ReadError::Io(e));
            Vec::new()
        }
    }
}

/// Where the system manager's configuration is read from, highest priority first:
/// `system.conf` in the first of these that has it, then `system.conf.d/*.conf` of all.
const MANAGER_DIRS: &[&str] =
    &["etc/systemd", "run/systemd", "usr/local/lib/systemd", "usr/lib/systemd", "lib/systemd"];

/// The manager's `DefaultEnvironment=` (`[Manager]` of `system.conf` and its drop-ins,
/// in the order systemd applies them): the environment every service starts from. A
/// file that cannot be read is a problem (what services run may depend on it).
pub fn manager_environment(root: &Root) -> (Environment, Vec<UnitProblem>) {
    let mut problems = Vec::new();
    let main = MANAGER_DIRS.iter().map(|d| Path::new(d).join("system.conf")).find(|f| root.lstat(f).is_ok());
    let drop_ins = MANAGER_DIRS.iter().map(|d| Path::new(d).join("system.conf.d")).collect();
    let mut environment = Environment::default();
    for file in main.into_iter().chain(conf_files(root, drop_ins, &mut problems)) {
        let bytes = match read_unit_file(root, &file) {
            Read::Text(bytes) => bytes,
            Read::Masked | Read::Absent => continue,
            Read::Problem(error) => {
                problems.push(UnitProblem { file, error });
                continue;
            }
        };
        for (_, item) in items(&bytes, Dialect::Current, &[b"Manager"]) {
            match item {
                Item::Setting { key, value, .. } if key == b"DefaultEnvironment" => environment.assign(&value, None),
                _ => {}
            }
        }
    }
    (environment, problems)
}

/// `a-b-c.service`, then `a-b-.service` and `a-.service` (systemd's prefix drop-ins).
fn with_prefixes(name: &str) -> Vec<String> {
    let mut out = vec![name.to_string()];
    let Some((stem, suffix)) = name.rsplit_once('.') else { return out };
    let mut prefix = stem.split('@').next().unwrap_or(stem).to_string();
    let mut chopped = false;
    while let Some(dash) = prefix.rfind('-') {
        if dash == 0 {
            break;
        }
        if dash + 1 == prefix.len() && !chopped {
            prefix.truncate(dash);
            chopped = true;
            continue;
        }
        prefix.truncate(dash + 1);
        out.push(format!("{prefix}.{suffix}"));
        prefix.truncate(dash);
        chopped = true;
    }
    out
}

enum Read {
    Text(Vec<u8>),
    /// Linked to `/dev/null` (or any character device), or empty.
    Masked,
    Absent,
    Problem(ReadError),
}

fn read_unit_file(root: &Root, file: &Path) -> Read {
    let resolution = root.resolve(file);
    // A link to /dev/null masks, whether or not the root has a /dev.
    let to_null = resolution.links.last().is_some_and(|link| {
        let from = Path::new("/").join(link.at.parent().unwrap_or(Path::new("")));
        normalize(&from.join(&link.target)) == Path::new("/dev/null")
    });
    if to_null {
        return Read::Masked;
    }
    let resolved = match resolution.result {
        Ok(resolved) => resolved,
        Err(ResolveError::NotFound { .. }) => return Read::Absent,
        Err(e) => return Read::Problem(ReadError::Resolve(e)),
    };
    if resolved == Path::new("dev/null") {
        return Read::Masked;
    }
    let char_device = std::fs::symlink_metadata(root.real(&resolved)).is_ok_and(|m| m.file_type().is_char_device());
    if char_device {
        return Read::Masked;
    }
    match root.read_resolved(&resolved, MAX_UNIT_LEN) {
        Ok(bytes) if bytes.is_empty() => Read::Masked,
        Ok(bytes) => Read::Text(bytes),
        Err(ReadError::NotFound) => Read::Absent,
        Err(e) => Read::Problem(e),
    }
}

/// Which systemd's parser a file is read with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// systemd 243 and later: lines end at `\n`, `\r` or NUL (a run of distinct ones is
    /// one end); comment lines are dropped before continuation lines are joined.
    Current,
    /// systemd 239 to 242: lines end at `\n` or NUL; comments are recognised after
    /// continuation lines are joined.
    Legacy,
}

/// One logical line of a file.
#[derive(Debug, PartialEq, Eq)]
pub struct Line {
    /// The number of the first physical line in it.
    pub number: usize,
    pub text: Vec<u8>,
}

/// The logical lines of `bytes` as systemd's `config_parse` builds them: physical lines
/// as its `read_line` splits them, a UTF-8 byte order mark dropped once, a line ending in
/// an unescaped backslash joined with the next (the backslash becomes a space).
pub fn logical_lines(bytes: &[u8], dialect: Dialect) -> Vec<Line> {
    let mut out = Vec::new();
    let mut continuation: Option<(usize, Vec<u8>)> = None;
    let mut bom_seen = false;
    for (i, raw) in physical_lines(bytes, dialect).into_iter().enumerate() {
        let number = i + 1;
        if dialect == Dialect::Current {
            let rest = exec::strip(raw);
            if matches!(rest.first(), Some(b'#' | b';')) {
                continue;
            }
        }
        let mut line = raw;
        if !bom_seen {
            if let Some(rest) = line.strip_prefix(b"\xef\xbb\xbf".as_slice()) {
                line = rest;
                bom_seen = true;
            }
        }
        let (start, mut text) = match continuation.take() {
            Some((start, mut text)) => {
                text.extend_from_slice(line);
                (start, text)
            }
            None => (number, line.to_vec()),
        };
        if ends_escaped(&text) {
            let last = text.len() - 1;
            text[last] = b' ';
            continuation = Some((start, text));
            continue;
        }
        out.push(Line { number: start, text });
    }
    if let Some((number, text)) = continuation {
        out.push(Line { number, text });
    }
    out
}

/// Whether `text` ends in a backslash that no backslash before it escapes.
fn ends_escaped(text: &[u8]) -> bool {
    text.iter().rev().take_while(|&&b| b == b'\\').count() % 2 == 1
}

/// Physical lines as systemd's `read_line` returns them. Current: a line ends at `\n`,
/// `\r` or NUL, and a run of end markers is one end while no kind repeats and no NUL
/// came before (`\r\n`, `\n\r`, `\r\n\0` …). Legacy: a line ends at `\n` or NUL.
fn physical_lines(bytes: &[u8], dialect: Dialect) -> Vec<&[u8]> {
    let kind = |b: u8| -> u8 {
        match (b, dialect) {
            (0, _) => 1,
            (b'\n', _) => 2,
            (b'\r', Dialect::Current) => 4,
            _ => 0,
        }
    };
    let mut lines = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && kind(bytes[i]) == 0 {
            i += 1;
        }
        lines.push(&bytes[start..i]);
        if dialect == Dialect::Legacy {
            i += 1;
            continue;
        }
        let mut seen = 0u8;
        while let Some(&b) = bytes.get(i) {
            let k = kind(b);
            if seen & 1 != 0 || k == 0 || seen & k != 0 {
                break;
            }
            seen |= k;
            i += 1;
        }
    }
    lines
}

/// What one logical line is to the parser.
#[derive(Debug, PartialEq, Eq)]
pub enum Item {
    /// `key=value` in `section` (empty before any section header), all stripped.
    Setting { section: Vec<u8>, key: Vec<u8>, value: Vec<u8> },
    /// A line systemd may refuse and stop reading the file at: bytes that are not UTF-8,
    /// no `=` or no key, a bad section header.
    Doubtful,
    /// `.include FILE` (a unit file reads FILE here, in systemd versions that had it).
    Include(Vec<u8>),
}

/// The sections of a unit file systemd reads.
const UNIT_SECTIONS: &[&[u8]] = &[b"Unit", b"Service", b"Install"];

/// The items of a file's logical lines, with their line numbers; lines of a section not
/// in `sections`, or before any, are ignored whole, as systemd ignores them.
pub fn items(bytes: &[u8], dialect: Dialect, sections: &[&[u8]]) -> Vec<(usize, Item)> {
    let mut out = Vec::new();
    let mut section: Vec<u8> = Vec::new();
    for line in logical_lines(bytes, dialect) {
        let text = exec::strip(&line.text);
        if text.is_empty() || matches!(text.first(), Some(b'#' | b';')) {
            continue;
        }
        if std::str::from_utf8(text).is_err() {
            out.push((line.number, Item::Doubtful));
        }
        if let Some(path) = text.strip_prefix(b".include ") {
            out.push((line.number, Item::Doubtful));
            out.push((line.number, Item::Include(exec::strip(path).to_vec())));
            continue;
        }
        if text[0] == b'[' {
            match text.strip_suffix(b"]") {
                Some(name) if name[1..].iter().all(|&b| b >= b' ' && b != 0x7f && !b"\"'\\".contains(&b)) => {
                    section = name[1..].to_vec();
                }
                _ => {
                    section = b"\0invalid".to_vec();
                    out.push((line.number, Item::Doubtful));
                }
            }
            continue;
        }
        if !sections.contains(&section.as_slice()) {
            continue;
        }
        match text.iter().position(|&b| b == b'=') {
            Some(eq) if eq > 0 => {
                let key = exec::strip(&text[..eq]).to_vec();
                let value = exec::strip(&text[eq + 1..]).to_vec();
                out.push((line.number, Item::Setting { section: section.clone(), key, value }));
            }
            _ => out.push((line.number, Item::Doubtful)),
        }
    }
    out
}

/// `[Unit]` settings whose parsers never make systemd stop reading a file.
const SAFE_UNIT_KEYS: &[&str] = &[
    "Description",
    "Documentation",
    "After",
    "Before",
    "Wants",
    "Requires",
    "Requisite",
    "BindsTo",
    "PartOf",
    "Conflicts",
];

/// Where one reading of a unit's files comes from.
struct Source<'a> {
    root: Option<&'a Root>,
    dialect: Dialect,
    specifiers: &'a Specifiers,
}

/// The settings of one unit merged, in one dialect.
#[derive(Default)]
struct Merge {
    lists: BTreeMap<&'static str, Vec<UnitCommand>>,
    environment: Environment,
}

impl Merge {
    /// Applies one file. systemd stops reading a drop-in at a line it refuses and goes on
    /// with the next file, so in a drop-in a reset is only believed while every line
    /// before it is one that systemd cannot refuse; a unit file with such a line is not
    /// loaded at all (nothing runs), so there every reset counts. `includes` is how many
    /// `.include` levels may still be read.
    fn apply(&mut self, src: &Source<'_>, file: &Path, bytes: &[u8], drop_in: bool, includes: usize) {
        let mut clean = true;
        for (line, item) in items(bytes, src.dialect, UNIT_SECTIONS) {
            let (section, key, value) = match item {
                Item::Doubtful => {
                    clean = false;
                    continue;
                }
                Item::Include(path) => {
                    let Some(root) = src.root.filter(|_| includes > 0) else { continue };
                    let target = if let Some(absolute) = path.strip_prefix(b"/") {
                        rel_path(absolute)
                    } else {
                        file.parent().unwrap_or(Path::new("")).join(OsStr::from_bytes(&path))
                    };
                    // Included lines count only in versions that read them: their
                    // programs are audited, their resets not believed.
                    if let Read::Text(included) = read_unit_file(root, &target) {
                        self.apply(src, &target, &included, true, includes - 1);
                    }
                    continue;
                }
                Item::Setting { section, key, value } => (section, key, value),
            };
            let believed = clean || !drop_in;
            match section.as_slice() {
                b"Service" => {}
                b"Unit" => {
                    clean &= SAFE_UNIT_KEYS.iter().any(|k| k.as_bytes() == key.as_slice());
                    continue;
                }
                // [Install]: not read when a unit is loaded.
                _ => continue,
            }
            if let Some(&key) = EXEC_KEYS.iter().find(|k| k.as_bytes() == key.as_slice()) {
                match exec::parse_exec(&value, src.specifiers) {
                    ExecValue::Reset if believed => {
                        self.lists.remove(key);
                    }
                    ExecValue::Reset => {}
                    ExecValue::Commands { commands, clean: ok } => {
                        let list = self.lists.entry(key).or_default();
                        list.extend(commands.into_iter().map(|command| UnitCommand {
                            key,
                            file: file.to_path_buf(),
                            line,
                            command,
                            environment: Environment::default(),
                        }));
                        clean &= ok;
                    }
                }
                continue;
            }
            match key.as_slice() {
                b"Environment" if believed || !value.is_empty() => {
                    self.environment.assign(&value, Some(src.specifiers))
                }
                b"Environment" => {}
                b"EnvironmentFile" | b"PassEnvironment" | b"UnsetEnvironment" => {
                    if !value.is_empty() {
                        self.environment.elsewhere = true;
                    }
                }
                b"WorkingDirectory" => {
                    self.working_directory(&value);
                    clean = false;
                }
                _ => clean = false,
            }
        }
    }

    fn working_directory(&mut self, value: &[u8]) {
        let value = value.strip_prefix(b"-").unwrap_or(value);
        let env = &mut self.environment;
        env.working_directory_unknown = false;
        env.working_directory = None;
        match value {
            b"" => {}
            b"~" => env.working_directory = Some(b"/root".to_vec()),
            v if v.starts_with(b"/") && !v.contains(&b'%') => env.working_directory = Some(v.to_vec()),
            _ => env.working_directory_unknown = true,
        }
    }

    /// The commands left once every file is read, with the environment they run in.
    fn commands(self) -> Vec<UnitCommand> {
        let mut out = Vec::new();
        for key in EXEC_KEYS {
            for mut command in self.lists.get(key).cloned().unwrap_or_default() {
                command.environment = self.environment.clone();
                out.push(command);
            }
        }
        out
    }
}

/// The programs of a unit file's bytes on their own (`drop_in`: read as a drop-in), in
/// both dialects, by setting: the parser without a root, for tests and fuzzing.
pub fn programs_of(bytes: &[u8], unit: &str, drop_in: bool) -> Vec<(&'static str, exec::Program)> {
    let specifiers = Specifiers::new(unit);
    let mut out: Vec<(&'static str, exec::Program)> = Vec::new();
    for dialect in [Dialect::Current, Dialect::Legacy] {
        let mut merge = Merge::default();
        let src = Source { root: None, dialect, specifiers: &specifiers };
        merge.apply(&src, Path::new("unit"), bytes, drop_in, 0);
        for c in merge.commands() {
            let entry = (c.key, c.command.program);
            if !out.contains(&entry) {
                out.push(entry);
            }
        }
    }
    out
}

/// A path named by bytes (a unit's program), relative to the root.
pub fn rel_path(path: &[u8]) -> PathBuf {
    let trimmed: &[u8] = {
        let mut p = path;
        while let Some(rest) = p.strip_prefix(b"/") {
            p = rest;
        }
        p
    };
    PathBuf::from(OsString::from_vec(trimmed.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::exec::Program;
    use super::*;

    fn path(p: &str) -> Program {
        Program::Path(p.as_bytes().to_vec())
    }

    fn starts(bytes: &[u8], drop_in: bool) -> Vec<Program> {
        let all = programs_of(bytes, "kubelet.service", drop_in);
        all.into_iter().filter(|(k, _)| *k == "ExecStart").map(|(_, p)| p).collect()
    }

    #[test]
    fn every_exec_start_as_systemd_reads_the_file() {
        let cases: &[(&[u8], &[&[u8]])] = &[
            (b"[Service]\nExecStart=/usr/bin/kubelet --config x\n", &[b"/usr/bin/kubelet"]),
            // kubeadm's drop-in: reset, then the real line
            (
                b"[Service]\nExecStart=/usr/bin/old\nEnvironment=\"A=b\"\nExecStart=\nExecStart=/usr/bin/kubelet $A\n",
                &[b"/usr/bin/kubelet"],
            ),
            (b"[Service]\nExecStart=/opt/k8s/kubelet \\\n  --v=2\n", &[b"/opt/k8s/kubelet"]),
            (b"[Service]\nExecStart = -/usr/local/bin/containerd\n", &[b"/usr/local/bin/containerd"]),
            (b"[Service]\nExecStart='/opt/evil/kubelet'\n", &[b"/opt/evil/kubelet"]),
            (b"[Service]\nExecStart=/opt/evil/kube\\x6cet\n", &[b"/opt/evil/kubelet"]),
            (b"[Service]\n#ExecStart=/old/kubelet\n ; ExecStart=/older/kubelet\n", &[]),
            // outside [Service], or in a section systemd does not know: ignored
            (b"ExecStart=/opt/a\n[Unit]\nExecStart=/opt/b\n[service]\nExecStart=/opt/c\n", &[]),
            (b"[Service]\nExecStart=/opt/a\n[X-Evil]\nExecStart=\nExecStart=/opt/b\n", &[b"/opt/a"]),
            // a non-UTF-8 byte in a comment hides nothing
            (b"# caf\xe9\n[Service]\nExecStart=/opt/evil/kubelet\n", &[b"/opt/evil/kubelet"]),
            // nor in the path itself, which stays its bytes
            (b"[Service]\nExecStart=/opt/caf\xe9/kubelet\n", &[b"/opt/caf\xe9/kubelet"]),
            // a CR ends a line for systemd 243+, and not before: both are audited
            (b"[Service]\n# x\rExecStart=/opt/evil/kubelet\n", &[b"/opt/evil/kubelet"]),
            (b"[Service]\n# x\0ExecStart=/opt/evil/kubelet\n", &[b"/opt/evil/kubelet"]),
            // a comment inside a continuation: skipped since 243, joined before
            (
                b"[Service]\nExecStart=/usr/bin/kubelet \\\n# c\nExecStart=/opt/evil/kubelet\n",
                &[b"/usr/bin/kubelet", b"/opt/evil/kubelet"],
            ),
            (b"[Service]\r\nExecStart=/usr/bin/kubelet \\\r\n --v=2\r\n", &[b"/usr/bin/kubelet"]),
            (b"\xef\xbb\xbf[Service]\nExecStart=/usr/bin/kubelet\n", &[b"/usr/bin/kubelet"]),
        ];
        for (text, want) in cases {
            let want: Vec<Program> = want.iter().map(|p| Program::Path(p.to_vec())).collect();
            assert_eq!(starts(text, false), want, "{}", String::from_utf8_lossy(text));
            assert_eq!(starts(text, true), want, "as a drop-in: {}", String::from_utf8_lossy(text));
        }
        assert_eq!(starts(b"[Service]\nExecStart=kubelet\n", true), [Program::Name(b"kubelet".to_vec())]);
        assert_eq!(starts(b"[Service]\nExecStart=${BIN} x\n", true), [Program::Name(b"${BIN}".to_vec())]);
    }

    #[test]
    fn in_a_drop_in_a_reset_after_a_line_systemd_may_stop_at_is_not_believed() {
        let both: &[&[u8]] = &[b"/opt/evil/kubelet", b"/usr/bin/kubelet"];
        let cases: &[(&[u8], &[&[u8]])] = &[
            (b"\xff\n", both),
            (b"no equals sign\n", both),
            (b"=no key\n", both),
            (b"[Service\n[Service]\n", both),
            (b"ExecStartPre='x\n", both),
            (b"ExecStartPre=bin/x\n", both),
            (b"Type=oneshot\n", both),
            (b"WorkingDirectory=x\n", both),
            (b"[Unit]\nCondition=x\n[Service]\n", both),
            // lines systemd never refuses
            (
                b"[Unit]\nDescription=d\nAfter=a.target\n[Service]\nEnvironment=A=1\nEnvironmentFile=-/x\n",
                &[b"/usr/bin/kubelet"],
            ),
            (b"[Install]\nWantedBy=x\n[X-Mine]\nwhatever\n[Service]\n", &[b"/usr/bin/kubelet"]),
        ];
        for (between, want) in cases {
            let mut text = b"[Service]\nExecStart=/opt/evil/kubelet\n".to_vec();
            text.extend_from_slice(between);
            text.extend_from_slice(b"[Service]\nExecStart=\nExecStart=/usr/bin/kubelet\n");
            let want: Vec<Program> = want.iter().map(|p| Program::Path(p.to_vec())).collect();
            assert_eq!(starts(&text, true), want, "{}", String::from_utf8_lossy(&text));
            // A unit file with such a line is not loaded at all: its resets count.
            assert_eq!(starts(&text, false), [Program::Path(b"/usr/bin/kubelet".to_vec())]);
        }
    }

    #[test]
    fn other_exec_settings_and_their_order() {
        let text = b"[Service]\nExecStopPost=/bin/d\nExecStart=/bin/b\nExecStartPre=-/sbin/modprobe overlay\nExecStartPre=\nExecStartPre=/bin/a\nExecStartPost=/bin/c\n";
        let got: Vec<(&str, Program)> = programs_of(text, "containerd.service", true);
        assert_eq!(
            got,
            [
                ("ExecStartPre", path("/bin/a")),
                ("ExecStart", path("/bin/b")),
                ("ExecStartPost", path("/bin/c")),
                ("ExecStopPost", path("/bin/d"))
            ]
        );
    }

    #[test]
    fn physical_lines_end_as_read_line_ends_them() {
        let lines = |b: &[u8], d| physical_lines(b, d).into_iter().map(|l| l.to_vec()).collect::<Vec<_>>();
        let v = |s: &[&[u8]]| s.iter().map(|l| l.to_vec()).collect::<Vec<_>>();
        assert_eq!(lines(b"a\r\nb\n\rc\r\n\0d\n\ne", Dialect::Current), v(&[b"a", b"b", b"c", b"d", b"", b"e"]));
        assert_eq!(lines(b"a\rb\0\nc", Dialect::Current), v(&[b"a", b"b", b"", b"c"]));
        assert_eq!(lines(b"a\rb\0\nc\n", Dialect::Legacy), v(&[b"a\rb", b"", b"c"]));
        assert_eq!(lines(b"", Dialect::Current), v(&[]));
    }

    #[test]
    fn continuations_and_comments() {
        let texts = |b: &[u8], d| logical_lines(b, d).into_iter().map(|l| (l.number, l.text)).collect::<Vec<_>>();
        assert_eq!(
            texts(b"A=1 \\\n# c\n  2\nB=\\\\\nC=3\\", Dialect::Current),
            [(1, b"A=1    2".to_vec()), (4, b"B=\\\\".to_vec()), (5, b"C=3 ".to_vec())]
        );
        assert_eq!(texts(b"A=1 \\\n# c\n  2\n", Dialect::Legacy), [(1, b"A=1  # c".to_vec()), (3, b"  2".to_vec())]);
    }

    #[test]
    fn prefixes_of_dashed_names() {
        assert_eq!(with_prefixes("kubelet.service"), ["kubelet.service"]);
        assert_eq!(with_prefixes("a-b-c.service"), ["a-b-c.service", "a-b-.service", "a-.service"]);
        assert_eq!(with_prefixes("a-b-.service"), ["a-b-.service", "a-.service"]);
        assert_eq!(with_prefixes("-a.service"), ["-a.service"]);
    }

    #[test]
    fn aliases_and_linked_unit_files() {
        assert_eq!(
            alias_of("etc/systemd/system", Path::new("/usr/lib/systemd/system/k.service")),
            Some("k.service".into())
        );
        assert_eq!(
            alias_of("etc/systemd/system", Path::new("../../../lib/systemd/system/k.service")),
            Some("k.service".into())
        );
        assert_eq!(alias_of("etc/systemd/system", Path::new("k2.service")), Some("k2.service".into()));
        assert_eq!(alias_of("etc/systemd/system", Path::new("/opt/k8s/k.service")), None);
        assert_eq!(alias_of("etc/systemd/system", Path::new("/dev/null")), None);
    }

    #[test]
    fn hostile_files_never_panic() {
        let mut seed = 0x9e37_79b9_u64;
        let alphabet = b"[]Service=ExecStart \\\n\r\0#;'\"%x6c/\xff\xef\xbb\xbf.include";
        for len in 0..200 {
            for _ in 0..50 {
                let text = super::super::hostile_bytes(&mut seed, alphabet, len);
                let _ = programs_of(&text, "kubelet.service", true);
            }
        }
    }
}
