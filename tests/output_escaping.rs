#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)] // tests fail by panicking
//! Hostile text never reaches a terminal raw: patient ids and protocol wording with ESC
//! sequences, CR, newlines and direction overrides are escaped in the table, `--explain`,
//! `rejected:` lines, `eligc diff` and `check` diagnostics, so no row can be forged; CSV
//! cells that a spreadsheet would run as formulas are neutralised in every column.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use eligc::check::compile_text;
use eligc::eval::Plan;
use eligc::eval::render::{csv_field, explanation, table_line};
use eligc::facts::RawRecord;
use eligc::terminal::escape;
use proptest::prelude::*;

/// A protocol whose wording carries a colour escape, a forged line and a CR.
const PROTOCOL: &str = "protocol \"Esc\"\nanchor screening\n\
observation egfr \"eGFR\" unit mL/min/1.73m2 codes [loinc:33914-3]\n\
inclusion I1 \"Renal \u{1b}[31mRED\u{1b}[0m\\nP99              eligible\r\": \
latest egfr within 30 days before screening >= 30 mL/min/1.73m2\n";

/// A patient whose id tries to forge a second, eligible row; and one rejected whose id
/// and value carry escapes.
const PATIENTS: &str = concat!(
    r#"{"id":"P1\u001b[32m\nP2               eligible","anchors":{"screening":"2026-01-01"},"observations":[{"concept":"egfr","date":"2026-01-01","value":20,"unit":"mL/min/1.73m2"}]}"#,
    "\n",
    r#"{"id":"P3\u001b[2J\r","anchors":{"screening":"2026-01-01"},"observations":[{"concept":"egfr","date":"2026-01-01","value":"\u001b]0;owned\u0007"}]}"#,
    "\n",
);

/// Writes `text` to `name` in the test's own temporary folder (removed when it ends).
fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn eligc(args: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_eligc"))
        .args(args)
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100")
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// No control character other than the line breaks eligc writes itself.
fn assert_no_raw_controls(what: &str, output: &str) {
    let bad: Vec<char> = output
        .chars()
        .filter(|c| (c.is_control() && *c != '\n') || eligc::terminal::is_bidi_control(*c))
        .collect();
    assert!(bad.is_empty(), "{what} prints raw {bad:?}:\n{output}");
}

#[test]
fn the_table_escapes_ids_so_no_row_can_be_forged() {
    let tmp = tempfile::tempdir().unwrap();
    let protocol = write(&tmp, "esc.elig", PROTOCOL);
    let patients = write(&tmp, "esc.jsonl", PATIENTS);
    let out = eligc(&[Path::new("run"), &protocol, &patients]);
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert_no_raw_controls("the table", &stdout);
    assert_no_raw_controls("the rejected line", &stderr);
    // The header and one row: the forged "P2 eligible" is inside the escaped id.
    assert_eq!(stdout.lines().count(), 2, "{stdout}");
    assert!(stdout.contains(r"P1\e[32m\nP2"), "{stdout}");
    assert!(!stdout.lines().any(|l| l.starts_with("P2")), "{stdout}");
    assert!(stderr.contains(r"rejected: "), "{stderr}");
    assert!(stderr.contains(r"patient `P3\e[2J\r`"), "{stderr}");
    assert_eq!(
        stderr.lines().filter(|l| l.starts_with("rejected")).count(),
        1
    );
}

#[test]
fn explain_escapes_the_id_and_the_wording() {
    let tmp = tempfile::tempdir().unwrap();
    let protocol = write(&tmp, "esc.elig", PROTOCOL);
    let patients = write(&tmp, "esc.jsonl", PATIENTS);
    let out = Command::new(env!("CARGO_BIN_EXE_eligc"))
        .arg("run")
        .arg(&protocol)
        .arg(&patients)
        .arg("--explain")
        .arg("P1\u{1b}[32m\nP2               eligible")
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert_no_raw_controls("--explain", &stdout);
    assert!(
        stdout.contains(r#""Renal \e[31mRED\e[0m\nP99              eligible\r""#),
        "{stdout}"
    );
    assert!(stdout.starts_with(r"Patient P1\e[32m\nP2"), "{stdout}");
}

#[test]
fn check_diagnostics_escape_the_excerpt_and_keep_the_label_on_its_token() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = PROTOCOL.replace(">= 30 mL/min/1.73m2", ">= 3 mg/dL");
    let protocol = write(&tmp, "esc-bad.elig", &bad);
    let out = eligc(&[Path::new("check"), &protocol]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr).replace(&tmp.path().display().to_string(), "[dir]");
    assert_no_raw_controls("check", &stderr);
    insta::assert_snapshot!("check_escapes_control_characters", stderr);
}

#[test]
fn diff_text_escapes_wording_and_patient_ids() {
    let tmp = tempfile::tempdir().unwrap();
    let old = write(&tmp, "esc-old.elig", PROTOCOL);
    let new = write(
        &tmp,
        "esc-new.elig",
        &PROTOCOL.replace(">= 30 mL/min/1.73m2", ">= 10 mL/min/1.73m2"),
    );
    let patients = write(&tmp, "esc-diff.jsonl", PATIENTS);
    let out = eligc(&[
        Path::new("diff"),
        &old,
        &new,
        Path::new("--patients"),
        &patients,
    ]);
    let stdout = text(&out.stdout);
    assert_no_raw_controls("diff", &stdout);
    assert_no_raw_controls("diff's rejected line", &text(&out.stderr));
    assert!(stdout.contains(r"P1\e[32m\nP2"), "{stdout}");
}

#[test]
fn csv_cells_that_would_be_formulas_are_neutralised_in_every_column() {
    let tmp = tempfile::tempdir().unwrap();
    let protocol = write(&tmp, "csv.elig", PROTOCOL);
    let lines: Vec<String> = ["=HYPERLINK(\"x\")", "+1", "-5", "@SUM(A1)", "\tx", "\rx"]
        .iter()
        .map(|id| serde_json::json!({"id": id, "anchors": {"screening": "2026-01-01"}}).to_string())
        .chain(std::iter::once(
            // Rejected: the error column starts with the file name.
            r#"{"id":"=bad","anchors":{"screening":"not a date"}}"#.to_string(),
        ))
        .collect();
    let patients = write(&tmp, "=csv.jsonl", &(lines.join("\n") + "\n"));
    let out = eligc(&[
        Path::new("run"),
        &protocol,
        &patients,
        Path::new("--format"),
        Path::new("csv"),
    ]);
    let csv = text(&out.stdout);
    let mut rows = csv.lines();
    assert_eq!(rows.next(), Some("id,verdict,excluded_by,unknown,error"));
    for cell in [
        r#""'=HYPERLINK(""x"")""#,
        r#""'+1""#,
        r#""'-5""#,
        r#""'@SUM(A1)""#,
        "\"'\tx\"",
        "\"'\rx\"",
        r#""'=bad""#,
    ] {
        assert!(csv.contains(cell), "no {cell:?} in\n{csv}");
    }
    // The error cell of the rejected record starts with the file's path, not `=`.
    let rejected = csv.lines().find(|l| l.starts_with(r#""'=bad""#)).unwrap();
    assert!(!rejected.contains(",="), "{rejected}");
}

#[test]
fn csv_fields_leave_ordinary_text_alone() {
    assert_eq!(csv_field("P01"), "P01");
    assert_eq!(csv_field("needs review"), "needs review");
    assert_eq!(csv_field("a,b"), "\"a,b\"");
    assert_eq!(csv_field("-"), "\"'-\"");
}

fn plan() -> &'static Plan {
    static PLAN: std::sync::OnceLock<Plan> = std::sync::OnceLock::new();
    PLAN.get_or_init(|| {
        let c = compile_text("esc.elig", PROTOCOL, None);
        Plan::new(c.program.unwrap(), c.sources)
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    /// The CSV writer writes the field of several ids without joining them first: the
    /// same bytes as `csv_field` of the joined text.
    #[test]
    fn a_csv_field_written_in_parts_is_the_field_of_the_joined_text(
        parts in proptest::collection::vec("[\\PC=+@,\"\n\r\t-]{0,6}", 0..4),
    ) {
        let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
        let mut written = Vec::new();
        eligc::eval::render::write_csv_field(&mut written, &parts).unwrap();
        prop_assert_eq!(String::from_utf8(written).unwrap(), csv_field(&parts.join(" ")));
    }

    #[test]
    fn escaped_text_has_no_control_or_direction_characters(s in any::<String>()) {
        let e = escape(&s);
        prop_assert!(!e.chars().any(|c| c.is_control() || eligc::terminal::is_bidi_control(c)), "{e:?}");
    }

    #[test]
    fn any_patient_id_is_one_table_line_and_a_clean_explanation(
        id in "[\\PC\u{0}-\u{1f}\u{7f}-\u{9f}\u{202a}-\u{202e}\u{2066}-\u{2069}]{0,24}",
        value in "[\\PC\u{0}-\u{1f}\u{1b}]{0,12}",
    ) {
        let record = serde_json::json!({
            "id": id,
            "anchors": {"screening": "2026-01-01"},
            "observations": [{"concept": "egfr", "date": "2026-01-01", "value": value}],
        });
        match plan().screen(&RawRecord::new("p.jsonl", 1, record.to_string()), |_| true) {
            Ok(r) => {
                let line = table_line(&r, 16);
                prop_assert_eq!(line.lines().count(), 1, "{:?}", line);
                prop_assert!(!line.chars().any(|c| c.is_control() || eligc::terminal::is_bidi_control(c)));
                let text = explanation(&r);
                prop_assert!(!text.chars().any(|c| (c.is_control() && c != '\n') || eligc::terminal::is_bidi_control(c)));
                prop_assert!(text.lines().next().unwrap_or("").starts_with("Patient "));
            }
            Err(e) => {
                let line = e.to_string();
                prop_assert!(!line.chars().any(|c| c.is_control() || eligc::terminal::is_bidi_control(c)), "{:?}", line);
            }
        }
    }
}
