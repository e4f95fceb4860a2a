//! One module per subcommand: orchestration of the capabilities, no parsing of bytes.

mod components;
mod fetch;
mod node;
mod verify;

use std::sync::OnceLock;
use std::time::Duration;

use crate::catalog::{Catalog, VersionRequest};
use crate::cli::{Cli, Command, OutputArgs, SourceArgs};
use crate::fetch::{Options, Transport};
use crate::platform::Platform;
use crate::release::{SignaturePolicy, TrustOptions};
use crate::report::{ExitStatus, Format};
use crate::signature::TrustRoot;
use crate::Error;

pub fn run(cli: Cli) -> Result<ExitStatus, Error> {
    let format = format(&cli.output);
    match cli.command {
        Command::Fetch(args) => fetch::run(args, &cli.output, format),
        Command::Verify(args) => verify::run(args, format),
        Command::Node(args) => node::run(args, format),
        Command::Components(args) => components::run(args, format),
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "kverify", &mut std::io::stdout());
            Ok(ExitStatus::Ok)
        }
        _ => Err(Error::usage("this command is not built yet")),
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
        let sig = &args.signature;
        let trust = TrustOptions {
            policy: SignaturePolicy::from_flags(sig.require_signature, sig.insecure_skip_signature),
            identity: sig.certificate_identity.clone(),
            issuer: sig.certificate_oidc_issuer.clone(),
            trusted_root: sig.trusted_root.clone(),
        };
        Ok(Session { catalog, platform, transport, trust, root: OnceLock::new() })
    }

    /// The trust root, loaded on first use (a run that checks no signature never needs it).
    pub fn trust_root(&self) -> Result<&TrustRoot, Error> {
        if let Some(root) = self.root.get() {
            return Ok(root);
        }
        let root = crate::release::trust_root(&self.trust)?;
        Ok(self.root.get_or_init(|| root))
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
