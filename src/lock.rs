//! `kverify.lock`: the digests of release artifacts as seen once, online, so later
//! installs and audits need no checksum download and notice any change upstream.
//!
//! TOML, sorted, no timestamps: the same upstream bytes always give the same file.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::digest::{Algorithm, Digest};
use crate::expect::{Expected, Label};
use crate::platform::Platform;
use crate::report::SignatureEvidence;
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
    #[error("cannot write lock {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A whole lock file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lock {
    /// Format version ([`FORMAT`]).
    pub version: u32,
    /// Fingerprint of the catalog that resolved the URLs (`sha256:` of its files).
    pub catalog: String,
    #[serde(default, rename = "artifact")]
    pub artifacts: Vec<Pin>,
}

/// One component × version × platform, pinned.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pin {
    pub component: String,
    /// With its `v`: `v1.29.0`.
    pub version: String,
    /// `linux/amd64`.
    pub platform: String,
    /// The upstream URL (never a mirror's).
    pub url: String,
    /// The artifact's file name (an archive's, or the binary's install name).
    pub file: String,
    pub sha256: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha512: Option<String>,
    /// Where the digests came from when locked: the checksum URLs.
    pub checksums: Vec<String>,
    /// The signature verified when locked; absent when none was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<PinnedSignature>,
    /// Binaries inside an archive, with their digests, for audits of installed files.
    #[serde(default, rename = "file-in-archive", skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<PinnedFile>,
}

/// What a signature established at lock time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PinnedSignature {
    pub kind: String,
    pub identity: String,
    pub issuer: String,
    pub tlog: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_at: Option<String>,
    /// A Sigstore bundle (JSON) captured for a detached pair, for offline tlog checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle: Option<String>,
}

/// A binary inside a pinned archive.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PinnedFile {
    pub name: String,
    pub sha256: String,
    pub sha512: String,
}

impl PinnedSignature {
    pub fn from_evidence(e: &SignatureEvidence) -> PinnedSignature {
        PinnedSignature {
            kind: e.kind.to_string(),
            identity: e.identity.clone(),
            issuer: e.issuer.clone(),
            tlog: e.tlog,
            signed_at: e.signed_at.clone(),
            bundle: None,
        }
    }

    pub fn to_evidence(&self) -> SignatureEvidence {
        SignatureEvidence {
            kind: if self.kind == "bundle" { "bundle" } else { "cosign-detached" },
            identity: self.identity.clone(),
            issuer: self.issuer.clone(),
            chain: true,
            sct: true,
            tlog: self.tlog,
            signed_at: self.signed_at.clone(),
            notes: vec!["signature verified when the lock was written".into()],
        }
    }
}

impl Lock {
    pub fn new(catalog: String) -> Lock {
        Lock { version: FORMAT, catalog, artifacts: Vec::new() }
    }

    /// Reads and checks a lock: every digest, version and platform must parse.
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
        let lock: Lock = toml::from_str(text).map_err(|e| malformed(e.to_string().trim_end().to_string()))?;
        for (i, pin) in lock.artifacts.iter().enumerate() {
            let at = |m: String| malformed(format!("artifact {} ({} {}): {m}", i + 1, pin.component, pin.version));
            Version::parse(&pin.version).map_err(|e| at(e.to_string()))?;
            Platform::parse(&pin.platform).map_err(|e| at(e.to_string()))?;
            Digest::from_hex_as(Algorithm::Sha256, &pin.sha256).map_err(|e| at(format!("sha256: {e}")))?;
            if let Some(h) = &pin.sha512 {
                Digest::from_hex_as(Algorithm::Sha512, h).map_err(|e| at(format!("sha512: {e}")))?;
            }
            for f in &pin.files {
                Digest::from_hex_as(Algorithm::Sha256, &f.sha256)
                    .map_err(|e| at(format!("{}: sha256: {e}", f.name)))?;
                Digest::from_hex_as(Algorithm::Sha512, &f.sha512)
                    .map_err(|e| at(format!("{}: sha512: {e}", f.name)))?;
            }
        }
        Ok(lock)
    }

    /// Writes the lock, sorted, atomically (temp file + rename).
    pub fn save(&self, path: &Path) -> Result<(), LockError> {
        let err = |source| LockError::Write { path: path.to_path_buf(), source };
        let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(err)?;
        std::io::Write::write_all(&mut tmp, self.to_text().as_bytes()).map_err(err)?;
        tmp.as_file().sync_all().map_err(err)?;
        tmp.persist(path).map_err(|e| err(e.error))?;
        Ok(())
    }

    /// The lock as text: a header comment, then sorted TOML.
    pub fn to_text(&self) -> String {
        let mut sorted = self.clone();
        sorted
            .artifacts
            .sort_by(|a, b| (&a.component, &a.version, &a.platform).cmp(&(&b.component, &b.version, &b.platform)));
        sorted
            .artifacts
            .dedup_by(|a, b| (&a.component, &a.version, &a.platform) == (&b.component, &b.version, &b.platform));
        for a in &mut sorted.artifacts {
            a.files.sort_by(|x, y| x.name.cmp(&y.name));
        }
        let body = toml::to_string(&sorted).unwrap_or_default();
        format!(
            "# kverify.lock: digests of release artifacts pinned by `kverify lock`.\n\
             # Used by `kverify fetch --lock`, `verify --lock`, `identify --lock` and `node --lock`.\n\
             # Re-check against the upstream with `kverify lock --check`.\n\n{body}"
        )
    }

    /// Adds or replaces the pin of the same component × version × platform.
    pub fn put(&mut self, pin: Pin) {
        self.artifacts
            .retain(|a| !(a.component == pin.component && a.version == pin.version && a.platform == pin.platform));
        self.artifacts.push(pin);
    }

    /// The pin of a component at a version; on `platform` when given, else any.
    /// Versions and platforms compare as parsed, as `parse` checked them: a hand-written
    /// `1.29.0` or `linux/x86_64` is the pin of `v1.29.0` on `linux/amd64`.
    pub fn find(&self, component: &str, version: &Version, platform: Option<&Platform>) -> Option<&Pin> {
        self.artifacts.iter().find(|a| {
            a.component == component
                && Version::parse(&a.version).is_ok_and(|v| v == *version)
                && platform.is_none_or(|p| Platform::parse(&a.platform).is_ok_and(|ap| ap == *p))
        })
    }

    /// Every pinned digest as expectations, the archive's binaries included, labelled
    /// and with `origin` naming the lock.
    pub fn expectations(&self, origin: &Path) -> Vec<Expected> {
        let mut out = Vec::new();
        for pin in &self.artifacts {
            let label = Label {
                component: pin.component.clone(),
                version: pin.version.clone(),
                platform: pin.platform.clone(),
            };
            let signed = pin.signature.as_ref().map(PinnedSignature::to_evidence);
            let mut push = |name: &str, sha256: &str, sha512: Option<&str>, signed_by: Option<SignatureEvidence>| {
                let digests = [Some(sha256), sha512].into_iter().flatten().filter_map(|h| Digest::from_hex(h).ok());
                for digest in digests {
                    out.push(Expected {
                        name: Some(name.to_string()),
                        sidecar_of: None,
                        digest,
                        origin: format!("{} ({} {} {})", origin.display(), pin.component, pin.version, pin.platform),
                        label: Some(label.clone()),
                        signed_by: signed_by.clone(),
                        pinned_in: Some(origin.display().to_string()),
                    });
                }
            };
            push(&pin.file, &pin.sha256, pin.sha512.as_deref(), signed.clone());
            for f in &pin.files {
                push(&f.name, &f.sha256, Some(&f.sha512), None);
            }
        }
        out
    }
}

/// A fingerprint of the catalog in use, so a lock says what resolved its URLs.
pub fn catalog_fingerprint(texts: &[&str]) -> String {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    for t in texts {
        h.update(t.as_bytes());
    }
    format!("sha256:{}", &hex::encode(h.finalize())[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pin() -> Pin {
        Pin {
            component: "kubectl".into(),
            version: "v1.29.4".into(),
            platform: "linux/amd64".into(),
            url: "https://dl.k8s.io/release/v1.29.4/bin/linux/amd64/kubectl".into(),
            file: "kubectl".into(),
            sha256: "ab".repeat(32),
            sha512: Some("cd".repeat(64)),
            checksums: vec!["https://dl.k8s.io/release/v1.29.4/bin/linux/amd64/kubectl.sha256".into()],
            signature: None,
            files: vec![],
        }
    }

    #[test]
    fn round_trips_and_is_deterministic() {
        let mut lock = Lock::new("sha256:0123456789abcdef".into());
        let mut second = pin();
        second.component = "etcd".into();
        second.files = vec![PinnedFile { name: "etcd".into(), sha256: "01".repeat(32), sha512: "02".repeat(64) }];
        lock.put(pin());
        lock.put(second);
        let text = lock.to_text();
        let back = Lock::parse(Path::new("kverify.lock"), &text).unwrap();
        assert_eq!(back.to_text(), text);
        assert_eq!(back.artifacts[0].component, "etcd", "sorted");
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
}
