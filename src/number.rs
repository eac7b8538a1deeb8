//! Exact decimal numbers from text: the one reader for numbers in protocols and in patient
//! data (native and FHIR), so that a number is either kept exactly or refused, never rounded.
//!
//! `rust_decimal`'s own `from_str` rounds beyond 28 significant digits (so
//! `29.99999999999999999999999999999` became 30 and met `>= 30`) and accepts `_` between
//! digits (`"7_1"` was 71). [`parse`] accepts JSON's number syntax only and refuses what a
//! [`Decimal`] cannot hold exactly.

use rust_decimal::Decimal;

/// The most significant digits a number may have.
pub const MAX_DIGITS: usize = 28;

/// Why a text is not an exact decimal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NumberError {
    /// Not written as a number (`7_1`, `1.`, `.5`, `+3`, ` 3`).
    Syntax,
    /// More significant digits than [`MAX_DIGITS`], or too large or too small to hold
    /// exactly: it would have been rounded.
    Precision,
}

impl std::fmt::Display for NumberError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NumberError::Syntax => {
                write!(
                    f,
                    "not a number (write digits, e.g. `71`, `0.6` or `4.5e1`)"
                )
            }
            NumberError::Precision => write!(
                f,
                "more than {MAX_DIGITS} significant digits, or too large or too small: eligc would have to round it"
            ),
        }
    }
}

impl std::error::Error for NumberError {}

/// Reads `text`, written as a JSON number (`-12`, `0.5`, `4.5e1`; no `+`, no spaces, no
/// `_`), as an exact decimal. Trailing zeros of the fraction are kept when they fit
/// (`1.50` stays `1.50`), and dropped when only they make it too long.
pub fn parse(text: &str) -> Result<Decimal, NumberError> {
    if let Some(d) = plain(text) {
        return Ok(d);
    }
    let bytes = text.as_bytes();
    let mut i = 0;
    let negative = bytes.first() == Some(&b'-');
    if negative {
        i += 1;
    }
    let int_start = i;
    while bytes.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    let int_digits = text.get(int_start..i).ok_or(NumberError::Syntax)?;
    // Leading zeros (`05`) are harmless; JSON's own parser refuses them in patient data.
    if int_digits.is_empty() {
        return Err(NumberError::Syntax);
    }
    let mut frac_digits = "";
    if bytes.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        frac_digits = text.get(start..i).ok_or(NumberError::Syntax)?;
        if frac_digits.is_empty() {
            return Err(NumberError::Syntax);
        }
    }
    let mut exponent: i64 = 0;
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        i += 1;
        let sign: i64 = match bytes.get(i) {
            Some(b'-') => {
                i += 1;
                -1
            }
            Some(b'+') => {
                i += 1;
                1
            }
            _ => 1,
        };
        let start = i;
        while bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        let digits = text.get(start..i).ok_or(NumberError::Syntax)?;
        if digits.is_empty() {
            return Err(NumberError::Syntax);
        }
        // An exponent beyond a few digits cannot give a number a Decimal holds, unless the
        // number is zero.
        let value: i64 = if digits.len() > 6 {
            1_000_000
        } else {
            digits.parse().map_err(|_| NumberError::Syntax)?
        };
        exponent = sign * value;
    }
    if i != bytes.len() {
        return Err(NumberError::Syntax);
    }
    // value = digits x 10^(exponent - fraction length), digits without leading zeros.
    let all: String = int_digits.chars().chain(frac_digits.chars()).collect();
    let mut digits = all.trim_start_matches('0');
    let mut power = exponent - frac_digits.len() as i64;
    if digits.is_empty() {
        let scale = u32::try_from((-power).clamp(0, MAX_DIGITS as i64)).unwrap_or(0);
        return Ok(Decimal::new(0, scale));
    }
    loop {
        if let Some(d) = exact(digits, power, negative) {
            return Ok(d);
        }
        // Dropping a trailing zero keeps the value; only then may it fit.
        match digits.strip_suffix('0') {
            Some(shorter) => {
                digits = shorter;
                power += 1;
            }
            None => return Err(NumberError::Precision),
        }
    }
}

/// The common case of [`parse`] without allocating: `-`, digits, `.` and digits, at most
/// 18 digits in all, no exponent (`102.3`, `-0.50`). The same value and scale as the general
/// reading (zero is never negative); `None` for anything else.
fn plain(text: &str) -> Option<Decimal> {
    let bytes = text.as_bytes();
    let (negative, rest) = match bytes.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, bytes),
    };
    let mut mantissa: i64 = 0;
    let mut digits = 0u32;
    let mut int_digits = 0u32;
    let mut scale = 0u32;
    let mut point = false;
    for &b in rest {
        match b {
            b'0'..=b'9' => {
                digits += 1;
                if digits > 18 {
                    return None;
                }
                mantissa = mantissa * 10 + i64::from(b - b'0');
                if point {
                    scale += 1;
                } else {
                    int_digits += 1;
                }
            }
            b'.' if !point && int_digits > 0 => point = true,
            _ => return None,
        }
    }
    if int_digits == 0 || (point && scale == 0) {
        return None;
    }
    let signed = if negative { -mantissa } else { mantissa };
    Decimal::try_new(signed, scale).ok()
}

/// `digits x 10^power` as a Decimal, if it is held exactly in at most [`MAX_DIGITS`] digits.
fn exact(digits: &str, power: i64, negative: bool) -> Option<Decimal> {
    if digits.len() > MAX_DIGITS {
        return None;
    }
    let mantissa: i128 = digits.parse().ok()?;
    let (mantissa, scale) = if power >= 0 {
        let zeros = usize::try_from(power).ok()?;
        if digits.len() + zeros > MAX_DIGITS {
            return None;
        }
        (
            mantissa.checked_mul(10i128.checked_pow(u32::try_from(zeros).ok()?)?)?,
            0,
        )
    } else {
        let scale = u32::try_from(-power).ok()?;
        if scale > MAX_DIGITS as u32 {
            return None;
        }
        (mantissa, scale)
    };
    let signed = if negative { -mantissa } else { mantissa };
    Decimal::try_from_i128_with_scale(signed, scale).ok()
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    #[test]
    fn keeps_what_it_can_hold_exactly() {
        for (text, shown) in [
            ("71", "71"),
            ("-0.5", "-0.5"),
            ("1.50", "1.50"),
            ("4.5e1", "45"),
            ("45E-1", "4.5"),
            ("0", "0"),
            ("0.000", "0.000"),
            (
                "9999999999999999999999999999",
                "9999999999999999999999999999",
            ),
            (
                "1.000000000000000000000000000000",
                "1.000000000000000000000000000",
            ),
            ("1e27", "1000000000000000000000000000"),
        ] {
            assert_eq!(parse(text).unwrap().to_string(), shown, "{text}");
        }
    }

    #[test]
    fn the_plain_reading_gives_what_the_general_one_gives() {
        for text in [
            "0",
            "-0",
            "-0.0",
            "0.000",
            "05",
            "102.3",
            "-12.50",
            "1.50",
            "999999999999999999",
            "0.00000000000000001",
            "123456789.12345678",
            "-7",
        ] {
            let plain = plain(text).unwrap();
            let all: String = text.replace(['-', '.'], "");
            let digits = all.trim_start_matches('0');
            let frac = text.split_once('.').map_or(0, |(_, f)| f.len());
            let general = if digits.is_empty() {
                Decimal::new(0, frac as u32)
            } else {
                exact(digits, -(frac as i64), text.starts_with('-')).unwrap()
            };
            assert_eq!(plain.to_string(), general.to_string(), "{text}");
            assert_eq!(plain.scale(), general.scale(), "{text}");
            assert_eq!(
                plain.is_sign_negative(),
                general.is_sign_negative(),
                "{text}"
            );
        }
        for text in [
            "1.",
            ".5",
            "+3",
            "1e5",
            "1234567890123456789",
            "1-2",
            "",
            "-",
        ] {
            assert!(plain(text).is_none(), "{text}");
        }
    }

    #[test]
    fn refuses_what_would_be_rounded() {
        for text in [
            "29.99999999999999999999999999999",
            "0.00000000000000000000000000001",
            "1e28",
            "79228162514264337593543950336",
            "1e-40",
            "1e999999999",
        ] {
            assert_eq!(parse(text), Err(NumberError::Precision), "{text}");
        }
    }

    #[test]
    fn refuses_what_is_not_json_number_syntax() {
        for text in [
            "7_1", "1_000", "+3", " 3", "3 ", "1.", ".5", "1e", "1e+", "--1", "", "-", "0x10",
            "NaN", "inf", "1,5",
        ] {
            assert_eq!(parse(text), Err(NumberError::Syntax), "{text}");
        }
    }
}
