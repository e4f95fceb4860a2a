//! The key material of a trusted root, as `trust show` lists it and `trust update`
//! compares it: every Fulcio CA, CT log, Rekor log and timestamp authority with its
//! validity window.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Serialize, Serializer};
use sha2::{Digest as _, Sha256};

use crate::signature::TrustRoot;

/// What a piece of trust material is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MaterialKind {
    /// A certificate authority (Fulcio) that issues signing certificates.
    Ca,
    /// A certificate transparency log whose SCTs certificates embed.
    Ctlog,
    /// A transparency log (Rekor).
    Tlog,
    /// An RFC 3161 timestamp authority.
    Tsa,
}

impl MaterialKind {
    /// How people call it: `CA`, `CT log`, `tlog`, `TSA`.
    pub fn label(self) -> &'static str {
        match self {
            MaterialKind::Ca => "CA",
            MaterialKind::Ctlog => "CT log",
            MaterialKind::Tlog => "tlog",
            MaterialKind::Tsa => "TSA",
        }
    }
}

/// One CA, log or TSA of a trusted root.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Material {
    pub kind: MaterialKind,
    /// Its URI (CAs, TSAs) or base URL (logs).
    pub uri: String,
    /// What tells two of one URI apart: a log's key ID (base64), a CA's or TSA's
    /// SHA-256 of its first certificate (hex).
    pub id: String,
    /// The subject, for CAs and TSAs (`O=…, CN=…`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Start of the validity window.
    #[serde(serialize_with = "ser_opt_time")]
    pub start: Option<Timestamp>,
    /// End of the validity window; `None` while open.
    #[serde(serialize_with = "ser_opt_time")]
    pub end: Option<Timestamp>,
}

impl Material {
    /// `2022-04-13T20:06:15Z → (open)`.
    pub fn window(&self) -> String {
        let time = |t: Option<Timestamp>, none: &str| t.map_or(none.to_string(), |t| t.to_string());
        format!("{} → {}", time(self.start, "(no start)"), time(self.end, "(open)"))
    }
}

/// How a piece of material changed between two roots.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    /// In the new root only.
    Added,
    /// In the old root only.
    Removed,
    /// In both; the new root ends (or moves the end of) its window.
    Ended,
}

/// One change between two roots.
#[derive(Clone, Debug, Serialize)]
pub struct Change {
    pub change: ChangeKind,
    #[serde(flatten)]
    pub material: Material,
}

/// Every CA, CT log, tlog and TSA of `root`, in that order.
pub fn describe(root: &TrustRoot) -> Vec<Material> {
    let root = root.material();
    let subject = |s: &sigstore_trust_root::trusted_root::CertificateSubject| {
        let parts: Vec<String> = [("O", &s.organization), ("CN", &s.common_name)]
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
            .collect();
        (!parts.is_empty()).then(|| parts.join(", "))
    };
    let first_cert = |chain: &sigstore_trust_root::trusted_root::CertChain| {
        chain.certificates.first().map(|c| hex::encode(Sha256::digest(c.raw_bytes.as_bytes()))).unwrap_or_default()
    };
    let mut out = Vec::new();
    for ca in &root.certificate_authorities {
        out.push(Material {
            kind: MaterialKind::Ca,
            uri: ca.uri.clone(),
            id: first_cert(&ca.cert_chain),
            subject: subject(&ca.subject),
            start: ca.valid_for.as_ref().map(|v| v.start),
            end: ca.valid_for.as_ref().and_then(|v| v.end),
        });
    }
    let logs = root
        .ctlogs
        .iter()
        .map(|l| (MaterialKind::Ctlog, &l.base_url, &l.log_id, &l.public_key))
        .chain(root.tlogs.iter().map(|l| (MaterialKind::Tlog, &l.base_url, &l.log_id, &l.public_key)));
    for (kind, url, log_id, key) in logs {
        out.push(Material {
            kind,
            uri: url.clone(),
            id: log_id.key_id.to_base64(),
            subject: None,
            start: key.valid_for.as_ref().map(|v| v.start),
            end: key.valid_for.as_ref().and_then(|v| v.end),
        });
    }
    for tsa in &root.timestamp_authorities {
        out.push(Material {
            kind: MaterialKind::Tsa,
            uri: tsa.uri.clone().unwrap_or_default(),
            id: first_cert(&tsa.cert_chain),
            subject: subject(&tsa.subject),
            start: tsa.valid_for.as_ref().map(|v| v.start),
            end: tsa.valid_for.as_ref().and_then(|v| v.end),
        });
    }
    out
}

/// The latest validity start among all of `root`'s material: how new the root is.
pub fn latest_start(root: &TrustRoot) -> Option<Timestamp> {
    describe(root).into_iter().filter_map(|m| m.start).max()
}

/// What changed from `old` to `new`, material matched by kind and id.
pub fn diff(old: &[Material], new: &[Material]) -> Vec<Change> {
    let key = |m: &Material| (m.kind, m.id.clone(), m.uri.clone());
    let old_by: BTreeMap<_, &Material> = old.iter().map(|m| (key(m), m)).collect();
    let new_by: BTreeMap<_, &Material> = new.iter().map(|m| (key(m), m)).collect();
    let mut changes = Vec::new();
    for (k, m) in &new_by {
        match old_by.get(k) {
            None => changes.push(Change { change: ChangeKind::Added, material: (*m).clone() }),
            Some(before) if before.end != m.end => {
                changes.push(Change { change: ChangeKind::Ended, material: (*m).clone() })
            }
            Some(_) => {}
        }
    }
    for (k, m) in &old_by {
        if !new_by.contains_key(k) {
            changes.push(Change { change: ChangeKind::Removed, material: (*m).clone() });
        }
    }
    changes.sort_by(|a, b| (a.material.kind, &a.material.uri).cmp(&(b.material.kind, &b.material.uri)));
    changes
}

/// The distance between two times in the largest whole unit: `3 d`, `5 h`, `12 min`.
pub fn age(a: Timestamp, b: Timestamp) -> String {
    let secs = (a.as_second() - b.as_second()).unsigned_abs();
    match secs {
        s if s >= 2 * 86_400 => format!("{} d", s / 86_400),
        s if s >= 2 * 3_600 => format!("{} h", s / 3_600),
        s if s >= 120 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

/// An optional time as RFC 3339 (`null` when absent).
pub fn ser_opt_time<S: Serializer>(t: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&t.to_string()),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_root_lists_its_material() {
        let root = TrustRoot::production().unwrap();
        let all = describe(&root);
        let count = |k| all.iter().filter(|m| m.kind == k).count();
        assert!(count(MaterialKind::Ca) >= 2 && count(MaterialKind::Ctlog) >= 2 && count(MaterialKind::Tlog) >= 1);
        let ended = all.iter().find(|m| m.kind == MaterialKind::Ca && m.end.is_some()).unwrap();
        assert_eq!(ended.uri, "https://fulcio.sigstore.dev");
        assert!(ended.window().contains(" → 2022-12-31"));
        assert!(latest_start(&root).unwrap() >= "2025-07-04T00:00:00Z".parse().unwrap());
    }

    #[test]
    fn diff_names_added_removed_and_ended_material() {
        let m = |id: &str, end: Option<&str>| Material {
            kind: MaterialKind::Ctlog,
            uri: "https://ctfe".into(),
            id: id.into(),
            subject: None,
            start: Some("2024-01-01T00:00:00Z".parse().unwrap()),
            end: end.map(|e| e.parse().unwrap()),
        };
        let old = vec![m("a", None), m("b", None)];
        let new = vec![m("a", Some("2026-01-01T00:00:00Z")), m("c", None)];
        let changes: Vec<(ChangeKind, String)> =
            diff(&old, &new).into_iter().map(|c| (c.change, c.material.id)).collect();
        assert_eq!(changes.len(), 3);
        assert!(changes.contains(&(ChangeKind::Ended, "a".into())));
        assert!(changes.contains(&(ChangeKind::Added, "c".into())));
        assert!(changes.contains(&(ChangeKind::Removed, "b".into())));
        assert!(diff(&old, &old).is_empty());
    }

    #[test]
    fn ages_read_in_the_largest_unit() {
        let t = |s: &str| s.parse::<Timestamp>().unwrap();
        assert_eq!(age(t("2026-11-30T00:00:00Z"), t("2026-11-27T00:00:00Z")), "3 d");
        assert_eq!(age(t("2026-11-27T00:00:00Z"), t("2026-11-30T00:00:00Z")), "3 d");
        assert_eq!(age(t("2026-11-30T05:00:00Z"), t("2026-11-30T00:00:00Z")), "5 h");
        assert_eq!(age(t("2026-11-30T00:30:00Z"), t("2026-11-30T00:00:00Z")), "30 min");
        assert_eq!(age(t("2026-11-30T00:00:09Z"), t("2026-11-30T00:00:00Z")), "9 s");
    }
}
