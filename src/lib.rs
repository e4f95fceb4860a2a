//! kverify: download and verify Kubernetes release binaries before trusting them.
//!
//! `main` parses the command line and calls [`run`]; each subcommand lives in
//! [`commands`] and orchestrates the capabilities below it.

pub mod archive;
pub mod catalog;
pub mod checksums;
pub mod cli;
pub mod commands;
pub mod digest;
pub mod expect;
pub mod fetch;
pub mod install;
pub mod lock;
pub mod logging;
pub mod node;
pub mod openpgp;
pub mod platform;
pub mod progress;
pub mod rekor;
pub mod release;
pub mod report;
pub mod sbom;
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
    #[error(transparent)]
    Catalog(#[from] catalog::CatalogError),
    #[error(transparent)]
    Fetch(#[from] fetch::FetchError),
    #[error(transparent)]
    Install(#[from] install::InstallError),
    #[error(transparent)]
    Archive(#[from] archive::ArchiveError),
    #[error(transparent)]
    Release(#[from] release::ReleaseError),
    /// A signature, its certificate, a bundle or the trusted root did not verify or
    /// could not be read.
    #[error(transparent)]
    Signature(#[from] signature::SignatureError),
    #[error(transparent)]
    Lock(#[from] lock::LockError),
    #[error(transparent)]
    Sbom(#[from] sbom::SbomError),
    #[error(transparent)]
    Rekor(#[from] rekor::RekorError),
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
            Error::Io(_) | Error::Install(_) => ExitStatus::Io,
            Error::Signature(signature::SignatureError::TrustRootUnreadable { .. }) => ExitStatus::Io,
            Error::Checksums(_) | Error::Signature(_) => ExitStatus::Failed,
            Error::Lock(lock::LockError::Read { .. } | lock::LockError::Write { .. }) => ExitStatus::Io,
            Error::Lock(_) | Error::Sbom(_) => ExitStatus::Failed,
            Error::Rekor(e) if e.is_network() => ExitStatus::Io,
            Error::Rekor(_) => ExitStatus::Failed,
            Error::Catalog(catalog::CatalogError::Read { .. }) => ExitStatus::Io,
            Error::Catalog(_) => ExitStatus::Usage,
            Error::Fetch(e) if e.is_usage() => ExitStatus::Usage,
            Error::Fetch(e) if e.is_verification_failure() => ExitStatus::Failed,
            Error::Fetch(_) => ExitStatus::Io,
            Error::Archive(archive::ArchiveError::Install(_)) => ExitStatus::Io,
            Error::Archive(_) => ExitStatus::Failed,
            Error::Release(release::ReleaseError::ChecksumMissing { source, .. })
            | Error::Release(release::ReleaseError::SignatureMissing { source, .. })
                if !source.is_verification_failure() =>
            {
                ExitStatus::Io
            }
            Error::Release(_) => ExitStatus::Failed,
        }
    }

    /// The message with its causes, on one line, for a report line.
    pub fn chain(&self) -> String {
        let mut text = self.to_string();
        let mut source = self.source();
        while let Some(cause) = source {
            let cause_text = cause.to_string();
            if !text.ends_with(&cause_text) {
                text.push_str(": ");
                text.push_str(&cause_text);
            }
            source = cause.source();
        }
        text
    }

    /// The next step, where one exists.
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::Usage { hint, .. } => hint.clone(),
            Error::Checksums(checksums::ChecksumError::WeakOnly { .. }) => {
                Some("use the SHA-256 or SHA-512 checksum file the upstream publishes".into())
            }
            Error::Catalog(e) => e.hint(),
            Error::Install(install::InstallError::DestinationIsSymlink { .. }) => {
                Some("remove the link, or give --dest the directory it points into".into())
            }
            Error::Fetch(fetch::FetchError::Downgrade { .. }) => {
                Some("a mirror or proxy redirected to plain http; fix it or use an https mirror".into())
            }
            // The verification library reports certificate times in its own words.
            Error::Signature(_) | Error::Rekor(_) | Error::Release(_) if self.chain().contains("CertExpired") => {
                Some("the signing time the log or timestamp proves is after the certificate expired".into())
            }
            Error::Signature(_) | Error::Rekor(_) | Error::Release(_) if self.chain().contains("CertNotValidYet") => {
                Some("the signing time the log or timestamp proves is before the certificate was issued".into())
            }
            _ if self.exit_status() == ExitStatus::Io => Some("this may be temporary: retry later".into()),
            _ => None,
        }
    }
}

/// Prints an error as `error: …`, its causes as `  caused by: …`, then `hint: …`.
pub fn print_error(err: &Error) {
    eprintln!("error: {err}");
    // `transparent` variants show their inner error and forward its causes.
    let mut source = err.source();
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
