//! FHIR R4 input: a patient's Bundle converted into the native [`PatientRecord`], which is
//! then screened exactly like native JSON (one evaluation path). Documented resource by
//! resource in `docs/fhir.md`.
//!
//! Facts are named by code (`loinc:33914-3`, `snomed:...`, `icd10:...`, `rxnorm:...`,
//! `cvx:...`); which vocabulary concept a code stands for is decided at evaluation, by the
//! protocol's vocabulary, never here. Every coding of a known system is kept: the first one
//! becomes the fact's `code`, the others its `also` codes.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::native::{
    ConditionRecord, ImmunizationRecord, MedicationRecord, ObservationRecord, PatientRecord,
    ProcedureRecord, RangeRecord, RecordedSex, Text, texts,
};

/// What a conversion used, skipped and ignored: counted, never dropped silently.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Stats {
    /// Patients converted.
    pub patients: usize,
    /// Resources read (Patient included).
    pub resources: usize,
    /// Native facts made (one per observation component).
    pub facts: usize,
    /// Resources of a type eligc does not use, by type (Encounter, Claim, ...).
    pub skipped: BTreeMap<String, usize>,
    /// Resources or parts left out, by reason (`Observation: entered-in-error`, ...).
    pub ignored: BTreeMap<String, usize>,
}

impl Stats {
    /// Adds another conversion's counts.
    pub fn add(&mut self, other: &Stats) {
        self.patients += other.patients;
        self.resources += other.resources;
        self.facts += other.facts;
        for (k, v) in &other.skipped {
            *self.skipped.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &other.ignored {
            *self.ignored.entry(k.clone()).or_default() += v;
        }
    }

    fn ignore(&mut self, what: &str, why: &str) {
        *self.ignored.entry(format!("{what}: {why}")).or_default() += 1;
    }

    /// One line for the end of a run, e.g. `FHIR: 2 patients, 722 resources, ...`.
    pub fn summary(&self) -> String {
        let list = |m: &BTreeMap<String, usize>| {
            m.iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut line = format!(
            "FHIR: {} patients, {} resources read, {} facts made",
            self.patients, self.resources, self.facts
        );
        if !self.skipped.is_empty() {
            let n: usize = self.skipped.values().sum();
            line.push_str(&format!(
                "; {n} resources of unused types skipped ({})",
                list(&self.skipped)
            ));
        }
        if !self.ignored.is_empty() {
            let n: usize = self.ignored.values().sum();
            line.push_str(&format!("; {n} left out ({})", list(&self.ignored)));
        }
        line
    }
}

/// Why a Bundle could not be converted, and where (a JSON path in the Bundle).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FhirError {
    /// The index of the Bundle entry at fault, if one is.
    pub entry: Option<usize>,
    /// The path inside that entry's resource (`effectiveDateTime`), or in the Bundle when
    /// no entry is at fault.
    pub field: String,
    /// The patient's id, when known.
    pub patient: Option<String>,
    /// What is wrong.
    pub reason: String,
}

impl FhirError {
    /// The full JSON path in the Bundle, e.g. `entry[12].resource.effectiveDateTime`.
    pub fn path(&self) -> String {
        match (self.entry, self.field.is_empty()) {
            (Some(i), true) => format!("entry[{i}].resource"),
            (Some(i), false) => format!("entry[{i}].resource.{}", self.field),
            (None, _) => self.field.clone(),
        }
    }
}

/// The resource types whose absence from a Bulk Data export means "not recorded".
pub const DOMAIN_TYPES: &[&str] = &[
    "Observation",
    "Condition",
    "MedicationRequest",
    "MedicationStatement",
    "MedicationAdministration",
    "Immunization",
    "Procedure",
    "AllergyIntolerance",
    "Encounter",
    "ResearchSubject",
    "FamilyMemberHistory",
];

/// The code of a study that a ResearchSubject names without any identifier eligc can read:
/// which study it is cannot be told, so it is never placed (questions about it are unknown).
pub const UNIDENTIFIED_STUDY: &str = "https://eligc.invalid/unidentified-study";

/// The code of a fact whose resource does not say what it is in a way eligc can read (no
/// coding with a system and a code, only text; a `medicationReference` to a Medication not
/// in the Bundle): kept, never placed, so a question it might answer is unknown, as for an
/// unmapped OMOP concept (docs/fhir.md).
pub const UNCODED: &str = "https://eligc.invalid/uncoded";

/// An [`UNCODED`] code for the resource `key` (its id, or a reference).
fn uncoded(key: Option<&str>) -> String {
    let key = key.map(clean).filter(|k| !k.is_empty());
    let key = key.as_deref().unwrap_or("no-id");
    let key: String = key
        .chars()
        .map(|c| {
            if c.is_whitespace() || c == '|' || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    format!("{UNCODED}|{key}")
}

/// The codes of a fact, or its [`UNCODED`] code when it has none.
fn or_uncoded(all: Vec<String>, key: Option<&str>) -> (String, Option<Vec<String>>) {
    code_and_also(all).unwrap_or_else(|| (uncoded(key), None))
}

/// The field of a clinical resource that refers to its patient: `patient` for Immunization
/// and AllergyIntolerance, `subject` for the others.
/// R4's ResearchSubject has `individual` (R5's, `subject`).
pub fn subject_field(rtype: &str) -> &'static str {
    match rtype {
        "Immunization" | "AllergyIntolerance" | "FamilyMemberHistory" => "patient",
        "ResearchSubject" => "individual",
        _ => "subject",
    }
}

/// SNOMED CT situations that say an allergy list was taken and found empty ("no known
/// allergy", "no known drug allergy"): recorded as none, never an allergy to something.
const NO_KNOWN_ALLERGY: &[&str] = &["716186003", "409137002"];
/// "No known food allergy", "no known environmental allergy": say nothing about drugs, so
/// they do not make the allergy list recorded.
const NO_KNOWN_OTHER_ALLERGY: &[&str] = &["429625007", "428607008"];

/// Zero-width characters stripped from codes, units and result words.
const ZERO_WIDTH: &[char] = &['\u{200B}', '\u{200C}', '\u{200D}', '\u{2060}', '\u{FEFF}'];

/// Text with zero-width characters removed and whitespace trimmed.
pub fn clean(text: &str) -> String {
    text.chars()
        .filter(|c| !ZERO_WIDTH.contains(c))
        .collect::<String>()
        .trim()
        .to_string()
}

/// eligc's name for the code system a FHIR system URI stands for, if it has one.
pub fn known_system(uri: &str) -> Option<&'static str> {
    Some(match uri.trim_end_matches('/') {
        "http://loinc.org" => "loinc",
        "http://snomed.info/sct" => "snomed",
        "http://hl7.org/fhir/sid/icd-10" | "http://hl7.org/fhir/sid/icd-10-cm" => "icd10",
        "http://www.nlm.nih.gov/research/umls/rxnorm" => "rxnorm",
        "http://www.whocc.no/atc" => "atc",
        "http://hl7.org/fhir/sid/cvx" => "cvx",
        "http://terminology.hl7.org/CodeSystem/v3-ActCode" => "actcode",
        // ClinicalTrials.gov identifiers, as exports write the registry's address.
        "http://clinicaltrials.gov"
        | "https://clinicaltrials.gov"
        | "http://www.clinicaltrials.gov"
        | "https://www.clinicaltrials.gov"
        | "http://terminology.hl7.org/NamingSystem/ClinicalTrials-Gov" => "nct",
        _ => return None,
    })
}

/// One resource being converted: its entry index, for error paths.
struct At<'a> {
    entry: usize,
    patient: &'a str,
}

impl At<'_> {
    fn err(&self, field: &str, reason: impl Into<String>) -> FhirError {
        FhirError {
            entry: Some(self.entry),
            field: field.to_string(),
            patient: Some(self.patient.to_string()),
            reason: reason.into(),
        }
    }
}

/// A FHIR date or dateTime read as a calendar date (the date part, in its own offset).
enum FhirDate {
    Day(NaiveDate),
    /// `2019` or `2019-05`: too imprecise for a day.
    Partial,
}

fn read_date(value: &Value, at: &At<'_>, field: &str) -> Result<FhirDate, FhirError> {
    let bad = |why: &str| {
        at.err(
            field,
            format!("{value} is not a FHIR date or dateTime ({why}; e.g. 2019-11-12 or 2019-11-12T20:32:26+00:00)"),
        )
    };
    let Some(text) = value.as_str() else {
        return Err(bad("not a string"));
    };
    let bytes = text.as_bytes();
    let digits = |r: std::ops::Range<usize>| {
        bytes
            .get(r)
            .is_some_and(|b| !b.is_empty() && b.iter().all(u8::is_ascii_digit))
    };
    match text.len() {
        4 if digits(0..4) => return Ok(FhirDate::Partial),
        7 if digits(0..4) && bytes.get(4) == Some(&b'-') && digits(5..7) => {
            return Ok(FhirDate::Partial);
        }
        _ => {}
    }
    let day = text.get(..10).ok_or_else(|| bad("too short"))?;
    let date = NaiveDate::parse_from_str(day, "%Y-%m-%d").map_err(|_| bad("no such date"))?;
    if day.len() != 10 || !digits(0..4) {
        return Err(bad("the date is not YYYY-MM-DD"));
    }
    match text.get(10..) {
        None | Some("") => Ok(FhirDate::Day(date)),
        Some(rest) if rest.starts_with('T') && fhir_time(rest) => Ok(FhirDate::Day(date)),
        Some(_) => Err(bad("a time must follow `T`, as hh:mm:ss and an offset")),
    }
}

/// The time of a dateTime: `Thh:mm:ss`, optional fraction, then `Z` or `+hh:mm` / `-hh:mm`
/// (FHIR requires the offset; a time without one is still read, since only the date is
/// used). No `T24:00`, no seconds beyond 60, no spaces.
fn fhir_time(rest: &str) -> bool {
    let b = rest.as_bytes();
    let two = |i: usize, max: u32| {
        rest.get(i..i + 2).is_some_and(|d| {
            d.bytes().all(|c| c.is_ascii_digit()) && d.parse::<u32>().is_ok_and(|n| n <= max)
        })
    };
    // T hh : mm : ss
    if !(b.first() == Some(&b'T')
        && two(1, 23)
        && b.get(3) == Some(&b':')
        && two(4, 59)
        && b.get(6) == Some(&b':')
        && two(7, 60))
    {
        return false;
    }
    let mut i = 9;
    if b.get(i) == Some(&b'.') {
        let digits = b
            .get(i + 1..)
            .map_or(0, |r| r.iter().take_while(|c| c.is_ascii_digit()).count());
        if digits == 0 || digits > 9 {
            return false;
        }
        i += 1 + digits;
    }
    match b.get(i..) {
        None | Some([]) | Some([b'Z']) => true,
        Some([b'+' | b'-', ..]) => {
            b.len() == i + 6 && two(i + 1, 14) && b.get(i + 3) == Some(&b':') && two(i + 4, 59)
        }
        Some(_) => false,
    }
}

/// The first of `fields` present, as a date (`None` if none is present or it is partial).
fn first_date(
    resource: &Map<String, Value>,
    fields: &[&str],
    at: &At<'_>,
    stats: &mut Stats,
    what: &str,
) -> Result<Option<NaiveDate>, FhirError> {
    for field in fields {
        if let Some(value) = date_field(resource, field) {
            return match read_date(value, at, field)? {
                FhirDate::Day(d) => Ok(Some(d)),
                FhirDate::Partial => {
                    stats.ignore(what, "date without a day");
                    Ok(None)
                }
            };
        }
    }
    Ok(None)
}

/// The value of a date field (`effectiveDateTime`, or `effectivePeriod.start` one level
/// down), when present and not null.
fn date_field<'v>(resource: &'v Map<String, Value>, field: &str) -> Option<&'v Value> {
    match field.split_once('.') {
        Some((outer, inner)) => resource.get(outer).and_then(|o| o.get(inner)),
        None => resource.get(field),
    }
    .filter(|v| !v.is_null())
}

fn decimal(value: &Value, at: &At<'_>, field: &str) -> Result<Decimal, FhirError> {
    let text = match value {
        Value::Number(n) => n.to_string(),
        other => return Err(at.err(field, format!("{other} is not a number"))),
    };
    crate::number::parse(&text).map_err(|e| at.err(field, format!("{text}: {e}")))
}

/// A JSON number as an exact decimal (`None` for text or a number eligc cannot hold).
fn number_of(value: &Value) -> Option<Decimal> {
    match value {
        Value::Number(n) => crate::number::parse(&n.to_string()).ok(),
        _ => None,
    }
}

fn str_at<'v>(value: &'v Value, path: &[&str]) -> Option<&'v str> {
    let mut v = value;
    for key in path {
        v = v.get(*key)?;
    }
    v.as_str()
}

/// The codes of a CodeableConcept in systems eligc knows, as `system:value`, in `order`
/// of system preference (then in the order given). `field` names the concept in errors: a
/// system or code with a hidden character inside is refused ([`super::codes`]), as it is in
/// a native record.
fn codes(
    concept: Option<&Value>,
    order: &[&str],
    at: &At<'_>,
    field: &str,
) -> Result<Vec<String>, FhirError> {
    let mut found: Vec<(usize, String)> = Vec::new();
    let codings = concept
        .and_then(|c| c.get("coding"))
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for (k, coding) in codings.iter().enumerate() {
        let (Some(system), Some(code)) = (str_at(coding, &["system"]), str_at(coding, &["code"]))
        else {
            continue;
        };
        let normal = |text, part: &str| {
            super::codes::normalise(text)
                .map_err(|reason| at.err(&format!("{field}.coding[{k}].{part}"), reason))
        };
        let system = normal(system, "system")?;
        let code = normal(code, "code")?;
        if code.is_empty() {
            continue;
        }
        let (rank, text) = match known_system(system) {
            Some(name) => (
                order.iter().position(|s| *s == name).unwrap_or(order.len()),
                format!("{name}:{code}"),
            ),
            // A system eligc has no name for, kept as `URL|code` (FHIR's token form): a
            // protocol that declares it (`codesystem NAME = "URL"`) reads it.
            None => match url_code(system, code) {
                Some(text) => (order.len() + 1, text),
                None => continue,
            },
        };
        if !found.iter().any(|(_, t)| *t == text) {
            found.push((rank, text));
        }
    }
    found.sort_by_key(|(rank, _)| *rank);
    Ok(found.into_iter().map(|(_, t)| t).collect())
}

/// A coding of a system eligc has no name for, as `URL|code`: the system's absolute URI
/// without a trailing `/`; `None` when the system is not one or either part has a space or
/// a `|`.
pub fn url_code(system: &str, code: &str) -> Option<String> {
    let system = clean(system);
    let system = system.trim_end_matches('/');
    let scheme = system.split_once(':').map(|(s, _)| s)?;
    let bad = |t: &str| t.is_empty() || t.chars().any(|c| c.is_whitespace() || c == '|');
    if bad(system)
        || bad(code)
        || scheme.is_empty()
        || !scheme.starts_with(|c: char| c.is_ascii_alphabetic())
    {
        return None;
    }
    Some(format!("{system}|{code}"))
}

/// What a CodeableConcept says for people: its `text`, else its first coding's `display`.
fn display(cc: Option<&Value>) -> Option<String> {
    let cc = cc?;
    str_at(cc, &["text"])
        .or_else(|| {
            cc.get("coding")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .find_map(|c| str_at(c, &["display"]))
        })
        .map(clean)
        .filter(|d| !d.is_empty())
}

/// Splits codes into the fact's `code` and `also`.
fn code_and_also(mut all: Vec<String>) -> Option<(String, Option<Vec<String>>)> {
    if all.is_empty() {
        return None;
    }
    let first = all.remove(0);
    Some((first, (!all.is_empty()).then_some(all)))
}

/// The first coding's `code` of a CodeableConcept (e.g. a status), cleaned.
fn status_code(concept: Option<&Value>) -> Option<String> {
    concept?
        .get("coding")?
        .as_array()?
        .iter()
        .find_map(|c| str_at(c, &["code"]))
        .map(clean)
}

/// A reference's target: `Patient/abc`, `urn:uuid:abc`, `https://x/fhir/Patient/abc`.
fn reference(value: Option<&Value>) -> Option<&str> {
    value?.get("reference")?.as_str()
}

/// The id a reference points to, whatever its form (`Patient/abc`, `urn:uuid:abc`, a URL).
pub fn reference_target(reference: &str) -> &str {
    let r = reference.trim();
    let r = r.strip_prefix("urn:uuid:").unwrap_or(r);
    let r = r.split("/_history/").next().unwrap_or(r);
    r.rsplit('/').next().unwrap_or(r)
}

/// The Patient id a literal reference names: `Patient/ID`, also written with a server's
/// base (`https://x/fhir/Patient/ID`) or a version (`Patient/ID/_history/2`). Anything else
/// is refused, with the reason: a reference to another resource type (`Group/ID`,
/// `Device/ID`, `Practitioner/ID`) is not a patient even when its id is one, and a bare id,
/// a `urn:uuid:` or a `#contained` reference names no Patient by itself (a Bundle resolves
/// `urn:uuid:` through its entries' `fullUrl`).
pub fn patient_reference(reference: &str) -> Result<&str, String> {
    let r = reference.trim();
    let r = r.split("/_history/").next().unwrap_or(r);
    let mut parts = r.rsplit('/');
    let (id, rtype) = (parts.next().unwrap_or_default(), parts.next());
    match rtype {
        Some("Patient") if !id.is_empty() => Ok(id),
        Some(other) if !other.is_empty() && !r.starts_with("urn:") => Err(format!(
            "`{reference}` refers to a {other}, not a Patient: only `Patient/ID` references (or the `fullUrl` of the Bundle's Patient entry) attribute a resource to a patient"
        )),
        _ => Err(format!(
            "`{reference}` does not name a Patient: write `Patient/ID` (a `urn:uuid:` reference must be the `fullUrl` of the Bundle's Patient entry)"
        )),
    }
}

/// Converts one patient's Bundle into a native record.
///
/// `recorded` lists resource types known to be recorded even when the Bundle has none of
/// them (a Bulk Data export that has the type's file); otherwise a domain (observations,
/// conditions, ...) is recorded when the Bundle holds at least one resource feeding it, and
/// "not recorded" (unknown) when it holds none.
pub fn bundle_to_record(
    bundle: &Value,
    recorded: &[&str],
) -> Result<(PatientRecord<'static>, Stats), FhirError> {
    bundle_text_to_record(&bundle.to_string(), recorded).map_err(|(e, _)| e)
}

/// An object's members as written: each key and its value's text, repeated keys kept.
struct Members<'a>(Vec<(String, &'a RawValue)>);

impl<'de> serde::Deserialize<'de> for Members<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Members<'de>, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Members<'de>, A::Error> {
                let mut out = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    out.push((key, map.next_value::<&'de RawValue>()?));
                }
                Ok(Members(out))
            }
        }
        d.deserialize_map(V)
    }
}

impl<'a> Members<'a> {
    /// The members of `raw`; `None` when it is not an object.
    fn of(raw: &'a RawValue) -> Option<Members<'a>> {
        serde_json::from_str(raw.get()).ok()
    }

    fn get(&self, key: &str) -> Option<&'a RawValue> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
    }

    /// The first key given twice, with its second value.
    fn repeated(&self) -> Option<(&str, &'a RawValue)> {
        self.0.iter().enumerate().find_map(|(i, (k, v))| {
            self.0
                .get(..i)
                .is_some_and(|before| before.iter().any(|(b, _)| b == k))
                .then_some((k.as_str(), *v))
        })
    }
}

/// The members of the object `raw` (a slice of `text`), refusing a repeated key (`path`
/// names the object); `None` when it is not an object.
fn members<'a>(
    text: &str,
    raw: &'a RawValue,
    path: &str,
) -> Result<Option<Members<'a>>, (FhirError, usize)> {
    let Some(m) = Members::of(raw) else {
        return Ok(None);
    };
    if let Some((key, value)) = m.repeated() {
        return Err((
            FhirError {
                entry: None,
                field: path.to_string(),
                patient: None,
                reason: format!("repeated key `{key}`: a key may appear once in an object"),
            },
            offset_in(text, value.get()),
        ));
    }
    Ok(Some(m))
}

/// Whether `text` is a JSON object with a `resourceType` at its top (FHIR, not a native
/// record), found without building the object.
pub(crate) fn has_resource_type(text: &str) -> bool {
    serde_json::from_str::<Members<'_>>(text).is_ok_and(|m| m.get("resourceType").is_some())
}

/// What kind of JSON value `raw` is, for messages.
fn raw_kind(raw: &RawValue) -> &'static str {
    match raw.get().trim_start().as_bytes().first() {
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        Some(b'"') => "a string",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    }
}

/// A small value (a `resourceType`, an `id`, a `fullUrl`) as a string, if it is one.
fn raw_str(raw: Option<&RawValue>) -> Option<String> {
    raw.and_then(|r| serde_json::from_str::<String>(r.get()).ok())
}

/// Where `part` (a slice of `text`) starts in `text`.
fn offset_in(text: &str, part: &str) -> usize {
    (part.as_ptr() as usize).saturating_sub(text.as_ptr() as usize)
}

/// serde_json's message without its " at line L column C" (the place is given apart).
fn serde_message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    text.rfind(" at line ")
        .and_then(|i| text.get(..i))
        .unwrap_or(&text)
        .to_string()
}

/// A resource of the Bundle, kept as its text until it is converted.
struct EntryText<'a> {
    resource: &'a RawValue,
    rtype: String,
    /// The same resource (type, id and content) as an earlier entry: read once.
    duplicate: bool,
}

/// [`bundle_to_record`] on the Bundle's JSON text, which is never held as a whole tree:
/// the Bundle is read as the text of each resource, and each resource eligc uses is parsed,
/// converted and dropped in turn (resources of other types are only checked). On error,
/// also the byte offset in `text` of what is at fault: the field when it can be found,
/// else its resource, else the start.
pub fn bundle_text_to_record(
    text: &str,
    recorded: &[&str],
) -> Result<(PatientRecord<'static>, Stats), (FhirError, usize)> {
    let top = |field: &str, reason: String| FhirError {
        entry: None,
        field: field.to_string(),
        patient: None,
        reason,
    };
    // The offset of `field` in the value `raw` (the whole text when not found there).
    let at_field = |raw: &RawValue, field: &str| {
        let start = offset_in(text, raw.get());
        start + super::locate::offset_of(raw.get(), field).unwrap_or(0)
    };
    // A problem found by serde_json inside `raw` (not JSON, a repeated key, a number).
    let serde_error =
        |e: &serde_json::Error, raw: &RawValue, entry: Option<usize>, field: String| {
            let reason = serde_message(e);
            let offset = offset_in(text, raw.get())
                + super::locate::offset_at(raw.get(), e.line(), e.column());
            let reason = if e.is_data() {
                reason
            } else {
                format!("not JSON: {reason}")
            };
            (
                FhirError {
                    entry,
                    field,
                    patient: None,
                    reason,
                },
                offset,
            )
        };
    let root: &RawValue = serde_json::from_str(text).map_err(|e| {
        let offset = super::locate::offset_at(text, e.line(), e.column());
        let reason = serde_message(&e);
        let reason = if e.is_data() {
            reason
        } else {
            format!("not JSON: {reason}")
        };
        (top("", reason), offset)
    })?;
    // Members eligc does not read are checked for repeated keys, and not kept.
    let check = |raw: &RawValue, entry: Option<usize>, path: &str| {
        super::strict::check(raw.get()).map_err(|(e, inner)| {
            let field = match (path.is_empty(), inner.is_empty()) {
                (_, true) => path.to_string(),
                (true, false) => inner,
                (false, false) => format!("{path}.{inner}"),
            };
            serde_error(&e, raw, entry, field)
        })
    };
    let Some(object) = members(text, root, "")? else {
        return Err((
            top(
                "",
                format!(
                    "not a FHIR resource: {} is not a JSON object",
                    raw_kind(root)
                ),
            ),
            0,
        ));
    };
    let resource_type = object.get("resourceType");
    match raw_str(resource_type).as_deref() {
        Some("Bundle") => {}
        Some(other) => {
            return Err((
                top(
                    "resourceType",
                    format!(
                        "a {other} resource on its own: eligc reads one Bundle per patient, or a Bulk Data export folder (Patient.ndjson, Observation.ndjson, ...)"
                    ),
                ),
                resource_type.map_or(0, |r| offset_in(text, r.get())),
            ));
        }
        None => {
            return Err((
                top(
                    "resourceType",
                    "not FHIR: no `resourceType` (a native record has no `resourceType`; a FHIR Bundle has \"resourceType\": \"Bundle\")".into(),
                ),
                0,
            ));
        }
    }
    for (key, raw) in &object.0 {
        if key != "entry" {
            check(raw, None, key)?;
        }
    }
    let entries: Vec<&RawValue> = match object.get("entry") {
        None => Vec::new(),
        Some(raw) if raw.get().trim() == "null" => Vec::new(),
        Some(raw) => serde_json::from_str(raw.get()).map_err(|_| {
            (
                top(
                    "entry",
                    format!("`entry` must be an array, not {}", raw_kind(raw)),
                ),
                offset_in(text, raw.get()),
            )
        })?,
    };
    // First pass: each entry's resource as text and its type; the patient, and the
    // Medication resources by reference, parsed.
    let mut resources: Vec<EntryText<'_>> = Vec::with_capacity(entries.len());
    let mut patient: Option<(usize, Value, Option<String>)> = None;
    let mut medication_values: Vec<(Vec<String>, Value)> = Vec::new();
    // Conditions by reference, for the `reasonReference` of treatments: only their codes.
    let mut condition_codes: Vec<(Vec<String>, Value)> = Vec::new();
    // Each resource's first entry, by type and id.
    let mut ids: BTreeMap<(String, String), (usize, &RawValue)> = BTreeMap::new();
    for (i, entry) in entries.iter().enumerate() {
        let Some(entry_object) = members(text, entry, &format!("entry[{i}]"))? else {
            return Err((
                top(
                    &format!("entry[{i}]"),
                    format!("a Bundle entry must be an object, not {}", raw_kind(entry)),
                ),
                offset_in(text, entry.get()),
            ));
        };
        for (key, raw) in &entry_object.0 {
            if key != "resource" {
                check(raw, None, &format!("entry[{i}].{key}"))?;
            }
        }
        let resource = entry_object.get("resource");
        let Some(fields) = resource.and_then(Members::of) else {
            return Err((
                top(
                    &format!("entry[{i}].resource"),
                    "a Bundle entry needs a `resource` object".into(),
                ),
                resource.map_or(offset_in(text, entry.get()), |r| offset_in(text, r.get())),
            ));
        };
        let Some(resource) = resource else { continue };
        let Some(rtype) = raw_str(fields.get("resourceType")) else {
            return Err((
                top(
                    &format!("entry[{i}].resource.resourceType"),
                    "a resource needs a `resourceType`".into(),
                ),
                offset_in(text, resource.get()),
            ));
        };
        let parse = |raw: &RawValue| {
            super::strict::value(raw.get())
                .map_err(|(e, inner)| serde_error(&e, raw, Some(i), inner))
        };
        let id = raw_str(fields.get("id"));
        let full_url = raw_str(entry_object.get("fullUrl"));
        // One type and id, twice: the same resource (a search's `_include`) is read once;
        // two different ones are refused, since either could be the one a reference names
        // and counting both would count one thing twice.
        let mut duplicate = false;
        if let Some(key) = id
            .as_deref()
            .map(str::trim)
            .filter(|k| !k.is_empty() && rtype != "Patient")
        {
            match ids.get(&(rtype.clone(), key.to_string())) {
                Some(&(first, earlier)) => {
                    let same = match (parse(earlier), parse(resource)) {
                        (Ok(a), Ok(b)) => a == b,
                        _ => false,
                    };
                    if !same {
                        return Err((
                            FhirError {
                                entry: Some(i),
                                field: "id".to_string(),
                                patient: None,
                                reason: format!(
                                    "a second {rtype} with the id `{key}`, different from the first (entry[{first}]): which one the record means cannot be told; give each resource once"
                                ),
                            },
                            at_field(resource, "id"),
                        ));
                    }
                    duplicate = true;
                }
                None => {
                    ids.insert((rtype.clone(), key.to_string()), (i, resource));
                }
            }
        }
        match rtype.as_str() {
            "Patient" => {
                if let Some((first, _, _)) = &patient {
                    return Err((
                        top(
                            &format!("entry[{i}].resource"),
                            format!(
                                "a second Patient (the first is entry[{first}]): a Bundle holds one patient; give several Bundles (one per line of an .ndjson file) or a Bulk Data export"
                            ),
                        ),
                        offset_in(text, resource.get()),
                    ));
                }
                let url = full_url
                    .map(|u| u.trim().to_string())
                    .filter(|u| !u.is_empty());
                patient = Some((i, parse(resource)?, url));
            }
            "Medication" | "ResearchStudy" => {
                let keys = [id.map(|i| format!("{rtype}/{i}")), full_url]
                    .into_iter()
                    .flatten()
                    .collect();
                medication_values.push((keys, parse(resource)?));
            }
            "Condition" => {
                let keys = [id.map(|i| format!("Condition/{i}")), full_url]
                    .into_iter()
                    .flatten()
                    .collect();
                // A bad `code` is reported when the Condition itself is read.
                let code = fields
                    .get("code")
                    .and_then(|raw| super::strict::value(raw.get()).ok())
                    .unwrap_or(Value::Null);
                let mut only = Map::new();
                only.insert("code".to_string(), code);
                condition_codes.push((keys, Value::Object(only)));
            }
            _ => {}
        }
        resources.push(EntryText {
            resource,
            rtype,
            duplicate,
        });
    }
    drop(entries);
    let mut medications: BTreeMap<String, &Value> = BTreeMap::new();
    for (keys, value) in &medication_values {
        for key in keys {
            medications.insert(key.clone(), value);
        }
    }
    let mut reasons: BTreeMap<String, &Value> = BTreeMap::new();
    for (keys, value) in &condition_codes {
        for key in keys {
            reasons.insert(key.clone(), value);
        }
    }
    // Errors of the conversion are placed at their field, in their resource.
    let place = |e: FhirError| {
        let offset = match e.entry.and_then(|i| resources.get(i)) {
            Some(r) => at_field(r.resource, &e.field),
            None => super::locate::offset_of(text, &e.field).unwrap_or(0),
        };
        (e, offset)
    };
    convert_entries(
        &resources,
        patient,
        &medications,
        &reasons,
        recorded,
        &|raw, i| {
            super::strict::value(raw.get())
                .map_err(|(e, inner)| serde_error(&e, raw, Some(i), inner))
        },
        &|raw, i| check(raw, Some(i), ""),
    )
    .map_err(|e| match e {
        Located::Placed(e, offset) => (e, offset),
        Located::Conversion(e) => place(e),
    })
}

/// An error of the conversion, placed (found while reading) or to be placed at its field.
enum Located {
    Placed(FhirError, usize),
    Conversion(FhirError),
}

impl From<FhirError> for Located {
    fn from(e: FhirError) -> Located {
        Located::Conversion(e)
    }
}

impl From<(FhirError, usize)> for Located {
    fn from((e, offset): (FhirError, usize)) -> Located {
        Located::Placed(e, offset)
    }
}

/// Parses a resource's text (refusing repeated keys), or only checks it.
type ParseResource<'f> = dyn Fn(&RawValue, usize) -> Result<Value, (FhirError, usize)> + 'f;
type CheckResource<'f> = dyn Fn(&RawValue, usize) -> Result<(), (FhirError, usize)> + 'f;

/// The second pass of [`bundle_text_to_record`]: the patient, then each resource parsed,
/// converted and dropped in turn.
fn convert_entries(
    resources: &[EntryText<'_>],
    patient: Option<(usize, Value, Option<String>)>,
    medications: &BTreeMap<String, &Value>,
    reasons: &BTreeMap<String, &Value>,
    recorded: &[&str],
    parse: &ParseResource<'_>,
    check: &CheckResource<'_>,
) -> Result<(PatientRecord<'static>, Stats), Located> {
    let top = |field: &str, reason: String| FhirError {
        entry: None,
        field: field.to_string(),
        patient: None,
        reason,
    };
    let Some((patient_entry, patient_value, patient_full_url)) = patient else {
        return Err(top("entry", "the Bundle has no Patient resource".into()).into());
    };
    let Some(patient_resource) = patient_value.as_object() else {
        return Err(top(
            &format!("entry[{patient_entry}].resource"),
            "the Patient is not an object".into(),
        )
        .into());
    };
    let id = match patient_resource
        .get("id")
        .and_then(Value::as_str)
        .map(clean)
    {
        Some(id) if !id.is_empty() => id,
        _ => {
            return Err(top(
                &format!("entry[{patient_entry}].resource.id"),
                "the Patient has no `id`".into(),
            )
            .into());
        }
    };
    let mut stats = Stats {
        patients: 1,
        ..Stats::default()
    };
    let at_patient = At {
        entry: patient_entry,
        patient: &id,
    };
    let birth_date = match patient_resource.get("birthDate").filter(|v| !v.is_null()) {
        Some(v) => match read_date(v, &at_patient, "birthDate")? {
            FhirDate::Day(d) => Some(d),
            FhirDate::Partial => {
                stats.ignore("Patient", "birthDate without a day");
                None
            }
        },
        None => None,
    };
    let sex = match patient_resource.get("gender").and_then(Value::as_str) {
        Some("female") => Some(RecordedSex::Female),
        Some("male") => Some(RecordedSex::Male),
        Some("other") => Some(RecordedSex::Other),
        Some("unknown") => Some(RecordedSex::Unknown),
        Some(other) => {
            return Err(at_patient
                .err(
                    "gender",
                    format!("`{other}` is not a FHIR gender (male, female, other, unknown)"),
                )
                .into());
        }
        None => None,
    };
    let mut record = PatientRecord {
        id: id.clone().into(),
        birth_date,
        sex,
        anchors: BTreeMap::new(),
        observations: None,
        conditions: None,
        medications: None,
        immunizations: None,
        procedures: None,
        allergies: None,
        encounters: None,
        studies: None,
        family_history: None,
        attestations: BTreeMap::new(),
        completed: Vec::new(),
    };
    let mut present: BTreeSet<&str> = recorded.iter().copied().collect();
    let mut c = Converter {
        stats: &mut stats,
        patient_url: patient_full_url.as_deref(),
        medications,
        reasons,
        observations: Vec::new(),
        conditions: Vec::new(),
        meds: Vec::new(),
        immunizations: Vec::new(),
        procedures: Vec::new(),
        allergies: Vec::new(),
        encounters: Vec::new(),
        studies: Vec::new(),
        family: Vec::new(),
    };
    for (entry, item) in resources.iter().enumerate() {
        c.stats.resources += 1;
        let rtype = item.rtype.as_str();
        if item.duplicate {
            c.stats.ignore(rtype, "the same resource again");
            continue;
        }
        let at = At {
            entry,
            patient: &id,
        };
        if rtype == "Patient" {
            refuse_modifiers(item.resource, &patient_value, rtype, &at)?;
            continue;
        }
        if matches!(rtype, "Medication" | "ResearchStudy") {
            if may_have_modifiers(item.resource) {
                refuse_modifiers(item.resource, &parse(item.resource, entry)?, rtype, &at)?;
            }
            continue;
        }
        if !DOMAIN_TYPES.contains(&rtype) {
            check(item.resource, entry)?;
            *c.stats.skipped.entry(rtype.to_string()).or_default() += 1;
            continue;
        }
        let value = parse(item.resource, entry)?;
        let Some(resource) = value.as_object() else {
            continue;
        };
        refuse_modifiers(item.resource, &value, rtype, &at)?;
        let subject_field = match subject_field(rtype) {
            "individual" if resource.get("individual").is_none() => "subject",
            field => field,
        };
        let Some(subject) = reference(resource.get(subject_field)) else {
            return Err(at
                .err(
                    subject_field,
                    format!("the {rtype} has no `{subject_field}` reference to its patient"),
                )
                .into());
        };
        // The Patient entry's fullUrl (a `urn:uuid:` or an absolute URL), or `Patient/ID`:
        // never another type's reference that happens to end in the patient's id.
        if patient_full_url
            .as_deref()
            .is_none_or(|u| u != subject.trim())
        {
            match patient_reference(subject) {
                Ok(target) if target == id => {}
                Ok(_) => {
                    return Err(at
                        .err(
                            &format!("{subject_field}.reference"),
                            format!("`{subject}` is not this Bundle's Patient (`{id}`)"),
                        )
                        .into());
                }
                Err(reason) => {
                    return Err(at
                        .err(
                            &format!("{subject_field}.reference"),
                            format!("the {rtype}'s `{subject_field}`: {reason}"),
                        )
                        .into());
                }
            }
        }
        if rtype == "AllergyIntolerance" {
            // "No known allergy" is a statement that the list is empty, not an allergy.
            let said = codes(resource.get("code"), &["snomed"], &at, "code")?;
            let is = |list: &[&str]| {
                said.iter()
                    .any(|c| c.strip_prefix("snomed:").is_some_and(|c| list.contains(&c)))
            };
            if is(NO_KNOWN_ALLERGY) {
                present.insert(rtype);
                c.stats.ignore(rtype, "no known allergy (recorded: none)");
                continue;
            }
            if is(NO_KNOWN_OTHER_ALLERGY) {
                c.stats
                    .ignore(rtype, "no known food or environmental allergy");
                continue;
            }
        }
        present.insert(rtype);
        if resource.get("status").and_then(Value::as_str) == Some("entered-in-error") {
            c.stats.ignore(rtype, "entered-in-error");
            continue;
        }
        match rtype {
            "Observation" => c.observation(resource, &at)?,
            "Condition" => c.condition(resource, &at)?,
            "Immunization" => c.immunization(resource, &at)?,
            "Procedure" => c.procedure(resource, &at)?,
            "AllergyIntolerance" => c.allergy(resource, &at)?,
            "Encounter" => c.encounter(resource, &at)?,
            "ResearchSubject" => c.research_subject(resource, &at)?,
            "FamilyMemberHistory" => c.family_member_history(resource, &at)?,
            _ => c.medication(rtype, resource, &at)?,
        }
    }
    let has = |types: &[&str]| types.iter().any(|t| present.contains(t));
    let Converter {
        observations,
        conditions,
        meds,
        immunizations,
        procedures,
        allergies,
        encounters,
        studies,
        family,
        ..
    } = c;
    record.observations = has(&["Observation"]).then_some(observations);
    record.conditions = has(&["Condition"]).then_some(conditions);
    record.medications = has(&[
        "MedicationRequest",
        "MedicationStatement",
        "MedicationAdministration",
    ])
    .then_some(meds);
    record.immunizations = has(&["Immunization"]).then_some(immunizations);
    record.procedures = has(&["Procedure"]).then_some(procedures);
    record.allergies = has(&["AllergyIntolerance"]).then_some(allergies);
    record.encounters = has(&["Encounter"]).then_some(encounters);
    record.studies = has(&["ResearchSubject"]).then_some(studies);
    record.family_history = has(&["FamilyMemberHistory"]).then_some(family);
    Ok((record, stats))
}

/// Whether a resource's text may hold a modifier (a cheap test before the walk).
fn may_have_modifiers(raw: &RawValue) -> bool {
    let text = raw.get();
    text.contains("modifierExtension") || text.contains("implicitRules")
}

/// Refuses a resource carrying a modifier eligc does not understand: a `modifierExtension`
/// anywhere in it (the resource, a component, a dosage, a contained resource) or
/// `implicitRules`. FHIR says a reader that does not understand one must not process the
/// resource as if it were absent (it may say "not", "family member", "planned"): reading the
/// rest would give a wrong fact, and leaving the resource out a wrong absence.
fn refuse_modifiers(
    raw: &RawValue,
    value: &Value,
    rtype: &str,
    at: &At<'_>,
) -> Result<(), FhirError> {
    if !may_have_modifiers(raw) {
        return Ok(());
    }
    if let Some(rules) = value.get("implicitRules").filter(|v| !v.is_null()) {
        return Err(at.err(
            "implicitRules",
            format!(
                "the {rtype} was written under rules eligc does not know ({rules}): FHIR forbids reading it without them"
            ),
        ));
    }
    match find_modifier(value, "") {
        Some((path, url)) => Err(at.err(
            &path,
            format!(
                "a modifier extension eligc does not understand (`{url}`): it may change what the {rtype} means, and FHIR forbids reading the {rtype} as if it were absent, so the record is refused rather than read wrongly"
            ),
        )),
        None => Ok(()),
    }
}

/// The path and `url` of the first non-empty `modifierExtension` in `value`.
fn find_modifier(value: &Value, path: &str) -> Option<(String, String)> {
    let join = |key: &str| {
        if path.is_empty() {
            key.to_string()
        } else {
            format!("{path}.{key}")
        }
    };
    match value {
        Value::Object(members) => members.iter().find_map(|(key, v)| {
            if key == "modifierExtension" {
                if let Some(first) = one_or_many(Some(v)).next() {
                    let url = str_at(first, &["url"]).unwrap_or("no url").to_string();
                    let at = if v.is_array() { "[0]" } else { "" };
                    return Some((format!("{}{at}", join(key)), url));
                }
            }
            find_modifier(v, &join(key))
        }),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| find_modifier(v, &format!("{path}[{i}]"))),
        _ => None,
    }
}

struct Converter<'a> {
    stats: &'a mut Stats,
    /// The Patient entry's `fullUrl`, when it has one.
    patient_url: Option<&'a str>,
    medications: &'a BTreeMap<String, &'a Value>,
    /// The Bundle's Conditions by reference (`Condition/id`, full URL).
    reasons: &'a BTreeMap<String, &'a Value>,
    observations: Vec<ObservationRecord<'static>>,
    conditions: Vec<ConditionRecord<'static>>,
    meds: Vec<MedicationRecord<'static>>,
    immunizations: Vec<ImmunizationRecord<'static>>,
    procedures: Vec<ProcedureRecord<'static>>,
    allergies: Vec<ConditionRecord<'static>>,
    encounters: Vec<super::native::EncounterRecord<'static>>,
    studies: Vec<super::native::StudyRecord<'static>>,
    family: Vec<super::native::FamilyHistoryRecord<'static>>,
}

/// An observation's value, as the native model holds it.
enum ObsValue {
    /// A number, its unit and its comparator (`<`: the value is a bound).
    Number(Decimal, Option<String>, Option<&'static str>),
    Word(String),
    /// No value, but an interpretation says what the result was (normal, positive, ...).
    None,
}

const SNOMED: &str = "http://snomed.info/sct";
const LOINC: &str = "http://loinc.org";
/// HL7 v3 ObservationInterpretation, and the v2 table 0078 it grew from (same codes).
const INTERPRETATION_SYSTEMS: &[&str] = &[
    "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
    "http://terminology.hl7.org/CodeSystem/v2-0078",
    "http://hl7.org/fhir/v2/0078",
];

/// Coded qualitative answers (`valueCodeableConcept`) as result words. SNOMED CT qualifier
/// values and findings, LOINC answer codes (LA...), and HL7 interpretation codes used as a
/// value. Each code was checked against published FHIR value sets (e.g. DICOM CID 3677
/// "Summary Codes ECG" for 164854000 / 102594003); see docs/fhir.md.
pub(crate) fn answer_word(system: &str, code: &str) -> Option<&'static str> {
    if INTERPRETATION_SYSTEMS.contains(&system) {
        return match interpretation_word(system, code)? {
            "high" | "low" => None,
            w => Some(w),
        };
    }
    Some(match (system, code) {
        (SNOMED, "10828004") => "positive",
        (SNOMED, "260385009") => "negative",
        (SNOMED, "82334004") => "indeterminate",
        (SNOMED, "260373001") => "detected",
        (SNOMED, "260415000") => "not detected",
        (SNOMED, "11214006") => "reactive",
        (SNOMED, "131194007") => "non-reactive",
        (SNOMED, "52101004") => "present",
        (SNOMED, "2667000") => "absent",
        (SNOMED, "17621005") => "normal",
        (SNOMED, "263654008") => "abnormal",
        // Electrocardiogram normal / abnormal (findings).
        (SNOMED, "164854000") => "normal",
        (SNOMED, "102594003") => "abnormal",
        // Cancer disease status (mCODE ConditionStatusTrendVS, LOINC 97509-4 results).
        (SNOMED, "268910001") => "improving",
        (SNOMED, "359746009") => "stable",
        (SNOMED, "271299001") => "progressing",
        (SNOMED, "709137006") => "undetermined",
        (SNOMED, "550991000124107") => "complete remission",
        (SNOMED, "551001000124108") => "partial remission",
        (LOINC, "LA6576-8") => "positive",
        (LOINC, "LA6577-6") => "negative",
        (LOINC, "LA11882-0") => "detected",
        (LOINC, "LA11883-8") => "not detected",
        _ => return None,
    })
}

/// An `Observation.interpretation` coding as a native interpretation word (see
/// [`super::native::INTERPRETATIONS`]). Critical and off-scale flags keep their direction
/// (HH is high); susceptibility and change codes (S, R, U, D, ...) are not readings of a
/// result against its range, and are left out.
fn interpretation_word(system: &str, code: &str) -> Option<&'static str> {
    if INTERPRETATION_SYSTEMS.contains(&system) {
        return Some(match code {
            "N" => "normal",
            "A" | "AA" => "abnormal",
            "H" | "HH" | "HU" | ">" => "high",
            "L" | "LL" | "LU" | "<" => "low",
            "POS" | "DET" | "RR" | "WR" => "positive",
            "NEG" | "ND" | "NR" => "negative",
            "IND" | "E" => "indeterminate",
            _ => return None,
        });
    }
    Some(match (system, code) {
        (SNOMED, "17621005") => "normal",
        (SNOMED, "263654008") => "abnormal",
        (SNOMED, "75540009") => "high",
        (SNOMED, "62482003") => "low",
        (SNOMED, "10828004") => "positive",
        (SNOMED, "260385009") => "negative",
        (SNOMED, "82334004") => "indeterminate",
        _ => return None,
    })
}

/// The first interpretation eligc can read, from `Observation.interpretation` (a list of
/// CodeableConcepts).
fn interpretation(holder: &Map<String, Value>) -> Option<&'static str> {
    holder
        .get("interpretation")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|cc| cc.get("coding").and_then(Value::as_array))
        .flatten()
        .find_map(|c| interpretation_word(str_at(c, &["system"])?, &clean(str_at(c, &["code"])?)))
}

/// A free-text result as a word: zero-width characters removed, lower case.
fn word(text: &str) -> Option<String> {
    let w = clean(text).to_lowercase();
    (!w.is_empty()).then_some(w)
}

impl Converter<'_> {
    /// The value of an Observation or of one of its components; `None` when it has none
    /// eligc can use (counted by the caller).
    fn value(
        &mut self,
        holder: &Map<String, Value>,
        at: &At<'_>,
        prefix: &str,
    ) -> Result<Result<ObsValue, &'static str>, FhirError> {
        if let Some(q) = holder.get("valueQuantity").filter(|v| !v.is_null()) {
            let comparator = match q.get("comparator").and_then(Value::as_str).map(clean) {
                None => None,
                Some(c) => match super::native::COMPARATORS.iter().find(|k| **k == c) {
                    Some(k) => Some(*k),
                    // `ad` (sufficient to achieve this total) is not a bound on a result.
                    None => return Ok(Err("value with a comparator other than <, <=, >=, >")),
                },
            };
            let Some(v) = q.get("value") else {
                return Ok(Err("valueQuantity without a value"));
            };
            let value = decimal(v, at, &format!("{prefix}valueQuantity.value"))?;
            return Ok(Ok(ObsValue::Number(value, quantity_unit(q), comparator)));
        }
        if let Some(v) = holder.get("valueInteger").filter(|v| !v.is_null()) {
            let value = decimal(v, at, &format!("{prefix}valueInteger"))?;
            return Ok(Ok(ObsValue::Number(value, None, None)));
        }
        if let Some(cc) = holder.get("valueCodeableConcept").filter(|v| !v.is_null()) {
            let codings = cc.get("coding").and_then(Value::as_array);
            let coded = codings
                .into_iter()
                .flatten()
                .find_map(|c| answer_word(str_at(c, &["system"])?, &clean(str_at(c, &["code"])?)));
            if let Some(w) = coded {
                return Ok(Ok(ObsValue::Word(w.to_string())));
            }
            let text = str_at(cc, &["text"]).or_else(|| {
                codings
                    .into_iter()
                    .flatten()
                    .find_map(|c| str_at(c, &["display"]))
            });
            return Ok(match text.and_then(word) {
                Some(w) => Ok(ObsValue::Word(w)),
                None => Err("valueCodeableConcept without text"),
            });
        }
        if let Some(s) = holder.get("valueString").and_then(Value::as_str) {
            return Ok(match word(s) {
                Some(w) => Ok(ObsValue::Word(w)),
                None => Err("empty valueString"),
            });
        }
        if holder.keys().any(|k| k.starts_with("value")) {
            return Ok(Err("value of a type eligc does not read"));
        }
        Ok(Err("no value"))
    }

    fn observation(&mut self, r: &Map<String, Value>, at: &At<'_>) -> Result<(), FhirError> {
        const WHAT: &str = "Observation";
        if r.get("status").and_then(Value::as_str) == Some("cancelled") {
            self.stats.ignore(WHAT, "cancelled");
            return Ok(());
        }
        // A result about a fetus, a donor or a device, kept in the patient's chart: not the
        // patient's own result.
        if one_or_many(r.get("focus")).any(|f| !self.is_patient(reference(Some(f)), at)) {
            self.stats.ignore(WHAT, "about another focus");
            return Ok(());
        }
        // The time the result is of: its start, else its end (a period with only an end),
        // and only then when it was issued (which is later).
        const DATES: &[&str] = &[
            "effectiveDateTime",
            "effectivePeriod.start",
            "effectivePeriod.end",
            "effectiveInstant",
            "issued",
        ];
        let Some(date) = first_date(r, DATES, at, self.stats, WHAT)? else {
            self.undated(WHAT, r, DATES);
            return Ok(());
        };
        let id = r.get("id").and_then(Value::as_str).map(clean);
        let components = r.get("component").and_then(Value::as_array);
        let mut parts: Vec<(&Map<String, Value>, String)> = vec![(r, String::new())];
        for (k, comp) in components.into_iter().flatten().enumerate() {
            if let Some(comp) = comp.as_object() {
                parts.push((comp, format!("component[{k}].")));
            }
        }
        let has_components = parts.len() > 1;
        for (holder, prefix) in parts {
            let is_component = !prefix.is_empty();
            let reading = interpretation(holder);
            let value = match self.value(holder, at, &prefix)? {
                Ok(v) => v,
                // A panel (blood pressure) has no value of its own: its components do.
                Err("no value") if !is_component && has_components => continue,
                Err("no value") if reading.is_some() => ObsValue::None,
                Err(why) => {
                    self.stats.ignore(WHAT, why);
                    continue;
                }
            };
            let Some((code, also)) = code_and_also(codes(
                holder.get("code"),
                &["loinc", "snomed"],
                at,
                &format!("{prefix}code"),
            )?) else {
                self.stats.ignore(WHAT, "no LOINC or SNOMED CT code");
                continue;
            };
            let (value, unit, comparator, result) = match value {
                ObsValue::Number(v, u, c) => (Some(v), u, c.map(str::to_string), None),
                ObsValue::Word(w) => (None, None, None, Some(w)),
                ObsValue::None => (None, None, None, None),
            };
            let reference_range =
                self.range(holder, unit.as_deref(), value.is_some(), at, &prefix)?;
            self.stats.facts += 1;
            self.observations.push(ObservationRecord {
                id: (id.clone()).map(Text::from),
                concept: None,
                code: Some(code.into()),
                also: texts(also),
                date,
                value,
                unit: unit.map(Text::from),
                comparator: comparator.map(Text::from),
                result: result.map(Text::from),
                interpretation: reading.map(Text::from),
                reference_range,
            });
        }
        Ok(())
    }

    /// The first reference range with a low or high, when in the result's unit.
    fn range(
        &mut self,
        holder: &Map<String, Value>,
        unit: Option<&str>,
        numeric: bool,
        at: &At<'_>,
        prefix: &str,
    ) -> Result<Option<RangeRecord>, FhirError> {
        let Some(ranges) = holder.get("referenceRange").and_then(Value::as_array) else {
            return Ok(None);
        };
        for (k, range) in ranges.iter().enumerate() {
            let mut out = RangeRecord {
                low: None,
                high: None,
            };
            for (bound, slot) in [("low", &mut out.low), ("high", &mut out.high)] {
                let Some(q) = range.get(bound).filter(|v| !v.is_null()) else {
                    continue;
                };
                let Some(v) = q.get("value") else {
                    continue;
                };
                if !numeric {
                    continue;
                }
                if let (Some(range_unit), Some(unit)) = (quantity_unit(q), unit) {
                    if range_unit != unit {
                        self.stats
                            .ignore("Observation", "reference range in another unit");
                        return Ok(None);
                    }
                }
                *slot = Some(decimal(
                    v,
                    at,
                    &format!("{prefix}referenceRange[{k}].{bound}.value"),
                )?);
            }
            if let (Some(low), Some(high)) = (out.low, out.high) {
                if low > high {
                    self.stats
                        .ignore("Observation", "reference range with low above high");
                    return Ok(None);
                }
            }
            if out.low.is_some() || out.high.is_some() {
                return Ok(Some(out));
            }
        }
        Ok(None)
    }

    fn condition(&mut self, r: &Map<String, Value>, at: &At<'_>) -> Result<(), FhirError> {
        const WHAT: &str = "Condition";
        let verification = status_code(r.get("verificationStatus"));
        if let Some(v @ ("refuted" | "entered-in-error")) = verification.as_deref() {
            self.stats.ignore(WHAT, v);
            return Ok(());
        }
        let display = display(r.get("code"));
        let (code, also) = or_uncoded(
            codes(r.get("code"), &["snomed", "icd10"], at, "code")?,
            r.get("id").and_then(Value::as_str),
        );
        let onset = first_date(
            r,
            &["onsetDateTime", "onsetPeriod.start"],
            at,
            self.stats,
            WHAT,
        )?;
        let end = first_date(
            r,
            &[
                "abatementDateTime",
                "abatementPeriod.end",
                "abatementPeriod.start",
            ],
            at,
            self.stats,
            WHAT,
        )?;
        if let (Some(o), Some(e)) = (onset, end) {
            if e < o {
                return Err(at.err(
                    "abatementDateTime",
                    format!("the condition abates ({e}) before its onset ({o})"),
                ));
            }
        }
        let status = status_code(r.get("clinicalStatus"))
            .filter(|s| super::native::CONDITION_STATUSES.contains(&s.as_str()));
        // An abatement eligc cannot date (`abatementString`, `abatementAge`, `abatementRange`,
        // `abatementBoolean` true, a year alone) still says the condition ended (FHIR's con-4:
        // an abated condition is inactive, resolved or in remission). Without a clinical
        // status it is inactive with its end not recorded, never ongoing.
        let abated = r
            .iter()
            .any(|(k, v)| k.starts_with("abatement") && !v.is_null() && *v != Value::Bool(false));
        let status = match status {
            None if abated && end.is_none() => Some("inactive".to_string()),
            status => status,
        };
        let verification =
            verification.filter(|v| super::native::VERIFICATIONS.contains(&v.as_str()));
        let severity = r
            .get("severity")
            .and_then(|s| s.get("coding"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find_map(|c| match str_at(c, &["code"]) {
                Some("255604002") => Some("mild"),
                Some("6736007") => Some("moderate"),
                Some("24484000") => Some("severe"),
                _ => None,
            })
            .map(str::to_string);
        let grade = r
            .get("stage")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find_map(|stage| stage.get("summary").and_then(stage_grade));
        self.stats.facts += 1;
        self.conditions.push(ConditionRecord {
            id: (r.get("id").and_then(Value::as_str).map(clean)).map(Text::from),
            concept: None,
            code: Some(code.into()),
            also: texts(also),
            display: display.map(Text::from),
            onset,
            end,
            status: status.map(Text::from),
            verification: verification.map(Text::from),
            grade,
            severity: severity.map(Text::from),
            body_site: texts(body_sites(r.get("bodySite"), at)?),
            laterality: (laterality(r.get("bodySite"))).map(Text::from),
            stage: r
                .get("stage")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .find_map(|stage| stage.get("summary").and_then(stage_group))
                .map(Text::from),
        });
        Ok(())
    }

    fn medication(
        &mut self,
        what: &str,
        r: &Map<String, Value>,
        at: &At<'_>,
    ) -> Result<(), FhirError> {
        let status = r.get("status").and_then(Value::as_str).unwrap_or("");
        let status = match status {
            "active" | "in-progress" => Some("active"),
            "completed" => Some("completed"),
            "stopped" => Some("stopped"),
            "on-hold" => Some("on_hold"),
            "" | "unknown" => None,
            // cancelled, draft, intended, not-taken, not-done: nothing was taken.
            other => {
                self.stats.ignore(what, other);
                return Ok(());
            }
        };
        // An order not to give the drug, and a suggestion or plan that nobody ordered, say
        // nothing about the patient taking it.
        if r.get("doNotPerform").and_then(Value::as_bool) == Some(true) {
            self.stats.ignore(what, "doNotPerform");
            return Ok(());
        }
        if what == "MedicationRequest" {
            if let Some(intent @ ("proposal" | "plan" | "option")) =
                r.get("intent").and_then(Value::as_str)
            {
                self.stats.ignore(what, &format!("intent {intent}"));
                return Ok(());
            }
        }
        let mut concept_field = "medicationCodeableConcept";
        let mut unresolved: Option<&str> = None;
        let concept = match r.get("medicationCodeableConcept").filter(|v| !v.is_null()) {
            Some(cc) => Some(cc),
            None => match reference(r.get("medicationReference")) {
                Some(reference) => {
                    // The referred Medication's `code`, named from this resource.
                    concept_field = "medicationReference(Medication).code";
                    let target = if let Some(local) = reference.strip_prefix('#') {
                        r.get("contained")
                            .and_then(Value::as_array)
                            .into_iter()
                            .flatten()
                            .find(|c| c.get("id").and_then(Value::as_str) == Some(local))
                    } else {
                        self.medications
                            .get(reference)
                            .or_else(|| {
                                self.medications
                                    .get(&format!("Medication/{}", reference_target(reference)))
                            })
                            .copied()
                    };
                    match target {
                        Some(m) => m.get("code"),
                        // Some drug, which eligc cannot tell: kept, unplaced.
                        None => {
                            unresolved = Some(reference);
                            None
                        }
                    }
                }
                None => None,
            },
        };
        let display = display(concept).or_else(|| {
            unresolved.and(str_at(r.get("medicationReference")?, &["display"]).map(clean))
        });
        let id = r.get("id").and_then(Value::as_str);
        let (code, also) = or_uncoded(
            codes(concept, &["rxnorm", "atc"], at, concept_field)?,
            unresolved.or(id),
        );
        // The dosage: MedicationRequest.dosageInstruction[0], MedicationStatement.dosage[0],
        // MedicationAdministration.dosage.
        let (dosage, dosage_path) = match what {
            "MedicationRequest" => (
                r.get("dosageInstruction").and_then(|d| d.get(0)),
                "dosageInstruction[0]",
            ),
            "MedicationStatement" => (r.get("dosage").and_then(|d| d.get(0)), "dosage[0]"),
            _ => (r.get("dosage"), "dosage"),
        };
        let bounds = dosage
            .and_then(|d| d.get("timing"))
            .and_then(|t| t.get("repeat"))
            .and_then(|t| t.get("boundsPeriod"))
            .and_then(Value::as_object);
        let bounds_date = |field: &str, this: &mut Self| -> Result<Option<NaiveDate>, FhirError> {
            match bounds {
                Some(b) => first_date(b, &[field], at, this.stats, what).map_err(|mut e| {
                    e.field = format!("{dosage_path}.timing.repeat.boundsPeriod.{field}");
                    e
                }),
                None => Ok(None),
            }
        };
        let mut start = bounds_date("start", self)?;
        let mut end = bounds_date("end", self)?;
        let fields: &[&str] = match what {
            "MedicationRequest" => &["authoredOn"],
            "MedicationStatement" => {
                &["effectivePeriod.start", "effectiveDateTime", "dateAsserted"]
            }
            _ => &["effectivePeriod.start", "effectiveDateTime"],
        };
        if start.is_none() {
            start = first_date(r, fields, at, self.stats, what)?;
        }
        if end.is_none() {
            end = match what {
                "MedicationRequest" => None,
                _ => first_date(
                    r,
                    &["effectivePeriod.end", "effectiveDateTime"],
                    at,
                    self.stats,
                    what,
                )?,
            };
        }
        let Some(start) = start else {
            if bounds.is_none_or(|b| date_field(b, "start").is_none()) {
                self.undated(what, r, fields);
            }
            return Ok(());
        };
        if end.is_none() && what == "MedicationRequest" {
            if let Some(days) = r
                .get("dispenseRequest")
                .and_then(|d| d.get("expectedSupplyDuration"))
                .and_then(duration_days)
            {
                end = start.checked_add_days(chrono::Days::new(days.saturating_sub(1)));
            }
        }
        if let Some(e) = end {
            if e < start {
                return Err(at.err(
                    "effectivePeriod.end",
                    format!("the exposure ends ({e}) before it starts ({start})"),
                ));
            }
        }
        let mut dose = None;
        let mut dose_unit = None;
        let mut frequency_per_day = None;
        if let Some(d) = dosage {
            let quantity = d
                .get("doseAndRate")
                .and_then(|x| x.get(0))
                .and_then(|x| x.get("doseQuantity"))
                .or_else(|| d.get("dose"));
            if let Some(q) = quantity.filter(|q| !q.is_null()) {
                if let Some(v) = q.get("value") {
                    let field = if d.get("doseAndRate").is_some() {
                        format!("{dosage_path}.doseAndRate[0].doseQuantity.value")
                    } else {
                        format!("{dosage_path}.dose.value")
                    };
                    let v = decimal(v, at, &field)?;
                    if v < Decimal::ZERO {
                        return Err(at.err(&field, "a dose cannot be negative"));
                    }
                    dose = Some(v);
                    dose_unit = quantity_unit(q);
                }
            }
            frequency_per_day = d
                .get("timing")
                .and_then(|t| t.get("repeat"))
                .and_then(per_day);
            if what == "MedicationAdministration" && dose.is_some() {
                frequency_per_day = Some(Decimal::ONE);
            }
        }
        let route = dosage.and_then(|d| d.get("route")).map(route);
        self.stats.facts += 1;
        self.meds.push(MedicationRecord {
            id: (r.get("id").and_then(Value::as_str).map(clean)).map(Text::from),
            concept: None,
            code: Some(code.into()),
            also: texts(also),
            display: display.map(Text::from),
            start,
            end,
            dose,
            dose_unit: dose_unit.map(Text::from),
            frequency_per_day,
            daily_dose: None,
            daily_dose_unit: None,
            route: route.map(Text::from),
            status: status.map(Text::from),
            reason: texts(self.reasons(r, at)?),
            status_reason: texts(coded_list(
                r.get("statusReason"),
                &["snomed", "icd10"],
                at,
                "statusReason",
            )?),
        });
        Ok(())
    }

    fn immunization(&mut self, r: &Map<String, Value>, at: &At<'_>) -> Result<(), FhirError> {
        const WHAT: &str = "Immunization";
        let status = r.get("status").and_then(Value::as_str);
        if status == Some("not-done") {
            self.stats.ignore(WHAT, "not-done");
            return Ok(());
        }
        let display = display(r.get("vaccineCode"));
        let (code, also) = or_uncoded(
            codes(r.get("vaccineCode"), &["cvx"], at, "vaccineCode")?,
            r.get("id").and_then(Value::as_str),
        );
        const DATES: &[&str] = &["occurrenceDateTime", "recorded"];
        let Some(date) = first_date(r, DATES, at, self.stats, WHAT)? else {
            self.undated(WHAT, r, DATES);
            return Ok(());
        };
        self.stats.facts += 1;
        self.immunizations.push(ImmunizationRecord {
            id: (r.get("id").and_then(Value::as_str).map(clean)).map(Text::from),
            concept: None,
            code: Some(code.into()),
            also: texts(also),
            display: display.map(Text::from),
            date,
            status: Some("completed".into()),
        });
        Ok(())
    }

    /// An AllergyIntolerance as an allergy: the substance (RxNorm, then SNOMED CT, then
    /// ATC), dated from its onset, else the first date it is known to have existed.
    fn allergy(&mut self, r: &Map<String, Value>, at: &At<'_>) -> Result<(), FhirError> {
        const WHAT: &str = "AllergyIntolerance";
        let verification = status_code(r.get("verificationStatus"));
        if let Some(v @ ("refuted" | "entered-in-error")) = verification.as_deref() {
            self.stats.ignore(WHAT, v);
            return Ok(());
        }
        let display = display(r.get("code"));
        let (code, also) = or_uncoded(
            codes(r.get("code"), &["rxnorm", "snomed", "atc"], at, "code")?,
            r.get("id").and_then(Value::as_str),
        );
        // Onset, else the earliest date the allergy is known to have existed: when it was
        // recorded, its last reaction, a reaction's onset.
        let mut onset = first_date(
            r,
            &["onsetDateTime", "onsetPeriod.start"],
            at,
            self.stats,
            WHAT,
        )?;
        if onset.is_none() {
            let mut known = Vec::new();
            known.extend(first_date(r, &["recordedDate"], at, self.stats, WHAT)?);
            known.extend(first_date(r, &["lastOccurrence"], at, self.stats, WHAT)?);
            let reactions = r.get("reaction").and_then(Value::as_array);
            for (k, reaction) in reactions.into_iter().flatten().enumerate() {
                if let Some(reaction) = reaction.as_object() {
                    let d = first_date(reaction, &["onset"], at, self.stats, WHAT).map_err(
                        |mut e| {
                            e.field = format!("reaction[{k}].onset");
                            e
                        },
                    )?;
                    known.extend(d);
                }
            }
            onset = known.into_iter().min();
        }
        let status = status_code(r.get("clinicalStatus"))
            .filter(|s| super::native::ALLERGY_STATUSES.contains(&s.as_str()));
        let verification =
            verification.filter(|v| super::native::VERIFICATIONS.contains(&v.as_str()));
        // The worst reaction's severity; without one, a high criticality (a future
        // exposure judged life-threatening) reads as severe.
        let rank = |s: &str| ["mild", "moderate", "severe"].iter().position(|w| *w == s);
        let reacted = r
            .get("reaction")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|x| x.get("severity").and_then(Value::as_str))
            .filter_map(|s| rank(s).map(|k| (k, s)))
            .max()
            .map(|(_, s)| s);
        let severity = reacted
            .or_else(|| {
                (r.get("criticality").and_then(Value::as_str) == Some("high")).then_some("severe")
            })
            .map(str::to_string);
        self.stats.facts += 1;
        self.allergies.push(ConditionRecord {
            id: (r.get("id").and_then(Value::as_str).map(clean)).map(Text::from),
            concept: None,
            code: Some(code.into()),
            also: texts(also),
            display: display.map(Text::from),
            onset,
            end: None,
            status: status.map(Text::from),
            verification: verification.map(Text::from),
            grade: None,
            severity: severity.map(Text::from),
            body_site: None,
            laterality: None,
            stage: None,
        });
        Ok(())
    }

    fn procedure(&mut self, r: &Map<String, Value>, at: &At<'_>) -> Result<(), FhirError> {
        const WHAT: &str = "Procedure";
        let status = match r.get("status").and_then(Value::as_str).unwrap_or("") {
            "completed" => Some("completed"),
            "in-progress" | "on-hold" => Some("in_progress"),
            "stopped" => Some("stopped"),
            "" | "unknown" => None,
            // preparation, not-done: not (yet) done.
            other => {
                self.stats.ignore(WHAT, other);
                return Ok(());
            }
        };
        let display = display(r.get("code"));
        let (code, also) = or_uncoded(
            codes(r.get("code"), &["snomed"], at, "code")?,
            r.get("id").and_then(Value::as_str),
        );
        const DATES: &[&str] = &["performedDateTime", "performedPeriod.start"];
        let Some(date) = first_date(r, DATES, at, self.stats, WHAT)? else {
            self.undated(WHAT, r, DATES);
            return Ok(());
        };
        let end = first_date(r, &["performedPeriod.end"], at, self.stats, WHAT)?;
        if end.is_some_and(|e| e < date) {
            return Err(at.err(
                "performedPeriod.end",
                format!("the procedure ends before it starts ({date})"),
            ));
        }
        self.stats.facts += 1;
        self.procedures.push(ProcedureRecord {
            id: (r.get("id").and_then(Value::as_str).map(clean)).map(Text::from),
            concept: None,
            code: Some(code.into()),
            also: texts(also),
            display: display.map(Text::from),
            date,
            end: end.filter(|e| *e != date),
            status: status.map(Text::from),
            body_site: texts(body_sites(r.get("bodySite"), at)?),
            laterality: (laterality(r.get("bodySite"))).map(Text::from),
            reason: texts(self.reasons(r, at)?),
        });
        Ok(())
    }
}

impl Converter<'_> {
    /// Counts a resource left out for want of a date, unless one of its date `fields` was
    /// there without a day ([`first_date`] counted it so: each resource is counted once).
    fn undated(&mut self, what: &str, r: &Map<String, Value>, fields: &[&str]) {
        if !fields.iter().any(|f| date_field(r, f).is_some()) {
            self.stats.ignore(what, "no date");
        }
    }

    /// Whether a reference names this patient: the Patient entry's `fullUrl`, or
    /// `Patient/<id>` (with a base or a version).
    fn is_patient(&self, target: Option<&str>, at: &At<'_>) -> bool {
        target.is_some_and(|t| {
            self.patient_url == Some(t.trim())
                || patient_reference(t).is_ok_and(|id| id == at.patient)
        })
    }

    /// Why a treatment was given: the codes of its `reasonCode`s and of the Conditions its
    /// `reasonReference`s point to in the Bundle.
    fn reasons(
        &self,
        r: &Map<String, Value>,
        at: &At<'_>,
    ) -> Result<Option<Vec<String>>, FhirError> {
        let mut all = coded_list(r.get("reasonCode"), &["snomed", "icd10"], at, "reasonCode")?
            .unwrap_or_default();
        for reference in one_or_many(r.get("reasonReference")).filter_map(|v| reference(Some(v))) {
            let target = self.reasons.get(reference).or_else(|| {
                self.reasons
                    .get(&format!("Condition/{}", reference_target(reference)))
            });
            if let Some(condition) = target {
                // The Condition's own codes are checked where it is read as a condition.
                let Ok(found) = codes(
                    condition.get("code"),
                    &["snomed", "icd10"],
                    at,
                    "reasonReference",
                ) else {
                    continue;
                };
                for code in found {
                    if !all.contains(&code) {
                        all.push(code);
                    }
                }
            }
        }
        Ok(non_empty(all))
    }
}

/// The codes of a CodeableConcept field given as one or as a list (`reasonCode`,
/// `statusReason`), each once.
fn coded_list(
    value: Option<&Value>,
    order: &[&str],
    at: &At<'_>,
    field: &str,
) -> Result<Option<Vec<String>>, FhirError> {
    let mut all: Vec<String> = Vec::new();
    for (i, cc) in one_or_many(value).enumerate() {
        for code in codes(Some(cc), order, at, &format!("{field}[{i}]"))? {
            if !all.contains(&code) {
                all.push(code);
            }
        }
    }
    Ok(non_empty(all))
}

/// A field that FHIR gives as one element or as an array, as its elements.
fn one_or_many(value: Option<&Value>) -> impl Iterator<Item = &Value> {
    let (one, many) = match value {
        Some(Value::Array(a)) => (None, a.as_slice()),
        Some(Value::Null) | None => (None, &[][..]),
        Some(v) => (Some(v), &[][..]),
    };
    one.into_iter().chain(many)
}

fn non_empty(values: Vec<String>) -> Option<Vec<String>> {
    (!values.is_empty()).then_some(values)
}

/// SNOMED CT qualifier values for the side of the body: Left, Right, Right and left.
const LATERALITY_CODES: &[(&str, &str)] = &[
    ("7771000", "left"),
    ("24028007", "right"),
    ("51440002", "bilateral"),
];

/// The codings of a `bodySite` element and of its extensions' `valueCodeableConcept` (a
/// laterality qualifier given as an extension).
fn site_codings(body_site: Option<&Value>) -> impl Iterator<Item = &Value> {
    one_or_many(body_site).flat_map(|site| {
        let own = site.get("coding").and_then(Value::as_array);
        let qualifiers = site
            .get("extension")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|e| e.get("valueCodeableConcept"))
            .filter_map(|cc| cc.get("coding").and_then(Value::as_array));
        own.into_iter().chain(qualifiers).flatten()
    })
}

/// The body structures of `bodySite`, without laterality qualifiers.
fn body_sites(body_site: Option<&Value>, at: &At<'_>) -> Result<Option<Vec<String>>, FhirError> {
    let all = coded_list(body_site, &["snomed"], at, "bodySite")?.unwrap_or_default();
    Ok(non_empty(
        all.into_iter()
            .filter(|code| {
                !code
                    .strip_prefix("snomed:")
                    .is_some_and(|c| LATERALITY_CODES.iter().any(|(q, _)| *q == c))
            })
            .collect(),
    ))
}

/// The side of the body a `bodySite` names by a SNOMED CT laterality qualifier (as a coding
/// of the site, or of an extension on it); `bilateral` when both sides are named.
fn laterality(body_site: Option<&Value>) -> Option<String> {
    let mut found: Option<&str> = None;
    for coding in site_codings(body_site) {
        if str_at(coding, &["system"]).map(|s| s.trim_end_matches('/')) != Some(SNOMED) {
            continue;
        }
        let Some(side) = str_at(coding, &["code"])
            .and_then(|c| LATERALITY_CODES.iter().find(|(q, _)| *q == clean(c)))
            .map(|(_, side)| *side)
        else {
            continue;
        };
        found = match found {
            None => Some(side),
            Some(seen) if seen == side => Some(seen),
            Some(_) => Some("bilateral"),
        };
    }
    found.map(str::to_string)
}

/// A stage group (`IIB`) from a stage summary's text or display: `Stage IIB`, `stage 2b`,
/// `IIIA`. Only stage groups I to IV, with an optional sub-stage A to C, are read.
fn stage_group(summary: &Value) -> Option<String> {
    let texts = std::iter::once(str_at(summary, &["text"])).chain(
        summary
            .get("coding")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|c| str_at(c, &["display"])),
    );
    texts.flatten().find_map(|text| {
        let upper = clean(text).to_uppercase();
        let words: Vec<&str> = upper
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .collect();
        let word = match words.as_slice() {
            [one] => *one,
            _ => *words.get(words.iter().position(|w| *w == "STAGE")? + 1)?,
        };
        let split = word.find(['A', 'B', 'C']).unwrap_or(word.len());
        let (group, sub) = word.split_at(split);
        let group = match group {
            "1" | "I" => "I",
            "2" | "II" => "II",
            "3" | "III" => "III",
            "4" | "IV" => "IV",
            _ => return None,
        };
        let stage = format!("{group}{sub}");
        super::native::STAGES
            .contains(&stage.as_str())
            .then_some(stage)
    })
}

/// A Quantity's unit: its UCUM `code` when the system is UCUM (or absent), else `unit`.
fn quantity_unit(q: &Value) -> Option<String> {
    let ucum = matches!(
        str_at(q, &["system"]),
        None | Some("http://unitsofmeasure.org")
    );
    let text = if ucum {
        str_at(q, &["code"]).or_else(|| str_at(q, &["unit"]))
    } else {
        str_at(q, &["unit"])
    };
    text.map(clean).filter(|u| !u.is_empty())
}

/// `timing.repeat` frequency / period (periodUnit) as times per day.
fn per_day(repeat: &Value) -> Option<Decimal> {
    let frequency = repeat
        .get("frequency")
        .map_or(Some(Decimal::ONE), number_of)?;
    let period = repeat.get("period").map_or(Some(Decimal::ONE), number_of)?;
    if period <= Decimal::ZERO {
        return None;
    }
    let unit = repeat.get("periodUnit").and_then(Value::as_str)?;
    // Units shorter than a day multiply (exactly); longer ones divide.
    let per_day = match unit {
        "s" => frequency
            .checked_mul(Decimal::from(86_400))?
            .checked_div(period)?,
        "min" => frequency
            .checked_mul(Decimal::from(1_440))?
            .checked_div(period)?,
        "h" => frequency
            .checked_mul(Decimal::from(24))?
            .checked_div(period)?,
        _ => frequency.checked_div(period.checked_mul(unit_days(unit)?)?)?,
    };
    Some(per_day.normalize())
}

/// A FHIR time unit of a day or more (UCUM `d wk mo a`) in days. A month is 30 days, a
/// year 365.
fn unit_days(unit: &str) -> Option<Decimal> {
    Some(match unit {
        "d" => Decimal::ONE,
        "wk" => Decimal::from(7),
        "mo" => Decimal::from(30),
        "a" => Decimal::from(365),
        _ => return None,
    })
}

/// A Duration (`{"value": 30, "unit": "days", "code": "d"}`) in whole days.
fn duration_days(d: &Value) -> Option<u64> {
    let value = number_of(d.get("value")?)?;
    let unit = str_at(d, &["code"]).or_else(|| str_at(d, &["unit"]))?;
    let unit = match unit {
        "day" | "days" => "d",
        "week" | "weeks" => "wk",
        "month" | "months" => "mo",
        "year" | "years" => "a",
        u => u,
    };
    let days = value.checked_mul(unit_days(unit)?)?.ceil();
    u64::try_from(days.mantissa())
        .ok()
        .filter(|_| days.scale() == 0)
}

/// A dosage route (SNOMED CT or text) as a native route word.
fn route(route: &Value) -> &'static str {
    let codes = route
        .get("coding")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| str_at(c, &["code"]));
    for code in codes {
        match code {
            "26643006" => return "oral",
            "47625008" => return "intravenous",
            "34206005" => return "subcutaneous",
            "78421000" => return "intramuscular",
            "6064005" => return "topical",
            "447694001" | "18679011000001101" => return "inhaled",
            _ => {}
        }
    }
    let text = str_at(route, &["text"])
        .map(str::to_lowercase)
        .unwrap_or_default();
    for (needle, word) in [
        ("oral", "oral"),
        ("mouth", "oral"),
        ("intravenous", "intravenous"),
        ("subcutaneous", "subcutaneous"),
        ("intramuscular", "intramuscular"),
        ("topical", "topical"),
        ("inhal", "inhaled"),
    ] {
        if text.contains(needle) {
            return word;
        }
    }
    "other"
}

/// A grade read from a `Condition.stage.summary` whose text or a coding's display says
/// "grade N" (1-5, or I-V): "Grade 2", "grade II acute GVHD". `None` for anything else (a
/// stage such as "Stage IIIA" is not a grade).
fn stage_grade(summary: &Value) -> Option<Decimal> {
    let texts = std::iter::once(str_at(summary, &["text"])).chain(
        summary
            .get("coding")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|c| str_at(c, &["display"])),
    );
    texts.flatten().find_map(|text| {
        let lower = clean(text).to_lowercase();
        let words: Vec<&str> = lower
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .collect();
        let at = words.iter().position(|w| *w == "grade")?;
        let n = match *words.get(at + 1)? {
            "1" | "i" => 1,
            "2" | "ii" => 2,
            "3" | "iii" => 3,
            "4" | "iv" => 4,
            "5" | "v" => 5,
            _ => return None,
        };
        Some(Decimal::from(n))
    })
}

impl Converter<'_> {
    /// An Encounter: its class (a Coding in R4, CodeableConcepts in R5), type, service type
    /// and, for a stay, where the patient went at discharge.
    fn encounter(&mut self, r: &Map<String, Value>, at: &At<'_>) -> Result<(), FhirError> {
        const WHAT: &str = "Encounter";
        let status = match r.get("status").and_then(Value::as_str).unwrap_or("") {
            "finished" | "completed" | "discharged" => Some("finished"),
            "in-progress" | "arrived" | "triaged" | "onleave" | "on-hold" => Some("in_progress"),
            "" | "unknown" => None,
            // planned, cancelled, discontinued: did not take place (or not yet).
            other => {
                self.stats.ignore(WHAT, other);
                return Ok(());
            }
        };
        let mut all = Vec::new();
        let class = r.get("class");
        let class_concepts: Vec<Value> = match class {
            Some(Value::Array(items)) => items.clone(),
            Some(v) if v.get("coding").is_some() => vec![v.clone()],
            Some(v) => vec![serde_json::json!({ "coding": [v] })],
            None => Vec::new(),
        };
        for cc in &class_concepts {
            all.extend(codes(Some(cc), &["actcode"], at, "class")?);
        }
        for field in ["type", "serviceType"] {
            let concepts: Vec<&Value> = match r.get(field) {
                Some(Value::Array(items)) => items.iter().collect(),
                Some(v) => vec![v],
                None => Vec::new(),
            };
            for cc in concepts {
                for code in codes(Some(cc), &["snomed"], at, field)? {
                    if !all.contains(&code) {
                        all.push(code);
                    }
                }
            }
        }
        let display = match r.get("type") {
            Some(Value::Array(items)) => display(items.first()),
            other => display(other),
        };
        let Some((code, also)) = code_and_also(all) else {
            self.stats.ignore(WHAT, "no class or type code");
            return Ok(());
        };
        const DATES: &[&str] = &["period.start", "actualPeriod.start"];
        let Some(start) = first_date(r, DATES, at, self.stats, WHAT)? else {
            if !DATES.iter().any(|f| date_field(r, f).is_some()) {
                self.stats.ignore(WHAT, "no start date");
            }
            return Ok(());
        };
        let end = first_date(r, &["period.end", "actualPeriod.end"], at, self.stats, WHAT)?;
        if end.is_some_and(|e| e < start) {
            return Err(at.err(
                "period.end",
                format!("the encounter ends before it starts ({start})"),
            ));
        }
        let disposition = r
            .get("hospitalization")
            .or_else(|| r.get("admission"))
            .and_then(|h| h.get("dischargeDisposition"));
        let discharge = disposition.and_then(discharge_word);
        self.stats.facts += 1;
        self.encounters.push(super::native::EncounterRecord {
            id: (r.get("id").and_then(Value::as_str).map(clean)).map(Text::from),
            concept: None,
            code: Some(code.into()),
            also: texts(also),
            display: display.map(Text::from),
            start,
            end,
            status: status.map(Text::from),
            discharge: discharge.map(Text::from),
        });
        Ok(())
    }
}

/// Where a patient went at discharge, from HL7's discharge-disposition codes or the NUBC
/// patient discharge status (UB-04 form locator 17) that US exports (Synthea) use.
fn discharge_word(disposition: &Value) -> Option<&'static str> {
    let codings = disposition.get("coding")?.as_array()?;
    codings.iter().find_map(|coding| {
        let code = clean(str_at(coding, &["code"])?);
        let system = str_at(coding, &["system"]).unwrap_or("");
        if system.contains("nubc") {
            Some(match code.as_str() {
                "01" => "home",
                "06" => "home_health",
                "02" | "05" | "43" | "66" => "hospital",
                "03" | "64" => "skilled_nursing",
                "62" => "rehabilitation",
                "63" => "long_term_care",
                "65" => "psychiatric",
                "50" | "51" => "hospice",
                "07" => "against_advice",
                "20" | "40" | "41" | "42" => "expired",
                "30" => return None,
                _ => "other",
            })
        } else {
            Some(match code.as_str() {
                "home" => "home",
                "alt-home" => "alternative_home",
                "hosp" => "hospital",
                "snf" => "skilled_nursing",
                "rehab" => "rehabilitation",
                "long" => "long_term_care",
                "psy" => "psychiatric",
                "aadvice" => "against_advice",
                "exp" => "expired",
                "other-hcf" | "oth" => "other",
                _ => return None,
            })
        }
    })
}

impl Converter<'_> {
    /// A ResearchSubject: the patient's participation in a study. The study is the Bundle's
    /// (or a contained) ResearchStudy the `study` reference names, or the identifier a
    /// logical reference gives; its identifiers name it (`nct:` for ClinicalTrials.gov), its
    /// category or design says interventional or observational, its phase the phase.
    fn research_subject(&mut self, r: &Map<String, Value>, at: &At<'_>) -> Result<(), FhirError> {
        const WHAT: &str = "ResearchSubject";
        let Some(status) = subject_status(r) else {
            self.stats.ignore(WHAT, "no status");
            return Ok(());
        };
        let study_ref = r.get("study");
        let study: Option<&Value> = match reference(study_ref) {
            Some(local) if local.starts_with('#') => r
                .get("contained")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .find(|c| c.get("id").and_then(Value::as_str) == local.get(1..)),
            Some(reference) => self
                .medications
                .get(reference)
                .or_else(|| {
                    self.medications
                        .get(&format!("ResearchStudy/{}", reference_target(reference)))
                })
                .copied(),
            None => None,
        };
        let mut identifiers: Vec<&Value> = study
            .and_then(|s| s.get("identifier"))
            .into_iter()
            .flat_map(|i| one_or_many(Some(i)))
            .collect();
        identifiers.extend(study_ref.and_then(|s| s.get("identifier")));
        let mut all: Vec<String> = Vec::new();
        for (k, identifier) in identifiers.into_iter().enumerate() {
            let (Some(system), Some(value)) = (
                str_at(identifier, &["system"]),
                str_at(identifier, &["value"]),
            ) else {
                continue;
            };
            let normal = |text, part: &str| {
                super::codes::normalise(text)
                    .map_err(|reason| at.err(&format!("study.identifier[{k}].{part}"), reason))
            };
            let system = normal(system, "system")?;
            let value = normal(value, "value")?;
            let code = match known_system(system) {
                Some(name) => Some(format!("{name}:{value}")),
                None => url_code(system, value),
            };
            if let Some(code) = code.filter(|c| !all.contains(c)) {
                all.push(code);
            }
        }
        if all.is_empty() {
            // A study eligc cannot name: kept, never placed.
            let target = reference(study_ref).map_or("none", reference_target);
            all.push(format!(
                "{UNIDENTIFIED_STUDY}|{}",
                target.replace(['|', ' '], "_")
            ));
        }
        let Some((code, also)) = code_and_also(all) else {
            return Ok(());
        };
        let display = study
            .and_then(|s| str_at(s, &["title"]))
            .or_else(|| study_ref.and_then(|s| str_at(s, &["display"])))
            .map(clean)
            .filter(|d| !d.is_empty());
        let start = first_date(r, &["period.start"], at, self.stats, WHAT)?;
        let end = first_date(r, &["period.end"], at, self.stats, WHAT)?;
        if let (Some(s), Some(e)) = (start, end) {
            if e < s {
                return Err(at.err(
                    "period.end",
                    format!("the participation ends before it starts ({s})"),
                ));
            }
        }
        let design = study.and_then(study_design);
        let phase = study
            .and_then(|s| status_code(s.get("phase")))
            .and_then(|p| study_phase(&p));
        self.stats.facts += 1;
        self.studies.push(super::native::StudyRecord {
            id: (r.get("id").and_then(Value::as_str).map(clean)).map(Text::from),
            concept: None,
            code: Some(code.into()),
            also: texts(also),
            display: display.map(Text::from),
            start,
            end,
            status: Some(status.into()),
            design: design.map(Text::from),
            phase: phase.map(Text::from),
        });
        Ok(())
    }
}

/// A ResearchSubject's status as a native word: R4's `status`, or R5's latest `progress`
/// subject state (R5's `status` is the record's publication status).
fn subject_status(r: &Map<String, Value>) -> Option<&'static str> {
    let word = |code: &str| {
        super::native::STUDY_STATUSES
            .iter()
            .find(|s| s.replace('_', "-") == code)
            .copied()
    };
    if let Some(w) = r.get("status").and_then(Value::as_str).and_then(word) {
        return Some(w);
    }
    let progress = r.get("progress").and_then(Value::as_array)?;
    let mut best: Option<(Option<String>, &'static str)> = None;
    for p in progress {
        let Some(state) = p
            .get("subjectState")
            .and_then(|s| status_code(Some(s)))
            .and_then(|c| word(&c))
        else {
            continue;
        };
        let date = str_at(p, &["startDate"]).map(str::to_string);
        if best.as_ref().is_none_or(|(d, _)| date >= *d) {
            best = Some((date, state));
        }
    }
    best.map(|(_, w)| w)
}

/// Interventional or observational, from a ResearchStudy's R5 `studyDesign`, R4 `category`
/// or R5 `classifier`: a coding (or text) that says so.
fn study_design(study: &Value) -> Option<&'static str> {
    for field in ["studyDesign", "category", "classifier"] {
        for cc in one_or_many(study.get(field)) {
            let mut texts: Vec<String> = cc
                .get("coding")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .flat_map(|c| [str_at(c, &["code"]), str_at(c, &["display"])])
                .flatten()
                .map(str::to_lowercase)
                .collect();
            texts.extend(str_at(cc, &["text"]).map(str::to_lowercase));
            for text in texts {
                if text.contains("interventional") {
                    return Some("interventional");
                }
                if text.contains("observational") {
                    return Some("observational");
                }
            }
        }
    }
    None
}

/// A research-study-phase code as a native word (`phase-1-phase-2` → `phase_1_phase_2`,
/// `n-a` → `not_applicable`).
fn study_phase(code: &str) -> Option<String> {
    let word = if code == "n-a" {
        "not_applicable".to_string()
    } else {
        code.replace('-', "_")
    };
    super::native::STUDY_PHASES
        .contains(&word.as_str())
        .then_some(word)
}

impl Converter<'_> {
    /// A FamilyMemberHistory: one relative, with each of their conditions as a fact (its
    /// code, the relative, the age at onset).
    fn family_member_history(
        &mut self,
        r: &Map<String, Value>,
        at: &At<'_>,
    ) -> Result<(), FhirError> {
        const WHAT: &str = "FamilyMemberHistory";
        let status = match r.get("status").and_then(Value::as_str).unwrap_or("") {
            "completed" => Some("completed"),
            "partial" => Some("partial"),
            "health-unknown" => Some("health_unknown"),
            _ => None,
        };
        let relationship = relationship_word(r.get("relationship"));
        let date = first_date(r, &["date"], at, self.stats, WHAT)?;
        let conditions = r
            .get("condition")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        if conditions.is_empty() {
            self.stats.ignore(WHAT, "no condition");
            return Ok(());
        }
        for (k, condition) in conditions.iter().enumerate() {
            let field = format!("condition[{k}].code");
            let all = codes(condition.get("code"), &["snomed", "icd10"], at, &field)?;
            let Some((code, also)) = code_and_also(all) else {
                self.stats.ignore(WHAT, "a condition without a code");
                continue;
            };
            self.stats.facts += 1;
            self.family.push(super::native::FamilyHistoryRecord {
                id: (r.get("id").and_then(Value::as_str).map(clean)).map(Text::from),
                concept: None,
                code: Some(code.into()),
                also: texts(also),
                display: (display(condition.get("code"))).map(Text::from),
                relationship: relationship.map(Text::from),
                onset_age: onset_age(condition),
                date,
                status: status.map(Text::from),
            });
        }
        Ok(())
    }
}

/// A relative as a native word, from an HL7 v3 RoleCode (FHIR's FamilyMember value set).
/// Relations not by blood (step, adoptive, foster, in-law) and distant ones are `other`;
/// no code eligc reads leaves it not recorded.
fn relationship_word(relationship: Option<&Value>) -> Option<&'static str> {
    let codings = relationship?.get("coding")?.as_array()?;
    codings.iter().find_map(|coding| {
        let system = str_at(coding, &["system"]).unwrap_or("");
        if !system.contains("RoleCode") {
            return None;
        }
        let code = clean(str_at(coding, &["code"])?);
        Some(match code.as_str() {
            "MTH" | "NMTH" => "mother",
            "FTH" | "NFTH" => "father",
            "PRN" | "NPRN" => "parent",
            "SIS" | "NSIS" | "TWINSIS" | "FTWINSIS" | "ITWINSIS" => "sister",
            "BRO" | "NBRO" | "TWINBRO" | "FTWINBRO" | "ITWINBRO" => "brother",
            "SIB" | "NSIB" | "TWIN" | "FTWIN" | "ITWIN" => "sibling",
            "HSIS" => "half_sister",
            "HBRO" => "half_brother",
            "HSIB" => "half_sibling",
            "DAU" | "DAUC" => "daughter",
            "SON" | "SONC" => "son",
            "CHILD" | "NCHILD" => "child",
            "GRMTH" | "MGRMTH" | "PGRMTH" => "grandmother",
            "GRFTH" | "MGRFTH" | "PGRFTH" => "grandfather",
            "GRPRN" | "MGRPRN" | "PGRPRN" => "grandparent",
            "GRNDCHILD" | "GRNDDAU" | "GRNDSON" => "grandchild",
            "AUNT" | "MAUNT" | "PAUNT" => "aunt",
            "UNCLE" | "MUNCLE" | "PUNCLE" => "uncle",
            "NIECE" => "niece",
            "NEPHEW" => "nephew",
            "COUSN" | "MCOUSN" | "PCOUSN" => "cousin",
            _ => "other",
        })
    })
}

/// The relative's age in years when a condition began: `onsetAge` in years (UCUM `a`), or
/// an `onsetRange` of ages whose two ends agree; else not recorded.
fn onset_age(condition: &Value) -> Option<Decimal> {
    let years = |q: &Value| {
        let unit = str_at(q, &["code"]).or_else(|| str_at(q, &["unit"]))?;
        let value = number_of(q.get("value")?)?;
        match unit {
            "a" | "yr" | "year" | "years" => Some(value),
            "mo" | "month" | "months" => value.checked_div(Decimal::from(12)),
            _ => None,
        }
    };
    if let Some(age) = condition.get("onsetAge") {
        return years(age);
    }
    let range = condition.get("onsetRange")?;
    let (low, high) = (years(range.get("low")?)?, years(range.get("high")?)?);
    (low == high).then_some(low)
}
