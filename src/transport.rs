//! HTTP (and `file://` mirrors): small files with size caps, and artifacts streamed
//! through the hasher into a [`Sink`], with bounded retries on transient failures, an
//! overall deadline per download, and resumption of an interrupted download (`Range`
//! with `If-Range` on the validator the server gave).

use std::io::{self, Read, Seek, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use reqwest::blocking::{Client, Response};
use reqwest::header::{HeaderMap, CONTENT_RANGE, ETAG, IF_RANGE, LAST_MODIFIED, RANGE, RETRY_AFTER};
use reqwest::redirect;

use crate::digest::{copy_hashing_ahead, AlgorithmSet, CopyError, Hashed};
use crate::progress::Bar;
use crate::regular_file::{self, Links};
use crate::status::ExitStatus;

/// Attempts per download: the first and two retries.
const ATTEMPTS: u32 = 3;
const MAX_REDIRECTS: usize = 10;

/// The default deadline of a download is [`DEADLINE_BASE`] plus its size cap at
/// [`FLOOR_RATE`]: 60 s + 2048 s (about 35 min) for the default 2 GiB cap, 76 s for a
/// 16 MiB checksum file. A server may be slow; one that drips a byte now and then to
/// hold a node is ended by it.
pub const DEADLINE_BASE: Duration = Duration::from_secs(60);
/// Bytes per second a download is allowed at worst by the default deadline.
pub const FLOOR_RATE: u64 = 1024 * 1024;

/// The default deadline for a download of at most `cap` bytes.
pub fn default_deadline(cap: u64) -> Duration {
    DEADLINE_BASE + Duration::from_secs(cap.div_ceil(FLOOR_RATE))
}

/// Why a download failed.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("{url}: HTTP {status}{}{}", if *status == 404 { " (not published)" } else { "" }, retry_note(.retry_after))]
    Status {
        url: String,
        status: u16,
        /// What `Retry-After` asked for, when the server sent one.
        retry_after: Option<Duration>,
    },
    #[error("{url}: not found on the mirror ({})", path.display())]
    MirrorFileMissing { url: String, path: PathBuf },
    #[error("{url}: the mirror holds {kind} there, not a file")]
    MirrorNotAFile { url: String, kind: &'static str },
    #[error("{url}: connection failed")]
    Connect {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{url}: timed out (no data for {seconds} s)")]
    Timeout { url: String, seconds: u64 },
    #[error("{url}: deadline of {seconds} s passed after {got} of {} bytes", total.map_or("?".to_string(), |t| t.to_string()))]
    Deadline { url: String, seconds: u64, got: u64, total: Option<u64> },
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
    /// A `--mirror`/`KVERIFY_MIRROR` entry that cannot be used. The value itself is never
    /// printed (a base may carry a token); `shown` is a redacted form of it.
    #[error("{entry} is not UPSTREAM=BASE with http(s):// or file:// URLs: {why}")]
    BadMirror {
        /// `mirror entry 2 of 3 (https://***@host/path)`.
        entry: String,
        why: String,
        /// The value held several entries (split at commas).
        split: bool,
    },
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

/// ` (asked to retry after N s)` when the server did.
fn retry_note(retry_after: &Option<Duration>) -> String {
    retry_after.map_or(String::new(), |d| format!(" (asked to retry after {} s)", d.as_secs()))
}

/// Statuses that mean "not now" rather than "not this": retried like 5xx.
fn retry_later(status: u16) -> bool {
    status >= 500 || status == 408 || status == 429
}

impl TransportError {
    /// Retrying can help: connection trouble, timeouts, broken bodies, 5xx, 408, 429.
    fn transient(&self) -> bool {
        match self {
            TransportError::Status { status, .. } => retry_later(*status),
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
            TransportError::Status { status, .. } => !retry_later(*status),
            TransportError::MirrorFileMissing { .. }
            | TransportError::MirrorNotAFile { .. }
            | TransportError::TooLarge { .. }
            | TransportError::Downgrade { .. } => true,
            _ => false,
        }
    }

    /// The file is not there (HTTP 4xx, or absent from a `file://` mirror): "not
    /// published", as opposed to published but unacceptable (oversized, a downgrade).
    pub fn is_missing(&self) -> bool {
        match self {
            TransportError::Status { status, .. } => (400..500).contains(status) && !retry_later(*status),
            TransportError::MirrorFileMissing { .. } => true,
            _ => false,
        }
    }

    pub fn is_usage(&self) -> bool {
        matches!(self, TransportError::BadMirror { .. } | TransportError::BadCaCert { .. })
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
            TransportError::BadMirror { split: true, .. } => Some(
                "--mirror and KVERIFY_MIRROR split their value at every comma: a comma inside a credential must be \
                 written %2C"
                    .into(),
            ),
            TransportError::Deadline { .. } => Some(
                "what arrived is kept in the cache: the next run resumes it (raise --deadline for a slow link)".into(),
            ),
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
    /// The overall deadline of one download, retries included (`--deadline`); `None`:
    /// [`default_deadline`] of its size cap.
    pub deadline: Option<Duration>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            mirrors: Vec::new(),
            ca_certs: Vec::new(),
            timeout: Duration::from_secs(30),
            backoff: Duration::from_millis(500),
            offline: false,
            deadline: None,
        }
    }
}

/// What a server said identifies the bytes of a URL: `If-Range` sends it back so that
/// a resumed download continues the same file or starts over.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Validator {
    /// A strong `ETag` (weak ones, `W/"…"`, may not be used with `If-Range`).
    Etag(String),
    /// A `Last-Modified` date, as the server wrote it.
    LastModified(String),
}

impl Validator {
    /// The strong validator of a response: its `ETag`, else its `Last-Modified`.
    fn of(headers: &HeaderMap) -> Option<Validator> {
        let text = |name| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim).filter(|v| !v.is_empty());
        match text(ETAG) {
            Some(tag) if tag.starts_with('"') => Some(Validator::Etag(tag.to_string())),
            _ => text(LAST_MODIFIED).map(|d| Validator::LastModified(d.to_string())),
        }
    }

    fn header_value(&self) -> &str {
        match self {
            Validator::Etag(v) | Validator::LastModified(v) => v,
        }
    }
}

/// Bytes of an earlier download of the same URL on disk, and the validator the server
/// gave for them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resume {
    pub have: u64,
    pub validator: Validator,
    /// The whole file's length, as the server announced it then.
    pub total: Option<u64>,
}

/// Where the body of a response falls in the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Start {
    /// The body's first byte is this byte of the file: 0 from scratch, else a resume.
    pub offset: u64,
    /// The whole file's length, when announced.
    pub total: Option<u64>,
    pub validator: Option<Validator>,
}

/// Where a download's bytes go. Each attempt asks [`Sink::resume`] what is on disk,
/// then tells [`Sink::begin`] where the server's body starts; then every byte of the
/// file, from the first, is hashed and written to the sink in order (the bytes already
/// on disk come from the reader `begin` returns).
pub trait Sink: Write {
    /// What an earlier, interrupted download left to resume from, if anything.
    fn resume(&mut self) -> Option<Resume>;
    /// The file's bytes before `start.offset` (on disk), to be hashed first; the sink
    /// drops whatever lies past them.
    fn begin(&mut self, start: &Start) -> io::Result<Box<dyn Read + Send>>;
}

/// A sink that is just a file: every attempt starts over.
pub struct FileSink<'a>(pub &'a mut std::fs::File);

impl Write for FileSink<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl Sink for FileSink<'_> {
    fn resume(&mut self) -> Option<Resume> {
        None
    }
    fn begin(&mut self, _: &Start) -> io::Result<Box<dyn Read + Send>> {
        self.0.set_len(0)?;
        self.0.rewind()?;
        Ok(Box::new(io::empty()))
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
    deadline: Option<Duration>,
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
        let mut mirrors = parse_mirrors(&options.mirrors)?;
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
        Ok(Transport {
            client,
            mirrors,
            timeout: options.timeout,
            backoff: options.backoff,
            offline: options.offline,
            deadline: options.deadline,
        })
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

    /// The overall deadline of a download of at most `cap` bytes that starts now.
    fn deadline_for(&self, cap: u64) -> (Instant, Duration) {
        let length = self.deadline.unwrap_or_else(|| default_deadline(cap));
        (Instant::now() + length, length)
    }

    /// A small file (checksums, signatures, markers), at most `cap` bytes.
    pub fn get_small(&self, url: &str, cap: u64) -> Result<Vec<u8>, TransportError> {
        let mut out = Vec::new();
        let located = self.locate(url);
        let deadline = self.deadline_for(cap);
        self.retry(url, deadline, || {
            out.clear();
            let (body, _) = self.open(url, &located, cap, None, deadline)?;
            self.copy(body, Box::new(io::empty()), 0, &mut out, AlgorithmSet::default(), cap, None, deadline)
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
        let deadline = self.deadline_for(cap);
        self.retry(url, deadline, || {
            out.clear();
            let mut request = self
                .client
                .post(url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .header(reqwest::header::ACCEPT, "application/json")
                .body(body.to_string());
            if let Some(left) = self.left_under_timeout(deadline.0) {
                request = request.timeout(left);
            }
            let response = request.send().map_err(|e| self.classify(url, e, deadline))?;
            let body = self.body_of(response, url, cap, deadline.0)?;
            self.copy(body, Box::new(io::empty()), 0, &mut out, AlgorithmSet::default(), cap, None, deadline)
        })?;
        Ok(out)
    }

    /// Streams `url` into `sink`, hashing with `set` in the same pass; `cap` bounds the
    /// file. An attempt resumes what the sink holds when the server's validator still
    /// matches (`Range` + `If-Range`); a 200, a changed validator or a `Content-Range`
    /// that does not fit the request starts over. Every byte of the file, the part on
    /// disk first, goes through the hasher. The whole download, retries and pauses
    /// included, ends by its deadline (exit 3).
    pub fn download(
        &self,
        url: &str,
        sink: &mut dyn Sink,
        set: AlgorithmSet,
        cap: u64,
        bar: &dyn Bar,
    ) -> Result<Hashed, TransportError> {
        let located = self.locate(url);
        let deadline = self.deadline_for(cap);
        self.retry(url, deadline, || {
            let resume = sink.resume();
            let (body, start) = self.open(url, &located, cap, resume.as_ref(), deadline)?;
            let write_err = |source| TransportError::Write { url: url.to_string(), source };
            let prefix = sink.begin(&start).map_err(write_err)?;
            if start.offset > 0 {
                tracing::info!("{}: resuming at byte {} of {:?}", body.url, start.offset, start.total);
            }
            bar.start(start.total);
            self.copy(body, prefix, start.offset, sink, set, cap, Some(bar), deadline)
        })
    }

    /// How long a request may still take when that is less than `--timeout`: the
    /// request then carries it (reqwest applies a request's timeout to the whole body).
    fn left_under_timeout(&self, deadline: Instant) -> Option<Duration> {
        let left = deadline.saturating_duration_since(Instant::now());
        (left < self.timeout).then_some(left.max(Duration::from_millis(1)))
    }

    /// Runs `attempt` until it succeeds, fails for good, has run [`ATTEMPTS`] times, or
    /// the deadline would pass. A pause is the backoff, or the server's `Retry-After`
    /// when longer; one that would end past the deadline is not waited for.
    fn retry<T>(
        &self,
        url: &str,
        (deadline, length): (Instant, Duration),
        mut attempt: impl FnMut() -> Result<T, TransportError>,
    ) -> Result<T, TransportError> {
        let mut backoff = self.backoff;
        let mut n = 1;
        loop {
            match attempt() {
                Err(e) if e.transient() && n < ATTEMPTS => {
                    let pause = match &e {
                        TransportError::Status { retry_after: Some(asked), .. } => backoff.max(*asked),
                        _ => backoff,
                    };
                    if Instant::now() + pause >= deadline {
                        tracing::info!(
                            "{e}; no retry: the pause would end past the deadline of {} s",
                            length.as_secs()
                        );
                        return Err(match e {
                            TransportError::Status { .. } => e,
                            _ => TransportError::Deadline {
                                url: url.to_string(),
                                seconds: length.as_secs(),
                                got: e.got(),
                                total: None,
                            },
                        });
                    }
                    tracing::info!("{e}; retrying in {} ms (attempt {} of {ATTEMPTS})", pause.as_millis(), n + 1);
                    std::thread::sleep(pause);
                    backoff *= 2;
                    n += 1;
                }
                other => return other,
            }
        }
    }

    /// Opens `located` (the mirrored form of `url`; errors name `url` and, where it
    /// differs, the mirror), asking for the rest of `resume` when given.
    fn open(
        &self,
        url: &str,
        located: &str,
        cap: u64,
        resume: Option<&Resume>,
        deadline: (Instant, Duration),
    ) -> Result<(Body, Start), TransportError> {
        let shown = if located == url { url.to_string() } else { format!("{} (mirror of {url})", redact(located)) };
        if let Some(path) = located.strip_prefix("file://") {
            // A file on disk is read again whole: nothing to resume. Opened without
            // following a link and without blocking, and only if it is a regular file:
            // a FIFO or a device swapped in on the mirror must not hang the run.
            let path = PathBuf::from(path);
            return match regular_file::open(&path, Links::Refuse) {
                Ok((file, meta)) => {
                    let len = Some(meta.len());
                    let start = Start { offset: 0, total: len, validator: None };
                    Ok((Body { reader: Box::new(file), len, url: shown }, start))
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    Err(TransportError::MirrorFileMissing { url: url.to_string(), path })
                }
                Err(_) if std::fs::symlink_metadata(&path).is_ok_and(|m| !m.is_file()) => {
                    let kind = std::fs::symlink_metadata(&path).map(|m| regular_file::kind(&m)).unwrap_or("?");
                    Err(TransportError::MirrorNotAFile { url: shown, kind })
                }
                Err(source) => Err(TransportError::MirrorRead { url: shown, source }),
            };
        }
        if self.offline {
            return Err(TransportError::Offline { url: shown });
        }
        tracing::debug!(
            "GET {}{}",
            redact(located),
            resume.map_or(String::new(), |r| format!(" from byte {}", r.have))
        );
        let mut request = self.client.get(located);
        if let Some(r) = resume {
            request = request.header(RANGE, format!("bytes={}-", r.have)).header(IF_RANGE, r.validator.header_value());
        }
        if let Some(left) = self.left_under_timeout(deadline.0) {
            request = request.timeout(left);
        }
        let response = request.send().map_err(|e| self.classify(&shown, e, deadline))?;
        let status = response.status().as_u16();
        let validator = Validator::of(response.headers());
        match (resume, status) {
            (Some(r), 206) => match fitting_range(response.headers(), r) {
                Some(total) => {
                    let start = Start {
                        offset: r.have,
                        total: Some(total),
                        validator: validator.or(Some(r.validator.clone())),
                    };
                    let body = self.body_of(response, &shown, cap.saturating_sub(r.have), deadline.0)?;
                    Ok((body, start))
                }
                None => {
                    tracing::info!("{shown}: a Content-Range that does not fit bytes={}-: starting over", r.have);
                    drop(response);
                    self.open(url, located, cap, None, deadline)
                }
            },
            // The range cannot be served (the file shrank?): start over.
            (Some(_), 416) => {
                drop(response);
                self.open(url, located, cap, None, deadline)
            }
            (_, 206) => Err(TransportError::Status { url: shown, status, retry_after: None }),
            _ => {
                let body = self.body_of(response, &shown, cap, deadline.0)?;
                let start = Start { offset: 0, total: body.len, validator };
                Ok((body, start))
            }
        }
    }

    /// The body of a successful response; an error status is never read as content.
    fn body_of(&self, response: Response, url: &str, cap: u64, deadline: Instant) -> Result<Body, TransportError> {
        let status = response.status();
        if !status.is_success() {
            let retry_after = retry_after(response.headers(), SystemTime::now());
            return Err(TransportError::Status { url: url.to_string(), status: status.as_u16(), retry_after });
        }
        let len = response.content_length();
        if let Some(n) = len.filter(|n| *n > cap) {
            tracing::debug!("{url}: Content-Length {n} over cap {cap}");
            return Err(TransportError::TooLarge { url: url.to_string(), cap });
        }
        let reader = ResponseReader { response, url: url.to_string(), timeout: self.timeout, deadline };
        Ok(Body { reader: Box::new(reader), len, url: url.to_string() })
    }

    /// Copies `prefix` (the `offset` bytes of the file already on disk) then a body into
    /// `sink` through the one byte pipeline, hashing with `set`, refusing more than `cap`
    /// bytes in all and fewer than announced.
    #[allow(clippy::too_many_arguments)]
    fn copy(
        &self,
        body: Body,
        prefix: Box<dyn Read + Send>,
        offset: u64,
        sink: &mut dyn Write,
        set: AlgorithmSet,
        cap: u64,
        bar: Option<&dyn Bar>,
        (deadline, length): (Instant, Duration),
    ) -> Result<Hashed, TransportError> {
        let url = body.url;
        let total = body.len.map(|n| n + offset);
        let copied = copy_hashing_ahead(prefix.chain(body.reader), sink, set, total, cap, |n| {
            if let Some(bar) = bar {
                bar.advance(n);
            }
        });
        let deadline_passed =
            |got| TransportError::Deadline { url: url.clone(), seconds: length.as_secs(), got, total };
        let (digests, got) = copied.map_err(|e| match e {
            CopyError::Read { got, source }
                if is_deadline(&source) || (is_timeout(&source) && Instant::now() >= deadline) =>
            {
                deadline_passed(got)
            }
            CopyError::Read { source, .. } if is_timeout(&source) => {
                TransportError::Timeout { url: url.clone(), seconds: self.timeout.as_secs() }
            }
            CopyError::Read { got, source } => TransportError::Interrupted { url: url.clone(), got, source },
            CopyError::Write(source) => TransportError::Write { url: url.clone(), source },
            CopyError::Limit { limit } => TransportError::TooLarge { url: url.clone(), cap: limit },
        })?;
        if let Some(expected) = total.filter(|n| *n != got) {
            return Err(TransportError::Truncated { url, expected, got });
        }
        Ok((digests, got))
    }

    fn classify(&self, url: &str, e: reqwest::Error, (deadline, length): (Instant, Duration)) -> TransportError {
        let url = url.to_string();
        if has_source::<DowngradeRefused>(&e) {
            TransportError::Downgrade { url }
        } else if has_source::<TooManyRedirects>(&e) || e.is_redirect() {
            TransportError::RedirectLoop { url }
        } else if e.is_timeout() && Instant::now() >= deadline {
            TransportError::Deadline { url, seconds: length.as_secs(), got: 0, total: None }
        } else if e.is_timeout() {
            TransportError::Timeout { url, seconds: self.timeout.as_secs() }
        } else {
            // The message names the URL (without credentials); reqwest's would repeat it with them.
            TransportError::Connect { url, source: e.without_url() }
        }
    }
}

impl TransportError {
    /// Bytes received before the error, where it says.
    fn got(&self) -> u64 {
        match self {
            TransportError::Interrupted { got, .. }
            | TransportError::Truncated { got, .. }
            | TransportError::Deadline { got, .. } => *got,
            _ => 0,
        }
    }
}

/// The whole file's length when a 206's `Content-Range` is exactly the rest asked for
/// (`bytes HAVE-LAST/TOTAL`, LAST = TOTAL-1, TOTAL the one announced before if known);
/// `None` for anything else (a lying or shifted range is never spliced on).
fn fitting_range(headers: &HeaderMap, resume: &Resume) -> Option<u64> {
    let value = headers.get(CONTENT_RANGE)?.to_str().ok()?.trim();
    let (unit, rest) = value.split_once(' ')?;
    let (range, total) = rest.trim().split_once('/')?;
    let (first, last) = range.split_once('-')?;
    let (first, last, total): (u64, u64, u64) = (first.parse().ok()?, last.parse().ok()?, total.parse().ok()?);
    let fits = unit.eq_ignore_ascii_case("bytes")
        && first == resume.have
        && last.checked_add(1) == Some(total)
        && resume.total.is_none_or(|t| t == total);
    let announced = headers.get(reqwest::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    (fits && announced.is_none_or(|n| Some(n) == (last + 1).checked_sub(first))).then_some(total)
}

/// How long `Retry-After` asks to wait: delay-seconds, or an HTTP date (RFC 9110
/// §10.2.3) relative to `now`; `None` when absent or unreadable.
fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = http_date(value)?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

/// An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the one form servers must send.
fn http_date(value: &str) -> Option<SystemTime> {
    static PARSER: jiff::fmt::rfc2822::DateTimeParser = jiff::fmt::rfc2822::DateTimeParser::new();
    let seconds = u64::try_from(PARSER.parse_timestamp(value).ok()?.as_second()).ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(seconds))
}

/// Parses `--mirror`/`KVERIFY_MIRROR` entries into (upstream, base) pairs. An entry that
/// is wrong is named by its position and a redacted form: a base may carry a token, and
/// a token with a comma arrives split in two (clap splits the value at commas), so
/// neither half may be printed.
fn parse_mirrors(entries: &[String]) -> Result<Vec<(String, String)>, TransportError> {
    let count = entries.len();
    let mut mirrors = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let entry = entry.trim();
        if entry.is_empty() {
            continue;
        }
        let bad = |why: &str| TransportError::BadMirror {
            entry: format!("mirror entry {} of {count} ({})", i + 1, redact_entry(entry)),
            why: why.to_string(),
            split: count > 1,
        };
        let Some((upstream, base)) = entry.split_once('=') else { return Err(bad("no `=`")) };
        for (what, url) in [("UPSTREAM", upstream), ("BASE", base)] {
            match reqwest::Url::parse(url) {
                Ok(u) if u.scheme() == "file" => {}
                Ok(u) if (u.scheme() == "https" || u.scheme() == "http") && u.host().is_some() => {}
                Ok(_) => return Err(bad(&format!("{what} is not an http(s):// or file:// URL"))),
                Err(e) => return Err(bad(&format!("{what}: {e}"))),
            }
        }
        mirrors.push((upstream.trim_end_matches('/').to_string(), base.trim_end_matches('/').to_string()));
    }
    Ok(mirrors)
}

/// A mirror entry as it may be printed: each side as `scheme://host[:port]/path` when it
/// parses as a URL (credentials dropped), else `…`; never the text itself.
fn redact_entry(entry: &str) -> String {
    let side = |s: &str| match reqwest::Url::parse(s) {
        Ok(u) if u.scheme() == "file" => format!("file://{}", u.path()),
        Ok(u) if u.host().is_some() => {
            let mut shown = format!("{}://", u.scheme());
            if !u.username().is_empty() || u.password().is_some() {
                shown.push_str("***@");
            }
            shown.push_str(u.host_str().unwrap_or_default());
            if let Some(port) = u.port() {
                shown.push_str(&format!(":{port}"));
            }
            shown.push_str(u.path().trim_end_matches('/'));
            shown
        }
        _ => "…".to_string(),
    };
    match entry.split_once('=') {
        Some((upstream, base)) => format!("{}={}", side(upstream), side(base)),
        None => side(entry),
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

/// The overall deadline of a download passed (inside an `io::Error` from a read).
#[derive(Debug)]
struct DeadlinePassed;
impl std::fmt::Display for DeadlinePassed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("deadline passed")
    }
}
impl std::error::Error for DeadlinePassed {}

fn is_deadline(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<DeadlinePassed>())
}

/// Turns reqwest's timeout into a typed error the retry logic recognises, and ends the
/// body when the download's deadline has passed.
struct ResponseReader {
    response: Response,
    url: String,
    timeout: Duration,
    deadline: Instant,
}

impl Read for ResponseReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if Instant::now() >= self.deadline {
            return Err(io::Error::new(io::ErrorKind::TimedOut, DeadlinePassed));
        }
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

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.insert(*name, value.parse().unwrap());
        }
        h
    }

    #[test]
    fn retry_after_takes_seconds_or_an_http_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT
        let at = |v: &str| retry_after(&headers(&[("retry-after", v)]), now);
        assert_eq!(at("120"), Some(Duration::from_secs(120)));
        assert_eq!(at("Sun, 06 Nov 1994 08:50:37 GMT"), Some(Duration::from_secs(60)));
        assert_eq!(at("Sun, 06 Nov 1994 08:40:37 GMT"), Some(Duration::ZERO), "a date past is now");
        assert_eq!(at("soon"), None);
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }

    #[test]
    fn only_a_content_range_that_is_exactly_the_rest_fits() {
        let resume = Resume { have: 100, validator: Validator::Etag("\"x\"".into()), total: Some(1000) };
        let fits = |range: &str, len: Option<&str>| {
            let mut pairs = vec![("content-range", range)];
            if let Some(len) = len {
                pairs.push(("content-length", len));
            }
            fitting_range(&headers(&pairs), &resume)
        };
        assert_eq!(fits("bytes 100-999/1000", Some("900")), Some(1000));
        assert_eq!(fits("bytes 100-999/1000", None), Some(1000));
        assert_eq!(fits("bytes 4196-999/1000", Some("804")), None, "shifted");
        assert_eq!(fits("bytes 100-998/1000", Some("899")), None, "not to the end");
        assert_eq!(fits("bytes 100-1999/2000", Some("1900")), None, "another length than announced");
        assert_eq!(fits("bytes 100-999/1000", Some("10")), None, "a body of another length");
        assert_eq!(fits("bytes 100-999/*", None), None);
        assert_eq!(fits("items 100-999/1000", None), None);
    }

    #[test]
    fn a_bad_mirror_entry_is_named_by_position_never_by_its_text() {
        let e = parse_mirrors(&["https://dl.k8s.io=https://u:tok".into(), "en@host/x".into()]).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("mirror entry 1 of 2"), "{text}");
        assert!(!text.contains("tok") && !text.contains("en@"), "{text}");
        let e = parse_mirrors(&["https://dl.k8s.io=https://a.example".into(), "en@host/x".into()]).unwrap_err();
        assert!(e.to_string().contains("mirror entry 2 of 2 (…)"), "{e}");
        let ok = parse_mirrors(&["https://dl.k8s.io=https://user:p%2Cw@mirror.example/k8s/".into()]).unwrap();
        assert_eq!(ok, [("https://dl.k8s.io".to_string(), "https://user:p%2Cw@mirror.example/k8s".to_string())]);
        assert_eq!(
            redact_entry("https://dl.k8s.io=https://u:p@m.example:8443/k"),
            "https://dl.k8s.io=https://***@m.example:8443/k"
        );
    }

    #[test]
    fn errors_stay_small() {
        // Every pipeline error carries one; clippy's result_large_err counts the bytes.
        assert!(std::mem::size_of::<TransportError>() <= 64, "{}", std::mem::size_of::<TransportError>());
    }

    #[test]
    fn redact_drops_credentials_only() {
        assert_eq!(redact("https://u:p@mirror.example/k8s/x"), "https://***@mirror.example/k8s/x");
        assert_eq!(redact("http://token@127.0.0.1:8080"), "http://***@127.0.0.1:8080");
        assert_eq!(redact("https://dl.k8s.io/release/v1.29.0/a@b"), "https://dl.k8s.io/release/v1.29.0/a@b");
        assert_eq!(redact("file:///srv/mirror"), "file:///srv/mirror");
    }
}
