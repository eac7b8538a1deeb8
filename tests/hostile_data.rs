#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)] // tests fail by panicking
//! Patient data that used to give a wrong fact instead of an error (issue 9, "wrong
//! verdicts"): repeated keys, lenient dates, rounded or underscored numbers, codes with
//! invisible characters, subject references to something other than the Patient.

use std::sync::Arc;

use eligc::facts::{InputFormat, PatientRecord, RawRecord, ReadOptions, RecordError};

fn native(text: &str) -> Result<PatientRecord, RecordError> {
    RawRecord::new("p.jsonl", 3, text).parse()
}

fn fhir(text: &str) -> Result<PatientRecord, RecordError> {
    let options = Arc::new(ReadOptions {
        format: InputFormat::Fhir,
        ..ReadOptions::default()
    });
    RawRecord {
        options: Some(options),
        ..RawRecord::new("b.ndjson", 5, text)
    }
    .parse()
}

/// A Bundle with the Patient `p1` and the given resources.
fn bundle(resources: &[&str]) -> String {
    let mut entries = vec![
        r#"{"fullUrl":"urn:uuid:p1","resource":{"resourceType":"Patient","id":"p1"}}"#.to_string(),
    ];
    entries.extend(resources.iter().map(|r| format!(r#"{{"resource":{r}}}"#)));
    format!(
        r#"{{"resourceType":"Bundle","type":"collection","entry":[{}]}}"#,
        entries.join(",")
    )
}

fn observation(subject: &str, date: &str, value: &str) -> String {
    format!(
        r#"{{"resourceType":"Observation","id":"o1","status":"final","subject":{{"reference":"{subject}"}},"code":{{"coding":[{{"system":"http://loinc.org","code":"33914-3"}}]}},"effectiveDateTime":"{date}","valueQuantity":{{"value":{value},"system":"http://unitsofmeasure.org","code":"mL/min/{{1.73_m2}}"}}}}"#
    )
}

// ---------------------------------------------------------------------------------------
// Repeated keys: refused in every map, not last-wins
// ---------------------------------------------------------------------------------------

#[test]
fn a_repeated_anchor_rejects_the_record_naming_the_key_and_path() {
    let e = native(r#"{"id":"a","anchors":{"screening":"2026-03-31","screening":"2020-01-01"}}"#)
        .unwrap_err();
    assert_eq!((e.file.as_str(), e.line), ("p.jsonl", 3));
    assert_eq!(e.patient.as_deref(), Some("a"));
    assert_eq!(e.path, "anchors");
    assert!(e.reason.contains("repeated key `screening`"), "{e}");
}

#[test]
fn a_repeated_attestation_or_attestation_field_rejects_the_record() {
    let e = native(r#"{"id":"a","attestations":{"consent":false,"consent":true}}"#).unwrap_err();
    assert_eq!(e.path, "attestations");
    assert!(e.reason.contains("repeated key `consent`"), "{e}");
    let e = native(r#"{"id":"a","attestations":{"consent":{"value":false,"value":true}}}"#)
        .unwrap_err();
    assert_eq!(e.path, "attestations.consent");
    assert!(e.reason.contains("repeated key `value`"), "{e}");
}

#[test]
fn a_repeated_key_in_the_side_file_is_an_error_naming_its_line() {
    let path =
        std::env::temp_dir().join(format!("eligc-hostile-side-{}.jsonl", std::process::id()));
    std::fs::write(
        &path,
        "{\"patient\":\"a\"}\n{\"patient\":\"b\",\"attestations\":{\"x\":true,\"x\":false}}\n",
    )
    .unwrap();
    let e = ReadOptions::read_side_file(&path).unwrap_err();
    std::fs::remove_file(&path).unwrap();
    assert!(e.contains(":2:"), "{e}");
    assert!(e.contains("repeated key `x`"), "{e}");
}

#[test]
fn a_repeated_key_in_any_fhir_object_rejects_the_bundle_with_its_path() {
    // In a resource's nested object: the first code was the one read before.
    let obs = observation("Patient/p1", "2026-03-01", "45").replace(
        r#""code":"33914-3"}"#,
        r#""code":"33914-3","code":"2160-0"}"#,
    );
    let e = fhir(&bundle(&[&obs])).unwrap_err();
    assert_eq!((e.file.as_str(), e.line), ("b.ndjson", 5));
    assert_eq!(e.path, "entry[1].resource.code.coding[0]");
    assert!(e.reason.contains("repeated key `code`"), "{e}");
    // At the top of a resource, and in a Bundle detected rather than declared FHIR.
    let obs = observation("Patient/p1", "2026-03-01", "45").replace(
        r#""status":"final""#,
        r#""status":"final","status":"entered-in-error""#,
    );
    let raw = RawRecord::new("d.jsonl", 1, bundle(&[&obs]));
    let e = raw.parse().unwrap_err();
    assert_eq!(e.path, "entry[1].resource");
    assert!(e.reason.contains("repeated key `status`"), "{e}");
}

// ---------------------------------------------------------------------------------------
// Dates: exactly YYYY-MM-DD in native records; FHIR times checked
// ---------------------------------------------------------------------------------------

#[test]
fn lenient_dates_reject_a_native_record() {
    for bad in [
        "-2025-03-03",
        "+12345-01-01",
        "2025-03-03 ",
        " 2025-03-03",
        "2025-3-3",
    ] {
        for text in [
            format!(r#"{{"id":"a","birth_date":"{bad}"}}"#),
            format!(r#"{{"id":"a","anchors":{{"screening":"{bad}"}}}}"#),
            format!(
                r#"{{"id":"a","observations":[{{"concept":"egfr","date":"{bad}","value":1,"unit":"%"}}]}}"#
            ),
            format!(r#"{{"id":"a","attestations":{{"c":{{"value":true,"date":"{bad}"}}}}}}"#),
        ] {
            let e = native(&text).unwrap_err();
            assert!(e.reason.contains("YYYY-MM-DD"), "{text}: {e}");
        }
    }
    assert!(native(r#"{"id":"a","birth_date":"2025-03-03"}"#).is_ok());
}

#[test]
fn lenient_fhir_date_times_reject_the_bundle() {
    for bad in [
        "2026-03-01T24:00",
        "2026-03-01T24:00:00Z",
        "2026-03-01Tgarbage",
        "2026-03-01T10:00:00+25:00",
        "2026-03-01 ",
        " 2026-03-01",
        "-2026-03-01",
    ] {
        let e = fhir(&bundle(&[&observation("Patient/p1", bad, "45")])).unwrap_err();
        assert_eq!(e.path, "entry[1].resource.effectiveDateTime", "{bad}");
        assert!(e.reason.contains("not a FHIR date"), "{bad}: {e}");
    }
    for good in [
        "2026-03-01",
        "2026-03-01T10:20:30Z",
        "2026-03-01T10:20:30.123+02:00",
        "2026-03-01T23:59:60-05:00",
    ] {
        assert!(
            fhir(&bundle(&[&observation("Patient/p1", good, "45")])).is_ok(),
            "{good}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Numbers: never rounded, never text
// ---------------------------------------------------------------------------------------

#[test]
fn a_number_beyond_28_significant_digits_is_rejected_not_rounded_to_meet_a_threshold() {
    // 29.999...9 (31 digits) was read as 30 and met `>= 30`.
    let long = "29.99999999999999999999999999999";
    let e = native(&format!(
        r#"{{"id":"a","observations":[{{"concept":"egfr","date":"2026-03-01","value":{long},"unit":"mL/min/1.73m2"}}]}}"#
    ))
    .unwrap_err();
    assert_eq!(e.path, "observations[0].value");
    assert!(e.reason.contains("more than 28 significant digits"), "{e}");
    let e = fhir(&bundle(&[&observation("Patient/p1", "2026-03-01", long)])).unwrap_err();
    assert_eq!(e.path, "entry[1].resource.valueQuantity.value");
    assert!(e.reason.contains("more than 28 significant digits"), "{e}");
    // 28 digits are kept exactly.
    let ok = native(
        r#"{"id":"a","observations":[{"concept":"egfr","date":"2026-03-01","value":29.99999999999999999999999999,"unit":"%"}]}"#,
    )
    .unwrap();
    assert_eq!(
        ok.observations.unwrap()[0].value.unwrap().to_string(),
        "29.99999999999999999999999999"
    );
}

#[test]
fn numbers_given_as_text_are_rejected_including_underscores() {
    for (text, says) in [
        ("\"7_1\"", "at most 28 digits"),
        ("\"71\"", "write numbers without quotes"),
        ("\"<20\"", "comparator"),
    ] {
        let e = native(&format!(
            r#"{{"id":"a","medications":[{{"concept":"prednisone","start":"2026-01-01","daily_dose":{text}}}]}}"#
        ))
        .unwrap_err();
        assert_eq!(e.path, "medications[0].daily_dose", "{text}");
        assert!(e.reason.contains(says), "{text}: {e}");
    }
}
