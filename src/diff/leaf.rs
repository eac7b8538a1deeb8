//! Comparing two elementary tests: thresholds, windows, members, durations.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use rust_decimal::Decimal;

use super::{Aspect, Rel, Side};
use crate::ast::{CmpOp, Direction, DurationUnit, SelectMode};
use crate::program::{
    AnchorId, Arith, ConceptId, Cond, CondKind, DoseQuery, Dur, EventQuery, Program, Threshold,
    TimePoint, ValueTest, Window,
};
use crate::units::Unit;

/// One difference between two tests about the same thing.
pub(crate) struct Detail {
    pub(crate) aspect: Aspect,
    pub(crate) description: String,
    pub(crate) old: Option<String>,
    pub(crate) new: Option<String>,
    pub(crate) added: Vec<String>,
    pub(crate) removed: Vec<String>,
    /// How the new test relates to the old one.
    pub(crate) rel: Rel,
}

impl Detail {
    fn new(aspect: Aspect, description: String, old: String, new: String, rel: Rel) -> Detail {
        Detail {
            aspect,
            description,
            old: Some(old),
            new: Some(new),
            added: Vec::new(),
            removed: Vec::new(),
            rel,
        }
    }
}

/// Compares two leaves. `None` when they are not tests of the same kind about the same
/// thing (the caller reports the logic as rewritten); otherwise the differences (empty or
/// all [`Rel::Same`] when they mean the same).
pub(crate) fn compare(o: Side<'_>, n: Side<'_>, a: &Cond, b: &Cond) -> Option<Vec<Detail>> {
    let (po, pn) = (o.program(), n.program());
    let mut out = Vec::new();
    match (&a.kind, &b.kind) {
        (CondKind::Attested(x), CondKind::Attested(y)) => {
            (concept_name(po, *x) == concept_name(pn, *y)).then_some(())?;
            codes(po, pn, &[*x], &[*y], Rel::Same, &mut out);
        }
        (CondKind::SexIs(x), CondKind::SexIs(y)) => (x == y).then_some(())?,
        (
            CondKind::Age {
                anchor: aa,
                op: ao,
                duration: ad,
            },
            CondKind::Age {
                anchor: ba,
                op: bo,
                duration: bd,
            },
        ) => {
            (anchor_name(po, *aa) == anchor_name(pn, *ba)).then_some(())?;
            let rel = bound(*ao, *bo, dur_cmp(*bd, *ad));
            if rel != Rel::Same {
                out.push(Detail::new(
                    Aspect::Threshold,
                    format!("age threshold: {} {ad} → {} {bd}", ao.symbol(), bo.symbol()),
                    format!("{} {ad}", ao.symbol()),
                    format!("{} {bd}", bo.symbol()),
                    rel,
                ));
            }
        }
        (
            CondKind::Observation {
                mode: am,
                concepts: ac,
                target: an,
                window: aw,
                test: at,
            },
            CondKind::Observation {
                mode: bm,
                concepts: bc,
                target: bn,
                window: bw,
                test: bt,
            },
        ) => {
            (an == bn).then_some(())?;
            let label = bn.clone();
            if am != bm {
                out.push(Detail::new(
                    Aspect::Mode,
                    format!("`{label}`: which results are tested"),
                    am.keyword().to_string(),
                    bm.keyword().to_string(),
                    mode_rel(*am, *bm),
                ));
            }
            let wrel = window_rel(po, pn, aw, bw);
            if wrel != WinRel::Same {
                let rel = match (bm, wrel) {
                    (_, WinRel::Unknown)
                    | (SelectMode::Latest | SelectMode::Earliest | SelectMode::Average, _) => {
                        Rel::Unknown
                    }
                    (SelectMode::Any, WinRel::Wider) => Rel::Weaker,
                    (SelectMode::Any, _) => Rel::Stronger,
                    (SelectMode::All | SelectMode::No, WinRel::Wider) => Rel::Stronger,
                    (SelectMode::All | SelectMode::No, _) => Rel::Weaker,
                };
                out.push(window_detail(po, pn, &label, aw, bw, wrel, rel));
            }
            let trel = test_rel(at, bt);
            if trel != Rel::Same {
                let rel = if *bm == SelectMode::No {
                    trel.flip()
                } else {
                    trel
                };
                out.push(Detail::new(
                    Aspect::Threshold,
                    format!("`{label}`: threshold"),
                    test_text(at),
                    test_text(bt),
                    rel,
                ));
            }
            // More members give more results: the latest may change, `any` finds more.
            let grows = match bm {
                SelectMode::Any => Rel::Weaker,
                SelectMode::All | SelectMode::No => Rel::Stronger,
                SelectMode::Latest | SelectMode::Earliest | SelectMode::Average => Rel::Unknown,
            };
            members(po, pn, &label, ac, bc, grows, &mut out);
            codes(po, pn, ac, bc, Rel::Unknown, &mut out);
        }
        (
            CondKind::CountResults {
                concept: ac,
                window: aw,
                op: ao,
                n: an,
            },
            CondKind::CountResults {
                concept: bc,
                window: bw,
                op: bo,
                n: bn,
            },
        ) => {
            (concept_name(po, *ac) == concept_name(pn, *bc)).then_some(())?;
            let label = concept_label(pn, *bc);
            let wrel = window_rel(po, pn, aw, bw);
            if wrel != WinRel::Same {
                let rel = count_rel(*bo, wrel.as_rel());
                out.push(window_detail(po, pn, &label, aw, bw, wrel, rel));
            }
            count_detail(&label, *ao, *an, *bo, *bn, &mut out);
            codes(
                po,
                pn,
                &[*ac],
                &[*bc],
                count_rel(*bo, Rel::Weaker),
                &mut out,
            );
        }
        (CondKind::Event(x), CondKind::Event(y)) => {
            event(po, pn, x, y, Rel::Weaker, &mut out)?;
        }
        (
            CondKind::CountEvents {
                query: x,
                op: ao,
                n: an,
            },
            CondKind::CountEvents {
                query: y,
                op: bo,
                n: bn,
            },
        )
        | (
            CondKind::CountDistinct {
                query: x,
                op: ao,
                n: an,
            },
            CondKind::CountDistinct {
                query: y,
                op: bo,
                n: bn,
            },
        ) => {
            // A broader query counts more: weaker when the count must be large enough.
            event(po, pn, x, y, count_rel(*bo, Rel::Weaker), &mut out)?;
            count_detail(&y.target, *ao, *an, *bo, *bn, &mut out);
        }
        (CondKind::Dose(x), CondKind::Dose(y)) => dose(po, pn, x, y, &mut out)?,
        (
            CondKind::Arithmetic {
                value: av,
                op: ao,
                threshold: at,
                unit: au,
            },
            CondKind::Arithmetic {
                value: bv,
                op: bo,
                threshold: bt,
                unit: bu,
            },
        ) => {
            // The same computation (results, modes and windows): only the threshold moved.
            same_arith(po, pn, av, bv).then_some(())?;
            let rel = bound(*ao, *bo, bu.compare(*bt, au, *at));
            if rel != Rel::Same {
                out.push(Detail::new(
                    Aspect::Threshold,
                    "computed value: threshold".to_string(),
                    format!("{} {at} {}", ao.symbol(), au.text()),
                    format!("{} {bt} {}", bo.symbol(), bu.text()),
                    rel,
                ));
            }
        }
        _ => return None,
    }
    Some(out)
}

/// Whether two computations take the same results (by name, mode and window) the same way.
fn same_arith(po: &Program, pn: &Program, a: &Arith, b: &Arith) -> bool {
    match (a, b) {
        (
            Arith::Result {
                mode: am,
                concept: ac,
                window: aw,
            },
            Arith::Result {
                mode: bm,
                concept: bc,
                window: bw,
            },
        ) => {
            am == bm
                && concept_name(po, *ac) == concept_name(pn, *bc)
                && window_rel(po, pn, aw, bw) == WinRel::Same
        }
        (
            Arith::Binary {
                op: ao,
                lhs: al,
                rhs: ar,
            },
            Arith::Binary {
                op: bo,
                lhs: bl,
                rhs: br,
            },
        ) => ao == bo && same_arith(po, pn, al, bl) && same_arith(po, pn, ar, br),
        _ => false,
    }
}

fn concept_name(p: &Program, id: ConceptId) -> &str {
    p.concept(id).map_or("?", |c| c.name.as_str())
}

fn concept_label(p: &Program, id: ConceptId) -> String {
    p.concept(id)
        .map_or_else(|| "?".to_string(), |c| c.name.clone())
}

fn anchor_name(p: &Program, id: crate::program::AnchorId) -> &str {
    p.anchor(id).map_or("?", |a| a.name.as_str())
}

/// How `x op v` changes when the operator and value change; `ord` orders the new value
/// against the old one.
fn bound(old_op: CmpOp, new_op: CmpOp, ord: Option<Ordering>) -> Rel {
    use CmpOp::*;
    let lower = |op| matches!(op, Ge | Gt);
    let upper = |op| matches!(op, Le | Lt);
    match ord {
        None => Rel::Unknown,
        Some(ord) => {
            if old_op == new_op && ord == Ordering::Equal {
                Rel::Same
            } else if lower(old_op) && lower(new_op) {
                match ord {
                    // A higher lower bound is harder to reach.
                    Ordering::Greater => Rel::Stronger,
                    Ordering::Less => Rel::Weaker,
                    Ordering::Equal if new_op == Gt => Rel::Stronger,
                    Ordering::Equal => Rel::Weaker,
                }
            } else if upper(old_op) && upper(new_op) {
                match ord {
                    Ordering::Greater => Rel::Weaker,
                    Ordering::Less => Rel::Stronger,
                    Ordering::Equal if new_op == Lt => Rel::Stronger,
                    Ordering::Equal => Rel::Weaker,
                }
            } else {
                Rel::Unknown
            }
        }
    }
}

/// A count `count op n` when what is counted grows (`grows` = Weaker) or shrinks.
fn count_rel(op: CmpOp, grows: Rel) -> Rel {
    match op {
        CmpOp::Ge | CmpOp::Gt => grows,
        CmpOp::Le | CmpOp::Lt => grows.flip(),
        CmpOp::Eq | CmpOp::Ne => {
            if grows == Rel::Same {
                Rel::Same
            } else {
                Rel::Unknown
            }
        }
    }
}

fn count_detail(what: &str, ao: CmpOp, an: Decimal, bo: CmpOp, bn: Decimal, out: &mut Vec<Detail>) {
    let rel = bound(ao, bo, Some(bn.cmp(&an)));
    if rel != Rel::Same {
        out.push(Detail::new(
            Aspect::Threshold,
            format!("count of {what}"),
            format!("{} {an}", ao.symbol()),
            format!("{} {bn}", bo.symbol()),
            rel,
        ));
    }
}

fn mode_rel(old: SelectMode, new: SelectMode) -> Rel {
    use SelectMode::*;
    match (old, new) {
        (a, b) if a == b => Rel::Same,
        // Whenever every result passes, the latest does; whenever the latest does, some does.
        (Latest | Earliest, Any) | (All, Latest | Earliest) | (All, Any) => Rel::Weaker,
        (Any, Latest | Earliest) | (Latest | Earliest, All) | (Any, All) => Rel::Stronger,
        _ => Rel::Unknown,
    }
}

/// Orders `b` against `a` (new against old) for a value test; only thresholds of the same
/// form are ordered.
fn test_rel(a: &ValueTest, b: &ValueTest) -> Rel {
    match (a, b) {
        (
            ValueTest::Compare {
                op: ao,
                threshold: at,
            },
            ValueTest::Compare {
                op: bo,
                threshold: bt,
            },
        ) => {
            let ord = match (at, bt) {
                (
                    Threshold::Quantity {
                        value: av,
                        unit: au,
                    },
                    Threshold::Quantity {
                        value: bv,
                        unit: bu,
                    },
                ) => bu.compare(*bv, au, *av),
                (
                    Threshold::RefMultiple {
                        factor: af,
                        bound: ab,
                    },
                    Threshold::RefMultiple {
                        factor: bf,
                        bound: bb,
                    },
                ) if ab == bb => Some(bf.cmp(af)),
                (
                    Threshold::RefOffset {
                        bound: ab,
                        offset: a_off,
                        unit: au,
                    },
                    Threshold::RefOffset {
                        bound: bb,
                        offset: b_off,
                        unit: bu,
                    },
                ) if ab == bb && !au.is_affine() && !bu.is_affine() => {
                    bu.compare(*b_off, au, *a_off)
                }
                _ => None,
            };
            bound(*ao, *bo, ord)
        }
        (a, b) if a == b => Rel::Same,
        _ => Rel::Unknown,
    }
}

/// A value test as written.
pub(crate) fn test_text(t: &ValueTest) -> String {
    match t {
        ValueTest::Compare { op, threshold } => {
            format!("{} {}", op.symbol(), threshold.text())
        }
        ValueTest::Qualitative { negated, value } => {
            format!("is {}{}", if *negated { "not " } else { "" }, value.word())
        }
        ValueTest::Range { negated, test } => {
            let word = match test {
                crate::program::RangeTest::AboveNormal => "above normal range",
                crate::program::RangeTest::BelowNormal => "below normal range",
                crate::program::RangeTest::WithinNormal => "within normal range",
            };
            format!("is {}{word}", if *negated { "not " } else { "" })
        }
        ValueTest::Exists => "any result".to_string(),
    }
}

pub(crate) fn quantity_text(value: Decimal, unit: &Unit) -> String {
    crate::program::quantity_text(value, unit)
}

// ---------------------------------------------------------------------------------------------
// Durations and windows
// ---------------------------------------------------------------------------------------------

/// Days (for days and weeks) or months (for months and years).
fn in_class(d: Dur) -> (bool, u64) {
    let n = u64::from(d.amount);
    match d.unit {
        DurationUnit::Days => (false, n),
        DurationUnit::Weeks => (false, n * 7),
        DurationUnit::Months => (true, n),
        DurationUnit::Years => (true, n * 12),
    }
}

/// Orders two durations when that holds on every date: days against days, months against
/// months exactly; days against calendar months only when the days are fewer than 28 per
/// month or more than 31 (a calendar month is 28 to 31 days).
pub(crate) fn dur_cmp(a: Dur, b: Dur) -> Option<Ordering> {
    let ((am, an), (bm, bn)) = (in_class(a), in_class(b));
    if an == 0 && bn == 0 {
        return Some(Ordering::Equal);
    }
    match (am, bm) {
        (false, false) | (true, true) => Some(an.cmp(&bn)),
        (false, true) => days_vs_months(an, bn),
        (true, false) => days_vs_months(bn, an).map(Ordering::reverse),
    }
}

fn days_vs_months(days: u64, months: u64) -> Option<Ordering> {
    if days < 28 * months {
        Some(Ordering::Less)
    } else if days > 31 * months {
        Some(Ordering::Greater)
    } else {
        None
    }
}

/// Whether two durations mix days (or weeks) with calendar months (or years).
fn mixes_calendar(a: Dur, b: Dur) -> bool {
    in_class(a).0 != in_class(b).0 && a.amount != 0 && b.amount != 0
}

/// A window's ends; `None` is unbounded.
type Ends = (Option<TimePoint>, Option<TimePoint>);

fn ends(w: &Window) -> Ends {
    match w {
        Window::Ever => (None, None),
        Window::At(a) => {
            let p = TimePoint {
                anchor: *a,
                offset: None,
            };
            (Some(p), Some(p))
        }
        Window::Range { from, to } => (*from, *to),
    }
}

/// Whether two anchors are the same date for every patient: the same name, and, for one
/// taken from the record (`= last procedure in surgery before screening`) or a calendar date,
/// the same definition.
fn same_anchor(pa: &Program, a: AnchorId, pb: &Program, b: AnchorId) -> bool {
    let (Some(x), Some(y)) = (pa.anchor(a), pb.anchor(b)) else {
        return false;
    };
    if x.name != y.name || x.fixed != y.fixed {
        return false;
    }
    match (&x.event, &y.event) {
        (None, None) => true,
        (Some((sx, qx)), Some((sy, qy))) => {
            let mut details = Vec::new();
            // An anchor's own window counts only from anchors the record supplies, so this
            // goes one level deep.
            sx == sy
                && event(pa, pb, qx, qy, Rel::Unknown, &mut details).is_some()
                && details.iter().all(|d| d.rel == Rel::Same)
        }
        _ => false,
    }
}

/// The anchors a window counts from whose definitions differ between the two programs.
fn redefined_anchors(pa: &Program, a: &Window, pb: &Program, b: &Window) -> Vec<String> {
    let ((af, at), (bf, bt)) = (ends(a), ends(b));
    let mut out = Vec::new();
    for (x, y) in [(af, bf), (at, bt)] {
        if let (Some(x), Some(y)) = (x, y) {
            let name = anchor_name(pa, x.anchor);
            if name == anchor_name(pb, y.anchor)
                && !same_anchor(pa, x.anchor, pb, y.anchor)
                && !out.iter().any(|n| n == name)
            {
                out.push(name.to_string());
            }
        }
    }
    out
}

/// Orders two points relative to anchors of the same name and definition.
fn point_cmp(pa: &Program, a: &TimePoint, pb: &Program, b: &TimePoint) -> Option<Ordering> {
    if !same_anchor(pa, a.anchor, pb, b.anchor) {
        return None;
    }
    let signed = |p: &TimePoint| -> (i8, Dur) {
        match p.offset {
            None => (
                0,
                Dur {
                    amount: 0,
                    unit: DurationUnit::Days,
                },
            ),
            Some((d, _)) if d.amount == 0 => (0, d),
            Some((d, Direction::Before)) => (-1, d),
            Some((d, _)) => (1, d),
        }
    };
    let ((sa, da), (sb, db)) = (signed(a), signed(b));
    if sa != sb {
        return Some(sa.cmp(&sb));
    }
    let ord = dur_cmp(da, db)?;
    Some(if sa < 0 { ord.reverse() } else { ord })
}

/// How a new window relates to an old one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WinRel {
    Same,
    /// The new window covers the old one and more.
    Wider,
    /// The old window covers the new one and more.
    Narrower,
    Unknown,
}

impl WinRel {
    /// For a test that holds when something is found in the window.
    fn as_rel(self) -> Rel {
        match self {
            WinRel::Same => Rel::Same,
            WinRel::Wider => Rel::Weaker,
            WinRel::Narrower => Rel::Stronger,
            WinRel::Unknown => Rel::Unknown,
        }
    }
}

fn window_rel(po: &Program, pn: &Program, a: &Window, b: &Window) -> WinRel {
    let ((af, at), (bf, bt)) = (ends(a), ends(b));
    // new.from against old.from: `None` is -infinity.
    let from = match (bf, af) {
        (None, None) => Some(Ordering::Equal),
        (None, Some(_)) => Some(Ordering::Less),
        (Some(_), None) => Some(Ordering::Greater),
        (Some(x), Some(y)) => point_cmp(pn, &x, po, &y),
    };
    // new.to against old.to: `None` is +infinity.
    let to = match (bt, at) {
        (None, None) => Some(Ordering::Equal),
        (None, Some(_)) => Some(Ordering::Greater),
        (Some(_), None) => Some(Ordering::Less),
        (Some(x), Some(y)) => point_cmp(pn, &x, po, &y),
    };
    match (from, to) {
        (Some(Ordering::Equal), Some(Ordering::Equal)) => WinRel::Same,
        (Some(Ordering::Less | Ordering::Equal), Some(Ordering::Greater | Ordering::Equal)) => {
            WinRel::Wider
        }
        (Some(Ordering::Greater | Ordering::Equal), Some(Ordering::Less | Ordering::Equal)) => {
            WinRel::Narrower
        }
        _ => WinRel::Unknown,
    }
}

fn point_text(p: &Program, t: &TimePoint) -> String {
    let anchor = anchor_name(p, t.anchor);
    match t.offset {
        None => anchor.to_string(),
        Some((d, dir)) => format!("{d} {} {anchor}", dir.keyword()),
    }
}

/// A window as it would be written.
pub(crate) fn window_text(p: &Program, w: &Window) -> String {
    match w {
        Window::Ever => "ever".to_string(),
        Window::At(a) => format!("at {}", anchor_name(p, *a)),
        Window::Range { from, to } => match (from, to) {
            (None, None) => "ever".to_string(),
            (None, Some(t)) => format!("before {}", point_text(p, t)),
            (Some(f), None) => format!("after {}", point_text(p, f)),
            (Some(f), Some(t)) => {
                let same_anchor = f.anchor == t.anchor;
                match (f.offset, t.offset) {
                    (Some((d, Direction::Before)), None) if same_anchor => {
                        format!("within {d} before {}", anchor_name(p, t.anchor))
                    }
                    (None, Some((d, Direction::After))) if same_anchor => {
                        format!("within {d} after {}", anchor_name(p, f.anchor))
                    }
                    (Some((d, Direction::Before)), Some((e, Direction::After)))
                        if same_anchor && d == e =>
                    {
                        format!("within {d} around {}", anchor_name(p, f.anchor))
                    }
                    _ => format!("from {} to {}", point_text(p, f), point_text(p, t)),
                }
            }
        },
    }
}

/// The durations a window is written with.
fn window_durs(w: &Window) -> Vec<Dur> {
    let (f, t) = ends(w);
    [f, t]
        .into_iter()
        .flatten()
        .filter_map(|p| p.offset.map(|(d, _)| d))
        .collect()
}

fn window_detail(
    po: &Program,
    pn: &Program,
    what: &str,
    a: &Window,
    b: &Window,
    wrel: WinRel,
    rel: Rel,
) -> Detail {
    let (old, new) = (window_text(po, a), window_text(pn, b));
    let redefined = redefined_anchors(po, a, pn, b);
    let mut description = match wrel {
        _ if !redefined.is_empty() => format!(
            "`{what}`: the window counts from {} defined differently",
            redefined
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(" and ")
        ),
        WinRel::Wider => format!("`{what}`: the window is wider"),
        WinRel::Narrower => format!("`{what}`: the window is narrower"),
        _ => format!("`{what}`: the window is different"),
    };
    let mixes = window_durs(a)
        .iter()
        .any(|x| window_durs(b).iter().any(|y| mixes_calendar(*x, *y)));
    if mixes {
        description.push_str(
            " (days against calendar months: a calendar month is 28 to 31 days, so neither \
             window always contains the other)",
        );
    }
    Detail::new(Aspect::Window, description, old, new, rel)
}

// ---------------------------------------------------------------------------------------------
// Events, codes, doses
// ---------------------------------------------------------------------------------------------

fn names(p: &Program, ids: &[ConceptId]) -> BTreeSet<String> {
    ids.iter()
        .map(|id| concept_name(p, *id).to_string())
        .collect()
}

/// What was added to and removed from a set of names, and how the test relates: `grows`
/// when only additions, its flip when only removals, unknown when both. `None`: no change.
fn set_change(
    old: &BTreeSet<String>,
    new: &BTreeSet<String>,
    grows: Rel,
) -> Option<(Vec<String>, Vec<String>, Rel)> {
    let added: Vec<String> = new.difference(old).cloned().collect();
    let removed: Vec<String> = old.difference(new).cloned().collect();
    let rel = match (added.is_empty(), removed.is_empty()) {
        (true, true) => return None,
        (false, true) => grows,
        (true, false) => grows.flip(),
        (false, false) => Rel::Unknown,
    };
    Some((added, removed, rel))
}

/// Members added and removed; `grows` is how the test relates when members are added.
fn members(
    po: &Program,
    pn: &Program,
    label: &str,
    a: &[ConceptId],
    b: &[ConceptId],
    grows: Rel,
    out: &mut Vec<Detail>,
) {
    let Some((added, removed, rel)) = set_change(&names(po, a), &names(pn, b), grows) else {
        return;
    };
    let mut parts = Vec::new();
    if !added.is_empty() {
        parts.push(format!("added {}", added.join(", ")));
    }
    if !removed.is_empty() {
        parts.push(format!("removed {}", removed.join(", ")));
    }
    out.push(Detail {
        aspect: Aspect::Members,
        description: format!("{label}: {}", parts.join("; ")),
        old: None,
        new: None,
        added,
        removed,
        rel,
    });
}

/// Codes of concepts in both versions: a concept matching more codes matches more records.
fn codes(
    po: &Program,
    pn: &Program,
    a: &[ConceptId],
    b: &[ConceptId],
    grows: Rel,
    out: &mut Vec<Detail>,
) {
    for id in b {
        let Some(nc) = pn.concept(*id) else { continue };
        let Some(oc) = a
            .iter()
            .filter_map(|x| po.concept(*x))
            .find(|c| c.name == nc.name)
        else {
            continue;
        };
        let text = |c: &crate::program::Concept| -> BTreeSet<String> {
            c.codes.iter().map(|(s, v)| s.code_text(v)).collect()
        };
        let Some((added, removed, rel)) = set_change(&text(oc), &text(nc), grows) else {
            continue;
        };
        out.push(Detail {
            aspect: Aspect::Codes,
            description: format!("codes of `{}` changed", nc.name),
            old: None,
            new: None,
            added,
            removed,
            rel,
        });
    }
}

/// Compares two event queries; `grows` is how the whole test relates when the query matches
/// more events. `None` when they are about different kinds of events.
fn event(
    po: &Program,
    pn: &Program,
    x: &EventQuery,
    y: &EventQuery,
    grows: Rel,
    out: &mut Vec<Detail>,
) -> Option<()> {
    // `any medication` against named drugs: not comparable member by member.
    if x.kind != y.kind || x.every != y.every {
        return None;
    }
    let (old, new) = (names(po, &x.concepts), names(pn, &y.concepts));
    if x.target != y.target && old.is_disjoint(&new) {
        return None;
    }
    let kind = match y.kind {
        crate::ast::EventKind::Condition => "conditions",
        crate::ast::EventKind::Medication => "drugs",
        crate::ast::EventKind::Immunization => "vaccines",
        crate::ast::EventKind::Procedure => "procedures",
        crate::ast::EventKind::Allergy => "allergens",
        crate::ast::EventKind::Encounter => "encounters",
        crate::ast::EventKind::Study => "studies",
        crate::ast::EventKind::FamilyHistory => "relatives' conditions",
    };
    let what = if x.target == y.target {
        y.target.clone()
    } else {
        format!("{} → {}", x.target, y.target)
    };
    members(
        po,
        pn,
        &format!("{kind} in `{what}`"),
        &x.concepts,
        &y.concepts,
        grows,
        out,
    );
    codes(po, pn, &x.concepts, &y.concepts, grows, out);
    let rel_of = |r: Rel| match grows {
        Rel::Weaker => r,
        Rel::Stronger => r.flip(),
        Rel::Same => Rel::Same,
        Rel::Unknown => {
            if r == Rel::Same {
                Rel::Same
            } else {
                Rel::Unknown
            }
        }
    };
    // Exposure: a longer minimum matches fewer events.
    let taken = match (x.taken_for, y.taken_for) {
        (None, None) => Rel::Same,
        (Some(_), None) => Rel::Weaker,
        (None, Some(_)) => Rel::Stronger,
        (Some((ao, ad)), Some((bo, bd))) => bound(ao, bo, dur_cmp(bd, ad)),
    };
    if taken != Rel::Same {
        let text = |t: Option<(CmpOp, Dur)>| {
            t.map_or_else(
                || "no minimum".to_string(),
                |(op, d)| format!("taken for {} {d}", op.symbol()),
            )
        };
        out.push(Detail::new(
            Aspect::Duration,
            format!("`{what}`: minimum exposure"),
            text(x.taken_for),
            text(y.taken_for),
            rel_of(taken),
        ));
    }
    let wrel = window_rel(po, pn, &x.window, &y.window);
    if wrel != WinRel::Same {
        out.push(window_detail(
            po,
            pn,
            &what,
            &x.window,
            &y.window,
            wrel,
            rel_of(wrel.as_rel()),
        ));
    }
    let (old_except, new_except) = (names(po, &x.except), names(pn, &y.except));
    if old_except != new_except {
        // More excluded concepts match fewer events.
        let rel = if old_except.is_subset(&new_except) {
            Rel::Stronger
        } else if new_except.is_subset(&old_except) {
            Rel::Weaker
        } else {
            Rel::Unknown
        };
        let text = |names: &[String]| {
            if names.is_empty() {
                "nothing".to_string()
            } else {
                format!("{{{}}}", names.join(", "))
            }
        };
        out.push(Detail::new(
            Aspect::Filters,
            format!("`{what}`: `except`"),
            text(&x.except_names),
            text(&y.except_names),
            rel_of(rel),
        ));
    }
    if x.filters != y.filters {
        // `t` asks at least what `s` asks when each test of `s` follows from one of `t`: more
        // tests, or fewer alternatives, match fewer events.
        let subset = |s: &[crate::program::Filter], t: &[crate::program::Filter]| {
            s.iter().all(|f| t.iter().any(|g| filter_implies(g, f)))
        };
        let rel = if subset(&x.filters, &y.filters) {
            Rel::Stronger
        } else if subset(&y.filters, &x.filters) {
            Rel::Weaker
        } else {
            Rel::Unknown
        };
        out.push(Detail::new(
            Aspect::Filters,
            format!("`{what}`: `where` filters"),
            filters_text(&x.filters),
            filters_text(&y.filters),
            rel_of(rel),
        ));
    }
    Some(())
}

/// Whether every record `a` matches is also matched by `b`: the same test, or `b` lists `a`
/// (or all of `a`'s alternatives) among its alternatives.
fn filter_implies(a: &crate::program::Filter, b: &crate::program::Filter) -> bool {
    a == b || {
        let wider = b.tests();
        a.tests().iter().all(|t| wider.contains(t))
    }
}

fn filters_text(filters: &[crate::program::Filter]) -> String {
    if filters.is_empty() {
        return "none".to_string();
    }
    filters
        .iter()
        .map(|f| match f {
            crate::program::Filter::Any(_) if filters.len() > 1 => format!("({})", f.text()),
            _ => f.text(),
        })
        .collect::<Vec<_>>()
        .join(" and ")
}

fn dose(
    po: &Program,
    pn: &Program,
    x: &DoseQuery,
    y: &DoseQuery,
    out: &mut Vec<Detail>,
) -> Option<()> {
    let xs: Vec<ConceptId> = x.drugs.iter().map(|(d, _)| *d).collect();
    let ys: Vec<ConceptId> = y.drugs.iter().map(|(d, _)| *d).collect();
    let (old, new) = (names(po, &xs), names(pn, &ys));
    if x.target != y.target && old.is_disjoint(&new) {
        return None;
    }
    let what = y.target.clone();
    // More drugs add up to a larger dose: weaker for a lower bound.
    let grows = count_rel(y.op, Rel::Weaker);
    members(po, pn, &format!("drugs in `{what}`"), &xs, &ys, grows, out);
    codes(po, pn, &xs, &ys, Rel::Unknown, out);
    let factors_changed = x.drugs.iter().any(|(d, f)| {
        y.drugs
            .iter()
            .any(|(e, g)| concept_name(po, *d) == concept_name(pn, *e) && f != g)
    });
    if x.as_drug != y.as_drug || x.per_kg != y.per_kg || factors_changed {
        let text = |q: &DoseQuery| {
            format!(
                "as {}{}",
                q.as_drug.as_deref().unwrap_or("written"),
                if q.per_kg { ", per kg" } else { "" }
            )
        };
        out.push(Detail::new(
            Aspect::Equivalence,
            format!("`{what}`: how doses are added up"),
            text(x),
            text(y),
            Rel::Unknown,
        ));
    }
    let ord = if x.unit.is_commensurable(&y.unit) {
        y.unit.compare(y.threshold, &x.unit, x.threshold)
    } else {
        None
    };
    let rel = bound(x.op, y.op, ord);
    if rel != Rel::Same {
        out.push(Detail::new(
            Aspect::Threshold,
            format!("`{what}`: daily dose threshold"),
            format!("{} {}", x.op.symbol(), quantity_text(x.threshold, &x.unit)),
            format!("{} {}", y.op.symbol(), quantity_text(y.threshold, &y.unit)),
            rel,
        ));
    }
    // A longer run is harder to find.
    let sustained = match (x.sustained, y.sustained) {
        (None, None) => Rel::Same,
        (Some(_), None) => Rel::Weaker,
        (None, Some(_)) => Rel::Stronger,
        (Some(a), Some(b)) => Rel::from_larger_is_weaker(dur_cmp(b, a)).flip(),
    };
    if sustained != Rel::Same {
        let text = |d: Option<Dur>| {
            d.map_or_else(|| "not required".to_string(), |d| format!("sustained {d}"))
        };
        out.push(Detail::new(
            Aspect::Duration,
            format!("`{what}`: how long the dose must be held"),
            text(x.sustained),
            text(y.sustained),
            sustained,
        ));
    }
    let wrel = window_rel(po, pn, &x.window, &y.window);
    if wrel != WinRel::Same {
        out.push(window_detail(
            po,
            pn,
            &what,
            &x.window,
            &y.window,
            wrel,
            wrel.as_rel(),
        ));
    }
    Some(())
}
