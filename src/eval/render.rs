//! Screening results for people: one table line per patient, a readable explanation with
//! the deciding facts, the worklist of what is missing, and the screening funnel.

use std::fmt::Write as _;

use rustc_hash::FxHashMap as HashMap;

use super::{CriterionResult, Node, Outcome, Part, PatientResult, Truth, Verdict};
use crate::ast::CriterionKind;
use crate::terminal::escape;

/// The table's header line.
/// The table's header line, for patient ids up to `id_width` characters wide.
pub fn table_header(id_width: usize) -> String {
    format!(
        "{:<id_width$} {:<13} {:<28} {}",
        "PATIENT", "VERDICT", "EXCLUDED BY", "UNKNOWN"
    )
}

/// The width of the table's patient column for these ids: at least 16, at most 40.
pub fn id_width<'a>(ids: impl IntoIterator<Item = &'a str>) -> usize {
    ids.into_iter()
        .map(|id| escape(id).chars().count())
        .max()
        .unwrap_or(0)
        .clamp(16, 40)
}

/// One table line: id, verdict, the criteria that exclude, the criteria that are unknown.
pub fn table_line(r: &PatientResult, id_width: usize) -> String {
    // Written into one string, as `format!("{:<id_width$} {:<13} {:<28} {}", ...)` with its
    // end trimmed would write it (padding counts `char`s), without the formatting machinery
    // and the intermediate strings: a tenth of the writer thread's time.
    let mut line = String::with_capacity(96);
    pad(&mut line, &escape(&r.id), id_width);
    line.push(' ');
    pad(&mut line, r.verdict.word(), 13);
    line.push(' ');
    ids(&mut line, &r.excluding(), 28);
    line.push(' ');
    ids(&mut line, &r.unknown(), 0);
    let end = line.trim_end().len();
    line.truncate(end);
    line
}

/// `text`, then spaces up to `width` characters.
fn pad(line: &mut String, text: &str, width: usize) {
    line.push_str(text);
    let written = text.chars().count();
    line.extend(std::iter::repeat_n(' ', width.saturating_sub(written)));
}

/// Criterion ids separated by spaces, escaped (`-` for none), padded to `width`.
fn ids(line: &mut String, ids: &[&str], width: usize) {
    let start = line.len();
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            line.push(' ');
        }
        line.push_str(&escape(id));
    }
    if line.len() == start {
        line.push('-');
    }
    let written = line.get(start..).map_or(0, |t| t.chars().count());
    line.extend(std::iter::repeat_n(' ', width.saturating_sub(written)));
}

/// A CSV field, quoted when needed. A cell a spreadsheet would run as a formula (starting
/// with `=`, `+`, `-`, `@`, tab or CR: OWASP's CSV-injection rule) is prefixed with `'` and
/// quoted. Every column eligc writes is text (ids, verdicts, criterion ids, messages; no
/// numbers), so a patient id `-5` is written `"'-5"` too: readable, and never a formula.
pub fn csv_field(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("\"'{}\"", s.replace('"', "\"\""))
    } else if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Writes the CSV field of `parts` joined by spaces, as [`csv_field`] would write the
/// joined text, without building it: a CSV line is written for every patient.
pub fn write_csv_field(out: &mut impl std::io::Write, parts: &[&str]) -> std::io::Result<()> {
    // Byte by byte: every character looked for is ASCII, and no byte of a longer UTF-8
    // character is one.
    let formula = parts.first().is_some_and(|s| {
        s.as_bytes()
            .first()
            .is_some_and(|b| matches!(b, b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r'))
    });
    let quoted = formula
        || parts
            .iter()
            .any(|s| s.bytes().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r')));
    if quoted {
        out.write_all(if formula { b"\"'" } else { b"\"" })?;
    }
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            out.write_all(b" ")?;
        }
        if quoted {
            for (j, piece) in part.split('"').enumerate() {
                if j > 0 {
                    out.write_all(b"\"\"")?;
                }
                out.write_all(piece.as_bytes())?;
            }
        } else {
            out.write_all(part.as_bytes())?;
        }
    }
    if quoted {
        out.write_all(b"\"")?;
    }
    Ok(())
}

/// The readable explanation of one patient: every criterion with its outcome, the checks
/// behind it and the facts that decided them, then what would settle the unknowns.
pub fn explanation(r: &PatientResult) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Patient {}: {}",
        escape(&r.id),
        r.verdict.word().to_uppercase()
    );
    for c in &r.criteria {
        let indent = "  ".repeat(c.depth + 1);
        let marker = if c.excludes() {
            "✗"
        } else if c.outcome == Outcome::Unknown {
            "?"
        } else {
            " "
        };
        let _ = writeln!(
            out,
            "{indent}{marker} {} {} [{}] (line {})",
            escape(&c.id),
            c.outcome.word(),
            kind_word(c.kind),
            c.line
        );
        let _ = writeln!(out, "{indent}    \"{}\"", escape(&c.wording));
        write_logic(&mut out, c, &format!("{indent}    "));
    }
    let worklist = worklist(r);
    if r.verdict == Verdict::Ineligible && !r.unknown().is_empty() {
        let _ = writeln!(
            out,
            "Nothing to settle: the patient is ineligible whatever the unknown criteria turn out to be."
        );
    }
    if !worklist.is_empty() {
        let _ = writeln!(out, "To settle:");
        for (id, item) in worklist {
            let _ = writeln!(out, "  {}: {}", escape(&id), escape(&item));
        }
    }
    if !r.completed.is_empty() {
        let _ = writeln!(
            out,
            "(Read as complete, --complete: {}; absent from the record, so none recorded.)",
            r.completed.join(", ")
        );
    }
    if r.unused_facts > 0 {
        let _ = writeln!(
            out,
            "({} fact(s) in the record are not in this protocol's vocabulary.)",
            r.unused_facts
        );
    }
    out
}

/// A criterion's checks in its and/or structure: an `and` at the top of the rule or of
/// `applies if` is the criterion's own list; every other group is a line ("any of:",
/// "all of:") with its value, its items indented below it, so the deciding branch shows.
fn write_logic(out: &mut String, c: &CriterionResult, indent: &str) {
    if c.logic.is_empty() {
        for i in 0..c.checks.len() {
            write_node(out, c, &Node::Check(i), indent, 0);
        }
        return;
    }
    for node in &c.logic {
        match node {
            Node::All { items, .. } if part_of(c, node) != Some(Part::Unless) => {
                for item in items {
                    write_node(out, c, item, indent, 0);
                }
            }
            _ => write_node(out, c, node, indent, 0),
        }
    }
}

fn part_of(c: &CriterionResult, node: &Node) -> Option<Part> {
    node.first_check()
        .and_then(|i| c.checks.get(i))
        .map(|k| k.part)
}

fn part_word(part: Option<Part>) -> &'static str {
    match part {
        Some(Part::Applies) => "applies if ",
        Some(Part::Unless) => "unless ",
        Some(Part::Rule) | None => "",
    }
}

fn write_node(out: &mut String, c: &CriterionResult, node: &Node, indent: &str, level: usize) {
    let pad = format!("{indent}{}", "    ".repeat(level));
    // The part is said once, on the outermost line.
    let part = if level == 0 {
        part_word(part_of(c, node))
    } else {
        ""
    };
    match node {
        Node::Check(i) => {
            let Some(check) = c.checks.get(*i) else {
                return;
            };
            let via = check
                .via
                .as_ref()
                .map(|v| format!(" (in {})", escape(v)))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "{pad}{} {part}{}{via}",
                check.result.symbol(),
                escape(&check.text)
            );
            if !check.detail.is_empty() {
                let _ = writeln!(out, "{pad}    {}", escape(&check.detail));
            }
        }
        Node::All { result, items } | Node::Any { result, items } => {
            let word = if matches!(node, Node::All { .. }) {
                "all of"
            } else {
                "any of"
            };
            let _ = writeln!(out, "{pad}{} {part}{word}:", result.symbol());
            for item in items {
                write_node(out, c, item, indent, level + 1);
            }
        }
    }
}

fn kind_word(kind: CriterionKind) -> &'static str {
    kind.keyword()
}

/// One item of the "To settle" list.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Settle {
    /// The most specific criterion it belongs to.
    pub criterion: String,
    /// What to record or obtain.
    pub action: String,
    /// The protocol's text of the (first) check it settles.
    pub check: String,
    /// How many other checks of the criterion the same action settles.
    #[serde(skip_serializing_if = "is_zero")]
    pub others: usize,
}

impl Settle {
    /// "record ... (for `check` and 2 other checks)".
    pub fn text(&self) -> String {
        let more = match self.others {
            0 => String::new(),
            1 => " and 1 other check".to_string(),
            n => format!(" and {n} other checks"),
        };
        format!("{} (for `{}`{more})", self.action, self.check)
    }
}

/// What would settle the verdict: for a patient who needs review, each unknown check that
/// can still change it, with what would settle it. Nothing for an ineligible patient (no
/// data can make them eligible); never a check under an `or` that already holds or an
/// `and` that already fails, nor an `applies if` whose criterion holds either way. One
/// action that settles several checks of a criterion is one item.
pub fn to_settle(r: &PatientResult) -> Vec<Settle> {
    let mut items = Vec::new();
    if r.verdict != Verdict::NeedsReview {
        return items;
    }
    // Each criterion's sub-criteria, found once: searching all criteria for the children
    // of each unknown one was quadratic in the number of criteria.
    let mut children: HashMap<&str, Vec<&CriterionResult>> = HashMap::default();
    for c in &r.criteria {
        if let Some(parent) = c.parent.as_deref() {
            children.entry(parent).or_default().push(c);
        }
    }
    for c in r
        .criteria
        .iter()
        .filter(|c| c.depth == 0 && c.outcome == Outcome::Unknown)
    {
        settle_criterion(&children, c, &mut items);
    }
    items
}

/// [`to_settle`] as (criterion, text) pairs, as the text explanation prints them.
pub fn worklist(r: &PatientResult) -> Vec<(String, String)> {
    to_settle(r)
        .into_iter()
        .map(|s| (s.criterion.clone(), s.text()))
        .collect()
}

/// The unknown checks of an unknown criterion that can change its outcome.
fn settle_criterion(
    by_parent: &HashMap<&str, Vec<&CriterionResult>>,
    c: &CriterionResult,
    items: &mut Vec<Settle>,
) {
    let children: &[&CriterionResult] = by_parent.get(&*c.id).map_or(&[], Vec::as_slice);
    let root = |part: Part| c.logic.iter().find(|n| part_of(c, n) == Some(part));
    let value = |part: Part| root(part).map(|n| n.result(&c.checks));
    // The body's value: a group's from its children, a rule's from its rule and `unless`.
    let body = if children.is_empty() {
        let rule = value(Part::Rule).unwrap_or(Truth::Unknown);
        let unless = value(Part::Unless).map_or(Truth::True, Truth::not);
        rule.and(unless)
    } else {
        let outcomes: Vec<Outcome> = children.iter().map(|x| x.outcome).collect();
        match super::group_outcome(c.kind, c.quantifier, &outcomes) {
            Outcome::Met => Truth::True,
            Outcome::NotMet => Truth::False,
            Outcome::Unknown | Outcome::NotApplicable => Truth::Unknown,
        }
    };
    let mut leaves = Vec::new();
    if c.logic.is_empty() {
        // Not explained: every unknown check.
        leaves.extend(
            c.checks
                .iter()
                .enumerate()
                .filter(|(_, k)| k.result == Truth::Unknown)
                .map(|(i, _)| i),
        );
    } else {
        if let Some(applies) = root(Part::Applies) {
            unknown_leaves(applies, &c.checks, &mut leaves);
        }
        if body == Truth::Unknown {
            for part in [Part::Rule, Part::Unless] {
                if let Some(node) = root(part) {
                    unknown_leaves(node, &c.checks, &mut leaves);
                }
            }
        }
    }
    // One item per action: six checks of E3 waiting for the same condition list.
    let mut by_action: HashMap<&str, usize> = HashMap::default();
    for k in leaves.iter().filter_map(|i| c.checks.get(*i)) {
        let action = if k.settle.is_empty() {
            &k.detail
        } else {
            &k.settle
        };
        match by_action
            .get(action.as_str())
            .and_then(|i| items.get_mut(*i))
        {
            Some(same) => same.others += 1,
            None => {
                by_action.insert(action, items.len());
                items.push(Settle {
                    criterion: c.id.to_string(),
                    action: action.clone(),
                    check: k.text.clone(),
                    others: 0,
                });
            }
        }
    }
    if body == Truth::Unknown {
        for child in children.iter().filter(|x| x.outcome == Outcome::Unknown) {
            settle_criterion(by_parent, child, items);
        }
    }
}

/// The unknown checks under `node` reached through unknown groups only: a group whose
/// value is known does not depend on them.
fn unknown_leaves(node: &Node, checks: &[super::Check], out: &mut Vec<usize>) {
    if node.result(checks) != Truth::Unknown {
        return;
    }
    match node {
        Node::Check(i) => out.push(*i),
        Node::All { items, .. } | Node::Any { items, .. } => {
            for item in items {
                unknown_leaves(item, checks, out);
            }
        }
    }
}

/// Counts per criterion over many patients: the screening funnel.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Funnel {
    /// Patients read (including rejected records).
    pub read: usize,
    /// Eligible patients.
    pub eligible: usize,
    /// Ineligible patients.
    pub ineligible: usize,
    /// Patients needing review.
    pub needs_review: usize,
    /// Records rejected as malformed.
    pub rejected: usize,
    /// Patients needing review with an unknown that comes from codes eligc cannot place
    /// (no concept and no vocabulary places them: see docs/terminology.md).
    #[serde(skip_serializing_if = "is_zero")]
    pub unplaced: usize,
    /// Per criterion, in protocol order.
    pub criteria: Vec<FunnelRow>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// One criterion's counts.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct FunnelRow {
    /// The criterion's id.
    pub id: String,
    /// Its depth (0 for top level).
    pub depth: usize,
    /// Patients it excludes (an inclusion not met, an exclusion met).
    pub excluded: usize,
    /// Patients for whom it is unknown.
    pub unknown: usize,
    /// Of those, patients for whom it is unknown because of codes eligc cannot place.
    #[serde(skip_serializing_if = "is_zero")]
    pub unplaced: usize,
    /// Patients to whom it does not apply.
    pub not_applicable: usize,
    /// Top-level criteria only: patients still in after this criterion and all before it.
    pub remaining: usize,
}

impl Funnel {
    /// Adds a screened patient.
    pub fn add(&mut self, r: &PatientResult) {
        self.count(r);
        if self.criteria.is_empty() {
            self.criteria = r
                .criteria
                .iter()
                .map(|c| FunnelRow {
                    id: c.id.to_string(),
                    depth: c.depth,
                    ..FunnelRow::default()
                })
                .collect();
        }
        let mut still_in = true;
        for (row, c) in self.criteria.iter_mut().zip(&r.criteria) {
            count(row, c);
            if c.depth == 0 {
                still_in = still_in && !c.excludes();
                if still_in {
                    row.remaining += 1;
                }
            }
        }
    }

    /// Counts a screened patient in the totals only, not in the per-criterion rows (for a
    /// run that prints no summary).
    pub fn count(&mut self, r: &PatientResult) {
        self.read += 1;
        match r.verdict {
            Verdict::Eligible => self.eligible += 1,
            Verdict::Ineligible => self.ineligible += 1,
            Verdict::NeedsReview => {
                self.needs_review += 1;
                if r.criteria.iter().any(|c| c.unplaced) {
                    self.unplaced += 1;
                }
            }
        }
    }

    /// Adds a rejected record.
    pub fn reject(&mut self) {
        self.read += 1;
        self.rejected += 1;
    }

    /// The funnel as a table.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "Screening funnel");
        // The UNPLACED column (unknowns from codes eligc cannot place) only when there are.
        let unplaced = self.criteria.iter().any(|r| r.unplaced > 0);
        let _ = writeln!(
            out,
            "{:<10} {:>9} {:>9} {:>9} {:>10}{}",
            "CRITERION",
            "EXCLUDED",
            "UNKNOWN",
            "N/A",
            "REMAINING",
            if unplaced { "  UNPLACED" } else { "" }
        );
        for row in &self.criteria {
            let id = format!("{}{}", "  ".repeat(row.depth), row.id);
            let remaining = if row.depth == 0 {
                row.remaining.to_string()
            } else {
                String::new()
            };
            let column = if unplaced {
                format!(" {:>9}", row.unplaced)
            } else {
                String::new()
            };
            let _ = writeln!(
                out,
                "{id:<10} {:>9} {:>9} {:>9} {remaining:>10}{column}",
                row.excluded, row.unknown, row.not_applicable
            );
        }
        let _ = writeln!(out, "{}", self.totals());
        if self.unplaced > 0 {
            let _ = writeln!(
                out,
                "{} of the {} needing review have unknowns from codes eligc cannot place (UNPLACED: no concept and no vocabulary places them; see --vocabulary)",
                self.unplaced, self.needs_review
            );
        }
        out
    }

    /// "read 50: 3 eligible, 30 ineligible, 15 needs review, 2 rejected".
    pub fn totals(&self) -> String {
        format!(
            "read {}: {} eligible, {} ineligible, {} needs review, {} rejected",
            self.read, self.eligible, self.ineligible, self.needs_review, self.rejected
        )
    }
}

fn count(row: &mut FunnelRow, c: &CriterionResult) {
    if c.excludes() {
        row.excluded += 1;
    }
    match c.outcome {
        Outcome::Unknown => {
            row.unknown += 1;
            row.unplaced += usize::from(c.unplaced);
        }
        Outcome::NotApplicable => row.not_applicable += 1,
        Outcome::Met | Outcome::NotMet => {}
    }
}
