//! The peak memory of a kverify run, exactly: kverify's stdout is a pipe filled to the
//! brim before it starts, so its first write (the report, after all its work) blocks;
//! while it waits there, `/proc/PID/status` still has its `VmHWM` (the most resident
//! memory it ever had), which a process that has exited no longer shows.

use std::io::{Read, Write};
use std::process::Stdio;
use std::time::{Duration, Instant};

use super::{kverify_cmd, Run};

/// A run, and the peak resident memory of its process in KiB.
pub struct Measured {
    pub run: Run,
    pub peak_kib: u64,
}

/// Runs kverify with `args` (it must print something on stdout, as every report does)
/// and measures its peak resident memory.
pub fn kverify_peak_rss(args: Vec<String>) -> Measured {
    let (reader, writer) = rustix::pipe::pipe().unwrap();
    let capacity = rustix::pipe::fcntl_getpipe_size(&writer).unwrap();
    std::fs::File::from(writer.try_clone().unwrap()).write_all(&vec![b'#'; capacity]).unwrap();
    let stderr = tempfile::tempfile().unwrap();
    let mut child =
        kverify_cmd().args(args).stdout(Stdio::from(writer)).stderr(stderr.try_clone().unwrap()).spawn().unwrap();
    let pid = child.id();
    let hwm = || -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        line.trim_start_matches("VmHWM:").trim().trim_end_matches("kB").trim().parse().ok()
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    let peak_kib = loop {
        // Any of its threads: fetch reports from the thread that downloaded.
        let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).into_iter().flatten().flatten();
        let mut wchans = tasks.map(|t| std::fs::read_to_string(t.path().join("wchan")).unwrap_or_default());
        if wchans.any(|w| w.contains("pipe_write")) {
            break hwm().expect("VmHWM of a running process");
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("kverify ended ({status}) before it wrote its report: its peak memory was not seen whole");
        }
        assert!(Instant::now() < deadline, "kverify neither wrote nor ended in time");
        std::thread::sleep(Duration::from_millis(2));
    };
    let mut stdout = Vec::new();
    std::fs::File::from(reader).read_to_end(&mut stdout).unwrap();
    let status = child.wait().unwrap();
    let mut err = String::new();
    let mut stderr = stderr;
    std::io::Seek::rewind(&mut stderr).unwrap();
    stderr.read_to_string(&mut err).unwrap();
    let run = Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout[capacity..]).into_owned(),
        stderr: err,
    };
    Measured { run, peak_kib }
}
