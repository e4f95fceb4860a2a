//! What `kverify fetch` does when the network misbehaves: broken, lying, endless and
//! stalled bodies, error pages, redirects, TLS, retries, and mirror credentials.
//! Every case asserts the exit code, that nothing (not even a temporary file) is left in
//! the destination, and what the server saw.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::releases::*;
use crate::support::server::{Fault, Server};
use crate::support::tls::Ca;
use crate::support::*;

const V: &str = "v1.29.0";

fn kubelet() -> String {
    k8s_path(V, "kubelet")
}

#[track_caller]
fn assert_empty(dir: &Path) {
    assert_eq!(listing(dir), Vec::<String>::new(), "leftovers in {}", dir.display());
}

fn text(run: &Run) -> String {
    format!("{}\n{}", run.stdout, run.stderr)
}

#[test]
fn a_truncated_body_is_retried_then_exit_3() {
    let server = Server::start();
    publish_kubelet(&server, V, 1, 200_000);
    server.fault(&kubelet(), Fault::Truncate);
    let dest = tempdir();
    let run = fetch(&server, dest.path(), &["kubelet", V], &[]);
    run.code(3);
    let t = text(&run);
    assert!(t.contains(&server.url(&kubelet())) && t.contains("after 100000 bytes"), "{t}");
    assert_eq!(server.hits(&kubelet()), 3, "one attempt and two retries");
    assert_empty(dest.path());
}

#[test]
fn a_connection_reset_mid_stream_is_retried_then_exit_3() {
    let server = Server::start();
    publish_kubelet(&server, V, 2, 400_000);
    server.fault(&kubelet(), Fault::Reset);
    let dest = tempdir();
    let run = fetch(&server, dest.path(), &["kubelet", V], &[]);
    run.code(3);
    assert!(text(&run).contains(&server.url(&kubelet())), "{}", text(&run));
    assert_eq!(server.hits(&kubelet()), 3);
    assert_empty(dest.path());
}

#[test]
fn transient_failures_are_retried_and_then_install() {
    for (what, fault) in [
        ("503 then OK", Fault::times(2, Fault::Status(503))),
        ("500 then OK", Fault::times(1, Fault::Status(500))),
        ("reset then OK", Fault::times(1, Fault::Reset)),
        ("truncated then OK", Fault::times(2, Fault::Truncate)),
    ] {
        let server = Server::start();
        let data = publish_kubelet(&server, V, 3, 100_000);
        let times = match &fault {
            Fault::Times { times, .. } => *times,
            _ => unreachable!(),
        };
        server.fault(&kubelet(), fault);
        let dest = tempdir();
        let run = fetch(&server, dest.path(), &["kubelet", V], &[]);
        assert_eq!(run.code, 0, "{what}: {run:?}");
        assert_eq!(server.hits(&kubelet()), times + 1, "{what}");
        assert_eq!(listing(dest.path()), ["kubelet"], "{what}");
        assert!(std::fs::read(dest.path().join("kubelet")).unwrap() == data, "{what}");
    }
}

#[test]
fn a_content_length_shorter_than_the_body_is_a_mismatch() {
    let server = Server::start();
    publish_kubelet(&server, V, 4, 100_000);
    server.fault(&kubelet(), Fault::ShortLength);
    let dest = tempdir();
    let run = fetch(&server, dest.path(), &["kubelet", V], &[]);
    run.code(1);
    assert!(run.line_with("kubelet").contains("mismatch"), "{}", run.stdout);
    assert_eq!(server.hits(&kubelet()), 1, "a mismatch is not retried");
    assert_empty(dest.path());
}

#[test]
fn error_pages_are_never_hashed_as_the_artifact() {
    for (status, code, attempts) in [(404, 1, 1), (403, 1, 1), (500, 3, 3), (502, 3, 3)] {
        let server = Server::start();
        publish_kubelet(&server, V, 5, 50_000);
        server.fault(&kubelet(), Fault::Status(status));
        let dest = tempdir();
        let run = fetch(&server, dest.path(), &["kubelet", V], &["--json"]);
        assert_eq!(run.code, code, "HTTP {status}: {run:?}");
        let rows = run.json();
        assert_eq!(rows.len(), 1, "{status}: {}", run.stdout);
        assert_eq!(rows[0]["digests"], serde_json::json!({}), "HTTP {status}: the error page was hashed");
        let message = rows[0]["message"].as_str().unwrap();
        assert!(message.contains(&server.url(&kubelet())) && message.contains(&status.to_string()), "{message}");
        assert_eq!(server.hits(&kubelet()), attempts, "HTTP {status}: 5xx is retried, 4xx never");
        assert_empty(dest.path());
    }
}

#[test]
fn an_html_page_served_as_200_is_a_mismatch_not_retried() {
    let server = Server::start();
    publish_kubelet(&server, V, 6, 50_000);
    server.fault(&kubelet(), Fault::Html);
    let dest = tempdir();
    let run = fetch(&server, dest.path(), &["kubelet", V], &[]);
    run.code(1);
    assert!(run.line_with("kubelet").contains("mismatch"), "{}", run.stdout);
    assert_eq!(server.hits(&kubelet()), 1);
    assert_empty(dest.path());
}

#[test]
fn checksum_errors_stop_before_the_artifact() {
    // A 5xx on a checksum file is "retry later" (3); the artifact is never fetched.
    let server = Server::start();
    publish_kubelet(&server, V, 7, 50_000);
    server.fault(&format!("{}.sha256", kubelet()), Fault::Status(500));
    let dest = tempdir();
    fetch(&server, dest.path(), &["kubelet", V], &[]).code(3);
    assert_eq!(server.hits(&format!("{}.sha256", kubelet())), 3);
    assert_eq!(server.hits(&kubelet()), 0);
    // A truncated checksum file: 3 as well, not a malformed digest.
    server.fault(&format!("{}.sha256", kubelet()), Fault::Truncate);
    fetch(&server, dest.path(), &["kubelet", V], &[]).code(3);
    assert_eq!(server.hits(&kubelet()), 0);
    // An HTML page where the checksum should be is malformed evidence: 1.
    server.fault(&format!("{}.sha256", kubelet()), Fault::Html);
    fetch(&server, dest.path(), &["kubelet", V], &[]).code(1);
    assert_eq!(server.hits(&kubelet()), 0);
    assert_empty(dest.path());
}

#[test]
fn an_endless_checksum_file_is_capped() {
    let server = Server::start();
    publish_kubelet(&server, V, 8, 50_000);
    let sha256 = format!("{}.sha256", kubelet());
    let dest = tempdir();
    // Endless body, no Content-Length: cut off at the cap.
    server.fault(&sha256, Fault::Endless);
    let run = fetch(&server, dest.path(), &["kubelet", V], &[]);
    run.code(1);
    assert!(text(&run).contains("refusing an endless or oversized body"), "{}", text(&run));
    // Published, but unacceptable: not "not published".
    assert!(!text(&run).contains("not published"), "{}", text(&run));
    assert!(server.bytes_sent() < 64 * 1024 * 1024, "read far past the cap: {}", server.bytes_sent());
    // A Content-Length over the cap: refused before reading.
    server.fault(&sha256, Fault::AnnounceLength(1 << 40));
    fetch(&server, dest.path(), &["kubelet", V], &[]).code(1);
    assert_eq!(server.hits(&kubelet()), 0);
    assert_empty(dest.path());
}

/// A catalog that caps kubelet at 1 MiB, so an endless body ends quickly.
fn capped_catalog(dir: &Path) -> String {
    let path = write(
        dir,
        "capped.toml",
        r#"[[component]]
names = ["kubelet"]
upstream = "kubernetes"
description = "kubelet, at most 1 MiB"
url = "https://dl.k8s.io/release/v{version}/bin/{os}/{arch}/{name}"
checksums = ["{url}.sha256", "{url}.sha512"]
platforms = ["linux/amd64"]
max_size = 1048576
"#,
    );
    path.display().to_string()
}

#[test]
fn an_endless_or_oversized_artifact_is_capped() {
    let server = Server::start();
    publish_kubelet(&server, V, 9, 50_000);
    let dest = tempdir();
    let catalog_dir = tempdir();
    let catalog = capped_catalog(catalog_dir.path());
    server.fault(&kubelet(), Fault::Endless);
    let run = fetch(&server, dest.path(), &["kubelet", V], &["--catalog", &catalog]);
    run.code(1);
    assert!(text(&run).contains("more than 1048576 bytes"), "{}", text(&run));
    assert_eq!(server.hits(&kubelet()), 1, "an endless body is not retried");
    assert_empty(dest.path());
    // An announced length over the cap is refused before the body is read.
    server.fault(&kubelet(), Fault::AnnounceLength(5 << 30));
    fetch(&server, dest.path(), &["kubelet", V], &["--catalog", &catalog]).code(1);
    assert_empty(dest.path());
}

#[test]
fn a_server_that_never_answers_times_out() {
    let server = Server::start();
    publish_kubelet(&server, V, 10, 50_000);
    server.fault(&kubelet(), Fault::StallHeaders);
    let dest = tempdir();
    let started = Instant::now();
    // KVERIFY_TIMEOUT works as --timeout does.
    let mut args = fetch_args(&server, dest.path(), &["kubelet", V], &["--timeout", "1"]);
    let at = args.iter().position(|a| a == "--timeout").unwrap();
    args.drain(at..at + 2);
    let out = kverify_cmd().args(args).env("KVERIFY_TIMEOUT", "1").output().unwrap();
    let elapsed = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{stdout}\n{stderr}");
    assert!(stdout.contains("timed out") || stderr.contains("timed out"), "{stdout}\n{stderr}");
    assert_eq!(server.hits(&kubelet()), 3);
    assert!(elapsed < Duration::from_secs(15), "took {elapsed:?}");
    assert_empty(dest.path());
}

#[test]
fn a_body_that_stalls_midway_times_out() {
    let server = Server::start();
    publish_kubelet(&server, V, 11, 300_000);
    server.fault(&kubelet(), Fault::StallBody);
    let dest = tempdir();
    let started = Instant::now();
    let run = fetch(&server, dest.path(), &["kubelet", V], &["--timeout", "1"]);
    run.code(3);
    assert!(text(&run).contains("timed out (no data for 1 s)"), "{}", text(&run));
    assert!(started.elapsed() < Duration::from_secs(15), "took {:?}", started.elapsed());
    assert_eq!(server.hits(&kubelet()), 3);
    assert_empty(dest.path());
}

#[test]
fn a_slow_download_that_keeps_flowing_does_not_time_out() {
    let server = Server::start();
    let data = publish_kubelet(&server, V, 12, 120_000);
    // About 2.4 s in all, never 1 s without a byte: the timeout is per read, not per request.
    server.fault(&kubelet(), Fault::Trickle { chunk: 10_000, pause: Duration::from_millis(200) });
    let dest = tempdir();
    let started = Instant::now();
    fetch(&server, dest.path(), &["kubelet", V], &["--timeout", "1"]).code(0);
    assert!(started.elapsed() > Duration::from_secs(2));
    assert_eq!(server.hits(&kubelet()), 1);
    assert!(std::fs::read(dest.path().join("kubelet")).unwrap() == data);
}

#[test]
fn cross_host_redirects_are_followed() {
    // dl.k8s.io answers with a 302 to cdn.dl.k8s.io: here a second server under
    // another host name.
    let dl = Server::start();
    let cdn = Server::start();
    let data = publish_kubelet(&cdn, V, 13, 80_000);
    for suffix in ["", ".sha256", ".sha512"] {
        let path = format!("{}{suffix}", kubelet());
        dl.fault(&path, Fault::Redirect(format!("{}/{path}", cdn.base_on("localhost"))));
    }
    let dest = tempdir();
    fetch(&dl, dest.path(), &["kubelet", V], &[]).code(0);
    assert!(std::fs::read(dest.path().join("kubelet")).unwrap() == data);
    assert_eq!(dl.hits(&kubelet()), 1);
    assert_eq!(cdn.hits(&kubelet()), 1);
    assert_eq!(cdn.requests()[0].header("host"), Some(format!("localhost:{}", cdn.port).as_str()));
}

#[test]
fn a_redirect_loop_is_exit_3() {
    let server = Server::start();
    publish_kubelet(&server, V, 14, 10_000);
    server.fault(&kubelet(), Fault::Redirect(server.url(&format!("{}?again", kubelet()))));
    let dest = tempdir();
    let run = fetch(&server, dest.path(), &["kubelet", V], &[]);
    run.code(3);
    assert!(text(&run).contains("too many redirects"), "{}", text(&run));
    assert!(server.hits(&kubelet()) <= 11 * 3, "{}", server.hits(&kubelet()));
    assert_empty(dest.path());
}

#[test]
fn an_https_mirror_needs_its_ca_and_never_downgrades_to_http() {
    let ca = Ca::new("mirror");
    let https = Server::start_https(&ca);
    let data = publish_kubelet(&https, V, 15, 80_000);
    let dir = tempdir();
    let ca_pem = ca.write_pem(dir.path()).display().to_string();
    let dest = dir.path().join("dest");
    std::fs::create_dir(&dest).unwrap();

    // Without --ca-cert the mirror is untrusted: network error, nothing installed.
    let run = fetch(&https, &dest, &["kubelet", V], &[]);
    run.code(3);
    assert!(text(&run).contains(&https.url(&format!("{}.sha256", kubelet()))), "{}", text(&run));
    assert_empty(&dest);

    // A CA of someone else does not help.
    let other = Ca::new("other");
    let other_pem = dir.path().join("other.pem");
    std::fs::write(&other_pem, &other.pem).unwrap();
    fetch(&https, &dest, &["kubelet", V], &["--ca-cert", other_pem.to_str().unwrap()]).code(3);
    assert_empty(&dest);

    // With it: installed.
    fetch(&https, &dest, &["kubelet", V], &["--ca-cert", &ca_pem]).code(0);
    assert!(std::fs::read(dest.join("kubelet")).unwrap() == data);

    // https → http: refused, and the http server never sees a request.
    let plain = Server::start();
    publish_kubelet(&plain, V, 15, 80_000);
    https.fault(&kubelet(), Fault::Redirect(plain.url(&kubelet())));
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let run = fetch(&https, &empty, &["kubelet", V], &["--ca-cert", &ca_pem]);
    // Exit 1, not "retry later": a downgrade is what an SSL-stripping attacker does.
    run.code(1);
    assert!(text(&run).contains("https to http"), "{}", text(&run));
    assert!(plain.requests().is_empty(), "{:?}", plain.paths());
    assert_empty(&empty);

    // Not a certificate: a usage error.
    let junk = write(dir.path(), "junk.pem", b"not a certificate");
    fetch(&https, &empty, &["kubelet", V], &["--ca-cert", junk.to_str().unwrap()]).code(2);
}

#[test]
fn mirror_credentials_never_reach_another_host_or_the_output() {
    let mirror = Server::start();
    let cdn = Server::start();
    let data = publish_kubelet(&mirror, V, 16, 60_000);
    cdn.put(&kubelet(), data.clone());
    mirror.fault(&kubelet(), Fault::Redirect(format!("{}/{}", cdn.base_on("localhost"), kubelet())));
    let secret = "s3cr3t-passw0rd";
    let base = format!("http://mirror-user:{secret}@127.0.0.1:{}", mirror.port);
    let dest = tempdir();
    let args = |extra: &[&str]| {
        let mut a = fetch_args(&mirror, dest.path(), &["kubelet", V], extra);
        // Replace the plain mirror of dl.k8s.io with one that carries credentials.
        let at = a.iter().position(|x| x.starts_with("https://dl.k8s.io=")).unwrap();
        a[at] = format!("https://dl.k8s.io={base}");
        a
    };
    let run = kverify(args(&[]));
    run.code(0);
    assert!(std::fs::read(dest.path().join("kubelet")).unwrap() == data);
    // The mirror got the credentials…
    let expected = format!("Basic {}", base64_of(&format!("mirror-user:{secret}")));
    assert!(
        mirror.requests().iter().all(|r| r.header("authorization") == Some(expected.as_str())),
        "{:?}",
        mirror.requests()
    );
    // …the host it redirected to did not.
    let seen = cdn.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].header("authorization"), None, "{:?}", seen[0].raw);
    assert!(!seen[0].raw.contains(secret) && !seen[0].raw.contains(&base64_of(&format!("mirror-user:{secret}"))));
    // Nor do they show in reports or errors.
    assert!(!text(&run).contains(secret), "{}", text(&run));
    mirror.fault(&kubelet(), Fault::Status(404));
    let empty = tempdir();
    let mut a = args(&["-v"]);
    let at = a.iter().position(|x| x == "--dest").unwrap();
    a[at + 1] = empty.path().display().to_string();
    let run = kverify(a);
    run.code(1);
    assert!(!text(&run).contains(secret), "{}", text(&run));
}

fn base64_of(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[test]
fn a_refused_connection_is_exit_3() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let dest = tempdir();
    let run = kverify([
        "fetch",
        "kubelet",
        V,
        "--dest",
        dest.path().to_str().unwrap(),
        "--mirror",
        &format!("https://dl.k8s.io=http://127.0.0.1:{port}"),
        "--os",
        "linux",
        "--arch",
        "amd64",
        "--insecure-skip-signature",
    ]);
    run.code(3);
    assert!(text(&run).contains(&format!("http://127.0.0.1:{port}/")), "{}", text(&run));
    assert_empty(dest.path());
}

#[test]
fn kverify_mirror_takes_a_comma_separated_list() {
    let server = Server::start();
    let data = publish_kubelet(&server, V, 17, 20_000);
    let dest = tempdir();
    let run = kverify_cmd()
        .args(["fetch", "kubelet", V, "--dest", dest.path().to_str().unwrap(), "--os", "linux", "--arch", "amd64"])
        .args(["--insecure-skip-signature", "--no-progress"])
        .env("KVERIFY_MIRROR", format!("https://github.com={b},https://dl.k8s.io={b}", b = server.base()))
        .output()
        .unwrap();
    assert!(run.status.success(), "{run:?}");
    assert!(std::fs::read(dest.path().join("kubelet")).unwrap() == data);
}

#[test]
fn a_file_mirror_is_read_from_disk_and_verified_like_any_other() {
    let root = tempdir();
    let data = bytes(18, 30_000);
    let dir = root.path().join("dl.k8s.io");
    let path = k8s_path(V, "kubelet");
    write(&dir, &path, &data);
    write(&dir, &format!("{path}.sha256"), sha256_hex(&data));
    write(&dir, &format!("{path}.sha512"), sha512_hex(&data));
    let dest = root.path().join("dest");
    std::fs::create_dir(&dest).unwrap();
    let mirror = format!("https://dl.k8s.io=file://{}", dir.display());
    let args = |extra: &[&str]| {
        let mut a: Vec<String> =
            ["fetch", "kubelet", V, "--dest", dest.to_str().unwrap(), "--mirror", &mirror].map(String::from).to_vec();
        a.extend(["--os", "linux", "--arch", "amd64", "--no-progress", "--insecure-skip-signature"].map(String::from));
        a.extend(extra.iter().map(|e| e.to_string()));
        a
    };
    kverify(args(&[])).code(0);
    assert!(std::fs::read(dest.join("kubelet")).unwrap() == data);

    // Tampered on the mirror: refused, the previous binary kept.
    write(&dir, &path, bytes(19, 30_000));
    let previous = write(&dest, "kubelet", b"previous");
    let run = kverify(args(&[]));
    run.code(1);
    assert_eq!(std::fs::read(previous).unwrap(), b"previous");
    // A checksum missing from the mirror is "not published".
    std::fs::remove_file(dir.join(format!("{path}.sha512"))).unwrap();
    let run = kverify(args(&[]));
    run.code(1);
    assert!(text(&run).contains("not published") || text(&run).contains("not found on the mirror"), "{}", text(&run));
    assert_eq!(listing(&dest), ["kubelet"]);
}

#[test]
fn a_fifo_artifact_on_a_file_mirror_does_not_hang_fetch() {
    let root = tempdir();
    let dir = root.path().join("dl.k8s.io");
    let path = k8s_path(V, "kubelet");
    let data = bytes(30, 1000);
    write(&dir, &format!("{path}.sha256"), sha256_hex(&data));
    write(&dir, &format!("{path}.sha512"), sha512_hex(&data));
    let fifo = dir.join(&path);
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let dest = root.path().join("dest");
    std::fs::create_dir(&dest).unwrap();
    let mirror = format!("https://dl.k8s.io=file://{}", dir.display());
    let fetch = || {
        let dest = dest.to_str().unwrap();
        kverify(
            ["fetch", "kubelet", V, "--dest", dest, "--mirror", &mirror, "--os", "linux", "--arch", "amd64"]
                .into_iter()
                .chain(["--no-progress", "--insecure-skip-signature"]),
        )
    };
    let started = Instant::now();
    let run = fetch();
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
    run.code(1);
    assert!(text(&run).contains("a FIFO"), "{}", text(&run));
    assert_empty(&dest);
    // A link on the mirror is not followed either.
    std::fs::remove_file(&fifo).unwrap();
    let elsewhere = write(root.path(), "elsewhere", &data);
    std::os::unix::fs::symlink(&elsewhere, &fifo).unwrap();
    let run = fetch();
    run.code(1);
    assert!(text(&run).contains("a symbolic link"), "{}", text(&run));
    assert_empty(&dest);
}

#[test]
fn a_429_with_retry_after_is_retried() {
    for date in [false, true] {
        let retry_after = if date { httpdate_in(1) } else { "1".to_string() };
        let server = Server::start();
        let data = publish_kubelet(&server, V, 31, 50_000);
        let headers = vec![("Retry-After".to_string(), retry_after.clone())];
        server.fault(&kubelet(), Fault::times(1, Fault::StatusWith(429, headers)));
        let dest = tempdir();
        let started = Instant::now();
        let run = fetch(&server, dest.path(), &["kubelet", V], &["-v"]);
        run.code(0);
        assert!(std::fs::read(dest.path().join("kubelet")).unwrap() == data);
        assert_eq!(server.hits(&kubelet()), 2, "Retry-After: {retry_after}");
        // The backoff would be 0.5 s: the server's Retry-After (about 1 s) was honoured.
        assert!(
            started.elapsed() >= Duration::from_millis(900),
            "Retry-After: {retry_after}: {:?}\n{}",
            started.elapsed(),
            text(&run)
        );
        assert!(text(&run).contains("asked to retry after"), "{}", text(&run));
    }
}

/// An HTTP date `seconds` from now.
fn httpdate_in(seconds: i64) -> String {
    let when = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(seconds + 1);
    jiff::fmt::rfc2822::DateTimePrinter::new().timestamp_to_rfc9110_string(&when).unwrap()
}

#[test]
fn a_408_is_retried() {
    let server = Server::start();
    let data = publish_kubelet(&server, V, 32, 50_000);
    server.fault(&kubelet(), Fault::times(2, Fault::Status(408)));
    let dest = tempdir();
    fetch(&server, dest.path(), &["kubelet", V], &[]).code(0);
    assert_eq!(server.hits(&kubelet()), 3);
    assert!(std::fs::read(dest.path().join("kubelet")).unwrap() == data);
    // Still 408 after the retries: retry later (3), never "not published" (1).
    server.fault(&kubelet(), Fault::Status(408));
    let empty = tempdir();
    let run = fetch(&server, empty.path(), &["kubelet", V], &[]);
    run.code(3);
    assert!(!text(&run).contains("not published"), "{}", text(&run));
    assert_empty(empty.path());
}

#[test]
fn a_429_whose_retry_after_passes_the_deadline_is_exit_3_without_waiting() {
    let server = Server::start();
    publish_kubelet(&server, V, 33, 50_000);
    server.fault(&kubelet(), Fault::StatusWith(429, vec![("Retry-After".into(), "3600".into())]));
    let dest = tempdir();
    let started = Instant::now();
    let run = fetch(&server, dest.path(), &["kubelet", V], &["--deadline", "20"]);
    run.code(3);
    assert!(started.elapsed() < Duration::from_secs(10), "waited {:?}", started.elapsed());
    assert!(text(&run).contains("HTTP 429 (asked to retry after 3600 s)"), "{}", text(&run));
    assert_eq!(server.hits(&kubelet()), 1);
    assert_empty(dest.path());
}

#[test]
fn credentials_in_a_bad_mirror_value_are_never_printed() {
    let dest = tempdir();
    let secret = "t0k3n-s3cr3t";
    let cases = [
        // A mistyped scheme.
        format!("https://dl.k8s.io=htps://user:{secret}@mirror.example/k8s"),
        // No scheme at all.
        format!("https://dl.k8s.io=user:{secret}@mirror.example/k8s"),
        // A token with a comma: the value is split in two, each half a secret.
        format!("https://dl.k8s.io=https://user:{}@mirror.example/k8s", secret.replace('-', ",")),
        // A password that makes the authority unparsable.
        format!("https://dl.k8s.io=https://user:{secret}:x@mirror.example:bad/k8s"),
    ];
    for value in &cases {
        for (flag, env) in [(true, false), (false, true)] {
            let mut cmd = kverify_cmd();
            cmd.args([
                "fetch",
                "kubelet",
                V,
                "--dest",
                dest.path().to_str().unwrap(),
                "--os",
                "linux",
                "--arch",
                "amd64",
            ]);
            if flag {
                cmd.args(["--mirror", value]);
            }
            if env {
                cmd.env("KVERIFY_MIRROR", value);
            }
            let out = cmd.args(["-vv", "--insecure-skip-signature"]).output().unwrap();
            let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
            assert_eq!(out.status.code(), Some(2), "{value}: {all}");
            assert!(all.contains("mirror entry"), "{value}: says which entry: {all}");
            for part in secret.split('-') {
                assert!(!all.contains(part), "{value}: printed {part:?}: {all}");
            }
        }
    }
    // The comma case names the entry by position and says what to do.
    let mut cmd = kverify_cmd();
    cmd.args(["fetch", "kubelet", V, "--dest", dest.path().to_str().unwrap(), "--os", "linux", "--arch", "amd64"]);
    let out = cmd.env("KVERIFY_MIRROR", &cases[2]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("of 2") && stderr.contains("%2C"), "{stderr}");
    assert_empty(dest.path());
}
