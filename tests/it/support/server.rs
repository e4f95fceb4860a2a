//! An in-process HTTP(S) server on 127.0.0.1:0 that serves fixtures in the upstreams'
//! layouts, injects faults per path, and logs every request it receives.
//!
//! One thread per connection, one response per connection (`Connection: close`): a
//! fault such as a reset or a stall then never poisons a pooled connection, and the
//! request log counts attempts exactly.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::tls::Ca;

/// What the server does instead of (or before) serving a path normally.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Announces the file's full length, sends half of it, closes the connection.
    Truncate,
    /// Announces half the file's length and sends all of it: a client that trusts
    /// Content-Length reads only the first half.
    ShortLength,
    /// Announces the full length, sends half, then resets the connection (RST).
    Reset,
    /// This status with an HTML error page, as CDNs answer.
    Status(u16),
    /// 200 with an HTML page instead of the file (a captive portal, a login page).
    Html,
    /// 200, no Content-Length, bytes until the client hangs up.
    Endless,
    /// 200 with a Content-Length of this many bytes, and a short body (a lie about size).
    AnnounceLength(u64),
    /// Accepts the connection, reads the request, never answers.
    StallHeaders,
    /// Sends the headers and half the body, then nothing (until the client hangs up).
    StallBody,
    /// Sends the file in `chunk`-byte pieces with `pause` between them.
    Trickle { chunk: usize, pause: Duration },
    /// 302 to this URL.
    Redirect(String),
    /// The first `times` requests get `fault`, later ones the file.
    Times { times: usize, fault: Box<Fault> },
    /// This status with these headers and an HTML page (429 with `Retry-After`).
    StatusWith(u16, Vec<(String, String)>),
    /// The file served as a real server serves it: validators, single byte ranges,
    /// `If-Range`, with faults on top (see [`Ranged`]).
    Ranged(Ranged),
}

/// How a [`Fault::Ranged`] path is served.
#[derive(Clone, Debug, Default)]
pub struct Ranged {
    /// A strong `ETag` to send and honour in `If-Range`.
    pub etag: Option<String>,
    /// A `Last-Modified` date to send and honour in `If-Range`.
    pub last_modified: Option<String>,
    /// Ignore `Range`: always 200 with the whole file.
    pub ignore_range: bool,
    /// Close the connection when the file's byte offset reaches this.
    pub cut: Option<usize>,
    /// Like `cut`, but hold the connection open (until the client hangs up).
    pub stall: Option<usize>,
    /// A lying `Content-Range`: a range from A is answered with the bytes (and header)
    /// from A + shift.
    pub shift: usize,
}

impl Fault {
    /// The first `times` requests get `fault`; then the file is served.
    pub fn times(times: usize, fault: Fault) -> Fault {
        Fault::Times { times, fault: Box::new(fault) }
    }
}

/// One request as the server saw it.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    pub path: String,
    /// Header names lowercased.
    pub headers: Vec<(String, String)>,
    /// The raw request head, for "this secret never arrived here" checks.
    pub raw: String,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct State {
    files: Mutex<HashMap<String, Vec<u8>>>,
    faults: Mutex<HashMap<String, Fault>>,
    hits: Mutex<HashMap<String, usize>>,
    log: Mutex<Vec<Request>>,
    active: AtomicUsize,
    max_active: AtomicUsize,
    /// Bytes of file bodies written, all paths together.
    sent: AtomicUsize,
    /// (path, status, body bytes) of each response, in order.
    responses: Mutex<Vec<(String, u16, usize)>>,
    stopped: AtomicBool,
}

/// A running server; it stops accepting when dropped (stalled connections end when
/// their client hangs up, or after a minute).
pub struct Server {
    pub port: u16,
    https: bool,
    state: Arc<State>,
}

impl Server {
    /// A plain-HTTP server.
    pub fn start() -> Server {
        Server::spawn(None)
    }

    /// An HTTPS server whose certificate (for 127.0.0.1 and localhost) `ca` issued.
    pub fn start_https(ca: &Ca) -> Server {
        Server::spawn(Some(ca.server_config()))
    }

    fn spawn(tls: Option<Arc<rustls::ServerConfig>>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(State::default());
        let https = tls.is_some();
        let accept_state = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if accept_state.stopped.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let state = accept_state.clone();
                let tls = tls.clone();
                std::thread::spawn(move || {
                    let now = state.active.fetch_add(1, Ordering::SeqCst) + 1;
                    state.max_active.fetch_max(now, Ordering::SeqCst);
                    let _ = serve_connection(&state, stream, tls);
                    state.active.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        Server { port, https, state }
    }

    /// `http://127.0.0.1:PORT` (or https).
    pub fn base(&self) -> String {
        self.base_on("127.0.0.1")
    }

    /// The same server under another host name (`localhost`): another host to a client.
    pub fn base_on(&self, host: &str) -> String {
        format!("{}://{host}:{}", if self.https { "https" } else { "http" }, self.port)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/{}", self.base(), path.trim_start_matches('/'))
    }

    /// Serves `bytes` at `path` (a leading `/` optional).
    pub fn put(&self, path: &str, bytes: impl Into<Vec<u8>>) -> &Server {
        self.state.files.lock().unwrap().insert(normalize(path), bytes.into());
        self
    }

    pub fn remove(&self, path: &str) -> &Server {
        self.state.files.lock().unwrap().remove(&normalize(path));
        self
    }

    pub fn file(&self, path: &str) -> Vec<u8> {
        self.state.files.lock().unwrap().get(&normalize(path)).cloned().unwrap_or_else(|| panic!("no file {path}"))
    }

    pub fn fault(&self, path: &str, fault: Fault) -> &Server {
        self.state.faults.lock().unwrap().insert(normalize(path), fault);
        self
    }

    pub fn clear_fault(&self, path: &str) -> &Server {
        self.state.faults.lock().unwrap().remove(&normalize(path));
        self
    }

    /// Every request received so far, in order of arrival.
    pub fn requests(&self) -> Vec<Request> {
        self.state.log.lock().unwrap().clone()
    }

    /// How many requests `path` received.
    pub fn hits(&self, path: &str) -> usize {
        self.requests().iter().filter(|r| r.path == normalize(path)).count()
    }

    /// The paths requested, in order.
    pub fn paths(&self) -> Vec<String> {
        self.requests().into_iter().map(|r| r.path).collect()
    }

    /// The most connections served at the same time.
    pub fn max_concurrent(&self) -> usize {
        self.state.max_active.load(Ordering::SeqCst)
    }

    /// Bytes of bodies sent so far.
    pub fn bytes_sent(&self) -> usize {
        self.state.sent.load(Ordering::SeqCst)
    }

    /// (status, body bytes sent) of each response to `path`, in order (a response is
    /// recorded once its body is done or broken off).
    pub fn responses(&self, path: &str) -> Vec<(u16, usize)> {
        let path = normalize(path);
        self.state.responses.lock().unwrap().iter().filter(|(p, ..)| *p == path).map(|(_, s, n)| (*s, *n)).collect()
    }

    /// Forgets every request and response seen so far.
    pub fn forget(&self) {
        self.state.log.lock().unwrap().clear();
        self.state.responses.lock().unwrap().clear();
        self.state.hits.lock().unwrap().clear();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.state.stopped.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn normalize(path: &str) -> String {
    format!("/{}", path.trim_start_matches('/'))
}

fn serve_connection(state: &State, stream: TcpStream, tls: Option<Arc<rustls::ServerConfig>>) -> io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let raw = stream.try_clone()?;
    match tls {
        None => handle(state, stream, &raw),
        Some(config) => {
            let conn = rustls::ServerConnection::new(config).map_err(io::Error::other)?;
            let tls = rustls::StreamOwned::new(conn, stream);
            handle(state, tls, &raw)
        }
    }
}

/// Reads one request head and answers it.
fn handle<S: Read + Write>(state: &State, mut stream: S, raw: &TcpStream) -> io::Result<()> {
    let Some(request) = read_head(&mut stream)? else { return Ok(()) };
    let path = request.path.split('?').next().unwrap_or("/").to_string();
    state.log.lock().unwrap().push(request.clone());
    let hit = {
        let mut hits = state.hits.lock().unwrap();
        let n = hits.entry(path.clone()).or_insert(0);
        *n += 1;
        *n
    };
    let file = state.files.lock().unwrap().get(&path).cloned();
    let mut fault = state.faults.lock().unwrap().get(&path).cloned();
    if let Some(Fault::Times { times, fault: inner }) = fault {
        fault = (hit <= times).then_some(*inner);
    }
    let mut w = Writer { stream: &mut stream, state, status: 0, sent: 0 };
    match (fault, file) {
        (None, Some(body)) => w.respond(200, "application/octet-stream", &body),
        (None, None) | (Some(Fault::Status(404)), _) => w.html(404),
        (Some(Fault::Status(code)), _) => w.html(code),
        (Some(Fault::Html), _) => w.respond(200, "text/html", HTML_PAGE.as_bytes()),
        (Some(Fault::Redirect(to)), _) => {
            w.head(302, &[("Location", &to), ("Content-Length", "0")])?;
            w.stream.flush()
        }
        (Some(Fault::StatusWith(code, headers)), _) => {
            let page = format!("<html><body><h1>{code}</h1></body></html>\n");
            let len = page.len().to_string();
            let mut all: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
            all.push(("Content-Type", "text/html"));
            all.push(("Content-Length", &len));
            w.head(code, &all)?;
            w.body(page.as_bytes())
        }
        (Some(Fault::Ranged(spec)), Some(body)) => {
            let result = ranged(&mut w, &request, &spec, &body, raw);
            state.responses.lock().unwrap().push((path.clone(), w.status, w.sent));
            result
        }
        (Some(fault), body) => {
            let body = body.unwrap_or_default();
            let half = body.len() / 2;
            match fault {
                Fault::Truncate => {
                    w.head(200, &[("Content-Length", &body.len().to_string())])?;
                    w.body(&body[..half])
                }
                Fault::ShortLength => {
                    w.head(200, &[("Content-Length", &half.to_string())])?;
                    w.body(&body)
                }
                Fault::AnnounceLength(n) => {
                    w.head(200, &[("Content-Length", &n.to_string())])?;
                    w.body(&body)
                }
                Fault::Reset => {
                    w.head(200, &[("Content-Length", &body.len().to_string())])?;
                    w.body(&body[..half])?;
                    std::thread::sleep(Duration::from_millis(50));
                    socket2::SockRef::from(raw).set_linger(Some(Duration::ZERO))?;
                    drop(stream);
                    Ok(())
                }
                Fault::Endless => {
                    w.head(200, &[])?;
                    let chunk = vec![b'x'; 64 * 1024];
                    let until = Instant::now() + Duration::from_secs(60);
                    while Instant::now() < until {
                        w.body(&chunk)?;
                    }
                    Ok(())
                }
                Fault::StallHeaders => {
                    wait_for_hangup(raw);
                    Ok(())
                }
                Fault::StallBody => {
                    w.head(200, &[("Content-Length", &body.len().to_string())])?;
                    w.body(&body[..half])?;
                    wait_for_hangup(raw);
                    Ok(())
                }
                Fault::Trickle { chunk, pause } => {
                    w.head(200, &[("Content-Length", &body.len().to_string())])?;
                    for piece in body.chunks(chunk.max(1)) {
                        w.body(piece)?;
                        std::thread::sleep(pause);
                    }
                    Ok(())
                }
                Fault::Ranged(_) => w.html(404),
                Fault::Status(_) | Fault::Html | Fault::Redirect(_) | Fault::Times { .. } | Fault::StatusWith(..) => {
                    unreachable!()
                }
            }
        }
    }
}

/// Serves `body` as [`Fault::Ranged`] says.
fn ranged<S: Write>(
    w: &mut Writer<'_, S>,
    request: &Request,
    spec: &Ranged,
    body: &[u8],
    raw: &TcpStream,
) -> io::Result<()> {
    let size = body.len();
    let if_range_holds = match request.header("if-range") {
        None => true,
        Some(v) if v.starts_with('"') => spec.etag.as_deref() == Some(v),
        Some(v) => spec.last_modified.as_deref() == Some(v),
    };
    let asked = request.header("range").and_then(|r| r.strip_prefix("bytes=")).and_then(|r| {
        let (a, b) = r.split_once('-')?;
        let a: usize = a.parse().ok()?;
        let b: usize = if b.is_empty() { size.checked_sub(1)? } else { b.parse().ok()? };
        Some((a, b.min(size.saturating_sub(1))))
    });
    let (mut first, last, status) = match asked {
        Some((a, _)) if !spec.ignore_range && if_range_holds && a >= size => {
            let unsatisfiable = format!("bytes */{size}");
            w.head(416, &[("Content-Range", &unsatisfiable), ("Content-Length", "0")])?;
            return Ok(());
        }
        Some((a, b)) if !spec.ignore_range && if_range_holds && a <= b => (a, b, 206),
        _ => (0, size.saturating_sub(1), 200),
    };
    if status == 206 {
        first = (first + spec.shift).min(last);
    }
    let len = (last + 1 - first).to_string();
    let range = format!("bytes {first}-{last}/{size}");
    let mut headers = vec![("Content-Type", "application/octet-stream"), ("Content-Length", len.as_str())];
    if status == 206 {
        headers.push(("Content-Range", &range));
    }
    if !spec.ignore_range {
        headers.push(("Accept-Ranges", "bytes"));
    }
    if let Some(tag) = &spec.etag {
        headers.push(("ETag", tag));
    }
    if let Some(date) = &spec.last_modified {
        headers.push(("Last-Modified", date));
    }
    w.head(status, &headers)?;
    let halt = spec.cut.or(spec.stall).map_or(last + 1, |h| h.max(first)).min(last + 1);
    for piece in body[first..halt].chunks(64 * 1024) {
        w.body(piece)?;
    }
    if halt <= last && spec.stall.is_some() {
        wait_for_hangup(raw);
    }
    Ok(())
}

const HTML_PAGE: &str = "<!DOCTYPE html>\n<html><head><title>Sign in</title></head>\n<body><p>Please sign in to continue.</p></body></html>\n";

/// Blocks until the peer closes the connection (or a minute passes).
fn wait_for_hangup(raw: &TcpStream) {
    let until = Instant::now() + Duration::from_secs(60);
    let _ = raw.set_read_timeout(Some(Duration::from_millis(200)));
    let mut buf = [0u8; 1024];
    let mut reader = raw;
    while Instant::now() < until {
        match reader.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {}
            Err(_) => return,
        }
    }
}

fn read_head<S: Read>(stream: &mut S) -> io::Result<Option<Request>> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte)? == 0 || head.len() > 64 * 1024 {
            return Ok(None);
        }
        head.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let mut lines = text.split("\r\n");
    let mut first = lines.next().unwrap_or_default().split(' ');
    let method = first.next().unwrap_or_default().to_string();
    let path = first.next().unwrap_or_default().to_string();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Ok(Some(Request { method, path, headers, raw: text }))
}

struct Writer<'a, S: Write> {
    stream: &'a mut S,
    state: &'a State,
    status: u16,
    sent: usize,
}

impl<S: Write> Writer<'_, S> {
    fn head(&mut self, status: u16, headers: &[(&str, &str)]) -> io::Result<()> {
        self.status = status;
        let mut head = format!("HTTP/1.1 {status} {}\r\nConnection: close\r\n", reason(status));
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        self.stream.write_all(head.as_bytes())?;
        self.stream.flush()
    }

    fn body(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)?;
        self.stream.flush()?;
        self.state.sent.fetch_add(bytes.len(), Ordering::SeqCst);
        self.sent += bytes.len();
        Ok(())
    }

    fn respond(&mut self, status: u16, content_type: &str, body: &[u8]) -> io::Result<()> {
        self.head(status, &[("Content-Type", content_type), ("Content-Length", &body.len().to_string())])?;
        self.body(body)
    }

    fn html(&mut self, status: u16) -> io::Result<()> {
        let page = format!(
            "<!DOCTYPE html>\n<html><head><title>{status} {reason}</title></head>\n<body><h1>{status} {reason}</h1></body></html>\n",
            reason = reason(status)
        );
        self.respond(status, "text/html; charset=UTF-8", page.as_bytes())
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        206 => "Partial Content",
        302 => "Found",
        408 => "Request Timeout",
        416 => "Range Not Satisfiable",
        429 => "Too Many Requests",
        403 => "Forbidden",
        404 => "Not Found",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}
