//! Elementary tests in SQL, each as `src/eval/leaf.rs` evaluates them on the facts an OMOP
//! export gives: a CTE of per-person values where facts are needed, and the leaf's value as
//! an expression over the person row and that CTE (0 false, 1 unknown, 2 true).

use rust_decimal::Decimal;

use super::Gen;
use super::facts::Kind;
use crate::ast::{
    ArithOp, CmpOp, ConceptKind, Direction, DurationUnit, EventKind, EventSelect, RefBound,
    SelectMode,
};
use crate::program::{
    AnchorId, Arith, Concept, ConceptId, Cond, CondKind, DoseQuery, Dur, EventQuery, Filter,
    Qualitative, RangeTest, Threshold, TimePoint, ValueTest, Window,
};
use crate::units::{MolarMass, Unit};

/// The comparisons `(a, m, r)` a unit table holds for a concept and a result's unit.
type Slots<'a> = dyn Fn(&Concept, &Unit) -> [Option<(String, String, String)>; 2] + 'a;

/// A window placed for a person: SQL date expressions (`None` unbounded) and the condition
/// under which it can be placed (its anchors are known).
struct Win {
    from: Option<String>,
    to: Option<String>,
    ok: String,
}

/// The words `qualitative` in `src/eval/leaf.rs` reads as each value.
fn words(q: Qualitative) -> &'static [&'static str] {
    match q {
        Qualitative::Positive => &["positive", "pos", "detected", "reactive", "present"],
        Qualitative::Negative => &[
            "negative",
            "neg",
            "not detected",
            "non reactive",
            "nonreactive",
            "absent",
        ],
        Qualitative::Indeterminate => &["indeterminate", "equivocal", "borderline", "inconclusive"],
        Qualitative::Normal => &["normal"],
        Qualitative::Abnormal => &["abnormal"],
        Qualitative::Improving => &["improving", "improved", "responding"],
        Qualitative::Stable => &["stable"],
        Qualitative::Progressing => &[
            "progressing",
            "progressive",
            "progression",
            "worsened",
            "worsening",
        ],
        Qualitative::Undetermined => &["undetermined"],
        Qualitative::CompleteRemission => &["complete remission"],
        Qualitative::PartialRemission => &["partial remission"],
    }
}

/// `bounded` of `src/eval/leaf.rs`: `op` for a value known as `comparator` bound, given
/// the ordering of the bound against the threshold.
fn bounded(op: CmpOp, comparator: Option<&str>, ord: std::cmp::Ordering) -> u8 {
    use std::cmp::Ordering::{Equal, Greater, Less};
    let possible: &[std::cmp::Ordering] = match (comparator, ord) {
        (None, o) => return if op.holds(o) { 2 } else { 0 },
        (Some("<"), Less | Equal) | (Some("<="), Less) => &[Less],
        (Some("<="), Equal) => &[Less, Equal],
        (Some(">"), Greater | Equal) | (Some(">="), Greater) => &[Greater],
        (Some(">="), Equal) => &[Greater, Equal],
        _ => &[Less, Equal, Greater],
    };
    if possible.iter().all(|o| op.holds(*o)) {
        2
    } else if possible.iter().all(|o| !op.holds(*o)) {
        0
    } else {
        1
    }
}

/// SQL for `bounded(op, cmp, ord)` where `ord` is an expression of -1, 0, 1 (NULL: the
/// comparison could not be made, unknown).
fn bounded_sql(op: CmpOp, ord: &str) -> String {
    use std::cmp::Ordering::{Equal, Greater, Less};
    let arm = |c: Option<&str>| {
        format!(
            "(CASE WHEN {ord} < 0 THEN {} WHEN {ord} = 0 THEN {} ELSE {} END)",
            bounded(op, c, Less),
            bounded(op, c, Equal),
            bounded(op, c, Greater)
        )
    };
    format!(
        "(CASE WHEN {ord} IS NULL THEN 1 WHEN cmp IS NULL THEN {} WHEN cmp = '<' THEN {} WHEN cmp = '<=' THEN {} WHEN cmp = '>' THEN {} WHEN cmp = '>=' THEN {} ELSE {} END)",
        arm(None),
        arm(Some("<")),
        arm(Some("<=")),
        arm(Some(">")),
        arm(Some(">=")),
        arm(Some("?"))
    )
}

/// An exact decimal times a whole number, written as a decimal literal; `None` on overflow.
fn times(d: Decimal, k: u128) -> Option<String> {
    let m = d.mantissa().checked_mul(i128::try_from(k).ok()?)?;
    let scale = d.scale() as usize;
    let negative = m < 0;
    let digits = m.unsigned_abs().to_string();
    let text = if scale == 0 {
        digits
    } else {
        let padded = format!("{digits:0>width$}", width = scale + 1);
        let (int, frac) = padded.split_at(padded.len() - scale);
        format!("{int}.{frac}")
    };
    Some(if negative { format!("-{text}") } else { text })
}

/// How to compare a value `a` in `data` with `b` in `threshold` exactly, as `compare_via` of
/// `src/units.rs` does: `(a + A) * M` against `R`. `None` when they cannot be compared.
fn cmp_params(
    data: &Unit,
    threshold: &Unit,
    b: Decimal,
    molar: Option<&MolarMass>,
) -> Option<(String, String, String)> {
    let (dn, dd) = data.factor();
    let (tn, td) = threshold.factor();
    if data.is_commensurable(threshold) {
        if (dn, dd) == (tn, td) && data.offset() == threshold.offset() {
            return Some(("0".into(), "1".into(), times(b, 1)?));
        }
        let shifted = b.checked_add(threshold.offset())?;
        let a = times(data.offset(), 1)?;
        if (dn, dd) == (tn, td) {
            return Some((a, "1".into(), times(shifted, 1)?));
        }
        let m = dn.checked_mul(td)?;
        let r = times(shifted, tn.checked_mul(dd)?)?;
        return Some((a, m.to_string(), r));
    }
    let mm = molar?;
    let (fmn, fmd) = mm.unit.factor();
    let md = mm.unit.dimension();
    if threshold.dimension().times(md) == Some(data.dimension()) {
        // a·fa.num·fb.den·fm.den ? b·m·fb.num·fm.num·fa.den
        let m = dn.checked_mul(td)?.checked_mul(fmd)?;
        let bm = b.checked_mul(mm.value)?;
        let r = times(bm, tn.checked_mul(fmn)?.checked_mul(dd)?)?;
        Some(("0".into(), m.to_string(), r))
    } else if data.dimension().times(md) == Some(threshold.dimension()) {
        // a·m·fa.num·fm.num·fb.den ? b·fb.num·fa.den·fm.den
        let m = times(mm.value, dn.checked_mul(fmn)?.checked_mul(td)?)?;
        let r = times(b, tn.checked_mul(dd)?.checked_mul(fmd)?)?;
        Some(("0".into(), m, r))
    } else {
        None
    }
}

impl Gen<'_> {
    /// The person column of an anchor's date: `aN`, or while a leaf is written without the
    /// facts eligc cannot place (`Gen::without`), `waN` for an anchor taken from the record's
    /// events (computed without them too, as the interpreter resolves it then).
    fn anchor_column(&self, a: AnchorId) -> String {
        let from_event = self.p.anchor(a).is_some_and(|i| i.event.is_some());
        if self.without && from_event {
            format!("wa{}", a.0)
        } else {
            format!("a{}", a.0)
        }
    }

    fn anchor_col(&self, a: AnchorId) -> (String, Option<String>) {
        match self.p.anchor(a) {
            Some(info) => match info.fixed {
                Some(d) => (self.d.date(d), None),
                None => {
                    let col = self.anchor_column(a);
                    (format!("p.{col}"), Some(format!("p.{col} IS NOT NULL")))
                }
            },
            None => ("CAST(NULL AS DATE)".to_string(), Some("1 = 0".to_string())),
        }
    }

    fn shift(&self, date: &str, dur: Dur, direction: Direction) -> String {
        let sign: i64 = if direction == Direction::Before {
            -1
        } else {
            1
        };
        let n = i64::from(dur.amount);
        match dur.unit {
            DurationUnit::Days => self.d.add_days(date, sign * n),
            DurationUnit::Weeks => self.d.add_days(date, sign * n * 7),
            DurationUnit::Months => self.d.add_months(date, sign * n),
            DurationUnit::Years => self.d.add_months(date, sign * n * 12),
        }
    }

    fn point(&self, t: &TimePoint, oks: &mut Vec<String>) -> String {
        let (base, ok) = self.anchor_col(t.anchor);
        oks.extend(ok);
        match t.offset {
            None => base,
            Some((dur, dir)) => self.shift(&base, dur, dir),
        }
    }

    fn window(&self, w: &Window) -> Win {
        // `time::resolve`: a window counted from an event the record does not have is
        // empty, from the last day of the calendar to the first.
        if self.empty == Some(true) && self.window_empty(w).is_some() {
            return Win {
                from: Some("DATE '9999-12-31'".to_string()),
                to: Some("DATE '0001-01-01'".to_string()),
                ok: "1 = 1".to_string(),
            };
        }
        let mut oks = Vec::new();
        let (from, to) = match w {
            Window::Ever => (None, None),
            Window::At(a) => {
                let (d, ok) = self.anchor_col(*a);
                oks.extend(ok);
                (Some(d.clone()), Some(d))
            }
            Window::Range { from, to } => (
                from.as_ref().map(|t| self.point(t, &mut oks)),
                to.as_ref().map(|t| self.point(t, &mut oks)),
            ),
        };
        oks.dedup();
        Win {
            from,
            to,
            ok: if oks.is_empty() {
                "1 = 1".to_string()
            } else {
                oks.join(" AND ")
            },
        }
    }

    /// For a window counted from an anchor taken from the record, when it is empty: as
    /// `time::resolve` places it, the first of its anchors that is not known has no event
    /// (`eN = 0`). `None` for a window with no such anchor.
    pub(super) fn window_empty(&self, w: &Window) -> Option<String> {
        let anchors: Vec<AnchorId> = match w {
            Window::Ever => Vec::new(),
            Window::At(a) => vec![*a],
            Window::Range { from, to } => from.iter().chain(to.iter()).map(|t| t.anchor).collect(),
        };
        let from_event = |a: &AnchorId| self.p.anchor(*a).is_some_and(|i| i.event.is_some());
        if !anchors.iter().any(from_event) {
            return None;
        }
        let mut known: Vec<String> = Vec::new();
        let mut arms = Vec::new();
        for a in anchors {
            let Some(info) = self.p.anchor(a) else { break };
            if info.fixed.is_some() {
                continue;
            }
            if info.event.is_some() {
                let mut all = known.clone();
                let state = if self.without { "we" } else { "e" };
                all.push(format!("p.{state}{} = 0", a.0));
                arms.push(format!("({})", all.join(" AND ")));
            }
            known.push(format!("p.{} IS NOT NULL", self.anchor_column(a)));
        }
        Some(if arms.is_empty() {
            "1 = 0".to_string()
        } else {
            arms.join(" OR ")
        })
    }

    /// Joins a per-person CTE for a leaf; returns its alias.
    /// A leaf written without the facts eligc cannot place is `eligc_lwN`: Spark materialises
    /// the `eligc_` steps as tables, and with these as subqueries of the result too, the
    /// result's single query ran out of memory on `reach.elig` (aggregation, 2 GB heap).
    fn leaf_cte(&mut self, query: String) -> String {
        let n = self.fresh();
        let name = if self.without {
            format!("eligc_lw{n}")
        } else {
            format!("l{n}")
        };
        self.cte(&name, query);
        self.joins.push(format!(
            " LEFT JOIN {name} ON {name}.person_id = p.person_id"
        ));
        name
    }

    /// Evaluates a leaf condition to an expression, or reports it unsupported. An event
    /// check (those `placing` of `src/eval/leaf.rs` evaluates) of a kind OMOP has facts of
    /// is also written without the facts eligc cannot place (`cls` U and E): with the
    /// value, that expression and its kind, from which `Gen::cond` tells whether those facts
    /// made it unknown.
    pub(super) fn leaf(&mut self, c: &Cond) -> Option<(String, Option<(String, Kind)>)> {
        self.paired = None;
        let value = self.leaf_windowed(c)?;
        let paired = self.paired.take();
        let kind = match &c.kind {
            CondKind::Event(q)
            | CondKind::SelectEvent { query: q, .. }
            | CondKind::CountEvents { query: q, .. }
            | CondKind::CountDistinct { query: q, .. } => kind_of(q.kind),
            CondKind::Dose(_) => Some(Kind::Medication),
            _ => None,
        };
        let Some(kind) = kind else {
            return Some((value, None));
        };
        let without = match paired {
            Some(without) => without,
            None => {
                self.without = true;
                let without = self.leaf_windowed(c);
                self.without = false;
                without?
            }
        };
        Some((value, Some((without, kind))))
    }

    /// A leaf's value; one whose window is counted from an anchor taken from the record is
    /// written twice, for the window placed and for the empty window (no such event), and
    /// chosen per person.
    fn leaf_windowed(&mut self, c: &Cond) -> Option<String> {
        let window = match &c.kind {
            CondKind::Observation { window, .. } | CondKind::CountResults { window, .. } => {
                Some(*window)
            }
            CondKind::Event(q)
            | CondKind::SelectEvent { query: q, .. }
            | CondKind::CountEvents { query: q, .. }
            | CondKind::CountDistinct { query: q, .. } => Some(q.window),
            CondKind::Dose(q) => Some(q.window),
            _ => None,
        };
        let Some(empty) = window.and_then(|w| self.window_empty(&w)) else {
            return self.leaf_value(c);
        };
        self.empty = Some(false);
        let placed = self.leaf_value(c);
        self.empty = Some(true);
        let none = placed.as_ref().and_then(|_| self.leaf_value(c));
        self.empty = None;
        Some(format!(
            "(CASE WHEN {empty} THEN {} ELSE {} END)",
            none?, placed?
        ))
    }

    fn leaf_value(&mut self, c: &Cond) -> Option<String> {
        let d = self.d;
        match &c.kind {
            CondKind::Attested(id) => Some(format!("COALESCE(at.t{}, 1)", id.0)),
            CondKind::SexIs(sex) => {
                let word = match sex {
                    crate::program::Sex::Female => "female",
                    crate::program::Sex::Male => "male",
                    crate::program::Sex::Other => "other",
                };
                Some(format!(
                    "(CASE WHEN p.sex IS NULL THEN 1 WHEN p.sex = {} THEN 2 ELSE 0 END)",
                    d.lit(word)
                ))
            }
            CondKind::Age {
                anchor,
                op,
                duration,
            } => {
                let (at, ok) = self.anchor_col(*anchor);
                let ok = ok.unwrap_or_else(|| "1 = 1".to_string());
                let age = match duration.unit {
                    DurationUnit::Days => d.days_between("p.birth", &at),
                    DurationUnit::Weeks => d.floor_div(&d.days_between("p.birth", &at), 7),
                    DurationUnit::Months | DurationUnit::Years => {
                        let months = format!(
                            "((EXTRACT(YEAR FROM {at}) - EXTRACT(YEAR FROM p.birth)) * 12 + EXTRACT(MONTH FROM {at}) - EXTRACT(MONTH FROM p.birth))"
                        );
                        let whole = format!(
                            "({months} - CASE WHEN {} > {at} THEN 1 ELSE 0 END)",
                            d.add_months_expr("p.birth", &months)
                        );
                        if duration.unit == DurationUnit::Years {
                            d.floor_div(&whole, 12)
                        } else {
                            whole
                        }
                    }
                };
                Some(format!(
                    "(CASE WHEN p.birth IS NULL OR NOT ({ok}) THEN 1 WHEN {age} {} {} THEN 2 ELSE 0 END)",
                    op.symbol().replace("==", "=").replace("!=", "<>"),
                    duration.amount
                ))
            }
            CondKind::Observation {
                mode,
                concepts,
                window,
                test,
                ..
            } => self.observation(*mode, concepts, window, test),
            CondKind::CountResults {
                concept,
                window,
                op,
                n,
            } => {
                self.observation_facts();
                let w = self.window(window);
                let inside = inside_date("ob.d", &w);
                let l = self.leaf_cte(format!(
                    "SELECT ob.person_id, COUNT(*) AS n FROM eligc_ob ob JOIN eligc_pm_obs pm ON pm.tbl = ob.tbl AND pm.rid = ob.rid JOIN eligc_p p ON p.person_id = ob.person_id WHERE pm.idx = {} AND {inside} GROUP BY ob.person_id",
                    concept.0
                ));
                Some(format!(
                    "(CASE WHEN NOT ({}) THEN 1 WHEN COALESCE({l}.n, 0) {} {} THEN 2 ELSE 0 END)",
                    w.ok,
                    sql_op(*op),
                    d.num(*n)
                ))
            }
            CondKind::Arithmetic {
                value,
                op,
                threshold,
                unit,
            } => self.arithmetic(value, *op, *threshold, unit, c),
            CondKind::Event(q) => self.event(q, EventLeaf::Exists),
            CondKind::SelectEvent { select, query } => self.select_event(*select, query),
            CondKind::CountEvents { query, op, n } => self.event(query, EventLeaf::Count(*op, *n)),
            CondKind::CountDistinct { query, op, n } => {
                self.event(query, EventLeaf::Distinct(*op, *n))
            }
            CondKind::Dose(dose) => self.dose(dose, c),
            CondKind::And(_) | CondKind::Or(_) | CondKind::Not(_) | CondKind::Define(_) => {
                Some("1".to_string())
            }
        }
    }

    /// The unit table of an observation test: per concept and unit spelling (`''`: no unit)
    /// whether the result's unit is usable (`quantity` of `src/eval/leaf.rs`), and up to two
    /// comparisons `(a, m, r)`.
    fn unit_table(&mut self, concepts: &[ConceptId], slots: &Slots<'_>) -> String {
        let mut rows = Vec::new();
        let texts = self.unit_texts.clone();
        for id in concepts {
            let Some(c) = self.p.concept(*id) else {
                continue;
            };
            let add = |text: &str, unit: &Unit, rows: &mut Vec<String>| {
                let [one, two] = slots(c, unit);
                let cols = |s: Option<(String, String, String)>| match s {
                    Some((a, m, r)) => format!("{a}, {m}, {r}"),
                    None => "NULL, NULL, NULL".to_string(),
                };
                rows.push(format!(
                    "({}, {}, {}, {})",
                    id.0,
                    self.d.lit(text),
                    cols(one),
                    cols(two)
                ));
            };
            for text in &texts {
                let Ok(parsed) = crate::units::parse_unit(text) else {
                    continue;
                };
                let unit = match &c.unit {
                    Some(own) if c.kind == ConceptKind::Score && parsed.is_unity() => own.clone(),
                    _ => parsed,
                };
                add(text, &unit, &mut rows);
            }
            if let Some(own) = &c.unit {
                if c.kind == ConceptKind::Score || own.is_dimensionless() {
                    add("", own, &mut rows);
                }
            }
        }
        let table = self.d.values(
            &["idx", "unit", "a1", "m1", "r1", "a2", "m2", "r2"],
            &rows,
            "0, '', 0, 0, 0, 0, 0, 0",
        );
        // Typed once: NULL columns of a VALUES list need a type in PostgreSQL.
        let dec = self.d.decimal("x");
        let cast = |c: &str| dec.replace('x', c);
        format!(
            "SELECT idx, unit, {} AS a1, {} AS m1, {} AS r1, {} AS a2, {} AS m2, {} AS r2 FROM ({table}) ut",
            cast("a1"),
            cast("m1"),
            cast("r1"),
            cast("a2"),
            cast("m2"),
            cast("r2")
        )
    }

    fn observation(
        &mut self,
        mode: SelectMode,
        concepts: &[ConceptId],
        window: &Window,
        test: &ValueTest,
    ) -> Option<String> {
        self.observation_facts();
        let d = self.d;
        let w = self.window(window);
        let inside = inside_date("ob.d", &w);
        let ids: Vec<String> = concepts.iter().map(|c| c.0.to_string()).collect();
        let members = format!("pm.idx IN ({})", ids.join(", "));
        if *test == ValueTest::Exists {
            let l = self.leaf_cte(format!(
                "SELECT ob.person_id, COUNT(*) AS n FROM eligc_ob ob JOIN eligc_pm_obs pm ON pm.tbl = ob.tbl AND pm.rid = ob.rid JOIN eligc_p p ON p.person_id = ob.person_id WHERE {members} AND {inside} GROUP BY ob.person_id"
            ));
            let (yes, no) = if mode == SelectMode::No {
                (0, 2)
            } else {
                (2, 0)
            };
            return Some(format!(
                "(CASE WHEN NOT ({}) THEN 1 WHEN COALESCE({l}.n, 0) > 0 THEN {yes} ELSE {no} END)",
                w.ok
            ));
        }
        if mode == SelectMode::Average {
            return Some("1".to_string());
        }
        let ord_value = |slot: u8| format!("SIGN((ob.v + ut.a{slot}) * ut.m{slot} - ut.r{slot})");
        let (units, tt) = match test {
            ValueTest::Exists => return None,
            ValueTest::Qualitative { negated, value } => {
                // The recorded word's value answers the question as `Qualitative::answers`
                // says: yes, no, or not at all (another family of results: unknown).
                let norm = "LOWER(REPLACE(REPLACE(TRIM(ob.word), '-', ' '), '_', ' '))";
                let mut arms = String::new();
                for (_, q) in crate::program::Qualitative::ALL {
                    let t = match q.answers(*value) {
                        Some(holds) => {
                            if holds != *negated {
                                2
                            } else {
                                0
                            }
                        }
                        None => 1,
                    };
                    let lits: Vec<String> = words(*q).iter().map(|w| d.lit(w)).collect();
                    arms.push_str(&format!(" WHEN {norm} IN ({}) THEN {t}", lits.join(", ")));
                }
                (
                    None,
                    format!("(CASE WHEN ob.word IS NULL THEN 1{arms} ELSE 1 END)"),
                )
            }
            ValueTest::Compare { op, threshold } => match threshold {
                Threshold::RefOffset { bound, .. } => {
                    // Slot 1: the protocol's normal range moved, compared as a quantity;
                    // slot 2: the offset in the result's own unit (`a2`), added to the
                    // result's own limit (`against_limit` of `src/eval/leaf.rs`).
                    let (moved, bound) = (threshold.clone(), *bound);
                    let units = self.unit_table(concepts, &|c, u| {
                        let default = c
                            .normal
                            .as_ref()
                            .and_then(|n| match bound {
                                RefBound::Uln => n.high,
                                RefBound::Lln => n.low,
                            })
                            .zip(c.unit.as_ref())
                            .and_then(|(limit, canonical)| {
                                let at = moved.from_limit(limit, canonical).ok()?;
                                cmp_params(u, canonical, at, c.molar_mass.as_ref())
                            });
                        let offset = moved
                            .from_limit(Decimal::ZERO, u)
                            .ok()
                            .and_then(|x| times(x, 1))
                            .map(|x| (x, "1".to_string(), "0".to_string()));
                        [default, offset]
                    });
                    let own = match bound {
                        RefBound::Uln => "ob.hi",
                        RefBound::Lln => "ob.lo",
                    };
                    (
                        Some(units),
                        format!(
                            "(CASE WHEN ob.v IS NULL OR ut.idx IS NULL THEN 1 WHEN {own} IS NOT NULL THEN {} WHEN ut.m1 IS NULL THEN 1 ELSE {} END)",
                            bounded_sql(
                                *op,
                                &format!(
                                    "(CASE WHEN ut.m2 IS NULL THEN NULL ELSE SIGN(ob.v - ({own} + ut.a2)) END)"
                                )
                            ),
                            bounded_sql(*op, &ord_value(1))
                        ),
                    )
                }
                Threshold::Quantity { value, unit } => {
                    let (value, unit) = (*value, unit.clone());
                    let units = self.unit_table(concepts, &|c, u| {
                        [cmp_params(u, &unit, value, c.molar_mass.as_ref()), None]
                    });
                    (
                        Some(units),
                        format!(
                            "(CASE WHEN ob.v IS NULL OR ut.idx IS NULL OR ut.m1 IS NULL THEN 1 ELSE {} END)",
                            bounded_sql(*op, &ord_value(1))
                        ),
                    )
                }
                Threshold::RefMultiple { factor, bound } => {
                    let (factor, bound) = (*factor, *bound);
                    let units = self
                        .unit_table(concepts, &|c, u| [default_limit(c, u, factor, bound), None]);
                    let own = match bound {
                        RefBound::Uln => "ob.hi",
                        RefBound::Lln => "ob.lo",
                    };
                    let f = d.num(factor);
                    (
                        Some(units),
                        format!(
                            "(CASE WHEN ob.v IS NULL OR ut.idx IS NULL THEN 1 WHEN {own} IS NOT NULL THEN {} WHEN ut.m1 IS NULL THEN 1 ELSE {} END)",
                            bounded_sql(*op, &format!("SIGN(ob.v - {f} * {own})")),
                            bounded_sql(*op, &ord_value(1))
                        ),
                    )
                }
            },
            ValueTest::Range { negated, test } => {
                let units = self.unit_table(concepts, &|c, u| {
                    [
                        default_limit(c, u, Decimal::ONE, RefBound::Uln),
                        default_limit(c, u, Decimal::ONE, RefBound::Lln),
                    ]
                });
                let high = format!(
                    "(CASE WHEN ob.hi IS NOT NULL THEN SIGN(ob.v - ob.hi) WHEN ut.m1 IS NOT NULL THEN {} END)",
                    ord_value(1)
                );
                let low = format!(
                    "(CASE WHEN ob.lo IS NOT NULL THEN SIGN(ob.v - ob.lo) WHEN ut.m2 IS NOT NULL THEN {} END)",
                    ord_value(2)
                );
                let value = match test {
                    RangeTest::AboveNormal => bounded_sql(CmpOp::Gt, &high),
                    RangeTest::BelowNormal => bounded_sql(CmpOp::Lt, &low),
                    RangeTest::WithinNormal => format!(
                        "(CASE WHEN {low} IS NULL AND {high} IS NULL THEN 1 ELSE LEAST(CASE WHEN {low} IS NULL THEN 2 ELSE {} END, CASE WHEN {high} IS NULL THEN 2 ELSE {} END) END)",
                        bounded_sql(CmpOp::Ge, &low),
                        bounded_sql(CmpOp::Le, &high)
                    ),
                };
                let value = if *negated {
                    format!("(2 - {value})")
                } else {
                    value
                };
                (
                    Some(units),
                    format!("(CASE WHEN ob.v IS NULL OR ut.idx IS NULL THEN 1 ELSE {value} END)"),
                )
            }
        };
        let unit_join = match units {
            Some(table) => format!(
                " LEFT JOIN ({table}) ut ON ut.idx = pm.idx AND ut.unit = COALESCE(ob.unit, '')"
            ),
            None => String::new(),
        };
        let position = format!(
            "CASE pm.idx {} END",
            concepts
                .iter()
                .enumerate()
                .map(|(i, c)| format!("WHEN {} THEN {i}", c.0))
                .collect::<Vec<_>>()
                .join(" ")
        );
        let order = if mode == SelectMode::Earliest {
            format!("ob.d ASC, {position} ASC, ob.tbl ASC, ob.rid ASC")
        } else {
            format!("ob.d DESC, {position} DESC, ob.tbl DESC, ob.rid DESC")
        };
        let rows = format!(
            "SELECT ob.person_id, {tt} AS tt, ROW_NUMBER() OVER (PARTITION BY ob.person_id ORDER BY {order}) AS rn FROM eligc_ob ob JOIN eligc_pm_obs pm ON pm.tbl = ob.tbl AND pm.rid = ob.rid JOIN eligc_p p ON p.person_id = ob.person_id{unit_join} WHERE {members} AND {inside}"
        );
        let agg = match mode {
            SelectMode::Latest | SelectMode::Earliest => "MAX(CASE WHEN rn = 1 THEN tt END)",
            SelectMode::Any => "MAX(tt)",
            SelectMode::All => "MIN(tt)",
            SelectMode::No => "2 - MAX(tt)",
            SelectMode::Average => "1",
        };
        let l = self.leaf_cte(format!(
            "SELECT person_id, {agg} AS t FROM ({rows}) x GROUP BY person_id"
        ));
        Some(format!(
            "(CASE WHEN NOT ({}) THEN 1 ELSE COALESCE({l}.t, 1) END)",
            w.ok
        ))
    }

    /// The truth of `where` filters on an event row `ev` (OMOP facts carry only a drug's
    /// route and, without an end, its status `completed`, and a procedure's status).
    fn filters(&self, kind: Kind, filters: &[Filter]) -> Vec<String> {
        filters.iter().map(|f| self.filter(kind, f)).collect()
    }

    fn filter(&self, kind: Kind, f: &Filter) -> String {
        match f {
            // Alternatives on one record: Kleene `or`.
            Filter::Any(alternatives) => {
                let parts: Vec<String> =
                    alternatives.iter().map(|a| self.filter(kind, a)).collect();
                match parts.as_slice() {
                    [] => "0".to_string(),
                    [one] => one.clone(),
                    _ => format!("GREATEST({})", parts.join(", ")),
                }
            }
            Filter::Word {
                attribute,
                negated,
                values,
            } => {
                let column = match (attribute.as_str(), kind) {
                    ("status", Kind::Medication | Kind::Procedure) => Some("ev.mstatus"),
                    ("route", Kind::Medication) => Some("ev.route"),
                    _ => None,
                };
                let Some(column) = column else {
                    return "1".to_string();
                };
                let list: Vec<String> = values.iter().map(|v| self.d.lit(v)).collect();
                let (hit, miss) = if *negated { (0, 2) } else { (2, 0) };
                format!(
                    "(CASE WHEN {column} IS NULL THEN 1 WHEN {column} IN ({}) THEN {hit} ELSE {miss} END)",
                    list.join(", ")
                )
            }
            // No OMOP fact has a grade, a body site or a reason: unknown.
            Filter::Number { .. } | Filter::Code { .. } => "1".to_string(),
        }
    }

    /// The event rows of a query with their truth `t` (in the window, and the filters), the
    /// window's ends `wf`, `wt` and the as-of date.
    fn event_rows(&mut self, q: &EventQuery, kind: Kind, w: &Win) -> String {
        self.event_facts(kind);
        let name = kind.name();
        let (from, to) = (
            w.from
                .clone()
                .unwrap_or_else(|| "CAST(NULL AS DATE)".into()),
            w.to.clone().unwrap_or_else(|| "CAST(NULL AS DATE)".into()),
        );
        let mut dates = String::from("(CASE");
        if let Some(t) = &w.to {
            dates.push_str(&format!(" WHEN ev.s > {t} THEN 0"));
        }
        dates.push_str(" WHEN ev.ek = 'O' THEN 2 WHEN ev.ek = 'K' THEN ");
        match &w.from {
            Some(f) => dates.push_str(&format!(
                "(CASE WHEN ev.e >= {f} THEN 2 ELSE 0 END) ELSE (CASE WHEN ev.s >= {f} THEN 2 ELSE 1 END) END)"
            )),
            None => dates.push_str("2 ELSE 2 END)"),
        }
        let mut parts = vec![format!(
            "(CASE WHEN ev.cls IN ('U', 'E') THEN LEAST({dates}, 1) ELSE {dates} END)"
        )];
        parts.extend(self.filters(kind, &q.filters));
        let t = if parts.len() == 1 {
            parts.concat()
        } else {
            format!("LEAST({})", parts.join(", "))
        };
        let select = format!(
            "ev.person_id, ev.tbl, ev.rid, ev.s, ev.e, ev.ek, ev.idx, ev.cls, {t} AS t, {from} AS wf, {to} AS wt, p.as_of"
        );
        let persons = self.persons.clone();
        // `except`: records placed under one of its concepts are left out.
        let except: Vec<String> = q.except.iter().map(|c| c.0.to_string()).collect();
        // PostgreSQL: `NOT IN`, not an anti-join: with a CTE's estimate of one row it
        // planned the anti-join as a nested loop (26 million comparisons, 4.5 s of 10 s on
        // 5,000 persons); `NOT IN` over non-null keys is a hashed subplan. Spark plans the
        // anti-join as a hash join.
        let excluded = format!(
            "SELECT tbl, rid FROM eligc_pm_{name} WHERE idx IN ({})",
            except.join(", ")
        );
        let (left_out, kept) = match self.d {
            _ if except.is_empty() => (String::new(), String::new()),
            super::Dialect::Postgresql => (
                String::new(),
                format!(" AND (ev.tbl, ev.rid) NOT IN ({excluded})"),
            ),
            super::Dialect::Spark => (
                format!(
                    " LEFT JOIN (SELECT DISTINCT tbl, rid FROM eligc_pm_{name} WHERE idx IN ({})) xo ON xo.tbl = ev.tbl AND xo.rid = ev.rid",
                    except.join(", ")
                ),
                " AND xo.rid IS NULL".to_string(),
            ),
        };
        // Without the facts eligc cannot place, a leaf's rows are those of every person,
        // though only those with such facts need them: restricted to those (a join or `IN`
        // on `eligc_u_K`), PostgreSQL chose plans that took the seed protocol on 3,000
        // generated persons from 3 s to 16 to 22 s.
        if q.every {
            // Every record of the kind; with `except`, one eligc cannot place might be an
            // excluded one (at most unknown), and so might one the vocabulary places
            // elsewhere when some excluded concept is not in the vocabulary. Without those
            // facts, every record is an ordinary one.
            let cls = if except.is_empty() || self.without {
                "'P'".to_string()
            } else {
                format!(
                    "CASE WHEN f.matched = 0 AND f.cls0 = 'U' THEN 'U' WHEN f.matched = 0 AND f.cls0 = 'E' AND (SELECT COUNT(*) FROM eligc_anchored WHERE idx IN ({})) < {} THEN 'E' ELSE 'P' END",
                    except.join(", "),
                    except.len()
                )
            };
            return format!(
                "SELECT {select} FROM (SELECT f.person_id, f.tbl, f.rid, f.s, f.e, f.ek, f.route, f.mstatus, -1 AS idx, {cls} AS cls FROM eligc_fx_{name} f) ev JOIN {persons} p ON p.person_id = ev.person_id{left_out} WHERE {}{kept}",
                w.ok
            );
        }
        let ids: Vec<String> = q.concepts.iter().map(|c| c.0.to_string()).collect();
        let n = ids.len();
        let list = if ids.is_empty() {
            "1 = 0".to_string()
        } else {
            format!("ev.idx IN ({})", ids.join(", "))
        };
        let anchored_list = if ids.is_empty() {
            "1 = 0".to_string()
        } else {
            format!("idx IN ({})", ids.join(", "))
        };
        if self.without {
            return format!(
                "SELECT {select} FROM eligc_ev_{name} ev JOIN {persons} p ON p.person_id = ev.person_id{left_out} \
                 WHERE {} AND ev.cls = 'P' AND {list}{kept}",
                w.ok
            );
        }
        format!(
            "SELECT {select} FROM eligc_ev_{name} ev JOIN {persons} p ON p.person_id = ev.person_id CROSS JOIN (SELECT COUNT(*) AS n FROM eligc_anchored WHERE {anchored_list}) na{left_out} \
             WHERE {} AND ((ev.cls = 'P' AND {list}) OR ev.cls = 'U' OR (ev.cls = 'E' AND na.n < {n})){kept}",
            w.ok
        )
    }

    fn event(&mut self, q: &EventQuery, leaf: EventLeaf) -> Option<String> {
        // OMOP gives no allergies, studies or family history (the reader leaves them out):
        // the record has no such list, every question is unknown.
        let Some(kind) = kind_of(q.kind) else {
            return Some("1".to_string());
        };
        let w = self.window(&q.window);
        let rows = self.event_rows(q, kind, &w);
        let ok = w.ok.clone();
        // Without the facts eligc cannot place, the rows of a query are its placed ones (`cls`
        // P, whose truth is the same) when its window is the same without them (no anchor
        // taken from events: `empty` is not set) and no record changes class (not `any KIND
        // except`): the value without them comes from the same rows, in the same CTE
        // (`Gen::paired`), rather than from a second one.
        let pair = !self.without && self.empty.is_none() && (!q.every || q.except.is_empty());
        match (leaf, q.taken_for) {
            (EventLeaf::Exists, None) => {
                let l = self.leaf_cte(format!(
                    "SELECT person_id, MAX(t) AS t, MAX(CASE WHEN cls = 'P' THEN t END) AS tw FROM ({rows}) r GROUP BY person_id"
                ));
                if pair {
                    self.paired = Some(format!(
                        "(CASE WHEN NOT ({ok}) THEN 1 ELSE COALESCE({l}.tw, 0) END)"
                    ));
                }
                Some(format!(
                    "(CASE WHEN NOT ({ok}) THEN 1 ELSE COALESCE({l}.t, 0) END)"
                ))
            }
            (EventLeaf::Exists, Some((op, dur))) => {
                let grouped = format!("SELECT r.*, 0 AS g FROM ({rows}) r");
                let l = self.leaf_cte(exposure(self.d, &grouped, op, dur));
                Some(format!(
                    "(CASE WHEN NOT ({ok}) THEN 1 ELSE COALESCE({l}.t, {}) END)",
                    apply_op(op, "0", "0")
                ))
            }
            (EventLeaf::Count(op, n), taken) => {
                let per_event = match taken {
                    None => format!("SELECT person_id, t FROM ({rows}) r"),
                    Some((op2, dur)) => {
                        let grouped = format!(
                            "SELECT r.*, ROW_NUMBER() OVER (PARTITION BY r.person_id ORDER BY r.tbl, r.rid, r.idx, r.cls) AS g FROM ({rows}) r"
                        );
                        exposure(self.d, &grouped, op2, dur)
                    }
                };
                if pair && taken.is_none() {
                    let l = self.leaf_cte(format!(
                        "SELECT person_id, SUM(CASE WHEN t = 2 THEN 1 ELSE 0 END) AS lo, SUM(CASE WHEN t >= 1 THEN 1 ELSE 0 END) AS hi, SUM(CASE WHEN cls = 'P' AND t = 2 THEN 1 ELSE 0 END) AS lo_w, SUM(CASE WHEN cls = 'P' AND t >= 1 THEN 1 ELSE 0 END) AS hi_w FROM ({rows}) c GROUP BY person_id"
                    ));
                    let value = |lo: &str, hi: &str| {
                        format!(
                            "(CASE WHEN NOT ({ok}) THEN 1 ELSE {} END)",
                            count_range(
                                &format!("COALESCE({l}.{lo}, 0)"),
                                &format!("COALESCE({l}.{hi}, 0)"),
                                op,
                                n
                            )
                        )
                    };
                    self.paired = Some(value("lo_w", "hi_w"));
                    return Some(value("lo", "hi"));
                }
                let l = self.leaf_cte(format!(
                    "SELECT person_id, SUM(CASE WHEN t = 2 THEN 1 ELSE 0 END) AS lo, SUM(CASE WHEN t >= 1 THEN 1 ELSE 0 END) AS hi FROM ({per_event}) c GROUP BY person_id"
                ));
                Some(format!(
                    "(CASE WHEN NOT ({ok}) THEN 1 ELSE {} END)",
                    count_range(
                        &format!("COALESCE({l}.lo, 0)"),
                        &format!("COALESCE({l}.hi, 0)"),
                        op,
                        n
                    )
                ))
            }
            (EventLeaf::Distinct(op, n), taken) => {
                if q.every {
                    return Some("1".to_string());
                }
                let ids: Vec<String> = q.concepts.iter().map(|c| format!("({})", c.0)).collect();
                let concepts = self.d.values(&["cidx"], &ids, "0");
                // Each concept's events: its own, the unplaced ones, and those placed
                // elsewhere when the vocabulary cannot place under it.
                let per_concept = format!(
                    "SELECT r.*, r.idx AS g FROM ({rows}) r WHERE r.cls = 'P' \
                     UNION ALL SELECT r.*, c.cidx FROM ({rows}) r CROSS JOIN ({concepts}) c WHERE r.cls = 'U' \
                     UNION ALL SELECT r.*, c.cidx FROM ({rows}) r CROSS JOIN ({concepts}) c LEFT JOIN eligc_anchored a ON a.idx = c.cidx WHERE r.cls = 'E' AND a.idx IS NULL"
                );
                let truths = match taken {
                    None => format!(
                        "SELECT person_id, g, MAX(t) AS t FROM ({per_concept}) pc GROUP BY person_id, g"
                    ),
                    Some((op2, dur)) => exposure(self.d, &per_concept, op2, dur),
                };
                let l = self.leaf_cte(format!(
                    "SELECT person_id, SUM(CASE WHEN t = 2 THEN 1 ELSE 0 END) AS lo, SUM(CASE WHEN t >= 1 THEN 1 ELSE 0 END) AS hi FROM ({truths}) c GROUP BY person_id"
                ));
                Some(format!(
                    "(CASE WHEN NOT ({ok}) THEN 1 ELSE {} END)",
                    count_range(
                        &format!("COALESCE({l}.lo, 0)"),
                        &format!("COALESCE({l}.hi, 0)"),
                        op,
                        n
                    )
                ))
            }
        }
    }

    /// A value computed from single results compared with a quantity (`arithmetic` of
    /// `src/eval/leaf/arith.rs`): each result in base units as a fraction `num / den` of
    /// exact decimals, combined as fractions, and compared by cross-multiplication; a missing
    /// or unusable result (a bound, a unit that does not convert) or a zero divisor is
    /// unknown.
    fn arithmetic(
        &mut self,
        value: &Arith,
        op: CmpOp,
        threshold: Decimal,
        unit: &Unit,
        c: &Cond,
    ) -> Option<String> {
        let mut divisors = Vec::new();
        let (num, den) = self.arith(value, &mut divisors, c)?;
        let (tn, td) = unit.factor();
        let Some(rhs) = times(threshold, tn) else {
            self.unsupported(
                c.span,
                "a threshold whose exact value in base units is too large",
                "screen these patients with `eligc run`",
            );
            return None;
        };
        // num/den against threshold·tn/td: num·td against threshold·tn·den, turned by the
        // sign of den (a quotient's denominator may be negative).
        let ord = format!("(SIGN({num} * {td} - {rhs} * {den}) * SIGN({den}))");
        let undefined: String = divisors.iter().map(|d| format!(" OR {d} = 0")).collect();
        let holds = |o: std::cmp::Ordering| if op.holds(o) { 2 } else { 0 };
        Some(format!(
            "(CASE WHEN {ord} IS NULL{undefined} THEN 1 WHEN {ord} < 0 THEN {} WHEN {ord} = 0 THEN {} ELSE {} END)",
            holds(std::cmp::Ordering::Less),
            holds(std::cmp::Ordering::Equal),
            holds(std::cmp::Ordering::Greater)
        ))
    }

    /// A computed value as `(num, den)` expressions; the divisors' numerators go to
    /// `divisors` (each must not be zero).
    fn arith(
        &mut self,
        a: &Arith,
        divisors: &mut Vec<String>,
        c: &Cond,
    ) -> Option<(String, String)> {
        match a {
            Arith::Result {
                mode,
                concept,
                window,
            } => self.operand(*mode, *concept, window, c),
            Arith::Binary { op, lhs, rhs } => {
                let (n1, d1) = self.arith(lhs, divisors, c)?;
                let (n2, d2) = self.arith(rhs, divisors, c)?;
                Some(match op {
                    ArithOp::Add => (
                        format!("({n1} * {d2} + {n2} * {d1})"),
                        format!("({d1} * {d2})"),
                    ),
                    ArithOp::Sub => (
                        format!("({n1} * {d2} - {n2} * {d1})"),
                        format!("({d1} * {d2})"),
                    ),
                    ArithOp::Mul => (format!("({n1} * {n2})"), format!("({d1} * {d2})")),
                    ArithOp::Div => {
                        divisors.push(n2.clone());
                        (format!("({n1} * {d2})"), format!("({d1} * {n2})"))
                    }
                })
            }
        }
    }

    /// One result (latest or earliest; among those of a day, the one the interpreter's order
    /// puts last or first) or the average of the results, in base units: per person `num`
    /// and `den`, NULL when it cannot be computed with.
    fn operand(
        &mut self,
        mode: SelectMode,
        concept: ConceptId,
        window: &Window,
        c: &Cond,
    ) -> Option<(String, String)> {
        let key = format!("{mode:?} {} {window:?}", concept.0);
        if let Some(found) = self.operands.get(&key) {
            return Some(found.clone());
        }
        self.observation_facts();
        let w = self.window(window);
        let inside = inside_date("ob.d", &w);
        let info = self.p.concept(concept)?;
        // Per unit spelling: the factor to base units `fnum / fden` of the unit the result
        // is read in (`quantity`), when it can be computed with (`one` of arith.rs), and
        // `fm = lcm / fden` to sum results over a common denominator.
        let mut factors = Vec::new();
        let mut add = |text: &str, u: &Unit| {
            let convertible = info.unit.as_ref().is_none_or(|own| u.is_commensurable(own));
            if !u.is_affine() && convertible {
                factors.push((text.to_string(), u.factor()));
            }
        };
        for text in &self.unit_texts {
            let Ok(parsed) = crate::units::parse_unit(text) else {
                continue;
            };
            match &info.unit {
                Some(own) if info.kind == ConceptKind::Score && parsed.is_unity() => {
                    add(text, own);
                }
                _ => add(text, &parsed),
            }
        }
        if let Some(own) = &info.unit {
            if info.kind == ConceptKind::Score || own.is_dimensionless() {
                add("", own);
            }
        }
        let lcm = factors.iter().try_fold(1u128, |l, (_, (_, d))| {
            let (mut a, mut b) = (l, *d);
            while b != 0 {
                (a, b) = (b, a % b);
            }
            (l / a.max(1)).checked_mul(*d)
        });
        let Some(lcm) = lcm else {
            self.unsupported(
                c.span,
                "an average over units whose exact factors are too large",
                "screen these patients with `eligc run`",
            );
            return None;
        };
        let rows: Vec<String> = factors
            .iter()
            .map(|(text, (n, d))| {
                format!("({}, {n}, {d}, {})", self.d.lit(text), lcm / (*d).max(1))
            })
            .collect();
        let table = self
            .d
            .values(&["unit", "fnum", "fden", "fm"], &rows, "'', 0, 0, 0");
        let int = |col: &str| self.d.integer(col);
        let table = format!(
            "SELECT unit, {} AS fnum, {} AS fden, {} AS fm FROM ({table}) ut",
            int("fnum"),
            int("fden"),
            int("fm")
        );
        let from = format!(
            "FROM eligc_ob ob JOIN eligc_pm_obs pm ON pm.tbl = ob.tbl AND pm.rid = ob.rid JOIN eligc_p p ON p.person_id = ob.person_id LEFT JOIN ({table}) ut ON ut.unit = COALESCE(ob.unit, '') WHERE pm.idx = {} AND {inside}",
            concept.0
        );
        let usable = "ob.v IS NOT NULL AND ob.cmp IS NULL AND ut.fnum IS NOT NULL";
        let l = match mode {
            SelectMode::Average => self.leaf_cte(format!(
                "SELECT ob.person_id, CASE WHEN MIN(CASE WHEN {usable} THEN 1 ELSE 0 END) = 1 THEN SUM(ob.v * ut.fnum * ut.fm) END AS num, COUNT(*) * {lcm} AS den {from} GROUP BY ob.person_id"
            )),
            _ => {
                let order = if mode == SelectMode::Earliest {
                    "ob.d ASC, ob.tbl ASC, ob.rid ASC"
                } else {
                    "ob.d DESC, ob.tbl DESC, ob.rid DESC"
                };
                self.leaf_cte(format!(
                    "SELECT person_id, num, den FROM (SELECT ob.person_id, CASE WHEN {usable} THEN ob.v * ut.fnum END AS num, ut.fden AS den, ROW_NUMBER() OVER (PARTITION BY ob.person_id ORDER BY {order}) AS rn {from}) x WHERE rn = 1"
                ))
            }
        };
        let found = (format!("{l}.num"), format!("{l}.den"));
        self.operands.insert(key, found.clone());
        Some(found)
    }

    /// `first|last EVENT WINDOW`: the first (last) event of the query, at any date, starts
    /// in the window (`select_event` of `src/eval/leaf.rs`): true when every date it may
    /// start on is in the window, false when none is.
    fn select_event(&mut self, select: EventSelect, q: &EventQuery) -> Option<String> {
        let Some(kind) = kind_of(q.kind) else {
            return Some("1".to_string());
        };
        let w = self.window(&q.window);
        let ever = Win {
            from: None,
            to: None,
            ok: "1 = 1".to_string(),
        };
        let rows = self.event_rows(q, kind, &ever);
        let inside = |col: &str| {
            let mut parts = Vec::new();
            if let Some(f) = &w.from {
                parts.push(format!("{col} >= {f}"));
            }
            if let Some(t) = &w.to {
                parts.push(format!("{col} <= {t}"));
            }
            if parts.is_empty() {
                "1 = 1".to_string()
            } else {
                format!("({})", parts.join(" AND "))
            }
        };
        let other = format!(
            "x.t = 1 AND {}",
            before_sure(select, "x.s").replace("sure", "x.sure")
        );
        let l = self.leaf_cte(format!(
            "SELECT x.person_id, x.sure, SUM(CASE WHEN {other} AND {} THEN 1 ELSE 0 END) AS oin, SUM(CASE WHEN {other} AND NOT {} THEN 1 ELSE 0 END) AS oout FROM ({}) x JOIN eligc_p p ON p.person_id = x.person_id GROUP BY x.person_id, x.sure",
            inside("x.s"),
            inside("x.s"),
            candidates(select, &rows)
        ));
        let sure_in = inside(&format!("{l}.sure"));
        Some(format!(
            "(CASE WHEN NOT ({}) THEN 1 WHEN {l}.person_id IS NULL THEN 0 WHEN {l}.sure IS NOT NULL AND {sure_in} AND {l}.oout = 0 THEN 2 WHEN ({l}.sure IS NULL OR NOT {sure_in}) AND {l}.oin = 0 THEN 0 ELSE 1 END)",
            w.ok
        ))
    }

    /// An anchor taken from the record (`anchor NAME = first|last EVENT WINDOW`), as
    /// `event_anchor` of `src/eval/leaf.rs`: the start of the first (last) event of the
    /// query in its window. Returns its state (0 no such event, 1 not known, 2 known) and its
    /// date as expressions over `eligc_p0 p`, adding the joins they need to `joins`.
    pub(super) fn event_anchor(
        &mut self,
        i: usize,
        select: EventSelect,
        q: &EventQuery,
        joins: &mut String,
    ) -> (String, String) {
        let Some(kind) = kind_of(q.kind) else {
            return ("1".to_string(), "CAST(NULL AS DATE)".to_string());
        };
        let w = self.window(&q.window);
        let rows = self.event_rows(q, kind, &w);
        let (name, alias) = if self.without {
            (format!("eligc_eaw{i}"), format!("eaw{i}"))
        } else {
            (format!("eligc_ea{i}"), format!("ea{i}"))
        };
        self.cte(
            &name,
            format!(
                "SELECT person_id, sure, SUM(CASE WHEN t = 1 AND {} THEN 1 ELSE 0 END) AS others FROM ({}) x GROUP BY person_id, sure",
                before_sure(select, "s"),
                candidates(select, &rows)
            ),
        );
        joins.push_str(&format!(
            " LEFT JOIN {name} {alias} ON {alias}.person_id = p.person_id"
        ));
        let state = format!(
            "(CASE WHEN NOT ({}) THEN 1 WHEN {alias}.person_id IS NULL THEN 0 WHEN {alias}.sure IS NOT NULL AND {alias}.others = 0 THEN 2 ELSE 1 END)",
            w.ok
        );
        let date = format!("CASE WHEN {state} = 2 THEN {alias}.sure END");
        (state, date)
    }

    /// A daily-dose test. OMOP gives no daily dose (no DRUG_STRENGTH is read), so every
    /// exposure's dose is unknown: the test is decided only where no exposure covers a run
    /// long enough, or where any dose would do (see `dose` and `sustained_dose` in
    /// `src/eval/leaf.rs`).
    fn dose(&mut self, q: &DoseQuery, c: &Cond) -> Option<String> {
        let d = self.d;
        let w = self.window(&q.window);
        let query = EventQuery {
            kind: EventKind::Medication,
            concepts: q.drugs.iter().map(|(id, _)| *id).collect(),
            target: q.target.clone(),
            every: false,
            taken_for: None,
            window: q.window,
            filters: Vec::new(),
            except: Vec::new(),
            except_names: Vec::new(),
        };
        let rows = self.event_rows(&query, Kind::Medication, &w);
        // The threshold in mg/d, and its sign (the dose is compared with it at 0 mg/d plus
        // an unknown amount).
        let per_day = crate::units::parse_unit("mg/d").ok()?;
        let per_kg_day = crate::units::parse_unit("mg/kg/d").ok()?;
        let threshold_sign: Option<String> = if !q.per_kg {
            q.unit
                .convert(q.threshold, &per_day)
                .map(|mg| sign_of(mg).to_string())
        } else {
            match (q.unit.convert(q.threshold, &per_kg_day), self.p.body_weight) {
                (Some(per_kg), Some(weight)) => {
                    self.observation_facts();
                    let kg = crate::units::parse_unit("kg").ok()?;
                    let usable: Vec<String> = self
                        .unit_texts
                        .iter()
                        .filter(|t| {
                            crate::units::parse_unit(t).is_ok_and(|u| u.is_commensurable(&kg))
                        })
                        .map(|t| d.lit(t))
                        .collect();
                    let before = match &w.to {
                        Some(t) => format!("ob.d <= {t}"),
                        None => "1 = 1".to_string(),
                    };
                    let units = if usable.is_empty() {
                        "1 = 0".to_string()
                    } else {
                        format!("ob.unit IN ({})", usable.join(", "))
                    };
                    let l = self.leaf_cte(format!(
                        "SELECT person_id, CASE WHEN v IS NULL OR cmp IS NOT NULL OR NOT ok THEN NULL ELSE SIGN(v) END AS ws, 1 AS has FROM (\
                         SELECT ob.person_id, ob.v, ob.cmp, CASE WHEN {units} THEN 1 = 1 ELSE 1 = 0 END AS ok, ROW_NUMBER() OVER (PARTITION BY ob.person_id ORDER BY ob.d DESC, ob.tbl DESC, ob.rid DESC) AS rn \
                         FROM eligc_ob ob JOIN eligc_pm_obs pm ON pm.tbl = ob.tbl AND pm.rid = ob.rid JOIN eligc_p p ON p.person_id = ob.person_id WHERE pm.idx = {} AND {before}) x WHERE rn = 1",
                        weight.0
                    ));
                    Some(format!("({l}.ws * {})", sign_of(per_kg)))
                }
                _ => None,
            }
        };
        let sign = threshold_sign.unwrap_or_else(|| "CAST(NULL AS INT)".to_string());
        let _ = c;
        let sustained = q.sustained.unwrap_or(Dur {
            amount: 1,
            unit: DurationUnit::Days,
        });
        // Pieces: each exposure in the window from its (clipped) start to the last day it
        // may cover.
        let s2 = "(CASE WHEN wf IS NULL THEN s ELSE GREATEST(s, wf) END)";
        let known = format!("GREATEST({s2}, as_of)");
        let definite = format!(
            "(CASE WHEN cls IN ('U', 'E') THEN {} WHEN ek = 'K' THEN e WHEN ek = 'O' THEN {known} ELSE {s2} END)",
            d.add_days(s2, -1)
        );
        let possible = format!(
            "(CASE WHEN ek = 'K' THEN e WHEN ek = 'O' THEN (CASE WHEN wt IS NULL THEN {known} ELSE GREATEST(wt, {known}) END) ELSE (CASE WHEN wt IS NULL THEN {known} ELSE LEAST(wt, {known}) END) END)"
        );
        let clip = |x: &str| format!("(CASE WHEN wt IS NULL THEN {x} ELSE LEAST({x}, wt) END)");
        let pieces = format!(
            "SELECT person_id, 0 AS g, 0 AS def, {s2} AS s2, GREATEST({}, {}) AS e2 FROM ({rows}) r WHERE t >= 1",
            clip(&definite),
            clip(&possible)
        );
        // `t` here is in the window and no filter: dose has none. An unplaced fact's `t` is at
        // most unknown, which is "not false" as `in_window != False` asks.
        let runs = islands(d, &pieces);
        let lasts = self.shift("rs", sustained, Direction::After);
        let l = self.leaf_cte(format!(
            "SELECT person_id, MAX(CASE WHEN {lasts} <= {} THEN 1 ELSE 0 END) AS run FROM ({runs}) x GROUP BY person_id",
            d.next_day("re")
        ));
        let holds = |op: CmpOp| -> String {
            // ordering of 0 against the threshold: Less when sign > 0, Equal at 0, Greater < 0.
            let cases: Vec<(i32, bool)> = [
                (1, std::cmp::Ordering::Less),
                (0, std::cmp::Ordering::Equal),
                (-1, std::cmp::Ordering::Greater),
            ]
            .iter()
            .map(|(s, o)| (*s, op.holds(*o)))
            .collect();
            format!(
                "(CASE {sign} {} END)",
                cases
                    .iter()
                    .map(|(s, h)| format!("WHEN {s} THEN {}", u8::from(*h)))
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        };
        let covered = match q.op {
            CmpOp::Ge | CmpOp::Gt => format!("(CASE WHEN {} = 1 THEN 2 ELSE 1 END)", holds(q.op)),
            CmpOp::Le | CmpOp::Lt => format!("(CASE WHEN {} = 0 THEN 0 ELSE 1 END)", holds(q.op)),
            CmpOp::Eq | CmpOp::Ne => "1".to_string(),
        };
        let any = self.leaf_cte(format!(
            "SELECT person_id, MAX(CASE WHEN t >= 1 THEN 1 ELSE 0 END) AS any_in FROM ({rows}) r GROUP BY person_id"
        ));
        Some(format!(
            "(CASE WHEN NOT ({}) THEN 1 WHEN {sign} IS NULL THEN (CASE WHEN COALESCE({any}.any_in, 0) = 1 THEN 1 ELSE 0 END) WHEN COALESCE({l}.run, 0) = 1 THEN {covered} ELSE 0 END)",
            w.ok
        ))
    }
}

/// The table of facts of an event kind; `None` for the kinds OMOP has no list of.
fn kind_of(kind: EventKind) -> Option<Kind> {
    match kind {
        EventKind::Condition => Some(Kind::Condition),
        EventKind::Medication => Some(Kind::Medication),
        EventKind::Immunization => Some(Kind::Immunization),
        EventKind::Procedure => Some(Kind::Procedure),
        EventKind::Encounter => Some(Kind::Encounter),
        EventKind::Allergy | EventKind::Study | EventKind::FamilyHistory => None,
    }
}

/// Per person, the candidates for the first (last) event of `rows` (`t` >= 1: those that
/// may match): `sure`, the earliest (latest) start of those that certainly match, beside
/// each candidate's `t` and start `s` (`choose` of `src/eval/leaf.rs`; OMOP facts all have
/// a start).
fn candidates(select: EventSelect, rows: &str) -> String {
    let agg = match select {
        EventSelect::First => "MIN",
        EventSelect::Last => "MAX",
    };
    format!(
        "SELECT r.person_id, r.t, r.s, {agg}(CASE WHEN r.t = 2 THEN r.s END) OVER (PARTITION BY r.person_id) AS sure FROM ({rows}) r WHERE r.t >= 1"
    )
}

/// Whether candidate start `s` comes before `sure` in the order of `select` (or there is
/// no sure one): a date the chosen event may have.
fn before_sure(select: EventSelect, s: &str) -> String {
    let cmp = match select {
        EventSelect::First => "<",
        EventSelect::Last => ">",
    };
    format!("(sure IS NULL OR {s} {cmp} sure)")
}

#[derive(Clone, Copy)]
enum EventLeaf {
    Exists,
    Count(CmpOp, Decimal),
    Distinct(CmpOp, Decimal),
}

fn sign_of(d: Decimal) -> i8 {
    if d.is_zero() {
        0
    } else if d.is_sign_negative() {
        -1
    } else {
        1
    }
}

fn sql_op(op: CmpOp) -> &'static str {
    match op {
        CmpOp::Lt => "<",
        CmpOp::Le => "<=",
        CmpOp::Gt => ">",
        CmpOp::Ge => ">=",
        CmpOp::Eq => "=",
        CmpOp::Ne => "<>",
    }
}

fn inside_date(column: &str, w: &Win) -> String {
    let mut parts = vec![format!("({})", w.ok)];
    if let Some(f) = &w.from {
        parts.push(format!("{column} >= {f}"));
    }
    if let Some(t) = &w.to {
        parts.push(format!("{column} <= {t}"));
    }
    parts.join(" AND ")
}

/// The default reference limit of an observation (its `normal` range, in its unit) as a
/// comparison of a result in `unit`: `factor` times the limit.
fn default_limit(
    c: &Concept,
    unit: &Unit,
    factor: Decimal,
    bound: RefBound,
) -> Option<(String, String, String)> {
    let limit = match bound {
        RefBound::Uln => c.normal.as_ref()?.high?,
        RefBound::Lln => c.normal.as_ref()?.low?,
    };
    let canonical = c.unit.as_ref()?;
    let scaled = factor.checked_mul(limit)?;
    cmp_params(unit, canonical, scaled, c.molar_mass.as_ref())
}

/// `count_range` of `src/eval/leaf.rs`: true when `op n` holds for every count between
/// `lo` and `hi`, false when for none.
fn count_range(lo: &str, hi: &str, op: CmpOp, n: Decimal) -> String {
    let n_sql = n.normalize().to_string();
    let integral = n.fract().is_zero();
    let (all, none) = match op {
        CmpOp::Ge => (format!("{lo} >= {n_sql}"), format!("{hi} < {n_sql}")),
        CmpOp::Gt => (format!("{lo} > {n_sql}"), format!("{hi} <= {n_sql}")),
        CmpOp::Le => (format!("{hi} <= {n_sql}"), format!("{lo} > {n_sql}")),
        CmpOp::Lt => (format!("{hi} < {n_sql}"), format!("{lo} >= {n_sql}")),
        CmpOp::Eq | CmpOp::Ne => {
            let eq_all = if integral {
                format!("({lo} = {n_sql} AND {hi} = {n_sql})")
            } else {
                "1 = 0".to_string()
            };
            let eq_none = if integral {
                format!("({n_sql} < {lo} OR {n_sql} > {hi})")
            } else {
                "1 = 1".to_string()
            };
            if op == CmpOp::Eq {
                (eq_all, eq_none)
            } else {
                (eq_none, eq_all)
            }
        }
    };
    format!("(CASE WHEN {all} THEN 2 WHEN {none} THEN 0 ELSE 1 END)")
}

/// `op` applied to a `taken for` test from the monotone values for "at least" (`m_ns`) and
/// "longer than" (`m_s`), as `exposure` of `src/eval/leaf.rs`.
fn apply_op(op: CmpOp, m_ns: &str, m_s: &str) -> String {
    match op {
        CmpOp::Ge => m_ns.to_string(),
        CmpOp::Gt => m_s.to_string(),
        CmpOp::Lt => format!("(2 - {m_ns})"),
        CmpOp::Le => format!("(2 - {m_s})"),
        CmpOp::Eq => format!("LEAST({m_ns}, 2 - {m_s})"),
        CmpOp::Ne => format!("(2 - LEAST({m_ns}, 2 - {m_s}))"),
    }
}

/// Merged runs of intervals: `pieces` has `person_id, g, def, s2, e2`; gives
/// `person_id, g, def, rs, re`, touching intervals joined (as `exposure` merges them).
fn islands(d: super::Dialect, pieces: &str) -> String {
    let next = d.next_day("pm");
    format!(
        "SELECT person_id, g, def, MIN(s2) AS rs, MAX(e2) AS re FROM (\
         SELECT person_id, g, def, s2, e2, SUM(CASE WHEN pm IS NULL OR s2 > {next} THEN 1 ELSE 0 END) OVER (PARTITION BY person_id, g, def ORDER BY s2, e2 ROWS UNBOUNDED PRECEDING) AS isl FROM (\
         SELECT person_id, g, def, s2, e2, MAX(e2) OVER (PARTITION BY person_id, g, def ORDER BY s2, e2 ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS pm FROM ({pieces}) iv WHERE e2 >= s2\
         ) o) k GROUP BY person_id, g, def, isl"
    )
}

/// A `taken for` test per group `g` of event rows (`t`, `s`, `e`, `ek`, `wf`, `wt`,
/// `as_of`): `person_id, g, t`, every group with rows present.
fn exposure(d: super::Dialect, rows: &str, op: CmpOp, dur: Dur) -> String {
    let s2 = "(CASE WHEN wf IS NULL THEN s ELSE GREATEST(s, wf) END)";
    let known = "GREATEST(s, as_of)";
    let definite = format!("(CASE ek WHEN 'K' THEN e WHEN 'O' THEN {known} ELSE s END)");
    let possible = format!(
        "(CASE ek WHEN 'K' THEN e WHEN 'O' THEN (CASE WHEN wt IS NULL THEN {known} ELSE GREATEST(wt, {known}) END) ELSE (CASE WHEN wt IS NULL THEN {known} ELSE LEAST(wt, {known}) END) END)"
    );
    let clip = |x: &str| format!("(CASE WHEN wt IS NULL THEN {x} ELSE LEAST({x}, wt) END)");
    let pieces = format!(
        "SELECT person_id, g, 1 AS def, {s2} AS s2, {} AS e2 FROM ({rows}) r1 WHERE t = 2 \
         UNION ALL SELECT person_id, g, 0 AS def, {s2}, {} FROM ({rows}) r0 WHERE t >= 1",
        clip(&definite),
        clip(&possible)
    );
    let runs = islands(d, &pieces);
    let reached = match dur.unit {
        DurationUnit::Days => d.add_days("rs", i64::from(dur.amount)),
        DurationUnit::Weeks => d.add_days("rs", i64::from(dur.amount) * 7),
        DurationUnit::Months => d.add_months("rs", i64::from(dur.amount)),
        DurationUnit::Years => d.add_months("rs", i64::from(dur.amount) * 12),
    };
    let lasts = format!("{reached} <= {}", d.next_day("re"));
    let longer = format!("{reached} <= re");
    let m =
        |def: u8, test: &str| format!("MAX(CASE WHEN def = {def} AND {test} THEN 1 ELSE 0 END)");
    let mono = |test: &str| {
        format!(
            "(CASE WHEN {} = 1 THEN 2 WHEN {} = 1 THEN 1 ELSE 0 END)",
            m(1, test),
            m(0, test)
        )
    };
    format!(
        "SELECT gr.person_id, gr.g, {} AS t FROM (SELECT DISTINCT person_id, g FROM ({rows}) r) gr LEFT JOIN (\
         SELECT person_id, g, {} AS m_ns, {} AS m_s FROM ({runs}) x GROUP BY person_id, g\
         ) x ON x.person_id = gr.person_id AND x.g = gr.g",
        apply_op(op, "COALESCE(x.m_ns, 0)", "COALESCE(x.m_s, 0)"),
        mono(&lasts),
        mono(&longer)
    )
}
