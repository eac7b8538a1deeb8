#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)] // tests fail by panicking
//! Resource use bounded by input size (issue 9, "crashes and resource use"): a record larger
//! than `--max-record-bytes` is a rejected record, never held in memory, and a file that
//! never ends a line (`/dev/zero`) stops with an error instead of growing without bound.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const PROTOCOL: &str = "protocols/sle-car-t/protocol.elig";
const PATIENTS: &str = "protocols/sle-car-t/patients.jsonl";

fn eligc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_eligc"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("eligc-limits-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The seed patients' first three lines, with a 100,000-byte line between the first two.
fn with_oversize_line(dir: &Path) -> PathBuf {
    let seed = std::fs::read_to_string(PATIENTS).unwrap();
    let lines: Vec<&str> = seed.lines().take(3).collect();
    let big = format!(r#"{{"id":"BIG","note":"{}"}}"#, "x".repeat(100_000));
    let path = dir.join("big.jsonl");
    std::fs::write(
        &path,
        format!("{}\n{big}\n{}\n{}\n", lines[0], lines[1], lines[2]),
    )
    .unwrap();
    path
}

fn rejected_lines(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.starts_with("rejected:"))
        .collect()
}

#[test]
fn a_line_over_the_limit_is_rejected_and_reading_goes_on_at_the_next_line() {
    let dir = temp_dir("line");
    let data = with_oversize_line(&dir);
    let out = eligc(&["run", PROTOCOL, s(&data), "--max-record-bytes", "64K"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert_eq!(
        rejected_lines(&stderr),
        vec![format!(
            "rejected: {}:2: the record is larger than 65536 bytes (the limit; raise it with --max-record-bytes)",
            data.display()
        )]
    );
    // The three seed patients around it are screened.
    assert!(stderr.contains("read 4:"), "{stderr}");
    assert!(stderr.contains("1 rejected"), "{stderr}");
    let stdout = text(&out.stdout);
    assert_eq!(stdout.lines().count(), 4, "{stdout}");
    // Under the default limit (64 MiB) the same line is read, and rejected for its field.
    let out = eligc(&["run", PROTOCOL, s(&data)]);
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(":2: patient `BIG`: field `note`: unknown field"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_json_file_over_the_limit_is_one_rejected_record() {
    let dir = temp_dir("json");
    let path = dir.join("one.json");
    let seed = std::fs::read_to_string(PATIENTS).unwrap();
    std::fs::write(&path, seed.lines().next().unwrap()).unwrap();
    let out = eligc(&["run", PROTOCOL, s(&path), "--max-record-bytes", "100"]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(
        rejected_lines(&text(&out.stderr)),
        vec![format!(
            "rejected: {}:1: the record is larger than 100 bytes (the limit; raise it with --max-record-bytes)",
            path.display()
        )]
    );
    let out = eligc(&["run", PROTOCOL, s(&path)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_limit_is_given_in_bytes_or_with_a_binary_suffix_and_nonsense_is_a_usage_error() {
    for bad in ["0", "12X", "-5", "99999999999G"] {
        let out = eligc(&[
            "run",
            PROTOCOL,
            PATIENTS,
            &format!("--max-record-bytes={bad}"),
        ]);
        assert_eq!(out.status.code(), Some(1), "{bad}: a usage error");
        assert!(
            text(&out.stderr).contains("--max-record-bytes"),
            "{bad}: {}",
            text(&out.stderr)
        );
    }
    let out = eligc(&["run", PROTOCOL, PATIENTS, "--max-record-bytes", "1MiB"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn a_side_file_line_over_the_limit_is_an_error_naming_the_line() {
    let dir = temp_dir("side");
    let side = dir.join("side.jsonl");
    std::fs::write(
        &side,
        format!(
            "{{\"patient\":\"P01\"}}\n{{\"patient\":\"P02\",\"anchors\":{{\"{}\":\"2026-01-01\"}}}}\n",
            "a".repeat(2000)
        ),
    )
    .unwrap();
    let out = eligc(&[
        "run",
        PROTOCOL,
        PATIENTS,
        "--side",
        s(&side),
        "--max-record-bytes",
        "1K",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        format!(
            "error: --side: {}:2: the line is larger than 1024 bytes (the limit; raise it with --max-record-bytes)\n",
            side.display()
        )
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn eligc_test_and_diff_take_the_limit_too() {
    let dir = temp_dir("test-diff");
    let seed = Path::new("protocols/sle-car-t");
    std::fs::copy(seed.join("protocol.elig"), dir.join("protocol.elig")).unwrap();
    std::fs::copy(seed.join("expected.jsonl"), dir.join("expected.jsonl")).unwrap();
    std::fs::write(
        dir.join("patients.jsonl"),
        std::fs::read_to_string(with_oversize_line(&dir)).unwrap(),
    )
    .unwrap();
    let out = eligc(&["test", s(&dir), "--max-record-bytes", "64K"]);
    let stderr = text(&out.stderr);
    assert_eq!(
        rejected_lines(&stderr),
        vec![format!(
            "rejected: {}:2: the record is larger than 65536 bytes (the limit; raise it with --max-record-bytes)",
            dir.join("patients.jsonl").display()
        )]
    );
    // expected.jsonl's lines are held to it as well.
    let out = eligc(&["test", s(&dir), "--max-record-bytes", "100"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("expected.jsonl:1: the line is larger than 100 bytes"),
        "{}",
        text(&out.stderr)
    );
    let data = dir.join("big.jsonl");
    let out = eligc(&[
        "diff",
        PROTOCOL,
        PROTOCOL,
        "--patients",
        s(&data),
        "--max-record-bytes",
        "64K",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert_eq!(
        rejected_lines(&text(&out.stderr)),
        vec![format!(
            "rejected: {}:2: the record is larger than 65536 bytes (the limit; raise it with --max-record-bytes)",
            data.display()
        )]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_bulk_data_line_or_patient_over_the_limit_is_rejected_at_its_file_and_line() {
    let dir = temp_dir("bulk");
    let patient = |id: &str| {
        format!(
            r#"{{"resourceType":"Patient","id":"{id}","gender":"female","birthDate":"1990-01-01"}}"#
        )
    };
    let observation = |id: &str, pad: usize| {
        format!(
            r#"{{"resourceType":"Observation","id":"o-{id}-{pad}","status":"final","subject":{{"reference":"Patient/{id}"}},"code":{{"text":"{}","coding":[{{"system":"http://loinc.org","code":"33914-3"}}]}},"effectiveDateTime":"2026-03-01","valueQuantity":{{"value":80,"code":"mL/min/{{1.73_m2}}"}}}}"#,
            "n".repeat(pad)
        )
    };
    std::fs::write(
        dir.join("Patient.ndjson"),
        [patient("a"), patient("b"), patient("c")].join("\n"),
    )
    .unwrap();
    // Line 2 alone is over 3K; patient `c`'s three lines together are.
    std::fs::write(
        dir.join("Observation.ndjson"),
        [
            observation("a", 10),
            observation("b", 4000),
            observation("c", 900),
            observation("c", 901),
            observation("c", 902),
        ]
        .join("\n"),
    )
    .unwrap();
    let out = eligc(&[
        "run",
        PROTOCOL,
        s(&dir),
        "--max-record-bytes",
        "3K",
        "--anchor",
        "screening=2026-03-31",
    ]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    let obs = dir.join("Observation.ndjson");
    let pat = dir.join("Patient.ndjson");
    assert_eq!(
        rejected_lines(&stderr),
        vec![
            format!(
                "rejected: {}:2: the record is larger than 3072 bytes (the limit; raise it with --max-record-bytes)",
                obs.display()
            ),
            format!(
                "rejected: {}:3: patient `c`: its resources come to 3634 bytes: the record is larger than 3072 bytes (the limit; raise it with --max-record-bytes)",
                pat.display()
            ),
        ],
        "{stderr}"
    );
    // `a` and `b` are screened (b without its rejected observation).
    assert!(stderr.contains("read 4:"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(target_os = "linux")]
#[test]
fn dev_zero_as_data_stops_with_an_error_instead_of_growing_memory() {
    let out = eligc(&["run", PROTOCOL, "/dev/zero", "--max-record-bytes", "1M"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "error: cannot read /dev/zero: line 1 is larger than 1048576 bytes (the limit; raise it with --max-record-bytes), and this is not a regular file, so the line may never end: reading stops\n\
         read 0: 0 eligible, 0 ineligible, 0 needs review, 0 rejected\n"
    );
    // With the default limit, too (64 MiB read, then the same error).
    let out = eligc(&["run", PROTOCOL, "/dev/zero", "--parse-only"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("larger than 67108864 bytes"));
}

#[cfg(target_os = "linux")]
#[test]
fn dev_zero_as_a_side_file_or_a_json_file_stops_with_an_error() {
    let out = eligc(&[
        "run",
        PROTOCOL,
        PATIENTS,
        "--side",
        "/dev/zero",
        "--max-record-bytes",
        "1M",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "error: --side: /dev/zero:1: the line is larger than 1048576 bytes (the limit; raise it with --max-record-bytes)\n"
    );
    let dir = temp_dir("zero-json");
    let link = dir.join("zero.json");
    std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
    let out = eligc(&["run", PROTOCOL, s(&link), "--max-record-bytes", "1M"]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(
        rejected_lines(&text(&out.stderr)),
        vec![format!(
            "rejected: {}:1: the record is larger than 1048576 bytes (the limit; raise it with --max-record-bytes)",
            link.display()
        )]
    );
    let _ = std::fs::remove_dir_all(&dir);
}
