//! `kverify verify FILE... --bundle B | --signature S --certificate C`: who signed files
//! on disk, with a pinned identity, offline. A checksum source given as well
//! (`--checksums`, `--sha256`, `--sha512`) must pass too, on the same single read.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use crate::cli::{SignatureArgs, VerifyArgs};
use crate::commands::verify::compare;
use crate::digest::{hash_files, Algorithm, AlgorithmSet};
use crate::expect::{to_compare, Expectations, Expected};
use crate::report::{ExitStatus, Format, Outcome, Reporter, Status};
use crate::signature::{self, IdentityMatcher, Policy, SignatureError, TrustRoot};
use crate::Error;

/// The signature evidence given on the command line, read once for every file.
enum Given {
    Bundle { path: PathBuf, json: Vec<u8>, key: Option<Vec<u8>> },
    Detached { sig_path: PathBuf, sig: Vec<u8>, cert_path: PathBuf, cert: Vec<u8> },
}

impl Given {
    fn check(
        &self,
        sha256: &[u8; 32],
        policy: Option<&Policy>,
        root: &TrustRoot,
    ) -> Result<crate::report::SignatureEvidence, SignatureError> {
        match (self, policy) {
            (Given::Bundle { json, key: Some(key), .. }, _) => {
                signature::verify_bundle_with_key(sha256, json, key, root)
            }
            (Given::Bundle { json, .. }, Some(policy)) => signature::verify_bundle(sha256, json, policy, root),
            (Given::Detached { sig, cert, .. }, Some(policy)) => {
                signature::verify_detached(sha256, sig, cert, policy, root)
            }
            // `policy()` returns one whenever there is no key.
            (_, None) => Err(SignatureError::Identity { expected: "a pinned identity".into(), found: "none".into() }),
        }
    }

    /// Which files the evidence came from, for the report.
    fn files(&self) -> String {
        match self {
            Given::Bundle { path, .. } => format!("bundle {}", path.display()),
            Given::Detached { sig_path, cert_path, .. } => {
                format!("signature {}, certificate {}", sig_path.display(), cert_path.display())
            }
        }
    }
}

pub fn run(args: VerifyArgs, format: Format) -> Result<ExitStatus, Error> {
    let flags = &args.source.signature;
    if flags.insecure_skip_signature {
        return Err(Error::usage("--insecure-skip-signature contradicts --bundle/--signature"));
    }
    if !args.release.is_empty() || args.lock.is_some() {
        return Err(Error::usage_hint(
            "--bundle and --signature combine with --checksums, --sha256 or --sha512 only",
            "--release and --lock check the signatures they know of by themselves",
        ));
    }
    if args.key.is_some() && args.bundle.is_none() {
        return Err(Error::usage("--key verifies Sigstore bundles: give --bundle FILE"));
    }
    let policy = policy(flags, args.key.is_some())?;
    let root = match &flags.trusted_root {
        Some(path) => TrustRoot::from_file(path)?,
        None => TrustRoot::production()?,
    };
    let given = match (&args.bundle, &args.signature, &args.certificate) {
        (Some(bundle), _, _) => Given::Bundle {
            path: bundle.clone(),
            json: read_evidence(bundle, signature::MAX_BUNDLE_LEN)?,
            key: args.key.as_deref().map(|k| read_evidence(k, signature::MAX_DETACHED_LEN)).transpose()?,
        },
        (None, Some(sig), Some(cert)) => Given::Detached {
            sig_path: sig.clone(),
            sig: read_evidence(sig, signature::MAX_DETACHED_LEN)?,
            cert_path: cert.clone(),
            cert: read_evidence(cert, signature::MAX_DETACHED_LEN)?,
        },
        _ => return Err(Error::usage("give --bundle FILE, or --signature FILE with --certificate FILE")),
    };
    let expectations = expectations(&args)?;

    let mut reporter = Reporter::new(format);
    let mut jobs = Vec::new();
    let mut chosen: Vec<Vec<&Expected>> = Vec::new();
    for path in &args.paths {
        let early = match std::fs::metadata(path) {
            Err(e) => Some(path_outcome(path, Status::Error).with_message(format!("cannot read: {e}"))),
            Ok(meta) if meta.is_dir() => {
                Some(path_outcome(path, Status::Fail).with_message("is a directory: a signature covers one file"))
            }
            Ok(_) => None,
        };
        if let Some(outcome) = early {
            reporter.record(&outcome);
            continue;
        }
        let mut set = AlgorithmSet::only(Algorithm::Sha256);
        let mut compare_with = Vec::new();
        if let Some(expectations) = &expectations {
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            match expectations.matching(&name, true) {
                Ok(applying) if applying.is_empty() => {
                    reporter.record(
                        &path_outcome(path, Status::Fail)
                            .with_message("no checksum source lists this file; not verified"),
                    );
                    continue;
                }
                Ok(applying) => {
                    let (entries, algorithms) = to_compare(&applying, args.all_digests);
                    Algorithm::ALL.iter().filter(|a| algorithms.contains(**a)).for_each(|a| set.insert(*a));
                    compare_with = entries;
                }
                Err(ambiguous) => {
                    reporter.record(&path_outcome(path, Status::Fail).with_message(ambiguous.to_string()));
                    continue;
                }
            }
        }
        jobs.push((path.clone(), set));
        chosen.push(compare_with);
    }

    for ((path, _), (result, compare_with)) in jobs.iter().zip(hash_files(&jobs).into_iter().zip(&chosen)) {
        let digests = match result {
            Ok((digests, _)) => digests,
            Err(e) => {
                reporter.record(&path_outcome(path, Status::Error).with_message(format!("cannot read: {e}")));
                continue;
            }
        };
        let mut outcome = if expectations.is_some() {
            compare(path, compare_with, digests.clone())
        } else {
            let mut outcome = path_outcome(path, Status::Ok);
            outcome.digests = digests.clone();
            outcome
        };
        let Some(sha256) = digests.sha256_bytes() else {
            reporter.record(&outcome.with_message("sha256 was not computed"));
            continue;
        };
        match given.check(sha256, policy.as_ref(), &root) {
            Ok(evidence) => outcome.evidence.signature = Some(evidence),
            Err(e) => {
                outcome.status = Status::Fail;
                let text = format!("signature: {}", signature::chain_text(&e));
                outcome.message = Some(match outcome.message.take() {
                    Some(before) => format!("{before}; {text}"),
                    None => text,
                });
            }
        }
        outcome.details.push(format!("evidence: {}", given.files()));
        reporter.record(&outcome);
    }
    Ok(reporter.finish("files"))
}

/// The pinned signer. An unpinned identity proves only that somebody signed, so
/// without a key both the identity and the issuer are required.
fn policy(flags: &SignatureArgs, key: bool) -> Result<Option<Policy>, Error> {
    let any_identity_flag = flags.certificate_identity.is_some()
        || flags.certificate_identity_regexp.is_some()
        || flags.certificate_oidc_issuer.is_some();
    if key {
        if any_identity_flag {
            return Err(Error::usage(
                "--key verifies a managed-key bundle, which has no certificate identity to match",
            ));
        }
        return Ok(None);
    }
    let identity = match (&flags.certificate_identity, &flags.certificate_identity_regexp) {
        (Some(exact), _) => Some(IdentityMatcher::Exact(exact.clone())),
        (None, Some(pattern)) => Some(
            IdentityMatcher::regexp(pattern)
                .map_err(|e| Error::usage(format!("--certificate-identity-regexp {pattern:?}: {e}")))?,
        ),
        (None, None) => None,
    };
    match (identity, &flags.certificate_oidc_issuer) {
        (Some(identity), Some(issuer)) => Ok(Some(Policy { identity, issuer: issuer.clone() })),
        _ => Err(Error::usage_hint(
            "a signature proves nothing without a pinned signer: give both --certificate-identity and --certificate-oidc-issuer",
            format!(
                "for Kubernetes release artifacts: --certificate-identity {} --certificate-oidc-issuer {}",
                signature::KUBERNETES_IDENTITY,
                signature::KUBERNETES_ISSUER
            ),
        )),
    }
}

/// The checksum sources given beside the signature, if any; the same rules as
/// `verify` without a signature.
fn expectations(args: &VerifyArgs) -> Result<Option<Expectations>, Error> {
    if args.checksums.is_empty() && args.sha256.is_none() && args.sha512.is_none() {
        return Ok(None);
    }
    super::verify::local_expectations(args).map(Some)
}

/// Reads a signature, certificate, key, bundle or trusted root: unreadable is an I/O
/// error (exit 3), oversized is malformed evidence (exit 1).
fn read_evidence(path: &Path, cap: u64) -> Result<Vec<u8>, Error> {
    let file = fs_err::File::open(path)?;
    let mut bytes = Vec::new();
    file.take(cap + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > cap {
        return Err(SignatureError::TooLarge { file: path.display().to_string(), cap }.into());
    }
    Ok(bytes)
}

fn path_outcome(path: &Path, status: Status) -> Outcome {
    let mut outcome = Outcome::new(status);
    outcome.path = Some(path.to_path_buf());
    outcome
}
