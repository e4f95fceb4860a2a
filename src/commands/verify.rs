//! `kverify verify`: files on disk against checksum files, digests, releases, locks, or a
//! signature given on the command line.

use std::path::PathBuf;

use crate::checksums;
use crate::expect::{Expectations, Policy};
use crate::files::{self, Check};
use crate::lock::{Lock, LockError};
use crate::plan::{Output, ReleaseRequest, SignerPlan, Source, VerifyPlan};
use crate::release::{self, Upstream};
use crate::report::{self, ExitStatus, Reporter};
use crate::signature::{Given, Signer};
use crate::trust::{self, TrustConfig};
use crate::version::Request;
use crate::Error;

pub fn run(plan: VerifyPlan, output: Output) -> Result<ExitStatus, Error> {
    let platform = &plan.upstream.platform;
    let mut expectations = Expectations::new(&platform.os, &platform.arch);
    expectations.platform_asked = plan.platform_given;
    match &plan.source {
        Source::None => {}
        Source::Checksums(paths) => {
            for path in paths {
                expectations.add_checksum_file(&checksums::read(path)?);
            }
        }
        Source::Digest { digest, flag } => expectations.add_digest(*digest, flag),
        Source::Lock(path) => {
            let lock = Lock::load(path)?;
            // A lock may pin several versions of a name: any one of them verifies. A
            // platform asked for narrows the pins to it.
            let narrowed = plan.platform_given.then_some(platform);
            let pinned = release::pinned_expectations(&lock, path, &plan.upstream.trust)?;
            expectations.entries.extend(
                pinned
                    .into_iter()
                    .filter(|e| narrowed.is_none_or(|p| e.subject.as_ref().is_some_and(|s| &s.platform == p))),
            );
            expectations.policy = Policy::AnyOfSubjects;
            if expectations.is_empty() {
                return Err(LockError::pins_nothing(&lock, path, narrowed).into());
            }
        }
        Source::Release(requests) => {
            let upstream = Upstream::new(&plan.upstream)?;
            let (requests, for_every_file) = release_requests(&upstream, requests, &plan.paths)?;
            expectations.entries.extend(upstream.release_expectations(&requests, for_every_file)?);
        }
    }
    let signer = plan.signer.as_ref().map(|s| signer(s, &plan.upstream.trust.config)).transpose()?;
    let check = Check {
        expectations: (!matches!(plan.source, Source::None)).then_some(&expectations),
        signer: signer.as_ref(),
        all_digests: plan.all_digests,
    };
    let mut reporter = Reporter::new(output.format);
    files::verify(&plan.paths, &check, &mut reporter);
    Ok(reporter.finish(if signer.is_some() { "files" } else { "files verified" }))
}

/// The releases `--release` names. One `C@V` applies to every file given, whatever it
/// is called; a bare version applies to the files named like a known component.
fn release_requests(
    upstream: &Upstream,
    requests: &[ReleaseRequest],
    paths: &[PathBuf],
) -> Result<(Vec<Request>, bool), Error> {
    let mut out = Vec::new();
    for request in requests {
        match request {
            ReleaseRequest::Named(r) => out.push(r.clone()),
            ReleaseRequest::Version(version) => {
                let known: Vec<String> =
                    files::names(paths).into_iter().filter(|n| upstream.catalog.knows(n)).collect();
                if known.is_empty() {
                    return Err(Error::usage_hint(
                        format!("--release {version}: no file here is named like a known component"),
                        "name the component: --release kubelet@v1.29.0",
                    ));
                }
                out.extend(known.into_iter().map(|component| Request { component, version: version.clone() }));
            }
        }
    }
    let for_every_file = out.len() == 1 && requests.iter().all(|r| matches!(r, ReleaseRequest::Named(_)));
    Ok((out, for_every_file))
}

/// The signature given on the command line, read once, with the trust root it chains
/// to: `--trusted-root`, else the TUF cache, else the built-in root (no network: a
/// local check refreshes nothing).
fn signer(plan: &SignerPlan, config: &TrustConfig) -> Result<Signer, Error> {
    let loaded = trust::load(config)?;
    loaded.warnings.iter().for_each(|w| report::warn(w));
    let root = loaded.root;
    Ok(match plan {
        SignerPlan::Bundle { path, key, policy } => {
            Signer { given: Given::bundle(path, key.as_deref())?, policy: policy.clone(), root }
        }
        SignerPlan::Detached { signature, certificate, policy } => {
            Signer { given: Given::detached(signature, certificate)?, policy: Some(policy.clone()), root }
        }
    })
}
