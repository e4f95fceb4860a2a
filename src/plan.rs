//! The command line lowered into a validated plan: every value parsed into its type,
//! every choice an enum, every impossible combination refused (exit 2) before anything
//! runs. Commands receive a plan, never clap's types.

use std::path::PathBuf;
use std::time::Duration;

use crate::cli::{self, Cli, Command, OutputArgs, SignatureArgs, SourceArgs};
use crate::digest::{Algorithm, Digest};
use crate::platform::Platform;
use crate::release::{SignaturePolicy, TrustOptions, UpstreamSettings};
use crate::report::Format;
use crate::signature::{IdentityMatcher, Policy, KUBERNETES_IDENTITY, KUBERNETES_ISSUER};
use crate::transport;
use crate::trust::TrustConfig;
use crate::version::{Request, VersionRequest};
use crate::Error;

/// How to print, for every command.
#[derive(Clone, Copy, Debug)]
pub struct Output {
    pub format: Format,
    /// No progress bars (`--no-progress`, `--quiet`, `--json`).
    pub no_bars: bool,
    /// Not even one line per download (`--quiet`, `--json`).
    pub silent: bool,
}

/// One command, ready to run.
pub enum Plan {
    Fetch(FetchPlan),
    Verify(VerifyPlan),
    Lock(LockPlan),
    Mirror(MirrorPlan),
    Identify(IdentifyPlan),
    Node(NodePlan),
    Components { catalogs: Vec<PathBuf> },
    Trust(TrustPlan),
    Cache(CachePlan),
    Completions(clap_complete::Shell),
}

/// `cache dir` or `cache clean`.
pub enum CacheAction {
    Dir,
    /// Remove everything, or only what was not used for this long.
    Clean {
        older_than: Option<Duration>,
    },
}

pub struct CachePlan {
    pub action: CacheAction,
    /// `None` when no directory can be named (no KVERIFY_CACHE_DIR, XDG_CACHE_HOME, HOME).
    pub dir: Option<PathBuf>,
}

/// `trust update` or `trust show`.
pub enum TrustAction {
    Update { as_of: Option<String> },
    Show,
}

pub struct TrustPlan {
    pub action: TrustAction,
    pub transport: transport::Options,
    pub config: TrustConfig,
}

pub struct FetchPlan {
    pub upstream: UpstreamSettings,
    pub requests: Vec<Request>,
    pub dest: PathBuf,
    pub keep_archive: bool,
    /// `--lock FILE`, and whether artifacts it does not pin fail (`--locked`).
    pub lock: Option<(PathBuf, bool)>,
}

/// What `verify` compares files with.
pub enum Source {
    /// Only a signature (`--bundle` or `--signature`).
    None,
    Checksums(Vec<PathBuf>),
    Digest {
        digest: Digest,
        flag: &'static str,
    },
    Release(Vec<ReleaseRequest>),
    Lock(PathBuf),
}

/// What `--release` names: one component at a version, or a version whose components
/// are the names of the files given (or installed).
pub enum ReleaseRequest {
    Named(Request),
    Version(VersionRequest),
}

/// A signature given on the command line, and who must have made it.
pub enum SignerPlan {
    Bundle { path: PathBuf, key: Option<PathBuf>, policy: Option<Policy> },
    Detached { signature: PathBuf, certificate: PathBuf, policy: Policy },
}

pub struct VerifyPlan {
    pub paths: Vec<PathBuf>,
    pub source: Source,
    pub signer: Option<SignerPlan>,
    pub all_digests: bool,
    /// `--os` or `--arch` was given: it narrows a lock's pins to that platform.
    pub platform_given: bool,
    pub upstream: UpstreamSettings,
}

pub struct LockPlan {
    pub upstream: UpstreamSettings,
    pub requests: Vec<Request>,
    pub platforms: Vec<Platform>,
    pub output: PathBuf,
    pub check: bool,
    /// The Rekor log to capture proofs from; `None` with `--no-rekor`.
    pub rekor: Option<String>,
}

pub struct MirrorPlan {
    pub upstream: UpstreamSettings,
    pub requests: Vec<Request>,
    pub to: PathBuf,
    pub rekor: Option<String>,
}

pub struct IdentifyPlan {
    pub files: Vec<PathBuf>,
    pub locks: Vec<PathBuf>,
    pub checksums: Vec<PathBuf>,
}

/// What `node` checks the installed binaries against.
pub enum NodeSource {
    Lock(PathBuf),
    Release(Vec<ReleaseRequest>),
}

pub struct NodePlan {
    pub root: PathBuf,
    pub source: NodeSource,
    pub upstream: UpstreamSettings,
}

/// Lowers a parsed command line into a plan.
pub fn lower(cli: Cli) -> Result<(Output, Plan), Error> {
    let output = output(&cli.output);
    let plan = match cli.command {
        Command::Fetch(a) => {
            if a.locked && a.lock.is_none() {
                return Err(Error::usage("--locked needs --lock FILE"));
            }
            Plan::Fetch(FetchPlan {
                upstream: upstream(&a.source)?,
                requests: requests(&a.targets, true)?,
                dest: a.dest.unwrap_or_else(|| PathBuf::from(".")),
                keep_archive: a.keep_archive,
                lock: a.lock.map(|path| (path, a.locked)),
            })
        }
        Command::Verify(a) => Plan::Verify(verify(a)?),
        Command::Lock(a) => {
            if a.targets.is_empty() && !a.check {
                return Err(Error::usage_hint(
                    "nothing to lock",
                    "kverify lock kubelet@v1.29.0 kubectl@v1.29.0 -o kverify.lock",
                ));
            }
            let upstream = upstream(&a.source)?;
            let platforms = match a.platform.is_empty() {
                true => vec![upstream.platform.clone()],
                false => a.platform.iter().map(|p| Platform::parse(p)).collect::<Result<_, _>>()?,
            };
            Plan::Lock(LockPlan {
                requests: requests(&a.targets, false)?,
                upstream,
                platforms,
                output: a.output,
                check: a.check,
                rekor: rekor(&a.rekor),
            })
        }
        Command::Mirror(a) => Plan::Mirror(MirrorPlan {
            upstream: upstream(&a.source)?,
            requests: requests(&a.targets, false)?,
            to: a.to,
            rekor: rekor(&a.rekor),
        }),
        Command::Identify(a) => {
            if a.lock.is_empty() && a.checksums.is_empty() {
                return Err(Error::usage_hint("nothing to identify against", "give --lock FILE or --checksums FILE"));
            }
            Plan::Identify(IdentifyPlan { files: a.files, locks: a.lock, checksums: a.checksums })
        }
        Command::Node(a) => {
            let source = match (a.lock, a.release.is_empty()) {
                (Some(lock), _) => NodeSource::Lock(lock),
                (None, false) => NodeSource::Release(release_requests(&a.release)?),
                (None, true) => return Err(Error::usage_hint(
                    "nothing to check the installed binaries against",
                    "give --lock FILE (written by `kverify lock`) or --release C@V (e.g. --release kubelet@v1.29.0)",
                )),
            };
            Plan::Node(NodePlan { root: a.root, source, upstream: upstream(&a.source)? })
        }
        Command::Components(a) => Plan::Components { catalogs: a.catalog },
        Command::Trust(a) => Plan::Trust(TrustPlan {
            action: match a.action {
                cli::TrustAction::Update { as_of } => TrustAction::Update { as_of },
                cli::TrustAction::Show => TrustAction::Show,
            },
            config: trust_config(&a.trust, a.transport.offline, None)?,
            transport: transport_options(&a.transport),
        }),
        Command::Cache(a) => Plan::Cache(CachePlan {
            action: match a.action {
                cli::CacheAction::Dir => CacheAction::Dir,
                cli::CacheAction::Clean { older_than } => CacheAction::Clean {
                    older_than: older_than.map(|days| Duration::from_secs(days.saturating_mul(24 * 60 * 60))),
                },
            },
            dir: crate::cache::default_dir(),
        }),
        Command::Completions { shell } => Plan::Completions(shell),
    };
    Ok((output, plan))
}

fn output(args: &OutputArgs) -> Output {
    let format = if args.json {
        Format::Json
    } else if args.quiet {
        Format::Quiet
    } else {
        Format::Text
    };
    let silent = args.quiet || args.json;
    Output { format, no_bars: silent || args.no_progress, silent }
}

/// `COMPONENT VERSION` (when `pair` allows it) or `COMPONENT@VERSION...`.
fn requests(targets: &[String], pair: bool) -> Result<Vec<Request>, Error> {
    Request::parse_all(targets, pair).map_err(|e| match e {
        crate::version::BadRequest::Version(v) => Error::Version(v),
        e => Error::usage_hint(e.to_string(), "or one COMPONENT VERSION pair: kverify fetch kubelet v1.29.0"),
    })
}

/// `--release` values: `C@V`, or a bare version.
fn release_requests(values: &[String]) -> Result<Vec<ReleaseRequest>, Error> {
    values
        .iter()
        .map(|v| match v.contains('@') {
            true => requests(std::slice::from_ref(v), false).map(|mut r| ReleaseRequest::Named(r.remove(0))),
            false => Ok(ReleaseRequest::Version(VersionRequest::parse(v)?)),
        })
        .collect()
}

fn rekor(args: &cli::RekorArgs) -> Option<String> {
    (!args.no_rekor).then(|| args.rekor_url.clone())
}

/// The run's view of the upstreams: platform, transport, catalog and trust.
pub fn upstream(args: &SourceArgs) -> Result<UpstreamSettings, Error> {
    Ok(UpstreamSettings {
        catalogs: args.catalog.clone(),
        platform: Platform::from_flags(args.os.as_deref(), args.arch.as_deref())?,
        transport: transport_options(&args.transport),
        trust: TrustOptions {
            policy: SignaturePolicy::from_flags(
                args.signature.require_signature,
                args.signature.insecure_skip_signature,
            ),
            identity: identity(&args.signature)?,
            issuer: args.signature.certificate_oidc_issuer.clone(),
            config: trust_config(&args.trust, args.transport.offline, args.signature.trusted_root.clone())?,
            keyring: args.signature.keyring.clone(),
        },
        cache: (!args.transport.no_cache).then(crate::cache::default_dir).flatten(),
    })
}

fn transport_options(args: &cli::TransportArgs) -> transport::Options {
    transport::Options {
        mirrors: args.mirror.clone(),
        ca_certs: args.ca_cert.clone(),
        timeout: Duration::from_secs(args.timeout.max(1)),
        offline: args.offline,
        deadline: args.deadline.map(|s| Duration::from_secs(s.max(1))),
        ..transport::Options::default()
    }
}

/// Where Sigstore trust comes from: `--trusted-root`, the TUF cache, the built-in root.
fn trust_config(args: &cli::TrustArgs, offline: bool, trusted_root: Option<PathBuf>) -> Result<TrustConfig, Error> {
    Ok(TrustConfig::new(args.tuf_url.as_deref(), args.tuf_root.clone(), offline, trusted_root)?)
}

fn identity(sig: &SignatureArgs) -> Result<Option<IdentityMatcher>, Error> {
    match (&sig.certificate_identity, &sig.certificate_identity_regexp) {
        (Some(exact), _) => Ok(Some(IdentityMatcher::Exact(exact.clone()))),
        (None, Some(pattern)) => IdentityMatcher::regexp(pattern)
            .map(Some)
            .map_err(|e| Error::usage(format!("--certificate-identity-regexp {pattern:?}: {e}"))),
        (None, None) => Ok(None),
    }
}

fn verify(a: cli::VerifyArgs) -> Result<VerifyPlan, Error> {
    let flags = &a.source.signature;
    let signer = match (&a.bundle, &a.signature, &a.certificate) {
        (None, None, None) if a.key.is_some() => {
            return Err(Error::usage("--key verifies Sigstore bundles: give --bundle FILE"))
        }
        (None, None, None) => None,
        _ if flags.insecure_skip_signature => {
            return Err(Error::usage("--insecure-skip-signature contradicts --bundle/--signature"))
        }
        _ if !a.release.is_empty() || a.lock.is_some() => {
            return Err(Error::usage_hint(
                "--bundle and --signature combine with --checksums, --sha256 or --sha512 only",
                "--release and --lock check the signatures they know of by themselves",
            ))
        }
        (Some(bundle), _, _) => {
            let policy = signer_policy(flags, a.key.is_some())?;
            Some(SignerPlan::Bundle { path: bundle.clone(), key: a.key.clone(), policy })
        }
        (None, Some(_), None) | (None, None, Some(_)) => {
            return Err(Error::usage("give --signature FILE with --certificate FILE"))
        }
        (None, Some(signature), Some(certificate)) => {
            if a.key.is_some() {
                return Err(Error::usage("--key verifies Sigstore bundles: give --bundle FILE"));
            }
            let Some(policy) = signer_policy(flags, false)? else {
                return Err(Error::Internal("no policy without a key".into()));
            };
            Some(SignerPlan::Detached { signature: signature.clone(), certificate: certificate.clone(), policy })
        }
    };
    let source = if !a.checksums.is_empty() {
        Source::Checksums(a.checksums)
    } else if let Some(hex) = &a.sha256 {
        Source::Digest { digest: digest_flag(Algorithm::Sha256, hex, "--sha256")?, flag: "--sha256" }
    } else if let Some(hex) = &a.sha512 {
        Source::Digest { digest: digest_flag(Algorithm::Sha512, hex, "--sha512")?, flag: "--sha512" }
    } else if !a.release.is_empty() {
        Source::Release(release_requests(&a.release)?)
    } else if let Some(lock) = a.lock {
        Source::Lock(lock)
    } else if signer.is_some() {
        Source::None
    } else {
        return Err(Error::usage_hint(
            "nothing to verify against",
            "give --checksums FILE, --sha256 HEX, --sha512 HEX, --release C@V or --lock FILE",
        ));
    };
    Ok(VerifyPlan {
        paths: a.paths,
        source,
        signer,
        all_digests: a.all_digests,
        platform_given: a.source.os.is_some() || a.source.arch.is_some(),
        upstream: upstream(&a.source)?,
    })
}

fn digest_flag(algorithm: Algorithm, hex: &str, flag: &str) -> Result<Digest, Error> {
    Digest::from_hex_as(algorithm, hex.trim()).map_err(|e| Error::usage(format!("{flag} {hex}: {e}")))
}

/// The pinned signer of a given signature. An unpinned identity proves only that
/// somebody signed, so without a key both the identity and the issuer are required.
fn signer_policy(flags: &SignatureArgs, key: bool) -> Result<Option<Policy>, Error> {
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
    match (identity(flags)?, &flags.certificate_oidc_issuer) {
        (Some(identity), Some(issuer)) => Ok(Some(Policy { identity, issuer: issuer.clone() })),
        _ => Err(Error::usage_hint(
            "a signature proves nothing without a pinned signer: give both --certificate-identity and --certificate-oidc-issuer",
            format!(
                "for Kubernetes release artifacts: --certificate-identity {KUBERNETES_IDENTITY} --certificate-oidc-issuer {KUBERNETES_ISSUER}"
            ),
        )),
    }
}
