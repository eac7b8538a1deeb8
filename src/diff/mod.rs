//! Meaning-level comparison of two versions of a protocol, for amendments.
//!
//! Criteria are matched by id. For a criterion present in both versions, a change of wording
//! is reported apart from a change of meaning, and meaning is compared on the checked
//! [`Program`], not on the text: thresholds after unit conversion (exactly, with
//! [`crate::units::Unit::compare`]), windows by the dates they cover, concept sets by their
//! flattened members (so a set whose declaration changed changes every criterion using it),
//! definitions by what they expand to. Each change says whether it widens or narrows who is
//! eligible, when that can be decided; see `docs/amendments.md` for the rules.
//!
//! [`impact`] re-screens patients under both versions.

pub mod impact;
mod leaf;
pub mod render;

use std::cmp::Ordering;
use std::collections::HashMap;

use crate::ast::CriterionKind;
use crate::eval::Plan;
use crate::program::{Cond, CondKind, Criterion, CriterionBody, Program};

/// Whether a change lets more or fewer patients be eligible.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    /// No patient eligible under the old version loses eligibility; some may gain it.
    Widens,
    /// No patient ineligible under the old version gains eligibility; some may lose it.
    Narrows,
    /// It depends on the patient (or the change is mixed).
    Undetermined,
}

impl Effect {
    /// The word for reports.
    pub fn word(self) -> &'static str {
        match self {
            Effect::Widens => "widens",
            Effect::Narrows => "narrows",
            Effect::Undetermined => "undetermined",
        }
    }

    /// The combined effect of several changes.
    pub fn combine(effects: impl IntoIterator<Item = Effect>) -> Option<Effect> {
        let mut out = None;
        for e in effects {
            out = Some(match out {
                None => e,
                Some(prev) if prev == e => e,
                Some(_) => Effect::Undetermined,
            });
        }
        out
    }
}

/// How the new version of a test relates to the old one, over all patients.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Rel {
    /// Holds for the same patients.
    Same,
    /// Holds for at least the patients it held for (and maybe more).
    Weaker,
    /// Holds for at most the patients it held for.
    Stronger,
    /// Neither, or it cannot be told.
    Unknown,
}

impl Rel {
    /// The relation of the negation.
    pub(crate) fn flip(self) -> Rel {
        match self {
            Rel::Weaker => Rel::Stronger,
            Rel::Stronger => Rel::Weaker,
            r => r,
        }
    }

    /// From an ordering of new against old, where larger means weaker.
    pub(crate) fn from_larger_is_weaker(ord: Option<Ordering>) -> Rel {
        match ord {
            Some(Ordering::Equal) => Rel::Same,
            Some(Ordering::Greater) => Rel::Weaker,
            Some(Ordering::Less) => Rel::Stronger,
            None => Rel::Unknown,
        }
    }

    /// The effect on eligibility when the test's truth counts for eligibility with `sign`
    /// (+1: true more often lets more patients in; -1: keeps more out).
    fn effect(self, sign: i8) -> Option<Effect> {
        match (self, sign > 0) {
            (Rel::Same, _) => None,
            (Rel::Unknown, _) => Some(Effect::Undetermined),
            (Rel::Weaker, true) | (Rel::Stronger, false) => Some(Effect::Widens),
            (Rel::Weaker, false) | (Rel::Stronger, true) => Some(Effect::Narrows),
        }
    }
}

/// What kind of change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Aspect {
    /// The criterion is new.
    CriterionAdded,
    /// The criterion was removed.
    CriterionRemoved,
    /// Inclusion became exclusion or the other way.
    Kind,
    /// Moved to another group.
    Parent,
    /// A threshold or comparison.
    Threshold,
    /// A time window.
    Window,
    /// Members of a concept set (or the concept tested).
    Members,
    /// Codes of a concept.
    Codes,
    /// Minimum exposure (`taken for`), sustained duration.
    Duration,
    /// `latest` / `any` / `all` / `no`.
    Mode,
    /// `where` filters.
    Filters,
    /// Dose equivalence (reference drug, factors, per kg).
    Equivalence,
    /// `applies if` added, removed or changed.
    Applicability,
    /// `unless` added, removed or changed.
    Exception,
    /// A condition added to or removed from an `and` / `or`.
    Condition,
    /// Any other change: both renderings are given.
    Logic,
}

impl Aspect {
    /// The word for reports.
    pub fn word(self) -> &'static str {
        match self {
            Aspect::CriterionAdded => "criterion added",
            Aspect::CriterionRemoved => "criterion removed",
            Aspect::Kind => "kind changed",
            Aspect::Parent => "moved",
            Aspect::Threshold => "threshold",
            Aspect::Window => "window",
            Aspect::Members => "members",
            Aspect::Codes => "codes",
            Aspect::Duration => "duration",
            Aspect::Mode => "selection",
            Aspect::Filters => "filters",
            Aspect::Equivalence => "equivalence",
            Aspect::Applicability => "applicability",
            Aspect::Exception => "exception",
            Aspect::Condition => "condition",
            Aspect::Logic => "logic changed",
        }
    }
}

/// The part of a criterion a change is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    /// The criterion as a whole.
    Criterion,
    /// `applies if`.
    Applies,
    /// The rule.
    Rule,
    /// `unless`.
    Unless,
}

/// One change of meaning.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Change {
    /// What changed.
    pub aspect: Aspect,
    /// Where in the criterion.
    pub part: Part,
    /// In words.
    pub description: String,
    /// The old text or value, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<String>,
    /// The new text or value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<String>,
    /// Concept names added (for [`Aspect::Members`] and [`Aspect::Codes`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub added: Vec<String>,
    /// Concept names removed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<String>,
    /// Its effect on who is eligible.
    pub effect: Effect,
}

/// What happened to a criterion.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Only in the new version.
    Added,
    /// Only in the old version.
    Removed,
    /// Its meaning changed (its wording may have too).
    Changed,
    /// Only its wording changed.
    WordingOnly,
}

/// A wording before and after.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Wording {
    /// The old wording.
    pub old: String,
    /// The new wording.
    pub new: String,
}

/// One criterion that differs.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct CriterionDiff {
    /// Its id.
    pub id: String,
    /// Inclusion or exclusion (in the new version, if it is in it).
    pub kind: CriterionKind,
    /// Its group, if it is a sub-criterion.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// What happened.
    pub status: Status,
    /// The wording of an added or removed criterion.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The rule of an added or removed criterion, as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// A change of wording, apart from meaning.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wording: Option<Wording>,
    /// Changes of meaning.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<Change>,
    /// The combined effect of the changes of meaning (none for a wording change alone).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effect: Option<Effect>,
}

/// A protocol's title and version.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Header {
    /// The title.
    pub title: String,
    /// The version.
    pub version: Option<String>,
}

/// Counts over the criteria that differ.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    /// Criteria added.
    pub added: usize,
    /// Criteria removed.
    pub removed: usize,
    /// Criteria whose meaning changed.
    pub changed: usize,
    /// Criteria whose wording alone changed.
    pub wording_only: usize,
    /// Criteria (added, removed or changed) that widen eligibility.
    pub widens: usize,
    /// ... that narrow it.
    pub narrows: usize,
    /// ... whose effect is undetermined.
    pub undetermined: usize,
}

/// The differences between two versions of a protocol.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Diff {
    /// The old version's header.
    pub old: Header,
    /// The new version's header.
    pub new: Header,
    /// Criteria that differ, in the new version's order (removed ones where they stood).
    pub criteria: Vec<CriterionDiff>,
    /// Counts.
    pub counts: Counts,
}

impl Diff {
    /// Whether nothing differs (wording included).
    pub fn is_empty(&self) -> bool {
        self.criteria.is_empty()
    }
}

/// One version: the program and its sources (for quoting).
#[derive(Clone, Copy)]
pub(crate) struct Side<'a> {
    pub(crate) plan: &'a Plan,
}

impl<'a> Side<'a> {
    pub(crate) fn program(&self) -> &'a Program {
        self.plan.program()
    }

    /// A condition with definitions followed to what they stand for.
    pub(crate) fn resolve(&self, mut c: &'a Cond) -> &'a Cond {
        // Definitions are acyclic (checked); the bound only guards against a bad program.
        for _ in 0..=self.program().definitions.len() {
            match &c.kind {
                CondKind::Define(id) => match self.program().definition(*id) {
                    Some(def) => c = &def.cond,
                    None => return c,
                },
                _ => return c,
            }
        }
        c
    }

    pub(crate) fn quote(&self, c: &Cond) -> String {
        self.plan.quote(c.span)
    }
}

/// Compares two versions of a protocol.
pub fn diff(old: &Plan, new: &Plan) -> Diff {
    let (o, n) = (Side { plan: old }, Side { plan: new });
    let old_all = flatten(o.program());
    let new_all = flatten(n.program());
    let old_by_id: HashMap<&str, &(Option<&str>, &Criterion)> =
        old_all.iter().map(|e| (&*e.1.id, e)).collect();
    let new_by_id: HashMap<&str, &(Option<&str>, &Criterion)> =
        new_all.iter().map(|e| (&*e.1.id, e)).collect();

    let mut criteria = Vec::new();
    // Removed criteria are placed after the criterion that preceded them in the old version.
    let mut removed_after: HashMap<Option<&str>, Vec<CriterionDiff>> = HashMap::new();
    for (parent, c) in &old_all {
        if !new_by_id.contains_key(&*c.id) {
            // Only the outermost removed criterion is listed; its sub-criteria go with it.
            if !parent.is_some_and(|p| !new_by_id.contains_key(p)) {
                let anchor = last_kept_before(&old_all, &c.id, &new_by_id);
                removed_after
                    .entry(anchor)
                    .or_default()
                    .push(added_or_removed(o, c, *parent, false));
            }
        }
    }
    if let Some(first) = removed_after.remove(&None) {
        criteria.extend(first);
    }
    for (parent, c) in &new_all {
        match old_by_id.get(&*c.id) {
            None => {
                if !parent.is_some_and(|p| !old_by_id.contains_key(p)) {
                    criteria.push(added_or_removed(n, c, *parent, true));
                }
            }
            Some((old_parent, old_c)) => {
                if let Some(d) = compare_criterion(o, n, old_c, *old_parent, c, *parent) {
                    criteria.push(d);
                }
            }
        }
        if let Some(removed) = removed_after.remove(&Some(&*c.id)) {
            criteria.extend(removed);
        }
    }
    // Anything left (its anchor was itself removed): at the end, in old order.
    let mut rest: Vec<CriterionDiff> = removed_after.into_values().flatten().collect();
    let order: HashMap<&str, usize> = old_all
        .iter()
        .enumerate()
        .map(|(i, (_, c))| (&*c.id, i))
        .collect();
    rest.sort_by_key(|d| order.get(d.id.as_str()).copied().unwrap_or(usize::MAX));
    criteria.extend(rest);

    let mut counts = Counts::default();
    for d in &criteria {
        match d.status {
            Status::Added => counts.added += 1,
            Status::Removed => counts.removed += 1,
            Status::Changed => counts.changed += 1,
            Status::WordingOnly => counts.wording_only += 1,
        }
        match d.effect {
            Some(Effect::Widens) => counts.widens += 1,
            Some(Effect::Narrows) => counts.narrows += 1,
            Some(Effect::Undetermined) => counts.undetermined += 1,
            None => {}
        }
    }
    Diff {
        old: header(o.program()),
        new: header(n.program()),
        criteria,
        counts,
    }
}

fn header(p: &Program) -> Header {
    Header {
        title: p.title.clone(),
        version: p.version.clone(),
    }
}

/// Every criterion with its parent's id, depth first.
fn flatten(p: &Program) -> Vec<(Option<&str>, &Criterion)> {
    fn walk<'a>(
        c: &'a Criterion,
        parent: Option<&'a str>,
        out: &mut Vec<(Option<&'a str>, &'a Criterion)>,
    ) {
        out.push((parent, c));
        if let CriterionBody::Group(children) = &c.body {
            for child in children {
                walk(child, Some(&c.id), out);
            }
        }
    }
    let mut out = Vec::new();
    for c in &p.criteria {
        walk(c, None, &mut out);
    }
    out
}

/// The id of the last criterion before `id` in the old order that the new version keeps.
fn last_kept_before<'a>(
    old_all: &[(Option<&'a str>, &'a Criterion)],
    id: &str,
    new_by_id: &HashMap<&str, &(Option<&str>, &Criterion)>,
) -> Option<&'a str> {
    let mut last = None;
    for (_, c) in old_all {
        if &*c.id == id {
            break;
        }
        if new_by_id.contains_key(&*c.id) {
            last = Some(&*c.id);
        }
    }
    last
}

/// The text of a criterion's rule (or its sub-criteria's ids).
fn rule_text(side: Side<'_>, c: &Criterion) -> String {
    let mut text = String::new();
    if let Some(a) = &c.applies {
        text.push_str("applies if ");
        text.push_str(&side.quote(a));
        text.push_str(": ");
    }
    match &c.body {
        CriterionBody::Rule { cond, unless } => {
            text.push_str(&side.quote(cond));
            if let Some(u) = unless {
                text.push_str(" unless ");
                text.push_str(&side.quote(u));
            }
        }
        CriterionBody::Group(children) => {
            let ids: Vec<&str> = children.iter().map(|c| &*c.id).collect();
            text.push_str(&format!("a group of {}", ids.join(", ")));
        }
    }
    text
}

fn added_or_removed(
    side: Side<'_>,
    c: &Criterion,
    parent: Option<&str>,
    added: bool,
) -> CriterionDiff {
    let kind = c.kind.keyword();
    let (aspect, description, effect) = if added {
        (
            Aspect::CriterionAdded,
            format!("new {kind} criterion: one more condition every patient is screened against"),
            Effect::Narrows,
        )
    } else {
        (
            Aspect::CriterionRemoved,
            format!("{kind} criterion removed: patients are no longer screened against it"),
            Effect::Widens,
        )
    };
    CriterionDiff {
        id: c.id.to_string(),
        kind: c.kind,
        parent: parent.map(str::to_string),
        status: if added {
            Status::Added
        } else {
            Status::Removed
        },
        text: Some(c.wording.to_string()),
        rule: Some(rule_text(side, c)),
        wording: None,
        changes: vec![Change {
            aspect,
            part: Part::Criterion,
            description,
            old: None,
            new: None,
            added: Vec::new(),
            removed: Vec::new(),
            effect,
        }],
        effect: Some(effect),
    }
}

/// The sign of a criterion's rule for eligibility: an inclusion's rule holding lets the
/// patient in, an exclusion's keeps them out.
fn rule_sign(kind: CriterionKind) -> i8 {
    match kind {
        CriterionKind::Inclusion => 1,
        CriterionKind::Exclusion => -1,
    }
}

fn compare_criterion(
    o: Side<'_>,
    n: Side<'_>,
    old: &Criterion,
    old_parent: Option<&str>,
    new: &Criterion,
    new_parent: Option<&str>,
) -> Option<CriterionDiff> {
    let mut changes = Vec::new();
    let mut cx = Cx {
        o,
        n,
        part: Part::Criterion,
        out: &mut changes,
        same: std::cell::RefCell::new(HashMap::new()),
    };
    if old_parent != new_parent {
        cx.push(
            Aspect::Parent,
            format!(
                "moved from {} to {}",
                old_parent.map_or("the top level".to_string(), |p| format!("group {p}")),
                new_parent.map_or("the top level".to_string(), |p| format!("group {p}"))
            ),
            None,
            None,
            Effect::Undetermined,
        );
    }
    if old.kind != new.kind {
        cx.push(
            Aspect::Kind,
            format!(
                "was an {}, is now an {}",
                old.kind.keyword(),
                new.kind.keyword()
            ),
            Some(old.kind.keyword().to_string()),
            Some(new.kind.keyword().to_string()),
            Effect::Undetermined,
        );
    } else {
        // Applicability: applying to more patients means more must pass it.
        cx.part = Part::Applies;
        match (&old.applies, &new.applies) {
            (None, None) => {}
            (Some(a), None) => cx.push(
                Aspect::Applicability,
                "`applies if` removed: the criterion now applies to every patient".to_string(),
                Some(o.quote(a)),
                None,
                Effect::Narrows,
            ),
            (None, Some(b)) => cx.push(
                Aspect::Applicability,
                "`applies if` added: the criterion now applies only to some patients".to_string(),
                None,
                Some(n.quote(b)),
                Effect::Widens,
            ),
            (Some(a), Some(b)) => cx.cond(a, b, -1),
        }
        let sign = rule_sign(new.kind);
        match (&old.body, &new.body) {
            (
                CriterionBody::Rule {
                    cond: oc,
                    unless: ou,
                },
                CriterionBody::Rule {
                    cond: nc,
                    unless: nu,
                },
            ) => {
                cx.part = Part::Rule;
                cx.cond(oc, nc, sign);
                cx.part = Part::Unless;
                match (ou, nu) {
                    (None, None) => {}
                    (Some(a), None) => cx.push(
                        Aspect::Exception,
                        "exception (`unless`) removed".to_string(),
                        Some(o.quote(a)),
                        None,
                        Rel::Weaker.effect(sign).unwrap_or(Effect::Undetermined),
                    ),
                    (None, Some(b)) => cx.push(
                        Aspect::Exception,
                        "exception (`unless`) added".to_string(),
                        None,
                        Some(n.quote(b)),
                        Rel::Stronger.effect(sign).unwrap_or(Effect::Undetermined),
                    ),
                    (Some(a), Some(b)) => cx.cond(a, b, -sign),
                }
            }
            (CriterionBody::Group(_), CriterionBody::Group(_)) => {
                // Sub-criteria are matched by id on their own; the quantifier is compared here.
                let q = |c: &Criterion| crate::program::Quantifier::of(c.kind, c.quantifier);
                if q(old) != q(new) {
                    cx.part = Part::Rule;
                    cx.push(
                        Aspect::Logic,
                        "how many sub-criteria must be met".to_string(),
                        Some(q(old).text()),
                        Some(q(new).text()),
                        Effect::Undetermined,
                    );
                }
            }
            _ => {
                cx.part = Part::Rule;
                cx.push(
                    Aspect::Logic,
                    "a rule became a group of sub-criteria, or the other way".to_string(),
                    Some(rule_text(o, old)),
                    Some(rule_text(n, new)),
                    Effect::Undetermined,
                );
            }
        }
    }
    let wording = (old.wording != new.wording).then(|| Wording {
        old: old.wording.to_string(),
        new: new.wording.to_string(),
    });
    if changes.is_empty() && wording.is_none() {
        return None;
    }
    let effect = Effect::combine(changes.iter().map(|c| c.effect));
    Some(CriterionDiff {
        id: new.id.to_string(),
        kind: new.kind,
        parent: new_parent.map(str::to_string),
        status: if changes.is_empty() {
            Status::WordingOnly
        } else {
            Status::Changed
        },
        text: None,
        rule: None,
        wording,
        changes,
        effect,
    })
}

/// Comparing two conditions, collecting changes.
pub(crate) struct Cx<'a, 'o> {
    pub(crate) o: Side<'a>,
    pub(crate) n: Side<'a>,
    pub(crate) part: Part,
    pub(crate) out: &'o mut Vec<Change>,
    /// Answers of [`Cx::same`] by the two conditions' addresses: a definition used twice by
    /// the next, over and over, would otherwise be compared an exponential number of times.
    pub(crate) same: std::cell::RefCell<HashMap<(usize, usize), bool>>,
}

impl<'a> Cx<'a, '_> {
    pub(crate) fn push(
        &mut self,
        aspect: Aspect,
        description: String,
        old: Option<String>,
        new: Option<String>,
        effect: Effect,
    ) {
        self.out.push(Change {
            aspect,
            part: self.part,
            description,
            old,
            new,
            added: Vec::new(),
            removed: Vec::new(),
            effect,
        });
    }

    /// Whether two conditions mean the same for every patient (as far as can be told from
    /// their structure: `and` / `or` items in any order).
    pub(crate) fn same(&self, a: &'a Cond, b: &'a Cond) -> bool {
        let (a, b) = (self.o.resolve(a), self.n.resolve(b));
        let key = (
            std::ptr::from_ref(a) as usize,
            std::ptr::from_ref(b) as usize,
        );
        if let Some(known) = self.same.borrow().get(&key) {
            return *known;
        }
        let same = self.same_uncached(a, b);
        self.same.borrow_mut().insert(key, same);
        same
    }

    fn same_uncached(&self, a: &'a Cond, b: &'a Cond) -> bool {
        match (&a.kind, &b.kind) {
            (CondKind::And(x), CondKind::And(y)) | (CondKind::Or(x), CondKind::Or(y)) => {
                x.len() == y.len() && self.match_same(x, y).0.is_empty()
            }
            (CondKind::Not(x), CondKind::Not(y)) => self.same(x, y),
            _ => leaf::compare(self.o, self.n, a, b)
                .is_some_and(|details| details.iter().all(|d| d.rel == Rel::Same)),
        }
    }

    /// Pairs equal items; returns the unmatched old and new items, in order.
    fn match_same(&self, x: &'a [Cond], y: &'a [Cond]) -> (Vec<&'a Cond>, Vec<&'a Cond>) {
        let mut rest_new: Vec<&Cond> = y.iter().collect();
        let mut rest_old = Vec::new();
        for a in x {
            match rest_new.iter().position(|b| self.same(a, b)) {
                Some(i) => {
                    rest_new.remove(i);
                }
                None => rest_old.push(a),
            }
        }
        (rest_old, rest_new)
    }

    /// Compares `a` (old) with `b` (new); `sign` is +1 where the condition holding lets
    /// patients in, -1 where it keeps them out.
    pub(crate) fn cond(&mut self, a: &'a Cond, b: &'a Cond, sign: i8) {
        if self.same(a, b) {
            return;
        }
        let (a, b) = (self.o.resolve(a), self.n.resolve(b));
        match (&a.kind, &b.kind) {
            (CondKind::And(x), CondKind::And(y)) => {
                self.items(x.iter().collect(), y.iter().collect(), true, sign)
            }
            (CondKind::Or(x), CondKind::Or(y)) => {
                self.items(x.iter().collect(), y.iter().collect(), false, sign)
            }
            (CondKind::And(x), _) if !matches!(b.kind, CondKind::Or(_)) => {
                self.items(x.iter().collect(), vec![b], true, sign);
            }
            (_, CondKind::And(y)) if !matches!(a.kind, CondKind::Or(_)) => {
                self.items(vec![a], y.iter().collect(), true, sign);
            }
            (CondKind::Or(x), _) if !matches!(b.kind, CondKind::And(_)) => {
                self.items(x.iter().collect(), vec![b], false, sign);
            }
            (_, CondKind::Or(y)) if !matches!(a.kind, CondKind::And(_)) => {
                self.items(vec![a], y.iter().collect(), false, sign);
            }
            (CondKind::Not(x), CondKind::Not(y)) => self.cond(x, y, -sign),
            _ => match leaf::compare(self.o, self.n, a, b) {
                Some(details) => {
                    for d in details {
                        if let Some(effect) = d.rel.effect(sign) {
                            self.out.push(Change {
                                aspect: d.aspect,
                                part: self.part,
                                description: d.description,
                                old: d.old,
                                new: d.new,
                                added: d.added,
                                removed: d.removed,
                                effect,
                            });
                        }
                    }
                }
                None => self.logic(a, b),
            },
        }
    }

    fn logic(&mut self, a: &Cond, b: &Cond) {
        self.push(
            Aspect::Logic,
            "the condition was rewritten".to_string(),
            Some(self.o.quote(a)),
            Some(self.n.quote(b)),
            Effect::Undetermined,
        );
    }

    /// The items of an `and` (`conj`) or an `or`.
    fn items(&mut self, x: Vec<&'a Cond>, y: Vec<&'a Cond>, conj: bool, sign: i8) {
        // Equal items first, then items about the same thing (compared in detail), then
        // whatever is left is added or removed.
        let mut rest_new = y;
        let mut rest_old = Vec::new();
        for a in x {
            match rest_new.iter().position(|b| self.same(a, b)) {
                Some(i) => {
                    rest_new.remove(i);
                }
                None => rest_old.push(a),
            }
        }
        let mut unpaired_old = Vec::new();
        for a in rest_old {
            let found = rest_new.iter().position(|b| {
                let (ra, rb) = (self.o.resolve(a), self.n.resolve(b));
                leaf::compare(self.o, self.n, ra, rb).is_some()
            });
            match found {
                Some(i) => {
                    let b = rest_new.remove(i);
                    self.cond(a, b, sign);
                }
                None => unpaired_old.push(a),
            }
        }
        // Compound items left on both sides are compared in order.
        let mut unpaired_new = Vec::new();
        let mut olds = unpaired_old.into_iter().peekable();
        for b in rest_new {
            let compound = |c: &Cond| {
                matches!(
                    c.kind,
                    CondKind::And(_) | CondKind::Or(_) | CondKind::Not(_)
                )
            };
            if compound(self.n.resolve(b)) {
                if let Some(a) = olds.next_if(|a| compound(self.o.resolve(a))) {
                    self.cond(a, b, sign);
                    continue;
                }
            }
            unpaired_new.push(b);
        }
        let unpaired_old: Vec<&Cond> = olds.collect();
        let (word, added_rel, removed_rel) = if conj {
            ("`and`", Rel::Stronger, Rel::Weaker)
        } else {
            ("`or`", Rel::Weaker, Rel::Stronger)
        };
        for a in unpaired_old {
            let effect = removed_rel.effect(sign).unwrap_or(Effect::Undetermined);
            self.push(
                Aspect::Condition,
                format!("condition removed (it was joined by {word})"),
                Some(self.o.quote(a)),
                None,
                effect,
            );
        }
        for b in unpaired_new {
            let effect = added_rel.effect(sign).unwrap_or(Effect::Undetermined);
            self.push(
                Aspect::Condition,
                format!("condition added (joined by {word})"),
                None,
                Some(self.n.quote(b)),
                effect,
            );
        }
    }
}
