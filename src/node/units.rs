//! The programs that kubelet's and containerd's systemd units start, wherever the
//! installer put them (`ExecStart=/opt/k8s/bin/kubelet …`).

/// The units whose programs are node binaries.
pub const UNITS: &[&str] = &["kubelet.service", "containerd.service"];

/// Where systemd reads units from, relative to the root, most specific first.
pub const UNIT_DIRS: &[&str] = &[
    "etc/systemd/system",
    "run/systemd/system",
    "usr/local/lib/systemd/system",
    "lib/systemd/system",
    "usr/lib/systemd/system",
];

/// The unit files to read, relative to the root: each unit and its `.d/*.conf` drop-ins
/// (kubeadm's `10-kubeadm.conf` replaces `ExecStart=` in one). Listing a directory needs
/// `list`, which returns the sorted names in it.
pub fn unit_files(list: impl Fn(&str) -> Vec<String>) -> Vec<String> {
    let mut files = Vec::new();
    for dir in UNIT_DIRS {
        for unit in UNITS {
            files.push(format!("{dir}/{unit}"));
            let dropins = format!("{dir}/{unit}.d");
            files.extend(list(&dropins).into_iter().filter(|n| n.ends_with(".conf")).map(|n| format!("{dropins}/{n}")));
        }
    }
    files
}

/// The program of every `ExecStart=` line: its first word, when that is an absolute path
/// systemd would run as is. A `$VAR` or `%` specifier cannot be resolved without
/// systemd, and a bare name is searched in systemd's own path: both are skipped.
pub fn exec_starts(text: &str) -> Vec<String> {
    let mut programs = Vec::new();
    let mut logical = String::new();
    for raw in text.lines() {
        let line = raw.trim_end();
        if let Some(head) = line.strip_suffix('\\') {
            logical.push_str(head);
            logical.push(' ');
            continue;
        }
        logical.push_str(line);
        if let Some(program) = exec_start(&logical) {
            programs.push(program);
        }
        logical.clear();
    }
    if let Some(program) = exec_start(&logical) {
        programs.push(program);
    }
    programs
}

fn exec_start(line: &str) -> Option<String> {
    let line = line.trim_start();
    if line.starts_with('#') || line.starts_with(';') {
        return None;
    }
    let (key, value) = line.split_once('=')?;
    if key.trim() != "ExecStart" {
        return None;
    }
    // Prefixes that change how systemd runs the program, not which one.
    let value = value.trim_start().trim_start_matches(['@', '-', ':', '+', '!']);
    let word = match value.strip_prefix('"') {
        Some(quoted) => quoted.split('"').next()?,
        None => value.split_whitespace().next()?,
    };
    let runnable = word.starts_with('/') && !word.contains(['$', '%']);
    runnable.then(|| word.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_word_of_every_exec_start() {
        let cases: &[(&str, &[&str])] = &[
            ("[Service]\nExecStart=/usr/bin/kubelet --config x\n", &["/usr/bin/kubelet"]),
            // kubeadm's drop-in: reset, then the real line with variables after the program
            (
                "[Service]\nExecStart=\nExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_EXTRA_ARGS\n",
                &["/usr/bin/kubelet"],
            ),
            ("ExecStart=/opt/k8s/kubelet \\\n  --v=2\n", &["/opt/k8s/kubelet"]),
            ("ExecStart = -/usr/local/bin/containerd\n", &["/usr/local/bin/containerd"]),
            ("ExecStart=!!/srv/bin/containerd\n", &["/srv/bin/containerd"]),
            ("ExecStart=\"/opt/with space/kubelet\" --x\n", &["/opt/with space/kubelet"]),
            ("ExecStartPre=/sbin/modprobe overlay\nExecStart=/usr/bin/containerd", &["/usr/bin/containerd"]),
            ("#ExecStart=/old/kubelet\n; ExecStart=/older/kubelet\n", &[]),
            ("ExecStart=${KUBELET_BIN} --x\nExecStart=kubelet\nExecStart=%h/kubelet\n", &[]),
            ("ExecStart=\n", &[]),
        ];
        for (text, want) in cases {
            assert_eq!(exec_starts(text), *want, "{text:?}");
        }
    }

    #[test]
    fn drop_ins_follow_their_unit() {
        let files = unit_files(|dir| match dir {
            "etc/systemd/system/kubelet.service.d" => vec!["10-kubeadm.conf".into(), "README".into()],
            _ => vec![],
        });
        let i = files.iter().position(|f| f == "etc/systemd/system/kubelet.service").unwrap();
        assert_eq!(files[i + 1], "etc/systemd/system/kubelet.service.d/10-kubeadm.conf");
        assert!(!files.iter().any(|f| f.ends_with("README")));
        assert!(files.contains(&"usr/lib/systemd/system/containerd.service".to_string()));
    }
}
