//! What an artifact is: a component at a version for a platform, parsed once.

use std::fmt;

use crate::platform::Platform;
use crate::version::Version;

/// `kubelet v1.29.0 linux/amd64`: the one name every capability gives an artifact.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Subject {
    pub component: String,
    pub version: Version,
    pub platform: Platform,
}

impl Subject {
    pub fn new(component: impl Into<String>, version: Version, platform: Platform) -> Subject {
        Subject { component: component.into(), version, platform }
    }

    /// The order locks and reports list subjects in: by component, version text,
    /// then platform.
    pub fn sort_key(&self) -> (String, String, String) {
        (self.component.clone(), self.version.to_string(), self.platform.to_string())
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.component, self.version, self.platform)
    }
}
