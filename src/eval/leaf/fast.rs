//! The commonest event check, `condition X within WINDOW [where ...]`, evaluated without
//! explaining: one pass over the facts grouped under the query's concepts, stopping at the
//! first that certainly matches, without the list of normalised events the general path
//! ([`Ctx::event`]) builds for its explanation. It gives the same truth as the general path
//! (tests/eval_paths.rs evaluates every protocol and sample record both ways).

use super::{
    Ctx, Event, condition_event, encounter_event, family_event, immunization_event,
    medication_event, procedure_event, study_event,
};
use crate::ast::EventKind;
use crate::eval::facts::of_concept;
use crate::eval::logic::Truth;
use crate::program::{ConceptId, EventQuery};

impl Ctx<'_> {
    /// Whether [`Ctx::event_fast`] can evaluate this query: one without `any KIND`,
    /// `except` or `taken for` (those need every record, or the events' runs).
    pub(super) fn fast_event(q: &EventQuery) -> bool {
        !q.every && q.except.is_empty() && q.taken_for.is_none()
    }

    /// The truth of an event check ([`Ctx::fast_event`] must hold): some fact of the query's
    /// concepts in the window with its filters, or a fact eligc cannot place that might be one.
    pub(super) fn event_fast(&self, q: &EventQuery) -> Truth {
        let f = self.facts;
        match q.kind {
            EventKind::Condition => self.any_event(
                q,
                f.conditions.as_deref(),
                (&f.unplaced.conditions, &f.elsewhere.conditions),
                condition_event,
            ),
            EventKind::Allergy => self.any_event(
                q,
                f.allergies.as_deref(),
                (&f.unplaced.allergies, &f.elsewhere.allergies),
                condition_event,
            ),
            EventKind::Medication => self.any_event(
                q,
                f.medications.as_deref(),
                (&f.unplaced.medications, &f.elsewhere.medications),
                medication_event,
            ),
            EventKind::Immunization => self.any_event(
                q,
                f.immunizations.as_deref(),
                (&f.unplaced.immunizations, &f.elsewhere.immunizations),
                immunization_event,
            ),
            EventKind::Procedure => self.any_event(
                q,
                f.procedures.as_deref(),
                (&f.unplaced.procedures, &f.elsewhere.procedures),
                procedure_event,
            ),
            EventKind::Encounter => self.any_event(
                q,
                f.encounters.as_deref(),
                (&f.unplaced.encounters, &f.elsewhere.encounters),
                encounter_event,
            ),
            EventKind::Study => self.any_event(
                q,
                f.studies.as_deref(),
                (&f.unplaced.studies, &f.elsewhere.studies),
                study_event,
            ),
            EventKind::FamilyHistory => self.any_event(
                q,
                f.family_history.as_deref(),
                (&f.unplaced.family_history, &f.elsewhere.family_history),
                family_event,
            ),
        }
    }

    /// One domain's part of [`Ctx::event_fast`]: as [`Ctx::events`] then [`Ctx::event`],
    /// the placed facts of the concepts, then (unless [`Ctx::without_unplaced`] is set) the
    /// facts eligc cannot place, and those the vocabulary places elsewhere when a concept is
    /// one it cannot place under.
    fn any_event<'r, T>(
        &self,
        q: &EventQuery,
        placed: Option<&[(ConceptId, &'r T)]>,
        (unknown, elsewhere): (&[&'r T], &[&'r T]),
        event: impl Fn(ConceptId, &'r T, Option<&'r str>) -> Event<'r>,
    ) -> Truth {
        // No list of this kind in the record: unknown, as the general path says.
        let Some(placed) = placed else {
            return Truth::Unknown;
        };
        let Ok(span) = self.span(&q.window) else {
            return Truth::Unknown;
        };
        let one = |e: &Event<'_>| Self::in_window(e, &span).and(self.filters(e, &q.filters));
        let mut value = Truth::False;
        for concept in &q.concepts {
            for (id, fact) in of_concept(placed, *concept) {
                value = value.or(one(&event(*id, fact, None)));
                if value == Truth::True {
                    return value;
                }
            }
        }
        let with_unplaced = !self.without_unplaced.get();
        let with_elsewhere = with_unplaced && q.concepts.iter().any(|c| !self.plan.anchored(*c));
        // Such a fact stands for no concept; only that it is unplaced counts here (its code
        // is for explanations).
        let none = ConceptId(u32::MAX);
        let unplaced = unknown
            .iter()
            .filter(|_| with_unplaced)
            .chain(elsewhere.iter().filter(|_| with_elsewhere));
        for fact in unplaced {
            value = value.or(one(&event(none, fact, Some(""))));
            if value == Truth::True {
                return value;
            }
        }
        value
    }
}
