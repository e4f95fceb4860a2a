//! The artifact pipeline every downloading command shares. An [`Upstream`] is one run's
//! view of the upstreams: the catalog, the platform, the transport and the trust it
//! checks signatures with. Through it a request (`kubelet@stable`) resolves to an
//! [`Artifact`], the artifact's evidence is gathered (published checksum files,
//! signatures, the release's signed SBOM, or a lock's pin), and its bytes become a
//! [`Verified`](crate::install::Verified) only when all of that evidence holds.
//!
//! `fetch`, `lock`, `mirror`, `verify --release` and `node --release` find it all here:
//! commands orchestrate, this module owns the pipeline.

mod download;
mod evidence;
mod pin;
mod published;
mod signatures;
mod trust;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

pub use download::Downloaded;
pub use evidence::{ArtifactEvidence, LockSource, PendingSignature, RawFile};
pub use pin::Pinned;
pub use published::pinned_expectations;
pub use signatures::{SignatureFiles, SignedSbom};
pub use trust::{SignaturePolicy, TrustOptions};

use crate::catalog::{Artifact, Catalog, CatalogError, ViaMarker};
use crate::platform::Platform;
use crate::signature::{SignatureError, TrustRoot};
use crate::status::{Classified, ExitStatus};
use crate::transport::{self, Transport, TransportError};
use crate::version::{Marker, Version, VersionRequest};

/// A version marker holds one version string.
const MAX_MARKER_LEN: u64 = 1024;

/// Everything that can stop the pipeline for one artifact, each classified where it was
/// raised.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Release(#[from] ReleaseError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error(transparent)]
    Signature(#[from] SignatureError),
    #[error(transparent)]
    Sbom(#[from] crate::sbom::SbomError),
    #[error(transparent)]
    Lock(#[from] crate::lock::LockError),
    #[error(transparent)]
    Install(#[from] crate::install::InstallError),
    #[error(transparent)]
    Archive(#[from] crate::archive::ArchiveError),
    #[error(transparent)]
    Rekor(#[from] crate::rekor::RekorError),
    #[error(transparent)]
    Trust(#[from] crate::trust::TrustError),
    /// A scratch directory (for an archive `lock` pins) could not be made.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The request cannot be carried out as asked (a marker without signatures).
    #[error("{message}")]
    Usage { message: String, hint: String },
    /// A state the pipeline should never reach: never exit 2.
    #[error("internal error: {0} (this is a bug in kverify; please report it)")]
    Internal(String),
}

impl Classified for Error {
    fn exit_status(&self) -> ExitStatus {
        match self {
            Error::Release(e) => e.exit_status(),
            Error::Catalog(e) => e.exit_status(),
            Error::Transport(e) => e.exit_status(),
            Error::Signature(e) => e.exit_status(),
            Error::Sbom(_) | Error::Internal(_) => ExitStatus::Failed,
            Error::Lock(e) => e.exit_status(),
            Error::Install(_) | Error::Io(_) => ExitStatus::Io,
            Error::Archive(e) => e.exit_status(),
            Error::Rekor(e) => e.exit_status(),
            Error::Trust(e) => e.exit_status(),
            Error::Usage { .. } => ExitStatus::Usage,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            Error::Release(e) => e.hint(),
            Error::Catalog(e) => e.hint(),
            Error::Transport(e) => e.hint(),
            Error::Install(e) => e.hint(),
            Error::Signature(e) => e.hint(),
            Error::Trust(e) => e.hint(),
            Error::Usage { hint, .. } => Some(hint.clone()),
            _ => None,
        }
        .or_else(|| crate::signature::time_hint(&self.chain()))
    }
}

/// Why a release's evidence is unusable.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    #[error("{url} lists no checksum for {file_name} (a checksum file for another artifact or version?)")]
    NoEntry { url: String, file_name: String },
    #[error("checksum not published: {url}")]
    ChecksumMissing {
        url: String,
        #[source]
        source: TransportError,
    },
    #[error("{url}")]
    ChecksumMalformed {
        url: String,
        #[source]
        source: crate::checksums::ChecksumError,
    },
    #[error("{0}")]
    Ambiguous(#[from] crate::expect::Ambiguous),
    #[error("the upstream publishes a signature for {artifact}, but it is missing: {url}{}", marker_note(.via_marker))]
    SignatureMissing {
        artifact: String,
        url: String,
        /// The marker the version was reached through, whose release must be signed.
        via_marker: Option<Box<ViaMarker>>,
        #[source]
        source: TransportError,
    },
    #[error("{artifact}: no signature is published and --require-signature is set")]
    SignatureRequired { artifact: String },
    #[error("signature of {artifact} does not verify ({url})")]
    SignatureInvalid {
        artifact: String,
        url: String,
        #[source]
        source: Box<crate::signature::SignatureError>,
    },
    #[error("{artifact} has no pin in {}, and --locked allows nothing else", lock.display())]
    NotPinned { artifact: String, lock: PathBuf },
    /// A lock records where an artifact came from; it never moves a download (a pin
    /// naming `file:///any/path` would be read without `--mirror`).
    #[error(
        "lock {}: the pin for {artifact} names {pinned}, but the catalog downloads it from {catalog}",
        lock.display()
    )]
    PinMoved { artifact: String, lock: PathBuf, pinned: String, catalog: String },
    #[error("lock {}: the pin for {artifact} holds no signature, and --require-signature is set", lock.display())]
    PinUnsigned { artifact: String, lock: PathBuf },
    #[error("{artifact}: the published checksum disagrees with the signed release SBOM: {published}, but {listed}")]
    SbomDisagrees { artifact: String, published: String, listed: String },
    #[error("{artifact} is not listed in the signed release SBOM {url}")]
    NotInSbom { artifact: String, url: String },
    #[error("{artifact}: no SHA-256 is published to check its signature over, or to pin")]
    NoSha256 { artifact: String },
    #[error("version marker {url} holds {text:?}, not a version")]
    BadMarker { url: String, text: String },
    /// A marker file names a version the marker cannot mean (a rolled-back `stable`, a
    /// `latest-1.29` naming 1.30): a mirror pointing it elsewhere.
    #[error("version marker {url} names {version}, which {marker} cannot name: {why}")]
    MarkerRefused { url: String, marker: String, version: String, why: String },
    #[error(
        "version marker {marker} names {component} {version}, for which no signature is published: \
         a marker never leads to an unsigned install (markers are unsigned, and a mirror can point them anywhere)"
    )]
    MarkerUnsigned { marker: String, component: String, version: String },
}

impl ReleaseError {
    /// A file that could not be fetched for network reasons is "retry later"; any other
    /// problem with what a release publishes is evidence that does not hold.
    pub fn exit_status(&self) -> ExitStatus {
        match self {
            ReleaseError::ChecksumMissing { source, .. } | ReleaseError::SignatureMissing { source, .. }
                if !source.is_verification_failure() =>
            {
                ExitStatus::Io
            }
            _ => ExitStatus::Failed,
        }
    }

    pub fn hint(&self) -> Option<String> {
        match self {
            ReleaseError::MarkerUnsigned { component, version, .. } => {
                Some(format!("if you mean that release, ask for it explicitly: {component}@{version}"))
            }
            ReleaseError::SignatureMissing { via_marker: Some(via), .. } => {
                Some(format!("if you mean that release unsigned, ask for it explicitly: {}", via.explicit))
            }
            ReleaseError::PinMoved { .. } => Some(
                "write the lock again with `kverify lock`; a mirror is given with --mirror, never in a lock".into(),
            ),
            ReleaseError::PinUnsigned { .. } => {
                Some("write the lock again with `kverify lock --require-signature` from a signed release".into())
            }
            _ => None,
        }
    }
}

/// ` (reached through the version marker stable, …)` when it was.
fn marker_note(via_marker: &Option<Box<ViaMarker>>) -> String {
    match via_marker {
        Some(via) => {
            format!(" (reached through the version marker {}, which must lead to a signed release)", via.marker)
        }
        None => String::new(),
    }
}

/// Everything an [`Upstream`] is made of, as the command line gave it.
#[derive(Clone, Debug)]
pub struct UpstreamSettings {
    /// `--catalog` files added to the built-in catalog.
    pub catalogs: Vec<PathBuf>,
    pub platform: Platform,
    pub transport: transport::Options,
    pub trust: TrustOptions,
    /// The download cache's directory; `None` with `--no-cache` (or when no directory
    /// can be named).
    pub cache: Option<PathBuf>,
}

/// One run's view of the upstreams: set up once, shared by every artifact of the run.
pub struct Upstream {
    pub catalog: Catalog,
    pub platform: Platform,
    pub transport: Transport,
    pub trust: TrustOptions,
    /// The trust root in effect and the SHA-256 of its `trusted_root.json`, loaded on
    /// first use.
    root: Mutex<Option<(Arc<TrustRoot>, [u8; 32])>>,
    /// The one refresh a run makes after a signature chained to no CA or log it knows.
    rotation_checked: AtomicBool,
    /// OpenPGP keyrings already read, by what named them.
    keyrings: Mutex<HashMap<crate::catalog::Keyring, Arc<crate::signature::openpgp::Keyring>>>,
    /// Release SBOMs already fetched and verified, by URL (`None`: none to use).
    sboms: Mutex<HashMap<String, Option<Arc<SignedSbom>>>>,
    cache_dir: Option<PathBuf>,
    /// The download cache, opened on the first artifact download (`None`: not used).
    cache: OnceLock<Option<crate::cache::Cache>>,
}

impl Upstream {
    pub fn new(settings: &UpstreamSettings) -> Result<Upstream, Error> {
        Ok(Upstream {
            catalog: Catalog::load(&settings.catalogs)?,
            platform: settings.platform.clone(),
            transport: Transport::new(&settings.transport)?,
            trust: settings.trust.clone(),
            root: Mutex::new(None),
            rotation_checked: AtomicBool::new(false),
            keyrings: Mutex::new(HashMap::new()),
            sboms: Mutex::new(HashMap::new()),
            cache_dir: settings.cache.clone(),
            cache: OnceLock::new(),
        })
    }

    /// The download cache, opened (created) on first use. One that cannot be used is a
    /// warning: the run goes on without it.
    pub fn cache(&self) -> Option<&crate::cache::Cache> {
        self.cache
            .get_or_init(|| {
                let dir = self.cache_dir.as_ref()?;
                crate::cache::Cache::open(dir)
                    .map_err(|e| crate::report::warn(&format!("{}; not used", e.chain())))
                    .ok()
            })
            .as_ref()
    }

    /// The trust root, loaded on first use (a run that checks no signature never needs
    /// it): `--trusted-root`, else the TUF cache, refreshed through TUF when it is
    /// missing or expired, else the built-in root; what the user should know about it
    /// (a stale cache, an unreachable repository) is a warning on stderr.
    pub fn trust_root(&self) -> Result<Arc<TrustRoot>, Error> {
        let mut slot = self.root.lock().map_err(|_| Error::Internal("a download thread panicked".into()))?;
        if let Some((root, _)) = &*slot {
            return Ok(root.clone());
        }
        let loaded = crate::trust::load_or_refresh(&self.trust.config, &self.transport, false)?;
        loaded.warnings.iter().for_each(|w| crate::report::warn(w));
        let root = Arc::new(loaded.root);
        *slot = Some((root.clone(), loaded.sha256));
        Ok(root)
    }

    /// `sha256:…` of the trusted root in effect, once one was loaded (what a lock
    /// records beside each signature it pins).
    pub fn trust_root_sha256(&self) -> Option<String> {
        let slot = self.root.lock().ok()?;
        slot.as_ref().map(|(_, sha)| format!("sha256:{}", hex::encode(sha)))
    }

    /// After a certificate chained to no CA, or an SCT named no log, of the root in
    /// effect: Sigstore may have rotated since that root was fetched. Once per run, the
    /// root is refreshed through TUF; the new root, when it differs, to retry with.
    fn rotated_root(&self) -> Result<Option<Arc<TrustRoot>>, Error> {
        if self.rotation_checked.swap(true, Ordering::SeqCst) || self.trust.config.trusted_root.is_some() {
            return Ok(None);
        }
        let loaded = crate::trust::load_or_refresh(&self.trust.config, &self.transport, true)?;
        loaded.warnings.iter().for_each(|w| crate::report::warn(w));
        let mut slot = self.root.lock().map_err(|_| Error::Internal("a download thread panicked".into()))?;
        if slot.as_ref().is_some_and(|(_, sha)| *sha == loaded.sha256) {
            return Ok(None);
        }
        tracing::info!("the trusted root changed through TUF: retrying the signature under the new one");
        let root = Arc::new(loaded.root);
        *slot = Some((root.clone(), loaded.sha256));
        Ok(Some(root))
    }

    /// Resolves what a user asked for into an artifact, on this run's platform.
    pub fn resolve(&self, component: &str, request: &VersionRequest) -> Result<Artifact, Error> {
        self.resolve_for(component, request, &self.platform)
    }

    /// Resolves a request on `platform`. A Kubernetes marker (`stable`, `latest-1.29`)
    /// is read from the upstream (through mirrors) and held to its meaning: marker files
    /// are unsigned and a mirror can point them anywhere, so the version one names must
    /// be of the marker's line and must carry a signature that verifies.
    pub fn resolve_for(
        &self,
        component: &str,
        request: &VersionRequest,
        platform: &Platform,
    ) -> Result<Artifact, Error> {
        let marker = match request {
            VersionRequest::Exact(v) => return Ok(self.catalog.resolve(component, v, platform)?),
            VersionRequest::Marker(marker) => marker,
        };
        if self.trust.policy == SignaturePolicy::Skip {
            return Err(Error::Usage {
                message: format!(
                    "{component}@{marker}: a version marker cannot be combined with --insecure-skip-signature"
                ),
                hint: "markers are unsigned and a mirror can point them anywhere: only a verified signature vouches \
                       for the release one names; name the version explicitly"
                    .into(),
            });
        }
        let version = self.read_marker(component, marker, platform)?;
        let artifact = self.catalog.resolve(component, &version, platform)?;
        if artifact.signature.is_none() {
            let unsigned = ReleaseError::MarkerUnsigned {
                marker: marker.to_string(),
                component: component.into(),
                version: version.to_string(),
            };
            return Err(unsigned.into());
        }
        Ok(artifact.reached_through(marker))
    }

    /// The version a marker file names, refused when the marker cannot mean it.
    fn read_marker(&self, component: &str, marker: &Marker, platform: &Platform) -> Result<Version, Error> {
        let url = self.catalog.marker_url(component, platform, &marker.to_string())?;
        let bytes = self.transport.get_small(&url, MAX_MARKER_LEN)?;
        let text = String::from_utf8_lossy(&bytes).trim().to_string();
        let version = Version::parse(&text).map_err(|_| ReleaseError::BadMarker { url: url.clone(), text })?;
        match marker.refuses(&version) {
            Some(why) => {
                let version = version.to_string();
                Err(ReleaseError::MarkerRefused { url, marker: marker.to_string(), version, why }.into())
            }
            None => Ok(version),
        }
    }

    /// The signed release SBOM that lists `artifact`, fetched and verified once per run
    /// (concurrent callers wait for the first); `None` when there is none to use.
    pub fn signed_sbom(&self, artifact: &Artifact) -> Result<Option<Arc<SignedSbom>>, Error> {
        let Some(sbom) = &artifact.sbom else { return Ok(None) };
        let mut cache = self.sboms.lock().map_err(|_| Error::Internal("a download thread panicked".into()))?;
        if let Some(known) = cache.get(&sbom.url) {
            return Ok(known.clone());
        }
        let signed = signatures::signed_sbom(self, artifact)?.map(Arc::new);
        cache.insert(sbom.url.clone(), signed.clone());
        Ok(signed)
    }
}

/// The entries of a checksum file that list `artifact` (at least one), named from now
/// on as the artifact installs, whatever the file called it.
fn listed(artifact: &Artifact, file: &crate::checksums::ChecksumFile) -> Result<Vec<crate::expect::Expected>, Error> {
    let mut one = crate::expect::Expectations::new(&artifact.platform.os, &artifact.platform.arch);
    one.platform_asked = true;
    one.add_checksum_file(file);
    let mut matching: Vec<crate::expect::Expected> =
        one.matching(&artifact.file_name, true).map_err(ReleaseError::from)?.into_iter().cloned().collect();
    if matching.is_empty() {
        return Err(ReleaseError::NoEntry { url: file.source.clone(), file_name: artifact.file_name.clone() }.into());
    }
    for e in &mut matching {
        e.subject = Some(artifact.subject());
        e.name = Some(artifact.install_name.clone());
    }
    Ok(matching)
}
