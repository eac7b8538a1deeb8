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

fn native(text: &str) -> Result<PatientRecord<'static>, RecordError> {
    leak(RawRecord::new("p.jsonl", 3, text)).parse()
}

/// A record borrows its strings from the text it was read from: kept for the whole test.
fn leak(raw: RawRecord) -> &'static RawRecord {
    Box::leak(Box::new(raw))
}

fn fhir(text: &str) -> Result<PatientRecord<'static>, RecordError> {
    let options = Arc::new(ReadOptions {
        format: InputFormat::Fhir,
        ..ReadOptions::default()
    });
    leak(RawRecord {
        options: Some(options),
        ..RawRecord::new("b.ndjson", 5, text)
    })
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

// ---------------------------------------------------------------------------------------
// Codes: one normalisation for native and FHIR; a hidden character inside is refused
// ---------------------------------------------------------------------------------------

const CODES_PROTOCOL: &str = r#"
protocol "Codes" version "1"
anchor screening
observation egfr "eGFR" unit mL/min/1.73m2 codes [loinc:33914-3]
condition sle "SLE" codes [snomed:55464009]
inclusion I1 "kidneys": latest egfr within 28 days before screening >= 30 mL/min/1.73m2
exclusion E1 "lupus": condition sle
"#;

fn codes_plan() -> &'static eligc::eval::Plan {
    static PLAN: std::sync::OnceLock<eligc::eval::Plan> = std::sync::OnceLock::new();
    PLAN.get_or_init(|| {
        let c = eligc::check::compile_text("codes.elig", CODES_PROTOCOL, None);
        assert!(!c.has_errors(), "{:?}", c.diagnostics);
        eligc::eval::Plan::new(c.program.unwrap(), c.sources)
    })
}

/// The same patient (eGFR 45 on 2026-03-01, SLE), native, with the eGFR and SLE codes'
/// values written as given (`33914-3`, `55464009` with padding or not).
fn native_patient(egfr: &str, sle: &str) -> String {
    format!(
        r#"{{"id":"p1","observations":[{{"code":"loinc:{egfr}","date":"2026-03-01","value":45,"unit":"mL/min/{{1.73_m2}}"}}],"conditions":[{{"code":"snomed:{sle}","onset":"2020-01-01","status":"active"}}]}}"#
    )
}

/// The same patient as a FHIR Bundle.
fn fhir_patient(egfr: &str, sle: &str) -> String {
    let obs = observation("Patient/p1", "2026-03-01", "45").replace("33914-3", egfr);
    let condition = format!(
        r#"{{"resourceType":"Condition","id":"c1","subject":{{"reference":"Patient/p1"}},"clinicalStatus":{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"active"}}]}},"code":{{"coding":[{{"system":"http://snomed.info/sct","code":"{sle}"}}]}},"onsetDateTime":"2020-01-01"}}"#
    );
    bundle(&[&obs, &condition])
}

/// Screens the text in the given form on 2026-03-31: the verdict, or the rejection.
fn screen(text: &str, format: InputFormat) -> Result<eligc::eval::Verdict, RecordError> {
    let options = Arc::new(ReadOptions {
        format,
        anchors: [(
            "screening".to_string(),
            chrono::NaiveDate::from_ymd_opt(2026, 3, 31).unwrap(),
        )]
        .into(),
        ..ReadOptions::default()
    });
    let raw = RawRecord {
        options: Some(options),
        ..RawRecord::new("p.jsonl", 1, text)
    };
    codes_plan().screen(&raw, |_| false).map(|r| r.verdict)
}

/// JSON text for a string holding `s` (escapes the controls a padding may hold).
fn json_inner(s: &str) -> String {
    let quoted = serde_json::to_string(s).unwrap();
    quoted[1..quoted.len() - 1].to_string()
}

#[test]
fn codes_with_surrounding_spaces_or_zero_width_characters_match_in_both_forms() {
    use eligc::eval::Verdict;
    // Unpadded: the SLE code matches, so the exclusion is met.
    assert_eq!(
        screen(&native_patient("33914-3", "55464009"), InputFormat::Native).unwrap(),
        Verdict::Ineligible
    );
    for pad in [
        " ",
        "\t",
        "\u{00A0}",
        "\u{3000}",
        "\u{200B}",
        "\u{FEFF}",
        "\u{2060} ",
    ] {
        let egfr = json_inner(&format!("{pad}33914-3{pad}"));
        let sle = json_inner(&format!("{pad}55464009"));
        for (text, format) in [
            (native_patient(&egfr, &sle), InputFormat::Native),
            (fhir_patient(&egfr, &sle), InputFormat::Fhir),
        ] {
            // Before, a native `snomed: 55464009` matched nothing: the lupus went unseen.
            assert_eq!(
                screen(&text, format).unwrap(),
                Verdict::Ineligible,
                "{pad:?} {format:?}"
            );
        }
    }
    // Around the `:` of a native code too, and in `also`.
    let r = native(
        r#"{"id":"a","conditions":[{"code":" snomed : 55464009 ","also":["icd10:\u00a0M32.9"],"onset":"2020-01-01"}]}"#,
    )
    .unwrap();
    let c = &r.conditions.unwrap()[0];
    assert_eq!(c.code.as_deref(), Some("snomed:55464009"));
    let also: Vec<&str> = c.also.iter().flatten().map(|a| a.as_str()).collect();
    assert_eq!(also, ["icd10:M32.9"]);
}

#[test]
fn a_hidden_character_inside_a_code_rejects_the_record_in_both_forms() {
    for (hidden, named) in [
        ("\u{200B}", "U+200B zero-width space"),
        ("\u{200D}", "U+200D zero-width joiner"),
        ("\u{FEFF}", "U+FEFF"),
        ("\u{0007}", "U+0007 control character"),
        ("\u{202E}", "U+202E bidirectional"),
    ] {
        let sle = json_inner(&format!("5546{hidden}4009"));
        let e = screen(&native_patient("33914-3", &sle), InputFormat::Native).unwrap_err();
        assert_eq!(e.path, "conditions[0].code", "{hidden:?}");
        assert!(e.reason.contains(named), "{hidden:?}: {e}");
        let e = screen(&fhir_patient("33914-3", &sle), InputFormat::Fhir).unwrap_err();
        assert_eq!(
            e.path, "entry[2].resource.code.coding[0].code",
            "{hidden:?}"
        );
        assert!(e.reason.contains(named), "{hidden:?}: {e}");
    }
    // In `also`, in a FHIR system, in an Observation component.
    let e = native(r#"{"id":"a","conditions":[{"code":"snomed:55464009","also":["icd10:M3\u200b2.9"],"onset":"2020-01-01"}]}"#)
        .unwrap_err();
    assert_eq!(e.path, "conditions[0].also[0]");
    let obs = observation("Patient/p1", "2026-03-01", "45")
        .replace("http://loinc.org", "http://loinc\u{200B}.org");
    let e = fhir(&bundle(&[&obs])).unwrap_err();
    assert_eq!(e.path, "entry[1].resource.code.coding[0].system");
}

mod same_verdict_in_either_form {
    use super::*;
    use proptest::prelude::*;

    const PADDING: &[&str] = &[
        "", " ", "  ", "\t", "\n", "\u{00A0}", "\u{2003}", "\u{3000}", "\u{200B}", "\u{200C}",
        "\u{200D}", "\u{2060}", "\u{FEFF}",
    ];
    const INSIDE: &[&str] = &[
        "\u{200B}", "\u{200C}", "\u{2060}", "\u{FEFF}", "\u{0000}", "\u{001B}", "\u{202E}",
        "\u{2066}",
    ];

    proptest! {
        #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

        /// Issue 9: a code padded with whitespace or zero-width characters reads the same in
        /// a native record and a FHIR Bundle; one with a hidden character inside is refused
        /// in both.
        #[test]
        fn padded_or_hidden_characters_give_the_same_outcome_native_and_fhir(
            before in prop::sample::select(PADDING),
            after in prop::sample::select(PADDING),
            inside in prop::option::of((prop::sample::select(INSIDE), 1usize..7)),
            egfr_or_sle in any::<bool>(),
            value in prop::sample::select(&["12", "45"][..]),
        ) {
            let mut code = if egfr_or_sle { "33914-3" } else { "55464009" }.to_string();
            if let Some((c, at)) = inside {
                code.insert_str(at, c);
            }
            let code = json_inner(&format!("{before}{code}{after}"));
            let (egfr, sle) = if egfr_or_sle { (code.as_str(), "55464009") } else { ("33914-3", code.as_str()) };
            let native_text = native_patient(egfr, sle).replace("\"value\":45", &format!("\"value\":{value}"));
            let fhir_text = fhir_patient(egfr, sle).replace("\"value\":45", &format!("\"value\":{value}"));
            let n = screen(&native_text, InputFormat::Native);
            let f = screen(&fhir_text, InputFormat::Fhir);
            prop_assert_eq!(n.is_err(), inside.is_some(), "{:?}", n);
            match (n, f) {
                (Ok(a), Ok(b)) => prop_assert_eq!(a, b),
                (Err(a), Err(b)) => prop_assert!(a.reason == b.reason, "{} / {}", a, b),
                (a, b) => prop_assert!(false, "native {:?}, FHIR {:?}", a, b),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Subject references: only the Patient counts
// ---------------------------------------------------------------------------------------

#[test]
fn a_subject_reference_to_a_group_or_device_rejects_the_bundle_naming_the_field() {
    for (subject, says) in [
        ("Group/p1", "refers to a Group, not a Patient"),
        ("Device/p1", "refers to a Device, not a Patient"),
        (
            "https://x.org/fhir/Practitioner/p1",
            "refers to a Practitioner",
        ),
        ("Group/p1/_history/3", "refers to a Group"),
        ("p1", "does not name a Patient"),
        ("urn:uuid:other", "does not name a Patient"),
        ("#p1", "does not name a Patient"),
        ("Patient/p2", "is not this Bundle's Patient"),
    ] {
        let e = fhir(&bundle(&[&observation(subject, "2026-03-01", "45")])).unwrap_err();
        assert_eq!(e.path, "entry[1].resource.subject.reference", "{subject}");
        assert!(e.reason.contains(says), "{subject}: {e}");
        assert!(e.reason.contains(subject), "{subject}: {e}");
    }
    // An Immunization's `patient` too.
    let vaccine = r#"{"resourceType":"Immunization","id":"i1","status":"completed","patient":{"reference":"Group/p1"},"vaccineCode":{"coding":[{"system":"http://hl7.org/fhir/sid/cvx","code":"03"}]},"occurrenceDateTime":"2020-01-01"}"#;
    let e = fhir(&bundle(&[vaccine])).unwrap_err();
    assert_eq!(e.path, "entry[1].resource.patient.reference");
    assert!(e.reason.contains("refers to a Group"), "{e}");
}

#[test]
fn patient_references_and_the_patients_full_url_are_attributed() {
    for subject in [
        "Patient/p1",
        " Patient/p1",
        "https://x.org/fhir/Patient/p1",
        "Patient/p1/_history/2",
        "urn:uuid:p1",
    ] {
        let r = fhir(&bundle(&[&observation(subject, "2026-03-01", "45")]))
            .unwrap_or_else(|e| panic!("{subject}: {e}"));
        assert_eq!(r.observations.unwrap().len(), 1, "{subject}");
    }
    // A fullUrl resolves only to the entry it names: the Patient's, not another's.
    let group = r#"{"fullUrl":"urn:uuid:g1","resource":{"resourceType":"Group","id":"p1"}}"#;
    let text = bundle(&[&observation("urn:uuid:g1", "2026-03-01", "45")])
        .replace(r#""entry":["#, &format!(r#""entry":[{group},"#));
    let e = fhir(&text).unwrap_err();
    assert_eq!(e.path, "entry[2].resource.subject.reference");
}

#[test]
fn a_bulk_data_resource_referring_to_a_group_is_rejected_not_given_to_the_patient() {
    let dir = std::env::temp_dir().join(format!("eligc-hostile-group-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("Patient.ndjson"),
        "{\"resourceType\":\"Patient\",\"id\":\"p1\"}\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("Observation.ndjson"),
        format!(
            "{}\n{}\n",
            observation("Patient/p1", "2026-03-01", "45"),
            observation("Group/p1", "2026-03-02", "12").replace("\"o1\"", "\"o2\"")
        ),
    )
    .unwrap();
    let results: Vec<_> = eligc::facts::read_file(&dir)
        .unwrap()
        .map(|r| leak(r.unwrap()).parse())
        .collect();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(results.len(), 2, "{results:?}");
    let e = results[0].as_ref().unwrap_err();
    assert!(e.file.ends_with("Observation.ndjson"), "{e}");
    assert_eq!(e.line, 2);
    assert!(e.reason.contains("the Observation `o2`"), "{e}");
    assert!(e.reason.contains("subject.reference"), "{e}");
    assert!(e.reason.contains("refers to a Group, not a Patient"), "{e}");
    // The patient has only its own observation.
    let p1 = results[1].as_ref().unwrap();
    let obs = p1.observations.as_ref().unwrap();
    assert_eq!(obs.len(), 1);
    assert_eq!(obs[0].id.as_deref(), Some("o1"));
}
