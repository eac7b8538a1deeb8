#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)] // tests fail by panicking
//! FHIR fidelity: the R4 elements that change what a resource means (status, intent,
//! doNotPerform, comparators, data-absent reasons, value kinds, partial dates, time zones,
//! modifier extensions, references), each screened through a small protocol, so that a
//! resource eligc must not count is not counted, one it cannot read makes the question
//! unknown, and none is dropped silently (docs/fhir.md).

use std::sync::{Arc, OnceLock};

use eligc::eval::Outcome::{self, Met, NotMet, Unknown};
use eligc::eval::Plan;
use eligc::facts::fhir::Stats;
use eligc::facts::{InputFormat, RawRecord, ReadOptions, RecordError};

const PROTOCOL: &str = r#"
protocol "Fidelity" version "1"
anchor screening
use std
observation egfr_fx "eGFR" unit mL/min/1.73m2 codes [loinc:33914-3]
condition sle_fx "SLE" codes [snomed:55464009]
drug ritux "Rituximab" codes [rxnorm:121191]
exclusion E1 "rituximab in 6 months": medication ritux within 6 months before screening
inclusion I1 "SLE before screening": condition sle_fx before screening
inclusion I2 "eGFR >= 30": latest egfr_fx within 28 days before screening >= 30 mL/min/1.73m2
exclusion E2 "SLE at screening": condition sle_fx at screening
exclusion E3 "SLE in the month before": condition sle_fx within 1 month before screening
exclusion E4 "live vaccine": immunization in live_vaccines within 4 weeks before screening
exclusion E5 "dialysis": procedure hemodialysis ever
"#;

fn plan() -> &'static Plan {
    static PLAN: OnceLock<Plan> = OnceLock::new();
    PLAN.get_or_init(|| {
        let c = eligc::check::compile_text("fidelity.elig", PROTOCOL, None);
        assert!(!c.has_errors(), "{:?}", c.diagnostics);
        Plan::new(c.program.unwrap(), c.sources)
    })
}

fn raw(text: &str) -> RawRecord {
    let mut options = ReadOptions {
        format: InputFormat::Fhir,
        ..ReadOptions::default()
    };
    options
        .anchors
        .insert("screening".into(), "2026-03-31".parse().unwrap());
    RawRecord {
        options: Some(Arc::new(options)),
        ..RawRecord::new("b.ndjson", 4, text)
    }
}

/// The outcome of criterion `id` for the Bundle `text`.
fn outcome(text: &str, id: &str) -> Outcome {
    let result = plan()
        .screen(&raw(text), |_| true)
        .unwrap_or_else(|e| panic!("{e}"));
    result
        .criteria
        .iter()
        .find(|c| &*c.id == id)
        .unwrap_or_else(|| panic!("no {id}"))
        .outcome
}

/// The outcome and its explanation line(s).
fn explained(text: &str, id: &str) -> (Outcome, String) {
    let result = plan()
        .screen(&raw(text), |_| true)
        .unwrap_or_else(|e| panic!("{e}"));
    let c = result.criteria.iter().find(|c| &*c.id == id).unwrap();
    let detail = c
        .checks
        .iter()
        .map(|k| k.detail.clone())
        .collect::<Vec<_>>()
        .join("; ");
    (c.outcome, detail)
}

fn rejected(text: &str) -> RecordError {
    Box::leak(Box::new(raw(text))).parse().unwrap_err()
}

fn stats(text: &str) -> Stats {
    let value: serde_json::Value = serde_json::from_str(text).unwrap();
    eligc::facts::fhir::bundle_to_record(&value, &[])
        .unwrap_or_else(|e| panic!("{e:?}"))
        .1
}

/// A Bundle with the Patient `p1` and the given resources (their `subject` is added).
fn bundle(resources: &[String]) -> String {
    let mut entries = vec![
        r#"{"fullUrl":"urn:uuid:p1","resource":{"resourceType":"Patient","id":"p1","birthDate":"1990-01-01"}}"#.to_string(),
    ];
    for r in resources {
        let field = if r.contains(r#""Immunization""#) {
            "patient"
        } else {
            "subject"
        };
        let r = r.replacen(
            '{',
            &format!(r#"{{"{field}":{{"reference":"Patient/p1"}},"#),
            1,
        );
        entries.push(format!(r#"{{"resource":{r}}}"#));
    }
    format!(
        r#"{{"resourceType":"Bundle","type":"collection","entry":[{}]}}"#,
        entries.join(",")
    )
}

/// A rituximab MedicationRequest with extra fields `more` (`"intent":"order"` unless given).
fn rituximab(more: &str) -> String {
    let intent = if more.contains("\"intent\"") {
        ""
    } else {
        r#""intent":"order","#
    };
    format!(
        r#"{{"resourceType":"MedicationRequest","id":"mr1","status":"active",{intent}"medicationCodeableConcept":{{"coding":[{{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"121191"}}]}},"authoredOn":"2026-02-01"{more}}}"#
    )
}

/// An eGFR Observation: `value` is the value[x] member(s), `more` anything else.
fn egfr(value: &str, more: &str) -> String {
    let status = if more.contains("\"status\"") {
        ""
    } else {
        r#""status":"final","#
    };
    format!(
        r#"{{"resourceType":"Observation","id":"o1",{status}"code":{{"coding":[{{"system":"http://loinc.org","code":"33914-3"}}]}},"effectiveDateTime":"2026-03-20"{value}{more}}}"#
    )
}

fn quantity(v: &str) -> String {
    format!(
        r#","valueQuantity":{{"value":{v},"system":"http://unitsofmeasure.org","code":"mL/min/{{1.73_m2}}"}}"#
    )
}

/// An SLE Condition with extra fields.
fn sle(more: &str) -> String {
    format!(
        r#"{{"resourceType":"Condition","id":"c1","code":{{"coding":[{{"system":"http://snomed.info/sct","code":"55464009"}}]}}{more}}}"#
    )
}

const ACTIVE: &str = r#","clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"active"}]}"#;

// ---------------------------------------------------------------------------------------
// Medications: status, intent, doNotPerform, medicationReference
// ---------------------------------------------------------------------------------------

#[test]
fn an_ordered_medication_counts_as_taken() {
    assert_eq!(outcome(&bundle(&[rituximab("")]), "E1"), Met);
}

#[test]
fn a_medication_request_marked_do_not_perform_is_not_a_medication_taken() {
    let text = bundle(&[rituximab(r#","doNotPerform":true"#)]);
    // The order says not to give it: the list is recorded, without rituximab.
    assert_eq!(outcome(&text, "E1"), NotMet);
    assert_eq!(
        stats(&text).ignored.get("MedicationRequest: doNotPerform"),
        Some(&1)
    );
}

#[test]
fn a_medication_proposal_plan_or_option_is_not_a_medication_taken() {
    for intent in ["proposal", "plan", "option"] {
        let text = bundle(&[rituximab(&format!(r#","intent":"{intent}""#))]);
        assert_eq!(outcome(&text, "E1"), NotMet, "{intent}");
        let why = format!("MedicationRequest: intent {intent}");
        assert_eq!(stats(&text).ignored.get(&why), Some(&1), "{intent}");
    }
}

// ---------------------------------------------------------------------------------------
// Observations: status, comparator, dataAbsentReason, value kinds, focus, dates
// ---------------------------------------------------------------------------------------

#[test]
fn a_final_preliminary_amended_or_corrected_result_is_read() {
    for status in ["final", "preliminary", "amended", "corrected"] {
        let text = bundle(&[egfr(&quantity("45"), &format!(r#","status":"{status}""#))]);
        assert_eq!(outcome(&text, "I2"), Met, "{status}");
    }
}

#[test]
fn an_entered_in_error_or_cancelled_result_is_not_read() {
    for status in ["entered-in-error", "cancelled"] {
        let text = bundle(&[egfr(&quantity("45"), &format!(r#","status":"{status}""#))]);
        assert_eq!(outcome(&text, "I2"), Unknown, "{status}");
        let why = format!("Observation: {status}");
        assert_eq!(stats(&text).ignored.get(&why), Some(&1), "{status}");
    }
}

#[test]
fn a_result_below_a_bound_is_not_read_as_the_bound() {
    // "< 35" may be 32 or 20: unknown against ">= 30", never read as 35.
    let bounded = |c: &str, v: &str| {
        format!(
            r#","valueQuantity":{{"value":{v},"comparator":"{c}","system":"http://unitsofmeasure.org","code":"mL/min/{{1.73_m2}}"}}"#
        )
    };
    let (o, why) = explained(&bundle(&[egfr(&bounded("<", "35"), "")]), "I2");
    assert_eq!(o, Unknown, "{why}");
    assert_eq!(
        outcome(&bundle(&[egfr(&bounded("<", "30"), "")]), "I2"),
        NotMet
    );
    assert_eq!(
        outcome(&bundle(&[egfr(&bounded(">=", "30"), "")]), "I2"),
        Met
    );
    assert_eq!(
        outcome(&bundle(&[egfr(&bounded(">", "20"), "")]), "I2"),
        Unknown
    );
}

#[test]
fn a_data_absent_reason_makes_the_result_unknown_not_a_value() {
    let text = bundle(&[egfr(
        r#","dataAbsentReason":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/data-absent-reason","code":"error"}]}"#,
        "",
    )]);
    assert_eq!(outcome(&text, "I2"), Unknown);
    assert_eq!(stats(&text).ignored.get("Observation: no value"), Some(&1));
}

#[test]
fn value_kinds_eligc_does_not_read_leave_a_numeric_test_unknown() {
    for value in [
        r#","valueString":"45""#,
        r#","valueString":"> 90""#,
        r#","valueCodeableConcept":{"text":"normal"}"#,
        r#","valueRange":{"low":{"value":40},"high":{"value":50}}"#,
        r#","valueRatio":{"numerator":{"value":45},"denominator":{"value":1}}"#,
        r#","valueBoolean":true"#,
    ] {
        let (o, why) = explained(&bundle(&[egfr(value, "")]), "I2");
        assert_eq!(o, Unknown, "{value}: {why}");
    }
}

#[test]
fn blood_pressure_components_are_read_each_with_its_own_code() {
    let text = bundle(&[r#"{"resourceType":"Observation","id":"bp","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"85354-9"}]},"effectiveDateTime":"2026-03-20","component":[{"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"valueQuantity":{"value":150,"system":"http://unitsofmeasure.org","code":"mm[Hg]"}},{"code":{"coding":[{"system":"http://loinc.org","code":"8462-4"}]},"dataAbsentReason":{"text":"not measured"}}]}"#.to_string()]);
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    let (r, stats) = eligc::facts::fhir::bundle_to_record(&value, &[]).unwrap();
    let obs = r.observations.unwrap();
    assert_eq!(obs.len(), 1, "only the systolic has a value");
    assert_eq!(obs[0].code.as_deref(), Some("loinc:8480-6"));
    assert_eq!(stats.ignored.get("Observation: no value"), Some(&1));
}

#[test]
fn an_observation_about_another_focus_is_not_the_patients_result() {
    // A fetus's or a donor's result, recorded in the patient's chart.
    let text = bundle(&[egfr(
        &quantity("45"),
        r#","focus":[{"reference":"Patient/donor-7"}]"#,
    )]);
    assert_eq!(outcome(&text, "I2"), Unknown);
    assert_eq!(
        stats(&text).ignored.get("Observation: about another focus"),
        Some(&1)
    );
    // A focus that is the patient: the patient's own.
    let text = bundle(&[egfr(
        &quantity("45"),
        r#","focus":[{"reference":"Patient/p1"}]"#,
    )]);
    assert_eq!(outcome(&text, "I2"), Met);
}

#[test]
fn the_date_of_a_result_is_its_own_offsets_date() {
    // 23:30 in New York on 2 March is 3 March in UTC: the result is of 2 March, 29 days
    // before screening, outside a 28-day window.
    let at = |when: &str| {
        bundle(&[egfr(&quantity("45"), "").replace(
            r#""effectiveDateTime":"2026-03-20""#,
            &format!(r#""effectiveDateTime":"{when}""#),
        )])
    };
    assert_eq!(outcome(&at("2026-03-02T23:30:00-05:00"), "I2"), Unknown);
    assert_eq!(outcome(&at("2026-03-03T04:30:00Z"), "I2"), Met);
    assert_eq!(outcome(&at("2026-03-03T00:30:00+14:00"), "I2"), Met);
}

#[test]
fn an_observation_with_only_an_effective_period_end_is_dated_by_it_not_by_issued() {
    let text = bundle(&[
        egfr(&quantity("45"), r#","issued":"2026-04-02T10:00:00Z""#).replace(
            r#""effectiveDateTime":"2026-03-20""#,
            r#""effectivePeriod":{"end":"2026-03-20T08:00:00Z"}"#,
        ),
    ]);
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    let (r, _) = eligc::facts::fhir::bundle_to_record(&value, &[]).unwrap();
    assert_eq!(
        r.observations.unwrap()[0].date,
        "2026-03-20".parse::<chrono::NaiveDate>().unwrap()
    );
}

#[test]
fn a_result_dated_only_by_month_is_counted_once() {
    let text = bundle(&[egfr(&quantity("45"), "").replace("2026-03-20", "2026-03")]);
    let s = stats(&text);
    assert_eq!(s.ignored.values().sum::<usize>(), 1, "{:?}", s.ignored);
    assert_eq!(s.ignored.get("Observation: date without a day"), Some(&1));
}

// ---------------------------------------------------------------------------------------
// Conditions: clinical and verification status, onset[x], abatement[x]
// ---------------------------------------------------------------------------------------

fn verified(code: &str) -> String {
    format!(
        r#","verificationStatus":{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/condition-ver-status","code":"{code}"}}]}}"#
    )
}

fn clinical(code: &str) -> String {
    format!(
        r#","clinicalStatus":{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"{code}"}}]}}"#
    )
}

#[test]
fn a_refuted_or_entered_in_error_diagnosis_is_not_a_condition() {
    for v in ["refuted", "entered-in-error"] {
        let text = bundle(&[sle(&format!(
            r#"{ACTIVE}{},"onsetDateTime":"2020-01-01""#,
            verified(v)
        ))]);
        assert_eq!(outcome(&text, "I1"), NotMet, "{v}");
        assert_eq!(outcome(&text, "E2"), NotMet, "{v}");
    }
}

#[test]
fn a_provisional_or_differential_diagnosis_counts_and_says_so() {
    for v in ["provisional", "differential", "unconfirmed"] {
        let text = bundle(&[sle(&format!(
            r#"{ACTIVE}{},"onsetDateTime":"2020-01-01""#,
            verified(v)
        ))]);
        let (o, why) = explained(&text, "I1");
        assert_eq!(o, Met, "{v}");
        assert!(why.contains(v), "{v}: {why}");
    }
}

#[test]
fn a_resolved_inactive_or_remitted_condition_is_not_active_at_screening() {
    for status in ["resolved", "inactive", "remission"] {
        let text = bundle(&[sle(&format!(
            r#"{},"onsetDateTime":"2020-01-01""#,
            clinical(status)
        ))]);
        assert_eq!(outcome(&text, "I1"), Met, "{status}: history");
        assert_ne!(outcome(&text, "E2"), Met, "{status}: at screening");
    }
    let text = bundle(&[sle(&format!(
        r#"{},"onsetDateTime":"2020-01-01","abatementDateTime":"2021-06-01""#,
        clinical("resolved")
    ))]);
    assert_eq!(outcome(&text, "E2"), NotMet);
}

#[test]
fn an_onset_given_as_an_age_a_range_or_text_leaves_a_window_unknown() {
    for onset in [
        r#","onsetAge":{"value":30,"system":"http://unitsofmeasure.org","code":"a"}"#,
        r#","onsetRange":{"low":{"value":30,"code":"a"},"high":{"value":40,"code":"a"}}"#,
        r#","onsetString":"last spring""#,
        r#","onsetDateTime":"2026""#,
        r#","onsetDateTime":"2026-03""#,
    ] {
        let text = bundle(&[sle(&format!("{ACTIVE}{onset}"))]);
        assert_eq!(outcome(&text, "E3"), Unknown, "{onset}");
    }
}

#[test]
fn an_abatement_without_a_date_does_not_make_a_condition_active_at_screening() {
    for abatement in [
        r#","abatementString":"in childhood""#,
        r#","abatementBoolean":true"#,
        r#","abatementAge":{"value":12,"system":"http://unitsofmeasure.org","code":"a"}"#,
    ] {
        // No clinicalStatus (allowed for an encounter diagnosis): the abatement says it
        // ended, on a day eligc cannot tell.
        let text = bundle(&[sle(&format!(r#","onsetDateTime":"2000-01-01"{abatement}"#))]);
        assert_ne!(outcome(&text, "E2"), Met, "{abatement}");
    }
}

// ---------------------------------------------------------------------------------------
// Immunizations and procedures not done
// ---------------------------------------------------------------------------------------

#[test]
fn an_immunization_or_procedure_not_done_is_not_counted() {
    let vaccine = |status: &str| {
        format!(
            r#"{{"resourceType":"Immunization","id":"i1","status":"{status}","vaccineCode":{{"coding":[{{"system":"http://hl7.org/fhir/sid/cvx","code":"03"}}]}},"occurrenceDateTime":"2026-03-20"}}"#
        )
    };
    assert_eq!(outcome(&bundle(&[vaccine("completed")]), "E4"), Met);
    for status in ["not-done", "entered-in-error"] {
        assert_eq!(
            outcome(&bundle(&[vaccine(status)]), "E4"),
            NotMet,
            "{status}"
        );
    }
    let procedure = |status: &str| {
        format!(
            r#"{{"resourceType":"Procedure","id":"pr1","status":"{status}","code":{{"coding":[{{"system":"http://snomed.info/sct","code":"302497006"}}]}},"performedDateTime":"2025-01-01"}}"#
        )
    };
    assert_eq!(outcome(&bundle(&[procedure("completed")]), "E5"), Met);
    for status in ["not-done", "entered-in-error", "preparation"] {
        assert_eq!(
            outcome(&bundle(&[procedure(status)]), "E5"),
            NotMet,
            "{status}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Modifier extensions and implicitRules: refused, never read past
// ---------------------------------------------------------------------------------------

const MODIFIER: &str =
    r#""modifierExtension":[{"url":"http://example.org/fhir/not-taken","valueBoolean":true}]"#;

#[test]
fn a_modifier_extension_on_a_resource_rejects_the_record_naming_it() {
    let text = bundle(&[rituximab(&format!(",{MODIFIER}"))]);
    let e = rejected(&text);
    assert_eq!(e.path, "entry[1].resource.modifierExtension[0]", "{e}");
    assert_eq!(e.patient.as_deref(), Some("p1"));
    assert!(
        e.reason.contains("http://example.org/fhir/not-taken"),
        "{e}"
    );
    assert!(e.reason.contains("MedicationRequest"), "{e}");
}

#[test]
fn a_modifier_extension_inside_a_component_or_on_the_patient_rejects_the_record() {
    let text = bundle(&[r#"{"resourceType":"Observation","id":"bp","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"85354-9"}]},"effectiveDateTime":"2026-03-20","component":[{"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"valueQuantity":{"value":150},"modifierExtension":[{"url":"http://example.org/fhir/estimated"}]}]}"#.to_string()]);
    assert_eq!(
        rejected(&text).path,
        "entry[1].resource.component[0].modifierExtension[0]"
    );
    let text = bundle(&[]).replace(r#""id":"p1","#, &format!(r#""id":"p1",{MODIFIER},"#));
    assert_eq!(
        rejected(&text).path,
        "entry[0].resource.modifierExtension[0]"
    );
}

#[test]
fn implicit_rules_reject_the_record() {
    let text = bundle(&[egfr(
        &quantity("45"),
        r#","implicitRules":"http://example.org/fhir/local-rules""#,
    )]);
    let e = rejected(&text);
    assert_eq!(e.path, "entry[1].resource.implicitRules", "{e}");
}

#[test]
fn an_ordinary_extension_or_a_modifier_on_an_unused_resource_type_is_no_obstacle() {
    let text = bundle(&[
        rituximab(r#","extension":[{"url":"http://example.org/fhir/note","valueString":"x"}]"#),
        format!(r#"{{"resourceType":"Claim","id":"cl",{MODIFIER}}}"#),
    ]);
    assert_eq!(outcome(&text, "E1"), Met);
}

// ---------------------------------------------------------------------------------------
// A fact eligc cannot identify: kept, unplaced, so that questions it might answer are unknown
// ---------------------------------------------------------------------------------------

#[test]
fn a_medication_reference_to_a_medication_not_in_the_bundle_makes_drug_questions_unknown() {
    let text = bundle(&[rituximab("").replace(
        r#""medicationCodeableConcept":{"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"121191"}]}"#,
        r#""medicationReference":{"reference":"Medication/m-absent","display":"Rituxan"}"#,
    )]);
    let (o, why) = explained(&text, "E1");
    assert_eq!(o, Unknown, "{why}");
    assert!(why.contains("Medication/m-absent"), "{why}");
}

#[test]
fn a_condition_or_drug_known_only_by_its_text_makes_questions_about_it_unknown() {
    let text = bundle(&[format!(
        r#"{{"resourceType":"Condition","id":"c9","code":{{"text":"Systemic lupus erythematosus"}}{ACTIVE},"onsetDateTime":"2020-01-01"}}"#
    )]);
    let (o, why) = explained(&text, "I1");
    assert_eq!(o, Unknown, "{why}");
    assert!(why.contains("Systemic lupus erythematosus"), "{why}");
    assert!(
        why.contains(r#"https://eligc.invalid/uncoded|c9 "Systemic lupus erythematosus" from 2020-01-01, ongoing [c9], not placed: the record gives no code for it"#),
        "{why}"
    );
    let text = bundle(&[rituximab("").replace(
        r#""medicationCodeableConcept":{"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"121191"}]}"#,
        r#""medicationCodeableConcept":{"text":"rituximab 500 mg infusion"}"#,
    )]);
    assert_eq!(outcome(&text, "E1"), Unknown);
}

// ---------------------------------------------------------------------------------------
// Bundle entries: the same resource twice
// ---------------------------------------------------------------------------------------

#[test]
fn two_different_resources_with_one_type_and_id_reject_the_bundle_naming_both() {
    // Which Medication is `Medication/m1`? Taking either would be a guess.
    let medication = |code: &str| {
        format!(
            r#"{{"resourceType":"Medication","id":"m1","code":{{"coding":[{{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"{code}"}}]}}}}"#
        )
    };
    let request = rituximab("").replace(
        r#""medicationCodeableConcept":{"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"121191"}]}"#,
        r#""medicationReference":{"reference":"Medication/m1"}"#,
    );
    let text = bundle(&[medication("121191"), medication("6851"), request.clone()]).replace(
        r#"{"subject":{"reference":"Patient/p1"},"resourceType":"Medication""#,
        r#"{"resourceType":"Medication""#,
    );
    let e = rejected(&text);
    assert_eq!(e.path, "entry[2].resource.id", "{e}");
    assert!(e.reason.contains("entry[1]"), "{e}");
    // The same resource given twice (a search with _include) is one resource.
    let text = bundle(&[sle(ACTIVE), sle(ACTIVE)]);
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    let (r, s) = eligc::facts::fhir::bundle_to_record(&value, &[]).unwrap();
    assert_eq!(r.conditions.unwrap().len(), 1);
    assert_eq!(
        s.ignored.get("Condition: the same resource again"),
        Some(&1)
    );
    let text = bundle(&[medication("121191"), medication("121191"), request]).replace(
        r#"{"subject":{"reference":"Patient/p1"},"resourceType":"Medication""#,
        r#"{"resourceType":"Medication""#,
    );
    assert_eq!(outcome(&text, "E1"), Met);
}

#[test]
fn medication_statements_and_administrations_not_taken_or_not_done_are_not_counted() {
    let statement = |status: &str| {
        format!(
            r#"{{"resourceType":"MedicationStatement","id":"ms1","status":"{status}","medicationCodeableConcept":{{"coding":[{{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"121191"}}]}},"effectiveDateTime":"2026-02-01"}}"#
        )
    };
    assert_eq!(outcome(&bundle(&[statement("completed")]), "E1"), Met);
    for status in ["not-taken", "intended", "entered-in-error", "stopped"] {
        let expected = if status == "stopped" { Met } else { NotMet };
        assert_eq!(
            outcome(&bundle(&[statement(status)]), "E1"),
            expected,
            "{status}"
        );
    }
    let administration =
        statement("not-done").replace("MedicationStatement", "MedicationAdministration");
    assert_eq!(outcome(&bundle(&[administration]), "E1"), NotMet);
    for status in ["cancelled", "draft", "entered-in-error"] {
        let text = bundle(&[rituximab("").replace("\"active\"", &format!("\"{status}\""))]);
        assert_eq!(outcome(&text, "E1"), NotMet, "{status}");
    }
}
