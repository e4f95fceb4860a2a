//! Operating system and architecture, as Kubernetes names them (`linux/amd64`).

use std::fmt;

/// A platform the command line or a file names that kverify does not know.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadPlatform(String);

type Error = BadPlatform;

const OSES: &[&str] = &["linux", "darwin", "windows"];
/// Kubernetes' architecture names, and runc's two 32-bit ARM builds (ARMv6 soft float,
/// ARMv7 hard float), which it names in Debian's words instead of `arm`.
const ARCHES: &[&str] = &["amd64", "arm64", "arm", "386", "ppc64le", "s390x", "riscv64", "armel", "armhf"];

/// A platform such as `linux/amd64`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Platform {
    pub os: String,
    pub arch: String,
}

impl Platform {
    /// This host, in Kubernetes' names.
    pub fn host() -> Platform {
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" => "386",
            "powerpc64" => "ppc64le",
            "s390x" => "s390x",
            "riscv64" => "riscv64",
            "arm" => "arm",
            other => other,
        };
        let os = match std::env::consts::OS {
            "macos" => "darwin",
            other => other,
        };
        Platform { os: os.into(), arch: arch.into() }
    }

    /// `--os` and `--arch`, each defaulting to this host's.
    pub fn from_flags(os: Option<&str>, arch: Option<&str>) -> Result<Platform, Error> {
        let host = Platform::host();
        let os = os.unwrap_or(&host.os).to_ascii_lowercase();
        let arch = arch.unwrap_or(&host.arch).to_ascii_lowercase();
        let arch = match arch.as_str() {
            "x86_64" => "amd64".to_string(),
            "aarch64" => "arm64".to_string(),
            _ => arch,
        };
        if !OSES.contains(&os.as_str()) {
            return Err(BadPlatform(format!("unknown operating system {os:?}; known: {}", OSES.join(", "))));
        }
        if !ARCHES.contains(&arch.as_str()) {
            return Err(BadPlatform(format!("unknown architecture {arch:?}; known: {}", ARCHES.join(", "))));
        }
        Ok(Platform { os, arch })
    }

    /// The platform a path names as two of its directories, as Kubernetes lays
    /// releases out (`bin/linux/arm64/kubelet`), if it names one.
    pub fn named_in_path(path: &str) -> Option<(&str, &str)> {
        let dirs: Vec<&str> = path.split('/').collect();
        let dirs = &dirs[..dirs.len().saturating_sub(1)];
        dirs.windows(2).map(|w| (w[0], w[1])).find(|(os, arch)| OSES.contains(os) && ARCHES.contains(arch))
    }

    /// `linux/amd64`.
    pub fn parse(text: &str) -> Result<Platform, Error> {
        let (os, arch) = text
            .split_once('/')
            .ok_or_else(|| BadPlatform(format!("platform {text:?} is not OS/ARCH (e.g. linux/amd64)")))?;
        Platform::from_flags(Some(os), Some(arch))
    }
}

impl<'de> serde::Deserialize<'de> for Platform {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Platform, D::Error> {
        let text = String::deserialize(deserializer)?;
        Platform::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl std::str::FromStr for Platform {
    type Err = Error;
    fn from_str(text: &str) -> Result<Platform, Error> {
        Platform::parse(text)
    }
}

impl serde::Serialize for Platform {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.arch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platforms_named_in_release_paths() {
        assert_eq!(Platform::named_in_path("bin/linux/arm64/kubelet"), Some(("linux", "arm64")));
        assert_eq!(
            Platform::named_in_path("/workspace/_output/v1.28.0/bin/windows/amd64/kubectl.exe"),
            Some(("windows", "amd64"))
        );
        assert_eq!(Platform::named_in_path("linux/amd64"), None, "the file name is not a directory");
        assert_eq!(Platform::named_in_path("bin/kubelet"), None);
        assert_eq!(Platform::named_in_path("linux/bin/amd64/kubelet"), None);
    }

    #[test]
    fn platforms_parse_in_kubernetes_words() {
        let p = Platform::parse("linux/amd64").unwrap();
        assert_eq!((p.os.as_str(), p.arch.as_str()), ("linux", "amd64"));
        assert_eq!(Platform::parse("Linux/x86_64").unwrap().to_string(), "linux/amd64");
        assert_eq!(Platform::parse("linux/aarch64").unwrap().to_string(), "linux/arm64");
        assert_eq!(Platform::parse("linux/armhf").unwrap().to_string(), "linux/armhf");
        assert_eq!(Platform::parse("windows/amd64").unwrap().to_string(), "windows/amd64");
        for (bad, says) in [
            ("linux", "is not OS/ARCH"),
            ("plan9/amd64", "unknown operating system \"plan9\""),
            ("linux/sparc", "unknown architecture \"sparc\""),
            ("linux/", "unknown architecture \"\""),
            ("/amd64", "unknown operating system \"\""),
        ] {
            let e = Platform::parse(bad).unwrap_err().to_string();
            assert!(e.contains(says), "{bad}: {e}");
        }
        assert_eq!(Platform::from_flags(Some("linux"), None).unwrap().arch, Platform::host().arch);
    }
}
