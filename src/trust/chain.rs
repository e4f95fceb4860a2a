//! Re-verifying a cached TUF state from the pinned root, with sigstore-tuf's
//! `TrustedMetadataSet`: the root chain, then timestamp → snapshot → targets, then the
//! `trusted_root.json` target against the length and hashes the targets metadata pins.

use jiff::Timestamp;
use serde::Serialize;
use sha2::{Digest as _, Sha256, Sha512};
use sigstore_tuf::{Error, Metadata, Role as _, Snapshot, Targets, Timestamp as TufTimestamp, TrustedMetadataSet};

use super::cache::{Files, ROOT_HISTORY, SNAPSHOT, TARGETS, TARGET_FILE, TIMESTAMP};
use super::TRUSTED_ROOT_TARGET;

/// The versions of the four top-level TUF roles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Versions {
    pub root: u64,
    pub timestamp: u64,
    pub snapshot: u64,
    pub targets: u64,
}

/// A cached state that verified.
#[derive(Debug)]
pub struct Verified {
    pub versions: Versions,
    pub timestamp_expires: Timestamp,
    /// The earliest expiry of root, timestamp, snapshot and targets.
    pub expires: Timestamp,
    /// The `trusted_root.json` bytes, whose length and hashes matched.
    pub trusted_root: Vec<u8>,
}

/// Why a state does not verify.
#[derive(Debug)]
pub enum Invalid {
    /// The pinned root itself is not a self-signed TUF root.
    Pin(Error),
    /// The files do not verify from the pin.
    Files(Error),
}

/// Verifies `files` forward from `pinned`: every root in the chain signed by the
/// previous root's threshold and its own, every role by its keys, every version and
/// length/hash pin, and the target. Expiry is judged at `now` or at the earliest
/// expiry of the files, whichever comes first: a stale cache still verifies (the
/// caller reports its staleness), a tampered one never does.
pub fn verify_files(files: &Files, pinned: &[u8], now: Timestamp) -> Result<Verified, Invalid> {
    let mut set = TrustedMetadataSet::from_root(pinned).map_err(Invalid::Pin)?;
    verify_chain(&mut set, files, now).map_err(Invalid::Files)
}

fn verify_chain(set: &mut TrustedMetadataSet, files: &Files, now: Timestamp) -> Result<Verified, Error> {
    loop {
        let next = format!("{ROOT_HISTORY}/{}.root.json", set.root().version + 1);
        match files.get(&next) {
            Some(bytes) => set.update_root(bytes)?,
            None => break,
        }
    }
    let file = |name: &str| files.get(name).ok_or_else(|| Error::Malformed(format!("{name} is missing")));
    let (timestamp, snapshot, targets) = (file(TIMESTAMP)?, file(SNAPSHOT)?, file(TARGETS)?);

    // Read unverified only for the dates: everything is verified below at `judge`.
    let timestamp_expires = Metadata::<TufTimestamp>::from_slice(timestamp)?.signed().expires();
    let snapshot_expires = Metadata::<Snapshot>::from_slice(snapshot)?.signed().expires();
    let targets_expires = Metadata::<Targets>::from_slice(targets)?.signed().expires();
    let expires = [timestamp_expires, snapshot_expires, targets_expires, set.root().expires]
        .into_iter()
        .min()
        .unwrap_or(timestamp_expires);
    let judge = now.min(timestamp_expires).min(snapshot_expires).min(targets_expires);

    set.update_timestamp(timestamp, judge)?;
    set.update_snapshot(snapshot, judge)?;
    set.update_targets(targets, judge)?;

    let pin = set
        .targets_role("targets")
        .and_then(|t| t.target(TRUSTED_ROOT_TARGET))
        .ok_or_else(|| Error::TargetNotFound(TRUSTED_ROOT_TARGET.to_string()))?
        .clone();
    let target = file(TARGET_FILE)?;
    check_target(target, pin.length, &pin.hashes)?;

    let versions = Versions {
        root: set.root().version,
        timestamp: set.timestamp().map_or(0, |t| t.version),
        snapshot: set.snapshot().map_or(0, |s| s.version),
        targets: set.targets_role("targets").map_or(0, |t| t.version),
    };
    Ok(Verified { versions, timestamp_expires, expires, trusted_root: target.clone() })
}

/// The target's bytes against its pinned length and every pinned hash kverify knows;
/// at least one must be known (a target is never accepted unhashed).
pub fn check_target(
    bytes: &[u8],
    length: u64,
    hashes: &std::collections::BTreeMap<String, String>,
) -> Result<(), Error> {
    if bytes.len() as u64 != length {
        return Err(Error::IntegrityMismatch(format!(
            "{TRUSTED_ROOT_TARGET}: {} bytes, the targets metadata says {length}",
            bytes.len()
        )));
    }
    let mut checked = 0;
    for (algorithm, expected) in hashes {
        let computed = match algorithm.as_str() {
            "sha256" => hex::encode(Sha256::digest(bytes)),
            "sha512" => hex::encode(Sha512::digest(bytes)),
            _ => continue,
        };
        if !computed.eq_ignore_ascii_case(expected) {
            return Err(Error::IntegrityMismatch(format!(
                "{TRUSTED_ROOT_TARGET}: {algorithm} {computed}, the targets metadata says {expected}"
            )));
        }
        checked += 1;
    }
    if checked == 0 {
        return Err(Error::IntegrityMismatch(format!("{TRUSTED_ROOT_TARGET}: no sha256 or sha512 is pinned")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn a_target_must_match_its_length_and_every_known_hash() {
        let bytes = b"{}";
        let sha256 = hex::encode(Sha256::digest(bytes));
        let sha512 = hex::encode(Sha512::digest(bytes));
        let hashes = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs.iter().map(|(a, h)| (a.to_string(), h.to_string())).collect()
        };
        assert!(check_target(bytes, 2, &hashes(&[("sha256", &sha256)])).is_ok());
        assert!(check_target(bytes, 2, &hashes(&[("sha256", &sha256), ("sha512", &sha512), ("blake3", "x")])).is_ok());
        assert!(check_target(bytes, 3, &hashes(&[("sha256", &sha256)])).is_err(), "length");
        assert!(check_target(bytes, 2, &hashes(&[("sha256", &sha256), ("sha512", &sha256)])).is_err(), "one bad hash");
        assert!(check_target(bytes, 2, &hashes(&[("blake3", "x")])).is_err(), "no known hash");
        assert!(check_target(bytes, 2, &BTreeMap::new()).is_err(), "no hash");
    }

    #[test]
    fn nothing_cached_does_not_verify() {
        let pinned = super::super::EMBEDDED_TUF_ROOT;
        assert!(matches!(verify_files(&Files::new(), pinned, Timestamp::now()), Err(Invalid::Files(_))));
        assert!(matches!(verify_files(&Files::new(), b"{}", Timestamp::now()), Err(Invalid::Pin(_))));
    }
}
