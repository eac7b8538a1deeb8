#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)] // tests fail by panicking
//! Every subcommand that prints to standard output ends with exit code 1 and one message
//! when stdout is a closed pipe (`eligc doc | head -0`) or a full device, never a panic.

use std::process::{Command, Stdio};

const PROTOCOL: &str = "protocols/sle-car-t/protocol.elig";
const AMENDMENT: &str = "protocols/sle-car-t/amendments/protocol-1.1.elig";

/// Commands whose output goes to stdout.
fn commands() -> Vec<Vec<&'static str>> {
    vec![
        vec!["doc", PROTOCOL],
        vec!["doc", "--format", "html", PROTOCOL],
        vec!["fmt", "--stdout", PROTOCOL],
        vec!["diff", PROTOCOL, AMENDMENT],
        vec!["diff", "--format", "json", PROTOCOL, AMENDMENT],
        vec!["test", "protocols/sle-car-t"],
        vec!["check", "--format", "json", PROTOCOL],
        vec!["run", PROTOCOL, "protocols/sle-car-t/patients.jsonl"],
    ]
}

fn assert_clean_failure(args: &[&str], out: &std::process::Output, what: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "eligc {} with {what}: {stderr}",
        args.join(" ")
    );
    assert!(
        !stderr.contains("panicked"),
        "eligc {} panicked with {what}: {stderr}",
        args.join(" ")
    );
    assert!(
        stderr.contains("error: cannot write"),
        "eligc {} with {what} says why: {stderr}",
        args.join(" ")
    );
}

#[test]
#[allow(clippy::incompatible_msrv)] // std::io::pipe is 1.87; only the tests use it
fn a_closed_stdout_pipe_exits_1_with_a_message() {
    for args in commands() {
        // The read end is closed before eligc starts, so its first write fails with EPIPE.
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = Command::new(env!("CARGO_BIN_EXE_eligc"))
            .args(&args)
            .env("NO_COLOR", "1")
            .stdout(writer)
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        assert_clean_failure(&args, &out, "a closed pipe");
    }
}

#[test]
fn a_full_stdout_exits_1_with_a_message() {
    let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") else {
        eprintln!("skipped: no /dev/full on this system");
        return;
    };
    for args in commands() {
        let out = Command::new(env!("CARGO_BIN_EXE_eligc"))
            .args(&args)
            .env("NO_COLOR", "1")
            .stdout(full.try_clone().unwrap())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        assert_clean_failure(&args, &out, "/dev/full");
    }
}
