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
observation hot_flashes "Hot flashes in a day" unit /d codes [local:hot-flashes]
observation symptom_days "Duration of symptoms" unit d codes [local:symptom-days]
observation hb "Haemoglobin" unit g/dL codes [loinc:718-7]
observation crp "CRP" unit mg/L codes [loinc:1988-5]
observation sbp_left "Systolic BP, left arm" unit mm[Hg] codes [local:sbp-left]
observation sbp_right "Systolic BP, right arm" unit mm[Hg] codes [local:sbp-right]
observation serum_hcg "Serum hCG" unit [IU]/L codes [loinc:21198-7]
observation urine_hcg "Urine hCG" qualitative codes [loinc:2106-3]
observation serum_hcg_qual "Serum hCG, qualitative" qualitative codes [loinc:2118-8]
set pregnancy_tests = observations { urine_hcg, serum_hcg_qual }
observation disease_status "Cancer disease status" qualitative codes [loinc:97509-4]
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
    let raw = RawRecord::new("t.jsonl", 1, &json);
    let record = raw.parse().unwrap();
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

fn sbp(left: &str, right: &str) -> String {
    format!(
        "{},{}",
        obs("sbp_left", "2026-03-30", left, "mm[Hg]"),
        obs("sbp_right", "2026-03-30", right, "mm[Hg]")
    )
}

const ARM_DIFFERENCE: &str = "latest sbp_left within 7 days before screening - latest sbp_right within 7 days before screening >= 20 mm[Hg]";

#[test]
fn a_difference_of_two_readings_is_compared_exactly() {
    assert_eq!(outcome(ARM_DIFFERENCE, &sbp("150", "130")), Outcome::Met);
    assert_eq!(
        outcome(ARM_DIFFERENCE, &sbp("149.9", "130")),
        Outcome::NotMet
    );
    // In another unit of pressure, converted exactly: 2.666644 kPa is 20 mm[Hg].
    let kpa = format!(
        "{},{}",
        obs("sbp_left", "2026-03-30", "19.99986", "kPa"),
        obs("sbp_right", "2026-03-30", "130", "mm[Hg]")
    );
    assert_eq!(outcome(ARM_DIFFERENCE, &kpa), Outcome::Met);
}

#[test]
fn a_computed_value_with_a_result_missing_is_unknown() {
    let only_left = obs("sbp_left", "2026-03-30", "150", "mm[Hg]");
    assert_eq!(outcome(ARM_DIFFERENCE, &only_left), Outcome::Unknown);
    let bound = format!(
        "{},{}",
        obs("sbp_left", "2026-03-30", "150", "mm[Hg]"),
        r#"{"concept":"sbp_right","date":"2026-03-30","value":130,"comparator":"<","unit":"mm[Hg]"}"#
    );
    assert_eq!(outcome(ARM_DIFFERENCE, &bound), Outcome::Unknown);
}

const NLR: &str = "latest anc within 7 days before screening / latest lymphocytes within 7 days before screening > 4";

#[test]
fn a_ratio_of_results_in_different_units_is_a_pure_number() {
    let r = format!(
        "{},{}",
        obs("anc", "2026-03-30", "5", "10*9/L"),
        obs("lymphocytes", "2026-03-30", "1200", "/uL")
    );
    assert_eq!(outcome(NLR, &r), Outcome::Met);
    // 4.4 / 1.1 is exactly 4: not more than 4.
    let r = format!(
        "{},{}",
        obs("anc", "2026-03-30", "4.4", "10*9/L"),
        obs("lymphocytes", "2026-03-30", "1.1", "10*9/L")
    );
    assert_eq!(outcome(NLR, &r), Outcome::NotMet);
}

#[test]
fn a_ratio_is_exact_where_a_decimal_division_would_round() {
    // 1 / 3 >= 0.3333333333333333333333333333 is false: the decimal quotient rounds up to it.
    let rule = "latest anc within 7 days before screening / latest lymphocytes within 7 days before screening >= 0.3333333333333333333333333334";
    let r = format!(
        "{},{}",
        obs("anc", "2026-03-30", "1", "10*9/L"),
        obs("lymphocytes", "2026-03-30", "3", "10*9/L")
    );
    assert_eq!(outcome(rule, &r), Outcome::NotMet);
}

#[test]
fn division_by_a_zero_result_is_unknown() {
    let r = format!(
        "{},{}",
        obs("anc", "2026-03-30", "4", "10*9/L"),
        obs("lymphocytes", "2026-03-30", "0", "10*9/L")
    );
    assert_eq!(outcome(NLR, &r), Outcome::Unknown);
}

#[test]
fn a_trend_compares_the_latest_result_with_the_earliest_baseline() {
    let crp = format!(
        "{},{},{}",
        obs("crp", "2026-03-01", "10", "mg/L"),
        obs("crp", "2026-03-15", "35", "mg/L"),
        obs("crp", "2026-03-30", "20", "mg/L")
    );
    let twice = "latest crp within 30 days before screening / earliest crp within 30 days before screening >= 2";
    assert_eq!(outcome(twice, &crp), Outcome::Met);
    let thrice = "latest crp within 30 days before screening / earliest crp within 30 days before screening >= 3";
    assert_eq!(outcome(thrice, &crp), Outcome::NotMet);
    // The earliest result on its own is a baseline like any single result.
    assert_eq!(
        outcome(
            "earliest crp within 30 days before screening < 15 mg/L",
            &crp
        ),
        Outcome::Met
    );
}

#[test]
fn a_change_either_way_is_two_comparisons_of_the_difference() {
    let rule = "latest hb within 30 days before screening - earliest hb within 30 days before screening >= 2 g/dL or latest hb within 30 days before screening - earliest hb within 30 days before screening <= -2 g/dL";
    let fall = format!(
        "{},{}",
        obs("hb", "2026-03-02", "12.5", "g/dL"),
        obs("hb", "2026-03-30", "10.5", "g/dL")
    );
    assert_eq!(outcome(rule, &fall), Outcome::Met);
    let stable = format!(
        "{},{}",
        obs("hb", "2026-03-02", "12.5", "g/dL"),
        obs("hb", "2026-03-30", "110", "g/L")
    );
    assert_eq!(outcome(rule, &stable), Outcome::NotMet);
}

#[test]
fn arithmetic_is_checked_for_units_and_operands() {
    // Pressure minus haemoglobin.
    assert_eq!(
        errors(
            "latest sbp_left within 7 days before screening - latest hb within 7 days before screening > 1 mm[Hg]"
        ),
        ["elig::unit-mismatch"]
    );
    // A difference of pressures against a concentration.
    assert_eq!(
        errors(
            "latest sbp_left within 7 days before screening - latest sbp_right within 7 days before screening > 1 g/dL"
        ),
        ["elig::unit-mismatch"]
    );
    // A ratio needs no unit; a difference does.
    assert_eq!(
        errors(
            "latest sbp_left within 7 days before screening - latest sbp_right within 7 days before screening > 1"
        ),
        ["elig::missing-unit"]
    );
    // Several results, words, and a shifted temperature are not single numbers.
    assert_eq!(
        errors(
            "any sbp_left within 7 days before screening - latest sbp_right within 7 days before screening > 1 mm[Hg]"
        ),
        ["elig::arithmetic-operand"]
    );
    assert_eq!(
        errors(
            "latest urine_hcg within 7 days before screening / latest hb within 7 days before screening > 1 dL/g"
        ),
        ["elig::arithmetic-operand"]
    );
    assert_eq!(
        errors(
            "latest temperature within 7 days before screening - earliest temperature within 7 days before screening > 1 K"
        ),
        ["elig::arithmetic-operand", "elig::arithmetic-operand"]
    );
}

#[test]
fn a_limit_is_moved_only_by_a_quantity_of_the_results_kind() {
    assert!(errors("latest hb within 7 days before screening <= ULN + 1 g/dL").is_empty());
    assert_eq!(
        errors("latest hb within 7 days before screening <= ULN + 1 mm[Hg]"),
        ["elig::unit-mismatch"]
    );
    assert_eq!(
        errors("latest hb within 7 days before screening <= ULN + 1"),
        ["elig::missing-unit"]
    );
    // A difference of temperatures does not convert like a temperature.
    assert_eq!(
        errors("latest temperature within 7 days before screening > ULN + 1 K"),
        ["elig::unit-mismatch"]
    );
}

#[test]
fn a_moved_limit_is_explained_with_the_limit_it_came_from() {
    let plan =
        plan("inclusion T1 \"test\": latest hb within 7 days before screening >= LLN - 1 g/dL");
    let json = format!(
        r#"{{"id":"p","birth_date":"2000-01-01","sex":"female","anchors":{{"screening":"2026-03-31"}},"observations":[{}]}}"#,
        r#"{"concept":"hb","date":"2026-03-30","value":11.5,"unit":"g/dL","reference_range":{"low":12,"high":16}}"#
    );
    let raw = RawRecord::new("t.jsonl", 1, &json);
    let record = raw.parse().unwrap();
    let result = plan.evaluate(&record, true);
    assert_eq!(result.criteria[0].outcome, Outcome::Met);
    let text = format!("{:?}", result.criteria[0]);
    assert!(
        text.contains("LLN 12 g/dL") && text.contains("limit LLN - 1 g/dL"),
        "{text}"
    );
}

#[test]
fn a_disease_status_answers_only_what_it_says() {
    let at = |word: &str| {
        format!(r#"{{"concept":"disease_status","date":"2026-03-01","result":"{word}"}}"#)
    };
    let is =
        |word: &str| format!("latest disease_status within 3 months before screening is {word}");
    // Trends exclude each other.
    assert_eq!(outcome(&is("progressing"), &at("worsened")), Outcome::Met);
    assert_eq!(outcome(&is("progressing"), &at("stable")), Outcome::NotMet);
    assert_eq!(outcome(&is("stable"), &at("responding")), Outcome::NotMet);
    // A remission excludes progression but says nothing of improving or stable.
    assert_eq!(
        outcome(&is("progressing"), &at("partial remission")),
        Outcome::NotMet
    );
    assert_eq!(
        outcome(&is("improving"), &at("partial remission")),
        Outcome::Unknown
    );
    // Undetermined answers nothing but itself.
    assert_eq!(
        outcome(&is("progressing"), &at("undetermined")),
        Outcome::Unknown
    );
    assert_eq!(
        outcome(&format!("not {}", is("progressing")), &at("undetermined")),
        Outcome::Unknown
    );
    assert_eq!(
        outcome(&is("undetermined"), &at("undetermined")),
        Outcome::Met
    );
    // Another family of words does not say.
    assert_eq!(
        outcome(&is("progressing"), &at("positive")),
        Outcome::Unknown
    );
}

#[test]
fn a_difference_as_divisor_warns_that_it_may_be_zero() {
    let c = compile(
        "inclusion T1 \"t\": latest crp within 7 days before screening / (latest crp within 7 days before screening - earliest crp within 7 days before screening) > 2",
    );
    let codes: Vec<&str> = c.diagnostics.iter().map(|d| d.code.name()).collect();
    assert!(codes.contains(&"elig::zero-divisor"), "{codes:?}");
    assert!(c.diagnostics.iter().all(|d| !d.is_error()), "{codes:?}");
}

#[test]
fn the_explanation_shows_each_result_and_the_computed_value() {
    let plan = plan(&format!("inclusion T1 \"test\": {NLR}"));
    let json = format!(
        r#"{{"id":"p","anchors":{{"screening":"2026-03-31"}},"observations":[{},{}]}}"#,
        obs("anc", "2026-03-30", "5", "10*9/L"),
        obs("lymphocytes", "2026-03-29", "1.2", "10*9/L")
    );
    let raw = RawRecord::new("t.jsonl", 1, &json);
    let record = raw.parse().unwrap();
    let result = plan.evaluate(&record, true);
    let text = format!("{:?}", result.criteria[0]);
    assert!(
        text.contains("latest Neutrophils 5 10*9/L on 2026-03-30"),
        "{text}"
    );
    assert!(
        text.contains("latest Lymphocytes 1.2 10*9/L on 2026-03-29"),
        "{text}"
    );
    assert!(text.contains("ratio ≈ 4.16666"), "{text}");
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
fn fmt_keeps_only_the_brackets_arithmetic_needs_and_is_idempotent() {
    let rule = |r: &str| format!("protocol \"p\"\n\ninclusion I1 \"t\":\n  {r}\n");
    let a = "latest crp within 7 days before screening";
    let b = "earliest crp within 7 days before screening";
    let cases = [
        (
            format!("({a} - {b}) - {a} > 1 mg/L"),
            format!("{a} - {b} - {a} > 1 mg/L"),
        ),
        (
            format!("{a} - ({b} - {a}) > 1 mg/L"),
            format!("{a} - ({b} - {a}) > 1 mg/L"),
        ),
        (
            format!("{a} -   {b} * {a} > 1 mg/L"),
            format!("{a} - {b} * {a} > 1 mg/L"),
        ),
        (
            format!("({a} - {b}) / {a} > 1"),
            format!("({a} - {b}) / {a} > 1"),
        ),
    ];
    for (written, canonical) in cases {
        let out = eligc::fmt::format(&source(&rule(&written))).unwrap();
        assert_eq!(out, rule(&canonical), "{written}");
        let again = eligc::fmt::format(&source(&out)).unwrap();
        assert_eq!(again, out);
        let before = eligc::syntax::parse(&source(&rule(&written))).module;
        let after = eligc::syntax::parse(&source(&out)).module;
        assert_eq!(before, after, "the meaning is kept");
    }
}

#[test]
fn doc_reads_a_computation_in_words() {
    let c = compile(&format!("inclusion T1 \"test\": {ARM_DIFFERENCE}"));
    let text = eligc::doc::markdown(&eligc::doc::document(&c.program.unwrap()));
    assert!(
        text.contains(
            r"the most recent systolic BP, left arm in the 7 days before the screening date minus the most recent systolic BP, right arm in the 7 days before the screening date is at least 20 mm\[Hg\]"
        ),
        "{text}"
    );
}

#[test]
fn diff_orders_a_moved_threshold_of_the_same_computation() {
    let old = plan(&format!("inclusion T1 \"test\": {ARM_DIFFERENCE}"));
    let new = plan(&format!(
        "inclusion T1 \"test\": {}",
        ARM_DIFFERENCE.replace(">= 20 mm[Hg]", ">= 15 mm[Hg]")
    ));
    let d = eligc::diff::diff(&old, &new);
    let effects: Vec<(eligc::diff::Aspect, eligc::diff::Effect)> = d
        .criteria
        .iter()
        .flat_map(|c| c.changes.iter().map(|ch| (ch.aspect, ch.effect)))
        .collect();
    assert_eq!(
        effects,
        [(eligc::diff::Aspect::Threshold, eligc::diff::Effect::Widens)]
    );
}

fn qual(concept: &str, date: &str, result: &str) -> String {
    format!(r#"{{"concept":"{concept}","date":"{date}","result":"{result}"}}"#)
}

const EITHER_TEST: &str = "any in pregnancy_tests within 7 days before screening is positive";

#[test]
fn a_set_of_observations_takes_the_results_of_every_member() {
    let urine = qual("urine_hcg", "2026-03-30", "positive");
    let serum = qual("serum_hcg_qual", "2026-03-29", "negative");
    assert_eq!(
        outcome(EITHER_TEST, &format!("{urine},{serum}")),
        Outcome::Met
    );
    let urine = qual("urine_hcg", "2026-03-30", "negative");
    assert_eq!(
        outcome(EITHER_TEST, &format!("{urine},{serum}")),
        Outcome::NotMet
    );
    assert_eq!(outcome(EITHER_TEST, ""), Outcome::Unknown);
    // `in` is optional, as for events.
    assert_eq!(
        outcome(
            "any pregnancy_tests within 7 days before screening is positive",
            &urine
        ),
        Outcome::NotMet
    );
}

#[test]
fn latest_of_a_set_is_the_most_recent_result_of_any_member() {
    let rule = "latest in pregnancy_tests within 7 days before screening is negative";
    let older_positive = qual("serum_hcg_qual", "2026-03-28", "positive");
    let newer_negative = qual("urine_hcg", "2026-03-30", "negative");
    assert_eq!(
        outcome(rule, &format!("{older_positive},{newer_negative}")),
        Outcome::Met
    );
    let earliest = "earliest in pregnancy_tests within 7 days before screening is negative";
    assert_eq!(
        outcome(earliest, &format!("{older_positive},{newer_negative}")),
        Outcome::NotMet
    );
}

#[test]
fn a_set_test_must_suit_every_member() {
    // A numeric and a qualitative hCG together cannot be tested `is positive`.
    let text = "set hcg_any = observations { serum_hcg, urine_hcg }\ninclusion T1 \"t\": any in hcg_any within 7 days before screening is positive";
    let c = compile(text);
    let codes: Vec<&str> = c
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.code.name())
        .collect();
    assert_eq!(codes, ["elig::invalid-test"]);
    // A set is not one number to compute with.
    assert_eq!(
        errors(
            "latest in pregnancy_tests within 7 days before screening / latest hb within 7 days before screening > 1 dL/g"
        ),
        ["elig::arithmetic-operand"]
    );
}

#[test]
fn fmt_keeps_in_before_a_set_of_observations() {
    let text = "protocol \"p\"\n\ninclusion I1 \"t\":\n  any in pregnancy_tests within 7 days before screening is positive\n";
    assert_eq!(eligc::fmt::format(&source(text)).unwrap(), text);
}

#[test]
fn a_definition_naming_a_result_can_be_computed_with() {
    let crp = format!(
        "{},{}",
        obs("crp", "2026-03-01", "10", "mg/L"),
        obs("crp", "2026-03-30", "25", "mg/L")
    );
    let plan = plan(
        "define baseline_crp = earliest crp within 30 days before screening\ninclusion T1 \"t\": latest crp within 30 days before screening / baseline_crp >= 2",
    );
    let json =
        format!(r#"{{"id":"p","anchors":{{"screening":"2026-03-31"}},"observations":[{crp}]}}"#);
    let raw = RawRecord::new("t.jsonl", 1, &json);
    let record = raw.parse().unwrap();
    assert_eq!(
        plan.evaluate(&record, false).criteria[0].outcome,
        Outcome::Met
    );
}

/// The outcome of `rule` for a patient screened on 2026-03-31 with `facts` (JSON members).
fn outcome_with(rule: &str, facts: &str) -> Outcome {
    let plan = plan(&format!("inclusion T1 \"test\": {rule}"));
    let json = format!(
        r#"{{"id":"p","birth_date":"2000-01-01","sex":"female","anchors":{{"screening":"2026-03-31"}},{facts}}}"#
    );
    let raw = RawRecord::new("t.jsonl", 1, &json);
    let record = raw.parse().unwrap();
    plan.evaluate(&record, true).criteria[0].outcome
}

const ANY_DRUG: &str = "any medication within 1 month before screening";

#[test]
fn any_medication_is_a_record_of_any_drug_whatever_its_code() {
    let aspirin =
        r#""medications":[{"code":"rxnorm:1191","display":"Aspirin","start":"2026-03-20"}]"#;
    assert_eq!(outcome_with(ANY_DRUG, aspirin), Outcome::Met);
    let long_ago =
        r#""medications":[{"code":"rxnorm:1191","start":"2025-01-01","end":"2025-01-10"}]"#;
    assert_eq!(outcome_with(ANY_DRUG, long_ago), Outcome::NotMet);
    assert_eq!(
        outcome_with(ANY_DRUG, r#""medications":[]"#),
        Outcome::NotMet
    );
    // No medication list at all: unknown, not "none".
    assert_eq!(
        outcome_with(ANY_DRUG, r#""conditions":[]"#),
        Outcome::Unknown
    );
    // A record entered in error is not a fact.
    let error = r#""medications":[{"code":"rxnorm:1191","start":"2026-03-20","status":"entered-in-error"}]"#;
    assert_eq!(outcome_with(ANY_DRUG, error), Outcome::NotMet);
}

#[test]
fn any_allergy_keeps_where_filters_and_refuted_allergies_do_not_count() {
    let rule = "any allergy within 1 month before screening where severity is severe";
    let severe =
        r#""allergies":[{"code":"snomed:91936005","onset":"2026-03-25","severity":"severe"}]"#;
    assert_eq!(outcome_with(rule, severe), Outcome::Met);
    let mild = r#""allergies":[{"code":"snomed:91936005","onset":"2026-03-25","severity":"mild"}]"#;
    assert_eq!(outcome_with(rule, mild), Outcome::NotMet);
    let refuted = r#""allergies":[{"code":"snomed:91936005","onset":"2026-03-25","severity":"severe","verification":"refuted"}]"#;
    assert_eq!(outcome_with(rule, refuted), Outcome::NotMet);
}

#[test]
fn fmt_and_doc_write_any_before_the_kind() {
    let text =
        "protocol \"p\"\n\ninclusion I1 \"t\":\n  any medication within 1 month before screening\n";
    assert_eq!(eligc::fmt::format(&source(text)).unwrap(), text);
    let c = compile(&format!("inclusion T1 \"test\": {ANY_DRUG}"));
    let doc = eligc::doc::markdown(&eligc::doc::document(&c.program.unwrap()));
    assert!(doc.contains("treatment with anything"), "{doc}");
}

#[test]
fn a_calendar_date_bounds_a_window_for_every_patient() {
    let since = "condition sle from 2010-01-01 to screening";
    let before = "condition sle before 2020-01-01";
    let onset = |d: &str| format!(r#""conditions":[{{"code":"icd10:M32","onset":"{d}"}}]"#);
    let p = |criteria: &str| {
        format!("condition sle \"SLE\" codes [icd10:M32]\ninclusion T1 \"t\": {criteria}")
    };
    let run = |criteria: &str, facts: &str| {
        let plan = plan(&p(criteria));
        let json = format!(r#"{{"id":"p","anchors":{{"screening":"2026-03-31"}},{facts}}}"#);
        let raw = RawRecord::new("t.jsonl", 1, &json);
        let record = raw.parse().unwrap();
        plan.evaluate(&record, false).criteria[0].outcome
    };
    // A condition still active counts in a window it overlaps; one that ended does not.
    assert_eq!(run(since, &onset("2012-05-01")), Outcome::Met);
    let ended = r#""conditions":[{"code":"icd10:M32","onset":"2005-01-01","end":"2009-12-31"}]"#;
    assert_eq!(run(since, ended), Outcome::NotMet);
    assert_eq!(run(before, &onset("2019-12-31")), Outcome::Met);
    assert_eq!(run(before, &onset("2020-01-02")), Outcome::NotMet);
}

#[test]
fn a_date_that_is_not_a_day_is_refused() {
    assert_eq!(
        errors("latest crp before 2023-02-30 > 5 mg/L"),
        ["elig::invalid-date"]
    );
}

#[test]
fn fmt_and_doc_keep_a_calendar_date() {
    let text = "protocol \"p\"\n\nanchor screening\n\ninclusion I1 \"t\":\n  latest crp from 2010-01-01 to screening > 5 mg/L\n";
    assert_eq!(eligc::fmt::format(&source(text)).unwrap(), text);
    let c = compile("inclusion T1 \"t\": latest crp from 2010-01-01 to screening > 5 mg/L");
    let doc = eligc::doc::markdown(&eligc::doc::document(&c.program.unwrap()));
    assert!(
        doc.contains("from 2010-01-01 to the screening date"),
        "{doc}"
    );
}

fn flashes(counts: &[&str]) -> String {
    counts
        .iter()
        .enumerate()
        .map(|(i, n)| obs("hot_flashes", &format!("2026-03-{:02}", 24 + i), n, "/d"))
        .collect::<Vec<_>>()
        .join(",")
}

const DAILY_AVERAGE: &str = "average hot_flashes within 7 days before screening >= 4 /d";

#[test]
fn an_average_is_the_exact_mean_of_the_results_in_the_window() {
    // 28 in 7 days is exactly 4 a day.
    assert_eq!(
        outcome(
            DAILY_AVERAGE,
            &flashes(&["2", "6", "4", "4", "3", "5", "4"])
        ),
        Outcome::Met
    );
    assert_eq!(
        outcome(
            DAILY_AVERAGE,
            &flashes(&["2", "6", "4", "4", "3", "5", "3"])
        ),
        Outcome::NotMet
    );
    // 11 / 3 is less than 3.666666666666666666666666667: an exact mean, never rounded up.
    let thirds =
        "average hot_flashes within 7 days before screening >= 3.666666666666666666666666667 /d";
    assert_eq!(outcome(thirds, &flashes(&["3", "4", "4"])), Outcome::NotMet);
    assert_eq!(outcome(DAILY_AVERAGE, ""), Outcome::Unknown);
}

#[test]
fn an_average_with_a_result_that_cannot_be_computed_with_is_unknown() {
    let bound = format!(
        "{},{}",
        flashes(&["5", "6"]),
        r#"{"concept":"hot_flashes","date":"2026-03-30","value":10,"comparator":">","unit":"/d"}"#
    );
    assert_eq!(outcome(DAILY_AVERAGE, &bound), Outcome::Unknown);
}

#[test]
fn an_average_is_compared_not_tested_and_can_be_computed_with() {
    assert_eq!(
        errors("average urine_hcg within 7 days before screening is positive"),
        ["elig::type-mismatch"]
    );
    let rise = "latest crp within 30 days before screening / average crp within 30 days before screening >= 2";
    let crp = format!(
        "{},{},{}",
        obs("crp", "2026-03-01", "10", "mg/L"),
        obs("crp", "2026-03-10", "10", "mg/L"),
        obs("crp", "2026-03-30", "30", "mg/L")
    );
    // 30 / ((10 + 10 + 30) / 3) = 1.8
    assert_eq!(outcome(rise, &crp), Outcome::NotMet);
}

#[test]
fn a_chain_of_ten_thousand_subtractions_gives_a_diagnostic_not_a_stack_overflow() {
    let chain = vec!["latest crp within 7 days before screening"; 10_000].join(" - ");
    assert!(errors(&format!("{chain} > 1 mg/L")).contains(&"elig::nesting-too-deep".to_string()));
}
