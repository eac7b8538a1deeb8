//! Lints: warnings for protocols that are legal but probably wrong. Missing windows,
//! empty windows and windows past their anchor are found where windows are checked
//! (`expr.rs`); duplicate set members where sets are flattened (`decls.rs`).

use std::collections::HashSet;

use super::{Checker, Symbol};
use crate::ast::{CmpOp, DurationUnit, SelectMode};
use crate::diagnostic::{Code, Diagnostic};
use crate::program::{AnchorId, ConceptId, Cond, CondKind, Threshold, ValueTest, Window};
use crate::source::{FileId, Source, Span};
use crate::terminal::{escape_char, is_bidi_control};

/// Unused definitions and sets declared in the protocol file, and unused `use` lines there.
/// Libraries are vocabularies: most of what they declare is unused by any one protocol.
pub(super) fn unused(checker: &mut Checker<'_>) {
    let main = checker.main;
    let mut found = Vec::new();
    for i in 0..checker.defines.len() {
        if let Some((span, file, name)) = checker.define_decl_span(i) {
            if file == main && !checker.used.contains(&Symbol::Define(i)) {
                found.push(
                    Diagnostic::new(
                        Code::UnusedDefinition,
                        span,
                        format!("the definition `{name}` is never used"),
                        "unused",
                    )
                    .with_help("use it in a criterion, or remove it"),
                );
            }
        }
    }
    for (i, set) in checker.sets.iter().enumerate() {
        if set.file == main && !checker.used.contains(&Symbol::Set(i)) {
            found.push(
                Diagnostic::new(
                    Code::UnusedSet,
                    set.decl.name.span,
                    format!("the set `{}` is never used", set.decl.name.name),
                    "unused",
                )
                .with_help(unused_set_help(set.decl.kind, &set.decl.name.name)),
            );
        }
    }
    // A file counts as used when any name it declares is used.
    let used_files: HashSet<FileId> = checker
        .used
        .iter()
        .filter_map(|s| checker.symbol_file(*s))
        .collect();
    let loaded = checker.loaded;
    for l in loaded.iter().filter(|l| l.file == main) {
        for (span, target) in &l.imports {
            let Some(target) = target else { continue };
            let reachable = reachable_files(loaded, *target);
            if !reachable.iter().any(|f| used_files.contains(f)) {
                found.push(
                    Diagnostic::new(
                        Code::UnusedImport,
                        *span,
                        "nothing this `use` brings in is used",
                        "unused import",
                    )
                    .with_help("remove the `use` line"),
                );
            }
        }
    }
    checker.diags.append(&mut found);
}

fn reachable_files(loaded: &[super::load::Loaded], start: FileId) -> Vec<FileId> {
    let mut seen = vec![start];
    let mut i = 0;
    while let Some(file) = seen.get(i).copied() {
        if let Some(l) = loaded.iter().find(|l| l.file == file) {
            for (_, target) in &l.imports {
                if let Some(t) = target {
                    if !seen.contains(t) {
                        seen.push(*t);
                    }
                }
            }
        }
        i += 1;
    }
    seen
}

/// What a bound constrains.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Subject {
    Age(AnchorId, bool),
    Latest(ConceptId, Window),
}

struct Bound<'c> {
    subject: Subject,
    op: CmpOp,
    value: BoundValue<'c>,
    span: Span,
}

enum BoundValue<'c> {
    /// Age in months (years counted as 12) or in days (weeks as 7).
    Whole(i64),
    Quantity(&'c Threshold),
}

/// Finds bounds on the same value, joined by `and`, that no value can satisfy together.
pub(super) fn contradictory_bounds(checker: &mut Checker<'_>, cond: &Cond) {
    let mut found = Vec::new();
    visit(cond, &mut found);
    checker.diags.append(&mut found);
}

fn visit(cond: &Cond, out: &mut Vec<Diagnostic>) {
    match &cond.kind {
        CondKind::And(items) => {
            let bounds: Vec<Bound<'_>> = items.iter().filter_map(bound).collect();
            for (i, later) in bounds.iter().enumerate() {
                for earlier in bounds.iter().take(i) {
                    if earlier.subject == later.subject && contradicts(earlier, later) {
                        out.push(
                            Diagnostic::new(Code::ContradictoryBounds, later.span, "no value can satisfy this bound together with an earlier one", "contradicts the earlier bound")
                                .with_related(earlier.span, "the earlier bound")
                                .with_help("check the operators and numbers: as written the criterion can never be met"),
                        );
                    }
                }
            }
            for item in items {
                visit(item, out);
            }
        }
        CondKind::Or(items) => items.iter().for_each(|i| visit(i, out)),
        CondKind::Not(inner) => visit(inner, out),
        _ => {}
    }
}

fn bound(cond: &Cond) -> Option<Bound<'_>> {
    match &cond.kind {
        CondKind::Age {
            anchor,
            op,
            duration,
        } => {
            let n = i64::from(duration.amount);
            let (months, value) = match duration.unit {
                DurationUnit::Years => (true, n * 12),
                DurationUnit::Months => (true, n),
                DurationUnit::Weeks => (false, n * 7),
                DurationUnit::Days => (false, n),
            };
            Some(Bound {
                subject: Subject::Age(*anchor, months),
                op: *op,
                value: BoundValue::Whole(value),
                span: cond.span,
            })
        }
        CondKind::Observation {
            mode: SelectMode::Latest,
            concepts,
            window,
            test:
                ValueTest::Compare {
                    op,
                    threshold: t @ Threshold::Quantity { .. },
                },
            ..
        } => match concepts.as_slice() {
            [concept] => Some(Bound {
                subject: Subject::Latest(*concept, *window),
                op: *op,
                value: BoundValue::Quantity(t),
                span: cond.span,
            }),
            _ => None,
        },
        _ => None,
    }
}

/// Whether `a` and `b` cannot both hold.
fn contradicts(a: &Bound<'_>, b: &Bound<'_>) -> bool {
    let lower_upper = |lo: &Bound<'_>, hi: &Bound<'_>| -> bool {
        let is_lower = matches!(lo.op, CmpOp::Gt | CmpOp::Ge | CmpOp::Eq);
        let is_upper = matches!(hi.op, CmpOp::Lt | CmpOp::Le | CmpOp::Eq);
        if !(is_lower && is_upper) {
            return false;
        }
        let ordering = match (&lo.value, &hi.value) {
            (BoundValue::Whole(x), BoundValue::Whole(y)) => Some(x.cmp(y)),
            (
                BoundValue::Quantity(Threshold::Quantity { value: x, unit: ux }),
                BoundValue::Quantity(Threshold::Quantity { value: y, unit: uy }),
            ) => ux.compare(*x, uy, *y),
            _ => None,
        };
        match ordering {
            Some(std::cmp::Ordering::Greater) => true,
            Some(std::cmp::Ordering::Equal) => lo.op == CmpOp::Gt || hi.op == CmpOp::Lt,
            _ => false,
        }
    };
    lower_upper(a, b) || lower_upper(b, a)
}

/// How a set of this kind can be used: a form that `eligc check` accepts.
fn unused_set_help(kind: crate::ast::SetKind, name: &str) -> String {
    let event = match kind {
        crate::ast::SetKind::Drugs => "medication",
        crate::ast::SetKind::Conditions => "condition",
        crate::ast::SetKind::Vaccines => "immunization",
        crate::ast::SetKind::Procedures => "procedure",
        crate::ast::SetKind::Encounters => "encounter",
        crate::ast::SetKind::Studies => "study",
        crate::ast::SetKind::Observations => {
            return "remove it: no expression takes a set of observations yet; test each member with `latest`, joined with `or`".to_string();
        }
        crate::ast::SetKind::Sites => {
            return format!(
                "refer to it in a `where` clause (`condition NAME where body_site in {name}`), or remove it"
            );
        }
    };
    format!("refer to it in a criterion (`{event} in {name}`), or remove it")
}

/// Bidirectional formatting characters anywhere in a file (wording, comments, names), one
/// warning per line, as rustc's `text_direction_codepoint_in_literal`: they make a line
/// display in another order than eligc reads it, so a criterion can look unlike what it is.
pub(super) fn text_direction(source: &Source, diagnostics: &mut Vec<Diagnostic>) {
    let mut offset = 0;
    for line in source.text.split_inclusive('\n') {
        let mut found = line
            .char_indices()
            .filter(|(_, c)| is_bidi_control(*c))
            .map(|(at, c)| {
                let start = offset + at;
                let span = Span::new(source.id, start, start + c.len_utf8());
                let label = format!(
                    "`{}` ({})",
                    escape_char(c).unwrap_or_default(),
                    bidi_name(c)
                );
                (span, label)
            });
        if let Some((span, label)) = found.next() {
            let mut d = Diagnostic::new(
                Code::TextDirectionCodepoint,
                span,
                "this line contains a character that changes the direction text is displayed in",
                label,
            )
            .with_help(
                "the line may read differently on screen than eligc reads it; remove the \
                 character, or write right-to-left text without direction overrides",
            );
            for (span, label) in found {
                d = d.with_related(span, label);
            }
            diagnostics.push(d);
        }
        offset += line.len();
    }
}

/// The Unicode name of a bidirectional formatting character.
fn bidi_name(c: char) -> &'static str {
    match c {
        '\u{202A}' => "LEFT-TO-RIGHT EMBEDDING",
        '\u{202B}' => "RIGHT-TO-LEFT EMBEDDING",
        '\u{202C}' => "POP DIRECTIONAL FORMATTING",
        '\u{202D}' => "LEFT-TO-RIGHT OVERRIDE",
        '\u{202E}' => "RIGHT-TO-LEFT OVERRIDE",
        '\u{2066}' => "LEFT-TO-RIGHT ISOLATE",
        '\u{2067}' => "RIGHT-TO-LEFT ISOLATE",
        '\u{2068}' => "FIRST STRONG ISOLATE",
        '\u{2069}' => "POP DIRECTIONAL ISOLATE",
        '\u{200E}' => "LEFT-TO-RIGHT MARK",
        '\u{200F}' => "RIGHT-TO-LEFT MARK",
        '\u{061C}' => "ARABIC LETTER MARK",
        _ => "direction control",
    }
}
