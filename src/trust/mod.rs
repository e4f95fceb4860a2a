//! Sigstore trust that stays current: the `trusted_root.json` that keyless signatures
//! chain to, kept fresh through Sigstore's TUF repository (DESIGN.md §4), as cosign,
//! sigstore-go and sigstore-python do.
//!
//! Where trust comes from, in order ([`load`]):
//! 1. `--trusted-root FILE`, when given: the operator's word, used as is;
//! 2. the TUF cache under [`TrustConfig::dir`], re-verified from the pinned TUF root on
//!    every load (a cached file is never trusted because it is on disk);
//! 3. the `trusted_root.json` built into kverify.
//!
//! Between 2 and 3 the newer wins: the root whose newest key material (the latest
//! validity start among its CAs, CT logs, tlogs and TSAs) starts later. On a tie the
//! cache wins: it is what the TUF repository published, and re-serialising the same
//! trust must not send users back to the built-in copy. With `--tuf-root` (another
//! Sigstore instance) the verified cache always wins: the built-in public-good root is
//! no newer version of it.
//!
//! Expiry on load: TUF's expiry protects *updates* against freeze attacks. A cache whose
//! timestamp (or snapshot, targets, root) has expired is still the last trust that
//! verified, so [`load`] verifies every signature, version pin, length and hash of it,
//! uses it, and says so in [`Loaded::warnings`]; [`Loaded::needs_refresh`] then asks for
//! a refresh, which [`load_or_refresh`] attempts unless offline. Updates judge expiry
//! strictly, at now or at `--as-of`.
//!
//! Updates ([`update`]) run sigstore-tuf's `Updater` over kverify's own blocking
//! [`Transport`] (mirrors, `--ca-cert`, proxies and `file://` come with it), from a copy
//! of the last good cache held in memory, and swap a fully written and re-verified new
//! state in with one `rename(2)`: a refused or interrupted update leaves the cache byte
//! for byte as it was (see [`cache`] for the layout).

mod cache;
mod chain;
mod material;
mod report;
mod repository;

use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::Serialize;
use sha2::{Digest as _, Sha256};

use crate::signature::{SignatureError, TrustRoot};
use crate::status::{Classified, ExitStatus};
use crate::transport::{Transport, TransportError};

pub use chain::Versions;
pub use material::{Change, ChangeKind, Material, MaterialKind};
pub use report::{Shown, Updated};

/// The Sigstore public-good TUF repository.
pub const DEFAULT_TUF_URL: &str = "https://tuf-repo-cdn.sigstore.dev";
/// The value of `--tuf-url` / `KVERIFY_TUF_URL` that turns TUF off (as `GOPROXY=off`
/// does): trust then comes from the cache or the built-in root, never from the network.
pub const TUF_OFF: &str = "off";
/// The TUF target that holds Sigstore's trusted root.
pub const TRUSTED_ROOT_TARGET: &str = "trusted_root.json";

/// Sigstore's production TUF `root.json` (manifests/trust/README.md says where it
/// comes from). Every cache and every update is verified forward from it.
const EMBEDDED_TUF_ROOT: &[u8] = include_bytes!("../../manifests/trust/sigstore-tuf-root.json");
/// What the built-in root is called in messages.
const BUILT_IN: &str = "the built-in public-good root";

/// Why trust could not be loaded or updated.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    /// `--as-of` is not an RFC 3339 time.
    #[error("--as-of {given:?} is not an RFC 3339 time (e.g. 2026-11-28T12:00:00Z)")]
    BadAsOf {
        given: String,
        #[source]
        source: jiff::Error,
    },
    /// `--as-of` lies in the future: it would accept metadata that has not expired yet
    /// only because the clock was lied to.
    #[error("--as-of {as_of} is later than now ({now}): expiry is judged at TIME, never after now")]
    AsOfInFuture { as_of: Timestamp, now: Timestamp },
    /// `--tuf-url` is not a URL kverify can fetch from.
    #[error("--tuf-url {0:?} is not an http://, https:// or file:// URL (or `off`)")]
    BadUrl(String),
    /// No trust directory: no `KVERIFY_TRUST_DIR`, cache directory or home.
    #[error(
        "no directory for the trust cache: KVERIFY_TRUST_DIR, KVERIFY_CACHE_DIR, XDG_CACHE_HOME and HOME are unset"
    )]
    NoDir,
    /// `--offline`: the TUF repository may not be contacted.
    #[error("--offline: the TUF repository at {url} may not be contacted")]
    Offline { url: String },
    /// `--tuf-url off`: TUF is turned off.
    #[error("TUF is turned off (--tuf-url off / KVERIFY_TUF_URL=off)")]
    TufOff,
    /// The `--tuf-root` file cannot be read.
    #[error("cannot read the TUF root {}", path.display())]
    TufRootUnreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The pinned TUF root is not a validly self-signed TUF root.
    #[error("the TUF root {origin} is not a TUF root signed by its own threshold")]
    TufRoot {
        origin: String,
        #[source]
        source: sigstore_tuf::Error,
    },
    /// The repository could not be reached (connection, timeout, 5xx): retry later.
    #[error("cannot reach the TUF repository at {url}")]
    Unreachable {
        url: String,
        #[source]
        source: TransportError,
    },
    /// What the repository served failed TUF's checks: a bad signature, an expired
    /// role, a rollback, a length or hash that differs from its pin, a root rotation
    /// without both thresholds, a missing file. Possibly tampering.
    #[error("the TUF repository at {url} failed verification; the trust cache was left as it was")]
    Refused {
        url: String,
        #[source]
        source: sigstore_tuf::Error,
    },
    /// The verified target is not a Sigstore trusted root.
    #[error("the {TRUSTED_ROOT_TARGET} the TUF repository at {url} publishes is not a trusted root")]
    NotATrustedRoot {
        url: String,
        #[source]
        source: SignatureError,
    },
    /// The trust cache could not be read or written.
    #[error("trust cache {}", path.display())]
    Cache {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// `--trusted-root FILE` could not be read or is not a trusted root.
    #[error(transparent)]
    TrustedRootFile(SignatureError),
    /// A future of the TUF client did not complete at once; it never waits on I/O of
    /// its own, so this is a bug, reported rather than spun on.
    #[error("internal error: the TUF client waited on asynchronous I/O that kverify never starts")]
    Pending,
}

impl TrustError {
    /// Network or local I/O trouble, or no network allowed (exit 3): retry later, or
    /// online.
    fn is_network_or_io(&self) -> bool {
        self.exit_status() == ExitStatus::Io
    }
}

impl Classified for TrustError {
    /// A bad flag value is exit 2; network or local I/O trouble, or no network allowed,
    /// exit 3; everything else (metadata that fails TUF's checks) exit 1.
    fn exit_status(&self) -> ExitStatus {
        match self {
            TrustError::BadAsOf { .. }
            | TrustError::AsOfInFuture { .. }
            | TrustError::BadUrl(_)
            | TrustError::NoDir => ExitStatus::Usage,
            TrustError::Offline { .. }
            | TrustError::TufOff
            | TrustError::TufRootUnreadable { .. }
            | TrustError::Unreachable { .. }
            | TrustError::Cache { .. } => ExitStatus::Io,
            TrustError::TrustedRootFile(e) => e.exit_status(),
            _ => ExitStatus::Failed,
        }
    }

    /// The next step, where one exists.
    fn hint(&self) -> Option<String> {
        Some(match self {
            TrustError::NoDir => "set KVERIFY_TRUST_DIR to a directory kverify may write".into(),
            TrustError::AsOfInFuture { .. } => "give the time the copied repository was made, or leave --as-of out".into(),
            TrustError::Offline { .. } | TrustError::TufOff => {
                "run `kverify trust update` where the TUF repository (or a --mirror of it) is reachable, or import a copy with `kverify trust update --as-of TIME`".into()
            }
            TrustError::Unreachable { .. } => {
                "retry later, or give --tuf-url / --mirror a reachable copy; until then the cached or built-in root is used".into()
            }
            TrustError::Refused { source: sigstore_tuf::Error::Expired { .. }, .. } => {
                "the repository is stale (or replayed): retry later; a copy made for an air-gapped site imports with --as-of TIME".into()
            }
            TrustError::Refused { .. } | TrustError::NotATrustedRoot { .. } => {
                "do not trust this repository or mirror; the cached or built-in root stays in effect".into()
            }
            TrustError::TufRoot { .. } => "give --tuf-root the root.json the repository was created with".into(),
            TrustError::Cache { .. } => {
                "check the permissions of the trust directory, or remove it: the next update makes a new cache".into()
            }
            _ => return None,
        })
    }
}

/// Where trust comes from and how it is refreshed, from flags and environment.
#[derive(Clone, Debug)]
pub struct TrustConfig {
    /// The trust cache (`KVERIFY_TRUST_DIR`, see [`default_dir`]); `None` when no
    /// directory can be named: then there is no cache, and updates fail.
    pub dir: Option<PathBuf>,
    /// The TUF repository (`--tuf-url`, `KVERIFY_TUF_URL`); `None` when TUF is off.
    pub tuf_url: Option<String>,
    /// A `root.json` that replaces the embedded pin (`--tuf-root`).
    pub tuf_root: Option<PathBuf>,
    /// No network (`--offline`, `KVERIFY_OFFLINE=1`).
    pub offline: bool,
    /// `--trusted-root FILE`: used first, as is.
    pub trusted_root: Option<PathBuf>,
}

impl TrustConfig {
    /// A configuration from flag values (`tuf_url` already merged with
    /// `KVERIFY_TUF_URL` by the caller; `None` means the default repository), the
    /// cache directory from the environment.
    pub fn new(
        tuf_url: Option<&str>,
        tuf_root: Option<PathBuf>,
        offline: bool,
        trusted_root: Option<PathBuf>,
    ) -> Result<TrustConfig, TrustError> {
        let tuf_url = match tuf_url.map(str::trim).filter(|u| !u.is_empty()) {
            None => Some(DEFAULT_TUF_URL.to_string()),
            Some(u) if u.eq_ignore_ascii_case(TUF_OFF) => None,
            Some(u) if ["https://", "http://", "file://"].iter().any(|p| u.starts_with(p)) => {
                Some(u.trim_end_matches('/').to_string())
            }
            Some(u) => return Err(TrustError::BadUrl(u.to_string())),
        };
        Ok(TrustConfig { dir: default_dir(), tuf_url, tuf_root, offline, trusted_root })
    }

    /// The configuration of a command that has no TUF flags (yet): `KVERIFY_TUF_URL`
    /// and `KVERIFY_OFFLINE` from the environment, the embedded pin. A malformed
    /// `KVERIFY_TUF_URL` turns TUF off rather than failing a command that may need no
    /// signature at all; `trust update` reports it.
    pub fn from_env(trusted_root: Option<PathBuf>) -> TrustConfig {
        let url = std::env::var("KVERIFY_TUF_URL").ok();
        let offline = std::env::var("KVERIFY_OFFLINE").is_ok_and(|v| is_truthy(&v));
        TrustConfig::new(url.as_deref(), None, offline, trusted_root.clone()).unwrap_or(TrustConfig {
            dir: default_dir(),
            tuf_url: None,
            tuf_root: None,
            offline,
            trusted_root,
        })
    }

    /// The repository URL, if it may be contacted now.
    fn reachable_url(&self) -> Result<&str, TrustError> {
        let url = self.tuf_url.as_deref().ok_or(TrustError::TufOff)?;
        if self.offline {
            return Err(TrustError::Offline { url: url.to_string() });
        }
        Ok(url)
    }

    /// The pinned TUF root's bytes and what to call it.
    fn pinned_root(&self) -> Result<(Vec<u8>, String), TrustError> {
        match &self.tuf_root {
            None => Ok((EMBEDDED_TUF_ROOT.to_vec(), "built into kverify".to_string())),
            Some(path) => fs_err::read(path)
                .map(|bytes| (bytes, path.display().to_string()))
                .map_err(|source| TrustError::TufRootUnreadable { path: path.clone(), source }),
        }
    }
}

/// `1`, `true`, `yes`, `on` (any case), as clap reads boolean environment variables.
fn is_truthy(value: &str) -> bool {
    !matches!(value.trim().to_ascii_lowercase().as_str(), "" | "0" | "false" | "no" | "off" | "n" | "f")
}

/// The trust cache directory: `KVERIFY_TRUST_DIR`; else `$KVERIFY_CACHE_DIR/trust`; else
/// `$XDG_CACHE_HOME/kverify/trust`; else `$HOME/.cache/kverify/trust`. Empty variables
/// count as unset.
pub fn default_dir() -> Option<PathBuf> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    var("KVERIFY_TRUST_DIR")
        .or_else(|| var("KVERIFY_CACHE_DIR").map(|d| d.join("trust")))
        .or_else(|| var("XDG_CACHE_HOME").map(|d| d.join("kverify").join("trust")))
        .or_else(|| var("HOME").map(|d| d.join(".cache").join("kverify").join("trust")))
}

/// Parses `--as-of TIME` (RFC 3339, with an offset) and refuses a time after `now`.
pub fn parse_as_of(given: &str, now: Timestamp) -> Result<Timestamp, TrustError> {
    let now = whole_seconds(now);
    let as_of: Timestamp =
        given.trim().parse().map_err(|source| TrustError::BadAsOf { given: given.to_string(), source })?;
    if as_of > now {
        return Err(TrustError::AsOfInFuture { as_of, now });
    }
    Ok(as_of)
}

/// `t` without its fraction of a second, for messages and the state file.
fn whole_seconds(t: Timestamp) -> Timestamp {
    Timestamp::from_second(t.as_second()).unwrap_or(t)
}

/// Where the trusted root in effect came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// `--trusted-root FILE`.
    TrustedRootFile(PathBuf),
    /// The verified TUF cache in this directory.
    TufCache(PathBuf),
    /// The `trusted_root.json` built into kverify.
    BuiltIn,
}

impl Source {
    /// A stable name for JSON: `trusted-root-file`, `tuf-cache`, `built-in`.
    pub fn kind(&self) -> &'static str {
        match self {
            Source::TrustedRootFile(_) => "trusted-root-file",
            Source::TufCache(_) => "tuf-cache",
            Source::BuiltIn => "built-in",
        }
    }

    /// The file or directory, where there is one.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Source::TrustedRootFile(p) | Source::TufCache(p) => Some(p),
            Source::BuiltIn => None,
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::TrustedRootFile(p) => write!(f, "--trusted-root {}", p.display()),
            Source::TufCache(p) => write!(f, "the TUF cache {}", p.display()),
            Source::BuiltIn => f.write_str(BUILT_IN),
        }
    }
}

/// What the trust cache held when it was loaded.
#[derive(Clone, Debug)]
pub enum CacheStatus {
    /// Not read: `--trusted-root` comes first.
    Unused,
    /// No directory could be named (see [`default_dir`]).
    NoDir,
    /// Nothing cached yet.
    Missing,
    /// Present, but it does not verify from the pinned root (tampered, damaged, or
    /// made from another repository): ignored.
    Invalid(String),
    /// Present and verified.
    Verified(Box<CacheInfo>),
}

/// A verified cache: its TUF state and its trusted root.
#[derive(Clone, Debug)]
pub struct CacheInfo {
    /// The directory of the state in effect.
    pub dir: PathBuf,
    pub versions: Versions,
    /// When the cached timestamp expires (TUF's freshness; Sigstore signs it for days).
    pub timestamp_expires: Timestamp,
    /// The earliest expiry among root, timestamp, snapshot and targets: after it the
    /// cache is stale and a refresh is due.
    pub expires: Timestamp,
    /// SHA-256 of the cached `trusted_root.json`.
    pub sha256: [u8; 32],
    pub root: TrustRoot,
    /// When, from where and `--as-of` what the cache was written (informational: the
    /// state file is not signed and never decides anything).
    pub updated: Option<cache::StateFile>,
}

impl CacheInfo {
    /// Whether the cache has expired at `now`.
    pub fn is_stale(&self, now: Timestamp) -> bool {
        self.expires < now
    }
}

/// Why a refresh is due.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refresh {
    /// No cache yet.
    Missing,
    /// The cache does not verify.
    Invalid,
    /// The cache's metadata expired at this time.
    Expired(Timestamp),
    /// A signature failed in a way a key rotation explains (no known CA or CT log):
    /// refresh once and retry.
    Retry,
}

/// The trusted root in effect, where it came from, and why.
#[derive(Clone, Debug)]
pub struct Loaded {
    pub root: TrustRoot,
    /// SHA-256 of the `trusted_root.json` bytes in effect (what a lock records).
    pub sha256: [u8; 32],
    pub source: Source,
    /// Why this source, in words (`trust show`).
    pub reason: String,
    /// The cache as found, whether or not it is the source.
    pub cache: CacheStatus,
    /// What the user should know (stale cache, invalid cache, refresh failed).
    pub warnings: Vec<String>,
}

impl Loaded {
    /// The SHA-256 of the trusted root in effect, in hex.
    pub fn sha256_hex(&self) -> String {
        hex::encode(self.sha256)
    }

    /// Whether commands that check keyless signatures should refresh the cache first:
    /// it is missing, does not verify, or has expired. Never with `--trusted-root`.
    pub fn needs_refresh(&self, now: Timestamp) -> Option<Refresh> {
        if matches!(self.source, Source::TrustedRootFile(_)) {
            return None;
        }
        match &self.cache {
            CacheStatus::NoDir | CacheStatus::Unused => None,
            CacheStatus::Missing => Some(Refresh::Missing),
            CacheStatus::Invalid(_) => Some(Refresh::Invalid),
            CacheStatus::Verified(info) if info.is_stale(now) => Some(Refresh::Expired(info.expires)),
            CacheStatus::Verified(_) => None,
        }
    }
}

/// The trusted root in effect under `config`, with no network: `--trusted-root`, else
/// the newer of the verified TUF cache and the built-in root (see the module docs).
pub fn load(config: &TrustConfig) -> Result<Loaded, TrustError> {
    load_at(config, Timestamp::now())
}

fn load_at(config: &TrustConfig, now: Timestamp) -> Result<Loaded, TrustError> {
    let cache = match (&config.dir, &config.trusted_root) {
        // The operator's file comes first: the cache is not even read.
        (_, Some(_)) => CacheStatus::Unused,
        (None, None) => CacheStatus::NoDir,
        // An unreadable cache is as good as none: the built-in root is safe to fall back
        // on, and a command must not fail because of a damaged cache it may not need.
        (Some(dir), None) => match read_cache(dir, config, now) {
            Err(e @ TrustError::Cache { .. }) => CacheStatus::Invalid(error_chain(&e)),
            other => other?,
        },
    };
    if let Some(path) = &config.trusted_root {
        let bytes = fs_err::read(path).map_err(|source| {
            TrustError::TrustedRootFile(SignatureError::TrustRootUnreadable {
                origin: path.display().to_string(),
                source,
            })
        })?;
        let root = root_from_bytes(&path.display().to_string(), &bytes).map_err(TrustError::TrustedRootFile)?;
        return Ok(Loaded {
            root,
            sha256: Sha256::digest(&bytes).into(),
            source: Source::TrustedRootFile(path.clone()),
            reason: "given with --trusted-root, which comes before the TUF cache and the built-in root".into(),
            cache,
            warnings: Vec::new(),
        });
    }

    let built_in_json = sigstore_trust_root::SIGSTORE_PRODUCTION_TRUSTED_ROOT;
    let built_in = TrustRoot::production().map_err(TrustError::TrustedRootFile)?;
    let built_in_sha: [u8; 32] = Sha256::digest(built_in_json.as_bytes()).into();
    let mut warnings = Vec::new();
    let dir_text = config.dir.as_deref().map(|d| d.display().to_string()).unwrap_or_default();
    let (root, sha256, source, reason) = match &cache {
        CacheStatus::NoDir | CacheStatus::Unused => {
            (built_in, built_in_sha, Source::BuiltIn, "no trust cache directory (set KVERIFY_TRUST_DIR)".to_string())
        }
        CacheStatus::Missing => (
            built_in,
            built_in_sha,
            Source::BuiltIn,
            format!("no TUF cache in {dir_text} yet (`kverify trust update` makes one)"),
        ),
        CacheStatus::Invalid(why) => {
            warnings.push(format!(
                "the trust cache in {dir_text} does not verify ({why}); using {BUILT_IN}: run `kverify trust update`"
            ));
            (built_in, built_in_sha, Source::BuiltIn, format!("the TUF cache in {dir_text} does not verify: {why}"))
        }
        CacheStatus::Verified(info) => {
            if info.is_stale(now) {
                warnings.push(format!(
                    "the trust cache in {dir_text} expired at {} ({} ago); its verified root is still used: run `kverify trust update`",
                    info.expires,
                    material::age(now, info.expires)
                ));
            }
            let cached_start = material::latest_start(&info.root);
            let built_in_start = material::latest_start(&built_in);
            let when = |t: Option<Timestamp>| t.map_or("none".to_string(), |t| t.to_string());
            if config.tuf_root.is_none() && built_in_is_newer(&info.root, &built_in) {
                warnings.push(format!(
                    "the trust cache in {dir_text} is older than {BUILT_IN} (newest key material {} vs {}); using the built-in one: run `kverify trust update`",
                    when(cached_start),
                    when(built_in_start)
                ));
                (
                    built_in,
                    built_in_sha,
                    Source::BuiltIn,
                    format!(
                        "newer than the TUF cache: its newest key material starts {}, the cache's {}",
                        when(built_in_start),
                        when(cached_start)
                    ),
                )
            } else {
                (
                    info.root.clone(),
                    info.sha256,
                    Source::TufCache(info.dir.clone()),
                    match &config.tuf_root {
                        // Another Sigstore instance: the public-good root is no alternative.
                        Some(pin) => format!(
                            "verified from the TUF root {} (root v{}, timestamp v{}), which replaces the built-in public-good instance",
                            pin.display(),
                            info.versions.root,
                            info.versions.timestamp
                        ),
                        None => format!(
                            "verified from the pinned TUF root (root v{}, timestamp v{}); its newest key material starts {}, the built-in root's {}",
                            info.versions.root,
                            info.versions.timestamp,
                            when(cached_start),
                            when(built_in_start)
                        ),
                    },
                )
            }
        }
    };
    Ok(Loaded { root, sha256, source, reason, cache, warnings })
}

/// Whether the built-in root beats a verified cache of the same (public-good) instance:
/// only when its newest key material starts strictly later. A tie goes to the cache.
fn built_in_is_newer(cached: &TrustRoot, built_in: &TrustRoot) -> bool {
    material::latest_start(built_in) > material::latest_start(cached)
}

/// The cache in `dir`, verified from the pinned root: a cache that does not verify is
/// [`CacheStatus::Invalid`], not an error; only an unreadable pin or cache is.
fn read_cache(dir: &Path, config: &TrustConfig, now: Timestamp) -> Result<CacheStatus, TrustError> {
    Ok(inspect(dir, config, now)?.0)
}

/// The cache in `dir` as [`read_cache`] judges it, and its files (empty when missing).
fn inspect(dir: &Path, config: &TrustConfig, now: Timestamp) -> Result<(CacheStatus, cache::Files), TrustError> {
    let Some(state) = cache::read_current(dir)? else { return Ok((CacheStatus::Missing, cache::Files::new())) };
    let (pinned, origin) = config.pinned_root()?;
    let verified = match chain::verify_files(&state.files, &pinned, now) {
        Ok(v) => v,
        Err(chain::Invalid::Pin(source)) => return Err(TrustError::TufRoot { origin, source }),
        Err(chain::Invalid::Files(e)) => return Ok((CacheStatus::Invalid(error_chain(&e)), state.files)),
    };
    let origin = format!("{} in {}", TRUSTED_ROOT_TARGET, state.dir.display());
    let root = match root_from_bytes(&origin, &verified.trusted_root) {
        Ok(root) => root,
        Err(e) => return Ok((CacheStatus::Invalid(error_chain(&e)), state.files)),
    };
    let info = CacheInfo {
        dir: state.dir,
        versions: verified.versions,
        timestamp_expires: verified.timestamp_expires,
        expires: verified.expires,
        sha256: Sha256::digest(&verified.trusted_root).into(),
        root,
        updated: state.state,
    };
    Ok((CacheStatus::Verified(Box::new(info)), state.files))
}

/// The TUF repository the verified cache holds, as the repository lays it out
/// (consistent snapshots: `N.root.json`, `timestamp.json`, `V.snapshot.json`,
/// `V.targets.json`, `targets/<sha256>.trusted_root.json`), each file given to `write`
/// with its path relative to the repository's root. `kverify mirror` writes it beside
/// the artifacts; an air-gapped site imports it with `trust update --as-of`.
/// `Ok(None)` when there is no verified cache to export (nothing is written).
pub fn export<E>(
    config: &TrustConfig,
    mut write: impl FnMut(&str, &[u8]) -> Result<(), E>,
) -> Result<Option<Versions>, ExportError<E>> {
    let Some(dir) = &config.dir else { return Ok(None) };
    let (CacheStatus::Verified(info), files) = inspect(dir, config, Timestamp::now())? else { return Ok(None) };
    for (name, bytes) in &files {
        let path = match name.as_str() {
            cache::TIMESTAMP => cache::TIMESTAMP.to_string(),
            cache::SNAPSHOT => format!("{}.{}", info.versions.snapshot, cache::SNAPSHOT),
            cache::TARGETS => format!("{}.{}", info.versions.targets, cache::TARGETS),
            cache::TARGET_FILE => format!("targets/{}.{TRUSTED_ROOT_TARGET}", hex::encode(info.sha256)),
            root => root.strip_prefix(cache::ROOT_HISTORY).unwrap_or(root).trim_start_matches('/').to_string(),
        };
        write(&path, bytes).map_err(ExportError::Write)?;
    }
    Ok(Some(info.versions))
}

/// Why [`export`] stopped: the cache could not be read, or a file could not be written.
#[derive(Debug)]
pub enum ExportError<E> {
    Trust(TrustError),
    Write(E),
}

impl<E> From<TrustError> for ExportError<E> {
    fn from(e: TrustError) -> ExportError<E> {
        ExportError::Trust(e)
    }
}

fn root_from_bytes(origin: &str, bytes: &[u8]) -> Result<TrustRoot, SignatureError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| SignatureError::TrustRoot { origin: origin.to_string(), source: Box::new(e) })?;
    TrustRoot::from_json(origin, text)
}

/// An error and its causes on one line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let cause = cause.to_string();
        if !text.ends_with(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
        source = source.and_then(std::error::Error::source);
    }
    text
}

/// One side of an update: the trusted root and the TUF state that published it.
#[derive(Clone, Debug, Serialize)]
pub struct Side {
    /// Where this root came from: `tuf-cache` or `built-in` (before the first update).
    pub source: &'static str,
    /// SHA-256 of the `trusted_root.json`, hex.
    pub sha256: String,
    /// The TUF versions; `None` for the built-in root.
    pub versions: Option<Versions>,
    /// When the timestamp expires; `None` for the built-in root.
    #[serde(serialize_with = "material::ser_opt_time")]
    pub timestamp_expires: Option<Timestamp>,
}

/// What `trust update` changed.
#[derive(Clone, Debug, Serialize)]
pub struct UpdateReport {
    /// The repository updated from.
    pub url: String,
    /// Expiry was judged at this time (`--as-of`), not now.
    #[serde(serialize_with = "material::ser_opt_time")]
    pub as_of: Option<Timestamp>,
    /// The cache before (or the built-in root, when there was no verified cache).
    pub old: Side,
    /// The cache now.
    pub new: Side,
    /// CAs, CT logs, tlogs and TSAs added, removed or ended between old and new.
    pub changes: Vec<Change>,
    /// The trust directory.
    pub dir: PathBuf,
}

/// Refreshes the trust cache from the TUF repository: the full TUF client workflow
/// (root chain, timestamp, snapshot, targets, the `trusted_root.json` target), expiry
/// judged at `as_of` (see [`parse_as_of`]) or now, rollback judged against the cache.
/// The new state replaces the cache only when all of it verified and the target parses
/// as a trusted root; on any error the cache is untouched.
pub fn update(
    config: &TrustConfig,
    transport: &Transport,
    as_of: Option<Timestamp>,
) -> Result<UpdateReport, TrustError> {
    let now = whole_seconds(Timestamp::now());
    if let Some(as_of) = as_of.filter(|t| *t > now) {
        return Err(TrustError::AsOfInFuture { as_of, now });
    }
    let url = config.reachable_url()?.to_string();
    let dir = config.dir.clone().ok_or(TrustError::NoDir)?;
    let (pinned, origin) = config.pinned_root()?;
    let judge = as_of.unwrap_or(now);

    let _lock = cache::Lock::acquire(&dir)?;
    // The last good state, only if it verifies: its versions are the rollback floor.
    let (status, files) = inspect(&dir, config, now)?;
    let before = match status {
        CacheStatus::Verified(info) => Some(*info),
        CacheStatus::Invalid(why) => {
            tracing::warn!("ignoring the trust cache in {}: it does not verify ({why})", dir.display());
            None
        }
        CacheStatus::Missing | CacheStatus::NoDir | CacheStatus::Unused => None,
    };
    let seed = if before.is_some() { files } else { cache::Files::new() };

    let fresh = repository::refresh(transport, &url, &pinned, &origin, seed, judge)?;
    let new_root = root_from_bytes(&format!("{TRUSTED_ROOT_TARGET} from {url}"), &fresh.trusted_root)
        .map_err(|source| TrustError::NotATrustedRoot { url: url.clone(), source })?;
    // What will be on disk must load: verify the whole set once more, as `load` will.
    let verified = chain::verify_files(&fresh.files, &pinned, judge).map_err(|e| match e {
        chain::Invalid::Pin(source) => TrustError::TufRoot { origin: origin.clone(), source },
        chain::Invalid::Files(source) => TrustError::Refused { url: url.clone(), source },
    })?;

    let state = cache::StateFile { updated_at: now.to_string(), url: url.clone(), as_of: as_of.map(|t| t.to_string()) };
    cache::install(&dir, &fresh.files, &state)?;

    let new = Side {
        source: "tuf-cache",
        sha256: hex::encode(Sha256::digest(&fresh.trusted_root)),
        versions: Some(verified.versions),
        timestamp_expires: Some(verified.timestamp_expires),
    };
    let (old, old_root) = match before {
        Some(info) => (
            Side {
                source: "tuf-cache",
                sha256: hex::encode(info.sha256),
                versions: Some(info.versions),
                timestamp_expires: Some(info.timestamp_expires),
            },
            info.root,
        ),
        None => (
            Side {
                source: "built-in",
                sha256: hex::encode(Sha256::digest(sigstore_trust_root::SIGSTORE_PRODUCTION_TRUSTED_ROOT.as_bytes())),
                versions: None,
                timestamp_expires: None,
            },
            TrustRoot::production().map_err(TrustError::TrustedRootFile)?,
        ),
    };
    let changes = material::diff(&material::describe(&old_root), &material::describe(&new_root));
    Ok(UpdateReport { url, as_of, old, new, changes, dir })
}

/// The trusted root for a command that checks keyless signatures, refreshed first when
/// [`Loaded::needs_refresh`] says so, or always with `force` (the retry after a
/// certificate chained to no known CA or an SCT named no known log). An unreachable
/// repository, `--offline` or `--tuf-url off` keeps the loaded root with a warning (a
/// missing cache falls back to the built-in root quietly); metadata that fails TUF's
/// checks is an error (exit 1), the cache untouched.
pub fn load_or_refresh(config: &TrustConfig, transport: &Transport, force: bool) -> Result<Loaded, TrustError> {
    let now = Timestamp::now();
    let mut loaded = load_at(config, now)?;
    let due = match loaded.needs_refresh(now) {
        _ if force && !matches!(loaded.source, Source::TrustedRootFile(_)) => Some(Refresh::Retry),
        due => due,
    };
    let Some(due) = due else { return Ok(loaded) };
    if config.offline || config.tuf_url.is_none() {
        if due != Refresh::Missing {
            let why = if config.offline { "--offline" } else { "TUF is off" };
            loaded.warnings.push(format!("trust not refreshed ({why}); using {}", loaded.source));
        }
        return Ok(loaded);
    }
    match update(config, transport, None) {
        Ok(_) => load_at(config, Timestamp::now()),
        Err(e) if e.is_network_or_io() => {
            loaded.warnings.push(format!("{}; using {}", error_chain(&e), loaded.source));
            Ok(loaded)
        }
        Err(e) => Err(e),
    }
}

/// Every CA, CT log, tlog and TSA of a trusted root, with its validity window.
pub fn material_of(root: &TrustRoot) -> Vec<Material> {
    material::describe(root)
}

/// How long ago `then` was before `now` (or how long until it), in words: `3 d`, `5 h`.
pub fn age(now: Timestamp, then: Timestamp) -> String {
    material::age(now, then)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_tuf_root_is_self_signed() {
        let set = sigstore_tuf::TrustedMetadataSet::from_root(EMBEDDED_TUF_ROOT).unwrap();
        assert!(set.root().version >= 16);
        assert!(set.root().consistent_snapshot, "Sigstore serves consistent snapshots");
    }

    #[test]
    fn as_of_is_rfc3339_and_never_after_now() {
        let now: Timestamp = "2026-11-30T12:00:00Z".parse().unwrap();
        assert_eq!(parse_as_of("2026-11-28T00:00:00Z", now).unwrap().to_string(), "2026-11-28T00:00:00Z");
        assert_eq!(parse_as_of("2026-11-28T01:00:00+01:00", now).unwrap().to_string(), "2026-11-28T00:00:00Z");
        assert!(matches!(parse_as_of("2026-12-01T00:00:00Z", now), Err(TrustError::AsOfInFuture { .. })));
        for bad in ["yesterday", "2026-11-28", "2026-11-28T00:00:00"] {
            assert!(matches!(parse_as_of(bad, now), Err(TrustError::BadAsOf { .. })), "{bad}");
        }
    }

    #[test]
    fn tuf_url_is_checked_and_off_turns_tuf_off() {
        let c = TrustConfig::new(None, None, false, None).unwrap();
        assert_eq!(c.tuf_url.as_deref(), Some(DEFAULT_TUF_URL));
        let c = TrustConfig::new(Some("http://127.0.0.1:8080/"), None, false, None).unwrap();
        assert_eq!(c.tuf_url.as_deref(), Some("http://127.0.0.1:8080"));
        assert!(TrustConfig::new(Some("off"), None, false, None).unwrap().tuf_url.is_none());
        assert!(matches!(TrustConfig::new(Some("ftp://x"), None, false, None), Err(TrustError::BadUrl(_))));
        let off = TrustConfig::new(Some("OFF"), None, false, None).unwrap();
        assert!(matches!(off.reachable_url(), Err(TrustError::TufOff)));
        let offline = TrustConfig::new(None, None, true, None).unwrap();
        assert!(matches!(offline.reachable_url(), Err(TrustError::Offline { .. })));
    }

    /// The production root with one more CT log whose key starts at `start`.
    fn production_with_log_from(start: &str) -> TrustRoot {
        let mut json: serde_json::Value =
            serde_json::from_str(sigstore_trust_root::SIGSTORE_PRODUCTION_TRUSTED_ROOT).unwrap();
        let mut log = json["ctlogs"][1].clone();
        log["publicKey"]["validFor"] = serde_json::json!({ "start": start });
        json["ctlogs"].as_array_mut().unwrap().push(log);
        TrustRoot::from_json("test", &json.to_string()).unwrap()
    }

    #[test]
    fn the_newer_of_cache_and_built_in_wins_and_a_tie_goes_to_the_cache() {
        let built_in = TrustRoot::production().unwrap();
        assert!(!built_in_is_newer(&built_in, &built_in), "a tie: the cache");
        assert!(!built_in_is_newer(&production_with_log_from("2026-11-01T00:00:00Z"), &built_in));
        assert!(built_in_is_newer(
            &production_with_log_from("2020-01-01T00:00:00Z"),
            &production_with_log_from("2026-11-01T00:00:00Z")
        ));
        let old_test_root = r#"{"mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "certificateAuthorities": [], "ctlogs": [], "tlogs": [], "timestampAuthorities": []}"#;
        assert!(built_in_is_newer(&TrustRoot::from_json("empty", old_test_root).unwrap(), &built_in));
    }

    fn config_in(dir: &Path, url: Option<&str>, offline: bool) -> TrustConfig {
        TrustConfig {
            dir: Some(dir.to_path_buf()),
            tuf_url: url.map(String::from),
            tuf_root: None,
            offline,
            trusted_root: None,
        }
    }

    #[test]
    fn load_or_refresh_falls_back_with_a_warning_when_it_cannot_refresh() {
        let tmp = tempfile::tempdir().unwrap();
        let transport = Transport::new(&crate::transport::Options {
            backoff: std::time::Duration::from_millis(1),
            ..Default::default()
        })
        .unwrap();
        // No cache and no network: the built-in root, quietly.
        let quiet = load_or_refresh(&config_in(tmp.path(), None, false), &transport, false).unwrap();
        assert_eq!(quiet.source, Source::BuiltIn);
        assert!(quiet.warnings.is_empty(), "{:?}", quiet.warnings);
        assert_eq!(quiet.needs_refresh(Timestamp::now()), Some(Refresh::Missing));
        // A retry after an unknown CA, offline: said so.
        let offline = load_or_refresh(&config_in(tmp.path(), Some(DEFAULT_TUF_URL), true), &transport, true).unwrap();
        assert!(offline.warnings[0].contains("--offline"), "{:?}", offline.warnings);
        // An unreachable repository: a warning naming it, the built-in root, nothing written.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let url = format!("http://{closed}");
        let down = load_or_refresh(&config_in(tmp.path(), Some(&url), false), &transport, false).unwrap();
        assert_eq!(down.source, Source::BuiltIn);
        assert!(down.warnings[0].contains(&format!("cannot reach the TUF repository at {url}")), "{:?}", down.warnings);
        assert!(cache::read_current(tmp.path()).unwrap().is_none());
        // --trusted-root is never refreshed.
        let file = tmp.path().join("root.json");
        std::fs::write(&file, sigstore_trust_root::SIGSTORE_PRODUCTION_TRUSTED_ROOT).unwrap();
        let mut given = config_in(tmp.path(), Some(&url), false);
        given.trusted_root = Some(file.clone());
        let given = load_or_refresh(&given, &transport, true).unwrap();
        assert_eq!(given.source, Source::TrustedRootFile(file));
        assert!(given.warnings.is_empty());
    }

    #[test]
    fn a_damaged_cache_falls_back_to_the_built_in_root_and_never_fails_a_load() {
        let tmp = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/etc", tmp.path().join("current")).unwrap();
        let loaded = load(&config_in(tmp.path(), None, false)).unwrap();
        assert_eq!(loaded.source, Source::BuiltIn);
        assert!(matches!(loaded.cache, CacheStatus::Invalid(_)), "{:?}", loaded.cache);
        assert!(loaded.warnings[0].contains("does not verify"), "{:?}", loaded.warnings);
        assert_eq!(loaded.needs_refresh(Timestamp::now()), Some(Refresh::Invalid));
        // An update will not build on it, and says so (exit 3), leaving it be.
        let transport = Transport::new(&crate::transport::Options::default()).unwrap();
        let err = update(&config_in(tmp.path(), Some("http://127.0.0.1:1"), false), &transport, None).unwrap_err();
        assert!(matches!(err, TrustError::Cache { .. }), "{err:?}");
    }

    #[test]
    fn truthy_values_read_like_clap() {
        for yes in ["1", "true", "TRUE", "yes", "on"] {
            assert!(is_truthy(yes), "{yes}");
        }
        for no in ["", "0", "false", "no", "off"] {
            assert!(!is_truthy(no), "{no}");
        }
    }
}
