#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)] // tests fail by panicking
//! Protocols and protocol files that used to cost a wrong threshold, a leaked file or a lost
//! protocol (issue 9): over-long numbers, `use` outside the protocol's folder, and `eligc
//! fmt` on a disk that fails.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn eligc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_eligc"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

/// A fresh folder of its own for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "eligc-hostile-protocol-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(name)).unwrap()
}

#[test]
fn fmt_refuses_a_threshold_it_would_have_rounded_and_leaves_the_file_as_it_was() {
    let dir = scratch("rounded");
    let file = dir.join("p.elig");
    let text = fixture("tests/fixtures/check/invalid-number-rounded.elig");
    std::fs::write(&file, &text).unwrap();
    let out = eligc(&["fmt", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("elig::invalid-number"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), text);
    let out = eligc(&["fmt", "--stdout", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}
