#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)] // tests fail by panicking
//! The `eligc` command line, run as a user would: outputs kept as insta snapshots, exit
//! codes as documented in README.md.

use std::process::{Command, Output};

const PROTOCOL: &str = "protocols/sle-car-t/protocol.elig";
const PATIENTS: &str = "protocols/sle-car-t/patients.jsonl";

fn eligc(args: &[&str]) -> Output {
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

#[test]
fn check_on_the_seed_protocol_is_clean_and_exits_0() {
    let out = eligc(&["check", PROTOCOL]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        text(&out.stderr),
        format!("{PROTOCOL}: 0 errors, 0 warnings\n")
    );
}

#[test]
fn check_with_errors_exits_2_and_json_lists_them() {
    let out = eligc(&[
        "check",
        "--format",
        "json",
        "tests/fixtures/check/unit-mismatch.elig",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json[0]["diagnostics"][0]["code"], "elig::unit-mismatch");
    assert!(json[0]["diagnostics"][0]["line"].as_u64().unwrap() > 0);
}

#[test]
fn bad_usage_exits_1() {
    assert_eq!(eligc(&["check"]).status.code(), Some(1));
    assert_eq!(
        eligc(&["run", "missing.elig", PATIENTS]).status.code(),
        Some(1)
    );
    assert_eq!(eligc(&["--version"]).status.code(), Some(0));
}

#[test]
fn run_prints_a_table_and_the_screening_funnel() {
    let out = eligc(&["run", PROTOCOL, PATIENTS, "--summary"]);
    assert_eq!(out.status.code(), Some(0));
    insta::assert_snapshot!("run_table_and_funnel", text(&out.stdout));
    insta::assert_snapshot!("run_totals", text(&out.stderr));
}

#[test]
fn run_explains_one_patient_in_the_protocols_words() {
    let eligible = eligc(&["run", PROTOCOL, PATIENTS, "--explain", "P01"]);
    insta::assert_snapshot!("explain_eligible_patient", text(&eligible.stdout));
    let unknown = eligc(&["run", PROTOCOL, PATIENTS, "--explain", "P30"]);
    insta::assert_snapshot!("explain_patient_with_an_old_egfr", text(&unknown.stdout));
}

#[test]
fn run_as_json_lines_carries_every_criterion_and_its_evidence() {
    let out = eligc(&["run", PROTOCOL, PATIENTS, "--format", "json"]);
    let lines: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 98);
    let first = &lines[0];
    assert_eq!(first["id"], "P01");
    assert_eq!(first["verdict"], "eligible");
    assert_eq!(first["criteria"].as_array().unwrap().len(), 25);
    assert!(
        first["criteria"][0]["checks"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("born")
    );
}

#[test]
fn run_as_csv_has_one_row_per_patient() {
    let out = eligc(&["run", PROTOCOL, PATIENTS, "--format", "csv"]);
    let csv = text(&out.stdout);
    let mut rows = csv.lines();
    assert_eq!(rows.next(), Some("id,verdict,excluded_by,unknown,error"));
    assert_eq!(rows.count(), 98);
}

#[test]
fn bad_records_are_reported_counted_and_the_rest_screened() {
    let out = eligc(&["run", PROTOCOL, "tests/fixtures/data/mixed.jsonl"]);
    assert_eq!(out.status.code(), Some(3));
    insta::assert_snapshot!("run_mixed_records_stdout", text(&out.stdout));
    insta::assert_snapshot!("run_mixed_records_stderr", text(&out.stderr));
}

#[test]
fn strict_stops_at_the_first_bad_record() {
    let out = eligc(&[
        "run",
        PROTOCOL,
        "tests/fixtures/data/mixed.jsonl",
        "--strict",
    ]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        text(&out.stderr).contains("read 2: 0 eligible, 1 ineligible, 0 needs review, 1 rejected"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn the_sample_patients_meet_their_expected_verdicts() {
    let out = eligc(&["test", "protocols/sle-car-t"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("98 passed, 0 failed"));
}

#[test]
fn output_order_and_content_do_not_depend_on_the_number_of_threads() {
    let one = eligc(&["run", PROTOCOL, PATIENTS, "--format", "json", "--jobs", "1"]);
    let two = eligc(&["run", PROTOCOL, PATIENTS, "--format", "json", "--jobs", "2"]);
    assert_eq!(one.stdout, two.stdout);
}

const EXPLAIN_PROTOCOL: &str = "tests/fixtures/explain/protocol.elig";
const EXPLAIN_PATIENTS: &str = "tests/fixtures/explain/patients.jsonl";

#[test]
fn explain_shows_conversions_multiples_of_uln_and_dose_equivalents() {
    // 100 umol/L creatinine against a mg/dL threshold, AST 130 U/L with ULN 40,
    // methylprednisolone 48 mg/d against a prednisone threshold.
    let out = eligc(&["run", EXPLAIN_PROTOCOL, EXPLAIN_PATIENTS, "--explain", "X1"]);
    insta::assert_snapshot!("explain_conversions_and_ratios", text(&out.stdout));
}

#[test]
fn explain_never_rounds_a_value_onto_or_across_its_boundary() {
    // 119.99 U/L with ULN 40 is 2.99975 x ULN: "3.00" would read as the limit itself.
    let out = eligc(&["run", EXPLAIN_PROTOCOL, EXPLAIN_PATIENTS, "--explain", "X2"]);
    insta::assert_snapshot!("explain_numbers_near_a_boundary", text(&out.stdout));
}

#[test]
fn json_keeps_the_computed_numbers_exact() {
    let out = eligc(&[
        "run",
        EXPLAIN_PROTOCOL,
        EXPLAIN_PATIENTS,
        "--format",
        "json",
    ]);
    let lines: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let detail = |patient: usize, criterion: usize| {
        lines[patient]["criteria"][criterion]["checks"][0]["detail"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(
        detail(0, 0).contains("100 umol/L = 1.1312 mg/dL"),
        "{}",
        detail(0, 0)
    );
    assert!(
        detail(1, 0).contains("132.6 umol/L = 1.4999712 mg/dL"),
        "{}",
        detail(1, 0)
    );
    assert!(
        detail(1, 1).contains("119.99 U/L = 2.99975 x ULN"),
        "{}",
        detail(1, 1)
    );
}

#[test]
fn explain_shows_the_and_or_structure_and_the_branch_that_decided() {
    // I4: LVEF and (ECG normal or attested); E1: attested or (infection and treatment).
    let out = eligc(&["run", EXPLAIN_PROTOCOL, EXPLAIN_PATIENTS, "--explain", "X3"]);
    insta::assert_snapshot!("explain_and_or_structure", text(&out.stdout));
}

#[test]
fn explain_lists_nothing_to_settle_for_an_ineligible_patient() {
    // AST 5 x ULN excludes X4; the unrecorded ECG attestation cannot change that.
    let out = eligc(&["run", EXPLAIN_PROTOCOL, EXPLAIN_PATIENTS, "--explain", "X4"]);
    let text = text(&out.stdout);
    assert!(text.contains("? I4 unknown"), "{text}");
    assert!(!text.contains("To settle:"), "{text}");
    insta::assert_snapshot!("explain_ineligible_nothing_to_settle", text);
}

#[test]
fn json_carries_the_to_settle_list_of_a_patient_who_needs_review() {
    let out = eligc(&[
        "run",
        EXPLAIN_PROTOCOL,
        EXPLAIN_PATIENTS,
        "--format",
        "json",
    ]);
    let lines: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let x3 = lines.iter().find(|l| l["id"] == "X3").unwrap();
    let items = x3["to_settle"].as_array().unwrap();
    let criteria: Vec<&str> = items
        .iter()
        .map(|i| i["criterion"].as_str().unwrap())
        .collect();
    assert_eq!(criteria, ["I4", "E1"]);
    assert_eq!(items[0]["check"], "attested ecg_abnormality_not_obvious");
    assert!(
        items[0]["action"]
            .as_str()
            .unwrap()
            .starts_with("record `ecg_abnormality_not_obvious`")
    );
    // X4 is ineligible: nothing to settle, so no list.
    let x4 = lines.iter().find(|l| l["id"] == "X4").unwrap();
    assert!(x4.get("to_settle").is_none(), "{x4}");
}

#[test]
fn complete_names_domains_on_run_test_and_diff() {
    // A misspelt domain is a usage error before anything is screened.
    for args in [
        &["run", PROTOCOL, PATIENTS, "--complete", "procedure"][..],
        &["test", "protocols/sle-car-t", "--complete", "procedure"][..],
        &[
            "diff",
            PROTOCOL,
            PROTOCOL,
            "--patients",
            PATIENTS,
            "--complete",
            "procedure",
        ][..],
    ] {
        let out = eligc(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(
            text(&out.stderr).contains(
                "error: --complete: `procedure` is not a domain (all, observations, conditions, medications, immunizations, procedures, allergies, encounters, studies, family_history); did you mean `procedures`?"
            ),
            "{}",
            text(&out.stderr)
        );
    }
    // The seed samples from FHIR with --complete procedures: JSON names the filled domain.
    let out = eligc(&[
        "run",
        PROTOCOL,
        "protocols/sle-car-t/patients.fhir.ndjson",
        "--input",
        "fhir",
        "--anchor",
        "screening=2026-03-31",
        "--complete",
        "procedures",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let first: serde_json::Value =
        serde_json::from_str(text(&out.stdout).lines().next().unwrap()).unwrap();
    assert_eq!(first["completed"], serde_json::json!(["procedures"]));
    // The samples that leave a domain out on purpose (P85 immunizations, P94 procedures,
    // P95 medications, P96 conditions) expect unknowns: with --complete all they are decided,
    // and exactly those four fail their expectations.
    let out = eligc(&["test", "protocols/sle-car-t", "--complete", "all"]);
    let report = text(&out.stdout);
    let failed: Vec<&str> = report.lines().filter(|l| l.starts_with("FAIL ")).collect();
    assert_eq!(failed.len(), 4, "{report}");
    for id in ["P85", "P94", "P95", "P96"] {
        assert!(
            failed.iter().any(|l| l.starts_with(&format!("FAIL {id} "))),
            "{report}"
        );
    }
    assert!(
        report.contains("E10: expected unknown, got not met"),
        "{report}"
    );
}

#[test]
fn as_of_takes_a_date_on_run_test_and_diff() {
    for args in [
        &["run", PROTOCOL, PATIENTS, "--as-of", "2026-13-01"][..],
        &["test", "protocols/sle-car-t", "--as-of", "31/03/2026"][..],
        &["diff", PROTOCOL, PROTOCOL, "--as-of", "soon"][..],
    ] {
        let out = eligc(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(
            text(&out.stderr).contains("is not a date written YYYY-MM-DD"),
            "{}",
            text(&out.stderr)
        );
    }
    // The samples are screened as of their screening dates; the same date given
    // explicitly changes nothing.
    let out = eligc(&["test", "protocols/sle-car-t", "--as-of", "2026-03-31"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
}
