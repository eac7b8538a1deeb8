//! A patient record resolved against the protocol's vocabulary: every fact gets the concept
//! ids it stands for (by name or by code). Facts the vocabulary does not name are counted,
//! not dropped silently; facts marked entered-in-error, refuted or not-done are not facts.

use crate::ast::ConceptKind;
use crate::facts::native::{
    ConditionRecord, ImmunizationRecord, MedicationRecord, ObservationRecord, ProcedureRecord,
};
use crate::facts::{PatientRecord, native::parse_code};
use crate::program::ConceptId;

use super::Plan;

/// A record's facts by concept. `None` domains were not recorded at all.
pub(super) struct Facts<'r> {
    pub record: &'r PatientRecord,
    pub observations: Option<Vec<(ConceptId, &'r ObservationRecord)>>,
    pub conditions: Option<Vec<(ConceptId, &'r ConditionRecord)>>,
    pub medications: Option<Vec<(ConceptId, &'r MedicationRecord)>>,
    pub immunizations: Option<Vec<(ConceptId, &'r ImmunizationRecord)>>,
    pub procedures: Option<Vec<(ConceptId, &'r ProcedureRecord)>>,
    /// Facts whose concept or code the vocabulary does not have (of the right kind).
    pub unused: usize,
}

impl<'r> Facts<'r> {
    pub(super) fn resolve(plan: &Plan, record: &'r PatientRecord) -> Facts<'r> {
        let mut unused = 0;
        let observations = domain(
            plan,
            &mut unused,
            record.observations.as_ref(),
            &[ConceptKind::Observation, ConceptKind::Score],
            |o| (o.concept.as_ref(), o.code.as_ref(), false),
        );
        let conditions = domain(
            plan,
            &mut unused,
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
            &mut unused,
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
            &mut unused,
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
            &mut unused,
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
        Facts {
            record,
            observations,
            conditions,
            medications,
            immunizations,
            procedures,
            unused,
        }
    }
}

/// Resolves one domain's facts; `get` gives a fact's name, code, and whether it is void.
fn domain<'r, T>(
    plan: &Plan,
    unused: &mut usize,
    items: Option<&'r Vec<T>>,
    kinds: &[ConceptKind],
    get: impl Fn(&'r T) -> (Option<&'r String>, Option<&'r String>, bool),
) -> Option<Vec<(ConceptId, &'r T)>> {
    let items = items?;
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let (concept, code, void) = get(item);
        if void {
            continue;
        }
        let before = out.len();
        for id in plan.concepts_for(concept.map(String::as_str), code.map(String::as_str), kinds) {
            out.push((id, item));
        }
        if out.len() == before {
            *unused += 1;
        }
    }
    Some(out)
}

impl Plan {
    /// The concepts of the given kinds that a fact names, by vocabulary name or code.
    fn concepts_for(
        &self,
        name: Option<&str>,
        code: Option<&str>,
        kinds: &[ConceptKind],
    ) -> Vec<ConceptId> {
        let of_kind = |id: &ConceptId| {
            self.program
                .concept(*id)
                .is_some_and(|c| kinds.contains(&c.kind))
        };
        match (name, code) {
            (Some(name), _) => self
                .by_name
                .get(name)
                .filter(|id| of_kind(id))
                .map(|id| vec![*id])
                .unwrap_or_default(),
            (None, Some(code)) => match parse_code(code) {
                Ok((system, value)) => self
                    .by_code
                    .get(&(system, value.to_string()))
                    .map(|ids| ids.iter().copied().filter(of_kind).collect())
                    .unwrap_or_default(),
                Err(_) => Vec::new(),
            },
            (None, None) => Vec::new(),
        }
    }
}
