//! Release versions (`v1.29.0`, `1.30.0-rc.1`), what a user may ask for (a version or a
//! Kubernetes marker), and the version ranges in which an upstream publishes something.

use std::fmt;

use serde::Deserialize;

/// A version that does not parse.
#[derive(Debug, thiserror::Error)]
#[error("{text:?} is not a version (want e.g. v1.29.0 or 1.7.13)")]
pub struct BadVersion {
    pub text: String,
}

/// A release version: `1.29.0`, `1.30.0-rc.1`. Displayed with its `v`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Version {
    /// Without the leading `v`.
    text: String,
    numbers: [u64; 3],
    /// What follows the release numbers (`alpha.0`, `rc.1`), if anything.
    pre: Option<String>,
}

impl Version {
    pub fn parse(text: &str) -> Result<Version, BadVersion> {
        let bad = || BadVersion { text: text.to_string() };
        let bare = text.trim().strip_prefix('v').unwrap_or(text.trim());
        let (core, pre) = match bare.split_once(['-', '+']) {
            Some((core, rest)) => {
                if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_alphanumeric() || b"-.+".contains(&b)) {
                    return Err(bad());
                }
                (core, Some(rest.to_string()))
            }
            None => (bare, None),
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

    /// `self >= since`, comparing release numbers only: a pre-release of 1.26.0 counts
    /// as 1.26.0 (a release cycle publishes what its release publishes).
    pub fn at_least(&self, since: &Version) -> bool {
        self.numbers >= since.numbers
    }

    pub fn is_prerelease(&self) -> bool {
        self.pre.is_some()
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}", self.text)
    }
}

impl std::str::FromStr for Version {
    type Err = BadVersion;
    fn from_str(text: &str) -> Result<Version, BadVersion> {
        Version::parse(text)
    }
}

impl serde::Serialize for Version {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Version, D::Error> {
        let text = String::deserialize(deserializer)?;
        Version::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// A Kubernetes version marker: `stable`, `latest`, `stable-1`, `stable-1.29`,
/// `latest-1.29`. dl.k8s.io publishes each as a file that holds one version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Marker {
    text: String,
    /// `latest` markers may name pre-releases; `stable` ones never.
    latest: bool,
    /// The release line the marker is for: `[1]` for `stable-1`, `[1, 29]` for `-1.29`.
    line: Vec<u64>,
}

impl Marker {
    fn parse(text: &str) -> Option<Marker> {
        let (kind, line) = match text.split_once('-') {
            Some((kind, line)) => (kind, Some(line)),
            None => (text, None),
        };
        let latest = match kind {
            "stable" => false,
            "latest" => true,
            _ => return None,
        };
        let line = match line {
            None => Vec::new(),
            Some(l) => {
                let parts: Vec<&str> = l.split('.').collect();
                if parts.len() > 2 || parts.iter().any(|p| p.is_empty() || p.len() > 9) {
                    return None;
                }
                parts.iter().map(|p| p.parse().ok()).collect::<Option<Vec<u64>>>()?
            }
        };
        Some(Marker { text: text.to_string(), latest, line })
    }

    /// Why `version` cannot be what this marker names, if it cannot: a `stable` marker
    /// never names a pre-release, a `-1.29` marker names a 1.29.x. A mirror can write
    /// anything into a marker file; this holds it to the marker's meaning.
    pub fn refuses(&self, version: &Version) -> Option<String> {
        if !self.latest && version.is_prerelease() {
            return Some(format!("{version} is a pre-release, which a stable marker never names"));
        }
        let line: Vec<u64> = version.numbers.iter().take(self.line.len()).copied().collect();
        if line != self.line {
            let want = self.line.iter().map(u64::to_string).collect::<Vec<_>>().join(".");
            return Some(format!("{version} is not a {want}.x release"));
        }
        None
    }
}

impl fmt::Display for Marker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// What a user asked for: an exact version or a Kubernetes marker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VersionRequest {
    Exact(Version),
    Marker(Marker),
}

impl VersionRequest {
    pub fn parse(text: &str) -> Result<VersionRequest, BadVersion> {
        let t = text.trim();
        match Marker::parse(t) {
            Some(marker) => Ok(VersionRequest::Marker(marker)),
            None => Version::parse(t).map(VersionRequest::Exact),
        }
    }
}

impl fmt::Display for VersionRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VersionRequest::Exact(v) => v.fmt(f),
            VersionRequest::Marker(m) => m.fmt(f),
        }
    }
}

/// What a user asks for: a component at a version or marker (`kubelet@v1.29.0`,
/// `kubectl@stable`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub component: String,
    pub version: VersionRequest,
}

/// A target on the command line that is not `COMPONENT@VERSION`.
#[derive(Debug, thiserror::Error)]
pub enum BadRequest {
    #[error("{0:?}: give COMPONENT@VERSION (e.g. kubelet@v1.29.0)")]
    NotComponentAtVersion(String),
    #[error(transparent)]
    Version(#[from] BadVersion),
}

impl Request {
    /// `kubelet@v1.29.0`.
    pub fn parse(text: &str) -> Result<Request, BadRequest> {
        match text.split_once('@') {
            Some((component, version)) if !component.is_empty() => {
                Ok(Request { component: component.to_string(), version: VersionRequest::parse(version)? })
            }
            _ => Err(BadRequest::NotComponentAtVersion(text.to_string())),
        }
    }

    /// `COMPONENT VERSION` (two words, when `pair` allows it) or `COMPONENT@VERSION...`.
    pub fn parse_all(words: &[String], pair: bool) -> Result<Vec<Request>, BadRequest> {
        if pair && words.len() == 2 && !words.iter().any(|t| t.contains('@')) {
            return Ok(vec![Request { component: words[0].clone(), version: VersionRequest::parse(&words[1])? }]);
        }
        words.iter().map(|w| Request::parse(w)).collect()
    }
}

impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.component, self.version)
    }
}

/// The versions in which an upstream publishes something: `since` (included) to
/// `until` (excluded: the first version without it), each compared by release numbers
/// ([`Version::at_least`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Range {
    #[serde(default)]
    pub since: Option<Version>,
    #[serde(default)]
    pub until: Option<Version>,
}

impl Range {
    pub fn contains(&self, version: &Version) -> bool {
        self.since.as_ref().is_none_or(|s| version.at_least(s))
            && self.until.as_ref().is_none_or(|u| !version.at_least(u))
    }

    pub fn is_always(&self) -> bool {
        self.since.is_none() && self.until.is_none()
    }

    /// Why `version` is outside the range, in words: `dropped in v1.29.0`,
    /// `published from v1.27.0`. `None` when it is inside.
    pub fn excludes(&self, version: &Version) -> Option<String> {
        match (&self.since, &self.until) {
            (Some(since), _) if !version.at_least(since) => Some(format!("published from {since}")),
            (_, Some(until)) if version.at_least(until) => Some(format!("dropped in {until}")),
            _ => None,
        }
    }
}

impl fmt::Display for Range {
    /// `from v1.27.0`, `until v1.29.0`, `v1.23.15 to v1.24.0`, or `every version`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.since, &self.until) {
            (None, None) => f.write_str("every version"),
            (Some(s), None) => write!(f, "from {s}"),
            (None, Some(u)) => write!(f, "before {u}"),
            (Some(s), Some(u)) => write!(f, "from {s}, before {u}"),
        }
    }
}

/// Versions named by a pattern of their text, `*` standing for one or more digits:
/// `*.*.0-alpha.0` is every alpha.0, `1.26.0-beta.*` every beta of 1.26.0.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pattern(String);

impl Pattern {
    pub fn parse(text: &str) -> Result<Pattern, String> {
        let bare = text.strip_prefix('v').unwrap_or(text);
        let probe = bare.replace('*', "1");
        Version::parse(&probe).map_err(|_| format!("{text:?} is not a version pattern (e.g. *.*.0-alpha.0)"))?;
        Ok(Pattern(bare.to_string()))
    }

    pub fn matches(&self, version: &Version) -> bool {
        glob_digits(self.0.as_bytes(), version.bare().as_bytes())
    }
}

impl<'de> Deserialize<'de> for Pattern {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Pattern, D::Error> {
        let text = String::deserialize(deserializer)?;
        Pattern::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// `*` matches one or more ASCII digits; every other byte matches itself.
fn glob_digits(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((b'*', rest)) => {
            let digits = text.iter().take_while(|b| b.is_ascii_digit()).count();
            (1..=digits).any(|n| glob_digits(rest, &text[n..]))
        }
        Some((p, rest)) => text.split_first().is_some_and(|(t, text)| t == p && glob_digits(rest, text)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Version {
        Version::parse(text).unwrap()
    }

    #[test]
    fn versions_and_markers() {
        assert_eq!(v("v1.7.13"), v("1.7.13"));
        assert_eq!(v("1.30.0-rc.1").to_string(), "v1.30.0-rc.1");
        for bad in ["1.29", "v1.29.x", "", "1.2.3.4", "1.2.3-", "../1.2.3", "1.2.3/x"] {
            assert!(Version::parse(bad).is_err(), "{bad}");
        }
        for marker in ["stable", "latest", "stable-1", "stable-1.29", "latest-1.29"] {
            assert!(
                matches!(VersionRequest::parse(marker).unwrap(), VersionRequest::Marker(m) if m.to_string() == marker)
            );
        }
        for bad in ["stable-", "latest-1.29.0.1", "stable-1.x", "stable-1..2", "latest-1.29.0"] {
            assert!(VersionRequest::parse(bad).is_err(), "{bad}");
        }
        assert!(v("1.26.0-rc.0").at_least(&v("1.26.0")));
        assert!(!v("1.25.99").at_least(&v("1.26.0")));
    }

    #[test]
    fn requests_parse_as_typed_on_the_command_line() {
        let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let one = Request::parse_all(&words(&["kubelet", "v1.29.0"]), true).unwrap();
        assert_eq!(one, [Request { component: "kubelet".into(), version: VersionRequest::Exact(v("1.29.0")) }]);
        let many = Request::parse_all(&words(&["kubelet@v1.29.0", "etcd@3.5.12", "kubectl@stable"]), true).unwrap();
        assert_eq!(
            many.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["kubelet@v1.29.0", "etcd@v3.5.12", "kubectl@stable"]
        );
        assert!(Request::parse_all(&words(&["kubelet", "v1.29.0"]), false).is_err(), "pairs only where allowed");
        for bad in ["kubelet", "@v1.29.0", "kubelet@", "kubelet@1.29", "kubelet@v1.29.0/../x"] {
            assert!(Request::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Request::parse("kubelet").unwrap_err().to_string(),
            "\"kubelet\": give COMPONENT@VERSION (e.g. kubelet@v1.29.0)"
        );
    }

    #[test]
    fn markers_are_held_to_their_meaning() {
        let marker = |m: &str| match VersionRequest::parse(m).unwrap() {
            VersionRequest::Marker(m) => m,
            other => panic!("{other:?}"),
        };
        assert_eq!(marker("stable-1.29").refuses(&v("1.29.4")), None);
        assert_eq!(marker("stable-1.29").refuses(&v("1.25.0")).unwrap(), "v1.25.0 is not a 1.29.x release");
        assert_eq!(marker("latest-1.29").refuses(&v("1.30.0")).unwrap(), "v1.30.0 is not a 1.29.x release");
        assert_eq!(marker("latest-1.29").refuses(&v("1.29.0-rc.1")), None);
        assert!(marker("stable").refuses(&v("1.33.0-alpha.0")).unwrap().contains("pre-release"));
        assert!(marker("stable-1.29").refuses(&v("1.29.0-rc.1")).is_some());
        assert_eq!(marker("stable-1").refuses(&v("1.31.2")), None);
        assert!(marker("stable-1").refuses(&v("2.0.0")).is_some());
        assert_eq!(marker("latest").refuses(&v("1.33.0-alpha.0")), None);
    }

    #[test]
    fn ranges_compare_release_numbers() {
        let r = Range { since: Some(v("1.23.0")), until: Some(v("1.29.0")) };
        assert!(r.contains(&v("1.23.0")) && r.contains(&v("1.28.9")));
        assert!(!r.contains(&v("1.22.9")) && !r.contains(&v("1.29.0")) && !r.contains(&v("1.29.0-alpha.1")));
        assert_eq!(r.excludes(&v("1.31.1")).unwrap(), "dropped in v1.29.0");
        assert_eq!(r.excludes(&v("1.20.0")).unwrap(), "published from v1.23.0");
        assert!(Range::default().contains(&v("0.0.1")));
    }

    #[test]
    fn patterns_stand_for_digits() {
        let alpha0 = Pattern::parse("*.*.0-alpha.0").unwrap();
        assert!(alpha0.matches(&v("v1.33.0-alpha.0")));
        assert!(!alpha0.matches(&v("1.33.0-alpha.1")) && !alpha0.matches(&v("1.33.1-alpha.0")));
        assert!(!alpha0.matches(&v("1.33.0-alpha.01")));
        let betas = Pattern::parse("1.26.0-beta.*").unwrap();
        assert!(betas.matches(&v("1.26.0-beta.12")) && !betas.matches(&v("1.26.0-beta.")));
        assert!(Pattern::parse("1.x.0").is_err());
    }
}
