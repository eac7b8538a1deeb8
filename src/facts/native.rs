//! The native patient model: one JSON object per patient, documented field by field in
//! `docs/patient-data.md` and as a JSON Schema in `docs/patient.schema.json`.
//!
//! A domain list that is absent (or `null`) means "not recorded": questions about it are
//! unknown. An empty list means "recorded, and there is nothing".

use std::borrow::Cow;
use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{RawRecord, RecordError, strict};
use crate::program::{CodeSystem, Sex};

/// A string of a record (a name, code, unit, status, attestation name): borrowed from the
/// record's JSON text when it is written there without escapes, as nearly all are, so that
/// the 90 or so strings of a patient are not each allocated, copied and freed; owned when
/// unescaped or made by a converter (FHIR, OMOP).
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Text<'a>(Cow<'a, str>);

impl<'a> Text<'a> {
    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The same text, owned: no longer tied to the record's JSON text.
    pub fn into_owned(self) -> Text<'static> {
        Text(Cow::Owned(self.0.into_owned()))
    }
}

impl std::ops::Deref for Text<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for Text<'_> {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Text<'_> {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Text<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&*self.0, f)
    }
}

impl std::fmt::Display for Text<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&*self.0, f)
    }
}

impl From<String> for Text<'_> {
    fn from(text: String) -> Self {
        Text(Cow::Owned(text))
    }
}

impl<'a> From<&'a str> for Text<'a> {
    fn from(text: &'a str) -> Self {
        Text(Cow::Borrowed(text))
    }
}

impl PartialEq<str> for Text<'_> {
    fn eq(&self, other: &str) -> bool {
        *self.0 == *other
    }
}

impl PartialEq<&str> for Text<'_> {
    fn eq(&self, other: &&str) -> bool {
        *self.0 == **other
    }
}

impl Serialize for Text<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;

        impl<'de> serde::de::Visitor<'de> for TextVisitor {
            type Value = Text<'de>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }

            fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v.to_string())))
            }

            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }

        deserializer.deserialize_str(TextVisitor)
    }
}

/// A list of strings made by a converter (FHIR, OMOP) as a record's [`Text`]s.
pub(crate) fn texts(list: Option<Vec<String>>) -> Option<Vec<Text<'static>>> {
    list.map(|l| l.into_iter().map(Text::from).collect())
}

/// One patient.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PatientRecord<'a> {
    /// The patient's id, unique within a data set.
    #[serde(borrow)]
    pub id: Text<'a>,
    /// Date of birth.
    #[serde(default, deserialize_with = "strict::opt_date")]
    pub birth_date: Option<NaiveDate>,
    /// Recorded sex.
    #[serde(default)]
    pub sex: Option<RecordedSex>,
    /// Dates of the protocol's anchors (screening, infusion, ...).
    #[serde(default, deserialize_with = "strict::unique_date_map")]
    #[serde(borrow)]
    pub anchors: BTreeMap<Text<'a>, NaiveDate>,
    /// Results of labs, vital signs, scores.
    #[serde(default, deserialize_with = "strict::opt_list")]
    #[serde(borrow)]
    pub observations: Option<Vec<ObservationRecord<'a>>>,
    /// Diagnoses and clinical events.
    #[serde(default, deserialize_with = "strict::opt_list")]
    #[serde(borrow)]
    pub conditions: Option<Vec<ConditionRecord<'a>>>,
    /// Medication exposures.
    #[serde(default, deserialize_with = "strict::opt_list")]
    #[serde(borrow)]
    pub medications: Option<Vec<MedicationRecord<'a>>>,
    /// Vaccinations.
    #[serde(default, deserialize_with = "strict::opt_list")]
    #[serde(borrow)]
    pub immunizations: Option<Vec<ImmunizationRecord<'a>>>,
    /// Procedures and therapies.
    #[serde(default, deserialize_with = "strict::opt_list")]
    #[serde(borrow)]
    pub procedures: Option<Vec<ProcedureRecord<'a>>>,
    /// Allergies and intolerances, each to a drug (or other substance declared as a drug),
    /// with the fields of a condition: onset, end, status, verification, severity.
    #[serde(
        default,
        deserialize_with = "strict::opt_list",
        skip_serializing_if = "Option::is_none"
    )]
    #[serde(borrow)]
    pub allergies: Option<Vec<ConditionRecord<'a>>>,
    /// Encounters with care: visits, emergency attendances, admissions.
    #[serde(
        default,
        deserialize_with = "strict::opt_list",
        skip_serializing_if = "Option::is_none"
    )]
    #[serde(borrow)]
    pub encounters: Option<Vec<EncounterRecord<'a>>>,
    /// Participation in research studies and programmes (FHIR ResearchSubject).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(borrow)]
    pub studies: Option<Vec<StudyRecord<'a>>>,
    /// Conditions of relatives (FHIR FamilyMemberHistory), one entry per relative's
    /// condition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(borrow)]
    pub family_history: Option<Vec<FamilyHistoryRecord<'a>>>,
    /// Judgements and agreements, by attestation name.
    #[serde(default, deserialize_with = "strict::unique_map")]
    #[serde(borrow)]
    pub attestations: BTreeMap<Text<'a>, AttestationRecord>,
    /// Domains ([`super::DOMAINS`]) that were absent from the record and are read as
    /// "none recorded" because the record was declared complete for them (`--complete`,
    /// the side file's `complete`). Not part of the JSON model: set only when reading.
    #[serde(skip)]
    pub completed: Vec<&'static str>,
}

/// Recorded sex; `unknown` is the same as not recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordedSex {
    /// Female.
    Female,
    /// Male.
    Male,
    /// Other.
    Other,
    /// Unknown.
    Unknown,
}

impl RecordedSex {
    /// As the language's sex, if known.
    pub fn known(self) -> Option<Sex> {
        match self {
            RecordedSex::Female => Some(Sex::Female),
            RecordedSex::Male => Some(Sex::Male),
            RecordedSex::Other => Some(Sex::Other),
            RecordedSex::Unknown => None,
        }
    }
}

/// A reference range as recorded with a result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RangeRecord {
    /// Lower limit of normal.
    #[serde(default, deserialize_with = "strict::opt_decimal")]
    pub low: Option<Decimal>,
    /// Upper limit of normal.
    #[serde(default, deserialize_with = "strict::opt_decimal")]
    pub high: Option<Decimal>,
}

/// A lab result, vital sign or score.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ObservationRecord<'a> {
    /// The record's own id, quoted in explanations.
    #[serde(default)]
    #[serde(borrow)]
    pub id: Option<Text<'a>>,
    /// A name from the protocol's vocabulary (`egfr`) ...
    #[serde(default)]
    #[serde(borrow)]
    pub concept: Option<Text<'a>>,
    /// ... or a code (`loinc:33914-3`).
    #[serde(default)]
    #[serde(borrow)]
    pub code: Option<Text<'a>>,
    /// Further codes of the same fact in other code systems (`icd10:M32.9` beside
    /// `snomed:55464009`): the fact matches a concept when any of its codes does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(borrow)]
    pub also: Option<Vec<Text<'a>>>,
    /// When it was measured.
    #[serde(deserialize_with = "strict::date")]
    pub date: NaiveDate,
    /// A numeric value ...
    #[serde(default, deserialize_with = "strict::opt_decimal")]
    pub value: Option<Decimal>,
    /// ... in this unit (UCUM).
    #[serde(default)]
    #[serde(borrow)]
    pub unit: Option<Text<'a>>,
    /// The value is a bound, not a point: `<` 10 means below 10 (FHIR
    /// `valueQuantity.comparator`): `<`, `<=`, `>=`, `>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(borrow)]
    pub comparator: Option<Text<'a>>,
    /// ... or a qualitative result (positive, negative, indeterminate, normal, abnormal).
    #[serde(default)]
    #[serde(borrow)]
    pub result: Option<Text<'a>>,
    /// The laboratory's reading of the result (FHIR `Observation.interpretation`): normal,
    /// abnormal, high, low, positive, negative, indeterminate. Used when the value cannot
    /// decide a test.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(borrow)]
    pub interpretation: Option<Text<'a>>,
    /// The result's reference range, in its unit.
    #[serde(default)]
    pub reference_range: Option<RangeRecord>,
}

/// A diagnosis or clinical event.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ConditionRecord<'a> {
    /// The record's own id.
    #[serde(default)]
    #[serde(borrow)]
    pub id: Option<Text<'a>>,
    /// A vocabulary name ...
    #[serde(default)]
    #[serde(borrow)]
    pub concept: Option<Text<'a>>,
    /// ... or a code (`snomed:55464009`, `icd10:M32.1`).
    #[serde(default)]
    #[serde(borrow)]
    pub code: Option<Text<'a>>,
    /// Further codes of the same fact in other code systems (`icd10:M32.9` beside
    /// `snomed:55464009`): the fact matches a concept when any of its codes does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(borrow)]
    pub also: Option<Vec<Text<'a>>>,
    /// What the code says, for people (a FHIR coding's `display` or `text`); shown in
    /// explanations, never matched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(borrow)]
    pub display: Option<Text<'a>>,
    /// Onset.
    #[serde(default, deserialize_with = "strict::opt_date")]
    pub onset: Option<NaiveDate>,
    /// End (abatement); absent while ongoing.
    #[serde(default, deserialize_with = "strict::opt_date")]
    pub end: Option<NaiveDate>,
    /// active, recurrence, relapse, inactive, remission, resolved.
    #[serde(default)]
    #[serde(borrow)]
    pub status: Option<Text<'a>>,
    /// confirmed, provisional, differential, unconfirmed, refuted, entered-in-error.
    #[serde(default)]
    #[serde(borrow)]
    pub verification: Option<Text<'a>>,
    /// A grade (e.g. GVHD grade 2).
    #[serde(default, deserialize_with = "strict::opt_decimal")]
    pub grade: Option<Decimal>,
    /// mild, moderate, severe.
    #[serde(default)]
    #[serde(borrow)]
    pub severity: Option<Text<'a>>,
    /// Where in the body: codes of body structures (`snomed:7657000`) or names of the
    /// protocol's `site` concepts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(borrow)]
    pub body_site: Option<Vec<Text<'a>>>,
    /// left, right, bilateral.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(borrow)]
    pub laterality: Option<Text<'a>>,
    /// A stage group: I, IA, ..., IVC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(borrow)]
    pub stage: Option<Text<'a>>,
}

/// A medication exposure.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MedicationRecord<'a> {
    /// The record's own id.
    #[serde(default)]
    #[serde(borrow)]
    pub id: Option<Text<'a>>,
    /// A vocabulary name ...
    #[serde(default)]
    #[serde(borrow)]
    pub concept: Option<Text<'a>>,
    /// ... or a code (`rxnorm:8640`).
    #[serde(default)]
    #[serde(borrow)]
    pub code: Option<Text<'a>>,
    /// Further codes of the same fact in other code systems (`icd10:M32.9` beside
    /// `snomed:55464009`): the fact matches a concept when any of its codes does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(borrow)]
    pub also: Option<Vec<Text<'a>>>,
    /// What the code says, for people (a FHIR coding's `display` or `text`); shown in
    /// explanations, never matched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(borrow)]
    pub display: Option<Text<'a>>,
    /// First day.
    #[serde(deserialize_with = "strict::date")]
    pub start: NaiveDate,
    /// Last day; absent while ongoing.
    #[serde(default, deserialize_with = "strict::opt_date")]
    pub end: Option<NaiveDate>,
    /// One dose ...
    #[serde(default, deserialize_with = "strict::opt_decimal")]
    pub dose: Option<Decimal>,
    /// ... in this unit (mg) ...
    #[serde(default)]
    #[serde(borrow)]
    pub dose_unit: Option<Text<'a>>,
    /// ... taken this many times a day.
    #[serde(default, deserialize_with = "strict::opt_decimal")]
    pub frequency_per_day: Option<Decimal>,
    /// Or the total daily dose directly ...
    #[serde(default, deserialize_with = "strict::opt_decimal")]
    pub daily_dose: Option<Decimal>,
    /// ... in this unit (mg/d, or mg when per day is implied).
    #[serde(default)]
    #[serde(borrow)]
    pub daily_dose_unit: Option<Text<'a>>,
    /// oral, intravenous, subcutaneous, intramuscular, topical, inhaled, other.
    #[serde(default)]
    #[serde(borrow)]
    pub route: Option<Text<'a>>,
    /// active, completed, stopped, on_hold, entered-in-error.
    #[serde(default)]
    #[serde(borrow)]
    pub status: Option<Text<'a>>,
    /// Why it was given: codes of conditions (`icd10:I10`) or names of the protocol's
    /// conditions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(borrow)]
    pub reason: Option<Vec<Text<'a>>>,
    /// Why it was stopped or held, as `reason`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(borrow)]
    pub status_reason: Option<Vec<Text<'a>>>,
}

/// A vaccination.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ImmunizationRecord<'a> {
    /// The record's own id.
    #[serde(default)]
    #[serde(borrow)]
    pub id: Option<Text<'a>>,
    /// A vocabulary name ...
    #[serde(default)]
    #[serde(borrow)]
    pub concept: Option<Text<'a>>,
    /// ... or a code (`cvx:03`).
    #[serde(default)]
    #[serde(borrow)]
    pub code: Option<Text<'a>>,
    /// Further codes of the same fact in other code systems (`icd10:M32.9` beside
    /// `snomed:55464009`): the fact matches a concept when any of its codes does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(borrow)]
    pub also: Option<Vec<Text<'a>>>,
    /// What the code says, for people (a FHIR coding's `display` or `text`); shown in
    /// explanations, never matched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(borrow)]
    pub display: Option<Text<'a>>,
    /// When it was given.
    #[serde(deserialize_with = "strict::date")]
    pub date: NaiveDate,
    /// completed (default), not-done, entered-in-error.
    #[serde(default)]
    #[serde(borrow)]
    pub status: Option<Text<'a>>,
}

/// A procedure or therapy.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProcedureRecord<'a> {
    /// The record's own id.
    #[serde(default)]
    #[serde(borrow)]
    pub id: Option<Text<'a>>,
    /// A vocabulary name ...
    #[serde(default)]
    #[serde(borrow)]
    pub concept: Option<Text<'a>>,
    /// ... or a code (`snomed:302497006`).
    #[serde(default)]
    #[serde(borrow)]
    pub code: Option<Text<'a>>,
    /// Further codes of the same fact in other code systems (`icd10:M32.9` beside
    /// `snomed:55464009`): the fact matches a concept when any of its codes does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(borrow)]
    pub also: Option<Vec<Text<'a>>>,
    /// What the code says, for people (a FHIR coding's `display` or `text`); shown in
    /// explanations, never matched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(borrow)]
    pub display: Option<Text<'a>>,
    /// When it was done (its first day).
    #[serde(deserialize_with = "strict::date")]
    pub date: NaiveDate,
    /// Its last day, for a course (e.g. dialysis).
    #[serde(default, deserialize_with = "strict::opt_date")]
    pub end: Option<NaiveDate>,
    /// completed (default), in_progress, stopped, not-done, entered-in-error.
    #[serde(default)]
    #[serde(borrow)]
    pub status: Option<Text<'a>>,
    /// Where in the body, as a condition's `body_site`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(borrow)]
    pub body_site: Option<Vec<Text<'a>>>,
    /// left, right, bilateral.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(borrow)]
    pub laterality: Option<Text<'a>>,
    /// Why it was done, as a medication's `reason`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(borrow)]
    pub reason: Option<Vec<Text<'a>>>,
}

/// An encounter with care: a visit, an emergency attendance, an admission or a stay in a
/// unit. Its codes say its class (`actcode:IMP`) and type (`snomed:305351004`).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EncounterRecord<'a> {
    /// The record's own id.
    #[serde(default)]
    #[serde(borrow)]
    pub id: Option<Text<'a>>,
    /// A vocabulary name ...
    #[serde(default)]
    #[serde(borrow)]
    pub concept: Option<Text<'a>>,
    /// ... or a code (`actcode:IMP`, `snomed:305351004`).
    #[serde(default)]
    #[serde(borrow)]
    pub code: Option<Text<'a>>,
    /// Further codes of the same encounter: its type, service or unit beside its class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(borrow)]
    pub also: Option<Vec<Text<'a>>>,
    /// What the code says, for people; shown in explanations, never matched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(borrow)]
    pub display: Option<Text<'a>>,
    /// Its first day (admission, arrival).
    #[serde(deserialize_with = "strict::date")]
    pub start: NaiveDate,
    /// Its last day (discharge); absent while it goes on.
    #[serde(default, deserialize_with = "strict::opt_date")]
    pub end: Option<NaiveDate>,
    /// in_progress, finished, planned, cancelled, entered-in-error. Without an end date,
    /// `finished` means it ended on a day not recorded; otherwise it goes on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(borrow)]
    pub status: Option<Text<'a>>,
    /// Where the patient went at discharge: one of [`DISCHARGES`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(borrow)]
    pub discharge: Option<Text<'a>>,
}

/// A patient's participation in a research study or programme (FHIR ResearchSubject): the
/// study, named by its registry identifier (`nct:NCT03868241`), the period on it, and how
/// far the patient got (`status`).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StudyRecord<'a> {
    /// The record's own id.
    #[serde(default)]
    #[serde(borrow)]
    pub id: Option<Text<'a>>,
    /// A vocabulary name ...
    #[serde(default)]
    #[serde(borrow)]
    pub concept: Option<Text<'a>>,
    /// ... or the study's identifier (`nct:NCT03868241`, `local:rehab-2019`).
    #[serde(default)]
    #[serde(borrow)]
    pub code: Option<Text<'a>>,
    /// Further identifiers of the same study (EudraCT beside NCT).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(borrow)]
    pub also: Option<Vec<Text<'a>>>,
    /// The study's title, for people; shown in explanations, never matched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(borrow)]
    pub display: Option<Text<'a>>,
    /// The first day on the study (enrolment).
    #[serde(default, deserialize_with = "strict::opt_date")]
    pub start: Option<NaiveDate>,
    /// The last day on it; absent while the patient is on it.
    #[serde(default, deserialize_with = "strict::opt_date")]
    pub end: Option<NaiveDate>,
    /// One of [`STUDY_STATUSES`]: how far the patient got. Only the enrolled ones
    /// ([`ENROLLED_STATUSES`]) are participation; the others (candidate, screening,
    /// ineligible, withdrawn before enrolment, ...) are not facts of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(borrow)]
    pub status: Option<Text<'a>>,
    /// interventional or observational.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(borrow)]
    pub design: Option<Text<'a>>,
    /// One of [`STUDY_PHASES`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(borrow)]
    pub phase: Option<Text<'a>>,
}

/// A condition of one of the patient's relatives (family history): what it is, who had it,
/// and how old they were when it began.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FamilyHistoryRecord<'a> {
    /// The record's own id.
    #[serde(default)]
    #[serde(borrow)]
    pub id: Option<Text<'a>>,
    /// A vocabulary name (a condition) ...
    #[serde(default)]
    #[serde(borrow)]
    pub concept: Option<Text<'a>>,
    /// ... or a condition's code (`icd10:C50`, `snomed:254837009`).
    #[serde(default)]
    #[serde(borrow)]
    pub code: Option<Text<'a>>,
    /// Further codes of the same condition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(borrow)]
    pub also: Option<Vec<Text<'a>>>,
    /// What the code says, for people; shown in explanations, never matched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(borrow)]
    pub display: Option<Text<'a>>,
    /// Who had it: one of [`RELATIONSHIPS`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(borrow)]
    pub relationship: Option<Text<'a>>,
    /// The relative's age in years when it began.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub onset_age: Option<Decimal>,
    /// When it was recorded.
    #[serde(default, deserialize_with = "strict::opt_date")]
    pub date: Option<NaiveDate>,
    /// completed, partial, health_unknown, entered-in-error (not a fact).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(borrow)]
    pub status: Option<Text<'a>>,
}

/// An attestation: `true`, `false`, `null` (not yet recorded), or with details.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum AttestationRecord {
    /// Just the value.
    Value(Option<bool>),
    /// The value with when and by whom.
    Detailed {
        /// The value; `null` when not yet recorded.
        value: Option<bool>,
        /// When it was recorded.
        #[serde(default)]
        date: Option<NaiveDate>,
        /// Who recorded it.
        #[serde(default)]
        by: Option<String>,
    },
}

/// What an attestation may look like, for error messages.
const ATTESTATION_FORMS: &str = "an attestation is true, false, null (not yet recorded), or {\"value\": true, \"date\": \"2026-03-30\", \"by\": \"...\"}";

impl<'de> Deserialize<'de> for AttestationRecord {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        use serde_json::Value;
        // Through `UniqueValue`: `{"value": false, "value": true}` is refused, not read as true.
        match strict::UniqueValue::deserialize(deserializer)?.0 {
            Value::Null => Ok(AttestationRecord::Value(None)),
            Value::Bool(b) => Ok(AttestationRecord::Value(Some(b))),
            Value::Object(map) => {
                let mut value = None;
                let mut date = None;
                let mut by = None;
                for (key, v) in map {
                    match (key.as_str(), v) {
                        ("value", Value::Bool(b)) => value = Some(b),
                        ("value", Value::Null) => {}
                        ("date", Value::String(s)) => {
                            date = Some(strict::parse_date(&s).map_err(|_| {
                                D::Error::custom(format!(
                                    "`date` {s:?} is not a date written YYYY-MM-DD"
                                ))
                            })?);
                        }
                        ("date", Value::Null) => {}
                        ("by", Value::String(s)) => by = Some(s),
                        ("by", Value::Null) => {}
                        ("value" | "date" | "by", other) => {
                            return Err(D::Error::custom(format!(
                                "`{key}` cannot be {other}: {ATTESTATION_FORMS}"
                            )));
                        }
                        (other, _) => {
                            return Err(D::Error::custom(format!(
                                "unknown field `{other}`: {ATTESTATION_FORMS}"
                            )));
                        }
                    }
                }
                Ok(AttestationRecord::Detailed { value, date, by })
            }
            other => Err(D::Error::custom(format!(
                "{other} is not an attestation: {ATTESTATION_FORMS}"
            ))),
        }
    }
}

impl AttestationRecord {
    /// The recorded value, if any.
    pub fn value(&self) -> Option<bool> {
        match self {
            AttestationRecord::Value(v) | AttestationRecord::Detailed { value: v, .. } => *v,
        }
    }
}

/// Comparators of a bounded value.
pub const COMPARATORS: &[&str] = &["<", "<=", ">=", ">"];
/// Interpretations of a result.
pub const INTERPRETATIONS: &[&str] = &[
    "normal",
    "abnormal",
    "high",
    "low",
    "positive",
    "negative",
    "indeterminate",
];
/// Condition statuses.
pub const CONDITION_STATUSES: &[&str] = &[
    "active",
    "recurrence",
    "relapse",
    "inactive",
    "remission",
    "resolved",
];
/// Condition verification statuses.
pub const VERIFICATIONS: &[&str] = &[
    "confirmed",
    "provisional",
    "differential",
    "unconfirmed",
    "refuted",
    "entered-in-error",
];
/// Medication statuses.
pub const MEDICATION_STATUSES: &[&str] = &[
    "active",
    "completed",
    "stopped",
    "on_hold",
    "entered-in-error",
];
/// Medication routes.
pub const ROUTES: &[&str] = &[
    "oral",
    "intravenous",
    "subcutaneous",
    "intramuscular",
    "topical",
    "inhaled",
    "other",
];
/// Immunization statuses.
pub const IMMUNIZATION_STATUSES: &[&str] = &["completed", "not-done", "entered-in-error"];
/// Procedure statuses.
pub const PROCEDURE_STATUSES: &[&str] = &[
    "completed",
    "in_progress",
    "stopped",
    "not-done",
    "entered-in-error",
];
/// Encounter statuses (FHIR Encounter.status; planned, cancelled and entered-in-error ones
/// are not facts).
pub const ENCOUNTER_STATUSES: &[&str] = &[
    "in_progress",
    "finished",
    "planned",
    "cancelled",
    "entered-in-error",
];
/// Where a patient goes at the end of an encounter.
pub const DISCHARGES: &[&str] = &[
    "home",
    "alternative_home",
    "home_health",
    "hospital",
    "skilled_nursing",
    "rehabilitation",
    "long_term_care",
    "psychiatric",
    "hospice",
    "against_advice",
    "expired",
    "other",
];
/// A patient's status on a study (FHIR R4 ResearchSubject.status, R5 subjectState), with
/// `_` for `-`.
pub const STUDY_STATUSES: &[&str] = &[
    "candidate",
    "potential_candidate",
    "screening",
    "eligible",
    "ineligible",
    "pending_on_study",
    "not_registered",
    "withdrawn",
    "on_study",
    "on_study_intervention",
    "on_study_observation",
    "follow_up",
    "off_study",
];
/// The statuses of a patient who was enrolled (registered) on the study: the others are
/// before enrolment or instead of it (FHIR's `withdrawn` is "before registration").
pub const ENROLLED_STATUSES: &[&str] = &[
    "on_study",
    "on_study_intervention",
    "on_study_observation",
    "follow_up",
    "off_study",
];
/// Study designs (ClinicalTrials.gov's study type).
pub const STUDY_DESIGNS: &[&str] = &["interventional", "observational"];
/// Study phases (FHIR research-study-phase, with `_` for `-`).
pub const STUDY_PHASES: &[&str] = &[
    "not_applicable",
    "early_phase_1",
    "phase_1",
    "phase_1_phase_2",
    "phase_2",
    "phase_2_phase_3",
    "phase_3",
    "phase_4",
];
/// Relatives, by blood (FHIR FamilyMemberHistory.relationship, HL7 v3 RoleCode); `other`
/// for any other relation (step, adoptive, foster, in-law, great-grandparents and beyond).
pub const RELATIONSHIPS: &[&str] = &[
    "mother",
    "father",
    "parent",
    "sister",
    "brother",
    "sibling",
    "half_sister",
    "half_brother",
    "half_sibling",
    "daughter",
    "son",
    "child",
    "grandmother",
    "grandfather",
    "grandparent",
    "grandchild",
    "aunt",
    "uncle",
    "niece",
    "nephew",
    "cousin",
    "other",
];
/// First-degree relatives: `where relationship in {first_degree}` matches any of them.
pub const FIRST_DEGREE: &[&str] = &[
    "mother", "father", "parent", "sister", "brother", "sibling", "daughter", "son", "child",
];
/// Second-degree relatives: `where relationship in {second_degree}`.
pub const SECOND_DEGREE: &[&str] = &[
    "half_sister",
    "half_brother",
    "half_sibling",
    "grandmother",
    "grandfather",
    "grandparent",
    "grandchild",
    "aunt",
    "uncle",
    "niece",
    "nephew",
];
/// What a protocol may ask of `relationship`: a relative, or a degree.
pub const RELATIONSHIP_WORDS: &[&str] = &[
    "first_degree",
    "second_degree",
    "mother",
    "father",
    "parent",
    "sister",
    "brother",
    "sibling",
    "half_sister",
    "half_brother",
    "half_sibling",
    "daughter",
    "son",
    "child",
    "grandmother",
    "grandfather",
    "grandparent",
    "grandchild",
    "aunt",
    "uncle",
    "niece",
    "nephew",
    "cousin",
    "other",
];
/// Family history statuses (FHIR FamilyMemberHistory.status).
pub const FAMILY_HISTORY_STATUSES: &[&str] =
    &["completed", "partial", "health_unknown", "entered-in-error"];
/// Allergy clinical statuses (FHIR AllergyIntolerance.clinicalStatus).
pub const ALLERGY_STATUSES: &[&str] = &["active", "inactive", "resolved"];
/// Condition severities.
pub const SEVERITIES: &[&str] = &["mild", "moderate", "severe"];
/// Sides of the body.
pub const LATERALITIES: &[&str] = &["left", "right", "bilateral"];
/// Stage groups (a protocol's `stage in {II}` also matches `IIA`, `IIB`, `IIC`).
pub const STAGES: &[&str] = &[
    "I", "IA", "IB", "IC", "II", "IIA", "IIB", "IIC", "III", "IIIA", "IIIB", "IIIC", "IV", "IVA",
    "IVB", "IVC",
];

/// Just the id, to name the patient when the rest of a record does not parse.
#[derive(Deserialize)]
struct IdOnly {
    id: String,
}

/// Parses and validates one record.
pub fn parse(raw: &RawRecord) -> Result<PatientRecord<'_>, RecordError> {
    // Plainly written records (nearly all) by the fast reader; anything else, and every
    // refusal with its message, by serde_json as before.
    match super::fast::read(&raw.text) {
        Some(record) => check(raw, record),
        None => parse_slow(raw),
    }
}

/// [`parse`] by serde_json, for the records the fast reader leaves (the caller tried it).
pub(super) fn parse_slow(raw: &RawRecord) -> Result<PatientRecord<'_>, RecordError> {
    // The common case first, at full speed; a record that fails is parsed again with the
    // path tracked, to say which field is wrong.
    let parsed: Result<PatientRecord, (String, serde_json::Error)> =
        match serde_json::from_str(&raw.text) {
            Ok(record) => Ok(record),
            Err(plain) => {
                let mut de = serde_json::Deserializer::from_str(&raw.text);
                let again = strict::with_exact_errors(|| {
                    serde_path_to_error::deserialize::<_, PatientRecord>(&mut de)
                });
                match again {
                    Err(e) => Err((e.path().to_string(), e.into_inner())),
                    // Trailing characters fail only the plain parse.
                    Ok(_) => Err((String::new(), plain)),
                }
            }
        };
    match parsed {
        Ok(record) => check(raw, record),
        Err((path, inner)) => {
            let patient = serde_json::from_str::<IdOnly>(&raw.text).ok().map(|r| r.id);
            let line = raw.line + inner.line().saturating_sub(1);
            let path = if path == "." { String::new() } else { path };
            Err(RecordError {
                file: raw.file.to_string(),
                line,
                patient,
                path,
                reason: describe_serde_error(&inner),
            })
        }
    }
}

/// Normalises the codes of a record read from `raw` and validates it.
pub(super) fn check<'a>(
    raw: &RawRecord,
    mut record: PatientRecord<'a>,
) -> Result<PatientRecord<'a>, RecordError> {
    if let Err((path, reason)) = normalise_codes(&mut record).and_then(|()| validate(&record)) {
        // The line of the field at fault, in a record that spans many lines (a `.json` file).
        let offset = super::locate::offset_of(&raw.text, &path).unwrap_or(0);
        let line = raw.line + super::locate::lines_before(&raw.text, offset);
        return Err(RecordError {
            file: raw.file.to_string(),
            line,
            patient: Some(record.id.to_string()),
            path,
            reason,
        });
    }
    Ok(record)
}

/// Normalises every `code` and `also` of the record in place, as FHIR codings are
/// ([`super::codes`]): surrounding spaces go, a hidden character inside is refused.
fn normalise_codes(r: &mut PatientRecord) -> Result<(), Invalid> {
    #[inline]
    fn fix(
        list: &str,
        i: usize,
        code: &mut Option<Text>,
        also: &mut Option<Vec<Text>>,
    ) -> Result<(), Invalid> {
        // Most facts are named by a concept: nothing to normalise.
        if code.is_none() && also.is_none() {
            return Ok(());
        }
        fix_given(list, i, code, also)
    }
    fn fix_given(
        list: &str,
        i: usize,
        code: &mut Option<Text>,
        also: &mut Option<Vec<Text>>,
    ) -> Result<(), Invalid> {
        if let Some(c) = code {
            if let Some(normal) = super::codes::normalise_native(c)
                .map_err(|reason| (format!("{list}[{i}].code"), reason))?
            {
                *c = normal.into();
            }
        }
        for (j, c) in also.iter_mut().flatten().enumerate() {
            if let Some(normal) = super::codes::normalise_native(c)
                .map_err(|reason| (format!("{list}[{i}].also[{j}]"), reason))?
            {
                *c = normal.into();
            }
        }
        Ok(())
    }
    for (i, o) in r.observations.iter_mut().flatten().enumerate() {
        fix("observations", i, &mut o.code, &mut o.also)?;
    }
    for (i, c) in r.conditions.iter_mut().flatten().enumerate() {
        fix("conditions", i, &mut c.code, &mut c.also)?;
    }
    for (i, a) in r.allergies.iter_mut().flatten().enumerate() {
        fix("allergies", i, &mut a.code, &mut a.also)?;
    }
    for (i, m) in r.medications.iter_mut().flatten().enumerate() {
        fix("medications", i, &mut m.code, &mut m.also)?;
    }
    for (i, v) in r.immunizations.iter_mut().flatten().enumerate() {
        fix("immunizations", i, &mut v.code, &mut v.also)?;
    }
    for (i, p) in r.procedures.iter_mut().flatten().enumerate() {
        fix("procedures", i, &mut p.code, &mut p.also)?;
    }
    Ok(())
}

/// serde's and chrono's messages, in words for the people who prepare patient data.
fn describe_serde_error(e: &serde_json::Error) -> String {
    let text = e.to_string();
    // serde_json appends " at line L column C"; the location is reported separately.
    let text = match text.rfind(" at line ") {
        Some(i) => text.get(..i).unwrap_or(&text).to_string(),
        None => text,
    };
    const DATE: &str = "expected a date written YYYY-MM-DD (e.g. 2026-03-31)";
    match text.as_str() {
        "input contains invalid characters"
        | "premature end of input"
        | "trailing input"
        | "bad or unsupported format string" => DATE.to_string(),
        "input is out of range" => format!("no such date: {DATE}"),
        t if t.contains("expected a Decimal") || t.contains("Scale exceeds") => {
            strict::NOT_A_NUMBER.to_string()
        }
        "expected ident" | "expected value" => {
            "not JSON: each record is one patient object `{...}`".to_string()
        }
        t if t.starts_with("EOF while parsing") => {
            format!("{t}: the record ends early (in a .jsonl file each patient is one whole line)")
        }
        _ => text,
    }
}

/// A field's JSON path and what is wrong with it.
pub(crate) type Invalid = (String, String);

pub(crate) fn validate(r: &PatientRecord) -> Result<(), Invalid> {
    if r.id.trim().is_empty() {
        return Err(("id".into(), "the patient id is empty".into()));
    }
    for (i, o) in r.observations.iter().flatten().enumerate() {
        let at = |field: &str| format!("observations[{i}]{field}");
        concept_ref(o.concept.as_deref(), o.code.as_deref()).map_err(|reason| (at(""), reason))?;
        also_codes(o.code.as_deref(), o.also.as_deref())
            .map_err(|(j, reason)| (at(&format!(".also[{j}]")), reason))?;
        match (&o.value, &o.result) {
            (Some(_), Some(_)) => {
                return Err((
                    at(""),
                    "give either `value` (a number) or `result` (a word), not both".into(),
                ));
            }
            (None, None) if o.interpretation.is_none() => {
                return Err((
                    at(""),
                    "an observation needs a `value` with its `unit`, a qualitative `result`, or an `interpretation`"
                        .into(),
                ));
            }
            (None, _) if o.unit.is_some() => {
                return Err((at(".unit"), "a qualitative `result` has no unit".into()));
            }
            _ => {}
        }
        if o.comparator.is_some() && o.value.is_none() {
            return Err((
                at(".comparator"),
                "a `comparator` bounds a numeric `value`; give the value".into(),
            ));
        }
        one_of(o.comparator.as_deref(), COMPARATORS)
            .map_err(|reason| (at(".comparator"), reason))?;
        one_of(o.interpretation.as_deref(), INTERPRETATIONS)
            .map_err(|reason| (at(".interpretation"), reason))?;
        if let Some(RangeRecord {
            low: Some(low),
            high: Some(high),
        }) = o.reference_range
        {
            if low > high {
                return Err((
                    at(".reference_range"),
                    format!("the low limit {low} is above the high limit {high}"),
                ));
            }
        }
    }
    for (i, c) in r.conditions.iter().flatten().enumerate() {
        let at = |field: &str| format!("conditions[{i}]{field}");
        concept_ref(c.concept.as_deref(), c.code.as_deref()).map_err(|reason| (at(""), reason))?;
        also_codes(c.code.as_deref(), c.also.as_deref())
            .map_err(|(j, reason)| (at(&format!(".also[{j}]")), reason))?;
        one_of(c.status.as_deref(), CONDITION_STATUSES)
            .map_err(|reason| (at(".status"), reason))?;
        one_of(c.verification.as_deref(), VERIFICATIONS)
            .map_err(|reason| (at(".verification"), reason))?;
        one_of(c.severity.as_deref(), SEVERITIES).map_err(|reason| (at(".severity"), reason))?;
        one_of(c.laterality.as_deref(), LATERALITIES)
            .map_err(|reason| (at(".laterality"), reason))?;
        one_of(c.stage.as_deref(), STAGES).map_err(|reason| (at(".stage"), reason))?;
        coded_values(c.body_site.as_deref())
            .map_err(|(j, reason)| (at(&format!(".body_site[{j}]")), reason))?;
        ordered(c.onset, c.end).map_err(|reason| (at(".end"), reason))?;
    }
    for (i, a) in r.allergies.iter().flatten().enumerate() {
        let at = |field: &str| format!("allergies[{i}]{field}");
        concept_ref(a.concept.as_deref(), a.code.as_deref()).map_err(|reason| (at(""), reason))?;
        also_codes(a.code.as_deref(), a.also.as_deref())
            .map_err(|(j, reason)| (at(&format!(".also[{j}]")), reason))?;
        one_of(a.status.as_deref(), ALLERGY_STATUSES).map_err(|reason| (at(".status"), reason))?;
        one_of(a.verification.as_deref(), VERIFICATIONS)
            .map_err(|reason| (at(".verification"), reason))?;
        one_of(a.severity.as_deref(), SEVERITIES).map_err(|reason| (at(".severity"), reason))?;
        for (field, given) in [
            (".body_site", a.body_site.is_some()),
            (".laterality", a.laterality.is_some()),
            (".stage", a.stage.is_some()),
        ] {
            if given {
                return Err((at(field), "an allergy has no such attribute".into()));
            }
        }
        ordered(a.onset, a.end).map_err(|reason| (at(".end"), reason))?;
    }
    for (i, m) in r.medications.iter().flatten().enumerate() {
        let at = |field: &str| format!("medications[{i}]{field}");
        concept_ref(m.concept.as_deref(), m.code.as_deref()).map_err(|reason| (at(""), reason))?;
        also_codes(m.code.as_deref(), m.also.as_deref())
            .map_err(|(j, reason)| (at(&format!(".also[{j}]")), reason))?;
        one_of(m.status.as_deref(), MEDICATION_STATUSES)
            .map_err(|reason| (at(".status"), reason))?;
        one_of(m.route.as_deref(), ROUTES).map_err(|reason| (at(".route"), reason))?;
        coded_values(m.reason.as_deref())
            .map_err(|(j, reason)| (at(&format!(".reason[{j}]")), reason))?;
        coded_values(m.status_reason.as_deref())
            .map_err(|(j, reason)| (at(&format!(".status_reason[{j}]")), reason))?;
        ordered(Some(m.start), m.end).map_err(|reason| (at(".end"), reason))?;
        for (field, value) in [
            (".dose", m.dose),
            (".frequency_per_day", m.frequency_per_day),
            (".daily_dose", m.daily_dose),
        ] {
            if value.is_some_and(|v| v < Decimal::ZERO) {
                return Err((at(field), "a dose cannot be negative".into()));
            }
        }
    }
    for (i, v) in r.immunizations.iter().flatten().enumerate() {
        let at = |field: &str| format!("immunizations[{i}]{field}");
        concept_ref(v.concept.as_deref(), v.code.as_deref()).map_err(|reason| (at(""), reason))?;
        also_codes(v.code.as_deref(), v.also.as_deref())
            .map_err(|(j, reason)| (at(&format!(".also[{j}]")), reason))?;
        one_of(v.status.as_deref(), IMMUNIZATION_STATUSES)
            .map_err(|reason| (at(".status"), reason))?;
    }
    for (i, p) in r.procedures.iter().flatten().enumerate() {
        let at = |field: &str| format!("procedures[{i}]{field}");
        concept_ref(p.concept.as_deref(), p.code.as_deref()).map_err(|reason| (at(""), reason))?;
        also_codes(p.code.as_deref(), p.also.as_deref())
            .map_err(|(j, reason)| (at(&format!(".also[{j}]")), reason))?;
        one_of(p.status.as_deref(), PROCEDURE_STATUSES)
            .map_err(|reason| (at(".status"), reason))?;
        one_of(p.laterality.as_deref(), LATERALITIES)
            .map_err(|reason| (at(".laterality"), reason))?;
        coded_values(p.body_site.as_deref())
            .map_err(|(j, reason)| (at(&format!(".body_site[{j}]")), reason))?;
        coded_values(p.reason.as_deref())
            .map_err(|(j, reason)| (at(&format!(".reason[{j}]")), reason))?;
        ordered(Some(p.date), p.end).map_err(|reason| (at(".end"), reason))?;
    }
    for (i, e) in r.encounters.iter().flatten().enumerate() {
        let at = |field: &str| format!("encounters[{i}]{field}");
        concept_ref(e.concept.as_deref(), e.code.as_deref()).map_err(|reason| (at(""), reason))?;
        also_codes(e.code.as_deref(), e.also.as_deref())
            .map_err(|(j, reason)| (at(&format!(".also[{j}]")), reason))?;
        one_of(e.status.as_deref(), ENCOUNTER_STATUSES)
            .map_err(|reason| (at(".status"), reason))?;
        one_of(e.discharge.as_deref(), DISCHARGES).map_err(|reason| (at(".discharge"), reason))?;
        ordered(Some(e.start), e.end).map_err(|reason| (at(".end"), reason))?;
    }
    for (i, st) in r.studies.iter().flatten().enumerate() {
        let at = |field: &str| format!("studies[{i}]{field}");
        concept_ref(st.concept.as_deref(), st.code.as_deref())
            .map_err(|reason| (at(""), reason))?;
        also_codes(st.code.as_deref(), st.also.as_deref())
            .map_err(|(j, reason)| (at(&format!(".also[{j}]")), reason))?;
        one_of(st.status.as_deref(), STUDY_STATUSES).map_err(|reason| (at(".status"), reason))?;
        one_of(st.design.as_deref(), STUDY_DESIGNS).map_err(|reason| (at(".design"), reason))?;
        one_of(st.phase.as_deref(), STUDY_PHASES).map_err(|reason| (at(".phase"), reason))?;
        ordered(st.start, st.end).map_err(|reason| (at(".end"), reason))?;
    }
    for (i, fh) in r.family_history.iter().flatten().enumerate() {
        let at = |field: &str| format!("family_history[{i}]{field}");
        concept_ref(fh.concept.as_deref(), fh.code.as_deref())
            .map_err(|reason| (at(""), reason))?;
        also_codes(fh.code.as_deref(), fh.also.as_deref())
            .map_err(|(j, reason)| (at(&format!(".also[{j}]")), reason))?;
        one_of(fh.relationship.as_deref(), RELATIONSHIPS)
            .map_err(|reason| (at(".relationship"), reason))?;
        one_of(fh.status.as_deref(), FAMILY_HISTORY_STATUSES)
            .map_err(|reason| (at(".status"), reason))?;
        if fh.onset_age.is_some_and(|a| a.is_sign_negative()) {
            return Err((at(".onset_age"), "an age cannot be negative".into()));
        }
    }
    Ok(())
}

#[inline]
fn concept_ref(concept: Option<&str>, code: Option<&str>) -> Result<(), String> {
    // A name starting with a visible ASCII character, and no code: the common case.
    if let (Some(name), None) = (concept, code) {
        if name
            .as_bytes()
            .first()
            .is_some_and(|b| matches!(b, b'!'..=b'~'))
        {
            return Ok(());
        }
    }
    concept_ref_in_full(concept, code)
}

fn concept_ref_in_full(concept: Option<&str>, code: Option<&str>) -> Result<(), String> {
    match (concept, code) {
        (Some(_), Some(_)) => {
            Err("give either `concept` (a name) or `code` (system:code), not both".into())
        }
        (None, None) => Err(
            "name what this is: `concept` (a vocabulary name) or `code` (e.g. `loinc:33914-3`)"
                .into(),
        ),
        // A name starting with a visible ASCII character is not blank (the common case,
        // decided without trimming).
        (Some(name), None)
            if !name
                .as_bytes()
                .first()
                .is_some_and(|b| matches!(b, b'!'..=b'~'))
                && name.trim().is_empty() =>
        {
            Err("`concept` is empty".into())
        }
        (None, Some(code)) => parse_code(code).map(|_| ()),
        _ => Ok(()),
    }
}

/// A coded attribute's values (`body_site`, `reason`): each a code (`snomed:7657000`) or a
/// vocabulary name (`femoral_region`).
#[inline]
fn coded_values(values: Option<&[Text]>) -> Result<(), (usize, String)> {
    match values {
        None => Ok(()),
        Some(values) => coded_values_given(values),
    }
}

fn coded_values_given(values: &[Text]) -> Result<(), (usize, String)> {
    for (j, value) in values.iter().enumerate() {
        let is_name = !value.is_empty()
            && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !value.starts_with(|c: char| c.is_ascii_digit());
        if !is_name {
            parse_code(value).map_err(|reason| (j, reason))?;
        }
    }
    Ok(())
}

/// `also` lists further codes of a fact named by `code`; each must be a valid code.
#[inline]
fn also_codes(code: Option<&str>, also: Option<&[Text]>) -> Result<(), (usize, String)> {
    match also {
        None => Ok(()),
        Some(also) => also_codes_given(code, also),
    }
}

fn also_codes_given(code: Option<&str>, also: &[Text]) -> Result<(), (usize, String)> {
    if code.is_none() && !also.is_empty() {
        return Err((
            0,
            "`also` lists further codes of a fact named by `code`; give `code` first".into(),
        ));
    }
    for (j, c) in also.iter().enumerate() {
        parse_code(c).map_err(|reason| (j, reason))?;
    }
    Ok(())
}

/// Splits `system:code` and checks the system. A code of a system eligc has no name for is
/// written `URL|code` (FHIR's token form, e.g. `http://example.org/fhir/sledai|123`): it is
/// given whole, as [`CodeSystem::Url`].
pub fn parse_code(code: &str) -> Result<(CodeSystem, &str), String> {
    if let Some((url, value)) = code.split_once('|') {
        if crate::facts::fhir::url_code(url, value).as_deref() != Some(code) {
            return Err(format!(
                "`{code}` is not a code: a system named by its URL is written `URL|code`, e.g. `http://example.org/fhir/sledai|123` (an absolute URI without a trailing `/`, no spaces)"
            ));
        }
        return Ok((CodeSystem::Url, code));
    }
    let Some((system, value)) = code.split_once(':') else {
        return Err(format!(
            "`{code}` is not a code: write `system:code`, e.g. `loinc:33914-3`"
        ));
    };
    let Some(system) = CodeSystem::from_name(system) else {
        let known: Vec<&str> = CodeSystem::ALL.iter().map(|(n, _)| *n).collect();
        return Err(format!(
            "unknown code system `{system}` (known: {}; or `URL|code`)",
            known.join(", ")
        ));
    };
    if value.trim().is_empty() {
        return Err(format!("`{code}` has an empty code"));
    }
    Ok((system, value))
}

// The checks below are called for every fact, and nearly always pass at their first test
// (a field absent, a concept named): inlined, with the message built out of line, that
// test costs a comparison instead of a call returning a `Result` through memory.
#[inline]
fn one_of(value: Option<&str>, allowed: &[&str]) -> Result<(), String> {
    match value {
        Some(v) if !allowed.contains(&v) => Err(not_one_of(v, allowed)),
        _ => Ok(()),
    }
}

#[cold]
fn not_one_of(v: &str, allowed: &[&str]) -> String {
    format!("`{v}` is not one of: {}", allowed.join(", "))
}

#[inline]
fn ordered(start: Option<NaiveDate>, end: Option<NaiveDate>) -> Result<(), String> {
    match (start, end) {
        (Some(s), Some(e)) if e < s => Err(ends_before(s, e)),
        _ => Ok(()),
    }
}

#[cold]
fn ends_before(start: NaiveDate, end: NaiveDate) -> String {
    format!("ends ({end}) before it starts ({start})")
}
