//! What kverify knows of each upstream: components, versions and platforms turned into
//! artifact URLs, checksum files, signatures and archive layouts.
//!
//! The catalog is declarative: one TOML file per upstream under `manifests/catalog/`,
//! embedded at build time; `--catalog FILE` adds components or replaces built-in ones
//! of the same name. It is true per version: platforms, checksum files, signatures and
//! binaries each carry the range of versions in which the upstream publishes them
//! (../shared/UPSTREAMS.md, "What changes from version to version"), so a combination
//! never published is refused before any download, with what is published instead.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::platform::Platform;
use crate::status::ExitStatus;
use crate::subject::Subject;
use crate::version::{Pattern, Range, Version};

const BUILT_IN: &[(&str, &str)] = &[
    ("kubernetes.toml", include_str!("../manifests/catalog/kubernetes.toml")),
    ("etcd.toml", include_str!("../manifests/catalog/etcd.toml")),
    ("containerd.toml", include_str!("../manifests/catalog/containerd.toml")),
    ("cri-tools.toml", include_str!("../manifests/catalog/cri-tools.toml")),
    ("runc.toml", include_str!("../manifests/catalog/runc.toml")),
    ("cni-plugins.toml", include_str!("../manifests/catalog/cni-plugins.toml")),
    ("helm.toml", include_str!("../manifests/catalog/helm.toml")),
];

/// The most bytes of an artifact kverify downloads unless the catalog says otherwise:
/// a server that sends more is refused (an endless body).
pub const DEFAULT_MAX_SIZE: u64 = 2 * 1024 * 1024 * 1024;

/// Why the catalog cannot answer.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("unknown component {name:?}")]
    UnknownComponent { name: String, known: Vec<String>, closest: Option<String> },
    /// The upstream never published this combination of component, version and
    /// platform (or no checksum for it): said before any download, with what it does
    /// publish.
    #[error("{message}")]
    NotPublished { message: String, note: Option<String> },
    #[error("version marker {marker:?} is only published for Kubernetes")]
    MarkerNotSupported { marker: String },
    #[error("catalog {file}: {message}")]
    Malformed { file: String, message: String },
    #[error("cannot read catalog {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl CatalogError {
    /// A catalog file that cannot be read is I/O; everything else is the command's.
    pub fn exit_status(&self) -> ExitStatus {
        match self {
            CatalogError::Read { .. } => ExitStatus::Io,
            _ => ExitStatus::Usage,
        }
    }

    pub fn hint(&self) -> Option<String> {
        match self {
            CatalogError::UnknownComponent { known, closest, .. } => {
                let all = format!("known components: {} (see `kverify components`)", known.join(", "));
                Some(match closest {
                    Some(c) => format!("did you mean {c}? {all}"),
                    None => all,
                })
            }
            CatalogError::NotPublished { note: Some(note), .. } => Some(note.clone()),
            CatalogError::NotPublished { note: None, .. } => {
                Some("`kverify components` lists what each upstream publishes, and from which version".into())
            }
            _ => None,
        }
    }
}

/// One catalog file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    component: Vec<ComponentSpec>,
}

/// A component entry as written in a catalog file. Every field is parsed into its type
/// when the file loads: a malformed `--catalog` fails before anything is downloaded.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComponentSpec {
    /// Component names this entry serves (`{name}` in templates).
    pub names: Vec<String>,
    /// Which upstream publishes it (`kubernetes`, `etcd`, …).
    pub upstream: String,
    pub description: String,
    /// URL template of the artifact.
    pub url: String,
    /// URL templates of the published checksum files (`{url}` is the artifact's), each
    /// a string or `{ url = "…", since = "…", until = "…" }`.
    pub checksums: Vec<Ranged<Template>>,
    /// URL template of version markers (`{marker}`: stable, latest-1.29, …).
    #[serde(default)]
    pub markers: Option<String>,
    /// Platforms the upstream publishes, each `"os/arch"` or
    /// `{ platform = "os/arch", since = "…", until = "…" }`.
    pub platforms: Vec<Ranged<Platform>>,
    /// Why a platform users ask for is not published, by `os/arch` (e.g. runc publishes
    /// `armel` and `armhf`, never `arm`).
    #[serde(default)]
    pub platform_notes: BTreeMap<String, String>,
    /// First version published (with checksums kverify can use).
    #[serde(default)]
    pub since: Option<Version>,
    /// First version no longer published.
    #[serde(default)]
    pub until: Option<Version>,
    /// File mode to install with, octal (default 0755).
    #[serde(default)]
    pub mode: Option<Mode>,
    /// Install under this name instead of the artifact's file name.
    #[serde(default)]
    pub install_as: Option<String>,
    /// The most bytes to download.
    #[serde(default)]
    pub max_size: Option<u64>,
    #[serde(default)]
    pub archive: Option<ArchiveSpec>,
    #[serde(default)]
    pub signature: Option<SignatureSpec>,
    /// A signed SBOM that lists this artifact's digests (signed like the artifact).
    #[serde(default)]
    pub sbom: Option<SbomSpec>,
    /// The keyring `signature.keyring` names, resolved when the file loads.
    #[serde(skip)]
    pub keyring: Option<Keyring>,
}

impl ComponentSpec {
    fn versions(&self) -> Range {
        Range { since: self.since.clone(), until: self.until.clone() }
    }
}

/// A release-wide SBOM (SPDX tag-value) with `.sig`/`.cert` beside it.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SbomSpec {
    /// First version that publishes it.
    pub since: Version,
    /// URL template of the SBOM; its signature and certificate are `.sig` and `.cert` beside it.
    pub url: String,
    /// The `DocumentNamespace` it must carry (template), so another release's cannot be replayed.
    pub namespace: String,
    /// The artifact's `FileName` in the SBOM (template).
    pub path: String,
}

/// Which files of an archive to install.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArchiveSpec {
    /// Named binaries, each required.
    #[serde(default)]
    pub binaries: Vec<BinarySpec>,
    /// Every executable regular file directly under this directory (`bin/`; `""` for
    /// the top).
    #[serde(default)]
    pub directory: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BinarySpec {
    /// Path inside the archive (template).
    pub path: String,
    /// First version that ships it.
    #[serde(default)]
    pub since: Option<Version>,
    /// First version that no longer ships it.
    #[serde(default)]
    pub until: Option<Version>,
}

/// A signature the upstream publishes from some version on, and who must have made it.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignatureSpec {
    /// `cosign-detached` (`.sig` + `.cert`), `intoto-jsonl` (Sigstore bundles of
    /// provenance), or `pgp` (an OpenPGP signature over a checksum file).
    pub kind: SignatureKind,
    /// First version that publishes it: from here a missing signature fails closed.
    pub since: Version,
    /// URL template of the signature (the bundle file; for `pgp`, the clear-signed
    /// checksum file or the armored `.asc`).
    pub signature: String,
    /// URL template of the certificate (`cosign-detached` only).
    #[serde(default)]
    pub certificate: Option<String>,
    /// Signer identity (SAN) the certificate must carry (template; Sigstore kinds).
    #[serde(default)]
    pub identity: Option<String>,
    /// OIDC issuer the certificate must carry (Sigstore kinds).
    #[serde(default)]
    pub issuer: Option<String>,
    /// `pgp`: the keyring the signer's key must be in: a keyring built into kverify
    /// (`runc.keyring`, `helm.KEYS`), or a file (relative to the catalog file).
    #[serde(default)]
    pub keyring: Option<String>,
    /// `pgp`: the checksum file a detached `.asc` signs (template); absent when the
    /// signature file is the clear-signed checksum file itself.
    #[serde(default)]
    pub signed: Option<String>,
    /// Versions the upstream may have published without a signature, with why: for them
    /// a missing signature is reported, not failed (a present one must still verify).
    #[serde(default)]
    pub unsigned: Vec<UnsignedSpec>,
}

/// Versions that may lack a signature: those `versions` names (a pattern such as
/// `*.*.0-alpha.0`) inside `since`..`until`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnsignedSpec {
    #[serde(default)]
    pub versions: Option<Pattern>,
    #[serde(default)]
    pub since: Option<Version>,
    #[serde(default)]
    pub until: Option<Version>,
    /// Why, in words a report can show: "alpha.0 is cut unsigned with the branch".
    pub why: String,
}

impl UnsignedSpec {
    fn matches(&self, version: &Version) -> bool {
        Range { since: self.since.clone(), until: self.until.clone() }.contains(version)
            && self.versions.as_ref().is_none_or(|p| p.matches(version))
    }
}

/// A value that holds for a range of versions: written as the plain value (every
/// version) or as a table `{ KEY = value, since = "…", until = "…" }`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ranged<T> {
    pub value: T,
    pub range: Range,
}

/// A value a [`Ranged`] can hold, parsed from text, under its key in the table form.
pub trait RangedValue: Sized {
    const KEY: &'static str;
    fn parse(text: &str) -> Result<Self, String>;
}

impl RangedValue for Platform {
    const KEY: &'static str = "platform";
    fn parse(text: &str) -> Result<Platform, String> {
        Platform::parse(text).map_err(|e| e.to_string())
    }
}

/// A URL template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template(pub String);

impl RangedValue for Template {
    const KEY: &'static str = "url";
    fn parse(text: &str) -> Result<Template, String> {
        Ok(Template(text.to_string()))
    }
}

impl<'de, T: RangedValue> Deserialize<'de> for Ranged<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Ranged<T>, D::Error> {
        use serde::de::Error as _;
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Plain(String),
            Table(BTreeMap<String, String>),
        }
        let raw = Raw::deserialize(deserializer).map_err(|_| {
            D::Error::custom(format!(
                "want a string, or a table {{ {} = \"…\", since = \"…\", until = \"…\" }}",
                T::KEY
            ))
        })?;
        let (text, mut table) = match raw {
            Raw::Plain(text) => (text, BTreeMap::new()),
            Raw::Table(mut table) => {
                let text = table.remove(T::KEY).ok_or_else(|| D::Error::missing_field(T::KEY))?;
                (text, table)
            }
        };
        let value = T::parse(&text).map_err(D::Error::custom)?;
        let mut version = |key: &str| {
            table
                .remove(key)
                .map(|v| Version::parse(&v).map_err(|e| D::Error::custom(format!("{key}: {e}"))))
                .transpose()
        };
        let range = Range { since: version("since")?, until: version("until")? };
        if let Some(key) = table.keys().next() {
            return Err(D::Error::unknown_field(key, &[T::KEY, "since", "until"]));
        }
        Ok(Ranged { value, range })
    }
}

/// A file mode, written in octal (`"0644"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mode(pub u32);

impl<'de> Deserialize<'de> for Mode {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Mode, D::Error> {
        let text = String::deserialize(deserializer)?;
        u32::from_str_radix(&text, 8).ok().filter(|m| *m <= 0o777).map(Mode).ok_or_else(|| {
            serde::de::Error::custom(format!("mode {text:?} is not an octal permission such as \"0755\""))
        })
    }
}

/// How a signature is published.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SignatureKind {
    /// A cosign `.sig` (base64 DER ECDSA) and `.cert` (base64 PEM) beside the artifact.
    CosignDetached,
    /// One JSON line per Sigstore bundle of in-toto provenance naming the artifact.
    IntotoJsonl,
    /// An OpenPGP signature over a checksum file: clear-signed (runc), or a detached
    /// armored `.asc` (helm), by a key of the upstream's keyring.
    Pgp,
}

impl SignatureKind {
    pub fn name(self) -> &'static str {
        match self {
            SignatureKind::CosignDetached => "cosign-detached",
            SignatureKind::IntotoJsonl => "intoto-jsonl",
            SignatureKind::Pgp => "pgp",
        }
    }
}

/// A detached signature or bundle to check, resolved for one artifact.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureRef {
    pub kind: SignatureKind,
    pub url: String,
    pub certificate_url: Option<String>,
    /// The signer identity and OIDC issuer a Sigstore signature must carry (empty for
    /// `pgp`, whose signer is any key of the keyring).
    pub identity: String,
    pub issuer: String,
    /// `pgp`: the keyring the signer's key must be in.
    pub keyring: Option<Keyring>,
    /// `pgp`: the checksum file a detached signature signs (`None`: the signature file
    /// is the clear-signed checksum file).
    pub signed_url: Option<String>,
    /// `Some(why)` when this version may have been published unsigned: a missing
    /// signature is then reported (unless `--require-signature`), not failed.
    pub may_be_missing: Option<String>,
    /// The version marker this version was reached through: a missing signature then
    /// always fails, and the message names the version to ask for explicitly.
    pub via_marker: Option<ViaMarker>,
}

/// How a version was reached through a marker, for messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ViaMarker {
    /// `stable`, `latest-1.29`.
    pub marker: String,
    /// The request that names the same release explicitly: `kubectl@v1.33.0-alpha.0`.
    pub explicit: String,
}

/// An OpenPGP keyring a catalog names.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Keyring {
    /// Built into kverify (`manifests/keys/`).
    Embedded(String),
    /// A file named by a `--catalog` file.
    File(PathBuf),
}

impl fmt::Display for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Keyring::Embedded(name) => write!(f, "the built-in {name}"),
            Keyring::File(path) => write!(f, "{}", path.display()),
        }
    }
}

/// A signed SBOM resolved for one artifact.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SbomRef {
    pub url: String,
    pub namespace: String,
    /// The artifact's name in the SBOM.
    pub path: String,
    /// Who must have signed the SBOM (as the artifact's own signature).
    pub signature: SignatureRef,
}

/// How to take binaries out of a verified archive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Extract {
    /// These paths, each required; installed under their last component.
    Binaries(Vec<String>),
    /// Every executable regular file directly under this directory (`bin/`, or `` for
    /// the top); other files there (`README.md`, `LICENSE`) are not binaries.
    Directory(String),
}

/// One downloadable artifact, fully resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Artifact {
    pub component: String,
    pub upstream: String,
    pub version: Version,
    pub platform: Platform,
    pub url: String,
    /// The artifact's file name (last segment of the URL).
    pub file_name: String,
    /// The name to install a non-archive artifact under.
    pub install_name: String,
    pub checksum_urls: Vec<String>,
    /// `None` when the upstream publishes no signature for this version.
    pub signature: Option<SignatureRef>,
    /// `None` for artifacts installed as they are.
    pub extract: Option<Extract>,
    /// For an archive, the names of the binaries other upstreams' components install
    /// (`kubelet`, `etcdctl`, `runc` for containerd's): never installed from this archive,
    /// whatever it holds. Empty for artifacts installed as they are.
    pub foreign_names: Vec<String>,
    /// A signed SBOM that lists this artifact, when the release publishes one.
    pub sbom: Option<SbomRef>,
    pub mode: u32,
    pub max_size: u64,
}

impl Artifact {
    /// `kubelet v1.29.0 linux/amd64`.
    pub fn label(&self) -> String {
        format!("{} {} {}", self.component, self.version, self.platform)
    }

    /// What the artifact is: component, version, platform.
    pub fn subject(&self) -> Subject {
        Subject::new(self.component.clone(), self.version.clone(), self.platform.clone())
    }

    /// The artifact as reached through a version marker: its signature (and its
    /// release SBOM's) is required, whatever the version.
    pub fn reached_through(mut self, marker: &impl fmt::Display) -> Artifact {
        let via = ViaMarker { marker: marker.to_string(), explicit: format!("{}@{}", self.component, self.version) };
        let sbom = self.sbom.as_mut().map(|s| &mut s.signature);
        for signature in self.signature.iter_mut().chain(sbom) {
            signature.via_marker = Some(via.clone());
        }
        self
    }
}

/// What the catalog says of one component name, for `kverify components`.
#[derive(Clone, Debug)]
pub struct ComponentInfo {
    pub name: String,
    pub upstream: String,
    pub description: String,
    pub versions: Range,
    pub platforms: Vec<Ranged<Platform>>,
    pub checksums: Vec<Ranged<Template>>,
    /// The signature kind and the first version signed, if any.
    pub signature: Option<(SignatureKind, Version)>,
}

/// Every component kverify knows.
#[derive(Clone, Debug)]
pub struct Catalog {
    specs: Vec<(String, ComponentSpec)>,
    fingerprint: String,
}

impl Catalog {
    /// The built-in catalog, with `extra` files adding or replacing components.
    pub fn load(extra: &[PathBuf]) -> Result<Catalog, CatalogError> {
        let mut specs = Vec::new();
        let mut texts: Vec<String> = Vec::new();
        for (file, text) in BUILT_IN {
            specs.extend(parse_file(file, text, None)?);
            texts.push(text.to_string());
        }
        for path in extra {
            let text =
                fs_err::read_to_string(path).map_err(|source| CatalogError::Read { path: path.clone(), source })?;
            let dir = path.parent().unwrap_or(Path::new("."));
            add_file(&mut specs, &mut texts, &path.display().to_string(), text, Some(dir))?;
        }
        let fingerprint = fingerprint(&texts.iter().map(String::as_str).collect::<Vec<_>>());
        Ok(Catalog { specs, fingerprint })
    }

    /// The built-in catalog with one extra catalog file already in memory, named `file`
    /// in errors: what `--catalog` does after reading the file (the fuzz target's entry).
    pub fn load_with_text(file: &str, text: &str) -> Result<Catalog, CatalogError> {
        let mut catalog = Catalog::load(&[])?;
        let mut texts: Vec<String> = BUILT_IN.iter().map(|(_, t)| t.to_string()).collect();
        add_file(&mut catalog.specs, &mut texts, file, text.to_string(), Some(Path::new(".")))?;
        catalog.fingerprint = fingerprint(&texts.iter().map(String::as_str).collect::<Vec<_>>());
        Ok(catalog)
    }

    /// A short digest of the catalog files in use, recorded in locks.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Every component name, sorted, with what it publishes.
    pub fn components(&self) -> Vec<ComponentInfo> {
        let mut out: Vec<ComponentInfo> = Vec::new();
        for (_, spec) in &self.specs {
            for name in &spec.names {
                match out.iter_mut().find(|c| &c.name == name) {
                    Some(c) => c.platforms.extend(spec.platforms.iter().cloned()),
                    None => out.push(ComponentInfo {
                        name: name.clone(),
                        upstream: spec.upstream.clone(),
                        description: spec.description.clone(),
                        versions: spec.versions(),
                        platforms: spec.platforms.clone(),
                        checksums: spec.checksums.clone(),
                        signature: spec.signature.as_ref().map(|s| (s.kind, s.since.clone())),
                    }),
                }
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// Every name a component of another upstream than `upstream` installs a binary
    /// under: component names, `install_as`, and the last component of archive binaries'
    /// paths (those without a placeholder), sorted.
    fn installed_by_others(&self, upstream: &str) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for (_, spec) in self.specs.iter().filter(|(_, s)| s.upstream != upstream) {
            names.extend(spec.names.iter().cloned());
            names.extend(spec.install_as.iter().cloned());
            let binaries = spec.archive.iter().flat_map(|a| &a.binaries);
            let last = binaries.map(|b| b.path.rsplit('/').next().unwrap_or(&b.path));
            names.extend(last.filter(|n| !n.contains('{')).map(str::to_string));
        }
        names.sort();
        names.dedup();
        names
    }

    pub fn knows(&self, name: &str) -> bool {
        self.specs.iter().any(|(_, s)| s.names.iter().any(|n| n == name))
    }

    /// The entries that serve `name` (one per platform group).
    fn named(&self, name: &str) -> Result<Vec<&ComponentSpec>, CatalogError> {
        let named: Vec<&ComponentSpec> =
            self.specs.iter().map(|(_, s)| s).filter(|s| s.names.iter().any(|n| n == name)).collect();
        if named.is_empty() {
            let known: Vec<String> = self.components().into_iter().map(|c| c.name).collect();
            let closest = closest(name, &known);
            return Err(CatalogError::UnknownComponent { name: name.to_string(), known, closest });
        }
        Ok(named)
    }

    /// The entry that publishes `name` for `platform` at some version.
    fn spec_for(&self, name: &str, platform: &Platform) -> Result<&ComponentSpec, CatalogError> {
        let named = self.named(name)?;
        let found = named.iter().copied().find(|s| s.platforms.iter().any(|p| p.value == *platform));
        found.ok_or_else(|| not_published(name, None, platform, &named))
    }

    /// The marker URL for `name` (only Kubernetes publishes markers).
    pub fn marker_url(&self, name: &str, platform: &Platform, marker: &str) -> Result<String, CatalogError> {
        let spec = self.spec_for(name, platform)?;
        let template =
            spec.markers.as_ref().ok_or_else(|| CatalogError::MarkerNotSupported { marker: marker.to_string() })?;
        Ok(template.replace("{marker}", marker))
    }

    /// Resolves a component at an exact version for a platform: exit 2 (before any
    /// download) when the upstream never published that combination.
    pub fn resolve(&self, name: &str, version: &Version, platform: &Platform) -> Result<Artifact, CatalogError> {
        let spec = self.spec_for(name, platform)?;
        if let Some(why) = spec.versions().excludes(version) {
            return Err(CatalogError::NotPublished {
                message: format!("{name} {version} is not published: {name} is {why}"),
                note: None,
            });
        }
        let listed = spec.platforms.iter().find(|p| p.value == *platform).map(|p| &p.range);
        if listed.is_some_and(|range| !range.contains(version)) {
            return Err(not_published(name, Some(version), platform, &self.named(name)?));
        }
        let fill = |template: &str, url: &str| expand(template, name, version, platform, url);
        let url = fill(&spec.url, "");
        let file_name = url.rsplit('/').next().unwrap_or(&url).to_string();
        let checksum_urls: Vec<String> =
            spec.checksums.iter().filter(|c| c.range.contains(version)).map(|c| fill(&c.value.0, &url)).collect();
        if checksum_urls.is_empty() {
            let ranges: Vec<String> = spec.checksums.iter().map(|c| c.range.to_string()).collect();
            return Err(CatalogError::NotPublished {
                message: format!(
                    "{name} {version}: no checksum file is published for this version (checksums are published {}); \
                     kverify installs nothing unverified",
                    ranges.join(", ")
                ),
                note: None,
            });
        }
        let signature = spec.signature.as_ref().and_then(|s| {
            let may_be_missing = s.unsigned.iter().find(|u| u.matches(version)).map(|u| u.why.clone());
            (may_be_missing.is_some() || version.at_least(&s.since)).then(|| SignatureRef {
                kind: s.kind,
                url: fill(&s.signature, &url),
                certificate_url: s.certificate.as_ref().map(|c| fill(c, &url)),
                identity: s.identity.as_deref().map(|i| fill(i, &url)).unwrap_or_default(),
                issuer: s.issuer.clone().unwrap_or_default(),
                keyring: spec.keyring.clone(),
                signed_url: s.signed.as_deref().map(|t| fill(t, &url)),
                may_be_missing,
                via_marker: None,
            })
        });
        let extract = spec.archive.as_ref().map(|a| match &a.directory {
            Some(dir) => Extract::Directory(fill(dir, &url)),
            None => Extract::Binaries(
                a.binaries
                    .iter()
                    .filter(|b| Range { since: b.since.clone(), until: b.until.clone() }.contains(version))
                    .map(|b| fill(&b.path, &url))
                    .collect(),
            ),
        });
        let sbom = match (&spec.sbom, &signature) {
            (Some(b), Some(sig)) if version.at_least(&b.since) => {
                let sbom_url = fill(&b.url, &url);
                Some(SbomRef {
                    namespace: fill(&b.namespace, &url),
                    path: fill(&b.path, &url),
                    signature: SignatureRef {
                        kind: SignatureKind::CosignDetached,
                        url: format!("{sbom_url}.sig"),
                        certificate_url: Some(format!("{sbom_url}.cert")),
                        ..sig.clone()
                    },
                    url: sbom_url,
                })
            }
            _ => None,
        };
        Ok(Artifact {
            component: name.to_string(),
            upstream: spec.upstream.clone(),
            version: version.clone(),
            platform: platform.clone(),
            install_name: spec.install_as.clone().unwrap_or_else(|| file_name.clone()),
            file_name,
            checksum_urls,
            signature,
            foreign_names: if extract.is_some() { self.installed_by_others(&spec.upstream) } else { Vec::new() },
            extract,
            sbom,
            mode: spec.mode.map_or(0o755, |m| m.0),
            max_size: spec.max_size.unwrap_or(DEFAULT_MAX_SIZE),
            url,
        })
    }
}

/// `name` (at `version`, when known) is not published for `platform`: what is, and
/// why not this one (dropped, not yet, or the catalog's note).
fn not_published(name: &str, version: Option<&Version>, platform: &Platform, named: &[&ComponentSpec]) -> CatalogError {
    let mut available = Vec::new();
    let mut why = None;
    for p in named.iter().flat_map(|s| &s.platforms) {
        match version {
            Some(v) if p.value == *platform => why = p.range.excludes(v),
            Some(v) if !p.range.contains(v) => {}
            _ if available.contains(&p.value.to_string()) => {}
            _ => available.push(p.value.to_string()),
        }
    }
    let subject = match version {
        Some(v) => format!("{name} {v}"),
        None => name.to_string(),
    };
    let why = why.map(|w| format!(" ({w})")).unwrap_or_default();
    let note = named.iter().find_map(|s| s.platform_notes.get(&platform.to_string())).cloned();
    CatalogError::NotPublished {
        message: format!("{subject} is not published for {platform}{why}; it is for {}", available.join(", ")),
        note,
    }
}

/// The known name closest to a mistyped one, if one is close enough to be the intent.
fn closest(name: &str, known: &[String]) -> Option<String> {
    let distance = |a: &str, b: &str| {
        let b: Vec<char> = b.chars().collect();
        let mut row: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.chars().enumerate() {
            let mut prev = row[0];
            row[0] = i + 1;
            for (j, cb) in b.iter().enumerate() {
                let cost = if ca == *cb { prev } else { prev + 1 };
                prev = row[j + 1];
                row[j + 1] = cost.min(row[j] + 1).min(row[j + 1] + 1);
            }
        }
        row[b.len()]
    };
    known.iter().map(|k| (distance(name, k), k)).filter(|(d, k)| *d <= 2.max(k.len() / 4)).min().map(|(_, k)| k.clone())
}

impl fmt::Display for Ranged<Platform> {
    /// `linux/arm` or `linux/arm (before v1.29.0)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.range.is_always() {
            true => write!(f, "{}", self.value),
            false => write!(f, "{} ({})", self.value, self.range),
        }
    }
}

/// Parses one extra catalog file and lets its components replace built-in ones of the
/// same name.
fn add_file(
    specs: &mut Vec<(String, ComponentSpec)>,
    texts: &mut Vec<String>,
    file: &str,
    text: String,
    dir: Option<&Path>,
) -> Result<(), CatalogError> {
    let added = parse_file(file, &text, dir)?;
    texts.push(text);
    let replaced: Vec<String> = added.iter().flat_map(|(_, s)| s.names.clone()).collect();
    for (_, spec) in specs.iter_mut() {
        spec.names.retain(|n| !replaced.contains(n));
    }
    specs.retain(|(_, s)| !s.names.is_empty());
    specs.extend(added);
    Ok(())
}

/// A fingerprint of the catalog in use, so a lock says what resolved its URLs.
fn fingerprint(texts: &[&str]) -> String {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    for t in texts {
        h.update(t.as_bytes());
    }
    format!("sha256:{}", &hex::encode(h.finalize())[..16])
}

fn expand(template: &str, name: &str, version: &Version, platform: &Platform, url: &str) -> String {
    let exe = if platform.os == "windows" { ".exe" } else { "" };
    template
        .replace("{url}", url)
        .replace("{name}", name)
        .replace("{version}", version.bare())
        .replace("{os}", &platform.os)
        .replace("{arch}", &platform.arch)
        .replace("{exe}", exe)
}

/// Parses and checks one catalog file: types are checked as it deserializes; here every
/// template must expand fully and the combinations must make sense, so a bad
/// `--catalog` fails before any download.
fn parse_file(file: &str, text: &str, dir: Option<&Path>) -> Result<Vec<(String, ComponentSpec)>, CatalogError> {
    let malformed = |message: String| CatalogError::Malformed { file: file.to_string(), message };
    let parsed: CatalogFile = toml::from_str(text).map_err(|e| malformed(e.to_string().trim_end().to_string()))?;
    let probe = Version::parse("1.2.3").map_err(|e| malformed(e.to_string()))?;
    for spec in &parsed.component {
        let what = spec.names.join(", ");
        if spec.names.is_empty() {
            return Err(malformed("a component with no names".into()));
        }
        if spec.platforms.is_empty() {
            return Err(malformed(format!("{what}: no platforms")));
        }
        if spec.checksums.is_empty() {
            return Err(malformed(format!("{what}: no checksum files; kverify installs nothing unverified")));
        }
        let mut templates = vec![spec.url.clone()];
        templates.extend(spec.checksums.iter().map(|c| c.value.0.clone()));
        if let Some(b) = &spec.sbom {
            templates.extend([b.url.clone(), b.namespace.clone(), b.path.clone()]);
            if spec.signature.is_none() {
                return Err(malformed(format!("{what}: an sbom needs the component's signature identity")));
            }
        }
        if let Some(s) = &spec.signature {
            templates.push(s.signature.clone());
            templates.extend(s.certificate.clone());
            templates.extend(s.identity.clone());
            templates.extend(s.signed.clone());
            match s.kind {
                SignatureKind::Pgp if s.keyring.is_none() => {
                    return Err(malformed(format!("{what}: a pgp signature needs the keyring its signer is in")));
                }
                SignatureKind::Pgp if s.identity.is_some() || s.issuer.is_some() || s.certificate.is_some() => {
                    return Err(malformed(format!(
                        "{what}: a pgp signature has no certificate, identity or issuer (its signer is any key of the keyring)"
                    )));
                }
                SignatureKind::CosignDetached | SignatureKind::IntotoJsonl
                    if s.identity.is_none() || s.issuer.is_none() =>
                {
                    return Err(malformed(format!("{what}: a Sigstore signature needs an identity and an issuer")));
                }
                SignatureKind::CosignDetached if s.certificate.is_none() => {
                    return Err(malformed(format!("{what}: a cosign-detached signature needs a certificate URL")));
                }
                _ => {}
            }
        }
        if let Some(a) = &spec.archive {
            templates.extend(a.binaries.iter().map(|b| b.path.clone()));
            templates.extend(a.directory.clone());
        }
        for p in &spec.platforms {
            for name in &spec.names {
                for t in &templates {
                    let expanded = expand(t, name, &probe, &p.value, "https://x/y");
                    if let Some(i) = expanded.find('{') {
                        return Err(malformed(format!(
                            "{what}: unknown template variable in {t:?} at {:?}",
                            &expanded[i..]
                        )));
                    }
                }
            }
        }
        for key in spec.platform_notes.keys() {
            Platform::parse(key).map_err(|e| malformed(format!("{what}: platform_notes: {e}")))?;
        }
    }
    let mut specs = parsed.component;
    for spec in &mut specs {
        let Some(name) = spec.signature.as_ref().and_then(|s| s.keyring.clone()) else { continue };
        spec.keyring = Some(match (crate::signature::openpgp::EMBEDDED.iter().any(|(n, _)| *n == name), dir) {
            (true, _) => Keyring::Embedded(name),
            (false, Some(dir)) => Keyring::File(dir.join(name)),
            (false, None) => {
                return Err(malformed(format!("{}: no keyring named {name} is built in", spec.names.join(", "))))
            }
        });
    }
    Ok(specs.into_iter().map(|c| (file.to_string(), c)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn linux_amd64() -> Platform {
        Platform::parse("linux/amd64").unwrap()
    }

    #[test]
    fn built_in_catalog_loads_and_resolves_every_upstream() {
        let catalog = Catalog::load(&[]).unwrap();
        let v = |s: &str| Version::parse(s).unwrap();
        let kubelet = catalog.resolve("kubelet", &v("v1.29.0"), &linux_amd64()).unwrap();
        assert_eq!(kubelet.url, "https://dl.k8s.io/release/v1.29.0/bin/linux/amd64/kubelet");
        assert_eq!(kubelet.checksum_urls, [format!("{}.sha256", kubelet.url), format!("{}.sha512", kubelet.url)]);
        let sbom = kubelet.sbom.clone().unwrap();
        assert_eq!(sbom.url, "https://dl.k8s.io/release/v1.29.0/kubernetes-release.spdx");
        assert_eq!(sbom.path, "bin/linux/amd64/kubelet");
        assert_eq!(sbom.namespace, "https://sbom.k8s.io/v1.29.0/release");
        assert_eq!(sbom.signature.url, "https://dl.k8s.io/release/v1.29.0/kubernetes-release.spdx.sig");
        let sig = kubelet.signature.unwrap();
        assert_eq!(
            sig.certificate_url.as_deref(),
            Some("https://dl.k8s.io/release/v1.29.0/bin/linux/amd64/kubelet.cert")
        );
        assert_eq!(sig.identity, "krel-staging@k8s-releng-prod.iam.gserviceaccount.com");
        assert!(catalog.resolve("kubelet", &v("1.25.4"), &linux_amd64()).unwrap().signature.is_none());
        let may_be_missing = |version: &str| {
            catalog.resolve("kubectl", &v(version), &linux_amd64()).unwrap().signature.unwrap().may_be_missing
        };
        assert_eq!(may_be_missing("1.33.0-alpha.0").as_deref(), Some("alpha.0 is cut unsigned with the branch"));
        assert!(may_be_missing("1.26.0-rc.0").is_some() && may_be_missing("1.25.9").is_some());
        for signed in ["1.33.0-alpha.1", "1.33.0-rc.1", "1.26.0-rc.1", "1.26.0", "1.29.4"] {
            assert_eq!(may_be_missing(signed), None, "{signed}");
        }

        let etcd = catalog.resolve("etcd", &v("3.5.12"), &linux_amd64()).unwrap();
        assert_eq!(
            etcd.url,
            "https://github.com/etcd-io/etcd/releases/download/v3.5.12/etcd-v3.5.12-linux-amd64.tar.gz"
        );
        assert_eq!(etcd.checksum_urls, ["https://github.com/etcd-io/etcd/releases/download/v3.5.12/SHA256SUMS"]);
        let three = ["etcd", "etcdctl", "etcdutl"].map(|b| format!("etcd-v3.5.12-linux-amd64/{b}"));
        assert_eq!(etcd.extract, Some(Extract::Binaries(three.to_vec())));
        let old = catalog.resolve("etcd", &v("3.4.30"), &linux_amd64()).unwrap();
        assert!(matches!(old.extract, Some(Extract::Binaries(b)) if b.len() == 2));

        let containerd = catalog.resolve("containerd", &v("v1.7.13"), &linux_amd64()).unwrap();
        assert_eq!(
            containerd.url,
            "https://github.com/containerd/containerd/releases/download/v1.7.13/containerd-1.7.13-linux-amd64.tar.gz"
        );
        assert!(containerd.signature.is_none());
        let c2 = catalog.resolve("containerd", &v("2.0.1"), &linux_amd64()).unwrap().signature.unwrap();
        assert_eq!(c2.kind, SignatureKind::IntotoJsonl);
        assert_eq!(
            c2.identity,
            "https://github.com/containerd/containerd/.github/workflows/release.yml@refs/tags/v2.0.1"
        );

        let runc = catalog.resolve("runc", &v("1.1.12"), &linux_amd64()).unwrap();
        assert_eq!((runc.file_name.as_str(), runc.install_name.as_str()), ("runc.amd64", "runc"));
        let win = catalog.resolve("kubectl", &v("1.29.0"), &Platform::parse("windows/amd64").unwrap()).unwrap();
        assert!(win.url.ends_with("/bin/windows/amd64/kubectl.exe"));
        for name in ["crictl", "cni-plugins", "helm", "kubernetes-server", "kube-apiserver"] {
            catalog.resolve(name, &v("1.25.3"), &linux_amd64()).unwrap();
        }
        let p = |text: &str| Platform::parse(text).unwrap();
        let kubelet = catalog.resolve("kubelet", &v("1.31.0"), &p("windows/amd64")).unwrap();
        assert!(kubelet.url.ends_with("/v1.31.0/bin/windows/amd64/kubelet.exe"), "{}", kubelet.url);
        assert_eq!(kubelet.install_name, "kubelet.exe");
        assert_eq!(kubelet.sbom.unwrap().path, "bin/windows/amd64/kubelet.exe");
        catalog.resolve("kubectl-convert", &v("1.31.0"), &p("darwin/arm64")).unwrap();
        catalog.resolve("kubernetes-node", &v("1.31.0"), &p("windows/amd64")).unwrap();
        let crictl = catalog.resolve("crictl", &v("1.22.0"), &linux_amd64()).unwrap();
        assert_eq!(crictl.checksum_urls, [format!("{}.sha256", crictl.url)]);
        let static2 = catalog.resolve("containerd-static", &v("2.0.1"), &linux_amd64()).unwrap();
        assert_eq!(static2.signature.unwrap().kind, SignatureKind::IntotoJsonl);
        let runc = catalog.resolve("runc", &v("1.3.0"), &p("linux/armhf")).unwrap();
        assert!(runc.url.ends_with("/runc.armhf"));
    }

    #[test]
    fn an_archive_knows_the_names_other_upstreams_install() {
        let catalog = Catalog::load(&[]).unwrap();
        let v = |s: &str| Version::parse(s).unwrap();
        let containerd = catalog.resolve("containerd", &v("2.0.1"), &linux_amd64()).unwrap();
        for other in ["kubelet", "kubectl", "kube-proxy", "etcd", "etcdctl", "etcdutl", "runc", "crictl", "helm"] {
            assert!(containerd.foreign_names.iter().any(|n| n == other), "{other}: {:?}", containerd.foreign_names);
        }
        // Its own upstream's names are its own: containerd-static ships `containerd`.
        let own = |a: &Artifact, n: &str| !a.foreign_names.iter().any(|f| f == n);
        assert!(own(&containerd, "containerd") && own(&containerd, "containerd-static"));
        let cni = catalog.resolve("cni-plugins", &v("1.4.0"), &linux_amd64()).unwrap();
        assert!(!own(&cni, "kubelet") && !own(&cni, "containerd") && own(&cni, "cni-plugins"));
        let etcd = catalog.resolve("etcd", &v("3.5.12"), &linux_amd64()).unwrap();
        assert!(own(&etcd, "etcd") && own(&etcd, "etcdctl") && !own(&etcd, "kubelet"));
        let kubelet = catalog.resolve("kubelet", &v("1.29.0"), &linux_amd64()).unwrap();
        assert!(kubelet.foreign_names.is_empty(), "not an archive");
    }

    #[test]
    fn combinations_never_published_say_what_is() {
        let catalog = Catalog::load(&[]).unwrap();
        let v = |s: &str| Version::parse(s).unwrap();
        let p = |text: &str| Platform::parse(text).unwrap();
        let refused = |name, version, platform| {
            let e = catalog.resolve(name, &v(version), &p(platform)).unwrap_err();
            assert!(matches!(e, CatalogError::NotPublished { .. }), "{e:?}");
            (e.to_string(), e.hint().unwrap_or_default())
        };
        let (e, _) = refused("crictl", "1.31.1", "linux/arm");
        assert_eq!(
            e,
            "crictl v1.31.1 is not published for linux/arm (dropped in v1.29.0); it is for \
             linux/amd64, linux/arm64, linux/386, linux/ppc64le, linux/s390x, linux/riscv64"
        );
        assert!(refused("crictl", "1.26.0", "linux/riscv64").0.contains("(published from v1.27.0)"));
        assert!(refused("crictl", "1.20.0", "linux/amd64")
            .0
            .contains("no checksum file is published for this version"));
        assert!(refused("etcd", "3.4.45", "linux/s390x")
            .0
            .starts_with("etcd v3.4.45 is not published for linux/s390x"));
        assert!(refused("containerd", "1.6.36", "linux/s390x").0.contains("published from v1.7.0"));
        assert_eq!(
            refused("containerd-static", "1.6.36", "linux/amd64").0,
            "containerd-static v1.6.36 is not published: containerd-static is published from v1.7.0"
        );
        let (e, hint) = refused("runc", "1.3.0", "linux/arm");
        assert!(e.contains("linux/armel, linux/armhf"), "{e}");
        assert!(hint.contains("--arch armel") && hint.contains("--arch armhf"), "{hint}");
        assert!(refused("runc", "1.1.12", "linux/386").0.contains("published from v1.2.0"));
    }

    #[test]
    fn unknown_components_and_platforms_are_named() {
        let catalog = Catalog::load(&[]).unwrap();
        let v = Version::parse("1.29.0").unwrap();
        let e = catalog.resolve("kubelett", &v, &linux_amd64()).unwrap_err();
        assert_eq!(e.to_string(), "unknown component \"kubelett\"");
        assert!(e.hint().unwrap().contains("kubelet"));
        let e = catalog.resolve("kubelet", &v, &Platform::parse("darwin/arm64").unwrap()).unwrap_err();
        assert!(e.to_string().starts_with("kubelet is not published for darwin/arm64; it is for linux/amd64"), "{e}");
        let e = catalog.resolve("kubelett", &v, &linux_amd64()).unwrap_err();
        assert!(e.hint().unwrap().starts_with("did you mean kubelet? known components: "), "{:?}", e.hint());
        let e = catalog.resolve("zzzzzz", &v, &linux_amd64()).unwrap_err();
        assert!(e.hint().unwrap().starts_with("known components: "), "{:?}", e.hint());
    }

    #[test]
    fn extra_catalog_replaces_and_adds() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("mine.toml");
        std::fs::write(
            &file,
            r#"[[component]]
names = ["kubelet", "mytool"]
upstream = "internal"
description = "internal build"
url = "https://internal/{name}/{version}/{os}-{arch}"
checksums = ["{url}.sha256"]
platforms = ["linux/amd64"]
"#,
        )
        .unwrap();
        let catalog = Catalog::load(std::slice::from_ref(&file)).unwrap();
        let v = Version::parse("1.0.0").unwrap();
        assert_eq!(
            catalog.resolve("kubelet", &v, &linux_amd64()).unwrap().url,
            "https://internal/kubelet/1.0.0/linux-amd64"
        );
        assert_eq!(catalog.resolve("mytool", &v, &linux_amd64()).unwrap().signature, None);
        assert!(catalog.resolve("kubectl", &v, &linux_amd64()).is_ok());

        std::fs::write(&file, "[[component]]\nnames = [\"x\"]\nupstream = \"u\"\ndescription = \"d\"\nurl = \"https://x/{nope}\"\nchecksums = [\"{url}.sha256\"]\nplatforms = [\"linux/amd64\"]\n").unwrap();
        let e = Catalog::load(std::slice::from_ref(&file)).unwrap_err();
        assert!(e.to_string().contains("unknown template variable"), "{e}");
        std::fs::write(&file, "[[component]]\nnames = [\"x\"]\nbogus = 1\n").unwrap();
        assert!(Catalog::load(std::slice::from_ref(&file)).unwrap_err().to_string().contains("bogus"));
    }
}
