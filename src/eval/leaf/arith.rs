//! Arithmetic between single results (`latest hb ... - earliest hb ...`): each result is
//! taken into the coherent base unit of its dimension by its exact unit factor, the
//! computation is carried as a fraction of two decimals (so `1 / 3` is never rounded), and
//! the fraction is compared with the threshold by cross-multiplication. A missing result, a
//! result that is a bound (`< 5`), a unit that does not convert, a zero divisor or an
//! overflow make the value unknown, never false.

use std::cmp::Ordering;

use rust_decimal::Decimal;

use super::{Ctx, Outcome, pick};
use crate::ast::{ArithOp, CmpOp, SelectMode};
use crate::eval::logic::Truth;
use crate::program::{Arith, ConceptId, Window};
use crate::units::Unit;

const TOO_LARGE: &str = "the numbers are too large to compute exactly";

/// `num / den` in base units, `den > 0`.
#[derive(Clone, Copy, Debug)]
struct Fraction {
    num: Decimal,
    den: Decimal,
}

fn mul(a: Decimal, b: Decimal) -> Result<Decimal, String> {
    a.checked_mul(b).ok_or_else(|| TOO_LARGE.to_string())
}

/// A unit's exact factor to base units, as decimals.
fn factor(unit: &Unit) -> Result<(Decimal, Decimal), String> {
    let (n, d) = unit.factor();
    let dec = |x: u128| {
        i128::try_from(x)
            .ok()
            .and_then(|x| Decimal::try_from_i128_with_scale(x, 0).ok())
    };
    match (dec(n), dec(d)) {
        (Some(n), Some(d)) => Ok((n, d)),
        _ => Err(TOO_LARGE.to_string()),
    }
}

impl Fraction {
    fn of(value: Decimal, unit: &Unit) -> Result<Fraction, String> {
        let (n, d) = factor(unit)?;
        Ok(Fraction {
            num: mul(value, n)?,
            den: d,
        })
    }

    /// `None` when dividing by zero.
    fn combine(self, op: ArithOp, o: Fraction) -> Result<Option<Fraction>, String> {
        let cross = |sum: fn(Decimal, Decimal) -> Option<Decimal>| -> Result<Fraction, String> {
            let num = sum(mul(self.num, o.den)?, mul(o.num, self.den)?)
                .ok_or_else(|| TOO_LARGE.to_string())?;
            Ok(Fraction {
                num,
                den: mul(self.den, o.den)?,
            })
        };
        let same = |sum: fn(Decimal, Decimal) -> Option<Decimal>| -> Result<Fraction, String> {
            Ok(Fraction {
                num: sum(self.num, o.num).ok_or_else(|| TOO_LARGE.to_string())?,
                den: self.den,
            })
        };
        let f = match op {
            // Results in units of one kind share a denominator: keep it, so that summing
            // many results does not multiply denominators.
            ArithOp::Add if self.den == o.den => same(Decimal::checked_add)?,
            ArithOp::Sub if self.den == o.den => same(Decimal::checked_sub)?,
            ArithOp::Add => cross(Decimal::checked_add)?,
            ArithOp::Sub => cross(Decimal::checked_sub)?,
            ArithOp::Mul => Fraction {
                num: mul(self.num, o.num)?,
                den: mul(self.den, o.den)?,
            },
            ArithOp::Div => {
                if o.num.is_zero() {
                    return Ok(None);
                }
                Fraction {
                    num: mul(self.num, o.den)?,
                    den: mul(self.den, o.num)?,
                }
            }
        };
        let f = if f.den.is_sign_negative() {
            Fraction {
                num: -f.num,
                den: -f.den,
            }
        } else {
            f
        };
        Ok(Some(f.reduced()))
    }

    /// In lowest terms when both parts are whole numbers (the usual case: unit factors are
    /// whole), so that a chain of operations stays small.
    fn reduced(self) -> Fraction {
        let whole = |d: Decimal| {
            let d = d.normalize();
            (d.scale() == 0).then(|| d.mantissa())
        };
        let (Some(n), Some(d)) = (whole(self.num), whole(self.den)) else {
            return self;
        };
        let (mut a, mut b) = (n.unsigned_abs(), d.unsigned_abs());
        while b != 0 {
            (a, b) = (b, a % b);
        }
        if a <= 1 {
            return self;
        }
        let g = i128::try_from(a).ok();
        let parts = g.and_then(|g| {
            let n = Decimal::try_from_i128_with_scale(n.checked_div(g)?, 0).ok()?;
            let d = Decimal::try_from_i128_with_scale(d.checked_div(g)?, 0).ok()?;
            Some((n, d))
        });
        match parts {
            Some((num, den)) => Fraction { num, den },
            None => self,
        }
    }

    /// Orders the fraction against `value` in `unit`, exactly.
    fn order(self, value: Decimal, unit: &Unit) -> Result<Ordering, String> {
        let (n, d) = factor(unit)?;
        // num/den vs value·n/d  ⇔  num·d vs value·n·den (den, d > 0).
        Ok(mul(self.num, d)?.cmp(&mul(mul(value, n)?, self.den)?))
    }

    /// The value in `unit`, for explanations, and whether it is exact.
    fn shown_in(self, unit: &Unit) -> Option<(Decimal, bool)> {
        let (n, d) = factor(unit).ok()?;
        let top = self.num.checked_mul(d)?;
        let bottom = self.den.checked_mul(n)?;
        let v = top.checked_div(bottom)?;
        // A quotient that filled every digit was rounded, even if it multiplies back.
        let exact = v.scale() < 28 && v.checked_mul(bottom) == Some(top);
        Some((v, exact))
    }
}

impl Ctx<'_> {
    /// A computed value compared with `threshold` `unit`.
    pub(super) fn arithmetic(
        &self,
        value: &Arith,
        op: CmpOp,
        threshold: Decimal,
        unit: &Unit,
        explain: bool,
    ) -> Outcome {
        let mut shown = Vec::new();
        let computed = self.compute(value, explain, &mut shown);
        let facts = shown.join("; ");
        let x = match computed {
            Ok(x) => x,
            Err(reason) if facts.is_empty() => return (Truth::Unknown, say!(explain, "{reason}")),
            Err(reason) => return (Truth::Unknown, say!(explain, "{facts}: {reason}")),
        };
        let word = match value {
            Arith::Binary { op, .. } => op.result_word(),
            Arith::Result {
                mode: SelectMode::Average,
                ..
            } => "average",
            Arith::Result { .. } => "value",
        };
        match x.order(threshold, unit) {
            Ok(ord) => {
                let figure = x
                    .shown_in(unit)
                    .map(|(v, exact)| {
                        let text =
                            super::super::figure::equals(v, exact, self.plan.reading, &[threshold]);
                        let unit_text = if unit.is_unity() {
                            String::new()
                        } else {
                            format!(" {}", unit.text())
                        };
                        format!(" {text}{unit_text}")
                    })
                    .unwrap_or_default();
                (
                    Truth::from_bool(op.holds(ord)),
                    say!(explain, "{facts}: {word}{figure}"),
                )
            }
            Err(reason) => (Truth::Unknown, say!(explain, "{facts}: {reason}")),
        }
    }

    /// Computes `a`, noting each result used; every operand is looked at, so that an
    /// explanation names all that is missing, not only the first.
    fn compute(
        &self,
        a: &Arith,
        explain: bool,
        shown: &mut Vec<String>,
    ) -> Result<Fraction, String> {
        match a {
            Arith::Result {
                mode,
                concept,
                window,
            } => self.operand(*mode, *concept, window, explain, shown),
            Arith::Binary { op, lhs, rhs } => {
                let l = self.compute(lhs, explain, shown);
                let r = self.compute(rhs, explain, shown);
                let (l, r) = match (l, r) {
                    (Ok(l), Ok(r)) => (l, r),
                    (Err(a), Err(b)) if a != b => return Err(format!("{a}; {b}")),
                    (Err(e), _) | (_, Err(e)) => return Err(e),
                };
                l.combine(*op, r)?
                    .ok_or_else(|| "the divisor is zero, so the ratio is undefined".to_string())
            }
        }
    }

    /// One result (or the average of the results), in base units.
    fn operand(
        &self,
        mode: SelectMode,
        concept: ConceptId,
        window: &Window,
        explain: bool,
        shown: &mut Vec<String>,
    ) -> Result<Fraction, String> {
        let c = self.concept(concept).ok_or_else(String::new)?;
        let label = c.label.as_str();
        let obs = self
            .facts
            .observations
            .as_ref()
            .ok_or_else(|| "no observations recorded".to_string())?;
        let span = self.span(window)?;
        let inside = || {
            crate::eval::facts::of_concept(obs, concept)
                .iter()
                .map(|(_, o)| *o)
                .filter(|o| span.contains(o.date))
        };
        let none = || format!("no {label} result {}", span.describe());
        if mode != SelectMode::Average {
            let o = pick(mode, inside(), |o| o.date).ok_or_else(none)?;
            return self.one(c, o, mode.keyword(), explain, shown);
        }
        // The mean: every result counts, so one that cannot be computed with makes it unknown.
        let mut sum: Option<Fraction> = None;
        let mut n: u32 = 0;
        for o in inside() {
            let x = self.one(c, o, "", explain, shown)?;
            sum = Some(match sum {
                None => x,
                Some(s) => s.combine(ArithOp::Add, x)?.ok_or_else(String::new)?,
            });
            n = n.saturating_add(1);
        }
        let sum = sum.ok_or_else(none)?;
        let count = Fraction {
            num: Decimal::from(n),
            den: Decimal::ONE,
        };
        let mean = sum.combine(ArithOp::Div, count)?.ok_or_else(none)?;
        if explain {
            shown.push(format!(
                "the average of {n} {label} result{} {}",
                if n == 1 { "" } else { "s" },
                span.describe()
            ));
        }
        Ok(mean)
    }

    /// One result in base units, noted (`which` says which it is: `latest`, ...).
    fn one(
        &self,
        c: &crate::program::Concept,
        o: &crate::facts::native::ObservationRecord,
        which: &str,
        explain: bool,
        shown: &mut Vec<String>,
    ) -> Result<Fraction, String> {
        let label = c.label.as_str();
        let at = format!(
            " on {}{}",
            o.date,
            o.id.as_deref()
                .map(|i| format!(" [{i}]"))
                .unwrap_or_default()
        );
        let (value, unit) = self.quantity(c, o).map_err(|e| format!("{e}{at}"))?;
        if explain {
            let which = if which.is_empty() {
                String::new()
            } else {
                format!("{which} ")
            };
            shown.push(format!(
                "{which}{label} {}{value} {}{at}",
                o.comparator.as_deref().unwrap_or(""),
                unit.text()
            ));
        }
        if let Some(bound) = o.comparator.as_deref() {
            return Err(format!(
                "{label} {bound}{value} is a bound, not a value to compute with"
            ));
        }
        let convertible = c.unit.as_ref().is_none_or(|own| unit.is_commensurable(own));
        if unit.is_affine() || !convertible {
            let own = c.unit.as_ref().map_or("", |u| u.text());
            return Err(format!(
                "{label} {value} is in `{}`, which cannot be converted to `{own}` to compute with",
                unit.text()
            ));
        }
        Fraction::of(value, &unit)
    }
}
