#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)] // tests fail by panicking
//! Constructs real trials need (issue 10): units as trials write them, observation sets,
//! arithmetic between results and trends against the patient's own earlier value. Each test
//! compiles a one-criterion protocol and evaluates it against a hand-written patient.

use eligc::check::compile_text;
use eligc::eval::{Outcome, Plan};
use eligc::facts::RawRecord;

const VOCABULARY: &str = r#"
protocol "Reach" version "1"
anchor screening
observation temperature "Body temperature" unit Cel codes [loinc:8310-5]
observation anc "Neutrophils" unit 10*9/L codes [loinc:751-8]
observation lymphocytes "Lymphocytes" unit 10*9/L codes [loinc:731-0]
observation wbc "Leukocytes" unit 10*3/uL codes [loinc:6690-2]
observation inr "INR" unit 1 codes [loinc:6301-6]
observation stools "Stools per day" unit 1/d codes [local:stools]
observation symptom_days "Duration of symptoms" unit d codes [local:symptom-days]
observation hb "Haemoglobin" unit g/dL codes [loinc:718-7]
observation crp "CRP" unit mg/L codes [loinc:1988-5]
observation sbp_left "Systolic BP, left arm" unit mm[Hg] codes [local:sbp-left]
observation sbp_right "Systolic BP, right arm" unit mm[Hg] codes [local:sbp-right]
observation serum_hcg "Serum hCG" unit [IU]/L codes [loinc:21198-7]
observation urine_hcg "Urine hCG" qualitative codes [loinc:2106-3]
observation serum_hcg_qual "Serum hCG, qualitative" qualitative codes [loinc:2118-8]
set pregnancy_tests = observations { urine_hcg, serum_hcg_qual }
"#;

fn compile(criteria: &str) -> eligc::check::Compilation {
    let text = format!("{VOCABULARY}\n{criteria}\n");
    compile_text("t.elig", &text, None)
}

fn plan(criteria: &str) -> Plan {
    let c = compile(criteria);
    let errors: Vec<_> = c.diagnostics.iter().filter(|d| d.is_error()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    Plan::new(c.program.unwrap(), c.sources)
}

/// The error codes `rule` is refused with.
fn errors(rule: &str) -> Vec<String> {
    compile(&format!("inclusion T1 \"test\": {rule}"))
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.code.name().to_string())
        .collect()
}

/// The outcome of inclusion T1 `rule` for a patient screened on 2026-03-31 with these
/// observations (a JSON array's members).
fn outcome(rule: &str, observations: &str) -> Outcome {
    let plan = plan(&format!("inclusion T1 \"test\": {rule}"));
    let json = format!(
        r#"{{"id":"p","birth_date":"2000-01-01","sex":"female","anchors":{{"screening":"2026-03-31"}},"observations":[{observations}]}}"#
    );
    let record = RawRecord::new("t.jsonl", 1, &json).parse().unwrap();
    plan.evaluate(&record, true).criteria[0].outcome
}

fn obs(concept: &str, date: &str, value: &str, unit: &str) -> String {
    format!(r#"{{"concept":"{concept}","date":"{date}","value":{value},"unit":"{unit}"}}"#)
}

#[test]
fn celsius_and_numbers_first_ucum_units_are_thresholds_as_in_data() {
    let t = "latest temperature within 2 days before screening >= 38 Cel";
    let fever = obs("temperature", "2026-03-30", "100.4", "[degF]");
    assert_eq!(outcome(t, &fever), Outcome::Met);
    let t = "latest anc within 7 days before screening >= 1.5 10*9/L";
    assert_eq!(
        outcome(t, &obs("anc", "2026-03-30", "1500", "/uL")),
        Outcome::Met
    );
    assert_eq!(
        outcome(t, &obs("anc", "2026-03-30", "1.4", "10*3/uL")),
        Outcome::NotMet
    );
    let t = "latest wbc within 7 days before screening < 3 10*3/uL";
    assert_eq!(
        outcome(t, &obs("wbc", "2026-03-30", "2.9", "10*9/L")),
        Outcome::Met
    );
}

#[test]
fn unit_one_declares_a_pure_number_and_may_follow_a_threshold() {
    let r = obs("inr", "2026-03-30", "1.6", "1");
    assert_eq!(
        outcome("latest inr within 7 days before screening > 1.5", &r),
        Outcome::Met
    );
    assert_eq!(
        outcome("latest inr within 7 days before screening > 1.5 1", &r),
        Outcome::Met
    );
    let per_day = obs("stools", "2026-03-30", "3", "/d");
    assert_eq!(
        outcome(
            "latest stools within 2 days before screening >= 3 1/d",
            &per_day
        ),
        Outcome::Met
    );
}

#[test]
fn a_duration_is_a_threshold_for_a_result_measured_in_time() {
    let r = obs("symptom_days", "2026-03-30", "10", "d");
    assert_eq!(
        outcome(
            "latest symptom_days within 2 days before screening >= 1 week",
            &r
        ),
        Outcome::Met
    );
    assert_eq!(
        outcome(
            "latest symptom_days within 2 days before screening >= 2 weeks",
            &r
        ),
        Outcome::NotMet
    );
    assert_eq!(
        outcome(
            "latest symptom_days within 2 days before screening > 10 days",
            &r
        ),
        Outcome::NotMet
    );
    // A rate per day is not a time: `3 days` is refused against it.
    assert_eq!(
        errors("latest stools within 2 days before screening >= 3 days"),
        ["elig::type-mismatch"]
    );
}
