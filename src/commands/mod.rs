//! One module per subcommand: orchestration of the capabilities, no parsing of bytes.

mod components;
mod fetch;
mod identify;
mod lock;
mod mirror;
mod node;
mod signed;
mod verify;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use crate::catalog::Catalog;
use crate::cli::{Cli, Command, OutputArgs, SourceArgs};
use crate::fetch::{Options, Transport};
use crate::platform::Platform;
use crate::release::{self, SignaturePolicy, SignedSbom, TrustOptions};
use crate::report::{ExitStatus, Format, Outcome, Status};
use crate::signature::TrustRoot;
use crate::version::VersionRequest;
use crate::Error;

pub fn run(cli: Cli) -> Result<ExitStatus, Error> {
    let format = format(&cli.output);
    match cli.command {
        Command::Fetch(args) => fetch::run(args, &cli.output, format),
        Command::Verify(args) => verify::run(args, format),
        Command::Node(args) => node::run(args, format),
        Command::Components(args) => components::run(args, format),
        Command::Lock(args) => lock::run(args, &cli.output, format),
        Command::Mirror(args) => mirror::run(args, &cli.output, format),
        Command::Identify(args) => identify::run(args, format),
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "kverify", &mut std::io::stdout());
            Ok(ExitStatus::Ok)
        }
    }
}

fn format(output: &OutputArgs) -> Format {
    if output.json {
        Format::Json
    } else if output.quiet {
        Format::Quiet
    } else {
        Format::Text
    }
}

/// What every downloading command sets up once: catalog, platform, transport, trust.
pub struct Session {
    pub catalog: Catalog,
    pub platform: Platform,
    pub transport: Transport,
    pub trust: TrustOptions,
    root: OnceLock<TrustRoot>,
    /// Release SBOMs already fetched and verified, by URL (`None`: not published).
    sboms: Mutex<HashMap<String, Option<Arc<SignedSbom>>>>,
}

impl Session {
    pub fn new(args: &SourceArgs) -> Result<Session, Error> {
        let catalog = Catalog::load(&args.catalog)?;
        let platform = Platform::from_flags(args.os.as_deref(), args.arch.as_deref())?;
        let options = Options {
            mirrors: args.mirror.clone(),
            ca_certs: args.ca_cert.clone(),
            timeout: Duration::from_secs(args.timeout.max(1)),
            ..Options::default()
        };
        let transport = Transport::new(&options)?;
        Ok(Session {
            catalog,
            platform,
            transport,
            trust: trust_options(&args.signature),
            root: OnceLock::new(),
            sboms: Mutex::new(HashMap::new()),
        })
    }

    /// The signed release SBOM that lists `artifact`, fetched and verified once per run
    /// (concurrent callers wait for the first); `None` when there is none to use.
    pub fn signed_sbom(&self, artifact: &crate::catalog::Artifact) -> Result<Option<Arc<SignedSbom>>, Error> {
        let Some(sbom) = &artifact.sbom else { return Ok(None) };
        let mut cache = self.sboms.lock().map_err(|_| Error::usage("a download thread panicked"))?;
        if let Some(known) = cache.get(&sbom.url) {
            return Ok(known.clone());
        }
        let signed = release::signed_sbom(&self.transport, artifact, &self.trust, || self.trust_root())?.map(Arc::new);
        cache.insert(sbom.url.clone(), signed.clone());
        Ok(signed)
    }

    /// The transparency-log proof of a verified detached pair, looked up in the Rekor
    /// log at `rekor_url` over the artifact's SHA-256 (`Ok(None)`: the log holds none, or
    /// the files are not a pair).
    pub fn capture_proof(
        &self,
        rekor_url: &str,
        files: &release::SignatureFiles,
        sha256: &[u8; 32],
    ) -> Result<Option<crate::rekor::Captured>, Error> {
        let Some(cert) = &files.certificate else { return Ok(None) };
        let policy = release::policy_for(&files.reference.identity, &files.reference.issuer, &self.trust)?;
        Ok(crate::rekor::capture(
            &self.transport,
            rekor_url,
            sha256,
            &files.signature,
            cert,
            &policy,
            self.trust_root()?,
        )?)
    }

    /// The trust root, loaded on first use (a run that checks no signature never needs it).
    pub fn trust_root(&self) -> Result<&TrustRoot, Error> {
        if let Some(root) = self.root.get() {
            return Ok(root);
        }
        let root = release::trust_root(&self.trust)?;
        Ok(self.root.get_or_init(|| root))
    }
}

/// The signature policy, identity overrides and trust root the flags ask for.
pub fn trust_options(sig: &crate::cli::SignatureArgs) -> TrustOptions {
    TrustOptions {
        policy: SignaturePolicy::from_flags(sig.require_signature, sig.insecure_skip_signature),
        identity: sig.certificate_identity.clone(),
        identity_regexp: sig.certificate_identity_regexp.clone(),
        issuer: sig.certificate_oidc_issuer.clone(),
        trusted_root: sig.trusted_root.clone(),
    }
}

/// An outcome naming `artifact`, to be filled in.
pub fn labelled(artifact: &crate::catalog::Artifact) -> Outcome {
    let mut outcome = Outcome::new(Status::Ok);
    outcome.component = Some(artifact.component.clone());
    outcome.version = Some(artifact.version.to_string());
    outcome.platform = Some(artifact.platform.to_string());
    outcome.url = Some(artifact.url.clone());
    outcome
}

/// Marks `outcome` as failed by `e`: `error` for network and I/O trouble (exit 3),
/// `fail` for everything else (exit 1).
pub fn fail(outcome: &mut Outcome, e: &Error) {
    outcome.status = if e.exit_status() == ExitStatus::Io { Status::Error } else { Status::Fail };
    if outcome.message.is_none() {
        outcome.message = Some(e.chain());
    }
    if let Some(hint) = e.hint() {
        outcome.details.push(format!("hint: {hint}"));
    }
}

/// `COMPONENT VERSION` (when `pair` allows it) or `COMPONENT@VERSION...`.
pub fn parse_targets(targets: &[String], pair: bool) -> Result<Vec<(String, VersionRequest)>, Error> {
    if pair && targets.len() == 2 && !targets.iter().any(|t| t.contains('@')) {
        return Ok(vec![(targets[0].clone(), VersionRequest::parse(&targets[1])?)]);
    }
    targets
        .iter()
        .map(|t| match t.split_once('@') {
            Some((c, v)) if !c.is_empty() => Ok((c.to_string(), VersionRequest::parse(v)?)),
            _ => Err(Error::usage_hint(
                format!("{t:?}: give COMPONENT@VERSION (e.g. kubelet@v1.29.0)"),
                "or one COMPONENT VERSION pair: kverify fetch kubelet v1.29.0",
            )),
        })
        .collect()
}
