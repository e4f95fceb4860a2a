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
use pgp::packet::{
    Packet, PacketParser, PacketTrait as _, RevocationCode, Signature, SignatureType, SignatureVersion, SubpacketData,
};
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
    ("runc.keyring", include_bytes!("../../manifests/keys/runc.keyring")),
    ("helm.KEYS", include_bytes!("../../manifests/keys/helm.KEYS")),
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
    /// A block that never ends: what is missing.
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
            FramingProblem::Unterminated(missing) => write!(f, "unterminated: {missing}"),
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
                    problem: FramingProblem::Unterminated("no `-----END PGP PUBLIC KEY BLOCK-----` line"),
                }
            })?;
            let unreadable =
                |cause| OpenPgpError::KeyringUnreadable { source_name: source_name.clone(), line: begin + 1, cause };
            let (parsed, _) = SignedPublicKey::from_armor_many(lines.span(begin, end)).map_err(unreadable)?;
            for key in parsed {
                merge(&mut keys, key.map_err(unreadable)?);
            }
            blocks += 1;
            index = end + 1;
        }
        // No armor at all: binary packets, which start with a byte whose high bit is set.
        if blocks == 0 && bytes.first().is_some_and(|b| b & 0x80 != 0) {
            let unreadable =
                |cause| OpenPgpError::KeyringUnreadable { source_name: source_name.clone(), line: 1, cause };
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
    let begin = (0..lines.len())
        .find(|&i| !lines.is_blank(i))
        .ok_or_else(|| OpenPgpError::NotClearSigned { source_name: source_name() })?;
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
            return Err(framing(begin, FramingProblem::Unterminated("no blank line after the armor headers")));
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
            hashes.push(
                hash_by_name(value)
                    .ok_or_else(|| framing(index, FramingProblem::UnknownHash(value.chars().take(64).collect())))?,
            );
        }
        index += 1;
    }

    // The signed text, up to the signature.
    let first_line = index + 2;
    let mut signed = Vec::new();
    let sig_begin = loop {
        index += 1;
        if index >= lines.len() {
            return Err(framing(
                begin,
                FramingProblem::Unterminated("no `-----BEGIN PGP SIGNATURE-----` line after the signed text"),
            ));
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
        .ok_or_else(|| framing(sig_begin, FramingProblem::Unterminated("no `-----END PGP SIGNATURE-----` line")))?;
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
    let framing =
        |line: usize, problem| OpenPgpError::Framing { source_name: source.to_string(), line: line + 1, problem };
    let begin = (0..lines.len()).find(|&i| !lines.is_blank(i)).unwrap_or(0);
    if begin >= lines.len() || lines.trimmed(begin) != BEGIN_SIGNATURE {
        return Err(framing(begin, FramingProblem::NotArmoredSignature));
    }
    let end = (begin + 1..lines.len())
        .find(|&i| lines.trimmed(i) == END_SIGNATURE)
        .ok_or_else(|| framing(begin, FramingProblem::Unterminated("no `-----END PGP SIGNATURE-----` line")))?;
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
        Err(signatures) => {
            Err(OpenPgpError::SignatureCount { source_name: source.to_string(), count: signatures.len() })
        }
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
            None => key_ids.first().map(hex::encode_upper).unwrap_or_default(),
        };
        return Err(OpenPgpError::UnknownKey {
            source_name: source_name(),
            issuer,
            keyring: keyring.source_name.clone(),
        });
    };
    let verified = candidates.iter().find(|(cert, sub)| match sub {
        Some(sub) => signature.verify(&sub.key, data).is_ok(),
        None => signature.verify(&cert.primary_key, data).is_ok(),
    });
    let Some(&(cert, sub)) = verified else {
        let key = first_sub
            .map_or_else(|| hex_upper(&first_cert.primary_key.fingerprint()), |s| hex_upper(&s.key.fingerprint()));
        return Err(OpenPgpError::BadSignature { source_name: source_name(), key });
    };
    let validity = judge_key(cert, sub, t, now.as_second()).map_err(|problem| problem.into_error(source, signed_at))?;
    Ok(PgpSignature {
        fingerprint: hex_upper(&cert.primary_key.fingerprint()),
        signing_key: sub
            .map_or_else(|| hex_upper(&cert.primary_key.fingerprint()), |s| hex_upper(&s.key.fingerprint())),
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
fn judge_key(
    cert: &SignedPublicKey,
    sub: Option<&SignedPublicSubKey>,
    t: i64,
    now: i64,
) -> Result<Validity, KeyProblem> {
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
        let revoked =
            user.signatures.iter().filter(|s| s.typ() == Some(SignatureType::CertRevocation)).any(|s| verifies(&s));
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
    let mut expiries_now = vec![
        in_effect(&self_sigs, now.saturating_add(CLOCK_SKEW_SECS)).and_then(|s| key_expiry(s.sig, primary_created))
    ];

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
            expiries_now.push(
                in_effect(&bindings, now.saturating_add(CLOCK_SKEW_SECS)).and_then(|s| key_expiry(s.sig, created)),
            );
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
    let text =
        sig.revocation_reason_string().map(|s| String::from_utf8_lossy(s).trim().to_string()).unwrap_or_default();
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

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;

    use pgp::composed::{DetachedSignature, KeyType, SignedKeyDetails};
    use pgp::packet::{
        KeyFlags, PubKeyInner, PublicKey, PublicSubkey, SecretKey, SecretSubkey, SignatureConfig, Subpacket, UserId,
    };
    use pgp::ser::Serialize as _;
    use pgp::types::{Duration, KeyVersion, Password, SignedUser, Timestamp};
    use rand::rngs::StdRng;
    use rand::SeedableRng as _;

    use super::*;

    // ---- time

    fn secs(rfc3339: &str) -> u32 {
        let t: jiff::Timestamp = rfc3339.parse().unwrap();
        u32::try_from(t.as_second()).unwrap()
    }

    /// "Now" for every test: fixed, so that expiry verdicts never change with the calendar.
    fn now() -> jiff::Timestamp {
        "2026-11-30T00:00:00Z".parse().unwrap()
    }

    const YEAR: u32 = 365 * 86400;

    // ---- test keys, made with rPGP itself, every self-signature dated as a test needs

    /// One subkey of a test key.
    struct SubSpec {
        key_type: KeyType,
        sign: bool,
        created: u32,
        /// Whether signing-subkey bindings carry the subkey's back-signature.
        back_signed: bool,
        /// Binding signatures: (created, key expiry in seconds after the subkey's creation).
        bindings: Vec<(u32, Option<u32>)>,
        revoked_at: Option<u32>,
    }

    impl SubSpec {
        /// An ed25519 signing subkey made at `created`, bound then with its back-signature,
        /// never expiring, never revoked: runc's kind of subkey.
        fn signing(created: u32) -> SubSpec {
            SubSpec {
                key_type: KeyType::Ed25519Legacy,
                sign: true,
                created,
                back_signed: true,
                bindings: vec![(created, None)],
                revoked_at: None,
            }
        }
    }

    struct Spec {
        seed: u64,
        key_type: KeyType,
        /// The primary key's signing flag (it always certifies).
        sign: bool,
        created: u32,
        user_id: &'static str,
        /// User ID self-signatures: (created, key expiry in seconds after creation).
        self_sigs: Vec<(u32, Option<u32>)>,
        sub: Option<SubSpec>,
        /// A key revocation (reason: compromised, "lost the laptop"), dated.
        revoked_at: Option<u32>,
    }

    struct TestKey {
        public: SignedPublicKey,
        primary: SecretKey,
        sub: Option<SecretSubkey>,
    }

    fn sig_config(
        typ: SignatureType,
        alg: pgp::crypto::public_key::PublicKeyAlgorithm,
        key: &impl KeyDetails,
        at: u32,
    ) -> SignatureConfig {
        let mut config = SignatureConfig::v4(typ, alg, HashAlgorithm::Sha256);
        config.hashed_subpackets = vec![
            Subpacket::regular(SubpacketData::SignatureCreationTime(Timestamp::from_secs(at))).unwrap(),
            Subpacket::regular(SubpacketData::IssuerFingerprint(key.fingerprint())).unwrap(),
        ];
        config.unhashed_subpackets = vec![Subpacket::regular(SubpacketData::IssuerKeyId(key.legacy_key_id())).unwrap()];
        config
    }

    fn hashed(config: &mut SignatureConfig, data: SubpacketData) {
        config.hashed_subpackets.push(Subpacket::regular(data).unwrap());
    }

    impl TestKey {
        fn new(spec: Spec) -> TestKey {
            let mut rng = StdRng::seed_from_u64(spec.seed);
            let pw = Password::empty();
            let (public_params, secret_params) = spec.key_type.generate(&mut rng).unwrap();
            let inner = PubKeyInner::new(
                KeyVersion::V4,
                spec.key_type.to_alg(),
                Timestamp::from_secs(spec.created),
                None,
                public_params,
            )
            .unwrap();
            let primary_pub = PublicKey::from_inner(inner).unwrap();
            let primary = SecretKey::new(primary_pub.clone(), secret_params).unwrap();
            let alg = spec.key_type.to_alg();

            let user_id = UserId::from_str(Default::default(), spec.user_id).unwrap();
            let mut flags = KeyFlags::default();
            flags.set_certify(true);
            flags.set_sign(spec.sign);
            let certifications = spec
                .self_sigs
                .iter()
                .map(|&(at, expiry)| {
                    let mut config = sig_config(SignatureType::CertPositive, alg, &primary_pub, at);
                    hashed(&mut config, SubpacketData::KeyFlags(flags.clone()));
                    hashed(&mut config, SubpacketData::IsPrimary(true));
                    if let Some(expiry) = expiry {
                        hashed(&mut config, SubpacketData::KeyExpirationTime(Duration::from_secs(expiry)));
                    }
                    config.sign_certification(&primary, &primary_pub, &pw, Tag::UserId, &user_id).unwrap()
                })
                .collect();
            let revocations = spec
                .revoked_at
                .map(|at| {
                    let mut config = sig_config(SignatureType::KeyRevocation, alg, &primary_pub, at);
                    hashed(
                        &mut config,
                        SubpacketData::RevocationReason(RevocationCode::KeyCompromised, "lost the laptop".into()),
                    );
                    config.sign_key(&primary, &pw, &primary_pub).unwrap()
                })
                .into_iter()
                .collect();

            let mut subkeys = Vec::new();
            let mut sub_secret = None;
            if let Some(sub) = spec.sub {
                let (public_params, secret_params) = sub.key_type.generate(&mut rng).unwrap();
                let inner = PubKeyInner::new(
                    KeyVersion::V4,
                    sub.key_type.to_alg(),
                    Timestamp::from_secs(sub.created),
                    None,
                    public_params,
                )
                .unwrap();
                let sub_pub = PublicSubkey::from_inner(inner).unwrap();
                let sub_sec = SecretSubkey::new(sub_pub.clone(), secret_params).unwrap();
                let mut sub_flags = KeyFlags::default();
                sub_flags.set_sign(sub.sign);
                sub_flags.set_encrypt_comms(!sub.sign);
                sub_flags.set_encrypt_storage(!sub.sign);
                let mut signatures: Vec<Signature> = sub
                    .bindings
                    .iter()
                    .map(|&(at, expiry)| {
                        let mut config = sig_config(SignatureType::SubkeyBinding, alg, &primary_pub, at);
                        hashed(&mut config, SubpacketData::KeyFlags(sub_flags.clone()));
                        if let Some(expiry) = expiry {
                            hashed(&mut config, SubpacketData::KeyExpirationTime(Duration::from_secs(expiry)));
                        }
                        if sub.back_signed {
                            let back = sig_config(SignatureType::KeyBinding, sub.key_type.to_alg(), &sub_pub, at)
                                .sign_primary_key_binding(&sub_sec, &sub_pub, &pw, &primary_pub)
                                .unwrap();
                            hashed(&mut config, SubpacketData::EmbeddedSignature(Box::new(back)));
                        }
                        config.sign_subkey_binding(&primary, &primary_pub, &pw, &sub_pub).unwrap()
                    })
                    .collect();
                if let Some(at) = sub.revoked_at {
                    let mut config = sig_config(SignatureType::SubkeyRevocation, alg, &primary_pub, at);
                    hashed(&mut config, SubpacketData::RevocationReason(RevocationCode::KeySuperseded, "".into()));
                    signatures.push(config.sign_subkey_binding(&primary, &primary_pub, &pw, &sub_pub).unwrap());
                }
                subkeys.push(SignedPublicSubKey { key: sub_pub, signatures });
                sub_secret = Some(sub_sec);
            }
            let public = SignedPublicKey {
                primary_key: primary_pub,
                details: SignedKeyDetails::new(
                    revocations,
                    vec![],
                    vec![SignedUser::new(user_id, certifications)],
                    vec![],
                ),
                public_subkeys: subkeys,
            };
            TestKey { public, primary, sub: sub_secret }
        }

        fn fingerprint(&self) -> String {
            hex_upper(&self.public.primary_key.fingerprint())
        }

        fn sub_fingerprint(&self) -> String {
            hex_upper(&self.public.public_subkeys[0].key.fingerprint())
        }

        fn armored(&self) -> String {
            self.public.to_armored_string(Default::default()).unwrap()
        }

        fn keyring(&self) -> Keyring {
            Keyring::parse("test.keyring", self.armored().as_bytes()).unwrap()
        }

        /// A document signature by the signing subkey, or the primary key if there is none.
        fn sign(&self, typ: SignatureType, hash: HashAlgorithm, at: u32, data: &[u8]) -> Signature {
            match &self.sub {
                Some(sub) => sign_with(sub, typ, hash, at, data),
                None => sign_with(&self.primary, typ, hash, at, data),
            }
        }
    }

    fn sign_with<K: pgp::types::SigningKey>(
        key: &K,
        typ: SignatureType,
        hash: HashAlgorithm,
        at: u32,
        data: &[u8],
    ) -> Signature {
        let mut config = sig_config(typ, key.algorithm(), key, at);
        config.hash_alg = hash;
        config.sign(key, &Password::empty(), data).unwrap()
    }

    /// An armored signature block holding `signatures`, as `gpg --armor` writes it.
    fn armor(signatures: &[Signature]) -> String {
        let detached: Vec<DetachedSignature> = signatures.iter().cloned().map(DetachedSignature::new).collect();
        let mut out = Vec::new();
        pgp::armor::write(&detached, BlockType::Signature, &mut out, None, true).unwrap();
        String::from_utf8(out).unwrap()
    }

    /// The text a clear-signature covers: lines without trailing blanks, joined by CR LF.
    fn canonical(text: &str) -> String {
        text.lines().map(|l| l.trim_end_matches([' ', '\t'])).collect::<Vec<_>>().join("\r\n")
    }

    /// `text` clear-signed as `gpg --clear-sign` writes it (runc's `script/release_sign.sh`).
    fn clearsign(key: &TestKey, text: &str, at: u32) -> String {
        clearsign_with(
            &[key.sign(SignatureType::Text, HashAlgorithm::Sha256, at, canonical(text).as_bytes())],
            "SHA256",
            text,
        )
    }

    fn clearsign_with(signatures: &[Signature], hash_header: &str, text: &str) -> String {
        let mut out = format!("-----BEGIN PGP SIGNED MESSAGE-----\nHash: {hash_header}\n\n");
        for line in text.lines() {
            if line.starts_with('-') {
                out.push_str("- ");
            }
            out.push_str(line);
            out.push('\n');
        }
        out.push_str(&armor(signatures));
        out
    }

    // ---- the keys (made once per test run: RSA key generation takes a while)

    const RUNC_UID: &str = "kverify test runc signer <runc-signer@kverify.test>";
    const HELM_UID: &str = "kverify test helm signer <helm-signer@kverify.test>";

    /// runc's shape: an ed25519 certification-only primary key with an ed25519 signing subkey.
    fn runc_key() -> &'static TestKey {
        static KEY: OnceLock<TestKey> = OnceLock::new();
        KEY.get_or_init(|| {
            let made = secs("2024-01-01T00:00:00Z");
            TestKey::new(Spec {
                seed: 1,
                key_type: KeyType::Ed25519Legacy,
                sign: false,
                created: made,
                user_id: RUNC_UID,
                self_sigs: vec![(made, None)],
                sub: Some(SubSpec::signing(made)),
                revoked_at: None,
            })
        })
    }

    /// helm's shape: an RSA primary key that signs.
    fn helm_key() -> &'static TestKey {
        static KEY: OnceLock<TestKey> = OnceLock::new();
        KEY.get_or_init(|| {
            let made = secs("2024-01-01T00:00:00Z");
            TestKey::new(Spec {
                seed: 2,
                key_type: KeyType::Rsa(2048),
                sign: true,
                created: made,
                user_id: HELM_UID,
                self_sigs: vec![(made, None)],
                sub: None,
                revoked_at: None,
            })
        })
    }

    fn ed25519_key(seed: u64, user_id: &'static str, adjust: impl FnOnce(&mut Spec)) -> TestKey {
        let made = secs("2024-01-01T00:00:00Z");
        let mut spec = Spec {
            seed,
            key_type: KeyType::Ed25519Legacy,
            sign: true,
            created: made,
            user_id,
            self_sigs: vec![(made, None)],
            sub: None,
            revoked_at: None,
        };
        adjust(&mut spec);
        TestKey::new(spec)
    }

    // ---- upstream-shaped files

    const A: &str = "e1c38137db8d8777eed8813646b59bf4d22d19b9011ab11dc28e2e34f6b80a05";
    const B: &str = "629d4630657caace9c819fd3797f4a70c397fbd41a2a7e464a0507dad675d52c";
    const EVIL: &str = "0000000000000000000000000000000000000000000000000000000000000bad";

    /// runc's `runc.sha256sum` before signing (`sha256sum runc.*`).
    fn runc_sums() -> String {
        format!("{A}  runc.amd64\n{B}  runc.arm64\n{A}  runc.ppc64le\n{B}  runc.s390x\n{A}  runc.tar.xz\n")
    }

    fn signed_at() -> u32 {
        secs("2025-06-01T12:00:00Z")
    }

    fn good_runc_file() -> String {
        clearsign(runc_key(), &runc_sums(), signed_at())
    }

    fn helm_sums() -> String {
        format!("{A}  helm-v3.14.1-linux-amd64.tar.gz\n")
    }

    fn good_helm_asc() -> String {
        armor(&[helm_key().sign(SignatureType::Binary, HashAlgorithm::Sha256, signed_at(), helm_sums().as_bytes())])
    }

    /// The keyring the tests verify with: both upstream-shaped keys, with text between the
    /// blocks as in helm's `KEYS`.
    fn keyring() -> &'static Keyring {
        static RING: OnceLock<Keyring> = OnceLock::new();
        RING.get_or_init(|| {
            let text = format!(
                "This file has the keys used to sign releases.\n\npub   ed25519 2024-01-01 [C]\n{}\n\npub   rsa2048 2024-01-01 [SC]\n{}",
                runc_key().armored(),
                helm_key().armored()
            );
            Keyring::parse("test KEYS", text.as_bytes()).unwrap()
        })
    }

    fn cleartext(file: &str) -> Result<Cleartext, OpenPgpError> {
        verify_cleartext(keyring(), "runc.sha256sum", file.as_bytes(), now())
    }

    fn detached(data: &str, asc: &str) -> Result<PgpSignature, OpenPgpError> {
        verify_detached(keyring(), "helm.tar.gz.sha256sum.asc", data.as_bytes(), asc.as_bytes(), now())
    }

    #[track_caller]
    fn err<T: fmt::Debug>(result: Result<T, OpenPgpError>) -> (OpenPgpError, String) {
        let e = result.expect_err("must be refused");
        let message = e.to_string();
        (e, message)
    }

    // ---- what verifies

    #[test]
    fn good_runc_file_signed_by_an_ed25519_subkey_yields_the_signed_text_and_the_signer() {
        let out = cleartext(&good_runc_file()).unwrap();
        assert_eq!(out.text, runc_sums());
        assert_eq!(out.first_line, 4);
        let sig = out.signature;
        assert_eq!(sig.fingerprint, runc_key().fingerprint());
        assert_eq!(sig.signing_key, runc_key().sub_fingerprint());
        assert_ne!(sig.fingerprint, sig.signing_key);
        assert_eq!(sig.user_id, RUNC_UID);
        assert_eq!(sig.signed_at.to_string(), "2025-06-01T12:00:00Z");
        assert_eq!(sig.expired_since, None);
        let shown = sig.to_string();
        assert!(shown.contains(RUNC_UID) && shown.contains(&sig.fingerprint), "{shown}");
    }

    /// rPGP's own cleartext reader, where it reads a file kverify accepted, signs and verifies
    /// the same text. (It reads fewer files: it refuses blank lines after the signature and
    /// blanks after an armor line, which RFC 9580 section 6.2 allows and gpg accepts.)
    fn rpgp_agrees(file: &str, out: &Cleartext) -> bool {
        let Ok((message, _)) = pgp::composed::CleartextSignedMessage::from_string(file.trim_start()) else {
            return false;
        };
        assert_eq!(message.signed_text(), out.text.lines().collect::<Vec<_>>().join("\r\n"), "{file}");
        message.verify(&runc_key().public.public_subkeys[0].key).unwrap();
        true
    }

    #[test]
    fn rpgp_cleartext_reader_agrees_on_the_signed_text() {
        for file in [good_runc_file(), good_runc_file().replace('\n', "\r\n"), format!("\n \n{}", good_runc_file())] {
            assert!(rpgp_agrees(&file, &cleartext(&file).unwrap()), "rPGP does not read\n{file}");
        }
    }

    #[test]
    fn good_helm_sha256sum_with_a_detached_rsa_signature_verifies() {
        let sig = detached(&helm_sums(), &good_helm_asc()).unwrap();
        assert_eq!(sig.fingerprint, helm_key().fingerprint());
        assert_eq!(sig.signing_key, sig.fingerprint);
        assert_eq!(sig.user_id, HELM_UID);
        assert_eq!(sig.signed_at.to_string(), "2025-06-01T12:00:00Z");
        assert_eq!(sig.expired_since, None);
    }

    #[test]
    fn text_mode_detached_signature_verifies_whatever_the_line_endings() {
        let asc =
            armor(&[helm_key().sign(SignatureType::Text, HashAlgorithm::Sha256, signed_at(), helm_sums().as_bytes())]);
        detached(&helm_sums(), &asc).unwrap();
        detached(&helm_sums().replace('\n', "\r\n"), &asc).unwrap();
    }

    #[test]
    fn binary_mode_detached_signature_covers_the_bytes_as_they_are() {
        let (e, message) = err(detached(&helm_sums().replace('\n', "\r\n"), &good_helm_asc()));
        assert!(matches!(e, OpenPgpError::BadSignature { .. }), "{message}");
    }

    #[test]
    fn clear_signed_file_with_crlf_line_endings_verifies() {
        let out = cleartext(&good_runc_file().replace('\n', "\r\n")).unwrap();
        assert_eq!(out.text, runc_sums());
    }

    #[test]
    fn dash_escaped_signed_lines_are_unescaped() {
        let text = format!("-----BEGIN kverify comment-----\n--- {A}\n{A}  runc.amd64\n");
        let file = clearsign(runc_key(), &text, signed_at());
        assert!(file.contains("- -----BEGIN kverify comment"), "{file}");
        assert_eq!(cleartext(&file).unwrap().text, text);
    }

    #[test]
    fn trailing_whitespace_is_not_signed_and_cannot_change_which_name_a_digest_names() {
        // Added after signing: RFC 4880 section 7.1 leaves trailing blanks out of the signature,
        // so the file still verifies, and the text handed back has none of them: the line
        // cannot name a file called "runc.amd64 " or "runc.amd64\t".
        let file = good_runc_file().replace(&format!("{A}  runc.amd64\n"), &format!("{A}  runc.amd64 \t \n"));
        let out = cleartext(&file).unwrap();
        assert_eq!(out.text, runc_sums());
        // Signed with trailing blanks, the same: what was signed had none.
        let file = clearsign(runc_key(), &runc_sums().replace('\n', "  \n"), signed_at());
        assert_eq!(cleartext(&file).unwrap().text, runc_sums());
    }

    #[test]
    fn whitespace_around_the_signed_message_is_allowed() {
        let file = format!("\n  \n{}\n\n", good_runc_file());
        assert_eq!(cleartext(&file).unwrap().first_line, 6);
    }

    #[test]
    fn signature_made_before_the_key_expired_stays_good_and_says_it_has_expired_since() {
        let (key, _, _) = lapsed();
        let out = verify_cleartext(
            &key.keyring(),
            "runc.sha256sum",
            clearsign(&key, &runc_sums(), secs("2020-06-01T00:00:00Z")).as_bytes(),
            now(),
        )
        .unwrap();
        assert_eq!(out.signature.expired_since.map(|t| t.to_string()).as_deref(), Some("2021-01-01T00:00:00Z"));
        assert!(out.signature.to_string().contains("expired since"), "{}", out.signature);
    }

    /// The contract's "lapsed" key: made 2020-01-01 with no expiry, then a self-signature dated
    /// 2020-01-01 00:10 gives it an expiry of 2021-01-01.
    fn lapsed() -> (TestKey, u32, u32) {
        let made = secs("2020-01-01T00:00:00Z");
        let key = ed25519_key(3, "kverify test lapsed signer <lapsed-signer@kverify.test>", |s| {
            s.created = made;
            s.self_sigs = vec![(made, None), (made + 600, Some(secs("2021-01-01T00:00:00Z") - made))];
        });
        (key, made, made + 600)
    }

    #[test]
    fn signature_made_after_the_key_expired_fails() {
        let (key, _, _) = lapsed();
        let file = clearsign(&key, &runc_sums(), secs("2021-06-01T00:00:00Z"));
        let (e, message) = err(verify_cleartext(&key.keyring(), "runc.sha256sum", file.as_bytes(), now()));
        assert!(matches!(e, OpenPgpError::KeyExpired { .. }), "{message}");
        assert_eq!(
            message,
            format!(
                "runc.sha256sum: signed 2021-06-01T00:00:00Z by primary key {}, which had expired 2021-01-01T00:00:00Z",
                key.fingerprint()
            )
        );
    }

    #[test]
    fn signature_made_after_a_subkey_expired_fails_and_before_it_says_expired_since() {
        let made = secs("2024-01-01T00:00:00Z");
        let key = ed25519_key(4, RUNC_UID, |s| {
            s.sign = false;
            s.sub = Some(SubSpec { bindings: vec![(made, Some(YEAR))], ..SubSpec::signing(made) });
        });
        let ring = key.keyring();
        let before = clearsign(&key, &runc_sums(), made + YEAR / 2);
        let out = verify_cleartext(&ring, "runc.sha256sum", before.as_bytes(), now()).unwrap();
        assert_eq!(out.signature.expired_since, Some(timestamp(i64::from(made + YEAR))));
        let after = clearsign(&key, &runc_sums(), made + YEAR + 1);
        let (e, message) = err(verify_cleartext(&ring, "runc.sha256sum", after.as_bytes(), now()));
        assert!(matches!(e, OpenPgpError::KeyExpired { what: "subkey", .. }), "{message}");
        assert!(message.contains(&key.sub_fingerprint()), "{message}");
    }

    #[test]
    fn key_extended_after_it_lapsed_judges_each_signature_by_the_self_signature_then() {
        // Expiry 2025-01-01 set at creation; in 2025-03 a new self-signature extends it to 2030.
        // A signature from 2025-02 (while it had lapsed) fails; one from 2025-04 verifies.
        let made = secs("2024-01-01T00:00:00Z");
        let key = ed25519_key(5, HELM_UID, |s| {
            s.self_sigs = vec![
                (made, Some(secs("2025-01-01T00:00:00Z") - made)),
                (secs("2025-03-01T00:00:00Z"), Some(secs("2030-01-01T00:00:00Z") - made)),
            ];
        });
        let ring = key.keyring();
        let lapsed = armor(&[key.sign(
            SignatureType::Binary,
            HashAlgorithm::Sha256,
            secs("2025-02-01T00:00:00Z"),
            helm_sums().as_bytes(),
        )]);
        let (e, message) = err(verify_detached(&ring, "x.asc", helm_sums().as_bytes(), lapsed.as_bytes(), now()));
        assert!(matches!(e, OpenPgpError::KeyExpired { .. }), "{message}");
        let renewed = armor(&[key.sign(
            SignatureType::Binary,
            HashAlgorithm::Sha256,
            secs("2025-04-01T00:00:00Z"),
            helm_sums().as_bytes(),
        )]);
        let sig = verify_detached(&ring, "x.asc", helm_sums().as_bytes(), renewed.as_bytes(), now()).unwrap();
        assert_eq!(sig.expired_since, None);
    }

    #[test]
    fn subkey_bound_only_by_a_signature_newer_than_the_release_is_judged_by_it() {
        // runc's keyring binds its signing subkey (made 2022) with a 2024 signature only: the
        // releases signed in between must still verify, as gpg verifies them.
        let made = secs("2022-09-30T00:00:00Z");
        let key = ed25519_key(6, RUNC_UID, |s| {
            s.created = secs("2019-06-21T00:00:00Z");
            s.sign = false;
            s.self_sigs = vec![(secs("2024-01-22T00:00:00Z"), None)];
            s.sub = Some(SubSpec {
                bindings: vec![(secs("2024-01-22T00:00:00Z"), Some(secs("2030-03-25T00:00:00Z") - made))],
                ..SubSpec::signing(made)
            });
        });
        let file = clearsign(&key, &runc_sums(), secs("2023-03-01T00:00:00Z"));
        verify_cleartext(&key.keyring(), "runc.sha256sum", file.as_bytes(), now()).unwrap();
    }

    // ---- keys that must not be trusted for the signature

    #[test]
    fn signature_by_a_key_not_in_the_keyring_fails() {
        let stranger = ed25519_key(7, "kverify test stranger <stranger@kverify.test>", |_| {});
        let file = clearsign(&stranger, &runc_sums(), signed_at());
        let (e, message) = err(cleartext(&file));
        assert!(matches!(e, OpenPgpError::UnknownKey { .. }), "{message}");
        assert_eq!(
            message,
            format!("runc.sha256sum: signed by key {}, which is not in the keyring test KEYS", stranger.fingerprint())
        );
    }

    #[test]
    fn signature_by_a_revoked_key_fails_even_when_made_before_the_revocation() {
        // The contract's "revoked" key: its revocation certificate is dated at key creation,
        // before the signature; here another is dated after it. Both fail.
        let made = secs("2023-01-01T00:00:00Z");
        for revoked_at in [made, secs("2025-01-01T00:00:00Z")] {
            let key = ed25519_key(8, "kverify test revoked signer <revoked-signer@kverify.test>", |s| {
                s.created = made;
                s.self_sigs = vec![(made, None)];
                s.revoked_at = Some(revoked_at);
            });
            let file = clearsign(&key, &runc_sums(), secs("2024-01-01T00:00:00Z"));
            let (e, message) = err(verify_cleartext(&key.keyring(), "runc.sha256sum", file.as_bytes(), now()));
            assert!(matches!(e, OpenPgpError::KeyRevoked { .. }), "{message}");
            assert_eq!(
                message,
                format!("runc.sha256sum: primary key {} is revoked (compromised: lost the laptop)", key.fingerprint())
            );
        }
    }

    #[test]
    fn signature_by_a_revoked_subkey_fails() {
        let made = secs("2024-01-01T00:00:00Z");
        let key = ed25519_key(9, RUNC_UID, |s| {
            s.sign = false;
            s.sub = Some(SubSpec { revoked_at: Some(secs("2026-01-01T00:00:00Z")), ..SubSpec::signing(made) });
        });
        let file = clearsign(&key, &runc_sums(), signed_at());
        let (e, message) = err(verify_cleartext(&key.keyring(), "runc.sha256sum", file.as_bytes(), now()));
        assert!(matches!(e, OpenPgpError::KeyRevoked { what: "subkey", .. }), "{message}");
        assert!(message.contains(&key.sub_fingerprint()) && message.contains("(superseded)"), "{message}");
    }

    #[test]
    fn signature_by_a_subkey_without_the_signing_flag_fails() {
        // An encryption subkey (ed25519 material, so that it can produce the signature at all).
        let made = secs("2024-01-01T00:00:00Z");
        let key = ed25519_key(10, RUNC_UID, |s| {
            s.sign = false;
            s.sub = Some(SubSpec { sign: false, back_signed: false, ..SubSpec::signing(made) });
        });
        let file = clearsign(&key, &runc_sums(), signed_at());
        let (e, message) = err(verify_cleartext(&key.keyring(), "runc.sha256sum", file.as_bytes(), now()));
        assert!(matches!(e, OpenPgpError::NotSigningKey { what: "subkey", .. }), "{message}");
        assert_eq!(
            message,
            format!("runc.sha256sum: subkey {} is not marked for signing (key flags)", key.sub_fingerprint())
        );
    }

    #[test]
    fn signature_by_a_certification_only_primary_key_fails() {
        // runc's primary key certifies only: a signature it makes itself is not a release signature.
        let sig = sign_with(
            &runc_key().primary,
            SignatureType::Text,
            HashAlgorithm::Sha256,
            signed_at(),
            canonical(&runc_sums()).as_bytes(),
        );
        let file = clearsign_with(&[sig], "SHA256", &runc_sums());
        let (e, message) = err(cleartext(&file));
        assert!(matches!(e, OpenPgpError::NotSigningKey { what: "primary key", .. }), "{message}");
    }

    #[test]
    fn signing_subkey_bound_without_its_back_signature_fails() {
        // Anyone can bind someone else's signing subkey to their own key; the back-signature is
        // the subkey's consent.
        let made = secs("2024-01-01T00:00:00Z");
        let key = ed25519_key(11, RUNC_UID, |s| {
            s.sign = false;
            s.sub = Some(SubSpec { back_signed: false, ..SubSpec::signing(made) });
        });
        let file = clearsign(&key, &runc_sums(), signed_at());
        let (e, message) = err(verify_cleartext(&key.keyring(), "runc.sha256sum", file.as_bytes(), now()));
        assert!(matches!(e, OpenPgpError::NoBackSignature { .. }), "{message}");
        assert!(message.contains(&key.sub_fingerprint()), "{message}");
    }

    #[test]
    fn signature_dated_before_the_key_was_made_fails() {
        let file = clearsign(runc_key(), &runc_sums(), secs("2023-06-01T00:00:00Z"));
        let (e, message) = err(cleartext(&file));
        assert!(matches!(e, OpenPgpError::KeyNotYetValid { .. }), "{message}");
    }

    #[test]
    fn signature_dated_in_the_future_fails() {
        let later = u32::try_from(now().as_second()).unwrap() + 3600;
        let (e, message) = err(cleartext(&clearsign(runc_key(), &runc_sums(), later)));
        assert!(matches!(e, OpenPgpError::InTheFuture { .. }), "{message}");
        // A few minutes of clock skew are forgiven.
        let skewed = u32::try_from(now().as_second()).unwrap() + 120;
        cleartext(&clearsign(runc_key(), &runc_sums(), skewed)).unwrap();
    }

    #[test]
    fn signature_with_a_weak_hash_fails() {
        for (hash, name) in
            [(HashAlgorithm::Sha1, "SHA1"), (HashAlgorithm::Md5, "MD5"), (HashAlgorithm::Ripemd160, "RIPEMD160")]
        {
            let sig = helm_key().sign(SignatureType::Binary, hash, signed_at(), helm_sums().as_bytes());
            let (e, message) = err(detached(&helm_sums(), &armor(&[sig])));
            assert!(matches!(e, OpenPgpError::WeakHash { .. }), "{message}");
            assert!(message.contains(&format!("uses {name}")), "{message}");
        }
    }

    #[test]
    fn certification_signature_in_place_of_a_document_signature_fails() {
        // A direct-key self-signature: the key vouching for itself, not for a file.
        let key = &helm_key().public.primary_key;
        let sig = sig_config(SignatureType::Key, key.algorithm(), key, signed_at())
            .sign_key(&helm_key().primary, &Password::empty(), key)
            .unwrap();
        let (e, message) = err(detached(&helm_sums(), &armor(&[sig])));
        assert!(matches!(e, OpenPgpError::NotADocumentSignature { .. }), "{message}");
    }

    #[test]
    fn embedded_keyring_refuses_a_test_keys_signature() {
        let runc = Keyring::embedded("runc.keyring").unwrap();
        let (e, message) = err(verify_cleartext(&runc, "runc.sha256sum", good_runc_file().as_bytes(), now()));
        assert!(matches!(e, OpenPgpError::UnknownKey { .. }), "{message}");
        assert!(message.ends_with("which is not in the keyring runc.keyring (embedded)"), "{message}");
        let helm = Keyring::embedded("helm.KEYS").unwrap();
        let (e, message) =
            err(verify_detached(&helm, "x.asc", helm_sums().as_bytes(), good_helm_asc().as_bytes(), now()));
        assert!(matches!(e, OpenPgpError::UnknownKey { .. }), "{message}");
    }

    // ---- text that the signature does not cover

    #[test]
    fn altered_digest_in_the_signed_text_fails() {
        let file = good_runc_file().replace(&format!("{A}  runc.amd64"), &format!("{EVIL}  runc.amd64"));
        let (e, message) = err(cleartext(&file));
        assert!(matches!(e, OpenPgpError::BadSignature { .. }), "{message}");
        assert_eq!(
            message,
            format!(
                "runc.sha256sum: bad signature by key {}: the signed text is not the text that was signed",
                runc_key().sub_fingerprint()
            )
        );
    }

    #[test]
    fn dash_escaped_line_that_changes_a_digest_fails() {
        // "- X" unescapes to "X": a line slipped in dash-escaped is signed text like any other,
        // and the signature does not cover it.
        let file = good_runc_file().replace(&format!("{A}  runc.amd64\n"), &format!("- {EVIL}  runc.amd64\n"));
        let (e, message) = err(cleartext(&file));
        assert!(matches!(e, OpenPgpError::BadSignature { .. }), "{message}");
        let file = good_runc_file()
            .replace(&format!("{B}  runc.arm64\n"), &format!("{B}  runc.arm64\n- {EVIL}  runc.amd64\n"));
        assert!(matches!(cleartext(&file), Err(OpenPgpError::BadSignature { .. })));
    }

    #[test]
    fn digest_line_before_the_signed_message_fails() {
        let file = format!("{EVIL}  runc.amd64\n{}", good_runc_file());
        let (e, message) = err(cleartext(&file));
        assert!(matches!(e, OpenPgpError::OutsideSignedText { line: 1, .. }), "{message}");
        assert_eq!(message, "runc.sha256sum:1: text outside the signed message, which the signature does not cover");
    }

    #[test]
    fn digest_line_after_the_signature_fails() {
        let file = format!("{}{EVIL}  runc.amd64\n", good_runc_file());
        let (e, message) = err(cleartext(&file));
        assert!(matches!(e, OpenPgpError::OutsideSignedText { .. }), "{message}");
    }

    #[test]
    fn second_signed_block_fails_even_when_it_verifies() {
        let other = format!("{EVIL}  runc.amd64\n");
        let file = format!("{}{}", good_runc_file(), clearsign(runc_key(), &other, signed_at()));
        let (e, message) = err(cleartext(&file));
        assert!(matches!(e, OpenPgpError::SecondSignedBlock { .. }), "{message}");
        // First the attacker's, then the good one.
        let file = format!("{}{}", clearsign(runc_key(), &other, signed_at()), good_runc_file());
        assert!(matches!(cleartext(&file), Err(OpenPgpError::SecondSignedBlock { .. })));
    }

    #[test]
    fn signed_message_nested_in_the_signed_text_fails() {
        // Signed, dash-escaped, a whole clear-signed message: a naive reader would take the
        // inner text for the checksums.
        let inner = clearsign(runc_key(), &format!("{EVIL}  runc.amd64\n"), signed_at());
        let file = clearsign(runc_key(), &format!("{inner}{}", runc_sums()), signed_at());
        let (e, message) = err(cleartext(&file));
        assert!(matches!(e, OpenPgpError::SecondSignedBlock { line: 4, .. }), "{message}");
    }

    #[test]
    fn hash_header_that_differs_from_the_signature_fails() {
        let sig = runc_key().sign(
            SignatureType::Text,
            HashAlgorithm::Sha512,
            signed_at(),
            canonical(&runc_sums()).as_bytes(),
        );
        let file = clearsign_with(std::slice::from_ref(&sig), "SHA256", &runc_sums());
        let (e, message) = err(cleartext(&file));
        assert!(matches!(e, OpenPgpError::HashHeaderMismatch { .. }), "{message}");
        assert_eq!(message, "runc.sha256sum: the `Hash:` header says SHA256, but the signature uses SHA512");
        // Listed among others, or with no header at all (RFC 9580), it verifies.
        cleartext(&clearsign_with(std::slice::from_ref(&sig), "SHA256, SHA512", &runc_sums())).unwrap();
        cleartext(&clearsign_with(&[sig], "SHA512", &runc_sums()).replace("Hash: SHA512\n", "")).unwrap();
    }

    #[test]
    fn armor_header_other_than_hash_fails() {
        // gpg's "NotDashEscaped:" header turns dash-escaping off: a line could then end the text.
        let file = good_runc_file()
            .replace("Hash: SHA256\n", "Hash: SHA256\nNotDashEscaped: You need GnuPG to verify this message\n");
        let (e, message) = err(cleartext(&file));
        assert!(
            matches!(e, OpenPgpError::Framing { problem: FramingProblem::UnexpectedHeader(_), line: 3, .. }),
            "{message}"
        );
    }

    #[test]
    fn signed_line_starting_with_a_dash_but_not_escaped_fails() {
        let file = good_runc_file().replace(&format!("{B}  runc.arm64\n"), &format!("{B}  runc.arm64\n-{EVIL}  x\n"));
        let (e, message) = err(cleartext(&file));
        assert!(
            matches!(e, OpenPgpError::Framing { problem: FramingProblem::NotDashEscaped, line: 6, .. }),
            "{message}"
        );
    }

    #[test]
    fn carriage_return_inside_a_signed_line_fails() {
        let file =
            good_runc_file().replace(&format!("{A}  runc.amd64\n"), &format!("{A}  runc.amd64\r{EVIL}  runc.amd64\n"));
        let (e, message) = err(cleartext(&file));
        assert!(matches!(e, OpenPgpError::Framing { problem: FramingProblem::CarriageReturn, .. }), "{message}");
    }

    #[test]
    fn unsigned_checksum_file_fails() {
        let (e, message) = err(cleartext(&runc_sums()));
        assert!(matches!(e, OpenPgpError::NotClearSigned { .. }), "{message}");
        assert!(matches!(cleartext(""), Err(OpenPgpError::NotClearSigned { .. })));
    }

    #[test]
    fn truncated_clear_signed_file_fails() {
        let good = good_runc_file();
        let cut = good.find("-----END PGP SIGNATURE").unwrap();
        let (e, message) = err(cleartext(&good[..cut]));
        assert!(matches!(e, OpenPgpError::Framing { problem: FramingProblem::Unterminated(_), .. }), "{message}");
        assert_eq!(message, "runc.sha256sum:9: unterminated: no `-----END PGP SIGNATURE-----` line");
        let cut = good.find("-----BEGIN PGP SIGNATURE").unwrap();
        assert!(matches!(
            cleartext(&good[..cut]),
            Err(OpenPgpError::Framing { problem: FramingProblem::Unterminated(_), .. })
        ));
    }

    #[test]
    fn several_signatures_fail_even_when_each_verifies() {
        let data = canonical(&runc_sums());
        let one = runc_key().sign(SignatureType::Text, HashAlgorithm::Sha256, signed_at(), data.as_bytes());
        let two = runc_key().sign(SignatureType::Text, HashAlgorithm::Sha256, signed_at() + 1, data.as_bytes());
        let (e, message) = err(cleartext(&clearsign_with(&[one, two], "SHA256", &runc_sums())));
        assert!(matches!(e, OpenPgpError::SignatureCount { count: 2, .. }), "{message}");
        let one = helm_key().sign(SignatureType::Binary, HashAlgorithm::Sha256, signed_at(), helm_sums().as_bytes());
        let asc = armor(&[one.clone(), one.clone()]);
        assert!(matches!(detached(&helm_sums(), &asc), Err(OpenPgpError::SignatureCount { count: 2, .. })));
        // Two armored blocks, one after the other.
        let asc = format!("{}{}", armor(std::slice::from_ref(&one)), armor(&[one]));
        assert!(matches!(detached(&helm_sums(), &asc), Err(OpenPgpError::SignatureCount { count: 2, .. })));
        assert!(matches!(
            detached(&helm_sums(), "-----BEGIN PGP SIGNATURE-----\n\n-----END PGP SIGNATURE-----\n"),
            Err(OpenPgpError::SignatureCount { count: 0, .. })
        ));
    }

    // ---- helm's detached signature

    #[test]
    fn altered_sha256sum_under_a_good_signature_fails() {
        let (e, message) = err(detached(&format!("{EVIL}  helm-v3.14.1-linux-amd64.tar.gz\n"), &good_helm_asc()));
        assert!(matches!(e, OpenPgpError::BadSignature { .. }), "{message}");
        assert!(message.starts_with("helm.tar.gz.sha256sum.asc: bad signature by key "), "{message}");
        assert!(message.contains(&helm_key().fingerprint()), "{message}");
    }

    #[test]
    fn text_around_the_armored_signature_fails() {
        let asc = format!("{}{EVIL}  helm-v3.14.1-linux-amd64.tar.gz\n", good_helm_asc());
        assert!(matches!(detached(&helm_sums(), &asc), Err(OpenPgpError::OutsideSignedText { .. })));
        let asc = format!("note\n{}", good_helm_asc());
        let (e, message) = err(detached(&helm_sums(), &asc));
        assert!(
            matches!(e, OpenPgpError::Framing { problem: FramingProblem::NotArmoredSignature, line: 1, .. }),
            "{message}"
        );
        assert!(detached(&helm_sums(), &format!("\n\n{}\n", good_helm_asc())).is_ok());
    }

    #[test]
    fn text_mode_signature_over_data_with_a_lone_carriage_return_fails() {
        let asc =
            armor(&[helm_key().sign(SignatureType::Text, HashAlgorithm::Sha256, signed_at(), helm_sums().as_bytes())]);
        let data = format!("{A}  helm-v3.14.1-linux-amd64.tar.gz\r{EVIL}  helm\n");
        let (e, message) = err(detached(&data, &asc));
        assert!(
            matches!(e, OpenPgpError::Framing { problem: FramingProblem::CarriageReturn, line: 1, .. }),
            "{message}"
        );
    }

    #[test]
    fn binary_or_garbage_signature_is_refused() {
        let sig = helm_key().sign(SignatureType::Binary, HashAlgorithm::Sha256, signed_at(), helm_sums().as_bytes());
        let binary = DetachedSignature::new(sig).to_bytes().unwrap();
        let e = verify_detached(keyring(), "x.sig", helm_sums().as_bytes(), &binary, now()).unwrap_err();
        assert!(matches!(e, OpenPgpError::Framing { problem: FramingProblem::NotArmoredSignature, .. }), "{e}");
        let garbage = "-----BEGIN PGP SIGNATURE-----\n\nnot base64 at all!\n-----END PGP SIGNATURE-----\n";
        assert!(matches!(detached(&helm_sums(), garbage), Err(OpenPgpError::SignatureUnreadable { .. })));
    }

    #[test]
    fn oversized_inputs_are_refused_before_parsing() {
        let big = vec![b' '; MAX_SIGNED_FILE_LEN as usize + 1];
        let e = verify_cleartext(keyring(), "runc.sha256sum", &big, now()).unwrap_err();
        assert!(matches!(e, OpenPgpError::TooLarge { .. }), "{e}");
        let e = verify_detached(keyring(), "x.asc", &big, good_helm_asc().as_bytes(), now()).unwrap_err();
        assert!(matches!(e, OpenPgpError::TooLarge { .. }), "{e}");
        let e = verify_detached(keyring(), "x.asc", b"", &big[..MAX_SIGNATURE_LEN as usize + 1], now()).unwrap_err();
        assert!(matches!(e, OpenPgpError::TooLarge { what: "an armored signature", .. }), "{e}");
        let e = Keyring::parse("k", &big).unwrap_err();
        assert!(matches!(e, OpenPgpError::TooLarge { what: "a keyring", .. }), "{e}");
    }

    #[test]
    fn line_level_mutations_of_a_good_file_never_yield_other_text() {
        // Every line dropped, doubled, dash-escaped, indented, or moved before or after the
        // message: whatever still verifies must hand back exactly the signed text.
        let good = good_runc_file();
        let lines: Vec<&str> = good.lines().collect();
        let mut accepted = 0;
        for i in 0..lines.len() {
            let edits: Vec<Vec<String>> = vec![
                lines.iter().enumerate().filter(|&(j, _)| j != i).map(|(_, l)| l.to_string()).collect(),
                lines
                    .iter()
                    .enumerate()
                    .flat_map(|(j, l)| if j == i { vec![l.to_string(); 2] } else { vec![l.to_string()] })
                    .collect(),
                lines.iter().enumerate().map(|(j, l)| if j == i { format!("- {l}") } else { l.to_string() }).collect(),
                lines.iter().enumerate().map(|(j, l)| if j == i { format!(" {l}") } else { l.to_string() }).collect(),
                lines.iter().enumerate().map(|(j, l)| if j == i { format!("{l} ") } else { l.to_string() }).collect(),
                std::iter::once(lines[i].to_string()).chain(lines.iter().map(|l| l.to_string())).collect(),
                lines.iter().map(|l| l.to_string()).chain(std::iter::once(lines[i].to_string())).collect(),
            ];
            for edit in edits {
                let file = edit.join("\n") + "\n";
                if let Ok(out) = cleartext(&file) {
                    assert_eq!(out.text, runc_sums(), "mutated file accepted with other text:\n{file}");
                    rpgp_agrees(&file, &out);
                    accepted += 1;
                }
            }
        }
        // Those that only add blanks (trailing, or as lines around the message) still verify.
        assert!(accepted >= 10, "{accepted}");
    }

    // ---- keyrings

    #[test]
    fn keyring_reads_armored_blocks_between_text_and_binary_packets() {
        assert_eq!(keyring().fingerprints(), vec![runc_key().fingerprint(), helm_key().fingerprint()]);
        let binary = [runc_key().public.to_bytes().unwrap(), helm_key().public.to_bytes().unwrap()].concat();
        let ring = Keyring::parse("binary", &binary).unwrap();
        assert_eq!(ring.fingerprints(), keyring().fingerprints());
        assert_eq!(ring.source(), "binary");
    }

    #[test]
    fn keyring_copies_of_one_key_are_merged_so_a_revocation_in_either_counts() {
        let made = secs("2023-01-01T00:00:00Z");
        let spec = |revoked_at| {
            ed25519_key(12, "kverify test revoked signer <revoked-signer@kverify.test>", |s| {
                s.created = made;
                s.revoked_at = revoked_at;
            })
        };
        let (plain, revoked) = (spec(None), spec(Some(made)));
        let text = format!("{}\n{}", plain.armored(), revoked.armored());
        let ring = Keyring::parse("two copies", text.as_bytes()).unwrap();
        assert_eq!(ring.fingerprints(), vec![plain.fingerprint()]);
        let file = clearsign(&plain, &runc_sums(), signed_at());
        assert!(matches!(verify_cleartext(&ring, "f", file.as_bytes(), now()), Err(OpenPgpError::KeyRevoked { .. })));
    }

    #[test]
    fn empty_or_broken_keyring_is_an_error() {
        for empty in
            ["", "no keys here\n", "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n-----END PGP PRIVATE KEY BLOCK-----\n"]
        {
            let e = Keyring::parse("KEYS", empty.as_bytes()).unwrap_err();
            assert_eq!(e.to_string(), "KEYS: no OpenPGP public key in it");
        }
        let e = Keyring::parse("KEYS", b"text\n-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nAAAA\n").unwrap_err();
        assert!(matches!(e, OpenPgpError::Framing { line: 2, problem: FramingProblem::Unterminated(_), .. }), "{e}");
        let e = Keyring::parse(
            "KEYS",
            b"-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n!!!!\n-----END PGP PUBLIC KEY BLOCK-----\n",
        )
        .unwrap_err();
        assert!(matches!(e, OpenPgpError::KeyringUnreadable { line: 1, .. }), "{e}");
        let e = Keyring::embedded("nope.keyring").unwrap_err();
        assert_eq!(e.to_string(), "no embedded keyring named nope.keyring (built in: runc.keyring, helm.KEYS)");
    }

    /// The primary keys `../shared/keys/README.md` lists for each embedded keyring.
    const RUNC_FINGERPRINTS: [&str; 3] = [
        "C9C370B246B09F6DBCFC744C34401015D1D2D386",
        "C2428CD75720FACDCF76B6EA17DE5ECB75A1100E",
        "C020EA876CE4E06C7AB95AEF49524C6F9F638F1A",
    ];
    const HELM_LISTED: [&str; 7] = [
        "672C657BE06B4B30969C4A57461449C25E36B98E",
        "F1261BDE929012C8FF2E501D6EA5D7598529A53E",
        "967F8AC5E2216F9F4FD270AD92AA783CBAAE8E3B",
        "76939899B137D575D3274E756DCCB9D752D35BA8",
        "ABA2529598F6626C420D335B62F49E747D911B60",
        "4AB45F1CB0D292975C6371436E2A23D806B6E6DD",
        "208DD36ED5BB3745A16743A4C7C6FBB5B91C1155",
    ];
    /// "and the other keys listed in the file" (`gpg --show-keys helm.KEYS`).
    const HELM_OTHERS: [&str; 3] = [
        "49D09C86C3DC8DA3F0A076221EF612347F8A9958",
        "7FEC81FACC7FFB2A010ADD13C2D40F4D8196E874",
        "BF888333D96A1C18E2682AAED79D67C9EC016739",
    ];

    #[test]
    fn embedded_keyrings_hold_the_listed_keys() {
        assert_eq!(Keyring::embedded("runc.keyring").unwrap().fingerprints(), RUNC_FINGERPRINTS);
        let helm = Keyring::embedded("helm.KEYS").unwrap().fingerprints();
        for listed in HELM_LISTED.iter().chain(&HELM_OTHERS) {
            assert!(helm.contains(&listed.to_string()), "{listed} missing from helm.KEYS: {helm:?}");
        }
        assert_eq!(helm.len(), HELM_LISTED.len() + HELM_OTHERS.len(), "{helm:?}");
    }

    /// Made once with gpg 2.2 (`--quick-gen-key … ed25519 cert`, `--quick-add-key … ed25519
    /// sign`, `--clear-sign`, `--armor --detach-sign`, all `--digest-algo SHA256`); the fuzz
    /// target `fuzz/fuzz_targets/openpgp.rs` and its seeds use the same key and files.
    const GPG_KEY: &str = include_str!("testdata/gpg-signer.asc");
    const GPG_RUNC_SHA256SUM: &str = include_str!("testdata/runc.sha256sum");
    const GPG_HELM_ASC: &str = include_str!("testdata/helm.sha256sum.asc");

    #[test]
    fn files_gpg_signed_verify_without_gpg() {
        let ring = Keyring::parse("fuzz.keyring", GPG_KEY.as_bytes()).unwrap();
        let out = verify_cleartext(&ring, "runc.sha256sum", GPG_RUNC_SHA256SUM.as_bytes(), now()).unwrap();
        assert_eq!(out.text, format!("{A}  runc.amd64\n{B}  runc.arm64\n-{A}  runc.tar.xz\n"));
        assert_eq!(out.signature.fingerprint, "C973CDF7D7DD9C7C3CA69C8C8F4831852EA2272C");
        assert_eq!(out.signature.signing_key, "45DC39DAE4FDF84A96AAF1F31BE1B82B4B413CE9");
        assert_eq!(out.signature.user_id, "kverify fuzz signer <fuzz@kverify.test>");
        assert_eq!(out.signature.signed_at.to_string(), "2025-06-01T00:00:00Z");
        let sums = format!("{A}  helm-v3.14.1-linux-amd64.tar.gz\n");
        verify_detached(&ring, "helm.asc", sums.as_bytes(), GPG_HELM_ASC.as_bytes(), now()).unwrap();
    }

    // ---- interoperability: keys and signatures made by gpg, as the upstreams make them

    /// gpg in a throwaway home; its agent is stopped when the test ends, pass or fail.
    struct Gpg {
        home: tempfile::TempDir,
    }

    impl Gpg {
        fn new() -> Gpg {
            let home = tempfile::Builder::new().prefix("kverify-gpg-").tempdir().unwrap();
            std::fs::set_permissions(home.path(), std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
            Gpg { home }
        }

        /// Runs gpg (at `when`, `YYYYMMDDTHHMMSS`, if given) and returns its stdout.
        fn run(&self, when: Option<&str>, args: &[&str]) -> Vec<u8> {
            let mut command = std::process::Command::new("gpg");
            command.arg("--homedir").arg(self.home.path());
            command.args(["--batch", "--yes", "--no-tty", "--pinentry-mode", "loopback", "--passphrase", ""]);
            if let Some(when) = when {
                command.args(["--faked-system-time", &format!("{when}!")]);
            }
            let out = command
                .args(args)
                .output()
                .unwrap_or_else(|e| panic!("this test needs gpg (GnuPG 2.2 or later) on PATH: {e}; install gnupg"));
            assert!(out.status.success(), "gpg {args:?}: {}", String::from_utf8_lossy(&out.stderr));
            out.stdout
        }

        fn new_key(&self, user_id: &str, algo: &str, usage: &str, when: &str) -> String {
            self.run(Some(when), &["--quick-gen-key", user_id, algo, usage, "never"]);
            self.fingerprints(user_id).remove(0)
        }

        /// The fingerprints of the key with `user_id`: primary first, then subkeys.
        fn fingerprints(&self, selector: &str) -> Vec<String> {
            let listing = String::from_utf8(self.run(None, &["--with-colons", "--list-keys", selector])).unwrap();
            listing.lines().filter_map(|l| l.strip_prefix("fpr:")).map(|l| l.trim_matches(':').to_string()).collect()
        }

        fn path(&self, name: &str) -> String {
            self.home.path().join(name).display().to_string()
        }

        fn write(&self, name: &str, bytes: &[u8]) -> String {
            let path = self.path(name);
            std::fs::write(&path, bytes).unwrap();
            path
        }

        fn read(&self, name: &str) -> Vec<u8> {
            std::fs::read(self.path(name)).unwrap()
        }

        /// `gpg --clear-sign` as runc's `script/release_sign.sh` runs it.
        fn clear_sign(&self, signer: &str, when: &str, name: &str, text: &str) -> Vec<u8> {
            let path = self.write(name, text.as_bytes());
            let signer = format!("{signer}!");
            self.run(
                Some(when),
                &[
                    "--local-user",
                    &signer,
                    "--digest-algo",
                    "SHA256",
                    "--clear-sign",
                    "--armor",
                    "--output",
                    &format!("{path}.asc"),
                    &path,
                ],
            );
            self.read(&format!("{name}.asc"))
        }

        /// `gpg --armor --detach-sign` as helm's `make sign` runs it.
        fn detach_sign(&self, signer: &str, when: &str, name: &str, data: &[u8]) -> Vec<u8> {
            let path = self.write(name, data);
            let signer = format!("{signer}!");
            self.run(
                Some(when),
                &[
                    "--local-user",
                    &signer,
                    "--digest-algo",
                    "SHA256",
                    "--detach-sign",
                    "--armor",
                    "--output",
                    &format!("{path}.asc"),
                    &path,
                ],
            );
            self.read(&format!("{name}.asc"))
        }
    }

    impl Drop for Gpg {
        fn drop(&mut self) {
            let _ = std::process::Command::new("gpgconf")
                .arg("--homedir")
                .arg(self.home.path())
                .args(["--kill", "all"])
                .output();
        }
    }

    #[test]
    fn gpg_made_keys_and_signatures_are_judged_as_gpg_judges_them() {
        // The contract's fixtures (../shared/contract/sections/pgp.sh), made the same way.
        let gpg = Gpg::new();
        let runc =
            gpg.new_key("kverify test runc signer <runc-signer@kverify.test>", "ed25519", "cert", "20250101T000000");
        gpg.run(Some("20250101T000100"), &["--quick-add-key", &runc, "ed25519", "sign", "never"]);
        let runc_sub = gpg.fingerprints(&runc).pop().unwrap();
        assert_ne!(runc, runc_sub);
        let helm = gpg.new_key(
            "kverify test helm signer <helm-signer@kverify.test>",
            "rsa3072",
            "sign,cert",
            "20250101T000000",
        );
        let stranger =
            gpg.new_key("kverify test stranger <stranger@kverify.test>", "ed25519", "sign,cert", "20250101T000000");
        let lapsed = gpg.new_key(
            "kverify test lapsed signer <lapsed-signer@kverify.test>",
            "ed25519",
            "sign,cert",
            "20200101T000000",
        );
        let revoked = gpg.new_key(
            "kverify test revoked signer <revoked-signer@kverify.test>",
            "ed25519",
            "sign,cert",
            "20230101T000000",
        );

        let sums = format!("{A}  runc.amd64\n{B}  runc.arm64 \n-{A}  runc.tar.xz\n");
        let good = gpg.clear_sign(&runc_sub, "20250601T000000", "good.sha256sum", &sums);
        let amd64 = gpg.detach_sign(&runc_sub, "20250601T000000", "runc.amd64", b"\x7fELF runc");
        let helm_asc = gpg.detach_sign(&helm, "20250601T000000", "helm.sha256sum", helm_sums().as_bytes());
        let strange = gpg.clear_sign(&stranger, "20250601T000000", "stranger.sha256sum", &sums);
        let before = gpg.clear_sign(&lapsed, "20200601T000000", "before.sha256sum", &sums);
        let after = gpg.clear_sign(&lapsed, "20210601T000000", "after.sha256sum", &sums);
        // gpg signs with no expired key, so the expiry comes last, dated before both signatures.
        gpg.run(Some("20200101T001000"), &["--quick-set-expire", &lapsed, "2021-01-01"]);
        let by_revoked = gpg.clear_sign(&revoked, "20240101T000000", "revoked.sha256sum", &sums);
        let rev = String::from_utf8(
            std::fs::read(gpg.home.path().join("openpgp-revocs.d").join(format!("{revoked}.rev"))).unwrap(),
        )
        .unwrap();
        gpg.write("revoked.rev", rev.replace(":-----BEGIN", "-----BEGIN").as_bytes());
        gpg.run(None, &["--import", &gpg.path("revoked.rev")]);
        let exported = gpg
            .run(None, &["--armor", "--export-options", "export-minimal", "--export", &runc, &helm, &lapsed, &revoked]);
        let ring = Keyring::parse("gpg.keyring", &exported).unwrap();
        assert_eq!(ring.fingerprints().len(), 4);

        let check = |file: &[u8]| verify_cleartext(&ring, "runc.sha256sum", file, now());
        let out = check(&good).unwrap();
        // gpg dash-escaped the third line and kept the trailing blank it does not sign.
        assert!(String::from_utf8_lossy(&good).contains(&format!("\n- -{A}  runc.tar.xz\n")));
        assert_eq!(out.text, sums.replace(" \n", "\n"));
        assert_eq!(out.signature.fingerprint, runc);
        assert_eq!(out.signature.signing_key, runc_sub);
        assert_eq!(out.signature.user_id, "kverify test runc signer <runc-signer@kverify.test>");
        assert_eq!(out.signature.signed_at.to_string(), "2025-06-01T00:00:00Z");
        assert_eq!(out.signature.expired_since, None);

        let sig = verify_detached(&ring, "runc.amd64.asc", b"\x7fELF runc", &amd64, now()).unwrap();
        assert_eq!(sig.signing_key, runc_sub);
        let sig = verify_detached(&ring, "helm.sha256sum.asc", helm_sums().as_bytes(), &helm_asc, now()).unwrap();
        assert_eq!((sig.fingerprint.as_str(), sig.user_id.as_str()), (helm.as_str(), HELM_UID));

        let tampered = String::from_utf8(good.clone())
            .unwrap()
            .replace(&format!("{A}  runc.amd64"), &format!("{EVIL}  runc.amd64"));
        assert!(matches!(check(tampered.as_bytes()), Err(OpenPgpError::BadSignature { .. })));
        assert!(matches!(
            verify_detached(&ring, "h.asc", format!("{EVIL}  x\n").as_bytes(), &helm_asc, now()),
            Err(OpenPgpError::BadSignature { .. })
        ));
        match check(&strange) {
            Err(OpenPgpError::UnknownKey { issuer, .. }) => assert_eq!(issuer, stranger),
            other => panic!("a stranger's signature: {other:?}"),
        }
        let out = check(&before).unwrap();
        // gpg takes a bare date for noon UTC.
        assert_eq!(out.signature.expired_since.map(|t| t.to_string()).as_deref(), Some("2021-01-01T12:00:00Z"));
        assert!(matches!(check(&after), Err(OpenPgpError::KeyExpired { .. })), "{:?}", check(&after));
        match check(&by_revoked) {
            Err(OpenPgpError::KeyRevoked { key, .. }) => assert_eq!(key, revoked),
            other => panic!("a revoked key's signature: {other:?}"),
        }
    }
}
