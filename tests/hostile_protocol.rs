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

const MESSY: &str = "protocol \"Fmt\" version \"1\"\nanchor    screening\nobservation egfr \"eGFR\" unit mL/min/1.73m2 codes [loinc:33914-3]\ninclusion I1 \"kidneys\":   latest egfr within 28 days before screening >= 30 mL/min/1.73m2\n";

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_write_that_fails_half_way_leaves_the_protocol_intact_and_no_temporary_file() {
    // As on a full disk: part of the new text is written, then the write fails.
    let dir = scratch("full-disk");
    let file = dir.join("p.elig");
    std::fs::write(&file, MESSY).unwrap();
    let e = eligc::fmt::replace_file_with(&file, |w| {
        std::io::Write::write_all(w, b"protocol \"Fmt\"")?;
        Err(std::io::Error::new(
            std::io::ErrorKind::StorageFull,
            "no space left on device",
        ))
    })
    .unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::StorageFull);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), MESSY);
    assert_eq!(listing(&dir), ["p.elig"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[cfg(unix)]
#[test]
fn fmt_in_place_keeps_the_permissions_and_the_symbolic_link() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch("in-place");
    let file = dir.join("p.elig");
    std::fs::write(&file, MESSY).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
    let link = dir.join("link.elig");
    std::os::unix::fs::symlink("p.elig", &link).unwrap();
    let out = eligc(&["fmt", link.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let formatted = std::fs::read_to_string(&file).unwrap();
    assert_ne!(formatted, MESSY);
    assert!(formatted.contains("anchor screening\n"), "{formatted}");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o640);
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(listing(&dir), ["link.elig", "p.elig"]);
    std::fs::remove_dir_all(&dir).unwrap();
}
