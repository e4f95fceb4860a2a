//! kverify: download and verify Kubernetes release binaries before trusting them.
//!
//! `main` parses the command line and calls [`run`]; each subcommand lives in
//! [`commands`] and orchestrates the capabilities below it.

pub mod checksums;
pub mod cli;
pub mod commands;
pub mod digest;
pub mod expect;
pub mod logging;
pub mod platform;
pub mod report;
pub mod signature;

use std::error::Error as _;

pub use report::ExitStatus;

/// Every error that ends a command before its report is complete.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The command line asks for something that cannot be done.
    #[error("{message}")]
    Usage { message: String, hint: Option<String> },
    /// A local file could not be read or written.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// A checksum file is malformed or unacceptable.
    #[error(transparent)]
    Checksums(#[from] checksums::ChecksumError),
    /// A signature, its certificate, a bundle or the trusted root did not verify or
    /// could not be read.
    #[error(transparent)]
    Signature(#[from] signature::SignatureError),
}

impl Error {
    pub fn usage(message: impl Into<String>) -> Error {
        Error::Usage { message: message.into(), hint: None }
    }

    pub fn usage_hint(message: impl Into<String>, hint: impl Into<String>) -> Error {
        Error::Usage { message: message.into(), hint: Some(hint.into()) }
    }

    pub fn exit_status(&self) -> ExitStatus {
        match self {
            Error::Usage { .. } => ExitStatus::Usage,
            Error::Io(_) => ExitStatus::Io,
            Error::Signature(signature::SignatureError::TrustRootUnreadable { .. }) => ExitStatus::Io,
            Error::Checksums(_) | Error::Signature(_) => ExitStatus::Failed,
        }
    }

    /// The next step, where one exists.
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::Usage { hint, .. } => hint.clone(),
            Error::Checksums(checksums::ChecksumError::WeakOnly { .. }) => {
                Some("use the SHA-256 or SHA-512 checksum file the upstream publishes".into())
            }
            Error::Signature(signature::SignatureError::TrustRoot { .. }) => {
                Some("--trusted-root takes a Sigstore trusted_root.json (as `cosign trusted-root create` writes)".into())
            }
            Error::Signature(signature::SignatureError::Identity { .. } | signature::SignatureError::Issuer { .. }) => {
                Some("check --certificate-identity and --certificate-oidc-issuer against the signer the upstream documents".into())
            }
            _ => None,
        }
    }
}

/// Prints an error as `error: …`, its causes as `  caused by: …`, then `hint: …`.
pub fn print_error(err: &Error) {
    eprintln!("error: {err}");
    let mut source = err.source();
    // `transparent` variants share their source's text; skip the repeat.
    if matches!(err, Error::Io(_) | Error::Checksums(_) | Error::Signature(_)) {
        source = source.and_then(|s| s.source());
    }
    while let Some(cause) = source {
        eprintln!("  caused by: {cause}");
        source = cause.source();
    }
    if let Some(hint) = err.hint() {
        eprintln!("hint: {hint}");
    }
}

/// Runs one command line; the status says how it ended.
pub fn run(cli: cli::Cli) -> Result<ExitStatus, Error> {
    commands::run(cli)
}
