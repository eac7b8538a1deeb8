#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)] // tests fail by panicking
//! Reading patient records: every bad record is reported with its file, line, patient and
//! field, and never stops the others from being read.

use std::io::Write;

use eligc::facts::read_file;

fn records_of(content: &[u8]) -> Vec<Result<String, String>> {
    // Removed when it goes out of scope, after the records are read.
    let mut file = tempfile::Builder::new()
        .prefix("eligc-records-")
        .suffix(".jsonl")
        .tempfile()
        .unwrap();
    file.write_all(content).unwrap();
    read_file(file.path())
        .unwrap()
        .map(|raw| {
            raw.unwrap()
                .parse()
                .map(|r| r.id.to_string())
                .map_err(|e| e.to_string())
        })
        .collect()
}

#[test]
fn a_line_that_is_not_utf8_is_a_rejected_record_and_the_next_lines_are_read() {
    let results = records_of(b"{\"id\":\"a\"}\n{\"id\":\"\xff\"}\n{\"id\":\"c\"}\n");
    assert_eq!(results.len(), 3);
    assert_eq!(results[0], Ok("a".to_string()));
    assert!(
        results[1]
            .as_ref()
            .unwrap_err()
            .contains(":2: the line is not valid UTF-8"),
        "{:?}",
        results[1]
    );
    assert_eq!(results[2], Ok("c".to_string()));
}

#[test]
fn a_truncated_record_is_reported_on_its_own_line() {
    let results = records_of(b"{\"id\":\"a\"}\n{\"id\":\"b\",\"observations\":[\n{\"id\":\"c\"}\n");
    let err = results[1].as_ref().unwrap_err();
    assert!(
        err.contains(":2: patient `b`") || err.contains(":2:"),
        "{err}"
    );
    assert!(err.contains("each patient is one whole line"), "{err}");
}

#[test]
fn a_bad_field_names_the_patient_and_the_json_path() {
    let results = records_of(b"{\"id\":\"p1\",\"observations\":[{\"concept\":\"egfr\",\"date\":\"31/03/2026\",\"value\":1,\"unit\":\"%\"}]}\n");
    let err = results[0].as_ref().unwrap_err();
    assert!(
        err.contains(
            ":1: patient `p1`: field `observations[0].date`: expected a date written YYYY-MM-DD"
        ),
        "{err}"
    );
}

#[test]
fn attestations_accept_the_documented_forms_and_explain_the_others() {
    let ok = records_of(b"{\"id\":\"a\",\"attestations\":{\"x\":true,\"y\":null,\"z\":{\"value\":false,\"date\":\"2026-03-30\",\"by\":\"Dr A\"}}}\n");
    assert_eq!(ok[0], Ok("a".to_string()));
    let typo = records_of(b"{\"id\":\"b\",\"attestations\":{\"x\":{\"vlaue\":true}}}\n");
    assert!(
        typo[0]
            .as_ref()
            .unwrap_err()
            .contains("unknown field `vlaue`: an attestation is true, false, null"),
        "{:?}",
        typo[0]
    );
    let word = records_of(b"{\"id\":\"c\",\"attestations\":{\"x\":\"yes\"}}\n");
    assert!(
        word[0]
            .as_ref()
            .unwrap_err()
            .contains("is not an attestation"),
        "{:?}",
        word[0]
    );
}

#[test]
fn numbers_are_read_as_exact_decimals() {
    let results = records_of(b"{\"id\":\"a\",\"observations\":[{\"concept\":\"x\",\"date\":\"2026-03-30\",\"value\":0.1000000000000000055511151231257827,\"unit\":\"%\"}]}\n");
    // 34 significant digits: refused rather than rounded.
    assert!(
        results[0]
            .as_ref()
            .unwrap_err()
            .contains("more than 28 significant digits"),
        "{:?}",
        results[0]
    );
    let text = "{\"id\":\"a\",\"observations\":[{\"concept\":\"x\",\"date\":\"2026-03-30\",\"value\":1.8,\"unit\":\"%\"}]}";
    let raw = eligc::facts::RawRecord::new("t", 1, text);
    let record = raw.parse().unwrap();
    let value = record.observations.unwrap()[0].value.unwrap();
    assert_eq!(value.to_string(), "1.8");
}
