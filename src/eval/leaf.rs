//! Elementary tests against a patient's facts: each gives a [`Truth`] and, when explaining,
//! the facts and dates that decided it or what is missing.

use std::cmp::Ordering;

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::facts::Facts;
use super::logic::Truth;
use super::time::{self, Span, WindowError};
use super::{Check, Part, Plan};
use crate::ast::{CmpOp, ConceptKind, Direction, EventKind, EventSelect, RefBound, SelectMode};
use crate::program::{
    AnchorId, Concept, ConceptId, Cond, CondKind, DoseQuery, Dur, EventQuery, Filter, Qualitative,
    RangeTest, ReferenceRange, Threshold, ValueTest, Window,
};
use crate::units::Unit;

/// What evaluation needs: the plan and one patient's facts.
pub(super) struct Ctx<'a> {
    pub plan: &'a Plan,
    /// The date the record is known up to, and where it comes from: ongoing facts last
    /// until then, not forever (see [`Plan::with_as_of`]).
    pub as_of: (NaiveDate, &'static str),
    pub facts: &'a Facts<'a>,
    /// Windows already placed in time for this patient: a protocol uses a handful of
    /// distinct windows across dozens of checks.
    pub spans: std::cell::RefCell<Vec<(Window, Span)>>,
    /// The same for the program's own windows, by slot ([`Plan::window_slot`]).
    pub slots: Vec<std::cell::Cell<Option<Span>>>,
    /// Set when a check is unknown only because of facts eligc cannot place (read and
    /// reset per criterion, for the funnel).
    pub unplaced_hit: std::cell::Cell<bool>,
    /// While set, unplaced facts are left out (to tell whether they decided a check).
    pub without_unplaced: std::cell::Cell<bool>,
}

/// Where checks are recorded, when explaining.
pub(super) struct Trace<'t> {
    pub checks: Option<&'t mut Vec<Check>>,
    pub part: Part,
    pub via: Option<String>,
    /// Under an odd number of `not`s: checks are shown negated, as the protocol reads.
    pub negated: bool,
    /// The and/or structure recorded so far at the current level (when explaining).
    pub nodes: Vec<super::Node>,
}

/// Builds an explanation string only when explaining.
macro_rules! say {
    ($explain:expr, $($arg:tt)*) => {
        if $explain { format!($($arg)*) } else { String::new() }
    };
}

type Outcome = (Truth, String);

mod arith;
mod fast;

/// The latest result (among results of the same day, the one that comes last) or the
/// earliest (among those of the same day, the one that comes first).
fn pick<T>(
    mode: SelectMode,
    results: impl Iterator<Item = T>,
    date: impl Fn(&T) -> NaiveDate,
) -> Option<T> {
    if mode == SelectMode::Earliest {
        results.reduce(|a, b| if date(&b) < date(&a) { b } else { a })
    } else {
        results.reduce(|a, b| if date(&b) >= date(&a) { b } else { a })
    }
}

/// A dated fact of any event kind, normalised.
struct Event<'r> {
    concept: ConceptId,
    id: Option<&'r str>,
    /// First day, if known.
    start: Option<NaiveDate>,
    /// Last day: `Known`, `Ongoing`, or ended at an unknown date.
    end: End,
    record: Attributes<'r>,
    /// For a fact eligc cannot place (its `concept` is then meaningless): its code. Such a
    /// fact might be any concept of its kind, so it counts as at most unknown.
    unplaced: Option<&'r str>,
    /// An unplaced fact the vocabulary knows but places elsewhere: perhaps only a concept
    /// whose codes the vocabulary lacks.
    elsewhere: bool,
    /// What the record says its code is, for people.
    display: Option<&'r str>,
    /// The record's own code, for when `except` finds it cannot place it.
    code: Option<&'r str>,
    /// The record's address: the same record placed under several concepts (or taken by
    /// `any KIND`) has one, so `except` can leave it out.
    addr: usize,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum End {
    Known(NaiveDate),
    Ongoing,
    Unknown,
}

enum Attributes<'r> {
    Condition(&'r crate::facts::native::ConditionRecord<'r>),
    Medication(&'r crate::facts::native::MedicationRecord<'r>),
    Immunization,
    Procedure(&'r crate::facts::native::ProcedureRecord<'r>),
    Encounter(&'r crate::facts::native::EncounterRecord<'r>),
    Study(&'r crate::facts::native::StudyRecord<'r>),
    FamilyHistory(&'r crate::facts::native::FamilyHistoryRecord<'r>),
}

impl Ctx<'_> {
    fn concept(&self, id: ConceptId) -> Option<&Concept> {
        self.plan.program.concept(id)
    }

    fn label(&self, id: ConceptId) -> &str {
        self.concept(id).map_or("?", |c| c.label.as_str())
    }

    /// The label of one concept, or of the set named `target`.
    fn target_label<'s>(&'s self, concepts: &[ConceptId], target: &'s str) -> &'s str {
        match concepts {
            [one] if self.concept(*one).is_some_and(|c| c.name == target) => self.label(*one),
            _ => self
                .plan
                .program
                .sets
                .iter()
                .find(|s| s.name == target)
                .map_or(target, |s| s.label.as_str()),
        }
    }

    fn anchor_date(&self, id: AnchorId) -> Result<NaiveDate, WindowError> {
        if let Some((select, query)) = self.plan.program.anchor(id).and_then(|a| a.event.as_ref()) {
            return self.event_anchor(id, *select, query);
        }
        self.facts
            .anchors
            .get(id.0 as usize)
            .copied()
            .flatten()
            .ok_or_else(|| {
                WindowError::MissingAnchor(
                    self.plan
                        .program
                        .anchor(id)
                        .map_or_else(|| "?".to_string(), |a| a.name.clone()),
                )
            })
    }

    fn span(&self, window: &Window) -> Result<Span, String> {
        // While unplaced facts are left out (to tell whether they decided a check), an anchor
        // taken from the record may have another date, or none: such spans are neither read
        // from nor kept in the cache, else a later check would see the window without them.
        let cache = !self.without_unplaced.get();
        let slot = self
            .plan
            .window_slot(window)
            .and_then(|s| self.slots.get(s));
        let cached = match slot {
            Some(slot) => slot.get().filter(|_| cache),
            None => self
                .spans
                .try_borrow()
                .ok()
                .filter(|_| cache)
                .and_then(|spans| spans.iter().find(|(w, _)| w == window).map(|(_, s)| *s)),
        };
        if let Some(span) = cached {
            return Ok(span);
        }
        let span = time::resolve(window, &|a| self.anchor_date(a)).map_err(|e| match e {
            WindowError::MissingAnchor(name) => format!("the record has no `{name}` date"),
            WindowError::OutOfRange => "the window falls outside the calendar".to_string(),
            WindowError::NoEvent => "the event it is counted from is not in the record".to_string(),
            WindowError::UnknownEvent(reason) => reason,
        })?;
        if cache {
            match slot {
                Some(slot) => slot.set(Some(span)),
                None => {
                    if let Ok(mut spans) = self.spans.try_borrow_mut() {
                        spans.push((*window, span));
                    }
                }
            }
        }
        Ok(span)
    }

    /// Evaluates a leaf condition.
    pub(super) fn leaf(&self, c: &Cond, explain: bool) -> Outcome {
        let record = self.facts.record;
        match &c.kind {
            CondKind::Attested(id) => {
                let name = self.concept(*id).map_or("", |c| c.name.as_str());
                match record.attestations.get(name).and_then(|a| a.value()) {
                    Some(v) => (Truth::from_bool(v), say!(explain, "recorded as {v}")),
                    None => (
                        Truth::Unknown,
                        say!(explain, "attestation `{name}` not yet recorded"),
                    ),
                }
            }
            CondKind::SexIs(sex) => match record.sex.and_then(|s| s.known()) {
                Some(s) => (
                    Truth::from_bool(s == *sex),
                    say!(explain, "recorded sex: {}", format!("{s:?}").to_lowercase()),
                ),
                None => (Truth::Unknown, say!(explain, "sex not recorded")),
            },
            CondKind::Age {
                anchor,
                op,
                duration,
            } => self.age(*anchor, *op, *duration, explain),
            CondKind::Observation {
                mode,
                concepts,
                target,
                window,
                test,
            } => self.observation(*mode, concepts, target, window, test, explain),
            CondKind::Arithmetic {
                value,
                op,
                threshold,
                unit,
            } => self.arithmetic(value, *op, *threshold, unit, explain),
            CondKind::CountResults {
                concept,
                window,
                op,
                n,
            } => {
                let Some(obs) = &self.facts.observations else {
                    return (Truth::Unknown, say!(explain, "no observations recorded"));
                };
                let span = match self.span(window) {
                    Ok(s) => s,
                    Err(reason) => return (Truth::Unknown, reason),
                };
                let count = obs
                    .iter()
                    .filter(|(id, o)| id == concept && span.contains(o.date))
                    .count();
                let count = Decimal::from(count);
                (
                    Truth::from_bool(op.holds(count.cmp(n))),
                    say!(
                        explain,
                        "{count} {} result(s) {}{}",
                        self.label(*concept),
                        span.describe(),
                        if count.is_zero() {
                            self.completed_note("observations")
                        } else {
                            ""
                        }
                    ),
                )
            }
            CondKind::Event(query) => self.placing(query.kind, explain, |x| {
                if !x && Self::fast_event(query) {
                    (self.event_fast(query), String::new())
                } else {
                    self.event(query, x)
                }
            }),
            CondKind::SelectEvent { select, query } => self.placing(query.kind, explain, |x| {
                self.select_event(*select, query, x)
            }),
            CondKind::CountEvents { query, op, n } => self.placing(query.kind, explain, |x| {
                self.count_events(query, *op, *n, x)
            }),
            CondKind::CountDistinct { query, op, n } => self.placing(query.kind, explain, |x| {
                self.count_distinct(query, *op, *n, x)
            }),
            CondKind::Dose(dose) => {
                self.placing(EventKind::Medication, explain, |x| self.dose(dose, x))
            }
            CondKind::And(_) | CondKind::Or(_) | CondKind::Not(_) | CondKind::Define(_) => {
                (Truth::Unknown, String::new())
            }
        }
    }

    fn age(&self, anchor: AnchorId, op: CmpOp, duration: Dur, explain: bool) -> Outcome {
        let Some(birth) = self.facts.record.birth_date else {
            return (Truth::Unknown, say!(explain, "birth date not recorded"));
        };
        let at = match self.anchor_date(anchor) {
            Ok(d) => d,
            Err(_) => {
                let name = self
                    .plan
                    .program
                    .anchor(anchor)
                    .map_or("?", |a| a.name.as_str());
                return (
                    Truth::Unknown,
                    say!(explain, "the record has no `{name}` date"),
                );
            }
        };
        match time::whole_units(birth, at, duration.unit) {
            Some(age) => {
                let holds = op.holds(age.cmp(&i64::from(duration.amount)));
                (
                    Truth::from_bool(holds),
                    say!(
                        explain,
                        "born {birth}: {age} {} on {at}",
                        duration.unit.word(age != 1)
                    ),
                )
            }
            None => (
                Truth::Unknown,
                say!(explain, "age cannot be computed from {birth} to {at}"),
            ),
        }
    }

    fn observation(
        &self,
        mode: SelectMode,
        concepts: &[ConceptId],
        target: &str,
        window: &Window,
        test: &ValueTest,
        explain: bool,
    ) -> Outcome {
        // Named only for explanations: finding a set's label compares names.
        let label = || {
            if explain {
                self.target_label(concepts, target)
            } else {
                ""
            }
        };
        let Some(obs) = &self.facts.observations else {
            return (Truth::Unknown, say!(explain, "no observations recorded"));
        };
        let span = match self.span(window) {
            Ok(s) => s,
            Err(reason) => return (Truth::Unknown, reason),
        };
        // Iterators, not vectors: this runs for every lab test of every patient. The results
        // of a set's members are taken together, each tested as its own member's.
        let all = || {
            concepts
                .iter()
                .flat_map(|c| super::facts::of_concept(obs, *c).iter())
                .map(|(id, o)| (*id, *o))
        };
        let inside = || all().filter(|(_, o)| span.contains(o.date));
        let none_inside = || {
            if !explain {
                return String::new();
            }
            let latest_outside = all().map(|(_, o)| o.date).max();
            match latest_outside {
                Some(d) => say!(
                    explain,
                    "no {} result {}; the latest is from {d}",
                    label(),
                    span.describe()
                ),
                None => say!(
                    explain,
                    "no {} result in the record{}",
                    label(),
                    self.completed_note("observations")
                ),
            }
        };
        if *test == ValueTest::Exists {
            let count = inside().count();
            let exists = count > 0;
            let value = if mode == SelectMode::No {
                !exists
            } else {
                exists
            };
            let detail = if exists {
                say!(
                    explain,
                    "{} {} result(s) {}",
                    count,
                    label(),
                    span.describe()
                )
            } else {
                none_inside()
            };
            return (Truth::from_bool(value), detail);
        }
        match mode {
            // The checker makes an average a computed value (see `arith`).
            SelectMode::Average => (
                Truth::Unknown,
                say!(explain, "an average is compared as a computed value"),
            ),
            SelectMode::Latest | SelectMode::Earliest => {
                // A plain loop, as `pick` over `inside()` (the same ties: the last of the
                // latest, the first of the earliest), without the iterator adapters.
                let mut chosen: Option<(ConceptId, &crate::facts::native::ObservationRecord)> =
                    None;
                for c in concepts {
                    for (id, o) in super::facts::of_concept(obs, *c) {
                        if !span.contains(o.date) {
                            continue;
                        }
                        let better = chosen.is_none_or(|(_, best)| {
                            if mode == SelectMode::Earliest {
                                o.date < best.date
                            } else {
                                o.date >= best.date
                            }
                        });
                        if better {
                            chosen = Some((*id, *o));
                        }
                    }
                }
                let Some((concept, one)) = chosen else {
                    return (Truth::Unknown, none_inside());
                };
                self.test(concept, one, test, explain)
            }
            SelectMode::Any | SelectMode::All | SelectMode::No => {
                if inside().next().is_none() {
                    return (Truth::Unknown, none_inside());
                }
                let results: Vec<Outcome> = inside()
                    .map(|(concept, o)| self.test(concept, o, test, explain))
                    .collect();
                let value = match mode {
                    SelectMode::All => Truth::all(results.iter().map(|r| r.0)),
                    SelectMode::No => Truth::any(results.iter().map(|r| r.0)).not(),
                    _ => Truth::any(results.iter().map(|r| r.0)),
                };
                let detail = say!(
                    explain,
                    "{}",
                    results
                        .iter()
                        .map(|(t, d)| format!("{} {d}", t.symbol()))
                        .collect::<Vec<_>>()
                        .join("; ")
                );
                (value, detail)
            }
        }
    }

    /// Tests one result.
    fn test(
        &self,
        concept: ConceptId,
        o: &crate::facts::native::ObservationRecord,
        test: &ValueTest,
        explain: bool,
    ) -> Outcome {
        let Some(c) = self.concept(concept) else {
            return (Truth::Unknown, String::new());
        };
        let at = say!(
            explain,
            " on {}{}",
            o.date,
            o.id.as_deref()
                .map(|i| format!(" [{i}]"))
                .unwrap_or_default()
        );
        match test {
            ValueTest::Exists => (Truth::True, at),
            ValueTest::Qualitative { negated, value } => {
                let known = o.result.as_deref().and_then(qualitative);
                // The result's word decides; else the laboratory's interpretation, when it
                // speaks of the same thing (positive/negative, or normal/abnormal).
                if let Some(q) = known {
                    let word = o.result.as_deref().unwrap_or_default();
                    return match q.answers(*value) {
                        Some(holds) => (
                            Truth::from_bool(holds != *negated),
                            say!(explain, "{} {word}{at}", c.label),
                        ),
                        None => (
                            Truth::Unknown,
                            say!(
                                explain,
                                "{} {word}{at}, which does not say whether it is {}",
                                c.label,
                                value.word()
                            ),
                        ),
                    };
                }
                let reading = o.interpretation.as_deref();
                if let Some(t) = reading.and_then(|r| interpreted_as(r, *value)) {
                    let shown = self.shown_value(c, o);
                    return (
                        if *negated { t.not() } else { t },
                        say!(
                            explain,
                            "{shown} interpreted as {}{at}",
                            reading.unwrap_or_default()
                        ),
                    );
                }
                match (&o.result, o.value) {
                    (Some(word), _) => (
                        Truth::Unknown,
                        say!(
                            explain,
                            "{} result `{word}` is not a known qualitative result{at}",
                            c.label
                        ),
                    ),
                    (None, Some(v)) => (
                        Truth::Unknown,
                        say!(
                            explain,
                            "{} {v} is a number, not a qualitative result{at}",
                            c.label
                        ),
                    ),
                    (None, None) => (
                        Truth::Unknown,
                        say!(
                            explain,
                            "{} interpreted as {}, which does not say whether it is {}{at}",
                            c.label,
                            reading.unwrap_or("nothing"),
                            value.word()
                        ),
                    ),
                }
            }
            ValueTest::Compare { op, threshold } => {
                let (value, unit) = match self.quantity(c, o) {
                    Ok(v) => v,
                    Err(reason) => return (Truth::Unknown, say!(explain, "{reason} (result{at})")),
                };
                let comparator = o.comparator.as_deref();
                let shown = say!(
                    explain,
                    "{} {}{value} {}",
                    c.label,
                    comparator.unwrap_or(""),
                    unit.text()
                );
                let ordering = match threshold {
                    Threshold::Quantity { .. } => threshold
                        .order(
                            value,
                            &unit,
                            &ReferenceRange::default(),
                            c.molar_mass.as_ref(),
                        )
                        .map_err(|e| e.to_string()),
                    Threshold::RefMultiple { bound, .. } | Threshold::RefOffset { bound, .. } => {
                        self.against_limit(c, o, value, &unit, threshold, *bound)
                    }
                };
                match ordering {
                    Ok(ord) if explain => {
                        let detail = match threshold {
                            Threshold::RefMultiple { factor, bound } => format!(
                                "{shown}{}{at} ({}; limit {factor} x {})",
                                self.ratio(c, o, value, &unit, *factor, *bound),
                                self.limit_text(c, o, *bound),
                                bound.keyword()
                            ),
                            Threshold::RefOffset { bound, .. } => format!(
                                "{shown}{at} ({}; limit {})",
                                self.limit_text(c, o, *bound),
                                threshold.text()
                            ),
                            Threshold::Quantity {
                                value: limit,
                                unit: limit_unit,
                            } => format!(
                                "{shown}{}{at}",
                                self.converted(c, value, &unit, *limit, limit_unit)
                            ),
                        };
                        let t = bounded(*op, comparator, ord);
                        let why = if t == Truth::Unknown {
                            ": a bound, on both sides of the threshold"
                        } else {
                            ""
                        };
                        (t, format!("{detail}{why}"))
                    }
                    Ok(ord) => (bounded(*op, comparator, ord), String::new()),
                    Err(reason) => (Truth::Unknown, say!(explain, "{shown}{at}: {reason}")),
                }
            }
            ValueTest::Range { negated, test } => {
                let flip = |t: Truth| if *negated { t.not() } else { t };
                let reading = o
                    .interpretation
                    .as_deref()
                    .and_then(|r| range_reading(r, *test));
                let (value, unit) = match self.quantity(c, o) {
                    Ok(v) => v,
                    Err(reason) => {
                        return match reading {
                            Some(t) => (
                                flip(t),
                                say!(
                                    explain,
                                    "{} interpreted as {}{at}",
                                    self.shown_value(c, o),
                                    o.interpretation.as_deref().unwrap_or_default()
                                ),
                            ),
                            None => (Truth::Unknown, say!(explain, "{reason} (result{at})")),
                        };
                    }
                };
                let comparator = o.comparator.as_deref();
                let shown = say!(
                    explain,
                    "{} {}{value} {}{at}",
                    c.label,
                    comparator.unwrap_or(""),
                    unit.text()
                );
                let at = |bound| Threshold::RefMultiple {
                    factor: Decimal::ONE,
                    bound,
                };
                let high =
                    self.against_limit(c, o, value, &unit, &at(RefBound::Uln), RefBound::Uln);
                let low = self.against_limit(c, o, value, &unit, &at(RefBound::Lln), RefBound::Lln);
                let from_value: Result<Truth, String> = match test {
                    RangeTest::AboveNormal => high
                        .as_ref()
                        .map(|ord| bounded(CmpOp::Gt, comparator, *ord))
                        .map_err(Clone::clone),
                    RangeTest::BelowNormal => low
                        .as_ref()
                        .map(|ord| bounded(CmpOp::Lt, comparator, *ord))
                        .map_err(Clone::clone),
                    RangeTest::WithinNormal => match (&low, &high) {
                        (Err(_), Err(e)) => Err(e.clone()),
                        (l, h) => Ok(l
                            .as_ref()
                            .map_or(Truth::True, |o| bounded(CmpOp::Ge, comparator, *o))
                            .and(
                                h.as_ref()
                                    .map_or(Truth::True, |o| bounded(CmpOp::Le, comparator, *o)),
                            )),
                    },
                };
                let note = say!(
                    explain,
                    "{}{}",
                    self.limit_note(c, o, RefBound::Lln, explain),
                    self.limit_note(c, o, RefBound::Uln, explain)
                );
                let interpreted = say!(
                    explain,
                    "; interpreted as {}",
                    o.interpretation.as_deref().unwrap_or_default()
                );
                match (from_value, reading) {
                    (Ok(t), _) if t != Truth::Unknown => (flip(t), format!("{shown}{note}")),
                    (_, Some(t)) => (flip(t), format!("{shown}{note}{interpreted}")),
                    (Ok(_), None) => (
                        Truth::Unknown,
                        say!(
                            explain,
                            "{shown}{note}: a bound, on both sides of the limit"
                        ),
                    ),
                    (Err(reason), None) => (Truth::Unknown, say!(explain, "{shown}: {reason}")),
                }
            }
        }
    }

    /// A result as shown in explanations: its value (with comparator and unit) or word.
    fn shown_value(&self, c: &Concept, o: &crate::facts::native::ObservationRecord) -> String {
        match (o.value, &o.result) {
            (Some(v), _) => format!(
                "{} {}{v}{}",
                c.label,
                o.comparator.as_deref().unwrap_or(""),
                o.unit
                    .as_deref()
                    .map(|u| format!(" {u}"))
                    .unwrap_or_default()
            ),
            (None, Some(word)) => format!("{} {word}", c.label),
            (None, None) => c.label.clone(),
        }
    }

    /// A result's value and unit; a missing unit is the concept's own for scores and
    /// dimensionless observations.
    fn quantity(
        &self,
        c: &Concept,
        o: &crate::facts::native::ObservationRecord,
    ) -> Result<(Decimal, std::sync::Arc<Unit>), String> {
        let Some(value) = o.value else {
            return Err(format!(
                "{} result is `{}`, not a number",
                c.label,
                o.result.as_deref().unwrap_or("")
            ));
        };
        let unit = match (&o.unit, &c.unit) {
            // A score in `{score}`, `{points}` or `1`: UCUM's number one, read as points.
            (Some(text), Some(own))
                if c.kind == ConceptKind::Score
                    && self.plan.unit(text).is_some_and(|u| u.is_unity()) =>
            {
                std::sync::Arc::new(own.clone())
            }
            (Some(text), _) => self.plan.unit(text).ok_or_else(|| {
                format!(
                    "{} {value} is in `{text}`, a unit eligc does not know",
                    c.label
                )
            })?,
            (None, Some(own)) if c.kind == ConceptKind::Score || own.is_dimensionless() => {
                std::sync::Arc::new(own.clone())
            }
            (None, _) => return Err(format!("{} {value} has no unit", c.label)),
        };
        // Commensurability is checked where it matters: against a quantity threshold or the
        // declared normal range. `x ULN` against the result's own range needs no conversion
        // (a bilirubin in umol/L with its own ULN, where the vocabulary says mg/dL).
        Ok((value, unit))
    }

    /// Orders `value` (in `unit`) against `factor` times a reference limit: the result's own
    /// range, or else the observation's declared `normal` range (in its canonical unit).
    fn against_limit(
        &self,
        c: &Concept,
        o: &crate::facts::native::ObservationRecord,
        value: Decimal,
        unit: &Unit,
        threshold: &Threshold,
        bound: RefBound,
    ) -> Result<Ordering, String> {
        let pick = |r: &ReferenceRange| match bound {
            RefBound::Uln => r.high,
            RefBound::Lln => r.low,
        };
        let own = o.reference_range.map(|r| ReferenceRange {
            low: r.low,
            high: r.high,
        });
        // The result's own range is in the result's unit.
        if let Some(limit) = own.as_ref().and_then(pick) {
            let scaled = threshold
                .from_limit(limit, unit)
                .map_err(|e| e.to_string())?;
            return Ok(value.cmp(&scaled));
        }
        match (c.normal.as_ref().and_then(pick), &c.unit) {
            (Some(limit), Some(canonical)) => {
                let scaled = threshold
                    .from_limit(limit, canonical)
                    .map_err(|e| e.to_string())?;
                let ord = unit
                    .compare_via(value, canonical, scaled, c.molar_mass.as_ref())
                    .ok_or("the result's unit cannot be converted to the normal range's")?;
                Ok(ord)
            }
            _ => Err(format!(
                "the result has no {} and the protocol declares no normal range for {}",
                bound.keyword(),
                c.label
            )),
        }
    }

    /// ` = 1.13 mg/dL`: a result in another unit than the threshold's, converted (through
    /// the analyte's molar mass if need be); empty when the units are the same.
    fn converted(
        &self,
        c: &Concept,
        value: Decimal,
        unit: &Unit,
        limit: Decimal,
        limit_unit: &Unit,
    ) -> String {
        if unit == limit_unit {
            return String::new();
        }
        match unit.convert_for_display(value, limit_unit, c.molar_mass.as_ref()) {
            Some((x, exact)) => format!(
                " {} {}",
                super::figure::equals(x, exact, self.plan.reading, &[limit]),
                limit_unit.text()
            ),
            None => String::new(),
        }
    }

    /// ` = 3.25 x ULN`: the result as a multiple of the limit it is compared with (the
    /// result's own, or the protocol's default converted); empty if the limit is zero.
    fn ratio(
        &self,
        c: &Concept,
        o: &crate::facts::native::ObservationRecord,
        value: Decimal,
        unit: &Unit,
        factor: Decimal,
        bound: RefBound,
    ) -> String {
        let pick = |low: Option<Decimal>, high: Option<Decimal>| match bound {
            RefBound::Uln => high,
            RefBound::Lln => low,
        };
        let (value, limit, exact) =
            if let Some(limit) = o.reference_range.and_then(|r| pick(r.low, r.high)) {
                (value, limit, true)
            } else {
                let default = c.normal.and_then(|r| pick(r.low, r.high));
                let converted = c.unit.as_ref().and_then(|canonical| {
                    unit.convert_for_display(value, canonical, c.molar_mass.as_ref())
                });
                match (default, converted) {
                    (Some(limit), Some((v, exact))) => (v, limit, exact),
                    _ => return String::new(),
                }
            };
        let Some(ratio) = value.checked_div(limit) else {
            return String::new();
        };
        let exact = exact && ratio.checked_mul(limit) == Some(value);
        format!(
            " {} x {}",
            super::figure::equals(ratio, exact, self.plan.reading, &[factor]),
            bound.keyword()
        )
    }

    /// `ULN 40 U/L` or `ULN 1.2 mg/dL, the protocol's default`.
    fn limit_text(
        &self,
        c: &Concept,
        o: &crate::facts::native::ObservationRecord,
        bound: RefBound,
    ) -> String {
        let pick = |low: Option<Decimal>, high: Option<Decimal>| match bound {
            RefBound::Uln => high,
            RefBound::Lln => low,
        };
        if let Some(limit) = o.reference_range.and_then(|r| pick(r.low, r.high)) {
            let unit = o
                .unit
                .as_deref()
                .map(|u| format!(" {u}"))
                .unwrap_or_default();
            return format!("{} {limit}{unit}", bound.keyword());
        }
        match (c.normal.and_then(|r| pick(r.low, r.high)), &c.unit) {
            (Some(limit), Some(u)) => format!(
                "{} {limit} {}, the protocol's default",
                bound.keyword(),
                u.text()
            ),
            _ => format!("no {}", bound.keyword()),
        }
    }

    fn limit_note(
        &self,
        c: &Concept,
        o: &crate::facts::native::ObservationRecord,
        bound: RefBound,
        explain: bool,
    ) -> String {
        if !explain {
            return String::new();
        }
        let pick = |low: Option<Decimal>, high: Option<Decimal>| match bound {
            RefBound::Uln => high,
            RefBound::Lln => low,
        };
        if let Some(limit) = o.reference_range.and_then(|r| pick(r.low, r.high)) {
            return format!(" ({} {limit})", bound.keyword());
        }
        match (c.normal.and_then(|r| pick(r.low, r.high)), &c.unit) {
            (Some(limit), Some(u)) => format!(
                " ({} {limit} {}, the protocol's default)",
                bound.keyword(),
                u.text()
            ),
            _ => String::new(),
        }
    }

    /// A query's events and its window, or why the query is unknown (no such domain in the
    /// record, or an anchor missing).
    fn query_events(
        &self,
        q: &EventQuery,
        explain: bool,
    ) -> Result<(Vec<Event<'_>>, Span), Outcome> {
        let Some(events) = self.query_records(q) else {
            return Err((
                Truth::Unknown,
                say!(explain, "no {} records in the record", q.kind.keyword()),
            ));
        };
        let span = self
            .span(&q.window)
            .map_err(|reason| (Truth::Unknown, reason))?;
        Ok((events, span))
    }

    /// Every event of a query's kind and concepts, normalised; then the facts of that kind
    /// eligc cannot place (unless [`Ctx::without_unplaced`] is set).
    fn events(&self, kind: EventKind, concepts: &[ConceptId]) -> Option<Vec<Event<'_>>> {
        let f = self.facts;
        let wanted = |id: &ConceptId| concepts.contains(id);
        let unplaced = !self.without_unplaced.get();
        let u = &f.unplaced;
        let e = &f.elsewhere;
        // Facts the vocabulary places elsewhere count only for concepts it cannot place under.
        let elsewhere = unplaced && concepts.iter().any(|c| !self.plan.anchored(*c));
        // Unplaced facts carry no concept: `ConceptId(u32::MAX)` is never a protocol's.
        let none = ConceptId(u32::MAX);
        Some(match kind {
            EventKind::Condition => {
                let placed = f.conditions.as_ref()?;
                let placed = placed.iter().filter(|(id, _)| wanted(id));
                placed
                    .map(|(id, c)| condition_event(*id, c, None))
                    .chain(
                        u.conditions.iter().filter(|_| unplaced).map(|c| {
                            condition_event(none, c, Some(c.code.as_deref().unwrap_or("")))
                        }),
                    )
                    .chain(e.conditions.iter().filter(|_| elsewhere).map(|c| Event {
                        elsewhere: true,
                        ..condition_event(none, c, Some(c.code.as_deref().unwrap_or("")))
                    }))
                    .collect()
            }
            EventKind::Medication => {
                let placed = f.medications.as_ref()?;
                let placed = placed.iter().filter(|(id, _)| wanted(id));
                placed
                    .map(|(id, m)| medication_event(*id, m, None))
                    .chain(
                        u.medications.iter().filter(|_| unplaced).map(|m| {
                            medication_event(none, m, Some(m.code.as_deref().unwrap_or("")))
                        }),
                    )
                    .chain(e.medications.iter().filter(|_| elsewhere).map(|m| Event {
                        elsewhere: true,
                        ..medication_event(none, m, Some(m.code.as_deref().unwrap_or("")))
                    }))
                    .collect()
            }
            EventKind::Immunization => {
                let placed = f.immunizations.as_ref()?;
                let placed = placed.iter().filter(|(id, _)| wanted(id));
                placed
                    .map(|(id, v)| immunization_event(*id, v, None))
                    .chain(u.immunizations.iter().filter(|_| unplaced).map(|v| {
                        immunization_event(none, v, Some(v.code.as_deref().unwrap_or("")))
                    }))
                    .chain(e.immunizations.iter().filter(|_| elsewhere).map(|v| Event {
                        elsewhere: true,
                        ..immunization_event(none, v, Some(v.code.as_deref().unwrap_or("")))
                    }))
                    .collect()
            }
            EventKind::Procedure => {
                let placed = f.procedures.as_ref()?;
                let placed = placed.iter().filter(|(id, _)| wanted(id));
                placed
                    .map(|(id, p)| procedure_event(*id, p, None))
                    .chain(
                        u.procedures.iter().filter(|_| unplaced).map(|p| {
                            procedure_event(none, p, Some(p.code.as_deref().unwrap_or("")))
                        }),
                    )
                    .chain(e.procedures.iter().filter(|_| elsewhere).map(|p| Event {
                        elsewhere: true,
                        ..procedure_event(none, p, Some(p.code.as_deref().unwrap_or("")))
                    }))
                    .collect()
            }
            // Allergies are dated like conditions (their statuses are a subset of a
            // condition's): from onset, ongoing until an end date or a status that ended them.
            EventKind::Allergy => {
                let placed = f.allergies.as_ref()?;
                let placed = placed.iter().filter(|(id, _)| wanted(id));
                placed
                    .map(|(id, a)| condition_event(*id, a, None))
                    .chain(
                        u.allergies.iter().filter(|_| unplaced).map(|a| {
                            condition_event(none, a, Some(a.code.as_deref().unwrap_or("")))
                        }),
                    )
                    .chain(e.allergies.iter().filter(|_| elsewhere).map(|a| Event {
                        elsewhere: true,
                        ..condition_event(none, a, Some(a.code.as_deref().unwrap_or("")))
                    }))
                    .collect()
            }
            EventKind::FamilyHistory => {
                let placed = f.family_history.as_ref()?;
                let placed = placed.iter().filter(|(id, _)| wanted(id));
                placed
                    .map(|(id, fh)| family_event(*id, fh, None))
                    .chain(
                        u.family_history.iter().filter(|_| unplaced).map(|fh| {
                            family_event(none, fh, Some(fh.code.as_deref().unwrap_or("")))
                        }),
                    )
                    .chain(
                        e.family_history
                            .iter()
                            .filter(|_| elsewhere)
                            .map(|fh| Event {
                                elsewhere: true,
                                ..family_event(none, fh, Some(fh.code.as_deref().unwrap_or("")))
                            }),
                    )
                    .collect()
            }
            EventKind::Study => {
                let placed = f.studies.as_ref()?;
                let placed = placed.iter().filter(|(id, _)| wanted(id));
                placed
                    .map(|(id, st)| study_event(*id, st, None))
                    .chain(
                        u.studies.iter().filter(|_| unplaced).map(|st| {
                            study_event(none, st, Some(st.code.as_deref().unwrap_or("")))
                        }),
                    )
                    .chain(e.studies.iter().filter(|_| elsewhere).map(|st| Event {
                        elsewhere: true,
                        ..study_event(none, st, Some(st.code.as_deref().unwrap_or("")))
                    }))
                    .collect()
            }
            EventKind::Encounter => {
                let placed = f.encounters.as_ref()?;
                let placed = placed.iter().filter(|(id, _)| wanted(id));
                placed
                    .map(|(id, x)| encounter_event(*id, x, None))
                    .chain(
                        u.encounters.iter().filter(|_| unplaced).map(|x| {
                            encounter_event(none, x, Some(x.code.as_deref().unwrap_or("")))
                        }),
                    )
                    .chain(e.encounters.iter().filter(|_| elsewhere).map(|x| Event {
                        elsewhere: true,
                        ..encounter_event(none, x, Some(x.code.as_deref().unwrap_or("")))
                    }))
                    .collect()
            }
        })
    }

    /// Whether the record has facts of this kind that eligc cannot place.
    /// The records a query looks at: those of its concepts, or for `any medication ...`
    /// every record of the kind.
    /// Records placed under a concept of `except` are left out; for `any KIND except ...`,
    /// a record eligc cannot place might be an excluded one, so it counts as at most unknown.
    fn query_records(&self, q: &EventQuery) -> Option<Vec<Event<'_>>> {
        self.query_records_split(q).map(|(kept, _)| kept)
    }

    /// The records a query looks at, and those `except` left out (for explanations).
    fn query_records_split(&self, q: &EventQuery) -> Option<(Vec<Event<'_>>, Vec<Event<'_>>)> {
        let events = if q.every {
            self.every_event(q.kind)?
        } else {
            self.events(q.kind, &q.concepts)?
        };
        if q.except.is_empty() {
            return Some((events, Vec::new()));
        }
        let f = self.facts;
        let excluded = match q.kind {
            EventKind::Condition => placed_under(f.conditions.as_ref(), &q.except),
            EventKind::Medication => placed_under(f.medications.as_ref(), &q.except),
            EventKind::Immunization => placed_under(f.immunizations.as_ref(), &q.except),
            EventKind::Procedure => placed_under(f.procedures.as_ref(), &q.except),
            EventKind::Allergy => placed_under(f.allergies.as_ref(), &q.except),
            EventKind::Encounter => placed_under(f.encounters.as_ref(), &q.except),
            EventKind::Study => placed_under(f.studies.as_ref(), &q.except),
            EventKind::FamilyHistory => placed_under(f.family_history.as_ref(), &q.except),
        };
        let unplaced_of = |u: &super::facts::Unplaced<'_>| match q.kind {
            EventKind::Condition => addrs(&u.conditions),
            EventKind::Medication => addrs(&u.medications),
            EventKind::Immunization => addrs(&u.immunizations),
            EventKind::Procedure => addrs(&u.procedures),
            EventKind::Allergy => addrs(&u.allergies),
            EventKind::Encounter => addrs(&u.encounters),
            EventKind::Study => addrs(&u.studies),
            EventKind::FamilyHistory => addrs(&u.family_history),
        };
        let (unknown, elsewhere) = if q.every && !self.without_unplaced.get() {
            // A fact the vocabulary places elsewhere may still be an excluded concept whose
            // codes it lacks.
            let anchored = q.except.iter().all(|c| self.plan.anchored(*c));
            (
                unplaced_of(&f.unplaced),
                if anchored {
                    Vec::new()
                } else {
                    unplaced_of(&f.elsewhere)
                },
            )
        } else {
            (Vec::new(), Vec::new())
        };
        let (kept, left): (Vec<Event<'_>>, Vec<Event<'_>>) = events
            .into_iter()
            .partition(|e| e.unplaced.is_some() || !excluded.contains(&e.addr));
        let kept = kept
            .into_iter()
            .map(|mut e| {
                if e.unplaced.is_none()
                    && (unknown.contains(&e.addr) || elsewhere.contains(&e.addr))
                {
                    e.elsewhere = elsewhere.contains(&e.addr);
                    e.unplaced = Some(e.code.unwrap_or(""));
                }
                e
            })
            .collect();
        // A record placed under several of the query's concepts is one record.
        let mut left_out: Vec<Event<'_>> = Vec::new();
        for e in left {
            if !left_out.iter().any(|l| l.addr == e.addr) {
                left_out.push(e);
            }
        }
        Some((kept, left_out))
    }

    /// Every record of a kind, whatever its code; records that are not facts (entered in
    /// error, refuted, not done: as in [`super::facts`]) left out. `None` when the record
    /// has no list of that kind.
    fn every_event(&self, kind: EventKind) -> Option<Vec<Event<'_>>> {
        let r = self.facts.record;
        // Not tied to a concept: named by the record's own display.
        let none = ConceptId(u32::MAX);
        let refuted = |v: Option<&str>| matches!(v, Some("refuted" | "entered-in-error"));
        let not_done = |v: Option<&str>| matches!(v, Some("not-done" | "entered-in-error"));
        let cancelled =
            |v: Option<&str>| matches!(v, Some("planned" | "cancelled" | "entered-in-error"));
        Some(match kind {
            EventKind::Condition => r
                .conditions
                .as_ref()?
                .iter()
                .filter(|c| !refuted(c.verification.as_deref()))
                .map(|c| condition_event(none, c, None))
                .collect(),
            EventKind::Allergy => r
                .allergies
                .as_ref()?
                .iter()
                .filter(|a| !refuted(a.verification.as_deref()))
                .map(|a| condition_event(none, a, None))
                .collect(),
            EventKind::Medication => r
                .medications
                .as_ref()?
                .iter()
                .filter(|m| m.status.as_deref() != Some("entered-in-error"))
                .map(|m| medication_event(none, m, None))
                .collect(),
            EventKind::Immunization => r
                .immunizations
                .as_ref()?
                .iter()
                .filter(|v| !not_done(v.status.as_deref()))
                .map(|v| immunization_event(none, v, None))
                .collect(),
            EventKind::Procedure => r
                .procedures
                .as_ref()?
                .iter()
                .filter(|p| !not_done(p.status.as_deref()))
                .map(|p| procedure_event(none, p, None))
                .collect(),
            EventKind::Encounter => r
                .encounters
                .as_ref()?
                .iter()
                .filter(|x| !cancelled(x.status.as_deref()))
                .map(|x| encounter_event(none, x, None))
                .collect(),
            EventKind::FamilyHistory => r
                .family_history
                .as_ref()?
                .iter()
                .filter(|fh| fh.status.as_deref() != Some("entered-in-error"))
                .map(|fh| family_event(none, fh, None))
                .collect(),
            EventKind::Study => r
                .studies
                .as_ref()?
                .iter()
                .filter(|st| {
                    st.status
                        .as_deref()
                        .is_none_or(|v| crate::facts::native::ENROLLED_STATUSES.contains(&v))
                })
                .map(|st| study_event(none, st, None))
                .collect(),
        })
    }

    /// An event's name in explanations: its concept's label, or for a record taken by
    /// `any ...`, what the record itself says it is.
    fn event_label<'e>(&'e self, e: &Event<'e>) -> &'e str {
        if e.concept == ConceptId(u32::MAX) {
            e.display.unwrap_or("a record")
        } else {
            self.label(e.concept)
        }
    }

    fn has_unplaced(&self, kind: EventKind) -> bool {
        [&self.facts.unplaced, &self.facts.elsewhere]
            .iter()
            .any(|u| match kind {
                EventKind::Condition => !u.conditions.is_empty(),
                EventKind::Medication => !u.medications.is_empty(),
                EventKind::Immunization => !u.immunizations.is_empty(),
                EventKind::Procedure => !u.procedures.is_empty(),
                EventKind::Allergy => !u.allergies.is_empty(),
                EventKind::Encounter => !u.encounters.is_empty(),
                EventKind::Study => !u.studies.is_empty(),
                EventKind::FamilyHistory => !u.family_history.is_empty(),
            })
    }

    /// Evaluates an event check, and notes when facts eligc cannot place are what made it
    /// unknown (the same check without them is decided).
    fn placing(&self, kind: EventKind, explain: bool, check: impl Fn(bool) -> Outcome) -> Outcome {
        let outcome = check(explain);
        if outcome.0 == Truth::Unknown && self.has_unplaced(kind) && !self.without_unplaced.get() {
            self.without_unplaced.set(true);
            let without = check(false);
            self.without_unplaced.set(false);
            if without.0 != Truth::Unknown {
                self.unplaced_hit.set(true);
            }
        }
        outcome
    }

    /// For a domain the record lacked and that was read as complete (`--complete`): a note
    /// saying that "none" comes from there.
    fn completed_note(&self, domain: &str) -> &'static str {
        if self.facts.record.completed.contains(&domain) {
            " (none recorded: the record is read as complete for this, --complete)"
        } else {
            ""
        }
    }

    /// Why an unplaced fact could not be placed.
    fn unplaced_reason(&self) -> &'static str {
        match self.plan.vocabulary() {
            None => "no vocabulary to place the code (--vocabulary DIR)",
            Some(_) => "the code is not in the vocabulary",
        }
    }

    /// A medication's daily dose in mg/d.
    /// A medication event's daily dose in mg/d (computed only where doses matter).
    fn event_daily_mg(&self, e: &Event<'_>) -> Result<Decimal, String> {
        match e.record {
            Attributes::Medication(m) => self.daily_mg(m),
            _ => Err("not a medication".to_string()),
        }
    }

    fn daily_mg(&self, m: &crate::facts::native::MedicationRecord) -> Result<Decimal, String> {
        let units = self.plan.dose_units.as_ref().ok_or("mg")?;
        let mg = &units.mg;
        if let Some(daily) = m.daily_dose {
            let text = m.daily_dose_unit.as_deref().unwrap_or("mg/d");
            let unit = self
                .plan
                .unit(text)
                .ok_or_else(|| format!("unknown dose unit `{text}`"))?;
            if let Some(per_day) = Some(&units.mg_per_day).filter(|pd| pd.is_commensurable(&unit)) {
                return unit
                    .convert(daily, per_day)
                    .ok_or_else(|| format!("`{text}` cannot be converted to mg/d exactly"));
            }
            // "mg" for a daily dose means per day.
            return unit
                .convert(daily, mg)
                .ok_or_else(|| format!("`{text}` is not a daily dose"));
        }
        match (m.dose, &m.dose_unit, m.frequency_per_day) {
            (Some(dose), Some(text), Some(freq)) => {
                let unit = self.plan.unit(text).ok_or_else(|| format!("unknown dose unit `{text}`"))?;
                let dose_mg = unit.convert(dose, mg).ok_or_else(|| format!("`{text}` is not a mass"))?;
                dose_mg.checked_mul(freq).ok_or_else(|| "the dose is too large".to_string())
            }
            _ => Err("no daily dose recorded (give `daily_dose`, or `dose`, `dose_unit` and `frequency_per_day`)".to_string()),
        }
    }

    /// Whether an event falls in the window.
    /// For a fact eligc cannot place, at most unknown: it may not be the concept asked for.
    fn in_window(event: &Event<'_>, span: &Span) -> Truth {
        let dates = Self::dates_in_window(event, span);
        if event.unplaced.is_some() {
            dates.and(Truth::Unknown)
        } else {
            dates
        }
    }

    fn dates_in_window(event: &Event<'_>, span: &Span) -> Truth {
        let Some(start) = event.start else {
            return match event.end {
                End::Known(e) if span.from.is_some_and(|f| e < f) => Truth::False,
                _ if span.from.is_none() && span.to.is_none() => Truth::True,
                _ => Truth::Unknown,
            };
        };
        if span.to.is_some_and(|t| start > t) {
            return Truth::False;
        }
        match event.end {
            End::Ongoing => Truth::True,
            End::Known(e) => Truth::from_bool(span.overlaps(start, Some(e))),
            End::Unknown => {
                if span.from.is_none_or(|f| start >= f) {
                    Truth::True
                } else {
                    Truth::Unknown
                }
            }
        }
    }

    /// The `where` tests on one event; a study record without a status may not be an
    /// enrolment, so it is at most unknown.
    fn filters(&self, event: &Event<'_>, filters: &[Filter]) -> Truth {
        let enrolled = match event.record {
            Attributes::Study(st) if st.status.is_none() => Truth::Unknown,
            _ => Truth::True,
        };
        enrolled.and(Truth::all(filters.iter().map(|f| self.filter(event, f))))
    }

    /// One `where` test on one event. A record that does not give the attribute is unknown.
    fn filter(&self, event: &Event<'_>, f: &Filter) -> Truth {
        let record = &event.record;
        match f {
            Filter::Any(alternatives) => {
                Truth::any(alternatives.iter().map(|a| self.filter(event, a)))
            }
            Filter::Number {
                attribute,
                op,
                value,
            } => match (attribute.as_str(), record) {
                ("grade", Attributes::Condition(c)) => c
                    .grade
                    .map_or(Truth::Unknown, |g| Truth::from_bool(op.holds(g.cmp(value)))),
                ("onset_age", Attributes::FamilyHistory(fh)) => fh
                    .onset_age
                    .map_or(Truth::Unknown, |a| Truth::from_bool(op.holds(a.cmp(value)))),
                _ => Truth::Unknown,
            },
            Filter::Word {
                attribute,
                negated,
                values,
            } => {
                let recorded = match (attribute.as_str(), record) {
                    ("status", Attributes::Condition(c)) => c.status.as_deref(),
                    ("severity", Attributes::Condition(c)) => c.severity.as_deref(),
                    ("laterality", Attributes::Condition(c)) => c.laterality.as_deref(),
                    ("stage", Attributes::Condition(c)) => c.stage.as_deref(),
                    ("status", Attributes::Medication(m)) => m.status.as_deref(),
                    ("route", Attributes::Medication(m)) => m.route.as_deref(),
                    ("status", Attributes::Procedure(p)) => {
                        Some(p.status.as_deref().unwrap_or("completed"))
                    }
                    ("laterality", Attributes::Procedure(p)) => p.laterality.as_deref(),
                    ("discharge", Attributes::Encounter(x)) => x.discharge.as_deref(),
                    ("status", Attributes::Study(st)) => st.status.as_deref(),
                    ("design", Attributes::Study(st)) => st.design.as_deref(),
                    ("phase", Attributes::Study(st)) => st.phase.as_deref(),
                    ("relationship", Attributes::FamilyHistory(fh)) => fh.relationship.as_deref(),
                    _ => None,
                };
                if attribute == "relationship" {
                    let truth = recorded.map_or(Truth::Unknown, |r| {
                        Truth::any(values.iter().map(|v| relative_matches(r, v)))
                    });
                    return if *negated { truth.not() } else { truth };
                }
                // A stage group matches its sub-stages, `on_study` its two kinds.
                let group = attribute == "stage" || attribute == "status";
                let truth = recorded.map_or(Truth::Unknown, |r| {
                    Truth::from_bool(values.iter().any(|v| word_matches(r, v, group)))
                });
                if *negated { truth.not() } else { truth }
            }
            Filter::Code {
                attribute,
                negated,
                concepts,
                ..
            } => {
                let (recorded, kind) = match (attribute.as_str(), record) {
                    ("body_site", Attributes::Condition(c)) => {
                        (c.body_site.as_deref(), ConceptKind::Site)
                    }
                    ("body_site", Attributes::Procedure(p)) => {
                        (p.body_site.as_deref(), ConceptKind::Site)
                    }
                    ("reason", Attributes::Procedure(p)) => {
                        (p.reason.as_deref(), ConceptKind::Condition)
                    }
                    ("reason", Attributes::Medication(m)) => {
                        (m.reason.as_deref(), ConceptKind::Condition)
                    }
                    ("status_reason", Attributes::Medication(m)) => {
                        (m.status_reason.as_deref(), ConceptKind::Condition)
                    }
                    _ => (None, ConceptKind::Site),
                };
                let truth = self.coded(recorded, kind, concepts);
                if *negated { truth.not() } else { truth }
            }
        }
    }

    /// Whether one of a record's coded values (codes, or names of the protocol's concepts)
    /// stands for one of `concepts`: unknown when none does but one is a code eligc cannot
    /// place (it might be a concept asked about), or when the record gives no value.
    fn coded(
        &self,
        recorded: Option<&[crate::facts::native::Text]>,
        kind: ConceptKind,
        concepts: &[ConceptId],
    ) -> Truth {
        let Some(values) = recorded.filter(|v| !v.is_empty()) else {
            return Truth::Unknown;
        };
        let mut result = Truth::False;
        for value in values {
            let is_code = crate::facts::native::parse_code(value).is_ok();
            let (name, code) = if is_code {
                (None, Some(value.as_str()))
            } else {
                (Some(value.as_str()), None)
            };
            let mut placed = false;
            let mut hit = false;
            self.plan.each_concept(name, code, &[], &[kind], |id| {
                placed = true;
                hit |= concepts.contains(&id);
            });
            if hit {
                return Truth::True;
            }
            if !placed && is_code && self.plan.unplaceable(value, kind) {
                result = Truth::Unknown;
            }
        }
        result
    }

    fn describe_event(&self, e: &Event<'_>) -> String {
        let when = match (e.start, e.end) {
            (Some(s), End::Known(t)) if Some(t) == e.start => format!("on {s}"),
            (Some(s), End::Known(t)) => format!("{s} to {t}"),
            (Some(s), End::Ongoing) => format!("from {s}, ongoing"),
            (Some(s), End::Unknown) => format!("from {s}, end not recorded"),
            (None, _) => "date not recorded".to_string(),
        };
        let id = e.id.map(|i| format!(" [{i}]")).unwrap_or_default();
        let display = e.display.map(|d| format!(" \"{d}\"")).unwrap_or_default();
        // A diagnosis or allergy not (yet) confirmed counts, and says so.
        let when = match &e.record {
            Attributes::Condition(c) => match c.verification.as_deref() {
                Some(v @ ("unconfirmed" | "provisional" | "differential")) => {
                    format!("{when}, {v}")
                }
                _ => when,
            },
            _ => when,
        };
        match e.unplaced {
            Some(code) if e.elsewhere => format!(
                "{code}{display} {when}{id}, not placed: the vocabulary has the code but not the codes of the concept asked about"
            ),
            Some(code) if code.starts_with(crate::facts::fhir::UNCODED) => {
                format!("{code}{display} {when}{id}, not placed: the record gives no code for it")
            }
            Some(code) => format!(
                "{code}{display} {when}{id}, not placed: {}",
                self.unplaced_reason()
            ),
            None => format!("{} {when}{id}", self.event_label(e)),
        }
    }

    /// Truth of the query for each event (window and filters), and the taken-for runs.
    fn event(&self, q: &EventQuery, explain: bool) -> Outcome {
        let (events, span) = match self.query_events(q, explain) {
            Ok(found) => found,
            Err(unknown) => return unknown,
        };
        let matches: Vec<(Truth, &Event<'_>)> = events
            .iter()
            .map(|e| {
                (
                    Self::in_window(e, &span).and(self.filters(e, &q.filters)),
                    e,
                )
            })
            .collect();
        let value = match q.taken_for {
            Some((op, dur)) => exposure(&matches, &span, self.as_of.0, op, dur),
            None => Truth::any(matches.iter().map(|(t, _)| *t)),
        };
        // Facts eligc cannot place are listed only where they might count.
        let shown = || {
            matches
                .iter()
                .filter(|(t, e)| e.unplaced.is_none() || *t != Truth::False)
        };
        let detail = if !explain {
            String::new()
        } else if shown().next().is_none() && q.every {
            format!("no {} in the record", q.kind.keyword())
        } else if shown().next().is_none() {
            format!(
                "no {} in `{}` in the record{}",
                q.kind.keyword(),
                q.target,
                self.completed_note(domain_of(q.kind))
            )
        } else {
            let listed: Vec<String> = shown()
                .map(|(t, e)| format!("{} {}", t.symbol(), self.describe_event(e)))
                .collect();
            let ongoing = q.taken_for.is_some()
                && shown().any(|(_, e)| e.end == End::Ongoing || e.end == End::Unknown);
            let note = if ongoing {
                format!(
                    "; records without an end count up to the as-of date, {} ({})",
                    self.as_of.0, self.as_of.1
                )
            } else {
                String::new()
            };
            format!("{} (window {}{note})", listed.join("; "), span.describe())
        };
        let detail = if explain && !q.except.is_empty() {
            let left: Vec<String> = self
                .query_records_split(q)
                .map(|(_, left)| left.iter().map(|e| self.describe_event(e)).collect())
                .unwrap_or_default();
            if left.is_empty() {
                detail
            } else {
                format!(
                    "{detail}; left out by `except {}`: {}",
                    q.except_names.join(", "),
                    left.join("; ")
                )
            }
        } else {
            detail
        };
        (value, detail)
    }

    fn count_events(&self, q: &EventQuery, op: CmpOp, n: Decimal, explain: bool) -> Outcome {
        let (events, span) = match self.query_events(q, explain) {
            Ok(found) => found,
            Err(unknown) => return unknown,
        };
        let truths: Vec<Truth> = events
            .iter()
            .map(|e| {
                let one = [(
                    Self::in_window(e, &span).and(self.filters(e, &q.filters)),
                    e,
                )];
                match q.taken_for {
                    Some((op, dur)) => exposure(&one, &span, self.as_of.0, op, dur),
                    None => one.first().map_or(Truth::False, |(t, _)| *t),
                }
            })
            .collect();
        count_range(&truths, op, n, explain)
    }

    fn count_distinct(&self, q: &EventQuery, op: CmpOp, n: Decimal, explain: bool) -> Outcome {
        let (events, span) = match self.query_events(q, explain) {
            Ok(found) => found,
            Err(unknown) => return unknown,
        };
        let mut truths = Vec::new();
        let mut listed = Vec::new();
        for concept in &q.concepts {
            // A fact eligc cannot place might be this concept (or several of them).
            let matches: Vec<(Truth, &Event<'_>)> = events
                .iter()
                .filter(|e| {
                    e.concept == *concept
                        || (e.unplaced.is_some() && (!e.elsewhere || !self.plan.anchored(*concept)))
                })
                .map(|e| {
                    (
                        Self::in_window(e, &span).and(self.filters(e, &q.filters)),
                        e,
                    )
                })
                .collect();
            if matches.is_empty() {
                truths.push(Truth::False);
                continue;
            }
            let value = match q.taken_for {
                Some((op, dur)) => exposure(&matches, &span, self.as_of.0, op, dur),
                None => Truth::any(matches.iter().map(|(t, _)| *t)),
            };
            truths.push(value);
            if !explain {
                continue;
            }
            let placed: Vec<String> = matches
                .iter()
                .filter(|(_, e)| e.unplaced.is_none())
                .map(|(_, e)| self.describe_event(e))
                .collect();
            if !placed.is_empty() {
                listed.push(format!("{} {}", value.symbol(), placed.join(", ")));
            }
        }
        if explain {
            let unplaced: Vec<String> = events
                .iter()
                .filter(|e| e.unplaced.is_some() && Self::in_window(e, &span) != Truth::False)
                .map(|e| self.describe_event(e))
                .collect();
            if !unplaced.is_empty() {
                listed.push(format!(
                    "? could be any of `{}`: {}",
                    q.target,
                    unplaced.join(", ")
                ));
            }
        }
        let (value, counted) = count_range(&truths, op, n, explain);
        let detail = if explain {
            format!(
                "{counted}: {}",
                if listed.is_empty() {
                    "none in the record".to_string()
                } else {
                    listed.join("; ")
                }
            )
        } else {
            String::new()
        };
        (value, detail)
    }

    fn dose(&self, d: &DoseQuery, explain: bool) -> Outcome {
        let concepts: Vec<ConceptId> = d.drugs.iter().map(|(id, _)| *id).collect();
        let Some(events) = self.events(EventKind::Medication, &concepts) else {
            return (
                Truth::Unknown,
                say!(explain, "no medication records in the record"),
            );
        };
        let span = match self.span(&d.window) {
            Ok(s) => s,
            Err(reason) => return (Truth::Unknown, reason),
        };
        // The threshold as mg/d, scaled by body weight for per-kg doses.
        let (threshold_mg, weight_note) = match self.dose_threshold(d, &span, explain) {
            Ok(t) => t,
            Err(reason) => {
                let any_exposure = events
                    .iter()
                    .any(|e| Self::in_window(e, &span) != Truth::False);
                return if any_exposure {
                    (Truth::Unknown, reason)
                } else {
                    (
                        Truth::False,
                        say!(explain, "no {} taken {}", d.target, span.describe()),
                    )
                };
            }
        };
        let sustained = d.sustained.unwrap_or(Dur {
            amount: 1,
            unit: crate::ast::DurationUnit::Days,
        });
        let mut pieces = Vec::new();
        for e in &events {
            if Self::in_window(e, &span) == Truth::False {
                continue;
            }
            let factor = d
                .drugs
                .iter()
                .find(|(id, _)| *id == e.concept)
                .map_or(Decimal::ONE, |(_, f)| *f);
            let Some(start) = e.start else { continue };
            let start = span.from.map_or(start, |f| start.max(f));
            let (definite_end, possible_end) = match e.end {
                End::Known(t) => (Some(t), Some(t)),
                End::Ongoing => {
                    let (known, possible) = open_end(start, self.as_of.0, &span);
                    (Some(known), Some(possible))
                }
                End::Unknown => (Some(start), Some(ended_by(start, self.as_of.0, &span))),
            };
            let clip = |t: Option<NaiveDate>| match (t, span.to) {
                (Some(t), Some(to)) => Some(t.min(to)),
                (t, None) => t,
                (None, to) => to,
            };
            let equivalent = self
                .event_daily_mg(e)
                .ok()
                .and_then(|mg| mg.checked_mul(factor));
            if e.unplaced.is_some() {
                // Perhaps one of the drugs, at a dose in an unknown ratio: possible only
                // (it "ends" the day before it starts, so it never covers a day for sure).
                pieces.push(Piece {
                    start,
                    definite_end: start.pred_opt(),
                    possible_end: clip(possible_end),
                    mg: None,
                });
                continue;
            }
            pieces.push(Piece {
                start,
                definite_end: clip(definite_end),
                possible_end: clip(possible_end),
                mg: equivalent,
            });
        }
        let value = sustained_dose(&pieces, d.op, threshold_mg, sustained);
        let detail = if explain {
            let listed: Vec<String> = events
                .iter()
                .map(|e| match self.event_daily_mg(e) {
                    _ if e.unplaced.is_some() => {
                        format!("{} (could be `{}`)", self.describe_event(e), d.target)
                    }
                    Ok(mg) => format!(
                        "{} {} mg/d{}",
                        self.describe_event(e),
                        mg.normalize(),
                        self.equivalent(d, e.concept, mg, threshold_mg)
                    ),
                    Err(reason) => format!("{}: {reason}", self.describe_event(e)),
                })
                .collect();
            let threshold = format!("threshold {} {}{weight_note}", d.threshold, d.unit.text());
            if listed.is_empty() {
                format!("no {} in the record; {threshold}", d.target)
            } else {
                format!(
                    "{}; {threshold} (window {})",
                    listed.join("; "),
                    span.describe()
                )
            }
        } else {
            String::new()
        };
        (value, detail)
    }

    /// ` = 60 mg/d prednisone`: a daily dose of another drug as the reference drug's, when an
    /// equivalence table applies and its factor is not 1.
    fn equivalent(
        &self,
        d: &DoseQuery,
        drug: ConceptId,
        mg: Decimal,
        threshold: Decimal,
    ) -> String {
        let Some(reference) = &d.as_drug else {
            return String::new();
        };
        let factor = d
            .drugs
            .iter()
            .find(|(id, _)| *id == drug)
            .map_or(Decimal::ONE, |(_, f)| *f);
        if factor == Decimal::ONE {
            return String::new();
        }
        match mg.checked_mul(factor) {
            Some(x) => format!(
                " {} mg/d {reference}",
                super::figure::equals(x, true, self.plan.reading, &[threshold])
            ),
            None => String::new(),
        }
    }

    /// The dose threshold in mg/d: per-kg thresholds times the latest body weight on or
    /// before the end of the window.
    fn dose_threshold(
        &self,
        d: &DoseQuery,
        span: &Span,
        explain: bool,
    ) -> Result<(Decimal, String), String> {
        let units = self.plan.dose_units.as_ref().ok_or("mg/d")?;
        let (unit_per_day, per_kg_unit) = (&units.mg_per_day, &units.mg_per_kg_day);
        if !d.per_kg {
            let mg = d
                .unit
                .convert(d.threshold, unit_per_day)
                .ok_or("the threshold cannot be converted to mg/d exactly")?;
            return Ok((mg, String::new()));
        }
        let per_kg = d
            .unit
            .convert(d.threshold, per_kg_unit)
            .ok_or("the threshold cannot be converted to mg/kg/d exactly")?;
        let weight_id = self
            .plan
            .program
            .body_weight
            .ok_or("no body_weight observation is declared")?;
        let kg = &units.kg;
        let obs = self
            .facts
            .observations
            .as_ref()
            .ok_or("no observations recorded, so no body weight")?;
        let latest = obs
            .iter()
            .filter(|(id, o)| *id == weight_id && span.to.is_none_or(|t| o.date <= t))
            .map(|(_, o)| *o)
            .reduce(|a, b| if b.date >= a.date { b } else { a });
        let Some(w) = latest else {
            return Err(format!(
                "no body weight recorded {}",
                span.to
                    .map_or_else(String::new, |t| format!("on or before {t}"))
            ));
        };
        let value = w.value.ok_or("the body weight has no value")?;
        if let Some(c) = &w.comparator {
            return Err(format!(
                "the body weight is a bound ({c}{value}), not a weight"
            ));
        }
        let unit = self
            .plan
            .unit(w.unit.as_deref().ok_or("the body weight has no unit")?)
            .ok_or("the body weight's unit is unknown")?;
        let weight_kg = unit
            .convert(value, kg)
            .ok_or("the body weight cannot be converted to kg exactly")?;
        let mg = per_kg
            .checked_mul(weight_kg)
            .ok_or("the dose is too large")?;
        Ok((
            mg,
            say!(
                explain,
                " x body weight {value} {} on {} = {mg} mg/d",
                unit.text(),
                w.date
            ),
        ))
    }
}

/// Maps a recorded qualitative result onto the language's values.
pub(super) fn qualitative(word: &str) -> Option<Qualitative> {
    let word = word.trim();
    // A short ASCII word (every result word is one) is folded on the stack: this runs for
    // every qualitative result tested. Anything else takes the general folding.
    let mut buffer = [0u8; 24];
    let folded;
    let w = match buffer.get_mut(..word.len()) {
        Some(short) if word.is_ascii() => {
            for (b, c) in short.iter_mut().zip(word.bytes()) {
                *b = match c.to_ascii_lowercase() {
                    b'-' | b'_' => b' ',
                    c => c,
                };
            }
            std::str::from_utf8(short).unwrap_or_default()
        }
        _ => {
            folded = word.to_lowercase().replace(['-', '_'], " ");
            folded.as_str()
        }
    };
    Some(match w {
        "positive" | "pos" | "detected" | "reactive" | "present" => Qualitative::Positive,
        "negative" | "neg" | "not detected" | "non reactive" | "nonreactive" | "absent" => {
            Qualitative::Negative
        }
        "indeterminate" | "equivocal" | "borderline" | "inconclusive" => Qualitative::Indeterminate,
        "normal" => Qualitative::Normal,
        "abnormal" => Qualitative::Abnormal,
        "improving" | "improved" | "responding" => Qualitative::Improving,
        "stable" => Qualitative::Stable,
        "progressing" | "progressive" | "progression" | "worsened" | "worsening" => {
            Qualitative::Progressing
        }
        "undetermined" => Qualitative::Undetermined,
        "complete remission" => Qualitative::CompleteRemission,
        "partial remission" => Qualitative::PartialRemission,
        _ => return None,
    })
}

/// `op` for a value known as `comparator` `bound` (`<10`: somewhere below 10), where `ord`
/// orders the bound against the threshold. A bound decides when every value it allows gives
/// the same answer (`<10` is certainly `< 20`, certainly not `>= 10`); otherwise unknown.
/// Without a comparator the value is a point.
pub(super) fn bounded(op: CmpOp, comparator: Option<&str>, ord: Ordering) -> Truth {
    use Ordering::{Equal, Greater, Less};
    let possible: &[Ordering] = match (comparator, ord) {
        (None, o) => return Truth::from_bool(op.holds(o)),
        (Some("<"), Less | Equal) | (Some("<="), Less) => &[Less],
        (Some("<="), Equal) => &[Less, Equal],
        (Some(">"), Greater | Equal) | (Some(">="), Greater) => &[Greater],
        (Some(">="), Equal) => &[Greater, Equal],
        _ => &[Less, Equal, Greater],
    };
    if possible.iter().all(|o| op.holds(*o)) {
        Truth::True
    } else if possible.iter().all(|o| !op.holds(*o)) {
        Truth::False
    } else {
        Truth::Unknown
    }
}

/// What an interpretation says about a qualitative test: positive/negative/indeterminate
/// answer `is positive` and its kin; normal, abnormal, high and low answer `is normal` and
/// `is abnormal`. `None` when it speaks of the other kind.
fn interpreted_as(reading: &str, value: Qualitative) -> Option<Truth> {
    use Qualitative::{Abnormal, Indeterminate, Negative, Normal, Positive};
    let presence = |q: Qualitative| Some(Truth::from_bool(q == value));
    match (reading, value) {
        ("positive", Positive | Negative | Indeterminate) => presence(Positive),
        ("negative", Positive | Negative | Indeterminate) => presence(Negative),
        ("indeterminate", Positive | Negative | Indeterminate) => presence(Indeterminate),
        ("normal", Normal | Abnormal) => presence(Normal),
        ("abnormal" | "high" | "low", Normal | Abnormal) => presence(Abnormal),
        _ => None,
    }
}

/// What an interpretation says about a range test: high is above the normal range, low
/// below, normal within; abnormal is not within but does not say on which side.
fn range_reading(reading: &str, test: RangeTest) -> Option<Truth> {
    Some(match (reading, test) {
        ("high", RangeTest::AboveNormal) | ("low", RangeTest::BelowNormal) => Truth::True,
        ("normal", RangeTest::WithinNormal) => Truth::True,
        ("high" | "low" | "abnormal", RangeTest::WithinNormal) => Truth::False,
        ("high", RangeTest::BelowNormal) | ("low", RangeTest::AboveNormal) => Truth::False,
        ("normal", _) => Truth::False,
        _ => return None,
    })
}

/// Counts where some items are uncertain: the comparison must hold over the whole range.
fn count_range(truths: &[Truth], op: CmpOp, n: Decimal, explain: bool) -> Outcome {
    let lo = truths.iter().filter(|t| **t == Truth::True).count();
    let hi = lo + truths.iter().filter(|t| **t == Truth::Unknown).count();
    let at = |k: usize| op.holds(Decimal::from(k).cmp(&n));
    let holds: Vec<bool> = (lo..=hi).map(at).collect();
    let value = if holds.iter().all(|h| *h) {
        Truth::True
    } else if holds.iter().all(|h| !*h) {
        Truth::False
    } else {
        Truth::Unknown
    };
    let detail = if lo == hi {
        say!(explain, "count {lo}")
    } else {
        say!(explain, "count between {lo} and {hi}")
    };
    (value, detail)
}

/// A stretch of one medication at a daily dose (mg/d of the reference drug; None if unknown).
struct Piece {
    start: NaiveDate,
    definite_end: Option<NaiveDate>,
    possible_end: Option<NaiveDate>,
    mg: Option<Decimal>,
}

/// Whether there is a run of `dur` days on each of which the day's total dose `op` threshold.
fn sustained_dose(pieces: &[Piece], op: CmpOp, threshold: Decimal, dur: Dur) -> Truth {
    // Elementary segments between change points; each day in a segment has the same total.
    let mut points: Vec<NaiveDate> = Vec::new();
    for p in pieces {
        points.push(p.start);
        for end in [p.definite_end, p.possible_end].into_iter().flatten() {
            if let Some(next) = time::next_day(end) {
                points.push(next);
            }
        }
    }
    points.sort_unstable();
    points.dedup();
    let mut segments: Vec<(NaiveDate, Option<NaiveDate>, Truth)> = Vec::new();
    for (i, start) in points.iter().enumerate() {
        let end = points.get(i + 1).and_then(|n| n.pred_opt());
        let covers = |until: Option<NaiveDate>| until.is_none_or(|u| *start <= u);
        let mut lo = Decimal::ZERO;
        let mut uncertain = false;
        let mut any = false;
        for p in pieces.iter().filter(|p| p.start <= *start) {
            if covers(p.definite_end) {
                any = true;
                match p.mg {
                    Some(mg) => lo = lo.checked_add(mg).unwrap_or(Decimal::MAX),
                    None => uncertain = true,
                }
            } else if covers(p.possible_end) {
                any = true;
                uncertain = true;
            }
        }
        if !any {
            segments.push((*start, end, Truth::False));
            continue;
        }
        let at_lo = op.holds(lo.cmp(&threshold));
        let value = match (uncertain, op) {
            (false, _) => Truth::from_bool(at_lo),
            // More dose may be hidden in the uncertain part.
            (true, CmpOp::Ge | CmpOp::Gt) if at_lo => Truth::True,
            (true, CmpOp::Le | CmpOp::Lt) if !at_lo => Truth::False,
            (true, _) => Truth::Unknown,
        };
        segments.push((*start, end, value));
    }
    let has_run = |accept: &dyn Fn(Truth) -> bool| -> bool {
        let mut run_start: Option<NaiveDate> = None;
        for (start, end, value) in &segments {
            if accept(*value) {
                let s = *run_start.get_or_insert(*start);
                match end {
                    Some(e) if time::lasts(s, *e, dur) => return true,
                    None => return true,
                    _ => {}
                }
            } else {
                run_start = None;
            }
        }
        false
    };
    if has_run(&|t| t == Truth::True) {
        Truth::True
    } else if has_run(&|t| t != Truth::False) {
        Truth::Unknown
    } else {
        Truth::False
    }
}

/// `taken for op dur`: runs of exposure (overlapping or touching periods merged), clipped to
/// the window; definite when the events and their ends are known, possible otherwise.
/// The last day of an ongoing exposure started on `start`, certainly and possibly: it is
/// known to last until the as-of date (or its start, when that is later); after it, the
/// record cannot say. So a window ending after the as-of date may hold more of it
/// (possibly), and a window without an end holds it only up to the as-of date.
fn open_end(start: NaiveDate, as_of: NaiveDate, span: &Span) -> (NaiveDate, NaiveDate) {
    let known = start.max(as_of);
    (known, span.to.map_or(known, |t| t.max(known)))
}

/// The latest day an exposure that ended on a day not recorded can have lasted to: the
/// as-of date (or its start), or the window's end when that is earlier.
fn ended_by(start: NaiveDate, as_of: NaiveDate, span: &Span) -> NaiveDate {
    let known = start.max(as_of);
    span.to.map_or(known, |t| t.min(known))
}

fn exposure(
    matches: &[(Truth, &Event<'_>)],
    span: &Span,
    as_of: NaiveDate,
    op: CmpOp,
    dur: Dur,
) -> Truth {
    let intervals = |definite: bool| -> Vec<(NaiveDate, Option<NaiveDate>)> {
        let mut out = Vec::new();
        for (t, e) in matches {
            if *t == Truth::False || (definite && *t == Truth::Unknown) {
                continue;
            }
            let Some(start) = e.start else { continue };
            let end = match (e.end, definite) {
                (End::Known(t), _) => Some(t),
                (End::Ongoing, true) => Some(open_end(start, as_of, span).0),
                (End::Ongoing, false) => Some(open_end(start, as_of, span).1),
                (End::Unknown, true) => Some(start),
                // Ended on a day not recorded: by the as-of date at the latest.
                (End::Unknown, false) => Some(ended_by(start, as_of, span)),
            };
            let start = span.from.map_or(start, |f| start.max(f));
            let end = match (end, span.to) {
                (Some(e), Some(t)) => Some(e.min(t)),
                (e, _) => e,
            };
            if end.is_none_or(|e| e >= start) {
                out.push((start, end));
            }
        }
        out.sort_by_key(|(s, _)| *s);
        let mut merged: Vec<(NaiveDate, Option<NaiveDate>)> = Vec::new();
        for (s, e) in out {
            if let Some(last) = merged.last_mut() {
                let touches = last
                    .1
                    .is_none_or(|le| time::next_day(le).is_none_or(|n| s <= n));
                if touches {
                    last.1 = match (last.1, e) {
                        (Some(a), Some(b)) => Some(a.max(b)),
                        _ => None,
                    };
                    continue;
                }
            }
            merged.push((s, e));
        }
        merged
    };
    // Whether some run lasts at least `dur` (strict: longer than `dur`).
    let some_run = |runs: &[(NaiveDate, Option<NaiveDate>)], strict: bool| -> bool {
        runs.iter().any(|(s, e)| match e {
            None => true,
            Some(e) => {
                if strict {
                    time::shift(*s, dur, Direction::After).is_some_and(|reached| reached <= *e)
                } else {
                    time::lasts(*s, *e, dur)
                }
            }
        })
    };
    let definite = intervals(true);
    let possible = intervals(false);
    let monotone = |strict: bool| -> Truth {
        if some_run(&definite, strict) {
            Truth::True
        } else if some_run(&possible, strict) {
            Truth::Unknown
        } else {
            Truth::False
        }
    };
    match op {
        CmpOp::Ge => monotone(false),
        CmpOp::Gt => monotone(true),
        CmpOp::Lt => monotone(false).not(),
        CmpOp::Le => monotone(true).not(),
        CmpOp::Eq => monotone(false).and(monotone(true).not()),
        CmpOp::Ne => monotone(false).and(monotone(true).not()).not(),
    }
}

/// What settles a window that cannot be placed: the anchor date the record lacks.
fn settle_window(reason: &str) -> String {
    match reason.strip_prefix("the record has no ") {
        Some(date) => format!("record the {date}"),
        None => reason.to_string(),
    }
}

/// "a" or "an" before a label, by its first letter.
fn article(label: &str) -> &'static str {
    match label.chars().next().map(|c| c.to_ascii_lowercase()) {
        Some('a' | 'e' | 'i' | 'o' | 'u') => "an",
        _ => "a",
    }
}

impl Ctx<'_> {
    /// What would settle an unknown check, said as an action for the "To settle" list:
    /// the attestation to record, the result to obtain (with its dates), the date or
    /// attribute a record lacks. Falls back to what the check found (`detail`).
    pub(super) fn settle(&self, c: &Cond, detail: &str) -> String {
        let record = self.facts.record;
        match &c.kind {
            CondKind::Attested(id) => {
                let (name, label, by) = self.concept(*id).map_or(("?", "?", None), |c| {
                    (c.name.as_str(), c.label.as_str(), c.attested_by.as_deref())
                });
                let by = by.map(|b| format!(", by the {b}")).unwrap_or_default();
                format!("record `{name}` (\"{label}\"{by}) as true or false")
            }
            CondKind::SexIs(_) => "record the patient's sex".to_string(),
            CondKind::Age { anchor, .. } => {
                if record.birth_date.is_none() {
                    "record the birth date".to_string()
                } else {
                    let name = self
                        .plan
                        .program
                        .anchor(*anchor)
                        .map_or("?", |a| a.name.as_str());
                    format!("record the `{name}` date")
                }
            }
            CondKind::Observation {
                concepts,
                target,
                window,
                ..
            } => self.settle_results(
                concepts,
                self.target_label(concepts, target),
                window,
                detail,
            ),
            CondKind::CountResults {
                concept, window, ..
            } => self.settle_results(
                std::slice::from_ref(concept),
                self.label(*concept),
                window,
                detail,
            ),
            CondKind::Arithmetic { value, .. } => self.settle_arithmetic(value, detail),
            CondKind::Event(q) | CondKind::CountEvents { query: q, .. } => {
                self.settle_events(q, detail)
            }
            CondKind::CountDistinct { query: q, .. } => self.settle_events(q, detail),
            CondKind::SelectEvent { query: q, .. } => self.settle_events(q, detail),
            CondKind::Dose(d) => self.settle_dose(d, detail),
            CondKind::And(_) | CondKind::Or(_) | CondKind::Not(_) | CondKind::Define(_) => {
                detail.to_string()
            }
        }
    }

    /// What the results of an observation (or a set's members) lack in a window.
    fn settle_results(
        &self,
        concepts: &[ConceptId],
        label: &str,
        window: &Window,
        detail: &str,
    ) -> String {
        if let Err(reason) = self.span(window) {
            return settle_window(&reason);
        }
        let inside = self.span(window).ok().is_some_and(|span| {
            self.facts.observations.as_ref().is_some_and(|obs| {
                concepts.iter().any(|c| {
                    super::facts::of_concept(obs, *c)
                        .iter()
                        .any(|(_, o)| span.contains(o.date))
                })
            })
        });
        match self.span(window) {
            Ok(span) if !inside => {
                let latest = self.facts.observations.as_ref().and_then(|obs| {
                    concepts
                        .iter()
                        .flat_map(|c| super::facts::of_concept(obs, *c).iter())
                        .map(|(_, o)| o.date)
                        .max()
                });
                format!(
                    "record {} {label} result {}{}",
                    article(label),
                    span.describe(),
                    latest
                        .map(|d| format!(" (the latest is from {d})"))
                        .unwrap_or_default()
                )
            }
            // A result is there but cannot decide: say which and why, once.
            _ => {
                let (id, reason) = detail
                    .split_once("]: ")
                    .map_or(("", detail), |(head, reason)| {
                        (head.rsplit_once('[').map_or("", |(_, id)| id), reason)
                    });
                let which = if id.is_empty() {
                    String::new()
                } else {
                    format!(" [{id}]")
                };
                if reason.contains("has no ULN") || reason.contains("has no LLN") {
                    format!(
                        "record the reference range of the {label} result{which}, or a `normal` range for it in the protocol"
                    )
                } else {
                    format!(
                        "record {} {label} result that can be compared ({reason})",
                        article(label)
                    )
                }
            }
        }
    }

    /// What a computation lacks: the results missing from their windows, else why the
    /// results at hand cannot be computed with.
    fn settle_arithmetic(&self, value: &crate::program::Arith, detail: &str) -> String {
        let mut wanted: Vec<String> = Vec::new();
        for (_, concept, window) in value.results() {
            let span = match self.span(&window) {
                Ok(span) => span,
                Err(reason) => return settle_window(&reason),
            };
            let label = self.label(concept);
            let present = self.facts.observations.as_ref().is_some_and(|obs| {
                super::facts::of_concept(obs, concept)
                    .iter()
                    .any(|(_, o)| span.contains(o.date))
            });
            let want = format!("{} {label} result {}", article(label), span.describe());
            if !present && !wanted.contains(&want) {
                wanted.push(want);
            }
        }
        if wanted.is_empty() {
            format!("record results that can be computed with ({detail})")
        } else {
            format!("record {}", wanted.join(" and "))
        }
    }

    /// What the events of a query lack: a list of each record's missing date or attribute.
    fn settle_events(&self, q: &EventQuery, detail: &str) -> String {
        let Some(events) = self.query_records(q) else {
            return format!(
                "record the patient's {} list (the record has none), even if empty",
                q.kind.keyword()
            );
        };
        let span = match self.span(&q.window) {
            Ok(span) => span,
            Err(reason) => return settle_window(&reason),
        };
        let mut wanted = Vec::new();
        let place = self.settle_unplaced(&events, &span);
        for e in events.iter().filter(|e| e.unplaced.is_none()) {
            let name = format!(
                "{}{}",
                self.event_label(e),
                e.id.map(|i| format!(" [{i}]")).unwrap_or_default()
            );
            if Self::in_window(e, &span) == Truth::Unknown {
                if e.start.is_none() {
                    wanted.push(format!("the start date of {name}"));
                } else {
                    wanted.push(format!("the end date of {name}"));
                }
            } else if q.taken_for.is_some() && e.end == End::Unknown {
                wanted.push(format!("the end date of {name}"));
            }
            if Self::in_window(e, &span) != Truth::False {
                for f in &q.filters {
                    if self.filter(e, f) == Truth::Unknown {
                        for t in f.tests() {
                            if let (Truth::Unknown, Some(attribute)) =
                                (self.filter(e, t), t.attribute())
                            {
                                wanted
                                    .push(format!("the {} of {name}", attribute.replace('_', " ")));
                            }
                        }
                    }
                }
            }
        }
        settle_list(&wanted, place, detail)
    }

    /// What would place the facts eligc cannot place that fall in the window.
    fn settle_unplaced(&self, events: &[Event<'_>], span: &Span) -> Option<String> {
        let codes: Vec<String> = events
            .iter()
            .filter(|e| Self::in_window(e, span) != Truth::False)
            .filter_map(|e| {
                e.unplaced.map(|code| {
                    format!(
                        "{code}{}{}",
                        e.display.map(|d| format!(" \"{d}\"")).unwrap_or_default(),
                        e.id.map(|i| format!(" [{i}]")).unwrap_or_default()
                    )
                })
            })
            .collect();
        if codes.is_empty() {
            return None;
        }
        let how = match self.plan.vocabulary() {
            None => "run with --vocabulary DIR (an OMOP vocabulary), or add the code to a concept",
            Some(_) if events.iter().any(|e| e.elsewhere) => {
                "use a vocabulary that has the code and the concept's codes, or add the code to a concept"
            }
            Some(_) => "use a vocabulary that has the code, or add the code to a concept",
        };
        Some(format!("place {} ({how})", codes.join(", ")))
    }

    /// What a dose check lacks: the body weight, a daily dose or an end date.
    fn settle_dose(&self, d: &DoseQuery, detail: &str) -> String {
        let concepts: Vec<ConceptId> = d.drugs.iter().map(|(id, _)| *id).collect();
        let Some(events) = self.events(EventKind::Medication, &concepts) else {
            return "record the patient's medication list (the record has none), even if empty"
                .to_string();
        };
        let span = match self.span(&d.window) {
            Ok(span) => span,
            Err(reason) => return settle_window(&reason),
        };
        if let Err(reason) = self.dose_threshold(d, &span, false) {
            return match reason.strip_prefix("no body weight recorded ") {
                Some(when) => format!("record a body weight {when} (the dose threshold is per kg)"),
                None => format!("the dose threshold is per kg of body weight: {reason}"),
            };
        }
        let mut wanted = Vec::new();
        let place = self.settle_unplaced(&events, &span);
        for e in events
            .iter()
            .filter(|e| e.unplaced.is_none() && Self::in_window(e, &span) != Truth::False)
        {
            let name = format!(
                "{}{}",
                self.label(e.concept),
                e.id.map(|i| format!(" [{i}]")).unwrap_or_default()
            );
            if self.event_daily_mg(e).is_err() {
                wanted.push(format!("the daily dose of {name}"));
            }
            if e.end == End::Unknown {
                wanted.push(format!("the end date of {name}"));
            }
        }
        settle_list(&wanted, place, detail)
    }
}

/// "record A; B", then what would place the unplaced facts; `review: detail` when nothing
/// is wanted.
fn settle_list(wanted: &[String], place: Option<String>, detail: &str) -> String {
    let record = (!wanted.is_empty()).then(|| format!("record {}", wanted.join("; ")));
    match (record, place) {
        (Some(r), Some(p)) => format!("{r}; {p}"),
        (Some(one), None) | (None, Some(one)) => one,
        (None, None) => format!("review: {detail}"),
    }
}

/// The record's list for events of a kind.
fn domain_of(kind: EventKind) -> &'static str {
    match kind {
        EventKind::Condition => "conditions",
        EventKind::Medication => "medications",
        EventKind::Immunization => "immunizations",
        EventKind::Procedure => "procedures",
        EventKind::Allergy => "allergies",
        EventKind::Encounter => "encounters",
        EventKind::Study => "studies",
        EventKind::FamilyHistory => "family_history",
    }
}

fn condition_event<'r>(
    concept: ConceptId,
    c: &'r crate::facts::native::ConditionRecord,
    unplaced: Option<&'r str>,
) -> Event<'r> {
    Event {
        concept,
        id: c.id.as_deref(),
        start: c.onset,
        end: match (c.end, c.status.as_deref()) {
            (Some(e), _) => End::Known(e),
            (None, Some("resolved" | "inactive" | "remission")) => End::Unknown,
            (None, _) => End::Ongoing,
        },
        record: Attributes::Condition(c),
        unplaced,
        elsewhere: false,
        display: c.display.as_deref(),
        code: c.code.as_deref(),
        addr: std::ptr::from_ref(c).addr(),
    }
}

/// Whether a recorded word is a value asked for. A stage group also matches its sub-stages:
/// `II` matches a recorded `IIA`, `IIB` or `IIC` (not `III`).
/// A study's `on_study` matches `on_study_intervention` and `on_study_observation`.
fn word_matches(recorded: &str, asked: &str, group: bool) -> bool {
    recorded == asked
        || (group
            && recorded.strip_prefix(asked).is_some_and(|rest| {
                matches!(rest, "A" | "B" | "C" | "_intervention" | "_observation")
            }))
}

fn medication_event<'r>(
    concept: ConceptId,
    m: &'r crate::facts::native::MedicationRecord,
    unplaced: Option<&'r str>,
) -> Event<'r> {
    Event {
        concept,
        id: m.id.as_deref(),
        start: Some(m.start),
        end: match (m.end, m.status.as_deref()) {
            (Some(e), _) => End::Known(e),
            (None, Some("completed" | "stopped")) => End::Unknown,
            (None, _) => End::Ongoing,
        },
        record: Attributes::Medication(m),
        unplaced,
        elsewhere: false,
        display: m.display.as_deref(),
        code: m.code.as_deref(),
        addr: std::ptr::from_ref(m).addr(),
    }
}

fn immunization_event<'r>(
    concept: ConceptId,
    v: &'r crate::facts::native::ImmunizationRecord,
    unplaced: Option<&'r str>,
) -> Event<'r> {
    Event {
        concept,
        id: v.id.as_deref(),
        start: Some(v.date),
        end: End::Known(v.date),
        record: Attributes::Immunization,
        unplaced,
        elsewhere: false,
        display: v.display.as_deref(),
        code: v.code.as_deref(),
        addr: std::ptr::from_ref(v).addr(),
    }
}

fn procedure_event<'r>(
    concept: ConceptId,
    p: &'r crate::facts::native::ProcedureRecord,
    unplaced: Option<&'r str>,
) -> Event<'r> {
    Event {
        concept,
        id: p.id.as_deref(),
        start: Some(p.date),
        end: End::Known(p.end.unwrap_or(p.date)),
        record: Attributes::Procedure(p),
        unplaced,
        elsewhere: false,
        display: p.display.as_deref(),
        code: p.code.as_deref(),
        addr: std::ptr::from_ref(p).addr(),
    }
}

/// An encounter runs from its start to its end; without an end it goes on, unless its
/// status says it finished (on a day not recorded).
fn encounter_event<'r>(
    concept: ConceptId,
    x: &'r crate::facts::native::EncounterRecord,
    unplaced: Option<&'r str>,
) -> Event<'r> {
    Event {
        concept,
        id: x.id.as_deref(),
        start: Some(x.start),
        end: match (x.end, x.status.as_deref()) {
            (Some(e), _) => End::Known(e),
            (None, Some("finished")) => End::Unknown,
            (None, _) => End::Ongoing,
        },
        record: Attributes::Encounter(x),
        unplaced,
        elsewhere: false,
        display: x.display.as_deref(),
        code: x.code.as_deref(),
        addr: std::ptr::from_ref(x).addr(),
    }
}

/// The start dates the first (or last) of a query's events may have, for three-valued
/// selection: events whose membership (window of the anchor, `where` tests, placement) or
/// start date is uncertain widen the set.
struct Chosen {
    /// The earliest (latest) start among the events that certainly match, with a date.
    sure: Option<NaiveDate>,
    /// Other start dates the chosen event may have: those of uncertain events before (after)
    /// `sure`.
    others: Vec<NaiveDate>,
    /// Some candidate has no start date: the chosen one may start any day before (after)
    /// `sure`, or any day at all without it.
    open: bool,
    /// Some event certainly matches.
    exists: bool,
    /// Some event may match.
    any: bool,
}

impl Chosen {
    /// Whether every date the chosen event may start on is in `span`, and one is chosen.
    fn all_in(&self, select: EventSelect, span: &Span) -> bool {
        if !self.exists || span.is_empty() {
            return false;
        }
        let ray_in = match (self.open, self.sure, select) {
            (false, _, _) => true,
            (true, None, _) => span.from.is_none() && span.to.is_none(),
            (true, Some(s), EventSelect::First) => span.from.is_none() && span.contains(s),
            (true, Some(s), EventSelect::Last) => span.to.is_none() && span.contains(s),
        };
        ray_in
            && self.sure.is_none_or(|s| span.contains(s))
            && self.others.iter().all(|d| span.contains(*d))
    }

    /// Whether no date the chosen event may start on is in `span` (or none is chosen).
    fn none_in(&self, select: EventSelect, span: &Span) -> bool {
        if !self.any || span.is_empty() {
            return true;
        }
        let ray_out = match (self.open, self.sure, select) {
            (false, _, _) => true,
            (true, None, _) => false,
            (true, Some(s), EventSelect::First) => span.from.is_some_and(|f| f > s),
            (true, Some(s), EventSelect::Last) => span.to.is_some_and(|t| t < s),
        };
        ray_out
            && self.sure.is_none_or(|s| !span.contains(s))
            && self.others.iter().all(|d| !span.contains(*d))
    }
}

impl Ctx<'_> {
    /// The candidates for the first or last event of a query; `within` limits them to the
    /// query's window (for an anchor), else every date counts.
    fn choose<'e>(
        &self,
        select: EventSelect,
        q: &EventQuery,
        events: &'e [Event<'e>],
        within: Option<&Span>,
    ) -> (Chosen, Vec<&'e Event<'e>>) {
        let earlier = |a: NaiveDate, b: NaiveDate| match select {
            EventSelect::First => a < b,
            EventSelect::Last => a > b,
        };
        let member = |e: &Event<'_>| {
            let placed = if e.unplaced.is_some() {
                Truth::Unknown
            } else {
                Truth::True
            };
            let windowed = within.map_or(Truth::True, |s| Self::in_window(e, s));
            placed.and(windowed).and(self.filters(e, &q.filters))
        };
        let candidates: Vec<(Truth, &Event<'_>)> = events
            .iter()
            .map(|e| (member(e), e))
            .filter(|(t, _)| *t != Truth::False)
            .collect();
        let sure = candidates
            .iter()
            .filter(|(t, _)| *t == Truth::True)
            .filter_map(|(_, e)| e.start)
            .reduce(|a, b| if earlier(b, a) { b } else { a });
        let others: Vec<NaiveDate> = candidates
            .iter()
            .filter_map(|(_, e)| e.start)
            .filter(|d| sure.is_none_or(|s| earlier(*d, s)))
            .collect();
        let chosen = Chosen {
            sure,
            others,
            open: candidates.iter().any(|(_, e)| e.start.is_none()),
            exists: candidates.iter().any(|(t, _)| *t == Truth::True),
            any: !candidates.is_empty(),
        };
        // The events that decide, for explanations: the sure one and the uncertain ones.
        let shown = candidates
            .iter()
            .filter(|(t, e)| *t != Truth::True || e.start.is_none() || e.start == chosen.sure)
            .map(|(_, e)| *e)
            .collect();
        (chosen, shown)
    }

    /// `first/last EVENT WINDOW`: the chosen event (among all dates) starts in the window.
    fn select_event(&self, select: EventSelect, q: &EventQuery, explain: bool) -> Outcome {
        let (events, span) = match self.query_events(q, explain) {
            Ok(found) => found,
            Err(unknown) => return unknown,
        };
        let (chosen, shown) = self.choose(select, q, &events, None);
        let value = if chosen.all_in(select, &span) {
            Truth::True
        } else if chosen.none_in(select, &span) {
            Truth::False
        } else {
            Truth::Unknown
        };
        let detail = if !explain {
            String::new()
        } else if shown.is_empty() {
            format!("no {} in `{}` in the record", q.kind.keyword(), q.target)
        } else {
            let listed: Vec<String> = shown.iter().map(|e| self.describe_event(e)).collect();
            format!(
                "{} {}: {} (window {})",
                select.keyword(),
                q.kind.keyword(),
                listed.join("; "),
                span.describe()
            )
        };
        (value, detail)
    }

    /// The date of an anchor taken from the record: the start of the first or last event of
    /// its query, inside the query's window.
    fn event_anchor(
        &self,
        id: AnchorId,
        select: EventSelect,
        q: &EventQuery,
    ) -> Result<NaiveDate, WindowError> {
        let name = self
            .plan
            .program
            .anchor(id)
            .map_or("?", |a| a.name.as_str());
        let Some(events) = self.query_records(q) else {
            return Err(WindowError::UnknownEvent(format!(
                "the date of `{name}` is not known: the record has no {} list",
                q.kind.keyword()
            )));
        };
        // The query's own window refers only to anchors the record supplies.
        let span = time::resolve(&q.window, &|a| self.anchor_date(a)).map_err(|e| match e {
            WindowError::MissingAnchor(other) => WindowError::UnknownEvent(format!(
                "the date of `{name}` is not known: the record has no `{other}` date"
            )),
            other => other,
        })?;
        let (chosen, shown) = self.choose(select, q, &events, Some(&span));
        if !chosen.any {
            return Err(WindowError::NoEvent);
        }
        match chosen.sure {
            Some(d) if chosen.exists && !chosen.open && chosen.others.is_empty() => Ok(d),
            _ => {
                let listed: Vec<String> = shown.iter().map(|e| self.describe_event(e)).collect();
                Err(WindowError::UnknownEvent(format!(
                    "the date of `{name}` ({} {} in `{}`) is not known: {}",
                    select.keyword(),
                    q.kind.keyword(),
                    q.target,
                    listed.join("; ")
                )))
            }
        }
    }
}

/// A study is participation from enrolment to leaving it; without an end the patient is on
/// it, unless the status says they are off it (since a day not recorded).
fn study_event<'r>(
    concept: ConceptId,
    st: &'r crate::facts::native::StudyRecord,
    unplaced: Option<&'r str>,
) -> Event<'r> {
    Event {
        concept,
        id: st.id.as_deref(),
        start: st.start,
        end: match (st.end, st.status.as_deref()) {
            (Some(e), _) => End::Known(e),
            (None, Some("off_study")) => End::Unknown,
            (None, _) => End::Ongoing,
        },
        record: Attributes::Study(st),
        unplaced,
        elsewhere: false,
        display: st.display.as_deref(),
        code: st.code.as_deref(),
        addr: std::ptr::from_ref(st).addr(),
    }
}

/// The addresses of the records placed under any of `concepts`.
fn placed_under<T>(list: Option<&Vec<(ConceptId, &T)>>, concepts: &[ConceptId]) -> Vec<usize> {
    let Some(list) = list else {
        return Vec::new();
    };
    concepts
        .iter()
        .flat_map(|c| super::facts::of_concept(list, *c).iter())
        .map(|(_, r)| std::ptr::from_ref(*r).addr())
        .collect()
}

fn addrs<T>(list: &[&T]) -> Vec<usize> {
    list.iter().map(|r| std::ptr::from_ref(*r).addr()).collect()
}

/// A relative's condition is known from the day it was recorded; without a date, at some
/// day not given.
fn family_event<'r>(
    concept: ConceptId,
    fh: &'r crate::facts::native::FamilyHistoryRecord,
    unplaced: Option<&'r str>,
) -> Event<'r> {
    Event {
        concept,
        id: fh.id.as_deref(),
        start: fh.date,
        end: End::Ongoing,
        record: Attributes::FamilyHistory(fh),
        unplaced,
        elsewhere: false,
        display: fh.display.as_deref(),
        code: fh.code.as_deref(),
        addr: std::ptr::from_ref(fh).addr(),
    }
}

/// Whether a recorded relative is the one asked about: itself, a kind it is one of
/// (`parent` for a mother), or a degree it belongs to. A relative recorded without the
/// detail asked (a `parent` when the question is `mother`) may or may not be: unknown.
fn relative_matches(recorded: &str, asked: &str) -> Truth {
    use crate::facts::native::{FIRST_DEGREE, SECOND_DEGREE};
    const KINDS: &[(&str, &[&str])] = &[
        ("parent", &["mother", "father"]),
        ("sibling", &["sister", "brother"]),
        ("half_sibling", &["half_sister", "half_brother"]),
        ("child", &["daughter", "son"]),
        ("grandparent", &["grandmother", "grandfather"]),
    ];
    let is = match asked {
        "first_degree" => FIRST_DEGREE.contains(&recorded),
        "second_degree" => SECOND_DEGREE.contains(&recorded),
        _ => {
            recorded == asked
                || KINDS
                    .iter()
                    .any(|(kind, members)| asked == *kind && members.contains(&recorded))
        }
    };
    if is {
        return Truth::True;
    }
    // A `parent` asked about as a `mother`: perhaps.
    let vaguer = KINDS
        .iter()
        .any(|(kind, members)| recorded == *kind && members.contains(&asked));
    if vaguer { Truth::Unknown } else { Truth::False }
}

#[cfg(test)]
mod tests {
    use super::qualitative;
    use crate::program::Qualitative;

    #[test]
    fn result_words_are_read_whatever_their_case_spacing_and_joiners() {
        for (word, q) in [
            ("positive", Some(Qualitative::Positive)),
            ("  POS ", Some(Qualitative::Positive)),
            ("Not-Detected", Some(Qualitative::Negative)),
            ("non_reactive", Some(Qualitative::Negative)),
            ("Complete Remission", Some(Qualitative::CompleteRemission)),
            ("NEGATİVE", None),
            ("a result word longer than any we know", None),
            ("", None),
        ] {
            assert_eq!(qualitative(word), q, "{word}");
        }
        // Non-ASCII takes Unicode folding, as before: the Kelvin sign folds to `k`.
        assert_eq!(qualitative("\u{212A}"), None);
    }
}
