//! `kverify.lock`: the digests of release artifacts as seen once, online, so later
//! installs and audits need no checksum download and notice any change upstream.
//!
//! TOML, sorted, no timestamps: the same upstream bytes always give the same file.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::digest::{Algorithm, Digest};
use crate::expect::{Expected, Mismatch};
use crate::platform::Platform;
use crate::signature::SignatureEvidence;
use crate::status::ExitStatus;
use crate::subject::Subject;
use crate::version::Version;

/// The lock format this kverify writes and reads.
pub const FORMAT: u32 = 1;

/// A lock that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("cannot read lock {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("lock {}: {message}", path.display())]
    Malformed { path: PathBuf, message: String },
    #[error("lock {}: format version {found}; this kverify reads version {FORMAT}", path.display())]
    Version { path: PathBuf, found: u32 },
    #[error("lock {} pins nothing{}", path.display(), platform.as_ref().map(|p| format!(" for {p}")).unwrap_or_default())]
    PinsNothing { path: PathBuf, platform: Option<Platform>, held: Vec<String> },
    #[error("cannot write lock {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl LockError {
    pub fn exit_status(&self) -> ExitStatus {
        match self {
            LockError::Read { .. } | LockError::Write { .. } => ExitStatus::Io,
            _ => ExitStatus::Failed,
        }
    }

    pub fn hint(&self) -> Option<String> {
        match self {
            LockError::PinsNothing { held, .. } if !held.is_empty() => {
                Some(format!("it pins {}: give --os/--arch for one of them", held.join(", ")))
            }
            LockError::PinsNothing { .. } => {
                Some("write the pins first: `kverify lock COMPONENT VERSION --output kverify.lock`".into())
            }
            _ => None,
        }
    }

    /// Nothing in `lock` (at `path`) applies, for `platform` when one was asked for:
    /// nothing could be verified, which is a failure, never a pass.
    pub fn pins_nothing(lock: &Lock, path: &Path, platform: Option<&Platform>) -> LockError {
        let held: std::collections::BTreeSet<String> =
            lock.artifacts.iter().map(|a| a.subject.platform.to_string()).collect();
        LockError::PinsNothing {
            path: path.to_path_buf(),
            platform: platform.cloned(),
            held: if platform.is_some() { held.into_iter().collect() } else { Vec::new() },
        }
    }
}

/// A whole lock file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lock {
    /// Format version ([`FORMAT`]).
    pub version: u32,
    /// Fingerprint of the catalog that resolved the URLs (`sha256:` of its files).
    pub catalog: String,
    pub artifacts: Vec<Pin>,
}

/// One component × version × platform, pinned: parsed once into its types, so every
/// use compares digests and subjects, never text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pin {
    pub subject: Subject,
    /// The upstream URL (never a mirror's).
    pub url: String,
    /// The artifact's file name (an archive's, or the binary's install name).
    pub file: String,
    pub sha256: Digest,
    pub sha512: Option<Digest>,
    /// Where the digests came from when locked: the checksum URLs.
    pub checksums: Vec<String>,
    /// The signature verified when locked; absent when none was.
    pub signature: Option<PinnedSignature>,
    /// Binaries inside an archive, with their digests, for audits of installed files.
    pub files: Vec<PinnedFile>,
}

/// What a signature established at lock time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PinnedSignature {
    pub kind: String,
    pub identity: String,
    /// The OIDC issuer (Sigstore; absent for OpenPGP).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub issuer: String,
    /// The OpenPGP key that signed (its primary key's fingerprint).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    pub tlog: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_at: Option<String>,
    /// A Sigstore bundle (JSON) captured for a detached pair, for offline tlog checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle: Option<String>,
    /// `sha256:…` of the Sigstore `trusted_root.json` that verified the signature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trusted_root: Option<String>,
}

/// A binary inside a pinned archive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PinnedFile {
    pub name: String,
    pub sha256: Digest,
    pub sha512: Digest,
}

impl PinnedSignature {
    pub fn from_evidence(e: &SignatureEvidence) -> PinnedSignature {
        PinnedSignature {
            kind: e.kind.to_string(),
            identity: e.identity.clone(),
            issuer: e.issuer.clone(),
            fingerprint: e.fingerprint.clone(),
            tlog: e.tlog,
            signed_at: e.signed_at.clone(),
            bundle: None,
            trusted_root: None,
        }
    }

    pub fn to_evidence(&self) -> SignatureEvidence {
        let (kind, sigstore) = match self.kind.as_str() {
            "bundle" => ("bundle", true),
            "pgp" => ("pgp", false),
            _ => ("cosign-detached", true),
        };
        SignatureEvidence {
            kind,
            identity: self.identity.clone(),
            issuer: self.issuer.clone(),
            fingerprint: self.fingerprint.clone(),
            chain: sigstore,
            sct: sigstore,
            tlog: self.tlog,
            signed_at: self.signed_at.clone(),
            notes: vec!["signature verified when the lock was written".into()],
        }
    }
}

/// The lock as written in TOML: text fields, checked into a [`Lock`] by [`Lock::parse`].
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLock {
    version: u32,
    catalog: String,
    #[serde(default, rename = "artifact")]
    artifacts: Vec<RawPin>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPin {
    component: String,
    /// With its `v`: `v1.29.0`.
    version: String,
    /// `linux/amd64`.
    platform: String,
    url: String,
    file: String,
    sha256: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sha512: Option<String>,
    checksums: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    signature: Option<PinnedSignature>,
    #[serde(default, rename = "file-in-archive", skip_serializing_if = "Vec::is_empty")]
    files: Vec<RawFile>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    name: String,
    sha256: String,
    sha512: String,
}

impl RawPin {
    fn check(self, at: impl Fn(String) -> String) -> Result<Pin, String> {
        let version = Version::parse(&self.version).map_err(|e| at(e.to_string()))?;
        let platform = Platform::parse(&self.platform).map_err(|e| at(e.to_string()))?;
        let sha256 = Digest::from_hex_as(Algorithm::Sha256, &self.sha256).map_err(|e| at(format!("sha256: {e}")))?;
        let sha512 = self
            .sha512
            .map(|h| Digest::from_hex_as(Algorithm::Sha512, &h).map_err(|e| at(format!("sha512: {e}"))))
            .transpose()?;
        let mut files = Vec::new();
        for f in self.files {
            let sha256 = Digest::from_hex_as(Algorithm::Sha256, &f.sha256)
                .map_err(|e| at(format!("{}: sha256: {e}", f.name)))?;
            let sha512 = Digest::from_hex_as(Algorithm::Sha512, &f.sha512)
                .map_err(|e| at(format!("{}: sha512: {e}", f.name)))?;
            files.push(PinnedFile { name: f.name, sha256, sha512 });
        }
        Ok(Pin {
            subject: Subject::new(self.component, version, platform),
            url: self.url,
            file: self.file,
            sha256,
            sha512,
            checksums: self.checksums,
            signature: self.signature,
            files,
        })
    }

    fn of(pin: &Pin) -> RawPin {
        let mut files: Vec<RawFile> = pin
            .files
            .iter()
            .map(|f| RawFile { name: f.name.clone(), sha256: f.sha256.to_hex(), sha512: f.sha512.to_hex() })
            .collect();
        files.sort_by(|x, y| x.name.cmp(&y.name));
        RawPin {
            component: pin.subject.component.clone(),
            version: pin.subject.version.to_string(),
            platform: pin.subject.platform.to_string(),
            url: pin.url.clone(),
            file: pin.file.clone(),
            sha256: pin.sha256.to_hex(),
            sha512: pin.sha512.map(|d| d.to_hex()),
            checksums: pin.checksums.clone(),
            signature: pin.signature.clone(),
            files,
        }
    }
}

impl Lock {
    pub fn new(catalog: String) -> Lock {
        Lock { version: FORMAT, catalog, artifacts: Vec::new() }
    }

    /// Reads and checks a lock: every digest, version and platform must parse, and
    /// no subject may be pinned twice.
    pub fn load(path: &Path) -> Result<Lock, LockError> {
        let text =
            fs_err::read_to_string(path).map_err(|source| LockError::Read { path: path.to_path_buf(), source })?;
        Lock::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Lock, LockError> {
        let malformed = |message: String| LockError::Malformed { path: path.to_path_buf(), message };
        // Read the version alone first, so a future format gets the right message.
        #[derive(Deserialize)]
        struct Head {
            version: Option<u32>,
        }
        let head: Head = toml::from_str(text).map_err(|e| malformed(e.to_string().trim_end().to_string()))?;
        match head.version {
            Some(FORMAT) => {}
            Some(found) => return Err(LockError::Version { path: path.to_path_buf(), found }),
            None => return Err(malformed("no `version` field: not a kverify lock".into())),
        }
        let raw: RawLock = toml::from_str(text).map_err(|e| malformed(e.to_string().trim_end().to_string()))?;
        let mut artifacts: Vec<Pin> = Vec::new();
        for (i, pin) in raw.artifacts.into_iter().enumerate() {
            let what = format!("artifact {} ({} {})", i + 1, pin.component, pin.version);
            let pin = pin.check(|m| format!("{what}: {m}")).map_err(malformed)?;
            // One subject, one pin: `v1.25.4` and `1.25.4` are the same release, and two
            // digests for it would let each command believe a different one.
            if let Some(j) = artifacts.iter().position(|a| a.subject == pin.subject) {
                return Err(malformed(format!(
                    "{what}: {} is pinned twice (artifacts {} and {})",
                    pin.subject,
                    j + 1,
                    i + 1
                )));
            }
            artifacts.push(pin);
        }
        Ok(Lock { version: raw.version, catalog: raw.catalog, artifacts })
    }

    /// Writes the lock, sorted, atomically (temp file + rename).
    pub fn save(&self, path: &Path) -> Result<(), LockError> {
        crate::install::write_atomic(path, self.to_text().as_bytes(), 0o644)
            .map_err(|source| LockError::Write { path: path.to_path_buf(), source })
    }

    /// The lock as text: a header comment, then sorted TOML.
    pub fn to_text(&self) -> String {
        let mut pins: Vec<&Pin> = self.artifacts.iter().collect();
        pins.sort_by_key(|p| p.subject.sort_key());
        let raw = RawLock {
            version: self.version,
            catalog: self.catalog.clone(),
            artifacts: pins.into_iter().map(RawPin::of).collect(),
        };
        let body = toml::to_string(&raw).unwrap_or_default();
        format!(
            "# kverify.lock: digests of release artifacts pinned by `kverify lock`.\n\
             # Used by `kverify fetch --lock`, `verify --lock`, `identify --lock` and `node --lock`.\n\
             # Re-check against the upstream with `kverify lock --check`.\n\n{body}"
        )
    }

    /// Pinned digests that differ between two resolutions of one subject, as mismatches
    /// (expected = pinned).
    pub fn drift(old: &Pin, new: &Pin) -> Vec<Mismatch> {
        let mut out = Vec::new();
        let mut compare = |name: &str, old: Option<Digest>, new: Option<Digest>| {
            if let (Some(o), Some(n)) = (old, new) {
                if o != n {
                    out.push(Mismatch { expected: o, computed: n, origin: format!("the lock's pin of {name}") });
                }
            }
        };
        compare(&old.file, Some(old.sha256), Some(new.sha256));
        compare(&old.file, old.sha512, new.sha512);
        for f in &old.files {
            let now = new.files.iter().find(|n| n.name == f.name);
            compare(&f.name, Some(f.sha256), now.map(|n| n.sha256));
            compare(&f.name, Some(f.sha512), now.map(|n| n.sha512));
        }
        out
    }

    /// Adds or replaces the pin of the same subject.
    pub fn put(&mut self, pin: Pin) {
        self.artifacts.retain(|a| a.subject != pin.subject);
        self.artifacts.push(pin);
    }

    /// The pin of a component at a version; on `platform` when given, else any.
    pub fn find(&self, component: &str, version: &Version, platform: Option<&Platform>) -> Option<&Pin> {
        self.artifacts.iter().find(|a| {
            a.subject.component == component
                && a.subject.version == *version
                && platform.is_none_or(|p| a.subject.platform == *p)
        })
    }

    /// Every pinned digest as expectations, the archive's binaries included, with their
    /// subject and with `origin` naming the lock.
    pub fn expectations(&self, origin: &Path) -> Vec<Expected> {
        let mut out = Vec::new();
        for pin in &self.artifacts {
            let signed = pin.signature.as_ref().map(PinnedSignature::to_evidence);
            let mut push = |name: &str, digests: &[Digest], signed_by: Option<SignatureEvidence>| {
                for digest in digests {
                    out.push(Expected {
                        name: Some(name.to_string()),
                        sidecar_of: None,
                        digest: *digest,
                        origin: format!("{} ({})", origin.display(), pin.subject),
                        subject: Some(pin.subject.clone()),
                        signed_by: signed_by.clone(),
                        pinned_in: Some(origin.display().to_string()),
                    });
                }
            };
            let digests: Vec<Digest> = std::iter::once(pin.sha256).chain(pin.sha512).collect();
            push(&pin.file, &digests, signed.clone());
            for f in &pin.files {
                push(&f.name, &[f.sha256, f.sha512], None);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(byte: u8, algorithm: Algorithm) -> Digest {
        Digest::from_hex_as(algorithm, &hex::encode(vec![byte; algorithm.byte_len()])).unwrap()
    }

    fn pin() -> Pin {
        Pin {
            subject: Subject::new(
                "kubectl",
                Version::parse("v1.29.4").unwrap(),
                Platform::parse("linux/amd64").unwrap(),
            ),
            url: "https://dl.k8s.io/release/v1.29.4/bin/linux/amd64/kubectl".into(),
            file: "kubectl".into(),
            sha256: digest(0xab, Algorithm::Sha256),
            sha512: Some(digest(0xcd, Algorithm::Sha512)),
            checksums: vec!["https://dl.k8s.io/release/v1.29.4/bin/linux/amd64/kubectl.sha256".into()],
            signature: None,
            files: vec![],
        }
    }

    #[test]
    fn round_trips_and_is_deterministic() {
        let mut lock = Lock::new("sha256:0123456789abcdef".into());
        let mut second = pin();
        second.subject.component = "etcd".into();
        second.files = vec![PinnedFile {
            name: "etcd".into(),
            sha256: digest(1, Algorithm::Sha256),
            sha512: digest(2, Algorithm::Sha512),
        }];
        lock.put(pin());
        lock.put(second);
        let text = lock.to_text();
        let back = Lock::parse(Path::new("kverify.lock"), &text).unwrap();
        assert_eq!(back.to_text(), text);
        assert_eq!(back.artifacts[0].subject.component, "etcd", "sorted");
        let mut reversed = lock.clone();
        reversed.artifacts.reverse();
        assert_eq!(reversed.to_text(), text);
    }

    /// Found by the `lock` fuzz target: a pin that `parse` accepts (version without its
    /// `v`, an architecture alias) was never found, so `fetch --lock --locked` refused it.
    #[test]
    fn find_matches_a_pin_written_without_its_v_or_with_an_arch_alias() {
        let text = Lock { version: FORMAT, catalog: "x".into(), artifacts: vec![pin()] }.to_text();
        let hand_written = text.replace("\"v1.29.4\"", "\"1.29.4\"").replace("\"linux/amd64\"", "\"Linux/x86_64\"");
        assert_ne!(hand_written, text);
        let lock = Lock::parse(Path::new("kverify.lock"), &hand_written).unwrap();
        let version = Version::parse("v1.29.4").unwrap();
        let platform = Platform::parse("linux/amd64").unwrap();
        assert!(lock.find("kubectl", &version, Some(&platform)).is_some());
        assert!(lock.find("kubectl", &version, None).is_some());
        let other = Platform::parse("linux/arm64").unwrap();
        assert!(lock.find("kubectl", &version, Some(&other)).is_none());
        assert!(lock.find("kubectl", &Version::parse("1.29.5").unwrap(), None).is_none());
    }

    #[test]
    fn hand_edits_get_clear_errors() {
        let text = Lock { version: FORMAT, catalog: "x".into(), artifacts: vec![pin()] }.to_text();
        let p = Path::new("kverify.lock");
        let bad_hex = text.replace(&"ab".repeat(32), &"zz".repeat(32));
        assert!(Lock::parse(p, &bad_hex)
            .unwrap_err()
            .to_string()
            .contains("artifact 1 (kubectl v1.29.4): sha256: not hexadecimal"));
        let broken = text.replace("platform = ", "platform = = ");
        let e = Lock::parse(p, &broken).unwrap_err().to_string();
        assert!(e.starts_with("lock kverify.lock: TOML parse error at line"), "{e}");
        let future = text.replace("version = 1", "version = 9");
        assert_eq!(
            Lock::parse(p, &future).unwrap_err().to_string(),
            "lock kverify.lock: format version 9; this kverify reads version 1"
        );
        assert!(Lock::parse(p, "x = 1").unwrap_err().to_string().contains("not a kverify lock"));
    }

    #[test]
    fn a_subject_pinned_twice_is_refused() {
        let mut other = pin();
        other.sha256 = digest(0xee, Algorithm::Sha256);
        let one = Lock { version: FORMAT, catalog: "x".into(), artifacts: vec![pin()] }.to_text();
        let two = Lock { version: FORMAT, catalog: "x".into(), artifacts: vec![other] }.to_text();
        let body = two.split_once("[[artifact]]").unwrap().1;
        // The second written without its `v`: the same release all the same.
        let text = format!("{one}\n[[artifact]]{}", body.replace("\"v1.29.4\"", "\"1.29.4\""));
        let e = Lock::parse(Path::new("kverify.lock"), &text).unwrap_err().to_string();
        assert_eq!(
            e,
            "lock kverify.lock: artifact 2 (kubectl 1.29.4): kubectl v1.29.4 linux/amd64 is pinned twice (artifacts 1 and 2)"
        );
    }
}
