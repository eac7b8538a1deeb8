//! A patient record resolved against the protocol's vocabulary: every fact gets the concept
//! ids it stands for (by name or by code). Facts the vocabulary does not name are counted,
//! not dropped silently; facts marked entered-in-error, refuted or not-done are not facts.

use crate::ast::ConceptKind;
use crate::facts::native::Text;
use crate::facts::native::{
    ConditionRecord, ENROLLED_STATUSES, EncounterRecord, FamilyHistoryRecord, ImmunizationRecord,
    MedicationRecord, ObservationRecord, ProcedureRecord, StudyRecord,
};
use crate::facts::{PatientRecord, native::parse_code};
use crate::program::{CodeSystem, ConceptId};

use super::Plan;

/// A record's facts by concept. `None` domains were not recorded at all.
pub(super) struct Facts<'r> {
    pub record: &'r PatientRecord<'r>,
    /// The record's date for each of the protocol's anchors, by anchor id.
    pub anchors: Vec<Option<chrono::NaiveDate>>,
    pub observations: Option<Vec<(ConceptId, &'r ObservationRecord<'r>)>>,
    pub conditions: Option<Vec<(ConceptId, &'r ConditionRecord<'r>)>>,
    pub medications: Option<Vec<(ConceptId, &'r MedicationRecord<'r>)>>,
    pub immunizations: Option<Vec<(ConceptId, &'r ImmunizationRecord<'r>)>>,
    pub procedures: Option<Vec<(ConceptId, &'r ProcedureRecord<'r>)>>,
    pub allergies: Option<Vec<(ConceptId, &'r ConditionRecord<'r>)>>,
    pub encounters: Option<Vec<(ConceptId, &'r EncounterRecord<'r>)>>,
    pub studies: Option<Vec<(ConceptId, &'r StudyRecord<'r>)>>,
    pub family_history: Option<Vec<(ConceptId, &'r FamilyHistoryRecord<'r>)>>,
    /// Facts whose code the vocabulary does not have (of the right kind).
    pub unused: usize,
    /// Facts, among the unused, whose code eligc cannot place: no concept matches it, it is
    /// in a code system the protocol codes that kind of fact in, and no vocabulary knows it.
    /// Such a fact might be any concept of its kind: a question about one is unknown.
    pub unplaced: Unplaced<'r>,
    /// Facts, among the unused, that the vocabulary knows but places under none of the
    /// protocol's concepts: a definite "no" for a concept the vocabulary also knows, but
    /// still perhaps a concept whose codes it lacks (a subset without that ingredient).
    pub elsewhere: Unplaced<'r>,
    /// The first fact that names (by `concept`) something the vocabulary does not have:
    /// its JSON path and the reason. Such a record is rejected, since a misspelt name would
    /// otherwise silently drop the fact.
    pub bad_name: Option<(String, String)>,
}

impl<'r> Facts<'r> {
    pub(super) fn resolve(plan: &Plan, record: &'r PatientRecord) -> Facts<'r> {
        let mut unused = 0;
        let mut bad_name = None;
        let mut unplaced = Unplaced::default();
        let mut elsewhere = Unplaced::default();
        let observations = domain(
            plan,
            (&mut unused, &mut bad_name, "observations"),
            None,
            record.observations.as_ref(),
            &[ConceptKind::Observation, ConceptKind::Score],
            |o| {
                (
                    o.concept.as_ref(),
                    (o.code.as_ref(), o.also.as_deref()),
                    false,
                )
            },
        );
        let conditions = domain(
            plan,
            (&mut unused, &mut bad_name, "conditions"),
            Some((&mut unplaced.conditions, &mut elsewhere.conditions)),
            record.conditions.as_ref(),
            &[ConceptKind::Condition],
            |c| {
                (
                    c.concept.as_ref(),
                    (c.code.as_ref(), c.also.as_deref()),
                    matches!(
                        c.verification.as_deref(),
                        Some("refuted" | "entered-in-error")
                    ),
                )
            },
        );
        let medications = domain(
            plan,
            (&mut unused, &mut bad_name, "medications"),
            Some((&mut unplaced.medications, &mut elsewhere.medications)),
            record.medications.as_ref(),
            &[ConceptKind::Drug],
            |m| {
                (
                    m.concept.as_ref(),
                    (m.code.as_ref(), m.also.as_deref()),
                    m.status.as_deref() == Some("entered-in-error"),
                )
            },
        );
        let immunizations = domain(
            plan,
            (&mut unused, &mut bad_name, "immunizations"),
            Some((&mut unplaced.immunizations, &mut elsewhere.immunizations)),
            record.immunizations.as_ref(),
            &[ConceptKind::Vaccine],
            |v| {
                (
                    v.concept.as_ref(),
                    (v.code.as_ref(), v.also.as_deref()),
                    matches!(v.status.as_deref(), Some("not-done" | "entered-in-error")),
                )
            },
        );
        let procedures = domain(
            plan,
            (&mut unused, &mut bad_name, "procedures"),
            Some((&mut unplaced.procedures, &mut elsewhere.procedures)),
            record.procedures.as_ref(),
            &[ConceptKind::Procedure],
            |p| {
                (
                    p.concept.as_ref(),
                    (p.code.as_ref(), p.also.as_deref()),
                    matches!(p.status.as_deref(), Some("not-done" | "entered-in-error")),
                )
            },
        );
        let allergies = domain(
            plan,
            (&mut unused, &mut bad_name, "allergies"),
            Some((&mut unplaced.allergies, &mut elsewhere.allergies)),
            record.allergies.as_ref(),
            &[ConceptKind::Drug],
            |a| {
                (
                    a.concept.as_ref(),
                    (a.code.as_ref(), a.also.as_deref()),
                    matches!(
                        a.verification.as_deref(),
                        Some("refuted" | "entered-in-error")
                    ),
                )
            },
        );
        let encounters = domain(
            plan,
            (&mut unused, &mut bad_name, "encounters"),
            Some((&mut unplaced.encounters, &mut elsewhere.encounters)),
            record.encounters.as_ref(),
            &[ConceptKind::Encounter],
            |e| {
                (
                    e.concept.as_ref(),
                    (e.code.as_ref(), e.also.as_deref()),
                    matches!(
                        e.status.as_deref(),
                        Some("planned" | "cancelled" | "entered-in-error")
                    ),
                )
            },
        );
        // Only enrolment is participation: a candidate, a screening or a withdrawal before
        // registration is not a fact of being on a study. A record without a status stays
        // (whether it was an enrolment is then unknown).
        let studies = domain(
            plan,
            (&mut unused, &mut bad_name, "studies"),
            Some((&mut unplaced.studies, &mut elsewhere.studies)),
            record.studies.as_ref(),
            &[ConceptKind::Study],
            |st| {
                (
                    st.concept.as_ref(),
                    (st.code.as_ref(), st.also.as_deref()),
                    st.status
                        .as_deref()
                        .is_some_and(|v| !ENROLLED_STATUSES.contains(&v)),
                )
            },
        );
        let family_history = domain(
            plan,
            (&mut unused, &mut bad_name, "family_history"),
            Some((&mut unplaced.family_history, &mut elsewhere.family_history)),
            record.family_history.as_ref(),
            &[ConceptKind::Condition],
            |fh| {
                (
                    fh.concept.as_ref(),
                    (fh.code.as_ref(), fh.also.as_deref()),
                    fh.status.as_deref() == Some("entered-in-error"),
                )
            },
        );
        let anchors = plan
            .program
            .anchors
            .iter()
            .map(|a| {
                a.fixed
                    .or_else(|| record.anchors.get(a.name.as_str()).copied())
            })
            .collect();
        Facts {
            record,
            anchors,
            observations,
            conditions,
            medications,
            immunizations,
            procedures,
            allergies,
            encounters,
            studies,
            family_history,
            unused,
            unplaced,
            elsewhere,
            bad_name,
        }
    }
}

/// Where a fact that matched no concept stands (see [`Facts::unplaced`]).
enum Placement {
    Irrelevant,
    Unknown,
    Elsewhere,
}

/// Facts eligc cannot place, by domain (see [`Facts::unplaced`]).
#[derive(Default)]
pub(super) struct Unplaced<'r> {
    pub conditions: Vec<&'r ConditionRecord<'r>>,
    pub medications: Vec<&'r MedicationRecord<'r>>,
    pub immunizations: Vec<&'r ImmunizationRecord<'r>>,
    pub procedures: Vec<&'r ProcedureRecord<'r>>,
    pub allergies: Vec<&'r ConditionRecord<'r>>,
    pub encounters: Vec<&'r EncounterRecord<'r>>,
    pub studies: Vec<&'r StudyRecord<'r>>,
    pub family_history: Vec<&'r FamilyHistoryRecord<'r>>,
}

impl Unplaced<'_> {
    /// How many there are.
    pub fn len(&self) -> usize {
        self.conditions.len()
            + self.medications.len()
            + self.immunizations.len()
            + self.procedures.len()
            + self.allergies.len()
            + self.encounters.len()
            + self.studies.len()
            + self.family_history.len()
    }
}

/// A fact's `code` and its `also` codes.
type Codes<'r> = (Option<&'r Text<'r>>, Option<&'r [Text<'r>]>);

/// Resolves one domain's facts; `get` gives a fact's name, code, and whether it is void.
fn domain<'r, T>(
    plan: &Plan,
    (unused, bad_name, section): (&mut usize, &mut Option<(String, String)>, &str),
    mut unplaced: Option<(&mut Vec<&'r T>, &mut Vec<&'r T>)>,
    items: Option<&'r Vec<T>>,
    kinds: &[ConceptKind],
    get: impl Fn(&'r T) -> (Option<&'r Text<'r>>, Codes<'r>, bool),
) -> Option<Vec<(ConceptId, &'r T)>> {
    let items = items?;
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let (concept, (code, also), void) = get(item);
        if void {
            continue;
        }
        let before = out.len();
        plan.each_concept(
            concept.map(Text::as_str),
            code.map(Text::as_str),
            also.unwrap_or_default(),
            kinds,
            |id| out.push((id, item)),
        );
        if out.len() == before {
            match concept {
                Some(name) if bad_name.is_none() => {
                    *bad_name = Some((
                        format!("{section}[{i}].concept"),
                        plan.unknown_name_reason(name, kinds),
                    ))
                }
                Some(_) => {}
                None => {
                    *unused += 1;
                    if let (Some((unknown, elsewhere)), Some(code)) = (unplaced.as_mut(), code) {
                        match plan.placement(code, also.unwrap_or_default(), kinds) {
                            Placement::Unknown => unknown.push(item),
                            Placement::Elsewhere => elsewhere.push(item),
                            Placement::Irrelevant => {}
                        }
                    }
                }
            }
        }
    }
    // Grouped by concept (stably, so record order holds within a concept): a query finds its
    // concept's facts by binary search instead of scanning the whole list.
    out.sort_by_key(|(id, _)| *id);
    Some(out)
}

/// The facts of one concept in a list grouped by [`domain`].
pub(super) fn of_concept<T>(facts: &[(ConceptId, T)], concept: ConceptId) -> &[(ConceptId, T)] {
    let start = facts.partition_point(|(id, _)| *id < concept);
    let rest = facts.get(start..).unwrap_or(&[]);
    let len = rest.partition_point(|(id, _)| *id == concept);
    rest.get(..len).unwrap_or(&[])
}

impl Plan {
    /// Where a fact that matched no concept stands: irrelevant when none of its codes is in
    /// a system the protocol codes `kinds` in; else unknown when no vocabulary knows any of
    /// its codes, or placed elsewhere when one does. An encounter's class (HL7 ActCode) is a
    /// closed, flat list: an encounter whose class no concept lists is placed by it (an
    /// ambulatory visit is no inpatient stay and no ICU admission, whatever its type code).
    /// A study's identifiers are a flat registry list: a study whose identifiers no concept
    /// lists is another study (one without any identifier might be any).
    fn placement(&self, code: &str, also: &[Text], kinds: &[ConceptKind]) -> Placement {
        if kinds == [ConceptKind::Study] {
            let unidentified = std::iter::once(code)
                .chain(also.iter().map(Text::as_str))
                .all(|c| c.starts_with(crate::facts::fhir::UNIDENTIFIED_STUDY));
            return if unidentified {
                Placement::Unknown
            } else {
                Placement::Irrelevant
            };
        }
        let mut relevant = false;
        let mut known = false;
        for code in std::iter::once(code).chain(also.iter().map(Text::as_str)) {
            let Ok((system, value)) = parse_code(code) else {
                continue;
            };
            if system == CodeSystem::ActCode {
                return Placement::Irrelevant;
            }
            known |= self
                .vocabulary
                .as_ref()
                .is_some_and(|v| v.knows(system, value));
            relevant |= kinds.iter().any(|k| self.systems.contains(&(*k, system)));
            // An OMOP fact without a concept eligc can name might be any concept of its kind.
            // So might a FHIR fact that names what it is in no way eligc can read.
            relevant |= system == CodeSystem::Url
                && [crate::facts::omop::UNMAPPED, crate::facts::fhir::UNCODED]
                    .iter()
                    .any(|p| value.strip_prefix(p).is_some_and(|v| v.starts_with('|')));
        }
        match (relevant, known) {
            (false, _) => Placement::Irrelevant,
            (true, false) => Placement::Unknown,
            (true, true) => Placement::Elsewhere,
        }
    }

    /// Whether a coded attribute value that matched no concept of `kind` might still be one:
    /// its code is in a system the protocol codes `kind` in, and no vocabulary knows it.
    pub(super) fn unplaceable(&self, code: &str, kind: ConceptKind) -> bool {
        matches!(self.placement(code, &[], &[kind]), Placement::Unknown)
    }

    /// Why a fact's `concept` name does not resolve, with "did you mean".
    fn unknown_name_reason(&self, name: &str, kinds: &[ConceptKind]) -> String {
        let wanted = kinds
            .iter()
            .map(|k| k.keyword())
            .collect::<Vec<_>>()
            .join(" or ");
        if let Some(c) = self
            .by_name
            .get(name)
            .and_then(|id| self.program.concept(*id))
        {
            return format!(
                "`{name}` is a {} in the protocol's vocabulary, not a {wanted}",
                c.kind.keyword()
            );
        }
        let candidates = self
            .program
            .concepts
            .iter()
            .filter(|c| kinds.contains(&c.kind))
            .map(|c| c.name.as_str());
        let hint = crate::diagnostic::did_you_mean(name, candidates)
            .map(|h| format!("; {h}"))
            .unwrap_or_default();
        format!(
            "`{name}` is not a {wanted} in the protocol's vocabulary{hint} (facts may also be given by `code`)"
        )
    }

    /// Calls `found` with each concept of the given kinds that a fact names, by vocabulary
    /// name or by code (its `code` or any of its `also` codes; each concept once). ICD-10 and
    /// ATC are hierarchies written as prefixes, so a recorded code also matches the
    /// vocabulary's codes for its ancestors (`C50.911` matches `C50`).
    pub(super) fn each_concept(
        &self,
        name: Option<&str>,
        code: Option<&str>,
        also: &[Text],
        kinds: &[ConceptKind],
        mut found: impl FnMut(ConceptId),
    ) {
        let of_kind = |id: ConceptId| {
            self.program
                .concept(id)
                .is_some_and(|c| kinds.contains(&c.kind))
        };
        if let Some(name) = name {
            if let Some(id) = self.by_name.get(name).copied().filter(|id| of_kind(*id)) {
                found(id);
            }
            return;
        }
        let Some(code) = code else {
            return;
        };
        let mut seen: Vec<ConceptId> = Vec::new();
        for code in std::iter::once(code).chain(also.iter().map(Text::as_str)) {
            let Ok((system, value)) = parse_code(code) else {
                continue;
            };
            let Some(codes) = self.by_code.get(&system) else {
                continue;
            };
            let mut emit = |ids: &[ConceptId]| {
                for id in ids.iter().copied().filter(|id| of_kind(*id)) {
                    if !seen.contains(&id) {
                        seen.push(id);
                        found(id);
                    }
                }
            };
            let hierarchical = matches!(system, CodeSystem::Icd10 | CodeSystem::Atc);
            let shortest = if system == CodeSystem::Icd10 { 3 } else { 1 };
            let mut prefix = value;
            loop {
                if let Some(ids) = codes.get(prefix) {
                    emit(ids);
                }
                if !hierarchical || prefix.len() <= shortest {
                    break;
                }
                let Some((cut, _)) = prefix.char_indices().last() else {
                    break;
                };
                prefix = prefix.get(..cut).unwrap_or("").trim_end_matches('.');
            }
        }
    }
}
