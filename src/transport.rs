//! HTTP (and `file://` mirrors): small files with size caps, and artifacts streamed
//! through the hasher into a staged file, with bounded retries on transient failures.

use std::io::{self, Read, Seek, Write};
use std::path::PathBuf;
use std::time::Duration;

use reqwest::blocking::{Client, Response};
use reqwest::redirect;

use crate::digest::{copy_hashing, AlgorithmSet, CopyError, Hashed};
use crate::progress::Bar;
use crate::status::ExitStatus;

/// Attempts per download: the first and two retries.
const ATTEMPTS: u32 = 3;
const MAX_REDIRECTS: usize = 10;

/// Why a download failed.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("{url}: HTTP {status}{}", if *status == 404 { " (not published)" } else { "" })]
    Status { url: String, status: u16 },
    #[error("{url}: not found on the mirror ({})", path.display())]
    MirrorFileMissing { url: String, path: PathBuf },
    #[error("{url}: connection failed")]
    Connect {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{url}: timed out (no data for {seconds} s)")]
    Timeout { url: String, seconds: u64 },
    #[error("{url}: download broke off after {got} bytes")]
    Interrupted {
        url: String,
        got: u64,
        #[source]
        source: io::Error,
    },
    #[error("{url}: the server promised {expected} bytes and sent {got}")]
    Truncated { url: String, expected: u64, got: u64 },
    #[error("{url}: more than {cap} bytes; refusing an endless or oversized body")]
    TooLarge { url: String, cap: u64 },
    #[error("{url}: redirect from https to http refused")]
    Downgrade { url: String },
    #[error("{url}: too many redirects (a loop?)")]
    RedirectLoop { url: String },
    #[error("{url}: cannot read from the mirror")]
    MirrorRead {
        url: String,
        #[source]
        source: io::Error,
    },
    #[error("cannot write the download of {url}")]
    Write {
        url: String,
        #[source]
        source: io::Error,
    },
    #[error("--mirror {0:?} is not UPSTREAM=BASE (e.g. https://dl.k8s.io=https://mirror.example/k8s)")]
    BadMirror(String),
    #[error("--ca-cert {}: not a PEM certificate", path.display())]
    BadCaCert {
        path: PathBuf,
        #[source]
        source: Option<reqwest::Error>,
    },
    #[error("cannot read --ca-cert {}", path.display())]
    ReadCaCert {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot set up HTTP")]
    Client(#[source] reqwest::Error),
    #[error("{url}: --offline allows no network (a file:// mirror, a lock, the cache or the trust cache may answer instead)")]
    Offline { url: String },
}

impl TransportError {
    /// Retrying can help: connection trouble, timeouts, broken bodies, 5xx.
    fn transient(&self) -> bool {
        match self {
            TransportError::Status { status, .. } => *status >= 500,
            TransportError::Connect { .. }
            | TransportError::Timeout { .. }
            | TransportError::Interrupted { .. }
            | TransportError::Truncated { .. } => true,
            _ => false,
        }
    }

    /// True for answers that are evidence of a problem with what is published (4xx,
    /// an oversized body, a downgrade), false for "retry later" trouble.
    pub fn is_verification_failure(&self) -> bool {
        match self {
            TransportError::Status { status, .. } => *status < 500,
            TransportError::MirrorFileMissing { .. }
            | TransportError::TooLarge { .. }
            | TransportError::Downgrade { .. } => true,
            _ => false,
        }
    }

    /// The file is not there (HTTP 4xx, or absent from a `file://` mirror): "not
    /// published", as opposed to published but unacceptable (oversized, a downgrade).
    pub fn is_missing(&self) -> bool {
        match self {
            TransportError::Status { status, .. } => (400..500).contains(status),
            TransportError::MirrorFileMissing { .. } => true,
            _ => false,
        }
    }

    pub fn is_usage(&self) -> bool {
        matches!(self, TransportError::BadMirror(_) | TransportError::BadCaCert { .. })
    }

    pub fn exit_status(&self) -> ExitStatus {
        if self.is_usage() {
            ExitStatus::Usage
        } else if self.is_verification_failure() {
            ExitStatus::Failed
        } else {
            ExitStatus::Io
        }
    }

    pub fn hint(&self) -> Option<String> {
        match self {
            TransportError::Downgrade { .. } => {
                Some("a mirror or proxy redirected to plain http; fix it or use an https mirror".into())
            }
            _ => None,
        }
    }
}

/// Settings of the HTTP client.
#[derive(Clone, Debug)]
pub struct Options {
    pub mirrors: Vec<String>,
    pub ca_certs: Vec<PathBuf>,
    /// Longest wait for a connection or for the next bytes of a body.
    pub timeout: Duration,
    /// Pause before the first retry; doubled each time.
    pub backoff: Duration,
    /// No network at all (`--offline`): only `file://` URLs (mirrors on disk) are read.
    pub offline: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            mirrors: Vec::new(),
            ca_certs: Vec::new(),
            timeout: Duration::from_secs(30),
            backoff: Duration::from_millis(500),
            offline: false,
        }
    }
}

/// One client for a whole run: connection reuse, mirrors, CA roots. A clone shares the
/// connection pool (the TUF client needs one it owns).
#[derive(Clone)]
pub struct Transport {
    client: Client,
    mirrors: Vec<(String, String)>,
    timeout: Duration,
    backoff: Duration,
    offline: bool,
}

#[derive(Debug)]
struct DowngradeRefused;
impl std::fmt::Display for DowngradeRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("https to http redirect refused")
    }
}
impl std::error::Error for DowngradeRefused {}

#[derive(Debug)]
struct TooManyRedirects;
impl std::fmt::Display for TooManyRedirects {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("too many redirects")
    }
}
impl std::error::Error for TooManyRedirects {}

impl Transport {
    pub fn new(options: &Options) -> Result<Transport, TransportError> {
        let mut mirrors = Vec::new();
        for m in &options.mirrors {
            let m = m.trim();
            if m.is_empty() {
                continue;
            }
            let (upstream, base) = m.split_once('=').ok_or_else(|| TransportError::BadMirror(m.to_string()))?;
            let ok = |s: &str| ["https://", "http://", "file://"].iter().any(|p| s.starts_with(p));
            if !ok(upstream) || !ok(base) {
                return Err(TransportError::BadMirror(m.to_string()));
            }
            mirrors.push((upstream.trim_end_matches('/').to_string(), base.trim_end_matches('/').to_string()));
        }
        // Longest prefix first, so a specific mirror beats a general one.
        mirrors.sort_by_key(|(upstream, _)| std::cmp::Reverse(upstream.len()));

        let policy = redirect::Policy::custom(|attempt| {
            let downgrade = attempt.url().scheme() == "http"
                && attempt.previous().last().is_some_and(|prev| prev.scheme() == "https");
            if downgrade {
                attempt.error(DowngradeRefused)
            } else if attempt.previous().len() > MAX_REDIRECTS || attempt.previous().contains(attempt.url()) {
                attempt.error(TooManyRedirects)
            } else {
                attempt.follow()
            }
        });
        let mut builder = Client::builder()
            .user_agent(concat!("kverify/", env!("CARGO_PKG_VERSION")))
            .redirect(policy)
            .connect_timeout(options.timeout)
            .timeout(options.timeout);
        for path in &options.ca_certs {
            let pem = fs_err::read(path).map_err(|source| TransportError::ReadCaCert { path: path.clone(), source })?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| TransportError::BadCaCert { path: path.clone(), source: Some(e) })?;
            if certs.is_empty() {
                return Err(TransportError::BadCaCert { path: path.clone(), source: None });
            }
            builder = builder.tls_certs_merge(certs);
        }
        let client = builder.build().map_err(TransportError::Client)?;
        Ok(Transport { client, mirrors, timeout: options.timeout, backoff: options.backoff, offline: options.offline })
    }

    /// Where `url` is really fetched from, after `--mirror` rewriting.
    pub fn locate(&self, url: &str) -> String {
        for (upstream, base) in &self.mirrors {
            if let Some(rest) = url.strip_prefix(upstream.as_str()) {
                if rest.is_empty() || rest.starts_with('/') {
                    return format!("{base}{rest}");
                }
            }
        }
        url.to_string()
    }

    /// A small file (checksums, signatures, markers), at most `cap` bytes.
    pub fn get_small(&self, url: &str, cap: u64) -> Result<Vec<u8>, TransportError> {
        let mut out = Vec::new();
        let located = self.locate(url);
        self.retry(|| {
            out.clear();
            let body = self.open(url, &located, cap)?;
            self.copy(body, &mut out, AlgorithmSet::default(), cap, None)
        })?;
        Ok(out)
    }

    /// POSTs a JSON body (a query: safe to retry) and reads a small answer. Mirrors do
    /// not apply: queries go to the service named.
    pub fn post_json(&self, url: &str, body: &str, cap: u64) -> Result<Vec<u8>, TransportError> {
        if self.offline {
            return Err(TransportError::Offline { url: redact(url) });
        }
        let mut out = Vec::new();
        self.retry(|| {
            out.clear();
            let response = self
                .client
                .post(url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .header(reqwest::header::ACCEPT, "application/json")
                .body(body.to_string())
                .send()
                .map_err(|e| self.classify(url, e))?;
            let body = self.body_of(response, url, cap)?;
            self.copy(body, &mut out, AlgorithmSet::default(), cap, None)
        })?;
        Ok(out)
    }

    /// Streams `url` into `file` (rewound on each retry), hashing with `set` in the
    /// same pass. `cap` bounds the body.
    pub fn download(
        &self,
        url: &str,
        file: &mut std::fs::File,
        set: AlgorithmSet,
        cap: u64,
        bar: &dyn Bar,
    ) -> Result<Hashed, TransportError> {
        let located = self.locate(url);
        self.retry(|| {
            let write_err = |source| TransportError::Write { url: url.to_string(), source };
            file.set_len(0).map_err(write_err)?;
            file.rewind().map_err(write_err)?;
            let body = self.open(url, &located, cap)?;
            bar.start(body.len);
            self.copy(body, file, set, cap, Some(bar))
        })
    }

    /// Runs `attempt` until it succeeds, fails for good, or has run [`ATTEMPTS`] times.
    fn retry<T>(&self, mut attempt: impl FnMut() -> Result<T, TransportError>) -> Result<T, TransportError> {
        let mut pause = self.backoff;
        let mut n = 1;
        loop {
            match attempt() {
                Err(e) if e.transient() && n < ATTEMPTS => {
                    tracing::info!("{e}; retrying in {} ms (attempt {} of {ATTEMPTS})", pause.as_millis(), n + 1);
                    std::thread::sleep(pause);
                    pause *= 2;
                    n += 1;
                }
                other => return other,
            }
        }
    }

    /// Opens `located` (the mirrored form of `url`; errors name `url` and, where it
    /// differs, the mirror).
    fn open(&self, url: &str, located: &str, cap: u64) -> Result<Body, TransportError> {
        let shown = if located == url { url.to_string() } else { format!("{} (mirror of {url})", redact(located)) };
        if let Some(path) = located.strip_prefix("file://") {
            let path = PathBuf::from(path);
            return match std::fs::File::open(&path) {
                Ok(file) => {
                    let len = file.metadata().map(|m| m.len()).ok();
                    Ok(Body { reader: Box::new(file), len, url: shown })
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    Err(TransportError::MirrorFileMissing { url: url.to_string(), path })
                }
                Err(source) => Err(TransportError::MirrorRead { url: shown, source }),
            };
        }
        if self.offline {
            return Err(TransportError::Offline { url: shown });
        }
        tracing::debug!("GET {}", redact(located));
        let response = self.client.get(located).send().map_err(|e| self.classify(&shown, e))?;
        self.body_of(response, &shown, cap)
    }

    /// The body of a successful response; an error status is never read as content.
    fn body_of(&self, response: Response, url: &str, cap: u64) -> Result<Body, TransportError> {
        let status = response.status();
        if !status.is_success() {
            return Err(TransportError::Status { url: url.to_string(), status: status.as_u16() });
        }
        let len = response.content_length();
        if let Some(n) = len.filter(|n| *n > cap) {
            tracing::debug!("{url}: Content-Length {n} over cap {cap}");
            return Err(TransportError::TooLarge { url: url.to_string(), cap });
        }
        let reader = ResponseReader { response, url: url.to_string(), timeout: self.timeout };
        Ok(Body { reader: Box::new(reader), len, url: url.to_string() })
    }

    /// Copies a body into `sink` through the one byte pipeline, hashing with `set`,
    /// refusing more than `cap` bytes and fewer than announced.
    fn copy(
        &self,
        body: Body,
        sink: &mut dyn Write,
        set: AlgorithmSet,
        cap: u64,
        bar: Option<&dyn Bar>,
    ) -> Result<Hashed, TransportError> {
        let url = body.url;
        let copied = copy_hashing(body.reader, sink, set, body.len, cap, |n| {
            if let Some(bar) = bar {
                bar.advance(n);
            }
        });
        let (digests, got) = copied.map_err(|e| match e {
            CopyError::Read { source, .. } if source.kind() == io::ErrorKind::TimedOut => {
                TransportError::Timeout { url: url.clone(), seconds: self.timeout.as_secs() }
            }
            CopyError::Read { got, source } => TransportError::Interrupted { url: url.clone(), got, source },
            CopyError::Write(source) => TransportError::Write { url: url.clone(), source },
            CopyError::Limit { limit } => TransportError::TooLarge { url: url.clone(), cap: limit },
        })?;
        if let Some(expected) = body.len.filter(|n| *n != got) {
            return Err(TransportError::Truncated { url, expected, got });
        }
        Ok((digests, got))
    }

    fn classify(&self, url: &str, e: reqwest::Error) -> TransportError {
        let url = url.to_string();
        if has_source::<DowngradeRefused>(&e) {
            TransportError::Downgrade { url }
        } else if has_source::<TooManyRedirects>(&e) || e.is_redirect() {
            TransportError::RedirectLoop { url }
        } else if e.is_timeout() {
            TransportError::Timeout { url, seconds: self.timeout.as_secs() }
        } else {
            // The message names the URL (without credentials); reqwest's would repeat it with them.
            TransportError::Connect { url, source: e.without_url() }
        }
    }
}

fn has_source<E: std::error::Error + 'static>(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if err.is::<E>() {
            return true;
        }
        cur = err.source();
    }
    false
}

/// An open body, its announced length, and the URL errors name (the mirror's, without
/// credentials, when one is used).
struct Body {
    reader: Box<dyn Read + Send>,
    len: Option<u64>,
    url: String,
}

/// `url` without the credentials a mirror base may carry (`https://user:pass@host/…`):
/// they are for the mirror only, never for messages or logs.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    match authority.rfind('@') {
        Some(at) => format!("{scheme}://***@{}", &rest[at + 1..]),
        None => url.to_string(),
    }
}

/// Turns reqwest's timeout into a typed error the retry logic recognises.
struct ResponseReader {
    response: Response,
    url: String,
    timeout: Duration,
}

impl Read for ResponseReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.response.read(buf).map_err(|e| {
            if is_timeout(&e) {
                io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("{}: no data for {} s", self.url, self.timeout.as_secs()),
                )
            } else {
                e
            }
        })
    }
}

/// A read that timed out. reqwest reports it as an `Other` I/O error wrapping its own
/// error ("error decoding response body"), whose cause is the timeout.
fn is_timeout(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::TimedOut
        || e.get_ref().and_then(|inner| inner.downcast_ref::<reqwest::Error>()).is_some_and(reqwest::Error::is_timeout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_drops_credentials_only() {
        assert_eq!(redact("https://u:p@mirror.example/k8s/x"), "https://***@mirror.example/k8s/x");
        assert_eq!(redact("http://token@127.0.0.1:8080"), "http://***@127.0.0.1:8080");
        assert_eq!(redact("https://dl.k8s.io/release/v1.29.0/a@b"), "https://dl.k8s.io/release/v1.29.0/a@b");
        assert_eq!(redact("file:///srv/mirror"), "file:///srv/mirror");
    }
}
