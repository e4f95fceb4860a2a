//! The one error type that carries each capability's error up to `main`. Each
//! capability decides, beside its own error type, whether an error means "stop: this may
//! be tampering" (1), "fix the command" (2) or "retry later" (3) ([`Classified`]); this
//! module only gathers them. Only the top of the crate (plan, commands, main) uses it.

pub use crate::status::{Classified, ExitStatus};

/// Every error that ends a command before its report is complete.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The command line asks for something that cannot be done.
    #[error("{message}")]
    Usage { message: String, hint: Option<String> },
    /// A bug: a state the code should never reach. Never exit 2 ("fix the command"): the
    /// run verified nothing, so it fails closed.
    #[error("internal error: {0} (this is a bug in kverify; please report it)")]
    Internal(String),
    /// A local file could not be read or written.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Checksums(#[from] crate::checksums::ChecksumError),
    #[error(transparent)]
    Catalog(#[from] crate::catalog::CatalogError),
    #[error(transparent)]
    Version(#[from] crate::version::BadVersion),
    #[error(transparent)]
    Platform(#[from] crate::platform::BadPlatform),
    #[error(transparent)]
    Transport(#[from] crate::transport::TransportError),
    #[error(transparent)]
    Install(#[from] crate::install::InstallError),
    #[error(transparent)]
    Archive(#[from] crate::archive::ArchiveError),
    #[error(transparent)]
    Release(#[from] crate::release::Error),
    #[error(transparent)]
    Signature(#[from] crate::signature::SignatureError),
    #[error(transparent)]
    Lock(#[from] crate::lock::LockError),
    #[error(transparent)]
    Sbom(#[from] crate::sbom::SbomError),
    #[error(transparent)]
    Rekor(#[from] crate::rekor::RekorError),
    #[error(transparent)]
    Mirror(#[from] crate::mirror::MirrorError),
    #[error(transparent)]
    Node(#[from] crate::node::NodeError),
    /// Sigstore trust material could not be loaded or refreshed through TUF.
    #[error(transparent)]
    Trust(#[from] crate::trust::TrustError),
    /// The download cache could not be used (`kverify cache`).
    #[error(transparent)]
    Cache(#[from] crate::cache::CacheError),
}

impl Error {
    pub fn usage(message: impl Into<String>) -> Error {
        Error::Usage { message: message.into(), hint: None }
    }

    pub fn usage_hint(message: impl Into<String>, hint: impl Into<String>) -> Error {
        Error::Usage { message: message.into(), hint: Some(hint.into()) }
    }
}

impl Classified for Error {
    /// What the error means for the run, as the capability that raised it decided.
    fn exit_status(&self) -> ExitStatus {
        match self {
            Error::Usage { .. } => ExitStatus::Usage,
            Error::Internal(_) => ExitStatus::Failed,
            Error::Io(_) => ExitStatus::Io,
            Error::Checksums(e) => e.exit_status(),
            Error::Sbom(_) => ExitStatus::Failed,
            Error::Catalog(e) => e.exit_status(),
            Error::Version(_) | Error::Platform(_) => ExitStatus::Usage,
            Error::Transport(e) => e.exit_status(),
            Error::Install(_) => ExitStatus::Io,
            Error::Archive(e) => e.exit_status(),
            Error::Release(e) => e.exit_status(),
            Error::Signature(e) => e.exit_status(),
            Error::Lock(e) => e.exit_status(),
            Error::Rekor(e) => e.exit_status(),
            Error::Mirror(e) => e.exit_status(),
            Error::Node(e) => e.exit_status(),
            Error::Trust(e) => e.exit_status(),
            Error::Cache(e) => e.exit_status(),
        }
    }

    /// The next step, where one exists.
    fn hint(&self) -> Option<String> {
        let capability = match self {
            Error::Usage { hint, .. } => hint.clone(),
            Error::Checksums(e) => e.hint(),
            Error::Catalog(e) => e.hint(),
            Error::Install(e) => e.hint(),
            Error::Transport(e) => e.hint(),
            Error::Release(e) => e.hint(),
            Error::Node(e) => e.hint(),
            Error::Trust(e) => e.hint(),
            Error::Signature(e) => e.hint(),
            Error::Lock(e) => e.hint(),
            Error::Mirror(e) => e.hint(),
            Error::Cache(e) => e.hint(),
            _ => None,
        };
        capability.or_else(|| match self {
            Error::Signature(_) | Error::Rekor(_) => crate::signature::time_hint(&self.chain()),
            _ => None,
        })
    }
}
