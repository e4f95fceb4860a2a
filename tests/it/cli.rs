//! The command line itself: clap's own consistency check, and `--help` as users read it
//! (snapshots in tests/it/snapshots/; `KVERIFY_BLESS=1 cargo test cli` rewrites them).

use std::path::PathBuf;

use clap::CommandFactory;

use crate::support::{kverify, kverify_cmd, Run};

#[test]
fn the_command_line_is_consistent() {
    kverify::cli::Cli::command().debug_assert();
}

/// Every subcommand's `--help`, compared with its snapshot.
#[test]
fn help_reads_as_its_snapshot() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/it/snapshots");
    let bless = std::env::var_os("KVERIFY_BLESS").is_some();
    let mut differ = Vec::new();
    for command in [
        "",
        "fetch",
        "verify",
        "lock",
        "mirror",
        "identify",
        "node",
        "components",
        "trust",
        "trust update",
        "cache",
        "cache clean",
    ] {
        let mut args: Vec<&str> = command.split_whitespace().collect();
        args.push("--help");
        // Help shows the environment's values: run it in none.
        let out = kverify_cmd().env_remove("KVERIFY_TUF_URL").args(&args).output().unwrap();
        let run = Run::from(out);
        run.code(0);
        let name = match command {
            "" => "help.txt".to_string(),
            c => format!("help-{}.txt", c.replace(' ', "-")),
        };
        let path = dir.join(&name);
        if bless {
            std::fs::write(&path, &run.stdout).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&path).unwrap_or_default();
        if want != run.stdout {
            differ.push(format!("{name}:\n--- snapshot\n{want}\n--- now\n{}", run.stdout));
        }
    }
    assert!(differ.is_empty(), "--help changed (KVERIFY_BLESS=1 to accept):\n{}", differ.join("\n"));
}

#[test]
fn help_examples_are_one_per_line() {
    let run = kverify(["fetch", "--help"]);
    let examples: Vec<&str> = run.stdout.split("Examples:\n").nth(1).unwrap().lines().collect();
    assert_eq!(examples[0], "  kverify fetch kubelet v1.29.0 --dest /usr/local/bin");
    assert_eq!(examples[1], "  kverify fetch kubelet@v1.29.0 kubectl@v1.29.0 etcd@v3.5.12 --dest /usr/local/bin");
}

#[test]
fn an_unknown_component_suggests_the_closest_name() {
    let run = kverify(["fetch", "kubelett", "v1.29.0", "--os", "linux", "--arch", "amd64"]);
    run.code(2);
    assert!(run.stderr.contains("error: unknown component \"kubelett\""), "{}", run.stderr);
    assert!(run.stderr.contains("hint: did you mean kubelet? known components: "), "{}", run.stderr);
}
