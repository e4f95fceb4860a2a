//! Output that never lies (issue 16): names that hold a newline, a terminal escape or
//! bytes that are not UTF-8 print as one escaped line of text and as exact, valid JSON,
//! and a reader that closes stdout early ends kverify quietly. Archive entry names are
//! in `fetch.rs`.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use base64::Engine as _;

use crate::support::releases::*;
use crate::support::server::Server;
use crate::support::*;

/// A file named by raw bytes in `dir`, holding `data`.
fn file_named(dir: &Path, name: &[u8], data: &[u8]) -> PathBuf {
    let path = dir.join(OsStr::from_bytes(name));
    std::fs::write(&path, data).unwrap();
    path
}

/// Every byte of `text` that a terminal would act on: control characters but the
/// newlines that end lines.
fn control_bytes(text: &str) -> Vec<char> {
    text.chars().filter(|c| c.is_control() && *c != '\n').collect()
}

/// Issue 16: a local file name with a newline forged `verify` lines. It is one line,
/// the newline shown as `\n`, whatever the verdict.
#[test]
fn a_file_name_with_a_newline_forges_no_verify_line() {
    let dir = tempdir();
    let data = b"the real kubelet";
    let file = file_named(dir.path(), b"x\nOK       kubelet", data);
    let shown = format!("{}/x\\nOK       kubelet", dir.path().display());

    let wrong = sha256_hex(b"another kubelet");
    let run = kverify([OsStr::new("verify"), file.as_os_str(), OsStr::new("--sha256"), OsStr::new(&wrong)]);
    run.code(1);
    assert_eq!(
        run.stdout,
        format!(
            "FAIL     {shown}  sha256 mismatch\n\
             \x20        expected  sha256:{wrong}  (from --sha256)\n\
             \x20        computed  sha256:{}\n\
             0 files verified, 1 failed: nothing was verified, which is a failure\n",
            sha256_hex(data)
        )
    );
    assert!(run.stdout.lines().all(|l| !l.starts_with("OK")), "{}", run.stdout);

    let right = sha256_hex(data);
    let run = kverify([OsStr::new("verify"), file.as_os_str(), OsStr::new("--sha256"), OsStr::new(&right)]);
    run.code(0);
    assert_eq!(run.stdout, format!("OK       {shown}\n         checksum=--sha256\n1 files verified\n"));
    assert_eq!(std::fs::read(&file).unwrap(), data, "verify changes nothing");
}

/// Issue 16: raw terminal escapes in a name reached the terminal (an escape that clears
/// the line can hide a `FAIL`). Every control character, bidirectional override and byte
/// that is not UTF-8 is shown escaped, on stdout and on stderr alike.
#[test]
fn a_terminal_escape_in_a_name_reaches_no_terminal() {
    let dir = tempdir();
    let data = b"kubelet";
    // Clear the line, set the window title, reverse the text that follows.
    let name = b"kube\x1b[2K\x1b[1G\x1b]0;pwned\x07let\xe2\x80\xae\x9bX";
    let file = file_named(dir.path(), name, data);
    let shown = format!("{}/kube\\x1b[2K\\x1b[1G\\x1b]0;pwned\\x07let\\u{{202e}}\\x9bX", dir.path().display());
    let run = kverify([OsStr::new("verify"), file.as_os_str(), OsStr::new("--sha256"), OsStr::new(&sha256_hex(data))]);
    run.code(0);
    assert_eq!(run.stdout, format!("OK       {shown}\n         checksum=--sha256\n1 files verified\n"));

    // A file that is not there: its line says so, escaped.
    let missing = dir.path().join(OsStr::from_bytes(b"gone\x1b[8m"));
    let run =
        kverify([OsStr::new("verify"), missing.as_os_str(), OsStr::new("--sha256"), OsStr::new(&sha256_hex(data))]);
    run.code(3);
    let line = run.stdout.lines().next().unwrap();
    let gone = format!("ERROR    {}/gone\\x1b[8m  cannot read: ", dir.path().display());
    assert!(line.starts_with(&gone), "{line}");

    // An error on stderr (`error: …`) names a checksum file that is not there.
    let sums = dir.path().join(OsStr::from_bytes(b"SUMS\x1b[2J\r"));
    let run = kverify([OsStr::new("verify"), file.as_os_str(), OsStr::new("--checksums"), sums.as_os_str()]);
    run.code(3);
    let first = run.stderr.lines().next().unwrap();
    assert!(first.starts_with(&format!("error: cannot read {}/SUMS\\x1b[2J\\r: ", dir.path().display())), "{first}");
    assert_eq!(run.stderr.lines().nth(1), Some("hint: this may be temporary: retry later"), "{}", run.stderr);

    for run in [&run, &kverify([OsStr::new("verify"), file.as_os_str(), OsStr::new("--sha256"), OsStr::new("00")])] {
        assert_eq!(control_bytes(&run.stdout), Vec::<char>::new(), "{:?}", run.stdout);
        assert_eq!(control_bytes(&run.stderr), Vec::<char>::new(), "{:?}", run.stderr);
    }
}

/// Issue 16: `--json` with a path that is not UTF-8 printed a cut-off object
/// (`{"status":"ok","path":`) and exit 0. Every line is a whole JSON object: `path` shows
/// the bytes that are not UTF-8 as U+FFFD, and `path_base64` holds them exactly.
#[test]
fn json_with_a_non_utf8_path_is_valid_and_exact() {
    let dir = tempdir();
    let data = b"kubelet";
    let file = file_named(dir.path(), b"kube\xfflet", data);
    let run = kverify([
        OsStr::new("verify"),
        file.as_os_str(),
        OsStr::new("--sha256"),
        OsStr::new(&sha256_hex(data)),
        OsStr::new("--json"),
    ]);
    run.code(0);
    let rows = run.json();
    assert_eq!(rows.len(), 1, "{}", run.stdout);
    let row = &rows[0];
    assert_eq!(row["status"], "ok");
    assert_eq!(row["path"], format!("{}/kube\u{fffd}let", dir.path().display()));
    let exact = base64::engine::general_purpose::STANDARD.decode(row["path_base64"].as_str().unwrap()).unwrap();
    assert_eq!(exact, file.as_os_str().as_bytes());
    assert_eq!(row["digests"]["sha256"], sha256_hex(data));
    assert_eq!(run.stdout.lines().next().unwrap().chars().next(), Some('{'));
    assert!(run.stdout.ends_with("}\n"), "{:?}", run.stdout);

    // A directory: the listed file verifies, the other is reported; both lines whole,
    // and only the one that needs it has `path_base64`.
    write(dir.path(), "kubectl", b"kubectl");
    let elsewhere = tempdir();
    let sums = write(elsewhere.path(), "SHA256SUMS", format!("{}  kubectl\n", sha256_hex(b"kubectl")));
    let run = kverify([
        OsStr::new("verify"),
        dir.path().as_os_str(),
        OsStr::new("--checksums"),
        sums.as_os_str(),
        OsStr::new("--json"),
    ]);
    run.code(0);
    let rows = run.json();
    assert_eq!(rows.len(), 2, "{}", run.stdout);
    let row = |status: &str| rows.iter().find(|r| r["status"] == status).unwrap_or_else(|| panic!("{rows:?}"));
    assert!(row("ok").get("path_base64").is_none(), "{rows:?}");
    let unlisted = row("unlisted");
    let exact = base64::engine::general_purpose::STANDARD.decode(unlisted["path_base64"].as_str().unwrap()).unwrap();
    assert!(exact.ends_with(b"/kube\xfflet"), "{exact:?}");
}

/// Runs kverify with stdout (and stderr, when `stderr_too`) the write end of a pipe
/// whose reader is already gone: every write meets a broken pipe.
fn with_closed_stdout<I, S>(args: I, stderr_too: bool) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let (reader, writer) = rustix::pipe::pipe().unwrap();
    drop(reader);
    let mut cmd = kverify_cmd();
    cmd.args(args).stdout(Stdio::from(writer.try_clone().unwrap()));
    cmd.stderr(if stderr_too { Stdio::from(writer) } else { Stdio::piped() });
    let out = cmd.output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::new(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Issue 16: a closed stdout (`kverify components | true`, `completions bash | head`)
/// panicked, exit 101. It ends the report quietly: no panic, nothing on stderr, and the
/// exit status is the run's (0 only when everything verified); the work itself is done
/// (a fetch still installs what verified).
#[test]
fn a_closed_stdout_ends_quietly() {
    let dir = tempdir();
    let data = b"kubelet";
    let file = write(dir.path(), "kubelet", data);
    let file = file.to_str().unwrap();
    let (right, wrong) = (sha256_hex(data), sha256_hex(b"other"));
    let cases: Vec<(Vec<&str>, i32)> = vec![
        (vec!["components"], 0),
        (vec!["components", "--json"], 0),
        (vec!["completions", "bash"], 0),
        (vec!["--help"], 0),
        (vec!["--version"], 0),
        (vec!["verify", file, "--sha256", &right], 0),
        (vec!["verify", file, "--sha256", &right, "--json"], 0),
        (vec!["verify", file, "--sha256", &wrong], 1),
        (vec!["verify", file, "--sha256", &wrong, "--json"], 1),
    ];
    for (args, code) in &cases {
        for stderr_too in [false, true] {
            let run = with_closed_stdout(args, stderr_too);
            assert_eq!((run.code, run.stderr.as_str()), (*code, ""), "{args:?} (stderr closed too: {stderr_too})");
        }
    }

    // A fetch whose report nobody reads still installs, and its progress lines on a
    // closed stderr are lost quietly.
    let server = Server::start();
    let kubelet = publish_kubelet(&server, "v1.29.0", 90, 40_000);
    let dest = tempdir();
    let run = with_closed_stdout(fetch_args(&server, dest.path(), &["kubelet", "v1.29.0"], &[]), true);
    assert_eq!((run.code, run.stderr.as_str()), (0, ""));
    assert_eq!(listing(dest.path()), ["kubelet"]);
    assert!(std::fs::read(dest.path().join("kubelet")).unwrap() == kubelet);

    // `| head -1`: a reader that takes one line of a long report and goes away.
    let many = tempdir();
    let mut sums = String::new();
    for i in 0..1500 {
        let data = format!("binary {i}");
        write(many.path(), &format!("bin-{i:04}"), &data);
        sums.push_str(&format!("{}  bin-{i:04}\n", sha256_hex(data.as_bytes())));
    }
    let sums = write(dir.path(), "SHA256SUMS", sums);
    let mut child = kverify_cmd()
        .args([OsStr::new("verify"), many.path().as_os_str(), OsStr::new("--checksums"), sums.as_os_str()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    assert!(first.starts_with("OK       ") && first.contains("/bin-"), "{first}");
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    let status = child.wait().unwrap();
    assert_eq!((status.code(), stderr.as_str()), (Some(0), ""), "every file verified; the report was cut short");
}

/// Issue 16's gap: a log line held a field's newline as it was, so a destination
/// directory named `x\nWARN …` forged a warning in `-vv` logs. Each event is escaped
/// whole but for its final newline.
#[test]
fn a_newline_in_a_logged_path_forges_no_log_line() {
    let server = Server::start();
    let data = publish_kubelet(&server, "v1.29.0", 7, 1000);
    let top = tempdir();
    let dest = top.path().join("x\nWARN forged");
    std::fs::create_dir(&dest).unwrap();
    // A staged file of a kverify that no longer runs: removed, and logged at debug.
    std::fs::write(dest.join(".kverify-kubelet-999999999-abcdef.partial"), b"old").unwrap();

    let run = fetch(&server, &dest, &["kubelet@v1.29.0"], &["-vv"]);
    run.code(0);
    assert_eq!(std::fs::read(dest.join("kubelet")).unwrap(), data);
    let logged = run.stderr.lines().find(|l| l.contains("no longer runs")).unwrap_or_else(|| panic!("{}", run.stderr));
    assert!(logged.contains("x\\nWARN forged/.kverify-kubelet-999999999-abcdef.partial"), "{logged}");
    assert!(run.stderr.lines().all(|l| !l.starts_with("WARN forged")), "{}", run.stderr);
    assert!(control_bytes(&run.stderr).is_empty(), "{:?}", run.stderr);
}

/// Issue 16's gap: clap echoed a mistyped argument as it was typed, so one holding a
/// newline forged a line of the usage error. It is shown escaped; the exit is still 2
/// and nothing else of clap's message changes.
#[test]
fn a_newline_in_a_mistyped_argument_forges_no_line() {
    let run = kverify(["fetch", "--bogus\nOK       kubelet"]);
    run.code(2);
    assert!(
        run.stderr.starts_with("error: unexpected argument '--bogus\\nOK       kubelet' found\n"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.lines().all(|l| !l.starts_with("OK")), "{}", run.stderr);
    assert!(run.stderr.contains("Usage: kverify fetch [OPTIONS]"), "{}", run.stderr);
    assert!(control_bytes(&run.stderr).is_empty(), "{:?}", run.stderr);

    let run = kverify(["fetch", "kubelet", "--timeout=5\nOK       kubelet"]);
    run.code(2);
    assert!(
        run.stderr.starts_with("error: invalid value '5\\nOK       kubelet' for '--timeout <SECS>'"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.lines().all(|l| !l.starts_with("OK")), "{}", run.stderr);

    let help = kverify(["fetch", "--help"]);
    help.code(0);
    assert!(help.stdout.starts_with("Download a release artifact"), "{}", help.stdout);
}
