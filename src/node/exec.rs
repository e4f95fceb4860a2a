//! Command lines as systemd reads them (systemd.service(5), "Command lines") and as env(1)
//! reads its own: which program an `Exec*=` value makes systemd run. Unit files are not
//! UTF-8 by contract, so everything here is bytes; a path stays the bytes it names.
//!
//! The rules follow systemd's own parser (`config_parse_exec`, `extract_first_word`,
//! `cunescape_one`, `specifier_printf`, `replace_env_argv`) and GNU coreutils' `env`.
//! Where systemd refuses a value, `clean` is false: a later reset in the same file is then
//! not trusted to have happened (see `units.rs`).

use std::collections::BTreeMap;

/// systemd's `WHITESPACE`: what separates words, and is stripped around keys and values.
pub const WHITESPACE: &[u8] = b" \t\n\r";

pub fn is_space(b: u8) -> bool {
    WHITESPACE.contains(&b)
}

/// Leading and trailing [`WHITESPACE`] removed (systemd's `strstrip`).
pub fn strip(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if !is_space(*first) {
            break;
        }
        s = rest;
    }
    while let [rest @ .., last] = s {
        if !is_space(*last) {
            break;
        }
        s = rest;
    }
    s
}

/// What systemd would execute for one command of an `Exec*=` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Program {
    /// An absolute path, run as is.
    Path(Vec<u8>),
    /// A bare name, which systemd looks up in its fixed search path when it loads the unit.
    Name(Vec<u8>),
    /// A word the user's shell runs (the `|` prefix): looked up in the service's `PATH`.
    Shell(Vec<u8>),
    /// A word with a specifier kverify cannot expand without the running host (`%H`).
    Unresolved { word: Vec<u8>, why: String },
}

/// A word after the program, its specifiers expanded when they can be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Word {
    Known(Vec<u8>),
    /// Holds a specifier that depends on the running host; only matters when a wrapper
    /// such as env(1) takes its program from it.
    Unresolved(Vec<u8>),
}

/// One command of an `Exec*=` value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Command {
    pub program: Program,
    /// argv after the program: with `@`, the first is argv[0] as the program sees it.
    pub args: Vec<Word>,
    /// `@`: the first argument is argv[0], not an argument.
    pub separate_argv0: bool,
    /// `:`: no `$VAR` expansion in the arguments.
    pub no_env_expand: bool,
}

/// What an `Exec*=` assignment does to its list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExecValue {
    /// `ExecStart=` with nothing after it: the list so far is emptied.
    Reset,
    /// Commands appended to the list. `clean` is false when systemd refuses part of the
    /// value, which may make it stop reading the file there.
    Commands { commands: Vec<Command>, clean: bool },
}

/// What `%` specifiers expand to for one unit of the system manager (systemd.unit(5),
/// "Specifiers"), as far as they do not depend on the running host.
#[derive(Clone, Debug)]
pub struct Specifiers {
    /// The unit's name, `kubelet.service`.
    pub unit: String,
    /// The unit file as the host sees it, after links (`%y`).
    pub fragment: Option<Vec<u8>>,
}

impl Specifiers {
    pub fn new(unit: &str) -> Specifiers {
        Specifiers { unit: unit.to_string(), fragment: None }
    }

    /// The name without its type suffix (`kubelet`), and its instance (empty unless
    /// `name@instance.service`).
    fn prefix_and_instance(&self) -> (&str, &str) {
        let stem = self.unit.rsplit_once('.').map_or(self.unit.as_str(), |(stem, _)| stem);
        match stem.split_once('@') {
            Some((prefix, instance)) => (prefix, instance),
            None => (stem, ""),
        }
    }

    fn value(&self, c: u8) -> Result<Vec<u8>, String> {
        let (prefix, instance) = self.prefix_and_instance();
        let last = prefix.rsplit_once('-').map_or(prefix, |(_, last)| last);
        let text = match c {
            b'n' => self.unit.clone(),
            b'N' => self.unit.rsplit_once('.').map_or(self.unit.as_str(), |(stem, _)| stem).to_string(),
            b'p' => prefix.to_string(),
            b'i' => instance.to_string(),
            b'j' => last.to_string(),
            b'P' => return Ok(unescape_unit_name(prefix.as_bytes())),
            b'I' => return Ok(unescape_unit_name(instance.as_bytes())),
            b'J' => return Ok(unescape_unit_name(last.as_bytes())),
            b'f' => {
                let of = if instance.is_empty() { prefix } else { instance };
                return Ok(unescape_unit_path(of.as_bytes()));
            }
            b'y' | b'Y' => {
                let Some(fragment) = &self.fragment else { return Err(format!("%{} (no unit file)", c as char)) };
                if c == b'y' {
                    return Ok(fragment.clone());
                }
                let end = fragment.iter().rposition(|&b| b == b'/').unwrap_or(0);
                return Ok(if end == 0 { b"/".to_vec() } else { fragment[..end].to_vec() });
            }
            // The system manager's directories and user (root).
            b't' => "/run".into(),
            b'S' => "/var/lib".into(),
            b'C' => "/var/cache".into(),
            b'L' => "/var/log".into(),
            b'E' => "/etc".into(),
            b'T' => "/tmp".into(),
            b'V' => "/var/tmp".into(),
            b'h' => "/root".into(),
            b'u' | b'g' => "root".into(),
            b'U' | b'G' => "0".into(),
            b'd' => format!("/run/credentials/{}", self.unit),
            // %H %l %q %m %b %v %a %o %w %W %A %B %M %s %c %r %R, and any added later.
            _ => return Err(format!("%{} depends on the running host", c as char)),
        };
        Ok(text.into_bytes())
    }

    /// `word` with its specifiers expanded: `%%` is `%`, `%` before anything but a
    /// letter or digit (or at the end) stays as written, as in systemd.
    pub fn expand(&self, word: &[u8]) -> Result<Vec<u8>, String> {
        let mut out = Vec::with_capacity(word.len());
        let mut i = 0;
        while i < word.len() {
            match (word[i], word.get(i + 1)) {
                (b'%', Some(b'%')) => out.push(b'%'),
                (b'%', Some(&c)) if c.is_ascii_alphanumeric() => out.extend(self.value(c)?),
                (b'%', Some(&c)) => out.extend([b'%', c]),
                (b'%', None) => {
                    out.push(b'%');
                    break;
                }
                (b, _) => {
                    out.push(b);
                    i += 1;
                    continue;
                }
            }
            i += 2;
        }
        Ok(out)
    }
}

/// `\xNN` sequences of a unit name part decoded (`unit_name_unescape`).
fn unescape_unit_name(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'\\' && s.get(i + 1) == Some(&b'x') {
            if let (Some(a), Some(b)) = (s.get(i + 2).and_then(|c| hex(*c)), s.get(i + 3).and_then(|c| hex(*c))) {
                out.push(a << 4 | b);
                i += 4;
                continue;
            }
        }
        out.push(s[i]);
        i += 1;
    }
    out
}

/// A unit name part as the path it escapes (`%f`): `-` is `/`, led by `/`.
fn unescape_unit_path(s: &[u8]) -> Vec<u8> {
    let dashes: Vec<u8> = s.iter().map(|&b| if b == b'-' { b'/' } else { b }).collect();
    let mut out = vec![b'/'];
    out.extend(unescape_unit_name(&dashes).into_iter().skip_while(|&b| b == b'/'));
    out
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// One C escape after a backslash (`cunescape_one`): the bytes it stands for and how
/// many input bytes it took, or `None` for an escape systemd does not know.
pub fn unescape_one(s: &[u8]) -> Option<(Vec<u8>, usize)> {
    let single = |b: u8| Some((vec![b], 1));
    match *s.first()? {
        b'a' => single(0x07),
        b'b' => single(0x08),
        b'f' => single(0x0c),
        b'n' => single(b'\n'),
        b'r' => single(b'\r'),
        b't' => single(b'\t'),
        b'v' => single(0x0b),
        b'\\' => single(b'\\'),
        b'"' => single(b'"'),
        b'\'' => single(b'\''),
        b's' => single(b' '),
        b'x' => {
            let v = hex(*s.get(1)?)? << 4 | hex(*s.get(2)?)?;
            (v != 0).then(|| (vec![v], 3))
        }
        c @ (b'u' | b'U') => {
            let n = if c == b'u' { 4 } else { 8 };
            let digits = s.get(1..=n)?;
            let v = digits.iter().try_fold(0u32, |acc, d| Some(acc << 4 | u32::from(hex(*d)?)))?;
            let valid = v != 0 && (c == b'u' || (v <= 0x10ffff && !(0xd800..=0xdfff).contains(&v)));
            valid.then(|| (encode_utf8(v), n + 1))
        }
        b'0'..=b'7' => {
            let digits = s.get(..3)?;
            let v = digits.iter().try_fold(0u32, |acc, d| match d {
                b'0'..=b'7' => Some(acc << 3 | u32::from(d - b'0')),
                _ => None,
            })?;
            (v != 0 && v <= 255).then(|| (vec![v as u8], 3))
        }
        _ => None,
    }
}

/// UTF-8 of a code point the way systemd writes it (surrogates included).
fn encode_utf8(v: u32) -> Vec<u8> {
    match v {
        0..=0x7f => vec![v as u8],
        0x80..=0x7ff => vec![0xc0 | (v >> 6) as u8, 0x80 | (v & 0x3f) as u8],
        0x800..=0xffff => vec![0xe0 | (v >> 12) as u8, 0x80 | ((v >> 6) & 0x3f) as u8, 0x80 | (v & 0x3f) as u8],
        _ => vec![
            0xf0 | (v >> 18) as u8,
            0x80 | ((v >> 12) & 0x3f) as u8,
            0x80 | ((v >> 6) & 0x3f) as u8,
            0x80 | (v & 0x3f) as u8,
        ],
    }
}

/// Why a word could not be taken from a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WordError {
    /// A quote with no end: systemd refuses the value.
    Unbalanced,
}

/// The next word of `s` from `*pos`, quotes removed and C escapes decoded, as systemd's
/// `extract_first_word(…, EXTRACT_UNQUOTE|EXTRACT_CUNESCAPE)` does after its relaxed retry:
/// a quote may open anywhere in a word; an unknown escape or a trailing backslash is kept
/// as written. `None` when only separators are left.
pub fn next_word(s: &[u8], pos: &mut usize) -> Result<Option<Vec<u8>>, WordError> {
    while *pos < s.len() && is_space(s[*pos]) {
        *pos += 1;
    }
    if *pos >= s.len() {
        return Ok(None);
    }
    let mut word = Vec::new();
    let mut quote: Option<u8> = None;
    loop {
        let Some(&c) = s.get(*pos) else {
            return match quote {
                Some(_) => Err(WordError::Unbalanced),
                None => Ok(Some(word)),
            };
        };
        *pos += 1;
        match (quote, c) {
            (_, b'\\') => match s.get(*pos) {
                None if quote.is_some() => return Err(WordError::Unbalanced),
                None => {
                    word.push(b'\\');
                    return Ok(Some(word));
                }
                Some(&next) => match unescape_one(&s[*pos..]) {
                    Some((bytes, used)) => {
                        word.extend(bytes);
                        *pos += used;
                    }
                    None => {
                        word.extend([b'\\', next]);
                        *pos += 1;
                    }
                },
            },
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, b'\'' | b'"') => quote = Some(c),
            (None, c) if is_space(c) => {
                while *pos < s.len() && is_space(s[*pos]) {
                    *pos += 1;
                }
                return Ok(Some(word));
            }
            (None, c) => word.push(c),
        }
    }
}

/// The value of an `Exec*=` assignment (`config_parse_exec`).
pub fn parse_exec(value: &[u8], specifiers: &Specifiers) -> ExecValue {
    let mut pos = 0;
    while pos < value.len() && is_space(value[pos]) {
        pos += 1;
    }
    if pos == value.len() {
        return ExecValue::Reset;
    }
    let mut commands = Vec::new();
    loop {
        let first = match next_word(value, &mut pos) {
            Ok(Some(word)) => word,
            Ok(None) => return ExecValue::Commands { commands, clean: true },
            Err(_) => return ExecValue::Commands { commands, clean: false },
        };
        let (flags, rest) = prefixes(&first);
        let program = match specifiers.expand(rest) {
            Err(why) => Program::Unresolved { word: rest.to_vec(), why },
            Ok(path) if path.is_empty() || path.ends_with(b"/") || !is_safe(&path) => {
                return ExecValue::Commands { commands, clean: false };
            }
            Ok(path) if flags.via_shell => Program::Shell(path),
            Ok(path) if path.starts_with(b"/") => Program::Path(path),
            Ok(path) if !path.contains(&b'/') && path != b"." && path != b".." => Program::Name(path),
            Ok(_) => return ExecValue::Commands { commands, clean: false },
        };
        let mut args = Vec::new();
        let mut more = false;
        loop {
            let at = |p: usize| value.get(p).is_none_or(|&c| is_space(c));
            if value.get(pos) == Some(&b';') && at(pos + 1) {
                pos += 1;
                more = true;
                break;
            }
            if value.get(pos..pos + 2) == Some(b"\\;") && at(pos + 2) {
                pos += 2;
                while pos < value.len() && is_space(value[pos]) {
                    pos += 1;
                }
                args.push(Word::Known(b";".to_vec()));
                continue;
            }
            match next_word(value, &mut pos) {
                Ok(Some(word)) => args.push(match specifiers.expand(&word) {
                    Ok(expanded) => Word::Known(expanded),
                    Err(_) => Word::Unresolved(word),
                }),
                Ok(None) => break,
                // systemd drops the whole command, and may stop reading the file.
                Err(_) => return ExecValue::Commands { commands, clean: false },
            }
        }
        if flags.separate_argv0 && args.is_empty() {
            return ExecValue::Commands { commands, clean: false };
        }
        let clean = !matches!(program, Program::Unresolved { .. });
        commands.push(Command {
            program,
            args,
            separate_argv0: flags.separate_argv0,
            no_env_expand: flags.no_env_expand,
        });
        if !clean {
            return ExecValue::Commands { commands, clean };
        }
        if !more {
            return ExecValue::Commands { commands, clean: true };
        }
    }
}

#[derive(Default)]
struct Flags {
    ignore_failure: bool,
    separate_argv0: bool,
    no_env_expand: bool,
    via_shell: bool,
    /// `+`, `!` or `!!`: how privileges are applied, never which program runs.
    privileges: u8,
}

/// The prefixes systemd takes off the first word (`-@:+!!|`), each at most once, `+`
/// and `!`/`!!` exclusive, in any order; the first repeat ends them.
fn prefixes(word: &[u8]) -> (Flags, &[u8]) {
    let mut f = Flags::default();
    let mut i = 0;
    while let Some(&c) = word.get(i) {
        match c {
            b'-' if !f.ignore_failure => f.ignore_failure = true,
            b'@' if !f.separate_argv0 => f.separate_argv0 = true,
            b':' if !f.no_env_expand => f.no_env_expand = true,
            b'|' if !f.via_shell => f.via_shell = true,
            b'+' if f.privileges == 0 => f.privileges = b'+',
            b'!' if f.privileges == 0 => f.privileges = b'!',
            b'!' if f.privileges == b'!' => f.privileges = b'2',
            _ => break,
        }
        i += 1;
    }
    (f, &word[i..])
}

/// systemd's `string_is_safe`: no control characters, quotes or backslashes in a path.
fn is_safe(path: &[u8]) -> bool {
    !path.iter().any(|&b| b < b' ' || b == 0x7f || b == b'"' || b == b'\'' || b == b'\\')
}

/// The variables a unit sets for its processes, in the order its files set them.
#[derive(Clone, Debug, Default)]
pub struct Environment {
    pub vars: BTreeMap<Vec<u8>, Vec<u8>>,
    /// Set by something kverify does not read (`EnvironmentFile=`, `PassEnvironment=`):
    /// any variable may be set there.
    pub elsewhere: bool,
    /// `WorkingDirectory=`, when it is an absolute path (`None` is `/`).
    pub working_directory: Option<Vec<u8>>,
    /// `WorkingDirectory=` that kverify cannot place (`~` of another user, a specifier).
    pub working_directory_unknown: bool,
}

impl Environment {
    /// An `Environment=` assignment (`config_parse_environ`): words of `NAME=value`; an
    /// empty one forgets what came before. Specifiers are expanded in a unit's; the
    /// manager's `DefaultEnvironment=` has none (`specifiers` is `None`).
    pub fn assign(&mut self, value: &[u8], specifiers: Option<&Specifiers>) {
        let value = strip(value);
        if value.is_empty() {
            self.vars.clear();
            return;
        }
        let mut pos = 0;
        while let Ok(Some(word)) = next_word(value, &mut pos) {
            let word = match specifiers.map(|s| s.expand(&word)) {
                None => word,
                Some(Ok(word)) => word,
                Some(Err(_)) => continue,
            };
            let Some(eq) = word.iter().position(|&b| b == b'=') else { continue };
            if is_name(&word[..eq]) {
                self.vars.insert(word[..eq].to_vec(), word[eq + 1..].to_vec());
            }
        }
    }

    /// What a service starts from: the manager's `DefaultEnvironment=` (`defaults`), under
    /// what the unit sets itself (`strv_env_merge`: the unit's value wins).
    pub fn inherit(&mut self, defaults: &Environment) {
        for (name, value) in &defaults.vars {
            self.vars.entry(name.clone()).or_insert_with(|| value.clone());
        }
        self.elsewhere |= defaults.elsewhere;
    }

    /// The `PATH` the service's processes start with: systemd's default unless the unit
    /// or the manager's `DefaultEnvironment=` sets one; `None` when it may come from a
    /// file kverify does not read.
    pub fn path(&self) -> Option<Vec<u8>> {
        match self.vars.get(b"PATH".as_slice()) {
            Some(path) => Some(path.clone()),
            None if self.elsewhere => None,
            None => Some(SERVICE_PATH.to_vec()),
        }
    }

    /// The arguments of `command` after systemd's `$VAR` and `${VAR}` expansion
    /// (`replace_env_argv`): a `$VAR` word becomes the value's words, `${VAR}` inside a
    /// word its value, `$$` a `$`. A variable the unit does not set makes its word
    /// unknown: it may be set by the manager or a file kverify does not read.
    pub fn expand_args(&self, command: &Command) -> Vec<Word> {
        if command.no_env_expand {
            return command.args.clone();
        }
        let mut out = Vec::new();
        for arg in &command.args {
            let Word::Known(word) = arg else {
                out.push(arg.clone());
                continue;
            };
            if word.first() == Some(&b'$') && !matches!(word.get(1), Some(b'{' | b'$')) {
                match self.vars.get(&word[1..]) {
                    Some(value) => {
                        let mut pos = 0;
                        while let Ok(Some(w)) = next_word(value, &mut pos) {
                            out.push(Word::Known(w));
                        }
                    }
                    None => out.push(Word::Unresolved(word.clone())),
                }
                continue;
            }
            out.push(self.expand_braces(word));
        }
        out
    }

    fn expand_braces(&self, word: &[u8]) -> Word {
        let mut out = Vec::with_capacity(word.len());
        let mut i = 0;
        while i < word.len() {
            match (word[i], word.get(i + 1)) {
                (b'$', Some(b'$')) => {
                    out.push(b'$');
                    i += 2;
                }
                (b'$', Some(b'{')) => {
                    let Some(len) = word[i + 2..].iter().position(|&b| b == b'}') else {
                        out.extend(&word[i..]);
                        break;
                    };
                    let name = &word[i + 2..i + 2 + len];
                    if name.contains(&b':') {
                        // `${A:-b}` is not expanded in command lines: kept as written.
                        out.extend(&word[i..i + 3 + len]);
                    } else {
                        match self.vars.get(name) {
                            Some(value) => out.extend(value),
                            None => return Word::Unresolved(word.to_vec()),
                        }
                    }
                    i += 3 + len;
                }
                (b, _) => {
                    out.push(b);
                    i += 1;
                }
            }
        }
        Word::Known(out)
    }
}

/// The `PATH` systemd gives services (`DEFAULT_PATH`, split /usr included).
pub const SERVICE_PATH: &[u8] = b"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Where systemd looks up a bare program name when it loads a unit, in order.
pub const SYSTEMD_EXEC_PATH: &[&str] = &["usr/local/sbin", "usr/local/bin", "usr/sbin", "usr/bin", "sbin", "bin"];

/// glibc's `execvp` path when `PATH` is unset.
pub const UNSET_PATH: &[u8] = b"/bin:/usr/bin";

fn is_name(s: &[u8]) -> bool {
    matches!(s.first(), Some(c) if c.is_ascii_alphabetic() || *c == b'_')
        && s.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

/// What env(1) goes on to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EnvRuns {
    /// `command`, found as `execvp` finds it: through `path` when it has no `/`
    /// (`Inherit`: the service's own `PATH`), from `cwd` when it is relative.
    Program { command: Vec<u8>, path: PathSetting, cwd: Option<Vec<u8>>, rest: Vec<Word> },
    /// Nothing: env prints the environment, or refuses its arguments.
    Nothing,
    /// What it runs depends on something kverify cannot know.
    Unknown(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathSetting {
    Inherit,
    Unset,
    Set(Vec<u8>),
}

/// GNU env's options, `NAME=value` operands and command (coreutils `env.c`:
/// `getopt_long("+C:iS:u:v0a:")`, `-` as `-i`, `-S` split and read as more arguments).
pub fn env_runs(args: &[Word]) -> EnvRuns {
    const LONG: &[(&str, u8, bool)] = &[
        ("argv0", b'a', true),
        ("block-signal", b'B', false),
        ("chdir", b'C', true),
        ("debug", b'v', false),
        ("default-signal", b'D', false),
        ("help", b'h', false),
        ("ignore-environment", b'i', false),
        ("ignore-signal", b'I', false),
        ("list-signal-handling", b'L', false),
        ("null", b'0', false),
        ("split-string", b'S', true),
        ("unset", b'u', true),
        ("version", b'V', false),
    ];
    let mut words: Vec<Word> = args.to_vec();
    let (mut ignore, mut unset_path, mut cwd) = (false, false, None::<Vec<u8>>);
    let mut i = 0;
    let known = |w: &Word| match w {
        Word::Known(b) => Ok(b.clone()),
        Word::Unresolved(b) => Err(format!("env's argument {} is set outside the unit", String::from_utf8_lossy(b))),
    };
    // Options.
    while i < words.len() {
        let w = match known(&words[i]) {
            Ok(w) => w,
            Err(e) => return EnvRuns::Unknown(e),
        };
        if w == b"--" {
            i += 1;
            break;
        }
        if w == b"-" || !w.starts_with(b"-") {
            break;
        }
        i += 1;
        let mut opts: Vec<(u8, Option<Vec<u8>>)> = Vec::new();
        if let Some(long) = w.strip_prefix(b"--") {
            let (name, inline) = match long.iter().position(|&b| b == b'=') {
                Some(eq) => (&long[..eq], Some(long[eq + 1..].to_vec())),
                None => (long, None),
            };
            let matches: Vec<_> = LONG.iter().filter(|(n, _, _)| n.as_bytes().starts_with(name)).collect();
            let exact = LONG.iter().find(|(n, _, _)| n.as_bytes() == name);
            let Some(&(_, code, needs)) = exact.or(if matches.len() == 1 { Some(matches[0]) } else { None }) else {
                return EnvRuns::Nothing;
            };
            let arg = match (needs, inline) {
                (true, Some(v)) => Some(v),
                (true, None) => match words.get(i).map(known) {
                    Some(Ok(v)) => {
                        i += 1;
                        Some(v)
                    }
                    Some(Err(e)) => return EnvRuns::Unknown(e),
                    None => return EnvRuns::Nothing,
                },
                (false, _) => None,
            };
            opts.push((code, arg));
        } else {
            let mut j = 1;
            while j < w.len() {
                let c = w[j];
                j += 1;
                match c {
                    b'i' | b'0' | b'v' => opts.push((c, None)),
                    b'a' | b'C' | b'S' | b'u' => {
                        let arg = if j < w.len() {
                            w[j..].to_vec()
                        } else {
                            match words.get(i).map(known) {
                                Some(Ok(v)) => {
                                    i += 1;
                                    v
                                }
                                Some(Err(e)) => return EnvRuns::Unknown(e),
                                None => return EnvRuns::Nothing,
                            }
                        };
                        opts.push((c, Some(arg)));
                        break;
                    }
                    _ => return EnvRuns::Nothing,
                }
            }
        }
        for (code, arg) in opts {
            match (code, arg) {
                (b'i', _) => ignore = true,
                (b'u', Some(name)) if name == b"PATH" => unset_path = true,
                (b'C', Some(dir)) => cwd = Some(dir),
                (b'S', Some(text)) => match split_string(&text) {
                    Ok(split) => {
                        let tail = words.split_off(i);
                        words.extend(split.into_iter().map(Word::Known));
                        words.extend(tail);
                    }
                    Err(e) => return e,
                },
                (b'h' | b'V' | b'L', _) => return EnvRuns::Nothing,
                _ => {}
            }
        }
    }
    if matches!(words.get(i), Some(Word::Known(w)) if w == b"-") {
        ignore = true;
        i += 1;
    }
    let mut path = if ignore || unset_path { PathSetting::Unset } else { PathSetting::Inherit };
    // NAME=value operands, then the command.
    while let Some(word) = words.get(i) {
        let w = match known(word) {
            Ok(w) => w,
            Err(e) => return EnvRuns::Unknown(e),
        };
        let Some(eq) = w.iter().position(|&b| b == b'=') else { break };
        if eq == 0 {
            return EnvRuns::Nothing;
        }
        if &w[..eq] == b"PATH" {
            path = PathSetting::Set(w[eq + 1..].to_vec());
        }
        i += 1;
    }
    match words.get(i).map(known) {
        None => EnvRuns::Nothing,
        Some(Err(e)) => EnvRuns::Unknown(e),
        Some(Ok(command)) => EnvRuns::Program { command, path, cwd, rest: words[i + 1..].to_vec() },
    }
}

/// `env -S STRING` split into arguments (coreutils `build_argv`): spaces separate,
/// `'…'` is literal, `"…"` and bare words take backslash escapes, `#` at the start of
/// a word ends the string, `\c` ends it too; `${VAR}` (env's own environment) is not
/// followed.
fn split_string(s: &[u8]) -> Result<Vec<Vec<u8>>, EnvRuns> {
    let mut out = Vec::new();
    let mut word: Option<Vec<u8>> = None;
    let mut i = 0;
    let mut quote: Option<u8> = None;
    while i < s.len() {
        let c = s[i];
        i += 1;
        match (quote, c) {
            (None, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r') => out.extend(word.take()),
            (None, b'#') if word.is_none() => break,
            (None, b'\'' | b'"') => {
                quote = Some(c);
                word.get_or_insert_with(Vec::new);
            }
            (Some(q), c) if c == q => quote = None,
            (q, b'\\') if q != Some(b'\'') || matches!(s.get(i), Some(b'\\' | b'\'')) => {
                let Some(&e) = s.get(i) else { return Err(EnvRuns::Nothing) };
                i += 1;
                let byte = match e {
                    b'c' if q.is_none() => {
                        out.extend(word.take());
                        return Ok(out);
                    }
                    b'_' if q.is_none() => {
                        out.extend(word.take());
                        continue;
                    }
                    b'_' => b' ',
                    b'n' => b'\n',
                    b'r' => b'\r',
                    b't' => b'\t',
                    b'v' => 0x0b,
                    b'f' => 0x0c,
                    b'\\' | b'\'' | b'"' | b'$' | b'#' => e,
                    _ => return Err(EnvRuns::Nothing),
                };
                word.get_or_insert_with(Vec::new).push(byte);
            }
            (q, b'$') if q != Some(b'\'') => {
                return Err(EnvRuns::Unknown("env -S expands a variable of its own environment".into()))
            }
            (_, c) => word.get_or_insert_with(Vec::new).push(c),
        }
    }
    if quote.is_some() {
        return Err(EnvRuns::Nothing);
    }
    out.extend(word);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> Specifiers {
        Specifiers {
            unit: "kubelet.service".into(),
            fragment: Some(b"/usr/lib/systemd/system/kubelet.service".to_vec()),
        }
    }

    fn programs(value: &[u8]) -> Vec<Program> {
        match parse_exec(value, &spec()) {
            ExecValue::Reset => panic!("a reset: {value:?}"),
            ExecValue::Commands { commands, .. } => commands.into_iter().map(|c| c.program).collect(),
        }
    }

    fn path(p: &[u8]) -> Program {
        Program::Path(p.to_vec())
    }

    #[test]
    fn the_program_of_an_exec_value_as_systemd_reads_it() {
        let cases: &[(&[u8], &[Program])] = &[
            (b"/usr/bin/kubelet --config x", &[path(b"/usr/bin/kubelet")]),
            // prefixes, any order, each once
            (b"-/usr/bin/kubelet", &[path(b"/usr/bin/kubelet")]),
            (b"@/usr/bin/kubelet kubelet --v=2", &[path(b"/usr/bin/kubelet")]),
            (b":/usr/bin/kubelet", &[path(b"/usr/bin/kubelet")]),
            (b"+/usr/bin/kubelet", &[path(b"/usr/bin/kubelet")]),
            (b"!/usr/bin/kubelet", &[path(b"/usr/bin/kubelet")]),
            (b"!!/usr/bin/kubelet", &[path(b"/usr/bin/kubelet")]),
            (b"-@:!!/usr/bin/kubelet argv0", &[path(b"/usr/bin/kubelet")]),
            (b"+-@/usr/bin/kubelet argv0", &[path(b"/usr/bin/kubelet")]),
            (b"|kubelet --v=2", &[Program::Shell(b"kubelet".to_vec())]),
            // quotes, anywhere in the word
            (b"'/opt/evil/kubelet' --v=2", &[path(b"/opt/evil/kubelet")]),
            (b"\"/opt/with space/kubelet\" --x", &[path(b"/opt/with space/kubelet")]),
            (b"-\"/opt/evil/kubelet\"", &[path(b"/opt/evil/kubelet")]),
            (b"/opt/'ev il'/kubelet", &[path(b"/opt/ev il/kubelet")]),
            (b"\"-/opt/evil/kubelet\"", &[path(b"/opt/evil/kubelet")]),
            // C escapes
            (b"/opt/evil/kube\\x6cet", &[path(b"/opt/evil/kubelet")]),
            (b"/opt/evil/kube\\154et", &[path(b"/opt/evil/kubelet")]),
            (b"/opt/evil/kube\\u006cet", &[path(b"/opt/evil/kubelet")]),
            (b"/opt/evil/kube\\U0000006cet", &[path(b"/opt/evil/kubelet")]),
            (b"/opt/evil\\skube/kubelet", &[path(b"/opt/evil kube/kubelet")]),
            (b"'/opt/evil/kube\\x6cet'", &[path(b"/opt/evil/kubelet")]),
            (b"/opt/caf\\xe9/kubelet", &[path(b"/opt/caf\xe9/kubelet")]),
            (b"/opt/caf\xe9/kubelet", &[path(b"/opt/caf\xe9/kubelet")]),
            // an unknown escape is kept as written; then the path is unsafe and refused
            (b"/opt/evil/kube\\qlet", &[]),
            // specifiers
            (b"/opt/%%/kubelet", &[path(b"/opt/%/kubelet")]),
            (b"%E/k8s/%N", &[path(b"/etc/k8s/kubelet")]),
            (b"/opt/%n.d/run", &[path(b"/opt/kubelet.service.d/run")]),
            (b"%Y/../bin/kubelet", &[path(b"/usr/lib/systemd/system/../bin/kubelet")]),
            (b"/opt/%/x", &[path(b"/opt/%/x")]),
            (b"/opt/x%", &[path(b"/opt/x%")]),
            (b"/opt/\\x25n", &[path(b"/opt/kubelet.service")]),
            (
                b"/opt/%H/kubelet",
                &[Program::Unresolved {
                    word: b"/opt/%H/kubelet".to_vec(),
                    why: "%H depends on the running host".into(),
                }],
            ),
            // bare names; relative paths and directories are refused by systemd
            (b"kubelet --x", &[Program::Name(b"kubelet".to_vec())]),
            (b"bin/kubelet", &[]),
            (b"/opt/bin/", &[]),
            (b"-", &[]),
            (b"@/usr/bin/kubelet", &[]),
            // several commands, `;` as a word of its own
            (b"/bin/a x ; /bin/b y", &[path(b"/bin/a"), path(b"/bin/b")]),
            (b"/bin/a x \\; /bin/b", &[path(b"/bin/a")]),
            (b"/bin/a x;y", &[path(b"/bin/a")]),
            // unbalanced quoting: systemd ignores the value
            (b"\"/opt/evil/kubelet", &[]),
            (b"/usr/bin/kubelet 'x", &[]),
        ];
        for (value, want) in cases {
            assert_eq!(programs(value), *want, "{}", String::from_utf8_lossy(value));
        }
        assert_eq!(parse_exec(b"", &spec()), ExecValue::Reset);
        assert_eq!(parse_exec(b"  \t", &spec()), ExecValue::Reset);
    }

    #[test]
    fn arguments_and_what_is_clean() {
        let ExecValue::Commands { commands, clean } = parse_exec(b"@/usr/bin/env  fake 'a b' c\\x20d %i%p", &spec())
        else {
            panic!()
        };
        assert!(clean);
        let args: Vec<Word> =
            ["fake", "a b", "c d", "kubelet"].iter().map(|a| Word::Known(a.as_bytes().to_vec())).collect();
        assert_eq!(commands[0].args, args);
        assert!(commands[0].separate_argv0);
        for refused in [&b"bin/kubelet"[..], b"\"/x", b"/x 'y", b"/opt/%H/kubelet"] {
            let ExecValue::Commands { clean, .. } = parse_exec(refused, &spec()) else { panic!() };
            assert!(!clean, "{}", String::from_utf8_lossy(refused));
        }
        // An argument whose specifier depends on the host stays unresolved.
        let ExecValue::Commands { commands, clean } = parse_exec(b"/usr/bin/env %H", &spec()) else { panic!() };
        assert!(clean);
        assert_eq!(commands[0].args, [Word::Unresolved(b"%H".to_vec())]);
    }

    #[test]
    fn c_escapes_as_cunescape_one() {
        type Case<'a> = (&'a [u8], Option<(&'a [u8], usize)>);
        let cases: &[Case] = &[
            (b"n", Some((b"\n", 1))),
            (b"x41", Some((b"A", 3))),
            (b"x00", None),
            (b"x4", None),
            (b"101", Some((b"A", 3))),
            (b"000", None),
            (b"477", None),
            (b"18", None),
            (b"u00e9", Some(("é".as_bytes(), 5))),
            (b"U0001F600", Some(("😀".as_bytes(), 9))),
            (b"U00110000", None),
            (b"q", None),
            (b"", None),
        ];
        for (input, want) in cases {
            assert_eq!(unescape_one(input), want.map(|(b, n)| (b.to_vec(), n)), "{input:?}");
        }
    }

    #[test]
    fn environment_and_expansion() {
        let mut env = Environment::default();
        env.assign(b"\"A=one two\" B=2 bad-name=x PATH=/opt/bin", Some(&spec()));
        assert_eq!(env.vars.get(&b"A"[..]).unwrap(), b"one two");
        assert!(!env.vars.contains_key(&b"bad-name"[..]));
        assert_eq!(env.path().unwrap(), b"/opt/bin");
        let ExecValue::Commands { commands, .. } = parse_exec(b"/usr/bin/env $A ${B}x $$B $C ${C}", &spec()) else {
            panic!()
        };
        let k = |s: &str| Word::Known(s.as_bytes().to_vec());
        let u = |s: &str| Word::Unresolved(s.as_bytes().to_vec());
        assert_eq!(env.expand_args(&commands[0]), [k("one"), k("two"), k("2x"), k("$B"), u("$C"), u("${C}")]);
        env.assign(b"", Some(&spec()));
        assert!(env.vars.is_empty());
        assert_eq!(env.path().unwrap(), SERVICE_PATH);
        env.elsewhere = true;
        assert_eq!(env.path(), None);

        // The manager's DefaultEnvironment= has no specifiers; a unit's own value wins.
        let mut defaults = Environment::default();
        defaults.assign(b"PATH=/opt/%n LANG=C", None);
        let mut unit = Environment::default();
        unit.assign(b"LANG=en_US.UTF-8", Some(&spec()));
        unit.inherit(&defaults);
        assert_eq!(unit.path().unwrap(), b"/opt/%n");
        assert_eq!(unit.vars.get(&b"LANG"[..]).unwrap(), b"en_US.UTF-8");
    }

    #[test]
    fn what_env_runs() {
        let words = |s: &[&str]| s.iter().map(|w| Word::Known(w.as_bytes().to_vec())).collect::<Vec<_>>();
        let runs = |cmd: &str, path: PathSetting, cwd: Option<&str>| EnvRuns::Program {
            command: cmd.as_bytes().to_vec(),
            path,
            cwd: cwd.map(|c| c.as_bytes().to_vec()),
            rest: vec![],
        };
        let set = |p: &str| PathSetting::Set(p.as_bytes().to_vec());
        let cases: Vec<(Vec<&str>, EnvRuns)> = vec![
            (vec!["/opt/evil/kubelet"], runs("/opt/evil/kubelet", PathSetting::Inherit, None)),
            (vec!["KUBECONFIG=/x", "kubelet"], runs("kubelet", PathSetting::Inherit, None)),
            (vec!["-i", "PATH=/opt/evil", "kubelet"], runs("kubelet", set("/opt/evil"), None)),
            (vec!["-i", "kubelet"], runs("kubelet", PathSetting::Unset, None)),
            (vec!["-", "kubelet"], runs("kubelet", PathSetting::Unset, None)),
            (vec!["-uPATH", "kubelet"], runs("kubelet", PathSetting::Unset, None)),
            (vec!["--unset=PATH", "kubelet"], runs("kubelet", PathSetting::Unset, None)),
            (vec!["-u", "HOME", "-0v", "kubelet"], runs("kubelet", PathSetting::Inherit, None)),
            (vec!["-C", "/opt", "./kubelet"], runs("./kubelet", PathSetting::Inherit, Some("/opt"))),
            (vec!["--ch=/opt", "./kubelet"], runs("./kubelet", PathSetting::Inherit, Some("/opt"))),
            (vec!["-iC/opt", "./kubelet"], runs("./kubelet", PathSetting::Unset, Some("/opt"))),
            (vec!["--", "kubelet"], runs("kubelet", PathSetting::Inherit, None)),
            (
                vec!["-S", "-i PATH=/opt/evil kubelet --v=2"],
                EnvRuns::Program {
                    command: b"kubelet".to_vec(),
                    path: set("/opt/evil"),
                    cwd: None,
                    rest: words(&["--v=2"]),
                },
            ),
            (
                vec!["-S'/opt/evil/kube'\"let\" x"],
                EnvRuns::Program {
                    command: b"/opt/evil/kubelet".to_vec(),
                    path: PathSetting::Inherit,
                    cwd: None,
                    rest: words(&["x"]),
                },
            ),
            (vec!["-S", "#comment"], EnvRuns::Nothing),
            (vec![], EnvRuns::Nothing),
            (vec!["-i"], EnvRuns::Nothing),
            (vec!["A=1"], EnvRuns::Nothing),
            (vec!["--help", "kubelet"], EnvRuns::Nothing),
            (vec!["-x", "kubelet"], EnvRuns::Nothing),
            (vec!["--i", "kubelet"], EnvRuns::Nothing),
            (vec!["--s", "kubelet"], runs("kubelet", PathSetting::Inherit, None)),
        ];
        for (args, want) in cases {
            let got = env_runs(&words(&args));
            let got = match (got, &want) {
                (EnvRuns::Program { command, path, cwd, rest }, EnvRuns::Program { rest: w, .. }) if w.is_empty() => {
                    let _ = rest;
                    EnvRuns::Program { command, path, cwd, rest: vec![] }
                }
                (got, _) => got,
            };
            assert_eq!(got, want, "{args:?}");
        }
        let unknown = env_runs(&[Word::Unresolved(b"$BIN".to_vec())]);
        assert!(matches!(unknown, EnvRuns::Unknown(_)), "{unknown:?}");
        assert!(matches!(env_runs(&words(&["-S", "${BIN}"])), EnvRuns::Unknown(_)));
    }

    #[test]
    fn hostile_values_never_panic() {
        let mut seed = 0x1234_5678_u64;
        let alphabet = b" \t\\\"'%$;@-:+!|/xu0123456789abcdefUnS{}=#\xff\x00\n";
        for len in 0..64 {
            for _ in 0..200 {
                let value = super::super::hostile_bytes(&mut seed, alphabet, len);
                let parsed = parse_exec(&value, &spec());
                if let ExecValue::Commands { commands, .. } = parsed {
                    let env = Environment::default();
                    for c in &commands {
                        let _ = env_runs(&env.expand_args(c));
                    }
                }
                let mut env = Environment::default();
                env.assign(&value, Some(&spec()));
            }
        }
    }
}
