//! Calendar arithmetic, checked: chrono's plain `+` panics out of range. Months are calendar
//! months, clamped at the end of the month (31 Jan + 1 month = 28/29 Feb); a year is 12 months.

use chrono::{Days, Months, NaiveDate};

use crate::ast::{Direction, DurationUnit};
use crate::program::{Dur, TimePoint, Window};

/// `date` moved by `dur` in `direction` (`Around` is treated as after). None out of range.
pub fn shift(date: NaiveDate, dur: Dur, direction: Direction) -> Option<NaiveDate> {
    let n = dur.amount;
    let back = direction == Direction::Before;
    match dur.unit {
        DurationUnit::Days | DurationUnit::Weeks => {
            let days = if dur.unit == DurationUnit::Weeks {
                u64::from(n) * 7
            } else {
                u64::from(n)
            };
            if back {
                date.checked_sub_days(Days::new(days))
            } else {
                date.checked_add_days(Days::new(days))
            }
        }
        DurationUnit::Months | DurationUnit::Years => {
            let months = if dur.unit == DurationUnit::Years {
                n.checked_mul(12)?
            } else {
                n
            };
            if back {
                date.checked_sub_months(Months::new(months))
            } else {
                date.checked_add_months(Months::new(months))
            }
        }
    }
}

/// The day after.
pub fn next_day(date: NaiveDate) -> Option<NaiveDate> {
    date.checked_add_days(Days::new(1))
}

/// Whole units completed from `from` to `to` (negative if `to` is earlier): the largest n
/// with `from + n units <= to`, by the month rule.
pub fn whole_units(from: NaiveDate, to: NaiveDate, unit: DurationUnit) -> Option<i64> {
    use chrono::Datelike;
    match unit {
        DurationUnit::Days => Some(to.signed_duration_since(from).num_days()),
        // A difference of two dates never overflows (unlike adding to a date).
        DurationUnit::Weeks => Some(to.signed_duration_since(from).num_days().div_euclid(7)),
        DurationUnit::Months | DurationUnit::Years => {
            let mut months = i64::from(to.year() - from.year()) * 12 + i64::from(to.month())
                - i64::from(from.month());
            // Adjust by at most one in either direction until from + months <= to < from + months + 1.
            let add = |m: i64| -> Option<NaiveDate> {
                if m >= 0 {
                    from.checked_add_months(Months::new(u32::try_from(m).ok()?))
                } else {
                    from.checked_sub_months(Months::new(u32::try_from(-m).ok()?))
                }
            };
            if add(months)? > to {
                months -= 1;
            }
            if unit == DurationUnit::Years {
                Some(months.div_euclid(12))
            } else {
                Some(months)
            }
        }
    }
}

/// Whether a run of days from `start` to `end` (inclusive) lasts at least `dur`.
pub fn lasts(start: NaiveDate, end: NaiveDate, dur: Dur) -> bool {
    match (shift(start, dur, Direction::After), next_day(end)) {
        (Some(reached), Some(after_end)) => reached <= after_end,
        // Past the end of the calendar: only an unbounded run gets there.
        (None, _) => false,
        (Some(_), None) => true,
    }
}

/// A window resolved to dates for one patient; `None` ends are unbounded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    /// First day, inclusive.
    pub from: Option<NaiveDate>,
    /// Last day, inclusive.
    pub to: Option<NaiveDate>,
}

impl Span {
    /// No date at all: a window counted from an event the record does not have.
    pub const EMPTY: Span = Span {
        from: Some(NaiveDate::MAX),
        to: Some(NaiveDate::MIN),
    };

    /// Whether no date is inside.
    pub fn is_empty(&self) -> bool {
        matches!((self.from, self.to), (Some(f), Some(t)) if f > t)
    }

    /// Whether a date is inside.
    pub fn contains(&self, date: NaiveDate) -> bool {
        self.from.is_none_or(|f| f <= date) && self.to.is_none_or(|t| date <= t)
    }

    /// Whether a period (end `None` = ongoing) overlaps the window.
    pub fn overlaps(&self, start: NaiveDate, end: Option<NaiveDate>) -> bool {
        self.to.is_none_or(|t| start <= t)
            && match (self.from, end) {
                (Some(f), Some(e)) => e >= f,
                _ => true,
            }
    }

    /// "from 2025-12-16 to 2026-01-15", "on 2026-01-15", "any date".
    pub fn describe(&self) -> String {
        if self.is_empty() {
            return "in no window (the event it is counted from is not in the record)".to_string();
        }
        match (self.from, self.to) {
            (None, None) => "at any date".to_string(),
            (Some(f), Some(t)) if f == t => format!("on {f}"),
            (Some(f), Some(t)) => format!("from {f} to {t}"),
            (Some(f), None) => format!("from {f} on"),
            (None, Some(t)) => format!("up to {t}"),
        }
    }
}

/// Why a window could not be placed in time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WindowError {
    /// The record does not give this anchor's date.
    MissingAnchor(String),
    /// The arithmetic left the calendar.
    OutOfRange,
    /// An anchor taken from the record's events, and the record certainly has no such event:
    /// the window is empty.
    NoEvent,
    /// An anchor taken from the record's events whose date the record does not settle.
    UnknownEvent(String),
}

/// Resolves a window against a patient's anchor dates (`anchor_date` looks one up). A window
/// counted from an event the record does not have is empty.
pub fn resolve(
    window: &Window,
    anchor_date: &dyn Fn(crate::program::AnchorId) -> Result<NaiveDate, WindowError>,
) -> Result<Span, WindowError> {
    match resolve_dates(window, anchor_date) {
        Err(WindowError::NoEvent) => Ok(Span::EMPTY),
        other => other,
    }
}

fn resolve_dates(
    window: &Window,
    anchor_date: &dyn Fn(crate::program::AnchorId) -> Result<NaiveDate, WindowError>,
) -> Result<Span, WindowError> {
    let point = |p: &TimePoint| -> Result<NaiveDate, WindowError> {
        let base = anchor_date(p.anchor)?;
        match p.offset {
            None => Ok(base),
            Some((dur, dir)) => shift(base, dur, dir).ok_or(WindowError::OutOfRange),
        }
    };
    match window {
        Window::Ever => Ok(Span {
            from: None,
            to: None,
        }),
        Window::At(a) => {
            let d = anchor_date(*a)?;
            Ok(Span {
                from: Some(d),
                to: Some(d),
            })
        }
        Window::Range { from, to } => Ok(Span {
            from: from.as_ref().map(point).transpose()?,
            to: to.as_ref().map(point).transpose()?,
        }),
    }
}
