//! Kubernetes' signed release SBOM (`kubernetes-release.spdx`, SPDX 2.2/2.3 tag-value):
//! one signature over a document that lists every binary's SHA-256 and SHA-512.
//!
//! Only what verification needs is read: `DocumentNamespace` (which release this is) and
//! each file's `FileName` with its `FileChecksum` lines. Package blocks, relationships and
//! multi-line `<text>` values are skipped.

use std::collections::BTreeMap;

use crate::digest::{Algorithm, Digest};

/// The most bytes of an SBOM kverify reads (Kubernetes' are a few MiB).
pub const MAX_LEN: u64 = 64 * 1024 * 1024;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SbomError {
    #[error("{source_name}:{line}: {problem}")]
    Line { source_name: String, line: usize, problem: String },
    #[error("{source_name}: no DocumentNamespace; not an SPDX tag-value document")]
    NoNamespace { source_name: String },
    #[error("{source_name}: DocumentNamespace is {found}, not {expected}: an SBOM of another release")]
    WrongRelease { source_name: String, found: String, expected: String },
    #[error("{source_name}: {name} is listed twice with different {algorithm} digests (lines {first} and {line})")]
    Conflict { source_name: String, name: String, algorithm: Algorithm, first: usize, line: usize },
    #[error("{source_name}: lists no file with a SHA-256 or SHA-512 digest")]
    Empty { source_name: String },
}

/// The digests an SBOM lists for one file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileDigests {
    pub sha256: Option<(Digest, usize)>,
    pub sha512: Option<(Digest, usize)>,
}

/// A parsed SBOM: its namespace and the digests of each file, by name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sbom {
    pub source: String,
    pub namespace: String,
    pub files: BTreeMap<String, FileDigests>,
}

impl Sbom {
    /// Parses an SPDX tag-value document.
    pub fn parse(source: &str, bytes: &[u8]) -> Result<Sbom, SbomError> {
        let line_err =
            |line: usize, problem: String| SbomError::Line { source_name: source.to_string(), line, problem };
        let text = std::str::from_utf8(bytes).map_err(|e| {
            let line = bytes[..e.valid_up_to()].iter().filter(|b| **b == b'\n').count() + 1;
            line_err(line, "not UTF-8 text".into())
        })?;
        let mut namespace = None;
        let mut files: BTreeMap<String, FileDigests> = BTreeMap::new();
        let mut current: Option<String> = None;
        let mut in_text = false;
        for (i, raw) in text.split('\n').enumerate() {
            let line_no = i + 1;
            let line = raw.strip_suffix('\r').unwrap_or(raw);
            if in_text {
                in_text = !line.contains("</text>");
                continue;
            }
            let Some((tag, value)) = line.split_once(':') else { continue };
            let (tag, value) = (tag.trim(), value.trim());
            if value.starts_with("<text>") && !value.contains("</text>") {
                in_text = true;
                continue;
            }
            match tag {
                "DocumentNamespace" => namespace = Some(value.to_string()),
                "FileName" => {
                    let name = value.trim_start_matches("./").trim_start_matches('/').to_string();
                    if name.is_empty() {
                        return Err(line_err(line_no, "empty FileName".into()));
                    }
                    files.entry(name.clone()).or_default();
                    current = Some(name);
                }
                // A package, snippet or relationship ends the file's block.
                "PackageName" | "SnippetSPDXID" | "Relationship" => current = None,
                "FileChecksum" => {
                    let Some(name) = &current else { continue };
                    let (algorithm, hex) =
                        value.split_once(':').ok_or_else(|| line_err(line_no, format!("FileChecksum {value:?}")))?;
                    let algorithm = match algorithm.trim() {
                        "SHA256" => Algorithm::Sha256,
                        "SHA512" => Algorithm::Sha512,
                        _ => continue, // SHA1, MD5 and others are not evidence
                    };
                    let digest = Digest::from_hex_as(algorithm, hex.trim())
                        .map_err(|e| line_err(line_no, format!("{name}: {e}")))?;
                    let entry = files.entry(name.clone()).or_default();
                    let slot = match algorithm {
                        Algorithm::Sha256 => &mut entry.sha256,
                        Algorithm::Sha512 => &mut entry.sha512,
                    };
                    match slot {
                        Some((d, _)) if *d == digest => {}
                        Some((_, first)) => {
                            return Err(SbomError::Conflict {
                                source_name: source.to_string(),
                                name: name.clone(),
                                algorithm,
                                first: *first,
                                line: line_no,
                            })
                        }
                        None => *slot = Some((digest, line_no)),
                    }
                }
                _ => {}
            }
        }
        let namespace = namespace.ok_or_else(|| SbomError::NoNamespace { source_name: source.to_string() })?;
        files.retain(|_, d| d.sha256.is_some() || d.sha512.is_some());
        if files.is_empty() {
            return Err(SbomError::Empty { source_name: source.to_string() });
        }
        Ok(Sbom { source: source.to_string(), namespace, files })
    }

    /// Refuses an SBOM whose namespace is not `expected` (a signed SBOM of another
    /// release replayed).
    pub fn require_namespace(&self, expected: &str) -> Result<(), SbomError> {
        if self.namespace.trim_end_matches('/') == expected.trim_end_matches('/') {
            Ok(())
        } else {
            Err(SbomError::WrongRelease {
                source_name: self.source.clone(),
                found: self.namespace.clone(),
                expected: expected.to_string(),
            })
        }
    }

    /// The digests of `path` (`bin/linux/amd64/kubelet`, or a tarball's name).
    pub fn get(&self, path: &str) -> Option<&FileDigests> {
        self.files.get(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(byte: u8, len: usize) -> String {
        hex::encode(vec![byte; len])
    }

    fn doc(version: &str, files: &[(&str, u8)], crlf: bool, spdx: &str) -> String {
        let mut s = format!(
            "SPDXVersion: {spdx}\nDataLicense: CC0-1.0\nSPDXID: SPDXRef-DOCUMENT\nDocumentName: kubernetes-release\nDocumentNamespace: https://sbom.k8s.io/{version}/release\n\n##### Package: kubernetes\n\nPackageName: kubernetes\nSPDXID: SPDXRef-Package-kubernetes\nPackageChecksum: SHA256: {}\nPackageComment: <text>FileName: bin/linux/amd64/evil\nFileChecksum: SHA256: {}\n</text>\n\n",
            hex(9, 32),
            hex(9, 32)
        );
        for (name, b) in files {
            s.push_str(&format!(
                "FileName: {name}\nSPDXID: SPDXRef-File-{b}\nFileChecksum: SHA512: {}\nFileChecksum: SHA1: {}\nFileChecksum: SHA256: {}\nLicenseConcluded: NOASSERTION\n\n",
                hex(*b, 64),
                hex(*b, 20),
                hex(*b, 32)
            ));
        }
        s.push_str("Relationship: SPDXRef-DOCUMENT DESCRIBES SPDXRef-Package-kubernetes\n");
        if crlf {
            s = s.replace('\n', "\r\n");
        }
        s
    }

    #[test]
    fn reads_files_in_any_order_in_both_spdx_versions_and_line_endings() {
        for (spdx, crlf) in [("SPDX-2.2", false), ("SPDX-2.3", true)] {
            let text = doc("v1.29.0", &[("bin/linux/arm64/kubelet", 2), ("bin/linux/amd64/kubelet", 1)], crlf, spdx);
            let sbom = Sbom::parse("kubernetes-release.spdx", text.as_bytes()).unwrap();
            sbom.require_namespace("https://sbom.k8s.io/v1.29.0/release").unwrap();
            let d = sbom.get("bin/linux/amd64/kubelet").unwrap();
            assert_eq!(d.sha256.unwrap().0.to_hex(), hex(1, 32));
            assert_eq!(d.sha512.unwrap().0.to_hex(), hex(1, 64));
            assert_eq!(sbom.files.len(), 2, "the FileName inside a <text> comment is not a file");
            assert!(sbom.get("bin/linux/amd64/evil").is_none());
        }
    }

    #[test]
    fn a_replayed_sbom_of_another_release_is_refused() {
        let text = doc("v1.28.0", &[("bin/linux/amd64/kubelet", 1)], false, "SPDX-2.3");
        let sbom = Sbom::parse("x.spdx", text.as_bytes()).unwrap();
        assert_eq!(
            sbom.require_namespace("https://sbom.k8s.io/v1.29.0/release").unwrap_err().to_string(),
            "x.spdx: DocumentNamespace is https://sbom.k8s.io/v1.28.0/release, not https://sbom.k8s.io/v1.29.0/release: an SBOM of another release"
        );
    }

    #[test]
    fn duplicates_agree_or_fail() {
        let same = doc("v1.29.0", &[("bin/linux/amd64/kubelet", 1), ("bin/linux/amd64/kubelet", 1)], false, "SPDX-2.3");
        assert_eq!(Sbom::parse("x", same.as_bytes()).unwrap().files.len(), 1);
        let differ =
            doc("v1.29.0", &[("bin/linux/amd64/kubelet", 1), ("bin/linux/amd64/kubelet", 2)], false, "SPDX-2.3");
        assert!(Sbom::parse("x", differ.as_bytes())
            .unwrap_err()
            .to_string()
            .contains("listed twice with different sha512"));
    }

    #[test]
    fn malformed_documents_get_line_numbers() {
        let bad = format!("DocumentNamespace: x\nFileName: a\nFileChecksum: SHA256: {}\n", "zz".repeat(32));
        assert_eq!(Sbom::parse("x", bad.as_bytes()).unwrap_err().to_string(), "x:3: a: not hexadecimal");
        assert!(matches!(Sbom::parse("x", b"FileName: a\n"), Err(SbomError::NoNamespace { .. })));
        assert!(matches!(Sbom::parse("x", b"DocumentNamespace: y\n"), Err(SbomError::Empty { .. })));
        assert!(Sbom::parse("x", b"DocumentNamespace: y\n\xff").unwrap_err().to_string().starts_with("x:2: not UTF-8"));
    }
}
