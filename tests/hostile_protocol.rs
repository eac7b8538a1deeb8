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

// ---------------------------------------------------------------------------------------
// `use`: confined to the protocol's folder (or ELIGC_PATH), regular `.elig` files only
// ---------------------------------------------------------------------------------------

const USES_SLE: &str = "condition sle \"SLE\" codes [snomed:55464009]\n";

fn protocol_using(dir: &Path, target: &str) -> PathBuf {
    let file = dir.join("p.elig");
    std::fs::write(
        &file,
        format!("protocol \"P\" version \"1\"\nuse \"{target}\"\nanchor screening\ninclusion I1 \"SLE\": condition sle\n"),
    )
    .unwrap();
    file
}

fn check_with(file: &Path, env: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_eligc"));
    cmd.args(["check", file.to_str().unwrap()])
        .env("NO_COLOR", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout),
    )
}

#[cfg(unix)]
#[test]
fn use_of_a_file_outside_the_protocols_folder_is_refused_without_quoting_it() {
    let dir = scratch("use-outside");
    let outside = scratch("use-outside-lib");
    std::fs::write(outside.join("secret.elig"), "SECRET-LINE-1 not eligc\n").unwrap();
    let secret = outside.join("secret.elig");
    std::os::unix::fs::symlink(&secret, dir.join("link.elig")).unwrap();
    for target in [
        "/etc/passwd".to_string(),
        secret.display().to_string(),
        format!(
            "../{}/secret.elig",
            outside.file_name().unwrap().to_str().unwrap()
        ),
        "link.elig".to_string(),
    ] {
        let file = protocol_using(&dir, &target);
        let (code, out) = check_with(&file, &[]);
        assert_eq!(code, Some(2), "{target}: {out}");
        assert!(out.contains("elig::use-outside-folder"), "{target}: {out}");
        assert!(
            !out.contains("SECRET-LINE") && !out.contains("root:"),
            "{target}: {out}"
        );
    }
    // Listed in ELIGC_PATH, the library folder is allowed, and searched by relative path.
    std::fs::write(outside.join("lib.elig"), USES_SLE).unwrap();
    let file = protocol_using(&dir, "lib.elig");
    let (code, out) = check_with(&file, &[("ELIGC_PATH", outside.to_str().unwrap())]);
    assert_eq!(code, Some(0), "{out}");
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&outside).unwrap();
}

#[cfg(unix)]
#[test]
fn use_of_a_fifo_a_folder_a_non_elig_file_or_a_file_over_the_cap_is_refused() {
    let dir = scratch("use-refused");
    // A FIFO would block the read forever (and /dev/zero would fill memory).
    let fifo = dir.join("pipe.elig");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    std::fs::create_dir(dir.join("folder.elig")).unwrap();
    std::fs::write(dir.join("notes.txt"), "password = hunter2\n").unwrap();
    for (target, says) in [
        ("pipe.elig", "is not a regular file (a FIFO)"),
        ("folder.elig", "is not a regular file (a folder)"),
        ("notes.txt", "is not a `.elig` file"),
    ] {
        let file = protocol_using(&dir, target);
        let (code, out) = check_with(&file, &[]);
        assert_eq!(code, Some(2), "{target}: {out}");
        assert!(out.contains("elig::use-refused"), "{target}: {out}");
        assert!(out.contains(says), "{target}: {out}");
        assert!(!out.contains("hunter2"), "{out}");
    }
    // The size cap, on a library and on the protocol itself.
    std::fs::write(
        dir.join("big.elig"),
        format!("{USES_SLE}{}", "// padding\n".repeat(50)),
    )
    .unwrap();
    let file = protocol_using(&dir, "big.elig");
    let (code, out) = check_with(&file, &[]);
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = check_with(&file, &[("ELIGC_MAX_PROTOCOL_BYTES", "400")]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("is larger than 400 bytes"), "{out}");
    let (code, out) = check_with(&file, &[("ELIGC_MAX_PROTOCOL_BYTES", "50")]);
    assert_ne!(code, Some(0), "{out}");
    assert!(out.contains("larger than 50 bytes"), "{out}");
    std::fs::remove_dir_all(&dir).unwrap();
}
