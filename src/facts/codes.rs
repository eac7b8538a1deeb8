//! The one normalisation of a code read from patient data (native records, FHIR codings)
//! and from vocabulary tables, so that the same code matches the same way in every form.
//!
//! - Surrounding whitespace (ASCII and Unicode, including the no-break space U+00A0) and
//!   surrounding zero-width characters (U+200B, U+200C, U+200D, U+2060, U+FEFF) are
//!   trimmed: padding an export or a copy-paste left around a code.
//! - A zero-width character, a control character (U+0000..U+001F, U+007F..U+009F) or a
//!   bidirectional formatting character that is still *inside* the code is refused: the
//!   code looks like one the protocol names and yet matches nothing, so it is hostile or
//!   corrupt, and the record is rejected rather than read without it.
//!
//! A native `system:code` (or `URL|code`) is normalised part by part: `loinc: 2160-0`
//! reads as `loinc:2160-0`, the same as a FHIR coding whose `code` is `" 2160-0"`.

use crate::terminal::is_bidi_control;

/// Zero-width characters: trimmed around a code, refused inside one.
pub fn is_zero_width(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}')
}

/// `text` without surrounding whitespace and zero-width characters; an error when a
/// zero-width, control or bidirectional formatting character remains inside.
pub fn normalise(text: &str) -> Result<&str, String> {
    let trimmed = text.trim_matches(|c: char| c.is_whitespace() || is_zero_width(c));
    match trimmed
        .chars()
        .find(|c| c.is_control() || is_zero_width(*c) || is_bidi_control(*c))
    {
        Some(c) => Err(format!(
            "the code `{trimmed}` holds an invisible character ({}) inside it: a code with a hidden character looks right but matches nothing (remove the character)",
            name(c)
        )),
        None => Ok(trimmed),
    }
}

/// A native `system:code` or `URL|code`, each part normalised by [`normalise`]; `None`
/// when it is already normal (the common case, which then costs no copy).
pub fn normalise_native(code: &str) -> Result<Option<String>, String> {
    let split = code
        .split_once('|')
        .map(|(s, v)| (s, '|', v))
        .or_else(|| code.split_once(':').map(|(s, v)| (s, ':', v)));
    let normal = match split {
        Some((system, sep, value)) => {
            let (system, value) = (normalise(system)?, normalise(value)?);
            if system.len() + value.len() + 1 == code.len() {
                return Ok(None);
            }
            format!("{system}{sep}{value}")
        }
        None => {
            let normal = normalise(code)?;
            if normal.len() == code.len() {
                return Ok(None);
            }
            normal.to_string()
        }
    };
    Ok(Some(normal))
}

/// `U+200B (zero-width space)`.
fn name(c: char) -> String {
    let what = match c {
        '\u{200B}' => " zero-width space",
        '\u{200C}' => " zero-width non-joiner",
        '\u{200D}' => " zero-width joiner",
        '\u{2060}' => " word joiner",
        '\u{FEFF}' => " zero-width no-break space",
        c if c.is_control() => " control character",
        _ => " bidirectional formatting character",
    };
    format!("U+{:04X}{what}", u32::from(c))
}
