//! A patient record resolved against the protocol's vocabulary: every fact gets the concept
//! ids it stands for (by name or by code). Facts the vocabulary does not name are counted,
//! not dropped silently; facts marked entered-in-error, refuted or not-done are not facts.

use crate::ast::ConceptKind;
use crate::facts::native::{
    ConditionRecord, ImmunizationRecord, MedicationRecord, ObservationRecord, ProcedureRecord,
};
use crate::facts::{PatientRecord, native::parse_code};
use crate::program::{CodeSystem, ConceptId};

use super::Plan;

/// A record's facts by concept. `None` domains were not recorded at all.
pub(super) struct Facts<'r> {
    pub record: &'r PatientRecord,
    /// The record's date for each of the protocol's anchors, by anchor id.
    pub anchors: Vec<Option<chrono::NaiveDate>>,
    pub observations: Option<Vec<(ConceptId, &'r ObservationRecord)>>,
    pub conditions: Option<Vec<(ConceptId, &'r ConditionRecord)>>,
    pub medications: Option<Vec<(ConceptId, &'r MedicationRecord)>>,
    pub immunizations: Option<Vec<(ConceptId, &'r ImmunizationRecord)>>,
    pub procedures: Option<Vec<(ConceptId, &'r ProcedureRecord)>>,
    /// Facts whose code the vocabulary does not have (of the right kind).
    pub unused: usize,
    /// The first fact that names (by `concept`) something the vocabulary does not have:
    /// its JSON path and the reason. Such a record is rejected, since a misspelt name would
    /// otherwise silently drop the fact.
    pub bad_name: Option<(String, String)>,
}

impl<'r> Facts<'r> {
    pub(super) fn resolve(plan: &Plan, record: &'r PatientRecord) -> Facts<'r> {
        let mut unused = 0;
        let mut bad_name = None;
        let observations = domain(
            plan,
            (&mut unused, &mut bad_name, "observations"),
            record.observations.as_ref(),
            &[ConceptKind::Observation, ConceptKind::Score],
            |o| (o.concept.as_ref(), o.code.as_ref(), false),
        );
        let conditions = domain(
            plan,
            (&mut unused, &mut bad_name, "conditions"),
            record.conditions.as_ref(),
            &[ConceptKind::Condition],
            |c| {
                (
                    c.concept.as_ref(),
                    c.code.as_ref(),
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
            record.medications.as_ref(),
            &[ConceptKind::Drug],
            |m| {
                (
                    m.concept.as_ref(),
                    m.code.as_ref(),
                    m.status.as_deref() == Some("entered-in-error"),
                )
            },
        );
        let immunizations = domain(
            plan,
            (&mut unused, &mut bad_name, "immunizations"),
            record.immunizations.as_ref(),
            &[ConceptKind::Vaccine],
            |v| {
                (
                    v.concept.as_ref(),
                    v.code.as_ref(),
                    matches!(v.status.as_deref(), Some("not-done" | "entered-in-error")),
                )
            },
        );
        let procedures = domain(
            plan,
            (&mut unused, &mut bad_name, "procedures"),
            record.procedures.as_ref(),
            &[ConceptKind::Procedure],
            |p| {
                (
                    p.concept.as_ref(),
                    p.code.as_ref(),
                    matches!(p.status.as_deref(), Some("not-done" | "entered-in-error")),
                )
            },
        );
        let anchors = plan
            .program
            .anchors
            .iter()
            .map(|a| record.anchors.get(&a.name).copied())
            .collect();
        Facts {
            record,
            anchors,
            observations,
            conditions,
            medications,
            immunizations,
            procedures,
            unused,
            bad_name,
        }
    }
}

/// Resolves one domain's facts; `get` gives a fact's name, code, and whether it is void.
fn domain<'r, T>(
    plan: &Plan,
    (unused, bad_name, section): (&mut usize, &mut Option<(String, String)>, &str),
    items: Option<&'r Vec<T>>,
    kinds: &[ConceptKind],
    get: impl Fn(&'r T) -> (Option<&'r String>, Option<&'r String>, bool),
) -> Option<Vec<(ConceptId, &'r T)>> {
    let items = items?;
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let (concept, code, void) = get(item);
        if void {
            continue;
        }
        let before = out.len();
        plan.each_concept(
            concept.map(String::as_str),
            code.map(String::as_str),
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
                None => *unused += 1,
            }
        }
    }
    Some(out)
}

impl Plan {
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
    /// name or by code. ICD-10 and ATC are hierarchies written as prefixes, so a recorded
    /// code also matches the vocabulary's codes for its ancestors (`C50.911` matches `C50`).
    fn each_concept(
        &self,
        name: Option<&str>,
        code: Option<&str>,
        kinds: &[ConceptKind],
        mut found: impl FnMut(ConceptId),
    ) {
        let of_kind = |id: ConceptId| {
            self.program
                .concept(id)
                .is_some_and(|c| kinds.contains(&c.kind))
        };
        match (name, code) {
            (Some(name), _) => {
                if let Some(id) = self.by_name.get(name).copied().filter(|id| of_kind(*id)) {
                    found(id);
                }
            }
            (None, Some(code)) => {
                let Ok((system, value)) = parse_code(code) else {
                    return;
                };
                let Some(codes) = self.by_code.get(&system) else {
                    return;
                };
                let mut seen: [Option<ConceptId>; 4] = [None; 4];
                let mut emit = |ids: &[ConceptId]| {
                    for id in ids.iter().copied().filter(|id| of_kind(*id)) {
                        if !seen.contains(&Some(id)) {
                            if let Some(slot) = seen.iter_mut().find(|s| s.is_none()) {
                                *slot = Some(id);
                            }
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
            (None, None) => {}
        }
    }
}
