#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)] // tests fail by panicking
//! FHIR R4 input (`src/facts/fhir.rs`, `docs/fhir.md`): the hand-written fixtures in
//! `tests/fixtures/fhir/` (every mapped resource and status rule), the same patients in
//! native JSON and in FHIR (same verdicts, same explanations), bad input, Bulk Data
//! exports, and the Synthea bundles of `../shared/data/fhir/` when that folder is present.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use chrono::NaiveDate;
use rust_decimal::Decimal;

use eligc::eval::{Plan, Verdict};
use eligc::facts::fhir::{Stats, bundle_to_record};
use eligc::facts::native::AttestationRecord;
use eligc::facts::{self, InputFormat, PatientRecord, RawRecord, ReadOptions, RecordError};

fn repo(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(repo(&format!("tests/fixtures/fhir/{name}"))).unwrap()
}

fn date(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn convert(text: &str) -> (PatientRecord<'static>, Stats) {
    let value: serde_json::Value = serde_json::from_str(text).unwrap();
    bundle_to_record(&value, &[]).unwrap_or_else(|e| panic!("{e:?}"))
}

fn parse(text: &str) -> Result<PatientRecord<'static>, RecordError> {
    // Leaked: a record borrows its strings from the text it was read from.
    Box::leak(Box::new(RawRecord::new("t.json", 1, text))).parse()
}

fn seed_plan() -> Plan {
    let c = eligc::check::compile_file(&repo("protocols/sle-car-t/protocol.elig")).unwrap();
    Plan::new(c.program.expect("the SLE protocol compiles"), c.sources)
}

/// Every record of a file, read as `eligc run` reads it.
fn records(path: &Path, options: Option<Arc<ReadOptions>>) -> Vec<RawRecord> {
    facts::read_file_with(path, options)
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

// ---------------------------------------------------------------------------------------
// The hand-written fixture: every mapped resource and status rule
// ---------------------------------------------------------------------------------------

#[test]
fn patient_demographics() {
    let (r, stats) = convert(&fixture("all-resources.json"));
    assert_eq!(r.id, "fx-1");
    assert_eq!(r.birth_date, Some(date("1990-05-01")));
    assert_eq!(r.sex, Some(facts::native::RecordedSex::Female));
    assert!(r.anchors.is_empty() && r.attestations.is_empty());
    assert_eq!(stats.patients, 1);
    assert_eq!(stats.skipped.get("Encounter"), None, "encounters are read");
    assert_eq!(stats.skipped.get("Claim"), Some(&1));
}

#[test]
fn encounters_are_read_with_their_class_type_dates_and_discharge() {
    let (r, _) = convert(&fixture("all-resources.json"));
    let encounters = r.encounters.as_ref().unwrap();
    assert_eq!(encounters.len(), 1);
    let e = &encounters[0];
    assert_eq!(e.id.as_deref(), Some("enc-1"));
    // The class first (an R4 Coding), then the type's SNOMED code.
    assert_eq!(e.code.as_deref(), Some("actcode:IMP"));
    assert_eq!(e.also.as_deref(), Some(&["snomed:305351004".into()][..]));
    assert_eq!(
        e.display.as_deref(),
        Some("Admission to intensive care unit")
    );
    assert_eq!(
        (e.start, e.end),
        (date("2025-02-01"), Some(date("2025-02-05")))
    );
    assert_eq!(e.status.as_deref(), Some("finished"));
    // NUBC 01: discharged to home or self care.
    assert_eq!(e.discharge.as_deref(), Some("home"));
}

fn observation<'r>(
    r: &'r PatientRecord<'r>,
    id: &str,
) -> Vec<&'r facts::native::ObservationRecord<'r>> {
    r.observations
        .as_ref()
        .unwrap()
        .iter()
        .filter(|o| o.id.as_deref() == Some(id))
        .collect()
}

#[test]
fn observations_quantities_dates_and_units() {
    let (r, _) = convert(&fixture("all-resources.json"));
    // The date part of a dateTime, in its own offset.
    let egfr = observation(&r, "egfr-1");
    assert_eq!(egfr.len(), 1);
    assert_eq!(egfr[0].code.as_deref(), Some("loinc:33914-3"));
    assert_eq!(egfr[0].date, date("2025-03-18"));
    assert_eq!(egfr[0].value, Some(dec("71")));
    assert_eq!(egfr[0].unit.as_deref(), Some("mL/min/{1.73_m2}"));
    let ast = observation(&r, "ast-1");
    assert_eq!(
        ast[0].date,
        date("2025-03-18"),
        "23:30 at -05:00 is still the 18th there"
    );
    assert_eq!(
        ast[0].reference_range,
        Some(facts::native::RangeRecord {
            low: Some(dec("0")),
            high: Some(dec("40"))
        })
    );
    // effectivePeriod.start, then issued.
    assert_eq!(observation(&r, "plt-1")[0].date, date("2025-03-16"));
    assert_eq!(observation(&r, "hb-1")[0].date, date("2025-03-15"));
    // A missing unit stays missing (the comparison is then unknown at evaluation).
    let wt = observation(&r, "wt-nounit");
    assert_eq!(
        (wt[0].value, wt[0].unit.as_deref()),
        (Some(dec("55")), None)
    );
}

#[test]
fn the_same_lab_in_two_units_at_one_timestamp_gives_two_facts_each_with_its_unit() {
    let (r, _) = convert(&fixture("all-resources.json"));
    let mg = observation(&r, "crea-mg");
    let umol = observation(&r, "crea-umol");
    assert_eq!(
        (mg[0].date, umol[0].date),
        (date("2025-03-18"), date("2025-03-18"))
    );
    assert_eq!(mg[0].unit.as_deref(), Some("mg/dL"));
    assert_eq!(umol[0].unit.as_deref(), Some("umol/L"));
    assert_eq!(mg[0].reference_range.and_then(|x| x.high), Some(dec("1.1")));
    assert_eq!(umol[0].reference_range, None);
}

#[test]
fn a_reference_range_in_another_unit_is_dropped_and_counted() {
    let (r, stats) = convert(&fixture("all-resources.json"));
    let alt = observation(&r, "alt-1");
    assert_eq!(alt[0].value, Some(dec("41")));
    assert_eq!(alt[0].reference_range, None);
    assert_eq!(
        stats
            .ignored
            .get("Observation: reference range in another unit"),
        Some(&1)
    );
}

#[test]
fn qualitative_results_from_codes_and_text_with_zero_width_characters() {
    let (r, _) = convert(&fixture("all-resources.json"));
    let word = |id: &str| observation(&r, id)[0].result.clone();
    assert_eq!(
        word("hcg-1").as_deref(),
        Some("negative"),
        "SNOMED 260385009"
    );
    assert_eq!(
        word("anc-1").as_deref(),
        Some("positive"),
        "SNOMED 10828004"
    );
    assert_eq!(
        word("hcv-1").as_deref(),
        Some("non-reactive"),
        "valueString, zero-width space removed"
    );
    assert_eq!(
        word("hbsag-1").as_deref(),
        Some("not detected"),
        "text, zero-width space removed"
    );
    // A zero-width character after the code (as exported) is trimmed: the code matches.
    assert_eq!(
        observation(&r, "hbsag-1")[0].code.as_deref(),
        Some("loinc:5196-1")
    );
    assert!(observation(&r, "hcg-1")[0].unit.is_none());
}

#[test]
fn mcode_cancer_disease_status_codes_become_disease_status_words() {
    let status = |id: &str, code: &str| {
        format!(
            r#"{{"resource":{{"resourceType":"Observation","id":"{id}","status":"final","subject":{{"reference":"Patient/p"}},"effectiveDateTime":"2026-02-01","code":{{"coding":[{{"system":"http://loinc.org","code":"97509-4"}}]}},"valueCodeableConcept":{{"coding":[{{"system":"http://snomed.info/sct","code":"{code}"}}]}}}}}}"#
        )
    };
    let bundle = format!(
        r#"{{"resourceType":"Bundle","type":"collection","entry":[{{"fullUrl":"urn:p","resource":{{"resourceType":"Patient","id":"p","gender":"male","birthDate":"1970-01-01"}}}},{},{},{},{}]}}"#,
        status("worse", "271299001"),
        status("same", "359746009"),
        status("partial", "551001000124108"),
        status("unsure", "709137006"),
    );
    let (r, _) = convert(&bundle);
    let word = |id: &str| observation(&r, id)[0].result.clone();
    assert_eq!(word("worse").as_deref(), Some("progressing"));
    assert_eq!(word("same").as_deref(), Some("stable"));
    assert_eq!(word("partial").as_deref(), Some("partial remission"));
    assert_eq!(word("unsure").as_deref(), Some("undetermined"));
}

#[test]
fn bounds_interpretations_answer_codes_and_units_as_ehrs_export_them() {
    let (r, stats) = convert(&fixture("as-exported.json"));
    let one = |id: &str| observation(&r, id)[0].clone();
    let alt = one("alt-bound");
    assert_eq!(
        (alt.value, alt.comparator.as_deref()),
        (Some(dec("10")), Some("<"))
    );
    // `ad` is not a bound on a result: left out, counted.
    assert!(observation(&r, "alt-ad").is_empty());
    assert_eq!(
        stats
            .ignored
            .get("Observation: value with a comparator other than <, <=, >=, >"),
        Some(&1)
    );
    assert_eq!(
        one("urate-high").interpretation.as_deref(),
        Some("high"),
        "HH"
    );
    let hbsag = one("hbsag-neg");
    assert_eq!(
        (
            hbsag.value,
            hbsag.result.as_deref(),
            hbsag.interpretation.as_deref()
        ),
        (None, None, Some("negative")),
        "an interpretation with no value is still a result"
    );
    assert_eq!(
        one("ecg-normal").result.as_deref(),
        Some("normal"),
        "SNOMED 164854000"
    );
    assert_eq!(
        one("anti-dsdna-pos").result.as_deref(),
        Some("positive"),
        "LOINC LA6576-8"
    );
    assert_eq!(one("temp-f").unit.as_deref(), Some("[degF]"));
    assert_eq!(one("ecog-score").unit.as_deref(), Some("{score}"));
}

#[test]
fn fhir_values_as_exported_decide_checks() {
    let text = r#"
protocol "As exported" version "1"
anchor screening
observation alt "ALT" unit U/L codes [loinc:1742-6]
observation urate "Urate" unit mg/dL codes [loinc:3084-1]
observation hbsag "HBsAg" qualitative codes [loinc:5196-1]
observation ecg "ECG" qualitative codes [loinc:8601-7]
observation anti_dsdna "Anti-dsDNA" qualitative codes [loinc:5130-0]
observation temperature "Temperature" unit Cel codes [loinc:8310-5]
score ecog "ECOG" codes [loinc:89247-1]
inclusion I1 "ALT below 3 x ULN": latest alt within 28 days before screening < 3 x ULN
inclusion I2 "urate high": latest urate within 28 days before screening is above normal
inclusion I3 "HBsAg negative": latest hbsag within 28 days before screening is negative
inclusion I4 "ECG normal": latest ecg within 28 days before screening is normal
inclusion I5 "anti-dsDNA positive": latest anti_dsdna within 28 days before screening is positive
inclusion I6 "fever": latest temperature within 28 days before screening >= 38 Cel
inclusion I7 "ECOG 0-1": latest ecog within 28 days before screening <= 1
"#;
    let c = eligc::check::compile_text("t.elig", text, None);
    let errors: Vec<_> = c.diagnostics.iter().filter(|d| d.is_error()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    let plan = Plan::new(c.program.unwrap(), c.sources);
    let (mut record, _) = convert(&fixture("as-exported.json"));
    record
        .anchors
        .insert("screening".into(), date("2026-03-31"));
    let result = plan.evaluate(&record, true);
    let outcomes: Vec<(String, eligc::eval::Outcome)> = result
        .criteria
        .iter()
        .map(|c| (c.id.to_string(), c.outcome))
        .collect();
    use eligc::eval::Outcome::Met;
    // 100.4 [degF] = 38 Cel exactly.
    let expected: Vec<(String, eligc::eval::Outcome)> = ["I1", "I2", "I3", "I4", "I5", "I6", "I7"]
        .iter()
        .map(|id| (id.to_string(), Met))
        .collect();
    assert_eq!(outcomes, expected, "{:#?}", result.criteria);
    assert_eq!(result.verdict, Verdict::Eligible);
}

#[test]
fn a_code_system_the_protocol_declares_by_url_reads_fhir_codings_of_that_system() {
    // A SLEDAI-2K total has no LOINC code: the site codes it in its own system.
    let bundle = r#"{"resourceType":"Bundle","entry":[
      {"resource":{"resourceType":"Patient","id":"s1"}},
      {"resource":{"resourceType":"Observation","id":"sledai-1","status":"final",
        "subject":{"reference":"Patient/s1"},"effectiveDateTime":"2026-03-20",
        "code":{"coding":[{"system":"http://example.org/fhir/sledai/","code":"total"}]},
        "valueQuantity":{"value":8,"unit":"{score}","system":"http://unitsofmeasure.org","code":"{score}"}}},
      {"resource":{"resourceType":"Observation","id":"other-1","status":"final",
        "subject":{"reference":"Patient/s1"},"effectiveDateTime":"2026-03-20",
        "code":{"coding":[{"system":"http://example.org/fhir/other","code":"total"}]},
        "valueQuantity":{"value":2}}}
    ]}"#;
    let (mut record, _) = convert(bundle);
    // Kept as `URL|code`, the trailing `/` dropped.
    assert_eq!(
        observation(&record, "sledai-1")[0].code.as_deref(),
        Some("http://example.org/fhir/sledai|total")
    );
    let text = r#"
protocol "Declared systems" version "1"
anchor screening
codesystem sledai_site = "http://example.org/fhir/sledai"
score sledai "SLEDAI-2K" codes [sledai_site:total]
inclusion I1 "active": latest sledai within 28 days before screening >= 6
"#;
    let c = eligc::check::compile_text("t.elig", text, None);
    assert!(!c.has_errors(), "{:?}", c.diagnostics);
    let plan = Plan::new(c.program.unwrap(), c.sources);
    record
        .anchors
        .insert("screening".into(), date("2026-03-31"));
    let result = plan.evaluate(&record, false);
    assert_eq!(result.verdict, Verdict::Eligible);
    // The other system's observation is not SLEDAI: counted as unused.
    assert_eq!(result.unused_facts, 1);
    // The same code in native data, written `URL|code`.
    let native = parse(
        r#"{"id":"n1","anchors":{"screening":"2026-03-31"},"observations":[{"code":"http://example.org/fhir/sledai|total","date":"2026-03-20","value":5}]}"#,
    )
    .unwrap();
    assert_eq!(plan.evaluate(&native, false).verdict, Verdict::Ineligible);
    // A malformed one is rejected with its field.
    let e = parse(r#"{"id":"n2","observations":[{"code":"example sledai|total","date":"2026-03-20","value":5}]}"#)
        .unwrap_err();
    assert_eq!(e.path, "observations[0]", "{e}");
}

#[test]
fn components_become_one_observation_each_and_the_panel_none() {
    let (r, _) = convert(&fixture("all-resources.json"));
    let bp = observation(&r, "bp-1");
    let codes: Vec<_> = bp.iter().map(|o| o.code.clone().unwrap()).collect();
    assert_eq!(codes, ["loinc:8480-6", "loinc:8462-4"]);
    assert_eq!(bp[0].value, Some(dec("118")));
    assert_eq!(bp[1].unit.as_deref(), Some("mm[Hg]"));
}

#[test]
fn observation_status_rules_and_values_eligc_cannot_use_are_counted() {
    let (r, stats) = convert(&fixture("all-resources.json"));
    for gone in ["egfr-bad", "egfr-cancel", "novalue-1"] {
        assert!(observation(&r, gone).is_empty(), "{gone} is not a fact");
    }
    assert_eq!(stats.ignored.get("Observation: entered-in-error"), Some(&1));
    assert_eq!(stats.ignored.get("Observation: cancelled"), Some(&1));
    assert_eq!(stats.ignored.get("Observation: no value"), Some(&1));
}

#[test]
fn conditions_codes_statuses_and_dates() {
    let (r, stats) = convert(&fixture("all-resources.json"));
    let conditions = r.conditions.as_ref().unwrap();
    let ids: Vec<_> = conditions.iter().map(|c| c.id.clone().unwrap()).collect();
    assert_eq!(
        ids,
        ["dx-sle", "dx-uti"],
        "refuted and entered-in-error are not facts"
    );
    let sle = &conditions[0];
    // SNOMED CT first, whatever the order of the codings; the ICD-10 coding is kept.
    assert_eq!(sle.code.as_deref(), Some("snomed:55464009"));
    assert_eq!(sle.also, Some(vec!["icd10:M32.14".into()]));
    assert_eq!(sle.onset, Some(date("2016-08-30")));
    assert_eq!(sle.status.as_deref(), Some("active"));
    assert_eq!(sle.verification.as_deref(), Some("confirmed"));
    assert_eq!(sle.severity.as_deref(), Some("severe"));
    let uti = &conditions[1];
    assert_eq!(uti.code.as_deref(), Some("icd10:N39.0"));
    assert_eq!(
        (uti.onset, uti.end),
        (Some(date("2024-07-02")), Some(date("2024-07-12")))
    );
    assert_eq!(uti.status.as_deref(), Some("resolved"));
    assert_eq!(stats.ignored.get("Condition: refuted"), Some(&1));
    assert_eq!(stats.ignored.get("Condition: entered-in-error"), Some(&1));
}

#[test]
fn medications_request_reference_statement_administration() {
    let (r, stats) = convert(&fixture("all-resources.json"));
    let meds = r.medications.as_ref().unwrap();
    let ids: Vec<_> = meds.iter().map(|m| m.id.clone().unwrap()).collect();
    assert_eq!(ids, ["rx-pred", "rx-tac", "ms-hcq", "ma-rtx"]);
    let pred = &meds[0];
    assert_eq!(pred.code.as_deref(), Some("rxnorm:8640"));
    assert_eq!(pred.start, date("2024-09-01"));
    assert_eq!(
        pred.end,
        Some(date("2024-11-29")),
        "90 days of supply, the first day included"
    );
    assert_eq!(
        (pred.dose, pred.dose_unit.as_deref()),
        (Some(dec("5")), Some("mg"))
    );
    assert_eq!(pred.frequency_per_day, Some(dec("2")));
    assert_eq!(pred.route.as_deref(), Some("oral"));
    assert_eq!(pred.status.as_deref(), Some("active"));
    // medicationReference to a Medication in the Bundle; every 12 h = twice a day.
    let tac = &meds[1];
    assert_eq!(tac.code.as_deref(), Some("rxnorm:42316"));
    assert_eq!(tac.frequency_per_day, Some(dec("2")));
    assert_eq!(tac.end, None);
    let hcq = &meds[2];
    assert_eq!(
        (hcq.start, hcq.end),
        (date("2018-03-01"), Some(date("2024-12-31")))
    );
    assert_eq!(hcq.status.as_deref(), Some("completed"));
    let rtx = &meds[3];
    assert_eq!(
        (rtx.start, rtx.end),
        (date("2024-06-03"), Some(date("2024-06-03")))
    );
    assert_eq!(rtx.route.as_deref(), Some("intravenous"));
    assert_eq!(rtx.dose, Some(dec("500")));
    for status in [
        "MedicationRequest: cancelled",
        "MedicationRequest: draft",
        "MedicationRequest: entered-in-error",
        "MedicationStatement: not-taken",
        "MedicationAdministration: not-done",
    ] {
        assert_eq!(stats.ignored.get(status), Some(&1), "{status}");
    }
}

#[test]
fn immunizations_and_procedures() {
    let (r, stats) = convert(&fixture("all-resources.json"));
    let imm = r.immunizations.as_ref().unwrap();
    assert_eq!(imm.len(), 1, "not-done and entered-in-error are not facts");
    assert_eq!(imm[0].code.as_deref(), Some("cvx:140"));
    assert_eq!(imm[0].date, date("2024-10-01"));
    assert_eq!(stats.ignored.get("Immunization: not-done"), Some(&1));
    assert_eq!(
        stats.ignored.get("Immunization: entered-in-error"),
        Some(&1)
    );
    let pr = r.procedures.as_ref().unwrap();
    assert_eq!(pr.len(), 2);
    assert_eq!(
        (pr[0].date, pr[0].end),
        (date("2025-01-05"), Some(date("2025-02-05")))
    );
    assert_eq!((pr[1].date, pr[1].end), (date("2024-11-20"), None));
    assert_eq!(stats.ignored.get("Procedure: not-done"), Some(&1));
}

#[test]
fn a_domain_with_no_resource_in_the_bundle_is_not_recorded() {
    let text = r#"{"resourceType":"Bundle","entry":[
        {"resource":{"resourceType":"Patient","id":"p"}},
        {"resource":{"resourceType":"Condition","id":"c","subject":{"reference":"Patient/p"},
          "verificationStatus":{"coding":[{"code":"refuted"}]},"code":{"coding":[{"system":"http://snomed.info/sct","code":"1"}]}}}]}"#;
    let (r, _) = convert(text);
    assert_eq!(
        r.conditions,
        Some(vec![]),
        "a Condition resource was there: recorded, none"
    );
    assert_eq!(r.observations, None);
    assert_eq!(r.medications, None);
}

// ---------------------------------------------------------------------------------------
// Several codings per fact
// ---------------------------------------------------------------------------------------

#[test]
fn a_fact_matches_a_concept_through_any_of_its_codes() {
    let c = eligc::check::compile_text(
        "t.elig",
        "protocol \"t\" version \"1\"\nanchor screening\ncondition sle \"SLE\" codes [icd10:M32]\ninclusion I1 \"SLE\": condition sle before screening\n",
        None,
    );
    let plan = Plan::new(c.program.unwrap(), c.sources);
    let text = r#"{"id":"p","anchors":{"screening":"2026-01-01"},"conditions":[
        {"id":"d","code":"snomed:55464009","also":["icd10:M32.14"],"onset":"2020-01-01"}]}"#;
    let result = plan.evaluate(&parse(text).unwrap(), false);
    assert_eq!(
        result.verdict,
        Verdict::Eligible,
        "the ICD-10 code (an M32 descendant) matches"
    );
    assert_eq!(result.unused_facts, 0);
    // `also` without `code` is refused, and each of its codes is checked.
    let e =
        parse(r#"{"id":"p","conditions":[{"concept":"sle","also":["icd10:M32"]}]}"#).unwrap_err();
    assert_eq!(e.path, "conditions[0].also[0]");
    let e = parse(r#"{"id":"p","conditions":[{"code":"snomed:1","also":["x:1"]}]}"#).unwrap_err();
    assert_eq!(e.path, "conditions[0].also[0]");
}

// ---------------------------------------------------------------------------------------
// Anchors and attestations beside FHIR data
// ---------------------------------------------------------------------------------------

#[test]
fn anchors_and_the_side_file_are_merged() {
    let side_path = repo("tests/fixtures/fhir/equivalence.side.jsonl");
    let side = ReadOptions::read_side_file(&side_path).unwrap();
    let mut anchors = BTreeMap::new();
    anchors.insert("screening".to_string(), date("2026-03-31"));
    let options = Arc::new(ReadOptions {
        anchors,
        side,
        ..ReadOptions::default()
    });
    let path = repo("tests/fixtures/fhir/equivalence.ndjson");
    let recs = records(&path, Some(options.clone()));
    let one = recs[0].parse().unwrap();
    assert_eq!(one.anchors.get("screening"), Some(&date("2026-03-31")));
    assert_eq!(
        one.attestations.get("informed_consent"),
        Some(&AttestationRecord::Value(Some(true)))
    );
    let two = recs[1].parse().unwrap();
    assert!(two.attestations.is_empty(), "eq-2 is not in the side file");
    // A native record keeps its own anchors; --anchor only fills those it lacks.
    let native = r#"{"id":"n","anchors":{"screening":"2020-01-01"}}"#;
    let raw = RawRecord {
        options: Some(options.clone()),
        ..RawRecord::new("n.jsonl", 1, native)
    };
    assert_eq!(
        raw.parse().unwrap().anchors.get("screening"),
        Some(&date("2020-01-01"))
    );
    let raw = RawRecord {
        options: Some(options.clone()),
        ..RawRecord::new("n.jsonl", 1, r#"{"id":"n"}"#)
    };
    assert_eq!(
        raw.parse().unwrap().anchors.get("screening"),
        Some(&date("2026-03-31"))
    );
    assert_eq!(options.fhir_stats().patients, 2);
    assert!(ReadOptions::parse_anchor("screening=2026-02-30").is_err());
    assert_eq!(
        ReadOptions::parse_anchor("infusion=2026-04-28").unwrap(),
        ("infusion".to_string(), date("2026-04-28"))
    );
}

// ---------------------------------------------------------------------------------------
// Same verdicts and explanations, native or FHIR
// ---------------------------------------------------------------------------------------

#[test]
fn the_same_patients_in_native_json_and_in_fhir_get_the_same_results() {
    let plan = seed_plan();
    let native = records(&repo("tests/fixtures/fhir/equivalence.jsonl"), None);
    let mut anchors = BTreeMap::new();
    for (name, d) in [
        ("screening", "2026-03-31"),
        ("infusion", "2026-04-28"),
        ("consent", "2026-03-24"),
    ] {
        anchors.insert(name.to_string(), date(d));
    }
    let side =
        ReadOptions::read_side_file(&repo("tests/fixtures/fhir/equivalence.side.jsonl")).unwrap();
    let options = Arc::new(ReadOptions {
        format: InputFormat::Fhir,
        anchors,
        side,
        ..ReadOptions::default()
    });
    let fhir = records(
        &repo("tests/fixtures/fhir/equivalence.ndjson"),
        Some(options),
    );
    assert_eq!(native.len(), fhir.len());
    let mut verdicts = Vec::new();
    for (n, f) in native.iter().zip(&fhir) {
        let a = plan.screen(n, |_| true).unwrap();
        let b = plan.screen(f, |_| true).unwrap();
        assert_eq!(
            serde_json::to_string_pretty(&a).unwrap(),
            serde_json::to_string_pretty(&b).unwrap()
        );
        assert_eq!(a, b);
        verdicts.push(a.verdict);
    }
    // Not a vacuous comparison: the two patients end differently, E10 (live vaccine) and
    // E6 (HBsAg positive with HBV DNA above normal) exclude the second.
    assert_eq!(verdicts, [Verdict::NeedsReview, Verdict::Ineligible]);
    let second = plan.screen(&fhir[1], |_| true).unwrap();
    assert!(
        second.excluding().contains(&"E10"),
        "{:?}",
        second.excluding()
    );
}

// ---------------------------------------------------------------------------------------
// Bad input: a per-record error, never a panic
// ---------------------------------------------------------------------------------------

fn fhir_error(text: &str) -> RecordError {
    let options = Arc::new(ReadOptions {
        format: InputFormat::Fhir,
        ..ReadOptions::default()
    });
    let raw = RawRecord {
        options: Some(options),
        ..RawRecord::new("bad.ndjson", 7, text)
    };
    raw.parse().unwrap_err()
}

const PATIENT: &str =
    r#"{"fullUrl":"urn:uuid:p1","resource":{"resourceType":"Patient","id":"p1"}}"#;

#[test]
fn json_that_is_not_fhir() {
    let e = fhir_error(r#"{"id":"p","sex":"female"}"#);
    assert_eq!(
        (e.file.as_str(), e.line, e.path.as_str()),
        ("bad.ndjson", 7, "resourceType")
    );
    assert!(e.reason.contains("not FHIR"), "{e}");
    let e = fhir_error(r#"{"resourceType":"Observation","id":"o"}"#);
    assert!(e.reason.contains("on its own"), "{e}");
    let e = fhir_error("[1, 2]");
    assert!(e.reason.contains("not a JSON object"), "{e}");
    let e = fhir_error(r#"{"resourceType":"Bundle","#);
    assert!(e.reason.starts_with("not JSON"), "{e}");
    let e = fhir_error(r#"{"resourceType":"Bundle","entry":[]}"#);
    assert!(e.reason.contains("no Patient"), "{e}");
}

#[test]
fn a_resource_without_a_subject() {
    let text = format!(
        r#"{{"resourceType":"Bundle","entry":[{PATIENT},{{"resource":{{"resourceType":"Observation","id":"o","code":{{}}}}}}]}}"#
    );
    let e = fhir_error(&text);
    assert_eq!(e.path, "entry[1].resource.subject");
    assert_eq!(e.patient.as_deref(), Some("p1"));
    let text = format!(
        r#"{{"resourceType":"Bundle","entry":[{PATIENT},{{"resource":{{"resourceType":"Condition","subject":{{"reference":"Patient/zz"}}}}}}]}}"#
    );
    assert_eq!(
        fhir_error(&text).path,
        "entry[1].resource.subject.reference"
    );
}

#[test]
fn an_unparseable_date() {
    for bad in ["2019-13-01", "12/11/2019", "2019-11-12 20:32", "20191112"] {
        let text = format!(
            r#"{{"resourceType":"Bundle","entry":[{PATIENT},{{"resource":{{"resourceType":"Observation","id":"o","subject":{{"reference":"urn:uuid:p1"}},"code":{{"coding":[{{"system":"http://loinc.org","code":"1-8"}}]}},"effectiveDateTime":"{bad}","valueQuantity":{{"value":1}}}}}}]}}"#
        );
        let e = fhir_error(&text);
        assert_eq!(e.path, "entry[1].resource.effectiveDateTime", "{bad}");
        assert!(e.reason.contains("not a FHIR date"), "{bad}: {e}");
    }
}

#[test]
fn a_bundle_entry_that_is_not_an_object() {
    let text = format!(r#"{{"resourceType":"Bundle","entry":[{PATIENT}, 42]}}"#);
    let e = fhir_error(&text);
    assert_eq!(e.path, "entry[1]");
    assert!(e.reason.contains("must be an object"), "{e}");
    let text = format!(r#"{{"resourceType":"Bundle","entry":[{PATIENT},{PATIENT}]}}"#);
    assert!(fhir_error(&text).reason.contains("second Patient"));
}

#[test]
fn bad_records_do_not_stop_the_others() {
    let dir = temp_dir("mixed");
    let good = std::fs::read_to_string(repo("tests/fixtures/fhir/equivalence.ndjson")).unwrap();
    let mut lines: Vec<&str> = good.lines().collect();
    lines.insert(1, r#"{"resourceType":"Bundle","entry":["oops"]}"#);
    lines.insert(1, "not json at all");
    std::fs::write(dir.join("mixed.ndjson"), lines.join("\n")).unwrap();
    let plan = seed_plan();
    let results: Vec<_> = records(&dir.join("mixed.ndjson"), None)
        .iter()
        .map(|r| plan.screen(r, |_| false))
        .collect();
    assert_eq!(results.len(), 4);
    assert!(results[0].is_ok() && results[3].is_ok());
    let e = results[1].as_ref().unwrap_err();
    assert_eq!(e.line, 2);
    let e = results[2].as_ref().unwrap_err();
    assert_eq!((e.line, e.path.as_str()), (3, "entry[0]"));
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------------------------------
// Bulk Data export folders
// ---------------------------------------------------------------------------------------

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("eligc-fhir-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_bulk_data_export_is_grouped_by_patient() {
    let dir = temp_dir("bulk");
    let write =
        |name: &str, lines: &[&str]| std::fs::write(dir.join(name), lines.join("\n")).unwrap();
    write(
        "Patient.ndjson",
        &[
            r#"{"resourceType":"Patient","id":"a","gender":"female","birthDate":"1990-01-01"}"#,
            r#"{"resourceType":"Patient","id":"b","gender":"male"}"#,
        ],
    );
    write(
        "Observation.ndjson",
        &[
            r#"{"resourceType":"Observation","id":"o1","status":"final","subject":{"reference":"Patient/a"},"code":{"coding":[{"system":"http://loinc.org","code":"33914-3"}]},"effectiveDateTime":"2025-01-01","valueQuantity":{"value":80,"code":"mL/min/{1.73_m2}","system":"http://unitsofmeasure.org"}}"#,
            r#"{"resourceType":"Observation","id":"o2","status":"final","subject":{"reference":"Patient/b"},"code":{"coding":[{"system":"http://loinc.org","code":"33914-3"}]},"effectiveDateTime":"2025-01-02","valueQuantity":{"value":50}}"#,
            r#"{"resourceType":"Observation","id":"o3","status":"final","subject":{"reference":"Patient/nobody"},"code":{},"effectiveDateTime":"2025-01-02"}"#,
            r#"{"resourceType":"Observation","id":"o4","status":"final","code":{},"effectiveDateTime":"2025-01-02"}"#,
            r#"{"resourceType":"Observation","id":"o5","status":"final","subject":{"reference":"Patient/b"},"code":{"coding":[{"system":"http://loinc.org","code":"1-8"}]},"effectiveDateTime":"yesterday","valueQuantity":{"value":1}}"#,
        ],
    );
    write(
        "Condition.ndjson",
        &[
            r#"{"resourceType":"Condition","id":"c1","subject":{"reference":"Patient/a"},"code":{"coding":[{"system":"http://snomed.info/sct","code":"55464009"}]},"onsetDateTime":"2015"}"#,
        ],
    );
    write(
        "Medication.ndjson",
        &[
            r#"{"resourceType":"Medication","id":"m1","code":{"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"8640"}]}}"#,
        ],
    );
    write(
        "MedicationRequest.ndjson",
        &[
            r#"{"resourceType":"MedicationRequest","id":"r1","status":"active","subject":{"reference":"Patient/a"},"medicationReference":{"reference":"Medication/m1"},"authoredOn":"2024-01-01"}"#,
        ],
    );
    write(
        "Encounter.ndjson",
        &[r#"{"resourceType":"Encounter","id":"e1","subject":{"reference":"Patient/a"}}"#],
    );
    let options = Arc::new(ReadOptions::default());
    let files = facts::data_files(std::slice::from_ref(&dir)).unwrap();
    assert!(files.skipped.is_empty(), "{:?}", files.skipped);
    assert_eq!(
        files.files,
        std::slice::from_ref(&dir),
        "the export folder is one source"
    );
    let recs = records(&dir, Some(options.clone()));
    let results: Vec<_> = recs.iter().map(RawRecord::parse).collect();
    // The two resources with no patient come first, as rejected records (the one without a
    // subject while the export is partitioned, the one whose patient is missing when its
    // partition is grouped); then a, then b.
    assert_eq!(results.len(), 4);
    let no_subject = results[0].as_ref().unwrap_err();
    assert_eq!(no_subject.line, 4);
    let orphan = results[1].as_ref().unwrap_err();
    assert!(
        orphan.file.ends_with("Observation.ndjson") && orphan.line == 3,
        "{orphan}"
    );
    assert!(orphan.reason.contains("Patient/nobody"), "{orphan}");
    let a = results[2].as_ref().unwrap();
    assert_eq!(a.id, "a");
    assert_eq!(a.observations.as_ref().unwrap().len(), 1);
    assert_eq!(
        a.medications.as_ref().unwrap()[0].code.as_deref(),
        Some("rxnorm:8640")
    );
    assert_eq!(
        a.conditions.as_ref().unwrap()[0].onset,
        None,
        "a year is not a day"
    );
    // b's bad date is reported at its own file and line.
    let b = results[3].as_ref().unwrap_err();
    assert!(b.file.ends_with("Observation.ndjson"), "{b}");
    assert_eq!(
        (b.line, b.path.as_str(), b.patient.as_deref()),
        (5, "effectiveDateTime", Some("b"))
    );
    let stats = options.fhir_stats();
    // An Encounter with neither class nor type cannot be placed: ignored, and counted.
    assert_eq!(
        stats.ignored.get("Encounter: no class or type code"),
        Some(&1)
    );
    // b without the bad observation: Condition.ndjson exists, so b's conditions are "none".
    std::fs::write(
        dir.join("Observation.ndjson"),
        r#"{"resourceType":"Observation","id":"o2","status":"final","subject":{"reference":"Patient/b"},"code":{"coding":[{"system":"http://loinc.org","code":"33914-3"}]},"effectiveDateTime":"2025-01-02","valueQuantity":{"value":50}}"#,
    )
    .unwrap();
    let recs = records(&dir, None);
    let b = recs[1].parse().unwrap();
    assert_eq!(b.id, "b");
    assert_eq!(b.conditions, Some(vec![]));
    assert_eq!(b.procedures, None, "no Procedure file: not recorded");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A generated export: 2,000 patients (and one with 300 observations), their resources
/// spread over the files in orders unlike Patient.ndjson's, a Medication referred to, one
/// resource without a subject, one whose patient is missing, one duplicate Patient. Returns
/// each patient's expected origins (file name, line), and the rejected lines.
#[allow(clippy::type_complexity)]
fn generated_export(dir: &Path) -> (BTreeMap<String, Vec<(String, usize)>>, Vec<(String, usize)>) {
    let n = 2000usize;
    let id = |p: usize| format!("p{p:05}");
    let mut expected: BTreeMap<String, Vec<(String, usize)>> = BTreeMap::new();
    let mut rejected = Vec::new();
    let mut files: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let mut push = |file: &'static str, text: String, owner: Option<String>| {
        let lines = files.entry(file).or_default();
        lines.push(text);
        let at = (file.to_string(), lines.len());
        match owner.as_deref() {
            Some("") => {}
            Some(o) => expected.entry(o.to_string()).or_default().push(at),
            None => rejected.push(at),
        }
    };
    // Patients in a shuffled order (a fixed permutation), plus the big one.
    for k in 0..n {
        let p = (k * 7919) % n;
        push(
            "Patient.ndjson",
            format!(
                r#"{{"resourceType":"Patient","id":"{}","gender":"female","birthDate":"1980-01-0{}"}}"#,
                id(p),
                1 + p % 9
            ),
            Some(id(p)),
        );
    }
    push(
        "Patient.ndjson",
        r#"{"resourceType":"Patient","id":"big","gender":"male"}"#.into(),
        Some("big".into()),
    );
    // A second Patient `p00003`: rejected.
    push(
        "Patient.ndjson",
        r#"{"resourceType":"Patient","id":"p00003"}"#.into(),
        None,
    );
    // Three observations per patient, round-robin, in reverse patient order.
    for round in 0..3 {
        for p in (0..n).rev() {
            push(
                "Observation.ndjson",
                format!(
                    r#"{{"resourceType":"Observation","id":"o{p}-{round}","status":"final","subject":{{"reference":"Patient/{}"}},"code":{{"coding":[{{"system":"http://loinc.org","code":"33914-3"}}]}},"effectiveDateTime":"2025-01-{:02}","valueQuantity":{{"value":{},"code":"mL/min/{{1.73_m2}}","system":"http://unitsofmeasure.org"}}}}"#,
                    id(p),
                    1 + round,
                    40 + p % 60
                ),
                Some(id(p)),
            );
        }
        if round == 1 {
            for k in 0..300 {
                push(
                    "Observation.ndjson",
                    format!(
                        r#"{{"resourceType":"Observation","id":"big{k}","status":"final","subject":{{"reference":"urn:uuid:big"}},"code":{{"coding":[{{"system":"http://loinc.org","code":"33914-3"}}]}},"effectiveDateTime":"2024-01-01T{:02}:{:02}:00Z","valueQuantity":{{"value":{k},"code":"mL/min/{{1.73_m2}}","system":"http://unitsofmeasure.org"}}}}"#,
                        k / 60,
                        k % 60
                    ),
                    Some("big".into()),
                );
            }
        }
    }
    // Conditions for every third patient, one without a subject, one for a missing patient.
    for p in (0..n).step_by(3) {
        push(
            "Condition.ndjson",
            format!(
                r#"{{"resourceType":"Condition","id":"c{p}","subject":{{"reference":"Patient/{}"}},"code":{{"coding":[{{"system":"http://snomed.info/sct","code":"55464009"}}]}},"onsetDateTime":"2015-03-04"}}"#,
                id(p)
            ),
            Some(id(p)),
        );
        if p == 300 {
            push(
                "Condition.ndjson",
                r#"{"resourceType":"Condition","id":"nosubject","code":{}}"#.into(),
                None,
            );
            push(
                "Condition.ndjson",
                r#"{"resourceType":"Condition","id":"orphan","subject":{"reference":"Patient/nobody"},"code":{}}"#.into(),
                None,
            );
        }
    }
    // Every seventh patient has a request for the Medication m1.
    push(
        "Medication.ndjson",
        r#"{"resourceType":"Medication","id":"m1","code":{"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"8640"}]}}"#.into(),
        Some(String::new()),
    );
    for p in (0..n).step_by(7) {
        push(
            "MedicationRequest.ndjson",
            format!(
                r#"{{"resourceType":"MedicationRequest","id":"r{p}","status":"active","subject":{{"reference":"Patient/{}"}},"medicationReference":{{"reference":"Medication/m1"}},"authoredOn":"2024-01-01"}}"#,
                id(p)
            ),
            Some(id(p)),
        );
    }
    for p in (0..n).step_by(7) {
        let medication = ("Medication.ndjson".to_string(), 1);
        expected.entry(id(p)).or_default().push(medication);
    }
    for (name, lines) in &files {
        std::fs::write(dir.join(name), lines.join("\n") + "\n").unwrap();
    }
    (expected, rejected)
}

/// The records of an export read with a partition size, and the settings' temporary folder.
fn bulk_records(dir: &Path, partition_bytes: u64, max_partitions: usize) -> Vec<RawRecord> {
    let spill = dir.with_extension("spill");
    let _ = std::fs::remove_dir_all(&spill);
    std::fs::create_dir_all(&spill).unwrap();
    let settings = facts::BulkSettings {
        partition_bytes,
        max_partitions,
        temp_dir: spill.clone(),
    };
    let recs: Vec<RawRecord> = facts::read_bulk_export(dir, None, settings)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        std::fs::read_dir(&spill).unwrap().count(),
        0,
        "the temporary files are removed"
    );
    std::fs::remove_dir(&spill).unwrap();
    recs
}

fn short_name(file: &str) -> String {
    Path::new(file)
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

#[test]
fn a_bulk_data_export_read_in_small_partitions_gives_each_patient_once_with_all_its_resources() {
    let dir = temp_dir("bulk-partitions");
    let (expected, rejected) = generated_export(&dir);
    // One partition: the whole export grouped in memory.
    let whole = bulk_records(&dir, u64::MAX, 1);
    // 4 KB partitions, at most 8 files at a time: the 1.3 MB export is split again.
    let small = bulk_records(&dir, 4096, 8);
    for recs in [&whole, &small] {
        let mut patients: BTreeMap<String, Vec<(String, usize)>> = BTreeMap::new();
        let mut errors: Vec<(String, usize)> = Vec::new();
        for raw in recs.iter() {
            match raw.parse() {
                Ok(record) => {
                    let mut origins: Vec<(String, usize)> = raw
                        .bulk
                        .as_ref()
                        .unwrap()
                        .origins
                        .iter()
                        .map(|(f, l)| (short_name(f), *l))
                        .collect();
                    origins.sort();
                    let n_obs = record.observations.as_ref().map_or(0, Vec::len);
                    let lines = expected.get(record.id.as_str()).unwrap();
                    assert_eq!(
                        n_obs,
                        lines
                            .iter()
                            .filter(|(f, _)| f == "Observation.ndjson")
                            .count()
                    );
                    assert!(
                        patients.insert(record.id.to_string(), origins).is_none(),
                        "patient `{}` given twice",
                        record.id
                    );
                }
                Err(e) => errors.push((short_name(&e.file), e.line)),
            }
        }
        let mut wanted = expected.clone();
        for lines in wanted.values_mut() {
            lines.sort();
        }
        assert_eq!(patients.len(), 2001);
        assert_eq!(patients, wanted, "every patient with all its lines");
        errors.sort();
        let mut rejected = rejected.clone();
        rejected.sort();
        assert_eq!(errors, rejected, "every other line is a rejected record");
    }
    // The same records (converted) both ways, and the same order on every run.
    fn by_id(recs: &[RawRecord]) -> BTreeMap<String, PatientRecord<'_>> {
        recs.iter()
            .filter_map(|r| r.parse().ok())
            .map(|r| (r.id.to_string(), r))
            .collect()
    }
    assert_eq!(by_id(&whole), by_id(&small));
    let again = bulk_records(&dir, 4096, 8);
    let key = |recs: &[RawRecord]| -> Vec<(String, usize, String)> {
        recs.iter()
            .map(|r| (r.file.to_string(), r.line, r.text.clone()))
            .collect()
    };
    assert_eq!(key(&small), key(&again));
    // One partition keeps Patient.ndjson's order.
    let order: Vec<usize> = whole
        .iter()
        .filter(|r| r.bulk.is_some())
        .map(|r| r.line)
        .collect();
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "Patient.ndjson order"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bulk_data_errors_name_the_file_and_line_and_temporary_files_go_when_reading_stops() {
    let dir = temp_dir("bulk-errors");
    let (_, rejected) = generated_export(&dir);
    let spill = dir.with_extension("spill");
    let _ = std::fs::remove_dir_all(&spill);
    std::fs::create_dir_all(&spill).unwrap();
    let settings = facts::BulkSettings {
        partition_bytes: 8192,
        max_partitions: 16,
        temp_dir: spill.clone(),
    };
    let mut recs = facts::read_bulk_export(&dir, None, settings).unwrap();
    // The resource without a subject is found while partitioning: the first record.
    let first = recs.next().unwrap().unwrap().parse().unwrap_err();
    assert!(first.file.ends_with("Condition.ndjson"), "{first}");
    assert_eq!(
        (short_name(&first.file), first.line),
        rejected
            .iter()
            .find(|(f, _)| f == "Condition.ndjson")
            .cloned()
            .unwrap()
    );
    assert!(first.reason.contains("no `subject`"), "{first}");
    let second = recs.next().unwrap().unwrap();
    assert!(second.text.is_empty() || second.bulk.is_some());
    assert_eq!(
        std::fs::read_dir(&spill).unwrap().count(),
        1,
        "partitions in use"
    );
    // Stopping early (as `eligc run --strict` does) removes them too.
    drop(recs);
    assert_eq!(std::fs::read_dir(&spill).unwrap().count(), 0);
    let _ = std::fs::remove_dir_all(&spill);
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------------------------------
// The Synthea bundles, checked against a reading of the JSON by hand (jq)
// ---------------------------------------------------------------------------------------

fn synthea() -> Option<PathBuf> {
    ["../shared/data/fhir", "/work/shared/data/fhir"]
        .iter()
        .map(|p| repo(p))
        .find(|p| p.join("synthea-dirk-kuhlman.json").is_file())
        .or_else(|| {
            eprintln!("skipped: the Synthea bundles (../shared/data/fhir/) are not here");
            None
        })
}

fn synthea_record(dir: &Path, name: &str) -> (PatientRecord<'static>, Stats) {
    convert(&std::fs::read_to_string(dir.join(name)).unwrap())
}

#[test]
fn synthea_dirk_kuhlman() {
    let Some(dir) = synthea() else { return };
    let (r, stats) = synthea_record(&dir, "synthea-dirk-kuhlman.json");
    // jq '.entry[].resource|select(.resourceType=="Patient")|[.id,.birthDate,.gender]'
    assert_eq!(r.id, "948e608d-e408-4788-8cf2-8157c49c2940");
    assert_eq!(r.birth_date, Some(date("1971-12-07")));
    assert_eq!(r.sex, Some(facts::native::RecordedSex::Male));
    // jq '.entry[].resource|select(.resourceType=="Observation" and .code.coding[0].code=="33914-3")
    //     |[.effectiveDateTime,.valueQuantity.value,.valueQuantity.unit]'
    // 9 results: 7 in mL/min/{1.73_m2}, 2 in mL/min (2019-11-12 and 2019-12-10, each beside
    // one in mL/min/{1.73_m2}); the latest 79.07854796936296 on 2021-03-02.
    let egfr: Vec<_> = r
        .observations
        .as_ref()
        .unwrap()
        .iter()
        .filter(|o| o.code.as_deref() == Some("loinc:33914-3"))
        .collect();
    assert_eq!(egfr.len(), 9);
    let per_unit = |u: &str| egfr.iter().filter(|o| o.unit.as_deref() == Some(u)).count();
    assert_eq!((per_unit("mL/min/{1.73_m2}"), per_unit("mL/min")), (7, 2));
    let latest = egfr.iter().max_by_key(|o| o.date).unwrap();
    assert_eq!(latest.date, date("2021-03-02"));
    assert_eq!(latest.value, Some(dec("79.07854796936296")));
    assert_eq!(
        latest.id.as_deref(),
        Some("b244df91-1561-4bfe-a9fd-d5fd30dbb80e")
    );
    let same_day: Vec<_> = egfr
        .iter()
        .filter(|o| o.date == date("2019-11-12"))
        .collect();
    assert_eq!(same_day.len(), 2);
    // 266 Observations; blood pressure panels give two facts each and no value of their own:
    // jq '[...Observation|(if .component then (.component|length) else 1 end)]|add' = 277.
    assert_eq!(r.observations.as_ref().unwrap().len(), 277);
    // 18 Conditions, all confirmed; 7 MedicationRequests (3 stopped, 4 active);
    // 10 Immunizations, all completed; 10 Procedures.
    assert_eq!(r.conditions.as_ref().unwrap().len(), 18);
    let meds = r.medications.as_ref().unwrap();
    assert_eq!(meds.len(), 7);
    assert_eq!(
        meds.iter()
            .filter(|m| m.status.as_deref() == Some("stopped"))
            .count(),
        3
    );
    assert_eq!(r.immunizations.as_ref().unwrap().len(), 10);
    assert_eq!(r.procedures.as_ref().unwrap().len(), 10);
    // 22 Encounters, read: one emergency (EMER, SNOMED 50849002), one inpatient stay
    // (IMP, 2020-12-17 to 2020-12-18), 20 ambulatory visits.
    let encounters = r.encounters.as_ref().unwrap();
    assert_eq!(encounters.len(), 22);
    let class = |c: &str| {
        encounters
            .iter()
            .filter(|e| e.code.as_deref() == Some(c))
            .count()
    };
    assert_eq!(
        (
            class("actcode:AMB"),
            class("actcode:EMER"),
            class("actcode:IMP")
        ),
        (20, 1, 1)
    );
    let stay = encounters
        .iter()
        .find(|e| e.code.as_deref() == Some("actcode:IMP"))
        .unwrap();
    assert_eq!(
        (stay.start, stay.end),
        (date("2020-12-17"), Some(date("2020-12-18")))
    );
    // 419 resources; Claim 29, ExplanationOfBenefit 22, DiagnosticReport 23, CarePlan 2,
    // Goal 5, Organization 2, Practitioner 2 skipped.
    assert_eq!(stats.resources, 419);
    assert_eq!(stats.skipped.values().sum::<usize>(), 85);
    assert_eq!(stats.skipped.get("Claim"), Some(&29));
    assert_eq!(stats.facts, 277 + 18 + 7 + 10 + 10 + 22);
    assert!(stats.ignored.is_empty(), "{:?}", stats.ignored);
    // The zero-width spaces of this bundle are in display text only: no code keeps one.
    let text = serde_json::to_string(&r).unwrap();
    assert!(!text.contains('\u{200B}'));
}

#[test]
fn synthea_nikki_ferry() {
    let Some(dir) = synthea() else { return };
    let (r, stats) = synthea_record(&dir, "synthea-nikki-ferry.json");
    assert_eq!(r.id, "5db1e775-33a3-47fb-8954-d97cd43e8074");
    assert_eq!(r.birth_date, Some(date("1961-08-27")));
    assert_eq!(r.sex, Some(facts::native::RecordedSex::Female));
    // 10 eGFR results, all in mL/min/{1.73_m2}, yearly 2011-07-31 .. 2020-09-20; the
    // latest 71.62153586011462, the one before 57.80885959164254 (2019-09-15).
    let mut egfr: Vec<_> = r
        .observations
        .as_ref()
        .unwrap()
        .iter()
        .filter(|o| o.code.as_deref() == Some("loinc:33914-3"))
        .collect();
    egfr.sort_by_key(|o| o.date);
    assert_eq!(egfr.len(), 10);
    assert_eq!(egfr[0].date, date("2011-07-31"));
    let last = egfr[9];
    assert_eq!(
        (last.date, last.value),
        (date("2020-09-20"), Some(dec("71.62153586011462")))
    );
    assert_eq!(egfr[8].value, Some(dec("57.80885959164254")));
    assert_eq!(r.observations.as_ref().unwrap().len(), 242);
    assert_eq!(r.conditions.as_ref().unwrap().len(), 13);
    assert_eq!(r.medications.as_ref().unwrap().len(), 4);
    assert_eq!(r.immunizations.as_ref().unwrap().len(), 14);
    assert_eq!(r.procedures.as_ref().unwrap().len(), 11);
    assert_eq!(stats.resources, 382);
}

#[test]
fn synthea_bundles_screen_with_the_seed_protocol() {
    let Some(dir) = synthea() else { return };
    let plan = seed_plan();
    let mut anchors = BTreeMap::new();
    anchors.insert("screening".to_string(), date("2021-03-15"));
    let options = Arc::new(ReadOptions {
        anchors,
        ..ReadOptions::default()
    });
    let raw = records(&dir.join("synthea-dirk-kuhlman.json"), Some(options));
    let result = plan.screen(&raw[0], |_| true).unwrap();
    // Without a vocabulary eligc cannot place the record's SNOMED CT conditions (any of them
    // might be a form of lupus): I2 is unknown because of them, not "not met".
    assert_eq!(result.verdict, Verdict::NeedsReview);
    let i2 = result.criteria.iter().find(|c| &*c.id == "I2").unwrap();
    assert_eq!(i2.outcome, eligc::eval::Outcome::Unknown);
    assert!(i2.unplaced);
    // The OMOP vocabulary subset of the same Synthea data knows the record's codes but not
    // lupus (neither SNOMED 55464009 nor ICD-10 M32 is in its CONCEPT table): it cannot say
    // what is under lupus, so I2 stays unknown, from codes placed elsewhere; the facts it
    // lacks altogether drop from 30 to 6.
    let omop = [
        "../shared/data/omop/synthea27nj",
        "/work/shared/data/omop/synthea27nj",
    ]
    .iter()
    .map(|p| repo(p))
    .find(|p| p.join("CONCEPT.csv").is_file());
    if let Some(omop) = omop {
        let plan = seed_plan();
        let vocabulary = eligc::vocab::load(&omop, plan.program(), &[]).unwrap();
        let plan = plan.with_vocabulary(vocabulary);
        let placed = plan.screen(&raw[0], |_| true).unwrap();
        assert_eq!(placed.verdict, Verdict::NeedsReview);
        assert_eq!(result.unplaced_facts, 30);
        assert_eq!(placed.unplaced_facts, 6);
        let i2 = placed.criteria.iter().find(|c| &*c.id == "I2").unwrap();
        assert!(i2.unplaced);
    } else {
        eprintln!("skipped: the OMOP subset (../shared/data/omop/synthea27nj/) is not here");
    }
    // I4.2 (eGFR >= 30 within 28 days) is met by the 2021-03-02 result.
    let i42 = result.criteria.iter().find(|c| &*c.id == "I4.2").unwrap();
    assert_eq!(i42.outcome, eligc::eval::Outcome::Met);
    assert!(
        i42.checks[0].detail.contains("b244df91"),
        "{}",
        i42.checks[0].detail
    );
}

#[test]
fn the_cli_reads_fhir_with_anchors_and_a_side_file() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_eligc"))
        .arg("run")
        .arg(repo("protocols/sle-car-t/protocol.elig"))
        .arg(repo("tests/fixtures/fhir/equivalence.ndjson"))
        .args(["--input", "fhir", "--format", "csv"])
        .args([
            "--anchor",
            "screening=2026-03-31",
            "--anchor",
            "infusion=2026-04-28",
        ])
        .args(["--anchor", "consent=2026-03-24", "--side"])
        .arg(repo("tests/fixtures/fhir/equivalence.side.jsonl"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stdout.contains("eq-1,needs review"), "{stdout}\n{stderr}");
    assert!(stdout.contains("eq-2,ineligible"), "{stdout}\n{stderr}");
    assert!(stderr.contains("FHIR: 2 patients"), "{stderr}");
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_eligc"))
        .arg("run")
        .arg(repo("protocols/sle-car-t/protocol.elig"))
        .arg(repo("tests/fixtures/fhir/equivalence.ndjson"))
        .args(["--anchor", "screening=31/03/2026"])
        .output()
        .unwrap();
    assert_eq!(
        bad.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}

#[test]
fn a_condition_grade_is_read_from_its_stage_summary() {
    let bundle = |summary: &str| {
        format!(
            r#"{{"resourceType":"Bundle","entry":[
              {{"resource":{{"resourceType":"Patient","id":"p"}}}},
              {{"resource":{{"resourceType":"Condition","id":"gvhd","subject":{{"reference":"Patient/p"}},
                "code":{{"coding":[{{"system":"http://snomed.info/sct","code":"234646005"}}]}},
                "onsetDateTime":"2026-03-25","stage":[{{"summary":{summary}}}]}}}}]}}"#
        )
    };
    let grade = |summary: &str| {
        let (r, _) = convert(&bundle(summary));
        r.conditions.unwrap()[0].grade
    };
    assert_eq!(grade(r#"{"text":"Grade 2"}"#), Some(dec("2")));
    assert_eq!(
        grade(r#"{"coding":[{"display":"Acute GVHD grade III"}]}"#),
        Some(dec("3"))
    );
    assert_eq!(
        grade(r#"{"text":"Stage IIIA"}"#),
        None,
        "a stage is not a grade"
    );
    assert_eq!(grade(r#"{"text":"grade"}"#), None);
}

// ---------------------------------------------------------------------------------------
// AllergyIntolerance
// ---------------------------------------------------------------------------------------

fn allergy<'r>(r: &'r PatientRecord<'r>, id: &str) -> &'r facts::native::ConditionRecord<'r> {
    r.allergies
        .as_ref()
        .unwrap()
        .iter()
        .find(|a| a.id.as_deref() == Some(id))
        .unwrap_or_else(|| panic!("no allergy {id}"))
}

#[test]
fn allergy_intolerances_become_allergies_with_substance_status_severity_and_dates() {
    let (r, stats) = convert(&fixture("allergies.json"));
    let allergies = r.allergies.as_ref().unwrap();
    // Penicillin, contrast, sulfamethoxazole, peanut; not the refuted, the entered-in-error
    // or the "no known food allergy" statement.
    assert_eq!(allergies.len(), 4, "{allergies:#?}");
    let penicillin = allergy(&r, "ai-penicillin");
    // RxNorm first, the SNOMED CT substance kept beside it.
    assert_eq!(penicillin.code.as_deref(), Some("rxnorm:7980"));
    assert_eq!(
        penicillin.also.as_deref(),
        Some(&["snomed:764146007".into()][..])
    );
    assert_eq!(penicillin.status.as_deref(), Some("active"));
    assert_eq!(penicillin.verification.as_deref(), Some("confirmed"));
    // The worst reaction: moderate (low criticality says nothing more).
    assert_eq!(penicillin.severity.as_deref(), Some("moderate"));
    // No onset: known to exist from the day it was recorded (the date in its own offset).
    assert_eq!(penicillin.onset, Some(date("2003-06-14")));
    assert_eq!(penicillin.end, None);
    let contrast = allergy(&r, "ai-contrast");
    assert_eq!(contrast.code.as_deref(), Some("snomed:385420005"));
    assert_eq!(
        contrast.onset,
        Some(date("2019-09-02")),
        "onset before recordedDate"
    );
    assert_eq!(contrast.verification.as_deref(), Some("unconfirmed"));
    assert_eq!(
        contrast.severity.as_deref(),
        Some("severe"),
        "no reaction severity: a high criticality reads as severe"
    );
    let sulfa = allergy(&r, "ai-sulfa");
    assert_eq!(sulfa.status.as_deref(), Some("resolved"));
    assert_eq!(
        sulfa.onset,
        Some(date("2011-03-05")),
        "the earliest of recordedDate, lastOccurrence and a reaction's onset"
    );
    assert_eq!(sulfa.severity, None);
    assert_eq!(
        allergy(&r, "ai-peanut").code.as_deref(),
        Some("snomed:762952008")
    );
    for why in [
        "refuted",
        "entered-in-error",
        "no known food or environmental allergy",
    ] {
        assert_eq!(
            stats.ignored.get(&format!("AllergyIntolerance: {why}")),
            Some(&1),
            "{why}: {:?}",
            stats.ignored
        );
    }
    assert_eq!(stats.skipped.get("AllergyIntolerance"), None);
}

#[test]
fn allergies_are_not_recorded_without_allergy_intolerance_and_none_after_no_known_allergy() {
    let bundle = |allergy: &str| {
        format!(
            r#"{{"resourceType":"Bundle","entry":[{{"resource":{{"resourceType":"Patient","id":"p"}}}}{allergy}]}}"#
        )
    };
    let (r, _) = convert(&bundle(""));
    assert_eq!(r.allergies, None, "no AllergyIntolerance: not known");
    // US Core's "no known allergy" and "no known drug allergy" say the list is empty.
    for code in ["716186003", "409137002"] {
        let statement = format!(
            r#",{{"resource":{{"resourceType":"AllergyIntolerance","id":"nka","patient":{{"reference":"Patient/p"}},"code":{{"coding":[{{"system":"http://snomed.info/sct","code":"{code}"}}]}},"recordedDate":"2020-01-01"}}}}"#
        );
        let (r, stats) = convert(&bundle(&statement));
        assert_eq!(r.allergies, Some(vec![]), "{code}");
        assert_eq!(
            stats
                .ignored
                .get("AllergyIntolerance: no known allergy (recorded: none)"),
            Some(&1)
        );
    }
    // "No known food allergy" says nothing about drugs.
    let food = r#",{"resource":{"resourceType":"AllergyIntolerance","patient":{"reference":"Patient/p"},"code":{"coding":[{"system":"http://snomed.info/sct","code":"429625007"}]}}}"#;
    assert_eq!(convert(&bundle(food)).0.allergies, None);
    // The patient is referred to by `patient`, as for Immunization.
    let other = r#",{"resource":{"resourceType":"AllergyIntolerance","patient":{"reference":"Patient/q"},"code":{"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"7980"}]}}}"#;
    let e = parse(&bundle(other)).unwrap_err();
    assert_eq!(e.path, "entry[1].resource.patient.reference", "{e}");
    let none = r#",{"resource":{"resourceType":"AllergyIntolerance","subject":{"reference":"Patient/p"},"code":{"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"7980"}]}}}"#;
    let e = parse(&bundle(none)).unwrap_err();
    assert_eq!(e.path, "entry[1].resource.patient", "{e}");
}

#[test]
fn fhir_allergies_screen_like_native_ones() {
    let text = r#"
protocol "Allergies" version "1"
anchor screening
drug penicillin "Penicillin G" codes [rxnorm:7980]
drug contrast "Iodinated contrast media" codes [snomed:385420005]
drug ampicillin "Ampicillin" codes [rxnorm:733]
drug ciprofloxacin "Ciprofloxacin" codes [rxnorm:2551]
drug sulfamethoxazole "Sulfamethoxazole" codes [rxnorm:10180]
drug peanut "Peanut (a food, declared as a drug to be named)" codes [snomed:762952008]
inclusion I1 "penicillin allergy now": allergy penicillin at screening where status is active and severity is moderate
inclusion I2 "severe contrast allergy": allergy contrast before screening where severity is severe
inclusion I3 "ampicillin (refuted)": allergy ampicillin ever
inclusion I4 "ciprofloxacin (entered in error)": allergy ciprofloxacin ever
inclusion I5 "sulfonamide before": allergy sulfamethoxazole before screening
inclusion I6 "sulfonamide now": allergy sulfamethoxazole at screening
inclusion I7 "peanut": allergy peanut ever
"#;
    let c = eligc::check::compile_text("t.elig", text, None);
    assert!(!c.has_errors(), "{:?}", c.diagnostics);
    let plan = Plan::new(c.program.unwrap(), c.sources);
    let (mut record, _) = convert(&fixture("allergies.json"));
    record
        .anchors
        .insert("screening".into(), date("2026-03-31"));
    let result = plan.evaluate(&record, true);
    use eligc::eval::Outcome::{Met, NotMet, Unknown};
    let outcomes: Vec<_> = result.criteria.iter().map(|c| c.outcome).collect();
    // I6: resolved on a day not recorded, so perhaps still there at screening.
    assert_eq!(
        outcomes,
        vec![Met, Met, NotMet, NotMet, Met, Unknown, Met],
        "{:#?}",
        result.criteria
    );
    // An unconfirmed allergy counts, and the explanation says it is unconfirmed.
    let text = format!("{:?}", result.criteria[1]);
    assert!(text.contains("unconfirmed"), "{text}");
    assert_eq!(result.unused_facts, 0);
    // The same allergies written natively give the same outcomes.
    let native = parse(
        r#"{"id":"al-1","anchors":{"screening":"2026-03-31"},"allergies":[
        {"id":"ai-penicillin","code":"rxnorm:7980","onset":"2003-06-14","status":"active","verification":"confirmed","severity":"moderate"},
        {"id":"ai-contrast","code":"snomed:385420005","onset":"2019-09-02","status":"active","verification":"unconfirmed","severity":"severe"},
        {"id":"ai-sulfa","code":"rxnorm:10180","onset":"2011-03-05","status":"resolved"},
        {"id":"ai-peanut","code":"snomed:762952008","onset":"1999-05-20","status":"active","severity":"severe"},
        {"id":"ai-refuted","code":"rxnorm:733","onset":"2018-02-02","verification":"refuted"}]}"#
            .replace('\n', "")
            .as_str(),
    )
    .unwrap();
    let native: Vec<_> = plan
        .evaluate(&native, false)
        .criteria
        .iter()
        .map(|c| c.outcome)
        .collect();
    assert_eq!(native, outcomes);
}

#[test]
fn a_bulk_export_reads_allergy_intolerance_ndjson() {
    let dir = temp_dir("bulk-allergy");
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
        "AllergyIntolerance.ndjson",
        &[
            r#"{"resourceType":"AllergyIntolerance","id":"x1","patient":{"reference":"Patient/a"},"code":{"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"7980"}]},"recordedDate":"2010-01-01"}"#,
        ],
    );
    let recs = records(&dir, None);
    let a = recs[0].parse().unwrap();
    assert_eq!(
        a.allergies.as_ref().unwrap()[0].code.as_deref(),
        Some("rxnorm:7980")
    );
    // The export has the file: b's allergies are recorded, and none.
    let b = recs[1].parse().unwrap();
    assert_eq!(b.allergies, Some(vec![]));
    // Without a `patient` reference, the line is a rejected record naming the field.
    write(
        "AllergyIntolerance.ndjson",
        &[r#"{"resourceType":"AllergyIntolerance","id":"x2","subject":{"reference":"Patient/a"}}"#],
    );
    let e = records(&dir, None)[0].parse().unwrap_err();
    assert!(e.reason.contains("`patient`"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------------------------------
// Complete records (--complete, the side file's `complete`)
// ---------------------------------------------------------------------------------------

const EVERYTHING: &str = r#"{"resourceType":"Bundle","type":"searchset","entry":[
  {"resource":{"resourceType":"Patient","id":"ev-1","birthDate":"1980-01-01","gender":"female"}},
  {"resource":{"resourceType":"Condition","id":"c1","subject":{"reference":"Patient/ev-1"},
    "code":{"coding":[{"system":"http://snomed.info/sct","code":"55464009"}]},"onsetDateTime":"2015-04-01"}}
]}"#;

fn complete_plan() -> Plan {
    let text = r#"
protocol "Complete" version "1"
anchor screening
observation egfr "eGFR" unit mL/min/1.73m2 codes [loinc:33914-3]
condition sle "SLE" codes [snomed:55464009]
procedure dialysis "Hemodialysis" codes [snomed:302497006]
drug rituximab "Rituximab" codes [rxnorm:121191]
inclusion I1 "SLE": condition sle before screening
exclusion E1 "dialysis": procedure dialysis ever
exclusion E2 "rituximab": medication rituximab within 6 months before screening
inclusion I2 "kidney function": latest egfr within 28 days before screening >= 30 mL/min/1.73m2
exclusion E3 "no recent eGFR": no egfr within 28 days before screening
"#;
    let c = eligc::check::compile_text("t.elig", text, None);
    assert!(!c.has_errors(), "{:?}", c.diagnostics);
    Plan::new(c.program.unwrap(), c.sources)
}

fn outcomes_with(options: ReadOptions) -> (Vec<eligc::eval::Outcome>, eligc::eval::PatientResult) {
    let mut options = options;
    options
        .anchors
        .insert("screening".into(), date("2026-03-31"));
    let raw = RawRecord {
        options: Some(Arc::new(options)),
        ..RawRecord::new("everything.json", 1, EVERYTHING)
    };
    let result = complete_plan().screen(&raw, |_| true).unwrap();
    (result.criteria.iter().map(|c| c.outcome).collect(), result)
}

#[test]
fn an_export_declared_complete_has_no_procedures_rather_than_unknown_ones() {
    use eligc::eval::Outcome::{Met, NotMet, Unknown};
    // Without --complete: a Bundle with no Procedure and no Medication* says nothing.
    let (outcomes, result) = outcomes_with(ReadOptions::default());
    assert_eq!(outcomes, vec![Met, Unknown, Unknown, Unknown, Unknown]);
    assert!(result.completed.is_empty());
    // --complete procedures,medications: none recorded, so the exclusions are not met.
    let complete = facts::parse_complete("procedures,medications").unwrap();
    let (outcomes, result) = outcomes_with(ReadOptions::complete(complete));
    assert_eq!(outcomes, vec![Met, NotMet, NotMet, Unknown, Unknown]);
    assert_eq!(result.completed, vec!["medications", "procedures"]);
    let detail = &result.criteria[1].checks[0].detail;
    assert!(detail.contains("--complete"), "{detail}");
    // The explanation and the JSON say where "none" came from.
    let text = eligc::eval::render::explanation(&result);
    assert!(
        text.contains("Read as complete, --complete: medications, procedures"),
        "{text}"
    );
    let json = serde_json::to_value(&result).unwrap();
    assert_eq!(
        json["completed"],
        serde_json::json!(["medications", "procedures"])
    );
    // --complete all: the Condition list was recorded, so only the absent ones are filled.
    let (outcomes, result) =
        outcomes_with(ReadOptions::complete(facts::parse_complete("all").unwrap()));
    assert_eq!(
        result.completed,
        vec![
            "allergies",
            "encounters",
            "family_history",
            "immunizations",
            "medications",
            "observations",
            "procedures",
            "studies"
        ]
    );
    // Observations: "no eGFR result" is now a fact (E3 met), but a value test without a
    // value stays unknown (I2): completeness answers "is there any", never "what was it".
    assert_eq!(outcomes, vec![Met, NotMet, NotMet, Unknown, Met]);
}

#[test]
fn the_side_file_declares_one_patient_complete() {
    use eligc::eval::Outcome::{Met, NotMet, Unknown};
    let dir = temp_dir("complete-side");
    let side = dir.join("side.jsonl");
    std::fs::write(
        &side,
        "{\"patient\":\"ev-1\",\"complete\":[\"procedures\"]}\n{\"patient\":\"other\",\"complete\":\"all\"}\n",
    )
    .unwrap();
    let options = ReadOptions {
        side: ReadOptions::read_side_file(&side).unwrap(),
        ..ReadOptions::default()
    };
    let (outcomes, result) = outcomes_with(options);
    assert_eq!(outcomes, vec![Met, NotMet, Unknown, Unknown, Unknown]);
    assert_eq!(result.completed, vec!["procedures"]);
    // A misspelt domain rejects the side file, naming the line and the closest domain.
    std::fs::write(
        &side,
        "{\"patient\":\"ev-1\",\"complete\":[\"procedure\"]}\n",
    )
    .unwrap();
    let e = ReadOptions::read_side_file(&side).unwrap_err();
    assert!(
        e.contains("side.jsonl:1: complete: `procedure` is not a domain")
            && e.contains("did you mean `procedures`?"),
        "{e}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn complete_applies_to_native_records_and_keeps_recorded_lists() {
    let raw = RawRecord {
        options: Some(Arc::new(ReadOptions::complete(
            facts::parse_complete("conditions, procedures").unwrap(),
        ))),
        ..RawRecord::new(
            "t.jsonl",
            1,
            r#"{"id":"n1","procedures":[{"code":"snomed:302497006","date":"2020-01-01"}]}"#,
        )
    };
    let r = raw.parse().unwrap();
    assert_eq!(r.conditions, Some(vec![]));
    assert_eq!(r.procedures.as_ref().map(Vec::len), Some(1));
    assert_eq!(r.completed, vec!["conditions"]);
    assert_eq!(r.medications, None, "not named: still not recorded");
}

#[test]
fn an_unknown_domain_is_an_error_with_the_closest_name() {
    let e = facts::parse_complete("procedures,medication").unwrap_err();
    assert!(
        e.contains("`medication` is not a domain") && e.contains("did you mean `medications`?"),
        "{e}"
    );
    assert!(facts::parse_complete("everything").is_err());
    assert_eq!(
        facts::parse_complete("all").unwrap().len(),
        facts::DOMAINS.len()
    );
}

#[test]
fn body_site_laterality_stage_and_reasons_are_read_from_their_fhir_fields() {
    let bundle = r#"{"resourceType":"Bundle","entry":[
      {"resource":{"resourceType":"Patient","id":"p"}},
      {"fullUrl":"urn:uuid:c1","resource":{"resourceType":"Condition","id":"c1","subject":{"reference":"Patient/p"},
        "code":{"coding":[{"system":"http://hl7.org/fhir/sid/icd-10","code":"T86.1"}]},
        "onsetDateTime":"2025-01-01"}},
      {"resource":{"resourceType":"Condition","id":"c2","subject":{"reference":"Patient/p"},
        "code":{"coding":[{"system":"http://snomed.info/sct","code":"254637007"}]},
        "onsetDateTime":"2025-02-01",
        "bodySite":[{"coding":[{"system":"http://snomed.info/sct","code":"39607008"},
                               {"system":"http://snomed.info/sct","code":"7771000"}]},
                    {"coding":[{"system":"http://snomed.info/sct","code":"3341006"}],
                     "extension":[{"url":"http://example.org/laterality","valueCodeableConcept":{"coding":[{"system":"http://snomed.info/sct","code":"24028007"}]}}]}],
        "stage":[{"summary":{"text":"Stage IIB"}}]}},
      {"resource":{"resourceType":"Procedure","id":"x","status":"completed","subject":{"reference":"Patient/p"},
        "code":{"coding":[{"system":"http://snomed.info/sct","code":"302497006"}]},
        "performedDateTime":"2025-03-01",
        "bodySite":[{"coding":[{"system":"http://snomed.info/sct","code":"397045007"}]}],
        "reasonCode":[{"coding":[{"system":"http://hl7.org/fhir/sid/icd-10","code":"N18.6"}]}],
        "reasonReference":[{"reference":"urn:uuid:c1"}]}},
      {"resource":{"resourceType":"MedicationStatement","id":"m","status":"stopped","subject":{"reference":"Patient/p"},
        "medicationCodeableConcept":{"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"8640"}]},
        "effectivePeriod":{"start":"2025-01-01","end":"2025-02-01"},
        "statusReason":[{"coding":[{"system":"http://hl7.org/fhir/sid/icd-10","code":"I10"}]}]}}
    ]}"#;
    let (record, _) = convert(bundle);
    let conditions = record.conditions.as_ref().unwrap();
    let lung = conditions
        .iter()
        .find(|c| c.id.as_deref() == Some("c2"))
        .unwrap();
    // The laterality qualifiers are not body structures; left and right together are both
    // sides.
    assert_eq!(
        lung.body_site.as_deref(),
        Some(&["snomed:39607008".into(), "snomed:3341006".into()][..])
    );
    assert_eq!(lung.laterality.as_deref(), Some("bilateral"));
    assert_eq!(lung.stage.as_deref(), Some("IIB"));
    let other = conditions
        .iter()
        .find(|c| c.id.as_deref() == Some("c1"))
        .unwrap();
    assert_eq!(
        (
            other.body_site.as_ref(),
            other.laterality.as_ref(),
            other.stage.as_ref()
        ),
        (None, None, None)
    );
    let procedure = &record.procedures.as_ref().unwrap()[0];
    assert_eq!(
        procedure.body_site.as_deref(),
        Some(&["snomed:397045007".into()][..])
    );
    // The reason code, then the code of the Condition the reference points to.
    assert_eq!(
        procedure.reason.as_deref(),
        Some(&["icd10:N18.6".into(), "icd10:T86.1".into()][..])
    );
    let medication = &record.medications.as_ref().unwrap()[0];
    assert_eq!(
        medication.status_reason.as_deref(),
        Some(&["icd10:I10".into()][..])
    );
    assert_eq!(medication.reason, None);
}
