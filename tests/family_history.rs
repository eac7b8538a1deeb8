#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)] // tests fail by panicking
//! Family history (`family history of NAME`, native `family_history`, FHIR
//! FamilyMemberHistory) over the test protocol `tests/fixtures/family/hereditary-cancer.elig`.

use std::path::{Path, PathBuf};

use eligc::check::compile_file;
use eligc::eval::{Outcome, Plan};
use eligc::facts::fhir::bundle_to_record;
use eligc::facts::{self, PatientRecord, RawRecord};

const PROTOCOL: &str = "tests/fixtures/family/hereditary-cancer.elig";

fn repo(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

fn plan() -> Plan {
    let c = compile_file(&repo(PROTOCOL)).unwrap();
    assert!(!c.has_errors(), "{:?}", c.diagnostics);
    Plan::new(c.program.unwrap(), c.sources)
}

fn record(facts: &str) -> PatientRecord<'static> {
    let sep = if facts.is_empty() { "" } else { "," };
    // Leaked: a record borrows its strings from the text it was read from.
    let text = format!(
        r#"{{"id":"p","birth_date":"1980-01-01","anchors":{{"screening":"2026-03-31"}}{sep}{facts}}}"#
    );
    let raw: &'static RawRecord = Box::leak(Box::new(RawRecord::new("t.jsonl", 1, text)));
    raw.parse().unwrap()
}

/// Each criterion's id and outcome.
fn outcomes(r: &PatientRecord) -> Vec<(String, Outcome)> {
    plan()
        .evaluate(r, false)
        .criteria
        .iter()
        .map(|c| (c.id.to_string(), c.outcome))
        .collect()
}

fn outcome(facts: &str, id: &str) -> Outcome {
    outcomes(&record(facts))
        .into_iter()
        .find(|(i, _)| i == id)
        .unwrap()
        .1
}

#[test]
fn a_mother_with_breast_cancer_at_44_is_a_first_degree_relative_before_50() {
    let facts =
        r#""family_history":[{"code":"icd10:C50.9","relationship":"mother","onset_age":44}]"#;
    assert_eq!(outcome(facts, "I1"), Outcome::Met);
    assert_eq!(outcome(facts, "I2"), Outcome::Met);
    assert_eq!(outcome(facts, "E1"), Outcome::NotMet);
}

#[test]
fn an_aunt_is_second_degree_not_first() {
    let facts = r#""family_history":[{"code":"icd10:C56","relationship":"aunt","onset_age":40}]"#;
    assert_eq!(outcome(facts, "I1"), Outcome::NotMet);
    // Ovarian cancer is not breast cancer: a second-degree relative with another cancer.
    assert_eq!(outcome(facts, "E2"), Outcome::Met);
}

#[test]
fn a_parent_recorded_without_sex_may_be_the_mother() {
    let facts =
        r#""family_history":[{"code":"icd10:C50.9","relationship":"parent","onset_age":44}]"#;
    assert_eq!(
        outcome(facts, "I1"),
        Outcome::Met,
        "a parent is first-degree"
    );
    assert_eq!(outcome(facts, "I2"), Outcome::Unknown);
}

#[test]
fn an_unrecorded_relative_or_age_is_unknown_not_false() {
    let no_age = r#""family_history":[{"code":"icd10:C50.9","relationship":"sister"}]"#;
    assert_eq!(outcome(no_age, "I1"), Outcome::Unknown);
    let no_relative = r#""family_history":[{"code":"icd10:C50.9","onset_age":38}]"#;
    assert_eq!(outcome(no_relative, "I1"), Outcome::Unknown);
    // An age of 50 is not before 50.
    let fifty =
        r#""family_history":[{"code":"icd10:C50.9","relationship":"sister","onset_age":50}]"#;
    assert_eq!(outcome(fifty, "I1"), Outcome::NotMet);
}

#[test]
fn family_history_is_unknown_without_a_list_and_none_when_it_is_empty() {
    assert_eq!(outcome("", "E1"), Outcome::Unknown);
    assert_eq!(outcome(r#""family_history":[]"#, "E1"), Outcome::NotMet);
}

#[test]
fn an_entry_entered_in_error_is_not_a_fact() {
    let facts = r#""family_history":[{"code":"icd10:C18.7","relationship":"father","status":"entered-in-error"}]"#;
    assert_eq!(outcome(facts, "E1"), Outcome::NotMet);
}

#[test]
fn a_relative_eligc_does_not_know_rejects_the_record_naming_the_field() {
    let e = RawRecord::new(
        "t.jsonl",
        1,
        r#"{"id":"p","family_history":[{"code":"icd10:C50","relationship":"MTH"}]}"#,
    )
    .parse()
    .unwrap_err();
    assert!(
        e.to_string().contains("family_history[0].relationship"),
        "{e}"
    );
    let e = RawRecord::new(
        "t.jsonl",
        1,
        r#"{"id":"p","family_history":[{"code":"icd10:C50","onset_age":-3}]}"#,
    )
    .parse()
    .unwrap_err();
    assert!(e.to_string().contains("family_history[0].onset_age"), "{e}");
}

#[test]
fn a_relationship_word_is_checked_with_a_suggestion() {
    let text = std::fs::read_to_string(repo(PROTOCOL))
        .unwrap()
        .replace("relationship is mother", "relationship is mothr");
    let c = eligc::check::compile_text("t.elig", &text, None);
    let messages: Vec<String> = c
        .diagnostics
        .iter()
        .map(|d| format!("{} {}", d.message, d.help.clone().unwrap_or_default()))
        .collect();
    assert!(
        messages
            .iter()
            .any(|m| m.contains("`mothr` is not a value of `relationship`") && m.contains("mother")),
        "{messages:?}"
    );
}

const BUNDLE: &str = r#"{"resourceType":"Bundle","type":"collection","entry":[
  {"resource":{"resourceType":"Patient","id":"fh-p","birthDate":"1980-01-01"}},
  {"resource":{"resourceType":"FamilyMemberHistory","id":"fmh-1","status":"completed",
    "patient":{"reference":"Patient/fh-p"},"date":"2025-11-02",
    "relationship":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-RoleCode","code":"NMTH","display":"natural mother"}]},
    "condition":[
      {"code":{"coding":[{"system":"http://snomed.info/sct","code":"254837009","display":"Malignant neoplasm of breast"}]},
       "onsetAge":{"value":44,"unit":"yr","system":"http://unitsofmeasure.org","code":"a"}},
      {"code":{"coding":[{"system":"http://hl7.org/fhir/sid/icd-10-cm","code":"C18.7"}]}}
    ]}}
]}"#;

fn convert(text: &str) -> PatientRecord<'static> {
    let value: serde_json::Value = serde_json::from_str(text).unwrap();
    bundle_to_record(&value, &[])
        .unwrap_or_else(|e| panic!("{e:?}"))
        .0
}

#[test]
fn family_member_histories_become_one_fact_per_condition_with_the_relative_and_age() {
    let r = convert(BUNDLE);
    let fh = r.family_history.as_ref().unwrap();
    assert_eq!(fh.len(), 2);
    assert_eq!(fh[0].code.as_deref(), Some("snomed:254837009"));
    assert_eq!(fh[0].relationship.as_deref(), Some("mother"));
    assert_eq!(fh[0].onset_age, Some(44.into()));
    assert_eq!(fh[0].date, Some("2025-11-02".parse().unwrap()));
    assert_eq!(fh[0].status.as_deref(), Some("completed"));
    assert_eq!(fh[1].code.as_deref(), Some("icd10:C18.7"));
    assert_eq!(fh[1].relationship.as_deref(), Some("mother"));
    assert_eq!(fh[1].onset_age, None);
}

#[test]
fn fhir_family_history_screens_like_native() {
    let mut fhir = convert(BUNDLE);
    fhir.anchors
        .insert("screening".into(), "2026-03-31".parse().unwrap());
    let native = record(
        r#""family_history":[{"code":"snomed:254837009","relationship":"mother","onset_age":44,"date":"2025-11-02"},{"code":"icd10:C18.7","relationship":"mother","date":"2025-11-02"}]"#,
    );
    let got = outcomes(&fhir);
    assert_eq!(got, outcomes(&native));
    assert_eq!(
        got,
        vec![
            ("I1".to_string(), Outcome::Met),
            ("I2".to_string(), Outcome::Met),
            ("E1".to_string(), Outcome::Met),
            ("E2".to_string(), Outcome::NotMet),
        ]
    );
}

#[test]
fn a_bulk_export_reads_family_member_history_ndjson() {
    let dir = std::env::temp_dir().join(format!("eligc-family-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let write =
        |name: &str, lines: &[&str]| std::fs::write(dir.join(name), lines.join("\n")).unwrap();
    write(
        "Patient.ndjson",
        &[
            r#"{"resourceType":"Patient","id":"a"}"#,
            r#"{"resourceType":"Patient","id":"b"}"#,
        ],
    );
    write(
        "FamilyMemberHistory.ndjson",
        &[
            r#"{"resourceType":"FamilyMemberHistory","id":"f1","status":"completed","patient":{"reference":"Patient/a"},"relationship":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-RoleCode","code":"MAUNT"}]},"condition":[{"code":{"coding":[{"system":"http://hl7.org/fhir/sid/icd-10-cm","code":"C56"}]}}]}"#,
        ],
    );
    let recs: Vec<RawRecord> = facts::read_file_with(&dir, None)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let a = recs[0].parse().unwrap();
    let fh = &a.family_history.as_ref().unwrap()[0];
    assert_eq!(
        (fh.code.as_deref(), fh.relationship.as_deref()),
        (Some("icd10:C56"), Some("aunt"))
    );
    assert_eq!(recs[1].parse().unwrap().family_history, Some(vec![]));
    let _ = std::fs::remove_dir_all(&dir);
}

fn source(text: &str) -> eligc::source::Source {
    eligc::source::Source {
        id: eligc::source::FileId(0),
        name: "t.elig".to_string(),
        path: None,
        text: text.into(),
    }
}

#[test]
fn fmt_writes_family_history_of_and_keeps_the_tree() {
    let text = std::fs::read_to_string(repo(PROTOCOL)).unwrap();
    assert_eq!(
        eligc::fmt::format(&source(&text)).unwrap(),
        text,
        "the test protocol is canonical"
    );
    let loose = text.replace(
        "family history of colorectal_cancer",
        "family   history colorectal_cancer",
    );
    let formatted = eligc::fmt::format(&source(&loose)).unwrap();
    assert_eq!(formatted, text);
    let before = eligc::syntax::parse(&source(&loose));
    let after = eligc::syntax::parse(&source(&formatted));
    assert_eq!(before.module, after.module);
}

#[test]
fn the_document_names_the_relative_and_the_age() {
    let c = compile_file(&repo(PROTOCOL)).unwrap();
    let doc = eligc::doc::markdown(&eligc::doc::document(c.program.as_ref().unwrap()));
    assert!(
        doc.contains("a relative with any of “Breast or ovarian cancer” (breast cancer, ovarian cancer), with relationship first\\_degree and onset\\_age less than 50 (family history)"),
        "{doc}"
    );
}
