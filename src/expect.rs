//! Expected digests from any source (checksum files, `--sha256`, a release, a lock),
//! the rules that decide which of them apply to a file, and the one verdict on a file's
//! computed digests that `verify`, `fetch`, `identify` and `node` all reach through
//! [`judge`].

use std::collections::BTreeSet;

use crate::checksums::{self, ChecksumFile};
use crate::digest::{Algorithm, AlgorithmSet, Digest, Digests};
use crate::signature::SignatureEvidence;
use crate::subject::Subject;

/// One expected digest and where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expected {
    /// The name or path the source lists it under; `None` applies to every file named
    /// on the command line (`--sha256`, a bare-hex file).
    pub name: Option<String>,
    /// For a bare digest in `kubelet.sha512`: `kubelet`, which it stands for in a directory.
    pub sidecar_of: Option<String>,
    pub digest: Digest,
    /// Where it came from, as a report shows it: a URL, `FILE:LINE`, `--sha256`.
    pub origin: String,
    /// What the digest belongs to, when the source knows (a release or a lock).
    pub subject: Option<Subject>,
    /// The signature evidence that vouches for this digest, if any.
    pub signed_by: Option<SignatureEvidence>,
    /// The lock file this digest is pinned in, if it comes from one.
    pub pinned_in: Option<String>,
}

/// A name that several entries with different digests fit, even after narrowing by
/// platform.
#[derive(Debug, thiserror::Error)]
#[error("{file} matches {} entries with different digests: {}", origins.len(), origins.join(", "))]
pub struct Ambiguous {
    pub file: String,
    pub origins: Vec<String>,
}

impl Expected {
    /// A digest from `origin` that applies to every file named on the command line.
    pub fn unnamed(digest: Digest, origin: impl Into<String>) -> Expected {
        Expected {
            name: None,
            sidecar_of: None,
            digest,
            origin: origin.into(),
            subject: None,
            signed_by: None,
            pinned_in: None,
        }
    }

    /// Whether `digests` holds this digest (computed, and equal).
    pub fn matches(&self, digests: &Digests) -> bool {
        digests.get(self.digest.algorithm()) == Some(&self.digest)
    }
}

/// How the entries that apply to one file combine into a verdict.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Policy {
    /// Every chosen digest must match: one source (checksum files, a release, a pin).
    #[default]
    All,
    /// The entries are alternatives, grouped by subject (a lock pinning several
    /// versions of one binary, a node mid-upgrade): the file verifies when it matches
    /// every digest of any one group.
    AnyOfSubjects,
}

/// An expected digest that did not match what was computed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mismatch {
    pub expected: Digest,
    pub computed: Digest,
    pub origin: String,
}

/// The verdict on one file's digests against the entries chosen for it.
#[derive(Clone, Debug, Default)]
pub struct Verdict<'a> {
    /// The entries that decided: all of them under [`Policy::All`]; the group that
    /// matched (or the first that failed) under [`Policy::AnyOfSubjects`].
    pub decided_by: Vec<&'a Expected>,
    pub mismatches: Vec<Mismatch>,
    /// Expected digests whose algorithm was not computed (a bug, never a pass).
    pub not_computed: Vec<String>,
    /// The other groups tried and failed (`AnyOfSubjects`), for the report.
    pub also_failed: Vec<Mismatch>,
}

impl Verdict<'_> {
    /// Verified: something was expected, and all of it matched.
    pub fn is_ok(&self) -> bool {
        !self.decided_by.is_empty() && self.mismatches.is_empty() && self.not_computed.is_empty()
    }

    /// The subject of the entries that decided, if they name one.
    pub fn subject(&self) -> Option<&Subject> {
        self.decided_by.iter().find_map(|e| e.subject.as_ref())
    }

    /// The signature that vouches for the digests that decided.
    pub fn signed_by(&self) -> Option<&SignatureEvidence> {
        self.decided_by.iter().find_map(|e| e.signed_by.as_ref())
    }

    /// Where the expected digests came from, as a report shows it.
    pub fn origins(&self) -> String {
        self.decided_by.iter().map(|e| e.origin.as_str()).collect::<Vec<_>>().join(", ")
    }
}

/// The one comparison of computed digests with expected ones: `chosen` are the entries
/// that apply to the file (see [`to_compare`]); nothing expected is never a pass.
pub fn judge<'a>(chosen: &[&'a Expected], digests: &Digests, policy: Policy) -> Verdict<'a> {
    let all = |group: Vec<&'a Expected>| {
        let mut verdict = Verdict { decided_by: group, ..Verdict::default() };
        for e in &verdict.decided_by {
            match digests.get(e.digest.algorithm()) {
                Some(computed) if *computed == e.digest => {}
                Some(computed) => verdict.mismatches.push(Mismatch {
                    expected: e.digest,
                    computed: *computed,
                    origin: e.origin.clone(),
                }),
                None => verdict.not_computed.push(e.origin.clone()),
            }
        }
        verdict
    };
    match policy {
        Policy::All => all(chosen.to_vec()),
        Policy::AnyOfSubjects => {
            let mut subjects: Vec<Option<&Subject>> = Vec::new();
            for e in chosen {
                if !subjects.contains(&e.subject.as_ref()) {
                    subjects.push(e.subject.as_ref());
                }
            }
            let mut first_failed: Option<Verdict<'a>> = None;
            for subject in subjects {
                let group = chosen.iter().copied().filter(|e| e.subject.as_ref() == subject).collect();
                let verdict = all(group);
                if verdict.is_ok() {
                    return verdict;
                }
                match &mut first_failed {
                    None => first_failed = Some(verdict),
                    Some(first) => first.also_failed.extend(verdict.mismatches),
                }
            }
            first_failed.unwrap_or_default()
        }
    }
}

/// All expected digests of one run, and the platform that narrows ambiguous names.
#[derive(Clone, Debug, Default)]
pub struct Expectations {
    pub entries: Vec<Expected>,
    pub os: String,
    pub arch: String,
    /// How the entries that apply to one file combine.
    pub policy: Policy,
    /// The platform was asked for (`--os/--arch`, a release's artifact): an entry whose
    /// path names another platform (`bin/linux/arm64/kubelet`) never applies.
    pub platform_asked: bool,
}

impl Expectations {
    pub fn new(os: &str, arch: &str) -> Expectations {
        Expectations {
            entries: Vec::new(),
            os: os.into(),
            arch: arch.into(),
            policy: Policy::All,
            platform_asked: false,
        }
    }

    pub fn add_checksum_file(&mut self, file: &ChecksumFile) {
        let sidecar_of = checksums::subject_of_sidecar(&file.source).map(str::to_string);
        for entry in &file.entries {
            self.entries.push(Expected {
                name: entry.name.clone(),
                sidecar_of: if entry.name.is_none() { sidecar_of.clone() } else { None },
                digest: entry.digest,
                origin: format!("{}:{}", file.source, entry.line),
                subject: None,
                signed_by: None,
                pinned_in: None,
            });
        }
    }

    pub fn add_digest(&mut self, digest: Digest, origin: &str) {
        self.entries.push(Expected::unnamed(digest, origin));
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// `linux/amd64`: the platform that narrows ambiguous names.
    pub fn platform(&self) -> String {
        format!("{}/{}", self.os, self.arch)
    }

    /// The entries that apply to a file at `rel` (its path relative to the directory
    /// argument, or its name for a file argument). `explicit` files also take the
    /// unnamed digests.
    ///
    /// An entry applies when its path equals `rel`, or ends with `/rel` (a longer path
    /// such as `bin/linux/amd64/kubelet` or an absolute build path). When several such
    /// entries disagree, those under `/{os}/{arch}/` win; a disagreement left is
    /// [`Ambiguous`].
    pub fn matching(&self, rel: &str, explicit: bool) -> Result<Vec<&Expected>, Ambiguous> {
        let rel = normalize(rel);
        let file_name = rel.rsplit('/').next().unwrap_or(rel);
        let mut exact = Vec::new();
        let mut longer = Vec::new();
        let mut unnamed = Vec::new();
        for e in &self.entries {
            match &e.name {
                Some(name) => {
                    let name = normalize(name);
                    if name == rel {
                        exact.push(e);
                    } else if name.strip_suffix(rel).is_some_and(|head| head.ends_with('/'))
                        && !self.names_another_platform(name)
                    {
                        longer.push(e);
                    }
                }
                None if explicit => unnamed.push(e),
                None if e.sidecar_of.as_deref() == Some(file_name) => unnamed.push(e),
                None => {}
            }
        }
        let mut named = if exact.is_empty() { longer } else { exact };
        if disagree(&named) && self.policy == Policy::All {
            let platform = format!("/{}/{}/", self.os, self.arch);
            let narrowed: Vec<&Expected> = named
                .iter()
                .copied()
                .filter(|e| e.name.as_deref().is_some_and(|n| format!("/{n}").contains(&platform)))
                .collect();
            if disagree(&narrowed) || narrowed.is_empty() {
                return Err(Ambiguous {
                    file: rel.to_string(),
                    origins: named.iter().map(|e| e.origin.clone()).collect(),
                });
            }
            named = narrowed;
        }
        named.extend(unnamed);
        Ok(named)
    }

    /// Whether `name`, a path, names a platform other than the one asked for.
    fn names_another_platform(&self, name: &str) -> bool {
        self.platform_asked
            && crate::platform::Platform::named_in_path(name).is_some_and(|p| p != (&self.os[..], &self.arch[..]))
    }

    /// Named entries that a directory walk should have found: plain names, and paths
    /// of this platform. Entries of other platforms in a multi-platform file are not
    /// missing from this host.
    pub fn expected_in_directory(&self) -> impl Iterator<Item = &Expected> {
        let platform = format!("/{}/{}/", self.os, self.arch);
        self.entries.iter().filter(move |e| match &e.name {
            Some(name) => !normalize(name).contains('/') || format!("/{name}").contains(&platform),
            None => e.sidecar_of.is_some(),
        })
    }
}

/// The first SHA-256 among `expected`, as the bytes a cosign signature signs.
pub fn first_sha256(expected: &[Expected]) -> Option<[u8; 32]> {
    expected.iter().find_map(|e| match e.digest {
        Digest::Sha256(b) => Some(b),
        Digest::Sha512(_) => None,
    })
}

/// The entries to compare for a file, given those that apply: SHA-256 only when the
/// sources list one (hardware-accelerated), else SHA-512, or every algorithm with
/// `all_digests`.
pub fn to_compare<'a>(applying: &[&'a Expected], all_digests: bool) -> (Vec<&'a Expected>, AlgorithmSet) {
    let present: BTreeSet<Algorithm> = applying.iter().map(|e| e.digest.algorithm()).collect();
    let mut set = AlgorithmSet::default();
    if all_digests {
        present.iter().for_each(|a| set.insert(*a));
    } else if let Some(first) = present.iter().next() {
        set.insert(*first);
    }
    let chosen = applying.iter().copied().filter(|e| set.contains(e.digest.algorithm())).collect();
    (chosen, set)
}

fn disagree(entries: &[&Expected]) -> bool {
    Algorithm::ALL.iter().any(|a| {
        let digests: BTreeSet<&[u8]> =
            entries.iter().filter(|e| e.digest.algorithm() == *a).map(|e| e.digest.as_bytes()).collect();
        digests.len() > 1
    })
}

fn normalize(path: &str) -> &str {
    let mut p = path;
    while let Some(rest) = p.strip_prefix("./") {
        p = rest;
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(byte: u8) -> Digest {
        Digest::from_hex(&hex::encode([byte; 32])).unwrap()
    }

    fn set(entries: &[(&str, u8)]) -> Expectations {
        let mut x = Expectations::new("linux", "amd64");
        for (i, (name, byte)) in entries.iter().enumerate() {
            x.entries.push(Expected {
                name: Some(name.to_string()),
                sidecar_of: None,
                digest: d(*byte),
                origin: format!("SUMS:{}", i + 1),
                subject: None,
                signed_by: None,
                pinned_in: None,
            });
        }
        x
    }

    fn origins(r: Result<Vec<&Expected>, Ambiguous>) -> Vec<String> {
        r.unwrap().iter().map(|e| e.origin.clone()).collect()
    }

    #[test]
    fn exact_path_wins_over_suffix() {
        let x = set(&[("bin/kubelet", 1), ("kubelet", 2), ("./other/kubelet", 3)]);
        assert_eq!(origins(x.matching("kubelet", false)), ["SUMS:2"]);
        assert_eq!(origins(x.matching("bin/kubelet", false)), ["SUMS:1"]);
        assert_eq!(origins(x.matching("./other/kubelet", false)), ["SUMS:3"]);
    }

    #[test]
    fn longer_paths_match_by_suffix_and_narrow_by_platform() {
        let x = set(&[
            ("bin/linux/arm64/kubelet", 1),
            ("bin/linux/amd64/kubelet", 2),
            ("/workspace/_output/gcs-stage/v1.28.0/bin/linux/amd64/kubeadm", 3),
            ("bin/linux/amd64/xkubeadm", 4),
        ]);
        assert_eq!(origins(x.matching("kubelet", false)), ["SUMS:2"]);
        assert_eq!(origins(x.matching("kubeadm", false)), ["SUMS:3"]);
        let mut s390 = x.clone();
        s390.arch = "s390x".into();
        let err = s390.matching("kubelet", false).unwrap_err();
        assert_eq!(err.to_string(), "kubelet matches 2 entries with different digests: SUMS:1, SUMS:2");
    }

    #[test]
    fn same_digest_twice_is_not_ambiguous() {
        let x = set(&[("a/kubelet", 1), ("b/kubelet", 1)]);
        assert_eq!(origins(x.matching("kubelet", false)).len(), 2);
    }

    #[test]
    fn unnamed_digests_apply_to_explicit_files_and_their_sidecar_name() {
        let mut x = Expectations::new("linux", "amd64");
        let file = checksums::parse("dir/kubectl.sha256", hex::encode([7u8; 32]).as_bytes()).unwrap();
        x.add_checksum_file(&file);
        assert_eq!(x.matching("anything", true).unwrap().len(), 1);
        assert_eq!(x.matching("kubectl", false).unwrap().len(), 1);
        assert_eq!(x.matching("kubelet", false).unwrap().len(), 0);
    }

    #[test]
    fn judge_all_and_any_of_subjects() {
        let subject = |v: &str| {
            Some(Subject::new("kubelet", crate::version::Version::parse(v).unwrap(), "linux/amd64".parse().unwrap()))
        };
        let mut x = set(&[("kubelet", 1), ("kubelet", 2)]);
        x.entries[0].subject = subject("1.29.0");
        x.entries[1].subject = subject("1.29.1");
        let chosen: Vec<&Expected> = x.entries.iter().collect();
        let digests = Digests { sha256: Some(d(2)), sha512: None };
        let all = judge(&chosen, &digests, Policy::All);
        assert!(!all.is_ok());
        assert_eq!(all.mismatches.len(), 1);
        let any = judge(&chosen, &digests, Policy::AnyOfSubjects);
        assert!(any.is_ok());
        assert_eq!(any.subject(), subject("1.29.1").as_ref());
        let none = judge(&chosen, &Digests { sha256: Some(d(3)), sha512: None }, Policy::AnyOfSubjects);
        assert!(!none.is_ok());
        assert_eq!((none.mismatches.len(), none.also_failed.len()), (1, 1));
        assert!(!judge(&[], &digests, Policy::All).is_ok(), "nothing expected is never a pass");
        let sha512_only = Digests { sha256: None, sha512: Some(Digest::from_hex(&"ab".repeat(64)).unwrap()) };
        assert_eq!(judge(&chosen[..1], &sha512_only, Policy::All).not_computed, ["SUMS:1"]);
    }

    #[test]
    fn prefers_sha256_unless_all_digests() {
        let mut x = set(&[("k", 1)]);
        x.add_digest(Digest::from_hex(&"ab".repeat(64)).unwrap(), "--sha512");
        let applying = x.matching("k", true).unwrap();
        let (chosen, algorithms) = to_compare(&applying, false);
        assert_eq!((chosen.len(), algorithms), (1, AlgorithmSet::only(Algorithm::Sha256)));
        let (chosen, algorithms) = to_compare(&applying, true);
        assert_eq!((chosen.len(), algorithms), (2, AlgorithmSet::BOTH));
    }
}
