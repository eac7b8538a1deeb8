#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)] // tests fail by panicking
//! The patient data documents cannot drift from the native model (`src/facts/native.rs`):
//! the JSON Schema (`docs/patient.schema.json`) has the model's objects, fields, required
//! fields and allowed words, and the guide (`docs/patient-data.md`) shows an example patient
//! and error lines that eligc really accepts and prints.
//!
//! No JSON Schema validator is a dependency, so the schema is compared with the model's
//! source text: every `pub NAME:` field of every `pub struct XxxRecord`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;

use eligc::eval::{Plan, Verdict};
use eligc::facts::RawRecord;
use eligc::facts::native;
use eligc::program::CodeSystem;

fn repo_file(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

fn read(relative: &str) -> String {
    std::fs::read_to_string(repo_file(relative))
        .unwrap_or_else(|e| panic!("cannot read {relative}: {e}"))
}

fn schema() -> Value {
    serde_json::from_str(&read("docs/patient.schema.json"))
        .unwrap_or_else(|e| panic!("docs/patient.schema.json is not valid JSON: {e}"))
}

/// One field of a model struct, as written in the source.
#[derive(Debug)]
struct Field {
    name: String,
    ty: String,
    /// `#[serde(default)]` on the field.
    defaulted: bool,
}

impl Field {
    /// Whether a record without this field is rejected.
    fn required(&self) -> bool {
        !self.defaulted && !self.ty.starts_with("Option<")
    }
}

/// One object of the model: a `pub struct XxxRecord`, or a struct-like enum variant.
#[derive(Debug)]
struct ModelObject {
    name: String,
    fields: Vec<Field>,
    /// `#[serde(deny_unknown_fields)]` on the struct.
    closed: bool,
}

/// Parses `name: Type,` out of a field line, without a leading `pub `.
fn field_line(line: &str) -> Option<(String, String)> {
    let (name, ty) = line.split_once(':')?;
    let name = name.trim();
    let valid = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    valid.then(|| {
        (
            name.to_string(),
            ty.trim().trim_end_matches(',').trim().to_string(),
        )
    })
}

/// Every `pub struct XxxRecord { ... }` of the model, with its `pub NAME: Type` fields.
fn model_structs(source: &str) -> Vec<ModelObject> {
    let lines: Vec<&str> = source.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(rest) = line.strip_prefix("pub struct ") else {
            continue;
        };
        // `PatientRecord<'a> {`: the records borrow their strings from the text.
        let name = rest.trim_end_matches('{').trim().trim_end_matches("<'a>");
        let name = name.to_string();
        if !name.ends_with("Record") {
            continue;
        }
        let closed = lines[..i]
            .iter()
            .rev()
            .take_while(|l| l.starts_with("#[") || l.starts_with("///"))
            .any(|l| l.contains("deny_unknown_fields"));
        let mut fields = Vec::new();
        let mut defaulted = false;
        // A `#[serde(skip)]` field is not read from JSON: not part of the model.
        let mut skipped = false;
        for body in &lines[i + 1..] {
            if body.starts_with('}') {
                break;
            }
            let body = body.trim();
            if body.starts_with("#[serde(default") {
                defaulted = true;
            } else if body == "#[serde(skip)]" {
                skipped = true;
            } else if skipped && body.starts_with("pub ") {
                skipped = false;
            } else if let Some(decl) = body.strip_prefix("pub ") {
                let (name, ty) = field_line(decl)
                    .unwrap_or_else(|| panic!("cannot read the field line `{body}` of {name}"));
                fields.push(Field {
                    name,
                    ty,
                    defaulted,
                });
                defaulted = false;
            }
        }
        out.push(ModelObject {
            name,
            fields,
            closed,
        });
    }
    out
}

/// The fields of the struct-like variant `variant` of `pub enum name`.
fn enum_variant(source: &str, name: &str, variant: &str) -> ModelObject {
    let start = source
        .find(&format!("pub enum {name} {{"))
        .unwrap_or_else(|| panic!("no `pub enum {name}` in native.rs"));
    let rest = &source[start..];
    let open = rest
        .find(&format!("{variant} {{"))
        .unwrap_or_else(|| panic!("no variant `{variant} {{` in `{name}`"));
    let mut fields = Vec::new();
    let mut defaulted = false;
    for line in rest[open..].lines().skip(1) {
        let line = line.trim();
        if line.starts_with('}') {
            break;
        }
        if line.starts_with("#[serde(default") {
            defaulted = true;
        } else if !line.starts_with("//") && !line.starts_with("#[") {
            if let Some((field, ty)) = field_line(line) {
                fields.push(Field {
                    name: field,
                    ty,
                    defaulted,
                });
                defaulted = false;
            }
        }
    }
    ModelObject {
        name: format!("{name}::{variant}"),
        fields,
        closed: false,
    }
}

/// The unit variants of `pub enum name`, as serde writes them (`rename_all = "snake_case"`
/// on one-word names: lower case).
fn unit_variants(source: &str, name: &str) -> BTreeSet<String> {
    let start = source
        .find(&format!("pub enum {name} {{"))
        .unwrap_or_else(|| panic!("no `pub enum {name}` in native.rs"));
    source[start..]
        .lines()
        .skip(1)
        .map(str::trim)
        .take_while(|l| !l.starts_with('}'))
        .filter(|l| !l.starts_with("//") && !l.starts_with("#["))
        .filter_map(|l| l.strip_suffix(','))
        .map(str::to_lowercase)
        .collect()
}

/// Every object of the model that the schema describes.
fn model_objects() -> Vec<ModelObject> {
    let source = read("src/facts/native.rs");
    let mut objects = model_structs(&source);
    objects.push(enum_variant(&source, "AttestationRecord", "Detailed"));
    objects
}

/// The schema object that describes a model object.
fn schema_object<'s>(schema: &'s Value, model_name: &str) -> &'s Value {
    let object = match model_name {
        "PatientRecord" => schema,
        "ObservationRecord" => &schema["$defs"]["observation"],
        "RangeRecord" => &schema["$defs"]["observation"]["properties"]["reference_range"],
        "ConditionRecord" => &schema["$defs"]["condition"],
        "MedicationRecord" => &schema["$defs"]["medication"],
        "ImmunizationRecord" => &schema["$defs"]["immunization"],
        "ProcedureRecord" => &schema["$defs"]["procedure"],
        "EncounterRecord" => &schema["$defs"]["encounter"],
        "StudyRecord" => &schema["$defs"]["study"],
        "FamilyHistoryRecord" => &schema["$defs"]["family_history"],
        "AttestationRecord::Detailed" => schema["$defs"]["attestation"]["oneOf"]
            .as_array()
            .and_then(|branches| branches.iter().find(|b| b["type"] == "object"))
            .unwrap_or(&Value::Null),
        other => panic!(
            "`{other}` in src/facts/native.rs has no object in docs/patient.schema.json: \
             describe it there and name it in `schema_object` in this test"
        ),
    };
    assert!(
        object.is_object(),
        "docs/patient.schema.json has no object for `{model_name}`"
    );
    object
}

fn property_names(object: &Value) -> BTreeSet<String> {
    object["properties"]
        .as_object()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default()
}

fn string_set(value: &Value) -> BTreeSet<String> {
    value
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn words(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|w| (*w).to_string()).collect()
}

#[test]
fn schema_is_draft_2020_12_json_describing_one_closed_patient_object() {
    let schema = schema();
    assert_eq!(
        schema["$schema"], "https://json-schema.org/draft/2020-12/schema",
        "the schema must declare draft 2020-12"
    );
    assert_eq!(schema["type"], "object");
    assert_eq!(schema["additionalProperties"], false);
    assert_eq!(string_set(&schema["required"]), words(&["id"]));
    for def in [
        "date",
        "code",
        "concept_or_code",
        "observation",
        "condition",
        "medication",
        "immunization",
        "procedure",
        "attestation",
    ] {
        assert!(schema["$defs"][def].is_object(), "no `$defs/{def}`");
    }
    assert_eq!(
        schema["$defs"]["date"]["pattern"], "^\\d{4}-\\d{2}-\\d{2}$",
        "dates are YYYY-MM-DD"
    );
}

#[test]
fn the_model_source_is_read_into_every_record_object() {
    let names: BTreeSet<String> = model_objects().into_iter().map(|o| o.name).collect();
    for expected in [
        "PatientRecord",
        "RangeRecord",
        "ObservationRecord",
        "ConditionRecord",
        "MedicationRecord",
        "ImmunizationRecord",
        "ProcedureRecord",
        "AttestationRecord::Detailed",
    ] {
        assert!(
            names.contains(expected),
            "`{expected}` was not found in src/facts/native.rs (found {names:?})"
        );
    }
    for object in model_objects() {
        assert!(
            !object.fields.is_empty(),
            "no fields read for {}",
            object.name
        );
    }
}

#[test]
fn every_model_field_is_in_the_schema_and_every_schema_property_is_in_the_model() {
    let schema = schema();
    for object in model_objects() {
        let in_schema = property_names(schema_object(&schema, &object.name));
        let in_model: BTreeSet<String> = object.fields.iter().map(|f| f.name.clone()).collect();
        let missing: Vec<_> = in_model.difference(&in_schema).collect();
        let extra: Vec<_> = in_schema.difference(&in_model).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{}: fields in native.rs but not in the schema: {missing:?}; \
             properties in the schema but not in native.rs: {extra:?}",
            object.name
        );
    }
}

#[test]
fn required_fields_in_the_schema_are_exactly_those_the_model_cannot_do_without() {
    let schema = schema();
    for object in model_objects() {
        if object.name == "AttestationRecord::Detailed" {
            // The schema asks for `value` on purpose (see its description); eligc reads a
            // detailed attestation without it as not yet recorded.
            continue;
        }
        let expected: BTreeSet<String> = object
            .fields
            .iter()
            .filter(|f| f.required())
            .map(|f| f.name.clone())
            .collect();
        let actual = string_set(&schema_object(&schema, &object.name)["required"]);
        assert_eq!(actual, expected, "required fields of {}", object.name);
    }
}

#[test]
fn objects_that_refuse_unknown_fields_are_closed_in_the_schema() {
    let schema = schema();
    for object in model_objects() {
        let schema_object = schema_object(&schema, &object.name);
        if object.closed {
            assert_eq!(
                schema_object["additionalProperties"], false,
                "{} has deny_unknown_fields: its schema needs additionalProperties false",
                object.name
            );
        }
    }
    // Stricter than the model on purpose, to catch typos such as `vlaue`.
    assert_eq!(
        schema_object(&schema, "AttestationRecord::Detailed")["additionalProperties"],
        false
    );
}

#[test]
fn field_types_in_the_schema_follow_the_rust_types() {
    let schema = schema();
    for object in model_objects() {
        let schema_object = schema_object(&schema, &object.name);
        for field in &object.fields {
            let property = &schema_object["properties"][&field.name];
            let text = property.to_string();
            let where_ = format!("{}.{} ({})", object.name, field.name, field.ty);
            if field.ty.contains("NaiveDate") {
                assert!(text.contains("#/$defs/date"), "{where_} must be a date");
            }
            if field.ty.contains("Decimal") {
                assert!(text.contains("\"number\""), "{where_} must be a number");
            }
            if field.ty.contains("bool") {
                assert!(text.contains("\"boolean\""), "{where_} must be a boolean");
            }
            if field.ty.contains("Vec<") {
                assert!(text.contains("\"array\""), "{where_} must be an array");
            }
            if field.ty.contains("BTreeMap") {
                assert_eq!(property["type"], "object", "{where_} must be an object");
            }
            // Option fields accept null; the others (maps included) refuse it.
            if field.ty.starts_with("Option<") {
                assert!(
                    allows_null(property),
                    "{where_} is optional: null must be allowed"
                );
            } else {
                assert!(
                    !allows_null(property),
                    "{where_} is not an Option: null is refused"
                );
            }
        }
    }
}

/// Whether a property's schema accepts `null` (its own keywords, not what it refers to).
fn allows_null(property: &Value) -> bool {
    let type_null = match &property["type"] {
        Value::String(t) => t == "null",
        Value::Array(types) => types.contains(&Value::from("null")),
        _ => false,
    };
    let enum_null = property["enum"]
        .as_array()
        .is_some_and(|a| a.contains(&Value::Null));
    let branch_null = ["anyOf", "oneOf"].iter().any(|k| {
        property[*k]
            .as_array()
            .is_some_and(|branches| branches.iter().any(allows_null))
    });
    type_null || enum_null || branch_null
}

#[test]
fn allowed_words_in_the_schema_are_the_models_lists() {
    let schema = schema();
    let defs = &schema["$defs"];
    let enum_of = |v: &Value| -> BTreeSet<String> { string_set(&v["enum"]) };
    let cases: [(&str, &Value, &[&str]); 11] = [
        (
            "observation.comparator",
            &defs["observation"]["properties"]["comparator"],
            native::COMPARATORS,
        ),
        (
            "observation.interpretation",
            &defs["observation"]["properties"]["interpretation"],
            native::INTERPRETATIONS,
        ),
        (
            "condition.status",
            &defs["condition"]["properties"]["status"],
            native::CONDITION_STATUSES,
        ),
        (
            "condition.verification",
            &defs["condition"]["properties"]["verification"],
            native::VERIFICATIONS,
        ),
        (
            "condition.severity",
            &defs["condition"]["properties"]["severity"],
            native::SEVERITIES,
        ),
        (
            "medication.status",
            &defs["medication"]["properties"]["status"],
            native::MEDICATION_STATUSES,
        ),
        (
            "medication.route",
            &defs["medication"]["properties"]["route"],
            native::ROUTES,
        ),
        (
            "immunization.status",
            &defs["immunization"]["properties"]["status"],
            native::IMMUNIZATION_STATUSES,
        ),
        (
            "procedure.status",
            &defs["procedure"]["properties"]["status"],
            native::PROCEDURE_STATUSES,
        ),
        (
            "encounter.status",
            &defs["encounter"]["properties"]["status"],
            native::ENCOUNTER_STATUSES,
        ),
        (
            "encounter.discharge",
            &defs["encounter"]["properties"]["discharge"],
            native::DISCHARGES,
        ),
    ];
    for (what, property, model) in cases {
        assert_eq!(enum_of(property), words(model), "allowed words of {what}");
        assert!(
            property["enum"]
                .as_array()
                .is_some_and(|a| a.contains(&Value::Null)),
            "{what} is optional: its enum must allow null"
        );
    }
    let sex = unit_variants(&read("src/facts/native.rs"), "RecordedSex");
    assert_eq!(enum_of(&schema["properties"]["sex"]), sex, "allowed sexes");
}

#[test]
fn code_pattern_names_exactly_the_code_systems_eligc_knows() {
    let schema = schema();
    let pattern = schema["$defs"]["code"]["pattern"].as_str().unwrap();
    let systems = pattern
        .strip_prefix("^(")
        .and_then(|p| p.split_once("):"))
        // The second alternative is `URL|code`, for systems named by URL.
        .map(|(alternatives, _)| alternatives)
        .unwrap_or_else(|| panic!("the code pattern `{pattern}` does not start `^(a|b|...):`"));
    let in_schema: BTreeSet<String> = systems.split('|').map(str::to_string).collect();
    let known: BTreeSet<String> = CodeSystem::ALL
        .iter()
        .map(|(name, _)| (*name).to_string())
        .collect();
    assert_eq!(in_schema, known);
}

/// The text of the fenced block that follows the line `<!-- marker -->` in the guide.
fn guide_block(guide: &str, marker: &str) -> String {
    let tag = format!("<!-- {marker} -->");
    let after = guide
        .split_once(tag.as_str())
        .unwrap_or_else(|| panic!("docs/patient-data.md has no `{tag}`"))
        .1;
    let fence = after.find("```").expect("a fenced block after the marker");
    let body = &after[fence..];
    let body = &body[body.find('\n').unwrap() + 1..];
    body[..body.find("\n```").expect("the end of the fenced block")].to_string()
}

#[test]
fn the_guides_example_patient_is_accepted_and_eligible_for_the_sle_protocol() {
    let guide = read("docs/patient-data.md");
    let text = guide_block(&guide, "example patient");
    let raw = RawRecord::new(Arc::from("example.json"), 1, text);
    let record = raw
        .parse()
        .unwrap_or_else(|e| panic!("the guide's example is rejected: {e}"));
    let compilation =
        eligc::check::compile_file(&repo_file("protocols/sle-car-t/protocol.elig")).unwrap();
    let plan = Plan::new(
        compilation.program.expect("the SLE protocol compiles"),
        compilation.sources,
    );
    let result = plan.evaluate(&record, true);
    assert_eq!(
        result.verdict,
        Verdict::Eligible,
        "the guide says the example patient is eligible; unknown: {:?}, excluded by: {:?}",
        result.unknown(),
        result.excluding()
    );
    assert_eq!(
        result.unused_facts, 1,
        "the guide says one fact is outside the vocabulary"
    );
}

#[test]
fn the_guides_rejection_lines_are_what_eligc_prints_for_its_bad_records() {
    let guide = read("docs/patient-data.md");
    let records = guide_block(&guide, "bad.jsonl");
    let printed = guide_block(&guide, "bad.jsonl stderr");
    let mut expected = Vec::new();
    let mut read = 0;
    for (i, line) in records.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        read += 1;
        let raw = RawRecord::new(Arc::from("bad.jsonl"), i + 1, line);
        if let Err(e) = raw.parse() {
            expected.push(format!("rejected: {e}"));
        }
    }
    let shown: Vec<String> = printed
        .lines()
        .filter(|l| l.starts_with("rejected: "))
        .map(str::to_string)
        .collect();
    assert_eq!(shown, expected, "the guide's error lines are out of date");
    let summary = printed.lines().last().unwrap_or_default();
    assert!(
        summary.starts_with(&format!("read {read}: ")),
        "the guide's summary line `{summary}` should count {read} records"
    );
    assert!(
        summary.ends_with(&format!("{} rejected", expected.len())),
        "the guide's summary line `{summary}` should count {} rejected",
        expected.len()
    );
}
