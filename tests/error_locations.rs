#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)] // tests fail by panicking
//! Errors name the real file and line (issue 9): a resource of a Bulk Data export at its
//! own file and line, not at its Patient's; a field of a pretty-printed `.json` file (native
//! or FHIR) at its own line, not at line 1. The `rejected:` lines are kept as snapshots.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const PROTOCOL: &str = "protocols/sle-car-t/protocol.elig";

fn eligc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_eligc"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("eligc-locations-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The `rejected:` lines of a run over `data`, with the folder written `DIR`.
fn rejected(data: &Path, dir: &Path) -> String {
    let out = eligc(&[
        "run",
        PROTOCOL,
        data.to_str().unwrap(),
        "--anchor",
        "screening=2026-03-31",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    stderr
        .lines()
        .filter(|l| l.starts_with("rejected:"))
        .map(|l| l.replace(dir.to_str().unwrap(), "DIR"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn observation(id: &str, patient: &str, date: &str) -> String {
    format!(
        r#"{{"resourceType":"Observation","id":"{id}","status":"final","subject":{{"reference":"Patient/{patient}"}},"code":{{"coding":[{{"system":"http://loinc.org","code":"33914-3"}}]}},"effectiveDateTime":"{date}","valueQuantity":{{"value":80,"system":"http://unitsofmeasure.org","code":"mL/min/{{1.73_m2}}"}}}}"#
    )
}

#[test]
fn an_error_in_a_bulk_data_resource_names_its_own_file_and_line() {
    let dir = temp_dir("bulk");
    let patient = |id: &str| format!(r#"{{"resourceType":"Patient","id":"{id}"}}"#);
    std::fs::write(
        dir.join("Patient.ndjson"),
        [patient("a"), patient("b"), patient("c"), patient("d")].join("\n"),
    )
    .unwrap();
    std::fs::write(
        dir.join("Observation.ndjson"),
        [
            observation("o1", "a", "2026-01-01"),
            observation("o2", "d", "2026-01-01"),
            // A repeated key: found when the resource is parsed, inside the patient's Bundle.
            observation("o3", "b", "2026-01-01").replace(
                r#""status":"final""#,
                r#""status":"final","status":"entered-in-error""#,
            ),
            // A date that is not one: found when it is converted.
            observation("o4", "c", "2026-02-30"),
        ]
        .join("\n"),
    )
    .unwrap();
    std::fs::write(
        dir.join("Condition.ndjson"),
        r#"{"resourceType":"Condition","id":"c1","subject":{"reference":"Patient/d"},"code":{"coding":[{"system":"http://snomed.info/sct","code":"55464009"}]},"onsetDateTime":"2020-01-01","abatementDateTime":"2019-01-01"}"#,
    )
    .unwrap();
    insta::assert_snapshot!("bulk_resource_errors", rejected(&dir, &dir));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A Bundle of one patient and `resources`, pretty-printed (one field per line).
fn pretty_bundle(resources: &[String]) -> String {
    let mut entries = vec![serde_json::json!({
        "fullUrl": "urn:uuid:p1",
        "resource": {"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1980-01-01"}
    })];
    for r in resources {
        entries.push(
            serde_json::json!({"resource": serde_json::from_str::<serde_json::Value>(r).unwrap()}),
        );
    }
    serde_json::to_string_pretty(&serde_json::json!({
        "resourceType": "Bundle",
        "type": "collection",
        "entry": entries,
    }))
    .unwrap()
}

#[test]
fn an_error_in_a_pretty_printed_fhir_bundle_names_the_line_of_its_field() {
    let dir = temp_dir("fhir-json");
    let good = observation("o1", "p1", "2026-01-01");
    let cases = [
        // A bad date: the line of `effectiveDateTime`.
        ("date.json", observation("o2", "p1", "2026-13-01")),
        // No subject: the line where the resource starts.
        (
            "subject.json",
            observation("o2", "p1", "2026-01-01")
                .replace(r#""subject":{"reference":"Patient/p1"},"#, ""),
        ),
        // A subject that is another patient: the line of its reference.
        ("other.json", observation("o2", "p9", "2026-01-01")),
        // A number eligc would have to round: the line of the value.
        (
            "number.json",
            observation("o2", "p1", "2026-01-01").replace(
                r#""value":80"#,
                r#""value":29.99999999999999999999999999999"#,
            ),
        ),
    ];
    let mut all = Vec::new();
    for (name, bad) in &cases {
        let path = dir.join(name);
        std::fs::write(&path, pretty_bundle(&[good.clone(), bad.clone()])).unwrap();
        all.push(rejected(&path, &dir));
    }
    // A repeated key, written as text (a JSON library would drop it): at its own line.
    let text = pretty_bundle(std::slice::from_ref(&good)).replacen(
        "\"status\": \"final\",",
        "\"status\": \"final\",\n          \"status\": \"entered-in-error\",",
        1,
    );
    let path = dir.join("repeated.json");
    std::fs::write(&path, &text).unwrap();
    all.push(rejected(&path, &dir));
    insta::assert_snapshot!("pretty_fhir_errors", all.join("\n"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_error_in_a_pretty_printed_native_record_names_the_line_of_its_field() {
    let dir = temp_dir("native-json");
    let record = serde_json::json!({
        "id": "N1",
        "birth_date": "1980-01-01",
        "observations": [
            {"code": "loinc:33914-3", "date": "2026-01-01", "value": 80, "unit": "mL/min/{1.73_m2}"},
            {"code": "loinc:33914-3", "concept": "egfr", "date": "2026-01-02", "value": 81, "unit": "mL/min/{1.73_m2}"}
        ],
        "medications": [
            {"code": "rxnorm:8640", "start": "2024-05-01", "end": "2024-01-01"}
        ]
    });
    // Two rules between fields: both `concept` and `code`; an end before the start.
    let both = dir.join("both.json");
    std::fs::write(&both, serde_json::to_string_pretty(&record).unwrap()).unwrap();
    let mut end_first = record.clone();
    end_first["observations"].as_array_mut().unwrap().pop();
    let end = dir.join("end.json");
    std::fs::write(&end, serde_json::to_string_pretty(&end_first).unwrap()).unwrap();
    insta::assert_snapshot!(
        "pretty_native_errors",
        [rejected(&both, &dir), rejected(&end, &dir)].join("\n")
    );
    let _ = std::fs::remove_dir_all(&dir);
}
