//! Transparency-log capture: a real production Rekor v1 entry (and broken copies of
//! it) served by a fake Rekor; `lock` and `mirror` turn pair + entry into a bundle that
//! then verifies offline with the tlog checked.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::support::*;

const VECTORS: &str = "../shared/testvectors";
const IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const ISSUER: &str = "https://token.actions.githubusercontent.com";

/// What the fake Rekor answers to a search.
#[derive(Clone)]
pub(crate) enum Answer {
    /// These `{entryID: entry}` objects, for both the search and the lookup by UUID.
    Entries(Vec<serde_json::Value>),
    /// An empty search result and 404 for the lookup.
    Nothing,
    /// This status and an HTML page, for every request.
    Html(u16),
}

/// A Rekor v1 on loopback (also serves the generated log of `rekor_k8s`).
pub(crate) struct FakeRekor {
    pub(crate) url: String,
    pub(crate) requests: Arc<AtomicUsize>,
}

impl FakeRekor {
    pub(crate) fn start(answer: Answer) -> FakeRekor {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(AtomicUsize::new(0));
        let count = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                count.fetch_add(1, Ordering::SeqCst);
                let answer = answer.clone();
                std::thread::spawn(move || serve(stream, &answer));
            }
        });
        FakeRekor { url, requests }
    }
}

fn serve(mut stream: std::net::TcpStream, answer: &Answer) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    reader.read_line(&mut request_line).unwrap();
    let mut length = 0usize;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).unwrap();
        if header.trim().is_empty() {
            break;
        }
        if let Some(v) = header.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap();
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).unwrap();
    let post = request_line.starts_with("POST");
    let (status, content_type, text) = match answer {
        Answer::Html(status) => (*status, "text/html", "<html><body><h1>Bad Gateway</h1></body></html>".to_string()),
        Answer::Nothing if post => (200, "application/json", "[]".to_string()),
        Answer::Nothing => (404, "application/json", r#"{"code":404,"message":"not found"}"#.to_string()),
        Answer::Entries(entries) if post => (200, "application/json", serde_json::to_string(entries).unwrap()),
        Answer::Entries(entries) => {
            let mut all = serde_json::Map::new();
            for e in entries {
                all.extend(e.as_object().unwrap().clone());
            }
            (200, "application/json", serde_json::Value::Object(all).to_string())
        }
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    );
}

fn vector(rel: &str) -> PathBuf {
    Path::new(VECTORS).join(rel)
}

fn entry(rel: &str) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(vector(rel)).unwrap()).unwrap()
}

/// The conformance pair published as Kubernetes' kubectl v1.29.4, on a file:// upstream.
struct Upstream {
    tmp: tempfile::TempDir,
}

impl Upstream {
    fn new() -> Upstream {
        let tmp = tempdir();
        let data = std::fs::read(vector("detached-fulcio/a.txt")).unwrap();
        let dir = tmp.path().join("up/release/v1.29.4/bin/linux/amd64");
        write(&dir, "kubectl", &data);
        write(&dir, "kubectl.sha256", sha256_hex(&data));
        write(&dir, "kubectl.sha512", sha512_hex(&data));
        std::fs::copy(vector("detached-fulcio/a.txt.v0.3.sig"), dir.join("kubectl.sig")).unwrap();
        std::fs::copy(vector("detached-fulcio/a.txt.v0.3.cert"), dir.join("kubectl.cert")).unwrap();
        write(tmp.path(), "local/kubectl", &data);
        Upstream { tmp }
    }

    fn path(&self, rel: &str) -> String {
        self.tmp.path().join(rel).display().to_string()
    }

    fn common(&self) -> Vec<String> {
        vec![
            format!("--mirror=https://dl.k8s.io=file://{}", self.path("up")),
            format!("--certificate-identity={IDENTITY}"),
            format!("--certificate-oidc-issuer={ISSUER}"),
            "--no-progress".into(),
        ]
    }

    fn lock(&self, rekor: &str) -> Run {
        let mut a = vec![
            "lock".into(),
            "kubectl@v1.29.4".into(),
            "--platform=linux/amd64".into(),
            format!("--rekor-url={rekor}"),
        ];
        a.extend(["-o".into(), self.path("kverify.lock")]);
        a.extend(self.common());
        kverify(a)
    }
}

#[test]
fn a_real_entry_becomes_a_bundle_that_verifies_offline_with_the_tlog() {
    let up = Upstream::new();
    let rekor = FakeRekor::start(Answer::Entries(vec![entry("rekor-v1/a.txt.v0.3.rekor.json")]));
    let run = up.lock(&rekor.url);
    run.code(0);
    let lock = std::fs::read_to_string(up.path("kverify.lock")).unwrap();
    assert!(lock.contains("tlog = true"), "{lock}");
    assert!(lock.contains("bundle = "), "{lock}");
    assert!(lock.contains("signed_at = \"2024-03-19T17:26:26Z\""), "{lock}");

    // Offline from here: verification needs no Rekor, and says the tlog was checked.
    drop(rekor);
    let run = kverify(["verify", &up.path("local/kubectl"), "--lock", &up.path("kverify.lock"), "--json"]);
    run.code(0);
    let row = &run.json()[0];
    assert_eq!(row["status"], "ok");
    assert_eq!(row["evidence"]["signature"]["tlog"], true);
    assert_eq!(row["evidence"]["signature"]["kind"], "bundle");
    assert_eq!(row["evidence"]["signature"]["signed_at"], "2024-03-19T17:26:26Z");
    assert_eq!(row["evidence"]["signature"]["identity"], IDENTITY);

    // A lock whose kept bundle was tampered with fails offline.
    let tampered = lock.replacen("MEUCICYFq", "MEUCICYFr", 1);
    assert_ne!(tampered, lock, "the kept bundle holds the signature");
    write(up.tmp.path(), "tampered.lock", tampered);
    let run = kverify(["verify", &up.path("local/kubectl"), "--lock", &up.path("tampered.lock")]);
    run.code(1);
    assert!(run.stderr.contains("the bundle kept in the lock"), "{}", run.stderr);
}

#[test]
fn mirror_keeps_the_proof_as_a_standard_bundle_beside_the_artifact() {
    let up = Upstream::new();
    let rekor = FakeRekor::start(Answer::Entries(vec![entry("rekor-v1/a.txt.v0.3.rekor.json")]));
    let mut a = vec!["mirror".into(), "kubectl@v1.29.4".into(), "--os=linux".into(), "--arch=amd64".into()];
    a.extend([format!("--rekor-url={}", rekor.url), "--to".into(), up.path("mir")]);
    a.extend(up.common());
    kverify(a).code(0);
    let bundle = up.path("mir/dl.k8s.io/release/v1.29.4/bin/linux/amd64/kubectl.sigstore.json");
    let run = kverify([
        "verify",
        &up.path("local/kubectl"),
        "--bundle",
        &bundle,
        "--certificate-identity",
        IDENTITY,
        "--certificate-oidc-issuer",
        ISSUER,
        "--json",
    ]);
    run.code(0);
    assert_eq!(run.json()[0]["evidence"]["signature"]["tlog"], true);
}

#[test]
fn every_broken_entry_is_refused_and_nothing_is_kept() {
    let mut negatives: Vec<PathBuf> =
        std::fs::read_dir(vector("rekor-v1/negative")).unwrap().map(|e| e.unwrap().path()).collect();
    negatives.sort();
    assert_eq!(negatives.len(), 7, "the seven broken variants of the README");
    for path in negatives {
        let up = Upstream::new();
        let broken: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let rekor = FakeRekor::start(Answer::Entries(vec![broken]));
        let run = up.lock(&rekor.url);
        assert_eq!(run.code, 1, "{}: exit code\n{}\n{}", path.display(), run.stdout, run.stderr);
        assert!(run.stdout.contains("transparency-log entry"), "{}: {}", path.display(), run.stdout);
        assert!(!Path::new(&up.path("kverify.lock")).exists(), "{}: a lock was written", path.display());
    }
}

#[test]
fn the_earliest_entry_that_verifies_wins() {
    let up = Upstream::new();
    // A copy logged "earlier" whose SET no longer matches, then the real one.
    let mut earlier = entry("rekor-v1/a.txt.v0.3.rekor.json");
    let (_, inner) = earlier.as_object_mut().unwrap().iter_mut().next().unwrap();
    inner["integratedTime"] = serde_json::json!(inner["integratedTime"].as_i64().unwrap() - 60);
    let mut renamed = serde_json::Map::new();
    renamed.insert(format!("{:0>80}", "1"), inner.clone());
    let answer = Answer::Entries(vec![serde_json::Value::Object(renamed), entry("rekor-v1/a.txt.v0.3.rekor.json")]);
    let rekor = FakeRekor::start(answer);
    up.lock(&rekor.url).code(0);
    let lock = std::fs::read_to_string(up.path("kverify.lock")).unwrap();
    assert!(lock.contains("signed_at = \"2024-03-19T17:26:26Z\""), "{lock}");
}

#[test]
fn no_entry_found_is_recorded_not_failed() {
    let up = Upstream::new();
    let rekor = FakeRekor::start(Answer::Nothing);
    let run = up.lock(&rekor.url);
    run.code(0);
    assert!(run.stdout.contains("no tlog proof"), "{}", run.stdout);
    assert_eq!(rekor.requests.load(Ordering::SeqCst), 2, "the search, then the lookup by UUID");
    let lock = std::fs::read_to_string(up.path("kverify.lock")).unwrap();
    assert!(lock.contains("tlog = false") && !lock.contains("bundle = "), "{lock}");
}

#[test]
fn html_error_pages_and_an_unreachable_log() {
    let up = Upstream::new();
    // A proxy's error page is not a Rekor answer: after retries, "try again later".
    let rekor = FakeRekor::start(Answer::Html(502));
    up.lock(&rekor.url).code(3);
    // An HTML page served as success is malformed evidence.
    let rekor = FakeRekor::start(Answer::Html(200));
    let run = up.lock(&rekor.url);
    run.code(1);
    assert!(run.stdout.contains("not a Rekor v1 answer"), "{}", run.stdout);
    // Nothing listening at all.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    up.lock(&format!("http://{closed}")).code(3);
    assert!(!Path::new(&up.path("kverify.lock")).exists());
}

#[test]
fn no_rekor_locks_without_asking() {
    let up = Upstream::new();
    let rekor = FakeRekor::start(Answer::Nothing);
    let mut a = vec!["lock".into(), "kubectl@v1.29.4".into(), "--platform=linux/amd64".into(), "--no-rekor".into()];
    a.extend([format!("--rekor-url={}", rekor.url), "-o".into(), up.path("kverify.lock")]);
    a.extend(up.common());
    kverify(a).code(0);
    assert_eq!(rekor.requests.load(Ordering::SeqCst), 0);
    assert!(std::fs::read_to_string(up.path("kverify.lock")).unwrap().contains("tlog = false"));
}
