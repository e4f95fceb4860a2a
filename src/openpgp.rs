//! OpenPGP signatures over checksum files: runc's clear-signed `runc.sha256sum` and helm's
//! detached, armored `X.sha256sum.asc`, verified against an upstream's keyring with the key
//! judged at the signature's creation time, as `gpg --verify` judges it (DESIGN.md section 4).
//!
//! The cryptography and packet parsing are rPGP's (the `pgp` crate). The framing of a
//! clear-signed file is read here, strictly, because what matters most is not in any packet:
//! the text a caller goes on to parse must be exactly the text the signature covers. So
//! [`verify_cleartext`] refuses anything outside the one signed block (a line claiming a digest
//! before or after it, a second signed block) and hands back the signed text itself,
//! dash-unescaped and with each line's trailing whitespace removed, as RFC 4880 section 7.1
//! signs it. Judging a key (expiry, revocation, flags, back-signatures) is also done here:
//! rPGP verifies each signature's mathematics and leaves policy to its callers.

use std::fmt;

use pgp::armor::{BlockType, Dearmor, DearmorOptions};
use pgp::composed::{Deserializable as _, SignedPublicKey, SignedPublicSubKey};
use pgp::crypto::hash::HashAlgorithm;
use pgp::packet::{Packet, PacketParser, PacketTrait as _, RevocationCode, Signature, SignatureType, SignatureVersion, SubpacketData};
use pgp::types::{KeyDetails, Tag};

/// The largest file [`verify_cleartext`] and [`verify_detached`] read as the signed file: the
/// largest real checksum file is under 200 KiB.
pub const MAX_SIGNED_FILE_LEN: u64 = 16 * 1024 * 1024;

/// The largest armored signature read; a real one is under 1 KiB.
pub const MAX_SIGNATURE_LEN: u64 = 1024 * 1024;

/// The largest keyring read; helm's `KEYS`, with ten keys and their listings, is 65 KiB.
pub const MAX_KEYRING_LEN: u64 = 16 * 1024 * 1024;

/// How far in the future a signature's creation time may be (clocks differ).
const CLOCK_SKEW_SECS: i64 = 5 * 60;

/// The keyrings built into kverify, by file name under `manifests/keys/` (the catalog names
/// them); see `manifests/keys/README.md` for where each comes from.
pub const EMBEDDED: &[(&str, &[u8])] = &[
    ("runc.keyring", include_bytes!("../manifests/keys/runc.keyring")),
    ("helm.KEYS", include_bytes!("../manifests/keys/helm.KEYS")),
];

const BEGIN_SIGNED: &[u8] = b"-----BEGIN PGP SIGNED MESSAGE-----";
const BEGIN_SIGNATURE: &[u8] = b"-----BEGIN PGP SIGNATURE-----";
const END_SIGNATURE: &[u8] = b"-----END PGP SIGNATURE-----";
const BEGIN_PUBLIC_KEY: &[u8] = b"-----BEGIN PGP PUBLIC KEY BLOCK-----";
const END_PUBLIC_KEY: &[u8] = b"-----END PGP PUBLIC KEY BLOCK-----";

/// Why an OpenPGP signature was not accepted, or a keyring could not be read. `source_name`
/// is the file or URL the caller named.
#[derive(Debug, thiserror::Error)]
pub enum OpenPgpError {
    /// A file is larger than anything of its kind could be.
    #[error("{source_name}: larger than {limit} bytes; not {what}")]
    TooLarge { source_name: String, what: &'static str, limit: u64 },
    /// A keyring holds no public key.
    #[error("{source_name}: no OpenPGP public key in it")]
    KeyringEmpty { source_name: String },
    /// A keyring's keys could not be parsed.
    #[error("{source_name}:{line}: not a readable OpenPGP public key block")]
    KeyringUnreadable {
        source_name: String,
        line: usize,
        #[source]
        cause: pgp::errors::Error,
    },
    /// No keyring of that name is built in.
    #[error("no embedded keyring named {name} (built in: {known})")]
    UnknownEmbedded { name: String, known: String },
    /// The file is not a clear-signed message at all.
    #[error("{source_name}: not a PGP clear-signed message (no `-----BEGIN PGP SIGNED MESSAGE-----` line)")]
    NotClearSigned { source_name: String },
    /// Text before the signed message or after its signature: nothing vouches for it.
    #[error("{source_name}:{line}: text outside the signed message, which the signature does not cover")]
    OutsideSignedText { source_name: String, line: usize },
    /// More than one signed message in one file.
    #[error("{source_name}:{line}: a second signed message; exactly one is accepted")]
    SecondSignedBlock { source_name: String, line: usize },
    /// The clear-signed or armored framing is broken.
    #[error("{source_name}:{line}: {problem}")]
    Framing { source_name: String, line: usize, problem: FramingProblem },
    /// The `Hash:` armor header names other algorithms than the signature uses.
    #[error("{source_name}: the `Hash:` header says {header}, but the signature uses {signature}")]
    HashHeaderMismatch { source_name: String, header: String, signature: String },
    /// The armored signature does not hold readable OpenPGP packets.
    #[error("{source_name}: not a readable OpenPGP signature")]
    SignatureUnreadable {
        source_name: String,
        #[source]
        cause: pgp::errors::Error,
    },
    /// The signature block holds something else than signature packets.
    #[error("{source_name}: a {packet} packet where only a signature belongs")]
    UnexpectedPacket { source_name: String, packet: String },
    /// Zero or several signatures: kverify accepts exactly one, so that no unverified second
    /// signature can ride along and "which one counted" never needs answering.
    #[error("{source_name}: {count} signatures; exactly one is accepted")]
    SignatureCount { source_name: String, count: usize },
    /// A signature that is not over a document (a key certification, say).
    #[error("{source_name}: a {kind} signature, not a signature over a file")]
    NotADocumentSignature { source_name: String, kind: String },
    /// A signature version or algorithm this verifier does not accept.
    #[error("{source_name}: {what} is not supported")]
    Unsupported { source_name: String, what: String },
    /// The signature's hash algorithm is broken.
    #[error(
        "{source_name}: the signature uses {algorithm}, which proves nothing against forgery; kverify accepts SHA-2 and SHA-3"
    )]
    WeakHash { source_name: String, algorithm: String },
    /// The signature says nothing of when it was made, so no key can be judged at that time.
    #[error("{source_name}: the signature has no creation time")]
    NoCreationTime { source_name: String },
    /// The signature claims to be made after now.
    #[error("{source_name}: the signature was made {signed_at}, which is in the future")]
    InTheFuture { source_name: String, signed_at: jiff::Timestamp },
    /// The signature itself has expired.
    #[error("{source_name}: the signature expired {expired_at}")]
    SignatureExpired { source_name: String, expired_at: jiff::Timestamp },
    /// The signature does not say which key made it.
    #[error("{source_name}: the signature does not name the key that made it")]
    NoIssuer { source_name: String },
    /// The key that made the signature is not in the keyring.
    #[error("{source_name}: signed by key {issuer}, which is not in the keyring {keyring}")]
    UnknownKey { source_name: String, issuer: String, keyring: String },
    /// The signature does not verify: the signed bytes differ from those that were signed, or
    /// the signature was not made by the key it names.
    #[error("{source_name}: bad signature by key {key}: the signed text is not the text that was signed")]
    BadSignature { source_name: String, key: String },
    /// The (sub)key was made after the signature.
    #[error("{source_name}: the signature was made {signed_at}, before {what} {key} was created ({created})")]
    KeyNotYetValid {
        source_name: String,
        what: &'static str,
        key: String,
        signed_at: jiff::Timestamp,
        created: jiff::Timestamp,
    },
    /// The (sub)key had expired when the signature was made.
    #[error("{source_name}: signed {signed_at} by {what} {key}, which had expired {expired_at}")]
    KeyExpired {
        source_name: String,
        what: &'static str,
        key: String,
        signed_at: jiff::Timestamp,
        expired_at: jiff::Timestamp,
    },
    /// The key or subkey is revoked.
    #[error("{source_name}: {what} {key} is revoked ({reason})")]
    KeyRevoked { source_name: String, what: &'static str, key: String, reason: String },
    /// The (sub)key may not make document signatures.
    #[error("{source_name}: {what} {key} is not marked for signing (key flags)")]
    NotSigningKey { source_name: String, what: &'static str, key: String },
    /// A signing subkey whose binding lacks the subkey's own back-signature: anyone could have
    /// bound that subkey to this primary key.
    #[error("{source_name}: signing subkey {key} has no valid back-signature (primary key binding)")]
    NoBackSignature { source_name: String, key: String },
    /// A subkey with no valid binding signature from its primary key.
    #[error("{source_name}: subkey {key} has no valid binding signature from primary key {primary}")]
    NoBinding { source_name: String, key: String, primary: String },
    /// A primary key with no user ID that it validly self-signed.
    #[error("{source_name}: key {key} has no user ID with a valid self-signature")]
    NoValidUserId { source_name: String, key: String },
}

/// What is wrong with the framing of a clear-signed message or an armored signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FramingProblem {
    /// The message ends before its signature (or the signature before its END line).
    Unterminated(&'static str),
    /// An armor header other than `Hash:` (gpg's `NotDashEscaped:` among them).
    UnexpectedHeader(String),
    /// A `Hash:` header naming an unknown algorithm.
    UnknownHash(String),
    /// A signed line starting with `-` that is not dash-escaped.
    NotDashEscaped,
    /// An armor line (`-----BEGIN PGP …`) inside the signed text.
    ArmorInSignedText,
    /// A carriage return that does not end a line: tools disagree on whether it breaks one.
    CarriageReturn,
    /// Signed text that is not UTF-8.
    NotUtf8,
    /// The armored signature does not start with `-----BEGIN PGP SIGNATURE-----`.
    NotArmoredSignature,
}

impl fmt::Display for FramingProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FramingProblem::Unterminated(missing) => write!(f, "the message ends without {missing}"),
            FramingProblem::UnexpectedHeader(name) => {
                write!(f, "unexpected armor header {name:?} (only `Hash:` belongs in a signed message)")
            }
            FramingProblem::UnknownHash(name) => write!(f, "unknown hash algorithm {name:?} in the `Hash:` header"),
            FramingProblem::NotDashEscaped => f.write_str("a signed line starts with `-` but is not dash-escaped"),
            FramingProblem::ArmorInSignedText => f.write_str("an armor line inside the signed text"),
            FramingProblem::CarriageReturn => f.write_str("a carriage return inside a line"),
            FramingProblem::NotUtf8 => f.write_str("signed text that is not UTF-8"),
            FramingProblem::NotArmoredSignature => {
                f.write_str("not an armored signature (expected `-----BEGIN PGP SIGNATURE-----`)")
            }
        }
    }
}

/// Who made a signature that verified, and when: the evidence a report shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PgpSignature {
    /// The primary key's fingerprint, uppercase hex: the key a keyring lists.
    pub fingerprint: String,
    /// The fingerprint of the key that made the signature, uppercase hex: a signing subkey's,
    /// or the primary key's when it signed itself.
    pub signing_key: String,
    /// The primary key's primary user ID (`Name <email>`).
    pub user_id: String,
    /// When the signature was made, by its own (signed) creation time.
    pub signed_at: jiff::Timestamp,
    /// When the key (or the subkey that signed) expired, if it has since the signature was
    /// made: the signature stays good, and the report says so.
    pub expired_since: Option<jiff::Timestamp>,
}

impl PgpSignature {
    /// The `kind` a report gives this evidence.
    pub const KIND: &'static str = "pgp";
}

impl fmt::Display for PgpSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (key {}", self.user_id, self.fingerprint)?;
        if self.signing_key != self.fingerprint {
            write!(f, ", subkey {}", self.signing_key)?;
        }
        write!(f, "), signed {}", self.signed_at)?;
        if let Some(expired) = self.expired_since {
            write!(f, "; the key has expired since, on {expired}")?;
        }
        Ok(())
    }
}

/// The verified content of a clear-signed file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cleartext {
    /// The signed text, exactly as the signature covers it: each signed line dash-unescaped,
    /// its trailing spaces and tabs removed, and ended by `\n` (the signature covers the lines
    /// joined by CR LF; RFC 4880 section 7.1). Parse this, never the file.
    pub text: String,
    /// The 1-based line of the file where `text` starts, to map a parser's line numbers back.
    pub first_line: usize,
    /// Who signed it, and when.
    pub signature: PgpSignature,
}

/// The public keys one upstream signs with.
#[derive(Clone, Debug)]
pub struct Keyring {
    source_name: String,
    keys: Vec<SignedPublicKey>,
}

impl Keyring {
    /// Reads a keyring: one or more armored `PUBLIC KEY BLOCK`s with any text between them (as
    /// in helm's `KEYS`, which interleaves `gpg --list-keys` output), or binary packets (as
    /// `gpg --export` writes). Copies of one key are merged. An empty keyring is an error.
    pub fn parse(source: &str, bytes: &[u8]) -> Result<Keyring, OpenPgpError> {
        let source_name = source.to_string();
        if bytes.len() as u64 > MAX_KEYRING_LEN {
            return Err(OpenPgpError::TooLarge { source_name, what: "a keyring", limit: MAX_KEYRING_LEN });
        }
        let mut keys: Vec<SignedPublicKey> = Vec::new();
        let lines = Lines::new(bytes);
        let mut blocks = 0;
        let mut index = 0;
        while index < lines.len() {
            if lines.trimmed(index) != BEGIN_PUBLIC_KEY {
                index += 1;
                continue;
            }
            let begin = index;
            let end = (begin..lines.len()).find(|&i| lines.trimmed(i) == END_PUBLIC_KEY).ok_or_else(|| {
                OpenPgpError::Framing {
                    source_name: source_name.clone(),
                    line: begin + 1,
                    problem: FramingProblem::Unterminated("`-----END PGP PUBLIC KEY BLOCK-----`"),
                }
            })?;
            let unreadable = |cause| OpenPgpError::KeyringUnreadable { source_name: source_name.clone(), line: begin + 1, cause };
            let (parsed, _) = SignedPublicKey::from_armor_many(lines.span(begin, end)).map_err(unreadable)?;
            for key in parsed {
                merge(&mut keys, key.map_err(unreadable)?);
            }
            blocks += 1;
            index = end + 1;
        }
        // No armor at all: binary packets, which start with a byte whose high bit is set.
        if blocks == 0 && bytes.first().is_some_and(|b| b & 0x80 != 0) {
            let unreadable = |cause| OpenPgpError::KeyringUnreadable { source_name: source_name.clone(), line: 1, cause };
            for key in SignedPublicKey::from_bytes_many(bytes).map_err(unreadable)? {
                merge(&mut keys, key.map_err(unreadable)?);
            }
        }
        if keys.is_empty() {
            return Err(OpenPgpError::KeyringEmpty { source_name });
        }
        Ok(Keyring { source_name, keys })
    }

    /// A keyring built into kverify, by its file name under `manifests/keys/` (see [`EMBEDDED`]).
    pub fn embedded(name: &str) -> Result<Keyring, OpenPgpError> {
        match EMBEDDED.iter().find(|(known, _)| *known == name) {
            Some((known, bytes)) => Keyring::parse(&format!("{known} (embedded)"), bytes),
            None => Err(OpenPgpError::UnknownEmbedded {
                name: name.to_string(),
                known: EMBEDDED.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", "),
            }),
        }
    }

    /// Where the keyring came from, as errors name it.
    pub fn source(&self) -> &str {
        &self.source_name
    }

    /// The primary keys' fingerprints, uppercase hex, in the keyring's order.
    pub fn fingerprints(&self) -> Vec<String> {
        self.keys.iter().map(|k| hex_upper(&k.primary_key.fingerprint())).collect()
    }
}

/// Adds `key` to `keys`, folding it into an earlier copy of the same key: a revocation or
/// a newer binding in one copy must count whichever copy a signature is matched against.
fn merge(keys: &mut Vec<SignedPublicKey>, key: SignedPublicKey) {
    let Some(known) = keys.iter_mut().find(|k| k.primary_key.fingerprint() == key.primary_key.fingerprint()) else {
        keys.push(key);
        return;
    };
    known.details.revocation_signatures.extend(key.details.revocation_signatures);
    known.details.direct_signatures.extend(key.details.direct_signatures);
    for user in key.details.users {
        match known.details.users.iter_mut().find(|u| u.id == user.id) {
            Some(same) => same.signatures.extend(user.signatures),
            None => known.details.users.push(user),
        }
    }
    for sub in key.public_subkeys {
        match known.public_subkeys.iter_mut().find(|s| s.key.fingerprint() == sub.key.fingerprint()) {
            Some(same) => same.signatures.extend(sub.signatures),
            None => known.public_subkeys.push(sub),
        }
    }
}

/// Verifies a clear-signed file (runc's `runc.sha256sum`, as `gpg --clear-sign` writes it)
/// and returns the text it signs. `source` names the file in errors; `now` is the time a
/// signature may not be later than (give or take five minutes of clock skew).
///
/// The file must be exactly one signed message: nothing but whitespace before its `BEGIN`
/// line or after its signature's `END` line, no second message, only `Hash:` armor headers
/// (and they must name the signature's algorithm), every signed line starting with `-`
/// dash-escaped, and exactly one signature.
pub fn verify_cleartext(
    keyring: &Keyring,
    source: &str,
    bytes: &[u8],
    now: jiff::Timestamp,
) -> Result<Cleartext, OpenPgpError> {
    if bytes.len() as u64 > MAX_SIGNED_FILE_LEN {
        return Err(OpenPgpError::TooLarge {
            source_name: source.to_string(),
            what: "a signed checksum file",
            limit: MAX_SIGNED_FILE_LEN,
        });
    }
    let framed = frame_cleartext(source, bytes)?;
    if framed.signature_len > MAX_SIGNATURE_LEN {
        return Err(OpenPgpError::TooLarge {
            source_name: source.to_string(),
            what: "a signature block",
            limit: MAX_SIGNATURE_LEN,
        });
    }
    let signature = read_signature(source, framed.signature)?;
    if let Some(hash) = signature.hash_alg() {
        if !framed.hashes.is_empty() && !framed.hashes.contains(&hash) {
            return Err(OpenPgpError::HashHeaderMismatch {
                source_name: source.to_string(),
                header: framed.hashes.iter().map(|h| h.to_string()).collect::<Vec<_>>().join(", "),
                signature: hash.to_string(),
            });
        }
    }
    // The signature covers the lines joined by CR LF, with no line break after the last one.
    let signed = framed.lines.join("\r\n");
    let evidence = judge(keyring, source, &signature, signed.as_bytes(), now)?;
    let mut text = String::with_capacity(signed.len());
    for line in &framed.lines {
        text.push_str(line);
        text.push('\n');
    }
    Ok(Cleartext { text, first_line: framed.first_line, signature: evidence })
}

/// Verifies a detached, armored signature (helm's `X.sha256sum.asc`, as `gpg --armor
/// --detach-sign` writes it) over `data` (the `X.sha256sum` bytes). `source` names the
/// signature file in errors. A binary-mode signature covers the bytes as they are; a text-mode
/// one covers them with line endings made CR LF (RFC 4880 section 5.2.1), and then a carriage
/// return that does not end a line is refused, since tools disagree on whether it breaks one.
/// Exactly one signature is accepted.
pub fn verify_detached(
    keyring: &Keyring,
    source: &str,
    data: &[u8],
    armored_signature: &[u8],
    now: jiff::Timestamp,
) -> Result<PgpSignature, OpenPgpError> {
    let source_name = source.to_string();
    if data.len() as u64 > MAX_SIGNED_FILE_LEN {
        return Err(OpenPgpError::TooLarge { source_name, what: "a signed checksum file", limit: MAX_SIGNED_FILE_LEN });
    }
    if armored_signature.len() as u64 > MAX_SIGNATURE_LEN {
        return Err(OpenPgpError::TooLarge { source_name, what: "an armored signature", limit: MAX_SIGNATURE_LEN });
    }
    let block = frame_detached(source, armored_signature)?;
    let signature = read_signature(source, block)?;
    if signature.typ() == Some(SignatureType::Text) {
        if let Some(line) = lone_carriage_return(data) {
            return Err(OpenPgpError::Framing { source_name, line, problem: FramingProblem::CarriageReturn });
        }
    }
    judge(keyring, source, &signature, data, now)
}

/// The 1-based line of the first carriage return not followed by a line feed.
fn lone_carriage_return(data: &[u8]) -> Option<usize> {
    let at = data.iter().enumerate().position(|(i, &b)| b == b'\r' && data.get(i + 1) != Some(&b'\n'))?;
    Some(1 + data[..at].iter().filter(|&&b| b == b'\n').count())
}

/// A file split into lines at `\n`, each without its line ending (`\n` or `\r\n`).
struct Lines<'a> {
    bytes: &'a [u8],
    /// Start and end (exclusive, before any `\r\n`) of each line.
    spans: Vec<(usize, usize)>,
    /// Where each line's successor starts.
    next: Vec<usize>,
}

impl<'a> Lines<'a> {
    fn new(bytes: &'a [u8]) -> Lines<'a> {
        let mut spans = Vec::new();
        let mut next = Vec::new();
        let mut start = 0;
        while start < bytes.len() {
            let newline = bytes[start..].iter().position(|&b| b == b'\n').map(|p| start + p);
            let after = newline.map_or(bytes.len(), |n| n + 1);
            let mut end = newline.unwrap_or(bytes.len());
            if newline.is_some() && end > start && bytes[end - 1] == b'\r' {
                end -= 1;
            }
            spans.push((start, end));
            next.push(after);
            start = after;
        }
        Lines { bytes, spans, next }
    }

    fn len(&self) -> usize {
        self.spans.len()
    }

    /// Line `i` (0-based) without its line ending.
    fn get(&self, i: usize) -> &'a [u8] {
        let (start, end) = self.spans[i];
        &self.bytes[start..end]
    }

    /// Line `i` without trailing whitespace, for comparing with armor lines.
    fn trimmed(&self, i: usize) -> &'a [u8] {
        self.get(i).trim_ascii_end()
    }

    fn is_blank(&self, i: usize) -> bool {
        self.get(i).trim_ascii().is_empty()
    }

    /// The bytes of lines `first..=last`, with their line endings.
    fn span(&self, first: usize, last: usize) -> &'a [u8] {
        &self.bytes[self.spans[first].0..self.next[last]]
    }
}

/// A clear-signed message taken apart.
struct Framed<'a> {
    /// The signed lines, dash-unescaped, trailing whitespace removed.
    lines: Vec<&'a str>,
    first_line: usize,
    /// The algorithms the `Hash:` headers name.
    hashes: Vec<HashAlgorithm>,
    /// The armored signature block, `BEGIN` to `END` line.
    signature: &'a [u8],
    signature_len: u64,
}

fn frame_cleartext<'a>(source: &str, bytes: &'a [u8]) -> Result<Framed<'a>, OpenPgpError> {
    let lines = Lines::new(bytes);
    let source_name = || source.to_string();
    let framing = |line: usize, problem| OpenPgpError::Framing { source_name: source_name(), line: line + 1, problem };

    // Only whitespace before the message.
    let begin = (0..lines.len()).find(|&i| !lines.is_blank(i)).ok_or_else(|| OpenPgpError::NotClearSigned { source_name: source_name() })?;
    if lines.trimmed(begin) != BEGIN_SIGNED {
        return Err(match (0..lines.len()).any(|i| lines.trimmed(i) == BEGIN_SIGNED) {
            true => OpenPgpError::OutsideSignedText { source_name: source_name(), line: begin + 1 },
            false => OpenPgpError::NotClearSigned { source_name: source_name() },
        });
    }

    // Armor headers up to the first blank line: `Hash: A, B` only.
    let mut hashes = Vec::new();
    let mut index = begin + 1;
    loop {
        if index >= lines.len() {
            return Err(framing(begin, FramingProblem::Unterminated("the blank line after its headers")));
        }
        if lines.is_blank(index) {
            break;
        }
        let header = String::from_utf8_lossy(lines.get(index));
        let Some(("Hash", values)) = header.split_once(':') else {
            let name = header.split_once(':').map_or(header.as_ref(), |(name, _)| name).trim();
            return Err(framing(index, FramingProblem::UnexpectedHeader(name.chars().take(64).collect())));
        };
        for value in values.split(',').map(str::trim) {
            hashes.push(hash_by_name(value).ok_or_else(|| framing(index, FramingProblem::UnknownHash(value.chars().take(64).collect())))?);
        }
        index += 1;
    }

    // The signed text, up to the signature.
    let first_line = index + 2;
    let mut signed = Vec::new();
    let sig_begin = loop {
        index += 1;
        if index >= lines.len() {
            return Err(framing(begin, FramingProblem::Unterminated("a `-----BEGIN PGP SIGNATURE-----` line")));
        }
        let line = lines.get(index);
        if lines.trimmed(index) == BEGIN_SIGNATURE {
            break index;
        }
        if lines.trimmed(index) == BEGIN_SIGNED {
            return Err(OpenPgpError::SecondSignedBlock { source_name: source_name(), line: index + 1 });
        }
        let text = match line {
            [b'-', b' ', rest @ ..] => rest,
            [b'-', ..] => return Err(framing(index, FramingProblem::NotDashEscaped)),
            _ => line,
        };
        if text.contains(&b'\r') {
            return Err(framing(index, FramingProblem::CarriageReturn));
        }
        let text = std::str::from_utf8(text).map_err(|_| framing(index, FramingProblem::NotUtf8))?;
        // RFC 4880 section 7.1: trailing spaces and tabs are not signed.
        let text = text.trim_end_matches([' ', '\t']);
        if text.starts_with("-----BEGIN PGP SIGNED MESSAGE") {
            return Err(OpenPgpError::SecondSignedBlock { source_name: source_name(), line: index + 1 });
        }
        if text.starts_with("-----BEGIN PGP") || text.starts_with("-----END PGP") {
            return Err(framing(index, FramingProblem::ArmorInSignedText));
        }
        signed.push(text);
    };

    // The signature block, then only whitespace.
    let sig_end = (sig_begin + 1..lines.len())
        .find(|&i| {
            let line = lines.trimmed(i);
            line == END_SIGNATURE || line == BEGIN_SIGNED
        })
        .ok_or_else(|| framing(sig_begin, FramingProblem::Unterminated("a `-----END PGP SIGNATURE-----` line")))?;
    if lines.trimmed(sig_end) == BEGIN_SIGNED {
        return Err(OpenPgpError::SecondSignedBlock { source_name: source_name(), line: sig_end + 1 });
    }
    if let Some(extra) = (sig_end + 1..lines.len()).find(|&i| !lines.is_blank(i)) {
        return Err(match lines.trimmed(extra) == BEGIN_SIGNED {
            true => OpenPgpError::SecondSignedBlock { source_name: source_name(), line: extra + 1 },
            false => OpenPgpError::OutsideSignedText { source_name: source_name(), line: extra + 1 },
        });
    }
    let signature = lines.span(sig_begin, sig_end);
    Ok(Framed { lines: signed, first_line, hashes, signature, signature_len: signature.len() as u64 })
}

/// The armored block of a detached signature file: whitespace, one block, whitespace.
fn frame_detached<'a>(source: &str, bytes: &'a [u8]) -> Result<&'a [u8], OpenPgpError> {
    let lines = Lines::new(bytes);
    let framing = |line: usize, problem| OpenPgpError::Framing { source_name: source.to_string(), line: line + 1, problem };
    let begin = (0..lines.len()).find(|&i| !lines.is_blank(i)).unwrap_or(0);
    if begin >= lines.len() || lines.trimmed(begin) != BEGIN_SIGNATURE {
        return Err(framing(begin, FramingProblem::NotArmoredSignature));
    }
    let end = (begin + 1..lines.len())
        .find(|&i| lines.trimmed(i) == END_SIGNATURE)
        .ok_or_else(|| framing(begin, FramingProblem::Unterminated("a `-----END PGP SIGNATURE-----` line")))?;
    if let Some(extra) = (end + 1..lines.len()).find(|&i| !lines.is_blank(i)) {
        // A second armored signature is a second signature: refused like several in one block.
        return Err(match lines.trimmed(extra) == BEGIN_SIGNATURE {
            true => OpenPgpError::SignatureCount { source_name: source.to_string(), count: 2 },
            false => OpenPgpError::OutsideSignedText { source_name: source.to_string(), line: extra + 1 },
        });
    }
    Ok(lines.span(begin, end))
}

fn hash_by_name(name: &str) -> Option<HashAlgorithm> {
    let known = [
        HashAlgorithm::Md5,
        HashAlgorithm::Sha1,
        HashAlgorithm::Ripemd160,
        HashAlgorithm::Sha224,
        HashAlgorithm::Sha256,
        HashAlgorithm::Sha384,
        HashAlgorithm::Sha512,
        HashAlgorithm::Sha3_256,
        HashAlgorithm::Sha3_512,
    ];
    known.into_iter().find(|h| h.to_string().eq_ignore_ascii_case(name))
}

/// The one signature packet of an armored signature block.
fn read_signature(source: &str, block: &[u8]) -> Result<Signature, OpenPgpError> {
    let unreadable = |cause| OpenPgpError::SignatureUnreadable { source_name: source.to_string(), cause };
    let mut dearmor = Dearmor::with_options(block, DearmorOptions::new().set_limit(MAX_SIGNATURE_LEN as usize));
    dearmor.read_header().map_err(unreadable)?;
    if dearmor.typ != Some(BlockType::Signature) {
        return Err(OpenPgpError::Framing {
            source_name: source.to_string(),
            line: 1,
            problem: FramingProblem::NotArmoredSignature,
        });
    }
    let mut packets = Vec::new();
    std::io::Read::read_to_end(&mut dearmor, &mut packets).map_err(|e| unreadable(e.into()))?;
    let mut signatures = Vec::new();
    for packet in PacketParser::new(&packets[..]) {
        match packet.map_err(unreadable)? {
            Packet::Signature(signature) => signatures.push(signature),
            // Padding and marker packets carry nothing (RFC 9580 sections 5.14, 5.8).
            Packet::Padding(_) | Packet::Marker(_) => {}
            other => {
                return Err(OpenPgpError::UnexpectedPacket {
                    source_name: source.to_string(),
                    packet: format!("{:?}", other.tag()),
                })
            }
        }
    }
    match <[Signature; 1]>::try_from(signatures) {
        Ok([signature]) => Ok(signature),
        Err(signatures) => Err(OpenPgpError::SignatureCount { source_name: source.to_string(), count: signatures.len() }),
    }
}

/// MD5, SHA-1 and RIPEMD-160 prove nothing against a forger today.
fn is_weak(hash: HashAlgorithm) -> bool {
    matches!(hash, HashAlgorithm::Md5 | HashAlgorithm::Sha1 | HashAlgorithm::Ripemd160)
}

/// Checks a document signature over `data` and judges the key that made it at the time it was
/// made.
fn judge(
    keyring: &Keyring,
    source: &str,
    signature: &Signature,
    data: &[u8],
    now: jiff::Timestamp,
) -> Result<PgpSignature, OpenPgpError> {
    let source_name = || source.to_string();
    match signature.typ() {
        Some(SignatureType::Binary | SignatureType::Text) => {}
        other => {
            let kind = other.map_or_else(|| "unknown".to_string(), |t| format!("{t:?}"));
            return Err(OpenPgpError::NotADocumentSignature { source_name: source_name(), kind });
        }
    }
    if !matches!(signature.version(), SignatureVersion::V4 | SignatureVersion::V6) {
        return Err(OpenPgpError::Unsupported {
            source_name: source_name(),
            what: format!("a {:?} signature", signature.version()),
        });
    }
    let Some(hash) = signature.hash_alg() else {
        return Err(OpenPgpError::Unsupported { source_name: source_name(), what: "this signature".into() });
    };
    if is_weak(hash) {
        return Err(OpenPgpError::WeakHash { source_name: source_name(), algorithm: hash.to_string() });
    }
    let Some(created) = signature.created() else {
        return Err(OpenPgpError::NoCreationTime { source_name: source_name() });
    };
    let t = i64::from(created.as_secs());
    let signed_at = timestamp(t);
    if t > now.as_second().saturating_add(CLOCK_SKEW_SECS) {
        return Err(OpenPgpError::InTheFuture { source_name: source_name(), signed_at });
    }
    if let Some(expires) = signature_expiry(signature) {
        if expires <= now.as_second() {
            return Err(OpenPgpError::SignatureExpired { source_name: source_name(), expired_at: timestamp(expires) });
        }
    }

    // Candidate keys: by issuer fingerprint where the signature gives one (RFC 9580), else by
    // the 64-bit key ID. Either is only a hint: the mathematics decides.
    let fingerprints = signature.issuer_fingerprint();
    let key_ids: Vec<_> = signature.issuer_key_id().into_iter().filter(|id| !id.is_wildcard()).collect();
    if fingerprints.is_empty() && key_ids.is_empty() {
        return Err(OpenPgpError::NoIssuer { source_name: source_name() });
    }
    let names = |key: &dyn KeyDetails| match fingerprints.is_empty() {
        false => fingerprints.contains(&&key.fingerprint()),
        true => key_ids.contains(&&key.legacy_key_id()),
    };
    let mut candidates: Vec<(&SignedPublicKey, Option<&SignedPublicSubKey>)> = Vec::new();
    for cert in &keyring.keys {
        if names(&cert.primary_key) {
            candidates.push((cert, None));
        }
        candidates.extend(cert.public_subkeys.iter().filter(|sub| names(&sub.key)).map(|sub| (cert, Some(sub))));
    }
    let Some(&(first_cert, first_sub)) = candidates.first() else {
        let issuer = match fingerprints.first() {
            Some(fp) => hex_upper(fp),
            None => key_ids.first().map(|id| hex::encode_upper(id)).unwrap_or_default(),
        };
        return Err(OpenPgpError::UnknownKey { source_name: source_name(), issuer, keyring: keyring.source_name.clone() });
    };
    let verified = candidates.iter().find(|(cert, sub)| match sub {
        Some(sub) => signature.verify(&sub.key, data).is_ok(),
        None => signature.verify(&cert.primary_key, data).is_ok(),
    });
    let Some(&(cert, sub)) = verified else {
        let key = first_sub.map_or_else(|| hex_upper(&first_cert.primary_key.fingerprint()), |s| hex_upper(&s.key.fingerprint()));
        return Err(OpenPgpError::BadSignature { source_name: source_name(), key });
    };
    let validity = judge_key(cert, sub, t, now.as_second()).map_err(|problem| problem.into_error(source, signed_at))?;
    Ok(PgpSignature {
        fingerprint: hex_upper(&cert.primary_key.fingerprint()),
        signing_key: sub.map_or_else(|| hex_upper(&cert.primary_key.fingerprint()), |s| hex_upper(&s.key.fingerprint())),
        user_id: validity.user_id,
        signed_at,
        expired_since: validity.expired_since.map(timestamp),
    })
}

/// What made a key unusable for a signature, before the error names the file.
enum KeyProblem {
    NotYetValid { what: &'static str, key: String, created: i64 },
    Expired { what: &'static str, key: String, at: i64 },
    Revoked { what: &'static str, key: String, reason: String },
    NotSigning { what: &'static str, key: String },
    NoBackSignature { key: String },
    NoBinding { key: String, primary: String },
    NoValidUserId { key: String },
}

impl KeyProblem {
    fn into_error(self, source: &str, signed_at: jiff::Timestamp) -> OpenPgpError {
        let source_name = source.to_string();
        match self {
            KeyProblem::NotYetValid { what, key, created } => {
                OpenPgpError::KeyNotYetValid { source_name, what, key, signed_at, created: timestamp(created) }
            }
            KeyProblem::Expired { what, key, at } => {
                OpenPgpError::KeyExpired { source_name, what, key, signed_at, expired_at: timestamp(at) }
            }
            KeyProblem::Revoked { what, key, reason } => OpenPgpError::KeyRevoked { source_name, what, key, reason },
            KeyProblem::NotSigning { what, key } => OpenPgpError::NotSigningKey { source_name, what, key },
            KeyProblem::NoBackSignature { key } => OpenPgpError::NoBackSignature { source_name, key },
            KeyProblem::NoBinding { key, primary } => OpenPgpError::NoBinding { source_name, key, primary },
            KeyProblem::NoValidUserId { key } => OpenPgpError::NoValidUserId { source_name, key },
        }
    }
}

/// A key found valid for a signature.
struct Validity {
    user_id: String,
    /// The earliest expiry, as the key's current self-signatures state it, that has passed.
    expired_since: Option<i64>,
}

/// A self-signature (user ID certification, direct-key signature or subkey binding) that
/// verified.
#[derive(Clone, Copy)]
struct SelfSig<'a> {
    sig: &'a Signature,
    created: i64,
}

/// Judges the key that made a signature at `t`, the signature's creation time.
///
/// The self-signature that says what a key was at `t` (its expiry and flags) is the newest one
/// made at or before `t`, as `gpg --verify` with its clock set to `t` judges it. Published
/// keyrings often keep only the newest self-signature (`gpg --export-options export-minimal`
/// drops superseded ones; runc's keyring binds its signing subkey, made in 2022, with a 2024
/// signature only): when every self-signature is newer than `t`, the oldest of them, the
/// nearest statement the key's owner left, is used. Revocations count whenever they were made,
/// as with gpg. Whether the key has expired since is judged by the newest self-signature.
fn judge_key(cert: &SignedPublicKey, sub: Option<&SignedPublicSubKey>, t: i64, now: i64) -> Result<Validity, KeyProblem> {
    let primary = &cert.primary_key;
    let primary_fpr = hex_upper(&primary.fingerprint());
    let what = "primary key";
    let primary_created = i64::from(primary.created_at().as_secs());
    if primary_created > t {
        return Err(KeyProblem::NotYetValid { what, key: primary_fpr, created: primary_created });
    }
    let revocation = cert
        .details
        .revocation_signatures
        .iter()
        .chain(&cert.details.direct_signatures)
        .filter(|s| s.typ() == Some(SignatureType::KeyRevocation) && usable(s))
        .find(|s| s.verify_key(primary).is_ok());
    if let Some(revocation) = revocation {
        return Err(KeyProblem::Revoked { what, key: primary_fpr, reason: revocation_reason(revocation) });
    }

    // User IDs the key certified itself and did not revoke; the primary one names the signer.
    let mut self_sigs: Vec<SelfSig<'_>> = Vec::new();
    let mut user_ids: Vec<(String, bool)> = Vec::new();
    for user in &cert.details.users {
        let verifies = |s: &&Signature| usable(s) && s.verify_certification(primary, Tag::UserId, &user.id).is_ok();
        let revoked = user.signatures.iter().filter(|s| s.typ() == Some(SignatureType::CertRevocation)).any(|s| verifies(&s));
        if revoked {
            continue;
        }
        let certifications: Vec<SelfSig<'_>> = user
            .signatures
            .iter()
            .filter(|s| s.is_certification() && s.typ() != Some(SignatureType::CertRevocation))
            .filter(|s| issued_by(s, primary))
            .filter(verifies)
            .filter_map(self_sig)
            .collect();
        let Some(newest) = certifications.iter().max_by_key(|s| s.created) else { continue };
        user_ids.push((String::from_utf8_lossy(user.id.id()).into_owned(), newest.sig.is_primary()));
        self_sigs.extend(certifications);
    }
    let Some(user_id) = user_ids.iter().find(|(_, primary)| *primary).or(user_ids.first()).map(|(id, _)| id.clone())
    else {
        return Err(KeyProblem::NoValidUserId { key: primary_fpr });
    };
    self_sigs.extend(
        cert.details
            .direct_signatures
            .iter()
            .filter(|s| s.typ() == Some(SignatureType::Key) && usable(s) && s.verify_key(primary).is_ok())
            .filter_map(self_sig),
    );
    let Some(primary_then) = in_effect(&self_sigs, t) else {
        return Err(KeyProblem::NoValidUserId { key: primary_fpr });
    };
    if let Some(at) = key_expiry(primary_then.sig, primary_created) {
        if at <= t {
            return Err(KeyProblem::Expired { what, key: primary_fpr, at });
        }
    }
    let mut expiries_now = vec![in_effect(&self_sigs, now.saturating_add(CLOCK_SKEW_SECS))
        .and_then(|s| key_expiry(s.sig, primary_created))];

    match sub {
        None => {
            // A primary key self-signature without key flags is a legacy key: usable for what its
            // algorithm can do, as gpg treats it.
            if has_key_flags(primary_then.sig) && !primary_then.sig.key_flags().sign() {
                return Err(KeyProblem::NotSigning { what, key: primary_fpr });
            }
        }
        Some(sub) => {
            let what = "subkey";
            let key = hex_upper(&sub.key.fingerprint());
            let created = i64::from(sub.key.created_at().as_secs());
            if created > t {
                return Err(KeyProblem::NotYetValid { what, key, created });
            }
            let binds = |s: &&Signature| usable(s) && s.verify_subkey_binding(primary, &sub.key).is_ok();
            let revocation =
                sub.signatures.iter().filter(|s| s.typ() == Some(SignatureType::SubkeyRevocation)).find(binds);
            if let Some(revocation) = revocation {
                return Err(KeyProblem::Revoked { what, key, reason: revocation_reason(revocation) });
            }
            let bindings: Vec<SelfSig<'_>> = sub
                .signatures
                .iter()
                .filter(|s| s.typ() == Some(SignatureType::SubkeyBinding))
                .filter(binds)
                .filter_map(self_sig)
                .collect();
            let Some(binding) = in_effect(&bindings, t) else {
                return Err(KeyProblem::NoBinding { key, primary: primary_fpr });
            };
            // Subkeys are only for what their binding says: no flags, no signing.
            if !binding.sig.key_flags().sign() {
                return Err(KeyProblem::NotSigning { what, key });
            }
            let back_signed = binding.sig.embedded_signature().is_some_and(|back| {
                back.typ() == Some(SignatureType::KeyBinding)
                    && usable(back)
                    && back.verify_primary_key_binding(&sub.key, primary).is_ok()
            });
            if !back_signed {
                return Err(KeyProblem::NoBackSignature { key });
            }
            if let Some(at) = key_expiry(binding.sig, created) {
                if at <= t {
                    return Err(KeyProblem::Expired { what, key, at });
                }
            }
            expiries_now.push(in_effect(&bindings, now.saturating_add(CLOCK_SKEW_SECS)).and_then(|s| key_expiry(s.sig, created)));
        }
    }
    let expired_since = expiries_now.into_iter().flatten().filter(|&at| at <= now).min();
    Ok(Validity { user_id, expired_since })
}

fn self_sig(sig: &Signature) -> Option<SelfSig<'_>> {
    Some(SelfSig { sig, created: i64::from(sig.created()?.as_secs()) })
}

/// The self-signature in effect at `t`: the newest made at or before `t` and not itself
/// expired by then; else (every one is newer) the oldest.
fn in_effect<'a>(sigs: &[SelfSig<'a>], t: i64) -> Option<SelfSig<'a>> {
    let live = |s: &&SelfSig<'a>| s.created <= t && signature_expiry(s.sig).is_none_or(|end| t < end);
    let newest_before = sigs.iter().filter(live).max_by_key(|s| s.created);
    newest_before.or_else(|| sigs.iter().filter(|s| s.created > t).min_by_key(|s| s.created)).copied()
}

/// A self-signature or back-signature made with a hash that still resists forgery well enough
/// for a statement the key's owner made: MD5 no longer does. (SHA-1 self-signatures, common in
/// older keys, are kept: rPGP computes SHA-1 with collision detection.)
fn usable(sig: &Signature) -> bool {
    sig.hash_alg().is_some_and(|h| h != HashAlgorithm::Md5)
}

/// Whether `sig` names `key` as its issuer, or names no issuer at all.
fn issued_by(sig: &Signature, key: &impl KeyDetails) -> bool {
    let fingerprints = sig.issuer_fingerprint();
    let key_ids = sig.issuer_key_id();
    (fingerprints.is_empty() && key_ids.is_empty())
        || fingerprints.contains(&&key.fingerprint())
        || key_ids.contains(&&key.legacy_key_id())
}

fn has_key_flags(sig: &Signature) -> bool {
    sig.config().is_some_and(|c| c.hashed_subpackets().any(|p| matches!(p.data, SubpacketData::KeyFlags(_))))
}

/// When a key expires by `sig` (Unix seconds), if it does: expiry is counted from the key's
/// creation, and zero means never.
fn key_expiry(sig: &Signature, key_created: i64) -> Option<i64> {
    let secs = sig.key_expiration_time()?.as_secs();
    (secs > 0).then(|| key_created + i64::from(secs))
}

/// When a signature itself expires (Unix seconds), if it does.
fn signature_expiry(sig: &Signature) -> Option<i64> {
    let secs = sig.signature_expiration_time()?.as_secs();
    let created = sig.created()?.as_secs();
    (secs > 0).then(|| i64::from(created) + i64::from(secs))
}

fn revocation_reason(sig: &Signature) -> String {
    let code = match sig.revocation_reason_code() {
        None | Some(RevocationCode::NoReason) => "no reason given".to_string(),
        Some(RevocationCode::KeySuperseded) => "superseded".to_string(),
        Some(RevocationCode::KeyCompromised) => "compromised".to_string(),
        Some(RevocationCode::KeyRetired) => "retired".to_string(),
        Some(other) => format!("reason code {}", u8::from(*other)),
    };
    let text = sig.revocation_reason_string().map(|s| String::from_utf8_lossy(s).trim().to_string()).unwrap_or_default();
    match text.is_empty() {
        true => code,
        false => format!("{code}: {}", text.chars().take(200).collect::<String>()),
    }
}

fn hex_upper(fingerprint: &pgp::types::Fingerprint) -> String {
    hex::encode_upper(fingerprint.as_bytes())
}

/// Unix seconds as a timestamp; every time an OpenPGP packet can state is in jiff's range.
fn timestamp(secs: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_second(secs).unwrap_or(jiff::Timestamp::MAX)
}
