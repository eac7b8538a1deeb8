#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)] // tests fail by panicking
//! Study participation (`study` events, native `studies`, FHIR ResearchSubject) and
//! `except`: records placed under an excluded concept do not count, unplaced ones stay
//! unknown.

use std::path::{Path, PathBuf};

use eligc::check::compile_text;
use eligc::eval::{Outcome, Plan};
use eligc::facts::fhir::bundle_to_record;
use eligc::facts::{self, PatientRecord, RawRecord};

const VOCABULARY: &str = r#"
protocol "Participation" version "1"
anchor screening
study this_trial "This trial" codes [nct:NCT03868241]
study rehab "Lung rehabilitation programme" codes [local:rehab-copd]
condition malignancy "Malignant neoplasm" codes [icd10:C00, icd10:C44, icd10:C50, snomed:363346000]
condition nmsc "Non-melanoma skin cancer" codes [icd10:C44]
condition cis "Carcinoma in situ" codes [icd10:D05]
set excluded_cancers = conditions { nmsc, cis }
"#;

fn plan(criteria: &str) -> Plan {
    let text = format!("{VOCABULARY}\n{criteria}\n");
    let c = compile_text("t.elig", &text, None);
    let errors: Vec<_> = c.diagnostics.iter().filter(|d| d.is_error()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    Plan::new(c.program.unwrap(), c.sources)
}

fn patient(json: &str) -> PatientRecord<'static> {
    leak(RawRecord::new("t.jsonl", 1, json)).parse().unwrap()
}

/// A record borrows its strings from the text it was read from: kept for the whole test.
fn leak(raw: RawRecord) -> &'static RawRecord {
    Box::leak(Box::new(raw))
}

fn record(facts: &str) -> PatientRecord<'static> {
    let sep = if facts.is_empty() { "" } else { "," };
    patient(&format!(
        r#"{{"id":"p","birth_date":"1970-01-01","anchors":{{"screening":"2026-03-31"}}{sep}{facts}}}"#
    ))
}

/// The outcome of inclusion T1 `rule` for a patient screened on 2026-03-31 with `facts`.
fn outcome(rule: &str, facts: &str) -> Outcome {
    let plan = plan(&format!("inclusion T1 \"test\": {rule}"));
    plan.evaluate(&record(facts), false).criteria[0].outcome
}

fn detail(rule: &str, facts: &str) -> String {
    let plan = plan(&format!("inclusion T1 \"test\": {rule}"));
    let r = plan.evaluate(&record(facts), true);
    r.criteria[0]
        .checks
        .iter()
        .map(|c| c.detail.clone())
        .collect::<Vec<_>>()
        .join(" | ")
}

const OTHER_STUDY: &str =
    "any study except this_trial within 30 days before screening where design is interventional";

// ---------------------------------------------------------------------------------------
// study events
// ---------------------------------------------------------------------------------------

#[test]
fn an_enrolment_in_this_study_counts_as_previous_participation() {
    let facts = r#""studies":[{"code":"nct:NCT03868241","start":"2024-01-10","end":"2024-06-30","status":"off_study"}]"#;
    assert_eq!(
        outcome("study this_trial before screening", facts),
        Outcome::Met
    );
}

#[test]
fn candidates_screening_and_withdrawals_before_enrolment_are_not_participation() {
    for status in [
        "candidate",
        "screening",
        "ineligible",
        "withdrawn",
        "eligible",
    ] {
        let facts = format!(
            r#""studies":[{{"code":"nct:NCT03868241","start":"2026-03-01","status":"{status}"}}]"#
        );
        assert_eq!(
            outcome("study this_trial before screening", &facts),
            Outcome::NotMet,
            "{status}"
        );
    }
}

#[test]
fn a_participation_without_a_status_may_not_be_an_enrolment_so_it_is_unknown() {
    let facts = r#""studies":[{"code":"nct:NCT03868241","start":"2024-01-10"}]"#;
    assert_eq!(
        outcome("study this_trial before screening", facts),
        Outcome::Unknown
    );
}

#[test]
fn studies_are_unknown_without_a_list_and_false_when_it_is_empty() {
    assert_eq!(
        outcome("study this_trial before screening", ""),
        Outcome::Unknown
    );
    assert_eq!(
        outcome("study this_trial before screening", r#""studies":[]"#),
        Outcome::NotMet
    );
}

#[test]
fn another_interventional_study_within_30_days_is_any_study_except_this_one() {
    // Ended 20 days before screening: within the window.
    let other = r#""studies":[{"code":"nct:NCT01111111","start":"2025-06-01","end":"2026-03-11","status":"off_study","design":"interventional"}]"#;
    assert_eq!(outcome(OTHER_STUDY, other), Outcome::Met);
    // Ended 60 days before: outside.
    let old = r#""studies":[{"code":"nct:NCT01111111","start":"2025-06-01","end":"2026-01-30","status":"off_study","design":"interventional"}]"#;
    assert_eq!(outcome(OTHER_STUDY, old), Outcome::NotMet);
    // Only this trial: excluded.
    let this = r#""studies":[{"code":"nct:NCT03868241","start":"2026-03-20","status":"on_study","design":"interventional"}]"#;
    assert_eq!(outcome(OTHER_STUDY, this), Outcome::NotMet);
    // An observational study does not count; one whose design is not recorded may.
    let observational = r#""studies":[{"code":"nct:NCT02222222","start":"2026-03-01","status":"on_study","design":"observational"}]"#;
    assert_eq!(outcome(OTHER_STUDY, observational), Outcome::NotMet);
    let undesigned =
        r#""studies":[{"code":"nct:NCT02222222","start":"2026-03-01","status":"on_study"}]"#;
    assert_eq!(outcome(OTHER_STUDY, undesigned), Outcome::Unknown);
}

#[test]
fn a_participation_without_an_end_goes_on_unless_the_patient_is_off_the_study() {
    let on =
        r#""studies":[{"concept":"rehab","start":"2026-01-05","status":"on_study_intervention"}]"#;
    assert_eq!(outcome("study rehab at screening", on), Outcome::Met);
    // `on_study` also matches its intervention and observation kinds.
    assert_eq!(
        outcome("study rehab at screening where status is on_study", on),
        Outcome::Met
    );
    assert_eq!(
        outcome("study rehab at screening where status is follow_up", on),
        Outcome::NotMet
    );
    // Off the study since a day not recorded: on it at screening or not is unknown.
    let off = r#""studies":[{"concept":"rehab","start":"2026-01-05","status":"off_study"}]"#;
    assert_eq!(outcome("study rehab at screening", off), Outcome::Unknown);
}

#[test]
fn a_study_the_protocol_does_not_list_is_another_study_not_an_unknown_one() {
    let facts =
        r#""studies":[{"code":"nct:NCT09999999","start":"2025-01-01","status":"on_study"}]"#;
    assert_eq!(
        outcome("study this_trial before screening", facts),
        Outcome::NotMet
    );
}

#[test]
fn explanations_name_the_study_and_its_dates() {
    let facts = r#""studies":[{"id":"rs-1","code":"nct:NCT01111111","display":"A trial of X","start":"2025-06-01","end":"2026-03-11","status":"off_study","design":"interventional"}]"#;
    let text = detail(OTHER_STUDY, facts);
    assert!(
        text.contains("A trial of X") && text.contains("2025-06-01 to 2026-03-11 [rs-1]"),
        "{text}"
    );
}

#[test]
fn a_study_record_with_a_word_eligc_does_not_know_is_rejected_naming_the_field() {
    let e = RawRecord::new(
        "t.jsonl",
        1,
        r#"{"id":"p","studies":[{"code":"nct:NCT1","status":"on-study"}]}"#,
    )
    .parse()
    .unwrap_err();
    assert!(e.to_string().contains("studies[0].status"), "{e}");
    let e = RawRecord::new(
        "t.jsonl",
        1,
        r#"{"id":"p","studies":[{"code":"nct:NCT1","status":"on_study","phase":"phase-2"}]}"#,
    )
    .parse()
    .unwrap_err();
    assert!(e.to_string().contains("studies[0].phase"), "{e}");
}

#[test]
fn study_attributes_are_checked_with_their_words() {
    let text = format!(
        "{VOCABULARY}\ninclusion T1 \"x\": study this_trial before screening where design is interventionnal\ninclusion T2 \"y\": study this_trial before screening where route is oral\n"
    );
    let c = compile_text("t.elig", &text, None);
    let messages: Vec<String> = c.diagnostics.iter().map(|d| d.message.clone()).collect();
    assert!(
        messages
            .iter()
            .any(|m| m.contains("`interventionnal` is not a value of `design`")),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("study records have no attribute `route`")),
        "{messages:?}"
    );
}

// ---------------------------------------------------------------------------------------
// except
// ---------------------------------------------------------------------------------------

const CANCER: &str = "condition malignancy except {nmsc, cis} before screening";

#[test]
fn a_record_placed_under_an_excluded_concept_does_not_count() {
    let bcc = r#""conditions":[{"code":"icd10:C44.91","onset":"2020-01-01"}]"#;
    assert_eq!(outcome(CANCER, bcc), Outcome::NotMet);
    let breast = r#""conditions":[{"code":"icd10:C50.911","onset":"2020-01-01"}]"#;
    assert_eq!(outcome(CANCER, breast), Outcome::Met);
    // Both: the breast cancer still counts.
    let both = r#""conditions":[{"code":"icd10:C44.91","onset":"2020-01-01"},{"code":"icd10:C50.911","onset":"2021-01-01"}]"#;
    assert_eq!(outcome(CANCER, both), Outcome::Met);
}

#[test]
fn except_takes_a_set_as_well_as_concepts() {
    let bcc = r#""conditions":[{"code":"icd10:C44.91","onset":"2020-01-01"}]"#;
    assert_eq!(
        outcome(
            "condition malignancy except excluded_cancers before screening",
            bcc
        ),
        Outcome::NotMet
    );
}

#[test]
fn a_code_eligc_cannot_place_stays_unknown_with_except() {
    // A SNOMED CT code no concept lists, without a vocabulary: perhaps a malignancy,
    // perhaps an excluded one.
    let unplaced = r#""conditions":[{"code":"snomed:254701007","onset":"2020-01-01"}]"#;
    assert_eq!(outcome(CANCER, unplaced), Outcome::Unknown);
    assert_eq!(
        outcome("any condition except nmsc before screening", unplaced),
        Outcome::Unknown
    );
}

#[test]
fn any_kind_except_leaves_out_the_excluded_records_only() {
    let bcc = r#""conditions":[{"code":"icd10:C44.91","onset":"2020-01-01"}]"#;
    assert_eq!(
        outcome("any condition except nmsc before screening", bcc),
        Outcome::NotMet
    );
    let other = r#""conditions":[{"code":"icd10:C44.91","onset":"2020-01-01"},{"code":"icd10:C50.1","onset":"2020-01-01"}]"#;
    assert_eq!(
        outcome("any condition except nmsc before screening", other),
        Outcome::Met
    );
}

#[test]
fn first_and_count_see_the_records_except_leaves() {
    let facts = r#""conditions":[{"code":"icd10:C44.91","onset":"2026-01-01"},{"code":"icd10:C50.1","onset":"2010-01-01"}]"#;
    // The most recent malignancy other than skin cancer began in 2010.
    assert_eq!(
        outcome(
            "last condition malignancy except nmsc within 12 months before screening",
            facts
        ),
        Outcome::NotMet
    );
    assert_eq!(
        outcome(
            "count condition malignancy except nmsc before screening >= 2",
            facts
        ),
        Outcome::NotMet
    );
}

// ---------------------------------------------------------------------------------------
// FHIR ResearchSubject
// ---------------------------------------------------------------------------------------

const BUNDLE: &str = r#"{"resourceType":"Bundle","type":"collection","entry":[
  {"resource":{"resourceType":"Patient","id":"rs-p","birthDate":"1970-01-01"}},
  {"resource":{"resourceType":"ResearchStudy","id":"st-1","title":"A phase 2 trial of X",
    "identifier":[{"system":"https://clinicaltrials.gov","value":"NCT01111111"}],
    "category":[{"coding":[{"code":"interventional","display":"Interventional"}]}],
    "phase":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/research-study-phase","code":"phase-2"}]}}},
  {"resource":{"resourceType":"ResearchSubject","id":"rs-1","status":"off-study",
    "period":{"start":"2025-06-01","end":"2026-03-11"},
    "study":{"reference":"ResearchStudy/st-1"},"individual":{"reference":"Patient/rs-p"}}},
  {"resource":{"resourceType":"ResearchSubject","id":"rs-2","status":"screening",
    "period":{"start":"2026-03-20"},
    "study":{"identifier":{"system":"http://clinicaltrials.gov","value":"NCT03868241"}},
    "individual":{"reference":"Patient/rs-p"}}}
]}"#;

fn convert(text: &str) -> PatientRecord<'static> {
    let value: serde_json::Value = serde_json::from_str(text).unwrap();
    bundle_to_record(&value, &[])
        .unwrap_or_else(|e| panic!("{e:?}"))
        .0
}

#[test]
fn research_subjects_are_read_with_their_study_identifier_design_phase_and_period() {
    let r = convert(BUNDLE);
    let studies = r.studies.as_ref().unwrap();
    assert_eq!(studies.len(), 2);
    let s = &studies[0];
    assert_eq!(s.id.as_deref(), Some("rs-1"));
    assert_eq!(s.code.as_deref(), Some("nct:NCT01111111"));
    assert_eq!(s.display.as_deref(), Some("A phase 2 trial of X"));
    assert_eq!(s.status.as_deref(), Some("off_study"));
    assert_eq!(s.design.as_deref(), Some("interventional"));
    assert_eq!(s.phase.as_deref(), Some("phase_2"));
    assert_eq!(
        (s.start, s.end),
        (
            Some("2025-06-01".parse().unwrap()),
            Some("2026-03-11".parse().unwrap())
        )
    );
    // A logical reference: the identifier is the study's.
    assert_eq!(studies[1].code.as_deref(), Some("nct:NCT03868241"));
    assert_eq!(studies[1].status.as_deref(), Some("screening"));
}

#[test]
fn fhir_participation_screens_like_native() {
    let mut r = convert(BUNDLE);
    r.anchors
        .insert("screening".into(), "2026-03-31".parse().unwrap());
    let plan = plan(&format!(
        "exclusion E1 \"Another study\": {OTHER_STUDY}\nexclusion E2 \"Previously in this study\": study this_trial before screening"
    ));
    let result = plan.evaluate(&r, false);
    // rs-1 ended 20 days before screening; rs-2 is this trial's screening, not enrolment.
    assert_eq!(result.criteria[0].outcome, Outcome::Met);
    assert_eq!(result.criteria[1].outcome, Outcome::NotMet);
}

#[test]
fn an_r5_research_subject_takes_its_latest_progress_state_and_its_subject() {
    let bundle = r#"{"resourceType":"Bundle","type":"collection","entry":[
      {"resource":{"resourceType":"Patient","id":"p5"}},
      {"resource":{"resourceType":"ResearchSubject","id":"r5","status":"active",
        "progress":[
          {"type":{"coding":[{"code":"State"}]},"subjectState":{"coding":[{"code":"on-study"}]},"startDate":"2024-01-01"},
          {"type":{"coding":[{"code":"State"}]},"subjectState":{"coding":[{"code":"off-study"}]},"startDate":"2024-09-01"}],
        "period":{"start":"2024-01-01"},
        "study":{"identifier":{"system":"http://clinicaltrials.gov","value":"NCT03868241"}},
        "subject":{"reference":"Patient/p5"}}}
    ]}"#;
    let r = convert(bundle);
    let s = &r.studies.as_ref().unwrap()[0];
    assert_eq!(s.status.as_deref(), Some("off_study"));
}

#[test]
fn a_study_eligc_cannot_identify_makes_a_question_about_a_named_study_unknown() {
    let bundle = r#"{"resourceType":"Bundle","type":"collection","entry":[
      {"resource":{"resourceType":"Patient","id":"p6"}},
      {"resource":{"resourceType":"ResearchSubject","id":"r6","status":"on-study",
        "period":{"start":"2025-01-01"},
        "study":{"reference":"ResearchStudy/not-here"},"individual":{"reference":"Patient/p6"}}}
    ]}"#;
    let mut r = convert(bundle);
    r.anchors
        .insert("screening".into(), "2026-03-31".parse().unwrap());
    let plan = plan(
        "exclusion E1 \"x\": study this_trial before screening\nexclusion E2 \"y\": any study before screening",
    );
    let result = plan.evaluate(&r, false);
    assert_eq!(result.criteria[0].outcome, Outcome::Unknown);
    // Whatever study it is, it is a study.
    assert_eq!(result.criteria[1].outcome, Outcome::Met);
}

fn temp_dir(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("eligc-participation-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_bulk_export_reads_research_subjects_with_their_studies() {
    let dir = temp_dir("bulk");
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
        "ResearchStudy.ndjson",
        &[
            r#"{"resourceType":"ResearchStudy","id":"st-1","identifier":[{"system":"http://clinicaltrials.gov","value":"NCT01111111"}],"category":[{"text":"Interventional"}]}"#,
        ],
    );
    write(
        "ResearchSubject.ndjson",
        &[
            r#"{"resourceType":"ResearchSubject","id":"x1","status":"on-study","period":{"start":"2025-01-01"},"study":{"reference":"ResearchStudy/st-1"},"individual":{"reference":"Patient/a"}}"#,
        ],
    );
    let recs: Vec<RawRecord> = facts::read_file_with(&dir, None)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let a = recs[0].parse().unwrap();
    let s = &a.studies.as_ref().unwrap()[0];
    assert_eq!(s.code.as_deref(), Some("nct:NCT01111111"));
    assert_eq!(s.design.as_deref(), Some("interventional"));
    // The export has the file: b's participation is recorded, and none.
    let b = recs[1].parse().unwrap();
    assert_eq!(b.studies, Some(vec![]));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_omop_export_has_no_study_participation_so_it_stays_unknown() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/omop/bad");
    let first = facts::read_file_with(&dir, None)
        .unwrap()
        .find_map(|r| r.ok().and_then(|r| leak(r).parse().ok()))
        .expect("a person of the OMOP fixture");
    assert_eq!(first.studies, None);
    let mut first = first;
    first
        .anchors
        .insert("screening".into(), "2026-03-31".parse().unwrap());
    let plan = plan("exclusion E1 \"x\": any study before screening");
    assert_eq!(
        plan.evaluate(&first, false).criteria[0].outcome,
        Outcome::Unknown
    );
}

// ---------------------------------------------------------------------------------------
// fmt, doc
// ---------------------------------------------------------------------------------------

fn source(text: &str) -> eligc::source::Source {
    eligc::source::Source {
        id: eligc::source::FileId(0),
        name: "t.elig".to_string(),
        path: None,
        text: text.into(),
    }
}

#[test]
fn fmt_writes_study_events_and_except_canonically_and_keeps_their_meaning() {
    let text = format!(
        "{VOCABULARY}\nexclusion E1 \"x\":\n  any   study except   {{this_trial}} within 30 days before screening where design is interventional\nexclusion E2 \"y\":\n  condition in malignancy except {{nmsc,cis}} before screening\n"
    );
    let formatted = eligc::fmt::format(&source(&text)).unwrap();
    assert!(
        formatted.contains(
            "  any study except this_trial within 30 days before screening where design is interventional\n"
        ),
        "{formatted}"
    );
    assert!(
        formatted.contains("  condition in malignancy except {nmsc, cis} before screening\n"),
        "{formatted}"
    );
    assert_eq!(
        eligc::fmt::format(&source(&formatted)).unwrap(),
        formatted,
        "formatting twice changes nothing"
    );
    // Spans compare equal: this compares the trees.
    let before = eligc::syntax::parse(&source(&text));
    let after = eligc::syntax::parse(&source(&formatted));
    assert!(before.errors.is_empty() && after.errors.is_empty());
    assert_eq!(before.module, after.module);
}

#[test]
fn the_document_says_what_except_leaves_out_and_what_a_study_event_is() {
    let text =
        format!("{VOCABULARY}\nexclusion E1 \"x\": {OTHER_STUDY}\nexclusion E2 \"y\": {CANCER}\n");
    let c = compile_text("t.elig", &text, None);
    let doc = eligc::doc::markdown(&eligc::doc::document(c.program.as_ref().unwrap()));
    assert!(
        doc.contains("enrolment in a research study: anything other than this trial, with design interventional, in the 30 days before the screening date"),
        "{doc}"
    );
    assert!(
        doc.contains("a recorded diagnosis of malignant neoplasm other than nmsc or cis"),
        "{doc}"
    );
}

#[test]
fn an_explanation_names_the_records_except_left_out() {
    let facts = r#""conditions":[{"id":"bcc-1","code":"icd10:C44.91","onset":"2020-01-01"}]"#;
    let text = detail(CANCER, facts);
    assert!(
        text.contains(
            "no condition in `malignancy` in the record; left out by `except nmsc, cis`: Malignant neoplasm from 2020-01-01, ongoing [bcc-1]"
        ),
        "{text}"
    );
}
