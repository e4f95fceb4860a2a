//! sigstore-tuf's `Updater` driven over kverify's blocking [`Transport`].
//!
//! The `Updater` is async only because its `Repository` trait is; its own futures
//! await nothing but the repository's (sigstore-tuf 0.15.1, src/client.rs). This
//! repository does the blocking fetch when asked and returns a future that is already
//! complete, so one poll with a no-op waker runs a whole refresh: no runtime, no
//! second HTTP stack. [`block_on`] refuses, rather than spins on, a future that is not
//! ready after that poll.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use jiff::Timestamp;
use sigstore_tuf::transport::FetchFuture;
use sigstore_tuf::{Error, MetadataStore, Repository, Updater, UpdaterConfig};

use super::cache::{is_kept, Files};
use super::{TrustError, TRUSTED_ROOT_TARGET};
use crate::transport::{Transport, TransportError};

/// A TUF repository at `base`: metadata at `{base}/{name}`, targets at
/// `{base}/targets/{path}` (consistent-snapshot names, as tuf-repo-cdn.sigstore.dev
/// serves them: `N.root.json`, `timestamp.json`, `V.snapshot.json`, `V.targets.json`,
/// `targets/<sha256>.trusted_root.json`).
struct TransportRepository {
    transport: Transport,
    base: String,
}

impl TransportRepository {
    /// At most `max_length` bytes of `url`; `None` when it is not there (404, or 403 as
    /// S3 and GCS answer for a missing object; a file missing from a `file://` copy).
    fn get(&self, what: &str, url: &str, max_length: u64) -> Result<Option<Vec<u8>>, Error> {
        match self.transport.get_small(url, max_length) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(TransportError::Status { status: 403 | 404, .. } | TransportError::MirrorFileMissing { .. }) => {
                Ok(None)
            }
            Err(e) => Err(Error::transport_with_source(format!("fetching {what}"), e)),
        }
    }
}

impl Repository for TransportRepository {
    fn fetch_metadata<'a>(&'a self, name: &'a str, max_length: u64) -> FetchFuture<'a> {
        let result = self.get(name, &format!("{}/{name}", self.base), max_length);
        Box::pin(std::future::ready(result))
    }

    fn fetch_target<'a>(&'a self, path: &'a str, max_length: u64) -> FetchFuture<'a> {
        let result = self.get(path, &format!("{}/targets/{path}", self.base), max_length);
        Box::pin(std::future::ready(result))
    }
}

/// The updater's write-through store: starts as a copy of the last good cache (its
/// versions are the rollback floor), receives every file the updater verified, and is
/// written to disk by the caller only when the whole refresh succeeded.
#[derive(Default)]
struct StageStore(Mutex<Files>);

impl StageStore {
    fn files(&self) -> Files {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }
}

impl MetadataStore for StageStore {
    fn load(&self, name: &str) -> Result<Option<Vec<u8>>, Error> {
        Ok(self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(name).cloned())
    }

    fn store(&self, name: &str, bytes: &[u8]) -> Result<(), Error> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(name.to_string(), bytes.to_vec());
        Ok(())
    }
}

/// What a refresh verified: the files of the new state and the target's bytes.
pub struct Fresh {
    pub files: Files,
    pub trusted_root: Vec<u8>,
}

/// Runs the TUF client workflow against the repository at `url` from `pinned`, on top
/// of `seed` (the last good state), expiry judged at `judge`.
pub fn refresh(
    transport: &Transport,
    url: &str,
    pinned: &[u8],
    origin: &str,
    seed: Files,
    judge: Timestamp,
) -> Result<Fresh, TrustError> {
    let store = Arc::new(StageStore(Mutex::new(seed)));
    let repository = TransportRepository { transport: transport.clone(), base: url.trim_end_matches('/').to_string() };
    let mut config = UpdaterConfig::default();
    // trusted_root.json is a few KiB; the default allows 50 MB.
    config.target_max_length = 4 * 1024 * 1024;
    let mut updater = Updater::new(repository, pinned)
        .map_err(|source| TrustError::TufRoot { origin: origin.to_string(), source })?
        .with_config(config)
        .with_store(store.clone());
    let refused = |e: Error| classify(url, e);
    block_on(updater.refresh(judge))?.map_err(refused)?;
    let trusted_root = block_on(updater.get_target(TRUSTED_ROOT_TARGET, judge))?.map_err(refused)?;
    let files = store.files().into_iter().filter(|(name, _)| is_kept(name)).collect();
    Ok(Fresh { files, trusted_root })
}

/// Network trouble is [`TrustError::Unreachable`] (retry later); everything else,
/// including an oversized answer or a missing file, failed TUF's checks.
fn classify(url: &str, e: Error) -> TrustError {
    let url = url.to_string();
    match e {
        Error::Transport { message, source: Some(source) } => match source.downcast::<TransportError>() {
            Ok(fetch) if !fetch.is_verification_failure() => TrustError::Unreachable { url, source: *fetch },
            Ok(fetch) => TrustError::Refused { url, source: Error::transport_with_source(message, *fetch) },
            Err(source) => TrustError::Refused { url, source: Error::transport_with_source(message, source) },
        },
        e => TrustError::Refused { url, source: e },
    }
}

/// The output of a future that completes on its first poll; [`TrustError::Pending`]
/// for one that does not (it would wait on I/O nothing here drives).
fn block_on<F: Future>(future: F) -> Result<F::Output, TrustError> {
    let mut future = std::pin::pin!(future);
    match future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => Ok(output),
        Poll::Pending => Err(TrustError::Pending),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_on_runs_ready_futures_and_refuses_pending_ones() {
        assert_eq!(block_on(async { 7 }).unwrap(), 7);
        assert_eq!(block_on(async { std::future::ready(3).await + 1 }).unwrap(), 4);
        assert!(matches!(block_on(std::future::pending::<()>()), Err(TrustError::Pending)));
    }

    #[test]
    fn fetch_errors_are_classified_by_what_they_mean() {
        let refused = |e: TransportError| classify("http://tuf", Error::transport_with_source("fetching x", e));
        let connect = TransportError::Truncated { url: "u".into(), expected: 2, got: 1 };
        assert!(matches!(refused(connect), TrustError::Unreachable { .. }));
        assert!(matches!(
            refused(TransportError::Status { url: "u".into(), status: 503, retry_after: None }),
            TrustError::Unreachable { .. }
        ));
        assert!(matches!(refused(TransportError::TooLarge { url: "u".into(), cap: 1 }), TrustError::Refused { .. }));
        assert!(matches!(
            classify("http://tuf", Error::transport("timestamp.json not found")),
            TrustError::Refused { .. }
        ));
        assert!(matches!(
            classify("http://tuf", Error::Rollback { role: "timestamp".into(), trusted: 2, new: 1 }),
            TrustError::Refused { .. }
        ));
    }

    #[test]
    fn a_missing_file_is_none_and_a_file_url_works() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("timestamp.json"), b"{}").unwrap();
        let transport = Transport::new(&crate::transport::Options::default()).unwrap();
        let repo = TransportRepository { transport, base: format!("file://{}", tmp.path().display()) };
        assert_eq!(block_on(repo.fetch_metadata("timestamp.json", 10)).unwrap().unwrap().unwrap(), b"{}");
        assert!(block_on(repo.fetch_metadata("2.root.json", 10)).unwrap().unwrap().is_none());
        assert!(block_on(repo.fetch_metadata("timestamp.json", 1)).unwrap().is_err(), "over max_length");
    }
}
