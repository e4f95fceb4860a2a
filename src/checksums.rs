//! Every checksum-file format the upstreams publish, parsed into entries whose errors
//! name the file and the line.
//!
//! Formats: bare hex (Kubernetes `X.sha256`, crictl and helm `.sha256`), GNU
//! `hex  name` / `hex *name` lines with backslash escapes (`sha256sum`, containerd,
//! CNI, etcd `SHA256SUMS`, Kubernetes `SHA512SUMS` with relative or absolute build
//! paths), BSD tags `SHA256 (name) = hex`, and any of these inside a PGP clear-signed
//! message (runc's `runc.sha256sum`; the PGP signature itself is not checked).

use std::collections::HashMap;
use std::fmt;

use crate::digest::{weak_digest_name, Algorithm, Digest};
use crate::status::ExitStatus;

/// The most bytes kverify reads of a checksum file, local or downloaded. The largest
/// real one (Kubernetes `SHA512SUMS`) is under 200 KiB.
pub const MAX_FILE_LEN: u64 = 16 * 1024 * 1024;

/// The longest line accepted: a digest, two spaces and a long build path.
const MAX_LINE_LEN: usize = 8 * 1024;

/// One digest from a checksum file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The file name or path as listed; `None` for a bare digest with no name.
    pub name: Option<String>,
    pub digest: Digest,
    /// 1-based line number in the checksum file (after any PGP armour).
    pub line: usize,
}

/// The entries of one checksum file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChecksumFile {
    /// Where the file came from (a path or URL), as errors and reports name it.
    pub source: String,
    pub entries: Vec<Entry>,
}

/// What is wrong with a checksum file.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ChecksumError {
    #[error("{source_name}:{line}: {problem}")]
    Line { source_name: String, line: usize, problem: LineProblem },
    #[error("{source_name}: larger than {MAX_FILE_LEN} bytes; not a checksum file")]
    TooLarge { source_name: String },
    #[error("{source_name}: no SHA-256 or SHA-512 digest in it")]
    Empty { source_name: String },
    #[error("{source_name}: only {what} digests, which prove nothing against tampering; kverify accepts SHA-256 and SHA-512")]
    WeakOnly { source_name: String, what: &'static str },
    #[error("{source_name}:{line}: {name} is listed twice with different {algorithm} digests (first on line {first})")]
    Conflict { source_name: String, line: usize, first: usize, name: String, algorithm: Algorithm },
    #[error("{source_name}: PGP clear-signed message without a signature block")]
    UnterminatedPgp { source_name: String },
    /// A local checksum file that cannot be read: I/O, not bad evidence.
    #[error("cannot read {source_name}: {reason}")]
    Unreadable { source_name: String, reason: String },
}

impl ChecksumError {
    pub fn exit_status(&self) -> ExitStatus {
        match self {
            ChecksumError::Unreadable { .. } => ExitStatus::Io,
            _ => ExitStatus::Failed,
        }
    }

    pub fn hint(&self) -> Option<String> {
        match self {
            ChecksumError::WeakOnly { .. } => {
                Some("use the SHA-256 or SHA-512 checksum file the upstream publishes".into())
            }
            _ => None,
        }
    }
}

/// What is wrong with one line.
#[derive(Debug, PartialEq, Eq)]
pub enum LineProblem {
    TooLong,
    Nul,
    NotUtf8,
    NotAChecksumLine,
    BadDigest(String),
    AlgorithmDisagrees { from_name: Algorithm, from_length: usize },
    BadEscape,
}

impl fmt::Display for LineProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LineProblem::TooLong => write!(f, "line longer than {MAX_LINE_LEN} bytes"),
            LineProblem::Nul => f.write_str("NUL byte in line"),
            LineProblem::NotUtf8 => f.write_str("line is not UTF-8 text"),
            LineProblem::NotAChecksumLine => {
                f.write_str("not a checksum line (expected `HEX  NAME`, `ALGORITHM (NAME) = HEX` or bare HEX)")
            }
            LineProblem::BadDigest(why) => write!(f, "bad digest: {why}"),
            LineProblem::AlgorithmDisagrees { from_name, from_length } => {
                write!(f, "the file name says {from_name}, but the digest has {from_length} hex characters")
            }
            LineProblem::BadEscape => f.write_str("bad backslash escape in file name"),
        }
    }
}

/// Reads and parses a local checksum file, refusing one over [`MAX_FILE_LEN`] bytes
/// before reading it all.
pub fn read(path: &std::path::Path) -> Result<ChecksumFile, ChecksumError> {
    use std::io::Read as _;
    let source_name = path.display().to_string();
    let unreadable =
        |e: std::io::Error| ChecksumError::Unreadable { source_name: source_name.clone(), reason: e.to_string() };
    let file = std::fs::File::open(path).map_err(unreadable)?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_LEN + 1).read_to_end(&mut bytes).map_err(unreadable)?;
    if bytes.len() as u64 > MAX_FILE_LEN {
        return Err(ChecksumError::TooLarge { source_name });
    }
    parse(&source_name, &bytes)
}

/// Parses a checksum file. `source` names it in errors and reports; its last path
/// component, if it says `sha256` or `sha512`, fixes the algorithm.
pub fn parse(source: &str, bytes: &[u8]) -> Result<ChecksumFile, ChecksumError> {
    let source_name = source.to_string();
    if bytes.len() as u64 > MAX_FILE_LEN {
        return Err(ChecksumError::TooLarge { source_name });
    }
    let from_name = algorithm_from_file_name(source);
    let body =
        strip_pgp_armour(bytes).ok_or_else(|| ChecksumError::UnterminatedPgp { source_name: source_name.clone() })?;

    let mut entries: Vec<Entry> = Vec::new();
    let mut seen: HashMap<(Option<String>, Algorithm), usize> = HashMap::new();
    let mut weak = None;
    let line_err = |line, problem| ChecksumError::Line { source_name: source_name.clone(), line, problem };

    for (index, raw) in body.lines.iter().enumerate() {
        let line = body.first_line + index;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if raw.len() > MAX_LINE_LEN {
            return Err(line_err(line, LineProblem::TooLong));
        }
        if raw.contains(&0) {
            return Err(line_err(line, LineProblem::Nul));
        }
        let text = std::str::from_utf8(raw).map_err(|_| line_err(line, LineProblem::NotUtf8))?;
        // Leading blanks are layout; trailing ones may be part of a name (`kubelet `
        // is not `kubelet`), so only a bare digest or a BSD tag's digest loses them.
        let text = text.trim_start();
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        let (name, hex) = split_line(text).map_err(|p| line_err(line, p))?;
        if let Some(what) = weak_digest_name(hex.len()).filter(|_| hex.bytes().all(|b| b.is_ascii_hexdigit())) {
            weak = Some(what);
            continue;
        }
        let digest = match from_name {
            Some(NameSays::Strong(algorithm)) => {
                Digest::from_hex_as(algorithm, hex).map_err(|e| match Algorithm::from_hex_len(hex.len()) {
                    Some(_) => {
                        line_err(line, LineProblem::AlgorithmDisagrees { from_name: algorithm, from_length: hex.len() })
                    }
                    None => line_err(line, LineProblem::BadDigest(e.to_string())),
                })?
            }
            _ => Digest::from_hex(hex).map_err(|e| line_err(line, LineProblem::BadDigest(e.to_string())))?,
        };
        let key = (name.clone(), digest.algorithm());
        if let Some(&first) = seen.get(&key) {
            let earlier = entries.iter().find(|e| e.line == first).map(|e| e.digest);
            if earlier == Some(digest) {
                continue;
            }
            return Err(ChecksumError::Conflict {
                source_name,
                line,
                first,
                name: name.unwrap_or_else(|| "the unnamed digest".into()),
                algorithm: digest.algorithm(),
            });
        }
        seen.insert(key, line);
        entries.push(Entry { name, digest, line });
    }

    if let Some(NameSays::Weak(what)) = from_name {
        if entries.is_empty() {
            return Err(ChecksumError::WeakOnly { source_name, what });
        }
    }
    match (entries.is_empty(), weak) {
        (true, Some(what)) => Err(ChecksumError::WeakOnly { source_name, what: weak_plural(what) }),
        (true, None) => Err(ChecksumError::Empty { source_name }),
        (false, _) => Ok(ChecksumFile { source: source_name, entries }),
    }
}

fn weak_plural(what: &'static str) -> &'static str {
    match what {
        "an MD5 digest" => "MD5",
        _ => "SHA-1",
    }
}

enum NameSays {
    Strong(Algorithm),
    Weak(&'static str),
}

/// What a checksum file's own name says of its algorithm (`kubelet.sha512`,
/// `SHA256SUMS`, `runc.sha256sum`, `x.md5`).
fn algorithm_from_file_name(source: &str) -> Option<NameSays> {
    let file = source.rsplit(['/', '\\']).next().unwrap_or(source).to_ascii_lowercase();
    if file.contains("sha512") {
        Some(NameSays::Strong(Algorithm::Sha512))
    } else if file.contains("sha256") {
        Some(NameSays::Strong(Algorithm::Sha256))
    } else if file.contains("md5") {
        Some(NameSays::Weak("MD5"))
    } else if file.contains("sha1") {
        Some(NameSays::Weak("SHA-1"))
    } else {
        None
    }
}

/// Splits a non-empty line, leading blanks removed, into (name, hex).
fn split_line(text: &str) -> Result<(Option<String>, &str), LineProblem> {
    if let Some(tagged) = split_bsd(text) {
        return tagged;
    }
    let (escaped, text) = match text.strip_prefix('\\') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let Some((hex, rest)) = text.split_once([' ', '\t']).filter(|(_, rest)| !rest.trim().is_empty()) else {
        // A bare digest: the whole line.
        return if escaped { Err(LineProblem::NotAChecksumLine) } else { Ok((None, text.trim_end())) };
    };
    if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(LineProblem::NotAChecksumLine);
    }
    // `hex  name` (text mode), `hex *name` (binary mode), and the single space some tools write.
    let name = rest.strip_prefix(['*', ' ']).unwrap_or(rest);
    if name.is_empty() {
        return Err(LineProblem::NotAChecksumLine);
    }
    let name = if escaped { unescape(name)? } else { name.to_string() };
    Ok((Some(name), hex))
}

/// `SHA256 (name) = hex`; `None` when the line is not a BSD tag.
fn split_bsd(text: &str) -> Option<Result<(Option<String>, &str), LineProblem>> {
    let (tag, rest) = text.split_once(" (")?;
    if tag.is_empty() || !tag.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return None;
    }
    let (name, hex) = rest.rsplit_once(") = ")?;
    let hex = hex.trim();
    // Whatever the tag: a digest of no file is no entry (and would not match any file).
    if name.is_empty() {
        return Some(Err(LineProblem::NotAChecksumLine));
    }
    let expected = match tag.to_ascii_uppercase().replace('-', "").as_str() {
        "SHA256" => Algorithm::Sha256,
        "SHA512" => Algorithm::Sha512,
        // Weak and unknown tags fall through to the length check, which refuses them.
        _ => return Some(Ok((Some(name.to_string()), hex))),
    };
    if let Some(actual) = Algorithm::from_hex_len(hex.len()) {
        if actual != expected {
            return Some(Err(LineProblem::AlgorithmDisagrees { from_name: expected, from_length: hex.len() }));
        }
    }
    Some(Ok((Some(name.to_string()), hex)))
}

/// GNU coreutils escapes `\` and newline in names and marks the line with a leading `\`.
fn unescape(name: &str) -> Result<String, LineProblem> {
    let mut out = String::with_capacity(name.len());
    let mut chars = name.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            _ => return Err(LineProblem::BadEscape),
        }
    }
    Ok(out)
}

/// Escapes a name as `sha256sum` does; `true` when the line needs the leading `\`.
pub fn escape(name: &str) -> (String, bool) {
    if !name.contains(['\\', '\n', '\r']) {
        return (name.to_string(), false);
    }
    let escaped = name.replace('\\', "\\\\").replace('\n', "\\n").replace('\r', "\\r");
    (escaped, true)
}

struct Body<'a> {
    lines: Vec<&'a [u8]>,
    first_line: usize,
}

/// The lines to parse: the whole file, or the signed text of a PGP clear-signed message
/// (RFC 4880 section 7: armour header, `Hash:` headers, a blank line, dash-escaped text,
/// then the signature block).
fn strip_pgp_armour(bytes: &[u8]) -> Option<Body<'_>> {
    let lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
    let is = |line: &[u8], marker: &str| line.strip_suffix(b"\r").unwrap_or(line).trim_ascii() == marker.as_bytes();
    let Some(start) = lines.iter().position(|l| !l.trim_ascii().is_empty()) else {
        return Some(Body { lines, first_line: 1 });
    };
    if !is(lines[start], "-----BEGIN PGP SIGNED MESSAGE-----") {
        return Some(Body { lines, first_line: 1 });
    }
    let blank = start + 1 + lines[start + 1..].iter().position(|l| l.trim_ascii().is_empty())?;
    let end = blank + 1 + lines[blank + 1..].iter().position(|l| is(l, "-----BEGIN PGP SIGNATURE-----"))?;
    let text = lines[blank + 1..end].iter().map(|l| l.strip_prefix(b"- ").unwrap_or(l)).collect();
    Some(Body { lines: text, first_line: blank + 2 })
}

/// The name a bare digest stands for, from its checksum file's name: `kubelet.sha512`
/// holds the digest of `kubelet`.
pub fn subject_of_sidecar(source: &str) -> Option<&str> {
    let file = source.rsplit(['/', '\\']).next()?;
    [".sha256", ".sha512", ".sha256sum", ".sha512sum"]
        .iter()
        .find_map(|suffix| file.strip_suffix(suffix))
        .filter(|s| !s.is_empty())
}

/// Formats entries as `sha256sum` does (for tests, `mirror` and round trips).
pub fn format_gnu(entries: &[(String, Digest)]) -> String {
    let mut out = String::new();
    for (name, digest) in entries {
        let (name, escaped) = escape(name);
        if escaped {
            out.push('\\');
        }
        out.push_str(&format!("{}  {}\n", digest.to_hex(), name));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "e1c38137db8d8777eed8813646b59bf4d22d19b9011ab11dc28e2e34f6b80a05";
    const B: &str = "629d4630657caace9c819fd3797f4a70c397fbd41a2a7e464a0507dad675d52c";

    type Row = (Option<String>, String, usize);

    fn entries(source: &str, text: &str) -> Vec<Row> {
        parse(source, text.as_bytes())
            .unwrap_or_else(|e| panic!("{source}: {e}"))
            .entries
            .into_iter()
            .map(|e| (e.name, e.digest.to_string(), e.line))
            .collect()
    }

    fn error(source: &str, text: &[u8]) -> String {
        parse(source, text).unwrap_err().to_string()
    }

    fn named(name: &str, hex: &str, line: usize) -> Row {
        let digest = Digest::from_hex(hex).unwrap();
        (Some(name.to_string()), digest.to_string(), line)
    }

    #[test]
    fn formats_that_upstreams_publish() {
        let sha512 = "a".repeat(128);
        let cases: Vec<(&str, String, Vec<Row>)> = vec![
            // Kubernetes X.sha256: bare hex, no newline.
            ("kubelet.sha256", A.to_string(), vec![(None, format!("sha256:{A}"), 1)]),
            // crictl / helm: bare hex with a newline.
            ("crictl.tar.gz.sha256", format!("{A}\n"), vec![(None, format!("sha256:{A}"), 1)]),
            // GNU, text and binary mode, CRLF, comments, blank lines.
            (
                "SHA256SUMS",
                format!("# etcd\r\n{A}  etcd-v3.5.12-linux-amd64.tar.gz\r\n\r\n{B} *etcd.zip\r\n"),
                vec![named("etcd-v3.5.12-linux-amd64.tar.gz", A, 2), named("etcd.zip", B, 4)],
            ),
            // Kubernetes SHA512SUMS with an absolute build path, no trailing newline.
            (
                "SHA512SUMS",
                format!("{sha512}  /workspace/src/k8s.io/kubernetes/_output-v1.28.0/gcs-stage/v1.28.0/bin/linux/amd64/kubeadm"),
                vec![named("/workspace/src/k8s.io/kubernetes/_output-v1.28.0/gcs-stage/v1.28.0/bin/linux/amd64/kubeadm", &sha512, 1)],
            ),
            // BSD tag.
            ("bsd.sums", format!("SHA256 (kubelet) = {A}\n"), vec![named("kubelet", A, 1)]),
            ("bsd.sums", format!("SHA512 (a (1).txt) = {sha512}\n"), vec![named("a (1).txt", &sha512, 1)]),
            // Backslash-escaped names.
            ("SHA256SUMS", format!("\\{A}  a\\\\b\\nc\n"), vec![named("a\\b\nc", A, 1)]),
            // Names with spaces keep them, trailing ones too: an entry for `kubelet `
            // vouches for that name, never for `kubelet`.
            ("SHA256SUMS", format!("{A}  my file \n"), vec![named("my file ", A, 1)]),
            ("SHA256SUMS", format!("  {A}  kubelet \n"), vec![named("kubelet ", A, 1)]),
            // A bare digest with blanks after it is still a bare digest.
            ("kubelet.sha256", format!("{A} \t\n"), vec![(None, format!("sha256:{A}"), 1)]),
        ];
        for (source, text, want) in cases {
            assert_eq!(entries(source, &text), want, "{source}: {text:?}");
        }
    }

    #[test]
    fn runc_pgp_clear_signed_file() {
        let text = format!(
            "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n{A}  runc.amd64\n- {B}  runc.arm64\n-----BEGIN PGP SIGNATURE-----\n\niQIzBAEBCAAdFiEE\n-----END PGP SIGNATURE-----\n"
        );
        assert_eq!(entries("runc.sha256sum", &text), vec![named("runc.amd64", A, 4), named("runc.arm64", B, 5)]);
        assert_eq!(
            error(
                "runc.sha256sum",
                format!("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n{A}  runc.amd64\n").as_bytes()
            ),
            "runc.sha256sum: PGP clear-signed message without a signature block"
        );
    }

    #[test]
    fn refuses_weak_digests() {
        let md5 = "900150983cd24fb0d6963f7d28e17f72";
        let sha1 = "a9993e364706816aba3e25717850c26c9cd0d89d";
        assert_eq!(
            error("weak.md5", format!("{md5}  kubelet\n").as_bytes()),
            "weak.md5: only MD5 digests, which prove nothing against tampering; kverify accepts SHA-256 and SHA-512"
        );
        assert_eq!(
            error("sums", format!("{sha1}  kubelet\n").as_bytes()),
            "sums: only SHA-1 digests, which prove nothing against tampering; kverify accepts SHA-256 and SHA-512"
        );
        assert!(error("sums", format!("MD5 (kubelet) = {md5}\n").as_bytes()).contains("only MD5"));
        // Strong entries beside weak ones are kept; the weak ones are ignored.
        assert_eq!(entries("sums", &format!("{md5}  a\n{A}  a\n")), vec![named("a", A, 2)]);
    }

    #[test]
    fn errors_name_file_and_line() {
        let cases: Vec<(&str, Vec<u8>, &str)> = vec![
            ("bad.sums", b"zz  kubelet\n".to_vec(), "bad.sums:1: not a checksum line"),
            (
                "bad.sums",
                format!("\n{A}  a\n{}  b\n", &A[..60]).into_bytes(),
                "bad.sums:3: bad digest: 60 hex characters",
            ),
            (
                "x.sha256",
                "b".repeat(128).into_bytes(),
                "x.sha256:1: the file name says sha256, but the digest has 128 hex",
            ),
            (
                "bsd",
                format!("SHA512 (a) = {A}\n").into_bytes(),
                "bsd:1: the file name says sha512, but the digest has 64",
            ),
            ("nul", format!("{A}  a\0b\n").into_bytes(), "nul:1: NUL byte in line"),
            ("utf", [A.as_bytes(), b"  \xff\xfe\n"].concat(), "utf:1: line is not UTF-8 text"),
            ("esc", format!("\\{A}  a\\q\n").into_bytes(), "esc:1: bad backslash escape"),
            ("empty", b"\n# nothing\n".to_vec(), "empty: no SHA-256 or SHA-512 digest in it"),
            (
                "dup",
                format!("{A}  a\n{A}  a\n{B}  a\n").into_bytes(),
                "dup:3: a is listed twice with different sha256 digests (first on line 1)",
            ),
        ];
        for (source, text, want) in cases {
            let got = error(source, &text);
            assert!(got.starts_with(want), "{source}: got {got:?}, want {want:?}");
        }
    }

    #[test]
    fn hostile_input_is_refused_without_reading_it_all() {
        let long = vec![b'a'; 64 * 1024 * 1024];
        assert_eq!(error("big", &long), format!("big: larger than {MAX_FILE_LEN} bytes; not a checksum file"));
        let line = vec![b'a'; MAX_LINE_LEN + 1];
        assert_eq!(error("long", &line), format!("long:1: line longer than {MAX_LINE_LEN} bytes"));
        // Many empty lines are fine and cheap.
        let mut many = vec![b'\n'; 1_000_000];
        many.extend_from_slice(A.as_bytes());
        assert_eq!(parse("many", &many).unwrap().entries[0].line, 1_000_001);
    }

    /// Found by the `checksums` fuzz target: `SHA255 () = HEX` (a tag kverify does not
    /// know, no name) gave an entry named "", which `SHA256 () = HEX` does not.
    #[test]
    fn a_bsd_line_with_an_empty_name_is_refused_whatever_its_tag() {
        for tag in ["SHA256", "SHA255", "BLAKE2b"] {
            let text = format!("{A}  kubelet\n{tag} () = {A}\n");
            assert_eq!(
                error("SUMS", text.as_bytes()),
                "SUMS:2: not a checksum line (expected `HEX  NAME`, `ALGORITHM (NAME) = HEX` or bare HEX)",
                "{tag}"
            );
        }
    }

    #[test]
    fn sidecar_names() {
        assert_eq!(subject_of_sidecar("/x/kubelet.sha512"), Some("kubelet"));
        assert_eq!(
            subject_of_sidecar("containerd-1.7.13-linux-amd64.tar.gz.sha256sum"),
            Some("containerd-1.7.13-linux-amd64.tar.gz")
        );
        assert_eq!(subject_of_sidecar("SHA256SUMS"), None);
    }

    /// A small deterministic generator, so the property test needs no extra crate and
    /// every failure reproduces.
    struct XorShift(u64);
    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    #[test]
    fn property_format_then_parse_gives_the_entries_back() {
        let alphabet: Vec<char> = "abcXYZ019-_./ \\\n\r*()=é".chars().collect();
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        for round in 0..500 {
            let count = 1 + rng.below(8) as usize;
            let mut want: Vec<(String, Digest)> = Vec::new();
            for i in 0..count {
                let len = 1 + rng.below(24) as usize;
                let mut name: String = (0..len).map(|_| alphabet[rng.below(alphabet.len() as u64) as usize]).collect();
                // sha256sum cannot represent leading or trailing blanks, nor a name that is a
                // lone `*`; keep the names unique so duplicates are not in play.
                name = format!("n{i}{}x", name.trim());
                let mut bytes = [0u8; 64];
                bytes.iter_mut().for_each(|b| *b = rng.below(256) as u8);
                let digest = if rng.below(2) == 0 {
                    Digest::from_hex(&hex::encode(&bytes[..32])).unwrap()
                } else {
                    Digest::from_hex(&hex::encode(bytes)).unwrap()
                };
                want.push((name, digest));
            }
            let text = format_gnu(&want);
            let got: Vec<(String, Digest)> = parse("SUMS", text.as_bytes())
                .unwrap_or_else(|e| panic!("round {round}: {e}\n{text}"))
                .entries
                .into_iter()
                .map(|e| (e.name.unwrap(), e.digest))
                .collect();
            assert_eq!(got, want, "round {round}:\n{text}");
        }
    }
}
