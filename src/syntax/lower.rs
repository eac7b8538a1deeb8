//! Parse tree to AST. Every step that expects a child the grammar guarantees still returns an
//! [`Code::Internal`] diagnostic instead of panicking, so a drift between the grammar and this
//! file shows up as an error message, never a crash.

use pest::iterators::Pair;

use super::Rule;
use crate::ast::*;
use crate::diagnostic::{Code, Diagnostic};
use crate::source::{FileId, Span};

type Result<T> = std::result::Result<T, Diagnostic>;

/// Keyword tokens are atomic rules (so that `nothing` is not read as `not hing`); they carry
/// no information, so the lowering skips them. Recognised by the grammar's naming rule
/// (`kw_...`) so that a keyword added to the grammar cannot be forgotten here.
fn is_keyword(rule: Rule) -> bool {
    format!("{rule:?}").starts_with("kw_")
}

/// The meaningful children of a pair, keywords left out.
struct Children<'i> {
    items: std::iter::Peekable<std::vec::IntoIter<Pair<'i, Rule>>>,
}

impl<'i> Children<'i> {
    fn of(pair: &Pair<'i, Rule>) -> Children<'i> {
        let items: Vec<_> = pair
            .clone()
            .into_inner()
            .filter(|p| !is_keyword(p.as_rule()))
            .collect();
        Children {
            items: items.into_iter().peekable(),
        }
    }

    fn peek(&mut self) -> Option<&Pair<'i, Rule>> {
        self.items.peek()
    }
}

impl<'i> Iterator for Children<'i> {
    type Item = Pair<'i, Rule>;
    fn next(&mut self) -> Option<Pair<'i, Rule>> {
        self.items.next()
    }
}

/// Lowers pairs parsed from the chunk of `file` starting at byte `offset`.
pub(super) struct Lowerer {
    pub(super) file: FileId,
    pub(super) offset: usize,
}

/// Length of `text` without trailing whitespace and `//` comments.
fn trimmed_len(text: &str) -> usize {
    let mut end = text.trim_end().len();
    loop {
        let body = text.get(..end).unwrap_or("");
        let line_start = body.rfind('\n').map_or(0, |i| i + 1);
        let last_line = body.get(line_start..).unwrap_or("");
        match super::comment_start(last_line) {
            Some(pos) => end = body.get(..line_start + pos).unwrap_or("").trim_end().len(),
            None => return end,
        }
    }
}

/// `not`s allowed in a row: the tree of nested `Not`s is walked recursively.
const MAX_NOTS: usize = super::MAX_NESTING;

impl Lowerer {
    /// The pair's span without trailing whitespace and comments (pest includes what it
    /// skipped before an optional part that then did not match).
    fn span(&self, pair: &Pair<'_, Rule>) -> Span {
        let s = pair.as_span();
        let len = trimmed_len(pair.as_str());
        Span::new(
            self.file,
            self.offset + s.start(),
            self.offset + s.start() + len,
        )
    }

    fn internal(&self, pair: &Pair<'_, Rule>, what: &str) -> Diagnostic {
        Diagnostic::new(
            Code::Internal,
            self.span(pair),
            format!(
                "internal error: the parse tree has no {what} here ({:?})",
                pair.as_rule()
            ),
            "eligc could not read this",
        )
        .with_help("this is a bug in eligc; please report it with this file")
    }

    /// The next child, which the grammar guarantees.
    fn next<'i>(
        &self,
        parent: &Pair<'i, Rule>,
        pairs: &mut Children<'i>,
        what: &str,
    ) -> Result<Pair<'i, Rule>> {
        pairs.next().ok_or_else(|| self.internal(parent, what))
    }

    /// The next child if it has the given rule.
    fn optional<'i>(&self, pairs: &mut Children<'i>, rule: Rule) -> Option<Pair<'i, Rule>> {
        if pairs.peek().is_some_and(|p| p.as_rule() == rule) {
            pairs.next()
        } else {
            None
        }
    }

    pub(super) fn file(&self, pair: Pair<'_, Rule>) -> Result<Vec<Item>> {
        let mut items = Vec::new();
        for child in Children::of(&pair) {
            let item = match child.as_rule() {
                Rule::EOI => continue,
                Rule::protocol_decl => Item::Protocol(self.protocol(child)?),
                Rule::anchor_decl => Item::Anchor(self.anchor(child)?),
                Rule::use_decl => Item::Use(self.use_decl(child)?),
                Rule::codesystem_decl => Item::CodeSystem(self.codesystem(child)?),
                Rule::concept_decl => Item::Concept(self.concept(child)?),
                Rule::set_decl => Item::Set(self.set(child)?),
                Rule::equivalence_decl => Item::Equivalence(self.equivalence(child)?),
                Rule::define_decl => Item::Define(self.define(child)?),
                Rule::criterion => Item::Criterion(self.criterion(child)?),
                _ => return Err(self.internal(&child, "item")),
            };
            items.push(item);
        }
        Ok(items)
    }

    fn ident(&self, pair: &Pair<'_, Rule>) -> Ident {
        Ident {
            name: pair.as_str().to_string(),
            span: self.span(pair),
        }
    }

    fn expect_ident<'i>(&self, parent: &Pair<'i, Rule>, pairs: &mut Children<'i>) -> Result<Ident> {
        let p = self.next(parent, pairs, "name")?;
        Ok(self.ident(&p))
    }

    fn string(&self, pair: &Pair<'_, Rule>) -> StrLit {
        let raw = pair.as_str();
        let inner = raw
            .strip_prefix('"')
            .and_then(|s| s.strip_suffix('"'))
            .unwrap_or(raw);
        let mut value = String::with_capacity(inner.len());
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                match chars.next() {
                    Some('n') => value.push('\n'),
                    Some('t') => value.push('\t'),
                    Some(other) => value.push(other),
                    None => value.push('\\'),
                }
            } else {
                value.push(c);
            }
        }
        StrLit {
            value,
            span: self.span(pair),
        }
    }

    fn number(&self, pair: &Pair<'_, Rule>) -> Result<Number> {
        let span = self.span(pair);
        // Refused rather than rounded: a rounded threshold changes who is eligible.
        let value = crate::number::parse(pair.as_str()).map_err(|_| {
            Diagnostic::new(
                Code::InvalidNumber,
                span,
                format!("the number `{}` is too large or too precise", pair.as_str()),
                "this number",
            )
            .with_help("numbers have at most 28 significant digits; eligc never rounds them")
        })?;
        Ok(Number { value, span })
    }

    fn codesystem(&self, pair: Pair<'_, Rule>) -> Result<CodeSystemDecl> {
        let span = self.span(&pair);
        let mut inner = Children::of(&pair);
        let name = self.expect_ident(&pair, &mut inner)?;
        let url = self.string(&self.next(&pair, &mut inner, "URL")?);
        Ok(CodeSystemDecl { name, url, span })
    }

    fn protocol(&self, pair: Pair<'_, Rule>) -> Result<ProtocolDecl> {
        let span = self.span(&pair);
        let mut inner = Children::of(&pair);
        let title = self.string(&self.next(&pair, &mut inner, "title")?);
        let version = inner.next().map(|p| self.string(&p));
        Ok(ProtocolDecl {
            title,
            version,
            span,
        })
    }

    fn anchor(&self, pair: Pair<'_, Rule>) -> Result<AnchorDecl> {
        let span = self.span(&pair);
        let mut anchors = Vec::new();
        for item in Children::of(&pair) {
            let item_span = self.span(&item);
            let mut inner = Children::of(&item);
            let name = self.expect_ident(&item, &mut inner)?;
            let mut label = None;
            let mut event = None;
            for part in inner {
                match part.as_rule() {
                    Rule::string => label = Some(self.string(&part)),
                    Rule::anchor_event => {
                        let event_span = self.span(&part);
                        let mut parts = Children::of(&part);
                        let select =
                            self.event_select(&self.next(&part, &mut parts, "first or last")?)?;
                        let query = self.event_query(&part, parts)?;
                        event = Some(AnchorEvent {
                            select,
                            query,
                            span: event_span,
                        });
                    }
                    _ => return Err(self.internal(&part, "anchor")),
                }
            }
            anchors.push(Anchor {
                name,
                label,
                event,
                span: item_span,
            });
        }
        Ok(AnchorDecl { anchors, span })
    }

    fn use_decl(&self, pair: Pair<'_, Rule>) -> Result<UseDecl> {
        let span = self.span(&pair);
        let mut inner = Children::of(&pair);
        let target = self.next(&pair, &mut inner, "use target")?;
        let target = match target.as_rule() {
            Rule::string => UseTarget::Path(self.string(&target)),
            _ => UseTarget::Builtin(self.ident(&target)),
        };
        Ok(UseDecl { target, span })
    }

    fn concept(&self, pair: Pair<'_, Rule>) -> Result<ConceptDecl> {
        let span = self.span(&pair);
        let mut inner = Children::of(&pair);
        let kind_pair = self.next(&pair, &mut inner, "concept kind")?;
        let kind = match kind_pair.as_str() {
            "observation" => ConceptKind::Observation,
            "score" => ConceptKind::Score,
            "condition" => ConceptKind::Condition,
            "drug" => ConceptKind::Drug,
            "vaccine" => ConceptKind::Vaccine,
            "procedure" => ConceptKind::Procedure,
            "encounter" => ConceptKind::Encounter,
            "study" => ConceptKind::Study,
            "attestation" => ConceptKind::Attestation,
            "site" => ConceptKind::Site,
            _ => return Err(self.internal(&kind_pair, "concept kind")),
        };
        let name = self.expect_ident(&pair, &mut inner)?;
        let label = self
            .optional(&mut inner, Rule::string)
            .map(|p| self.string(&p));
        let value = match self.optional(&mut inner, Rule::value_spec) {
            Some(spec) => {
                let mut spec_inner = Children::of(&spec);
                let first = self.next(&spec, &mut spec_inner, "value")?;
                Some(match first.as_rule() {
                    Rule::unit_spec => {
                        let mut u = Children::of(&first);
                        let unit = self.next(&first, &mut u, "unit")?;
                        ValueSpec::Unit(UnitLit {
                            text: unit.as_str().to_string(),
                            span: self.span(&unit),
                        })
                    }
                    _ => ValueSpec::Qualitative(self.span(&first)),
                })
            }
            None => None,
        };
        let molar_mass = match self.optional(&mut inner, Rule::molar_mass) {
            Some(m) => {
                let mut m_inner = Children::of(&m);
                let value = self.number(&self.next(&m, &mut m_inner, "molar mass")?)?;
                let unit = self.next(&m, &mut m_inner, "molar mass unit")?;
                Some((
                    value,
                    UnitLit {
                        text: unit.as_str().to_string(),
                        span: self.span(&unit),
                    },
                ))
            }
            None => None,
        };
        let normal = match self.optional(&mut inner, Rule::normal_range) {
            Some(r) => {
                let mut r_inner = Children::of(&r);
                let low = self.number(&self.next(&r, &mut r_inner, "lower limit")?)?;
                let high = self.number(&self.next(&r, &mut r_inner, "upper limit")?)?;
                Some((low, high))
            }
            None => None,
        };
        let by = match self.optional(&mut inner, Rule::attested_by) {
            Some(b) => {
                let mut b_inner = Children::of(&b);
                Some(self.expect_ident(&b, &mut b_inner)?)
            }
            None => None,
        };
        let mut codes = Vec::new();
        if let Some(list) = self.optional(&mut inner, Rule::codes) {
            for code in Children::of(&list) {
                let code_span = self.span(&code);
                let mut c = Children::of(&code);
                let system = self.expect_ident(&code, &mut c)?;
                let value = self.next(&code, &mut c, "code value")?.as_str().to_string();
                codes.push(crate::ast::Code {
                    system,
                    value,
                    span: code_span,
                });
            }
        }
        Ok(ConceptDecl {
            kind,
            name,
            label,
            value,
            normal,
            molar_mass,
            by,
            codes,
            span,
        })
    }

    fn set(&self, pair: Pair<'_, Rule>) -> Result<SetDecl> {
        let span = self.span(&pair);
        let mut inner = Children::of(&pair);
        let name = self.expect_ident(&pair, &mut inner)?;
        let label = self
            .optional(&mut inner, Rule::string)
            .map(|p| self.string(&p));
        let kind_pair = self.next(&pair, &mut inner, "set kind")?;
        let kind = match kind_pair.as_str() {
            "drugs" => SetKind::Drugs,
            "conditions" => SetKind::Conditions,
            "vaccines" => SetKind::Vaccines,
            "procedures" => SetKind::Procedures,
            "encounters" => SetKind::Encounters,
            "studies" => SetKind::Studies,
            "observations" => SetKind::Observations,
            "sites" => SetKind::Sites,
            _ => return Err(self.internal(&kind_pair, "set kind")),
        };
        let members = inner.map(|p| self.ident(&p)).collect();
        Ok(SetDecl {
            name,
            label,
            kind,
            members,
            span,
        })
    }

    fn equivalence(&self, pair: Pair<'_, Rule>) -> Result<EquivalenceDecl> {
        let span = self.span(&pair);
        let mut inner = Children::of(&pair);
        let set = self.expect_ident(&pair, &mut inner)?;
        let reference = self.expect_ident(&pair, &mut inner)?;
        let mut entries = Vec::new();
        for entry in inner {
            let entry_span = self.span(&entry);
            let mut e = Children::of(&entry);
            let drug = self.expect_ident(&entry, &mut e)?;
            let factor = self.number(&self.next(&entry, &mut e, "factor")?)?;
            entries.push(EquivalenceEntry {
                drug,
                factor,
                span: entry_span,
            });
        }
        Ok(EquivalenceDecl {
            set,
            reference,
            entries,
            span,
        })
    }

    fn define(&self, pair: Pair<'_, Rule>) -> Result<DefineDecl> {
        let span = self.span(&pair);
        let mut inner = Children::of(&pair);
        let name = self.expect_ident(&pair, &mut inner)?;
        let label = self
            .optional(&mut inner, Rule::string)
            .map(|p| self.string(&p));
        let body = self.expr(self.next(&pair, &mut inner, "definition")?, 0)?;
        Ok(DefineDecl {
            name,
            label,
            body,
            span,
        })
    }

    fn criterion(&self, pair: Pair<'_, Rule>) -> Result<Criterion> {
        let mut inner = Children::of(&pair);
        let kind_pair = self.next(&pair, &mut inner, "criterion kind")?;
        let kind = match kind_pair.as_str() {
            "inclusion" => CriterionKind::Inclusion,
            _ => CriterionKind::Exclusion,
        };
        self.criterion_rest(&pair, inner, kind, 0)
    }

    fn criterion_rest<'i>(
        &self,
        pair: &Pair<'i, Rule>,
        mut inner: Children<'i>,
        kind: CriterionKind,
        depth: usize,
    ) -> Result<Criterion> {
        let span = self.span(pair);
        if depth > super::MAX_NESTING {
            return Err(Diagnostic::new(
                Code::NestingTooDeep,
                span,
                "sub-criteria are nested too deeply",
                "too deep",
            ));
        }
        let id = self.expect_ident(pair, &mut inner)?;
        let wording = self.string(&self.next(pair, &mut inner, "wording")?);
        let body_pair = self.next(pair, &mut inner, "criterion body")?;
        let mut body_inner = Children::of(&body_pair);
        let applies = match self.optional(&mut body_inner, Rule::applies) {
            Some(a) => {
                let mut a_inner = Children::of(&a);
                Some(self.expr(self.next(&a, &mut a_inner, "condition")?, 0)?)
            }
            None => None,
        };
        let quantifier = match self.optional(&mut body_inner, Rule::quantifier) {
            Some(q) => {
                let mut q_inner = Children::of(&q);
                let kind = match q_inner.next() {
                    Some(p) if p.as_rule() == Rule::all_kw => QuantifierKind::All,
                    Some(p) if p.as_rule() == Rule::any_kw => QuantifierKind::Any,
                    Some(p) if p.as_rule() == Rule::number => {
                        QuantifierKind::AtLeast(self.number(&p)?)
                    }
                    _ => return Err(self.internal(&q, "quantifier")),
                };
                Some(GroupQuantifier {
                    kind,
                    span: self.span(&q),
                })
            }
            None => None,
        };
        let body = match body_pair.as_rule() {
            Rule::group_body => {
                let mut children = Vec::new();
                for child in body_inner {
                    let child_inner = Children::of(&child);
                    children.push(self.criterion_rest(&child, child_inner, kind, depth + 1)?);
                }
                CriterionBody::Group(children)
            }
            Rule::rule_body => {
                let expr = self.expr(self.next(&body_pair, &mut body_inner, "rule")?, 0)?;
                let unless = match body_inner.next() {
                    Some(u) => {
                        let mut u_inner = Children::of(&u);
                        Some(self.expr(self.next(&u, &mut u_inner, "exception")?, 0)?)
                    }
                    None => None,
                };
                CriterionBody::Rule { expr, unless }
            }
            _ => return Err(self.internal(&body_pair, "criterion body")),
        };
        Ok(Criterion {
            kind,
            id,
            wording,
            applies,
            quantifier,
            body,
            span,
        })
    }

    fn too_deep(&self, pair: &Pair<'_, Rule>) -> Diagnostic {
        Diagnostic::new(
            Code::NestingTooDeep,
            self.span(pair),
            format!("the expression is nested more than {MAX_NOTS} deep"),
            "too deep here",
        )
        .with_help("split the expression into `define`s and refer to them by name")
    }

    /// `expr`, `and_expr`: operands separated by operator pairs, flattened.
    fn expr(&self, pair: Pair<'_, Rule>, depth: usize) -> Result<Expr> {
        if depth > super::MAX_NESTING {
            return Err(self.too_deep(&pair));
        }
        let span = self.span(&pair);
        match pair.as_rule() {
            Rule::expr | Rule::and_expr => {
                let is_or = pair.as_rule() == Rule::expr;
                let mut operands = Vec::new();
                for child in Children::of(&pair) {
                    if matches!(child.as_rule(), Rule::or_op | Rule::and_op) {
                        continue;
                    }
                    operands.push(self.expr(child, depth)?);
                }
                if operands.len() == 1 {
                    return operands
                        .pop()
                        .ok_or_else(|| self.internal(&pair, "operand"));
                }
                Ok(Expr {
                    kind: if is_or {
                        ExprKind::Or(operands)
                    } else {
                        ExprKind::And(operands)
                    },
                    span,
                })
            }
            Rule::not_expr => {
                let mut nots = Vec::new();
                let mut operand = None;
                for child in Children::of(&pair) {
                    match child.as_rule() {
                        Rule::not_op => nots.push(self.span(&child)),
                        _ => operand = Some(child),
                    }
                }
                if let Some(first) = nots.get(MAX_NOTS) {
                    return Err(Diagnostic::new(
                        Code::NestingTooDeep,
                        *first,
                        format!("more than {MAX_NOTS} `not`s in a row"),
                        "one `not` too many",
                    )
                    .with_help("two `not`s cancel out: remove them in pairs"));
                }
                let operand = operand.ok_or_else(|| self.internal(&pair, "operand"))?;
                let mut expr = self.test_expr(operand, depth)?;
                for not_span in nots.into_iter().rev() {
                    let span = not_span.to(expr.span);
                    expr = Expr {
                        kind: ExprKind::Not(Box::new(expr)),
                        span,
                    };
                }
                Ok(expr)
            }
            _ => Err(self.internal(&pair, "expression")),
        }
    }

    /// `sum`, `product`: operands separated by operators, folded to the left, so
    /// `a - b - c` is `(a - b) - c`. Each fold counts as one level of nesting (brackets
    /// count where they are lowered, as everywhere).
    fn arith(&self, pair: Pair<'_, Rule>, depth: usize) -> Result<Expr> {
        if depth > super::MAX_NESTING {
            return Err(self.too_deep(&pair));
        }
        match pair.as_rule() {
            Rule::sum | Rule::product => {
                let mut inner = Children::of(&pair);
                let first = self.next(&pair, &mut inner, "operand")?;
                let mut expr = self.arith(first, depth)?;
                let mut level = depth;
                while let Some(op_pair) = inner.next() {
                    let op = match op_pair.as_str() {
                        "+" => ArithOp::Add,
                        "-" => ArithOp::Sub,
                        "*" => ArithOp::Mul,
                        "/" => ArithOp::Div,
                        _ => return Err(self.internal(&op_pair, "arithmetic operator")),
                    };
                    level += 1;
                    if level > super::MAX_NESTING {
                        return Err(self.too_deep(&op_pair));
                    }
                    let rhs = self.arith(self.next(&pair, &mut inner, "operand")?, depth)?;
                    let span = expr.span.to(rhs.span);
                    expr = Expr {
                        kind: ExprKind::Arith {
                            op,
                            lhs: Box::new(expr),
                            rhs: Box::new(rhs),
                        },
                        span,
                    };
                }
                Ok(expr)
            }
            _ => self.operand(pair, depth),
        }
    }

    fn test_expr(&self, pair: Pair<'_, Rule>, depth: usize) -> Result<Expr> {
        let span = self.span(&pair);
        let mut inner = Children::of(&pair);
        let operand = self.arith(self.next(&pair, &mut inner, "operand")?, depth)?;
        let Some(test) = inner.next() else {
            return Ok(operand);
        };
        match test.as_rule() {
            Rule::comparison => {
                let mut c = Children::of(&test);
                let op = self.cmp_op(&self.next(&test, &mut c, "operator")?)?;
                let value_pair = self.next(&test, &mut c, "value")?;
                let rhs_span = self.span(&value_pair);
                let rhs = self.value(value_pair)?;
                Ok(Expr {
                    kind: ExprKind::Compare {
                        lhs: Box::new(operand),
                        op,
                        rhs,
                        rhs_span,
                    },
                    span,
                })
            }
            Rule::is_test => {
                let mut t = Children::of(&test);
                let negated = self.optional(&mut t, Rule::is_not).is_some();
                let word = self.next(&test, &mut t, "test")?;
                let mut w = Children::of(&word);
                let first = self.next(&word, &mut w, "test word")?;
                let test = match first.as_rule() {
                    Rule::range_test => {
                        let text = first.as_str();
                        if text.starts_with("above") {
                            IsTest::AboveNormal
                        } else if text.starts_with("below") {
                            IsTest::BelowNormal
                        } else {
                            IsTest::WithinNormal
                        }
                    }
                    _ => IsTest::Word(self.ident(&first)),
                };
                Ok(Expr {
                    kind: ExprKind::Is {
                        lhs: Box::new(operand),
                        negated,
                        test,
                    },
                    span,
                })
            }
            _ => Err(self.internal(&test, "comparison")),
        }
    }

    fn cmp_op(&self, pair: &Pair<'_, Rule>) -> Result<CmpOp> {
        Ok(match pair.as_str() {
            ">=" | "≥" => CmpOp::Ge,
            "<=" | "≤" => CmpOp::Le,
            "!=" | "≠" => CmpOp::Ne,
            ">" => CmpOp::Gt,
            "<" => CmpOp::Lt,
            "=" => CmpOp::Eq,
            _ => return Err(self.internal(pair, "comparison operator")),
        })
    }

    fn value(&self, pair: Pair<'_, Rule>) -> Result<Value> {
        match pair.as_rule() {
            Rule::ref_multiple => {
                let mut inner = Children::of(&pair);
                let factor = self.number(&self.next(&pair, &mut inner, "factor")?)?;
                let bound_pair = self.next(&pair, &mut inner, "ULN or LLN")?;
                let bound = if bound_pair.as_str().starts_with("ULN") {
                    RefBound::Uln
                } else {
                    RefBound::Lln
                };
                Ok(Value::RefMultiple { factor, bound })
            }
            Rule::ref_offset => {
                let mut inner = Children::of(&pair);
                let bound_pair = self.next(&pair, &mut inner, "ULN or LLN")?;
                let bound = if bound_pair.as_str().starts_with("ULN") {
                    RefBound::Uln
                } else {
                    RefBound::Lln
                };
                let minus = self.next(&pair, &mut inner, "+ or -")?.as_str() == "-";
                let (number, unit) = self.quantity(self.next(&pair, &mut inner, "quantity")?)?;
                Ok(Value::RefOffset {
                    bound,
                    minus,
                    number,
                    unit,
                })
            }
            Rule::duration => Ok(Value::Duration(self.duration(pair)?)),
            Rule::quantity => {
                let (number, unit) = self.quantity(pair)?;
                Ok(Value::Quantity { number, unit })
            }
            _ => Err(self.internal(&pair, "value")),
        }
    }

    fn quantity(&self, pair: Pair<'_, Rule>) -> Result<(Number, Option<UnitLit>)> {
        let mut inner = Children::of(&pair);
        let number = self.number(&self.next(&pair, &mut inner, "number")?)?;
        let unit = inner.next().map(|u| UnitLit {
            text: u.as_str().to_string(),
            span: self.span(&u),
        });
        Ok((number, unit))
    }

    fn duration(&self, pair: Pair<'_, Rule>) -> Result<Duration> {
        let span = self.span(&pair);
        let mut inner = Children::of(&pair);
        let amount = self.number(&self.next(&pair, &mut inner, "number")?)?;
        let unit_pair = self.next(&pair, &mut inner, "duration unit")?;
        let unit = match unit_pair.as_str() {
            "day" | "days" => DurationUnit::Days,
            "week" | "weeks" => DurationUnit::Weeks,
            "month" | "months" => DurationUnit::Months,
            "year" | "years" => DurationUnit::Years,
            _ => return Err(self.internal(&unit_pair, "duration unit")),
        };
        Ok(Duration { amount, unit, span })
    }

    fn operand(&self, pair: Pair<'_, Rule>, depth: usize) -> Result<Expr> {
        let span = self.span(&pair);
        let mut inner = Children::of(&pair);
        let kind = match pair.as_rule() {
            Rule::paren_expr => {
                let e = self.expr(self.next(&pair, &mut inner, "expression")?, depth + 1)?;
                // Keep the parentheses in the span so messages underline what was written.
                return Ok(Expr { kind: e.kind, span });
            }
            Rule::age_expr => ExprKind::Age(self.expect_ident(&pair, &mut inner)?),
            Rule::sex_expr => ExprKind::Sex,
            Rule::attested_expr => ExprKind::Attested(self.expect_ident(&pair, &mut inner)?),
            Rule::name_ref => ExprKind::Name(self.expect_ident(&pair, &mut inner)?),
            Rule::select_expr => {
                let mode_pair = self.next(&pair, &mut inner, "latest, any, all or no")?;
                let mode = match mode_pair.as_str() {
                    "latest" => SelectMode::Latest,
                    "earliest" => SelectMode::Earliest,
                    "average" => SelectMode::Average,
                    "any" => SelectMode::Any,
                    "all" => SelectMode::All,
                    _ => SelectMode::No,
                };
                let _ = self.optional(&mut inner, Rule::in_kw);
                let target = self.expect_ident(&pair, &mut inner)?;
                let window = self.opt_window(&mut inner)?;
                ExprKind::Select {
                    mode,
                    target,
                    window,
                }
            }
            Rule::count_expr => {
                let form = self.next(&pair, &mut inner, "count form")?;
                let mut f = Children::of(&form);
                match form.as_rule() {
                    Rule::count_distinct => {
                        let target = self.expect_ident(&form, &mut f)?;
                        let taken_for = self.opt_taken_for(&mut f)?;
                        let window = self.opt_window(&mut f)?;
                        ExprKind::CountDistinct {
                            target,
                            taken_for,
                            window,
                        }
                    }
                    Rule::count_events => ExprKind::CountEvents(self.event_query(&form, f)?),
                    Rule::count_results => {
                        let target = self.expect_ident(&form, &mut f)?;
                        let window = self.opt_window(&mut f)?;
                        ExprKind::CountResults { target, window }
                    }
                    _ => return Err(self.internal(&form, "count form")),
                }
            }
            Rule::event_expr => ExprKind::Event(self.event_query(&pair, inner)?),
            Rule::any_event_expr => ExprKind::AnyEvent(self.event_query(&pair, inner)?),
            Rule::select_event_expr => {
                let select =
                    self.event_select(&self.next(&pair, &mut inner, "first or last")?)?;
                ExprKind::SelectEvent {
                    select,
                    query: self.event_query(&pair, inner)?,
                }
            }
            Rule::dose_expr => {
                let target = self.expect_ident(&pair, &mut inner)?;
                let as_drug = match self.optional(&mut inner, Rule::dose_as) {
                    Some(a) => {
                        let mut a_inner = Children::of(&a);
                        Some(self.expect_ident(&a, &mut a_inner)?)
                    }
                    None => None,
                };
                let op = self.cmp_op(&self.next(&pair, &mut inner, "operator")?)?;
                let q = self.next(&pair, &mut inner, "dose")?;
                let threshold_span = self.span(&q);
                let (threshold, unit) = self.quantity(q)?;
                let sustained = match self.optional(&mut inner, Rule::sustained) {
                    Some(s) => {
                        let mut s_inner = Children::of(&s);
                        Some(self.duration(self.next(&s, &mut s_inner, "duration")?)?)
                    }
                    None => None,
                };
                let window = self.opt_window(&mut inner)?;
                ExprKind::Dose(DoseQuery {
                    target,
                    as_drug,
                    op,
                    threshold,
                    unit,
                    threshold_span,
                    sustained,
                    window,
                })
            }
            _ => return Err(self.internal(&pair, "operand")),
        };
        Ok(Expr { kind, span })
    }

    fn event_select(&self, pair: &Pair<'_, Rule>) -> Result<EventSelect> {
        match pair.as_str() {
            "first" => Ok(EventSelect::First),
            "last" => Ok(EventSelect::Last),
            _ => Err(self.internal(pair, "first or last")),
        }
    }

    fn event_query<'i>(
        &self,
        pair: &Pair<'i, Rule>,
        mut inner: Children<'i>,
    ) -> Result<EventQuery> {
        let kind_pair = self.next(pair, &mut inner, "event kind")?;
        let kind = match kind_pair.as_str() {
            "condition" => EventKind::Condition,
            "medication" => EventKind::Medication,
            "immunization" => EventKind::Immunization,
            "procedure" => EventKind::Procedure,
            "allergy" => EventKind::Allergy,
            "encounter" => EventKind::Encounter,
            "study" => EventKind::Study,
            family if family.starts_with("family") => EventKind::FamilyHistory,
            _ => return Err(self.internal(&kind_pair, "event kind")),
        };
        let target = if pair.as_rule() == Rule::any_event_expr {
            // `any medication ...`: the target is the word `any` that opens the query.
            let at = self.span(pair);
            Ident {
                name: "any".to_string(),
                span: Span {
                    end: at.start.saturating_add(3),
                    ..at
                },
            }
        } else {
            let _ = self.optional(&mut inner, Rule::in_kw);
            self.expect_ident(pair, &mut inner)?
        };
        let except = match self.optional(&mut inner, Rule::except_clause) {
            Some(clause) => Children::of(&clause)
                .filter(|p| p.as_rule() == Rule::value_list)
                .flat_map(|list| {
                    Children::of(&list)
                        .map(|p| self.ident(&p))
                        .collect::<Vec<_>>()
                })
                .collect(),
            None => Vec::new(),
        };
        let taken_for = self.opt_taken_for(&mut inner)?;
        let window = self.opt_window(&mut inner)?;
        let filters = match self.optional(&mut inner, Rule::where_clause) {
            Some(w) => self.where_clause(&w)?,
            None => Vec::new(),
        };
        Ok(EventQuery {
            kind,
            target,
            except,
            taken_for,
            window,
            filters,
        })
    }

    /// `where A and B`, `where A or B`, `where (A or B) and C`. Terms joined with `or` at
    /// the top level form one set of alternatives; `and` and `or` side by side without
    /// parentheses are refused, since readers take them differently.
    fn where_clause(&self, w: &Pair<'_, Rule>) -> Result<Vec<WhereTerm>> {
        let mut terms = Vec::new();
        let mut and_at = None;
        let mut or_at = None;
        for part in Children::of(w) {
            match part.as_rule() {
                Rule::and_op => and_at = and_at.or(Some(self.span(&part))),
                Rule::or_op => or_at = or_at.or(Some(self.span(&part))),
                Rule::where_any => {
                    let tests = Children::of(&part)
                        .filter(|t| t.as_rule() == Rule::attribute_test)
                        .map(|t| self.attribute_test(&t))
                        .collect::<Result<Vec<_>>>()?;
                    terms.push(WhereTerm::Any {
                        tests,
                        span: self.span(&part),
                    });
                }
                _ => terms.push(WhereTerm::Test(self.attribute_test(&part)?)),
            }
        }
        match (and_at, or_at) {
            (Some(_), Some(or)) => Err(Diagnostic::new(
                Code::OrInWhere,
                or,
                "`and` and `or` side by side in a `where` clause",
                "put the alternatives in parentheses",
            )
            .with_help(
                "write which tests go together: `where (grade >= 3 or severity is severe) and status is active`",
            )),
            (None, Some(_)) => {
                // `(A or B) or C` is `A or B or C`.
                let tests = terms
                    .into_iter()
                    .flat_map(|t| match t {
                        WhereTerm::Test(t) => vec![t],
                        WhereTerm::Any { tests, .. } => tests,
                    })
                    .collect();
                Ok(vec![WhereTerm::Any {
                    tests,
                    span: self.span(w),
                }])
            }
            _ => Ok(terms),
        }
    }

    /// `grade >= 2`, `status is not resolved`, `laterality in {left, bilateral}`.
    fn attribute_test(&self, test: &Pair<'_, Rule>) -> Result<AttributeTest> {
        let test_span = self.span(test);
        let mut t = Children::of(test);
        let attribute = self.expect_ident(test, &mut t)?;
        let next = self.next(test, &mut t, "attribute test")?;
        let check = match next.as_rule() {
            Rule::cmp_op => {
                let op = self.cmp_op(&next)?;
                AttributeCheck::Compare(op, self.number(&self.next(test, &mut t, "number")?)?)
            }
            Rule::is_not => AttributeCheck::Is {
                negated: true,
                value: self.expect_ident(test, &mut t)?,
            },
            Rule::ident => AttributeCheck::Is {
                negated: false,
                value: self.ident(&next),
            },
            _ => {
                let negated = next.as_rule() == Rule::not_op;
                if negated {
                    let _ = self.next(test, &mut t, "`in`")?;
                }
                let list = self.next(test, &mut t, "values")?;
                let values = Children::of(&list).map(|p| self.ident(&p)).collect();
                AttributeCheck::In { negated, values }
            }
        };
        Ok(AttributeTest {
            attribute,
            test: check,
            span: test_span,
        })
    }

    fn opt_taken_for(&self, inner: &mut Children<'_>) -> Result<Option<TakenFor>> {
        let Some(t) = self.optional(inner, Rule::taken_for) else {
            return Ok(None);
        };
        let span = self.span(&t);
        let mut t_inner = Children::of(&t);
        let op = self.cmp_op(&self.next(&t, &mut t_inner, "operator")?)?;
        let duration = self.duration(self.next(&t, &mut t_inner, "duration")?)?;
        Ok(Some(TakenFor { op, duration, span }))
    }

    fn opt_window(&self, inner: &mut Children<'_>) -> Result<Option<Window>> {
        match self.optional(inner, Rule::window) {
            Some(w) => Ok(Some(self.window(w)?)),
            None => Ok(None),
        }
    }

    fn direction(&self, pair: &Pair<'_, Rule>) -> Direction {
        match pair.as_str().get(..2) {
            Some("be") => Direction::Before,
            Some("af") => Direction::After,
            _ => Direction::Around,
        }
    }

    fn window(&self, pair: Pair<'_, Rule>) -> Result<Window> {
        let span = self.span(&pair);
        let mut outer = Children::of(&pair);
        let form = self.next(&pair, &mut outer, "window")?;
        let mut inner = Children::of(&form);
        let kind = match form.as_rule() {
            Rule::within_window => {
                let length = self.duration(self.next(&form, &mut inner, "duration")?)?;
                let direction = self.direction(&self.next(&form, &mut inner, "direction")?);
                let anchor = self.expect_ident(&form, &mut inner)?;
                WindowKind::Within {
                    length,
                    direction,
                    anchor,
                }
            }
            Rule::at_window => WindowKind::At(self.expect_ident(&form, &mut inner)?),
            Rule::ever_window => WindowKind::Ever,
            Rule::open_window => {
                let direction = self.direction(&self.next(&form, &mut inner, "before or after")?);
                let anchor = self.expect_ident(&form, &mut inner)?;
                WindowKind::Open { direction, anchor }
            }
            Rule::between_window => {
                let from = self.time_point(self.next(&form, &mut inner, "start")?)?;
                let to = self.time_point(self.next(&form, &mut inner, "end")?)?;
                WindowKind::Between { from, to }
            }
            _ => return Err(self.internal(&form, "window")),
        };
        Ok(Window { kind, span })
    }

    fn time_point(&self, pair: Pair<'_, Rule>) -> Result<TimePoint> {
        let span = self.span(&pair);
        let mut inner = Children::of(&pair);
        let first = self.next(&pair, &mut inner, "date")?;
        if first.as_rule() == Rule::duration {
            let duration = self.duration(first)?;
            let direction = self.direction(&self.next(&pair, &mut inner, "direction")?);
            let anchor = self.expect_ident(&pair, &mut inner)?;
            Ok(TimePoint {
                offset: Some((duration, direction)),
                anchor,
                span,
            })
        } else {
            Ok(TimePoint {
                offset: None,
                anchor: self.ident(&first),
                span,
            })
        }
    }
}
