//! Patients whose verdict an amendment changes: each record is screened under both versions
//! (as `eligc run` screens it) and the results compared criterion by criterion.

use std::collections::BTreeMap;

use crate::eval::{CriterionResult, Outcome, PatientResult, Plan, Verdict};
use crate::facts::{RawRecord, RecordError};

/// One criterion whose outcome differs for a patient.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct OutcomeChange {
    /// The criterion's id.
    pub id: String,
    /// Its outcome under the old version (`None`: not in it).
    pub old: Option<Outcome>,
    /// Under the new version (`None`: not in it).
    pub new: Option<Outcome>,
}

/// A patient whose verdict changes.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct PatientChange {
    /// The patient's id.
    pub id: String,
    /// The old verdict.
    pub old: Verdict,
    /// The new verdict.
    pub new: Verdict,
    /// The criteria whose outcome differs, in the new version's order (removed ones last).
    pub criteria: Vec<OutcomeChange>,
}

/// How many patients moved from one verdict to another.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Transition {
    /// The old verdict.
    pub old: Verdict,
    /// The new verdict.
    pub new: Verdict,
    /// How many patients.
    pub count: usize,
}

/// Verdict counts under one version.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct VerdictCounts {
    /// Eligible.
    pub eligible: usize,
    /// Ineligible.
    pub ineligible: usize,
    /// Needs review.
    pub needs_review: usize,
}

impl VerdictCounts {
    fn add(&mut self, v: Verdict) {
        match v {
            Verdict::Eligible => self.eligible += 1,
            Verdict::Ineligible => self.ineligible += 1,
            Verdict::NeedsReview => self.needs_review += 1,
        }
    }
}

/// The impact of an amendment on a set of patients.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Impact {
    /// Records read.
    pub read: usize,
    /// Records rejected as malformed (under either version); not compared.
    pub rejected: usize,
    /// Patients whose verdict changed.
    pub changed: usize,
    /// Patients whose verdict is the same but some criterion's outcome changed.
    pub outcomes_only: usize,
    /// Patients with the same verdict and outcomes.
    pub unchanged: usize,
    /// Verdicts under the old version (screened records only).
    pub old_verdicts: VerdictCounts,
    /// Verdicts under the new version.
    pub new_verdicts: VerdictCounts,
    /// Counts by transition (old → new), most frequent first.
    pub transitions: Vec<Transition>,
    /// The patients whose verdict changed, in input order.
    pub patients: Vec<PatientChange>,
}

/// The outcome of screening one record under both versions.
pub type Screened = Result<(PatientResult, PatientResult), RecordError>;

/// Screens one record under both versions, as [`Plan::screen`] does.
pub fn screen_both(old: &Plan, new: &Plan, raw: &RawRecord) -> Screened {
    let a = old.screen(raw, |_| false)?;
    let b = new.screen(raw, |_| false)?;
    Ok((a, b))
}

impl Impact {
    /// Adds one screened record; a rejected record's error is returned for reporting.
    pub fn add(&mut self, screened: Screened) -> Option<RecordError> {
        self.read += 1;
        let (a, b) = match screened {
            Ok(pair) => pair,
            Err(e) => {
                self.rejected += 1;
                return Some(e);
            }
        };
        self.old_verdicts.add(a.verdict);
        self.new_verdicts.add(b.verdict);
        let criteria = outcome_changes(&a.criteria, &b.criteria);
        if a.verdict != b.verdict {
            self.changed += 1;
            self.patients.push(PatientChange {
                id: b.id,
                old: a.verdict,
                new: b.verdict,
                criteria,
            });
        } else if criteria.is_empty() {
            self.unchanged += 1;
        } else {
            self.outcomes_only += 1;
        }
        None
    }

    /// Fills in [`Impact::transitions`] from the patients: call once all are added.
    pub fn finish(&mut self) {
        let mut by: BTreeMap<(Verdict, Verdict), usize> = BTreeMap::new();
        for p in &self.patients {
            *by.entry((p.old, p.new)).or_default() += 1;
        }
        let mut transitions: Vec<Transition> = by
            .into_iter()
            .map(|((old, new), count)| Transition { old, new, count })
            .collect();
        transitions.sort_by_key(|t| std::cmp::Reverse(t.count));
        self.transitions = transitions;
    }
}

/// How an outcome weighs on the verdict; a criterion a version does not have lets the
/// patient through.
fn weight(kind: crate::ast::CriterionKind, o: Option<Outcome>) -> u8 {
    use crate::ast::CriterionKind::{Exclusion, Inclusion};
    match (kind, o) {
        (Inclusion, Some(Outcome::NotMet)) | (Exclusion, Some(Outcome::Met)) => 2,
        (_, Some(Outcome::Unknown)) => 1,
        _ => 0,
    }
}

/// Criteria whose outcome differs: for a criterion in both versions, any difference; for an
/// added or removed one, only when it excludes the patient or is unknown.
fn outcome_changes(old: &[CriterionResult], new: &[CriterionResult]) -> Vec<OutcomeChange> {
    let mut out = Vec::new();
    for b in new {
        let before = old.iter().find(|a| a.id == b.id).map(|a| a.outcome);
        let differs = match before {
            Some(o) => o != b.outcome,
            None => weight(b.kind, Some(b.outcome)) > 0,
        };
        if differs {
            out.push(OutcomeChange {
                id: b.id.to_string(),
                old: before,
                new: Some(b.outcome),
            });
        }
    }
    for a in old {
        if !new.iter().any(|b| b.id == a.id) && weight(a.kind, Some(a.outcome)) > 0 {
            out.push(OutcomeChange {
                id: a.id.to_string(),
                old: Some(a.outcome),
                new: None,
            });
        }
    }
    out
}
