#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)] // tests fail by panicking
//! The terminology stage: OMOP vocabulary tables read in both Athena forms, codes placed
//! under their ancestors' concepts and products under their ingredients, malformed files
//! refused with file:line, and the real OMOP subset beside the repository.

use std::path::{Path, PathBuf};

use eligc::check::compile_text;
use eligc::eval::{Outcome, Plan};
use eligc::facts::RawRecord;
use eligc::program::CodeSystem;
use eligc::vocab;

const PROTOCOL: &str = r#"
protocol "Terminology" version "1"
anchor screening
condition infectious_disease "Infectious disease" codes [snomed:40733004]
condition bacterial_infection "Bacterial infection" codes [snomed:87628006]
condition sle "SLE" codes [snomed:55464009]
condition strep_throat_icd "Streptococcal pharyngitis (ICD-10)" codes [icd10:J02.0]
drug penicillin_v "Penicillin V" codes [rxnorm:7984]
drug prednisone "Prednisone" codes [rxnorm:8640]
drug narrow_penicillins "Beta-lactamase sensitive penicillins" codes [atc:J01CE]
drug methotrexate "Methotrexate" codes [rxnorm:6851]
condition pharyngitis_icd "Pharyngitis (ICD-10 category)" codes [icd10:J02]
vaccine mmr "MMR" codes [cvx:03]
procedure dialysis "Hemodialysis" codes [snomed:302497006]
set dmard = drugs { methotrexate, prednisone, penicillin_v }
condition gvhd "GVHD" codes [snomed:234646005]
set some_conditions = conditions { gvhd, bacterial_infection, sle }
"#;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/vocab")
        .join(name)
}

fn compile(criteria: &str) -> (eligc::program::Program, eligc::source::SourceMap) {
    let text = format!("{PROTOCOL}\n{criteria}\n");
    let c = compile_text("t.elig", &text, None);
    let errors: Vec<_> = c.diagnostics.iter().filter(|d| d.is_error()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    (c.program.unwrap(), c.sources)
}

fn plan(criteria: &str, vocabulary: Option<&Path>) -> Plan {
    let (program, sources) = compile(criteria);
    let plan = Plan::new(program, sources);
    match vocabulary {
        Some(dir) => {
            let v = vocab::load(dir, plan.program(), &[]).unwrap();
            plan.with_vocabulary(v)
        }
        None => plan,
    }
}

/// The outcome of inclusion T1 `rule` for a patient screened on 2026-03-31 with `facts`.
fn outcome(rule: &str, facts: &str, vocabulary: Option<&Path>) -> Outcome {
    screen(rule, facts, vocabulary).criteria[0].outcome
}

/// The whole result of inclusion T1 `rule`, explained.
fn screen(rule: &str, facts: &str, vocabulary: Option<&Path>) -> eligc::eval::PatientResult {
    let plan = plan(&format!("inclusion T1 \"test\": {rule}"), vocabulary);
    let json = format!(
        r#"{{"id":"p","birth_date":"2000-01-01","anchors":{{"screening":"2026-03-31"}},{facts}}}"#
    );
    let raw = RawRecord::new("t.jsonl", 1, &json);
    let record = raw.parse().unwrap();
    plan.evaluate(&record, true)
}

fn condition(code: &str) -> String {
    format!(r#""conditions":[{{"id":"c1","code":"{code}","onset":"2026-02-01"}}]"#)
}

fn medication(code: &str) -> String {
    format!(
        r#""medications":[{{"id":"m1","code":"{code}","start":"2026-02-01","end":"2026-02-10"}}]"#
    )
}

#[test]
fn a_snomed_subtype_matches_a_condition_declared_by_its_ancestor() {
    for form in ["tab", "comma"] {
        let dir = fixture(form);
        // Streptococcal sore throat is a bacterial infection, which is an infectious disease.
        let facts = condition("snomed:43878008");
        for rule in [
            "condition infectious_disease",
            "condition bacterial_infection",
        ] {
            assert_eq!(
                outcome(rule, &facts, Some(&dir)),
                Outcome::Met,
                "{form}: {rule}"
            );
        }
        // The other way round does not hold: an ancestor is not a subtype.
        let facts = condition("snomed:40733004");
        assert_eq!(
            outcome("condition bacterial_infection", &facts, Some(&dir)),
            Outcome::NotMet,
            "{form}"
        );
    }
}

#[test]
fn a_source_code_matches_through_the_standard_concept_it_maps_to() {
    for form in ["tab", "comma"] {
        // ICD-10-CM J02.0 maps to SNOMED 43878008, under infectious disease.
        let facts = condition("icd10:J02.0");
        assert_eq!(
            outcome("condition infectious_disease", &facts, Some(&fixture(form))),
            Outcome::Met,
            "{form}"
        );
        // And a protocol concept declared in ICD-10 matches the SNOMED code it maps to.
        let facts = condition("snomed:43878008");
        assert_eq!(
            outcome("condition strep_throat_icd", &facts, Some(&fixture(form))),
            Outcome::Met,
            "{form}"
        );
    }
}

#[test]
fn a_product_matches_a_drug_declared_by_its_ingredient() {
    for form in ["tab", "comma"] {
        let dir = fixture(form);
        // RxNorm SCD 834102 consists of an SCDC whose ingredient is penicillin V (7984).
        assert_eq!(
            outcome(
                "medication penicillin_v within 3 months before screening",
                &medication("rxnorm:834102"),
                Some(&dir)
            ),
            Outcome::Met,
            "{form}"
        );
        // A branded drug reaches its ingredient through the clinical drug it is a tradename of.
        assert_eq!(
            outcome(
                "medication prednisone within 3 months before screening",
                &medication("rxnorm:208102"),
                Some(&dir)
            ),
            Outcome::Met,
            "{form}"
        );
        // A product of another ingredient is not penicillin V.
        assert_eq!(
            outcome(
                "medication penicillin_v within 3 months before screening",
                &medication("rxnorm:208102"),
                Some(&dir)
            ),
            Outcome::NotMet,
            "{form}"
        );
    }
}

#[test]
fn an_atc_class_reaches_the_products_of_its_ingredients() {
    for form in ["tab", "comma"] {
        assert_eq!(
            outcome(
                "medication narrow_penicillins within 3 months before screening",
                &medication("rxnorm:834102"),
                Some(&fixture(form))
            ),
            Outcome::Met,
            "{form}"
        );
        assert_eq!(
            outcome(
                "medication narrow_penicillins within 3 months before screening",
                &medication("rxnorm:312617"),
                Some(&fixture(form))
            ),
            Outcome::NotMet,
            "{form}"
        );
    }
}

#[test]
fn a_deprecated_relationship_places_nothing() {
    // The tab fixture has `55464009 Is a 40733004` with invalid_reason D.
    let facts = condition("snomed:55464009");
    assert_eq!(
        outcome(
            "condition infectious_disease",
            &facts,
            Some(&fixture("tab"))
        ),
        Outcome::NotMet
    );
}

#[test]
fn both_forms_give_the_same_placements() {
    let (program, _) = compile("");
    let tab = vocab::load(&fixture("tab"), &program, &[]).unwrap();
    let comma = vocab::load(&fixture("comma"), &program, &[]).unwrap();
    assert_eq!(tab.expansions, comma.expansions);
    assert!(!tab.stats.from_ancestor_table);
    assert!(comma.stats.from_ancestor_table);
    assert_eq!(tab.stats.concepts, 14);
    assert_eq!(comma.stats.concepts, 14);
    // Every code of the systems the protocol uses is known, placed or not.
    for v in [&tab, &comma] {
        assert!(v.knows(CodeSystem::Snomed, "444814009"));
        assert!(v.knows(CodeSystem::Icd10, "J02.0"));
        assert!(!v.knows(CodeSystem::Snomed, "1234567"));
    }
}

/// Loads a malformed fixture and gives the error as `file:line: reason` with the fixture
/// folder left out.
fn malformed(name: &str) -> String {
    let (program, _) = compile("");
    let dir = fixture("malformed").join(name);
    let e = vocab::load(&dir, &program, &[]).unwrap_err();
    e.to_string()
        .replace(&format!("{}/", dir.display()), "")
        .replace(&dir.display().to_string(), "DIR")
}

#[test]
fn malformed_vocabularies_are_refused_with_file_line_and_reason() {
    let cases = [
        (
            "bad_concept_id",
            "CONCEPT.csv:3: `concept_id` is `x2`, not a concept id (a whole number)",
        ),
        (
            "short_row",
            "CONCEPT.csv:3: 3 field(s), but the header has 10 column(s)",
        ),
        (
            "unclosed_quote",
            "CONCEPT.csv:3: a quoted field is not closed before the end of the file",
        ),
        (
            "missing_column",
            "CONCEPT_RELATIONSHIP.csv:1: the header has no `relationship_id` column (it has: concept_id_1, concept_id_2, valid_start_date)",
        ),
        (
            "bad_relationship_id",
            "CONCEPT_RELATIONSHIP.csv:3: `concept_id_2` is `-3`, not a concept id (a whole number)",
        ),
        (
            "empty_code",
            "CONCEPT.csv:3: concept 2 has an empty `concept_code`",
        ),
        (
            // Normalised as patient data's codes are: padding trimmed (line 2), a hidden
            // character inside refused.
            "hidden_code",
            "CONCEPT.csv:3: the code `8762\u{200B}8006` holds an invisible character (U+200B zero-width space) inside it: a code with a hidden character looks right but matches nothing (remove the character)",
        ),
        (
            "bad_ancestor",
            "CONCEPT_ANCESTOR.csv:3: `descendant_concept_id` is `two`, not a concept id (a whole number)",
        ),
    ];
    for (name, want) in cases {
        assert_eq!(malformed(name), want, "{name}");
    }
    assert!(
        malformed("no_concept").starts_with("DIR: no CONCEPT.csv here"),
        "{}",
        malformed("no_concept")
    );
}

// ---------------------------------------------------------------------------------------
// The real OMOP vocabulary subset (Synthea 27 NJ): CONCEPT has 2,295 concepts,
// CONCEPT_ANCESTOR is empty and CONCEPT_RELATIONSHIP has 266k rows, most of them naming
// concepts CONCEPT lacks. The pairs below were found with a reading of the CSVs in Python
// (the `Is a` / `RxNorm has ing` / `Consists of` closure, both ends in CONCEPT).
// ---------------------------------------------------------------------------------------

fn subset() -> Option<PathBuf> {
    [
        "../shared/data/omop/synthea27nj",
        "/work/shared/data/omop/synthea27nj",
    ]
    .iter()
    .map(|p| Path::new(env!("CARGO_MANIFEST_DIR")).join(p))
    .find(|p| p.join("CONCEPT.csv").is_file())
    .or_else(|| {
        eprintln!("skipped: the OMOP subset (../shared/data/omop/synthea27nj/) is not here");
        None
    })
}

const REAL: &str = r#"
protocol "Real subset" version "1"
anchor screening
condition sinusitis "Sinusitis" codes [snomed:36971009]
condition uti "Urinary tract infectious disease" codes [snomed:68566005]
condition staph_infection "Infection due to Staphylococcus aureus" codes [snomed:406602003]
drug penicillin_v "Penicillin V" codes [rxnorm:7984]
drug lisinopril "Lisinopril" codes [rxnorm:29046]
drug cefaclor "Cefaclor" codes [rxnorm:2176]
"#;

#[test]
fn the_real_subset_places_products_under_ingredients_and_findings_under_ancestors() {
    let Some(dir) = subset() else { return };
    let c = compile_text("real.elig", REAL, None);
    let program = c.program.unwrap();
    let v = vocab::load(&dir, &program, &[]).unwrap();
    assert_eq!(v.stats.concepts, 2294);
    assert_eq!(v.stats.relationships, 266_588);
    assert!(!v.stats.from_ancestor_table);
    let placed = |concept: &str, system: CodeSystem, code: &str| {
        let id = program
            .concepts
            .iter()
            .position(|c| c.name == concept)
            .unwrap();
        v.expansions
            .iter()
            .any(|(cid, s, c)| cid.0 as usize == id && *s == system && &**c == code)
    };
    // Products under their ingredients (SCD -> Consists of -> SCDC -> RxNorm has ing -> IN).
    assert!(placed("penicillin_v", CodeSystem::Rxnorm, "834102"));
    assert!(placed("penicillin_v", CodeSystem::Rxnorm, "834061"));
    assert!(placed("lisinopril", CodeSystem::Rxnorm, "314076"));
    assert!(placed("lisinopril", CodeSystem::Rxnorm, "314077"));
    assert!(placed("cefaclor", CodeSystem::Rxnorm, "309045"));
    // Findings under their ancestors.
    assert!(placed("sinusitis", CodeSystem::Snomed, "444814009"));
    assert!(placed("sinusitis", CodeSystem::Snomed, "40055000"));
    assert!(placed("uti", CodeSystem::Snomed, "45816000"));
    assert!(placed("uti", CodeSystem::Snomed, "197927001"));
    assert!(placed("staph_infection", CodeSystem::Snomed, "448417001"));
    // Known, and placed elsewhere.
    assert!(!placed("uti", CodeSystem::Snomed, "59621000"));
    assert!(v.knows(CodeSystem::Snomed, "59621000"));
    assert!(!placed("penicillin_v", CodeSystem::Rxnorm, "314076"));
}

// ---------------------------------------------------------------------------------------
// The command line
// ---------------------------------------------------------------------------------------

fn eligc(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_eligc"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

#[test]
fn a_malformed_vocabulary_stops_run_test_and_diff_before_screening_with_exit_1() {
    let dir = "tests/fixtures/vocab/malformed/bad_concept_id";
    let protocol = "protocols/sle-car-t/protocol.elig";
    let runs: [Vec<&str>; 3] = [
        vec![
            "run",
            protocol,
            "protocols/sle-car-t/patients.jsonl",
            "--vocabulary",
            dir,
        ],
        vec!["test", "protocols/sle-car-t", "--vocabulary", dir],
        vec!["diff", protocol, protocol, "--vocabulary", dir],
    ];
    for args in runs {
        let out = eligc(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "", "{args:?}");
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            format!(
                "error: cannot read the vocabulary: {dir}/CONCEPT.csv:3: `concept_id` is `x2`, not a concept id (a whole number)\n"
            ),
            "{args:?}"
        );
    }
}

#[test]
fn run_with_a_vocabulary_says_what_it_read() {
    let out = eligc(&[
        "run",
        "protocols/sle-car-t/protocol.elig",
        "protocols/sle-car-t/patients.jsonl",
        "--vocabulary",
        "tests/fixtures/vocab/tab",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let first = stderr.lines().next().unwrap();
    assert!(
        first.starts_with(
            "vocabulary tests/fixtures/vocab/tab: 14 concepts, 13 relationships, 0 ancestor rows read in "
        ),
        "{first}"
    );
    assert!(
        first.ends_with(
            "hierarchy from CONCEPT_RELATIONSHIP; 7 codes placed under the protocol's concepts"
        ),
        "{first}"
    );
}

// ---------------------------------------------------------------------------------------
// Unplaced codes are unknown, not false
// ---------------------------------------------------------------------------------------

/// Two conditions: `c1` coded `first`, `c2` coded `second`, both in February 2026.
fn conditions(first: &str, second: &str) -> String {
    format!(
        r#""conditions":[{{"id":"c1","code":"{first}","onset":"2026-02-01"}},{{"id":"c2","code":"{second}","onset":"2026-02-03"}}]"#
    )
}

#[test]
fn without_a_vocabulary_an_unplaced_code_makes_a_no_condition_check_unknown() {
    // 43878008 is a streptococcal sore throat: without a vocabulary eligc cannot tell it
    // is an infectious disease, so "no infectious disease" cannot be answered "yes".
    let r = screen(
        "not condition infectious_disease within 3 months before screening",
        &condition("snomed:43878008"),
        None,
    );
    assert_eq!(r.criteria[0].outcome, Outcome::Unknown);
    assert!(r.criteria[0].unplaced);
    assert_eq!(r.unplaced_facts, 1);
    // The explanation names the record and its code, and what would place it.
    let check = &r.criteria[0].checks[0];
    assert!(
        check
            .detail
            .contains("snomed:43878008 from 2026-02-01, ongoing [c1], not placed: no vocabulary to place the code (--vocabulary DIR)"),
        "{}",
        check.detail
    );
    assert!(
        check
            .settle
            .contains("place snomed:43878008 [c1] (run with --vocabulary DIR (an OMOP vocabulary), or add the code to a concept)"),
        "{}",
        check.settle
    );
    // The positive form is unknown too (it is not a silent "not met").
    assert_eq!(
        outcome(
            "condition infectious_disease within 3 months before screening",
            &condition("snomed:43878008"),
            None
        ),
        Outcome::Unknown
    );
}

#[test]
fn with_a_vocabulary_a_code_placed_elsewhere_is_a_definite_no() {
    for form in ["tab", "comma"] {
        // SLE is in the vocabulary, and not under infectious disease.
        let r = screen(
            "not condition infectious_disease within 3 months before screening",
            &condition("snomed:55464009"),
            Some(&fixture(form)),
        );
        assert_eq!(r.criteria[0].outcome, Outcome::Met, "{form}");
        assert!(!r.criteria[0].unplaced);
        assert_eq!(r.unplaced_facts, 0);
        // Viral sinusitis is in the vocabulary but under nothing the protocol names.
        assert_eq!(
            outcome(
                "not condition infectious_disease",
                &condition("snomed:444814009"),
                Some(&fixture(form))
            ),
            Outcome::Met,
            "{form}"
        );
    }
}

#[test]
fn with_a_vocabulary_a_code_it_lacks_is_still_unknown() {
    let r = screen(
        "not condition infectious_disease",
        &condition("snomed:1234567"),
        Some(&fixture("tab")),
    );
    assert_eq!(r.criteria[0].outcome, Outcome::Unknown);
    assert!(r.criteria[0].unplaced);
    assert!(
        r.criteria[0].checks[0]
            .detail
            .contains("snomed:1234567 from 2026-02-01, ongoing [c1], not placed: the code is not in the vocabulary"),
        "{}",
        r.criteria[0].checks[0].detail
    );
}

#[test]
fn a_definite_match_decides_whatever_else_is_unplaced() {
    // c1 is SLE by its own code; c2 cannot be placed.
    let facts = conditions("snomed:55464009", "snomed:1234567");
    assert_eq!(outcome("condition sle", &facts, None), Outcome::Met);
    assert_eq!(outcome("not condition sle", &facts, None), Outcome::NotMet);
    let r = screen("condition sle", &facts, None);
    assert!(!r.criteria[0].unplaced);
}

#[test]
fn exact_and_icd10_prefix_matches_work_without_a_vocabulary() {
    // J02.9 is under the J02 category by prefix; it counts without any vocabulary.
    let facts = condition("icd10:J02.9");
    assert_eq!(
        outcome("condition pharyngitis_icd", &facts, None),
        Outcome::Met
    );
    // A code that matched a concept is placed: it does not make other checks unknown.
    assert_eq!(outcome("not condition sle", &facts, None), Outcome::Met);
}

#[test]
fn a_code_in_a_system_the_protocol_does_not_use_for_that_kind_is_not_unplaced() {
    // Conditions are coded in SNOMED CT and ICD-10 in this protocol; a local code is not.
    let r = screen(
        "not condition infectious_disease",
        &condition("local:flu-like"),
        None,
    );
    assert_eq!(r.criteria[0].outcome, Outcome::Met);
    assert_eq!(r.unplaced_facts, 0);
}

#[test]
fn an_unplaced_fact_outside_the_window_changes_nothing() {
    let facts = r#""conditions":[{"id":"c1","code":"snomed:1234567","onset":"2020-01-01","end":"2020-01-10"}]"#;
    let r = screen(
        "not condition infectious_disease within 3 months before screening",
        facts,
        None,
    );
    assert_eq!(r.criteria[0].outcome, Outcome::Met);
    assert!(!r.criteria[0].unplaced);
    // Nor is it listed where it cannot count.
    assert_eq!(
        r.criteria[0].checks[0].detail,
        "no condition in `infectious_disease` in the record"
    );
}

#[test]
fn count_distinct_with_unplaced_codes_is_a_lower_bound() {
    let meds = |codes: &[&str]| {
        let items: Vec<String> = codes
            .iter()
            .enumerate()
            .map(|(i, c)| {
                format!(r#"{{"id":"m{i}","code":"{c}","start":"2026-01-01","end":"2026-03-01"}}"#)
            })
            .collect();
        format!(r#""medications":[{}]"#, items.join(","))
    };
    let rule = |n: u32| format!("count distinct dmard within 6 months before screening >= {n}");
    // One definite (methotrexate) and one unplaced: at least 1, perhaps 2 or more.
    let one_and_unplaced = meds(&["rxnorm:6851", "rxnorm:999999"]);
    assert_eq!(outcome(&rule(1), &one_and_unplaced, None), Outcome::Met);
    assert_eq!(outcome(&rule(2), &one_and_unplaced, None), Outcome::Unknown);
    let r = screen(&rule(2), &one_and_unplaced, None);
    assert!(r.criteria[0].unplaced);
    assert!(
        r.criteria[0].checks[0]
            .detail
            .contains("? could be any of `dmard`: rxnorm:999999"),
        "{}",
        r.criteria[0].checks[0].detail
    );
    // Two definite: ">= 2" holds whatever the unplaced one is.
    let two_and_unplaced = meds(&["rxnorm:6851", "rxnorm:8640", "rxnorm:999999"]);
    assert_eq!(outcome(&rule(2), &two_and_unplaced, None), Outcome::Met);
    // "< 2" with two definite is a definite no; with one, unknown.
    let below = "count distinct dmard within 6 months before screening < 2";
    assert_eq!(outcome(below, &two_and_unplaced, None), Outcome::NotMet);
    assert_eq!(outcome(below, &one_and_unplaced, None), Outcome::Unknown);
}

#[test]
fn count_events_with_unplaced_codes_gives_a_range() {
    let facts = conditions("snomed:40733004", "snomed:1234567");
    let rule = |op: &str| format!("count condition infectious_disease {op}");
    assert_eq!(outcome(&rule(">= 1"), &facts, None), Outcome::Met);
    assert_eq!(outcome(&rule(">= 2"), &facts, None), Outcome::Unknown);
    assert_eq!(outcome(&rule(">= 3"), &facts, None), Outcome::NotMet);
}

#[test]
fn taken_for_and_dose_treat_an_unplaced_medication_as_possible_only() {
    let unplaced = r#""medications":[{"id":"m1","code":"rxnorm:999999","start":"2025-12-01","end":"2026-03-01","daily_dose":40,"daily_dose_unit":"mg/d"}]"#;
    assert_eq!(
        outcome(
            "medication prednisone taken for >= 1 month before screening",
            unplaced,
            None
        ),
        Outcome::Unknown
    );
    assert_eq!(
        outcome(
            "dose prednisone >= 20 mg/d sustained 2 weeks within 6 months before screening",
            unplaced,
            None
        ),
        Outcome::Unknown
    );
    // With a definite prednisone course long enough, the dose holds regardless.
    let both = r#""medications":[{"id":"m1","code":"rxnorm:999999","start":"2025-12-01","end":"2026-03-01"},{"id":"m2","code":"rxnorm:8640","start":"2026-01-01","end":"2026-02-01","daily_dose":30,"daily_dose_unit":"mg/d"}]"#;
    assert_eq!(
        outcome(
            "dose prednisone >= 20 mg/d sustained 2 weeks within 6 months before screening",
            both,
            None
        ),
        Outcome::Met
    );
    // And "at most" cannot be answered "yes" while an unplaced drug might add to it.
    assert_eq!(
        outcome(
            "dose prednisone <= 40 mg/d sustained 2 weeks within 6 months before screening",
            both,
            None
        ),
        Outcome::Unknown
    );
}

#[test]
fn unplaced_immunizations_and_procedures_are_unknown_too() {
    let vaccine = r#""immunizations":[{"id":"v1","code":"cvx:999","date":"2026-03-20"}]"#;
    assert_eq!(
        outcome(
            "not immunization mmr within 4 weeks before screening",
            vaccine,
            None
        ),
        Outcome::Unknown
    );
    let procedure = r#""procedures":[{"id":"p1","code":"snomed:1234567","date":"2026-03-20"}]"#;
    assert_eq!(
        outcome(
            "not procedure dialysis within 4 weeks before screening",
            procedure,
            None
        ),
        Outcome::Unknown
    );
}

#[test]
fn the_funnel_counts_unknowns_from_unplaced_codes_and_json_carries_them() {
    use eligc::eval::render::Funnel;
    let mut funnel = Funnel::default();
    let rule = "not condition infectious_disease within 3 months before screening";
    funnel.add(&screen(rule, &condition("snomed:1234567"), None));
    funnel.add(&screen(rule, &condition("snomed:55464009"), None));
    funnel.add(&screen(rule, r#""conditions":null"#, None));
    assert_eq!(funnel.needs_review, 2);
    assert_eq!(funnel.unplaced, 1);
    assert_eq!(funnel.criteria[0].unknown, 2);
    assert_eq!(funnel.criteria[0].unplaced, 1);
    let json = serde_json::to_value(&funnel).unwrap();
    assert_eq!(json["unplaced"], 1);
    assert_eq!(json["criteria"][0]["unplaced"], 1);
    let text = funnel.render();
    assert!(text.contains("UNPLACED"), "{text}");
    assert!(
        text.contains("1 of the 2 needing review have unknowns from codes eligc cannot place"),
        "{text}"
    );
    // Per patient, the criterion says so in JSON.
    let r = screen(rule, &condition("snomed:1234567"), None);
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["criteria"][0]["unplaced"], true);
    assert_eq!(json["unplaced_facts"], 1);
}

#[test]
fn a_check_after_an_and_is_decided_is_not_unplaced_whether_explained_or_not() {
    // `sex is female` is false, so the `and` is false whatever the unplaced sore throat is;
    // the criterion is unknown only through prednisone (no medication list). Without
    // explaining, the condition is not evaluated at all; explained (`--format json`), it is
    // shown but must not make the criterion unplaced either: the funnel and the JSON agree.
    let rule = "(sex is female and condition infectious_disease within 3 months before screening) or medication prednisone within 3 months before screening";
    let first = plan(&format!("inclusion T1 \"test\": {rule}"), None);
    let json = format!(
        r#"{{"id":"p","birth_date":"2000-01-01","sex":"male","anchors":{{"screening":"2026-03-31"}},{}}}"#,
        condition("snomed:43878008")
    );
    let raw = RawRecord::new("t.jsonl", 1, &json);
    let record = raw.parse().unwrap();
    for explain in [false, true] {
        let r = first.evaluate(&record, explain);
        assert_eq!(r.criteria[0].outcome, Outcome::Unknown);
        assert!(!r.criteria[0].unplaced, "explain: {explain}");
        assert_eq!(r.unplaced_facts, 1);
    }
    // The same check first: it is what made the criterion unknown, explained or not.
    let rule = "(condition infectious_disease within 3 months before screening and sex is female) or medication prednisone within 3 months before screening";
    let second = plan(&format!("inclusion T1 \"test\": {rule}"), None);
    for explain in [false, true] {
        assert!(second.evaluate(&record, explain).criteria[0].unplaced);
    }
}

#[test]
fn the_real_subset_places_the_penicillin_product_of_the_issue() {
    let Some(dir) = subset() else { return };
    // The issue's patient: a throat infection treated with RxNorm SCD 834102, and a
    // protocol drug declared by its ingredient (7984).
    let rule = "medication penicillin_v within 3 months before screening";
    let facts = medication("rxnorm:834102");
    assert_eq!(outcome(rule, &facts, None), Outcome::Unknown);
    assert_eq!(outcome(rule, &facts, Some(&dir)), Outcome::Met);
    // A product of another ingredient, known to the subset: a definite no.
    assert_eq!(
        outcome(rule, &medication("rxnorm:314076"), Some(&dir)),
        Outcome::NotMet
    );
}

#[test]
fn a_known_code_is_still_unknown_for_a_concept_the_vocabulary_lacks() {
    // The fixture vocabulary has no GVHD (SNOMED 234646005): it cannot say what is under it,
    // so viral sinusitis, which it knows and places under no concept, might still be GVHD
    // for all it can tell; for bacterial infection, whose code it has, it is a definite no.
    let dir = fixture("tab");
    let facts = condition("snomed:444814009");
    assert_eq!(
        outcome("condition gvhd", &facts, Some(&dir)),
        Outcome::Unknown
    );
    assert_eq!(
        outcome("condition bacterial_infection", &facts, Some(&dir)),
        Outcome::NotMet
    );
    let r = screen("condition gvhd", &facts, Some(&dir));
    assert!(r.criteria[0].unplaced);
    assert_eq!(r.unplaced_facts, 0, "the vocabulary knows the code");
    assert!(
        r.criteria[0].checks[0].detail.contains(
            "snomed:444814009 from 2026-02-01, ongoing [c1], not placed: the vocabulary has the code but not the codes of the concept asked about"
        ),
        "{}",
        r.criteria[0].checks[0].detail
    );
    // Count distinct: bacterial infection is definite (43878008); GVHD perhaps.
    let both = conditions("snomed:43878008", "snomed:444814009");
    assert_eq!(
        outcome("count distinct some_conditions >= 1", &both, Some(&dir)),
        Outcome::Met
    );
    assert_eq!(
        outcome("count distinct some_conditions >= 2", &both, Some(&dir)),
        Outcome::Unknown
    );
    // Without the concept the vocabulary lacks, the same facts are decided.
    assert_eq!(outcome("condition sle", &both, Some(&dir)), Outcome::NotMet);
}

#[test]
fn the_real_subset_lacks_some_ingredients_and_says_so() {
    let Some(dir) = subset() else { return };
    // Meperidine 50 MG tablets (RxNorm 861467, in the Synthea bundles) are in the subset's
    // CONCEPT, but the ingredient meperidine (RxNorm 6754) is not: the subset cannot place
    // the product under it, so the answer is unknown, not "no meperidine".
    let protocol = format!(
        "{REAL}\ndrug meperidine \"Meperidine\" codes [rxnorm:6754]\ninclusion T1 \"t\": medication meperidine within 3 months before screening"
    );
    let c = compile_text("real.elig", &protocol, None);
    let plan = Plan::new(c.program.unwrap(), c.sources);
    let v = vocab::load(&dir, plan.program(), &[]).unwrap();
    let plan = plan.with_vocabulary(v);
    let json = format!(
        r#"{{"id":"p","birth_date":"2000-01-01","anchors":{{"screening":"2026-03-31"}},{}}}"#,
        medication("rxnorm:861467")
    );
    let raw = RawRecord::new("t.jsonl", 1, &json);
    let record = raw.parse().unwrap();
    let r = plan.evaluate(&record, true);
    assert_eq!(r.criteria[0].outcome, Outcome::Unknown);
    assert!(r.criteria[0].unplaced);
}

#[test]
fn an_unplaced_fact_is_named_with_its_display() {
    let facts = r#""medications":[{"id":"m1","code":"rxnorm:316049","display":"Hydrochlorothiazide 25 MG","start":"2026-02-01","end":"2026-02-10"}]"#;
    let r = screen(
        "not medication penicillin_v within 3 months before screening",
        facts,
        None,
    );
    assert_eq!(r.criteria[0].outcome, Outcome::Unknown);
    let check = &r.criteria[0].checks[0];
    assert!(
        check.detail.contains(
            "rxnorm:316049 \"Hydrochlorothiazide 25 MG\" 2026-02-01 to 2026-02-10 [m1], not placed"
        ),
        "{}",
        check.detail
    );
    assert!(
        check
            .settle
            .contains("place rxnorm:316049 \"Hydrochlorothiazide 25 MG\" [m1]"),
        "{}",
        check.settle
    );
}

#[test]
fn except_leaves_out_a_subtype_the_vocabulary_places_under_the_excluded_concept() {
    let rule = "condition infectious_disease except bacterial_infection";
    for form in ["tab", "comma"] {
        let dir = fixture(form);
        // Streptococcal sore throat is a bacterial infection: excluded.
        assert_eq!(
            outcome(rule, &condition("snomed:43878008"), Some(&dir)),
            Outcome::NotMet,
            "{form}"
        );
        // An infectious disease that is not a bacterial one still counts.
        assert_eq!(
            outcome(rule, &condition("snomed:40733004"), Some(&dir)),
            Outcome::Met,
            "{form}"
        );
    }
    // Without the vocabulary the subtype's code cannot be placed: it may or may not be
    // an excluded one.
    assert_eq!(
        outcome(rule, &condition("snomed:43878008"), None),
        Outcome::Unknown
    );
}

#[test]
fn any_condition_except_is_decided_for_a_code_the_vocabulary_places_elsewhere() {
    let rule = "any condition except bacterial_infection";
    // Viral sinusitis: the vocabulary knows it, and not under bacterial infection.
    let facts = condition("snomed:444814009");
    assert_eq!(outcome(rule, &facts, Some(&fixture("tab"))), Outcome::Met);
    assert_eq!(outcome(rule, &facts, None), Outcome::Unknown);
    // The excluded concept's own subtype, placed by the vocabulary: nothing else counts.
    assert_eq!(
        outcome(rule, &condition("snomed:43878008"), Some(&fixture("tab"))),
        Outcome::NotMet
    );
}
