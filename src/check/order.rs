//! The order definitions are checked in, and how far they nest once written out.
//!
//! Definitions may be declared in any order and may use one another. Checking one that uses
//! a definition not yet checked used to check that one first, recursively: a chain of a few
//! thousand definitions declared last-first overflowed the stack. Here the references are
//! followed with an explicit stack instead, cycles are reported, and the definitions are
//! checked in an order where every definition comes after the ones it uses, so checking
//! never recurses from one definition into another.
//!
//! Once checked, a definition is written out in place wherever it is used (by the
//! evaluator, explanations, `eligc diff`): [`Checker::definition_limits`] refuses a
//! condition that would then nest deeper than [`MAX_DEPTH`] or hold more than
//! [`MAX_CHECKS`] elementary checks (`elig::condition-too-complex`), so no input can exhaust
//! the stack or make screening exponential (a definition used twice by the next, and so on).

use crate::ast::{self, ExprKind};
use crate::diagnostic::{Code, Diagnostic};
use crate::program::{Cond, CondKind, Criterion, CriterionBody, Definition};

use super::{Checker, DefState, Symbol};

/// How deep a condition may nest once the definitions it uses are written out: each `and`,
/// `or`, `not` and each use of a definition is one level.
pub const MAX_DEPTH: u32 = 256;

/// How many elementary checks (`latest egfr ... >= 30`, `attested consent`, ...) a
/// criterion or definition may stand for once the definitions it uses are written out.
pub const MAX_CHECKS: u64 = 100_000;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mark {
    New,
    Open,
    Done,
}

/// Names an expression refers to, left to right (the order the checker resolves them in).
fn names<'e>(e: &'e ast::Expr, out: &mut Vec<&'e ast::Ident>) {
    match &e.kind {
        ExprKind::And(items) | ExprKind::Or(items) => {
            for item in items {
                names(item, out);
            }
        }
        ExprKind::Not(inner) => names(inner, out),
        ExprKind::Compare { lhs, .. } | ExprKind::Is { lhs, .. } => names(lhs, out),
        ExprKind::Arith { lhs, rhs, .. } => {
            names(lhs, out);
            names(rhs, out);
        }
        ExprKind::Name(name) => out.push(name),
        ExprKind::Attested(_)
        | ExprKind::Age(_)
        | ExprKind::Sex
        | ExprKind::Select { .. }
        | ExprKind::CountResults { .. }
        | ExprKind::CountDistinct { .. }
        | ExprKind::CountEvents(_)
        | ExprKind::Event(_)
        | ExprKind::AnyEvent(_)
        | ExprKind::SelectEvent { .. }
        | ExprKind::Dose(_) => {}
    }
}

impl Checker<'_> {
    /// Checks every definition, each after the ones it uses; cycles are reported first and
    /// their members fail.
    pub(super) fn check_definitions(&mut self) {
        let uses: Vec<Vec<usize>> = self
            .defines
            .iter()
            .map(|d| {
                let mut found = Vec::new();
                names(&d.decl.body, &mut found);
                found
                    .iter()
                    .filter_map(|n| match self.names.get(&n.name) {
                        Some((Symbol::Define(j), _)) => Some(*j),
                        _ => None,
                    })
                    .collect()
            })
            .collect();
        // Depth-first, with an explicit stack: (definition, next use to follow).
        let mut mark = vec![Mark::New; uses.len()];
        let mut cyclic = vec![false; uses.len()];
        let mut order = Vec::with_capacity(uses.len());
        for root in 0..uses.len() {
            if mark.get(root) != Some(&Mark::New) {
                continue;
            }
            let mut stack = vec![(root, 0usize)];
            if let Some(m) = mark.get_mut(root) {
                *m = Mark::Open;
            }
            while let Some((node, next)) = stack.last_mut() {
                let node = *node;
                let Some(&used) = uses.get(node).and_then(|u| u.get(*next)) else {
                    if let Some(m) = mark.get_mut(node) {
                        *m = Mark::Done;
                    }
                    order.push(node);
                    stack.pop();
                    continue;
                };
                *next += 1;
                match mark.get(used) {
                    Some(Mark::New) => {
                        if let Some(m) = mark.get_mut(used) {
                            *m = Mark::Open;
                        }
                        stack.push((used, 0));
                    }
                    Some(Mark::Open) if !cyclic.get(used).copied().unwrap_or(true) => {
                        let from = stack.iter().position(|(d, _)| *d == used).unwrap_or(0);
                        let chain: Vec<usize> = stack
                            .get(from..)
                            .unwrap_or(&[])
                            .iter()
                            .map(|(d, _)| *d)
                            .collect();
                        self.report_define_cycle(&chain, used);
                        if let Some(c) = cyclic.get_mut(used) {
                            *c = true;
                        }
                    }
                    _ => {}
                }
            }
        }
        for (entry, cyclic) in self.defines.iter_mut().zip(&cyclic) {
            if *cyclic {
                entry.state = DefState::Failed;
            }
        }
        for i in order {
            if cyclic.get(i).copied().unwrap_or(false) {
                self.check_cyclic_define(i);
            } else {
                self.check_define(i);
            }
        }
    }

    /// Refuses definitions and criteria that nest too deep or stand for too many checks
    /// once their definitions are written out. `definitions` are in the order they were
    /// checked, so each only uses earlier ones.
    pub(super) fn definition_limits(&mut self, definitions: &[Definition], criteria: &[Criterion]) {
        // (depth, checks) of each definition written out; `None` once it has been refused.
        let mut sizes: Vec<Option<(u32, u64)>> = Vec::with_capacity(definitions.len());
        for def in definitions {
            let size = measure(&def.cond, &sizes);
            if let Some((depth, checks)) = size {
                if depth > MAX_DEPTH || checks > MAX_CHECKS {
                    self.too_complex(def.span, &format!("the definition `{}`", def.name), depth);
                    sizes.push(None);
                    continue;
                }
            }
            sizes.push(size);
        }
        let mut pending: Vec<&Criterion> = criteria.iter().collect();
        while let Some(c) = pending.pop() {
            let mut conds: Vec<&Cond> = c.applies.iter().collect();
            match &c.body {
                CriterionBody::Rule { cond, unless } => {
                    conds.push(cond);
                    conds.extend(unless.iter());
                }
                CriterionBody::Group(children) => pending.extend(children.iter()),
            }
            for cond in conds {
                if let Some((depth, checks)) = measure(cond, &sizes) {
                    if depth > MAX_DEPTH || checks > MAX_CHECKS {
                        self.too_complex(cond.span, &format!("criterion {}", c.id), depth);
                    }
                }
            }
        }
    }

    fn too_complex(&mut self, span: crate::source::Span, what: &str, depth: u32) {
        let message = if depth > MAX_DEPTH {
            format!(
                "{what} nests {depth} levels deep once the definitions it uses are written out; at most {MAX_DEPTH} are allowed"
            )
        } else {
            format!(
                "{what} stands for more than {MAX_CHECKS} elementary checks once the definitions it uses are written out"
            )
        };
        self.error(
            Diagnostic::new(Code::ConditionTooComplex, span, message, "too complex")
                .with_help("use fewer layers of definitions, or build each on the checks it needs rather than on other definitions"),
        );
    }
}

/// Depth and number of elementary checks of a condition with its definitions written out,
/// from the sizes of the definitions it uses; `None` when it uses one that was refused.
/// Recursion here follows one condition's own nesting, which the parser bounds.
fn measure(c: &Cond, sizes: &[Option<(u32, u64)>]) -> Option<(u32, u64)> {
    match &c.kind {
        CondKind::And(items) | CondKind::Or(items) => {
            let mut depth = 0u32;
            let mut checks = 0u64;
            for item in items {
                let (d, n) = measure(item, sizes)?;
                depth = depth.max(d);
                checks = checks.saturating_add(n);
            }
            Some((depth.saturating_add(1), checks))
        }
        CondKind::Not(inner) => measure(inner, sizes).map(|(d, n)| (d.saturating_add(1), n)),
        CondKind::Define(id) => sizes
            .get(id.0 as usize)
            .copied()
            .flatten()
            .map(|(d, n)| (d.saturating_add(1), n)),
        CondKind::Attested(_)
        | CondKind::SexIs(_)
        | CondKind::Age { .. }
        | CondKind::Observation { .. }
        | CondKind::Arithmetic { .. }
        | CondKind::CountResults { .. }
        | CondKind::Event(_)
        | CondKind::SelectEvent { .. }
        | CondKind::CountEvents { .. }
        | CondKind::CountDistinct { .. }
        | CondKind::Dose(_) => Some((1, 1)),
    }
}
