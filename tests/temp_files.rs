#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)] // tests fail by panicking
//! Temporary partition files hold patient data (issue 9, "leaks and data loss"): a Bulk
//! Data export's partition folder is readable by its user only (0700, files 0600), and it
//! is removed when the run is interrupted by SIGTERM or SIGINT, not only when it ends.
#![cfg(unix)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const PATIENT: &str =
    r#"{"resourceType":"Patient","id":"p1","gender":"female","birthDate":"1990-01-01"}"#;

/// The entries of `dir` whose name starts with `prefix`.
fn entries(dir: &Path, prefix: &str) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
        .collect()
}

/// Runs eligc on an export of 20,000 patients with a standard output nobody reads: the
/// writer blocks, so the run waits with its partition folder alive; then sends `signal`.
fn interrupted_run(signal: &str) {
    let work = tempfile::tempdir().unwrap();
    let export = work.path().join("export");
    let tmp = work.path().join("tmp");
    std::fs::create_dir(&export).unwrap();
    std::fs::create_dir(&tmp).unwrap();
    let patients: String = (0..20_000)
        .map(|i| PATIENT.replace("\"p1\"", &format!("\"p{i}\"")) + "\n")
        .collect();
    std::fs::write(export.join("Patient.ndjson"), patients).unwrap();

    let mut child = Command::new(env!("CARGO_BIN_EXE_eligc"))
        .args(["run", "protocols/sle-car-t/protocol.elig"])
        .arg(&export)
        .env("TMPDIR", &tmp)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    // Wait for the partition folder.
    let start = Instant::now();
    let folder = loop {
        if let Some(folder) = entries(&tmp, "eligc-bulk-").into_iter().next() {
            break folder;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no partition folder appeared in {}",
            tmp.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let mode = std::fs::metadata(&folder).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "partition folder mode {mode:o}");
    // Let the reader fill the pipe and block.
    std::thread::sleep(Duration::from_millis(300));
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    // Reading standard output now would let the run finish normally: wait without reading.
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    let expected = if signal == "TERM" { 143 } else { 130 };
    assert_eq!(status.code(), Some(expected), "stderr: {stderr}");
    assert!(
        entries(&tmp, "eligc-").is_empty(),
        "temporary files left behind: {:?}",
        entries(&tmp, "eligc-")
    );
}

#[test]
fn bulk_partition_files_are_private_and_removed_on_sigterm() {
    interrupted_run("TERM");
}

#[test]
fn bulk_partition_files_are_removed_on_sigint() {
    interrupted_run("INT");
}

/// Reads the first record of an export split into many tiny partitions, and checks the
/// folder and the partition files still waiting while the reader is alive.
fn check_private_partitions(
    read: impl FnOnce(eligc::facts::BulkSettings) -> eligc::facts::Records,
) {
    let tmp = tempfile::tempdir().unwrap();
    let settings = eligc::facts::BulkSettings {
        partition_bytes: 64,
        temp_dir: tmp.path().to_path_buf(),
        ..eligc::facts::BulkSettings::default()
    };
    let mut records = read(settings);
    assert!(records.next().is_some());
    let folders = entries(tmp.path(), "eligc-");
    assert_eq!(folders.len(), 1, "{folders:?}");
    let mode = std::fs::metadata(&folders[0]).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "folder mode {mode:o}");
    let files: Vec<_> = std::fs::read_dir(&folders[0])
        .unwrap()
        .map(|f| f.unwrap().path())
        .collect();
    assert!(!files.is_empty(), "no partition file waiting");
    for file in files {
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{} mode {mode:o}", file.display());
    }
    drop(records);
    assert!(entries(tmp.path(), "eligc-").is_empty());
}

#[test]
fn bulk_partition_folder_is_0700_and_its_files_0600() {
    let export = tempfile::tempdir().unwrap();
    let patients: String = (0..200)
        .map(|i| PATIENT.replace("\"p1\"", &format!("\"p{i}\"")) + "\n")
        .collect();
    std::fs::write(export.path().join("Patient.ndjson"), patients).unwrap();
    check_private_partitions(|settings| {
        eligc::facts::read_bulk_export(export.path(), None, settings).unwrap()
    });
}

#[test]
fn omop_partition_folder_is_0700_and_its_files_0600() {
    let omop = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/omop/bad");
    check_private_partitions(|settings| {
        eligc::facts::read_omop_export(&omop, None, settings).unwrap()
    });
}

/// Runs `eligc run` on the seed protocol and `data`; returns exit code and stderr.
fn run_on(data: &Path) -> (Option<i32>, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_eligc"))
        .args(["run", "protocols/sle-car-t/protocol.elig"])
        .arg(data)
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn json_and_jsonl_patients_beside_a_bulk_export_are_reported_as_skipped() {
    let export = tempfile::tempdir().unwrap();
    std::fs::write(export.path().join("Patient.ndjson"), format!("{PATIENT}\n")).unwrap();
    std::fs::write(export.path().join("extra.json"), "{}").unwrap();
    std::fs::write(export.path().join("more.jsonl"), "{}\n").unwrap();
    let (code, stderr) = run_on(export.path());
    assert_eq!(code, Some(0), "{stderr}");
    for name in ["extra.json", "more.jsonl"] {
        assert!(
            stderr.contains(&format!(
                "skipped: {}: a Bulk Data export (a folder with Patient.ndjson) reads only its .ndjson files",
                export.path().join(name).display()
            )),
            "{name} not reported: {stderr}"
        );
    }
    assert!(stderr.contains("read 1:"), "{stderr}");
}

#[test]
fn a_folder_without_any_data_file_is_an_error_naming_what_it_holds() {
    let folder = tempfile::tempdir().unwrap();
    std::fs::write(folder.path().join("notes.txt"), "not patients").unwrap();
    std::fs::create_dir(folder.path().join("sub")).unwrap();
    let (code, stderr) = run_on(folder.path());
    assert_ne!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains(
            "no .json, .jsonl or .ndjson file, no Patient.ndjson (Bulk Data) and no PERSON \
             table (OMOP) in this folder; it holds notes.txt, sub"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("read 0"), "{stderr}");
}

#[test]
fn other_files_in_a_folder_of_patients_are_reported_and_the_patients_read() {
    let folder = tempfile::tempdir().unwrap();
    std::fs::copy(
        "protocols/sle-car-t/patients.jsonl",
        folder.path().join("patients.jsonl"),
    )
    .unwrap();
    std::fs::write(folder.path().join("README.md"), "about").unwrap();
    let (_, stderr) = run_on(folder.path());
    assert!(
        stderr.contains("README.md: not a .json, .jsonl or .ndjson file"),
        "{stderr}"
    );
    assert!(stderr.contains("read 98:"), "{stderr}");
}
