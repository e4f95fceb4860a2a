//! A test Rekor v1 transparency log: an RFC 6962 Merkle tree over a few hashedrekord
//! entries, signed by the Rekor key of the test Sigstore ([`TestSigstore::rekor_key`]),
//! and its answers shaped exactly as `GET /api/v1/log/entries/{uuid}` returns them.
//!
//! Written from the specifications, not from kverify's code:
//! - leaf = SHA-256(0x00 || canonical body), node = SHA-256(0x01 || left || right),
//!   MTH and PATH as RFC 6962 section 2.1 defines them;
//! - the checkpoint is a signed note: `origin\nsize\nbase64(root)\n`, a blank line, and
//!   `— <name> base64(keyhint || signature)`, the key hint being the first 4 bytes of
//!   the log ID (SHA-256 of the key's DER SPKI), the signature ECDSA P-256 SHA-256
//!   over the note's body;
//! - the SET is the log's signature over the canonical JSON (RFC 8785) of
//!   `{body, integratedTime, logID, logIndex}`, `logID` in hex, `logIndex` global;
//! - the entry's `logIndex` is global and the proof's is the index in its shard (the
//!   shard's tree), as production Rekor serves them.
//!
//! [`Logged`] has public fields: a test breaks one, re-signs with [`sign_set`] or
//! [`signed_checkpoint`] if it wants the signatures to still hold, and serves
//! [`Logged::answer`].
//!
//! [`TestSigstore::rekor_key`]: super::pki::TestSigstore::rekor_key

use base64::Engine as _;
use rcgen::{KeyPair, PublicKeyData as _, SigningKey as _};
use sha2::{Digest, Sha256};

use super::pki::Pair;

/// 2024-01-10T00:00:00Z: the notBefore of every [`super::pki::Leaf::kubernetes`] leaf,
/// which is valid for 600 seconds.
pub const LEAF_NOT_BEFORE: i64 = 1_704_844_800;

/// When the test log integrated the entry: 30 seconds into the leaf's validity.
pub const INTEGRATED_TIME: i64 = LEAF_NOT_BEFORE + 30;

/// [`INTEGRATED_TIME`] as kverify reports signing times.
pub const INTEGRATED_AT: &str = "2024-01-10T00:00:30Z";

/// The global index of the shard's first entry: production Rekor's active shard starts
/// after every entry of the frozen ones.
pub const SHARD_START: u64 = 1_193_050_959;

/// The shard's tree ID, as the 16 hex digits that prefix an entry ID and in the
/// checkpoint's origin.
pub const TREE_ID: u64 = 0x3f2a_9c41_07d5_b6e8;

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// RFC 6962 leaf hash of a canonical body.
pub fn leaf_hash(body: &[u8]) -> [u8; 32] {
    sha256(&[&[0u8], body])
}

fn node_hash(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    sha256(&[&[1u8], left, right])
}

/// The largest power of two smaller than `n` (n > 1).
fn split(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// MTH(D[n]) over leaf hashes (n > 0).
pub fn tree_hash(leaves: &[[u8; 32]]) -> [u8; 32] {
    match leaves.len() {
        0 => panic!("the test log has no empty trees"),
        1 => leaves[0],
        n => {
            let k = split(n);
            node_hash(&tree_hash(&leaves[..k]), &tree_hash(&leaves[k..]))
        }
    }
}

/// PATH(m, D[n]): the audit path of leaf `m`, from the leaf up.
pub fn audit_path(m: usize, leaves: &[[u8; 32]]) -> Vec<[u8; 32]> {
    let n = leaves.len();
    if n <= 1 {
        return Vec::new();
    }
    let k = split(n);
    if m < k {
        let mut path = audit_path(m, &leaves[..k]);
        path.push(tree_hash(&leaves[k..]));
        path
    } else {
        let mut path = audit_path(m - k, &leaves[k..]);
        path.push(tree_hash(&leaves[..k]));
        path
    }
}

/// The log ID: SHA-256 of the key's DER SubjectPublicKeyInfo.
pub fn log_id(key: &KeyPair) -> [u8; 32] {
    sha256(&[&key.subject_public_key_info()])
}

/// The PEM of a DER certificate as Fulcio returns it and cosign uploads it: 64
/// columns, LF line ends.
fn pem_lf(der: &[u8]) -> String {
    let body = b64(der);
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in body.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).unwrap());
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    pem
}

/// The DER certificate in a `.cert` file (base64 of a PEM, whatever its line ends).
pub fn cert_der(cert_file: &str) -> Vec<u8> {
    let engine = base64::engine::general_purpose::STANDARD;
    let pem = String::from_utf8(engine.decode(cert_file.trim()).unwrap()).unwrap();
    let inner: String = pem.lines().filter(|l| !l.starts_with("-----")).map(str::trim).collect();
    engine.decode(inner).unwrap()
}

/// The canonical `hashedrekord` 0.0.1 body Rekor stores for a detached pair over an
/// artifact with this SHA-256 (RFC 8785: sorted keys, no whitespace).
pub fn hashedrekord_body(artifact_sha256: &[u8; 32], pair: &Pair) -> String {
    let engine = base64::engine::general_purpose::STANDARD;
    let signature = engine.decode(pair.sig.trim()).unwrap();
    let pem = pem_lf(&cert_der(&pair.cert));
    let body = serde_json::json!({
        "apiVersion": "0.0.1",
        "kind": "hashedrekord",
        "spec": {
            "data": {"hash": {"algorithm": "sha256", "value": hex::encode(artifact_sha256)}},
            "signature": {"content": b64(&signature), "publicKey": {"content": b64(pem.as_bytes())}},
        },
    });
    // serde_json sorts object keys unless `preserve_order` is on; the literal above
    // is written sorted so either way the output is canonical.
    body.to_string()
}

/// The SET payload: canonical JSON of `{body, integratedTime, logID, logIndex}`.
pub fn set_payload(body_b64: &str, integrated_time: i64, log_id_hex: &str, log_index: u64) -> Vec<u8> {
    format!(
        r#"{{"body":"{body_b64}","integratedTime":{integrated_time},"logID":"{log_id_hex}","logIndex":{log_index}}}"#
    )
    .into_bytes()
}

/// `entry`'s SET as `key` signs it.
pub fn sign_set(entry: &Logged, key: &KeyPair) -> Vec<u8> {
    let payload = set_payload(&b64(entry.body.as_bytes()), entry.integrated_time, &entry.log_id, entry.log_index);
    key.sign(&payload).unwrap()
}

/// A checkpoint (signed note) for a tree, signed by `key` under the key hint of
/// `hint_key` (the same key, unless a test forges a signature in the log's name).
pub fn signed_checkpoint(origin: &str, tree_size: u64, root: &[u8; 32], key: &KeyPair, hint_key: &KeyPair) -> String {
    let note = format!("{origin}\n{tree_size}\n{}\n", b64(root));
    let mut signature = log_id(hint_key)[..4].to_vec();
    signature.extend(key.sign(note.as_bytes()).unwrap());
    let name = origin.split_whitespace().next().unwrap();
    format!("{note}\n\u{2014} {name} {}\n", b64(&signature))
}

/// One entry as Rekor v1 answers for it, field by field.
#[derive(Clone, Debug)]
pub struct Logged {
    /// Tree ID (16 hex digits) followed by the UUID (the leaf hash).
    pub entry_id: String,
    /// The canonical body (served base64).
    pub body: String,
    pub integrated_time: i64,
    /// Hex SHA-256 of the log key.
    pub log_id: String,
    /// Global index.
    pub log_index: u64,
    /// Index in the shard's tree.
    pub proof_index: u64,
    pub tree_size: u64,
    pub root_hash: [u8; 32],
    pub hashes: Vec<[u8; 32]>,
    pub checkpoint: String,
    pub set: Vec<u8>,
}

impl Logged {
    /// `{entryID: {body, integratedTime, logID, logIndex, verification: {...}}}`.
    pub fn answer(&self) -> serde_json::Value {
        let mut map = serde_json::Map::new();
        map.insert(
            self.entry_id.clone(),
            serde_json::json!({
                "body": b64(self.body.as_bytes()),
                "integratedTime": self.integrated_time,
                "logID": self.log_id,
                "logIndex": self.log_index,
                "verification": {
                    "inclusionProof": {
                        "checkpoint": self.checkpoint,
                        "hashes": self.hashes.iter().map(hex::encode).collect::<Vec<_>>(),
                        "logIndex": self.proof_index,
                        "rootHash": hex::encode(self.root_hash),
                        "treeSize": self.tree_size,
                    },
                    "signedEntryTimestamp": b64(&self.set),
                },
            }),
        );
        serde_json::Value::Object(map)
    }
}

/// A shard of a test Rekor: entries in order, the log key that signs it.
pub struct TestLog<'k> {
    key: &'k KeyPair,
    pub origin: String,
    bodies: Vec<String>,
}

impl<'k> TestLog<'k> {
    /// A shard already holding `others` unrelated hashedrekord entries.
    pub fn new(key: &'k KeyPair, others: usize) -> TestLog<'k> {
        let bodies = (0..others)
            .map(|i| {
                let sha = sha256(&[format!("someone else's artifact {i}").as_bytes()]);
                format!(
                    r#"{{"apiVersion":"0.0.1","kind":"hashedrekord","spec":{{"data":{{"hash":{{"algorithm":"sha256","value":"{}"}}}},"signature":{{"content":"{}","publicKey":{{"content":"{}"}}}}}}}}"#,
                    hex::encode(sha),
                    b64(&sha[..16]),
                    b64(b"not a certificate"),
                )
            })
            .collect();
        TestLog { key, origin: format!("rekor.kverify.test - {TREE_ID}"), bodies }
    }

    /// Appends a canonical body and returns its index in the shard.
    pub fn append(&mut self, body: String) -> u64 {
        self.bodies.push(body);
        (self.bodies.len() - 1) as u64
    }

    /// The answer for entry `index` of the tree as it stands, integrated at
    /// `integrated_time`, SET and checkpoint signed by the log key.
    pub fn logged(&self, index: u64, integrated_time: i64) -> Logged {
        let leaves: Vec<[u8; 32]> = self.bodies.iter().map(|b| leaf_hash(b.as_bytes())).collect();
        let i = index as usize;
        let root = tree_hash(&leaves);
        let tree_size = leaves.len() as u64;
        let mut logged = Logged {
            entry_id: format!("{TREE_ID:016x}{}", hex::encode(leaves[i])),
            body: self.bodies[i].clone(),
            integrated_time,
            log_id: hex::encode(log_id(self.key)),
            log_index: SHARD_START + index,
            proof_index: index,
            tree_size,
            root_hash: root,
            hashes: audit_path(i, &leaves),
            checkpoint: signed_checkpoint(&self.origin, tree_size, &root, self.key, self.key),
            set: Vec::new(),
        };
        logged.set = sign_set(&logged, self.key);
        logged
    }
}

mod tests {
    use super::*;

    /// The RFC 6962 definitions above against a proof checked by hand: every leaf of
    /// every small tree hashes back up to the root along its audit path.
    #[test]
    fn every_audit_path_leads_to_the_root() {
        for n in 1..=9usize {
            let leaves: Vec<[u8; 32]> = (0..n).map(|i| leaf_hash(&[i as u8])).collect();
            let root = tree_hash(&leaves);
            for m in 0..n {
                // RFC 9162 2.1.3.2, verifying an inclusion proof.
                let (mut fnode, mut snode) = (m, n - 1);
                let mut r = leaves[m];
                for p in audit_path(m, &leaves) {
                    assert!(snode > 0);
                    if fnode % 2 == 1 || fnode == snode {
                        r = node_hash(&p, &r);
                        while fnode % 2 == 0 && fnode != 0 {
                            fnode >>= 1;
                            snode >>= 1;
                        }
                    } else {
                        r = node_hash(&r, &p);
                    }
                    fnode >>= 1;
                    snode >>= 1;
                }
                assert_eq!((snode, r), (0, root), "leaf {m} of {n}");
            }
        }
    }
}
