#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)] // tests fail by panicking
//! The interpreter's semantics, one behaviour per test: each compiles a one-criterion
//! protocol over a small vocabulary and evaluates it against a hand-written patient.

use eligc::check::compile_text;
use eligc::eval::{Outcome, Plan, Verdict};
use eligc::facts::RawRecord;

const VOCABULARY: &str = r#"
protocol "Semantics" version "1"
anchor screening, infusion
observation egfr "eGFR" unit mL/min/1.73m2 codes [loinc:33914-3]
observation alt "ALT" unit U/L normal 0 to 40 codes [loinc:1742-6]
observation hbsag "HBsAg" qualitative codes [loinc:5196-1]
observation body_weight "Body weight" unit kg codes [loinc:29463-7]
observation creatinine "Creatinine" unit mg/dL molar mass 113.12 g/mol normal 0.6 to 1.2 codes [loinc:2160-0]
observation urate "Urate" unit mg/dL codes [loinc:3084-1]
observation temperature "Body temperature" unit Cel codes [loinc:8310-5]
observation ecg "ECG" qualitative codes [loinc:8601-7]
score sledai "SLEDAI-2K" codes [local:sledai]
condition sle "SLE" codes [snomed:55464009]
condition gvhd "GVHD" codes [snomed:234646005]
drug prednisone "Prednisone" codes [rxnorm:8640]
drug methylprednisolone "Methylprednisolone" codes [rxnorm:6902]
drug methotrexate "Methotrexate" codes [rxnorm:6851]
drug azathioprine "Azathioprine" codes [rxnorm:1256]
vaccine mmr "MMR" codes [cvx:03]
procedure dialysis "Hemodialysis" codes [snomed:302497006]
encounter inpatient "Inpatient stay" codes [actcode:IMP]
encounter icu "ICU admission" codes [snomed:305351004]
set stays = encounters { inpatient, icu }
condition hypertension "Hypertension" codes [icd10:I10]
condition graft_failure "Kidney transplant failure" codes [icd10:T86.1]
site femoral_region "Femoral region" codes [snomed:397045007]
site groin "Inguinal region" codes [snomed:26893007]
set leg_sites = sites { femoral_region, groin }
attestation consent "Consent" by patient
attestation risk_ruled_out "Risk ruled out" by investigator
observation pt "Prothrombin time" unit s codes [loinc:5902-2]
set steroids = drugs { prednisone, methylprednisolone }
set dmard = drugs { methotrexate, azathioprine }
set live = vaccines { mmr }
equivalence steroids as prednisone { prednisone 1, methylprednisolone 1.25 }
"#;

fn plan(criteria: &str) -> Plan {
    let text = format!("{VOCABULARY}\n{criteria}\n");
    let c = compile_text("t.elig", &text, None);
    let errors: Vec<_> = c.diagnostics.iter().filter(|d| d.is_error()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    Plan::new(c.program.unwrap(), c.sources)
}

fn patient(json: &str) -> eligc::facts::PatientRecord<'static> {
    // Leaked: a record borrows its strings from the text it was read from.
    let raw: &'static RawRecord = Box::leak(Box::new(RawRecord::new("t.jsonl", 1, json)));
    raw.parse().unwrap()
}

/// The outcome of inclusion T1 `rule` for a patient screened on 2026-03-31 with `facts`
/// (JSON members added to the record).
fn outcome(rule: &str, facts: &str) -> Outcome {
    let plan = plan(&format!("inclusion T1 \"test\": {rule}"));
    let sep = if facts.is_empty() { "" } else { "," };
    let json = format!(
        r#"{{"id":"p","birth_date":"2000-01-01","sex":"female","anchors":{{"screening":"2026-03-31","infusion":"2026-04-30"}}{sep}{facts}}}"#
    );
    let record = patient(&json);
    let result = plan.evaluate(&record, true);
    // Without explaining, evaluation takes fast paths (eval/leaf/fast.rs): the same outcome.
    let quick = plan.evaluate(&record, false);
    assert_eq!(
        (quick.criteria[0].outcome, quick.criteria[0].unplaced),
        (result.criteria[0].outcome, result.criteria[0].unplaced),
        "explained and unexplained evaluation differ"
    );
    result.criteria[0].outcome
}

#[test]
fn a_lab_at_the_threshold_meets_it() {
    let facts = r#""observations":[{"concept":"egfr","date":"2026-03-20","value":30,"unit":"mL/min/1.73m2"}]"#;
    assert_eq!(
        outcome(
            "latest egfr within 28 days before screening >= 30 mL/min/1.73m2",
            facts
        ),
        Outcome::Met
    );
}

#[test]
fn a_lab_in_another_commensurable_unit_is_converted_exactly() {
    let facts = r#""observations":[{"concept":"egfr","date":"2026-03-20","value":0.5,"unit":"mL/s/{1.73_m2}"}]"#;
    assert_eq!(
        outcome(
            "latest egfr within 28 days before screening >= 30 mL/min/1.73m2",
            facts
        ),
        Outcome::Met
    );
    let facts = r#""observations":[{"concept":"egfr","date":"2026-03-20","value":0.49,"unit":"mL/s/{1.73_m2}"}]"#;
    assert_eq!(
        outcome(
            "latest egfr within 28 days before screening >= 30 mL/min/1.73m2",
            facts
        ),
        Outcome::NotMet
    );
}

#[test]
fn a_lab_in_an_incommensurable_or_unknown_unit_is_unknown_not_compared() {
    let facts =
        r#""observations":[{"concept":"egfr","date":"2026-03-20","value":45,"unit":"mg/dL"}]"#;
    assert_eq!(
        outcome(
            "latest egfr within 28 days before screening >= 30 mL/min/1.73m2",
            facts
        ),
        Outcome::Unknown
    );
    let facts =
        r#""observations":[{"concept":"egfr","date":"2026-03-20","value":45,"unit":"furlongs"}]"#;
    assert_eq!(
        outcome(
            "latest egfr within 28 days before screening >= 30 mL/min/1.73m2",
            facts
        ),
        Outcome::Unknown
    );
}

#[test]
fn no_result_in_the_window_is_unknown_not_false() {
    let facts = r#""observations":[{"concept":"egfr","date":"2026-01-01","value":80,"unit":"mL/min/1.73m2"}]"#;
    assert_eq!(
        outcome(
            "latest egfr within 28 days before screening >= 30 mL/min/1.73m2",
            facts
        ),
        Outcome::Unknown
    );
}

#[test]
fn the_latest_result_in_the_window_decides() {
    let facts = r#""observations":[
        {"concept":"egfr","date":"2026-03-25","value":20,"unit":"mL/min/1.73m2"},
        {"concept":"egfr","date":"2026-03-10","value":80,"unit":"mL/min/1.73m2"}]"#;
    assert_eq!(
        outcome(
            "latest egfr within 28 days before screening >= 30 mL/min/1.73m2",
            facts
        ),
        Outcome::NotMet
    );
}

#[test]
fn facts_given_by_code_match_the_vocabulary() {
    let facts = r#""observations":[{"code":"loinc:33914-3","date":"2026-03-20","value":45,"unit":"mL/min/1.73m2"}]"#;
    assert_eq!(
        outcome(
            "latest egfr within 28 days before screening >= 30 mL/min/1.73m2",
            facts
        ),
        Outcome::Met
    );
}

#[test]
fn times_uln_uses_the_results_own_range_then_the_declared_normal_range() {
    let own = r#""observations":[{"concept":"alt","date":"2026-03-20","value":90,"unit":"U/L","reference_range":{"high":30}}]"#;
    assert_eq!(
        outcome("latest alt within 28 days before screening <= 3 x ULN", own),
        Outcome::Met
    );
    let default =
        r#""observations":[{"concept":"alt","date":"2026-03-20","value":121,"unit":"U/L"}]"#;
    assert_eq!(
        outcome(
            "latest alt within 28 days before screening <= 3 x ULN",
            default
        ),
        Outcome::NotMet
    );
}

#[test]
fn times_uln_without_any_range_is_unknown() {
    let plan = plan(
        "observation ggt \"GGT\" unit U/L codes [loinc:2324-2]\ninclusion T1 \"t\": latest ggt within 28 days before screening <= 3 x ULN",
    );
    let p = patient(
        r#"{"id":"p","anchors":{"screening":"2026-03-31"},"observations":[{"concept":"ggt","date":"2026-03-20","value":50,"unit":"U/L"}]}"#,
    );
    assert_eq!(
        plan.evaluate(&p, false).criteria[0].outcome,
        Outcome::Unknown
    );
}

#[test]
fn qualitative_results_and_their_synonyms() {
    let facts =
        r#""observations":[{"concept":"hbsag","date":"2026-03-20","result":"Not detected"}]"#;
    assert_eq!(
        outcome(
            "latest hbsag within 28 days before screening is negative",
            facts
        ),
        Outcome::Met
    );
    let facts = r#""observations":[{"concept":"hbsag","date":"2026-03-20","result":"reactive"}]"#;
    assert_eq!(
        outcome(
            "latest hbsag within 28 days before screening is not positive",
            facts
        ),
        Outcome::NotMet
    );
}

#[test]
fn any_all_and_no_follow_kleene_over_the_results() {
    let facts = r#""observations":[
        {"concept":"egfr","date":"2026-03-20","value":45,"unit":"mL/min/1.73m2"},
        {"concept":"egfr","date":"2026-03-21","value":45,"unit":"bogus"}]"#;
    assert_eq!(
        outcome(
            "any egfr within 28 days before screening >= 30 mL/min/1.73m2",
            facts
        ),
        Outcome::Met
    );
    assert_eq!(
        outcome(
            "all egfr within 28 days before screening >= 30 mL/min/1.73m2",
            facts
        ),
        Outcome::Unknown
    );
    assert_eq!(
        outcome(
            "no egfr within 28 days before screening < 30 mL/min/1.73m2",
            facts
        ),
        Outcome::Unknown
    );
}

#[test]
fn an_absent_domain_is_unknown_and_an_empty_one_is_known_none() {
    assert_eq!(outcome("not condition sle", ""), Outcome::Unknown);
    assert_eq!(
        outcome("not condition sle", r#""conditions":[]"#),
        Outcome::Met
    );
}

#[test]
fn a_condition_at_screening_must_be_active_on_that_date() {
    let ongoing = r#""conditions":[{"concept":"sle","onset":"2020-01-01"}]"#;
    assert_eq!(outcome("condition sle at screening", ongoing), Outcome::Met);
    let ended = r#""conditions":[{"concept":"sle","onset":"2020-01-01","end":"2026-03-30"}]"#;
    assert_eq!(
        outcome("condition sle at screening", ended),
        Outcome::NotMet
    );
    let resolved_undated =
        r#""conditions":[{"concept":"sle","onset":"2020-01-01","status":"resolved"}]"#;
    assert_eq!(
        outcome("condition sle at screening", resolved_undated),
        Outcome::Unknown
    );
}

#[test]
fn refuted_conditions_are_not_facts() {
    let facts = r#""conditions":[{"concept":"sle","onset":"2020-01-01","verification":"refuted"}]"#;
    assert_eq!(outcome("condition sle", facts), Outcome::NotMet);
}

#[test]
fn a_window_of_one_month_before_31_march_starts_on_28_february() {
    let on = r#""conditions":[{"concept":"gvhd","onset":"2026-01-01","end":"2026-02-28"}]"#;
    assert_eq!(
        outcome("condition gvhd within 1 month before screening", on),
        Outcome::Met
    );
    let before = r#""conditions":[{"concept":"gvhd","onset":"2026-01-01","end":"2026-02-27"}]"#;
    assert_eq!(
        outcome("condition gvhd within 1 month before screening", before),
        Outcome::NotMet
    );
}

#[test]
fn a_vaccine_exactly_four_weeks_before_is_within_four_weeks() {
    let exactly = r#""immunizations":[{"concept":"mmr","date":"2026-03-03"}]"#;
    assert_eq!(
        outcome(
            "immunization in live within 4 weeks before screening",
            exactly
        ),
        Outcome::Met
    );
    let earlier = r#""immunizations":[{"concept":"mmr","date":"2026-03-02"}]"#;
    assert_eq!(
        outcome(
            "immunization in live within 4 weeks before screening",
            earlier
        ),
        Outcome::NotMet
    );
    let not_done = r#""immunizations":[{"concept":"mmr","date":"2026-03-10","status":"not-done"}]"#;
    assert_eq!(
        outcome(
            "immunization in live within 4 weeks before screening",
            not_done
        ),
        Outcome::NotMet
    );
}

#[test]
fn where_filters_use_attributes_and_a_missing_attribute_is_unknown() {
    let grade2 = r#""conditions":[{"concept":"gvhd","onset":"2026-03-25","grade":2}]"#;
    assert_eq!(
        outcome(
            "condition gvhd within 2 weeks before screening where grade >= 2",
            grade2
        ),
        Outcome::Met
    );
    let ungraded = r#""conditions":[{"concept":"gvhd","onset":"2026-03-25"}]"#;
    assert_eq!(
        outcome(
            "condition gvhd within 2 weeks before screening where grade >= 2",
            ungraded
        ),
        Outcome::Unknown
    );
}

#[test]
fn or_inside_where_holds_when_one_alternative_does_and_is_unknown_while_one_could() {
    let rule =
        "condition gvhd within 2 weeks before screening where grade >= 3 or severity is severe";
    let at =
        |attrs: &str| format!(r#""conditions":[{{"concept":"gvhd","onset":"2026-03-25"{attrs}}}]"#);
    assert_eq!(outcome(rule, &at(r#","grade":3"#)), Outcome::Met);
    assert_eq!(outcome(rule, &at(r#","severity":"severe""#)), Outcome::Met);
    // Grade 3 decides even without a severity.
    assert_eq!(
        outcome(rule, &at(r#","grade":3,"severity":"mild""#)),
        Outcome::Met
    );
    assert_eq!(
        outcome(rule, &at(r#","grade":2,"severity":"mild""#)),
        Outcome::NotMet
    );
    // Grade 2 with no severity recorded could still be severe.
    assert_eq!(outcome(rule, &at(r#","grade":2"#)), Outcome::Unknown);
    assert_eq!(outcome(rule, &at("")), Outcome::Unknown);
}

#[test]
fn alternatives_in_parentheses_combine_with_and() {
    let rule = "condition gvhd within 2 weeks before screening where (grade >= 3 or severity is severe) and status is active";
    let at =
        |attrs: &str| format!(r#""conditions":[{{"concept":"gvhd","onset":"2026-03-25"{attrs}}}]"#);
    assert_eq!(
        outcome(rule, &at(r#","grade":3,"status":"active""#)),
        Outcome::Met
    );
    assert_eq!(
        outcome(rule, &at(r#","grade":3,"status":"resolved""#)),
        Outcome::NotMet
    );
    assert_eq!(
        outcome(
            rule,
            &at(r#","grade":1,"severity":"mild","status":"active""#)
        ),
        Outcome::NotMet
    );
}

#[test]
fn a_limit_moved_by_a_quantity_uses_the_results_own_range_converted_exactly() {
    let rule = "latest pt within 28 days before screening <= ULN + 4 s";
    let pt = |value: &str, unit: &str, range: &str| {
        format!(
            r#""observations":[{{"concept":"pt","date":"2026-03-30","value":{value},"unit":"{unit}"{range}}}]"#
        )
    };
    let range = r#","reference_range":{"low":11,"high":13.5}"#;
    // ULN 13.5 s + 4 s = 17.5 s: the boundary is met, just above it is not.
    assert_eq!(outcome(rule, &pt("17.5", "s", range)), Outcome::Met);
    assert_eq!(outcome(rule, &pt("17.6", "s", range)), Outcome::NotMet);
    // No limit on the result and none declared: unknown, never compared with 4 s alone.
    assert_eq!(outcome(rule, &pt("12", "s", "")), Outcome::Unknown);
    // The offset is converted into the result's unit: 4 s = 4000 ms.
    let ms_range = r#","reference_range":{"low":11000,"high":13500}"#;
    assert_eq!(outcome(rule, &pt("17500", "ms", ms_range)), Outcome::Met);
    assert_eq!(outcome(rule, &pt("17501", "ms", ms_range)), Outcome::NotMet);
    // Below the lower limit by more than a quantity.
    let low = "latest pt within 28 days before screening < LLN - 2 s";
    assert_eq!(outcome(low, &pt("8.9", "s", range)), Outcome::Met);
    assert_eq!(outcome(low, &pt("9", "s", range)), Outcome::NotMet);
}

#[test]
fn laterality_in_a_list_matches_any_of_its_words_and_is_not_negates() {
    let rule = |test: &str| format!("condition sle at screening where laterality {test}");
    let bilateral =
        r#""conditions":[{"concept":"sle","onset":"2025-01-01","laterality":"bilateral"}]"#;
    let left = r#""conditions":[{"concept":"sle","onset":"2025-01-01","laterality":"left"}]"#;
    let unsided = r#""conditions":[{"concept":"sle","onset":"2025-01-01"}]"#;
    assert_eq!(outcome(&rule("is bilateral"), bilateral), Outcome::Met);
    assert_eq!(outcome(&rule("is bilateral"), left), Outcome::NotMet);
    assert_eq!(outcome(&rule("in {left, bilateral}"), left), Outcome::Met);
    assert_eq!(
        outcome(&rule("not in {left, bilateral}"), left),
        Outcome::NotMet
    );
    assert_eq!(outcome(&rule("is not right"), left), Outcome::Met);
    // A record without a side: unknown, whether the test is negated or not.
    assert_eq!(outcome(&rule("is bilateral"), unsided), Outcome::Unknown);
    assert_eq!(
        outcome(&rule("is not bilateral"), unsided),
        Outcome::Unknown
    );
}

#[test]
fn a_stage_group_matches_its_sub_stages_but_not_the_next_group() {
    let rule = "condition sle at screening where stage in {II, III}";
    let at = |stage: &str| {
        format!(r#""conditions":[{{"concept":"sle","onset":"2025-01-01","stage":"{stage}"}}]"#)
    };
    assert_eq!(outcome(rule, &at("IIB")), Outcome::Met);
    assert_eq!(outcome(rule, &at("IIIC")), Outcome::Met);
    assert_eq!(outcome(rule, &at("I")), Outcome::NotMet);
    assert_eq!(outcome(rule, &at("IV")), Outcome::NotMet);
    assert_eq!(
        outcome("condition sle at screening where stage is IIA", &at("IIB")),
        Outcome::NotMet
    );
}

#[test]
fn a_body_site_matches_by_code_or_by_site_name_and_an_unplaced_code_is_unknown() {
    let rule = "procedure dialysis within 2 weeks before screening where body_site in leg_sites";
    let at = |site: &str| {
        format!(
            r#""procedures":[{{"concept":"dialysis","date":"2026-03-25","body_site":["{site}"]}}]"#
        )
    };
    assert_eq!(outcome(rule, &at("snomed:26893007")), Outcome::Met);
    assert_eq!(outcome(rule, &at("femoral_region")), Outcome::Met);
    // A SNOMED CT body structure that no site of the protocol has, and no vocabulary to
    // place it: it might be part of the femoral region.
    assert_eq!(outcome(rule, &at("snomed:123456")), Outcome::Unknown);
    // A code in a system the protocol codes no site in cannot be one of them.
    assert_eq!(outcome(rule, &at("icd10:S72")), Outcome::NotMet);
    let unsited = r#""procedures":[{"concept":"dialysis","date":"2026-03-25"}]"#;
    assert_eq!(outcome(rule, unsited), Outcome::Unknown);
    assert_eq!(
        outcome(
            "procedure dialysis within 2 weeks before screening where body_site is not groin",
            &at("snomed:397045007")
        ),
        Outcome::Met
    );
}

#[test]
fn reason_links_a_treatment_to_the_condition_it_was_for() {
    let dialysis = |reason: &str| {
        format!(
            r#""procedures":[{{"concept":"dialysis","date":"2026-03-01","reason":["{reason}"]}}]"#
        )
    };
    let rule = "procedure dialysis before screening where reason in graft_failure";
    assert_eq!(outcome(rule, &dialysis("icd10:T86.10")), Outcome::Met);
    assert_eq!(outcome(rule, &dialysis("icd10:N18.6")), Outcome::Unknown);
    assert_eq!(outcome(rule, &dialysis("hypertension")), Outcome::NotMet);
    let stopped = r#""medications":[{"concept":"prednisone","start":"2025-11-01","end":"2026-01-10","status":"stopped","status_reason":["icd10:I10"]}]"#;
    assert_eq!(
        outcome(
            "medication prednisone within 6 months before screening where status is stopped and status_reason in hypertension",
            stopped
        ),
        Outcome::Met
    );
}

#[test]
fn age_is_counted_in_whole_calendar_years() {
    let plan = plan("inclusion T1 \"t\": age at screening >= 5 years");
    let on =
        patient(r#"{"id":"a","birth_date":"2021-03-31","anchors":{"screening":"2026-03-31"}}"#);
    let after =
        patient(r#"{"id":"b","birth_date":"2021-04-01","anchors":{"screening":"2026-03-31"}}"#);
    let no_birth = patient(r#"{"id":"c","anchors":{"screening":"2026-03-31"}}"#);
    let no_anchor = patient(r#"{"id":"d","birth_date":"2000-01-01"}"#);
    assert_eq!(plan.evaluate(&on, false).criteria[0].outcome, Outcome::Met);
    assert_eq!(
        plan.evaluate(&after, false).criteria[0].outcome,
        Outcome::NotMet
    );
    assert_eq!(
        plan.evaluate(&no_birth, false).criteria[0].outcome,
        Outcome::Unknown
    );
    assert_eq!(
        plan.evaluate(&no_anchor, false).criteria[0].outcome,
        Outcome::Unknown
    );
}

#[test]
fn taken_for_needs_a_continuous_exposure_of_that_length() {
    let merged = r#""medications":[
        {"concept":"methotrexate","start":"2025-01-01","end":"2025-01-31"},
        {"concept":"methotrexate","start":"2025-02-01","end":"2025-03-31"}]"#;
    assert_eq!(
        outcome(
            "medication methotrexate taken for >= 3 months before screening",
            merged
        ),
        Outcome::Met
    );
    let gap = r#""medications":[
        {"concept":"methotrexate","start":"2025-01-01","end":"2025-01-31"},
        {"concept":"methotrexate","start":"2025-02-02","end":"2025-03-31"}]"#;
    assert_eq!(
        outcome(
            "medication methotrexate taken for >= 3 months before screening",
            gap
        ),
        Outcome::NotMet
    );
    let unknown_end =
        r#""medications":[{"concept":"methotrexate","start":"2025-01-01","status":"stopped"}]"#;
    assert_eq!(
        outcome(
            "medication methotrexate taken for >= 3 months before screening",
            unknown_end
        ),
        Outcome::Unknown
    );
}

#[test]
fn count_distinct_is_a_range_when_some_exposures_are_uncertain() {
    let two = r#""medications":[
        {"concept":"methotrexate","start":"2024-01-01","end":"2024-06-30"},
        {"concept":"azathioprine","start":"2023-01-01","end":"2023-06-30"}]"#;
    assert_eq!(
        outcome(
            "count distinct dmard taken for >= 3 months before screening >= 2",
            two
        ),
        Outcome::Met
    );
    let one_uncertain = r#""medications":[
        {"concept":"methotrexate","start":"2024-01-01","end":"2024-06-30"},
        {"concept":"azathioprine","start":"2023-01-01","status":"completed"}]"#;
    assert_eq!(
        outcome(
            "count distinct dmard taken for >= 3 months before screening >= 2",
            one_uncertain
        ),
        Outcome::Unknown
    );
    assert_eq!(
        outcome(
            "count distinct dmard taken for >= 3 months before screening >= 3",
            one_uncertain
        ),
        Outcome::NotMet
    );
}

#[test]
fn sustained_dose_adds_drugs_through_the_equivalence_table_per_kg() {
    // 60 kg: 1 mg/kg/d is 60 mg/d of prednisone; 40 mg/d of methylprednisolone is 50 mg/d.
    let rule = "dose steroids as prednisone >= 1 mg/kg/d sustained 3 months before screening";
    let weight = r#"{"concept":"body_weight","date":"2025-01-01","value":60,"unit":"kg"}"#;
    let together = format!(
        r#""observations":[{weight}],"medications":[
        {{"concept":"methylprednisolone","start":"2025-01-01","end":"2025-06-30","daily_dose":40,"daily_dose_unit":"mg/d"}},
        {{"concept":"prednisone","start":"2025-01-01","end":"2025-06-30","dose":5,"dose_unit":"mg","frequency_per_day":2}}]"#
    );
    assert_eq!(outcome(rule, &together), Outcome::Met);
    let short = format!(
        r#""observations":[{weight}],"medications":[
        {{"concept":"prednisone","start":"2025-01-01","end":"2025-03-30","daily_dose":60,"daily_dose_unit":"mg/d"}}]"#
    );
    assert_eq!(outcome(rule, &short), Outcome::NotMet);
    let no_weight = r#""observations":[],"medications":[
        {"concept":"prednisone","start":"2025-01-01","end":"2025-06-30","daily_dose":60,"daily_dose_unit":"mg/d"}]"#;
    assert_eq!(outcome(rule, no_weight), Outcome::Unknown);
}

#[test]
fn unless_excuses_only_when_the_exception_is_known_to_hold() {
    let rule = "condition gvhd within 1 month before screening unless attested risk_ruled_out";
    let facts = r#""conditions":[{"concept":"gvhd","onset":"2026-03-20"}]"#;
    assert_eq!(outcome(rule, facts), Outcome::Unknown);
    let excused = format!(r#"{facts},"attestations":{{"risk_ruled_out":true}}"#);
    assert_eq!(outcome(rule, &excused), Outcome::NotMet);
    let not_excused = format!(r#"{facts},"attestations":{{"risk_ruled_out":false}}"#);
    assert_eq!(outcome(rule, &not_excused), Outcome::Met);
}

#[test]
fn applies_if_false_makes_a_criterion_not_applicable() {
    let plan = plan("inclusion T1 \"t\":\n applies if sex is female\n attested consent");
    let male = patient(r#"{"id":"m","sex":"male"}"#);
    assert_eq!(
        plan.evaluate(&male, false).criteria[0].outcome,
        Outcome::NotApplicable
    );
    assert_eq!(plan.evaluate(&male, false).verdict, Verdict::Eligible);
}

#[test]
fn unknown_applicability_keeps_an_outcome_that_cannot_exclude() {
    let plan = plan("inclusion T1 \"t\":\n applies if sex is female\n attested consent");
    let met = patient(r#"{"id":"u","attestations":{"consent":true}}"#);
    let not_met = patient(r#"{"id":"v","attestations":{"consent":false}}"#);
    assert_eq!(plan.evaluate(&met, false).criteria[0].outcome, Outcome::Met);
    assert_eq!(
        plan.evaluate(&not_met, false).criteria[0].outcome,
        Outcome::Unknown
    );
}

#[test]
fn verdicts_follow_inclusions_and_exclusions() {
    let plan =
        plan("inclusion I1 \"consent\": attested consent\nexclusion E1 \"gvhd\": condition gvhd");
    let eligible = patient(r#"{"id":"a","conditions":[],"attestations":{"consent":true}}"#);
    let excluded = patient(
        r#"{"id":"b","conditions":[{"concept":"gvhd","onset":"2020-01-01"}],"attestations":{"consent":true}}"#,
    );
    let missing = patient(r#"{"id":"c","conditions":[]}"#);
    let both = patient(r#"{"id":"d","conditions":[{"concept":"gvhd","onset":"2020-01-01"}]}"#);
    assert_eq!(plan.evaluate(&eligible, false).verdict, Verdict::Eligible);
    assert_eq!(plan.evaluate(&excluded, false).verdict, Verdict::Ineligible);
    assert_eq!(plan.evaluate(&missing, false).verdict, Verdict::NeedsReview);
    // An exclusion that is met decides, whatever else is unknown.
    assert_eq!(plan.evaluate(&both, false).verdict, Verdict::Ineligible);
}

#[test]
fn an_inclusion_group_needs_every_applicable_child() {
    let plan = plan(
        "inclusion I4 \"organs\" {\n I4.1 \"a\": attested consent\n I4.2 \"b\": applies if sex is male\n attested risk_ruled_out\n}",
    );
    let p = patient(r#"{"id":"a","sex":"female","attestations":{"consent":true}}"#);
    let r = plan.evaluate(&p, false);
    assert_eq!(
        r.criteria.iter().map(|c| c.outcome).collect::<Vec<_>>(),
        [Outcome::Met, Outcome::Met, Outcome::NotApplicable]
    );
}

#[test]
fn a_missing_anchor_makes_windows_unknown() {
    let plan = plan("inclusion T1 \"t\": procedure dialysis within 3 months before infusion");
    let p = patient(
        r#"{"id":"a","anchors":{"screening":"2026-03-31"},"procedures":[{"concept":"dialysis","date":"2026-03-01"}]}"#,
    );
    assert_eq!(
        plan.evaluate(&p, false).criteria[0].outcome,
        Outcome::Unknown
    );
}

#[test]
fn explanations_quote_the_protocol_and_the_deciding_fact() {
    let plan = plan(
        "inclusion T1 \"Renal\": latest egfr within 28 days before screening >= 30 mL/min/1.73m2",
    );
    let p = patient(
        r#"{"id":"a","anchors":{"screening":"2026-03-31"},"observations":[{"id":"lab-7","concept":"egfr","date":"2026-03-20","value":25,"unit":"mL/min/1.73m2"}]}"#,
    );
    let r = plan.evaluate(&p, true);
    let check = &r.criteria[0].checks[0];
    assert_eq!(
        check.text,
        "latest egfr within 28 days before screening >= 30 mL/min/1.73m2"
    );
    assert!(
        check
            .detail
            .contains("25 mL/min/1.73m2 on 2026-03-20 [lab-7]"),
        "{}",
        check.detail
    );
    let missing = patient(
        r#"{"id":"b","anchors":{"screening":"2026-03-31"},"observations":[{"concept":"egfr","date":"2026-01-02","value":45,"unit":"mL/min/1.73m2"}]}"#,
    );
    let r = plan.evaluate(&missing, true);
    assert!(
        r.criteria[0].checks[0]
            .detail
            .contains("from 2026-03-03 to 2026-03-31; the latest is from 2026-01-02"),
        "{}",
        r.criteria[0].checks[0].detail
    );
}

#[test]
fn times_uln_uses_the_results_own_range_in_the_results_own_unit() {
    // The vocabulary says U/L; a result in ukat/L with its own ULN needs no conversion.
    let facts = r#""observations":[{"concept":"alt","date":"2026-03-20","value":1.5,"unit":"ukat/L","reference_range":{"high":0.6}}]"#;
    assert_eq!(
        outcome(
            "latest alt within 28 days before screening <= 3 x ULN",
            facts
        ),
        Outcome::Met
    );
    // Without its own range the declared default (0 to 40 U/L) is used, converted exactly:
    // 2.5 ukat/L is 150 U/L, above 3 x 40.
    let facts =
        r#""observations":[{"concept":"alt","date":"2026-03-20","value":2.5,"unit":"ukat/L"}]"#;
    assert_eq!(
        outcome(
            "latest alt within 28 days before screening <= 3 x ULN",
            facts
        ),
        Outcome::NotMet
    );
}

#[test]
fn an_icd10_code_in_the_data_matches_its_ancestors_in_the_vocabulary() {
    let plan = plan(
        "condition cancer \"Malignancy\" codes [icd10:C50]\nexclusion E1 \"cancer\": condition cancer",
    );
    let coded =
        patient(r#"{"id":"a","conditions":[{"code":"icd10:C50.911","onset":"2015-01-01"}]}"#);
    let other = patient(r#"{"id":"b","conditions":[{"code":"icd10:C5","onset":"2015-01-01"}]}"#);
    assert_eq!(
        plan.evaluate(&coded, false).criteria[0].outcome,
        Outcome::Met
    );
    // `C5` is not under `C50` by prefix (ICD-10 stops at the three-character category), and
    // without a vocabulary eligc cannot say where it belongs: unknown, not "no cancer".
    assert_eq!(
        plan.evaluate(&other, false).criteria[0].outcome,
        Outcome::Unknown
    );
}

#[test]
fn a_misspelt_concept_name_rejects_the_record_instead_of_dropping_the_fact() {
    let plan = plan("exclusion E1 \"gvhd\": condition gvhd");
    let raw = RawRecord::new(
        "t.jsonl",
        7,
        r#"{"id":"p9","conditions":[{"concept":"gvdh","onset":"2026-01-01"}]}"#,
    );
    let err = plan.screen(&raw, |_| false).unwrap_err();
    assert_eq!(
        (err.line, err.patient.as_deref(), err.path.as_str()),
        (7, Some("p9"), "conditions[0].concept")
    );
    assert!(
        err.reason.contains("did you mean `gvhd`?"),
        "{}",
        err.reason
    );
    // A code the vocabulary lacks is only counted: EHR data carries many unrelated codes.
    let raw = RawRecord::new(
        "t.jsonl",
        8,
        r#"{"id":"p10","conditions":[{"code":"snomed:1234","onset":"2026-01-01"}]}"#,
    );
    assert_eq!(plan.screen(&raw, |_| false).unwrap().unused_facts, 1);
}

/// A creatinine result `value` in `unit` on 2026-03-20, against `rule` (a test of
/// `latest creatinine within 28 days before screening`).
fn creatinine(value: &str, unit: &str, test: &str) -> Outcome {
    let facts = format!(
        r#""observations":[{{"concept":"creatinine","date":"2026-03-20","value":{value},"unit":"{unit}"}}]"#
    );
    outcome(
        &format!("latest creatinine within 28 days before screening {test}"),
        &facts,
    )
}

#[test]
fn a_substance_concentration_meets_a_mass_threshold_through_the_molar_mass() {
    // 1.0 mg/dL = 10 000 / 113.12 umol/L = 88.4017... umol/L.
    assert_eq!(creatinine("88.4", "umol/L", "<= 1.0 mg/dL"), Outcome::Met);
    assert_eq!(
        creatinine("88.41", "umol/L", "<= 1.0 mg/dL"),
        Outcome::NotMet
    );
    assert_eq!(creatinine("88.4", "µmol/L", "<= 1.0 mg/dL"), Outcome::Met);
    assert_eq!(creatinine("0.0884", "mmol/L", "<= 1.0 mg/dL"), Outcome::Met);
    // Exactly at the boundary: 100 umol/L = 100 × 113.12 / 10 000 mg/dL = 1.1312 mg/dL.
    assert_eq!(creatinine("100", "umol/L", "<= 1.1312 mg/dL"), Outcome::Met);
    assert_eq!(
        creatinine("100", "umol/L", "< 1.1312 mg/dL"),
        Outcome::NotMet
    );
    assert_eq!(creatinine("100", "umol/L", ">= 1.1312 mg/dL"), Outcome::Met);
}

#[test]
fn a_mass_concentration_meets_a_substance_threshold_through_the_molar_mass() {
    assert_eq!(creatinine("1.1312", "mg/dL", "<= 100 umol/L"), Outcome::Met);
    assert_eq!(
        creatinine("1.1312", "mg/dL", "> 100 umol/L"),
        Outcome::NotMet
    );
    assert_eq!(creatinine("1.1313", "mg/dL", "> 100 umol/L"), Outcome::Met);
    assert_eq!(
        creatinine("1.5", "mg/dL", "<= 132.6 umol/L"),
        Outcome::NotMet
    );
    // 1.5 mg/dL = 132.60255... umol/L.
    assert_eq!(creatinine("1.5", "mg/dL", "<= 132.61 umol/L"), Outcome::Met);
}

#[test]
fn a_substance_concentration_meets_the_declared_normal_range_through_the_molar_mass() {
    // normal 0.6 to 1.2 mg/dL: 1.2 mg/dL = 106.08... umol/L.
    assert_eq!(
        creatinine("110", "umol/L", "is above normal range"),
        Outcome::Met
    );
    assert_eq!(
        creatinine("106", "umol/L", "is above normal range"),
        Outcome::NotMet
    );
    assert_eq!(creatinine("110", "umol/L", "<= 1.5 x ULN"), Outcome::Met);
    assert_eq!(creatinine("200", "umol/L", "<= 1.5 x ULN"), Outcome::NotMet);
}

#[test]
fn a_substance_concentration_without_a_molar_mass_stays_unknown() {
    let facts =
        r#""observations":[{"concept":"urate","date":"2026-03-20","value":300,"unit":"umol/L"}]"#;
    assert_eq!(
        outcome(
            "latest urate within 28 days before screening <= 7 mg/dL",
            facts
        ),
        Outcome::Unknown
    );
}

#[test]
fn a_substance_threshold_for_an_observation_without_a_molar_mass_is_an_error() {
    let text = format!(
        "{VOCABULARY}\ninclusion T1 \"t\": latest urate within 28 days before screening <= 400 umol/L\n"
    );
    let c = compile_text("t.elig", &text, None);
    let errors: Vec<_> = c.diagnostics.iter().filter(|d| d.is_error()).collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].code, eligc::diagnostic::Code::UnitMismatch);
    assert!(
        errors[0]
            .help
            .as_deref()
            .unwrap_or("")
            .contains("molar mass")
    );
}

/// The criterion T1 of `rule` for a patient screened on 2026-03-31 with `facts`, explained.
fn explained(rule: &str, facts: &str) -> eligc::eval::CriterionResult {
    let plan = plan(&format!("inclusion T1 \"test\": {rule}"));
    let json = format!(
        r#"{{"id":"p","birth_date":"2000-01-01","sex":"female","anchors":{{"screening":"2026-03-31","infusion":"2026-04-30"}},{facts}}}"#
    );
    plan.evaluate(&patient(&json), true).criteria.remove(0)
}

#[test]
fn the_explanation_keeps_the_and_or_structure_of_the_rule() {
    use eligc::eval::{Node, Truth};
    let c = explained(
        "attested consent and (attested risk_ruled_out or sex is male)",
        r#""attestations":{"consent":true,"risk_ruled_out":false}"#,
    );
    assert_eq!(
        c.logic,
        vec![Node::All {
            result: Truth::False,
            items: vec![
                Node::Check(0),
                Node::Any {
                    result: Truth::False,
                    items: vec![Node::Check(1), Node::Check(2)],
                },
            ],
        }]
    );
    assert_eq!(c.checks[2].text, "sex is male");
}

#[test]
fn under_not_an_or_reads_as_all_of_the_negated_checks() {
    use eligc::eval::{Node, Truth};
    let c = explained(
        "not (attested consent or attested risk_ruled_out)",
        r#""attestations":{"consent":false,"risk_ruled_out":false}"#,
    );
    assert_eq!(
        c.logic,
        vec![Node::All {
            result: Truth::True,
            items: vec![Node::Check(0), Node::Check(1)],
        }]
    );
    assert_eq!(c.checks[0].text, "not attested consent");
    assert_eq!(c.checks[0].result, Truth::True);
}

// ---------------------------------------------------------------------------------------
// Values as EHRs export them: bounds, interpretations, annotations, temperatures
// ---------------------------------------------------------------------------------------

fn alt(extra: &str) -> String {
    format!(
        r#""observations":[{{"concept":"alt","date":"2026-03-20","value":10,"unit":"U/L"{extra}}}]"#
    )
}

#[test]
fn a_bound_decides_a_comparison_when_every_value_it_allows_agrees() {
    let within = "latest alt within 28 days before screening";
    let below = alt(r#","comparator":"<""#);
    // <10 is certainly < 20, certainly < 10, certainly not >= 10.
    assert_eq!(outcome(&format!("{within} < 20 U/L"), &below), Outcome::Met);
    assert_eq!(outcome(&format!("{within} < 10 U/L"), &below), Outcome::Met);
    assert_eq!(
        outcome(&format!("{within} >= 10 U/L"), &below),
        Outcome::NotMet
    );
    // ... but not whether it is below 5.
    assert_eq!(
        outcome(&format!("{within} < 5 U/L"), &below),
        Outcome::Unknown
    );
    // <=10 may be 10 exactly.
    let at_most = alt(r#","comparator":"<=""#);
    assert_eq!(
        outcome(&format!("{within} < 10 U/L"), &at_most),
        Outcome::Unknown
    );
    assert_eq!(
        outcome(&format!("{within} <= 10 U/L"), &at_most),
        Outcome::Met
    );
    // >10 is certainly > 10 and > 3, unknown against 50.
    let above = alt(r#","comparator":">""#);
    assert_eq!(outcome(&format!("{within} > 10 U/L"), &above), Outcome::Met);
    assert_eq!(
        outcome(&format!("{within} <= 3 U/L"), &above),
        Outcome::NotMet
    );
    assert_eq!(
        outcome(&format!("{within} > 50 U/L"), &above),
        Outcome::Unknown
    );
}

#[test]
fn a_bound_against_a_multiple_of_the_uln_and_the_normal_range() {
    // ALT's declared normal range is 0 to 40: >130 is certainly above 3 x ULN (120).
    let above = r#""observations":[{"concept":"alt","date":"2026-03-20","value":130,"unit":"U/L","comparator":">"}]"#;
    let within = "latest alt within 28 days before screening";
    assert_eq!(outcome(&format!("{within} > 3 x ULN"), above), Outcome::Met);
    assert_eq!(
        outcome(&format!("{within} is above normal"), above),
        Outcome::Met
    );
    assert_eq!(
        outcome(&format!("{within} <= 5 x ULN"), above),
        Outcome::Unknown
    );
    // <10 is within 0 to 40? It could be below 0 only if negative: the bound says < 10,
    // which the low limit 0 does not settle, so within is unknown, above is false.
    let below = alt(r#","comparator":"<""#);
    assert_eq!(
        outcome(&format!("{within} is above normal"), &below),
        Outcome::NotMet
    );
    assert_eq!(
        outcome(&format!("{within} is within normal"), &below),
        Outcome::Unknown
    );
}

#[test]
fn the_latest_result_that_is_a_bound_is_still_the_latest() {
    let facts = r#""observations":[{"concept":"alt","date":"2026-03-01","value":100,"unit":"U/L"},{"concept":"alt","date":"2026-03-20","value":50,"unit":"U/L","comparator":">"}]"#;
    let within = "latest alt within 28 days before screening";
    assert_eq!(outcome(&format!("{within} > 45 U/L"), facts), Outcome::Met);
    assert_eq!(
        outcome(&format!("{within} > 60 U/L"), facts),
        Outcome::Unknown
    );
}

#[test]
fn an_interpretation_decides_a_range_test_the_value_cannot() {
    // No range on the result and none declared for urate: the value alone cannot say.
    let urate = |extra: &str| {
        format!(
            r#""observations":[{{"concept":"urate","date":"2026-03-20","value":9.1,"unit":"mg/dL"{extra}}}]"#
        )
    };
    let rule = "latest urate within 28 days before screening is above normal";
    assert_eq!(outcome(rule, &urate("")), Outcome::Unknown);
    assert_eq!(
        outcome(rule, &urate(r#","interpretation":"high""#)),
        Outcome::Met
    );
    assert_eq!(
        outcome(rule, &urate(r#","interpretation":"normal""#)),
        Outcome::NotMet
    );
    assert_eq!(
        outcome(rule, &urate(r#","interpretation":"abnormal""#)),
        Outcome::Unknown
    );
    let within = "latest urate within 28 days before screening is within normal";
    assert_eq!(
        outcome(within, &urate(r#","interpretation":"abnormal""#)),
        Outcome::NotMet
    );
    // The value decides when it can, over the interpretation.
    let alt_high = alt(r#","interpretation":"high""#);
    assert_eq!(
        outcome(
            "latest alt within 28 days before screening is above normal",
            &alt_high
        ),
        Outcome::NotMet
    );
}

#[test]
fn an_interpretation_alone_answers_qualitative_tests_of_its_kind() {
    let ecg = |reading: &str| {
        format!(
            r#""observations":[{{"concept":"ecg","date":"2026-03-20","interpretation":"{reading}"}}]"#
        )
    };
    let normal = "latest ecg within 28 days before screening is normal";
    assert_eq!(outcome(normal, &ecg("normal")), Outcome::Met);
    assert_eq!(outcome(normal, &ecg("high")), Outcome::NotMet);
    assert_eq!(outcome(normal, &ecg("positive")), Outcome::Unknown);
    let hbsag =
        r#""observations":[{"concept":"hbsag","date":"2026-03-20","interpretation":"negative"}]"#;
    assert_eq!(
        outcome(
            "latest hbsag within 28 days before screening is negative",
            hbsag
        ),
        Outcome::Met
    );
    assert_eq!(
        outcome(
            "latest hbsag within 28 days before screening is positive",
            hbsag
        ),
        Outcome::NotMet
    );
}

#[test]
fn a_bad_comparator_or_interpretation_is_rejected_with_its_field() {
    for (extra, field) in [
        (r#","comparator":"~""#, "observations[0].comparator"),
        (r#","interpretation":"H""#, "observations[0].interpretation"),
    ] {
        let json = format!(r#"{{"id":"p",{}}}"#, alt(extra));
        let e = RawRecord::new("t.jsonl", 1, json).parse().unwrap_err();
        assert_eq!(e.path, field, "{e}");
    }
    let e = RawRecord::new(
        "t.jsonl",
        1,
        r#"{"id":"p","observations":[{"concept":"hbsag","date":"2026-03-20","result":"negative","comparator":"<"}]}"#,
    )
    .parse()
    .unwrap_err();
    assert_eq!(e.path, "observations[0].comparator", "{e}");
}

#[test]
fn a_score_in_ucum_annotations_reads_as_points() {
    for unit in ["{score}", "{points}", "1"] {
        let facts = format!(
            r#""observations":[{{"concept":"sledai","date":"2026-03-20","value":6,"unit":"{unit}"}}]"#
        );
        assert_eq!(
            outcome("latest sledai within 28 days before screening >= 4", &facts),
            Outcome::Met,
            "{unit}"
        );
    }
    // In the protocol too.
    let facts = r#""observations":[{"concept":"sledai","date":"2026-03-20","value":6}]"#;
    assert_eq!(
        outcome(
            "latest sledai within 28 days before screening >= 8 {score}",
            facts
        ),
        Outcome::NotMet
    );
    // A percentage is not points.
    let pct = r#""observations":[{"concept":"sledai","date":"2026-03-20","value":6,"unit":"%"}]"#;
    assert_eq!(
        outcome("latest sledai within 28 days before screening >= 4", pct),
        Outcome::Unknown
    );
}

#[test]
fn a_fahrenheit_temperature_meets_a_celsius_threshold_exactly() {
    let temp = |value: &str, unit: &str| {
        format!(
            r#""observations":[{{"concept":"temperature","date":"2026-03-30","value":{value},"unit":"{unit}"}}]"#
        )
    };
    let rule = "latest temperature within 2 days before screening >= 37.8 Cel";
    // 37.8 Cel = 100.04 [degF]: at the threshold, and just below it.
    assert_eq!(outcome(rule, &temp("100.04", "[degF]")), Outcome::Met);
    assert_eq!(outcome(rule, &temp("100.03", "[degF]")), Outcome::NotMet);
    assert_eq!(outcome(rule, &temp("311", "K")), Outcome::Met);
    assert_eq!(outcome(rule, &temp("37.7", "Cel")), Outcome::NotMet);
    // And a Fahrenheit threshold.
    assert_eq!(
        outcome(
            "latest temperature within 2 days before screening > 100.4 [degF]",
            &temp("38.1", "Cel")
        ),
        Outcome::Met
    );
}

/// The "To settle" list for a patient with these attestations under these criteria.
fn to_settle(criteria: &str, attestations: &str) -> Vec<(String, String)> {
    let plan = plan(criteria);
    let json = format!(
        r#"{{"id":"p","birth_date":"2000-01-01","sex":"female","anchors":{{"screening":"2026-03-31","infusion":"2026-04-30"}},"attestations":{{{attestations}}}}}"#
    );
    eligc::eval::render::worklist(&plan.evaluate(&patient(&json), true))
}

fn settled_checks(list: &[(String, String)]) -> Vec<String> {
    list.iter()
        .map(|(id, what)| format!("{id} {}", what.split("(for `").nth(1).unwrap_or(what)))
        .collect()
}

#[test]
fn to_settle_skips_an_or_branch_that_already_holds() {
    let list = to_settle(
        r#"inclusion T1 "t": attested consent and (attested risk_ruled_out or sex is male)
           inclusion T2 "t": (attested risk_ruled_out or sex is female) and attested consent"#,
        "",
    );
    // T1: the `or` is unknown (risk_ruled_out unknown, not male), both unknowns count.
    // T2: `sex is female` holds, so risk_ruled_out cannot change T2.
    assert_eq!(
        settled_checks(&list),
        vec![
            "T1 attested consent`)",
            "T1 attested risk_ruled_out`)",
            "T2 attested consent`)"
        ]
    );
}

#[test]
fn to_settle_skips_an_unknown_under_an_and_that_already_fails() {
    let list = to_settle(
        r#"exclusion E1 "t": attested consent or (sex is male and attested risk_ruled_out)"#,
        "",
    );
    assert_eq!(settled_checks(&list), vec!["E1 attested consent`)"]);
}

#[test]
fn to_settle_is_empty_for_an_ineligible_patient() {
    let list = to_settle(
        r#"inclusion T1 "t": sex is male
           inclusion T2 "t": attested consent"#,
        "",
    );
    assert!(list.is_empty(), "{list:?}");
}

#[test]
fn to_settle_says_what_to_record() {
    let list = to_settle(
        r#"inclusion T1 "t": attested consent
           inclusion T2 "t": latest egfr within 28 days before screening >= 30 mL/min/1.73m2"#,
        "",
    );
    assert_eq!(
        list,
        vec![
            (
                "T1".to_string(),
                "record `consent` (\"Consent\", by the patient) as true or false (for `attested consent`)"
                    .to_string()
            ),
            (
                "T2".to_string(),
                "record an eGFR result from 2026-03-03 to 2026-03-31 (for `latest egfr within 28 days before screening >= 30 mL/min/1.73m2`)"
                    .to_string()
            ),
        ]
    );
}

#[test]
fn to_settle_lists_an_unknown_applies_if_only_when_it_matters() {
    // T1 holds whether or not it applies; T2 is unknown, and so is whether it applies.
    let list = to_settle(
        r#"inclusion T1 "t": applies if attested risk_ruled_out
             sex is female
           inclusion T2 "t": applies if attested risk_ruled_out
             attested consent"#,
        "",
    );
    assert_eq!(
        settled_checks(&list),
        vec!["T2 attested risk_ruled_out`)", "T2 attested consent`)"]
    );
}

#[test]
fn to_settle_asks_for_the_reference_range_a_multiple_of_uln_needs() {
    let plan = plan(r#"inclusion T1 "t": latest egfr within 28 days before screening <= 3 x ULN"#);
    let json = r#"{"id":"p","birth_date":"2000-01-01","anchors":{"screening":"2026-03-31"},"observations":[{"id":"g1","concept":"egfr","date":"2026-03-20","value":50,"unit":"mL/min/1.73m2"}]}"#;
    let list = eligc::eval::render::worklist(&plan.evaluate(&patient(json), true));
    assert_eq!(list.len(), 1, "{list:?}");
    assert!(
        list[0]
            .1
            .starts_with("record the reference range of the eGFR result [g1], or a `normal` range"),
        "{list:?}"
    );
}

#[test]
fn an_allergy_to_a_drug_in_the_record_is_found_by_name_or_by_code() {
    let rule = "allergy methotrexate before screening";
    let by_name =
        r#""allergies":[{"concept":"methotrexate","onset":"2020-05-01","status":"active"}]"#;
    assert_eq!(outcome(rule, by_name), Outcome::Met);
    let by_code = r#""allergies":[{"code":"rxnorm:6851","onset":"2020-05-01"}]"#;
    assert_eq!(outcome(rule, by_code), Outcome::Met);
    let other = r#""allergies":[{"concept":"prednisone","onset":"2020-05-01"}]"#;
    assert_eq!(outcome(rule, other), Outcome::NotMet);
}

#[test]
fn allergies_are_unknown_when_the_record_has_no_allergy_list_and_false_when_it_is_empty() {
    let rule = "allergy in dmard before screening";
    assert_eq!(outcome(rule, ""), Outcome::Unknown);
    assert_eq!(outcome(rule, r#""allergies":[]"#), Outcome::NotMet);
}

#[test]
fn a_refuted_allergy_is_not_a_fact() {
    let facts =
        r#""allergies":[{"concept":"azathioprine","onset":"2020-05-01","verification":"refuted"}]"#;
    assert_eq!(
        outcome("allergy in dmard before screening", facts),
        Outcome::NotMet
    );
}

#[test]
fn an_allergy_is_dated_like_a_condition_and_tested_on_status_and_severity() {
    let resolved = r#""allergies":[{"concept":"prednisone","onset":"2019-01-01","end":"2020-01-01","status":"resolved","severity":"severe"}]"#;
    assert_eq!(
        outcome("allergy prednisone at screening", resolved),
        Outcome::NotMet
    );
    assert_eq!(
        outcome("allergy prednisone ever where severity is severe", resolved),
        Outcome::Met
    );
    let no_severity = r#""allergies":[{"concept":"prednisone","onset":"2019-01-01"}]"#;
    assert_eq!(
        outcome(
            "allergy prednisone ever where severity is severe",
            no_severity
        ),
        Outcome::Unknown
    );
}

#[test]
fn an_allergy_naming_something_that_is_not_a_drug_rejects_the_record() {
    let plan = plan("exclusion E1 \"allergy\": allergy prednisone ever");
    let raw = RawRecord::new(
        "t.jsonl",
        3,
        r#"{"id":"p1","allergies":[{"concept":"sle","onset":"2020-01-01"}]}"#,
    );
    let err = plan.screen(&raw, |_| false).unwrap_err();
    assert_eq!(err.path, "allergies[0].concept");
    let raw = RawRecord::new(
        "t.jsonl",
        4,
        r#"{"id":"p2","allergies":[{"concept":"prednisone","status":"remission"}]}"#,
    );
    let err = plan.screen(&raw, |_| false).unwrap_err();
    assert_eq!(err.path, "allergies[0].status");
}

#[test]
fn an_encounter_matches_by_its_class_or_its_type_code() {
    let rule = "encounter inpatient within 6 months before screening";
    let stay = r#""encounters":[{"code":"actcode:IMP","start":"2026-01-10","end":"2026-01-14"}]"#;
    assert_eq!(outcome(rule, stay), Outcome::Met);
    let icu =
        r#""encounters":[{"code":"actcode:IMP","also":["snomed:305351004"],"start":"2026-03-28"}]"#;
    assert_eq!(
        outcome("encounter icu at screening", icu),
        Outcome::Met,
        "an ICU stay with no end goes on"
    );
    let visit = r#""encounters":[{"code":"actcode:AMB","start":"2026-03-01","end":"2026-03-01"}]"#;
    assert_eq!(outcome(rule, visit), Outcome::NotMet);
    assert_eq!(
        outcome("encounter in stays within 6 months before screening", visit),
        Outcome::NotMet
    );
}

#[test]
fn encounters_are_unknown_without_an_encounter_list_and_false_when_it_is_empty() {
    let rule = "encounter in stays within 1 year before screening";
    assert_eq!(outcome(rule, ""), Outcome::Unknown);
    assert_eq!(outcome(rule, r#""encounters":[]"#), Outcome::NotMet);
}

#[test]
fn a_finished_stay_without_an_end_date_is_unknown_after_its_start() {
    let stay = r#""encounters":[{"code":"actcode:IMP","start":"2026-01-10","status":"finished"}]"#;
    assert_eq!(
        outcome("encounter inpatient at screening", stay),
        Outcome::Unknown
    );
    assert_eq!(
        outcome("encounter inpatient within 6 months before screening", stay),
        Outcome::Met
    );
}

#[test]
fn planned_and_cancelled_encounters_are_not_facts() {
    let rule = "encounter inpatient within 1 year before screening";
    let planned = r#""encounters":[{"code":"actcode:IMP","start":"2026-01-10","status":"planned"},{"code":"actcode:IMP","start":"2026-02-10","status":"cancelled"}]"#;
    assert_eq!(outcome(rule, planned), Outcome::NotMet);
}

#[test]
fn the_discharge_destination_is_tested_in_where_and_unknown_when_not_recorded() {
    let rule = "encounter inpatient before screening where discharge is home";
    let home = r#""encounters":[{"code":"actcode:IMP","start":"2025-10-01","end":"2025-10-09","discharge":"home"}]"#;
    assert_eq!(outcome(rule, home), Outcome::Met);
    let nursing = r#""encounters":[{"code":"actcode:IMP","start":"2025-10-01","end":"2025-10-09","discharge":"skilled_nursing"}]"#;
    assert_eq!(outcome(rule, nursing), Outcome::NotMet);
    let unsaid = r#""encounters":[{"code":"actcode:IMP","start":"2025-10-01","end":"2025-10-09"}]"#;
    assert_eq!(outcome(rule, unsaid), Outcome::Unknown);
}

#[test]
fn an_encounter_with_an_unknown_discharge_word_rejects_the_record() {
    let plan = plan("exclusion E1 \"stay\": encounter inpatient ever");
    let raw = RawRecord::new(
        "t.jsonl",
        3,
        r#"{"id":"p1","encounters":[{"code":"actcode:IMP","start":"2026-01-01","discharge":"garden"}]}"#,
    );
    let err = plan.screen(&raw, |_| false).unwrap_err();
    assert_eq!(err.path, "encounters[0].discharge");
}

#[test]
fn at_least_n_of_a_group_counts_met_sub_criteria_and_unknown_ones_either_way() {
    let plan = plan(
        "inclusion T1 \"two risk factors\" at least 2 of {\n  T1.1 \"a\": condition sle ever\n  T1.2 \"b\": condition gvhd ever\n  T1.3 \"c\": attested consent\n}\nexclusion T2 \"any of, as an exclusion\" all of {\n  T2.1 \"a\": condition sle ever\n  T2.2 \"b\": condition gvhd ever\n}",
    );
    let run = |facts: &str| {
        let json = format!(
            r#"{{"id":"p","anchors":{{"screening":"2026-03-31","infusion":"2026-04-30"}},{facts}}}"#
        );
        let r = plan.evaluate(&patient(&json), false);
        (r.criteria[0].outcome, r.criteria[4].outcome)
    };
    let sle = r#"{"concept":"sle","onset":"2020-01-01"}"#;
    let gvhd = r#"{"concept":"gvhd","onset":"2020-01-01"}"#;
    // Two met: met, whatever the third; the exclusion needs both.
    assert_eq!(
        run(&format!(r#""conditions":[{sle},{gvhd}]"#)),
        (Outcome::Met, Outcome::Met)
    );
    // One met, one not, the attestation unknown: it could make two.
    assert_eq!(
        run(&format!(r#""conditions":[{sle}]"#)),
        (Outcome::Unknown, Outcome::NotMet)
    );
    // One met, the other two not: not met.
    assert_eq!(
        run(&format!(
            r#""conditions":[{sle}],"attestations":{{"consent":false}}"#
        )),
        (Outcome::NotMet, Outcome::NotMet)
    );
}

// ---------------------------------------------------------------------------------------
// The as-of date: ongoing facts stop there
// ---------------------------------------------------------------------------------------

/// A prednisone prescription without an end date, started on `start`.
fn ongoing_prednisone(start: &str) -> String {
    format!(
        r#""medications":[{{"id":"rx1","concept":"prednisone","start":"{start}","daily_dose":20,"daily_dose_unit":"mg/d","status":"active"}}]"#
    )
}

#[test]
fn a_prescription_started_two_days_before_screening_is_not_taken_for_three_months_in_any_window() {
    let facts = ongoing_prednisone("2026-03-29");
    for window in [
        "ever",
        "before screening",
        "before infusion",
        "within 1 year before infusion",
        "after screening",
    ] {
        assert_eq!(
            outcome(
                &format!("medication prednisone taken for >= 3 months {window}"),
                &facts
            ),
            Outcome::NotMet,
            "{window}"
        );
    }
    // Nor a sustained dose.
    assert_eq!(
        outcome("dose prednisone >= 10 mg/d sustained 3 months ever", &facts),
        Outcome::NotMet
    );
    // What the record does show: three days (29, 30, 31 March), up to the screening date.
    assert_eq!(
        outcome("medication prednisone taken for >= 3 days ever", &facts),
        Outcome::Met
    );
    assert_eq!(
        outcome("medication prednisone taken for >= 4 days ever", &facts),
        Outcome::NotMet
    );
    // An ongoing prescription is still one at infusion: only durations stop at the as-of
    // date.
    assert_eq!(
        outcome("medication prednisone at infusion", &facts),
        Outcome::Met
    );
}

#[test]
fn three_months_to_the_screening_date_is_the_boundary() {
    // 1 January to 31 March (inclusive) is three calendar months; from 2 January it is not.
    let rule = "medication prednisone taken for >= 3 months ever";
    assert_eq!(
        outcome(rule, &ongoing_prednisone("2026-01-01")),
        Outcome::Met
    );
    assert_eq!(
        outcome(rule, &ongoing_prednisone("2026-01-02")),
        Outcome::NotMet
    );
    assert_eq!(
        outcome(
            "dose prednisone >= 10 mg/d sustained 3 months ever",
            &ongoing_prednisone("2026-01-01")
        ),
        Outcome::Met
    );
}

#[test]
fn a_window_reaching_past_the_as_of_date_may_hold_more_of_an_ongoing_exposure() {
    // From 15 January: 2.5 months known by screening, 3.5 if it goes on to infusion (30
    // April). Whether it does, the record (as of screening) cannot say.
    let facts = ongoing_prednisone("2026-01-15");
    assert_eq!(
        outcome(
            "medication prednisone taken for >= 3 months before infusion",
            &facts
        ),
        Outcome::Unknown
    );
    assert_eq!(
        outcome(
            "medication prednisone taken for >= 3 months before screening",
            &facts
        ),
        Outcome::NotMet
    );
    assert_eq!(
        outcome(
            "medication prednisone taken for >= 2 months before infusion",
            &facts
        ),
        Outcome::Met
    );
    // A window wholly after the as-of date asks about days the record has not seen.
    assert_eq!(
        outcome(
            "medication prednisone taken for >= 3 months within 1 year after screening",
            &ongoing_prednisone("2026-03-29")
        ),
        Outcome::Unknown
    );
}

#[test]
fn a_stopped_prescription_without_an_end_date_ended_by_the_as_of_date() {
    let facts =
        r#""medications":[{"concept":"prednisone","start":"2026-03-29","status":"stopped"}]"#;
    assert_eq!(
        outcome("medication prednisone taken for >= 3 months ever", facts),
        Outcome::NotMet
    );
    assert_eq!(
        outcome("medication prednisone taken for >= 2 days ever", facts),
        Outcome::Unknown
    );
}

#[test]
fn as_of_given_explicitly_extends_what_the_record_shows() {
    let plan = plan("inclusion T1 \"test\": medication prednisone taken for >= 3 months ever");
    let json = format!(
        r#"{{"id":"p","anchors":{{"screening":"2026-03-31"}},{}}}"#,
        ongoing_prednisone("2026-03-29")
    );
    let record = patient(&json);
    assert_eq!(
        plan.evaluate(&record, false).criteria[0].outcome,
        Outcome::NotMet
    );
    // Records extracted on 30 June: still active then, so 29 March to 30 June.
    let later = plan.with_as_of(Some("2026-06-30".parse().unwrap()));
    let result = later.evaluate(&record, true);
    assert_eq!(result.criteria[0].outcome, Outcome::Met);
    let detail = &result.criteria[0].checks[0].detail;
    assert!(
        detail.contains("records without an end count up to the as-of date, 2026-06-30 (--as-of)"),
        "{detail}"
    );
}

#[test]
fn without_a_screening_date_the_as_of_date_is_today() {
    let days = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        / 86_400;
    let today = chrono::NaiveDate::from_ymd_opt(1970, 1, 1)
        .unwrap()
        .checked_add_days(chrono::Days::new(days))
        .unwrap();
    let start = today.checked_sub_days(chrono::Days::new(2)).unwrap();
    let plan = plan("inclusion T1 \"test\": medication prednisone taken for >= 3 months ever");
    let json = format!(r#"{{"id":"p",{}}}"#, ongoing_prednisone(&start.to_string()));
    let result = plan.evaluate(&patient(&json), true);
    assert_eq!(result.criteria[0].outcome, Outcome::NotMet);
    let detail = &result.criteria[0].checks[0].detail;
    assert!(detail.contains("(today)"), "{detail}");
}

/// As [`outcome`], with declarations (`anchor ... = ...`) before the criterion.
fn outcome_with(items: &str, rule: &str, facts: &str) -> Outcome {
    let plan = plan(&format!("{items}\ninclusion T1 \"test\": {rule}"));
    let sep = if facts.is_empty() { "" } else { "," };
    let json = format!(
        r#"{{"id":"p","birth_date":"2000-01-01","sex":"female","anchors":{{"screening":"2026-03-31","infusion":"2026-04-30"}}{sep}{facts}}}"#
    );
    plan.evaluate(&patient(&json), true).criteria[0].outcome
}

#[test]
fn last_chooses_the_most_recent_episode_and_tests_its_start() {
    let rule = "last condition gvhd from 5 years before screening to 3 months before screening";
    let old_and_mid = r#""conditions":[{"concept":"gvhd","onset":"2020-01-01","end":"2020-02-01"},{"concept":"gvhd","onset":"2025-06-01"}]"#;
    assert_eq!(outcome(rule, old_and_mid), Outcome::Met);
    let recent_too = r#""conditions":[{"concept":"gvhd","onset":"2025-06-01","end":"2025-07-01"},{"concept":"gvhd","onset":"2026-03-01"}]"#;
    assert_eq!(
        outcome(rule, recent_too),
        Outcome::NotMet,
        "the most recent episode is a month old"
    );
    assert_eq!(outcome(rule, r#""conditions":[]"#), Outcome::NotMet);
    assert_eq!(outcome(rule, ""), Outcome::Unknown);
}

#[test]
fn first_chooses_the_earliest_start_of_any_member_of_a_set() {
    let rule = "first medication in dmard within 3 months before screening";
    let new_start = r#""medications":[{"concept":"methotrexate","start":"2026-02-01"}]"#;
    assert_eq!(outcome(rule, new_start), Outcome::Met);
    let earlier_other = r#""medications":[{"concept":"methotrexate","start":"2026-02-01"},{"concept":"azathioprine","start":"2020-05-01","end":"2021-05-01"}]"#;
    assert_eq!(outcome(rule, earlier_other), Outcome::NotMet);
}

#[test]
fn an_episode_without_a_date_or_with_an_untested_attribute_leaves_the_choice_unknown() {
    let rule = "last condition gvhd from 5 years before screening to 3 months before screening";
    let undated = r#""conditions":[{"concept":"gvhd","onset":"2025-06-01","end":"2025-07-01"},{"concept":"gvhd"}]"#;
    assert_eq!(
        outcome(rule, undated),
        Outcome::Unknown,
        "the undated episode may be the most recent"
    );
    let graded = "last condition gvhd from 5 years before screening to 3 months before screening where grade >= 2";
    let ungraded_recent = r#""conditions":[{"concept":"gvhd","onset":"2025-06-01","end":"2025-07-01","grade":3},{"concept":"gvhd","onset":"2026-03-01"}]"#;
    assert_eq!(
        outcome(graded, ungraded_recent),
        Outcome::Unknown,
        "the recent episode's grade is not recorded: it may be the last of grade 2"
    );
    let low_recent = r#""conditions":[{"concept":"gvhd","onset":"2025-06-01","end":"2025-07-01","grade":3},{"concept":"gvhd","onset":"2026-03-01","grade":1}]"#;
    assert_eq!(outcome(graded, low_recent), Outcome::Met);
}

const LAST_DIALYSIS: &str =
    "anchor last_dialysis \"Last dialysis\" = last procedure dialysis before screening";

#[test]
fn a_window_can_be_counted_from_an_event_taken_from_the_record() {
    let rule = "condition gvhd within 6 months after last_dialysis";
    let after = r#""procedures":[{"concept":"dialysis","date":"2024-01-01"},{"concept":"dialysis","date":"2025-01-01"}],"conditions":[{"concept":"gvhd","onset":"2025-03-01","end":"2025-04-01"}]"#;
    assert_eq!(outcome_with(LAST_DIALYSIS, rule, after), Outcome::Met);
    let before = r#""procedures":[{"concept":"dialysis","date":"2025-01-01"}],"conditions":[{"concept":"gvhd","onset":"2024-03-01","end":"2024-04-01"}]"#;
    assert_eq!(outcome_with(LAST_DIALYSIS, rule, before), Outcome::NotMet);
}

#[test]
fn a_window_from_an_event_the_record_does_not_have_is_empty_and_one_not_known_is_unknown() {
    let rule = "condition gvhd within 6 months after last_dialysis";
    let gvhd = r#""conditions":[{"concept":"gvhd","onset":"2025-03-01"}]"#;
    let none = format!(r#"{gvhd},"procedures":[]"#);
    assert_eq!(outcome_with(LAST_DIALYSIS, rule, &none), Outcome::NotMet);
    assert_eq!(
        outcome_with(LAST_DIALYSIS, &format!("not {rule}"), &none),
        Outcome::Met
    );
    assert_eq!(
        outcome_with(LAST_DIALYSIS, rule, gvhd),
        Outcome::Unknown,
        "no procedure list: the last dialysis is not known"
    );
    let no_screening = r#"{"id":"p","anchors":{},"procedures":[{"concept":"dialysis","date":"2025-01-01"}],"conditions":[]}"#;
    let plan = plan(&format!("{LAST_DIALYSIS}\ninclusion T1 \"test\": {rule}"));
    assert_eq!(
        plan.evaluate(&patient(no_screening), true).criteria[0].outcome,
        Outcome::Unknown,
        "the anchor's own window needs the screening date"
    );
}

#[test]
fn an_anchor_taken_from_the_record_cannot_be_counted_from_another() {
    let text = format!(
        "{VOCABULARY}\n{LAST_DIALYSIS}\nanchor next \"Next\" = first condition gvhd after last_dialysis\ninclusion T1 \"t\": condition gvhd within 1 month after next\n"
    );
    let c = compile_text("t.elig", &text, None);
    assert!(
        c.diagnostics.iter().any(|d| d.is_error()
            && d.message
                .contains("refers to an anchor taken from the record")),
        "{:?}",
        c.diagnostics
    );
}

#[test]
fn windows_after_an_anchor_taken_from_the_record_are_not_warned_about() {
    let text = format!(
        "{VOCABULARY}\n{LAST_DIALYSIS}\ninclusion T1 \"t\": condition gvhd within 6 months after last_dialysis\n"
    );
    let c = compile_text("t.elig", &text, None);
    assert!(
        !c.diagnostics
            .iter()
            .any(|d| d.code == eligc::diagnostic::Code::WindowAfterAnchor),
        "{:?}",
        c.diagnostics
    );
}

#[test]
fn a_window_from_an_anchor_the_record_does_not_settle_is_unknown_in_every_check_that_uses_it() {
    // A medication whose code eligc cannot place might be the first prednisone: the anchor's
    // date is not known, so both checks over the window counted from it are unknown. (The
    // second once read the window cached while the first was re-checked without the facts
    // eligc cannot place, the unplaced condition among them: empty, so not met.)
    let plan = plan(
        r#"anchor first_steroid "First steroid" = first medication prednisone before screening
inclusion T1 "gvhd": condition gvhd after first_steroid
inclusion T2 "sle": condition sle after first_steroid"#,
    );
    let json = r#"{"id":"p","anchors":{"screening":"2026-03-31"},
        "medications":[{"code":"rxnorm:99999999","start":"2025-01-01"}],
        "conditions":[{"concept":"sle","onset":"2025-06-01"},{"code":"snomed:99999999","onset":"2020-01-01"}]}"#;
    let result = plan.evaluate(&patient(&json.replace('\n', " ")), false);
    assert_eq!(result.criteria[0].outcome, Outcome::Unknown);
    assert_eq!(result.criteria[1].outcome, Outcome::Unknown);
}
