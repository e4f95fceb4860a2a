//! A TUF repository made in-process, laid out as Sigstore serves its own
//! (tuf-repo-cdn.sigstore.dev, consistent snapshots): `N.root.json`, `timestamp.json`,
//! `V.snapshot.json`, `V.targets.json`, `targets/<sha256>.trusted_root.json`.
//!
//! Keys are ECDSA P-256 (`ecdsa-sha2-nistp256`, as Sigstore's), made with rcgen; every
//! role signs the canonical JSON of its `signed` object with sigstore-tuf's encoder.
//! Root has 3 keys and threshold 2; timestamp, snapshot and targets one key each.
//!
//! API: [`TufRepo::new(target)`] (root v1; targets, snapshot, timestamp v1 publishing
//! `target` as trusted_root.json); [`TufRepo::publish(target)`] (the next targets,
//! snapshot and timestamp); [`TufRepo::rotate_root()`] (root v+1 signed by both
//! thresholds); [`TufRepo::serve(&server)`] puts the files under `/tuf/`, and
//! [`TufRepo::url(&server)`] is the `--tuf-url`. The attack methods turn a clone of a
//! good state hostile, each one way (see tests/it/trust.rs).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use rcgen::{KeyPair, SigningKey as _, PKCS_ECDSA_P256_SHA256};
use serde_json::{json, Value};

use super::server::Server;
use super::sha256_hex;

pub const TARGET: &str = "trusted_root.json";

/// A role key: the pair, its TUF key ID and public PEM.
pub struct Key {
    pair: KeyPair,
    id: String,
    public: String,
}

impl Key {
    fn new() -> Arc<Key> {
        let pair = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let public = pair.public_key_pem();
        // Key IDs are opaque to TUF clients; the PEM's hash is as good as any.
        Arc::new(Key { id: sha256_hex(public.as_bytes()), public, pair })
    }

    fn json(&self) -> Value {
        json!({"keytype": "ecdsa", "scheme": "ecdsa-sha2-nistp256", "keyval": {"public": self.public}})
    }
}

/// The versions of the four roles.
#[derive(Clone, Copy, Debug, Default)]
pub struct Versions {
    pub root: u64,
    pub timestamp: u64,
    pub snapshot: u64,
    pub targets: u64,
}

#[derive(Clone)]
pub struct TufRepo {
    root_keys: Vec<Arc<Key>>,
    timestamp_key: Arc<Key>,
    snapshot_key: Arc<Key>,
    targets_key: Arc<Key>,
    pub versions: Versions,
    /// What is served, by path under the repository's base.
    pub files: BTreeMap<String, Vec<u8>>,
    /// Every timestamp published, in order.
    timestamps: Vec<Vec<u8>>,
    /// How long from now new timestamps expire (negative: already expired).
    pub timestamp_lifetime: SignedDuration,
    target: Vec<u8>,
    root_v1: Vec<u8>,
}

fn expires_in(d: SignedDuration) -> String {
    let t = Timestamp::now().checked_add(d).unwrap();
    Timestamp::from_second(t.as_second()).unwrap().to_string()
}

fn days(n: i64) -> SignedDuration {
    SignedDuration::from_hours(24 * n)
}

impl TufRepo {
    /// Root v1, and targets, snapshot and timestamp v1 publishing `target`.
    pub fn new(target: &[u8]) -> TufRepo {
        let mut repo = TufRepo {
            root_keys: (0..3).map(|_| Key::new()).collect(),
            timestamp_key: Key::new(),
            snapshot_key: Key::new(),
            targets_key: Key::new(),
            versions: Versions::default(),
            files: BTreeMap::new(),
            timestamps: Vec::new(),
            timestamp_lifetime: days(7),
            target: Vec::new(),
            root_v1: Vec::new(),
        };
        let keys = repo.root_keys.clone();
        repo.publish_root(&keys[..2]);
        repo.root_v1 = repo.files["1.root.json"].clone();
        repo.publish(target);
        repo
    }

    /// The root v1 a client pins (`--tuf-root`).
    pub fn root_v1(&self) -> &[u8] {
        &self.root_v1
    }

    /// The trusted root published now.
    pub fn target(&self) -> &[u8] {
        &self.target
    }

    pub fn url(server: &Server) -> String {
        server.url("tuf")
    }

    /// Serves every file under `/tuf/` (replacing what was there under the same names).
    pub fn serve(&self, server: &Server) {
        for (name, bytes) in &self.files {
            server.put(&format!("tuf/{name}"), bytes.clone());
        }
    }

    fn sign(signed: Value, keys: &[&Key]) -> Vec<u8> {
        let canonical = sigstore_tuf::canonical_json::to_canonical_bytes(&signed).unwrap();
        let signatures: Vec<Value> =
            keys.iter().map(|k| json!({"keyid": k.id, "sig": hex::encode(k.pair.sign(&canonical).unwrap())})).collect();
        let mut bytes = serde_json::to_vec_pretty(&json!({"signed": signed, "signatures": signatures})).unwrap();
        bytes.push(b'\n');
        bytes
    }

    fn root_signed(&self, version: u64, root_keys: &[Arc<Key>], timestamp_key: &Key) -> Value {
        let mut keys = serde_json::Map::new();
        for k in root_keys.iter().map(|k| &**k).chain([timestamp_key, &*self.snapshot_key, &*self.targets_key]) {
            keys.insert(k.id.clone(), k.json());
        }
        let ids = |ks: &[&Key]| ks.iter().map(|k| k.id.clone()).collect::<Vec<_>>();
        let root_ids: Vec<String> = root_keys.iter().map(|k| k.id.clone()).collect();
        json!({
            "_type": "root",
            "spec_version": "1.0",
            "version": version,
            "expires": expires_in(days(365)),
            "consistent_snapshot": true,
            "keys": keys,
            "roles": {
                "root": {"keyids": root_ids, "threshold": 2},
                "timestamp": {"keyids": ids(&[timestamp_key]), "threshold": 1},
                "snapshot": {"keyids": ids(&[&self.snapshot_key]), "threshold": 1},
                "targets": {"keyids": ids(&[&self.targets_key]), "threshold": 1},
            },
        })
    }

    fn publish_root(&mut self, signers: &[Arc<Key>]) {
        self.versions.root += 1;
        let v = self.versions.root;
        let signed = self.root_signed(v, &self.root_keys.clone(), &self.timestamp_key.clone());
        let signers: Vec<&Key> = signers.iter().map(|k| &**k).collect();
        self.files.insert(format!("{v}.root.json"), TufRepo::sign(signed, &signers));
    }

    fn timestamp_bytes(&self, version: u64, snapshot: u64, lifetime: SignedDuration, key: &Key) -> Vec<u8> {
        let signed = json!({
            "_type": "timestamp", "spec_version": "1.0", "version": version, "expires": expires_in(lifetime),
            "meta": {"snapshot.json": {"version": snapshot}},
        });
        TufRepo::sign(signed, &[key])
    }

    fn snapshot_bytes(&self, version: u64, targets: u64) -> Vec<u8> {
        let signed = json!({
            "_type": "snapshot", "spec_version": "1.0", "version": version, "expires": expires_in(days(365)),
            "meta": {"targets.json": {"version": targets}},
        });
        TufRepo::sign(signed, &[&self.snapshot_key])
    }

    /// `V.targets.json` listing `target`, and the target file under its hash.
    fn write_targets(&mut self, version: u64, target: &[u8]) {
        let signed = json!({
            "_type": "targets", "spec_version": "1.0", "version": version, "expires": expires_in(days(365)),
            "targets": {TARGET: {"length": target.len(), "hashes": {"sha256": sha256_hex(target)}}},
        });
        self.files.insert(format!("{version}.targets.json"), TufRepo::sign(signed, &[&self.targets_key]));
        self.files.insert(format!("targets/{}.{TARGET}", sha256_hex(target)), target.to_vec());
    }

    fn write_timestamp(&mut self, version: u64, snapshot: u64, lifetime: SignedDuration, key: &Key) {
        let bytes = self.timestamp_bytes(version, snapshot, lifetime, key);
        self.files.insert("timestamp.json".into(), bytes);
    }

    /// The next targets, snapshot and timestamp versions, publishing `target`.
    pub fn publish(&mut self, target: &[u8]) {
        self.versions.targets += 1;
        self.versions.snapshot += 1;
        self.versions.timestamp += 1;
        let Versions { timestamp: t, snapshot: s, targets: g, .. } = self.versions;
        self.write_targets(g, target);
        self.files.insert(format!("{s}.snapshot.json"), self.snapshot_bytes(s, g));
        let key = self.timestamp_key.clone();
        self.write_timestamp(t, s, self.timestamp_lifetime, &key);
        self.timestamps.push(self.files["timestamp.json"].clone());
        self.target = target.to_vec();
    }

    /// Root v+1 with one root key replaced, signed by the old threshold and the new one;
    /// then the next targets, snapshot and timestamp.
    pub fn rotate_root(&mut self) {
        let old = self.root_keys.clone();
        self.root_keys = old[1..].iter().cloned().chain([Key::new()]).collect();
        // old[0] and old[1] make the old threshold; old[1] and the new key the new one.
        let signers = vec![old[0].clone(), old[1].clone(), self.root_keys[2].clone()];
        self.publish_root(&signers);
        let target = self.target.clone();
        self.publish(&target);
    }

    // ------------------------------------------------------------ attacks
    // Each turns the last good state hostile one way, as ../../shared/contract/tufrepo.py
    // does, and python-tuf refuses each for the reason named.

    /// A new, validly signed timestamp that expired an hour ago (ExpiredMetadataError).
    pub fn expired_timestamp(&mut self) {
        let Versions { timestamp: t, snapshot: s, .. } = self.versions;
        let key = self.timestamp_key.clone();
        self.write_timestamp(t + 1, s, SignedDuration::from_hours(-1), &key);
    }

    /// The previous timestamp replayed: unexpired, validly signed (BadVersionNumberError).
    pub fn timestamp_rollback(&mut self) {
        let previous = self.timestamps[self.timestamps.len() - 2].clone();
        self.files.insert("timestamp.json".into(), previous);
    }

    /// A new timestamp that pins the previous snapshot (BadVersionNumberError).
    pub fn snapshot_rollback(&mut self) {
        let Versions { timestamp: t, snapshot: s, .. } = self.versions;
        let key = self.timestamp_key.clone();
        self.write_timestamp(t + 1, s - 1, self.timestamp_lifetime, &key);
    }

    /// A new snapshot that pins the previous targets (BadVersionNumberError).
    pub fn targets_rollback(&mut self) {
        let Versions { timestamp: t, snapshot: s, targets: g, .. } = self.versions;
        self.files.insert(format!("{}.snapshot.json", s + 1), self.snapshot_bytes(s + 1, g - 1));
        let key = self.timestamp_key.clone();
        self.write_timestamp(t + 1, s + 1, self.timestamp_lifetime, &key);
    }

    /// Targets, snapshot and timestamp one version up for `target`, as an attacker with
    /// the online keys but a goal other than publishing it would start.
    fn next_targets(&mut self, target: &[u8]) {
        let Versions { timestamp: t, snapshot: s, targets: g, .. } = self.versions;
        self.write_targets(g + 1, target);
        self.files.insert(format!("{}.snapshot.json", s + 1), self.snapshot_bytes(s + 1, g + 1));
        let key = self.timestamp_key.clone();
        self.write_timestamp(t + 1, s + 1, self.timestamp_lifetime, &key);
    }

    /// The snapshot pins targets v+1; the file served under that name is targets v.
    pub fn mix_and_match(&mut self) {
        let g = self.versions.targets;
        let mut changed = self.target.clone();
        changed.push(b'\n');
        self.next_targets(&changed);
        let old = self.files[&format!("{g}.targets.json")].clone();
        self.files.insert(format!("{}.targets.json", g + 1), old);
    }

    /// Targets v+1 list Y; the file served for Y has Y's length and other bytes.
    pub fn target_hash(&mut self) {
        let mut y = self.target.clone();
        y.push(b'\n');
        self.next_targets(&y);
        let mut other = self.target.clone();
        other.push(b' ');
        self.files.insert(format!("targets/{}.{TARGET}", sha256_hex(&y)), other);
    }

    /// Targets v+1 list Y; the file served for Y is longer than the metadata says.
    pub fn target_length(&mut self) {
        let mut y = self.target.clone();
        y.push(b'\n');
        self.next_targets(&y);
        let mut longer = y.clone();
        longer.extend_from_slice(&[b'\n'; 64]);
        self.files.insert(format!("targets/{}.{TARGET}", sha256_hex(&y)), longer);
    }

    /// Root v+1 with an attacker's keys, signed by one old root key (threshold 2) and two
    /// new ones; and a timestamp that only the attacker's root would accept.
    pub fn root_threshold(&mut self) {
        let attacker: Vec<Arc<Key>> = (0..3).map(|_| Key::new()).collect();
        let rogue = Key::new();
        let v = self.versions.root + 1;
        let signed = self.root_signed(v, &attacker, &rogue);
        let signers = [&*self.root_keys[0], &*attacker[0], &*attacker[1]];
        self.files.insert(format!("{v}.root.json"), TufRepo::sign(signed, &signers));
        let Versions { timestamp: t, snapshot: s, .. } = self.versions;
        self.write_timestamp(t + 1, s, self.timestamp_lifetime, &rogue);
    }
}
