//! A test Sigstore: a root CA, an intermediate ("Fulcio") CA and a CT log key, made
//! fresh for each test, and leaves shaped like the certificates Kubernetes publishes.
//!
//! API (for signature and fetch tests alike):
//! - [`TestSigstore::new()`]: root → intermediate CA (valid 2020–2040), a CT log key
//!   and a Rekor log key; the trusted root lists the CA and CT log as valid from
//!   2023-01-01, the Rekor key for 2023-01-01 to 2025-01-01 (a rotated-out log key,
//!   still good for entries integrated while it was current).
//! - [`TestSigstore::rekor_key()`]: that Rekor key, to sign SETs and checkpoints (see
//!   `support::rekor_log`); [`TestSigstore::set_rekor_validity`] moves its window.
//! - [`TestSigstore::trusted_root_json()`] / [`TestSigstore::write_trusted_root(path)`]:
//!   a `trusted_root.json` to pass as `--trusted-root`.
//! - [`TestSigstore::sign(artifact, &Leaf)`] → [`Pair`]: the `.sig` (base64 of a DER
//!   ECDSA P-256 signature, one line) and `.cert` (base64 of a PEM certificate) file
//!   contents for `artifact`, exactly as `dl.k8s.io` serves them, from a fresh leaf.
//! - [`TestSigstore::write_pair(dir, name, artifact, &Leaf)`]: writes `dir/NAME.sig`
//!   and `dir/NAME.cert`.
//! - [`Leaf::kubernetes()`] (also `Default`): SAN
//!   `email:krel-staging@k8s-releng-prod.iam.gserviceaccount.com`, issuer
//!   `https://accounts.google.com` in both OID .1.1 and .1.8, code-signing EKU, an
//!   embedded SCT from the test log, valid 10 minutes from 2024-01-10T00:00:00Z. Its
//!   fields make the broken variants (other identity or issuer, no EKU, SCT missing,
//!   from an unknown log or outside the validity, issued before the CA's window).
//! - [`write_kubernetes_signature(dir, name, artifact, trusted_root)`]: the one-call
//!   version with a fresh `TestSigstore`: `NAME.sig`, `NAME.cert` in `dir` and the
//!   trusted root at `trusted_root`.
//!
//! Detached pairs carry no transparency-log proof, so certificates are checked at their
//! notBefore: fixed dates in the past keep these tests independent of the clock.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use base64::Engine as _;
use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PublicKeyData as _, SanType, SerialNumber, SigningKey as _,
    PKCS_ECDSA_P256_SHA256,
};
use sha2::{Digest, Sha256};
use x509_cert::der::{Decode as _, Encode as _};

pub const K8S_IDENTITY: &str = "krel-staging@k8s-releng-prod.iam.gserviceaccount.com";
pub const K8S_ISSUER: &str = "https://accounts.google.com";

const SCT_OID: &[u64] = &[1, 3, 6, 1, 4, 1, 11129, 2, 4, 2];
const SCT_OID_STR: &str = "1.3.6.1.4.1.11129.2.4.2";
const ISSUER_V1_OID: &[u64] = &[1, 3, 6, 1, 4, 1, 57264, 1, 1];
const ISSUER_V2_OID: &[u64] = &[1, 3, 6, 1, 4, 1, 57264, 1, 8];

/// Where a leaf's embedded SCT comes from, or when it was logged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sct {
    /// From the test log, at the leaf's notBefore.
    Valid,
    /// No SCT extension at all.
    Missing,
    /// Signed by a log key the trusted root does not list.
    UnknownLog,
    /// From the test log, this many seconds after the leaf's notBefore (the leaf is
    /// valid for 600).
    At(i64),
}

/// What the leaf certificate says.
#[derive(Clone, Debug)]
pub struct Leaf {
    /// The SAN: a URI when it contains `://`, else an e-mail address.
    pub identity: String,
    /// The OIDC issuer extensions (.1.1 and .1.8).
    pub issuer: String,
    /// Code-signing EKU; without it the leaf has server-auth only.
    pub code_signing: bool,
    pub sct: Sct,
    /// The day of issuance (UTC midnight); the CA window opens on 2023-01-01.
    pub issued: (i32, u8, u8),
}

impl Leaf {
    pub fn kubernetes() -> Leaf {
        Leaf {
            identity: K8S_IDENTITY.into(),
            issuer: K8S_ISSUER.into(),
            code_signing: true,
            sct: Sct::Valid,
            issued: (2024, 1, 10),
        }
    }
}

impl Default for Leaf {
    fn default() -> Leaf {
        Leaf::kubernetes()
    }
}

/// The two files Kubernetes publishes beside an artifact.
#[derive(Clone, Debug)]
pub struct Pair {
    /// `X.sig`: base64 of the DER ECDSA signature, one line, no newline.
    pub sig: String,
    /// `X.cert`: base64 of the PEM certificate.
    pub cert: String,
}

/// Paths written by [`write_kubernetes_signature`].
#[derive(Clone, Debug)]
pub struct SignedFiles {
    pub sig: PathBuf,
    pub cert: PathBuf,
    pub trusted_root: PathBuf,
}

/// A root CA, an intermediate CA that issues leaves, and a CT log key.
pub struct TestSigstore {
    root_der: Vec<u8>,
    intermediate_der: Vec<u8>,
    intermediate_params: CertificateParams,
    intermediate_key: KeyPair,
    ct_key: KeyPair,
    rekor_key: KeyPair,
    /// The Rekor key's `validFor` in the trusted root: start, and an optional end.
    rekor_valid_for: (String, Option<String>),
}

fn key() -> KeyPair {
    KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn ca_params(name: &str) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(DnType::OrganizationName, "kverify-test");
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    params.not_after = rcgen::date_time_ymd(2040, 1, 1);
    params
}

/// A DER length prefix.
fn der_len(len: usize) -> Vec<u8> {
    match len {
        0..=0x7f => vec![len as u8],
        0x80..=0xff => vec![0x81, len as u8],
        _ => vec![0x82, (len >> 8) as u8, len as u8],
    }
}

fn der_tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    out.extend(der_len(content.len()));
    out.extend_from_slice(content);
    out
}

/// The TBSCertificate of `cert_der` without its SCT extension: what a CT log signs.
fn precert_tbs(cert_der: &[u8]) -> Vec<u8> {
    let cert = x509_cert::Certificate::from_der(cert_der).unwrap();
    let mut tbs = cert.tbs_certificate;
    let oid = x509_cert::der::asn1::ObjectIdentifier::new_unwrap(SCT_OID_STR);
    tbs.extensions = tbs.extensions.map(|exts| exts.into_iter().filter(|e| e.extn_id != oid).collect());
    tbs.to_der().unwrap()
}

impl TestSigstore {
    pub fn new() -> TestSigstore {
        let root_key = key();
        let root_params = ca_params("kverify-test-root");
        let root = root_params.self_signed(&root_key).unwrap();
        let intermediate_key = key();
        let intermediate_params = ca_params("kverify-test-intermediate");
        let root_issuer = Issuer::from_params(&root_params, &root_key);
        let intermediate = intermediate_params.signed_by(&intermediate_key, &root_issuer).unwrap();
        TestSigstore {
            root_der: root.der().to_vec(),
            intermediate_der: intermediate.der().to_vec(),
            intermediate_params,
            intermediate_key,
            ct_key: key(),
            rekor_key: key(),
            rekor_valid_for: ("2023-01-01T00:00:00Z".into(), Some("2025-01-01T00:00:00Z".into())),
        }
    }

    /// The transparency log's signing key (SETs and checkpoints).
    pub fn rekor_key(&self) -> &KeyPair {
        &self.rekor_key
    }

    /// The Rekor key's validity window in the trusted root (RFC 3339 times).
    pub fn set_rekor_validity(&mut self, start: &str, end: Option<&str>) {
        self.rekor_valid_for = (start.into(), end.map(Into::into));
    }

    /// A Sigstore `trusted_root.json` holding this CA chain and CT log, valid from
    /// 2023-01-01, and the Rekor log key in its window; no timestamp authority.
    pub fn trusted_root_json(&self) -> String {
        let ct_spki = self.ct_key.subject_public_key_info();
        let rekor_spki = self.rekor_key.subject_public_key_info();
        let mut rekor_valid_for = serde_json::json!({"start": self.rekor_valid_for.0});
        if let Some(end) = &self.rekor_valid_for.1 {
            rekor_valid_for["end"] = end.as_str().into();
        }
        serde_json::json!({
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [{
                "baseUrl": "https://rekor.invalid",
                "hashAlgorithm": "SHA2_256",
                "publicKey": {
                    "rawBytes": b64(&rekor_spki),
                    "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                    "validFor": rekor_valid_for,
                },
                "logId": {"keyId": b64(&Sha256::digest(&rekor_spki))},
            }],
            "certificateAuthorities": [{
                "subject": {"organization": "kverify-test", "commonName": "kverify-test-intermediate"},
                "uri": "https://fulcio.invalid",
                "certChain": {"certificates": [
                    {"rawBytes": b64(&self.intermediate_der)},
                    {"rawBytes": b64(&self.root_der)},
                ]},
                "validFor": {"start": "2023-01-01T00:00:00Z"},
            }],
            "ctlogs": [{
                "baseUrl": "https://ctfe.invalid",
                "hashAlgorithm": "SHA2_256",
                "publicKey": {
                    "rawBytes": b64(&ct_spki),
                    "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                    "validFor": {"start": "2023-01-01T00:00:00Z"},
                },
                "logId": {"keyId": b64(&Sha256::digest(&ct_spki))},
            }],
            "timestampAuthorities": [],
        })
        .to_string()
    }

    pub fn write_trusted_root(&self, path: &Path) {
        std::fs::write(path, self.trusted_root_json()).unwrap();
    }

    /// Signs `artifact` with a fresh leaf that says what `leaf` says.
    pub fn sign(&self, artifact: &[u8], leaf: &Leaf) -> Pair {
        let leaf_key = key();
        let cert_pem = self.issue(&leaf_key, leaf);
        let signature = leaf_key.sign(artifact).unwrap();
        Pair { sig: b64(&signature), cert: b64(cert_pem.as_bytes()) }
    }

    /// Writes `dir/NAME.sig` and `dir/NAME.cert` for `artifact`.
    pub fn write_pair(&self, dir: &Path, name: &str, artifact: &[u8], leaf: &Leaf) -> (PathBuf, PathBuf) {
        let pair = self.sign(artifact, leaf);
        let sig = dir.join(format!("{name}.sig"));
        let cert = dir.join(format!("{name}.cert"));
        std::fs::write(&sig, &pair.sig).unwrap();
        std::fs::write(&cert, &pair.cert).unwrap();
        (sig, cert)
    }

    /// A leaf certificate (PEM) for `leaf_key`, with an embedded SCT as `leaf.sct` says.
    fn issue(&self, leaf_key: &KeyPair, leaf: &Leaf) -> String {
        let (y, m, d) = leaf.issued;
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params.serial_number = Some(SerialNumber::from_slice(&Sha256::digest(leaf_key.public_key_raw())[..16]));
        params.not_before = rcgen::date_time_ymd(y, m, d);
        params.not_after = params.not_before.replace_minute(10).unwrap();
        let identity = leaf.identity.as_str().try_into().unwrap();
        params.subject_alt_names =
            vec![if leaf.identity.contains("://") { SanType::URI(identity) } else { SanType::Rfc822Name(identity) }];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![if leaf.code_signing {
            ExtendedKeyUsagePurpose::CodeSigning
        } else {
            ExtendedKeyUsagePurpose::ServerAuth
        }];
        params.use_authority_key_identifier_extension = true;
        params.custom_extensions = vec![
            // .1.1 holds the bare string, .1.8 a DER UTF8String, as Fulcio writes them.
            CustomExtension::from_oid_content(ISSUER_V1_OID, leaf.issuer.as_bytes().to_vec()),
            CustomExtension::from_oid_content(ISSUER_V2_OID, der_tlv(0x0c, leaf.issuer.as_bytes())),
        ];
        let issuer = Issuer::from_params(&self.intermediate_params, &self.intermediate_key);
        let precert = params.signed_by(leaf_key, &issuer).unwrap();
        if leaf.sct == Sct::Missing {
            return precert.pem();
        }

        let tbs = precert_tbs(precert.der());
        let not_before_ms = params.not_before.unix_timestamp() as u64 * 1000;
        let stranger;
        let (log_key, timestamp) = match leaf.sct {
            Sct::UnknownLog => {
                stranger = key();
                (&stranger, not_before_ms)
            }
            Sct::At(secs) => (&self.ct_key, (not_before_ms as i64 + secs * 1000) as u64),
            _ => (&self.ct_key, not_before_ms),
        };
        let log_id: [u8; 32] = Sha256::digest(log_key.subject_public_key_info()).into();
        let issuer_key_hash = Sha256::digest(self.intermediate_key.subject_public_key_info());
        // RFC 6962 3.2: what the log signs for a precertificate entry.
        let mut signed = vec![0u8, 0u8];
        signed.extend(timestamp.to_be_bytes());
        signed.extend(1u16.to_be_bytes());
        signed.extend(issuer_key_hash);
        signed.extend(&(tbs.len() as u32).to_be_bytes()[1..]);
        signed.extend(&tbs);
        signed.extend(0u16.to_be_bytes());
        let sct_signature = log_key.sign(&signed).unwrap();

        let mut sct = vec![0u8];
        sct.extend(log_id);
        sct.extend(timestamp.to_be_bytes());
        sct.extend(0u16.to_be_bytes());
        sct.extend([4u8, 3u8]); // sha256, ecdsa
        sct.extend((sct_signature.len() as u16).to_be_bytes());
        sct.extend(&sct_signature);
        let mut list = ((sct.len() + 2) as u16).to_be_bytes().to_vec();
        list.extend((sct.len() as u16).to_be_bytes());
        list.extend(&sct);
        params.custom_extensions.push(CustomExtension::from_oid_content(SCT_OID, der_tlv(0x04, &list)));

        let cert = params.signed_by(leaf_key, &issuer).unwrap();
        // The log signed the certificate without its SCT: that must be what a verifier
        // rebuilds from the final certificate, or every SCT test would test nothing.
        assert_eq!(precert_tbs(cert.der()), tbs, "rcgen changed the TBS between the two passes");
        cert.pem()
    }
}

/// One call for tests that need a signed Kubernetes artifact: a fresh test Sigstore
/// signs `artifact` as the Kubernetes release signer, `dir/NAME.sig` and
/// `dir/NAME.cert` are written, and the trusted root goes to `trusted_root`.
pub fn write_kubernetes_signature(dir: &Path, name: &str, artifact: &[u8], trusted_root: &Path) -> SignedFiles {
    let sigstore = TestSigstore::new();
    sigstore.write_trusted_root(trusted_root);
    let (sig, cert) = sigstore.write_pair(dir, name, artifact, &Leaf::kubernetes());
    SignedFiles { sig, cert, trusted_root: trusted_root.to_path_buf() }
}
