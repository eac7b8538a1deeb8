//! Numbers that eligc computes for an explanation (a converted value, a multiple of the
//! upper limit, a dose equivalent): exact in JSON; in text rounded for reading to three
//! significant digits, but never so far that a value seems to land on, or cross, the
//! boundary it is compared with (2.9996 x ULN against a limit of 3 is shown as 2.9996, not
//! 3.00).

use rust_decimal::Decimal;

/// Significant digits kept when rounding for reading.
const READING_DIGITS: u32 = 3;

/// `value` as text for `= value` or `≈ value`: the sign says whether the text is exact;
/// `= exactly value` when it equals a boundary.
/// `exact` says whether `value` itself is exact (a conversion may already be rounded to
/// 28 digits). With `reading`, rounded so that its order against every boundary is kept.
pub(super) fn equals(value: Decimal, exact: bool, reading: bool, boundaries: &[Decimal]) -> String {
    let shown = if reading {
        for_reading(value, boundaries)
    } else {
        value.normalize()
    };
    if exact && boundaries.contains(&value) {
        // On the boundary: said in words, since that is where the operator decides.
        return format!("= exactly {shown}");
    }
    let sign = if exact && shown == value { "=" } else { "≈" };
    format!("{sign} {shown}")
}

/// `value` rounded to three significant digits (never inside its integer part), with more
/// digits while the rounded value compares differently with any boundary than the exact one.
pub(super) fn for_reading(value: Decimal, boundaries: &[Decimal]) -> Decimal {
    let value = value.normalize();
    let mut dp = first_places(value);
    while dp < value.scale() {
        let rounded = value.round_dp(dp);
        let keeps_order = boundaries.iter().all(|b| rounded.cmp(b) == value.cmp(b));
        if keeps_order {
            return rounded.normalize();
        }
        dp += 1;
    }
    value
}

/// Decimal places giving three significant digits: 0 for 123.4, 2 for 1.234, 4 for 0.01234.
fn first_places(value: Decimal) -> u32 {
    let abs = value.abs();
    if abs >= Decimal::ONE {
        let int_digits = abs.trunc().to_string().len();
        READING_DIGITS.saturating_sub(u32::try_from(int_digits).unwrap_or(u32::MAX))
    } else if abs.is_zero() {
        0
    } else {
        // Leading zeros after the point, then the significant digits.
        let mut zeros = 0;
        let mut scaled = abs;
        while scaled < Decimal::new(1, 1) && zeros < 28 {
            scaled *= Decimal::TEN;
            zeros += 1;
        }
        zeros + READING_DIGITS
    }
}
