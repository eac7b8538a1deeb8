#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)] // tests fail by panicking
//! Numbers are decimal, not binary floating point: thresholds hold exactly at their boundary.

use std::cmp::Ordering;
use std::str::FromStr;

use eligc::ast::RefBound;
use eligc::program::{ReferenceRange, Threshold};
use eligc::units::parse_unit;
use rust_decimal::Decimal;

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

#[test]
fn a_result_of_1_8_with_uln_1_2_is_exactly_1_5_times_uln() {
    // In binary floating point 1.5 * 1.2 = 1.7999999999999998, and 1.8 <= that is false.
    let threshold = Threshold::RefMultiple {
        factor: dec("1.5"),
        bound: RefBound::Uln,
    };
    let range = ReferenceRange {
        low: None,
        high: Some(dec("1.2")),
    };
    let unit = parse_unit("mg/dL").unwrap();
    assert_eq!(
        threshold.order(dec("1.8"), &unit, &range, None),
        Ok(Ordering::Equal)
    );
}

#[test]
fn a_threshold_in_another_unit_compares_exactly_at_the_boundary() {
    // 30 mL/min/1.73m2 is exactly 0.5 mL/s/1.73m2.
    let threshold = Threshold::Quantity {
        value: dec("30"),
        unit: parse_unit("mL/min/1.73m2").unwrap(),
    };
    let unit = parse_unit("mL/s/{1.73_m2}").unwrap();
    assert_eq!(
        threshold.order(dec("0.5"), &unit, &ReferenceRange::default(), None),
        Ok(Ordering::Equal)
    );
    assert_eq!(
        threshold.order(dec("0.49"), &unit, &ReferenceRange::default(), None),
        Ok(Ordering::Less)
    );
}

#[test]
fn a_result_in_an_incommensurable_unit_cannot_be_compared() {
    let threshold = Threshold::Quantity {
        value: dec("30"),
        unit: parse_unit("mL/min/1.73m2").unwrap(),
    };
    let unit = parse_unit("mg/dL").unwrap();
    assert!(
        threshold
            .order(dec("30"), &unit, &ReferenceRange::default(), None)
            .is_err()
    );
}

#[test]
fn times_uln_without_an_upper_limit_cannot_be_compared() {
    let threshold = Threshold::RefMultiple {
        factor: dec("3"),
        bound: RefBound::Uln,
    };
    let unit = parse_unit("U/L").unwrap();
    assert!(
        threshold
            .order(
                dec("40"),
                &unit,
                &ReferenceRange {
                    low: Some(dec("5")),
                    high: None
                },
                None
            )
            .is_err()
    );
}
