//! The interpreter: a checked [`Program`] is compiled once into a [`Plan`] (codes and names
//! to concept ids, a unit cache), then each patient record is evaluated with Kleene logic and
//! decimal arithmetic into a [`PatientResult`]: a verdict, each criterion's outcome and, when
//! asked for, the checks behind it in the protocol's own words.

mod facts;
mod figure;
mod leaf;
pub mod logic;
pub mod render;
pub mod time;

use rustc_hash::FxHashMap as HashMap;
use std::sync::Arc;

use crate::ast::CriterionKind;
use crate::facts::{PatientRecord, RawRecord, RecordError};
use crate::program::{CodeSystem, ConceptId, Cond, CondKind, Criterion, CriterionBody, Program};
use crate::source::{SourceMap, Span};
use crate::units::Unit;

pub use logic::Truth;

/// A program ready to evaluate many patients (shareable across threads).
#[derive(Debug)]
pub struct Plan {
    program: Program,
    sources: SourceMap,
    by_name: HashMap<String, ConceptId>,
    by_code: HashMap<CodeSystem, HashMap<String, Vec<ConceptId>>>,
    /// The line each criterion starts on, by its span's start (computed once: finding a
    /// line means counting newlines).
    lines: HashMap<(u32, u32), usize>,
    /// Whether computed numbers in explanations are rounded for reading (text output) or
    /// kept exact (JSON).
    reading: bool,
    /// The terminology, when one was given (`--vocabulary`).
    vocabulary: Option<crate::vocab::Vocabulary>,
    /// The code systems the protocol codes each kind of event concept in: a fact coded in
    /// one of them that eligc cannot place might be any concept of its kind.
    systems: Vec<(crate::ast::ConceptKind, CodeSystem)>,
    /// With a vocabulary: the event concepts none of whose codes it knows. It cannot say
    /// what is under them, so a fact it places elsewhere might still be one of them.
    unanchored: Vec<ConceptId>,
    /// `--as-of DATE`: the date every record is known up to ([`Plan::with_as_of`]).
    as_of: Option<chrono::NaiveDate>,
    /// Each window written in the program, by its address, to the slot its patient's span
    /// is kept in (equal windows share one): a check finds its window's span by one lookup
    /// instead of comparing windows. The windows live in the program's vectors, which do
    /// not move when the plan does; a window not found here (a copy) is compared by value.
    window_slots: HashMap<usize, u32>,
    /// How many distinct windows there are.
    windows: usize,
    /// The units doses are computed in, parsed once (they were looked up in the unit
    /// cache for every medication record).
    dose_units: Option<DoseUnits>,
}

/// The units of dose arithmetic.
#[derive(Debug)]
struct DoseUnits {
    mg: Unit,
    mg_per_day: Unit,
    mg_per_kg_day: Unit,
    kg: Unit,
}

impl DoseUnits {
    fn parse() -> Option<DoseUnits> {
        let unit = |text: &str| crate::units::parse_unit(text).ok();
        Some(DoseUnits {
            mg: unit("mg")?,
            mg_per_day: unit("mg/d")?,
            mg_per_kg_day: unit("mg/kg/d")?,
            kg: unit("kg")?,
        })
    }
}

impl Plan {
    /// Prepares a checked program; `sources` are the files it was compiled from, for quoting.
    pub fn new(program: Program, sources: SourceMap) -> Plan {
        let mut by_name = HashMap::default();
        let mut by_code: HashMap<CodeSystem, HashMap<String, Vec<ConceptId>>> = HashMap::default();
        for (i, c) in program.concepts.iter().enumerate() {
            let id = ConceptId(u32::try_from(i).unwrap_or(u32::MAX));
            by_name.insert(c.name.clone(), id);
            for (system, code) in &c.codes {
                let ids = by_code
                    .entry(*system)
                    .or_default()
                    .entry(code.clone())
                    .or_default();
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
        }
        let mut systems = Vec::new();
        for c in &program.concepts {
            if crate::vocab::placed_kind(c.kind) {
                for (system, _) in &c.codes {
                    if !systems.contains(&(c.kind, *system)) {
                        systems.push((c.kind, *system));
                    }
                }
            }
        }
        // Lines found through an index of each file: criterion by criterion from the start
        // of the file, it was quadratic.
        let index: Vec<crate::source::LineIndex> = sources
            .files()
            .iter()
            .map(|f| crate::source::LineIndex::new(&f.text))
            .collect();
        let lines = program
            .all_criteria()
            .iter()
            .map(|c| {
                let file = c.span.file.0 as usize;
                let line = match (sources.files().get(file), index.get(file)) {
                    (Some(f), Some(i)) => i.line_col(&f.text, c.span.start).0,
                    _ => 0,
                };
                ((c.span.file.0, c.span.start), line)
            })
            .collect();
        let (window_slots, windows) = window_slots(&program);
        Plan {
            dose_units: DoseUnits::parse(),
            window_slots,
            windows,
            program,
            sources,
            by_name,
            by_code,
            lines,
            reading: false,
            vocabulary: None,
            systems,
            unanchored: Vec::new(),
            as_of: None,
        }
    }

    /// The slot of a window written in the program (see [`Plan::window_slots`]).
    fn window_slot(&self, window: &crate::program::Window) -> Option<usize> {
        self.window_slots
            .get(&std::ptr::from_ref(window).addr())
            .map(|s| *s as usize)
    }

    /// The date the records are known up to (`--as-of`): an ongoing fact (a condition or
    /// allergy without an end, a medication without an end date) is known to last until
    /// then, not forever. Without it, each record's `screening` anchor, else today. See
    /// docs/language.md, "The as-of date".
    pub fn with_as_of(mut self, as_of: Option<chrono::NaiveDate>) -> Plan {
        self.as_of = as_of;
        self
    }

    /// The as-of date of one record and where it comes from.
    fn as_of_for(&self, record: &PatientRecord) -> (chrono::NaiveDate, &'static str) {
        if let Some(d) = self.as_of {
            return (d, "--as-of");
        }
        if let Some(d) = record.anchors.get("screening") {
            return (*d, "the screening date");
        }
        (today(), "today")
    }

    /// With `reading`, numbers eligc computes for an explanation (conversions, multiples of
    /// the upper limit, dose equivalents) are rounded for a person to read, never across the
    /// boundary they are compared with; without it (the default, and what JSON wants) they
    /// are exact.
    pub fn round_for_reading(mut self, reading: bool) -> Plan {
        self.reading = reading;
        self
    }

    /// Adds a terminology read for this program ([`crate::vocab::load`]): a fact then also
    /// matches a concept when the vocabulary places its code under the concept's codes, and
    /// a code the vocabulary knows but places elsewhere is a definite "no".
    pub fn with_vocabulary(mut self, vocabulary: crate::vocab::Vocabulary) -> Plan {
        for (id, system, code) in &vocabulary.expansions {
            let ids = self
                .by_code
                .entry(*system)
                .or_default()
                .entry(code.to_string())
                .or_default();
            if !ids.contains(id) {
                ids.push(*id);
            }
        }
        self.unanchored = self
            .program
            .concepts
            .iter()
            .enumerate()
            .filter(|(_, c)| {
                crate::vocab::placed_kind(c.kind)
                    && !c.codes.iter().any(|(s, code)| vocabulary.knows(*s, code))
            })
            .map(|(i, _)| ConceptId(u32::try_from(i).unwrap_or(u32::MAX)))
            .collect();
        self.vocabulary = Some(vocabulary);
        self
    }

    /// Whether the vocabulary (if any) can say what is under this concept.
    fn anchored(&self, id: ConceptId) -> bool {
        !self.unanchored.contains(&id)
    }

    /// The terminology in use, if any.
    pub fn vocabulary(&self) -> Option<&crate::vocab::Vocabulary> {
        self.vocabulary.as_ref()
    }

    /// The program.
    pub fn program(&self) -> &Program {
        &self.program
    }

    /// The source text of a span, whitespace collapsed.
    pub fn quote(&self, span: Span) -> String {
        self.sources
            .slice(span)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The 1-based line a criterion starts on.
    fn line(&self, span: Span) -> usize {
        self.lines
            .get(&(span.file.0, span.start))
            .copied()
            .unwrap_or(0)
    }

    /// A unit from patient data, parsed once per distinct spelling and thread. Each worker
    /// thread keeps its own cache: one shared behind a lock cost two atomic operations per
    /// result, on a cache line every thread wrote to.
    fn unit(&self, text: &str) -> Option<Arc<Unit>> {
        thread_local! {
            static UNITS: std::cell::RefCell<HashMap<String, Option<Arc<Unit>>>> =
                std::cell::RefCell::new(HashMap::default());
        }
        /// Distinct spellings kept per thread; hostile data with more is parsed each time.
        const KEPT: usize = 4096;
        UNITS.with(|cache| {
            if let Some(u) = cache.try_borrow().ok().and_then(|c| c.get(text).cloned()) {
                return u;
            }
            let parsed = crate::units::parse_unit(text).ok().map(Arc::new);
            if let Ok(mut cache) = cache.try_borrow_mut() {
                if cache.len() < KEPT {
                    cache.insert(text.to_string(), parsed.clone());
                }
            }
            parsed
        })
    }

    /// Evaluates one patient. With `explain`, every check is recorded with its evidence.
    ///
    /// A fact whose `concept` name the vocabulary lacks is counted as unused here; use
    /// [`Plan::screen`] to reject such records instead.
    pub fn evaluate(&self, record: &PatientRecord, explain: bool) -> PatientResult {
        let facts = facts::Facts::resolve(self, record);
        self.evaluate_facts(record, &facts, explain)
    }

    /// Parses, validates and evaluates one record read from a file: what `eligc run` does
    /// for each record. `explain` says, by patient id, whether to record the checks.
    pub fn screen(
        &self,
        raw: &RawRecord,
        explain: impl Fn(&str) -> bool,
    ) -> Result<PatientResult, RecordError> {
        let record = raw.parse()?;
        let facts = facts::Facts::resolve(self, &record);
        if let Some((path, reason)) = &facts.bad_name {
            return Err(RecordError {
                file: raw.file.to_string(),
                line: raw.line,
                patient: Some(record.id.to_string()),
                path: path.clone(),
                reason: reason.clone(),
            });
        }
        Ok(self.evaluate_facts(&record, &facts, explain(&record.id)))
    }

    fn evaluate_facts(
        &self,
        record: &PatientRecord,
        facts: &facts::Facts<'_>,
        explain: bool,
    ) -> PatientResult {
        let ctx = leaf::Ctx {
            plan: self,
            as_of: self.as_of_for(record),
            facts,
            spans: std::cell::RefCell::new(Vec::new()),
            slots: vec![std::cell::Cell::new(None); self.windows],
            unplaced_hit: std::cell::Cell::new(false),
            without_unplaced: std::cell::Cell::new(false),
        };
        let mut criteria = Vec::with_capacity(self.lines.len());
        for c in &self.program.criteria {
            criterion(&ctx, c, None, 0, explain, &mut criteria);
        }
        let top: Vec<&CriterionResult> = criteria.iter().filter(|c| c.depth == 0).collect();
        let verdict = if top.iter().any(|c| c.excludes()) {
            Verdict::Ineligible
        } else if top.iter().any(|c| c.outcome == Outcome::Unknown) {
            Verdict::NeedsReview
        } else {
            Verdict::Eligible
        };
        let mut result = PatientResult {
            id: record.id.to_string(),
            verdict,
            criteria,
            unused_facts: facts.unused + usize::from(facts.bad_name.is_some()),
            unplaced_facts: facts.unplaced.len(),
            to_settle: Vec::new(),
            completed: record.completed.iter().map(|d| d.to_string()).collect(),
        };
        if explain {
            result.to_settle = render::to_settle(&result);
        }
        result
    }
}

/// The outcome of one criterion.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Its rule holds.
    Met,
    /// Its rule does not hold.
    NotMet,
    /// Data is missing to decide.
    Unknown,
    /// Its `applies if` does not hold.
    NotApplicable,
}

impl Outcome {
    /// Words for tables.
    pub fn word(self) -> &'static str {
        match self {
            Outcome::Met => "met",
            Outcome::NotMet => "not met",
            Outcome::Unknown => "unknown",
            Outcome::NotApplicable => "not applicable",
        }
    }
}

/// A patient's verdict.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every inclusion met or not applicable, no exclusion met, nothing unknown.
    Eligible,
    /// An inclusion not met or an exclusion met.
    Ineligible,
    /// Otherwise: something is unknown.
    NeedsReview,
}

impl Verdict {
    /// Words for tables.
    pub fn word(self) -> &'static str {
        match self {
            Verdict::Eligible => "eligible",
            Verdict::Ineligible => "ineligible",
            Verdict::NeedsReview => "needs review",
        }
    }
}

/// Which part of a criterion a check belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    /// `applies if`
    Applies,
    /// The rule.
    Rule,
    /// `unless`
    Unless,
}

/// One elementary test and what decided it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Check {
    /// The protocol's text of the test.
    pub text: String,
    /// Its value.
    pub result: Truth,
    /// The facts and dates that decided it, or what is missing.
    pub detail: String,
    /// The part of the criterion.
    pub part: Part,
    /// The definition it came through, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
    /// For an unknown check: what would settle it (the attestation to record, the result
    /// to obtain and its dates, the date or attribute a record lacks).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub settle: String,
}

/// The and/or structure of a criterion, over its checks: which branch decided.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Node {
    /// A check, by its index in the criterion's `checks`.
    Check(usize),
    /// Holds when every item holds (`and`; an `or` under `not`, shown as the protocol's
    /// negated checks).
    All {
        /// Its value.
        result: Truth,
        /// The items.
        items: Vec<Node>,
    },
    /// Holds when some item holds (`or`; an `and` under `not`).
    Any {
        /// Its value.
        result: Truth,
        /// The items.
        items: Vec<Node>,
    },
}

impl Node {
    /// The node's value; a check's is looked up in `checks`.
    pub fn result(&self, checks: &[Check]) -> Truth {
        match self {
            Node::Check(i) => checks.get(*i).map_or(Truth::Unknown, |c| c.result),
            Node::All { result, .. } | Node::Any { result, .. } => *result,
        }
    }

    /// The first check under this node (a group's part is its checks' part).
    pub fn first_check(&self) -> Option<usize> {
        match self {
            Node::Check(i) => Some(*i),
            Node::All { items, .. } | Node::Any { items, .. } => {
                items.iter().find_map(Node::first_check)
            }
        }
    }
}

/// One criterion's result.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct CriterionResult {
    /// Its id.
    pub id: Arc<str>,
    /// Inclusion or exclusion.
    pub kind: CriterionKind,
    /// The protocol's wording.
    pub wording: Arc<str>,
    /// The parent group's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<Arc<str>>,
    /// 0 for top-level criteria.
    pub depth: usize,
    /// The outcome.
    pub outcome: Outcome,
    /// The line of the protocol it is on.
    pub line: usize,
    /// The checks (only when explaining).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<Check>,
    /// The and/or structure over the checks: one node per part (`applies if`, the rule,
    /// `unless`), in that order (only when explaining).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub logic: Vec<Node>,
    /// Unknown because of facts eligc cannot place (a code no concept and no vocabulary
    /// places): without them one of its checks would be decided.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub unplaced: bool,
    /// For a group: the quantifier written (`any of`, `at least 4 of`), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quantifier: Option<crate::program::Quantifier>,
}

impl CriterionResult {
    /// Whether this outcome makes the patient ineligible (an inclusion not met, an exclusion met).
    pub fn excludes(&self) -> bool {
        matches!(
            (self.kind, self.outcome),
            (CriterionKind::Inclusion, Outcome::NotMet) | (CriterionKind::Exclusion, Outcome::Met)
        )
    }
}

/// A patient's result.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct PatientResult {
    /// The patient's id.
    pub id: String,
    /// The verdict.
    pub verdict: Verdict,
    /// Every criterion, depth first.
    pub criteria: Vec<CriterionResult>,
    /// Facts in the record that the protocol's vocabulary does not name.
    pub unused_facts: usize,
    /// Of those, the conditions, medications, immunizations and procedures eligc cannot
    /// place (see `CriterionResult::unplaced`).
    #[serde(skip_serializing_if = "is_zero")]
    pub unplaced_facts: usize,
    /// When explaining a patient who needs review: what would settle the verdict
    /// ([`render::to_settle`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub to_settle: Vec<render::Settle>,
    /// Domains the record lacked and that were read as "none recorded" because it was
    /// declared complete for them (`--complete`, the side file's `complete`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub completed: Vec<String>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl PatientResult {
    /// Ids of the most specific criteria that exclude the patient.
    pub fn excluding(&self) -> Vec<&str> {
        self.most_specific(CriterionResult::excludes)
    }

    /// Ids of the most specific criteria whose outcome is unknown.
    pub fn unknown(&self) -> Vec<&str> {
        self.most_specific(|c| c.outcome == Outcome::Unknown)
    }

    /// Criteria matching `pred` that have no child matching it.
    fn most_specific(&self, pred: impl Fn(&CriterionResult) -> bool) -> Vec<&str> {
        let matching: Vec<&CriterionResult> = self.criteria.iter().filter(|c| pred(c)).collect();
        // A few (every patient's case): searched, without building a set for each line.
        if matching.len() <= 16 {
            let is_parent = |id: &str| matching.iter().any(|c| c.parent.as_deref() == Some(id));
            return matching
                .iter()
                .filter(|c| !is_parent(&c.id))
                .map(|c| &*c.id)
                .collect();
        }
        // Many: looked up, not searched (with every criterion matching, a search was
        // quadratic).
        let parents: rustc_hash::FxHashSet<&str> = matching
            .iter()
            .filter_map(|c| c.parent.as_deref())
            .collect();
        matching
            .iter()
            .filter(|c| !parents.contains(&*c.id))
            .map(|c| &*c.id)
            .collect()
    }
}

fn criterion(
    ctx: &leaf::Ctx<'_>,
    c: &Criterion,
    parent: Option<&Arc<str>>,
    depth: usize,
    explain: bool,
    out: &mut Vec<CriterionResult>,
) -> Outcome {
    let index = out.len();
    out.push(CriterionResult {
        id: c.id.clone(),
        kind: c.kind,
        wording: c.wording.clone(),
        parent: parent.cloned(),
        depth,
        outcome: Outcome::Unknown,
        line: ctx.plan.line(c.span),
        checks: Vec::new(),
        logic: Vec::new(),
        unplaced: false,
        quantifier: c.quantifier,
    });
    let outer_unplaced = ctx.unplaced_hit.replace(false);
    let mut checks = Vec::new();
    let mut trace = leaf::Trace {
        checks: if explain { Some(&mut checks) } else { None },
        part: Part::Applies,
        via: None,
        negated: false,
        nodes: Vec::new(),
    };
    // Without explaining, conditions are evaluated by `truth`, which records nothing.
    let applies = c.applies.as_ref().map(|a| {
        if explain {
            ctx.cond(a, &mut trace)
        } else {
            ctx.truth(a)
        }
    });
    let body = match &c.body {
        CriterionBody::Rule { cond, unless } => {
            trace.part = Part::Rule;
            let holds = if explain {
                ctx.cond(cond, &mut trace)
            } else {
                ctx.truth(cond)
            };
            let value = match unless {
                Some(u) => {
                    trace.part = Part::Unless;
                    let unless = if explain {
                        ctx.cond(u, &mut trace)
                    } else {
                        ctx.truth(u)
                    };
                    holds.and(unless.not())
                }
                None => holds,
            };
            match value {
                Truth::True => Outcome::Met,
                Truth::False => Outcome::NotMet,
                Truth::Unknown => Outcome::Unknown,
            }
        }
        CriterionBody::Group(children) => {
            let outcomes: Vec<Outcome> = children
                .iter()
                .map(|child| criterion(ctx, child, Some(&c.id), depth + 1, explain, out))
                .collect();
            group_outcome(c.kind, c.quantifier, &outcomes)
        }
    };
    let outcome = match applies {
        None | Some(Truth::True) => body,
        Some(Truth::False) => Outcome::NotApplicable,
        // Applicability unknown: the body's outcome stands when it cannot exclude anyone.
        Some(Truth::Unknown) => match (c.kind, body) {
            (_, Outcome::NotApplicable) => Outcome::NotApplicable,
            (CriterionKind::Inclusion, Outcome::Met) => Outcome::Met,
            (CriterionKind::Exclusion, Outcome::NotMet) => Outcome::NotMet,
            _ => Outcome::Unknown,
        },
    };
    let logic = trace.nodes;
    let unplaced = ctx.unplaced_hit.get();
    ctx.unplaced_hit.set(outer_unplaced || unplaced);
    if let Some(r) = out.get_mut(index) {
        r.outcome = outcome;
        r.checks = checks;
        r.logic = logic;
        r.unplaced = unplaced && outcome == Outcome::Unknown;
    }
    outcome
}

/// A group is met when enough of its applicable children are: all of them (an inclusion
/// group's default), any (an exclusion group's default), or at least N. Unknown children
/// count as either.
fn group_outcome(
    kind: CriterionKind,
    quantifier: Option<crate::program::Quantifier>,
    children: &[Outcome],
) -> Outcome {
    use crate::program::Quantifier;
    let applicable: Vec<Truth> = children
        .iter()
        .filter_map(|o| match o {
            Outcome::Met => Some(Truth::True),
            Outcome::NotMet => Some(Truth::False),
            Outcome::Unknown => Some(Truth::Unknown),
            Outcome::NotApplicable => None,
        })
        .collect();
    if applicable.is_empty() {
        return Outcome::NotApplicable;
    }
    let value = match Quantifier::of(kind, quantifier) {
        Quantifier::All => Truth::all(applicable),
        Quantifier::Any => Truth::any(applicable),
        Quantifier::AtLeast(n) => {
            let n = n as usize;
            let met = applicable.iter().filter(|t| **t == Truth::True).count();
            let maybe = applicable.iter().filter(|t| **t == Truth::Unknown).count();
            if met >= n {
                Truth::True
            } else if met + maybe < n {
                Truth::False
            } else {
                Truth::Unknown
            }
        }
    };
    match value {
        Truth::True => Outcome::Met,
        Truth::False => Outcome::NotMet,
        Truth::Unknown => Outcome::Unknown,
    }
}

impl leaf::Ctx<'_> {
    /// Starts recording a group's items: returns the enclosing level's nodes.
    fn open_group(&self, trace: &mut leaf::Trace<'_>) -> Vec<Node> {
        if trace.checks.is_some() {
            std::mem::take(&mut trace.nodes)
        } else {
            Vec::new()
        }
    }

    /// Ends a group (`all` for `and`): its items become one node of the enclosing level.
    /// Under `not` the checks are shown negated, so an `and` reads as "any of" them.
    fn close_group(&self, trace: &mut leaf::Trace<'_>, outer: Vec<Node>, all: bool, value: Truth) {
        if trace.checks.is_none() {
            return;
        }
        let items = std::mem::replace(&mut trace.nodes, outer);
        let (all, result) = if trace.negated {
            (!all, value.not())
        } else {
            (all, value)
        };
        trace.nodes.push(if all {
            Node::All { result, items }
        } else {
            Node::Any { result, items }
        });
    }

    /// After an item of an `and` already false (an `or` already true) was evaluated, only to
    /// be explained: facts eligc cannot place in it did not make anything unknown, and
    /// without explaining it is not evaluated at all. `decided` holds the unplaced hit from
    /// before the item, restored so that `unplaced` is the same explained or not.
    fn after_decided(&self, decided: Option<bool>) {
        if let Some(hit) = decided {
            self.unplaced_hit.set(hit);
        }
    }

    /// Evaluates a condition without recording anything: what [`Self::cond`] gives when
    /// not explaining (an `and` stops at its first false item, an `or` at its first true
    /// one, so no item is evaluated only to be explained), without its bookkeeping.
    fn truth(&self, c: &Cond) -> Truth {
        match &c.kind {
            CondKind::And(items) => {
                let mut value = Truth::True;
                for item in items {
                    value = value.and(self.truth(item));
                    if value == Truth::False {
                        break;
                    }
                }
                value
            }
            CondKind::Or(items) => {
                let mut value = Truth::False;
                for item in items {
                    value = value.or(self.truth(item));
                    if value == Truth::True {
                        break;
                    }
                }
                value
            }
            CondKind::Not(inner) => self.truth(inner).not(),
            CondKind::Define(id) => self
                .plan
                .program
                .definition(*id)
                .map_or(Truth::Unknown, |def| self.truth(&def.cond)),
            _ => self.leaf(c, false).0,
        }
    }

    /// Evaluates a condition, recording leaf checks into `trace`.
    fn cond(&self, c: &Cond, trace: &mut leaf::Trace<'_>) -> Truth {
        match &c.kind {
            CondKind::And(items) => {
                let outer = self.open_group(trace);
                let mut value = Truth::True;
                for item in items {
                    let decided = (value == Truth::False).then(|| self.unplaced_hit.get());
                    value = value.and(self.cond(item, trace));
                    self.after_decided(decided);
                    if value == Truth::False && trace.checks.is_none() {
                        break;
                    }
                }
                self.close_group(trace, outer, true, value);
                value
            }
            CondKind::Or(items) => {
                let outer = self.open_group(trace);
                let mut value = Truth::False;
                for item in items {
                    let decided = (value == Truth::True).then(|| self.unplaced_hit.get());
                    value = value.or(self.cond(item, trace));
                    self.after_decided(decided);
                    if value == Truth::True && trace.checks.is_none() {
                        break;
                    }
                }
                self.close_group(trace, outer, false, value);
                value
            }
            CondKind::Not(inner) => {
                trace.negated = !trace.negated;
                let value = self.cond(inner, trace).not();
                trace.negated = !trace.negated;
                value
            }
            CondKind::Define(id) => match self.plan.program.definition(*id) {
                Some(def) => {
                    let outer = trace.via.replace(def.name.clone());
                    let value = self.cond(&def.cond, trace);
                    trace.via = outer;
                    value
                }
                None => Truth::Unknown,
            },
            _ => {
                let (value, detail) = self.leaf(c, trace.checks.is_some());
                if let Some(checks) = trace.checks.as_deref_mut() {
                    trace.nodes.push(Node::Check(checks.len()));
                    let quoted = self.plan.quote(c.span);
                    let (text, result) = if trace.negated {
                        (format!("not {quoted}"), value.not())
                    } else {
                        (quoted, value)
                    };
                    let settle = if value == Truth::Unknown {
                        self.settle(c, &detail)
                    } else {
                        String::new()
                    };
                    checks.push(Check {
                        text,
                        result,
                        detail,
                        part: trace.part,
                        via: trace.via.clone(),
                        settle,
                    });
                }
                value
            }
        }
    }
}

/// The slots of the program's windows (see [`Plan::window_slots`]) and how many there are.
fn window_slots(program: &Program) -> (HashMap<usize, u32>, usize) {
    use crate::program::Window;
    struct Walk {
        slots: HashMap<usize, u32>,
        distinct: HashMap<Window, u32>,
    }
    impl Walk {
        fn window(&mut self, w: &Window) {
            let next = u32::try_from(self.distinct.len()).unwrap_or(u32::MAX);
            let slot = *self.distinct.entry(*w).or_insert(next);
            self.slots.insert(std::ptr::from_ref(w).addr(), slot);
        }
        fn cond(&mut self, c: &Cond) {
            match &c.kind {
                CondKind::And(items) | CondKind::Or(items) => {
                    for item in items {
                        self.cond(item);
                    }
                }
                CondKind::Not(inner) => self.cond(inner),
                CondKind::Observation { window, .. } | CondKind::CountResults { window, .. } => {
                    self.window(window)
                }
                CondKind::Event(q)
                | CondKind::SelectEvent { query: q, .. }
                | CondKind::CountEvents { query: q, .. }
                | CondKind::CountDistinct { query: q, .. } => self.window(&q.window),
                CondKind::Dose(d) => self.window(&d.window),
                CondKind::Define(_)
                | CondKind::Attested(_)
                | CondKind::SexIs(_)
                | CondKind::Age { .. }
                | CondKind::Arithmetic { .. } => {}
            }
        }
        fn criterion(&mut self, c: &Criterion) {
            if let Some(a) = &c.applies {
                self.cond(a);
            }
            match &c.body {
                CriterionBody::Rule { cond, unless } => {
                    self.cond(cond);
                    if let Some(u) = unless {
                        self.cond(u);
                    }
                }
                CriterionBody::Group(children) => {
                    for child in children {
                        self.criterion(child);
                    }
                }
            }
        }
    }
    let mut walk = Walk {
        slots: HashMap::default(),
        distinct: HashMap::default(),
    };
    for d in &program.definitions {
        walk.cond(&d.cond);
    }
    for c in &program.criteria {
        walk.criterion(c);
    }
    let count = walk.distinct.len();
    (walk.slots, count)
}

/// Today's date (UTC), from the system clock.
fn today() -> chrono::NaiveDate {
    let days = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 86_400);
    chrono::NaiveDate::from_ymd_opt(1970, 1, 1)
        .and_then(|epoch| epoch.checked_add_days(chrono::Days::new(days)))
        .unwrap_or_default()
}
