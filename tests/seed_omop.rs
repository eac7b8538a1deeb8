#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)] // tests fail by panicking
//! The seed protocol screens from an OMOP CDM export: every native sample patient of
//! `protocols/sle-car-t/patients.jsonl` (hand-made to hit each criterion's edge cases) is
//! turned into OMOP CDM v5.4 rows (`PERSON`, `MEASUREMENT`, `OBSERVATION`,
//! `CONDITION_OCCURRENCE`, `DRUG_EXPOSURE`, `PROCEDURE_OCCURRENCE`, `VISIT_OCCURRENCE`) with
//! the vocabulary tables they need (`CONCEPT`, `CONCEPT_ANCESTOR`, `CONCEPT_RELATIONSHIP`),
//! plus a side file for what OMOP has no place for (the protocol's anchor dates and the
//! attestations).
//!
//! The converter is here, in Rust, as the FHIR one is (`tests/seed_fhir.rs`): it codes each
//! fact from the compiled protocol's own vocabulary (`Program::concepts`), which a script
//! would have to re-parse from `.elig` text. The converted export is committed
//! (`protocols/sle-car-t/omop/`, `protocols/sle-car-t/omop.side.jsonl`) so that a reader can
//! run it and the SQL differential tests (`tests/sql_postgres.rs`, `tests/sql_spark.rs`) load
//! it as it is; this test fails when it is out of date. To regenerate:
//! `ELIGC_UPDATE_SEED_OMOP=1 cargo test --test seed_omop`.
//!
//! OMOP cannot carry everything a native record says (a daily dose, a condition's clinical
//! status, local codes, "not recorded" for one person's list, ...). Each such loss is a
//! [`Loss`]: the native record with only that information taken out, screened by the
//! interpreter, shows which outcomes it moves. The test asserts that
//! - the native records with every loss applied get exactly the OMOP export's outcomes, for
//!   every person and criterion (so the reader maps everything else faithfully), and
//! - every outcome that differs between the native records and the OMOP export is moved by
//!   one of the listed losses, and each loss moves exactly the criteria listed for it
//!   (docs/omop.md, "The sample patients as OMOP").

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use eligc::program::Program;
use serde_json::{Map, Value, json};

mod common;
use common::{Outcomes, eligc, outcomes};

const DIR: &str = "protocols/sle-car-t";

/// The OMOP vocabulary of each eligc code system a CDM concept can carry.
fn omop_vocabulary(system: &str) -> Option<&'static str> {
    Some(match system {
        "loinc" => "LOINC",
        "snomed" => "SNOMED",
        "icd10" => "ICD10CM",
        "rxnorm" => "RxNorm",
        "atc" => "ATC",
        "cvx" => "CVX",
        _ => return None,
    })
}

/// The codes of each concept by name, from the compiled protocol.
fn vocabulary(program: &Program) -> BTreeMap<String, Vec<(String, String)>> {
    program
        .concepts
        .iter()
        .map(|c| {
            let codes = c
                .codes
                .iter()
                .map(|(s, code)| (s.name().to_string(), code.clone()))
                .collect();
            (c.name.clone(), codes)
        })
        .collect()
}

/// What the CDM cannot say about a native record. Each is applied to the native record as the
/// OMOP reader would see the converted rows; `criteria` are the outcomes it moves in the
/// samples (checked), `why` says why OMOP cannot carry it.
struct Loss {
    name: &'static str,
    why: &'static str,
    criteria: &'static [&'static str],
}

const LOSSES: &[Loss] = &[
    Loss {
        name: "daily_dose",
        why: "DRUG_EXPOSURE has no daily dose: `quantity` counts dispensed units and eligc \
              reads no DRUG_STRENGTH, so a `dose` criterion is unknown unless no exposure \
              covers a long enough run (docs/omop.md)",
        criteria: &["I2", "verdict"],
    },
    Loss {
        name: "medication_status",
        why: "DRUG_EXPOSURE has no status: an exposure without an end date (an ongoing, \
              `active` medication) has an unknown end, never \"ongoing\"",
        criteria: &["I2", "E3", "verdict"],
    },
    Loss {
        name: "condition_status",
        why: "CONDITION_OCCURRENCE has no clinical status (active, resolved, remission): a \
              condition without an end date is ongoing, and `where status` is unknown",
        criteria: &["I4", "I4.4", "E1", "E9", "verdict"],
    },
    Loss {
        name: "condition_detail",
        why: "CONDITION_OCCURRENCE has no severity, grade, body site, laterality or stage, \
              and its status concepts say only provisional or confirmed",
        criteria: &["E3", "E5", "verdict"],
    },
    Loss {
        name: "condition_without_onset",
        why: "`condition_start_date` is required: a condition whose onset is not recorded \
              has no CDM row",
        criteria: &["E12", "verdict"],
    },
    Loss {
        name: "local_codes",
        why: "a concept coded only in eligc's local systems (`local:`, a `codesystem` URL) \
              has no OMOP vocabulary: its rows have concept 0 (unmapped), which no protocol \
              concept lists",
        criteria: &["I2", "I3", "E8", "verdict"],
    },
    Loss {
        name: "absent_lists",
        why: "a CDM table is recorded for every person: a list one native record leaves out \
              (not recorded) is, in the export, recorded and empty",
        criteria: &[
            "I2", "I4", "I4.4", "E1", "E2", "E3", "E5", "E7", "E8", "E9", "E10", "E12", "verdict",
        ],
    },
];

/// The unmapped code the OMOP reader gives a row of concept 0 with this source value.
fn unmapped(source_value: &str) -> String {
    format!("https://ohdsi.github.io/CommonDataModel/unmapped|{source_value}")
}

/// The OMOP-carried code (system, code) of a native fact, from the preferred systems;
/// `None` when the concept has only codes no OMOP vocabulary holds.
fn omop_code(
    vocab: &BTreeMap<String, Vec<(String, String)>>,
    fact: &Map<String, Value>,
    preferred: &[&str],
) -> Option<(String, String)> {
    let pick = |codes: &[(String, String)]| {
        preferred.iter().find_map(|p| {
            codes
                .iter()
                .find(|(s, _)| s == p)
                .map(|(s, c)| (s.clone(), c.clone()))
        })
    };
    if let Some(name) = fact.get("concept").and_then(Value::as_str) {
        return vocab.get(name).and_then(|codes| pick(codes));
    }
    let written = fact.get("code")?.as_str()?;
    let (s, c) = written.split_once(':')?;
    if omop_vocabulary(s).is_some() {
        return Some((s.to_string(), c.to_string()));
    }
    // A local code: the concept that lists it, coded as above.
    vocab
        .values()
        .find(|codes| codes.iter().any(|(cs, cc)| cs == s && cc == c))
        .and_then(|codes| pick(codes))
}

/// The source value of a fact without an OMOP code: its concept name or code as written.
fn source_value(fact: &Map<String, Value>) -> String {
    fact.get("concept")
        .or_else(|| fact.get("code"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

const OBSERVATION_SYSTEMS: &[&str] = &["loinc", "snomed"];
const CONDITION_SYSTEMS: &[&str] = &["snomed", "icd10"];
const DRUG_SYSTEMS: &[&str] = &["rxnorm", "atc"];
const VACCINE_SYSTEMS: &[&str] = &["cvx"];
const PROCEDURE_SYSTEMS: &[&str] = &["snomed"];

/// The native record as the OMOP reader sees its converted rows, with the given losses
/// applied (all of them: what the export must screen as).
fn degrade(
    vocab: &BTreeMap<String, Vec<(String, String)>>,
    p: &Map<String, Value>,
    losses: &[&str],
) -> Map<String, Value> {
    let on = |name: &str| losses.contains(&name);
    let mut p = p.clone();
    if on("absent_lists") {
        for key in [
            "observations",
            "conditions",
            "medications",
            "immunizations",
            "procedures",
            "encounters",
        ] {
            if p.get(key).is_none_or(Value::is_null) {
                p.insert(key.into(), json!([]));
            }
        }
    }
    let mut edit = |key: &str, f: &mut dyn FnMut(&mut Map<String, Value>) -> bool| {
        if let Some(list) = p.get_mut(key).and_then(Value::as_array_mut) {
            list.retain_mut(|v| f(v.as_object_mut().unwrap()));
        }
    };
    let local = |f: &mut Map<String, Value>, systems: &[&str]| {
        if on("local_codes") && omop_code(vocab, f, systems).is_none() {
            let code = unmapped(&source_value(f));
            f.remove("concept");
            f.insert("code".into(), json!(code));
        }
    };
    edit("observations", &mut |o| {
        local(o, OBSERVATION_SYSTEMS);
        true
    });
    edit("conditions", &mut |c| {
        if on("condition_without_onset") && c.get("onset").is_none() {
            return false;
        }
        if on("condition_status") {
            c.remove("status");
        }
        if on("condition_detail") {
            for k in ["severity", "grade", "body_site", "laterality", "stage"] {
                c.remove(k);
            }
            if !matches!(
                c.get("verification").and_then(Value::as_str),
                Some("confirmed" | "provisional")
            ) {
                c.remove("verification");
            }
        }
        local(c, CONDITION_SYSTEMS);
        true
    });
    edit("medications", &mut |m| {
        if on("daily_dose") {
            for k in [
                "dose",
                "dose_unit",
                "frequency_per_day",
                "daily_dose",
                "daily_dose_unit",
            ] {
                m.remove(k);
            }
        }
        if on("medication_status") {
            m.remove("status");
            if m.get("end").is_none() {
                m.insert("status".into(), json!("completed"));
            }
        }
        local(m, DRUG_SYSTEMS);
        true
    });
    edit("immunizations", &mut |v| {
        local(v, VACCINE_SYSTEMS);
        true
    });
    edit("procedures", &mut |x| {
        local(x, PROCEDURE_SYSTEMS);
        true
    });
    p
}

/// Facts that are not facts for eligc (docs/patient-data.md, section 6): left out of the
/// export, as they are ignored natively.
fn is_fact(kind: &str, f: &Map<String, Value>) -> bool {
    let status = f.get("status").and_then(Value::as_str);
    match kind {
        "conditions" => !matches!(
            f.get("verification").and_then(Value::as_str),
            Some("refuted" | "entered-in-error")
        ),
        "medications" => status != Some("entered-in-error"),
        _ => !matches!(status, Some("not-done" | "entered-in-error")),
    }
}

/// The fields of each list the converter carries or a [`Loss`] accounts for: another field
/// in a sample stops the test, so that nothing is dropped unnoticed.
const CONVERTED_FIELDS: &[(&str, &[&str])] = &[
    (
        "observations",
        &[
            "id",
            "concept",
            "code",
            "date",
            "value",
            "unit",
            "comparator",
            "result",
            "reference_range",
        ],
    ),
    (
        "conditions",
        &[
            "id",
            "concept",
            "code",
            "onset",
            "end",
            "status",
            "verification",
            "grade",
            "severity",
            "body_site",
            "laterality",
            "stage",
        ],
    ),
    (
        "medications",
        &[
            "id",
            "concept",
            "code",
            "start",
            "end",
            "dose",
            "dose_unit",
            "frequency_per_day",
            "daily_dose",
            "daily_dose_unit",
            "route",
            "status",
        ],
    ),
    (
        "immunizations",
        &["id", "concept", "code", "date", "status"],
    ),
    // A procedure's status other than completed has no CDM column either (the reader
    // counts every row as completed).
    (
        "procedures",
        &["id", "concept", "code", "date", "end", "status"],
    ),
];

/// The CDM tables being written: rows of text fields, and the vocabulary they use.
#[derive(Default)]
struct Export {
    tables: BTreeMap<&'static str, Vec<Vec<String>>>,
    /// (vocabulary, code) -> concept id; rows of CONCEPT in order of first use.
    ids: BTreeMap<(String, String), u64>,
    concepts: Vec<Vec<String>>,
}

impl Export {
    /// The concept id of a code, adding its CONCEPT row on first use.
    fn concept(&mut self, vocabulary: &str, code: &str, name: &str, domain: &str) -> u64 {
        let key = (vocabulary.to_string(), code.to_string());
        if let Some(id) = self.ids.get(&key) {
            return *id;
        }
        let id = 2_000_001 + self.concepts.len() as u64;
        let class = match domain {
            "Unit" => "Unit",
            "Meas Value" => "Answer",
            "Route" => "Qualifier Value",
            "Condition Status" => "Condition Status",
            "Drug" => "Ingredient",
            _ => "Clinical Finding",
        };
        self.concepts.push(vec![
            id.to_string(),
            name.to_string(),
            domain.to_string(),
            vocabulary.to_string(),
            class.to_string(),
            if domain == "Condition Status" {
                ""
            } else {
                "S"
            }
            .to_string(),
            code.to_string(),
            "1970-01-01".into(),
            "2099-12-31".into(),
            String::new(),
        ]);
        self.ids.insert(key, id);
        id
    }

    /// A fact's concept id, or 0 (unmapped) when its concept has no OMOP code.
    fn coded(
        &mut self,
        vocab: &BTreeMap<String, Vec<(String, String)>>,
        f: &Map<String, Value>,
        systems: &[&str],
        domain: &str,
    ) -> u64 {
        match omop_code(vocab, f, systems) {
            Some((system, code)) => {
                let name = f
                    .get("concept")
                    .and_then(Value::as_str)
                    .map_or_else(|| format!("{system}:{code}"), str::to_string);
                self.concept(omop_vocabulary(&system).unwrap(), &code, &name, domain)
            }
            None => 0,
        }
    }

    fn row(&mut self, table: &'static str, fields: Vec<String>) {
        self.tables.entry(table).or_default().push(fields);
    }
}

fn text(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

fn datetime(d: &str) -> String {
    if d.is_empty() {
        String::new()
    } else {
        format!("{d} 00:00:00")
    }
}

/// OMOP's person_id for a native id (`P07` is 7).
fn person_id(native: &str) -> u64 {
    native.trim_start_matches('P').parse().unwrap()
}

const ROUTES: &[(&str, &str, &str)] = &[
    ("oral", "26643006", "Oral"),
    ("intravenous", "47625008", "Intravenous"),
    ("subcutaneous", "34206005", "Subcutaneous"),
    ("intramuscular", "78421000", "Intramuscular"),
    ("topical", "6064005", "Topical"),
    ("inhaled", "447694001", "Inhalation"),
];

/// The SNOMED CT answer concept of a qualitative result word (docs/omop.md).
fn answer(word: &str) -> Option<(&'static str, &'static str)> {
    Some(match word {
        "positive" => ("10828004", "Positive"),
        "negative" => ("260385009", "Negative"),
        "indeterminate" => ("82334004", "Indeterminate"),
        "normal" => ("17621005", "Normal"),
        "abnormal" => ("263654008", "Abnormal"),
        _ => return None,
    })
}

/// Adds one native patient's rows and returns its side-file line. Fields are varied where
/// OMOP has several ways to say one thing (a result word as an answer concept, as
/// `value_source_value`, or as an OBSERVATION's `value_as_string`; a drug's end as its end
/// date, its verbatim end date or its days of supply), so that every way is screened.
fn convert(
    vocab: &BTreeMap<String, Vec<(String, String)>>,
    p: &Map<String, Value>,
    out: &mut Export,
) -> Value {
    let native_id = p["id"].as_str().unwrap();
    let pid = person_id(native_id).to_string();
    let birth = text(p.get("birth_date"));
    let (year, month, day) = match birth.split('-').collect::<Vec<_>>()[..] {
        [y, m, d] => (
            y.to_string(),
            m.trim_start_matches('0').to_string(),
            d.trim_start_matches('0').to_string(),
        ),
        _ => Default::default(),
    };
    let gender = match p.get("sex").and_then(Value::as_str) {
        Some("male") => "8507",
        Some("female") => "8532",
        Some("other") => "8521",
        _ => "0",
    };
    // Half the persons with a birth datetime, all with year, month and day.
    let birth_datetime = if person_id(native_id) % 2 == 0 {
        datetime(&birth)
    } else {
        String::new()
    };
    out.row(
        "PERSON",
        [
            pid.as_str(),
            gender,
            &year,
            &month,
            &day,
            &birth_datetime,
            "0",
            "0",
            "",
            "",
            "",
            native_id,
            "",
            "0",
            "",
            "0",
            "",
            "0",
        ]
        .map(str::to_string)
        .to_vec(),
    );
    for (key, fields) in CONVERTED_FIELDS {
        for f in p.get(*key).and_then(Value::as_array).into_iter().flatten() {
            let f = f.as_object().unwrap();
            for field in f.keys() {
                assert!(
                    fields.contains(&field.as_str()),
                    "{native_id}: `{key}[].{field}` is not converted: carry it or add a loss"
                );
            }
            if *key == "procedures" && is_fact(key, f) {
                assert!(
                    f.get("status").is_none_or(|s| s == "completed"),
                    "{native_id}: a procedure's status is not converted: add a loss"
                );
            }
        }
    }
    let list = |key: &str| {
        p.get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_object)
            .filter(move |f| is_fact(key, f))
            .cloned()
            .collect::<Vec<_>>()
    };
    for (i, o) in list("observations").iter().enumerate() {
        let concept = out.coded(vocab, o, OBSERVATION_SYSTEMS, "Measurement");
        let n = out.tables.get("MEASUREMENT").map_or(0, Vec::len)
            + out.tables.get("OBSERVATION").map_or(0, Vec::len)
            + 1;
        let date = text(o.get("date"));
        let source = source_value(o);
        let unit = o.get("unit").and_then(Value::as_str).unwrap_or_default();
        let unit_concept = if unit.is_empty() {
            String::new()
        } else {
            // The UCUM spelling laboratories export (`{1.73_m2}` for eligc's `1.73m2`).
            let ucum = unit.replace("1.73m2", "{1.73_m2}");
            out.concept("UCUM", &ucum, &ucum, "Unit").to_string()
        };
        let range = o.get("reference_range").and_then(Value::as_object);
        let (low, high) = (
            text(range.and_then(|r| r.get("low"))),
            text(range.and_then(|r| r.get("high"))),
        );
        let operator = match o.get("comparator").and_then(Value::as_str) {
            Some("<") => "4171756",
            Some("<=") => "4171754",
            Some(">=") => "4171755",
            Some(">") => "4172704",
            _ => "0",
        };
        let word = o.get("result").and_then(Value::as_str);
        let answer_concept = word
            .and_then(answer)
            .map(|(code, name)| out.concept("SNOMED", code, name, "Meas Value").to_string());
        match (word, i % 3) {
            // A word as an OBSERVATION's `value_as_string`, capitalised as EHRs write it.
            (Some(w), 2) => {
                let mut written = w.to_string();
                written[..1].make_ascii_uppercase();
                out.row(
                    "OBSERVATION",
                    vec![
                        n.to_string(),
                        pid.clone(),
                        concept.to_string(),
                        date.clone(),
                        datetime(&date),
                        "0".into(),
                        String::new(),
                        written,
                        "0".into(),
                        "0".into(),
                        "0".into(),
                        String::new(),
                        String::new(),
                        String::new(),
                        source,
                        "0".into(),
                        String::new(),
                        String::new(),
                        String::new(),
                        String::new(),
                        String::new(),
                    ],
                );
            }
            _ => {
                // A word as its answer concept, or (every third) as `value_source_value`.
                let (value_concept, value_source) = match (word, &answer_concept, i % 3) {
                    (Some(w), _, 1) | (Some(w), None, _) => ("0".to_string(), w.to_string()),
                    (Some(_), Some(c), _) => (c.clone(), String::new()),
                    (None, _, _) => ("0".to_string(), String::new()),
                };
                out.row(
                    "MEASUREMENT",
                    vec![
                        n.to_string(),
                        pid.clone(),
                        concept.to_string(),
                        date.clone(),
                        datetime(&date),
                        String::new(),
                        "0".into(),
                        operator.into(),
                        text(o.get("value")),
                        value_concept,
                        unit_concept,
                        low,
                        high,
                        String::new(),
                        String::new(),
                        String::new(),
                        source,
                        "0".into(),
                        unit.to_string(),
                        "0".into(),
                        value_source,
                        String::new(),
                        String::new(),
                    ],
                );
            }
        }
    }
    for c in list("conditions") {
        let Some(onset) = c.get("onset").and_then(Value::as_str) else {
            continue; // condition_without_onset
        };
        let concept = out.coded(vocab, &c, CONDITION_SYSTEMS, "Condition");
        let status = match c.get("verification").and_then(Value::as_str) {
            Some("confirmed") => out
                .concept(
                    "Condition Status",
                    "confirmed",
                    "Confirmed diagnosis",
                    "Condition Status",
                )
                .to_string(),
            Some("provisional") => out
                .concept(
                    "Condition Status",
                    "preliminary",
                    "Preliminary diagnosis",
                    "Condition Status",
                )
                .to_string(),
            _ => "0".into(),
        };
        let n = out.tables.get("CONDITION_OCCURRENCE").map_or(0, Vec::len) + 1;
        let end = text(c.get("end"));
        out.row(
            "CONDITION_OCCURRENCE",
            vec![
                n.to_string(),
                pid.clone(),
                concept.to_string(),
                onset.to_string(),
                datetime(onset),
                end.clone(),
                datetime(&end),
                "0".into(),
                status,
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                source_value(&c),
                "0".into(),
                String::new(),
            ],
        );
    }
    let drug_row = |out: &mut Export, concept: u64, f: &Map<String, Value>, start: &str| {
        let n = out.tables.get("DRUG_EXPOSURE").map_or(0, Vec::len) + 1;
        let end = text(f.get("end"));
        // The end as the end date, the verbatim end date, or the days of supply, in turn.
        let (end_date, verbatim, supply) = match (end.is_empty(), n % 3) {
            (true, _) => (String::new(), String::new(), String::new()),
            (false, 0) => (String::new(), end.clone(), String::new()),
            (false, 1) => {
                let days = (chrono::NaiveDate::parse_from_str(&end, "%Y-%m-%d").unwrap()
                    - chrono::NaiveDate::parse_from_str(start, "%Y-%m-%d").unwrap())
                .num_days()
                    + 1;
                (String::new(), String::new(), days.to_string())
            }
            (false, _) => (end.clone(), String::new(), String::new()),
        };
        let route = match f.get("route").and_then(Value::as_str) {
            Some(r) => {
                let (_, code, name) = ROUTES.iter().find(|(w, _, _)| *w == r).unwrap();
                out.concept("SNOMED", code, name, "Route").to_string()
            }
            None => "0".into(),
        };
        out.row(
            "DRUG_EXPOSURE",
            vec![
                n.to_string(),
                pid.clone(),
                concept.to_string(),
                start.to_string(),
                datetime(start),
                end_date.clone(),
                datetime(&end_date),
                verbatim,
                "0".into(),
                String::new(),
                String::new(),
                String::new(),
                supply,
                String::new(),
                route,
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                source_value(f),
                "0".into(),
                text(f.get("route")),
                String::new(),
            ],
        );
    };
    for m in list("medications") {
        let concept = out.coded(vocab, &m, DRUG_SYSTEMS, "Drug");
        drug_row(out, concept, &m, m["start"].as_str().unwrap());
    }
    for v in list("immunizations") {
        let concept = out.coded(vocab, &v, VACCINE_SYSTEMS, "Drug");
        let mut v = v.clone();
        v.insert("end".into(), v["date"].clone());
        drug_row(out, concept, &v, v["date"].as_str().unwrap());
    }
    for x in list("procedures") {
        let concept = out.coded(vocab, &x, PROCEDURE_SYSTEMS, "Procedure");
        let n = out.tables.get("PROCEDURE_OCCURRENCE").map_or(0, Vec::len) + 1;
        let date = text(x.get("date"));
        let end = text(x.get("end"));
        out.row(
            "PROCEDURE_OCCURRENCE",
            vec![
                n.to_string(),
                pid.clone(),
                concept.to_string(),
                date.clone(),
                datetime(&date),
                end.clone(),
                datetime(&end),
                "0".into(),
                "0".into(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                source_value(&x),
                "0".into(),
                String::new(),
            ],
        );
    }
    for key in ["allergies", "encounters", "studies", "family_history"] {
        assert!(
            p.get(key)
                .and_then(Value::as_array)
                .is_none_or(Vec::is_empty),
            "{native_id}: `{key}` is not converted yet"
        );
    }
    let mut side = json!({ "patient": pid });
    for key in ["anchors", "attestations"] {
        if let Some(v) = p.get(key) {
            side[key] = v.clone();
        }
    }
    side
}

const HEADERS: &[(&str, &str)] = &[
    (
        "PERSON",
        "person_id,gender_concept_id,year_of_birth,month_of_birth,day_of_birth,birth_datetime,race_concept_id,ethnicity_concept_id,location_id,provider_id,care_site_id,person_source_value,gender_source_value,gender_source_concept_id,race_source_value,race_source_concept_id,ethnicity_source_value,ethnicity_source_concept_id",
    ),
    (
        "MEASUREMENT",
        "measurement_id,person_id,measurement_concept_id,measurement_date,measurement_datetime,measurement_time,measurement_type_concept_id,operator_concept_id,value_as_number,value_as_concept_id,unit_concept_id,range_low,range_high,provider_id,visit_occurrence_id,visit_detail_id,measurement_source_value,measurement_source_concept_id,unit_source_value,unit_source_concept_id,value_source_value,measurement_event_id,meas_event_field_concept_id",
    ),
    (
        "OBSERVATION",
        "observation_id,person_id,observation_concept_id,observation_date,observation_datetime,observation_type_concept_id,value_as_number,value_as_string,value_as_concept_id,qualifier_concept_id,unit_concept_id,provider_id,visit_occurrence_id,visit_detail_id,observation_source_value,observation_source_concept_id,unit_source_value,qualifier_source_value,value_source_value,observation_event_id,obs_event_field_concept_id",
    ),
    (
        "CONDITION_OCCURRENCE",
        "condition_occurrence_id,person_id,condition_concept_id,condition_start_date,condition_start_datetime,condition_end_date,condition_end_datetime,condition_type_concept_id,condition_status_concept_id,stop_reason,provider_id,visit_occurrence_id,visit_detail_id,condition_source_value,condition_source_concept_id,condition_status_source_value",
    ),
    (
        "DRUG_EXPOSURE",
        "drug_exposure_id,person_id,drug_concept_id,drug_exposure_start_date,drug_exposure_start_datetime,drug_exposure_end_date,drug_exposure_end_datetime,verbatim_end_date,drug_type_concept_id,stop_reason,refills,quantity,days_supply,sig,route_concept_id,lot_number,provider_id,visit_occurrence_id,visit_detail_id,drug_source_value,drug_source_concept_id,route_source_value,dose_unit_source_value",
    ),
    (
        "PROCEDURE_OCCURRENCE",
        "procedure_occurrence_id,person_id,procedure_concept_id,procedure_date,procedure_datetime,procedure_end_date,procedure_end_datetime,procedure_type_concept_id,modifier_concept_id,quantity,provider_id,visit_occurrence_id,visit_detail_id,procedure_source_value,procedure_source_concept_id,modifier_source_value",
    ),
    (
        "VISIT_OCCURRENCE",
        "visit_occurrence_id,person_id,visit_concept_id,visit_start_date,visit_start_datetime,visit_end_date,visit_end_datetime,visit_type_concept_id,provider_id,care_site_id,visit_source_value,visit_source_concept_id,admitted_from_concept_id,admitted_from_source_value,discharged_to_concept_id,discharged_to_source_value,preceding_visit_occurrence_id",
    ),
    (
        "CONCEPT",
        "concept_id,concept_name,domain_id,vocabulary_id,concept_class_id,standard_concept,concept_code,valid_start_date,valid_end_date,invalid_reason",
    ),
    (
        "CONCEPT_ANCESTOR",
        "ancestor_concept_id,descendant_concept_id,min_levels_of_separation,max_levels_of_separation",
    ),
    (
        "CONCEPT_RELATIONSHIP",
        "concept_id_1,concept_id_2,relationship_id,valid_start_date,valid_end_date,invalid_reason",
    ),
];

fn vocab() -> BTreeMap<String, Vec<(String, String)>> {
    let compiled =
        eligc::check::compile_file(&Path::new(DIR).join("protocol.elig")).expect("protocol");
    vocabulary(compiled.program.as_ref().expect("checked protocol"))
}

fn native_records() -> Vec<Map<String, Value>> {
    std::fs::read_to_string(Path::new(DIR).join("patients.jsonl"))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The whole sample set converted: file name -> CSV text, and the side file.
fn converted() -> (BTreeMap<String, String>, String) {
    let vocab = vocab();
    let mut out = Export::default();
    let mut sides = String::new();
    for p in native_records() {
        let side = convert(&vocab, &p, &mut out);
        sides.push_str(&serde_json::to_string(&side).unwrap());
        sides.push('\n');
    }
    // Every concept placed at itself (Spark's script needs CONCEPT_ANCESTOR rows).
    let ancestors: Vec<Vec<String>> = out
        .concepts
        .iter()
        .filter(|c| c[5] == "S")
        .map(|c| vec![c[0].clone(), c[0].clone(), "0".into(), "0".into()])
        .collect();
    out.tables.insert("CONCEPT", out.concepts.clone());
    out.tables.insert("CONCEPT_ANCESTOR", ancestors);
    let mut files = BTreeMap::new();
    for (table, header) in HEADERS {
        let mut csv = format!("{header}\n");
        let width = header.split(',').count();
        for row in out.tables.get(table).into_iter().flatten() {
            assert_eq!(row.len(), width, "{table}: {row:?}");
            for f in row {
                assert!(
                    !f.contains([',', '"', '\n']),
                    "{table}: `{f}` would need quoting"
                );
            }
            csv.push_str(&row.join(","));
            csv.push('\n');
        }
        files.insert(format!("{table}.csv"), csv);
    }
    (files, sides)
}

#[test]
fn the_committed_omop_samples_are_the_converted_native_ones() {
    let (files, sides) = converted();
    let dir = Path::new(DIR).join("omop");
    let side_path = Path::new(DIR).join("omop.side.jsonl");
    if std::env::var_os("ELIGC_UPDATE_SEED_OMOP").is_some() {
        std::fs::create_dir_all(&dir).unwrap();
        for (name, text) in &files {
            std::fs::write(dir.join(name), text).unwrap();
        }
        std::fs::write(&side_path, &sides).unwrap();
    }
    let stale: Vec<&String> = files
        .iter()
        .filter(|(name, text)| {
            std::fs::read_to_string(dir.join(name)).unwrap_or_default() != **text
        })
        .map(|(name, _)| name)
        .collect();
    assert!(
        stale.is_empty()
            && std::fs::read_to_string(&side_path).unwrap_or_default() == sides
            && std::fs::read_dir(&dir).unwrap().count() == files.len(),
        "{} is out of date ({stale:?}): run ELIGC_UPDATE_SEED_OMOP=1 cargo test --test seed_omop",
        dir.display()
    );
}

/// Per patient: the verdict and each criterion's outcome, from `eligc run --format json`.
fn screen(args: &[&str]) -> Outcomes {
    let out = eligc()
        .args(["run", &format!("{DIR}/protocol.elig"), "--format", "json"])
        .args(args)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    outcomes(&String::from_utf8_lossy(&out.stdout))
}

/// The native records with the given losses, screened (ids as OMOP's person_id).
fn screen_degraded(tmp: &Path, losses: &[&str]) -> Outcomes {
    let vocab = vocab();
    let path = tmp.join(format!("native-{}.jsonl", losses.join("+")));
    let mut text = String::new();
    for p in native_records() {
        let mut d = degrade(&vocab, &p, losses);
        d.insert(
            "id".into(),
            json!(person_id(p["id"].as_str().unwrap()).to_string()),
        );
        text.push_str(&serde_json::to_string(&d).unwrap());
        text.push('\n');
    }
    std::fs::write(&path, text).unwrap();
    screen(&[path.to_str().unwrap()])
}

/// (person, criterion) pairs whose outcome differs.
fn differing(a: &Outcomes, b: &Outcomes) -> BTreeSet<(String, String)> {
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "the same persons"
    );
    let mut out = BTreeSet::new();
    for (id, row) in a {
        for ((what, x), (what2, y)) in row.iter().zip(&b[id]) {
            assert_eq!(what, what2);
            if x != y {
                out.insert((id.clone(), what.clone()));
            }
        }
    }
    out
}

#[test]
fn the_samples_screen_from_omop_as_natively_except_where_omop_cannot_say_it() {
    let tmp = tempfile::tempdir().unwrap();
    let omop = screen(&[
        &format!("{DIR}/omop"),
        "--side",
        &format!("{DIR}/omop.side.jsonl"),
    ]);
    assert_eq!(omop.len(), 98);
    let all: Vec<&str> = LOSSES.iter().map(|l| l.name).collect();
    // 1. The native records with every loss applied screen exactly as the export.
    let degraded = screen_degraded(tmp.path(), &all);
    let unexplained = differing(&degraded, &omop);
    assert!(
        unexplained.is_empty(),
        "the OMOP export screens otherwise than the native records without what OMOP cannot \
         carry, for {} (person, criterion) pairs: {unexplained:?}",
        unexplained.len()
    );
    // 2. Each difference from the native records is moved by a listed loss, and each loss
    //    moves the criteria listed for it.
    let native = screen_degraded(tmp.path(), &[]);
    let differences = differing(&native, &omop);
    let mut explained = BTreeSet::new();
    let (mut report, mut wrong) = (Vec::new(), Vec::new());
    for loss in LOSSES {
        let moved = differing(&native, &screen_degraded(tmp.path(), &[loss.name]));
        let criteria: BTreeSet<&str> = moved.iter().map(|(_, c)| c.as_str()).collect();
        let listed: BTreeSet<&str> = loss.criteria.iter().copied().collect();
        if criteria != listed {
            wrong.push(format!(
                "loss `{}` ({}) moves {criteria:?}, listed {listed:?}",
                loss.name, loss.why
            ));
        }
        report.push(format!(
            "{}: {} outcomes ({})",
            loss.name,
            moved.len(),
            moved
                .iter()
                .map(|(p, c)| format!("{p} {c}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        explained.extend(moved);
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    let unlisted: Vec<_> = differences.difference(&explained).collect();
    assert!(
        unlisted.is_empty(),
        "differences no listed loss explains: {unlisted:?}"
    );
    eprintln!(
        "{} of {} outcomes differ from the native records, all explained:\n{}",
        differences.len(),
        native.values().map(Vec::len).sum::<usize>(),
        report.join("\n")
    );
}
