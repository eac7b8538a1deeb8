#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)] // tests fail by panicking
//! Calendar arithmetic as documented in docs/language.md: months clamp at month end, years
//! are 12 months, whole units are counted by that rule.

use chrono::NaiveDate;
use eligc::ast::{Direction, DurationUnit};
use eligc::eval::time::{lasts, shift, whole_units};
use eligc::program::Dur;

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn months(n: u32) -> Dur {
    Dur {
        amount: n,
        unit: DurationUnit::Months,
    }
}

#[test]
fn one_month_after_31_january_is_the_end_of_february() {
    assert_eq!(
        shift(d("2025-01-31"), months(1), Direction::After),
        Some(d("2025-02-28"))
    );
    assert_eq!(
        shift(d("2024-01-31"), months(1), Direction::After),
        Some(d("2024-02-29"))
    );
}

#[test]
fn one_month_before_31_march_is_the_end_of_february() {
    assert_eq!(
        shift(d("2026-03-31"), months(1), Direction::Before),
        Some(d("2026-02-28"))
    );
    assert_eq!(
        shift(d("2024-03-31"), months(1), Direction::Before),
        Some(d("2024-02-29"))
    );
}

#[test]
fn a_year_after_29_february_is_28_february() {
    let year = Dur {
        amount: 1,
        unit: DurationUnit::Years,
    };
    assert_eq!(
        shift(d("2024-02-29"), year, Direction::After),
        Some(d("2025-02-28"))
    );
}

#[test]
fn four_weeks_are_28_days() {
    let weeks = Dur {
        amount: 4,
        unit: DurationUnit::Weeks,
    };
    assert_eq!(
        shift(d("2026-03-31"), weeks, Direction::Before),
        Some(d("2026-03-03"))
    );
}

#[test]
fn a_child_turns_5_on_the_fifth_birthday_not_the_day_before() {
    assert_eq!(
        whole_units(d("2021-03-31"), d("2026-03-31"), DurationUnit::Years),
        Some(5)
    );
    assert_eq!(
        whole_units(d("2021-04-01"), d("2026-03-31"), DurationUnit::Years),
        Some(4)
    );
}

#[test]
fn a_29_february_birthday_is_reached_on_28_february_in_common_years() {
    assert_eq!(
        whole_units(d("2020-02-29"), d("2025-02-28"), DurationUnit::Years),
        Some(5)
    );
    assert_eq!(
        whole_units(d("2020-02-29"), d("2025-02-27"), DurationUnit::Years),
        Some(4)
    );
    assert_eq!(
        whole_units(d("2020-02-29"), d("2024-02-29"), DurationUnit::Years),
        Some(4)
    );
}

#[test]
fn whole_months_count_calendar_months() {
    assert_eq!(
        whole_units(d("2026-01-31"), d("2026-02-28"), DurationUnit::Months),
        Some(1)
    );
    assert_eq!(
        whole_units(d("2026-01-15"), d("2026-02-14"), DurationUnit::Months),
        Some(0)
    );
    assert_eq!(
        whole_units(d("2026-03-31"), d("2026-01-31"), DurationUnit::Months),
        Some(-2)
    );
}

#[test]
fn three_months_from_1_january_end_on_31_march() {
    assert!(lasts(d("2026-01-01"), d("2026-03-31"), months(3)));
    assert!(!lasts(d("2026-01-01"), d("2026-03-30"), months(3)));
}

#[test]
fn shifting_past_the_end_of_the_calendar_is_none_not_a_panic() {
    let huge = Dur {
        amount: 100_000,
        unit: DurationUnit::Years,
    };
    assert_eq!(shift(NaiveDate::MAX, huge, Direction::After), None);
    assert_eq!(shift(NaiveDate::MIN, huge, Direction::Before), None);
}
