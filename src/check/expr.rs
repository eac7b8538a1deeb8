//! Typing expressions: every expression is either a three-valued condition or a value
//! (an observation's selected results, an age, a sex, a count) that must be compared or
//! tested to become one. Units are checked by dimension here; windows are normalised.

use rust_decimal::Decimal;

use super::decls::{Expect, Resolved};
use super::{Checker, DefState, Symbol};
use crate::ast::{
    self, ArithOp, CmpOp, ConceptKind, Direction, EventKind, ExprKind, IsTest, SelectMode,
};
use crate::diagnostic::{Code, Diagnostic, did_you_mean};
use crate::program::{
    AnchorId, Arith, ConceptId, Cond, CondKind, DoseQuery, Dur, EventQuery, Filter, Qualitative,
    RangeTest, Sex, Threshold, TimePoint, ValueTest, Window,
};
use crate::source::Span;
use crate::units;

/// A value that must be compared or tested to give a condition.
#[derive(Clone, Debug)]
pub(super) enum ValueExpr {
    /// `latest egfr within ...`, `any in pregnancy_tests within ...`
    Select {
        mode: SelectMode,
        /// The observation, or the members of a set of observations.
        concepts: Vec<ConceptId>,
        /// The name written.
        target: String,
        /// Whether the name is a set.
        is_set: bool,
        window: Window,
    },
    /// `age at screening`
    Age { anchor: AnchorId },
    /// `sex`
    Sex,
    /// `latest hb ... - earliest hb ...`, of this dimension.
    Arith {
        value: Arith,
        dimension: units::Dimension,
    },
    /// `count egfr ...`
    CountResults { concept: ConceptId, window: Window },
    /// `count immunization in ...`
    CountEvents { query: EventQuery },
    /// `count distinct dmard ...`
    CountDistinct { query: EventQuery },
}

impl ValueExpr {
    fn describe(&self) -> &'static str {
        match self {
            ValueExpr::Select {
                mode: SelectMode::Latest,
                ..
            } => "the latest result",
            ValueExpr::Select {
                mode: SelectMode::Earliest,
                ..
            } => "the earliest result",
            ValueExpr::Select {
                mode: SelectMode::Average,
                ..
            } => "an average",
            ValueExpr::Select { .. } => "a selection of results",
            ValueExpr::Arith { .. } => "a computed value",
            ValueExpr::Age { .. } => "an age",
            ValueExpr::Sex => "the patient's sex",
            ValueExpr::CountResults { .. }
            | ValueExpr::CountEvents { .. }
            | ValueExpr::CountDistinct { .. } => "a count",
        }
    }
}

/// A typed expression.
#[derive(Clone, Debug)]
pub(super) enum Typed {
    Cond(Cond),
    Value(ValueExpr),
}

/// A divisor that may well be zero: a difference of results (named so).
fn zero_prone(e: &ast::Expr) -> Option<&'static str> {
    match &e.kind {
        ExprKind::Arith {
            op: ArithOp::Sub, ..
        } => Some("difference"),
        _ => None,
    }
}

/// What an attribute's values are.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum AttrType {
    /// A number, compared: `grade >= 2`.
    Number,
    /// One of a fixed list of words: `status is active`.
    Words(&'static [&'static str]),
    /// Codes, tested against concepts (or sets) of a kind: `body_site in lower_limb`.
    Codes(ConceptKind),
}

const CONDITION_STATUS: &[&str] = &[
    "active",
    "recurrence",
    "relapse",
    "inactive",
    "remission",
    "resolved",
];
const SEVERITY: &[&str] = &["mild", "moderate", "severe"];
use crate::facts::native::{LATERALITIES as LATERALITY, STAGES};

/// Attributes that `where` may test, per event kind, with the type of their values.
pub(super) const ATTRIBUTES: &[(EventKind, &str, AttrType)] = &[
    (
        EventKind::Allergy,
        "status",
        AttrType::Words(&["active", "inactive", "resolved"]),
    ),
    (EventKind::Allergy, "severity", AttrType::Words(SEVERITY)),
    (EventKind::Condition, "grade", AttrType::Number),
    (
        EventKind::FamilyHistory,
        "relationship",
        AttrType::Words(crate::facts::native::RELATIONSHIP_WORDS),
    ),
    (EventKind::FamilyHistory, "onset_age", AttrType::Number),
    (
        EventKind::Study,
        "status",
        AttrType::Words(crate::facts::native::ENROLLED_STATUSES),
    ),
    (
        EventKind::Study,
        "design",
        AttrType::Words(crate::facts::native::STUDY_DESIGNS),
    ),
    (
        EventKind::Study,
        "phase",
        AttrType::Words(crate::facts::native::STUDY_PHASES),
    ),
    (
        EventKind::Encounter,
        "discharge",
        AttrType::Words(crate::facts::native::DISCHARGES),
    ),
    (
        EventKind::Condition,
        "status",
        AttrType::Words(CONDITION_STATUS),
    ),
    (EventKind::Condition, "severity", AttrType::Words(SEVERITY)),
    (EventKind::Condition, "stage", AttrType::Words(STAGES)),
    (
        EventKind::Condition,
        "body_site",
        AttrType::Codes(ConceptKind::Site),
    ),
    (
        EventKind::Condition,
        "laterality",
        AttrType::Words(LATERALITY),
    ),
    (
        EventKind::Medication,
        "route",
        AttrType::Words(&[
            "oral",
            "intravenous",
            "subcutaneous",
            "intramuscular",
            "topical",
            "inhaled",
            "other",
        ]),
    ),
    (
        EventKind::Medication,
        "status",
        AttrType::Words(&["active", "completed", "stopped", "on_hold"]),
    ),
    (
        EventKind::Medication,
        "reason",
        AttrType::Codes(ConceptKind::Condition),
    ),
    (
        EventKind::Medication,
        "status_reason",
        AttrType::Codes(ConceptKind::Condition),
    ),
    (
        EventKind::Procedure,
        "status",
        AttrType::Words(&["completed", "in_progress", "stopped"]),
    ),
    (
        EventKind::Procedure,
        "body_site",
        AttrType::Codes(ConceptKind::Site),
    ),
    (
        EventKind::Procedure,
        "laterality",
        AttrType::Words(LATERALITY),
    ),
    (
        EventKind::Procedure,
        "reason",
        AttrType::Codes(ConceptKind::Condition),
    ),
];

const SEXES: &[(&str, Sex)] = &[
    ("female", Sex::Female),
    ("male", Sex::Male),
    ("other", Sex::Other),
];

impl<'a> Checker<'a> {
    /// Checks an expression that must be a condition.
    pub(super) fn cond(&mut self, e: &ast::Expr) -> Option<Cond> {
        match self.expr(e)? {
            Typed::Cond(c) => Some(c),
            Typed::Value(ValueExpr::Select {
                mode: mode @ (SelectMode::Any | SelectMode::No),
                concepts,
                target,
                window,
                ..
            }) => Some(Cond {
                kind: CondKind::Observation {
                    mode,
                    concepts,
                    target,
                    window,
                    test: ValueTest::Exists,
                },
                span: e.span,
            }),
            Typed::Value(v) => {
                let help = match &v {
                    ValueExpr::Select { .. } => {
                        "compare it, e.g. `latest egfr within 30 days before screening >= 30 mL/min/1.73m2`, or test it: `is positive`"
                    }
                    ValueExpr::Age { .. } => "compare it: `age at screening >= 18 years`",
                    ValueExpr::Sex => "test it: `sex is female`",
                    _ => "compare it: `... >= 2`",
                };
                self.error(
                    Diagnostic::new(
                        Code::TypeMismatch,
                        e.span,
                        format!("{} is not a condition", v.describe()),
                        "a value, not true or false",
                    )
                    .with_help(help),
                );
                None
            }
        }
    }

    /// Checks any expression.
    pub(super) fn expr(&mut self, e: &ast::Expr) -> Option<Typed> {
        let span = e.span;
        let cond = |kind| Some(Typed::Cond(Cond { kind, span }));
        match &e.kind {
            ExprKind::And(items) | ExprKind::Or(items) => {
                let checked: Vec<Option<Cond>> = items.iter().map(|i| self.cond(i)).collect();
                let checked: Option<Vec<Cond>> = checked.into_iter().collect();
                let checked = checked?;
                if matches!(e.kind, ExprKind::And(_)) {
                    cond(CondKind::And(checked))
                } else {
                    cond(CondKind::Or(checked))
                }
            }
            ExprKind::Not(inner) => {
                let inner = self.cond(inner)?;
                cond(CondKind::Not(Box::new(inner)))
            }
            ExprKind::Attested(name) => {
                match self.resolve(name, Expect::Concept(&[ConceptKind::Attestation]))? {
                    Resolved::Concept(id) => cond(CondKind::Attested(id)),
                    Resolved::Set(_) => None,
                }
            }
            ExprKind::Age(anchor) => {
                let anchor = self.anchor(anchor)?;
                Some(Typed::Value(ValueExpr::Age { anchor }))
            }
            ExprKind::Sex => Some(Typed::Value(ValueExpr::Sex)),
            ExprKind::Name(name) => self.name_ref(name),
            ExprKind::Select {
                mode,
                target,
                window,
            } => {
                let (concepts, is_set) = self.observations(target)?;
                let window = self.window_or_lint(window.as_ref(), span, target);
                Some(Typed::Value(ValueExpr::Select {
                    mode: *mode,
                    concepts,
                    target: target.name.clone(),
                    is_set,
                    window: window?,
                }))
            }
            ExprKind::Arith { op, lhs, rhs } => {
                let left = self.arith_operand(lhs);
                let right = self.arith_operand(rhs);
                let ((lhs_value, lhs_dim), (rhs_value, rhs_dim)) = (left?, right?);
                let dimension = match op {
                    ArithOp::Add | ArithOp::Sub => {
                        if lhs_dim != rhs_dim {
                            self.error(
                                Diagnostic::new(
                                    Code::UnitMismatch,
                                    span,
                                    if *op == ArithOp::Add {
                                        format!(
                                            "{} cannot be added to {}",
                                            rhs_dim.describe(),
                                            lhs_dim.describe()
                                        )
                                    } else {
                                        format!(
                                            "{} cannot be subtracted from {}",
                                            rhs_dim.describe(),
                                            lhs_dim.describe()
                                        )
                                    },
                                    "different kinds of quantity",
                                )
                                .with_help("add or subtract results measured in the same kind of unit; a ratio (`/`) compares different ones"),
                            );
                            return None;
                        }
                        lhs_dim
                    }
                    ArithOp::Mul => lhs_dim.times(rhs_dim)?,
                    ArithOp::Div => {
                        if let Some(difference) = zero_prone(rhs) {
                            self.error(
                                Diagnostic::new(
                                    Code::ZeroDivisor,
                                    rhs.span,
                                    "this divisor is a difference, which can be zero",
                                    "may be zero",
                                )
                                .with_help(format!(
                                    "where the {difference} is zero the value is unknown; compare the {difference} itself if that is what the criterion means"
                                )),
                            );
                        }
                        lhs_dim.per(rhs_dim)?
                    }
                };
                Some(Typed::Value(ValueExpr::Arith {
                    value: Arith::Binary {
                        op: *op,
                        lhs: Box::new(lhs_value),
                        rhs: Box::new(rhs_value),
                    },
                    dimension,
                }))
            }
            ExprKind::CountResults { target, window } => {
                let concept = self.observation(target)?;
                let window = self.window_or_lint(window.as_ref(), span, target)?;
                Some(Typed::Value(ValueExpr::CountResults { concept, window }))
            }
            ExprKind::CountEvents(q) => {
                let query = self.event_query(q)?;
                Some(Typed::Value(ValueExpr::CountEvents { query }))
            }
            ExprKind::CountDistinct {
                target,
                taken_for,
                window,
            } => {
                let resolved = self.resolve(target, Expect::Set)?;
                let Resolved::Set(i) = resolved else {
                    return None;
                };
                let set_kind = self.sets.get(i).map(|s| s.decl.kind)?;
                let kind = match set_kind {
                    ast::SetKind::Drugs => EventKind::Medication,
                    ast::SetKind::Conditions => EventKind::Condition,
                    ast::SetKind::Vaccines => EventKind::Immunization,
                    ast::SetKind::Procedures => EventKind::Procedure,
                    ast::SetKind::Encounters => EventKind::Encounter,
                    ast::SetKind::Studies => EventKind::Study,
                    ast::SetKind::Observations | ast::SetKind::Sites => {
                        self.error(
                            Diagnostic::new(Code::TypeMismatch, target.span, format!("`count distinct` counts drugs, conditions, vaccines or procedures, not {}", set_kind.keyword()), format!("a set of {}", set_kind.keyword()))
                                .with_help("use `count OBSERVATION within ...` for the number of results"),
                        );
                        return None;
                    }
                };
                let q = ast::EventQuery {
                    kind,
                    target: target.clone(),
                    except: Vec::new(),
                    taken_for: taken_for.clone(),
                    window: window.clone(),
                    filters: Vec::new(),
                };
                let query = self.event_query(&q)?;
                Some(Typed::Value(ValueExpr::CountDistinct { query }))
            }
            ExprKind::Event(q) => {
                let query = self.event_query(q)?;
                cond(CondKind::Event(query))
            }
            ExprKind::AnyEvent(q) => {
                let query = self.query(q, true)?;
                cond(CondKind::Event(query))
            }
            ExprKind::SelectEvent { select, query } => {
                let query = self.event_query(query)?;
                cond(CondKind::SelectEvent {
                    select: *select,
                    query,
                })
            }
            ExprKind::Dose(d) => {
                let dose = self.dose(d)?;
                cond(CondKind::Dose(dose))
            }
            ExprKind::Compare {
                lhs,
                op,
                rhs,
                rhs_span,
            } => {
                let lhs = self.expr(lhs)?;
                self.compare(lhs, *op, rhs, *rhs_span, span)
                    .map(Typed::Cond)
            }
            ExprKind::Is { lhs, negated, test } => {
                let lhs = self.expr(lhs)?;
                self.is_test(lhs, *negated, test, span).map(Typed::Cond)
            }
        }
    }

    fn name_ref(&mut self, name: &ast::Ident) -> Option<Typed> {
        let Some((symbol, _)) = self.names.get(&name.name).copied() else {
            if self.recovered.contains(&name.name) {
                return None;
            }
            let mut defs: Vec<&str> = self
                .defines
                .iter()
                .map(|d| d.decl.name.name.as_str())
                .collect();
            defs.sort_unstable();
            let help = did_you_mean(&name.name, defs).unwrap_or_else(|| {
                "declare it with `define NAME = ...`, or start the expression with a keyword such as `latest`, `condition` or `attested`".to_string()
            });
            self.error(
                Diagnostic::new(
                    Code::UnknownName,
                    name.span,
                    format!("unknown name `{}`", name.name),
                    "not declared",
                )
                .with_help(help),
            );
            return None;
        };
        self.mark_used(symbol);
        match symbol {
            Symbol::Define(i) => match self.check_define(i) {
                DefState::Bool(id) => Some(Typed::Cond(Cond {
                    kind: CondKind::Define(id),
                    span: name.span,
                })),
                DefState::Value(v) => Some(Typed::Value(v)),
                _ => None,
            },
            Symbol::Concept(id) => {
                let kind = self.concepts.get(id.0 as usize).map(|c| c.kind);
                let (what, help) = match kind {
                    Some(ConceptKind::Attestation) => {
                        ("an attestation", format!("write `attested {}`", name.name))
                    }
                    Some(ConceptKind::Observation | ConceptKind::Score) => (
                        "an observation",
                        format!(
                            "select its results: `latest {} within 30 days before screening ...`",
                            name.name
                        ),
                    ),
                    Some(ConceptKind::Condition) => {
                        ("a condition", format!("write `condition {}`", name.name))
                    }
                    Some(ConceptKind::Drug) => {
                        ("a drug", format!("write `medication {}`", name.name))
                    }
                    Some(ConceptKind::Vaccine) => {
                        ("a vaccine", format!("write `immunization {}`", name.name))
                    }
                    Some(ConceptKind::Encounter) => {
                        ("an encounter", format!("write `encounter {}`", name.name))
                    }
                    Some(ConceptKind::Study) => ("a study", format!("write `study {}`", name.name)),
                    Some(ConceptKind::Procedure) | None => {
                        ("a procedure", format!("write `procedure {}`", name.name))
                    }
                    Some(ConceptKind::Site) => (
                        "a body site",
                        format!(
                            "test an event's site: `condition NAME where body_site in {}`",
                            name.name
                        ),
                    ),
                };
                self.error(
                    Diagnostic::new(
                        Code::TypeMismatch,
                        name.span,
                        format!("`{}` names {what}: on its own it is not a test", name.name),
                        "needs a keyword before it",
                    )
                    .with_help(help),
                );
                None
            }
            Symbol::Set(i) => {
                let kind = self
                    .sets
                    .get(i)
                    .map(|s| s.decl.kind.member_kind())
                    .unwrap_or(ConceptKind::Drug);
                let keyword = match kind {
                    ConceptKind::Drug => "medication",
                    ConceptKind::Vaccine => "immunization",
                    ConceptKind::Procedure => "procedure",
                    ConceptKind::Encounter => "encounter",
                    _ => "condition",
                };
                self.error(
                    Diagnostic::new(
                        Code::TypeMismatch,
                        name.span,
                        format!("`{}` names a set: on its own it is not a test", name.name),
                        "a set",
                    )
                    .with_help(format!("write `{keyword} in {}`", name.name)),
                );
                None
            }
        }
    }

    /// An operand of arithmetic: the latest or earliest result of a quantitative observation
    /// or score, or arithmetic itself; with its dimension.
    fn arith_operand(&mut self, e: &ast::Expr) -> Option<(Arith, units::Dimension)> {
        let typed = self.expr(e)?;
        self.single_value(typed, e.span)
    }

    /// A value as one number to compute with (see [`Self::arith_operand`]).
    fn single_value(&mut self, typed: Typed, span: Span) -> Option<(Arith, units::Dimension)> {
        let refuse = |this: &mut Self, what: &str, help: &str| {
            this.error(
                Diagnostic::new(
                    Code::ArithmeticOperand,
                    span,
                    format!("{what} cannot be computed with"),
                    "not a single number",
                )
                .with_help(help.to_string()),
            );
            None
        };
        match typed {
            Typed::Value(ValueExpr::Arith { value, dimension }) => Some((value, dimension)),
            Typed::Value(ValueExpr::Select {
                is_set: true,
                target,
                ..
            }) => {
                let what = format!("`{target}`, a set of observations,");
                refuse(
                    self,
                    &what,
                    "arithmetic takes the result of one observation: name the observation",
                )
            }
            Typed::Value(ValueExpr::Select {
                mode: mode @ (SelectMode::Latest | SelectMode::Earliest | SelectMode::Average),
                concepts,
                window,
                ..
            }) => {
                let concept = *concepts.first()?;
                let c = self.concepts.get(concept.0 as usize)?.clone();
                if c.qualitative {
                    let what = format!("`{}`, whose results are words,", c.name);
                    return refuse(
                        self,
                        &what,
                        "arithmetic takes numeric results; test a qualitative one with `is positive`",
                    );
                }
                let unit = c.unit.clone()?;
                if unit.is_affine() {
                    let what = format!("`{}`, measured in `{}`,", c.name, unit.text());
                    return refuse(
                        self,
                        &what,
                        "a temperature on a shifted scale is compared, not added or divided; declare the observation in `K` to compute with it",
                    );
                }
                Some((
                    Arith::Result {
                        mode,
                        concept,
                        window,
                    },
                    unit.dimension(),
                ))
            }
            Typed::Value(ValueExpr::Select { mode, .. }) => {
                let what = format!("`{}`, a selection of several results,", mode.keyword());
                refuse(
                    self,
                    &what,
                    "arithmetic takes one result: write `latest` or `earliest`",
                )
            }
            Typed::Value(v) => {
                let what = v.describe().to_string();
                refuse(
                    self,
                    &what,
                    "arithmetic takes the `latest` or `earliest` result of an observation or score",
                )
            }
            Typed::Cond(_) => refuse(
                self,
                "a condition",
                "arithmetic takes the `latest` or `earliest` result of an observation or score",
            ),
        }
    }

    /// Resolves an observation or score name, or a set of observations (flattened, and
    /// whether it was a set).
    fn observations(&mut self, target: &ast::Ident) -> Option<(Vec<ConceptId>, bool)> {
        if let Some((Symbol::Set(_), _)) = self.names.get(&target.name) {
            let resolved = self.resolve(target, Expect::ConceptOrSet(ConceptKind::Observation))?;
            return Some((self.members(&resolved), true));
        }
        Some((vec![self.observation(target)?], false))
    }

    /// Resolves an observation or score name.
    fn observation(&mut self, target: &ast::Ident) -> Option<ConceptId> {
        match self.resolve(
            target,
            Expect::Concept(&[ConceptKind::Observation, ConceptKind::Score]),
        )? {
            Resolved::Concept(id) => Some(id),
            Resolved::Set(_) => None,
        }
    }

    /// Checks a window; warns when a lab or score selection has none.
    fn window_or_lint(
        &mut self,
        window: Option<&ast::Window>,
        span: Span,
        target: &ast::Ident,
    ) -> Option<Window> {
        match window {
            Some(w) => self.window(w),
            None => {
                self.error(
                    Diagnostic::new(Code::MissingWindow, span, format!("results of `{}` are used with no time window", target.name), "any date counts")
                        .with_help("say how recent the result must be, e.g. `within 30 days before screening`, or write `ever` if any date will do"),
                );
                Some(Window::Ever)
            }
        }
    }

    /// Checks a duration: a whole, non-negative number.
    pub(super) fn duration(&mut self, d: &ast::Duration) -> Option<Dur> {
        let amount = d.amount.value;
        let whole = amount.fract().is_zero() && amount >= Decimal::ZERO;
        let as_u32 = if whole {
            u32::try_from(amount.mantissa() / 10i128.pow(amount.scale())).ok()
        } else {
            None
        };
        match as_u32 {
            Some(n) if n <= 100_000 => Some(Dur {
                amount: n,
                unit: d.unit,
            }),
            _ => {
                self.error(
                    Diagnostic::new(Code::InvalidDuration, d.amount.span, format!("`{}` is not a whole number of {}", amount, d.unit.word(true)), "not a whole, non-negative amount")
                        .with_help("durations are whole days, weeks, months or years: write `18 months` rather than `1.5 years`"),
                );
                None
            }
        }
    }

    pub(super) fn window(&mut self, w: &ast::Window) -> Option<Window> {
        let window = match &w.kind {
            ast::WindowKind::Ever => Window::Ever,
            ast::WindowKind::At(anchor) => Window::At(self.anchor(anchor)?),
            ast::WindowKind::Open { direction, anchor } => {
                let anchor = self.anchor(anchor)?;
                let point = Some(TimePoint {
                    anchor,
                    offset: None,
                });
                match direction {
                    Direction::Before => Window::Range {
                        from: None,
                        to: point,
                    },
                    Direction::After => Window::Range {
                        from: point,
                        to: None,
                    },
                    Direction::Around => Window::Ever,
                }
            }
            ast::WindowKind::Within {
                length,
                direction,
                anchor,
            } => {
                let anchor_id = self.anchor(anchor)?;
                let dur = self.duration(length)?;
                let at = TimePoint {
                    anchor: anchor_id,
                    offset: None,
                };
                let before = TimePoint {
                    anchor: anchor_id,
                    offset: Some((dur, Direction::Before)),
                };
                let after = TimePoint {
                    anchor: anchor_id,
                    offset: Some((dur, Direction::After)),
                };
                match direction {
                    Direction::Before => Window::Range {
                        from: Some(before),
                        to: Some(at),
                    },
                    Direction::After => Window::Range {
                        from: Some(at),
                        to: Some(after),
                    },
                    Direction::Around => Window::Range {
                        from: Some(before),
                        to: Some(after),
                    },
                }
            }
            ast::WindowKind::Between { from, to } => {
                let from_point = self.time_point(from);
                let to_point = self.time_point(to);
                let (from_point, to_point) = (from_point?, to_point?);
                if let Some(Some(std::cmp::Ordering::Greater)) = (from_point.anchor
                    == to_point.anchor)
                    .then(|| offset_order(&from_point, &to_point))
                {
                    self.error(
                        Diagnostic::new(
                            Code::EmptyWindow,
                            w.span,
                            "this window starts after it ends, so nothing can fall in it",
                            "empty window",
                        )
                        .with_help("swap the two ends: `from` is the earlier date"),
                    );
                }
                Window::Range {
                    from: Some(from_point),
                    to: Some(to_point),
                }
            }
        };
        self.lint_future(w, &window);
        Some(window)
    }

    fn time_point(&mut self, p: &ast::TimePoint) -> Option<TimePoint> {
        let anchor = self.anchor(&p.anchor)?;
        let offset = match &p.offset {
            Some((d, dir)) => Some((self.duration(d)?, *dir)),
            None => None,
        };
        Some(TimePoint { anchor, offset })
    }

    /// Warns about windows that end after their anchor: facts from after the anchor date
    /// are not normally in the record when the patient is screened.
    fn lint_future(&mut self, w: &ast::Window, window: &Window) {
        let Window::Range { from, to } = window else {
            return;
        };
        let fixed = |p: &TimePoint| {
            self.anchors
                .get(p.anchor.0 as usize)
                .and_then(|a| a.fixed.map(|_| a.name.clone()))
        };
        // A window ending at a calendar date is over before screening, or meant to reach it.
        if to.as_ref().and_then(fixed).is_some() {
            return;
        }
        if let (None, Some(date)) = (to, from.as_ref().and_then(fixed)) {
            let anchor = self
                .anchors
                .iter()
                .find(|a| a.fixed.is_none() && a.event.is_none())
                .map_or_else(|| "screening".to_string(), |a| a.name.clone());
            self.error(
                Diagnostic::new(Code::WindowAfterAnchor, w.span, format!("this window runs on from {date} without end: it takes facts dated after screening too"), "no end")
                    .with_help(format!("end it at an anchor: `from {date} to {anchor}`")),
            );
            return;
        }
        // Facts after an event taken from the record (`after last_surgery`) are known.
        let anchors = from.iter().chain(to.iter()).map(|p| p.anchor);
        if anchors.clone().count() > 0
            && anchors
                .into_iter()
                .all(|a| self.derived_anchors.contains(&a))
        {
            return;
        }
        let reaches_after = match to {
            None => true,
            Some(p) => matches!(p.offset, Some((d, Direction::After)) if d.amount > 0),
        };
        if reaches_after {
            self.error(
                Diagnostic::new(Code::WindowAfterAnchor, w.span, "this window ends after its anchor date", "reaches past the anchor")
                    .with_help("facts dated after the anchor are usually not known at screening; end the window at the anchor (`within ... before ...`)"),
            );
        }
    }

    fn event_query(&mut self, q: &ast::EventQuery) -> Option<EventQuery> {
        self.query(q, false)
    }

    /// An event query; `every`: `any medication ...`, every record of the kind, no target.
    fn query(&mut self, q: &ast::EventQuery, every: bool) -> Option<EventQuery> {
        let resolved = if every {
            Some(None)
        } else {
            self.resolve(&q.target, Expect::ConceptOrSet(q.kind.concept_kind()))
                .map(Some)
        };
        let taken_for = match &q.taken_for {
            Some(t) if q.kind != EventKind::Medication => {
                self.error(
                    Diagnostic::new(
                        Code::TypeMismatch,
                        t.span,
                        "`taken for` applies to medications only",
                        "not a medication",
                    )
                    .with_help("remove it, or query `medication ...`"),
                );
                None
            }
            Some(t) => Some((t.op, self.duration(&t.duration)?)),
            None => None,
        };
        let window = match &q.window {
            Some(w) => self.window(w)?,
            None => Window::Ever,
        };
        let mut filters = Vec::new();
        for f in &q.filters {
            filters.push(match f {
                ast::WhereTerm::Test(t) => self.filter(q.kind, t)?,
                ast::WhereTerm::Any { tests, .. } => {
                    let checked: Vec<Option<Filter>> =
                        tests.iter().map(|t| self.filter(q.kind, t)).collect();
                    Filter::Any(checked.into_iter().collect::<Option<Vec<_>>>()?)
                }
            });
        }
        let (except, except_names) = self.except(q)?;
        let concepts = match resolved? {
            Some(r) => self.members(&r),
            None => Vec::new(),
        };
        if !except.is_empty() && !every && concepts.iter().all(|c| except.contains(c)) {
            self.error(
                Diagnostic::new(
                    Code::InvalidExcept,
                    q.target.span,
                    format!(
                        "`except` leaves nothing of `{}`: every concept it stands for is excluded",
                        q.target.name
                    ),
                    "nothing left",
                )
                .with_help(format!(
                    "exclude only some of what `{}` stands for, or ask about a wider concept or set",
                    q.target.name
                )),
            );
            return None;
        }
        Some(EventQuery {
            kind: q.kind,
            concepts,
            target: q.target.name.clone(),
            every,
            except,
            except_names,
            taken_for,
            window,
            filters,
        })
    }

    fn filter(&mut self, kind: EventKind, f: &ast::AttributeTest) -> Option<Filter> {
        let known: Vec<&(EventKind, &str, AttrType)> =
            ATTRIBUTES.iter().filter(|(k, _, _)| *k == kind).collect();
        let Some((_, name, ty)) = known
            .iter()
            .find(|(_, n, _)| *n == f.attribute.name)
            .copied()
        else {
            let names: Vec<&str> = known.iter().map(|(_, n, _)| *n).collect();
            let help =
                did_you_mean(&f.attribute.name, names.iter().copied()).unwrap_or_else(|| {
                    if names.is_empty() {
                        format!("{} records have no attributes to test", kind.keyword())
                    } else {
                        format!("{} records have: {}", kind.keyword(), names.join(", "))
                    }
                });
            self.error(
                Diagnostic::new(
                    Code::UnknownAttribute,
                    f.attribute.span,
                    format!(
                        "{} records have no attribute `{}`",
                        kind.keyword(),
                        f.attribute.name
                    ),
                    "unknown attribute",
                )
                .with_help(help),
            );
            return None;
        };
        let attribute = (*name).to_string();
        let (negated, values): (bool, &[ast::Ident]) = match &f.test {
            ast::AttributeCheck::Compare(op, n) => {
                if *ty == AttrType::Number {
                    return Some(Filter::Number {
                        attribute,
                        op: *op,
                        value: n.value,
                    });
                }
                let example = match ty {
                    AttrType::Words(words) => words.first().copied().unwrap_or("..."),
                    _ => "...",
                };
                self.error(
                    Diagnostic::new(
                        Code::TypeMismatch,
                        f.span,
                        format!("`{name}` is {}, not a number", type_words(*ty)),
                        "compared as a number",
                    )
                    .with_help(format!("write `{name} is {example}`")),
                );
                return None;
            }
            ast::AttributeCheck::Is { negated, value } => (*negated, std::slice::from_ref(value)),
            ast::AttributeCheck::In { negated, values } => (*negated, values.as_slice()),
        };
        match ty {
            AttrType::Number => {
                self.error(
                    Diagnostic::new(
                        Code::TypeMismatch,
                        f.span,
                        format!("`{name}` is a number, not a word"),
                        "tested as a word",
                    )
                    .with_help(format!("compare it: `{name} >= 2`")),
                );
                None
            }
            AttrType::Words(words) => {
                let mut ok = true;
                let mut out: Vec<String> = Vec::new();
                for word in values {
                    if !words.contains(&word.name.as_str()) {
                        let help = did_you_mean(&word.name, words.iter().copied())
                            .unwrap_or_else(|| format!("`{name}` is one of: {}", words.join(", ")));
                        self.error(
                            Diagnostic::new(
                                Code::InvalidTest,
                                word.span,
                                format!("`{}` is not a value of `{name}`", word.name),
                                "unknown value",
                            )
                            .with_help(help),
                        );
                        ok = false;
                    } else if out.contains(&word.name) {
                        self.duplicate_value(word, name);
                    } else {
                        out.push(word.name.clone());
                    }
                }
                ok.then_some(Filter::Word {
                    attribute,
                    negated,
                    values: out,
                })
            }
            AttrType::Codes(concept_kind) => {
                let mut ok = true;
                let mut names: Vec<String> = Vec::new();
                let mut concepts: Vec<ConceptId> = Vec::new();
                for value in values {
                    match self.resolve(value, Expect::ConceptOrSet(*concept_kind)) {
                        Some(resolved) => {
                            if names.contains(&value.name) {
                                self.duplicate_value(value, name);
                                continue;
                            }
                            names.push(value.name.clone());
                            for id in self.members(&resolved) {
                                if !concepts.contains(&id) {
                                    concepts.push(id);
                                }
                            }
                        }
                        None => ok = false,
                    }
                }
                ok.then_some(Filter::Code {
                    attribute,
                    negated,
                    names,
                    concepts,
                })
            }
        }
    }

    /// The concepts after `except`, of the query's kind (sets flattened), and the names as
    /// written.
    fn except(&mut self, q: &ast::EventQuery) -> Option<(Vec<ConceptId>, Vec<String>)> {
        let mut ok = true;
        let mut names: Vec<String> = Vec::new();
        let mut concepts: Vec<ConceptId> = Vec::new();
        for value in &q.except {
            match self.resolve(value, Expect::ConceptOrSet(q.kind.concept_kind())) {
                Some(resolved) => {
                    if names.contains(&value.name) {
                        self.duplicate_value(value, "except");
                        continue;
                    }
                    names.push(value.name.clone());
                    for id in self.members(&resolved) {
                        if !concepts.contains(&id) {
                            concepts.push(id);
                        }
                    }
                }
                None => ok = false,
            }
        }
        ok.then_some((concepts, names))
    }

    /// `laterality in {left, left}`: the second is redundant.
    fn duplicate_value(&mut self, value: &ast::Ident, attribute: &str) {
        self.error(
            Diagnostic::new(
                Code::DuplicateSetMember,
                value.span,
                format!("`{}` is listed twice for `{attribute}`", value.name),
                "listed again",
            )
            .with_help("remove the repeated entry"),
        );
    }

    fn dose(&mut self, d: &ast::DoseQuery) -> Option<DoseQuery> {
        let resolved = self.resolve(&d.target, Expect::ConceptOrSet(ConceptKind::Drug));
        let as_drug = match &d.as_drug {
            Some(a) => match self.resolve(a, Expect::Concept(&[ConceptKind::Drug])) {
                Some(Resolved::Concept(_)) => Some(a.name.clone()),
                _ => return None,
            },
            None => None,
        };
        let unit = match &d.unit {
            Some(u) => self.unit(u),
            None => {
                self.error(
                    Diagnostic::new(Code::MissingUnit, d.threshold_span, "a daily dose needs a unit", "no unit")
                        .with_help("write `mg/d` for a daily dose, or `mg/kg/d` for a daily dose per kg of body weight"),
                );
                None
            }
        };
        let sustained = match &d.sustained {
            Some(s) => Some(self.duration(s)?),
            None => None,
        };
        let window = match &d.window {
            Some(w) => self.window(w)?,
            None => Window::Ever,
        };
        let (resolved, unit) = (resolved?, unit?);
        let members = self.members(&resolved);
        let per_kg = match (units::parse_unit("mg/d"), units::parse_unit("mg/kg/d")) {
            (Ok(daily), Ok(per_kg)) => {
                if unit.is_commensurable(&daily) {
                    false
                } else if unit.is_commensurable(&per_kg) {
                    true
                } else {
                    self.error(
                        Diagnostic::new(Code::UnitMismatch, d.unit.as_ref().map_or(d.threshold_span, |u| u.span), format!("`{}` is not a daily dose", unit.text()), unit.dimension().describe())
                            .with_help("write the dose as mass per day (`mg/d`) or per kg of body weight per day (`mg/kg/d`)"),
                    );
                    return None;
                }
            }
            _ => false,
        };
        if per_kg {
            let weight_ok = match self.names.get("body_weight") {
                Some((Symbol::Concept(id), _)) => {
                    let id = *id;
                    self.mark_used(Symbol::Concept(id));
                    let kg = units::parse_unit("kg").ok();
                    self.concepts
                        .get(id.0 as usize)
                        .and_then(|c| c.unit.as_ref())
                        .zip(kg.as_ref())
                        .is_some_and(|(u, kg)| u.is_commensurable(kg))
                }
                _ => false,
            };
            if !weight_ok {
                self.error(
                    Diagnostic::new(Code::UnknownName, d.unit.as_ref().map_or(d.threshold_span, |u| u.span), "a dose per kg needs the patient's weight: declare an observation `body_weight` with a mass unit", "per kg of body weight")
                        .with_help("`use std` declares it: `observation body_weight \"Body weight\" unit kg codes [loinc:29463-7]`"),
                );
                return None;
            }
        }
        let drugs = match (&as_drug, &resolved) {
            (Some(reference), _) => {
                match self.equivalence_for(&d.target.name, reference, &members) {
                    Some(Some(f)) => f,
                    Some(None) => return None,
                    None => {
                        self.error(
                        Diagnostic::new(Code::MissingEquivalence, d.target.span, format!("no equivalence table gives doses of `{}` as `{reference}`", d.target.name), "no table")
                            .with_help(format!("declare one: `equivalence {} as {reference} {{ {reference} 1, ... }}`", d.target.name)),
                    );
                        return None;
                    }
                }
            }
            (None, Resolved::Concept(id)) => vec![(*id, Decimal::ONE)],
            (None, Resolved::Set(_)) if members.len() == 1 => {
                members.iter().map(|m| (*m, Decimal::ONE)).collect()
            }
            (None, Resolved::Set(_)) => {
                let reference = self
                    .equivalences
                    .iter()
                    .find(|e| e.set == d.target.name)
                    .map(|e| e.reference.clone());
                self.error(
                    Diagnostic::new(Code::MissingEquivalence, d.target.span, format!("doses of different drugs in `{}` cannot be added up as they are", d.target.name), "several drugs")
                        .with_help(match reference {
                            Some(r) => format!("express them as one drug: `dose {} as {r} ...`", d.target.name),
                            None => format!("declare an equivalence table for `{}` and write `dose {} as REFERENCE ...`", d.target.name, d.target.name),
                        }),
                );
                return None;
            }
        };
        Some(DoseQuery {
            drugs,
            target: d.target.name.clone(),
            as_drug,
            per_kg,
            op: d.op,
            threshold: d.threshold.value,
            unit,
            sustained,
            window,
        })
    }

    fn compare(
        &mut self,
        lhs: Typed,
        op: CmpOp,
        rhs: &ast::Value,
        rhs_span: Span,
        span: Span,
    ) -> Option<Cond> {
        let value = match lhs {
            Typed::Value(v) => v,
            Typed::Cond(c) => {
                self.error(
                    Diagnostic::new(
                        Code::TypeMismatch,
                        c.span,
                        "a condition cannot be compared with a value",
                        "true or false, not a value",
                    )
                    .with_help(
                        "compare a value such as `latest egfr within 30 days before screening`",
                    ),
                );
                return None;
            }
        };
        let kind = match value {
            // An average is a computed value: the mean of the results, compared exactly.
            v @ ValueExpr::Select {
                mode: SelectMode::Average,
                ..
            } => {
                let (value, dimension) = self.single_value(Typed::Value(v), span)?;
                let (threshold, unit) = self.arith_threshold(dimension, rhs, rhs_span)?;
                CondKind::Arithmetic {
                    value,
                    op,
                    threshold,
                    unit,
                }
            }
            ValueExpr::Select {
                mode,
                concepts,
                target,
                window,
                ..
            } => {
                // The threshold must suit every member of a set.
                let thresholds: Vec<Option<Threshold>> = concepts
                    .iter()
                    .map(|c| self.threshold(*c, rhs, rhs_span))
                    .collect();
                let thresholds: Option<Vec<Threshold>> = thresholds.into_iter().collect();
                let threshold = thresholds?.into_iter().next()?;
                CondKind::Observation {
                    mode,
                    concepts,
                    target,
                    window,
                    test: ValueTest::Compare { op, threshold },
                }
            }
            ValueExpr::Arith { value, dimension } => {
                let (threshold, unit) = self.arith_threshold(dimension, rhs, rhs_span)?;
                CondKind::Arithmetic {
                    value,
                    op,
                    threshold,
                    unit,
                }
            }
            ValueExpr::Age { anchor } => match rhs {
                ast::Value::Duration(d) => CondKind::Age {
                    anchor,
                    op,
                    duration: self.duration(d)?,
                },
                _ => {
                    self.error(
                        Diagnostic::new(
                            Code::TypeMismatch,
                            rhs_span,
                            "an age is compared with a duration",
                            "not a duration",
                        )
                        .with_help("write the age as a duration: `18 years`, `6 months`"),
                    );
                    return None;
                }
            },
            ValueExpr::Sex => {
                self.error(
                    Diagnostic::new(
                        Code::TypeMismatch,
                        span,
                        "the patient's sex is tested with `is`, not compared",
                        "compared",
                    )
                    .with_help("write `sex is female`"),
                );
                return None;
            }
            ValueExpr::CountResults { concept, window } => {
                let n = self.count_literal(rhs, rhs_span)?;
                CondKind::CountResults {
                    concept,
                    window,
                    op,
                    n,
                }
            }
            ValueExpr::CountEvents { query } => {
                let n = self.count_literal(rhs, rhs_span)?;
                CondKind::CountEvents { query, op, n }
            }
            ValueExpr::CountDistinct { query } => {
                let n = self.count_literal(rhs, rhs_span)?;
                CondKind::CountDistinct { query, op, n }
            }
        };
        Some(Cond { kind, span })
    }

    /// The quantity a computed value of `dimension` is compared with.
    fn arith_threshold(
        &mut self,
        dimension: units::Dimension,
        rhs: &ast::Value,
        rhs_span: Span,
    ) -> Option<(Decimal, units::Unit)> {
        let (value, unit, span) = match rhs {
            ast::Value::Quantity {
                number,
                unit: Some(u),
            } => (number.value, self.unit(u)?, u.span),
            ast::Value::Quantity { number, unit: None } => {
                let points = units::parse_unit("points").ok()?;
                if dimension.is_dimensionless() {
                    return Some((number.value, units::dimensionless()));
                }
                if dimension == points.dimension() {
                    return Some((number.value, points));
                }
                self.error(
                    Diagnostic::new(
                        Code::MissingUnit,
                        rhs_span,
                        format!(
                            "`{}` needs a unit: the value is {}",
                            number.value,
                            dimension.describe()
                        ),
                        "no unit",
                    )
                    .with_help("write the threshold with a unit of that kind"),
                );
                return None;
            }
            ast::Value::Duration(d) if dimension == units::time_dimension() => {
                let text = match d.unit {
                    ast::DurationUnit::Days => "d",
                    ast::DurationUnit::Weeks => "wk",
                    ast::DurationUnit::Months => "mo",
                    ast::DurationUnit::Years => "a",
                };
                (d.amount.value, units::parse_unit(text).ok()?, d.span)
            }
            ast::Value::RefMultiple { .. }
            | ast::Value::RefOffset { .. }
            | ast::Value::Duration(_) => {
                self.error(
                    Diagnostic::new(
                        Code::TypeMismatch,
                        rhs_span,
                        "a computed value is compared with a quantity",
                        "not a quantity",
                    )
                    .with_help(format!(
                        "write a quantity: the value is {}",
                        dimension.describe()
                    )),
                );
                return None;
            }
        };
        if unit.is_affine() || unit.dimension() != dimension {
            self.error(
                Diagnostic::new(
                    Code::UnitMismatch,
                    span,
                    format!(
                        "a value of {} cannot be compared with `{}`",
                        dimension.describe(),
                        unit.text()
                    ),
                    unit.dimension().describe(),
                )
                .with_help("write the threshold in a unit of the computed value's kind"),
            );
            return None;
        }
        Some((value, unit))
    }

    fn count_literal(&mut self, rhs: &ast::Value, rhs_span: Span) -> Option<Decimal> {
        match rhs {
            ast::Value::Quantity { number, unit: None }
                if number.value.fract().is_zero() && number.value >= Decimal::ZERO =>
            {
                Some(number.value)
            }
            _ => {
                self.error(
                    Diagnostic::new(
                        Code::TypeMismatch,
                        rhs_span,
                        "a count is compared with a whole number",
                        "not a whole number",
                    )
                    .with_help("write a plain number such as `2`"),
                );
                None
            }
        }
    }

    /// The threshold a result of `concept` is compared with.
    fn threshold(
        &mut self,
        concept: ConceptId,
        rhs: &ast::Value,
        rhs_span: Span,
    ) -> Option<Threshold> {
        let c = self.concepts.get(concept.0 as usize)?.clone();
        if c.qualitative {
            self.error(
                Diagnostic::new(Code::TypeMismatch, rhs_span, format!("`{}` has qualitative results, which are not compared with numbers", c.name), "a number")
                    .with_help(format!("test it with `is positive`, `negative`, `indeterminate`, `normal` or `abnormal` (e.g. `latest {} ... is positive`)", c.name)),
            );
            return None;
        }
        let obs_unit = c.unit.clone()?;
        let is_score = c.kind == ConceptKind::Score;
        match rhs {
            ast::Value::Quantity {
                number,
                unit: Some(u),
            } => {
                let unit = self.unit(u)?;
                // `{score}`, `{points}`: UCUM's number one, for a score its points.
                let unit = if is_score && unit.is_unity() {
                    obs_unit.clone()
                } else {
                    unit
                };
                let bridged = c.molar_mass.is_some() && units::MolarMass::bridges(&unit, &obs_unit);
                if !unit.is_commensurable(&obs_unit) && !bridged {
                    let help = if is_score {
                        format!(
                            "`{}` is a score in points: write `{}` or `{} points`",
                            c.name, number.value, number.value
                        )
                    } else if units::MolarMass::bridges(&unit, &obs_unit) {
                        format!(
                            "`{}` is measured in `{}` ({}); write the threshold in a unit of that kind, or declare the analyte's molar mass on `{}` (`molar mass ... g/mol`) to convert",
                            c.name,
                            obs_unit.text(),
                            obs_unit.dimension().describe(),
                            c.name
                        )
                    } else {
                        format!(
                            "`{}` is measured in `{}` ({}); write the threshold in a unit of that kind",
                            c.name,
                            obs_unit.text(),
                            obs_unit.dimension().describe()
                        )
                    };
                    self.error(
                        Diagnostic::new(
                            Code::UnitMismatch,
                            u.span,
                            format!("`{}` cannot be compared with `{}`", u.text, obs_unit.text()),
                            unit.dimension().describe(),
                        )
                        .with_related(
                            c.span,
                            format!("`{}` is declared in `{}` here", c.name, obs_unit.text()),
                        )
                        .with_help(help),
                    );
                    return None;
                }
                Some(Threshold::Quantity {
                    value: number.value,
                    unit,
                })
            }
            ast::Value::Quantity { number, unit: None } => {
                if is_score || obs_unit == units::dimensionless() {
                    Some(Threshold::Quantity {
                        value: number.value,
                        unit: obs_unit,
                    })
                } else {
                    self.error(
                        Diagnostic::new(
                            Code::MissingUnit,
                            rhs_span,
                            format!(
                                "`{}` needs a unit: `{}` is measured in `{}`",
                                number.value,
                                c.name,
                                obs_unit.text()
                            ),
                            "no unit",
                        )
                        .with_help(format!(
                            "write `{} {}`",
                            number.value,
                            obs_unit.text()
                        )),
                    );
                    None
                }
            }
            ast::Value::RefMultiple { factor, bound } => {
                if is_score {
                    self.error(
                        Diagnostic::new(
                            Code::TypeMismatch,
                            rhs_span,
                            "a score has no reference range",
                            "no ULN for scores",
                        )
                        .with_help("compare with points: `>= 8`"),
                    );
                    return None;
                }
                Some(Threshold::RefMultiple {
                    factor: factor.value,
                    bound: *bound,
                })
            }
            ast::Value::RefOffset {
                bound,
                minus,
                number,
                unit,
            } => {
                if is_score {
                    self.error(
                        Diagnostic::new(
                            Code::TypeMismatch,
                            rhs_span,
                            "a score has no reference range",
                            "no ULN for scores",
                        )
                        .with_help("compare with points: `>= 8`"),
                    );
                    return None;
                }
                let amount = ast::Value::Quantity {
                    number: number.clone(),
                    unit: unit.clone(),
                };
                let Threshold::Quantity { value, unit } =
                    self.threshold(concept, &amount, rhs_span)?
                else {
                    return None;
                };
                // A difference of temperatures does not convert like a temperature.
                let affine = unit.is_affine() || obs_unit.is_affine();
                if affine || !unit.is_commensurable(&obs_unit) {
                    self.error(
                        Diagnostic::new(
                            Code::UnitMismatch,
                            rhs_span,
                            format!("`{}` cannot move a limit of `{}`", unit.text(), obs_unit.text()),
                            "not a difference in the result's unit",
                        )
                        .with_help(if affine {
                            "a temperature limit cannot be moved by a quantity; compare with a temperature: `> 38 Cel`".to_string()
                        } else {
                            format!("write the difference in a unit of `{}`'s kind", obs_unit.text())
                        }),
                    );
                    return None;
                }
                Some(Threshold::RefOffset {
                    bound: *bound,
                    offset: if *minus { -value } else { value },
                    unit,
                })
            }
            // `3 days` against a result measured in time (`d`, `h`, `wk`): a quantity in
            // UCUM's day, week, month (`mo`, a twelfth of a Julian year) or year (`a`).
            ast::Value::Duration(d) if obs_unit.dimension() == units::time_dimension() => {
                let text = match d.unit {
                    ast::DurationUnit::Days => "d",
                    ast::DurationUnit::Weeks => "wk",
                    ast::DurationUnit::Months => "mo",
                    ast::DurationUnit::Years => "a",
                };
                let unit = units::parse_unit(text).ok()?;
                Some(Threshold::Quantity {
                    value: d.amount.value,
                    unit,
                })
            }
            ast::Value::Duration(_) => {
                self.error(
                    Diagnostic::new(
                        Code::TypeMismatch,
                        rhs_span,
                        format!("`{}` is compared with a duration", c.name),
                        "a duration",
                    )
                    .with_help(format!("write a quantity in `{}`", obs_unit.text())),
                );
                None
            }
        }
    }

    /// `is WORD` or a range test on the results of one observation.
    fn value_is_test(
        &mut self,
        concept: ConceptId,
        negated: bool,
        test: &IsTest,
        span: Span,
    ) -> Option<ValueTest> {
        let c = self.concepts.get(concept.0 as usize)?.clone();
        let test = match test {
            IsTest::Word(word) => {
                if !c.qualitative {
                    self.error(
                        Diagnostic::new(Code::InvalidTest, word.span, format!("`{}` has numeric results, which are not `{}`", c.name, word.name), "qualitative test on a number")
                            .with_help("compare it with a value (`>= 30 mL/min/1.73m2`) or its range (`is above normal range`, `<= 3 x ULN`)"),
                    );
                    return None;
                }
                let Some((_, q)) = Qualitative::ALL.iter().find(|(w, _)| *w == word.name) else {
                    let help = did_you_mean(&word.name, Qualitative::ALL.iter().map(|(w, _)| *w))
                        .unwrap_or_else(|| {
                            format!(
                                "write one of: {}",
                                Qualitative::ALL
                                    .iter()
                                    .map(|(w, _)| *w)
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            )
                        });
                    self.error(
                        Diagnostic::new(
                            Code::InvalidTest,
                            word.span,
                            format!("`{}` is not a qualitative result", word.name),
                            "unknown result",
                        )
                        .with_help(help),
                    );
                    return None;
                };
                ValueTest::Qualitative { negated, value: *q }
            }
            range => {
                if c.qualitative || c.kind == ConceptKind::Score {
                    self.error(
                        Diagnostic::new(
                            Code::InvalidTest,
                            span,
                            format!("`{}` has no reference range", c.name),
                            "range test",
                        )
                        .with_help(if c.qualitative {
                            "test the result: `is positive`"
                        } else {
                            "compare the score with points: `>= 8`"
                        }),
                    );
                    return None;
                }
                let test = match range {
                    IsTest::AboveNormal => RangeTest::AboveNormal,
                    IsTest::BelowNormal => RangeTest::BelowNormal,
                    _ => RangeTest::WithinNormal,
                };
                ValueTest::Range { negated, test }
            }
        };
        Some(test)
    }

    fn is_test(&mut self, lhs: Typed, negated: bool, test: &IsTest, span: Span) -> Option<Cond> {
        let wrap = |kind: CondKind, negated: bool| {
            let c = Cond { kind, span };
            if negated {
                Cond {
                    kind: CondKind::Not(Box::new(c)),
                    span,
                }
            } else {
                c
            }
        };
        match lhs {
            Typed::Value(ValueExpr::Sex) => {
                let IsTest::Word(word) = test else {
                    self.error(
                        Diagnostic::new(
                            Code::InvalidTest,
                            span,
                            "sex has no normal range",
                            "range test",
                        )
                        .with_help("write `sex is female` or `sex is male`"),
                    );
                    return None;
                };
                let Some((_, sex)) = SEXES.iter().find(|(w, _)| *w == word.name) else {
                    let help = did_you_mean(&word.name, SEXES.iter().map(|(w, _)| *w))
                        .unwrap_or_else(|| "write `female`, `male` or `other`".into());
                    self.error(
                        Diagnostic::new(
                            Code::InvalidTest,
                            word.span,
                            format!("`{}` is not a recorded sex", word.name),
                            "unknown value",
                        )
                        .with_help(help),
                    );
                    return None;
                };
                Some(wrap(CondKind::SexIs(*sex), negated))
            }
            Typed::Value(ValueExpr::Select {
                mode: SelectMode::Average,
                ..
            }) => {
                self.error(
                    Diagnostic::new(
                        Code::TypeMismatch,
                        span,
                        "an average cannot be tested with `is`",
                        "a number",
                    )
                    .with_help("compare it with a quantity (`>= 4 /d`), or test each result: `all ... is ...`"),
                );
                None
            }
            Typed::Value(ValueExpr::Select {
                mode,
                concepts,
                target,
                window,
                ..
            }) => {
                // The test must suit every member of a set.
                let tests: Vec<Option<ValueTest>> = concepts
                    .iter()
                    .map(|c| self.value_is_test(*c, negated, test, span))
                    .collect();
                let tests: Option<Vec<ValueTest>> = tests.into_iter().collect();
                let test = tests?.into_iter().next()?;
                Some(Cond {
                    kind: CondKind::Observation {
                        mode,
                        concepts,
                        target,
                        window,
                        test,
                    },
                    span,
                })
            }
            Typed::Value(v) => {
                self.error(
                    Diagnostic::new(
                        Code::TypeMismatch,
                        span,
                        format!("{} cannot be tested with `is`", v.describe()),
                        "not testable",
                    )
                    .with_help("compare it with a value instead"),
                );
                None
            }
            Typed::Cond(_) => {
                self.error(
                    Diagnostic::new(
                        Code::TypeMismatch,
                        span,
                        "a condition cannot be tested with `is`",
                        "already true or false",
                    )
                    .with_help("use `not` to negate a condition"),
                );
                None
            }
        }
    }
}

/// Orders two points on the same anchor by their offsets, when the units allow it.
pub(super) fn offset_order(a: &TimePoint, b: &TimePoint) -> Option<std::cmp::Ordering> {
    let signed = |p: &TimePoint| -> Option<(i64, u8)> {
        match p.offset {
            None => Some((0, 0)),
            Some((d, dir)) => {
                let (n, family) = match d.unit {
                    ast::DurationUnit::Days => (i64::from(d.amount), 1),
                    ast::DurationUnit::Weeks => (i64::from(d.amount) * 7, 1),
                    ast::DurationUnit::Months => (i64::from(d.amount), 2),
                    ast::DurationUnit::Years => (i64::from(d.amount) * 12, 2),
                };
                let n = if dir == Direction::Before { -n } else { n };
                Some((n, if n == 0 { 0 } else { family }))
            }
        }
    };
    let (a, fa) = signed(a)?;
    let (b, fb) = signed(b)?;
    if fa == 0 || fb == 0 || fa == fb {
        Some(a.cmp(&b))
    } else if a.signum() != b.signum() {
        Some(a.signum().cmp(&b.signum()))
    } else {
        None
    }
}

/// How an attribute's type is named in messages.
fn type_words(ty: AttrType) -> String {
    match ty {
        AttrType::Number => "a number".to_string(),
        AttrType::Words(_) => "a word".to_string(),
        AttrType::Codes(kind) => format!("coded (a {} or a set of them)", kind.keyword()),
    }
}

impl Checker<'_> {
    /// Checks the events that anchors taken from the record are defined by. Their windows
    /// may refer only to anchors the record supplies, so that no anchor depends on itself.
    pub(super) fn derived_anchor_events(&mut self) {
        let loaded = self.loaded;
        for l in loaded {
            for item in &l.module.items {
                let ast::Item::Anchor(decl) = item else {
                    continue;
                };
                for anchor in &decl.anchors {
                    let Some(event) = &anchor.event else {
                        continue;
                    };
                    let Some(id) = self.anchor_ids.get(&anchor.name.name).copied() else {
                        continue;
                    };
                    // A duplicate declaration keeps the first one's meaning.
                    if self.anchors.get(id.0 as usize).map(|a| a.span) != Some(anchor.name.span) {
                        continue;
                    }
                    let Some(query) = self.event_query(&event.query) else {
                        continue;
                    };
                    let mut points = Vec::new();
                    if let Window::Range { from, to } = &query.window {
                        points.extend(from.iter().chain(to.iter()).map(|p| p.anchor));
                    } else if let Window::At(a) = &query.window {
                        points.push(*a);
                    }
                    if points.iter().any(|a| self.derived_anchors.contains(a)) {
                        let span = event.query.window.as_ref().map_or(event.span, |w| w.span);
                        self.error(
                            Diagnostic::new(
                                Code::InvalidDeclaration,
                                span,
                                format!(
                                    "the window of `{}` refers to an anchor taken from the record",
                                    anchor.name.name
                                ),
                                "an anchor defined by an event",
                            )
                            .with_help("an anchor taken from the record is found in windows of anchors the record supplies (`before screening`)"),
                        );
                        continue;
                    }
                    if let Some(info) = self.anchors.get_mut(id.0 as usize) {
                        info.event = Some((event.select, query));
                    }
                }
            }
        }
    }
}
