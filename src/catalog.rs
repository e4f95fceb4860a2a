//! What kverify knows of each upstream: components, versions and platforms turned into
//! artifact URLs, checksum files, signatures and archive layouts.
//!
//! The catalog is declarative: one TOML file per upstream under `manifests/catalog/`,
//! embedded at build time; `--catalog FILE` adds components or replaces built-in ones
//! of the same name.

use std::cmp::Ordering;
use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;

use crate::platform::Platform;

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
    UnknownComponent { name: String, known: Vec<String> },
    #[error("{component} is not published for {platform}; it is for {}", available.join(", "))]
    UnknownPlatform { component: String, platform: Platform, available: Vec<String> },
    #[error("{text:?} is not a version (want e.g. v1.29.0 or 1.7.13)")]
    BadVersion { text: String },
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
    pub fn hint(&self) -> Option<String> {
        match self {
            CatalogError::UnknownComponent { known, .. } => {
                Some(format!("known components: {} (see `kverify components`)", known.join(", ")))
            }
            CatalogError::UnknownPlatform { .. } => Some("choose one with --os and --arch".into()),
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

/// A component entry as written in a catalog file.
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
    /// URL templates of the published checksum files (`{url}` is the artifact's).
    pub checksums: Vec<String>,
    /// URL template of version markers (`{marker}`: stable, latest-1.29, …).
    #[serde(default)]
    pub markers: Option<String>,
    /// `os/arch` pairs the upstream publishes.
    pub platforms: Vec<String>,
    /// File mode to install with, octal (default 0755).
    #[serde(default)]
    pub mode: Option<String>,
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
}

/// A release-wide SBOM (SPDX tag-value) with `.sig`/`.cert` beside it.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SbomSpec {
    /// First version that publishes it.
    pub since: String,
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
    /// Every regular file directly under this directory (`bin/`; `""` for the top).
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
    pub since: Option<String>,
}

/// A signature the upstream publishes from some version on, and who must have made it.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignatureSpec {
    /// `cosign-detached` (`.sig` + `.cert`) or `intoto-jsonl` (Sigstore bundles of provenance).
    pub kind: String,
    /// First version that publishes it.
    pub since: String,
    /// URL template of the signature (or the bundle file).
    pub signature: String,
    /// URL template of the certificate (`cosign-detached` only).
    #[serde(default)]
    pub certificate: Option<String>,
    /// Signer identity (SAN) the certificate must carry (template).
    pub identity: String,
    /// OIDC issuer the certificate must carry.
    pub issuer: String,
}

/// A release version: `1.29.0`, `1.30.0-rc.1`. Displayed with its `v`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Version {
    /// Without the leading `v`.
    text: String,
    numbers: [u64; 3],
    pre: bool,
}

impl Version {
    pub fn parse(text: &str) -> Result<Version, CatalogError> {
        let bad = || CatalogError::BadVersion { text: text.to_string() };
        let bare = text.trim().strip_prefix('v').unwrap_or(text.trim());
        let (core, pre) = match bare.split_once(['-', '+']) {
            Some((core, rest)) => {
                if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_alphanumeric() || b"-.+".contains(&b)) {
                    return Err(bad());
                }
                (core, true)
            }
            None => (bare, false),
        };
        let parts: Vec<&str> = core.split('.').collect();
        if parts.len() != 3
            || parts.iter().any(|p| p.is_empty() || p.len() > 9 || !p.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(bad());
        }
        let mut numbers = [0u64; 3];
        for (n, p) in numbers.iter_mut().zip(&parts) {
            *n = p.parse().map_err(|_| bad())?;
        }
        Ok(Version { text: bare.to_string(), numbers, pre })
    }

    /// Without the leading `v`, as templates use it.
    pub fn bare(&self) -> &str {
        &self.text
    }

    /// `self >= since`, comparing release numbers (a pre-release of 1.26.0 counts as
    /// 1.26.0: Kubernetes signs its release candidates too).
    pub fn at_least(&self, since: &Version) -> bool {
        self.numbers.cmp(&since.numbers) != Ordering::Less
    }

    pub fn is_prerelease(&self) -> bool {
        self.pre
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}", self.text)
    }
}

/// What a user asked for: an exact version or a Kubernetes marker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VersionRequest {
    Exact(Version),
    /// `stable`, `latest`, `stable-1`, `stable-1.29`, `latest-1.29`.
    Marker(String),
}

impl VersionRequest {
    pub fn parse(text: &str) -> Result<VersionRequest, CatalogError> {
        let t = text.trim();
        let is_marker = ["stable", "latest"].iter().any(|m| {
            t == *m
                || t.strip_prefix(m).and_then(|r| r.strip_prefix('-')).is_some_and(|r| {
                    !r.is_empty()
                        && r.split('.').count() <= 2
                        && r.split('.').all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
                })
        });
        if is_marker {
            Ok(VersionRequest::Marker(t.to_string()))
        } else {
            Version::parse(t).map(VersionRequest::Exact)
        }
    }
}

/// A detached signature or bundle to check, resolved for one artifact.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureRef {
    pub kind: SignatureKind,
    pub url: String,
    pub certificate_url: Option<String>,
    pub identity: String,
    pub issuer: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignatureKind {
    CosignDetached,
    IntotoJsonl,
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
    /// Every regular file directly under this directory (`bin/`, or `` for the top).
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
            specs.extend(parse_file(file, text)?);
            texts.push(text.to_string());
        }
        for path in extra {
            let text =
                fs_err::read_to_string(path).map_err(|source| CatalogError::Read { path: path.clone(), source })?;
            add_file(&mut specs, &mut texts, &path.display().to_string(), text)?;
        }
        let fingerprint = crate::lock::catalog_fingerprint(&texts.iter().map(String::as_str).collect::<Vec<_>>());
        Ok(Catalog { specs, fingerprint })
    }

    /// The built-in catalog with one extra catalog file already in memory, named `file`
    /// in errors: what `--catalog` does after reading the file (the fuzz target's entry).
    pub fn load_with_text(file: &str, text: &str) -> Result<Catalog, CatalogError> {
        let mut catalog = Catalog::load(&[])?;
        let mut texts: Vec<String> = BUILT_IN.iter().map(|(_, t)| t.to_string()).collect();
        add_file(&mut catalog.specs, &mut texts, file, text.to_string())?;
        catalog.fingerprint = crate::lock::catalog_fingerprint(&texts.iter().map(String::as_str).collect::<Vec<_>>());
        Ok(catalog)
    }

    /// A short digest of the catalog files in use, recorded in locks.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Every component name, sorted, with its description and platforms.
    pub fn components(&self) -> Vec<(String, String, String, Vec<String>)> {
        let mut out: Vec<(String, String, String, Vec<String>)> = Vec::new();
        for (_, spec) in &self.specs {
            for name in &spec.names {
                match out.iter_mut().find(|(n, ..)| n == name) {
                    Some((.., platforms)) => platforms.extend(spec.platforms.iter().cloned()),
                    None => out.push((
                        name.clone(),
                        spec.upstream.clone(),
                        spec.description.clone(),
                        spec.platforms.clone(),
                    )),
                }
            }
        }
        out.sort();
        out
    }

    pub fn knows(&self, name: &str) -> bool {
        self.specs.iter().any(|(_, s)| s.names.iter().any(|n| n == name))
    }

    fn spec_for(&self, name: &str, platform: &Platform) -> Result<&ComponentSpec, CatalogError> {
        let named: Vec<&ComponentSpec> =
            self.specs.iter().map(|(_, s)| s).filter(|s| s.names.iter().any(|n| n == name)).collect();
        if named.is_empty() {
            let mut known: Vec<String> = self.components().into_iter().map(|c| c.0).collect();
            known.dedup();
            return Err(CatalogError::UnknownComponent { name: name.to_string(), known });
        }
        let wanted = platform.to_string();
        named.iter().copied().find(|s| s.platforms.contains(&wanted)).ok_or_else(|| CatalogError::UnknownPlatform {
            component: name.to_string(),
            platform: platform.clone(),
            available: named.iter().flat_map(|s| s.platforms.clone()).collect(),
        })
    }

    /// The marker URL for `name` (only Kubernetes publishes markers).
    pub fn marker_url(&self, name: &str, platform: &Platform, marker: &str) -> Result<String, CatalogError> {
        let spec = self.spec_for(name, platform)?;
        let template =
            spec.markers.as_ref().ok_or_else(|| CatalogError::MarkerNotSupported { marker: marker.to_string() })?;
        Ok(template.replace("{marker}", marker))
    }

    /// Resolves a component at an exact version for a platform.
    pub fn resolve(&self, name: &str, version: &Version, platform: &Platform) -> Result<Artifact, CatalogError> {
        let spec = self.spec_for(name, platform)?;
        let fill = |template: &str, url: &str| expand(template, name, version, platform, url);
        let url = fill(&spec.url, "");
        let file_name = url.rsplit('/').next().unwrap_or(&url).to_string();
        let since = |v: &Option<String>| match v {
            None => true,
            Some(s) => Version::parse(s).map(|s| version.at_least(&s)).unwrap_or(false),
        };
        let signature = spec.signature.as_ref().filter(|s| since(&Some(s.since.clone()))).map(|s| SignatureRef {
            kind: if s.kind == "intoto-jsonl" { SignatureKind::IntotoJsonl } else { SignatureKind::CosignDetached },
            url: fill(&s.signature, &url),
            certificate_url: s.certificate.as_ref().map(|c| fill(c, &url)),
            identity: fill(&s.identity, &url),
            issuer: s.issuer.clone(),
        });
        let extract = spec.archive.as_ref().map(|a| match &a.directory {
            Some(dir) => Extract::Directory(fill(dir, &url)),
            None => {
                Extract::Binaries(a.binaries.iter().filter(|b| since(&b.since)).map(|b| fill(&b.path, &url)).collect())
            }
        });
        let mode = spec.mode.as_deref().and_then(|m| u32::from_str_radix(m, 8).ok()).unwrap_or(0o755);
        let sbom = match (&spec.sbom, &signature) {
            (Some(b), Some(sig)) if since(&Some(b.since.clone())) => {
                let sbom_url = fill(&b.url, &url);
                Some(SbomRef {
                    namespace: fill(&b.namespace, &url),
                    path: fill(&b.path, &url),
                    signature: SignatureRef {
                        kind: SignatureKind::CosignDetached,
                        url: format!("{sbom_url}.sig"),
                        certificate_url: Some(format!("{sbom_url}.cert")),
                        identity: sig.identity.clone(),
                        issuer: sig.issuer.clone(),
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
            checksum_urls: spec.checksums.iter().map(|c| fill(c, &url)).collect(),
            signature,
            extract,
            sbom,
            mode,
            max_size: spec.max_size.unwrap_or(DEFAULT_MAX_SIZE),
            url,
        })
    }
}

/// Parses one extra catalog file and lets its components replace built-in ones of the
/// same name.
fn add_file(
    specs: &mut Vec<(String, ComponentSpec)>,
    texts: &mut Vec<String>,
    file: &str,
    text: String,
) -> Result<(), CatalogError> {
    let added = parse_file(file, &text)?;
    texts.push(text);
    let replaced: Vec<String> = added.iter().flat_map(|(_, s)| s.names.clone()).collect();
    for (_, spec) in specs.iter_mut() {
        spec.names.retain(|n| !replaced.contains(n));
    }
    specs.retain(|(_, s)| !s.names.is_empty());
    specs.extend(added);
    Ok(())
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

/// Parses and checks one catalog file: every template must expand fully, every
/// platform and version must parse, so a bad `--catalog` fails before any download.
fn parse_file(file: &str, text: &str) -> Result<Vec<(String, ComponentSpec)>, CatalogError> {
    let malformed = |message: String| CatalogError::Malformed { file: file.to_string(), message };
    let parsed: CatalogFile = toml::from_str(text).map_err(|e| malformed(e.to_string().trim_end().to_string()))?;
    let probe = Version::parse("1.2.3").map_err(|e| malformed(e.to_string()))?;
    for spec in &parsed.component {
        let what = spec.names.join(", ");
        if spec.names.is_empty() {
            return Err(malformed("a component with no names".into()));
        }
        for p in &spec.platforms {
            let platform = Platform::parse(p).map_err(|e| malformed(format!("{what}: {e}")))?;
            let mut templates = vec![spec.url.clone()];
            templates.extend(spec.checksums.iter().cloned());
            if let Some(b) = &spec.sbom {
                templates.extend([b.url.clone(), b.namespace.clone(), b.path.clone()]);
                Version::parse(&b.since).map_err(|e| malformed(format!("{what}: sbom since: {e}")))?;
                if spec.signature.is_none() {
                    return Err(malformed(format!("{what}: an sbom needs the component's signature identity")));
                }
            }
            if let Some(s) = &spec.signature {
                templates.extend([s.signature.clone(), s.identity.clone()]);
                templates.extend(s.certificate.clone());
                Version::parse(&s.since).map_err(|e| malformed(format!("{what}: signature since: {e}")))?;
                if !["cosign-detached", "intoto-jsonl"].contains(&s.kind.as_str()) {
                    return Err(malformed(format!("{what}: unknown signature kind {:?}", s.kind)));
                }
                if s.kind == "cosign-detached" && s.certificate.is_none() {
                    return Err(malformed(format!("{what}: a cosign-detached signature needs a certificate URL")));
                }
            }
            for name in &spec.names {
                for t in &templates {
                    let expanded = expand(t, name, &probe, &platform, "https://x/y");
                    if let Some(i) = expanded.find('{') {
                        return Err(malformed(format!(
                            "{what}: unknown template variable in {t:?} at {:?}",
                            &expanded[i..]
                        )));
                    }
                }
            }
        }
        if spec.checksums.is_empty() {
            return Err(malformed(format!("{what}: no checksum files; kverify installs nothing unverified")));
        }
        if let Some(m) = &spec.mode {
            u32::from_str_radix(m, 8).map_err(|_| malformed(format!("{what}: mode {m:?} is not octal")))?;
        }
    }
    Ok(parsed.component.into_iter().map(|c| (file.to_string(), c)).collect())
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
        let v = |s| Version::parse(s).unwrap();
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
        assert!(catalog.resolve("kubelet", &v("1.25.9"), &linux_amd64()).unwrap().signature.is_none());

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
            catalog.resolve(name, &v("1.2.3"), &linux_amd64()).unwrap();
        }
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
    }

    #[test]
    fn versions_and_markers() {
        assert_eq!(Version::parse("v1.7.13").unwrap(), Version::parse("1.7.13").unwrap());
        assert_eq!(Version::parse("1.30.0-rc.1").unwrap().to_string(), "v1.30.0-rc.1");
        for bad in ["1.29", "v1.29.x", "", "1.2.3.4", "1.2.3-", "../1.2.3", "1.2.3/x"] {
            assert!(Version::parse(bad).is_err(), "{bad}");
        }
        for marker in ["stable", "latest", "stable-1", "stable-1.29", "latest-1.29"] {
            assert_eq!(VersionRequest::parse(marker).unwrap(), VersionRequest::Marker(marker.into()));
        }
        assert!(VersionRequest::parse("stable-").is_err());
        assert!(VersionRequest::parse("latest-1.29.0.1").is_err());
        let rc = Version::parse("1.26.0-rc.0").unwrap();
        assert!(rc.at_least(&Version::parse("1.26.0").unwrap()));
        assert!(!Version::parse("1.25.99").unwrap().at_least(&Version::parse("1.26.0").unwrap()));
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
